//! Config reload for the long-running modes: on SIGHUP, and with `--watch`
//! when feeds.toml changes (its modification time and size, looked at every
//! two seconds), the file is read and validated again. A valid config is
//! handed to the daemon; an invalid one is logged with its file:line:column
//! and the config in force stays.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;
use tracing::{error, info};

use crate::config::Config;

/// How often `--watch` looks at the file.
pub const WATCH_EVERY: Duration = Duration::from_secs(2);

/// Starts watching for reload requests; valid new configs arrive on the
/// receiver. The task ends when the receiver is dropped. Call it from
/// inside the runtime: the SIGHUP handler is installed before it returns,
/// so a SIGHUP from then on reloads instead of ending the process.
pub fn spawn(path: PathBuf, watch_file: bool) -> mpsc::Receiver<Config> {
    let (tx, rx) = mpsc::channel(4);
    let hangups = hangups();
    tokio::spawn(async move {
        let mut hangups = hangups;
        let mut seen = stamp(&path);
        loop {
            let why = tokio::select! {
                () = tx.closed() => return,
                () = next_hangup(&mut hangups) => "SIGHUP",
                () = tokio::time::sleep(WATCH_EVERY), if watch_file => {
                    let now = stamp(&path);
                    if now == seen { continue }
                    seen = now;
                    "the file changed"
                }
            };
            match Config::load(&path) {
                Ok(config) => {
                    info!(reason = why, sources = config.sources.len(), "config read again");
                    if tx.send(config).await.is_err() {
                        return;
                    }
                }
                Err(e) => error!(reason = why, "config not reloaded, the previous one stays in force: {e}"),
            }
        }
    });
    rx
}

/// What `--watch` compares: modification time and size (`None`: unreadable).
fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

#[cfg(unix)]
type Hangups = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangups = ();

#[cfg(unix)]
fn hangups() -> Hangups {
    use tokio::signal::unix::{SignalKind, signal};
    signal(SignalKind::hangup()).map_err(|e| error!("cannot handle SIGHUP: {e}")).ok()
}

#[cfg(not(unix))]
fn hangups() -> Hangups {}

/// Completes at the next SIGHUP; never when there is no handler.
#[cfg(unix)]
async fn next_hangup(h: &mut Hangups) {
    let received = match h {
        Some(s) => s.recv().await.is_some(),
        None => false,
    };
    if !received {
        std::future::pending::<()>().await;
    }
}

#[cfg(not(unix))]
async fn next_hangup(_: &mut Hangups) {
    std::future::pending().await
}

/// What a new config changes, for the log: sources added, removed and
/// changed (by key), and settings that only a restart applies.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Keys of new sources.
    pub added: Vec<String>,
    /// Keys of sources no longer listed.
    pub removed: Vec<String>,
    /// Keys of sources whose settings changed.
    pub changed: Vec<String>,
    /// Settings that keep their old value until a restart.
    pub need_restart: Vec<&'static str>,
}

/// Compares the config in force with a new one.
pub fn changes(old: &Config, new: &Config) -> Changes {
    let find = |c: &Config, key: &str| c.sources.iter().find(|s| s.key == key).cloned();
    let mut out = Changes::default();
    for s in &new.sources {
        match find(old, &s.key) {
            None => out.added.push(s.key.clone()),
            Some(o) if o != *s => out.changed.push(s.key.clone()),
            Some(_) => {}
        }
    }
    out.removed = old.sources.iter().filter(|s| find(new, &s.key).is_none()).map(|s| s.key.clone()).collect();
    if old.database != new.database {
        out.need_restart.push("database");
    }
    if old.publish.listen != new.publish.listen {
        out.need_restart.push("listen");
    }
    if old.publish.admin_listen != new.publish.admin_listen {
        out.need_restart.push("admin_listen");
    }
    out
}
