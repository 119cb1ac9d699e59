//! `lord pdk build`: one command for every language. Rust goes through
//! cargo for `wasm32-wasip2`. JavaScript and TypeScript go through the
//! pinned npm toolchain: TypeScript typings generated from the WIT and a
//! `tsc` type check, an esbuild bundle, then componentize-qjs (QuickJS) or,
//! when asked, componentize-js (SpiderMonkey).
//!
//! A JavaScript component is built against a world that imports only the
//! host interfaces the bundle uses, so it asks for nothing its code does not
//! touch and the host's contract check sees exactly what it needs: in
//! particular `wasi:http` only when the bundle holds `lord:fetch` (the
//! SDK's Fetch API, written into `.lord/sdk/` by every build) or names
//! `wasi:http` itself.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use lord_manifest::Manifest;

use crate::DevkitError;
use crate::sdk::{self, LORD_DIR};
use crate::template::Lang;
use crate::toolchain::{self, Engine, PINNED, SPIDERMONKEY, Toolchain};

/// What `build` needs from its surroundings.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub cargo: PathBuf,
    pub toolchain: Toolchain,
    /// The JavaScript engine asked for; `None` lets the build choose:
    /// QuickJS, or SpiderMonkey when the code sends HTTP (see
    /// [`http_engine`]).
    pub engine: Option<Engine>,
}

/// What a build produced.
#[derive(Debug, Clone)]
pub struct Built {
    pub lang: Lang,
    pub component: PathBuf,
    pub bytes: u64,
    pub took: Duration,
    /// Each step and how long it took.
    pub steps: Vec<(String, Duration)>,
}

/// The WIT world a manifest's component is built for: a package of only
/// micro-plugins is a micro-plugin component; anything with commands is a
/// full plugin.
pub fn world_of(manifest: &Manifest) -> &'static str {
    if manifest.commands.is_empty() && !manifest.micro.is_empty() {
        "micro-plugin"
    } else {
        "plugin"
    }
}

/// Builds the plugin project in `dir` into the component its manifest
/// names. `progress` hears each step.
pub fn build(
    dir: &Path,
    options: &BuildOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<Built, DevkitError> {
    let started = Instant::now();
    let manifest = crate::read_manifest(dir)?;
    let lang = Lang::detect(dir).ok_or_else(|| {
        DevkitError::Usage(format!(
            "`{}` has no Cargo.toml, src/plugin.ts or src/plugin.js; is it a plugin project? \
             (`lord pdk new` makes one)",
            dir.display()
        ))
    })?;
    let mut steps = Vec::new();
    let component = dir.join(&manifest.plugin.component);
    match lang {
        Lang::Rust => {
            // Only a project that uses the SDK copy gets one.
            let cargo_toml = std::fs::read_to_string(dir.join("Cargo.toml"))
                .map_err(DevkitError::io("read", &dir.join("Cargo.toml")))?;
            if cargo_toml.contains(".lord/lord-pdk") {
                sdk::install_rust_sdk(dir)?;
            }
            progress("cargo build --release --target wasm32-wasip2");
            let step = Instant::now();
            crate::dev::build(dir, &options.cargo)?;
            steps.push(("cargo".to_owned(), step.elapsed()));
        }
        Lang::TypeScript | Lang::JavaScript => {
            build_js(
                dir, lang, &manifest, &component, options, progress, &mut steps,
            )?;
        }
    }
    let bytes = std::fs::metadata(&component)
        .map_err(DevkitError::io("read", &component))?
        .len();
    Ok(Built {
        lang,
        component,
        bytes,
        took: started.elapsed(),
        steps,
    })
}

#[allow(clippy::too_many_arguments)]
fn build_js(
    dir: &Path,
    lang: Lang,
    manifest: &Manifest,
    component: &Path,
    options: &BuildOptions,
    progress: &mut dyn FnMut(&str),
    steps: &mut Vec<(String, Duration)>,
) -> Result<(), DevkitError> {
    let tools = &options.toolchain;
    let step = Instant::now();
    // The engine may change once the bundle shows what the code imports;
    // QuickJS's tools are what most builds use.
    tools.ensure(options.engine.unwrap_or(Engine::QuickJs), progress)?;
    steps.push(("tools".to_owned(), step.elapsed()));
    let wit_dir = sdk::install_wit(dir)?;
    let wit = wit_dir.join(sdk::WIT_FILE);
    let world = world_of(manifest);
    let build_dir = dir.join(LORD_DIR).join("build");
    std::fs::create_dir_all(&build_dir).map_err(DevkitError::io("create", &build_dir))?;

    sdk::install_js_sdk(dir)?;
    let entry = match lang {
        Lang::TypeScript => {
            check_typescript(dir, &wit, world, tools, progress, steps)?;
            "src/plugin.ts"
        }
        Lang::JavaScript => "src/plugin.js",
        Lang::Rust => {
            return Err(DevkitError::Usage(
                "a Rust project builds with cargo, not the JavaScript toolchain".to_owned(),
            ));
        }
    };

    progress("esbuild (bundle)");
    let step = Instant::now();
    let bundle = build_dir.join("plugin.js");
    toolchain::run(
        Command::new(tools.bin(PINNED, "esbuild"))
            .arg(entry)
            .args([
                "--bundle",
                "--format=esm",
                "--platform=neutral",
                "--target=es2022",
                "--main-fields=module,main",
                "--external:lord:*",
                "--external:wasi:*",
                "--log-level=warning",
            ])
            // Wins over the `lord:*` rule: the SDK's own module is bundled.
            .arg(format!(
                "--alias:{}=./{}",
                sdk::FETCH_MODULE,
                sdk::FETCH_PATH
            ))
            .arg(format!("--outfile={}", bundle.display()))
            .current_dir(dir),
        "esbuild",
        dir,
    )?;
    steps.push(("esbuild".to_owned(), step.elapsed()));

    let js = std::fs::read_to_string(&bundle).map_err(DevkitError::io("read", &bundle))?;
    let built_world = trimmed_world(sdk::WIT, world, &js)?;
    let engine = match (built_world.http, options.engine) {
        (false, asked) => asked.unwrap_or(Engine::QuickJs),
        (true, Some(asked)) => {
            http_engine(asked)?;
            asked
        }
        (true, None) => {
            progress("the code imports lord:fetch: building with SpiderMonkey");
            let step = Instant::now();
            tools.ensure(Engine::SpiderMonkey, progress)?;
            steps.push(("tools".to_owned(), step.elapsed()));
            Engine::SpiderMonkey
        }
    };
    let world_dir = write_world(&build_dir, &built_world)?;

    let out = build_dir.join("component.wasm");
    let step = Instant::now();
    componentize(
        dir,
        &options.toolchain,
        engine,
        &bundle,
        &world_dir,
        &built_world.name,
        &out,
        progress,
    )?;
    steps.push(("componentize".to_owned(), step.elapsed()));
    // One rename, synced before and after: the old component stays whole
    // until the new one is, through a power cut too.
    lord_file::rename_durably(&out, component)?;
    Ok(())
}

/// Generates the typings from the WIT and type-checks the project.
fn check_typescript(
    dir: &Path,
    wit: &Path,
    world: &str,
    tools: &Toolchain,
    progress: &mut dyn FnMut(&str),
    steps: &mut Vec<(String, Duration)>,
) -> Result<(), DevkitError> {
    progress("typings from the WIT");
    let step = Instant::now();
    let types = dir.join(LORD_DIR).join("types");
    // Stale typings from another world must not linger.
    let _ = std::fs::remove_dir_all(&types);
    toolchain::run(
        Command::new(&tools.node)
            .arg(tools.wit_tool())
            .arg("guest-types")
            .arg(wit)
            .arg(world)
            .arg(&types),
        "typings (jco-transpile)",
        dir,
    )?;
    sdk::install_fetch_types(&types)?;
    steps.push(("typings".to_owned(), step.elapsed()));
    progress("tsc (type check)");
    let step = Instant::now();
    toolchain::run(
        Command::new(&tools.node)
            .arg(tools.bin(PINNED, "tsc"))
            .args(["-p", "tsconfig.json", "--pretty", "false"])
            .current_dir(dir),
        "tsc",
        dir,
    )?;
    steps.push(("tsc".to_owned(), step.elapsed()));
    Ok(())
}

/// Turns the bundle into a component for the trimmed world, with
/// `engine`.
#[expect(
    clippy::too_many_arguments,
    reason = "one call site, each argument a different part of the build"
)]
fn componentize(
    dir: &Path,
    tools: &Toolchain,
    engine: Engine,
    bundle: &Path,
    world_dir: &Path,
    world_name: &str,
    out: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<(), DevkitError> {
    match engine {
        Engine::QuickJs => {
            progress("componentize-qjs (QuickJS)");
            toolchain::run(
                Command::new(tools.bin(PINNED, "componentize-qjs"))
                    .arg("--wit")
                    .arg(world_dir)
                    .arg("--world")
                    .arg(world_name)
                    .arg("--js")
                    .arg(bundle)
                    // The host API is synchronous; the async runtime needs
                    // component-model async, which the host does not enable.
                    .arg("--sync")
                    .arg("--opt-size")
                    .arg("-o")
                    .arg(out)
                    .current_dir(dir),
                "componentize-qjs",
                dir,
            )
            .map(drop)
        }
        Engine::SpiderMonkey => {
            progress("componentize-js (SpiderMonkey)");
            toolchain::run(
                Command::new(tools.bin(SPIDERMONKEY, "componentize-js"))
                    .arg(bundle)
                    .arg("-w")
                    .arg(world_dir)
                    .arg("-n")
                    .arg(world_name)
                    // Its own `http` feature (StarlingMonkey's Promise-based
                    // fetch) stays off: a plugin call cannot wait on a Promise,
                    // and `lord:fetch` imports wasi:http itself when used.
                    .args(["-d", "stdio", "random", "clocks", "http", "fetch-event"])
                    .arg("-o")
                    .arg(out)
                    .current_dir(dir),
                "componentize-js",
                dir,
            )
            .map(drop)
        }
    }
}

/// The interfaces `world` imports in `wit`, in WIT order: read from the
/// contract itself, so a new host interface needs no edit here.
fn offered<'w>(wit: &'w str, world: &str) -> Vec<&'w str> {
    let header = format!("world {world} {{");
    let Some(start) = wit.find(&header) else {
        return Vec::new();
    };
    let body = &wit[start + header.len()..];
    let body = &body[..body.find('}').unwrap_or(body.len())];
    body.lines()
        .filter_map(|line| line.trim().strip_prefix("import "))
        .map(|rest| rest.trim_end_matches(';').trim())
        .collect()
}

/// The world a JavaScript component is built for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildWorld {
    pub name: String,
    /// The WIT: the contract with the build world added.
    pub text: String,
    /// It imports `wasi:http` (the bundle sends HTTP requests).
    pub http: bool,
}

/// Whether the bundle names a `wasi:http` interface as a module (the
/// SDK's `lord:fetch` does, once bundled).
fn names_wasi_http(js: &str) -> bool {
    js.match_indices("wasi:http/")
        .any(|(at, _)| js[..at].ends_with(['"', '\'']))
}

/// A copy of the WIT with one more world: `world`'s exports, and imports of
/// only the `lord:plugin/*` interfaces `js` names, plus `wasi:http` when it
/// names that. An interface the world does not offer is an error naming it.
pub fn trimmed_world(wit: &str, world: &str, js: &str) -> Result<BuildWorld, DevkitError> {
    const PREFIX: &str = "lord:plugin/";
    // What a world offers is the contract this lord ships, whatever copy
    // of it the caller extends.
    let offered = offered(sdk::WIT, world);
    let mut used: Vec<&str> = Vec::new();
    for (at, _) in js.match_indices(PREFIX) {
        // Only module specifiers count: the name sits right after a quote.
        let quoted = js[..at].ends_with(['"', '\'']);
        let rest = &js[at + PREFIX.len()..];
        let name_len = rest
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
            .unwrap_or(rest.len());
        let name = &rest[..name_len];
        if !quoted || name.is_empty() || name == "types" {
            continue;
        }
        let Some(known) = offered.iter().find(|o| **o == name) else {
            return Err(DevkitError::Usage(format!(
                "the code imports `lord:plugin/{name}`, which a {world} cannot use; the \
                 interfaces it can import are: {}",
                offered.join(", ")
            )));
        };
        if !used.contains(known) {
            used.push(known);
        }
    }
    used.sort_by_key(|name| offered.iter().position(|o| o == name));
    let http = names_wasi_http(js);
    if http && world == "micro-plugin" {
        return Err(DevkitError::Usage(format!(
            "the code sends HTTP requests (`{}`), which a micro-plugin cannot; make it a \
             plugin with a command and `net(HOST[:PORT])` in its permissions",
            sdk::FETCH_MODULE
        )));
    }
    let export = match world {
        "micro-plugin" => "micro",
        _ => "guest",
    };
    let name = format!("{world}-js-build");
    let mut text = wit.to_owned();
    text.push_str(&format!(
        "\n/// Written by `lord pdk build`: what the bundle imports.\nworld {name} {{\n"
    ));
    for interface in &used {
        text.push_str(&format!("    import {interface};\n"));
    }
    if http {
        text.push_str(&format!("    import {};\n", sdk::HTTP_IMPORT));
    }
    text.push_str(&format!("    export {export};\n}}\n"));
    Ok(BuildWorld { name, text, http })
}

/// Writes the build world into `build_dir/wit/` (with the `wasi:http`
/// packages under `deps/` when it imports them), replacing what an earlier
/// build left. Returns the folder, which the componentizers read whole.
fn write_world(build_dir: &Path, world: &BuildWorld) -> Result<PathBuf, DevkitError> {
    let dir = build_dir.join("wit");
    // A stale `deps/` would make a world that sends nothing parse packages
    // it does not use.
    let _ = std::fs::remove_dir_all(&dir);
    let deps = dir.join("deps");
    std::fs::create_dir_all(&deps).map_err(DevkitError::io("create", &deps))?;
    let file = dir.join("world.wit");
    std::fs::write(&file, &world.text).map_err(DevkitError::io("write", &file))?;
    if world.http {
        for (name, text) in sdk::http_wit_deps() {
            let path = deps.join(name);
            std::fs::write(&path, text).map_err(DevkitError::io("write", &path))?;
        }
    }
    Ok(dir)
}

/// The engine a bundle that sends HTTP requests can be built with.
///
/// componentize-qjs 0.4.5 instantiates the component while building it
/// (to snapshot the initialised engine) in a linker that has WASI but not
/// `wasi:http`, and that instantiation fails for `wasi:http/types`
/// ("instance export `input-stream` has the wrong type: mismatched
/// resource types"). Tried: any imported interface that uses wasi:io's
/// resources fails the same way, one of our own too, while interfaces
/// without resources (all of `lord:plugin/*` but `ai`, whose own
/// `reply-stream` resource has not been tried there) link.
/// componentize-js builds the same bundle.
fn http_engine(engine: Engine) -> Result<(), DevkitError> {
    match engine {
        Engine::SpiderMonkey => Ok(()),
        Engine::QuickJs => Err(DevkitError::Usage(format!(
            "the code sends HTTP requests (`{}`), which the QuickJS build (componentize-qjs \
             0.4.5) cannot link; build it with `lord pdk build --engine spidermonkey`",
            sdk::FETCH_MODULE
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_world_imports_only_what_the_bundle_names() {
        let js = "import { log } from 'lord:plugin/log@0.2.0';\n\
                  import * as data from \"lord:plugin/data\";\n\
                  // see lord:plugin/secrets in the docs\n\
                  const t = 'lord:plugin/types@0.2.0';";
        let built = trimmed_world("package lord:plugin@0.2.0;\n", "plugin", js).expect("ok");
        assert_eq!(built.name, "plugin-js-build");
        assert!(!built.http);
        let wit = built.text;
        assert!(
            wit.contains("import log;\n    import data;\n    export guest;"),
            "{wit}"
        );
        assert!(
            !wit.contains("import secrets"),
            "a comment is not an import"
        );
        assert!(!wit.contains("import types"));
    }

    #[test]
    fn a_micro_plugin_importing_a_plugin_interface_is_named() {
        let js = "import * as s from 'lord:plugin/shared@0.2.0';";
        let error = trimmed_world("", "micro-plugin", js).expect_err("refused");
        assert!(error.to_string().contains("lord:plugin/shared"), "{error}");
    }

    #[test]
    fn the_build_world_imports_wasi_http_only_when_the_bundle_sends_requests() {
        let fetching = "import { handle } from \"wasi:http/outgoing-handler@0.2.12\";\n\
                        import { log } from 'lord:plugin/log@0.2.0';";
        let built = trimmed_world("", "plugin", fetching).expect("ok");
        assert!(built.http);
        assert!(
            built
                .text
                .contains("import log;\n    import wasi:http/outgoing-handler@0.2.12;\n"),
            "{}",
            built.text
        );
        let quiet = "// fetch from wasi:http/outgoing-handler some day\nconst u = 'https://x/';";
        let built = trimmed_world("", "plugin", quiet).expect("ok");
        assert!(!built.http);
        assert!(!built.text.contains("wasi:http"), "{}", built.text);
        let only_fetch = "import { handle } from 'wasi:http/outgoing-handler@0.2.12';";
        let error = trimmed_world("", "micro-plugin", only_fetch).expect_err("refused");
        assert!(error.to_string().contains("sends HTTP requests"), "{error}");
    }

    #[test]
    fn quickjs_refuses_a_bundle_that_sends_requests_and_names_the_way_out() {
        let error = http_engine(Engine::QuickJs).expect_err("refused");
        assert!(
            error.to_string().contains("--engine spidermonkey"),
            "{error}"
        );
        assert!(http_engine(Engine::SpiderMonkey).is_ok());
    }
}
