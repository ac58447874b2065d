//! Environment builds for real: packages → one cached layer built in a build sandbox whose
//! egress reaches only the package registries (this machine's mirror), reused by every later
//! session with the same packages, read-only to them, built once under concurrency, and
//! nothing kept when an installer fails.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use hangar_core::tool_runtime::{ToolContext, ToolRuntime, ToolRuntimeError};
use hangar_egress::{EgressProxy, Resolver};
use hangar_protocol::environment::Packages;
use hangar_sandbox::{
    BuildOptions, EnvironmentBuilder, LayerResolver, LocalSandboxRuntime, RegistryEgress,
    SandboxConfig,
};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::{call, test_config, text, unique_session};

struct Fixture {
    data: tempfile::TempDir,
    layers: tempfile::TempDir,
    proxy: Arc<EgressProxy>,
    config: SandboxConfig,
}

impl Fixture {
    /// Sessions keep their upper as a plain directory here, so a test can look into it.
    fn new() -> Fixture {
        let data = tempfile::Builder::new()
            .prefix("hangar-env-test-")
            .tempdir()
            .unwrap();
        let layers = tempfile::Builder::new()
            .prefix("hangar-env-layers-")
            .tempdir()
            .unwrap();
        let mut config = test_config(data.path());
        config.limits.disk_bytes = None;
        Fixture {
            data,
            layers,
            proxy: Arc::new(EgressProxy::new(Resolver::system())),
            config,
        }
    }

    /// A builder on the fixture's layer directory (a new one is what a server restart gets).
    fn builder(&self) -> EnvironmentBuilder {
        let options = BuildOptions {
            layers_dir: Some(self.layers.path().to_path_buf()),
            ..BuildOptions::default()
        };
        let egress = Arc::new(RegistryEgress::new(self.proxy.clone()));
        EnvironmentBuilder::with_options(&self.config, egress, options).unwrap()
    }

    fn runtime(&self, builder: &EnvironmentBuilder) -> LocalSandboxRuntime {
        let layers: Arc<dyn LayerResolver> = Arc::new(builder.clone());
        LocalSandboxRuntime::with_hooks(self.config.clone(), None, Some(layers)).unwrap()
    }

    /// Everything in the layer directory except locks and the (empty) build data dir.
    fn layer_dir_entries(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.layers.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.ends_with(".lock") && n != ".build")
            .collect();
        let build_sessions = self.layers.path().join(".build/sessions");
        if let Ok(entries) = std::fs::read_dir(build_sessions) {
            names.extend(entries.map(|e| format!(".build/sessions/{:?}", e.unwrap().file_name())));
        }
        names.sort();
        names
    }
}

fn packages(value: Value) -> Packages {
    let mut full = json!({"type": "packages", "apt": [], "cargo": [], "gem": [], "go": [], "npm": [], "pip": []});
    for (manager, list) in value.as_object().unwrap() {
        full[manager] = list.clone();
    }
    serde_json::from_value(full).unwrap()
}

/// A session on an environment with these packages (and some name and networking, which
/// must not matter to the layer).
fn env_ctx(session: &str, env_id: &str, networking: Value, packages: Value) -> ToolContext {
    let mut config = json!({"type": "cloud", "networking": networking});
    config["packages"] = serde_json::to_value(self::packages(packages)).unwrap();
    let environment = serde_json::from_value(json!({
        "type": "environment", "id": env_id, "name": format!("name of {env_id}"),
        "description": null, "scope": null, "config": config, "metadata": {},
        "created_at": "2026-01-01T00:00:00.000000Z",
        "updated_at": "2026-01-01T00:00:00.000000Z", "archived_at": null
    }))
    .unwrap();
    ToolContext {
        session_id: session.to_owned(),
        environment,
    }
}

async fn bash(
    runtime: &LocalSandboxRuntime,
    ctx: &ToolContext,
    command: &str,
) -> Result<String, ToolRuntimeError> {
    let output = runtime
        .run(
            ctx,
            &call("bash", json!({"command": command})),
            CancellationToken::new(),
        )
        .await?;
    assert!(!output.is_error, "{command}: {}", text(&output));
    Ok(text(&output))
}

/// Paths, sizes and modification times of every file under `root`.
fn tree_fingerprint(root: &Path) -> Vec<(PathBuf, u64, i64)> {
    use std::os::unix::fs::MetadataExt;
    let mut entries = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        }
        entries.push((path, meta.len(), meta.mtime()));
    }
    entries.sort();
    entries
}

const JQ_AND_SIX: &str =
    "jq --version && python3 -c 'import six; print(six.__name__, six.__file__)'";

#[tokio::test]
async fn packages_build_once_and_later_sessions_reuse_the_read_only_layer() {
    let fixture = Fixture::new();
    let builder = fixture.builder();
    let runtime = fixture.runtime(&builder);
    let first = env_ctx(
        &unique_session("env-first"),
        "env_first",
        json!({"type": "unrestricted"}),
        json!({"apt": ["jq"], "pip": ["six"]}),
    );

    let cold = Instant::now();
    let out = bash(&runtime, &first, JQ_AND_SIX).await.unwrap();
    let cold = cold.elapsed();
    assert!(out.starts_with("jq-1."), "{out}");
    assert!(out.contains("six /usr/local/lib/python3"), "{out}");
    assert_eq!(builder.builds_started(), 1);
    let layer = builder
        .layer_path(&first_packages(&first))
        .unwrap()
        .unwrap();
    assert!(layer.join("usr/bin/jq").is_file(), "{}", layer.display());
    let before = tree_fingerprint(&layer);

    // The session changes files that came from the layer: its upper gets them.
    let six_py = out.trim().rsplit(' ').next().unwrap().to_owned();
    bash(
        &runtime,
        &first,
        &format!("echo tampered >> {six_py} && rm /usr/bin/jq && touch /usr/local/bin/mine"),
    )
    .await
    .unwrap();
    runtime.stop(&first.session_id).await;
    let upper = fixture
        .data
        .path()
        .join("sessions")
        .join(&first.session_id)
        .join("upper");
    let copied = std::fs::read_to_string(upper.join(six_py.trim_start_matches('/'))).unwrap();
    assert!(
        copied.ends_with("tampered\n"),
        "the change is in the session's upper"
    );
    assert_eq!(tree_fingerprint(&layer), before, "the layer is untouched");

    // Another environment (other name, id, networking, order, duplicates): same layer.
    let second = env_ctx(
        &unique_session("env-second"),
        "env_second",
        json!({"type": "limited", "allowed_hosts": [], "allow_mcp_servers": false,
               "allow_package_managers": true}),
        json!({"pip": ["six"], "apt": ["jq", "jq"]}),
    );
    let warm = Instant::now();
    let out = bash(&runtime, &second, JQ_AND_SIX).await.unwrap();
    let warm = warm.elapsed();
    assert!(
        out.starts_with("jq-1.") && !out.contains("tampered"),
        "{out}"
    );
    assert_eq!(
        builder.builds_started(),
        1,
        "the second session built nothing"
    );
    assert_eq!(
        bash(
            &runtime,
            &second,
            &format!("tail -c 9 {six_py}; test -e /usr/bin/jq && echo jq")
        )
        .await
        .unwrap()
        .lines()
        .last(),
        Some("jq")
    );
    runtime.shutdown().await;

    // A server restart: a fresh builder and runtime find the layer on disk.
    let restarted = fixture.builder();
    let runtime = fixture.runtime(&restarted);
    let third = env_ctx(
        &unique_session("env-third"),
        "env_third",
        json!({"type": "unrestricted"}),
        json!({"apt": ["jq"], "pip": ["six"]}),
    );
    assert!(
        bash(&runtime, &third, JQ_AND_SIX)
            .await
            .unwrap()
            .starts_with("jq-1.")
    );
    assert_eq!(
        restarted.builds_started(),
        0,
        "nothing rebuilt after a restart"
    );
    eprintln!("cold session start with build: {cold:?}; session on the cached layer: {warm:?}");
    runtime.shutdown().await;
}

fn first_packages(ctx: &ToolContext) -> Packages {
    match &ctx.environment.config {
        hangar_protocol::environment::EnvironmentConfig::Cloud(cloud) => cloud.packages.clone(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_missing_apt_package_fails_the_call_naming_it_and_keeps_nothing() {
    let fixture = Fixture::new();
    let builder = fixture.builder();
    let runtime = fixture.runtime(&builder);
    let ctx = env_ctx(
        &unique_session("env-bad"),
        "env_bad",
        json!({"type": "unrestricted"}),
        json!({"apt": ["jq", "nosuchpkg-hangar"]}),
    );
    let error = bash(&runtime, &ctx, "true").await.unwrap_err();
    let ToolRuntimeError::EnvironmentBuild(message) = error else {
        panic!("{error:?}")
    };
    assert!(
        message.contains("apt-get install jq nosuchpkg-hangar"),
        "{message}"
    );
    assert!(
        message.contains("E: Unable to locate package nosuchpkg-hangar"),
        "the installer's output is in the error: {message}"
    );
    assert_eq!(fixture.layer_dir_entries(), Vec::<String>::new());
    runtime.shutdown().await;
}

#[tokio::test]
async fn concurrent_requests_for_one_spec_build_it_once() {
    let fixture = Fixture::new();
    // Two builders on one directory stand for two server processes.
    let (one, two) = (fixture.builder(), fixture.builder());
    let spec = packages(json!({"apt": ["jq"]}));
    let (a, b, c) = tokio::join!(
        one.ensure_layer(&spec),
        two.ensure_layer(&spec),
        one.ensure_layer(&spec)
    );
    let (a, b, c) = (
        a.unwrap().unwrap(),
        b.unwrap().unwrap(),
        c.unwrap().unwrap(),
    );
    assert!(a == b && b == c, "{a:?} {b:?} {c:?}");
    assert!(a.join("usr/bin/jq").is_file());
    assert_eq!(one.builds_started() + two.builds_started(), 1);
    let key = a
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert_eq!(fixture.layer_dir_entries(), [key]);
}

#[tokio::test]
async fn a_build_reaches_the_registries_and_nothing_else() {
    let fixture = Fixture::new();
    let builder = fixture.builder();
    // pip takes a URL as a package; the build's egress must refuse a host that is no registry.
    let url = "http://example.com/hangar-probe-1.0.tar.gz";
    let error = builder
        .ensure_layer(&packages(json!({"pip": [url]})))
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains(&format!("pip install {url}")), "{error}");
    assert!(
        error.contains("403"),
        "the proxy's refusal reaches pip: {error}"
    );
    let stats = fixture.proxy.stats();
    assert!(
        stats.allowed > 0,
        "the apt mirror and PyPI were reachable: {stats:?}"
    );
    assert!(stats.denied > 0, "example.com was refused: {stats:?}");
    assert_eq!(fixture.layer_dir_entries(), Vec::<String>::new());
    builder.shutdown().await;
}

#[tokio::test]
async fn a_caller_that_goes_away_does_not_abort_the_build() {
    let fixture = Fixture::new();
    let builder = fixture.builder();
    let spec = packages(json!({"apt": ["jq"]}));
    let gave_up = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        builder.ensure_layer(&spec),
    )
    .await;
    assert!(gave_up.is_err(), "the build takes longer than that");
    // The next request waits for the running build and gets its layer.
    let layer = builder.ensure_layer(&spec).await.unwrap().unwrap();
    assert!(layer.join("usr/bin/jq").is_file());
    assert_eq!(builder.builds_started(), 1);
    builder.shutdown().await;
}

#[tokio::test]
async fn after_shutdown_no_build_starts() {
    let fixture = Fixture::new();
    let builder = fixture.builder();
    builder.shutdown().await;
    let error = builder
        .ensure_layer(&packages(json!({"apt": ["jq"]})))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("shutting down"), "{error}");
    assert_eq!(builder.builds_started(), 0);
}

#[tokio::test]
async fn an_environment_without_packages_gets_no_layer() {
    let fixture = Fixture::new();
    let builder = fixture.builder();
    let ctx = env_ctx(
        "env-empty",
        "env_empty",
        json!({"type": "unrestricted"}),
        json!({}),
    );
    assert_eq!(builder.layers(&ctx).await.unwrap(), Vec::<PathBuf>::new());
    assert_eq!(builder.builds_started(), 0);
    assert!(fixture.layer_dir_entries().is_empty());
}
