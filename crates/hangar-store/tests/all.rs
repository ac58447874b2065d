//! The integration-test binary of `hangar-store`: the store ports against a real SQLite file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
