//! The `lord registry` options that say where the records live and how to
//! reach PostgreSQL, read once into `lord_registry::PgOptions`; and the
//! object store's settings, taken from the providers' usual environment
//! variables (`AWS_*`, `GOOGLE_*`, `AZURE_*`) through the context.
//!
//! A password does not belong on the command line, where `ps` and shell
//! history keep it: it comes from a file, from `lord secret`, or from
//! `PGPASSWORD` (libpq's own variable), and a URL given in argv with a
//! password in it still works but draws a warning. The URL itself may come
//! from `LORD_REGISTRY_DATABASE_URL` instead of argv.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use lord_host::Framework;
use lord_registry::{DEFAULT_POOL_SIZE, PgOptions};

use crate::cli::UsageError;
use crate::context::Context;
use crate::render::Output;

/// Where the records live, when not in the data folder's SQLite file.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct DatabaseArgs {
    /// Keep the records in this PostgreSQL database instead of SQLite in
    /// the data folder: postgres://USER@HOST:PORT/DBNAME, with
    /// `?sslmode=verify-full&sslrootcert=CA.pem` for TLS (verified
    /// always). Also read from $LORD_REGISTRY_DATABASE_URL. Leave the
    /// password out of it.
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// Read the database password from this file (its first line).
    #[arg(long, value_name = "FILE", conflicts_with = "database_password_secret")]
    database_password_file: Option<PathBuf>,
    /// Take the database password from `lord secret` (stored with `lord
    /// secret set NAME`). Without this or a file, $PGPASSWORD is used.
    #[arg(long, value_name = "NAME")]
    database_password_secret: Option<String>,
    /// How many connections to PostgreSQL this process keeps (default 8);
    /// size it so every server's pool, plus one each for signing, fits
    /// in the database's max_connections.
    #[arg(long, value_name = "N")]
    database_pool: Option<usize>,
}

fn var(ctx: &Context, name: &str) -> Option<String> {
    ctx.env
        .iter()
        .find(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.clone())
}

impl DatabaseArgs {
    /// The PostgreSQL connection these options describe; `None` for
    /// SQLite.
    pub(crate) fn options(
        &self,
        ctx: &Context,
        out: &Output,
        framework: &Framework,
    ) -> Result<Option<PgOptions>> {
        let Some(url) = self
            .database_url
            .clone()
            .or_else(|| var(ctx, "LORD_REGISTRY_DATABASE_URL"))
        else {
            if self.database_password_file.is_some()
                || self.database_password_secret.is_some()
                || self.database_pool.is_some()
            {
                return Err(UsageError(
                    "the database password and pool options need --database-url (or \
                     $LORD_REGISTRY_DATABASE_URL)"
                        .to_owned(),
                )
                .into());
            }
            return Ok(None);
        };
        let in_argv = self.database_url.is_some();
        if in_argv && url::Url::parse(&url).is_ok_and(|u| u.password().is_some()) {
            out.warning(
                "the database password is on the command line, where `ps` and shell history \
                 keep it; put it in a file (--database-password-file), in `lord secret` \
                 (--database-password-secret) or in $PGPASSWORD instead",
            );
        }
        let mut options = PgOptions::new(&url);
        options.pool_size = self.database_pool.unwrap_or(DEFAULT_POOL_SIZE);
        if options.pool_size == 0 {
            return Err(UsageError("--database-pool must be at least 1".to_owned()).into());
        }
        options.password = if let Some(path) = &self.database_password_file {
            let path = ctx.cwd.join(path);
            let text = std::fs::read_to_string(&path).with_context(|| {
                format!("reading the database password from {}", path.display())
            })?;
            Some(text.lines().next().unwrap_or_default().to_owned())
        } else if let Some(name) = &self.database_password_secret {
            let value = framework.channels().secrets.get(name)?.ok_or_else(|| {
                UsageError(format!(
                    "no secret named `{name}`; store the database password with `lord \
                         secret set {name}`"
                ))
            })?;
            Some(value.expose().to_owned())
        } else {
            var(ctx, "PGPASSWORD")
        };
        Ok(Some(options))
    }
}

/// The blob store's settings: every `AWS_*`, `GOOGLE_*` and `AZURE_*`
/// variable, named as `object_store` names its settings (lower case). Each
/// store takes its own and ignores the rest.
pub(crate) fn blob_settings(ctx: &Context) -> Vec<(String, String)> {
    ctx.env
        .iter()
        .filter(|(k, _)| {
            ["AWS_", "GOOGLE_", "AZURE_"]
                .iter()
                .any(|p| k.starts_with(p))
        })
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect()
}
