//! `lord plugin rate ID STARS` and `lord plugin review ID --stars N`: rate
//! or review the installed version of a plugin on the registry, as the
//! account whose token is in `LORD_REGISTRY_TOKEN`.
//!
//! The registry takes a rating or review only with an install receipt for
//! that account and version. `lord plugin install` earns one when the
//! account's token is set, checks its signature and keeps it in
//! `$LORD_HOME/registries/HOST/receipts/`; here it is only read, so an
//! account that never installed the plugin has nothing to show.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use lord_host::Framework;
use serde_json::json;

use crate::cli::UsageError;
use crate::context::Context;
use crate::render::{Output, foreign};

#[derive(Debug, Args)]
pub(crate) struct RateArgs {
    /// The installed plugin to rate.
    id: String,
    /// 1 to 5.
    stars: u8,
    #[arg(long)]
    registry: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ReviewArgs {
    /// The installed plugin to review (its installed version).
    id: String,
    /// 1 to 5.
    #[arg(long)]
    stars: u8,
    /// What you have to say (a second review of the same version replaces
    /// the first; the registry keeps the earlier text).
    #[arg(long, default_value = "")]
    text: String,
    #[arg(long)]
    registry: Option<String>,
    #[arg(long)]
    json: bool,
}

/// A rating or review, parsed.
#[derive(Debug)]
pub(crate) struct Request {
    id: lord_manifest::PluginId,
    stars: u8,
    /// `None` for a rating alone.
    text: Option<String>,
    registry: Option<String>,
    token: Option<String>,
    json: bool,
}

pub(crate) fn token(ctx: &Context) -> Option<String> {
    ctx.env
        .iter()
        .find(|(k, _)| k == "LORD_REGISTRY_TOKEN")
        .map(|(_, v)| v.clone())
}

fn stars(stars: u8) -> Result<u8, UsageError> {
    if (1..=5).contains(&stars) {
        Ok(stars)
    } else {
        Err(UsageError(format!("{stars} stars: give 1 to 5")))
    }
}

pub(crate) fn parse_rate(ctx: &Context, args: RateArgs) -> Result<Request, UsageError> {
    Ok(Request {
        id: super::parse_id(&args.id)?,
        stars: stars(args.stars)?,
        text: None,
        registry: args.registry,
        token: token(ctx),
        json: args.json,
    })
}

pub(crate) fn parse_review(ctx: &Context, args: ReviewArgs) -> Result<Request, UsageError> {
    Ok(Request {
        id: super::parse_id(&args.id)?,
        stars: stars(args.stars)?,
        text: Some(args.text),
        registry: args.registry,
        token: token(ctx),
        json: args.json,
    })
}

pub(crate) async fn run(out: &Output, framework: &Framework, request: Request) -> Result<ExitCode> {
    let url = crate::commands::registry_url(framework, request.registry.clone())?;
    let token = request.token.clone().ok_or_else(|| {
        UsageError(
            "set LORD_REGISTRY_TOKEN to your account's token on the registry (its operator makes \
             one with `lord registry token create --scope account --name YOU`)"
                .to_owned(),
        )
    })?;
    let installed = framework.get(&request.id)?;
    let version = installed.manifest.plugin.version.to_string();
    let id = request.id.as_str();
    let client = crate::commands::registry_client_at(framework, &url)?;
    let dir = lord_registry_client::receipts_dir(&framework.registry_folder(client.base()));
    let receipt = lord_registry_client::load_receipt(&dir, id, &version)?.ok_or_else(|| {
        UsageError(format!(
            "no install receipt is kept for {id} {version} from {url}: the registry takes \
             ratings and reviews only from accounts that installed the plugin; install it with \
             LORD_REGISTRY_TOKEN set to your account's token (`lord plugin remove {id}`, then \
             `lord plugin install {id}@={version} --registry {url}`)"
        ))
    })?;
    match &request.text {
        None => {
            client
                .rate(&token, id, request.stars, &receipt.text)
                .await?;
            if request.json {
                out.json_line(&json!({"id": id, "version": version, "stars": request.stars}))?;
            } else {
                out.status(format_args!("rated {id} {} of 5 on {url}", request.stars));
            }
        }
        Some(text) => {
            let review = client
                .review(&token, id, &version, request.stars, text, &receipt.text)
                .await?;
            if request.json {
                out.json_line(&json!(review))?;
            } else if review.hidden {
                out.status(format_args!(
                    "reviewed {id} {version} on {url}; the registry holds it back for its \
                     moderators (it looked like spam to its filter)"
                ));
            } else {
                out.status(format_args!(
                    "reviewed {id} {version} as {} on {url}{}",
                    foreign(&review.author),
                    if review.edits > 0 {
                        " (your earlier review is kept as an edit)"
                    } else {
                        ""
                    }
                ));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
