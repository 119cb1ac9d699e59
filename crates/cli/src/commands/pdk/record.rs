//! `lord pdk record [DIR]`: run the plugin with everything denied, grant
//! what it was refused round by round, and propose the permissions it
//! needs (optionally written into plugin.toml).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use lord_devkit::record::{self, Recording};
use lord_host::Framework;

use super::{devkit, plugin_facts};
use crate::cli::UsageError;
use crate::context::Context;
use crate::render::{Output, foreign};

#[derive(Debug, Args)]
pub(crate) struct RecordArgs {
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// A command line to run, e.g. --run 'note hello' (repeatable;
    /// default: the declared cases).
    #[arg(long = "run")]
    runs: Vec<String>,
    /// Write the proposal into plugin.toml (comments kept).
    #[arg(long)]
    write: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Debug)]
pub(crate) struct Request {
    dir: PathBuf,
    /// Each `--run`, split into words.
    runs: Vec<Vec<String>>,
    write: bool,
    json: bool,
}

/// Each `--run` is split into words as a shell would, so a quoted
/// argument stays one word: `--run 'note "buy milk"'` records `note` with
/// `buy milk`.
pub(crate) fn parse(cwd: &Path, args: RecordArgs) -> Result<Request, UsageError> {
    let runs = args
        .runs
        .iter()
        .map(|line| {
            shlex::split(line).ok_or_else(|| {
                UsageError(format!(
                    "--run `{line}` has an unclosed quote or a trailing backslash; quote \
                     each argument as in a shell"
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Request {
        dir: cwd.join(args.dir),
        runs,
        write: args.write,
        json: args.json,
    })
}

pub(crate) async fn run(
    ctx: &Context,
    out: &Output,
    framework: &Framework,
    request: Request,
) -> Result<ExitCode> {
    let dir = &request.dir;
    let facts = plugin_facts(framework, dir)?;
    let calls = request
        .runs
        .iter()
        .map(|words| record::command_case(&facts.manifest, words))
        .collect::<Result<Vec<_>, _>>()
        .map_err(devkit)?;
    let spinner = out.spinner("recording");
    let recording = record::record(
        dir,
        &ctx.home.join("tmp"),
        calls,
        &facts.imports,
        &mut |s| spinner.say(s),
    )
    .await;
    spinner.done();
    let recording = recording.map_err(devkit)?;
    if request.write {
        let written = record::write_proposal(dir, &recording).map_err(devkit)?;
        out.status(format_args!(
            "wrote [permissions] request = [{}] into plugin.toml",
            written.join(", ")
        ));
    }
    if request.json {
        out.json(&recording)?;
    } else {
        out.status_text(&rounds(&recording));
        out.text(&recording.toml())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// What each round refused, what the manifest lacks or never needed.
fn rounds(recording: &Recording) -> String {
    let mut text = String::new();
    for (i, round) in recording.rounds.iter().enumerate() {
        text.push_str(&format!(
            "round {}: {} refused\n",
            i + 1,
            round.refused.len()
        ));
        for (access, needs) in &round.refused {
            text.push_str(&format!(
                "  {} -> {}\n",
                foreign(access),
                needs.as_deref().unwrap_or("no permission allows this")
            ));
        }
    }
    if !recording.missing.is_empty() {
        text.push_str(&format!(
            "plugin.toml lacks: {}\n",
            recording.missing.join(", ")
        ));
    }
    if !recording.unused.is_empty() {
        text.push_str(&format!(
            "never needed here: {}\n",
            recording.unused.join(", ")
        ));
    }
    text.push_str(
        "file and environment reads leave no trace when not granted; add those by hand\n",
    );
    text
}
