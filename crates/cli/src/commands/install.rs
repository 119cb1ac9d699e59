//! `lord install [--locked]`: install the plugins the project's `lord.toml`
//! lists under `[requires]`, exactly as `lord.lock` pins them when the lock
//! still meets `lord.toml`, else resolved afresh (and the lock rewritten).
//! `--locked` refuses to change the lock, for CI.

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Args;
use lord_host::{Framework, LockEntry, Lockfile};

use crate::cli::UsageError;
use crate::context::Context;

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

pub(crate) async fn run(
    ctx: &Context,
    framework: &mut Framework,
    args: InstallArgs,
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
    let client = lord_registry_client::Client::new(&crate::commands::pdk::registry_url(
        framework,
        args.registry,
    )?)?;
    let _lock = framework.install_lock()?;
    let reproduce = lock.as_ref().is_some_and(|l| l.satisfies(&requires));
    if !reproduce && args.locked {
        bail!(UsageError(
            "lord.lock is missing or does not meet lord.toml's [requires]; run `lord install` \
             without --locked to update it"
                .to_owned()
        ));
    }
    let planned = match (&lock, reproduce) {
        (Some(lock), true) => {
            framework
                .plan_pinned(&client, &lock.pins(), &mut |_| {})
                .await?
        }
        (Some(_) | None, _) => {
            framework
                .plan_from_registry(&client, &requires, &mut |_| {})
                .await?
        }
    };
    for note in &planned.skipped {
        eprintln!("note: {note}");
    }
    if !planned.steps.is_empty() && !args.yes {
        for step in &planned.steps {
            crate::commands::plugin::describe(&step.plan);
        }
        if !ctx.stdin_is_tty {
            bail!(UsageError(
                "not installing: standard input is not a terminal, so lord cannot ask you to \
                 grant the permissions above; rerun with --yes to grant them"
                    .to_owned()
            ));
        }
        if !crate::commands::plugin::ask("Grant these permissions and install? [y/N] ")? {
            bail!(UsageError("nothing installed".to_owned()));
        }
    }
    let mut code = ExitCode::SUCCESS;
    for step in planned.steps {
        let registration = framework.install(step.plan).await?;
        match registration.enable_error {
            None => eprintln!(
                "installed {} {} ({})",
                step.id,
                step.version,
                crate::commands::plugin::state_note(&registration.plugin)
            ),
            Some(error) => {
                eprintln!("installed {}, but enabling it failed: {error}", step.id);
                code = ExitCode::from(3);
            }
        }
    }
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
        if args.locked {
            bail!(UsageError(
                "lord.lock would change (granted permissions differ); run `lord install` \
                 without --locked"
                    .to_owned()
            ));
        }
        new.write(&project)?;
        eprintln!("wrote lord.lock ({} plugins)", new.plugins.len());
    } else {
        eprintln!("lord.lock is up to date ({} plugins)", new.plugins.len());
    }
    Ok(code)
}
