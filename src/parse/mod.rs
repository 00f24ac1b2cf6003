//! Bytes to [`RawFeed`]: encoding repair, Atom 0.3 and odd Atom text
//! constructs rewritten to Atom 1.0 (and RSS 0.90 or RSS in UserLand's
//! namespace to the RSS namespace), feed-rs behind a panic guard, the
//! `<rss>`-without-version and -channel retries, and second passes for what feed-rs drops:
//! item-level `atom:link`s in RSS (with the rss crate), iTunes and Media
//! RSS categories, authors and titles (`rss_extras`), `xml:base` and
//! `xml:lang` on Atom entries, JSON Feed item languages and attachments.
//! Ill-formed documents are read after a lenient repair, and entities
//! declared in an internal DTD subset are expanded (`repair`).
//! Feed-level authors are inherited where the format says so. No other
//! module sees the feed crates' types.

mod atom_fix;
mod atom_scope;
mod codepages;
mod convert;
pub mod encoding;
mod hints;
mod html;
mod json_items;
mod repair;
mod rss_bodies;
mod rss_extras;
mod rss_fix;
mod rss_links;

pub use html::alternate_languages;

use std::panic::{AssertUnwindSafe, catch_unwind};

pub use html::{advertised_feeds, looks_like_html};

use crate::model::RawFeed;

/// Most entries kept from one document; the rest are dropped with a warning.
pub const MAX_ENTRIES: usize = 5_000;

/// Why a document could not be parsed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    /// An HTML page, not a feed; `advertised` lists the feeds it links to.
    #[error("not a feed: an HTML page{}", advertised_hint(.advertised))]
    HtmlPage {
        /// Feed URLs from `<link rel="alternate">` in the page.
        advertised: Vec<String>,
    },
    /// The parser rejected the document.
    #[error("cannot parse feed: {0}")]
    Invalid(String),
    /// The parser panicked on this input (a bug in it, contained).
    #[error("feed parser crashed on this document: {0}")]
    Crashed(String),
    /// Nothing but whitespace.
    #[error("empty response")]
    Empty,
}

fn advertised_hint(urls: &[String]) -> String {
    match urls.first() {
        Some(u) => format!("; it advertises a feed at {u}"),
        None => String::new(),
    }
}

/// A parsed document with what was repaired on the way.
#[derive(Debug)]
pub struct Parsed {
    /// The feed.
    pub feed: RawFeed,
    /// Encoding decision, e.g. `windows-1252 (XML prolog)`.
    pub encoding: String,
    /// Repairs and losses worth recording on the source.
    pub warnings: Vec<String>,
}

/// Parses a fetched document. `base_url` resolves relative links (the URL the
/// document was fetched from); `content_type` supplies the HTTP charset.
pub fn parse(bytes: &[u8], content_type: Option<&str>, base_url: Option<&str>) -> Result<Parsed, ParseError> {
    let decoded = encoding::decode_keeping_c1(bytes, content_type.and_then(encoding::charset_of));
    let text = decoded.text.trim_start();
    if text.is_empty() {
        return Err(ParseError::Empty);
    }
    if html::looks_like_html(text) {
        return Err(ParseError::HtmlPage { advertised: html::advertised_feeds(text, base_url) });
    }
    let mut warnings = decoded.warnings;
    let expanded = repair::expand_internal_entities(text);
    let text = expanded.as_deref().unwrap_or(text);
    let repaired;
    let (text, mut feed) = match read(text, base_url) {
        Err(ParseError::Invalid(e)) => {
            // Ill-formed: read as a lenient reader would, else the first error.
            let Some(fixed) = repair::ill_formed(text) else {
                return Err(ParseError::Invalid(e));
            };
            repaired = fixed;
            let read = read(&repaired, base_url).map_err(|_| ParseError::Invalid(e.clone()))?;
            warnings.push(format!("not well-formed XML ({e}); read as repaired"));
            read
        }
        other => other?,
    };
    let text: &str = &text;
    recover_dropped(text, &mut feed, base_url, &mut warnings);
    inherit_authors(&mut feed);
    if feed.format != "json" {
        feed.schedule = hints::schedule(text);
    }
    if feed.entries.len() > MAX_ENTRIES {
        warnings.push(format!("{} entries; kept the first {MAX_ENTRIES}", feed.entries.len()));
        feed.entries.truncate(MAX_ENTRIES);
    }
    Ok(Parsed { feed, encoding: decoded.encoding, warnings })
}

/// Atom 0.3 and odd text constructs rewritten to Atom 1.0 feed-rs reads;
/// RSS in namespaces feed-rs does not know, RSS 1.0 items without a link;
/// then parsed. Returns the text that was parsed.
fn read<'a>(text: &'a str, base_url: Option<&str>) -> Result<(std::borrow::Cow<'a, str>, RawFeed), ParseError> {
    let text = match atom_fix::rewrite(text).or_else(|| rss_fix::rewrite(text)) {
        Some(rewritten) => std::borrow::Cow::Owned(rewritten),
        None => std::borrow::Cow::Borrowed(text),
    };
    let feed = parse_text(&text, base_url)?;
    Ok((text, feed))
}

/// Second passes for what feed-rs drops, each contained: a failure costs
/// the recovered details (with a warning), never the feed.
fn recover_dropped(text: &str, feed: &mut RawFeed, base_url: Option<&str>, warnings: &mut Vec<String>) {
    let format = feed.format.clone();
    let (what, result) = match format.as_str() {
        "atom" => ("Atom xml:base/xml:lang", guarded(|| atom_scope::apply(text, feed, base_url))),
        "json" => ("JSON Feed item", guarded(|| json_items::apply(text, feed))),
        f if f.starts_with("rss") => {
            if f != "rss1" {
                let result = guarded(|| rss_bodies::apply(text, feed));
                if let Err(e) = result.map_err(|e| e.to_string()).and_then(|r| r) {
                    warnings.push(format!("RSS item body pass failed: {e}"));
                }
            }
            if f == "rss1" {
                let result = guarded(|| rss_extras::rdf_about(text, feed));
                if let Err(e) = result.map_err(|e| e.to_string()).and_then(|r| r) {
                    warnings.push(format!("rdf:about pass failed: {e}"));
                }
            }
            // RSS 1.0's Dublin Core is feed-rs's; the rss crate reads 0.9x and 2.0.
            if f != "rss1" && text.contains("http://purl.org/dc/") {
                let result = guarded(|| rss_links::recover_dublin_core(text, feed));
                if let Err(e) = result.map_err(|e| e.to_string()).and_then(|r| r) {
                    warnings.push(format!("Dublin Core pass failed: {e}"));
                }
            }
            if rss_extras::wanted(text) {
                let result = guarded(|| rss_extras::apply(text, feed));
                if let Err(e) = result.map_err(|e| e.to_string()).and_then(|r| r) {
                    warnings.push(format!("RSS extension pass failed: {e}"));
                }
            }
            if !text.contains("http://www.w3.org/2005/Atom") {
                return;
            }
            ("item atom:link", guarded(|| rss_links::recover_item_links(text, feed, base_url)))
        }
        _ => return,
    };
    if let Err(e) = result.map_err(|e| e.to_string()).and_then(|r| r) {
        warnings.push(format!("{what} pass failed: {e}"));
    }
}

/// An entry without authors has the feed's (Atom: RFC 4287 §4.2.1; JSON
/// Feed). RSS has no feed-level author to inherit (`managingEditor` is not one).
fn inherit_authors(feed: &mut RawFeed) {
    if !matches!(feed.format.as_str(), "atom" | "json") {
        return;
    }
    for e in feed.entries.iter_mut().filter(|e| e.authors.is_empty()) {
        e.authors.clone_from(&feed.authors);
    }
}

fn parse_text(text: &str, base_url: Option<&str>) -> Result<RawFeed, ParseError> {
    if text.starts_with('{') {
        let fixed = json_items::coerce_ids(text);
        return feed_rs_parse(fixed.as_deref().unwrap_or(text), base_url);
    }
    match feed_rs_parse(text, base_url) {
        Err(ParseError::Invalid(e)) if e.contains("no root") || e.contains("NoFeedRoot") => {
            let Some(fixed) = rss_with_version(text) else {
                return Err(ParseError::Invalid(e));
            };
            match feed_rs_parse(&fixed, base_url) {
                Err(ParseError::Invalid(_)) if !fixed.contains("<channel") => match rss_with_channel(&fixed) {
                    Some(wrapped) => feed_rs_parse(&wrapped, base_url),
                    None => Err(ParseError::Invalid(e)),
                },
                other => other,
            }
        }
        other => other,
    }
}

fn feed_rs_parse(text: &str, base_url: Option<&str>) -> Result<RawFeed, ParseError> {
    let parser = feed_rs::parser::Builder::new()
        .base_uri(base_url)
        // Ids we derive ourselves (normalise::identity); never a random one.
        .id_generator(|_, _, _| String::new())
        .sanitize_content(false)
        .build();
    match guarded(|| parser.parse(text.as_bytes())) {
        Ok(Ok(feed)) => Ok(convert::feed(feed)),
        Ok(Err(e)) => Err(ParseError::Invalid(describe(&e))),
        Err(e) => Err(e),
    }
}

fn describe(e: &feed_rs::parser::ParseFeedError) -> String {
    use feed_rs::parser::{ParseErrorKind, ParseFeedError};
    match e {
        ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot) => "no root element of a known feed format".into(),
        other => other.to_string(),
    }
}

/// Runs parser code so that a panic in it becomes an error.
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, ParseError> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        ParseError::Crashed(msg)
    })
}

/// feed-rs knows `<rss>` only with version 2.0, 0.91 or 0.92; the rest of the
/// 0.9x/2.x family parses as 2.0. Returns the text with `version="2.0"`.
fn rss_with_version(text: &str) -> Option<String> {
    let start = text.find("<rss")?;
    let after = &text[start + 4..];
    if !after.starts_with(|c: char| c.is_whitespace() || c == '>') {
        return None;
    }
    let end = start + 4 + after.find('>')?;
    let tag = &text[start..end];
    let new_tag = match tag.find("version") {
        Some(v) => {
            let rest = &tag[v..];
            let q1 = rest.find(['"', '\''])?;
            let quote = rest.as_bytes()[q1] as char;
            let q2 = q1 + 1 + rest[q1 + 1..].find(quote)?;
            format!("{}version=\"2.0\"{}", &tag[..v], &rest[q2 + 1..])
        }
        None => format!("<rss version=\"2.0\"{}", &tag[4..]),
    };
    Some(format!("{}{}{}", &text[..start], new_tag, &text[end..]))
}

/// `<rss>` without `<channel>` (an empty document, or items directly under
/// the root, which old readers accepted): the root's content wrapped in one.
fn rss_with_channel(text: &str) -> Option<String> {
    let start = text.find("<rss")?;
    let open_end = start + text[start..].find('>')?;
    if text[..open_end].ends_with('/') {
        return None;
    }
    let close = text.rfind("</rss>").filter(|c| *c > open_end)?;
    Some(format!("{}<channel>{}</channel>{}", &text[..=open_end], &text[open_end + 1..close], &text[close..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rss_version_is_forced() {
        assert_eq!(rss_with_version("<rss><channel/></rss>").unwrap(), "<rss version=\"2.0\"><channel/></rss>");
        assert_eq!(rss_with_version("<rss version='0.94' x='1'>").unwrap(), "<rss version=\"2.0\" x='1'>");
        assert!(rss_with_version("<rsss>").is_none());
    }

    #[test]
    fn rss_without_channel_is_read() {
        let doc = br#"<rss version="0.91"><item><title>T</title><link>http://e.fi/1</link></item></rss>"#;
        let parsed = parse(doc, None, None).unwrap();
        assert_eq!(parsed.feed.entries.len(), 1);
        assert_eq!(parsed.feed.entries[0].title.as_ref().unwrap().body, "T");
        assert!(parse(b"<rss>\n</rss>", None, None).unwrap().feed.entries.is_empty());
        assert!(parse(b"<rss/>", None, None).is_err());
    }

    #[test]
    fn feed_authors_are_inherited_by_atom_and_json_only() {
        let a = crate::model::Person { name: Some("A".into()), ..Default::default() };
        let own = crate::model::Person { name: Some("B".into()), ..Default::default() };
        for (format, inherits) in [("atom", true), ("json", true), ("rss2", false), ("rss1", false)] {
            let mut feed = RawFeed {
                format: format.into(),
                authors: vec![a.clone()],
                entries: vec![
                    Default::default(),
                    crate::model::RawEntry { authors: vec![own.clone()], ..Default::default() },
                ],
                ..Default::default()
            };
            inherit_authors(&mut feed);
            let expected = if inherits { vec![a.clone()] } else { vec![] };
            assert_eq!(feed.entries[0].authors, expected, "{format}");
            assert_eq!(feed.entries[1].authors, std::slice::from_ref(&own), "{format}");
        }
    }

    #[test]
    fn json_feed_with_numeric_ids_parses() {
        let doc = br#"{"version":"https://jsonfeed.org/version/1.1","title":"T",
            "items":[{"id":7,"url":"https://j.fi/7","language":"sv"}]}"#;
        let parsed = parse(doc, Some("application/feed+json"), None).unwrap();
        let e = &parsed.feed.entries[0];
        assert_eq!(e.guid.as_deref(), Some("7"));
        assert_eq!(e.language.as_deref(), Some("sv"));
        assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    }

    #[test]
    fn internal_dtd_entities_are_expanded() {
        let doc = br#"<!DOCTYPE rss [
  <!ENTITY id "tag:example.com,">
]>
<rss version="2.0"><channel><item><guid isPermaLink='false'>&id;2006-05-04:/blog/</guid></item></channel></rss>"#;
        let parsed = parse(doc, None, None).unwrap();
        assert_eq!(parsed.feed.entries[0].guid.as_deref(), Some("tag:example.com,2006-05-04:/blog/"));
    }

    #[test]
    fn ill_formed_documents_are_repaired_and_say_so() {
        let parsed = parse(
            b"<feed xmlns='http://www.w3.org/2005/Atom'><title>T &c</title><entry><id>1</id></entry></feed",
            None,
            None,
        )
        .unwrap();
        assert_eq!(parsed.feed.title.as_deref(), Some("T &c"));
        assert_eq!(parsed.feed.entries.len(), 1);
        assert!(parsed.warnings.iter().any(|w| w.contains("not well-formed")), "{:?}", parsed.warnings);
        let unescaped = b"<rss version='2.0'><channel><title>T</title><item><title>I</title><description>a<br>b & c</description></item></channel></rss>";
        let parsed = parse(unescaped, None, None).unwrap();
        assert_eq!(parsed.feed.entries[0].title.as_ref().map(|t| t.body.as_str()), Some("I"));
        // What no repair makes a feed keeps the parser's own error.
        let err = parse(b"<catalog>&&</catalog", None, None).unwrap_err();
        assert!(matches!(err, ParseError::Invalid(_)), "{err:?}");
    }

    #[test]
    fn atom_categories_are_terms_and_person_urls_are_uris() {
        let doc = br#"<feed xmlns="http://www.w3.org/2005/Atom"><entry><id>1</id>
  <category term="atom10" label="Atom 1.0 tests"/><category term="" label="Only a label"/>
  <author><name>A</name><url>http://example.com/</url></author></entry></feed>"#;
        let e = &parse(doc, None, None).unwrap().feed.entries[0];
        assert_eq!(e.categories, ["atom10", "Only a label"]);
        assert_eq!(e.authors[0].uri.as_deref(), Some("http://example.com/"));
    }

    #[test]
    fn html_page_is_not_a_feed() {
        let page = br#"<!DOCTYPE html><html><head><link rel="alternate" type="application/rss+xml" href="/feed.xml"></head></html>"#;
        let err = parse(page, None, Some("http://example.org/blog/")).unwrap_err();
        assert_eq!(err, ParseError::HtmlPage { advertised: vec!["http://example.org/feed.xml".into()] });
        assert!(err.to_string().contains("http://example.org/feed.xml"));
    }
}
