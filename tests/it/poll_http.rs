//! End-to-end ingest over loopback: the real binary polls a real HTTP server
//! on 127.0.0.1 and writes a real SQLite file, which each test then checks.

use crate::common;

use std::time::Duration;

use common::{Env, Response, Server, gzip, rss, stderr, stdout};

const ETAG: &str = "W/\"abc-123\"";
const LM: &str = "Mon, 02 Nov 2026 10:00:00 GMT";

fn exit(o: &std::process::Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

#[test]
fn second_poll_is_conditional_and_stores_nothing_twice() {
    let srv = Server::start();
    srv.feed("/a.xml", rss("Alpha", "a", 3), ETAG, LM);
    let env = Env::new("", &[(&srv.url("/a.xml"), "name = \"Alpha\"")]);

    let first = env.run(&["poll"]);
    assert_eq!(exit(&first), 0, "{}", stderr(&first));
    assert!(stdout(&first).contains("1 ok, 0 not modified, 0 failed; 3 new entries, 0 updated"), "{}", stdout(&first));
    assert_eq!(env.count("SELECT COUNT(*) FROM entries"), 3);
    let reqs = srv.requests("/a.xml");
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].header("if-none-match"), None, "the first request is unconditional");

    // Nothing is due right after a poll.
    let again = env.run(&["poll"]);
    assert_eq!(exit(&again), 0);
    assert!(stdout(&again).contains("polled 0 sources"), "{}", stdout(&again));
    assert_eq!(srv.requests("/a.xml").len(), 1);

    // --all still sends the stored validators, exactly as received.
    let all = env.run(&["poll", "--all"]);
    assert_eq!(exit(&all), 0, "{}", stderr(&all));
    assert!(stdout(&all).contains("0 ok, 1 not modified, 0 failed; 0 new entries"), "{}", stdout(&all));
    let reqs = srv.requests("/a.xml");
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[1].header("if-none-match"), Some(ETAG));
    assert_eq!(reqs[1].header("if-modified-since"), Some(LM));
    assert_eq!(env.count("SELECT COUNT(*) FROM entries"), 3);
    assert_eq!(env.count("SELECT COUNT(*) FROM fetches"), 2);
    let s = env.source(&srv.url("/a.xml"));
    assert_eq!(s["last_outcome"], "not_modified");
    assert_eq!(s["entries"], 3);
    env.integrity_ok();
}

/// Fetches with nothing to parse (304s, failures) are recorded in groups,
/// one transaction for all that finish together: each still gets its own
/// fetch record, outcome, validators, error count and next due time, and a
/// feed that changed in the same poll is stored beside them.
#[test]
fn many_unchanged_and_failing_feeds_are_each_recorded() {
    let srv = Server::start();
    let mut sources = Vec::new();
    for i in 0..40 {
        let path = format!("/u{i}.xml");
        srv.feed(&path, rss("U", &format!("u{i}-"), 1), &format!("\"u{i}\""), LM);
        sources.push(srv.url(&path));
    }
    for i in 0..10 {
        let path = format!("/bad{i}.xml");
        srv.route(&path, |_| Response::status(500));
        sources.push(srv.url(&path));
    }
    srv.feed("/c.xml", rss("C", "c-", 1), "\"c1\"", LM);
    sources.push(srv.url("/c.xml"));
    let list: Vec<(&str, &str)> = sources.iter().map(|u| (u.as_str(), "")).collect();
    let env = Env::new("per_host_delay = \"0s\"\nper_host_concurrency = 16\nconcurrency = 16", &list);
    let first = env.run(&["poll"]);
    assert!(stdout(&first).contains("41 ok, 0 not modified, 10 failed; 41 new entries"), "{}", stdout(&first));

    srv.feed("/c.xml", rss("C", "c-", 2), "\"c2\"", "Tue, 03 Nov 2026 10:00:00 GMT");
    let second = env.run(&["poll", "--all"]);
    assert!(stdout(&second).contains("1 ok, 40 not modified, 10 failed; 1 new entries"), "{}", stdout(&second));
    assert_eq!(env.count("SELECT COUNT(*) FROM fetches"), 102);
    assert_eq!(env.count("SELECT COUNT(*) FROM entries"), 42);
    assert_eq!(env.count("SELECT COUNT(*) FROM sources WHERE last_outcome = 'not_modified' AND error_count = 0"), 40);
    assert_eq!(env.count("SELECT COUNT(*) FROM sources WHERE last_outcome = 'failed' AND error_count = 2"), 10);
    assert_eq!(
        env.count("SELECT COUNT(*) FROM sources WHERE key LIKE '%/u%' AND etag = '\"' || substr(key, instr(key, '/u') + 1, instr(key, '.xml') - instr(key, '/u') - 1) || '\"'"),
        40,
        "each source keeps its own validators"
    );
    assert_eq!(env.count("SELECT COUNT(*) FROM sources WHERE next_due_at > last_fetch_at"), 51);
    assert_eq!(env.count("SELECT COUNT(*) FROM sources WHERE claim_token IS NOT NULL"), 0, "every claim is released");
    env.integrity_ok();
}

#[test]
fn validators_are_replaced_even_when_the_body_is_unchanged() {
    let srv = Server::start();
    srv.feed("/f.xml", rss("F", "f", 2), "\"v1\"", LM);
    let env = Env::new("", &[(&srv.url("/f.xml"), "")]);
    assert_eq!(exit(&env.run(&["poll"])), 0);
    // Same body, new validators: the next request must echo the new ones.
    srv.feed("/f.xml", rss("F", "f", 2), "\"v2\"", "Tue, 03 Nov 2026 10:00:00 GMT");
    let second = env.run(&["poll", "--all"]);
    assert!(stdout(&second).contains("1 ok"), "{}", stdout(&second));
    assert!(stdout(&second).contains("0 new entries, 0 updated"), "{}", stdout(&second));
    assert_eq!(exit(&env.run(&["poll", "--all"])), 0);
    let reqs = srv.requests("/f.xml");
    assert_eq!(reqs[1].header("if-none-match"), Some("\"v1\""));
    assert_eq!(reqs[2].header("if-none-match"), Some("\"v2\""));
    assert_eq!(reqs[2].header("if-modified-since"), Some("Tue, 03 Nov 2026 10:00:00 GMT"));
}

#[test]
fn changed_entries_are_updated_and_vanished_ones_kept() {
    let srv = Server::start();
    srv.feed("/c.xml", rss("Old", "c", 3), "\"1\"", LM);
    let env = Env::new("", &[(&srv.url("/c.xml"), "")]);
    assert_eq!(exit(&env.run(&["poll"])), 0);
    let first_seen = env.count("SELECT CAST(strftime('%s', first_seen_at) AS INTEGER) FROM entries WHERE key = 'c-0'");
    std::thread::sleep(Duration::from_millis(1100));
    // Item 2 disappears, items 0 and 1 get new titles.
    srv.feed("/c.xml", rss("New", "c", 2), "\"2\"", "Tue, 03 Nov 2026 10:00:00 GMT");
    let out = env.run(&["poll", "--all"]);
    assert!(stdout(&out).contains("0 new entries, 2 updated"), "{}", stdout(&out));
    assert_eq!(env.count("SELECT COUNT(*) FROM entries"), 3, "a vanished entry stays stored");
    assert_eq!(env.count("SELECT COUNT(*) FROM entries WHERE title LIKE 'New %'"), 2);
    assert_eq!(
        env.count("SELECT CAST(strftime('%s', first_seen_at) AS INTEGER) FROM entries WHERE key = 'c-0'"),
        first_seen
    );
    assert_eq!(env.count("SELECT COUNT(*) FROM entry_revisions"), 2, "the replaced versions are kept");
}

#[test]
fn gzip_and_brotli_bodies_are_decoded() {
    let srv = Server::start();
    let (g, b) = (gzip(rss("G", "g", 2).as_bytes()), common::brotli(rss("B", "b", 4).as_bytes()));
    srv.route("/g.xml", move |req| {
        assert!(req.header("accept-encoding").unwrap_or("").contains("gzip"));
        Response::ok(g.clone()).header("Content-Encoding", "gzip")
    });
    srv.route("/b.xml", move |_| Response::ok(b.clone()).header("Content-Encoding", "br"));
    let env = Env::new("", &[(&srv.url("/g.xml"), ""), (&srv.url("/b.xml"), "")]);
    let out = env.run(&["poll"]);
    assert_eq!(exit(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert_eq!(env.count("SELECT COUNT(*) FROM entries"), 6);
}

#[test]
fn identifies_itself_and_sends_no_cookies_or_referer() {
    let srv = Server::start();
    srv.route("/r", |_| Response::redirect(302, "/feed.xml").header("Set-Cookie", "session=abc; Path=/"));
    srv.route("/feed.xml", |_| Response::ok(rss("R", "r", 1)).header("Set-Cookie", "tracker=1"));
    let env = Env::new("", &[(&srv.url("/r"), "")]);
    assert_eq!(exit(&env.run(&["poll"])), 0);
    assert_eq!(exit(&env.run(&["poll", "--all"])), 0);
    for req in srv.all_requests() {
        let ua = req.header("user-agent").unwrap();
        assert!(ua.starts_with(&format!("polyfeed/{} ", env!("CARGO_PKG_VERSION"))), "{ua}");
        assert!(ua.contains("https://example.org/ops"), "{ua}");
        assert_eq!(req.header("cookie"), None);
        assert_eq!(req.header("referer"), None);
    }
    // A 302 is followed but not remembered.
    assert_eq!(srv.requests("/r").len(), 2);
    assert!(env.source(&srv.url("/r"))["moved_to"].is_null());
}

#[test]
fn permanent_redirect_moves_the_source() {
    let srv = Server::start();
    srv.route("/old.xml", |_| Response::redirect(301, "/mid.xml"));
    srv.route("/mid.xml", |_| Response::redirect(308, "/new.xml"));
    srv.feed("/new.xml", rss("N", "n", 2), "\"n\"", LM);
    let env = Env::new("", &[(&srv.url("/old.xml"), "")]);
    assert_eq!(exit(&env.run(&["poll"])), 0);
    let s = env.source(&srv.url("/old.xml"));
    assert_eq!(s["moved_to"], srv.url("/new.xml"));
    assert_eq!(exit(&env.run(&["poll", "--all"])), 0);
    assert_eq!(srv.requests("/old.xml").len(), 1, "the moved source is fetched at its new URL");
    assert_eq!(srv.requests("/new.xml").len(), 2);
    assert_eq!(srv.requests("/new.xml")[1].header("if-none-match"), Some("\"n\""));
    assert!(stdout(&env.run(&["sources"])).contains(&format!("-> {}", srv.url("/new.xml"))));
}

#[test]
fn redirect_loops_and_long_chains_fail() {
    let srv = Server::start();
    srv.route("/loop1", |_| Response::redirect(302, "/loop2"));
    srv.route("/loop2", |_| Response::redirect(302, "/loop1"));
    for i in 0..8 {
        srv.route(&format!("/hop{i}"), move |_| Response::redirect(307, &format!("/hop{}", i + 1)));
    }
    srv.route("/hop8", |_| Response::ok(rss("H", "h", 1)));
    let env = Env::new("", &[(&srv.url("/loop1"), ""), (&srv.url("/hop0"), "")]);
    let out = env.run(&["poll"]);
    assert_eq!(exit(&out), 3);
    assert!(env.source(&srv.url("/loop1"))["last_error"].as_str().unwrap().contains("redirect loop"));
    assert!(env.source(&srv.url("/hop0"))["last_error"].as_str().unwrap().contains("more than 5 redirects"));
    assert!(srv.requests("/hop6").is_empty(), "no hop past the cap");
}

#[test]
fn one_bad_source_never_stops_the_others() {
    let srv = Server::start();
    srv.feed("/good.xml", rss("Good", "good", 4), "\"g\"", LM);
    srv.route("/malformed.xml", |_| Response::ok(common::fixture("malformed.xml")));
    srv.route("/500", |_| Response::status(500));
    srv.route("/page", |_| Response::ok(common::fixture("not-a-feed.html")).header("Content-Type", "text/html"));
    let sources = [
        (srv.url("/good.xml"), ""),
        (srv.url("/malformed.xml"), ""),
        (srv.url("/missing.xml"), ""),
        (srv.url("/500"), ""),
        (srv.url("/page"), ""),
    ];
    let list: Vec<(&str, &str)> = sources.iter().map(|(u, e)| (u.as_str(), *e)).collect();
    let env = Env::new("", &list);
    let out = env.run(&["poll"]);
    assert_eq!(exit(&out), 3, "some failed: distinct exit code");
    assert!(stdout(&out).contains("1 ok, 0 not modified, 4 failed; 4 new entries"), "{}", stdout(&out));
    assert!(stderr(&out).contains("malformed.xml"), "{}", stderr(&out));
    assert_eq!(env.count("SELECT COUNT(*) FROM entries"), 4);
    let err = |p: &str| env.source(&srv.url(p))["last_error"].as_str().unwrap_or("").to_string();
    assert!(err("/malformed.xml").contains("cannot parse feed"), "{}", err("/malformed.xml"));
    assert!(err("/missing.xml").contains("HTTP 404"));
    assert!(err("/500").contains("HTTP 500"));
    assert!(err("/page").contains("not a feed") && err("/page").contains("/feed.xml"), "{}", err("/page"));
    let s = env.source(&srv.url("/500"));
    assert_eq!(s["error_count"], 1);
    assert_eq!(s["last_status"], 500);
    assert!(s["due_reason"].as_str().unwrap().starts_with("backoff step 1 after 1 error: 2h"));
    // The failing sources back off; the good one keeps its entries.
    let again = env.run(&["poll", "--all"]);
    assert_eq!(exit(&again), 3);
    assert_eq!(env.source(&srv.url("/500"))["error_count"], 2);
    assert_eq!(env.source(&srv.url("/good.xml"))["entries"], 4);
    env.integrity_ok();
}

#[test]
fn gone_and_retry_after_are_honoured() {
    let srv = Server::start();
    srv.route("/gone", |_| Response::status(410));
    srv.route("/busy", |_| Response::status(429).header("Retry-After", "7200"));
    let env = Env::new("", &[(&srv.url("/gone"), ""), (&srv.url("/busy"), "")]);
    assert_eq!(exit(&env.run(&["poll"])), 3);
    let gone = env.source(&srv.url("/gone"));
    assert_eq!(gone["gone"], true);
    assert!(gone["due_reason"].as_str().unwrap().contains("410"));
    let busy = env.source(&srv.url("/busy"));
    assert!(busy["due_reason"].as_str().unwrap().contains("Retry-After 2h"), "{busy}");
    // --all still never polls a gone source.
    env.run(&["poll", "--all"]);
    assert_eq!(srv.requests("/gone").len(), 1);
}

#[test]
fn slow_oversize_and_bomb_bodies_are_cut_off() {
    let srv = Server::start();
    let slow = rss("S", "s", 20).into_bytes();
    srv.route("/slow", move |_| Response {
        drip: Some((64, Duration::from_millis(200))),
        ..Response::ok(slow.clone())
    });
    srv.route("/huge", |_| Response::ok(vec![b' '; 200 * 1024]));
    srv.route("/bomb", |_| Response::ok(common::fixture("gzip-bomb.gz")).header("Content-Encoding", "gzip"));
    srv.feed("/ok.xml", rss("OK", "ok", 1), "\"o\"", LM);
    let settings = "timeout = \"2s\"\nmax_body_size = \"100 KiB\"\nmax_decompressed_size = \"1 MiB\"";
    let env = Env::new(
        settings,
        &[(&srv.url("/slow"), ""), (&srv.url("/huge"), ""), (&srv.url("/bomb"), ""), (&srv.url("/ok.xml"), "")],
    );
    let started = std::time::Instant::now();
    let out = env.run(&["poll"]);
    assert_eq!(exit(&out), 3, "{}{}", stdout(&out), stderr(&out));
    assert!(started.elapsed() < Duration::from_secs(30), "the slow body was cut off by the timeout");
    let err = |p: &str| env.source(&srv.url(p))["last_error"].as_str().unwrap_or("").to_string();
    assert!(err("/slow").contains("timed out"), "{}", err("/slow"));
    assert!(err("/huge").contains("larger than 102400 bytes (body)"), "{}", err("/huge"));
    assert!(err("/bomb").contains("larger than 1048576 bytes (decompressed)"), "{}", err("/bomb"));
    assert_eq!(env.source(&srv.url("/ok.xml"))["entries"], 1);
}

/// `polyfeed poll` of `env`'s config, started and left running, its
/// output piped.
fn spawn_poll(env: &Env) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_polyfeed"))
        .env(common::NO_LEXICON.0, common::NO_LEXICON.1)
        .arg("--config")
        .arg(env.config())
        .arg("poll")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn concurrent_polls_never_fetch_a_source_twice() {
    let srv = Server::start();
    let mut sources = Vec::new();
    for i in 0..12 {
        let path = format!("/c{i}.xml");
        let body = rss(&format!("C{i}"), &format!("c{i}"), 5).into_bytes();
        srv.route(&path, move |_| Response {
            drip: Some((body.len() / 2 + 1, Duration::from_millis(50))),
            ..Response::ok(body.clone())
        });
        sources.push(srv.url(&path));
    }
    let list: Vec<(&str, &str)> = sources.iter().map(|u| (u.as_str(), "")).collect();
    let env = Env::new("", &list);
    assert_eq!(exit(&env.run(&["check"])), 0);
    let (a, b) = (spawn_poll(&env), spawn_poll(&env));
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert_eq!(exit(&a), 0, "{}", stderr(&a));
    assert_eq!(exit(&b), 0, "{}", stderr(&b));
    for u in &sources {
        let path = u.rsplit_once('/').map(|(_, p)| format!("/{p}")).unwrap();
        assert_eq!(srv.requests(&path).len(), 1, "{path} fetched once");
    }
    assert_eq!(env.count("SELECT COUNT(*) FROM entries"), 60);
    assert_eq!(env.count("SELECT COUNT(*) FROM fetches"), 12);
    env.integrity_ok();
}

/// SQLite answers one of two connections that turn a new database to WAL
/// at the same moment "locked" at once, without waiting (before the fix,
/// one round in five failed so): a first run started twice, by cron and by
/// hand, must not fail.
#[test]
fn two_polls_started_together_on_a_new_database_both_succeed() {
    for round in 0..10 {
        let env = Env::new("", &[("feed.xml", "lang = \"en\"")]);
        std::fs::write(env.dir.path().join("feed.xml"), rss("Local", "l", 2)).unwrap();
        let (a, b) = (spawn_poll(&env), spawn_poll(&env));
        for out in [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()] {
            assert_eq!(exit(&out), 0, "round {round}: {}", stderr(&out));
        }
        assert_eq!(env.count("SELECT COUNT(*) FROM entries"), 2, "round {round}");
    }
}

#[test]
fn local_files_work_offline_and_are_not_modified_when_unchanged() {
    let env = Env::new("", &[("feed.xml", "lang = \"en\"")]);
    std::fs::write(env.dir.path().join("feed.xml"), rss("Local", "l", 2)).unwrap();
    assert_eq!(exit(&env.run(&["poll"])), 0);
    assert_eq!(env.count("SELECT COUNT(*) FROM entries"), 2);
    let out = env.run(&["poll", "--all"]);
    assert!(stdout(&out).contains("1 not modified"), "{}", stdout(&out));
}

#[test]
fn requests_to_one_host_are_spaced_out() {
    let srv = Server::start();
    let mut list = Vec::new();
    for i in 0..5 {
        let path = format!("/s{i}.xml");
        srv.feed(&path, rss("S", &format!("s{i}"), 1), "\"s\"", LM);
        list.push(srv.url(&path));
    }
    let sources: Vec<(&str, &str)> = list.iter().map(|u| (u.as_str(), "")).collect();
    let env = Env::new("per_host_delay = \"300ms\"\nper_host_concurrency = 4", &sources);
    assert_eq!(exit(&env.run(&["poll"])), 0);
    let mut starts: Vec<_> = srv.all_requests().iter().map(|r| r.at).collect();
    starts.sort();
    assert_eq!(starts.len(), 5);
    for pair in starts.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(gap >= Duration::from_millis(250), "requests to one host {gap:?} apart");
    }
}
