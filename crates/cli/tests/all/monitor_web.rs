//! `lord monitor serve`, the web dashboard, as a real process: headless
//! Chromium (Debian's, through npm's playwright-core, which `.ci/run`
//! installs; `tests/browser/monitor.cjs`) loads the page and waits for
//! live samples to arrive over server-sent events under the page's
//! Content-Security-Policy; the token rules are checked over plain HTTP.
//! The screenshot is kept under the target folder for a reviewer.

use std::path::PathBuf;
use std::process::Command;

use crate::monitor::{Killed, get};
use crate::registry::listening;
use crate::registry_web::browser;
use crate::support::Lord;

fn serve(lord: &Lord, extra: &[&str]) -> (Killed, String) {
    let mut args = vec!["monitor", "serve", "--interval", "500ms"];
    args.extend_from_slice(extra);
    let (child, url, _) = listening(lord.command(&args));
    // A server on every address is reached through loopback.
    let base = url
        .trim_end_matches('/')
        .replace("://0.0.0.0:", "://127.0.0.1:");
    (Killed(child), base)
}

#[test]
fn the_web_dashboard_shows_live_samples_in_a_browser_under_a_strict_csp() {
    let Some(node_path) = browser() else {
        return;
    };
    let lord = Lord::new();
    // One plugin with calls recorded, for the plugins table.
    lord.install("napper");
    lord.run(&["nap", "1"]).assert_ok();
    let (_server, base) = serve(&lord, &["--listen", "127.0.0.1:0"]);
    let (status, page) = get(&base, "/", &[]);
    assert!(status.contains("200"), "{status}");
    assert!(
        !page.contains("<script>") && !page.contains("style="),
        "inline code:\n{page}"
    );
    assert!(
        !page.contains("https://"),
        "the page fetches nothing from elsewhere"
    );

    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("monitor-web-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    let shot = dir.join("dashboard.png");
    let _ = std::fs::remove_file(&shot);
    let output = Command::new("node")
        .arg(crate::support::repo().join("crates/cli/tests/browser/monitor.cjs"))
        .arg(format!("{base}/"))
        .arg(&shot)
        .env("NODE_PATH", node_path)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: serde_json::Value = serde_json::from_str(stdout.trim()).expect("JSON");
    eprintln!("screenshot: {}", shot.display());
    assert_eq!(result["failure"], serde_json::Value::Null, "{result:#}");
    assert_eq!(result["status"], 200, "{result:#}");
    let csp = result["csp"].as_str().expect("a CSP header");
    assert!(
        csp.contains("script-src 'self'") && csp.contains("default-src 'none'"),
        "{csp}"
    );
    assert_eq!(result["blocked"], serde_json::json!([]), "{result:#}");
    assert_eq!(result["violations"], serde_json::json!([]), "{result:#}");
    assert_eq!(result["errors"], serde_json::json!([]), "{result:#}");

    // Before any sample the page shows none; then they arrive and keep
    // arriving (the count grows), with this machine's figures in them.
    let readings = result["readings"].as_array().expect("readings");
    let first = &readings[1];
    let last = &readings[2];
    assert!(
        last["points"].as_u64() > first["points"].as_u64(),
        "{result:#}"
    );
    assert!(last["points"].as_u64() >= Some(4), "{result:#}");
    assert_eq!(last["status"], "live", "{result:#}");
    let cores = std::thread::available_parallelism().expect("cores");
    assert_eq!(last["cores"], format!("{cores} cores"), "{result:#}");
    assert!(
        last["cpu"].as_str().is_some_and(|c| c.ends_with('%')),
        "{result:#}"
    );
    assert!(last["processes"].as_u64() >= Some(1), "{result:#}");
    assert_eq!(last["plugins"][0][0], "napper", "{result:#}");
    assert!(
        last["plugins"][0][1]
            .as_str()
            .and_then(|c| c.parse::<u64>().ok())
            .is_some_and(|calls| calls >= 1),
        "{result:#}"
    );
    let size = std::fs::metadata(&shot).expect("a screenshot").len();
    assert!(size > 10_000, "a {size}-byte screenshot is blank");
}

#[test]
fn the_web_dashboard_beyond_loopback_needs_a_token_and_checks_it() {
    let lord = Lord::new();
    lord.run(&["monitor", "serve", "--listen", "0.0.0.0:0"])
        .assert_code(2)
        .assert_stderr_contains("--token-file");
    let token = lord.project.path().join("token");
    std::fs::write(&token, "s3cret-token\n").expect("token");
    let (_server, base) = serve(
        &lord,
        &[
            "--listen",
            "0.0.0.0:0",
            "--token-file",
            token.to_str().expect("utf-8"),
        ],
    );
    for path in ["/", "/dashboard.js", "/events", "/?token=wrong-token!"] {
        let (status, body) = get(&base, path, &[]);
        assert!(status.contains("401"), "{path}: {status}");
        assert!(!body.contains("s3cret"), "{body}");
    }
    let (status, _) = get(&base, "/", &[("Authorization", "Bearer wrong-token!!")]);
    assert!(status.contains("401"), "{status}");
    let (status, page) = get(&base, "/", &[("Authorization", "Bearer s3cret-token")]);
    assert!(
        status.contains("200") && page.contains("lord monitor"),
        "{status}"
    );
    let (status, script) = get(
        &base,
        "/dashboard.js",
        &[("Cookie", "lord-monitor-token=s3cret-token")],
    );
    assert!(
        status.contains("200") && script.contains("EventSource"),
        "{status}"
    );
    let (status, _) = get(&base, "/?token=s3cret-token", &[]);
    assert!(status.contains("200"), "{status}");
}
