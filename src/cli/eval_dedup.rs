//! `polyfeed eval-dedup CORPUS.jsonl [--predictions OUT.json]`: runs the
//! story engine over a labelled corpus (JSON lines, see [`Args::corpus`]) and
//! prints pairwise precision, recall and F1 per language pair.
//!
//! Each document becomes an [`Entry`] of source `source` (no publisher
//! group: a corpus says nothing about one), with its lang, url, title,
//! published, author and html (or text) as content; features come from
//! `dedup::features`, and `dedup::eval::assign` decides each entry in
//! publication order against the earlier ones, as the store does at ingest.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::EXIT_OK;
use crate::dedup::eval::pairs::{Scored, count, report};
use crate::dedup::eval::{assign, clusters};
use crate::dedup::{Features, features};
use crate::model::{Entry, LangOrigin, Person};

/// Arguments of `eval-dedup`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The corpus: JSON lines with id, group, lang, url, title, published, author, text, html, source
    #[arg(value_name = "CORPUS.jsonl")]
    pub corpus: PathBuf,
    /// Also write the predicted stories as a JSON list of lists of document ids
    #[arg(long, value_name = "OUT.json")]
    pub predictions: Option<PathBuf>,
}

/// One corpus line; `group` is read for scoring only.
#[derive(Debug, Deserialize)]
struct Doc {
    id: String,
    group: Option<String>,
    lang: String,
    url: Option<String>,
    #[serde(default)]
    title: String,
    published: DateTime<Utc>,
    author: Option<String>,
    text: Option<String>,
    html: Option<String>,
    #[serde(default)]
    source: String,
}

pub(super) fn run(args: &Args) -> anyhow::Result<u8> {
    let mut docs = read(&args.corpus)?;
    docs.sort_by_key(|d| d.published); // stable: ties keep file order
    let mut sources: HashMap<String, i64> = HashMap::new();
    let feats: Vec<Features> = docs
        .iter()
        .map(|d| {
            let next = sources.len() as i64 + 1;
            let source_id = *sources.entry(d.source.clone()).or_insert(next);
            features(&entry(d), source_id, None)
        })
        .collect();
    let (story, _) = assign(&feats);
    if let Some(path) = &args.predictions {
        let ids: Vec<Vec<&str>> =
            clusters(&story).iter().map(|c| c.iter().map(|&i| docs[i].id.as_str()).collect()).collect();
        std::fs::write(path, serde_json::to_string(&ids)? + "\n").with_context(|| format!("{}", path.display()))?;
    }
    let scored: Vec<Scored> =
        docs.iter().zip(&story).map(|(d, &s)| Scored { group: d.group.as_deref(), lang: &d.lang, story: s }).collect();
    print!("{}", report(&count(&scored)));
    Ok(EXIT_OK)
}

fn read(path: &Path) -> anyhow::Result<Vec<Doc>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut docs = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        docs.push(serde_json::from_str(line).with_context(|| format!("{}:{}", path.display(), n + 1))?);
    }
    Ok(docs)
}

/// The entry a corpus document stands for.
fn entry(d: &Doc) -> Entry {
    let html = d.html.clone().or_else(|| d.text.as_deref().map(paragraphs_as_html));
    Entry {
        key: d.id.clone(),
        guid: None,
        url: d.url.clone(),
        title: d.title.clone(),
        summary_html: None,
        content_html: html,
        authors: d.author.iter().map(|a| Person { name: Some(a.clone()), email: None, uri: None }).collect(),
        published: d.published,
        updated: d.published,
        date_given: true,
        lang: Some(d.lang.clone()),
        lang_origin: LangOrigin::Entry,
        categories: Vec::new(),
        enclosures: Vec::new(),
        images: Vec::new(),
        links: Vec::new(),
        content_hash: String::new(),
    }
}

/// Plain paragraphs (blank-line separated) as `<p>` elements.
fn paragraphs_as_html(text: &str) -> String {
    text.split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .map(|p| format!("<p>{}</p>", html_escape::encode_text(p.trim())))
        .collect()
}
