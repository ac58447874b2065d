//! The `hangar` binary: `serve` runs the server (the main job); `bench` measures it.
//!
//! # Layout
//! - [`config`]: flags, environment and the optional TOML file, merged.
//! - [`serve`]: start-up, API key bootstrap, graceful shutdown.
//! - [`bench`]: load benchmarks against a real server on loopback.

mod bench;
mod bench_sandbox;
mod bench_turns;
mod config;
mod environment_cmd;
mod logging;
mod sandbox_cmd;
mod serve;
mod tools;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "hangar",
    version,
    about = "Self-hosted runtime for managed agents"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API server.
    Serve(config::ServeArgs),
    /// Run a benchmark and print its figures.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Operator commands for session sandboxes.
    #[command(subcommand)]
    Sandbox(sandbox_cmd::SandboxCommand),
    /// Operator commands for environments (build a package layer ahead of use).
    #[command(subcommand)]
    Environment(environment_cmd::EnvironmentCommand),
    /// Internal: the init program of a sandbox (started by the server, never by hand).
    #[command(hide = true)]
    SandboxInit,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::SandboxInit = cli.command {
        // Before any runtime or thread exists: the init program forks.
        std::process::exit(hangar_sandbox::init::run());
    }
    // One TLS provider in the process (ring; see design.md §6), for every HTTP client.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cli.command {
        Command::Serve(args) => runtime.block_on(serve::run(args)),
        Command::Bench(command) => runtime.block_on(bench::run(command)),
        Command::Sandbox(command) => runtime.block_on(sandbox_cmd::run(command)),
        Command::Environment(command) => runtime.block_on(environment_cmd::run(command)),
        Command::SandboxInit => Ok(()), // handled above, before the runtime existed
    }
}
