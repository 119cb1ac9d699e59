//! Asking the user to grant what a plugin requests, in one place: every
//! install and update shows the same plan and asks the same way. Without
//! `--yes`, lord asks on a terminal and refuses (naming `--yes`) when
//! standard input is not one, since no one could answer.

use std::io::BufRead as _;

use anyhow::{Context as _, Result, bail};
use lord_host::{HostError, InstallPlan, PermissionDiff};
use lord_manifest::{Permission, PluginId};

use crate::cli::UsageError;
use crate::context::Context;
use crate::render::{self, Output};

/// What the user is asked to grant; it decides the question, the refusal
/// when no one can answer, and the error when the answer is no.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Subject<'a> {
    /// One plugin from a folder or a package file.
    Plugin(&'a PluginId),
    /// A plugin from the registry, with the dependencies shown with it.
    Request(&'a PluginId),
    /// Everything the project's lord.toml requires.
    Project,
    /// An update that asks for permissions its build was not granted.
    Update(&'a PluginId),
    /// A `lord dev` build that asks for permissions the last build was
    /// not granted.
    Rebuild(&'a PluginId),
    /// A plugin's `exec` programs recorded again as they resolve now.
    Regrant(&'a PluginId),
    /// A return to the version kept for rollback, because a staged rollout
    /// withdrew the installed one.
    Retreat(&'a PluginId),
    /// An update signed by another key than the installed build.
    Signer(&'a PluginId),
}

impl Subject<'_> {
    fn question(self) -> &'static str {
        match self {
            Self::Plugin(_) | Self::Request(_) | Self::Project => {
                "Grant these permissions and install? [y/N] "
            }
            Self::Update(_) => "Grant these and update? [y/N] ",
            Self::Rebuild(_) => "Grant these and swap in the new build? [y/N] ",
            Self::Regrant(_) => "Grant these programs? [y/N] ",
            Self::Retreat(_) => "Roll back to it? [y/N] ",
            Self::Signer(_) => "Take the build signed by the new key? [y/N] ",
        }
    }

    fn refusal(self) -> String {
        match self {
            Self::Plugin(id) => format!(
                "not installing `{id}`: standard input is not a terminal, so lord cannot ask \
                 you to grant its permissions; rerun with --yes to grant them"
            ),
            Self::Request(id) => format!(
                "not installing `{id}`: standard input is not a terminal, so lord cannot ask \
                 you to grant the permissions above; rerun with --yes to grant them"
            ),
            Self::Project => "not installing: standard input is not a terminal, so lord cannot \
                              ask you to grant the permissions above; rerun with --yes to grant \
                              them"
                .to_owned(),
            Self::Update(id) => format!(
                "not updating `{id}`: it asks for new permissions and standard input is not a \
                 terminal; rerun with --yes to grant them"
            ),
            Self::Rebuild(id) => format!(
                "not swapping in the new build of `{id}`: it asks for new permissions and \
                 standard input is not a terminal; the last build stays installed; rerun with \
                 --yes to grant them"
            ),
            Self::Regrant(id) => format!(
                "not granting `{id}`'s programs again: standard input is not a terminal, so \
                 lord cannot ask you; rerun with --yes to grant them"
            ),
            Self::Retreat(id) => format!(
                "not rolling `{id}` back: standard input is not a terminal, so lord cannot ask \
                 you; rerun with --yes to roll it back"
            ),
            Self::Signer(id) => format!(
                "not updating `{id}`: its new build is signed by another key and standard input \
                 is not a terminal; once its publisher confirms the key, rerun with \
                 --allow-new-signer"
            ),
        }
    }

    fn denied(self) -> anyhow::Error {
        match self {
            Self::Plugin(id)
            | Self::Request(id)
            | Self::Update(id)
            | Self::Rebuild(id)
            | Self::Regrant(id)
            | Self::Retreat(id)
            | Self::Signer(id) => HostError::ConsentDenied(id.clone()).into(),
            Self::Project => UsageError("nothing installed".to_owned()).into(),
        }
    }
}

/// Shows plans and asks for consent to them.
pub(crate) struct Consent<'a> {
    out: &'a Output,
    /// `--yes`: granted without asking.
    yes: bool,
    can_ask: bool,
    /// lord's own environment, to show which file each `exec(PROGRAM)`
    /// would run (the same lookup the host makes when it grants it).
    env: &'a [(String, String)],
}

impl<'a> Consent<'a> {
    pub(crate) fn new(ctx: &'a Context, out: &'a Output, yes: bool) -> Self {
        Self {
            out,
            yes,
            can_ask: ctx.terminal.stdin,
            env: &ctx.env,
        }
    }

    /// Whether `--yes` granted everything in advance.
    pub(crate) fn given(&self) -> bool {
        self.yes
    }

    /// What installing `plan` would grant.
    pub(crate) fn show(&self, plan: &InstallPlan) {
        self.out
            .status_text(&render::install_plan(plan, self.out.paints_stderr()));
        // The files the plan resolved are the ones the install records.
        let programs: Vec<(String, Option<std::path::PathBuf>)> = plan
            .permissions
            .iter()
            .filter_map(|p| {
                let Permission::Exec(name) = p else {
                    return None;
                };
                let path = plan.programs.iter().find(|r| &r.name == name);
                Some((name.clone(), path.map(|r| r.path.clone())))
            })
            .collect();
        if !programs.is_empty() {
            self.out.status_text(&render::programs(&programs));
        }
    }

    /// What an update would drop and add.
    pub(crate) fn show_changes(&self, diff: &PermissionDiff) {
        self.out.status_text(&render::permission_changes(diff));
        self.show_programs(&diff.added);
    }

    /// Which file each granted program is, and what running it means.
    fn show_programs(&self, permissions: &[Permission]) {
        let programs: Vec<(String, Option<std::path::PathBuf>)> = permissions
            .iter()
            .filter_map(|p| {
                let Permission::Exec(name) = p else {
                    return None;
                };
                Some((name.clone(), lord_host::resolve_program(name, self.env)))
            })
            .collect();
        if !programs.is_empty() {
            self.out.status_text(&render::programs(&programs));
        }
    }

    /// Which file each program would be recorded as, before a re-grant.
    pub(crate) fn show_regrant(&self, programs: &[(String, Option<std::path::PathBuf>)]) {
        self.out.status_text(&render::programs(programs));
    }

    /// Asks once for what was shown. `Ok` means granted.
    pub(crate) fn obtain(&self, subject: Subject<'_>) -> Result<()> {
        if self.yes {
            return Ok(());
        }
        self.ask(subject)
    }

    /// Asks whatever `--yes` said: for what `--yes` does not cover.
    pub(crate) fn ask(&self, subject: Subject<'_>) -> Result<()> {
        if !self.can_ask {
            bail!(UsageError(subject.refusal()));
        }
        self.out.prompt(subject.question())?;
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("could not read the answer")?;
        if matches!(line.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
            Ok(())
        } else {
            Err(subject.denied())
        }
    }
}
