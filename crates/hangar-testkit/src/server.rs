//! [`TestServer`]: a real server on a free port, built like `hangar serve` builds it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use hangar_core::bus::InProcessBus;
use hangar_core::engine::{Engine, EngineParts};
use hangar_core::harness::{HarnessConfig, RetryPolicy};
use hangar_core::model::{ModelClient, ModelError, ModelRequest, ModelStream};
use hangar_core::pricing::PriceTable;
use hangar_core::tool_runtime::{NoSandbox, ToolRuntime};
use hangar_server::auth::{ApiKeys, hash_key};
use hangar_server::{AppState, app};
use hangar_store::SqliteStore;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The API key every test server accepts.
pub const TEST_API_KEY: &str = "sk-hangar-test-key";
/// The beta header value the SDK sends for managed agents.
pub const BETA: &str = "managed-agents-2026-04-01";

/// The lease owner of every test server, so a restarted server reclaims its leases at once
/// (like `hangar serve` with its stable node id).
const TEST_NODE: &str = "test-node";

/// A model client for servers that never call a model: every model id is accepted at agent
/// create, and a request fails with a configuration error that says so.
#[derive(Debug, Clone, Copy, Default)]
pub struct UnroutedModel;

#[async_trait]
impl ModelClient for UnroutedModel {
    async fn stream(&self, _request: ModelRequest) -> Result<Box<dyn ModelStream>, ModelError> {
        Err(ModelError::Config(
            "this test server has no model provider configured".to_owned(),
        ))
    }

    fn check_model(&self, _model: &str) -> Result<(), String> {
        Ok(())
    }
}

/// Installs rustls' ring provider as the process default (once), so every reqwest client of a
/// test can be built: the workspace's reqwest has no built-in provider (ring only, no aws-lc).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// How a [`TestServer`] is built.
#[derive(Clone)]
pub struct TestServerBuilder {
    model: Arc<dyn ModelClient>,
    tools: Arc<dyn ToolRuntime>,
    retry: RetryPolicy,
    lease_ttl: Duration,
    prices: PriceTable,
}

impl Default for TestServerBuilder {
    fn default() -> Self {
        TestServerBuilder {
            model: Arc::new(UnroutedModel),
            tools: Arc::new(NoSandbox),
            retry: RetryPolicy {
                max_attempts: 3,
                base_delay: Duration::from_millis(20),
                max_delay: Duration::from_millis(100),
            },
            lease_ttl: Duration::from_secs(30),
            prices: PriceTable::default(),
        }
    }
}

impl TestServerBuilder {
    pub fn model(mut self, model: Arc<dyn ModelClient>) -> Self {
        self.model = model;
        self
    }

    pub fn tools(mut self, tools: Arc<dyn ToolRuntime>) -> Self {
        self.tools = tools;
        self
    }

    /// Model list prices (for `usage.list_cost` and budgets).
    pub fn prices(mut self, prices: PriceTable) -> Self {
        self.prices = prices;
        self
    }

    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// A server on a fresh temp directory.
    pub async fn start(self) -> anyhow::Result<TestServer> {
        let temp = tempfile::tempdir()?;
        let mut server = self.start_in(temp.path()).await?;
        server._temp = Some(temp);
        Ok(server)
    }

    /// A server whose database lives in `dir` (which the caller keeps).
    pub async fn start_in(self, dir: &Path) -> anyhow::Result<TestServer> {
        install_crypto_provider();
        let store = SqliteStore::open(&dir.join("hangar.db"))
            .await
            .context("opening store")?;
        let mut config = HarnessConfig::new(TEST_NODE);
        config.retry = self.retry;
        config.lease_ttl = self.lease_ttl;
        config.prices = Arc::new(self.prices.clone());
        let engine = Engine::assemble(EngineParts {
            store: Arc::new(store.clone()),
            events: Arc::new(store.clone()),
            bus: Arc::new(InProcessBus::new()),
            model: self.model.clone(),
            tools: self.tools.clone(),
            config,
        });
        engine.scheduler().start_sweeper();
        let state = AppState::new(engine.clone(), ApiKeys::new([hash_key(TEST_API_KEY)]));
        let listener = hangar_server::bind(([127, 0, 0, 1], 0).into()).await?;
        let addr = axum::serve::Listener::local_addr(&listener)?;
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
            engine,
            builder: self,
            shutdown: Some(tx),
            task: Some(task),
            data_dir: dir.to_owned(),
            _temp: None,
        })
    }
}

/// A running server. Dropping it stops the server; the temp directory lives as long as the
/// [`TestServer`] (or the directory passed to [`TestServerBuilder::start_in`]).
pub struct TestServer {
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    store: SqliteStore,
    engine: Engine,
    builder: TestServerBuilder,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
    data_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl TestServer {
    pub fn builder() -> TestServerBuilder {
        TestServerBuilder::default()
    }

    /// A server on a fresh temp directory, with no model provider and no sandbox.
    pub async fn start() -> anyhow::Result<TestServer> {
        TestServerBuilder::default().start().await
    }

    /// A default server whose database lives in `dir` (which the caller keeps).
    pub async fn start_in(dir: &Path) -> anyhow::Result<TestServer> {
        TestServerBuilder::default().start_in(dir).await
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Stops the server and closes the database, keeping the files.
    pub async fn stop(mut self) -> anyhow::Result<Option<tempfile::TempDir>> {
        self.halt().await;
        Ok(self._temp.take())
    }

    /// Stops this server and starts a new one (built the same way) on the same files.
    pub async fn restart(mut self) -> anyhow::Result<TestServer> {
        self.halt().await;
        let mut next = self.builder.clone().start_in(&self.data_dir).await?;
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
        self.engine
            .scheduler()
            .shutdown(Duration::from_secs(5))
            .await;
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
