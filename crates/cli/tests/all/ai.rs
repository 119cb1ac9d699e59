//! `lord ai` against real servers: llama.cpp's `llama-server` running the
//! SmolLM2-135M model (built once per machine by `.ci/llm` into
//! `~/.cache/lord-ci`; it speaks OpenAI chat completions with SSE for
//! real), and, for the failures a real server will not produce on demand
//! (401, 429 with `Retry-After`), a small HTTP server written here on
//! loopback. Nothing is mocked inside lord.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::Lord;

/// The real model's server, started as lord-ai's own tests start it;
/// `None` (with a note) where `.ci/llm` never ran, outside CI.
struct Llama {
    server: crate::llama_server::LlamaServer,
    port: u16,
}

impl Llama {
    fn start() -> Option<Self> {
        let server = crate::llama_server::LlamaServer::start()?;
        let port = server
            .url("")
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("the server's port");
        Some(Self { server, port })
    }

    fn url(&self) -> String {
        self.server.url("/v1")
    }
}

/// One HTTP/1.1 exchange over a fresh connection: status and body.
fn http(port: u16, method: &str, path: &str, body: Option<&Value>) -> (u16, String) {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new());
    };
    let body = body.map(Value::to_string).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    if stream.write_all(request.as_bytes()).is_err() {
        return (0, String::new());
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn add_local(lord: &Lord, url: &str) {
    lord.run(&[
        "ai", "add", "local", "--kind", "openai", "--url", url, "--model", "smollm2",
    ])
    .assert_ok();
}

fn json_of(run: &crate::support::Run) -> Value {
    serde_json::from_str(&run.stdout()).unwrap_or_else(|e| panic!("{e}: {}", run.stdout()))
}

const SAMPLING: [&str; 6] = ["--temperature", "0", "--seed", "7", "--max-tokens", "24"];

/// The meter's counts are the server's: the same request sent straight to
/// llama-server reports the same prompt and completion tokens in its
/// `usage`, and the text lord printed is the text it logged.
#[test]
fn a_prompt_streams_to_the_terminal_and_its_meter_matches_the_servers_usage() {
    let Some(llama) = Llama::start() else { return };
    let lord = Lord::new();
    add_local(&lord, &llama.url());
    let question = "Name three colours of the rainbow.";

    let mut args = vec!["ai", "prompt", question, "--json"];
    args.extend(SAMPLING);
    let run = lord.run(&args);
    run.assert_ok();
    let reply = json_of(&run);
    let (status, direct) = http(
        llama.port,
        "POST",
        "/v1/chat/completions",
        Some(&json!({
            "model": "smollm2",
            "messages": [{"role": "user", "content": question}],
            "temperature": 0, "seed": 7, "max_tokens": 24
        })),
    );
    assert_eq!(status, 200, "{direct}");
    let direct: Value = serde_json::from_str(&direct).expect("JSON");
    assert_eq!(
        reply["usage"]["input_tokens"],
        direct["usage"]["prompt_tokens"]
    );
    assert_eq!(
        reply["usage"]["output_tokens"],
        direct["usage"]["completion_tokens"]
    );
    assert_eq!(reply["text"], direct["choices"][0]["message"]["content"]);

    // Streamed: the reply reaches standard output in pieces while the
    // model writes it, and the meter line repeats the counts.
    let mut args = vec!["ai", "prompt", question];
    args.extend(SAMPLING);
    let mut child = lord
        .command(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("lord runs");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut pieces = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stdout.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => pieces.push(String::from_utf8_lossy(&buf[..n]).into_owned()),
        }
    }
    let output = child.wait_with_output().expect("lord ends");
    assert!(output.status.success());
    assert!(pieces.len() >= 3, "the reply came in one piece: {pieces:?}");
    assert_eq!(
        pieces.concat().trim_end(),
        reply["text"].as_str().unwrap().trim_end()
    );
    let meter = String::from_utf8_lossy(&output.stderr);
    let expected = format!(
        "[{} in · {} out",
        direct["usage"]["prompt_tokens"], direct["usage"]["completion_tokens"]
    );
    assert!(meter.contains(&expected), "{meter}");
    assert!(meter.contains("first token"), "{meter}");

    // The model that answered is one the profile's service lists.
    let model = reply["model"].as_str().unwrap();
    lord.run(&["ai", "models", "--check", model]).assert_ok();
    assert_eq!(
        lord.run(&["ai", "models", "--check", "no-such-model"])
            .code(),
        Some(1)
    );

    // Both exchanges are logged, and found by a word of the prompt.
    let run = lord.run(&["ai", "logs", "--search", "rainbow", "--json"]);
    run.assert_ok();
    assert_eq!(json_of(&run).as_array().map(Vec::len), Some(2));
}

/// `lord ai chat` in a real terminal: the reply grows on screen token by
/// token before the meter line that ends it, and `-c` later continues the
/// same session.
#[test]
fn chat_in_a_terminal_shows_the_reply_as_it_streams() {
    let Some(llama) = Llama::start() else { return };
    let lord = Lord::new();
    add_local(&lord, &llama.url());
    let tmux = crate::tmux::Tmux::start(&format!(
        "env LORD_HOME={} DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent {} ai chat \
         --temperature 0 --max-tokens 120; sleep 30",
        lord.home.path().display(),
        env!("CARGO_BIN_EXE_lord")
    ));
    // tmux drops the prompt's trailing space.
    tmux.wait_for("the prompt", |s| {
        s.contains("chatting with `local`") && s.lines().any(|l| l.trim_end() == ">")
    });
    tmux.type_text("Tell me a long story about a cat.");
    tmux.keys(&["Enter"]);
    // Watch the screen while the reply is written: some screen must show
    // part of the reply and no meter yet, and the reply must grow.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut partial = Vec::new();
    let finished = loop {
        let screen = tmux.screen();
        let after = screen
            .split("Tell me a long story about a cat.")
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        if after.contains(" in · ") {
            break screen;
        }
        let text = after.trim().to_owned();
        if !text.is_empty() && partial.last() != Some(&text) {
            partial.push(text);
        }
        assert!(Instant::now() < deadline, "no meter; the screen:\n{screen}");
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(
        partial.len() >= 2,
        "the reply did not grow on screen before it ended: {partial:?}\n{finished}"
    );
    assert!(
        partial.windows(2).all(|w| w[1].len() >= w[0].len()),
        "{partial:?}"
    );
    tmux.type_text("/exit");
    tmux.keys(&["Enter"]);
    let sessions = lord.run(&["ai", "sessions", "--json"]);
    let sessions = json_of(&sessions);
    assert_eq!(sessions[0]["messages"], 2, "{sessions}");
}

/// A session's budget is kept by its policy: `drop-oldest` forgets the
/// oldest messages, `summarise` asks the model to summarise them (a
/// logged exchange of its own) and keeps the summary; pinned messages
/// stay either way.
#[test]
fn a_session_over_its_budget_is_trimmed_or_summarised_by_its_policy() {
    let Some(llama) = Llama::start() else { return };
    let lord = Lord::new();
    add_local(&lord, &llama.url());
    for (policy, note) in [("drop-oldest", "forgot the"), ("summarise", "summarised")] {
        let session = format!("budget-{policy}");
        let mut notes = String::new();
        for (turn, text) in [
            "Remember: the secret word is apricot.",
            "What is the capital of France?",
            "Name a large animal.",
            "Name a small animal.",
            "Name a fast animal.",
        ]
        .iter()
        .enumerate()
        {
            let mut args = vec![
                "ai",
                "prompt",
                text,
                "--session",
                &session,
                "--budget",
                "100",
            ];
            args.extend(["--retention", policy, "--json"]);
            args.extend(SAMPLING);
            if turn == 0 {
                args.push("--pin");
            }
            let run = lord.run(&args);
            run.assert_ok();
            notes.push_str(&run.stderr());
            let reply = json_of(&run);
            // The session's size is what the server counted for the last
            // request (its prompt and reply), within the budget.
            let size = reply["session"]["tokens"].as_u64().unwrap();
            let counted = reply["usage"]["input_tokens"].as_u64().unwrap()
                + reply["usage"]["output_tokens"].as_u64().unwrap();
            assert_eq!(size, counted, "{reply}");
        }
        assert!(notes.contains(note), "{policy}: {notes}");
        let sessions = json_of(&lord.run(&["ai", "sessions", "--json"]));
        let kept = sessions
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == session.as_str())
            .unwrap()
            .clone();
        assert!(kept["messages"].as_u64().unwrap() < 10, "{kept}");
    }
    // The pinned first message is still sent: the log's latest prompt of
    // the summarised session is the question, and its summary request is
    // logged as an exchange of its own.
    let logs = json_of(&lord.run(&[
        "ai",
        "logs",
        "--session",
        "budget-summarise",
        "-n",
        "50",
        "--json",
    ]));
    assert!(
        logs.as_array()
            .unwrap()
            .iter()
            .any(|e| e["template"] == "(summary)"),
        "{logs}"
    );
}

/// One scripted answer: status, extra headers, body (`{auth}` in it is
/// replaced by the request's `Authorization` header).
type Answer = (u16, Vec<(&'static str, String)>, String);

/// What the loopback server answers, in order; the last repeats.
#[derive(Clone)]
struct Scripted {
    answers: Arc<Vec<Answer>>,
    /// Each request's arrival and its `Authorization` header.
    seen: Arc<Mutex<Vec<(Instant, String)>>>,
    /// Each request's body, as JSON.
    bodies: Arc<Mutex<Vec<Value>>>,
}

impl Scripted {
    fn start(answers: Vec<Answer>) -> (Self, u16) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let scripted = Self {
            answers: Arc::new(answers),
            seen: Arc::default(),
            bodies: Arc::default(),
        };
        let server = scripted.clone();
        std::thread::spawn(move || {
            let count = AtomicUsize::new(0);
            for stream in listener.incoming().flatten() {
                let n = count.fetch_add(1, Ordering::SeqCst);
                server.answer(stream, n);
            }
        });
        (scripted, port)
    }

    fn answer(&self, stream: TcpStream, n: usize) {
        let mut reader = BufReader::new(stream);
        let mut auth = String::new();
        let mut length = 0;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                break;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("authorization:") {
                auth = line[line.len() - v.len()..].trim().to_owned();
            }
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        let _ = reader.read_exact(&mut body);
        self.seen
            .lock()
            .unwrap()
            .push((Instant::now(), auth.clone()));
        let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        self.bodies.lock().unwrap().push(request.clone());
        let (status, headers, body) = &self.answers[n.min(self.answers.len() - 1)];
        // The server echoes the key back in errors, as some services do;
        // `{usage}` answers with counts like a real server's: a token per
        // four characters of the messages, plus four per message.
        let body = if body == "{usage}" {
            let prompt: u64 = request["messages"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| m["content"].as_str().unwrap_or_default().len() as u64 / 4 + 4)
                .sum();
            json!({
                "model": "m", "choices": [{"message": {"role": "assistant", "content": format!("reply {n}")}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": prompt, "completion_tokens": 3}
            })
            .to_string()
        } else {
            body.replace("{auth}", &auth)
        };
        let mut response = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\n", body.len());
        for (name, value) in headers {
            response.push_str(&format!("{name}: {value}\r\n"));
        }
        response.push_str("Content-Type: application/json\r\nConnection: close\r\n\r\n");
        response.push_str(&body);
        let mut stream = reader.into_inner();
        let _ = stream.write_all(response.as_bytes());
    }

    fn requests(&self) -> Vec<(Instant, String)> {
        self.seen.lock().unwrap().clone()
    }

    fn bodies(&self) -> Vec<Value> {
        self.bodies.lock().unwrap().clone()
    }
}

fn completion(text: &str) -> String {
    json!({
        "model": "m", "choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2}
    })
    .to_string()
}

/// A 429 with `Retry-After` is retried after that delay; a 401 is not
/// retried at all and says which secret to set.
#[test]
fn a_429_waits_for_retry_after_and_a_401_is_not_retried() {
    let lord = Lord::new();
    let (limited, port) = Scripted::start(vec![
        (
            429,
            vec![("Retry-After", "1".to_owned())],
            r#"{"error":{"message":"slow down"}}"#.to_owned(),
        ),
        (200, vec![], completion("hello")),
    ]);
    add_local(&lord, &format!("http://127.0.0.1:{port}/v1"));
    let run = lord.run(&["ai", "prompt", "hi", "--no-stream"]);
    run.assert_ok();
    assert_eq!(run.stdout().trim(), "hello");
    let seen = limited.requests();
    assert_eq!(seen.len(), 2);
    let waited = seen[1].0 - seen[0].0;
    assert!(
        waited >= Duration::from_millis(950),
        "retried after {waited:?}"
    );

    let (refusing, port) = Scripted::start(vec![(
        401,
        vec![],
        r#"{"error":{"message":"Incorrect API key provided: {auth}"}}"#.to_owned(),
    )]);
    lord.run(&[
        "ai",
        "add",
        "cloud",
        "--kind",
        "openai",
        "--url",
        &format!("http://127.0.0.1:{port}/v1"),
        "--model",
        "m",
    ])
    .assert_ok();
    let run = lord.run(&["ai", "prompt", "hi", "--ai-profile", "cloud"]);
    assert!(!run.output.status.success());
    run.assert_stderr_contains("lord secret set AI_CLOUD_KEY");
    assert_eq!(refusing.requests().len(), 1, "a 401 was retried");
}

/// A key stored with `lord secret` reaches the service in a header and is
/// found nowhere else: not in any output (even when the service echoes it
/// back in an error), the prompt log, or any file under `$LORD_HOME`.
#[test]
fn a_planted_key_appears_in_no_output_log_or_file() {
    const PLANTED: &str = "sk-PLANTED-4f2b9c7e1d8a";
    let lord = Lord::new();
    let (server, port) = Scripted::start(vec![
        (200, vec![], completion("fine")),
        (
            400,
            vec![],
            r#"{"error":{"message":"bad request from {auth}"}}"#.to_owned(),
        ),
    ]);
    add_local(&lord, &format!("http://127.0.0.1:{port}/v1"));
    crate::secrets::set_secret(&lord, "AI_LOCAL_KEY", PLANTED).assert_ok();
    let mut outputs = String::new();
    for args in [
        vec!["ai", "prompt", "hi", "--json"],
        vec!["ai", "prompt", "again", "-c"],
        vec!["ai", "logs", "--json"],
        vec!["ai", "profiles", "--json"],
        vec!["ai", "sessions", "--json"],
        vec!["config", "show", "--json"],
        vec!["-v", "ai", "prompt", "once more"],
    ] {
        let run = lord.run(&args);
        outputs.push_str(&run.stdout());
        outputs.push_str(&run.stderr());
    }
    // The key did reach the service, in its header.
    assert!(
        server
            .requests()
            .iter()
            .all(|(_, auth)| auth == &format!("Bearer {PLANTED}"))
    );
    assert!(outputs.contains("bad request from"), "{outputs}");
    assert!(!outputs.contains(PLANTED), "{outputs}");
    for entry in walk(lord.home.path()) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        assert!(
            !bytes
                .windows(PLANTED.len())
                .any(|w| w == PLANTED.as_bytes()),
            "the key is in {}",
            entry.display()
        );
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Two templates over the same inputs, rated: the report gives each
/// variant its latency, tokens, cost and ratings side by side.
#[test]
fn an_ab_report_gives_each_variant_latency_tokens_cost_and_ratings() {
    let Some(llama) = Llama::start() else { return };
    let lord = Lord::new();
    add_local(&lord, &llama.url());
    lord.run(&[
        "ai",
        "template",
        "save",
        "terse",
        "--prompt",
        "In one word: {{ thing }}?",
    ])
    .assert_ok();
    lord.run(&[
        "ai",
        "template",
        "save",
        "chatty",
        "--prompt",
        "Describe {{ thing }} in a {{ tone }} way.",
        "-d",
        "tone",
        "friendly",
    ])
    .assert_ok();
    // Price the local model so the report has a cost to compare.
    let model = json_of(&lord.run(&["ai", "prompt", "hi", "--json", "--max-tokens", "2"]))["model"]
        .as_str()
        .unwrap()
        .to_owned();
    lord.run(&["ai", "price", "set", &model, "1", "2"])
        .assert_ok();
    let inputs = lord.project.path().join("inputs.jsonl");
    std::fs::write(
        &inputs,
        "{\"thing\": \"the sea\"}\n{\"thing\": \"a lemon\"}\n",
    )
    .unwrap();
    let mut args = vec![
        "ai",
        "ab",
        "run",
        "terse",
        "chatty",
        "--inputs",
        inputs.to_str().unwrap(),
        "--json",
    ];
    args.extend(SAMPLING);
    let run = lord.run(&args);
    run.assert_ok();
    let report = json_of(&run);
    let id = report["run"].as_str().unwrap().to_owned();
    for (input, variant, rating) in [("1", "a", "4"), ("2", "a", "2"), ("1", "b", "5")] {
        lord.run(&["ai", "ab", "rate", &id, input, variant, rating])
            .assert_ok();
    }
    let report = json_of(&lord.run(&["ai", "ab", "report", &id, "--json"]));
    let [a, b] = [&report["variants"][0], &report["variants"][1]];
    assert_eq!(
        (a["template"].as_str(), b["template"].as_str()),
        (Some("terse"), Some("chatty"))
    );
    for v in [a, b] {
        assert_eq!(v["replies"], 2, "{v}");
        assert!(v["latency_ms_median"].as_f64().unwrap() > 0.0, "{v}");
        assert!(v["output_tokens"].as_u64().unwrap() > 0, "{v}");
        assert!(v["cost"].as_f64().unwrap() > 0.0, "{v}");
    }
    assert_eq!(a["rating_mean"], 3.0);
    assert_eq!(
        (a["ratings"].as_u64(), b["ratings"].as_u64()),
        (Some(2), Some(1))
    );
    let text = lord.run(&["ai", "ab", "report", &id]);
    text.assert_ok();
    assert!(
        text.stdout().contains("latency median ms"),
        "{}",
        text.stdout()
    );
}

/// Templates fill their variables (a missing one is named), a chain feeds
/// each reply to the next template, and roles are system prompts.
#[test]
fn templates_chains_and_roles_work_and_a_missing_variable_is_named() {
    let lord = Lord::new();
    let (server, port) = Scripted::start(vec![
        (200, vec![], completion("ONE")),
        (200, vec![], completion("TWO")),
    ]);
    add_local(&lord, &format!("http://127.0.0.1:{port}/v1"));
    lord.run(&[
        "ai",
        "template",
        "save",
        "first",
        "--prompt",
        "Start with {{ topic }}",
    ])
    .assert_ok();
    lord.run(&[
        "ai",
        "template",
        "save",
        "second",
        "--prompt",
        "Go on from: {{ input }}",
    ])
    .assert_ok();
    let run = lord.run(&["ai", "prompt", "-t", "first"]);
    assert!(!run.output.status.success());
    run.assert_stderr_contains("needs the variable `topic`");
    let run = lord.run(&[
        "ai", "chain", "first", "second", "-p", "topic", "tea", "--json",
    ]);
    run.assert_ok();
    let steps = json_of(&run);
    assert_eq!(steps["steps"][1]["reply"]["text"], "TWO");
    let logs = json_of(&lord.run(&["ai", "logs", "--json"]));
    assert_eq!(logs[0]["prompt"], "Go on from: ONE");
    assert_eq!(logs[1]["prompt"], "Start with tea");
    assert_eq!(server.requests().len(), 2);
    lord.run(&["ai", "role", "save", "pirate", "Talk like a pirate."])
        .assert_ok();
    let run = lord.run(&["ai", "role", "list"]);
    assert_eq!(run.stdout().trim(), "pirate");
}

/// Each service is a provider of its own: disabled, its profiles are
/// refused with the way back; the providers are listed like plugins.
#[test]
fn a_disabled_service_provider_refuses_its_profiles() {
    let lord = Lord::new();
    add_local(&lord, "http://127.0.0.1:9/v1");
    let list = lord.run(&["plugin", "list", "--json"]);
    let list: Value = json_of(&list);
    for id in [
        "ai",
        "openai",
        "anthropic",
        "ollama",
        "huggingface",
        "gemini",
    ] {
        assert!(
            list.as_array()
                .unwrap()
                .iter()
                .any(|p| p["id"] == id && p["kind"] == "native"),
            "{id} is not listed"
        );
    }
    lord.run(&["plugin", "disable", "openai"]).assert_ok();
    let run = lord.run(&["ai", "prompt", "hi"]);
    assert!(!run.output.status.success());
    run.assert_stderr_contains("lord plugin enable openai");
    // A key in a URL is refused at once, with the command to store it.
    let run = lord.run(&[
        "ai",
        "add",
        "x",
        "--kind",
        "gemini",
        "--url",
        "https://g.example/v1?key=abc",
    ]);
    assert!(!run.output.status.success());
    run.assert_stderr_contains("lord secret set AI_X_KEY");
}

/// A sandboxed plugin granted `ai(local)` reads the real model's reply
/// piece by piece through `lord:plugin/ai`; its exchanges are logged with
/// the plugin as the caller; another profile is refused, naming the grant
/// it lacks.
#[test]
fn a_plugin_granted_ai_local_streams_the_real_models_reply() {
    let Some(llama) = Llama::start() else { return };
    let lord = Lord::new();
    add_local(&lord, &llama.url());
    lord.install("asker");
    let run = lord.run(&["stream", "local", "Say hello to a cat.", "24"]);
    run.assert_ok();
    let stdout = run.stdout();
    let pieces: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("piece: "))
        .collect();
    assert!(pieces.len() >= 3, "the reply came in one piece:\n{stdout}");
    let answer = stdout
        .lines()
        .find_map(|l| l.strip_prefix("answer: "))
        .expect("an answer line");
    assert_eq!(pieces.concat(), answer);
    let logged = json_of(&lord.run(&["ai", "logs", "-n", "1", "--json"]));
    assert_eq!(logged[0]["caller"], "asker");
    assert_eq!(
        logged[0]["reply"].as_str().unwrap().replace('\n', "\\n"),
        answer
    );
    let tokens = format!(
        "tokens: {} {}",
        logged[0]["usage"]["input_tokens"], logged[0]["usage"]["output_tokens"]
    );
    assert!(stdout.contains(&tokens), "{stdout}");

    lord.run(&[
        "ai",
        "add",
        "other",
        "--kind",
        "openai",
        "--url",
        &llama.url(),
    ])
    .assert_ok();
    let run = lord.run(&["ask", "other", "hi"]);
    assert_eq!(run.code(), Some(3), "{}", run.stderr());
    run.assert_stderr_contains("the AI profile `other` is not granted");
    assert_eq!(
        json_of(&lord.run(&["ai", "logs", "--json"]))
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

/// The key a profile uses never reaches the plugin: not as a value it can
/// read, and not in an error the service echoes it back in.
#[test]
fn a_plugin_never_sees_the_profiles_key_even_when_the_service_echoes_it() {
    const PLANTED: &str = "sk-PLANTED-plugin-93b1e0";
    let lord = Lord::new();
    let (server, port) = Scripted::start(vec![
        (200, vec![], completion("hi there")),
        (
            401,
            vec![],
            r#"{"error":{"message":"bad key {auth}"}}"#.to_owned(),
        ),
    ]);
    add_local(&lord, &format!("http://127.0.0.1:{port}/v1"));
    crate::secrets::set_secret(&lord, "AI_LOCAL_KEY", PLANTED).assert_ok();
    lord.install("asker");
    let first = lord.run(&["ask", "local", "hi"]);
    first.assert_ok();
    assert!(first.stdout().starts_with("hi there"), "{}", first.stdout());
    let second = lord.run(&["ask", "local", "hi"]);
    assert!(!second.output.status.success());
    let said = format!(
        "{}{}{}{}",
        first.stdout(),
        first.stderr(),
        second.stdout(),
        second.stderr()
    );
    // The plugin is told what kind of failure it was, and which secret
    // the user must fix, without the key.
    assert!(
        said.contains("auth: `local` refused the key (401): bad key Bearer <key>"),
        "{said}"
    );
    assert!(said.contains("lord secret set AI_LOCAL_KEY"), "{said}");
    assert!(!said.contains(PLANTED), "{said}");
    assert!(
        server
            .requests()
            .iter()
            .all(|(_, auth)| auth == &format!("Bearer {PLANTED}"))
    );
    // Disabled, the `ai` provider withholds the interface: the plugin is
    // refused, saying how to enable it.
    lord.run(&["plugin", "disable", "ai"]).assert_ok();
    let run = lord.run(&["ask", "local", "hi"]);
    assert!(!run.output.status.success());
    run.assert_stderr_contains("lord plugin enable ai");
}

/// What is sent is what the budget allows: the pinned message opens every
/// request, forgotten turns are gone from later requests (a question with
/// its answer), and every request fits the budget as counted.
#[test]
fn what_a_session_sends_fits_its_budget_and_keeps_the_pinned_message() {
    let lord = Lord::new();
    let (server, port) = Scripted::start(vec![(200, vec![], "{usage}".to_owned())]);
    add_local(&lord, &format!("http://127.0.0.1:{port}/v1"));
    let pinned = "Remember: the secret word is apricot.";
    let turns = [
        pinned,
        "first question here",
        "second question here",
        "third question here",
        "fourth question here",
    ];
    for (turn, text) in turns.iter().enumerate() {
        let mut args = vec![
            "ai",
            "prompt",
            text,
            "--session",
            "s",
            "--budget",
            "45",
            "--no-stream",
        ];
        if turn == 0 {
            args.push("--pin");
        }
        lord.run(&args).assert_ok();
    }
    let bodies = server.bodies();
    assert_eq!(bodies.len(), turns.len());
    for (n, body) in bodies.iter().enumerate() {
        let messages = body["messages"].as_array().unwrap();
        assert_eq!(messages[0]["content"], pinned, "request {n}: {body}");
        // Counted as the server counts: within the budget.
        let counted: usize = messages
            .iter()
            .map(|m| m["content"].as_str().unwrap().len() / 4 + 4)
            .sum();
        assert!(
            counted <= 45 + 10,
            "request {n} holds {counted} tokens: {body}"
        );
        // Never a reply without the question it answered before it.
        for (i, m) in messages.iter().enumerate() {
            if m["role"] == "assistant" {
                assert_eq!(messages[i - 1]["role"], "user", "request {n}: {body}");
            }
        }
    }
    let last = bodies.last().unwrap()["messages"]
        .as_array()
        .unwrap()
        .clone();
    let texts: Vec<&str> = last
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert!(!texts.contains(&"first question here"), "{texts:?}");
    assert!(
        !texts.contains(&"reply 1"),
        "a forgotten question's answer stayed: {texts:?}"
    );
    assert_eq!(texts.last(), Some(&"fourth question here"));
}

/// A continued session goes back to its own profile and model; naming
/// another profile, or a new system prompt, is refused.
#[test]
fn a_continued_session_keeps_its_profile_and_refuses_another() {
    let lord = Lord::new();
    let (first, port_a) = Scripted::start(vec![(200, vec![], completion("from a"))]);
    let (second, port_b) = Scripted::start(vec![(200, vec![], completion("from b"))]);
    add_local(&lord, &format!("http://127.0.0.1:{port_a}/v1"));
    lord.run(&[
        "ai",
        "add",
        "other",
        "--kind",
        "openai",
        "--url",
        &format!("http://127.0.0.1:{port_b}/v1"),
        "--model",
        "big",
    ])
    .assert_ok();
    lord.run(&["config", "set", "ai.default-profile", "local"])
        .assert_ok();
    lord.run(&[
        "ai",
        "prompt",
        "hi",
        "-P",
        "other",
        "-m",
        "bigger",
        "--no-stream",
    ])
    .assert_ok();
    let run = lord.run(&["ai", "prompt", "-c", "again", "--no-stream"]);
    run.assert_ok();
    assert_eq!(run.stdout().trim(), "from b");
    assert_eq!(first.requests().len(), 0);
    assert_eq!(second.bodies()[1]["model"], "bigger");
    let run = lord.run(&["ai", "prompt", "-c", "-P", "local", "again"]);
    assert!(!run.output.status.success());
    run.assert_stderr_contains("is with the profile `other`");
    let run = lord.run(&["ai", "prompt", "-c", "--system", "be terse", "again"]);
    run.assert_stderr_contains("already has its system prompt");
}

/// A project's lord.toml cannot say where an AI profile sends its key.
#[test]
fn a_project_cannot_point_a_profile_elsewhere() {
    let lord = Lord::new();
    add_local(&lord, "http://127.0.0.1:9/v1");
    std::fs::write(
        lord.project.path().join("lord.toml"),
        "[ai.profiles.local]\nurl = \"https://collector.example/v1\"\nkey-secret = \"GITHUB_TOKEN\"\n",
    )
    .unwrap();
    let run = lord.run(&["ai", "prompt", "hi"]);
    assert!(!run.output.status.success());
    run.assert_stderr_contains("may not be set by a project");
}
