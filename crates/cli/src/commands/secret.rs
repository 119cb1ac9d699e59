//! `lord secret set|list|remove`: the user's secrets for plugins. A value
//! is read from a hidden prompt on a terminal or from standard input when
//! piped, never from the command line (where `ps` and shell history would
//! keep it), and is never printed. Where a secret is kept (the OS keyring
//! or the encrypted file) follows `secrets.backend` and is said on `set`
//! and `list`.

use std::io::Read as _;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Subcommand;
use lord_host::Framework;
use lord_host::lord_state::{SecretValue, SecretsLocation, check_secret_name};
use serde_json::json;

use crate::cli::UsageError;
use crate::context::Context;
use crate::render::Output;

#[derive(Debug, Subcommand)]
pub(crate) enum SecretCommand {
    /// Store a secret in the OS keyring (or the encrypted file if none
    /// runs); its value comes from a hidden prompt or from stdin.
    Set { name: String },
    /// List the names of stored secrets and where each is kept (never
    /// their values).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Delete a secret.
    Remove { name: String },
}

pub(crate) fn run(
    ctx: &Context,
    out: &Output,
    framework: &Framework,
    command: SecretCommand,
) -> Result<ExitCode> {
    let secrets = &framework.channels().secrets;
    match command {
        SecretCommand::Set { name } => {
            check_secret_name(&name).map_err(|e| UsageError(e.to_string()))?;
            let value = if ctx.terminal.stdin {
                out.prompt_hidden(&format!("value for {name} (not shown): "))
                    .context("reading the secret from the terminal")?
            } else {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .context("reading the secret from standard input")?;
                // A trailing newline from `echo` or a file is not part of it.
                text.trim_end_matches(['\n', '\r']).to_owned()
            };
            if value.is_empty() {
                return Err(UsageError(format!(
                    "the value for `{name}` is empty; pipe it in or type it at the prompt"
                ))
                .into());
            }
            let location = secrets.set(&name, SecretValue::new(value))?;
            out.status(format_args!("stored secret `{name}` in {location}"));
        }
        SecretCommand::List { json } => {
            let listed = secrets.list()?;
            let key = |location: SecretsLocation| match location {
                SecretsLocation::Keyring => "keyring",
                SecretsLocation::File => "file",
            };
            if json {
                let rows: Vec<_> = listed
                    .iter()
                    .map(|(name, location)| json!({"name": name, "stored_in": key(*location)}))
                    .collect();
                out.json_line(&json!(rows))?;
            } else if listed.is_empty() {
                out.line("no secrets stored; add one with `lord secret set NAME`")?;
            } else {
                let width = listed.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
                let mut text = String::new();
                for (name, location) in listed {
                    text.push_str(&format!("{name:<width$}  {}\n", key(location)));
                }
                out.text(&text)?;
            }
        }
        SecretCommand::Remove { name } => {
            check_secret_name(&name).map_err(|e| UsageError(e.to_string()))?;
            if !secrets.remove(&name)? {
                return Err(UsageError(format!(
                    "no secret named `{name}`; see `lord secret list`"
                ))
                .into());
            }
            out.status(format_args!("removed secret `{name}`"));
        }
    }
    Ok(ExitCode::SUCCESS)
}
