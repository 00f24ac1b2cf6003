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
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{Event, ReconcileStats, Role, StoryData, StoryRules};
use crate::config::Override;
use crate::dedup::{Candidate, Evidence, Features, Link, Signal};

/// Partners looked at per strong-evidence key.
const PER_PARTNER_KEY: usize = 20;

/// One `[[split]]` resolved to stored entries: per listed URL, its entries.
#[derive(Debug, Clone)]
pub(super) struct SplitSet {
    line: usize,
    sets: Vec<Vec<i64>>,
}

/// How a merge attempt ended.
enum Merge {
    /// `gone` was merged into `keep`.
    Merged { keep: String },
    /// Already one story.
    Same,
    /// Not merged, and why.
    Refused(String),
}

/// The entries whose canonical URL folds to the same as `url`.
fn entries_with_url<D: StoryData>(data: &mut D, url: &str) -> Result<Vec<i64>, D::Error> {
    let Some(folded) = crate::dedup::fold_url(url) else { return Ok(Vec::new()) };
    data.entries_with_key(&format!("u:{folded}"), None)
}

/// Resolves the `[[split]]` overrides to the entries stored so far.
pub(super) fn resolve_splits<D: StoryData>(data: &mut D, rules: &StoryRules) -> Result<Vec<SplitSet>, D::Error> {
    let mut out = Vec::new();
    for s in &rules.splits {
        let sets = s.urls.iter().map(|u| entries_with_url(data, u)).collect::<Result<Vec<_>, _>>()?;
        if sets.iter().filter(|s| !s.is_empty()).count() >= 2 {
            out.push(SplitSet { line: s.line, sets });
        }
    }
    Ok(out)
}

/// Resolves the `[[merge]]` overrides to the entries stored so far: the
/// entries of each.
pub(super) fn resolve_merges<D: StoryData>(data: &mut D, rules: &StoryRules) -> Result<Vec<BTreeSet<i64>>, D::Error> {
    let mut out = Vec::new();
    for m in &rules.merges {
        let mut set = BTreeSet::new();
        for u in &m.urls {
            set.extend(entries_with_url(data, u)?);
        }
        if set.len() >= 2 {
            out.push(set);
        }
    }
    Ok(out)
}

/// Drops the candidates whose story holds an entry that a `[[split]]` keeps
/// apart from the new entry `id`, so that assignment never joins them.
pub(super) fn drop_split_candidates<D: StoryData>(
    data: &mut D,
    id: i64,
    mut candidates: Vec<Candidate>,
    splits: &[SplitSet],
) -> Result<Vec<Candidate>, D::Error> {
    let mine: Vec<(&SplitSet, usize)> =
        splits.iter().filter_map(|s| s.sets.iter().position(|set| set.contains(&id)).map(|i| (s, i))).collect();
    if mine.is_empty() {
        return Ok(candidates);
    }
    let mut allowed: BTreeMap<Arc<str>, bool> = BTreeMap::new();
    for c in &candidates {
        if allowed.contains_key(&c.story_id) {
            continue;
        }
        let mut ok = true;
        for (s, i) in &mine {
            ok &= sets_in(data, &c.story_id, s)?.iter().all(|j| j == i);
        }
        allowed.insert(c.story_id.clone(), ok);
    }
    candidates.retain(|c| allowed.get(&c.story_id).copied().unwrap_or(true));
    Ok(candidates)
}

/// Which sets of a split a story holds entries of.
fn sets_in<D: StoryData>(data: &mut D, story: &str, split: &SplitSet) -> Result<BTreeSet<usize>, D::Error> {
    let ids: BTreeSet<i64> = data.members(story)?.into_iter().map(|(e, _)| e).collect();
    Ok(split.sets.iter().enumerate().filter(|(_, s)| s.iter().any(|e| ids.contains(e))).map(|(i, _)| i).collect())
}

/// (older, younger) of two stories: by creation time, then (stories created
/// in one cycle) by their earliest entry publication time, the order
/// assignment met them in, then by id.
fn older_first<D: StoryData>(data: &mut D, a: &str, b: &str) -> Result<(String, String), D::Error> {
    let (ca, cb) = (data.story_age(a)?, data.story_age(b)?);
    Ok(if (ca.created, ca.first_published, a) <= (cb.created, cb.first_published, b) {
        (a.to_string(), b.to_string())
    } else {
        (b.to_string(), a.to_string())
    })
}

/// Merges two stories when that keeps one version per language and no
/// `[[split]]` keeps their entries apart; the older id survives. Records
/// the merge with its reason.
fn merge_stories<D: StoryData>(
    data: &mut D,
    a: &str,
    b: &str,
    reason: &str,
    splits: &[SplitSet],
    now: DateTime<Utc>,
) -> Result<Merge, D::Error> {
    if a == b {
        return Ok(Merge::Same);
    }
    let (la, lb) = (data.story_langs(a)?, data.story_langs(b)?);
    if let Some(l) = la.iter().find(|l| lb.contains(l)) {
        return Ok(Merge::Refused(format!("both stories have a version in {l:?}")));
    }
    for s in splits {
        let (sa, sb) = (sets_in(data, a, s)?, sets_in(data, b, s)?);
        if sa.iter().any(|i| sb.iter().any(|j| i != j)) {
            return Ok(Merge::Refused(format!("the [[split]] on line {} keeps them apart", s.line)));
        }
    }
    let (keep, gone) = older_first(data, a, b)?;
    let moved: Vec<i64> = data.members(&gone)?.into_iter().map(|(e, _)| e).collect();
    data.move_members(&gone, &keep)?;
    data.log(&keep, "merged", &format!("story {gone} merged in: {reason}"), now)?;
    data.log(&gone, "merged", &format!("merged into {keep}: {reason}"), now)?;
    let event = Event { kind: "merge", story: &keep, other: Some(&gone), entries: &moved, reason };
    data.event(&event, now)?;
    Ok(Merge::Merged { keep })
}

/// Entries that strong evidence ties to this one: those it links to with
/// hreflang, those linking to it, and those sharing an `id_pattern` id.
/// Each with the reason, in entry order.
fn strong_partners<D: StoryData>(data: &mut D, id: i64, f: &Features) -> Result<BTreeMap<i64, String>, D::Error> {
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
    let mut out = BTreeMap::new();
    for (key, why) in lookups {
        for e in data.entries_with_key(&key, Some(PER_PARTNER_KEY))? {
            if e != id {
                out.entry(e).or_insert(why.clone());
            }
        }
    }
    Ok(out)
}

/// Late strong evidence for one assigned entry: merges its story with the
/// stories of its strong partners where allowed. Returns the merges made.
pub(super) fn merge_strong<D: StoryData>(
    data: &mut D,
    id: i64,
    f: &Features,
    splits: &[SplitSet],
    now: DateTime<Utc>,
) -> Result<u64, D::Error> {
    let mut merged = 0;
    for (other, why) in strong_partners(data, id, f)? {
        let (Some(mine), Some(theirs)) = (data.story_of(id)?, data.story_of(other)?) else { continue };
        if mine == theirs {
            continue;
        }
        if let Merge::Merged { .. } =
            merge_stories(data, &mine, &theirs, &format!("{why} (entries {id} and {other})"), splits, now)?
        {
            merged += 1;
        }
    }
    Ok(merged)
}

/// The other stories a new version also matches by content
/// ([`crate::dedup::Decision::Version`]'s links): merged into its story where one
/// version per language and the splits allow. Returns the merges made.
pub(super) fn merge_linked<D: StoryData>(
    data: &mut D,
    id: i64,
    links: &[Link],
    splits: &[SplitSet],
    now: DateTime<Utc>,
) -> Result<u64, D::Error> {
    let mut merged = 0;
    for l in links {
        let Some(mine) = data.story_of(id)? else { continue };
        let Some(theirs) = data.story_of(l.entry)? else { continue };
        let why = format!("entry {id} is a version of both (matched entry {} at {:.2})", l.entry, l.score);
        if let Merge::Merged { .. } = merge_stories(data, &mine, &theirs, &why, splits, now)? {
            merged += 1;
        }
    }
    Ok(merged)
}

/// Parts a two-version story by language before new entry `by` takes the
/// place of `displaced` (see `dedup::Decision::Version`'s `displaces`): the
/// part holding the founder keeps the story's id, the other becomes a story
/// of its own (recorded as a split). False when the story could not be
/// parted (then it still holds `displaced`).
pub(super) fn displace<D: StoryData>(
    data: &mut D,
    story: &str,
    displaced: i64,
    by: i64,
    now: DateTime<Utc>,
) -> Result<bool, D::Error> {
    let langs: BTreeMap<i64, Option<String>> = data.roles(story)?.into_iter().map(|r| (r.entry, r.lang)).collect();
    let Some(theirs) = langs.get(&displaced).cloned() else { return Ok(false) };
    let (with, rest): (Vec<i64>, Vec<i64>) = langs.keys().copied().partition(|e| langs[e] == theirs);
    if rest.is_empty() {
        return Ok(false);
    }
    let split = SplitSet { line: 0, sets: vec![with, rest] };
    let reason = format!("entry {by} matched the other version far better than entry {displaced} did");
    Ok(split_story(data, story, &split, &reason, now)? > 0)
}

/// Records a refused override once per story pair and reason.
fn refused_once<D: StoryData>(
    data: &mut D,
    story: &str,
    other: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), D::Error> {
    if !data.refusal_recorded(story, other, reason)? {
        let event = Event { kind: "refused", story, other: Some(other), entries: &[], reason };
        data.event(&event, now)?;
    }
    Ok(())
}

/// Applies one `[[merge]]`: joins the stories of the listed entries, in
/// list order, as far as one version per language (and the splits) allow.
fn apply_merge<D: StoryData>(
    data: &mut D,
    o: &Override,
    splits: &[SplitSet],
    now: DateTime<Utc>,
    stats: &mut ReconcileStats,
) -> Result<(), D::Error> {
    let reason = format!("[[merge]] override on line {} of the config", o.line);
    let mut target: Option<(String, String)> = None; // (story, url)
    for url in &o.urls {
        for e in entries_with_url(data, url)? {
            let Some(story) = data.story_of(e)? else { continue };
            let Some((current, first_url)) = target.clone() else {
                target = Some((story, url.clone()));
                continue;
            };
            match merge_stories(data, &current, &story, &reason, splits, now)? {
                Merge::Merged { keep } => {
                    stats.merged += 1;
                    target = Some((keep, first_url));
                }
                Merge::Same => {}
                Merge::Refused(why) => {
                    let warning =
                        format!("[[merge]] on line {}: {first_url} and {url} left in separate stories: {why}", o.line);
                    refused_once(data, &current, &story, &warning, now)?;
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
fn apply_split<D: StoryData>(data: &mut D, split: &SplitSet, now: DateTime<Utc>) -> Result<u64, D::Error> {
    let mut stories: BTreeSet<String> = BTreeSet::new();
    for e in split.sets.iter().flatten() {
        if let Some(s) = data.story_of(*e)? {
            stories.insert(s);
        }
    }
    let mut made = 0;
    for story in stories {
        if sets_in(data, &story, split)?.len() >= 2 {
            let reason = format!("[[split]] override on line {} of the config", split.line);
            made += split_story(data, &story, split, &reason, now)?;
        }
    }
    Ok(made)
}

/// The entry that started a story: the member whose own story id it is (in
/// either form, see [`crate::story::is_own_story_id`]),
/// else the lowest entry id among the members without a match inside it.
fn founder<D: StoryData>(data: &mut D, story: &str, ms: &[(i64, Option<i64>)]) -> Result<Option<i64>, D::Error> {
    for (e, _) in ms {
        if let Some(id) = data.entry_identity(*e)?
            && crate::story::is_own_story_id(story, &id.source_key, &id.key)
        {
            return Ok(Some(*e));
        }
    }
    let inside: BTreeSet<i64> = ms.iter().map(|(e, _)| *e).collect();
    Ok(ms.iter().find(|(_, m)| !m.is_some_and(|m| inside.contains(&m))).or(ms.first()).map(|(e, _)| *e))
}

/// The story id entry `e` would start (`n` > 0: the n-th alternative).
fn own_story_id<D: StoryData>(data: &mut D, e: i64, n: u32) -> Result<Option<String>, D::Error> {
    Ok(data.entry_identity(e)?.map(|id| {
        let key = if n == 0 { id.key } else { format!("{}#split{n}", id.key) };
        crate::story::story_id(&id.source_key, &key, id.dated.then_some(id.published))
    }))
}

/// Splits one story along a `[[split]]`: every member belongs to the
/// nearest listed entry above it in the chain of matches (itself included);
/// the set holding the founder (else the set whose entry has the lowest id)
/// stays with the unlisted rest under the story's id, every other set moves
/// to a story of its own, with its first entry's own story id.
fn split_story<D: StoryData>(
    data: &mut D,
    story: &str,
    split: &SplitSet,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<u64, D::Error> {
    let ms = data.members(story)?;
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
    let founder = founder(data, story, &ms)?;
    let stays = founder.and_then(anchor).or_else(|| {
        parts
            .iter()
            .min_by_key(|(i, _)| split.sets[**i].iter().filter(|e| matched.contains_key(e)).min())
            .map(|(i, _)| *i)
    });
    let mut made = 0;
    for (i, moved) in parts {
        if Some(i) == stays {
            continue;
        }
        let Some(root) = split.sets[i].iter().copied().filter(|e| matched.contains_key(e)).min() else { continue };
        let mut new_id = None;
        for n in 0..100 {
            let Some(id) = own_story_id(data, root, n)? else { break };
            if data.story_size(&id)? == 0 && id != story {
                new_id = Some(id);
                break;
            }
        }
        let Some(new_id) = new_id else { continue };
        data.create_story(&new_id, now)?;
        for e in &moved {
            data.move_entry(*e, &new_id)?;
        }
        // The roots of the new story started it: no match, the override as evidence.
        let ev = Evidence { score: 1.0, signals: vec![Signal { name: reason.to_string(), score: 1.0 }] };
        for e in moved.iter().filter(|e| !matched.get(e).copied().flatten().is_some_and(|m| moved.contains(&m))) {
            data.make_root(*e, &ev)?;
        }
        data.log(story, "split", &format!("entries {moved:?} split off into {new_id}: {reason}"), now)?;
        data.log(&new_id, "created", &format!("split off {story}: {reason}"), now)?;
        let event = Event { kind: "split", story, other: Some(&new_id), entries: &moved, reason };
        data.event(&event, now)?;
        made += 1;
    }
    Ok(made)
}

/// Recomputes the `id_pattern` ids of the entries of sources whose pattern
/// changed since the features were stored, and queues them for a recheck.
fn refresh_patterns<D: StoryData>(data: &mut D, rules: &StoryRules) -> Result<(), D::Error> {
    for sp in &rules.patterns {
        let name = format!("id_pattern {}", sp.source_key);
        let current = sp.pattern.as_ref().map(|p| format!("{}\n{}", sp.scope, p.pattern)).unwrap_or_default();
        if data.rule_state(&name)?.as_deref().unwrap_or("") == current {
            continue;
        }
        for super::SourceEntry { id, url, guid } in data.entries_of_source(&sp.source_key)? {
            let Some(f) = data.features(id)? else { continue };
            let ids = rules.pattern_ids(&sp.source_key, url.as_deref(), guid.as_deref());
            if ids != f.pattern_ids {
                let mut f = (*f).clone();
                f.pattern_ids = ids;
                data.store_features(id, f)?;
                data.queue_recheck(id)?;
            }
        }
        data.set_rule_state(&name, &current)?;
    }
    Ok(())
}

/// The whole re-evaluation, inside the caller's transaction: splits first,
/// then late strong evidence (changed patterns, queued entries), then
/// merges asked for by the user, each checked against the splits.
pub fn reconcile<D: StoryData>(
    data: &mut D,
    rules: &StoryRules,
    now: DateTime<Utc>,
) -> Result<ReconcileStats, D::Error> {
    let mut stats = ReconcileStats::default();
    let splits = resolve_splits(data, rules)?;
    for s in &splits {
        stats.split += apply_split(data, s, now)?;
    }
    refresh_patterns(data, rules)?;
    for id in data.rechecks()? {
        if data.story_of(id)?.is_none() {
            continue; // not assigned yet: assignment sees the evidence
        }
        if let Some(f) = data.features(id)? {
            stats.merged += merge_strong(data, id, &f, &splits, now)?;
        }
        data.clear_recheck(id)?;
    }
    for m in &rules.merges {
        apply_merge(data, m, &splits, now, &mut stats)?;
    }
    Ok(stats)
}

/// What [`repair_after_purge`] did to a story.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repair {
    /// No entry was left: the story is gone.
    Deleted,
    /// These duplicates became their language's version.
    Promoted(Vec<i64>),
}

/// After the entries of source `source_key` were deleted from `story`:
/// deletes it if empty, else promotes, in each language left without a
/// version, the duplicate that joined first (then the lowest entry id), so
/// every remaining entry still belongs to a story with one version per
/// language. Logged in the story's log.
pub fn repair_after_purge<D: StoryData>(
    data: &mut D,
    story: &str,
    source_key: &str,
    now: DateTime<Utc>,
) -> Result<Repair, D::Error> {
    let members = data.roles(story)?;
    if members.is_empty() {
        data.delete_story(story)?;
        data.log(story, "purged", &format!("every entry was removed with source {source_key}; story deleted"), now)?;
        return Ok(Repair::Deleted);
    }
    let has_version = |lang: &Option<String>| members.iter().any(|m| m.role == Role::Version && m.lang == *lang);
    let mut first: BTreeMap<Option<&str>, &super::MemberRole> = BTreeMap::new();
    for m in members.iter().filter(|m| m.role == Role::Duplicate && !has_version(&m.lang)) {
        let best = first.entry(m.lang.as_deref()).or_insert(m);
        if (m.joined, m.entry) < (best.joined, best.entry) {
            *best = m;
        }
    }
    let mut promoted: Vec<i64> = first.values().map(|m| m.entry).collect();
    promoted.sort_unstable();
    for e in &promoted {
        data.promote(*e)?;
    }
    let detail = match promoted.as_slice() {
        [] => format!("entries of source {source_key} removed"),
        p => format!(
            "entries of source {source_key} removed; promoted to version: entry {}",
            p.iter().map(i64::to_string).collect::<Vec<_>>().join(", entry ")
        ),
    };
    data.log(story, "purged", &detail, now)?;
    Ok(Repair::Promoted(promoted))
}
