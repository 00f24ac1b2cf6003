//! Throwaway PostgreSQL databases for tests: [`ScratchDatabase::create`]
//! makes a database with a fresh name in the server that
//! `POLYFEED_TEST_DATABASE` points at (`scripts/test` starts one) and
//! drops it again when the value is dropped. Not used by polyfeed itself.

use std::sync::atomic::{AtomicU32, Ordering};

use super::StoreError;
use super::db::{Context, Db, PgConn};

/// The environment variable naming the test server (a `postgres://` URL
/// of a user that may create databases).
pub const ENV: &str = "POLYFEED_TEST_DATABASE";

/// A database that exists until this is dropped.
pub struct ScratchDatabase {
    admin: String,
    name: String,
    url: String,
}

impl ScratchDatabase {
    /// A new empty database, or `None` when `POLYFEED_TEST_DATABASE` is
    /// unset (the caller skips, saying so).
    pub fn create() -> Option<Result<ScratchDatabase, StoreError>> {
        let admin = std::env::var(ENV).ok().filter(|v| !v.is_empty())?;
        Some(ScratchDatabase::create_in(&admin))
    }

    fn create_in(admin: &str) -> Result<ScratchDatabase, StoreError> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let name =
            format!("polyfeed_test_{}_{}_{}", std::process::id(), nanos, COUNTER.fetch_add(1, Ordering::Relaxed));
        let mut url = url::Url::parse(admin).map_err(|e| StoreError::Connect {
            database: crate::config::redact_database_url(admin),
            why: e.to_string(),
        })?;
        url.set_path(&format!("/{name}"));
        let db = admin_db(admin)?;
        db.batch(&format!("CREATE DATABASE {name}")).ctx("cannot create a test database")?;
        Ok(ScratchDatabase { admin: admin.to_string(), name, url: url.to_string() })
    }

    /// Its URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

fn admin_db(admin: &str) -> Result<Db, StoreError> {
    let shown = crate::config::redact_database_url(admin);
    let client = super::pg::connect(admin, &shown)?;
    Ok(Db::Postgres(Box::new(std::cell::RefCell::new(PgConn::new(client, None)))))
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        if let Ok(db) = admin_db(&self.admin) {
            let _ = db.batch(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}
