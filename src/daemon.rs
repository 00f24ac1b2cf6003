//! The long-running modes: `serve` (the published feeds over HTTP, re-rendered
//! when a `poll` from cron changes the database) and `run` (scheduler, publisher
//! and server in one process). Both answer `/healthz` and `/metrics` (on the
//! main listener, or on the admin listener when one is configured), reread
//! feeds.toml on SIGHUP (and with `--watch` when it changes), and stop on
//! SIGINT or SIGTERM: the current database transaction finishes, files are
//! only ever replaced whole.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::config::Config;
use crate::hosts::LeaseKeeper;
use crate::observe::{Observer, Registry};
use crate::pipeline::{self, PollOptions};
use crate::server::{Admin, Limits, Site};
use crate::store::Store;

/// How often `serve` checks the database for changes made by another process.
const WATCH_EVERY: Duration = Duration::from_secs(10);
/// Longest sleep of the `run` loop between due checks.
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// Least sleep of the `run` loop after a cycle that claimed nothing
/// (what is due went to other nodes).
const IDLE_WAIT: Duration = Duration::from_secs(5);

/// Where the long-running modes listen.
#[derive(Debug)]
pub struct Listeners {
    /// The feeds (and `/healthz`, `/metrics` unless `admin` is given).
    pub main: TcpListener,
    /// Only `/healthz` and `/metrics`, when configured.
    pub admin: Option<TcpListener>,
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// `Cache-Control: max-age` for served feeds: a quarter of the shortest
/// effective poll interval (we cannot republish faster than we poll),
/// between one minute and one hour.
pub fn max_age(config: &Config) -> Duration {
    let shortest = config.sources.iter().map(|s| s.interval.max(config.min_interval)).min().unwrap_or(config.interval);
    (shortest / 4).clamp(Duration::from_secs(60), Duration::from_secs(3600))
}

fn lock(store: &Arc<Mutex<Store>>) -> std::sync::MutexGuard<'_, Store> {
    store.lock().unwrap_or_else(|p| p.into_inner())
}

/// What both modes share: the database, the served site and the observer.
struct Parts {
    store: Arc<Mutex<Store>>,
    site: Arc<Site>,
    observer: Arc<Observer>,
    /// The database's change marker when the site was last rendered.
    rendered_at: Arc<Mutex<Option<i64>>>,
    /// Whether to watch the marker: on SQLite, where no process announces
    /// its changes. On PostgreSQL every cycle does (`NOTIFY`); the marker
    /// there would move with every fetch of a node mid-cycle and render the
    /// whole site every few seconds for nothing.
    watch_marker: bool,
}

impl Parts {
    fn new(store: Arc<Mutex<Store>>, config: &Config, observer: Arc<Observer>) -> Parts {
        Parts {
            store,
            site: Arc::new(Site::new(max_age(config))),
            observer,
            rendered_at: Arc::default(),
            watch_marker: config.database.sqlite_path().is_some(),
        }
    }

    /// Renders from the database into the site (on a blocking thread).
    async fn refresh(&self, config: &Arc<Config>) -> anyhow::Result<usize> {
        let (store, config, site, at) =
            (self.store.clone(), config.clone(), self.site.clone(), self.rendered_at.clone());
        tokio::task::spawn_blocking(move || {
            let store = lock(&store);
            let marker = store.change_marker().ok();
            let artifacts = pipeline::render_site(&store, &config)?;
            let n = artifacts.len();
            site.replace(artifacts);
            *at.lock().unwrap_or_else(|p| p.into_inner()) = marker;
            Ok(n)
        })
        .await?
    }

    /// Whether the database changed since the site was rendered (as far as
    /// the change marker tells: fetches and sources; SQLite only).
    async fn changed(&self) -> bool {
        if !self.watch_marker {
            return false;
        }
        let (store, at) = (self.store.clone(), self.rendered_at.clone());
        tokio::task::spawn_blocking(move || {
            let now = lock(&store).change_marker().ok();
            now.is_some() && now != *at.lock().unwrap_or_else(|p| p.into_inner())
        })
        .await
        .unwrap_or(false)
    }

    /// Renders again, logging the outcome (the old site stays on failure).
    async fn rerender(&self, config: &Arc<Config>, why: &str) {
        match self.refresh(config).await {
            Ok(n) => info!(files = n, why, "re-rendered"),
            Err(e) => warn!(error = %e, "re-rendering failed; still serving the previous feeds"),
        }
    }

    /// Takes a reloaded config: logs what changed, keeps the settings only a
    /// restart can change, syncs the sources table when `sync` (added
    /// sources become due at once, removed ones are no longer claimed).
    async fn apply(&self, old: &Config, mut new: Config, sync: bool) -> anyhow::Result<Arc<Config>> {
        let changes = crate::reload::changes(old, &new);
        if !changes.need_restart.is_empty() {
            warn!(settings = ?changes.need_restart, "changed settings take effect after a restart; the old values stay in force");
        }
        new.database = old.database.clone();
        new.publish.listen = old.publish.listen;
        new.publish.admin_listen = old.publish.admin_listen;
        if sync {
            let (store, sources) = (self.store.clone(), new.sources.clone());
            tokio::task::spawn_blocking(move || lock(&store).sync_sources(&sources, crate::clock::now())).await??;
        }
        self.observer.configure(&new);
        for key in &changes.added {
            info!(source = %key, "source added");
        }
        for key in &changes.removed {
            info!(source = %key, "source removed: no longer polled, its entries stay");
        }
        for key in &changes.changed {
            info!(source = %key, "source changed: new settings apply from its next poll");
        }
        info!(
            added = changes.added.len(),
            removed = changes.removed.len(),
            changed = changes.changed.len(),
            "config reloaded"
        );
        Ok(Arc::new(new))
    }
}

/// Starts the HTTP servers; they stop when `stop` turns true.
fn start_servers(
    listeners: Listeners,
    parts: &Parts,
    stop: &watch::Receiver<bool>,
) -> Vec<JoinHandle<std::io::Result<()>>> {
    let admin: Arc<dyn Admin> = parts.observer.clone();
    let on_main = listeners.admin.is_none().then(|| admin.clone());
    let mut servers = vec![tokio::spawn(crate::server::run_with(
        listeners.main,
        parts.site.clone(),
        on_main,
        wait_stop(stop.clone()),
        Limits::default(),
    ))];
    if let Some(listener) = listeners.admin {
        if let Ok(addr) = listener.local_addr() {
            info!(%addr, "serving /healthz and /metrics");
        }
        let empty = Arc::new(Site::new(Duration::ZERO));
        let server = crate::server::run_with(listener, empty, Some(admin), wait_stop(stop.clone()), Limits::default());
        servers.push(tokio::spawn(server));
    }
    servers
}

async fn stop_servers(stop: watch::Sender<bool>, servers: Vec<JoinHandle<std::io::Result<()>>>) -> anyhow::Result<()> {
    let _ = stop.send(true);
    for server in servers {
        server.await??;
    }
    Ok(())
}

/// `polyfeed serve`: serve until a shutdown signal, re-rendering whenever the
/// database changes or the config is reloaded.
pub async fn serve(config: Config, listeners: Listeners, watch_file: bool) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let store = Arc::new(Mutex::new(Store::open(&config.database)?));
    let observer = Arc::new(Observer::open(&config, Arc::new(Registry::default()))?);
    let parts = Parts::new(store, &config, observer);
    let reloads = crate::reload::spawn(config.path.clone(), watch_file);
    let notes = listen_for_changes(&config.database);
    let n = parts.refresh(&config).await?;
    announce(&listeners.main, n);
    let (stop_tx, stop_rx) = watch::channel(false);
    let servers = start_servers(listeners, &parts, &stop_rx);
    tokio::select! {
        () = shutdown_signal() => info!("shutting down"),
        () = watch_db(&parts, config, reloads, notes, stop_rx) => {}
    }
    stop_servers(stop_tx, servers).await
}

fn announce(listener: &TcpListener, files: usize) {
    if let Ok(addr) = listener.local_addr() {
        crate::cli::say(format!(
            "serving {files} files on http://{addr}/ (subscribe to http://{addr}/all.atom; Ctrl-C stops)"
        ));
    }
}

/// `serve`'s loop: re-render when another process announced a change
/// (PostgreSQL), when the change marker moved (checked every
/// [`WATCH_EVERY`]), or when the config was reloaded.
async fn watch_db(
    parts: &Parts,
    mut config: Arc<Config>,
    mut reloads: mpsc::Receiver<Config>,
    mut notes: mpsc::Receiver<()>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let why = tokio::select! {
            _ = tokio::time::sleep(WATCH_EVERY) => {
                if !parts.changed().await {
                    continue;
                }
                "the database changed"
            }
            _ = stop.changed() => return,
            Some(()) = notes.recv() => "another node changed the feeds",
            Some(new) = reloads.recv() => {
                // `serve` does not poll: the sources table is `poll`'s to sync.
                match parts.apply(&config, new, false).await {
                    Ok(c) => config = c,
                    Err(e) => warn!(error = %e, "config reload failed; the previous one stays in force"),
                }
                "config reloaded"
            }
        };
        parts.rerender(&config, why).await;
    }
}

/// Announcements of changes by other nodes (PostgreSQL `LISTEN`, on a
/// thread with a connection of its own, connecting again when it is lost;
/// after a reconnection one wake-up, for what may have been missed). On
/// SQLite nothing ever comes.
fn listen_for_changes(database: &crate::config::Database) -> mpsc::Receiver<()> {
    let (tx, rx) = mpsc::channel(1);
    if database.sqlite_path().is_some() {
        return rx;
    }
    let database = database.clone();
    let own = crate::node::token().to_string();
    let spawned = std::thread::Builder::new().name("listen".into()).spawn(move || {
        crate::node::enter_log_span();
        let mut wait = Duration::from_secs(1);
        let mut first = true;
        while !tx.is_closed() {
            match crate::store::ChangeListener::open(&database) {
                Ok(Some(mut listener)) => {
                    wait = Duration::from_secs(1);
                    if !std::mem::take(&mut first) {
                        info!("listening for other nodes' changes again");
                        let _ = tx.try_send(());
                    }
                    loop {
                        match listener.wait(Duration::from_secs(1)) {
                            Ok(from) if from.iter().any(|t| *t != own) => {
                                let _ = tx.try_send(());
                            }
                            Ok(_) => {}
                            Err(e) => {
                                warn!(error = %e, "not listening for other nodes' changes; connecting again");
                                break;
                            }
                        }
                        if tx.is_closed() {
                            return;
                        }
                    }
                }
                Ok(None) => return,
                Err(e) => {
                    warn!(error = %e, retry_in = ?wait, "cannot listen for other nodes' changes");
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(MAX_SLEEP);
                }
            }
        }
    });
    if let Err(e) = spawned {
        warn!(error = %e, "cannot start listening for other nodes' changes");
    }
    rx
}

/// `polyfeed run`: poll what is due, publish files and the served site after
/// each cycle that polled something, sleep until the next due time; serve all
/// along. The first cycle runs before the address is announced, so the first
/// reader sees feeds.
pub async fn run(config: Config, listeners: Listeners, watch_file: bool) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let store = pipeline::open_store(&config).await?;
    // Seen by the other nodes before the first claim, so that nodes started
    // together share the first cycle's sources.
    let s = store.clone();
    tokio::task::spawn_blocking(move || {
        lock(&s).node_seen(crate::node::token(), crate::node::name(), crate::clock::now())
    })
    .await??;
    let registry = Arc::new(Registry::default());
    let observer = Arc::new(Observer::open(&config, registry.clone())?);
    let parts = Parts::new(store, &config, observer);
    // The node stays alive (and its leases held) between cycles too.
    let keeper = LeaseKeeper::start(&parts.store, config.fetch.lease);
    let daemon = Daemon { parts, registry };
    let reloads = crate::reload::spawn(config.path.clone(), watch_file);
    let notes = listen_for_changes(&config.database);
    daemon.cycle(&config, true).await?;
    announce(&listeners.main, daemon.parts.site.len());
    let (stop_tx, stop_rx) = watch::channel(false);
    let servers = start_servers(listeners, &daemon.parts, &stop_rx);
    let result = tokio::select! {
        () = shutdown_signal() => {
            info!("shutting down");
            Ok(())
        }
        r = daemon.scheduler(config, reloads, notes, stop_rx) => r,
    };
    drop(keeper);
    let store = daemon.parts.store.clone();
    let gone = tokio::task::spawn_blocking(move || lock(&store).node_gone(crate::node::token())).await?;
    if let Err(e) = gone {
        warn!(error = %e, "cannot release this node's leases; they end with the lease");
    }
    result?;
    stop_servers(stop_tx, servers).await
}

async fn wait_stop(mut rx: watch::Receiver<bool>) {
    while !*rx.borrow() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// The `run` daemon: the shared parts and the counters its cycles record.
struct Daemon {
    parts: Parts,
    registry: Arc<Registry>,
}

impl Daemon {
    /// Sleeps until something is due (at most a minute), polls; on a reload,
    /// applies the new config and runs a cycle at once (added sources are
    /// due). Between cycles, renders again when another process changed the
    /// database (announced, or seen by the change marker).
    async fn scheduler(
        &self,
        mut config: Arc<Config>,
        mut reloads: mpsc::Receiver<Config>,
        mut notes: mpsc::Receiver<()>,
        stop: watch::Receiver<bool>,
    ) -> anyhow::Result<()> {
        // After a cycle that polled nothing, wait at least IDLE_WAIT; after
        // one that left entries waiting for their stories (another node was
        // fetching and assigns them when it ends; it may die first), come
        // back within IDLE_WAIT.
        let mut idle = false;
        let mut soon = false;
        let mut watch = tokio::time::interval(WATCH_EVERY);
        watch.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !*stop.borrow() {
            let next = lock(&self.parts.store).next_due()?;
            // What is due but went to other nodes (or waits for a host they
            // hold) is not asked for again at once.
            let least = if idle { IDLE_WAIT } else { Duration::from_secs(1) };
            let sleep = next
                .and_then(|t| (t - crate::clock::now()).to_std().ok())
                .unwrap_or(Duration::ZERO)
                .clamp(least, MAX_SLEEP)
                .min(if soon { IDLE_WAIT } else { MAX_SLEEP });
            let wake = tokio::time::sleep(sleep);
            tokio::pin!(wake);
            let reloaded = loop {
                tokio::select! {
                    () = &mut wake => break false,
                    Some(new) = reloads.recv() => {
                        config = self.parts.apply(&config, new, true).await?;
                        break true;
                    }
                    Some(()) = notes.recv() => self.parts.rerender(&config, "another node changed the feeds").await,
                    _ = watch.tick() => {
                        if self.parts.changed().await {
                            self.parts.rerender(&config, "the database changed").await;
                        }
                    }
                }
            };
            (idle, soon) = self.cycle(&config, reloaded).await?;
        }
        Ok(())
    }

    /// One poll of what is due; publishes (files and site) when it polled
    /// anything (the sources page shows each source's last fetch; feeds are
    /// rendered again only when stories changed), or everything with `force`.
    /// Returns whether it polled nothing, and whether it left entries
    /// waiting for their stories.
    async fn cycle(&self, config: &Arc<Config>, force: bool) -> anyhow::Result<(bool, bool)> {
        let opts = PollOptions { metrics: Some(self.registry.clone()), ..PollOptions::default() };
        let summary = pipeline::poll_with(&self.parts.store, config, &opts).await?;
        let polled = !summary.sources.is_empty();
        let waiting = summary.stories_left_waiting;
        if polled {
            info!("{}", summary.line());
        }
        if force || !summary.sources.is_empty() || summary.restructured() {
            let (s, c) = (self.parts.store.clone(), config.clone());
            let started = Instant::now();
            let report = tokio::task::spawn_blocking(move || {
                if force {
                    pipeline::publish(&lock(&s), &c).map(Some)
                } else {
                    pipeline::publish_after_poll(&lock(&s), &c, &summary)
                }
            })
            .await??;
            let Some(report) = report else { return Ok((!polled, waiting)) };
            self.registry.publish_duration.observe(started.elapsed());
            info!(written = report.files.written, "published");
            crate::websub::ping(config, crate::websub::feed_urls(config, &report.files.changed)).await;
            self.parts.refresh(config).await?;
        }
        Ok((!polled, waiting))
    }
}
