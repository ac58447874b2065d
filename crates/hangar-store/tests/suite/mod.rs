//! Store conformance: what the core relies on from an `EventStore` (ordering, atomic refusal,
//! leases). Written against the port so a second backend can run the same suite.

mod event_log;
mod leases;

use std::sync::Arc;

use hangar_core::event_store::{EncodedEvent, EventStore};
use hangar_core::store::Store;
use hangar_protocol::agent::{AgentDefinition, AgentType, ExecutionIdentity, ModelConfig};
use hangar_protocol::ids::IdKind;
use hangar_protocol::session::{
    Session, SessionAgent, SessionStats, SessionStatus, SessionType, SessionUsage,
};
use hangar_protocol::time::Timestamp;
use hangar_store::SqliteStore;

pub struct Fixture {
    pub store: SqliteStore,
    _dir: tempfile::TempDir,
}

impl Fixture {
    pub async fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("hangar.db"))
            .await
            .unwrap();
        Fixture { store, _dir: dir }
    }

    pub fn events(&self) -> Arc<dyn EventStore> {
        Arc::new(self.store.clone())
    }

    /// A stored session (idle, no events).
    pub async fn session(&self) -> Session {
        let now = Timestamp::now();
        let session = Session {
            r#type: SessionType,
            id: IdKind::Session.mint(),
            status: SessionStatus::Idle,
            title: None,
            environment_id: IdKind::Environment.mint(),
            deployment_id: None,
            agent: SessionAgent {
                r#type: AgentType,
                id: IdKind::Agent.mint(),
                version: 1,
                definition: AgentDefinition {
                    name: "a".into(),
                    description: None,
                    system: None,
                    model: ModelConfig {
                        id: "m".into(),
                        effort: None,
                        inference_geo: None,
                        speed: None,
                    },
                    execution_identity: ExecutionIdentity::ServiceAccount,
                    tools: Vec::new(),
                    mcp_servers: Vec::new(),
                    skills: Vec::new(),
                    multiagent: None,
                },
            },
            resources: Vec::new(),
            vault_ids: Vec::new(),
            metadata: Default::default(),
            budget: None,
            outcome_evaluations: Vec::new(),
            stats: SessionStats::default(),
            usage: SessionUsage::zero(),
            created_at: now,
            updated_at: now,
            archived_at: None,
        };
        self.store.insert_session(&session).await.unwrap();
        session
    }
}

/// A plain event body of `type_name`, processed now unless `queued`.
pub fn event(type_name: &'static str, queued: bool) -> EncodedEvent {
    EncodedEvent {
        id: IdKind::Event.mint(),
        type_name,
        processed_at: (!queued).then(Timestamp::now),
        body: format!("{{\"type\":\"{type_name}\"}}"),
        private: None,
    }
}
