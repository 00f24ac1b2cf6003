//! The cross-language word table: each known word of a language maps to a
//! few weighted *concepts* (Snowball-stemmed English words, hashed). Pure:
//! parsed from text that `crate::lexicon` reads from disk.
//!
//! Table lines (from `polyfeed lexicon build`, `crate::lexicon::build`): `lang<TAB>word<TAB>english:weight ...`;
//! lines starting with `#` are comments. English needs no table: its words
//! are their own concepts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use fst::raw::{Node, Output};
use rust_stemmers::{Algorithm, Stemmer};
use rustc_hash::FxHashMap;

/// A word's meaning: concept ids with weights summing to about 1.
pub type Meaning = [(u32, f32)];

/// Concepts kept per word.
const KEEP: usize = 6;

/// Keys (words or stems), each with a meaning, packed into four buffers
/// while a table is built from text (a heap allocation or two per word
/// would take several times the memory); looked up as [`Tables`].
#[derive(Debug, Default)]
struct Packed {
    /// The keys, concatenated in sorted order.
    text: String,
    /// End of each key in `text`.
    ends: Vec<u32>,
    /// The meanings, concatenated in the same order.
    pairs: Vec<(u32, f32)>,
    /// End of each meaning in `pairs`.
    pair_ends: Vec<u32>,
}

impl Packed {
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn key(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.text[start..self.ends[i] as usize]
    }

    fn meaning(&self, i: usize) -> &Meaning {
        let start = if i == 0 { 0 } else { self.pair_ends[i - 1] as usize };
        &self.pairs[start..self.pair_ends[i] as usize]
    }

    fn push(&mut self, key: &str, meaning: &Meaning) {
        self.text.push_str(key);
        self.ends.push(self.text.len() as u32);
        self.pairs.extend_from_slice(meaning);
        self.pair_ends.push(self.pairs.len() as u32);
    }

    /// The same keys and meanings sorted by key; of equal keys the first
    /// pushed is kept.
    fn sorted(self) -> Packed {
        let mut order: Vec<u32> = (0..self.len() as u32).collect();
        order.sort_by(|&a, &b| self.key(a as usize).cmp(self.key(b as usize)));
        order.dedup_by(|a, b| self.key(*a as usize) == self.key(*b as usize));
        let mut out = Packed {
            text: String::with_capacity(self.text.len()),
            ends: Vec::with_capacity(order.len()),
            pairs: Vec::with_capacity(self.pairs.len()),
            pair_ends: Vec::with_capacity(order.len()),
        };
        for i in order {
            out.push(self.key(i as usize), self.meaning(i as usize));
        }
        out
    }
}

/// One language's lookups: its words and their Snowball stems, each set
/// of keys in a finite-state transducer (`fst`: a few bytes per key where
/// the text and its offsets took about twenty) that maps a key to its
/// meaning in `pairs`, where keys of the same meaning share one copy.
#[derive(Debug, Default)]
struct Tables {
    /// Known words -> where their meaning is in `pairs` (start << 3 | length).
    words: fst::Map<Vec<u8>>,
    /// Snowball stem of each known word -> the merged meaning of its words.
    stems: fst::Map<Vec<u8>>,
    /// The distinct meanings, concatenated.
    pairs: Vec<(u32, f32)>,
}

// A meaning's length takes the value's low three bits.
const _: () = assert!(KEEP < 8);

impl Tables {
    /// The tables of a language's `words` (sorted and distinct, as
    /// [`Packed::sorted`] leaves them) and of their stems.
    fn build(lang: &str, words: &Packed) -> Tables {
        let stems = stems_of(lang, words);
        let mut pool = Pool::default();
        let words = pool.map(words);
        let stems = pool.map(&stems);
        Tables { words, stems, pairs: pool.pairs }
    }

    /// The meaning a value of a map points at (`None` out of range: a
    /// damaged compiled table).
    fn meaning(&self, value: u64) -> Option<&Meaning> {
        let start = usize::try_from(value >> 3).ok()?;
        self.pairs.get(start..start.checked_add((value & 7) as usize)?)
    }

    /// The meaning of a known word.
    fn exact(&self, word: &str) -> Option<&Meaning> {
        self.words.get(word).and_then(|v| self.meaning(v))
    }

    /// The merged meaning of the known words with this stem.
    fn stem(&self, stem: &str) -> Option<&Meaning> {
        self.stems.get(stem).and_then(|v| self.meaning(v))
    }

    /// For each of `ends` (byte offsets of `word`, ascending), from the
    /// last: the first known word, in sorted order, that starts with
    /// `word[..end]` and has at most `slack` more characters; its meaning
    /// and the end. One walk down the transducer along `word`, then a short
    /// search below each node it reached, deepest first: a search per end
    /// from the root cost a third of the features' time.
    fn longest_prefix(&self, word: &str, ends: &[usize], slack: usize) -> Option<(&Meaning, usize)> {
        let fst = self.words.as_fst();
        let bytes = word.as_bytes();
        let (mut node, mut out, mut pos) = (fst.root(), Output::zero(), 0);
        let mut reached = Vec::with_capacity(ends.len());
        'walk: for &end in ends {
            while pos < end {
                let Some(i) = node.find_input(bytes[pos]) else { break 'walk };
                let t = node.transition(i);
                (node, out, pos) = (fst.node(t.addr), out.cat(t.out), pos + 1);
            }
            reached.push((end, node, out));
        }
        reached.into_iter().rev().find_map(|(end, node, out)| {
            let value = first_key_below(fst, &node, out, slack, 0, 0)?;
            self.meaning(value).map(|m| (m, end))
        })
    }
}

/// The value of the first key, in sorted order, below `node` (reached with
/// output `out`) that adds at most `slack` characters (`extra` characters
/// in `bytes` bytes added so far; UTF-8 takes at most four bytes a
/// character, a bound that also stops a damaged map that passed its
/// checksum from recursing without end).
fn first_key_below<D: AsRef<[u8]>>(
    fst: &fst::raw::Fst<D>,
    node: &Node<'_>,
    out: Output,
    slack: usize,
    extra: usize,
    bytes: usize,
) -> Option<u64> {
    if node.is_final() {
        return Some(out.cat(node.final_output()).value());
    }
    if bytes >= 4 * (slack + 1) {
        return None;
    }
    node.transitions().find_map(|t| {
        // A character starts at every byte that does not continue one.
        let extra = extra + usize::from(t.inp & 0xC0 != 0x80);
        let below = || first_key_below(fst, &fst.node(t.addr), out.cat(t.out), slack, extra, bytes + 1);
        (extra <= slack).then(below).flatten()
    })
}

/// Gathers the meanings of a language's keys, each distinct one once.
#[derive(Default)]
struct Pool {
    pairs: Vec<(u32, f32)>,
    /// A meaning (weights as bits) -> its start in `pairs`.
    seen: FxHashMap<Vec<(u32, u32)>, u64>,
}

impl Pool {
    /// The map of `packed`'s keys (sorted and distinct) to their meanings,
    /// added to the pool.
    fn map(&mut self, packed: &Packed) -> fst::Map<Vec<u8>> {
        let mut map = fst::MapBuilder::memory();
        for i in 0..packed.len() {
            let meaning = packed.meaning(i);
            let bits = meaning.iter().map(|&(c, v)| (c, v.to_bits())).collect();
            let pairs = &mut self.pairs;
            let start = *self.seen.entry(bits).or_insert_with(|| {
                pairs.extend_from_slice(meaning);
                (pairs.len() - meaning.len()) as u64
            });
            // Keys are sorted and distinct after `Packed::sorted`; a key out
            // of order would be refused, and left out.
            let _ = map.insert(packed.key(i), start << 3 | meaning.len() as u64);
        }
        fst::Map::new(map.into_inner().unwrap_or_default()).unwrap_or_default()
    }
}

/// The stems of a language's `words`, each with the merged meaning of its
/// words, sorted (none for a language without a stemmer).
fn stems_of(lang: &str, words: &Packed) -> Packed {
    let Some(st) = stemmer(lang) else { return Packed::default() };
    let mut acc: FxHashMap<String, Vec<(u32, f32)>> =
        FxHashMap::with_capacity_and_hasher(words.len(), Default::default());
    for i in 0..words.len() {
        acc.entry(st.stem(words.key(i)).into_owned()).or_default().extend(words.meaning(i).iter().copied());
    }
    let mut stems = Packed::default();
    for (s, v) in acc {
        stems.push(&s, &merged(v));
    }
    stems.sorted()
}

/// The word table of one language.
#[derive(Debug, Default)]
struct LangTable {
    /// Built on first use: read from a compiled table, or from the words
    /// parsed from text with their stems (a run meets only some of the
    /// languages, and stemming a whole table is most of the cost of parsing it).
    tables: OnceLock<Tables>,
    /// Words parsed from text, sorted, until first use.
    staged: Mutex<Option<Packed>>,
    /// Where a compiled table keeps this language's words and stems.
    section: Option<Section>,
}

/// One language's part of a compiled table: read on first use.
#[derive(Debug, Clone)]
struct Section {
    source: Arc<dyn SectionSource>,
    offset: u64,
    len: u64,
}

/// Reads the byte ranges of a compiled table (`crate::lexicon` reads them
/// from the file it opened, so `dedup` does no I/O of its own).
pub trait SectionSource: std::fmt::Debug + Send + Sync {
    /// The bytes at `offset..offset + len` of the compiled table.
    fn read(&self, offset: u64, len: u64) -> std::io::Result<Vec<u8>>;
}

impl LangTable {
    fn get(&self, lang: &str) -> &Tables {
        self.tables.get_or_init(|| match &self.section {
            Some(sec) => {
                let read = sec.source.read(sec.offset, sec.len).ok().and_then(|b| Tables::read(&mut Bytes(&b)));
                read.unwrap_or_else(|| {
                    tracing::warn!("the compiled word table cannot be read; a language is left without words");
                    Tables::default()
                })
            }
            None => {
                let words = self.staged.lock().unwrap_or_else(|p| p.into_inner()).take().unwrap_or_default();
                Tables::build(lang, &words)
            }
        })
    }
}

/// Reads table lines into a [`Lexicon`] one at a time, so that loading
/// never holds the whole text (see `crate::lexicon::load`).
pub struct Builder {
    lex: Lexicon,
    /// Words per language as read, sorted at the end.
    staged: HashMap<String, Packed>,
    en: Stemmer,
    /// English word -> concept id (stemming is the slow part).
    concepts: FxHashMap<Box<str>, u32>,
}

impl Default for Builder {
    fn default() -> Builder {
        Builder {
            lex: Lexicon::default(),
            staged: HashMap::new(),
            en: Stemmer::create(Algorithm::English),
            concepts: FxHashMap::default(),
        }
    }
}

impl Builder {
    /// Adds one line of the table (comments and bad lines are skipped).
    pub fn line(&mut self, line: &str) {
        if line.starts_with('#') {
            return;
        }
        let mut parts = line.split('\t');
        let (Some(lang), Some(word), Some(meaning)) = (parts.next(), parts.next(), parts.next()) else { return };
        let mut pairs: Vec<(u32, f32)> = Vec::new();
        for item in meaning.split(' ') {
            let Some((w, v)) = item.rsplit_once(':') else { continue };
            let c = match self.concepts.get(w) {
                Some(c) => *c,
                None => {
                    let c = concept_id(&self.en.stem(w));
                    self.concepts.insert(w.into(), c);
                    c
                }
            };
            pairs.push((c, v.parse().unwrap_or(0.0)));
        }
        if !self.staged.contains_key(lang) {
            self.staged.insert(lang.to_string(), Packed::default());
        }
        if let Some(words) = self.staged.get_mut(lang) {
            words.push(word, &merged(pairs));
        }
    }

    /// The finished table, named `id` in stored features.
    pub fn finish(mut self, id: &str) -> Lexicon {
        self.lex.id = id.to_string();
        let mut staged: Vec<(String, Packed)> = self.staged.into_iter().map(|(l, w)| (l, w.sorted())).collect();
        // In language order: f32 sums depend on the order of their terms, and
        // a map's order can differ between processes, which made a borderline
        // decision differ from one run to the next.
        staged.sort_by(|a, b| a.0.cmp(&b.0));
        let langs = staged.len();
        for (_, words) in &staged {
            // per 10k words, so that tables of any size weigh alike (tiny test tables: per word)
            let per = 10_000.0 / words.len().max(10_000) as f32 / langs as f32;
            for (c, v) in (0..words.len()).flat_map(|i| words.meaning(i).iter()) {
                *self.lex.spread.entry(*c).or_default() += v * per;
            }
        }
        for (lang, words) in staged {
            self.lex.tables.insert(lang, LangTable { staged: Mutex::new(Some(words)), ..LangTable::default() });
        }
        self.lex
    }
}

/// Word tables for several languages, with concept weights.
#[derive(Debug)]
pub struct Lexicon {
    tables: FxHashMap<String, LangTable>,
    /// How general a concept is (share of the table's words that mean it, per 10k).
    spread: FxHashMap<u32, f32>,
    /// Names the table that features were computed with.
    id: String,
    /// Unique per instance in this process: keys memos of word readings.
    serial: u64,
}

impl Default for Lexicon {
    fn default() -> Lexicon {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        Lexicon {
            tables: FxHashMap::default(),
            spread: FxHashMap::default(),
            id: String::new(),
            serial: NEXT.fetch_add(1, Ordering::Relaxed),
        }
    }
}

/// The word table a primary language subtag reads: Norwegian Bokmål and
/// Nynorsk (`nb`, `nn`) share the table of `no` (FreeDict's `nor`).
pub fn table_lang(lang: &str) -> &str {
    match lang {
        "nb" | "nn" => "no",
        other => other,
    }
}

/// The Snowball stemmer of a primary language subtag.
pub fn stemmer(lang: &str) -> Option<Stemmer> {
    let alg = match lang {
        "en" => Algorithm::English,
        "fi" => Algorithm::Finnish,
        "sv" => Algorithm::Swedish,
        "fr" => Algorithm::French,
        "de" => Algorithm::German,
        "da" => Algorithm::Danish,
        "nl" => Algorithm::Dutch,
        "no" | "nb" | "nn" => Algorithm::Norwegian,
        "it" => Algorithm::Italian,
        "es" => Algorithm::Spanish,
        "pt" => Algorithm::Portuguese,
        "ro" => Algorithm::Romanian,
        "ru" => Algorithm::Russian,
        "hu" => Algorithm::Hungarian,
        "tr" => Algorithm::Turkish,
        "el" => Algorithm::Greek,
        "ar" => Algorithm::Arabic,
        _ => return None,
    };
    Some(Stemmer::create(alg))
}

/// The concept id of an English stem: FNV-1a, 32 bit (stable: ids are stored).
pub fn concept_id(stem: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in stem.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

impl Lexicon {
    /// Parses a table; `id` names it in stored features. Bad lines are skipped.
    pub fn parse(text: &str, id: &str) -> Lexicon {
        let mut b = Builder::default();
        text.lines().for_each(|l| b.line(l));
        b.finish(id)
    }

    /// Identifies this instance within the process (never reused).
    pub fn serial(&self) -> u64 {
        self.serial
    }

    /// True when no table was loaded.
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// Names the table (empty when none was loaded).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// True when words of `lang` can be mapped to concepts (English always).
    pub fn covers(&self, lang: &str) -> bool {
        lang == "en" || self.tables.contains_key(lang)
    }

    /// True when the table has words of `lang` (English too, when built
    /// with its back-translations).
    pub fn has_table(&self, lang: &str) -> bool {
        self.tables.contains_key(lang)
    }

    /// The meaning of a known word.
    pub fn exact(&self, lang: &str, word: &str) -> Option<&Meaning> {
        self.tables.get(lang)?.get(lang).exact(word)
    }

    /// The merged meaning of the known words with this Snowball stem.
    pub fn by_stem(&self, lang: &str, stem: &str) -> Option<&Meaning> {
        self.tables.get(lang)?.get(lang).stem(stem)
    }

    /// The longest known word that `word` starts with, allowing the known word
    /// up to `slack` more letters (stem changes: `kaupungissa` -> `kaupunki`).
    /// Returns the meaning and how many bytes of `word` it covers.
    pub fn prefix(&self, lang: &str, word: &str, min: usize, slack: usize) -> Option<(&Meaning, usize)> {
        let tables = self.tables.get(lang)?.get(lang);
        let ends: Vec<usize> = word.char_indices().map(|(i, _)| i).skip(min).chain([word.len()]).collect();
        tables.longest_prefix(word, &ends, slack)
    }

    /// Weight of a concept: general concepts (meant by many words) weigh less.
    pub fn weight(&self, concept: u32) -> f32 {
        let spread = self.spread.get(&concept).copied().unwrap_or(0.0);
        1.0 / (1.0 + (1.0 + spread).ln())
    }
}

/// Sums duplicate concepts, keeps the strongest few, normalises to sum 1.
fn merged(mut pairs: Vec<(u32, f32)>) -> Vec<(u32, f32)> {
    pairs.sort_by_key(|p| p.0);
    let mut out: Vec<(u32, f32)> = Vec::with_capacity(pairs.len());
    for (c, v) in pairs {
        match out.last_mut() {
            Some(last) if last.0 == c => last.1 += v,
            _ => out.push((c, v)),
        }
    }
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    out.truncate(KEEP);
    let total: f32 = out.iter().map(|p| p.1).sum();
    out.iter().map(|&(c, v)| (c, if total > 0.0 { v / total } else { 0.0 })).collect()
}

/// The first bytes of a compiled table.
pub const MAGIC: &[u8; 8] = b"PFLEXv2\n";

/// A bounds-checked little-endian reader: a damaged or truncated compiled
/// table gives `None`, never a panic.
struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.0.len() {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Option<u64> {
        let lo = u64::from(self.u32()?);
        let hi = u64::from(self.u32()?);
        Some(lo | hi << 32)
    }

    /// `n` little-endian `u32`s (checked against what is left first, so a
    /// damaged count never allocates more than the table holds).
    fn u32s(&mut self, n: usize) -> Option<Vec<u32>> {
        let b = self.take(n.checked_mul(4)?)?;
        Some(b.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
    }

    fn pairs(&mut self, n: usize) -> Option<Vec<(u32, f32)>> {
        let raw = self.u32s(n.checked_mul(2)?)?;
        Some(raw.chunks_exact(2).map(|c| (c[0], f32::from_bits(c[1]))).collect())
    }

    fn string(&mut self) -> Option<String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_u32(out, s.len() as u32);
    out.extend_from_slice(s.as_bytes());
}

fn put_pairs(out: &mut Vec<u8>, pairs: &[(u32, f32)]) {
    for &(c, v) in pairs {
        put_u32(out, c);
        put_u32(out, v.to_bits());
    }
}

impl Tables {
    fn write(&self, out: &mut Vec<u8>) {
        for map in [&self.words, &self.stems] {
            let bytes = map.as_fst().as_bytes();
            put_u64(out, bytes.len() as u64);
            out.extend_from_slice(bytes);
        }
        put_u32(out, self.pairs.len() as u32);
        put_pairs(out, &self.pairs);
    }

    /// Reads what [`Tables::write`] wrote; `None` when a map's checksum
    /// fails (a damaged map could panic a lookup). Meanings out of range
    /// are checked at lookup.
    fn read(r: &mut Bytes) -> Option<Tables> {
        let mut map = || {
            let len = usize::try_from(r.u64()?).ok()?;
            let map = fst::Map::new(r.take(len)?.to_vec()).ok()?;
            map.as_fst().verify().ok()?;
            Some(map)
        };
        let (words, stems) = (map()?, map()?);
        let n_pairs = r.u32()? as usize;
        let pairs = r.pairs(n_pairs)?;
        Some(Tables { words, stems, pairs })
    }
}

impl Lexicon {
    /// The compiled form: every language's words and Snowball stems and the
    /// concept weights, ready to use without parsing or stemming. Layout
    /// (little-endian): [`MAGIC`], the header's length (u64), the header (id,
    /// concept spread, and per language its section's offset and length),
    /// then one section per language (its words, then its stems).
    pub fn compile(&self) -> Vec<u8> {
        let mut langs: Vec<&String> = self.tables.keys().collect();
        langs.sort();
        let sections: Vec<Vec<u8>> = langs
            .iter()
            .map(|l| {
                let mut out = Vec::new();
                self.tables[*l].get(l).write(&mut out);
                out
            })
            .collect();
        let mut spread: Vec<(u32, f32)> = self.spread.iter().map(|(c, v)| (*c, *v)).collect();
        spread.sort_by_key(|p| p.0);
        let mut header = Vec::new();
        put_str(&mut header, &self.id);
        put_u32(&mut header, spread.len() as u32);
        put_pairs(&mut header, &spread);
        put_u32(&mut header, langs.len() as u32);
        let index_len: usize = langs.iter().map(|l| 4 + l.len() + 16).sum();
        let mut offset = (MAGIC.len() + 8 + header.len() + index_len) as u64;
        for (l, sec) in langs.iter().zip(&sections) {
            put_str(&mut header, l);
            put_u64(&mut header, offset);
            put_u64(&mut header, sec.len() as u64);
            offset += sec.len() as u64;
        }
        let mut out = Vec::with_capacity(offset as usize);
        out.extend_from_slice(MAGIC);
        put_u64(&mut out, header.len() as u64);
        out.extend_from_slice(&header);
        sections.iter().for_each(|s| out.extend_from_slice(s));
        out
    }

    /// Opens a compiled table from its first bytes (at least the magic, the
    /// header's length and the header): each language's words are read
    /// from `source` when first looked up. `None` when the bytes are not a
    /// whole header of this version.
    pub fn open_compiled(head: &[u8], source: Arc<dyn SectionSource>) -> Option<Lexicon> {
        let mut r = Bytes(head);
        if r.take(MAGIC.len())? != MAGIC {
            return None;
        }
        let len = usize::try_from(r.u64()?).ok()?;
        let mut r = Bytes(r.take(len)?);
        let mut lex = Lexicon { id: r.string()?, ..Lexicon::default() };
        let n = r.u32()? as usize;
        lex.spread = r.pairs(n)?.into_iter().collect();
        for _ in 0..r.u32()? {
            let lang = r.string()?;
            let (offset, len) = (r.u64()?, r.u64()?);
            let section = Some(Section { source: source.clone(), offset, len });
            lex.tables.insert(lang, LangTable { section, ..LangTable::default() });
        }
        Some(lex)
    }

    /// The header's length of a compiled table from its first 16 bytes
    /// (what [`Lexicon::open_compiled`] needs in all).
    pub fn compiled_head_len(first: &[u8]) -> Option<usize> {
        let mut r = Bytes(first);
        (r.take(MAGIC.len())? == MAGIC).then_some(())?;
        usize::try_from(r.u64()?).ok()?.checked_add(MAGIC.len() + 8)
    }

    /// The languages with a table, sorted.
    pub fn languages(&self) -> Vec<&str> {
        let mut langs: Vec<&str> = self.tables.keys().map(String::as_str).collect();
        langs.sort_unstable();
        langs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str =
        "# test\nfi\tkaupunki\tcity:0.6 town:0.4\nfi\tkirjasto\tlibrary:1.0\nsv\tstad\tcity:0.5 town:0.5\n";

    #[test]
    fn words_map_to_english_stems() {
        let lex = Lexicon::parse(TABLE, "t");
        let m = lex.exact("fi", "kaupunki").unwrap();
        assert_eq!(m[0].0, concept_id("citi"));
        assert!(lex.covers("sv") && lex.covers("en") && !lex.covers("de"));
        assert!(lex.by_stem("fi", "kirjasto").is_some());
    }

    #[test]
    fn prefixes_allow_stem_changes() {
        let lex = Lexicon::parse(TABLE, "t");
        let (m, used) = lex.prefix("fi", "kaupungissa", 4, 2).unwrap();
        assert_eq!((m[0].0, used), (concept_id("citi"), "kaupun".len()));
        let (_, used) = lex.prefix("fi", "kirjastoauto", 4, 2).unwrap();
        assert_eq!(used, "kirjasto".len());
        assert!(lex.prefix("fi", "auto", 4, 2).is_none());
    }

    /// `prefix` against a scan of the sorted words, as it was written
    /// before the words moved into a transducer: for each end of `word`
    /// from the longest, the first word in sorted order that starts with
    /// that part and has at most `slack` more characters.
    #[test]
    fn prefix_lookups_find_the_first_word_within_the_slack() {
        let words = [
            "talo",
            "talous",
            "taloudellinen",
            "taloutta",
            "tält",
            "tälta",
            "tältä",
            "kaupunki",
            "kaupunginosa",
            "kaupungin",
            "ääni",
            "äänestys",
            "äänet",
            "kirja",
            "kirjasto",
            "kirjastoauto",
        ];
        let text: String = words.iter().enumerate().map(|(i, w)| format!("fi\t{w}\tc{i}:1.0\n")).collect();
        let lex = Lexicon::parse(&text, "t");
        let mut sorted = words.to_vec();
        sorted.sort_unstable();
        let queries =
            ["talossa", "taloudellisesti", "tältäkin", "kaupungissa", "äänestyksen", "äänillä", "kirjastoautot", "ta"];
        for query in words.iter().chain(&queries) {
            for (min, slack) in [(1, 0), (2, 1), (3, 2), (4, 2), (4, 5)] {
                let ends: Vec<usize> = query.char_indices().map(|(i, _)| i).skip(min).chain([query.len()]).collect();
                let expected = ends.iter().rev().find_map(|&end| {
                    let p = &query[..end];
                    let limit = p.chars().count() + slack;
                    let w = sorted.iter().find(|w| w.starts_with(p) && w.chars().count() <= limit)?;
                    Some((lex.exact("fi", w).unwrap().to_vec(), end))
                });
                let got = lex.prefix("fi", query, min, slack).map(|(m, n)| (m.to_vec(), n));
                assert_eq!(got, expected, "{query} min {min} slack {slack}");
            }
        }
    }

    /// Serves a compiled table from memory.
    #[derive(Debug)]
    struct InMemory(Vec<u8>);

    impl SectionSource for InMemory {
        fn read(&self, offset: u64, len: u64) -> std::io::Result<Vec<u8>> {
            let (o, l) = (offset as usize, len as usize);
            self.0.get(o..o + l).map(<[u8]>::to_vec).ok_or_else(|| std::io::Error::other("out of range"))
        }
    }

    #[test]
    fn a_compiled_table_answers_as_the_parsed_one() {
        let table = format!("{TABLE}sv\tbibliotek\tlibrary:1.0\nfi\tkaupunginkirjasto\tlibrary:0.7 city:0.3\n");
        let parsed = Lexicon::parse(&table, "t:1");
        let bytes = parsed.compile();
        let head = Lexicon::compiled_head_len(&bytes[..16]).unwrap();
        let compiled = Lexicon::open_compiled(&bytes[..head], Arc::new(InMemory(bytes.clone()))).unwrap();
        assert_eq!(compiled.id(), "t:1");
        assert_eq!(compiled.languages(), ["fi", "sv"]);
        for (lang, word) in [("fi", "kaupunki"), ("fi", "kirjasto"), ("sv", "stad"), ("sv", "bibliotek"), ("fi", "x")] {
            assert_eq!(compiled.exact(lang, word), parsed.exact(lang, word), "{lang} {word}");
        }
        let stem = |l: &Lexicon| l.by_stem("fi", "kirjasto").map(<[_]>::to_vec);
        assert_eq!(stem(&compiled), stem(&parsed));
        let prefix = |l: &Lexicon| l.prefix("fi", "kaupungissa", 4, 2).map(|(m, n)| (m.to_vec(), n));
        assert_eq!(prefix(&compiled), prefix(&parsed));
        assert_eq!(compiled.weight(concept_id("librari")), parsed.weight(concept_id("librari")));
        assert_eq!(compiled.compile(), bytes, "compiling again gives the same bytes");
    }

    #[test]
    fn a_damaged_compiled_table_is_refused_or_empty_never_a_panic() {
        let bytes = Lexicon::parse(TABLE, "t").compile();
        let head = Lexicon::compiled_head_len(&bytes[..16]).unwrap();
        assert!(Lexicon::open_compiled(&bytes[..head - 1], Arc::new(InMemory(bytes.clone()))).is_none());
        assert!(Lexicon::open_compiled(b"PFLEXv0\n", Arc::new(InMemory(Vec::new()))).is_none());
        // Every truncation and a flipped byte anywhere in the sections.
        for cut in (head..bytes.len()).step_by(3) {
            let lex = Lexicon::open_compiled(&bytes[..head], Arc::new(InMemory(bytes[..cut].to_vec()))).unwrap();
            let _ = (lex.exact("fi", "kaupunki"), lex.prefix("fi", "kaupungissa", 4, 2), lex.by_stem("sv", "stad"));
        }
        for at in head..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 0xa5;
            let lex = Lexicon::open_compiled(&bad[..head], Arc::new(InMemory(bad.clone()))).unwrap();
            let _ = (lex.exact("fi", "kaupunki"), lex.prefix("fi", "kaupungissa", 4, 2), lex.by_stem("sv", "stad"));
        }
    }
}
