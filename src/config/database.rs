//! Which database a config names: a file path (SQLite, the default) or a
//! `postgres://` / `postgresql://` URL (PostgreSQL). `POLYFEED_DATABASE`
//! overrides `[settings] database`, so a password need not sit in
//! feeds.toml. The URL is never shown whole: [`Database`]'s `Display`
//! names the host and the database only.

use std::fmt;
use std::path::{Path, PathBuf};

/// The environment variable that overrides `[settings] database`.
pub const ENV: &str = "POLYFEED_DATABASE";

/// The store's database.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// An SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (may hold a password: never print it).
    Postgres(String),
}

impl Database {
    /// Reads a configured value: a PostgreSQL URL, else a path relative to
    /// `base` (the config file's folder).
    pub fn parse(value: &str, base: &Path) -> Database {
        if is_postgres_url(value) { Database::Postgres(value.to_string()) } else { Database::Sqlite(base.join(value)) }
    }

    /// The database to use: `POLYFEED_DATABASE` when set (relative paths
    /// taken from the working directory), else the configured value.
    pub fn resolve(configured: Option<&str>, base: &Path) -> Database {
        match std::env::var(ENV) {
            Ok(v) if !v.trim().is_empty() => Database::parse(v.trim(), Path::new("")),
            _ => Database::parse(configured.unwrap_or("polyfeed.db"), base),
        }
    }

    /// True when it may hold data already: an SQLite file that exists, or
    /// any PostgreSQL database (asking would mean connecting).
    pub fn may_exist(&self) -> bool {
        match self {
            Database::Sqlite(p) => p.exists(),
            Database::Postgres(_) => true,
        }
    }

    /// The SQLite file, if it is one.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            Database::Sqlite(p) => Some(p),
            Database::Postgres(_) => None,
        }
    }
}

/// True for `postgres://` and `postgresql://` URLs (any case).
pub fn is_postgres_url(s: &str) -> bool {
    let lower = s.get(..13).unwrap_or(s).to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// A URL's host, port and database, for messages: `host:port/db`, without
/// the user's password (or anything after the path).
pub fn redact(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    // user:password@ goes first, up to the last '@' anywhere: a password
    // written without percent-encoding may hold '/', '?' or '#'.
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = if host.is_empty() { "localhost" } else { host };
    if path.is_empty() { format!("postgresql://{host}") } else { format!("postgresql://{host}/{path}") }
}

impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(p) => write!(f, "{}", p.display()),
            Database::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(p) => f.debug_tuple("Sqlite").field(p).finish(),
            Database::Postgres(url) => f.debug_tuple("Postgres").field(&redact(url)).finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_paths() {
        assert_eq!(Database::parse("state/p.db", Path::new("/etc")), Database::Sqlite("/etc/state/p.db".into()));
        assert!(matches!(Database::parse("postgres://h/db", Path::new("/etc")), Database::Postgres(_)));
        assert!(matches!(Database::parse("PostgreSQL://h/db", Path::new("/etc")), Database::Postgres(_)));
        assert!(matches!(Database::parse("postgres.db", Path::new("/etc")), Database::Sqlite(_)));
    }

    #[test]
    fn redaction_drops_the_password() {
        let d = Database::parse("postgres://feeds:s3cret@db.example:5433/polyfeed?sslmode=require", Path::new(""));
        assert_eq!(d.to_string(), "postgresql://db.example:5433/polyfeed");
        assert!(!format!("{d:?}").contains("s3cret"));
        assert_eq!(redact("postgresql://u:p@w@h/db"), "postgresql://h/db");
        // Passwords written without percent-encoding never show either.
        assert_eq!(redact("postgres://u:pa/ss@h/db"), "postgresql://h/db");
        assert_eq!(redact("postgres://u:pa?ss@h/db"), "postgresql://h/db");
        assert_eq!(redact("postgres://u:pa#ss@h:5433/db?sslmode=require"), "postgresql://h:5433/db");
        assert_eq!(redact("postgres:///db"), "postgresql://localhost/db");
    }
}
