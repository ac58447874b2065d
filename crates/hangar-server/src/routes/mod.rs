//! Route handlers: each parses its input, calls [`hangar_core::Resources`] and returns JSON.

pub mod agents;
pub mod environments;
pub mod sessions;
