//! Atom documents made readable for feed-rs, before it sees them: Atom 0.3
//! (`http://purl.org/atom/ns#`, still served by old blogs and CMSs) becomes
//! Atom 1.0 (`modified` -> `updated`, `issued` -> `published`, `tagline` ->
//! `subtitle`, `copyright` -> `rights`, a person's `url` -> `uri`), and text
//! constructs get a `type` feed-rs knows: 0.3's MIME types and `mode`
//! (`escaped`, `base64` decoded here, `xml`), `text/plain`, `text/html`,
//! `application/xhtml+xml`, empty or unknown types. Text constructs with no
//! text at all are dropped (feed-rs rejects the whole document for one).
//!
//! A rewrite of quick-xml events: everything else is written back as it
//! came. Any XML error returns `None` and the original text is parsed.

use std::borrow::Cow;

use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::{NsReader, Writer};

const ATOM10: &str = "http://www.w3.org/2005/Atom";
const ATOM03: &str = "http://purl.org/atom/ns#";

/// Text constructs (after renaming) whose `type` is normalised.
const TEXT_CONSTRUCTS: [&str; 5] = ["title", "subtitle", "rights", "summary", "content"];

/// The rewritten document, or `None` when it is not Atom or not well-formed.
pub(super) fn rewrite(text: &str) -> Option<String> {
    if !may_need_rewrite(text) {
        return None; // an ordinary Atom 1.0 document: not parsed twice
    }
    let mut reader = NsReader::from_str(text);
    let mut out = Writer::new(Vec::with_capacity(text.len() + 64));
    // Per open element: the name its end tag is written with, if renamed.
    let mut open: Vec<Option<String>> = Vec::new();
    // Per open element: its local name (after renaming).
    let mut locals: Vec<String> = Vec::new();
    let mut root_seen = false;
    let mut legacy_root = false;
    loop {
        let (ns, event) = reader.read_resolved_event().ok()?;
        let ns = owned_ns(&ns);
        match event {
            Event::Eof => break,
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                let local = e.local_name().as_ref().to_string();
                if !root_seen {
                    root_seen = true;
                    if local != "feed" && local != "entry" {
                        return None;
                    }
                    legacy_root =
                        ns.as_deref() == Some(ATOM03) || attr(e, "version").is_some_and(|v| v.starts_with("0."));
                }
                let atom = match ns.as_deref() {
                    Some(n) => n == ATOM10 || n == ATOM03,
                    None => true,
                };
                let legacy = ns.as_deref() == Some(ATOM03) || (ns.is_none() && legacy_root);
                // A person's home page under a name feedparser also reads.
                let in_person = matches!(locals.last().map(String::as_str), Some("author" | "contributor"));
                let new_local = if atom && legacy { renamed(&local) } else { None }
                    .or_else(|| (atom && in_person && matches!(local.as_str(), "url" | "homepage")).then_some("uri"))
                    // An RSS-style <item> in a feed is an entry, as feedparser reads it.
                    .or_else(|| {
                        (atom && local == "item" && locals.len() == 1 && locals[0] == "feed").then_some("entry")
                    });
                let name_local = new_local.map(str::to_string).unwrap_or_else(|| local.clone());
                let qname = qualified(e, new_local);
                if atom && !empty && TEXT_CONSTRUCTS.contains(&name_local.as_str()) {
                    let inner = super::rss_fix::subtree(|| reader.read_event().ok())?;
                    text_construct(&mut out, e, qname.as_deref(), &name_local, &inner)?;
                    continue;
                }
                if atom && empty && TEXT_CONSTRUCTS.contains(&name_local.as_str()) && attr(e, "src").is_none() {
                    continue; // an empty text construct: dropped
                }
                let start = start_tag(e, qname.as_deref(), None);
                if empty {
                    out.write_event(Event::Empty(start)).ok()?;
                } else {
                    out.write_event(Event::Start(start)).ok()?;
                    open.push(qname);
                    locals.push(name_local);
                }
            }
            Event::End(e) => match (open.pop()?, locals.pop()).0 {
                Some(name) => out.write_event(Event::End(BytesEnd::new(name))).ok()?,
                None => out.write_event(Event::End(e)).ok()?,
            },
            other => out.write_event(other).ok()?,
        }
    }
    String::from_utf8(out.into_inner()).ok()
}

/// A string scan, far cheaper than the rewrite, that is true for every
/// document the rewrite could change: Atom 0.3 (its namespace, a `version`
/// of 0.x), a `mode` attribute, `url` or `homepage` elements (a person's
/// home page, read as `uri`), `item` (an entry), and text constructs that are empty, have a
/// `type` other than `text`, `html` or `xhtml`, or hold elements without
/// being `xhtml` (CDATA counts as an element here: a false alarm only costs
/// the rewrite).
fn may_need_rewrite(text: &str) -> bool {
    if text.contains(ATOM03) || text.contains("version=\"0.") || text.contains("version='0.") || text.contains("mode=")
    {
        return true;
    }
    let mut rest = text;
    while let Some(at) = rest.find('<') {
        rest = &rest[at + 1..];
        // Names are short: a bounded look, so that `<<<<…` stays linear.
        let Some((name_end, _)) =
            rest.char_indices().take(64).find(|(_, c)| c.is_whitespace() || *c == '>' || *c == '/')
        else {
            continue;
        };
        let name = &rest[..name_end];
        let local = name.rsplit(':').next().unwrap_or(name);
        if local == "url" || local == "homepage" || local == "item" {
            return true; // perhaps a person's home page, or an item for an entry
        }
        if !TEXT_CONSTRUCTS.contains(&local) {
            continue;
        }
        let Some(close) = rest.find('>') else { return true };
        let tag = &rest[name_end..close];
        if tag.ends_with('/') {
            return true; // empty
        }
        let ty = tag_type(tag);
        if !matches!(ty, None | Some("text" | "html" | "xhtml")) {
            return true;
        }
        let body = &rest[close + 1..];
        let Some(next) = body.find('<') else { return true };
        let is_end = body[next..].strip_prefix("</").is_some_and(|e| e.starts_with(name));
        if ty != Some("xhtml") && (!is_end || body[..next].trim().is_empty()) {
            return true; // elements in a text construct, or nothing in it
        }
    }
    false
}

/// The value of a start tag's `type` attribute (the text after the name).
fn tag_type(tag: &str) -> Option<&str> {
    let at = tag.find("type=")?;
    let rest = &tag[at + 5..];
    let quote = rest.chars().next().filter(|q| *q == '"' || *q == '\'')?;
    let value = &rest[1..];
    Some(value[..value.find(quote)?].trim())
}

fn owned_ns(ns: &ResolveResult<'_>) -> Option<String> {
    match ns {
        ResolveResult::Bound(Namespace(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// Atom 0.3 element names that Atom 1.0 renamed.
fn renamed(local: &str) -> Option<&'static str> {
    Some(match local {
        "modified" => "updated",
        "issued" => "published",
        "tagline" => "subtitle",
        "copyright" => "rights",
        "url" => "uri",
        _ => return None,
    })
}

/// The element's qualified name with a new local part, if renamed.
fn qualified(e: &BytesStart<'_>, new_local: Option<&str>) -> Option<String> {
    let new_local = new_local?;
    let name = e.name();
    Some(match name.prefix() {
        Some(p) => format!("{}:{new_local}", p.as_ref()),
        None => new_local.to_string(),
    })
}

/// A copy of a start tag: renamed, Atom 0.3 namespace declarations pointed
/// at Atom 1.0, `type`/`mode` replaced by `new_type` when given.
fn start_tag<'a>(e: &'a BytesStart<'a>, qname: Option<&str>, new_type: Option<&str>) -> BytesStart<'a> {
    let name = match qname {
        Some(q) => q.to_string(),
        None => e.name().as_ref().to_string(),
    };
    let mut start = BytesStart::new(name);
    for a in e.attributes().with_checks(false).flatten() {
        let key = a.key.as_ref();
        if new_type.is_some() && (key == "type" || key == "mode") {
            continue;
        }
        let is_xmlns = key == "xmlns" || key.starts_with("xmlns:");
        if is_xmlns && a.value.as_ref() == ATOM03 {
            start.push_attribute(Attribute { key: a.key, value: Cow::Borrowed(ATOM10) });
        } else {
            start.push_attribute(a);
        }
    }
    if let Some(t) = new_type {
        start.push_attribute(("type", t));
    }
    start
}

fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.attributes()
        .with_checks(false)
        .flatten()
        .find(|a| a.key.as_ref() == name)
        .map(|a| a.value.trim().to_ascii_lowercase())
}

/// Writes one text construct with a type feed-rs reads, or nothing when it
/// holds no text.
fn text_construct(
    out: &mut Writer<Vec<u8>>,
    e: &BytesStart<'_>,
    qname: Option<&str>,
    local: &str,
    inner: &[Event<'_>],
) -> Option<()> {
    let end_name = qname.map(str::to_string).unwrap_or_else(|| e.name().as_ref().to_string());
    let has_elements = inner.iter().any(|ev| matches!(ev, Event::Start(_) | Event::Empty(_)));
    let text = inner_text(inner);
    let is_content = local == "content";
    if is_content && attr(e, "src").is_some() {
        out.write_event(Event::Start(start_tag(e, qname, None))).ok()?;
        for ev in inner {
            out.write_event(ev.borrow()).ok()?;
        }
        return out.write_event(Event::End(BytesEnd::new(end_name))).ok();
    }
    if !has_elements && text.trim().is_empty() {
        return Some(()); // nothing to read: dropped
    }
    let ty = attr(e, "type").unwrap_or_default();
    let mode = attr(e, "mode").unwrap_or_default();
    let markup = ty.contains("html") || ty.ends_with("+xml") || ty.ends_with("/xml");
    if mode == "base64"
        || (!has_elements && !is_text_type(&ty) && !ty.starts_with("text/") && !markup && !ty.is_empty())
    {
        // base64, said or implied by a non-text MIME type (RFC 4287 §4.1.3.3)
        let decoded = match base64(&text) {
            Some(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            None if mode == "base64" => return Some(()),
            None => text.clone(),
        };
        let looks_like_markup = decoded.contains('<') && decoded.contains('>');
        let new_type = if markup || looks_like_markup { "html" } else { "text" };
        out.write_event(Event::Start(start_tag(e, qname, Some(new_type)))).ok()?;
        out.write_event(Event::Text(BytesText::new(&decoded))).ok()?;
        return out.write_event(Event::End(BytesEnd::new(end_name))).ok();
    }
    let new_type = match (ty.as_str(), mode.as_str()) {
        _ if has_elements => "xhtml",
        (t, "escaped") if t.contains("html") || t.ends_with("xml") => "html",
        ("" | "text" | "text/plain", _) => "text",
        ("html" | "text/html", _) => "html",
        // Inline XHTML named without elements holds only text.
        ("xhtml" | "application/xhtml+xml", _) => "text",
        (t, _) if t.starts_with("text/") && is_content => return write_as_is(out, e, qname, inner, end_name),
        _ if markup => "html",
        _ => "text",
    };
    out.write_event(Event::Start(start_tag(e, qname, Some(new_type)))).ok()?;
    for ev in inner {
        out.write_event(ev.borrow()).ok()?;
    }
    out.write_event(Event::End(BytesEnd::new(end_name))).ok()
}

fn write_as_is(
    out: &mut Writer<Vec<u8>>,
    e: &BytesStart<'_>,
    qname: Option<&str>,
    inner: &[Event<'_>],
    end_name: String,
) -> Option<()> {
    out.write_event(Event::Start(start_tag(e, qname, None))).ok()?;
    for ev in inner {
        out.write_event(ev.borrow()).ok()?;
    }
    out.write_event(Event::End(BytesEnd::new(end_name))).ok()
}

fn is_text_type(t: &str) -> bool {
    matches!(t, "text" | "html" | "xhtml")
}

/// The character data of a subtree (entities decoded where XML defines them).
fn inner_text(inner: &[Event<'_>]) -> String {
    let mut s = String::new();
    for ev in inner {
        match ev {
            Event::Text(t) => s.push_str(&t.xml10_content()),
            Event::CData(c) => s.push_str(c),
            Event::GeneralRef(r) => match r.resolve_char_ref() {
                Ok(Some(c)) => s.push(c),
                _ => {
                    s.push_str(quick_xml::escape::resolve_predefined_entity(r).unwrap_or("?"));
                }
            },
            _ => {}
        }
    }
    s
}

/// Standard base64 (white space ignored); `None` when it is not.
fn base64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes().filter(|c| !c.is_ascii_whitespace()) {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atom03_becomes_atom10() {
        let doc = r#"<feed version="0.3" xmlns="http://purl.org/atom/ns#"><title>T</title><tagline type="text/html" mode="escaped">&lt;b&gt;x&lt;/b&gt;</tagline><entry><issued>2003-12-31T10:14:55Z</issued><modified>2004-01-01T00:00:00Z</modified><author><name>A</name><url>http://a.example/</url></author><content type="application/octet-stream" mode="base64">PGI+aGk8L2I+</content></entry></feed>"#;
        let out = rewrite(doc).unwrap();
        assert!(out.contains(r#"xmlns="http://www.w3.org/2005/Atom""#), "{out}");
        assert!(out.contains(r#"<subtitle type="html">&lt;b&gt;x&lt;/b&gt;</subtitle>"#), "{out}");
        assert!(out.contains("<published>2003-12-31T10:14:55Z</published>"), "{out}");
        assert!(out.contains("<updated>2004-01-01T00:00:00Z</updated>"), "{out}");
        assert!(out.contains("<uri>http://a.example/</uri>"), "{out}");
        assert!(out.contains(r#"<content type="html">&lt;b&gt;hi&lt;/b&gt;</content>"#), "{out}");
    }

    #[test]
    fn odd_and_empty_text_constructs() {
        let doc = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title type=""></title><subtitle type="application/xhtml+xml">S</subtitle><rights type="text/plain">R</rights><entry><title/><summary type="html">x</summary></entry></feed>"#;
        let out = rewrite(doc).unwrap();
        assert!(!out.contains("<title"), "{out}");
        assert!(out.contains(r#"<subtitle type="text">S</subtitle>"#), "{out}");
        assert!(out.contains(r#"<rights type="text">R</rights>"#), "{out}");
        assert!(out.contains(r#"<summary type="html">x</summary>"#), "{out}");
    }

    #[test]
    fn not_atom_or_broken_is_left_alone() {
        assert!(rewrite("<rss version=\"2.0\"><channel/></rss>").is_none());
        assert!(rewrite("<feed><title>x</feed>").is_none());
        assert_eq!(base64("aGk=").unwrap(), b"hi");
        assert!(base64("a*b").is_none());
    }

    #[test]
    fn items_in_a_feed_are_entries_and_person_urls_uris() {
        let doc = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title><item><id>1</id><author><name>A</name><homepage>http://a.fi/</homepage></author><x><item/></x></item></feed>"#;
        let out = rewrite(doc).unwrap();
        assert!(
            out.contains(
                "<entry><id>1</id><author><name>A</name><uri>http://a.fi/</uri></author><x><item/></x></entry>"
            ),
            "{out}"
        );
        let feed = crate::parse::parse(doc.as_bytes(), None, None).unwrap().feed;
        assert_eq!(feed.entries.len(), 1);
        assert_eq!(feed.entries[0].authors[0].uri.as_deref(), Some("http://a.fi/"));
    }

    #[test]
    fn only_documents_the_rewrite_can_change_are_rewritten() {
        let ordinary = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title type="text">T</title><link type="text/html" href="x"/><entry><title>E &amp; F</title><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>x</p></div></content></entry></feed>"#;
        assert!(!may_need_rewrite(ordinary) && rewrite(ordinary).is_none());
        for odd in [
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><title type="application/xhtml+xml">T</title></feed>"#,
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><title/></feed>"#,
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><atom:summary>  </atom:summary></feed>"#,
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><title><b>T</b></title></feed>"#,
            r#"<feed xmlns="http://www.w3.org/2005/Atom"><content mode="escaped">T</content></feed>"#,
        ] {
            assert!(may_need_rewrite(odd), "{odd}");
        }
        // A hostile document stays linear (and is not a construct).
        let hostile = "<".repeat(200_000);
        assert!(!may_need_rewrite(&hostile));
    }
}
