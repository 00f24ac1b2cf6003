//! The story rules, once, over any database: assignment of new entries to
//! stories (the in-memory window of assigned neighbours, the candidates,
//! `dedup::decide`, the record of each decision), and the re-evaluation of
//! assigned stories by strong evidence (late hreflang links, `id_pattern`
//! ids, the user's `[[merge]]` and `[[split]]` overrides, the choice of a
//! story's founder). No SQL and no IO of its own: the rules read and write
//! through [`StoryData`], a narrow data-access trait in plain types that
//! each store engine implements over one of its transactions (SQLite:
//! `store::stories`). The caller opens the transaction, runs one of
//! [`assign_pending`] or [`reconcile`] and commits: one transaction per
//! batch. The decision itself (scores, thresholds) is `dedup`'s.
//!
//! - `assign.rs`: [`assign_pending`], the window, the candidates.
//! - `reconcile.rs`: [`reconcile`], merges, splits, founders, patterns;
//!   [`repair_after_purge`], a story that lost entries with their source.
//! - `cache.rs`: [`FeatureCache`], decoded features kept by recency (an
//!   engine keeps one for the life of its store).
//! - `memory.rs` (tests): an in-memory [`StoryData`] the rules are unit
//!   tested on.
//!
//! Times cross the trait at one-second precision (the stores keep them as
//! RFC 3339 text to the second); the rules compare them as times.

mod assign;
mod cache;
#[cfg(test)]
mod memory;
mod reconcile;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::{Config, IdPattern, Override};
use crate::dedup::{Evidence, Features};
use crate::model::Entry;

pub use assign::{NEAREST, assign_pending};
pub use cache::FeatureCache;
pub use reconcile::{Repair, reconcile, repair_after_purge};

/// The entries without a story yet, as assignment takes them. A cold poll
/// of 10,000 feeds lists 500,000 at once, so they are held compactly: 40
/// bytes per entry (a 32-byte [`Pending`] and where its key ends) and its
/// key's bytes in one buffer, what the entries of one source share once
/// ([`PendingSource`]). An entry with its own source handle and key
/// allocation took about twice that (issue 15).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Waiting {
    entries: Vec<Pending>,
    sources: Vec<PendingSource>,
    /// Index in `sources` of each source row id added.
    source_at: HashMap<i64, u32>,
    /// Every entry's key, one after another, in the order added.
    keys: String,
    /// Where each entry's key ends in `keys`, in the order added.
    ends: Vec<usize>,
}

/// An entry without a story yet: its key and source are in its
/// [`Waiting`] list.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pending {
    /// Entry row id.
    pub id: i64,
    /// Its publication time as stored.
    pub published: DateTime<Utc>,
    /// Whether its feed gave that time (else it is when it was first seen).
    pub dated: bool,
    /// Its source's index in the list's sources.
    source: u32,
    /// The order it was added in (where its key is).
    row: u32,
}

/// The source of [`Pending`] entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingSource {
    /// The source's row id.
    pub id: i64,
    /// The source's key (the configured URL).
    pub key: String,
    /// Its publisher group.
    pub group: Option<String>,
}

impl Waiting {
    /// The index of the source with row id `id`, added with what
    /// `describe` gives (its key and group) the first time it is met.
    pub fn source<E>(
        &mut self,
        id: i64,
        describe: impl FnOnce() -> Result<(String, Option<String>), E>,
    ) -> Result<u32, E> {
        if let Some(at) = self.source_at.get(&id) {
            return Ok(*at);
        }
        let (key, group) = describe()?;
        // Sources are rows of one table, far fewer than 2^32.
        let at = u32::try_from(self.sources.len()).expect("fewer than 2^32 sources");
        self.sources.push(PendingSource { id, key, group });
        self.source_at.insert(id, at);
        Ok(at)
    }

    /// Adds entry `id` of the source at `source` (from [`Waiting::source`]).
    pub fn push(&mut self, id: i64, source: u32, published: DateTime<Utc>, dated: bool, key: &str) {
        // Each entry takes 40 bytes here and more in the store: 2^32 of
        // them (over 160 GiB) would not fit in memory. Were it otherwise,
        // stopping is better than a row that wraps to another entry's key.
        let row = u32::try_from(self.entries.len()).expect("fewer than 2^32 waiting entries");
        self.keys.push_str(key);
        self.ends.push(self.keys.len());
        self.entries.push(Pending { id, published, dated, source, row });
    }

    /// Puts the entries in the order they are assigned in: by publication
    /// time, then source key and entry key (unique: one entry per source
    /// and key).
    pub fn sort(&mut self) {
        let Waiting { entries, sources, keys, ends, .. } = self;
        let order = |p: &Pending| (p.published, sources[p.source as usize].key.as_str(), key_at(keys, ends, p.row));
        // Keys are unique: the unstable sort gives the one order, without
        // the stable sort's scratch copy of half the list.
        entries.sort_unstable_by(|a, b| order(a).cmp(&order(b)));
        debug_assert!(entries.windows(2).all(|w| order(&w[0]) < order(&w[1])), "waiting entries with one key");
    }

    /// The entries, in the order added or, after [`Waiting::sort`], in
    /// assignment order.
    pub fn entries(&self) -> &[Pending] {
        &self.entries
    }

    /// The key of entry `p` within its source.
    pub fn key(&self, p: &Pending) -> &str {
        key_at(&self.keys, &self.ends, p.row)
    }

    /// The source of entry `p`.
    pub fn source_of(&self, p: &Pending) -> &PendingSource {
        &self.sources[p.source as usize]
    }
}

/// The key of the entry added as `row`: from the end of the one before.
fn key_at<'a>(keys: &'a str, ends: &[usize], row: u32) -> &'a str {
    let row = row as usize;
    let start = if row == 0 { 0 } else { ends[row - 1] };
    &keys[start..ends[row]]
}

/// An assigned entry in the window of publication times around a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    /// Its publication time as stored.
    pub published: DateTime<Utc>,
    /// Its source's row id.
    pub source_id: i64,
    /// Its key within the source.
    pub key: String,
    /// Entry row id.
    pub id: i64,
    /// Its story.
    pub story: String,
    /// Its source's publisher group, if any.
    pub group: Option<String>,
}

/// When a story began: what decides which of two merged stories is older.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoryAge {
    /// When the story was created.
    pub created: DateTime<Utc>,
    /// The earliest publication time among its members.
    pub first_published: Option<DateTime<Utc>>,
}

/// A member with its role, as a repair after a purge needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberRole {
    /// Entry row id.
    pub entry: i64,
    /// Version or duplicate.
    pub role: Role,
    /// Its primary language subtag.
    pub lang: Option<String>,
    /// When it joined the story.
    pub joined: DateTime<Utc>,
}

/// An entry of a source, with what its `id_pattern` ids come from.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceEntry {
    /// Entry row id.
    pub id: i64,
    /// Its URL.
    pub url: Option<String>,
    /// Its guid.
    pub guid: Option<String>,
}

/// How an entry belongs to its story.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The story's version in the entry's language.
    Version,
    /// A same-language copy of a member.
    Duplicate,
}

impl Role {
    /// The stored name (`version`, `duplicate`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Version => "version",
            Role::Duplicate => "duplicate",
        }
    }
}

/// A membership to record: an entry joins (or starts) a story.
#[derive(Debug, Clone, Copy)]
pub struct Join<'a> {
    /// The entry.
    pub entry: i64,
    /// The story.
    pub story: &'a str,
    /// As what.
    pub role: Role,
    /// The entry's primary language subtag.
    pub lang: Option<&'a str>,
    /// The member it was matched with (none: it started the story).
    pub matched: Option<i64>,
    /// Why.
    pub evidence: &'a Evidence,
}

/// A merge, split or refused override to record in `story_events`.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    /// `merge`, `split` or `refused`.
    pub kind: &'a str,
    /// The surviving (merge) or kept (split) story.
    pub story: &'a str,
    /// The story merged in, split off, or not merged.
    pub other: Option<&'a str>,
    /// The entries that moved.
    pub entries: &'a [i64],
    /// Why.
    pub reason: &'a str,
}

/// What the story rules read and write, in plain types: one transaction of
/// one store engine. Every method acts inside that transaction; the caller
/// commits. Orders that the rules depend on are part of each method's
/// contract.
pub trait StoryData {
    /// The engine's error.
    type Error;

    /// Every entry without a story (new in this cycle, or left by an
    /// interrupted run), in any order.
    fn unassigned(&mut self) -> Result<Waiting, Self::Error>;
    /// An entry's stored features (none: not stored or unreadable).
    fn features(&mut self, entry: i64) -> Result<Option<Arc<Features>>, Self::Error>;
    /// Stores an entry's features and replaces its identity keys with
    /// `f.keys()`.
    fn store_features(&mut self, entry: i64, f: Features) -> Result<(), Self::Error>;
    /// An entry as stored (to compute features it was stored without).
    fn entry(&mut self, entry: i64) -> Result<Option<Entry>, Self::Error>;
    /// The hrefs of the alternate links found on an entry's page, if fetched.
    fn page_links(&mut self, entry: i64) -> Result<Vec<String>, Self::Error>;
    /// The entries holding identity key `key`, lowest id first, at most `limit`.
    fn entries_with_key(&mut self, key: &str, limit: Option<usize>) -> Result<Vec<i64>, Self::Error>;
    /// Appends to `out` the assigned entries holding identity key `key`
    /// with their stories, lowest id first, at most `limit`.
    fn assigned_with_key(&mut self, key: &str, limit: usize, out: &mut Vec<(i64, String)>) -> Result<(), Self::Error>;
    /// The assigned entries published from `from` to `to` (inclusive).
    fn assigned_between(&mut self, from: DateTime<Utc>, to: DateTime<Utc>) -> Result<Vec<Placed>, Self::Error>;
    /// (story, language) of every version with a language in the stories
    /// of the entries published from `from` to `to`; distinct pairs.
    fn version_langs_between(
        &mut self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<(String, String)>, Self::Error>;
    /// (story, language) of every version with a language in these stories.
    fn version_langs_of(&mut self, stories: &[&str]) -> Result<Vec<(String, String)>, Self::Error>;
    /// The story of an entry.
    fn story_of(&mut self, entry: i64) -> Result<Option<String>, Self::Error>;
    /// The distinct languages of a story's versions.
    fn story_langs(&mut self, story: &str) -> Result<Vec<String>, Self::Error>;
    /// A story's members, (entry, matched entry), by entry id.
    fn members(&mut self, story: &str) -> Result<Vec<(i64, Option<i64>)>, Self::Error>;
    /// The number of entries in a story.
    fn story_size(&mut self, story: &str) -> Result<u64, Self::Error>;
    /// When a story was created, and its members' earliest publication time.
    fn story_age(&mut self, story: &str) -> Result<StoryAge, Self::Error>;
    /// What an entry's own story id is made of.
    fn entry_identity(&mut self, entry: i64) -> Result<Option<EntryIdentity>, Self::Error>;
    /// Every entry of the source with this key.
    fn entries_of_source(&mut self, source_key: &str) -> Result<Vec<SourceEntry>, Self::Error>;
    /// Creates a story unless it exists.
    fn create_story(&mut self, story: &str, at: DateTime<Utc>) -> Result<(), Self::Error>;
    /// Records (or replaces) an entry's membership.
    fn join(&mut self, join: &Join<'_>, at: DateTime<Utc>) -> Result<(), Self::Error>;
    /// Moves every member of story `from` to story `to`.
    fn move_members(&mut self, from: &str, to: &str) -> Result<(), Self::Error>;
    /// Moves one entry to story `to`, keeping its role and evidence.
    fn move_entry(&mut self, entry: i64, to: &str) -> Result<(), Self::Error>;
    /// Makes a member a root of its story: a version, matched with nothing,
    /// with this evidence.
    fn make_root(&mut self, entry: i64, evidence: &Evidence) -> Result<(), Self::Error>;
    /// A story's members with their roles, by entry id.
    fn roles(&mut self, story: &str) -> Result<Vec<MemberRole>, Self::Error>;
    /// Makes a duplicate its language's version, matched with nothing
    /// (its evidence kept).
    fn promote(&mut self, entry: i64) -> Result<(), Self::Error>;
    /// Deletes a story that has no members left.
    fn delete_story(&mut self, story: &str) -> Result<(), Self::Error>;
    /// Appends a line to a story's log.
    fn log(&mut self, story: &str, action: &str, detail: &str, at: DateTime<Utc>) -> Result<(), Self::Error>;
    /// Records a story event.
    fn event(&mut self, event: &Event<'_>, at: DateTime<Utc>) -> Result<(), Self::Error>;
    /// True when a `refused` event with these stories and reason exists.
    fn refusal_recorded(&mut self, story: &str, other: &str, reason: &str) -> Result<bool, Self::Error>;
    /// A remembered rule state (`id_pattern KEY`).
    fn rule_state(&mut self, name: &str) -> Result<Option<String>, Self::Error>;
    /// Remembers a rule state.
    fn set_rule_state(&mut self, name: &str, value: &str) -> Result<(), Self::Error>;
    /// Queues an entry for a strong-evidence recheck.
    fn queue_recheck(&mut self, entry: i64) -> Result<(), Self::Error>;
    /// The queued entries, by id.
    fn rechecks(&mut self) -> Result<Vec<i64>, Self::Error>;
    /// Takes an entry off the queue.
    fn clear_recheck(&mut self, entry: i64) -> Result<(), Self::Error>;
}

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

/// What an entry's own story id is made of ([`crate::story::story_id`]).
#[derive(Debug, Clone, PartialEq)]
pub struct EntryIdentity {
    /// Its source's key.
    pub source_key: String,
    /// Its key within the source.
    pub key: String,
    /// Its publication time now.
    pub published: DateTime<Utc>,
    /// Whether its feed gave that time.
    pub dated: bool,
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
    pub fn pattern_ids(&self, source_key: &str, url: Option<&str>, guid: Option<&str>) -> Vec<String> {
        match self.patterns.iter().find(|p| p.source_key == source_key) {
            Some(SourcePattern { pattern: Some(p), scope, .. }) => {
                crate::dedup::pattern_ids(&p.regex, scope, url, guid)
            }
            _ => Vec::new(),
        }
    }
}

/// What story assignment did with the new entries of a cycle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AssignStats {
    /// Entries that started a story of their own.
    pub new_stories: u64,
    /// Entries that joined a story as another language version.
    pub versions: u64,
    /// Entries recognised as same-language duplicates.
    pub duplicates: u64,
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

/// Adds folded links (not the entry's own URL) to an entry's alternates;
/// true when something was added. Links found on an entry's page count as
/// its own explicit alternates.
pub fn add_links<'a>(f: &mut Features, hrefs: impl Iterator<Item = &'a str>) -> bool {
    let before = f.alternates.len();
    for h in hrefs {
        if let Some(u) = crate::dedup::fold_url(h)
            && Some(&u) != f.url_key.as_ref()
            && !f.alternates.contains(&u)
        {
            f.alternates.push(u);
        }
    }
    f.alternates.sort();
    f.alternates.len() != before
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    /// The compact list gives back each entry's own key and source after
    /// sorting, in assignment order: time, then source key, then entry key
    /// (empty keys and keys of one source that prefix each other too).
    #[test]
    fn the_waiting_list_sorts_and_keeps_each_entrys_key_and_source() {
        let at = |s: &str| -> DateTime<Utc> { s.parse().unwrap() };
        let (early, late) = (at("2026-12-06T09:00:00Z"), at("2026-12-06T10:00:00Z"));
        let mut w = Waiting::default();
        let mut described = 0;
        let mut add = |w: &mut Waiting, id, source: i64, source_key: &str, published, key: &str| {
            let s = w
                .source(source, || {
                    described += 1;
                    Ok::<_, Infallible>((source_key.to_string(), Some(format!("g{source}"))))
                })
                .unwrap();
            w.push(id, s, published, id % 2 == 0, key);
        };
        add(&mut w, 1, 7, "https://b.example/sv.xml", early, "post-10");
        add(&mut w, 2, 9, "https://a.example/fi.xml", late, "");
        add(&mut w, 3, 7, "https://b.example/sv.xml", early, "post-1");
        add(&mut w, 4, 9, "https://a.example/fi.xml", early, "post-2");
        add(&mut w, 5, 7, "https://b.example/sv.xml", early, "post");
        assert_eq!(described, 2, "each source described once");
        w.sort();
        let got: Vec<(i64, &str, &str, Option<&str>, bool)> = w
            .entries()
            .iter()
            .map(|p| {
                let s = w.source_of(p);
                (p.id, s.key.as_str(), w.key(p), s.group.as_deref(), p.dated)
            })
            .collect();
        assert_eq!(
            got,
            [
                (4, "https://a.example/fi.xml", "post-2", Some("g9"), true),
                (5, "https://b.example/sv.xml", "post", Some("g7"), false),
                (3, "https://b.example/sv.xml", "post-1", Some("g7"), false),
                (1, "https://b.example/sv.xml", "post-10", Some("g7"), false),
                (2, "https://a.example/fi.xml", "", Some("g9"), true),
            ]
        );
        assert_eq!(w.source_of(&w.entries()[0]).id, 9, "by source key, not row id");
        assert_eq!(w.entries()[4].published, late);
    }
}
