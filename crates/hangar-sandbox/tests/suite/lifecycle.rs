//! Life cycle: lazy start, persistence across stop / idle / server restart, the session
//! lock, deletion, snapshot and restore, cancellation, the egress hook, a missing base.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use hangar_core::tool_runtime::{ToolRuntime, ToolRuntimeError};
use hangar_sandbox::{EgressHandler, EgressProvider, LocalSandboxRuntime};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use super::{Harness, call, ctx, test_config, text, unique_session};

#[tokio::test]
async fn files_persist_across_stop_idle_and_server_restart() {
    let mut h = Harness::with(|c| c.idle_timeout = Duration::from_millis(200));
    let s = unique_session("life-persist");
    assert_eq!(
        h.runtime.running().await,
        0,
        "nothing starts before the first call"
    );
    h.ok(
        &s,
        "write",
        json!({"file_path": "notes.txt", "content": "first"}),
    )
    .await;
    h.ok(
        &s,
        "bash",
        json!({"command": "rm /etc/issue && mkdir -p /opt/made && echo x > /opt/made/y"}),
    )
    .await;
    h.runtime.stop(&s).await;
    assert_eq!(
        h.ok(&s, "read", json!({"file_path": "notes.txt"})).await,
        "     1\tfirst\n"
    );

    // Idle: the sweeper stops the sandbox; the next call brings it back with the files.
    let deadline = Instant::now() + Duration::from_secs(10);
    while h.runtime.running().await > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(h.runtime.running().await, 0, "the idle sandbox was stopped");
    assert_eq!(
        h.sh(
            &s,
            "cat /workspace/notes.txt /opt/made/y; test -e /etc/issue || echo gone"
        )
        .await,
        "firstx\ngone\n"
    );

    // A server restart: a fresh runtime on the same data dir.
    h.restart();
    assert_eq!(
        h.sh(
            &s,
            "cat /workspace/notes.txt /opt/made/y; test -e /etc/issue || echo gone"
        )
        .await,
        "firstx\ngone\n"
    );
    h.finish().await;
}

#[tokio::test]
async fn a_session_is_never_mounted_twice() {
    let h = Harness::new();
    let s = unique_session("life-lock");
    h.ok(&s, "bash", json!({"command": "true"})).await;
    let second = LocalSandboxRuntime::new(h.runtime.config().clone()).unwrap();
    let error = second
        .run(
            &ctx(&s),
            &call("bash", json!({"command": "true"})),
            CancellationToken::new(),
        )
        .await
        .unwrap_err();
    let ToolRuntimeError::Sandbox(message) = error else {
        panic!("{error:?}")
    };
    assert!(message.contains("already mounted"), "{message}");
    h.runtime.stop(&s).await;
    let output = second
        .run(
            &ctx(&s),
            &call("bash", json!({"command": "echo mine"})),
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert_eq!(text(&output), "mine\n");
    second.shutdown().await;
    h.finish().await;
}

#[tokio::test]
async fn deleting_a_session_stops_it_and_removes_its_files() {
    let h = Harness::new();
    let s = unique_session("life-delete");
    h.ok(&s, "write", json!({"file_path": "f", "content": "x"}))
        .await;
    let dir = h.data.path().join("sessions").join(&s);
    assert!(dir.exists());
    h.runtime.session_deleted(&s).await;
    assert!(!dir.exists());
    assert_eq!(h.runtime.running().await, 0);
    let out = h.call(&s, "read", json!({"file_path": "f"})).await.unwrap();
    assert!(out.is_error, "a recreated session starts empty");
    h.finish().await;
}

#[tokio::test]
async fn session_idle_stops_the_sandbox_only_when_configured() {
    let h = Harness::new();
    let s = unique_session("life-idle");
    h.ok(&s, "bash", json!({"command": "true"})).await;
    h.runtime.session_idle(&s).await;
    assert_eq!(
        h.runtime.running().await,
        1,
        "default: stays warm until idle_timeout"
    );
    h.finish().await;
    let h = Harness::with(|c| c.stop_on_session_idle = true);
    h.ok(&s, "bash", json!({"command": "true"})).await;
    h.runtime.session_idle(&s).await;
    assert_eq!(h.runtime.running().await, 0);
    h.finish().await;
}

#[tokio::test]
async fn snapshot_and_restore_round_trip_keeps_whiteouts_and_owners() {
    let h = Harness::new();
    let s = unique_session("life-snap");
    h.ok(&s, "bash", json!({"command": "echo v1 > /workspace/a; rm /etc/issue; useradd -u 1234 dev; install -o dev -d /home/dev; echo hi > /home/dev/f; chown dev /home/dev/f"})).await;
    let archive = h.data.path().join("snap.tar.zst");
    h.runtime.snapshot(&s, &archive).await.unwrap();
    assert!(std::fs::metadata(&archive).unwrap().len() > 0);
    h.ok(&s, "bash", json!({"command": "echo v2 > /workspace/a; echo new > /workspace/b; echo back > /etc/issue"})).await;
    h.runtime.restore(&s, &archive).await.unwrap();
    let out = h.sh(&s, "cat /workspace/a; test -e /workspace/b || echo no-b; test -e /etc/issue || echo no-issue; stat -c %U /home/dev/f").await;
    assert_eq!(out, "v1\nno-b\nno-issue\ndev\n");
    // Restoring into another (new) session clones the file system.
    let clone = unique_session("life-snap-clone");
    h.runtime.restore(&clone, &archive).await.unwrap();
    assert_eq!(h.sh(&clone, "cat /workspace/a").await, "v1\n");
    h.finish().await;
}

#[tokio::test]
async fn cancelling_a_long_sleep_returns_promptly_and_the_shell_works_after() {
    let h = Harness::new();
    let s = unique_session("life-cancel");
    h.ok(&s, "bash", json!({"command": "cd /tmp"})).await;
    let cancel = CancellationToken::new();
    let trigger = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        trigger.cancel();
    });
    let started = Instant::now();
    let output = h
        .runtime
        .run(
            &ctx(&s),
            &call("bash", json!({"command": "sleep 60"})),
            cancel,
        )
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    assert!(output.is_error);
    assert!(text(&output).contains("cancelled"), "{}", text(&output));
    let out = h
        .sh(&s, r#"pwd; for f in $(grep -sl -E '^Name:\ssleep$' /proc/[0-9]*/status); do grep -qs '^State:\s*Z' $f || echo live; done | wc -l"#)
        .await;
    assert!(
        out.starts_with("/tmp\n0\n"),
        "the sleep was killed and the working directory kept: {out}"
    );
    h.finish().await;
}

#[tokio::test]
async fn a_missing_base_fails_fast_with_instructions() {
    let data = tempfile::tempdir().unwrap();
    let empty_templates = tempfile::tempdir().unwrap();
    let mut config = test_config(data.path());
    config.templates_dir = empty_templates.path().to_path_buf();
    let runtime = LocalSandboxRuntime::new(config).unwrap();
    let started = Instant::now();
    let error = runtime
        .run(
            &ctx(&unique_session("life-nobase")),
            &call("bash", json!({"command": "true"})),
            CancellationToken::new(),
        )
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    let ToolRuntimeError::EnvironmentBuild(message) = error else {
        panic!("{error:?}")
    };
    assert!(message.contains("ci-sandbox-prep.sh"), "{message}");
}

/// Reads the request head, then answers with a fixed HTTP response.
struct Hello;

#[async_trait]
impl EgressHandler for Hello {
    async fn handle(&self, mut stream: tokio::net::TcpStream) {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).await.unwrap_or(0) == 1 {
            head.push(byte[0]);
        }
        let _ = stream
            .write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 12\r\n\r\nhello-egress")
            .await;
        let _ = stream.shutdown().await;
    }
}

struct OnlyFor(String);

impl EgressProvider for OnlyFor {
    fn handler_for(
        &self,
        ctx: &hangar_core::tool_runtime::ToolContext,
    ) -> Option<Arc<dyn EgressHandler>> {
        (ctx.session_id == self.0).then(|| Arc::new(Hello) as Arc<dyn EgressHandler>)
    }
}

#[tokio::test]
async fn the_egress_hook_serves_the_proxy_port_inside_the_sandbox_only() {
    let data = tempfile::tempdir().unwrap();
    let with = unique_session("life-egress");
    let without = unique_session("life-noegress");
    let provider = Arc::new(OnlyFor(with.clone()));
    let runtime =
        LocalSandboxRuntime::with_hooks(test_config(data.path()), Some(provider), None).unwrap();
    let probe = "echo $HTTPS_PROXY $NO_PROXY; exec 3<>/dev/tcp/127.0.0.1/3128 && printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3 && tail -n 1 <&3";
    let run = |session: String| {
        let runtime = runtime.clone();
        async move {
            let output = runtime
                .run(
                    &ctx(&session),
                    &call("bash", json!({"command": probe})),
                    CancellationToken::new(),
                )
                .await
                .unwrap();
            text(&output)
        }
    };
    let out = run(with.clone()).await;
    assert_eq!(
        out,
        "http://127.0.0.1:3128 localhost,127.0.0.1\nhello-egress"
    );
    let out = run(without.clone()).await;
    assert!(out.contains("Connection refused"), "{out}");
    // The listener is in the sandbox's namespace, not the host's.
    assert!(std::net::TcpStream::connect("127.0.0.1:3128").is_err());
    runtime.shutdown().await;
}

/// Serves one fixed layer for every session.
struct OneLayer(std::path::PathBuf);

#[async_trait]
impl hangar_sandbox::LayerResolver for OneLayer {
    async fn layers(
        &self,
        _ctx: &hangar_core::tool_runtime::ToolContext,
    ) -> Result<Vec<std::path::PathBuf>, hangar_sandbox::SandboxError> {
        Ok(vec![self.0.clone()])
    }
}

#[tokio::test]
async fn environment_layers_sit_between_the_base_and_the_session() {
    let data = tempfile::tempdir().unwrap();
    let layer = tempfile::tempdir().unwrap();
    let config = test_config(data.path());
    let root = config.id_base;
    std::fs::create_dir_all(layer.path().join("opt/tool")).unwrap();
    std::fs::write(layer.path().join("opt/tool/VERSION"), "1.2.3\n").unwrap();
    std::fs::create_dir_all(layer.path().join("etc")).unwrap();
    std::fs::write(layer.path().join("etc/issue"), "from the layer\n").unwrap();
    for path in ["opt", "opt/tool", "opt/tool/VERSION", "etc", "etc/issue"] {
        std::os::unix::fs::lchown(layer.path().join(path), Some(root), Some(root)).unwrap();
    }
    let resolver = Arc::new(OneLayer(layer.path().to_path_buf()));
    let runtime = LocalSandboxRuntime::with_hooks(config, None, Some(resolver)).unwrap();
    let s = unique_session("life-layer");
    let run = |command: &'static str| {
        let (runtime, s) = (runtime.clone(), s.clone());
        async move {
            let output = runtime
                .run(
                    &ctx(&s),
                    &call("bash", json!({"command": command})),
                    CancellationToken::new(),
                )
                .await
                .unwrap();
            text(&output)
        }
    };
    assert_eq!(
        run("cat /opt/tool/VERSION /etc/issue; stat -c %u /opt/tool/VERSION").await,
        "1.2.3\nfrom the layer\n0\n"
    );
    assert_eq!(
        run("rm /opt/tool/VERSION; echo mine > /etc/issue; cat /etc/issue").await,
        "mine\n"
    );
    assert!(
        layer.path().join("opt/tool/VERSION").exists(),
        "the layer is never written"
    );
    assert_eq!(
        std::fs::read_to_string(layer.path().join("etc/issue")).unwrap(),
        "from the layer\n"
    );
    runtime.shutdown().await;
}
