//! The wire protocol between the server and a sandbox's init agent over their socketpair:
//! length-prefixed JSON frames (u32 big-endian length, then the JSON body). Owns the message
//! types and the blocking framing used inside the sandbox; the async side lives in
//! `client`. Versioned: the init agent announces [`PROTOCOL_VERSION`] in `Ready`.

use std::io::{Read, Write};
use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Bumped whenever a message changes shape.
pub const PROTOCOL_VERSION: u32 = 1;
/// Largest frame either side accepts (a `write` call carries the whole file).
pub const MAX_FRAME_BYTES: usize = 64 * 1024 * 1024;

/// Messages from the server to the setup process / init agent.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HostMessage {
    /// First frame: what to do.
    Start(Box<StartSpec>),
    /// The uid/gid maps are written and the cgroups joined; setup continues.
    Mapped,
    /// Run one tool call.
    Call {
        id: u64,
        tool: String,
        input: serde_json::Value,
    },
    /// Stop call `id` (a running `bash` command is killed).
    Cancel { id: u64 },
}

/// Messages from the setup process / init agent to the server.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InitMessage {
    /// The user namespace exists; the server must write its id maps.
    UsernsReady,
    /// PID 1 of the sandbox was forked; `pid` is its pid on the host.
    InitStarted { pid: i32 },
    /// Setup finished; tool calls may be sent.
    Ready { version: u32 },
    /// Setup failed at `step`; the process exits after sending this.
    SetupFailed { step: String, error: String },
    /// The result of call `id`.
    Result {
        id: u64,
        text: String,
        is_error: bool,
    },
}

/// What the setup process is asked to do.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum StartSpec {
    /// Build the sandbox and run the init agent in it.
    Sandbox(SandboxSpec),
    /// Join the namespaces of a running sandbox and exec a command (operator CLI).
    Join(JoinSpec),
    /// Mount a session's upper (its disk image if any) privately and run tar over it.
    Archive(ArchiveSpec),
}

/// Where a session's upper and work directories live.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum UpperStorage {
    /// `<dir>/upper` and `<dir>/work` on the host file system.
    Directory { dir: PathBuf },
    /// An ext4 image (the session's disk cap) mounted at `mount_at`, holding `upper` and
    /// `work`.
    Image { image: PathBuf, mount_at: PathBuf },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SandboxSpec {
    /// Read-only layers, topmost first; the base rootfs is last.
    pub lower_layers: Vec<PathBuf>,
    pub storage: UpperStorage,
    /// An empty directory to mount the merged root on (inside a private mount namespace).
    pub merged: PathBuf,
    pub hostname: String,
    /// The first host uid/gid of the sandbox's range (sandbox root maps to it).
    pub id_base: u32,
    /// The complete environment of the sandbox's shell.
    pub env: Vec<(String, String)>,
    pub rlimits: Rlimits,
    /// Size of the `/tmp` and `/dev/shm` tmpfs mounts, in bytes.
    pub tmpfs_bytes: u64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Rlimits {
    pub nofile: u64,
    /// Largest file a process may write, in bytes (`None` = unlimited).
    pub fsize: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinSpec {
    /// Host pid of the sandbox's init.
    pub init_pid: i32,
    pub command: Vec<String>,
    pub env: Vec<(String, String)>,
    pub rlimits: Rlimits,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArchiveSpec {
    pub storage: UpperStorage,
    /// The tar+zstd file to write (`create`) or read (`extract`).
    pub archive: PathBuf,
    pub extract: bool,
}

/// Writes one frame.
pub fn write_frame<T: Serialize>(writer: &mut impl Write, message: &T) -> std::io::Result<()> {
    let body = serde_json::to_vec(message)?;
    let length = u32::try_from(body.len())
        .ok()
        .filter(|&n| n as usize <= MAX_FRAME_BYTES)
        .ok_or_else(|| std::io::Error::other("frame too large"))?;
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&length.to_be_bytes());
    frame.extend_from_slice(&body);
    writer.write_all(&frame)?;
    writer.flush()
}

/// Reads one frame; `Ok(None)` at a clean end of stream.
pub fn read_frame<T: DeserializeOwned>(reader: &mut impl Read) -> std::io::Result<Option<T>> {
    let mut length = [0u8; 4];
    match reader.read_exact(&mut length) {
        Ok(()) => {}
        Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(error) => return Err(error),
    }
    let length = u32::from_be_bytes(length) as usize;
    if length > MAX_FRAME_BYTES {
        return Err(std::io::Error::other(format!(
            "frame of {length} bytes is too large"
        )));
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let mut wire = Vec::new();
        write_frame(&mut wire, &InitMessage::Ready { version: 1 }).unwrap();
        write_frame(&mut wire, &HostMessage::Cancel { id: 7 }).unwrap();
        let mut reader = wire.as_slice();
        let ready: InitMessage = read_frame(&mut reader).unwrap().unwrap();
        assert!(matches!(ready, InitMessage::Ready { version: 1 }));
        let cancel: HostMessage = read_frame(&mut reader).unwrap().unwrap();
        assert!(matches!(cancel, HostMessage::Cancel { id: 7 }));
        assert!(read_frame::<HostMessage>(&mut reader).unwrap().is_none());
    }

    #[test]
    fn oversized_frame_is_refused() {
        let mut wire = ((MAX_FRAME_BYTES + 1) as u32).to_be_bytes().to_vec();
        wire.extend_from_slice(b"{}");
        assert!(read_frame::<HostMessage>(&mut wire.as_slice()).is_err());
    }
}
