//! RSS documents made readable for feed-rs, before it sees them: RSS 0.90's
//! namespace (`http://my.netscape.com/rdf/simple/0.9/`) and RSS 2.0 put in
//! UserLand's namespace (`http://backend.userland.com/rss2`) become the RSS
//! namespace feed-rs knows, and an RSS 1.0 item without `<link>` gets its
//! `rdf:about` as one (feed-rs drops items without a link; RSS 1.0 says the
//! two are the same URI), or, without either, a placeholder link that
//! `convert` removes (feedparser reads such items too).
//!
//! A rewrite of quick-xml events, run only on documents that need it;
//! everything else is written back as it came. Any XML error returns `None`
//! and the original text is parsed.

use std::borrow::Cow;

use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::{Reader, Writer};

const RSS: &str = "http://purl.org/rss/1.0/";
/// The link given to an RSS 1.0 / 0.90 item with neither `<link>` nor
/// `rdf:about`, so that feed-rs keeps it; removed again in `convert`.
pub(super) const NO_LINK: &str = "polyfeed:no-link";
/// Namespaces read as the RSS one.
const ALIASES: [&str; 3] =
    ["http://my.netscape.com/rdf/simple/0.9/", "http://backend.userland.com/rss2", "http://backend.userland.com/rss"];

/// The rewritten document, or `None` when it needs nothing (or is not XML).
pub(super) fn rewrite(text: &str) -> Option<String> {
    let rdf = text.contains("http://www.w3.org/1999/02/22-rdf-syntax-ns#");
    if !rdf && !ALIASES.iter().any(|a| text.contains(a)) {
        return None;
    }
    let mut reader = Reader::from_str(text);
    let mut out = Writer::new(Vec::with_capacity(text.len() + 64));
    let mut root: Option<String> = None;
    let mut changed = false;
    loop {
        let event = reader.read_event().ok()?;
        match event {
            Event::Eof => break,
            Event::Start(ref e) | Event::Empty(ref e) => {
                let local = e.local_name().as_ref().to_string();
                let root = root.get_or_insert_with(|| local.clone());
                if root != "RDF" && root != "rss" {
                    return None;
                }
                let start = start_tag(e, &mut changed);
                if matches!(event, Event::Empty(_)) {
                    out.write_event(Event::Empty(start)).ok()?;
                    continue;
                }
                if root == "RDF" && local == "item" {
                    let inner = subtree(|| reader.read_event().ok())?;
                    let has_link = has_child(&inner, "link");
                    let about = e.attributes().with_checks(false).flatten().find(|a| a.key.as_ref() == "rdf:about");
                    out.write_event(Event::Start(start)).ok()?;
                    for ev in inner {
                        out.write_event(ev).ok()?;
                    }
                    if !has_link {
                        let href = about.map_or_else(|| NO_LINK.to_string(), |a| a.value.into_owned());
                        out.write_event(Event::Start(BytesStart::new("link"))).ok()?;
                        out.write_event(Event::Text(BytesText::from_escaped(href))).ok()?;
                        out.write_event(Event::End(BytesEnd::new("link"))).ok()?;
                        changed = true;
                    }
                    out.write_event(Event::End(BytesEnd::new(e.name().as_ref().to_string()))).ok()?;
                    continue;
                }
                out.write_event(Event::Start(start)).ok()?;
            }
            other => out.write_event(other).ok()?,
        }
    }
    if !changed {
        return None;
    }
    String::from_utf8(out.into_inner()).ok()
}

/// A copy of a start tag with aliased namespace declarations pointed at RSS.
fn start_tag<'a>(e: &'a BytesStart<'a>, changed: &mut bool) -> BytesStart<'a> {
    let mut start = BytesStart::new(e.name().as_ref().to_string());
    for a in e.attributes().with_checks(false).flatten() {
        let key = a.key.as_ref();
        let is_xmlns = key == "xmlns" || key.starts_with("xmlns:");
        if is_xmlns && ALIASES.contains(&a.value.as_ref()) {
            start.push_attribute(Attribute { key: a.key, value: Cow::Borrowed(RSS) });
            *changed = true;
        } else {
            start.push_attribute(a);
        }
    }
    start
}

/// The events inside the element just opened, up to (not including) its
/// end, from `next` (a reader's `read_event`; `None` on an error). Shared
/// with `atom_fix`.
pub(super) fn subtree<'i>(mut next: impl FnMut() -> Option<Event<'i>>) -> Option<Vec<Event<'i>>> {
    let mut depth = 0usize;
    let mut events = Vec::new();
    loop {
        let event = next()?;
        match &event {
            Event::Start(_) => depth += 1,
            Event::End(_) if depth == 0 => return Some(events),
            Event::End(_) => depth -= 1,
            Event::Eof => return None,
            _ => {}
        }
        events.push(event);
    }
}

/// Whether a direct child element has this local name.
fn has_child(inner: &[Event<'_>], name: &str) -> bool {
    let mut depth = 0usize;
    for ev in inner {
        match ev {
            Event::Start(e) | Event::Empty(e) if depth == 0 && e.local_name().as_ref() == name => return true,
            Event::Start(_) => depth += 1,
            Event::End(_) => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rss090_and_userland_namespaces_become_rss() {
        let doc = r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://my.netscape.com/rdf/simple/0.9/"><channel><title>T</title></channel><item><title>I</title><link>http://e.fi/1</link></item></rdf:RDF>"#;
        let out = rewrite(doc).unwrap();
        assert!(out.contains(r#"xmlns="http://purl.org/rss/1.0/""#), "{out}");
        let doc =
            r#"<rss version="2.0" xmlns="http://backend.userland.com/rss2"><channel><title>T</title></channel></rss>"#;
        assert!(rewrite(doc).unwrap().contains(r#"<rss version="2.0" xmlns="http://purl.org/rss/1.0/">"#));
    }

    #[test]
    fn rdf_item_without_link_gets_its_about() {
        let doc = r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"><item rdf:about="http://e.fi/1?a=1&amp;b=2"><title>I</title></item><item rdf:about="x"><link>http://e.fi/2</link></item></rdf:RDF>"#;
        let out = rewrite(doc).unwrap();
        assert!(out.contains("<title>I</title><link>http://e.fi/1?a=1&amp;b=2</link></item>"), "{out}");
        assert!(out.contains("<link>http://e.fi/2</link></item>"), "{out}");
        assert!(rewrite(r#"<rss version="2.0"><channel/></rss>"#).is_none());
    }

    #[test]
    fn rdf_item_without_link_or_about_is_kept_without_a_link() {
        let doc = r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://my.netscape.com/rdf/simple/0.9/"><channel><title>C</title><link>http://e.fi/</link></channel><item><title>Item title</title></item></rdf:RDF>"#;
        let feed = crate::parse::parse(doc.as_bytes(), None, Some("http://e.fi/feed")).unwrap().feed;
        assert_eq!(feed.entries.len(), 1);
        assert_eq!(feed.entries[0].title.as_ref().map(|t| t.body.as_str()), Some("Item title"));
        assert!(feed.entries[0].links.is_empty(), "{:?}", feed.entries[0].links);
    }
}
