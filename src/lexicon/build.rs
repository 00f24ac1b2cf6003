//! Builds the word table (`lexicon.tsv.gz`, `SOURCES.txt` and the compiled
//! `lexicon.bin`) from the FreeDict dictionaries in dictd format that
//! Debian and Ubuntu install: `polyfeed lexicon build`.
//!
//! Each table line is `lang<TAB>word<TAB>english:weight ...`: a word's
//! meaning as a few weighted English words, which polyfeed stems into
//! language-neutral concepts when it loads the table. A language's words
//! come from three sources:
//! - its dictionary towards English, each sense weighing 1/(its rank), its
//!   phrases sharing that, a phrase's words sharing the phrase's;
//! - the English dictionary towards it, read backwards (English headword
//!   -> its single-word translations);
//! - pivots through another language that has English meanings (Swedish is
//!   thin towards English, Finnish-Swedish is rich), at half weight.
//!
//! English words mean themselves (half) and what their translations mean
//! back in English (half), so that both sides of a comparison spread over
//! the same near-synonyms. Each word keeps its six heaviest English words
//! of weight 0.04 or more, renormalised.
//!
//! The arithmetic runs in the order of the original Python builder (maps
//! iterated in insertion order, sums left to right), so that the same
//! dictionaries give the same table, byte for byte, whatever built it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use rustc_hash::{FxBuildHasher, FxHashMap};

use super::dictd::{self, Damaged, Dictionary, Senses};

/// The weight of the pivot meanings beside the direct ones.
const PIVOT_WEIGHT: f64 = 0.5;
/// The share of an English word's back-translations in its meaning.
const SELF_WEIGHT: f64 = 0.5;
/// English words kept per word.
const KEEP: usize = 6;
/// The least weight an English word keeps in a meaning.
const MIN_WEIGHT: f64 = 0.04;
/// The table's first line.
const HEADER: &str = "# polyfeed lexicon v1: lang, word, english:weight ...; see SOURCES.txt for licences\n";

/// Where the dictionaries are on Debian and Ubuntu.
pub const DEFAULT_FROM: &str = "/usr/share/dictd";
/// The Debian packages of the dictionaries polyfeed's languages use.
pub const PACKAGES: &str = "dict-freedict-fin-eng dict-freedict-eng-fin dict-freedict-swe-eng \
dict-freedict-eng-swe dict-freedict-fin-swe dict-freedict-swe-fin dict-freedict-fra-eng dict-freedict-eng-fra \
dict-freedict-deu-eng dict-freedict-eng-deu";

/// An insertion-ordered map (Python's `dict`): the order sums run in.
type Map<K, V> = IndexMap<K, V, FxBuildHasher>;
/// A meaning: English word (by its number in [`English`]) -> weight, in
/// insertion order. Meanings are short, so a list searched from the start
/// does what Python's dict does, in less memory.
type Dist = Vec<(u32, f64)>;
/// Language -> word -> meaning.
type Meanings = Map<String, Map<String, Dist>>;
/// The finished table: (language, word) -> English words by weight.
type Table = Vec<((String, String), Dist)>;

/// The English words met, numbered.
#[derive(Default)]
struct English {
    ids: FxHashMap<Box<str>, u32>,
    words: Vec<Box<str>>,
}

impl English {
    fn id(&mut self, word: &str) -> u32 {
        if let Some(id) = self.ids.get(word) {
            return *id;
        }
        let id = self.words.len() as u32;
        self.words.push(word.into());
        self.ids.insert(word.into(), id);
        id
    }

    fn word(&self, id: u32) -> &str {
        &self.words[id as usize]
    }

    /// The English content words of a phrase, numbered.
    fn words(&mut self, phrase: &str) -> Vec<u32> {
        dictd::words(phrase).iter().map(|w| self.id(w)).collect()
    }
}

/// Why no table was written.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// No dictionary in the folder.
    #[error(
        "no FreeDict dictionaries (freedict-XXX-YYY.index and .dict.dz) in {0}; on Debian or Ubuntu: \
sudo apt-get install {PACKAGES}; or name another folder with --from"
    )]
    NoDictionaries(PathBuf),
    /// Dictionaries, but not one usable word from them.
    #[error("no words from the dictionaries in {0} (damaged? see the warnings); nothing written")]
    Empty(PathBuf),
    /// Writing the table failed.
    #[error("cannot write {0}: {1}")]
    Write(PathBuf, std::io::Error),
}

/// What a build wrote.
#[derive(Debug)]
pub struct Report {
    /// The table written.
    pub table: PathBuf,
    /// Words per language.
    pub counts: BTreeMap<String, usize>,
    /// The dictionaries used, by name.
    pub used: Vec<String>,
    /// The dictionaries left out as damaged, with the reason.
    pub damaged: Vec<String>,
    /// The compiled copy, or why it could not be written.
    pub compiled: Result<PathBuf, String>,
}

/// Builds the table from the dictionaries in `from` into the folder `out`
/// (created if needed). The files are replaced atomically: a running
/// polyfeed keeps reading the old ones, and a failed build leaves them.
pub fn build(from: &Path, out: &Path) -> Result<Report, BuildError> {
    let pairs = if from.is_dir() { dictd::discover(from).unwrap_or_default() } else { BTreeMap::new() };
    if pairs.is_empty() {
        return Err(BuildError::NoDictionaries(from.to_path_buf()));
    }
    let mut sources = Sources { dir: from.to_path_buf(), pairs, damaged: BTreeMap::new(), infos: BTreeMap::new() };
    let mut english = English::default();
    let start = std::time::Instant::now();
    let phase = |name: &str| tracing::debug!("lexicon build: {name} at {:.1} s", start.elapsed().as_secs_f64());
    let base = english_maps(&mut sources, &mut english);
    phase("direct and reversed English meanings");
    let pivots = pivots(&mut sources, &base);
    phase("pivots");
    let synonyms = english_synonyms(&mut sources, &base, &mut english);
    phase("English synonyms");
    let mut all = base;
    all.insert("en".to_string(), synonyms);
    let table = combine(&all, &pivots, &english);
    drop((all, pivots));
    phase("combined");
    if table.is_empty() {
        return Err(BuildError::Empty(from.to_path_buf()));
    }
    std::fs::create_dir_all(out).map_err(|e| BuildError::Write(out.to_path_buf(), e))?;
    let path = out.join(super::FILE);
    let lex = write_table(&path, &table, &english).map_err(|e| BuildError::Write(path.clone(), e))?;
    phase("table written");
    let sources_path = out.join("SOURCES.txt");
    super::write_atomic(&sources_path, sources.notice().as_bytes()).map_err(|e| BuildError::Write(sources_path, e))?;
    let compiled = super::write_compiled_beside(&path, &lex).map_err(|e| e.to_string());
    phase("compiled");
    let mut counts = BTreeMap::new();
    for ((lang, _), _) in &table {
        *counts.entry(lang.clone()).or_insert(0) += 1;
    }
    let used = sources.pairs.values().filter(|n| !sources.damaged.contains_key(*n)).cloned().collect();
    let damaged = sources.damaged.iter().map(|(n, e)| format!("{n}: {e}")).collect();
    Ok(Report { table: path, counts, used, damaged, compiled })
}

/// The dictionaries found, and those that turned out damaged.
struct Sources {
    dir: PathBuf,
    /// (source, target) language -> dictionary name, sorted.
    pairs: BTreeMap<(String, String), String>,
    /// Name -> what is wrong with it.
    damaged: BTreeMap<String, String>,
    /// Name -> its description, for the dictionaries read.
    infos: BTreeMap<String, String>,
}

impl Sources {
    /// (source, target, name) of every dictionary, sorted by language pair.
    fn pairs(&self) -> Vec<(String, String, String)> {
        self.pairs.iter().map(|((s, d), n)| (s.clone(), d.clone(), n.clone())).collect()
    }

    /// A dictionary's entries, merged per headword (in order of first
    /// appearance); empty, with a warning the first time, when damaged.
    /// `single` keeps single-word headwords only.
    fn read(&mut self, name: &str, single: bool) -> Map<String, Senses> {
        match self.try_read(name, single) {
            Ok(words) => words,
            Err(e) => {
                if !self.damaged.contains_key(name) {
                    tracing::warn!("dictionary {name} left out: {e}");
                    self.damaged.insert(name.to_string(), e.to_string());
                }
                Map::default()
            }
        }
    }

    fn try_read(&mut self, name: &str, single: bool) -> Result<Map<String, Senses>, Damaged> {
        let dict = Dictionary::open(&self.dir, name)?;
        let info = dict.info()?;
        let wikdict = info.contains("WikDict");
        self.infos.insert(name.to_string(), info);
        let mut out: Map<String, Senses> = Map::default();
        dict.entries(|head, body| {
            if let Some(word) = dictd::headword(head, single) {
                out.entry(word).or_default().extend(dictd::senses(body, wikdict));
            }
        })?;
        Ok(out)
    }

    /// `SOURCES.txt`: each dictionary used, with its first line and licence.
    fn notice(&self) -> String {
        let mut out = String::from(
            "polyfeed's lexicon.tsv.gz is derived from these FreeDict dictionaries (https://freedict.org/),\n\
as packaged by Debian; it keeps their licences. Each dictionary's own notice:\n\n",
        );
        for ((src, dst), name) in &self.pairs {
            if self.damaged.contains_key(name) {
                continue;
            }
            let text = match self.infos.get(name) {
                Some(info) => info.clone(),
                None => Dictionary::open(&self.dir, name).and_then(|d| d.info()).unwrap_or_default(),
            };
            let first =
                if text.is_empty() { name.as_str() } else { dictd::strip(&text).split('\n').next().unwrap_or("") };
            let licence = dictd::licence(&text).unwrap_or_else(|| "licence: see /usr/share/doc".to_string());
            out.push_str(&format!("== {name} ({src}-{dst}): {first}\n{licence}\n\n"));
        }
        out
    }
}

/// `d[key] += v`, a missing key counting as 0.
fn add(d: &mut Dist, key: u32, v: f64) {
    match d.iter_mut().find(|(k, _)| *k == key) {
        Some((_, x)) => *x += v,
        None => d.push((key, 0.0 + v)),
    }
}

/// The weights divided by their sum (empty when they sum to 0), summed
/// left to right as Python's `sum` (before 3.12) does.
fn normalised(d: &[(u32, f64)]) -> Dist {
    let total = d.iter().fold(0.0, |a, (_, v)| a + v);
    if total == 0.0 { Dist::new() } else { d.iter().map(|(w, v)| (*w, v / total)).collect() }
}

/// Sense i weighs 1/(i+1); its phrases share that; a phrase's words share
/// the phrase's.
fn add_sense_weights(d: &mut Dist, senses: &Senses, english: &mut English) {
    for (i, phrases) in senses.iter().enumerate() {
        let phrases: Vec<Vec<u32>> = phrases.iter().map(|p| english.words(p)).filter(|w| !w.is_empty()).collect();
        for p in &phrases {
            for w in p {
                add(d, *w, 1.0 / (i + 1) as f64 / phrases.len() as f64 / p.len() as f64);
            }
        }
    }
}

/// A translation phrase as a word of the target language: lower-cased,
/// stripped.
fn as_word(phrase: &str) -> String {
    dictd::strip(&phrase.to_lowercase()).to_string()
}

/// Language -> word -> English meaning, from the dictionaries towards
/// English and the English ones read backwards.
fn english_maps(sources: &mut Sources, english: &mut English) -> Meanings {
    let mut maps = Meanings::default();
    for (src, dst, name) in sources.pairs() {
        if dst == "en" && src != "en" {
            for (word, senses) in sources.read(&name, true) {
                let mut d = Dist::new();
                add_sense_weights(&mut d, &senses, english);
                let d = normalised(&d);
                if !d.is_empty() {
                    let m = maps.entry(src.clone()).or_default().entry(word).or_default();
                    d.iter().for_each(|(e, v)| add(m, *e, *v));
                }
            }
        } else if src == "en" && dst != "en" {
            for (head, senses) in sources.read(&name, false) {
                let heads = english.words(&head);
                if heads.is_empty() {
                    continue;
                }
                for (i, phrases) in senses.iter().enumerate() {
                    for p in phrases {
                        let t = as_word(p);
                        if dictd::is_word(&t) && !dictd::is_digits(&t) {
                            let m = maps.entry(dst.clone()).or_default().entry(t).or_default();
                            for e in &heads {
                                add(m, *e, 1.0 / (i + 1) as f64 / heads.len() as f64);
                            }
                        }
                    }
                }
            }
        }
    }
    for m in maps.values_mut() {
        m.values_mut().for_each(|d| *d = normalised(d));
    }
    maps
}

/// The English meaning of a sense's phrases through `words` (another
/// language's meanings), with the sense's weight: what to add, in order.
fn through(words: &Map<String, Dist>, rank: usize, phrases: &[String]) -> Vec<(u32, f64)> {
    let known: Vec<&Dist> = phrases.iter().filter_map(|p| words.get(&as_word(p))).collect();
    let mut out = Vec::new();
    for d in &known {
        for (e, v) in d.iter() {
            out.push((*e, v / (rank + 1) as f64 / known.len() as f64));
        }
    }
    out
}

/// Language -> word -> English meaning through lang -> other -> English.
fn pivots(sources: &mut Sources, base: &Meanings) -> Meanings {
    let mut out = Meanings::default();
    for (src, mid, name) in sources.pairs() {
        let Some(words) = base.get(&mid).filter(|_| src != "en" && mid != "en") else { continue };
        for (word, senses) in sources.read(&name, true) {
            let mut d = Dist::new();
            for (i, phrases) in senses.iter().enumerate() {
                through(words, i, phrases).into_iter().for_each(|(e, v)| add(&mut d, e, v));
            }
            if !d.is_empty() {
                let prev = out.entry(src.clone()).or_default().entry(word).or_default();
                normalised(&d).iter().for_each(|(e, v)| add(prev, *e, *v));
            }
        }
    }
    out
}

/// English word -> meaning: itself, and what its translations (first three
/// senses) mean back in English.
fn english_synonyms(sources: &mut Sources, base: &Meanings, english: &mut English) -> Map<String, Dist> {
    let mut back: Map<String, Dist> = Map::default();
    for (src, dst, name) in sources.pairs() {
        let Some(words) = base.get(&dst).filter(|_| src == "en") else { continue };
        for (head, senses) in sources.read(&name, true) {
            for (i, phrases) in senses.iter().take(3).enumerate() {
                let adds = through(words, i, phrases);
                if !adds.is_empty() {
                    let d = back.entry(head.clone()).or_default();
                    adds.into_iter().for_each(|(e, v)| add(d, e, v));
                }
            }
        }
    }
    back.into_iter()
        .map(|(h, d)| {
            let mut mix: Dist = normalised(&d).into_iter().map(|(e, v)| (e, SELF_WEIGHT * v)).collect();
            add(&mut mix, english.id(&h), 1.0 - SELF_WEIGHT);
            (h, mix)
        })
        .collect()
}

/// English words by weight, heaviest first, ties alphabetically.
fn by_weight(mut d: Dist, english: &English) -> Dist {
    d.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| english.word(a.0).cmp(english.word(b.0))));
    d
}

/// The final table, sorted: per (language, word), its heaviest English
/// words.
fn combine(base: &Meanings, pivots: &Meanings, english: &English) -> Table {
    let mut table = Table::new();
    let empty = Map::default();
    let langs: BTreeSet<&String> = base.keys().chain(pivots.keys()).collect();
    for lang in langs {
        let b = base.get(lang).unwrap_or(&empty);
        let p = pivots.get(lang).unwrap_or(&empty);
        let mut words: Vec<((String, String), Dist)> = Vec::new();
        for w in b.keys().chain(p.keys().filter(|w| !b.contains_key(*w))) {
            let mut d = b.get(w).cloned().unwrap_or_default();
            for (e, v) in &normalised(p.get(w).map_or(&[][..], Vec::as_slice)) {
                add(&mut d, *e, PIVOT_WEIGHT * v);
            }
            let mut top = by_weight(normalised(&d), english);
            top.truncate(KEEP);
            top.retain(|(_, v)| *v >= MIN_WEIGHT);
            if !top.is_empty() {
                words.push(((lang.clone(), w.clone()), by_weight(normalised(&top), english)));
            }
        }
        words.sort_unstable_by(|a, b| a.0.1.cmp(&b.0.1));
        table.extend(words);
    }
    table
}

/// Writes the table gzipped, atomically, and returns it loaded from the
/// same text (compressed on a second thread meanwhile), so that the
/// compiled copy needs no second read.
fn write_table(path: &Path, table: &Table, english: &English) -> std::io::Result<crate::dedup::content::Lexicon> {
    let mut text = String::with_capacity(32 << 20);
    text.push_str(HEADER);
    for ((lang, word), meaning) in table {
        text.push_str(lang);
        text.push('\t');
        text.push_str(word);
        for (i, (e, v)) in meaning.iter().enumerate() {
            text.push(if i == 0 { '\t' } else { ' ' });
            write!(text, "{}:{v:.3}", english.word(*e)).expect("writing to a String");
        }
        text.push('\n');
    }
    let tmp = path.with_extension(format!("gz.tmp{}", std::process::id()));
    let (written, lex) = std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            let file = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
            let mut gz = flate2::GzBuilder::new().mtime(0).write(file, flate2::Compression::default());
            gz.write_all(text.as_bytes())?;
            gz.finish()?.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            std::fs::rename(&tmp, path)
        });
        let mut reader = super::TextReader::default();
        text.split_inclusive('\n').for_each(|line| reader.line(line));
        let written = writer.join().unwrap_or_else(|_| Err(std::io::Error::other("the gzip writer failed")));
        (written, reader.finish(super::FILE))
    });
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map(|()| lex)
}
