//! Publishing on the offline example: golden files for every format
//! (`UPDATE_GOLDEN=1` rewrites them; review the diff), every published feed
//! parsed back and compared with the database, byte-identical re-publishing.

use crate::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::{example_copy, run_in, stdout};

fn files(dir: &Path, base: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            files(&e.path(), base, out);
        } else {
            out.push(e.path().strip_prefix(base).unwrap().to_path_buf());
        }
    }
}

fn published(dir: &Path) -> PathBuf {
    let config = dir.join("feeds.toml");
    let out = run_in(dir, &config, &["poll"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout(&out).contains("published"),
        "poll publishes after a cycle that changed something: {}",
        stdout(&out)
    );
    dir.join("public")
}

#[test]
fn golden_files() {
    let dir = example_copy();
    let public = published(dir.path());
    // The sources page shows when each source was fetched and is due: stored
    // times, set here to fixed values so the golden file does not depend on
    // when the test ran; publishing again renders them.
    let db = rusqlite::Connection::open(dir.path().join("polyfeed.db")).unwrap();
    db.execute(
        "UPDATE sources SET last_fetch_at = '2026-11-21T08:00:00Z', next_due_at = printf('2026-11-21T09:0%d:00Z', id)",
        [],
    )
    .unwrap();
    drop(db);
    let out = run_in(dir.path(), &dir.path().join("feeds.toml"), &["publish"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/examples");
    let names = [
        "all.atom",
        "all.rss",
        "all.json",
        "sv/all.atom",
        "tags/traffic.atom",
        "tags/traffic.rss",
        "en/tags/traffic.json",
        "index.html",
        "sources.html",
        "sources.opml",
    ];
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    for name in names {
        let got = std::fs::read_to_string(public.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let path = golden.join(name);
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", path.display()));
        assert!(got == want, "{name} differs from its golden file; run with UPDATE_GOLDEN=1 and review the diff");
    }
}

#[test]
fn publishing_again_writes_nothing() {
    let dir = example_copy();
    let public = published(dir.path());
    let mut before = Vec::new();
    files(&public, &public, &mut before);
    let out = run_in(dir.path(), &dir.path().join("feeds.toml"), &["publish"]);
    assert!(stdout(&out).contains("(0 written, 219 unchanged"), "{}", stdout(&out));
    let mut after = Vec::new();
    files(&public, &public, &mut after);
    assert_eq!(before.len(), after.len());
    assert!(after.iter().all(|p| !p.to_string_lossy().ends_with(".tmp")));
}

/// A poll that finds nothing new renders no feed: it rewrites the sources
/// page (last fetch, next due) and nothing else; the feeds stay as they were.
#[test]
fn a_poll_with_nothing_new_rewrites_only_the_sources_page() {
    let dir = example_copy();
    let public = published(dir.path());
    let atom = std::fs::read(public.join("all.atom")).unwrap();
    let db = rusqlite::Connection::open(dir.path().join("polyfeed.db")).unwrap();
    db.execute("UPDATE sources SET last_fetch_at = '2026-01-01T00:00:00Z'", []).unwrap();
    drop(db);
    let out = run_in(dir.path(), &dir.path().join("feeds.toml"), &["poll", "--all"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let said = stdout(&out);
    assert!(said.contains("0 new entries, 0 updated"), "{said}");
    assert!(said.contains("published 1 files") && said.contains("(1 written, 0 unchanged"), "{said}");
    let page = std::fs::read_to_string(public.join("sources.html")).unwrap();
    assert!(!page.contains("2026-01-01 00:00 UTC"), "the page shows the new fetch times");
    assert_eq!(std::fs::read(public.join("all.atom")).unwrap(), atom);
    // `publish` renders everything.
    let out = run_in(dir.path(), &dir.path().join("feeds.toml"), &["publish"]);
    assert!(stdout(&out).contains("published 219 files"), "{}", stdout(&out));
}

/// Every feed parses back with our own parser (feed-rs underneath), and
/// each item carries its id, title, link and language from the database.
#[test]
fn every_feed_parses_back() {
    let dir = example_copy();
    let public = published(dir.path());
    let db = rusqlite::Connection::open(dir.path().join("polyfeed.db")).unwrap();
    let titles: BTreeSet<String> = db
        .prepare("SELECT title FROM entries")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut all = Vec::new();
    files(&public, &public, &mut all);
    let feeds: Vec<_> = all
        .iter()
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("atom" | "rss" | "json")))
        .collect();
    assert!(feeds.len() >= 3 * 4 * 5, "{} feeds", feeds.len());
    for rel in feeds {
        let bytes = std::fs::read(public.join(rel)).unwrap();
        let parsed = polyfeed::parse::parse(&bytes, None, Some("https://feeds.example.org/"))
            .unwrap_or_else(|e| panic!("{}: {e}", rel.display()));
        assert!(!parsed.feed.entries.is_empty(), "{}", rel.display());
        let mut ids = BTreeSet::new();
        for e in &parsed.feed.entries {
            let id = e.guid.clone().unwrap();
            assert!(id.starts_with("urn:polyfeed:story:"), "{id}");
            assert!(ids.insert(id), "{}: duplicate id", rel.display());
            let title = e.title.as_ref().unwrap().body.clone();
            assert!(titles.contains(&title), "{}: unknown title {title:?}", rel.display());
            assert!(e.links.iter().any(|l| l.href.starts_with("https://")), "{}: no link", rel.display());
        }
    }
    // The all feed holds every story once (fewer than `items`), in the same order in every format.
    let stories: i64 = db.query_row("SELECT COUNT(DISTINCT story_id) FROM story_entries", [], |r| r.get(0)).unwrap();
    let order = |name: &str| -> Vec<String> {
        let bytes = std::fs::read(public.join(name)).unwrap();
        polyfeed::parse::parse(&bytes, None, None)
            .unwrap()
            .feed
            .entries
            .iter()
            .map(|e| e.guid.clone().unwrap())
            .collect()
    };
    assert_eq!(order("all.atom").len() as i64, stories);
    assert!((stories as usize) < titles.len(), "language versions are merged into stories");
    assert_eq!(order("all.atom"), order("all.rss"));
    assert_eq!(order("all.atom"), order("all.json"));
}

#[test]
fn tags_merge_languages_through_aliases() {
    let dir = example_copy();
    let public = published(dir.path());
    let bytes = std::fs::read(public.join("tags/traffic.atom")).unwrap();
    let feed = polyfeed::parse::parse(&bytes, None, None).unwrap().feed;
    let langs: BTreeSet<String> = feed
        .entries
        .iter()
        .flat_map(|e| e.language.iter().cloned().chain(e.links.iter().filter_map(|l| l.hreflang.clone())))
        .collect();
    assert_eq!(langs, ["en", "fi", "sv"].map(String::from).into(), "Liikenne, Trafik and Traffic are one tag");
    let sv_feed =
        polyfeed::parse::parse(&std::fs::read(public.join("sv/tags/traffic.atom")).unwrap(), None, None).unwrap().feed;
    assert!(sv_feed.entries.iter().any(|e| e.language.as_deref() == Some("sv")), "the sv set prefers Swedish versions");
    let sv = std::fs::read_to_string(public.join("sv/tags/traffic.atom")).unwrap();
    assert!(sv.contains("<title>Porvoo and friends (polyfeed demo): Trafik</title>"), "per-language titles");
    let index = std::fs::read_to_string(public.join("index.html")).unwrap();
    assert!(index.contains("<link rel=\"alternate\" type=\"application/atom+xml\" title=\"Porvoo and friends (polyfeed demo) (Atom)\" href=\"all.atom\">"));
    assert!(index.contains("href=\"tags/traffic.rss\""));
}
