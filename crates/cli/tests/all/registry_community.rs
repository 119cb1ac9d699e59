//! The registry's community features through the CLI against a real
//! `lord registry serve`: an install made with an account's token earns a
//! signed install receipt that lord checks and keeps, so reviewing and
//! rating afterwards just work, and an account that never installed is
//! refused; use is reported to the registry in the background only when
//! the user opts in.

use crate::registry::{Served, trusting};
use crate::support::{Lord, fixture};

/// Runs `lord plugin ARGS --registry URL` in `user`'s home as the account
/// behind `token` (if any).
fn as_account(user: &Lord, url: &str, token: Option<&str>, args: &[&str]) -> crate::support::Run {
    let mut all = vec!["plugin"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--registry", url]);
    let mut cmd = user.command(&all);
    if let Some(token) = token {
        cmd.env("LORD_REGISTRY_TOKEN", token);
    }
    user.run_cmd(&mut cmd)
}

#[test]
fn an_install_with_a_token_earns_the_receipt_a_review_needs_and_no_other_account_has_one() {
    let author = Lord::new();
    let served = Served::start(&author);
    let publisher = served.token(&author, "publish:*");
    served
        .publish(&author, &fixture("hello"), &publisher)
        .assert_ok();
    let installer = served.token(&author, "account");
    let stranger = served.token(&author, "account");

    // Installed through the CLI as an account: the receipt is kept, and the
    // registry's receipt key is pinned beside the index it trusts.
    let user = trusting(&author);
    as_account(
        &user,
        &served.url,
        Some(&installer),
        &["install", "hello", "--yes"],
    )
    .assert_ok();
    let folder = std::fs::read_dir(user.home.path().join("registries"))
        .expect("registries")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.join("receipt-key").is_file())
        .expect("the receipt key is pinned in the registry's folder");
    let kept = std::fs::read_to_string(folder.join("receipts/hello@0.1.0.receipt"))
        .expect("the install kept its receipt");
    let (digest, receipt) = kept.split_once('\n').expect("digest, then receipt");
    let key = hex::decode(
        std::fs::read_to_string(folder.join("receipt-key"))
            .expect("key")
            .trim(),
    )
    .expect("hex key");
    lord_registry_client::check_receipt(&key, receipt.trim(), "hello", "0.1.0", digest)
        .expect("the kept receipt is signed by the registry for what was installed");
    assert!(
        lord_registry_client::check_receipt(&key, receipt.trim(), "hello", "0.2.0", digest)
            .is_err(),
        "a receipt names one version"
    );

    // The account that installed reviews and rates with no further step.
    as_account(
        &user,
        &served.url,
        Some(&installer),
        &["review", "hello", "--stars", "4", "--text", "Greets well."],
    )
    .assert_ok();
    as_account(
        &user,
        &served.url,
        Some(&installer),
        &["rate", "hello", "5"],
    )
    .assert_ok();

    // Another account never installed it: the receipt kept here is not
    // its own, and the registry says so.
    as_account(
        &user,
        &served.url,
        Some(&stranger),
        &[
            "review",
            "hello",
            "--stars",
            "1",
            "--text",
            "Never tried it.",
        ],
    )
    .assert_code(2)
    .assert_stderr_contains("another account");

    // A home that installed without a token holds no receipt, so lord
    // refuses before asking, and says how to earn one.
    let anonymous = trusting(&author);
    as_account(
        &anonymous,
        &served.url,
        None,
        &["install", "hello", "--yes"],
    )
    .assert_ok();
    as_account(
        &anonymous,
        &served.url,
        Some(&stranger),
        &["rate", "hello", "2"],
    )
    .assert_code(2)
    .assert_stderr_contains("no install receipt is kept");

    let reviews = crate::registry_web::get(&served.url, "/api/v1/plugins/hello/reviews");
    let reviews: serde_json::Value = serde_json::from_str(&reviews).expect("reviews json");
    let texts: Vec<&str> = reviews
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|r| r["text"].as_str())
        .collect();
    assert_eq!(texts, ["Greets well."]);
}

/// The file whose time says when lord last started a use report.
fn usage_stamp(user: &Lord) -> std::path::PathBuf {
    user.home.path().join("usage-report")
}

/// Polls `path` on `url` until its body contains `needle` (a background
/// process is sending), for up to 20 seconds; the last body otherwise.
fn eventually(url: &str, path: &str, needle: &str) -> Result<(), String> {
    let mut body = String::new();
    for _ in 0..200 {
        body = crate::registry_web::get(url, path);
        if body.contains(needle) {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Err(body)
}

/// The requests the server answered on the use report route, per its
/// own metrics.
fn usage_requests(url: &str) -> Vec<String> {
    crate::registry_web::get(url, "/metrics")
        .lines()
        .filter(|l| l.starts_with("lord_registry_requests_total") && l.contains("/api/v1/usage"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn use_is_reported_in_the_background_only_when_the_user_opts_in() {
    let author = Lord::new();
    let served = Served::start(&author);
    let publisher = served.token(&author, "publish:*");
    for name in ["hello", "hostile/failing"] {
        served
            .publish(&author, &fixture(name), &publisher)
            .assert_ok();
    }
    let user = trusting(&author);
    user.run(&["config", "set", "registry.url", &served.url])
        .assert_ok();
    for id in ["hello", "failing"] {
        user.run(&["plugin", "install", id, "--yes"]).assert_ok();
    }

    // Off, the default: commands run, and neither the background nor an
    // explicit report sends anything.
    user.run(&["hello"]).assert_ok();
    assert!(!user.run(&["failing"]).output.status.success());
    user.run(&["registry", "share-usage"])
        .assert_ok()
        .assert_stderr_contains("0 plugin version(s)");
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert!(
        !usage_stamp(&user).exists(),
        "no background report was started"
    );
    assert_eq!(usage_requests(&served.url), Vec::<String>::new());

    // On: the first command starts a report in the background.
    user.run(&["config", "set", "registry.share-usage", "true"])
        .assert_ok();
    user.run(&["hello"]).assert_ok();
    eventually(
        &served.url,
        "/plugins/hello",
        "1 installation reported using it on the latest day; 1 runs in 30 days, 0.0 errors",
    )
    .unwrap_or_else(|page| panic!("the background report never arrived: {page}"));
    assert!(usage_stamp(&user).exists());

    // Within the hour, more commands are counted but batched: nothing is
    // sent until the next report, which carries the day's totals.
    user.run(&["hello"]).assert_ok();
    assert!(!user.run(&["failing"]).output.status.success());
    std::thread::sleep(std::time::Duration::from_secs(1));
    let page = crate::registry_web::get(&served.url, "/plugins/hello");
    assert!(page.contains("; 1 runs in 30 days"), "batched: {page}");
    user.run(&["registry", "share-usage"])
        .assert_ok()
        .assert_stderr_contains("2 plugin version(s)");
    eventually(
        &served.url,
        "/plugins/hello",
        "; 2 runs in 30 days, 0.0 errors",
    )
    .unwrap_or_else(|page| panic!("hello's totals: {page}"));
    eventually(
        &served.url,
        "/plugins/failing",
        "; 1 runs in 30 days, 100.0 errors per 100 runs",
    )
    .unwrap_or_else(|page| panic!("failing's error rate: {page}"));
    // Two reports in all: the background one and the explicit one.
    let answered: u64 = usage_requests(&served.url)
        .iter()
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum();
    assert_eq!(answered, 2, "{:?}", usage_requests(&served.url));
}

#[test]
fn an_update_with_a_token_earns_the_new_versions_receipt() {
    let author = Lord::new();
    let served = Served::start(&author);
    let publisher = served.token(&author, "publish:*");
    let first = crate::registry::flavour("greeter", "1.0.0", "^0.2", &[]);
    served
        .publish(&author, first.path(), &publisher)
        .assert_ok();
    let account = served.token(&author, "account");
    let user = trusting(&author);
    as_account(
        &user,
        &served.url,
        Some(&account),
        &["install", "greeter", "--yes"],
    )
    .assert_ok();
    let next = crate::registry::flavour("greeter", "1.1.0", "^0.2", &[]);
    served.publish(&author, next.path(), &publisher).assert_ok();
    as_account(
        &user,
        &served.url,
        Some(&account),
        &["update", "greeter", "--yes"],
    )
    .assert_ok();
    // The review is of the version now installed, with its own receipt.
    as_account(
        &user,
        &served.url,
        Some(&account),
        &[
            "review",
            "greeter",
            "--stars",
            "5",
            "--text",
            "Better in 1.1.",
        ],
    )
    .assert_ok();
    let reviews = crate::registry_web::get(&served.url, "/api/v1/plugins/greeter/reviews");
    assert!(reviews.contains("\"version\":\"1.1.0\""), "{reviews}");
}
