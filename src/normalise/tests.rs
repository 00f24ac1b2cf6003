//! Unit tests of `normalise` as a whole: how an entry's own base, language
//! and dates outrank the feed's and the document's.

use chrono::TimeZone;

use super::*;
use crate::model::RawText;

fn ctx() -> Context<'static> {
    Context {
        base_url: Some("https://doc.example/feed.xml"),
        source_lang: None,
        now: Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap(),
    }
}

fn html(body: &str) -> Option<RawText> {
    Some(RawText { body: body.into(), is_html: true })
}

#[test]
fn entry_base_beats_the_document_url() {
    let raw = RawEntry {
        base: Some("https://blog.example/2024/".into()),
        content: html(r#"<img src="a.jpg" alt="x"><a href="p/2">l</a>"#),
        ..RawEntry::default()
    };
    let e = entry(&raw, None, &ctx());
    let body = e.content_html.unwrap();
    assert!(body.contains(r#"src="https://blog.example/2024/a.jpg""#), "{body}");
    assert!(body.contains(r#"href="https://blog.example/2024/p/2""#), "{body}");
}

#[test]
fn entry_language_beats_the_feed_language() {
    let raw = RawEntry { language: Some("SV".into()), ..RawEntry::default() };
    let e = entry(&raw, Some("fi"), &ctx());
    assert_eq!((e.lang.as_deref(), e.lang_origin), (Some("sv"), LangOrigin::Entry));
    let e = entry(&RawEntry::default(), Some("fi"), &ctx());
    assert_eq!((e.lang.as_deref(), e.lang_origin), (Some("fi"), LangOrigin::Feed));
}

#[test]
fn future_dates_are_clamped_and_not_counted_as_given() {
    let now = ctx().now;
    let far = Utc.with_ymd_and_hms(2099, 1, 1, 0, 0, 0).unwrap();
    let soon = now + Duration::minutes(5);
    let raw = |d| RawEntry { published: Some(d), ..RawEntry::default() };
    assert_eq!(dates(&raw(far), now), (now, now, false));
    assert_eq!(dates(&raw(soon), now), (soon, soon, true), "clock skew is tolerated");
    assert_eq!(dates(&RawEntry::default(), now), (now, now, false));
}

#[test]
fn repeated_items_are_one_entry_and_different_ones_are_told_apart() {
    let item = |link: &str, body: &str| RawEntry {
        guid: Some("g-1".into()),
        links: vec![crate::model::Link { href: link.into(), ..Default::default() }],
        title: Some(RawText { body: format!("Title {body}"), is_html: false }),
        summary: html(body),
        ..RawEntry::default()
    };
    let a = item("https://x.example/a", "first");
    let b = item("https://x.example/b", "second");
    let doc = RawFeed { entries: vec![a.clone(), a.clone(), b.clone(), b, a], ..RawFeed::default() };
    let (entries, warnings) = feed_indexed(&doc, &ctx());
    let keys: Vec<(usize, &str)> = entries.iter().map(|(i, e)| (*i, e.key.as_str())).collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert_eq!(keys[0], (0, "g-1"));
    assert_eq!(keys[1].0, 2);
    assert!(keys[1].1.starts_with("g-1#"), "{keys:?}");
    assert_eq!(warnings.iter().filter(|w| w.contains("repeated verbatim")).count(), 3, "{warnings:?}");
    assert_eq!(warnings.iter().filter(|w| w.contains("told apart")).count(), 1, "{warnings:?}");
    // The same document again gives the same keys.
    let (again, _) = feed(&doc, &ctx());
    assert_eq!(again.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(), [keys[0].1, keys[1].1]);
}
