//! The integration-test binary of `hangar-server`: every test drives a real server on a free
//! port (`hangar_testkit::TestServer`) over HTTP, as the official SDK would.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
