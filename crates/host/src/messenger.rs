//! Requests and messages between plugins, host side: the [`Messaging`]
//! link a sending plugin's instances get, built from its `message(ID)`
//! grants. A request runs the target's `handle-message` in a fresh
//! instance of its own, under its own grants and limits, and with no
//! messenger of its own, so requests never chain or loop; `send` and
//! `broadcast` queue into the process's mailboxes and never wait.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use lord_sandbox::{Compiled, Grants, Limits, Links, Messaging, Reply};

type Compile = Box<dyn Fn() -> Result<Compiled, String> + Send + Sync>;

/// A plugin that may receive this sender's requests. Its component is
/// compiled on the first request, so loading a sender costs nothing for
/// targets it never asks.
pub(crate) struct MessageTarget {
    compile: Compile,
    compiled: OnceLock<Result<Compiled, String>>,
    /// The target's own grants and links (its scope, never a messenger).
    grants: Grants,
    links: Links,
    limits: Limits,
}

impl MessageTarget {
    pub(crate) fn new(
        compile: impl Fn() -> Result<Compiled, String> + Send + Sync + 'static,
        grants: Grants,
        links: Links,
        limits: Limits,
    ) -> Self {
        Self {
            compile: Box::new(compile),
            compiled: OnceLock::new(),
            grants,
            links: links.without::<std::sync::Arc<dyn Messaging>>(),
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
pub(crate) struct Messenger {
    sender: String,
    /// Where `send` and `broadcast` queue messages.
    mailboxes: lord_state::Mailboxes,
    /// Granted targets: ready, or why they cannot take requests (not
    /// installed, disabled, not accepting messages).
    targets: HashMap<String, Result<MessageTarget, String>>,
}

impl Messenger {
    pub(crate) fn new(
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

    /// The target `to`, ready, or why it cannot be reached.
    fn target(&self, to: &str) -> Result<&MessageTarget, String> {
        match self.targets.get(to) {
            Some(Ok(target)) => Ok(target),
            Some(Err(reason)) => Err(reason.clone()),
            None => Err(format!(
                "plugin `{}` was not granted message({to})",
                self.sender
            )),
        }
    }
}

impl Messaging for Messenger {
    fn may_reach(&self, to: &str) -> bool {
        self.targets.contains_key(to)
    }

    fn request<'a>(&'a self, to: &'a str, payload: &'a str, timeout: Duration) -> Reply<'a> {
        Box::pin(async move {
            let target = self.target(to)?;
            let compiled = target.compiled()?;
            let call = async {
                let mut instance = compiled
                    .instantiate(&target.grants, target.limits, &target.links)
                    .await?;
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
        })
    }

    fn send(&self, to: &str, payload: &str, priority: u8) -> Result<bool, String> {
        self.target(to)?;
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

    fn broadcast(&self, payload: &str, priority: u8) -> Result<u32, String> {
        let mut ready: Vec<&String> = self
            .targets
            .iter()
            .filter(|(_, t)| t.is_ok())
            .map(|(id, _)| id)
            .collect();
        ready.sort();
        let mut queued = 0u32;
        for to in ready {
            if let Ok(true) = self.send(to, payload, priority) {
                queued += 1;
            }
        }
        Ok(queued)
    }
}
