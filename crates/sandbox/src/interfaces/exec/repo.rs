//! Before each git run, the repository it will work on is checked with git
//! itself (under the same explicit configuration): where it really is, and
//! what its own configuration says.
//!
//! Why: git reads `.git/config` on every run, and whoever can write the
//! project (the plugin itself, with `fs-write($PROJECT)`) can put there a
//! key that runs a program
//! (`core.fsmonitor`, `core.sshCommand`, `diff.external`, a filter or merge
//! driver, an alias), reads outside the grants (`include.path`,
//! `core.worktree`, `commit.template`) or rewrites URLs (`url.*.insteadOf`).
//! Some of these can be overridden on the command line, not all, and new
//! ones come with new versions of git; so the repository's keys are held
//! to a list of keys known to be inert, and anything else refuses the run,
//! naming the key. The repository itself (its `.git` may be a file or a
//! link pointing anywhere) and its object store (`alternates`) must be
//! inside the plugin's folders.

use std::path::{Path, PathBuf};

use super::child::{self, Plan};
use super::git::{self, Where};
use crate::output::OutputBudget;

/// Keys a repository's own configuration may hold: `section.key` or, for
/// sections with subsections, `section.*.key`.
const INERT: &[&str] = &[
    "core.repositoryformatversion",
    "core.filemode",
    "core.bare",
    "core.logallrefupdates",
    "core.ignorecase",
    "core.precomposeunicode",
    "core.symlinks",
    "core.autocrlf",
    "core.eol",
    "core.safecrlf",
    "core.quotepath",
    "core.abbrev",
    "core.compression",
    "core.checkstat",
    "core.trustctime",
    "core.sparsecheckout",
    "core.sparsecheckoutcone",
    "core.commentchar",
    "core.whitespace",
    "core.preloadindex",
    "core.untrackedcache",
    "core.splitindex",
    "core.multipackindex",
    "core.commitgraph",
    "extensions.objectformat",
    "extensions.refstorage",
    "remote.*.url",
    "remote.*.pushurl",
    "remote.*.fetch",
    "remote.*.push",
    "remote.*.tagopt",
    "remote.*.prune",
    "remote.*.mirror",
    "branch.*.remote",
    "branch.*.merge",
    "branch.*.rebase",
    "branch.*.pushremote",
    "branch.*.description",
    "user.name",
    "user.email",
    "author.name",
    "author.email",
    "committer.name",
    "committer.email",
    "init.defaultbranch",
    "pull.rebase",
    "pull.ff",
    "push.default",
    "push.autosetupremote",
    "fetch.prune",
    "fetch.prunetags",
    "merge.ff",
    "merge.conflictstyle",
    "diff.renames",
    "diff.algorithm",
    "diff.context",
    "status.showuntrackedfiles",
    "status.branch",
    "status.short",
    "log.date",
    "log.decorate",
    "color.ui",
    "advice.*",
    "index.version",
    "pack.threads",
    "gc.auto",
    "rerere.enabled",
];

/// Checks the repository `git` would work on in `cwd`, if there is one,
/// and every local repository the run reaches as its other side: those
/// the arguments name (`run.others`) and, for a run that reaches remotes,
/// those the configuration names. A push to a local repository is refused
/// (see `git.rs`).
pub(super) async fn check(
    git_path: &Path,
    cwd: &Path,
    env: &[(String, String)],
    where_: &Where<'_>,
    run: &git::Prepared,
    budget: &OutputBudget,
) -> Result<(), String> {
    let (dirs, config) = inspect(git_path, cwd, env, where_, budget)
        .await?
        .unwrap_or_default();
    let mut others = run.others.clone();
    if run.network {
        // The top of the work tree: git moves there before it connects, so
        // a relative remote is read from there as well as from `cwd`.
        let top = dirs.last().and_then(|common| common.parent());
        let bases: Vec<&Path> = std::iter::once(cwd).chain(top).collect();
        // The arguments `git.rs` placed from the working folder, read
        // again from the top, as git reads them.
        if let Some(top) = top.filter(|top| *top != cwd) {
            for arg in &run.relative {
                let path = top.join(arg);
                if !where_.folders.contains_host(&path) {
                    return Err(format!(
                        "git's argument `{arg}`, which git reads from the top of the work tree \
                         ({}), where it leads outside the plugin's folders",
                        top.display()
                    ));
                }
                let found = git::repository_candidates(&path);
                if run.push.is_some() && !found.is_empty() {
                    return Err(git::pushing_locally(arg));
                }
                others.extend(found);
            }
        }
        // A branch's remote that names no configured remote is itself a
        // URL or a path (`branch.main.pushremote=.`), checked as one.
        let named: Vec<&str> = config
            .iter()
            .filter_map(|(key, _)| key.strip_prefix("remote.")?.strip_suffix(".url"))
            .collect();
        for (key, value) in &config {
            let remote = key.strip_prefix("remote.").and_then(|k| {
                k.strip_suffix(".url")
                    .or_else(|| k.strip_suffix(".pushurl"))
            });
            let branch = key
                .strip_prefix("branch.")
                .filter(|k| k.ends_with(".remote") || k.ends_with(".pushremote"));
            let name = match (remote, branch) {
                (Some(name), _) => name,
                (None, Some(_)) if named.contains(&value.as_str()) => {
                    continue;
                }
                (None, Some(_)) => value.as_str(),
                (None, None) => continue,
            };
            let local = git::configured_remote(value, &bases, where_)
                .map_err(|e| format!("{e}, from `{key}` in the repository's configuration"))?;
            let found: Vec<PathBuf> = local
                .iter()
                .flat_map(|path| git::repository_candidates(path))
                .collect();
            if found.is_empty() {
                continue;
            }
            // A push names its remote, or git picks a configured one
            // (`branch.*.pushremote`, `origin`): then any local one is
            // refused, since lord does not work out which git would pick.
            if let Some(target) = &run.push
                && target
                    .as_deref()
                    .is_none_or(|t| t.eq_ignore_ascii_case(name))
            {
                return Err(git::pushing_locally(value));
            }
            others.extend(found);
        }
    }
    for other in others {
        // Exactly that repository, as git's transport opens it: no search
        // upwards, a `.git` file followed.
        let mut env = env.to_vec();
        env.push(("GIT_DIR".to_owned(), other.to_string_lossy().into_owned()));
        let here = other.parent().unwrap_or(cwd);
        inspect(git_path, here, &env, where_, budget).await?;
    }
    Ok(())
}

/// The repository git finds from `cwd` (with `env`): its folder and common
/// folder, each checked to be inside the plugin's folders and to borrow no
/// objects, and its own configuration (`local` and `worktree` scopes), each
/// key checked to be inert, as git prints it, with its value. `None` when
/// there is no repository there.
async fn inspect(
    git_path: &Path,
    cwd: &Path,
    env: &[(String, String)],
    where_: &Where<'_>,
    budget: &OutputBudget,
) -> Result<Option<(Vec<PathBuf>, Vec<(String, String)>)>, String> {
    let location = ask(
        git_path,
        cwd,
        env,
        &[
            "rev-parse",
            "--path-format=absolute",
            "--git-dir",
            "--git-common-dir",
        ],
        budget,
    )
    .await?;
    let Some(location) = location else {
        // Not a repository: the run itself will say so (or make one).
        return Ok(None);
    };
    let mut dirs = Vec::new();
    for line in location.lines() {
        let dir = PathBuf::from(line);
        if !where_.folders.contains_host(&dir) {
            return Err(format!(
                "the repository at `{line}`, outside the plugin's folders (a `.git` file or \
                 `commondir` leads there)"
            ));
        }
        for file in ["objects/info/alternates", "objects/info/http-alternates"] {
            if dir.join(file).exists() {
                return Err(format!(
                    "a repository whose `{file}` borrows objects from elsewhere"
                ));
            }
        }
        // Remotes in the old forms git still reads, which `git config`
        // does not list and so would go unchecked.
        for folder in ["remotes", "branches"] {
            let holds_any = std::fs::read_dir(dir.join(folder))
                .is_ok_and(|mut entries| entries.next().is_some());
            if holds_any {
                return Err(format!(
                    "a repository with remotes in `{folder}/` (an old form git still reads, \
                     which lord does not check; define them with `git remote add` and empty \
                     `{}`)",
                    dir.join(folder).display()
                ));
            }
        }
        dirs.push(dir);
    }
    let listed = ask(
        git_path,
        cwd,
        env,
        &["config", "--list", "--show-scope", "-z"],
        budget,
    )
    .await?
    .unwrap_or_default();
    let mut config = Vec::new();
    for entry in listed.split('\0').collect::<Vec<_>>().chunks(2) {
        let [scope, item] = entry else { continue };
        if !matches!(*scope, "local" | "worktree") {
            continue;
        }
        let (key, value) = item.split_once('\n').unwrap_or((item, ""));
        // git prints a key's section and name lowercased and its
        // subsection (a remote's name) as written: remote names are
        // matched exactly, as git matches them.
        let key = key.to_owned();
        if !inert(&key.to_ascii_lowercase()) {
            return Err(format!(
                "git in a repository whose configuration sets `{key}`: it can make git run a \
                 program or reach outside the plugin's folders, so lord runs no git there \
                 (if you did not set it, remove it with `git config --unset {key}`)"
            ));
        }
        config.push((key, value.to_owned()));
    }
    Ok(Some((dirs, config)))
}

fn inert(key: &str) -> bool {
    let parts: Vec<&str> = key.split('.').collect();
    INERT.iter().any(|pattern| {
        let want: Vec<&str> = pattern.split('.').collect();
        match (want.as_slice(), parts.as_slice()) {
            ([section, "*"], [s, ..]) => section == s,
            ([section, name], [s, n]) => section == s && name == n,
            ([section, "*", name], [s, .., n]) if parts.len() >= 3 => section == s && name == n,
            _ => false,
        }
    })
}

/// The first git that reads `http.curloptResolve` (older ones ignore the
/// key without a word, and would look the names up themselves).
const RESOLVE_SINCE: (u32, u32) = (2, 37);

/// The git files (path and modification time) found new enough, so each
/// is asked once per process.
static RESOLVING: std::sync::Mutex<Vec<(PathBuf, Option<std::time::SystemTime>)>> =
    std::sync::Mutex::new(Vec::new());

/// Checks that the git at `git_path` reads `http.curloptResolve`, which a
/// run reaching an http(s) host name relies on to connect only to the
/// addresses checked: asked once per git file (`git --version`).
pub(super) async fn reads_resolve_list(
    git_path: &Path,
    cwd: &Path,
    env: &[(String, String)],
    budget: &OutputBudget,
) -> Result<(), String> {
    let stamp = std::fs::metadata(git_path).and_then(|m| m.modified()).ok();
    let key = (git_path.to_path_buf(), stamp);
    let known = |key: &(PathBuf, Option<std::time::SystemTime>)| {
        RESOLVING
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(key)
    };
    if known(&key) {
        return Ok(());
    }
    let said = ask(git_path, cwd, env, &["--version"], budget)
        .await?
        .unwrap_or_default();
    match git_version(&said) {
        Some(version) if version >= RESOLVE_SINCE => {
            if !known(&key) {
                RESOLVING
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(key);
            }
            Ok(())
        }
        found => Err(format!(
            "a git run reaching a host name with {} ({}), which ignores \
             `http.curloptResolve` and so would look the name up again, past the addresses the \
             grant reaches; it needs git {}.{} or later",
            git_path.display(),
            match found {
                Some((major, minor)) => format!("git {major}.{minor}"),
                None => format!("`--version` said {:?}", said.trim()),
            },
            RESOLVE_SINCE.0,
            RESOLVE_SINCE.1,
        )),
    }
}

/// The major and minor version in what `git --version` prints (`git
/// version 2.39.2`, `git version 2.45.0.windows.1`).
fn git_version(said: &str) -> Option<(u32, u32)> {
    let number = said.trim().strip_prefix("git version ")?;
    let mut parts = number.split(['.', ' ']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// Runs one inspecting git command; `None` when git said no (not a
/// repository).
async fn ask(
    git_path: &Path,
    cwd: &Path,
    env: &[(String, String)],
    args: &[&str],
    budget: &OutputBudget,
) -> Result<Option<String>, String> {
    let mut full: Vec<std::ffi::OsString> =
        git::override_args().into_iter().map(Into::into).collect();
    full.extend(args.iter().map(Into::into));
    let plan = Plan {
        program: git_path.to_path_buf(),
        args: full,
        cwd: cwd.to_path_buf(),
        env: env.to_vec(),
        stdin: Vec::new(),
        stream: false,
    };
    // What the checks read counts against the call like the run itself.
    match child::run(plan, budget).await {
        Ok(done) if done.status == Some(0) => {
            Ok(Some(String::from_utf8_lossy(&done.stdout).into_owned()))
        }
        Ok(_) => Ok(None),
        Err(child::Ended::Budget(_)) => Err(format!(
            "what `git {}` printed, over the output budget",
            args.join(" ")
        )),
        Err(child::Ended::Failed(message)) => Err(message),
    }
}

#[cfg(test)]
mod tests {
    use super::{git_version, inert, reads_resolve_list};
    use crate::output::OutputBudget;

    #[test]
    fn git_versions_are_read_as_git_prints_them() {
        assert_eq!(git_version("git version 2.47.3\n"), Some((2, 47)));
        assert_eq!(git_version("git version 2.45.0.windows.1"), Some((2, 45)));
        assert_eq!(
            git_version("git version 2.39.2 (Apple Git-143)"),
            Some((2, 39))
        );
        assert_eq!(git_version("git version 3.0"), Some((3, 0)));
        assert_eq!(git_version("hub version 2.14.2"), None);
        assert_eq!(git_version(""), None);
    }

    /// A git too old to read curl's resolve list is refused for a run
    /// that needs one, naming the version and the one it needs; this
    /// machine's own git passes.
    #[test]
    fn a_git_that_ignores_the_resolve_list_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let old = dir.path().join("git");
        std::fs::write(&old, "#!/bin/sh\necho 'git version 2.36.6'\n").expect("write");
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let budget = OutputBudget::new(1 << 20);
        let err = runtime
            .block_on(reads_resolve_list(&old, dir.path(), &[], &budget))
            .expect_err("git 2.36");
        assert!(
            err.contains("git 2.36") && err.contains("2.37 or later"),
            "{err}"
        );
        let real = which_git();
        runtime
            .block_on(reads_resolve_list(&real, dir.path(), &[], &budget))
            .expect("this machine's git reads the list");
    }

    fn which_git() -> std::path::PathBuf {
        // Where Debian and most systems install it (CI installs git).
        ["/usr/bin/git", "/usr/local/bin/git", "/bin/git"]
            .into_iter()
            .map(std::path::PathBuf::from)
            .find(|path| path.is_file())
            .expect("git installed")
    }

    #[test]
    fn only_known_keys_are_inert() {
        for key in [
            "core.bare",
            "remote.origin.url",
            "remote.a.b.url",
            "advice.detachedhead",
            "user.name",
        ] {
            assert!(inert(key), "{key}");
        }
        for key in [
            "core.fsmonitor",
            "core.hookspath",
            "core.sshcommand",
            "core.worktree",
            "alias.st",
            "include.path",
            "includeif.gitdir:/x.path",
            "url.ext::sh.insteadof",
            "filter.lfs.process",
            "diff.external",
            "diff.x.textconv",
            "remote.origin.uploadpack",
            "commit.template",
            "credential.helper",
        ] {
            assert!(!inert(key), "{key}");
        }
    }
}
