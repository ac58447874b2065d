//! The sessions list's bidirectional cursors: `next_page` walks on, `prev_page` passed back as
//! `page` returns the previous page in the same order (`cma-behaviour.md` D.26).

use anyhow::Result;
use hangar_testkit::TestServer;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::{create_agent, create_environment, create_session, fetch, id, ids};

/// Seven sessions, oldest first.
async fn seven_sessions(server: &TestServer) -> Result<Vec<String>> {
    let agent = id(&create_agent(server, "pager").await?);
    let env = id(&create_environment(server, "pages").await?);
    let mut sessions = Vec::new();
    for _ in 0..7 {
        sessions.push(id(&create_session(server, json!(agent), &env).await?));
    }
    Ok(sessions)
}

fn cursor(page: &Value, key: &str) -> Option<String> {
    page[key].as_str().map(str::to_owned)
}

/// Walks forward from the first page to the last, then back with `prev_page`, checking the ids
/// of every page against `expected` (the whole list in `order`).
async fn walk(server: &TestServer, order: &str, expected: &[String]) -> Result<()> {
    let chunks: Vec<Vec<String>> = expected.chunks(3).map(<[String]>::to_vec).collect();
    let base = format!("/v1/sessions?limit=3&order={order}");

    let mut pages = vec![fetch(server, &base).await?];
    assert_eq!(
        pages[0]["prev_page"],
        json!(null),
        "the first page has no prev_page"
    );
    while let Some(next) = cursor(pages.last().unwrap_or(&Value::Null), "next_page") {
        pages.push(fetch(server, &format!("{base}&page={next}")).await?);
        assert!(pages.len() <= chunks.len(), "walked past the end");
    }
    let forward: Vec<Vec<String>> = pages.iter().map(ids).collect();
    assert_eq!(forward, chunks, "forward walk ({order})");
    for page in &pages[1..] {
        assert!(
            page["prev_page"].is_string(),
            "a later page lacks prev_page: {page}"
        );
    }

    let mut back = Vec::new();
    let mut page = pages.last().cloned().unwrap_or_default();
    while let Some(prev) = cursor(&page, "prev_page") {
        page = fetch(server, &format!("{base}&page={prev}")).await?;
        back.push(ids(&page));
        assert!(back.len() < chunks.len(), "walked back past the start");
    }
    let mut expected_back: Vec<Vec<String>> = chunks[..chunks.len() - 1].to_vec();
    expected_back.reverse();
    assert_eq!(back, expected_back, "backward walk ({order})");
    assert_eq!(
        page["prev_page"],
        json!(null),
        "back at the first page, prev_page is null"
    );
    let next = cursor(&page, "next_page").unwrap_or_default();
    assert_eq!(
        ids(&fetch(server, &format!("{base}&page={next}")).await?),
        chunks[1],
        "next_page after walking back"
    );
    Ok(())
}

#[tokio::test]
async fn sessions_list_walks_forward_and_back_newest_first() -> Result<()> {
    let server = TestServer::start().await?;
    let mut sessions = seven_sessions(&server).await?;
    sessions.reverse();
    assert_eq!(
        ids(&fetch(&server, "/v1/sessions").await?),
        sessions,
        "desc is the default order"
    );
    walk(&server, "desc", &sessions).await
}

#[tokio::test]
async fn sessions_list_walks_forward_and_back_oldest_first() -> Result<()> {
    let server = TestServer::start().await?;
    let sessions = seven_sessions(&server).await?;
    assert_eq!(
        ids(&fetch(&server, "/v1/sessions?order=asc").await?),
        sessions
    );
    walk(&server, "asc", &sessions).await
}

#[tokio::test]
async fn last_page_has_a_null_next_page_even_when_full() -> Result<()> {
    let server = TestServer::start().await?;
    let sessions = seven_sessions(&server).await?;
    let page = fetch(&server, "/v1/sessions?limit=7").await?;
    assert_eq!(ids(&page).len(), sessions.len());
    assert_eq!(page["next_page"], json!(null));
    assert_eq!(page["prev_page"], json!(null));
    Ok(())
}
