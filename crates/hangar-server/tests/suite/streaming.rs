//! The SSE stream (`cma-api.md` §5): framing, ids shared with the list, previews
//! (`event_deltas[]`), `Last-Event-ID` replay, and the end of the stream on delete.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use hangar_testkit::mock_model::{ContentItem, ResponseStep, Step};
use serde_json::{Value, json};

use super::turns::{Rig, of_type};
use super::{Body, get, send};

/// One SSE frame.
#[derive(Debug, Clone)]
pub struct Frame {
    pub event: String,
    pub id: Option<String>,
    pub data: Value,
}

/// Reads frames from a streaming response.
pub struct SseReader {
    response: reqwest::Response,
    buffer: String,
}

impl SseReader {
    pub async fn open(
        rig: &Rig,
        session: &str,
        query: &str,
        last_event_id: Option<&str>,
    ) -> Result<SseReader> {
        let path = format!("/v1/sessions/{session}/events/stream{query}");
        SseReader::open_at(rig, &path, last_event_id).await
    }

    /// A stream at `path` (e.g. a thread's stream).
    pub async fn open_path(rig: &Rig, path: &str) -> Result<SseReader> {
        SseReader::open_at(rig, path, None).await
    }

    async fn open_at(rig: &Rig, path: &str, last_event_id: Option<&str>) -> Result<SseReader> {
        let mut request = rig
            .server
            .request(reqwest::Method::GET, path)
            .header("accept", "application/json");
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await?;
        anyhow::ensure!(
            response.status() == 200,
            "stream answered {}",
            response.status()
        );
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok());
        anyhow::ensure!(
            content_type == Some("text/event-stream"),
            "content-type {content_type:?}"
        );
        Ok(SseReader {
            response,
            buffer: String::new(),
        })
    }

    /// The next frame; `None` when the server closed the stream.
    pub async fn next(&mut self) -> Result<Option<Frame>> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let raw: String = self.buffer.drain(..end + 2).collect();
                if raw.starts_with(':') {
                    continue;
                }
                let (mut event, mut id, mut data) = (None, None, String::new());
                for line in raw.lines() {
                    if let Some(v) = line.strip_prefix("event: ") {
                        event = Some(v.to_owned())
                    }
                    if let Some(v) = line.strip_prefix("id: ") {
                        id = Some(v.to_owned())
                    }
                    if let Some(v) = line.strip_prefix("data: ") {
                        data.push_str(v)
                    }
                }
                let event = event.with_context(|| format!("frame without event line: {raw:?}"))?;
                return Ok(Some(Frame {
                    event,
                    id,
                    data: serde_json::from_str(&data)?,
                }));
            }
            let chunk = tokio::time::timeout(Duration::from_secs(20), self.response.chunk())
                .await
                .context("no frame within 20 s")??;
            match chunk {
                Some(bytes) => self.buffer.push_str(std::str::from_utf8(&bytes)?),
                None => return Ok(None),
            }
        }
    }

    /// Frames up to and including the first one for which `stop` holds.
    pub async fn until(&mut self, stop: impl Fn(&Frame) -> bool) -> Result<Vec<Frame>> {
        let mut frames = Vec::new();
        while let Some(frame) = self.next().await? {
            let done = stop(&frame);
            frames.push(frame);
            if done {
                return Ok(frames);
            }
        }
        bail!("stream ended early after {frames:#?}")
    }
}

fn is_idle(frame: &Frame) -> bool {
    frame.event == "session.status_idle"
}

#[tokio::test]
async fn every_frame_names_its_type_and_ids_match_the_list() -> Result<()> {
    let rig = Rig::start(vec![Step::text("streamed answer")]).await?;
    let session = rig.session(json!([])).await?;
    let mut stream = SseReader::open(&rig, &session, "", None).await?;
    rig.say(&session, "hello").await?;
    let frames = stream.until(is_idle).await?;
    for frame in &frames {
        assert_eq!(frame.data["type"], frame.event.as_str(), "{frame:?}");
        assert_eq!(frame.id.as_deref(), frame.data["id"].as_str(), "{frame:?}");
    }
    let listed = rig.events(&session).await?;
    let mut seen: Vec<&str> = Vec::new();
    for frame in &frames {
        let id = frame.id.as_deref().unwrap_or_default();
        if !seen.contains(&id) {
            seen.push(id);
        }
    }
    let listed_ids: Vec<&str> = listed.iter().filter_map(|e| e["id"].as_str()).collect();
    assert_eq!(
        seen, listed_ids,
        "stream and list carry the same ids in the same order"
    );
    // The queued user message is sent again once processed (clients dedupe by id).
    let user: Vec<&Frame> = frames
        .iter()
        .filter(|f| f.event == "user.message")
        .collect();
    assert_eq!(user.len(), 2);
    assert_eq!(user[0].data["processed_at"], Value::Null);
    assert!(user[1].data["processed_at"].is_string());
    assert!(
        frames.iter().all(|f| f.event != "event_start"),
        "no previews unless asked"
    );
    Ok(())
}

#[tokio::test]
async fn event_deltas_preview_the_message_before_it_is_stored() -> Result<()> {
    let step = ResponseStep::new(vec![
        ContentItem::thinking("hmm", "sig"),
        ContentItem::text("abcdefghij"),
    ])
    .chunk_chars(3);
    let rig = Rig::start(vec![Step::Response(step)]).await?;
    let session = rig.session(json!([])).await?;
    let mut stream = SseReader::open(
        &rig,
        &session,
        "?event_deltas[]=agent.message&event_deltas[]=agent.thinking",
        None,
    )
    .await?;
    rig.say(&session, "go").await?;
    let frames = stream.until(is_idle).await?;
    let names: Vec<&str> = frames.iter().map(|f| f.event.as_str()).collect();
    let message = frames
        .iter()
        .find(|f| f.event == "agent.message")
        .context("no message")?;
    let starts: Vec<&Frame> = frames.iter().filter(|f| f.event == "event_start").collect();
    assert_eq!(starts.len(), 2, "{names:?}");
    assert_eq!(starts[0].data["event"]["type"], "agent.thinking");
    assert_eq!(
        starts[1].data["event"],
        json!({"type": "agent.message", "id": message.data["id"]})
    );
    assert!(
        starts.iter().all(|f| f.id.is_none()),
        "previews carry no id"
    );
    let text: String = frames
        .iter()
        .filter(|f| f.event == "event_delta")
        .map(|f| {
            f.data["delta"]["content"]["text"]
                .as_str()
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(text, "abcdefghij");
    let delta = frames
        .iter()
        .find(|f| f.event == "event_delta")
        .context("no delta")?;
    assert_eq!(delta.data["event_id"], message.data["id"]);
    assert_eq!(delta.data["delta"]["type"], "content_delta");
    assert_eq!(delta.data["delta"]["index"], 0);
    let position = |name: &str| names.iter().position(|n| *n == name);
    assert!(position("span.model_request_start") < position("event_start"));
    assert!(names.iter().rposition(|n| *n == "event_delta") < position("agent.message"));
    let thinking = frames
        .iter()
        .find(|f| f.event == "agent.thinking")
        .context("no thinking")?;
    assert_eq!(thinking.data["id"], starts[0].data["event"]["id"]);
    assert_eq!(
        of_type(&rig.events(&session).await?, "event_start").len(),
        0,
        "never stored"
    );
    Ok(())
}

#[tokio::test]
async fn last_event_id_replays_what_came_after_it_then_goes_live() -> Result<()> {
    let rig = Rig::start(vec![Step::text("one"), Step::text("two")]).await?;
    let session = rig.session(json!([])).await?;
    rig.say(&session, "first").await?;
    let events = rig.settle(&session, 1).await?;
    let from = events[3]["id"].as_str().context("id")?.to_owned();
    let mut stream = SseReader::open(&rig, &session, "", Some(&from)).await?;
    let replayed = stream.until(is_idle).await?;
    let expected: Vec<&str> = events[4..]
        .iter()
        .filter_map(|e| e["id"].as_str())
        .collect();
    let got: Vec<&str> = replayed.iter().filter_map(|f| f.id.as_deref()).collect();
    assert_eq!(got, expected);
    rig.say(&session, "second").await?;
    let live = stream.until(is_idle).await?;
    assert!(
        live.iter()
            .any(|f| f.event == "agent.message" && f.data["content"][0]["text"] == "two")
    );
    let replayed_ids: Vec<&str> = got.clone();
    assert!(
        live.iter()
            .filter_map(|f| f.id.as_deref())
            .all(|id| !replayed_ids.contains(&id)),
        "no duplicate of a replayed event"
    );
    Ok(())
}

#[tokio::test]
async fn deleting_the_session_ends_its_streams() -> Result<()> {
    let rig = Rig::start(vec![]).await?;
    let session = rig.session(json!([])).await?;
    let mut stream = SseReader::open(&rig, &session, "", None).await?;
    let deleted = send(
        &rig.server,
        reqwest::Method::DELETE,
        &format!("/v1/sessions/{session}"),
        Body::Empty,
    )
    .await?;
    assert_eq!(deleted.status, 200);
    let frame = stream
        .next()
        .await?
        .context("stream ended without session.deleted")?;
    assert_eq!(frame.event, "session.deleted");
    assert!(
        stream.next().await?.is_none(),
        "the stream ends after session.deleted"
    );
    Ok(())
}

#[tokio::test]
async fn stream_errors_come_before_the_stream_as_json() -> Result<()> {
    let rig = Rig::start(vec![]).await?;
    let session = rig.session(json!([])).await?;
    let missing = get(
        &rig.server,
        "/v1/sessions/sesn_01J0000000000000000000/events/stream",
    )
    .await?;
    missing.check_error(404, "not_found_error", "not found")?;
    let bad = get(
        &rig.server,
        &format!("/v1/sessions/{session}/events/stream?event_deltas[]=agent.tool_use"),
    )
    .await?;
    bad.check_error(400, "invalid_request_error", "event_deltas")?;
    let unknown = rig
        .server
        .request(
            reqwest::Method::GET,
            &format!("/v1/sessions/{session}/events/stream"),
        )
        .header("last-event-id", "sevt_01J0000000000000000000")
        .send()
        .await?;
    assert_eq!(unknown.status(), 400);
    Ok(())
}
