//! The server's side of the init agent protocol: async framing, and [`AgentClient`], which
//! sends calls, matches results to them by id, and sends cancellations. One reader task per
//! sandbox, owned by the client and aborted with it. Owns no sandbox life cycle.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::error::SandboxError;
use crate::protocol::{HostMessage, InitMessage, MAX_FRAME_BYTES};

pub(crate) async fn write_frame_async<T: Serialize>(
    writer: &mut (impl AsyncWriteExt + Unpin),
    message: &T,
) -> std::io::Result<()> {
    let body = serde_json::to_vec(message)?;
    if body.len() > MAX_FRAME_BYTES {
        return Err(std::io::Error::other(format!(
            "message of {} bytes exceeds the {MAX_FRAME_BYTES}-byte frame limit",
            body.len()
        )));
    }
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(&body);
    writer.write_all(&frame).await?;
    writer.flush().await
}

pub(crate) async fn read_frame_async<T: DeserializeOwned>(
    reader: &mut (impl AsyncReadExt + Unpin),
) -> std::io::Result<Option<T>> {
    let mut length = [0u8; 4];
    match reader.read_exact(&mut length).await {
        Ok(_) => {}
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
    reader.read_exact(&mut body).await?;
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(std::io::Error::other)
}

/// Room kept in a frame for the call's envelope (id, tool name, field names).
const FRAME_OVERHEAD_BYTES: usize = 1024;

/// What a call produced, or that it was cancelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallOutcome {
    Done { text: String, is_error: bool },
    Cancelled,
}

type Pending = Mutex<HashMap<u64, oneshot::Sender<(String, bool)>>>;

/// A connection to one sandbox's init agent.
pub struct AgentClient {
    writer: tokio::sync::Mutex<OwnedWriteHalf>,
    pending: std::sync::Arc<Pending>,
    next_id: AtomicU64,
    reader: tokio::task::JoinHandle<()>,
    /// Fired when the agent's socket closes (the sandbox died).
    closed: CancellationToken,
}

impl Drop for AgentClient {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl AgentClient {
    pub(crate) fn new(stream: UnixStream) -> AgentClient {
        let (mut read_half, write_half) = stream.into_split();
        let pending: std::sync::Arc<Pending> = std::sync::Arc::default();
        let closed = CancellationToken::new();
        let reader = tokio::spawn({
            let (pending, closed) = (pending.clone(), closed.clone());
            async move {
                while let Ok(Some(message)) = read_frame_async::<InitMessage>(&mut read_half).await
                {
                    if let InitMessage::Result { id, text, is_error } = message
                        && let Some(waiter) = lock(&pending).remove(&id)
                    {
                        let _ = waiter.send((text, is_error));
                    }
                }
                // Dropping the senders wakes every waiter with "lost".
                lock(&pending).clear();
                closed.cancel();
            }
        });
        AgentClient {
            writer: tokio::sync::Mutex::new(write_half),
            pending,
            next_id: AtomicU64::new(1),
            reader,
            closed,
        }
    }

    /// True once the agent's socket has closed.
    pub fn is_closed(&self) -> bool {
        self.closed.is_cancelled()
    }

    /// Runs one tool call; on `cancel`, tells the agent to stop it and returns `Cancelled`
    /// without waiting for the agent's answer.
    pub async fn call(
        &self,
        tool: &str,
        input: &serde_json::Value,
        cancel: &CancellationToken,
    ) -> Result<CallOutcome, SandboxError> {
        let size = serde_json::to_vec(input)
            .map(|body| body.len())
            .unwrap_or(0);
        if size + FRAME_OVERHEAD_BYTES > MAX_FRAME_BYTES {
            return Ok(CallOutcome::Done {
                text: format!(
                    "The input of this `{tool}` call is {size} bytes; the sandbox accepts at most \
                     {} bytes per call. Split the work into smaller calls.",
                    MAX_FRAME_BYTES - FRAME_OVERHEAD_BYTES
                ),
                is_error: true,
            });
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (sender, receiver) = oneshot::channel();
        lock(&self.pending).insert(id, sender);
        let message = HostMessage::Call {
            id,
            tool: tool.to_owned(),
            input: input.clone(),
        };
        if let Err(error) = self.send(&message).await {
            lock(&self.pending).remove(&id);
            return Err(SandboxError::Lost(format!("cannot send the call: {error}")));
        }
        tokio::select! {
            answer = receiver => match answer {
                Ok((text, is_error)) => Ok(CallOutcome::Done { text, is_error }),
                Err(_) => Err(SandboxError::Lost("the sandbox's init agent exited during the call".into())),
            },
            () = cancel.cancelled() => {
                lock(&self.pending).remove(&id);
                let _ = self.send(&HostMessage::Cancel { id }).await;
                Ok(CallOutcome::Cancelled)
            }
        }
    }

    async fn send(&self, message: &HostMessage) -> std::io::Result<()> {
        let mut writer = self.writer.lock().await;
        write_frame_async(&mut *writer, message).await
    }
}
