//! Which stories go into which feed: the `all` feed and one per tag, each
//! with the newest N stories, ordered by date then id. [`plan_stored`]
//! reads the store's publishing index: for each tag, the index keys (entry
//! categories, sources) whose config mapping gives that tag, and the newest
//! N stories of each such key (an indexed LIMIT read), merged; so its cost
//! follows the number of tags and keys, not of stored stories. [`plan`]
//! does the same over a full in-memory index (the reference). Only the
//! chosen stories are loaded in full.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::store::{IndexRow, Store, StoreError};
use crate::story::SourceInfo;
use crate::tags::Tagger;

/// The feeds to publish and the entries of each (newest first).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// `None` is the `all` feed; `Some(slug)` a tag feed. Sorted by slug.
    pub feeds: Vec<(Option<String>, Vec<String>)>,
}

impl Plan {
    /// Every story id that appears in some feed, sorted.
    pub fn story_ids(&self) -> Vec<String> {
        let set: BTreeSet<&String> = self.feeds.iter().flat_map(|(_, ids)| ids.iter()).collect();
        set.into_iter().cloned().collect()
    }
}

/// The tags of a story: its entries' categories and its sources' tags, mapped.
pub fn story_tags(row: &IndexRow, sources: &[SourceInfo], tagger: &Tagger) -> Vec<String> {
    let source_tags = sources.iter().filter(|s| row.source_ids.contains(&s.id)).flat_map(|s| s.tags.iter());
    tagger.slugs(row.categories.iter().chain(source_tags).map(String::as_str))
}

/// Plans the feeds. `index` must be newest first (ties by id);
/// each feed keeps its first `items` entries.
pub fn plan(index: &[IndexRow], sources: &[SourceInfo], tagger: &Tagger, items: usize) -> Plan {
    let mut all = Vec::new();
    let mut by_tag: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in index {
        if all.len() < items {
            all.push(row.story_id.clone());
        }
        for tag in story_tags(row, sources, tagger) {
            let list = by_tag.entry(tag).or_default();
            if list.len() < items {
                list.push(row.story_id.clone());
            }
        }
    }
    let mut feeds = vec![(None, all)];
    feeds.extend(by_tag.into_iter().map(|(t, ids)| (Some(t), ids)));
    Plan { feeds }
}

/// The tags an index key gives a story: `c:TERM` the term's tag, `s:ID`
/// the source's tags; `''` (every story) none.
pub fn key_tags(key: &str, sources: &[SourceInfo], tagger: &Tagger) -> Vec<String> {
    if let Some(term) = key.strip_prefix("c:") {
        return tagger.slug(term).into_iter().collect();
    }
    let Some(id) = key.strip_prefix("s:").and_then(|s| s.parse::<i64>().ok()) else { return Vec::new() };
    sources.iter().filter(|s| s.id == id).flat_map(|s| tagger.slugs(s.tags.iter().map(String::as_str))).collect()
}

/// The index keys of each tag, from every key of the index.
pub fn keys_by_tag<'k>(keys: &'k [String], sources: &[SourceInfo], tagger: &Tagger) -> BTreeMap<String, Vec<&'k str>> {
    let mut by_tag: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for key in keys {
        for tag in key_tags(key, sources, tagger) {
            by_tag.entry(tag).or_default().push(key);
        }
    }
    by_tag
}

/// The newest `limit` stories that have any of these index keys, newest
/// first, ties by id. `newest(key, limit)` gives a key's newest stories as
/// (first publication time, id) in that order; a story in the newest of
/// the union is in the newest of each of its keys, so `limit` per key is
/// enough.
pub fn newest_of<E>(
    keys: &[&str],
    limit: usize,
    newest: &mut impl FnMut(&str, usize) -> Result<Vec<(String, String)>, E>,
) -> Result<Vec<String>, E> {
    let mut all: Vec<(String, String)> = Vec::new();
    for key in keys {
        all.extend(newest(key, limit)?);
    }
    // Newest first, then by id; one story has one time, so its copies
    // (one per key it has) end up side by side.
    all.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    all.dedup_by(|a, b| a.1 == b.1);
    all.truncate(limit);
    Ok(all.into_iter().map(|(_, id)| id).collect())
}

/// Plans the feeds from the store's publishing index; the same plan as
/// [`plan`] over [`Store::publish_index`]. Reads the index as it is: refresh
/// it first ([`Store::refresh_story_index`]).
pub fn plan_stored(store: &Store, sources: &[SourceInfo], tagger: &Tagger, items: usize) -> Result<Plan, StoreError> {
    let keys = store.story_index_keys()?;
    if keys.is_empty() {
        return Ok(Plan { feeds: vec![(None, Vec::new())] });
    }
    let mut cache: HashMap<String, Vec<(String, String)>> = HashMap::new();
    let mut newest = |key: &str, limit: usize| -> Result<Vec<(String, String)>, StoreError> {
        if let Some(rows) = cache.get(key) {
            return Ok(rows.clone());
        }
        let rows = store.newest_stories(key, limit)?;
        cache.insert(key.to_string(), rows.clone());
        Ok(rows)
    };
    let mut feeds = vec![(None, newest_of(&[""], items, &mut newest)?)];
    for (tag, tag_keys) in keys_by_tag(&keys, sources, tagger) {
        feeds.push((Some(tag), newest_of(&tag_keys, items, &mut newest)?));
    }
    Ok(Plan { feeds })
}
