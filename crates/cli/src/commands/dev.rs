//! `lord dev PATH`: build the plugin, swap it in, and again on every change
//! to its sources, printing how long each rebuild took. The first install,
//! and any build that asks for permissions the last was not granted, shows
//! what it would grant and asks first, as `lord plugin install` and
//! `lord plugin update` do; a rebuild asking for nothing new swaps in
//! without a question.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use lord_devkit::builder::{self, BuildOptions};
use lord_devkit::dev;
use lord_devkit::template::Lang;
use lord_host::Framework;

use crate::consent::{Consent, Subject};
use crate::context::Context;
use crate::render::Output;

#[derive(Debug, Args)]
pub(crate) struct DevArgs {
    /// The plugin folder: plugin.toml and its sources (Cargo.toml for Rust,
    /// src/plugin.ts or src/plugin.js for TypeScript or JavaScript).
    path: PathBuf,
    /// Build and swap once, then exit.
    #[arg(long)]
    once: bool,
    /// How often to look for changed sources, in milliseconds.
    #[arg(long, default_value_t = 500)]
    interval_ms: u64,
    /// Grant what the first build, and any later build that asks for
    /// more, requests without asking.
    #[arg(long, short = 'y')]
    yes: bool,
}

pub(crate) async fn run(
    ctx: &Context,
    out: &Output,
    framework: &mut Framework,
    args: DevArgs,
) -> Result<ExitCode> {
    let mut stamp = dev::sources_stamp(&args.path);
    loop {
        match cycle(ctx, out, framework, &args).await {
            Ok(()) => {}
            Err(e) if !args.once => {
                out.error_line(format_args!("{e:#}; waiting for the next change"));
            }
            Err(e) => return Err(e),
        }
        if args.once {
            return Ok(ExitCode::SUCCESS);
        }
        loop {
            tokio::time::sleep(Duration::from_millis(args.interval_ms)).await;
            let now = dev::sources_stamp(&args.path);
            if now != stamp {
                stamp = now;
                break;
            }
        }
    }
}

async fn cycle(
    ctx: &Context,
    out: &Output,
    framework: &mut Framework,
    args: &DevArgs,
) -> Result<()> {
    let took = build(ctx, out, &args.path)?;
    let plan = framework.plan_replace(&args.path)?;
    // What is granted here persists in the lord home like any install, so
    // it is consented to like one; refused, the last build stays.
    let consent = Consent::new(ctx, out, args.yes);
    let swapped = plan.replaces.is_some();
    if swapped {
        let diff = plan.diff();
        if diff.needs_consent() {
            consent.show_changes(&diff);
            consent.obtain(Subject::Rebuild(&plan.manifest.plugin.id))?;
        }
    } else {
        consent.show(&plan);
        consent.obtain(Subject::Plugin(&plan.manifest.plugin.id))?;
    }
    let registration = framework.install(plan).await?;
    let id = registration.plugin.id();
    out.status(format_args!(
        "{} {id} in {} ms",
        if swapped {
            "rebuilt and swapped"
        } else {
            "built and installed"
        },
        took.as_millis()
    ));
    if let Some(error) = registration.enable_error {
        out.status(format_args!("enabling {id} failed: {error}"));
    }
    Ok(())
}

/// Builds the project in `dir` as `lord pdk build` does (cargo for Rust,
/// the pinned npm toolchain for TypeScript and JavaScript), with a spinner
/// naming each step; a folder with no sources lord knows, only a manifest
/// and its component, is taken as built. How long it took.
fn build(ctx: &Context, out: &Output, dir: &Path) -> Result<Duration> {
    if Lang::detect(dir).is_none() {
        return Ok(dev::build(dir, &ctx.cargo)?.took);
    }
    let options = BuildOptions {
        cargo: ctx.cargo.clone(),
        toolchain: super::pdk::toolchain(ctx),
        engine: None,
    };
    let spinner = out.spinner("building");
    let built = builder::build(dir, &options, &mut |step| spinner.say(step));
    spinner.done();
    Ok(built?.took)
}
