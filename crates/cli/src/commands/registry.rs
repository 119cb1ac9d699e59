//! `lord registry serve|token|verify|keys|advisory|workflow`: run a plugin registry
//! (over HTTP, or HTTPS with `--tls-cert` and `--tls-key`) from a data
//! folder (SQLite and a blob folder, no other setup; or the blob
//! folder with the records in PostgreSQL, `--database-url`), make scoped
//! API tokens for publishers, mark plugins verified, and list or rotate
//! the keys that sign its index (safe while the server runs: signing
//! takes a lock on the data folder and reads the keys afresh).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use clap::Subcommand;
use lord_registry::tuf::{Lifetimes, Role, TufRepo};
use lord_registry::{AccessLog, Blobs, Registry, Scope};
use serde_json::json;

use super::registry_database::{DatabaseArgs, blob_settings};
use crate::context::Context;
use crate::render::Output;
use lord_host::Framework;

#[derive(Debug, Subcommand)]
pub(crate) enum RegistryCommand {
    /// Serve the registry's HTTP API and web pages until interrupted.
    Serve(ServeArgs),
    /// Fill a registry with generated demo plugins, versions, downloads,
    /// installations' use and reviews, to try the web pages, search and
    /// installs (`lord registry serve` on the same data shows them). Every
    /// package is real and signed by a demo publisher key written beside
    /// the data (`demo-publisher.pub`), for `lord key trust`.
    Demo {
        /// The registry's data folder (default: $LORD_HOME/registry).
        #[arg(long)]
        data: Option<PathBuf>,
        #[command(flatten)]
        database: DatabaseArgs,
        /// How many plugins to make.
        #[arg(long, default_value_t = 200)]
        plugins: usize,
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
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Send today's use counts to the registry now (what lord does by
    /// itself in the background, at most once an hour, while
    /// `registry.share-usage` is true).
    #[command(hide = true)]
    ShareUsage {
        #[arg(long)]
        registry: Option<String>,
    },
    /// List or rotate the keys that sign the registry's index.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Sign a prepared root where the root key is kept offline, and
    /// install the signed root on the server.
    #[command(subcommand)]
    Root(super::registry_root::RootCommand),
    /// Publish a signed build of lord itself, for `lord self update`.
    PublishRelease(crate::commands::release::PublishReleaseArgs),
    /// Add security advisories (OSV) that `lord scan` and every publish
    /// check plugins against.
    #[command(subcommand)]
    Advisory(super::registry_advisory::AdvisoryCommand),
    /// Set the approval workflows that `lord approval` requests follow.
    #[command(subcommand)]
    Workflow(super::registry_workflow::WorkflowCommand),
    /// Set the governance policies the registry serves, signed, to its
    /// users (`lord policy sync`).
    #[command(subcommand)]
    Policy(super::registry_policy::RegistryPolicyCommand),
    /// Pin a registry's TUF root before first contact: from a root.json
    /// its operator gave you, or by the SHA-256 they published. Trust then
    /// starts from that root, not from whatever answers first.
    Pin(super::registry_pin::PinArgs),
    /// Know a registry by a name (`--registry NAME`), pinning its root
    /// (and private CA) before first contact as `pin` does.
    Add(super::registry_add::AddArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// The registry's data folder (default: $LORD_HOME/registry).
    #[arg(long)]
    data: Option<PathBuf>,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:7878")]
    listen: String,
    #[command(flatten)]
    database: DatabaseArgs,
    /// Keep package blobs in this object store (file:///..., s3://BUCKET,
    /// gs://BUCKET, az://CONTAINER) instead of the data folder. Cloud
    /// stores take their settings and credentials from the providers'
    /// environment variables (AWS_ACCESS_KEY_ID, AWS_ENDPOINT,
    /// AWS_REGION, GOOGLE_SERVICE_ACCOUNT, AZURE_STORAGE_ACCOUNT_NAME...).
    #[arg(long, value_name = "URL")]
    blob_url: Option<String>,
    /// Log every answered request as a line of JSON (time, method,
    /// route template, status, milliseconds, peer address) to this
    /// file, appended, or to standard error with `-`.
    #[arg(long, value_name = "FILE")]
    access_log: Option<PathBuf>,
    /// The URL users reach this registry at (behind a proxy), for the
    /// install lines on its web pages (default: http:// and the host
    /// each request was sent to).
    #[arg(long, value_name = "URL")]
    public_url: Option<String>,
    /// Serve HTTPS with this certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Show each role's key ids and threshold in the newest root.
    List {
        #[arg(long)]
        data: Option<PathBuf>,
        /// The database of a registry whose index several servers share.
        #[command(flatten)]
        database: DatabaseArgs,
        #[arg(long)]
        json: bool,
    },
    /// Replace the keys of the chosen roles (default: the online ones,
    /// targets, snapshot and timestamp) and sign a new root with the
    /// current root key in `DATA/tuf/keys/root.der`. Clients follow the
    /// new root at their next refresh; whatever the replaced keys sign is
    /// refused from then on. Without the root key there (kept offline),
    /// the next root is prepared unsigned in `DATA/tuf/next.root.json`
    /// for `lord registry root sign`, then `lord registry root install`.
    Rotate {
        /// A role to rotate (repeatable).
        #[arg(long = "role", value_enum)]
        roles: Vec<KeyRole>,
        #[arg(long)]
        data: Option<PathBuf>,
        /// The database of a registry whose index several servers share
        /// (the new keys must then be copied to every server).
        #[command(flatten)]
        database: DatabaseArgs,
        #[arg(long)]
        json: bool,
    },
}

/// A signing role, as `--role` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum KeyRole {
    Root,
    Targets,
    Snapshot,
    Timestamp,
}

impl From<KeyRole> for Role {
    fn from(role: KeyRole) -> Self {
        match role {
            KeyRole::Root => Role::Root,
            KeyRole::Targets => Role::Targets,
            KeyRole::Snapshot => Role::Snapshot,
            KeyRole::Timestamp => Role::Timestamp,
        }
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum TokenCommand {
    /// Make a token and print it once (only its hash is stored).
    Create {
        /// What it may do, comma-separated: `publish:*` (every plugin),
        /// `publish:ID`, `publish:lord` (releases of lord itself, which
        /// `publish:*` does not cover), `review:STEP`, `moderate` (hide
        /// and show reviews and posts, read the audit) or `account` (only
        /// review, rate, post and report, as every token may).
        #[arg(long)]
        scope: String,
        /// The account's name, shown with its reviews and posts and in the
        /// moderation audit.
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long)]
        data: Option<PathBuf>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

fn data_dir(ctx: &Context, data: Option<PathBuf>) -> PathBuf {
    data.map_or_else(|| ctx.home.join("registry"), |d| ctx.cwd.join(d))
}

/// The registry in the operator's data folder (`--data`, by default
/// `$LORD_HOME/registry`), its records where `--database-url` says: what
/// the operator's commands (tokens, verification, advisories, workflows)
/// write to directly, without a server.
pub(crate) fn open_operator(
    ctx: &Context,
    out: &Output,
    framework: &Framework,
    data: Option<PathBuf>,
    database: &super::registry_database::DatabaseArgs,
) -> Result<Registry> {
    let postgres = database.options(ctx, out, framework)?;
    Ok(Registry::open_configured(
        &data_dir(ctx, data),
        postgres.as_ref(),
        None,
    )?)
}

pub(crate) async fn run(
    ctx: &Context,
    out: &Output,
    framework: &Framework,
    command: RegistryCommand,
) -> Result<ExitCode> {
    match command {
        RegistryCommand::PublishRelease(args) => {
            return crate::commands::release::publish(ctx, out, framework, args).await;
        }
        RegistryCommand::Serve(args) => serve(ctx, out, framework, args).await?,
        RegistryCommand::Demo {
            data,
            database,
            plugins,
        } => demo(ctx, out, framework, data, &database, plugins).await?,
        RegistryCommand::Token(TokenCommand::Create {
            scope,
            name,
            data,
            database,
        }) => {
            let registry = open_operator(ctx, out, framework, data, &database)?;
            let token = registry
                .db
                .create_named_token(&Scope::parse(&scope)?, &name)?;
            out.status(format_args!(
                "made a token with scope `{scope}`; it is shown once, so keep it now"
            ));
            out.line(token)?;
        }
        RegistryCommand::Verify {
            id,
            undo,
            data,
            database,
        } => {
            let registry = open_operator(ctx, out, framework, data, &database)?;
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
        RegistryCommand::ShareUsage { registry } => {
            let client = crate::commands::registry_client(framework, registry)?;
            let sent = framework.share_usage(&client).await?;
            out.status(format_args!(
                "reported today's use of {sent} plugin version(s) to {}",
                client.base()
            ));
        }
        RegistryCommand::Keys(command) => keys(ctx, out, framework, command).await?,
        RegistryCommand::Root(command) => {
            super::registry_root::run(ctx, out, framework, command).await?;
        }
        RegistryCommand::Pin(args) => super::registry_pin::run(out, framework, args).await?,
        RegistryCommand::Workflow(command) => {
            super::registry_workflow::run(ctx, out, framework, command)?;
        }
        RegistryCommand::Policy(command) => {
            super::registry_policy::run(ctx, out, framework, command).await?;
        }
        RegistryCommand::Advisory(command) => {
            super::registry_advisory::run(ctx, out, framework, command)?;
        }
        RegistryCommand::Add(args) => super::registry_add::run(out, framework, args).await?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `lord registry serve`: over HTTP, or HTTPS with `--tls-cert` and
/// `--tls-key`, until SIGTERM or Ctrl-C.
async fn serve(ctx: &Context, out: &Output, framework: &Framework, args: ServeArgs) -> Result<()> {
    let ServeArgs {
        data,
        listen,
        database,
        blob_url,
        access_log,
        public_url,
        tls_cert,
        tls_key,
    } = args;
    let dir = data_dir(ctx, data);
    let postgres = database.options(ctx, out, framework)?;
    let blobs = blob_url
        .map(|url| Blobs::open_with(&url, blob_settings(ctx)))
        .transpose()?;
    let registry = Arc::new(Registry::open_configured(&dir, postgres.as_ref(), blobs)?);
    if let Some(name) = &ctx.failpoint {
        registry.arm_failpoint(name);
    }
    if let Some(url) = &public_url {
        registry
            .set_public_url(url)
            .map_err(|e| anyhow::anyhow!("--public-url: {e}"))?;
    }
    if let Some(path) = access_log {
        let _ = registry.set_access_log(open_access_log(&path)?);
    }
    let stop = stop_requested();
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let address = listener.local_addr()?;
    let tls = match (&tls_cert, &tls_key) {
        (Some(cert), Some(key)) => Some(lord_registry::tls_config(
            &ctx.cwd.join(cert),
            &ctx.cwd.join(key),
        )?),
        _ => None,
    };
    // The URL is not echoed: it may carry a password.
    let records = if postgres.is_some() {
        " (records in PostgreSQL)"
    } else {
        ""
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    out.status(format_args!(
        "serving the registry in {}{records} on {scheme}://{address} (web pages at /, API at /api/v1, OpenAPI at /api/v1/openapi.json)",
        dir.display()
    ));
    match tls {
        Some(tls) => {
            let listener = lord_registry::HttpsListener::new(listener, tls)?;
            lord_registry::serve_https_until(listener, registry, stop)
                .await
                .context("serving the registry")?;
        }
        None => lord_registry::serve_until(listener, registry, stop)
            .await
            .context("serving the registry")?,
    }
    out.status("stopped after answering the requests in flight");
    Ok(())
}

/// The access log `--access-log` names: a file appended to, or `-` for
/// standard error.
fn open_access_log(path: &std::path::Path) -> Result<AccessLog> {
    if path.as_os_str() == "-" {
        AccessLog::to_stderr()
    } else {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening the access log {}", path.display()))?;
        AccessLog::to(file)
    }
    .context("starting the access log's writer")
}

/// `lord registry keys list|rotate`: works on the data folder's `tuf/`
/// alone, so it runs beside a serving process (signing is locked).
async fn keys(
    ctx: &Context,
    out: &Output,
    framework: &Framework,
    command: KeysCommand,
) -> Result<()> {
    match command {
        KeysCommand::List {
            data,
            database,
            json,
        } => {
            let repo = index(ctx, out, framework, data, &database)?;
            repo.ready().await?;
            let report = repo.keys()?;
            if json {
                out.json(&json!({
                    "root_version": report.root_version,
                    "root_expires": report.root_expires,
                    "root_key_present": report.root_key_present,
                    "prepared_root": report.prepared_root,
                    "roles": report.roles.iter().map(|r| json!({
                        "role": r.role.name(),
                        "threshold": r.threshold,
                        "keyids": r.keyids,
                    })).collect::<Vec<_>>(),
                }))?;
            } else {
                out.line(format_args!(
                    "root version {} (expires {}){}",
                    report.root_version,
                    report.root_expires,
                    if report.root_key_present {
                        ""
                    } else {
                        "; the root key is not on this machine"
                    }
                ))?;
                if let Some(version) = report.prepared_root {
                    out.line(format_args!(
                        "root version {version} is prepared and waits for the root key's \
                         signature (`lord registry root sign`, then `root install`)"
                    ))?;
                }
                for role in &report.roles {
                    out.line(format_args!(
                        "{:<10} {} of {}: {}",
                        role.role.name(),
                        role.threshold,
                        role.keyids.len(),
                        role.keyids.join(", ")
                    ))?;
                }
            }
        }
        KeysCommand::Rotate {
            roles,
            data,
            database,
            json,
        } => {
            let roles: Vec<Role> = if roles.is_empty() {
                vec![Role::Targets, Role::Snapshot, Role::Timestamp]
            } else {
                roles.into_iter().map(Role::from).collect()
            };
            let repo = index(ctx, out, framework, data, &database)?;
            if !repo.keys()?.root_key_present {
                return prepare(out, &repo, &roles, json).await;
            }
            let rotation = repo
                .rotate(&roles)
                .await
                .context("rotating the registry's keys")?;
            if json {
                out.json(&json!({
                    "root_version": rotation.root_version,
                    "metadata_version": rotation.metadata_version,
                    "rotated": rotation.roles.iter().map(|(role, ids)| json!({
                        "role": role.name(),
                        "keyids": ids,
                    })).collect::<Vec<_>>(),
                }))?;
            } else {
                for (role, ids) in &rotation.roles {
                    out.status(format_args!("new {role} keys: {}", ids.join(", ")));
                }
                out.status(format_args!(
                    "signed root version {} and the index at version {}; clients follow at \
                     their next refresh",
                    rotation.root_version, rotation.metadata_version
                ));
            }
        }
    }
    Ok(())
}

/// `keys rotate` with the root key offline: the next root, unsigned.
async fn prepare(out: &Output, repo: &TufRepo, roles: &[Role], json: bool) -> Result<()> {
    let prepared = repo
        .prepare_root(roles)
        .await
        .context("preparing the next root (the root key is not on this machine)")?;
    if json {
        out.json(&json!({
            "prepared": prepared.path,
            "root_version": prepared.version,
            "rotated": prepared.roles.iter().map(|(role, ids)| json!({
                "role": role.name(),
                "keyids": ids,
            })).collect::<Vec<_>>(),
        }))?;
    } else {
        // A new root key is made only where the root key is kept.
        let new_key = if prepared.roles.iter().any(|(role, _)| *role == Role::Root) {
            " --new-root-key"
        } else {
            ""
        };
        out.status(format_args!(
            "the root key is not on this machine, so root version {} was prepared unsigned in \
             {}: copy it to where the root key is kept, run `lord registry root sign FILE \
             --keys DIR{new_key}` there, then `lord registry root install FILE` here",
            prepared.version,
            prepared.path.display()
        ));
    }
    Ok(())
}

/// The signed index: the data folder's own, or, with a database, the one
/// every server on that database shares (opened through the registry, so
/// it is the database's copy that is listed or rotated).
pub(crate) fn index(
    ctx: &Context,
    out: &Output,
    framework: &Framework,
    data: Option<PathBuf>,
    database: &DatabaseArgs,
) -> Result<TufRepo> {
    let dir = data_dir(ctx, data);
    Ok(match database.options(ctx, out, framework)? {
        Some(postgres) => Registry::open_configured(&dir, Some(&postgres), None)?.tuf,
        None => TufRepo::open(&dir.join("tuf"), Lifetimes::default())?,
    })
}

/// Ctrl-C or SIGTERM (what a service manager sends to stop a process):
/// the server then stops taking connections and finishes what it started.
/// The handlers are installed here, before the server says it is
/// listening, so a signal sent as soon as it is up is not the default
/// (fatal) one.
pub(crate) fn stop_requested() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let interrupt = signal(SignalKind::interrupt());
        async move {
            match (term, interrupt) {
                (Ok(mut term), Ok(mut interrupt)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = interrupt.recv() => {}
                    }
                }
                // No handler could be installed: the signals keep their
                // default action, and the server runs until killed.
                _ => std::future::pending().await,
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `lord registry demo`: fills the registry's records with generated data.
async fn demo(
    ctx: &Context,
    out: &Output,
    framework: &Framework,
    data: Option<PathBuf>,
    database: &DatabaseArgs,
    plugins: usize,
) -> Result<()> {
    let postgres = database.options(ctx, out, framework)?;
    let dir = data_dir(ctx, data);
    let registry = Arc::new(Registry::open_configured(&dir, postgres.as_ref(), None)?);
    // The demo publisher's key lives with the registry it signed for, not
    // among the user's own keys: trusting it is the user's choice.
    let keys = lord_package::Keys::new(&dir.join("demo-publisher"));
    let spinner = out.spinner("packing, signing and publishing the demo plugins");
    let filled = lord_registry::demo::fill(&registry, plugins.clamp(1, 20_000), 17, &keys).await;
    spinner.done();
    let filled = filled.context("filling the demo registry")?;
    let key = keys.public(lord_registry::demo::DEMO_KEY)?;
    let key_file = dir.join("demo-publisher.pub");
    lord_file::write_atomic(&key_file, key.to_text().as_bytes())
        .with_context(|| format!("writing {}", key_file.display()))?;
    out.status(format_args!(
        "filled {} with {} demo plugins ({} versions, each a real signed package), {} \
         installations' use and {} reviews; run `lord registry serve --data {}` and open it in a \
         browser; to install its plugins, trust the demo publisher first: `lord key trust {}`",
        dir.display(),
        filled.plugins,
        filled.versions,
        filled.installations,
        filled.reviews,
        dir.display(),
        key_file.display()
    ));
    Ok(())
}
