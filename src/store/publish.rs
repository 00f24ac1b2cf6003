//! What publishing reads: the sources as `SourceInfo`, the publishing index
//! (`story_index`, schema migration 9: a feed's newest stories by key, read
//! with LIMIT), the index rows of the chosen stories (for their tags), and
//! full stories for the few that make it into a feed.
//!
//! The index is kept by triggers that mark changed stories in `story_dirty`
//! and by [`Store::refresh_story_index`], which recomputes those stories
//! from `story_entries`, `entries` and `entry_categories` before any read.
//! [`Store::publish_index`] computes the same rows for every story from
//! those tables (the reference the index is checked against; it reads
//! everything).

use super::db::{Context, Dialect, p};
use super::{Store, StoreError, parse_ts};
use crate::story::{SourceInfo, SourceStatus, Story, Version};
use chrono::{DateTime, Utc};

/// One story in the publishing index.
#[derive(Debug, Clone)]
pub struct IndexRow {
    /// The story id.
    pub story_id: String,
    /// Its earliest publication time.
    pub published: DateTime<Utc>,
    /// Sources of its entries.
    pub source_ids: Vec<i64>,
    /// Category terms of its entries.
    pub categories: Vec<String>,
}

impl Store {
    /// Every source, configured or not (their entries stay published).
    pub fn source_infos(&self) -> Result<Vec<SourceInfo>, StoreError> {
        self.db
            .query_map(
                "SELECT id, key, url, COALESCE(name, feed_title), feed_link, COALESCE(lang, feed_lang), tags, grp,
                        last_fetch_at, last_outcome, last_status, error_count, next_due_at, gone, in_config
                 FROM sources ORDER BY id",
                &[],
                |r| {
                    let tags: String = r.get(6)?;
                    Ok(SourceInfo {
                        id: r.get(0)?,
                        key: r.get(1)?,
                        url: r.get(2)?,
                        name: r.get(3)?,
                        home: r.get(4)?,
                        lang: r.get(5)?,
                        tags: serde_json::from_str(&tags).unwrap_or_default(),
                        group: r.get(7)?,
                        status: SourceStatus {
                            last_fetch: r.get::<Option<String>>(8)?.as_deref().and_then(parse_ts),
                            outcome: r.get(9)?,
                            http_status: r.get(10)?,
                            error_count: r.get(11)?,
                            next_due: r.get::<Option<String>>(12)?.as_deref().and_then(parse_ts),
                            gone: r.get(13)?,
                            in_config: r.get(14)?,
                        },
                    })
                },
            )
            .ctx("cannot read sources")
    }

    /// Every story's id, date, sources and categories, newest first (ties by
    /// id), computed from the stored entries: it reads every story. The
    /// reference for `story_index` (tests compare the two); publishing
    /// reads the index instead.
    pub fn publish_index(&self) -> Result<Vec<IndexRow>, StoreError> {
        // The lists are sorted here: neither engine promises an order
        // inside an aggregate. Category terms are joined with the unit
        // separator (U+001F), which no term holds (a comma may: "Research,
        // development" is one category).
        let sql = match self.db.dialect() {
            Dialect::Sqlite => {
                "SELECT se.story_id, MIN(e.published_at) AS p, group_concat(DISTINCT e.source_id),
                        (SELECT group_concat(term, char(31)) FROM (SELECT DISTINCT c.term FROM story_entries s2
                           JOIN entry_categories c ON c.entry_id = s2.entry_id WHERE s2.story_id = se.story_id))
                 FROM story_entries se JOIN entries e ON e.id = se.entry_id
                 GROUP BY se.story_id ORDER BY p DESC, se.story_id"
            }
            Dialect::Postgres => {
                "SELECT se.story_id, MIN(e.published_at) AS p, string_agg(DISTINCT e.source_id::TEXT, ','),
                        (SELECT string_agg(DISTINCT c.term, chr(31)) FROM story_entries s2
                           JOIN entry_categories c ON c.entry_id = s2.entry_id WHERE s2.story_id = se.story_id)
                 FROM story_entries se JOIN entries e ON e.id = se.entry_id
                 GROUP BY se.story_id ORDER BY p DESC, se.story_id"
            }
        };
        self.db
            .query_map(sql, &[], |r| {
                let published: String = r.get(1)?;
                let sources: String = r.get(2)?;
                let cats: Option<String> = r.get(3)?;
                let mut source_ids: Vec<i64> = sources.split(',').filter_map(|s| s.parse().ok()).collect();
                source_ids.sort_unstable();
                let mut categories: Vec<String> =
                    cats.map(|c| c.split('\u{1f}').map(str::to_string).collect()).unwrap_or_default();
                categories.sort_unstable();
                Ok(IndexRow {
                    story_id: r.get(0)?,
                    published: parse_ts(&published).unwrap_or_default(),
                    source_ids,
                    categories,
                })
            })
            .ctx("cannot read the story index")
    }

    /// Brings `story_index` up to date: recomputes the rows of every story
    /// marked in `story_dirty` (by the triggers of migration 9, or all of
    /// them right after it) and clears the marks, in one transaction. Cheap
    /// when nothing is marked. On PostgreSQL the marks table is locked for
    /// the transaction (writers that mark a story wait, then mark it again
    /// for the next refresh), so no mark is cleared that was not recomputed
    /// from committed rows.
    pub fn refresh_story_index(&self) -> Result<u64, StoreError> {
        // Never inside `read_snapshot` (a write; and a nested BEGIN fails),
        // which the early return below would hide whenever nothing is marked.
        debug_assert!(!self.db.in_transaction(), "refresh_story_index inside a transaction");
        if !self.story_index_stale()? {
            return Ok(0);
        }
        let tx = self.db.transaction(true).ctx("cannot start the story index refresh")?;
        if tx.dialect() == Dialect::Postgres {
            tx.batch("LOCK TABLE story_dirty IN EXCLUSIVE MODE").ctx("cannot lock the story index marks")?;
        }
        const MARKED: &str = "(SELECT story_id FROM story_dirty)";
        let at = "cannot refresh the story index";
        tx.execute(&format!("DELETE FROM story_index WHERE story_id IN {MARKED}"), &[]).ctx(at)?;
        let n = tx
            .execute(
                &format!(
                    "INSERT INTO story_index (story_id, key, published)
                     SELECT se.story_id, '', MIN(e.published_at) FROM story_entries se JOIN entries e ON e.id = se.entry_id
                     WHERE se.story_id IN {MARKED} GROUP BY se.story_id"
                ),
                &[],
            )
            .ctx(at)?;
        tx.execute(
            &format!(
                "INSERT INTO story_index (story_id, key, published)
                 SELECT DISTINCT i.story_id, 's:' || e.source_id, i.published
                 FROM story_index i JOIN story_entries se ON se.story_id = i.story_id JOIN entries e ON e.id = se.entry_id
                 WHERE i.key = '' AND i.story_id IN {MARKED}"
            ),
            &[],
        )
        .ctx(at)?;
        tx.execute(
            &format!(
                "INSERT INTO story_index (story_id, key, published)
                 SELECT DISTINCT i.story_id, 'c:' || c.term, i.published
                 FROM story_index i JOIN story_entries se ON se.story_id = i.story_id
                   JOIN entry_categories c ON c.entry_id = se.entry_id
                 WHERE i.key = '' AND i.story_id IN {MARKED}"
            ),
            &[],
        )
        .ctx(at)?;
        tx.execute("DELETE FROM story_dirty", &[]).ctx(at)?;
        tx.commit().ctx("cannot commit the story index refresh")?;
        Ok(n)
    }

    /// Whether stories were marked changed since the publishing index was
    /// last refreshed (inside [`Store::read_snapshot`]: as the snapshot
    /// sees it).
    pub fn story_index_stale(&self) -> Result<bool, StoreError> {
        self.db
            .query_row("SELECT EXISTS (SELECT 1 FROM story_dirty)", &[], |r| r.get(0))
            .ctx("cannot read the story index marks")
    }

    /// Every key of the publishing index, sorted (byte-wise): `''`, then
    /// `c:TERM` and `s:SOURCE_ID`. Reads the index as it is: callers
    /// refresh it first ([`Store::refresh_story_index`], a write, so never
    /// inside [`Store::read_snapshot`]). One index seek per key (a loose
    /// index scan), not a scan of the rows.
    pub fn story_index_keys(&self) -> Result<Vec<String>, StoreError> {
        self.db
            .query_map(
                "WITH RECURSIVE k(v) AS (
                     SELECT MIN(key) FROM story_index
                     UNION ALL
                     SELECT (SELECT MIN(key) FROM story_index WHERE key > k.v) FROM k WHERE k.v IS NOT NULL
                 )
                 SELECT v FROM k WHERE v IS NOT NULL",
                &[],
                |r| r.get(0),
            )
            .ctx("cannot read the story index keys")
    }

    /// The newest `limit` stories with this index key (`''`: all), newest
    /// first, ties by id: (first publication time, story id). Reads the
    /// index as it is (see [`Store::story_index_keys`]).
    pub fn newest_stories(&self, key: &str, limit: usize) -> Result<Vec<(String, String)>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.db
            .query_map(
                "SELECT published, story_id FROM story_index WHERE key = ?1
                 ORDER BY published DESC, story_id LIMIT ?2",
                p![key, limit],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ctx("cannot read the story index")
    }

    /// The index rows of these stories, in the order given (stories not
    /// in the index are left out).
    pub fn index_rows(&self, ids: &[String]) -> Result<Vec<IndexRow>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let keys: Vec<(String, String)> = self
                .db
                .query_map("SELECT key, published FROM story_index WHERE story_id = ?1 ORDER BY key", p![id], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .ctx("cannot read the story index")?;
            let Some((_, published)) = keys.iter().find(|(k, _)| k.is_empty()) else { continue };
            let mut row = IndexRow {
                story_id: id.clone(),
                published: parse_ts(published).unwrap_or_default(),
                source_ids: Vec::new(),
                categories: Vec::new(),
            };
            for (key, _) in &keys {
                if let Some(term) = key.strip_prefix("c:") {
                    row.categories.push(term.to_string());
                } else if let Some(id) = key.strip_prefix("s:").and_then(|s| s.parse().ok()) {
                    row.source_ids.push(id);
                }
            }
            row.source_ids.sort_unstable();
            row.categories.sort_unstable();
            out.push(row);
        }
        Ok(out)
    }

    /// The stories with these ids: versions in the order they joined, then
    /// same-language duplicates.
    pub fn stories(&self, ids: &[String], sources: &[SourceInfo]) -> Result<Vec<Story>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        // `source_infos` lists sources by id: found by bisection (a story
        // list of a database with 10,000 sources looked each version's
        // source up one by one).
        let sorted = sources.is_sorted_by_key(|s| s.id);
        let source = |id: i64| {
            if sorted {
                sources.binary_search_by_key(&id, |s| s.id).ok().map(|at| &sources[at])
            } else {
                sources.iter().find(|s| s.id == id)
            }
        };
        for id in ids {
            let rows: Vec<(i64, String)> = self
                .db
                .query_map(
                    "SELECT se.entry_id, se.role FROM story_entries se JOIN entries e ON e.id = se.entry_id WHERE se.story_id = ?1
                     ORDER BY se.role DESC, se.joined_at, e.published_at, se.lang, se.entry_id",
                    p![id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .ctx("cannot read stories")?;
            let entry_ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
            let mut loaded = self.entries_by_id(&entry_ids)?;
            let mut story = Story { id: id.clone(), versions: Vec::new(), duplicates: Vec::new() };
            for (entry_id, role) in rows {
                let Some(pos) = loaded.iter().position(|r| r.id == entry_id) else { continue };
                let row = loaded.swap_remove(pos);
                let Some(src) = source(row.source_id) else { continue };
                let v = Version { entry_id, source_id: row.source_id, source_key: src.key.clone(), entry: row.entry };
                if role == "duplicate" { story.duplicates.push(v) } else { story.versions.push(v) }
            }
            if !story.versions.is_empty() {
                out.push(story);
            }
        }
        Ok(out)
    }

    /// A number that changes whenever a fetch was recorded (for `serve` to
    /// notice a `poll` from another process).
    pub fn change_marker(&self) -> Result<i64, StoreError> {
        self.db
            .query_row("SELECT COALESCE(MAX(id), 0) + (SELECT COUNT(*) FROM sources) FROM fetches", &[], |r| r.get(0))
            .ctx("cannot read the change marker")
    }
}
