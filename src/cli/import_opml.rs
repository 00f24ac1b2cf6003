//! `polyfeed import-opml FILE`: append the feeds of an OPML subscription
//! list to feeds.toml, skipping those already there, keeping the rest of
//! the file as it is.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{EXIT_OK, say};
use crate::config::edit::{Editable, NewSource};
use crate::discover::opml;

/// Arguments of `import-opml`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The OPML file (e.g. exported from another feed reader)
    pub file: PathBuf,
    /// Tags given to every imported source, besides those from its folders
    #[arg(long, value_delimiter = ',', value_name = "T1,T2")]
    pub tags: Vec<String>,
    /// Only show what would be added; write nothing
    #[arg(long, conflicts_with = "yes")]
    pub dry_run: bool,
    /// Write without asking
    #[arg(long, short = 'y')]
    pub yes: bool,
}

pub(super) fn run(config_path: &Path, args: &Args) -> anyhow::Result<u8> {
    let file = Editable::read(config_path)?;
    let bytes = std::fs::read(&args.file).with_context(|| format!("cannot read {}", args.file.display()))?;
    let text = crate::parse::encoding::decode(&bytes, None).text;
    let feeds = opml::parse(&text).with_context(|| args.file.display().to_string())?;
    anyhow::ensure!(!feeds.is_empty(), "{}: no outline with an xmlUrl, nothing to import", args.file.display());
    let mut new: Vec<NewSource> = Vec::new();
    let (mut present, mut skipped) = (0, 0);
    for f in feeds {
        let name = f.title.clone().unwrap_or_else(|| f.url.clone());
        let url = match url::Url::parse(&f.url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => u.to_string(),
            _ => {
                say(format!("  - {name}: {:?} is not an http(s) URL: skipped", f.url));
                skipped += 1;
                continue;
            }
        };
        if let Some(s) = file.source_with_key(&url) {
            say(format!("  = {name}: already in the config ({}): skipped", s.key));
            present += 1;
            continue;
        }
        if new.iter().any(|n| n.url == url) {
            continue;
        }
        let mut tags = f.tags.clone();
        for t in args.tags.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
            if !tags.iter().any(|x| x == t) {
                tags.push(t.to_string());
            }
        }
        say(format!(
            "  + {name}  [{}]{}\n      {url}",
            f.lang.as_deref().unwrap_or("language unknown"),
            if tags.is_empty() { String::new() } else { format!("  tags: {}", tags.join(", ")) }
        ));
        new.push(NewSource { url, name: f.title, lang: f.lang, tags, group: None });
    }
    say(format!("{} to add, {present} already present, {skipped} skipped", new.len()));
    if new.is_empty() {
        return Ok(EXIT_OK);
    }
    let from = args.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let text = file.with_sources(&new, &format!("Imported by `polyfeed import-opml {from}`."));
    super::add::write_confirmed(&file, &text, new.len(), args.dry_run, args.yes)
}
