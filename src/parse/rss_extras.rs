//! A light scan of RSS items for the extension elements feedparser reads
//! and neither feed-rs nor the rss crate keeps: `itunes:category` (each
//! `text`, nested ones too), `media:category`, a comma-separated `<tags>`
//! (with the item's `<category>` and `dc:subject`, in document order),
//! `itunes:author` and `dc:author` (an author when the item names none,
//! "Name (address)" read as name and e-mail), and `media:title` (a title
//! when the item has none). Categories keep the document's order.
//!
//! Run only on documents that mention one of these ([`wanted`]); items are
//! matched to entries by position, so nothing changes when the counts differ.
//! Also each RSS 1.0 item's `rdf:about` ([`rdf_about`]).

use crate::model::{Person, RawFeed, RawText};

/// Whether the document may hold anything [`apply`] reads.
pub(super) fn wanted(text: &str) -> bool {
    text.contains("itunes.com/")
        || text.contains("search.yahoo.com/mrss")
        || text.contains("<tags>")
        || text.contains("dc:author")
}

/// What one item says.
#[derive(Debug, Default, PartialEq)]
struct Item {
    /// Every category-like value in document order (RSS `<category>` too).
    categories: Vec<String>,
    /// Whether one of them came from an element feed-rs does not read.
    extra_categories: bool,
    author: Option<String>,
    media_title: Option<String>,
}

/// Adds what the items say to the entries that lack it.
pub(super) fn apply(text: &str, feed: &mut RawFeed) -> Result<(), String> {
    let items = scan(text);
    if items.len() != feed.entries.len() {
        return Err(format!("found {} items, the parser {}", items.len(), feed.entries.len()));
    }
    for (item, entry) in items.into_iter().zip(feed.entries.iter_mut()) {
        if item.extra_categories {
            entry.categories = item.categories;
        }
        if entry.authors.is_empty() {
            entry.authors.extend(item.author.as_deref().and_then(person_from_text));
        }
        if entry.title.is_none() {
            entry.title = item.media_title.map(|body| RawText { body, is_html: false });
        }
    }
    Ok(())
}

/// Gives each RSS 1.0 entry its item's `rdf:about` (feed-rs drops it), by
/// position: nothing is changed when the counts differ.
pub(super) fn rdf_about(text: &str, feed: &mut RawFeed) -> Result<(), String> {
    let mut abouts = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("<item") {
        rest = &rest[at + 5..];
        if !rest.starts_with(|c: char| c.is_whitespace() || c == '>' || c == '/') {
            continue;
        }
        let Some(gt) = rest.find('>') else { break };
        let tag = &rest[..gt];
        abouts.push(crate::markup::attr(tag, "rdf:about").map(decode).filter(|a| !a.is_empty()));
    }
    if abouts.len() != feed.entries.len() {
        return Err(format!("found {} items, the parser {}", abouts.len(), feed.entries.len()));
    }
    for (about, entry) in abouts.into_iter().zip(feed.entries.iter_mut()) {
        entry.about = about;
    }
    Ok(())
}

fn scan(text: &str) -> Vec<Item> {
    let mut items: Vec<Item> = Vec::new();
    let mut in_item = false;
    let mut pos = 0;
    while let Some(lt) = text[pos..].find('<') {
        let start = pos + lt;
        let rest = &text[start..];
        let skip = [("<!--", "-->"), ("<![CDATA[", "]]>"), ("<?", "?>"), ("<!", ">")];
        if let Some((open, close)) = skip.iter().find(|(open, _)| rest.starts_with(open)) {
            match rest[open.len()..].find(close) {
                Some(e) => pos = start + open.len() + e + close.len(),
                None => break,
            }
            continue;
        }
        let Some(gt) = rest.find('>') else { break };
        let body = &rest[1..gt];
        pos = start + gt + 1;
        if let Some(end) = body.strip_prefix('/') {
            if local(end.trim()).1 == "item" {
                in_item = false;
            }
            continue;
        }
        let name = body.split(|c: char| c.is_whitespace() || c == '/').next().unwrap_or("");
        let empty = body.ends_with('/');
        let (prefix, local) = local(name);
        if local == "item" {
            in_item = !empty;
            items.push(Item::default());
            continue;
        }
        let Some(item) = items.last_mut().filter(|_| in_item) else { continue };
        let content = || if empty { None } else { element_text(&text[pos..]) };
        match (prefix, local) {
            ("itunes", "category") => {
                if let Some(t) = crate::markup::attr(body, "text").map(decode).filter(|t| !t.is_empty()) {
                    item.categories.push(t);
                    item.extra_categories = true;
                }
            }
            ("media", "category") | ("", "category") | ("dc", "subject") | ("", "tags") => {
                let Some(t) = content() else { continue };
                if local == "tags" {
                    item.categories.extend(t.split(',').map(str::trim).filter(|t| !t.is_empty()).map(String::from));
                } else {
                    item.categories.push(t);
                }
                item.extra_categories |= prefix == "media" || local == "tags";
            }
            ("itunes" | "dc", "author") if item.author.is_none() => item.author = content(),
            ("media", "title") if item.media_title.is_none() => item.media_title = content(),
            _ => {}
        }
    }
    items
}

/// `dc:author` -> (`dc`, `author`); no prefix -> (``, name).
fn local(name: &str) -> (&str, &str) {
    name.split_once(':').unwrap_or(("", name))
}

/// The text up to the next tag (a CDATA section's content), entities
/// decoded and trimmed; `None` when empty.
fn element_text(after_tag: &str) -> Option<String> {
    let raw = match after_tag.trim_start().strip_prefix("<![CDATA[") {
        Some(cdata) => &cdata[..cdata.find("]]>")?],
        None => &after_tag[..after_tag.find('<').unwrap_or(after_tag.len())],
    };
    Some(decode(raw)).filter(|t| !t.is_empty())
}

fn decode(s: &str) -> String {
    html_escape::decode_html_entities(s.trim()).into_owned()
}

/// A person from one line of text: an e-mail address anywhere in it (as
/// feedparser finds one) and the rest as the name, parentheses and angle
/// brackets removed: "Name (me@x.org)", "me@x.org (Name)", "Name <me@x.org>".
pub(super) fn person_from_text(text: &str) -> Option<Person> {
    let text = text.trim();
    let is_email = |t: &&str| {
        let t = t.trim_start_matches("mailto:");
        t.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.ends_with('.'))
    };
    let email = text.split(|c: char| c.is_whitespace() || "()<>[],;\"".contains(c)).find(is_email);
    let name = match email {
        Some(e) => text.replacen(e, "", 1),
        None => text.to_string(),
    };
    let name = name.replace(['(', ')', '<', '>'], " ");
    let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
    let person = Person {
        name: Some(name).filter(|n| !n.is_empty()),
        email: email.map(|e| e.trim_start_matches("mailto:").to_string()),
        uri: None,
    };
    (person.name.is_some() || person.email.is_some()).then_some(person)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_are_read_from_one_line() {
        let p = |s| person_from_text(s).map(|p| (p.name, p.email));
        let both = Some((Some("Example editor".to_string()), Some("me@example.com".to_string())));
        assert_eq!(p("Example editor (me@example.com)"), both);
        assert_eq!(p("me@example.com (Example editor)"), both);
        assert_eq!(p("Example editor <mailto:me@example.com>"), both);
        assert_eq!(p(" Mark Pilgrim "), Some((Some("Mark Pilgrim".into()), None)));
        assert_eq!(p("x@y"), Some((Some("x@y".into()), None)));
        assert_eq!(p(" () "), None);
    }

    #[test]
    fn items_give_categories_in_order_authors_and_titles() {
        let doc = r#"<rss xmlns:itunes="http://www.itunes.com/DTDs/Podcast-1.0.dtd" xmlns:media="http://search.yahoo.com/mrss/" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>
            <itunes:category text="Channel level"/><title>C</title>
            <item><tags>tag one, tag two</tags><category>category one</category>
              <itunes:category text="Technology"><itunes:category text="Gadgets &amp; more"/></itunes:category>
              <itunes:author>Mark Pilgrim</itunes:author><media:title><![CDATA[M <b>t</b>]]></media:title></item>
            <item><!-- <item> --><dc:subject>dc1</dc:subject><media:category>cat1</media:category><dc:author>Ed (ed@e.fi)</dc:author></item>
            <item><category>plain</category></item>
        </channel></rss>"#;
        let items = scan(doc);
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].categories, ["tag one", "tag two", "category one", "Technology", "Gadgets & more"]);
        assert_eq!(items[0].author.as_deref(), Some("Mark Pilgrim"));
        assert_eq!(items[0].media_title.as_deref(), Some("M <b>t</b>"));
        assert_eq!(items[1].categories, ["dc1", "cat1"], "Dublin Core subjects are kept beside them");
        assert_eq!(items[1].author.as_deref(), Some("Ed (ed@e.fi)"));
        assert!(!items[2].extra_categories);

        let mut feed = crate::parse::parse(doc.as_bytes(), None, None).unwrap().feed;
        assert_eq!(feed.entries[0].categories.len(), 5);
        assert_eq!(feed.entries[0].authors[0].name.as_deref(), Some("Mark Pilgrim"));
        assert_eq!(feed.entries[1].authors[0].email.as_deref(), Some("ed@e.fi"));
        assert_eq!(feed.entries[1].title.as_ref().map(|t| t.body.as_str()), None);
        assert_eq!(feed.entries[2].categories, ["plain"]);
        feed.entries.pop();
        assert!(apply(doc, &mut feed).is_err(), "a count mismatch changes nothing");
    }

    #[test]
    fn rdf_about_is_kept_by_position() {
        let doc = r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
<channel rdf:about="http://e.fi/"><title>C</title><link>http://e.fi/</link><items><rdf:Seq><rdf:li resource="http://e.fi/1"/></rdf:Seq></items></channel>
<item rdf:about="http://e.fi/1?a=1&amp;b=2"><title>One</title></item>
<item><title>Two</title><link>http://e.fi/2</link></item><itemize/></rdf:RDF>"#;
        let feed = crate::parse::parse(doc.as_bytes(), None, None).unwrap().feed;
        let abouts: Vec<_> = feed.entries.iter().map(|e| e.about.as_deref()).collect();
        assert_eq!(abouts, [Some("http://e.fi/1?a=1&b=2"), None]);
        let mut short = crate::model::RawFeed::default();
        assert!(rdf_about(doc, &mut short).is_err());
    }

    #[test]
    fn hostile_text_is_harmless() {
        for s in [
            "<item",
            "<item><itunes:author>",
            "<item><tags><![CDATA[x",
            "<<<item>>>",
            "<item/><dc:author>x</dc:author>",
        ] {
            let _ = scan(s);
        }
        assert!(scan("<item/><dc:author>x</dc:author>")[0].author.is_none());
        let started = std::time::Instant::now();
        let mut feed = RawFeed::default();
        for s in ["<item ".repeat(1 << 18), "<item><tags>".repeat(1 << 16), "<item><!x".repeat(1 << 16)] {
            let _ = scan(&s);
            let _ = rdf_about(&s, &mut feed);
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    }
}
