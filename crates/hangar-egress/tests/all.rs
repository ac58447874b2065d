//! The integration-test binary of hangar-egress: the policy and address tables, the proxy end
//! to end over loopback sockets (including curl as a real client), and the web tools against
//! local origins and a fake SearXNG.

// Test helpers outside `#[test]` functions panic on setup failures by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
