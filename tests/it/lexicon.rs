//! The word table's compiled cache, end to end with the real binary: the
//! first run that parses `lexicon.tsv.gz` writes `lexicon.bin` beside it,
//! later runs open that instead and decide exactly as the text would, a
//! newer text replaces a stale cache, a damaged cache is parsed around, and
//! `check` says which table is loaded and its languages.

use std::io::{Read, Write};
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
    assert!(bytes.starts_with(b"PFLEXv2\n"));

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

    // A cache an earlier version compiled is parsed around and replaced too;
    let mut old = b"PFLEXv1\n".to_vec();
    old.extend_from_slice(&bytes[8..]);
    std::fs::write(&bin, &old).unwrap();
    let (again, log) = eval(dir.path());
    assert_eq!(again, parsed);
    assert!(log.contains("compiled word table written"), "{log}");
    assert!(std::fs::read(&bin).unwrap().starts_with(b"PFLEXv2\n"));
    // named on its own, it is refused with a word on what to do.
    let named = dir.path().join("old.bin");
    std::fs::write(&named, &old).unwrap();
    let (_, log) = eval(&named);
    assert!(log.contains("a compiled word table of another version"), "{log}");
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

/// A dictionary: (index headword, entry text) in text order; the first
/// entry is the description (`00databaseinfo`).
type Dict = (&'static str, &'static [(&'static str, &'static str)]);

const WIKDICT_INFO: &str = "suomi-English FreeDict+WikDict dictionary\n\nAvailability:\n\n    Licensed under \
the Creative Commons\n  Attribution-ShareAlike 3.0\n\nSource(s):\n  WikDict\n";
const OLD_INFO: &str = "English-Finnish FreeDict Dictionary\n\nAvailability:\n\n    GNU General Public \
License ver. 2.0\n  and any later version.\n\nNotes: none\n";

/// Tiny FreeDict dictionaries: Finnish-English in WikDict style (numbered
/// senses, each followed by a gloss), English-Finnish and Swedish-English
/// in the older style (one sense a line, notes), and a Finnish-Swedish
/// pivot.
const DICTS: &[Dict] = &[
    (
        "freedict-fin-eng",
        &[
            ("00databaseinfo", WIKDICT_INFO),
            ("talo", "talo /tˈalo/ <n>\nhouse, home\nyleensä ihmisten asumista varten tehty rakennus\n"),
            ("kaupunki", "kaupunki <n>\n1. city, town\nlarge settlement\n2. municipality (admin)\nunit\n"),
            ("42", "42 <num>\nforty-two\n"),
            ("helsingin yliopisto", "Helsingin yliopisto <prop>\nUniversity of Helsinki\n"),
            ("kirja", "Kirja <n>\n1. book; volume [printed]\na printed work\n2. the book of one's life\n"),
        ],
    ),
    (
        "freedict-eng-fin",
        &[
            ("00databaseinfo", OLD_INFO),
            ("house", "house /haʊs/ <n>\ntalo\nrakennus (iso), koti\n"),
            ("building", "building <n>\nrakennus\nNote: also a verb\n"),
            ("city hall", "city hall <n>\nkaupungintalo\n"),
            ("book", "book <n>\nkirja\nSee also: volume\n"),
        ],
    ),
    (
        "freedict-swe-eng",
        &[
            ("00databaseinfo", "Swedish-English FreeDict Dictionary\n\nAvailability: GPL 2+\n\n"),
            ("hus", "hus /hʉs/\nhouse\nbuilding, home\n"),
            ("stad", "stad\ncity; town\n"),
            ("byggnad", "byggnad\nbuilding\n"),
        ],
    ),
    (
        "freedict-fin-swe",
        &[
            ("00databaseinfo", "suomi-svenska FreeDict+WikDict dictionary\n\nAvailability: CC-BY-SA 3.0\n\n"),
            ("rakennus", "rakennus <n>\n1. byggnad\nbuilt structure\n"),
            ("talo", "talo\n1. hus\n"),
            ("uusisana", "uusisana\n1. hus, stad\n2. bok\n"),
        ],
    ),
];

/// dictd's base64 digits.
fn b64(mut n: usize) -> String {
    const DIGITS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = vec![DIGITS[n % 64]];
    while n >= 64 {
        n /= 64;
        out.push(DIGITS[n % 64]);
    }
    out.reverse();
    String::from_utf8(out).unwrap()
}

/// Writes `name.index` and the gzipped `name.dict.dz` into `dir`.
fn write_dict(dir: &Path, (name, entries): &Dict) {
    let (mut text, mut index) = (String::new(), String::new());
    for (head, entry) in *entries {
        index.push_str(&format!("{head}\t{}\t{}\n", b64(text.len()), b64(entry.len())));
        text.push_str(entry);
    }
    std::fs::write(dir.join(format!("{name}.index")), index).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    std::fs::write(dir.join(format!("{name}.dict.dz")), gz.finish().unwrap()).unwrap();
}

/// `polyfeed lexicon build --from from --out out`: (success, stdout, stderr).
fn build(from: &Path, out: &Path) -> (bool, String, String) {
    let run = Command::new(env!("CARGO_BIN_EXE_polyfeed"))
        .args(["lexicon", "build", "--from"])
        .arg(from)
        .arg("--out")
        .arg(out)
        .env("POLYFEED_LEXICON", out)
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).to_string();
    (run.status.success(), text(&run.stdout), text(&run.stderr))
}

fn gunzip(path: &Path) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap()).read_to_string(&mut text).unwrap();
    text
}

/// The table the Python builder this replaced (scripts/build-lexicon, in
/// git history) wrote from [`DICTS`]. Worth reading: `talo` means what its
/// first unnumbered WikDict line says (the gloss after it is not a
/// translation), what English "house" translates to read backwards, and
/// through Swedish `hus`; `uusisana` is known through Swedish only; `42`
/// and the two-word headword are left out; English words mean themselves
/// and their translations' meanings.
const EXPECTED: &str = "# polyfeed lexicon v1: lang, word, english:weight ...; see SOURCES.txt for licences\n\
en\tbook\tbook:0.912 volume:0.088\n\
en\tbuilding\tbuilding:0.833 house:0.167\n\
en\thouse\thouse:0.861 home:0.083 building:0.056\n\
fi\tkaupungintalo\tcity:0.500 hall:0.500\n\
fi\tkaupunki\tcity:0.333 municipality:0.333 town:0.333\n\
fi\tkirja\tbook:0.722 volume:0.167 life:0.056 one:0.056\n\
fi\tkoti\thouse:1.000\n\
fi\trakennus\tbuilding:0.778 house:0.222\n\
fi\ttalo\thouse:0.722 home:0.222 building:0.056\n\
fi\tuusisana\thouse:0.333 city:0.250 town:0.250 building:0.083 home:0.083\n\
sv\tbyggnad\tbuilding:1.000\n\
sv\thus\thouse:0.667 building:0.167 home:0.167\n\
sv\tstad\tcity:0.500 town:0.500\n";

#[test]
fn lexicon_build_makes_the_table_from_dictd_files() {
    let dicts = tempfile::tempdir().unwrap();
    DICTS.iter().for_each(|d| write_dict(dicts.path(), d));
    let out = tempfile::tempdir().unwrap();
    let out = out.path().join("lexicon");
    let (ok, stdout, stderr) = build(dicts.path(), &out);
    assert!(ok, "{stderr}");
    assert_eq!(gunzip(&out.join("lexicon.tsv.gz")), EXPECTED);
    assert!(stdout.contains("en=") && stdout.contains("fi=") && stdout.contains("from 4 dictionaries"), "{stdout}");
    let sources = std::fs::read_to_string(out.join("SOURCES.txt")).unwrap();
    assert!(sources.contains(
        "== freedict-fin-eng (fi-en): suomi-English FreeDict+WikDict dictionary\n\
Licensed under the Creative Commons Attribution-ShareAlike 3.0\n"
    ));
    assert!(sources.contains("GNU General Public License ver. 2.0 and any later version.\n"), "{sources}");
    // The compiled copy is there at once, fresh: the first run opens it.
    assert!(std::fs::read(out.join("lexicon.bin")).unwrap().starts_with(b"PFLEXv2\n"));
    let (_, log) = eval(&out);
    assert!(log.contains("opened from") && !log.contains("written"), "{log}");

    // Without --out: the user's data folder, where polyfeed also looks.
    let data = tempfile::tempdir().unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_polyfeed"))
        .args(["lexicon", "build", "--from"])
        .arg(dicts.path())
        .env("XDG_DATA_HOME", data.path())
        .env("POLYFEED_LEXICON", "")
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let table = data.path().join("polyfeed/lexicon/lexicon.tsv.gz");
    assert_eq!(gunzip(&table), EXPECTED);
    assert!(data.path().join("polyfeed/lexicon/lexicon.bin").is_file());
}

#[test]
fn damaged_dictionaries_are_left_out_with_a_warning() {
    let dicts = tempfile::tempdir().unwrap();
    DICTS.iter().for_each(|d| write_dict(dicts.path(), d));
    let dir = dicts.path();
    // German-English: the text is not gzip.
    std::fs::write(dir.join("freedict-deu-eng.index"), "haus\tA\tK\n").unwrap();
    std::fs::write(dir.join("freedict-deu-eng.dict.dz"), "haus\nhouse\n").unwrap();
    // French-English: an offset that is not base64.
    write_dict(dir, &("freedict-fra-eng", &[("maison", "maison\nhouse\n")]));
    std::fs::write(dir.join("freedict-fra-eng.index"), "maison\tA!\tM\n").unwrap();
    // Danish-English: an entry past the end of the text, and a gzip cut short.
    write_dict(dir, &("freedict-dan-eng", &[("hus", "hus\nhouse\n")]));
    std::fs::write(dir.join("freedict-dan-eng.index"), "hus\tA\tBAAAA\n").unwrap();
    write_dict(dir, &("freedict-isl-eng", &[("hús", "hús\nhouse\n")]));
    let gz = std::fs::read(dir.join("freedict-isl-eng.dict.dz")).unwrap();
    std::fs::write(dir.join("freedict-isl-eng.dict.dz"), &gz[..gz.len() - 6]).unwrap();
    // English-Norwegian: an index that is not UTF-8.
    write_dict(dir, &("freedict-eng-nor", &[("house", "house\nhus\n")]));
    std::fs::write(dir.join("freedict-eng-nor.index"), b"hus\xff\tA\tJ\n").unwrap();
    // Not a dictionary polyfeed reads (unknown language code, other names).
    std::fs::write(dir.join("freedict-xxx-eng.index"), "\u{0}\u{ff}").unwrap();
    std::fs::write(dir.join("README.index"), "").unwrap();

    let out = tempfile::tempdir().unwrap();
    let (ok, stdout, stderr) = build(dir, out.path());
    assert!(ok, "{stderr}");
    for name in ["freedict-deu-eng", "freedict-fra-eng", "freedict-dan-eng", "freedict-isl-eng", "freedict-eng-nor"] {
        assert!(stderr.contains(&format!("dictionary {name} left out: ")), "{name}: {stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(gunzip(&out.path().join("lexicon.tsv.gz")), EXPECTED, "the good dictionaries, as before");
    assert!(stdout.contains("from 4 dictionaries (5 left out as damaged"), "{stdout}");
    let sources = std::fs::read_to_string(out.path().join("SOURCES.txt")).unwrap();
    assert!(!sources.contains("deu-eng") && !sources.contains("isl-eng") && sources.contains("fin-swe"), "{sources}");
}

#[test]
fn without_dictionaries_lexicon_build_says_what_to_install_and_keeps_the_table() {
    let empty = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    write_table(out.path(), "");
    let before = std::fs::read(out.path().join("lexicon.tsv.gz")).unwrap();
    for from in [empty.path().to_path_buf(), empty.path().join("missing")] {
        let (ok, stdout, stderr) = build(&from, out.path());
        assert!(!ok && stdout.is_empty(), "{stdout}");
        assert!(
            stderr.contains("no FreeDict dictionaries") && stderr.contains("apt-get install dict-freedict-fin-eng")
        );
    }
    // Dictionaries that all turn out damaged: nothing usable, nothing replaced.
    write_dict(empty.path(), &("freedict-fin-eng", &[("talo", "talo\nhouse\n")]));
    std::fs::write(empty.path().join("freedict-fin-eng.dict.dz"), "not gzip").unwrap();
    let (ok, _, stderr) = build(empty.path(), out.path());
    assert!(!ok && stderr.contains("no words from the dictionaries"), "{stderr}");
    assert_eq!(std::fs::read(out.path().join("lexicon.tsv.gz")).unwrap(), before);
    let run = Command::new(env!("CARGO_BIN_EXE_polyfeed"))
        .args(["lexicon", "build", "--from"])
        .arg(empty.path().join("missing"))
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1), "exit status 1 (an error), not a panic's 101");
}
