//! Publishing: stories to per-tag feeds in Atom, RSS 2.0 and JSON Feed, an
//! index page and an OPML list, as [`Artifact`]s. Rendering is pure (same
//! stories and config, byte-identical output); [`sink`] writes them to disk.
//!
//! Layout under the output directory: `all.{atom,rss,json}`,
//! `tags/{tag}.{atom,rss,json}`, the same under `{lang}/` for each language
//! of the config (preferring that language), `index.html`, `sources.opml`.

mod artifact;
mod atom;
mod doc;
mod html;
mod json;
mod opml;
mod plan;
mod rss;
pub mod sink;
mod xml;

use std::collections::HashMap;

use chrono::{DateTime, Utc};

pub use artifact::{Artifact, media};
pub use doc::{FeedDoc, Item, language_name};
pub use plan::{Plan, key_tags, keys_by_tag, newest_of, plan, plan_stored, story_tags};

use crate::config::Config;
use crate::store::IndexRow;
use crate::story::{SourceInfo, Story};
use crate::tags::Tagger;

/// Everything rendering needs.
pub struct Input<'a> {
    /// The config (title, languages, base URL).
    pub config: &'a Config,
    /// The plan from [`plan()`].
    pub plan: &'a Plan,
    /// The index rows (for each story's tags).
    pub index: &'a [IndexRow],
    /// The stories of the plan.
    pub stories: &'a [Story],
    /// The sources.
    pub sources: &'a [SourceInfo],
    /// The tag mapping.
    pub tagger: &'a Tagger,
}

/// Renders every artifact, sorted by path. Same input, same bytes.
pub fn render(input: &Input<'_>) -> Vec<Artifact> {
    let mut out = Vec::new();
    render_each(input, &mut |a| out.push(a));
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// Renders every artifact, handing each to `emit` as soon as it is made
/// (the file sink writes it and lets it go, so a site is never held whole:
/// 37 MB of files at the peak of a cold poll of 1,000 feeds). The same
/// artifacts as [`render`], not sorted.
pub fn render_each(input: &Input<'_>, emit: &mut dyn FnMut(Artifact)) {
    let by_id: HashMap<&str, &Story> = input.stories.iter().map(|s| (s.id.as_str(), s)).collect();
    let tags_of: HashMap<&str, Vec<String>> =
        input.index.iter().map(|r| (r.story_id.as_str(), story_tags(r, input.sources, input.tagger))).collect();
    let cfg = input.config;
    let base = cfg.publish.base_url.as_ref().map(|u| u.to_string());
    let mut index_feeds = Vec::new();
    let mut mains = Vec::new();
    for (tag, ids) in &input.plan.feeds {
        let stories: Vec<&Story> = ids.iter().filter_map(|id| by_id.get(id.as_str()).copied()).collect();
        let stem = |lang: Option<&str>| {
            let name = tag.as_ref().map_or("all".to_string(), |t| format!("tags/{t}"));
            lang.map_or(name.clone(), |l| format!("{}/{name}", l.to_ascii_lowercase()))
        };
        let build = |lang: Option<&str>, prefs: &[String]| FeedDoc {
            stem: stem(lang),
            title: feed_title(cfg, tag.as_deref(), prefs, input.tagger),
            lang: prefs.first().cloned(),
            base_url: base.clone(),
            id_authority: cfg.publish.id_authority.clone(),
            hub: cfg.publish.hub.as_ref().map(|u| u.to_string()),
            updated: stories.iter().map(|s| s.updated()).max().unwrap_or(DateTime::<Utc>::UNIX_EPOCH),
            items: stories
                .iter()
                .map(|s| {
                    let tags = tags_of.get(s.id.as_str()).map(Vec::as_slice).unwrap_or_default();
                    doc::item(s, prefs, input.sources, tags, input.tagger)
                })
                .collect(),
        };
        let main = build(None, &cfg.languages);
        let mut variants = Vec::new();
        for lang in &cfg.languages {
            let mut prefs = vec![lang.clone()];
            prefs.extend(cfg.languages.iter().filter(|l| *l != lang).cloned());
            let d = build(Some(lang), &prefs);
            variants.push((lang.clone(), d.stem.clone()));
            formats(&d).into_iter().for_each(&mut *emit);
        }
        formats(&main).into_iter().for_each(&mut *emit);
        // The index page needs the feed's title, name, date and size, and
        // the first items of the `all` feed, not every item of every feed.
        index_feeds.push((variants, main.items.len()));
        let mut main = main;
        main.items.truncate(html::LATEST);
        mains.push(main);
    }
    let entries: Vec<html::FeedEntry<'_>> = mains
        .iter()
        .zip(index_feeds)
        .map(|(main, (variants, items))| html::FeedEntry { main, variants, items })
        .collect();
    let newest = mains.first().map(|m| m.updated).unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    emit(Artifact {
        path: "index.html".into(),
        content_type: media::HTML,
        body: html::render(&cfg.publish.title, &entries),
        updated: newest,
    });
    render_status(cfg, input.sources).into_iter().for_each(&mut *emit);
    emit(Artifact {
        path: "sources.opml".into(),
        content_type: media::OPML,
        body: opml::render(&cfg.publish.title, input.sources),
        updated: newest,
    });
}

/// The artifacts that change with the sources' polling status alone (a
/// poll that found nothing new rewrites just these): `sources.html`.
pub fn render_status(cfg: &Config, sources: &[SourceInfo]) -> Vec<Artifact> {
    // Its Last-Modified is the last fetch shown on it.
    let fetched = sources.iter().filter_map(|s| s.status.last_fetch).max();
    vec![Artifact {
        path: "sources.html".into(),
        content_type: media::HTML,
        body: html::render_sources(&cfg.publish.title, sources),
        updated: fetched.unwrap_or(DateTime::<Utc>::UNIX_EPOCH),
    }]
}

fn feed_title(cfg: &Config, tag: Option<&str>, prefs: &[String], tagger: &Tagger) -> String {
    match tag {
        None => cfg.publish.title.clone(),
        Some(t) => format!("{}: {}", cfg.publish.title, tagger.title(t, prefs).unwrap_or_else(|| t.to_string())),
    }
}

fn formats(d: &FeedDoc) -> [Artifact; 3] {
    let a = |ext: &str, content_type, body| Artifact {
        path: format!("{}.{ext}", d.stem),
        content_type,
        body,
        updated: d.updated,
    };
    [
        a("atom", media::ATOM, atom::render(d)),
        a("rss", media::RSS, self::rss::render(d)),
        a("json", media::JSON, json::render(d)),
    ]
}
