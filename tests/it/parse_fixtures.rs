//! The parser and normaliser against every fixture in `tests/fixtures/feeds/`
//! (expected facts from its README): `parse::parse`, then `normalise::feed`
//! with a fixed clock. `gzip-bomb.gz` belongs to the fetcher's tests.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use polyfeed::model::{Enclosure, Entry, LangOrigin, Link, Person};
use polyfeed::normalise::{self, Context};
use polyfeed::parse::{self, ParseError, Parsed};

/// Every fixture a test below reads.
const FIXTURES: &[&str] = &[
    "atom.xml",
    "bad-dates.xml",
    "billion-laughs.xml",
    "controlchars.xml",
    "duplicate-guids.xml",
    "external-entity.xml",
    "jsonfeed10.json",
    "jsonfeed11.json",
    "latin1.xml",
    "malformed.xml",
    "no-guids.xml",
    "not-a-feed.html",
    "plain.html",
    "rss091.xml",
    "rss10.xml",
    "rss2-noversion.xml",
    "rss2.xml",
    "truncated.xml",
    "utf16be-bom.xml",
    "utf16le-bom.xml",
    "utf8-bom.xml",
    "win1252-as-utf8.xml",
];

/// Files in the directory that are not parser inputs.
const NOT_PARSER_INPUTS: &[&str] = &[".gitattributes", "README.md", "make_fixtures.py", "gzip-bomb.gz"];

/// Where the README says the HTML pages were fetched from.
const PAGE_URL: &str = "https://www.example.com/uutiset/";

/// The poll time: fixed, never the clock.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0).unwrap()
}

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/feeds")
}

fn bytes(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The document URL: HTML pages as the README says; feeds from a host of
/// their own, so that a link resolved against the wrong base shows.
fn base_for(name: &str) -> String {
    if name.ends_with(".html") { PAGE_URL.to_string() } else { format!("https://feeds.example.net/{name}") }
}

fn content_type_for(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("json") => "application/feed+json",
        _ if name.starts_with("atom") => "application/atom+xml",
        _ => "application/rss+xml",
    }
}

/// One fixture through both stages.
struct Run {
    parsed: Parsed,
    entries: Vec<Entry>,
    warnings: Vec<String>,
}

fn try_run_with(name: &str, content_type: Option<&str>) -> Result<Run, ParseError> {
    let base = base_for(name);
    let parsed = parse::parse(&bytes(name), content_type, Some(&base))?;
    let ctx = Context { base_url: Some(&base), source_lang: None, now: now() };
    let (entries, warnings) = normalise::feed(&parsed.feed, &ctx);
    Ok(Run { parsed, entries, warnings })
}

fn try_run(name: &str) -> Result<Run, ParseError> {
    try_run_with(name, Some(content_type_for(name)))
}

fn run(name: &str) -> Run {
    try_run(name).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn titles(entries: &[Entry]) -> Vec<&str> {
    entries.iter().map(|e| e.title.as_str()).collect()
}

fn urls(entries: &[Entry]) -> Vec<Option<&str>> {
    entries.iter().map(|e| e.url.as_deref()).collect()
}

fn keys(entries: &[Entry]) -> Vec<String> {
    entries.iter().map(|e| e.key.clone()).collect()
}

fn person(name: Option<&str>, email: Option<&str>, uri: Option<&str>) -> Person {
    Person { name: name.map(str::to_string), email: email.map(str::to_string), uri: uri.map(str::to_string) }
}

fn named(name: &str) -> Person {
    person(Some(name), None, None)
}

fn plain(html: Option<&str>) -> String {
    normalise::plain_text(html.expect("a body"))
}

/// Every string anywhere in the parsed feed and the normalised entries.
fn all_strings(run: &Run) -> Vec<String> {
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::String(s) => out.push(s.clone()),
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            serde_json::Value::Object(o) => o.iter().for_each(|(k, x)| {
                out.push(k.clone());
                walk(x, out);
            }),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(&serde_json::to_value(&run.parsed.feed).unwrap(), &mut out);
    walk(&serde_json::to_value(&run.entries).unwrap(), &mut out);
    out.extend(run.parsed.warnings.iter().cloned());
    out.extend(run.warnings.iter().cloned());
    out
}

fn assert_keys_unique(name: &str, entries: &[Entry]) {
    let set: BTreeSet<&str> = entries.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(set.len(), entries.len(), "{name}: keys not unique");
    assert!(!set.contains(""), "{name}: empty key");
}

#[test]
fn every_fixture_has_a_test_and_none_panics() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !NOT_PARSER_INPUTS.contains(&n.as_str()))
        .collect();
    let covered: BTreeSet<String> = FIXTURES.iter().map(|s| s.to_string()).collect();
    assert_eq!(on_disk, covered, "a fixture without a test, or a test without its fixture");
    for name in FIXTURES {
        let start = Instant::now();
        let outcome = std::panic::catch_unwind(|| try_run(name).map(|r| r.entries.len()));
        assert!(outcome.is_ok(), "{name}: panicked");
        assert!(start.elapsed() < Duration::from_secs(5), "{name}: too slow");
    }
}

#[test]
fn same_bytes_give_same_keys_and_hashes() {
    for name in FIXTURES {
        let (Ok(a), Ok(b)) = (try_run(name), try_run(name)) else {
            continue;
        };
        assert_keys_unique(name, &a.entries);
        assert_eq!(a.entries, b.entries, "{name}: second parse differs");
        let hashes: BTreeSet<&str> = a.entries.iter().map(|e| e.content_hash.as_str()).collect();
        assert_eq!(hashes.len(), a.entries.len(), "{name}: content hashes collide");
    }
}

#[test]
fn atom_feed_level_facts() {
    let r = run("atom.xml");
    let f = &r.parsed.feed;
    assert_eq!(f.format, "atom");
    assert_eq!(f.title.as_deref(), Some("Esimerkkiblogi"));
    assert_eq!(f.language.as_deref(), Some("fi"));
    let link = |rel: &str| f.links.iter().find(|l| l.rel.as_deref() == Some(rel)).map(|l| l.href.as_str());
    assert_eq!(link("alternate"), Some("https://blog.example.fi/index.html"));
    assert_eq!(link("self"), Some("https://blog.example.fi/feed.atom"));
    let matti =
        person(Some("Matti Meikäläinen"), Some("matti@example.fi"), Some("https://blog.example.fi/about/matti"));
    assert_eq!(f.authors, [matti]);
    assert!(r.parsed.warnings.is_empty(), "{:?}", r.parsed.warnings);
    assert_eq!(r.entries.len(), 3);
    assert_eq!(
        titles(&r.entries),
        ["Ensimmäinen kirjoitus: hyvää päivää", "Hälsningar från Åbo", "Kolmas kirjoitus ilman omaa kirjoittajaa"]
    );
    assert_eq!(
        keys(&r.entries),
        ["tag:blog.example.fi,2025:1", "tag:blog.example.fi,2025:2", "tag:blog.example.fi,2025:3"]
    );
    assert_eq!(
        urls(&r.entries),
        [
            Some("https://blog.example.fi/2024/posts/1"),
            Some("https://sv.example.fi/blogg/inlagg/2"),
            Some("https://blog.example.fi/posts/3"),
        ]
    );
}

#[test]
fn atom_entry_with_nested_base_and_translation() {
    let r = run("atom.xml");
    let e = &r.entries[0];
    assert_eq!(e.guid.as_deref(), Some("tag:blog.example.fi,2025:1"));
    assert_eq!((e.lang.as_deref(), e.lang_origin), (Some("fi"), LangOrigin::Feed));
    let english = Link {
        href: "https://blog.example.fi/en/posts/1".into(),
        rel: Some("alternate".into()),
        hreflang: Some("en".into()),
        mime: Some("text/html".into()),
        ..Link::default()
    };
    assert!(e.links.contains(&english), "{:?}", e.links);
    assert_eq!(e.links.len(), 2);
    assert_eq!(e.published, utc("2025-03-03T06:00:00Z"));
    assert_eq!(e.updated, utc("2025-03-03T07:30:00Z"));
    assert!(e.date_given);
    let liisa = person(Some("Liisa Häkkinen"), Some("liisa@example.fi"), None);
    assert_eq!(e.authors, [liisa, named("Matti Meikäläinen")]);
    // The term identifies the category (RFC 4287 §4.2.2); the label is for display.
    assert_eq!(e.categories, ["uutiset", "tekniikka"]);
    assert_eq!(e.summary_html.as_deref(), Some("<p>Lyhyt yhteenveto ensimmäisestä kirjoituksesta.</p>"));
}

#[test]
fn atom_content_is_sanitised_and_resolved_against_entry_base() {
    let r = run("atom.xml");
    let html = r.entries[0].content_html.as_deref().expect("content");
    for bad in ["<script", "alert(1)", "onclick", "javascript:", "stats.example.com"] {
        assert!(!html.contains(bad), "{bad:?} survived in {html}");
    }
    for kept in [
        "<strong>ensimmäinen</strong>",
        "Napsauta tätä kappaletta.",
        "Vaarallinen linkki",
        r#"src="https://blog.example.fi/2024/images/jarvi.jpg""#,
        r#"alt="Järvimaisema""#,
        r#"href="https://blog.example.fi/2024/posts/2""#,
    ] {
        assert!(html.contains(kept), "{kept:?} missing from {html}");
    }
    assert!(!html.contains("feeds.example.net"), "resolved against the document URL: {html}");
}

#[test]
fn atom_entry_language_and_inherited_author() {
    let r = run("atom.xml");
    let sv = &r.entries[1];
    assert_eq!((sv.lang.as_deref(), sv.lang_origin), (Some("sv"), LangOrigin::Entry));
    assert_eq!(sv.published, utc("2025-03-04T10:15:00Z"));
    assert_eq!(sv.updated, utc("2025-03-04T10:15:00Z"));
    assert_eq!(sv.authors, [named("Åsa Öberg")]);
    assert_eq!(sv.categories, ["resor"]);
    assert_eq!(sv.content_html.as_deref(), Some("<p>Vi åkte till Åbo och åt smörgås vid ån.</p>"));

    let third = &r.entries[2];
    assert_eq!(third.lang.as_deref(), Some("fi"));
    assert_eq!(third.updated, utc("2025-03-05T12:00:00Z"));
    assert_eq!(third.published, third.updated, "no <published>: updated stands in");
    assert!(third.date_given);
    let matti =
        person(Some("Matti Meikäläinen"), Some("matti@example.fi"), Some("https://blog.example.fi/about/matti"));
    assert_eq!(third.authors, [matti], "RFC 4287 §4.2.1: inherits the feed author");
    assert_eq!(plain(third.content_html.as_deref()), "Tällä merkinnällä ei ole omaa author-elementtiä.");
}

#[test]
fn rss2_channel_facts() {
    let r = run("rss2.xml");
    let f = &r.parsed.feed;
    assert_eq!(f.format, "rss2");
    assert_eq!(f.title.as_deref(), Some("Ylläpitouutiset"));
    let lang = f.language.as_deref().and_then(polyfeed::lang::normalise_tag);
    assert_eq!(lang.as_deref(), Some("fi-FI"));
    assert_eq!(f.ttl_minutes, Some(90));
    let hrefs: Vec<&str> = f.links.iter().map(|l| l.href.as_str()).collect();
    assert!(hrefs.contains(&"https://news.example.fi/"), "{hrefs:?}");
    let this = f.links.iter().find(|l| l.rel.as_deref() == Some("self"));
    assert_eq!(this.map(|l| l.href.as_str()), Some("https://news.example.fi/rss.xml"));
    assert_eq!(r.entries.len(), 3);
    for e in &r.entries {
        assert_eq!((e.lang.as_deref(), e.lang_origin), (Some("fi-FI"), LangOrigin::Feed));
    }
}

#[test]
fn rss2_cdata_title_with_html_entities() {
    let r = run("rss2.xml");
    let e = &r.entries[0];
    // CDATA keeps `&nbsp;&ndash;` as text; decoded, then NBSP folded as whitespace.
    assert_eq!(e.title, "Café – Ylläpito");
    assert!(!e.title.contains('&') && !e.title.contains('\u{a0}'), "{:?}", e.title);
    assert_eq!(e.url.as_deref(), Some("https://news.example.fi/2025/05/cafe-yllapito"));
    assert_eq!(e.guid.as_deref(), Some("yllapito-2025-001"));
    assert_eq!(e.key, "yllapito-2025-001");
    let erika = person(Some("Erika Mustermann"), Some("erika@example.org"), None);
    assert_eq!(e.authors, [erika]);
    assert_eq!(e.categories, ["Ylläpito", "Kahvila"]);
    let mp3 = Enclosure {
        url: "https://news.example.fi/media/tiedote.mp3".into(),
        mime: Some("audio/mpeg".into()),
        length: Some(123_456),
        title: None,
        duration_secs: None,
    };
    assert_eq!(e.enclosures, [mp3]);
    assert_eq!(e.published, utc("2025-05-12T03:30:00Z"));
    assert_eq!(e.summary_html.as_deref(), Some("<p>Kahvilan kassajärjestelmä päivitetään.</p>"));
}

#[test]
fn rss2_permalink_guid_and_item_atom_link() {
    let r = run("rss2.xml");
    let e = &r.entries[1];
    assert_eq!(e.title, "Huoltokatko lauantaina");
    assert_eq!(e.url.as_deref(), Some("https://news.example.fi/2025/05/huoltokatko"));
    assert_eq!(e.authors, [named("Åke Öhman")]);
    let swedish = Link {
        href: "https://news.example.fi/sv/2025/05/serviceavbrott".into(),
        rel: Some("alternate".into()),
        hreflang: Some("sv".into()),
        ..Link::default()
    };
    assert!(e.links.contains(&swedish), "{:?}", e.links);
    assert_eq!(e.categories, ["Huolto"]);
    assert_eq!(e.published, utc("2025-05-11T12:00:00Z"));
    assert_eq!(e.content_html.as_deref(), Some("<p>Palvelu on poissa käytöstä <em>lauantaina</em> klo 2–4.</p>"));

    let e = &r.entries[2];
    assert_eq!(e.title, "Uusi versio julkaistu");
    let url = "https://news.example.fi/2025/05/uusi-versio";
    assert_eq!((e.url.as_deref(), e.guid.as_deref()), (Some(url), Some(url)));
    assert_eq!(e.key, url);
    assert_eq!(e.published, utc("2025-05-10T09:00:00Z"));
    assert!(e.authors.is_empty() && e.enclosures.is_empty());
}

#[test]
fn rss_without_version_parses_as_rss2() {
    let r = run("rss2-noversion.xml");
    assert_eq!(r.parsed.feed.format, "rss2");
    assert_eq!(r.parsed.feed.title.as_deref(), Some("Versioton syöte"));
    assert_eq!(titles(&r.entries), ["Ensimmäinen uutinen", "Toinen uutinen – Åland"]);
    let one = "https://noversion.example.fi/uutiset/1";
    let two = "https://noversion.example.fi/uutiset/2";
    assert_eq!(urls(&r.entries), [Some(one), Some(two)]);
    assert_eq!(keys(&r.entries), [one, two]);
    let dates: Vec<_> = r.entries.iter().map(|e| e.published).collect();
    assert_eq!(dates, [utc("2025-02-20T08:00:00Z"), utc("2025-02-21T08:00:00Z")]);
}

#[test]
fn rss091_without_guids_or_dates() {
    let r = run("rss091.xml");
    assert_eq!(r.parsed.feed.format, "rss0");
    assert_eq!(r.parsed.feed.title.as_deref(), Some("Vanha syöte"));
    assert_eq!(r.parsed.feed.language.as_deref(), Some("fi"));
    assert_eq!(titles(&r.entries), ["Kesä saapuu", "Syksyn sienisato"]);
    assert_eq!(
        urls(&r.entries),
        [Some("https://old.example.fi/artikkelit/kesa"), Some("https://old.example.fi/artikkelit/sienet")]
    );
    for e in &r.entries {
        assert_eq!(e.guid, None);
        assert!(!e.date_given);
        assert_eq!((e.published, e.updated), (now(), now()));
        assert_eq!(e.lang.as_deref(), Some("fi"));
    }
    assert_keys_unique("rss091.xml", &r.entries);
}

#[test]
fn rss10_rdf() {
    let r = run("rss10.xml");
    assert_eq!(r.parsed.feed.format, "rss1");
    assert_eq!(r.parsed.feed.title.as_deref(), Some("Nyheter från Skåne"));
    assert_eq!(r.parsed.feed.language.as_deref(), Some("sv"));
    assert_eq!(titles(&r.entries), ["Våren är här", "Ny färjelinje till Åland", "Öppet hus på biblioteket"]);
    let expected: Vec<String> = (1..=3).map(|i| format!("https://rdf.example.se/nyheter/{i}")).collect();
    let got: Vec<String> = r.entries.iter().map(|e| e.url.clone().unwrap()).collect();
    assert_eq!(got, expected);
    let dates: Vec<_> = r.entries.iter().map(|e| e.published).collect();
    assert_eq!(dates, [utc("2025-04-01T06:00:00Z"), utc("2025-04-02T12:30:00Z"), utc("2025-04-03T07:00:00Z")]);
    let authors: Vec<Vec<Person>> = r.entries.iter().map(|e| e.authors.clone()).collect();
    assert_eq!(authors, [vec![named("Björn Åkesson")], vec![named("Märta Öst")], vec![]]);
    for e in &r.entries {
        assert_eq!((e.lang.as_deref(), e.lang_origin), (Some("sv"), LangOrigin::Feed));
    }
}

#[test]
fn jsonfeed10_author_is_inherited() {
    let r = run("jsonfeed10.json");
    assert_eq!(r.parsed.feed.format, "json");
    assert_eq!(r.parsed.feed.title.as_deref(), Some("JSON-syöte 1.0"));
    let pekka = person(Some("Pekka Mäkinen"), None, Some("https://json.example.fi/pekka"));
    assert_eq!(r.parsed.feed.authors, std::slice::from_ref(&pekka));
    assert_eq!(r.entries.len(), 2);
    let (talvi, sauna) = (&r.entries[0], &r.entries[1]);
    assert_eq!(talvi.guid.as_deref(), Some("https://json.example.fi/2025/01/talvi"));
    assert_eq!(talvi.url.as_deref(), Some("https://json.example.fi/2025/01/talvi"));
    assert_eq!(talvi.title, "Talvinen järvi");
    assert_eq!(talvi.content_html.as_deref(), Some("<p>Jää on paksua ja hiihtäjiä riittää.</p>"));
    assert_eq!(talvi.published, utc("2025-01-15T08:00:00Z"));
    assert_eq!(talvi.updated, utc("2025-01-15T10:00:00Z"));
    assert_eq!(talvi.categories, ["talvi", "järvi"]);
    assert_eq!(sauna.guid.as_deref(), Some("2"));
    assert_eq!(sauna.key, "2");
    assert_eq!(sauna.title, "Saunailta");
    assert_eq!(sauna.url.as_deref(), Some("https://json.example.fi/2025/01/sauna"));
    assert_eq!(plain(sauna.content_html.as_deref()), "Löylyt olivat hyvät.");
    assert_eq!(sauna.published, utc("2025-01-16T18:30:00Z"));
    for e in &r.entries {
        assert_eq!(e.authors, std::slice::from_ref(&pekka));
    }
}

#[test]
fn jsonfeed11_language_authors_and_attachment() {
    let r = run("jsonfeed11.json");
    let f = &r.parsed.feed;
    assert_eq!(f.title.as_deref(), Some("JSON-syöte 1.1"));
    assert_eq!(f.language.as_deref(), Some("fi"));
    let anna = person(Some("Anna Äijälä"), None, Some("https://json11.example.fi/anna"));
    let osten = named("Östen Ångström");
    assert_eq!(f.authors, [anna.clone(), osten.clone()]);
    assert_eq!(
        titles(&r.entries),
        ["Podcast-jakso 1: Kesämökillä", "Avsnitt 2: Sommarstugan på Åland", "Podcast-jakso 3: Syysmyrsky"]
    );
    assert_eq!(keys(&r.entries), ["json11-1", "json11-2", "json11-3"]);
    let langs: Vec<_> = r.entries.iter().map(|e| (e.lang.as_deref(), e.lang_origin)).collect();
    assert_eq!(
        langs,
        [(Some("fi"), LangOrigin::Feed), (Some("sv"), LangOrigin::Entry), (Some("fi"), LangOrigin::Feed)]
    );
    let authors: Vec<Vec<Person>> = r.entries.iter().map(|e| e.authors.clone()).collect();
    let both = vec![anna, osten.clone()];
    assert_eq!(authors, [both.clone(), vec![osten], both]);
    let dates: Vec<_> = r.entries.iter().map(|e| e.published).collect();
    let expected: Vec<_> = (1..=3).map(|d| utc(&format!("2025-09-0{d}T06:00:00Z"))).collect();
    assert_eq!(dates, expected);
    assert_eq!(plain(r.entries[1].content_html.as_deref()), "Andra avsnittet på svenska.");
}

#[test]
fn jsonfeed11_attachment_is_an_enclosure_not_a_link() {
    let r = run("jsonfeed11.json");
    let e = &r.entries[0];
    let mp3 = Enclosure {
        url: "https://json11.example.fi/media/jakso1.mp3".into(),
        mime: Some("audio/mpeg".into()),
        length: Some(2_345_678),
        title: Some("Jakso 1".into()),
        duration_secs: Some(1800),
    };
    assert_eq!(e.enclosures, [mp3]);
    assert!(e.links.iter().all(|l| !l.href.ends_with(".mp3")), "{:?}", e.links);
    assert_eq!(e.url.as_deref(), Some("https://json11.example.fi/jaksot/1"));
    assert!(r.entries[1..].iter().all(|e| e.enclosures.is_empty()));
}

#[test]
fn no_guids_get_stable_distinct_keys() {
    let a = run("no-guids.xml");
    let b = run("no-guids.xml");
    assert_eq!(titles(&a.entries), ["Linkillinen kohde", "Pelkkä otsikko ja kuvaus"]);
    assert!(a.entries.iter().all(|e| e.guid.is_none()));
    assert_eq!(keys(&a.entries), keys(&b.entries));
    assert_keys_unique("no-guids.xml", &a.entries);
    assert_eq!(a.entries[0].url.as_deref(), Some("https://noguid.example.fi/kohde/1"));
    let second = &a.entries[1];
    assert_eq!(second.url, None, "must not borrow the channel link");
    assert!(second.links.is_empty());
    assert_eq!(plain(second.summary_html.as_deref()), "Ei guidia eikä linkkiä.");
    let dates: Vec<_> = a.entries.iter().map(|e| e.published).collect();
    assert_eq!(dates, [utc("2025-10-06T05:00:00Z"), utc("2025-10-07T05:00:00Z")]);
}

#[test]
fn duplicate_guids_are_all_kept_with_distinct_keys() {
    let a = run("duplicate-guids.xml");
    let b = run("duplicate-guids.xml");
    assert_eq!(titles(&a.entries), ["Kopio A", "Kopio B", "Kopio C"]);
    assert!(a.entries.iter().all(|e| e.guid.as_deref() == Some("dup-guid-0001")));
    assert_eq!(
        urls(&a.entries),
        [Some("https://dup.example.fi/a"), Some("https://dup.example.fi/b"), Some("https://dup.example.fi/c")]
    );
    let dates: Vec<_> = a.entries.iter().map(|e| e.published).collect();
    let expected: Vec<_> = (6..=8).map(|d| utc(&format!("2025-10-0{d}T08:00:00Z"))).collect();
    assert_eq!(dates, expected);
    assert_keys_unique("duplicate-guids.xml", &a.entries);
    assert_eq!(keys(&a.entries), keys(&b.entries));
    assert_eq!(a.warnings.len(), 2, "{:?}", a.warnings);
}

#[test]
fn windows_1252_labelled_utf8_is_repaired() {
    // The server agrees with the (wrong) prolog; the bytes still win.
    let r = try_run_with("win1252-as-utf8.xml", Some("application/rss+xml; charset=utf-8")).unwrap();
    assert_eq!(titles(&r.entries), ["Päivä – “quoted”", "Plain ASCII item"]);
    assert_eq!(plain(r.entries[0].summary_html.as_deref()), "Sää on hyvä – ei sadetta.");
    assert!(!r.parsed.warnings.is_empty(), "the repair is recorded");
    assert!(all_strings(&r).iter().all(|s| !s.contains('\u{fffd}')));
}

#[test]
fn latin1_prolog() {
    let r = run("latin1.xml");
    assert_eq!(r.parsed.feed.title.as_deref(), Some("Latin-1-syöte"));
    assert_eq!(titles(&r.entries), ["Sää: pakkasta ja lunta", "Hälsningar från Åbo"]);
    let summaries: Vec<String> = r.entries.iter().map(|e| plain(e.summary_html.as_deref())).collect();
    assert_eq!(summaries, ["Lämpötila on -15 astetta.", "Vi ses på ön."]);
    assert_eq!(urls(&r.entries), [Some("https://latin1.example.fi/1"), Some("https://latin1.example.fi/2")]);
}

#[test]
fn utf16_and_utf8_boms_give_the_same_feed() {
    let runs: Vec<Run> = ["utf16be-bom.xml", "utf16le-bom.xml", "utf8-bom.xml"].into_iter().map(run).collect();
    for r in &runs {
        let f = &r.parsed.feed;
        assert_eq!(f.title.as_deref(), Some("Koodaustesti – äöå ÄÖÅ"));
        assert_eq!(f.language.as_deref(), Some("fi"));
        assert_eq!(
            titles(&r.entries),
            ["Ensimmäinen: äöå ÄÖÅ", "Andra: smörgåsbord € ‘citat’", "Kolmas: kala \u{1F41F}"]
        );
        let expected: Vec<String> = (1..=3).map(|i| format!("https://enc.example.fi/{i}")).collect();
        let got: Vec<String> = r.entries.iter().map(|e| e.url.clone().unwrap()).collect();
        assert_eq!(got, expected);
        assert!(all_strings(r).iter().all(|s| !s.contains('\u{feff}')), "BOM leaked");
    }
    assert_eq!(runs[0].entries, runs[1].entries);
    assert_eq!(runs[0].entries, runs[2].entries);
}

#[test]
fn control_characters_are_stripped() {
    let r = run("controlchars.xml");
    assert_eq!(titles(&r.entries), ["Ohjausmerkki otsikossa", "Puhdas otsikko"]);
    assert_eq!(plain(r.entries[0].summary_html.as_deref()), "Kuvaus-teksti");
    for s in all_strings(&r) {
        assert!(!s.contains(['\u{1}', '\u{b}', '\u{1f}']), "control char in {s:?}");
    }
    assert!(!r.parsed.warnings.is_empty(), "the repair is recorded");
}

#[test]
fn truncated_document_is_an_error_or_the_complete_items() {
    match try_run("truncated.xml") {
        Err(e) => assert!(matches!(e, ParseError::Invalid(_)), "{e:?}"),
        Ok(r) => {
            assert_eq!(titles(&r.entries), ["Ensimmäinen uutinen", "Toinen uutinen"]);
            assert_eq!(urls(&r.entries), [Some("https://trunc.example.fi/1"), Some("https://trunc.example.fi/2")]);
            let dates: Vec<_> = r.entries.iter().map(|e| e.published).collect();
            assert_eq!(dates, [utc("2025-09-01T06:00:00Z"), utc("2025-09-02T06:00:00Z")]);
        }
    }
}

#[test]
fn malformed_document_is_an_error() {
    let err = try_run("malformed.xml").err().expect("an error, not entries");
    assert!(matches!(err, ParseError::Invalid(_)), "{err:?}");
}

#[test]
fn html_page_names_the_feed_it_advertises() {
    let err = try_run("not-a-feed.html").err().expect("not a feed");
    let advertised = vec!["https://www.example.com/feed.xml".to_string()];
    assert_eq!(err, ParseError::HtmlPage { advertised });
    assert!(err.to_string().contains("https://www.example.com/feed.xml"));
}

#[test]
fn html_page_without_feeds() {
    let err = try_run("plain.html").err().expect("not a feed");
    assert_eq!(err, ParseError::HtmlPage { advertised: vec![] });
}

#[test]
fn bad_dates_fall_back_to_now_and_future_is_clamped() {
    let r = run("bad-dates.xml");
    assert_eq!(titles(&r.entries), ["Eilen", "Mahdoton päivä", "Kaukainen tulevaisuus", "Kelvollinen päivä"]);
    let raw: Vec<_> = r.parsed.feed.entries.iter().map(|e| e.published).collect();
    let future = utc("2099-01-01T00:00:00Z");
    let valid = utc("2025-06-02T05:30:00Z");
    assert_eq!(raw, [None, None, Some(future), Some(valid)]);
    for e in &r.entries[..3] {
        assert!(!e.date_given, "{}", e.title);
        assert_eq!((e.published, e.updated), (now(), now()), "{}", e.title);
    }
    let last = &r.entries[3];
    assert!(last.date_given);
    assert_eq!((last.published, last.updated), (valid, valid));
}

#[test]
fn billion_laughs_is_not_expanded() {
    let start = Instant::now();
    let result = try_run("billion-laughs.xml");
    assert!(start.elapsed() < Duration::from_secs(2), "took {:?}", start.elapsed());
    let Ok(r) = result else { return };
    let lots = "lol".repeat(342); // just over 1 KiB
    for s in all_strings(&r) {
        assert!(!s.contains(&lots), "expanded: {} bytes", s.len());
    }
    assert_eq!(r.entries.len(), 1);
    assert!(!r.entries[0].title.contains("lollol"), "{:?}", r.entries[0].title);
}

#[test]
fn external_entity_is_not_read() {
    let start = Instant::now();
    let result = try_run("external-entity.xml");
    assert!(start.elapsed() < Duration::from_secs(2), "took {:?}", start.elapsed());
    let Ok(r) = result else { return };
    for s in all_strings(&r) {
        assert!(!s.contains("root:"), "leaked: {s:?}");
    }
    assert_eq!(r.entries.len(), 1);
    assert!(!r.entries[0].title.contains("root"), "{:?}", r.entries[0].title);
}
