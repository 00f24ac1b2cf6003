//! What we publish, read by real third-party readers (Python feedparser,
//! newsboat, rss-parser, feedsmith) over HTTP from
//! `polyfeed serve`: ids, titles, links and hreflang alternates must survive,
//! and newsboat's conditional reloads must get 304s.
//!
//! The readers are installed by `scripts/setup --extcheck` (which
//! `scripts/test` runs) through `tests/readers/install`, into
//! `target/extcheck` (or where `EXTCHECK_DIR` points); `bin/fp-read`,
//! `bin/feedsmith-read` and `bin/rssparser-read` there print what each reader
//! saw as JSON. Without them the test is skipped locally and fails in CI
//! (`CI` set).

use crate::common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

fn extcheck() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let candidates = [std::env::var_os("EXTCHECK_DIR").map(PathBuf::from), Some(root.join("target/extcheck"))];
    let found = candidates
        .into_iter()
        .flatten()
        .find(|d| ["bin/fp-read", "bin/feedsmith-read", "bin/rssparser-read"].iter().all(|b| d.join(b).exists()));
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "extcheck readers are not installed: scripts/setup --extcheck installs them"
        );
        eprintln!("skipping: extcheck readers not installed (run scripts/setup --extcheck)");
    }
    found
}

struct Served {
    child: Child,
    addr: String,
    log: PathBuf,
    _dir: tempfile::TempDir,
    public: PathBuf,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The offline example, polled, published and served.
fn serve_example() -> Served {
    let dir = common::example_copy();
    let config = dir.path().join("feeds.toml");
    let out = common::run_in(dir.path(), &config, &["poll"]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let log = dir.path().join("serve.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_polyfeed"))
        .arg("--config")
        .arg(&config)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "polyfeed=debug")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.split("http://").nth(1).and_then(|r| r.split('/').next()).unwrap().to_string();
    let public = dir.path().join("public");
    Served { child, addr, log, _dir: dir, public }
}

/// What a feed says, per item: (id, title, link, hreflang alternates).
type Items = Vec<(String, String, String, BTreeSet<(String, String)>)>;

/// Our own reading of a published file (feed-rs underneath).
fn ours(public: &Path, path: &str) -> Items {
    let bytes = std::fs::read(public.join(path)).unwrap();
    let feed = polyfeed::parse::parse(&bytes, None, None).unwrap().feed;
    feed.entries
        .iter()
        .map(|e| {
            let alts =
                e.links.iter().filter_map(|l| Some((l.hreflang.clone()?, l.href.clone()))).collect::<BTreeSet<_>>();
            let link = e.links.iter().find(|l| l.rel.is_none() || l.rel.as_deref() == Some("alternate")).unwrap();
            (e.guid.clone().unwrap(), e.title.clone().unwrap().body, link.href.clone(), alts)
        })
        .collect()
}

fn reader(dir: &Path, cmd: &str, url: &str) -> Value {
    let out = Command::new(dir.join("bin").join(cmd)).args(["--json", url]).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd} {url}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{cmd}: {e}"))
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or("").to_string()
}

fn alts(links: &Value) -> BTreeSet<(String, String)> {
    links.as_array().into_iter().flatten().map(|l| (s(&l["hreflang"]), s(&l["href"]))).collect()
}

#[test]
fn real_readers_see_what_we_meant() {
    let Some(x) = extcheck() else { return };
    let srv = serve_example();
    let url = |p: &str| format!("http://{}/{p}", srv.addr);
    for path in ["all.atom", "all.rss", "tags/traffic.atom", "sv/all.atom", "en/tags/traffic.rss"] {
        let want = ours(&srv.public, path);
        assert!(!want.is_empty());
        let fp = reader(&x, "fp-read", &url(path));
        assert_eq!(fp["bozo"], 0, "{path}: feedparser calls it ill-formed: {}", fp["bozo_exception"]);
        let got: Items = fp["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (s(&e["id"]), s(&e["title"]), s(&e["link"]), alts(&e["hreflang_links"])))
            .collect();
        assert_eq!(got, want, "feedparser on {path}");
        let fs = reader(&x, "feedsmith-read", &url(path));
        let items = fs["normalised"]["items"].as_array().unwrap();
        let ids: Vec<String> = items.iter().map(|i| s(&i["id"])).collect();
        let titles: Vec<String> = items.iter().map(|i| s(&i["title"])).collect();
        assert_eq!(ids, want.iter().map(|w| w.0.clone()).collect::<Vec<_>>(), "feedsmith ids on {path}");
        assert_eq!(titles, want.iter().map(|w| w.1.clone()).collect::<Vec<_>>(), "feedsmith titles on {path}");
        if path.ends_with(".atom") {
            let got: Vec<_> = items.iter().map(|i| alts(&i["hreflang_links"])).collect();
            assert_eq!(got, want.iter().map(|w| w.3.clone()).collect::<Vec<_>>(), "feedsmith hreflang on {path}");
        }
        let rp = reader(&x, "rssparser-read", &url(path));
        let got: Vec<(String, String, String)> = rp["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| (if i["guid"].is_null() { s(&i["id"]) } else { s(&i["guid"]) }, s(&i["title"]), s(&i["link"])))
            .collect();
        let want3: Vec<_> = want.iter().map(|w| (w.0.clone(), w.1.clone(), w.2.clone())).collect();
        assert_eq!(got, want3, "rss-parser on {path}");
    }
    // JSON Feed: feedsmith reads it.
    let want = ours(&srv.public, "all.json");
    let fs = reader(&x, "feedsmith-read", &url("all.json"));
    let ids: Vec<String> = fs["normalised"]["items"].as_array().unwrap().iter().map(|i| s(&i["id"])).collect();
    assert_eq!(ids, want.iter().map(|w| w.0.clone()).collect::<Vec<_>>());
}

#[test]
fn newsboat_lists_each_story_once_and_reloads_conditionally() {
    let Some(_) = extcheck() else { return };
    let srv = serve_example();
    let path = "tags/traffic.rss";
    let want = ours(&srv.public, path);
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("urls"), format!("http://{}/{path}\n", srv.addr)).unwrap();
    std::fs::write(home.path().join("config"), "reload-threads 1\n").unwrap();
    let cache = home.path().join("cache.db");
    // newsboat 2.21 stores the validators on its second reload and sends
    // them from the third on.
    for _ in 0..3 {
        let status = Command::new("newsboat")
            .env("HOME", home.path())
            .arg("-u")
            .arg(home.path().join("urls"))
            .arg("-c")
            .arg(&cache)
            .arg("-C")
            .arg(home.path().join("config"))
            .args(["-x", "reload"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
    }
    let db = rusqlite::Connection::open(&cache).unwrap();
    let mut stmt = db.prepare("SELECT guid, title, url FROM rss_item ORDER BY pubDate DESC, id").unwrap();
    let got: Vec<(String, String, String)> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect();
    let ids: BTreeSet<&String> = got.iter().map(|g| &g.0).collect();
    assert_eq!(ids.len(), got.len(), "each story once");
    let want_ids: BTreeSet<&String> = want.iter().map(|w| &w.0).collect();
    assert_eq!(ids, want_ids);
    for (id, title, link) in &got {
        let w = want.iter().find(|w| &w.0 == id).unwrap();
        assert_eq!((title, link), (&w.1, &w.2));
    }
    let log = std::fs::read_to_string(&srv.log).unwrap();
    let statuses: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(&format!("path=\"/{path}\"")))
        .filter_map(|l| l.split("status=").nth(1))
        .collect();
    assert_eq!(statuses.len(), 3, "{log}");
    assert!(statuses[2].starts_with("304"), "the third reload is answered 304: {statuses:?}");
}
