//! `polyfeed stories`: stories newest first, each with its language versions
//! and duplicates, as text or JSON.

use serde::Serialize;

use super::{EXIT_OK, say};
use crate::config::Config;
use crate::story::{Story, Version};
use crate::tags::Tagger;

/// Arguments of `stories`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only stories with this tag (slug, alias or category name)
    #[arg(long)]
    pub tag: Option<String>,
    /// How many stories at most
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// Print JSON (documented in the README)
    #[arg(long)]
    pub json: bool,
}

/// One version in the JSON output.
#[derive(Serialize)]
struct VersionOut<'a> {
    entry_id: i64,
    entry_key: &'a str,
    source: &'a str,
    lang: Option<&'a str>,
    title: &'a str,
    url: Option<&'a str>,
    published: String,
}

/// One story in the JSON output.
#[derive(Serialize)]
struct StoryOut<'a> {
    id: &'a str,
    published: String,
    updated: String,
    tags: Vec<String>,
    versions: Vec<VersionOut<'a>>,
    duplicates: Vec<VersionOut<'a>>,
}

pub(super) fn run(config: &Config, args: &Args) -> anyhow::Result<u8> {
    let store = super::open_store(config)?;
    let tagger = Tagger::new(&config.tags, true);
    let sources = store.source_infos()?;
    let wanted = args.tag.as_deref().and_then(|t| tagger.slug(t));
    // The newest `limit` stories (with the tag): LIMITed reads of the
    // publishing index, then the index rows of those stories for their tags.
    let keys = store.story_index_keys()?;
    let mut newest = |key: &str, limit: usize| store.newest_stories(key, limit);
    let ids = match &wanted {
        None => crate::publish::newest_of(&[""], args.limit, &mut newest)?,
        Some(w) => {
            let by_tag = crate::publish::keys_by_tag(&keys, &sources, &tagger);
            let tag_keys = by_tag.get(w).map(Vec::as_slice).unwrap_or_default();
            crate::publish::newest_of(tag_keys, args.limit, &mut newest)?
        }
    };
    let rows: Vec<(String, Vec<String>)> = store
        .index_rows(&ids)?
        .into_iter()
        .map(|row| {
            let tags = crate::publish::story_tags(&row, &sources, &tagger);
            (row.story_id, tags)
        })
        .collect();
    let ids: Vec<String> = rows.iter().map(|(id, _)| id.clone()).collect();
    let stories = store.stories(&ids, &sources)?;
    let name = |id: i64| sources.iter().find(|s| s.id == id).map(|s| s.display_name().to_string()).unwrap_or_default();
    let names: Vec<(i64, String)> = sources.iter().map(|s| (s.id, name(s.id))).collect();
    let out: Vec<StoryOut<'_>> =
        stories.iter().zip(rows.iter().map(|(_, t)| t.clone())).map(|(s, tags)| story_out(s, tags, &names)).collect();
    if args.json {
        say(serde_json::to_string_pretty(&out)?);
    } else {
        for s in &out {
            say(format!("{}  {}  [{}]", s.published, s.id, s.tags.join(", ")));
            for v in &s.versions {
                say(format!("    {}  {}  ({})", v.lang.unwrap_or("?"), v.title, v.source));
            }
            for d in &s.duplicates {
                say(format!("    {}  {}  ({}, duplicate)", d.lang.unwrap_or("?"), d.title, d.source));
            }
        }
    }
    Ok(EXIT_OK)
}

fn story_out<'a>(s: &'a Story, tags: Vec<String>, names: &'a [(i64, String)]) -> StoryOut<'a> {
    let v = |v: &'a Version| VersionOut {
        entry_id: v.entry_id,
        entry_key: &v.entry.key,
        source: names.iter().find(|(id, _)| *id == v.source_id).map(|(_, n)| n.as_str()).unwrap_or(""),
        lang: v.entry.lang.as_deref(),
        title: &v.entry.title,
        url: v.entry.url.as_deref(),
        published: crate::store::ts(v.entry.published),
    };
    StoryOut {
        id: &s.id,
        published: crate::store::ts(s.published()),
        updated: crate::store::ts(s.updated()),
        tags,
        versions: s.versions.iter().map(v).collect(),
        duplicates: s.duplicates.iter().map(v).collect(),
    }
}
