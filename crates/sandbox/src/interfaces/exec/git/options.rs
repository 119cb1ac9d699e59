//! What git's options mean, as far as lord needs to know: the ones that
//! point it somewhere else (refused, in every spelling git reads: an
//! abbreviation, a letter in a cluster, a value attached), the ones whose
//! next argument is text rather than a path, and the listing options of
//! `git branch`. `super::prepare` walks a plugin's arguments with these.

use super::Where;

/// Options git accepts before the subcommand that change nothing outside.
const GLOBAL_INERT: &[&str] = &[
    "--no-pager",
    "-P",
    "--no-replace-objects",
    "--literal-pathspecs",
    "--glob-pathspecs",
    "--noglob-pathspecs",
    "--icase-pathspecs",
    "--no-optional-locks",
];

/// Options of `git branch` that only list branches, with or without an
/// `=value`.
const LISTING_BRANCH: &[&str] = &[
    "-a",
    "--all",
    "-r",
    "--remotes",
    "-l",
    "--list",
    "-v",
    "-vv",
    "--verbose",
    "-q",
    "--quiet",
    "-i",
    "--ignore-case",
    "--show-current",
    "--contains",
    "--no-contains",
    "--merged",
    "--no-merged",
    "--points-at",
    "--sort",
    "--format",
    "--color",
    "--no-color",
    "--column",
    "--no-column",
    "--abbrev",
    "--no-abbrev",
    "--omit-empty",
];

/// Options refused after any subcommand, each with why.
const REFUSED: &[(&str, &str)] = &[
    (
        "--help",
        "git runs `git help` for it, which starts a manual page reader and a pager",
    ),
    ("--upload-pack", "it names a program for git to run"),
    ("--receive-pack", "it names a program for git to run"),
    ("--exec", "it names a program for git to run"),
    ("--config", "it writes git configuration"),
    ("--config-env", "it sets git configuration"),
    (
        "--template",
        "it copies files from a folder outside the grants",
    ),
    (
        "--separate-git-dir",
        "it puts the repository outside the grants",
    ),
    ("--reference", "it borrows objects from another repository"),
    (
        "--repo",
        "it names the repository apart from the arguments lord checks; give it as the first \
         argument",
    ),
    (
        "--bundle-uri",
        "it fetches from a URI apart from the arguments lord checks",
    ),
    (
        "--reference-if-able",
        "it borrows objects from another repository",
    ),
    ("--git-dir", "it points git at another repository"),
    ("--work-tree", "it points git at another folder"),
    ("--exec-path", "it points git at other programs"),
    ("--no-index", "it compares files outside the repository"),
    (
        "--recurse-submodules",
        "submodules can name any URL or folder",
    ),
    ("--recursive", "submodules can name any URL or folder"),
    ("--ext-diff", "it runs a configured diff program"),
    ("--gpg-sign", "it runs a signing program"),
    ("--open-files-in-pager", "it runs a pager program"),
    (
        "--output",
        "it writes a file, even from a subcommand that only reads",
    ),
];

/// `git branch` that only lists: every argument is one of the listing
/// options. An allow-list, because git takes abbreviations (`--unset-u`),
/// clusters and `=value` forms (`--set-upstream-to=origin/main`) of the
/// options that change a branch, which a list of refusals would miss.
pub(super) fn read_only_branch(sub: &str, rest: &[String]) -> bool {
    sub == "branch"
        && rest.iter().all(|a| {
            let name = a.split_once('=').map_or(a.as_str(), |(name, _)| name);
            LISTING_BRANCH.contains(&name)
        })
}

pub(super) fn global_option(arg: &str) -> Result<(), String> {
    if GLOBAL_INERT.contains(&arg) {
        return Ok(());
    }
    let name = arg.split_once('=').map_or(arg, |(n, _)| n);
    let why = match name {
        "-C" => "it runs git in another folder",
        "-c" | "--config-env" => "it sets git configuration, which can name programs to run",
        "--git-dir" => "it points git at another repository",
        "--work-tree" => "it points git at another folder",
        "--exec-path" => "it points git at other programs",
        "--namespace" | "--super-prefix" => "it changes which repository git works on",
        _ => "lord allows only options that change nothing outside the repository",
    };
    Err(format!("git's option `{name}` ({why})"))
}

/// Refuses a long option after `sub`, given as `name` (without its `--`
/// or `=value`). git takes any unambiguous prefix of a long option as the
/// option (`--upload-pa` is `--upload-pack`), so a name is refused when it
/// is a prefix of a refused one, not only when it equals it. An ambiguous
/// prefix is refused too: git would reject it anyway, and which options
/// it collides with changes between git versions.
pub(super) fn long_option(sub: &str, name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Ok(());
    }
    let mut refused = REFUSED.iter().chain(refused_long(sub));
    let refused = refused
        .clone()
        .find(|(refused, _)| refused.strip_prefix("--") == Some(name))
        .or_else(|| {
            refused.find(|(refused, _)| {
                refused
                    .strip_prefix("--")
                    .is_some_and(|r| r.starts_with(name))
            })
        });
    match refused {
        Some((refused, why)) if *refused == format!("--{name}") => {
            Err(format!("git's option `{refused}` ({why})"))
        }
        Some((refused, why)) => Err(format!(
            "git's option `--{name}` (git reads it as `{refused}`: {why})"
        )),
        None => Ok(()),
    }
}

/// Long options refused only after `sub`, each with why.
fn refused_long(sub: &str) -> &'static [(&'static str, &'static str)] {
    match sub {
        "tag" => &[
            ("--sign", "it runs a signing program"),
            ("--local-user", "it runs a signing program"),
        ],
        _ => &[],
    }
}

/// What a cluster of short options leaves for the next argument.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Cluster {
    /// Nothing: the next argument is read on its own.
    Done,
    /// The cluster ends in an option whose value is the next argument, and
    /// that value is text (a message, a branch name), not a path.
    NextIsText,
}

/// Checks a cluster of short options after `sub` (`cluster` is the
/// argument without its `-`). git reads every letter of `-qu` as its own
/// option and takes the rest of the argument as the value of the first
/// option that wants one (`-utouch x` is `-u 'touch x'`), so every letter
/// is checked against the refused ones. Where the value starts is known
/// only when every letter before it is a flag lord knows; otherwise any
/// tail of the cluster may be a value, and perhaps a path: one holding a
/// `/` is refused (`commit -F/home/u/.ssh/id_rsa`), and each other tail
/// must place inside the grants (`commit -Fsecret`, `secret` a link out).
pub(super) fn short_options(
    sub: &str,
    cluster: &str,
    where_: &Where<'_>,
) -> Result<Cluster, String> {
    let mut known = true;
    for (at, letter) in cluster.char_indices() {
        if let Some(why) = refused_short(sub, letter) {
            return Err(format!(
                "git's option `-{letter}` for `{sub}` in `-{cluster}` ({why})"
            ));
        }
        if known && short_takes_text(sub, letter) {
            return Ok(if cluster[at + letter.len_utf8()..].is_empty() {
                Cluster::NextIsText
            } else {
                Cluster::Done
            });
        }
        known = known && short_flag(sub, letter);
    }
    if known {
        return Ok(Cluster::Done);
    }
    if cluster.contains('/') {
        return Err(format!(
            "git's option `-{cluster}` (a value attached to a short option may be a path, \
             which lord cannot place; pass the value as the next argument)"
        ));
    }
    for (at, _) in cluster.char_indices().skip(1) {
        where_
            .folders
            .place(&cluster[at..], Some(where_.cwd_guest))
            .map_err(|e| format!("git's option `-{cluster}`: its value {e}"))?;
    }
    Ok(Cluster::Done)
}

/// Short options of `sub` that take no value, so a letter after them is
/// another option. Only the ones that come before a text option in
/// practice (`commit -am MESSAGE`); a letter not listed here may take the
/// rest of its argument as a value.
fn short_flag(sub: &str, letter: char) -> bool {
    matches!(
        (sub, letter),
        ("commit", 'a' | 'q' | 'v' | 's' | 'n' | 'e')
            | ("tag", 'a' | 'f')
            | ("merge", 'q' | 'v' | 'n' | 'e')
            | ("stash", 'q')
            | ("clone", 'q' | 'v' | 'n')
            | ("checkout" | "switch", 'q' | 'f')
            | ("push" | "fetch" | "pull" | "ls-remote", 'q' | 'v')
    )
}

/// Short options refused after `sub`, with why.
fn refused_short(sub: &str, letter: char) -> Option<&'static str> {
    match (sub, letter) {
        ("clone", 'u') => Some("it is `--upload-pack`, which names a program for git to run"),
        ("clone", 'c') => Some("it is `--config`, which can name programs for git to run"),
        // `-S` signs with a program (in `log`, it is a search).
        ("commit" | "merge" | "pull" | "tag", 'S') | ("tag", 's' | 'u') => {
            Some("it runs a signing program")
        }
        _ => None,
    }
}

/// Short options of `sub` whose value is text, never a path: the rest of
/// their argument, or the next argument.
fn short_takes_text(sub: &str, letter: char) -> bool {
    matches!(
        (sub, letter),
        ("commit" | "tag" | "merge" | "stash", 'm')
            | ("clone", 'b' | 'o' | 'j')
            | ("init", 'b')
            | ("checkout", 'b' | 'B')
            | ("switch", 'c' | 'C')
            | ("push" | "fetch" | "pull" | "ls-remote", 'o')
            | ("fetch" | "pull", 'j')
            | ("log" | "show" | "diff", 'S' | 'G')
    )
}

/// Long options of `sub` whose next argument is text, not a path. Only
/// where `sub` takes the option with a separate value: after any other
/// subcommand the next argument is what git makes of it, perhaps a path
/// (`git diff -b /etc/passwd x` compares a file outside the repository).
pub(super) fn long_takes_text(sub: &str, name: &str) -> bool {
    match name {
        "message" => matches!(sub, "commit" | "tag" | "merge" | "stash"),
        "author" | "date" => matches!(sub, "commit" | "log" | "show" | "shortlog" | "rev-list"),
        "grep" => matches!(sub, "log" | "show" | "shortlog" | "rev-list"),
        "branch" | "origin" => sub == "clone",
        "initial-branch" => sub == "init",
        "push-option" => sub == "push",
        "server-option" => matches!(sub, "fetch" | "pull" | "ls-remote"),
        // Numbers, dates, revisions and filter specs, whose separate
        // value would otherwise count as the repository argument and let
        // the real one (`clone --depth 1 HOST:PATH`, reached over ssh)
        // pass as a destination.
        "depth" | "shallow-since" | "shallow-exclude" | "jobs" | "filter" => {
            matches!(sub, "clone" | "fetch" | "pull")
        }
        "deepen" | "negotiation-tip" => matches!(sub, "fetch" | "pull"),
        _ => false,
    }
}
