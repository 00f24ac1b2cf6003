//! A second pass over RSS documents with the rss crate, to recover what
//! feed-rs drops: item-level `<atom:link>` (with `hreflang`), the strongest
//! cross-language signal a publisher can give.

use crate::model::{Link, RawFeed};

/// Adds each item's atom:links to the matching entry (by guid, else by
/// position when both parsers saw the same number of items).
pub(super) fn recover_item_links(
    text: &str,
    feed: &mut RawFeed,
    base: Option<&str>,
) -> Result<(), String> {
    let channel = rss::Channel::read_from(text.as_bytes()).map_err(|e| e.to_string())?;
    let same_count = channel.items().len() == feed.entries.len();
    for (i, item) in channel.items().iter().enumerate() {
        let Some(ext) = item.atom_ext() else { continue };
        let guid = item.guid().map(|g| g.value().trim());
        let idx = feed
            .entries
            .iter()
            .position(|e| guid.is_some() && e.guid.as_deref() == guid)
            .or(same_count.then_some(i));
        let Some(entry) = idx.and_then(|i| feed.entries.get_mut(i)) else {
            continue;
        };
        for l in ext.links() {
            let href = resolve(l.href(), entry.base.as_deref().or(base));
            if entry
                .links
                .iter()
                .any(|x| x.href == href && x.hreflang.as_deref() == l.hreflang())
            {
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
        Some(b) => b
            .join(href)
            .map(|u| u.to_string())
            .unwrap_or_else(|_| href.to_string()),
        None => href.to_string(),
    }
}
