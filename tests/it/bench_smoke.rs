//! The benchmark suite in miniature, so that it cannot rot: `bench/gen_farm.py`
//! generates a tiny farm (20 feeds x 5 entries, RSS and Atom, fi/sv/en
//! triples), a small static HTTP server on 127.0.0.1 port 0 serves it with
//! strong ETags and 304s, and the real `polyfeed` binary polls it the three
//! ways `bench/run.sh` measures: cold (every entry new), warm (every source
//! answers 304) and after `--touch-percent 10` (two feeds, one new entry
//! each). Counts only, no timings: the figures live in BENCHMARKS.md.
//!
//! The real-text farm in miniature too: `gen_farm.py --corpus` over the
//! eval-dedup fixture (7 documents, fi/sv/en), checked for what its truth
//! promises (every entry in one feed, copies of one document more than the
//! 7-day story window apart), polled through `real_farm.py config` and
//! scored by `score_farm.py` against that truth with the fixture's word table.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

const FEEDS: usize = 20;
const ENTRIES: u64 = 5;

/// The farm on loopback: `GET /<file>` from one directory, nothing else.
struct FarmServer {
    addr: SocketAddr,
    /// Requests answered 200.
    full: Arc<AtomicUsize>,
    /// Requests answered 304.
    not_modified: Arc<AtomicUsize>,
}

impl FarmServer {
    fn start(dir: &Path) -> FarmServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let server = FarmServer {
            addr: listener.local_addr().expect("local address"),
            full: Arc::default(),
            not_modified: Arc::default(),
        };
        let (dir, full, not_modified) = (dir.to_path_buf(), server.full.clone(), server.not_modified.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (dir, full, not_modified) = (dir.clone(), full.clone(), not_modified.clone());
                std::thread::spawn(move || serve_connection(stream, &dir, &full, &not_modified));
            }
        });
        server
    }
}

/// HTTP/1.1 keep-alive: answers requests until the client closes.
fn serve_connection(stream: TcpStream, dir: &Path, full: &AtomicUsize, not_modified: &AtomicUsize) {
    let Ok(mut out) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    while let Some((path, if_none_match)) = read_head(&mut reader) {
        let body = file_of(dir, &path).and_then(|p| std::fs::read(p).ok());
        let written = match body {
            None => out.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"),
            Some(body) => {
                let etag = format!("\"{:016x}-{}\"", fnv1a(&body), body.len());
                if if_none_match.as_deref() == Some(etag.as_str()) {
                    not_modified.fetch_add(1, Ordering::Relaxed);
                    out.write_all(format!("HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\n\r\n").as_bytes())
                } else {
                    full.fetch_add(1, Ordering::Relaxed);
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nETag: {etag}\r\n\r\n",
                        body.len()
                    );
                    out.write_all(head.as_bytes()).and_then(|()| out.write_all(&body))
                }
            }
        };
        if written.is_err() {
            return;
        }
    }
}

/// The path and `If-None-Match` of the next request, `None` at end of stream.
fn read_head(reader: &mut impl BufRead) -> Option<(String, Option<String>)> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let path = line.split_whitespace().nth(1)?.to_string();
    let mut if_none_match = None;
    loop {
        line.clear();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let header = line.trim_end();
        if header.is_empty() {
            return Some((path, if_none_match));
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("if-none-match")
        {
            if_none_match = Some(value.trim().to_string());
        }
    }
}

/// A file directly in `dir`, for a request path such as `/f00003.xml`.
fn file_of(dir: &Path, path: &str) -> Option<PathBuf> {
    let name = path.strip_prefix('/')?;
    let plain = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_');
    plain.then(|| dir.join(name))
}

/// FNV-1a: a content hash for the ETag, so a rewritten file gets a new one.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// Runs `bench/gen_farm.py` with these arguments.
fn gen_farm(args: &[&str]) -> serde_json::Value {
    let line = bench_script("gen_farm.py", args);
    serde_json::from_str(line.trim()).expect("gen_farm.py prints one JSON line")
}

/// Runs a script of `bench/` with these arguments; its stdout.
fn bench_script(name: &str, args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench").join(name);
    let out = Command::new("python3")
        .arg(&script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("python3 is needed to run {}: {e}", script.display()));
    assert!(out.status.success(), "{name} {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A config polling every farm URL, the way bench/run.sh writes it.
fn write_config(dir: &Path, farm: &Path, server: &FarmServer) -> PathBuf {
    let urls = std::fs::read_to_string(farm.join("urls.txt")).expect("urls.txt");
    let mut text = String::from(
        "[settings]\ndatabase = \"polyfeed.db\"\noutput_dir = \"public\"\nlanguages = [\"fi\", \"sv\", \"en\"]\n\
         per_host_delay = \"0s\"\nper_host_concurrency = 8\nconcurrency = 8\n",
    );
    for name in urls.lines().filter(|l| !l.is_empty()) {
        text.push_str(&format!("\n[[source]]\nurl = \"http://{}/{name}\"\n", server.addr));
    }
    let path = dir.join("feeds.toml");
    std::fs::write(&path, text).expect("write the config");
    path
}

/// A farm of `feeds` x `entries` (seed `seed`) in `dir`, served on
/// loopback, and a config polling it.
fn served_farm(dir: &Path, feeds: usize, entries: u64, seed: u64) -> (FarmServer, PathBuf) {
    let farm = dir.join("farm");
    let farm_arg = farm.to_str().expect("UTF-8 temp path");
    gen_farm(&[
        farm_arg,
        "--feeds",
        &feeds.to_string(),
        "--entries",
        &entries.to_string(),
        "--seed",
        &seed.to_string(),
    ]);
    let server = FarmServer::start(&farm);
    let config = write_config(dir, &farm, &server);
    (server, config)
}

/// `polyfeed stories ARGS` on this config: its standard output, after
/// checking that it succeeded.
fn stories(config: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_polyfeed"))
        .arg("--config")
        .arg(config)
        .arg("stories")
        .args(args)
        .env_remove("POLYFEED_CONFIG")
        .output()
        .expect("run polyfeed stories");
    assert!(out.status.success(), "stories {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// What one `poll --all --json` did.
#[derive(Debug, PartialEq, Eq)]
struct Polled {
    ok: usize,
    not_modified: usize,
    failed: usize,
    new: u64,
}

fn poll(config: &Path) -> Polled {
    // Counts only: the cross-language word table (`POLYFEED_LEXICON`) changes
    // no count here, so it is not loaded, as in the other synthetic-feed tests.
    poll_with(config, "")
}

/// `poll --all --json` with this word table (`POLYFEED_LEXICON`; empty: none).
fn poll_with(config: &Path, lexicon: &str) -> Polled {
    let out = Command::new(env!("CARGO_BIN_EXE_polyfeed"))
        .args(["--config"])
        .arg(config)
        .args(["-q", "poll", "--all", "--json"])
        .env("POLYFEED_LEXICON", lexicon)
        .env_remove("POLYFEED_CONFIG")
        .env_remove("RUST_LOG")
        .output()
        .expect("run polyfeed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "polyfeed poll failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value = serde_json::from_str(&stdout).expect("poll --json prints JSON");
    let sources = summary["sources"].as_array().expect("sources");
    let outcomes = |o: &str| sources.iter().filter(|s| s["outcome"] == o).count();
    Polled {
        ok: outcomes("ok"),
        not_modified: outcomes("not_modified"),
        failed: outcomes("failed"),
        new: sources.iter().map(|s| s["stats"]["new"].as_u64().unwrap_or(0)).sum(),
    }
}

#[test]
fn tiny_farm_polls_cold_warm_and_changed() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let farm = tmp.path().join("farm");
    let farm_arg = farm.to_str().expect("UTF-8 temp path");
    let made = gen_farm(&[farm_arg, "--feeds", "20", "--entries", "5", "--seed", "1"]);
    assert_eq!(made["total_entries"], FEEDS as u64 * ENTRIES);
    let server = FarmServer::start(&farm);
    let config = write_config(tmp.path(), &farm, &server);

    let cold = poll(&config);
    assert_eq!(cold, Polled { ok: FEEDS, not_modified: 0, failed: 0, new: FEEDS as u64 * ENTRIES }, "cold poll");
    assert_eq!(server.full.load(Ordering::Relaxed), FEEDS);

    let warm = poll(&config);
    assert_eq!(warm, Polled { ok: 0, not_modified: FEEDS, failed: 0, new: 0 }, "warm poll: every source 304");
    assert_eq!(server.not_modified.load(Ordering::Relaxed), FEEDS);

    let touched = gen_farm(&[farm_arg, "--touch-percent", "10"]);
    assert_eq!(touched["feeds_touched"], 2);
    let changed = poll(&config);
    assert_eq!(changed, Polled { ok: 2, not_modified: FEEDS - 2, failed: 0, new: 2 }, "after touching 10 %");
}

#[test]
fn real_text_farm_keeps_its_truth_and_scores_its_stories() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let farm = tmp.path().join("real");
    let farm_arg = farm.to_str().expect("UTF-8 temp path");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = root.join("tests/fixtures/eval_dedup/corpus.jsonl");
    let args = [farm_arg, "--corpus", corpus.to_str().expect("UTF-8 path"), "--feeds", "6", "--entries", "4"];
    let made = gen_farm(&args);
    assert_eq!((made["feeds"].as_u64(), made["total_entries"].as_u64()), (Some(6), Some(24)), "{made}");

    // The truth: one line per entry, each entry in the feed it names, and
    // copies of one document (reposts of the small corpus) never within the
    // story window of each other, so that no reuse makes a false truth.
    let truth: Vec<serde_json::Value> = std::fs::read_to_string(farm.join("truth.jsonl"))
        .expect("truth.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(truth.len(), 24);
    let mut by_doc: std::collections::BTreeMap<&str, Vec<chrono::DateTime<chrono::Utc>>> = Default::default();
    for t in &truth {
        let file = farm.join(format!("f{:05}.xml", t["feed"].as_u64().expect("feed")));
        let text = std::fs::read_to_string(&file).expect("feed file");
        let guid = format!(">{}<", t["guid"].as_str().expect("guid")); // the whole <guid> or <id>
        assert_eq!(text.matches(&guid).count(), 1, "{t} in {}", file.display());
        let when = chrono::DateTime::parse_from_rfc3339(t["published"].as_str().expect("published")).expect("a date");
        by_doc.entry(t["doc"].as_str().expect("doc")).or_default().push(when.with_timezone(&chrono::Utc));
    }
    assert!(by_doc.values().any(|d| d.len() > 1), "a farm bigger than its corpus reposts documents");
    for (doc, mut dates) in by_doc {
        dates.sort();
        for pair in dates.windows(2) {
            assert!(pair[1] - pair[0] > chrono::Duration::days(7), "{doc}: copies at {} and {}", pair[0], pair[1]);
        }
    }

    let server = FarmServer::start(&farm);
    let config = bench_script("real_farm.py", &["config", farm_arg, &format!("http://{}", server.addr)]);
    let config_path = tmp.path().join("feeds.toml");
    std::fs::write(&config_path, config).expect("write the config");
    let lexicon = root.join("tests/fixtures/eval_dedup/lexicon.tsv");
    let cold = poll_with(&config_path, lexicon.to_str().expect("UTF-8 path"));
    assert_eq!(cold, Polled { ok: 6, not_modified: 0, failed: 0, new: 24 }, "cold poll of the real-text farm");

    let listed = stories(&config_path, &["--json", "--limit", "1000"]);
    let stories_path = tmp.path().join("stories.json");
    std::fs::write(&stories_path, listed).expect("write stories");
    let score: serde_json::Value =
        serde_json::from_str(&bench_script("score_farm.py", &[farm_arg, stories_path.to_str().expect("UTF-8")]))
            .expect("score_farm.py prints JSON");
    assert_eq!((score["entries"].as_u64(), score["missing"].as_u64()), (Some(24), Some(0)), "{score}");
    // The fixture's versions are found and its other posts kept apart
    // (eval-dedup scores this corpus 1.0 / 1.0 with this word table).
    assert!(score["tp"].as_u64() > Some(0), "{score}");
    let (p, r) = (score["precision"].as_f64().expect("precision"), score["recall"].as_f64().expect("recall"));
    assert!(p >= 0.9 && r >= 0.9, "precision {p}, recall {r}: {score}");
}

/// `stories` reads and prints a few hundred stories at a time: a list longer
/// than one batch is still one JSON array, newest first, whose first stories
/// are those a shorter list gives, and the text form lists the same stories.
#[test]
fn a_story_list_longer_than_one_batch_is_one_array() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let (_server, config) = served_farm(tmp.path(), 20, 40, 3);
    assert_eq!(poll(&config).new, 800);
    let stories = |args: &[&str]| stories(&config, args);
    let all: Vec<serde_json::Value> =
        serde_json::from_str(&stories(&["--json", "--limit", "100000"])).expect("one JSON array");
    assert!(all.len() > 512, "stories of three batches of 256: {}", all.len());
    let versions: usize = all.iter().map(|s| s["versions"].as_array().map_or(0, Vec::len)).sum();
    let duplicates: usize = all.iter().map(|s| s["duplicates"].as_array().map_or(0, Vec::len)).sum();
    assert_eq!(versions + duplicates, 800, "every entry listed once");
    let dates: Vec<&str> = all.iter().map(|s| s["published"].as_str().expect("published")).collect();
    assert!(dates.windows(2).all(|w| w[0] >= w[1]), "newest first");
    let some: Vec<serde_json::Value> =
        serde_json::from_str(&stories(&["--json", "--limit", "300"])).expect("one JSON array");
    assert_eq!(some[..], all[..300]);
    let text = stories(&["--limit", "100000"]);
    let headers = text.lines().filter(|l| !l.starts_with(' ')).count();
    assert_eq!(headers, all.len(), "one header line per story");
    assert_eq!(stories(&["--json", "--tag", "no-such-tag"]).trim(), "[]");
}

/// `bench/grow_db.py` (the 100k and 1M databases of `bench/assign_scale.sh`)
/// reads what this polyfeed stores: a polled farm grown to three copies
/// holds three times its entries, every copy's features decode (in the
/// format stored), moved back in time and with their identities suffixed,
/// and polyfeed lists every entry of the grown database in a story.
#[test]
fn a_grown_database_holds_decodable_copies_of_every_entry() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let (_server, config) = served_farm(tmp.path(), FEEDS, ENTRIES, 1);
    assert_eq!(poll(&config).new, FEEDS as u64 * ENTRIES);

    let grown = tmp.path().join("grown.db");
    let base_db = tmp.path().join("polyfeed.db");
    let total = 3 * FEEDS as u64 * ENTRIES;
    bench_script(
        "grow_db.py",
        &[base_db.to_str().expect("UTF-8"), grown.to_str().expect("UTF-8"), "--entries", &total.to_string()],
    );

    let db = rusqlite::Connection::open(&grown).expect("open the grown database");
    let rows: Vec<(String, Vec<u8>)> = db
        .prepare("SELECT e.key, f.features FROM entries e JOIN entry_features f ON f.entry_id = e.id")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(rows.len() as u64, total, "three copies of every entry, each with its features");
    let mut originals = std::collections::HashMap::new();
    for (key, stored) in &rows {
        let f = polyfeed::dedup::Features::decode(stored).unwrap_or_else(|| panic!("{key}: features do not decode"));
        if !key.contains("~c") {
            originals.insert(key.clone(), f);
        }
    }
    assert_eq!(originals.len() as u64, FEEDS as u64 * ENTRIES);
    for (key, stored) in &rows {
        let Some((base_key, copy)) = key.rsplit_once("~c") else { continue };
        let f = polyfeed::dedup::Features::decode(stored).expect("decoded above");
        let original = &originals[base_key];
        assert!(f.published < original.published, "{key}: copy {copy} is older than its original");
        let suffix = format!("~c{copy}");
        assert!(f.guid.as_deref().is_some_and(|g| g.ends_with(&suffix)), "{key}: guid {:?}", f.guid);
        assert_eq!(f.content, original.content, "{key}: the text's features are the original's");
    }
    drop(db);

    // polyfeed itself reads the grown database: every entry is in a story.
    for stale in ["polyfeed.db-wal", "polyfeed.db-shm"] {
        let _ = std::fs::remove_file(tmp.path().join(stale));
    }
    std::fs::copy(&grown, &base_db).expect("the grown database in place");
    let stories: Vec<serde_json::Value> =
        serde_json::from_str(&stories(&config, &["--json", "--limit", "100000"])).expect("one JSON array");
    let listed: usize = stories
        .iter()
        .map(|s| s["versions"].as_array().map_or(0, Vec::len) + s["duplicates"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(listed as u64, total, "every entry of the grown database listed once");
}
