//! Story assignment in the store: candidates for a new entry (identity-key
//! matches at any time, and the entries published nearest to it within the
//! dedup window), the decision by `dedup::decide`, and its record with the
//! evidence. Runs inside the transaction that stores the entry.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Transaction, params};

use super::{Context, StoreError, ts};
use crate::dedup::{self, Candidate, Decision, Evidence, Features};

/// Window candidates looked at on each side of the new entry's date.
const NEAREST: usize = 50;

/// Decoded features of the stored entries met most recently, kept for the
/// life of the store. Bounded: assignment goes in publication order and
/// compares each entry with its nearest neighbours, which are the entries
/// it met last; anything older is read again when a key match needs it.
#[derive(Default)]
pub(super) struct FeatureCache {
    map: HashMap<i64, Arc<Features>>,
    order: std::collections::VecDeque<i64>,
}

/// Entries kept decoded (a few KiB each).
const CACHE_MAX: usize = 4096;

impl FeatureCache {
    pub(super) fn get(&mut self, tx: &Transaction<'_>, id: i64) -> Result<Option<Arc<Features>>, StoreError> {
        if let Some(f) = self.map.get(&id) {
            return Ok(Some(f.clone()));
        }
        let stored: Option<Vec<u8>> = tx
            .prepare_cached("SELECT features FROM entry_features WHERE entry_id = ?1")
            .ctx("cannot read features")?
            .query_row([id], |r| {
                Ok(match r.get_ref(0)? {
                    rusqlite::types::ValueRef::Blob(b) | rusqlite::types::ValueRef::Text(b) => Some(b.to_vec()),
                    _ => None,
                })
            })
            .optional()
            .ctx("cannot read features")?
            .flatten();
        let Some(f) = stored.and_then(|b| Features::decode(&b)) else { return Ok(None) };
        Ok(Some(self.put(id, f)))
    }

    fn put(&mut self, id: i64, f: Features) -> Arc<Features> {
        let f = Arc::new(f);
        if self.map.insert(id, f.clone()).is_none() {
            self.order.push_back(id);
        }
        while self.order.len() > CACHE_MAX {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
        f
    }

    /// Forgets an entry whose features were just replaced.
    fn forget(&mut self, id: i64) {
        if self.map.remove(&id).is_some() {
            self.order.retain(|i| *i != id);
        }
    }
}

/// Stores an entry's features and identity keys (new or changed entry).
pub(super) fn store_features(
    tx: &Transaction<'_>,
    cache: &mut FeatureCache,
    id: i64,
    f: Features,
) -> Result<(), StoreError> {
    tx.prepare_cached("INSERT OR REPLACE INTO entry_features (entry_id, features) VALUES (?1, ?2)")
        .ctx("cannot store features")?
        .execute(params![id, f.encode()])
        .ctx("cannot store features")?;
    tx.prepare_cached("DELETE FROM entry_keys WHERE entry_id = ?1")
        .ctx("cannot store keys")?
        .execute([id])
        .ctx("cannot store keys")?;
    let mut ins = tx
        .prepare_cached("INSERT OR IGNORE INTO entry_keys (key, entry_id) VALUES (?1, ?2)")
        .ctx("cannot store keys")?;
    for k in f.keys() {
        ins.execute(params![k, id]).ctx("cannot store keys")?;
    }
    // Not kept decoded: a cold poll stores every entry before assigning
    // any, and assignment reads them back in its own order.
    cache.forget(id);
    Ok(())
}

/// Assigns a newly stored entry to a story and records why, keeping
/// `window` (the assigned entries around it) up to date.
#[allow(clippy::too_many_arguments)]
fn assign(
    tx: &Transaction<'_>,
    cache: &mut FeatureCache,
    window: &mut Window,
    id: i64,
    at: &NearKey,
    first_story_id: &str,
    splits: &[super::reconcile::SplitSet],
    now: DateTime<Utc>,
) -> Result<Decision, StoreError> {
    let Some(new) = cache.get(tx, id)? else { return Ok(Decision::New) };
    let candidates = candidates(tx, cache, window, id, &new)?;
    let candidates = super::reconcile::drop_split_candidates(tx, id, candidates, splits)?;
    let decision = dedup::decide(&new, &candidates);
    let lang = new.lang.clone();
    let mut merged = 0;
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
            merged = super::reconcile::merge_strong(tx, id, &new, splits, now)?;
        }
    }
    if merged > 0 {
        // Stories of entries already in the window changed: read it again.
        window.reload(tx)?;
    } else {
        let (story, role) = match &decision {
            Decision::New => (first_story_id, "version"),
            Decision::Duplicate { story_id, .. } => (story_id.as_str(), "duplicate"),
            Decision::Version { story_id, .. } => (story_id.as_str(), "version"),
        };
        window.add(at.clone(), id, story, role, lang.as_deref());
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

/// Where an entry sorts among its neighbours: publication time (as stored:
/// RFC 3339 text, which sorts by time), then source row id, then entry key.
type NearKey = (String, i64, String);

/// The assigned entries published within the dedup window of a batch of
/// unassigned ones, with their stories' version languages: the candidates
/// by date come from here, without a query per new entry. Filled once per
/// assignment run, kept up to date as entries join stories, read again
/// when a merge changes stories of entries already in it.
struct Window {
    /// First and last publication time covered.
    from: String,
    to: String,
    /// Entries by publication time; at one time, by (source, key).
    by_date: BTreeMap<String, Vec<(i64, String, i64, String)>>,
    /// Version languages of the stories met (also of key matches outside
    /// the window, looked up on demand).
    langs: HashMap<String, Vec<String>>,
}

impl Window {
    /// The window around publication times `first..=last`.
    fn load(tx: &Transaction<'_>, first: DateTime<Utc>, last: DateTime<Utc>) -> Result<Window, StoreError> {
        let span = chrono::Duration::days(dedup::WINDOW_DAYS);
        let mut w =
            Window { from: ts(first - span), to: ts(last + span), by_date: BTreeMap::new(), langs: HashMap::new() };
        w.reload(tx)?;
        Ok(w)
    }

    fn reload(&mut self, tx: &Transaction<'_>) -> Result<(), StoreError> {
        self.by_date.clear();
        self.langs.clear();
        let mut stmt = tx
            .prepare_cached(
                "SELECT e.published_at, e.source_id, e.key, e.id, se.story_id FROM entries e
                 JOIN story_entries se ON se.entry_id = e.id WHERE e.published_at BETWEEN ?1 AND ?2",
            )
            .ctx("cannot find candidates")?;
        let rows = stmt
            .query_map(params![self.from, self.to], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get(4)?,
                ))
            })
            .ctx("cannot find candidates")?;
        for row in rows {
            let (at, source, key, id, story) = row.ctx("cannot find candidates")?;
            self.by_date.entry(at).or_default().push((source, key, id, story));
        }
        for group in self.by_date.values_mut() {
            group.sort_unstable();
        }
        let mut stmt = tx
            .prepare_cached(
                "SELECT DISTINCT v.story_id, v.lang FROM entries e JOIN story_entries se ON se.entry_id = e.id
                 JOIN story_entries v ON v.story_id = se.story_id
                 WHERE e.published_at BETWEEN ?1 AND ?2 AND v.role = 'version' AND v.lang IS NOT NULL",
            )
            .ctx("cannot read stories")?;
        let rows = stmt
            .query_map(params![self.from, self.to], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .ctx("cannot read stories")?;
        for row in rows {
            let (story, lang) = row.ctx("cannot read stories")?;
            self.langs.entry(story).or_default().push(lang);
        }
        Ok(())
    }

    /// Records an entry that just joined `story`.
    fn add(&mut self, (at, source, key): NearKey, id: i64, story: &str, role: &str, lang: Option<&str>) {
        let group = self.by_date.entry(at).or_default();
        let row = (source, key, id, story.to_string());
        let i = group.partition_point(|r| *r < row);
        group.insert(i, row);
        let langs = self.langs.entry(story.to_string()).or_default();
        if let Some(l) = lang.filter(|_| role == "version")
            && !langs.iter().any(|x| x == l)
        {
            langs.push(l.to_string());
        }
    }

    /// Up to [`NEAREST`] entries published at or before `at` (`before`)
    /// or after it, within the dedup window of `at`. Where the last time
    /// taken is shared by more entries than fit, those with the lowest
    /// (source, key) are taken: the same entries always give the same
    /// candidates, whatever order their sources were stored in.
    fn nearest(&self, at: &str, from: &str, to: &str, out: &mut Vec<(i64, String)>) {
        use std::ops::Bound::{Excluded, Included};
        let before = self.by_date.range::<str, _>((Included(from), Included(at))).rev();
        let after = self.by_date.range::<str, _>((Excluded(at), Included(to)));
        for side in [Box::new(before) as Box<dyn Iterator<Item = _>>, Box::new(after)] {
            let mut room = NEAREST;
            for (_, group) in side {
                let take = group.len().min(room);
                out.extend(group[..take].iter().map(|r| (r.2, r.3.clone())));
                room -= take;
                if room == 0 {
                    break;
                }
            }
        }
    }
}

/// Candidates: assigned entries sharing an identity key, and the assigned
/// entries published nearest before and after the new one within the dedup
/// window (from `window`). A few indexed queries per new entry, whatever
/// the size of the database.
fn candidates(
    tx: &Transaction<'_>,
    cache: &mut FeatureCache,
    window: &mut Window,
    id: i64,
    new: &Features,
) -> Result<Vec<Candidate>, StoreError> {
    let mut found: Vec<(i64, String)> = Vec::new();
    {
        let mut by_key = tx
            .prepare_cached(
                "SELECT k.entry_id, se.story_id FROM entry_keys k JOIN story_entries se ON se.entry_id = k.entry_id
                 WHERE k.key = ?1 LIMIT 50",
            )
            .ctx("cannot find candidates")?;
        for k in new.lookups() {
            let rows = by_key.query_map([k], |r| Ok((r.get(0)?, r.get(1)?))).ctx("cannot find candidates")?;
            found.extend(rows.collect::<Result<Vec<_>, _>>().ctx("cannot find candidates")?);
        }
    }
    let span = chrono::Duration::days(dedup::WINDOW_DAYS);
    let (from, to, at) = (ts(new.published - span), ts(new.published + span), ts(new.published));
    window.nearest(&at, &from, &to, &mut found);
    found.sort_unstable();
    found.dedup();
    found.retain(|(c, _)| *c != id);
    let missing: Vec<&str> = found.iter().map(|(_, s)| s.as_str()).filter(|s| !window.langs.contains_key(*s)).collect();
    if !missing.is_empty() {
        let more = langs_of_stories(tx, missing.into_iter())?;
        for (_, s) in &found {
            if !window.langs.contains_key(s) {
                window.langs.insert(s.clone(), more.get(s).cloned().unwrap_or_default());
            }
        }
    }
    let mut out = Vec::with_capacity(found.len());
    for (cid, story_id) in found {
        let Some(features) = cache.get(tx, cid)? else { continue };
        let story_langs = window.langs.get(&story_id).cloned().unwrap_or_default();
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
    type Todo = (i64, i64, String, Option<String>, String, String);
    let todo: Vec<Todo> = {
        let mut stmt = tx
            .prepare(
                // Unassigned entries are newer rows than every assigned one
                // (each assignment takes all of them in one transaction; see
                // `Store::has_unassigned`): the id bound keeps this from
                // scanning the whole table.
                "SELECT e.id, e.source_id, s.key, s.grp, e.published_at, e.key FROM entries e JOIN sources s ON s.id = e.source_id
                 WHERE e.id > COALESCE((SELECT MAX(entry_id) FROM story_entries), 0)
                   AND NOT EXISTS (SELECT 1 FROM story_entries se WHERE se.entry_id = e.id)
                 ORDER BY e.published_at, s.key, e.key",
            )
            .ctx("cannot find unassigned entries")?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
            .ctx("cannot find unassigned entries")?;
        rows.collect::<Result<_, _>>().ctx("cannot find unassigned entries")?
    };
    let now = crate::clock::now();
    let splits = super::reconcile::resolve_splits(&tx, rules)?;
    let mut stats = super::AssignStats::default();
    let (Some(first), Some(last)) = (todo.first(), todo.last()) else {
        tx.commit().ctx("cannot commit story assignment")?;
        return Ok(stats);
    };
    let date = |s: &str| super::parse_ts(s).unwrap_or(now);
    let mut window = Window::load(&tx, date(&first.4), date(&last.4))?;
    for (id, source_id, source_key, group, published, entry_key) in &todo {
        // Features are stored with the entry; computed here only for rows
        // stored without them (an older version, an interrupted run).
        if cache.get(&tx, *id)?.is_none() {
            let Some(row) = super::entries::load_one(&tx, *id)? else { continue };
            let mut f = dedup::features(&row.entry, *source_id, group.as_deref());
            f.pattern_ids = rules.pattern_ids(source_key, row.entry.url.as_deref(), row.entry.guid.as_deref());
            super::pages::add_page_links(&tx, *id, &mut f)?;
            store_features(&tx, cache, *id, f)?;
        }
        let story_id = crate::story::story_id(source_key, entry_key);
        let at = (published.clone(), *source_id, entry_key.clone());
        let decision = assign(&tx, cache, &mut window, *id, &at, &story_id, &splits, now)?;
        match decision {
            Decision::New => stats.new_stories += 1,
            Decision::Version { .. } => stats.versions += 1,
            Decision::Duplicate { .. } => stats.duplicates += 1,
        }
    }
    tx.commit().ctx("cannot commit story assignment")?;
    Ok(stats)
}
