//! Content that survives translation, and how alike two texts in different
//! languages are. Pure (the lexicon comes in as a value; `content_features`
//! uses the process-wide one from `crate::lexicon`).
//!
//! - `numbers`: numbers, proper names, the latest year mentioned.
//! - `lexicon` and `concepts`: words to language-neutral concepts through
//!   bilingual dictionaries, Snowball stems and prefix/compound lookup.
//! - `vector`: concept vectors, their cosine, paragraph alignment.
//!
//! Languages without a dictionary still compare by numbers, names and length.

pub mod concepts;
pub mod lexicon;
mod numbers;
mod stopwords;
mod vector;

use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

pub use lexicon::Lexicon;
pub use vector::{Paragraphs, SparseVec};
pub(crate) use vector::{pack_concepts, unpack_concepts};

/// What is kept of a text for cross-language comparison (stored as JSON).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContentFeatures {
    /// Normalised numbers (digit grouping and decimal commas folded).
    pub numbers: BTreeSet<String>,
    /// Capitalised words that are not sentence-initial, lower-cased.
    pub names: BTreeSet<String>,
    /// Characters of text.
    pub chars: usize,
    /// Paragraph count.
    pub paragraphs: usize,
    /// The latest year (1900..=2100) the text mentions.
    #[serde(default)]
    pub latest_year: Option<u16>,
    /// The lexicon the concepts came from; `None` when the language had no
    /// dictionary (or none was installed): then concepts are not compared.
    #[serde(default)]
    pub lexicon: Option<String>,
    /// Share of content words the lexicon knew (1 for English).
    #[serde(default)]
    pub coverage: f32,
    /// Concepts of the title (counted twice) and body, tf-idf, unit length.
    #[serde(default)]
    pub concepts: SparseVec,
    /// Concepts of the title, then of each paragraph.
    #[serde(default)]
    pub paragraph_concepts: Paragraphs,
    /// Characters of the title, then of each paragraph (translations keep
    /// the relative lengths of their paragraphs).
    #[serde(default)]
    pub paragraph_chars: Vec<u32>,
    /// Computed from the fields above when first compared; never stored.
    #[serde(skip)]
    derived: Derived,
}

/// What comparisons need from one text's features, computed once per
/// text instead of once per pair.
#[derive(Debug, Clone, Default)]
struct Derived {
    /// The names' five-letter prefixes, sorted, without repeats.
    name_prefixes: OnceLock<Vec<String>>,
}

/// Derived values follow from the stored fields: they never make two
/// features differ.
impl PartialEq for Derived {
    fn eq(&self, _: &Derived) -> bool {
        true
    }
}

impl ContentFeatures {
    /// Derives now what comparisons would derive at first use (the names'
    /// prefixes, the paragraph index), on the calling thread: memory that
    /// lives as long as the features comes from its allocator, not from
    /// the thread that happens to compare them first.
    pub fn prepare(&self) {
        self.name_prefixes();
        self.paragraph_concepts.prepare();
    }

    /// Names compared by their first five letters (inflected names:
    /// `Porvoossa`).
    fn name_prefixes(&self) -> &[String] {
        self.derived.name_prefixes.get_or_init(|| {
            let mut p: Vec<String> = self.names.iter().map(|n| n.chars().take(5).collect()).collect();
            p.sort_unstable();
            p.dedup();
            p
        })
    }
}

/// Content features with the process-wide lexicon (see `crate::lexicon`).
pub fn content_features(lang: &str, title: &str, text: &str) -> ContentFeatures {
    content_features_with(crate::lexicon::shared(), lang, title, text)
}

/// Extracts content features from a title and plain-text body (paragraphs
/// separated by blank lines).
pub fn content_features_with(lex: &Lexicon, lang: &str, title: &str, text: &str) -> ContentFeatures {
    let lang = lexicon::table_lang(lang);
    let all = format!("{title}\n\n{text}");
    let paras: Vec<&str> = text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()).collect();
    let numbers = numbers::numbers(&all);
    let mut f = ContentFeatures {
        latest_year: numbers::latest_year(&numbers),
        names: numbers::names(&all),
        numbers,
        chars: text.chars().count(),
        paragraphs: paras.len(),
        paragraph_chars: std::iter::once(title)
            .chain(paras.iter().copied())
            .map(|p| p.chars().count() as u32)
            .collect(),
        ..ContentFeatures::default()
    };
    if !lex.is_empty() && lex.covers(lang) {
        let c = concepts::concepts(lex, lang, title, &paras);
        f.lexicon = Some(lex.id().to_string());
        f.coverage = c.coverage as f32;
        f.concepts = c.doc;
        f.paragraph_concepts = c.paragraphs.into();
    }
    f
}

/// Similarity of two texts' contents, with the parts that made it: a
/// weighted mean of the concept cosine, the paragraph alignment, shared
/// names and (when both texts have some) shared numbers, damped by the
/// length ratio, the paragraph shape (translations keep their paragraphs'
/// relative lengths) and differing latest years. Weights and threshold were
/// chosen on the two development corpora (BENCHMARKS.md, "Story merging").
pub fn content_similarity(a: &ContentFeatures, b: &ContentFeatures) -> (f64, Vec<(&'static str, f64)>) {
    let mut parts = Vec::new();
    let score = similarity(a, b, &mut |name, score| parts.push((name, score)), &|_| true);
    (score, parts)
}

/// [`content_similarity`] without its parts, exact where `reaches` holds
/// for it; else a bound on it (at or above it) where `reaches` does not
/// hold either. `reaches` must not decrease as the score grows (a
/// threshold on a score made from this one by multiplications). The
/// paragraph shape and alignment, most of the cost, are skipped where even
/// the most the paragraph counts allow could not reach, and the alignment
/// where a perfect one could not.
pub fn content_score(a: &ContentFeatures, b: &ContentFeatures, reaches: impl Fn(f64) -> bool) -> f64 {
    similarity(a, b, &mut |_, _| {}, &reaches)
}

fn similarity(
    a: &ContentFeatures,
    b: &ContentFeatures,
    note: &mut impl FnMut(&'static str, f64),
    reaches: &dyn Fn(f64) -> bool,
) -> f64 {
    let nums = shrunk_jaccard(a.numbers.iter(), b.numbers.iter(), 3.0);
    let names = shrunk_jaccard(a.name_prefixes().iter(), b.name_prefixes().iter(), 4.0);
    let len = length_ratio(a.chars, b.chars);
    let years = match (a.latest_year, b.latest_year) {
        (Some(x), Some(y)) if x != y => 0.5,
        _ => 1.0,
    };
    note("numbers", nums);
    note("names", names);
    note("length ratio", len);
    if years < 1.0 {
        note("latest years differ", years);
    }
    // Two long texts whose paragraphs cannot be compared (one flattened into
    // a block, or broken at every line) say nothing by their shape; short
    // ones keep it, since it is most of what tells short texts apart.
    let comparable = structure_comparable(a, b);
    let cut = a.chars.min(b.chars) >= LONG_TEXT;
    // Two texts full of figures and names that share almost none of either
    // are about different things, however alike their vocabulary (two
    // companies' annual reports of one year).
    let disjoint = disjoint_facts(a, b, nums, names);
    let both_read = a.lexicon.is_some() && b.lexicon.is_some();
    let cos = if both_read { a.concepts.cosine(&b.concepts) } else { 0.0 };
    // A weighted mean of the signals both texts can give: numbers only when
    // both have some (help pages have none; releases are full of them).
    let mean = |align: f64| {
        let (mut sum, mut weight) = (W_COSINE * cos + W_ALIGN * align + W_NAMES * names, W_COSINE + W_ALIGN + W_NAMES);
        if !a.numbers.is_empty() && !b.numbers.is_empty() {
            sum += W_NUMBERS * nums;
            weight += W_NUMBERS;
        }
        sum / weight
    };
    if both_read && comparable {
        // The score grows with the shape and the alignment, which are at
        // most what the paragraph counts allow (`vector::most`; figures
        // may vouch for the shape): where even that score cannot reach,
        // neither needs working out. Worked out in the order of the score
        // itself, so that rounding cannot take the bound below it.
        let shape_most = vector::most(a.paragraph_chars.len(), b.paragraph_chars.len(), cut);
        let shape_most = if shared_facts(a, b) && nums >= MOST { shape_most.max(nums) } else { shape_most };
        let align_most = vector::most(a.paragraph_concepts.len(), b.paragraph_concepts.len(), cut);
        let mut damp_most = (0.6 + 0.4 * len) * shape_most * years;
        if disjoint {
            damp_most *= DISJOINT_FACTS;
        }
        if !reaches(mean(align_most) * damp_most) {
            return mean(align_most) * damp_most;
        }
    }
    let mut shape = if comparable { vector::shape(&a.paragraph_chars, &b.paragraph_chars, cut) } else { 1.0 };
    if comparable {
        note("paragraph shape", shape);
    } else {
        note("long texts, paragraphs not comparable", 1.0);
    }
    // Two texts that state many figures and share most of them follow one
    // another as closely as paragraph lengths would show: the figures vouch
    // for the shape when the paragraphs were broken differently (a table
    // flattened on one side, an excerpt cut at another point).
    if shared_facts(a, b) && nums >= MOST && nums > shape {
        shape = nums;
        note("shared figures vouch for the shape", nums);
    }
    let mut damp = (0.6 + 0.4 * len) * shape * years;
    if disjoint {
        damp *= DISJOINT_FACTS;
        note("no shared figures or names", DISJOINT_FACTS);
    }
    if !both_read {
        return FALLBACK_SCALE * (0.55 * nums + 0.45 * names) * damp;
    }
    let score = |align: f64| mean(align) * damp;
    if comparable && !reaches(score(1.0)) {
        // The score grows with the alignment, which is at most 1.
        return score(1.0);
    }
    let align =
        if comparable { vector::align(&a.paragraph_concepts, &b.paragraph_concepts, ALIGN_FLOOR, cut) } else { cos };
    note("concept cosine", cos);
    note("paragraph alignment", align);
    score(align)
}

/// Damping of the content score of two texts with disjoint facts.
const DISJOINT_FACTS: f64 = 0.5;

/// Both texts state enough figures and names to judge, and share almost
/// none of either (translations share most of their figures even when cut
/// at different points: 0.25 at least on news-dev).
fn disjoint_facts(a: &ContentFeatures, b: &ContentFeatures, nums: f64, names: f64) -> bool {
    let enough = |f: &ContentFeatures| f.numbers.len() >= MIN_FACTS && f.names.len() >= 3;
    enough(a) && enough(b) && nums < 0.1 && names < 0.05
}

/// Both texts state enough figures to judge their overlap (as for
/// `disjoint_facts`).
fn shared_facts(a: &ContentFeatures, b: &ContentFeatures) -> bool {
    a.numbers.len() >= MIN_FACTS && b.numbers.len() >= MIN_FACTS
}

/// Figures a text states before their overlap with another's says something.
const MIN_FACTS: usize = 5;
/// Most figures shared (their shrunk Jaccard index): translations on
/// news-dev reach it in 82 of 94 pairs that share any, a rewrite by another
/// publisher 0.56, releases of one company in one week 0.47 and 0.60.
const MOST: f64 = 0.5;

/// Whether two texts' paragraphs can be compared one by one: always for
/// short texts; for long ones, when each has a few paragraphs and neither
/// many times the other's.
fn structure_comparable(a: &ContentFeatures, b: &ContentFeatures) -> bool {
    let (n, m) = (a.paragraph_chars.len(), b.paragraph_chars.len());
    let (lo, hi) = (n.min(m), n.max(m));
    a.chars.min(b.chars) < LONG_TEXT || (lo >= MIN_PARAGRAPHS && hi <= STRUCTURE_RATIO * lo)
}

/// Characters from which a text is long enough to judge without its paragraphs.
const LONG_TEXT: usize = 800;
/// Fewest paragraphs (title included) of a paragraph structure.
const MIN_PARAGRAPHS: usize = 3;
/// Largest ratio of paragraph counts still compared paragraph by paragraph.
const STRUCTURE_RATIO: usize = 5;

/// Weights of the concept cosine, the paragraph alignment, the shared
/// numbers and the shared names in the content score. Chosen on the two
/// development corpora (GNOME Help, and news releases where translations
/// share nearly all their figures and other periods' releases only some).
const W_COSINE: f64 = 0.3;
const W_ALIGN: f64 = 0.4;
const W_NUMBERS: f64 = 0.6;
const W_NAMES: f64 = 0.2;

/// Brings the numbers-and-names score (no dictionary for one of the
/// languages) to the scale of the concept score: it joins at about the
/// same evidence as before concepts existed (0.45 of its own scale).
const FALLBACK_SCALE: f64 = 0.36;

/// Paragraph pairs less alike than this are not aligned.
const ALIGN_FLOOR: f64 = 0.1;

/// Jaccard index of two sorted sets, shrunk towards 0 for small sets (`k`
/// pseudo-elements).
fn shrunk_jaccard<'a>(a: impl Iterator<Item = &'a String>, b: impl Iterator<Item = &'a String>, k: f64) -> f64 {
    let (mut a, mut b) = (a.peekable(), b.peekable());
    let (mut inter, mut union) = (0usize, 0usize);
    loop {
        let step = match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(x), Some(y)) => x.cmp(y),
        };
        union += 1;
        match step {
            std::cmp::Ordering::Less => {
                a.next();
            }
            std::cmp::Ordering::Greater => {
                b.next();
            }
            std::cmp::Ordering::Equal => {
                inter += 1;
                a.next();
                b.next();
            }
        }
    }
    if union == 0 { 0.0 } else { inter as f64 / (union as f64 + k) }
}

fn length_ratio(a: usize, b: usize) -> f64 {
    let (lo, hi) = (a.min(b) as f64, a.max(b) as f64);
    if hi == 0.0 { 0.0 } else { (lo / hi).powf(0.5) }
}

#[cfg(test)]
mod tests;
