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
use crate::dedup::eval::{assign_with, clusters};
use crate::dedup::{Decision, Features, features, version_evidence};
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
    /// Also write, as JSON lines, every decision taken (document, story, evidence) and the
    /// version evidence of every cross-language pair that is one gold group or published
    /// within the dedup window (`missed` when a gold pair ended in two stories): what
    /// tuning and error analysis read
    #[arg(long, value_name = "OUT.jsonl")]
    pub decisions: Option<PathBuf>,
    /// Content score a cross-language version needs (default: the built-in threshold); for
    /// calibrating on one half of a corpus and confirming on the other
    #[arg(long, value_name = "SCORE")]
    pub threshold: Option<f64>,
}

/// One corpus line; `group` is read for scoring only.
#[derive(Debug, Deserialize)]
struct Doc {
    id: String,
    group: Option<String>,
    lang: String,
    url: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    title: String,
    /// RFC 3339, or a date (`YYYY-MM-DD`); a partial date (`YYYY-MM`,
    /// `YYYY`) or none is taken as a feed reader takes a missing one.
    #[serde(default)]
    published: Option<String>,
    author: Option<String>,
    text: Option<String>,
    html: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    source: String,
}

fn null_as_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(d)?.unwrap_or_default())
}

/// A document's date: the given time, or `None` when the corpus gives
/// none or only a month or year (feeds carry full dates or none); an error
/// for anything else.
fn date_of(published: Option<&str>) -> anyhow::Result<Option<DateTime<Utc>>> {
    let Some(s) = published.map(str::trim) else { return Ok(None) };
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    if let Ok(day) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(day.and_hms_opt(12, 0, 0).map(|t| t.and_utc()));
    }
    let partial = |p: &str| p.len() == 4 && p.chars().all(|c| c.is_ascii_digit());
    match s.split_once('-') {
        None if partial(s) => Ok(None),
        Some((y, m)) if partial(y) && m.len() == 2 && m.parse::<u32>().is_ok_and(|m| (1..=12).contains(&m)) => Ok(None),
        _ => anyhow::bail!("published {s:?} is not RFC 3339, YYYY-MM-DD, YYYY-MM or YYYY"),
    }
}

pub(super) fn run(args: &Args) -> anyhow::Result<u8> {
    let docs = read(&args.corpus)?;
    // An undated document is seen when it is polled, as an undated feed
    // entry is: all of them at one time, a day after the newest dated one.
    let dated = docs
        .iter()
        .map(|d| {
            date_of(d.published.as_deref()).with_context(|| format!("{}: document {}", args.corpus.display(), d.id))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let polled = dated.iter().flatten().max().copied().unwrap_or_default() + chrono::Duration::days(1);
    let mut docs: Vec<(Doc, DateTime<Utc>, bool)> =
        docs.into_iter().zip(dated).map(|(d, t)| (d, t.unwrap_or(polled), t.is_some())).collect();
    docs.sort_by_key(|d| d.1); // stable: ties keep file order
    let mut sources: HashMap<String, i64> = HashMap::new();
    let feats: Vec<Features> = docs
        .iter()
        .map(|(d, published, given)| {
            let next = sources.len() as i64 + 1;
            let source_id = *sources.entry(d.source.clone()).or_insert(next);
            features(&entry(d, *published, *given), source_id, None)
        })
        .collect();
    let (story, decisions) = assign_with(&feats, args.threshold.unwrap_or(crate::dedup::CONTENT_THRESHOLD));
    if let Some(path) = &args.decisions {
        write_decisions(path, &docs, &feats, &story, &decisions)?;
    }
    if let Some(path) = &args.predictions {
        let ids: Vec<Vec<&str>> =
            clusters(&story).iter().map(|c| c.iter().map(|&i| docs[i].0.id.as_str()).collect()).collect();
        std::fs::write(path, serde_json::to_string(&ids)? + "\n").with_context(|| format!("{}", path.display()))?;
    }
    let scored: Vec<Scored> = docs
        .iter()
        .zip(&story)
        .map(|((d, _, _), &s)| Scored { group: d.group.as_deref(), lang: &d.lang, story: s })
        .collect();
    print!("{}", report(&count(&scored)));
    Ok(EXIT_OK)
}

/// The `--decisions` file: one line per decision, then one per
/// cross-language pair that is one gold group or published within the dedup
/// window (`missed` for a gold pair in two stories, else `pair`), with the
/// pair's version evidence as scored alone (without the ids the engine
/// learned not to trust from the other candidates). Pairs of two undated
/// documents are written only when gold (they all share the poll time).
fn write_decisions(
    path: &Path,
    docs: &[(Doc, DateTime<Utc>, bool)],
    feats: &[Features],
    story: &[usize],
    decisions: &[Decision],
) -> anyhow::Result<()> {
    let mut out = String::new();
    for (i, d) in decisions.iter().enumerate() {
        let (kind, other, evidence) = match d {
            Decision::New => ("new", None, None),
            Decision::Duplicate { of_entry, evidence, .. } => ("duplicate", Some(*of_entry), Some(evidence)),
            Decision::Version { matched, evidence, .. } => ("version", Some(*matched), Some(evidence)),
        };
        // Stories merged in through this version: the entry each matched, and the score.
        let links: Vec<serde_json::Value> = match d {
            Decision::Version { links, .. } => links
                .iter()
                .map(|l| serde_json::json!({"matched": docs[l.entry as usize].0.id, "score": l.score}))
                .collect(),
            _ => Vec::new(),
        };
        let line = serde_json::json!({
            "kind": kind,
            "doc": docs[i].0.id,
            "story": docs[story[i]].0.id,
            "matched": other.map(|o| docs[o as usize].0.id.as_str()),
            "evidence": evidence,
            "links": links,
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
    for i in 0..docs.len() {
        for j in i + 1..docs.len() {
            let (a, b) = (&docs[i].0, &docs[j].0);
            if a.lang == b.lang {
                continue;
            }
            let gold = a.group.is_some() && a.group == b.group;
            let near =
                (docs[i].1 - docs[j].1).num_days().abs() <= crate::dedup::WINDOW_DAYS && (docs[i].2 || docs[j].2);
            if !gold && !near {
                continue;
            }
            let missed = gold && story[i] != story[j];
            let line = serde_json::json!({
                "kind": if missed { "missed" } else { "pair" },
                "gold": gold,
                "joined": story[i] == story[j],
                "paragraphs": [feats[j].content.paragraph_chars.len(), feats[i].content.paragraph_chars.len()],
                "numbers": [feats[j].content.numbers.len(), feats[i].content.numbers.len()],
                "doc": b.id,
                "matched": a.id,
                "evidence": version_evidence(&feats[j], &feats[i]),
            });
            out.push_str(&line.to_string());
            out.push('\n');
        }
    }
    std::fs::write(path, out).with_context(|| format!("{}", path.display()))
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
fn entry(d: &Doc, published: DateTime<Utc>, date_given: bool) -> Entry {
    let html = d.html.clone().or_else(|| d.text.as_deref().map(paragraphs_as_html));
    Entry {
        key: d.id.clone(),
        guid: None,
        url: d.url.clone(),
        title: d.title.clone(),
        summary_html: None,
        content_html: html,
        authors: d.author.iter().map(|a| Person { name: Some(a.clone()), email: None, uri: None }).collect(),
        published,
        updated: published,
        date_given,
        lang: Some(d.lang.clone()),
        lang_origin: LangOrigin::Entry,
        categories: Vec::new(),
        enclosures: Vec::new(),
        images: Vec::new(),
        links: Vec::new(),
        content_hash: String::new(),
    }
}

/// Plain text as a CMS would publish it: blocks between blank lines as
/// `<p>` elements, line breaks inside a block as `<br>`.
fn paragraphs_as_html(text: &str) -> String {
    text.split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let lines: Vec<String> =
                p.trim().lines().map(|l| html_escape::encode_text(l.trim()).into_owned()).collect();
            format!("<p>{}</p>", lines.join("<br>"))
        })
        .collect()
}
