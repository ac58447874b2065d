//! Races the API must settle deterministically: concurrent updates of one agent version and
//! concurrent creates of one environment name have exactly one winner; the losers get a 409.

use std::future::Future;
use std::sync::Arc;

use anyhow::Result;
use hangar_testkit::TestServer;
use serde_json::json;
use tokio::task::JoinSet;

use super::{create_agent, fetch, id, post};

const RACERS: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_updates_of_one_version_have_exactly_one_winner() -> Result<()> {
    let server = Arc::new(TestServer::start().await?);
    let agent_id = id(&create_agent(&server, "raced").await?);
    let path = format!("/v1/agents/{agent_id}");
    let replies = race(&server, RACERS, |server, i| {
        let path = path.clone();
        async move {
            post(
                &server,
                &path,
                json!({"version": 1, "system": format!("writer {i}")}),
            )
            .await
        }
    })
    .await?;
    let winners: Vec<_> = replies.iter().filter(|r| r.status == 200).collect();
    assert_eq!(
        winners.len(),
        1,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for loser in replies.iter().filter(|r| r.status != 200) {
        loser.check_error(409, "conflict_error", "Concurrent modification detected")?;
        assert_eq!(loser.header("x-should-retry"), Some("false"));
    }
    let agent = fetch(&server, &path).await?;
    assert_eq!(agent["version"], 2);
    assert_eq!(agent["system"], winners[0].body["system"]);
    let versions = fetch(&server, &format!("{path}/versions")).await?;
    assert_eq!(
        versions["data"].as_array().map(Vec::len),
        Some(2),
        "a lost race consumed a version"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_of_one_environment_name_have_exactly_one_winner() -> Result<()> {
    let server = Arc::new(TestServer::start().await?);
    let replies = race(&server, RACERS, |server, _| async move {
        post(&server, "/v1/environments", json!({"name": "contested"})).await
    })
    .await?;
    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    for loser in replies.iter().filter(|r| r.status != 200) {
        loser.check_error(409, "conflict_error", "name")?;
    }
    let list = fetch(&server, "/v1/environments").await?;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(1));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unconditional_concurrent_updates_all_land_as_distinct_versions() -> Result<()> {
    let server = Arc::new(TestServer::start().await?);
    let agent_id = id(&create_agent(&server, "serial").await?);
    let path = format!("/v1/agents/{agent_id}");
    let replies = race(&server, 8, |server, i| {
        let path = path.clone();
        async move { post(&server, &path, json!({"system": format!("writer {i}")})).await }
    })
    .await?;
    let mut versions: Vec<i64> = replies
        .iter()
        .map(|r| {
            assert_eq!(r.status, 200, "{}", r.body);
            r.body["version"].as_i64().unwrap_or_default()
        })
        .collect();
    versions.sort_unstable();
    assert_eq!(versions, (2..=9).collect::<Vec<_>>());
    Ok(())
}

/// Runs `make(i)` for `i` in `0..n` as concurrent tasks and collects their results in order.
async fn race<T, F, Fut>(server: &Arc<TestServer>, n: usize, make: F) -> Result<Vec<T>>
where
    T: Send + 'static,
    F: Fn(Arc<TestServer>, usize) -> Fut,
    Fut: Future<Output = Result<T>> + Send + 'static,
{
    let mut tasks = JoinSet::new();
    for i in 0..n {
        let task = make(server.clone(), i);
        tasks.spawn(async move { (i, task.await) });
    }
    let mut results: Vec<(usize, T)> = Vec::with_capacity(n);
    while let Some(joined) = tasks.join_next().await {
        let (i, result) = joined?;
        results.push((i, result?));
    }
    results.sort_by_key(|(i, _)| *i);
    Ok(results.into_iter().map(|(_, value)| value).collect())
}
