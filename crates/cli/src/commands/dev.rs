//! `lord dev PATH`: build the plugin, swap it in, and again on every change
//! to its sources, printing how long each rebuild took.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use lord_devkit::dev;
use lord_host::Framework;

use crate::context::Context;
use crate::render::Output;

#[derive(Debug, Args)]
pub(crate) struct DevArgs {
    /// The plugin folder (plugin.toml, and Cargo.toml for a Rust plugin).
    path: PathBuf,
    /// Build and swap once, then exit.
    #[arg(long)]
    once: bool,
    /// How often to look for changed sources, in milliseconds.
    #[arg(long, default_value_t = 500)]
    interval_ms: u64,
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
    let build = dev::build(&args.path, &ctx.cargo)?;
    let plan = framework.plan_replace(&args.path)?;
    let added = plan.added_permissions();
    if !added.is_empty() {
        out.status(format_args!(
            "this build requests more than the last: {}",
            added
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let swapped = plan.replaces.is_some();
    let registration = framework.install(plan).await?;
    let id = registration.plugin.id();
    out.status(format_args!(
        "{} {id} in {} ms",
        if swapped {
            "rebuilt and swapped"
        } else {
            "built and installed"
        },
        build.took.as_millis()
    ));
    if let Some(error) = registration.enable_error {
        out.status(format_args!("enabling {id} failed: {error}"));
    }
    Ok(())
}
