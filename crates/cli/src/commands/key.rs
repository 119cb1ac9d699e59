//! `lord key generate|list|export|trust`: the ed25519 keys that sign
//! packages. A key made here can sign and is trusted at once; another
//! author's public key is trusted only when the user says so.

use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Subcommand;
use lord_package::{Keys, PublicKey};
use serde_json::json;

use crate::context::Context;
use crate::render::{Output, foreign};

#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// Make a signing key (its secret half stays in $LORD_HOME/keys, 0600).
    Generate {
        /// The key's name.
        #[arg(default_value = "default")]
        name: String,
    },
    /// List your keys and the keys you trust.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Print a key's public half, to give to the people who install your
    /// packages (`lord key trust` on their side).
    Export {
        #[arg(default_value = "default")]
        name: String,
    },
    /// Trust a public key: packages it signs will install. FILE or `-` for
    /// standard input.
    Trust { file: PathBuf },
}

pub(crate) fn run(ctx: &Context, out: &Output, command: KeyCommand) -> Result<ExitCode> {
    let keys = Keys::new(&ctx.home);
    match command {
        KeyCommand::Generate { name } => {
            let key = keys.generate(&name)?;
            out.status(format_args!(
                "made key `{name}` ({}); it signs and is trusted here",
                key.id()
            ));
            out.status(format_args!("share it with `lord key export {name}`"));
        }
        KeyCommand::List { json } => {
            let listed = keys.list()?;
            if json {
                out.json_line(&json!(listed))?;
            } else if listed.is_empty() {
                out.line("no keys; make one with `lord key generate`")?;
            } else {
                let mut text = String::new();
                for key in listed {
                    let mut roles = Vec::new();
                    if key.can_sign {
                        roles.push("signs");
                    }
                    if key.trusted {
                        roles.push("trusted");
                    }
                    // A trusted key's name was chosen by its author.
                    text.push_str(&format!(
                        "{}  {}  {}\n",
                        key.id,
                        foreign(&key.name),
                        roles.join(", ")
                    ));
                }
                out.text(&text)?;
            }
        }
        KeyCommand::Export { name } => out.text(&keys.public(&name)?.to_text())?,
        KeyCommand::Trust { file } => {
            let (text, source) = if file.as_os_str() == "-" {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .context("reading the public key from standard input")?;
                (text, "standard input".to_owned())
            } else {
                let text = std::fs::read_to_string(&file)
                    .with_context(|| format!("reading `{}`", file.display()))?;
                (text, file.display().to_string())
            };
            let key = PublicKey::parse(&source, &text)?;
            keys.trust(&key)?;
            out.status(format_args!(
                "trusting key {} ({}): packages it signs will install",
                key.id(),
                key.name
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}
