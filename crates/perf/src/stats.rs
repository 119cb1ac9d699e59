//! What the calls of one plugin's entry point add up to: HDR histograms
//! (two significant figures, so a few hundred bytes each once serialised)
//! of wall time, guest time, peak memory and output, and totals of host
//! time and host calls per area and of outcomes. Stats merge by addition,
//! so a process's unflushed calls and every earlier process's add up in
//! any order.

use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2Serializer};
use lord_manifest::PluginId;

use crate::sample::{AREAS, EntryKind, OUTCOMES, Outcome, Sample};

/// Significant figures kept: values within 1 % of the truth, in a few
/// hundred bytes per histogram.
const SIGFIG: u8 = 2;

/// One plugin's entry point: what the figures are kept per.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntryKey {
    pub plugin: PluginId,
    pub kind: EntryKind,
    /// The command's or micro handler's name, the hook's, or empty.
    pub name: String,
}

impl EntryKey {
    /// How a report names the entry point: `command:greet`, `event`.
    pub fn label(&self) -> String {
        if self.name.is_empty() {
            self.kind.name().to_owned()
        } else {
            format!("{}:{}", self.kind.name(), self.name)
        }
    }
}

/// The calls of one entry point, added up.
#[derive(Debug, Clone)]
pub struct EntryStats {
    pub calls: u64,
    pub wall_ns: Histogram<u64>,
    pub guest_ns: Histogram<u64>,
    pub memory_bytes: Histogram<u64>,
    pub output_bytes: Histogram<u64>,
    pub host_ns: [u64; AREAS],
    pub host_calls: [u64; AREAS],
    pub outcomes: [u64; OUTCOMES],
    /// Calls answered from the result cache, and those that looked and ran.
    pub cache_hits: u64,
    pub cache_misses: u64,
    /// When the first and the latest call were recorded (ms since the epoch).
    pub first_ms: u64,
    pub last_ms: u64,
}

fn histogram() -> Histogram<u64> {
    // Two significant figures is a valid precision: the constructor only
    // refuses more than five.
    Histogram::new(SIGFIG).unwrap_or_else(|_| unreachable_histogram())
}

#[cold]
fn unreachable_histogram() -> Histogram<u64> {
    // `new(2)` cannot fail (it refuses only sigfig > 5); were it ever to,
    // the widest fixed range still holds every value.
    Histogram::new_with_max(u64::MAX / 2, 1).unwrap_or_else(|_| std::process::abort())
}

impl Default for EntryStats {
    fn default() -> Self {
        Self {
            calls: 0,
            wall_ns: histogram(),
            guest_ns: histogram(),
            memory_bytes: histogram(),
            output_bytes: histogram(),
            host_ns: [0; AREAS],
            host_calls: [0; AREAS],
            outcomes: [0; OUTCOMES],
            cache_hits: 0,
            cache_misses: 0,
            first_ms: 0,
            last_ms: 0,
        }
    }
}

impl EntryStats {
    /// Adds one call, recorded at `at_ms`.
    pub fn add_sample(&mut self, sample: &Sample, at_ms: u64) {
        self.calls += 1;
        put(&mut self.wall_ns, sample.wall_ns);
        put(&mut self.guest_ns, sample.guest_ns());
        put(&mut self.memory_bytes, sample.peak_memory_bytes);
        put(&mut self.output_bytes, sample.output_bytes);
        for i in 0..AREAS {
            self.host_ns[i] = self.host_ns[i].saturating_add(sample.host_ns[i]);
            self.host_calls[i] += u64::from(sample.host_calls[i]);
        }
        self.outcomes[outcome_index(sample.outcome)] += 1;
        self.seen_at(at_ms);
    }

    fn seen_at(&mut self, at_ms: u64) {
        if self.first_ms == 0 || (at_ms != 0 && at_ms < self.first_ms) {
            self.first_ms = at_ms;
        }
        self.last_ms = self.last_ms.max(at_ms);
    }

    /// Counts a cache lookup: a hit answered without running the guest.
    pub fn add_cache(&mut self, hit: bool, at_ms: u64) {
        if hit {
            self.cache_hits += 1;
        } else {
            self.cache_misses += 1;
        }
        self.seen_at(at_ms);
    }

    /// Adds `other`'s calls to these.
    pub fn merge(&mut self, other: &EntryStats) {
        self.calls += other.calls;
        // Auto-resizing histograms of one precision always add.
        let _ = self.wall_ns.add(&other.wall_ns);
        let _ = self.guest_ns.add(&other.guest_ns);
        let _ = self.memory_bytes.add(&other.memory_bytes);
        let _ = self.output_bytes.add(&other.output_bytes);
        for i in 0..AREAS {
            self.host_ns[i] = self.host_ns[i].saturating_add(other.host_ns[i]);
            self.host_calls[i] += other.host_calls[i];
        }
        for i in 0..OUTCOMES {
            self.outcomes[i] += other.outcomes[i];
        }
        self.cache_hits += other.cache_hits;
        self.cache_misses += other.cache_misses;
        if other.first_ms != 0 {
            self.seen_at(other.first_ms);
        }
        self.last_ms = self.last_ms.max(other.last_ms);
    }

    /// Calls that failed, in any way.
    pub fn failures(&self) -> u64 {
        Outcome::ALL
            .iter()
            .filter(|o| o.failed())
            .map(|o| self.outcomes[outcome_index(*o)])
            .sum()
    }

    pub fn outcome(&self, outcome: Outcome) -> u64 {
        self.outcomes[outcome_index(outcome)]
    }
}

/// Records `value`, growing the histogram's range as needed (its
/// `saturating_record` would clamp to the current range instead).
fn put(histogram: &mut Histogram<u64>, value: u64) {
    if histogram.record(value).is_err() {
        histogram.saturating_record(value);
    }
}

fn outcome_index(outcome: Outcome) -> usize {
    outcome as usize
}

/// A histogram as stored: HdrHistogram's V2 encoding (run-length,
/// variable-length counts), readable by any HdrHistogram library.
pub(crate) fn encode(histogram: &Histogram<u64>) -> Vec<u8> {
    let mut bytes = Vec::new();
    // Writing into a Vec cannot fail; a histogram the serialiser refused
    // would be stored empty, losing figures but never a call.
    let _ = V2Serializer::new().serialize(histogram, &mut bytes);
    bytes
}

pub(crate) fn decode(bytes: &[u8]) -> Result<Histogram<u64>, String> {
    if bytes.is_empty() {
        return Ok(histogram());
    }
    let mut histogram: Histogram<u64> = Deserializer::new()
        .deserialize(&mut std::io::Cursor::new(bytes))
        .map_err(|e| format!("{e:?}"))?;
    histogram.auto(true);
    Ok(histogram)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(wall: u64, wasi: u64) -> Sample {
        let mut host_ns = [0; AREAS];
        host_ns[crate::Area::Wasi.index()] = wasi;
        let mut host_calls = [0; AREAS];
        host_calls[crate::Area::Wasi.index()] = 1;
        Sample {
            wall_ns: wall,
            host_ns,
            host_calls,
            peak_memory_bytes: 1 << 20,
            output_bytes: 10,
            input_bytes: 0,
            outcome: Outcome::Ok,
        }
    }

    #[test]
    fn stats_merge_in_any_order_and_survive_their_encoding() {
        let mut a = EntryStats::default();
        let mut b = EntryStats::default();
        for i in 1..=100u64 {
            let target = if i.is_multiple_of(2) { &mut a } else { &mut b };
            target.add_sample(&sample(i * 1_000, i * 100), i);
        }
        let mut ab = a.clone();
        ab.merge(&b);
        let mut ba = b.clone();
        ba.merge(&a);
        assert_eq!(ab.calls, 100);
        assert_eq!(
            ab.wall_ns.value_at_quantile(0.5),
            ba.wall_ns.value_at_quantile(0.5)
        );
        assert_eq!(ab.host_ns, ba.host_ns);
        assert_eq!(ab.first_ms, 1);
        assert_eq!(ab.last_ms, 100);
        let p50 = ab.wall_ns.value_at_quantile(0.5);
        assert!((49_000..=51_000).contains(&p50), "{p50}");
        let round = decode(&encode(&ab.wall_ns)).expect("decodes");
        assert_eq!(round.len(), 100);
        assert_eq!(
            round.value_at_quantile(0.99),
            ab.wall_ns.value_at_quantile(0.99)
        );
        assert!(
            encode(&ab.wall_ns).len() < 1024,
            "a histogram stays compact"
        );
    }
}
