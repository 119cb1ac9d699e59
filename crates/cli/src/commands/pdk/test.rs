//! `lord pdk test [DIR]`: the declared and generated test cases through
//! the real host, in a throwaway lord home; optionally JUnit XML too.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use lord_devkit::harness::{Harness, HarnessOptions};

use super::{devkit, write_atomic};
use crate::context::Context;
use crate::render::Output;

#[derive(Debug, Args)]
pub(crate) struct TestArgs {
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Also write JUnit XML here.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Only the declared cases.
    #[arg(long)]
    no_generated: bool,
    /// Only cases whose name contains this.
    #[arg(long)]
    filter: Option<String>,
    /// Seed for generated inputs.
    #[arg(long, default_value_t = 0x5eed)]
    seed: u64,
    #[arg(long)]
    json: bool,
}

#[derive(Debug)]
pub(crate) struct Request {
    dir: PathBuf,
    junit: Option<PathBuf>,
    options: HarnessOptions,
    json: bool,
}

pub(crate) fn parse(cwd: &Path, args: TestArgs) -> Request {
    Request {
        dir: cwd.join(args.dir),
        junit: args.junit.map(|j| cwd.join(j)),
        options: HarnessOptions {
            generated: !args.no_generated,
            seed: args.seed,
            filter: args.filter,
            ..HarnessOptions::default()
        },
        json: args.json,
    }
}

pub(crate) async fn run(ctx: &Context, out: &Output, request: Request) -> Result<ExitCode> {
    let spinner = out.spinner("testing");
    let report = async {
        // The author's PATH, so that `exec(PROGRAM)` grants find programs.
        let path = ctx
            .env
            .iter()
            .find(|(k, _)| k == "PATH")
            .map(|(_, v)| v.as_str());
        let mut harness = Harness::open_with_path(&request.dir, &ctx.home.join("tmp"), path)?;
        harness.run(&request.options).await
    }
    .await;
    spinner.done();
    let report = report.map_err(devkit)?;
    if let Some(path) = &request.junit {
        write_atomic(path, lord_devkit::junit::to_junit(&report).as_bytes())?;
    }
    if request.json {
        out.json(&report)?;
    } else {
        out.text(&report.to_text())?;
    }
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        // A plugin failure, in lord's exit codes.
        ExitCode::from(3)
    })
}
