//! `lord pdk`: the plugin development kit. `new`, `build`, `validate`,
//! `test`, `docs` and `record` are thin over `lord-devkit`; `pack`, `sign`
//! and `publish` turn a plugin folder into a signed package on a registry.
//! Packing is deterministic, so anyone can rebuild a package from the same
//! files and compare digests. The publish token comes from
//! `LORD_REGISTRY_TOKEN`, never from argv.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::Subcommand;
use lord_host::Framework;
use lord_package::{Digest, Keys, Signature};
use serde_json::json;

use lord_devkit::builder::{self, BuildOptions};
use lord_devkit::harness::{Harness, HarnessOptions};
use lord_devkit::template::NewProject;
use lord_devkit::toolchain::Toolchain;
use lord_devkit::{DevkitError, docs, record};

use crate::context::Context;

#[derive(Debug, Subcommand)]
pub(crate) enum PdkCommand {
    /// Make a plugin project that builds and passes its tests unedited.
    New {
        /// The plugin id, also its folder and (for commands) its command.
        name: String,
        /// command, event-handler, or a micro-plugin kind: transformer,
        /// validator, formatter, hook, command-enhancer, utility.
        #[arg(long = "type", default_value = "command")]
        kind: String,
        /// rust, typescript or javascript.
        #[arg(long, default_value = "rust")]
        lang: String,
        /// Where to make it (default: ./NAME).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Do not mark a case as a documented example.
        #[arg(long)]
        no_examples: bool,
        /// Do not write tests/cases.toml.
        #[arg(long)]
        no_tests: bool,
        /// Do not write README.md.
        #[arg(long)]
        no_docs: bool,
        #[arg(long)]
        json: bool,
    },
    /// Build the project into the component its plugin.toml names.
    Build {
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// JavaScript engine: quickjs (small, fast to compile) or spidermonkey.
        #[arg(long, default_value = "quickjs")]
        engine: String,
        #[arg(long)]
        json: bool,
    },
    /// Check a plugin folder or package: errors, security, performance.
    Validate {
        /// A plugin folder or a .lordpkg file.
        #[arg(default_value = ".")]
        target: PathBuf,
        /// text, json or sarif (SARIF 2.1.0, for CI code scanning).
        #[arg(long, default_value = "text")]
        format: String,
        /// Write the report here instead of standard output.
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
    },
    /// Run the declared and generated test cases through the real host.
    Test {
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Also write JUnit XML here.
        #[arg(long)]
        junit: Option<PathBuf>,
        /// Only the declared cases.
        #[arg(long)]
        no_generated: bool,
        /// Only cases whose name contains this.
        #[arg(long)]
        filter: Option<String>,
        /// Seed for generated inputs.
        #[arg(long, default_value_t = 0x5eed)]
        seed: u64,
        #[arg(long)]
        json: bool,
    },
    /// Write reference docs from the manifest, cases, component and WIT.
    Docs {
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// markdown or html.
        #[arg(long, default_value = "markdown")]
        format: String,
        /// The output folder (default: DIR/docs).
        #[arg(long, short = 'o')]
        out: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Run the plugin with everything denied and propose the permissions
    /// it needs.
    Record {
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// A command line to run, e.g. --run 'note hello' (repeatable;
        /// default: the declared cases).
        #[arg(long = "run")]
        runs: Vec<String>,
        /// Write the proposal into plugin.toml (comments kept).
        #[arg(long)]
        write: bool,
        #[arg(long)]
        json: bool,
    },
    /// Pack a plugin folder into ID-VERSION.lordpkg (same files, same bytes).
    Pack {
        /// The plugin folder.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Where to write the package (default: the current folder).
        #[arg(long, short = 'o')]
        out: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Sign a package with one of your keys, writing PACKAGE.sig beside it.
    Sign {
        package: PathBuf,
        /// The key to sign with.
        #[arg(long, default_value = "default")]
        key: String,
        #[arg(long)]
        json: bool,
    },
    /// Publish a signed package (PACKAGE and PACKAGE.sig) to a registry,
    /// with the token in LORD_REGISTRY_TOKEN.
    Publish {
        package: PathBuf,
        /// The registry (default: the `registry.url` setting).
        #[arg(long)]
        registry: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

/// The registry to talk to: the flag, else `registry.url`.
pub(crate) fn registry_url(framework: &Framework, flag: Option<String>) -> Result<String> {
    if let Some(url) = flag {
        return Ok(url);
    }
    framework
        .settings()?
        .get("registry.url")
        .and_then(|v| v.as_str().map(str::to_owned))
        .ok_or_else(|| {
            crate::cli::UsageError(
                "no registry is configured: pass --registry URL, or run `lord config set \
                 registry.url http://HOST:PORT`"
                    .to_owned(),
            )
            .into()
        })
}

/// A devkit error, as a usage error (exit 2) when the author's input is at
/// fault.
fn devkit(e: DevkitError) -> anyhow::Error {
    if e.is_user_error() {
        crate::cli::UsageError(e.to_string()).into()
    } else {
        e.into()
    }
}

/// Where the JavaScript toolchain lives: `LORD_PDK_TOOLS`, else
/// `$LORD_HOME/tools`.
fn toolchain(ctx: &Context) -> Toolchain {
    let root = ctx
        .env
        .iter()
        .find(|(k, _)| k == "LORD_PDK_TOOLS")
        .map_or_else(|| ctx.home.join("tools"), |(_, v)| PathBuf::from(v));
    Toolchain {
        root,
        node: PathBuf::from("node"),
        npm: PathBuf::from("npm"),
    }
}

/// A plugin folder's manifest, cases and component imports.
fn plugin_facts(
    framework: &Framework,
    dir: &std::path::Path,
) -> Result<(
    lord_manifest::Manifest,
    Vec<lord_host::TestCase>,
    Vec<String>,
)> {
    let manifest = lord_devkit::read_built(dir).map_err(devkit)?;
    let cases = lord_host::read_cases(dir)?;
    let component = dir.join(&manifest.plugin.component);
    let imports = framework.inspect(&component)?.imports;
    Ok((manifest, cases, imports))
}

/// A spinner on a terminal naming the current step; silent when piped.
struct Spinner(Option<indicatif::ProgressBar>);

impl Spinner {
    fn new(ctx: &Context, what: &str) -> Self {
        Self(ctx.stderr_is_tty.then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_message(what.to_owned());
            bar.enable_steady_tick(std::time::Duration::from_millis(80));
            bar
        }))
    }

    fn say(&self, step: &str) {
        if let Some(bar) = &self.0 {
            bar.set_message(step.to_owned());
        }
    }

    fn done(self) {
        if let Some(bar) = self.0 {
            bar.finish_and_clear();
        }
    }
}

/// Writes `bytes` to `path` atomically, so a killed run leaves the old
/// file or the new one.
fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    Ok(lord_file::write_atomic(path, bytes)?)
}

pub(crate) async fn run(
    ctx: &Context,
    framework: &Framework,
    command: PdkCommand,
) -> Result<ExitCode> {
    match command {
        PdkCommand::New {
            name,
            kind,
            lang,
            dir,
            no_examples,
            no_tests,
            no_docs,
            json,
        } => {
            let usage = |e: String| anyhow::Error::from(crate::cli::UsageError(e));
            let id: lord_manifest::PluginId = name
                .parse()
                .map_err(|e| usage(format!("`{name}` cannot be a plugin id: {e}")))?;
            let project = NewProject {
                kind: kind.parse().map_err(usage)?,
                lang: lang.parse().map_err(usage)?,
                id,
                examples: !no_examples,
                tests: !no_tests,
                docs: !no_docs,
            };
            let dir = ctx.cwd.join(dir.unwrap_or_else(|| PathBuf::from(&name)));
            project.create(&dir).map_err(devkit)?;
            if json {
                println!(
                    "{}",
                    json!({"dir": dir, "id": name, "type": project.kind.as_str(), "lang": project.lang.as_str()})
                );
            } else {
                eprintln!(
                    "made {} ({} {}) in {}\nnext: cd {} && lord pdk build && lord pdk test",
                    name,
                    project.lang,
                    project.kind,
                    dir.display(),
                    dir.display()
                );
            }
        }
        PdkCommand::Build { dir, engine, json } => {
            let dir = ctx.cwd.join(dir);
            let options = BuildOptions {
                cargo: ctx.cargo.clone(),
                toolchain: toolchain(ctx),
                engine: engine
                    .parse()
                    .map_err(|e: String| crate::cli::UsageError(e))?,
            };
            let spinner = Spinner::new(ctx, "building");
            let built = builder::build(&dir, &options, &mut |step| spinner.say(step));
            spinner.done();
            let built = built.map_err(devkit)?;
            if json {
                println!(
                    "{}",
                    json!({
                        "component": built.component,
                        "bytes": built.bytes,
                        "lang": built.lang.as_str(),
                        "ms": built.took.as_secs_f64() * 1000.0,
                        "steps": built.steps.iter().map(|(s, d)| json!({"step": s, "ms": d.as_secs_f64() * 1000.0})).collect::<Vec<_>>(),
                    })
                );
            } else {
                eprintln!(
                    "built {} ({} bytes) in {:.1} s",
                    built.component.display(),
                    built.bytes,
                    built.took.as_secs_f64()
                );
            }
        }
        PdkCommand::Validate {
            target,
            format,
            output,
        } => {
            let target = ctx.cwd.join(target);
            let report = framework.validate(&target).await;
            let dir = if target.is_file() {
                target.parent().map(PathBuf::from).unwrap_or_default()
            } else {
                target.clone()
            };
            let text = match format.as_str() {
                "text" => lord_devkit::report::to_text(&report),
                "json" => {
                    serde_json::to_string_pretty(&lord_devkit::report::to_json(&report))? + "\n"
                }
                "sarif" => {
                    serde_json::to_string_pretty(&lord_devkit::report::to_sarif(&report, &dir))?
                        + "\n"
                }
                other => {
                    return Err(crate::cli::UsageError(format!(
                        "`{other}` is not a report format; use text, json or sarif"
                    ))
                    .into());
                }
            };
            match output {
                Some(path) => write_atomic(&ctx.cwd.join(path), text.as_bytes())?,
                None => print!("{text}"),
            }
            return Ok(if report.is_ok() {
                ExitCode::SUCCESS
            } else {
                // As `lord plugin validate`: the input cannot be installed.
                ExitCode::from(2)
            });
        }
        PdkCommand::Test {
            dir,
            junit,
            no_generated,
            filter,
            seed,
            json,
        } => {
            let dir = ctx.cwd.join(dir);
            let spinner = Spinner::new(ctx, "testing");
            let report = async {
                let mut harness = Harness::open(&dir, &ctx.home.join("tmp"))?;
                harness
                    .run(&HarnessOptions {
                        generated: !no_generated,
                        seed,
                        filter,
                        ..HarnessOptions::default()
                    })
                    .await
            }
            .await;
            spinner.done();
            let report = report.map_err(devkit)?;
            if let Some(path) = junit {
                write_atomic(
                    &ctx.cwd.join(path),
                    lord_devkit::junit::to_junit(&report).as_bytes(),
                )?;
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.to_text());
            }
            return Ok(if report.passed() {
                ExitCode::SUCCESS
            } else {
                // A plugin failure, in lord's exit codes.
                ExitCode::from(3)
            });
        }
        PdkCommand::Docs {
            dir,
            format,
            out,
            json,
        } => {
            let dir = ctx.cwd.join(dir);
            let format: docs::Format = format
                .parse()
                .map_err(|e: String| crate::cli::UsageError(e))?;
            let (manifest, cases, imports) = plugin_facts(framework, &dir)?;
            let files = docs::render(&manifest, &cases, &imports, format).map_err(devkit)?;
            let out = out.map_or_else(|| dir.join("docs"), |o| ctx.cwd.join(o));
            let written = docs::write(&out, &files).map_err(devkit)?;
            if json {
                println!("{}", json!({ "files": written }));
            } else {
                for path in written {
                    eprintln!("wrote {}", path.display());
                }
            }
        }
        PdkCommand::Record {
            dir,
            runs,
            write,
            json,
        } => {
            let dir = ctx.cwd.join(dir);
            let (manifest, _, imports) = plugin_facts(framework, &dir)?;
            let calls = runs
                .iter()
                .map(|line| {
                    let words: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
                    record::command_case(&manifest, &words)
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(devkit)?;
            let spinner = Spinner::new(ctx, "recording");
            let recording =
                record::record(&dir, &ctx.home.join("tmp"), calls, &imports, &mut |s| {
                    spinner.say(s)
                })
                .await;
            spinner.done();
            let recording = recording.map_err(devkit)?;
            if write {
                let written = record::write_proposal(&dir, &recording).map_err(devkit)?;
                eprintln!(
                    "wrote [permissions] request = [{}] into plugin.toml",
                    written.join(", ")
                );
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&recording)?);
            } else {
                for (i, round) in recording.rounds.iter().enumerate() {
                    eprintln!("round {}: {} refused", i + 1, round.refused.len());
                    for (access, needs) in &round.refused {
                        eprintln!(
                            "  {access} -> {}",
                            needs.as_deref().unwrap_or("no permission allows this")
                        );
                    }
                }
                if !recording.missing.is_empty() {
                    eprintln!("plugin.toml lacks: {}", recording.missing.join(", "));
                }
                if !recording.unused.is_empty() {
                    eprintln!("never needed here: {}", recording.unused.join(", "));
                }
                eprintln!(
                    "file and environment reads leave no trace when not granted; add those by hand"
                );
                print!("{}", recording.toml());
            }
        }
        PdkCommand::Pack { dir, out, json } => {
            let dir = ctx.cwd.join(dir);
            let packed = lord_package::pack(&dir)?;
            let out = ctx.cwd.join(out.unwrap_or_default());
            let path = out.join(packed.file_name());
            write_atomic(&path, &packed.bytes)?;
            if json {
                println!(
                    "{}",
                    json!({
                        "path": path,
                        "id": packed.id.as_str(),
                        "version": packed.version.to_string(),
                        "sha256": packed.digest.to_string(),
                        "bytes": packed.bytes.len(),
                        "files": packed.files.iter().map(|(name, size)| json!({"path": name, "bytes": size})).collect::<Vec<_>>(),
                    })
                );
            } else {
                eprintln!(
                    "packed {} {} into {} ({} files, {} bytes)",
                    packed.id,
                    packed.version,
                    path.display(),
                    packed.files.len(),
                    packed.bytes.len()
                );
                println!("sha256 {}", packed.digest);
            }
        }
        PdkCommand::Sign { package, key, json } => {
            let package = ctx.cwd.join(package);
            let bytes = std::fs::read(&package)
                .with_context(|| format!("reading `{}`", package.display()))?;
            let digest = Digest::of(&bytes);
            let signature = Keys::new(&ctx.home).sign(&key, &digest)?;
            let path = Signature::path_for(&package);
            write_atomic(&path, signature.to_json().as_bytes())?;
            if json {
                println!(
                    "{}",
                    json!({"signature": path, "key": signature.key, "sha256": digest.to_string()})
                );
            } else {
                eprintln!(
                    "signed {} with key `{key}` ({}) into {}",
                    package.display(),
                    signature.key,
                    path.display()
                );
            }
        }
        PdkCommand::Publish {
            package,
            registry,
            json,
        } => {
            let url = registry_url(framework, registry)?;
            let token = ctx
                .env
                .iter()
                .find(|(k, _)| k == "LORD_REGISTRY_TOKEN")
                .map(|(_, v)| v.clone())
                .ok_or_else(|| {
                    crate::cli::UsageError(
                        "set LORD_REGISTRY_TOKEN to a publish token (`lord registry token \
                         create` on the registry's machine)"
                            .to_owned(),
                    )
                })?;
            let package = ctx.cwd.join(package);
            let bytes = std::fs::read(&package)
                .with_context(|| format!("reading `{}`", package.display()))?;
            let sig_path = Signature::path_for(&package);
            let sig_text = std::fs::read_to_string(&sig_path).map_err(|_| {
                crate::cli::UsageError(format!(
                    "`{}` is missing: sign the package first with `lord pdk sign`",
                    sig_path.display()
                ))
            })?;
            let signature = Signature::parse(&sig_path, &sig_text)?;
            let public = Keys::new(&ctx.home)
                .trusted()?
                .into_iter()
                .find(|k| k.id() == signature.key)
                .ok_or_else(|| {
                    crate::cli::UsageError(format!(
                        "the package is signed by key {}, which is not among your keys \
                         (`lord key list`)",
                        signature.key
                    ))
                })?;
            let client = lord_registry_client::Client::new(&url)?;
            let published = client.publish(&token, bytes, &signature, &public).await?;
            if json {
                println!("{}", json!(published));
            } else {
                eprintln!(
                    "published {} {} (sha256 {}) to {url}",
                    published.id, published.version, published.digest
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
