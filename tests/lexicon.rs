//! The word table's compiled cache, end to end with the real binary: the
//! first run that parses `lexicon.tsv.gz` writes `lexicon.bin` beside it,
//! later runs open that instead and decide exactly as the text would, a
//! newer text replaces a stale cache, a damaged cache is parsed around, and
//! `check` says which table is loaded and its languages.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/eval_dedup").join(name)
}

/// The eval fixture's hand-written table, gzipped as `lexicon.tsv.gz` in `dir`.
fn write_table(dir: &Path, extra: &str) {
    let text = std::fs::read_to_string(fixture("lexicon.tsv")).unwrap() + extra;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    std::fs::write(dir.join("lexicon.tsv.gz"), gz.finish().unwrap()).unwrap();
}

/// `eval-dedup` of the eval fixture with the table in `dir`: (stdout, stderr).
fn eval(dir: &Path) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_polyfeed"))
        .arg("eval-dedup")
        .arg(fixture("corpus.jsonl"))
        .env("POLYFEED_LEXICON", dir)
        .env("RUST_LOG", "polyfeed=info")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    (String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn the_compiled_table_is_written_once_and_decides_as_the_text() {
    let dir = tempfile::tempdir().unwrap();
    write_table(dir.path(), "");
    let (parsed, log) = eval(dir.path());
    assert!(parsed.ends_with("pairs: precision=1.0000 recall=1.0000 f1=1.0000\n"), "{parsed}");
    assert!(log.contains("compiled word table written"), "{log}");
    let bin = dir.path().join("lexicon.bin");
    let bytes = std::fs::read(&bin).unwrap();
    assert!(bytes.starts_with(b"PFLEXv1\n"));

    let (compiled, log) = eval(dir.path());
    assert_eq!(compiled, parsed);
    assert!(log.contains("opened from") && !log.contains("written"), "{log}");
    assert_eq!(std::fs::read(&bin).unwrap(), bytes, "a fresh cache is not rewritten");

    // A newer text (one more word) makes the cache stale: parsed and rewritten.
    std::thread::sleep(std::time::Duration::from_millis(20));
    write_table(dir.path(), "sv\tbro\tbridge:1.0\n");
    let (_, log) = eval(dir.path());
    assert!(log.contains("compiled word table written"), "{log}");
    assert_ne!(std::fs::read(&bin).unwrap(), bytes);

    // A damaged cache (cut in its header) is parsed around and replaced.
    std::fs::write(&bin, &bytes[..40]).unwrap();
    let (again, log) = eval(dir.path());
    assert_eq!(again, parsed);
    assert!(log.contains("compiled word table written"), "{log}");
}

#[test]
fn check_names_the_table_and_its_languages() {
    let dir = tempfile::tempdir().unwrap();
    write_table(dir.path(), "");
    let config = dir.path().join("feeds.toml");
    std::fs::write(
        &config,
        "[[source]]\nurl = \"https://example.org/fi.xml\"\nlang = \"fi\"\n\n\
[[source]]\nurl = \"https://example.org/et.xml\"\nlang = \"et\"\n",
    )
    .unwrap();
    let check = |lexicon: &Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_polyfeed"))
            .args(["--config", config.to_str().unwrap(), "check"])
            .env("POLYFEED_LEXICON", lexicon)
            .env_remove("RUST_LOG")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
    };
    let first = check(dir.path());
    assert!(first.contains("word table:") && first.contains("words for fi, sv"), "{first}");
    assert!(first.contains("no words for et"), "{first}");
    let second = check(dir.path());
    assert!(second.contains("compiled in lexicon.bin; words for fi, sv"), "{second}");
    let none = check(Path::new(""));
    assert!(none.contains("word table:  none found"), "{none}");
}
