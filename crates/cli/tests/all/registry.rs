//! The registry end to end: `lord registry serve` as a real process on a
//! loopback port, `lord registry token create`, `lord pdk publish`,
//! `lord plugin search`, and `schemathesis` (from PyPI) fuzzing the served
//! OpenAPI document with a real token and a real published plugin.

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, ChildStderr, Command, Stdio};

use crate::support::{Lord, fixture};

/// A `lord registry serve` process, killed (by pid) on drop.
pub(crate) struct Served {
    child: Child,
    pub(crate) url: String,
    pub(crate) data: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `command`, a `lord registry serve`, and waits for the line in
/// which it says where it listens: the process, its URL, and the rest of
/// its standard error.
pub(crate) fn listening(mut command: Command) -> (Child, String, BufReader<ChildStderr>) {
    let mut child = command
        .stderr(Stdio::piped())
        .spawn()
        .expect("lord registry serve");
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    stderr
        .read_line(&mut line)
        .expect("the server says where it listens");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://") || w.starts_with("https://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_owned();
    (child, url, stderr)
}

impl Served {
    pub(crate) fn start(lord: &Lord) -> Self {
        let data = tempfile::tempdir().expect("registry data");
        let (child, url, _) = listening(lord.command(&[
            "registry",
            "serve",
            "--data",
            data.path().to_str().expect("utf-8"),
            "--listen",
            "127.0.0.1:0",
        ]));
        Self { child, url, data }
    }

    pub(crate) fn token(&self, lord: &Lord, scope: &str) -> String {
        let run = lord.run(&[
            "registry",
            "token",
            "create",
            "--scope",
            scope,
            "--data",
            self.data.path().to_str().expect("utf-8"),
        ]);
        run.assert_ok();
        run.stdout().trim().to_owned()
    }

    /// Packs, signs (with `lord`'s default key, made if missing) and
    /// publishes the plugin folder `dir`.
    pub(crate) fn publish(&self, lord: &Lord, dir: &Path, token: &str) -> crate::support::Run {
        publish_to(lord, dir, &self.url, token)
    }
}

/// Packs, signs (with `lord`'s default key, made if missing) and
/// publishes the plugin folder `dir` to the registry at `url`.
pub(crate) fn publish_to(lord: &Lord, dir: &Path, url: &str, token: &str) -> crate::support::Run {
    {
        if !lord.home.path().join("keys/default.secret").exists() {
            lord.run(&["key", "generate"]).assert_ok();
        }
        let out = tempfile::tempdir().expect("out");
        let packed = lord.run(&[
            "pdk",
            "pack",
            dir.to_str().expect("utf-8"),
            "-o",
            out.path().to_str().expect("utf-8"),
            "--json",
        ]);
        packed.assert_ok();
        let report: serde_json::Value = serde_json::from_str(&packed.stdout()).expect("json");
        let package = report["path"].as_str().expect("path").to_owned();
        lord.run(&["pdk", "sign", &package]).assert_ok();
        let mut cmd = lord.command(&["pdk", "publish", &package, "--registry", url]);
        cmd.env("LORD_REGISTRY_TOKEN", token);
        lord.run_cmd(&mut cmd)
    }
}

#[test]
fn publish_then_search_through_the_cli() {
    let lord = Lord::new();
    let served = Served::start(&lord);
    let token = served.token(&lord, "publish:*");
    assert!(token.starts_with("lrt_"));

    served
        .publish(&lord, &fixture("hello"), &token)
        .assert_ok()
        .assert_stderr_contains("published hello 0.1.0");
    // The same version again is refused, and says why.
    served
        .publish(&lord, &fixture("hello"), &token)
        .assert_code(2)
        .assert_stderr_contains("already published");
    // Without a token: told how to get one, and the token never shows.
    lord.run(&["pdk", "publish", "x.lordpkg", "--registry", &served.url])
        .assert_code(2)
        .assert_stderr_contains("LORD_REGISTRY_TOKEN");

    let found = lord.run(&[
        "plugin",
        "search",
        "greet",
        "--registry",
        &served.url,
        "--json",
    ]);
    found.assert_ok();
    let page: serde_json::Value = serde_json::from_str(&found.stdout()).expect("json");
    assert_eq!(page["total"], 1);
    assert_eq!(page["hits"][0]["id"], "hello");

    // registry.url from the configuration.
    lord.run(&["config", "set", "registry.url", &served.url])
        .assert_ok();
    let text = lord.run(&["plugin", "search", "hello"]);
    text.assert_ok();
    assert!(text.stdout().starts_with("hello"), "{}", text.stdout());
    let none = lord.run(&["plugin", "search", "zzzz-nothing"]);
    assert_eq!(none.stdout(), "no plugins found\n");
}

fn have_schemathesis() -> bool {
    Command::new("schemathesis")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn schemathesis_finds_no_server_error() {
    if !have_schemathesis() {
        // The rule against reading the environment directly is for the CLI's
        // own code; a test harness asks whether it runs in CI.
        #[allow(clippy::disallowed_methods)]
        let in_ci = std::env::var_os("CI").is_some();
        assert!(
            !in_ci,
            "CI must install schemathesis (pip install schemathesis)"
        );
        eprintln!("skipping: schemathesis is not installed (pip install schemathesis)");
        return;
    }
    let lord = Lord::new();
    let served = Served::start(&lord);
    let token = served.token(&lord, "publish:*");
    served.publish(&lord, &fixture("hello"), &token).assert_ok();
    let output = Command::new("schemathesis")
        .args([
            "run",
            &format!("{}/api/v1/openapi.json", served.url),
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "40",
            "--header",
            &format!("Authorization: Bearer {token}"),
        ])
        .current_dir(lord.project.path())
        .env("SCHEMATHESIS_HOOKS", "")
        .output()
        .expect("schemathesis runs");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found failures:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(report.contains("passed"), "{report}");
}

/// A copy of hello as plugin `id` at `version`, needing `host_api`, with
/// `deps` appended as its `[dependencies]`; its command and micro-plugin
/// are renamed so several can be installed together.
pub(crate) fn flavour(
    id: &str,
    version: &str,
    host_api: &str,
    deps: &[(&str, &str)],
) -> tempfile::TempDir {
    let (id, version, host_api) = (id.to_owned(), version.to_owned(), host_api.to_owned());
    let deps: Vec<(String, String)> = deps
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
    crate::support::variant("hello", move |text| {
        let mut text = text
            .replace("id = \"hello\"", &format!("id = \"{id}\""))
            .replace("version = \"0.1.0\"", &format!("version = \"{version}\""))
            .replace("host-api = \"^0.2\"", &format!("host-api = \"{host_api}\""))
            .replace("name = \"hello\"", &format!("name = \"{id}-cmd\""))
            .replace("id = \"greet\"", &format!("id = \"{id}-greet\""));
        if !deps.is_empty() {
            text.push_str("\n[dependencies]\n");
            for (dep, range) in &deps {
                text.push_str(&format!("{dep} = \"{range}\"\n"));
            }
        }
        text
    })
}

/// A registry holding base 1.0.0, 1.1.0 and 2.0.0 (which needs a newer
/// host API), app 1.0.0 (needs base ^1) and other 1.0.0 (needs base ^2),
/// all signed by `author`'s key.
pub(crate) fn stocked(author: &Lord) -> Served {
    let served = Served::start(author);
    let token = served.token(author, "publish:*");
    for dir in [
        flavour("base", "1.0.0", "^0.2", &[]),
        flavour("base", "1.1.0", "^0.2", &[]),
        flavour("base", "2.0.0", "^0.3", &[]),
        flavour("app", "1.0.0", "^0.2", &[("base", "^1")]),
        flavour("other", "1.0.0", "^0.2", &[("base", "^2")]),
    ] {
        served.publish(author, dir.path(), &token).assert_ok();
    }
    served
}

/// A user home that trusts `author`'s key.
pub(crate) fn trusting(author: &Lord) -> Lord {
    if !author.home.path().join("keys/default.secret").exists() {
        author.run(&["key", "generate"]).assert_ok();
    }
    let user = Lord::new();
    let exported = author.run(&["key", "export"]);
    let file = user.project.path().join("author.pub");
    std::fs::write(&file, exported.stdout()).expect("key");
    user.run(&["key", "trust", file.to_str().expect("utf-8")])
        .assert_ok();
    user
}

#[test]
fn install_by_id_resolves_dependencies_and_installs_them_first() {
    let author = Lord::new();
    let served = stocked(&author);
    let user = trusting(&author);

    let run = user.run(&[
        "plugin",
        "install",
        "app",
        "--registry",
        &served.url,
        "--yes",
    ]);
    run.assert_ok();
    let stderr = run.stderr();
    let base_at = stderr.find("installed base 1.1.0").expect(&stderr);
    let app_at = stderr.find("installed app 1.0.0").expect(&stderr);
    assert!(
        base_at < app_at,
        "a dependency was installed after its dependent:\n{stderr}"
    );
    let installed: Vec<(String, String)> = user
        .list()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().expect("id").to_owned(),
                p["version"].as_str().expect("version").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        installed,
        [
            ("app".to_owned(), "1.0.0".to_owned()),
            ("base".to_owned(), "1.1.0".to_owned())
        ]
    );

    // Again: nothing to do.
    user.run(&[
        "plugin",
        "install",
        "app",
        "--registry",
        &served.url,
        "--yes",
    ])
    .assert_ok()
    .assert_stderr_contains("app 1.0.0 is already installed");

    // A pinned version, and a conflict explained in sentences.
    user.run(&["plugin", "remove", "app"]).assert_ok();
    let conflict = user.run(&[
        "plugin",
        "install",
        "other",
        "--registry",
        &served.url,
        "--yes",
    ]);
    conflict.assert_code(2);
    let message = conflict.stderr();
    assert!(
        message.contains("other") && message.contains("base") && message.contains("host API"),
        "{message}"
    );
    assert_eq!(user.list().len(), 1, "a failed install changed the store");
}

#[test]
fn install_by_id_refuses_packages_signed_by_an_untrusted_key() {
    let author = Lord::new();
    let served = stocked(&author);
    let stranger = Lord::new();
    stranger
        .run(&[
            "plugin",
            "install",
            "base@=1.0.0",
            "--registry",
            &served.url,
            "--yes",
        ])
        .assert_code(2)
        .assert_stderr_contains("which you do not trust");
    assert!(stranger.list().is_empty());
}

#[test]
fn two_concurrent_installs_of_the_same_plugin_both_succeed() {
    let author = Lord::new();
    let served = stocked(&author);
    let user = trusting(&author);
    let children: Vec<_> = (0..2)
        .map(|_| {
            user.command(&[
                "plugin",
                "install",
                "app",
                "--registry",
                &served.url,
                "--yes",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("lord runs")
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().expect("lord ends");
        assert!(
            output.status.success(),
            "a concurrent install failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let mut ids: Vec<String> = user
        .list()
        .iter()
        .map(|p| p["id"].as_str().expect("id").to_owned())
        .collect();
    ids.sort();
    assert_eq!(ids, ["app", "base"]);
}

pub(crate) fn version_of(lord: &Lord, id: &str) -> String {
    lord.info(id)["version"]
        .as_str()
        .expect("version")
        .to_owned()
}

#[test]
fn outdated_update_and_rollback() {
    let author = Lord::new();
    let served = stocked(&author);
    let user = trusting(&author);
    let url = served.url.clone();
    user.run(&[
        "plugin",
        "install",
        "base@=1.0.0",
        "--registry",
        &url,
        "--yes",
    ])
    .assert_ok();

    let outdated = user.run(&["plugin", "outdated", "--registry", &url, "--json"]);
    outdated.assert_ok();
    let rows: serde_json::Value = serde_json::from_str(&outdated.stdout()).expect("json");
    // 2.0.0 needs a newer host API, so 1.1.0 is the newest usable.
    assert_eq!(rows[0]["id"], "base");
    assert_eq!(rows[0]["latest"], "1.1.0");

    user.run(&["plugin", "update", "--registry", &url, "--yes"])
        .assert_ok()
        .assert_stderr_contains("updated base 1.0.0 -> 1.1.0");
    assert_eq!(version_of(&user, "base"), "1.1.0");
    user.run(&["plugin", "update", "base", "--registry", &url])
        .assert_ok()
        .assert_stderr_contains("base is up to date");

    // Rollback is instant and undoable; the audit log says so.
    user.run(&["plugin", "rollback", "base"])
        .assert_ok()
        .assert_stderr_contains("rolled base back from 1.1.0 to 1.0.0");
    assert_eq!(version_of(&user, "base"), "1.0.0");
    user.run(&["plugin", "rollback", "base"]).assert_ok();
    assert_eq!(version_of(&user, "base"), "1.1.0");
    assert!(
        user.info("base")["history"]
            .to_string()
            .contains("rolled back")
    );

    // Pruning forgets the earlier build and frees its folder.
    let kept = |lord: &Lord| {
        std::fs::read_dir(lord.home.path().join("plugins/base")).map_or(0, |d| d.count())
    };
    assert_eq!(kept(&user), 2);
    user.run(&["plugin", "prune", "base"])
        .assert_ok()
        .assert_stderr_contains("deleted 1 earlier builds");
    assert_eq!(kept(&user), 1);
    user.run(&["plugin", "rollback", "base"])
        .assert_code(2)
        .assert_stderr_contains("no earlier build");
    assert_eq!(version_of(&user, "base"), "1.1.0");

    // A plugin with no earlier build says so.
    let fresh = trusting(&author);
    fresh
        .run(&["plugin", "install", "base", "--registry", &url, "--yes"])
        .assert_ok();
    fresh
        .run(&["plugin", "rollback", "base"])
        .assert_code(2)
        .assert_stderr_contains("no earlier build");
}

/// hello as plugin `cased` at `version` (keeping the `hello` command), with
/// extra `permissions` and a `tests/cases.toml` expecting `expected`.
fn cased(version: &str, permissions: &str, expected: &str) -> tempfile::TempDir {
    let (version, permissions) = (version.to_owned(), permissions.to_owned());
    let dir = crate::support::variant("hello", move |text| {
        text.replace("id = \"hello\"", "id = \"cased\"")
            .replace("version = \"0.1.0\"", &format!("version = \"{version}\""))
            .replace("id = \"greet\"", "id = \"cased-greet\"")
            .replace("request = []", &format!("request = [{permissions}]"))
    });
    std::fs::create_dir_all(dir.path().join("tests")).expect("tests");
    std::fs::write(
        dir.path().join("tests/cases.toml"),
        format!(
            "[[case]]\nname = \"greets the world\"\ncommand = \"hello\"\n\
             args = {{ name = [\"World\"] }}\nstdout = {expected:?}\n"
        ),
    )
    .expect("cases");
    dir
}

#[test]
fn an_update_that_fails_its_cases_or_widens_permissions_is_not_kept() {
    let author = Lord::new();
    let served = Served::start(&author);
    let token = served.token(&author, "publish:*");
    let user = trusting(&author);
    let url = served.url.clone();
    let publish = |dir: &tempfile::TempDir| {
        served.publish(&author, dir.path(), &token).assert_ok();
    };

    publish(&cased("1.0.0", "", "Hello, World!\n"));
    user.run(&["plugin", "install", "cased", "--registry", &url, "--yes"])
        .assert_ok();

    // 1.1.0 declares a case its own build fails: switched back by itself.
    publish(&cased("1.1.0", "", "Goodbye, World!\n"));
    user.run(&["plugin", "update", "cased", "--registry", &url, "--yes"])
        .assert_code(3)
        .assert_stderr_contains("failed its test case `greets the world`")
        .assert_stderr_contains("switched back to 1.0.0");
    assert_eq!(version_of(&user, "cased"), "1.0.0");
    let hello = user.run(&["hello", "World"]);
    hello.assert_ok();
    assert_eq!(hello.stdout(), "Hello, World!\n");

    // 1.2.0 asks for more: not without consent, and never silently.
    publish(&cased("1.2.0", "\"env(LORD_GREETING)\"", "Hello, World!\n"));
    user.run(&["plugin", "update", "cased", "--registry", &url])
        .assert_code(2)
        .assert_stderr_contains("+ env(LORD_GREETING)")
        .assert_stderr_contains("asks for new permissions");
    assert_eq!(version_of(&user, "cased"), "1.0.0");
    user.run(&["plugin", "update", "cased", "--registry", &url, "--yes"])
        .assert_ok()
        .assert_stderr_contains("updated cased 1.0.0 -> 1.2.0 (1 test cases passed)");
    assert_eq!(version_of(&user, "cased"), "1.2.0");

    // 1.3.0 drops that permission again: the diff shows it going.
    publish(&cased("1.3.0", "", "Hello, World!\n"));
    user.run(&["plugin", "update", "cased", "--registry", &url])
        .assert_ok()
        .assert_stderr_contains("- env(LORD_GREETING)");
    assert_eq!(version_of(&user, "cased"), "1.3.0");
}

/// An update's cases run in the user's home, where commands are found by
/// name among every plugin: a case naming another plugin's command (here
/// `notes`'s `note`, which writes) would run it under that plugin's
/// grants. The package is refused, and nothing runs.
#[test]
fn an_update_whose_cases_run_another_plugins_command_is_refused() {
    let author = Lord::new();
    let served = Served::start(&author);
    let token = served.token(&author, "publish:*");
    let user = trusting(&author);
    let url = served.url.clone();
    user.install("notes");
    served
        .publish(
            &author,
            cased("1.0.0", "", "Hello, World!\n").path(),
            &token,
        )
        .assert_ok();
    user.run(&["plugin", "install", "cased", "--registry", &url, "--yes"])
        .assert_ok();

    let hostile = cased("1.1.0", "", "Hello, World!\n");
    std::fs::write(
        hostile.path().join("tests/cases.toml"),
        "[[case]]\nname = \"plants a note\"\ncommand = \"note\"\n\
         args = { text = [\"planted by cased\"] }\n",
    )
    .expect("cases");
    served.publish(&author, hostile.path(), &token).assert_ok();
    user.run(&["plugin", "update", "cased", "--registry", &url, "--yes"])
        .assert_code(2)
        .assert_stderr_contains("runs the command `note`, which `cased` does not declare");
    assert_eq!(version_of(&user, "cased"), "1.0.0");
    let notes = user.run(&["notes"]);
    notes.assert_ok();
    assert!(!notes.stdout().contains("planted"), "{}", notes.stdout());
}

#[test]
fn lord_install_writes_a_lock_and_locked_reproduces_it_exactly() {
    let author = Lord::new();
    let served = stocked(&author);
    let url = served.url.clone();
    let first = trusting(&author);
    std::fs::write(
        first.project.path().join("lord.toml"),
        "[requires]\napp = \"^1\"\n",
    )
    .expect("lord.toml");
    first
        .run(&["install", "--registry", &url, "--yes"])
        .assert_ok()
        .assert_stderr_contains("wrote lord.lock (2 plugins)");
    let lock = std::fs::read_to_string(first.project.path().join("lord.lock")).expect("lock");
    assert!(
        lock.contains("id = \"base\"") && lock.contains("version = \"1.1.0\""),
        "{lock}"
    );
    assert!(
        lock.contains("signature = \""),
        "the lock records no signature: {lock}"
    );
    first
        .run(&["install", "--registry", &url, "--yes", "--locked"])
        .assert_ok()
        .assert_stderr_contains("lord.lock is up to date");

    // A newer base appears; a second machine with the lock still gets 1.1.0.
    let token = served.token(&author, "publish:*");
    served
        .publish(
            &author,
            flavour("base", "1.2.0", "^0.2", &[]).path(),
            &token,
        )
        .assert_ok();
    let second = trusting(&author);
    for file in ["lord.toml", "lord.lock"] {
        std::fs::copy(
            first.project.path().join(file),
            second.project.path().join(file),
        )
        .expect("copy");
    }
    second
        .run(&["install", "--registry", &url, "--yes", "--locked"])
        .assert_ok();
    assert_eq!(version_of(&second, "base"), "1.1.0");
    assert_eq!(
        std::fs::read_to_string(second.project.path().join("lord.lock")).expect("lock"),
        lock,
        "--locked changed the lock"
    );

    // A lock whose digest was edited is refused; nothing installs.
    let third = trusting(&author);
    std::fs::copy(
        first.project.path().join("lord.toml"),
        third.project.path().join("lord.toml"),
    )
    .expect("copy");
    let digest_line = lock
        .lines()
        .find(|l| l.starts_with("digest"))
        .expect("a digest line");
    let forged = lock.replacen(digest_line, &format!("digest = \"{}\"", "0".repeat(64)), 1);
    std::fs::write(third.project.path().join("lord.lock"), forged).expect("forged");
    third
        .run(&["install", "--registry", &url, "--yes", "--locked"])
        .assert_code(2)
        .assert_stderr_contains("refusing it");
    assert!(third.list().is_empty());

    // The version alone does not say which build runs: a machine holding
    // base 1.1.0 built from its folder gets the pinned package in its place.
    let pinned = first.info("base")["package_sha256"].clone();
    assert!(pinned.is_string(), "no package recorded: {pinned}");
    let fourth = trusting(&author);
    for file in ["lord.toml", "lord.lock"] {
        std::fs::copy(
            first.project.path().join(file),
            fourth.project.path().join(file),
        )
        .expect("copy");
    }
    let local = flavour("base", "1.1.0", "^0.2", &[]);
    fourth
        .run(&[
            "plugin",
            "install",
            local.path().to_str().expect("path"),
            "--yes",
        ])
        .assert_ok();
    assert_eq!(
        fourth.info("base")["package_sha256"],
        serde_json::Value::Null
    );
    fourth
        .run(&["install", "--registry", &url, "--yes", "--locked"])
        .assert_ok()
        .assert_stderr_contains("installed base 1.1.0");
    assert_eq!(fourth.info("base")["package_sha256"], pinned);
    let again = fourth.run(&["install", "--registry", &url, "--yes", "--locked"]);
    again
        .assert_ok()
        .assert_stderr_contains("lord.lock is up to date");
    assert!(
        !again.stderr().contains("installed base"),
        "the pinned build was installed again: {}",
        again.stderr()
    );

    // --locked refuses when lord.toml asks for what the lock lacks.
    std::fs::write(
        second.project.path().join("lord.toml"),
        "[requires]\napp = \"^1\"\nother = \"^1\"\n",
    )
    .expect("lord.toml");
    second
        .run(&["install", "--registry", &url, "--yes", "--locked"])
        .assert_code(2)
        .assert_stderr_contains("does not meet lord.toml");
}

/// The installed build of `id` is whole: its recorded version, and a
/// folder whose component has the recorded hash.
fn assert_whole(lord: &Lord, id: &str) -> String {
    use sha2::Digest as _;
    let info = lord.info(id);
    let version = info["version"].as_str().expect("version").to_owned();
    let sha = info["wasm_sha256"].as_str().expect("sha").to_owned();
    let dir = lord
        .home
        .path()
        .join(format!("plugins/{id}/{version}-{}", &sha[..12]));
    let bytes = std::fs::read(dir.join("plugin.wasm")).expect("the recorded build's files");
    assert_eq!(hex::encode(sha2::Sha256::digest(&bytes)), sha);
    version
}

#[test]
fn killing_update_or_rollback_at_any_step_leaves_one_whole_build() {
    use std::os::unix::process::ExitStatusExt as _;
    let author = Lord::new();
    let served = stocked(&author);
    let url = served.url.clone();
    for step in [
        "install:staging",
        "install:staged",
        "install:moved",
        "install:before-commit",
        "install:committed",
    ] {
        let user = trusting(&author);
        user.run(&[
            "plugin",
            "install",
            "base@=1.0.0",
            "--registry",
            &url,
            "--yes",
        ])
        .assert_ok();
        let mut cmd = user.command(&["plugin", "update", "base", "--registry", &url, "--yes"]);
        cmd.env("LORD_FAILPOINT", step);
        let run = user.run_cmd(&mut cmd);
        assert_eq!(
            run.output.status.signal(),
            Some(6),
            "{step}: {}",
            run.stderr()
        );
        let version = assert_whole(&user, "base");
        let expected = if step == "install:committed" {
            "1.1.0"
        } else {
            "1.0.0"
        };
        assert_eq!(version, expected, "{step}");
        // The next update (or enable) completes, and rollback still works.
        user.run(&["plugin", "update", "base", "--registry", &url, "--yes"])
            .assert_ok();
        if step == "install:committed" {
            user.run(&["plugin", "enable", "base"]).assert_ok();
        }
        assert_eq!(assert_whole(&user, "base"), "1.1.0");
        user.run(&["plugin", "rollback", "base"]).assert_ok();
        assert_eq!(assert_whole(&user, "base"), "1.0.0", "{step}");
    }
    for step in ["rollback:before-commit", "rollback:committed"] {
        let user = trusting(&author);
        user.run(&[
            "plugin",
            "install",
            "base@=1.0.0",
            "--registry",
            &url,
            "--yes",
        ])
        .assert_ok();
        user.run(&["plugin", "update", "base", "--registry", &url, "--yes"])
            .assert_ok();
        let mut cmd = user.command(&["plugin", "rollback", "base"]);
        cmd.env("LORD_FAILPOINT", step);
        let run = user.run_cmd(&mut cmd);
        assert_eq!(
            run.output.status.signal(),
            Some(6),
            "{step}: {}",
            run.stderr()
        );
        let expected = if step == "rollback:committed" {
            "1.0.0"
        } else {
            "1.1.0"
        };
        assert_eq!(assert_whole(&user, "base"), expected, "{step}");
        user.run(&["plugin", "rollback", "base"]).assert_ok();
        let other = if expected == "1.0.0" {
            "1.1.0"
        } else {
            "1.0.0"
        };
        assert_eq!(assert_whole(&user, "base"), other, "{step}");
    }
}

#[test]
fn update_checks_run_in_the_background_at_most_once_a_day() {
    let author = Lord::new();
    let served = stocked(&author);
    let user = trusting(&author);
    user.run(&["config", "set", "registry.url", &served.url])
        .assert_ok();
    user.run(&["plugin", "install", "base@=1.0.0", "--yes"])
        .assert_ok();
    let record = user.home.path().join("updates.json");
    let checked = |lord: &Lord| {
        let mut cmd = lord.command(&["plugin", "list"]);
        cmd.env_remove("LORD_NO_UPDATE_CHECK");
        lord.run_cmd(&mut cmd).assert_ok();
    };
    checked(&user);
    // The command returned without waiting; the check lands shortly after.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !record.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "no background check ran"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let text = std::fs::read_to_string(&record).expect("record");
    let value: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(value["updates"][0]["id"], "base");
    assert_eq!(value["updates"][0]["latest"], "1.1.0");

    // Within the day, no second check starts.
    std::fs::remove_file(&record).expect("remove");
    checked(&user);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(!record.exists(), "a second check ran within the day");
}

/// Every file of a folder with its bytes (not recursive).
fn files_of(dir: &Path) -> Vec<(std::ffi::OsString, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("folder")
        .map(|e| {
            let e = e.expect("entry");
            (e.file_name(), std::fs::read(e.path()).expect("read"))
        })
        .collect();
    files.sort();
    files
}

/// Key rotation end to end: every role's keys are rotated by `lord
/// registry keys rotate` while `lord registry serve` runs in another
/// process; the server signs the next publish with the new keys (read
/// afresh under the signing lock), a user's `lord plugin update` follows
/// the new root and installs it, and the index from before the rotation,
/// replayed by the server, is refused without touching what the user
/// trusts.
#[test]
fn keys_rotated_on_a_running_server_keep_updates_working_and_refuse_a_replay() {
    let author = Lord::new();
    let served = Served::start(&author);
    let token = served.token(&author, "publish:*");
    let data = served.data.path().to_str().expect("utf-8").to_owned();
    served
        .publish(
            &author,
            flavour("base", "1.0.0", "^0.2", &[]).path(),
            &token,
        )
        .assert_ok();
    let user = trusting(&author);
    let url = served.url.clone();
    user.run(&["plugin", "install", "base", "--registry", &url, "--yes"])
        .assert_ok();
    let metadata = served.data.path().join("tuf/metadata");
    let before_rotation = files_of(&metadata);

    let keys = |lord: &Lord| -> serde_json::Value {
        let run = lord.run(&["registry", "keys", "list", "--data", &data, "--json"]);
        run.assert_ok();
        serde_json::from_str(&run.stdout()).expect("json")
    };
    let old = keys(&author);
    assert_eq!(old["root_version"], 1);
    let rotated = author.run(&[
        "registry",
        "keys",
        "rotate",
        "--role",
        "root",
        "--role",
        "targets",
        "--role",
        "snapshot",
        "--role",
        "timestamp",
        "--data",
        &data,
        "--json",
    ]);
    rotated.assert_ok();
    let report: serde_json::Value = serde_json::from_str(&rotated.stdout()).expect("json");
    assert_eq!(report["root_version"], 2);
    let new = keys(&author);
    for (was, is) in old["roles"]
        .as_array()
        .expect("roles")
        .iter()
        .zip(new["roles"].as_array().expect("roles"))
    {
        assert_ne!(
            was["keyids"], is["keyids"],
            "{} was not rotated",
            was["role"]
        );
    }

    served
        .publish(
            &author,
            flavour("base", "1.1.0", "^0.2", &[]).path(),
            &token,
        )
        .assert_ok();
    user.run(&["plugin", "update", "--registry", &url, "--yes"])
        .assert_ok()
        .assert_stderr_contains("updated base 1.0.0 -> 1.1.0");
    assert_eq!(version_of(&user, "base"), "1.1.0");
    let trusted_dir = user
        .home
        .path()
        .join("registries")
        .join(url.trim_start_matches("http://").replace(':', "_"))
        .join("metadata");
    let trusted = files_of(&trusted_dir);
    assert!(
        trusted.iter().any(|(name, bytes)| name == "root.json"
            && serde_json::from_slice::<serde_json::Value>(bytes).expect("root")["signed"]
                ["version"]
                == 2),
        "the user trusts the new root"
    );

    // The server (or a mirror in front of it) replays the index from
    // before the rotation.
    for (name, bytes) in &before_rotation {
        if !name.to_string_lossy().contains("root") {
            std::fs::write(metadata.join(name), bytes).expect("replay");
        }
    }
    let refused = user.run(&["plugin", "outdated", "--registry", &url]);
    assert_ne!(refused.code(), Some(0), "a replayed index was accepted");
    refused.assert_stderr_contains("`timestamp` metadata version");
    refused.assert_stderr_contains("retired");
    assert_eq!(files_of(&trusted_dir), trusted, "a refusal changes nothing");
}

#[test]
fn a_database_password_in_argv_is_warned_about_and_never_echoed() {
    let lord = Lord::new();
    let data = tempfile::tempdir().expect("data");
    // Nothing listens on port 1: the command fails after reading its
    // options, which is when the warning is due.
    let run = lord.run(&[
        "registry",
        "token",
        "create",
        "--scope",
        "publish:*",
        "--data",
        data.path().to_str().expect("utf-8"),
        "--database-url",
        "postgres://lord:hunter2-in-argv@127.0.0.1:1/registry?connect_timeout=2",
    ]);
    run.assert_code(1)
        .assert_stderr_contains("the database password is on the command line");
    assert!(!run.stderr().contains("hunter2"), "{}", run.stderr());
    // Password options without a database are a usage error.
    lord.run(&[
        "registry",
        "token",
        "create",
        "--scope",
        "publish:*",
        "--data",
        data.path().to_str().expect("utf-8"),
        "--database-password-file",
        "/nonexistent",
    ])
    .assert_code(2)
    .assert_stderr_contains("need --database-url");
}

#[test]
fn sigterm_stops_the_server_after_answering_what_it_was_asked() {
    let lord = Lord::new();
    let data = tempfile::tempdir().expect("registry data");
    let (mut child, _, mut stderr) = listening(lord.command(&[
        "registry",
        "serve",
        "--data",
        data.path().to_str().expect("utf-8"),
        "--listen",
        "127.0.0.1:0",
    ]));
    // By pid, the one this test started.
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = child.wait().expect("the server exits");
    assert!(status.success(), "{status:?}");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).expect("stderr");
    assert!(rest.contains("stopped after answering"), "{rest}");
}
