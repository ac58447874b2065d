//! The one integration-test binary of `hangar-sandbox`: real sandboxes on this machine (root
//! required), on the shared base template that `scripts/ci-sandbox-prep.sh` builds.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
