use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hangar_tools::limits::BASH_OUTPUT_CAP_BYTES;
use serde_json::json;

use super::Fixture;

#[test]
fn echo_returns_its_output() {
    let fx = Fixture::new();
    assert_eq!(fx.ok("bash", json!({"command": "echo hello"})), "hello\n");
}

#[test]
fn working_directory_and_variables_persist_across_calls() {
    let fx = Fixture::new();
    fx.ok(
        "bash",
        json!({"command": "mkdir sub && cd sub && export GREETING=hi"}),
    );
    let out = fx.ok("bash", json!({"command": "pwd; echo $GREETING"}));
    assert!(out.ends_with("/sub\nhi\n"), "{out}");
}

#[test]
fn stderr_is_interleaved_with_stdout() {
    let fx = Fixture::new();
    let out = fx.ok(
        "bash",
        json!({"command": "echo one; echo two >&2; echo three"}),
    );
    assert_eq!(out, "one\ntwo\nthree\n");
}

#[test]
fn non_zero_exit_code_is_reported() {
    let fx = Fixture::new();
    let out = fx.ok("bash", json!({"command": "echo nope; false"}));
    assert_eq!(out, "nope\n[exit code: 1]");
}

#[test]
fn quotes_heredocs_and_syntax_errors_do_not_break_the_shell() {
    let fx = Fixture::new();
    let out = fx.ok(
        "bash",
        json!({"command": "cat <<'EOF'\nit's \"quoted\"\nEOF"}),
    );
    assert_eq!(out, "it's \"quoted\"\n");
    let out = fx.ok("bash", json!({"command": "echo \"unterminated"}));
    assert!(out.contains("exit code: 2"), "{out}");
    assert_eq!(
        fx.ok("bash", json!({"command": "echo still alive"})),
        "still alive\n"
    );
}

#[test]
fn commands_do_not_read_the_shell_protocol_from_stdin() {
    let fx = Fixture::new();
    assert_eq!(
        fx.ok("bash", json!({"command": "cat; echo done"})),
        "done\n"
    );
}

#[test]
fn huge_output_is_truncated_with_a_note() {
    let fx = Fixture::new();
    let out = fx.ok(
        "bash",
        json!({"command": "head -c 300000 /dev/zero | tr '\\0' x; echo; echo END"}),
    );
    assert!(out.len() < BASH_OUTPUT_CAP_BYTES + 200, "{}", out.len());
    assert!(out.contains("bytes dropped"), "no note");
    assert!(out.ends_with("END\n"), "tail kept");
}

#[test]
fn timeout_kills_the_command_and_keeps_the_directory() {
    let fx = Fixture::new();
    fx.ok("bash", json!({"command": "mkdir -p t && cd t"}));
    let started = Instant::now();
    let out = fx.err(
        "bash",
        json!({"command": "echo started; sleep 30", "timeout_ms": 300}),
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    // Timeouts under a second are raised to one second.
    assert!(
        out.contains("started") && out.contains("timed out after 1000 ms"),
        "{out}"
    );
    let out = fx.ok("bash", json!({"command": "pwd"}));
    assert!(out.trim_end().ends_with("/t"), "{out}");
}

#[test]
fn restart_without_command_resets_the_environment() {
    let fx = Fixture::new();
    fx.ok("bash", json!({"command": "export X=1"}));
    assert!(
        fx.ok("bash", json!({"restart": true}))
            .contains("restarted")
    );
    assert_eq!(fx.ok("bash", json!({"command": "echo \"[$X]\""})), "[]\n");
}

#[test]
fn cancellation_stops_a_long_sleep_promptly() {
    let fx = Fixture::new();
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = cancel.clone();
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        flag.store(true, Ordering::Relaxed);
    });
    let started = Instant::now();
    let result = fx
        .toolbox
        .run("bash", &json!({"command": "sleep 60"}), &cancel);
    canceller.join().unwrap();
    assert!(result.is_error);
    assert!(result.text.contains("cancelled"), "{}", result.text);
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[test]
fn exit_reports_the_shell_ended_and_the_next_call_works() {
    let fx = Fixture::new();
    let out = fx.err("bash", json!({"command": "exit 3"}));
    assert!(out.contains("shell exited"), "{out}");
    assert_eq!(fx.ok("bash", json!({"command": "echo back"})), "back\n");
}

#[test]
fn missing_command_is_a_tool_error() {
    let fx = Fixture::new();
    assert!(fx.err("bash", json!({})).contains("command"));
    assert!(fx.err("bash", json!({"command": 5})).contains("command"));
}

#[test]
fn builtin_round_trip_is_fast() {
    let fx = Fixture::new();
    fx.ok("bash", json!({"command": "true"}));
    let started = Instant::now();
    for _ in 0..50 {
        fx.ok("bash", json!({"command": "true"}));
    }
    // Not a benchmark assertion: a generous bound that only catches a per-call fork or sleep.
    assert!(started.elapsed() < Duration::from_secs(5));
}
