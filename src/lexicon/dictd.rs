//! Reads the FreeDict dictionaries in dictd format that Debian and Ubuntu
//! install (`/usr/share/dictd/freedict-XXX-YYY.{index,dict.dz}`), for the
//! word table builder (`super::build`).
//!
//! An `.index` line is `headword<TAB>offset<TAB>length`, the numbers in
//! dictd's base64 digits, pointing into the gzipped `.dict.dz`; an entry's
//! text is its headword line, then its body lines. A dictionary whose files
//! are damaged (unreadable, bad gzip, bad base64, offsets past the end) is
//! reported once and read as empty, never a panic.
//!
//! The text rules here copy Python's (`\w`, `\s`, `str.strip`,
//! `str.isdigit`, `str.lower`) exactly, because the table they build must
//! be the same whatever built it: the table's id is the hash of its text,
//! and stored features name the table they were computed with.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;

/// ISO 639-3 codes of FreeDict's file names -> the two-letter codes feeds use.
const ISO3: &[(&str, &str)] = &[
    ("afr", "af"),
    ("ara", "ar"),
    ("bre", "br"),
    ("bul", "bg"),
    ("ces", "cs"),
    ("cym", "cy"),
    ("dan", "da"),
    ("deu", "de"),
    ("ell", "el"),
    ("eng", "en"),
    ("epo", "eo"),
    ("fin", "fi"),
    ("fra", "fr"),
    ("gla", "gd"),
    ("gle", "ga"),
    ("hin", "hi"),
    ("hrv", "hr"),
    ("hun", "hu"),
    ("ind", "id"),
    ("isl", "is"),
    ("ita", "it"),
    ("jpn", "ja"),
    ("kur", "ku"),
    ("lat", "la"),
    ("lit", "lt"),
    ("nld", "nl"),
    ("nor", "no"),
    ("pol", "pl"),
    ("por", "pt"),
    ("rus", "ru"),
    ("slk", "sk"),
    ("slv", "sl"),
    ("spa", "es"),
    ("srp", "sr"),
    ("swe", "sv"),
    ("swh", "sw"),
    ("tur", "tr"),
];

/// The senses of one source word: per sense, its translation phrases.
pub type Senses = Vec<Vec<String>>;

/// Python's `\w`: letters, numbers (any `N` category) and `_`. Checked
/// against Python 3.11's `re` over every code point it knows.
const WORD_CLASS: &str = r"[\p{L}\p{N}_]";
/// Python's `\s` (and `str.isspace`): Unicode White_Space plus the four
/// information separators U+001C..U+001F.
const SPACE_CLASS: &str = r"[\s\x1C-\x1F]";

static WORD: LazyLock<Regex> = LazyLock::new(|| Regex::new(&format!("{WORD_CLASS}+")).expect("regex"));
static WHOLE_WORD: LazyLock<Regex> = LazyLock::new(|| Regex::new(&format!("^{WORD_CLASS}+$")).expect("regex"));
/// Python's `str.isdigit`: decimal digits, and the other characters whose
/// Numeric_Type is Digit (superscripts, circled digits...).
static DIGITS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^[\p{Nd}\x{b2}\x{b3}\x{b9}\x{1369}-\x{1371}\x{19da}\x{2070}\x{2074}-\x{2079}\x{2080}-\x{2089}\x{2460}-\x{2468}\x{2474}-\x{247c}\x{2488}-\x{2490}\x{24ea}\x{24f5}-\x{24fd}\x{24ff}\x{2776}-\x{277e}\x{2780}-\x{2788}\x{278a}-\x{2792}\x{10a40}-\x{10a43}\x{10e60}-\x{10e68}\x{11052}-\x{1105a}\x{1f100}-\x{1f10a}]+$",
    )
    .expect("regex")
});
static NUMBERED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"^{SPACE_CLASS}*\d+\.{SPACE_CLASS}+")).expect("regex"));
static SKIP_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"^{SPACE_CLASS}*(Note|Synonyms?|see|See also|Usage|Example){SPACE_CLASS}*:")).expect("regex")
});
static BRACKETS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\([^)]*\)|\[[^\]]*\]|<[^>]*>|\{[^}]*\}").expect("regex"));
static LICENCE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"(?s)Availability:{SPACE_CLASS}*(.*?)\n{SPACE_CLASS}*\n")).expect("regex"));
static SPACES: LazyLock<Regex> = LazyLock::new(|| Regex::new(&format!("{SPACE_CLASS}+")).expect("regex"));

/// English words that carry no meaning of their own (and the
/// abbreviations dictionaries use for "somebody", "something").
static EN_STOP: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    "a an the to of in on at for with by from and or nor be is are was were been being as \
that this these those it its into onto out up down off over than then so such not no one's oneself \
someone something somebody sth sb etw jdn jdm jds sich qn qch"
        .split(' ')
        .collect()
});

/// Python's `str.isspace` for one character.
fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

/// Python's `str.strip()`.
pub fn strip(s: &str) -> &str {
    s.trim_matches(is_space)
}

/// Python's `str.isdigit()` (false for the empty string).
pub fn is_digits(s: &str) -> bool {
    if s.is_ascii() {
        return !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    }
    DIGITS.is_match(s)
}

/// Python's `re.fullmatch(r"\w+", s)`.
pub fn is_word(s: &str) -> bool {
    if s.is_ascii() {
        return !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    }
    WHOLE_WORD.is_match(s)
}

/// The English content words of a phrase, lower-cased, in order (repeats
/// kept): two characters or more, no stop words, no numbers.
pub fn words(phrase: &str) -> Vec<String> {
    let lower = phrase.to_lowercase();
    WORD.find_iter(&lower)
        .map(|m| m.as_str())
        .filter(|w| w.chars().count() >= 2 && !EN_STOP.contains(w) && !is_digits(w))
        .map(str::to_string)
        .collect()
}

/// The installed dictionaries, by (source, target) language, sorted: the
/// `freedict-XXX-YYY.index` files in `dir` whose codes are both known (of
/// two files for one pair, the later name wins).
pub fn discover(dir: &Path) -> std::io::Result<BTreeMap<(String, String), String>> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir)?.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect();
    names.sort();
    let iso = |code: &str| ISO3.iter().find(|(three, _)| *three == code).map(|(_, two)| two.to_string());
    let mut pairs = BTreeMap::new();
    for name in names {
        let Some(stem) = name.strip_suffix(".index") else { continue };
        let Some(codes) = stem.strip_prefix("freedict-") else { continue };
        let lower3 = |s: &str| s.len() == 3 && s.bytes().all(|b| b.is_ascii_lowercase());
        let Some((a, b)) = codes.split_once('-').filter(|(a, b)| lower3(a) && lower3(b)) else { continue };
        if let (Some(a), Some(b)) = (iso(a), iso(b)) {
            pairs.insert((a, b), stem.to_string());
        }
    }
    Ok(pairs)
}

/// Why a dictionary cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum Damaged {
    /// A file cannot be read (or the index is not UTF-8).
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    /// A number in the index is not dictd base64.
    #[error("{0}: bad offset or length {1:?}")]
    Number(PathBuf, String),
    /// An index entry points past the end of the text.
    #[error("{0}: an entry ({1}+{2}) lies past the end of the {3} bytes of text")]
    Range(PathBuf, u64, u64, usize),
}

/// One dictionary's files, read: its index text and its uncompressed text.
pub struct Dictionary {
    index: String,
    data: Vec<u8>,
    path: PathBuf,
}

impl Dictionary {
    /// Reads `dir/name.index` and decompresses `dir/name.dict.dz`.
    pub fn open(dir: &Path, name: &str) -> Result<Dictionary, Damaged> {
        let index_path = dir.join(format!("{name}.index"));
        let index = std::fs::read_to_string(&index_path).map_err(|e| Damaged::Io(index_path.clone(), e))?;
        // Python reads the index in universal-newline mode.
        let index = if index.contains('\r') { index.replace("\r\n", "\n").replace('\r', "\n") } else { index };
        let dz = dir.join(format!("{name}.dict.dz"));
        let data = std::fs::read(&dz).and_then(|gz| gunzip(&gz)).map_err(|e| Damaged::Io(dz, e))?;
        Ok(Dictionary { index, data, path: index_path })
    }

    /// The text at an index entry's offset and length.
    fn text(&self, offset: &str, len: &str) -> Result<String, Damaged> {
        let (off, len) = (self.number(offset)?, self.number(len)?);
        self.span(off, len).map(Cow::into_owned)
    }

    fn span(&self, off: u64, len: u64) -> Result<Cow<'_, str>, Damaged> {
        let range = usize::try_from(off).ok().zip(off.checked_add(len).and_then(|e| usize::try_from(e).ok()));
        match range.and_then(|(a, b)| self.data.get(a..b)) {
            Some(bytes) => Ok(String::from_utf8_lossy(bytes)),
            None => Err(Damaged::Range(self.path.clone(), off, len, self.data.len())),
        }
    }

    /// A dictd base64 number (the empty string is 0).
    fn number(&self, s: &str) -> Result<u64, Damaged> {
        let bad = || Damaged::Number(self.path.clone(), s.to_string());
        s.bytes().try_fold(0u64, |n, c| {
            let digit = match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' => 62,
                b'/' => 63,
                _ => return Err(bad()),
            };
            n.checked_mul(64).and_then(|n| n.checked_add(u64::from(digit))).ok_or_else(bad)
        })
    }

    /// The index lines, split at tabs.
    fn index_lines(&self) -> impl Iterator<Item = Vec<&str>> {
        self.index.split('\n').map(|l| l.split('\t').collect())
    }

    /// The dictionary's own description (its `00-database-info` entry), or
    /// "" when it has none.
    pub fn info(&self) -> Result<String, Damaged> {
        for p in self.index_lines() {
            if p[0] == "00databaseinfo" {
                let (Some(off), Some(len)) = (p.get(1), p.get(2)) else {
                    return Err(Damaged::Number(self.path.clone(), p.join("\t")));
                };
                return self.text(off, len);
            }
        }
        Ok(String::new())
    }

    /// Calls `f` with each entry once, in the order of its place in the
    /// text: its headword line and its body lines. The dictionary's own
    /// entries (`00-database-...`) and continuation entries are left out.
    pub fn entries(&self, mut f: impl FnMut(&str, &[&str])) -> Result<(), Damaged> {
        let mut spans = BTreeSet::new();
        for p in self.index_lines().filter(|p| p.len() >= 3) {
            spans.insert((self.number(p[1])?, self.number(p[2])?));
        }
        for (off, len) in spans {
            let text = self.span(off, len)?;
            let mut lines = text.split('\n');
            let head = lines.next().unwrap_or_default();
            if !head.starts_with("00-database") && !head.starts_with(' ') {
                let body: Vec<&str> = lines.collect();
                f(head, &body);
            }
        }
        Ok(())
    }
}

/// Decompresses a gzip file (all its members), into a buffer sized from
/// its trailer (the uncompressed size modulo 4 GiB; trusted up to 16 times
/// the compressed size: text compresses less than that).
fn gunzip(gz: &[u8]) -> std::io::Result<Vec<u8>> {
    let size = gz
        .len()
        .checked_sub(4)
        .map_or(0, |at| u32::from_le_bytes([gz[at], gz[at + 1], gz[at + 2], gz[at + 3]]) as usize);
    let mut data = Vec::with_capacity(size.min(gz.len().saturating_mul(16)) + 1);
    flate2::read::MultiGzDecoder::new(gz).read_to_end(&mut data)?;
    Ok(data)
}

/// The word an entry is for, lower-cased; `None` for phrases, hyphenated
/// and numeric forms. `single` false keeps phrases (for English headwords,
/// which are split into words later).
pub fn headword(line: &str, single: bool) -> Option<String> {
    let marks: &[&str] = if single { &[" /", " <", " ("] } else { &[" /", " <"] };
    let end = marks.iter().filter_map(|m| line.find(m)).min().unwrap_or(line.len());
    let word = strip(&line[..end]).to_lowercase();
    let ok = if single { is_word(&word) && !is_digits(&word) } else { !word.is_empty() };
    ok.then_some(word)
}

/// An entry's translation phrases per sense, most common sense first.
/// WikDict entries number their senses (`N. translations`) and follow
/// each with a gloss in the source language; older FreeDict entries have
/// one sense per line, with notes and examples to skip.
pub fn senses(body: &[&str], wikdict: bool) -> Senses {
    let lines: Vec<Cow<'_, str>> = if wikdict {
        let mut out = Vec::new();
        let mut fresh = true;
        for line in body.iter().filter(|l| !strip(l).is_empty()) {
            if NUMBERED.is_match(line) {
                out.push(NUMBERED.replace(line, ""));
            } else if fresh {
                out.push(Cow::Borrowed(*line));
            }
            fresh = false;
        }
        out
    } else {
        body.iter().filter(|l| !strip(l).is_empty() && !SKIP_LINE.is_match(l)).map(|l| Cow::Borrowed(*l)).collect()
    };
    lines.iter().map(|l| phrases(l)).collect()
}

/// A sense line's phrases: bracketed notes dropped, split at `,` and `;`.
fn phrases(line: &str) -> Vec<String> {
    let line = if line.contains(['(', '[', '<', '{']) { BRACKETS.replace_all(line, " ") } else { Cow::Borrowed(line) };
    line.split([',', ';']).map(strip).filter(|p| !p.is_empty()).map(str::to_string).collect()
}

/// The licence paragraph of a dictionary's description (`Availability:`
/// up to the next blank line), on one line.
pub fn licence(info: &str) -> Option<String> {
    let text = LICENCE.captures(info)?.get(1)?.as_str();
    Some(strip(&SPACES.replace_all(text, " ")).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_rules_follow_python() {
        assert_eq!(strip("\x1c a\u{a0}\t"), "a");
        assert!(is_digits("12") && is_digits("²") && !is_digits("½") && !is_digits("") && !is_digits("1a"));
        assert!(is_word("talo_2") && is_word("ÿö½") && !is_word("a-b") && !is_word(""));
        assert_eq!(words("To the Town-hall, 2 x 12b"), ["town", "hall", "12b"]);
        assert_eq!(headword("Talo /ˈtɑlo/ <noun>", true).as_deref(), Some("talo"));
        assert_eq!(headword("kaksi kolme", true), None);
        assert_eq!(headword("42", true), None);
        assert_eq!(headword("Town hall (building) <n>", false).as_deref(), Some("town hall (building)"));
    }

    #[test]
    fn senses_of_both_styles() {
        let body = ["1. house, building (structure); home", "a gloss", "", "2. firm [business]"];
        assert_eq!(senses(&body, true), [vec!["house", "building", "home"], vec!["firm"]]);
        let old = ["house; home", "Note: rare", " see: talo", "building"];
        assert_eq!(senses(&old, false), [vec!["house", "home"], vec!["building"]]);
        let glossed = ["a first line", "1. one"];
        assert_eq!(senses(&glossed, true), [vec!["a first line"], vec!["one"]]);
    }

    #[test]
    fn the_licence_paragraph() {
        let info = "Finnish-English\n\nAvailability:  GPL\n   version 2\n  \nMore";
        assert_eq!(licence(info).as_deref(), Some("GPL version 2"));
        assert_eq!(licence("nothing"), None);
    }
}
