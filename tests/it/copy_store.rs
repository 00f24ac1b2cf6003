//! `polyfeed copy-store` with the real binary: the example's store (what
//! `polyfeed poll` makes of examples/, in a temporary copy) copied to
//! another SQLite file, to a fresh PostgreSQL database and from there back
//! to a new SQLite file; `stories --json`, `sources --json`, `sources` and
//! `explain` give the same bytes on every copy, and PostgreSQL's next ids
//! follow the copied ones. Then the refusals: a target with rows, FROM and
//! TO one store, a missing or unreadable FROM: exit 1, nothing written,
//! nothing created. The PostgreSQL half needs `POLYFEED_TEST_DATABASE`
//! (scripts/test starts a server): skipped with a printed reason without
//! it, failed in CI (`CI` set).

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

use common::{stderr, stdout};

/// A copy of examples/ with its store polled (examples/polyfeed.db as the
/// README's first command makes it).
fn polled_example() -> tempfile::TempDir {
    let dir = common::example_copy();
    let o = common::command(&dir.path().join("feeds.toml"), &["poll"])
        .current_dir(dir.path())
        .env(common::NO_LEXICON.0, common::NO_LEXICON.1)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("22 new entries"), "{}", stdout(&o));
    dir
}

/// `polyfeed copy-store FROM TO`, run in `dir`.
fn copy_store(dir: &Path, from: &str, to: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_polyfeed"))
        .current_dir(dir)
        .args(["copy-store", from, to])
        .env_remove("POLYFEED_CONFIG")
        .env_remove("POLYFEED_DATABASE")
        .env_remove("RUST_LOG")
        .output()
        .expect("run polyfeed")
}

/// A command's output on the store `database` (with the example's config).
fn on(dir: &Path, database: &str, args: &[&str]) -> String {
    let o = common::command(&dir.join("feeds.toml"), args)
        .current_dir(dir)
        .env("POLYFEED_DATABASE", database)
        .env(common::NO_LEXICON.0, common::NO_LEXICON.1)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{args:?} on {database}: {}", stderr(&o));
    stdout(&o)
}

/// What the read commands print about a store.
fn outputs(dir: &Path, database: &str) -> Vec<(String, String)> {
    let stories = on(dir, database, &["stories", "--json"]);
    let parsed: serde_json::Value = serde_json::from_str(&stories).expect("stories --json is JSON");
    let first = parsed[0]["id"].as_str().expect("a story").to_string();
    vec![
        ("stories --json".into(), stories),
        ("sources --json".into(), on(dir, database, &["sources", "--json"])),
        ("sources".into(), on(dir, database, &["sources"])),
        ("explain".into(), on(dir, database, &["explain", &first])),
        ("explain source".into(), on(dir, database, &["explain", "Porvoon kaupunki"])),
    ]
}

fn same_outputs(a: &[(String, String)], b: &[(String, String)], what: &str) {
    for ((name, x), (_, y)) in a.iter().zip(b) {
        if x != y {
            let (l, r) = x.lines().zip(y.lines()).find(|(l, r)| l != r).unwrap_or(("(length)", "(length)"));
            panic!("{name} differs on {what}:\n  original: {l}\n  copy:     {r}");
        }
    }
}

/// The counts table `copy-store` prints: (table, source, target) rows.
fn counts(out: &str) -> Vec<(String, u64, u64)> {
    out.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 3, "{l}");
            (f[0].to_string(), f[1].parse().unwrap(), f[2].parse().unwrap())
        })
        .collect()
}

fn assert_copied(o: &Output) -> Vec<(String, u64, u64)> {
    assert_eq!(o.status.code(), Some(0), "{}", stderr(o));
    let rows = counts(&stdout(o));
    assert!(rows.iter().all(|(_, s, t)| s == t), "{}", stdout(o));
    let total = rows.iter().find(|r| r.0 == "total").expect("a total row");
    assert!(total.1 > 200, "{}", stdout(o));
    // Progress per table on stderr.
    for (table, n, _) in rows.iter().filter(|r| r.0 != "total") {
        assert!(stderr(o).contains(&format!("copy-store: {table}: {n} rows")), "{}", stderr(o));
    }
    rows
}

#[test]
fn sqlite_to_postgresql_and_back_gives_the_same_output() {
    let dir = polled_example();
    let d = dir.path();
    let original = outputs(d, "polyfeed.db");

    // SQLite to SQLite.
    let o = copy_store(d, "polyfeed.db", "copy.db");
    let rows = assert_copied(&o);
    // What running pollers hold stays behind.
    for table in ["host_leases", "nodes"] {
        assert!(stderr(&o).contains(&format!("copy-store: skipped {table} (")), "{}", stderr(&o));
        assert!(!rows.iter().any(|r| r.0 == table), "{rows:?}");
    }
    for table in ["sources", "entries", "entry_links", "stories", "story_entries", "entry_features", "fetches"] {
        assert!(rows.iter().any(|r| r.0 == table && r.1 > 0), "{table} copied: {rows:?}");
    }
    same_outputs(&original, &outputs(d, "copy.db"), "an SQLite copy");

    let Some(db) = common::pg_scratch() else { return };
    // A password in the URL (the test server trusts anyone) never shows.
    let mut url = url::Url::parse(db.url()).unwrap();
    url.set_password(Some("s3cret")).unwrap();
    let o = copy_store(d, "polyfeed.db", url.as_str());
    let pg_rows = assert_copied(&o);
    assert_eq!(pg_rows, rows, "the same counts on PostgreSQL");
    assert!(stderr(&o).contains(&format!("/{}", db.name())), "{}", stderr(&o));
    assert!(!stderr(&o).contains("s3cret") && !stdout(&o).contains("s3cret"), "{}", stderr(&o));
    same_outputs(&original, &outputs(d, db.url()), "the PostgreSQL copy");

    // And back, to a new SQLite file.
    let o = copy_store(d, db.url(), "back.db");
    assert_eq!(assert_copied(&o), rows);
    same_outputs(&original, &outputs(d, "back.db"), "the copy back from PostgreSQL");

    // PostgreSQL's next ids follow the copied ones: polling the copy again
    // adds fetches after the five copied.
    let fetches = rows.iter().find(|r| r.0 == "fetches").unwrap().1 as i64;
    on(d, db.url(), &["poll", "--all"]);
    let mut client = postgres::Client::connect(db.url(), postgres::NoTls).unwrap();
    let row = client.query_one("SELECT COUNT(*), MAX(id) FROM fetches", &[]).unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (2 * fetches, 2 * fetches));
}

#[test]
fn a_store_with_rows_is_refused_and_left_as_it_was() {
    let dir = polled_example();
    let d = dir.path();
    assert_copied(&copy_store(d, "polyfeed.db", "full.db"));
    let before = std::fs::read(d.join("full.db")).unwrap();
    let o = copy_store(d, "polyfeed.db", "full.db");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("the target full.db is not empty"), "{}", stderr(&o));
    assert!(stderr(&o).contains("entries 22"), "{}", stderr(&o));
    assert!(stdout(&o).is_empty(), "{}", stdout(&o));
    assert_eq!(std::fs::read(d.join("full.db")).unwrap(), before, "the target is unchanged");

    // FROM and TO one store, by any name.
    for to in ["polyfeed.db", "./polyfeed.db", &d.join("polyfeed.db").display().to_string()] {
        let o = copy_store(d, "polyfeed.db", to);
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
        assert!(stderr(&o).contains("FROM and TO are the same database"), "{}", stderr(&o));
    }

    let Some(db) = common::pg_scratch() else { return };
    assert_copied(&copy_store(d, "polyfeed.db", db.url()));
    let mut client = postgres::Client::connect(db.url(), postgres::NoTls).unwrap();
    let count = |c: &mut postgres::Client| -> i64 {
        c.query_one("SELECT (SELECT COUNT(*) FROM entries) + (SELECT COUNT(*) FROM sources)", &[]).unwrap().get(0)
    };
    let rows = count(&mut client);
    let o = copy_store(d, "full.db", db.url());
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("the target postgresql://127.0.0.1:"), "{}", stderr(&o));
    assert!(stderr(&o).contains("is not empty"), "{}", stderr(&o));
    assert_eq!(count(&mut client), rows, "the PostgreSQL target is unchanged");
    // One PostgreSQL database under two URLs is one store.
    let other = db.url().replace("127.0.0.1", "localhost");
    let o = copy_store(d, db.url(), &other);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("FROM and TO are the same database"), "{}", stderr(&o));
}

#[test]
fn a_missing_or_unreadable_source_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = copy_store(d, "missing.db", "out.db");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("missing.db: no such database file"), "{}", stderr(&o));
    assert!(!d.join("missing.db").exists(), "the missing source is not created");
    assert!(!d.join("out.db").exists(), "nor the target");

    // Not a database: the target this run created is removed again.
    std::fs::write(d.join("notes.db"), "not a database, but a text file long enough to be a header".repeat(10))
        .unwrap();
    let o = copy_store(d, "notes.db", "out.db");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("notes.db"), "{}", stderr(&o));
    let files = || -> Vec<String> {
        let mut v: Vec<String> =
            std::fs::read_dir(d).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into()).collect();
        v.sort();
        v
    };
    assert_eq!(files(), ["notes.db"], "nothing created");

    // Written by a newer polyfeed: refused after the target was opened;
    // the file this run created is removed again.
    let newer = rusqlite::Connection::open(d.join("newer.db")).unwrap();
    newer.pragma_update(None, "user_version", 99).unwrap();
    drop(newer);
    let o = copy_store(d, "newer.db", "out.db");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("schema version 99 is newer"), "{}", stderr(&o));
    assert_eq!(files(), ["newer.db", "notes.db"], "the new target is removed again");
}
