//! What every plugin call cost, as the framework reports it: the figures
//! earlier processes wrote to `perf.db` plus this process's own not yet
//! written, as `lord_perf::Report` (per entry point, per plugin, and the
//! bottlenecks), and as the monitor's [`PerfSource`] of plugin figures.

use std::path::{Path, PathBuf};

use lord_manifest::PluginId;
use lord_perf::{PerfDb, Recorder, Report};

use crate::error::HostError;
use crate::framework::Framework;

impl Framework {
    /// What plugin calls cost: per entry point (p50/p95/p99/max of wall and
    /// guest time, memory, output; host time and calls by interface; how
    /// calls ended; cache hits), per plugin, and the bottlenecks found, for
    /// `plugin` or every plugin. Earlier processes' figures and this one's.
    pub fn perf_report(&self, plugin: Option<&PluginId>) -> Result<lord_perf::Report, HostError> {
        crate::perf::report(self.store().home(), self.loader().recorder(), plugin)
    }

    /// One line of figures per plugin that has run (calls, failures, wall
    /// time quantiles, where its host time went, peak memory, cache hit
    /// rate): the small, stable view other screens show.
    pub fn plugin_summaries(&self) -> Result<Vec<lord_perf::PluginSummary>, HostError> {
        Ok(self.perf_report(None)?.plugins)
    }

    /// Where `lord monitor` reads the plugins' figures at each sample (the
    /// same as [`Framework::plugin_summaries`], for a collector).
    pub fn plugin_figures(&self) -> std::sync::Arc<dyn lord_monitor::PluginSource> {
        std::sync::Arc::new(crate::perf::PerfSource {
            home: self.store().home().to_owned(),
            recorder: self.loader().recorder().clone(),
        })
    }

    /// Forgets the call figures of `plugin`, or of every plugin.
    pub fn clear_perf(&self, plugin: Option<&PluginId>) -> Result<usize, HostError> {
        crate::perf::clear(self.store().home(), self.loader().recorder(), plugin)
    }
}

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

/// The monitor's view of the plugins' figures: read afresh at each
/// sample, so `lord monitor` shows calls other processes make while it
/// runs.
pub(crate) struct PerfSource {
    pub(crate) home: PathBuf,
    pub(crate) recorder: Recorder,
}

impl lord_monitor::PluginSource for PerfSource {
    fn plugins(&self) -> Vec<lord_monitor::PluginFigures> {
        // A sample still describes the machine when the figures cannot be
        // read (a `perf.db` another process is migrating, say): the
        // plugins are left out of that one sample rather than failing it.
        let Ok(report) = report(&self.home, &self.recorder, None) else {
            return Vec::new();
        };
        let ms = |ns: u64| ns as f64 / 1e6;
        report
            .plugins
            .into_iter()
            .map(|p| lord_monitor::PluginFigures {
                id: p.plugin,
                calls: p.calls,
                failures: p.failures,
                p50_ms: ms(p.wall_ns.p50),
                p95_ms: ms(p.wall_ns.p95),
                p99_ms: ms(p.wall_ns.p99),
                max_ms: ms(p.wall_ns.max),
                peak_memory_bytes: p.peak_memory_bytes,
                top_interface: p
                    .top_area
                    .map(|(area, share)| (area.name().to_owned(), share)),
                cache_hit_rate: p.cache_hit_rate,
                last_ms: p.last_ms,
            })
            .collect()
    }
}
