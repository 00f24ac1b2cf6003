//! A second pass over RSS documents with the rss crate, to recover what
//! feed-rs drops: item-level `<atom:link>` (with `hreflang`), the strongest
//! cross-language signal a publisher can give, and the Dublin Core fields
//! (`dc:title`, `dc:creator`, `dc:subject`, `dc:date`, `dcterms:issued`,
//! `dcterms:created`, `dcterms:modified`) where the item has no own value.

use chrono::{DateTime, NaiveDate, Utc};

use crate::model::{Link, Person, RawFeed, RawText};

/// Fills what an item's RSS elements left empty from its Dublin Core
/// elements; items are matched by position, so nothing is done when the
/// two parsers saw different numbers of items.
pub(super) fn recover_dublin_core(text: &str, feed: &mut RawFeed) -> Result<(), String> {
    let channel = rss::Channel::read_from(text.as_bytes()).map_err(|e| e.to_string())?;
    if let Some(dc) = channel.dublin_core_ext() {
        if feed.title.as_deref().is_none_or(|t| t.trim().is_empty()) {
            feed.title = first(dc.titles()).map(str::to_string);
        }
        if feed.language.is_none() {
            feed.language = first(dc.languages()).map(str::to_string);
        }
    }
    if channel.items().len() != feed.entries.len() {
        return Err(format!("found {} items, the parser {}", channel.items().len(), feed.entries.len()));
    }
    for (item, entry) in channel.items().iter().zip(feed.entries.iter_mut()) {
        if let Some(dc) = item.dublin_core_ext() {
            if entry.title.is_none() {
                entry.title = first(dc.titles()).map(|t| RawText { body: t.to_string(), is_html: false });
            }
            if entry.authors.is_empty() {
                entry.authors = dc
                    .creators()
                    .iter()
                    .filter(|c| !c.trim().is_empty())
                    .map(|c| Person { name: Some(c.trim().to_string()), ..Person::default() })
                    .collect();
            }
            if entry.categories.is_empty() {
                entry.categories = dc.subjects().iter().filter(|c| !c.trim().is_empty()).cloned().collect();
            }
            if entry.published.is_none() {
                entry.published = first(dc.dates()).and_then(date);
            }
        }
        let terms =
            |name: &str| item.extensions().get("dcterms")?.get(name)?.iter().find_map(|e| e.value().and_then(date));
        if entry.published.is_none() {
            entry.published = terms("issued").or_else(|| terms("created"));
        }
        if entry.updated.is_none() {
            entry.updated = terms("modified");
        }
    }
    Ok(())
}

fn first(values: &[String]) -> Option<&str> {
    values.iter().map(|v| v.trim()).find(|v| !v.is_empty())
}

/// W3C-DTF (RFC 3339 and its shorter forms) or RFC 2822.
fn date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    if let Ok(d) = DateTime::parse_from_rfc2822(s) {
        return Some(d.with_timezone(&Utc));
    }
    let day = s.get(..10).and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())?;
    Some(day.and_hms_opt(0, 0, 0)?.and_utc())
}

/// Adds each item's atom:links to the matching entry: by position when both
/// parsers saw the same number of items (guids can repeat), else by guid.
pub(super) fn recover_item_links(text: &str, feed: &mut RawFeed, base: Option<&str>) -> Result<(), String> {
    let channel = rss::Channel::read_from(text.as_bytes()).map_err(|e| e.to_string())?;
    let same_count = channel.items().len() == feed.entries.len();
    for (i, item) in channel.items().iter().enumerate() {
        let Some(ext) = item.atom_ext() else { continue };
        let guid = item.guid().map(|g| g.value().trim());
        let idx = same_count
            .then_some(i)
            .or_else(|| feed.entries.iter().position(|e| guid.is_some() && e.guid.as_deref() == guid));
        let Some(entry) = idx.and_then(|i| feed.entries.get_mut(i)) else {
            continue;
        };
        for l in ext.links() {
            let href = resolve(l.href(), entry.base.as_deref().or(base));
            if entry.links.iter().any(|x| x.href == href && x.hreflang.as_deref() == l.hreflang()) {
                continue;
            }
            entry.links.push(Link {
                href,
                rel: Some(l.rel().to_ascii_lowercase()),
                hreflang: l.hreflang().map(str::to_string),
                mime: l.mime_type().map(str::to_string),
                title: l.title().map(str::to_string),
                length: l.length().and_then(|n| n.parse().ok()),
            });
        }
    }
    Ok(())
}

fn resolve(href: &str, base: Option<&str>) -> String {
    let href = href.trim();
    match base.and_then(|b| url::Url::parse(b).ok()) {
        Some(b) => b.join(href).map(|u| u.to_string()).unwrap_or_else(|_| href.to_string()),
        None => href.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RawEntry;

    const DOC: &str = r#"<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel>
<item><guid>same</guid><atom:link rel="alternate" hreflang="sv" href="/sv/a"/></item>
<item><guid>same</guid><atom:link rel="alternate" hreflang="sv" href="/sv/b"/></item>
</channel></rss>"#;

    fn entry() -> RawEntry {
        RawEntry { guid: Some("same".into()), ..RawEntry::default() }
    }

    #[test]
    fn repeated_guids_are_matched_by_position() {
        let mut feed = RawFeed { entries: vec![entry(), entry()], ..RawFeed::default() };
        recover_item_links(DOC, &mut feed, Some("https://x.fi/feed")).unwrap();
        let hrefs: Vec<Vec<&str>> =
            feed.entries.iter().map(|e| e.links.iter().map(|l| l.href.as_str()).collect()).collect();
        assert_eq!(hrefs, [["https://x.fi/sv/a"], ["https://x.fi/sv/b"]]);
        assert_eq!(feed.entries[0].links[0].hreflang.as_deref(), Some("sv"));
    }

    #[test]
    fn dublin_core_fills_gaps() {
        let doc = r#"<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/"><channel><dc:title>F</dc:title>
<item><dc:title>T</dc:title><dc:creator>A</dc:creator><dc:subject>S</dc:subject><dcterms:issued>2003-12-31T10:14:55Z</dcterms:issued><dcterms:modified>2004-01-01</dcterms:modified></item>
</channel></rss>"#;
        let mut feed = RawFeed { entries: vec![RawEntry::default()], ..RawFeed::default() };
        recover_dublin_core(doc, &mut feed).unwrap();
        let e = &feed.entries[0];
        assert_eq!(feed.title.as_deref(), Some("F"));
        assert_eq!(e.title.as_ref().unwrap().body, "T");
        assert_eq!(e.authors[0].name.as_deref(), Some("A"));
        assert_eq!(e.categories, ["S"]);
        assert_eq!(e.published.unwrap().to_rfc3339(), "2003-12-31T10:14:55+00:00");
        assert_eq!(e.updated.unwrap().to_rfc3339(), "2004-01-01T00:00:00+00:00");
    }

    #[test]
    fn by_guid_when_counts_differ() {
        let doc = DOC.replacen("<guid>same</guid>", "<guid>first</guid>", 1);
        let mut feed = RawFeed { entries: vec![entry()], ..RawFeed::default() };
        recover_item_links(&doc, &mut feed, None).unwrap();
        let hrefs: Vec<&str> = feed.entries[0].links.iter().map(|l| l.href.as_str()).collect();
        assert_eq!(hrefs, ["/sv/b"]);
    }
}
