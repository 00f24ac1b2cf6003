//! Politeness toward hosts, within one process and across the nodes that
//! share a database. A `HostGate` keeps one host's limits for this
//! process (`per_host_concurrency` requests at once, starts spaced by
//! `per_host_delay`); `Hosts` holds the gates of the hosts this node has
//! leased (see `store::leases`: one node at a time requests from a host, so
//! the limits hold for the whole cluster), starting each gate's spacing from
//! the last request any node made there. `LeaseKeeper` renews this node's
//! leases while it works.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;

use crate::config::FetchSettings;
use crate::pipeline::{SharedStore, blocking, lock};

/// Politeness towards one host: at most `per_host_concurrency` requests at
/// once, and request starts spaced by `per_host_delay` (no burst at start-up).
pub(crate) struct HostGate {
    slots: Arc<Semaphore>,
    delay: Duration,
    next_start: tokio::sync::Mutex<tokio::time::Instant>,
    /// When the last request through this gate started.
    last_start: Mutex<Option<DateTime<Utc>>>,
}

impl HostGate {
    /// A gate whose first request starts `per_host_delay` after
    /// `last_request` (made by any node), or at once.
    pub(crate) fn new(settings: &FetchSettings, last_request: Option<DateTime<Utc>>) -> HostGate {
        let now = tokio::time::Instant::now();
        let wait = last_request
            .map(|t| t + chrono::Duration::from_std(settings.per_host_delay).unwrap_or_default() - crate::clock::now())
            .and_then(|d| d.to_std().ok())
            .unwrap_or_default()
            .min(settings.per_host_delay);
        HostGate {
            slots: Arc::new(Semaphore::new(settings.per_host_concurrency)),
            delay: settings.per_host_delay,
            next_start: tokio::sync::Mutex::new(now + wait),
            last_start: Mutex::new(None),
        }
    }

    /// Waits for a slot and for this host's next start time.
    pub(crate) async fn enter(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let permit = self.slots.clone().acquire_owned().await.ok();
        let mut next = self.next_start.lock().await;
        let start = (*next).max(tokio::time::Instant::now());
        *next = start + self.delay;
        drop(next);
        tokio::time::sleep_until(start).await;
        *self.last_start.lock().unwrap_or_else(PoisonError::into_inner) = Some(crate::clock::now());
        permit
    }

    /// When the last request through this gate started.
    pub(crate) fn last_start(&self) -> Option<DateTime<Utc>> {
        *self.last_start.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The gates of the hosts this node holds in this cycle.
pub(crate) struct Hosts {
    settings: FetchSettings,
    gates: HashMap<String, Arc<HostGate>>,
}

impl Hosts {
    /// No host held yet.
    pub(crate) fn new(settings: &FetchSettings) -> Hosts {
        Hosts { settings: settings.clone(), gates: HashMap::new() }
    }

    /// Takes the hosts a lease granted, with the last request to each.
    pub(crate) fn hold(&mut self, granted: HashMap<String, Option<DateTime<Utc>>>) {
        for (host, last) in granted {
            self.gates.entry(host).or_insert_with(|| Arc::new(HostGate::new(&self.settings, last)));
        }
    }

    /// Whether this node holds `host`.
    pub(crate) fn holds(&self, host: &str) -> bool {
        self.gates.contains_key(host)
    }

    /// The gate of a held host.
    pub(crate) fn gate(&self, host: &str) -> Option<Arc<HostGate>> {
        self.gates.get(host).cloned()
    }

    /// When the last request to each host started, for those asked this cycle.
    pub(crate) fn last_requests(&self) -> Vec<(String, DateTime<Utc>)> {
        let mut v: Vec<_> = self.gates.iter().filter_map(|(h, g)| g.last_start().map(|t| (h.clone(), t))).collect();
        v.sort();
        v
    }
}

/// Renews this node's leases every third of the lease while it lives;
/// stops when dropped.
pub(crate) struct LeaseKeeper(tokio::task::JoinHandle<()>);

impl LeaseKeeper {
    /// Starts renewing (the first renewal a third of `lease` from now).
    pub(crate) fn start(store: &SharedStore, lease: Duration) -> LeaseKeeper {
        let store = store.clone();
        LeaseKeeper(tokio::spawn(async move {
            let every = (lease / 3).max(Duration::from_millis(200));
            loop {
                tokio::time::sleep(every).await;
                let s = store.clone();
                let renewed = blocking(move || {
                    let now = crate::clock::now();
                    lock(&s).renew_leases(crate::node::token(), now, lease_end(now, lease))
                })
                .await;
                if let Ok(Err(e)) = renewed {
                    tracing::warn!(error = %e, "cannot renew this node's leases");
                }
            }
        }))
    }
}

impl Drop for LeaseKeeper {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// When a lease taken at `now` ends.
pub(crate) fn lease_end(now: DateTime<Utc>, lease: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::minutes(2))
}
