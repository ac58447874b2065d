//! `hangar sandbox …`: operator commands for session sandboxes. `exec` runs a command in a
//! session's file system: inside the running sandbox when one is up (joining its
//! namespaces, with the same restrictions as tool calls), otherwise in a temporary sandbox
//! on the session's upper that is stopped afterwards. Owns argument handling only.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use hangar_sandbox::session::SessionPaths;
use hangar_sandbox::{CallOutcome, InitProgram, LocalSandboxRuntime, SandboxConfig, SandboxError};

#[derive(Subcommand)]
pub enum SandboxCommand {
    /// Run a command in a session's sandbox file system and print its output.
    Exec(ExecArgs),
    /// Write a session's file system to a tar+zstd archive.
    Snapshot(ArchiveArgs),
    /// Replace a session's file system with the one in a tar+zstd archive.
    Restore(ArchiveArgs),
}

#[derive(Args)]
pub struct ArchiveArgs {
    /// The server's data directory (sessions live in `<data-dir>/sessions/`).
    #[arg(long)]
    data_dir: PathBuf,
    /// The session id.
    #[arg(long)]
    session: String,
    /// The archive (`.tar.zst`) to write or read.
    #[arg(long)]
    archive: PathBuf,
}

#[derive(Args)]
pub struct ExecArgs {
    /// The server's data directory (sessions live in `<data-dir>/sessions/`).
    #[arg(long)]
    data_dir: PathBuf,
    /// The session id.
    #[arg(long)]
    session: String,
    /// Templates directory, when not `<data-dir>/templates` (or `$HANGAR_TEMPLATE_DIR`).
    #[arg(long)]
    templates_dir: Option<PathBuf>,
    /// The command and its arguments (after `--`).
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

pub async fn run(command: SandboxCommand) -> anyhow::Result<()> {
    match command {
        SandboxCommand::Exec(args) => exec(args).await,
        SandboxCommand::Snapshot(args) => archive(args, false).await,
        SandboxCommand::Restore(args) => archive(args, true).await,
    }
}

/// Snapshot or restore while no server runs the session's sandbox (the session lock says).
async fn archive(args: ArchiveArgs, restore: bool) -> anyhow::Result<()> {
    let data_dir = std::path::absolute(&args.data_dir)?;
    let archive = std::path::absolute(&args.archive)?;
    let runtime =
        LocalSandboxRuntime::new(SandboxConfig::new(&data_dir, InitProgram::current_exe()?))?;
    let done = if restore {
        runtime.restore(&args.session, &archive).await
    } else {
        runtime.snapshot(&args.session, &archive).await
    };
    runtime.shutdown().await;
    match done {
        Ok(()) => {
            let verb = if restore {
                "restored from"
            } else {
                "written to"
            };
            println!(
                "session {}: file system {verb} {}",
                args.session,
                archive.display()
            );
            Ok(())
        }
        Err(SandboxError::SessionBusy(..)) => anyhow::bail!(
            "session {} has a running sandbox (a server is using it); wait until it idles or \
             stop the server",
            args.session
        ),
        Err(err) => Err(err.into()),
    }
}

async fn exec(args: ExecArgs) -> anyhow::Result<()> {
    let data_dir = std::path::absolute(&args.data_dir)?;
    let mut config = SandboxConfig::new(&data_dir, InitProgram::current_exe()?);
    if let Some(dir) = args.templates_dir {
        config.templates_dir = std::path::absolute(dir)?;
    }
    let paths = SessionPaths::new(&data_dir, &args.session)?;
    anyhow::ensure!(
        paths.root.exists(),
        "session {} has no sandbox files in {}",
        args.session,
        data_dir.display()
    );
    match paths.lock() {
        Ok(lock) => {
            drop(lock);
            exec_in_temporary(config, &args.session, &args.command).await
        }
        Err(SandboxError::SessionBusy(..)) => {
            let code =
                hangar_sandbox::snapshot::exec_in_running(&config, &args.session, args.command)
                    .await
                    .context("join the running sandbox")?;
            std::process::exit(code);
        }
        Err(error) => Err(error.into()),
    }
}

async fn exec_in_temporary(
    config: SandboxConfig,
    session: &str,
    command: &[String],
) -> anyhow::Result<()> {
    let runtime = LocalSandboxRuntime::new(config)?;
    let line = command
        .iter()
        .map(|word| shell_quote(word))
        .collect::<Vec<_>>()
        .join(" ");
    let input = serde_json::json!({ "command": line });
    let outcome = runtime
        .call_in_session(
            session,
            "bash",
            &input,
            &tokio_util::sync::CancellationToken::new(),
        )
        .await;
    runtime.shutdown().await;
    match outcome? {
        CallOutcome::Done { text, is_error } => {
            print!("{text}");
            if !text.ends_with('\n') {
                println!();
            }
            if is_error || text.contains("[exit code: ") {
                std::process::exit(1);
            }
            Ok(())
        }
        CallOutcome::Cancelled => anyhow::bail!("cancelled"),
    }
}

fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}
