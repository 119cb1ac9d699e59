//! `lord:plugin/messaging`: requests and queued messages to other plugins,
//! each target behind a `message(ID)` grant. The host decides what a
//! request runs (the target's `handle-message`, in a fresh instance under
//! the target's own grants) and where a message waits; this module only
//! carries the call to the plugin's [`Messaging`] link and records refusals.

use lord_perf::Area;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use lord_manifest::PermissionFamily;
use wasmtime::component::{HasSelf, Linker};

use super::HostInterface;
use crate::bindings::lord::plugin::messaging;
use crate::session::StoreState;

pub(super) const INTERFACE: HostInterface = HostInterface {
    name: "lord:plugin/messaging",
    family: Some(PermissionFamily::Message),
    add_to_linker,
};

fn add_to_linker(linker: &mut Linker<StoreState>) -> wasmtime::Result<()> {
    messaging::add_to_linker::<_, HasSelf<StoreState>>(linker, |state| state)
}

/// A request's eventual reply, or why there is none.
pub type Reply<'a> = Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>>;

/// Where one plugin's requests and messages go: built by the host from its
/// `message(ID)` grants and put in its links. An instance without one (a
/// message handler, so that requests never chain) can send nothing.
pub trait Messaging: Send + Sync {
    /// Whether the plugin was granted `message(to)`.
    fn may_reach(&self, to: &str) -> bool;
    /// Runs `to`'s `handle-message` on `payload` and returns its reply,
    /// waiting at most `timeout`.
    fn request<'a>(&'a self, to: &'a str, payload: &'a str, timeout: Duration) -> Reply<'a>;
    /// Queues `payload` for `to`; whether it was queued.
    fn send(&self, to: &str, payload: &str, priority: u8) -> Result<bool, String>;
    /// Queues `payload` for every granted target that takes messages; how
    /// many queued it.
    fn broadcast(&self, payload: &str, priority: u8) -> Result<u32, String>;
}

impl StoreState {
    fn messenger(&self) -> Option<Arc<dyn Messaging>> {
        self.links.get::<Arc<dyn Messaging>>().cloned()
    }

    /// The refusal of a payload over `messages.max-payload-kib`: queued
    /// messages wait in memory, and a request's lands in another plugin.
    fn oversized(&self, payload: &str) -> Option<String> {
        let limit = self.scope().ok()?.limits().message_bytes;
        let size = payload.len() as u64;
        (size > limit).then(|| {
            lord_state::StateError::TooLarge {
                what: "message payload",
                size,
                limit,
                setting: "messages.max-payload-kib",
            }
            .to_string()
        })
    }
}

impl StoreState {
    /// The plugin's messages-per-minute quota, charged `n`; the refusal
    /// the guest sees when it is used up.
    fn over_message_quota(&self, n: u64) -> Option<String> {
        let quota = self.links.get::<lord_state::PluginQuota>()?;
        quota
            .take(lord_state::QuotaKind::Messages, n)
            .err()
            .map(|throttle| throttle.to_string())
    }
}

impl messaging::Host for StoreState {
    async fn request(
        &mut self,
        to: String,
        payload: String,
        timeout_ms: u32,
    ) -> wasmtime::Result<Result<String, String>> {
        self.meter.enter(Area::Messaging);
        if let Some(refused) = self.oversized(&payload) {
            return Ok(Err(refused));
        }
        if let Some(refused) = self.over_message_quota(1) {
            return Ok(Err(refused));
        }
        let Some(messenger) = self.messenger() else {
            let refused = format!("requests to `{to}` (a message handler cannot send requests)");
            self.deny(refused.clone(), None);
            return Ok(Err(refused));
        };
        if !messenger.may_reach(&to) {
            self.deny(
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
        self.meter.enter(Area::Messaging);
        if let Some(refused) = self.oversized(&payload) {
            return Ok(Err(refused));
        }
        if let Some(refused) = self.over_message_quota(1) {
            return Ok(Err(refused));
        }
        let Some(messenger) = self.messenger() else {
            return Ok(Err(format!(
                "messages to `{to}` (a message handler cannot send messages)"
            )));
        };
        if !messenger.may_reach(&to) {
            self.deny(
                format!("messages to plugin `{to}`"),
                Some(format!("message({to})")),
            );
        }
        Ok(messenger.send(&to, &payload, priority))
    }

    fn broadcast(
        &mut self,
        payload: String,
        priority: u8,
    ) -> wasmtime::Result<Result<u32, String>> {
        self.meter.enter(Area::Messaging);
        if let Some(refused) = self.oversized(&payload) {
            return Ok(Err(refused));
        }
        // A broadcast is one message per receiver, which only the
        // messenger knows; it is counted as one send here.
        if let Some(refused) = self.over_message_quota(1) {
            return Ok(Err(refused));
        }
        let Some(messenger) = self.messenger() else {
            return Ok(Err("a message handler cannot send messages".to_owned()));
        };
        Ok(messenger.broadcast(&payload, priority))
    }
}
