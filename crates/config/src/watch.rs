//! Hot reload: re-read the files when their content changes; apply a
//! valid result and wake subscribers, or keep the current configuration
//! and say why the change was rejected.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::layers::{Config, Sources};

/// What one check for changes did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reload {
    /// No file changed.
    Unchanged,
    /// The new configuration is in force; these keys changed.
    Applied { changed: Vec<String> },
    /// The change was refused; the previous configuration stays.
    Rejected { reason: String },
}

type Check = Box<dyn Fn(&Config) -> Result<(), String> + Send + Sync>;

/// Watches the configuration files of one set of [`Sources`].
pub struct Watcher {
    sources: Sources,
    check: Check,
    current: watch::Sender<Arc<Config>>,
    /// The files' content at the last look (absent files as `None`).
    seen: Vec<Option<Vec<u8>>>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("sources", &self.sources)
            .finish_non_exhaustive()
    }
}

impl Watcher {
    /// Loads the configuration; `check` is run on every candidate (e.g.
    /// plugin schemas) and must pass for it to be applied.
    pub fn new(
        sources: Sources,
        check: impl Fn(&Config) -> Result<(), String> + Send + Sync + 'static,
    ) -> Result<Self, String> {
        let config = Config::load(&sources).map_err(|e| e.to_string())?;
        check(&config)?;
        let seen = snapshot(&sources);
        let (current, _) = watch::channel(Arc::new(config));
        Ok(Self {
            sources,
            check: Box::new(check),
            current,
            seen,
        })
    }

    pub fn current(&self) -> Arc<Config> {
        Arc::clone(&self.current.borrow())
    }

    /// A receiver woken whenever a new configuration is applied.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Config>> {
        self.current.subscribe()
    }

    /// Looks at the files once.
    pub fn poll(&mut self) -> Reload {
        let now = snapshot(&self.sources);
        if now == self.seen {
            return Reload::Unchanged;
        }
        // Whatever the outcome, this content has been judged: it is not
        // re-reported until it changes again.
        self.seen = now;
        let candidate = match Config::load(&self.sources) {
            Ok(config) => config,
            Err(e) => {
                return Reload::Rejected {
                    reason: e.to_string(),
                };
            }
        };
        if let Err(reason) = (self.check)(&candidate) {
            return Reload::Rejected { reason };
        }
        let old = self.current();
        let changed: Vec<String> = {
            let before: Vec<_> = old
                .entries()
                .map(|(k, v, _)| (k.to_owned(), v.clone()))
                .collect();
            let after: Vec<_> = candidate
                .entries()
                .map(|(k, v, _)| (k.to_owned(), v.clone()))
                .collect();
            let mut keys: Vec<String> = before
                .iter()
                .filter(|(k, v)| !after.iter().any(|(k2, v2)| k2 == k && v2 == v))
                .chain(
                    after
                        .iter()
                        .filter(|(k, v)| !before.iter().any(|(k2, v2)| k2 == k && v2 == v)),
                )
                .map(|(k, _)| k.clone())
                .collect();
            keys.sort();
            keys.dedup();
            keys
        };
        if changed.is_empty() {
            return Reload::Unchanged;
        }
        self.current.send_replace(Arc::new(candidate));
        Reload::Applied { changed }
    }

    /// Polls every `interval`, reporting each outcome other than
    /// `Unchanged` to `report`, until `report` returns false.
    pub async fn run(mut self, interval: Duration, mut report: impl FnMut(&Reload) -> bool) {
        loop {
            tokio::time::sleep(interval).await;
            let outcome = self.poll();
            if outcome != Reload::Unchanged && !report(&outcome) {
                return;
            }
        }
    }
}

fn snapshot(sources: &Sources) -> Vec<Option<Vec<u8>>> {
    sources
        .files()
        .into_iter()
        .map(|(_, path)| std::fs::read(path).ok())
        .collect()
}
