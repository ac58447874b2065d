//! The proxy end to end over real loopback sockets: a client connection to a proxy listener,
//! local origins reached through the resolver override table, and the private-address
//! opt-in granted only to the origin's name so the same destinations are refused without it.

use std::sync::Arc;
use std::time::Duration;

use hangar_egress::EgressPolicy;
use hangar_egress::proxy::{MAX_HEADER_BYTES, ProxyLimits};
use pretty_assertions::assert_eq;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::support::*;

#[tokio::test]
async fn allowed_forward_request_reaches_the_origin() {
    let origin = start_origin().await;
    let proxy = start_proxy(policy(&[ORIGIN], &[ORIGIN])).await;
    let mut client = Client::connect(&proxy).await;
    let response = client
        .request(&proxy_get(ORIGIN, origin.port, "/hello"))
        .await;
    assert_eq!(response.status, 200);
    assert_eq!(response.body, "hello from origin");
    assert_eq!(proxy.proxy.stats().allowed, 1);
}

#[tokio::test]
async fn forward_request_to_a_host_outside_the_list_gets_403_naming_it() {
    let origin = start_origin().await;
    let proxy = start_proxy(policy(&[ORIGIN], &[ORIGIN, OTHER])).await;
    let mut client = Client::connect(&proxy).await;
    let response = client
        .request(&proxy_get(OTHER, origin.port, "/hello"))
        .await;
    assert_eq!(response.status, 403);
    assert!(response.body.contains("other.test"), "{}", response.body);
    assert!(response.body.contains("allowed hosts"), "{}", response.body);
    assert_eq!(proxy.proxy.stats().denied, 1);
}

#[tokio::test]
async fn wildcard_entries_allow_subdomains_but_not_the_apex() {
    let origin = start_origin().await;
    let proxy = start_proxy(policy(&["*.wild.test"], &["a.wild.test", "wild.test"])).await;
    let mut client = Client::connect(&proxy).await;
    let sub = client
        .request(&proxy_get("A.Wild.Test.", origin.port, "/hello"))
        .await;
    assert_eq!(sub.status, 200);
    let apex = client
        .request(&proxy_get("wild.test", origin.port, "/hello"))
        .await;
    assert_eq!(apex.status, 403);
}

#[tokio::test]
async fn forwarded_requests_are_origin_form_without_hop_by_hop_headers() {
    let mut origin = start_raw_origin(b"HTTP/1.1 204 No Content\r\n\r\n").await;
    let proxy = start_proxy(policy(&[ORIGIN], &[ORIGIN])).await;
    let mut client = Client::connect(&proxy).await;
    let request = format!(
        "GET http://{ORIGIN}:{port}/path?q=1 HTTP/1.1\r\nHost: spoofed.test\r\n\
         Proxy-Authorization: Basic c2VjcmV0\r\nProxy-Connection: keep-alive\r\n\
         Connection: X-Private\r\nX-Private: hop\r\nX-Kept: end-to-end\r\n\r\n",
        port = origin.port
    );
    let response = client.request(&request).await;
    assert_eq!(response.status, 204);
    let seen = origin.requests.recv().await.unwrap();
    assert_eq!(
        seen,
        format!(
            "GET /path?q=1 HTTP/1.1\r\nHost: {ORIGIN}:{}\r\nX-Kept: end-to-end\r\n\
             Connection: close\r\n\r\n",
            origin.port
        )
    );
}

#[tokio::test]
async fn request_and_response_bodies_are_relayed_with_their_framing() {
    let origin = start_origin().await;
    let proxy = start_proxy(policy(&[ORIGIN], &[ORIGIN])).await;
    let mut client = Client::connect(&proxy).await;
    let port = origin.port;
    let sized = client
        .request(&format!(
            "POST http://{ORIGIN}:{port}/echo HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
        ))
        .await;
    assert_eq!(sized.body, "echo:hello");
    let chunked = client
        .request(&format!(
            "POST http://{ORIGIN}:{port}/echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\
             3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
        ))
        .await;
    assert_eq!(chunked.body, "echo:abcde");
}

#[tokio::test]
async fn chunked_responses_with_trailers_pass_through_verbatim() {
    let origin = start_raw_origin(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
          4\r\nwiki\r\n5;x=y\r\npedia\r\n0\r\nX-Trailer: t\r\n\r\n",
    )
    .await;
    let proxy = start_proxy(policy(&[ORIGIN], &[ORIGIN])).await;
    let mut client = Client::connect(&proxy).await;
    let first = client.request(&proxy_get(ORIGIN, origin.port, "/")).await;
    assert_eq!(first.body, "wikipedia");
    assert_eq!(
        first.header("connection"),
        None,
        "origin's Connection is hop-by-hop"
    );
    // The chunked body was fully consumed, so the connection carries a second request.
    let second = client.request(&proxy_get(ORIGIN, origin.port, "/")).await;
    assert_eq!(second.body, "wikipedia");
}

#[tokio::test]
async fn keep_alive_request_to_a_denied_host_is_refused_alone() {
    let origin = start_origin().await;
    let proxy = start_proxy(policy(&[ORIGIN], &[ORIGIN, OTHER])).await;
    let mut client = Client::connect(&proxy).await;
    let first = client
        .request(&proxy_get(ORIGIN, origin.port, "/hello"))
        .await;
    let second = client
        .request(&proxy_get(OTHER, origin.port, "/hello"))
        .await;
    let third = client
        .request(&proxy_get(ORIGIN, origin.port, "/hello"))
        .await;
    assert_eq!((first.status, second.status, third.status), (200, 403, 200));
    assert_eq!(third.body, "hello from origin");
    let stats = proxy.proxy.stats();
    assert_eq!((stats.allowed, stats.denied), (2, 1));
}

#[tokio::test]
async fn connect_to_an_allowed_host_tunnels_bytes_both_ways() {
    let echo = start_echo_server().await;
    let proxy = start_proxy(policy(&[ORIGIN], &[ORIGIN])).await;
    let mut client = Client::connect(&proxy).await;
    // The first tunnel bytes ride in the same packet as the CONNECT head.
    client
        .send(&format!(
            "CONNECT {ORIGIN}:{} HTTP/1.1\r\n\r\nearly",
            echo.port
        ))
        .await;
    let mut established = [0u8; 39];
    client.stream.read_exact(&mut established).await.unwrap();
    assert_eq!(&established, b"HTTP/1.1 200 Connection established\r\n\r\n");
    let mut reply = [0u8; 10];
    client.stream.read_exact(&mut reply).await.unwrap();
    assert_eq!(&reply, b"echo:early");
    client.stream.get_mut().write_all(b"ping").await.unwrap();
    let mut reply = [0u8; 9];
    client.stream.read_exact(&mut reply).await.unwrap();
    assert_eq!(&reply, b"echo:ping");
    client.stream.get_mut().shutdown().await.unwrap();
    assert!(client.is_closed().await);
}

#[tokio::test]
async fn connect_to_a_denied_host_gets_403() {
    let echo = start_echo_server().await;
    let proxy = start_proxy(policy(&[ORIGIN], &[ORIGIN, OTHER])).await;
    let mut client = Client::connect(&proxy).await;
    let response = client
        .request(&format!("CONNECT {OTHER}:{} HTTP/1.1\r\n\r\n", echo.port))
        .await;
    assert_eq!(response.status, 403);
    assert!(
        response.body.contains("CONNECT other.test"),
        "{}",
        response.body
    );
}

#[tokio::test]
async fn allowed_name_resolving_to_loopback_is_refused() {
    let origin = start_origin().await;
    // INTERNAL is on the allow-list but was not granted private addresses: SSRF onto the
    // server's own loopback services must fail.
    let proxy = start_proxy(policy(&[ORIGIN, INTERNAL], &[ORIGIN])).await;
    let mut client = Client::connect(&proxy).await;
    let forward = client
        .request(&proxy_get(INTERNAL, origin.port, "/hello"))
        .await;
    assert_eq!(forward.status, 403);
    assert!(
        forward.body.contains("127.0.0.1, a loopback address"),
        "{}",
        forward.body
    );
    let mut client = Client::connect(&proxy).await;
    let tunnel = client
        .request(&format!(
            "CONNECT {INTERNAL}:{} HTTP/1.1\r\n\r\n",
            origin.port
        ))
        .await;
    assert_eq!(tunnel.status, 403);
}

#[tokio::test]
async fn without_the_private_opt_in_the_same_origin_is_refused() {
    let origin = start_origin().await;
    let proxy = start_proxy(policy(&[ORIGIN], &[])).await;
    let mut client = Client::connect(&proxy).await;
    let response = client
        .request(&proxy_get(ORIGIN, origin.port, "/hello"))
        .await;
    assert_eq!(response.status, 403);
}

#[tokio::test]
async fn ip_literals_are_refused_under_limited_networking() {
    let origin = start_origin().await;
    let proxy = start_proxy(policy(&[ORIGIN], &[ORIGIN, "127.0.0.1"])).await;
    let mut client = Client::connect(&proxy).await;
    let response = client
        .request(&proxy_get("127.0.0.1", origin.port, "/hello"))
        .await;
    assert_eq!(response.status, 403);
    assert!(
        response.body.contains("is an IP address"),
        "{}",
        response.body
    );
}

#[tokio::test]
async fn unrestricted_networking_still_refuses_loopback() {
    let origin = start_origin().await;
    let open = Arc::new(EgressPolicy::unrestricted().build());
    let proxy = start_proxy(open).await;
    let mut client = Client::connect(&proxy).await;
    let by_name = client
        .request(&proxy_get(OTHER, origin.port, "/hello"))
        .await;
    let by_number = client
        .request(&proxy_get("127.0.0.1", origin.port, "/hello"))
        .await;
    assert_eq!((by_name.status, by_number.status), (403, 403));
    let opted_in = Arc::new(
        EgressPolicy::unrestricted()
            .allow_private_destinations(true)
            .build(),
    );
    let proxy = start_proxy(opted_in).await;
    let mut client = Client::connect(&proxy).await;
    let response = client
        .request(&proxy_get(OTHER, origin.port, "/hello"))
        .await;
    assert_eq!(response.status, 200);
}

#[tokio::test]
async fn deny_all_policy_refuses_everything() {
    let origin = start_origin().await;
    let proxy = start_proxy(Arc::new(EgressPolicy::deny_all())).await;
    let mut client = Client::connect(&proxy).await;
    let response = client
        .request(&proxy_get(ORIGIN, origin.port, "/hello"))
        .await;
    assert_eq!(response.status, 403);
    assert!(response.body.contains("egress is disabled"));
}

#[tokio::test]
async fn malformed_and_origin_form_requests_get_400() {
    let proxy = start_proxy(policy(&[ORIGIN], &[ORIGIN])).await;
    for raw in [
        "GET /hello HTTP/1.1\r\nHost: origin.test\r\n\r\n",
        "NOT A REQUEST\r\n\r\n",
        "GET https://origin.test/ HTTP/1.1\r\n\r\n",
        "CONNECT origin.test:notaport HTTP/1.1\r\n\r\n",
        "POST http://origin.test/ HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
    ] {
        let mut client = Client::connect(&proxy).await;
        let response = client.request(raw).await;
        assert_eq!(response.status, 400, "{raw:?} → {}", response.body);
        assert!(client.is_closed().await);
    }
    assert_eq!(proxy.proxy.stats().rejected, 5);
}

#[tokio::test]
async fn oversized_request_heads_get_431() {
    let proxy = start_proxy(policy(&[ORIGIN], &[ORIGIN])).await;
    let mut client = Client::connect(&proxy).await;
    let huge = "a".repeat(MAX_HEADER_BYTES + 1);
    let response = client
        .request(&format!(
            "GET http://{ORIGIN}/ HTTP/1.1\r\nX-Big: {huge}\r\n\r\n"
        ))
        .await;
    assert_eq!(response.status, 431);
    let mut client = Client::connect(&proxy).await;
    let many: String = (0..150).map(|i| format!("X-H{i}: v\r\n")).collect();
    let response = client
        .request(&format!("GET http://{ORIGIN}/ HTTP/1.1\r\n{many}\r\n"))
        .await;
    assert_eq!(response.status, 431);
}

#[tokio::test]
async fn connections_beyond_the_per_label_limit_get_503() {
    let limits = ProxyLimits {
        max_connections_per_label: 1,
        ..ProxyLimits::default()
    };
    let proxy = start_proxy_with(policy(&[ORIGIN], &[ORIGIN]), limits).await;
    let origin = start_origin().await;
    let mut first = Client::connect(&proxy).await;
    // A completed request proves the first connection holds its slot.
    assert_eq!(
        first
            .request(&proxy_get(ORIGIN, origin.port, "/hello"))
            .await
            .status,
        200
    );
    let mut second = Client::connect(&proxy).await;
    let refused = second.read_response().await;
    assert_eq!(refused.status, 503);
    drop(first);
    // The slot comes back once the proxy has seen the first connection close.
    let request = proxy_get(ORIGIN, origin.port, "/hello");
    let reused = async {
        loop {
            let mut stream = tokio::net::TcpStream::connect(proxy.addr).await.unwrap();
            let _ = stream.write_all(request.as_bytes()).await;
            let mut status_line = [0u8; 12];
            if stream.read_exact(&mut status_line).await.is_ok() && &status_line[9..] == b"200" {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), reused)
        .await
        .expect("the label's slot was never released");
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let limits = ProxyLimits {
        idle_timeout: Duration::from_millis(200),
        ..ProxyLimits::default()
    };
    let proxy = start_proxy_with(policy(&[ORIGIN], &[ORIGIN]), limits).await;
    let mut client = Client::connect(&proxy).await;
    client.send("GET http://origin.test/ HTTP/1.1\r\n").await;
    assert!(client.is_closed().await);
}

/// Collects formatted log output in memory.
#[derive(Clone, Default)]
struct LogBuffer(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn every_decision_writes_one_structured_egress_line() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::INFO)
        .with_writer(move || writer.clone())
        .finish();
    // The test runtime is single-threaded, so the proxy's tasks log on this thread.
    let _guard = tracing::subscriber::set_default(subscriber);
    let origin = start_origin().await;
    let proxy = start_proxy(policy(&[ORIGIN], &[ORIGIN, OTHER])).await;
    let mut client = Client::connect(&proxy).await;
    client
        .request(&proxy_get(ORIGIN, origin.port, "/hello"))
        .await;
    client
        .request(&proxy_get(OTHER, origin.port, "/hello"))
        .await;
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .filter(|line: &serde_json::Value| line["target"] == "egress")
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    let fields: Vec<_> = lines
        .iter()
        .map(|l| {
            let f = &l["fields"];
            (
                f["label"].as_str().unwrap().to_owned(),
                f["host"].as_str().unwrap().to_owned(),
                f["port"].as_u64().unwrap(),
                f["decision"].as_str().unwrap().to_owned(),
                f["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let port = u64::from(origin.port);
    assert_eq!(
        fields,
        [
            (
                "sesn_test".into(),
                ORIGIN.into(),
                port,
                "allowed".into(),
                "allowed".into()
            ),
            (
                "sesn_test".into(),
                OTHER.into(),
                port,
                "denied".into(),
                "host_not_allowed".into()
            ),
        ]
    );
    assert!(lines[0]["fields"]["bytes"].as_u64().unwrap() > 0);
}

#[test]
fn default_limits_are_the_named_constants() {
    use hangar_egress::proxy::{IDLE_TIMEOUT, MAX_CONNECTIONS_PER_LABEL};
    use hangar_egress::resolve::CONNECT_TIMEOUT;
    let limits = ProxyLimits::default();
    assert_eq!(limits.connect_timeout, CONNECT_TIMEOUT);
    assert_eq!(limits.idle_timeout, IDLE_TIMEOUT);
    assert_eq!(limits.max_header_bytes, MAX_HEADER_BYTES);
    assert_eq!(limits.max_connections_per_label, MAX_CONNECTIONS_PER_LABEL);
}
