//! The one integration-test binary of `hangar-tools`: every tool driven through `Toolbox::run`
//! on a temporary directory of the host (the tools do not care where they run).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
