//! `hangar bench sandbox`: the local sandbox backend's costs on this machine — provisioning
//! to the first tool output (new session, and resuming a stopped one) with a warm base,
//! per-call overhead of `bash` builtins and `read`, and memory per idle sandbox. A
//! benchmark, not a test: it asserts nothing and prints a table.

use std::time::{Duration, Instant};

use clap::Args;
use hangar_sandbox::{CallOutcome, InitProgram, LocalSandboxRuntime, SandboxConfig};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

#[derive(Args)]
pub struct SandboxBenchArgs {
    /// Provisioning runs (each on a new session, then again resuming it).
    #[arg(long, default_value_t = 30)]
    runs: usize,
    /// Calls per per-call phase.
    #[arg(long, default_value_t = 300)]
    calls: usize,
    /// Sandboxes kept idle for the memory figure.
    #[arg(long, default_value_t = 10)]
    idle: usize,
    /// Templates directory (default `$HANGAR_TEMPLATE_DIR`, else a temp data dir: the base is
    /// then built first, which takes about a minute).
    #[arg(long)]
    templates_dir: Option<std::path::PathBuf>,
    /// Keep session files directly on the host disk (no ext4 image per session), to see
    /// what the disk cap costs.
    #[arg(long)]
    no_disk_cap: bool,
}

pub async fn run(args: SandboxBenchArgs) -> anyhow::Result<()> {
    let data = tempfile::Builder::new()
        .prefix("hangar-bench-sandbox-")
        .tempdir()?;
    let mut config = SandboxConfig::new(data.path(), InitProgram::current_exe()?);
    if let Some(dir) = args.templates_dir {
        config.templates_dir = std::path::absolute(dir)?;
    }
    if args.no_disk_cap {
        config.limits.disk_bytes = None;
    }
    let runtime = LocalSandboxRuntime::new(config)?;
    let started = Instant::now();
    runtime.ensure_base().await?;
    println!(
        "hangar bench sandbox: base ready in {:.1} s; {} cpus",
        started.elapsed().as_secs_f64(),
        cpus()
    );
    println!(
        "{:<44} {:>6} {:>9} {:>9} {:>9}",
        "measure", "n", "p50", "p95", "max"
    );

    provisioning(&runtime, args.runs).await?;
    per_call(&runtime, args.calls).await?;
    runtime.shutdown().await;
    idle_memory(&runtime, args.idle).await?;
    runtime.shutdown().await;
    Ok(())
}

async fn call(
    runtime: &LocalSandboxRuntime,
    session: &str,
    tool: &str,
    input: Value,
) -> anyhow::Result<()> {
    match runtime
        .call_in_session(session, tool, &input, &CancellationToken::new())
        .await?
    {
        CallOutcome::Done {
            is_error: false, ..
        } => Ok(()),
        other => anyhow::bail!("{tool} failed: {other:?}"),
    }
}

/// Starts sandboxes on new sessions, then again on the same (stopped) sessions.
async fn provisioning(runtime: &LocalSandboxRuntime, runs: usize) -> anyhow::Result<()> {
    // Warm-up: page cache, the blank disk image, the first cgroups.
    for n in 0..3 {
        let session = format!("warm-{n}");
        call(runtime, &session, "bash", json!({"command": "true"})).await?;
        runtime.stop(&session).await;
    }
    for label in ["new session", "resume session"] {
        let mut samples = Vec::new();
        for n in 0..runs {
            let session = format!("s-{n}");
            let ready = json!({"command": "echo ready"});
            samples.push(timed(call(runtime, &session, "bash", ready)).await?);
            runtime.stop(&session).await;
        }
        row(
            &format!("provision → first output, {label}"),
            &mut samples,
            "ms",
        );
    }
    Ok(())
}

/// Round trips of calls to one running sandbox.
async fn per_call(runtime: &LocalSandboxRuntime, calls: usize) -> anyhow::Result<()> {
    let session = "calls";
    let file = json!({"file_path": "f.txt", "content": "one\ntwo\n"});
    call(runtime, session, "write", file).await?;
    let phases = [
        ("bash `true` (builtin)", "bash", json!({"command": "true"})),
        ("bash `echo hi`", "bash", json!({"command": "echo hi"})),
        (
            "bash `/bin/true` (fork+exec)",
            "bash",
            json!({"command": "/bin/true"}),
        ),
        ("read (2-line file)", "read", json!({"file_path": "f.txt"})),
    ];
    for (name, tool, input) in phases {
        let mut samples = Vec::new();
        for _ in 0..calls {
            samples.push(timed(call(runtime, session, tool, input.clone())).await?);
        }
        row(&format!("per call: {name}"), &mut samples, "ms");
    }
    Ok(())
}

async fn timed(work: impl Future<Output = anyhow::Result<()>>) -> anyhow::Result<Duration> {
    let started = Instant::now();
    work.await?;
    Ok(started.elapsed())
}

fn row(name: &str, samples: &mut [Duration], unit: &str) {
    samples.sort();
    let at =
        |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize].as_secs_f64() * 1e3;
    println!(
        "{name:<44} {:>6} {:>7.2}{unit} {:>7.2}{unit} {:>7.2}{unit}",
        samples.len(),
        at(0.5),
        at(0.95),
        at(1.0)
    );
}

/// Starts `count` sandboxes (each with its shell started), then sums the resident and
/// proportional memory of every process in them: the setup process, PID 1 and the shell.
async fn idle_memory(runtime: &LocalSandboxRuntime, count: usize) -> anyhow::Result<()> {
    let mut pids = Vec::new();
    for n in 0..count {
        let session = format!("idle-{n}");
        call(runtime, &session, "bash", json!({"command": "true"})).await?;
        if let Some(pid) = runtime.init_pid(&session).await {
            pids.push(pid);
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (mut rss, mut pss) = (0u64, 0u64);
    for init in &pids {
        let parent = status_field(*init, "PPid:").unwrap_or(0);
        let children = std::fs::read_to_string(format!("/proc/{init}/task/{init}/children"))
            .unwrap_or_default();
        let tree = [parent, *init as u64]
            .into_iter()
            .chain(children.split_whitespace().filter_map(|p| p.parse().ok()));
        for pid in tree {
            rss += status_field(pid as i32, "VmRSS:").unwrap_or(0);
            pss += rollup_field(pid as i32, "Pss:").unwrap_or(0);
        }
    }
    let n = pids.len().max(1) as u64;
    println!(
        "{:<44} {:>6} {:>7} KiB RSS, {} KiB PSS",
        "memory per idle sandbox (3 processes)",
        pids.len(),
        rss / n,
        pss / n
    );
    Ok(())
}

/// A `Field:  <number> kB` line of `/proc/<pid>/<file>`, as a number.
fn proc_field(pid: i32, file: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
    text.lines().find_map(|l| {
        l.strip_prefix(field)?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    })
}

/// A field of `/proc/<pid>/status` (e.g. `VmRSS:`, in KiB).
pub(crate) fn status_field(pid: i32, field: &str) -> Option<u64> {
    proc_field(pid, "status", field)
}

fn rollup_field(pid: i32, field: &str) -> Option<u64> {
    proc_field(pid, "smaps_rollup", field)
}

fn cpus() -> usize {
    std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
}
