//! The operations of `lord update`: the command line parsed into a
//! [`Request`], then one run of it, answered as text and as JSON.

use lord_pdk::serde_json::{Value, json};

use crate::apply;
use crate::diff::Diff;
use crate::plan::{Plan, Strategy};
use crate::record::Record;
use crate::template::Template;
use crate::version::{self, Bump, Tag};

pub(crate) const USAGE: &str = "usage: lord update OPERATION [ARGS] [--json]
operations:
  init REPOSITORY TAG     record the template (a path inside the project, or a URL) and
                          the tag the project was made from, in .lord-template.toml
  versions                the template's versions, the project's and the newest marked
  diff [FROM] [TO]        commits, files and a breaking-change verdict between two tags
  plan [FROM] [TO]        what an update does to each file, and its conflicts
  apply [FROM] [TO]       apply it: a backup first, restored if a write fails
  compare A B             compare two semantic versions
FROM is the project's recorded tag and TO the newest, unless given.
plan and apply take --strategy overwrite|merge|selective (merge by default),
--only PATH (repeatable; selective), and apply takes --dry-run.";

/// What an operation answers.
pub(crate) struct Answer {
    pub(crate) text: String,
    pub(crate) json: Value,
}

/// A parsed command line.
#[derive(Debug)]
pub(crate) struct Request {
    op: Op,
    pub(crate) json: bool,
}

#[derive(Debug)]
enum Op {
    Init {
        repository: String,
        tag: String,
    },
    Versions,
    Diff {
        from: Option<String>,
        to: Option<String>,
    },
    Plan {
        from: Option<String>,
        to: Option<String>,
        strategy: Strategy,
    },
    Apply {
        from: Option<String>,
        to: Option<String>,
        strategy: Strategy,
        dry_run: bool,
    },
    Compare {
        a: String,
        b: String,
    },
}

impl Request {
    pub(crate) fn parse(args: &[&str]) -> Result<Self, String> {
        let mut json = false;
        let mut dry_run = false;
        let mut strategy = None;
        let mut only = Vec::new();
        let mut words = Vec::new();
        let mut rest = args.iter();
        while let Some(&arg) = rest.next() {
            let (name, inline) = match arg.split_once('=') {
                Some((name, value)) if name.starts_with("--") => (name, Some(value)),
                Some(_) | None => (arg, None),
            };
            let mut value = |what: &str| {
                inline
                    .or_else(|| rest.next().copied())
                    .map(str::to_owned)
                    .ok_or_else(|| format!("`{name}` needs {what}\n{USAGE}"))
            };
            match name {
                "--json" => json = true,
                "--dry-run" => dry_run = true,
                "--strategy" => strategy = Some(value("overwrite, merge or selective")?),
                "--only" => only.push(value("a file's path")?),
                flag if flag.starts_with("--") => {
                    return Err(format!("unknown option `{flag}`\n{USAGE}"));
                }
                word => words.push(word.to_owned()),
            }
        }
        let Some((op, operands)) = words.split_first() else {
            return Err(USAGE.to_owned());
        };
        let takes_files = matches!(op.as_str(), "plan" | "apply");
        if !takes_files && (strategy.is_some() || !only.is_empty()) {
            return Err(format!("`{op}` takes no --strategy or --only\n{USAGE}"));
        }
        if dry_run && op != "apply" {
            return Err(format!("only `apply` takes --dry-run\n{USAGE}"));
        }
        let range = |operands: &[String]| -> Result<(Option<String>, Option<String>), String> {
            match operands {
                [] => Ok((None, None)),
                [to] => Ok((None, Some(to.clone()))),
                [from, to] => Ok((Some(from.clone()), Some(to.clone()))),
                _ => Err(format!("`{op}` takes at most FROM and TO\n{USAGE}")),
            }
        };
        let op = match op.as_str() {
            "init" => match operands {
                [repository, tag] => Op::Init {
                    repository: repository.clone(),
                    tag: tag.clone(),
                },
                _ => return Err("usage: lord update init REPOSITORY TAG".to_owned()),
            },
            "versions" if operands.is_empty() => Op::Versions,
            "compare" => match operands {
                [a, b] => Op::Compare {
                    a: a.clone(),
                    b: b.clone(),
                },
                _ => return Err("usage: lord update compare A B".to_owned()),
            },
            "diff" => {
                let (from, to) = range(operands)?;
                Op::Diff { from, to }
            }
            "plan" | "apply" => {
                let (from, to) = range(operands)?;
                let strategy = strategy_of(strategy.as_deref(), only)?;
                if op == "plan" {
                    Op::Plan { from, to, strategy }
                } else {
                    Op::Apply {
                        from,
                        to,
                        strategy,
                        dry_run,
                    }
                }
            }
            other => return Err(format!("unknown operation `{other}`\n{USAGE}")),
        };
        Ok(Self { op, json })
    }

    pub(crate) fn run(&self) -> Result<Answer, String> {
        match &self.op {
            Op::Init { repository, tag } => init(repository, tag),
            Op::Versions => versions(),
            Op::Compare { a, b } => compare(a, b),
            Op::Diff { from, to } => {
                let (_, template, diff) = read_diff(from.as_deref(), to.as_deref())?;
                drop(template);
                Ok(Answer {
                    text: diff.text(),
                    json: diff.json(),
                })
            }
            Op::Plan { from, to, strategy } => {
                let (_, template, diff) = read_diff(from.as_deref(), to.as_deref())?;
                let plan = Plan::make(&template, diff, strategy.clone())?;
                Ok(Answer {
                    text: plan.text(),
                    json: plan.json(),
                })
            }
            Op::Apply {
                from,
                to,
                strategy,
                dry_run,
            } => {
                let (record, template, diff) = read_diff(from.as_deref(), to.as_deref())?;
                let plan = Plan::make(&template, diff, strategy.clone())?;
                let applied = apply::apply(plan, &record, *dry_run)?;
                Ok(Answer {
                    text: applied.text(),
                    json: applied.json(),
                })
            }
        }
    }
}

fn strategy_of(name: Option<&str>, only: Vec<String>) -> Result<Strategy, String> {
    match (name, only.is_empty()) {
        (None | Some("merge"), true) => Ok(Strategy::Merge),
        (Some("overwrite"), true) => Ok(Strategy::Overwrite),
        (None | Some("selective"), false) => Ok(Strategy::Selective(only)),
        (Some("selective"), true) => Err(
            "the selective strategy needs the files to update: --only PATH (once per file)"
                .to_owned(),
        ),
        (Some("merge" | "overwrite"), false) => {
            Err("--only goes with the selective strategy".to_owned())
        }
        (Some(other), _) => Err(format!(
            "unknown strategy `{other}` (overwrite, merge or selective)"
        )),
    }
}

/// The record, the template and the diff between FROM (the recorded tag
/// by default) and TO (the newest by default).
fn read_diff(from: Option<&str>, to: Option<&str>) -> Result<(Record, Template, Diff), String> {
    let record = Record::read()?;
    let template = Template::open(&record.repository)?;
    let from = template.tag(from.unwrap_or(&record.version))?;
    let to = match to {
        Some(to) => template.tag(to)?,
        None => newest(&template)?,
    };
    let diff = Diff::read(&template, from, to)?;
    Ok((record, template, diff))
}

fn newest(template: &Template) -> Result<Tag, String> {
    template
        .tags()?
        .pop()
        .ok_or_else(|| "the template has no tag that is a semantic version".to_owned())
}

fn init(repository: &str, tag: &str) -> Result<Answer, String> {
    let template = Template::open(repository)?;
    let tag = template.tag(tag)?;
    let record = Record {
        repository: repository.to_owned(),
        version: tag.name.clone(),
    };
    record.write()?;
    Ok(Answer {
        text: format!(
            "recorded in {}: template {repository} at {}\n",
            crate::record::FILE,
            tag.name
        ),
        json: json!({ "repository": repository, "version": tag.name }),
    })
}

fn versions() -> Result<Answer, String> {
    let record = Record::read()?;
    let template = Template::open(&record.repository)?;
    let tags = template.tags()?;
    let newest = tags.last().map(|t| t.name.clone());
    let mut text = String::new();
    for tag in &tags {
        let mut marks = Vec::new();
        if tag.name == record.version {
            marks.push("the project's");
        }
        if Some(&tag.name) == newest.as_ref() {
            marks.push("newest");
        }
        text.push_str(&tag.name);
        if !marks.is_empty() {
            text.push_str(&format!("  ({})", marks.join(", ")));
        }
        text.push('\n');
    }
    Ok(Answer {
        text,
        json: json!({
            "versions": tags.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
            "current": record.version,
            "newest": newest,
        }),
    })
}

fn compare(a: &str, b: &str) -> Result<Answer, String> {
    let (x, y) = (version::parse_arg(a)?, version::parse_arg(b)?);
    let (sign, order) = match x.version.cmp(&y.version) {
        std::cmp::Ordering::Less => ("<", "less"),
        std::cmp::Ordering::Equal => ("=", "equal"),
        std::cmp::Ordering::Greater => (">", "greater"),
    };
    let bump = Bump::between(&x.version, &y.version);
    let breaking = version::breaking_by_version(&x.version, &y.version);
    Ok(Answer {
        text: format!(
            "{a} {sign} {b} ({} step{})\n",
            bump.as_str(),
            if breaking { ", breaking" } else { "" }
        ),
        json: json!({ "a": a, "b": b, "order": order, "bump": bump.as_str(), "breaking": breaking }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_and_operands_parse() {
        let r = Request::parse(&["apply", "v1.0.0", "v2.0.0", "--dry-run", "--json"])
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(r.json);
        assert!(matches!(
            r.op,
            Op::Apply {
                dry_run: true,
                strategy: Strategy::Merge,
                ..
            }
        ));
        let r = Request::parse(&["plan", "--only", "a.txt", "--only=b.txt"])
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            matches!(&r.op, Op::Plan { strategy: Strategy::Selective(files), .. } if files.len() == 2)
        );
        assert!(Request::parse(&["plan", "--strategy", "selective"]).is_err());
        assert!(Request::parse(&["diff", "--dry-run"]).is_err());
        assert!(Request::parse(&["plan", "--strategy", "wild"]).is_err());
        assert!(Request::parse(&["frob"]).is_err());
    }
}
