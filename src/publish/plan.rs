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
