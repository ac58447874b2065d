//! Sessions whose agent uses the built-in tools, served by a real `hangar serve` with the
//! local sandbox: files persist across turns and a server restart, and the environment's
//! networking holds. Needs root and the shared base template (`scripts/ci-sandbox-prep.sh`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, bail, ensure};
use hangar_testkit::mock_model::{ContentItem, MockModel, Script, Step};
use serde_json::{Value, json};

use super::ServeProcess;

fn template_dir() -> Result<PathBuf> {
    let dir = PathBuf::from(
        std::env::var("HANGAR_TEMPLATE_DIR")
            .unwrap_or_else(|_| "/var/cache/hangar-ci/templates".into()),
    );
    ensure!(
        dir.join("base").is_dir(),
        "no sandbox base template in {} (run scripts/ci-sandbox-prep.sh)",
        dir.display()
    );
    Ok(dir)
}

fn bash(command: &str) -> Step {
    Step::content(vec![ContentItem::tool_use(
        "toolu_x",
        "bash",
        json!({"command": command}),
    )])
}

fn read(path: &str) -> Step {
    Step::content(vec![ContentItem::tool_use(
        "toolu_r",
        "read",
        json!({"file_path": path}),
    )])
}

async fn start(model: &MockModel, dir: &std::path::Path) -> Result<ServeProcess> {
    ServeProcess::start(
        dir,
        vec![
            ("ANTHROPIC_BASE_URL".into(), model.anthropic_base_url()),
            ("ANTHROPIC_API_KEY".into(), "sk-test".into()),
            (
                "HANGAR_TEMPLATE_DIR".into(),
                template_dir()?.display().to_string(),
            ),
        ],
    )
    .await
}

/// Sends a message and waits for the turn's `end_turn`; returns the tool results of that turn.
async fn turn(server: &ServeProcess, session: &str, text: &str) -> Result<Vec<Value>> {
    let before = server.events(session).await?.len();
    server.post(&format!("/v1/sessions/{session}/events"),
        json!({"events": [{"type": "user.message", "content": [{"type": "text", "text": text}]}]})).await?;
    for _ in 0..2400 {
        let events = server.events(session).await?;
        let new = &events[before..];
        if let Some(idle) = new.iter().find(|e| e["type"] == "session.status_idle") {
            ensure!(
                idle["stop_reason"]["type"] == "end_turn",
                "turn ended with {idle}; log:\n{}",
                server.log()
            );
            return Ok(new
                .iter()
                .filter(|e| e["type"] == "agent.tool_result")
                .cloned()
                .collect());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    bail!("turn did not end; log:\n{}", server.log())
}

fn text_of(result: &Value) -> String {
    result["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// A session of an agent with the built-in tools, on a new `cloud` environment with this
/// networking.
async fn new_session(server: &ServeProcess, networking: Value) -> Result<String> {
    session_in(server, json!({"type": "cloud", "networking": networking})).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_written_in_one_turn_are_there_in_the_next_and_after_a_restart() -> Result<()> {
    let model = MockModel::start(Script::new(vec![
        bash("echo hello from the sandbox > note.txt && cat /workspace/note.txt && id -u && pwd"),
        Step::text("written"),
        read("/workspace/note.txt"),
        Step::text("read"),
        read("note.txt"),
        Step::text("still there"),
    ]))
    .await?;
    // The data dir sits below a directory only root may enter (like `/root`): the sandbox's
    // root user, an unprivileged host uid, must not need to walk that path.
    let private = tempfile::tempdir()?;
    std::fs::set_permissions(
        private.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )?;
    let dir = private.path().join("data");
    std::fs::create_dir(&dir)?;
    let server = start(&model, &dir).await?;
    let session = new_session(&server, json!({"type": "unrestricted"})).await?;
    let results = turn(&server, &session, "write a note").await?;
    assert_eq!(results[0]["is_error"], false, "{results:?}");
    assert_eq!(
        text_of(&results[0]).trim(),
        "hello from the sandbox\n0\n/workspace"
    );
    let results = turn(&server, &session, "read it").await?;
    assert!(
        text_of(&results[0]).contains("hello from the sandbox"),
        "{results:?}"
    );

    let server = server.restart().await?;
    let results = turn(&server, &session, "read it again").await?;
    assert!(
        text_of(&results[0]).contains("hello from the sandbox"),
        "{results:?}"
    );
    // The sandbox's files are the session's own, under the data dir on the host, and go
    // with the session.
    assert!(dir.join("sessions").join(&session).is_dir());
    let (status, _) = server
        .call(
            reqwest::Method::DELETE,
            &format!("/v1/sessions/{session}"),
            None,
        )
        .await?;
    assert_eq!(status, 200);
    assert!(
        !dir.join("sessions").join(&session).exists(),
        "deleting the session deletes its files"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limited_networking_refuses_hosts_that_are_not_listed() -> Result<()> {
    // Minbase has no curl: bash speaks HTTP to the proxy itself, then tries a direct route.
    let via_proxy = "exec 3<>/dev/tcp/127.0.0.1/3128 && \
        printf 'GET http://example.com/ HTTP/1.1\\r\\nHost: example.com\\r\\n\\r\\n' >&3 && \
        head -1 <&3; echo \"proxy=$HTTP_PROXY\"";
    let direct = "timeout 5 bash -c 'exec 3<>/dev/tcp/93.184.215.14/80' 2>&1; echo exit=$?";
    let model = MockModel::start(Script::new(vec![
        bash(via_proxy),
        Step::text("denied"),
        bash(direct),
        Step::text("no route"),
    ]))
    .await?;
    let dir = tempfile::tempdir()?;
    let server = start(&model, dir.path()).await?;
    let session = new_session(
        &server,
        json!({"type": "limited", "allowed_hosts": ["pypi.org"]}),
    )
    .await?;
    let results = turn(&server, &session, "fetch example.com").await?;
    let out = text_of(&results[0]);
    assert!(
        out.contains("403"),
        "the proxy refuses a host that is not allowed: {out}"
    );
    assert!(out.contains("proxy=http://127.0.0.1:3128"), "{out}");
    let results = turn(&server, &session, "connect directly").await?;
    let out = text_of(&results[0]);
    assert!(
        out.contains("unreachable") && !out.contains("exit=0"),
        "no route out but the proxy: {out}"
    );
    Ok(())
}

/// `hangar sandbox VERB --session ID --data-dir DIR EXTRA…`, as an operator runs it.
fn operator(
    dir: &std::path::Path,
    verb: &str,
    session: &str,
    extra: &[&str],
) -> Result<std::process::Output> {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hangar"))
        .args(["sandbox", verb, "--session", session, "--data-dir"])
        .arg(dir)
        .args(extra)
        .env("HANGAR_TEMPLATE_DIR", template_dir()?)
        .output()?;
    Ok(output)
}

fn succeeded(what: &str, output: &std::process::Output) -> Result<String> {
    ensure!(
        output.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_can_look_inside_snapshot_and_restore_a_session() -> Result<()> {
    let model = MockModel::start(Script::new(vec![
        bash("echo kept > /workspace/keep.txt"),
        Step::text("ok"),
    ]))
    .await?;
    let dir = tempfile::tempdir()?;
    let mut server = start(&model, dir.path()).await?;
    let session = new_session(&server, json!({"type": "unrestricted"})).await?;
    turn(&server, &session, "keep a file").await?;
    server.kill()?;

    let archive = dir.path().join("snap.tar.zst").display().to_string();
    let (d, s) = (dir.path(), session.as_str());
    succeeded(
        "snapshot",
        &operator(d, "snapshot", s, &["--archive", &archive])?,
    )?;
    succeeded(
        "exec rm",
        &operator(d, "exec", s, &["--", "rm", "/workspace/keep.txt"])?,
    )?;
    let missing = operator(d, "exec", s, &["--", "cat", "/workspace/keep.txt"])?;
    assert!(!missing.status.success(), "the file was removed");
    succeeded(
        "restore",
        &operator(d, "restore", s, &["--archive", &archive])?,
    )?;
    let back = succeeded(
        "exec cat",
        &operator(d, "exec", s, &["--", "cat", "/workspace/keep.txt"])?,
    )?;
    assert_eq!(back.trim(), "kept");
    Ok(())
}

async fn session_in(server: &ServeProcess, env_config: Value) -> Result<String> {
    let agent = server
        .post(
            "/v1/agents",
            json!({"name": "pkg", "model": "claude-sonnet-4-6",
            "tools": [{"type": "agent_toolset_20260401"}]}),
        )
        .await?;
    let env = server
        .post(
            "/v1/environments",
            json!({"name": hangar_protocol::ids::IdKind::Request.mint(),
            "config": env_config}),
        )
        .await?;
    let session = server
        .post(
            "/v1/sessions",
            json!({"agent": agent["id"], "environment_id": env["id"]}),
        )
        .await?;
    Ok(session["id"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_packages_are_installed_once_and_a_failed_build_is_reported() -> Result<()> {
    let model = MockModel::start(Script::new(vec![
        bash("jq --version"),
        Step::text("installed"),
        bash("jq --version"),
        Step::text("reused"),
        bash("true"),
        Step::text("never reached"),
    ]))
    .await?;
    let dir = tempfile::tempdir()?;
    let server = start(&model, dir.path()).await?;
    let packages = json!({"type": "cloud", "networking": {"type": "limited", "allowed_hosts": [],
        "allow_package_managers": true}, "packages": {"apt": ["jq"]}});
    let first = session_in(&server, packages.clone()).await?;
    let results = turn(&server, &first, "which jq?").await?;
    assert!(text_of(&results[0]).starts_with("jq-"), "{results:?}");
    // Another environment with the same packages: the layer is reused, not rebuilt.
    let second = session_in(&server, packages).await?;
    let started = std::time::Instant::now();
    let results = turn(&server, &second, "which jq again?").await?;
    assert!(text_of(&results[0]).starts_with("jq-"), "{results:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "rebuilt: {:?}",
        started.elapsed()
    );
    // Layers live beside the base template (the server was started with HANGAR_TEMPLATE_DIR).
    let layers = std::fs::read_dir(template_dir()?.join("env"))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("layer").is_dir())
        .count();
    assert!(layers >= 1);

    let broken = session_in(
        &server,
        json!({"type": "cloud",
        "packages": {"apt": ["nosuchpkg-hangar-test"]}}),
    )
    .await?;
    server.post(&format!("/v1/sessions/{broken}/events"),
        json!({"events": [{"type": "user.message", "content": [{"type": "text", "text": "go"}]}]})).await?;
    for _ in 0..2400 {
        let events = server.events(&broken).await?;
        if let Some(idle) = events.iter().find(|e| e["type"] == "session.status_idle") {
            assert_eq!(
                idle["stop_reason"]["type"], "retries_exhausted",
                "{events:#?}"
            );
            let error = events
                .iter()
                .find(|e| e["type"] == "session.error")
                .cloned()
                .unwrap_or_default();
            let message = error["error"]["message"].as_str().unwrap_or_default();
            assert!(
                message.contains("nosuchpkg-hangar-test"),
                "the error names the package: {message}"
            );
            let result = events
                .iter()
                .find(|e| e["type"] == "agent.tool_result")
                .cloned()
                .unwrap_or_default();
            assert_eq!(result["is_error"], true);
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!(
        "the broken build never ended the turn; log:\n{}",
        server.log()
    )
}
