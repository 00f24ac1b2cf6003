//! `polyfeed check`: validate a config and show what it contains.

use std::path::Path;

use super::EXIT_OK;
use crate::config::{Config, Location};
use crate::schedule::fmt;

/// Arguments of `check`.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub(super) fn run(path: &Path, _args: &Args) -> anyhow::Result<u8> {
    let c = Config::load(path)?;
    crate::cli::say(format!("{}: ok", path.display()));
    crate::cli::say(format!("  database:    {}", c.database));
    crate::cli::say(format!("  output_dir:  {}", c.output_dir.display()));
    crate::cli::say(format!(
        "  languages:   {}",
        if c.languages.is_empty() { "(none)".into() } else { c.languages.join(", ") }
    ));
    crate::cli::say(format!("  interval:    {} (floor {})", fmt(c.interval), fmt(c.min_interval)));
    crate::cli::say(format!("  user agent:  {}", crate::fetch::user_agent(c.fetch.contact.as_deref())));
    crate::cli::say(format!("  word table:  {}", crate::lexicon::describe()));
    let mut uncovered: Vec<&str> = c
        .sources
        .iter()
        .filter_map(|s| s.lang.as_deref())
        .map(crate::lang::primary)
        .filter(|l| !crate::lexicon::shared().covers(crate::dedup::content::lexicon::table_lang(l)))
        .collect();
    uncovered.sort_unstable();
    uncovered.dedup();
    if !uncovered.is_empty() && !crate::lexicon::shared().is_empty() {
        crate::cli::say(format!(
            "               no words for {}: their versions join by links, ids, numbers and names only",
            uncovered.join(", ")
        ));
    }
    for line in publishing(&c) {
        crate::cli::say(line);
    }
    crate::cli::say(format!("  {} source{}:", c.sources.len(), if c.sources.len() == 1 { "" } else { "s" }));
    for s in &c.sources {
        let missing = match &s.location {
            Location::File(p) if !p.exists() => "  (file not found)",
            _ => "",
        };
        crate::cli::say(format!(
            "    - {}  lang={}  group={}  tags=[{}]  every {}{}",
            s.name.as_deref().unwrap_or(&s.key),
            s.lang.as_deref().unwrap_or("detect"),
            s.group.as_deref().unwrap_or("-"),
            s.tags.join(", "),
            fmt(s.interval.max(c.min_interval)),
            missing
        ));
        if s.name.is_some() {
            crate::cli::say(format!("      {}", s.key));
        }
        if let Some(p) = &s.id_pattern {
            crate::cli::say(format!("      id_pattern: {}", p.pattern));
        }
        if s.follow_pages {
            crate::cli::say("      follow_pages: entry pages are fetched once for their hreflang links");
        }
    }
    for (kind, list) in [("merge", &c.merges), ("split", &c.splits)] {
        for o in list {
            crate::cli::say(format!("  [[{kind}]] (line {}): {}", o.line, o.urls.join("  ")));
        }
    }
    Ok(EXIT_OK)
}

/// What the published feeds will say about themselves: their self links
/// and ids, and what is missing without `base_url` or `id_authority`.
fn publishing(c: &Config) -> Vec<String> {
    let p = &c.publish;
    let mut out = Vec::new();
    match &p.base_url {
        Some(b) => out.push(format!("  base_url:    {b} (each feed links to itself there: rel=\"self\", feed_url)")),
        None => out.push(
            "  base_url:    (none): feeds carry no rel=\"self\" link and no feed_url (the W3C Feed Validator \
             warns about that; readers still work); set base_url to the URL output_dir is served at"
                .into(),
        ),
    }
    let example = crate::publish::FeedDoc {
        stem: "all".into(),
        title: String::new(),
        lang: None,
        base_url: p.base_url.as_ref().map(|u| u.to_string()),
        id_authority: p.id_authority.clone(),
        hub: None,
        updated: chrono::DateTime::<chrono::Utc>::UNIX_EPOCH,
        items: Vec::new(),
    }
    .id();
    let how = match (&p.id_authority, &p.base_url) {
        (Some(_), _) => "tag: URIs under id_authority",
        (None, Some(_)) => "the feeds' URLs; set id_authority to keep them if base_url changes",
        (None, None) => "unique to this installation only; set id_authority (or base_url) for ids no one else uses",
    };
    out.push(format!("  feed ids:    {example}, ... ({how})"));
    out
}
