//! `lord ai ab`: A/B tests of two templates. `run` renders every input
//! (one JSON object of variables per line of a file) through both
//! templates, asks the same profile, keeps each reply's latency, tokens
//! and cost, and on a terminal asks for a rating after each pair; `rate`
//! rates later; `report` gives both variants side by side. The run is
//! saved after every reply, so an interrupted one keeps what it measured.

use std::collections::BTreeMap;
use std::io::BufRead as _;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Subcommand;
use lord_ai::ab::{Run, Trial, VariantReport};
use lord_host::Framework;

use super::Target;
use super::ask::{Asker, new_session_id};
use crate::cli::UsageError;
use crate::context::Context;
use crate::render::{Output, foreign};

#[derive(Debug, Subcommand)]
pub(crate) enum AbCommand {
    /// Run both templates over every input.
    Run {
        /// Variant a's template.
        a: String,
        /// Variant b's template.
        b: String,
        /// A file of inputs: one JSON object of template variables a line.
        #[arg(long)]
        inputs: PathBuf,
        #[command(flatten)]
        target: Target,
        /// Ask for a 1-5 rating of each reply (on a terminal).
        #[arg(long)]
        rate: bool,
        #[arg(long)]
        json: bool,
    },
    /// The runs kept, newest first.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Rate one reply: `lord ai ab rate RUN INPUT a|b 1-5`.
    Rate {
        run: String,
        input: usize,
        variant: String,
        rating: u8,
    },
    /// Both variants side by side.
    Report {
        run: String,
        #[arg(long)]
        json: bool,
    },
}

fn inputs(path: &PathBuf) -> Result<Vec<BTreeMap<String, String>>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("could not open {}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("could not read {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let value: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&line)
            .map_err(|e| {
                UsageError(format!(
                    "{} line {}: {e}; write one JSON object of variables a line",
                    path.display(),
                    n + 1
                ))
            })?;
        out.push(
            value
                .into_iter()
                .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
                .collect(),
        );
    }
    if out.is_empty() {
        return Err(UsageError(format!("{} holds no inputs", path.display())).into());
    }
    Ok(out)
}

pub(crate) async fn run(
    ctx: &Context,
    out: &Output,
    framework: &Framework,
    command: AbCommand,
) -> Result<()> {
    let dir = framework.ai_dir().join("ab");
    match command {
        AbCommand::Run {
            a,
            b,
            inputs: file,
            target,
            rate,
            json,
        } => {
            let mut asker = Asker::new(framework, target.profile.as_deref())?;
            let templates = [asker.library.template(&a)?, asker.library.template(&b)?];
            let mut run = Run {
                id: new_session_id(),
                profile: asker.endpoint.name.clone(),
                model: target.model.clone(),
                a,
                b,
                inputs: inputs(&file)?,
                trials: Vec::new(),
            };
            let rate = rate && ctx.terminal.stdin;
            for index in 0..run.inputs.len() {
                for (variant, template) in ["a", "b"].into_iter().zip(&templates) {
                    let messages = super::ask::template_messages(
                        &asker.library,
                        template,
                        &run.inputs[index],
                    )?;
                    let mut target = target.clone();
                    target.model = target.model.or(template.model.clone());
                    let request = asker.request(&target, messages);
                    let trial = match asker
                        .ask(out, &request, false, None, Some(&template.name))
                        .await
                    {
                        Ok(reply) => Trial {
                            input: index,
                            variant: variant.to_owned(),
                            latency_ms: reply.timing.total_ms,
                            first_token_ms: reply.timing.first_token_ms,
                            usage: reply.usage,
                            cost: asker.prices.cost(&reply.model, reply.usage),
                            reply: reply.text,
                            rating: None,
                            error: None,
                        },
                        Err(e) => Trial {
                            input: index,
                            variant: variant.to_owned(),
                            reply: String::new(),
                            latency_ms: 0.0,
                            first_token_ms: 0.0,
                            usage: lord_ai::Usage::default(),
                            cost: None,
                            rating: None,
                            error: Some(e.to_string()),
                        },
                    };
                    if !json {
                        out.status(format_args!("input {} variant {variant}:", index + 1));
                        out.model_text(&format!("{}\n", trial.reply.trim()))?;
                    }
                    run.trials.push(trial);
                    if rate && run.trials.last().is_some_and(|t| t.error.is_none()) {
                        let rating = ask_rating(out)?;
                        if let Some(trial) = run.trials.last_mut() {
                            trial.rating = rating;
                        }
                    }
                    run.save(&dir)?;
                }
            }
            out.status(format_args!(
                "A/B run `{}` saved; rate with `lord ai ab rate {} INPUT a|b 1-5`",
                run.id, run.id
            ));
            report(out, &run, json)?;
        }
        AbCommand::Rate {
            run,
            input,
            variant,
            rating,
        } => {
            let mut loaded = Run::load(&dir, &run)?;
            loaded.rate(input, &variant, rating)?;
            loaded.save(&dir)?;
            out.status(format_args!(
                "rated input {input} variant {variant}: {rating}"
            ));
        }
        AbCommand::Report { run, json } => report(out, &Run::load(&dir, &run)?, json)?,
        AbCommand::List { json } => {
            let runs = Run::list(&dir)?;
            if json {
                out.json(&runs)?;
            } else {
                for run in &runs {
                    out.line(format_args!(
                        "{}  {} vs {}  {} inputs  profile {}",
                        run.id,
                        foreign(&run.a),
                        foreign(&run.b),
                        run.inputs,
                        run.profile
                    ))?;
                }
            }
        }
    }
    Ok(())
}

/// A rating typed on the terminal; empty skips.
fn ask_rating(out: &Output) -> Result<Option<u8>> {
    loop {
        out.prompt("rating 1-5 (enter to skip): ")?;
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("could not read the rating")?;
        match line.trim() {
            "" => return Ok(None),
            text => match text.parse::<u8>() {
                Ok(n @ 1..=5) => return Ok(Some(n)),
                _ => out.status("a rating is 1 to 5"),
            },
        }
    }
}

fn report(out: &Output, run: &Run, json: bool) -> Result<()> {
    let variants = run.report();
    if json {
        return out.json(&serde_json::json!({"run": run.id, "profile": run.profile, "inputs": run.inputs.len(), "variants": variants}));
    }
    let cell = |v: Option<f64>, digits: usize| {
        v.map_or_else(|| "-".to_owned(), |v| format!("{v:.digits$}"))
    };
    let row = |label: &str, f: &dyn Fn(&VariantReport) -> String| {
        format!(
            "{label:<22} {:>16} {:>16}",
            f(&variants[0]),
            f(&variants[1])
        )
    };
    let lines = [
        row("", &|v| format!("{} `{}`", v.variant, foreign(&v.template))),
        row("replies (failed)", &|v| {
            format!("{} ({})", v.replies, v.failures)
        }),
        row("latency median ms", &|v| cell(v.latency_ms_median, 1)),
        row("latency mean ms", &|v| cell(v.latency_ms_mean, 1)),
        row("first token ms", &|v| cell(v.first_token_ms_median, 1)),
        row("tokens in", &|v| v.input_tokens.to_string()),
        row("tokens out", &|v| v.output_tokens.to_string()),
        row("tokens out mean", &|v| cell(v.output_tokens_mean, 1)),
        row("cost", &|v| cell(v.cost, 6)),
        row("rating mean (n)", &|v| {
            format!("{} ({})", cell(v.rating_mean, 2), v.ratings)
        }),
    ];
    for line in lines {
        out.line(line)?;
    }
    Ok(())
}
