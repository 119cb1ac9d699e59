//! The registry's web pages in a real browser: `lord registry serve` as a
//! process, Debian's headless Chromium driven by npm's `playwright-core`
//! (`tests/browser/walk.cjs`), axe-core checking accessibility in that
//! browser, and the install line the page copies run by the real `lord`
//! against the same server. Screenshots of every step are kept under
//! the target folder for a reviewer to look at.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::registry::{Served, flavour, trusting};
use crate::support::Lord;

/// Where npm's global packages live, for `require` in the script.
fn npm_root() -> Option<String> {
    let output = Command::new("npm").args(["root", "-g"]).output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The browser and the npm packages, or why not; in CI their absence
/// fails the test (`.ci/run` installs them).
pub(crate) fn browser() -> Option<String> {
    let missing = |what: &str| {
        // The rule against reading the environment directly is for the
        // CLI's own code; a test harness asks whether it runs in CI.
        #[allow(clippy::disallowed_methods)]
        let in_ci = std::env::var_os("CI").is_some();
        assert!(!in_ci, "CI must install {what} (see .ci/run)");
        eprintln!("skipping: {what} is not installed");
        None
    };
    if !std::path::Path::new("/usr/bin/chromium").exists() {
        return missing("Debian's chromium");
    }
    let Some(root) = npm_root() else {
        return missing("node and npm");
    };
    let found = Command::new("node")
        .args(["-e", "require('playwright-core'); require('axe-core')"])
        .env("NODE_PATH", &root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        return missing("npm's playwright-core and axe-core");
    }
    Some(root)
}

/// The body of a GET of `path` on the server at `url` (`http://HOST:PORT`).
pub(crate) fn get(url: &str, path: &str) -> String {
    use std::io::{Read as _, Write as _};
    let at = url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(at).expect("connect");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {at}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("answer");
    answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default()
}

fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("registry-web-screenshots");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    dir
}

#[test]
fn a_person_finds_a_plugin_in_the_browser_and_its_copied_install_line_installs_it() {
    let Some(node_path) = browser() else {
        return;
    };
    let author = Lord::new();
    let served = Served::start(&author);
    let token = served.token(&author, "publish:*");
    // Three plugins: the one to find, one the category filter leaves out
    // and one the permission filter leaves out.
    let wanted = flavour("weather", "1.2.0", "^0.2", &[]);
    let edit = |dir: &tempfile::TempDir, from: &str, to: &str| {
        let file = dir.path().join("plugin.toml");
        let text = std::fs::read_to_string(&file).expect("manifest");
        std::fs::write(&file, text.replacen(from, to, 1)).expect("manifest");
    };
    edit(
        &wanted,
        "request = []",
        "request = [\"net(api.weather.example)\"]",
    );
    edit(&wanted, "category = \"utility\"", "category = \"network\"");
    edit(
        &wanted,
        "Greets whoever you name",
        "Weather forecasts, greeting you by name",
    );
    std::fs::write(
        wanted.path().join("README.md"),
        "# Weather\n\nForecasts for *your* town.\n\n<script>alert('no')</script>\n",
    )
    .expect("readme");
    let offline = flavour("weather-offline", "1.0.0", "^0.2", &[]);
    edit(&offline, "category = \"utility\"", "category = \"network\"");
    edit(
        &offline,
        "Greets whoever you name",
        "Weather from a local station",
    );
    let elsewhere = flavour("weather-notes", "1.0.0", "^0.2", &[]);
    edit(
        &elsewhere,
        "request = []",
        "request = [\"net(api.weather.example)\"]",
    );
    edit(&elsewhere, "Greets whoever you name", "Weather notes");
    for dir in [&wanted, &offline, &elsewhere] {
        served.publish(&author, dir.path(), &token).assert_ok();
    }

    let shots = screenshots();
    let output = Command::new("node")
        .arg(crate::support::repo().join("crates/cli/tests/browser/walk.cjs"))
        .args([
            served.url.as_str(),
            shots.to_str().expect("utf-8"),
            "weather",
            "network",
            "net",
            "weather",
        ])
        .env("NODE_PATH", node_path)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "the browser script printed no report ({e}):\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    eprintln!("screenshots: {}", shots.display());
    assert!(
        report["error"].is_null(),
        "the walk failed: {}",
        report["error"]
    );
    assert_eq!(
        report["filtered"],
        serde_json::json!(["/plugins/weather"]),
        "the filters left exactly the plugin asked for"
    );
    for step in ["1-search", "2-filtered", "3-plugin", "4-publisher"] {
        assert!(
            shots.join(format!("{step}.png")).is_file(),
            "no screenshot of {step}"
        );
    }
    assert_eq!(
        report["blocked"],
        serde_json::json!([]),
        "the page carried something its CSP blocked"
    );

    // No serious or critical accessibility violation on any page.
    for page in ["search", "plugin", "publisher", "insights"] {
        let violations = report["audits"][page].as_array().expect("an audit");
        let grave: Vec<&serde_json::Value> = violations
            .iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .collect();
        assert!(grave.is_empty(), "{page} page: {grave:#?}");
        if !violations.is_empty() {
            eprintln!("{page} page, minor: {violations:#?}");
        }
    }

    // The line the page copied is the line it shows, and it installs.
    let copied = report["copied"].as_str().expect("copied text");
    assert_eq!(copied, report["shown"].as_str().expect("shown text"));
    assert_eq!(
        copied,
        format!(
            "lord plugin install weather@=1.2.0 --registry {}",
            served.url
        )
    );
    let user = trusting(&author);
    let mut words = copied.split_whitespace();
    assert_eq!(words.next(), Some("lord"));
    let mut args: Vec<&str> = words.collect();
    // The test has no terminal to answer the consent prompt on.
    args.push("--yes");
    // Installed as an account of the registry, which earns the install
    // receipt a review needs.
    let account = served.token(&author, "account");
    let mut install = user.command(&args);
    install.env("LORD_REGISTRY_TOKEN", &account);
    user.run_cmd(&mut install).assert_ok();
    let installed: Vec<String> = user
        .list()
        .iter()
        .filter_map(|p| p["id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(installed, ["weather"]);

    // The user reviews what they installed, as that account, with the
    // receipt the install kept.
    let mut review = user.command(&[
        "plugin",
        "review",
        "weather",
        "--stars",
        "4",
        "--text",
        "Accurate for my town.",
        "--registry",
        &served.url,
    ]);
    review.env("LORD_REGISTRY_TOKEN", &account);
    user.run_cmd(&mut review).assert_ok();
    let mut rate = user.command(&["plugin", "rate", "weather", "5", "--registry", &served.url]);
    rate.env("LORD_REGISTRY_TOKEN", &account);
    user.run_cmd(&mut rate).assert_ok();
    let kept = std::fs::read_dir(user.home.path().join("registries"))
        .expect("registries")
        .filter_map(Result::ok)
        .any(|e| e.path().join("receipts/weather@1.2.0.receipt").is_file());
    assert!(kept, "the install kept its receipt for later edits");
    let reviews: serde_json::Value =
        serde_json::from_str(&get(&served.url, "/api/v1/plugins/weather/reviews"))
            .unwrap_or_default();
    assert_eq!(reviews[0]["text"], "Accurate for my town.", "{reviews}");
    let recommended = user.run(&["plugin", "recommend", "--registry", &served.url, "--json"]);
    recommended.assert_ok();
    assert!(
        !recommended.stdout().contains("\"id\":\"weather\""),
        "an installed plugin is never recommended: {}",
        recommended.stdout()
    );
}
