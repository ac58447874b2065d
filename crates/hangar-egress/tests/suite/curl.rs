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
