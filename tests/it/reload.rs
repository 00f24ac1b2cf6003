//! Config reload in the real daemon: SIGHUP with a valid new feeds.toml
//! (an added source is polled, a removed one leaves the config), SIGHUP with
//! an invalid one (reported with file:line:column, the daemon keeps running
//! on the old config), and `run --watch` picking up an edit by itself.

use crate::common;

use common::{Daemon, Env, NO_LEXICON, Server, http_get, rss, wait_for};

fn feeds(srv: &Server) {
    srv.feed("/a.xml", rss("Alpha", "a", 2), "\"a\"", "Mon, 02 Nov 2026 10:00:00 GMT");
    srv.feed("/b.xml", rss("Beta", "b", 3), "\"b\"", "Mon, 02 Nov 2026 10:00:00 GMT");
}

fn append(env: &Env, text: &str) {
    let path = env.config();
    let old = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, old + text).unwrap();
}

/// Read from the database: `sources --json` itself refuses an invalid config.
fn in_config(env: &Env, url: &str) -> bool {
    env.count(&format!("SELECT in_config FROM sources WHERE key = '{url}'")) == 1
}

#[test]
fn sighup_applies_a_valid_config_and_keeps_the_old_one_when_invalid() {
    let srv = Server::start();
    feeds(&srv);
    let (a, b) = (srv.url("/a.xml"), srv.url("/b.xml"));
    let env = Env::new("", &[(&a, "name = \"Alpha\"")]);
    let mut daemon = Daemon::start(&env.config(), &["run"], &[NO_LEXICON]);
    assert_eq!(srv.requests("/a.xml").len(), 1);
    let valid = std::fs::read_to_string(env.config()).unwrap();

    // Added: polled at once, published.
    append(&env, &format!("\n[[source]]\nurl = \"{b}\"\nname = \"Beta\"\n"));
    daemon.signal("HUP");
    wait_for(20, "the added source is polled", || srv.requests("/b.xml").len() == 1);
    wait_for(20, "the new entries are served", || {
        String::from_utf8_lossy(&http_get(&daemon.url("/all.atom")).2).contains("Beta 2")
    });
    assert!(daemon.log().contains("source added"), "{}", daemon.log());

    // Invalid: reported with its place in the file; the daemon runs on with both sources.
    let invalid = std::fs::read_to_string(env.config()).unwrap().replace("name = \"Beta\"", "name = Beta");
    std::fs::write(env.config(), &invalid).unwrap();
    daemon.signal("HUP");
    wait_for(20, "the invalid config is reported", || daemon.log().contains("config not reloaded"));
    let log = daemon.log();
    let line = log.lines().find(|l| l.contains("config not reloaded")).unwrap();
    assert!(line.contains("feeds.toml:") && line.contains("the previous one stays in force"), "{line}");
    let place = line.split("feeds.toml:").nth(1).unwrap();
    let mut numbers = place.split(':').take(2).map(|n| n.parse::<usize>());
    assert!(numbers.all(|n| n.is_ok()), "file:line:column in {line}");
    assert!(daemon.running(), "an invalid config does not stop the daemon");
    assert_eq!(http_get(&daemon.url("/healthz")).0, 200);
    assert!(in_config(&env, &a) && in_config(&env, &b), "the old config stays in force");

    // Removed: no longer in the config (no longer claimed), its entries stay.
    std::fs::write(env.config(), &valid).unwrap();
    daemon.signal("HUP");
    wait_for(20, "the removed source leaves the config", || !in_config(&env, &b));
    assert_eq!(env.source(&b)["entries"], 3);
    assert!(daemon.log().contains("source removed"));
    assert!(daemon.stop().success());
    assert_eq!(srv.requests("/b.xml").len(), 1);
}

#[test]
fn run_watch_rereads_an_edited_config() {
    let srv = Server::start();
    feeds(&srv);
    let env = Env::new("", &[(&srv.url("/a.xml"), "")]);
    let daemon = Daemon::start(&env.config(), &["run", "--watch"], &[NO_LEXICON]);
    // The watcher compares modification time and size: a longer file is a change even within one second.
    append(&env, &format!("\n[[source]]\nurl = \"{}\"\n", srv.url("/b.xml")));
    wait_for(20, "the watched edit is applied", || srv.requests("/b.xml").len() == 1);
    assert!(daemon.log().contains("the file changed"), "{}", daemon.log());
    assert!(daemon.stop().success());
}
