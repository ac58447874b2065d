//! Test support: [`TestServer`], the real Hangar router on `127.0.0.1:0` over a SQLite file in
//! a temp directory, with an HTTP client that speaks like the official SDK (Bearer key and the
//! managed-agents beta header).
//!
//! A server can be stopped and started again on the same directory to test persistence.
//!
//! [`mock_model`]: a scripted model server speaking the providers' wire formats.

pub mod mock_model;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use hangar_core::Resources;
use hangar_server::auth::{ApiKeys, hash_key};
use hangar_server::{AppState, app};
use hangar_store::SqliteStore;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The API key every test server accepts.
pub const TEST_API_KEY: &str = "sk-hangar-test-key";
/// The beta header value the SDK sends for managed agents.
pub const BETA: &str = "managed-agents-2026-04-01";

/// A running server. Dropping it stops the server; the temp directory lives as long as the
/// [`TestServer`] (or the [`tempfile::TempDir`] passed to [`TestServer::start_in`]).
pub struct TestServer {
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    store: SqliteStore,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    data_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl TestServer {
    /// A server on a fresh temp directory.
    pub async fn start() -> anyhow::Result<TestServer> {
        let temp = tempfile::tempdir()?;
        let mut server = TestServer::start_in(temp.path()).await?;
        server._temp = Some(temp);
        Ok(server)
    }

    /// A server whose database lives in `dir` (which the caller keeps).
    pub async fn start_in(dir: &Path) -> anyhow::Result<TestServer> {
        let store = SqliteStore::open(&dir.join("hangar.db"))
            .await
            .context("opening store")?;
        let state = AppState {
            resources: Resources::new(Arc::new(store.clone())),
            keys: Arc::new(ApiKeys::new([hash_key(TEST_API_KEY)])),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app(state))
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        Ok(TestServer {
            addr,
            http: reqwest::Client::new(),
            store,
            shutdown: Some(tx),
            task: Some(task),
            data_dir: dir.to_owned(),
            _temp: None,
        })
    }

    /// Stops the server and closes the database, keeping the files.
    pub async fn stop(mut self) -> anyhow::Result<Option<tempfile::TempDir>> {
        self.halt().await;
        Ok(self._temp.take())
    }

    /// Stops this server and starts a new one on the same files.
    pub async fn restart(mut self) -> anyhow::Result<TestServer> {
        self.halt().await;
        let mut next = TestServer::start_in(&self.data_dir).await?;
        next._temp = self._temp.take();
        Ok(next)
    }

    async fn halt(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        self.store.close().await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// A request with the SDK's headers (Bearer key, beta).
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(TEST_API_KEY)
            .header("anthropic-beta", BETA)
            .header("content-type", "application/json")
    }

    /// Sends a request with an optional JSON body; returns status and parsed body
    /// (`Value::Null` when the body is empty or not JSON).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> anyhow::Result<(u16, serde_json::Value)> {
        let mut request = self.request(method, path);
        if let Some(body) = body {
            request = request.body(body.to_string());
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await?;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        ))
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<(u16, serde_json::Value)> {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn post(
        &self,
        path: &str,
        body: serde_json::Value,
    ) -> anyhow::Result<(u16, serde_json::Value)> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<(u16, serde_json::Value)> {
        self.call(reqwest::Method::DELETE, path, None).await
    }

    /// POST that must succeed; returns the body.
    pub async fn create(
        &self,
        path: &str,
        body: serde_json::Value,
    ) -> anyhow::Result<serde_json::Value> {
        let (status, value) = self.post(path, body).await?;
        anyhow::ensure!(status == 200, "POST {path} answered {status}: {value}");
        Ok(value)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
