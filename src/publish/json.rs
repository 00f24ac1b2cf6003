//! JSON Feed 1.1, with the other language versions and the origin feed in a
//! `_polyfeed` extension object on each item.
//!
//! Written straight from borrowed fields: it was a tree of
//! `serde_json::Value`s, built and dropped per feed (rendering JSON Feed
//! was 31 % of `publish`'s instructions, and `publish` 15 % fewer without
//! the tree). Object keys come out sorted byte-wise, as the `Value` maps
//! printed them (serde_json's `preserve_order` is off, and the test's
//! reference rendering relies on it): the fields of each struct below are
//! declared in that order.

use chrono::SecondsFormat;
use serde::Serialize;

use super::doc::{self, FeedDoc, Item};

/// Renders a feed as JSON Feed 1.1.
pub fn render(doc: &FeedDoc) -> Vec<u8> {
    let feed = Feed {
        feed_url: doc.url("json"),
        home_page_url: doc.home(),
        hubs: doc.hub.as_deref().map(|url| [Hub { kind: "WebSub", url }]),
        items: doc.items.iter().map(item).collect(),
        language: doc.lang.as_deref(),
        title: &doc.title,
        version: "https://jsonfeed.org/version/1.1",
    };
    let mut out = serde_json::to_vec_pretty(&feed).unwrap_or_default();
    out.push(b'\n');
    out
}

/// A feed.
#[derive(Serialize)]
struct Feed<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    feed_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    home_page_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hubs: Option<[Hub<'a>; 1]>,
    items: Vec<JsonItem<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    language: Option<&'a str>,
    title: &'a str,
    version: &'static str,
}

/// A WebSub hub.
#[derive(Serialize)]
struct Hub<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    url: &'a str,
}

/// An item.
#[derive(Serialize)]
struct JsonItem<'a> {
    #[serde(rename = "_polyfeed")]
    polyfeed: Extension<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attachments: Vec<Attachment<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authors: Vec<Author<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_html: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_text: Option<&'static str>,
    date_modified: String,
    date_published: String,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    language: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<&'a str>,
    title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
}

/// An enclosure.
#[derive(Serialize)]
struct Attachment<'a> {
    mime_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    size_in_bytes: Option<u64>,
    url: &'a str,
}

/// JSON Feed 1.1: an author object has at least one of name, url, avatar.
#[derive(Serialize)]
struct Author<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
}

/// polyfeed's extension object on an item.
#[derive(Serialize)]
struct Extension<'a> {
    about: &'static str,
    source: Source<'a>,
    tags: Vec<&'a str>,
    versions: Vec<Version<'a>>,
}

/// Where the chosen version came from.
#[derive(Serialize)]
struct Source<'a> {
    feed_url: Option<&'a str>,
    home_page_url: Option<&'a str>,
    name: &'a str,
}

/// Another language version.
#[derive(Serialize)]
struct Version<'a> {
    language: Option<&'a str>,
    title: &'a str,
    url: &'a str,
}

fn item(i: &Item) -> JsonItem<'_> {
    let (content_html, summary, content_text) = match (&i.content_html, &i.summary_html) {
        (Some(c), s) => (Some(c.as_str()), s.as_deref().map(crate::normalise::plain_text), None),
        (None, Some(s)) => (Some(s.as_str()), None, None),
        (None, None) => (None, None, Some("")),
    };
    JsonItem {
        polyfeed: Extension {
            about: "https://github.com/polyfeed/polyfeed",
            source: Source {
                feed_url: Some(i.source.feed_url.as_str()).filter(|u| u.starts_with("http")),
                home_page_url: i.source.home.as_deref(),
                name: &i.source.name,
            },
            tags: i.tags.iter().map(|(slug, _)| slug.as_str()).collect(),
            versions: i
                .alternates
                .iter()
                .map(|a| Version { language: a.lang.as_deref(), title: &a.title, url: &a.url })
                .collect(),
        },
        attachments: i
            .enclosures
            .iter()
            .map(|e| Attachment {
                mime_type: doc::mime(e.mime.as_deref()).unwrap_or("application/octet-stream"),
                size_in_bytes: e.length,
                url: &e.url,
            })
            .collect(),
        authors: i
            .authors
            .iter()
            .map(|p| Author { name: doc::person_name(p), url: doc::person_uri(p) })
            .filter(|a| a.name.is_some() || a.url.is_some())
            .collect(),
        content_html,
        content_text,
        date_modified: i.updated.to_rfc3339_opts(SecondsFormat::Secs, true),
        date_published: i.published.to_rfc3339_opts(SecondsFormat::Secs, true),
        id: &i.id,
        language: i.lang.as_deref(),
        summary,
        tags: i.tags.iter().map(|(_, label)| label.as_str()).collect(),
        title: &i.title,
        url: i.url.as_deref(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone, Utc};
    use serde_json::{Map, Value, json};

    use super::*;
    use crate::model::{Enclosure, Person};
    use crate::publish::doc::{Alternate, SourceRef};

    /// The rendering before the borrowed structs: a tree of `Value`s.
    fn by_value(doc: &FeedDoc) -> Vec<u8> {
        let mut feed = Map::new();
        feed.insert("version".into(), json!("https://jsonfeed.org/version/1.1"));
        feed.insert("title".into(), json!(doc.title));
        if let Some(h) = doc.home() {
            feed.insert("home_page_url".into(), json!(h));
        }
        if let Some(u) = doc.url("json") {
            feed.insert("feed_url".into(), json!(u));
        }
        if let Some(h) = &doc.hub {
            feed.insert("hubs".into(), json!([{ "type": "WebSub", "url": h }]));
        }
        if let Some(l) = &doc.lang {
            feed.insert("language".into(), json!(l));
        }
        let items = doc.items.iter().map(|i| {
            let mut m = Map::new();
            m.insert("id".into(), json!(i.id));
            if let Some(u) = &i.url {
                m.insert("url".into(), json!(u));
            }
            m.insert("title".into(), json!(i.title));
            match (&i.content_html, &i.summary_html) {
                (Some(c), s) => {
                    m.insert("content_html".into(), json!(c));
                    if let Some(s) = s {
                        m.insert("summary".into(), json!(crate::normalise::plain_text(s)));
                    }
                }
                (None, Some(s)) => {
                    m.insert("content_html".into(), json!(s));
                }
                (None, None) => {
                    m.insert("content_text".into(), json!(""));
                }
            }
            m.insert("date_published".into(), json!(i.published.to_rfc3339_opts(SecondsFormat::Secs, true)));
            m.insert("date_modified".into(), json!(i.updated.to_rfc3339_opts(SecondsFormat::Secs, true)));
            let authors: Vec<Value> = i
                .authors
                .iter()
                .filter_map(|p| {
                    let mut a = Map::new();
                    if let Some(n) = doc::person_name(p) {
                        a.insert("name".into(), json!(n));
                    }
                    if let Some(u) = doc::person_uri(p) {
                        a.insert("url".into(), json!(u));
                    }
                    (!a.is_empty()).then_some(Value::Object(a))
                })
                .collect();
            if !authors.is_empty() {
                m.insert("authors".into(), Value::Array(authors));
            }
            if !i.tags.is_empty() {
                m.insert("tags".into(), json!(i.tags.iter().map(|(_, label)| label).collect::<Vec<_>>()));
            }
            if let Some(l) = &i.lang {
                m.insert("language".into(), json!(l));
            }
            if !i.enclosures.is_empty() {
                let atts: Vec<Value> = i
                    .enclosures
                    .iter()
                    .map(|e| {
                        let mut a = Map::new();
                        a.insert("url".into(), json!(e.url));
                        a.insert(
                            "mime_type".into(),
                            json!(doc::mime(e.mime.as_deref()).unwrap_or("application/octet-stream")),
                        );
                        if let Some(l) = e.length {
                            a.insert("size_in_bytes".into(), json!(l));
                        }
                        Value::Object(a)
                    })
                    .collect();
                m.insert("attachments".into(), Value::Array(atts));
            }
            let versions: Vec<Value> =
                i.alternates.iter().map(|a| json!({"language": a.lang, "url": a.url, "title": a.title})).collect();
            m.insert(
                "_polyfeed".into(),
                json!({
                    "about": "https://github.com/polyfeed/polyfeed",
                    "tags": i.tags.iter().map(|(slug, _)| slug).collect::<Vec<_>>(),
                    "versions": versions,
                    "source": {
                        "name": i.source.name,
                        "feed_url": Some(&i.source.feed_url).filter(|u| u.starts_with("http")),
                        "home_page_url": i.source.home,
                    },
                }),
            );
            Value::Object(m)
        });
        feed.insert("items".into(), Value::Array(items.collect()));
        let mut out = serde_json::to_vec_pretty(&Value::Object(feed)).unwrap_or_default();
        out.push(b'\n');
        out
    }

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, day, 8, 30, 0).unwrap()
    }

    fn item(n: usize) -> Item {
        let text = |s: &str| Some(format!("<p>{s} \"{n}\" & <b>ü</b></p>\u{2028}"));
        let person = |name: Option<&str>, email: Option<&str>, uri: Option<&str>| Person {
            name: name.map(String::from),
            email: email.map(String::from),
            uri: uri.map(String::from),
        };
        Item {
            id: format!("urn:polyfeed:story:{n:024x}"),
            title: format!("Porvoo / Borgå \"{n}\" <{n}>"),
            url: (!n.is_multiple_of(3)).then(|| format!("https://a.example/{n}?x=1&y=2")),
            lang: [Some("fi"), Some("sv"), None][n % 3].map(String::from),
            published: at(1 + n as u32 % 20),
            updated: at(2 + n as u32 % 20),
            content_html: (n % 4 < 2).then(|| text("content")).flatten(),
            summary_html: n.is_multiple_of(2).then(|| text("summary")).flatten(),
            authors: match n % 4 {
                0 => vec![],
                1 => vec![person(Some("Elina Wahl"), None, None), person(None, None, Some("https://w.example/"))],
                2 => vec![person(None, None, None), person(Some(" "), Some("a@b.example"), Some("javascript:x"))],
                _ => vec![person(Some("Anna"), None, Some("https://a.example/anna"))],
            },
            tags: (0..n % 3).map(|t| (format!("tag-{t}"), format!("Tag {t} \u{e9}"))).collect(),
            enclosures: (0..n % 3)
                .map(|e| Enclosure {
                    url: format!("https://a.example/{n}/{e}.mp3"),
                    mime: [None, Some("audio/mpeg".to_string()), Some("bad".to_string())][(e + n) % 3].clone(),
                    length: (e % 2 == 1).then_some(12_345_678_901),
                    ..Enclosure::default()
                })
                .collect(),
            source: SourceRef {
                name: format!("Source {n}"),
                feed_url: if n.is_multiple_of(2) {
                    format!("https://s.example/{n}.xml")
                } else {
                    format!("file:s{n}.xml")
                },
                home: (n % 3 == 1).then(|| "https://s.example/".to_string()),
                id: format!("urn:s:{n}"),
                updated: at(3),
            },
            alternates: (0..n % 3)
                .map(|a| Alternate {
                    lang: (a != 1).then(|| "en".to_string()),
                    url: format!("https://a.example/en/{n}/{a}"),
                    title: format!("In English {a}"),
                })
                .collect(),
        }
    }

    #[test]
    fn renders_what_the_value_tree_rendered_byte_for_byte() {
        for (k, (base, hub, lang)) in [
            (None, None, None),
            (Some("https://f.example/"), Some("https://hub.example/"), Some("fi")),
            (Some("https://f.example/"), None, Some("sv")),
            (None, Some("https://hub.example/"), None),
        ]
        .into_iter()
        .enumerate()
        {
            let doc = FeedDoc {
                stem: "fi/tags/x".into(),
                title: format!("Feed \"{k}\" & <more>"),
                lang: lang.map(String::from),
                base_url: base.map(String::from),
                id_authority: None,
                hub: hub.map(String::from),
                updated: at(4),
                items: (0..12 * k).map(item).collect(),
            };
            assert_eq!(String::from_utf8(render(&doc)).unwrap(), String::from_utf8(by_value(&doc)).unwrap(), "{k}");
        }
    }
}
