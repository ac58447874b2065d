//! `CONNECT host:port`: check the name, resolve, check the addresses, connect to a checked
//! address, answer `200 Connection established` and copy bytes both ways until either side
//! closes or the connection goes idle. The tunnel's content (usually TLS) is never inspected.

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::activity::Tracked;
use super::http1::RequestHead;
use super::{Client, Connection, Decision, Outcome, error_status, plain_response};
use crate::host::Destination;
use crate::resolve::{EgressError, connect_first, resolve_checked};

/// The port assumed when a `CONNECT` target has none.
const DEFAULT_CONNECT_PORT: u16 = 443;

impl Connection<'_> {
    /// Handles a `CONNECT`; the client connection ends with the tunnel.
    pub(crate) async fn tunnel<S>(&self, mut client: Client<S>, request: &RequestHead)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let destination = match Destination::parse_authority(&request.target, DEFAULT_CONNECT_PORT)
        {
            Ok(destination) => destination,
            Err(error) => {
                let message = format!("invalid CONNECT target: {error}");
                return self.refuse(&mut client, 400, &message, "malformed").await;
            }
        };
        let host = destination.host.to_string();
        let upstream = match self.open(&destination).await {
            Ok(upstream) => upstream,
            Err(error) => {
                let outcome = Outcome::from_error("connect", &host, destination.port, &error);
                self.proxy.record(self.label, outcome);
                let message = format!("CONNECT {destination} refused: {error}");
                let reply = plain_response(error_status(&error), &message, true);
                let _ = client.write_all(&reply).await;
                let _ = client.flush().await;
                return;
            }
        };
        let (bytes_up, bytes_down) = self.pump(client, upstream).await;
        let outcome = Outcome {
            kind: "connect",
            host: &host,
            port: destination.port,
            decision: Decision::Allowed,
            reason: "allowed",
            bytes_up,
            bytes_down,
        };
        self.proxy.record(self.label, outcome);
    }

    /// Resolves, checks and connects; the stream is tracked for idleness.
    async fn open(
        &self,
        destination: &Destination,
    ) -> Result<Tracked<tokio::net::TcpStream>, EgressError> {
        let addrs = resolve_checked(self.policy, &self.proxy.resolver, destination).await?;
        let timeout = self.proxy.limits.connect_timeout;
        let (stream, _) = connect_first(destination, &addrs, timeout).await?;
        Ok(Tracked::new(stream, self.activity.clone()))
    }

    /// Answers 200, forwards bytes the client sent early, then copies both ways. Returns
    /// (client → destination, destination → client) byte counts.
    async fn pump<S>(
        &self,
        mut client: Client<S>,
        mut upstream: Tracked<tokio::net::TcpStream>,
    ) -> (u64, u64)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send,
    {
        let established = b"HTTP/1.1 200 Connection established\r\n\r\n";
        if client.write_all(established).await.is_err() || client.flush().await.is_err() {
            return (0, 0);
        }
        // Bytes the client pipelined after the CONNECT head (a TLS ClientHello) are already
        // in our read buffer and belong to the destination.
        let early = client.buffer().to_vec();
        if !early.is_empty() && upstream.write_all(&early).await.is_err() {
            return (0, 0);
        }
        let mut client = client.into_inner();
        let early_len = early.len() as u64;
        match tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
            Ok((up, down)) => (up + early_len, down),
            Err(error) => {
                tracing::debug!(target: "egress", label = self.label, %error, "tunnel ended with an error");
                (early_len, 0)
            }
        }
    }
}
