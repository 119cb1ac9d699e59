//! `lord pdk build [DIR]`: build the project into the component its
//! plugin.toml names (cargo for Rust; the pinned JavaScript toolchain for
//! TypeScript and JavaScript).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use lord_devkit::builder::{self, BuildOptions};
use lord_devkit::toolchain::Engine;
use serde_json::json;

use super::{devkit, toolchain};
use crate::cli::UsageError;
use crate::context::Context;
use crate::render::Output;

#[derive(Debug, Args)]
pub(crate) struct BuildArgs {
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// JavaScript engine: quickjs (small, fast to compile) or spidermonkey.
    /// Default: quickjs, or spidermonkey when the code imports `lord:fetch`
    /// (QuickJS builds cannot link HTTP).
    #[arg(long)]
    engine: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Debug)]
pub(crate) struct Request {
    dir: PathBuf,
    engine: Option<Engine>,
    json: bool,
}

pub(crate) fn parse(cwd: &Path, args: BuildArgs) -> Result<Request, UsageError> {
    Ok(Request {
        dir: cwd.join(args.dir),
        engine: args
            .engine
            .map(|e| e.parse())
            .transpose()
            .map_err(UsageError)?,
        json: args.json,
    })
}

pub(crate) fn run(ctx: &Context, out: &Output, request: Request) -> Result<ExitCode> {
    let options = BuildOptions {
        cargo: ctx.cargo.clone(),
        toolchain: toolchain(ctx),
        engine: request.engine,
    };
    let spinner = out.spinner("building");
    let built = builder::build(&request.dir, &options, &mut |step| spinner.say(step));
    spinner.done();
    let built = built.map_err(devkit)?;
    if request.json {
        out.json_line(&json!({
            "component": built.component,
            "bytes": built.bytes,
            "lang": built.lang.as_str(),
            "ms": built.took.as_secs_f64() * 1000.0,
            "steps": built.steps.iter().map(|(s, d)| json!({"step": s, "ms": d.as_secs_f64() * 1000.0})).collect::<Vec<_>>(),
        }))?;
    } else {
        out.status(format_args!(
            "built {} ({} bytes) in {:.1} s",
            built.component.display(),
            built.bytes,
            built.took.as_secs_f64()
        ));
    }
    Ok(ExitCode::SUCCESS)
}
