//! `lord registry demo` makes a registry whose plugins really install:
//! the demo fills a data folder, `lord registry serve` serves it, a user
//! trusts the demo publisher's key the demo wrote, installs one of its
//! plugins through the signed index and runs it in the sandbox.

use crate::registry::listening;
use crate::support::Lord;

#[test]
fn a_plugin_of_the_demo_registry_installs_and_runs() {
    let operator = Lord::new();
    let data = tempfile::tempdir().expect("data");
    let data_arg = data.path().to_str().expect("utf-8");
    operator
        .run(&["registry", "demo", "--data", data_arg, "--plugins", "8"])
        .assert_ok()
        .assert_stderr_contains("lord key trust");
    let (mut server, url, _) = listening(operator.command(&[
        "registry",
        "serve",
        "--data",
        data_arg,
        "--listen",
        "127.0.0.1:0",
    ]));

    let user = Lord::new();
    // Not trusted yet: the signature is checked against the user's keys.
    let found = user.run(&["plugin", "search", "--registry", &url, "--json"]);
    found.assert_ok();
    // Plugin number 5 is of the demo's one topic that needs no program or
    // secret: data of its own (`fs-write($PLUGIN_DATA)`).
    let page: serde_json::Value = serde_json::from_str(&found.stdout()).expect("json");
    let ids: Vec<String> = page["hits"]
        .as_array()
        .or_else(|| page.as_array())
        .expect("hits")
        .iter()
        .filter_map(|h| h["id"].as_str().map(str::to_owned))
        .collect();
    let id = ids
        .iter()
        .find(|id| id.ends_with("-5"))
        .unwrap_or_else(|| panic!("no plugin number 5 in {ids:?}"))
        .clone();
    user.run(&["plugin", "install", &id, "--registry", &url, "--yes"])
        .assert_code(2);
    user.run(&[
        "key",
        "trust",
        data.path()
            .join("demo-publisher.pub")
            .to_str()
            .expect("utf-8"),
    ])
    .assert_ok();
    user.run(&["plugin", "install", &id, "--registry", &url, "--yes"])
        .assert_ok()
        .assert_stderr_contains(&format!("installed {id}"));
    let ran = user.run(&[&id]);
    ran.assert_ok();
    // The component reports what its grants let it reach: its own data
    // (granted), not the project (never asked for).
    assert!(ran.stdout().contains("data-write: ok"), "{}", ran.stdout());
    assert!(
        ran.stdout().contains("project-write: refused"),
        "{}",
        ran.stdout()
    );
    let _ = server.kill();
    let _ = server.wait();
}
