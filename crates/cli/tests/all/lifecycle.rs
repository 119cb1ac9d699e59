//! The honest path: install, run, list, disable, enable, remove, all
//! persisting across processes.

use crate::support::{Lord, fixture, variant};

#[test]
fn hello_installs_runs_and_its_state_persists_across_processes() {
    let lord = Lord::new();
    lord.install("hello")
        .assert_stderr_contains("installed hello 0.1.0 (enabled)");
    lord.assert_hello_works();

    let list = lord.list();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], "hello");
    assert_eq!(list[0]["state"], "enabled");
    assert_eq!(list[0]["risk"], "low");

    lord.run(&["plugin", "disable", "hello"]).assert_ok();
    assert_eq!(lord.info("hello")["state"], "disabled");
    lord.run(&["hello", "World"])
        .assert_code(2)
        .assert_stderr_contains("lord plugin enable hello");

    lord.run(&["plugin", "enable", "hello"]).assert_ok();
    assert_eq!(lord.info("hello")["state"], "enabled");
    lord.assert_hello_works();

    lord.run(&["plugin", "remove", "hello"]).assert_ok();
    assert!(lord.list().is_empty());
    lord.run(&["hello", "World"]).assert_code(2);
    // Removal leaves no files behind.
    let plugins_dir = lord.home.path().join("plugins");
    let leftovers: Vec<_> = std::fs::read_dir(&plugins_dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
}

#[test]
fn help_lists_plugin_commands_from_manifests_without_loading_plugins() {
    let lord = Lord::new();
    lord.install("hello");
    lord.install("hostile/failing");
    let help = lord.run(&["--help"]);
    help.assert_ok();
    let text = help.stdout();
    assert!(
        text.contains("hello") && text.contains("Greet someone by name"),
        "{text}"
    );
    assert!(text.contains("failing"), "{text}");
    // Building help ran no plugin code: a plugin that fails on every call has
    // no failure recorded.
    assert_eq!(lord.info("failing")["consecutive_failures"], 0);
    // A plugin command's own help comes from its manifest too.
    let sub = lord.run(&["hello", "--help"]);
    sub.assert_ok();
    assert!(sub.stdout().contains("Who to greet"), "{}", sub.stdout());
}

#[test]
fn lord_home_relocates_every_piece_of_state() {
    let lord = Lord::new();
    let fake_user_home = tempfile::tempdir().expect("temp user home");
    let mut cmd = lord.command(&[
        "plugin",
        "install",
        fixture("hello").to_str().expect("utf-8"),
        "--yes",
    ]);
    cmd.env("HOME", fake_user_home.path())
        .env("XDG_DATA_HOME", fake_user_home.path().join("data"))
        .env("XDG_CACHE_HOME", fake_user_home.path().join("cache"))
        .env("TMPDIR", lord.home.path().join("tmp"));
    std::fs::create_dir_all(lord.home.path().join("tmp")).expect("tmp");
    lord.run_cmd(&mut cmd).assert_ok();
    let mut run = lord.command(&["hello", "there"]);
    run.env("HOME", fake_user_home.path())
        .env("XDG_DATA_HOME", fake_user_home.path().join("data"))
        .env("TMPDIR", lord.home.path().join("tmp"));
    lord.run_cmd(&mut run).assert_ok();
    let stray: Vec<_> = walk(fake_user_home.path());
    assert!(
        stray.is_empty(),
        "state written outside LORD_HOME: {stray:?}"
    );
    assert!(lord.home.path().join("lord.db").is_file());
    assert!(lord.home.path().join("cache").is_dir());
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}

#[test]
fn workspace_reports_the_kind_of_project_from_its_fs_read_grant() {
    let lord = Lord::new();
    std::fs::write(lord.project.path().join("Cargo.toml"), "[package]\n").expect("write");
    std::fs::write(lord.project.path().join("package.json"), "{}").expect("write");
    std::fs::create_dir(lord.project.path().join(".git")).expect("mkdir");
    lord.install("workspace")
        .assert_stderr_contains("fs-read($PROJECT)");
    let run = lord.run(&["workspace"]);
    run.assert_ok();
    let out = run.stdout();
    assert!(out.contains("Cargo (Rust)"), "{out}");
    assert!(out.contains("npm"), "{out}");
    assert!(out.contains("git repository"), "{out}");
    assert!(!out.contains("Python"), "{out}");
}

#[test]
fn a_corrupted_compiled_cache_entry_is_set_aside_and_rebuilt() {
    let lord = Lord::new();
    lord.install("hello");
    let entries: Vec<_> = walk(&lord.home.path().join("cache"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    std::fs::write(&entries[0], b"not a compiled component").expect("corrupt");
    lord.assert_hello_works();
    let after = walk(&lord.home.path().join("cache"));
    assert!(
        after
            .iter()
            .any(|p| p.to_string_lossy().ends_with(".corrupt")),
        "{after:?}"
    );
    assert!(entries[0].is_file(), "the entry was rebuilt");
    lord.assert_hello_works();
}

/// The cached compiled code of one plugin, by its component's SHA-256.
fn cache_entry(lord: &Lord, id: &str) -> std::path::PathBuf {
    let sha = lord.info(id)["wasm_sha256"]
        .as_str()
        .expect("sha")
        .to_owned();
    walk(&lord.home.path().join("cache"))
        .into_iter()
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n == format!("{sha}.cwasm").as_str())
        })
        .expect("a cache entry")
}

/// Another plugin's compiled code copied over this one's, with its tag, is
/// refused by the tag (it binds the entry to the component it was
/// compiled from): the plugin runs its own code, rebuilt.
#[test]
fn a_swapped_cache_entry_runs_the_right_plugins_code() {
    let lord = Lord::new();
    lord.install("hello");
    lord.install("workspace");
    let hello = cache_entry(&lord, "hello");
    let workspace = cache_entry(&lord, "workspace");
    std::fs::copy(&workspace, &hello).expect("swap the code");
    std::fs::copy(workspace.with_extension("tag"), hello.with_extension("tag"))
        .expect("swap the tag");
    lord.assert_hello_works();
    assert!(
        hello.with_extension("cwasm.corrupt").is_file(),
        "the swapped entry was set aside"
    );
    lord.assert_hello_works();
}

/// One flipped bit in compiled code (a failing disk) is caught by the tag
/// before the code is loaded.
#[test]
fn a_bit_flipped_cache_entry_is_set_aside_and_rebuilt() {
    let lord = Lord::new();
    lord.install("hello");
    let entry = cache_entry(&lord, "hello");
    let mut bytes = std::fs::read(&entry).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    std::fs::write(&entry, &bytes).expect("flip");
    lord.assert_hello_works();
    assert!(entry.with_extension("cwasm.corrupt").is_file());
    let rebuilt = std::fs::read(&entry).expect("rebuilt");
    assert_ne!(rebuilt, bytes, "the entry was rebuilt, not kept");
    lord.assert_hello_works();
}

#[test]
fn a_sealed_cache_entry_changed_in_place_is_still_caught() {
    // An entry left alone for a while is sealed by the load that verified
    // it, and later loads skip rehashing it. A change made in place after
    // that, keeping the size, must still be caught.
    let lord = Lord::new();
    lord.install("hello");
    let entry = cache_entry(&lord, "hello");
    std::thread::sleep(std::time::Duration::from_millis(2500));
    lord.assert_hello_works();
    let tag = std::fs::read_to_string(entry.with_extension("tag")).expect("tag");
    assert_eq!(
        tag.lines().count(),
        3,
        "the verified entry was not sealed: {tag}"
    );
    lord.assert_hello_works();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .open(&entry)
        .expect("open");
    let len = file.metadata().expect("size").len();
    std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(len / 2)).expect("seek");
    std::io::Write::write_all(&mut file, &[0xAB; 8]).expect("flip in place");
    drop(file);
    lord.assert_hello_works();
    assert!(
        entry.with_extension("cwasm.corrupt").is_file(),
        "the changed entry was loaded"
    );
}

#[test]
fn a_component_changed_on_disk_after_install_is_refused() {
    let lord = Lord::new();
    lord.install("hello");
    // Drop the compiled cache so the component file itself is read again,
    // then swap it for another plugin's bytes.
    std::fs::remove_dir_all(lord.home.path().join("cache")).expect("drop cache");
    let installed: Vec<_> = walk(&lord.home.path().join("plugins"))
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "plugin.wasm"))
        .collect();
    assert_eq!(installed.len(), 1);
    std::fs::copy(fixture("hostile/spin").join("plugin.wasm"), &installed[0]).expect("swap");
    let run = lord.run(&["hello", "World"]);
    assert_ne!(run.code(), Some(0));
    run.assert_stderr_contains("reinstall the plugin");
}

#[test]
fn two_plugins_declaring_the_same_command_are_refused_on_the_second_install() {
    let lord = Lord::new();
    lord.install("hello");
    let twin = variant("hello", |m| {
        m.replace("id = \"hello\"", "id = \"hello-twin\"")
    });
    lord.run(&[
        "plugin",
        "install",
        twin.path().to_str().expect("utf-8"),
        "--yes",
    ])
    .assert_code(2)
    .assert_stderr_contains("command `hello` is already provided by plugin `hello`");
    assert_eq!(lord.list().len(), 1);
    lord.assert_hello_works();
}
