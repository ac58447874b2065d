//! Test support for Hangar:
//! - [`TestServer`]: the real Hangar router on `127.0.0.1:0` over a SQLite file in a temp
//!   directory, with the real engine (event log, harness, scheduler), and an HTTP client that
//!   speaks like the official SDK (Bearer key and the managed-agents beta header). A server can
//!   be stopped and started again on the same directory to test persistence and recovery.
//! - [`mock_model`]: a scripted model server speaking the providers' wire formats.

pub mod mock_model;
mod server;

pub use server::{
    BETA, TEST_API_KEY, TestServer, TestServerBuilder, UnroutedModel, install_crypto_provider,
};
