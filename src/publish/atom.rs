//! Atom 1.0: one `<entry>` per story with `xml:lang`, an alternate link per
//! language version (with `hreflang`), `atom:source` naming the feed the
//! chosen version came from, authors, categories and enclosures.

use chrono::{DateTime, SecondsFormat, Utc};

use super::doc::{FeedDoc, Item};
use super::xml::Xml;

fn date(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Renders a feed as Atom.
pub fn render(doc: &FeedDoc) -> Vec<u8> {
    let mut x = Xml::new();
    let mut root = vec![("xmlns", "http://www.w3.org/2005/Atom")];
    if let Some(l) = &doc.lang {
        root.push(("xml:lang", l));
    }
    x.open("feed", &root);
    x.text("id", &[], &doc.id()).text("title", &[], &doc.title).text("updated", &[], &date(doc.updated));
    if let Some(u) = doc.url("atom") {
        x.empty("link", &[("rel", "self"), ("type", "application/atom+xml"), ("href", &u)]);
    }
    if let Some(h) = &doc.hub {
        x.empty("link", &[("rel", "hub"), ("href", h)]);
    }
    if let Some(h) = doc.home() {
        x.empty("link", &[("rel", "alternate"), ("type", "text/html"), ("href", &h)]);
    }
    x.text(
        "generator",
        &[("uri", "https://github.com/polyfeed/polyfeed"), ("version", env!("CARGO_PKG_VERSION"))],
        "polyfeed",
    );
    for item in &doc.items {
        entry(&mut x, item);
    }
    x.close("feed");
    x.finish()
}

fn entry(x: &mut Xml, item: &Item) {
    match &item.lang {
        Some(l) => x.open("entry", &[("xml:lang", l)]),
        None => x.open("entry", &[]),
    };
    x.text("id", &[], &item.id).text("title", &[("type", "text")], &item.title);
    x.text("published", &[], &date(item.published)).text("updated", &[], &date(item.updated));
    // Readers disagree on which alternate link is "the" link: feedparser
    // takes the last, rss-parser, feedsmith and feed-rs the first. So the
    // chosen version's link comes first (without hreflang) and last (with
    // it), the other versions between: every combination of type and
    // hreflang stays unique, as RFC 4287 requires.
    if let Some(u) = &item.url {
        link(x, "alternate", u, None, None);
    }
    for a in &item.alternates {
        link(x, "alternate", &a.url, a.lang.as_deref(), Some(&a.title));
    }
    if let (Some(u), Some(lang)) = (&item.url, &item.lang) {
        link(x, "alternate", u, Some(lang), None);
    }
    for e in &item.enclosures {
        let len = e.length.map(|l| l.to_string());
        let mut attrs = vec![("rel", "enclosure"), ("href", e.url.as_str())];
        if let Some(m) = &e.mime {
            attrs.push(("type", m));
        }
        if let Some(l) = &len {
            attrs.push(("length", l));
        }
        x.empty("link", &attrs);
    }
    for p in &item.authors {
        x.open("author", &[]);
        x.text("name", &[], p.name.as_deref().or(p.email.as_deref()).unwrap_or(""));
        if let Some(e) = &p.email {
            x.text("email", &[], e);
        }
        if let Some(u) = &p.uri {
            x.text("uri", &[], u);
        }
        x.close("author");
    }
    for (slug, label) in &item.tags {
        x.empty("category", &[("term", slug), ("label", label)]);
    }
    if let (Some(s), Some(_)) = (&item.summary_html, &item.content_html) {
        x.text("summary", &[("type", "html")], s);
    }
    if let Some(c) = item.content_html.as_ref().or(item.summary_html.as_ref()) {
        x.text("content", &[("type", "html")], c);
    }
    source(x, item);
    x.close("entry");
}

fn link(x: &mut Xml, rel: &str, href: &str, lang: Option<&str>, title: Option<&str>) {
    let mut attrs = vec![("rel", rel), ("type", "text/html"), ("href", href)];
    if let Some(l) = lang {
        attrs.push(("hreflang", l));
    }
    if let Some(t) = title {
        attrs.push(("title", t));
    }
    x.empty("link", &attrs);
}

fn source(x: &mut Xml, item: &Item) {
    let s = &item.source;
    x.open("source", &[]).text("id", &[], &s.id).text("title", &[], &s.name);
    if !s.feed_url.is_empty() && !s.feed_url.starts_with("file:") {
        x.empty("link", &[("rel", "self"), ("href", &s.feed_url)]);
    }
    if let Some(h) = &s.home {
        x.empty("link", &[("rel", "alternate"), ("type", "text/html"), ("href", h)]);
    }
    x.close("source");
}
