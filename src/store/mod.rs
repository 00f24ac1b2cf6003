//! The only module with SQL, on two engines: SQLite in WAL mode (the
//! embedded default) or PostgreSQL, behind one [`Store`]. Each module keeps
//! one copy of its queries, run through `db` (SQLite's `?N` placeholders,
//! rewritten for PostgreSQL; values converted to what each engine expects);
//! text differs per engine only where the dialects do (`Db::dialect`).
//! Ordered migrations per engine, one transaction per source. The story
//! rules are not here: `crate::stories` holds them, over the data access
//! `stories.rs` gives them.
//!
//! Within `store`, modules import each other one way only: `db` (the
//! engines), `pg` (connecting to PostgreSQL), `features` (the rows the rules
//! read beside each entry), `sources` and `leases` (which reads `sources`'
//! claim rows) are leaves; `entries` and `pages`
//! write through `features`; `stories` reads through `features` and
//! `entries`; `purge` repairs stories through `stories`; `copy` (`polyfeed
//! copy-store`) reads the catalogues and copies rows through `db` only.

mod copy;
mod db;
mod entries;
mod explain;
mod features;
mod leases;
mod notify;
mod pages;
mod pg;
mod publish;
mod purge;
mod schema;
#[doc(hidden)]
pub mod scratch;
mod sources;
mod stats;
mod stories;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::{Connection, OpenFlags};

use crate::config::Database;
use db::{Context, Db, Dialect};

pub use copy::{
    CopyError, CopyReport, PAGE_ROWS, Progress, Skipped, TRANSIENT_COLUMNS, TRANSIENT_TABLES, TableCount, copy,
};
pub use db::DbError;

pub use entries::{EntryRow, FetchToSave, NewEntry, SaveStats};
pub use explain::{FetchLine, LogLine, Member, StoryEvent};
pub use leases::{Claim, ClaimRequest, NodeRow};
pub use notify::ChangeListener;
pub use pages::{PageResult, PageTodo};
pub use publish::IndexRow;
pub use purge::PurgeStats;
pub use sources::{Claimed, FeedHints, FeedMeta, FetchRecord, Outcome, SourceRow};
pub use stats::StoreStats;

/// A store error, with what was being done.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused.
    #[error("{context}: {source}")]
    Db {
        /// What we were doing.
        context: String,
        /// The engine's error.
        #[source]
        source: DbError,
    },
    /// The PostgreSQL server could not be reached or refused the login.
    #[error("cannot connect to database {database}: {why}")]
    Connect {
        /// Host and database (never the password).
        database: String,
        /// Why.
        why: String,
    },
    /// The database was written by a newer polyfeed.
    #[error(
        "database {database}: schema version {found} is newer than this polyfeed knows ({known}); upgrade polyfeed"
    )]
    TooNew {
        /// The database (file, or host and database).
        database: String,
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
        match self {
            StoreError::Db { source: DbError::Sqlite(rusqlite::Error::SqliteFailure(e, _)), .. } => {
                e.code == rusqlite::ErrorCode::DiskFull
            }
            // SQLSTATE 53100: disk_full.
            StoreError::Db { source: DbError::Postgres(e), .. } => {
                e.code() == Some(&postgres::error::SqlState::DISK_FULL)
            }
            _ => false,
        }
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
    db: Db,
    /// Decoded dedup features of stored entries (assignment reads them often).
    features: crate::stories::FeatureCache,
    /// The database, as messages name it.
    shown: String,
}

/// The lock migrations take on PostgreSQL (`pg_advisory_xact_lock`), so
/// that nodes starting together migrate one after the other.
const PG_MIGRATION_LOCK: i64 = 0x706f_6c79_6665_6564; // "polyfeed"

impl Store {
    /// Opens (creating if needed) and migrates the database.
    pub fn open(database: &Database) -> Result<Store, StoreError> {
        let mut store = Store::connect(database)?;
        store.migrate()?;
        Ok(store)
    }

    /// Opens (creating if needed) the database without migrating it:
    /// `copy` looks at a target before it changes anything.
    fn connect(database: &Database) -> Result<Store, StoreError> {
        match database {
            Database::Sqlite(path) => Store::connect_sqlite(path),
            Database::Postgres(url) => Store::connect_postgres(url),
        }
    }

    fn connect_sqlite(path: &Path) -> Result<Store, StoreError> {
        // SQLite only says "unable to open database file"; say why.
        if path.exists()
            && let Err(source) = std::fs::OpenOptions::new().append(true).open(path)
        {
            return Err(StoreError::NotWritable { path: path.display().to_string(), source });
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).ctx(&format!("cannot open database {}", path.display()))?;
        configure_sqlite(&conn).ctx(&format!("cannot set up database {}", path.display()))?;
        Ok(Store {
            db: Db::Sqlite(conn),
            features: crate::stories::FeatureCache::default(),
            shown: path.display().to_string(),
        })
    }

    fn connect_postgres(url: &str) -> Result<Store, StoreError> {
        let shown = crate::config::redact_database_url(url);
        let client = pg::connect(url, &shown)?;
        Ok(Store {
            db: Db::Postgres(Box::new(std::cell::RefCell::new(db::PgConn::new(client, Some(url.to_string()))))),
            features: crate::stories::FeatureCache::default(),
            shown,
        })
    }

    /// Which engine.
    pub fn engine(&self) -> &'static str {
        match self.db.dialect() {
            Dialect::Sqlite => "sqlite",
            Dialect::Postgres => "postgresql",
        }
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let shown = &self.shown;
        let at = |what: &str| format!("{what} ({shown})");
        let tx = self.db.transaction(true).ctx(&at("cannot start migration"))?;
        let migrations = match tx.dialect() {
            Dialect::Sqlite => schema::MIGRATIONS,
            Dialect::Postgres => {
                tx.query_row("SELECT pg_advisory_xact_lock(?1)::TEXT", db::p![PG_MIGRATION_LOCK], |_| Ok(()))
                    .ctx(&at("cannot lock the schema"))?;
                tx.batch("CREATE TABLE IF NOT EXISTS polyfeed_schema (version BIGINT NOT NULL)")
                    .ctx(&at("cannot create the schema version table"))?;
                schema::PG_MIGRATIONS
            }
        };
        let version = read_version(&tx).ctx(&at("cannot read schema version"))?;
        if version > migrations.len() {
            return Err(StoreError::TooNew { database: shown.clone(), found: version, known: migrations.len() });
        }
        for (i, sql) in migrations.iter().enumerate().skip(version) {
            tx.batch(sql).ctx(&at(&format!("migration {} failed", i + 1)))?;
            write_version(&tx, i + 1).ctx(&at("cannot bump schema version"))?;
        }
        tx.commit().ctx(&at("cannot commit migration"))
    }

    /// Runs `f` in one read-only transaction, so that everything it reads
    /// through this store is one snapshot of the database: a poll that
    /// commits meanwhile (another process, another node) is seen entirely
    /// or not at all (SQLite: a read transaction in WAL mode; PostgreSQL:
    /// REPEATABLE READ). `f` must not write. On SQLite it also spares each
    /// statement its own implicit transaction (its locks and checks of the
    /// write-ahead log).
    pub fn read_snapshot<T, E: From<StoreError>>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let tx = self.db.snapshot().ctx("cannot start reading")?;
        let out = f()?;
        tx.commit().ctx("cannot finish reading")?;
        Ok(out)
    }

    /// `PRAGMA integrity_check` on SQLite (`ok` or the problems found);
    /// PostgreSQL checks its own pages: `ok` once it answers.
    pub fn integrity_check(&self) -> Result<String, StoreError> {
        match &self.db {
            Db::Sqlite(_) => self.db.query_row("PRAGMA integrity_check", &[], |r| r.get(0)),
            Db::Postgres(_) => self.db.query_row("SELECT 'ok'::TEXT", &[], |r| r.get(0)),
        }
        .ctx("integrity check failed")
    }

    /// The schema version.
    pub fn schema_version(&self) -> Result<usize, StoreError> {
        read_version(&self.db).ctx("cannot read schema version")
    }
}

/// How long a connection waits for another one's lock.
const SQLITE_BUSY_WAIT: Duration = Duration::from_secs(30);

fn configure_sqlite(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(SQLITE_BUSY_WAIT)?;
    // Turning a new database to WAL needs its exclusive lock. When two
    // processes open a new database at once (two polls started together
    // on a first run), SQLite answers one of them "locked" at once instead
    // of waiting (each would wait for the other). Setting the mode again
    // is harmless: try again, for as long as a lock is waited for.
    let started = std::time::Instant::now();
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(e)
                if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
                    && started.elapsed() < SQLITE_BUSY_WAIT =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            done => break done?,
        }
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // 16 MiB of page cache (SQLite's default is 2): story assignment
    // reads candidates' features, the rest reads through indexes.
    conn.pragma_update(None, "cache_size", -16_384)?;
    // The save path alone uses about 20 statements.
    conn.set_prepared_statement_cache_capacity(64);
    // Plans that do not depend on bound values: without this, binding
    // a `LIMIT ?` (or any value the planner looked at) expires the
    // cached statement, and it is compiled again on every execution.
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    Ok(())
}

fn read_version(db: &Db) -> Result<usize, DbError> {
    let v: Option<i64> = match db.dialect() {
        Dialect::Sqlite => db.query_opt("PRAGMA user_version", &[], |r| r.get(0))?,
        Dialect::Postgres => db.query_opt("SELECT MAX(version) FROM polyfeed_schema", &[], |r| r.get(0))?.flatten(),
    };
    Ok(v.unwrap_or(0).max(0) as usize)
}

fn write_version(db: &Db, version: usize) -> Result<(), DbError> {
    match db.dialect() {
        // PRAGMA takes no parameters.
        Dialect::Sqlite => db.batch(&format!("PRAGMA user_version = {version}")),
        Dialect::Postgres => {
            db.execute("DELETE FROM polyfeed_schema", &[])?;
            db.execute("INSERT INTO polyfeed_schema (version) VALUES (?1)", db::p![version]).map(|_| ())
        }
    }
}

impl Store {
    /// Gives back the memory SQLite's caches of this connection hold (its
    /// pages, `PRAGMA shrink_memory`); what is read next is read from the
    /// file again. A cycle calls it at its end when it stored entries:
    /// assignment filled the cache with pages the publish after it does
    /// not read. Nothing to do on PostgreSQL.
    pub fn shrink_memory(&self) -> Result<(), StoreError> {
        match self.db.dialect() {
            Dialect::Sqlite => self.db.batch("PRAGMA shrink_memory").ctx("cannot shrink the page cache"),
            Dialect::Postgres => Ok(()),
        }
    }

    /// True when some entry has no story yet (an interrupted run left it).
    pub fn has_unassigned(&self) -> Result<bool, StoreError> {
        self.db
            .query_row(
                // Entries are listed there as they are stored, and taken off
                // when assigned (not "ids above the last assigned one": on
                // PostgreSQL a lower id can commit after a higher one).
                "SELECT EXISTS (SELECT 1 FROM story_pending)",
                &[],
                |r| r.get(0),
            )
            .ctx("cannot check story assignment")
    }
}
