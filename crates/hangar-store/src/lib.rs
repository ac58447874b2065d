//! Hangar's durable store: the core's [`hangar_core::store::Store`] port on SQLite, the
//! embedded default (one file, WAL mode, migrations applied on open).
//!
//! # Layout
//! - [`sqlite`]: [`SqliteStore`], connection set-up and migrations.
//! - `resources`: the agent / environment / session / API key queries.
//! - `listing`: shared keyset-pagination SQL.

mod listing;
mod resources;
pub mod sqlite;

pub use sqlite::SqliteStore;
