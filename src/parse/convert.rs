//! feed-rs's model to ours. Kept small and total: every field either maps or
//! is dropped on purpose.

use feed_rs::model as fr;

use crate::model::{Enclosure, Link, Person, RawEntry, RawFeed, RawText};

pub(super) fn feed(f: fr::Feed) -> RawFeed {
    RawFeed {
        format: format_name(&f.feed_type).into(),
        title: f.title.map(|t| t.content),
        language: f.language,
        links: f.links.into_iter().map(link).collect(),
        authors: f.authors.into_iter().map(person).collect(),
        ttl_minutes: f.ttl,
        schedule: Default::default(),
        entries: f.entries.into_iter().map(entry).collect(),
    }
}

fn format_name(t: &fr::FeedType) -> &'static str {
    match t {
        fr::FeedType::Atom => "atom",
        fr::FeedType::JSON => "json",
        fr::FeedType::RSS0 => "rss0",
        fr::FeedType::RSS1 => "rss1",
        fr::FeedType::RSS2 => "rss2",
    }
}

fn entry(e: fr::Entry) -> RawEntry {
    let (mut enclosures, images) = media(&e.media);
    let (links, link_enclosures): (Vec<Link>, Vec<Link>) = e
        .links
        .into_iter()
        .filter(|l| l.href != super::rss_fix::NO_LINK)
        .map(link)
        .partition(|l| l.rel.as_deref() != Some("enclosure"));
    for l in link_enclosures {
        if !enclosures.iter().any(|x| x.url == l.href) {
            let (mime, length, title) = (l.mime, l.length, l.title);
            enclosures.push(Enclosure { url: l.href, mime, length, title, duration_secs: None });
        }
    }
    RawEntry {
        guid: Some(e.id.trim().to_string()).filter(|s| !s.is_empty()),
        title: e.title.map(text),
        summary: e.summary.map(text),
        content: e.content.and_then(content),
        links,
        authors: e.authors.into_iter().map(person).collect(),
        categories: e
            .categories
            .into_iter()
            // The term identifies a category (RFC 4287 §4.2.2.1, feedparser's
            // `term`); the label is only for display.
            .map(|c| if c.term.trim().is_empty() { c.label.unwrap_or_default() } else { c.term })
            .collect(),
        published: e.published,
        updated: e.updated,
        language: e.language,
        base: e.base,
        enclosures,
        images,
        about: None,
    }
}

/// Media RSS (and RSS `<enclosure>`, which feed-rs files there): the
/// enclosures and the thumbnail images.
fn media(media: &[fr::MediaObject]) -> (Vec<Enclosure>, Vec<String>) {
    let mut enclosures = Vec::new();
    let mut images = Vec::new();
    for m in media {
        for c in &m.content {
            if let Some(u) = &c.url {
                enclosures.push(Enclosure {
                    url: u.to_string(),
                    mime: c.content_type.as_ref().map(|t| t.to_string()),
                    length: c.size,
                    title: m.title.as_ref().map(|t| t.content.trim().to_string()).filter(|t| !t.is_empty()),
                    duration_secs: c.duration.or(m.duration).map(|d| d.as_secs()),
                });
            }
        }
        images.extend(m.thumbnails.iter().map(|t| t.image.uri.clone()));
    }
    (enclosures, images)
}

fn text(t: fr::Text) -> RawText {
    let sub = t.content_type.subty().as_str().to_ascii_lowercase();
    RawText { body: t.content, is_html: sub.contains("html") }
}

fn content(c: fr::Content) -> Option<RawText> {
    let body = c.body?;
    let sub = c.content_type.subty().as_str();
    Some(RawText { is_html: sub != "plain", body })
}

fn link(l: fr::Link) -> Link {
    Link {
        href: l.href,
        rel: l.rel.map(|r| r.to_ascii_lowercase()),
        hreflang: l.href_lang,
        mime: l.media_type,
        title: l.title,
        length: l.length,
    }
}

/// feed-rs turns `erika@example.org (Erika Mustermann)` into a name that may
/// keep the parentheses; strip them.
fn person(p: fr::Person) -> Person {
    let raw = p.name.unwrap_or_default();
    let name = raw.trim();
    let name = name.strip_prefix('(').and_then(|n| n.strip_suffix(')')).unwrap_or(name).trim();
    let (name, email) = match (name.contains('@') && !name.contains(' '), p.email) {
        (true, None) => (None, Some(name.trim_start_matches("mailto:").to_string())),
        (_, email) => (Some(name.to_string()).filter(|n| !n.is_empty()), email),
    };
    Person { name, email, uri: p.uri }
}
