//! A session's directory on the host and its mount lock:
//! `<data>/sessions/<id>/{lock, disk.img | upper + work, disk/, merged/, init.pid}`.
//! The `flock` on `lock` is held for as long as anything has the session's file system
//! mounted, so overlayfs never sees the same upper twice. Owns paths and the lock only.

use std::path::{Path, PathBuf};

use crate::error::SandboxError;
use crate::protocol::UpperStorage;
use crate::sys;

/// Longest accepted session id (ids become directory names).
pub const MAX_SESSION_ID_LEN: usize = 128;

#[derive(Debug, Clone)]
pub struct SessionPaths {
    pub root: PathBuf,
}

impl SessionPaths {
    pub fn new(data_dir: &Path, session_id: &str) -> Result<SessionPaths, SandboxError> {
        let valid = !session_id.is_empty()
            && session_id.len() <= MAX_SESSION_ID_LEN
            && session_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid {
            return Err(SandboxError::InvalidSessionId(session_id.to_owned()));
        }
        Ok(SessionPaths {
            root: data_dir.join("sessions").join(session_id),
        })
    }

    pub fn lock_file(&self) -> PathBuf {
        self.root.join("lock")
    }

    pub fn image(&self) -> PathBuf {
        self.root.join("disk.img")
    }

    pub fn merged(&self) -> PathBuf {
        self.root.join("merged")
    }

    /// Written while a sandbox runs: the host pid of its PID 1 (for `sandbox exec`).
    pub fn init_pid_file(&self) -> PathBuf {
        self.root.join("init.pid")
    }

    /// Where the upper lives: in the disk image when there is one (or a cap is configured),
    /// else directly in the session directory.
    pub fn storage(&self, disk_cap: Option<u64>) -> UpperStorage {
        if disk_cap.is_some() || self.image().exists() {
            UpperStorage::Image {
                image: self.image(),
                mount_at: self.root.join("disk"),
            }
        } else {
            UpperStorage::Directory {
                dir: self.root.clone(),
            }
        }
    }

    pub fn create_dirs(&self) -> Result<(), SandboxError> {
        for dir in [self.root.clone(), self.merged(), self.root.join("disk")] {
            std::fs::create_dir_all(&dir)
                .map_err(SandboxError::io(format!("create {}", dir.display())))?;
        }
        Ok(())
    }

    /// Takes the session's mount lock without waiting.
    pub fn lock(&self) -> Result<SessionLock, SandboxError> {
        let path = self.lock_file();
        let file = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(SandboxError::io(format!("open {}", path.display())))?;
        let session = self
            .root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match sys::try_lock_exclusive(&file) {
            Ok(true) => Ok(SessionLock { _file: file }),
            Ok(false) => Err(SandboxError::SessionBusy(session, path)),
            Err(error) => Err(SandboxError::io(format!("lock {}", path.display()))(error)),
        }
    }
}

/// Held while the session's file system is mounted; released on drop.
#[derive(Debug)]
pub struct SessionLock {
    _file: std::fs::File,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_could_escape_the_directory_are_refused() {
        let data = Path::new("/data");
        for bad in ["", "..", "a/b", "a b", &"x".repeat(129)] {
            assert!(SessionPaths::new(data, bad).is_err(), "{bad:?}");
        }
        assert!(SessionPaths::new(data, "sesn_01ABC-def").is_ok());
    }

    #[test]
    fn second_lock_on_the_same_session_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let paths = SessionPaths::new(tmp.path(), "s1").unwrap();
        paths.create_dirs().unwrap();
        let held = paths.lock().unwrap();
        assert!(matches!(paths.lock(), Err(SandboxError::SessionBusy(..))));
        drop(held);
        assert!(paths.lock().is_ok());
    }
}
