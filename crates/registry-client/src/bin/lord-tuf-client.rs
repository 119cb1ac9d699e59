//! `lord-tuf-client`: the client-under-test of the public TUF conformance
//! suite (its `CLIENT-CLI.md`: `init`, `refresh`, `download`), a thin shell
//! over `lord_registry_client::tuf::Updater`, the same code `lord plugin
//! install`, `update` and `search` verify the registry's index with.
//!
//! Exit code 0 on success, 1 on any failure, with the reason on stderr.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use lord_registry_client::tuf::{Updater, quote};

const USAGE: &str = "usage: lord-tuf-client --metadata-dir DIR [--metadata-url URL] \
[--target-name PATH]... [--target-base-url URL] [--target-dir DIR] (init ROOT | refresh | download)";

#[derive(Debug, Default)]
struct Args {
    metadata_dir: Option<PathBuf>,
    metadata_url: Option<String>,
    target_names: Vec<String>,
    target_base_url: Option<String>,
    target_dir: Option<PathBuf>,
    command: Vec<String>,
}

fn parse(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut args = Args::default();
    while let Some(arg) = argv.next() {
        let mut value = || argv.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--metadata-dir" => args.metadata_dir = Some(value()?.into()),
            "--metadata-url" => args.metadata_url = Some(value()?),
            "--target-name" => args.target_names.push(value()?),
            "--target-base-url" => args.target_base_url = Some(value()?),
            "--target-dir" => args.target_dir = Some(value()?.into()),
            "-v" | "--verbose" => {}
            _ if arg.starts_with("--") => return Err(format!("unknown option {arg}")),
            _ => args.command.push(arg),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lord-tuf-client: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args = parse(std::env::args().skip(1))?;
    let dir = args.metadata_dir.as_deref().ok_or(USAGE)?;
    match args.command.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["init", root] => {
            let bytes = std::fs::read(root).map_err(|e| format!("could not read {root}: {e}"))?;
            Updater::init(dir, &bytes).map_err(|e| e.to_string())
        }
        ["refresh"] => runtime()?.block_on(async {
            let mut updater = open(dir, &args)?;
            updater.refresh().await.map_err(|e| e.to_string())
        }),
        ["download"] => runtime()?.block_on(async {
            let base = args.target_base_url.as_deref().ok_or(USAGE)?;
            let target_dir = args.target_dir.as_deref().ok_or(USAGE)?;
            let mut updater = open(dir, &args)?;
            for name in &args.target_names {
                download(&mut updater, name, base, target_dir).await?;
            }
            Ok(())
        }),
        _ => Err(USAGE.to_owned()),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("no async runtime: {e}"))
}

fn open(dir: &Path, args: &Args) -> Result<Updater, String> {
    let url = args.metadata_url.as_deref().ok_or(USAGE)?;
    let http = reqwest::Client::builder()
        .build()
        .map_err(|e| format!("no HTTP client: {e}"))?;
    Updater::open(dir, url, http, jiff::Timestamp::now()).map_err(|e| e.to_string())
}

/// One target into `target_dir` under its percent-encoded name, unless a
/// copy that matches its signed length and hashes is already there.
async fn download(
    updater: &mut Updater,
    name: &str,
    base: &str,
    target_dir: &Path,
) -> Result<(), String> {
    let file = updater.target(name).await.map_err(|e| e.to_string())?;
    let path = target_dir.join(quote(name));
    if let Ok(cached) = std::fs::read(&path)
        && lord_registry_client::tuf::verify_target(name, &file, &cached).is_ok()
    {
        return Ok(());
    }
    let bytes = updater
        .download_target(name, &file, base)
        .await
        .map_err(|e| e.to_string())?;
    lord_file::write_atomic(&path, &bytes).map_err(|e| format!("{e:?}"))
}
