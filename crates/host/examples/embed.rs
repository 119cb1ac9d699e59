//! A CLI that is not `lord` embedding lord-host: it keeps its own plugin
//! home, installs a plugin folder when asked, and runs plugin commands as
//! its own subcommands, each in the sandbox with only what was granted.
//!
//! ```sh
//! cargo xtask plugins
//! cargo run -p lord-host --example embed -- install plugins/hello
//! cargo run -p lord-host --example embed -- hello World
//! ```
//!
//! Its state lives in `$EMBED_HOME` (default: `./.embed-home`). Plugins
//! that ask for more than low-risk permissions are refused: this CLI has
//! no prompt, so it grants only what cannot hurt.

use std::path::PathBuf;
use std::process::ExitCode;

use lord_host::{CommandArg, Framework, HostConfig, HostError};
use lord_manifest::RiskLevel;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("embed: could not start a runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("embed: {e}");
            // A plugin's own failure is told apart from a usage mistake, as
            // lord does: the host sorts its errors.
            ExitCode::from(if e.is_plugin_failure() { 3 } else { 2 })
        }
    }
}

async fn run(args: &[String]) -> Result<String, HostError> {
    #[expect(
        clippy::disallowed_methods,
        reason = "an embedding CLI reads its own environment and passes it in"
    )]
    let home =
        std::env::var_os("EMBED_HOME").map_or_else(|| PathBuf::from(".embed-home"), PathBuf::from);
    #[expect(
        clippy::disallowed_methods,
        reason = "an embedding CLI reads its own working directory and passes it in"
    )]
    let cwd = std::env::current_dir().map_err(|source| HostError::Io {
        action: "read",
        path: PathBuf::from("."),
        source,
    })?;
    // The framework reads nothing ambient: the CLI decides its home, its
    // project folder and which environment variables plugins could be
    // granted (none here).
    let mut framework = Framework::open(HostConfig::new(home, cwd))?;
    match args {
        [verb, dir] if verb == "install" => {
            let registration = framework
                .register(dir.as_ref(), |plan| plan.risk <= RiskLevel::Low)
                .await?;
            Ok(format!(
                "installed {} {}\n",
                registration.plugin.id(),
                registration.plugin.manifest.plugin.version
            ))
        }
        [command, rest @ ..] => {
            // Arguments go to the command's declared arguments in order;
            // lord itself parses them with clap from the manifest.
            let record = framework
                .commands()?
                .into_iter()
                .find(|c| c.name == *command)
                .ok_or_else(|| HostError::UnknownCommand(command.clone()))?;
            let args = record
                .args
                .iter()
                .zip(rest)
                .map(|(spec, value)| CommandArg {
                    name: spec.name.clone(),
                    values: vec![value.clone()],
                })
                .collect();
            Ok(framework.run_command(command, args).await?.text)
        }
        [] => Ok("usage: embed install DIR | embed COMMAND [ARGS...]\n".to_owned()),
    }
}
