//! The init program for this crate's tests and for CI template preparation. With no
//! arguments it is the sandbox init (exactly what `hangar sandbox-init` runs); with
//! `build-base --templates-dir DIR` it builds (or finds) the base template and prints its
//! path.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        None | Some("sandbox-init") => hangar_sandbox::init::run(),
        Some("build-base") => build_base(&args[1..]),
        Some(other) => {
            eprintln!(
                "unknown mode {other:?}; use no arguments, or build-base --templates-dir DIR"
            );
            2
        }
    };
    std::process::exit(code);
}

fn build_base(args: &[String]) -> i32 {
    let [flag, dir] = args else {
        eprintln!("usage: hangar-sandbox-init build-base --templates-dir DIR");
        return 2;
    };
    if flag != "--templates-dir" {
        eprintln!("usage: hangar-sandbox-init build-base --templates-dir DIR");
        return 2;
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .init();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start tokio: {error}");
            return 1;
        }
    };
    let spec = hangar_sandbox::rootfs::BaseSpec::default();
    let id_base = hangar_sandbox::config::DEFAULT_ID_BASE;
    let built = runtime.block_on(hangar_sandbox::rootfs::ensure_base(
        std::path::Path::new(dir),
        &spec,
        id_base,
        true,
    ));
    match built {
        Ok(rootfs) => {
            println!("{}", rootfs.display());
            0
        }
        Err(error) => {
            eprintln!("{error}");
            1
        }
    }
}
