//! What publishing reads: the sources as `SourceInfo`, a light index of all
//! entries (for tag assignment and ordering), and full stories for the few
//! that make it into a feed.

use super::db::{Context, Dialect, p};
use super::{Store, StoreError, parse_ts};
use crate::story::{SourceInfo, SourceStatus, Story, Version};
use chrono::{DateTime, Utc};

/// One story in the publishing index.
#[derive(Debug, Clone)]
pub struct IndexRow {
    /// The story id.
    pub story_id: String,
    /// Its earliest publication time.
    pub published: DateTime<Utc>,
    /// Sources of its entries.
    pub source_ids: Vec<i64>,
    /// Category terms of its entries.
    pub categories: Vec<String>,
}

impl Store {
    /// Every source, configured or not (their entries stay published).
    pub fn source_infos(&self) -> Result<Vec<SourceInfo>, StoreError> {
        self.db
            .query_map(
                "SELECT id, key, url, COALESCE(name, feed_title), feed_link, COALESCE(lang, feed_lang), tags, grp,
                        last_fetch_at, last_outcome, last_status, error_count, next_due_at, gone, in_config
                 FROM sources ORDER BY id",
                &[],
                |r| {
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
                        status: SourceStatus {
                            last_fetch: r.get::<Option<String>>(8)?.as_deref().and_then(parse_ts),
                            outcome: r.get(9)?,
                            http_status: r.get(10)?,
                            error_count: r.get(11)?,
                            next_due: r.get::<Option<String>>(12)?.as_deref().and_then(parse_ts),
                            gone: r.get(13)?,
                            in_config: r.get(14)?,
                        },
                    })
                },
            )
            .ctx("cannot read sources")
    }

    /// Every story's id, date, sources and categories, newest first (ties by id).
    pub fn publish_index(&self) -> Result<Vec<IndexRow>, StoreError> {
        // The lists are sorted here: neither engine promises an order
        // inside an aggregate. Category terms are joined with the unit
        // separator (U+001F), which no term holds (a comma may: "Research,
        // development" is one category).
        let sql = match self.db.dialect() {
            Dialect::Sqlite => {
                "SELECT se.story_id, MIN(e.published_at) AS p, group_concat(DISTINCT e.source_id),
                        (SELECT group_concat(term, char(31)) FROM (SELECT DISTINCT c.term FROM story_entries s2
                           JOIN entry_categories c ON c.entry_id = s2.entry_id WHERE s2.story_id = se.story_id))
                 FROM story_entries se JOIN entries e ON e.id = se.entry_id
                 GROUP BY se.story_id ORDER BY p DESC, se.story_id"
            }
            Dialect::Postgres => {
                "SELECT se.story_id, MIN(e.published_at) AS p, string_agg(DISTINCT e.source_id::TEXT, ','),
                        (SELECT string_agg(DISTINCT c.term, chr(31)) FROM story_entries s2
                           JOIN entry_categories c ON c.entry_id = s2.entry_id WHERE s2.story_id = se.story_id)
                 FROM story_entries se JOIN entries e ON e.id = se.entry_id
                 GROUP BY se.story_id ORDER BY p DESC, se.story_id"
            }
        };
        self.db
            .query_map(sql, &[], |r| {
                let published: String = r.get(1)?;
                let sources: String = r.get(2)?;
                let cats: Option<String> = r.get(3)?;
                let mut source_ids: Vec<i64> = sources.split(',').filter_map(|s| s.parse().ok()).collect();
                source_ids.sort_unstable();
                let mut categories: Vec<String> =
                    cats.map(|c| c.split('\u{1f}').map(str::to_string).collect()).unwrap_or_default();
                categories.sort_unstable();
                Ok(IndexRow {
                    story_id: r.get(0)?,
                    published: parse_ts(&published).unwrap_or_default(),
                    source_ids,
                    categories,
                })
            })
            .ctx("cannot read the story index")
    }

    /// The stories with these ids: versions in the order they joined, then
    /// same-language duplicates.
    pub fn stories(&self, ids: &[String], sources: &[SourceInfo]) -> Result<Vec<Story>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let rows: Vec<(i64, String)> = self
                .db
                .query_map(
                    "SELECT se.entry_id, se.role FROM story_entries se JOIN entries e ON e.id = se.entry_id WHERE se.story_id = ?1
                     ORDER BY se.role DESC, se.joined_at, e.published_at, se.lang, se.entry_id",
                    p![id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .ctx("cannot read stories")?;
            let entry_ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
            let mut loaded = self.entries_by_id(&entry_ids)?;
            let mut story = Story { id: id.clone(), versions: Vec::new(), duplicates: Vec::new() };
            for (entry_id, role) in rows {
                let Some(pos) = loaded.iter().position(|r| r.id == entry_id) else { continue };
                let row = loaded.swap_remove(pos);
                let Some(src) = sources.iter().find(|s| s.id == row.source_id) else { continue };
                let v = Version { entry_id, source_id: row.source_id, source_key: src.key.clone(), entry: row.entry };
                if role == "duplicate" { story.duplicates.push(v) } else { story.versions.push(v) }
            }
            if !story.versions.is_empty() {
                out.push(story);
            }
        }
        Ok(out)
    }

    /// A number that changes whenever a fetch was recorded (for `serve` to
    /// notice a `poll` from another process).
    pub fn change_marker(&self) -> Result<i64, StoreError> {
        self.db
            .query_row("SELECT COALESCE(MAX(id), 0) + (SELECT COUNT(*) FROM sources) FROM fetches", &[], |r| r.get(0))
            .ctx("cannot read the change marker")
    }
}
