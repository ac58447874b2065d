//! Hangar's durable store: the core's [`hangar_core::store::Store`] and
//! [`hangar_core::event_store::EventStore`] ports on SQLite, the
//! embedded default (one file, WAL mode, migrations applied on open).
//!
//! # Layout
//! - [`sqlite`]: [`SqliteStore`], connection set-up and migrations.
//! - `resources`: the agent / environment / session / API key queries.
//! - `events`: the session log, runtime state and leases (`EventStore`);
//!   `group_commit`: the one task that writes session-log commits, batched.
//! - `listing`: shared keyset-pagination SQL.

mod events;
mod group_commit;
mod listing;
mod resources;
pub mod sqlite;

pub use sqlite::SqliteStore;
