//! The `EventStore` port: the durable session log, the harness's per-session runtime state and
//! session leases. Implemented beside [`crate::store::Store`] by `hangar-store`. The store
//! keeps event bodies as opaque JSON text and never interprets them; the rules live in the
//! core.

use async_trait::async_trait;
use hangar_protocol::session::Session;
use hangar_protocol::time::Timestamp;

use crate::store::{ListQuery, Rows, StoreError, Versioned};

/// An event ready to be appended: its id, wire `type`, `processed_at` (null for queued client
/// events), the body JSON (`{"type": …, …}` without `id` and `processed_at`) and optional
/// private data that only the harness reads (never sent to clients).
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedEvent {
    pub id: String,
    pub type_name: &'static str,
    pub processed_at: Option<Timestamp>,
    pub body: String,
    pub private: Option<String>,
}

/// An event as stored: its position in the log (`seq`, increasing in append order) and its
/// parts.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub seq: i64,
    pub id: String,
    pub type_name: String,
    pub processed_at: Option<Timestamp>,
    pub body: String,
    pub private: Option<String>,
    /// For a client event that was queued: the log position at which it was processed. A
    /// message steered into a running turn was appended before the tool result it waited for
    /// but belongs after it in the conversation; see [`StoredEvent::effective_order`].
    pub effective_seq: Option<i64>,
}

impl StoredEvent {
    /// The position of this event in the conversation: where it took effect. A client event
    /// processed when the log ended at `effective_seq` sorts right after that event.
    pub fn effective_order(&self) -> (i64, bool, i64) {
        (
            self.effective_seq.unwrap_or(self.seq),
            self.effective_seq.is_some(),
            self.seq,
        )
    }

    /// The wire JSON: `{"id":…,"processed_at":…,` followed by the body's fields. The body is
    /// always a JSON object with at least `type`, so splicing keeps it valid.
    pub fn wire_json(&self) -> String {
        let processed_at = match self.processed_at {
            Some(ts) => format!("\"{ts}\""),
            None => "null".to_owned(),
        };
        let fields = self.body.strip_prefix('{').unwrap_or(&self.body);
        let mut out = String::with_capacity(self.body.len() + self.id.len() + 64);
        out.push_str("{\"id\":\"");
        out.push_str(&self.id);
        out.push_str("\",\"processed_at\":");
        out.push_str(&processed_at);
        out.push(',');
        out.push_str(fields);
        out
    }
}

/// The session row rewritten by a commit, with its compare-and-swap revision.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionWrite {
    pub session: Session,
    /// The harness's runtime state as JSON (see `crate::runtime`).
    pub runtime: String,
    pub expected_rev: i64,
}

/// One atomic change of a session's log: events appended in order, queued client events
/// stamped processed, and optionally the session row, all in one transaction.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Commit {
    pub session_id: String,
    pub events: Vec<EncodedEvent>,
    /// Ids of queued client events to stamp with `processed_at`.
    pub processed: Vec<String>,
    pub processed_at: Option<Timestamp>,
    pub session: Option<SessionWrite>,
    /// When set, the commit fails with [`StoreError::LeaseLost`] unless this owner holds the
    /// session's lease (fencing against a runner that lost its lease).
    pub lease_owner: Option<String>,
}

/// What a commit wrote: the appended events and the newly processed ones, in log order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Committed {
    pub appended: Vec<StoredEvent>,
    pub processed: Vec<StoredEvent>,
}

/// A session with the harness's runtime state (JSON, `{}` for a new session).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    pub session: Versioned<Session>,
    pub runtime: String,
}

/// Told what a commit wrote once it is durable. A store calls the observers of its commits
/// in commit order (so a session's events reach the bus in `seq` order) and before the commit
/// returns. It must be quick and must not block.
pub type CommitObserver = Box<dyn FnOnce(&Committed) + Send>;

#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Applies `commit` atomically, then calls `observer` (see [`CommitObserver`]).
    /// [`StoreError::Stale`] when the session row's revision moved;
    /// [`StoreError::LeaseLost`] when the lease check fails. Nothing is written then, and the
    /// observer is not called.
    async fn commit(
        &self,
        commit: Commit,
        observer: Option<CommitObserver>,
    ) -> Result<Committed, StoreError>;

    /// A page of a session's events in `seq` order. The cursor key is a `seq`; `created_at`
    /// bounds apply to `processed_at`; `types` (when non-empty) filters on the type.
    async fn list_events(
        &self,
        session_id: &str,
        query: &ListQuery,
        types: &[String],
    ) -> Result<Rows<StoredEvent>, StoreError>;

    /// Up to `limit` events with `seq > after`, oldest first (replay and catch-up).
    async fn events_after(
        &self,
        session_id: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError>;

    async fn event(
        &self,
        session_id: &str,
        event_id: &str,
    ) -> Result<Option<StoredEvent>, StoreError>;

    /// Client events not yet processed, oldest first.
    async fn queued_events(&self, session_id: &str) -> Result<Vec<StoredEvent>, StoreError>;

    async fn session_record(&self, id: &str) -> Result<Option<SessionRecord>, StoreError>;

    /// Takes (or renews) the session's lease for `owner` (a node) until `until` when it is
    /// free, expired at `now`, or already `owner`'s; records `token` (the runner). Returns
    /// whether `owner` holds it afterwards.
    async fn acquire_lease(
        &self,
        session_id: &str,
        owner: &str,
        token: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Gives the lease up if `owner` holds it for runner `token` (a successor runner of the
    /// same node keeps its lease).
    async fn release_lease(
        &self,
        session_id: &str,
        owner: &str,
        token: &str,
    ) -> Result<(), StoreError>;

    /// Sessions that may have work: a turn in flight (`running`/`rescheduling`) or queued
    /// client events.
    async fn sessions_with_work(&self) -> Result<Vec<String>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_json_splices_id_and_processed_at() {
        let event = StoredEvent {
            seq: 1,
            id: "sevt_1".into(),
            type_name: "agent.thinking".into(),
            processed_at: Some(Timestamp::from_micros(0)),
            body: r#"{"type":"agent.thinking"}"#.into(),
            private: None,
            effective_seq: None,
        };
        let value: serde_json::Value = serde_json::from_str(&event.wire_json()).expect("json");
        assert_eq!(
            value,
            serde_json::json!({"id": "sevt_1", "processed_at": "1970-01-01T00:00:00.000000Z",
                "type": "agent.thinking"})
        );
    }
}
