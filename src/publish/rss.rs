//! RSS 2.0: one `<item>` per story; the other language versions as
//! `atom:link rel="alternate" hreflang` and as a visible "Also in" line
//! (many readers ignore extra links); `<source>` names the origin feed.
//!
//! Written with our own XML builder like `atom.rs`, not the `rss` crate's
//! writer: byte-stable output in our element order (the alternate link
//! order matters to readers) with item-level `atom:link hreflang`; the
//! rules RSS 2.0 sets (RFC 822 dates, `<author>` an e-mail address, a guid
//! on every item) are checked on the output by `tests/it/feed_rules.rs`.

use chrono::{DateTime, Utc};

use super::doc::{self, FeedDoc, Item, also_in_html};
use super::xml::Xml;

fn date(t: DateTime<Utc>) -> String {
    t.to_rfc2822().replace("+0000", "GMT")
}

/// Renders a feed as RSS 2.0.
pub fn render(doc: &FeedDoc) -> Vec<u8> {
    let mut x = Xml::new();
    x.open(
        "rss",
        &[
            ("version", "2.0"),
            ("xmlns:atom", "http://www.w3.org/2005/Atom"),
            ("xmlns:dc", "http://purl.org/dc/elements/1.1/"),
        ],
    );
    x.open("channel", &[]).text("title", &[], &doc.title);
    let home = doc.home().unwrap_or_else(|| "https://github.com/polyfeed/polyfeed".into());
    x.text("link", &[], &home).text("description", &[], &doc.title);
    if let Some(l) = &doc.lang {
        x.text("language", &[], l);
    }
    x.text("lastBuildDate", &[], &date(doc.updated));
    x.text("generator", &[], concat!("polyfeed ", env!("CARGO_PKG_VERSION")));
    if let Some(u) = doc.url("rss") {
        x.empty("atom:link", &[("rel", "self"), ("type", "application/rss+xml"), ("href", &u)]);
    }
    if let Some(h) = &doc.hub {
        x.empty("atom:link", &[("rel", "hub"), ("href", h)]);
    }
    for item in &doc.items {
        render_item(&mut x, item);
    }
    x.close("channel").close("rss");
    x.finish()
}

fn render_item(x: &mut Xml, item: &Item) {
    x.open("item", &[]).text("title", &[], &item.title);
    if let Some(u) = &item.url {
        x.text("link", &[], u);
    }
    x.text("guid", &[("isPermaLink", "false")], &item.id).text("pubDate", &[], &date(item.published));
    let body = item.content_html.as_ref().or(item.summary_html.as_ref()).cloned().unwrap_or_default();
    let body = match also_in_html(item) {
        Some(line) => format!("{body}\n{line}"),
        None => body,
    };
    if !body.is_empty() {
        x.text("description", &[], &body);
    }
    // RSS 2.0's <author> is an e-mail address ("addr (Name)"); a name
    // without one goes in dc:creator.
    for p in &item.authors {
        let name = p.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
        match (doc::email(p), name) {
            (Some(e), Some(n)) => x.text("author", &[], &format!("{e} ({n})")),
            (Some(e), None) => x.text("author", &[], e),
            (None, _) => match doc::person_name(p) {
                Some(n) => x.text("dc:creator", &[], n),
                None => x,
            },
        };
    }
    for (slug, label) in &item.tags {
        x.text("category", &[("domain", slug)], label);
    }
    if let Some(e) = item.enclosures.first() {
        let len = e.length.unwrap_or(0).to_string();
        x.empty(
            "enclosure",
            &[
                ("url", &e.url),
                ("length", &len),
                ("type", doc::mime(e.mime.as_deref()).unwrap_or("application/octet-stream")),
            ],
        );
    }
    if let Some(l) = &item.lang {
        x.text("dc:language", &[], l);
    }
    for a in &item.alternates {
        let mut attrs =
            vec![("rel", "alternate"), ("type", "text/html"), ("href", a.url.as_str()), ("title", a.title.as_str())];
        if let Some(l) = &a.lang {
            attrs.push(("hreflang", l));
        }
        x.empty("atom:link", &attrs);
    }
    // feedparser takes the last alternate link as the item's link: end with
    // the chosen version's own (see atom.rs).
    if let (Some(u), Some(lang), false) = (&item.url, &item.lang, item.alternates.is_empty()) {
        x.empty("atom:link", &[("rel", "alternate"), ("type", "text/html"), ("href", u), ("hreflang", lang)]);
    }
    let s = &item.source;
    if s.feed_url.starts_with("http") {
        x.text("source", &[("url", &s.feed_url)], &s.name);
    }
    x.close("item");
}
