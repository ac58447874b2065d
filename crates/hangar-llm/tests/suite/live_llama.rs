//! Live tests against a real llama.cpp `llama-server` (Qwen2.5-Coder-0.5B with the JSON-tools
//! chat template), run only when `HANGAR_LLAMA_SERVER` (the binary) and `HANGAR_LLAMA_MODEL`
//! (the .gguf) are set — `scripts/llm-setup.sh` prepares both. They check shape, not prose:
//! plain text and one explicit tool call on all three endpoints, and a tool-result round trip
//! on Chat Completions. Timeouts are generous because this CPU model is slow and noisy.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use hangar_core::model::{Block, Message, ModelClient, ModelEvent, ModelRequest, Role, StopReason};
use hangar_llm::{ApiKey, HttpSettings, ProviderSettings};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

use super::support::{Flavor, build, finished, run, text_of, tool_uses, user_text, weather_tool};

const ALIAS: &str = "qwen2.5-coder-0.5b";
const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(180);

/// A `llama-server` child owned by the test; killed on drop as a backstop.
struct LlamaServer {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl LlamaServer {
    async fn start(binary: &Path, model: &Path) -> anyhow::Result<LlamaServer> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let template = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/chatml-json-tools-v2.jinja");
        let log = std::env::temp_dir().join(format!("hangar-llama-server-{port}.log"));
        let child = Command::new(binary)
            .arg("-m")
            .arg(model)
            .arg("--chat-template-file")
            .arg(&template)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            // Temperature 0 as the server default: the port has no sampling settings.
            .args(["-c", "4096", "-t", "2", "--alias", ALIAS, "--temp", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .kill_on_drop(true)
            .spawn()?;
        let mut server = LlamaServer { child, port, log };
        let started = Instant::now();
        while !server.healthy().await {
            if let Some(status) = server.child.try_wait()? {
                anyhow::bail!(
                    "llama-server exited with {status}; log: {}",
                    server.log.display()
                );
            }
            if started.elapsed() > STARTUP_TIMEOUT {
                anyhow::bail!(
                    "llama-server not healthy after {STARTUP_TIMEOUT:?}; log: {}",
                    server.log.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        println!(
            "live_llama: server ready on port {port} in {:?}",
            started.elapsed()
        );
        Ok(server)
    }

    /// `GET /health` answered 200 (plain TCP: the test needs no HTTP client of its own).
    async fn healthy(&self) -> bool {
        let probe = async {
            let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await?;
            stream
                .write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
                .await?;
            let mut response = Vec::new();
            stream.read_to_end(&mut response).await?;
            anyhow::Ok(
                response.starts_with(b"HTTP/1.1 200") || response.starts_with(b"HTTP/1.0 200"),
            )
        };
        matches!(
            tokio::time::timeout(Duration::from_secs(2), probe).await,
            Ok(Ok(true))
        )
    }

    fn client(&self, flavor: Flavor) -> Box<dyn ModelClient> {
        let base_url = match flavor {
            Flavor::Anthropic => format!("http://127.0.0.1:{}", self.port),
            Flavor::Chat | Flavor::Responses => format!("http://127.0.0.1:{}/v1", self.port),
        };
        build(
            flavor,
            ProviderSettings {
                name: "llama".into(),
                base_url,
                api_key: ApiKey::NotRequired,
                http: HttpSettings {
                    idle_timeout: REQUEST_TIMEOUT,
                    ..HttpSettings::default()
                },
            },
        )
    }

    async fn stop(mut self) {
        let _ = self.child.kill().await;
        let _ = std::fs::remove_file(&self.log);
    }
}

fn configured() -> Option<(PathBuf, PathBuf)> {
    let binary = PathBuf::from(std::env::var_os("HANGAR_LLAMA_SERVER")?);
    let model = PathBuf::from(std::env::var_os("HANGAR_LLAMA_MODEL")?);
    Some((binary, model))
}

fn request(messages: Vec<Message>, with_tools: bool, max_tokens: u32) -> ModelRequest {
    ModelRequest {
        model: ALIAS.into(),
        system: Some("You are a helpful assistant.".into()),
        messages,
        tools: if with_tools {
            vec![weather_tool()]
        } else {
            Vec::new()
        },
        max_tokens,
    }
}

async fn timed(label: &str, client: &dyn ModelClient, request: ModelRequest) -> Vec<ModelEvent> {
    let started = Instant::now();
    let events = tokio::time::timeout(REQUEST_TIMEOUT, run(client, request))
        .await
        .unwrap_or_else(|_| panic!("{label}: no answer within {REQUEST_TIMEOUT:?}"))
        .unwrap_or_else(|error| panic!("{label}: {error}"));
    println!("live_llama: {label} took {:?}", started.elapsed());
    events
}

async fn plain_text(server: &LlamaServer, flavor: Flavor) {
    let label = format!("{flavor:?} plain text");
    let events = timed(
        &label,
        &*server.client(flavor),
        request(
            vec![user_text("Say hello in one short sentence.")],
            false,
            32,
        ),
    )
    .await;
    let text = text_of(&events, 0);
    assert!(!text.trim().is_empty(), "{label}: no text in {events:?}");
    let (stop_reason, usage) = finished(&events);
    assert!(
        matches!(stop_reason, StopReason::EndTurn | StopReason::MaxTokens),
        "{label}: {stop_reason:?}"
    );
    assert!(usage.output_tokens > 0, "{label}: {usage:?}");
    assert!(
        usage.input_tokens + usage.cache_read_input_tokens > 0,
        "{label}: {usage:?}"
    );
    assert!(tool_uses(&events).is_empty(), "{label}");
}

/// Returns the call (id, input) for the round trip.
async fn weather_call(server: &LlamaServer, flavor: Flavor) -> (String, Value) {
    let label = format!("{flavor:?} tool call");
    let events = timed(
        &label,
        &*server.client(flavor),
        request(vec![user_text("What is the weather in Paris?")], true, 128),
    )
    .await;
    let calls = tool_uses(&events);
    assert_eq!(calls.len(), 1, "{label}: {events:?}");
    let (id, name, input) = calls.into_iter().next().unwrap_or_default();
    assert!(!id.is_empty(), "{label}: empty id");
    assert_eq!(name, "get_weather", "{label}");
    assert!(input["city"].is_string(), "{label}: input {input}");
    assert_eq!(finished(&events).0, StopReason::ToolUse, "{label}");
    println!("live_llama: {label}: {name}({input}) id {id}");
    (id, input)
}

async fn chat_round_trip(server: &LlamaServer, id: String, input: Value) {
    let messages = vec![
        user_text("What is the weather in Paris?"),
        Message {
            role: Role::Assistant,
            content: vec![Block::ToolUse {
                id: id.clone(),
                name: "get_weather".into(),
                input,
            }],
        },
        Message {
            role: Role::User,
            content: vec![Block::ToolResult {
                tool_use_id: id,
                content: vec![Block::Text {
                    text: "{\"condition\": \"cloudy\", \"temperature_celsius\": 21}".into(),
                }],
                is_error: false,
            }],
        },
    ];
    let label = "Chat tool-result round trip";
    let events = timed(
        label,
        &*server.client(Flavor::Chat),
        request(messages, true, 96),
    )
    .await;
    assert!(
        !text_of(&events, 0).trim().is_empty(),
        "{label}: {events:?}"
    );
    assert!(
        tool_uses(&events).is_empty(),
        "{label}: called a tool again: {events:?}"
    );
    let (stop_reason, _) = finished(&events);
    assert!(
        matches!(stop_reason, StopReason::EndTurn | StopReason::MaxTokens),
        "{label}"
    );
}

#[tokio::test]
async fn live_llama_server_speaks_all_three_wire_formats() {
    let Some((binary, model)) = configured() else {
        println!(
            "live_llama: skipped (set HANGAR_LLAMA_SERVER and HANGAR_LLAMA_MODEL; \
             scripts/llm-setup.sh prepares both)"
        );
        return;
    };
    let started = Instant::now();
    let server = LlamaServer::start(&binary, &model)
        .await
        .expect("llama-server starts");
    for flavor in [Flavor::Chat, Flavor::Anthropic, Flavor::Responses] {
        plain_text(&server, flavor).await;
    }
    let mut chat_call = None;
    for flavor in [Flavor::Chat, Flavor::Anthropic, Flavor::Responses] {
        let call = weather_call(&server, flavor).await;
        if flavor == Flavor::Chat {
            chat_call = Some(call);
        }
    }
    let (id, input) = chat_call.expect("chat made a call");
    chat_round_trip(&server, id, input).await;
    server.stop().await;
    println!("live_llama: all cases passed in {:?}", started.elapsed());
}
