//! The cross-language word table: each known word of a language maps to a
//! few weighted *concepts* (Snowball-stemmed English words, hashed). Pure:
//! parsed from text that `crate::lexicon` reads from disk.
//!
//! Table lines (from `scripts/build-lexicon`): `lang<TAB>word<TAB>english:weight ...`;
//! lines starting with `#` are comments. English needs no table: its words
//! are their own concepts.

use std::collections::HashMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use rust_stemmers::{Algorithm, Stemmer};
use rustc_hash::FxHashMap;

/// A word's meaning: concept ids with weights summing to about 1.
pub type Meaning = [(u32, f32)];

/// Concepts kept per word.
const KEEP: usize = 6;

/// Sorted keys (words or stems), each with a meaning, packed into four
/// buffers: half a million words fit in about 20 MB instead of a heap
/// allocation or two per word.
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

    /// Index of `key`.
    fn find(&self, key: &str) -> Option<usize> {
        let i = self.lower_bound(key);
        (i < self.len() && self.key(i) == key).then_some(i)
    }

    /// Index of the first key not less than `key`.
    fn lower_bound(&self, key: &str) -> usize {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.key(mid) < key { lo = mid + 1 } else { hi = mid }
        }
        lo
    }
}

/// The word table of one language.
#[derive(Debug, Default)]
struct LangTable {
    /// Known words, sorted (binary search, prefix ranges), one entry each.
    words: Packed,
    /// Snowball stem of each known word -> the merged meaning of its words.
    /// Built on first use: a run meets only some of the languages, and
    /// stemming a whole table is most of the cost of loading it.
    stems: OnceLock<Packed>,
}

impl LangTable {
    fn stems(&self, lang: &str) -> &Packed {
        self.stems.get_or_init(|| {
            let Some(st) = stemmer(lang) else { return Packed::default() };
            let mut acc: FxHashMap<String, Vec<(u32, f32)>> =
                FxHashMap::with_capacity_and_hasher(self.words.len(), Default::default());
            for i in 0..self.words.len() {
                acc.entry(st.stem(self.words.key(i)).into_owned())
                    .or_default()
                    .extend(self.words.meaning(i).iter().copied());
            }
            let mut stems = Packed::default();
            for (s, v) in acc {
                stems.push(&s, &merged(v));
            }
            stems.sorted()
        })
    }
}

/// Reads table lines into a [`Lexicon`] one at a time, so that loading
/// never holds the whole text (see `crate::lexicon::load`).
pub struct Builder {
    lex: Lexicon,
    en: Stemmer,
    /// English word -> concept id (stemming is the slow part).
    concepts: FxHashMap<Box<str>, u32>,
}

impl Default for Builder {
    fn default() -> Builder {
        Builder { lex: Lexicon::default(), en: Stemmer::create(Algorithm::English), concepts: FxHashMap::default() }
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
        if !self.lex.tables.contains_key(lang) {
            self.lex.tables.insert(lang.to_string(), LangTable::default());
        }
        if let Some(table) = self.lex.tables.get_mut(lang) {
            table.words.push(word, &merged(pairs));
        }
    }

    /// The finished table, named `id` in stored features.
    pub fn finish(mut self, id: &str) -> Lexicon {
        self.lex.id = id.to_string();
        for table in self.lex.tables.values_mut() {
            table.words = std::mem::take(&mut table.words).sorted();
        }
        self.lex.count_spread();
        self.lex
    }
}

/// Word tables for several languages, with concept weights.
#[derive(Debug)]
pub struct Lexicon {
    tables: HashMap<String, LangTable>,
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
            tables: HashMap::new(),
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

    fn count_spread(&mut self) {
        // In language order: f32 sums depend on the order of their terms, and
        // a map's order can differ between processes, which made a borderline
        // decision differ from one run to the next.
        let mut langs: Vec<&String> = self.tables.keys().collect();
        langs.sort();
        for table in langs.into_iter().map(|l| &self.tables[l]) {
            // per 10k words, so that tables of any size weigh alike (tiny test tables: per word)
            let per = 10_000.0 / table.words.len().max(10_000) as f32 / self.tables.len() as f32;
            for (c, v) in (0..table.words.len()).flat_map(|i| table.words.meaning(i).iter()) {
                *self.spread.entry(*c).or_default() += v * per;
            }
        }
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
        let words = &self.tables.get(lang)?.words;
        words.find(word).map(|i| words.meaning(i))
    }

    /// The merged meaning of the known words with this Snowball stem.
    pub fn by_stem(&self, lang: &str, stem: &str) -> Option<&Meaning> {
        let stems = self.tables.get(lang)?.stems(lang);
        stems.find(stem).map(|i| stems.meaning(i))
    }

    /// The longest known word that `word` starts with, allowing the known word
    /// up to `slack` more letters (stem changes: `kaupungissa` -> `kaupunki`).
    /// Returns the meaning and how many bytes of `word` it covers.
    pub fn prefix(&self, lang: &str, word: &str, min: usize, slack: usize) -> Option<(&Meaning, usize)> {
        let words = &self.tables.get(lang)?.words;
        let ends: Vec<usize> = word.char_indices().map(|(i, _)| i).skip(min).chain([word.len()]).collect();
        for &end in ends.iter().rev() {
            let p = &word[..end];
            let limit = p.chars().count() + slack;
            let hit = (words.lower_bound(p)..words.len())
                .take_while(|&i| words.key(i).starts_with(p))
                .find(|&i| words.key(i).chars().count() <= limit);
            if let Some(i) = hit {
                return Some((words.meaning(i), end));
            }
        }
        None
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
}
