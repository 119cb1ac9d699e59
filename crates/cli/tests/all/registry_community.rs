//! The registry's community features through the CLI against a real
//! `lord registry serve`: an install made with an account's token earns a
//! signed install receipt that lord checks and keeps, so reviewing and
//! rating afterwards just work, and an account that never installed is
//! refused.

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
