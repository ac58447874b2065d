//! The integration-test binary of hangar-llm: every adapter against the scripted mock model
//! server over real HTTP, the router, and (when a llama.cpp server is configured) live tests.

// Helpers outside #[test] functions panic on setup failures too; that is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
