//! A real client through the proxy: `curl` configured only by `http_proxy`/`https_proxy`, as
//! tools inside a sandbox are. Skipped (with a message) where curl is not installed.

use std::process::Output;
use std::time::Duration;

use tokio::process::Command;

use super::support::*;

async fn curl(proxy: &ProxyUnderTest, args: &[&str]) -> Option<Output> {
    let proxy_url = format!("http://{}", proxy.addr);
    let mut command = Command::new("curl");
    command
        .args(["--silent", "--show-error", "--max-time", "20"])
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("http_proxy", &proxy_url)
        .env("https_proxy", &proxy_url)
        .kill_on_drop(true);
    match tokio::time::timeout(Duration::from_secs(30), command.output()).await {
        Ok(Ok(output)) => Some(output),
        Ok(Err(error)) if error.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("curl is not installed; skipping the real-client check");
            None
        }
        Ok(Err(error)) => panic!("curl failed to run: {error}"),
        Err(_) => panic!("curl did not finish"),
    }
}

#[tokio::test]
async fn curl_through_the_proxy_fetches_allowed_hosts_and_sees_403_for_others() {
    let origin = start_origin().await;
    let proxy = start_proxy(policy(&[ORIGIN], &[ORIGIN, OTHER])).await;

    let allowed_url = format!("http://{ORIGIN}:{}/hello", origin.port);
    let Some(allowed) = curl(&proxy, &[&allowed_url]).await else {
        return;
    };
    assert!(allowed.status.success(), "{allowed:?}");
    assert_eq!(
        String::from_utf8_lossy(&allowed.stdout),
        "hello from origin"
    );

    let denied_url = format!("http://{OTHER}:{}/hello", origin.port);
    let denied = curl(
        &proxy,
        &[
            "--output",
            "/dev/null",
            "--write-out",
            "%{http_code}",
            &denied_url,
        ],
    )
    .await
    .unwrap();
    assert_eq!(String::from_utf8_lossy(&denied.stdout), "403");

    // `--proxytunnel` makes curl use CONNECT even for http, so the tunnel path is exercised
    // by a real client without needing TLS on the local origin.
    let tunnelled = curl(&proxy, &["--proxytunnel", &allowed_url])
        .await
        .unwrap();
    assert!(tunnelled.status.success(), "{tunnelled:?}");
    assert_eq!(
        String::from_utf8_lossy(&tunnelled.stdout),
        "hello from origin"
    );

    let https_denied = format!("https://{OTHER}:{}/", origin.port);
    let refused = curl(&proxy, &[&https_denied]).await.unwrap();
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("403"), "{stderr}");
}

/// The real package mirror of this machine through the proxy with the system resolver:
/// `allow_package_managers` must open the apt mirror read from `/etc/apt`, and the mirror's
/// documentation-range address (203.0.113.80 here) must count as public. Needs the mirror, so
/// it is opt-in: `cargo nextest run -p hangar-egress --run-ignored only`.
#[tokio::test]
#[ignore = "needs this machine's package mirror"]
async fn apt_mirror_is_reachable_with_allow_package_managers() {
    use std::sync::Arc;

    use hangar_egress::{EgressPolicy, EgressProxy, PackageRegistries, Resolver};
    use hangar_protocol::environment::{LimitedNetwork, Networking};

    let registries = PackageRegistries::discover();
    let mirror = hangar_egress::registries::apt_mirror_hosts(std::path::Path::new("/etc/apt"))
        .into_iter()
        .next()
        .expect("no apt mirror configured");
    let networking = Networking::Limited(LimitedNetwork {
        allowed_hosts: vec![],
        allow_mcp_servers: false,
        allow_package_managers: true,
    });
    let policy = Arc::new(
        EgressPolicy::for_networking(&networking)
            .package_registries(registries)
            .build(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let proxy = Arc::new(EgressProxy::new(Resolver::system()));
    let server = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (proxy, policy) = (proxy.clone(), policy.clone());
            tokio::spawn(async move { proxy.serve_connection(stream, policy, "sesn_apt").await });
        }
    });
    let output = Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "20", "--head"])
        .args(["--output", "/dev/null", "--write-out", "%{http_code}"])
        .arg(format!("http://{mirror}/debian/dists/bookworm/InRelease"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("http_proxy", format!("http://{addr}"))
        .output()
        .await
        .unwrap();
    server.abort();
    assert_eq!(String::from_utf8_lossy(&output.stdout), "200", "{output:?}");
}
