//! The real binary on PostgreSQL: a loopback farm (the example's five
//! feeds in three languages and a few synthetic ones) polled once into
//! SQLite and once into a fresh PostgreSQL database (`POLYFEED_DATABASE`);
//! `stories --json`, `sources --json`, `explain` and the published files
//! must be the same bytes (times taken from the clock masked: the two runs
//! start seconds apart). Then the bad inputs: an unreachable server, a
//! wrong user, a database written by a newer polyfeed: exit 1 with an
//! error naming host and database, never the password, nothing changed.
//! Needs `POLYFEED_TEST_DATABASE` (scripts/test starts a server): skipped
//! with a printed reason without it, failed in CI (`CI` set).

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use common::{Server, stderr, stdout};

/// The shifted clock of both runs; stored times from the clock fall in the
/// minutes after it.
const NOW: &str = "2026-11-20T12:00:00Z";

/// The example's feeds and ten synthetic ones, served on loopback; the
/// config that polls them.
fn farm() -> (Server, String) {
    let server = Server::start();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut config = std::fs::read_to_string(examples.join("feeds.toml")).unwrap();
    for name in ["porvoo-fi.xml", "porvoo-sv.xml", "porvoo-en.xml", "ministry-en.json", "library-fi.xml"] {
        let body = std::fs::read(examples.join("feeds").join(name)).unwrap();
        server.feed(&format!("/{name}"), body, &format!("\"{name}\""), "Mon, 02 Nov 2026 10:00:00 GMT");
        config = config
            .replace(&format!("url = \"feeds/{name}\""), &format!("url = \"{}\"", server.url(&format!("/{name}"))));
    }
    assert!(!config.contains("url = \"feeds/"), "every example feed is served");
    for i in 0..10 {
        let path = format!("/synthetic/{i}.xml");
        server.feed(
            &path,
            common::rss(&format!("Feed {i}"), &format!("s{i}"), 5),
            &format!("\"s{i}\""),
            "Mon, 02 Nov 2026 10:00:00 GMT",
        );
        config.push_str(&format!("\n[[source]]\nurl = \"{}\"\ntags = [\"synthetic\"]\n", server.url(&path)));
    }
    config = config.replacen(
        "[settings]",
        "[settings]\nper_host_delay = \"0s\"\nconcurrency = 1\nper_host_concurrency = 1",
        1,
    );
    (server, config)
}

fn run(dir: &Path, database: Option<&str>, args: &[&str]) -> Output {
    let mut c = common::command(&dir.join("feeds.toml"), args);
    c.current_dir(dir).env("POLYFEED_NOW", NOW).env(common::NO_LEXICON.0, common::NO_LEXICON.1);
    if let Some(url) = database {
        c.env("POLYFEED_DATABASE", url);
    }
    c.output().expect("run polyfeed")
}

fn ok(o: Output, what: &str) -> String {
    assert_eq!(o.status.code(), Some(0), "{what}: {}", stderr(&o));
    stdout(&o)
}

/// Times the clock gave (the minutes after `NOW`), durations and row ids
/// masked: rows are numbered in the order fetches finished, which differs
/// from run to run on either engine.
fn mask(text: &str, dir: &Path) -> String {
    let text = text.replace(&dir.join("polyfeed.db").display().to_string(), "<database>");
    let text = text.replace(&dir.display().to_string(), "<dir>");
    let database = regex::Regex::new(r"postgresql://127\.0\.0\.1:\d+/polyfeed_test_\w+").unwrap();
    let text = database.replace_all(&text, "<database>");
    let now = regex::Regex::new(r"2026-11-20T12:0\d:\d\d(\.\d+)?(Z|\+00:00)|Fri, 20 Nov 2026 12:0\d:\d\d (GMT|\+0000)")
        .unwrap();
    let elapsed = regex::Regex::new(r"\b\d+(\.\d+)? m?s\)").unwrap();
    let ids = regex::Regex::new(r"\bentry \d+|\bentries? \[[\d, ]*\]|\bentry_id\b\D{0,4}\d+").unwrap();
    let text = now.replace_all(&text, "<now>");
    let text = elapsed.replace_all(&text, "<elapsed>");
    ids.replace_all(&text, "<entry>").into_owned()
}

/// Everything the commands print and publish, masked, by name.
fn outputs(dir: &Path, database: Option<&str>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let poll = ok(run(dir, database, &["poll"]), "poll");
    assert!(poll.contains("15 sources: 15 ok"), "{poll}");
    out.insert("poll".into(), mask(&poll, dir));
    // A second poll: every feed answers 304.
    out.insert("poll again".into(), mask(&ok(run(dir, database, &["poll", "--all"]), "poll again"), dir));
    let stories = ok(run(dir, database, &["stories", "--json"]), "stories");
    let parsed: serde_json::Value = serde_json::from_str(&stories).expect("stories --json is JSON");
    let n = parsed.as_array().map_or(0, Vec::len);
    assert!(n > 20, "{n} stories: {stories}");
    out.insert("stories --json".into(), mask(&stories, dir));
    out.insert("sources --json".into(), mask(&ok(run(dir, database, &["sources", "--json"]), "sources"), dir));
    out.insert("sources".into(), mask(&ok(run(dir, database, &["sources"]), "sources"), dir));
    let explain = run(
        dir,
        database,
        &["explain", "https://www.porvoo.fi/uutiset/2026/-/asset_publisher/2305882/talousarvioesitys-2027"],
    );
    // Lists in `explain` follow entry ids (masked above): compare them as sets.
    let explain: Vec<String> = mask(&ok(explain, "explain"), dir)
        .lines()
        .map(|l| {
            let mut parts: Vec<&str> = l.split("; ").collect();
            parts.sort_unstable();
            parts.join("; ")
        })
        .collect();
    assert!(explain.len() > 5, "{explain:?}");
    out.insert("explain".into(), explain.join("\n"));
    out.insert("publish".into(), mask(&ok(run(dir, database, &["publish"]), "publish"), dir));
    let public = dir.join("public");
    let mut files = Vec::new();
    collect(&public, &mut files);
    assert!(files.len() > 20, "published files: {}", files.len());
    for f in files {
        let name = f.strip_prefix(&public).unwrap().display().to_string();
        out.insert(format!("public/{name}"), mask(&String::from_utf8_lossy(&std::fs::read(&f).unwrap()), dir));
    }
    // `remove --purge` of the Swedish feed: its entries go, each story keeps
    // its other languages.
    let sv = format!("http://{}/porvoo-sv.xml", server_addr(dir));
    out.insert("remove --purge".into(), mask(&ok(run(dir, database, &["remove", &sv, "--purge"]), "remove"), dir));
    let stories = ok(run(dir, database, &["stories", "--json"]), "stories after purge");
    assert!(!stories.contains("/porvoo-sv.xml"), "{stories}");
    out.insert("stories --json after purge".into(), mask(&stories, dir));
    out
}

/// The farm's address, as the config in `dir` names it.
fn server_addr(dir: &Path) -> String {
    let config = std::fs::read_to_string(dir.join("feeds.toml")).unwrap();
    let at = config.find("http://127.0.0.1:").expect("a farm URL");
    config[at + 7..].split('/').next().unwrap().to_string()
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() { collect(&p, out) } else { out.push(p) }
    }
}

#[test]
fn postgresql_gives_the_same_output_as_sqlite() {
    let Some(db) = common::pg_scratch() else { return };
    let (server, config) = farm();
    let sqlite = tempfile::tempdir().unwrap();
    let pg = tempfile::tempdir().unwrap();
    for d in [&sqlite, &pg] {
        std::fs::write(d.path().join("feeds.toml"), &config).unwrap();
    }
    let a = outputs(sqlite.path(), None);
    assert!(sqlite.path().join("polyfeed.db").exists());
    let requests = server.all_requests().len();
    let b = outputs(pg.path(), Some(db.url()));
    assert!(!pg.path().join("polyfeed.db").exists(), "POLYFEED_DATABASE wins over the configured file");
    assert_eq!(server.all_requests().len(), 2 * requests, "the PostgreSQL run polled the same farm");
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>(), "the same files are published");
    for (name, text) in &a {
        let other = &b[name];
        if text != other {
            let (x, y) = text.lines().zip(other.lines()).find(|(x, y)| x != y).unwrap_or(("(length)", "(length)"));
            panic!("{name} differs between SQLite and PostgreSQL:\n  sqlite:     {x}\n  postgresql: {y}");
        }
    }
}

#[test]
fn run_and_serve_on_one_postgresql_database_serve_the_same_bytes() {
    let Some(db) = common::pg_scratch() else { return };
    let (_server, config) = farm();
    let dir = tempfile::tempdir().unwrap();
    let feeds = dir.path().join("feeds.toml");
    std::fs::write(&feeds, &config).unwrap();
    let env = [("POLYFEED_DATABASE", db.url()), common::NO_LEXICON, ("POLYFEED_NOW", NOW)];
    // `run` polls once before it announces its address.
    let run = common::Daemon::start(&feeds, &["run"], &env);
    let (status, headers, body) = common::http_get(&run.url("/all.atom"));
    assert_eq!(status, 200, "{}", run.log());
    assert!(String::from_utf8_lossy(&body).contains("Talousarvioesitys 2027"), "{}", run.log());
    // A `serve` elsewhere on the same database renders the same bytes.
    let serve = common::Daemon::start(&feeds, &["serve"], &env);
    let (status2, headers2, body2) = common::http_get(&serve.url("/all.atom"));
    assert_eq!(status2, 200, "{}", serve.log());
    assert_eq!(body, body2, "run and serve render one database alike");
    assert_eq!(headers.get("etag"), headers2.get("etag"));
    // The daemon's health reads the same database: the cycle `run` completed.
    let (health, _, text) = common::http_get(&serve.url("/healthz"));
    let text = String::from_utf8_lossy(&text);
    assert_eq!(health, 200, "{text}");
    assert!(text.contains("\"database\":\"ok\""), "{text}");
    assert!(!run.log().contains("panicked"), "{}", run.log());
    assert!(run.stop().success());
    assert!(serve.stop().success());
}

#[test]
fn bad_databases_fail_clearly_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("feeds.toml"), "[[source]]\nurl = \"http://127.0.0.1:9/feed.xml\"\n").unwrap();
    // Nothing listens on port 1.
    let o = run(dir.path(), Some("postgres://feeds:s3cret@127.0.0.1:1/polyfeed"), &["sources"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("cannot connect to database postgresql://127.0.0.1:1/polyfeed"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("s3cret") && !stdout(&o).contains("s3cret"), "{}", stderr(&o));
    // `check` shows the database without the password.
    let o = run(dir.path(), Some("postgres://feeds:s3cret@db.example:5433/polyfeed"), &["check"]);
    assert!(stdout(&o).contains("database:    postgresql://db.example:5433/polyfeed"), "{}", stdout(&o));
    assert!(!stdout(&o).contains("s3cret"), "{}", stdout(&o));

    let Some(db) = common::pg_scratch() else { return };
    let mut wrong = url::Url::parse(db.url()).unwrap();
    wrong.set_username("nobody_here").unwrap();
    wrong.set_password(Some("s3cret")).unwrap();
    let o = run(dir.path(), Some(wrong.as_str()), &["poll"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains(&format!("/{}", db.name())), "{}", stderr(&o));
    assert!(stderr(&o).contains("nobody_here"), "the server's reason: {}", stderr(&o));
    assert!(!stderr(&o).contains("s3cret"), "{}", stderr(&o));

    // A database written by a newer polyfeed: refused, left as it was.
    ok(run(dir.path(), Some(db.url()), &["sources"]), "sources");
    let mut client = postgres::Client::connect(db.url(), postgres::NoTls).unwrap();
    client.batch_execute("UPDATE polyfeed_schema SET version = 99").unwrap();
    let o = run(dir.path(), Some(db.url()), &["poll"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("schema version 99 is newer than this polyfeed knows"), "{}", stderr(&o));
    let shown = format!("postgresql://{}:{}/{}", wrong.host_str().unwrap(), wrong.port().unwrap(), db.name());
    assert!(stderr(&o).contains(&shown), "{}", stderr(&o));
    let version: i64 = client.query_one("SELECT version FROM polyfeed_schema", &[]).unwrap().get(0);
    assert_eq!(version, 99);
    let fetches: i64 = client.query_one("SELECT COUNT(*) FROM fetches", &[]).unwrap().get(0);
    assert_eq!(fetches, 0, "nothing was polled");
}
