//! Story rules end to end, with the real binary, a loopback HTTP server and
//! the real database: per-source `id_pattern`, `[[merge]]` and `[[split]]`
//! overrides (applied when the config changes, recorded and explained, ids
//! stable), and `follow_pages` (each entry's page fetched once for its
//! hreflang links).

use crate::common;

use common::{Env, Response, Server, stderr, stdout};

/// One RSS item.
struct Item<'a> {
    guid: &'a str,
    title: &'a str,
    link: String,
    body: &'a str,
    date: &'a str,
    /// (hreflang, href) item-level atom:links.
    alternates: Vec<(&'a str, String)>,
}

fn item<'a>(guid: &'a str, title: &'a str, link: String, body: &'a str, date: &'a str) -> Item<'a> {
    Item { guid, title, link, body, date, alternates: Vec::new() }
}

fn rss(lang: &str, items: &[Item<'_>]) -> String {
    let items: String = items
        .iter()
        .map(|i| {
            let alts: String = i
                .alternates
                .iter()
                .map(|(l, h)| format!("<atom:link rel=\"alternate\" hreflang=\"{l}\" href=\"{h}\"/>"))
                .collect();
            format!(
                "<item><guid isPermaLink=\"false\">{}</guid><title>{}</title><link>{}</link>{alts}\
                 <description>{}</description><pubDate>{}</pubDate></item>",
                i.guid, i.title, i.link, i.body, i.date
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\" xmlns:atom=\"http://www.w3.org/2005/Atom\"><channel>\
         <title>feed {lang}</title><language>{lang}</language><link>https://example.org/</link>{items}</channel></rss>"
    )
}

fn db(env: &Env) -> rusqlite::Connection {
    rusqlite::Connection::open(env.db()).unwrap()
}

/// The story of the entry with this URL.
fn story_of(env: &Env, url: &str) -> String {
    db(env)
        .query_row(
            "SELECT se.story_id FROM story_entries se JOIN entries e ON e.id = se.entry_id WHERE e.url = ?1",
            [url],
            |r| r.get(0),
        )
        .unwrap_or_else(|e| panic!("no story for {url}: {e}"))
}

/// No story holds two versions in one language.
fn one_version_per_language(env: &Env) {
    let n = env.count(
        "SELECT COUNT(*) FROM (SELECT story_id, lang FROM story_entries WHERE role = 'version' AND lang IS NOT NULL
         GROUP BY story_id, lang HAVING COUNT(*) > 1)",
    );
    assert_eq!(n, 0, "a story has two versions in one language");
    assert_eq!(env.count("SELECT COUNT(*) FROM entries"), env.count("SELECT COUNT(*) FROM story_entries"));
    common::story_index_ok(&env.db());
}

/// The story ids in a published feed, in order.
fn published_ids(env: &Env) -> Vec<String> {
    let text = std::fs::read_to_string(env.dir.path().join("public/all.atom")).unwrap();
    let mut out = Vec::new();
    let mut rest = text.as_str();
    while let Some(i) = rest.find("<id>urn:polyfeed:story:") {
        let id = &rest[i + 4..];
        let end = id.find('<').unwrap();
        out.push(id[..end].to_string());
        rest = &id[end..];
    }
    out
}

fn replace_in_config(env: &Env, from: &str, to: &str) {
    let text = std::fs::read_to_string(env.config()).unwrap();
    assert!(text.contains(from), "{from} not in config");
    std::fs::write(env.config(), text.replace(from, to)).unwrap();
}

fn append_to_config(env: &Env, extra: &str) {
    let mut text = std::fs::read_to_string(env.config()).unwrap();
    text.push_str(extra);
    std::fs::write(env.config(), text).unwrap();
}

fn poll(env: &Env, args: &[&str]) -> std::process::Output {
    let mut all = vec!["poll"];
    all.extend_from_slice(args);
    let out = env.run(&all);
    assert!(out.status.success(), "poll failed: {}{}", stdout(&out), stderr(&out));
    out
}

/// Two publishers' hosts in one group; slugs, texts and ids share nothing
/// but the code that the CMS puts in both URLs.
fn city_feeds(server: &Server) -> (String, String, String, String) {
    let fi1 = "https://kaupunki.example/uutiset/k7q2-puisto-avataan".to_string();
    let fi2 = "https://kaupunki.example/uutiset/m3x9-kirjasto-kiinni".to_string();
    let sv1 = "https://stad.example/nyheter/k7q2-parken-oppnas".to_string();
    let sv2 = "https://stad.example/nyheter/z8w1-simhallen-stangd".to_string();
    let fi = rss(
        "fi",
        &[
            item(
                "fi-a",
                "puisto avataan",
                fi1.clone(),
                "uusi puisto avataan keskustassa",
                "Wed, 25 Nov 2026 08:00:00 GMT",
            ),
            item(
                "fi-b",
                "kirjasto kiinni",
                fi2.clone(),
                "kirjasto on suljettu remontin ajan",
                "Wed, 25 Nov 2026 09:00:00 GMT",
            ),
        ],
    );
    let sv = rss(
        "sv",
        &[
            item("sv-a", "parken öppnas", sv1.clone(), "en ny park öppnas i centrum", "Wed, 25 Nov 2026 08:30:00 GMT"),
            item(
                "sv-b",
                "simhallen stängd",
                sv2.clone(),
                "simhallen är stängd under renoveringen",
                "Wed, 25 Nov 2026 09:30:00 GMT",
            ),
        ],
    );
    server.feed("/fi.xml", fi, "\"fi1\"", "Wed, 25 Nov 2026 10:00:00 GMT");
    server.feed("/sv.xml", sv, "\"sv1\"", "Wed, 25 Nov 2026 10:00:00 GMT");
    (fi1, fi2, sv1, sv2)
}

#[test]
fn id_pattern_joins_what_nothing_else_would_also_after_a_config_change() {
    let server = Server::start();
    let (fi1, fi2, sv1, sv2) = city_feeds(&server);
    let (fi_url, sv_url) = (server.url("/fi.xml"), server.url("/sv.xml"));
    let env = Env::new(
        "",
        &[
            (&fi_url, "lang = \"fi\"\ngroup = \"city\"\n# PATTERN"),
            (&sv_url, "lang = \"sv\"\ngroup = \"city\"\n# PATTERN"),
        ],
    );
    poll(&env, &[]);
    assert_ne!(story_of(&env, &fi1), story_of(&env, &sv1), "nothing but the pattern joins them");
    assert_eq!(env.count("SELECT COUNT(DISTINCT story_id) FROM story_entries"), 4);
    let fi1_story = story_of(&env, &fi1);

    // The pattern arrives in the config: the next poll (feeds unchanged, 304)
    // re-evaluates the stored entries.
    replace_in_config(&env, "# PATTERN", "id_pattern = '/(?<id>[a-z]\\d[a-z]\\d)-'");
    let out = poll(&env, &["--all"]);
    assert!(stdout(&out).contains("0 new entries"), "{}", stdout(&out));
    assert!(stdout(&out).contains("1 stories merged"), "{}", stdout(&out));
    assert_eq!(story_of(&env, &fi1), story_of(&env, &sv1));
    assert_eq!(story_of(&env, &fi1), fi1_story, "the older story's id survives");
    assert_ne!(story_of(&env, &fi2), story_of(&env, &sv2), "different ids stay apart");
    assert_eq!(env.count("SELECT COUNT(DISTINCT story_id) FROM story_entries"), 3);
    one_version_per_language(&env);
    let explain = env.run(&["explain", &sv1]);
    assert!(stdout(&explain).contains("same id_pattern id (city:k7q2)"), "{}", stdout(&explain));
    assert!(stdout(&explain).contains("merged in"), "{}", stdout(&explain));

    // A fresh database with the pattern from the start joins them at assignment.
    let fresh = Env::new(
        "",
        &[
            (&fi_url, "lang = \"fi\"\ngroup = \"city\"\nid_pattern = '/([a-z]\\d[a-z]\\d)-'"),
            (&sv_url, "lang = \"sv\"\ngroup = \"city\"\nid_pattern = '/([a-z]\\d[a-z]\\d)-'"),
        ],
    );
    poll(&fresh, &[]);
    assert_eq!(story_of(&fresh, &fi1), story_of(&fresh, &sv1));
    assert_eq!(story_of(&fresh, &fi1), fi1_story, "the same entries give the same story id");
    assert_eq!(fresh.count("SELECT COUNT(*) FROM story_events"), 0, "joined at assignment, no re-evaluation");
    let members = fresh.run(&["explain", &sv1, "--json"]);
    assert!(stdout(&members).contains("same id_pattern id"), "{}", stdout(&members));
}

#[test]
fn a_bad_id_pattern_is_a_located_config_error() {
    let env = Env::new("", &[("https://a.example/feed.xml", "lang = \"fi\"\nid_pattern = '/news/(\\d+'")]);
    let out = env.run(&["check"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    let expected = format!("{}:10:14: invalid id_pattern", env.config().display());
    assert!(err.contains(&expected), "{err}");
    let out = env.run(&["poll"]);
    assert_eq!(out.status.code(), Some(1), "poll refuses the config too");
    assert!(!env.db().exists(), "nothing was touched");
}

#[test]
fn merge_override_joins_stories_and_is_explained() {
    let server = Server::start();
    let (fi1, fi2, sv1, sv2) = city_feeds(&server);
    let env = Env::new(
        "",
        &[
            (&server.url("/fi.xml"), "lang = \"fi\"\ngroup = \"city\""),
            (&server.url("/sv.xml"), "lang = \"sv\"\ngroup = \"city\""),
        ],
    );
    poll(&env, &[]);
    let (a, b) = (story_of(&env, &fi2), story_of(&env, &sv2));
    assert_ne!(a, b);
    let before = published_ids(&env);
    assert_eq!(before.len(), 4);

    // The override applies on the next publish, without new entries.
    append_to_config(&env, &format!("\n[[merge]]\nurls = [\"{fi2}\", \"{sv2}\"]\n"));
    let out = env.run(&["publish"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(story_of(&env, &fi2), story_of(&env, &sv2));
    let kept = story_of(&env, &fi2);
    assert!(kept == a || kept == b);
    let after = published_ids(&env);
    assert_eq!(after.len(), 3, "{after:?}");
    assert!(after.contains(&kept) && before.contains(&kept), "the surviving id was published before");
    assert_ne!(story_of(&env, &fi1), story_of(&env, &sv1), "other stories untouched");

    let explain = env.run(&["explain", &sv2]);
    let text = stdout(&explain);
    assert!(text.contains("[[merge]] override on line"), "{text}");
    assert!(text.contains("merges and splits:"), "{text}");
    // Idempotent: a second publish and poll change nothing more.
    env.run(&["publish"]);
    poll(&env, &["--all"]);
    assert_eq!(env.count("SELECT COUNT(*) FROM story_events WHERE kind = 'merge'"), 1);
    one_version_per_language(&env);
}

#[test]
fn merge_override_never_makes_two_versions_of_one_language() {
    let server = Server::start();
    let (fi1, fi2, sv1, _) = city_feeds(&server);
    let env = Env::new(
        "",
        &[
            (&server.url("/fi.xml"), "lang = \"fi\"\ngroup = \"city\""),
            (&server.url("/sv.xml"), "lang = \"sv\"\ngroup = \"city\""),
        ],
    );
    append_to_config(&env, &format!("\n[[merge]]\nurls = [\"{fi1}\", \"{sv1}\", \"{fi2}\"]\n"));
    let out = poll(&env, &[]);
    let err = stderr(&out);
    assert!(err.contains("left in separate stories"), "{err}");
    assert!(err.contains("\"fi\""), "{err}");
    assert_eq!(story_of(&env, &fi1), story_of(&env, &sv1), "what can be merged is merged");
    assert_ne!(story_of(&env, &fi1), story_of(&env, &fi2), "two Finnish posts stay apart");
    one_version_per_language(&env);
    let explain = stdout(&env.run(&["explain", &fi2]));
    assert!(explain.contains("merge refused"), "{explain}");
    // Warned on every run until fixed, recorded once.
    let again = poll(&env, &["--all"]);
    assert!(stderr(&again).contains("left in separate stories"), "{}", stderr(&again));
    assert_eq!(env.count("SELECT COUNT(*) FROM story_events WHERE kind = 'refused'"), 1);
}

#[test]
fn split_override_separates_linked_entries_and_keeps_the_founders_id() {
    let server = Server::start();
    let fi = "https://kunta.example/fi/uutinen-silta";
    let sv = "https://kunta.example/sv/nyhet-bron";
    let en = "https://kunta.example/en/news-bridge";
    let mut fi_item =
        item("fi-1", "silta korjataan", fi.into(), "silta korjataan keväällä", "Wed, 25 Nov 2026 08:00:00 GMT");
    fi_item.alternates = vec![("sv", sv.into())];
    let sv_item = item("sv-1", "bron repareras", sv.into(), "bron repareras i vår", "Wed, 25 Nov 2026 08:10:00 GMT");
    server.feed("/fi.xml", rss("fi", &[fi_item]), "\"f\"", "Wed, 25 Nov 2026 10:00:00 GMT");
    server.feed("/sv.xml", rss("sv", &[sv_item]), "\"s\"", "Wed, 25 Nov 2026 10:00:00 GMT");
    let env = Env::new("", &[(&server.url("/fi.xml"), "lang = \"fi\""), (&server.url("/sv.xml"), "lang = \"sv\"")]);
    poll(&env, &[]);
    let joined = story_of(&env, fi);
    assert_eq!(joined, story_of(&env, sv), "the hreflang link joins them");
    assert_eq!(published_ids(&env), vec![joined.clone()]);

    append_to_config(&env, &format!("\n[[split]]\nurls = [\"{sv}\", \"{fi}\"]\n"));
    let out = poll(&env, &["--all"]);
    assert!(stdout(&out).contains("1 stories split off"), "{}", stdout(&out));
    assert_eq!(story_of(&env, fi), joined, "the part with the founding entry keeps the id");
    let split_off = story_of(&env, sv);
    assert_ne!(split_off, joined);
    let ids = published_ids(&env);
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.contains(&joined) && ids.contains(&split_off));
    let text = stdout(&env.run(&["explain", sv]));
    assert!(text.contains("[[split]] override on line"), "{text}");
    assert!(text.contains("split off from"), "{text}");

    // Late evidence does not undo it: a new English version linking to both
    // joins one of them, and the other merge is refused.
    let mut en_item =
        item("en-1", "bridge repairs", en.into(), "the bridge is repaired", "Wed, 25 Nov 2026 08:20:00 GMT");
    en_item.alternates = vec![("fi", fi.into()), ("sv", sv.into())];
    server.feed("/en.xml", rss("en", &[en_item]), "\"e\"", "Wed, 25 Nov 2026 10:00:00 GMT");
    append_to_config(&env, &format!("\n[[source]]\nurl = \"{}\"\nlang = \"en\"\n", server.url("/en.xml")));
    poll(&env, &[]);
    assert_ne!(story_of(&env, fi), story_of(&env, sv), "the split holds");
    assert_eq!(story_of(&env, fi), joined, "ids stay stable");
    assert_eq!(story_of(&env, sv), split_off);
    assert!(story_of(&env, en) == joined || story_of(&env, en) == split_off);
    one_version_per_language(&env);
    // Nothing flips back and forth on later runs.
    let events = env.count("SELECT COUNT(*) FROM story_events");
    poll(&env, &["--all"]);
    env.run(&["publish"]);
    assert_eq!(env.count("SELECT COUNT(*) FROM story_events"), events);

    // With the split in the config from the start, assignment never joins them.
    let fresh = Env::new("", &[(&server.url("/fi.xml"), "lang = \"fi\""), (&server.url("/sv.xml"), "lang = \"sv\"")]);
    append_to_config(&fresh, &format!("\n[[split]]\nurls = [\"{sv}\", \"{fi}\"]\n"));
    poll(&fresh, &[]);
    assert_ne!(story_of(&fresh, fi), story_of(&fresh, sv));
    assert_eq!(story_of(&fresh, fi), joined, "the same id as before");
    assert_eq!(fresh.count("SELECT COUNT(*) FROM story_events"), 0, "nothing to split afterwards");
}

#[test]
fn follow_pages_reads_hreflang_from_entry_pages_once() {
    let server = Server::start();
    let page = |own: &str, other_lang: &str, other: &str| {
        format!(
            "<!doctype html><html><head><title>x</title>\
             <link rel=\"alternate\" hreflang=\"{other_lang}\" href=\"{other}\">\
             <link rel=\"alternate\" hreflang=\"x-default\" href=\"/\"></head><body>{own}</body></html>"
        )
    };
    let (fi_page, sv_page) = ("/fi/ajankohtaista/katu-suljetaan", "/sv/aktuellt/gatan-stangs");
    let (fi_url, sv_url) = (server.url(fi_page), server.url(sv_page));
    // Absolute and relative hrefs.
    let (f, s) = (page("fi", "sv", &sv_url), page("sv", "fi", fi_page));
    server
        .route(fi_page, move |_| Response::ok(f.clone()).header("Content-Type", "text/html").header("ETag", "\"p1\""));
    server.route(sv_page, move |_| Response::ok(s.clone()).header("Content-Type", "text/html"));
    // A third entry whose page fails: recorded, never a crash.
    server.route("/fi/broken", |_| Response::status(404));
    // And one whose markup is broken: a `<link` tag closed after `</head`.
    server.route("/fi/garbled", |_| {
        Response::ok(r#"<html><head><link rel="alternate" hreflang="sv" href="/sv/x"</head><body>x</body></html>"#)
            .header("Content-Type", "text/html")
    });
    let fi_feed = rss(
        "fi",
        &[
            item(
                "fi-1",
                "katu suljetaan",
                fi_url.clone(),
                "katu suljetaan viikonloppuna",
                "Wed, 25 Nov 2026 08:00:00 GMT",
            ),
            item("fi-2", "muuta", server.url("/fi/broken"), "aivan muuta asiaa", "Tue, 24 Nov 2026 08:00:00 GMT"),
            item("fi-3", "rikki", server.url("/fi/garbled"), "sivu on rikki", "Mon, 23 Nov 2026 08:00:00 GMT"),
        ],
    );
    let sv_feed = rss(
        "sv",
        &[item("sv-1", "gatan stängs", sv_url.clone(), "gatan stängs under helgen", "Wed, 25 Nov 2026 08:05:00 GMT")],
    );
    server.feed("/fi.xml", fi_feed, "\"f\"", "Wed, 25 Nov 2026 10:00:00 GMT");
    server.feed("/sv.xml", sv_feed, "\"s\"", "Wed, 25 Nov 2026 10:00:00 GMT");
    let env = Env::new(
        "",
        &[
            (&server.url("/fi.xml"), "lang = \"fi\"\nfollow_pages = true"),
            (&server.url("/sv.xml"), "lang = \"sv\"\nfollow_pages = true"),
        ],
    );
    let out = poll(&env, &[]);
    assert!(stdout(&out).contains("4 entry pages fetched"), "{}", stdout(&out));
    assert_eq!(
        env.count(
            "SELECT COUNT(*) FROM entries e WHERE NOT EXISTS (SELECT 1 FROM story_entries s WHERE s.entry_id = e.id)"
        ),
        0,
        "every entry has its story"
    );
    assert_eq!(story_of(&env, &fi_url), story_of(&env, &sv_url), "merged by the pages' hreflang links");
    assert_ne!(story_of(&env, &fi_url), story_of(&env, &server.url("/fi/broken")));
    for p in [fi_page, sv_page, "/fi/broken", "/fi/garbled"] {
        let reqs = server.requests(p);
        assert_eq!(reqs.len(), 1, "{p} fetched once");
        assert!(reqs[0].header("user-agent").is_some_and(|ua| ua.starts_with("polyfeed/")), "{:?}", reqs[0].headers);
        assert!(reqs[0].header("accept").is_some_and(|a| a.starts_with("text/html")));
    }
    assert_eq!(env.count("SELECT COUNT(*) FROM entry_pages WHERE etag = '\"p1\"'"), 1, "validators remembered");
    let explain = stdout(&env.run(&["explain", &sv_url]));
    assert!(explain.contains("hreflang"), "{explain}");

    // A second poll of everything does not fetch any page again.
    let again = poll(&env, &["--all"]);
    assert!(!stdout(&again).contains("entry pages fetched"), "{}", stdout(&again));
    for p in [fi_page, sv_page, "/fi/broken", "/fi/garbled"] {
        assert_eq!(server.requests(p).len(), 1, "{p} not refetched");
    }
    one_version_per_language(&env);

    // Purging a source whose pages were followed removes their page records
    // too, in one transaction, and leaves a consistent database.
    let out = env.run(&["remove", &server.url("/fi.xml"), "--purge"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout(&out).contains("purged 3 entries"), "{}", stdout(&out));
    assert_eq!(env.count("SELECT COUNT(*) FROM entry_pages"), 1, "only the Swedish page is left");
    assert_eq!(env.count("SELECT COUNT(*) FROM pragma_foreign_key_check"), 0);
    env.integrity_ok();
    assert!(!std::fs::read_to_string(env.config()).unwrap().contains("/fi.xml"), "removed from feeds.toml");
}

#[test]
fn a_late_hreflang_link_in_an_updated_entry_merges_stories() {
    let server = Server::start();
    let fi = "https://kunta.example/fi/uutinen-tori";
    let sv = "https://kunta.example/sv/nyhet-torget";
    let fi_item = || item("fi-1", "tori uusitaan", fi.into(), "tori uusitaan kesällä", "Wed, 25 Nov 2026 08:00:00 GMT");
    let sv_item = item("sv-1", "torget förnyas", sv.into(), "torget förnyas i sommar", "Wed, 25 Nov 2026 08:10:00 GMT");
    server.feed("/fi.xml", rss("fi", &[fi_item()]), "\"f1\"", "Wed, 25 Nov 2026 10:00:00 GMT");
    server.feed("/sv.xml", rss("sv", &[sv_item]), "\"s\"", "Wed, 25 Nov 2026 10:00:00 GMT");
    let env = Env::new("", &[(&server.url("/fi.xml"), "lang = \"fi\""), (&server.url("/sv.xml"), "lang = \"sv\"")]);
    poll(&env, &[]);
    let (a, b) = (story_of(&env, fi), story_of(&env, sv));
    assert_ne!(a, b);

    // The Finnish item is edited: it now links to the Swedish version.
    let mut linked = fi_item();
    linked.alternates = vec![("sv", sv.into())];
    server.feed("/fi.xml", rss("fi", &[linked]), "\"f2\"", "Wed, 25 Nov 2026 11:00:00 GMT");
    let out = poll(&env, &["--all"]);
    assert!(stdout(&out).contains("1 updated"), "{}", stdout(&out));
    assert_eq!(story_of(&env, fi), story_of(&env, sv));
    assert!(story_of(&env, fi) == a || story_of(&env, fi) == b);
    let text = stdout(&env.run(&["explain", sv]));
    assert!(text.contains("hreflang link from entry"), "{text}");
    assert_eq!(env.count("SELECT COUNT(*) FROM story_events WHERE kind = 'merge'"), 1);
    assert_eq!(env.count("SELECT COUNT(*) FROM story_recheck"), 0, "the queue is drained");
    one_version_per_language(&env);
}
