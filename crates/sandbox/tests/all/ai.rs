//! `lord:plugin/ai` through the `asker` fixture (granted `ai(local)`),
//! against a scripted [`AiService`] in place of the host's provider.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lord_sandbox::{
    AiAnswer, AiAsk, AiFailure, AiPiece, AiService, CommandArg, Failure, Grants, Invocation, Links,
};
use tokio::sync::mpsc;

use crate::{compile, limits};

/// Replies with `pieces`, and remembers who asked what.
struct Scripted {
    pieces: Vec<&'static str>,
    /// Keep the reply open after the pieces instead of ending it.
    stall: bool,
    asked: Mutex<Vec<(String, AiAsk)>>,
}

impl Scripted {
    fn new(pieces: &[&'static str]) -> Arc<Self> {
        Arc::new(Self {
            pieces: pieces.to_vec(),
            stall: false,
            asked: Mutex::new(Vec::new()),
        })
    }

    fn answer(&self) -> AiAnswer {
        AiAnswer {
            text: self.pieces.concat(),
            model: "scripted".to_owned(),
            input_tokens: 5,
            output_tokens: self.pieces.len() as u64,
            finish: "stop".to_owned(),
        }
    }

    fn asked(&self) -> Vec<(String, AiAsk)> {
        self.asked.lock().expect("lock").clone()
    }
}

impl AiService for Scripted {
    fn complete(
        &self,
        plugin: &str,
        ask: AiAsk,
    ) -> Pin<Box<dyn Future<Output = Result<AiAnswer, AiFailure>> + Send>> {
        self.asked
            .lock()
            .expect("lock")
            .push((plugin.to_owned(), ask));
        let answer = self.answer();
        Box::pin(async move { Ok(answer) })
    }

    fn stream(&self, plugin: &str, ask: AiAsk) -> mpsc::Receiver<AiPiece> {
        self.asked
            .lock()
            .expect("lock")
            .push((plugin.to_owned(), ask));
        let (tx, rx) = mpsc::channel(1);
        let pieces = self.pieces.clone();
        let answer = self.answer();
        let stall = self.stall;
        tokio::spawn(async move {
            for piece in pieces {
                if tx.send(AiPiece::Text(piece.to_owned())).await.is_err() {
                    return;
                }
            }
            if stall {
                tx.closed().await;
                return;
            }
            let _ = tx.send(AiPiece::End(Ok(answer))).await;
        });
        rx
    }
}

fn invocation(command: &str, args: &[(&str, &str)]) -> Invocation {
    Invocation {
        command: command.to_owned(),
        args: args
            .iter()
            .map(|(name, value)| CommandArg {
                name: (*name).to_owned(),
                values: vec![(*value).to_owned()],
            })
            .collect(),
    }
}

/// Runs one `asker` command with `ai(local)` granted and `service` linked
/// (or none).
async fn run(
    service: Option<Arc<Scripted>>,
    time: Duration,
    command: &str,
    args: &[(&str, &str)],
) -> Result<String, Failure> {
    let (_cache, _sandbox, compiled) = compile("asker", &["ai(local)"]);
    let grants = Grants {
        ai: vec!["local".to_owned()],
        ..Grants::default()
    };
    let links = match service {
        // Linked as the trait object: the interface looks the service up
        // by exactly this type.
        Some(service) => Links::default().with(service as Arc<dyn AiService>),
        None => Links::default(),
    };
    let mut instance = compiled
        .instantiate(&grants, limits(time), &links)
        .await
        .expect("instance");
    instance
        .run_command(&invocation(command, args))
        .await
        .map(|(text, _)| text)
        .map_err(|e| e.failure)
}

#[tokio::test]
async fn a_streamed_reply_reaches_the_plugin_piece_by_piece() {
    let service = Scripted::new(&["Hel", "lo\n", "world"]);
    let out = run(
        Some(Arc::clone(&service)),
        Duration::from_secs(10),
        "stream",
        &[
            ("profile", "local"),
            ("prompt", "greet me"),
            ("max-tokens", "7"),
        ],
    )
    .await
    .expect("streamed");
    assert_eq!(
        out,
        "piece: Hel\npiece: lo\\n\npiece: world\nanswer: Hello\\nworld\ntokens: 5 3\n"
    );
    let asked = service.asked();
    assert_eq!(asked.len(), 1);
    let (plugin, ask) = &asked[0];
    assert_eq!(plugin, "asker", "the prompt log names the asking plugin");
    assert_eq!(ask.profile, "local");
    assert_eq!(
        ask.messages,
        vec![("user".to_owned(), "greet me".to_owned())]
    );
    assert_eq!(ask.max_tokens, Some(7));
    assert_eq!(ask.temperature, Some(0.0));
}

#[tokio::test]
async fn a_whole_reply_comes_with_its_token_counts() {
    let service = Scripted::new(&["Paris"]);
    let out = run(
        Some(service),
        Duration::from_secs(10),
        "ask",
        &[("profile", "local"), ("prompt", "capital of France?")],
    )
    .await
    .expect("answered");
    assert_eq!(out, "Paris\ntokens: 5 1\n");
}

#[tokio::test]
async fn a_profile_not_granted_is_refused_naming_its_permission_and_never_asked() {
    let service = Scripted::new(&["secret"]);
    let failure = run(
        Some(Arc::clone(&service)),
        Duration::from_secs(10),
        "ask",
        &[("profile", "cloud"), ("prompt", "hi")],
    )
    .await
    .expect_err("refused");
    assert_eq!(
        failure,
        Failure::Denied {
            access: "the AI profile `cloud`".to_owned()
        }
    );
    assert!(service.asked().is_empty(), "the service never saw it");
}

#[tokio::test]
async fn a_host_without_an_ai_service_refuses_clearly() {
    let failure = run(
        None,
        Duration::from_secs(10),
        "stream",
        &[("profile", "local"), ("prompt", "hi")],
    )
    .await
    .expect_err("refused");
    let Failure::Returned { message } = failure else {
        panic!("expected the plugin's own error, got {failure:?}");
    };
    assert!(message.contains("serves no AI profiles"), "{message}");
}

#[tokio::test]
async fn a_reply_that_never_ends_is_stopped_at_the_deadline() {
    let service = Arc::new(Scripted {
        stall: true,
        ..Arc::into_inner(Scripted::new(&["thinking"])).expect("sole owner")
    });
    let failure = run(
        Some(service),
        Duration::from_millis(300),
        "stream",
        &[("profile", "local"), ("prompt", "hi")],
    )
    .await
    .expect_err("stopped");
    assert!(
        matches!(failure, Failure::TimeLimit { .. }),
        "expected the time limit, got {failure:?}"
    );
}
