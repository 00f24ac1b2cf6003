//! Re-evaluation of assigned stories when stronger evidence arrives: merges
//! by late explicit evidence (an hreflang link found in an updated entry or
//! on its page, a shared `id_pattern` id, also after the pattern changed in
//! the config), the user's `[[merge]]` and `[[split]]` overrides, and the
//! record of every such change in `story_events`.
//!
//! Invariants kept here: a story never holds two versions in one language
//! (a merge that would break it is refused and recorded); a merge keeps the
//! older story's id; a split keeps the id on the part holding the story's
//! founding entry, and the part split off gets the id its first entry would
//! have started (deterministic); entries listed in one `[[split]]` are never
//! merged into one story again.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;

use super::stories::{FeatureCache, log, older_first, store_features, story_langs, story_of};
use super::{Context, Store, StoreError, ts};
use crate::config::{Config, IdPattern, Override};
use crate::dedup::{Evidence, Features, Signal};

/// What the config says about stories: per-source id patterns and the
/// user's overrides.
#[derive(Debug, Clone, Default)]
pub struct StoryRules {
    /// Every configured source with its `id_pattern` (or none).
    pub patterns: Vec<SourcePattern>,
    /// `[[merge]]` overrides.
    pub merges: Vec<Override>,
    /// `[[split]]` overrides.
    pub splits: Vec<Override>,
}

/// A source's `id_pattern` and the scope its ids are compared in.
#[derive(Debug, Clone)]
pub struct SourcePattern {
    /// The source's key.
    pub source_key: String,
    /// Its pattern, if configured.
    pub pattern: Option<IdPattern>,
    /// The group, else the source's key.
    pub scope: String,
}

impl StoryRules {
    /// The rules of a config.
    pub fn from_config(config: &Config) -> StoryRules {
        StoryRules {
            patterns: config
                .sources
                .iter()
                .map(|s| SourcePattern {
                    source_key: s.key.clone(),
                    pattern: s.id_pattern.clone(),
                    scope: s.group.clone().unwrap_or_else(|| s.key.clone()),
                })
                .collect(),
            merges: config.merges.clone(),
            splits: config.splits.clone(),
        }
    }

    /// The pattern ids of an entry of `source_key`.
    pub(super) fn pattern_ids(&self, source_key: &str, url: Option<&str>, guid: Option<&str>) -> Vec<String> {
        match self.patterns.iter().find(|p| p.source_key == source_key) {
            Some(SourcePattern { pattern: Some(p), scope, .. }) => {
                crate::dedup::pattern_ids(&p.regex, scope, url, guid)
            }
            _ => Vec::new(),
        }
    }
}

/// What a re-evaluation changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReconcileStats {
    /// Stories merged into others.
    pub merged: u64,
    /// Stories split off.
    pub split: u64,
    /// Problems with the overrides (a merge that would put two versions of
    /// one language into a story, ...), one line each.
    pub warnings: Vec<String>,
}

impl ReconcileStats {
    /// True when some story changed.
    pub fn changed(&self) -> bool {
        self.merged + self.split > 0
    }
}

/// One `[[split]]` resolved to stored entries: per listed URL, its entries.
#[derive(Debug, Clone)]
pub(super) struct SplitSet {
    line: usize,
    sets: Vec<Vec<i64>>,
}

/// How a merge attempt ended.
pub(super) enum Merge {
    /// `gone` was merged into `keep`.
    Merged { keep: String },
    /// Already one story.
    Same,
    /// Not merged, and why.
    Refused(String),
}

/// The entries whose canonical URL folds to the same as `url`.
fn entries_with_url(tx: &Transaction<'_>, url: &str) -> Result<Vec<i64>, StoreError> {
    let Some(folded) = crate::dedup::fold_url(url) else { return Ok(Vec::new()) };
    let mut stmt = tx
        .prepare_cached("SELECT entry_id FROM entry_keys WHERE key = ?1 ORDER BY entry_id")
        .ctx("cannot resolve url")?;
    let rows = stmt.query_map([format!("u:{folded}")], |r| r.get(0)).ctx("cannot resolve url")?;
    rows.collect::<Result<_, _>>().ctx("cannot resolve url")
}

/// Resolves the `[[split]]` overrides to the entries stored so far.
pub(super) fn resolve_splits(tx: &Transaction<'_>, rules: &StoryRules) -> Result<Vec<SplitSet>, StoreError> {
    let mut out = Vec::new();
    for s in &rules.splits {
        let sets = s.urls.iter().map(|u| entries_with_url(tx, u)).collect::<Result<Vec<_>, _>>()?;
        if sets.iter().filter(|s| !s.is_empty()).count() >= 2 {
            out.push(SplitSet { line: s.line, sets });
        }
    }
    Ok(out)
}

/// Drops the candidates whose story holds an entry that a `[[split]]` keeps
/// apart from the new entry `id`, so that assignment never joins them.
pub(super) fn drop_split_candidates(
    tx: &Transaction<'_>,
    id: i64,
    mut candidates: Vec<crate::dedup::Candidate>,
    splits: &[SplitSet],
) -> Result<Vec<crate::dedup::Candidate>, StoreError> {
    let mine: Vec<(&SplitSet, usize)> =
        splits.iter().filter_map(|s| s.sets.iter().position(|set| set.contains(&id)).map(|i| (s, i))).collect();
    if mine.is_empty() {
        return Ok(candidates);
    }
    let mut allowed: BTreeMap<String, bool> = BTreeMap::new();
    for c in &candidates {
        if allowed.contains_key(&c.story_id) {
            continue;
        }
        let mut ok = true;
        for (s, i) in &mine {
            ok &= sets_in(tx, &c.story_id, s)?.iter().all(|j| j == i);
        }
        allowed.insert(c.story_id.clone(), ok);
    }
    candidates.retain(|c| allowed.get(&c.story_id).copied().unwrap_or(true));
    Ok(candidates)
}

/// The members of a story: (entry id, matched entry).
fn members(tx: &Transaction<'_>, story: &str) -> Result<Vec<(i64, Option<i64>)>, StoreError> {
    let mut stmt = tx
        .prepare_cached("SELECT entry_id, matched_entry FROM story_entries WHERE story_id = ?1 ORDER BY entry_id")
        .ctx("cannot read story")?;
    let rows = stmt.query_map([story], |r| Ok((r.get(0)?, r.get(1)?))).ctx("cannot read story")?;
    rows.collect::<Result<_, _>>().ctx("cannot read story")
}

/// Which sets of a split a story holds entries of.
fn sets_in(tx: &Transaction<'_>, story: &str, split: &SplitSet) -> Result<BTreeSet<usize>, StoreError> {
    let ids: BTreeSet<i64> = members(tx, story)?.into_iter().map(|(e, _)| e).collect();
    Ok(split.sets.iter().enumerate().filter(|(_, s)| s.iter().any(|e| ids.contains(e))).map(|(i, _)| i).collect())
}

fn event(
    tx: &Transaction<'_>,
    kind: &str,
    story: &str,
    other: Option<&str>,
    entries: &[i64],
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO story_events (at, kind, story_id, other_id, entries, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .ctx("cannot record story event")?
    .execute(params![ts(now), kind, story, other, serde_json::to_string(entries).unwrap_or_default(), reason])
    .ctx("cannot record story event")
    .map(|_| ())
}

/// Merges two stories when that keeps one version per language and no
/// `[[split]]` keeps their entries apart; the older id survives. Records
/// the merge with its reason.
pub(super) fn merge_stories(
    tx: &Transaction<'_>,
    a: &str,
    b: &str,
    reason: &str,
    splits: &[SplitSet],
    now: DateTime<Utc>,
) -> Result<Merge, StoreError> {
    if a == b {
        return Ok(Merge::Same);
    }
    let (la, lb) = (story_langs(tx, a)?, story_langs(tx, b)?);
    if let Some(l) = la.iter().find(|l| lb.contains(l)) {
        return Ok(Merge::Refused(format!("both stories have a version in {l:?}")));
    }
    for s in splits {
        let (sa, sb) = (sets_in(tx, a, s)?, sets_in(tx, b, s)?);
        if sa.iter().any(|i| sb.iter().any(|j| i != j)) {
            return Ok(Merge::Refused(format!("the [[split]] on line {} keeps them apart", s.line)));
        }
    }
    let (keep, gone) = older_first(tx, a, b)?;
    let moved: Vec<i64> = members(tx, &gone)?.into_iter().map(|(e, _)| e).collect();
    tx.execute("UPDATE story_entries SET story_id = ?1 WHERE story_id = ?2", params![keep, gone])
        .ctx("cannot merge stories")?;
    log(tx, &keep, "merged", &format!("story {gone} merged in: {reason}"), now)?;
    log(tx, &gone, "merged", &format!("merged into {keep}: {reason}"), now)?;
    event(tx, "merge", &keep, Some(&gone), &moved, reason, now)?;
    Ok(Merge::Merged { keep })
}

/// Entries that strong evidence ties to this one: those it links to with
/// hreflang, those linking to it, and those sharing an `id_pattern` id.
/// Each with the reason, in entry order.
fn strong_partners(tx: &Transaction<'_>, id: i64, f: &Features) -> Result<BTreeMap<i64, String>, StoreError> {
    let mut lookups: Vec<(String, String)> = Vec::new();
    for a in &f.alternates {
        lookups.push((format!("u:{a}"), format!("hreflang link from entry {id}")));
    }
    if let Some(u) = &f.url_key {
        lookups.push((format!("a:{u}"), format!("hreflang link to entry {id}")));
    }
    for p in &f.pattern_ids {
        lookups.push((format!("p:{p}"), format!("same id_pattern id ({})", p.trim_start_matches("pid:"))));
    }
    let mut stmt =
        tx.prepare_cached("SELECT entry_id FROM entry_keys WHERE key = ?1 LIMIT 20").ctx("cannot find partners")?;
    let mut out = BTreeMap::new();
    for (key, why) in lookups {
        let rows = stmt.query_map([key], |r| r.get::<_, i64>(0)).ctx("cannot find partners")?;
        for e in rows.collect::<Result<Vec<_>, _>>().ctx("cannot find partners")? {
            if e != id {
                out.entry(e).or_insert(why.clone());
            }
        }
    }
    Ok(out)
}

/// Late strong evidence for one assigned entry: merges its story with the
/// stories of its strong partners where allowed. Returns the merges made.
pub(super) fn merge_strong(
    tx: &Transaction<'_>,
    id: i64,
    f: &Features,
    splits: &[SplitSet],
    now: DateTime<Utc>,
) -> Result<u64, StoreError> {
    let mut merged = 0;
    for (other, why) in strong_partners(tx, id, f)? {
        let (Some((mine, _)), Some((theirs, _))) = (story_of(tx, id)?, story_of(tx, other)?) else { continue };
        if mine == theirs {
            continue;
        }
        if let Merge::Merged { .. } =
            merge_stories(tx, &mine, &theirs, &format!("{why} (entries {id} and {other})"), splits, now)?
        {
            merged += 1;
        }
    }
    Ok(merged)
}

/// Records a refused override once per story pair and reason.
fn refused_once(
    tx: &Transaction<'_>,
    story: &str,
    other: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let seen: Option<i64> = tx
        .prepare_cached(
            "SELECT id FROM story_events WHERE kind = 'refused' AND story_id = ?1 AND other_id = ?2 AND reason = ?3",
        )
        .ctx("cannot read story events")?
        .query_row(params![story, other, reason], |r| r.get(0))
        .optional()
        .ctx("cannot read story events")?;
    if seen.is_none() {
        event(tx, "refused", story, Some(other), &[], reason, now)?;
    }
    Ok(())
}

/// Applies one `[[merge]]`: joins the stories of the listed entries, in
/// list order, as far as one version per language (and the splits) allow.
fn apply_merge(
    tx: &Transaction<'_>,
    o: &Override,
    splits: &[SplitSet],
    now: DateTime<Utc>,
    stats: &mut ReconcileStats,
) -> Result<(), StoreError> {
    let reason = format!("[[merge]] override on line {} of the config", o.line);
    let mut target: Option<(String, String)> = None; // (story, url)
    for url in &o.urls {
        for e in entries_with_url(tx, url)? {
            let Some((story, _)) = story_of(tx, e)? else { continue };
            let Some((current, first_url)) = target.clone() else {
                target = Some((story, url.clone()));
                continue;
            };
            match merge_stories(tx, &current, &story, &reason, splits, now)? {
                Merge::Merged { keep } => {
                    stats.merged += 1;
                    target = Some((keep, first_url));
                }
                Merge::Same => {}
                Merge::Refused(why) => {
                    let warning =
                        format!("[[merge]] on line {}: {first_url} and {url} left in separate stories: {why}", o.line);
                    refused_once(tx, &current, &story, &warning, now)?;
                    if !stats.warnings.contains(&warning) {
                        stats.warnings.push(warning);
                    }
                }
            }
        }
    }
    Ok(())
}

/// Applies one resolved `[[split]]` to every story holding entries of two
/// or more of its URLs. Returns the stories split off.
fn apply_split(tx: &Transaction<'_>, split: &SplitSet, now: DateTime<Utc>) -> Result<u64, StoreError> {
    let mut stories: BTreeSet<String> = BTreeSet::new();
    for e in split.sets.iter().flatten() {
        if let Some((s, _)) = story_of(tx, *e)? {
            stories.insert(s);
        }
    }
    let mut made = 0;
    for story in stories {
        if sets_in(tx, &story, split)?.len() >= 2 {
            made += split_story(tx, &story, split, now)?;
        }
    }
    Ok(made)
}

/// The entry that started a story: the member whose own story id it is,
/// else the lowest entry id among the members without a match inside it.
fn founder(tx: &Transaction<'_>, story: &str, ms: &[(i64, Option<i64>)]) -> Result<Option<i64>, StoreError> {
    for (e, _) in ms {
        if let Some(id) = own_story_id(tx, *e, 0)?
            && id == story
        {
            return Ok(Some(*e));
        }
    }
    let inside: BTreeSet<i64> = ms.iter().map(|(e, _)| *e).collect();
    Ok(ms.iter().find(|(_, m)| !m.is_some_and(|m| inside.contains(&m))).or(ms.first()).map(|(e, _)| *e))
}

/// The story id entry `e` would start (`n` > 0: the n-th alternative).
fn own_story_id(tx: &Transaction<'_>, e: i64, n: u32) -> Result<Option<String>, StoreError> {
    let keys: Option<(String, String)> = tx
        .prepare_cached("SELECT s.key, e.key FROM entries e JOIN sources s ON s.id = e.source_id WHERE e.id = ?1")
        .ctx("cannot read entry")?
        .query_row([e], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .ctx("cannot read entry")?;
    Ok(keys.map(|(s, k)| {
        if n == 0 { crate::story::story_id(&s, &k) } else { crate::story::story_id(&s, &format!("{k}#split{n}")) }
    }))
}

/// Splits one story along a `[[split]]`: every member belongs to the
/// nearest listed entry above it in the chain of matches (itself included);
/// the set holding the founder (else the set whose entry has the lowest id)
/// stays with the unlisted rest under the story's id, every other set moves
/// to a story of its own, with its first entry's own story id.
fn split_story(tx: &Transaction<'_>, story: &str, split: &SplitSet, now: DateTime<Utc>) -> Result<u64, StoreError> {
    let ms = members(tx, story)?;
    let matched: BTreeMap<i64, Option<i64>> = ms.iter().copied().collect();
    let set_of = |e: i64| split.sets.iter().position(|s| s.contains(&e));
    let anchor = |mut e: i64| -> Option<usize> {
        for _ in 0..=ms.len() {
            if let Some(i) = set_of(e) {
                return Some(i);
            }
            e = (*matched.get(&e)?)?;
        }
        None
    };
    let mut parts: BTreeMap<usize, Vec<i64>> = BTreeMap::new();
    for (e, _) in &ms {
        if let Some(i) = anchor(*e) {
            parts.entry(i).or_default().push(*e);
        }
    }
    let founder = founder(tx, story, &ms)?;
    let stays = founder.and_then(anchor).or_else(|| {
        parts
            .iter()
            .min_by_key(|(i, _)| split.sets[**i].iter().filter(|e| matched.contains_key(e)).min())
            .map(|(i, _)| *i)
    });
    let reason = format!("[[split]] override on line {} of the config", split.line);
    let mut made = 0;
    for (i, moved) in parts {
        if Some(i) == stays {
            continue;
        }
        let Some(root) = split.sets[i].iter().copied().filter(|e| matched.contains_key(e)).min() else { continue };
        let mut new_id = None;
        for n in 0..100 {
            let Some(id) = own_story_id(tx, root, n)? else { break };
            let used: i64 = tx
                .query_row("SELECT COUNT(*) FROM story_entries WHERE story_id = ?1", [&id], |r| r.get(0))
                .ctx("cannot split story")?;
            if used == 0 && id != story {
                new_id = Some(id);
                break;
            }
        }
        let Some(new_id) = new_id else { continue };
        tx.execute("INSERT OR IGNORE INTO stories (id, created_at) VALUES (?1, ?2)", params![new_id, ts(now)])
            .ctx("cannot split story")?;
        let mut upd = tx
            .prepare_cached("UPDATE story_entries SET story_id = ?2 WHERE entry_id = ?1")
            .ctx("cannot split story")?;
        for e in &moved {
            upd.execute(params![e, new_id]).ctx("cannot split story")?;
        }
        // The roots of the new story started it: no match, the override as evidence.
        let ev = Evidence { score: 1.0, signals: vec![Signal { name: reason.clone(), score: 1.0 }] };
        for e in moved.iter().filter(|e| !matched.get(e).copied().flatten().is_some_and(|m| moved.contains(&m))) {
            tx.execute(
                "UPDATE story_entries SET matched_entry = NULL, role = 'version', evidence = ?2 WHERE entry_id = ?1",
                params![e, serde_json::to_string(&ev).unwrap_or_default()],
            )
            .ctx("cannot split story")?;
        }
        log(tx, story, "split", &format!("entries {moved:?} split off into {new_id}: {reason}"), now)?;
        log(tx, &new_id, "created", &format!("split off {story}: {reason}"), now)?;
        event(tx, "split", story, Some(&new_id), &moved, &reason, now)?;
        made += 1;
    }
    Ok(made)
}

/// Recomputes the `id_pattern` ids of the entries of sources whose pattern
/// changed since the features were stored, and queues them for a recheck.
fn refresh_patterns(tx: &Transaction<'_>, cache: &mut FeatureCache, rules: &StoryRules) -> Result<(), StoreError> {
    for sp in &rules.patterns {
        let name = format!("id_pattern {}", sp.source_key);
        let current = sp.pattern.as_ref().map(|p| format!("{}\n{}", sp.scope, p.pattern)).unwrap_or_default();
        let stored: Option<String> = tx
            .prepare_cached("SELECT value FROM rule_state WHERE name = ?1")
            .ctx("cannot read rule state")?
            .query_row([&name], |r| r.get(0))
            .optional()
            .ctx("cannot read rule state")?;
        if stored.as_deref().unwrap_or("") == current {
            continue;
        }
        let rows: Vec<(i64, Option<String>, Option<String>)> = {
            let mut stmt = tx
                .prepare(
                    "SELECT e.id, e.url, e.guid FROM entries e JOIN sources s ON s.id = e.source_id WHERE s.key = ?1",
                )
                .ctx("cannot read entries")?;
            let rows = stmt
                .query_map([&sp.source_key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .ctx("cannot read entries")?;
            rows.collect::<Result<_, _>>().ctx("cannot read entries")?
        };
        for (id, url, guid) in rows {
            let Some(f) = cache.get(tx, id)? else { continue };
            let ids = rules.pattern_ids(&sp.source_key, url.as_deref(), guid.as_deref());
            if ids != f.pattern_ids {
                let mut f = (*f).clone();
                f.pattern_ids = ids;
                store_features(tx, cache, id, f)?;
                queue_recheck(tx, id)?;
            }
        }
        tx.execute(
            "INSERT INTO rule_state (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = ?2",
            params![name, current],
        )
        .ctx("cannot store rule state")?;
    }
    Ok(())
}

/// Queues an entry for a strong-evidence recheck.
pub(super) fn queue_recheck(tx: &Transaction<'_>, id: i64) -> Result<(), StoreError> {
    tx.prepare_cached("INSERT OR IGNORE INTO story_recheck (entry_id) VALUES (?1)")
        .ctx("cannot queue recheck")?
        .execute([id])
        .ctx("cannot queue recheck")
        .map(|_| ())
}

/// The whole re-evaluation, in one transaction: splits first, then late
/// strong evidence (changed patterns, queued entries), then merges asked
/// for by the user, each checked against the splits.
pub(super) fn reconcile(
    conn: &mut rusqlite::Connection,
    cache: &mut FeatureCache,
    rules: &StoryRules,
    now: DateTime<Utc>,
) -> Result<ReconcileStats, StoreError> {
    let tx =
        conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).ctx("cannot start re-evaluation")?;
    let mut stats = ReconcileStats::default();
    let splits = resolve_splits(&tx, rules)?;
    for s in &splits {
        stats.split += apply_split(&tx, s, now)?;
    }
    refresh_patterns(&tx, cache, rules)?;
    let queued: Vec<i64> = {
        let mut stmt =
            tx.prepare("SELECT entry_id FROM story_recheck ORDER BY entry_id").ctx("cannot read rechecks")?;
        let rows = stmt.query_map([], |r| r.get(0)).ctx("cannot read rechecks")?;
        rows.collect::<Result<_, _>>().ctx("cannot read rechecks")?
    };
    for id in queued {
        if story_of(&tx, id)?.is_none() {
            continue; // not assigned yet: assignment sees the evidence
        }
        if let Some(f) = cache.get(&tx, id)? {
            stats.merged += merge_strong(&tx, id, &f, &splits, now)?;
        }
        tx.execute("DELETE FROM story_recheck WHERE entry_id = ?1", [id]).ctx("cannot clear recheck")?;
    }
    for m in &rules.merges {
        apply_merge(&tx, m, &splits, now, &mut stats)?;
    }
    tx.commit().ctx("cannot commit re-evaluation")?;
    Ok(stats)
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

impl Store {
    /// Re-evaluates stories against late evidence and the config's rules
    /// (see the module documentation). Run after every assignment, and
    /// before publishing, so config changes apply without new entries.
    pub fn reconcile_stories(&mut self, rules: &StoryRules) -> Result<ReconcileStats, StoreError> {
        reconcile(&mut self.conn, &mut self.features, rules, crate::clock::now())
    }

    /// The merges and splits a story took part in, oldest first.
    pub fn story_events(&self, story_id: &str) -> Result<Vec<StoryEvent>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT at, kind, story_id, other_id, entries, reason FROM story_events
                 WHERE story_id = ?1 OR other_id = ?1 ORDER BY id",
            )
            .ctx("cannot read story events")?;
        let rows = stmt
            .query_map([story_id], |r| {
                let entries: String = r.get(4)?;
                Ok(StoryEvent {
                    at: r.get(0)?,
                    kind: r.get(1)?,
                    story_id: r.get(2)?,
                    other_id: r.get(3)?,
                    entries: serde_json::from_str(&entries).unwrap_or_default(),
                    reason: r.get(5)?,
                })
            })
            .ctx("cannot read story events")?;
        rows.collect::<Result<_, _>>().ctx("cannot read story events")
    }
}
