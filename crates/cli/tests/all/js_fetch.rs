//! `fetch` for JavaScript and TypeScript plugins (`lord:fetch`, over
//! `wasi:http`): projects made by `lord pdk new`, edited as an author would,
//! built by `lord pdk build` with the real npm toolchain, installed holding
//! `net(127.0.0.1:PORT)` for a real loopback server started here. The
//! servers record every connection they accept, so "refused before
//! connecting" is what a real listener saw.

use std::io::Read;
use std::path::Path;

use crate::http::{Server, respond};
use crate::pdk::{path, pdk};
use crate::support::Lord;

/// The command of the JavaScript test plugin: GET `url` (or POST `body` to
/// it), with `redirect` as given, printing what came back. Errors are
/// thrown as strings, as the template says a command reports them.
const FETCHING_JS: &str = r#"import { fetch } from 'lord:fetch';

function arg(invocation, name) {
  return invocation.args.find((a) => a.name === name)?.values[0];
}

export const guest = {
  onLoad() {},
  onEnable() {},
  onDisable() {},
  onUnload() {},
  onError() {},
  runCommand(invocation) {
    const url = arg(invocation, 'url');
    const body = arg(invocation, 'body');
    // Arguments are positional: an empty body means none.
    const init = !body
      ? { redirect: arg(invocation, 'redirect') ?? 'follow' }
      : { method: 'POST', headers: { 'content-type': 'text/plain', 'x-sent-by': 'jsfetch' }, body };
    let response;
    try {
      response = fetch(url, init);
    } catch (e) {
      throw `${e.name}: ${e.message}`;
    }
    const type = response.headers.get('Content-Type') ?? '';
    const shown = type.startsWith('application/json')
      ? `JSON ${JSON.stringify(response.json())}`
      : response.text();
    return `STATUS ${response.status} ok=${response.ok} redirected=${response.redirected}\n` +
      `URL ${response.url}\nBYTES ${response.arrayBuffer().byteLength}\n${shown}\n`;
  },
  callMicro(_input, ctx) {
    throw `jsfetch has no micro-plugin \`${ctx.id}\``;
  },
  validateMicro() {},
  handleEvent() {},
  handleMessage() {
    throw 'jsfetch accepts no messages';
  },
};
"#;

const ARGS_TOML: &str = r#"[[commands.args]]
name = "url"
help = "The URL to fetch"
required = true

[[commands.args]]
name = "body"
help = "A body to POST"

[[commands.args]]
name = "redirect"
help = "follow, manual or error"
"#;

/// Makes a project with `lord pdk new` and turns it into `jsfetch`: the
/// source above, a manifest asking for `net(127.0.0.1:port)`.
fn fetching_project(lord: &Lord, dir: &Path, port: u16) {
    pdk(
        lord,
        &["new", "jsfetch", "--lang", "javascript", "--dir", path(dir)],
    )
    .assert_ok();
    std::fs::write(dir.join("src/plugin.js"), FETCHING_JS).expect("write source");
    let manifest = std::fs::read_to_string(dir.join("plugin.toml")).expect("manifest");
    let grant = format!("net(127.0.0.1:{port})");
    let args_start = manifest.find("[[commands.args]]").expect("an argument");
    let manifest = format!("{}{ARGS_TOML}", &manifest[..args_start])
        .replace("request = []", &format!("request = [\"{grant}\"]"))
        .replace(
            "reasons = { }",
            &format!("reasons = {{ \"{grant}\" = \"to fetch from the test's server\" }}"),
        );
    assert!(manifest.contains(&grant), "{manifest}");
    std::fs::write(dir.join("plugin.toml"), manifest).expect("write manifest");
    // The generated cases greet; this plugin fetches.
    std::fs::remove_file(dir.join("tests/cases.toml")).expect("remove cases");
}

/// Answers as a small web server would: `/old` redirects to `/new`,
/// `/other` to the port in `elsewhere`, `/data.json` is JSON, a POST gets
/// its own body and headers back.
fn site(elsewhere: u16) -> Server {
    Server::start_with_body(move |head, early, stream| {
        let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
        if head.starts_with("POST") {
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .unwrap_or(0);
            let mut body = early.to_vec();
            let mut rest = vec![0; length.saturating_sub(body.len())];
            let _ = stream.read_exact(&mut rest);
            body.extend(rest);
            let sent_by = head.to_ascii_lowercase().contains("x-sent-by: jsfetch\r\n");
            let answer = format!(
                "posted {} bytes, sent-by header {sent_by}: {}",
                length,
                String::from_utf8_lossy(&body)
            );
            respond(stream, "201 Created", "", answer.as_bytes());
        } else if path == "/old" {
            respond(stream, "302 Found", "location: /new\r\n", b"");
        } else if path == "/other" {
            let location = format!("location: http://127.0.0.1:{elsewhere}/\r\n");
            respond(stream, "302 Found", &location, b"");
        } else if path == "/data.json" {
            let json = "content-type: application/json\r\n";
            respond(stream, "200 OK", json, br#"{"answer": 42, "list": [1, 2]}"#);
        } else {
            respond(
                stream,
                "200 OK",
                "",
                format!("hello from {path}").as_bytes(),
            );
        }
    })
}

#[test]
fn a_javascript_plugin_fetches_from_its_granted_server_and_nowhere_else() {
    let other = Server::start(|_, stream| respond(stream, "200 OK", "", b"stolen"));
    let server = site(other.port);
    let lord = Lord::new();
    let work = tempfile::tempdir().expect("workspace");
    let dir = work.path().join("jsfetch");
    fetching_project(&lord, &dir, server.port);

    // QuickJS, asked for, says why it cannot, and what to do.
    pdk(&lord, &["build", path(&dir), "--engine", "quickjs"])
        .assert_code(2)
        .assert_stderr_contains("--engine spidermonkey");
    // Unasked, the build chooses SpiderMonkey for code that fetches: the
    // template's plugin builds as it is. SpiderMonkey's component is an
    // order of magnitude larger than QuickJS's (~13 MB against ~1 MB).
    let built = pdk(&lord, &["build", path(&dir), "--json"]);
    built.assert_ok();
    let built: serde_json::Value = serde_json::from_slice(&built.output.stdout).expect("JSON");
    assert!(
        built["bytes"].as_u64().is_some_and(|b| b > 5_000_000),
        "not SpiderMonkey: {built}"
    );
    let world = std::fs::read_to_string(dir.join(".lord/build/wit/world.wit")).expect("world");
    assert!(
        world.contains("import wasi:http/outgoing-handler@0.2.12;"),
        "{world}"
    );
    lord.run(&["plugin", "install", path(&dir), "--yes"])
        .assert_ok();

    let base = format!("http://127.0.0.1:{}", server.port);
    let run = lord.run(&["jsfetch", &format!("{base}/status?q=1")]);
    run.assert_ok();
    assert_eq!(
        run.stdout(),
        format!(
            "STATUS 200 ok=true redirected=false\nURL {base}/status?q=1\nBYTES 22\n\
             hello from /status?q=1\n"
        )
    );
    let run = lord.run(&["jsfetch", &format!("{base}/data.json")]);
    run.assert_ok();
    assert!(
        run.stdout().contains(r#"JSON {"answer":42,"list":[1,2]}"#),
        "{}",
        run.stdout()
    );
    let run = lord.run(&["jsfetch", &format!("{base}/notes"), "ping é!"]);
    run.assert_ok();
    assert!(
        run.stdout().starts_with("STATUS 201 ok=true"),
        "{}",
        run.stdout()
    );
    assert!(
        run.stdout()
            .contains("posted 8 bytes, sent-by header true: ping é!"),
        "{}",
        run.stdout()
    );
    // A redirect on the granted server is followed, as a new request.
    let run = lord.run(&["jsfetch", &format!("{base}/old")]);
    run.assert_ok();
    assert!(
        run.stdout().starts_with(&format!(
            "STATUS 200 ok=true redirected=true\nURL {base}/new\n"
        )),
        "{}",
        run.stdout()
    );
    // ...unless the plugin says not to.
    let run = lord.run(&["jsfetch", &format!("{base}/old"), "", "manual"]);
    run.assert_ok();
    assert!(
        run.stdout().starts_with("STATUS 302 ok=false"),
        "{}",
        run.stdout()
    );
    let heads = server.received();
    assert_eq!(heads.len(), 6, "{heads:?}");
    assert!(
        heads[0].starts_with("GET /status?q=1 HTTP/1.1"),
        "{heads:?}"
    );
    assert!(
        heads[0]
            .to_ascii_lowercase()
            .contains(&format!("host: 127.0.0.1:{}\r\n", server.port)),
        "{heads:?}"
    );
    assert!(heads[2].starts_with("POST /notes"), "{heads:?}");

    // Another port: refused by the host before any connection, by grant.
    let run = lord.run(&[
        "jsfetch",
        &format!("http://127.0.0.1:{}/secret?token=hunter2", other.port),
    ]);
    run.assert_code(3).assert_stderr_contains(&format!(
        "net(127.0.0.1:{port}) (an HTTP request to http://127.0.0.1:{port})",
        port = other.port
    ));
    assert!(!run.stderr().contains("hunter2"), "{}", run.stderr());
    // A redirect there is a new request, refused the same way.
    let run = lord.run(&["jsfetch", &format!("{base}/other")]);
    run.assert_code(3)
        .assert_stderr_contains(&format!("net(127.0.0.1:{})", other.port));
    assert_eq!(server.received().len(), 1, "the redirecting request");
    assert!(other.received().is_empty(), "the other server was reached");
}

#[test]
fn a_typescript_plugin_using_fetch_type_checks_and_builds() {
    let lord = Lord::new();
    let work = tempfile::tempdir().expect("workspace");
    let dir = work.path().join("tsfetch");
    pdk(
        &lord,
        &[
            "new",
            "tsfetch",
            "--lang",
            "typescript",
            "--dir",
            path(&dir),
        ],
    )
    .assert_ok();
    let source_file = dir.join("src/plugin.ts");
    let generated = std::fs::read_to_string(&source_file).expect("source");
    let uses_fetch = |body: &str| {
        let source = format!(
            "import {{ fetch, Headers, type Response }} from 'lord:fetch';\n{}",
            generated.replace("return greeting(name);", body)
        );
        std::fs::write(&source_file, source).expect("write source");
    };
    uses_fetch(
        "const response: Response = fetch(`http://127.0.0.1:9/${name}`, {\n      \
         method: 'PUT',\n      headers: new Headers({ accept: 'text/plain' }),\n      \
         body: new Uint8Array([104, 105]),\n      redirect: 'manual',\n    });\n    \
         const code: number = response.status;\n    \
         return `${code} ${response.ok} ${response.headers.get('x') ?? ''} ${response.text()}`;",
    );
    pdk(&lord, &["build", path(&dir)]).assert_ok();
    // The typings are checked, not decorative: `text()` returns a string.
    uses_fetch("const n: number = fetch('http://127.0.0.1:9/').text();\n    return `${n}`;");
    let run = pdk(&lord, &["build", path(&dir)]);
    assert!(!run.output.status.success(), "{}", run.stdout());
    run.assert_stderr_contains("Type 'string' is not assignable to type 'number'");
}
