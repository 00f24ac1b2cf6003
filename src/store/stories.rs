//! The story rules' data access, on either engine: [`DbStories`]
//! implements `stories::StoryData` over one transaction (and the store's
//! feature cache), and the `Store` methods the pipeline calls open that
//! transaction, run `stories::assign_pending` or `stories::reconcile`, and
//! commit: one transaction per batch (IMMEDIATE on SQLite). Only SQL here;
//! the rules themselves are in `crate::stories`. Every query that returns
//! several rows orders them, so that both engines hand the rules the same
//! rows in the same order.

use std::sync::Arc;

use super::db::{Context, Db, DbError, Value, p};
use super::{Store, StoreError, features, parse_ts, ts};
use crate::dedup::{Evidence, Features};
use crate::model::Entry;
use crate::stories::{
    self, AssignStats, EntryIdentity, Event, FeatureCache, Join, MemberRole, Placed, ReconcileStats, Role, SourceEntry,
    StoryAge, StoryData, StoryRules, Waiting,
};
use chrono::{DateTime, Utc};

impl Store {
    /// Gives every entry without a story its story (`stories::assign_pending`),
    /// in one transaction.
    pub fn assign_stories(&mut self, rules: &StoryRules) -> Result<AssignStats, StoreError> {
        let tx = self.db.transaction(true).ctx("cannot start story assignment")?;
        lock_stories(&tx)?;
        let stats =
            stories::assign_pending(&mut DbStories { tx: &tx, cache: &mut self.features }, rules, crate::clock::now())?;
        tx.execute(
            "DELETE FROM story_pending WHERE EXISTS (SELECT 1 FROM story_entries se WHERE se.entry_id = story_pending.entry_id)",
            &[],
        )
        .ctx("cannot record story assignment")?;
        tx.commit().ctx("cannot commit story assignment")?;
        Ok(stats)
    }

    /// Re-evaluates stories against late evidence and the config's rules
    /// (`stories::reconcile`), in one transaction. Run after every
    /// assignment, and before publishing, so config changes apply without
    /// new entries.
    pub fn reconcile_stories(&mut self, rules: &StoryRules) -> Result<ReconcileStats, StoreError> {
        let tx = self.db.transaction(true).ctx("cannot start re-evaluation")?;
        lock_stories(&tx)?;
        let stats =
            stories::reconcile(&mut DbStories { tx: &tx, cache: &mut self.features }, rules, crate::clock::now())?;
        tx.commit().ctx("cannot commit re-evaluation")?;
        Ok(stats)
    }
}

/// The lock that story changes take on PostgreSQL for their transaction
/// (`pg_advisory_xact_lock`). On SQLite the IMMEDIATE transaction already
/// makes writers take turns; on PostgreSQL two processes (a `poll` from
/// cron beside `run`) would otherwise assign the same new entries at once.
const PG_STORY_LOCK: i64 = 0x706f_6c79_7374_6f72; // "polystor"

/// Takes the story lock inside `tx` (PostgreSQL; nothing on SQLite).
pub(super) fn lock_stories(tx: &Db) -> Result<(), StoreError> {
    tx.turn(PG_STORY_LOCK).ctx("cannot lock stories")
}

/// The story rules' view of one transaction.
pub(super) struct DbStories<'a> {
    /// The transaction; the caller commits.
    pub(super) tx: &'a Db,
    /// The store's decoded features.
    pub(super) cache: &'a mut FeatureCache,
}

/// The entries waiting for a story, by id: stored entries are listed in
/// `story_pending` until assigned. The few waiting rows lead (`CROSS
/// JOIN` keeps SQLite's planner to that order): planned freely, without
/// statistics, it scanned the whole `entries` table to save a sort (1.2 s
/// of the 1.3 s that assigning 1,000 new entries took at 1M stored).
pub(super) const UNASSIGNED: &str = "SELECT e.id, e.source_id, s.key, s.grp, e.published_at, e.key, e.date_given
     FROM story_pending sp CROSS JOIN entries e JOIN sources s ON s.id = e.source_id
     WHERE e.id = sp.entry_id AND NOT EXISTS (SELECT 1 FROM story_entries se WHERE se.entry_id = e.id)
     ORDER BY sp.entry_id";

/// A stored time (fixed-width RFC 3339 text); unreadable text (never
/// written by polyfeed) reads as the epoch.
fn time(s: &str) -> DateTime<Utc> {
    parse_ts(s).unwrap_or_default()
}

impl StoryData for DbStories<'_> {
    type Error = StoreError;

    fn unassigned(&mut self) -> Result<Waiting, StoreError> {
        let mut waiting = Waiting::default();
        self.tx
            .query_map(UNASSIGNED, &[], |r| {
                let source = waiting.source(r.get(1)?, || Ok::<_, DbError>((r.get(2)?, r.get(3)?)))?;
                let published = time(&r.get::<String>(4)?);
                let key = r.get::<String>(5)?;
                waiting.push(r.get(0)?, source, published, r.get::<i64>(6)? != 0, &key);
                Ok(())
            })
            .ctx("cannot find unassigned entries")?;
        Ok(waiting)
    }

    fn features(&mut self, entry: i64) -> Result<Option<Arc<Features>>, StoreError> {
        features::load(self.tx, self.cache, entry)
    }

    fn store_features(&mut self, entry: i64, f: Features) -> Result<(), StoreError> {
        features::store(self.tx, self.cache, entry, f)
    }

    fn entry(&mut self, entry: i64) -> Result<Option<Entry>, StoreError> {
        Ok(super::entries::load_one(self.tx, entry)?.map(|row| row.entry))
    }

    fn page_links(&mut self, entry: i64) -> Result<Vec<String>, StoreError> {
        features::page_links(self.tx, entry)
    }

    fn entries_with_key(&mut self, key: &str, limit: Option<usize>) -> Result<Vec<i64>, StoreError> {
        // entry_keys' primary key is (key, entry_id): rows come by entry id.
        let limit = limit.map_or(i64::MAX, |n| n as i64);
        self.tx
            .query_map(
                "SELECT entry_id FROM entry_keys WHERE key = ?1 ORDER BY entry_id LIMIT ?2",
                p![key, limit],
                |r| r.get(0),
            )
            .ctx("cannot find entries by key")
    }

    fn assigned_with_key(&mut self, key: &str, limit: usize, out: &mut Vec<(i64, String)>) -> Result<(), StoreError> {
        let rows = self
            .tx
            .query_map(
                "SELECT k.entry_id, se.story_id FROM entry_keys k JOIN story_entries se ON se.entry_id = k.entry_id
                 WHERE k.key = ?1 ORDER BY k.entry_id LIMIT ?2",
                p![key, limit],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ctx("cannot find candidates")?;
        out.extend(rows);
        Ok(())
    }

    fn assigned_between(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<Placed>, StoreError> {
        self.tx
            .query_map(
                "SELECT e.published_at, e.source_id, e.key, e.id, se.story_id, s.grp FROM entries e
                 JOIN story_entries se ON se.entry_id = e.id JOIN sources s ON s.id = e.source_id
                 WHERE e.published_at BETWEEN ?1 AND ?2 ORDER BY e.published_at, e.id",
                p![ts(from), ts(to)],
                |r| {
                    Ok(Placed {
                        published: time(&r.get::<String>(0)?),
                        source_id: r.get(1)?,
                        key: r.get(2)?,
                        id: r.get(3)?,
                        story: r.get(4)?,
                        group: r.get(5)?,
                    })
                },
            )
            .ctx("cannot find candidates")
    }

    fn version_langs_between(
        &mut self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        self.tx
            .query_map(
                "SELECT DISTINCT v.story_id, v.lang FROM entries e JOIN story_entries se ON se.entry_id = e.id
                 JOIN story_entries v ON v.story_id = se.story_id
                 WHERE e.published_at BETWEEN ?1 AND ?2 AND v.role = 'version' AND v.lang IS NOT NULL
                 ORDER BY v.story_id, v.lang",
                p![ts(from), ts(to)],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ctx("cannot read stories")
    }

    fn version_langs_of(&mut self, stories: &[&str]) -> Result<Vec<(String, String)>, StoreError> {
        let mut out = Vec::new();
        for chunk in stories.chunks(400) {
            let marks = vec!["?"; chunk.len()].join(",");
            let sql = format!(
                "SELECT story_id, lang FROM story_entries WHERE role = 'version' AND lang IS NOT NULL AND story_id IN ({marks})
                 ORDER BY story_id, entry_id"
            );
            let params: Vec<Value> = chunk.iter().map(|s| Value::Text(s.to_string())).collect();
            out.extend(self.tx.query_map(&sql, &params, |r| Ok((r.get(0)?, r.get(1)?))).ctx("cannot read stories")?);
        }
        Ok(out)
    }

    fn story_of(&mut self, entry: i64) -> Result<Option<String>, StoreError> {
        self.tx
            .query_opt("SELECT story_id FROM story_entries WHERE entry_id = ?1", p![entry], |r| r.get(0))
            .ctx("cannot read story")
    }

    fn story_langs(&mut self, story: &str) -> Result<Vec<String>, StoreError> {
        self.tx
            .query_map(
                "SELECT DISTINCT lang FROM story_entries WHERE story_id = ?1 AND role = 'version' AND lang IS NOT NULL
                 ORDER BY lang",
                p![story],
                |r| r.get(0),
            )
            .ctx("cannot read story")
    }

    fn members(&mut self, story: &str) -> Result<Vec<(i64, Option<i64>)>, StoreError> {
        self.tx
            .query_map(
                "SELECT entry_id, matched_entry FROM story_entries WHERE story_id = ?1 ORDER BY entry_id",
                p![story],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ctx("cannot read story")
    }

    fn story_size(&mut self, story: &str) -> Result<u64, StoreError> {
        self.tx
            .query_row("SELECT COUNT(*) FROM story_entries WHERE story_id = ?1", p![story], |r| r.get(0))
            .ctx("cannot split story")
    }

    fn story_age(&mut self, story: &str) -> Result<StoryAge, StoreError> {
        let (created, first): (String, Option<String>) = self
            .tx
            .query_row(
                "SELECT s.created_at, (SELECT MIN(e.published_at) FROM story_entries se
                     JOIN entries e ON e.id = se.entry_id WHERE se.story_id = s.id)
                 FROM stories s WHERE s.id = ?1",
                p![story],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ctx("cannot read story")?;
        Ok(StoryAge { created: time(&created), first_published: first.as_deref().map(time) })
    }

    fn entry_identity(&mut self, entry: i64) -> Result<Option<EntryIdentity>, StoreError> {
        self.tx
            .query_opt(
                "SELECT s.key, e.key, e.published_at, e.date_given FROM entries e JOIN sources s ON s.id = e.source_id WHERE e.id = ?1",
                p![entry],
                |r| Ok(EntryIdentity {
                        source_key: r.get(0)?,
                        key: r.get(1)?,
                        published: time(&r.get::<String>(2)?),
                        dated: r.get::<i64>(3)? != 0,
                    }),
            )
            .ctx("cannot read entry")
    }

    fn entries_of_source(&mut self, source_key: &str) -> Result<Vec<SourceEntry>, StoreError> {
        self.tx
            .query_map(
                "SELECT e.id, e.url, e.guid FROM entries e JOIN sources s ON s.id = e.source_id WHERE s.key = ?1
                 ORDER BY e.id",
                p![source_key],
                |r| Ok(SourceEntry { id: r.get(0)?, url: r.get(1)?, guid: r.get(2)? }),
            )
            .ctx("cannot read entries")
    }

    fn create_story(&mut self, story: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.tx
            .execute("INSERT INTO stories (id, created_at) VALUES (?1, ?2) ON CONFLICT DO NOTHING", p![story, ts(at)])
            .ctx("cannot create story")
            .map(|_| ())
    }

    fn join(&mut self, j: &Join<'_>, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.tx
            .execute(
                "INSERT INTO story_entries (entry_id, story_id, role, lang, matched_entry, evidence, joined_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (entry_id) DO UPDATE SET story_id = excluded.story_id, role = excluded.role,
                    lang = excluded.lang, matched_entry = excluded.matched_entry, evidence = excluded.evidence,
                    joined_at = excluded.joined_at",
                p![
                    j.entry,
                    j.story,
                    j.role.as_str(),
                    j.lang,
                    j.matched,
                    serde_json::to_string(j.evidence).unwrap_or_default(),
                    ts(at)
                ],
            )
            .ctx("cannot record story membership")
            .map(|_| ())
    }

    fn move_members(&mut self, from: &str, to: &str) -> Result<(), StoreError> {
        self.tx
            .execute("UPDATE story_entries SET story_id = ?1 WHERE story_id = ?2", p![to, from])
            .ctx("cannot merge stories")
            .map(|_| ())
    }

    fn move_entry(&mut self, entry: i64, to: &str) -> Result<(), StoreError> {
        self.tx
            .execute("UPDATE story_entries SET story_id = ?2 WHERE entry_id = ?1", p![entry, to])
            .ctx("cannot split story")
            .map(|_| ())
    }

    fn make_root(&mut self, entry: i64, evidence: &Evidence) -> Result<(), StoreError> {
        self.tx
            .execute(
                "UPDATE story_entries SET matched_entry = NULL, role = 'version', evidence = ?2 WHERE entry_id = ?1",
                p![entry, serde_json::to_string(evidence).unwrap_or_default()],
            )
            .ctx("cannot split story")
            .map(|_| ())
    }

    fn roles(&mut self, story: &str) -> Result<Vec<MemberRole>, StoreError> {
        self.tx
            .query_map(
                "SELECT entry_id, role, lang, joined_at FROM story_entries WHERE story_id = ?1 ORDER BY entry_id",
                p![story],
                |r| {
                    let role: String = r.get(1)?;
                    Ok(MemberRole {
                        entry: r.get(0)?,
                        role: if role == "duplicate" { Role::Duplicate } else { Role::Version },
                        lang: r.get(2)?,
                        joined: time(&r.get::<String>(3)?),
                    })
                },
            )
            .ctx("cannot read story")
    }

    fn promote(&mut self, entry: i64) -> Result<(), StoreError> {
        self.tx
            .execute("UPDATE story_entries SET role = 'version', matched_entry = NULL WHERE entry_id = ?1", p![entry])
            .ctx("cannot promote duplicate")
            .map(|_| ())
    }

    fn delete_story(&mut self, story: &str) -> Result<(), StoreError> {
        self.tx.execute("DELETE FROM stories WHERE id = ?1", p![story]).ctx("cannot delete story").map(|_| ())
    }

    fn log(&mut self, story: &str, action: &str, detail: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.tx
            .execute(
                "INSERT INTO story_log (at, story_id, action, detail) VALUES (?1, ?2, ?3, ?4)",
                p![ts(at), story, action, detail],
            )
            .ctx("cannot log story change")
            .map(|_| ())
    }

    fn event(&mut self, e: &Event<'_>, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.tx
            .execute(
                "INSERT INTO story_events (at, kind, story_id, other_id, entries, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                p![ts(at), e.kind, e.story, e.other, serde_json::to_string(e.entries).unwrap_or_default(), e.reason],
            )
            .ctx("cannot record story event")
            .map(|_| ())
    }

    fn refusal_recorded(&mut self, story: &str, other: &str, reason: &str) -> Result<bool, StoreError> {
        let seen: Option<i64> = self
            .tx
            .query_opt(
                "SELECT id FROM story_events WHERE kind = 'refused' AND story_id = ?1 AND other_id = ?2 AND reason = ?3
                 ORDER BY id LIMIT 1",
                p![story, other, reason],
                |r| r.get(0),
            )
            .ctx("cannot read story events")?;
        Ok(seen.is_some())
    }

    fn rule_state(&mut self, name: &str) -> Result<Option<String>, StoreError> {
        self.tx
            .query_opt("SELECT value FROM rule_state WHERE name = ?1", p![name], |r| r.get(0))
            .ctx("cannot read rule state")
    }

    fn set_rule_state(&mut self, name: &str, value: &str) -> Result<(), StoreError> {
        self.tx
            .execute(
                "INSERT INTO rule_state (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = ?2",
                p![name, value],
            )
            .ctx("cannot store rule state")
            .map(|_| ())
    }

    fn queue_recheck(&mut self, entry: i64) -> Result<(), StoreError> {
        features::queue_recheck(self.tx, entry)
    }

    fn rechecks(&mut self) -> Result<Vec<i64>, StoreError> {
        self.tx
            .query_map("SELECT entry_id FROM story_recheck ORDER BY entry_id", &[], |r| r.get(0))
            .ctx("cannot read rechecks")
    }

    fn clear_recheck(&mut self, entry: i64) -> Result<(), StoreError> {
        self.tx
            .execute("DELETE FROM story_recheck WHERE entry_id = ?1", p![entry])
            .ctx("cannot clear recheck")
            .map(|_| ())
    }
}
