//! Observability of the long-running modes: what `/healthz` and `/metrics`
//! answer. Database facts (sources by state, entries, stories, the last
//! completed cycle) are read at scrape time through a connection of its own,
//! so a scrape never waits for a poll cycle; in-process facts (fetches,
//! durations) come from the [`Registry`] the pipeline records into.

mod prom;
mod registry;

use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use registry::{BUCKETS, Histogram, HistogramSnapshot, Registry};

use crate::config::Config;
use crate::server::{Admin, Health};
use crate::store::{Store, StoreError, StoreStats};

/// The shortest age at which the last cycle counts as too old.
const MIN_STALE_AFTER: Duration = Duration::from_secs(600);

/// Answers `/healthz` and `/metrics` for `serve` and `run`.
pub struct Observer {
    /// A read connection of its own (WAL: reads never wait for the poller).
    store: Mutex<Store>,
    /// The polling process's counters (empty under `serve`).
    registry: Arc<Registry>,
    /// Last cycle older than this: unhealthy. From the config; replaced on reload.
    stale_after: Mutex<Duration>,
    /// Nodes seen within this are alive (the configured lease).
    lease: Duration,
    /// The database's engine and name, as messages show it (no password).
    database: (&'static str, String),
}

impl Observer {
    /// Opens its own connection to the configured database.
    pub fn open(config: &Config, registry: Arc<Registry>) -> Result<Observer, StoreError> {
        let store = Store::open(&config.database)?;
        let database = (store.engine(), config.database.to_string());
        Ok(Observer {
            store: Mutex::new(store),
            registry,
            stale_after: Mutex::new(stale_after(config)),
            lease: config.fetch.lease,
            database,
        })
    }

    /// Takes the staleness bound of a reloaded config.
    pub fn configure(&self, config: &Config) {
        *self.stale_after.lock().unwrap_or_else(|p| p.into_inner()) = stale_after(config);
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The nodes sharing the database, alive ones first.
    fn nodes(&self) -> Result<Vec<crate::store::NodeRow>, StoreError> {
        let since = crate::clock::now() - chrono::Duration::from_std(self.lease).unwrap_or_default();
        self.store().nodes(since)
    }
}

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observer").field("registry", &self.registry).finish_non_exhaustive()
    }
}

/// Twice the default poll interval (a cron line or the daemon polls at least
/// that often when healthy), at least ten minutes.
pub fn stale_after(config: &Config) -> Duration {
    (config.interval.max(config.min_interval) * 2).max(MIN_STALE_AFTER)
}

impl Admin for Observer {
    fn health(&self) -> Health {
        let stale_after = *self.stale_after.lock().unwrap_or_else(|p| p.into_inner());
        let last = match self.store().last_cycle() {
            Ok(last) => last,
            Err(e) => {
                let body = serde_json::json!({
                    "status": "unhealthy",
                    "node": crate::node::name(),
                    "database": "error",
                    "engine": self.database.0,
                    "database_name": self.database.1,
                    "reason": e.to_string(),
                });
                return Health { ok: false, body: body.to_string() };
            }
        };
        let age = last.map(|t| (crate::clock::now() - t).num_seconds().max(0));
        let reason = match age {
            None => Some("no poll cycle has completed yet".to_string()),
            Some(a) if a as u64 > stale_after.as_secs() => {
                Some(format!("the last poll cycle ended {a} s ago (more than {} s)", stale_after.as_secs()))
            }
            Some(_) => None,
        };
        let nodes: Vec<serde_json::Value> = self
            .nodes()
            .unwrap_or_default()
            .into_iter()
            .map(|n| serde_json::json!({"name": n.name, "seen_at": n.seen_at, "alive": n.alive}))
            .collect();
        let body = serde_json::json!({
            "status": if reason.is_none() { "ok" } else { "unhealthy" },
            "node": crate::node::name(),
            "database": "ok",
            "engine": self.database.0,
            "database_name": self.database.1,
            "nodes": nodes,
            "last_cycle_at": last.map(crate::store::ts),
            "last_cycle_age_seconds": age,
            "stale_after_seconds": stale_after.as_secs(),
            "reason": reason,
        });
        Health { ok: reason.is_none(), body: body.to_string() }
    }

    fn metrics(&self) -> Result<String, String> {
        let stats = self.store().stats().map_err(|e| e.to_string())?;
        let alive = self.nodes().map_err(|e| e.to_string())?.iter().filter(|n| n.alive).count();
        Ok(render(&stats, &self.registry, alive))
    }
}

/// The metrics page.
fn render(stats: &StoreStats, registry: &Registry, nodes_alive: usize) -> String {
    // Every sample names the node that answers (the same database facts
    // come from every node: sum by node only the per-process counters).
    let mut t = prom::Text::with_labels(&[("node", crate::node::name())]);
    t.family("polyfeed_nodes", "gauge", "Nodes sharing the database that renewed their leases within one lease.");
    t.sample("polyfeed_nodes", &[], nodes_alive as f64);
    t.family("polyfeed_sources", "gauge", "Sources by state: the last poll's outcome, pending, gone or removed.");
    for (state, n) in &stats.sources_by_state {
        t.sample("polyfeed_sources", &[("state", state)], *n as f64);
    }
    t.family("polyfeed_entries", "gauge", "Entries stored.");
    t.sample("polyfeed_entries", &[], stats.entries as f64);
    t.family("polyfeed_stories", "gauge", "Stories stored (each holds one or more entries).");
    t.sample("polyfeed_stories", &[], stats.stories as f64);
    t.family(
        "polyfeed_last_cycle_timestamp_seconds",
        "gauge",
        "Unix time the last poll cycle completed, by any process (absent before the first).",
    );
    if let Some(at) = stats.last_cycle {
        t.sample("polyfeed_last_cycle_timestamp_seconds", &[], at.timestamp() as f64);
    }
    t.family("polyfeed_cycles_total", "counter", "Poll cycles completed by this process.");
    t.sample("polyfeed_cycles_total", &[], registry.cycles() as f64);
    t.family("polyfeed_fetches_total", "counter", "Fetches by this process, by outcome and HTTP status.");
    for ((outcome, status), n) in registry.fetches() {
        t.sample("polyfeed_fetches_total", &[("outcome", &outcome), ("status", &status)], n as f64);
    }
    t.histogram(
        "polyfeed_fetch_duration_seconds",
        "Time to fetch one source (request and body), by this process.",
        &registry.fetch_duration.snapshot(),
    );
    t.histogram(
        "polyfeed_publish_duration_seconds",
        "Time to render and write the published files, by this process.",
        &registry.publish_duration.snapshot(),
    );
    t.finish()
}
