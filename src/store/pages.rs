//! `follow_pages` in the store: which entries' own pages still need their
//! one fetch, and what each fetch found (status, validators, the page's
//! `<link rel="alternate" hreflang>` links). Links found are added to the
//! entry's explicit alternates, so assignment sees them, and an entry that
//! already has a story is queued for a recheck (a late link merges).

use super::db::{Context, Value, p};
use super::{Store, StoreError, features, ts};
use crate::stories::add_links;
use chrono::{DateTime, Utc};

/// Failed page fetches are retried in later cycles up to this many attempts.
const MAX_ATTEMPTS: i64 = 3;

/// A page to fetch.
#[derive(Debug, Clone)]
pub struct PageTodo {
    /// The entry.
    pub entry_id: i64,
    /// Its URL.
    pub url: String,
    /// The URL (key) of the source it came from.
    pub source: String,
}

/// What fetching an entry's page gave.
#[derive(Debug, Clone, Default)]
pub struct PageResult {
    /// The entry.
    pub entry_id: i64,
    /// The URL fetched.
    pub url: String,
    /// HTTP status, when a response came.
    pub status: Option<u16>,
    /// Validators of the response.
    pub etag: Option<String>,
    /// `Last-Modified` of the response.
    pub last_modified: Option<String>,
    /// `(hreflang, absolute href)` of the page's alternate links.
    pub links: Vec<(String, String)>,
    /// Why it failed.
    pub error: Option<String>,
}

impl Store {
    /// Entries of these sources whose page was never fetched (or failed
    /// fewer than 3 times), newest first, at most `limit`.
    pub fn pages_to_fetch(&self, source_keys: &[String], limit: usize) -> Result<Vec<PageTodo>, StoreError> {
        if source_keys.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let marks = vec!["?"; source_keys.len()].join(",");
        let sql = format!(
            "SELECT e.id, e.url, s.key FROM entries e JOIN sources s ON s.id = e.source_id
             LEFT JOIN entry_pages p ON p.entry_id = e.id
             WHERE s.key IN ({marks}) AND (lower(e.url) LIKE 'http://%' OR lower(e.url) LIKE 'https://%')
               AND (p.entry_id IS NULL OR (p.error IS NOT NULL AND p.attempts < {MAX_ATTEMPTS}))
             ORDER BY e.published_at DESC, e.id DESC LIMIT {limit}"
        );
        // SQLite's LIKE ignores ASCII case, PostgreSQL's does not: lower() says it for both.
        let params: Vec<Value> = source_keys.iter().map(|k| Value::Text(k.clone())).collect();
        self.db
            .query_map(&sql, &params, |r| Ok(PageTodo { entry_id: r.get(0)?, url: r.get(1)?, source: r.get(2)? }))
            .ctx("cannot find pages to fetch")
    }

    /// Stores page fetches in one transaction; returns how many entries
    /// gained alternate links.
    pub fn save_pages(&mut self, results: &[PageResult], now: DateTime<Utc>) -> Result<u64, StoreError> {
        let tx = self.db.transaction(true).ctx("cannot start saving pages")?;
        let mut gained = 0;
        for r in results {
            let links = serde_json::to_string(&r.links).unwrap_or_else(|_| "[]".into());
            tx.execute(
                "INSERT INTO entry_pages (entry_id, url, fetched_at, attempts, status, etag, last_modified, links, error)
                 VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (entry_id) DO UPDATE SET url = ?2, fetched_at = ?3, attempts = entry_pages.attempts + 1,
                    status = ?4, etag = COALESCE(?5, entry_pages.etag),
                    last_modified = COALESCE(?6, entry_pages.last_modified),
                    links = CASE WHEN CAST(?8 AS TEXT) IS NULL THEN ?7 ELSE entry_pages.links END, error = ?8",
                p![r.entry_id, r.url, ts(now), r.status, r.etag, r.last_modified, links, r.error],
            )
            .ctx("cannot store page")?;
            if r.links.is_empty() {
                continue;
            }
            let Some(f) = features::load(&tx, &mut self.features, r.entry_id)? else { continue };
            let mut f = (*f).clone();
            if add_links(&mut f, r.links.iter().map(|(_, h)| h.as_str())) {
                features::store(&tx, &mut self.features, r.entry_id, f)?;
                features::queue_recheck(&tx, r.entry_id)?;
                gained += 1;
            }
        }
        tx.commit().ctx("cannot commit pages")?;
        Ok(gained)
    }
}
