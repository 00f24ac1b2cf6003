//! The long-running modes: `serve` (the published feeds over HTTP, re-rendered
//! when a `poll` from cron changes the database) and `run` (scheduler, publisher
//! and server in one process). Both stop on SIGINT or SIGTERM: the current
//! database transaction finishes, files are only ever replaced whole.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::config::Config;
use crate::pipeline::{self, PollOptions};
use crate::server::Site;
use crate::store::Store;

/// How often `serve` checks the database for changes made by another process.
const WATCH_EVERY: Duration = Duration::from_secs(10);
/// Longest sleep of the `run` loop between due checks.
const MAX_SLEEP: Duration = Duration::from_secs(60);

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

/// Renders from the database into the site (on a blocking thread).
async fn refresh(store: &Arc<Mutex<Store>>, config: &Arc<Config>, site: &Arc<Site>) -> anyhow::Result<usize> {
    let (store, config, site) = (store.clone(), config.clone(), site.clone());
    tokio::task::spawn_blocking(move || {
        let artifacts = pipeline::render_site(&store.lock().unwrap_or_else(|p| p.into_inner()), &config)?;
        let n = artifacts.len();
        site.replace(artifacts);
        Ok(n)
    })
    .await?
}

/// `polyfeed serve`: serve until a shutdown signal, re-rendering whenever the
/// database changes.
pub async fn serve(config: Config, listener: TcpListener) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let store = Arc::new(Mutex::new(Store::open(&config.database)?));
    let site = Arc::new(Site::new(max_age(&config)));
    let n = refresh(&store, &config, &site).await?;
    announce(&listener, n);
    let (stop_tx, stop_rx) = watch::channel(false);
    let watcher = tokio::spawn(watch_db(store.clone(), config.clone(), site.clone(), stop_rx));
    let result = crate::server::run(listener, site, async {
        shutdown_signal().await;
        info!("shutting down");
    })
    .await;
    let _ = stop_tx.send(true);
    let _ = watcher.await;
    Ok(result?)
}

fn announce(listener: &TcpListener, files: usize) {
    if let Ok(addr) = listener.local_addr() {
        crate::cli::say(format!(
            "serving {files} files on http://{addr}/ (subscribe to http://{addr}/all.atom; Ctrl-C stops)"
        ));
    }
}

async fn watch_db(store: Arc<Mutex<Store>>, config: Arc<Config>, site: Arc<Site>, mut stop: watch::Receiver<bool>) {
    let marker = |s: &Arc<Mutex<Store>>| s.lock().unwrap_or_else(|p| p.into_inner()).change_marker().ok();
    let mut last = marker(&store);
    loop {
        tokio::select! {
            _ = tokio::time::sleep(WATCH_EVERY) => {}
            _ = stop.changed() => return,
        }
        let now = marker(&store);
        if now != last {
            last = now;
            match refresh(&store, &config, &site).await {
                Ok(n) => info!(files = n, "database changed; re-rendered"),
                Err(e) => warn!(error = %e, "re-rendering failed; still serving the previous feeds"),
            }
        }
    }
}

/// `polyfeed run`: poll what is due, publish files and the served site after
/// changes, sleep until the next due time; serve all along. The first cycle
/// runs before the address is announced, so the first reader sees feeds.
pub async fn run(config: Config, listener: TcpListener) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let store = pipeline::open_store(&config).await?;
    let site = Arc::new(Site::new(max_age(&config)));
    cycle(&store, &config, &site, true).await?;
    announce(&listener, site.len());
    let (stop_tx, stop_rx) = watch::channel(false);
    let server = tokio::spawn(crate::server::run(listener, site.clone(), wait_stop(stop_rx.clone())));
    let scheduler = scheduler(store, config, site, stop_rx);
    tokio::select! {
        _ = shutdown_signal() => info!("shutting down"),
        r = scheduler => r?,
    }
    let _ = stop_tx.send(true);
    server.await??;
    Ok(())
}

async fn wait_stop(mut rx: watch::Receiver<bool>) {
    while !*rx.borrow() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

async fn scheduler(
    store: Arc<Mutex<Store>>,
    config: Arc<Config>,
    site: Arc<Site>,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    while !*stop.borrow() {
        let next = store.lock().unwrap_or_else(|p| p.into_inner()).next_due()?;
        let sleep = next
            .and_then(|t| (t - crate::clock::now()).to_std().ok())
            .unwrap_or(Duration::ZERO)
            .clamp(Duration::from_secs(1), MAX_SLEEP);
        tokio::time::sleep(sleep).await;
        cycle(&store, &config, &site, false).await?;
    }
    Ok(())
}

/// One poll of what is due; publishes (files and site) when it changed
/// something, or always with `force`.
async fn cycle(store: &Arc<Mutex<Store>>, config: &Arc<Config>, site: &Arc<Site>, force: bool) -> anyhow::Result<()> {
    let summary = pipeline::poll_with(store, config, &PollOptions::default()).await?;
    if !summary.sources.is_empty() {
        info!("{}", summary.line());
    }
    if force || summary.new_entries() + summary.updated_entries() > 0 || summary.restructured() {
        let (s, c) = (store.clone(), config.clone());
        let report =
            tokio::task::spawn_blocking(move || pipeline::publish(&s.lock().unwrap_or_else(|p| p.into_inner()), &c))
                .await??;
        info!(written = report.files.written, "published");
        crate::websub::ping(config, crate::websub::feed_urls(config, &report.files.changed)).await;
        refresh(store, config, site).await?;
    }
    Ok(())
}
