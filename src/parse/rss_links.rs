//! A second pass over RSS documents with the rss crate, to recover what
//! feed-rs drops: item-level `<atom:link>` (with `hreflang`), the strongest
//! cross-language signal a publisher can give.

use crate::model::{Link, RawFeed};

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
    fn by_guid_when_counts_differ() {
        let doc = DOC.replacen("<guid>same</guid>", "<guid>first</guid>", 1);
        let mut feed = RawFeed { entries: vec![entry()], ..RawFeed::default() };
        recover_item_links(&doc, &mut feed, None).unwrap();
        let hrefs: Vec<&str> = feed.entries[0].links.iter().map(|l| l.href.as_str()).collect();
        assert_eq!(hrefs, ["/sv/b"]);
    }
}
