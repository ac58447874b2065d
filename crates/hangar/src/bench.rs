//! `hangar bench api`: request rate and latency of the API under concurrent clients on
//! loopback. By default it starts a real server (the same router, a SQLite file in a temp dir)
//! inside this process; `--url` points it at a server running elsewhere instead.
//!
//! Each phase runs for a fixed time with N clients issuing requests back to back; latencies
//! go into an HDR histogram. This is a benchmark, not a test: it asserts nothing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Subcommand};
use hdrhistogram::Histogram;
use serde_json::{Value, json};

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Agent create, session retrieve and session list (page of 100) under concurrent clients.
    Api(ApiBenchArgs),
    /// Event appends, turn overhead, SSE fan-out and server RSS.
    Turns(crate::bench_turns::TurnsBenchArgs),
    /// Local sandbox: provisioning, per-call overhead, memory per idle sandbox.
    Sandbox(crate::bench_sandbox::SandboxBenchArgs),
}

#[derive(Args)]
pub struct ApiBenchArgs {
    /// Concurrent clients.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Seconds per phase.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Base URL of a running server; when omitted one is started in this process.
    #[arg(long)]
    url: Option<String>,
    /// API key for `--url`.
    #[arg(long, env = "HANGAR_API_KEY")]
    api_key: Option<String>,
}

pub async fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::Api(args) => api(args).await,
        BenchCommand::Sandbox(args) => crate::bench_sandbox::run(args).await,
        BenchCommand::Turns(args) => crate::bench_turns::run(args).await,
    }
}

pub(crate) const BETA: &str = "managed-agents-2026-04-01";
const LOCAL_KEY: &str = "sk-hangar-bench";

pub(crate) struct Target {
    pub(crate) base: String,
    pub(crate) key: String,
    pub(crate) http: reqwest::Client,
}

impl Target {
    pub(crate) fn new(base: &str, key: &str) -> anyhow::Result<Target> {
        Ok(Target {
            base: base.trim_end_matches('/').to_owned(),
            key: key.to_owned(),
            http: reqwest::Client::builder().build()?,
        })
    }

    pub(crate) async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .header("anthropic-beta", BETA);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        anyhow::ensure!(status.is_success(), "{path}: {status}");
        Ok(serde_json::from_slice(&bytes)?)
    }
}

async fn api(args: ApiBenchArgs) -> anyhow::Result<()> {
    let _server_dir; // keeps the in-process server's files alive until the end
    let (base, key) = match args.url {
        Some(url) => (
            url.trim_end_matches('/').to_owned(),
            args.api_key.context("--url needs --api-key")?,
        ),
        None => {
            let dir = tempfile::tempdir()?;
            let base = start_local_server(dir.path()).await?;
            _server_dir = dir;
            (base, LOCAL_KEY.to_owned())
        }
    };
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.clients)
        .build()?;
    let target = Arc::new(Target { base, key, http });
    let seconds = Duration::from_secs(args.seconds);

    println!(
        "hangar bench api: {} clients, {} s per phase, {}",
        args.clients, args.seconds, target.base
    );
    println!(
        "{:<28} {:>9} {:>10} {:>9} {:>9} {:>7}",
        "operation", "requests", "req/s", "p50 ms", "p99 ms", "errors"
    );

    let agent = json!({"name": "bench-agent", "model": "claude-sonnet-4-6",
        "tools": [{"type": "agent_toolset_20260401"}]});
    let created = phase(
        &target,
        args.clients,
        seconds,
        "agent create",
        move |t, _| {
            let agent = agent.clone();
            async move {
                t.send(reqwest::Method::POST, "/v1/agents", Some(&agent))
                    .await
                    .map(drop)
            }
        },
    )
    .await?;
    anyhow::ensure!(created > 0, "no agent was created");

    let agent = target
        .send(
            reqwest::Method::POST,
            "/v1/agents",
            Some(&json!({"name": "a", "model": "claude-sonnet-4-6"})),
        )
        .await?;
    let env = target
        .send(
            reqwest::Method::POST,
            "/v1/environments",
            Some(&json!({"name": format!("bench-{}", std::process::id())})),
        )
        .await?;
    let session_body = json!({"agent": agent["id"], "environment_id": env["id"]});
    let mut session_ids = Vec::new();
    for _ in 0..200 {
        let session = target
            .send(reqwest::Method::POST, "/v1/sessions", Some(&session_body))
            .await?;
        session_ids.push(session["id"].as_str().unwrap_or_default().to_owned());
    }
    let session_ids = Arc::new(session_ids);

    phase(
        &target,
        args.clients,
        seconds,
        "session retrieve",
        move |t, n| {
            let path = format!("/v1/sessions/{}", session_ids[n % session_ids.len()]);
            async move { t.send(reqwest::Method::GET, &path, None).await.map(drop) }
        },
    )
    .await?;
    phase(
        &target,
        args.clients,
        seconds,
        "session list (limit=100)",
        |t, _| async move {
            let page = t
                .send(reqwest::Method::GET, "/v1/sessions?limit=100", None)
                .await?;
            anyhow::ensure!(
                page["data"].as_array().map(Vec::len) == Some(100),
                "short page"
            );
            Ok(())
        },
    )
    .await?;
    Ok(())
}

/// Runs `op` from `clients` tasks for `duration`; prints one result line; returns successes.
async fn phase<F, Fut>(
    target: &Arc<Target>,
    clients: usize,
    duration: Duration,
    name: &str,
    op: F,
) -> anyhow::Result<u64>
where
    F: Fn(Arc<Target>, usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for client in 0..clients {
        let (target, op) = (target.clone(), op.clone());
        tasks.spawn(async move {
            let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
            let mut errors = 0u64;
            let mut n = client;
            while Instant::now() < deadline {
                let began = Instant::now();
                match op(target.clone(), n).await {
                    Ok(()) => histogram.record(began.elapsed().as_micros().max(1) as u64)?,
                    Err(_) => errors += 1,
                }
                n += clients;
            }
            anyhow::Ok((histogram, errors))
        });
    }
    let mut total = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let mut errors = 0;
    while let Some(result) = tasks.join_next().await {
        let (histogram, task_errors) = result??;
        total.add(histogram)?;
        errors += task_errors;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let ms = |q: f64| total.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "{name:<28} {:>9} {:>10.0} {:>9.2} {:>9.2} {errors:>7}",
        total.len(),
        total.len() as f64 / elapsed,
        ms(0.5),
        ms(0.99)
    );
    Ok(total.len())
}

/// Starts the real router on 127.0.0.1:0 over a SQLite file in `dir`; returns its base URL.
async fn start_local_server(dir: &std::path::Path) -> anyhow::Result<String> {
    use hangar_server::auth::{ApiKeys, hash_key};
    let store = hangar_store::SqliteStore::open(&dir.join("hangar.db")).await?;
    let model = hangar_llm::ModelRouter::from_process_env(&Default::default())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let engine = hangar_core::engine::Engine::assemble(hangar_core::engine::EngineParts {
        store: Arc::new(store.clone()),
        events: Arc::new(store),
        bus: Arc::new(hangar_core::bus::InProcessBus::new()),
        model: Arc::new(model),
        tools: Arc::new(hangar_core::tool_runtime::NoSandbox),
        config: hangar_core::harness::HarnessConfig::new("bench"),
    });
    let state = hangar_server::AppState::new(engine, ApiKeys::new([hash_key(LOCAL_KEY)]));
    let listener = hangar_server::bind(([127, 0, 0, 1], 0).into()).await?;
    let addr = axum::serve::Listener::local_addr(&listener)?;
    tokio::spawn(async move { axum::serve(listener, hangar_server::app(state)).await });
    Ok(format!("http://{addr}"))
}
