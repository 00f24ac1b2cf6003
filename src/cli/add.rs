//! `polyfeed add URL`: discover a site's feeds in every language, show them,
//! and append them to feeds.toml as one group (after confirmation). Also the
//! proposal printing and the confirmation shared with `import-opml`.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::Context;

use super::{EXIT_OK, EXIT_USAGE, say};
use crate::config::edit::{Editable, NewSource};
use crate::discover::{self, Candidate, Discovery};

/// Arguments of `add`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A feed URL, a page URL, or a bare site such as `porvoo.fi`
    pub url: String,
    /// Tags given to every added source, comma-separated
    #[arg(long, value_delimiter = ',', value_name = "T1,T2")]
    pub tags: Vec<String>,
    /// Name of the source (with several languages: "NAME (fi)", "NAME (sv)", ...)
    #[arg(long)]
    pub name: Option<String>,
    /// Only show what would be added; write nothing
    #[arg(long, conflicts_with = "yes")]
    pub dry_run: bool,
    /// Write without asking
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// One discovered feed with what `add` will do with it.
struct Proposed {
    candidate: Candidate,
    source: NewSource,
    /// The configured source it duplicates, if any.
    present: Option<String>,
}

pub(super) fn run(config_path: &Path, args: &Args) -> anyhow::Result<u8> {
    let file = Editable::read(config_path)?;
    let fetcher = crate::fetch::Fetcher::new(&file.config.fetch)?;
    let delay = file.config.fetch.per_host_delay;
    let found = super::runtime()?.block_on(discover::discover(&fetcher, delay, &args.url))?;
    let moved = moved_sources(&file)?;
    let proposed = propose(&file, &found, args, &moved);
    print_proposal(&found, &proposed);
    let new: Vec<NewSource> = proposed.iter().filter(|p| p.present.is_none()).map(|p| p.source.clone()).collect();
    if new.is_empty() {
        say("nothing to add: every feed found is already in the config");
        return Ok(EXIT_OK);
    }
    let text = file.with_sources(&new, &format!("Added by `polyfeed add {}`.", args.url.trim()));
    write_confirmed(&file, &text, new.len(), args.dry_run, args.yes)
}

/// Shows the block in a dry run, asks unless `yes`, then writes. Without a
/// terminal to ask on, `--yes` or `--dry-run` is required (exit 2).
pub(super) fn write_confirmed(file: &Editable, text: &str, n: usize, dry_run: bool, yes: bool) -> anyhow::Result<u8> {
    let what = format!("{n} source{}", if n == 1 { "" } else { "s" });
    if dry_run {
        say(format!("dry run: would append to {}:\n", file.path.display()));
        say(text[file.text.len()..].trim_start_matches('\n').trim_end());
        return Ok(EXIT_OK);
    }
    if !yes {
        if !std::io::stdin().is_terminal() {
            eprintln!(
                "polyfeed: not writing {what} to {} without confirmation and there is no terminal to ask on: \
                 pass --yes to write them (or --dry-run to only show them)",
                file.path.display()
            );
            return Ok(EXIT_USAGE);
        }
        eprint!("add {what} to {}? [y/N] ", file.path.display());
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer).context("cannot read the answer")?;
        if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            say("nothing written");
            return Ok(EXIT_OK);
        }
    }
    file.save(text)?;
    say(format!("added {what} to {}", file.path.display()));
    Ok(EXIT_OK)
}

/// Where configured sources moved (301/308) as the database knows it:
/// (new URL, configured URL).
fn moved_sources(file: &Editable) -> anyhow::Result<Vec<(String, String)>> {
    if !file.config.database.may_exist() {
        return Ok(Vec::new());
    }
    let store = crate::store::Store::open(&file.config.database)?;
    Ok(store.source_rows()?.into_iter().filter(|r| r.in_config).filter_map(|r| Some((r.moved_to?, r.url))).collect())
}

fn propose(file: &Editable, found: &Discovery, args: &Args, moved: &[(String, String)]) -> Vec<Proposed> {
    let group = group_for(file, found);
    let several = found.candidates.len() > 1;
    let titles: Vec<Option<&String>> = found.candidates.iter().map(|c| c.title.as_ref()).collect();
    let titles_clash = titles.iter().enumerate().any(|(i, t)| titles[..i].contains(t));
    let tags: Vec<String> = args.tags.iter().map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect();
    found
        .candidates
        .iter()
        .map(|c| {
            let base = args.name.clone().or_else(|| c.title.clone());
            let name = match (&base, &c.lang) {
                (Some(b), Some(l)) if several && (args.name.is_some() || titles_clash) => Some(format!("{b} ({l})")),
                _ => base,
            };
            let present = [&c.url, &c.final_url].iter().find_map(|u| {
                let direct = file.source_with_key(u).map(|s| s.key.clone());
                direct.or_else(|| moved.iter().find(|(to, _)| to == *u).map(|(_, key)| key.clone()))
            });
            let source =
                NewSource { url: c.url.clone(), name, lang: c.lang.clone(), tags: tags.clone(), group: group.clone() };
            Proposed { candidate: c.clone(), source, present }
        })
        .collect()
}

/// The group: an existing group of a configured source on the same site,
/// else the site's host when several language versions were found.
fn group_for(file: &Editable, found: &Discovery) -> Option<String> {
    let site = discover::group_of(&found.start_final)?;
    let existing = file.config.sources.iter().find_map(|s| match &s.location {
        crate::config::Location::Http(u) if discover::group_of(u).as_deref() == Some(&site) => s.group.clone(),
        _ => None,
    });
    existing.or_else(|| (found.candidates.len() > 1).then_some(site))
}

fn print_proposal(found: &Discovery, proposed: &[Proposed]) {
    let n = proposed.len();
    let group = proposed.first().and_then(|p| p.source.group.as_deref());
    say(format!(
        "found {n} feed{} for {}{}:",
        if n == 1 { "" } else { "s" },
        found.start,
        group.map(|g| format!(" (group {g:?})")).unwrap_or_default()
    ));
    if let Some(note) = &found.start_redirect {
        say(format!("  note: {} {note}; these are the feeds found from there", found.start));
    }
    for p in proposed {
        let c = &p.candidate;
        let mark = if p.present.is_some() { "=" } else { "+" };
        say(format!(
            "  {mark} {}  [{}]",
            p.source.name.as_deref().unwrap_or("(untitled)"),
            c.lang
                .as_deref()
                .map(|l| format!("{l}, from the {}", c.lang_from))
                .unwrap_or_else(|| "language unknown".into())
        ));
        say(format!("      {}", c.url));
        let newest = c.newest.map(|d| format!(", newest {}", d.format("%Y-%m-%d %H:%M UTC"))).unwrap_or_default();
        let page = c.page.as_deref().map(|p| format!("; {} {p}", c.via)).unwrap_or_default();
        say(format!("      {} entr{}{newest}{page}", c.entries, if c.entries == 1 { "y" } else { "ies" }));
        if let Some(key) = &p.present {
            say(format!("      already in the config as {key}: skipped"));
        }
    }
}
