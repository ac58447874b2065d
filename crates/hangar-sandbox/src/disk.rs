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

/// Spare images kept ready (per size) so a new session's image is a rename away.
pub const SPARE_IMAGES: usize = 1;

/// Gives a new session its image: a spare from `spare_dir` when one is ready (a rename on
/// the same file system), else a fresh copy.
pub async fn take_image(
    templates_dir: &Path,
    spare_dir: &Path,
    image: &Path,
    bytes: u64,
) -> Result<(), String> {
    for spare in spares(spare_dir, bytes) {
        if std::fs::rename(&spare, image).is_ok() {
            return Ok(());
        }
    }
    create_image(templates_dir, image, bytes).await
}

/// Makes spares until there are [`SPARE_IMAGES`] of this size.
pub async fn refill_spares(
    templates_dir: &Path,
    spare_dir: &Path,
    bytes: u64,
) -> Result<(), String> {
    std::fs::create_dir_all(spare_dir)
        .map_err(|e| format!("create {}: {e}", spare_dir.display()))?;
    while spares(spare_dir, bytes).len() < SPARE_IMAGES {
        let staging = spare_dir.join(format!(".{bytes}-{}.tmp", nanos_token()));
        let _ = std::fs::remove_file(&staging);
        create_image(templates_dir, &staging, bytes).await?;
        let name = spare_dir.join(format!("{bytes}-{}.img", nanos_token()));
        std::fs::rename(&staging, &name).map_err(|e| format!("publish {}: {e}", name.display()))?;
    }
    Ok(())
}

fn spares(spare_dir: &Path, bytes: u64) -> Vec<std::path::PathBuf> {
    let prefix = format!("{bytes}-");
    let Ok(entries) = std::fs::read_dir(spare_dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".img"))
        })
        .collect()
}

fn nanos_token() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{}-{nanos}", std::process::id())
}

/// Creates the session's image: a sparse copy of a blank, formatted image of the same size
/// kept under `<templates>/disk/` (formatted once; a copy of its few MB of metadata is much
/// faster than `mkfs` on every new session). A failed copy removes the image.
pub async fn create_image(templates_dir: &Path, image: &Path, bytes: u64) -> Result<(), String> {
    let blank = blank_image(templates_dir, bytes).await?;
    let (blank_for_copy, image_for_copy) = (blank.clone(), image.to_path_buf());
    let copied = tokio::task::spawn_blocking(move || sparse_copy(&blank_for_copy, &image_for_copy))
        .await
        .map_err(|e| e.to_string())?;
    copied.map_err(|e| {
        let _ = std::fs::remove_file(image);
        format!("copy {} to {}: {e}", blank.display(), image.display())
    })
}

/// The blank formatted image of `bytes`, made on first use (atomically: format under a
/// unique name, then rename, so concurrent makers never see a half-made image).
async fn blank_image(templates_dir: &Path, bytes: u64) -> Result<std::path::PathBuf, String> {
    let dir = templates_dir.join("disk");
    let blank = dir.join(format!("ext4-{bytes}.img"));
    if blank.exists() {
        return Ok(blank);
    }
    std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let staging = dir.join(format!(".ext4-{bytes}.{}.img", std::process::id()));
    format_image(&staging, bytes).await?;
    std::fs::rename(&staging, &blank).map_err(|e| format!("publish {}: {e}", blank.display()))?;
    Ok(blank)
}

async fn format_image(image: &Path, bytes: u64) -> Result<(), String> {
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

/// Copies only the data extents of `from` (found with `SEEK_DATA`/`SEEK_HOLE`), so the copy
/// stays as sparse as the original.
fn sparse_copy(from: &Path, to: &Path) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let source = std::fs::File::open(from)?;
    let target = std::fs::File::options()
        .write(true)
        .create_new(true)
        .open(to)?;
    let length = source.metadata()?.len();
    let mut buffer = vec![0u8; COPY_CHUNK_BYTES];
    let mut offset = 0u64;
    while offset < length {
        let Some(data) = seek(&source, offset, libc::SEEK_DATA)? else {
            break;
        };
        let hole = seek(&source, data, libc::SEEK_HOLE)?.unwrap_or(length);
        let mut position = data;
        while position < hole {
            let want = ((hole - position) as usize).min(buffer.len());
            let read = source.read_at(&mut buffer[..want], position)?;
            if read == 0 {
                break;
            }
            target.write_all_at(&buffer[..read], position)?;
            position += read as u64;
        }
        offset = hole;
    }
    // No fsync: the image is used at once through the page cache, and a copy cut short by
    // a crash is redone (a session whose sandbox never started has no files to lose).
    target.set_len(length)
}

/// `lseek` with `SEEK_DATA`/`SEEK_HOLE`; `None` when there is no more data (ENXIO).
fn seek(file: &std::fs::File, offset: u64, whence: libc::c_int) -> io::Result<Option<u64>> {
    // SAFETY: lseek takes an fd we borrow and integers.
    let result = unsafe { libc::lseek(file.as_raw_fd(), offset as libc::off_t, whence) };
    if result >= 0 {
        return Ok(Some(result as u64));
    }
    let error = io::Error::last_os_error();
    if error.raw_os_error() == Some(libc::ENXIO) {
        Ok(None)
    } else {
        Err(error)
    }
}

const COPY_CHUNK_BYTES: usize = 1 << 20;

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
