//! `remove --purge`: deleting one source with everything stored for it, in
//! one transaction that leaves the stories consistent. A story that loses
//! its last entry is deleted; a story that loses its only version in a
//! language promotes that language's oldest duplicate to version, so every
//! remaining entry still belongs to exactly one story.

use rusqlite::{OptionalExtension, Transaction, params};

use super::{Context, Store, StoreError, ts};

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
        let tx =
            self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).ctx("cannot start purge")?;
        let id: Option<i64> = tx
            .query_row("SELECT id FROM sources WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .ctx("cannot find source")?;
        let Some(id) = id else { return Ok(None) };
        let stats = purge(&tx, id, key)?;
        tx.commit().ctx("cannot commit purge")?;
        self.features = crate::stories::FeatureCache::default();
        Ok(Some(stats))
    }
}

fn purge(tx: &Transaction<'_>, source_id: i64, key: &str) -> Result<PurgeStats, StoreError> {
    let mut stats = PurgeStats::default();
    tx.execute("CREATE TEMP TABLE purged (id INTEGER PRIMARY KEY)", []).ctx("cannot purge")?;
    stats.entries = tx
        .execute("INSERT INTO purged SELECT id FROM entries WHERE source_id = ?1", [source_id])
        .ctx("cannot purge")? as u64;
    let stories: Vec<String> = {
        let mut stmt = tx
            .prepare("SELECT DISTINCT story_id FROM story_entries WHERE entry_id IN (SELECT id FROM purged) ORDER BY 1")
            .ctx("cannot purge")?;
        stmt.query_map([], |r| r.get(0)).ctx("cannot purge")?.collect::<Result<_, _>>().ctx("cannot purge")?
    };
    tx.execute("UPDATE story_entries SET matched_entry = NULL WHERE matched_entry IN (SELECT id FROM purged)", [])
        .ctx("cannot purge")?;
    for table in ENTRY_TABLES {
        tx.execute(&format!("DELETE FROM {table} WHERE entry_id IN (SELECT id FROM purged)"), [])
            .ctx(&format!("cannot purge {table}"))?;
    }
    tx.execute("DELETE FROM entries WHERE source_id = ?1", [source_id]).ctx("cannot purge entries")?;
    tx.execute("DELETE FROM fetches WHERE source_id = ?1", [source_id]).ctx("cannot purge fetches")?;
    tx.execute("DELETE FROM sources WHERE id = ?1", [source_id]).ctx("cannot purge source")?;
    tx.execute("DROP TABLE temp.purged", []).ctx("cannot purge")?;
    let now = ts(crate::clock::now());
    for story in &stories {
        repair_story(tx, story, key, &now, &mut stats)?;
    }
    Ok(stats)
}

/// After a purge took entries out of `story`: deletes it if empty, else
/// promotes a duplicate in each language left without a version.
fn repair_story(
    tx: &Transaction<'_>,
    story: &str,
    key: &str,
    now: &str,
    stats: &mut PurgeStats,
) -> Result<(), StoreError> {
    let left: i64 = tx
        .query_row("SELECT COUNT(*) FROM story_entries WHERE story_id = ?1", [story], |r| r.get(0))
        .ctx("cannot purge")?;
    let log = |detail: String| {
        tx.execute(
            "INSERT INTO story_log (at, story_id, action, detail) VALUES (?1, ?2, 'purged', ?3)",
            params![now, story, detail],
        )
        .ctx("cannot log purge")
    };
    if left == 0 {
        tx.execute("DELETE FROM stories WHERE id = ?1", [story]).ctx("cannot delete story")?;
        stats.stories_deleted += 1;
        log(format!("every entry was removed with source {key}; story deleted"))?;
        return Ok(());
    }
    let promoted: Vec<i64> = {
        let mut stmt = tx
            .prepare(
                "SELECT d.entry_id FROM story_entries d WHERE d.story_id = ?1 AND d.role = 'duplicate'
                   AND NOT EXISTS (SELECT 1 FROM story_entries v WHERE v.story_id = ?1 AND v.role = 'version' AND v.lang IS d.lang)
                   AND d.entry_id = (SELECT d2.entry_id FROM story_entries d2 WHERE d2.story_id = ?1 AND d2.role = 'duplicate'
                                     AND d2.lang IS d.lang ORDER BY d2.joined_at, d2.entry_id LIMIT 1)",
            )
            .ctx("cannot purge")?;
        stmt.query_map([story], |r| r.get(0)).ctx("cannot purge")?.collect::<Result<_, _>>().ctx("cannot purge")?
    };
    for entry in &promoted {
        tx.execute("UPDATE story_entries SET role = 'version', matched_entry = NULL WHERE entry_id = ?1", [entry])
            .ctx("cannot promote duplicate")?;
        stats.promoted += 1;
    }
    let detail = match promoted.as_slice() {
        [] => format!("entries of source {key} removed"),
        p => format!(
            "entries of source {key} removed; promoted to version: entry {}",
            p.iter().map(i64::to_string).collect::<Vec<_>>().join(", entry ")
        ),
    };
    log(detail)?;
    Ok(())
}
