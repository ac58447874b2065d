//! Shared helpers: a `hangar serve` child process on a free port and a data dir that outlives
//! it, so a test can kill the server and start it again.

mod crash;
mod local_model;
mod sandboxed;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;

pub const API_KEY: &str = "sk-hangar-process-test";
const BETA: &str = "managed-agents-2026-04-01";

/// A `hangar serve` child process.
pub struct ServeProcess {
    child: Option<Child>,
    pub base: String,
    data_dir: PathBuf,
    env: Vec<(String, String)>,
    http: reqwest::Client,
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl ServeProcess {
    /// Starts `hangar serve` on `data_dir` with extra environment variables.
    pub async fn start(data_dir: &Path, env: Vec<(String, String)>) -> Result<ServeProcess> {
        hangar_testkit::install_crypto_provider();
        let port = free_port()?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(data_dir.join("serve.log"))?;
        let child = Command::new(env!("CARGO_BIN_EXE_hangar"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--data-dir",
            ])
            .arg(data_dir)
            .env("HANGAR_API_KEY", API_KEY)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("spawning hangar serve")?;
        let server = ServeProcess {
            child: Some(child),
            base: format!("http://127.0.0.1:{port}"),
            data_dir: data_dir.to_owned(),
            env,
            http: reqwest::Client::new(),
        };
        server.wait_healthy().await?;
        Ok(server)
    }

    async fn wait_healthy(&self) -> Result<()> {
        for _ in 0..400 {
            if let Ok(r) = self.http.get(format!("{}/healthz", self.base)).send().await
                && r.status() == 200
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        bail!("hangar serve did not become healthy; log:\n{}", self.log())
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data_dir.join("serve.log")).unwrap_or_default()
    }

    /// SIGKILL: no shutdown code runs.
    pub fn kill(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill()?;
            child.wait()?;
        }
        Ok(())
    }

    /// Starts a new process on the same data dir and environment.
    pub async fn restart(mut self) -> Result<ServeProcess> {
        self.kill()?;
        ServeProcess::start(&self.data_dir.clone(), self.env.clone()).await
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value)> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(API_KEY)
            .header("anthropic-beta", BETA)
            .header("content-type", "application/json");
        if let Some(body) = body {
            request = request.body(body.to_string());
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    pub async fn post(&self, path: &str, body: Value) -> Result<Value> {
        let (status, value) = self.call(reqwest::Method::POST, path, Some(body)).await?;
        anyhow::ensure!(status == 200, "POST {path}: {status} {value}");
        Ok(value)
    }

    pub async fn get(&self, path: &str) -> Result<Value> {
        let (status, value) = self.call(reqwest::Method::GET, path, None).await?;
        anyhow::ensure!(status == 200, "GET {path}: {status} {value}");
        Ok(value)
    }

    pub async fn events(&self, session: &str) -> Result<Vec<Value>> {
        let page = self
            .get(&format!("/v1/sessions/{session}/events?limit=1000"))
            .await?;
        Ok(page["data"].as_array().cloned().unwrap_or_default())
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}
