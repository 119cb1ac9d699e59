//! Requests and messages between plugins, host side: the [`Messaging`]
//! link a sending plugin's instances get, built from its `message(ID)`
//! grants. A request runs the target's `handle-message` in a fresh
//! instance of its own, under its own grants and limits, and with no
//! messenger of its own, so requests never chain or loop; `send` and
//! `broadcast` queue into the mailboxes in `state.db` and never wait for
//! the receiver. A request needs its target enabled now; a message only
//! needs a receiver that is installed and accepts messages, since it waits
//! until some process can deliver it.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use lord_sandbox::{Compiled, Grants, Limits, Links, Messaging, Reply};

use crate::quota::DataFolder;

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
    /// The target's data folder, when it holds one: measured before each
    /// request, as before its commands and deliveries.
    data: Option<DataFolder>,
    /// What the policies said of running the target's code, when they
    /// refuse it in any mode: applied before each request.
    policy: Option<crate::governance::StepPolicy>,
}

impl MessageTarget {
    pub(crate) fn new(
        compile: impl Fn() -> Result<Compiled, String> + Send + Sync + 'static,
        grants: Grants,
        links: Links,
        limits: Limits,
        data: Option<DataFolder>,
        policy: Option<crate::governance::StepPolicy>,
    ) -> Self {
        Self {
            compile: Box::new(compile),
            compiled: OnceLock::new(),
            grants,
            links: links.without::<std::sync::Arc<dyn Messaging>>(),
            limits,
            data,
            policy,
        }
    }

    fn compiled(&self) -> Result<&Compiled, String> {
        self.compiled
            .get_or_init(|| (self.compile)())
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// A granted target, for each way of reaching it.
pub(crate) struct Route {
    /// Whether messages may be queued for it, or why not (not installed,
    /// not accepting messages).
    pub(crate) queue: Result<(), String>,
    /// Ready to answer requests, or why not (also: not enabled now).
    pub(crate) request: Result<MessageTarget, String>,
}

/// Where one plugin's requests may go.
pub(crate) struct Messenger {
    sender: String,
    /// Where `send` and `broadcast` queue messages.
    mailboxes: lord_state::Mailboxes,
    targets: HashMap<String, Route>,
}

impl Messenger {
    pub(crate) fn new(
        sender: &str,
        targets: HashMap<String, Route>,
        mailboxes: lord_state::Mailboxes,
    ) -> Self {
        Self {
            sender: sender.to_owned(),
            mailboxes,
            targets,
        }
    }

    fn route(&self, to: &str) -> Result<&Route, String> {
        self.targets
            .get(to)
            .ok_or_else(|| format!("plugin `{}` was not granted message({to})", self.sender))
    }

    /// The target `to`, ready for a request, or why it cannot take one.
    fn target(&self, to: &str) -> Result<&MessageTarget, String> {
        self.route(to)?.request.as_ref().map_err(Clone::clone)
    }
}

impl Messaging for Messenger {
    fn may_reach(&self, to: &str) -> bool {
        self.targets.contains_key(to)
    }

    fn request<'a>(&'a self, to: &'a str, payload: &'a str, timeout: Duration) -> Reply<'a> {
        Box::pin(async move {
            let target = self.target(to)?;
            // A target the policies refuse to run answers nothing; its
            // refusal is recorded when the sender's command ends.
            if let Some(policy) = &target.policy {
                policy
                    .admit()
                    .map_err(|refused| format!("`{to}` cannot take a request: {refused}"))?;
            }
            // A target over its calls or CPU time per minute takes no more
            // requests (which would charge it further); refused without a
            // strike against it, since the sender chose to ask.
            if let Some(quota) = target.links.get::<lord_state::PluginQuota>()
                && let Err(throttle) = quota.check()
            {
                return Err(format!("`{to}` cannot take a request now: {throttle}"));
            }
            // Nor does one whose data folder is over its quota: its
            // handler writes there as its commands do.
            if let Some(over) = target.data.as_ref().and_then(DataFolder::over) {
                return Err(format!("`{to}` cannot take a request now: {over}"));
            }
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
        self.route(to)?.queue.clone()?;
        let posted = self
            .mailboxes
            .post(&lord_state::Message {
                from: self.sender.clone(),
                to: to.to_owned(),
                payload: payload.to_owned(),
                priority,
            })
            .map_err(|e| e.to_string())?;
        Ok(match posted {
            lord_state::Posted::Queued | lord_state::Posted::Displaced => true,
            lord_state::Posted::Refused => false,
        })
    }

    fn broadcast(&self, payload: &str, priority: u8) -> Result<u32, String> {
        let mut ready: Vec<&String> = self
            .targets
            .iter()
            .filter(|(_, route)| route.queue.is_ok())
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
