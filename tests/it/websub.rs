//! WebSub, publisher side: with `hub` set, every published feed carries
//! `rel="hub"` and `rel="self"` links, and polyfeed pings the hub (a real
//! loopback server here) for exactly the feeds that changed.

use crate::common;

use common::{Env, Response, Server, rss, stderr, stdout};
use std::collections::BTreeSet;

const BASE: &str = "https://feeds.example.org/pf/";
const LM: &str = "Mon, 02 Nov 2026 10:00:00 GMT";

/// The `hub.url` values of the publish pings the hub received, and checks
/// every ping is a well-formed form POST.
fn pinged(server: &Server) -> Vec<String> {
    let mut urls = Vec::new();
    for r in server.requests("/hub") {
        assert_eq!(r.method, "POST");
        assert_eq!(r.header("content-type"), Some("application/x-www-form-urlencoded"));
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&r.body).into_owned().collect();
        assert!(pairs.contains(&("hub.mode".into(), "publish".into())), "not a publish ping: {pairs:?}");
        let topics: Vec<&String> = pairs.iter().filter(|(k, _)| k == "hub.url").map(|(_, v)| v).collect();
        assert_eq!(topics.len(), 1, "{pairs:?}");
        urls.push(topics[0].clone());
    }
    urls
}

fn setup(hub_status: u16) -> (Server, Env) {
    let server = Server::start();
    server.feed("/a.xml", rss("Alpha", "a", 3), "\"a1\"", LM);
    server.route("/hub", move |_| Response::status(hub_status));
    let hub = server.url("/hub");
    let feed = server.url("/a.xml");
    let env = Env::new(&format!("base_url = \"{BASE}\"\nhub = \"{hub}\""), &[(feed.as_str(), "")]);
    (server, env)
}

#[test]
fn feeds_link_the_hub_and_changed_feeds_are_pinged_once() {
    let (server, env) = setup(204);
    let hub = server.url("/hub");
    let out = env.run(&["poll"]);
    assert!(out.status.success(), "{}", stderr(&out));

    let public = env.dir.path().join("public");
    let atom = std::fs::read_to_string(public.join("all.atom")).unwrap();
    assert!(atom.contains(&format!("<link rel=\"hub\" href=\"{hub}\"/>")), "{atom}");
    assert!(atom.contains(&format!("<link rel=\"self\" type=\"application/atom+xml\" href=\"{BASE}all.atom\"/>")));
    let rss_out = std::fs::read_to_string(public.join("all.rss")).unwrap();
    assert!(rss_out.contains(&format!("<atom:link rel=\"hub\" href=\"{hub}\"/>")), "{rss_out}");
    assert!(rss_out.contains(&format!("href=\"{BASE}all.rss\"")));
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(public.join("all.json")).unwrap()).unwrap();
    assert_eq!(json["hubs"], serde_json::json!([{ "type": "WebSub", "url": hub }]));
    assert_eq!(json["feed_url"], format!("{BASE}all.json"));

    // Every feed written was announced, by its public URL; nothing else was.
    let first: BTreeSet<String> = pinged(&server).into_iter().collect();
    assert!(first.contains(&format!("{BASE}all.atom")), "{first:?}");
    assert!(first.contains(&format!("{BASE}all.rss")) && first.contains(&format!("{BASE}all.json")));
    assert!(first.iter().all(|u| u.starts_with(BASE)), "{first:?}");
    assert!(!first.iter().any(|u| u.ends_with(".html") || u.ends_with(".opml")), "{first:?}");
    let feeds_on_disk = walk(&public).into_iter().filter(|p| !p.ends_with(".html") && !p.ends_with(".opml")).count();
    assert_eq!(first.len(), feeds_on_disk, "one ping per published feed");
    assert!(stdout(&out).contains("pinged WebSub hub"), "{}", stdout(&out));

    // Nothing changed: `publish` rewrites nothing and pings nothing.
    let n = server.requests("/hub").len();
    let out = env.run(&["publish"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("(0 written"), "{}", stdout(&out));
    assert_eq!(server.requests("/hub").len(), n, "an unchanged feed was pinged");
    let out = env.run(&["poll", "--all"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(server.requests("/hub").len(), n, "an unchanged feed was pinged");

    // The feed gains an entry: the changed feeds are pinged again.
    server.feed("/a.xml", rss("Alpha", "a", 4), "\"a2\"", "Tue, 03 Nov 2026 10:00:00 GMT");
    let out = env.run(&["poll", "--all"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let again: Vec<String> = pinged(&server)[n..].to_vec();
    assert!(!again.is_empty(), "no pings after a change: {}", stdout(&out));
    assert!(again.contains(&format!("{BASE}all.atom")), "{again:?}");
    assert_eq!(again.len(), again.iter().collect::<BTreeSet<_>>().len(), "a feed pinged twice: {again:?}");
}

#[test]
fn a_failing_hub_is_a_warning_not_a_failed_poll() {
    let (server, env) = setup(503);
    let out = env.run(&["poll"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("WebSub hub ping failed"), "{}", stderr(&out));
    assert!(!server.requests("/hub").is_empty());
    assert!(env.dir.path().join("public/all.atom").exists(), "feeds are published regardless");
}

#[test]
fn hub_without_base_url_is_a_config_error() {
    let env = Env::new("hub = \"https://hub.example.org/\"", &[]);
    let out = env.run(&["check"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("hub needs base_url"), "{err}");
    assert!(err.contains("feeds.toml:"), "no file:line:col in {err}");
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p.to_string_lossy().into_owned());
        }
    }
    out
}
