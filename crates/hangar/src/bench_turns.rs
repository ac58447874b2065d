//! `hangar bench turns`: the control plane of a session at work.
//!
//! 1. **Appends**: durable event appends per second through the one append path
//!    (`EventLog::commit`: SQLite transaction, then bus), in windows as one session's log
//!    grows to `--events` (1 M by default), with `--writers` concurrent appenders.
//! 2. **Turn overhead**: a real `hangar serve` child process whose model provider is the
//!    scripted model server (`hangar-mock-model`, zero think time); time from `POST …/events`
//!    to the first `agent.*` event on an already open SSE stream.
//! 3. **Fan-out**: `--subscribers` open streams on one session; time from `POST …/events` to
//!    the event's arrival at each of them (p50/p99/max over every delivery).
//! 4. **RSS** of the server process: idle after start, and peak under the fan-out load.
//!
//! A benchmark, not a test: it prints figures and asserts nothing.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use hangar_core::bus::InProcessBus;
use hangar_core::event_log::{EventLog, encode_event};
use hangar_core::event_store::Commit;
use hangar_protocol::event::EventBody;
use hangar_protocol::ids::IdKind;
use hangar_protocol::time::Timestamp;
use hdrhistogram::Histogram;
use serde_json::{Value, json};

use crate::bench::{BETA, Target};

#[derive(Args)]
pub struct TurnsBenchArgs {
    /// Events appended to one session's log in the append phase.
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Concurrent appenders in the append phase.
    #[arg(long, default_value_t = 8)]
    writers: usize,
    /// Give each appender its own session (else all append to one session).
    #[arg(long)]
    session_per_writer: bool,
    /// Turns timed in the overhead phase.
    #[arg(long, default_value_t = 300)]
    turns: usize,
    /// Open streams in the fan-out phase.
    #[arg(long, default_value_t = 1000)]
    subscribers: usize,
    /// Events sent in the fan-out phase.
    #[arg(long, default_value_t = 200)]
    fanout_events: usize,
    /// The `hangar-mock-model` binary (default: next to this executable).
    #[arg(long)]
    mock_model_bin: Option<PathBuf>,
    /// Turns with one `bash` call timed in the sandbox phase (0 skips it).
    #[arg(long, default_value_t = 100)]
    bash_turns: usize,
    /// Skip the append phase (it takes a minute).
    #[arg(long)]
    skip_appends: bool,
}

pub async fn run(args: TurnsBenchArgs) -> anyhow::Result<()> {
    if !args.skip_appends {
        appends(args.events, args.writers, args.session_per_writer).await?;
    }
    let dir = tempfile::tempdir()?;
    let mock = ChildProcess::mock_model(&args, &dir.path().join("script.json"))?;
    let server = ChildProcess::serve(dir.path(), &mock.address)?;
    let target = Arc::new(Target::new(&format!("http://{}", server.address), KEY)?);
    target.wait_healthy().await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_rss = server.rss_kib()?;
    println!("server RSS idle: {:.1} MiB", idle_rss as f64 / 1024.0);
    overhead(&target, &mock, args.turns).await?;
    bash_turns(&target, &mock, args.bash_turns).await?;
    fanout(&target, &server, args.subscribers, args.fanout_events).await?;
    Ok(())
}

const KEY: &str = "sk-hangar-bench-turns";

/// Phase 1: appends through `EventLog::commit` on a fresh SQLite file.
async fn appends(total: u64, writers: usize, session_per_writer: bool) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = hangar_store::SqliteStore::open(&dir.path().join("hangar.db")).await?;
    let log = EventLog::new(Arc::new(store.clone()), Arc::new(InProcessBus::new()));
    let body = EventBody::UserInterrupt {
        session_thread_id: None,
    };
    let sessions: Vec<String> = (0..writers)
        .map(|i| {
            if session_per_writer || i == 0 {
                IdKind::Session.mint()
            } else {
                String::new()
            }
        })
        .collect();
    let target = |i: usize| {
        if session_per_writer {
            sessions[i].clone()
        } else {
            sessions[0].clone()
        }
    };
    println!(
        "appends: {writers} concurrent writers, {}, one event per commit",
        if session_per_writer {
            "one session each"
        } else {
            "all to one session"
        }
    );
    println!("{:>12} {:>12}", "log size", "events/s");
    let window = (total / 10).max(1);
    let mut done = 0u64;
    let all = Instant::now();
    while done < total {
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        let per_writer = window / writers as u64;
        for writer in 0..writers {
            let (log, session, body) = (log.clone(), target(writer), body.clone());
            tasks.spawn(async move {
                for _ in 0..per_writer {
                    let event =
                        encode_event(IdKind::Event.mint(), &body, Some(Timestamp::now()), None)?;
                    let commit = Commit {
                        session_id: session.clone(),
                        events: vec![event],
                        ..Commit::default()
                    };
                    log.commit(commit).await?;
                }
                anyhow::Ok(())
            });
        }
        while let Some(joined) = tasks.join_next().await {
            joined??;
        }
        done += per_writer * writers as u64;
        let rate = (per_writer * writers as u64) as f64 / started.elapsed().as_secs_f64();
        println!("{done:>12} {rate:>12.0}");
    }
    println!(
        "overall: {:.0} events/s",
        done as f64 / all.elapsed().as_secs_f64()
    );
    store.close().await;
    Ok(())
}

/// Phase 2: POST → first `agent.*` event on an open stream, model answering at once.
async fn overhead(target: &Arc<Target>, mock: &ChildProcess, turns: usize) -> anyhow::Result<()> {
    let session = new_session(target).await?;
    let mut stream = target.stream(&session).await?;
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let step = json!([{"type": "response", "content": [{"type": "text", "text": "ok"}]}]);
    for turn in 0..turns + 10 {
        mock.push_steps(target, &step).await?;
        let started = Instant::now();
        target.say(&session).await?;
        stream.until(|t| t.starts_with("agent.")).await?;
        let elapsed = started.elapsed();
        stream.until(|t| t == "session.status_idle").await?;
        if turn >= 10 {
            histogram.record(elapsed.as_micros() as u64)?;
        }
    }
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "turn overhead (POST → first agent.* on the stream), {turns} turns: p50 {:.2} ms, p99 {:.2} ms",
        ms(0.5),
        ms(0.99)
    );
    Ok(())
}

/// Phase 2b: a whole turn with one `bash` call in the session's sandbox, model answering at
/// once: `POST` of the message → `session.status_idle` on the stream. The first turn also
/// provisions the sandbox.
async fn bash_turns(target: &Arc<Target>, mock: &ChildProcess, turns: usize) -> anyhow::Result<()> {
    if turns == 0 {
        return Ok(());
    }
    let session = new_session_with(target, json!([{"type": "agent_toolset_20260401"}])).await?;
    let mut stream = target.stream(&session).await?;
    let steps = json!([
        {"type": "response", "content": [{"type": "tool_use", "name": "bash", "input": {"command": "echo hi"}}]},
        {"type": "response", "content": [{"type": "text", "text": "done"}]}
    ]);
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut first = Duration::ZERO;
    for turn in 0..turns + 1 {
        mock.push_steps(target, &steps).await?;
        let started = Instant::now();
        target.say(&session).await?;
        stream.until(|t| t == "session.status_idle").await?;
        let elapsed = started.elapsed();
        if turn == 0 {
            first = elapsed;
        } else {
            histogram.record(elapsed.as_micros() as u64)?;
        }
    }
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "one-bash-call turn (POST → session.status_idle), {turns} warm turns: p50 {:.2} ms, \
         p99 {:.2} ms; first turn incl. sandbox start {:.2} ms",
        ms(0.5),
        ms(0.99),
        first.as_secs_f64() * 1000.0
    );
    Ok(())
}

/// Phase 3: delivery delay to many open streams. Each stream reports the first arrival of
/// every event id (a queued event is sent again once processed; that copy is not counted).
async fn fanout(
    target: &Arc<Target>,
    server: &ChildProcess,
    subscribers: usize,
    events: usize,
) -> anyhow::Result<()> {
    let session = new_session(target).await?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(String, Instant)>(subscribers * 4);
    let mut readers = tokio::task::JoinSet::new();
    for _ in 0..subscribers {
        let mut stream = target.stream(&session).await?;
        let tx = tx.clone();
        readers.spawn(async move {
            let mut seen = std::collections::HashSet::new();
            while seen.len() < events {
                let id = stream.next_id_of("user.interrupt").await?;
                if seen.insert(id.clone()) {
                    tx.send((id, Instant::now())).await?;
                }
            }
            anyhow::Ok(())
        });
    }
    drop(tx);
    let mut peak_rss = server.rss_kib()?;
    let mut sent_at = std::collections::HashMap::with_capacity(events);
    let sender = {
        let (target, session) = (target.clone(), session.clone());
        tokio::spawn(async move {
            let mut sent = Vec::with_capacity(events);
            for _ in 0..events {
                let started = Instant::now();
                let id = target.interrupt(&session).await?;
                sent.push((id, started));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            anyhow::Ok(sent)
        })
    };
    let mut arrivals = Vec::with_capacity(events * subscribers);
    while let Some(arrival) = rx.recv().await {
        arrivals.push(arrival);
        if arrivals.len() % subscribers == 0 {
            peak_rss = peak_rss.max(server.rss_kib()?);
        }
    }
    for (id, at) in sender.await?? {
        sent_at.insert(id, at);
    }
    while let Some(joined) = readers.join_next().await {
        joined??;
    }
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for (id, at) in &arrivals {
        let sent = sent_at.get(id).context("an event nobody sent")?;
        histogram.record(at.saturating_duration_since(*sent).as_micros().max(1) as u64)?;
    }
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "fan-out: {subscribers} streams × {events} events = {} deliveries (POST sent → frame \
         read): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        arrivals.len(),
        ms(0.5),
        ms(0.99),
        histogram.max() as f64 / 1000.0
    );
    println!(
        "server RSS peak under fan-out: {:.1} MiB",
        peak_rss as f64 / 1024.0
    );
    Ok(())
}

async fn new_session(target: &Target) -> anyhow::Result<String> {
    new_session_with(target, json!([])).await
}

async fn new_session_with(target: &Target, tools: Value) -> anyhow::Result<String> {
    let agent = target
        .post(
            "/v1/agents",
            &json!({"name": "bench", "model": "claude-sonnet-4-6", "tools": tools}),
        )
        .await?;
    let env = target
        .post("/v1/environments", &json!({"name": IdKind::Request.mint()}))
        .await?;
    let session = target
        .post(
            "/v1/sessions",
            &json!({"agent": agent["id"], "environment_id": env["id"]}),
        )
        .await?;
    Ok(session["id"].as_str().unwrap_or_default().to_owned())
}

/// A child process (the mock model or the server), killed on drop.
struct ChildProcess {
    child: Child,
    address: String,
}

impl ChildProcess {
    fn mock_model(args: &TurnsBenchArgs, script: &std::path::Path) -> anyhow::Result<ChildProcess> {
        let binary = match &args.mock_model_bin {
            Some(path) => path.clone(),
            None => std::env::current_exe()?.with_file_name("hangar-mock-model"),
        };
        std::fs::write(script, "{\"steps\": []}")?;
        let mut child = Command::new(&binary)
            .args(["--listen", "127.0.0.1:0", "--script"])
            .arg(script)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| {
                format!(
                    "cannot start {} (build it or pass --mock-model-bin)",
                    binary.display()
                )
            })?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)?;
        Ok(ChildProcess {
            child,
            address: line.trim().to_owned(),
        })
    }

    fn serve(dir: &std::path::Path, model: &str) -> anyhow::Result<ChildProcess> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let address = format!("127.0.0.1:{port}");
        let child = Command::new(std::env::current_exe()?)
            .args(["serve", "--listen", &address, "--data-dir"])
            .arg(dir.join("data"))
            .env("HANGAR_API_KEY", KEY)
            .env("ANTHROPIC_BASE_URL", format!("http://{model}"))
            .env("ANTHROPIC_API_KEY", "sk-bench")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        Ok(ChildProcess { child, address })
    }

    async fn push_steps(&self, target: &Target, steps: &Value) -> anyhow::Result<()> {
        let response = target
            .http
            .post(format!("http://{}/_mock/steps", self.address))
            .json(steps)
            .send()
            .await?;
        anyhow::ensure!(
            response.status().is_success(),
            "mock push: {}",
            response.status()
        );
        Ok(())
    }

    /// Resident set size in KiB.
    fn rss_kib(&self) -> anyhow::Result<u64> {
        let pid = i32::try_from(self.child.id())?;
        crate::bench_sandbox::status_field(pid, "VmRSS:").context("no VmRSS")
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An open SSE stream, read frame by frame.
pub struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

impl EventStream {
    /// Reads frames until one of type `kind`; returns its `id:`.
    async fn next_id_of(&mut self, kind: &str) -> anyhow::Result<String> {
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                if frame
                    .lines()
                    .any(|l| l.strip_prefix("event: ") == Some(kind))
                    && let Some(id) = frame.lines().find_map(|l| l.strip_prefix("id: "))
                {
                    return Ok(id.to_owned());
                }
            }
            self.fill().await?;
        }
    }

    async fn fill(&mut self) -> anyhow::Result<()> {
        match tokio::time::timeout(Duration::from_secs(30), self.response.chunk()).await?? {
            Some(bytes) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
            None => bail!("the stream ended"),
        }
        Ok(())
    }

    /// Reads frames until one whose `event:` satisfies `stop`.
    async fn until(&mut self, stop: impl Fn(&str) -> bool) -> anyhow::Result<()> {
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                if let Some(kind) = frame.lines().find_map(|l| l.strip_prefix("event: "))
                    && stop(kind)
                {
                    return Ok(());
                }
            }
            self.fill().await?;
        }
    }
}

impl Target {
    async fn stream(&self, session: &str) -> anyhow::Result<EventStream> {
        let response = self
            .http
            .get(format!("{}/v1/sessions/{session}/events/stream", self.base))
            .bearer_auth(&self.key)
            .header("anthropic-beta", BETA)
            .send()
            .await?;
        anyhow::ensure!(
            response.status().is_success(),
            "stream: {}",
            response.status()
        );
        Ok(EventStream {
            response,
            buffer: String::new(),
        })
    }

    async fn say(&self, session: &str) -> anyhow::Result<()> {
        let body = json!({"events": [{"type": "user.message", "content": [{"type": "text", "text": "hi"}]}]});
        self.post(&format!("/v1/sessions/{session}/events"), &body)
            .await
            .map(drop)
    }

    /// Sends a `user.interrupt`; returns its event id.
    async fn interrupt(&self, session: &str) -> anyhow::Result<String> {
        let body = json!({"events": [{"type": "user.interrupt"}]});
        let sent = self
            .post(&format!("/v1/sessions/{session}/events"), &body)
            .await?;
        Ok(sent["data"][0]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    async fn wait_healthy(&self) -> anyhow::Result<()> {
        for _ in 0..400 {
            if let Ok(r) = self.http.get(format!("{}/healthz", self.base)).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        bail!("the server did not start")
    }
}
