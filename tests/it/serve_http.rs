//! The HTTP server over loopback: a real `server::run` on 127.0.0.1 port 0,
//! spoken to by reqwest, or by a raw socket where exact bytes matter
//! (traversal, HEAD framing, oversized heads, slow clients).

use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use polyfeed::publish::{Artifact, media};
use polyfeed::server::{Limits, Site, run_with_limits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// `updated` of every test artifact, as `Last-Modified` says it.
const LAST_MODIFIED: &str = "Mon, 10 Mar 2025 10:00:00 GMT";

/// A running server and its handles.
struct Server {
    addr: SocketAddr,
    site: Arc<Site>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    async fn start(limits: Limits) -> Server {
        let site = Arc::new(Site::new(Duration::from_secs(900)));
        site.replace(artifacts());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let task = tokio::spawn(run_with_limits(listener, Arc::clone(&site), shutdown, limits));
        Server { addr, site, stop: Some(stop), task }
    }

    async fn default() -> Server {
        Server::start(Limits::default()).await
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Triggers shutdown and waits (at most `within`) for `run` to return.
    async fn shut_down(mut self, within: Duration) -> std::io::Result<()> {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(within, self.task).await.expect("run returns after shutdown").unwrap()
    }
}

fn artifact(path: &str, content_type: &'static str, body: Vec<u8>) -> Artifact {
    Artifact { path: path.into(), content_type, body, updated: Utc.with_ymd_and_hms(2025, 3, 10, 10, 0, 0).unwrap() }
}

fn atom() -> Vec<u8> {
    let entries = "<entry><title>Kunta päättää</title></entry>".repeat(40);
    format!("<?xml version=\"1.0\"?><feed xmlns=\"http://www.w3.org/2005/Atom\">{entries}</feed>").into_bytes()
}

fn artifacts() -> Vec<Artifact> {
    vec![
        artifact("all.atom", media::ATOM, atom()),
        artifact("index.html", media::HTML, b"<!doctype html><title>polyfeed</title>".to_vec()),
        artifact("tags/kä.rss", media::RSS, b"<rss version=\"2.0\"></rss>".to_vec()),
        artifact("sv/all.json", media::JSON, b"{}".to_vec()),
    ]
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

async fn get(url: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = client().get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).map(|v| v.to_str().unwrap())
}

/// Sends `request` on a fresh connection and reads until the server closes it
/// (or 5 s pass); a reset counts as the end.
async fn raw(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let _ = stream.write_all(request).await;
    read_to_close(&mut stream, Duration::from_secs(5)).await
}

async fn read_to_close(stream: &mut TcpStream, within: Duration) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(within, stream.read_to_end(&mut out)).await.expect("the server closes the connection");
    out
}

/// The head (as text) and the body of a raw response.
fn split(response: &[u8]) -> (String, Vec<u8>) {
    let end = response.windows(4).position(|w| w == b"\r\n\r\n").expect("a complete head") + 4;
    (String::from_utf8(response[..end].to_vec()).unwrap(), response[end..].to_vec())
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes).read_to_end(&mut out).unwrap();
    out
}

#[tokio::test]
async fn serves_artifacts_with_validators_and_caching_headers() {
    let srv = Server::default().await;
    let r = get(&srv.url("/all.atom"), &[]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), Some(media::ATOM));
    assert_eq!(header(&r, "last-modified"), Some(LAST_MODIFIED));
    assert_eq!(header(&r, "cache-control"), Some("public, max-age=900"));
    assert_eq!(header(&r, "vary"), Some("Accept-Encoding"));
    assert_eq!(header(&r, "content-encoding"), None);
    assert_eq!(header(&r, "content-length"), Some(atom().len().to_string().as_str()));
    let etag = header(&r, "etag").unwrap().to_owned();
    assert!(etag.len() == 34 && etag.starts_with('"') && etag.ends_with('"'), "strong, quoted: {etag}");
    assert!(etag[1..33].bytes().all(|b| b.is_ascii_hexdigit()), "{etag}");
    assert_eq!(r.bytes().await.unwrap(), atom());

    let index = get(&srv.url("/"), &[]).await;
    assert_eq!(header(&index, "content-type"), Some(media::HTML));
    assert_eq!(index.text().await.unwrap(), "<!doctype html><title>polyfeed</title>");
    let tag = get(&srv.url("/tags/k%C3%A4.rss"), &[]).await;
    assert_eq!((tag.status().as_u16(), header(&tag, "content-type")), (200, Some(media::RSS)));
    let json = get(&srv.url("/sv/all.json?utm_source=x"), &[]).await;
    assert_eq!(json.text().await.unwrap(), "{}", "the query is ignored");
}

#[tokio::test]
async fn if_none_match_exact_in_a_list_or_star_is_304() {
    let srv = Server::default().await;
    let url = srv.url("/all.atom");
    let etag = header(&get(&url, &[]).await, "etag").unwrap().to_owned();
    let list = format!("\"other\", W/{etag}");
    for value in [etag.as_str(), list.as_str(), "*"] {
        let r = get(&url, &[("if-none-match", value)]).await;
        assert_eq!(r.status(), 304, "{value}");
        assert_eq!(header(&r, "etag"), Some(etag.as_str()));
        assert_eq!(header(&r, "last-modified"), Some(LAST_MODIFIED));
        assert_eq!(header(&r, "cache-control"), Some("public, max-age=900"));
        assert!(r.bytes().await.unwrap().is_empty());
    }
    let stale = get(&url, &[("if-none-match", "\"other\"")]).await;
    assert_eq!(stale.status(), 200);
    // If-None-Match wins: a stale tag means 200 even with a matching date.
    let both = get(&url, &[("if-none-match", "\"other\""), ("if-modified-since", LAST_MODIFIED)]).await;
    assert_eq!(both.status(), 200);
}

#[tokio::test]
async fn if_modified_since_is_compared_as_a_date() {
    let srv = Server::default().await;
    let url = srv.url("/all.atom");
    for (date, status) in [
        (LAST_MODIFIED, 304),
        ("Mon, 10 Mar 2025 10:00:01 GMT", 304),
        ("Sat, 01 Jan 2050 00:00:00 GMT", 304),
        ("Mon, 10 Mar 2025 09:59:59 GMT", 200),
        ("Monday, 10-Mar-25 10:00:00 GMT", 304),
        ("Monday, 10-Mar-25 09:00:00 GMT", 200),
        ("Mon Mar 10 10:00:00 2025", 304),
        ("Mon Mar 10 09:59:59 2025", 200),
        ("not a date", 200),
    ] {
        assert_eq!(get(&url, &[("if-modified-since", date)]).await.status(), status, "{date}");
    }
}

#[tokio::test]
async fn head_sends_the_headers_and_no_body() {
    let srv = Server::default().await;
    let response = raw(srv.addr, b"HEAD /all.atom HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    let (head, body) = split(&response);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains(&format!("content-length: {}\r\n", atom().len())), "{head}");
    assert!(head.contains("etag: \""), "{head}");
    assert!(head.contains(&format!("last-modified: {LAST_MODIFIED}\r\n")), "{head}");
    assert!(body.is_empty(), "{} bytes after the head", body.len());
    let missing = raw(srv.addr, b"HEAD /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    let (head, body) = split(&missing);
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    assert!(body.is_empty());
}

#[tokio::test]
async fn gzip_only_when_the_client_accepts_it() {
    let srv = Server::default().await;
    let url = srv.url("/all.atom");
    let plain_etag = header(&get(&url, &[]).await, "etag").unwrap().to_owned();
    for accept in ["gzip", "br, gzip;q=0.5", "*"] {
        let r = get(&url, &[("accept-encoding", accept)]).await;
        assert_eq!(header(&r, "content-encoding"), Some("gzip"), "{accept}");
        assert_eq!(header(&r, "vary"), Some("Accept-Encoding"));
        let etag = header(&r, "etag").unwrap().to_owned();
        assert_ne!(etag, plain_etag, "different bytes, different strong tag");
        let length: usize = header(&r, "content-length").unwrap().parse().unwrap();
        let body = r.bytes().await.unwrap();
        assert!(length == body.len() && length < atom().len());
        assert_eq!(gunzip(&body), atom());
        let again = get(&url, &[("accept-encoding", accept), ("if-none-match", &etag)]).await;
        assert_eq!(again.status(), 304);
    }
    for accept in ["gzip;q=0", "identity", "br, *;q=0", "*, gzip;q=0"] {
        let r = get(&url, &[("accept-encoding", accept)]).await;
        assert_eq!(header(&r, "content-encoding"), None, "{accept}");
        assert_eq!(r.bytes().await.unwrap(), atom());
    }
    let tiny = get(&srv.url("/sv/all.json"), &[("accept-encoding", "gzip")]).await;
    assert_eq!((header(&tiny, "content-encoding"), header(&tiny, "vary")), (None, None), "gzip would not be smaller");
}

#[tokio::test]
async fn unknown_paths_are_404_and_other_methods_405() {
    let srv = Server::default().await;
    let missing = get(&srv.url("/tags/nope.rss"), &[]).await;
    assert_eq!(missing.status(), 404);
    assert_eq!(header(&missing, "content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(missing.text().await.unwrap(), "not found\n");
    for method in [reqwest::Method::POST, reqwest::Method::PUT, reqwest::Method::DELETE, reqwest::Method::OPTIONS] {
        let r = client().request(method.clone(), srv.url("/all.atom")).body("ignored").send().await.unwrap();
        assert_eq!(r.status(), 405, "{method}");
        assert_eq!(header(&r, "allow"), Some("GET, HEAD"));
    }
}

#[tokio::test]
async fn traversal_attempts_are_404_and_leak_nothing() {
    let srv = Server::default().await;
    for path in [
        "/../Cargo.toml",
        "/%2e%2e/Cargo.toml",
        "/%2E%2E/%2E%2E/Cargo.toml",
        "/tags/..%2f..%2fCargo.toml",
        "/tags/../../Cargo.toml",
        "/%2e%2e%5cCargo.toml",
        "/..%5c..%5cCargo.toml",
        "/Cargo.toml%00.atom",
        "//Cargo.toml",
        "/./Cargo.toml",
        "/src/lib.rs",
    ] {
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let response = raw(srv.addr, request.as_bytes()).await;
        let text = String::from_utf8_lossy(&response);
        assert!(text.starts_with("HTTP/1.1 404 "), "{path}: {text}");
        assert!(!text.contains("[package]") && !text.contains("pub mod"), "{path} leaked a file");
    }
}

#[tokio::test]
async fn oversized_headers_are_rejected_and_the_server_lives_on() {
    let srv = Server::default().await;
    let mut request = b"GET /all.atom HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
    request.extend(std::iter::repeat_n(b'a', 64 * 1024));
    request.extend(b"\r\n\r\n");
    let response = raw(srv.addr, &request).await;
    let text = String::from_utf8_lossy(&response);
    assert!(text.is_empty() || text.starts_with("HTTP/1.1 431"), "{text}");
    assert!(!text.contains("<feed"));
    assert_eq!(get(&srv.url("/all.atom"), &[]).await.status(), 200);
}

#[tokio::test]
async fn slow_clients_are_cut_off_while_others_are_served() {
    let limits = Limits { header_read_timeout: Duration::from_millis(800), ..Limits::default() };
    let srv = Server::start(limits).await;
    let started = Instant::now();
    let mut stalled = TcpStream::connect(srv.addr).await.unwrap();
    stalled.write_all(b"GET /all.atom HT").await.unwrap();
    let trickle = tokio::spawn(trickle(srv.addr));
    for _ in 0..3 {
        assert_eq!(get(&srv.url("/all.atom"), &[]).await.status(), 200, "others are served meanwhile");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let answer = read_to_close(&mut stalled, Duration::from_secs(4)).await;
    let cut_after = started.elapsed();
    assert!(cut_after >= Duration::from_millis(700), "cut off by the timeout, not before: {cut_after:?}");
    assert!(!String::from_utf8_lossy(&answer).contains(" 200 "), "a partial request gets no content");
    let trickled =
        tokio::time::timeout(Duration::from_secs(4), trickle).await.expect("the trickler is cut off").unwrap();
    assert!(trickled < 40, "sending a byte at a time does not extend the deadline ({trickled} bytes)");
    assert_eq!(get(&srv.url("/all.atom"), &[]).await.status(), 200);
}

/// Sends a request head one byte per 50 ms, forever; returns how many bytes got through.
async fn trickle(addr: SocketAddr) -> usize {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = b"GET /all.atom HTTP/1.1\r\nHost: x\r\n".iter().chain(std::iter::repeat(&b'a'));
    for (sent, byte) in head.enumerate() {
        if stream.write_all(&[*byte]).await.is_err() {
            return sent;
        }
        let mut probe = [0u8; 64];
        if let Ok(Ok(0) | Err(_)) = tokio::time::timeout(Duration::from_millis(50), stream.read(&mut probe)).await {
            return sent;
        }
    }
    unreachable!("the head is endless")
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let limits = Limits { max_connections: 1, header_read_timeout: Duration::from_millis(600), ..Limits::default() };
    let srv = Server::start(limits).await;
    let _idle = TcpStream::connect(srv.addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let r = get(&srv.url("/all.atom"), &[]).await;
    assert_eq!(r.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(400), "served only once the idle one timed out");
}

#[tokio::test]
async fn replace_swaps_content_while_serving() {
    let srv = Server::default().await;
    let client = client();
    let url = srv.url("/all.atom");
    let first = client.get(&url).send().await.unwrap();
    let old_etag = header(&first, "etag").unwrap().to_owned();
    assert_eq!(first.bytes().await.unwrap(), atom());

    let mut renamed = artifact("all.atom", media::ATOM, b"<feed>new</feed>".to_vec());
    renamed.updated = Utc.with_ymd_and_hms(2025, 3, 11, 8, 0, 0).unwrap();
    srv.site.replace(vec![renamed, artifact("new.rss", media::RSS, b"<rss/>".to_vec())]);
    assert_eq!(srv.site.len(), 2);

    let second = client.get(&url).header("if-none-match", &old_etag).send().await.unwrap();
    assert_eq!(second.status(), 200, "the old tag no longer matches");
    assert_ne!(header(&second, "etag"), Some(old_etag.as_str()));
    assert_eq!(header(&second, "last-modified"), Some("Tue, 11 Mar 2025 08:00:00 GMT"));
    assert_eq!(second.text().await.unwrap(), "<feed>new</feed>");
    assert_eq!(client.get(srv.url("/new.rss")).send().await.unwrap().status(), 200);
    assert_eq!(client.get(srv.url("/")).send().await.unwrap().status(), 404, "the old index is gone");
}

#[tokio::test]
async fn shutdown_stops_accepting_and_run_returns() {
    let srv = Server::default().await;
    let addr = srv.addr;
    let client = client();
    // A keep-alive connection left idle in the client's pool.
    assert_eq!(client.get(srv.url("/")).send().await.unwrap().status(), 200);
    let started = Instant::now();
    srv.shut_down(Duration::from_secs(3)).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(2), "idle connections close at once: {:?}", started.elapsed());
    assert!(TcpStream::connect(addr).await.is_err(), "no longer accepting");
}

#[tokio::test]
async fn shutdown_lets_a_response_in_flight_finish() {
    let srv = Server::default().await;
    let big: Vec<u8> = (0..8_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    srv.site.replace(vec![artifact("big.bin", "application/octet-stream", big.clone())]);
    let mut stream = TcpStream::connect(srv.addr).await.unwrap();
    stream.write_all(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut start = [0u8; 1024];
    stream.read_exact(&mut start).await.unwrap();
    let shutdown = tokio::spawn(srv.shut_down(Duration::from_secs(4)));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut response = start.to_vec();
    response.extend(read_to_close(&mut stream, Duration::from_secs(4)).await);
    let (head, body) = split(&response);
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(body == big, "the whole body arrives ({} of {} bytes)", body.len(), big.len());
    shutdown.await.unwrap().unwrap();
}

#[tokio::test]
async fn shutdown_waits_no_longer_than_the_grace_period() {
    let limits = Limits { shutdown_grace: Duration::from_millis(500), ..Limits::default() };
    let srv = Server::start(limits).await;
    let mut stalled = TcpStream::connect(srv.addr).await.unwrap();
    stalled.write_all(b"GET /all.atom HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    srv.shut_down(Duration::from_secs(3)).await.unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "bounded by the grace period, not the 10 s header timeout: {took:?}");
    assert!(read_to_close(&mut stalled, Duration::from_secs(1)).await.is_empty());
}
