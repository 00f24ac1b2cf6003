//! `polyfeed stories`: stories newest first, each with its language versions
//! and duplicates, as text or JSON.

use std::collections::HashMap;

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
    store.refresh_story_index()?;
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
    let names: HashMap<i64, String> = sources.iter().map(|s| (s.id, s.display_name().to_string())).collect();
    // A few stories at a time, each printed as it is read: all 500,000
    // stories of a large database held at once took 2.5 GB. JSON as
    // `serde_json::to_string_pretty` writes the array: each story indented
    // one level, a comma after each but the last (so each is printed when
    // the next is read).
    let mut held: Option<String> = None;
    for chunk in ids.chunks(CHUNK) {
        let rows: Vec<(String, Vec<String>)> = store
            .index_rows(chunk)?
            .into_iter()
            .map(|row| {
                let tags = crate::publish::story_tags(&row, &sources, &tagger);
                (row.story_id, tags)
            })
            .collect();
        let ids: Vec<String> = rows.iter().map(|(id, _)| id.clone()).collect();
        let stories = store.stories(&ids, &sources)?;
        for (s, (_, tags)) in stories.iter().zip(rows) {
            let s = story_out(s, tags, &names);
            if args.json {
                if held.is_none() {
                    say("[");
                }
                let text = format!("  {}", serde_json::to_string_pretty(&s)?.replace('\n', "\n  "));
                if let Some(before) = held.replace(text) {
                    say(format!("{before},"));
                }
            } else {
                say(format!("{}  {}  [{}]", s.published, s.id, s.tags.join(", ")));
                for v in &s.versions {
                    say(format!("    {}  {}  ({})", v.lang.unwrap_or("?"), v.title, v.source));
                }
                for d in &s.duplicates {
                    say(format!("    {}  {}  ({}, duplicate)", d.lang.unwrap_or("?"), d.title, d.source));
                }
            }
        }
    }
    if args.json {
        match held {
            Some(last) => {
                say(last);
                say("]");
            }
            None => say("[]"),
        }
    }
    Ok(EXIT_OK)
}

/// Stories read and printed at a time.
const CHUNK: usize = 256;

fn story_out<'a>(s: &'a Story, tags: Vec<String>, names: &'a HashMap<i64, String>) -> StoryOut<'a> {
    let v = |v: &'a Version| VersionOut {
        entry_id: v.entry_id,
        entry_key: &v.entry.key,
        source: names.get(&v.source_id).map_or("", String::as_str),
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
