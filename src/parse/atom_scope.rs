//! A light scan of an Atom document for what feed-rs drops: the `xml:base`
//! and `xml:lang` in force on each `<entry>` (RFC 4287 §2). With them,
//! relative URLs in content and in person URIs resolve where the publisher
//! meant, and an entry in another language than its feed keeps its own tag.
//! Also the entry authors known only by a URI, which feed-rs drops.
//! Not a validating parser: feed-rs has already accepted the document.

use url::Url;

use crate::model::{Person, RawFeed};

/// What is in force on one element.
#[derive(Debug, Clone, Default, PartialEq)]
struct Scope {
    /// `xml:base` resolved through the ancestors and the document URL.
    base: Option<Url>,
    /// `xml:lang` on the element itself.
    own_lang: Option<String>,
}

/// Scopes of the root element and of each entry, in document order.
#[derive(Debug, Default)]
struct Scopes {
    root: Scope,
    entries: Vec<Scope>,
    /// Per entry: its authors known only by a URI (feed-rs drops them).
    uri_authors: Vec<Vec<Person>>,
}

/// Gives each entry its `xml:base` (as [`crate::model::RawEntry::base`]) and
/// own `xml:lang`, and makes relative person URIs absolute. Entries are
/// matched by position; on a count mismatch nothing is changed on entries.
pub(super) fn apply(text: &str, feed: &mut RawFeed, doc_url: Option<&str>) -> Result<(), String> {
    let doc_base = doc_url.and_then(|u| Url::parse(u).ok());
    let scopes = scan(text, doc_base.clone());
    resolve_people(&mut feed.authors, scopes.root.base.as_ref());
    if scopes.entries.len() != feed.entries.len() {
        return Err(format!("found {} entries, the parser {}", scopes.entries.len(), feed.entries.len()));
    }
    for ((entry, scope), uri_authors) in feed.entries.iter_mut().zip(scopes.entries).zip(scopes.uri_authors) {
        entry.authors.extend(uri_authors);
        resolve_people(&mut entry.authors, scope.base.as_ref());
        // feed-rs reports only an `xml:base` on <content>, relative to the entry's.
        let content_base = entry.base.take().and_then(|b| join(scope.base.as_ref(), &b));
        entry.base = content_base.or(scope.base).filter(|b| Some(b) != doc_base.as_ref()).map(String::from);
        if let Some(lang) = scope.own_lang {
            entry.language = Some(lang);
        }
    }
    Ok(())
}

/// Only the root and its children (the entries) get a scope; deeper
/// elements are only counted, so memory does not grow with nesting.
const SCOPED_DEPTH: usize = 2;

fn scan(text: &str, doc_base: Option<Url>) -> Scopes {
    let doc = Scope { base: doc_base, own_lang: None };
    let mut open: Vec<Scope> = Vec::with_capacity(SCOPED_DEPTH);
    let mut depth = 0usize;
    let mut out = Scopes::default();
    let mut tags = Tags { text, pos: 0 };
    // The depth of the entry open now, and of the author open in it.
    let mut entry_depth: Option<usize> = None;
    let mut author: Option<(usize, Person)> = None;
    while let Some(tag) = tags.next() {
        let Tag::Open { body, empty } = tag else {
            depth = depth.saturating_sub(1);
            open.truncate(depth);
            if author.as_ref().is_some_and(|(d, _)| *d == depth) {
                let p = author.take().map(|(_, p)| p).unwrap_or_default();
                if let Some(people) = out.uri_authors.last_mut().filter(|_| p.name.is_none() && p.email.is_none()) {
                    people.extend(Some(p).filter(|p| p.uri.is_some()));
                }
            }
            if entry_depth == Some(depth) {
                entry_depth = None;
            }
            if depth == 0 {
                break;
            }
            continue;
        };
        if depth < SCOPED_DEPTH {
            let scope = child_scope(open.last().unwrap_or(&doc), body);
            if depth == 0 {
                out.root = scope.clone();
            }
            // An entry is a child of the feed, or the root of an entry document.
            if local_name(body) == "entry" {
                out.entries.push(scope.clone());
                out.uri_authors.push(Vec::new());
                entry_depth = (!empty).then_some(depth);
            }
            if !empty {
                open.push(scope);
            }
        }
        if let Some(entry) = entry_depth.filter(|_| !empty) {
            let local = local_name(body);
            if depth == entry + 1 && local == "author" {
                author = Some((depth, Person::default()));
            } else if let Some((_, p)) = author.as_mut().filter(|(a, _)| depth == a + 1) {
                let rest = &text[tags.pos..];
                let value = html_escape::decode_html_entities(rest[..rest.find('<').unwrap_or(rest.len())].trim());
                let value = Some(value.into_owned()).filter(|v| !v.is_empty());
                match local {
                    "name" => p.name = value,
                    "email" => p.email = value,
                    "uri" => p.uri = value,
                    _ => {}
                }
            }
        }
        if !empty {
            depth += 1;
        } else if depth == 0 {
            break;
        }
    }
    out
}

fn child_scope(parent: &Scope, tag: &str) -> Scope {
    let value = |name| crate::markup::attr(tag, name).map(|v| html_escape::decode_html_entities(v.trim()).into_owned());
    let base = match value("xml:base") {
        Some(b) => join(parent.base.as_ref(), &b).or_else(|| parent.base.clone()),
        None => parent.base.clone(),
    };
    Scope { base, own_lang: value("xml:lang").filter(|l| !l.is_empty()) }
}

fn join(base: Option<&Url>, href: &str) -> Option<Url> {
    match base {
        Some(b) => b.join(href.trim()).ok(),
        None => Url::parse(href.trim()).ok(),
    }
}

fn resolve_people(people: &mut [Person], base: Option<&Url>) {
    for uri in people.iter_mut().filter_map(|p| p.uri.as_mut()) {
        if let Some(abs) = join(base, uri) {
            *uri = abs.into();
        }
    }
}

/// `atom:entry` -> `entry`.
fn local_name(tag_body: &str) -> &str {
    let name = tag_body.split(|c: char| c.is_whitespace() || c == '/').next().unwrap_or("");
    name.rsplit(':').next().unwrap_or(name)
}

/// An element tag; comments, CDATA, processing instructions and the
/// doctype are skipped.
#[derive(Debug, PartialEq)]
enum Tag<'a> {
    /// A start tag's text between `<` and `>` (or `/>`).
    Open { body: &'a str, empty: bool },
    /// An end tag.
    Close,
}

struct Tags<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Iterator for Tags<'a> {
    type Item = Tag<'a>;

    fn next(&mut self) -> Option<Tag<'a>> {
        loop {
            let start = self.pos + self.text[self.pos..].find('<')?;
            let rest = &self.text[start..];
            if let Some(len) = skipped_len(rest) {
                self.pos = start + len;
                continue;
            }
            let end = start + tag_end(rest)?;
            self.pos = end + 1;
            let inner = &self.text[start + 1..end];
            if inner.starts_with('/') {
                return Some(Tag::Close);
            }
            return Some(Tag::Open { body: inner.strip_suffix('/').unwrap_or(inner), empty: inner.ends_with('/') });
        }
    }
}

/// Length of a comment, CDATA section, processing instruction or doctype
/// at the start of `s`; `None` for an element tag.
fn skipped_len(s: &str) -> Option<usize> {
    let until = |open: &str, close: &str| {
        s.strip_prefix(open).map(|r| r.find(close).map_or(s.len(), |i| open.len() + i + close.len()))
    };
    until("<!--", "-->")
        .or_else(|| until("<![CDATA[", "]]>"))
        .or_else(|| until("<?", "?>"))
        .or_else(|| s.starts_with("<!").then(|| doctype_len(s)))
}

/// A doctype's length, internal subset (`[...]`, which may hold `>`) included.
fn doctype_len(s: &str) -> usize {
    let gt = s.find('>').unwrap_or(s.len());
    let after_subset = match s[..gt].find('[') {
        Some(open) => s[open..].find(']').map_or(s.len(), |i| open + i),
        None => 0,
    };
    s[after_subset..].find('>').map_or(s.len(), |i| after_subset + i + 1)
}

/// Index of the `>` closing the tag at the start of `s` (quote-aware).
fn tag_end(s: &str) -> Option<usize> {
    let mut quote = None;
    for (i, b) in s.bytes().enumerate().skip(1) {
        match (quote, b) {
            (None, b'"' | b'\'') => quote = Some(b),
            (Some(q), b) if b == q => quote = None,
            (None, b'>') => return Some(i),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RawEntry;

    const DOC: &str = r#"<?xml version="1.0"?>
<!DOCTYPE feed [ <!ENTITY x "a>b"> ]>
<!-- <entry xml:base="nope/"> -->
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://ex.fi/" xml:lang="fi">
  <author><name>A</name><uri>about/a</uri></author>
  <entry xml:base="2024/"><title a='>'>x</title><content><![CDATA[<entry>]]></content></entry>
  <atom:entry xml:base="https://sv.ex.fi/b/" xml:lang="sv"><link href="x"/></atom:entry>
  <entry><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><entry/></div></content></entry>
</feed>"#;

    #[test]
    fn scopes_follow_nesting_and_skip_non_elements() {
        let s = scan(DOC, Url::parse("https://doc.example/feed").ok());
        assert_eq!(s.root.base.unwrap().as_str(), "https://ex.fi/");
        let bases: Vec<_> = s.entries.iter().map(|e| e.base.as_ref().unwrap().as_str()).collect();
        assert_eq!(bases, ["https://ex.fi/2024/", "https://sv.ex.fi/b/", "https://ex.fi/"]);
        let langs: Vec<_> = s.entries.iter().map(|e| e.own_lang.as_deref()).collect();
        assert_eq!(langs, [None, Some("sv"), None]);
    }

    #[test]
    fn apply_sets_base_lang_and_person_uris() {
        let person = |uri: &str| Person { name: Some("A".into()), uri: Some(uri.into()), ..Person::default() };
        let mut feed = RawFeed {
            authors: vec![person("about/a")],
            entries: vec![
                RawEntry { authors: vec![person("me")], base: Some("img/".into()), ..RawEntry::default() },
                RawEntry::default(),
                RawEntry::default(),
            ],
            ..RawFeed::default()
        };
        apply(DOC, &mut feed, None).unwrap();
        assert_eq!(feed.authors[0].uri.as_deref(), Some("https://ex.fi/about/a"));
        let e = &feed.entries;
        assert_eq!(e[0].authors[0].uri.as_deref(), Some("https://ex.fi/2024/me"));
        assert_eq!(e[0].base.as_deref(), Some("https://ex.fi/2024/img/"));
        assert_eq!(e[1].base.as_deref(), Some("https://sv.ex.fi/b/"));
        assert_eq!(e[1].language.as_deref(), Some("sv"));
        assert_eq!(e[2].language, None);
    }

    #[test]
    fn authors_known_only_by_a_uri_are_kept_and_resolved() {
        let doc = r#"<feed xmlns="http://www.w3.org/2005/Atom"><author><uri>/feed-level</uri></author>
  <entry xml:base="https://ex.fi/b/"><author><uri>one</uri></author><author><name>N</name><uri>n</uri></author>
    <contributor><uri>c</uri></contributor><author><uri>http://two.com/?a=1&amp;b=2</uri></author></entry>
  <entry><author><uri/></author></entry></feed>"#;
        let parsed = crate::parse::parse(doc.as_bytes(), None, Some("https://doc.fi/feed")).unwrap().feed;
        let uris = |i: usize| -> Vec<_> {
            parsed.entries[i].authors.iter().map(|p| (p.name.clone(), p.uri.clone().unwrap_or_default())).collect()
        };
        assert_eq!(
            uris(0),
            [
                (Some("N".to_string()), "https://ex.fi/b/n".to_string()),
                (None, "https://ex.fi/b/one".to_string()),
                (None, "http://two.com/?a=1&b=2".to_string())
            ]
        );
        // An entry without authors inherits the feed's named ones only.
        assert!(uris(1).is_empty(), "{:?}", uris(1));
    }

    #[test]
    fn count_mismatch_is_reported_not_guessed() {
        let mut feed = RawFeed { entries: vec![RawEntry::default()], ..RawFeed::default() };
        assert!(apply(DOC, &mut feed, None).is_err());
        assert_eq!(feed.entries[0].base, None);
    }

    #[test]
    fn entry_document_root_is_the_entry() {
        let s = scan(r#"<entry xml:base="https://e.fi/x/"><id>1</id></entry>"#, None);
        assert_eq!(s.entries.len(), 1);
        assert_eq!(s.entries[0].base.as_ref().unwrap().as_str(), "https://e.fi/x/");
    }

    #[test]
    fn deep_nesting_keeps_no_scope_per_level() {
        let deep = format!("<feed>{}{}<entry/></feed>", "<x>".repeat(10_000), "</x>".repeat(10_000));
        let s = scan(&deep, None);
        assert_eq!(s.entries.len(), 1);
    }

    #[test]
    fn unterminated_input_ends_the_scan() {
        assert_eq!(scan("<feed><entry xml:base=\"a", None).entries.len(), 0);
        assert_eq!(skipped_len("<!-- open"), Some(9));
        assert_eq!(tag_end("<a b='>'>"), Some(8));
    }
}
