//! A second look at JSON Feed items for what feed-rs drops or misfiles: the
//! item `language` (1.1), `attachments` (feed-rs makes them plain links; they
//! are enclosures), `image` and `banner_image`, and `external_url` (a related
//! page, not the item's own). Also coerces numeric item ids to strings before
//! feed-rs sees them, as JSON Feed 1.1 asks of readers.

use serde_json::Value;

use crate::model::{Enclosure, RawEntry, RawFeed};

/// The document with numeric item ids turned into strings; `None` when
/// there was nothing to change (or it is not JSON).
pub(super) fn coerce_ids(text: &str) -> Option<String> {
    let mut doc: Value = serde_json::from_str(text).ok()?;
    let mut changed = false;
    for item in doc.get_mut("items")?.as_array_mut()? {
        if let Some(id) = item.get_mut("id").filter(|id| id.is_number()) {
            *id = Value::String(id.to_string());
            changed = true;
        }
    }
    changed.then(|| doc.to_string())
}

/// Applies each item's dropped fields to the matching entry (by position).
pub(super) fn apply(text: &str, feed: &mut RawFeed) -> Result<(), String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let items = doc.get("items").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    if items.len() != feed.entries.len() {
        return Err(format!("found {} items, the parser {}", items.len(), feed.entries.len()));
    }
    for (item, entry) in items.iter().zip(&mut feed.entries) {
        apply_item(item, entry);
    }
    Ok(())
}

fn apply_item(item: &Value, entry: &mut RawEntry) {
    let field = |key: &str| str_field(item, key);
    if let Some(lang) = field("language") {
        entry.language = Some(lang.to_string());
    }
    if let Some(external) = field("external_url") {
        let plain = |l: &&mut crate::model::Link| l.rel.is_none() && l.mime.is_none();
        if let Some(l) = entry.links.iter_mut().rev().filter(plain).find(|l| same_url(&l.href, external)) {
            l.rel = Some("related".into());
        }
    }
    for key in ["image", "banner_image"] {
        if let Some(url) = field(key).filter(|u| !entry.images.iter().any(|i| i == u)) {
            entry.images.push(url.to_string());
        }
    }
    let attachments = item.get("attachments").and_then(Value::as_array);
    for a in attachments.into_iter().flatten() {
        attachment(a, entry);
    }
}

/// Moves an attachment from the links feed-rs put it in to the enclosures.
fn attachment(a: &Value, entry: &mut RawEntry) {
    let Some(url) = str_field(a, "url") else {
        return;
    };
    entry.links.retain(|l| !(l.rel.is_none() && l.mime.is_some() && same_url(&l.href, url)));
    if entry.enclosures.iter().any(|e| same_url(&e.url, url)) {
        return;
    }
    entry.enclosures.push(Enclosure {
        url: url.to_string(),
        mime: str_field(a, "mime_type").map(str::to_string),
        length: a.get("size_in_bytes").and_then(Value::as_u64),
        title: str_field(a, "title").map(str::to_string),
        duration_secs: a.get("duration_in_seconds").and_then(Value::as_f64).map(|s| s.round() as u64),
    });
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

/// feed-rs re-serialises absolute URLs, so compare parsed forms too.
fn same_url(parsed: &str, given: &str) -> bool {
    parsed == given || url::Url::parse(given).is_ok_and(|u| u.as_str() == parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Link;

    #[test]
    fn numeric_ids_become_strings() {
        let fixed = coerce_ids(r#"{"items":[{"id":2},{"id":"x"}]}"#).unwrap();
        assert_eq!(fixed, r#"{"items":[{"id":"2"},{"id":"x"}]}"#);
        assert_eq!(coerce_ids(r#"{"items":[{"id":"2"}]}"#), None);
        assert_eq!(coerce_ids("not json"), None);
    }

    #[test]
    fn item_fields_are_recovered() {
        let text = r#"{"items":[{"language":"sv","external_url":"https://o.fi/x",
            "image":"https://i.fi/a.png","attachments":[{"url":"https://m.fi/a.mp3",
            "mime_type":"audio/mpeg","size_in_bytes":12,"title":"T","duration_in_seconds":61.6}]}]}"#;
        let link = |href: &str, mime: Option<&str>| Link {
            href: href.into(),
            mime: mime.map(str::to_string),
            ..Link::default()
        };
        let mut feed = RawFeed {
            entries: vec![RawEntry {
                links: vec![
                    link("https://own.fi/", None),
                    link("https://o.fi/x", None),
                    link("https://m.fi/a.mp3", Some("audio/mpeg")),
                ],
                ..RawEntry::default()
            }],
            ..RawFeed::default()
        };
        apply(text, &mut feed).unwrap();
        let e = &feed.entries[0];
        assert_eq!(e.language.as_deref(), Some("sv"));
        assert_eq!(e.images, ["https://i.fi/a.png"]);
        assert_eq!(e.links.len(), 2);
        assert_eq!(e.links[0].rel, None);
        assert_eq!(e.links[1].rel.as_deref(), Some("related"));
        let enclosure = Enclosure {
            url: "https://m.fi/a.mp3".into(),
            mime: Some("audio/mpeg".into()),
            length: Some(12),
            title: Some("T".into()),
            duration_secs: Some(62),
        };
        assert_eq!(e.enclosures, [enclosure]);
    }

    #[test]
    fn item_count_mismatch_is_an_error() {
        let mut feed = RawFeed::default();
        assert!(apply(r#"{"items":[{}]}"#, &mut feed).is_err());
    }
}
