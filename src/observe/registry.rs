//! In-process metrics of the `run` daemon: fetches by outcome and HTTP
//! status, the fetch duration histogram, publish durations and cycles. The
//! pipeline records into it; `/metrics` reads it. A process that does not
//! poll (`serve`) has an empty one.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the duration buckets, seconds (fixed: fetches and
/// publishing both fall between tens of milliseconds and a minute).
pub const BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// The daemon's own counters.
#[derive(Debug, Default)]
pub struct Registry {
    /// Fetches by (outcome, HTTP status or `none`); written by each source's job.
    fetches: Mutex<BTreeMap<(String, String), u64>>,
    /// How long each fetch took (request and body, before parsing).
    pub fetch_duration: Histogram,
    /// How long each publish (render and write) took.
    pub publish_duration: Histogram,
    /// Poll cycles completed by this process.
    cycles: AtomicU64,
}

impl Registry {
    /// Counts one fetch.
    pub fn fetched(&self, outcome: &str, status: Option<u16>, duration: Duration) {
        let status = status.map_or_else(|| "none".to_string(), |s| s.to_string());
        *self.fetches.lock().unwrap_or_else(|p| p.into_inner()).entry((outcome.to_string(), status)).or_default() += 1;
        self.fetch_duration.observe(duration);
    }

    /// Counts one completed cycle.
    pub fn cycle_done(&self) {
        self.cycles.fetch_add(1, Ordering::Relaxed);
    }

    /// Fetch counts by (outcome, status), sorted.
    pub fn fetches(&self) -> Vec<((String, String), u64)> {
        self.fetches.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    /// Cycles completed by this process.
    pub fn cycles(&self) -> u64 {
        self.cycles.load(Ordering::Relaxed)
    }
}

/// A histogram with the fixed [`BUCKETS`].
#[derive(Debug, Default)]
pub struct Histogram {
    /// Observations per bucket (not cumulative), one more for above the last bound.
    counts: [AtomicU64; BUCKETS.len() + 1],
    /// Sum of all observations, microseconds.
    sum_micros: AtomicU64,
}

/// A histogram read at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// Upper bounds, seconds.
    pub bounds: Vec<f64>,
    /// Observations per bucket, not cumulative.
    pub counts: Vec<u64>,
    /// All observations (including those above the last bound).
    pub count: u64,
    /// Their sum, seconds.
    pub sum_seconds: f64,
}

impl Histogram {
    /// Records one duration.
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = BUCKETS.iter().position(|b| secs <= *b).unwrap_or(BUCKETS.len());
        self.counts[i].fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(d.as_micros().min(u64::MAX as u128) as u64, Ordering::Relaxed);
    }

    /// The current values.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let all: Vec<u64> = self.counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        HistogramSnapshot {
            bounds: BUCKETS.to_vec(),
            counts: all[..BUCKETS.len()].to_vec(),
            count: all.iter().sum(),
            sum_seconds: self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_their_bucket_and_beyond_the_last() {
        let h = Histogram::default();
        h.observe(Duration::from_millis(50));
        h.observe(Duration::from_millis(51));
        h.observe(Duration::from_secs(120));
        let s = h.snapshot();
        assert_eq!(&s.counts[..2], &[1, 1]);
        assert_eq!(s.count, 3);
        assert!((s.sum_seconds - 120.101).abs() < 1e-9);
    }
}
