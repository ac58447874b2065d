//! Hangar's domain core: the rules of the resources API (agents, environments, sessions) and
//! the ports they use. It knows the wire types but no HTTP, SQL or network client.
//!
//! # Layout
//! - [`store`]: the `Store` port and its query types.
//! - [`resources`]: [`Resources`], the service the HTTP handlers call.
//! - [`agents`], [`environments`], [`sessions`]: the rules of each resource.
//! - [`tools`]: resolution of models, tools, MCP servers and skills.
//! - [`listing`]: list requests → validated store queries → pages with cursors.
//! - [`limits`]: every size limit; [`validate`]: shared validators.
//! - [`model`]: the `ModelClient` port; [`tool_runtime`]: the `ToolRuntime` port.

pub mod agents;
pub mod budget;
pub mod bus;
pub mod engine;
pub mod environments;
pub mod event_log;
pub mod event_store;
pub mod harness;
pub mod limits;
pub mod listing;
pub mod model;
pub mod pricing;
pub mod resources;
pub mod scheduler;
mod session_events;
pub mod sessions;
pub mod store;
pub mod tool_runtime;
pub mod tools;
pub mod validate;

pub use resources::Resources;
