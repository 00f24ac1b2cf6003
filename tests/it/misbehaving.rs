//! What a careful operator expects from servers that misbehave, each
//! against a real loopback server and the real binary: a permanent redirect
//! to a web page never rewrites a subscription (`poll`, `run`, `add`,
//! `import-opml`), an item repeated verbatim is stored once, back-off after
//! errors grows visibly in the request times (the daemon with a short
//! interval, and hours of a shifted clock), and bytes that are not UTF-8
//! never become control characters in storage or in any published format;
//! ill-formed documents (cut short, bare `&`) are read as a lenient reader
//! reads them, without the unfinished item; `Content-Language` names the
//! language of a feed that names none.

use crate::common;

use std::time::Duration;

use common::{Daemon, Env, Response, Server, rss, stderr, stdout};

fn exit(o: &std::process::Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

const HOME: &str = "<!DOCTYPE html><html lang=\"en\"><head><title>Welcome to our new site</title>\
<link rel=\"alternate\" type=\"application/rss+xml\" href=\"/new/feed.xml\"></head>\
<body><h1>Welcome</h1></body></html>";

fn html() -> Response {
    Response::ok(HOME).header("Content-Type", "text/html; charset=utf-8")
}

fn feed_response(body: String) -> Response {
    Response::ok(body).header("Content-Type", "application/rss+xml; charset=utf-8").header("ETag", "\"v1\"")
}

#[test]
fn a_permanent_redirect_to_a_web_page_keeps_the_subscription() {
    let srv = Server::start();
    let body = rss("Old", "o", 3);
    srv.route("/feed.xml", move |_| feed_response(body.clone()));
    srv.route("/other.xml", |_| Response::redirect(308, "/home"));
    srv.route("/home", |_| html());
    let (feed, other) = (srv.url("/feed.xml"), srv.url("/other.xml"));
    let env = Env::new("", &[(&feed, ""), (&other, "")]);
    assert_eq!(exit(&env.run(&["poll"])), 3, "the 308 to a page fails");
    assert_eq!(env.source(&feed)["entries"], 3);

    // The site is redesigned: every old URL answers 301 to the home page.
    srv.route("/feed.xml", |_| Response::redirect(301, "/home"));
    let out = env.run(&["poll", "--all"]);
    assert_eq!(exit(&out), 3, "{}", stdout(&out));
    for (url, status) in [(&feed, "301 Moved Permanently"), (&other, "308 Permanent Redirect")] {
        let s = env.source(url);
        assert!(s["moved_to"].is_null(), "the subscription is not moved to a web page: {s}");
        let err = s["last_error"].as_str().unwrap();
        let want = format!("redirects ({status}) to an HTML page at {}", srv.url("/home"));
        assert!(err.contains(&want), "{err}");
        assert!(err.contains("advertises a feed at") && err.contains("keeps its URL"), "{err}");
        assert!(s["due_reason"].as_str().unwrap().starts_with("backoff step"), "backs off: {s}");
    }
    assert_eq!(env.source(&feed)["entries"], 3, "stored entries stay");
    assert!(stderr(&out).contains("to an HTML page at"), "{}", stderr(&out));
    // The next poll asks the old URL again, not the page.
    let (before_feed, before_home) = (srv.requests("/feed.xml").len(), srv.requests("/home").len());
    env.run(&["poll", "--all"]);
    assert_eq!(srv.requests("/feed.xml").len(), before_feed + 1);
    assert_eq!(srv.requests("/home").len(), before_home + 2, "reached only through the redirects");
    assert_eq!(env.source(&feed)["error_count"], 2);

    // A 301 to a real feed moves the subscription, as before.
    let moved = rss("Moved", "m", 2);
    srv.route("/feed.xml", |_| Response::redirect(301, "/new/feed.xml"));
    srv.route("/new/feed.xml", move |_| feed_response(moved.clone()));
    assert_eq!(exit(&env.run(&["poll", "--all"])), 3, "/other.xml still fails");
    let s = env.source(&feed);
    assert_eq!(s["moved_to"].as_str(), Some(srv.url("/new/feed.xml").as_str()), "{s}");
    assert_eq!(s["error_count"], 0);
    assert_eq!(s["backoff_step"], 0);
    let before = srv.requests("/feed.xml").len();
    env.run(&["poll", "--all"]);
    assert_eq!(srv.requests("/feed.xml").len(), before, "polled at its new URL");
    env.integrity_ok();
}

#[test]
fn add_and_import_opml_never_take_a_web_page_for_a_moved_feed() {
    let srv = Server::start();
    srv.route("/old/rss", |_| Response::redirect(301, "/home"));
    srv.route("/home", |_| html());
    let new_feed = rss("New", "n", 2);
    srv.route("/new/feed.xml", move |_| feed_response(new_feed.clone()));
    srv.route("/bare/rss", |_| Response::redirect(301, "/plain"));
    srv.route("/plain", |_| Response::ok("<!DOCTYPE html><html><body>nothing</body></html>"));
    let env = Env::new("", &[]);

    let out = env.run(&["add", &srv.url("/old/rss"), "--dry-run"]);
    assert_eq!(exit(&out), 0, "{}", stderr(&out));
    let said = stdout(&out);
    let note = format!("redirects (301 Moved Permanently) to an HTML page at {}", srv.url("/home"));
    assert!(said.contains(&note), "{said}");
    assert!(said.contains(&format!("url = \"{}\"", srv.url("/new/feed.xml"))), "the page's own feed: {said}");
    assert!(!said.contains(&format!("url = \"{}\"", srv.url("/home"))), "{said}");

    let out = env.run(&["add", &srv.url("/bare/rss"), "--yes"]);
    assert_eq!(exit(&out), 1, "{}", stdout(&out));
    let err = stderr(&out);
    assert!(err.contains("redirects (301 Moved Permanently) to an HTML page at"), "{err}");
    assert!(!std::fs::read_to_string(env.config()).unwrap().contains("/plain"));

    // import-opml takes the URL as listed; polling it keeps it.
    let opml = env.dir.path().join("subs.opml");
    let list = format!(
        "<?xml version=\"1.0\"?><opml version=\"2.0\"><body><outline text=\"Old\" type=\"rss\" xmlUrl=\"{}\"/></body></opml>",
        srv.url("/old/rss")
    );
    std::fs::write(&opml, list).unwrap();
    let out = env.run(&["import-opml", opml.to_str().unwrap(), "--yes"]);
    assert_eq!(exit(&out), 0, "{}", stderr(&out));
    assert_eq!(exit(&env.run(&["poll"])), 3);
    let s = env.source(&srv.url("/old/rss"));
    assert!(s["moved_to"].is_null(), "{s}");
    assert!(s["last_error"].as_str().unwrap().contains("to an HTML page at"), "{s}");
    assert!(std::fs::read_to_string(env.config()).unwrap().contains(&srv.url("/old/rss")));
}

/// Two items with the same guid: `a` and `b` choose link and text.
fn item(guid: &str, link: &str, text: &str) -> String {
    format!(
        "<item><guid isPermaLink=\"false\">{guid}</guid><title>{text}</title><link>https://example.org/{link}</link>\
         <description>{text} in full.</description><pubDate>Mon, 02 Nov 2026 10:00:00 GMT</pubDate></item>"
    )
}

#[test]
fn an_item_repeated_verbatim_is_stored_once() {
    let srv = Server::start();
    let same = item("post-1", "a", "Council meets");
    let doc = format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Rep</title><link>https://example.org/</link>{same}{same}{}{}{same}</channel></rss>",
        item("post-2", "b", "Budget agreed"),
        item("post-2", "c", "Schools reopen"),
    );
    // No validators: every poll downloads and stores the whole document again.
    srv.route("/rep.xml", move |_| Response::ok(doc.clone()).header("Content-Type", "application/rss+xml"));
    let url = srv.url("/rep.xml");
    let env = Env::new("", &[(&url, "")]);
    let out = env.run(&["poll", "--json"]);
    assert_eq!(exit(&out), 0, "{}", stderr(&out));
    assert_eq!(env.count("SELECT COUNT(*) FROM entries"), 3, "post-1 once; post-2 twice (different link and text)");
    assert_eq!(env.count("SELECT COUNT(*) FROM entries WHERE guid = 'post-1'"), 1);
    assert_eq!(env.count("SELECT COUNT(DISTINCT url) FROM entries WHERE guid = 'post-2'"), 2);
    let warnings = env.source(&url)["warnings"].to_string();
    assert!(warnings.contains("\\\"post-1\\\" repeated verbatim; stored once"), "{warnings}");
    assert!(warnings.contains("duplicate id \\\"post-2\\\""), "{warnings}");
    for _ in 0..2 {
        let again = env.run(&["poll", "--all", "--json"]);
        let summary: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
        assert_eq!(summary["sources"][0]["stats"]["new"], 0, "{summary}");
        assert_eq!(summary["sources"][0]["stats"]["updated"], 0, "{summary}");
    }
    assert_eq!(srv.requests("/rep.xml").len(), 3);
    assert_eq!(env.count("SELECT COUNT(*) FROM entries"), 3, "a later poll of the same document adds no rows");
    assert_eq!(env.count("SELECT COUNT(*) FROM entry_revisions"), 0);
}

/// Seconds between consecutive requests to `path`.
fn gaps(srv: &Server, path: &str) -> Vec<f64> {
    let at: Vec<_> = srv.requests(path).iter().map(|r| r.at).collect();
    at.windows(2).map(|w| (w[1] - w[0]).as_secs_f64()).collect()
}

#[test]
fn backoff_grows_visibly_under_the_daemon() {
    let srv = Server::start();
    let good = rss("Fine", "f", 1);
    srv.route("/fine.xml", move |_| feed_response(good.clone()));
    // "/missing.xml" has no route: 404 on every request.
    let missing = srv.url("/missing.xml");
    let env = Env::new(
        "interval = \"1s\"\nmin_interval = \"1s\"",
        &[(&missing, "name = \"Missing\""), (&srv.url("/fine.xml"), "")],
    );
    let daemon = Daemon::start(&env.config(), &["run"], &[("POLYFEED_LEXICON", "")]);
    common::wait_for(40, "four requests to the failing source", || srv.requests("/missing.xml").len() >= 4);
    // Let the fourth fetch be stored (the next is 8 s away), then stop.
    std::thread::sleep(Duration::from_millis(1000));
    assert!(daemon.stop().success());
    let g = gaps(&srv, "/missing.xml");
    eprintln!("gaps between requests to a 404 (s): {g:.2?}");
    // Steps 1, 2, 3: the interval (1 s) doubled once, twice, three times.
    for (i, gap) in g.iter().take(3).enumerate() {
        let step = 2f64.powi(i as i32 + 1);
        assert!(*gap >= step - 0.05, "gap {i} is {gap:.2} s, step {} waits {step} s: {g:.2?}", i + 1);
        if i > 0 {
            assert!(*gap > g[i - 1] * 1.4, "no visible growth: {g:.2?}");
        }
    }
    let n = srv.requests("/missing.xml").len();
    let s = env.source(&missing);
    assert_eq!(s["error_count"], n as u64);
    assert_eq!(s["backoff_step"], n as u64, "{s}");
    let reason = s["due_reason"].as_str().unwrap();
    assert!(reason.starts_with(&format!("backoff step {n} after {n} errors in a row")), "{reason}");
    let table = stdout(&env.run(&["sources"]));
    assert!(table.contains(&format!("{n} (backoff step {n}): HTTP 404")), "{table}");
    let explained = stdout(&env.run(&["explain", "Missing"]));
    assert!(explained.contains(&format!("backoff step {n}: the wait it has without errors")), "{explained}");
    // The good source on the same host is polled on its own schedule.
    assert_eq!(env.source(&srv.url("/fine.xml"))["backoff_step"], 0);
}

#[test]
fn backoff_steps_over_hours_of_a_shifted_clock() {
    let srv = Server::start();
    let url = srv.url("/down");
    srv.route("/down", |_| Response::status(500));
    let env = Env::new("", &[(&url, "")]);
    let mut now = chrono::DateTime::parse_from_rfc3339("2026-11-02T12:00:00Z").unwrap();
    let mut waits = Vec::new();
    for step in 1..=6u64 {
        env.run_at(&now.to_rfc3339(), &["poll"]);
        assert_eq!(srv.requests("/down").len() as u64, step, "polled when due");
        let s = env.source(&url);
        assert_eq!(s["backoff_step"], step);
        let due = chrono::DateTime::parse_from_rfc3339(s["next_due_at"].as_str().unwrap()).unwrap();
        // A minute before it is due, nothing is requested.
        env.run_at(&(due - chrono::Duration::minutes(1)).to_rfc3339(), &["poll"]);
        assert_eq!(srv.requests("/down").len() as u64, step, "not before it is due");
        waits.push((due - now).num_minutes());
        now = due;
    }
    // 2h, 4h, 8h, 16h, then a day: each plus a jitter of at most 10 minutes
    // (at the cap only the jitter differs from one wait to the next).
    let hours: Vec<i64> = waits.iter().map(|m| m / 60).collect();
    assert_eq!(hours, [2, 4, 8, 16, 24, 24], "{waits:?}");
    assert!(waits.iter().all(|m| m % 60 <= 10), "{waits:?}");
}

#[test]
fn invalid_utf8_never_becomes_a_control_character() {
    let srv = Server::start();
    let mut doc = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>Caf\xe9 \x81news</title>\
<link>https://example.org/</link><language>en</language><item><guid>u-1</guid><title>Bad \x81bytes \x9d here \xe2\x80 and a \x96 dash</title>\
<link>https://example.org/u1</link><description>Caf\xe9 au lait \x8d and &amp;#x81; and &#x9D;.</description>\
<category>Caf\xe9 \x90</category><pubDate>Mon, 02 Nov 2026 10:00:00 GMT</pubDate></item>"
        .to_vec();
    doc.extend_from_slice(b"</channel></rss>");
    srv.route("/u.xml", move |_| {
        Response::ok(doc.clone()).header("Content-Type", "application/rss+xml; charset=utf-8")
    });
    let url = srv.url("/u.xml");
    let env = Env::new("", &[(&url, "tags = [\"news\"]")]);
    let out = env.run(&["poll"]);
    assert_eq!(exit(&out), 0, "{}", stderr(&out));
    let c1 = |s: &str| s.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c));
    let db = rusqlite::Connection::open(env.db()).unwrap();
    let (title, summary): (String, String) = db
        .query_row("SELECT title, COALESCE(summary_html, content_html, '') FROM entries", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    // \xe2\x80 (a truncated en dash) is read byte by byte: â€.
    assert_eq!(title, "Bad \u{FFFD}bytes \u{FFFD} here \u{e2}\u{20ac} and a \u{2013} dash");
    assert!(summary.contains("Café au lait \u{FFFD} and \u{FFFD} and \u{FFFD}."), "{summary:?}");
    let feed_title: String = db.query_row("SELECT feed_title FROM sources", [], |r| r.get(0)).unwrap();
    assert_eq!(feed_title, "Café \u{FFFD}news");
    let stored: Vec<String> = {
        let mut q = db
            .prepare(
                "SELECT title || COALESCE(summary_html, '') || COALESCE(content_html, '') FROM entries
                 UNION ALL SELECT term FROM entry_categories UNION ALL SELECT COALESCE(feed_title, '') FROM sources",
            )
            .unwrap();
        q.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    assert!(stored.iter().all(|s| !c1(s)), "{stored:?}");
    assert!(stored.contains(&"Café \u{FFFD}".to_string()), "the category: {stored:?}");
    let warnings = env.source(&url)["warnings"].to_string();
    assert!(warnings.contains("not UTF-8") && warnings.contains("U+FFFD"), "{warnings}");
    // Every published format, and the served pages for people.
    let public = env.dir.path().join("public");
    let files = published_files(&public);
    for path in ["all.atom", "all.rss", "all.json", "tags/news.atom", "index.html", "sources.html", "sources.opml"] {
        assert!(files.contains(&public.join(path)), "{path} is published: {files:?}");
    }
    for file in &files {
        let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let Ok(text) = String::from_utf8(bytes) else {
            // Compressed copies (.gz, .br) are the same text, checked as text.
            assert!(file.extension().is_some_and(|e| e == "gz" || e == "br"), "{} is not UTF-8", file.display());
            continue;
        };
        assert_eq!(c1_written(&text), None, "{} holds a C1 control character", file.display());
        if file.file_name().is_some_and(|n| n.to_string_lossy().starts_with("all.")) {
            assert!(text.contains("Bad \u{FFFD}bytes"), "{}", file.display());
        }
    }
}

/// Every file below `dir`, recursively.
fn published_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
        let path = entry.path();
        if path.is_dir() {
            out.extend(published_files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The first C1 control character (U+0080 to U+009F) `text` holds or
/// writes: raw, as an XML/HTML character reference (`&#x85;`, `&#0133;`),
/// or as a JSON escape (`\u0085`), any case and any leading zeros.
fn c1_written(text: &str) -> Option<String> {
    let c1 = |n: u32| (0x80..=0x9f).contains(&n);
    if let Some(c) = text.chars().find(|c| c1(*c as u32)) {
        return Some(format!("{c:?}"));
    }
    for (i, _) in text.match_indices("&#") {
        let rest = &text[i + 2..];
        let (digits, radix) = match rest.strip_prefix(['x', 'X']) {
            Some(hex) => (hex, 16),
            None => (rest, 10),
        };
        let end = digits.find(|c: char| !c.is_digit(radix)).unwrap_or(digits.len());
        if u32::from_str_radix(&digits[..end], radix).is_ok_and(c1) {
            return Some(text[i..(i + 3 + end).min(text.len())].to_string());
        }
    }
    for (i, _) in text.match_indices("\\u") {
        let hex = text.get(i + 2..i + 6).unwrap_or("");
        if u32::from_str_radix(hex, 16).is_ok_and(c1) {
            return Some(text[i..i + 6].to_string());
        }
    }
    None
}

#[test]
fn the_c1_check_sees_every_form() {
    for bad in ["a\u{85}b", "&#x85;", "&#X9f;", "&#x0080;", "&#133;", "&#0150;", "\\u0085", "\\u009F"] {
        assert!(c1_written(bad).is_some(), "{bad}");
    }
    for ok in ["&#x7f; &#160; &#xa0; \\u00a0 \\u007f &#x2013; &amp;#x85", "\u{a0}\u{7f}"] {
        assert_eq!(c1_written(ok), None, "{ok}");
    }
}

/// A document whose text the control-character repair changes: hash-keyed
/// items, a duplicate guid, an item repeated verbatim and then with another
/// date, a guid holding an undefined byte (shared with normalise's unit tests).
const LEGACY: &[u8] = include_bytes!("../fixtures/misbehaving/legacy-controls.rss");

fn poll_stats(env: &Env) -> serde_json::Value {
    let out = env.run(&["poll", "--all", "--json"]);
    assert_eq!(exit(&out), 0, "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    summary["sources"][0]["stats"].clone()
}

#[test]
fn rows_stored_before_the_upgrade_keep_their_keys_and_are_cleaned() {
    let srv = Server::start();
    srv.route("/legacy.xml", |_| Response::ok(LEGACY).header("Content-Type", "application/rss+xml; charset=utf-8"));
    let url = srv.url("/legacy.xml");
    let env = Env::new("", &[(&url, "")]);
    poll_stats(&env);
    let db = rusqlite::Connection::open(env.db()).unwrap();
    let keys = |db: &rusqlite::Connection| -> Vec<String> {
        let mut q = db.prepare("SELECT key FROM entries ORDER BY key").unwrap();
        q.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    // The keys polyfeed stored for this document before control characters
    // were repaired (86a6cd4), but for the verbatim repeat's
    // ("rep#c3bdcbce107a0da01019d678"), which is one entry now.
    let mut legacy = vec![
        "dup",
        "dup#9be31bfaf3feb28e399275a7",
        "id\u{81}z",
        "rep",
        "rep#afe4e55248f8424e2fd99d02",
        "sha256:0741e28d1cae632adf317d5f",
        "sha256:e0b2aefb6d37335e62f67b30",
    ];
    legacy.sort();
    assert_eq!(keys(&db), legacy);
    // An entry whose text needs no repair has the content hash it had.
    let hash: String = db
        .query_row("SELECT content_hash FROM entries WHERE key = 'dup#9be31bfaf3feb28e399275a7'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(hash, "483de05f2497a7795807d9c9a6474927");

    // Rows as the old version stored them: control characters in the text,
    // its content hash, and the verbatim repeat as a row of its own.
    let old = [
        ("sha256:0741e28d1cae632adf317d5f", "Café… \u{81} \u{81} x", "bc919abf47de716cf755cd3a3334f673"),
        ("dup", "One \u{81}", "51d37a56a7a46413949504087072adea"),
        ("rep", "Same \u{90}", "5d64c4a98d37181279982b652fd7dc9a"),
    ];
    for (key, title, hash) in old {
        let n =
            db.execute("UPDATE entries SET title = ?2, content_hash = ?3 WHERE key = ?1", [key, title, hash]).unwrap();
        assert_eq!(n, 1, "{key}");
    }
    db.execute(
        "UPDATE entries SET key = 'rep#c3bdcbce107a0da01019d678' WHERE key = 'rep#afe4e55248f8424e2fd99d02'",
        [],
    )
    .unwrap();
    let stats = poll_stats(&env);
    // The item after the repeat comes back under its own old key (a new
    // row here, since the test renamed it); the stored repeat is left alone.
    assert_eq!((stats["new"].as_u64(), stats["updated"].as_u64()), (Some(1), Some(3)), "{stats}");
    let mut with_repeat = legacy.clone();
    with_repeat.push("rep#c3bdcbce107a0da01019d678");
    with_repeat.sort();
    assert_eq!(keys(&db), with_repeat);
    // The rows with control characters were updated, and are clean now.
    let c1 = |s: &str| s.chars().any(|c| c.is_control());
    let titles: Vec<String> = {
        let mut q = db.prepare("SELECT title || COALESCE(summary_html, '') || COALESCE(guid, '') FROM entries WHERE key <> 'rep#c3bdcbce107a0da01019d678'").unwrap();
        q.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    assert!(titles.iter().all(|t| !c1(t)), "{titles:?}");
    assert_eq!(env.count("SELECT COUNT(*) FROM entry_revisions"), 3);
    // And once clean, a poll changes nothing.
    let stats = poll_stats(&env);
    assert_eq!((stats["new"].as_u64(), stats["updated"].as_u64()), (Some(0), Some(0)), "{stats}");
    assert_eq!(env.count("SELECT COUNT(*) FROM entries"), 8);
}

#[test]
fn a_redirect_to_a_410_is_not_the_end_of_the_feed() {
    let srv = Server::start();
    srv.route("/feed.xml", |_| Response::redirect(301, "/removed"));
    srv.route("/removed", |_| Response::status(410));
    srv.route("/dead.xml", |_| Response::status(410));
    let (feed, dead) = (srv.url("/feed.xml"), srv.url("/dead.xml"));
    let env = Env::new("", &[(&feed, ""), (&dead, "")]);
    assert_eq!(exit(&env.run(&["poll"])), 3);
    let s = env.source(&feed);
    assert_eq!(s["gone"], false, "a 410 reached through a redirect: {s}");
    assert!(s["moved_to"].is_null(), "{s}");
    assert!(s["last_error"].as_str().unwrap().contains("redirects (301 Moved Permanently) to"), "{s}");
    assert!(s["due_reason"].as_str().unwrap().starts_with("backoff step 1"), "{s}");
    let s = env.source(&dead);
    assert_eq!(s["gone"], true, "the source's own URL answered 410: {s}");
    // The redirected one is polled again; the gone one is not.
    env.run(&["poll", "--all"]);
    assert_eq!((srv.requests("/feed.xml").len(), srv.requests("/dead.xml").len()), (2, 1));
}

#[test]
fn a_source_moved_to_a_web_page_by_an_earlier_version_moves_back() {
    let srv = Server::start();
    srv.route("/feed.xml", |_| Response::redirect(301, "/home"));
    srv.route("/home", |_| html());
    let (feed, home) = (srv.url("/feed.xml"), srv.url("/home"));
    let env = Env::new("", &[(&feed, "")]);
    env.run(&["poll"]);
    // An earlier version took the 301 to the page for a move.
    let db = rusqlite::Connection::open(env.db()).unwrap();
    db.execute("UPDATE sources SET moved_to = ?1, url = ?1", [&home]).unwrap();
    assert_eq!(env.source(&feed)["moved_to"], home.as_str());
    let before = srv.requests("/feed.xml").len();
    assert_eq!(exit(&env.run(&["poll", "--all"])), 3);
    let s = env.source(&feed);
    assert!(s["moved_to"].is_null(), "back to the subscribed URL: {s}");
    assert!(s["last_error"].as_str().unwrap().contains(&format!("moved here from {feed}")), "{s}");
    assert_eq!(srv.requests("/feed.xml").len(), before, "this poll asked the page");
    // The next poll asks the subscribed URL again; a feed there is read.
    let body = rss("Back", "b", 2);
    srv.route("/feed.xml", move |_| feed_response(body.clone()));
    assert_eq!(exit(&env.run(&["poll", "--all"])), 0);
    assert_eq!(srv.requests("/feed.xml").len(), before + 1);
    assert_eq!(env.source(&feed)["entries"], 2);
}

/// One text value from the database.
fn text(env: &Env, sql: &str) -> Option<String> {
    let c = rusqlite::Connection::open(env.db()).unwrap();
    c.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn ill_formed_feeds_are_read_as_a_lenient_reader_reads_them() {
    let srv = Server::start();
    // Cut short inside its second item: the first is stored, the unfinished one is not.
    let cut = format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Cut</title>{}<item><guid isPermaLink=\"false\">post-2-cu",
        item("post-1", "a", "Council meets")
    );
    // A bare ampersand in a link, an upper-case hex reference, the root end tag cut short.
    let amp = "<rss version=\"2.0\"><channel><title>Amp</title><item><guid>amp-1</guid><title>&#X41; &amp; B</title>\
               <link>https://example.org/?a=1&b=2</link></item></channel></rss";
    srv.route("/cut.xml", move |_| Response::ok(cut.clone()).header("Content-Type", "application/rss+xml"));
    srv.route("/amp.xml", move |_| Response::ok(amp).header("Content-Type", "application/rss+xml"));
    let (cut_url, amp_url) = (srv.url("/cut.xml"), srv.url("/amp.xml"));
    let env = Env::new("", &[(&cut_url, ""), (&amp_url, "")]);
    let out = env.run(&["poll", "--json"]);
    assert_eq!(exit(&out), 0, "{}", stderr(&out));
    assert_eq!(env.count("SELECT COUNT(*) FROM entries WHERE guid LIKE 'post-%'"), 1);
    assert_eq!(text(&env, "SELECT guid FROM entries WHERE guid LIKE 'post-%'").as_deref(), Some("post-1"));
    let warnings = env.source(&cut_url)["warnings"].to_string();
    assert!(warnings.contains("not well-formed XML"), "{warnings}");
    assert_eq!(
        text(&env, "SELECT url FROM entries WHERE guid = 'amp-1'").as_deref(),
        Some("https://example.org/?a=1&b=2")
    );
    assert_eq!(text(&env, "SELECT title FROM entries WHERE guid = 'amp-1'").as_deref(), Some("A & B"));
    // The repaired documents give the same keys on every poll.
    let again = env.run(&["poll", "--all", "--json"]);
    let summary: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(summary["sources"][0]["stats"]["new"], 0, "{summary}");
}

#[test]
fn content_language_names_the_language_of_a_feed_that_names_none() {
    let srv = Server::start();
    let doc = |lang: &str| {
        format!(
            "<rss version=\"2.0\"><channel><title>L</title>{lang}<item><guid>l-1</guid><title>x</title></item></channel></rss>"
        )
    };
    let (none, own) = (doc(""), doc("<language>sv</language>"));
    srv.route("/none.xml", move |_| Response::ok(none.clone()).header("Content-Language", "fi"));
    srv.route("/own.xml", move |_| Response::ok(own.clone()).header("Content-Language", "fi"));
    let list = doc("");
    srv.route("/list.xml", move |_| Response::ok(list.clone()).header("Content-Language", "fi, sv"));
    let urls = [srv.url("/none.xml"), srv.url("/own.xml"), srv.url("/list.xml")];
    let env = Env::new("", &[(&urls[0], ""), (&urls[1], ""), (&urls[2], "")]);
    let out = env.run(&["poll", "--json"]);
    assert_eq!(exit(&out), 0, "{}", stderr(&out));
    let lang = |url: &str| text(&env, &format!("SELECT feed_lang FROM sources WHERE key = '{url}'"));
    assert_eq!(lang(&urls[0]).as_deref(), Some("fi"), "the header, when the feed names no language");
    assert_eq!(lang(&urls[1]).as_deref(), Some("sv"), "the feed's own language wins");
    assert_eq!(lang(&urls[2]), None, "a list of languages names no one language");
}
