//! The store suite, one copy run on both engines: every test runs on a
//! fresh SQLite file and, when `POLYFEED_TEST_DATABASE` names a PostgreSQL
//! server (`scripts/test` starts one), on a fresh database there; without
//! it the PostgreSQL half is skipped with a printed reason (and fails in
//! CI, `CI` set). Scenarios return a transcript of what the store answered
//! (times that come from the wall clock left out), and both engines must
//! give the same transcript.

use std::fmt::Write as _;
use std::path::Path;

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::scratch::ScratchDatabase;
use super::*;
use crate::config::{Config, Database};
use crate::model::{Entry, LangOrigin, Link};
use crate::stories::StoryRules;
use crate::tags::Tagger;

/// One engine's database for one test.
struct Engine {
    name: &'static str,
    database: Database,
    _dir: Option<tempfile::TempDir>,
    _scratch: Option<ScratchDatabase>,
}

fn engines() -> Vec<Engine> {
    let dir = tempfile::tempdir().unwrap();
    let mut out = vec![Engine {
        name: "sqlite",
        database: Database::Sqlite(dir.path().join("p.db")),
        _dir: Some(dir),
        _scratch: None,
    }];
    match ScratchDatabase::create() {
        Some(Ok(db)) => out.push(Engine {
            name: "postgresql",
            database: Database::Postgres(db.url().to_string()),
            _dir: None,
            _scratch: Some(db),
        }),
        Some(Err(e)) => panic!("cannot create a PostgreSQL test database: {e}"),
        None => {
            assert!(std::env::var_os("CI").is_none(), "POLYFEED_TEST_DATABASE is not set in CI (scripts/test sets it)");
            eprintln!("skipping the PostgreSQL half: POLYFEED_TEST_DATABASE is not set (scripts/test starts a server)");
        }
    }
    out
}

/// Runs `scenario` on each engine and checks that all gave one transcript.
fn on_every_engine(scenario: impl Fn(&Database) -> String) {
    let mut first: Option<(&str, String)> = None;
    for engine in engines() {
        let transcript = scenario(&engine.database);
        match &first {
            None => first = Some((engine.name, transcript)),
            Some((name, t)) => {
                if *t != transcript {
                    let diff = t
                        .lines()
                        .zip(transcript.lines())
                        .find(|(a, b)| a != b)
                        .map(|(a, b)| format!("{name}: {a}\n{}: {b}", engine.name));
                    panic!("{name} and {} differ; first difference:\n{}", engine.name, diff.unwrap_or_default());
                }
            }
        }
    }
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

const CONFIG: &str = r#"
[settings]
languages = ["fi", "sv", "en"]

[[source]]
url = "https://city.example/fi.xml"
lang = "fi"
group = "city"
tags = ["kunta"]

[[source]]
url = "https://city.example/sv.xml"
lang = "sv"
group = "city"

[[source]]
url = "https://city.example/en.xml"
lang = "en"
group = "city"
"#;

fn config() -> Config {
    Config::parse(Path::new("/tmp/feeds.toml"), CONFIG).unwrap()
}

/// Entry `n` of one language's feed, linking (hreflang) to the Finnish one.
fn entry(lang: &str, n: u32, title: &str, published: DateTime<Utc>) -> Entry {
    let url = format!("https://city.example/{lang}/{n}");
    let mut links = vec![Link { href: url.clone(), ..Link::default() }];
    if lang != "fi" {
        links.push(Link {
            href: format!("https://city.example/fi/{n}"),
            rel: Some("alternate".into()),
            hreflang: Some("fi".into()),
            ..Link::default()
        });
    }
    Entry {
        key: url.clone(),
        guid: Some(format!("{lang}-{n}")),
        url: Some(url),
        title: title.to_string(),
        summary_html: Some(format!("<p>{title}: 12 500 euroa</p>")),
        content_html: None,
        authors: Vec::new(),
        published,
        updated: published,
        date_given: true,
        lang: Some(lang.to_string()),
        lang_origin: LangOrigin::Config,
        categories: vec!["Liikenne".into(), "Ääni".into(), "bussit".into(), "Tiet, kadut".into()],
        enclosures: Vec::new(),
        images: Vec::new(),
        links,
        content_hash: format!("{title}-hash"),
    }
}

fn new_entry(e: Entry, source_id: i64) -> NewEntry {
    let features = crate::dedup::features(&e, source_id, Some("city"));
    let raw = format!("{{\"title\":{:?}}}", e.title);
    NewEntry::new(e, raw, features)
}

fn fetch(url: &str, at: DateTime<Utc>, outcome: Outcome) -> FetchRecord {
    FetchRecord {
        started_at: at,
        duration_ms: 12,
        url: url.to_string(),
        status: Some(if outcome == Outcome::NotModified { 304 } else { 200 }),
        outcome,
        error: None,
        validators: Some((Some("\"v1\"".into()), None)),
        moved_to: None,
        move_back: false,
        gone: false,
        next_due: (at + Duration::hours(1), "interval".into()),
        bytes: 1234,
        feed: Some(FeedMeta {
            title: Some("Kaupunki".into()),
            lang: Some("fi".into()),
            format: "rss2".into(),
            ..FeedMeta::default()
        }),
        warnings: vec!["repaired".into()],
    }
}

/// Claims as a node without hosts to share (see `hosts_go_to_one_node_at_a_time`).
fn claim(
    store: &mut Store,
    now: DateTime<Utc>,
    all: bool,
    until: DateTime<Utc>,
    token: &str,
    is_dead: impl Fn(&str) -> bool,
) -> Result<Vec<super::Claimed>, StoreError> {
    let req = super::ClaimRequest { now, until, all, token, node: token };
    store.claim_due(req, is_dead, |_| None).map(|c| c.sources)
}

/// A store with the config's sources, every one claimed by node `a` at t0.
fn claimed_store(database: &Database) -> (Store, Vec<super::Claimed>) {
    let mut store = Store::open(database).unwrap();
    store.sync_sources(&config().sources, t0()).unwrap();
    let claimed = claim(&mut store, t0(), false, t0() + Duration::minutes(5), "a", |_| false).unwrap();
    (store, claimed)
}

/// Polls the three sources once: claim, save, assign, reconcile.
fn poll_all(store: &mut Store, at: DateTime<Utc>, title_suffix: &str, out: &mut String) {
    let claimed = claim(&mut *store, at, false, at + Duration::minutes(5), "node-a", |_| false).unwrap();
    writeln!(out, "claimed {:?}", claimed.iter().map(|c| (c.id, c.key.as_str(), c.ever_ok)).collect::<Vec<_>>())
        .unwrap();
    let again = claim(&mut *store, at, true, at + Duration::minutes(5), "node-b", |_| false).unwrap();
    writeln!(out, "claimed again while leased: {}", again.len()).unwrap();
    for c in &claimed {
        let lang = c.key.rsplit('/').next().unwrap().trim_end_matches(".xml").to_string();
        let entries: Vec<NewEntry> = (1..=3)
            .map(|n| {
                new_entry(
                    entry(&lang, n, &format!("{lang} uutinen {n}{title_suffix}"), t0() + Duration::hours(i64::from(n))),
                    c.id,
                )
            })
            .collect();
        let stats = store.save_fetch(c.id, &fetch(&c.url, at, Outcome::Ok), &entries, at).unwrap();
        writeln!(out, "saved {} {stats:?}", c.key).unwrap();
    }
    writeln!(out, "unassigned before: {}", store.has_unassigned().unwrap()).unwrap();
    let a = store.assign_stories(&StoryRules::default()).unwrap();
    writeln!(out, "assigned {a:?}").unwrap();
    let r = store.reconcile_stories(&StoryRules::default()).unwrap();
    writeln!(out, "reconciled {r:?}").unwrap();
    writeln!(out, "unassigned after: {}", store.has_unassigned().unwrap()).unwrap();
}

/// What the read paths answer, without wall-clock times.
fn describe(store: &Store, out: &mut String) {
    for r in store.source_rows().unwrap() {
        writeln!(
            out,
            "source {} {:?} {} lang={:?} group={:?} status={:?} outcome={:?} fetched={:?} ok={:?} entries={} errors={} warnings={:?} due={:?} {:?} gone={} in_config={}",
            r.id, r.name, r.url, r.lang, r.group, r.last_status, r.last_outcome, r.last_fetch_at, r.last_ok_at,
            r.entries, r.error_count, r.warnings, r.next_due_at, r.due_reason, r.gone, r.in_config
        )
        .unwrap();
        for f in store.recent_fetches(r.id, 10).unwrap() {
            writeln!(out, "  fetch {f:?}").unwrap();
        }
        writeln!(out, "  recent {:?}", store.recent_published(r.id, 2).unwrap()).unwrap();
    }
    let infos = store.source_infos().unwrap();
    for i in &infos {
        writeln!(out, "info {i:?}").unwrap();
    }
    let index = store.publish_index().unwrap();
    for row in &index {
        writeln!(out, "index {row:?}").unwrap();
    }
    index_matches_reference(store, &index, &infos);
    let ids: Vec<String> = index.iter().map(|r| r.story_id.clone()).collect();
    for s in store.stories(&ids, &infos).unwrap() {
        let v: Vec<_> =
            s.versions.iter().map(|v| (v.entry_id, v.entry.title.as_str(), v.entry.categories.clone())).collect();
        let d: Vec<_> = s.duplicates.iter().map(|v| v.entry_id).collect();
        writeln!(out, "story {} versions {v:?} duplicates {d:?}", s.id).unwrap();
        for m in store.story_members(&s.id).unwrap() {
            writeln!(
                out,
                "  member {} {} {:?} {:?} {} matched={:?} score={:?}",
                m.entry_id, m.role, m.lang, m.url, m.published, m.matched_entry, m.evidence.score
            )
            .unwrap();
        }
        for l in store.story_log(&s.id).unwrap() {
            writeln!(out, "  log {} {}", l.action, l.detail).unwrap();
        }
        for e in store.story_events(&s.id).unwrap() {
            writeln!(out, "  event {} {} {:?} {:?} {}", e.kind, e.story_id, e.other_id, e.entries, e.reason).unwrap();
        }
    }
    let stats = store.stats().unwrap();
    writeln!(out, "stats {:?} {} {} {:?}", stats.sources_by_state, stats.entries, stats.stories, stats.last_cycle)
        .unwrap();
    writeln!(out, "next due {:?}", store.next_due().unwrap()).unwrap();
    writeln!(out, "revisions {}", store.revision_count().unwrap()).unwrap();
    writeln!(out, "find {:?}", store.find_entry("https://city.example/sv/2").unwrap()).unwrap();
    writeln!(out, "find guid {:?}", store.find_entry("en-3").unwrap()).unwrap();
    writeln!(out, "find none {:?}", store.find_entry("nowhere").unwrap()).unwrap();
    for e in store.entries_of(1).unwrap() {
        writeln!(
            out,
            "entry {} {} {:?} {:?} {:?}",
            e.id, e.first_seen_at, e.entry.links, e.entry.categories, e.entry.updated
        )
        .unwrap();
    }
}

/// The publishing index gives what the full computation gives: every
/// story in the same order with the same rows, and the same plan for a few
/// feed sizes and tag mappings.
fn index_matches_reference(store: &Store, index: &[crate::store::IndexRow], infos: &[crate::story::SourceInfo]) {
    store.refresh_story_index().unwrap();
    let keys = store.story_index_keys().unwrap();
    let all: Vec<String> = store.newest_stories("", usize::MAX).unwrap().into_iter().map(|(_, id)| id).collect();
    let ids: Vec<String> = index.iter().map(|r| r.story_id.clone()).collect();
    assert_eq!(all, ids);
    assert_eq!(format!("{:?}", store.index_rows(&ids).unwrap()), format!("{index:?}"));
    assert_eq!(keys.iter().filter(|k| k.is_empty()).count(), usize::from(!index.is_empty()), "{keys:?}");
    let aliased = crate::config::TagConfig {
        slug: "roads".into(),
        aliases: vec!["Tiet, kadut".into(), "kunta".into()],
        titles: Default::default(),
    };
    for tagger in [Tagger::new(&[], true), Tagger::new(std::slice::from_ref(&aliased), false)] {
        for items in [0, 1, 2, 100] {
            let plan = crate::publish::plan_stored(store, infos, &tagger, items).unwrap();
            assert_eq!(plan, crate::publish::plan(index, infos, &tagger, items), "{items} items");
        }
    }
}

#[test]
fn a_polled_store_reads_back_the_same_on_every_engine() {
    on_every_engine(|database| {
        let mut out = String::new();
        let config = config();
        let mut store = Store::open(database).unwrap();
        assert_eq!(store.schema_version().unwrap(), schema::MIGRATIONS.len());
        assert_eq!(store.integrity_check().unwrap(), "ok");
        store.sync_sources(&config.sources, t0()).unwrap();
        poll_all(&mut store, t0(), "", &mut out);
        store.record_cycle(t0() + Duration::minutes(1)).unwrap();
        describe(&store, &mut out);
        // Three languages of one post are one story each time.
        assert_eq!(store.stats().unwrap().stories, 3, "{out}");
        // A category with a comma in it stays one category.
        let index = store.publish_index().unwrap();
        assert!(index.iter().all(|r| r.categories.iter().any(|c| c == "Tiet, kadut")), "{index:?}");
        // A second poll an hour later: the same bodies change nothing, a
        // changed one keeps a revision.
        let later = t0() + Duration::hours(1);
        poll_all(&mut store, later, "", &mut out);
        let c =
            claim(&mut store, later + Duration::hours(1), true, later + Duration::hours(2), "n", |_| false).unwrap();
        let fi = c.iter().find(|c| c.key.ends_with("fi.xml")).unwrap();
        // The revision moves the date and changes the categories: the
        // publishing index follows (checked by `describe`).
        let mut revised = entry("fi", 1, "fi uutinen 1 (korjattu)", t0() + Duration::hours(1));
        revised.categories = vec!["Liikenne".into(), "Pyöräily".into()];
        let changed = vec![new_entry(revised, fi.id)];
        let stats = store.save_fetch(fi.id, &fetch(&fi.url, later, Outcome::Ok), &changed, later).unwrap();
        assert_eq!((stats.new, stats.updated), (0, 1));
        for other in c.iter().filter(|o| o.id != fi.id) {
            store.release(other.id).unwrap();
        }
        assert_eq!(store.revision_count().unwrap(), 1);
        store.reconcile_stories(&StoryRules::default()).unwrap();
        // Pages: the English entries' pages are still to fetch; one page
        // names a Swedish version.
        let todo = store.pages_to_fetch(&["https://city.example/en.xml".to_string()], 10).unwrap();
        writeln!(out, "pages {:?}", todo.iter().map(|p| (p.entry_id, p.url.as_str())).collect::<Vec<_>>()).unwrap();
        let results: Vec<PageResult> = todo
            .iter()
            .map(|p| PageResult {
                entry_id: p.entry_id,
                url: p.url.clone(),
                status: Some(200),
                links: vec![("sv".into(), p.url.replace("/en/", "/sv/"))],
                ..PageResult::default()
            })
            .collect();
        writeln!(out, "pages gained {}", store.save_pages(&results, later).unwrap()).unwrap();
        store.reconcile_stories(&StoryRules::default()).unwrap();
        describe(&store, &mut out);
        // Removing a source with --purge keeps every other entry in one story.
        let purged = store.purge_source("https://city.example/fi.xml").unwrap();
        writeln!(out, "purged {purged:?}").unwrap();
        assert_eq!(purged.as_ref().map(|p| p.entries), Some(3));
        assert_eq!(store.purge_source("https://nowhere.example/").unwrap(), None);
        describe(&store, &mut out);
        assert!(!store.has_unassigned().unwrap());
        // Config without the English feed: it stays, marked removed.
        let mut fewer = config.sources.clone();
        fewer.retain(|s| !s.key.ends_with("en.xml"));
        store.sync_sources(&fewer, later).unwrap();
        let rows = store.source_rows().unwrap();
        assert_eq!(rows.iter().filter(|r| !r.in_config).count(), 1);
        describe(&store, &mut out);
        drop(store);
        // Opened again: migrations do not run twice, data is there.
        let store = Store::open(database).unwrap();
        assert_eq!(store.schema_version().unwrap(), schema::MIGRATIONS.len());
        assert!(store.stats().unwrap().entries > 0);
        out
    });
}

#[test]
fn claims_exclude_other_processes_until_released_or_dead() {
    on_every_engine(|database| {
        let mut out = String::new();
        let mut a = Store::open(database).unwrap();
        a.sync_sources(&config().sources, t0()).unwrap();
        let mut b = Store::open(database).unwrap();
        let lease = t0() + Duration::minutes(5);
        let first = claim(&mut a, t0(), false, lease, "a", |_| false).unwrap();
        assert_eq!(first.len(), 3);
        assert!(claim(&mut b, t0(), true, lease, "b", |_| false).unwrap().is_empty(), "claimed sources are skipped");
        a.release(first[0].id).unwrap();
        let one = claim(&mut b, t0(), false, lease, "b", |_| false).unwrap();
        writeln!(out, "after release {:?}", one.iter().map(|c| c.id).collect::<Vec<_>>()).unwrap();
        assert_eq!(one.len(), 1);
        // "a" died: its claims are taken over at once.
        let taken = claim(&mut b, t0(), false, lease, "b", |t| t == "a").unwrap();
        writeln!(out, "taken over {:?}", taken.iter().map(|c| c.id).collect::<Vec<_>>()).unwrap();
        assert_eq!(taken.len(), 2);
        // After the lease runs out anyone may claim.
        let after = claim(&mut a, lease, false, lease + Duration::minutes(5), "a", |_| false).unwrap();
        assert_eq!(after.len(), 3);
        out
    });
}

#[test]
fn text_sorts_bytewise_on_every_engine() {
    on_every_engine(|database| {
        let mut store = Store::open(database).unwrap();
        let keys = [
            "https://b.example/",
            "https://B.example/",
            "https://ä.example/",
            "https://a.example/",
            "https://Z.example/",
        ];
        for k in keys {
            store.db.execute("INSERT INTO sources (key, url, created_at) VALUES (?1, ?1, '')", db::p![k]).unwrap();
        }
        let sorted: Vec<String> =
            store.db.query_map("SELECT key FROM sources ORDER BY key", &[], |r| r.get(0)).unwrap();
        let mut want: Vec<String> = keys.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(sorted, want);
        let _ = &mut store;
        sorted.join("\n")
    });
}

#[test]
fn a_newer_schema_is_refused_naming_the_database() {
    on_every_engine(|database| {
        let store = Store::open(database).unwrap();
        match store.db.dialect() {
            Dialect::Sqlite => store.db.batch("PRAGMA user_version = 99").unwrap(),
            Dialect::Postgres => store.db.batch("UPDATE polyfeed_schema SET version = 99").unwrap(),
        }
        drop(store);
        let err = Store::open(database).err().expect("a newer schema is refused").to_string();
        assert!(err.contains("schema version 99 is newer than this polyfeed knows"), "{err}");
        assert!(err.contains(&database.to_string()), "{err}");
        "refused".to_string()
    });
}

#[test]
fn bad_postgres_urls_name_host_and_database_never_the_password() {
    // Nothing listens on port 1.
    let unreachable = Database::Postgres("postgres://feeds:s3cret@127.0.0.1:1/polyfeed".into());
    let err = Store::open(&unreachable).err().expect("unreachable").to_string();
    assert!(err.contains("cannot connect to database postgresql://127.0.0.1:1/polyfeed"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
    let Some(scratch) = ScratchDatabase::create() else {
        eprintln!("skipping the wrong-credentials half: POLYFEED_TEST_DATABASE is not set");
        return;
    };
    let scratch = scratch.unwrap();
    let mut url = url::Url::parse(scratch.url()).unwrap();
    url.set_username("nobody_here").unwrap();
    url.set_password(Some("s3cret")).unwrap();
    let err = Store::open(&Database::Postgres(url.to_string())).err().expect("unknown role").to_string();
    assert!(err.contains(scratch.name()), "{err}");
    assert!(err.contains("nobody_here"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
}

/// Over a Unix socket (`host=/dir`, as `postgres:///db` means): no TLS is
/// negotiated there, whatever the sslmode, and the connection works.
#[test]
fn a_unix_socket_connects() {
    let (Some(scratch), Some(dir)) = (ScratchDatabase::create(), std::env::var_os("POLYFEED_TEST_SOCKET_DIR")) else {
        eprintln!("skipped: POLYFEED_TEST_DATABASE or POLYFEED_TEST_SOCKET_DIR is not set (scripts/test sets both)");
        return;
    };
    let scratch = scratch.unwrap();
    let tcp = url::Url::parse(scratch.url()).unwrap();
    let port = tcp.port().unwrap_or(5432);
    let socket =
        format!("postgresql://{}@/{}?host={}&port={port}", tcp.username(), scratch.name(), dir.to_string_lossy());
    let store = Store::open(&Database::Postgres(socket)).unwrap();
    assert_eq!(store.schema_version().unwrap(), schema::MIGRATIONS.len());
}

#[test]
fn a_lost_postgresql_session_is_opened_again() {
    let Some(scratch) = ScratchDatabase::create() else {
        eprintln!("skipped: POLYFEED_TEST_DATABASE is not set");
        return;
    };
    let scratch = scratch.unwrap();
    let database = Database::Postgres(scratch.url().to_string());
    let mut store = Store::open(&database).unwrap();
    store.sync_sources(&config().sources, t0()).unwrap();
    let pid: i32 = store.db.query_row("SELECT pg_backend_pid()", &[], |r| r.get(0)).unwrap();
    let other = Store::open(&database).unwrap();
    let killed: bool = other.db.query_row("SELECT pg_terminate_backend(?1)", db::p![pid], |r| r.get(0)).unwrap();
    assert!(killed);
    // pg_terminate_backend only signals: wait until the session is gone.
    for _ in 0..100 {
        let alive: i64 = other
            .db
            .query_row("SELECT COUNT(*) FROM pg_stat_activity WHERE pid = ?1", db::p![pid], |r| r.get(0))
            .unwrap();
        if alive == 0 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // The call that finds the session gone may fail; the next one works.
    let _ = store.source_rows();
    assert_eq!(store.source_rows().unwrap().len(), 3);
    let again: i32 = store.db.query_row("SELECT pg_backend_pid()", &[], |r| r.get(0)).unwrap();
    assert_ne!(again, pid);
}

#[test]
fn two_processes_assigning_at_once_take_turns() {
    on_every_engine(|database| {
        let (mut a, claimed) = claimed_store(database);
        for c in &claimed {
            let lang = c.key.rsplit('/').next().unwrap().trim_end_matches(".xml").to_string();
            let entries: Vec<NewEntry> = (1..=20)
                .map(|n| new_entry(entry(&lang, n, &format!("{lang} {n}"), t0() + Duration::hours(i64::from(n))), c.id))
                .collect();
            a.save_fetch(c.id, &fetch(&c.url, t0(), Outcome::Ok), &entries, t0()).unwrap();
        }
        let mut b = Store::open(database).unwrap();
        let (sa, sb) = std::thread::scope(|s| {
            let ta = s.spawn(|| a.assign_stories(&StoryRules::default()).unwrap());
            let tb = s.spawn(|| b.assign_stories(&StoryRules::default()).unwrap());
            (ta.join().unwrap(), tb.join().unwrap())
        });
        let placed = |s: &crate::stories::AssignStats| s.new_stories + s.versions + s.duplicates;
        assert_eq!(placed(&sa) + placed(&sb), 60, "each entry is assigned once: {sa:?} {sb:?}");
        let stats = a.stats().unwrap();
        assert_eq!((stats.entries, stats.stories), (60, 20));
        assert!(!a.has_unassigned().unwrap());
        format!("{:?}", stats.sources_by_state)
    });
}

#[test]
fn a_read_snapshot_does_not_see_what_commits_meanwhile() {
    on_every_engine(|database| {
        let (mut a, claimed) = claimed_store(database);
        let save = |store: &mut Store, n: u32| {
            let c = &claimed[0];
            let e = new_entry(entry("fi", n, &format!("fi {n}"), t0() + Duration::hours(i64::from(n))), c.id);
            store.save_fetch(c.id, &fetch(&c.url, t0(), Outcome::Ok), &[e], t0()).unwrap();
            store.assign_stories(&StoryRules::default()).unwrap();
        };
        save(&mut a, 1);
        let mut b = Store::open(database).unwrap();
        let count = |s: &Store| {
            s.refresh_story_index().unwrap();
            s.newest_stories("", 100).unwrap().len()
        };
        assert_eq!(count(&a), 1);
        let inside = a
            .read_snapshot(|| {
                let before = (a.story_index_keys()?, a.newest_stories("", 100)?);
                // Another process stores, assigns and indexes a story meanwhile.
                save(&mut b, 2);
                assert_eq!(count(&b), 2, "the other process's story is committed");
                let again = (a.story_index_keys()?, a.newest_stories("", 100)?);
                assert_eq!(before, again, "the snapshot saw a commit made after it began");
                Ok::<_, StoreError>(again.1.len())
            })
            .unwrap();
        assert_eq!(inside, 1);
        assert_eq!(count(&a), 2, "seen once the snapshot ends");
        format!("{inside:?}")
    });
}

#[test]
fn a_failed_read_snapshot_leaves_the_store_usable() {
    on_every_engine(|database| {
        let (mut store, claimed) = claimed_store(database);
        let failed: anyhow::Result<()> = store.read_snapshot(|| {
            store.story_index_keys()?;
            anyhow::bail!("the closure failed")
        });
        assert_eq!(failed.unwrap_err().to_string(), "the closure failed");
        assert!(!store.db.in_transaction(), "the snapshot was not ended");
        // Writes work again, and a new snapshot sees them.
        let c = &claimed[0];
        let e = new_entry(entry("fi", 1, "fi 1", t0()), c.id);
        store.save_fetch(c.id, &fetch(&c.url, t0(), Outcome::Ok), &[e], t0()).unwrap();
        store.assign_stories(&StoryRules::default()).unwrap();
        assert!(store.story_index_stale().unwrap());
        assert_eq!(store.refresh_story_index().unwrap(), 1);
        let n = store.read_snapshot(|| Ok::<_, StoreError>(store.newest_stories("", 10)?.len())).unwrap();
        assert_eq!(n, 1);
        format!("{n}")
    });
}

#[test]
fn entries_are_found_through_indexes_as_a_scan_finds_them() {
    on_every_engine(|database| {
        let (mut store, claimed) = claimed_store(database);
        let mut needles = vec!["nowhere".to_string(), "https://city.example/none".to_string(), String::new()];
        for (i, c) in claimed.iter().enumerate() {
            let entries: Vec<NewEntry> = (1..=3u32)
                .map(|n| {
                    let mut e = entry("fi", n, &format!("{i} {n}"), t0() + Duration::hours(i64::from(n) + i as i64));
                    // Key, guid and URL all differ. The first source
                    // writes the URL one way, the others another way that
                    // folds to the same key; those two share it exactly
                    // (the newer entry wins).
                    e.key = format!("key-{i}-{n}");
                    e.guid = Some(format!("guid-{i}-{n}"));
                    e.url = Some(if i == 0 {
                        format!("https://city.example/a/{n}")
                    } else {
                        format!("https://www.city.example/a/{n}/")
                    });
                    needles.extend([e.key.clone(), e.guid.clone().unwrap(), e.url.clone().unwrap()]);
                    new_entry(e, c.id)
                })
                .collect();
            store.save_fetch(c.id, &fetch(&c.url, t0(), Outcome::Ok), &entries, t0()).unwrap();
        }
        let mut out = String::new();
        for needle in &needles {
            let found = store.find_entry(needle).unwrap();
            assert_eq!(found, store.find_entry_by_scan(needle).unwrap(), "{needle:?}");
            writeln!(out, "{needle:?} {found:?}").unwrap();
        }
        assert!(store.find_entry("key-1-2").unwrap().is_some());
        assert_eq!(store.find_entry("https://city.example/a/2").unwrap(), store.find_entry("guid-0-2").unwrap());
        out
    });
}

#[test]
fn sslmode_is_honoured() {
    let Some(ca) = std::env::var("POLYFEED_TEST_CA").ok().filter(|c| !c.is_empty()) else {
        eprintln!("skipped: POLYFEED_TEST_CA is not set (scripts/test sets it when its server speaks TLS)");
        return;
    };
    let Some(scratch) = ScratchDatabase::create() else { return };
    let scratch = scratch.unwrap();
    let with = |host: &str, query: &str| {
        let mut url = url::Url::parse(scratch.url()).unwrap();
        url.set_host(Some(host)).unwrap();
        url.set_query(if query.is_empty() { None } else { Some(query) });
        Database::Postgres(url.to_string())
    };
    let encrypted = |database: &Database| -> Result<bool, String> {
        let store = Store::open(database).map_err(|e| e.to_string())?;
        Ok(store.db.query_row("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[], |r| r.get(0)).unwrap())
    };
    assert_eq!(encrypted(&with("127.0.0.1", "sslmode=disable")), Ok(false));
    assert_eq!(encrypted(&with("127.0.0.1", "")), Ok(true), "prefer is the default");
    assert_eq!(encrypted(&with("127.0.0.1", "sslmode=require")), Ok(true));
    let verified = format!("sslmode=verify-full&sslrootcert={ca}");
    assert_eq!(encrypted(&with("127.0.0.1", &verified)), Ok(true));
    assert_eq!(encrypted(&with("localhost", &verified)), Ok(true));
    // The system's roots do not know the test CA.
    let err = encrypted(&with("127.0.0.1", "sslmode=verify-full")).unwrap_err();
    assert!(err.contains("cannot connect to database postgresql://127.0.0.1:"), "{err}");
    assert!(err.to_lowercase().contains("certificate") || err.contains("UnknownIssuer"), "{err}");
}

/// Four sources on three hosts.
const HOSTS: &str = r#"
[[source]]
url = "https://a.example/1.xml"
[[source]]
url = "https://a.example/2.xml"
[[source]]
url = "https://b.example/1.xml"
[[source]]
url = "https://c.example/1.xml"
"#;

/// Claims as node `token`, sources grouped by their real hosts.
fn claim_hosts(store: &mut Store, now: DateTime<Utc>, all: bool, token: &str) -> super::Claim {
    let req = super::ClaimRequest { now, until: now + Duration::minutes(5), all, token, node: token };
    store.claim_due(req, |_| false, crate::pipeline::host_of).unwrap()
}

fn keys(c: &super::Claim) -> Vec<&str> {
    c.sources.iter().map(|s| s.key.as_str()).collect()
}

#[test]
fn hosts_go_to_one_node_at_a_time() {
    on_every_engine(|database| {
        let config = Config::parse(Path::new("/tmp/feeds.toml"), HOSTS).unwrap();
        let mut a = Store::open(database).unwrap();
        a.sync_sources(&config.sources, t0()).unwrap();
        let mut b = Store::open(database).unwrap();
        let first = claim_hosts(&mut a, t0(), false, "a");
        assert_eq!(first.sources.len(), 4, "a node alone takes everything due");
        let mut hosts: Vec<_> = first.hosts.iter().map(|(h, last)| (h.as_str(), *last)).collect();
        hosts.sort();
        assert_eq!(hosts, [("a.example", None), ("b.example", None), ("c.example", None)]);
        // One source of a.example is released, but a still holds the host.
        a.release(first.sources[0].id).unwrap();
        assert!(claim_hosts(&mut b, t0(), true, "b").sources.is_empty(), "a.example is a's until released");
        let last = t0() + Duration::seconds(1);
        a.release_hosts("a", &[("a.example".into(), last)]).unwrap();
        let second = claim_hosts(&mut b, t0() + Duration::seconds(2), true, "b");
        assert_eq!(keys(&second), ["https://a.example/1.xml"]);
        assert_eq!(second.hosts.get("a.example"), Some(&Some(last)), "the spacing starts from a's last request");
        // Entry pages: only hosts nobody else holds.
        let now = t0() + Duration::seconds(3);
        let wanted = ["a.example".to_string(), "d.example".to_string()];
        let granted = a.lease_hosts(&wanted, now, now + Duration::minutes(5), "a", |_| false).unwrap();
        assert_eq!(granted.keys().collect::<Vec<_>>(), ["d.example"]);
        // b renews its leases: still held after the first lease would have run out.
        let renewed = t0() + Duration::minutes(4);
        b.renew_leases("b", renewed, renewed + Duration::minutes(5)).unwrap();
        let at = t0() + Duration::minutes(6);
        assert!(claim_hosts(&mut a, at, true, "a").sources.iter().all(|s| !s.key.contains("a.example/1")));
        // b dies: at the end of its renewed lease, the source is anyone's.
        let later = renewed + Duration::minutes(5);
        assert_eq!(
            keys(&claim_hosts(&mut a, later, true, "a")),
            ["https://a.example/1.xml", "https://a.example/2.xml"],
            "a.example is free again; a claimed the others at minute 6"
        );
        let rows = a.source_rows().unwrap();
        format!("{:?}", rows.iter().map(|r| (&r.url, r.leased_by.is_some())).collect::<Vec<_>>())
    });
}

#[test]
fn nodes_waking_together_split_what_is_due() {
    on_every_engine(|database| {
        let config = Config::parse(Path::new("/tmp/feeds.toml"), HOSTS).unwrap();
        let mut stores: Vec<Store> = (0..3).map(|_| Store::open(database).unwrap()).collect();
        stores[0].sync_sources(&config.sources, t0()).unwrap();
        for (s, name) in stores.iter_mut().zip(["a", "b", "c"]) {
            s.node_seen(name, name, t0()).unwrap();
        }
        let mut taken = Vec::new();
        let mut out = String::new();
        for (s, name) in stores.iter_mut().zip(["a", "b", "c"]) {
            let c = claim_hosts(s, t0(), false, name);
            writeln!(out, "{name}: {:?}", keys(&c)).unwrap();
            taken.extend(keys(&c).into_iter().map(String::from));
        }
        taken.sort();
        assert_eq!(
            taken,
            [
                "https://a.example/1.xml",
                "https://a.example/2.xml",
                "https://b.example/1.xml",
                "https://c.example/1.xml"
            ],
            "{out}"
        );
        assert!(out.starts_with("a: [\"https://a.example/1.xml\", \"https://a.example/2.xml\"]"), "{out}");
        let alive = stores[0].nodes(t0() - Duration::minutes(5)).unwrap();
        assert_eq!(alive.iter().filter(|n| n.alive).count(), 3);
        stores[2].node_gone("c").unwrap();
        assert_eq!(stores[0].nodes(t0() - Duration::minutes(5)).unwrap().len(), 2);
        out
    });
}

/// The waiting entries are read through `story_pending`, never by a scan of
/// `entries`: SQLite, without statistics, planned the join the other way
/// round to save a sort, and read every stored entry on every poll.
#[test]
fn waiting_entries_are_read_without_a_scan_of_all_entries() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&Database::Sqlite(dir.path().join("p.db"))).unwrap();
    let plan: Vec<String> =
        store.db.query_map(&format!("EXPLAIN QUERY PLAN {}", super::stories::UNASSIGNED), &[], |r| r.get(3)).unwrap();
    assert!(plan.iter().any(|step| step.starts_with("SCAN sp")), "{plan:?}");
    assert!(plan.iter().all(|step| !step.starts_with("SCAN e")), "{plan:?}");
}

#[test]
fn fetches_saved_together_are_all_stored_or_none() {
    on_every_engine(|database| {
        let (mut store, claimed) = claimed_store(database);
        let batch = |c: &super::Claimed, from: u32| -> Vec<NewEntry> {
            let lang = c.key.rsplit('/').next().unwrap().trim_end_matches(".xml").to_string();
            (from..from + 3)
                .map(|n| new_entry(entry(&lang, n, &format!("{lang} {n}"), t0() + Duration::hours(i64::from(n))), c.id))
                .collect()
        };
        let (a, b) = (&claimed[0], &claimed[1]);
        let (fa, fb) = (fetch(&a.url, t0(), Outcome::Ok), fetch(&b.url, t0(), Outcome::Ok));
        let (ea, eb) = (batch(a, 1), batch(b, 1));
        // The second source's fetch first: stats come back in the order given.
        let stats = store
            .save_fetches(&[
                FetchToSave { source_id: b.id, fetch: &fb, entries: &eb[..2], now: t0() },
                FetchToSave { source_id: a.id, fetch: &fa, entries: &ea, now: t0() },
            ])
            .unwrap();
        assert_eq!(stats.iter().map(|s| s.new).collect::<Vec<_>>(), [2, 3]);
        let count = |s: &Store, id| s.entries_of(id).unwrap().len();
        let fetches = |s: &Store, id| s.recent_fetches(id, 100).unwrap().len();
        assert_eq!((count(&store, a.id), count(&store, b.id)), (3, 2));
        assert_eq!((fetches(&store, a.id), fetches(&store, b.id)), (1, 1));
        // One bad fetch in a group (an entry of a source that does not
        // exist): nothing of the group is stored (the other fetch's entries
        // and record), and the store goes on.
        let later = t0() + Duration::hours(1);
        let (ea2, eb2) = (batch(a, 10), batch(b, 10));
        let missing = a.id.max(b.id) + 1000;
        let failed = store.save_fetches(&[
            FetchToSave { source_id: a.id, fetch: &fa, entries: &ea2, now: later },
            FetchToSave { source_id: missing, fetch: &fb, entries: &eb2, now: later },
        ]);
        assert!(failed.is_err(), "a fetch of a missing source is refused");
        assert_eq!(count(&store, a.id), 3, "no entry of the failed group is stored");
        assert_eq!(fetches(&store, a.id), 1, "no fetch of the failed group is recorded");
        let again = store.save_fetch(a.id, &fa, &ea2, later).unwrap();
        assert_eq!(again.new, 3);
        assert_eq!((count(&store, a.id), fetches(&store, a.id)), (6, 2));
        format!("{stats:?} {again:?}")
    });
}
