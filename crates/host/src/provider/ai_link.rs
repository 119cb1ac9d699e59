//! The host side of `lord:plugin/ai`: the [`AiService`] linked into the
//! instances of a plugin granted `ai(NAME)`. It is made per plugin with
//! the endpoints of that plugin's granted profiles only (keys read from
//! `lord secret` into `ApiKey`s), so even a request the sandbox let
//! through by mistake could reach no other profile. Every exchange is
//! written to the prompt log with the plugin's id as its caller, and
//! errors reach the plugin as text that never holds a key (the client
//! scrubs what services echo back).

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use lord_ai::{Client, Endpoint, Exchange, Message, Reply, Request, RetryPolicy, Role};
use lord_sandbox::{AiAnswer, AiAsk, AiFailure, AiPiece, AiService};
use tokio::sync::mpsc;

/// How many pieces wait for the plugin to read them before later ones
/// are joined onto the newest waiting piece (so a slow reader costs
/// memory in proportion to the reply, never a lost token).
const QUEUE: usize = 256;

/// One plugin's reach: its granted profiles, each usable or the reason
/// it is not.
pub(crate) struct PluginAi {
    profiles: BTreeMap<String, Result<Endpoint, String>>,
    max_tokens: BTreeMap<String, u32>,
    client: Client,
    home: PathBuf,
}

impl PluginAi {
    /// The service for a plugin granted `profiles`, resolved now.
    pub(crate) fn service(
        settings: &lord_config::Config,
        secrets: &lord_state::Secrets,
        profiles: &[String],
        kind_enabled: impl Fn(lord_ai::Kind) -> bool,
        home: PathBuf,
    ) -> Option<Arc<dyn AiService>> {
        let client = Client::new(RetryPolicy::default(), Duration::from_secs(120)).ok()?;
        let mut resolved = BTreeMap::new();
        let mut max_tokens = BTreeMap::new();
        for name in profiles {
            let endpoint = super::ai::profile(settings, secrets, name, |k| Ok(kind_enabled(k)))
                .and_then(|(profile, key)| {
                    if let Some(max) = profile.max_tokens {
                        max_tokens.insert(name.clone(), max);
                    }
                    super::ai::endpoint(&profile, key)
                })
                .map_err(|e| e.to_string());
            resolved.insert(name.clone(), endpoint);
        }
        Some(Arc::new(Self {
            profiles: resolved,
            max_tokens,
            client,
            home,
        }))
    }

    /// The endpoint and request for `ask`, or why there are none.
    fn prepare(&self, ask: &AiAsk) -> Result<(Endpoint, Request), AiFailure> {
        let endpoint = match self.profiles.get(&ask.profile) {
            Some(Ok(endpoint)) => endpoint.clone(),
            Some(Err(reason)) => return Err(AiFailure::Refused(reason.clone())),
            None => {
                return Err(AiFailure::Refused(format!(
                    "refused: the AI profile `{}` (needs `ai({})`)",
                    ask.profile, ask.profile
                )));
            }
        };
        let messages = ask
            .messages
            .iter()
            .map(|(role, content)| {
                // The sandbox checked the roles; user is the safe reading.
                Message::new(Role::parse(role).unwrap_or(Role::User), content.clone())
            })
            .collect();
        let request = Request {
            model: ask.model.clone(),
            messages,
            // The profile's `max-tokens` is the user's bound: a plugin may
            // ask for fewer, never more.
            max_tokens: match (ask.max_tokens, self.max_tokens.get(&ask.profile).copied()) {
                (Some(asked), Some(most)) => Some(asked.min(most)),
                (asked, most) => asked.or(most),
            },
            temperature: ask.temperature,
            seed: None,
        };
        Ok((endpoint, request))
    }
}

/// What the plugin is told when a request fails: the kind it can act on,
/// and the message (which the client already scrubbed of the key).
fn failure(error: &lord_ai::AiError) -> AiFailure {
    use lord_ai::AiError;
    let message = error.to_string();
    match error {
        AiError::Auth { .. } => AiFailure::Auth(message),
        AiError::RateLimited { retry_after, .. } => AiFailure::RateLimited {
            retry_after_seconds: retry_after
                .map(|wait| u32::try_from(wait.as_secs()).unwrap_or(u32::MAX)),
            message,
        },
        AiError::ContextOverflow { .. } => AiFailure::ContextOverflow(message),
        AiError::Refused { .. } => AiFailure::ContentRefused(message),
        AiError::Unreachable { .. } => AiFailure::Unavailable(message),
        AiError::Status { status, .. } if *status >= 500 => AiFailure::Unavailable(message),
        AiError::Profile(_) | AiError::Invalid(_) => AiFailure::Refused(message),
        AiError::Status { .. }
        | AiError::Protocol { .. }
        | AiError::Cancelled(_)
        | AiError::Db { .. }
        | AiError::File { .. } => AiFailure::Other(message),
    }
}

fn answer(reply: &Reply) -> AiAnswer {
    AiAnswer {
        text: reply.text.clone(),
        model: reply.model.clone(),
        input_tokens: reply.usage.input_tokens,
        output_tokens: reply.usage.output_tokens,
        finish: reply.finish.as_str().to_owned(),
    }
}

/// Writes the exchange to the prompt log; a log that cannot take it
/// costs the record, never the plugin's answer.
fn log(
    home: &std::path::Path,
    plugin: &str,
    endpoint: &Endpoint,
    request: &Request,
    result: &Result<Reply, lord_ai::AiError>,
) {
    let Ok(mut log) = lord_ai::Log::open(&home.join(lord_ai::LOG_FILE)) else {
        return;
    };
    let prices = lord_ai::Prices::load(&home.join(lord_ai::PRICES_FILE)).ok();
    let at_ms = i64::try_from(crate::analytics::now_ms()).unwrap_or(i64::MAX);
    let exchange = Exchange::of(
        at_ms,
        plugin,
        None,
        endpoint,
        request,
        result.as_ref(),
        prices.as_ref(),
        None,
    );
    let _ = log.record(&exchange);
}

impl AiService for PluginAi {
    fn complete(
        &self,
        plugin: &str,
        ask: AiAsk,
    ) -> Pin<Box<dyn Future<Output = Result<AiAnswer, AiFailure>> + Send>> {
        let prepared = self.prepare(&ask);
        let client = self.client.clone();
        let home = self.home.clone();
        let plugin = plugin.to_owned();
        Box::pin(async move {
            let (endpoint, request) = prepared?;
            let result = client.complete(&endpoint, &request).await;
            log(&home, &plugin, &endpoint, &request, &result);
            result.map(|r| answer(&r)).map_err(|e| failure(&e))
        })
    }

    fn stream(&self, plugin: &str, ask: AiAsk) -> mpsc::Receiver<AiPiece> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let prepared = self.prepare(&ask);
        let client = self.client.clone();
        let home = self.home.clone();
        let plugin = plugin.to_owned();
        tokio::spawn(async move {
            let (endpoint, request) = match prepared {
                Ok(prepared) => prepared,
                Err(reason) => {
                    let _ = tx.send(AiPiece::End(Err(reason))).await;
                    return;
                }
            };
            // Pieces the queue had no room for, sent with the next one.
            let mut waiting = String::new();
            let mut on_text = |piece: &str| {
                waiting.push_str(piece);
                match tx.try_send(AiPiece::Text(std::mem::take(&mut waiting))) {
                    Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
                    Err(mpsc::error::TrySendError::Full(AiPiece::Text(back))) => waiting = back,
                    Err(mpsc::error::TrySendError::Full(AiPiece::End(_))) => {}
                }
            };
            // A plugin that drops its stream ends the request with it.
            let result = tokio::select! {
                result = client.stream(&endpoint, &request, &mut on_text) => result,
                () = tx.closed() => {
                    // Logged too: the request was sent, and may be billed.
                    let stopped = Err(lord_ai::AiError::Cancelled(
                        "the plugin stopped reading the reply".to_owned(),
                    ));
                    log(&home, &plugin, &endpoint, &request, &stopped);
                    return;
                }
            };
            log(&home, &plugin, &endpoint, &request, &result);
            if !waiting.is_empty() {
                let _ = tx.send(AiPiece::Text(waiting)).await;
            }
            let end = result.map(|r| answer(&r)).map_err(|e| failure(&e));
            let _ = tx.send(AiPiece::End(end)).await;
        });
        rx
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    /// A plugin's stream gets the first piece while the service is still
    /// writing the rest (the server holds the rest back until the piece
    /// has arrived), and the exchange is logged with the plugin as caller.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pieces_reach_the_plugin_while_the_service_is_still_writing() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (go_on, wait) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 65536];
            let _ = socket.read(&mut buf).await;
            let chunk = |text: &str| {
                format!(
                    "data: {}\n\n",
                    serde_json::json!({"model": "m", "choices": [{"delta": {"content": text}}]})
                )
            };
            let head =
                "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n";
            socket
                .write_all(format!("{head}{}", chunk("Hel")).as_bytes())
                .await
                .unwrap();
            socket.flush().await.unwrap();
            let _ = wait.await;
            let end = serde_json::json!({"model": "m", "choices": [{"delta": {}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 4, "completion_tokens": 2}});
            let rest = format!("{}data: {end}\n\ndata: [DONE]\n\n", chunk("lo"));
            socket.write_all(rest.as_bytes()).await.unwrap();
        });
        let home = tempfile::tempdir().unwrap();
        let endpoint = Endpoint {
            name: "local".into(),
            kind: lord_ai::Kind::OpenAi,
            url: format!("http://127.0.0.1:{port}/v1"),
            key: None,
            key_secret: None,
            model: Some("m".into()),
        };
        let service = PluginAi {
            profiles: BTreeMap::from([("local".to_owned(), Ok(endpoint))]),
            max_tokens: BTreeMap::new(),
            client: Client::new(RetryPolicy::default(), Duration::from_secs(10)).unwrap(),
            home: home.path().to_owned(),
        };
        let ask = AiAsk {
            profile: "local".into(),
            model: None,
            messages: vec![("user".into(), "hi".into())],
            max_tokens: None,
            temperature: None,
        };
        let mut rx = service.stream("asker", ask);
        assert_eq!(rx.recv().await, Some(AiPiece::Text("Hel".into())));
        go_on.send(()).unwrap();
        assert_eq!(rx.recv().await, Some(AiPiece::Text("lo".into())));
        let Some(AiPiece::End(Ok(answer))) = rx.recv().await else {
            panic!("no answer");
        };
        assert_eq!(
            (
                answer.text.as_str(),
                answer.input_tokens,
                answer.output_tokens
            ),
            ("Hello", 4, 2)
        );
        let log = lord_ai::Log::open(&home.path().join(lord_ai::LOG_FILE)).unwrap();
        let logged = log
            .exchanges(&lord_ai::ExchangeFilter {
                limit: 5,
                ..Default::default()
            })
            .unwrap();
        assert_eq!((logged.len(), logged[0].caller.as_str()), (1, "asker"));
    }

    /// A plugin may ask for fewer tokens than its profile's `max-tokens`,
    /// never more; without a bound of the profile's, its own stands.
    #[test]
    fn the_profiles_max_tokens_bounds_a_plugins_ask() {
        let home = tempfile::tempdir().unwrap();
        let endpoint = |name: &str| Endpoint {
            name: name.into(),
            kind: lord_ai::Kind::OpenAi,
            url: "http://127.0.0.1:9/v1".into(),
            key: None,
            key_secret: None,
            model: Some("m".into()),
        };
        let service = PluginAi {
            profiles: BTreeMap::from([
                ("bounded".to_owned(), Ok(endpoint("bounded"))),
                ("open".to_owned(), Ok(endpoint("open"))),
            ]),
            max_tokens: BTreeMap::from([("bounded".to_owned(), 100)]),
            client: Client::new(RetryPolicy::default(), Duration::from_secs(10)).unwrap(),
            home: home.path().to_owned(),
        };
        let asked = |profile: &str, max_tokens: Option<u32>| {
            let ask = AiAsk {
                profile: profile.into(),
                model: None,
                messages: vec![("user".into(), "hi".into())],
                max_tokens,
                temperature: None,
            };
            service.prepare(&ask).expect("prepared").1.max_tokens
        };
        assert_eq!(asked("bounded", Some(u32::MAX)), Some(100));
        assert_eq!(asked("bounded", Some(40)), Some(40));
        assert_eq!(asked("bounded", None), Some(100));
        assert_eq!(asked("open", Some(5000)), Some(5000));
        assert_eq!(asked("open", None), None);
    }
}
