//! What the framework reports about plugin calls and what it forgets:
//! the call figures (`perf.rs`) and the result cache of `pure` entry
//! points. A child of `framework.rs`, so it reads the façade's parts.

use lord_manifest::PluginId;

use super::Framework;
use crate::error::HostError;

impl Framework {
    /// What plugin calls cost: per entry point (p50/p95/p99/max of wall and
    /// guest time, memory, output; host time and calls by interface; how
    /// calls ended; cache hits), per plugin, and the bottlenecks found, for
    /// `plugin` or every plugin. Earlier processes' figures and this one's.
    pub fn perf_report(&self, plugin: Option<&PluginId>) -> Result<lord_perf::Report, HostError> {
        crate::perf::report(self.store.home(), self.loader.recorder(), plugin)
    }

    /// One line of figures per plugin that has run (calls, failures, wall
    /// time quantiles, where its host time went, peak memory, cache hit
    /// rate): the small, stable view other screens show.
    pub fn plugin_summaries(&self) -> Result<Vec<lord_perf::PluginSummary>, HostError> {
        Ok(self.perf_report(None)?.plugins)
    }

    /// Forgets the call figures of `plugin`, or of every plugin.
    pub fn clear_perf(&self, plugin: Option<&PluginId>) -> Result<usize, HostError> {
        crate::perf::clear(self.store.home(), self.loader.recorder(), plugin)
    }

    /// Forgets every answer in the result cache of `pure` commands and micro
    /// handlers (memory and disk); returns how many were on disk.
    pub fn clear_results(&self) -> Result<usize, HostError> {
        self.loader
            .results()
            .clear()
            .map_err(|source| HostError::Io {
                action: "clear the result cache in",
                path: self.store.cache_dir().join("results"),
                source,
            })
    }
}
