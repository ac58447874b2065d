//! Hangar's local Linux sandbox backend (the embedded default): one sandbox per active
//! session, built from namespaces, an overlay root over a Debian template, cgroups, rlimits,
//! capabilities and seccomp, with the `hangar-tools` toolset served by an init agent inside.
//! No daemon, no Docker. It must not follow a sandbox's paths from the host: every tool runs
//! inside.
//!
//! # Layout
//! - [`runtime`]: [`LocalSandboxRuntime`], the `ToolRuntime` the server wires in.
//! - [`config`]: [`SandboxConfig`] and its defaults; [`error`]: [`SandboxError`].
//! - [`egress`]: the per-session egress hook (listener inside the sandbox's netns).
//! - [`layers`]: the environment-layer hook; [`rootfs`]: the base template build.
//! - [`build`]: [`EnvironmentBuilder`], environment packages → a cached, frozen layer, built
//!   in a build sandbox ([`build_sandbox`](crate::build_sandbox)) whose egress reaches only the
//!   package registries ([`build_egress`]); [`packages`]: specs, layer key, install plan.
//! - [`init`]: the init program's entry point (`hangar sandbox-init`).
//! - Host side: `sandbox` (one sandbox's resources), `launch` (spawn + handshake, and the
//!   init program started ahead of need), `client`
//!   (protocol client), [`cgroup`], `session` (dirs and lock), `disk` (ext4 cap),
//!   [`snapshot`] (snapshot, restore, exec into a running sandbox).
//! - Inside: `setup` (namespaces, mounts), `harden` (rlimits, caps, seccomp), `agent`
//!   (serving loop), `archive` (tar+zstd), [`protocol`] (frames), `sys` (the unsafe calls).

//!
//! # Life of a sandbox
//! The first tool call of a session starts its sandbox (≈ 9 ms to the first output when the
//! session exists, ≈ 15 ms for a new one with its disk image; see docs/performance.md). The
//! init program (`hangar sandbox-init`) sets up, as real root, a private mount namespace
//! with the session's ext4 image and the overlay root; then a user namespace (sandbox
//! 0..65535 → host `id_base`..), the other namespaces, and PID 1, which mounts `/proc`,
//! `/dev`, `/tmp`, pivots, hardens itself and serves calls. A sandbox idle for
//! `idle_timeout` is killed (PID 1 takes its namespace with it); its files stay in the
//! session's upper and come back on the next call, also after a server restart.

// `unsafe_code` is denied workspace-wide. This crate must make system calls that neither
// `std` nor a safe wrapper offers (unshare, setns, mount, pivot_root, capset, seccomp, loop
// ioctls, fork in the single-threaded setup process); each unsafe block is small and has a
// SAFETY comment, and most live in `sys`.
#![allow(unsafe_code)]

mod agent;
mod archive;
pub mod build;
pub mod build_egress;
mod build_sandbox;
pub mod cgroup;
mod client;
pub mod config;
mod disk;
pub mod egress;
pub mod error;
pub mod harden;
pub mod init;
mod launch;
pub mod layers;
pub mod packages;
pub mod protocol;
pub mod rootfs;
pub mod runtime;
mod sandbox;
pub mod seccomp;
pub mod session;
mod setup;
pub mod snapshot;
mod sys;

pub use build::{BuildOptions, EnvironmentBuilder};
pub use build_egress::RegistryEgress;
pub use client::CallOutcome;
pub use config::{InitProgram, SandboxConfig, SandboxLimits};
pub use egress::{EgressHandler, EgressProvider};
pub use error::SandboxError;
pub use layers::LayerResolver;
pub use runtime::LocalSandboxRuntime;
pub use sandbox::base_env;
