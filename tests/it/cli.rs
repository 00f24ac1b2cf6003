//! The command line around the commands: shell completions and man pages
//! generated from the clap definitions, and the progress bar of `poll`
//! (shown on a terminal, never in cron output).

use crate::common;

use common::{Env, Server, command, rss, stderr, stdout};
use std::process::Command;

const SUBCOMMANDS: &[&str] = &["poll", "publish", "serve", "run", "sources", "stories", "explain", "check", "lexicon"];

fn polyfeed(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_polyfeed")).args(args).env_remove("POLYFEED_CONFIG").output().unwrap()
}

#[test]
fn completions_cover_every_subcommand_in_each_shell() {
    let shells = [
        ("bash", "_polyfeed()", "--config"),
        ("zsh", "#compdef polyfeed", "--config"),
        ("fish", "complete -c polyfeed", "-l config"),
    ];
    for (shell, marker, config) in shells {
        let out = polyfeed(&["completions", shell]);
        assert!(out.status.success(), "{shell}: {}", stderr(&out));
        let text = stdout(&out);
        assert!(text.contains(marker), "{shell} completions lack {marker:?}");
        for sub in SUBCOMMANDS {
            assert!(text.contains(sub), "{shell} completions lack {sub}");
        }
        assert!(text.contains(config), "{shell} completions lack the global --config");
    }
    let out = polyfeed(&["completions", "tcsh-not-a-shell"]);
    assert_eq!(out.status.code(), Some(2), "an unknown shell is a usage error");
}

#[test]
fn man_pages_render_from_the_clap_definitions() {
    let out = polyfeed(&["man"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let page = stdout(&out);
    assert!(page.starts_with(".ie") || page.contains(".TH polyfeed 1"), "not roff: {}", &page[..page.len().min(200)]);
    assert!(page.contains(".TH polyfeed 1"));
    for sub in SUBCOMMANDS {
        assert!(page.contains(&format!("polyfeed\\-{sub}(1)")), "main page does not list polyfeed-{sub}(1)");
    }

    let dir = tempfile::tempdir().unwrap();
    let out = polyfeed(&["man", "--dir", dir.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    for sub in SUBCOMMANDS {
        let p = dir.path().join(format!("polyfeed-{sub}.1"));
        let text = std::fs::read_to_string(&p).unwrap_or_else(|_| panic!("no {}", p.display()));
        assert!(text.contains(&format!(".TH polyfeed-{sub} 1")), "{sub}: wrong title");
        assert!(text.contains(&format!("\\fBpolyfeed {sub}\\fR")), "{sub}: synopsis lacks the full command");
        assert!(text.contains("\\-\\-config"), "{sub}: global options missing");
    }
    let poll = std::fs::read_to_string(dir.path().join("polyfeed-poll.1")).unwrap();
    assert!(poll.contains("\\-\\-all"), "poll page lacks its own --all option");
    let build = std::fs::read_to_string(dir.path().join("polyfeed-lexicon-build.1")).unwrap();
    assert!(build.contains("\\fBpolyfeed lexicon build\\fR"), "{build}");
    assert!(build.contains("\\-\\-from") && build.contains("apt\\-get install"), "{build}");
}

const LM: &str = "Mon, 02 Nov 2026 10:00:00 GMT";

fn env_with_feeds(server: &Server, n: usize) -> Env {
    let urls: Vec<String> = (0..n)
        .map(|i| {
            let path = format!("/f{i}.xml");
            server.feed(&path, rss(&format!("Feed {i}"), &format!("f{i}"), 3), &format!("\"e{i}\""), LM);
            server.url(&path)
        })
        .collect();
    // One source that fails, so the bar has a failure to count, and one slow
    // one, so the bar is drawn (it redraws every 120 ms) before the cycle ends.
    let bad = server.url("/missing.xml");
    let body = rss("Slow", "slow", 2);
    server.route("/slow.xml", move |_| {
        std::thread::sleep(std::time::Duration::from_millis(800));
        common::Response::ok(body.clone())
    });
    let slow = server.url("/slow.xml");
    let mut sources: Vec<(&str, &str)> = urls.iter().map(|u| (u.as_str(), "")).collect();
    sources.push((bad.as_str(), ""));
    sources.push((slow.as_str(), ""));
    Env::new("", &sources)
}

#[test]
fn poll_without_a_terminal_prints_no_progress_bar() {
    let server = Server::start();
    let env = env_with_feeds(&server, 3);
    let out = env.run(&["poll"]);
    assert_eq!(out.status.code(), Some(3), "one source fails: {}", stderr(&out));
    let err = stderr(&out);
    assert!(!err.contains("sources ·"), "progress bar drawn into a pipe: {err}");
    assert!(!err.contains('\r') && !err.contains("\u{1b}["), "terminal control codes in piped stderr: {err:?}");
    assert!(err.contains("failed:"), "the failure is still reported: {err}");
    assert!(stdout(&out).contains("polled 5 sources"), "{}", stdout(&out));
}

/// Runs `polyfeed poll` under a pseudo-terminal (util-linux `script`), as a
/// person at a shell would.
fn poll_on_a_terminal(env: &Env, extra: &[&str]) -> Option<String> {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: `script` (util-linux) is not installed");
        return None;
    }
    let cmd = command(&env.config(), &[&["poll", "--all"], extra].concat());
    let line = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|a| format!("'{}'", a.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ");
    let out = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env(common::NO_LEXICON.0, common::NO_LEXICON.1)
        .env_remove("POLYFEED_CONFIG")
        .current_dir(env.dir.path())
        .output()
        .unwrap();
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn poll_on_a_terminal_shows_progress_and_quiet_hides_it() {
    let server = Server::start();
    let env = env_with_feeds(&server, 3);
    let Some(tty) = poll_on_a_terminal(&env, &[]) else { return };
    assert!(tty.contains("/5 sources"), "no progress bar on a terminal: {tty:?}");
    assert!(tty.contains("1 failed"), "the bar does not count the failure: {tty:?}");
    assert!(tty.contains("polled 5 sources"), "summary missing: {tty:?}");

    let quiet = poll_on_a_terminal(&env, &["-q"]).unwrap();
    assert!(!quiet.contains("/5 sources"), "-q still draws the bar: {quiet:?}");
    assert!(quiet.contains("polled 5 sources"), "-q keeps the summary line: {quiet:?}");
}
