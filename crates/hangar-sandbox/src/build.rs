//! [`EnvironmentBuilder`]: turns an environment's `packages` into one cached, frozen layer
//! and serves it to sessions as their [`LayerResolver`]. Owns the layer cache (lookup, file
//! lock, publish, failure cleanup) and the build's life cycle; what a build installs is
//! `packages`', how a step runs is `build_sandbox`'s. It must not touch sessions' files.
//!
//! # Wiring (server)
//! ```text
//! let proxy: Arc<hangar_egress::EgressProxy> = …;            // the server's shared proxy
//! let builder = EnvironmentBuilder::new(&config, Arc::new(RegistryEgress::new(proxy)))?;
//! let runtime = LocalSandboxRuntime::with_hooks(config, egress, Some(Arc::new(builder)));
//! ```
//! `config` is the same [`SandboxConfig`] as the session runtime's (templates dir, base,
//! id range, init program). The egress handler receives every connection a build sandbox
//! makes to its proxy address; [`RegistryEgress`](crate::build_egress::RegistryEgress) allows
//! only the package registries. Builds use [`BuildOptions`] (limits of their own, no disk
//! cap) and run in a sandbox runtime of the builder's own, made on the first build. Keep a
//! clone (it is cheap) to call [`EnvironmentBuilder::shutdown`] on a graceful stop: running
//! builds are abandoned, nothing half-made is kept, their sandboxes are stopped.
//!
//! # Layout and key
//! Under `layers_dir` (default `<templates>/env`):
//! - `<key>/layer/`: the build sandbox's upper, mounted read-only below each session's upper
//!   (files owned by mapped ids, overlay whiteouts included); `<key>/layer.json`: metadata.
//!   `<key>/` appears by one rename when complete, so a present directory is a whole layer.
//! - `<key>.lock`: held while building; other builders of the key wait for it.
//! - `.build/sessions/build-<key>/`: the build sandbox's files while it runs;
//!   `.staging-<key>/`: the layer on its way to `<key>/`. Both are removed on failure.
//!
//! `<key>` hashes the normalised package lists, the base template's key and
//! [`BUILDER_VERSION`](crate::packages::BUILDER_VERSION), and nothing else: equal specs share
//! a layer whatever the environment's name, id or networking, also after a restart.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use hangar_core::tool_runtime::ToolContext;
use hangar_protocol::environment::{EnvironmentConfig, Packages};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::build_sandbox::{BuildEgress, BuildSandbox};
use crate::config::{SandboxConfig, SandboxLimits};
use crate::egress::EgressHandler;
use crate::error::SandboxError;
use crate::layers::LayerResolver;
use crate::packages::{PackageSpec, install_plan};
use crate::rootfs;
use crate::runtime::LocalSandboxRuntime;

/// A whole build (every step) must finish within this.
pub const BUILD_TIMEOUT: Duration = Duration::from_secs(60 * 60);
/// How long a request waits for another builder holding the key's lock.
pub const BUILD_WAIT_TIMEOUT: Duration = Duration::from_secs(65 * 60);
/// A build sandbox stops after this long without a call (a build calls it back to back).
pub const BUILD_SANDBOX_IDLE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// The trust store installers use during a build unless [`BuildOptions`] says otherwise.
pub const HOST_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
/// Written last into a layer's directory.
const LAYER_META_FILE: &str = "layer.json";

/// How builds run.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Where layers live; `None` means `<templates_dir>/env`.
    pub layers_dir: Option<PathBuf>,
    /// A CA bundle on the host that installers trust during builds (copied into the build
    /// sandbox's `/tmp`, never into the layer), so a mirror with a private CA works. `None`,
    /// or a missing file, leaves installers with the image's own trust store.
    pub ca_bundle: Option<PathBuf>,
    /// The build sandbox's limits. The disk cap is ignored: a build's upper must be a plain
    /// directory to become the layer.
    pub limits: SandboxLimits,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            layers_dir: None,
            ca_bundle: Some(PathBuf::from(HOST_CA_BUNDLE)),
            limits: SandboxLimits::default(),
        }
    }
}

struct Inner {
    /// The build sandboxes' configuration (data dir `<layers_dir>/.build`).
    build_config: SandboxConfig,
    base_key: String,
    layers_dir: PathBuf,
    ca_bundle: Option<PathBuf>,
    egress: Arc<dyn EgressHandler>,
    runtime: tokio::sync::OnceCell<LocalSandboxRuntime>,
    builds: AtomicU64,
    /// The build tasks, and the token that abandons them on shutdown.
    tasks: TaskTracker,
    shutdown: CancellationToken,
}

/// Builds and caches environment layers; see the module docs. Cheap to clone.
#[derive(Clone)]
pub struct EnvironmentBuilder {
    inner: Arc<Inner>,
}

impl EnvironmentBuilder {
    /// A builder for the sessions of `config`, with [`BuildOptions::default`].
    pub fn new(
        config: &SandboxConfig,
        egress: Arc<dyn EgressHandler>,
    ) -> Result<EnvironmentBuilder, SandboxError> {
        Self::with_options(config, egress, BuildOptions::default())
    }

    pub fn with_options(
        config: &SandboxConfig,
        egress: Arc<dyn EgressHandler>,
        options: BuildOptions,
    ) -> Result<EnvironmentBuilder, SandboxError> {
        let layers_dir = options
            .layers_dir
            .unwrap_or_else(|| config.templates_dir.join("env"));
        let mut build_config = config.clone();
        build_config.data_dir = layers_dir.join(".build");
        build_config.limits = SandboxLimits {
            disk_bytes: None,
            ..options.limits
        };
        build_config.idle_timeout = BUILD_SANDBOX_IDLE_TIMEOUT;
        build_config.stop_on_session_idle = false;
        build_config.prestart_init = false;
        build_config.validate()?;
        Ok(EnvironmentBuilder {
            inner: Arc::new(Inner {
                base_key: rootfs::base_key(&config.base, config.id_base),
                build_config,
                layers_dir,
                ca_bundle: options.ca_bundle,
                egress,
                runtime: tokio::sync::OnceCell::new(),
                builds: AtomicU64::new(0),
                tasks: TaskTracker::new(),
                shutdown: CancellationToken::new(),
            }),
        })
    }

    pub fn layers_dir(&self) -> &Path {
        &self.inner.layers_dir
    }

    /// How many builds this builder has started (a reused layer starts none).
    pub fn builds_started(&self) -> u64 {
        self.inner.builds.load(Ordering::Relaxed)
    }

    /// Where the layer of `packages` is or will be; `None` when it needs no layer.
    pub fn layer_path(&self, packages: &Packages) -> Result<Option<PathBuf>, SandboxError> {
        let spec = PackageSpec::normalise(packages)?;
        Ok((!spec.is_empty()).then(|| self.inner.layer_root(&self.inner.key(&spec))))
    }

    /// The layer of `packages`, built first unless it exists; `None` when there are no
    /// packages. The build runs on a task of its own: a caller that goes away (a cancelled
    /// tool call) does not abort it, and the next caller finds it done or waits for it.
    pub async fn ensure_layer(&self, packages: &Packages) -> Result<Option<PathBuf>, SandboxError> {
        let spec = PackageSpec::normalise(packages)?;
        if spec.is_empty() {
            return Ok(None);
        }
        let key = self.inner.key(&spec);
        if self.inner.is_ready(&key) {
            return Ok(Some(self.inner.layer_root(&key)));
        }
        let inner = self.inner.clone();
        self.inner
            .tasks
            .spawn(async move { inner.build_or_wait(spec, key).await })
            .await
            .map_err(|error| SandboxError::TemplateBuild {
                step: "environment build".into(),
                detail: format!("the build task failed: {error}"),
            })?
            .map(Some)
    }

    /// Abandons running builds (nothing of them is kept), waits for their cleanup and stops
    /// every build sandbox. Later requests fail; layers already built stay usable.
    pub async fn shutdown(&self) {
        self.inner.shutdown.cancel();
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
        if let Some(runtime) = self.inner.runtime.get() {
            runtime.shutdown().await;
        }
    }
}

#[async_trait]
impl LayerResolver for EnvironmentBuilder {
    async fn layers(&self, ctx: &ToolContext) -> Result<Vec<PathBuf>, SandboxError> {
        let EnvironmentConfig::Cloud(cloud) = &ctx.environment.config else {
            return Ok(Vec::new());
        };
        Ok(self
            .ensure_layer(&cloud.packages)
            .await?
            .into_iter()
            .collect())
    }
}

impl Inner {
    fn key(&self, spec: &PackageSpec) -> String {
        spec.layer_key(&self.base_key)
    }

    fn layer_dir(&self, key: &str) -> PathBuf {
        self.layers_dir.join(key)
    }

    fn layer_root(&self, key: &str) -> PathBuf {
        self.layer_dir(key).join("layer")
    }

    fn is_ready(&self, key: &str) -> bool {
        self.layer_dir(key).join(LAYER_META_FILE).is_file()
    }

    fn build_id(key: &str) -> String {
        format!("build-{key}")
    }

    fn build_session_dir(&self, key: &str) -> PathBuf {
        self.build_config
            .data_dir
            .join("sessions")
            .join(Self::build_id(key))
    }

    fn staging_dir(&self, key: &str) -> PathBuf {
        self.layers_dir.join(format!(".staging-{key}"))
    }

    async fn runtime(&self) -> Result<&LocalSandboxRuntime, SandboxError> {
        self.runtime
            .get_or_try_init(|| async {
                let egress = Arc::new(BuildEgress(self.egress.clone()));
                LocalSandboxRuntime::with_hooks(self.build_config.clone(), Some(egress), None)
            })
            .await
    }

    /// Waits for the key's lock; builds unless the layer appeared meanwhile.
    async fn build_or_wait(&self, spec: PackageSpec, key: String) -> Result<PathBuf, SandboxError> {
        if self.shutdown.is_cancelled() {
            return Err(abandoned("the server is shutting down".into()));
        }
        std::fs::create_dir_all(&self.layers_dir).map_err(SandboxError::io(format!(
            "create {}",
            self.layers_dir.display()
        )))?;
        let lock = self.layers_dir.join(format!("{key}.lock"));
        let _lock = rootfs::wait_for_lock(&lock, "environment layer", BUILD_WAIT_TIMEOUT).await?;
        if self.is_ready(&key) {
            tracing::info!(%key, "environment layer was built by another request");
            return Ok(self.layer_root(&key));
        }
        self.builds.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        tracing::info!(%key, packages = %spec.describe(), "environment build: starting");
        if let Err(error) = self.build_bounded(&spec, &key).await {
            let error = as_build_failure(error);
            tracing::warn!(%key, %error, "environment build failed; nothing is kept");
            self.discard(&key).await;
            return Err(error);
        }
        let layer = self.layer_root(&key);
        let bytes = tokio::task::spawn_blocking({
            let layer = layer.clone();
            move || disk_usage(&layer)
        })
        .await
        .unwrap_or_default();
        tracing::info!(
            %key,
            seconds = started.elapsed().as_secs_f64(),
            layer_mib = bytes as f64 / f64::from(1 << 20),
            layer = %layer.display(),
            "environment build: done"
        );
        Ok(layer)
    }

    /// [`build`](Self::build) within [`BUILD_TIMEOUT`], abandoned on shutdown.
    async fn build_bounded(&self, spec: &PackageSpec, key: &str) -> Result<(), SandboxError> {
        tokio::select! {
            built = tokio::time::timeout(BUILD_TIMEOUT, self.build(spec, key)) => match built {
                Ok(built) => built,
                Err(_) => Err(abandoned(format!(
                    "{} did not finish within {BUILD_TIMEOUT:?}",
                    spec.describe()
                ))),
            },
            () = self.shutdown.cancelled() => Err(abandoned("the server is shutting down".into())),
        }
    }

    /// Runs the plan in a fresh build sandbox and publishes its upper as the layer.
    async fn build(&self, spec: &PackageSpec, key: &str) -> Result<(), SandboxError> {
        let build_id = Self::build_id(key);
        // Leftovers of a build that crashed (we hold the key's lock: nobody else uses them).
        for dir in [
            self.build_session_dir(key),
            self.staging_dir(key),
            self.layer_dir(key),
        ] {
            remove_if_present(&dir)?;
        }
        let runtime = self.runtime().await?;
        // The base may itself need building (about a minute); not under a step's timeout.
        runtime.ensure_base().await?;
        let mut sandbox = BuildSandbox::new(runtime, &build_id);
        sandbox.start(self.ca_bundle.as_deref()).await?;
        for step in install_plan(spec) {
            tracing::info!(%key, manager = step.manager.name(), action = %step.action, "environment build: step");
            sandbox.run(&step).await?;
        }
        runtime.stop(&build_id).await;
        self.publish(spec, key).await
    }

    /// Moves the stopped build's upper into place with its metadata, in one final rename.
    async fn publish(&self, spec: &PackageSpec, key: &str) -> Result<(), SandboxError> {
        let publish_failed = |detail: String| SandboxError::TemplateBuild {
            step: "publish the layer".into(),
            detail,
        };
        let staging = self.staging_dir(key);
        std::fs::create_dir_all(&staging).map_err(|e| publish_failed(e.to_string()))?;
        let upper = self.build_session_dir(key).join("upper");
        std::fs::rename(&upper, staging.join("layer"))
            .map_err(|e| publish_failed(format!("move {}: {e}", upper.display())))?;
        let meta = serde_json::json!({
            "key": key,
            "packages": spec.describe(),
            "base": self.base_key,
            "builder_version": crate::packages::BUILDER_VERSION,
        });
        std::fs::write(staging.join(LAYER_META_FILE), meta.to_string())
            .map_err(|e| publish_failed(e.to_string()))?;
        std::fs::rename(&staging, self.layer_dir(key))
            .map_err(|e| publish_failed(e.to_string()))?;
        remove_if_present(&self.build_session_dir(key))
    }

    /// After a failure: stop the build sandbox and remove everything the build made.
    async fn discard(&self, key: &str) {
        if let Some(runtime) = self.runtime.get() {
            runtime.stop(&Self::build_id(key)).await;
        }
        for dir in [self.build_session_dir(key), self.staging_dir(key)] {
            if let Err(error) = remove_if_present(&dir) {
                tracing::warn!(%error, "cannot remove a failed build's files");
            }
        }
    }
}

fn abandoned(detail: String) -> SandboxError {
    SandboxError::TemplateBuild {
        step: "environment build".into(),
        detail,
    }
}

/// Every failure of a build reaches the session as an environment build failure.
fn as_build_failure(error: SandboxError) -> SandboxError {
    match error {
        SandboxError::TemplateBuild { .. } | SandboxError::TemplateMissing(_) => error,
        other => SandboxError::TemplateBuild {
            step: "environment build".into(),
            detail: other.to_string(),
        },
    }
}

fn remove_if_present(dir: &Path) -> Result<(), SandboxError> {
    match std::fs::remove_dir_all(dir) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            Err(SandboxError::io(format!("remove {}", dir.display()))(error))
        }
        _ => Ok(()),
    }
}

/// Bytes on disk under `root`, each inode counted once.
fn disk_usage(root: &Path) -> u64 {
    let mut seen = std::collections::HashSet::new();
    let mut stack = vec![root.to_path_buf()];
    let mut bytes = 0;
    while let Some(path) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir()
            && let Ok(entries) = std::fs::read_dir(&path)
        {
            stack.extend(entries.flatten().map(|e| e.path()));
        }
        if seen.insert((meta.dev(), meta.ino())) {
            bytes += meta.blocks() * 512;
        }
    }
    bytes
}
