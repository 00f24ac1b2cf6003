//! The index page in a real headless browser (Debian's `chromium`): the
//! offline example is polled and served by `polyfeed serve`; the rendered
//! DOM must hold the feeds and their subscribe links, the sources page the
//! source status table; every feed link on the page must resolve over HTTP to a feed that
//! parses; and a phone-sized screenshot must not be blank.
//!
//! `scripts/setup --browser` installs chromium (`scripts/test` and so
//! `.ci/run` call it). Without a browser the test is skipped locally and
//! fails in CI (`CI` set). `CHROMIUM` names another binary.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Daemon, http_get};

/// The browser binary, or `None` (skip) outside CI.
fn chromium() -> Option<PathBuf> {
    let names = [std::env::var("CHROMIUM").ok(), Some("chromium".into()), Some("chromium-browser".into())];
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = names.into_iter().flatten().find_map(|n| {
        let p = PathBuf::from(&n);
        if p.is_absolute() {
            return p.is_file().then_some(p);
        }
        std::env::split_paths(&path).map(|d| d.join(&n)).find(|c| c.is_file())
    });
    if found.is_none() {
        assert!(std::env::var_os("CI").is_none(), "chromium is not installed: scripts/setup --browser installs it");
        eprintln!("skipping: chromium not installed (scripts/setup --browser)");
    }
    found
}

/// Runs headless chromium with `args` then `url`; its stdout. Killed after 60 s.
fn browse(browser: &Path, profile: &Path, args: &[&str], url: &str) -> String {
    let mut child = Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every `href` value in the document, in order.
fn hrefs(dom: &str) -> Vec<String> {
    dom.split("href=\"").skip(1).filter_map(|s| s.split('"').next()).map(|h| h.replace("&amp;", "&")).collect()
}

/// Share of pixels that differ clearly from the top-left (background) pixel.
fn ink(png_path: &Path) -> f64 {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(png_path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    assert!(channels >= 3, "{:?}", info.color_type);
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(channels).collect();
    let background = &pixels[0][..3];
    let differs = pixels.iter().filter(|p| p[..3].iter().zip(background).any(|(a, b)| a.abs_diff(*b) > 40)).count();
    differs as f64 / pixels.len() as f64
}

#[test]
fn the_index_page_in_headless_chromium() {
    let Some(browser) = chromium() else { return };
    let dir = common::example_copy();
    let config = dir.path().join("feeds.toml");
    let out = common::run_in(dir.path(), &config, &["poll"]);
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    let daemon = Daemon::start(&config, &["serve"], &[]);
    let page = daemon.url("/");

    let dom = browse(&browser, &dir.path().join("profile-dom"), &["--dump-dom"], &page);
    assert!(dom.contains("<h1>Porvoo and friends (polyfeed demo)</h1>"), "{dom}");
    for text in ["<h2>Feeds</h2>", "<h2>Latest stories</h2>", "på svenska", "href=\"sources.html\""] {
        assert!(dom.contains(text), "the rendered page lacks {text:?}");
    }
    let status = browse(&browser, &dir.path().join("profile-status"), &["--dump-dom"], &daemon.url("/sources.html"));
    for text in ["<h2>Sources</h2>", "Next due", "ok (200)", "href=\"index.html\""] {
        assert!(status.contains(text), "the rendered sources page lacks {text:?}");
    }
    let links = hrefs(&dom);
    let feeds: Vec<&String> = links
        .iter()
        .filter(|h| !h.contains("://") && [".atom", ".rss", ".json"].iter().any(|e| h.ends_with(e)))
        .collect();
    assert!(feeds.len() >= 3 * 4 * 5, "{} feed links on the page", feeds.len());
    for href in feeds {
        let (status, headers, body) = http_get(&daemon.url(&format!("/{href}")));
        assert_eq!(status, 200, "{href}");
        let content_type = headers["content-type"].to_str().unwrap().to_string();
        let parsed = polyfeed::parse::parse(&body, Some(&content_type), None).unwrap_or_else(|e| panic!("{href}: {e}"));
        assert!(!parsed.feed.entries.is_empty(), "{href}: no entries");
    }
    assert!(links.iter().any(|h| h == "sources.opml"));
    assert_eq!(http_get(&daemon.url("/sources.opml")).0, 200);

    // A phone-sized screenshot with something on it; a blank page, for contrast, has nothing.
    let shot = dir.path().join("phone.png");
    let arg = format!("--screenshot={}", shot.display());
    browse(&browser, &dir.path().join("profile-shot"), &[&arg, "--window-size=412,915"], &page);
    let share = ink(&shot);
    eprintln!("phone screenshot: {:.1}% of pixels drawn", share * 100.0);
    assert!(share > 0.03, "the page renders (almost) empty: {:.2}% of pixels drawn", share * 100.0);
    let blank = dir.path().join("blank.png");
    let arg = format!("--screenshot={}", blank.display());
    browse(
        &browser,
        &dir.path().join("profile-blank"),
        &[&arg, "--window-size=412,915"],
        "data:text/html,<html></html>",
    );
    assert!(ink(&blank) < 0.001, "the blank check tells a blank page apart");
    if let Ok(keep) = std::env::var("BROWSER_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }
    assert!(daemon.stop().success());
}
