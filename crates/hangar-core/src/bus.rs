//! The `EventBus` port and its in-process implementation: fan-out of committed events (and
//! stream-only previews) to the open streams of a session. The bus never stores anything;
//! every event it carries was committed first, so a subscriber that falls behind (or
//! reconnects) catches up from the store by `seq`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use tokio::sync::broadcast;

/// Messages kept per session for slow subscribers before they lag (then they catch up from
/// the store).
pub const BUS_CAPACITY: usize = 1024;

/// What a session's subscribers receive.
#[derive(Debug)]
pub enum BusItem {
    /// A committed event. `reprocessed` marks a client event sent again because it was just
    /// processed (same id and `seq`, now with `processed_at`).
    Event {
        seq: i64,
        id: String,
        type_name: String,
        json: String,
        reprocessed: bool,
        /// The rendered SSE frame, made once by the first stream that needs it.
        frame: OnceLock<Bytes>,
    },
    /// A preview (`event_start` / `event_delta`), never stored; `previewed` is the event type
    /// it previews, for the per-connection `event_deltas[]` selection.
    Preview {
        previewed: &'static str,
        type_name: &'static str,
        json: String,
        frame: OnceLock<Bytes>,
    },
    /// The session was deleted: streams send this event and end.
    Deleted {
        id: String,
        json: String,
        frame: OnceLock<Bytes>,
    },
}

pub type BusMessage = Arc<BusItem>;

/// The port. Publishing never blocks and never fails: with no subscriber the item is dropped.
pub trait EventBus: Send + Sync + 'static {
    fn publish(&self, session_id: &str, item: BusItem);
    fn subscribe(&self, session_id: &str) -> broadcast::Receiver<BusMessage>;
}

/// One broadcast channel per session with subscribers, in this process.
#[derive(Debug, Default)]
pub struct InProcessBus {
    channels: Mutex<HashMap<String, broadcast::Sender<BusMessage>>>,
}

impl InProcessBus {
    pub fn new() -> Self {
        Self::default()
    }
}

impl EventBus for InProcessBus {
    fn publish(&self, session_id: &str, item: BusItem) {
        let Ok(mut channels) = self.channels.lock() else {
            return;
        };
        if let Some(sender) = channels.get(session_id)
            && sender.send(Arc::new(item)).is_err()
        {
            // Nobody listens any more: forget the channel.
            channels.remove(session_id);
        }
    }

    fn subscribe(&self, session_id: &str) -> broadcast::Receiver<BusMessage> {
        match self.channels.lock() {
            Ok(mut channels) => channels
                .entry(session_id.to_owned())
                .or_insert_with(|| broadcast::channel(BUS_CAPACITY).0)
                .subscribe(),
            // A poisoned map only happens after a panic elsewhere; a detached channel keeps
            // this stream alive (it will catch up from the store).
            Err(_) => broadcast::channel(1).1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: i64) -> BusItem {
        BusItem::Event {
            seq,
            id: format!("sevt_{seq}"),
            type_name: "agent.message".into(),
            json: "{}".into(),
            reprocessed: false,
            frame: OnceLock::new(),
        }
    }

    #[tokio::test]
    async fn subscribers_of_a_session_get_its_items_only() {
        let bus = InProcessBus::new();
        let mut a = bus.subscribe("sesn_a");
        let mut b = bus.subscribe("sesn_b");
        bus.publish("sesn_a", event(1));
        match a.recv().await.as_deref() {
            Ok(BusItem::Event { seq, .. }) => assert_eq!(*seq, 1),
            other => panic!("unexpected {other:?}"),
        }
        assert!(b.try_recv().is_err());
    }

    #[test]
    fn publishing_without_subscribers_drops_the_channel() {
        let bus = InProcessBus::new();
        drop(bus.subscribe("sesn_a"));
        bus.publish("sesn_a", event(1));
        assert!(bus.channels.lock().map(|c| c.is_empty()).unwrap_or(false));
    }
}
