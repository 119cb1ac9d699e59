//! The web pages as a browser receives them: raw HTTP on loopback to the
//! real server, on both backends. What a page must never carry (a hostile
//! README's script, event attributes, `javascript:` links) and what it must
//! (the install line, permissions in words, the security headers).

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};

use lord_package::Signature;

use crate::{Backend, Running};

/// A page: its status, its headers (names lowercase) and its body.
struct Page {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Page {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn address(r: &Running) -> SocketAddr {
    r.client
        .base()
        .trim_start_matches("http://")
        .parse()
        .expect("address")
}

fn get(at: SocketAddr, path: &str) -> Page {
    let mut stream = TcpStream::connect(at).expect("connect");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {at}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("answer");
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Page {
        status,
        headers,
        body: body.to_owned(),
    }
}

/// The body of the page at `path`, as a browser shows its text (the
/// templates escape `/` too).
pub(crate) fn page(r: &Running, path: &str) -> String {
    let page = get(address(r), path);
    assert_eq!(page.status, 200, "{path}: {}", page.body);
    page.body.replace("&#x2f;", "/")
}

/// A plugin with `permissions` (manifest syntax) and `readme`.
pub(crate) fn publish_with(
    r: &Running,
    id: &str,
    category: &str,
    permissions: &[&str],
    readme: &str,
) -> lord_registry::Published {
    publish_at(r, id, "0.1.0", category, permissions, readme)
}

/// [`publish_with`] at `version`.
pub(crate) fn publish_at(
    r: &Running,
    id: &str,
    version: &str,
    category: &str,
    permissions: &[&str],
    readme: &str,
) -> lord_registry::Published {
    let dir = tempfile::tempdir().expect("dir");
    let request = permissions
        .iter()
        .map(|p| format!("\"{p}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let manifest = format!(
        "[plugin]\nid = \"{id}\"\nname = \"{id}\"\nversion = \"{version}\"\n\
         description = \"The {id} plugin.\"\nauthors = [\"Ada\"]\nlicense = \"MIT\"\n\
         category = \"{category}\"\nkeywords = [\"web\"]\nhost-api = \"^0.2\"\n\
         component = \"plugin.wasm\"\n\n[permissions]\nrequest = [{request}]\n"
    );
    std::fs::write(dir.path().join("plugin.toml"), manifest).expect("manifest");
    std::fs::write(dir.path().join("README.md"), readme).expect("readme");
    std::fs::copy(
        crate::repo().join("plugins/hello/plugin.wasm"),
        dir.path().join("plugin.wasm"),
    )
    .expect("component");
    let packed = lord_package::pack(dir.path()).expect("pack");
    let signature: Signature = r.keys.sign("ada", &packed.digest).expect("sign");
    r.runtime
        .block_on(r.client.publish(&r.token, packed.bytes, &signature, &r.key))
        .expect("publish")
}

const HOSTILE_README: &str = "# Notes, safely\n\n\
Plain *text* stays.\n\n\
<script>alert('readme-script')</script>\n\n\
<img src=\"https://tracker.example/pixel.png\" onerror=\"alert('img')\">\n\n\
[a javascript link](javascript:alert('link')) and \
<a href=\"JAVASCRIPT:alert('raw')\" onclick=\"alert('click')\">raw link</a>\n\n\
<div onmouseover=\"alert('hover')\" style=\"position:fixed;inset:0\">hover me</div>\n\n\
<iframe src=\"https://evil.example/\"></iframe>\n\n\
![remote image](https://tracker.example/a.png)\n";

pub(crate) fn a_plugin_page_shows_the_plugin_and_neutralises_its_readme(backend: Backend) {
    let Some(r) = Running::start(backend) else {
        return;
    };
    publish_with(
        &r,
        "notes",
        "productivity",
        &["net(api.example.org)", "fs-read($PROJECT)"],
        HOSTILE_README,
    );
    r.runtime
        .block_on(r.client.download("notes", "0.1.0"))
        .expect("download");
    let at = address(&r);
    let page = get(at, "/plugins/notes");
    assert_eq!(page.status, 200, "{}", page.body);
    let csp = page.header("content-security-policy").expect("a CSP");
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "`{directive}` missing from {csp}");
    }
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    let body = &page.body;

    // The README's text is there; everything that could run is not.
    assert!(body.contains("<h1>Notes, safely</h1>"), "{body}");
    assert!(body.contains("<em>text</em>"), "{body}");
    assert!(body.contains("hover me"), "{body}");
    let lower = body.to_lowercase();
    for needle in [
        "alert(",
        "javascript:",
        "onerror",
        "onclick",
        "onmouseover",
        "<iframe",
        "tracker.example",
        "style=",
    ] {
        assert!(
            !lower.contains(needle),
            "`{needle}` reached the page:\n{body}"
        );
    }
    // The only script is the page's own file, which the CSP allows.
    assert_eq!(
        lower.matches("<script").count(),
        1,
        "a script other than /static/copy.js:\n{body}"
    );
    assert!(body.contains(r#"<script src="/static/copy.js" defer></script>"#));

    // The install line, permissions in words with their risk, the signer,
    // compatibility and the chart of the one download. (The templates
    // escape `/` too; a browser shows the text as written.)
    let shown = body.replace("&#x2f;", "/");
    let body = &shown;
    assert!(
        body.contains(&format!(
            "lord plugin install notes@=0.1.0 --registry http://{at}"
        )),
        "{body}"
    );
    assert!(
        body.contains("open network connections and send HTTP requests to api.example.org"),
        "{body}"
    );
    assert!(body.contains("read files under $PROJECT"), "{body}");
    assert!(body.contains("risk: high"), "{body}");
    assert!(
        body.contains(&format!("/publishers/{}", r.key.id())),
        "{body}"
    );
    assert!(body.contains("works with this lord (0.2.1)"), "{body}");
    assert!(body.contains("1 download in the last 90 days"), "{body}");
    assert!(
        page.body.len() < 100 * 1024,
        "the page is {} bytes",
        page.body.len()
    );

    let missing = get(at, "/plugins/nothing-here");
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("no plugin named `nothing-here`"));
    assert!(missing.header("content-security-policy").is_some());
}

/// The ids linked from a page's result list, in order.
fn listed(page: &Page) -> Vec<String> {
    page.body
        .split("<h3><a href=\"/plugins/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

pub(crate) fn the_search_page_filters_by_permission_risk_category_and_host_api(backend: Backend) {
    let Some(r) = Running::start(backend) else {
        return;
    };
    publish_with(&r, "calm", "utility", &[], "calm");
    publish_with(&r, "fetcher", "network", &["net(api.example.org)"], "fetch");
    publish_with(&r, "runner", "development", &["exec(git)"], "run");
    let at = address(&r);
    let mut all = listed(&get(at, "/"));
    all.sort();
    assert_eq!(all, ["calm", "fetcher", "runner"]);
    assert_eq!(listed(&get(at, "/?permission=net")), ["fetcher"]);
    assert_eq!(listed(&get(at, "/?max_risk=low")), ["calm"]);
    let mut high = listed(&get(at, "/?max_risk=high"));
    high.sort();
    assert_eq!(high, ["calm", "fetcher"]);
    assert_eq!(listed(&get(at, "/?category=development")), ["runner"]);
    assert_eq!(listed(&get(at, "/?host_api=0.2.1&q=fetcher")), ["fetcher"]);
    assert!(listed(&get(at, "/?host_api=0.3.0")).is_empty());
    // An empty form field means "any", as a browser sends it.
    assert_eq!(
        listed(&get(
            at,
            "/?q=runner&category=&permission=&max_risk=&host_api=&sort="
        )),
        ["runner"]
    );
    // An older version published later (no permissions at all) changes
    // nothing the filters read, here or on the JSON API below: installs
    // still take the latest, 0.1.0.
    publish_at(&r, "runner", "0.0.1", "development", &[], "run");
    assert_eq!(listed(&get(at, "/?max_risk=low")), ["calm"]);
    let bad = get(at, "/?permission=teleport");
    assert_eq!(bad.status, 400);
    assert!(
        bad.body.contains("`teleport` is not a permission family"),
        "{}",
        bad.body
    );

    // The same filters on the JSON API.
    let hits = r
        .runtime
        .block_on(r.client.search(&lord_registry::SearchQuery {
            permission: Some("exec".to_owned()),
            ..lord_registry::SearchQuery::default()
        }))
        .expect("search");
    assert_eq!(hits.total, 1);
    assert_eq!(hits.hits[0].id, "runner");

    // The publisher page lists what the key signed.
    let publisher = get(at, &format!("/publishers/{}", r.key.id()));
    assert_eq!(publisher.status, 200, "{}", publisher.body);
    let mut signed = listed(&publisher);
    signed.sort();
    assert_eq!(signed, ["calm", "fetcher", "runner"]);
    assert_eq!(get(at, "/publishers/no-such-key").status, 404);
    let css = get(at, "/static/style.css");
    assert_eq!(css.status, 200);
    assert!(
        css.header("content-type")
            .is_some_and(|t| t.starts_with("text/css"))
    );
}
