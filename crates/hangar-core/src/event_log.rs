//! [`EventLog`]: the one append path of a session log — commit to the store, *then* publish
//! on the bus — so nothing is ever seen before it is durable.

use std::sync::{Arc, OnceLock};

use hangar_protocol::event::{EventBody, Preview};
use hangar_protocol::ids::IdKind;
use hangar_protocol::time::Timestamp;

use crate::bus::{BusItem, EventBus};
use crate::event_store::{Commit, Committed, EncodedEvent, EventStore, StoredEvent};
use crate::store::StoreError;

/// Encodes `body` as a new event. Server events are processed when made; client events pass
/// the `processed_at` they should have (`None` = queued).
pub fn encode_event(
    id: String,
    body: &EventBody,
    processed_at: Option<Timestamp>,
    private: Option<&serde_json::Value>,
) -> Result<EncodedEvent, StoreError> {
    Ok(EncodedEvent {
        id,
        type_name: body.type_name(),
        processed_at,
        body: to_json(body)?,
        private: private.map(to_json).transpose()?,
    })
}

/// A new server event, stamped now.
pub fn server_event(body: &EventBody) -> Result<EncodedEvent, StoreError> {
    encode_event(IdKind::Event.mint(), body, Some(Timestamp::now()), None)
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Backend(e.to_string()))
}

/// Commits events and publishes them. Cheap to clone.
#[derive(Clone)]
pub struct EventLog {
    store: Arc<dyn EventStore>,
    bus: Arc<dyn EventBus>,
}

impl EventLog {
    pub fn new(store: Arc<dyn EventStore>, bus: Arc<dyn EventBus>) -> Self {
        EventLog { store, bus }
    }

    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }

    pub fn bus(&self) -> &Arc<dyn EventBus> {
        &self.bus
    }

    /// Commits, then publishes what was written: appended events, then client events that
    /// became processed (sent again with their `processed_at`). The store publishes in commit
    /// order, so streams see a session's events in `seq` order.
    pub async fn commit(&self, commit: Commit) -> Result<Committed, StoreError> {
        let bus = self.bus.clone();
        let session_id = commit.session_id.clone();
        let publish = move |committed: &Committed| {
            for event in &committed.appended {
                bus.publish(&session_id, bus_event(event, false));
            }
            for event in &committed.processed {
                bus.publish(&session_id, bus_event(event, true));
            }
        };
        self.store.commit(commit, Some(Box::new(publish))).await
    }

    /// Publishes a stream-only preview.
    pub fn preview(&self, session_id: &str, preview: &Preview) {
        let Ok(json) = serde_json::to_string(preview) else {
            return;
        };
        self.bus.publish(
            session_id,
            BusItem::Preview {
                previewed: preview.previewed_type(),
                type_name: preview.type_name(),
                json,
                frame: OnceLock::new(),
            },
        );
    }

    /// Tells the session's streams that it was deleted (they send `session.deleted` and end).
    pub fn deleted(&self, session_id: &str) {
        let id = IdKind::Event.mint();
        let json = serde_json::json!({"id": id, "type": "session.deleted",
            "processed_at": Timestamp::now()})
        .to_string();
        self.bus.publish(
            session_id,
            BusItem::Deleted {
                id,
                json,
                frame: OnceLock::new(),
            },
        );
    }
}

/// The bus form of a stored event.
pub fn bus_event(event: &StoredEvent, reprocessed: bool) -> BusItem {
    BusItem::Event {
        seq: event.seq,
        id: event.id.clone(),
        type_name: event.type_name.clone(),
        json: event.wire_json(),
        reprocessed,
        frame: OnceLock::new(),
    }
}
