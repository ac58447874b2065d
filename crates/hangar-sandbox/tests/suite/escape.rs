//! The escape suite: each test tries one way out of the sandbox and checks it fails, and
//! that the host (and other sandboxes) are unaffected.

use std::io::Write as _;
use std::time::{Duration, Instant};

use serde_json::json;

use super::{Harness, text, unique_session};

/// Writes a marker file on the host and returns its path and content.
fn host_marker(dir: &std::path::Path) -> (std::path::PathBuf, String) {
    let content = format!("host-secret-{}-{:?}", std::process::id(), Instant::now());
    let path = dir.join(format!("hangar-escape-marker-{}", std::process::id()));
    std::fs::write(&path, &content).unwrap();
    (path, content)
}

#[tokio::test]
async fn host_files_outside_the_layers_are_invisible() {
    let h = Harness::new();
    let s = unique_session("esc-files");
    let (in_data_dir, secret) = host_marker(h.data.path());
    let root_dir = tempfile::Builder::new()
        .prefix("hangar-escape-")
        .tempdir_in("/root")
        .unwrap();
    let (in_root, _) = host_marker(root_dir.path());
    let host_shadow = std::fs::read_to_string("/etc/shadow").unwrap_or_default();
    let probe = format!(
        "for p in {} {} {} /work /root/{} ; do test -e $p && echo VISIBLE $p; done; \
         grep -rls {secret} / --exclude-dir=proc --exclude-dir=sys 2>/dev/null | head -3; \
         cat /etc/shadow",
        in_data_dir.display(),
        in_root.display(),
        h.data.path().display(),
        root_dir.path().file_name().unwrap().to_string_lossy(),
    );
    let out = h.sh(&s, &probe).await;
    assert!(!out.contains("VISIBLE"), "{out}");
    assert!(!out.contains(&secret), "{out}");
    let sandbox_shadow: String = out
        .lines()
        .filter(|l| l.contains(':'))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        sandbox_shadow.starts_with("root:"),
        "the sandbox has its own shadow file: {out}"
    );
    assert_ne!(
        sandbox_shadow.trim(),
        host_shadow.trim(),
        "the host's /etc/shadow leaked"
    );
    h.finish().await;
}

#[tokio::test]
async fn another_sessions_files_are_invisible() {
    let h = Harness::new();
    let (a, b) = (unique_session("esc-a"), unique_session("esc-b"));
    let secret = format!("secret-of-a-{}", std::process::id());
    h.ok(
        &a,
        "write",
        json!({"file_path": "/workspace/a-only.txt", "content": secret}),
    )
    .await;
    h.ok(
        &a,
        "write",
        json!({"file_path": "/tmp/a-tmp.txt", "content": secret}),
    )
    .await;
    let out = h.sh(&b, &format!("ls -a /workspace /tmp; grep -rl {secret} / --exclude-dir=proc --exclude-dir=sys 2>/dev/null")).await;
    assert!(
        !out.contains("a-only") && !out.contains("a-tmp") && !out.contains(&secret),
        "{out}"
    );
    let read = h
        .call(&b, "read", json!({"file_path": "/workspace/a-only.txt"}))
        .await
        .unwrap();
    assert!(read.is_error);
    h.finish().await;
}

#[tokio::test]
async fn mount_and_new_user_namespaces_are_denied() {
    let h = Harness::new();
    let s = unique_session("esc-mount");
    let out = h.sh(&s, "mkdir -p /mnt/x; mount -t tmpfs none /mnt/x; echo mount=$?; unshare -U true; echo unshare=$?; unshare -m true; echo unshare_m=$?").await;
    assert!(out.contains("mount=32") || out.contains("mount=1"), "{out}");
    assert!(!out.contains("mount=0"), "{out}");
    assert!(
        out.contains("unshare=1") && out.contains("unshare_m=1"),
        "{out}"
    );
    assert!(out.contains("Operation not permitted"), "{out}");
    let mounts = h.sh(&s, "grep -c ' /mnt/x ' /proc/self/mounts").await;
    assert_eq!(mounts.lines().next(), Some("0"), "{mounts}");
    h.finish().await;
}

#[tokio::test]
async fn host_processes_are_invisible_and_cannot_be_traced() {
    let h = Harness::new();
    let s = unique_session("esc-ptrace");
    let host_pid = std::process::id();
    // perl-base is in minbase; syscall 101 = ptrace, 16 = PTRACE_ATTACH (x86_64).
    let probe = format!(
        "ls /proc | grep -c '^[0-9]'; cat /proc/1/cmdline | tr '\\0' ' '; echo; \
         kill -0 {host_pid} 2>&1; echo kill=$?; \
         perl -e '$r = syscall(101, 16, {host_pid}, 0, 0); print \"host=$r $!\\n\"'; \
         perl -e '$r = syscall(101, 16, 1, 0, 0); print \"init=$r $!\\n\"'"
    );
    let out = h.sh(&s, &probe).await;
    let visible: usize = out.lines().next().unwrap().trim().parse().unwrap();
    assert!(
        visible < 10,
        "only the sandbox's own processes are visible: {out}"
    );
    assert!(out.contains("kill=1"), "{out}");
    assert!(out.contains("host=-1 No such process"), "{out}");
    assert!(out.contains("init=-1 Operation not permitted"), "{out}");
    h.finish().await;
}

#[tokio::test]
async fn raw_sockets_are_denied() {
    let h = Harness::new();
    let s = unique_session("esc-raw");
    // syscall 41 = socket(AF_INET=2, SOCK_RAW=3, IPPROTO_ICMP=1); AF_PACKET=17 too.
    let out = h
        .sh(&s, "perl -e 'for $d ([2,3,1],[17,3,768]) { $r = syscall(41, @$d); print \"raw=$r $!\\n\" }'")
        .await;
    assert_eq!(
        out.matches("raw=-1 Operation not permitted").count(),
        2,
        "{out}"
    );
    h.finish().await;
}

#[tokio::test]
async fn host_loopback_services_are_unreachable() {
    let h = Harness::new();
    let s = unique_session("esc-loop");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let out = h.sh(&s, &format!("exec 3<>/dev/tcp/127.0.0.1/{port} && echo CONNECTED; ip -o link 2>/dev/null; cat /proc/net/dev | tail -n +3 | cut -d: -f1")).await;
    assert!(!out.contains("CONNECTED"), "{out}");
    assert!(out.contains("Connection refused"), "{out}");
    let interfaces: Vec<&str> = out
        .lines()
        .filter(|l| !l.contains("/dev/tcp") && !l.contains("refused"))
        .map(str::trim)
        .collect();
    assert_eq!(interfaces, ["lo"], "{out}");
    assert!(
        listener.accept().is_err(),
        "the host listener got a connection"
    );
    h.finish().await;
}

#[tokio::test]
async fn outbound_connections_fail_without_networking() {
    let h = Harness::new();
    let s = unique_session("esc-net");
    // 192.0.2.1 is TEST-NET-1: never routed; with no route in the namespace no packet leaves.
    let out = h
        .sh(
            &s,
            "exec 3<>/dev/tcp/192.0.2.1/80 && echo CONNECTED; env | grep -ci proxy",
        )
        .await;
    assert!(out.contains("Network is unreachable"), "{out}");
    assert!(!out.contains("CONNECTED"), "{out}");
    assert!(
        out.lines().any(|l| l == "0"),
        "no proxy variables without egress: {out}"
    );
    h.finish().await;
}

#[tokio::test]
async fn a_fork_bomb_hits_the_pids_limit_and_the_sandbox_recovers() {
    let h = Harness::new();
    let s = unique_session("esc-fork");
    let other = unique_session("esc-fork-other");
    h.ok(&other, "bash", json!({"command": "true"})).await;
    let started = Instant::now();
    let output = h
        .call(
            &s,
            "bash",
            json!({"command": "bomb() { bomb | bomb & }; bomb; sleep 30", "timeout_ms": 3000}),
        )
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(30));
    let out = text(&output);
    assert!(
        output.is_error,
        "the bomb runs until the timeout kills it: {out}"
    );
    assert!(
        out.contains("Resource temporarily unavailable"),
        "forks were refused: {out}"
    );
    // The host can still fork, the other sandbox still answers, and this one recovers.
    assert!(
        std::process::Command::new("true")
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(h.sh(&other, "echo alive").await, "alive\n");
    let mut recovered = String::new();
    for _ in 0..50 {
        let output = h
            .call(
                &s,
                "bash",
                json!({"command": "echo recovered", "timeout_ms": 5000}),
            )
            .await;
        if let Ok(output) = output {
            recovered = text(&output);
            if recovered == "recovered\n" {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(recovered, "recovered\n");
    h.finish().await;
}

#[tokio::test]
async fn a_memory_bomb_is_killed_inside_the_sandbox_only() {
    let h = Harness::new();
    let s = unique_session("esc-mem");
    let other = unique_session("esc-mem-other");
    h.ok(
        &other,
        "write",
        json!({"file_path": "keep.txt", "content": "still here"}),
    )
    .await;
    h.ok(&s, "bash", json!({"command": "true"})).await;
    let init_before = h.runtime.init_pid(&s).await;
    // `tail` keeps the whole (newline-free) line in memory: far beyond the 256 MiB limit.
    let out = h
        .sh(
            &s,
            "head -c 1200M /dev/zero | tail -n 1 >/dev/null; echo status=${PIPESTATUS[1]}",
        )
        .await;
    assert!(out.contains("status=137"), "killed by SIGKILL (OOM): {out}");
    assert_eq!(h.sh(&s, "echo fine").await, "fine\n");
    assert_eq!(
        h.runtime.init_pid(&s).await,
        init_before,
        "the sandbox's init survived the OOM"
    );
    let scores = h
        .sh(&s, "cat /proc/1/oom_score_adj /proc/self/oom_score_adj")
        .await;
    assert_eq!(
        scores, "0\n500\n",
        "the workload, not the init agent, is the OOM victim"
    );
    assert_eq!(
        h.ok(&other, "read", json!({"file_path": "keep.txt"})).await,
        "     1\tstill here\n"
    );
    h.finish().await;
}

#[tokio::test]
async fn filling_the_disk_stops_at_the_cap() {
    let h = Harness::new();
    let s = unique_session("esc-disk");
    let other = unique_session("esc-disk-other");
    let host_free_before = free_bytes(h.data.path());
    let out = h.sh(&s, "dd if=/dev/zero of=/workspace/fill bs=1M count=200 2>&1 | grep -v records; du -m /workspace/fill | cut -f1").await;
    assert!(out.contains("No space left on device"), "{out}");
    let written: u64 = out.lines().last().unwrap().trim().parse().unwrap();
    assert!(written <= 64, "at most the 64 MiB cap: {written} MiB");
    assert!(host_free_before.saturating_sub(free_bytes(h.data.path())) < 128 << 20);
    assert_eq!(
        h.sh(&other, "echo ok > /workspace/f && cat /workspace/f")
            .await,
        "ok\n"
    );
    h.ok(&s, "bash", json!({"command": "rm /workspace/fill"}))
        .await;
    assert_eq!(
        h.sh(&s, "echo again > /workspace/g && cat /workspace/g")
            .await,
        "again\n"
    );
    h.finish().await;
}

fn free_bytes(path: &std::path::Path) -> u64 {
    let output = std::process::Command::new("df")
        .arg("-B1")
        .arg("--output=avail")
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .nth(1)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn seccomp_no_new_privs_and_reduced_capabilities_are_in_force() {
    let h = Harness::new();
    let s = unique_session("esc-status");
    let out = h
        .sh(
            &s,
            "grep -E '^(NoNewPrivs|Seccomp|CapEff|CapBnd):' /proc/self/status",
        )
        .await;
    let expected = format!("{:016x}", hangar_sandbox::harden::kept_capability_mask());
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");
    assert!(out.contains("Seccomp:\t2"), "{out}");
    assert!(out.contains(&format!("CapBnd:\t{expected}")), "{out}");
    h.finish().await;
}

#[tokio::test]
async fn root_inside_is_an_unprivileged_uid_outside() {
    let h = Harness::new();
    let s = unique_session("esc-uid");
    let out = h
        .sh(&s, "id -u; cat /proc/self/uid_map /proc/self/gid_map")
        .await;
    let config = h.runtime.config();
    let map = format!("0 {} 65536", config.id_base);
    assert!(out.starts_with("0\n"), "{out}");
    assert_eq!(
        out.lines()
            .filter(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") == map)
            .count(),
        2,
        "{out}"
    );
    let pid = h.runtime.init_pid(&s).await.unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(
        uid_line
            .split_whitespace()
            .skip(1)
            .all(|uid| uid == config.id_base.to_string()),
        "{uid_line}"
    );
    h.finish().await;
}

#[tokio::test]
async fn sandbox_processes_die_with_the_runtime() {
    let h = Harness::new();
    let s = unique_session("esc-die");
    h.ok(
        &s,
        "bash",
        json!({"command": "(setsid sleep 1000 &) ; nohup sleep 1001 >/dev/null 2>&1 &"}),
    )
    .await;
    let pid = h.runtime.init_pid(&s).await.unwrap();
    let mut out = std::io::stderr();
    let _ = writeln!(out, "init pid {pid}");
    let Harness { data, runtime } = h;
    drop(runtime);
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::path::Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "init survived"
    );
    let survivors = std::process::Command::new("pgrep")
        .args(["-f", "sleep 100[01]"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&survivors.stdout).trim().is_empty(),
        "setsid'd sleeps survived"
    );
    drop(data);
}
