//! The integration-test binary of the `hangar` binary: it starts `hangar serve` as a child
//! process, as a user would, and drives it over HTTP.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
