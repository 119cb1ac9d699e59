//! `lord pdk`: the plugin development kit. `new`, `build`, `validate`,
//! `test`, `docs` and `record` are thin over `lord-devkit`; `pack`, `sign`
//! and `publish` turn a plugin folder into a signed package on a registry.
//! This file holds the subcommands and sends each, parsed, to its file.

mod build;
mod docs;
mod new;
mod package;
pub(crate) use package::{signature_beside, this_platform};
mod record;
mod test;
mod validate;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use lord_devkit::DevkitError;
use lord_devkit::toolchain::Toolchain;
use lord_host::Framework;

use crate::cli::UsageError;
use crate::context::Context;
use crate::render::Output;

#[derive(Debug, Subcommand)]
pub(crate) enum PdkCommand {
    /// Make a plugin project that builds and passes its tests unedited.
    New(new::NewArgs),
    /// Build the project into the component its plugin.toml names.
    Build(build::BuildArgs),
    /// Check a plugin folder or package: errors, security, performance.
    Validate(validate::ValidateArgs),
    /// Run the declared and generated test cases through the real host.
    Test(test::TestArgs),
    /// Write reference docs from the manifest, cases, component and WIT.
    Docs(docs::DocsArgs),
    /// Run the plugin with everything denied and propose the permissions
    /// it needs.
    Record(record::RecordArgs),
    /// Pack a plugin folder into ID-VERSION.lordpkg (same files, same bytes).
    Pack(package::PackArgs),
    /// Sign a package with one of your keys, writing PACKAGE.sig beside it.
    Sign(package::SignArgs),
    /// Publish a signed package (PACKAGE and PACKAGE.sig) to a registry,
    /// with the token in LORD_REGISTRY_TOKEN.
    Publish(package::PublishArgs),
}

pub(crate) async fn run(
    ctx: &Context,
    out: &Output,
    framework: &mut Framework,
    command: PdkCommand,
) -> Result<ExitCode> {
    let cwd = &ctx.cwd;
    match command {
        PdkCommand::New(args) => new::run(out, new::parse(cwd, args)?),
        PdkCommand::Build(args) => build::run(ctx, out, build::parse(cwd, args)?),
        PdkCommand::Validate(args) => {
            validate::run(out, framework, validate::parse(cwd, args)?).await
        }
        PdkCommand::Test(args) => test::run(ctx, out, test::parse(cwd, args)).await,
        PdkCommand::Docs(args) => docs::run(out, framework, docs::parse(cwd, args)?),
        PdkCommand::Record(args) => {
            record::run(ctx, out, framework, record::parse(cwd, args)?).await
        }
        PdkCommand::Pack(args) => package::pack(out, package::parse_pack(cwd, args)),
        PdkCommand::Sign(args) => package::sign(ctx, out, package::parse_sign(cwd, args)?),
        PdkCommand::Publish(args) => {
            package::publish(ctx, out, framework, package::parse_publish(ctx, args)?).await
        }
    }
}

/// A devkit error, as a usage error (exit 2) when the author's input is at
/// fault.
fn devkit(e: DevkitError) -> anyhow::Error {
    if e.is_user_error() {
        UsageError(e.to_string()).into()
    } else {
        e.into()
    }
}

/// Where the JavaScript toolchain lives: `LORD_PDK_TOOLS`, else
/// `$LORD_HOME/tools`.
pub(crate) fn toolchain(ctx: &Context) -> Toolchain {
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

/// What docs and record read about a built plugin folder.
struct PluginFacts {
    manifest: lord_manifest::Manifest,
    cases: Vec<lord_host::TestCase>,
    imports: Vec<String>,
}

/// A plugin folder's manifest, cases and component imports.
fn plugin_facts(framework: &Framework, dir: &Path) -> Result<PluginFacts> {
    let manifest = lord_devkit::read_built(dir).map_err(devkit)?;
    let cases = lord_host::read_cases(dir)?;
    let component = dir.join(&manifest.plugin.component);
    let imports = framework.inspect(&component)?.imports;
    Ok(PluginFacts {
        manifest,
        cases,
        imports,
    })
}

/// Writes `bytes` to `path` atomically, so a killed run leaves the old
/// file or the new one.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    Ok(lord_file::write_atomic(path, bytes)?)
}
