//! Plugin dependencies outside the registry: a folder or package install
//! whose `[dependencies]` are not installed is refused naming what is
//! missing and what to run; disabling or removing a plugin others depend on
//! is refused naming them, unless `--force`, which disables them too in one
//! step; so is a rollback or an update to a version a dependent's range
//! rejects. (Registry installs resolve dependencies; `registry.rs` tests
//! them.)

use std::path::Path;

use crate::registry::{flavour, stocked, trusting, version_of};
use crate::support::{Lord, Run};

fn install(lord: &Lord, dir: &Path) -> Run {
    lord.run(&["plugin", "install", dir.to_str().expect("utf-8"), "--yes"])
}

fn state(lord: &Lord, id: &str) -> String {
    lord.info(id)["state"]
        .as_str()
        .expect("state is text")
        .to_owned()
}

#[test]
fn a_folder_install_needs_its_dependencies_installed_at_a_fitting_version() {
    let lord = Lord::new();
    let app = flavour("app", "1.0.0", "^0.2", &[("base", "^1")]);

    let refused = install(&lord, app.path());
    refused.assert_code(2);
    refused
        .assert_stderr_contains("plugin `app` needs plugins that are not ready")
        .assert_stderr_contains("`base` ^1 (not installed)")
        .assert_stderr_contains("`lord plugin install base@^1`");
    assert!(lord.list().is_empty(), "a refused install stored something");

    // The wrong version is no better, and the message says which is there.
    let base2 = flavour("base", "2.0.0", "^0.2", &[]);
    install(&lord, base2.path()).assert_ok();
    install(&lord, app.path())
        .assert_code(2)
        .assert_stderr_contains("`base` ^1 (2.0.0 is installed)")
        .assert_stderr_contains("`lord plugin update base`");

    lord.run(&["plugin", "remove", "base"]).assert_ok();
    let base1 = flavour("base", "1.2.0", "^0.2", &[]);
    install(&lord, base1.path()).assert_ok();
    install(&lord, app.path()).assert_ok();
    assert_eq!(state(&lord, "app"), "enabled");
}

#[test]
fn a_package_install_needs_its_dependencies_too() {
    let lord = Lord::new();
    let app = flavour("app", "1.0.0", "^0.2", &[("base", "^1")]);
    let out = tempfile::tempdir().expect("out");
    let packed = lord.run(&[
        "pdk",
        "pack",
        app.path().to_str().expect("utf-8"),
        "-o",
        out.path().to_str().expect("utf-8"),
        "--json",
    ]);
    packed.assert_ok();
    let report: serde_json::Value = serde_json::from_str(&packed.stdout()).expect("pack --json");
    let package = report["path"].as_str().expect("path").to_owned();

    let refused = lord.run(&["plugin", "install", &package, "--yes", "--allow-unsigned"]);
    refused
        .assert_code(2)
        .assert_stderr_contains("`base` ^1 (not installed)")
        .assert_stderr_contains("`lord plugin install base@^1`");
    assert!(lord.list().is_empty(), "a refused package stored something");

    let base = flavour("base", "1.0.0", "^0.2", &[]);
    install(&lord, base.path()).assert_ok();
    lord.run(&["plugin", "install", &package, "--yes", "--allow-unsigned"])
        .assert_ok();
}

/// Every way to enable checks the dependencies: a plugin installed while
/// its dependency is disabled is stored but not enabled, and neither
/// `plugin enable` nor its first use (a package install enables on first
/// use) runs it until the dependency is enabled again.
#[test]
fn no_way_in_enables_a_plugin_whose_dependency_is_disabled() {
    let lord = Lord::new();
    let base = flavour("base", "1.0.0", "^0.2", &[]);
    install(&lord, base.path()).assert_ok();
    lord.run(&["plugin", "disable", "base"]).assert_ok();

    let app = flavour("app", "1.0.0", "^0.2", &[("base", "^1")]);
    // Stored, not enabled: exit 3, as for an install whose enabling failed.
    install(&lord, app.path())
        .assert_code(3)
        .assert_stderr_contains("enabling it failed")
        .assert_stderr_contains("`base` ^1 (1.0.0 is disabled)");
    assert_ne!(state(&lord, "app"), "enabled");
    lord.run(&["plugin", "enable", "app"])
        .assert_code(2)
        .assert_stderr_contains("`lord plugin enable base`");
    lord.run(&["app-cmd", "World"])
        .assert_code(2)
        .assert_stderr_contains("`base` ^1 (1.0.0 is disabled)");

    lord.run(&["plugin", "enable", "base"]).assert_ok();
    lord.run(&["plugin", "enable", "app"]).assert_ok();
    assert_eq!(state(&lord, "app"), "enabled");

    // A dependency whose hook failed is no more ready than a disabled one.
    install(&lord, &crate::support::fixture("hostile/traphook")).assert_code(3);
    assert_eq!(state(&lord, "traphook"), "failed");
    let needy = flavour("needy", "1.0.0", "^0.2", &[("traphook", "^0.1")]);
    install(&lord, needy.path())
        .assert_code(3)
        .assert_stderr_contains("`traphook` ^0.1 (0.1.0 failed; see `lord plugin info traphook`)");
    assert_ne!(state(&lord, "needy"), "enabled");
}

/// base ← mid ← top, and `side` on its own: what `--force` reaches and
/// what it leaves alone.
fn chain(lord: &Lord) {
    let base = flavour("base", "1.0.0", "^0.2", &[]);
    let mid = flavour("mid", "1.0.0", "^0.2", &[("base", "^1")]);
    let top = flavour("top", "1.0.0", "^0.2", &[("mid", "^1")]);
    let side = flavour("side", "1.0.0", "^0.2", &[]);
    for dir in [&base, &mid, &top, &side] {
        install(lord, dir.path()).assert_ok();
    }
}

#[test]
fn disabling_a_dependency_is_refused_naming_its_dependents_unless_forced() {
    let lord = Lord::new();
    chain(&lord);

    let refused = lord.run(&["plugin", "disable", "base"]);
    refused
        .assert_code(2)
        .assert_stderr_contains("cannot disable `base`: `top`, `mid` depend on it")
        .assert_stderr_contains("--force");
    for id in ["base", "mid", "top", "side"] {
        assert_eq!(state(&lord, id), "enabled", "{id} changed on a refusal");
    }

    let forced = lord.run(&["plugin", "disable", "base", "--force"]);
    forced
        .assert_ok()
        .assert_stderr_contains("disabled base")
        .assert_stderr_contains("also disabled `top`, `mid`, which depend on base");
    for id in ["base", "mid", "top"] {
        assert_eq!(state(&lord, id), "disabled", "{id}");
    }
    assert_eq!(state(&lord, "side"), "enabled");
    let reason = lord.info("mid")["reason"].as_str().unwrap_or("").to_owned();
    assert!(reason.contains("`base`"), "mid's reason: {reason}");

    // A dependent cannot come back before its dependency.
    lord.run(&["plugin", "enable", "mid"])
        .assert_code(2)
        .assert_stderr_contains("`base` ^1 (1.0.0 is disabled)")
        .assert_stderr_contains("`lord plugin enable base`");
    lord.run(&["plugin", "enable", "base"]).assert_ok();
    lord.run(&["plugin", "enable", "mid"]).assert_ok();

    // Only dependents still enabled stand in the way: top stays disabled,
    // so disabling mid needs no force.
    lord.run(&["plugin", "disable", "mid"]).assert_ok();
}

#[test]
fn removing_a_dependency_is_refused_naming_its_dependents_unless_forced() {
    let lord = Lord::new();
    chain(&lord);

    lord.run(&["plugin", "remove", "mid"])
        .assert_code(2)
        .assert_stderr_contains("cannot remove `mid`: `top` depends on it");
    assert_eq!(lord.list().len(), 4, "a refused removal removed something");

    lord.run(&["plugin", "remove", "mid", "--force"])
        .assert_ok()
        .assert_stderr_contains("removed mid")
        .assert_stderr_contains("also disabled `top`, which depends on mid");
    let ids: Vec<String> = lord
        .list()
        .iter()
        .map(|p| p["id"].as_str().expect("id").to_owned())
        .collect();
    assert!(!ids.contains(&"mid".to_owned()), "{ids:?}");
    assert_eq!(state(&lord, "top"), "disabled");
    assert_eq!(state(&lord, "base"), "enabled");

    // And top cannot be enabled again until mid is back.
    lord.run(&["plugin", "enable", "top"])
        .assert_code(2)
        .assert_stderr_contains("`mid` ^1 (not installed)");
}

#[test]
fn a_tripped_breaker_disables_the_plugins_that_depend_on_it_and_says_so() {
    let lord = Lord::new();
    lord.install("hostile/failing");
    let app = flavour("app", "1.0.0", "^0.2", &[("failing", "^0.1")]);
    let top = flavour("top", "1.0.0", "^0.2", &[("app", "^1")]);
    let side = flavour("side", "1.0.0", "^0.2", &[]);
    for dir in [&app, &top, &side] {
        install(&lord, dir.path()).assert_ok();
    }
    for _ in 0..3 {
        lord.run(&["failing"]).assert_code(3);
    }

    assert_eq!(state(&lord, "failing"), "disabled");
    let reason = lord.info("failing")["reason"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(
        reason.contains("breaker tripped after 3 failures in a row")
            && reason.contains("its dependents (`top`, `app`)"),
        "failing's reason: {reason}"
    );
    for id in ["app", "top"] {
        assert_eq!(state(&lord, id), "disabled", "{id}");
        let reason = lord.info(id)["reason"].as_str().unwrap_or("").to_owned();
        assert!(
            reason.contains("`failing`'s breaker tripped"),
            "{id}'s reason: {reason}"
        );
    }
    assert_eq!(state(&lord, "side"), "enabled");
    let text = lord.run(&["plugin", "info", "app"]);
    text.assert_ok();
    assert!(
        text.stdout().contains("breaker tripped"),
        "{}",
        text.stdout()
    );
    // As after `disable --force`, a dependent comes back only after its
    // dependency.
    lord.run(&["plugin", "enable", "app"])
        .assert_code(2)
        .assert_stderr_contains("`lord plugin enable failing`");
}

/// A user with base 1.0.0 from the registry `author` serves (which holds
/// base 1.0.0 and 1.1.0).
fn with_base(author: &Lord, url: &str) -> Lord {
    let user = trusting(author);
    user.run(&[
        "plugin",
        "install",
        "base@=1.0.0",
        "--registry",
        url,
        "--yes",
    ])
    .assert_ok();
    user
}

#[test]
fn a_rollback_a_dependents_range_rejects_is_refused_naming_it_unless_forced() {
    let author = Lord::new();
    let served = stocked(&author);
    let user = with_base(&author, &served.url);
    user.run(&[
        "plugin",
        "update",
        "base",
        "--registry",
        &served.url,
        "--yes",
    ])
    .assert_ok();
    assert_eq!(version_of(&user, "base"), "1.1.0");
    // needy accepts only 1.1 and later, top needs needy, easy takes any 1.x.
    let needy = flavour("needy", "1.0.0", "^0.2", &[("base", ">=1.1")]);
    let top = flavour("top", "1.0.0", "^0.2", &[("needy", "^1")]);
    let easy = flavour("easy", "1.0.0", "^0.2", &[("base", "^1")]);
    for dir in [&needy, &top, &easy] {
        install(&user, dir.path()).assert_ok();
    }

    user.run(&["plugin", "rollback", "base"])
        .assert_code(2)
        .assert_stderr_contains("cannot roll back `base` to 1.0.0: `needy` wants base >=1.1")
        .assert_stderr_contains("--force");
    assert_eq!(version_of(&user, "base"), "1.1.0");
    for id in ["needy", "top", "easy"] {
        assert_eq!(state(&user, id), "enabled", "{id} changed on a refusal");
    }

    user.run(&["plugin", "rollback", "base", "--force"])
        .assert_ok()
        .assert_stderr_contains("rolled base back from 1.1.0 to 1.0.0")
        .assert_stderr_contains("disabled `top`, `needy`");
    assert_eq!(version_of(&user, "base"), "1.0.0");
    assert_eq!(state(&user, "needy"), "disabled");
    assert_eq!(state(&user, "top"), "disabled");
    assert_eq!(state(&user, "easy"), "enabled");
    let reason = user.info("needy")["reason"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(
        reason.contains("`base` went to 1.0.0"),
        "needy's reason: {reason}"
    );
    // Its range still rejects base 1.0.0, so it cannot come back yet.
    user.run(&["plugin", "enable", "needy"])
        .assert_code(2)
        .assert_stderr_contains("`base` >=1.1 (1.0.0 is installed)");
    // A disabled dependent no longer stands in the way.
    user.run(&["plugin", "rollback", "base"]).assert_ok();
    assert_eq!(version_of(&user, "base"), "1.1.0");
}

#[test]
fn an_update_a_dependents_range_rejects_is_refused_naming_it_unless_forced() {
    let author = Lord::new();
    let served = stocked(&author);
    let user = with_base(&author, &served.url);
    let pinned = flavour("pinned", "1.0.0", "^0.2", &[("base", "~1.0")]);
    install(&user, pinned.path()).assert_ok();

    let refused = user.run(&[
        "plugin",
        "update",
        "base",
        "--registry",
        &served.url,
        "--yes",
    ]);
    refused
        .assert_code(2)
        .assert_stderr_contains("cannot update `base` to 1.1.0: `pinned` wants base ~1.0")
        .assert_stderr_contains("--force");
    assert_eq!(version_of(&user, "base"), "1.0.0");
    assert_eq!(state(&user, "pinned"), "enabled");

    user.run(&[
        "plugin",
        "update",
        "base",
        "--registry",
        &served.url,
        "--yes",
        "--force",
    ])
    .assert_ok()
    .assert_stderr_contains("disabled `pinned`")
    .assert_stderr_contains("updated base 1.0.0 -> 1.1.0");
    assert_eq!(version_of(&user, "base"), "1.1.0");
    assert_eq!(state(&user, "pinned"), "disabled");
}
