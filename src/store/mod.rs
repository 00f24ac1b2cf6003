//! The only module with SQL. SQLite in WAL mode, ordered migrations, one
//! transaction per source. The interface is narrow (plain types in, plain
//! types out) so that another backend can implement it later. The story
//! rules are not here: `crate::stories` holds them, over the data access
//! `stories.rs` gives them.
//!
//! Within `store`, modules import each other one way only: `features` (the
//! rows the rules read beside each entry) and `sources` are leaves;
//! `entries` and `pages` write through `features`; `stories` reads through
//! `features` and `entries`; `purge` repairs stories through `stories`.

mod entries;
mod explain;
mod features;
mod pages;
mod publish;
mod purge;
mod schema;
mod sources;
mod stats;
mod stories;

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OpenFlags};

pub use entries::{EntryRow, NewEntry, SaveStats};
pub use explain::{FetchLine, LogLine, Member, StoryEvent};
pub use pages::{PageResult, PageTodo};
pub use publish::IndexRow;
pub use purge::PurgeStats;
pub use sources::{Claimed, FeedHints, FeedMeta, FetchRecord, Outcome, SourceRow};
pub use stats::StoreStats;

/// A store error, with what was being done.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused.
    #[error("{context}: {source}")]
    Sqlite {
        /// What we were doing.
        context: String,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },
    /// The database was written by a newer polyfeed.
    #[error("database schema version {found} is newer than this polyfeed knows ({known}); upgrade polyfeed")]
    TooNew {
        /// Version in the file.
        found: usize,
        /// Newest version we know.
        known: usize,
    },
    /// The database file cannot be written (read-only file system or file).
    #[error("cannot write to database {path}: {source}")]
    NotWritable {
        /// The database file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Stored JSON could not be read back.
    #[error("corrupt stored value in {0}")]
    Corrupt(String),
}

impl StoreError {
    /// True when the disk is full.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, StoreError::Sqlite { source: rusqlite::Error::SqliteFailure(e, _), .. } if e.code == rusqlite::ErrorCode::DiskFull)
    }
}

/// Adds context to rusqlite results.
trait Context<T> {
    fn ctx(self, what: &str) -> Result<T, StoreError>;
}

impl<T> Context<T> for Result<T, rusqlite::Error> {
    fn ctx(self, what: &str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Sqlite { context: what.to_string(), source })
    }
}

/// Timestamps are stored as fixed-width RFC 3339 UTC text, so that text
/// order is time order.
pub fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|d| d.with_timezone(&Utc))
}

/// The database.
pub struct Store {
    conn: Connection,
    /// Decoded dedup features of stored entries (assignment reads them often).
    features: crate::stories::FeatureCache,
}

impl Store {
    /// Opens (creating if needed) and migrates the database.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        // SQLite only says "unable to open database file"; say why.
        if path.exists()
            && let Err(source) = std::fs::OpenOptions::new().append(true).open(path)
        {
            return Err(StoreError::NotWritable { path: path.display().to_string(), source });
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).ctx(&format!("cannot open database {}", path.display()))?;
        let mut store = Store { conn, features: crate::stories::FeatureCache::default() };
        store.configure().ctx(&format!("cannot set up database {}", path.display()))?;
        store.migrate()?;
        Ok(store)
    }

    fn configure(&self) -> rusqlite::Result<()> {
        self.conn.busy_timeout(Duration::from_secs(30))?;
        self.conn.pragma_update(None, "journal_mode", "WAL")?;
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        self.conn.pragma_update(None, "foreign_keys", "ON")?;
        // 16 MiB of page cache (SQLite's default is 2): story assignment
        // reads candidates' features, the rest reads through indexes.
        self.conn.pragma_update(None, "cache_size", -16_384)?;
        // The save path alone uses about 20 statements.
        self.conn.set_prepared_statement_cache_capacity(64);
        // Plans that do not depend on bound values: without this, binding
        // a `LIMIT ?` (or any value the planner looked at) expires the
        // cached statement, and it is compiled again on every execution.
        self.conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
        Ok(())
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .ctx("cannot start migration")?;
        let version: usize = tx.query_row("PRAGMA user_version", [], |r| r.get(0)).ctx("cannot read schema version")?;
        if version > schema::MIGRATIONS.len() {
            return Err(StoreError::TooNew { found: version, known: schema::MIGRATIONS.len() });
        }
        for (i, sql) in schema::MIGRATIONS.iter().enumerate().skip(version) {
            tx.execute_batch(sql).ctx(&format!("migration {} failed", i + 1))?;
            tx.pragma_update(None, "user_version", i + 1).ctx("cannot bump schema version")?;
        }
        tx.commit().ctx("cannot commit migration")
    }

    /// `PRAGMA integrity_check`: `ok` or the problems found.
    pub fn integrity_check(&self) -> Result<String, StoreError> {
        self.conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).ctx("integrity check failed")
    }

    /// The schema version.
    pub fn schema_version(&self) -> Result<usize, StoreError> {
        self.conn.query_row("PRAGMA user_version", [], |r| r.get(0)).ctx("cannot read schema version")
    }
}

impl Store {
    /// True when some entry has no story yet (an interrupted run left it).
    pub fn has_unassigned(&self) -> Result<bool, StoreError> {
        self.conn
            .query_row(
                // Entries get their stories in one transaction per cycle, so
                // unassigned ones are always the newest rows: two index lookups.
                "SELECT COALESCE((SELECT MAX(id) FROM entries), 0) > COALESCE((SELECT MAX(entry_id) FROM story_entries), 0)",
                [],
                |r| r.get(0),
            )
            .ctx("cannot check story assignment")
    }
}
