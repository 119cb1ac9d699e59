//! Requests between plugins: the host side of `lord:plugin/messaging`.
//! A [`Messenger`] is built by the host for one sending plugin from its
//! `message(ID)` grants; a request runs the target in a fresh instance of
//! its own, under its own grants and limits, with no messenger of its own
//! (so requests never chain or loop).

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use crate::bindings::lord::plugin::messaging;
use crate::capability::Grants;
use crate::engine::Compiled;
use crate::instance::StoreState;
use crate::limits::Limits;

type Compile = Box<dyn Fn() -> Result<Compiled, String> + Send + Sync>;

/// A plugin that may receive this sender's requests. Its component is
/// compiled on the first request, so loading a sender costs nothing for
/// targets it never asks.
pub struct MessageTarget {
    compile: Compile,
    compiled: OnceLock<Result<Compiled, String>>,
    /// The target's own grants (their `messenger` is ignored).
    grants: Grants,
    limits: Limits,
}

impl std::fmt::Debug for MessageTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessageTarget")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl MessageTarget {
    pub fn new(
        compile: impl Fn() -> Result<Compiled, String> + Send + Sync + 'static,
        grants: Grants,
        limits: Limits,
    ) -> Self {
        Self {
            compile: Box::new(compile),
            compiled: OnceLock::new(),
            grants,
            limits,
        }
    }

    fn compiled(&self) -> Result<&Compiled, String> {
        self.compiled
            .get_or_init(|| (self.compile)())
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// Where one plugin's requests may go.
#[derive(Debug)]
pub struct Messenger {
    sender: String,
    /// Where `send` and `broadcast` queue messages.
    mailboxes: lord_state::Mailboxes,
    /// Granted targets: ready, or why they cannot take requests (not
    /// installed, disabled, not accepting messages).
    targets: HashMap<String, Result<MessageTarget, String>>,
}

impl Messenger {
    pub fn new(
        sender: &str,
        targets: HashMap<String, Result<MessageTarget, String>>,
        mailboxes: lord_state::Mailboxes,
    ) -> Self {
        Self {
            sender: sender.to_owned(),
            mailboxes,
            targets,
        }
    }

    fn post(&self, to: &str, payload: &str, priority: u8) -> Result<bool, String> {
        match self.targets.get(to) {
            Some(Ok(_)) => {}
            Some(Err(reason)) => return Err(reason.clone()),
            None => {
                return Err(format!(
                    "plugin `{}` was not granted message({to})",
                    self.sender
                ));
            }
        }
        let posted = self.mailboxes.post(lord_state::Message {
            from: self.sender.clone(),
            to: to.to_owned(),
            payload: payload.to_owned(),
            priority,
        });
        Ok(match posted {
            lord_state::Posted::Queued | lord_state::Posted::Displaced => true,
            lord_state::Posted::Refused => false,
        })
    }

    async fn request(&self, to: &str, payload: &str, timeout: Duration) -> Result<String, String> {
        let target = match self.targets.get(to) {
            Some(Ok(target)) => target,
            Some(Err(reason)) => return Err(reason.clone()),
            None => {
                return Err(format!(
                    "plugin `{}` was not granted message({to})",
                    self.sender
                ));
            }
        };
        let grants = Grants {
            messenger: None,
            ..target.grants.clone()
        };
        let compiled = target.compiled()?;
        let call = async {
            let mut instance = compiled.instantiate(&grants, target.limits).await?;
            instance.handle_message(&self.sender, payload).await
        };
        match tokio::time::timeout(timeout, call).await {
            Err(_elapsed) => Err(format!(
                "`{to}` did not reply within {} ms",
                timeout.as_millis()
            )),
            Ok(Err(e)) => Err(format!("`{to}` could not answer: {e}")),
            Ok(Ok((reply, _captured))) => Ok(reply),
        }
    }
}

impl messaging::Host for StoreState {
    async fn request(
        &mut self,
        to: String,
        payload: String,
        timeout_ms: u32,
    ) -> wasmtime::Result<Result<String, String>> {
        let Some(messenger) = self.messenger.clone() else {
            let refused = format!("requests to `{to}` (a message handler cannot send requests)");
            self.denials
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(refused.clone(), None);
            return Ok(Err(refused));
        };
        if !messenger.targets.contains_key(&to) {
            self.denials.lock().unwrap_or_else(|p| p.into_inner()).push(
                format!("requests to plugin `{to}`"),
                Some(format!("message({to})")),
            );
        }
        let timeout = Duration::from_millis(u64::from(timeout_ms));
        Ok(messenger.request(&to, &payload, timeout).await)
    }

    fn send(
        &mut self,
        to: String,
        payload: String,
        priority: u8,
    ) -> wasmtime::Result<Result<bool, String>> {
        let Some(messenger) = self.messenger.clone() else {
            return Ok(Err(format!(
                "messages to `{to}` (a message handler cannot send messages)"
            )));
        };
        if !messenger.targets.contains_key(&to) {
            self.denials.lock().unwrap_or_else(|p| p.into_inner()).push(
                format!("messages to plugin `{to}`"),
                Some(format!("message({to})")),
            );
        }
        Ok(messenger.post(&to, &payload, priority))
    }

    fn broadcast(
        &mut self,
        payload: String,
        priority: u8,
    ) -> wasmtime::Result<Result<u32, String>> {
        let Some(messenger) = self.messenger.clone() else {
            return Ok(Err("a message handler cannot send messages".to_owned()));
        };
        let mut queued = 0u32;
        let mut ready: Vec<&String> = messenger
            .targets
            .iter()
            .filter(|(_, t)| t.is_ok())
            .map(|(id, _)| id)
            .collect();
        ready.sort();
        for to in ready {
            if let Ok(true) = messenger.post(to, &payload, priority) {
                queued += 1;
            }
        }
        Ok(Ok(queued))
    }
}
