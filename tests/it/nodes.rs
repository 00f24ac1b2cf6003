//! Several `polyfeed run` nodes on one PostgreSQL database, against a
//! loopback farm of 210 feeds on three hosts (127.0.0.1, .2 and .3) whose
//! server logs every request and measures how many run at once per host:
//! every feed is requested once per due period; per-host limits hold for
//! the cluster; the stories equal those of one SQLite `poll` of the same
//! farm; every node serves the same `/all.atom` bytes and ETag, a
//! conditional request to another node gets 304, and a `poll` from a fourth
//! process reaches every node's feeds within seconds (NOTIFY). Then
//! `kill -9` of a node in the middle of its cycle: the others poll its
//! sources, nothing stored is lost or duplicated, every entry has a story.
//! Needs `POLYFEED_TEST_DATABASE`, like `postgres.rs`.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Request, Response, Server, http_get, http_get_with, stderr, stdout, wait_for};
use polyfeed::config::Database;
use polyfeed::store::Store;

/// Publishers in the farm: each posts in fi (host 1), sv (host 2) and en
/// (host 3), so one story's versions are fetched by whichever nodes hold
/// those hosts.
const PUBLISHERS: usize = 70;
/// Entries per feed.
const ENTRIES: usize = 5;
const HOSTS: [&str; 3] = ["127.0.0.1", "127.0.0.2", "127.0.0.3"];
const LANGS: [&str; 3] = ["fi", "sv", "en"];
/// The cluster-wide limits the farm checks.
const PER_HOST: usize = 2;
const DELAY_MS: u64 = 120;

/// How many requests one host is answering, and the most at once.
#[derive(Default)]
struct HostLog {
    running: AtomicUsize,
    most: AtomicUsize,
}

/// The farm: three servers, the feeds on them, what each host saw.
struct Farm {
    servers: Vec<Server>,
    logs: Vec<Arc<HostLog>>,
    /// Feed URLs, in config order.
    feeds: Vec<String>,
}

impl Farm {
    /// Every feed answers after `work` (so that requests overlap).
    fn start(work: Duration) -> Farm {
        let mut servers = Vec::new();
        let mut logs = Vec::new();
        for host in HOSTS {
            let listener = TcpListener::bind((host, 0)).unwrap_or_else(|e| panic!("bind {host}: {e}"));
            servers.push(Server::start_on(listener));
            logs.push(Arc::new(HostLog::default()));
        }
        let mut feeds = Vec::new();
        for p in 0..PUBLISHERS {
            for (h, lang) in LANGS.iter().enumerate() {
                let path = format!("/{lang}/{p}.atom");
                let body = atom(&servers, p, lang);
                let log = logs[h].clone();
                let etag = format!("\"{lang}{p}\"");
                servers[h].route(&path, move |req: &Request| {
                    let now = log.running.fetch_add(1, Ordering::SeqCst) + 1;
                    log.most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(work);
                    log.running.fetch_sub(1, Ordering::SeqCst);
                    let r = if req.header("if-none-match") == Some(etag.as_str()) {
                        Response::status(304)
                    } else {
                        Response::ok(body.clone())
                    };
                    r.header("ETag", &etag).header("Content-Type", "application/atom+xml")
                });
                feeds.push(servers[h].url(&path));
            }
        }
        Farm { servers, logs, feeds }
    }

    /// Requests per feed path, over all hosts.
    fn requests(&self) -> BTreeMap<String, usize> {
        let mut n = BTreeMap::new();
        for (s, host) in self.servers.iter().zip(HOSTS) {
            for r in s.all_requests() {
                *n.entry(format!("{host}{}", r.path)).or_insert(0) += 1;
            }
        }
        n
    }

    fn total_requests(&self) -> usize {
        self.servers.iter().map(|s| s.all_requests().len()).sum()
    }

    /// Per host: at most `PER_HOST` at once, and request lines arriving
    /// `DELAY_MS` apart, whichever node asked. The margin is half the delay:
    /// on a loaded machine one request can reach the server tens of
    /// milliseconds late; a node that did not wait for the last request of
    /// the host's previous holder would send its first within a few.
    fn assert_polite(&self) {
        for ((log, server), host) in self.logs.iter().zip(&self.servers).zip(HOSTS) {
            let most = log.most.load(Ordering::SeqCst);
            assert!(most <= PER_HOST, "{host}: {most} requests at once");
            let mut starts: Vec<Instant> = server.all_requests().iter().map(|r| r.at).collect();
            starts.sort();
            let closest = starts.windows(2).map(|w| w[1] - w[0]).min().unwrap_or(Duration::MAX);
            assert!(closest >= Duration::from_millis(DELAY_MS / 2), "{host}: two requests {closest:?} apart");
        }
    }

    /// The config: the feeds, the cluster's politeness, `extra` settings.
    fn config(&self, dir: &Path, extra: &str) -> PathBuf {
        let mut text = format!(
            "[settings]\nlanguages = [\"fi\", \"sv\", \"en\"]\nper_host_concurrency = {PER_HOST}\n\
             per_host_delay = \"{DELAY_MS}ms\"\nconcurrency = 16\ninterval = \"1h\"\n{extra}\n"
        );
        for (i, url) in self.feeds.iter().enumerate() {
            let p = i / LANGS.len();
            text.push_str(&format!("\n[[source]]\nurl = \"{url}\"\ngroup = \"publisher-{p}\"\ntags = [\"farm\"]\n"));
        }
        let path = dir.join("feeds.toml");
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// One publisher's feed in one language: `ENTRIES` posts, each linking to
/// its versions in the other two languages (hreflang), so that the stories
/// do not depend on a word table.
fn atom(servers: &[Server], p: usize, lang: &str) -> String {
    let page = |lang: &str, n: usize| {
        let h = LANGS.iter().position(|l| *l == lang).unwrap();
        servers[h].url(&format!("/{lang}/{p}/{n}.html"))
    };
    let mut entries = String::new();
    for n in 0..ENTRIES {
        let mut links = format!("<link rel=\"alternate\" href=\"{}\"/>", page(lang, n));
        for other in LANGS.iter().filter(|l| **l != lang) {
            links.push_str(&format!("<link rel=\"alternate\" hreflang=\"{other}\" href=\"{}\"/>", page(other, n)));
        }
        entries.push_str(&format!(
            "<entry><id>urn:farm:{p}:{lang}:{n}</id><title>{lang} {p} post {n}</title>{links}\
             <updated>2026-11-{day:02}T{hour:02}:00:00Z</updated>\
             <content type=\"html\">&lt;p&gt;Publisher {p} says {n} in {lang}: {word}.&lt;/p&gt;</content></entry>",
            day = 1 + n,
            hour = p % 24,
            word = ["kissa", "katt", "cat"][LANGS.iter().position(|l| *l == lang).unwrap()],
        ));
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"{lang}\">\
         <id>urn:farm:{p}:{lang}</id><title>Publisher {p} ({lang})</title><updated>2026-11-10T00:00:00Z</updated>\
         {entries}</feed>"
    )
}

/// A `polyfeed run` node, started without waiting for its first cycle.
struct Node {
    name: String,
    child: Child,
    addr: Arc<Mutex<Option<SocketAddr>>>,
    log: PathBuf,
}

impl Node {
    fn spawn(config: &Path, database: &str, name: &str) -> Node {
        let log = config.with_file_name(format!("{name}.log"));
        let mut child = common::command(config, &["run", "--listen", "127.0.0.1:0"])
            .env("POLYFEED_DATABASE", database)
            .env("POLYFEED_NODE", name)
            .env(common::NO_LEXICON.0, common::NO_LEXICON.1)
            .env("RUST_LOG", "polyfeed=info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start polyfeed run");
        let addr = Arc::new(Mutex::new(None));
        let (out, slot) = (child.stdout.take().unwrap(), addr.clone());
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(out).read_line(&mut line);
            let found = line.split("http://").nth(1).and_then(|r| r.split('/').next()).and_then(|a| a.parse().ok());
            *slot.lock().unwrap() = found;
        });
        Node { name: name.to_string(), child, addr, log }
    }

    /// Its address, once its first cycle is over.
    fn url(&self, path: &str) -> String {
        let mut addr = None;
        wait_for(120, &format!("{} to announce its address", self.name), || {
            addr = *self.addr.lock().unwrap();
            addr.is_some()
        });
        format!("http://{}{path}", addr.unwrap())
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn cli(config: &Path, database: Option<&str>, args: &[&str]) -> std::process::Output {
    let mut c: Command = common::command(config, args);
    c.env(common::NO_LEXICON.0, common::NO_LEXICON.1).env("POLYFEED_NODE", "cron");
    if let Some(url) = database {
        c.env("POLYFEED_DATABASE", url);
    }
    let o = c.output().expect("run polyfeed");
    assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
    o
}

fn sources(config: &Path, database: &str) -> Vec<serde_json::Value> {
    serde_json::from_str(&stdout(&cli(config, Some(database), &["sources", "--json"]))).unwrap()
}

/// Each story as the set of its versions' and duplicates' entry keys, with
/// its tags: what "the same stories" means whatever the entry row ids.
fn story_sets(config: &Path, database: Option<&str>) -> BTreeSet<String> {
    let text = stdout(&cli(config, database, &["stories", "--json", "--limit", "100000"]));
    let stories: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    stories
        .iter()
        .map(|s| {
            let mut keys: Vec<String> = ["versions", "duplicates"]
                .iter()
                .flat_map(|k| s[k].as_array().unwrap().iter())
                .map(|v| format!("{}:{}", v["lang"].as_str().unwrap_or("-"), v["entry_key"].as_str().unwrap()))
                .collect();
            keys.sort();
            format!("{} {} {:?}", s["id"], s["tags"], keys)
        })
        .collect()
}

fn stats(database: &str) -> (u64, u64, bool) {
    let store = Store::open(&Database::Postgres(database.to_string())).unwrap();
    let s = store.stats().unwrap();
    (s.entries, s.stories, store.has_unassigned().unwrap())
}

#[test]
fn three_nodes_poll_each_feed_once_and_serve_the_same_feeds() {
    let Some(db) = common::pg_scratch() else { return };
    let farm = Farm::start(Duration::from_millis(20));
    let dir = tempfile::tempdir().unwrap();
    let config = farm.config(dir.path(), "");
    let nodes: Vec<Node> = ["n1", "n2", "n3"].iter().map(|n| Node::spawn(&config, db.url(), n)).collect();
    let all = farm.feeds.len();
    wait_for(180, "every feed polled", || {
        sources(&config, db.url()).iter().filter(|s| s["last_outcome"] == "ok").count() == all
    });
    // A few more idle cycles of every node: nothing is asked again within
    // the hour.
    std::thread::sleep(Duration::from_secs(7));
    let requests = farm.requests();
    assert_eq!(requests.len(), all, "every feed requested");
    let twice: Vec<_> = requests.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "requested more than once: {twice:?}");
    farm.assert_polite();
    let store = Store::open(&Database::Postgres(db.url().to_string())).unwrap();
    let mut by_node: BTreeMap<String, usize> = BTreeMap::new();
    for source in store.source_rows().unwrap() {
        let fetch = store.recent_fetches(source.id, 1).unwrap();
        *by_node.entry(fetch[0].node.clone().unwrap_or_default()).or_insert(0) += 1;
    }
    drop(store);
    assert!(by_node.keys().all(|n| ["n1", "n2", "n3"].contains(&n.as_str())), "fetches name their node: {by_node:?}");
    eprintln!("feeds fetched per node: {by_node:?}");

    // A node that found another assigning comes back within seconds for
    // what that one did not take.
    wait_for(30, "every entry assigned", || !stats(db.url()).2);
    let (entries, _, _) = stats(db.url());
    assert_eq!(entries as usize, all * ENTRIES);

    // Every node serves the same bytes with the same ETag (each renders
    // after the last cycle of any node: wait until they agree).
    let mut first = (0, Default::default(), Vec::new());
    wait_for(30, "all nodes serving the same /all.atom", || {
        let got: Vec<_> = nodes.iter().map(|n| http_get(&n.url("/all.atom"))).collect();
        let same = got.iter().all(|g| g.0 == 200 && g.2 == got[0].2 && g.1.get("etag") == got[0].1.get("etag"));
        first = got[0].clone();
        same && first.2.windows(4).any(|w| w == b"post")
    });
    let etag = first.1["etag"].to_str().unwrap().to_string();
    let conditional = http_get_with(&nodes[2].url("/all.atom"), &[("If-None-Match", &etag)]);
    assert_eq!(conditional.0, 304, "another node knows the first node's ETag");

    // The same stories as one SQLite poll of the farm.
    let single = tempfile::tempdir().unwrap();
    let single_config = farm.config(single.path(), "");
    cli(&single_config, None, &["poll"]);
    let (cluster, alone) = (story_sets(&config, Some(db.url())), story_sets(&single_config, None));
    assert_eq!(cluster.len(), PUBLISHERS * ENTRIES, "one story per post: {cluster:?}");
    let only: Vec<_> = cluster.symmetric_difference(&alone).collect();
    assert!(only.is_empty(), "the cluster's stories are one SQLite run's; differing: {only:#?}");

    // A poll from a fourth process (cron) with a changed feed: every node
    // serves the new entry within seconds, told by NOTIFY.
    let late = "<entry><id>urn:farm:late</id><title>Late news</title><updated>2026-11-30T12:00:00Z</updated>\
                <content>late</content></entry><entry>";
    let body = atom(&farm.servers, 0, "fi").replacen("<entry>", late, 1);
    assert!(farm.feeds[0].ends_with("/fi/0.atom"));
    farm.servers[0].route("/fi/0.atom", move |_| Response::ok(body.clone()));
    cli(&config, Some(db.url()), &["poll", "--all"]);
    let started = Instant::now();
    wait_for(20, "every node serving the late entry", || {
        nodes.iter().all(|n| http_get(&n.url("/all.atom")).2.windows(9).any(|w| w == b"Late news"))
    });
    eprintln!("all nodes served the change {:?} after the poll ended", started.elapsed());
    for n in &nodes {
        let log = n.log();
        assert!(!log.contains("ERROR"), "{}: {log}", n.name);
        // Every line names the node, also those of the server and the
        // runtime's other threads.
        let own = format!("node{{node={}}}", n.name);
        let other: Vec<_> = log.lines().filter(|l| !l.contains(&own)).collect();
        assert!(!log.is_empty() && other.is_empty(), "{}: lines without the node: {other:#?}", n.name);
    }
}

#[test]
fn a_node_killed_mid_cycle_loses_nothing() {
    let Some(db) = common::pg_scratch() else { return };
    let farm = Farm::start(Duration::from_millis(60));
    let dir = tempfile::tempdir().unwrap();
    let config = farm.config(dir.path(), "lease = \"2s\"");
    let mut nodes: Vec<Node> = ["k1", "k2", "k3"].iter().map(|n| Node::spawn(&config, db.url(), n)).collect();
    let all = farm.feeds.len();
    // Kill, mid-cycle, a node that holds leases.
    let mut victim = None;
    wait_for(120, "a node holding leases mid-cycle", || {
        if farm.total_requests() < 10 {
            return false;
        }
        let leased: BTreeSet<String> =
            sources(&config, db.url()).iter().filter_map(|s| s["leased_by"].as_str().map(String::from)).collect();
        victim = nodes.iter().position(|n| leased.contains(&n.name));
        victim.is_some()
    });
    let mut dead = nodes.remove(victim.unwrap());
    let held: usize = sources(&config, db.url()).iter().filter(|s| s["leased_by"] == dead.name.as_str()).count();
    dead.child.kill().unwrap();
    dead.child.wait().unwrap();
    eprintln!("killed {} holding {held} sources after {} requests", dead.name, farm.total_requests());
    wait_for(180, "every feed polled by the others", || {
        sources(&config, db.url()).iter().filter(|s| s["last_outcome"] == "ok").count() == all
    });
    let requests = farm.requests();
    assert_eq!(requests.len(), all, "every feed requested");
    // Only what the dead node had in flight may have been asked twice.
    let again = requests.values().filter(|n| **n > 1).count();
    assert!(again <= PER_HOST * HOSTS.len(), "{again} feeds requested again");
    assert!(requests.values().all(|n| *n <= 2), "{requests:?}");
    farm.assert_polite();
    // Nothing lost or stored twice; every entry has a story (the dead
    // node's assignment, if it was assigning, was rolled back and done by
    // another node).
    wait_for(60, "every entry assigned", || !stats(db.url()).2);
    let (entries, stories, _) = stats(db.url());
    assert_eq!(entries as usize, all * ENTRIES, "each entry stored once");
    assert_eq!(stories as usize, PUBLISHERS * ENTRIES, "one story per post");
    drop(dead);
}
