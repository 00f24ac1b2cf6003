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
