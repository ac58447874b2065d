//! `hangar serve`: lock the data dir, open the store (migrations run on open), make sure an
//! API key exists, assemble the engine (model providers, tool runtime, harness, scheduler),
//! resume every session with work left, serve until SIGINT/SIGTERM, then drain in-flight
//! requests, stop the runners (turns in flight resume on the next start) and close the
//! database.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::sync::Arc;

use std::time::Duration;

use anyhow::Context;
use hangar_core::bus::InProcessBus;
use hangar_core::engine::{Engine, EngineParts};
use hangar_core::harness::HarnessConfig;
use hangar_core::store::Store;
use hangar_core::tool_runtime::ToolRuntime;
use hangar_llm::ModelRouter;
use hangar_protocol::ids::IdKind;
use hangar_protocol::time::Timestamp;
use hangar_server::auth::{ApiKeys, generate_key, hash_key};
use hangar_server::{AppState, app};
use hangar_store::SqliteStore;

use crate::config::{ServeArgs, ServeConfig};
use crate::tools::ServerTools;

/// File (in the data dir) that receives a generated admin key, readable by the owner only.
pub const ADMIN_KEY_FILE: &str = "admin-key";
/// File (in the data dir) locked while a server uses the directory: one server per data dir.
const LOCK_FILE: &str = "hangar.lock";
/// File (in the data dir) naming this node: its lease owner name, stable across restarts so a
/// restarted server takes its sessions back at once.
const NODE_ID_FILE: &str = "node-id";
/// How long shutdown waits for runners to stop.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = ServeConfig::resolve(args)?;
    crate::logging::init(config.log_format);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&config.data_dir)
        .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
    let _lock = lock_data_dir(&config.data_dir)?;
    let db_path = config.data_dir.join("hangar.db");
    let store = SqliteStore::open(&db_path)
        .await
        .with_context(|| format!("cannot open database {}", db_path.display()))?;
    tracing::info!(database = %db_path.display(), "store ready");
    let keys = bootstrap_keys(&store, &config).await?;
    let engine = assemble(&config, &store)?;
    let resumed = engine.scheduler().wake_all().await?;
    if resumed > 0 {
        tracing::info!(sessions = resumed, "resuming sessions with work left");
    }
    engine.scheduler().start_sweeper();
    let state = AppState::new(engine.clone(), keys);

    let listener = hangar_server::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let bound = axum::serve::Listener::local_addr(&listener)?;
    tracing::info!("listening on http://{bound}");
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    engine.scheduler().shutdown(SHUTDOWN_GRACE).await;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// The engine: model providers from the config, the tool runtime, the harness.
fn assemble(config: &ServeConfig, store: &SqliteStore) -> anyhow::Result<Engine> {
    let model = ModelRouter::from_process_env(&config.providers)
        .map_err(|e| anyhow::anyhow!("invalid model provider configuration: {e}"))?;
    tracing::info!(providers = ?model.providers().collect::<Vec<_>>(), "model providers");
    let tools: Arc<dyn ToolRuntime> = Arc::new(ServerTools::build(config)?);
    let mut harness = HarnessConfig::new(node_id(&config.data_dir)?);
    harness.max_output_tokens = config.max_output_tokens;
    harness.prices = Arc::new(config.prices.clone());
    Ok(Engine::assemble(EngineParts {
        store: Arc::new(store.clone()),
        events: Arc::new(store.clone()),
        bus: Arc::new(InProcessBus::new()),
        model: Arc::new(model),
        tools,
        config: harness,
    }))
}

/// Takes the data dir's lock file; a second server on the same directory fails to start.
fn lock_data_dir(dir: &Path) -> anyhow::Result<std::fs::File> {
    let path = dir.join(LOCK_FILE);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    file.try_lock().map_err(|_| {
        anyhow::anyhow!(
            "another hangar server is using the data dir {} (it holds {})",
            dir.display(),
            path.display()
        )
    })?;
    Ok(file)
}

/// This node's stable name, created on first start.
fn node_id(dir: &Path) -> anyhow::Result<String> {
    let path = dir.join(NODE_ID_FILE);
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => Ok(id.trim().to_owned()),
        _ => {
            let id = format!("node_{}", IdKind::Request.mint().trim_start_matches("req_"));
            write_secret(&path, &id)?;
            Ok(id)
        }
    }
}

/// Loads the accepted key hashes. When there is no key at all (first start, no
/// `HANGAR_API_KEY`), generates one, stores its hash and writes the key once to
/// `<data-dir>/admin-key` (mode 0600).
async fn bootstrap_keys(store: &SqliteStore, config: &ServeConfig) -> anyhow::Result<ApiKeys> {
    let mut hashes = store.api_key_hashes().await?;
    if let Some(key) = &config.api_key {
        hashes.push(hash_key(key));
    }
    if hashes.is_empty() {
        let key = generate_key();
        let path = config.data_dir.join(ADMIN_KEY_FILE);
        write_secret(&path, &key)?;
        store
            .insert_api_key(&IdKind::ApiKey.mint(), &hash_key(&key), Timestamp::now())
            .await?;
        hashes.push(hash_key(&key));
        tracing::info!(path = %path.display(), "generated an admin API key; it is in this file (only its hash is stored)");
    }
    Ok(ApiKeys::new(hashes))
}

fn write_secret(path: &Path, secret: &str) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    writeln!(file, "{secret}")?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(%err, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}
