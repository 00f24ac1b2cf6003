//! `polyfeed explain`: why a story holds what it holds (signals and scores),
//! where its tags come from and which feeds publish it in which language;
//! or, for a source, why it is due when it is and its last fetches.

use serde::Serialize;

use super::{EXIT_ERROR, EXIT_OK, say};
use crate::config::Config;
use crate::store::{FetchLine, LogLine, Member, SourceRow, Store, StoryEvent};
use crate::tags::Tagger;

/// Arguments of `explain`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A story id, an entry URL, guid or key, or a source URL or name
    pub what: String,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

/// A tag of a story and what gave it.
#[derive(Serialize)]
struct TagOrigin {
    tag: String,
    from: Vec<String>,
}

/// A feed that publishes the story, and the language it shows there.
#[derive(Serialize)]
struct FeedUse {
    feed: String,
    shows: Option<String>,
}

#[derive(Serialize)]
struct StoryExplain {
    kind: &'static str,
    id: String,
    members: Vec<Member>,
    tags: Vec<TagOrigin>,
    feeds: Vec<FeedUse>,
    /// Merges and splits after assignment (late evidence, overrides), and
    /// merges an override asked for but that were refused.
    changes: Vec<StoryEvent>,
    log: Vec<LogLine>,
}

#[derive(Serialize)]
struct SourceExplain {
    kind: &'static str,
    source: SourceRow,
    fetches: Vec<FetchLine>,
}

pub(super) fn run(config: &Config, args: &Args) -> anyhow::Result<u8> {
    let store = super::open_store(config)?;
    let entry_story = |e: Option<i64>| match e {
        Some(e) => store.story_of_entry(e),
        None => Ok(None),
    };
    // `found`: a story id, or an entry found (assigned or not yet).
    let (story, found) = if args.what.starts_with("urn:polyfeed:story:") {
        (Some(args.what.clone()), true)
    } else {
        let entry = store.find_entry(&args.what)?;
        (entry_story(entry)?, entry.is_some())
    };
    let source = || -> anyhow::Result<Option<SourceRow>> {
        Ok(store.source_rows()?.into_iter().find(|s| {
            s.url == args.what || s.moved_to.as_deref() == Some(&args.what) || s.name.as_deref() == Some(&args.what)
        }))
    };
    // A source is looked for before every entry is read (the last resort
    // for entries without identity keys, slow on a large database); an
    // entry found but not assigned yet needs no scan.
    let (story, source) = match story {
        Some(id) => (Some(id), None),
        None => match source()? {
            Some(s) => (None, Some(s)),
            None if found => (None, None),
            None => (entry_story(store.find_entry_by_scan(&args.what)?)?, None),
        },
    };
    if let Some(id) = story {
        let ex = explain_story(&store, config, &id)?;
        if args.json {
            say(serde_json::to_string_pretty(&ex)?)
        } else {
            print_story(&ex)
        }
        return Ok(EXIT_OK);
    }
    let Some(source) = source else {
        eprintln!("polyfeed: no story, entry or source matches {:?}", args.what);
        return Ok(EXIT_ERROR);
    };
    let ex = SourceExplain { kind: "source", fetches: store.recent_fetches(source.id, 10)?, source };
    if args.json {
        say(serde_json::to_string_pretty(&ex)?)
    } else {
        print_source(&ex)
    }
    Ok(EXIT_OK)
}

fn explain_story(store: &Store, config: &Config, id: &str) -> anyhow::Result<StoryExplain> {
    let members = store.story_members(id)?;
    let tagger = Tagger::new(&config.tags, config.publish.publish_untagged);
    let sources = store.source_infos()?;
    let mut entries = store.entries_by_id(&members.iter().map(|m| m.entry_id).collect::<Vec<_>>())?;
    // Where each tag comes from, in an order that does not depend on row
    // ids (they follow the order fetches finished in).
    entries.sort_by(|a, b| (a.source_id, &a.entry.key).cmp(&(b.source_id, &b.entry.key)));
    let mut tags: Vec<TagOrigin> = Vec::new();
    let mut add = |tag: String, from: String| match tags.iter_mut().find(|t| t.tag == tag) {
        Some(t) if !t.from.contains(&from) => t.from.push(from),
        Some(_) => {}
        None => tags.push(TagOrigin { tag, from: vec![from] }),
    };
    for row in &entries {
        for c in &row.entry.categories {
            if let Some(t) = tagger.slug(c) {
                add(t, format!("category {c:?} of entry {}", row.id));
            }
        }
        if let Some(s) = sources.iter().find(|s| s.id == row.source_id) {
            for st in &s.tags {
                if let Some(t) = tagger.slug(st) {
                    add(t, format!("tag {st:?} of source {}", s.display_name()));
                }
            }
        }
    }
    tags.sort_by(|a, b| a.tag.cmp(&b.tag));
    let feeds = feeds_using(store, config, id, &tagger, &sources)?;
    Ok(StoryExplain {
        kind: "story",
        id: id.to_string(),
        members,
        tags,
        feeds,
        changes: store.story_events(id)?,
        log: store.story_log(id)?,
    })
}

/// The published feeds that contain the story, and which version each shows.
fn feeds_using(
    store: &Store,
    config: &Config,
    id: &str,
    tagger: &Tagger,
    sources: &[crate::story::SourceInfo],
) -> anyhow::Result<Vec<FeedUse>> {
    store.refresh_story_index()?;
    let plan = crate::publish::plan_stored(store, sources, tagger, config.publish.items)?;
    let story = store.stories(&[id.to_string()], sources)?.pop();
    let mut out = Vec::new();
    for (tag, ids) in &plan.feeds {
        if !ids.iter().any(|s| s == id) {
            continue;
        }
        let stem = tag.as_ref().map_or("all".to_string(), |t| format!("tags/{t}"));
        let shows = |prefs: &[String]| story.as_ref().and_then(|s| s.choose(prefs).entry.lang.clone());
        out.push(FeedUse { feed: stem.clone(), shows: shows(&config.languages) });
        for lang in &config.languages {
            let mut prefs = vec![lang.clone()];
            prefs.extend(config.languages.iter().filter(|l| *l != lang).cloned());
            out.push(FeedUse { feed: format!("{}/{stem}", lang.to_ascii_lowercase()), shows: shows(&prefs) });
        }
    }
    Ok(out)
}

fn print_story(ex: &StoryExplain) {
    say(format!("story {}", ex.id));
    for m in &ex.members {
        say(format!(
            "  {} {}  {}  ({}, entry {}, {})",
            m.role,
            m.lang.as_deref().unwrap_or("?"),
            m.title,
            m.source,
            m.entry_id,
            m.published
        ));
        let moved_in = ex.changes.iter().find(|c| {
            c.entries.contains(&m.entry_id)
                && (c.kind == "merge" && c.story_id == ex.id || c.other_id.as_deref() == Some(&ex.id))
        });
        match m.matched_entry {
            None => match moved_in {
                Some(c) if c.kind == "merge" => say(format!("      came with a merged story: {}", c.reason)),
                Some(c) => say(format!("      split off: {}", c.reason)),
                None => say("      started the story".to_string()),
            },
            Some(e) => {
                say(format!("      joined with entry {e}: score {:.2}", m.evidence.score));
                for s in &m.evidence.signals {
                    say(format!("        {:<40} {:.2}", s.name, s.score));
                }
            }
        }
    }
    say("  tags:");
    for t in &ex.tags {
        say(format!("    {}  <- {}", t.tag, t.from.join("; ")));
    }
    say("  published in:");
    for f in &ex.feeds {
        say(format!("    {}.{{atom,rss,json}}  shows {}", f.feed, f.shows.as_deref().unwrap_or("?")));
    }
    if !ex.changes.is_empty() {
        say("  merges and splits:");
        for c in &ex.changes {
            let other = c.other_id.as_deref().unwrap_or("-");
            let what = match c.kind.as_str() {
                "merge" if c.story_id == ex.id => format!("merged in {other}"),
                "merge" => format!("merged into {}", c.story_id),
                "split" if c.story_id == ex.id => format!("split off {other}"),
                "split" => format!("split off from {}", c.story_id),
                "refused" => "merge refused (warning)".to_string(),
                k => k.to_string(),
            };
            let entries = if c.entries.is_empty() { String::new() } else { format!(" entries {:?}", c.entries) };
            say(format!("    {}  {what}{entries}: {}", c.at, c.reason));
        }
    }
    say("  history:");
    for l in &ex.log {
        say(format!("    {}  {}  {}", l.at, l.action, l.detail));
    }
}

fn print_source(ex: &SourceExplain) {
    let s = &ex.source;
    say(format!("source {}  {}", s.name.as_deref().unwrap_or("-"), s.url));
    if let Some(m) = &s.moved_to {
        say(format!("  moved permanently to {m} (update feeds.toml)"));
    }
    say(format!(
        "  next due: {} ({})",
        s.next_due_at.as_deref().unwrap_or("now"),
        s.due_reason.as_deref().unwrap_or("never polled")
    ));
    if let Some(node) = &s.leased_by {
        say(format!("  being polled now by node {node}"));
    }
    if s.error_count > 0 {
        say(format!("  {} consecutive errors; last: {}", s.error_count, s.last_error.as_deref().unwrap_or("-")));
    }
    if s.backoff_step > 0 {
        let step = s.backoff_step;
        say(format!(
            "  backoff step {step}: the wait it has without errors (the interval, or longer as the server's hints, \
             its publishing rate or missing validators ask) doubled {step} time{} (or twice the time between the last \
             two failed requests when the last came late), at most a day or that wait if longer; a success ends it",
            if step == 1 { "" } else { "s" }
        ));
    }
    for w in &s.warnings {
        say(format!("  warning: {w}"));
    }
    say(format!("  entries stored: {}", s.entries));
    say("  last fetches:");
    for f in &ex.fetches {
        let status = f.status.map(|s| s.to_string()).unwrap_or_else(|| "-".into());
        say(format!(
            "    {}  {} {}  {} ms  {} bytes  +{} ~{}  etag={} last-modified={}{}{}",
            f.started_at,
            status,
            f.outcome,
            f.duration_ms,
            f.bytes,
            f.entries_new,
            f.entries_updated,
            f.etag.as_deref().unwrap_or("-"),
            f.last_modified.as_deref().unwrap_or("-"),
            f.node.as_deref().map(|n| format!("  node={n}")).unwrap_or_default(),
            f.error.as_deref().map(|e| format!("  error: {e}")).unwrap_or_default()
        ));
    }
}
