//! JSON Feed 1.1, with the other language versions and the origin feed in a
//! `_polyfeed` extension object on each item.

use chrono::SecondsFormat;
use serde_json::{Map, Value, json};

use super::doc::{self, FeedDoc, Item};

/// Renders a feed as JSON Feed 1.1.
pub fn render(doc: &FeedDoc) -> Vec<u8> {
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
    feed.insert("items".into(), Value::Array(doc.items.iter().map(item).collect()));
    let mut out = serde_json::to_vec_pretty(&Value::Object(feed)).unwrap_or_default();
    out.push(b'\n');
    out
}

fn item(i: &Item) -> Value {
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
    // JSON Feed 1.1: an author object has at least one of name, url, avatar.
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
                a.insert("mime_type".into(), json!(doc::mime(e.mime.as_deref()).unwrap_or("application/octet-stream")));
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
}
