//! Words to concepts: each word of a text is looked up in the lexicon as
//! itself, then by its Snowball stem, then as the longest known prefix
//! (inflected stems, and compounds read part by part); what stays unknown
//! (names, loanwords, product names) stands for itself, as English would
//! write it. The result is a tf-idf vector per document and per paragraph.

use std::cell::RefCell;

use rust_stemmers::Stemmer;
use rustc_hash::FxHashMap as HashMap;

use super::lexicon::{Lexicon, concept_id, stemmer};
use super::stopwords::is_stopword;
use super::vector::SparseVec;

/// Concepts kept for a whole document.
const DOC_KEEP: usize = 200;
/// Concepts kept per paragraph.
const PARA_KEEP: usize = 32;
/// Paragraphs kept per document (the title is the first).
const MAX_PARAGRAPHS: usize = 60;
/// Shortest prefix that may stand for a word.
const MIN_PREFIX: usize = 4;
/// Letters a known word may have beyond the prefix it matched.
const SLACK: usize = 2;
/// Shortest second part of a compound that is looked up by prefix.
const REST_PREFIX: usize = 6;

/// A text as concepts.
pub struct Concepts {
    /// Title (twice) and body.
    pub doc: SparseVec,
    /// The title, then each paragraph.
    pub paragraphs: Vec<SparseVec>,
    /// Share of content words the lexicon knew, 0..1 (1 for English).
    pub coverage: f64,
}

/// Words remembered per thread (all languages together) before the memo
/// starts over: bounds its memory (a few MB) whatever the input.
const MEMO_MAX: usize = 50_000;

/// How one word reads: its concepts, in the order lookup found them (the
/// word itself, as a literal, when unknown), each with its share of the
/// word and the concept's weight ([`Lexicon::weight`], looked up once per
/// word read rather than once per concept of every paragraph), and whether
/// the lexicon knew it; or that it is a function word of the language (no
/// concepts, not counted), remembered like the rest.
struct Reading {
    concepts: Box<[(u32, f64, f32)]>,
    known: bool,
    stop: bool,
}

/// A concept's count in a text or paragraph, and its weight.
#[derive(Clone, Copy)]
struct Tally {
    count: f64,
    weight: f32,
}

/// Readings of words already looked up on this thread, per lexicon instance
/// and language. A reading depends only on those and the word, so a
/// remembered one is exactly what a fresh lookup would give; most words of a
/// text are common words read many times over.
#[derive(Default)]
struct Memo {
    tables: Vec<(MemoKey, HashMap<Box<str>, Reading>)>,
    words: usize,
}

/// Lexicon serial and language.
type MemoKey = (u64, String);

impl Memo {
    /// The readings of one lexicon and language (after starting over when
    /// full: a text adds at most its own words beyond the bound).
    fn table(&mut self, serial: u64, lang: &str) -> usize {
        if self.words >= MEMO_MAX {
            *self = Memo::default();
        }
        match self.tables.iter().position(|((s, l), _)| *s == serial && l == lang) {
            Some(at) => at,
            None => {
                self.tables.push(((serial, lang.to_string()), HashMap::default()));
                self.tables.len() - 1
            }
        }
    }
}

thread_local! {
    static MEMO: RefCell<Memo> = RefCell::new(Memo::default());
}

/// Looks words up for one language.
struct Reader<'a> {
    lex: &'a Lexicon,
    lang: &'a str,
    own: Option<Stemmer>,
    en: Stemmer,
    table: bool,
}

/// The concepts of a title and its paragraphs in language `lang`.
pub fn concepts(lex: &Lexicon, lang: &str, title: &str, paragraphs: &[&str]) -> Concepts {
    let en = stemmer("en").expect("English stemmer");
    let r = Reader::new(lex, lang, en);
    let (mut known, mut total) = (0usize, 0usize);
    let mut doc: HashMap<u32, Tally> = HashMap::default();
    let mut paras = Vec::new();
    // One map for every paragraph, emptied between them (its capacity
    // kept): each concept is added to `doc` once per paragraph, so the
    // order the map gives them in changes no sum.
    let mut counts: HashMap<u32, Tally> = HashMap::default();
    MEMO.with_borrow_mut(|memo| {
        let table = memo.table(lex.serial(), lang);
        for (i, text) in std::iter::once(title).chain(paragraphs.iter().copied()).enumerate() {
            counts.clear();
            for word in words(text) {
                if let Some(k) = r.add_in(&mut memo.tables[table].1, &mut memo.words, &word, &mut counts) {
                    total += 1;
                    known += usize::from(k);
                }
            }
            let times = if i == 0 { 2.0 } else { 1.0 };
            for (c, t) in &counts {
                doc.entry(*c).or_insert(Tally { count: 0.0, weight: t.weight }).count += t.count * times;
            }
            if i < MAX_PARAGRAPHS {
                paras.push(SparseVec::from_pairs(weighed(&counts), PARA_KEEP));
            }
        }
    });
    let coverage = known as f64 / total.max(1) as f64;
    Concepts { doc: SparseVec::from_pairs(weighed(&doc), DOC_KEEP), paragraphs: paras, coverage }
}

/// Adds a reading's concepts to `out`, in order; whether the word was
/// known, None for a function word.
fn apply(r: &Reading, out: &mut HashMap<u32, Tally>) -> Option<bool> {
    if r.stop {
        return None;
    }
    for &(c, v, weight) in &r.concepts {
        out.entry(c).or_insert(Tally { count: 0.0, weight }).count += v;
    }
    Some(r.known)
}

/// Counts as weights: repetition damped (`1 + ln tf`, so that one
/// frequent name does not make two posts on one topic look like
/// translations), times the concept's weight (general concepts weigh
/// less). The weights do not depend on the map's order.
fn weighed(counts: &HashMap<u32, Tally>) -> impl Iterator<Item = (u32, f64)> + '_ {
    counts.iter().map(|(c, t)| {
        let damped = if t.count > 1.0 { 1.0 + t.count.ln() } else { t.count };
        (*c, damped * f64::from(t.weight))
    })
}

/// One word as read: the word, the lookup step that found it, its concepts.
pub type Traced = (String, &'static str, Vec<(u32, f64)>);

/// How each word of `text` was read: the word, the step that found it
/// (`exact`, `stem`, `prefix`, `literal`, `stopword`) and its concepts. For
/// debugging and `explain`.
pub fn trace(lex: &Lexicon, lang: &str, text: &str) -> Vec<Traced> {
    let en = stemmer("en").expect("English stemmer");
    let r = Reader::new(lex, lang, en);
    words(text)
        .map(std::borrow::Cow::into_owned)
        .map(|w| {
            if is_stopword(lang, &w) {
                return (w, "stopword", Vec::new());
            }
            let step = r.step(&w);
            let mut m = HashMap::default();
            r.add(&w, &mut m);
            let mut v: Vec<(u32, f64)> = m.into_iter().map(|(c, t)| (c, t.count)).collect();
            v.sort_by(|a, b| b.1.total_cmp(&a.1));
            (w, step, v)
        })
        .collect()
}

/// Lower-cased words of at least two letters, numbers left out.
fn words(text: &str) -> impl Iterator<Item = std::borrow::Cow<'_, str>> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().nth(1).is_some() && !w.bytes().all(|b| b.is_ascii_digit()))
        .map(crate::dedup::features::lowercase)
}

impl<'a> Reader<'a> {
    fn new(lex: &'a Lexicon, lang: &'a str, en: Stemmer) -> Reader<'a> {
        Reader { lex, lang, own: stemmer(lang), en, table: lex.has_table(lang) }
    }

    /// Adds the concepts of one word; whether the lexicon knew it, None
    /// for a function word.
    fn add(&self, word: &str, out: &mut HashMap<u32, Tally>) -> Option<bool> {
        MEMO.with_borrow_mut(|memo| {
            let at = memo.table(self.lex.serial(), self.lang);
            self.add_in(&mut memo.tables[at].1, &mut memo.words, word, out)
        })
    }

    /// [`Reader::add`] with this language's memo table at hand.
    fn add_in(
        &self,
        table: &mut HashMap<Box<str>, Reading>,
        words: &mut usize,
        word: &str,
        out: &mut HashMap<u32, Tally>,
    ) -> Option<bool> {
        if let Some(r) = table.get(word) {
            return apply(r, out);
        }
        let r = if is_stopword(self.lang, word) {
            Reading { concepts: Box::new([]), known: false, stop: true }
        } else {
            self.read(word)
        };
        let known = apply(&r, out);
        table.insert(word.into(), r);
        *words += 1;
        known
    }

    /// Reads one word: its concepts, or the word itself when unknown.
    fn read(&self, word: &str) -> Reading {
        let weighed = |found: Vec<(u32, f64)>| found.into_iter().map(|(c, v)| (c, v, self.lex.weight(c))).collect();
        if self.table
            && let Some(found) = self.lookup(word, true)
        {
            return Reading { concepts: weighed(found), known: true, stop: false };
        }
        Reading { concepts: weighed(vec![(self.literal(word), 1.0)]), known: false, stop: false }
    }

    /// Which lookup step knows the word.
    fn step(&self, word: &str) -> &'static str {
        if !self.table {
            "literal"
        } else if self.lex.exact(self.lang, word).is_some() {
            "exact"
        } else if self.own.as_ref().is_some_and(|s| self.lex.by_stem(self.lang, &s.stem(word)).is_some()) {
            "stem"
        } else if self.lex.prefix(self.lang, word, MIN_PREFIX, SLACK).is_some() {
            "prefix"
        } else {
            "literal"
        }
    }

    /// A word that stands for itself: its English stem.
    fn literal(&self, word: &str) -> u32 {
        concept_id(&self.en.stem(word))
    }

    /// Exact, then stem, then prefix (and for a compound, the rest too).
    fn lookup(&self, word: &str, compound: bool) -> Option<Vec<(u32, f64)>> {
        let widen = |m: &[(u32, f32)]| m.iter().map(|&(c, v)| (c, f64::from(v))).collect::<Vec<_>>();
        if let Some(m) = self.lex.exact(self.lang, word) {
            return Some(widen(m));
        }
        if let Some(m) = self.own.as_ref().and_then(|s| self.lex.by_stem(self.lang, &s.stem(word))) {
            return Some(widen(m));
        }
        if self.lang == "en" || !compound && word.chars().count() < REST_PREFIX {
            return None; // English does not glue words; short compound parts only whole
        }
        let (m, used) = self.lex.prefix(self.lang, word, MIN_PREFIX, SLACK)?;
        let mut found = widen(m);
        let rest = &word[used..];
        if compound && self.lex.exact(self.lang, &word[..used]).is_some() && rest.chars().count() >= MIN_PREFIX {
            let linked = rest.strip_prefix('s').filter(|r| r.chars().count() >= MIN_PREFIX);
            if let Some(more) = self.lookup(rest, false).or_else(|| linked.and_then(|r| self.lookup(r, false))) {
                found.extend(more);
            }
        }
        Some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "fi\tkirjasto\tlibrary:1.0\nfi\tauto\tcar:1.0\nfi\tkaupunki\tcity:0.6 town:0.4\n\
fi\tavata\topen:1.0\nsv\tbibliotek\tlibrary:1.0\nsv\tbil\tcar:1.0\nsv\töppna\topen:1.0\n";

    #[test]
    fn inflections_and_compounds_find_their_concepts() {
        let lex = Lexicon::parse(TABLE, "t");
        let fi = concepts(&lex, "fi", "Kirjastoauto kaupungissa", &["Kirjastoauto avataan Porvoossa."]);
        let sv = concepts(&lex, "sv", "Biblioteksbil i staden", &["Biblioteksbilen öppnas i Borgå."]);
        let en = concepts(&lex, "en", "Library car in the city", &["The library car opens in Porvoo."]);
        assert!(fi.doc.cosine(&en.doc) > 0.5, "{}", fi.doc.cosine(&en.doc));
        assert!(sv.doc.cosine(&en.doc) > 0.4, "{}", sv.doc.cosine(&en.doc));
        assert!(fi.coverage > 0.7 && en.coverage == 0.0, "no English table here");
        assert_eq!(fi.paragraphs.len(), 2);
    }

    #[test]
    fn function_words_count_for_nothing_whether_remembered_or_not() {
        let lex = Lexicon::parse(TABLE, "stop");
        let read = || concepts(&lex, "fi", "Kirjasto ja auto", &["ja kirjasto ja", "Porvoo ja"]);
        // The first reading looks every word up; the second finds each,
        // function words too, remembered on this thread.
        let (first, again) = (read(), read());
        // kirjasto, auto, kirjasto known; porvoo not; the four "ja" left out.
        assert_eq!(first.coverage, 0.75);
        assert_eq!(again.coverage, 0.75);
        assert_eq!(first.doc, again.doc);
        assert_eq!(first.paragraphs, again.paragraphs);
        assert_eq!(first.paragraphs.len(), 3);
        let only_ja = concepts(&lex, "fi", "ja", &["ja ja"]);
        assert!(only_ja.doc.is_empty() && only_ja.paragraphs.iter().all(SparseVec::is_empty));
    }
}
