//! The command tree: lord's own commands (clap derive) plus one subcommand
//! per plugin command, built from the store's command table alone. No plugin
//! is loaded to build `--help`.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Arg, ArgAction, ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};
use lord_host::{CommandRecord, Framework, PluginState, ProviderCommand};
use lord_manifest::PluginId;

use crate::commands;
use crate::context::Context;
use crate::render::{Output, foreign};

/// A mistake in how lord was invoked (exit code 2).
#[derive(Debug)]
pub(crate) struct UsageError(pub(crate) String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// lord: a command-line toolkit whose features come from sandboxed plugins.
#[derive(Debug, Parser)]
#[command(name = "lord", version, propagate_version = true)]
#[command(
    after_help = "Plugin commands run in a WebAssembly sandbox with only the permissions you granted.\nState lives in $LORD_HOME."
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) globals: Globals,
    #[command(subcommand)]
    pub(crate) command: Builtin,
}

/// The options every command takes, before or after its name.
#[derive(Debug, clap::Args)]
pub(crate) struct Globals {
    /// Use a configuration profile (`[profile.NAME]`; also LORD_PROFILE).
    #[arg(long, global = true, value_name = "NAME")]
    pub(crate) profile: Option<String>,
    /// Set a configuration value for this run only (repeatable).
    #[arg(long = "set", global = true, value_name = "KEY=VALUE")]
    pub(crate) set: Vec<String>,
    /// Let plugin output reach the terminal as written, control sequences
    /// and all (also `output.raw`, or `output.raw-plugins` per plugin).
    #[arg(long, global = true)]
    pub(crate) raw: bool,
    /// Show more: log records down to `debug`, plugins' and lord's own
    /// (over `log.level`).
    #[arg(long, short = 'v', global = true, conflicts_with = "quiet")]
    pub(crate) verbose: bool,
    /// Show less: only errors; plugins' log records below `error` and
    /// lord's status lines and notes are left out.
    #[arg(long, short = 'q', global = true)]
    pub(crate) quiet: bool,
}

/// The tree for running one plugin command: the global options and that
/// command alone. It parses the command's arguments exactly as the whole
/// tree would (same subcommand, same global options), without building
/// lord's own commands, which a one-shot plugin command never uses.
#[derive(Debug, Parser)]
#[command(name = "lord", version, propagate_version = true)]
struct OneCommand {
    #[command(flatten)]
    globals: Globals,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Builtin {
    /// Install, inspect, enable, disable and remove plugins.
    #[command(subcommand)]
    Plugin(commands::plugin::PluginCommand),
    /// Run a pipeline of micro-plugins over standard input.
    Pipe(commands::pipe::PipeArgs),
    /// List the micro-plugins pipelines can use.
    #[command(subcommand)]
    Micro(commands::micro::MicroCommand),
    /// Build a plugin and swap it in, again on every change to its sources.
    Dev(commands::dev::DevArgs),
    /// Show and replay persisted events (lord's own and plugins' global ones).
    #[command(subcommand)]
    Events(commands::events::EventsCommand),
    /// Store secrets for plugins granted `secret(NAME)` (encrypted at rest).
    #[command(subcommand)]
    Secret(commands::secret::SecretCommand),
    /// The result cache of commands and micro handlers declared `pure`.
    #[command(subcommand)]
    Cache(commands::cache::CacheCommand),
    /// Watch the system: the terminal dashboard (no subcommand),
    /// snapshots, streams and Prometheus metrics.
    Monitor(commands::monitor::MonitorArgs),
    /// Ask AI models: prompts, chat sessions, logs, templates, A/B tests
    /// and prices, through configured profiles.
    #[command(subcommand)]
    Ai(commands::ai::AiCommand),
    /// Databases: named profiles (passwords only in `lord secret`), ping,
    /// queries for scripts, catalogues and versioned migrations.
    #[command(subcommand)]
    Db(commands::db::DbCommand),
    /// The hash-chained audit trail: verify it, report it, export it for
    /// a SIEM or syslog.
    #[command(subcommand)]
    Audit(commands::audit::AuditCommand),
    /// Governance policies (Cedar): list them, check them, and ask what
    /// they decide for a plugin and an action.
    #[command(subcommand)]
    Policy(commands::policy::PolicyCommand),
    /// Alert rules: list them with their state, test their channels,
    /// silence them.
    #[command(subcommand)]
    Alert(commands::alert::AlertCommand),
    /// Local usage analytics: calls, errors, latency, predictions,
    /// anomalies and ecosystem health (nothing leaves this machine).
    #[command(subcommand)]
    Analytics(commands::analytics::AnalyticsCommand),
    /// Show, check and change the layered configuration.
    #[command(subcommand)]
    Config(commands::config::ConfigCommand),
    /// Show the session's global state and recent command history.
    #[command(subcommand)]
    State(commands::state::StateCommand),
    /// Scan packages, plugin folders or installed plugins for security
    /// problems: undeclared imports, secrets, known advisories, licences.
    /// Exit 1 on findings at --fail-on or worse, 2 when one cannot be
    /// scanned.
    Scan(commands::scan::ScanArgs),
    /// Make and share the ed25519 keys that sign packages, and choose whose
    /// signatures to trust.
    #[command(subcommand)]
    Key(commands::key::KeyCommand),
    /// Plugin development kit: pack, sign and publish plugin packages.
    #[command(subcommand)]
    Pdk(commands::pdk::PdkCommand),
    /// Install the plugins lord.toml's [requires] lists, as lord.lock pins
    /// them (writing the lock when it is missing or out of date).
    Install(commands::install::InstallArgs),
    /// Run a plugin registry and manage its tokens.
    #[command(subcommand)]
    Registry(commands::registry::RegistryCommand),
    /// Approval of plugin versions on a registry: submit one, review a
    /// request's current step, see where requests stand.
    #[command(subcommand)]
    Approval(commands::approval::ApprovalCommand),
    /// Staged rollouts of a plugin version across machines: start one,
    /// see where it stands, promote it, abort it.
    #[command(subcommand)]
    Rollout(commands::rollout::RolloutCommand),
    /// Update lord itself from a registry's signed releases, or roll back.
    #[command(subcommand, name = "self")]
    Myself(commands::self_update::SelfCommand),
    /// Print a shell completion script: lord's commands and the installed
    /// plugins' commands.
    Completions(commands::completions::CompletionsArgs),
    /// Print lord's man page (roff) to standard output.
    Man(commands::man::ManArgs),
}

/// The whole command tree and what it was built from.
pub(crate) struct Tree {
    pub(crate) command: clap::Command,
    /// Installed plugins' commands, one subcommand each.
    pub(crate) plugin_commands: Vec<CommandRecord>,
    /// First-party providers' commands: provider id, command, enabled.
    pub(crate) provided: Vec<(PluginId, ProviderCommand, bool)>,
}

/// lord's own commands plus one subcommand per installed plugin command,
/// from the store's command table alone (no plugin is loaded). `--help`,
/// the shell completions and the man page all come from this tree.
pub(crate) fn command_tree(framework: &Framework) -> Result<Tree> {
    command_tree_with(framework, framework.commands()?)
}

fn command_tree_with(framework: &Framework, plugin_commands: Vec<CommandRecord>) -> Result<Tree> {
    let provided = framework.provider_commands()?;
    let mut command = Cli::command();
    // A disabled provider's commands leave the help; running one says why.
    for (_, spec, enabled) in &provided {
        if !enabled {
            command = command.mut_subcommand(spec.name, |c| c.hide(true));
        }
    }
    for record in &plugin_commands {
        command = command.subcommand(plugin_subcommand(record));
    }
    Ok(Tree {
        command,
        plugin_commands,
        provided,
    })
}

/// Builds the full command tree, parses argv and runs what it names.
pub(crate) async fn dispatch(ctx: &Context, out: &Output) -> Result<ExitCode> {
    // A first word that is not one of lord's own commands names a plugin
    // command (or nothing): the engine then begins starting now, beside
    // the opening of the store.
    if asks_only_version(&ctx.argv) {
        // lord's own version names nothing in the home: no store is opened
        // (or created) for it. clap answers as the whole tree would.
        if let Err(e) = OneCommand::command()
            .color(out.clap_color())
            .try_get_matches_from(&ctx.argv)
        {
            out.clap(&e)?;
            return Ok(ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2)));
        }
    }
    let word = command_word(&ctx.argv);
    let mut framework = match word {
        Some(word) if !Builtin::has_subcommand(word) && word != "help" => {
            Framework::open_starting_engine(ctx.host_config())?
        }
        Some(_) | None => Framework::open(ctx.host_config())?,
    }
    // Plugins' `lord:plugin/sql` calls share the pools `lord db` uses.
    .with_db_connector(std::sync::Arc::new(lord_db::Connector));
    let plugin_commands = framework.commands()?;
    let named = word
        .and_then(|word| plugin_commands.iter().find(|r| r.name == word))
        .cloned();
    let Tree {
        command,
        plugin_commands,
        provided,
    } = match named {
        // A plugin command: its plugin loads on the engine's thread while
        // this one parses, and only that command's tree is built.
        Some(record) => {
            framework.warm_up_for(&record.name)?;
            Tree {
                command: OneCommand::command().subcommand(plugin_subcommand(&record)),
                plugin_commands: vec![record],
                provided: Vec::new(),
            }
        }
        None => command_tree_with(&framework, plugin_commands)?,
    };
    let matches = match command
        .color(out.clap_color())
        .try_get_matches_from(&ctx.argv)
    {
        Ok(m) => m,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to
            // stderr (exit 2).
            out.clap(&e)?;
            return Ok(ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2)));
        }
    };
    framework.configure(
        matches.get_one::<String>("profile").cloned(),
        matches
            .get_many::<String>("set")
            .map(|v| v.cloned().collect())
            .unwrap_or_default(),
    );
    let verbosity = verbosity(&matches, &framework);
    let out = &out.with_verbosity(verbosity.0, verbosity.1);
    if let Some((name, sub)) = matches.subcommand()
        && let Some(record) = plugin_commands.iter().find(|r| r.name == name)
    {
        crate::updates::notice(ctx, out);
        let raw = matches.get_flag("raw");
        let code = commands::run::run(out, &mut framework, record, sub, raw).await;
        flush_events(out, &framework);
        crate::usage::maybe_send(ctx, &framework);
        framework.close_for_exit();
        return code;
    }
    if let Some((name, _)) = matches.subcommand()
        && let Some((provider, _, _)) = provided.iter().find(|(_, c, on)| c.name == name && !on)
    {
        return Err(UsageError(format!(
            "`lord {name}` comes from the provider `{provider}`, which is disabled; enable it \
             with `lord plugin enable {provider}`"
        ))
        .into());
    }
    let cli = Cli::from_arg_matches(&matches).map_err(|e| UsageError(e.to_string()))?;
    crate::updates::notice(ctx, out);
    let raw = cli.globals.raw;
    let code = run_builtin(ctx, out, &mut framework, cli.command, raw).await;
    // A pipeline's micro handlers may have been refused by their quotas:
    // judged now, as a plugin command's refusals are after it.
    match framework.judge_throttles().await {
        Ok(disabled) => {
            for id in disabled {
                out.warning(format_args!(
                    "`{id}` was disabled: it kept going over its quotas (`lord plugin info {id}` \
                     says which)"
                ));
            }
        }
        Err(e) => out.warning(format_args!("could not record quota refusals: {e}")),
    }
    flush_events(out, &framework);
    // The configuration is read only when a check is due (once a day).
    crate::updates::maybe_check(ctx, || {
        framework
            .settings()
            .ok()
            .and_then(|c| c.get("registry.url"))
            .is_some()
    });
    crate::usage::maybe_send(ctx, &framework);
    framework.close_for_exit();
    code
}

/// Which log records to show, and whether to leave status lines out:
/// `--quiet` (errors only), `--verbose` (from `debug`), else `log.level`.
fn verbosity(matches: &clap::ArgMatches, framework: &Framework) -> (lord_host::LogLevel, bool) {
    if matches.get_flag("quiet") {
        return (lord_host::LogLevel::Error, true);
    }
    if matches.get_flag("verbose") {
        return (lord_host::LogLevel::Debug, false);
    }
    // A configuration that cannot be read is reported by whatever needs
    // it; the default level stands meanwhile.
    let level = framework
        .settings()
        .ok()
        .and_then(|c| c.get("log.level"))
        .and_then(|v| v.as_str().and_then(crate::render::log_level));
    (level.unwrap_or(lord_host::LogLevel::Warn), false)
}

/// Whether the command line is `lord --version` (or `-V`) and nothing
/// else, which needs neither the store nor the plugin commands.
fn asks_only_version(argv: &[std::ffi::OsString]) -> bool {
    matches!(argv, [_, flag] if flag == "--version" || flag == "-V")
}

/// The first word of the command line when everything before it is a
/// global option (`--raw`, `--profile NAME`, `--set KEY=VALUE`): the name
/// of the command to run. `None` for anything else (`--help`, `-V`, no
/// command), which the whole tree answers.
fn command_word(argv: &[std::ffi::OsString]) -> Option<&str> {
    let mut args = argv.iter().skip(1);
    while let Some(arg) = args.next() {
        let arg = arg.to_str()?;
        match arg {
            "--raw" | "--verbose" | "-v" | "--quiet" | "-q" => {}
            "--profile" | "--set" => {
                args.next()?;
            }
            _ if arg.starts_with("--profile=") || arg.starts_with("--set=") => {}
            _ if arg.starts_with('-') => return None,
            word => return Some(word),
        }
    }
    None
}

/// Writes the events this run queued; a failure is worth a warning, not a
/// failed command.
fn flush_events(out: &Output, framework: &Framework) {
    // Warnings of `warn` policies, shown once what they warned of is done.
    for warning in framework.take_policy_warnings() {
        out.warning(warning);
    }
    if let Err(e) = framework.flush_events() {
        out.warning(format_args!("this run's events were not recorded: {e}"));
    }
}

/// Runs a builtin; `raw` is `--raw`, which the builtins that print plugin
/// output (`pipe`) honour.
async fn run_builtin(
    ctx: &Context,
    out: &Output,
    framework: &mut Framework,
    command: Builtin,
    raw: bool,
) -> Result<ExitCode> {
    match command {
        Builtin::Plugin(cmd) => commands::plugin::run(ctx, out, framework, cmd).await,
        Builtin::Pipe(args) => commands::pipe::run(ctx, out, framework, args, raw).await,
        Builtin::Micro(cmd) => commands::micro::run(out, framework, cmd),
        Builtin::Dev(args) => commands::dev::run(ctx, out, framework, args).await,
        Builtin::Events(cmd) => commands::events::run(out, framework, cmd).await,
        Builtin::Secret(cmd) => commands::secret::run(ctx, out, framework, cmd),
        Builtin::Cache(cmd) => commands::cache::run(out, framework, cmd),
        Builtin::Monitor(cmd) => commands::monitor::run(ctx, out, framework, cmd).await,
        Builtin::Ai(cmd) => commands::ai::run(ctx, out, framework, cmd).await,
        Builtin::Db(cmd) => commands::db::run(ctx, out, framework, cmd).await,
        Builtin::Audit(cmd) => commands::audit::run(out, framework, cmd),
        Builtin::Policy(cmd) => commands::policy::run(out, framework, cmd).await,
        Builtin::Alert(cmd) => commands::alert::run(ctx, out, framework, cmd).await,
        Builtin::Analytics(cmd) => commands::analytics::run(out, framework, cmd),
        Builtin::Config(cmd) => commands::config::run(out, framework, cmd).await,
        Builtin::State(cmd) => commands::state::run(out, framework, cmd),
        Builtin::Key(cmd) => commands::key::run(ctx, out, cmd),
        Builtin::Scan(args) => commands::scan::run(ctx, out, framework, args).await,
        Builtin::Pdk(cmd) => commands::pdk::run(ctx, out, framework, cmd).await,
        Builtin::Registry(cmd) => commands::registry::run(ctx, out, framework, cmd).await,
        Builtin::Rollout(cmd) => commands::rollout::run(ctx, out, framework, cmd).await,
        Builtin::Approval(cmd) => commands::approval::run(ctx, out, framework, cmd).await,
        Builtin::Myself(cmd) => commands::self_update::run(ctx, out, framework, cmd).await,
        Builtin::Install(args) => {
            commands::install::run(ctx, out, framework, commands::install::parse(args)).await
        }
        Builtin::Completions(args) => commands::completions::run(out, framework, args),
        Builtin::Man(args) => commands::man::run(out, framework, args),
    }
}

/// One installed plugin command as a subcommand. Its about and argument
/// help come from the plugin's manifest, so they are foreign text in
/// `--help`, the completions and the man page alike.
fn plugin_subcommand(record: &CommandRecord) -> clap::Command {
    let about = foreign(&record.about);
    let about = match record.state {
        PluginState::Enabled => format!("{about} [{}]", record.plugin),
        PluginState::Installed | PluginState::Disabled | PluginState::Failed => {
            format!("{about} [{}, {}]", record.plugin, record.state)
        }
    };
    let mut cmd = clap::Command::new(record.name.clone()).about(about);
    for arg in &record.args {
        // The id is namespaced so a plugin argument called `profile` or
        // `set` cannot shadow lord's global option of that name when the
        // global values are read back; help still shows the plugin's name.
        let mut a = Arg::new(plugin_arg_id(&arg.name))
            .value_name(arg.name.clone())
            .help(foreign(&arg.help).to_string())
            .required(arg.required);
        if arg.flag {
            a = a.long(arg.name.clone()).action(ArgAction::SetTrue);
        } else if arg.multiple {
            // A plugin's last, repeatable argument takes the rest of the
            // line as it is, options included (`lord git log --oneline`),
            // for the plugin to parse; switches the manifest declares
            // (`flag`) are read only before it.
            a = a
                .num_args(1..)
                .action(ArgAction::Append)
                .allow_hyphen_values(true);
            cmd = cmd.trailing_var_arg(true);
        }
        cmd = cmd.arg(a);
    }
    cmd
}

/// The clap id of a plugin command's argument `name`.
fn plugin_arg_id(name: &str) -> String {
    format!("plugin-arg:{name}")
}

/// The values of a plugin command's arguments, in declaration order.
pub(crate) fn plugin_args(
    record: &CommandRecord,
    matches: &ArgMatches,
) -> Vec<lord_host::CommandArg> {
    record
        .args
        .iter()
        .filter_map(|arg| {
            if arg.flag {
                // A switch reaches the plugin only when given, as `true`.
                return matches.get_flag(&plugin_arg_id(&arg.name)).then(|| {
                    lord_host::CommandArg {
                        name: arg.name.clone(),
                        values: vec!["true".to_owned()],
                    }
                });
            }
            let values: Vec<String> = matches
                .get_many::<String>(&plugin_arg_id(&arg.name))?
                .cloned()
                .collect();
            Some(lord_host::CommandArg {
                name: arg.name.clone(),
                values,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::command_word;

    fn word(args: &[&str]) -> Option<String> {
        let argv: Vec<std::ffi::OsString> = std::iter::once("lord")
            .chain(args.iter().copied())
            .map(Into::into)
            .collect();
        command_word(&argv).map(str::to_owned)
    }

    #[test]
    fn the_command_word_follows_only_global_options() {
        assert_eq!(word(&["hello", "World"]).as_deref(), Some("hello"));
        assert_eq!(
            word(&[
                "--raw",
                "--profile",
                "ci",
                "--set=a=b",
                "--set",
                "c=d",
                "hello"
            ])
            .as_deref(),
            Some("hello")
        );
        assert_eq!(word(&["--profile=ci", "hello"]).as_deref(), Some("hello"));
        // Anything else goes to the whole tree.
        assert_eq!(word(&["--help"]), None);
        assert_eq!(word(&["-V", "hello"]), None);
        assert_eq!(word(&["--profile"]), None);
        assert_eq!(word(&[]), None);
    }
}
