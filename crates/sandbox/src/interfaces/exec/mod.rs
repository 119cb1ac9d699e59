//! `lord:plugin/exec`: a plugin runs a program it holds `exec(PROGRAM)`
//! for. The host resolved each granted program to one absolute path when
//! it made the grants ([`Program`]); a run names the program, never a
//! path, and the host starts exactly that file with no shell and no `PATH`
//! search, in a working folder inside the plugin's folders, with an
//! environment of granted variables only, under the call's deadline and
//! output budget (`child.rs`). For programs known to take paths (git:
//! `git.rs`, `repo.rs`) the arguments are checked too, since the program
//! runs with the user's own authority and would go wherever it is told.

mod child;
mod git;
mod place;
mod repo;

use lord_perf::Area;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;

use lord_manifest::{NetTarget, PermissionFamily};
use wasmtime::component::{HasSelf, Linker};

use super::HostInterface;
use crate::bindings::lord::plugin::exec;
use crate::capability::Grants;
use crate::session::StoreState;
use place::Folders;

pub(crate) const INTERFACE: HostInterface = HostInterface {
    name: "lord:plugin/exec",
    family: Some(PermissionFamily::Exec),
    add_to_linker,
};

fn add_to_linker(linker: &mut Linker<StoreState>) -> wasmtime::Result<()> {
    exec::add_to_linker::<_, HasSelf<StoreState>>(linker, |state| state)
}

/// A program granted by `exec(NAME)`, resolved to one file when it was
/// granted (at install) and recorded with the grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    /// The name the plugin asks for: `git`.
    pub name: String,
    /// The one file that runs: `/usr/bin/git`. Empty when no file was
    /// recorded for the grant (one made before lord recorded them, or a
    /// program not found when granted): every run is then refused.
    pub path: PathBuf,
}

impl Program {
    /// Whether the recorded file is still what was granted: there, a
    /// regular file (the path was resolved through its links when
    /// granted, so a link there now is something else) and executable.
    /// `Err` says what it is instead and how to grant it again.
    fn check(&self) -> Result<(), String> {
        use std::os::unix::fs::PermissionsExt as _;
        let name = &self.name;
        let again = "grant it again with `lord plugin regrant PLUGIN` (it shows the file \
                     it resolves to now)";
        if self.path.as_os_str().is_empty() {
            return Err(format!(
                "the program `{name}`: no file was recorded when `exec({name})` was granted \
                 (it was not found then, or was granted by an older lord); {again}"
            ));
        }
        let shown = self.path.display();
        let what = match std::fs::symlink_metadata(&self.path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => "is gone".to_owned(),
            Err(e) => format!("cannot be read ({e})"),
            Ok(meta) if meta.file_type().is_symlink() => "is now a link".to_owned(),
            Ok(meta) if !meta.is_file() => "is no longer a regular file".to_owned(),
            Ok(meta) if meta.permissions().mode() & 0o111 == 0 => {
                "is no longer executable".to_owned()
            }
            Ok(_) => return Ok(()),
        };
        Err(format!(
            "the program `{name}` granted as `{shown}`, which {what} (it was a regular \
             executable file when granted; lord never searches for another); {again}"
        ))
    }
}

/// What a plugin's runs may use, made once per instance from its grants.
#[derive(Debug, Default)]
pub(crate) struct ExecGrants {
    programs: Vec<Program>,
    folders: Folders,
    /// The granted variables and their values.
    env: Vec<(String, String)>,
    cwd: Option<String>,
    net: Vec<NetTarget>,
}

impl ExecGrants {
    pub(crate) fn new(grants: &Grants) -> Arc<Self> {
        // Nearly every plugin runs nothing: its instances copy nothing.
        if grants.programs.is_empty() {
            return Arc::default();
        }
        Arc::new(Self {
            programs: grants.programs.clone(),
            folders: Folders::new(&grants.preopens),
            env: grants.env.clone(),
            cwd: grants.cwd.clone(),
            net: grants.net.clone(),
        })
    }
}

impl exec::Host for StoreState {
    async fn run(
        &mut self,
        command: exec::Command,
    ) -> wasmtime::Result<Result<exec::Output, String>> {
        self.meter.enter(Area::Exec);
        let grants = Arc::clone(&self.exec);
        let budget = self.budget.clone();
        let plan = match plan(&grants, &command, &budget).await {
            Ok(plan) => plan,
            Err(Refused { access, needs }) => {
                self.deny(access.clone(), needs);
                return Ok(Err(format!("refused: {access}")));
            }
        };
        match child::run(plan, &self.budget).await {
            Ok(done) => Ok(Ok(exec::Output {
                status: done.status,
                stdout: done.stdout,
                stderr: done.stderr,
            })),
            // A trap: the call fails as over its output limit.
            Err(child::Ended::Budget(exceeded)) => Err(wasmtime::Error::new(exceeded)),
            Err(child::Ended::Failed(message)) => Ok(Err(message)),
        }
    }
}

/// A refused run: what was refused, and the permission that would allow
/// it when one could.
struct Refused {
    access: String,
    needs: Option<String>,
}

impl From<String> for Refused {
    fn from(access: String) -> Self {
        Self {
            access,
            needs: None,
        }
    }
}

/// Checks a run against the grants and makes it concrete.
async fn plan(
    grants: &ExecGrants,
    command: &exec::Command,
    budget: &crate::output::OutputBudget,
) -> Result<child::Plan, Refused> {
    let name = &command.program;
    let program = grants
        .programs
        .iter()
        .find(|p| &p.name == name)
        .ok_or_else(|| Refused {
            access: format!("the program `{name}`"),
            needs: Some(format!("exec({name})")),
        })?;
    program.check()?;
    let cwd_guest = match (&command.cwd, &grants.cwd) {
        (Some(cwd), base) => normal_guest(cwd, base.as_deref()),
        (None, Some(base)) => base.clone(),
        (None, None) => {
            return Err(format!(
                "running `{name}` without a working folder (the plugin has no granted folder \
                 to run it in)"
            )
            .into());
        }
    };
    let placed = grants
        .folders
        .place(&cwd_guest, None)
        .map_err(|e| format!("the working folder {e}"))?;
    if !placed.host.is_dir() {
        return Err(format!("the working folder `{cwd_guest}`, which is not a folder").into());
    }
    let is_git = name == "git";
    let mut env = child_env(grants, command, is_git)?;
    let mut args: Vec<String> = command.args.clone();
    if is_git {
        let folder = grants.folders.get(placed.folder);
        let where_ = git::Where {
            folders: &grants.folders,
            cwd_guest: &cwd_guest,
            writable: folder.writable,
            net: &grants.net,
            resolve: None,
            names: std::sync::Mutex::new(Vec::new()),
        };
        let prepared = git::prepare(&command.args, &where_)?;
        let root = grants.folders.real(placed.folder).unwrap_or(&placed.host);
        env.extend(git::safe_env(&where_, root, prepared.reading));
        // Only git's own `--version` needs no repository: the same word
        // after a subcommand is a pattern or a path (`git add -- --version`),
        // and that run reads the repository's configuration like any other.
        if prepared.args != ["--version"] {
            repo::check(
                &program.path,
                &placed.host,
                &env,
                &where_,
                &prepared,
                budget,
            )
            .await?;
        }
        // The addresses the URLs' names were checked at (the plugin's
        // and its configured remotes'), before the subcommand.
        args = git::pin_args(&where_).await?;
        if !args.is_empty() {
            repo::reads_resolve_list(&program.path, &placed.host, &env, budget).await?;
        }
        args.extend(prepared.args);
    }
    Ok(child::Plan {
        program: program.path.clone(),
        args: args.into_iter().map(OsString::from).collect(),
        cwd: placed.host,
        env,
        stdin: command.stdin.clone(),
        stream: matches!(command.output, exec::OutputMode::Stream),
    })
}

/// The program's environment: the granted variables, and those the plugin
/// sets, each of which it must hold a grant for.
fn child_env(
    grants: &ExecGrants,
    command: &exec::Command,
    is_git: bool,
) -> Result<Vec<(String, String)>, Refused> {
    let allowed = |name: &str| -> Result<(), Refused> {
        // The loader's variables load code into any program.
        if name.to_ascii_uppercase().starts_with("LD_") {
            return Err(format!(
                "the variable `{name}` for a program (it loads code into the program)"
            )
            .into());
        }
        if is_git {
            git::variable_allowed(name)?;
        }
        Ok(())
    };
    let mut env: Vec<(String, String)> = grants
        .env
        .iter()
        .filter(|(k, _)| allowed(k).is_ok())
        .cloned()
        .collect();
    for (key, value) in &command.env {
        if !grants.env.iter().any(|(k, _)| k == key) {
            return Err(Refused {
                access: format!("the environment variable `{key}` for `{}`", command.program),
                needs: Some(format!("env({key})")),
            });
        }
        allowed(key)?;
        // A proxy git is told of connects wherever it says and looks names
        // up itself, past every address check; the resolver's variables
        // make a granted name look up another (`LOCALDOMAIN` with
        // `RES_OPTIONS=ndots:5`). git uses the ones lord was started with,
        // if any, never ones the plugin names.
        let lower = key.to_ascii_lowercase();
        if is_git
            && (lower.ends_with("_proxy")
                || matches!(
                    lower.as_str(),
                    "localdomain" | "res_options" | "hostaliases"
                ))
        {
            return Err(format!(
                "the variable `{key}` set for git (it would choose where git's connections \
                 go, past the addresses lord checked; git uses the one lord was started with)"
            )
            .into());
        }
        env.retain(|(k, _)| k != key);
        env.push((key.clone(), value.clone()));
    }
    Ok(env)
}

/// A guest working folder made absolute against the plugin's own.
fn normal_guest(cwd: &str, base: Option<&str>) -> String {
    match (cwd.starts_with('/'), base) {
        (true, _) | (false, None) => cwd.to_owned(),
        (false, Some(base)) => format!("{base}/{cwd}"),
    }
}
