//! Each operation of `lord git`: which git commands it runs and what it
//! answers, as text and as JSON.

use lord_pdk::exec::Command as Exec;
use lord_pdk::serde_json::{Value, json};

use crate::status::Status;

pub(crate) const USAGE: &str = "usage: lord git OPERATION [ARGS] [--json]
operations: status, init [DIR], clone URL [DIR], add PATH..., commit -m MESSAGE [--all],
            log [-n N], diff [--staged] [PATH...], branches, branch NAME [START],
            checkout NAME, current-commit, is-clean";

/// What an operation answers.
pub(crate) struct Answer {
    pub(crate) text: String,
    pub(crate) json: Value,
}

/// Runs git with `args`; its standard output, or an error naming the
/// command and what git said.
fn git(args: &[&str]) -> Result<String, String> {
    let shown = format!("git {}", args.join(" "));
    let out = Exec::new("git")
        .args(args.iter().copied())
        .run()
        .map_err(|e| format!("`{shown}` could not run: {e}"))?;
    if !out.success() {
        let code = out
            .status
            .map_or_else(|| "killed by a signal".to_owned(), |c| format!("exit {c}"));
        return Err(format!(
            "`{shown}` failed ({code}): {}",
            out.stderr_text().trim()
        ));
    }
    Ok(out.stdout_text())
}

pub(crate) fn run(op: &str, rest: &[&str]) -> Result<Answer, String> {
    match op {
        "status" => status(),
        "is-clean" => {
            let clean = read_status()?.clean();
            Ok(Answer {
                text: format!("{clean}\n"),
                json: json!({ "clean": clean }),
            })
        }
        "init" => simple(&[&["init"], rest].concat(), "initialized"),
        "clone" => {
            let [url, dir @ ..] = rest else {
                return Err("usage: lord git clone URL [DIR]".to_owned());
            };
            let mut args = vec!["clone", "--quiet", "--", url];
            args.extend(dir.iter().copied());
            simple(&args, "cloned")
        }
        "add" => {
            if rest.is_empty() {
                return Err("usage: lord git add PATH...".to_owned());
            }
            simple(&[&["add", "--"], rest].concat(), "added")
        }
        "commit" => commit(rest),
        "log" => log(rest),
        "diff" => diff(rest),
        "branches" => branches(),
        "branch" => {
            let [name, start @ ..] = rest else {
                return Err("usage: lord git branch NAME [START]".to_owned());
            };
            let mut args = vec!["branch", "--", name];
            args.extend(start.iter().copied());
            simple(&args, "created")
        }
        "checkout" => {
            let [name] = rest else {
                return Err("usage: lord git checkout NAME".to_owned());
            };
            git(&["checkout", "--quiet", name])?;
            Ok(Answer {
                text: format!("on {name}\n"),
                json: json!({ "branch": name }),
            })
        }
        "current-commit" => {
            let id = git(&["rev-parse", "--verify", "HEAD"])?.trim().to_owned();
            Ok(Answer {
                text: format!("{id}\n"),
                json: json!({ "commit": id }),
            })
        }
        other => Err(format!("unknown operation `{other}`\n{USAGE}")),
    }
}

/// An operation whose answer is that it worked, and what git said.
fn simple(args: &[&str], done: &str) -> Result<Answer, String> {
    let said = git(args)?;
    Ok(Answer {
        text: if said.trim().is_empty() {
            format!("{done}\n")
        } else {
            said.clone()
        },
        json: json!({ "ok": true, "output": said }),
    })
}

fn read_status() -> Result<Status, String> {
    Ok(Status::parse(&git(&[
        "status",
        "--porcelain=v2",
        "--branch",
        "--untracked-files=all",
    ])?))
}

fn status() -> Result<Answer, String> {
    let status = read_status()?;
    Ok(Answer {
        text: status.text(),
        json: status.json(),
    })
}

fn commit(rest: &[&str]) -> Result<Answer, String> {
    let mut message = None;
    let mut all = false;
    let mut args = rest.iter();
    while let Some(arg) = args.next() {
        match *arg {
            "-m" | "--message" => message = args.next().copied(),
            "-a" | "--all" => all = true,
            other => return Err(format!("unknown commit option `{other}`\n{USAGE}")),
        }
    }
    let message = message.ok_or("usage: lord git commit -m MESSAGE [--all]")?;
    let mut git_args = vec!["commit", "--quiet", "-m", message];
    if all {
        git_args.push("--all");
    }
    git(&git_args).map_err(|e| {
        if e.contains("Author identity unknown") || e.contains("Please tell me who you are") {
            format!(
                "{e}\n(set GIT_AUTHOR_NAME, GIT_AUTHOR_EMAIL, GIT_COMMITTER_NAME and \
                 GIT_COMMITTER_EMAIL, or user.name and user.email in the repository's config)"
            )
        } else {
            e
        }
    })?;
    let id = git(&["rev-parse", "HEAD"])?.trim().to_owned();
    Ok(Answer {
        text: format!("committed {id}\n"),
        json: json!({ "commit": id }),
    })
}

fn log(rest: &[&str]) -> Result<Answer, String> {
    let count = match rest {
        [] => "20".to_owned(),
        ["-n", n] => n
            .parse::<u32>()
            .map_err(|_| format!("-n wants a number, not `{n}`"))?
            .to_string(),
        _ => return Err("usage: lord git log [-n N]".to_owned()),
    };
    let format = "--format=%H%x1f%an%x1f%ae%x1f%at%x1f%s%x1e";
    let out = git(&["log", "-n", &count, format])?;
    let entries: Vec<Value> = out
        .split('\u{1e}')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|entry| {
            let f: Vec<&str> = entry.split('\u{1f}').collect();
            let get = |i: usize| f.get(i).copied().unwrap_or("");
            json!({
                "commit": get(0),
                "author": get(1),
                "email": get(2),
                "time": get(3).parse::<i64>().unwrap_or(0),
                "subject": get(4),
            })
        })
        .collect();
    let text: String = entries
        .iter()
        .map(|e| {
            let id = e["commit"].as_str().unwrap_or("");
            format!(
                "{} {}\n",
                id.get(..12).unwrap_or(id),
                e["subject"].as_str().unwrap_or("")
            )
        })
        .collect();
    Ok(Answer {
        text,
        json: Value::Array(entries),
    })
}

fn diff(rest: &[&str]) -> Result<Answer, String> {
    let mut args = vec!["diff", "--no-color", "--no-ext-diff"];
    let mut paths = Vec::new();
    for arg in rest {
        match *arg {
            "--staged" | "--cached" => args.push("--cached"),
            path => paths.push(path),
        }
    }
    args.push("--");
    args.extend(paths);
    let diff = git(&args)?;
    Ok(Answer {
        json: json!({ "diff": diff }),
        text: diff,
    })
}

fn branches() -> Result<Answer, String> {
    let out = git(&[
        "for-each-ref",
        "--format=%(HEAD)%1f%(refname:short)%1f%(objectname)%1f%(upstream:short)",
        "refs/heads",
    ])?;
    let list: Vec<Value> = out
        .lines()
        .map(|line| {
            let f: Vec<&str> = line.split('\u{1f}').collect();
            let get = |i: usize| f.get(i).copied().unwrap_or("");
            json!({
                "name": get(1),
                "commit": get(2),
                "current": get(0) == "*",
                "upstream": Some(get(3)).filter(|u| !u.is_empty()),
            })
        })
        .collect();
    let text = list
        .iter()
        .map(|b| {
            let mark = if b["current"] == true { "* " } else { "  " };
            format!("{mark}{}\n", b["name"].as_str().unwrap_or(""))
        })
        .collect();
    Ok(Answer {
        text,
        json: Value::Array(list),
    })
}
