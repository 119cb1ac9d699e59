//! The embedding API in one process: what a Rust CLI using `lord-host` sees.
//! Uses the fixture plugins under `plugins/` (build them with
//! `cargo xtask plugins`).

use std::path::{Path, PathBuf};

mod micro;
mod policy;
mod results;

use lord_host::{CommandArg, Failure, Framework, HostConfig, HostError, PluginState};

fn fixture(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../plugins")
        .join(name);
    assert!(
        dir.join("plugin.wasm").is_file(),
        "{} has no plugin.wasm; run `cargo xtask plugins` first",
        dir.display()
    );
    dir
}

struct Setup {
    _home: tempfile::TempDir,
    _project: tempfile::TempDir,
    framework: Framework,
}

impl Setup {
    fn home(&self) -> &Path {
        self._home.path()
    }

    fn project(&self) -> &Path {
        self._project.path()
    }
}

fn setup(plugins: &[&str]) -> Setup {
    let home = tempfile::tempdir().expect("home");
    let project = tempfile::tempdir().expect("project");
    let framework = Framework::open(HostConfig::new(
        home.path().to_path_buf(),
        project.path().to_path_buf(),
    ))
    .expect("framework opens");
    let mut setup = Setup {
        _home: home,
        _project: project,
        framework,
    };
    let rt = runtime();
    for name in plugins {
        let registration = rt
            .block_on(setup.framework.register(&fixture(name), |_| true))
            .expect("installs");
        assert_eq!(registration.plugin.state, PluginState::Enabled);
    }
    setup
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn arg(name: &str, value: &str) -> Vec<CommandArg> {
    vec![CommandArg {
        name: name.to_owned(),
        values: vec![value.to_owned()],
    }]
}

#[test]
fn no_data_leaks_between_calls_to_the_same_plugin() {
    let mut s = setup(&["hostile/snoop"]);
    let rt = runtime();
    for secret in ["first", "second", "third"] {
        let out = rt
            .block_on(s.framework.run_command("snoop", arg("secret", secret)))
            .expect("runs");
        assert_eq!(out.text, "earlier calls left: []\n");
    }
}

#[test]
fn the_loaded_form_is_reused_in_process_until_unloaded() {
    let mut s = setup(&["hello"]);
    let rt = runtime();
    let id = "hello".parse().expect("id");
    s.framework.unload(&id);
    rt.block_on(s.framework.run_command("hello", arg("name", "a")))
        .expect("runs");
    assert!(s.framework.unload(&id), "the first call loaded it");
    assert!(!s.framework.unload(&id), "unload forgets it");
}

/// Whether a failure is the one a fixture should cause.
type IsExpected = fn(&Failure) -> bool;

#[test]
fn the_process_goes_on_after_each_hostile_plugin_fails() {
    let mut s = setup(&[
        "hello",
        "hostile/spin",
        "hostile/membomb",
        "hostile/recurse",
        "hostile/flood",
    ]);
    let rt = runtime();
    let cases: [(&str, IsExpected); 4] = [
        ("spin", |f| matches!(f, Failure::TimeLimit { .. })),
        ("membomb", |f| matches!(f, Failure::MemoryLimit { .. })),
        ("recurse", |f| matches!(f, Failure::StackLimit)),
        ("flood", |f| matches!(f, Failure::OutputLimit { .. })),
    ];
    for (command, expected) in cases {
        match rt.block_on(s.framework.run_command(command, vec![])) {
            Err(HostError::Call(e)) => {
                assert!(expected(&e.failure), "{command}: {e}");
                assert_eq!(e.plugin.as_str(), command);
            }
            other => panic!("{command}: expected a typed failure, got {other:?}"),
        }
        let hello = rt
            .block_on(s.framework.run_command("hello", arg("name", "still here")))
            .expect("hello works after a hostile call");
        assert_eq!(hello.text, "Hello, still here!\n");
    }
}

/// The host records what a CLI neutralised in a plugin's output, so it
/// can be shown later; the host itself neither looks nor changes a byte.
#[test]
fn neutralised_output_is_recorded_in_the_plugins_audit_log() {
    let mut s = setup(&["hello"]);
    let id = lord_manifest::PluginId::new("hello").expect("id");
    let outcome = runtime()
        .block_on(
            s.framework
                .run_command("hello", arg("name", "\u{1b}]0;t\u{7}")),
        )
        .expect("runs");
    assert_eq!(
        outcome.text, "Hello, \u{1b}]0;t\u{7}!\n",
        "the host changed output"
    );
    s.framework
        .record_output_neutralised(&id, "OSC 0 (window title)")
        .expect("recorded");
    let log = s.framework.audit_log(&id).expect("audit log");
    let last = log.last().expect("an entry");
    assert_eq!(last.action, lord_host::OUTPUT_NEUTRALISED);
    assert_eq!(last.detail, "OSC 0 (window title)");
}

/// The one-shot path a CLI takes: the engine begun before the store
/// opens, the plugin loaded on the engine's thread, the process closed
/// without tearing down. Each step must leave the same results as the
/// plain path, and the next process must find the home intact.
#[test]
fn an_engine_started_early_runs_the_warmed_plugin_and_the_home_survives_closing_for_exit() {
    let s = setup(&["hello"]);
    let home = s._home.path().to_path_buf();
    let project = s._project.path().to_path_buf();
    drop(s.framework);
    let rt = runtime();
    let open = || {
        Framework::open_starting_engine(HostConfig::new(home.clone(), project.clone()))
            .expect("framework opens")
    };
    for name in ["first", "second"] {
        let mut framework = open();
        assert!(!framework.warm_up_for("no-such-command").expect("looks up"));
        assert!(framework.warm_up_for("hello").expect("looks up"));
        let out = rt
            .block_on(framework.run_command("hello", arg("name", name)))
            .expect("runs");
        assert_eq!(out.text, format!("Hello, {name}!\n"));
        framework.flush_events().expect("events written");
        framework.close_for_exit();
    }
    // An engine begun for a process that then runs nothing is dropped
    // with its framework.
    drop(open());
    let mut framework = Framework::open(HostConfig::new(home, project)).expect("reopens");
    let id = "hello".parse().expect("id");
    let out = rt
        .block_on(framework.run_command("hello", arg("name", "again")))
        .expect("runs after the early closes");
    assert_eq!(out.text, "Hello, again!\n");
    assert!(framework.unload(&id), "it was loaded");
}

/// An install planned before another install of the same id (the consent
/// prompt waits as long as the user takes) installs nothing and clears
/// nothing of the plugin installed meanwhile.
#[test]
fn a_plan_overtaken_by_an_install_of_its_id_clears_nothing() {
    let mut s = setup(&[]);
    let late = s.framework.plan_install(&fixture("hello")).expect("plan");
    let first = s.framework.plan_install(&fixture("hello")).expect("plan");
    let rt = runtime();
    rt.block_on(s.framework.install(first)).expect("installs");
    let data = s.home().join("data/hello");
    std::fs::create_dir_all(&data).expect("data folder");
    std::fs::write(data.join("kept"), b"the installed plugin's").expect("write");
    let refused = rt
        .block_on(s.framework.install(late))
        .expect_err("already installed");
    assert!(
        refused.to_string().contains("already installed"),
        "{refused}"
    );
    assert!(
        data.join("kept").is_file(),
        "the installed plugin's data was cleared"
    );
}

/// A folder holding an executable `sh` (a script that runs nothing).
fn program_dir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("program dir");
    let sh = dir.path().join("sh");
    std::fs::write(&sh, "#!/bin/true\n").expect("program");
    std::fs::set_permissions(&sh, std::fs::Permissions::from_mode(0o755)).expect("mode");
    dir
}

/// An update keeps the file the user granted for `exec(sh)`, whatever
/// `PATH` finds first now; only `lord plugin regrant` changes it.
#[test]
fn an_update_runs_the_program_granted_not_the_one_path_finds_now() {
    let home = tempfile::tempdir().expect("home");
    let project = tempfile::tempdir().expect("project");
    std::fs::create_dir(project.path().join(".git")).expect("marker");
    let (granted, shadow) = (program_dir(), program_dir());
    // A framework on `home` whose PATH is `path`.
    let open = |home: &Path, path: String| {
        let mut config = HostConfig::new(home.to_path_buf(), project.path().to_path_buf());
        config.env = vec![("PATH".to_owned(), path)];
        Framework::open(config).expect("opens")
    };
    let mut first = open(home.path(), granted.path().display().to_string());
    runtime()
        .block_on(first.register(&fixture("hostile/execsh"), |_| true))
        .expect("installs");
    drop(first);
    let granted_sh = granted.path().join("sh").canonicalize().expect("sh");

    // Another `sh` now comes first on PATH.
    let path = format!("{}:{}", shadow.path().display(), granted.path().display());
    let env = vec![("PATH".to_owned(), path.clone())];
    let found_now = lord_host::resolve_program("sh", &env).expect("found");
    assert_ne!(found_now, granted_sh, "the shadow comes first");
    let later = open(home.path(), path);
    let update = tempfile::tempdir().expect("update");
    let src = fixture("hostile/execsh");
    std::fs::copy(src.join("plugin.wasm"), update.path().join("plugin.wasm")).expect("copy");
    let manifest = std::fs::read_to_string(src.join("plugin.toml")).expect("manifest");
    std::fs::write(
        update.path().join("plugin.toml"),
        manifest.replace("version = \"0.1.0\"", "version = \"0.1.1\""),
    )
    .expect("manifest");
    let plan = later.plan_replace(update.path()).expect("plan");
    let programs: Vec<_> = plan.programs.iter().map(|p| p.path.clone()).collect();
    assert_eq!(programs, vec![granted_sh]);

    // Granted where `sh` was not found, nothing was recorded; one planted
    // on PATH since is not taken up by an update either.
    let home = tempfile::tempdir().expect("home");
    let empty = tempfile::tempdir().expect("empty PATH");
    let mut first = open(home.path(), empty.path().display().to_string());
    runtime()
        .block_on(first.register(&fixture("hostile/execsh"), |_| true))
        .expect("installs");
    drop(first);
    let planted = open(home.path(), shadow.path().display().to_string());
    let plan = planted.plan_replace(update.path()).expect("plan");
    assert!(plan.programs.is_empty(), "{:?}", plan.programs);
}
