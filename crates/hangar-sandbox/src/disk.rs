//! The per-session disk cap: a sparse ext4 image holding the session's `upper` and `work`,
//! attached to a loop device with autoclear and mounted only inside the sandbox's private
//! mount namespace (so it disappears, and the loop device frees itself, when the sandbox
//! dies). Owns image creation and loop attachment; never mounts anything on the host.

use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::Duration;

use crate::sys;

/// `mkfs.ext4` of a fresh image may take this long before we give up.
pub const MKFS_TIMEOUT: Duration = Duration::from_secs(60);
/// Attempts to grab a free loop device when others race for the same one.
const LOOP_ATTACH_ATTEMPTS: usize = 16;

const LOOP_CTL_GET_FREE: libc::c_ulong = 0x4C82;
const LOOP_CONFIGURE: libc::c_ulong = 0x4C0A;
const LO_FLAGS_AUTOCLEAR: u32 = 4;

#[repr(C)]
struct LoopInfo64 {
    device: u64,
    inode: u64,
    rdevice: u64,
    offset: u64,
    size_limit: u64,
    number: u32,
    encrypt_type: u32,
    encrypt_key_size: u32,
    flags: u32,
    file_name: [u8; 64],
    crypt_name: [u8; 64],
    encrypt_key: [u8; 32],
    init: [u64; 2],
}

#[repr(C)]
struct LoopConfig {
    fd: u32,
    block_size: u32,
    info: LoopInfo64,
    reserved: [u64; 8],
}

/// Creates a sparse image of `bytes` and formats it as ext4 (host side, before the sandbox
/// starts). A failed format removes the image.
pub async fn create_image(image: &Path, bytes: u64) -> Result<(), String> {
    let file =
        std::fs::File::create(image).map_err(|e| format!("create {}: {e}", image.display()))?;
    file.set_len(bytes)
        .map_err(|e| format!("size {}: {e}", image.display()))?;
    drop(file);
    let run = tokio::process::Command::new("mkfs.ext4")
        .args([
            "-q",
            "-F",
            "-m",
            "0",
            "-E",
            "lazy_itable_init=1,lazy_journal_init=1",
        ])
        .arg(image)
        .kill_on_drop(true)
        .output();
    let outcome = match tokio::time::timeout(MKFS_TIMEOUT, run).await {
        Ok(Ok(output)) if output.status.success() => Ok(()),
        Ok(Ok(output)) => Err(format!(
            "mkfs.ext4 failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )),
        Ok(Err(error)) => Err(format!(
            "cannot run mkfs.ext4 (is e2fsprogs installed?): {error}"
        )),
        Err(_) => Err(format!("mkfs.ext4 did not finish within {MKFS_TIMEOUT:?}")),
    };
    if outcome.is_err() {
        let _ = std::fs::remove_file(image);
    }
    outcome
}

/// Attaches `image` to a free loop device (autoclear) and mounts it at `mount_at`.
pub(crate) fn mount_image(image: &Path, mount_at: &Path) -> io::Result<()> {
    let loop_device = attach_loop(image)?;
    std::fs::create_dir_all(mount_at)?;
    let device = format!("/dev/loop{}", loop_device.1);
    sys::mount(Some(&device), mount_at, Some("ext4"), libc::MS_NODEV, None)
    // The loop fd closes here; autoclear detaches the device once the mount is gone too.
}

fn attach_loop(image: &Path) -> io::Result<(std::fs::File, i32)> {
    let backing = std::fs::File::options()
        .read(true)
        .write(true)
        .open(image)?;
    let control = std::fs::File::options()
        .read(true)
        .write(true)
        .open("/dev/loop-control")?;
    let mut last_error = io::Error::other("no loop device attempt made");
    for _ in 0..LOOP_ATTACH_ATTEMPTS {
        // SAFETY: LOOP_CTL_GET_FREE takes no argument and returns a device number.
        let number = unsafe { libc::ioctl(control.as_raw_fd(), LOOP_CTL_GET_FREE) };
        if number < 0 {
            return Err(io::Error::last_os_error());
        }
        let device = std::fs::File::options()
            .read(true)
            .write(true)
            .open(format!("/dev/loop{number}"))?;
        // SAFETY: LoopConfig is plain old data; all-zero is its documented default.
        let mut config: LoopConfig = unsafe { std::mem::zeroed() };
        config.fd = backing.as_raw_fd() as u32;
        config.info.flags = LO_FLAGS_AUTOCLEAR;
        // SAFETY: LOOP_CONFIGURE reads a valid `loop_config` that outlives the call.
        let result = unsafe { libc::ioctl(device.as_raw_fd(), LOOP_CONFIGURE, &config) };
        if result == 0 {
            return Ok((device, number));
        }
        last_error = io::Error::last_os_error();
        if last_error.raw_os_error() != Some(libc::EBUSY) {
            return Err(last_error);
        }
    }
    Err(last_error)
}
