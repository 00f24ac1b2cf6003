//! Pages for people. `index.html`: every feed with its title, languages,
//! item count, last update and subscribe links (with autodiscovery links in
//! the head), the newest stories with their language versions.
//! `sources.html`: the sources with their polling status (last fetch,
//! outcome, next due time, all as stored: never the clock); a poll that
//! found nothing new rewrites only this page. Plain server-rendered HTML and
//! CSS, no script; on a narrow screen each table row becomes a labelled block.

use super::doc::{FeedDoc, language_name};
use super::xml::escape;
use crate::story::{SourceInfo, SourceStatus};

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:60rem;margin:0 auto;padding:1rem;line-height:1.5;color:#222;background:#fff}\
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #ddd;vertical-align:top}\
a{color:#0b5cad;overflow-wrap:anywhere}.fmt a{margin-right:.4rem}small{color:#666}li{margin-bottom:.4rem}.failed{color:#a40000}\
@media(max-width:40rem){body{padding:.5rem}thead{display:none}tr{display:block;border-bottom:2px solid #ccc;padding:.3rem 0}\
td{display:block;border:0;padding:.1rem 0}td.name{font-weight:600}td[data-label]::before{content:attr(data-label) \": \";color:#666}}";

/// How times are shown: minutes are enough for people, and say UTC.
const TIME: &str = "%Y-%m-%d %H:%M UTC";

/// Stories listed on the index page (the newest of the `all` feed).
pub const LATEST: usize = 20;

/// A published feed, in its default form and per language.
pub struct FeedEntry<'a> {
    /// The default-language document.
    pub main: &'a FeedDoc,
    /// (language, stem) of the per-language variants.
    pub variants: Vec<(String, String)>,
    /// Its number of items (`main` may hold only the first [`LATEST`]).
    pub items: usize,
}

/// The start of a page, up to the end of the head's fixed part.
fn page_head(h: &mut String, title: &str) {
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    h.push_str(&format!("<title>{}</title>\n<style>{STYLE}</style>\n", escape(title)));
}

/// Renders the index page.
pub fn render(title: &str, feeds: &[FeedEntry<'_>]) -> Vec<u8> {
    let mut h = String::new();
    page_head(&mut h, title);
    for f in feeds {
        let t = escape(&f.main.title);
        let s = &f.main.stem;
        h.push_str(&format!(
            "<link rel=\"alternate\" type=\"application/atom+xml\" title=\"{t} (Atom)\" href=\"{s}.atom\">\n"
        ));
        h.push_str(&format!(
            "<link rel=\"alternate\" type=\"application/rss+xml\" title=\"{t} (RSS)\" href=\"{s}.rss\">\n"
        ));
        h.push_str(&format!(
            "<link rel=\"alternate\" type=\"application/feed+json\" title=\"{t} (JSON Feed)\" href=\"{s}.json\">\n"
        ));
    }
    h.push_str("</head>\n<body>\n");
    h.push_str(&format!("<h1>{}</h1>\n", escape(title)));
    h.push_str(
        "<p>Each story appears once, in your language when it exists, with links to its other language versions.</p>\n",
    );
    feeds_table(&mut h, feeds);
    stories(&mut h, feeds.first().map(|f| f.main));
    h.push_str(
        "<p><small>Published by polyfeed. <a href=\"sources.html\">Sources and their polling status</a>; \
         <a href=\"sources.opml\">all sources as OPML</a>.</small></p>\n",
    );
    h.push_str("</body>\n</html>\n");
    h.into_bytes()
}

/// Renders the sources page: each source with its polling status.
pub fn render_sources(title: &str, sources: &[SourceInfo]) -> Vec<u8> {
    let mut h = String::new();
    page_head(&mut h, &format!("{title}: sources"));
    h.push_str("</head>\n<body>\n");
    h.push_str(&format!("<h1>{}</h1>\n", escape(title)));
    h.push_str("<p><a href=\"index.html\">Feeds and latest stories</a></p>\n");
    sources_table(&mut h, sources);
    h.push_str("<p><small>Published by polyfeed. <a href=\"sources.opml\">All sources as OPML</a>.</small></p>\n");
    h.push_str("</body>\n</html>\n");
    h.into_bytes()
}

fn formats(stem: &str) -> String {
    format!("<a href=\"{stem}.atom\">Atom</a><a href=\"{stem}.rss\">RSS</a><a href=\"{stem}.json\">JSON</a>")
}

fn feeds_table(h: &mut String, feeds: &[FeedEntry<'_>]) {
    h.push_str("<h2>Feeds</h2>\n<table>\n");
    head(h, &["Feed", "Stories", "Updated", "Subscribe"]);
    for f in feeds {
        let updated = if f.items == 0 { "-".into() } else { f.main.updated.format(TIME).to_string() };
        h.push_str(&format!(
            "<tr><td class=\"name\">{}</td><td data-label=\"Stories\">{}</td><td data-label=\"Updated\">{updated}</td><td class=\"fmt\">{}",
            escape(&f.main.title),
            f.items,
            formats(&f.main.stem)
        ));
        for (lang, stem) in &f.variants {
            h.push_str(&format!("<br><small>{}:</small> {}", escape(&language_name(lang)), formats(stem)));
        }
        h.push_str("</td></tr>\n");
    }
    h.push_str("</tbody>\n</table>\n");
}

/// The header row and the start of the body of a table.
fn head(h: &mut String, columns: &[&str]) {
    h.push_str("<thead><tr>");
    for c in columns {
        h.push_str(&format!("<th>{c}</th>"));
    }
    h.push_str("</tr></thead>\n<tbody>\n");
}

fn stories(h: &mut String, all: Option<&FeedDoc>) {
    let Some(all) = all else { return };
    h.push_str("<h2>Latest stories</h2>\n<ul>\n");
    for item in all.items.iter().take(LATEST) {
        let title = escape(&item.title);
        let link = match &item.url {
            Some(u) => format!("<a href=\"{}\">{title}</a>", escape(u)),
            None => title,
        };
        let langs: Vec<String> = item
            .alternates
            .iter()
            .map(|a| format!("<a href=\"{}\">{}</a>", escape(&a.url), escape(a.lang.as_deref().unwrap_or("?"))))
            .collect();
        let also = if langs.is_empty() { String::new() } else { format!(" <small>also: {}</small>", langs.join(" ")) };
        h.push_str(&format!(
            "<li>{link} <small>{} · {} · {}</small>{also}</li>\n",
            escape(item.lang.as_deref().unwrap_or("?")),
            escape(&item.source.name),
            item.published.format("%Y-%m-%d")
        ));
    }
    h.push_str("</ul>\n");
}

fn sources_table(h: &mut String, sources: &[SourceInfo]) {
    h.push_str("<h2>Sources</h2>\n<table>\n");
    head(h, &["Source", "Language", "Group", "Last fetch", "Status", "Next due"]);
    for s in sources {
        let name = escape(s.display_name());
        let name = match &s.home {
            Some(u) => format!("<a href=\"{}\">{name}</a>", escape(u)),
            None => name,
        };
        let st = &s.status;
        let last = st.last_fetch.map_or("never".into(), |t| t.format(TIME).to_string());
        let class = if st.outcome.as_deref() == Some("failed") { " class=\"failed\"" } else { "" };
        h.push_str(&format!(
            "<tr><td class=\"name\">{name}</td><td data-label=\"Language\">{}</td><td data-label=\"Group\">{}</td>\
             <td data-label=\"Last fetch\">{last}</td><td data-label=\"Status\"{class}>{}</td><td data-label=\"Next due\">{}</td></tr>\n",
            escape(s.lang.as_deref().unwrap_or("-")),
            escape(s.group.as_deref().unwrap_or("-")),
            status(st),
            next_due(st),
        ));
    }
    h.push_str("</tbody>\n</table>\n");
}

/// The last outcome in words, with the HTTP status and the run of failures.
fn status(st: &SourceStatus) -> String {
    let code = st.http_status.map_or(String::new(), |c| format!(" ({c})"));
    match st.outcome.as_deref() {
        _ if st.gone => format!("gone{code}"),
        None => "not polled yet".into(),
        Some("ok") => format!("ok{code}"),
        Some("not_modified") => format!("not modified{code}"),
        Some("failed") if st.error_count > 1 => format!("failed{code}, {} times in a row", st.error_count),
        Some(other) => format!("{}{code}", escape(other)),
    }
}

/// When the source is polled next: a stored time, `now`, or why never.
fn next_due(st: &SourceStatus) -> String {
    match (st.in_config, st.gone, st.next_due) {
        (false, _, _) => "removed from the config".into(),
        (_, true, _) => "no longer polled".into(),
        (_, _, None) => "now".into(),
        (_, _, Some(t)) => t.format(TIME).to_string(),
    }
}
