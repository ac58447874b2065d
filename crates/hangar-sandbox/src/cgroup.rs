//! Control groups for sandboxes: memory, pids and CPU limits, plus `cgroup.kill` where the
//! unified (v2) hierarchy exists. Detects the host's layout once — v2, v1/hybrid (limits on
//! v1 controllers, kill on the unified tree), or none — and always creates child groups
//! *relative to the server's own groups* (from `/proc/self/cgroup`), never at a hierarchy
//! root. Owns cgroupfs reads and writes; knows nothing about namespaces.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Prefix of every group we create, so stale ones can be recognised and swept.
pub const GROUP_PREFIX: &str = "hangar-sbx-";
/// The CFS period used for CPU quotas.
pub const CPU_PERIOD_US: u64 = 100_000;
/// How long `remove` keeps retrying while the kernel releases a group's last tasks.
const REMOVE_RETRY_FOR: Duration = Duration::from_secs(2);
const REMOVE_RETRY_STEP: Duration = Duration::from_millis(10);

/// Resource limits of one sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CgroupLimits {
    pub memory_bytes: Option<u64>,
    pub pids: Option<u64>,
    /// CPU in thousandths of a core (1000 = one core).
    pub cpu_millicores: Option<u64>,
}

/// Where this server's groups are, per hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupLayout {
    /// Pure cgroup v2: our own group in the unified tree.
    V2 { own: PathBuf },
    /// v1 controllers (each our own group, if mounted), plus the unified tree of a hybrid
    /// host (used only for `cgroup.kill`).
    V1 {
        memory: Option<PathBuf>,
        pids: Option<PathBuf>,
        cpu: Option<PathBuf>,
        unified: Option<PathBuf>,
    },
    /// No usable cgroupfs: limits come from rlimits only; killing uses the pid namespace.
    None,
}

impl CgroupLayout {
    /// Reads this host's layout.
    pub fn detect() -> CgroupLayout {
        match (
            std::fs::read_to_string("/proc/self/mounts"),
            std::fs::read_to_string("/proc/self/cgroup"),
        ) {
            (Ok(mounts), Ok(own)) => Self::from_tables(&mounts, &own, Path::new("/")),
            _ => CgroupLayout::None,
        }
    }

    /// The layout described by a `/proc/self/mounts` and a `/proc/self/cgroup` text, with
    /// every path placed under `root` (a temp dir in tests, `/` for real).
    pub fn from_tables(mounts: &str, own_groups: &str, root: &Path) -> CgroupLayout {
        let mut v1_mounts: Vec<(PathBuf, Vec<String>)> = Vec::new();
        let mut v2_mount = None;
        for line in mounts.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [_, target, fstype, options, ..] = fields[..] else {
                continue;
            };
            match fstype {
                "cgroup2" => v2_mount = Some(PathBuf::from(target)),
                "cgroup" => v1_mounts.push((
                    PathBuf::from(target),
                    options.split(',').map(str::to_owned).collect(),
                )),
                _ => {}
            }
        }
        let own_path = |controller: &str| {
            own_groups.lines().find_map(|line| {
                let mut parts = line.splitn(3, ':');
                let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
                controllers
                    .split(',')
                    .any(|c| c == controller)
                    .then(|| path.trim_start_matches('/').to_owned())
            })
        };
        let place = |mount: &Path, own: String| {
            root.join(mount.strip_prefix("/").unwrap_or(mount))
                .join(own)
        };
        if v1_mounts.is_empty() {
            return match (v2_mount, own_path("")) {
                (Some(mount), Some(own)) => CgroupLayout::V2 {
                    own: place(&mount, own),
                },
                _ => CgroupLayout::None,
            };
        }
        let v1 = |controller: &str| {
            let (mount, _) = v1_mounts
                .iter()
                .find(|(_, opts)| opts.iter().any(|o| o == controller))?;
            Some(place(mount, own_path(controller)?))
        };
        CgroupLayout::V1 {
            memory: v1("memory"),
            pids: v1("pids"),
            cpu: v1("cpu"),
            unified: v2_mount
                .zip(own_path(""))
                .map(|(mount, own)| place(&mount, own)),
        }
    }

    /// The parent directories our groups are created in.
    fn parents(&self) -> Vec<PathBuf> {
        match self {
            CgroupLayout::V2 { own } => vec![own.clone()],
            CgroupLayout::V1 {
                memory,
                pids,
                cpu,
                unified,
            } => [memory, pids, cpu, unified]
                .into_iter()
                .flatten()
                .cloned()
                .collect(),
            CgroupLayout::None => Vec::new(),
        }
    }

    /// Removes empty groups left by servers that died (best effort). A group's name starts
    /// with its creator's pid; groups of live processes are left alone, since another
    /// server may be between creating a group and moving a process into it.
    pub fn sweep_stale(&self) {
        for parent in self.parents() {
            let Ok(entries) = std::fs::read_dir(&parent) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let Some(rest) = name.strip_prefix(GROUP_PREFIX) else {
                    continue;
                };
                let creator = rest.split('-').next().unwrap_or_default();
                let alive = creator
                    .parse::<u32>()
                    .is_ok_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
                if !alive {
                    let _ = std::fs::remove_dir(entry.path());
                }
            }
        }
    }

    /// Creates the groups of one sandbox and applies `limits`. The group is named
    /// `hangar-sbx-<our pid>-<name>`.
    pub fn create(&self, name: &str, limits: &CgroupLimits) -> io::Result<SandboxCgroup> {
        let name = format!("{GROUP_PREFIX}{}-{name}", std::process::id());
        let mut group = SandboxCgroup::default();
        let made = self.create_into(&name, limits, &mut group);
        if let Err(error) = made {
            group.remove();
            return Err(error);
        }
        Ok(group)
    }

    fn create_into(
        &self,
        name: &str,
        limits: &CgroupLimits,
        group: &mut SandboxCgroup,
    ) -> io::Result<()> {
        match self {
            CgroupLayout::V2 { own } => {
                enable_v2_controllers(own)?;
                let dir = group.make(own, name)?;
                if let Some(bytes) = limits.memory_bytes {
                    write(&dir, "memory.max", bytes)?;
                    write_if_present(&dir, "memory.swap.max", 0)?;
                }
                if let Some(pids) = limits.pids {
                    write(&dir, "pids.max", pids)?;
                }
                if let Some(millicores) = limits.cpu_millicores {
                    write(
                        &dir,
                        "cpu.max",
                        format!("{} {CPU_PERIOD_US}", millicores * CPU_PERIOD_US / 1000),
                    )?;
                }
                group.kill_file = Some(dir.join("cgroup.kill"));
            }
            CgroupLayout::V1 {
                memory,
                pids,
                cpu,
                unified,
            } => {
                if let Some(parent) = memory {
                    let dir = group.make(parent, name)?;
                    if let Some(bytes) = limits.memory_bytes {
                        write(&dir, "memory.limit_in_bytes", bytes)?;
                        write_if_present(&dir, "memory.memsw.limit_in_bytes", bytes)?;
                    }
                }
                if let Some(parent) = pids {
                    let dir = group.make(parent, name)?;
                    if let Some(max) = limits.pids {
                        write(&dir, "pids.max", max)?;
                    }
                }
                if let Some(parent) = cpu {
                    let dir = group.make(parent, name)?;
                    if let Some(millicores) = limits.cpu_millicores {
                        write(&dir, "cpu.cfs_period_us", CPU_PERIOD_US)?;
                        write(&dir, "cpu.cfs_quota_us", millicores * CPU_PERIOD_US / 1000)?;
                    }
                }
                if let Some(parent) = unified {
                    let dir = group.make(parent, name)?;
                    group.kill_file = Some(dir.join("cgroup.kill")).filter(|f| f.exists());
                }
            }
            CgroupLayout::None => {}
        }
        Ok(())
    }
}

/// Moves this process into every group `pid` belongs to (used by `sandbox exec`, so a
/// joined command runs under the sandbox's limits). Named v1 hierarchies (`name=systemd`)
/// are skipped; a group that cannot be joined is an error.
pub fn join_groups_of(pid: i32) -> io::Result<()> {
    let mounts = std::fs::read_to_string("/proc/self/mounts")?;
    let theirs = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))?;
    for line in theirs.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if controllers.starts_with("name=") {
            continue;
        }
        let first = controllers.split(',').next().unwrap_or_default();
        let mount = mounts.lines().find_map(|mount| {
            let fields: Vec<&str> = mount.split_whitespace().collect();
            let [_, target, fstype, options, ..] = fields[..] else {
                return None;
            };
            let matches = match (fstype, first) {
                ("cgroup2", "") => true,
                ("cgroup", controller) if !controller.is_empty() => {
                    options.split(',').any(|o| o == controller)
                }
                _ => false,
            };
            matches.then(|| PathBuf::from(target))
        });
        if let Some(mount) = mount {
            write(
                &mount.join(path.trim_start_matches('/')),
                "cgroup.procs",
                std::process::id(),
            )?;
        }
    }
    Ok(())
}

/// In v2 a group with processes cannot enable controllers for children ("no internal
/// processes"). When that bites, move this server into a `hangar-server` leaf first.
fn enable_v2_controllers(own: &Path) -> io::Result<()> {
    let wanted = "+memory +pids +cpu";
    let control = own.join("cgroup.subtree_control");
    match std::fs::write(&control, wanted) {
        Ok(()) => Ok(()),
        Err(error) if error.raw_os_error() == Some(libc::EBUSY) => {
            let leaf = own.join("hangar-server");
            std::fs::create_dir_all(&leaf)?;
            std::fs::write(leaf.join("cgroup.procs"), std::process::id().to_string())?;
            std::fs::write(&control, wanted)
        }
        Err(error) => Err(error),
    }
}

fn write(dir: &Path, file: &str, value: impl ToString) -> io::Result<()> {
    std::fs::write(dir.join(file), value.to_string())
        .map_err(|e| io::Error::new(e.kind(), format!("write {}: {e}", dir.join(file).display())))
}

fn write_if_present(dir: &Path, file: &str, value: impl ToString) -> io::Result<()> {
    if dir.join(file).exists() {
        write(dir, file, value)
    } else {
        Ok(())
    }
}

/// The groups of one sandbox. `remove` must be called after its processes are gone.
#[derive(Debug, Default)]
pub struct SandboxCgroup {
    dirs: Vec<PathBuf>,
    kill_file: Option<PathBuf>,
}

impl SandboxCgroup {
    fn make(&mut self, parent: &Path, name: &str) -> io::Result<PathBuf> {
        let dir = parent.join(name);
        std::fs::create_dir(&dir).map_err(|e| {
            io::Error::new(e.kind(), format!("create cgroup {}: {e}", dir.display()))
        })?;
        self.dirs.push(dir.clone());
        Ok(dir)
    }

    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Moves `pid` (and its threads) into every group.
    pub fn attach(&self, pid: u32) -> io::Result<()> {
        self.attacher(pid)()
    }

    /// The same move as [`attach`](Self::attach), as a closure to run on a blocking thread
    /// (in v1 each write waits for an RCU grace period).
    pub fn attacher(&self, pid: u32) -> impl FnOnce() -> io::Result<()> + Send + 'static {
        let dirs = self.dirs.clone();
        move || {
            for dir in &dirs {
                write(dir, "cgroup.procs", pid)?;
            }
            Ok(())
        }
    }

    /// Kills every process in the group at once (v2 `cgroup.kill`); `false` when the host
    /// has no such file and the caller must rely on the pid namespace.
    pub fn kill_all(&self) -> bool {
        self.kill_file
            .as_ref()
            .is_some_and(|file| std::fs::write(file, "1").is_ok())
    }

    /// Removes the groups, retrying briefly while the kernel finishes with dying tasks.
    pub fn remove(&mut self) {
        let deadline = std::time::Instant::now() + REMOVE_RETRY_FOR;
        self.dirs.retain(|dir| loop {
            match std::fs::remove_dir(dir) {
                Ok(()) => break false,
                Err(error) if error.kind() == io::ErrorKind::NotFound => break false,
                Err(_) if std::time::Instant::now() < deadline => std::thread::sleep(REMOVE_RETRY_STEP),
                Err(error) => {
                    tracing::warn!(dir = %dir.display(), %error, "cannot remove sandbox cgroup");
                    break true;
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID_MOUNTS: &str = "\
tmpfs /sys/fs/cgroup tmpfs rw 0 0
cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0
cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0
cgroup /sys/fs/cgroup/pids cgroup rw,relatime,pids 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0
";
    const HYBRID_OWN: &str = "8:pids:/\n4:memory:/process_api/abc\n1:cpu:/\n0::/\n";

    #[test]
    fn hybrid_layout_uses_own_groups_per_controller() {
        let layout = CgroupLayout::from_tables(HYBRID_MOUNTS, HYBRID_OWN, Path::new("/"));
        assert_eq!(
            layout,
            CgroupLayout::V1 {
                memory: Some("/sys/fs/cgroup/memory/process_api/abc".into()),
                pids: Some("/sys/fs/cgroup/pids/".into()),
                cpu: Some("/sys/fs/cgroup/cpu/".into()),
                unified: Some("/sys/fs/cgroup/unified/".into()),
            }
        );
    }

    #[test]
    fn no_cgroup_mounts_means_none() {
        let layout =
            CgroupLayout::from_tables("proc /proc proc rw 0 0\n", "0::/\n", Path::new("/"));
        assert_eq!(layout, CgroupLayout::None);
    }

    /// A fake v2 tree: plain files stand in for cgroupfs, so the writes can be checked.
    fn fake_v2(root: &Path) -> CgroupLayout {
        let own = root.join("sys/fs/cgroup/user.slice/server");
        std::fs::create_dir_all(&own).unwrap();
        std::fs::write(own.join("cgroup.subtree_control"), "").unwrap();
        let layout = CgroupLayout::from_tables(
            "cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n",
            "0::/user.slice/server\n",
            root,
        );
        assert_eq!(layout, CgroupLayout::V2 { own: own.clone() });
        layout
    }

    #[test]
    fn v2_writes_limits_enables_controllers_and_kill_file() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = fake_v2(tmp.path());
        let limits = CgroupLimits {
            memory_bytes: Some(64 << 20),
            pids: Some(32),
            cpu_millicores: Some(500),
        };
        let mut group = layout.create("s1", &limits).unwrap();
        let own = tmp.path().join("sys/fs/cgroup/user.slice/server");
        let dir = own.join(format!("{GROUP_PREFIX}{}-s1", std::process::id()));
        let read = |file: &str| std::fs::read_to_string(dir.join(file)).unwrap();
        assert_eq!(
            std::fs::read_to_string(own.join("cgroup.subtree_control")).unwrap(),
            "+memory +pids +cpu"
        );
        assert_eq!(read("memory.max"), (64u64 << 20).to_string());
        assert_eq!(read("pids.max"), "32");
        assert_eq!(read("cpu.max"), "50000 100000");
        group.attach(4242).unwrap();
        assert_eq!(read("cgroup.procs"), "4242");
        assert!(group.kill_all());
        assert_eq!(read("cgroup.kill"), "1");
        for file in [
            "memory.max",
            "pids.max",
            "cpu.max",
            "cgroup.procs",
            "cgroup.kill",
        ] {
            std::fs::remove_file(dir.join(file)).unwrap();
        }
        group.remove();
        assert!(!dir.exists());
    }

    #[test]
    fn v2_without_limits_creates_only_the_group() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = fake_v2(tmp.path());
        let limits = CgroupLimits {
            memory_bytes: None,
            pids: None,
            cpu_millicores: None,
        };
        let mut group = layout.create("s1", &limits).unwrap();
        assert_eq!(group.dirs().len(), 1);
        assert!(!group.dirs()[0].join("memory.max").exists());
        group.remove();
    }

    #[test]
    fn sweep_removes_only_our_empty_groups() {
        let tmp = tempfile::tempdir().unwrap();
        let layout = fake_v2(tmp.path());
        let own = tmp.path().join("sys/fs/cgroup/user.slice/server");
        // pid 0 is never a live process; our own pid is.
        std::fs::create_dir(own.join(format!("{GROUP_PREFIX}0-old"))).unwrap();
        let ours = own.join(format!("{GROUP_PREFIX}{}-busy", std::process::id()));
        std::fs::create_dir(&ours).unwrap();
        std::fs::create_dir(own.join("someone-else")).unwrap();
        layout.sweep_stale();
        assert!(!own.join(format!("{GROUP_PREFIX}0-old")).exists());
        assert!(ours.exists());
        assert!(own.join("someone-else").exists());
    }
}
