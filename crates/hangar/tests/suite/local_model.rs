//! A whole session with a real local model: `hangar serve` with an OpenAI-compatible
//! provider pointed at llama.cpp's `llama-server` (Qwen2.5-Coder-0.5B with the JSON-tools chat
//! template, `scripts/llm-setup.sh`), an agent with the `bash` tool, and the local sandbox.
//! Runs only when `HANGAR_LLAMA_SERVER` and `HANGAR_LLAMA_MODEL` are set; asserts shape, not
//! prose (the model is a demo model: one explicit tool call, then a plain answer).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde_json::{Value, json};

use super::ServeProcess;

const ALIAS: &str = "qwen2.5-coder-0.5b";

struct LlamaServer {
    child: Child,
    port: u16,
}

impl Drop for LlamaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_llama(binary: &Path, model: &Path) -> Result<LlamaServer> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let template = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/chatml-json-tools-v2.jinja");
    let child = Command::new(binary)
        .arg("-m")
        .arg(model)
        .arg("--chat-template-file")
        .arg(&template)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["-c", "4096", "-t", "2", "--alias", ALIAS, "--temp", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let server = LlamaServer { child, port };
    let http = reqwest::Client::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(120) {
        if let Ok(r) = http
            .get(format!("http://127.0.0.1:{port}/health"))
            .send()
            .await
            && r.status() == 200
        {
            return Ok(server);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bail!("llama-server did not become healthy")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_model_runs_a_command_in_the_sandbox_and_answers() -> Result<()> {
    let (Some(binary), Some(model)) = (
        std::env::var_os("HANGAR_LLAMA_SERVER"),
        std::env::var_os("HANGAR_LLAMA_MODEL"),
    ) else {
        println!("skipped: set HANGAR_LLAMA_SERVER and HANGAR_LLAMA_MODEL (scripts/llm-setup.sh)");
        return Ok(());
    };
    hangar_testkit::install_crypto_provider();
    let llama = start_llama(&PathBuf::from(binary), &PathBuf::from(model)).await?;
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("hangar.toml");
    std::fs::write(
        &config,
        format!(
            "default_provider = \"local\"\n[providers.local]\nkind = \"openai-chat\"\n\
         base_url = \"http://127.0.0.1:{}/v1\"\nmax_tokens = 256\n",
            llama.port
        ),
    )?;
    let templates = std::env::var("HANGAR_TEMPLATE_DIR")
        .unwrap_or_else(|_| "/var/cache/hangar-ci/templates".into());
    let server = ServeProcess::start(
        dir.path(),
        vec![
            ("HANGAR_CONFIG".into(), config.display().to_string()),
            ("HANGAR_TEMPLATE_DIR".into(), templates),
        ],
    )
    .await?;
    let agent = server
        .post(
            "/v1/agents",
            json!({"name": "local", "model": ALIAS,
        "tools": [{"type": "agent_toolset_20260401", "default_config": {"enabled": false},
            "configs": [{"name": "bash", "enabled": true}]}]}),
        )
        .await?;
    let env = server
        .post("/v1/environments", json!({"name": "local-model"}))
        .await?;
    let session = server
        .post(
            "/v1/sessions",
            json!({"agent": agent["id"], "environment_id": env["id"]}),
        )
        .await?;
    let session = session["id"].as_str().unwrap_or_default().to_owned();
    server
        .post(
            &format!("/v1/sessions/{session}/events"),
            json!({"events": [{"type": "user.message",
        "content": [{"type": "text", "text": "Run the command uname -a"}]}]}),
        )
        .await?;

    let started = Instant::now();
    let events = loop {
        let events = server.events(&session).await?;
        if events.iter().any(|e| e["type"] == "session.status_idle") {
            break events;
        }
        if started.elapsed() > Duration::from_secs(300) {
            bail!("no idle after 300 s: {events:#?}\n{}", server.log());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let of = |kind: &str| {
        events
            .iter()
            .filter(|e| e["type"] == kind)
            .cloned()
            .collect::<Vec<Value>>()
    };
    let calls = of("agent.tool_use");
    assert!(!calls.is_empty(), "the model called no tool: {events:#?}");
    assert_eq!(calls[0]["name"], "bash");
    assert!(
        calls[0]["input"]["command"]
            .as_str()
            .unwrap_or_default()
            .contains("uname"),
        "{:?}",
        calls[0]
    );
    let results = of("agent.tool_result");
    assert_eq!(results[0]["is_error"], false, "{:?}", results[0]);
    assert!(
        results[0]["content"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("Linux"),
        "the command ran in the sandbox: {:?}",
        results[0]
    );
    assert!(
        !of("agent.message").is_empty(),
        "the model answered after the result: {events:#?}"
    );
    let idle = of("session.status_idle");
    assert_eq!(idle[0]["stop_reason"]["type"], "end_turn", "{events:#?}");
    println!("local model session: {:?} to idle", started.elapsed());
    Ok(())
}
