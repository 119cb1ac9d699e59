//! `lord plugin search`: query the registry (`registry.url`, or
//! `--registry`). What the registry answers is foreign text.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use lord_host::Framework;
use lord_registry_client::{SearchPage, SearchQuery, Sort};

use crate::cli::UsageError;
use crate::render::{Output, foreign};

#[derive(Debug, Args)]
pub(crate) struct SearchArgs {
    /// Free text; every word must match, as a prefix.
    query: Vec<String>,
    #[arg(long)]
    category: Option<String>,
    /// A keyword.
    #[arg(long)]
    tag: Option<String>,
    #[arg(long)]
    author: Option<String>,
    #[arg(long)]
    min_rating: Option<f64>,
    /// Only plugins the registry's operator verified.
    #[arg(long)]
    verified: bool,
    /// relevance, downloads, rating or updated.
    #[arg(long)]
    sort: Option<String>,
    #[arg(long, default_value_t = 20)]
    limit: u32,
    #[arg(long)]
    registry: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Debug)]
pub(crate) struct Request {
    query: SearchQuery,
    registry: Option<String>,
    json: bool,
}

pub(crate) fn parse(args: SearchArgs) -> Result<Request, UsageError> {
    let sort = args
        .sort
        .map(|s| {
            serde_json::from_value::<Sort>(serde_json::Value::String(s.clone())).map_err(|_| {
                UsageError(format!(
                    "--sort {s}: use relevance, downloads, rating or updated"
                ))
            })
        })
        .transpose()?;
    Ok(Request {
        query: SearchQuery {
            q: (!args.query.is_empty()).then(|| args.query.join(" ")),
            category: args.category,
            tag: args.tag,
            author: args.author,
            min_rating: args.min_rating,
            verified: args.verified.then_some(true),
            sort,
            limit: Some(args.limit),
            ..SearchQuery::default()
        },
        registry: args.registry,
        json: args.json,
    })
}

pub(crate) async fn run(out: &Output, framework: &Framework, request: Request) -> Result<ExitCode> {
    let client = crate::commands::registry_client(framework, request.registry)?;
    let page = client.search(&request.query).await?;
    if request.json {
        out.json(&page)?;
    } else {
        out.text(&hits(&page))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// One line per hit, and how many more there are.
fn hits(page: &SearchPage) -> String {
    if page.hits.is_empty() {
        return "no plugins found\n".to_owned();
    }
    let mut text = String::new();
    for hit in &page.hits {
        let rating = if hit.ratings == 0 {
            "unrated".to_owned()
        } else {
            format!("{:.1}★ ({})", hit.rating, hit.ratings)
        };
        text.push_str(&format!(
            "{:<24} {:<10} {:>8} dl  {:<12} {}{}\n",
            foreign(&hit.id),
            foreign(&hit.latest),
            hit.downloads,
            rating,
            foreign(&hit.description),
            if hit.verified { "  [verified]" } else { "" }
        ));
    }
    if page.total > page.hits.len() as u64 {
        text.push_str(&format!(
            "({} of {} shown; --limit for more)\n",
            page.hits.len(),
            page.total
        ));
    }
    text
}
