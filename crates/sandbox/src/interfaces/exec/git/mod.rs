//! What lord knows about `git`, the program plugins run most: which of its
//! arguments point it somewhere (another folder, another repository,
//! another program), and the explicit configuration it runs under.
//!
//! git takes paths and programs from three places, and each is closed:
//!
//! - **Its arguments.** Options that move it (`-C`, `--git-dir`,
//!   `--work-tree`, `--exec-path`, `--namespace`), that set configuration
//!   (`-c`, `--config-env`, `clone -c`/`--config`), that name a program
//!   (`--upload-pack`, `--receive-pack`, `--exec`, `ext::` and any other
//!   `helper::` URL, ssh) or a folder elsewhere (`--template`,
//!   `--separate-git-dir`, `--reference`, `--no-index`) are refused, and
//!   so is any spelling git reads as one of them: an abbreviation
//!   (`--upload-pa`), a short option inside a cluster or with its value
//!   attached (`-qu PROGRAM`, `-uPROGRAM`). Every other argument is
//!   placed inside the plugin's folders, links resolved (a guest path like
//!   `/project/x` becomes the real one); a URL needs a `net` grant for
//!   its host, matched by name, written so that lord and git cannot read
//!   it differently (no `\`, one `@` at most), and git follows no
//!   redirect to another host. A URL's host name is looked up by lord,
//!   and curl handed only the addresses the grant reaches
//!   (`remote::pin_args`), by a git that reads that list (2.37 or later,
//!   `repo::reads_resolve_list`); git's own protocol (`git://`) resolves
//!   names itself, so there only an address is let through.
//! - **The other side of a transfer** (`remote.rs`, with URLs and
//!   configured remotes). A local repository named as the
//!   remote (a path, a `file://` URL, or a remote configured as one) runs
//!   git's receiving or sending half in *that* repository, without the
//!   overrides below (git does not pass `-c` settings on to it). So a push
//!   to a local repository is refused (the receiving half runs that
//!   repository's hooks, which the plugin can write), and a repository
//!   fetched or cloned from is checked as the working one is (`repo.rs`):
//!   inside the plugin's folders, `.git` files and `commondir` included,
//!   borrowing no objects, with inert configuration.
//! - **Its environment.** The child starts empty; `GIT_*` variables other
//!   than the author and committer identity are refused, and so are `PATH`
//!   and the loader's `LD_*`.
//! - **Its configuration files.** No system or global file
//!   (`GIT_CONFIG_NOSYSTEM`, `GIT_CONFIG_GLOBAL=/dev/null`): the user's own
//!   settings may name programs (a pager, a credential helper, an ssh
//!   command) that a plugin must not reach through them. Command-line
//!   overrides, which git reads last, switch off what could still run a
//!   program (`core.fsmonitor`, hooks through `core.hooksPath=/dev/null`,
//!   editors, pagers, credential helpers, signing, every protocol but
//!   file, http(s) and git). The repository's own `.git/config` is written
//!   by whoever can write the project, the plugin included, and git reads
//!   it on every run: `repo.rs` checks it before each run against a list of
//!   keys known to be inert, and refuses anything else.

use std::path::Path;

use lord_manifest::NetTarget;

use super::place::Folders;

mod options;
mod remote;

pub(super) use remote::{
    Name, Resolve, configured_remote, pin_args, pushing_locally, repository_candidates,
};
use remote::{helper_transport, local_repository, scp_like, url, url_scheme};

use options::{
    Cluster, global_option, long_option, long_takes_text, read_only_branch, short_options,
};

/// The configuration every run of git gets on its command line, which
/// overrides whatever the repository says.
const OVERRIDES: &[&str] = &[
    // A filesystem monitor is a program git starts by itself.
    "core.fsmonitor=false",
    // Hooks are programs in the repository, which the plugin can write.
    "core.hooksPath=/dev/null",
    "core.editor=:",
    "sequence.editor=:",
    "core.pager=cat",
    "core.askPass=",
    // An empty value clears every helper configured before it.
    "credential.helper=",
    "commit.gpgSign=false",
    "tag.gpgSign=false",
    "push.gpgSign=false",
    "log.showSignature=false",
    // Only transports that are git itself; ssh is another program, and
    // `ext::` runs any command.
    "protocol.allow=never",
    "protocol.file.allow=always",
    "protocol.git.allow=always",
    "protocol.http.allow=always",
    "protocol.https.allow=always",
    "protocol.ext.allow=never",
    "submodule.recurse=false",
    // A redirect could lead to a host the plugin was not granted.
    "http.followRedirects=false",
    // Automatic housekeeping detaches from the process group, so it would
    // outlive the call's deadline.
    "gc.auto=0",
    "gc.autoDetach=false",
    "maintenance.auto=false",
];

/// Subcommands that only read the repository.
const READING: &[&str] = &[
    "status",
    "log",
    "diff",
    "show",
    "rev-parse",
    "rev-list",
    "show-ref",
    "for-each-ref",
    "ls-files",
    "ls-remote",
    "merge-base",
    "describe",
    "cat-file",
    "shortlog",
    "blame",
    "count-objects",
    "check-ignore",
    "name-rev",
    "cherry",
    "diff-tree",
    "diff-index",
    "diff-files",
    "version",
];

/// Subcommands that change the repository or the work tree.
const WRITING: &[&str] = &[
    "init",
    "clone",
    "add",
    "commit",
    "branch",
    "checkout",
    "switch",
    "restore",
    "fetch",
    "pull",
    "push",
    "tag",
    "merge",
    "reset",
    "rm",
    "mv",
    "remote",
    "stash",
    "symbolic-ref",
    "update-ref",
];

/// Subcommands that reach another repository through a URL or a remote.
const NETWORK: &[&str] = &["clone", "fetch", "pull", "push", "ls-remote", "remote"];

/// Identity variables a plugin may set or pass (each still needs its
/// `env(NAME)` grant); every other `GIT_*` variable can point git
/// elsewhere (`GIT_DIR`, `GIT_SSH_COMMAND`, `GIT_CONFIG_*`,
/// `GIT_EXEC_PATH`, ...).
const IDENTITY: &[&str] = &[
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_AUTHOR_DATE",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
    "GIT_COMMITTER_DATE",
];

/// Where one git run happens.
pub(super) struct Where<'a> {
    pub(super) folders: &'a Folders,
    /// The working folder as the guest names it.
    pub(super) cwd_guest: &'a str,
    /// Whether the working folder's grant is writable.
    pub(super) writable: bool,
    pub(super) net: &'a [NetTarget],
    /// How the host names of URLs are looked up: `None` for the system's
    /// resolver (asynchronously, under the call's deadline), or a table
    /// in tests.
    pub(super) resolve: Option<Resolve<'a>>,
    /// The host names the checked URLs reach, the plugin's and its
    /// configured remotes' (`Name`), looked up once the checks are done
    /// ([`pin_args`]).
    pub(super) names: std::sync::Mutex<Vec<Name>>,
}

/// A git run lord is willing to make.
#[derive(Debug)]
pub(super) struct Prepared {
    pub(super) args: Vec<String>,
    /// Whether the run reaches remotes, so their configured URLs are
    /// checked too.
    pub(super) network: bool,
    /// Whether it only reads (and so needs only a readable folder).
    pub(super) reading: bool,
    /// Local repositories the arguments name as the other side, where git
    /// would find one (host paths of each candidate `enter_repo` tries):
    /// each is checked as the working one is before the run.
    pub(super) others: Vec<std::path::PathBuf>,
    /// For `push`, the remote or URL it names (`Some(None)` when git picks
    /// a configured one); `None` for any other subcommand.
    pub(super) push: Option<Option<String>>,
    /// Relative paths among the arguments of a run that reaches another
    /// repository, passed to git as written: git reads them from the top
    /// of the work tree, where it has moved, which `repo.rs` knows and
    /// checks them against too.
    pub(super) relative: Vec<String>,
}

/// Whether `name` may be passed to git. `Err` names why not.
pub(super) fn variable_allowed(name: &str) -> Result<(), String> {
    let upper = name.to_ascii_uppercase();
    if upper.starts_with("GIT_") && !IDENTITY.contains(&upper.as_str()) {
        return Err(format!(
            "the variable `{name}` for git (every `GIT_*` variable but the author and \
             committer identity can point git at another repository or program)"
        ));
    }
    if upper == "PATH" {
        return Err(format!(
            "the variable `{name}` for git (it would choose which programs git starts)"
        ));
    }
    Ok(())
}

/// The explicit configuration and environment of every git run.
pub(super) fn safe_env(
    where_: &Where<'_>,
    folder_root: &Path,
    reading: bool,
) -> Vec<(String, String)> {
    let mut env = vec![
        ("GIT_CONFIG_NOSYSTEM".to_owned(), "1".to_owned()),
        ("GIT_CONFIG_GLOBAL".to_owned(), "/dev/null".to_owned()),
        ("GIT_ATTR_NOSYSTEM".to_owned(), "1".to_owned()),
        ("GIT_TERMINAL_PROMPT".to_owned(), "0".to_owned()),
        ("GIT_EDITOR".to_owned(), ":".to_owned()),
        ("GIT_SEQUENCE_EDITOR".to_owned(), ":".to_owned()),
        ("GIT_PAGER".to_owned(), "cat".to_owned()),
    ];
    // Looking for the repository upwards stops at the granted folder: a
    // project with no repository of its own must not find one above it
    // (a home folder kept in git, say).
    if let Some(parent) = folder_root.parent() {
        env.push((
            "GIT_CEILING_DIRECTORIES".to_owned(),
            parent.to_string_lossy().into_owned(),
        ));
    }
    if reading || !where_.writable {
        // Even `git status` refreshes the index unless told not to.
        env.push(("GIT_OPTIONAL_LOCKS".to_owned(), "0".to_owned()));
    }
    env
}

/// The overrides as `-c KEY=VALUE` arguments.
pub(super) fn override_args() -> Vec<String> {
    OVERRIDES
        .iter()
        .flat_map(|o| ["-c".to_owned(), (*o).to_owned()])
        .collect()
}

/// Checks a plugin's git arguments and rewrites its paths to the host's.
pub(super) fn prepare(args: &[String], where_: &Where<'_>) -> Result<Prepared, String> {
    let mut rest = args.iter();
    let mut global = Vec::new();
    let sub = loop {
        let Some(arg) = rest.next() else {
            return Err("git with no subcommand".to_owned());
        };
        if arg == "--version" || arg == "version" {
            if rest.next().is_some() {
                return Err("git `--version` followed by more arguments".to_owned());
            }
            return Ok(Prepared::version_only());
        }
        if !arg.starts_with('-') {
            break arg.as_str();
        }
        global_option(arg)?;
        global.push(arg.clone());
    };
    let reading = subcommand_allowed(sub, rest.as_slice(), where_)?;
    let network = NETWORK.contains(&sub);
    let mut out = override_args();
    out.extend(global);
    out.push(sub.to_owned());
    let mut positional = 0usize;
    let mut skip_value = false;
    let mut others = Vec::new();
    let mut relative = Vec::new();
    let mut push = (sub == "push").then_some(None);
    let mut options_end = false;
    for arg in rest {
        // An option's value taken as text, or an argument past `--`, may
        // still be an option to git: the value's option may be a flag there
        // (`stash show -m`), and the `--` may have been an option's value
        // (`clone --server-option -- --upload-pack=X`). The refusals hold.
        if (skip_value || options_end) && arg.len() > 1 && arg.starts_with('-') {
            refused_as_option(sub, arg, where_)?;
        }
        if skip_value {
            skip_value = false;
            out.push(arg.clone());
            continue;
        }
        if !options_end && (arg == "--" || arg == "--end-of-options") {
            // Past it git reads every argument as a path or a revision,
            // however it begins; but it may itself be the value of the
            // option before it (`commit -F --`), a path like any.
            option_as_path(arg, where_)?;
            options_end = true;
            out.push(arg.clone());
            continue;
        }
        if let Some(long) = arg.strip_prefix("--").filter(|_| !options_end) {
            let (name, value) = match long.split_once('=') {
                Some((name, value)) => (name, Some(value)),
                None => (long, None),
            };
            long_option(sub, name)?;
            // Read as an option here, but git may read it as the value of
            // an option lord does not know (`commit -F --x`, `blame
            // --contents -k`): then it is a path, which must stay inside
            // the grants as any other (a `--x` link out is refused).
            option_as_path(arg, where_)?;
            let text = long_takes_text(sub, name);
            skip_value = value.is_none() && text;
            out.push(match value {
                Some(value) if !text => {
                    format!("--{name}={}", path_like(value, where_, false)?)
                }
                Some(_) | None => arg.clone(),
            });
            continue;
        }
        if let Some(cluster) = arg
            .strip_prefix('-')
            .filter(|c| !c.is_empty() && !options_end)
        {
            skip_value = short_options(sub, cluster, where_)? == Cluster::NextIsText;
            option_as_path(arg, where_)?;
            out.push(arg.clone());
            continue;
        }
        positional += 1;
        let is_repository = network && repository_position(sub, positional, args);
        if creates_at(sub, positional) {
            writable_destination(arg, where_)?;
        }
        let rewritten = path_like(arg, where_, is_repository)?;
        // Every positional argument, not only the one lord expects to be
        // the repository: an option that takes a value lord does not know
        // of shifts which one git reads as it.
        if network {
            let found = local_repository(arg, where_);
            if sub == "push" && !found.is_empty() {
                return Err(pushing_locally(arg));
            }
            others.extend(found);
            if rewritten == *arg && url_scheme(arg).is_none() && !arg.starts_with('/') {
                relative.push(arg.clone());
            }
        }
        if positional == 1
            && let Some(target) = push.as_mut()
        {
            *target = Some(arg.clone());
        }
        out.push(rewritten);
    }
    Ok(Prepared {
        args: out,
        network,
        reading,
        others,
        push,
        relative,
    })
}

impl Prepared {
    /// `git --version`, which reads no repository.
    fn version_only() -> Self {
        Self {
            args: vec!["--version".to_owned()],
            network: false,
            reading: true,
            others: Vec::new(),
            push: None,
            relative: Vec::new(),
        }
    }
}

/// Whether `git SUB` (with `rest` after it) may run in the working
/// folder: one of git's own subcommands, and one that only reads unless
/// the folder is writable. `Ok(true)` for a reading one.
fn subcommand_allowed(sub: &str, rest: &[String], where_: &Where<'_>) -> Result<bool, String> {
    let reading = READING.contains(&sub);
    if !reading && !WRITING.contains(&sub) {
        return Err(format!(
            "the git subcommand `{sub}` (lord runs only git's own subcommands that stay in the \
             repository: {}, {}; never an alias, `config`, `submodule` or `help`)",
            READING.join(", "),
            WRITING.join(", ")
        ));
    }
    if !reading && !where_.writable && !read_only_branch(sub, rest) {
        return Err(format!(
            "`git {sub}` in `{}`, which the plugin may only read",
            where_.cwd_guest
        ));
    }
    Ok(reading)
}

/// Refuses `arg` if git, reading it as an option of `sub`, would read a
/// refused one (`--upload-pack=X`, `-uX` in clone, `--help`...).
fn refused_as_option(sub: &str, arg: &str, where_: &Where<'_>) -> Result<(), String> {
    match arg.strip_prefix("--") {
        Some(long) => long_option(sub, long.split_once('=').map_or(long, |(name, _)| name)),
        None => short_options(sub, &arg[1..], where_).map(|_| ()),
    }
}

/// An argument that looks like an option, placed as the path git would
/// read were it the value of the option before it: refused when that path
/// leaves the grants (through `..` or a link). No long option's name holds
/// a `/` (a short one's attached value may: `-mfix/typo`).
fn option_as_path(arg: &str, where_: &Where<'_>) -> Result<(), String> {
    let name = arg.split_once('=').map_or(arg, |(name, _)| name);
    if name.starts_with("--") && name.contains('/') {
        return Err(format!(
            "git's argument `{arg}` (no git option holds a `/`; git would read it as a path, \
             the value of the option before it)"
        ));
    }
    let refused = |e: String| format!("git's argument `{arg}`, read as a path: {e}");
    where_
        .folders
        .place(arg, Some(where_.cwd_guest))
        .map_err(refused)?;
    // `place` tidies `..` away before it follows links; git, passed the
    // argument as written, follows `-m` first when `-m/../x` has a link
    // `-m`. So what the argument leads to, followed as the kernel follows
    // it, must be inside the grants too (a path that does not exist git
    // cannot read either).
    let cwd = where_
        .folders
        .place(where_.cwd_guest, None)
        .map_err(refused)?;
    match std::fs::canonicalize(cwd.host.join(arg)) {
        Ok(real) if !where_.folders.contains_host(&real) => Err(refused(format!(
            "`{arg}` leads outside the plugin's granted folders (through a link)"
        ))),
        Ok(_) | Err(_) => Ok(()),
    }
}

/// Whether positional argument `n` (from 1) of `git SUB` may be a folder
/// git creates and writes: `init DIR`, `clone REPO DIR`. Every later one
/// too, since an option taking a value lord does not know of (`init
/// --object-format sha256 DIR`, an abbreviation such as `--initial`)
/// shifts which argument git reads as the folder. Every other writing
/// subcommand writes in the working folder, whose grant is checked first.
fn creates_at(sub: &str, n: usize) -> bool {
    match sub {
        "init" => n >= 1,
        "clone" => n >= 2,
        _ => false,
    }
}

/// A folder git will create and write must be in a folder the plugin may
/// write: `clone . /docs/x` with `/docs` granted read-only is refused,
/// though the working folder is writable.
fn writable_destination(arg: &str, where_: &Where<'_>) -> Result<(), String> {
    let placed = where_
        .folders
        .place(arg, Some(where_.cwd_guest))
        .map_err(|e| format!("git's argument {e}"))?;
    let folder = where_.folders.get(placed.folder);
    if folder.writable {
        Ok(())
    } else {
        Err(format!(
            "git writing into `{arg}`, in `{}`, which the plugin may only read",
            folder.guest
        ))
    }
}

/// Whether the `n`th positional argument (1-based) names the other
/// repository: the first for clone, fetch, pull, push and ls-remote; the
/// third for `remote add|set-url NAME URL`.
fn repository_position(sub: &str, n: usize, args: &[String]) -> bool {
    match sub {
        "remote" => n == 3 && args.iter().any(|a| matches!(a.as_str(), "add" | "set-url")),
        _ => n == 1,
    }
}

/// An argument that may be a path or a URL: checked, and a guest path
/// rewritten as the host path it stands for.
fn path_like(arg: &str, where_: &Where<'_>, repository: bool) -> Result<String, String> {
    if let Some(scheme) = helper_transport(arg) {
        return Err(format!(
            "the git URL `{scheme}::...` (a `{scheme}::` URL makes git run a remote helper, \
             `ext::` any command)"
        ));
    }
    if let Some(scheme) = url_scheme(arg) {
        return url(arg, &scheme, where_);
    }
    if repository && scp_like(arg) {
        return Err(format!(
            "the git remote `{arg}` (it is reached over ssh, another program; use an https URL \
             and a `net` grant)"
        ));
    }
    // Every argument is placed, even a relative one that does not climb:
    // a link the plugin made inside the project (`secret -> ~/.ssh/id_rsa`)
    // would otherwise lead git out (`commit -F secret`, `clone . link/x`).
    // Text that is no path (a branch, a revision) places harmlessly.
    let placed = where_
        .folders
        .place(arg, Some(where_.cwd_guest))
        .map_err(|e| format!("git's argument {e}"))?;
    let climbs = arg.split('/').any(|part| part == "..");
    if arg.starts_with('/') || climbs {
        return Ok(placed.host.to_string_lossy().into_owned());
    }
    Ok(arg.to_owned())
}

#[cfg(test)]
mod tests;
