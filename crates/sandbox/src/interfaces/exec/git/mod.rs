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
mod tests {
    use super::*;
    use crate::capability::Preopen;

    /// `dir` granted writable as `/project`.
    fn writable_project(dir: &Path) -> Folders {
        Folders::new(&[Preopen {
            host: dir.to_path_buf(),
            guest: "/project".to_owned(),
            writable: true,
            resolved: false,
        }])
    }

    /// A resolver for tests that name no host.
    fn no_lookup(host: &str, _: u16) -> std::io::Result<Vec<std::net::IpAddr>> {
        Err(std::io::Error::other(format!("{host} looked up")))
    }

    /// The tests' DNS: `granted.example` is a public address,
    /// `rebound.example` answers this machine's.
    fn table(host: &str, _: u16) -> std::io::Result<Vec<std::net::IpAddr>> {
        match host.to_ascii_lowercase().as_str() {
            "granted.example" => Ok(vec![
                std::net::IpAddr::from([93, 184, 216, 34]),
                std::net::IpAddr::from(std::net::Ipv6Addr::new(
                    0x2606, 0x2800, 0x220, 1, 0, 0, 0, 0x1946,
                )),
            ]),
            "rebound.example" => Ok(vec![std::net::IpAddr::from([127, 0, 0, 1])]),
            other => Err(std::io::Error::other(format!("no such name {other}"))),
        }
    }

    /// Prepares `git ARGS` in `/project`, a folder `dir` granted as
    /// `writable`.
    fn prepare_in(dir: &Path, writable: bool, args: &[&str]) -> Result<Prepared, String> {
        let folders = Folders::new(&[Preopen {
            host: dir.to_path_buf(),
            guest: "/project".to_owned(),
            writable,
            resolved: false,
        }]);
        let where_ = Where {
            folders: &folders,
            cwd_guest: "/project",
            writable,
            net: &[],
            resolve: Some(&no_lookup),
            names: Default::default(),
        };
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        prepare(&args, &where_)
    }

    /// Asserts each run is refused with a message that holds `expect`.
    fn refused(dir: &Path, writable: bool, runs: &[(&[&str], &str)]) {
        for (args, expect) in runs {
            let err = prepare_in(dir, writable, args).expect_err(&format!("{args:?} was run"));
            assert!(err.contains(expect), "{args:?}: {err}");
        }
    }

    /// A value-taking option given its value separately does not shift
    /// which argument is the repository: an ssh remote after it is still
    /// refused, and the options that name a repository apart are refused.
    #[test]
    fn a_separate_option_value_does_not_hide_the_repository() {
        let dir = tempfile::tempdir().expect("tempdir");
        refused(
            dir.path(),
            true,
            &[
                (&["clone", "--depth", "1", "evil:x", "d"], "ssh"),
                (&["clone", "--filter", "blob:none", "evil:x", "d"], "ssh"),
                (&["fetch", "--depth", "1", "evil:x", "main"], "ssh"),
                (&["fetch", "-j", "4", "evil:x"], "ssh"),
                (&["pull", "--shallow-since", "2020-01-01", "evil:x"], "ssh"),
                (&["push", "--repo", "evil:x"], "`--repo`"),
                (&["push", "--repo=evil:x"], "`--repo`"),
                (
                    &["clone", "--bundle-uri", "https://evil/b", ".", "d"],
                    "`--bundle-uri`",
                ),
            ],
        );
        prepare_in(dir.path(), true, &["clone", "--depth", "1", ".", "d"])
            .expect("a shallow clone of the project");
    }

    /// `clone` and `init` write where they are told: into a folder the
    /// plugin may write, not one granted read-only beside a writable one.
    #[test]
    fn a_clone_or_init_into_a_read_only_folder_is_refused() {
        let project = tempfile::tempdir().expect("project");
        let docs = tempfile::tempdir().expect("docs");
        let folders = Folders::new(&[
            Preopen {
                host: project.path().to_path_buf(),
                guest: "/project".to_owned(),
                writable: true,
                resolved: false,
            },
            Preopen {
                host: docs.path().to_path_buf(),
                guest: "/docs".to_owned(),
                writable: false,
                resolved: false,
            },
        ]);
        let where_ = Where {
            folders: &folders,
            cwd_guest: "/project",
            writable: true,
            net: &[],
            resolve: Some(&no_lookup),
            names: Default::default(),
        };
        let run = |args: &[&str]| {
            let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
            prepare(&args, &where_)
        };
        for args in [
            &["clone", ".", "/docs/x"][..],
            &["clone", "-q", ".", "/docs/x"],
            &["init", "/docs/x"],
            // An option taking a value lord does not know of, or an
            // abbreviation of one it does, shifts which argument git reads
            // as the new folder: every argument that may be it is checked.
            &["init", "--initial", "main", "/docs/x"],
            &["init", "--object-format", "sha256", "/docs/x"],
            &["clone", "--bran", "main", ".", "/docs/x"],
            &["clone", "--ref-format", "files", ".", "/docs/x"],
        ] {
            let err = run(args).expect_err(&format!("{args:?} was run"));
            assert!(
                err.contains("which the plugin may only read"),
                "{args:?}: {err}"
            );
        }
        // Reading from the read-only folder, writing in the project: fine.
        run(&["clone", "/docs", "copy"]).expect("clone from a read-only folder");
        run(&["init", "fresh"]).expect("init in the project");
    }

    /// A push to a local repository runs git's receiving half there,
    /// hooks and all: refused wherever git would find one. A remote's name
    /// and refspecs are no repository.
    #[test]
    fn a_push_to_a_local_repository_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join(".git")).expect("git dir");
        std::fs::write(dir.path().join(".git/HEAD"), "ref: refs/heads/main\n").expect("head");
        std::fs::create_dir_all(dir.path().join("tgt")).expect("bare");
        std::fs::write(dir.path().join("tgt/HEAD"), "ref: refs/heads/main\n").expect("head");
        std::fs::create_dir_all(dir.path().join("other.git")).expect("bare");
        std::fs::write(dir.path().join("other.git/HEAD"), "ref: refs/heads/x\n").expect("head");
        refused(
            dir.path(),
            true,
            &[
                (
                    &["push", "tgt", "HEAD:refs/heads/x"],
                    "local repository `tgt`",
                ),
                (&["push", ".", "HEAD:refs/heads/x"], "local repository `.`"),
                (&["push", "/project/tgt", "main"], "local repository"),
                (&["push", "other", "main"], "local repository `other`"),
                (
                    &["push", "-q", "file:///project/tgt", "main"],
                    "local repository",
                ),
            ],
        );
        let run = prepare_in(dir.path(), true, &["push", "origin", "HEAD:refs/heads/x"])
            .expect("a push to a remote by name");
        assert_eq!(run.push, Some(Some("origin".to_owned())));
        let fetched = prepare_in(dir.path(), true, &["fetch", "tgt", "main"]).expect("fetch");
        assert_eq!(
            fetched.others,
            [dir.path().join("tgt")],
            "a repository fetched from is checked"
        );
    }

    /// A URL is checked as a browser reads it and reached as curl reads
    /// it; where the two could differ on the host, it is refused.
    #[test]
    fn a_url_whose_host_could_be_read_two_ways_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let folders = writable_project(dir.path());
        let net = [NetTarget {
            host: lord_manifest::NetHost::Name("granted.example".to_owned()),
            port: None,
        }];
        let where_ = Where {
            folders: &folders,
            cwd_guest: "/project",
            writable: true,
            net: &net,
            resolve: Some(&table),
            names: Default::default(),
        };
        let run = |args: &[&str]| {
            let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
            prepare(&args, &where_)
        };
        for url in [
            "https://granted.example\\@127.0.0.1:6379/x",
            "https://granted.example\\.evil.test/x",
            "https://a@b@granted.example/x",
            "https://gr%61nted.example/x",
            "https://granted.example\t/x",
            "https://GRANTED.example:443@127.0.0.1/x",
        ] {
            let err = run(&["ls-remote", url]).expect_err(url);
            assert!(
                err.contains("could read its host differently") || err.contains("net("),
                "{url}: {err}"
            );
        }
        // A refusal shows no credentials the URL carried.
        for url in [
            "https://x-access-token:s3cr3t@granted.example\\@127.0.0.1/x",
            "https://u:s3cr3t@granted.example\t/x",
            "https://u:s3cr3t@[bad/x",
        ] {
            let err = run(&["ls-remote", url]).expect_err(url);
            assert!(!err.contains("s3cr3t"), "{url}: {err}");
        }
        for url in [
            "https://granted.example/org/repo.git",
            "https://x-access-token:t0k3n@granted.example/org/repo.git",
            "https://Granted.Example:443/repo",
        ] {
            if let Err(e) = run(&["ls-remote", url]) {
                panic!("{url} was refused: {e}");
            }
        }
        // git is told the addresses the check let through, and looks the
        // name up no more: one lookup per name, however often it came.
        let pinned = block_on(pin_args(&where_)).expect("pinned");
        assert_eq!(
            pinned,
            [
                "-c",
                "http.curloptResolve=granted.example:443:93.184.216.34,[2606:2800:220:1::1946]"
            ]
        );
        assert!(
            block_on(pin_args(&where_)).expect("none").is_empty(),
            "taken once"
        );
    }

    fn block_on<T>(future: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(future)
    }

    fn net_grants(permissions: &[&str]) -> Vec<NetTarget> {
        permissions
            .iter()
            .map(|p| match p.parse::<lord_manifest::Permission>() {
                Ok(lord_manifest::Permission::Net(target)) => target,
                other => panic!("{p}: {other:?}"),
            })
            .collect()
    }

    /// A granted name whose answer is this machine (DNS rebinding, or a
    /// name its author points at 127.0.0.1) is refused, and a name that
    /// cannot be looked up is too: git would look it up again.
    #[test]
    fn a_granted_name_answering_this_machine_is_not_reached_by_git() {
        let dir = tempfile::tempdir().expect("tempdir");
        let folders = writable_project(dir.path());
        let net = net_grants(&["net(rebound.example)", "net(missing.example)"]);
        let where_ = Where {
            folders: &folders,
            cwd_guest: "/project",
            writable: true,
            net: &net,
            resolve: Some(&table),
            names: Default::default(),
        };
        for (url, expect) in [
            ("https://rebound.example/x", "127.0.0.1"),
            ("https://missing.example/x", "could not be looked up"),
        ] {
            let args = vec!["ls-remote".to_owned(), url.to_owned()];
            prepare(&args, &where_).expect("the URL itself is granted");
            let err = block_on(pin_args(&where_)).expect_err(url);
            assert!(err.contains(expect), "{url}: {err}");
        }
        // git's own protocol looks a name up itself, past any list lord
        // could hand it: a name is refused there, granted or not, and an
        // address is not.
        let args = vec!["ls-remote".to_owned(), "git://rebound.example/x".to_owned()];
        let err = prepare(&args, &where_).expect_err("a git:// name");
        assert!(err.contains("looks the host name up itself"), "{err}");
        let by_address = net_grants(&["net(192.0.2.7:9418)"]);
        let where_ = Where {
            net: &by_address,
            ..where_
        };
        let args = vec!["ls-remote".to_owned(), "git://192.0.2.7/x".to_owned()];
        prepare(&args, &where_).expect("a git:// address is granted");
        assert!(
            block_on(pin_args(&where_))
                .expect("nothing to look up")
                .is_empty()
        );
        // A trailing dot, which curl versions read differently, is refused.
        let args = vec![
            "ls-remote".to_owned(),
            "https://rebound.example./x".to_owned(),
        ];
        let err = prepare(&args, &where_).expect_err("a trailing dot");
        assert!(err.contains("ends with a dot"), "{err}");
    }

    /// An argument that looks like an option is a path when git reads it
    /// as the value of an option before it: one leaving the grants is
    /// refused, and after `--` every argument is a path.
    #[test]
    fn an_option_that_git_could_read_as_a_path_stays_inside_the_grants() {
        let dir = tempfile::tempdir().expect("tempdir");
        let outside = tempfile::tempdir().expect("outside");
        std::os::unix::fs::symlink(outside.path(), dir.path().join("--k")).expect("link");
        std::os::unix::fs::symlink(outside.path(), dir.path().join("-k")).expect("link");
        // `-m/../x/secret`: tidied, `x/secret` in the project; followed as
        // git follows it, `-m` first, it is the outside folder's.
        let deeper = outside.path().join("inner");
        std::fs::create_dir_all(deeper.join("x")).expect("dir");
        std::fs::write(deeper.join("x/secret"), "key").expect("secret");
        std::os::unix::fs::symlink(deeper.join("x"), dir.path().join("-m")).expect("link");
        std::os::unix::fs::symlink(outside.path(), dir.path().join("--")).expect("link");
        refused(
            dir.path(),
            true,
            &[
                (
                    &["commit", "-F", "--x/../../../../etc/passwd"],
                    "no git option holds a `/`",
                ),
                (&["commit", "-F", "--k/id_rsa"], "no git option holds a `/`"),
                (&["blame", "--contents", "--k", "--", "f"], "read as a path"),
                (&["commit", "-F", "-k"], "read as a path"),
                (&["commit", "-F", "-m/../x/secret"], "through a link"),
                (&["commit", "-F", "--"], "read as a path"),
                (&["add", "--", "--k/x"], "outside"),
                (&["add", "--help"], "`git help`"),
                (&["add", "--he"], "`git help`"),
            ],
        );
    }

    /// What lord takes for an option's value, or for an argument past
    /// `--`, git may still read as an option: the refusals hold for it.
    #[test]
    fn an_option_behind_a_value_or_a_separator_is_still_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        refused(
            dir.path(),
            true,
            &[
                (
                    &[
                        "clone",
                        "--server-option",
                        "--",
                        "--upload-pack=touch x",
                        "file:///project/src",
                        "d",
                    ],
                    "`--upload-pack`",
                ),
                (
                    &[
                        "clone",
                        "--jobs",
                        "--",
                        "-utouch x",
                        "file:///project/src",
                        "d",
                    ],
                    "`-u`",
                ),
                (
                    &["stash", "show", "-m", "--output=/project/x"],
                    "`--output`",
                ),
            ],
        );
    }

    #[test]
    fn abbreviated_long_options_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        refused(
            dir.path(),
            true,
            &[
                (
                    &["ls-remote", "--upload-pa=touch X;", "."],
                    "`--upload-pack`",
                ),
                (&["fetch", "--upload", "touch X;", "."], "`--upload-pack`"),
                (&["ls-remote", "--u=touch X;", "."], "`--upload-pack`"),
                (&["push", "--receive=touch X;", "."], "`--receive-pack`"),
                (&["ls-remote", "--ex=touch X;", "."], "`--exec`"),
                (&["clone", "--conf", "core.x=y", ".", "d"], "`--config`"),
                (&["init", "--templ=/etc"], "`--template`"),
                (&["init", "--sep=/tmp/x"], "`--separate-git-dir`"),
                (&["clone", "--refer", "/x", ".", "d"], "`--reference`"),
                (&["diff", "--no-ind", "a", "b"], "`--no-index`"),
                (&["diff", "--ext-d"], "`--ext-diff`"),
                (&["diff", "--outp=x"], "`--output`"),
                (&["fetch", "--recurse"], "`--recurse-submodules`"),
                (&["commit", "--gpg", "-m", "x"], "`--gpg-sign`"),
                (&["tag", "--si", "v1"], "`--sign`"),
                (&["tag", "--local=key", "v1"], "`--local-user`"),
                // The exact names still say just what they are.
                (
                    &["fetch", "--upload-pack=x", "."],
                    "git's option `--upload-pack` (it",
                ),
            ],
        );
    }

    #[test]
    fn short_options_clustered_or_with_attached_values_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        refused(
            dir.path(),
            true,
            &[
                (&["clone", "-utouch X;", "file:///project/r", "d"], "`-u`"),
                (&["clone", "-qu", "touch X;", ".", "d"], "`-u`"),
                (&["clone", "-cfilter.x.smudge=touch X", ".", "d"], "`-c`"),
                (&["clone", "-qccore.fsmonitor=x", ".", "d"], "`-c`"),
                (&["commit", "-aS", "-m", "x"], "`-S`"),
                (&["commit", "-Skey", "-m", "x"], "`-S`"),
                (&["pull", "-S"], "`-S`"),
                (&["merge", "-qS", "main"], "`-S`"),
                (&["tag", "-as", "v1"], "`-s`"),
                (&["tag", "-ukey", "v1"], "`-u`"),
                // A value attached to a short option may be a path.
                (
                    &["commit", "-F/home/u/.ssh/id_rsa"],
                    "`-F/home/u/.ssh/id_rsa`",
                ),
                (
                    &["commit", "-aF/etc/passwd"],
                    "pass the value as the next argument",
                ),
                (
                    &["ls-files", "-X../../etc/x"],
                    "pass the value as the next argument",
                ),
                // A text option's letter inside another's value is not one.
                (
                    &["commit", "-Fm/../../x"],
                    "pass the value as the next argument",
                ),
                (
                    &["diff", "-OS", "/etc/passwd", "x"],
                    "`/etc/passwd` is outside",
                ),
            ],
        );
    }

    #[test]
    fn text_options_and_harmless_spellings_still_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let runs: &[&[&str]] = &[
            &["commit", "-m", "/not/a/path -u --upload-pack"],
            &["commit", "-am", "fix a/b"],
            &["commit", "-mSigned/off", "--no-gpg-sign"],
            &["commit", "--message", "/x", "--author", "A <a@b>"],
            &["log", "-Sfoo/bar", "--oneline", "-n5"],
            &["log", "--grep", "/x"],
            &["status", "-uno", "--porcelain"],
            &["fetch", "--no-recurse-submodules", "-o", "/opt", "."],
            &["clone", "-b", "main", "-o", "up", ".", "copy"],
            &["checkout", "-b", "feature/x"],
            &["diff", "--stat", "--output-indicator-new=+"],
            &["ls-remote", "--heads", "."],
            &["branch", "-vv"],
        ];
        for args in runs {
            if let Err(e) = prepare_in(dir.path(), true, args) {
                panic!("{args:?} was refused: {e}");
            }
        }
    }

    #[test]
    fn a_flag_is_not_taken_for_a_text_option_and_its_value_skipped() {
        // `-b` is `--ignore-space-change` in `diff`, which then compares a
        // file outside the repository as if `--no-index` were given.
        let dir = tempfile::tempdir().expect("tempdir");
        refused(
            dir.path(),
            true,
            &[
                (
                    &["diff", "-b", "/etc/passwd", "x"],
                    "`/etc/passwd` is outside",
                ),
                (
                    &["diff", "-B", "/etc/passwd", "x"],
                    "`/etc/passwd` is outside",
                ),
                (
                    &["diff", "-m", "/etc/passwd", "x"],
                    "`/etc/passwd` is outside",
                ),
                (&["commit", "-o", "/etc/passwd"], "`/etc/passwd` is outside"),
                (
                    &["status", "--branch", "/etc/passwd"],
                    "`/etc/passwd` is outside",
                ),
            ],
        );
    }

    #[test]
    fn only_listing_branch_options_run_in_a_read_only_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        for args in [
            &["branch"][..],
            &["branch", "-a", "-vv", "--format=%(refname)"],
            &["branch", "--show-current"],
            &["branch", "--contains=HEAD", "--sort=-committerdate"],
        ] {
            if let Err(e) = prepare_in(dir.path(), false, args) {
                panic!("{args:?} was refused: {e}");
            }
        }
        for args in [
            &["branch", "--set-upstream-to=origin/main"][..],
            &["branch", "--unset-u"],
            &["branch", "-uorigin/main"],
            &["branch", "--edit-d"],
            &["branch", "-qd", "main"],
            &["branch", "--del", "main"],
        ] {
            let err = prepare_in(dir.path(), false, args).expect_err("changes a branch");
            assert!(err.contains("may only read"), "{args:?}: {err}");
        }
    }

    #[test]
    fn a_relative_argument_through_a_link_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::os::unix::fs::symlink("/etc", dir.path().join("out")).expect("symlink");
        refused(
            dir.path(),
            true,
            &[
                (&["commit", "-F", "out/passwd"], "through a link"),
                (&["commit", "--file=out/passwd"], "through a link"),
                (&["clone", ".", "out/copy"], "through a link"),
                (&["init", "out"], "through a link"),
                (&["commit", "-Fout"], "through a link"),
                (&["commit", "-qFout"], "through a link"),
            ],
        );
        prepare_in(dir.path(), true, &["add", "inside/file"]).expect("inside");
    }
}
