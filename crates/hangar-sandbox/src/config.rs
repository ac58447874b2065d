//! Configuration of the local sandbox backend, with the defaults the server uses. Owns the
//! knobs and their validation; every default is a named constant.

use std::path::PathBuf;
use std::time::Duration;

use crate::cgroup::CgroupLimits;
use crate::error::SandboxError;
use crate::rootfs::BaseSpec;

/// First host uid/gid of the sandboxes' id range (sandbox root maps here).
pub const DEFAULT_ID_BASE: u32 = 100_000;
/// Size of the id range: sandbox uids 0..65535.
pub const ID_RANGE: u32 = 65_536;
/// Memory limit per sandbox (cgroup): 4 GiB.
pub const DEFAULT_MEMORY_BYTES: u64 = 4 << 30;
/// Process/thread limit per sandbox (cgroup `pids.max`).
pub const DEFAULT_PIDS: u64 = 2048;
/// CPU limit per sandbox, in thousandths of a core.
pub const DEFAULT_CPU_MILLICORES: u64 = 2000;
/// Disk cap per session (sparse ext4 image): 10 GiB, like the hosted containers.
pub const DEFAULT_DISK_BYTES: u64 = 10 << 30;
/// Size of `/tmp` and `/dev/shm` (tmpfs, charged to the sandbox's memory).
pub const DEFAULT_TMPFS_BYTES: u64 = 1 << 30;
/// Open files per process inside the sandbox.
pub const DEFAULT_NOFILE: u64 = 65_536;
/// A sandbox with no call for this long is stopped (its files stay).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// Starting a sandbox (setup handshake) must finish within this.
pub const DEFAULT_START_TIMEOUT: Duration = Duration::from_secs(30);
/// Environment variable that overrides the templates directory (tests and CI share one).
pub const TEMPLATE_DIR_ENV: &str = "HANGAR_TEMPLATE_DIR";

/// The program the server runs as each sandbox's init, and its arguments (the `hangar`
/// binary with `sandbox-init`, or this crate's `hangar-sandbox-init` binary in tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitProgram {
    pub path: PathBuf,
    pub args: Vec<String>,
}

impl InitProgram {
    /// The running executable re-executed with its hidden `sandbox-init` subcommand.
    pub fn current_exe() -> Result<InitProgram, SandboxError> {
        let path =
            std::env::current_exe().map_err(SandboxError::io("find the current executable"))?;
        Ok(InitProgram {
            path,
            args: vec!["sandbox-init".into()],
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxLimits {
    pub memory_bytes: Option<u64>,
    pub pids: Option<u64>,
    pub cpu_millicores: Option<u64>,
    /// `None` keeps the session's upper directly on the host disk (no cap).
    pub disk_bytes: Option<u64>,
    pub tmpfs_bytes: u64,
    pub nofile: u64,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        SandboxLimits {
            memory_bytes: Some(DEFAULT_MEMORY_BYTES),
            pids: Some(DEFAULT_PIDS),
            cpu_millicores: Some(DEFAULT_CPU_MILLICORES),
            disk_bytes: Some(DEFAULT_DISK_BYTES),
            tmpfs_bytes: DEFAULT_TMPFS_BYTES,
            nofile: DEFAULT_NOFILE,
        }
    }
}

impl SandboxLimits {
    pub(crate) fn cgroup(&self) -> CgroupLimits {
        CgroupLimits {
            memory_bytes: self.memory_bytes,
            pids: self.pids,
            cpu_millicores: self.cpu_millicores,
        }
    }
}

#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Sessions live in `<data_dir>/sessions/<id>/`.
    pub data_dir: PathBuf,
    /// Templates live in `<templates_dir>/base/…`; default `<data_dir>/templates`, or
    /// `$HANGAR_TEMPLATE_DIR` when set.
    pub templates_dir: PathBuf,
    pub init_program: InitProgram,
    pub id_base: u32,
    pub base: BaseSpec,
    /// Build the base template on first use when it is missing (about a minute). Tests
    /// turn this off so a missing base fails fast with instructions.
    pub build_base_if_missing: bool,
    pub limits: SandboxLimits,
    pub idle_timeout: Duration,
    /// Stop a session's sandbox as soon as the harness reports the session idle (end of a
    /// turn), instead of waiting for `idle_timeout`. Default off: a turn's shell state (cwd,
    /// variables, background jobs) then survives into the next turn while it stays warm.
    pub stop_on_session_idle: bool,
    pub hostname: String,
    pub start_timeout: Duration,
    /// Keep one init program started ahead of need (exec'd and in its cgroups, waiting), so
    /// a sandbox start skips spawn, exec and the cgroup joins (about 10 ms here). Costs one
    /// idle process (a few MB) once the first sandbox has started.
    pub prestart_init: bool,
}

impl SandboxConfig {
    /// Defaults for a data directory and an init program.
    pub fn new(data_dir: impl Into<PathBuf>, init_program: InitProgram) -> SandboxConfig {
        let data_dir = data_dir.into();
        let templates_dir = std::env::var_os(TEMPLATE_DIR_ENV)
            .map(PathBuf::from)
            .unwrap_or_else(|| data_dir.join("templates"));
        SandboxConfig {
            data_dir,
            templates_dir,
            init_program,
            id_base: DEFAULT_ID_BASE,
            base: BaseSpec::default(),
            build_base_if_missing: true,
            limits: SandboxLimits::default(),
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            stop_on_session_idle: false,
            hostname: "sandbox".into(),
            start_timeout: DEFAULT_START_TIMEOUT,
            prestart_init: true,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), SandboxError> {
        let bad = |what: String| Err(SandboxError::Config(what));
        // Overlay mount options are comma- and colon-separated.
        for dir in [&self.data_dir, &self.templates_dir] {
            let text = dir.to_string_lossy();
            if !dir.is_absolute() || text.contains([',', ':']) {
                return bad(format!(
                    "{} must be absolute and contain no ',' or ':'",
                    dir.display()
                ));
            }
        }
        if self.id_base == 0 || self.id_base.checked_add(ID_RANGE).is_none() {
            return bad(format!(
                "id base {} leaves no room for {ID_RANGE} ids",
                self.id_base
            ));
        }
        if !self.init_program.path.is_file() {
            return bad(format!(
                "init program {} does not exist",
                self.init_program.path.display()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program() -> InitProgram {
        InitProgram {
            path: PathBuf::from("/bin/sh"),
            args: Vec::new(),
        }
    }

    #[test]
    fn defaults_are_the_named_constants() {
        let config = SandboxConfig::new("/data", program());
        assert_eq!(config.id_base, DEFAULT_ID_BASE);
        assert_eq!(config.limits.memory_bytes, Some(DEFAULT_MEMORY_BYTES));
        assert_eq!(config.limits.pids, Some(DEFAULT_PIDS));
        assert_eq!(config.limits.disk_bytes, Some(DEFAULT_DISK_BYTES));
        assert_eq!(config.idle_timeout, DEFAULT_IDLE_TIMEOUT);
        assert!(!config.stop_on_session_idle);
        assert!(config.prestart_init);
    }

    #[test]
    fn the_id_range_stays_clear_of_host_ids_and_overflow() {
        // Sandbox ids must not overlap the host's system and user ids.
        const { assert!(DEFAULT_ID_BASE >= ID_RANGE) };
        let mut config = SandboxConfig::new("/data", program());
        config.id_base = u32::MAX - 10;
        assert!(config.validate().is_err());
    }

    #[test]
    fn paths_that_would_break_overlay_options_are_refused() {
        for dir in ["/data,x", "/data:x", "relative"] {
            let mut config = SandboxConfig::new(dir, program());
            config.templates_dir = PathBuf::from("/templates");
            assert!(config.validate().is_err(), "{dir}");
        }
        let mut config = SandboxConfig::new("/data", program());
        config.templates_dir = PathBuf::from("/templates");
        assert!(config.validate().is_ok());
    }
}
