//! Building a sandbox's world, inside the setup process (real root) and its forked PID 1:
//! the session's overlay root, the user namespace handshake, the remaining namespaces, and
//! `/proc`, `/dev`, `/tmp`, `pivot_root`, hostname and loopback. Owns the order of these
//! steps (each needs the privilege the previous one still had); owns no policy values.

use std::io;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use crate::disk;
use crate::protocol::{self, HostMessage, InitMessage, SandboxSpec, UpperStorage};
use crate::sys;

/// A failed setup step, sent to the server as `SetupFailed`.
#[derive(Debug)]
pub(crate) struct StepFailed {
    pub step: String,
    pub error: io::Error,
}

pub(crate) type StepResult<T> = Result<T, StepFailed>;

pub(crate) trait Step<T> {
    fn step(self, name: &str) -> StepResult<T>;
}

impl<T> Step<T> for io::Result<T> {
    fn step(self, name: &str) -> StepResult<T> {
        self.map_err(|error| StepFailed {
            step: name.to_owned(),
            error,
        })
    }
}

const NOSUID_NODEV_NOEXEC: libc::c_ulong = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;

/// Device nodes bind-mounted from the host into the sandbox's `/dev`.
pub const DEVICE_NODES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// Stage 1, as real root in a private mount namespace: mount the disk image (if any) and the
/// overlay root. Nothing becomes visible on the host.
pub(crate) fn mount_session_root(spec: &SandboxSpec) -> StepResult<()> {
    enter_private_mount_namespace()?;
    let dir = mount_storage(&spec.storage, Some(spec.id_base))?;
    let lower: Vec<String> = spec
        .lower_layers
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let options = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.join(":"),
        dir.join("upper").display(),
        dir.join("work").display()
    );
    sys::mount(
        Some("overlay"),
        &spec.merged,
        Some("overlay"),
        0,
        Some(&options),
    )
    .step("mount overlay")?;
    // From here on the root is reached from the working directory: after the user namespace
    // exists, the sandbox's root user (an unprivileged host uid) may not be allowed to walk
    // the data dir's path (`/root/…` or a 0700 temp dir), but it never has to.
    std::env::set_current_dir(&spec.merged).step("enter the session root")
}

pub(crate) fn enter_private_mount_namespace() -> StepResult<()> {
    sys::unshare(libc::CLONE_NEWNS).step("unshare mount namespace")?;
    sys::mount(
        None,
        Path::new("/"),
        None,
        libc::MS_REC | libc::MS_PRIVATE,
        None,
    )
    .step("make / private")
}

/// Mounts the session's storage when it is an image and returns the directory that holds
/// `upper` and `work`. With `id_base`, also makes sure both exist and that sandbox root owns
/// the upper (without it, the storage is only mounted: archives keep the owners they carry).
pub(crate) fn mount_storage(storage: &UpperStorage, id_base: Option<u32>) -> StepResult<PathBuf> {
    let dir = match storage {
        UpperStorage::Directory { dir } => dir.clone(),
        UpperStorage::Image { image, mount_at } => {
            disk::mount_image(image, mount_at).step("mount disk image")?;
            mount_at.clone()
        }
    };
    let Some(id_base) = id_base else {
        return Ok(dir);
    };
    let upper = dir.join("upper");
    if !upper.exists() {
        std::fs::create_dir(&upper).step("create upper")?;
    }
    // The merged root's owner is the upper's: sandbox root must own it.
    std::os::unix::fs::lchown(&upper, Some(id_base), Some(id_base)).step("chown upper")?;
    std::fs::set_permissions(&upper, std::fs::Permissions::from_mode(0o755)).step("chmod upper")?;
    let work = dir.join("work");
    if !work.exists() {
        std::fs::create_dir(&work).step("create work")?;
    }
    Ok(dir)
}

/// Stage 2: create the user namespace, let the server map it (and join the cgroups), become
/// root in it, then create every other namespace owned by it.
pub(crate) fn enter_sandbox_namespaces(stream: &mut UnixStream) -> StepResult<()> {
    sys::unshare(libc::CLONE_NEWUSER).step("unshare user namespace")?;
    protocol::write_frame(stream, &InitMessage::UsernsReady).step("report user namespace")?;
    match protocol::read_frame::<HostMessage>(stream).step("wait for id maps")? {
        Some(HostMessage::Mapped) => {}
        _ => {
            return Err(StepFailed {
                step: "wait for id maps".into(),
                error: io::Error::other("the server did not map the user namespace"),
            });
        }
    }
    sys::become_root().step("become root in the user namespace")?;
    let flags = libc::CLONE_NEWNS
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWUTS
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWNET
        | libc::CLONE_NEWCGROUP;
    sys::unshare(flags).step("unshare namespaces")
}

/// Stage 3, in PID 1: the pseudo file systems, `pivot_root` into the merged tree, hostname,
/// loopback, and `/workspace` as the working directory.
pub(crate) fn build_root(spec: &SandboxSpec) -> StepResult<()> {
    // Stage 1 left the working directory in the overlay root; every path below is relative
    // to it (see `mount_session_root`). The overlay was mounted by real root, so in this
    // namespace it is locked to its parent and `pivot_root` refuses it (EINVAL). A bind of it
    // onto itself made here is ours; stepping out and back in lands on that bind.
    let here = Path::new(".");
    sys::mount(Some("."), here, None, libc::MS_BIND | libc::MS_REC, None)
        .step("bind the root onto itself")?;
    let name = spec.merged.file_name().unwrap_or_default();
    std::env::set_current_dir("..").step("step out of the session root")?;
    std::env::set_current_dir(name).step("enter the bound root")?;
    let root = here;
    let proc_dir = ensure_dir(root, "proc")?;
    sys::mount(
        Some("proc"),
        &proc_dir,
        Some("proc"),
        NOSUID_NODEV_NOEXEC,
        None,
    )
    .step("mount /proc")?;
    build_dev(root, spec.tmpfs_bytes)?;
    let tmp = ensure_dir(root, "tmp")?;
    let tmp_options = format!("mode=1777,size={}", spec.tmpfs_bytes);
    sys::mount(
        Some("tmpfs"),
        &tmp,
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV,
        Some(&tmp_options),
    )
    .step("mount /tmp")?;
    sys::pivot_root_here().step("pivot_root")?;
    sys::umount_detach(Path::new(".")).step("detach the old root")?;
    std::env::set_current_dir("/").step("chdir /")?;
    sys::sethostname(&spec.hostname).step("sethostname")?;
    sys::loopback_up().step("bring up loopback")?;
    std::fs::create_dir_all("/workspace").step("create /workspace")?;
    std::env::set_current_dir("/workspace").step("chdir /workspace")
}

fn ensure_dir(root: &Path, name: &str) -> StepResult<PathBuf> {
    let dir = root.join(name);
    if !dir.is_dir() {
        std::fs::create_dir_all(&dir).step(&format!("create /{name}"))?;
    }
    Ok(dir)
}

fn build_dev(root: &Path, tmpfs_bytes: u64) -> StepResult<()> {
    let dev = ensure_dir(root, "dev")?;
    sys::mount(
        Some("tmpfs"),
        &dev,
        Some("tmpfs"),
        libc::MS_NOSUID | libc::MS_NOEXEC,
        Some("mode=755,size=1m"),
    )
    .step("mount /dev")?;
    for name in DEVICE_NODES {
        let node = dev.join(name);
        std::fs::File::create(&node).step(&format!("create /dev/{name}"))?;
        let host = Path::new("/dev").join(name);
        sys::mount(host.to_str(), &node, None, libc::MS_BIND, None)
            .step(&format!("bind /dev/{name}"))?;
    }
    let pts = ensure_dir(&dev, "pts")?;
    sys::mount(
        Some("devpts"),
        &pts,
        Some("devpts"),
        libc::MS_NOSUID | libc::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=620"),
    )
    .step("mount /dev/pts")?;
    let shm = ensure_dir(&dev, "shm")?;
    let shm_options = format!("mode=1777,size={tmpfs_bytes}");
    sys::mount(
        Some("tmpfs"),
        &shm,
        Some("tmpfs"),
        NOSUID_NODEV_NOEXEC,
        Some(&shm_options),
    )
    .step("mount /dev/shm")?;
    let links = [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ];
    for (name, target) in links {
        symlink(target, dev.join(name)).step(&format!("link /dev/{name}"))?;
    }
    Ok(())
}
