//! `remove --purge`: deleting one source with everything stored for it, in
//! one transaction that leaves the stories consistent: each story that lost
//! entries is repaired by the rules (`stories::repair_after_purge`: deleted
//! when empty, else a duplicate promoted in each language left without a
//! version), so every remaining entry still belongs to exactly one story.

use super::db::{Context, Db, p};
use super::stories::DbStories;
use super::{Store, StoreError};
use crate::stories::{FeatureCache, Repair};

/// What a purge removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PurgeStats {
    /// Entries deleted.
    pub entries: u64,
    /// Stories deleted because no entry was left in them.
    pub stories_deleted: u64,
    /// Duplicates promoted to version because the version was deleted.
    pub promoted: u64,
}

/// Tables keyed by entry id, children first.
const ENTRY_TABLES: &[&str] = &[
    "story_entries",
    "story_pending",
    "story_recheck",
    "entry_pages",
    "entry_keys",
    "entry_features",
    "entry_links",
    "entry_categories",
    "entry_revisions",
];

impl Store {
    /// Deletes the source stored under `key` (its URL as configured), its
    /// entries, their revisions, links, features and story memberships, and
    /// its fetch log. `None` when no such source is stored.
    pub fn purge_source(&mut self, key: &str) -> Result<Option<PurgeStats>, StoreError> {
        let tx = self.db.transaction(true).ctx("cannot start purge")?;
        super::stories::lock_stories(&tx)?;
        let id: Option<i64> =
            tx.query_opt("SELECT id FROM sources WHERE key = ?1", p![key], |r| r.get(0)).ctx("cannot find source")?;
        let Some(id) = id else { return Ok(None) };
        let stats = purge(&tx, &mut self.features, id, key)?;
        tx.commit().ctx("cannot commit purge")?;
        self.features = FeatureCache::default();
        Ok(Some(stats))
    }
}

fn purge(tx: &Db, cache: &mut FeatureCache, source_id: i64, key: &str) -> Result<PurgeStats, StoreError> {
    let mut stats = PurgeStats::default();
    // The source's entries, by the (source_id, key) index; the entries go last.
    const PURGED: &str = "(SELECT id FROM entries WHERE source_id = ?1)";
    stats.entries = tx
        .query_row("SELECT COUNT(*) FROM entries WHERE source_id = ?1", p![source_id], |r| r.get(0))
        .ctx("cannot purge")?;
    let stories: Vec<String> = tx
        .query_map(
            &format!("SELECT DISTINCT story_id FROM story_entries WHERE entry_id IN {PURGED} ORDER BY 1"),
            p![source_id],
            |r| r.get(0),
        )
        .ctx("cannot purge")?;
    tx.execute(
        &format!("UPDATE story_entries SET matched_entry = NULL WHERE matched_entry IN {PURGED}"),
        p![source_id],
    )
    .ctx("cannot purge")?;
    for table in ENTRY_TABLES {
        tx.execute(&format!("DELETE FROM {table} WHERE entry_id IN {PURGED}"), p![source_id])
            .ctx(&format!("cannot purge {table}"))?;
    }
    tx.execute("DELETE FROM entries WHERE source_id = ?1", p![source_id]).ctx("cannot purge entries")?;
    tx.execute("DELETE FROM fetches WHERE source_id = ?1", p![source_id]).ctx("cannot purge fetches")?;
    tx.execute("DELETE FROM sources WHERE id = ?1", p![source_id]).ctx("cannot purge source")?;
    let now = crate::clock::now();
    let mut data = DbStories { tx, cache };
    for story in &stories {
        match crate::stories::repair_after_purge(&mut data, story, key, now)? {
            Repair::Deleted => stats.stories_deleted += 1,
            Repair::Promoted(p) => stats.promoted += p.len() as u64,
        }
    }
    Ok(stats)
}
