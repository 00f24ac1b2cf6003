//! `polyfeed eval-dedup` end to end: the real binary over a small corpus
//! written for this test (the bridge post in en/fi/sv, the library post in
//! en/sv, and two distractors on the same topics), with a tiny hand-written
//! lexicon, so the result does not depend on installed dictionaries; and a
//! listed company's releases (`releases.jsonl`) whose URLs share section
//! and year numbers, with undated and line-broken versions; and
//! (`republications.jsonl`) one company's two releases of a day, each
//! republished on a newswire site inside its page chrome, a digest that
//! keeps two paragraphs of one, and a journalist's rewrite of it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eval_dedup").join(name)
}

fn eval(lexicon: &str, extra: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_polyfeed"))
        .arg("eval-dedup")
        .arg(fixture("corpus.jsonl"))
        .args(extra)
        .env("POLYFEED_LEXICON", lexicon)
        .env_remove("RUST_LOG")
        .output()
        .expect("run polyfeed");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out
}

#[test]
fn finds_every_version_and_merges_no_distractor() {
    let dir = tempfile::tempdir().unwrap();
    let predictions = dir.path().join("predictions.json");
    let out = eval(fixture("lexicon.tsv").to_str().unwrap(), &["--predictions", predictions.to_str().unwrap()]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    let expected = "\
langs         tp      fp      fn precision  recall      f1
en-fi          1       0       0    1.0000  1.0000  1.0000
en-sv          2       0       0    1.0000  1.0000  1.0000
fi-sv          1       0       0    1.0000  1.0000  1.0000
pairs: precision=1.0000 recall=1.0000 f1=1.0000
";
    assert_eq!(stdout, expected);
    let clusters: Vec<Vec<String>> = serde_json::from_slice(&std::fs::read(&predictions).unwrap()).unwrap();
    let expected = [
        vec!["en-bridge", "fi-bridge", "sv-bridge"],
        vec!["en-library", "sv-library"],
        vec!["fi-bridge-other"],
        vec!["sv-library-other"],
    ];
    assert_eq!(clusters, expected);
}

#[test]
fn without_a_lexicon_it_warns_and_merges_nothing_wrong() {
    let out = eval("", &[]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.ends_with("pairs: precision=1.0000 recall=0.0000 f1=0.0000\n"), "{stdout}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("no lexicon found") && stderr.contains("polyfeed lexicon build"), "{stderr}");
}

/// A listed company's releases, written for this test: its Q3 report in
/// Finnish, English (lines as `<br>`, not paragraphs) and Swedish (dated only
/// by month, so read as undated), the same report of the year before, and a
/// dividend proposal of the same week. Every URL carries the site's news
/// section number (4410) and the year: neither is a post's id, and both
/// used to join the English report to the wrong Finnish post (score 0.95).
/// `eval-dedup` of a fixture corpus with a lexicon: (report, clusters,
/// decisions as JSON lines).
fn eval_corpus(corpus: &str, lexicon: &Path) -> (String, Vec<Vec<String>>, String) {
    let dir = tempfile::tempdir().unwrap();
    let predictions = dir.path().join("predictions.json");
    let decisions = dir.path().join("decisions.jsonl");
    let out = Command::new(env!("CARGO_BIN_EXE_polyfeed"))
        .arg("eval-dedup")
        .arg(fixture(corpus))
        .args(["--predictions", predictions.to_str().unwrap(), "--decisions", decisions.to_str().unwrap()])
        .env("POLYFEED_LEXICON", lexicon)
        .env_remove("RUST_LOG")
        .output()
        .expect("run polyfeed");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let clusters = serde_json::from_slice(&std::fs::read(&predictions).unwrap()).unwrap();
    (String::from_utf8(out.stdout).unwrap(), clusters, std::fs::read_to_string(&decisions).unwrap())
}

#[test]
fn releases_join_by_content_not_by_section_or_year_numbers() {
    let (stdout, clusters, text) = eval_corpus("releases.jsonl", &fixture("releases-lexicon.tsv"));
    assert!(stdout.ends_with("pairs: precision=1.0000 recall=1.0000 f1=1.0000\n"), "{stdout}");
    assert_eq!(
        clusters,
        [vec!["fi-q3-2025"], vec!["fi-dividend-2026"], vec!["fi-q3-2026", "en-q3-2026", "sv-q3-2026"]]
    );
    // The joins are content joins (numbers carry them), never a shared id.
    let versions: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|d| d["kind"] == "version")
        .collect();
    assert_eq!(versions.len(), 2, "{text}");
    for v in &versions {
        let signals = v["evidence"]["signals"].as_array().unwrap();
        assert!(signals.iter().all(|s| !s["name"].as_str().unwrap().starts_with("shared id")), "{v}");
        let numbers = signals.iter().find(|s| s["name"] == "numbers").unwrap()["score"].as_f64().unwrap();
        assert!(numbers > 0.5, "{v}");
    }
}

/// Republications are one story with the release; a rewrite with the same
/// figures and a release of the same day from the same template are not.
/// The wire pages carry the site's navigation, cookie notice and footer: by
/// Jaccard over the whole page (0.69) they were stories of their own.
#[test]
fn republications_join_their_release_through_page_chrome() {
    let (_, clusters, text) = eval_corpus("republications.jsonl", Path::new(""));
    assert_eq!(
        clusters,
        [
            vec!["tervala-ferries", "marketwire-ferries", "digest-ferries"],
            vec!["businessdaily-ferries"],
            vec!["tervala-datacentres", "marketwire-datacentres"],
        ]
    );
    let duplicates = text.lines().filter(|l| l.contains("\"kind\":\"duplicate\"")).count();
    assert_eq!(duplicates, 3, "{text}");
    assert_eq!(text.matches("3-gram containment").count(), 3, "{text}");
}
