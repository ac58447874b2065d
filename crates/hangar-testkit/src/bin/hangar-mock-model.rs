//! `hangar-mock-model --listen ADDR --script FILE`: the scripted model server of
//! `hangar_testkit::mock_model` as a process, for manual runs and SDK tests. Prints the bound
//! address on stdout, then serves until interrupted.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use hangar_testkit::mock_model::{MockModel, Script};

const USAGE: &str = "usage: hangar-mock-model --listen ADDR --script FILE\n\
    ADDR may use port 0 (e.g. 127.0.0.1:0); the bound address is printed on stdout.\n\
    The script format is documented in hangar_testkit::mock_model.";

struct Args {
    listen: SocketAddr,
    script: Option<PathBuf>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut listen = None;
    let mut script = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = Some(args.next().context("--listen needs an address")?),
            "--script" => {
                script = Some(PathBuf::from(args.next().context("--script needs a file")?))
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument `{other}`\n{USAGE}"),
        }
    }
    let listen = listen.unwrap_or_else(|| "127.0.0.1:0".to_owned());
    Ok(Args {
        listen: listen
            .parse()
            .with_context(|| format!("bad --listen address `{listen}`"))?,
        script,
    })
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = match parse_args() {
        Ok(args) => args,
        Err(error) => {
            eprintln!("hangar-mock-model: {error:#}");
            std::process::exit(2);
        }
    };
    let script = match &args.script {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Script::from_json(&text).with_context(|| format!("parsing {}", path.display()))?
        }
        None => Script::default(),
    };
    let mock = MockModel::start_on(args.listen, script).await?;
    println!("{}", mock.addr);
    tokio::signal::ctrl_c().await?;
    mock.stop().await;
    Ok(())
}
