//! What every plugin call cost, as the framework reports it: the figures
//! earlier processes wrote to `perf.db` plus this process's own not yet
//! written, as `lord_perf::Report` (per entry point, per plugin, and the
//! bottlenecks).

use std::path::Path;

use lord_manifest::PluginId;
use lord_perf::{PerfDb, Recorder, Report};

use crate::error::HostError;
use crate::framework::Framework;

/// The report for `plugin`, or for every plugin, from `home`'s `perf.db`
/// and `recorder`'s figures not yet in it.
pub(crate) fn report(
    home: &Path,
    recorder: &Recorder,
    plugin: Option<&PluginId>,
) -> Result<Report, HostError> {
    // Reading opens no database that is not there: a home whose plugins
    // never ran has no figures, and asking must not create the file.
    let mut rows = if home.join(lord_perf::DB_FILE).exists() {
        PerfDb::open(home)?.read(plugin)?
    } else {
        Vec::new()
    };
    rows.extend(
        recorder
            .unwritten()
            .into_iter()
            .filter(|(key, _)| plugin.is_none_or(|p| *p == key.plugin)),
    );
    Ok(Report::new(rows))
}

/// Forgets the figures of `plugin`, or of every plugin; returns how many
/// entry points had figures.
pub(crate) fn clear(
    home: &Path,
    recorder: &Recorder,
    plugin: Option<&PluginId>,
) -> Result<usize, HostError> {
    // This process's own unwritten figures go first, so they cannot land
    // after the clearing.
    recorder.flush()?;
    if !home.join(lord_perf::DB_FILE).exists() {
        return Ok(0);
    }
    Ok(PerfDb::open(home)?.clear(plugin)?)
}

impl Framework {
    /// What plugin calls cost: per entry point (p50/p95/p99/max of wall and
    /// guest time, memory, output; host time and calls by interface; how
    /// calls ended; cache hits), per plugin, and the bottlenecks found, for
    /// `plugin` or every plugin. Earlier processes' figures and this one's.
    pub fn perf_report(&self, plugin: Option<&PluginId>) -> Result<lord_perf::Report, HostError> {
        crate::perf::report(self.home(), self.loader().recorder(), plugin)
    }

    /// One line of figures per plugin that has run (calls, failures, wall
    /// time quantiles, where its host time went, peak memory, cache hit
    /// rate): the small, stable view other screens show.
    pub fn plugin_summaries(&self) -> Result<Vec<lord_perf::PluginSummary>, HostError> {
        Ok(self.perf_report(None)?.plugins)
    }

    /// Forgets the call figures of `plugin`, or of every plugin.
    pub fn clear_perf(&self, plugin: Option<&PluginId>) -> Result<usize, HostError> {
        crate::perf::clear(self.home(), self.loader().recorder(), plugin)
    }
}
