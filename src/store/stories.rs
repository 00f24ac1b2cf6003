//! Story assignment in the store: candidates for a new entry (identity-key
//! matches at any time, and the entries published nearest to it within the
//! dedup window), the decision by `dedup::decide`, and its record with the
//! evidence. Runs inside the transaction that stores the entry.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Transaction, params};

use super::{Context, StoreError, ts};
use crate::dedup::{self, Candidate, Decision, Evidence, Features};

/// Window candidates looked at on each side of the new entry's date.
const NEAREST: usize = 50;

/// Decoded features of stored entries, kept for the life of the store.
#[derive(Default)]
pub(super) struct FeatureCache(HashMap<i64, Arc<Features>>);

const CACHE_MAX: usize = 200_000;

impl FeatureCache {
    pub(super) fn get(&mut self, tx: &Transaction<'_>, id: i64) -> Result<Option<Arc<Features>>, StoreError> {
        if let Some(f) = self.0.get(&id) {
            return Ok(Some(f.clone()));
        }
        let json: Option<String> = tx
            .prepare_cached("SELECT features FROM entry_features WHERE entry_id = ?1")
            .ctx("cannot read features")?
            .query_row([id], |r| r.get(0))
            .optional()
            .ctx("cannot read features")?;
        let Some(f) = json.and_then(|j| serde_json::from_str::<Features>(&j).ok()) else { return Ok(None) };
        Ok(Some(self.put(id, f)))
    }

    fn put(&mut self, id: i64, f: Features) -> Arc<Features> {
        if self.0.len() >= CACHE_MAX {
            self.0.clear();
        }
        let f = Arc::new(f);
        self.0.insert(id, f.clone());
        f
    }
}

/// The identity keys an entry is found by.
fn keys(f: &Features) -> Vec<String> {
    let mut k: Vec<String> = Vec::new();
    k.extend(f.url_key.iter().map(|u| format!("u:{u}")));
    k.extend(f.alternates.iter().map(|a| format!("a:{a}")));
    k.extend(f.id_keys.iter().map(|i| format!("i:{i}")));
    k.extend(f.pattern_ids.iter().map(|p| format!("p:{p}")));
    k.extend(f.guid.iter().map(|g| format!("g:{g}")));
    k
}

/// The keys under which other entries would point at this one.
fn lookups(f: &Features) -> Vec<String> {
    let mut k: Vec<String> = Vec::new();
    if let Some(u) = &f.url_key {
        k.push(format!("u:{u}"));
        k.push(format!("a:{u}"));
    }
    k.extend(f.alternates.iter().map(|a| format!("u:{a}")));
    k.extend(f.id_keys.iter().map(|i| format!("i:{i}")));
    k.extend(f.pattern_ids.iter().map(|p| format!("p:{p}")));
    k.extend(f.guid.iter().map(|g| format!("g:{g}")));
    k
}

/// Stores an entry's features and identity keys (new or changed entry).
pub(super) fn store_features(
    tx: &Transaction<'_>,
    cache: &mut FeatureCache,
    id: i64,
    f: Features,
) -> Result<(), StoreError> {
    let json = serde_json::to_string(&f).unwrap_or_default();
    tx.prepare_cached("INSERT OR REPLACE INTO entry_features (entry_id, features) VALUES (?1, ?2)")
        .ctx("cannot store features")?
        .execute(params![id, json])
        .ctx("cannot store features")?;
    tx.prepare_cached("DELETE FROM entry_keys WHERE entry_id = ?1")
        .ctx("cannot store keys")?
        .execute([id])
        .ctx("cannot store keys")?;
    let mut ins = tx
        .prepare_cached("INSERT OR IGNORE INTO entry_keys (key, entry_id) VALUES (?1, ?2)")
        .ctx("cannot store keys")?;
    for k in keys(&f) {
        ins.execute(params![k, id]).ctx("cannot store keys")?;
    }
    cache.put(id, f);
    Ok(())
}

/// Assigns a newly stored entry to a story and records why. `latest` is
/// the latest `published_at` of any assigned entry (see [`candidates`]).
#[allow(clippy::too_many_arguments)]
pub(super) fn assign(
    tx: &Transaction<'_>,
    cache: &mut FeatureCache,
    id: i64,
    first_story_id: &str,
    splits: &[super::reconcile::SplitSet],
    latest: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Decision, StoreError> {
    let Some(new) = cache.get(tx, id)? else { return Ok(Decision::New) };
    let candidates = candidates(tx, cache, id, &new, latest)?;
    let candidates = super::reconcile::drop_split_candidates(tx, id, candidates, splits)?;
    let decision = dedup::decide(&new, &candidates);
    let lang = new.lang.clone();
    match &decision {
        Decision::New => {
            tx.prepare_cached("INSERT OR IGNORE INTO stories (id, created_at) VALUES (?1, ?2)")
                .ctx("cannot create story")?
                .execute(params![first_story_id, ts(now)])
                .ctx("cannot create story")?;
            join(tx, id, first_story_id, "version", lang.as_deref(), None, &Evidence::default(), now)?;
            log(tx, first_story_id, "created", &format!("entry {id}"), now)?;
        }
        Decision::Duplicate { story_id, of_entry, evidence } => {
            join(tx, id, story_id, "duplicate", lang.as_deref(), Some(*of_entry), evidence, now)?;
            log(tx, story_id, "joined", &format!("entry {id} as a duplicate of entry {of_entry}"), now)?;
        }
        Decision::Version { story_id, matched, evidence } => {
            join(tx, id, story_id, "version", lang.as_deref(), Some(*matched), evidence, now)?;
            log(
                tx,
                story_id,
                "joined",
                &format!("entry {id} ({}) as a version, matched entry {matched}", lang.as_deref().unwrap_or("?")),
                now,
            )?;
            // Late evidence: links and pattern ids of the new version may
            // tie its story to others (the older id survives; recorded).
            super::reconcile::merge_strong(tx, id, &new, splits, now)?;
        }
    }
    Ok(decision)
}

#[allow(clippy::too_many_arguments)]
fn join(
    tx: &Transaction<'_>,
    id: i64,
    story: &str,
    role: &str,
    lang: Option<&str>,
    matched: Option<i64>,
    ev: &Evidence,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO story_entries (entry_id, story_id, role, lang, matched_entry, evidence, joined_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .ctx("cannot record story membership")?
    .execute(params![id, story, role, lang, matched, serde_json::to_string(ev).unwrap_or_default(), ts(now)])
    .ctx("cannot record story membership")
    .map(|_| ())
}

pub(super) fn log(
    tx: &Transaction<'_>,
    story: &str,
    action: &str,
    detail: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.prepare_cached("INSERT INTO story_log (at, story_id, action, detail) VALUES (?1, ?2, ?3, ?4)")
        .ctx("cannot log story change")?
        .execute(params![ts(now), story, action, detail])
        .ctx("cannot log story change")
        .map(|_| ())
}

/// One row of a "nearest" query: entry id, story id, and what orders ties.
type NearRow = (i64, String, String, i64, String);

fn nearest_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<NearRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
}

/// A full "nearest" list whose last date is shared by more entries than
/// fit: which of them made the cut was up to SQLite's row order, that is to
/// the entry ids, which depend on which source's transaction committed
/// first. The entries at the edge date are chosen by (source, key) instead,
/// so the same entries always give the same candidates.
fn settle_ties(tx: &Transaction<'_>, rows: Vec<NearRow>) -> Result<Vec<(i64, String)>, StoreError> {
    if rows.len() < NEAREST {
        return Ok(rows.into_iter().map(|r| (r.0, r.1)).collect());
    }
    let edge = rows.last().map(|r| r.2.clone()).unwrap_or_default();
    let mut out: Vec<(i64, String)> = rows.iter().filter(|r| r.2 != edge).map(|r| (r.0, r.1.clone())).collect();
    let mut stmt = tx
        .prepare_cached(
            "SELECT e.id, se.story_id, e.published_at, e.source_id, e.key FROM entries e
             JOIN story_entries se ON se.entry_id = e.id WHERE e.published_at = ?1
             ORDER BY e.source_id, e.key LIMIT ?2",
        )
        .ctx("cannot find candidates")?;
    let room = NEAREST.saturating_sub(out.len());
    let ties = stmt.query_map(params![edge, room], nearest_row).ctx("cannot find candidates")?;
    for r in ties {
        let r = r.ctx("cannot find candidates")?;
        out.push((r.0, r.1));
    }
    Ok(out)
}

/// Candidates: assigned entries sharing an identity key, and the assigned
/// entries published nearest before and after the new one within the dedup
/// window. A handful of indexed queries per new entry, whatever the size of
/// the database.
///
/// `latest` is the latest `published_at` of any assigned entry (`None`:
/// none is). When it is not after the new entry's date, no assigned entry
/// is published after it and the query for those is skipped: it would walk
/// every (unassigned) entry of the window for nothing, as in a cold poll,
/// where assignment goes in date order.
fn candidates(
    tx: &Transaction<'_>,
    cache: &mut FeatureCache,
    id: i64,
    new: &Features,
    latest: Option<&str>,
) -> Result<Vec<Candidate>, StoreError> {
    let mut found: Vec<(i64, String)> = Vec::new();
    {
        let mut by_key = tx
            .prepare_cached(
                "SELECT k.entry_id, se.story_id FROM entry_keys k JOIN story_entries se ON se.entry_id = k.entry_id
                 WHERE k.key = ?1 LIMIT 50",
            )
            .ctx("cannot find candidates")?;
        for k in lookups(new) {
            let rows = by_key.query_map([k], |r| Ok((r.get(0)?, r.get(1)?))).ctx("cannot find candidates")?;
            found.extend(rows.collect::<Result<Vec<_>, _>>().ctx("cannot find candidates")?);
        }
    }
    let window = chrono::Duration::days(dedup::WINDOW_DAYS);
    let (from, to, at) = (ts(new.published - window), ts(new.published + window), ts(new.published));
    let any_after = latest.is_some_and(|l| l > at.as_str());
    let queries = [
        "SELECT e.id, se.story_id, e.published_at, e.source_id, e.key FROM entries e
         JOIN story_entries se ON se.entry_id = e.id
         WHERE e.published_at BETWEEN ?1 AND ?3 ORDER BY e.published_at DESC LIMIT ?4",
        "SELECT e.id, se.story_id, e.published_at, e.source_id, e.key FROM entries e
         JOIN story_entries se ON se.entry_id = e.id
         WHERE e.published_at > ?3 AND e.published_at <= ?2 ORDER BY e.published_at ASC LIMIT ?4",
    ];
    for sql in &queries[..if any_after { 2 } else { 1 }] {
        let mut stmt = tx.prepare_cached(sql).ctx("cannot find candidates")?;
        let rows = stmt
            .query_map(params![from, to, at, NEAREST], nearest_row)
            .ctx("cannot find candidates")?
            .collect::<Result<Vec<_>, _>>()
            .ctx("cannot find candidates")?;
        found.extend(settle_ties(tx, rows)?);
    }
    found.sort_unstable();
    found.dedup();
    found.retain(|(c, _)| *c != id);
    let langs = langs_of_stories(tx, found.iter().map(|(_, s)| s.as_str()))?;
    let mut out = Vec::with_capacity(found.len());
    for (cid, story_id) in found {
        let Some(features) = cache.get(tx, cid)? else { continue };
        let story_langs = langs.get(&story_id).cloned().unwrap_or_default();
        out.push(Candidate { entry_id: cid, story_id, story_langs, features });
    }
    Ok(out)
}

/// The version languages of several stories, in one query.
fn langs_of_stories<'a>(
    tx: &Transaction<'_>,
    stories: impl Iterator<Item = &'a str>,
) -> Result<HashMap<String, Vec<String>>, StoreError> {
    let mut ids: Vec<&str> = stories.collect();
    ids.sort_unstable();
    ids.dedup();
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for chunk in ids.chunks(400) {
        let marks = vec!["?"; chunk.len()].join(",");
        let sql = format!(
            "SELECT story_id, lang FROM story_entries WHERE role = 'version' AND lang IS NOT NULL AND story_id IN ({marks})"
        );
        let mut stmt = tx.prepare(&sql).ctx("cannot read stories")?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(chunk.iter()), |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .ctx("cannot read stories")?;
        for row in rows {
            let (s, l) = row.ctx("cannot read stories")?;
            out.entry(s).or_default().push(l);
        }
    }
    Ok(out)
}

/// The story of an entry and the languages of its versions.
pub(super) fn story_of(tx: &Transaction<'_>, entry: i64) -> Result<Option<(String, Vec<String>)>, StoreError> {
    let story: Option<String> = tx
        .prepare_cached("SELECT story_id FROM story_entries WHERE entry_id = ?1")
        .ctx("cannot read story")?
        .query_row([entry], |r| r.get(0))
        .optional()
        .ctx("cannot read story")?;
    let Some(story) = story else { return Ok(None) };
    let langs = story_langs(tx, &story)?;
    Ok(Some((story, langs)))
}

pub(super) fn story_langs(tx: &Transaction<'_>, story: &str) -> Result<Vec<String>, StoreError> {
    let mut stmt = tx
        .prepare_cached(
            "SELECT DISTINCT lang FROM story_entries WHERE story_id = ?1 AND role = 'version' AND lang IS NOT NULL",
        )
        .ctx("cannot read story")?;
    let rows = stmt.query_map([story], |r| r.get(0)).ctx("cannot read story")?;
    rows.collect::<Result<Vec<String>, _>>().ctx("cannot read story")
}

/// (older, younger) of two stories: by creation time, then (stories created
/// in one cycle) by their earliest entry publication time, the order
/// assignment met them in, then by id.
pub(super) fn older_first(tx: &Transaction<'_>, a: &str, b: &str) -> Result<(String, String), StoreError> {
    let created = |id: &str| -> Result<(String, String), StoreError> {
        tx.prepare_cached(
            "SELECT s.created_at, COALESCE((SELECT MIN(e.published_at) FROM story_entries se
                 JOIN entries e ON e.id = se.entry_id WHERE se.story_id = s.id), '')
             FROM stories s WHERE s.id = ?1",
        )
        .ctx("cannot read story")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .ctx("cannot read story")
    };
    let (ca, cb) = (created(a)?, created(b)?);
    Ok(if (ca.0.as_str(), ca.1.as_str(), a) <= (cb.0.as_str(), cb.1.as_str(), b) {
        (a.to_string(), b.to_string())
    } else {
        (b.to_string(), a.to_string())
    })
}

/// Assigns a story to every entry that has none yet (new in this cycle, or
/// left by an interrupted run), in a deterministic order: publication time,
/// then source, then entry key. The same entries give the same stories
/// whatever order the fetches finished in.
pub(super) fn assign_pending(
    conn: &mut rusqlite::Connection,
    cache: &mut FeatureCache,
    rules: &super::StoryRules,
) -> Result<super::AssignStats, StoreError> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .ctx("cannot start story assignment")?;
    let todo: Vec<(i64, i64, String, Option<String>, String)> = {
        let mut stmt = tx
            .prepare(
                "SELECT e.id, e.source_id, s.key, s.grp, e.published_at FROM entries e JOIN sources s ON s.id = e.source_id
                 WHERE NOT EXISTS (SELECT 1 FROM story_entries se WHERE se.entry_id = e.id)
                 ORDER BY e.published_at, s.key, e.key",
            )
            .ctx("cannot find unassigned entries")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
            .ctx("cannot find unassigned entries")?;
        rows.collect::<Result<_, _>>().ctx("cannot find unassigned entries")?
    };
    let now = crate::clock::now();
    let splits = super::reconcile::resolve_splits(&tx, rules)?;
    // The latest date of an assigned entry, kept up to date below: every
    // entry of the loop is assigned (and only those), in date order.
    let mut latest: Option<String> = tx
        .query_row(
            "SELECT e.published_at FROM entries e
             WHERE EXISTS (SELECT 1 FROM story_entries se WHERE se.entry_id = e.id)
             ORDER BY e.published_at DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()
        .ctx("cannot find assigned entries")?;
    let mut stats = super::AssignStats::default();
    for (id, source_id, source_key, group, published) in &todo {
        let Some(row) = super::entries::load_one(&tx, *id)? else { continue };
        if cache.get(&tx, *id)?.is_none() {
            let mut f = dedup::features(&row.entry, *source_id, group.as_deref());
            f.pattern_ids = rules.pattern_ids(source_key, row.entry.url.as_deref(), row.entry.guid.as_deref());
            super::pages::add_page_links(&tx, *id, &mut f)?;
            store_features(&tx, cache, *id, f)?;
        }
        let story_id = crate::story::story_id(source_key, &row.entry.key);
        let decision = assign(&tx, cache, *id, &story_id, &splits, latest.as_deref(), now)?;
        if latest.as_ref().is_none_or(|l| l < published) {
            latest = Some(published.clone());
        }
        match decision {
            Decision::New => stats.new_stories += 1,
            Decision::Version { .. } => stats.versions += 1,
            Decision::Duplicate { .. } => stats.duplicates += 1,
        }
    }
    tx.commit().ctx("cannot commit story assignment")?;
    Ok(stats)
}
