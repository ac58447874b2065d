//! `hangar environment build`: builds (or finds) the frozen layer of an environment's
//! `packages`, the same layer a session's first tool call would get, and prints its path.
//! Lets an operator warm the cache before users arrive, or see why a spec fails to build.
//! Owns argument handling only; the build itself is `hangar_sandbox::build`'s.
//!
//! ```text
//! hangar environment build --packages-json '{"apt": ["jq"], "pip": ["six"]}' [--data-dir DIR]
//! ```
//! Progress goes to stderr as log lines (`RUST_LOG` adjusts them; the egress proxy's line per
//! request is off by default); the layer path is the only line on stdout.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Subcommand};
use hangar_egress::{EgressProxy, Resolver};
use hangar_protocol::environment::{Packages, PackagesParams};
use hangar_sandbox::{EnvironmentBuilder, InitProgram, RegistryEgress, SandboxConfig};

use crate::config::DEFAULT_DATA_DIR;

#[derive(Subcommand)]
pub enum EnvironmentCommand {
    /// Build (or find) the package layer of an environment spec and print its path.
    Build(BuildArgs),
}

#[derive(Args)]
pub struct BuildArgs {
    /// The environment's `packages` object as JSON, e.g. `{"apt": ["jq"], "pip": ["six"]}`.
    /// Omitted lists are empty; `"type": "packages"` is accepted.
    #[arg(long)]
    packages_json: String,
    /// The server's data directory. Layers go to `<templates>/env/`, where templates are
    /// `<data-dir>/templates` (or `$HANGAR_TEMPLATE_DIR`).
    #[arg(long, env = "HANGAR_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
    /// Templates directory, when not `<data-dir>/templates` (or `$HANGAR_TEMPLATE_DIR`).
    #[arg(long)]
    templates_dir: Option<PathBuf>,
}

pub async fn run(command: EnvironmentCommand) -> anyhow::Result<()> {
    match command {
        EnvironmentCommand::Build(args) => build(args).await,
    }
}

async fn build(args: BuildArgs) -> anyhow::Result<()> {
    init_logging();
    let packages = parse_packages(&args.packages_json)?;
    let data_dir = std::path::absolute(&args.data_dir)?;
    let mut config = SandboxConfig::new(&data_dir, InitProgram::current_exe()?);
    if let Some(templates) = args.templates_dir {
        config.templates_dir = std::path::absolute(templates)?;
    }
    let proxy = Arc::new(EgressProxy::new(Resolver::system()));
    let builder = EnvironmentBuilder::new(&config, Arc::new(RegistryEgress::new(proxy)))?;
    let started = Instant::now();
    let layer = builder.ensure_layer(&packages).await;
    builder.shutdown().await;
    match layer.context("environment build failed")? {
        Some(path) => {
            let verb = match builder.builds_started() {
                0 => "found",
                _ => "built",
            };
            eprintln!("layer {verb} in {:.1} s", started.elapsed().as_secs_f64());
            println!("{}", path.display());
        }
        None => eprintln!("no packages: this environment needs no layer"),
    }
    Ok(())
}

/// Progress lines on stderr. The proxy's line per registry request is left out unless
/// `RUST_LOG` asks for it.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,egress=warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// The API's shape: every list optional.
fn parse_packages(json: &str) -> anyhow::Result<Packages> {
    let params: PackagesParams =
        serde_json::from_str(json).context("--packages-json is not a packages object")?;
    Ok(Packages {
        r#type: Default::default(),
        apt: params.apt.unwrap_or_default(),
        cargo: params.cargo.unwrap_or_default(),
        gem: params.gem.unwrap_or_default(),
        go: params.go.unwrap_or_default(),
        npm: params.npm.unwrap_or_default(),
        pip: params.pip.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn omitted_lists_are_empty_and_unknown_managers_are_refused() {
        let packages = parse_packages(r#"{"apt": ["jq"], "type": "packages"}"#).unwrap();
        assert_eq!(packages.apt, ["jq"]);
        assert!(packages.pip.is_empty());
        assert!(parse_packages(r#"{"brew": ["jq"]}"#).is_err());
    }
}
