//! Telling the other processes that share a PostgreSQL database that what
//! they publish changed: a poll cycle that stored something sends
//! `NOTIFY polyfeed_changes` with its lease token; `serve` and `run` nodes
//! listen on a connection of their own and render again. SQLite has no such
//! channel: `serve` and `run` watch `Store::change_marker` there.

use std::time::Duration;

use super::db::{Context, Dialect, p};
use super::{Store, StoreError};
use crate::config::Database;

/// The channel's name.
const CHANNEL: &str = "polyfeed_changes";

impl Store {
    /// Tells listening nodes that the published data changed (PostgreSQL;
    /// nothing on SQLite). `from` (the sender's token) comes with it.
    pub fn announce_change(&self, from: &str) -> Result<(), StoreError> {
        if self.db.dialect() == Dialect::Postgres {
            self.db
                .query_row("SELECT pg_notify(?1, ?2)::TEXT", p![CHANNEL, from], |_| Ok(()))
                .ctx("cannot notify the other nodes")?;
        }
        Ok(())
    }
}

/// A connection that listens for changes announced by other nodes.
pub struct ChangeListener {
    client: postgres::Client,
}

impl ChangeListener {
    /// Connects and listens (`None` on SQLite, which has no channel).
    /// Call it off the async runtime (a plain thread).
    pub fn open(database: &Database) -> Result<Option<ChangeListener>, StoreError> {
        let Database::Postgres(url) = database else { return Ok(None) };
        let shown = crate::config::redact_database_url(url);
        let mut client = super::pg::connect(url, &shown)?;
        client
            .batch_execute(&format!("LISTEN {CHANNEL}"))
            .map_err(|e| StoreError::Connect { database: shown, why: e.to_string() })?;
        Ok(Some(ChangeListener { client }))
    }

    /// Waits up to `timeout` for announcements; returns their senders'
    /// tokens (empty: none came). An error means the connection is lost.
    pub fn wait(&mut self, timeout: Duration) -> Result<Vec<String>, StoreError> {
        use postgres::fallible_iterator::FallibleIterator;
        let mut notes = self.client.notifications();
        let mut iter = notes.timeout_iter(timeout);
        let mut from = Vec::new();
        while let Some(n) = iter.next().map_err(|e| StoreError::Db {
            context: "lost the connection that listens for changes".into(),
            source: super::db::DbError::Postgres(e),
        })? {
            from.push(n.payload().to_string());
        }
        Ok(from)
    }
}
