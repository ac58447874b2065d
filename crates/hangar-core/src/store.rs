//! The `Store` port: what the resource rules need from durable storage. Implemented by
//! `hangar-store` (SQLite now; PostgreSQL behind the same trait). The store persists and
//! queries; it never decides API semantics.

use async_trait::async_trait;
use hangar_protocol::agent::Agent;
use hangar_protocol::environment::Environment;
use hangar_protocol::page::{Cursor, Direction, Order};
use hangar_protocol::session::{Session, SessionStatus};
use hangar_protocol::time::Timestamp;

/// Failures of the store. Each variant says how the caller reacts.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// An optimistic-concurrency check failed: the row changed since it was read. Re-read and
    /// retry, or report a conflict.
    #[error("the record changed concurrently")]
    Stale,
    /// A uniqueness rule was violated (`field` names it). Reported as 409.
    #[error("duplicate {field}")]
    Duplicate { field: &'static str },
    /// A stored record could not be decoded. Reported as 500; the data needs attention.
    #[error("stored record {id} is corrupt: {reason}")]
    Corrupt { id: String, reason: String },
    /// The caller no longer holds the session's lease; another runner owns the session now.
    /// The caller stops working on the session.
    #[error("the session lease is held by another runner")]
    LeaseLost,
    /// The database failed (I/O, locking, connection). Reported as 500.
    #[error("storage backend failure: {0}")]
    Backend(String),
}

/// A row together with its internal revision, for compare-and-swap updates.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    pub rev: i64,
    pub value: T,
}

/// Inclusive/exclusive bounds on `created_at`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub gt: Option<Timestamp>,
    pub gte: Option<Timestamp>,
    pub lt: Option<Timestamp>,
    pub lte: Option<Timestamp>,
}

/// One page-walk over a list, already validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub order: Order,
    pub cursor: Option<Cursor>,
    /// Rows wanted; the store reads one more to learn whether more exist.
    pub limit: usize,
    pub include_archived: bool,
    pub created_at: TimeRange,
}

impl ListQuery {
    /// Whether the store scans the key ascending for this query.
    pub fn scans_ascending(&self) -> bool {
        let forward = self
            .cursor
            .as_ref()
            .is_none_or(|c| c.direction == Direction::Forward);
        (self.order == Order::Asc) == forward
    }

    /// Whether the rows read must be reversed to come back in list order.
    pub fn walks_backward(&self) -> bool {
        self.cursor
            .as_ref()
            .is_some_and(|c| c.direction == Direction::Backward)
    }
}

/// Extra filters of the sessions list.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionFilter {
    pub agent_id: Option<String>,
    pub agent_version: Option<i64>,
    pub statuses: Vec<SessionStatus>,
    pub deployment_id: Option<String>,
    pub memory_store_id: Option<String>,
}

/// Rows of one page in list order, and whether more rows lie beyond them in the direction
/// walked (after the last row when walking forward, before the first when walking backward).
#[derive(Debug, Clone, PartialEq)]
pub struct Rows<T> {
    pub items: Vec<T>,
    pub more: bool,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    // Agents. The latest version lives in the agent row; every version is kept.
    async fn insert_agent(&self, agent: &Agent) -> Result<(), StoreError>;
    /// Stores `agent` as the new latest version; [`StoreError::Stale`] unless the stored
    /// latest version is `expected_version`.
    async fn update_agent(&self, agent: &Agent, expected_version: i64) -> Result<(), StoreError>;
    /// The latest version, or version `version`.
    async fn agent(&self, id: &str, version: Option<i64>) -> Result<Option<Agent>, StoreError>;
    /// Sets `archived_at` once (idempotent); false when no such agent.
    async fn archive_agent(&self, id: &str, at: Timestamp) -> Result<bool, StoreError>;
    async fn list_agents(&self, query: &ListQuery) -> Result<Rows<Agent>, StoreError>;
    /// Versions of one agent; the cursor key is the version number.
    async fn list_agent_versions(
        &self,
        id: &str,
        query: &ListQuery,
    ) -> Result<Rows<Agent>, StoreError>;

    // Environments. Names are unique ([`StoreError::Duplicate`]).
    async fn insert_environment(&self, env: &Environment) -> Result<(), StoreError>;
    async fn environment(&self, id: &str) -> Result<Option<Versioned<Environment>>, StoreError>;
    async fn update_environment(
        &self,
        env: &Environment,
        expected_rev: i64,
    ) -> Result<(), StoreError>;
    async fn list_environments(&self, query: &ListQuery) -> Result<Rows<Environment>, StoreError>;
    async fn delete_environment(&self, id: &str) -> Result<bool, StoreError>;

    // Sessions.
    async fn insert_session(&self, session: &Session) -> Result<(), StoreError>;
    async fn session(&self, id: &str) -> Result<Option<Versioned<Session>>, StoreError>;
    async fn update_session(&self, session: &Session, expected_rev: i64) -> Result<(), StoreError>;
    async fn list_sessions(
        &self,
        query: &ListQuery,
        filter: &SessionFilter,
    ) -> Result<Rows<Session>, StoreError>;
    async fn delete_session(&self, id: &str) -> Result<bool, StoreError>;

    // API keys: only SHA-256 hashes are stored.
    async fn api_key_hashes(&self) -> Result<Vec<String>, StoreError>;
    async fn insert_api_key(&self, id: &str, hash: &str, at: Timestamp) -> Result<(), StoreError>;
}
