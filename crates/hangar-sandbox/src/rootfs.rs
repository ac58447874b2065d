//! The base rootfs template: Debian minbase made once with `debootstrap`, cleaned, shifted
//! into the sandbox's id range and cached under `<templates>/base/<suite>-<arch>-<hash>/`.
//! A file lock makes concurrent requests wait for one build; a failed build leaves nothing
//! half-made. The mirror comes from apt's own configuration, never from a constant. Owns
//! the template's format; environment layers (built on top) belong to someone else.

use std::collections::HashSet;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::error::SandboxError;
use crate::sys;

/// Bumped when the template's content or layout changes; part of the cache key.
pub const TEMPLATE_FORMAT_VERSION: u32 = 1;
/// How long `debootstrap` may run (about a minute measured; slow mirrors exist).
pub const DEBOOTSTRAP_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// How long a request waits for another process's build of the same template.
pub const BUILD_WAIT_TIMEOUT: Duration = Duration::from_secs(40 * 60);
const LOCK_POLL_INTERVAL: Duration = Duration::from_millis(250);
/// Bytes of a failing tool's output kept in the error.
const ERROR_OUTPUT_BYTES: usize = 4000;
/// Marker file written last: a template directory without it is not a template.
const READY_FILE: &str = "template.json";

/// Which Debian base to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseSpec {
    pub suite: String,
    /// Debian architecture name (`amd64`, `arm64`).
    pub arch: String,
}

impl Default for BaseSpec {
    fn default() -> Self {
        BaseSpec {
            suite: "bookworm".into(),
            arch: debian_arch().into(),
        }
    }
}

fn debian_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// The cache directory name of a base: readable prefix plus a hash of everything that
/// changes its bytes.
pub fn base_key(spec: &BaseSpec, id_base: u32) -> String {
    let mut hash = Sha256::new();
    hash.update(format!(
        "{}|{}|minbase|{id_base}|{TEMPLATE_FORMAT_VERSION}",
        spec.suite, spec.arch
    ));
    let digest: String = hash
        .finalize()
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{}-{}-{digest}", spec.suite, spec.arch)
}

/// Where the base's root directory is (whether or not it exists yet).
pub fn base_rootfs(templates_dir: &Path, spec: &BaseSpec, id_base: u32) -> PathBuf {
    templates_dir
        .join("base")
        .join(base_key(spec, id_base))
        .join("rootfs")
}

/// Returns the base's rootfs, building it first when missing and `build` allows.
pub async fn ensure_base(
    templates_dir: &Path,
    spec: &BaseSpec,
    id_base: u32,
    build: bool,
) -> Result<PathBuf, SandboxError> {
    let key = base_key(spec, id_base);
    let dir = templates_dir.join("base").join(&key);
    if dir.join(READY_FILE).exists() {
        return Ok(dir.join("rootfs"));
    }
    if !build {
        return Err(SandboxError::TemplateMissing(format!(
            "no base template at {} (run scripts/ci-sandbox-prep.sh, or `hangar-sandbox-init build-base --templates-dir {}`)",
            dir.display(),
            templates_dir.display()
        )));
    }
    let parent = templates_dir.join("base");
    std::fs::create_dir_all(&parent)
        .map_err(SandboxError::io(format!("create {}", parent.display())))?;
    let lock = parent.join(format!("{key}.lock"));
    let _lock = wait_for_lock(&lock, "base template", BUILD_WAIT_TIMEOUT).await?;
    if dir.join(READY_FILE).exists() {
        tracing::info!(template = %dir.display(), "base template was built by another request");
        return Ok(dir.join("rootfs"));
    }
    let staging = parent.join(format!(".{key}.build"));
    let _ = std::fs::remove_dir_all(&staging);
    let built = build_into(&staging, spec, id_base).await;
    if let Err(error) = built {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(error);
    }
    std::fs::rename(&staging, &dir).map_err(|e| {
        let _ = std::fs::remove_dir_all(&staging);
        SandboxError::TemplateBuild {
            step: "publish".into(),
            detail: e.to_string(),
        }
    })?;
    tracing::info!(template = %dir.display(), "base template ready");
    Ok(dir.join("rootfs"))
}

/// Takes the exclusive build lock at `path`, waiting (up to `timeout`) while another build of
/// the same `what` (a base template, an environment layer) holds it.
pub(crate) async fn wait_for_lock(
    path: &Path,
    what: &str,
    timeout: Duration,
) -> Result<std::fs::File, SandboxError> {
    let file = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(SandboxError::io(format!("open {}", path.display())))?;
    let deadline = Instant::now() + timeout;
    let mut logged = false;
    while !sys::try_lock_exclusive(&file).map_err(SandboxError::io("take the build lock"))? {
        if !logged {
            tracing::info!(lock = %path.display(), "waiting for another build of the {what}");
            logged = true;
        }
        if Instant::now() > deadline {
            return Err(SandboxError::TemplateBuild {
                step: "wait for another build".into(),
                detail: format!("another build held {} for over {timeout:?}", path.display()),
            });
        }
        tokio::time::sleep(LOCK_POLL_INTERVAL).await;
    }
    Ok(file)
}

fn step_error(step: &str) -> impl FnOnce(std::io::Error) -> SandboxError + '_ {
    move |error| SandboxError::TemplateBuild {
        step: step.into(),
        detail: error.to_string(),
    }
}

async fn build_into(staging: &Path, spec: &BaseSpec, id_base: u32) -> Result<(), SandboxError> {
    let rootfs = staging.join("rootfs");
    std::fs::create_dir_all(&rootfs).map_err(step_error("create staging dir"))?;
    let mirror = apt_mirror().map_err(|detail| SandboxError::TemplateBuild {
        step: "read the Debian mirror from apt's configuration".into(),
        detail,
    })?;
    tracing::info!(suite = %spec.suite, arch = %spec.arch, %mirror, "debootstrap: building base template (about a minute)");
    let started = Instant::now();
    run_debootstrap(&rootfs, spec, &mirror).await?;
    tracing::info!(
        seconds = started.elapsed().as_secs_f32(),
        "debootstrap finished; cleaning"
    );
    let rootfs_for_blocking = rootfs.clone();
    tokio::task::spawn_blocking(move || {
        clean_rootfs(&rootfs_for_blocking).map_err(step_error("clean"))?;
        tracing::info!("shifting ownership into the sandbox id range");
        shift_ownership(&rootfs_for_blocking, id_base).map_err(step_error("shift ownership"))
    })
    .await
    .map_err(|e| SandboxError::TemplateBuild {
        step: "clean".into(),
        detail: e.to_string(),
    })??;
    let meta = serde_json::json!({
        "suite": spec.suite, "arch": spec.arch, "variant": "minbase", "mirror": mirror,
        "id_base": id_base, "format": TEMPLATE_FORMAT_VERSION,
        "build_seconds": started.elapsed().as_secs(),
    });
    std::fs::write(staging.join(READY_FILE), meta.to_string()).map_err(step_error("write metadata"))
}

async fn run_debootstrap(rootfs: &Path, spec: &BaseSpec, mirror: &str) -> Result<(), SandboxError> {
    let run = tokio::process::Command::new("debootstrap")
        .args([
            "--variant=minbase",
            &format!("--arch={}", spec.arch),
            &spec.suite,
        ])
        .arg(rootfs)
        .arg(mirror)
        .kill_on_drop(true)
        .output();
    let failed = |detail: String| SandboxError::TemplateBuild {
        step: "debootstrap".into(),
        detail,
    };
    match tokio::time::timeout(DEBOOTSTRAP_TIMEOUT, run).await {
        Err(_) => Err(failed(format!(
            "did not finish within {DEBOOTSTRAP_TIMEOUT:?}"
        ))),
        Ok(Err(error)) => Err(failed(format!(
            "cannot run debootstrap (is it installed?): {error}"
        ))),
        Ok(Ok(output)) if !output.status.success() => {
            let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
            text.push_str(&String::from_utf8_lossy(&output.stdout));
            let tail_start = text.len().saturating_sub(ERROR_OUTPUT_BYTES);
            let tail_start = (tail_start..text.len())
                .find(|&i| text.is_char_boundary(i))
                .unwrap_or(0);
            Err(failed(format!(
                "{}: {}",
                output.status,
                &text[tail_start..]
            )))
        }
        Ok(Ok(_)) => Ok(()),
    }
}

/// The Debian mirror apt uses: the first `URIs:` of a deb822 source whose suites are plain
/// releases, else the first `deb` line of `sources.list`.
pub fn apt_mirror() -> Result<String, String> {
    let mut texts = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "sources"))
        {
            texts.push((true, std::fs::read_to_string(path).unwrap_or_default()));
        }
    }
    texts.push((
        false,
        std::fs::read_to_string("/etc/apt/sources.list").unwrap_or_default(),
    ));
    texts
        .iter()
        .find_map(|(deb822, text)| {
            if *deb822 {
                mirror_from_deb822(text)
            } else {
                mirror_from_list(text)
            }
        })
        .ok_or_else(|| {
            "no Debian mirror found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list"
                .into()
        })
}

pub fn mirror_from_deb822(text: &str) -> Option<String> {
    text.split("\n\n").find_map(|stanza| {
        let field = |name: &str| {
            stanza
                .lines()
                .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
        };
        let is_security = field("Suites:").is_some_and(|s| s.contains("-security"));
        let is_deb = field("Types:").is_some_and(|t| t.split_whitespace().any(|t| t == "deb"));
        let uri = field("URIs:")?.split_whitespace().next()?.to_owned();
        (is_deb && !is_security).then_some(uri)
    })
}

pub fn mirror_from_list(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let mut words = line.split_whitespace().filter(|w| !w.starts_with('['));
        (words.next()? == "deb").then_some(())?;
        let uri = words.next()?;
        let suite = words.next()?;
        (!suite.contains("-security")).then(|| uri.to_owned())
    })
}

/// Drops what a template must not carry: package lists and caches (49 + 31 MB measured), the
/// host's resolver and hostname. Adds `/workspace`.
fn clean_rootfs(rootfs: &Path) -> std::io::Result<()> {
    for dir in [
        "var/lib/apt/lists",
        "var/cache/apt/archives",
        "var/cache/apt",
    ] {
        let Ok(entries) = std::fs::read_dir(rootfs.join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let file_type = entry.file_type()?;
            let keep_dir = file_type.is_dir();
            if !keep_dir && entry.file_name() != "lock" {
                std::fs::remove_file(&path)?;
            }
        }
    }
    let _ = std::fs::remove_file(rootfs.join("etc/resolv.conf"));
    std::fs::write(rootfs.join("etc/hostname"), "sandbox\n")?;
    std::fs::write(
        rootfs.join("etc/hosts"),
        "127.0.0.1\tlocalhost sandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n",
    )?;
    std::fs::create_dir_all(rootfs.join("workspace"))?;
    std::fs::set_permissions(
        rootfs.join("workspace"),
        std::fs::Permissions::from_mode(0o755),
    )
}

/// Adds `id_base` to every owner and group, once per inode (hard links), restoring the
/// set-id bits that `chown` clears.
pub fn shift_ownership(root: &Path, id_base: u32) -> std::io::Result<()> {
    let mut seen = HashSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path)?;
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                stack.push(entry?.path());
            }
        }
        if !seen.insert((meta.dev(), meta.ino())) {
            continue;
        }
        std::os::unix::fs::lchown(
            &path,
            Some(meta.uid() + id_base),
            Some(meta.gid() + id_base),
        )?;
        if !meta.file_type().is_symlink() && meta.mode() & 0o6000 != 0 {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_is_read_from_deb822_skipping_security() {
        let text = "Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\n\n\
                    Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n";
        assert_eq!(
            mirror_from_deb822(text).as_deref(),
            Some("http://mirror.example/debian")
        );
    }

    #[test]
    fn mirror_is_read_from_sources_list() {
        let text = "# comment\ndeb [arch=amd64] http://mirror.example/debian bookworm main\n";
        assert_eq!(
            mirror_from_list(text).as_deref(),
            Some("http://mirror.example/debian")
        );
    }

    #[test]
    fn key_changes_with_id_base_and_suite() {
        let spec = BaseSpec::default();
        assert_ne!(base_key(&spec, 100_000), base_key(&spec, 200_000));
        let other = BaseSpec {
            suite: "trixie".into(),
            ..spec.clone()
        };
        assert_ne!(base_key(&spec, 100_000), base_key(&other, 100_000));
    }

    #[test]
    fn shift_moves_owners_once_per_inode_and_keeps_setuid() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("f");
        std::fs::write(&file, "x").unwrap();
        std::fs::hard_link(&file, tmp.path().join("hard")).unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o4755)).unwrap();
        std::os::unix::fs::symlink("f", tmp.path().join("link")).unwrap();
        if unsafe_free_is_root() {
            shift_ownership(tmp.path(), 100_000).unwrap();
            let meta = std::fs::metadata(&file).unwrap();
            assert_eq!(meta.uid(), 100_000);
            assert_eq!(meta.mode() & 0o7777, 0o4755);
            assert_eq!(
                std::fs::symlink_metadata(tmp.path().join("link"))
                    .unwrap()
                    .uid(),
                100_000
            );
        }
    }

    fn unsafe_free_is_root() -> bool {
        std::fs::metadata("/proc/self")
            .map(|m| m.uid() == 0)
            .unwrap_or(false)
    }

    #[tokio::test]
    async fn missing_base_without_build_names_the_fix() {
        let tmp = tempfile::tempdir().unwrap();
        let error = ensure_base(tmp.path(), &BaseSpec::default(), 100_000, false)
            .await
            .unwrap_err();
        assert!(error.to_string().contains("ci-sandbox-prep.sh"), "{error}");
    }
}
