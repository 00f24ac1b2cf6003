//! Read access for `stories` and `explain`: story members with the evidence
//! of each decision, the story log and events, and a source's recent fetches.

use serde::Serialize;

use super::db::{Context, p};
use super::{Store, StoreError};
use crate::dedup::Evidence;

/// One entry of a story, as `explain` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Member {
    /// Entry row id.
    pub entry_id: i64,
    /// `version` or `duplicate`.
    pub role: String,
    /// Primary language.
    pub lang: Option<String>,
    /// Title.
    pub title: String,
    /// URL.
    pub url: Option<String>,
    /// Source name (or URL).
    pub source: String,
    /// Publication time.
    pub published: String,
    /// The entry it was matched with, if it joined an existing story.
    pub matched_entry: Option<i64>,
    /// Why it joined.
    pub evidence: Evidence,
    /// When it joined.
    pub joined_at: String,
}

/// One line of a story's history.
#[derive(Debug, Clone, Serialize)]
pub struct LogLine {
    /// When.
    pub at: String,
    /// `created`, `joined`, `merged`.
    pub action: String,
    /// What happened.
    pub detail: String,
}

/// One recorded merge or split, as `explain` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct StoryEvent {
    /// When.
    pub at: String,
    /// `merge`, `split` or `refused`.
    pub kind: String,
    /// The surviving (merge) or kept (split) story.
    pub story_id: String,
    /// The story merged in, split off, or not merged.
    pub other_id: Option<String>,
    /// The entries that moved.
    pub entries: Vec<i64>,
    /// Why.
    pub reason: String,
}

/// One fetch of a source.
#[derive(Debug, Clone, Serialize)]
pub struct FetchLine {
    /// When it started.
    pub started_at: String,
    /// How long it took, ms.
    pub duration_ms: u64,
    /// The URL requested.
    pub url: String,
    /// HTTP status.
    pub status: Option<u16>,
    /// `ok`, `not_modified`, `failed`.
    pub outcome: String,
    /// Bytes from the network.
    pub bytes: u64,
    /// Entries new and updated.
    pub entries_new: u64,
    /// Entries updated.
    pub entries_updated: u64,
    /// The error, if failed.
    pub error: Option<String>,
    /// ETag received.
    pub etag: Option<String>,
    /// Last-Modified received.
    pub last_modified: Option<String>,
    /// The node that made it (`null` before polyfeed recorded nodes).
    pub node: Option<String>,
}

impl Store {
    /// The entry with this URL, guid or key (newest first if several),
    /// found through indexes: the identity keys every stored entry has
    /// (`u:` folded URL, `g:` guid) and each source's unique entry keys
    /// (one seek per source). Milliseconds at a million entries, where a
    /// scan took half a minute. Entries stored without identity keys (by
    /// versions before the keys existed) are found only by their key, or
    /// by [`Store::find_entry_by_scan`].
    pub fn find_entry(&self, needle: &str) -> Result<Option<i64>, StoreError> {
        let url_key = crate::dedup::fold_url(needle).map(|u| format!("u:{u}"));
        self.db
            .query_opt(
                "SELECT id FROM entries WHERE (url = ?3 OR guid = ?3 OR key = ?3) AND id IN (
                     SELECT entry_id FROM entry_keys WHERE key IN (?1, ?2)
                     UNION ALL
                     SELECT (SELECT e.id FROM entries e WHERE e.source_id = s.id AND e.key = ?3) FROM sources s)
                 ORDER BY published_at DESC, id DESC LIMIT 1",
                p![format!("g:{needle}"), url_key.unwrap_or_default(), needle],
                |r| r.get(0),
            )
            .ctx("cannot find entry")
    }

    /// [`Store::find_entry`] by reading every entry: the last resort, for
    /// entries without identity keys. Slow on a large database.
    pub fn find_entry_by_scan(&self, needle: &str) -> Result<Option<i64>, StoreError> {
        self.db
            .query_opt(
                "SELECT id FROM entries WHERE url = ?1 OR guid = ?1 OR key = ?1 ORDER BY published_at DESC, id DESC LIMIT 1",
                p![needle],
                |r| r.get(0),
            )
            .ctx("cannot find entry")
    }

    /// The story of an entry.
    pub fn story_of_entry(&self, entry_id: i64) -> Result<Option<String>, StoreError> {
        self.db
            .query_opt("SELECT story_id FROM story_entries WHERE entry_id = ?1", p![entry_id], |r| r.get(0))
            .ctx("cannot read story")
    }

    /// A story's entries with the evidence that put each there.
    pub fn story_members(&self, story_id: &str) -> Result<Vec<Member>, StoreError> {
        self.db.query_map("SELECT se.entry_id, se.role, se.lang, e.title, e.url, COALESCE(s.name, s.feed_title, s.key), e.published_at,
                        se.matched_entry, se.evidence, se.joined_at
                 FROM story_entries se JOIN entries e ON e.id = se.entry_id JOIN sources s ON s.id = e.source_id
                 WHERE se.story_id = ?1 ORDER BY se.role DESC, se.joined_at, e.published_at, se.lang, se.entry_id", p![story_id], |r| {
                let ev: String = r.get(8)?;
                Ok(Member {
                    entry_id: r.get(0)?,
                    role: r.get(1)?,
                    lang: r.get(2)?,
                    title: r.get(3)?,
                    url: r.get(4)?,
                    source: r.get(5)?,
                    published: r.get(6)?,
                    matched_entry: r.get(7)?,
                    evidence: serde_json::from_str(&ev).unwrap_or_default(),
                    joined_at: r.get(9)?,
                })
            }).ctx("cannot read story")
    }

    /// A story's history.
    pub fn story_log(&self, story_id: &str) -> Result<Vec<LogLine>, StoreError> {
        self.db
            .query_map("SELECT at, action, detail FROM story_log WHERE story_id = ?1 ORDER BY id", p![story_id], |r| {
                Ok(LogLine { at: r.get(0)?, action: r.get(1)?, detail: r.get(2)? })
            })
            .ctx("cannot read story log")
    }

    /// The merges and splits a story took part in, oldest first.
    pub fn story_events(&self, story_id: &str) -> Result<Vec<StoryEvent>, StoreError> {
        self.db
            .query_map(
                "SELECT at, kind, story_id, other_id, entries, reason FROM story_events
                 WHERE story_id = ?1 OR other_id = ?1 ORDER BY id",
                p![story_id],
                |r| {
                    let entries: String = r.get(4)?;
                    Ok(StoryEvent {
                        at: r.get(0)?,
                        kind: r.get(1)?,
                        story_id: r.get(2)?,
                        other_id: r.get(3)?,
                        entries: serde_json::from_str(&entries).unwrap_or_default(),
                        reason: r.get(5)?,
                    })
                },
            )
            .ctx("cannot read story events")
    }

    /// A source's newest fetches.
    pub fn recent_fetches(&self, source_id: i64, limit: usize) -> Result<Vec<FetchLine>, StoreError> {
        self.db.query_map("SELECT started_at, duration_ms, url, status, outcome, bytes, entries_new, entries_updated, error, etag, last_modified, node
                 FROM fetches WHERE source_id = ?1 ORDER BY id DESC LIMIT ?2", p![source_id, limit], |r| {
                Ok(FetchLine {
                    started_at: r.get(0)?,
                    duration_ms: r.get(1)?,
                    url: r.get(2)?,
                    status: r.get(3)?,
                    outcome: r.get(4)?,
                    bytes: r.get(5)?,
                    entries_new: r.get(6)?,
                    entries_updated: r.get(7)?,
                    error: r.get(8)?,
                    etag: r.get(9)?,
                    last_modified: r.get(10)?,
                    node: r.get(11)?,
                })
            }).ctx("cannot read fetches")
    }
}
