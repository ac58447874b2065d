//! `hangar serve`: open the store (migrations run on open), make sure an API key exists,
//! serve until SIGINT/SIGTERM, then drain in-flight requests and close the database.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use hangar_core::Resources;
use hangar_core::store::Store;
use hangar_protocol::ids::IdKind;
use hangar_protocol::time::Timestamp;
use hangar_server::auth::{ApiKeys, generate_key, hash_key};
use hangar_server::{AppState, app};
use hangar_store::SqliteStore;

use crate::config::{ServeArgs, ServeConfig};

/// File (in the data dir) that receives a generated admin key, readable by the owner only.
pub const ADMIN_KEY_FILE: &str = "admin-key";

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = ServeConfig::resolve(args)?;
    crate::logging::init(config.log_format);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&config.data_dir)
        .with_context(|| format!("cannot create data dir {}", config.data_dir.display()))?;
    let db_path = config.data_dir.join("hangar.db");
    let store = SqliteStore::open(&db_path)
        .await
        .with_context(|| format!("cannot open database {}", db_path.display()))?;
    tracing::info!(database = %db_path.display(), "store ready");
    let keys = bootstrap_keys(&store, &config).await?;
    let state = AppState {
        resources: Resources::new(Arc::new(store.clone())),
        keys: Arc::new(keys),
    };

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    tracing::info!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    store.close().await;
    tracing::info!("stopped");
    Ok(())
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
