//! Idle detection for one proxied connection: every stream of the connection (client and
//! destination) is wrapped in [`Tracked`], which stamps a shared [`Activity`] whenever bytes
//! move in either direction; [`Activity::idle_for`] completes once nothing moved for the idle
//! timeout. One timer covers head reads, body relays and tunnels alike, so a long download
//! that the client never answers is not mistaken for an idle connection.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// The last time bytes moved on a connection, shared by its streams.
#[derive(Debug, Clone)]
pub(crate) struct Activity {
    started: Instant,
    last_millis: Arc<AtomicU64>,
}

impl Activity {
    pub(crate) fn new() -> Activity {
        Activity {
            started: Instant::now(),
            last_millis: Arc::new(AtomicU64::new(0)),
        }
    }

    fn touch(&self) {
        let elapsed = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_millis.store(elapsed, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.started + Duration::from_millis(self.last_millis.load(Ordering::Relaxed))
    }

    /// Completes when no bytes have moved for `timeout`.
    pub(crate) async fn idle_for(&self, timeout: Duration) {
        loop {
            let deadline = self.last() + timeout;
            tokio::time::sleep_until(deadline).await;
            if self.last() + timeout <= Instant::now() {
                return;
            }
        }
    }
}

/// A stream that reports progress to an [`Activity`].
#[derive(Debug)]
pub(crate) struct Tracked<S> {
    inner: S,
    activity: Activity,
}

impl<S> Tracked<S> {
    pub(crate) fn new(inner: S, activity: Activity) -> Tracked<S> {
        Tracked { inner, activity }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test(start_paused = true)]
    async fn idle_timer_restarts_when_bytes_move() {
        let activity = Activity::new();
        let (a, mut b) = tokio::io::duplex(64);
        let mut tracked = Tracked::new(a, activity.clone());
        let idle = activity.idle_for(Duration::from_secs(10));
        tokio::pin!(idle);
        tokio::time::sleep(Duration::from_secs(8)).await;
        b.write_all(b"x").await.unwrap();
        let mut byte = [0u8; 1];
        tracked.read_exact(&mut byte).await.unwrap();
        // 8 s passed before the read, so an un-restarted timer would fire at 10 s.
        let fired_early = tokio::time::timeout(Duration::from_secs(9), &mut idle).await;
        assert!(fired_early.is_err());
        tokio::time::timeout(Duration::from_secs(2), &mut idle)
            .await
            .unwrap();
    }
}
