//! `/healthz` and `/metrics` of the real daemon over loopback: the metrics
//! page parsed strictly as Prometheus text and checked against what
//! `sources --json` and `stories --json` report; health 200 after a cycle and
//! 503 before the first or when the last is too old; the admin listener;
//! JSON logs.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};

use common::{Daemon, Env, NO_LEXICON, Response, Server, http_get, rss};
use serde_json::Value;

/// The daemons here name themselves.
const NODE: (&str, &str) = ("POLYFEED_NODE", "edge-1");

/// Samples by metric name and sorted labels.
type Samples = BTreeMap<(String, Vec<(String, String)>), f64>;

/// A strict reader of the text exposition format: every sample belongs to a
/// family declared by `# TYPE` (histograms through `_bucket`, `_sum`,
/// `_count`), names and labels are well-formed, escapes are valid, values
/// are floats, no sample repeats, histogram buckets are cumulative and end
/// with `+Inf` equal to `_count`.
fn parse(text: &str) -> Samples {
    assert!(text.ends_with('\n'), "the page ends with a line feed");
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut helped = BTreeSet::new();
    let mut samples = Samples::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (kw, name, tail) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap_or(""));
            assert!(valid_name(name), "bad name in {line:?}");
            match kw {
                "HELP" => assert!(helped.insert(name.to_string()), "second HELP for {name}"),
                "TYPE" => {
                    assert!(["counter", "gauge", "histogram", "summary", "untyped"].contains(&tail), "{line:?}");
                    assert!(types.insert(name.to_string(), tail.to_string()).is_none(), "second TYPE for {name}");
                }
                _ => panic!("unknown comment {line:?}"),
            }
            continue;
        }
        assert!(!line.trim().is_empty(), "empty line");
        let (name, labels, value) = sample(line);
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .filter_map(|s| name.strip_suffix(s))
            .find(|f| types.get(*f).map(String::as_str) == Some("histogram"))
            .unwrap_or(&name);
        assert!(types.contains_key(family), "sample {name} before its # TYPE");
        if types[family] == "counter" {
            assert!(name.ends_with("_total") && value >= 0.0, "{line:?}");
        }
        assert!(samples.insert((name.clone(), labels), value).is_none(), "repeated sample {line:?}");
    }
    for (family, kind) in &types {
        if kind == "histogram" {
            let mut buckets: Vec<(f64, f64)> = samples
                .iter()
                .filter(|((n, _), _)| *n == format!("{family}_bucket"))
                .map(|((_, l), v)| (l.iter().find(|(k, _)| k == "le").unwrap().1.parse::<f64>().unwrap(), *v))
                .collect();
            buckets.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
            assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1), "{family}: buckets not cumulative");
            assert_eq!(buckets.last().unwrap().0, f64::INFINITY, "{family}: no +Inf bucket");
            let count: Vec<f64> =
                samples.iter().filter(|((n, _), _)| *n == format!("{family}_count")).map(|(_, v)| *v).collect();
            assert_eq!(count.len(), 1, "{family}: one _count");
            assert_eq!(buckets.last().unwrap().1, count[0]);
        }
    }
    samples
}

fn valid_name(n: &str) -> bool {
    let mut chars = n.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `name{k="v",...} value` with escapes `\\`, `\"`, `\n` in label values.
fn sample(line: &str) -> (String, Vec<(String, String)>, f64) {
    let name_end = line.find(['{', ' ']).unwrap_or_else(|| panic!("{line:?}"));
    let name = &line[..name_end];
    assert!(valid_name(name), "{line:?}");
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(mut r) = rest.strip_prefix('{') {
        while !r.starts_with('}') {
            let eq = r.find("=\"").unwrap_or_else(|| panic!("{line:?}"));
            let key = &r[..eq];
            assert!(valid_name(key), "{line:?}");
            let mut value = String::new();
            let mut chars = r[eq + 2..].char_indices();
            let end = loop {
                match chars.next().unwrap_or_else(|| panic!("unterminated label in {line:?}")) {
                    (i, '"') => break eq + 2 + i + 1,
                    (_, '\\') => match chars.next().unwrap().1 {
                        '\\' => value.push('\\'),
                        '"' => value.push('"'),
                        'n' => value.push('\n'),
                        c => panic!("bad escape \\{c} in {line:?}"),
                    },
                    (_, c) => value.push(c),
                }
            };
            labels.push((key.to_string(), value));
            r = &r[end..];
            r = r.strip_prefix(',').unwrap_or(r);
        }
        rest = &r[1..];
    }
    let value = rest.strip_prefix(' ').unwrap_or_else(|| panic!("{line:?}"));
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().unwrap_or_else(|_| panic!("bad value in {line:?}")),
    };
    labels.sort();
    (name.to_string(), labels, value)
}

fn value(samples: &Samples, name: &str, labels: &[(&str, &str)]) -> f64 {
    let mut key: Vec<(String, String)> = labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    key.sort();
    *samples.get(&(name.to_string(), key)).unwrap_or_else(|| panic!("no sample {name} {labels:?}"))
}

fn metrics(daemon: &Daemon) -> Samples {
    let (status, headers, body) = http_get(&daemon.url("/metrics"));
    assert_eq!(status, 200);
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
    without_node(parse(&String::from_utf8(body).unwrap()))
}

/// Every sample names the node that answers (the daemons here are
/// "edge-1"); the samples without that label.
fn without_node(samples: Samples) -> Samples {
    samples
        .into_iter()
        .map(|((name, mut labels), v)| {
            let at = labels.iter().position(|(k, _)| k == "node").unwrap_or_else(|| panic!("no node label on {name}"));
            assert_eq!(labels.remove(at).1, "edge-1", "{name}");
            ((name, labels), v)
        })
        .collect()
}

fn health(daemon: &Daemon) -> (u16, Value) {
    let (status, headers, body) = http_get(&daemon.url("/healthz"));
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["cache-control"], "no-store");
    (status, serde_json::from_slice(&body).unwrap())
}

#[test]
fn the_daemon_reports_health_and_metrics_that_match_the_database() {
    let srv = Server::start();
    srv.feed("/a.xml", rss("Alpha", "a", 3), "\"a\"", "Mon, 02 Nov 2026 10:00:00 GMT");
    srv.route("/b.xml", |_| Response::status(500));
    let env = Env::new("", &[(&srv.url("/a.xml"), ""), (&srv.url("/b.xml"), "")]);
    let daemon = Daemon::start(&env.config(), &["run"], &[NO_LEXICON, NODE]);
    let (status, body) = health(&daemon);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["engine"], "sqlite");
    assert_eq!(body["node"], "edge-1");
    assert_eq!(body["nodes"][0]["name"], "edge-1", "{body}");
    assert_eq!(body["nodes"][0]["alive"], true, "{body}");
    assert!(body["last_cycle_age_seconds"].as_i64().unwrap() < 60, "{body}");

    let m = metrics(&daemon);
    assert_eq!(value(&m, "polyfeed_nodes", &[]), 1.0);
    assert_eq!(value(&m, "polyfeed_sources", &[("state", "ok")]), 1.0);
    assert_eq!(value(&m, "polyfeed_sources", &[("state", "failed")]), 1.0);
    let entries: u64 = env.sources().iter().map(|s| s["entries"].as_u64().unwrap()).sum();
    assert_eq!(entries, 3);
    assert_eq!(value(&m, "polyfeed_entries", &[]), entries as f64);
    let stories = env.run(&["stories", "--json", "--limit", "1000"]);
    let stories: Vec<Value> = serde_json::from_slice(&stories.stdout).unwrap();
    assert_eq!(value(&m, "polyfeed_stories", &[]), stories.len() as f64);
    assert_eq!(value(&m, "polyfeed_fetches_total", &[("outcome", "ok"), ("status", "200")]), 1.0);
    assert_eq!(value(&m, "polyfeed_fetches_total", &[("outcome", "failed"), ("status", "500")]), 1.0);
    assert_eq!(value(&m, "polyfeed_fetch_duration_seconds_count", &[]), 2.0);
    assert!(value(&m, "polyfeed_publish_duration_seconds_count", &[]) >= 1.0);
    assert!(value(&m, "polyfeed_cycles_total", &[]) >= 1.0);
    let last = value(&m, "polyfeed_last_cycle_timestamp_seconds", &[]);
    assert!((last - chrono::Utc::now().timestamp() as f64).abs() < 120.0, "{last}");

    let (head, _, _) = http_get(&daemon.url("/all.atom"));
    assert_eq!(head, 200, "the feeds are served by the same listener");
    let public = env.dir.path().join("public");
    assert!(public.join("all.atom").exists());
    for name in ["healthz", "metrics", "healthz.json", "metrics.txt"] {
        assert!(!public.join(name).exists(), "{name} is not a published file");
    }
    assert!(daemon.stop().success());
}

#[test]
fn health_is_503_before_the_first_cycle_and_when_the_last_is_too_old() {
    let srv = Server::start();
    srv.feed("/a.xml", rss("Alpha", "a", 2), "\"a\"", "Mon, 02 Nov 2026 10:00:00 GMT");
    let env = Env::new("interval = \"1h\"", &[(&srv.url("/a.xml"), "")]);

    let never = Daemon::start(&env.config(), &["serve"], &[NO_LEXICON, NODE]);
    let (status, body) = health(&never);
    assert_eq!(status, 503, "{body}");
    assert!(body["reason"].as_str().unwrap().contains("no poll cycle"), "{body}");
    assert!(never.stop().success());

    assert_eq!(env.run(&["poll"]).status.code(), Some(0));
    let fresh = Daemon::start(&env.config(), &["serve"], &[NO_LEXICON, NODE]);
    let (status, body) = health(&fresh);
    assert_eq!(status, 200, "{body}");
    // `serve` does not poll: its in-process fetch counters are empty, the database's facts are there.
    let m = metrics(&fresh);
    assert_eq!(value(&m, "polyfeed_entries", &[]), 2.0);
    assert!(!m.keys().any(|(n, _)| n == "polyfeed_fetches_total"));
    assert_eq!(value(&m, "polyfeed_fetch_duration_seconds_count", &[]), 0.0);
    assert!(fresh.stop().success());

    // Three hours later, with a 1h interval (stale after 2h), the cron poll has stopped.
    let later = (chrono::Utc::now() + chrono::Duration::hours(3)).to_rfc3339();
    let stale = Daemon::start(&env.config(), &["serve"], &[NO_LEXICON, NODE, ("POLYFEED_NOW", &later)]);
    let (status, body) = health(&stale);
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["stale_after_seconds"], 7200);
    assert!(body["last_cycle_age_seconds"].as_i64().unwrap() >= 3 * 3600 - 60, "{body}");
    assert!(stale.stop().success());
}

#[test]
fn an_admin_listener_takes_the_endpoints_off_the_feed_listener() {
    let srv = Server::start();
    srv.feed("/a.xml", rss("Alpha", "a", 2), "\"a\"", "Mon, 02 Nov 2026 10:00:00 GMT");
    let env = Env::new("", &[(&srv.url("/a.xml"), "")]);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let admin = format!("127.0.0.1:{port}");
    let daemon = Daemon::start(&env.config(), &["run", "--admin-listen", &admin], &[NO_LEXICON, NODE]);
    assert_eq!(http_get(&daemon.url("/metrics")).0, 404);
    assert_eq!(http_get(&daemon.url("/healthz")).0, 404);
    assert_eq!(http_get(&daemon.url("/all.atom")).0, 200);
    let (status, _, body) = http_get(&format!("http://{admin}/metrics"));
    assert_eq!(status, 200);
    assert_eq!(value(&without_node(parse(&String::from_utf8(body).unwrap())), "polyfeed_entries", &[]), 2.0);
    assert_eq!(http_get(&format!("http://{admin}/healthz")).0, 200);
    assert_eq!(http_get(&format!("http://{admin}/all.atom")).0, 404, "the admin listener serves no feeds");
    assert!(daemon.stop().success());
}

#[test]
fn json_logs_carry_the_source_span() {
    let srv = Server::start();
    srv.route("/broken.xml", |_| Response::status(503));
    let env = Env::new("", &[(&srv.url("/broken.xml"), "name = \"Broken\"")]);
    let out = common::command(&env.config(), &["--log-format", "json", "poll"])
        .current_dir(env.dir.path())
        .env(NO_LEXICON.0, NO_LEXICON.1)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<Value> = stderr
        .lines()
        .filter(|l| !l.starts_with("failed: "))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect();
    let failed = lines.iter().find(|l| l["fields"]["message"] == "source failed").expect("a source failed line");
    assert_eq!(failed["level"], "WARN");
    assert_eq!(failed["span"]["url"], srv.url("/broken.xml"));
    // `name` in the span object is the span's own name, so the field is `source_name`.
    assert_eq!(failed["span"]["source_name"], "Broken");
}

#[test]
fn metrics_text_reader_rejects_what_prometheus_would() {
    let ok = "# HELP a_total x\n# TYPE a_total counter\na_total{k=\"v\\\"\\n\"} 1\n";
    assert_eq!(value(&parse(ok), "a_total", &[("k", "v\"\n")]), 1.0);
    for bad in [
        "a_total 1\n",                                                                    // no TYPE
        "# TYPE a gauge\na{k=\"v} 1\n",                                                   // unterminated label
        "# TYPE a gauge\na{k=\"\\x\"} 1\n",                                               // bad escape
        "# TYPE a gauge\na one\n",                                                        // bad value
        "# TYPE a gauge\na 1\na 2\n",                                                     // repeated sample
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n", // not cumulative
    ] {
        assert!(std::panic::catch_unwind(|| parse(bad)).is_err(), "accepted {bad:?}");
    }
}
