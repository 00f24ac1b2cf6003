//! `polyfeed eval-dedup` end to end: the real binary over a small corpus
//! written for this test (the bridge post in en/fi/sv, the library post in
//! en/sv, and two distractors on the same topics), with a tiny hand-written
//! lexicon, so the result does not depend on installed dictionaries.

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
    assert!(stderr.contains("no lexicon found") && stderr.contains("scripts/build-lexicon"), "{stderr}");
}
