//! A full disk and a read-only database: reported clearly, and nothing
//! already stored is damaged. The database lives on a tiny tmpfs mounted for
//! the test (needs root, as in CI; skipped elsewhere, failed in CI if the
//! mount is refused).

use crate::common;

use std::path::Path;
use std::process::Command;

use common::{Env, Server, stderr, stdout};

struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn tmpfs(dir: &Path, size: &str) -> Option<Mount> {
    let ok = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(dir).status();
    if ok.is_ok_and(|s| s.success()) {
        return Some(Mount(dir.to_path_buf()));
    }
    assert!(std::env::var_os("CI").is_none(), "cannot mount a tmpfs for the disk tests");
    eprintln!("skipping: cannot mount a tmpfs here (needs root)");
    None
}

/// A feed of `n` entries of about 8 KiB each.
fn big_feed(prefix: &str, n: usize) -> String {
    let body = "Lorem ipsum dolor sit amet, consectetur adipiscing elit. ".repeat(140);
    let items: String = (0..n)
        .map(|i| {
            format!(
                "<item><guid>{prefix}-{i}</guid><title>{prefix} {i}</title><description>{body} {i}</description></item>"
            )
        })
        .collect();
    format!("<rss version=\"2.0\"><channel><title>{prefix}</title>{items}</channel></rss>")
}

#[test]
fn a_full_disk_is_reported_and_damages_nothing() {
    let srv = Server::start();
    srv.feed("/small.xml", common::rss("Small", "s", 3), "\"s\"", "Mon, 02 Nov 2026 10:00:00 GMT");
    let env = Env::new("database = \"disk/polyfeed.db\"\nper_host_delay = \"0s\"", &[(&srv.url("/small.xml"), "")]);
    let disk = env.dir.path().join("disk");
    std::fs::create_dir_all(&disk).unwrap();
    let Some(_mount) = tmpfs(&disk, "600k") else { return };
    assert_eq!(env.run(&["poll"]).status.code(), Some(0));
    let db = disk.join("polyfeed.db");
    let count =
        |sql: &str| -> i64 { rusqlite::Connection::open(&db).unwrap().query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(count("SELECT COUNT(*) FROM entries"), 3);
    // Now a feed far larger than the disk.
    srv.route("/big.xml", |_| common::Response::ok(big_feed("big", 200)));
    let toml =
        std::fs::read_to_string(env.config()).unwrap() + &format!("\n[[source]]\nurl = \"{}\"\n", srv.url("/big.xml"));
    std::fs::write(env.config(), toml).unwrap();
    let out = env.run(&["poll", "--all"]);
    assert_eq!(out.status.code(), Some(3), "{}{}", stdout(&out), stderr(&out));
    assert!(stderr(&out).to_lowercase().contains("full"), "the error says the disk is full: {}", stderr(&out));
    let c = rusqlite::Connection::open(&db).unwrap();
    let integrity: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(integrity, "ok");
    assert_eq!(count("SELECT COUNT(*) FROM entries WHERE key LIKE 's-%'"), 3, "what was stored is intact");
    assert_eq!(count("SELECT COUNT(*) FROM entries WHERE key LIKE 'big-%'"), 0, "the failed fetch stored nothing");
}

#[test]
fn a_read_only_database_is_reported_clearly() {
    let srv = Server::start();
    srv.feed("/r.xml", common::rss("R", "r", 2), "\"r\"", "Mon, 02 Nov 2026 10:00:00 GMT");
    let env = Env::new("database = \"disk/polyfeed.db\"", &[(&srv.url("/r.xml"), "")]);
    let disk = env.dir.path().join("disk");
    std::fs::create_dir_all(&disk).unwrap();
    let Some(_mount) = tmpfs(&disk, "4m") else { return };
    assert_eq!(env.run(&["poll"]).status.code(), Some(0));
    let remount = Command::new("mount").args(["-o", "remount,ro"]).arg(&disk).status().unwrap();
    assert!(remount.success());
    let out = env.run(&["poll", "--all"]);
    assert_eq!(out.status.code(), Some(1), "{}{}", stdout(&out), stderr(&out));
    let err = stderr(&out).to_lowercase();
    assert!(err.contains("read-only") || err.contains("readonly"), "{err}");
    assert!(err.contains("polyfeed.db"), "the error names the database: {err}");
    assert!(Command::new("mount").args(["-o", "remount,rw"]).arg(&disk).status().unwrap().success());
    let c = rusqlite::Connection::open(disk.join("polyfeed.db")).unwrap();
    let integrity: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(integrity, "ok");
    let n: i64 = c.query_row("SELECT COUNT(*) FROM entries", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 2);
}
