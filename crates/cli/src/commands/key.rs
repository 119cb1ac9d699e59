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

pub(crate) fn run(ctx: &Context, command: KeyCommand) -> Result<ExitCode> {
    let keys = Keys::new(&ctx.home);
    match command {
        KeyCommand::Generate { name } => {
            let key = keys.generate(&name)?;
            eprintln!(
                "made key `{name}` ({}); it signs and is trusted here",
                key.id()
            );
            eprintln!("share it with `lord key export {name}`");
        }
        KeyCommand::List { json } => {
            let listed = keys.list()?;
            if json {
                println!("{}", json!(listed));
            } else if listed.is_empty() {
                println!("no keys; make one with `lord key generate`");
            } else {
                for key in listed {
                    let mut roles = Vec::new();
                    if key.can_sign {
                        roles.push("signs");
                    }
                    if key.trusted {
                        roles.push("trusted");
                    }
                    println!("{}  {}  {}", key.id, key.name, roles.join(", "));
                }
            }
        }
        KeyCommand::Export { name } => print!("{}", keys.public(&name)?.to_text()),
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
            eprintln!(
                "trusting key {} ({}): packages it signs will install",
                key.id(),
                key.name
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
