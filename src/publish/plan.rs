//! Which stories go into which feed: the `all` feed and one per tag, each
//! with the newest N stories, ordered by date then id. Works on the light
//! index so that only the chosen stories are loaded in full.

use std::collections::{BTreeMap, BTreeSet};

use crate::store::IndexRow;
use crate::story::SourceInfo;
use crate::tags::Tagger;

/// The feeds to publish and the entries of each (newest first).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// `None` is the `all` feed; `Some(slug)` a tag feed. Sorted by slug.
    pub feeds: Vec<(Option<String>, Vec<i64>)>,
}

impl Plan {
    /// Every entry id that appears in some feed, sorted.
    pub fn entry_ids(&self) -> Vec<i64> {
        let set: BTreeSet<i64> = self.feeds.iter().flat_map(|(_, ids)| ids.iter().copied()).collect();
        set.into_iter().collect()
    }
}

/// The tags of an entry: its categories and its source's tags, mapped.
pub fn entry_tags(row: &IndexRow, source: Option<&SourceInfo>, tagger: &Tagger) -> Vec<String> {
    let source_tags = source.map(|s| s.tags.as_slice()).unwrap_or_default();
    tagger.slugs(row.categories.iter().chain(source_tags).map(String::as_str))
}

/// Plans the feeds. `index` must be newest first (ties by id, descending);
/// each feed keeps its first `items` entries.
pub fn plan(index: &[IndexRow], sources: &[SourceInfo], tagger: &Tagger, items: usize) -> Plan {
    let mut all = Vec::new();
    let mut by_tag: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for row in index {
        let source = sources.iter().find(|s| s.id == row.source_id);
        if all.len() < items {
            all.push(row.entry_id);
        }
        for tag in entry_tags(row, source, tagger) {
            let list = by_tag.entry(tag).or_default();
            if list.len() < items {
                list.push(row.entry_id);
            }
        }
    }
    let mut feeds = vec![(None, all)];
    feeds.extend(by_tag.into_iter().map(|(t, ids)| (Some(t), ids)));
    Plan { feeds }
}
