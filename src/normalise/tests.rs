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

/// Documents with text the issue-17 decoding and control-character repair
/// changed: invalid UTF-8 (undefined windows-1252 bytes, invalid multi-byte
/// chunks), C1 characters as bytes, as valid UTF-8 and as references, C0
/// characters from JSON escapes; hash-keyed items, a duplicate guid, and an
/// item repeated verbatim then with another date.
const LEGACY_DOCS: [(&[u8], &str); 3] = [
    (
        include_bytes!("../../tests/fixtures/misbehaving/legacy-controls.rss"),
        "application/rss+xml; charset=utf-8",
    ),
    (
        b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><rss version=\"2.0\"><channel><title>L</title>\
<item><title>Lat \x81\x93x\x94</title><description>b\x8f</description></item></channel></rss>",
        "application/rss+xml",
    ),
    (
        b"{\"version\":\"https://jsonfeed.org/version/1.1\",\"title\":\"J\",\"items\":[{\"id\":\"\",\"title\":\"C0 \\u0001 and \\u0085\",\"content_text\":\"t\\u0007\"}]}",
        "application/feed+json",
    ),
];

/// Each document's entry keys, as `normalise::feed` gives them.
fn legacy_doc_keys() -> Vec<Vec<String>> {
    LEGACY_DOCS
        .iter()
        .map(|(bytes, ct)| {
            let parsed = crate::parse::parse(bytes, Some(ct), Some("https://example.org/feed")).expect("parses");
            feed(&parsed.feed, &ctx()).0.into_iter().map(|e| e.key).collect()
        })
        .collect()
}

#[test]
fn keys_are_the_ones_earlier_versions_stored() {
    // Computed by polyfeed at 86a6cd4 (before control characters were
    // repaired and verbatim repeats dropped) from `LEGACY_DOCS`: rows it
    // stored keep their keys, so a poll after upgrading adds no duplicates.
    let legacy: [&[&str]; 3] = [
        &[
            "sha256:0741e28d1cae632adf317d5f",
            "sha256:e0b2aefb6d37335e62f67b30",
            "dup",
            "dup#9be31bfaf3feb28e399275a7",
            "rep",
            "rep#c3bdcbce107a0da01019d678",
            "rep#afe4e55248f8424e2fd99d02",
            "id\u{81}z",
        ],
        &["sha256:4ee45bf7fe65a6f037ee61db"],
        &["sha256:9889a02aae959e30a006ce37"],
    ];
    let now = legacy_doc_keys();
    // The verbatim repeat of "rep" is one entry now; the item after it
    // (another date) keeps the key it had, not the repeat's.
    let mut want: Vec<Vec<String>> = legacy.iter().map(|k| k.iter().map(|s| s.to_string()).collect()).collect();
    want[0].retain(|k| k != "rep#c3bdcbce107a0da01019d678");
    assert_eq!(now, want);
    // The stored text has no control character, whatever the key holds.
    let (bytes, ct) = LEGACY_DOCS[0];
    let parsed = crate::parse::parse(bytes, Some(ct), None).unwrap();
    let (entries, _) = feed(&parsed.feed, &ctx());
    let c1 = |s: &str| s.chars().any(|c| c.is_control() && c != '\n');
    for e in &entries {
        let text = [&e.title, e.guid.as_deref().unwrap_or(""), e.summary_html.as_deref().unwrap_or("")];
        assert!(!text.iter().any(|t| c1(t)), "{text:?}");
    }
    assert_eq!(entries[0].title, "Café… \u{FFFD} \u{FFFD} x");
    assert_eq!(entries[1].title, "Plain \u{FFFD} é”");
}

#[test]
fn stored_ids_read_as_feedparsers_and_keys_stay() {
    let with = |guid: Option<&str>, about: Option<&str>| {
        let raw = RawEntry {
            guid: guid.map(String::from),
            about: about.map(String::from),
            links: vec![crate::model::Link { href: "https://doc.example/p?utm_source=x".into(), ..Default::default() }],
            ..RawEntry::default()
        };
        let e = entry(&raw, None, &ctx());
        (e.key, e.guid)
    };
    // A path is resolved for storage; the key is the id as written, as before.
    assert_eq!(
        with(Some("/relative/link"), None),
        ("/relative/link".into(), Some("https://doc.example/relative/link".into()))
    );
    assert_eq!(with(Some("../up"), None).1.as_deref(), Some("https://doc.example/up"));
    // Opaque ids and absolute ones are kept as written.
    for id in ["123", "post-1", "tag:e.fi,2024:1", "https://e.fi/1"] {
        assert_eq!(with(Some(id), None), (id.into(), Some(id.into())));
    }
    // An RSS 1.0 item's rdf:about is its stored id; its key stays its canonical link.
    assert_eq!(
        with(None, Some("https://doc.example/p?utm_source=x")),
        ("https://doc.example/p".into(), Some("https://doc.example/p?utm_source=x".into()))
    );
    assert_eq!(with(Some("g"), Some("https://doc.example/a")).1.as_deref(), Some("g"));
}

/// Pieces of HTML, well-formed and not, that [`random_fragments`] strings
/// together.
const PIECES: [&str; 48] = [
    "<p>",
    "</p>",
    "<P class=\"x\">",
    "<b>",
    "</b>",
    "<i>",
    "text ",
    "Porvoo ",
    "Borgå ",
    "1 200,5 ",
    "&amp;",
    "&amp;lt;",
    "&nbsp;",
    "\u{a0}",
    "&copy;",
    "&amp",
    "&#65;",
    "& ",
    "<br>",
    "<br/>",
    "</br>",
    "<a href=\"x>y\">",
    "</a>",
    "<img alt='<p>' src=\"a.png\">",
    "<table>",
    "<td>",
    "<tr>",
    "<!-- c -->",
    "<script>x</script>",
    "<style>p{}</style>",
    "<",
    " > ",
    "<h2>",
    "<li>",
    "</li>",
    "<ul>",
    "\n\n",
    "<pre>\n x",
    "<div lang=fi>",
    "<textarea><p>t</textarea>",
    "\u{feff}",
    "<b a= c=\"x>y\">",
    "<b =\"x>y\">",
    "<b a==\"x>y\">",
    "<b a=\"1\"=\"x>y\">",
    "<b/=\"x>y\">",
    "<i a=b c = 'd' e>",
    "<p a=>",
];

/// Deterministic pseudo-random strings of 1 to 12 [`PIECES`].
fn random_fragments(n: usize) -> Vec<String> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move |m: usize| {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize % m
    };
    (0..n).map(|_| (0..1 + next(12)).map(|_| PIECES[next(PIECES.len())]).collect()).collect()
}

#[test]
fn scanning_sanitised_html_reads_the_text_the_parser_reads() {
    let mut inputs: Vec<String> = [
        "<p>Porvoo &amp; Borgå</p><p>Second&nbsp;one</p>",
        "<h2>Title</h2><ul><li>one</li><li>two <a href=\"https://a.example/?a=1&amp;b=2\">link</a></li></ul>",
        "<div><p>In <b>bold <i>and</i></b> x</p></div><blockquote>q</blockquote><br>after",
        "plain text only, 1&lt;2 &gt; 0",
        "<figure><img src=\"a.png\" alt=\"a > b\"><figcaption>Cap</figcaption></figure>",
        "<p>unclosed <b>bold<p>next",
        "<dl><dt>term</dt><dd>def</dd></dl><pre>  pre\n  text</pre>",
    ]
    .map(String::from)
    .into();
    inputs.extend(random_fragments(3000));
    let (mut scanned, mut sanitised_scanned) = (0, 0);
    let read = |html: &str| text::paragraphs(&text::parse_paragraphs(html));
    // And the same for plain text, without paragraph breaks.
    let plain = |html: &str| {
        let parsed = text::fold_whitespace(&text::plain_text_keep(html));
        if let Some(scanned) = text::scan_text(html, false) {
            assert_eq!(text::fold_whitespace(&scanned), parsed, "plain text of {html:?}");
        }
        assert_eq!(plain_text(html), parsed, "{html:?}");
    };
    for raw in &inputs {
        plain(raw);
        // What a scan reads of any input, it reads as the parser does.
        if let Some(text) = text::scan_paragraphs(raw) {
            assert_eq!(text::paragraphs(&text), read(raw), "input {raw:?}");
            scanned += 1;
        }
        let clean = sanitise::sanitise_html(raw, Some("https://a.example/"));
        plain(&clean);
        let Some(text) = text::scan_paragraphs(&clean) else { continue };
        assert_eq!(text::paragraphs(&text), read(&clean), "sanitised {clean:?} of {raw:?}");
        sanitised_scanned += 1;
    }
    // The scan is taken: for most sanitised fragments (those without
    // tables), and for raw ones in a serialiser's shape.
    assert!(sanitised_scanned > inputs.len() / 3, "{sanitised_scanned} of {}", inputs.len());
    assert!(scanned > inputs.len() / 20, "{scanned} of {}", inputs.len());
    // And left to the parser where it would read otherwise.
    for raw in [
        "<table>a<tr><td>b</td></tr></table>",
        "a <!-- x --> b",
        "x &copy y",
        "<script>s</script>t",
        "1 < 2",
        "\u{feff}Hello",
        "<b a= c=\"x>y\">z",
        "<b a=\"1\"=\"x>y\">z",
    ] {
        assert_eq!(text::scan_paragraphs(raw), None, "{raw}");
    }
    assert_eq!(plain_text_paragraphs("<p>a &amp; b</p><li>c</li>"), "a & b\n\nc");
    assert_eq!(text::scan_paragraphs("<i a=b c = 'd>' e/>x").as_deref(), Some("x"));
}
