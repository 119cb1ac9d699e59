//! `lord db migrate new|up|down|status`: versioned migrations, over
//! `lord_db::migrate`.

use std::path::Path;

use anyhow::Result;
use clap::Subcommand;
use lord_db::migrate;
use lord_host::{Framework, HostError};

use crate::render::{Output, db as render};

#[derive(Debug, Subcommand)]
pub(crate) enum MigrateCommand {
    /// Write `NNNN_NAME.sql` with an up and a down part, numbered after
    /// the newest migration.
    New { name: String },
    /// Apply pending migrations in order, each in a transaction where the
    /// engine allows (PostgreSQL, SQLite; MySQL and MariaDB commit schema
    /// changes as they run).
    Up {
        /// The database profile.
        #[arg(id = "db_profile", value_name = "PROFILE")]
        profile: String,
        /// Stop after this version.
        #[arg(long)]
        to: Option<u64>,
    },
    /// Revert the newest applied migrations with their down parts.
    Down {
        /// The database profile.
        #[arg(id = "db_profile", value_name = "PROFILE")]
        profile: String,
        #[arg(long, default_value_t = 1)]
        steps: usize,
    },
    /// Every migration: pending, applied, changed since applied, missing,
    /// or started and not finished.
    Status {
        /// The database profile.
        #[arg(id = "db_profile", value_name = "PROFILE")]
        profile: String,
        #[arg(long)]
        json: bool,
    },
}

pub(super) async fn run(
    out: &Output,
    framework: &Framework,
    dir: &Path,
    command: MigrateCommand,
) -> Result<()> {
    let folder = dir.to_owned();
    match command {
        MigrateCommand::New { name } => {
            let path = migrate::new_migration(dir, &name).map_err(HostError::from)?;
            out.line(path.display())?;
        }
        MigrateCommand::Up { profile, to } => {
            let name = profile.clone();
            let progress = *out;
            let applied = super::with_session(framework, &profile, move |session| {
                migrate::up(&mut **session, &name, &folder, to, |m| {
                    progress.status(format_args!("applying {}", m.file));
                })
            })
            .await?;
            out.status(format_args!(
                "applied {} migration(s) to `{profile}`",
                applied.len()
            ));
        }
        MigrateCommand::Down { profile, steps } => {
            let name = profile.clone();
            let progress = *out;
            let reverted = super::with_session(framework, &profile, move |session| {
                migrate::down(&mut **session, &name, &folder, steps, |m| {
                    progress.status(format_args!("reverting {}", m.file));
                })
            })
            .await?;
            out.status(format_args!(
                "reverted {} migration(s) on `{profile}`",
                reverted.len()
            ));
        }
        MigrateCommand::Status { profile, json } => {
            let statuses = super::with_session(framework, &profile, move |session| {
                migrate::status(&mut **session, &folder)
            })
            .await?;
            if json {
                out.json(&statuses)?;
            } else {
                out.text(&render::migrations(&statuses))?;
            }
        }
    }
    Ok(())
}
