//! The scheduler against a real server, with the binary's clock shifted
//! (`POLYFEED_NOW`) so hours pass in seconds: no poll before the server's
//! "not yet", back-off after errors, and bounded memory on hostile bodies.

use crate::common;

use std::time::Duration;

use common::{Env, Response, Server, rss, stdout};

const T0: &str = "2026-11-02T12:00:00Z";

fn polled(srv: &Server, path: &str) -> usize {
    srv.requests(path).len()
}

#[test]
fn max_age_defers_the_next_poll() {
    let srv = Server::start();
    let body = rss("M", "m", 2);
    srv.route("/m.xml", move |_| {
        Response::ok(body.clone()).header("Cache-Control", "public, max-age=10800").header("ETag", "\"m\"")
    });
    let env = Env::new("", &[(&srv.url("/m.xml"), "")]);
    env.run_at(T0, &["poll"]);
    assert!(env.source(&srv.url("/m.xml"))["due_reason"].as_str().unwrap().contains("max-age 3h"));
    env.run_at("2026-11-02T14:00:00Z", &["poll"]);
    assert_eq!(polled(&srv, "/m.xml"), 1, "not polled before max-age");
    env.run_at("2026-11-02T15:11:00Z", &["poll"]);
    assert_eq!(polled(&srv, "/m.xml"), 2, "polled once max-age (plus jitter) passed");
}

#[test]
fn retry_after_and_backoff_defer_the_next_poll() {
    let srv = Server::start();
    srv.route("/busy", |_| {
        Response::status(503)
            .header("Retry-After", "Mon, 02 Nov 2026 18:00:00 GMT")
            .header("Date", "Mon, 02 Nov 2026 12:00:00 GMT")
    });
    srv.route("/down", |_| Response::status(500));
    let env = Env::new("", &[(&srv.url("/busy"), ""), (&srv.url("/down"), "")]);
    env.run_at(T0, &["poll"]);
    let busy = env.source(&srv.url("/busy"));
    assert!(busy["due_reason"].as_str().unwrap().contains("Retry-After 6h"), "{busy}");
    env.run_at("2026-11-02T17:00:00Z", &["poll"]);
    assert_eq!(polled(&srv, "/busy"), 1, "Retry-After honoured");
    assert_eq!(polled(&srv, "/down"), 2, "the 2h of back-off step 1 have passed");
    let down = env.source(&srv.url("/down"));
    let why = down["due_reason"].as_str().unwrap();
    assert!(why.starts_with("backoff step 2 after 2 errors in a row: 10h (twice the 5h since the last try)"), "{why}");
    env.run_at("2026-11-02T18:30:00Z", &["poll"]);
    assert_eq!(polled(&srv, "/busy"), 2);
    assert_eq!(polled(&srv, "/down"), 2, "back-off step 2");
}

#[test]
fn hostile_bodies_cost_bounded_memory() {
    let srv = Server::start();
    srv.route("/huge", |_| Response::ok(vec![b'x'; 64 * 1024 * 1024]));
    srv.route("/bomb", |_| Response::ok(common::fixture("gzip-bomb.gz")).header("Content-Encoding", "gzip"));
    srv.route("/laughs", |_| Response::ok(common::fixture("billion-laughs.xml")));
    let deep = format!(
        "<rss version=\"2.0\"><channel><title>x</title><item><title>t</title><description>{}{}</description></item></channel></rss>",
        "<a>".repeat(200_000),
        "</a>".repeat(200_000)
    );
    srv.route("/deep", move |_| Response::ok(deep.clone()));
    srv.route("/endless-headers", |_| Response { endless_headers: true, ..Response::default() });
    let paths = ["/huge", "/bomb", "/laughs", "/deep", "/endless-headers"];
    let urls: Vec<String> = paths.iter().map(|p| srv.url(p)).collect();
    let list: Vec<(&str, &str)> = urls.iter().map(|u| (u.as_str(), "")).collect();
    let env = Env::new("timeout = \"4s\"", &list);
    let out = env.run(&["poll", "--json"]);
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json summary");
    let rss_mib = summary["peak_rss_kib"].as_u64().unwrap() / 1024;
    eprintln!("peak RSS {rss_mib} MiB");
    assert!(rss_mib < 200, "peak RSS {rss_mib} MiB");
    let err = |p: &str| env.source(&srv.url(p))["last_error"].as_str().unwrap_or("").to_string();
    assert!(err("/huge").contains("larger than"), "{}", err("/huge"));
    assert!(err("/bomb").contains("decompressed"), "{}", err("/bomb"));
    assert!(err("/deep").contains("deeper"), "{}", err("/deep"));
    assert!(!err("/endless-headers").is_empty());
    // The entity bomb is refused or left unexpanded: never a title of laughs.
    let db = rusqlite::Connection::open(env.db()).unwrap();
    let longest: i64 = db.query_row("SELECT COALESCE(MAX(LENGTH(title)), 0) FROM entries", [], |r| r.get(0)).unwrap();
    assert!(longest < 1000, "entity expansion bounded: {longest}");
    assert!(stdout(&out).contains("\"outcome\""));
    let _ = Duration::ZERO;
}
