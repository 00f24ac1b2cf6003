//! Test support: a real HTTP/1.1 server on 127.0.0.1 port 0 whose routes
//! tests program (status, headers, body, slow drip), which records every
//! request; and helpers to write a config and run the real binary.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    pub path: String,
    /// When the request line arrived.
    pub at: std::time::Instant,
    /// Header names lower-cased.
    pub headers: HashMap<String, String>,
    /// The body (read when Content-Length is given, up to 1 MiB).
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }
}

/// What a route answers.
#[derive(Debug, Clone, Default)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Send the body in chunks of this many bytes with this pause between them.
    pub drip: Option<(usize, Duration)>,
    /// Send header lines forever (until the client hangs up, at most 60 s).
    pub endless_headers: bool,
}

impl Response {
    pub fn ok(body: impl Into<Vec<u8>>) -> Response {
        Response { status: 200, body: body.into(), ..Response::default() }
    }
    pub fn status(status: u16) -> Response {
        Response { status, ..Response::default() }
    }
    pub fn header(mut self, k: &str, v: &str) -> Response {
        self.headers.push((k.into(), v.into()));
        self
    }
    pub fn redirect(status: u16, to: &str) -> Response {
        Response::status(status).header("Location", to)
    }
}

type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

/// The server. Routes can be changed while it runs.
#[derive(Clone)]
pub struct Server {
    pub addr: SocketAddr,
    routes: Arc<Mutex<HashMap<String, Handler>>>,
    log: Arc<Mutex<Vec<Request>>>,
}

impl Server {
    pub fn start() -> Server {
        Server::start_on(TcpListener::bind("127.0.0.1:0").expect("bind loopback"))
    }

    /// Serves on a listener of the caller's (another loopback address).
    pub fn start_on(listener: TcpListener) -> Server {
        let server = Server { addr: listener.local_addr().unwrap(), routes: Arc::default(), log: Arc::default() };
        let s = server.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let s = s.clone();
                std::thread::spawn(move || s.serve(stream));
            }
        });
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Sets the handler of a path.
    pub fn route(&self, path: &str, f: impl Fn(&Request) -> Response + Send + Sync + 'static) {
        self.routes.lock().unwrap().insert(path.to_string(), Arc::new(f));
    }

    /// Serves a fixed feed with an ETag and Last-Modified, answering 304 to
    /// a request that echoes either exactly.
    pub fn feed(&self, path: &str, body: impl Into<Vec<u8>>, etag: &str, last_modified: &str) {
        let body = body.into();
        let (etag, lm) = (etag.to_string(), last_modified.to_string());
        self.route(path, move |req| {
            let hit = req.header("if-none-match") == Some(etag.as_str())
                || req.header("if-modified-since") == Some(lm.as_str());
            let r = if hit { Response::status(304) } else { Response::ok(body.clone()) };
            r.header("ETag", &etag)
                .header("Last-Modified", &lm)
                .header("Content-Type", "application/rss+xml; charset=utf-8")
        });
    }

    /// Every request so far to a path.
    pub fn requests(&self, path: &str) -> Vec<Request> {
        self.log.lock().unwrap().iter().filter(|r| r.path == path).cloned().collect()
    }

    pub fn all_requests(&self) -> Vec<Request> {
        self.log.lock().unwrap().clone()
    }

    fn serve(&self, stream: TcpStream) {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        loop {
            let Some(req) = read_request(&mut reader) else { return };
            self.log.lock().unwrap().push(req.clone());
            let handler = self.routes.lock().unwrap().get(&req.path).cloned();
            let resp = handler.map_or_else(|| Response::status(404), |h| h(&req));
            if write_response(&stream, &resp).is_err() {
                return;
            }
        }
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let at = std::time::Instant::now();
    let method = line.split_whitespace().next()?.to_string();
    let path = line.split_whitespace().nth(1)?.to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len = headers.get("content-length").and_then(|v| v.parse::<usize>().ok()).unwrap_or(0).min(1 << 20);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Request { method, path, at, headers, body })
}

fn write_response(mut stream: &TcpStream, r: &Response) -> std::io::Result<()> {
    if r.endless_headers {
        stream.write_all(b"HTTP/1.1 200 OK\r\n")?;
        let until = std::time::Instant::now() + Duration::from_secs(60);
        for i in 0u64.. {
            if std::time::Instant::now() > until {
                break;
            }
            stream.write_all(format!("X-Filler-{i}: {}\r\n", "y".repeat(100)).as_bytes())?;
            if i % 100 == 0 {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        return Ok(());
    }
    let mut head = format!("HTTP/1.1 {} X\r\n", r.status);
    for (k, v) in &r.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if r.status != 304 {
        head.push_str(&format!("Content-Length: {}\r\n", r.body.len()));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    match r.drip {
        None => stream.write_all(&r.body)?,
        Some((n, pause)) => {
            for chunk in r.body.chunks(n.max(1)) {
                stream.write_all(chunk)?;
                stream.flush()?;
                std::thread::sleep(pause);
            }
        }
    }
    stream.flush()
}

/// gzip-compresses bytes.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// brotli-compresses bytes.
pub fn brotli(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
        w.write_all(data).unwrap();
    }
    out
}

/// An RSS 2.0 document with `n` items (guid `{prefix}-{i}`).
pub fn rss(title: &str, prefix: &str, n: usize) -> String {
    let items: String = (0..n)
        .map(|i| {
            format!(
                "<item><guid>{prefix}-{i}</guid><title>{title} {i}</title><link>https://example.org/{prefix}/{i}</link>\
                 <description>&lt;p&gt;Body {i}&lt;/p&gt;</description><pubDate>Mon, 02 Nov 2026 0{}:00:00 GMT</pubDate></item>",
                i % 10
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>{title}</title><language>en</language><link>https://example.org/</link>{items}</channel></rss>"
    )
}

/// A temporary directory with a feeds.toml.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    /// `settings` is TOML for the [settings] table body; `sources` are
    /// (url, extra TOML lines) pairs.
    pub fn new(settings: &str, sources: &[(&str, &str)]) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let mut toml = format!("[settings]\ncontact = \"https://example.org/ops\"\n{settings}\n");
        if !settings.contains("timeout =") {
            toml.push_str("timeout = \"5s\"\n");
        }
        if !settings.contains("per_host_delay =") {
            toml.push_str("per_host_delay = \"20ms\"\n");
        }
        for (url, extra) in sources {
            toml.push_str(&format!("\n[[source]]\nurl = \"{url}\"\n{extra}\n"));
        }
        std::fs::write(dir.path().join("feeds.toml"), toml).unwrap();
        Env { dir }
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("feeds.toml")
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("polyfeed.db")
    }

    /// Runs the real binary with `--config` and the given arguments. These
    /// environments test fetching and storing on synthetic English feeds:
    /// the cross-language word table is not loaded (`POLYFEED_LEXICON=`),
    /// which keeps each run short; the example-based tests use it.
    pub fn run(&self, args: &[&str]) -> Output {
        command(&self.config(), args)
            .current_dir(self.dir.path())
            .env(NO_LEXICON.0, NO_LEXICON.1)
            .output()
            .expect("run polyfeed")
    }

    /// `polyfeed sources --json`, parsed.
    pub fn sources(&self) -> Vec<serde_json::Value> {
        let out = self.run(&["sources", "--json"]);
        assert!(out.status.success(), "sources failed: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// The sources row for a URL.
    pub fn source(&self, url: &str) -> serde_json::Value {
        self.sources().into_iter().find(|s| s["url"] == url).unwrap_or_else(|| panic!("no source {url}"))
    }

    /// A query returning one integer against the database.
    pub fn count(&self, sql: &str) -> i64 {
        let c = rusqlite::Connection::open(self.db()).unwrap();
        c.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    pub fn integrity_ok(&self) {
        let c = rusqlite::Connection::open(self.db()).unwrap();
        let r: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
        assert_eq!(r, "ok");
        story_index_ok(&self.db());
    }
}

/// The publishing index (schema 8) of the database at `path` holds, for
/// every story not marked for refresh in `story_dirty`, exactly the rows
/// computed from its entries (first publication time; one row for all,
/// one per source, one per category term), and nothing for stories that
/// are gone. Whatever changed the stories (merges, splits, purges,
/// revisions), only marked stories may be out of date.
pub fn story_index_ok(path: &Path) {
    let c = rusqlite::Connection::open(path).unwrap();
    let has: i64 = c
        .query_row("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'story_index'", [], |r| r.get(0))
        .unwrap();
    if has == 0 {
        return;
    }
    let rows = |sql: &str| -> Vec<(String, String, String)> {
        let mut stmt = c.prepare(sql).unwrap();
        let mut out: Vec<(String, String, String)> =
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect();
        out.sort();
        out
    };
    let expected = rows(
        "WITH first AS (SELECT se.story_id, MIN(e.published_at) AS p FROM story_entries se JOIN entries e ON e.id = se.entry_id
                        WHERE se.story_id NOT IN (SELECT story_id FROM story_dirty) GROUP BY se.story_id)
         SELECT story_id, '', p FROM first
         UNION SELECT f.story_id, 's:' || e.source_id, f.p FROM first f
           JOIN story_entries se ON se.story_id = f.story_id JOIN entries e ON e.id = se.entry_id
         UNION SELECT f.story_id, 'c:' || c.term, f.p FROM first f
           JOIN story_entries se ON se.story_id = f.story_id JOIN entry_categories c ON c.entry_id = se.entry_id",
    );
    let actual = rows(
        "SELECT story_id, key, published FROM story_index WHERE story_id NOT IN (SELECT story_id FROM story_dirty)",
    );
    assert_eq!(actual, expected, "story_index differs from the stories' entries");
}

/// The environment that skips loading the word table.
pub const NO_LEXICON: (&str, &str) = ("POLYFEED_LEXICON", "");

/// The real binary with `--config` and arguments, environment cleaned.
pub fn command(config: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_polyfeed"));
    c.arg("--config")
        .arg(config)
        .args(args)
        .env_remove("POLYFEED_CONFIG")
        .env_remove("POLYFEED_DATABASE")
        .env_remove("POLYFEED_NODE")
        .env_remove("RUST_LOG");
    c
}

/// Runs the real binary in `cwd` (with the word table, as users run it).
pub fn run_in(cwd: &Path, config: &Path, args: &[&str]) -> Output {
    command(config, args).current_dir(cwd).output().expect("run polyfeed")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Reads a whole fixture file from tests/fixtures/feeds.
pub fn fixture(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/feeds").join(name);
    let mut f = std::fs::File::open(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut v = Vec::new();
    f.read_to_end(&mut v).unwrap();
    v
}

impl Env {
    /// Runs the binary with its clock shifted to `now` (RFC 3339).
    pub fn run_at(&self, now: &str, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_polyfeed"))
            .current_dir(self.dir.path())
            .arg("--config")
            .arg(self.config())
            .args(args)
            .env("POLYFEED_NOW", now)
            .env(NO_LEXICON.0, NO_LEXICON.1)
            .env_remove("POLYFEED_DATABASE")
            .env_remove("RUST_LOG")
            .output()
            .expect("run polyfeed")
    }
}

/// A copy of `examples/` (without its database and output) in a new
/// temporary directory.
pub fn example_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"), dir.path());
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let (p, name) = (e.path(), e.file_name().to_string_lossy().into_owned());
        if p.is_dir() && name != "public" {
            copy_dir(&p, &to.join(&name));
        } else if p.is_file() && !name.starts_with("polyfeed.db") {
            std::fs::copy(&p, to.join(&name)).unwrap();
        }
    }
}

/// A `polyfeed serve` or `run` process on 127.0.0.1 port 0, logging (info,
/// `RUST_LOG=polyfeed=info`) to a file; killed when dropped.
pub struct Daemon {
    pub child: std::process::Child,
    /// `host:port` it announced.
    pub addr: String,
    /// Its stderr.
    pub log: PathBuf,
}

impl Daemon {
    /// Starts `polyfeed --config CONFIG ARGS --listen 127.0.0.1:0` in the
    /// config's directory with extra environment, and waits for the address line.
    pub fn start(config: &Path, args: &[&str], env: &[(&str, &str)]) -> Daemon {
        let dir = config.parent().unwrap();
        let log = dir.join(format!(
            "daemon-{}.log",
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
        ));
        let mut cmd = command(config, args);
        cmd.args(["--listen", "127.0.0.1:0"])
            .current_dir(dir)
            .env("RUST_LOG", "polyfeed=info")
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start polyfeed");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .unwrap_or_else(|| {
                panic!("no address in {line:?}; log: {}", std::fs::read_to_string(&log).unwrap_or_default())
            })
            .to_string();
        Daemon { child, addr, log }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends a signal by name (`HUP`, `TERM`) with kill(1).
    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill").args([&format!("-{name}"), &self.child.id().to_string()]).status().unwrap();
        assert!(ok.success(), "kill -{name}");
    }

    /// Whether the process still runs.
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// SIGTERM, then waits (at most 10 s) for the exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
        self.signal("TERM");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(std::time::Instant::now() < deadline, "did not stop after SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A blocking GET: status, headers, body.
pub fn http_get(url: &str) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    http_get_with(url, &[])
}

/// A blocking GET with request headers: status, headers, body.
pub fn http_get_with(url: &str, headers: &[(&str, &str)]) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut req = reqwest::Client::builder().no_proxy().build().unwrap().get(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        (status, headers, resp.bytes().await.unwrap().to_vec())
    })
}

/// Polls `check` every 100 ms until it holds; panics with `what` after `secs`.
pub fn wait_for(secs: u64, what: &str, mut check: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(secs);
    while !check() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A throwaway PostgreSQL database on the server `POLYFEED_TEST_DATABASE`
/// names (`scripts/test` starts one), dropped with the value; `None`, with
/// the reason printed, when the variable is unset (a failure in CI).
pub fn pg_scratch() -> Option<polyfeed::store::scratch::ScratchDatabase> {
    match polyfeed::store::scratch::ScratchDatabase::create() {
        Some(db) => Some(db.expect("create a PostgreSQL test database")),
        None => {
            assert!(std::env::var_os("CI").is_none(), "POLYFEED_TEST_DATABASE is not set in CI (scripts/test sets it)");
            eprintln!("skipped: POLYFEED_TEST_DATABASE is not set (scripts/test starts a PostgreSQL server)");
            None
        }
    }
}
