//! `serve` and `run` as real processes: the served bytes equal the published
//! files, conditional requests get 304, the daemon polls and publishes by
//! itself, and SIGTERM stops both cleanly.

use crate::common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Env, Server, rss};

/// Starts `polyfeed ARGS --listen 127.0.0.1:0` and returns it with the
/// address it printed.
fn start(config: &Path, cmd: &str) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_polyfeed"))
        .env(common::NO_LEXICON.0, common::NO_LEXICON.1)
        .arg("--config")
        .arg(config)
        .args([cmd, "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr =
        line.split("http://").nth(1).and_then(|r| r.split('/').next()).unwrap_or_else(|| panic!("{line}")).to_string();
    (child, addr)
}

fn stop(mut child: Child) -> std::process::ExitStatus {
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn get(url: &str, headers: &[(&str, &str)]) -> (u16, Vec<u8>, reqwest::header::HeaderMap) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut req = reqwest::Client::new().get(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let h = resp.headers().clone();
        (status, resp.bytes().await.unwrap().to_vec(), h)
    })
}

#[test]
fn serve_gives_the_published_bytes_and_304s() {
    let srv = Server::start();
    srv.feed("/f.xml", rss("Served", "s", 3), "\"s\"", "Mon, 02 Nov 2026 10:00:00 GMT");
    let env = Env::new("", &[(&srv.url("/f.xml"), "tags = [\"news\"]")]);
    assert_eq!(env.run(&["poll"]).status.code(), Some(0));
    let (child, addr) = start(&env.config(), "serve");
    for path in ["all.atom", "all.rss", "all.json", "tags/news.atom", "index.html", "sources.opml"] {
        let (status, body, headers) = get(&format!("http://{addr}/{path}"), &[]);
        assert_eq!(status, 200, "{path}");
        let file = std::fs::read(env.dir.path().join("public").join(path)).unwrap();
        assert!(body == file, "{path}: served bytes differ from the published file");
        let etag = headers["etag"].to_str().unwrap().to_string();
        let lm = headers["last-modified"].to_str().unwrap().to_string();
        assert_eq!(get(&format!("http://{addr}/{path}"), &[("If-None-Match", &etag)]).0, 304);
        assert_eq!(get(&format!("http://{addr}/{path}"), &[("If-Modified-Since", &lm)]).0, 304);
    }
    assert_eq!(get(&format!("http://{addr}/../feeds.toml"), &[]).0, 404);
    assert!(stop(child).success());
}

#[test]
fn run_polls_publishes_and_serves() {
    let srv = Server::start();
    srv.feed("/d.xml", rss("Daemon", "d", 2), "\"d\"", "Mon, 02 Nov 2026 10:00:00 GMT");
    let env = Env::new("", &[(&srv.url("/d.xml"), "")]);
    let (child, addr) = start(&env.config(), "run");
    let deadline = Instant::now() + Duration::from_secs(20);
    let body = loop {
        let (status, body, _) = get(&format!("http://{addr}/all.atom"), &[]);
        if status == 200 && String::from_utf8_lossy(&body).contains("Daemon 1") {
            break body;
        }
        assert!(Instant::now() < deadline, "the daemon did not publish the polled entries");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(stop(child).success(), "SIGTERM is a clean stop");
    assert_eq!(std::fs::read(env.dir.path().join("public/all.atom")).unwrap(), body);
    assert_eq!(srv.requests("/d.xml").len(), 1, "polled once: the next due time is an hour away");
    env.integrity_ok();
    // A restart never polls early: the due time is stored.
    let (child, _) = start(&env.config(), "run");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(stop(child).success());
    assert_eq!(srv.requests("/d.xml").len(), 1);
}
