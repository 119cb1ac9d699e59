//! `lord registry serve|token|verify`: run a plugin registry from a data
//! folder (SQLite and a blob folder, no other setup; or the blob folder
//! with the records in PostgreSQL, `--database-url`), make scoped API
//! tokens for publishers, and mark plugins verified.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use clap::Subcommand;
use lord_registry::{Registry, Scope};

use crate::context::Context;
use crate::render::Output;

#[derive(Debug, Subcommand)]
pub(crate) enum RegistryCommand {
    /// Serve the registry's HTTP API until interrupted.
    Serve {
        /// The registry's data folder (default: $LORD_HOME/registry).
        #[arg(long)]
        data: Option<PathBuf>,
        /// The address to listen on.
        #[arg(long, default_value = "127.0.0.1:7878")]
        listen: String,
        /// Keep the records in this PostgreSQL database
        /// (postgres://USER:PASSWORD@HOST:PORT/DBNAME, no TLS) instead of
        /// SQLite in the data folder.
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
        /// Keep package blobs in this object store (file:///..., and s3://,
        /// gs://, az:// when built with the registry's `cloud` feature)
        /// instead of the data folder.
        #[arg(long, value_name = "URL")]
        blob_url: Option<String>,
    },
    /// Make API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Mark a plugin verified by this registry's operator (or --undo).
    Verify {
        id: String,
        #[arg(long)]
        undo: bool,
        #[arg(long)]
        data: Option<PathBuf>,
        /// Keep the records in this PostgreSQL database
        /// (postgres://USER:PASSWORD@HOST:PORT/DBNAME, no TLS) instead of
        /// SQLite in the data folder; packages stay in the data folder.
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Make a token and print it once (only its hash is stored).
    Create {
        /// What it may do: `publish:*` or `publish:ID[,publish:ID...]`.
        #[arg(long)]
        scope: String,
        #[arg(long)]
        data: Option<PathBuf>,
        /// Keep the records in this PostgreSQL database
        /// (postgres://USER:PASSWORD@HOST:PORT/DBNAME, no TLS) instead of
        /// SQLite in the data folder; packages stay in the data folder.
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
    },
}

fn data_dir(ctx: &Context, data: Option<PathBuf>) -> PathBuf {
    data.map_or_else(|| ctx.home.join("registry"), |d| ctx.cwd.join(d))
}

pub(crate) async fn run(ctx: &Context, out: &Output, command: RegistryCommand) -> Result<ExitCode> {
    match command {
        RegistryCommand::Serve {
            data,
            listen,
            database_url,
            blob_url,
        } => {
            let dir = data_dir(ctx, data);
            let registry = Arc::new(Registry::open_with(
                &dir,
                database_url.as_deref(),
                blob_url.as_deref(),
            )?);
            let listener = tokio::net::TcpListener::bind(&listen)
                .await
                .with_context(|| format!("listening on {listen}"))?;
            let address = listener.local_addr()?;
            // The URL is not echoed: it may carry a password.
            let records = if database_url.is_some() {
                " (records in PostgreSQL)"
            } else {
                ""
            };
            out.status(format_args!(
                "serving the registry in {}{records} on http://{address} (API at /api/v1, OpenAPI at /api/v1/openapi.json)",
                dir.display()
            ));
            lord_registry::serve(listener, registry)
                .await
                .context("serving the registry")?;
        }
        RegistryCommand::Token(TokenCommand::Create {
            scope,
            data,
            database_url,
        }) => {
            let registry =
                Registry::open_with(&data_dir(ctx, data), database_url.as_deref(), None)?;
            let token = registry.db.create_token(&Scope::parse(&scope)?)?;
            out.status(format_args!(
                "made a token with scope `{scope}`; it is shown once, so keep it now"
            ));
            out.line(token)?;
        }
        RegistryCommand::Verify {
            id,
            undo,
            data,
            database_url,
        } => {
            let registry =
                Registry::open_with(&data_dir(ctx, data), database_url.as_deref(), None)?;
            if !registry.db.set_verified(&id, !undo)? {
                anyhow::bail!(crate::cli::UsageError(format!(
                    "no plugin named `{id}` is published here"
                )));
            }
            out.status(format_args!(
                "{id} is {}verified",
                if undo { "no longer " } else { "" }
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}
