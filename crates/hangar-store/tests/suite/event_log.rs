//! The session log: append order, queued events and their processing, atomic refusal, and
//! observers called in commit order.

use std::sync::{Arc, Mutex};

use hangar_core::event_store::{Commit, SessionWrite};
use hangar_core::store::{ListQuery, StoreError, TimeRange};
use hangar_protocol::page::Order;

use super::{Fixture, event};

fn commit(session: &str, events: Vec<hangar_core::event_store::EncodedEvent>) -> Commit {
    Commit {
        session_id: session.into(),
        events,
        ..Commit::default()
    }
}

#[tokio::test]
async fn appends_keep_their_order_and_queued_events_take_effect_where_processed() {
    let fx = Fixture::new().await;
    let log = fx.events();
    let session = fx.session().await.id;
    let message = event("user.message", true);
    let message_id = message.id.clone();
    log.commit(
        commit(
            &session,
            vec![event("session.status_running", false), message],
        ),
        None,
    )
    .await
    .unwrap();
    let result = log
        .commit(
            commit(&session, vec![event("agent.tool_result", false)]),
            None,
        )
        .await
        .unwrap();
    assert_eq!(log.queued_events(&session).await.unwrap().len(), 1);
    let stamped = log
        .commit(
            Commit {
                session_id: session.clone(),
                processed: vec![message_id.clone()],
                ..Commit::default()
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(stamped.processed.len(), 1);
    let processed = &stamped.processed[0];
    assert!(processed.processed_at.is_some());
    // Appended before the tool result, effective after it.
    assert!(processed.effective_order() > result.appended[0].effective_order());
    assert!(log.queued_events(&session).await.unwrap().is_empty());
    let all = log.events_after(&session, 0, 100).await.unwrap();
    let types: Vec<&str> = all.iter().map(|e| e.type_name.as_str()).collect();
    assert_eq!(
        types,
        [
            "session.status_running",
            "user.message",
            "agent.tool_result"
        ]
    );
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
    let json: serde_json::Value = serde_json::from_str(&all[1].wire_json()).unwrap();
    assert_eq!(json["id"], serde_json::json!(message_id));
}

#[tokio::test]
async fn a_stale_session_write_or_a_lost_lease_writes_nothing() {
    let fx = Fixture::new().await;
    let log = fx.events();
    let session = fx.session().await;
    let record = log.session_record(&session.id).await.unwrap().unwrap();
    let stale = Commit {
        session_id: session.id.clone(),
        events: vec![event("session.status_running", false)],
        session: Some(SessionWrite {
            session: session.clone(),
            runtime: "{}".into(),
            expected_rev: record.session.rev + 1,
        }),
        ..Commit::default()
    };
    assert!(matches!(
        log.commit(stale, None).await,
        Err(StoreError::Stale)
    ));
    let unleased = Commit {
        session_id: session.id.clone(),
        events: vec![event("session.status_running", false)],
        lease_owner: Some("node-a".into()),
        ..Commit::default()
    };
    assert!(matches!(
        log.commit(unleased, None).await,
        Err(StoreError::LeaseLost)
    ));
    assert!(
        log.events_after(&session.id, 0, 10)
            .await
            .unwrap()
            .is_empty(),
        "nothing was written"
    );
}

#[tokio::test]
async fn observers_run_in_commit_order_under_concurrency() {
    let fx = Fixture::new().await;
    let log = fx.events();
    let session = fx.session().await.id;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (log, session, seen) = (log.clone(), session.clone(), seen.clone());
        tasks.spawn(async move {
            let observer = Box::new(move |c: &hangar_core::event_store::Committed| {
                seen.lock()
                    .unwrap()
                    .extend(c.appended.iter().map(|e| e.seq));
            });
            log.commit(
                commit(&session, vec![event("user.interrupt", false)]),
                Some(observer),
            )
            .await
            .unwrap();
        });
    }
    while tasks.join_next().await.is_some() {}
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 50);
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "published out of order: {seen:?}"
    );
}

#[tokio::test]
async fn list_pages_filter_by_type_and_processed_time() {
    let fx = Fixture::new().await;
    let log = fx.events();
    let session = fx.session().await.id;
    for _ in 0..5 {
        log.commit(
            commit(
                &session,
                vec![event("agent.message", false), event("session.usage", false)],
            ),
            None,
        )
        .await
        .unwrap();
    }
    let query = ListQuery {
        order: Order::Desc,
        cursor: None,
        limit: 3,
        include_archived: true,
        created_at: TimeRange::default(),
    };
    let page = log
        .list_events(&session, &query, &["agent.message".to_owned()])
        .await
        .unwrap();
    assert_eq!(page.items.len(), 3);
    assert!(page.more);
    assert!(page.items.iter().all(|e| e.type_name == "agent.message"));
    assert!(page.items.windows(2).all(|w| w[0].seq > w[1].seq));
    let future = TimeRange {
        gt: Some(hangar_protocol::time::Timestamp::from_micros(i64::MAX / 2)),
        ..TimeRange::default()
    };
    let none = log
        .list_events(
            &session,
            &ListQuery {
                created_at: future,
                ..query
            },
            &[],
        )
        .await
        .unwrap();
    assert!(none.items.is_empty());
}
