//! Wire types of the Managed Agents API as Hangar speaks it: ids, timestamps, the error
//! envelope, cursor pages and the resource objects (agents, environments, sessions).
//!
//! This crate performs no I/O and knows nothing of the server, the store or the harness. Request
//! shapes (`…Params`) reject unknown fields; response shapes are always fully resolved, exactly
//! as `shared/spec/cma-api.md` §3 describes them.
//!
//! # Layout
//! - [`ids`]: prefixed, time-sortable identifiers.
//! - [`time`]: RFC 3339 timestamps with microseconds.
//! - [`error`]: the error envelope and its closed table of kinds.
//! - [`page`]: list pages and opaque, validated cursors.
//! - [`nullable`]: the omit / `null` / value tri-state of update fields.
//! - [`agent`], [`environment`], [`session`]: resource objects and their request params.
//! - [`content`]: content blocks; [`event`]: session events and previews;
//!   [`event_params`]: events a client sends.

#[macro_use]
mod literal;
pub mod agent;
pub mod content;
pub mod environment;
pub mod error;
pub mod event;
pub mod event_params;
pub mod ids;
pub mod nullable;
pub mod page;
pub mod session;
pub mod string_or;
pub mod thread;
pub mod time;

/// The `anthropic-beta` value the SDK sends for agents, environments and sessions.
pub const MANAGED_AGENTS_BETA: &str = "managed-agents-2026-04-01";
