//! `lord install [--locked]`: install the plugins the project's `lord.toml`
//! lists under `[requires]`, exactly as `lord.lock` pins them when the lock
//! still meets `lord.toml`, else resolved afresh (and the lock rewritten).
//! `--locked` refuses to change the lock, for CI.

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;
use lord_host::{Framework, LockEntry, Lockfile};

use crate::cli::UsageError;
use crate::consent::{Consent, Subject};
use crate::context::Context;
use crate::render::Output;

#[derive(Debug, Args)]
pub(crate) struct InstallArgs {
    /// Fail if lord.lock is missing or would change.
    #[arg(long)]
    locked: bool,
    /// The registry (default: the `registry.url` setting).
    #[arg(long)]
    registry: Option<String>,
    /// Grant the requested permissions without asking.
    #[arg(long, short = 'y')]
    yes: bool,
}

/// What `lord install` was asked for.
#[derive(Debug)]
pub(crate) struct Request {
    locked: bool,
    registry: Option<String>,
    yes: bool,
}

pub(crate) fn parse(args: InstallArgs) -> Request {
    Request {
        locked: args.locked,
        registry: args.registry,
        yes: args.yes,
    }
}

pub(crate) async fn run(
    ctx: &Context,
    out: &Output,
    framework: &mut Framework,
    request: Request,
) -> Result<ExitCode> {
    let requires = framework.project_requires()?;
    if requires.is_empty() {
        bail!(UsageError(
            "lord.toml lists no plugins: add them under [requires], like `hello = \"^0.1\"`"
                .to_owned()
        ));
    }
    let project = framework.project_dir().to_path_buf();
    let lock = Lockfile::read(&project)?;
    let client = crate::commands::registry_client(framework, request.registry)?;
    let _lock = framework.install_lock()?;
    let reproduce = lock.as_ref().is_some_and(|l| l.satisfies(&requires));
    if !reproduce && request.locked {
        bail!(UsageError(
            "lord.lock is missing or does not meet lord.toml's [requires]; run `lord install` \
             without --locked to update it"
                .to_owned()
        ));
    }
    // Reading the index, downloading, verifying and compiling each
    // plugin is long work: a spinner says which step is under way.
    let spinner = out.spinner("");
    let mut said = |p| spinner.say(&crate::commands::plugin::plan_progress(p));
    let planned = match (&lock, reproduce) {
        (Some(lock), true) => {
            framework
                .plan_pinned(&client, &lock.pins(), &mut said)
                .await
        }
        (Some(_) | None, _) => {
            framework
                .plan_from_registry(&client, &requires, &mut said)
                .await
        }
    };
    spinner.done();
    let planned = planned?;
    for note in &planned.skipped {
        out.note(note);
    }
    let consent = Consent::new(ctx, out, request.yes);
    // The plans are shown only when the user is asked about them.
    if !planned.steps.is_empty() && !consent.given() {
        for step in &planned.steps {
            consent.show(&step.plan);
        }
        consent.obtain(Subject::Project)?;
    }
    let installing = crate::commands::plugin::receipt_subjects(&planned);
    let code = crate::commands::plugin::install_steps(out, framework, planned.steps).await?;
    crate::commands::plugin::earn_receipts(
        out,
        framework,
        &client,
        crate::commands::plugin::account_token(ctx).as_deref(),
        &installing,
    )
    .await;
    // The lock records what is installed now, with its grants.
    let mut entries = Vec::new();
    for pin in &planned.pinned {
        let plugin = framework.get(&pin.id)?;
        entries.push(LockEntry {
            id: pin.id.clone(),
            version: pin.version.clone(),
            digest: pin.digest.clone(),
            key: pin.key.clone(),
            signature: pin.signature.clone(),
            granted: plugin.granted.iter().map(ToString::to_string).collect(),
        });
    }
    let new = Lockfile {
        version: 1,
        plugins: entries,
    };
    if lock.as_ref() != Some(&new) {
        if request.locked {
            bail!(UsageError(
                "lord.lock would change (granted permissions differ); run `lord install` \
                 without --locked"
                    .to_owned()
            ));
        }
        new.write(&project)?;
        out.status(format_args!(
            "wrote lord.lock ({} plugins)",
            new.plugins.len()
        ));
    } else {
        out.status(format_args!(
            "lord.lock is up to date ({} plugins)",
            new.plugins.len()
        ));
    }
    Ok(code)
}
