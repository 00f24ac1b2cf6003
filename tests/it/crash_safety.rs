//! kill -9 during `poll`, many times at different moments: the database must
//! pass `PRAGMA integrity_check`, keep every entry a completed transaction
//! stored, and the next run must carry on.

use crate::common;

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Env, Response, Server};

/// Each request gets a feed one item longer than the last (so every round
/// has something new to store), dripped slowly so kills land mid-fetch.
fn growing_feed(srv: &Server, path: &str, prefix: &'static str) {
    let hits = Arc::new(AtomicUsize::new(0));
    srv.route(path, move |_| {
        let n = hits.fetch_add(1, Ordering::SeqCst) + 5;
        let body = common::rss("Crash", prefix, n).into_bytes();
        Response { drip: Some((body.len() / 4 + 1, Duration::from_millis(15))), ..Response::ok(body) }
    });
}

/// The stored entries' keys; `None` while the database has no schema yet (a
/// process killed after creating the file, before its schema committed).
fn keys(env: &Env) -> Option<HashSet<(i64, String)>> {
    let db = rusqlite::Connection::open(env.db()).unwrap();
    let tables: i64 = db
        .query_row("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'entries'", [], |r| r.get(0))
        .unwrap();
    if tables == 0 {
        return None;
    }
    let mut stmt = db.prepare("SELECT source_id, key FROM entries").unwrap();
    Some(stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect())
}

#[test]
fn kill_9_at_any_moment_loses_nothing_stored() {
    let srv = Server::start();
    let prefixes = ["k0", "k1", "k2", "k3", "k4", "k5"];
    let mut urls = Vec::new();
    for p in prefixes {
        let path = format!("/{p}.xml");
        growing_feed(&srv, &path, p);
        urls.push(srv.url(&path));
    }
    let list: Vec<(&str, &str)> = urls.iter().map(|u| (u.as_str(), "")).collect();
    let env = Env::new("per_host_delay = \"0s\"\nper_host_concurrency = 6", &list);
    let mut stored: HashSet<(i64, String)> = HashSet::new();
    // A fixed pseudo-random sequence of kill delays, 30 rounds, spread over
    // the whole run (start-up, fetching, parsing, committing).
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for round in 0..30 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let delay = Duration::from_millis(5 + x % 600);
        let mut child = Command::new(env!("CARGO_BIN_EXE_polyfeed"))
            .env(common::NO_LEXICON.0, common::NO_LEXICON.1)
            .arg("--config")
            .arg(env.config())
            .args(["poll", "--all", "-q"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        if !env.db().exists() {
            continue;
        }
        env.integrity_ok();
        // Killed before the schema committed (a loaded machine can take
        // longer than the shortest delays to get there): nothing is stored
        // yet, and a schema once committed never goes away.
        let Some(now) = keys(&env) else {
            assert!(stored.is_empty(), "round {round}: the schema vanished after entries were stored");
            eprintln!("round {round}: delay {delay:?}, no schema yet");
            continue;
        };
        assert!(stored.is_subset(&now), "round {round}: an entry stored before was lost");
        eprintln!("round {round}: delay {delay:?}, {} stored", now.len());
        stored = now;
    }
    assert!(!stored.is_empty(), "some rounds completed a transaction before the kill");
    // After the storm, a normal run carries on at once: claims of killed
    // processes are taken over, and every source is polled and stored.
    let out = env.run(&["poll", "--all"]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    assert!(common::stdout(&out).contains("polled 6 sources: 6 ok"), "{}", common::stdout(&out));
    env.integrity_ok();
    let fin = keys(&env).expect("the schema after a completed poll");
    assert!(stored.is_subset(&fin));
    for p in prefixes {
        let served = srv.requests(&format!("/{p}.xml")).len() + 4;
        let kept = fin.iter().filter(|(_, k)| k.starts_with(&format!("{p}-"))).count();
        assert_eq!(kept, served, "{p}: every item of the last (longest) response stored");
    }
}
