//! The README's main command on the bundled offline example: a copy of
//! `examples/` is polled by the real binary and the database is checked.

use crate::common;

use common::{run_in, stdout};

#[test]
fn offline_example_is_ingested() {
    let dir = common::example_copy();
    let config = dir.path().join("feeds.toml");

    let check = run_in(dir.path(), &config, &["check"]);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
    assert!(!stdout(&check).contains("file not found"), "{}", stdout(&check));
    // No base_url in the example: `check` says what that costs.
    assert!(stdout(&check).contains("base_url:    (none): feeds carry no rel=\"self\" link"), "{}", stdout(&check));
    assert!(stdout(&check).contains("feed ids:    urn:polyfeed:feed:all, ..."), "{}", stdout(&check));

    let out = run_in(dir.path(), &config, &["poll"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout(&out).contains("polled 5 sources: 5 ok, 0 not modified, 0 failed; 22 new entries"),
        "{}",
        stdout(&out)
    );

    let db = rusqlite::Connection::open(dir.path().join("polyfeed.db")).unwrap();
    let count = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
    // One publisher in three languages.
    assert_eq!(
        count(
            "SELECT COUNT(DISTINCT e.lang) FROM entries e JOIN sources s ON s.id = e.source_id WHERE s.grp = 'porvoo'"
        ),
        3
    );
    // hreflang alternates survive, RSS item-level atom:link included.
    assert!(count("SELECT COUNT(*) FROM entry_links WHERE hreflang IS NOT NULL") >= 4);
    let rss_alternates =
        "SELECT COUNT(*) FROM entry_links l JOIN entries e ON e.id = l.entry_id JOIN sources s ON s.id = e.source_id
                          WHERE s.name = 'Porvoon kaupunki' AND l.hreflang = 'sv'";
    assert!(count(rss_alternates) >= 2, "item-level atom:link recovered from RSS");
    // The library feed has no language: detected from the text.
    let lib_lang: String = db
        .query_row(
            "SELECT DISTINCT e.lang FROM entries e JOIN sources s ON s.id = e.source_id WHERE s.name LIKE 'Kirjasto%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(lib_lang, "fi");
    assert_eq!(count("SELECT COUNT(*) FROM entries WHERE lang_origin = 'detected'"), 3);
    // No guids there: keys come from the links, never random.
    assert_eq!(count("SELECT COUNT(*) FROM entries WHERE key LIKE 'https://%' AND guid IS NULL"), 3);

    // Stories: the posts linked by hreflang or sharing a CMS id are one story
    // in three languages; the ministry's similar-looking post stays apart.
    let story_of = |title_like: &str| -> String {
        db.query_row(
            "SELECT se.story_id FROM story_entries se JOIN entries e ON e.id = se.entry_id WHERE e.title LIKE ?1",
            [title_like],
            |r| r.get(0),
        )
        .unwrap()
    };
    let langs_of = |story: &str| -> String {
        db.query_row(
            "SELECT group_concat(lang, ',') FROM (SELECT lang FROM story_entries WHERE story_id = ?1 ORDER BY lang)",
            [story],
            |r| r.get(0),
        )
        .unwrap()
    };
    // Joined by hreflang links and shared CMS ids, and (the night bus) by
    // content alone: numbers, names and dictionary concepts.
    for title in [
        "Porvoo expands expert support%",
        "Renovation of the Old Bridge%",
        "Budget proposal for 2027%",
        "Weekend night bus between Porvoo and Helsinki%",
    ] {
        assert_eq!(langs_of(&story_of(title)), "en,fi,sv", "{title}");
    }
    assert_eq!(langs_of(&story_of("Kielikylpyhaku%")), "fi,sv");
    assert_eq!(count("SELECT COUNT(DISTINCT story_id) FROM story_entries"), 13, "22 entries, 13 stories");
    assert_eq!(story_of("Porvoo laajentaa%"), story_of("Borgå utvidgar%"));
    assert_ne!(story_of("Municipalities receive%"), story_of("Porvoo expands expert support%"));
    assert_eq!(count("SELECT COUNT(*) FROM story_entries"), 22, "every entry belongs to exactly one story");

    let again = run_in(dir.path(), &config, &["poll"]);
    assert!(stdout(&again).contains("polled 0 sources"), "{}", stdout(&again));
    let all = run_in(dir.path(), &config, &["poll", "--all"]);
    assert!(stdout(&all).contains("0 ok, 5 not modified, 0 failed; 0 new entries, 0 updated"), "{}", stdout(&all));
    assert_eq!(count("SELECT COUNT(*) FROM entries"), 22);
}
