//! Sources and their fetch state: syncing from the config, recording each
//! fetch (which releases the source's claim: claims are `leases`'), and the
//! rows `polyfeed sources` shows.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::db::{Context, Db, p};
use super::{Store, StoreError, parse_ts, ts};
use crate::config::SourceConfig;

/// The lock that writes to several source rows take on PostgreSQL
/// (`pg_advisory_xact_lock`): claims, lease renewals and releases, syncs.
/// Without it two such transactions could lock rows in different orders and
/// deadlock; a fetch's save locks one row and needs no turn (a group of
/// fetches recorded together takes it).
const PG_SOURCES_LOCK: i64 = 0x706f_6c79_636c_6169; // "polyclai"

/// Takes the sources lock inside `tx` (PostgreSQL; SQLite's IMMEDIATE
/// transaction already serialises writers).
pub(super) fn lock_sources(tx: &Db) -> Result<(), StoreError> {
    tx.turn(PG_SOURCES_LOCK).ctx("cannot lock sources")
}

/// A source claimed for one fetch.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// Row id.
    pub id: i64,
    /// The configured URL (key).
    pub key: String,
    /// Where to fetch now (differs from `key` after a permanent redirect).
    pub url: String,
    /// Stored `ETag`.
    pub etag: Option<String>,
    /// Stored `Last-Modified`.
    pub last_modified: Option<String>,
    /// Consecutive failures so far.
    pub error_count: u32,
    /// When the previous fetch started (any outcome).
    pub last_fetch_at: Option<DateTime<Utc>>,
    /// Whether a fetch ever succeeded (what its validators say is known).
    pub ever_ok: bool,
    /// The feed's scheduling hints from its last parsed body.
    pub hints: FeedHints,
}

/// A feed's own scheduling hints, stored with its source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct FeedHints {
    /// RSS `<ttl>`, minutes.
    pub ttl_minutes: Option<u32>,
    /// skipHours, skipDays, sy:updatePeriod.
    #[serde(flatten)]
    pub schedule: crate::model::ScheduleHints,
}

/// How a fetch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A body was fetched and parsed.
    Ok,
    /// 304, or a body identical to the last one.
    NotModified,
    /// Network, HTTP or parse failure.
    Failed,
}

impl Outcome {
    /// The stored name: `ok`, `not_modified`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::NotModified => "not_modified",
            Outcome::Failed => "failed",
        }
    }
}

/// Everything learned from one fetch of one source.
#[derive(Debug, Clone)]
pub struct FetchRecord {
    /// When the request started.
    pub started_at: DateTime<Utc>,
    /// How long it took.
    pub duration_ms: u64,
    /// The URL requested.
    pub url: String,
    /// Final HTTP status, if a response came.
    pub status: Option<u16>,
    /// How it ended.
    pub outcome: Outcome,
    /// The error, when failed.
    pub error: Option<String>,
    /// New validators (`None`: keep the stored ones).
    pub validators: Option<(Option<String>, Option<String>)>,
    /// Set after a permanent redirect: fetch here from now on.
    pub moved_to: Option<String>,
    /// A moved source whose new location answered with a web page: fetch
    /// the subscribed URL again (earlier versions moved sources to pages).
    pub move_back: bool,
    /// 410 Gone: stop polling.
    pub gone: bool,
    /// When to poll next, and why.
    pub next_due: (DateTime<Utc>, String),
    /// Bytes read from the network.
    pub bytes: u64,
    /// Feed-level facts, when parsed.
    pub feed: Option<FeedMeta>,
    /// Repairs made while reading it.
    pub warnings: Vec<String>,
}

/// Feed-level facts of a parsed document.
#[derive(Debug, Clone, Default)]
pub struct FeedMeta {
    /// The feed's title.
    pub title: Option<String>,
    /// The feed's language, normalised.
    pub lang: Option<String>,
    /// `rss0`, `rss1`, `rss2`, `atom`, `json`.
    pub format: String,
    /// The feed's home page.
    pub link: Option<String>,
    /// Its scheduling hints.
    pub hints: FeedHints,
}

/// One row of `polyfeed sources`.
#[derive(Debug, Clone, Serialize)]
pub struct SourceRow {
    /// Row id.
    pub id: i64,
    /// Display name (configured, else the feed's title).
    pub name: Option<String>,
    /// The configured URL.
    pub url: String,
    /// Where it is fetched now, when a permanent redirect moved it.
    pub moved_to: Option<String>,
    /// Configured language, else the feed's.
    pub lang: Option<String>,
    /// Publisher group.
    pub group: Option<String>,
    /// Feed format seen last (`rss2`, `atom`, `json`, ...).
    pub format: Option<String>,
    /// Last HTTP status.
    pub last_status: Option<u16>,
    /// Last outcome: `ok`, `not_modified`, `failed`.
    pub last_outcome: Option<String>,
    /// When it was last fetched.
    pub last_fetch_at: Option<String>,
    /// When it last succeeded.
    pub last_ok_at: Option<String>,
    /// Entries stored.
    pub entries: u64,
    /// Consecutive failures.
    pub error_count: u32,
    /// The back-off step the source is on: the number of consecutive
    /// failures that set its next due time (0: not backing off; a source
    /// that is gone is not polled at all).
    pub backoff_step: u32,
    /// The last error.
    pub last_error: Option<String>,
    /// Repairs made on the last successful read.
    pub warnings: Vec<String>,
    /// Next due time (`null`: due now).
    pub next_due_at: Option<String>,
    /// Why it is due then.
    pub due_reason: Option<String>,
    /// 410 Gone: no longer polled.
    pub gone: bool,
    /// Still listed in feeds.toml.
    pub in_config: bool,
    /// The node polling it now (its lease is live), if any.
    pub leased_by: Option<String>,
}

impl Store {
    /// Makes the sources table match the config: adds new sources, updates
    /// names, languages, groups and tags, and marks removed ones (their
    /// entries stay). Writes only the rows that change (usually none), in
    /// id order and taking turns with claims, so that nodes starting
    /// together, or syncing while others claim, never deadlock.
    pub fn sync_sources(&mut self, sources: &[SourceConfig], now: DateTime<Utc>) -> Result<(), StoreError> {
        type Row = (i64, Option<String>, Option<String>, Option<String>, String, bool);
        let tx = self.db.transaction(true).ctx("cannot start source sync")?;
        lock_sources(&tx)?;
        let stored: std::collections::HashMap<String, Row> = tx
            .query_map("SELECT key, id, name, lang, grp, tags, in_config FROM sources", &[], |r| {
                Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)))
            })
            .ctx("cannot sync sources")?
            .into_iter()
            .collect();
        let mut updates: Vec<(i64, &SourceConfig, String)> = Vec::new();
        let mut inserts = Vec::new();
        for s in sources {
            let tags = serde_json::to_string(&s.tags).unwrap_or_else(|_| "[]".into());
            match stored.get(&s.key) {
                None => inserts.push((s, tags)),
                Some((id, name, lang, group, stored_tags, in_config)) => {
                    if !in_config || *name != s.name || *lang != s.lang || *group != s.group || *stored_tags != tags {
                        updates.push((*id, s, tags));
                    }
                }
            }
        }
        let wanted: std::collections::HashSet<&str> = sources.iter().map(|s| s.key.as_str()).collect();
        let mut removed: Vec<i64> =
            stored.iter().filter(|(k, r)| r.5 && !wanted.contains(k.as_str())).map(|(_, r)| r.0).collect();
        removed.sort_unstable();
        updates.sort_by_key(|u| u.0);
        updates.dedup_by_key(|u| u.0);
        for id in removed {
            tx.execute("UPDATE sources SET in_config = 0 WHERE id = ?1", p![id]).ctx("cannot sync sources")?;
        }
        for (id, s, tags) in updates {
            tx.execute(
                "UPDATE sources SET name = ?2, lang = ?3, grp = ?4, tags = ?5, in_config = 1 WHERE id = ?1",
                p![id, s.name, s.lang, s.group, tags],
            )
            .ctx(&format!("cannot store source {}", s.key))?;
        }
        // New sources in config order: ids follow first appearance.
        for (s, tags) in inserts {
            tx.execute(
                "INSERT INTO sources (key, url, name, lang, grp, tags, in_config, created_at)
                 VALUES (?1, ?1, ?2, ?3, ?4, ?5, 1, ?6)
                 ON CONFLICT (key) DO UPDATE SET name = ?2, lang = ?3, grp = ?4, tags = ?5, in_config = 1",
                p![s.key, s.name, s.lang, s.group, tags, ts(now)],
            )
            .ctx(&format!("cannot store source {}", s.key))?;
        }
        tx.commit().ctx("cannot commit source sync")
    }

    /// Every source, in configuration order of first appearance.
    pub fn source_rows(&self) -> Result<Vec<SourceRow>, StoreError> {
        let now = crate::clock::now();
        self.db
            .query_map(
                "SELECT s.id, COALESCE(s.name, s.feed_title), s.key, s.moved_to,
                        COALESCE(s.lang, s.feed_lang, (SELECT e.lang FROM entries e WHERE e.source_id = s.id AND e.lang IS NOT NULL
                                                       GROUP BY e.lang ORDER BY COUNT(*) DESC, e.lang LIMIT 1)),
                        s.grp,
                        s.feed_format, s.last_status, s.last_outcome, s.last_fetch_at, s.last_ok_at,
                        (SELECT COUNT(*) FROM entries e WHERE e.source_id = s.id),
                        s.error_count, s.last_error, s.warnings, s.next_due_at, s.due_reason, s.gone, s.in_config,
                        s.claim_token, s.claimed_until
                 FROM sources s ORDER BY s.in_config DESC, s.id",
                &[],
                |r| {
                let warnings: String = r.get(14)?;
                Ok(SourceRow {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    url: r.get(2)?,
                    moved_to: r.get(3)?,
                    lang: r.get(4)?,
                    group: r.get(5)?,
                    format: r.get(6)?,
                    last_status: r.get(7)?,
                    last_outcome: r.get(8)?,
                    last_fetch_at: r.get(9)?,
                    last_ok_at: r.get(10)?,
                    entries: r.get(11)?,
                    error_count: r.get(12)?,
                    backoff_step: if r.get::<bool>(17)? { 0 } else { r.get(12)? },
                    last_error: r.get(13)?,
                    warnings: serde_json::from_str(&warnings).unwrap_or_default(),
                    next_due_at: r.get(15)?,
                    due_reason: r.get(16)?,
                    gone: r.get(17)?,
                    in_config: r.get(18)?,
                    leased_by: match (r.get::<Option<String>>(19)?, r.get::<Option<String>>(20)?) {
                        (Some(token), Some(until)) if parse_ts(&until).is_some_and(|u| u > now) => {
                            Some(crate::node::holder_name(&token).to_string())
                        }
                        _ => None,
                    },
                })
                },
            )
            .ctx("cannot list sources")
    }

    /// The next due time over all pollable sources (`None` if none is scheduled).
    pub fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let s: Option<String> = self
            .db
            .query_opt("SELECT MIN(next_due_at) FROM sources WHERE in_config = 1 AND gone = 0", &[], |r| r.get(0))
            .ctx("cannot read due times")?
            .flatten();
        Ok(s.as_deref().and_then(parse_ts))
    }
}

/// Writes a fetch's effect on its source row and the fetch log, inside the
/// caller's transaction, and releases the claim.
pub(super) fn record(tx: &Db, source_id: i64, f: &FetchRecord, new: u64, updated: u64) -> Result<(), StoreError> {
    let failed = f.outcome == Outcome::Failed;
    let (etag, lm, keep) = match &f.validators {
        Some((e, l)) => (e.clone(), l.clone(), false),
        None => (None, None, true),
    };
    tx.execute(
        "UPDATE sources SET
            last_status = ?2, last_outcome = ?3, last_fetch_at = ?4,
            last_ok_at = CASE WHEN ?5 THEN last_ok_at ELSE ?4 END,
            error_count = CASE WHEN ?5 THEN error_count + 1 ELSE 0 END,
            last_error = CASE WHEN ?5 THEN ?6 ELSE NULL END,
            etag = CASE WHEN ?7 THEN etag ELSE ?8 END,
            last_modified = CASE WHEN ?7 THEN last_modified ELSE ?9 END,
            moved_to = CASE WHEN ?20 THEN NULL ELSE COALESCE(?10, moved_to) END,
            url = CASE WHEN ?20 THEN key ELSE COALESCE(?10, url) END,
            gone = ?11,
            next_due_at = ?12, due_reason = ?13,
            feed_title = COALESCE(?14, feed_title), feed_lang = COALESCE(?15, feed_lang), feed_format = COALESCE(?16, feed_format), feed_link = COALESCE(?18, feed_link), feed_hints = COALESCE(?19, feed_hints),
            warnings = COALESCE(?17, warnings),
            claimed_until = NULL, claim_token = NULL
         WHERE id = ?1",
        p![
            source_id,
            f.status,
            f.outcome.as_str(),
            ts(f.started_at),
            failed,
            f.error,
            keep,
            etag,
            lm,
            f.moved_to,
            f.gone,
            ts(f.next_due.0),
            f.next_due.1,
            f.feed.as_ref().and_then(|x| x.title.clone()),
            f.feed.as_ref().and_then(|x| x.lang.clone()),
            f.feed.as_ref().map(|x| x.format.clone()),
            (f.outcome == Outcome::Ok).then(|| serde_json::to_string(&f.warnings).unwrap_or_default()),
            f.feed.as_ref().and_then(|x| x.link.clone()),
            f.feed.as_ref().map(|x| serde_json::to_string(&x.hints).unwrap_or_default()),
            f.move_back,
        ],
    )
    .ctx("cannot update source state")?;
    tx.execute(
        "INSERT INTO fetches (source_id, started_at, duration_ms, url, status, outcome, bytes, entries_new, entries_updated, error, etag, last_modified, node)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        p![source_id, ts(f.started_at), f.duration_ms, f.url, f.status, f.outcome.as_str(), f.bytes, new, updated, f.error, etag, lm, crate::node::name()],
    )
    .ctx("cannot log fetch")?;
    Ok(())
}
