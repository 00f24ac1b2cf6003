//! Atom 1.0: one `<entry>` per story with `xml:lang`, an alternate link per
//! language version (with `hreflang`), `atom:source` naming the feed the
//! chosen version came from, authors, categories and enclosures.
//!
//! Written with our own small XML builder ([`super::xml`]), not the
//! `atom_syndication` crate: that crate has no `xml:lang` on entries (which
//! is how readers learn each story's language here), and our builder gives
//! byte-stable output in exactly the order chosen below (the alternate link
//! order works around readers' disagreements), so ETags change only when a
//! story does. What RFC 4287 requires is checked on the rendered output by
//! `tests/it/feed_rules.rs`: an id that is a valid URI on the feed, every entry
//! and every `atom:source`; an `updated` on each; an author for every entry
//! (its own, else the publisher's in its `atom:source`).

use chrono::{DateTime, SecondsFormat, Utc};

use super::doc::{self, FeedDoc, Item};
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
        if let Some(m) = doc::mime(e.mime.as_deref()) {
            attrs.push(("type", m));
        }
        if let Some(l) = &len {
            attrs.push(("length", l));
        }
        x.empty("link", &attrs);
    }
    let mut authors = 0;
    for p in &item.authors {
        let Some(name) = doc::person_name(p) else { continue };
        authors += 1;
        person(x, name, doc::email(p), doc::person_uri(p).as_deref());
    }
    for (slug, label) in &item.tags {
        x.empty("category", &[("term", slug), ("label", label)]);
    }
    if let (Some(s), Some(_)) = (&item.summary_html, &item.content_html) {
        x.text("summary", &[("type", "html")], s);
    }
    match item.content_html.as_ref().or(item.summary_html.as_ref()) {
        Some(c) => {
            x.text("content", &[("type", "html")], c);
        }
        // RFC 4287 4.1.1: an entry without an alternate link must have
        // content. Empty, as JSON Feed's `content_text: ""`.
        None if item.url.is_none() => {
            x.text("content", &[("type", "text")], "");
        }
        None => {}
    }
    source(x, item, authors == 0);
    x.close("entry");
}

fn person(x: &mut Xml, name: &str, email: Option<&str>, uri: Option<&str>) {
    x.open("author", &[]).text("name", &[], name);
    if let Some(e) = email {
        x.text("email", &[], e);
    }
    if let Some(u) = uri {
        x.text("uri", &[], u);
    }
    x.close("author");
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

/// `atom:source`: id, title and updated (RFC 4287 4.2.11 asks for all the
/// metadata of the source feed), its links, and, when the entry names no
/// author, the publisher as the source feed's author: RFC 4287 4.1.2 then
/// applies it to the entry, and every entry has an author.
fn source(x: &mut Xml, item: &Item, with_author: bool) {
    let s = &item.source;
    let title = if s.name.trim().is_empty() { s.feed_url.as_str() } else { s.name.as_str() };
    x.open("source", &[]).text("id", &[], &s.id).text("title", &[], title);
    x.text("updated", &[], &date(s.updated));
    if with_author {
        let name = if title.trim().is_empty() { "(unknown)" } else { title };
        person(x, name, None, s.home.as_deref().filter(|h| h.starts_with("http")));
    }
    if s.feed_url.starts_with("http") {
        x.empty("link", &[("rel", "self"), ("href", &s.feed_url)]);
    }
    if let Some(h) = &s.home {
        x.empty("link", &[("rel", "alternate"), ("type", "text/html"), ("href", h)]);
    }
    x.close("source");
}
