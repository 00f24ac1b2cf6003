//! What publishing reads: the sources as `SourceInfo`, a light index of all
//! entries (for tag assignment and ordering), and full stories for the few
//! that make it into a feed.

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::{Context, Store, StoreError, parse_ts};
use crate::story::{SourceInfo, Story, Version};

/// One entry in the publishing index.
#[derive(Debug, Clone)]
pub struct IndexRow {
    /// Entry row id.
    pub entry_id: i64,
    /// Source row id.
    pub source_id: i64,
    /// Publication time.
    pub published: DateTime<Utc>,
    /// Language.
    pub lang: Option<String>,
    /// Category terms.
    pub categories: Vec<String>,
}

impl Store {
    /// Every source, configured or not (their entries stay published).
    pub fn source_infos(&self) -> Result<Vec<SourceInfo>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, key, url, COALESCE(name, feed_title), feed_link, COALESCE(lang, feed_lang), tags, grp
                 FROM sources ORDER BY id",
            )
            .ctx("cannot read sources")?;
        let rows = stmt
            .query_map([], |r| {
                let tags: String = r.get(6)?;
                Ok(SourceInfo {
                    id: r.get(0)?,
                    key: r.get(1)?,
                    url: r.get(2)?,
                    name: r.get(3)?,
                    home: r.get(4)?,
                    lang: r.get(5)?,
                    tags: serde_json::from_str(&tags).unwrap_or_default(),
                    group: r.get(7)?,
                })
            })
            .ctx("cannot read sources")?;
        rows.collect::<Result<_, _>>().ctx("cannot read sources")
    }

    /// Every entry's id, source, date, language and categories, newest first.
    pub fn publish_index(&self) -> Result<Vec<IndexRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT e.id, e.source_id, e.published_at, e.lang,
                        (SELECT group_concat(c.term, char(31)) FROM entry_categories c WHERE c.entry_id = e.id)
                 FROM entries e ORDER BY e.published_at DESC, e.id DESC",
            )
            .ctx("cannot read the entry index")?;
        let rows = stmt
            .query_map(params![], |r| {
                let published: String = r.get(2)?;
                let cats: Option<String> = r.get(4)?;
                Ok(IndexRow {
                    entry_id: r.get(0)?,
                    source_id: r.get(1)?,
                    published: parse_ts(&published).unwrap_or_default(),
                    lang: r.get(3)?,
                    categories: cats.map(|c| c.split('\u{1f}').map(str::to_string).collect()).unwrap_or_default(),
                })
            })
            .ctx("cannot read the entry index")?;
        rows.collect::<Result<_, _>>().ctx("cannot read the entry index")
    }

    /// The stories of these entries (each entry is its own story for now).
    pub fn stories(&self, entry_ids: &[i64], sources: &[SourceInfo]) -> Result<Vec<Story>, StoreError> {
        let rows = self.entries_by_id(entry_ids)?;
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let src = sources.iter().find(|s| s.id == row.source_id)?;
                Some(Story::single(Version {
                    entry_id: row.id,
                    source_id: row.source_id,
                    source_key: src.key.clone(),
                    entry: row.entry,
                }))
            })
            .collect())
    }

    /// A number that changes whenever a fetch was recorded (for `serve` to
    /// notice a `poll` from another process).
    pub fn change_marker(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("SELECT COALESCE(MAX(id), 0) + (SELECT COUNT(*) FROM sources) FROM fetches", [], |r| r.get(0))
            .ctx("cannot read the change marker")
    }
}
