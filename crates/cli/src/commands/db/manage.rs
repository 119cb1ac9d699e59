//! `lord db add|list|remove|ping`: profiles in the user's configuration.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;
use clap::Args;
use lord_config::{remove_in_file, set_checked};
use lord_db::Connection;
use lord_db_api::{TlsMode, Value, parse_url};
use lord_host::{Framework, HostError};
use serde_json::json;

use crate::cli::UsageError;
use crate::context::Context;
use crate::render::{Output, foreign};

#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    /// The profile's name, what `db(NAME)` grants plugins.
    name: String,
    /// sqlite:///path/app.db, postgres://USER@HOST:PORT/DB,
    /// mysql://USER@HOST:PORT/DB (mariadb:// too), redis://[USER@]HOST:PORT/N
    /// (rediss:// for TLS), mongodb://[USER@]HOST:PORT/DB (mongodb+srv://
    /// too) or cassandra://[USER@]HOST:9042[,HOST...]/KEYSPACE; never with a
    /// password.
    url: String,
    /// disable, prefer (default), require or verify-full. A TLS
    /// connection is always verified.
    #[arg(long, value_parser = ["disable", "prefer", "require", "verify-full"])]
    tls_mode: Option<String>,
    /// The CA certificate(s) (PEM) to verify the server with, in place of
    /// the system's.
    #[arg(long)]
    ca_file: Option<PathBuf>,
    /// Seconds a connection may take (default 10).
    #[arg(long)]
    connect_timeout: Option<u64>,
    /// Seconds a statement may run before the server ends it.
    #[arg(long)]
    statement_timeout: Option<u64>,
    /// The `lord secret` holding the password (default
    /// `DB_<NAME>_PASSWORD`).
    #[arg(long)]
    password_secret: Option<String>,
}

/// A TOML string literal.
fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

/// The user's own configuration file: profiles are never a project's
/// (a project may not say where passwords are sent).
fn config_path(framework: &Framework) -> Result<PathBuf> {
    let path = framework.config_sources().user.clone();
    Ok(path.ok_or_else(|| UsageError("no configuration file to write to".to_owned()))?)
}

/// A SQLite file named relative to the working folder, made absolute, so
/// the profile means the same file from anywhere.
fn absolute_url(cwd: &Path, url: &str) -> String {
    let Some(rest) = url.strip_prefix("sqlite:") else {
        return url.to_owned();
    };
    let path = rest.strip_prefix("//").unwrap_or(rest);
    if path.starts_with('/') {
        return url.to_owned();
    }
    format!("sqlite://{}", cwd.join(path).display())
}

/// Writes the profile as one inline table (one atomic write), then checks
/// the whole configuration still holds; if not, the file goes back.
pub(super) fn add(ctx: &Context, out: &Output, framework: &Framework, args: AddArgs) -> Result<()> {
    let name = lord_db_api::ProfileName::parse(&args.name).map_err(HostError::from)?;
    let engine = parse_url(name.as_str(), &args.url).map_err(HostError::from)?;
    let url = absolute_url(&ctx.cwd, &args.url);
    let mut fields = vec![format!("url = {}", quoted(&url))];
    if let Some(mode) = args.tls_mode.as_deref().and_then(TlsMode::parse) {
        fields.push(format!("tls-mode = {}", quoted(mode.as_str())));
    }
    if let Some(ca) = &args.ca_file {
        fields.push(format!(
            "ca-file = {}",
            quoted(&ctx.cwd.join(ca).display().to_string())
        ));
    }
    if let Some(secs) = args.connect_timeout {
        fields.push(format!("connect-timeout = {secs}"));
    }
    if let Some(secs) = args.statement_timeout {
        fields.push(format!("statement-timeout = {secs}"));
    }
    if let Some(secret) = &args.password_secret {
        fields.push(format!("password-secret = {}", quoted(secret)));
    }
    let path = config_path(framework)?;
    let key = format!("db.profiles.{name}");
    let value = format!("{{ {} }}", fields.join(", "));
    // Written only once the whole configuration is known to hold with it.
    if let Err(problem) = set_checked(framework.config_sources(), &path, &key, &value, |_| Ok(()))
        .map_err(HostError::from)?
    {
        return Err(UsageError(format!("not added: {problem}")).into());
    }
    out.status(format_args!(
        "added the {engine} profile `{name}` to {}",
        path.display()
    ));
    let secret = args
        .password_secret
        .unwrap_or_else(|| lord_db_api::default_password_secret(name.as_str()));
    if engine.takes_password() && framework.channels().secrets.get(&secret)?.is_none() {
        out.note(format_args!(
            "no password is stored for it; if the server needs one, run `lord secret set {secret}`"
        ));
    }
    Ok(())
}

pub(super) fn remove(out: &Output, framework: &Framework, name: &str) -> Result<()> {
    let path = config_path(framework)?;
    match remove_in_file(&path, &format!("db.profiles.{name}")).map_err(HostError::from)? {
        Some(_) => {
            out.status(format_args!(
                "removed the database profile `{name}` from {}",
                path.display()
            ));
            Ok(())
        }
        None => Err(UsageError(format!(
            "{} holds no database profile `{name}`; see `lord db list`",
            path.display()
        ))
        .into()),
    }
}

pub(super) fn list(out: &Output, framework: &Framework, json: bool) -> Result<()> {
    let profiles = framework.db_profiles()?;
    if json {
        return out.json(&profiles);
    }
    if profiles.is_empty() {
        out.line("no database profiles; add one with `lord db add NAME URL`")?;
    }
    for p in &profiles {
        let password = match (p.profile.engine.takes_password(), p.password_stored) {
            (false, _) => "-",
            (true, true) => "stored",
            (true, false) => "none",
        };
        out.line(format_args!(
            "{:<16} {:<9} {:<48} tls {:<11} password {}{}",
            p.profile.name,
            p.profile.engine,
            foreign(&p.profile.url),
            p.profile.tls_mode.as_str(),
            password,
            if p.enabled {
                ""
            } else {
                " (its provider is disabled)"
            },
        ))?;
    }
    Ok(())
}

pub(super) async fn ping(
    out: &Output,
    framework: &Framework,
    name: &str,
    json: bool,
) -> Result<()> {
    let started = Instant::now();
    let (engine, answer) = super::with(framework, name, |c: &mut lord_db::Lease<Connection>| {
        let engine = c.engine();
        let answer = match &mut **c {
            Connection::Sql(s) => {
                let rows = s.run("SELECT 1", &[])?;
                let cell = rows.rows.first().and_then(|r| r.first()).cloned();
                (cell.as_ref().and_then(Value::as_i64) == Some(1))
                    .then_some(())
                    .ok_or_else(|| format!("answered `SELECT 1` with {cell:?}"))
            }
            Connection::KeyValue(s) => {
                let reply = s.command(&[b"PING".to_vec()])?;
                (reply.as_text() == Some("PONG"))
                    .then_some(())
                    .ok_or_else(|| format!("answered PING with {}", reply.display()))
            }
            Connection::Document(s) => {
                let reply = s.command(&json!({"ping": 1}))?;
                (reply["ok"].as_f64() == Some(1.0))
                    .then_some(())
                    .ok_or_else(|| format!("answered {{\"ping\": 1}} with {reply}"))
            }
            Connection::WideColumn(s) => {
                let rows = s.run("SELECT release_version FROM system.local", &[])?;
                (rows.rows.len() == 1).then_some(()).ok_or_else(|| {
                    format!("answered with {} rows from system.local", rows.rows.len())
                })
            }
        };
        Ok((engine, answer))
    })
    .await?;
    if let Err(wrong) = answer {
        return Err(UsageError(format!("`{name}` ({engine}) {}", foreign(&wrong))).into());
    }
    let millis = started.elapsed().as_secs_f64() * 1000.0;
    if json {
        out.json(&json!({"profile": name, "engine": engine, "ok": true, "ms": millis}))
    } else {
        out.line(format_args!(
            "`{name}` ({engine}) answered in {millis:.1} ms"
        ))
    }
}
