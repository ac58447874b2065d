//! Session threads: the primary thread, its events and its stream (`cma-api.md` §2.4).

use anyhow::Result;
use hangar_testkit::mock_model::Step;
use serde_json::json;

use super::streaming::SseReader;
use super::turns::Rig;
use super::{fetch, get, post};

#[tokio::test]
async fn the_primary_thread_mirrors_the_session() -> Result<()> {
    let rig = Rig::start(vec![Step::text("hello")]).await?;
    let session = rig.session(json!([])).await?;
    let base = format!("/v1/sessions/{session}/threads");
    let list = fetch(&rig.server, &base).await?;
    assert_eq!(list["next_page"], json!(null));
    let thread = list["data"][0].clone();
    let thread_id = thread["id"].as_str().unwrap_or_default().to_owned();
    assert!(thread_id.starts_with("sthr_"), "{thread}");
    assert_eq!(thread["type"], "session_thread");
    assert_eq!(thread["session_id"], json!(session));
    assert_eq!(thread["status"], "idle");
    assert_eq!(thread["agent"]["name"], "worker");
    assert_eq!(
        fetch(&rig.server, &format!("{base}/{thread_id}")).await?["id"],
        json!(thread_id)
    );
    let running = fetch(&rig.server, &format!("{base}?statuses[]=running")).await?;
    assert_eq!(running["data"], json!([]));

    let mut stream = SseReader::open_path(&rig, &format!("{base}/{thread_id}/stream")).await?;
    rig.say(&session, "hi").await?;
    let frames = stream.until(|f| f.event == "session.status_idle").await?;
    let running_frame = frames
        .iter()
        .find(|f| f.event == "session.thread_status_running");
    assert_eq!(
        running_frame.map(|f| f.data["session_thread_id"].clone()),
        Some(json!(thread_id))
    );
    let events = fetch(&rig.server, &format!("{base}/{thread_id}/events")).await?;
    assert_eq!(events["data"], json!(rig.events(&session).await?));

    get(&rig.server, &format!("{base}/sthr_other"))
        .await?
        .check_error(404, "not_found_error", "not found")?;
    post(
        &rig.server,
        &format!("{base}/{thread_id}/archive"),
        json!({}),
    )
    .await?
    .check_error(400, "invalid_request_error", "archive the session")?;
    Ok(())
}
