//! Shared helpers of the integration suite: fixtures for the three resources and an HTTP
//! reply that keeps the headers, so error envelopes can be checked whole.

mod agents;
mod auth;
mod budgets;
mod concurrency;
mod environments;
mod errors;
mod event_errors;
mod openapi;
mod pagination;
mod persistence;
mod sessions;
mod snapshots;
mod streaming;
mod threads;
mod turns;

use anyhow::{Context, Result, ensure};
use hangar_testkit::TestServer;
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

/// The smallest valid agent create body.
pub fn agent_body(name: &str) -> Value {
    json!({"name": name, "model": "claude-opus-4-6"})
}

pub async fn create_agent(server: &TestServer, name: &str) -> Result<Value> {
    server.create("/v1/agents", agent_body(name)).await
}

pub async fn create_environment(server: &TestServer, name: &str) -> Result<Value> {
    server
        .create("/v1/environments", json!({"name": name}))
        .await
}

/// A session on `agent` (an id string or a reference object) in environment `env_id`.
pub async fn create_session(server: &TestServer, agent: Value, env_id: &str) -> Result<Value> {
    server
        .create(
            "/v1/sessions",
            json!({"agent": agent, "environment_id": env_id}),
        )
        .await
}

/// The `id` of a response object.
pub fn id(value: &Value) -> String {
    value["id"].as_str().unwrap_or_default().to_owned()
}

/// The ids of a list page's `data`, in order.
pub fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .map(|items| items.iter().map(id).collect())
        .unwrap_or_default()
}

/// Percent-encodes what a query value may not carry verbatim (RFC 3339 offsets, brackets).
pub fn encode(value: &str) -> String {
    value
        .replace('%', "%25")
        .replace('+', "%2B")
        .replace(':', "%3A")
        .replace('[', "%5B")
        .replace(']', "%5D")
}

/// A request body: none, JSON, or raw bytes (for malformed input).
pub enum Body {
    Empty,
    Json(Value),
    Raw(Vec<u8>),
}

/// A response with its headers.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// Reads a whole response, keeping its headers.
    pub async fn read(response: reqwest::Response) -> Result<Reply> {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await?;
        Ok(Reply {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Checks the whole error envelope: status, `type: "error"`, `error.type`, a message
    /// substring, and a `req_` request id in the body equal to the `request-id` header.
    pub fn check_error(&self, status: u16, error_type: &str, message: &str) -> Result<()> {
        ensure!(self.status != 500, "server error: {}", self.body);
        ensure!(
            self.status == status,
            "status {} (wanted {status}): {}",
            self.status,
            self.body
        );
        ensure!(
            self.body["type"] == "error",
            "not an error envelope: {}",
            self.body
        );
        ensure!(
            self.body["error"]["type"] == error_type,
            "error.type {} (wanted {error_type})",
            self.body["error"]["type"]
        );
        let text = self.body["error"]["message"]
            .as_str()
            .context("error.message is missing")?;
        ensure!(text.contains(message), "message {text:?} lacks {message:?}");
        let request_id = self.body["request_id"]
            .as_str()
            .context("request_id is missing")?;
        ensure!(request_id.starts_with("req_"), "request_id {request_id:?}");
        ensure!(
            self.header("request-id") == Some(request_id),
            "request-id header {:?} differs from body {request_id:?}",
            self.header("request-id")
        );
        ensure!(
            self.header("content-type")
                .is_some_and(|v| v.starts_with("application/json")),
            "content-type {:?}",
            self.header("content-type")
        );
        Ok(())
    }

    /// `error.details.error_code`, if any.
    pub fn error_code(&self) -> Option<&str> {
        self.body["error"]["details"]["error_code"].as_str()
    }

    /// Like [`Reply::check_error`], and also demands `details.error_code`.
    pub fn check_error_code(
        &self,
        status: u16,
        error_type: &str,
        message: &str,
        code: &str,
    ) -> Result<()> {
        self.check_error(status, error_type, message)?;
        ensure!(
            self.error_code() == Some(code),
            "error_code {:?} (wanted {code})",
            self.error_code()
        );
        Ok(())
    }
}

/// Sends a request with the SDK's headers and keeps the reply's headers.
pub async fn send(server: &TestServer, method: Method, path: &str, body: Body) -> Result<Reply> {
    let request = server.request(method, path);
    let request = match body {
        Body::Empty => request,
        Body::Json(value) => request.body(value.to_string()),
        Body::Raw(bytes) => request.body(bytes),
    };
    Reply::read(request.send().await?).await
}

pub async fn post(server: &TestServer, path: &str, body: Value) -> Result<Reply> {
    send(server, Method::POST, path, Body::Json(body)).await
}

pub async fn get(server: &TestServer, path: &str) -> Result<Reply> {
    send(server, Method::GET, path, Body::Empty).await
}

/// GET that must succeed; returns the body.
pub async fn fetch(server: &TestServer, path: &str) -> Result<Value> {
    let (status, body) = server.get(path).await?;
    ensure!(status == 200, "GET {path} answered {status}: {body}");
    Ok(body)
}
