//! Route handlers: each parses its input, calls [`hangar_core::Resources`] or the engine and
//! returns JSON (or an SSE stream).

pub mod agents;
pub mod environments;
pub mod events;
pub mod sessions;
pub mod stream;
pub mod threads;
