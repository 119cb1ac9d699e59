//! `lord plugin recommend`: plugins the registry suggests for what is
//! installed here ("people who use X also use Y", and plugins like the
//! ones installed), compatible with this lord's host API. What the
//! registry answers is foreign text.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use lord_host::{Framework, PluginFilter};
use lord_registry_client::RecommendationQuery;

use crate::render::{Output, foreign};

#[derive(Debug, Args)]
pub(crate) struct RecommendArgs {
    /// How many to suggest.
    #[arg(long, default_value_t = 5)]
    limit: u32,
    #[arg(long)]
    registry: Option<String>,
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run(
    out: &Output,
    framework: &Framework,
    args: RecommendArgs,
) -> Result<ExitCode> {
    let installed: Vec<String> = framework
        .list(&PluginFilter::default())?
        .iter()
        .map(|p| p.id().to_string())
        .collect();
    let client = crate::commands::registry_client(framework, args.registry)?;
    let suggestions = client
        .recommendations(&RecommendationQuery {
            installed: installed.join(","),
            host_api: Some(lord_manifest::host_api_version().to_string()),
            limit: Some(args.limit.clamp(1, 50)),
        })
        .await?;
    if args.json {
        out.json(&suggestions)?;
        return Ok(ExitCode::SUCCESS);
    }
    if suggestions.is_empty() {
        out.status("the registry has nothing to suggest yet");
    }
    for s in &suggestions {
        let because = s
            .because
            .as_deref()
            .map(|b| format!(" (because you use {})", foreign(b)))
            .unwrap_or_default();
        out.line(format!(
            "{}  {}{because}",
            foreign(&s.id),
            foreign(&s.description)
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}
