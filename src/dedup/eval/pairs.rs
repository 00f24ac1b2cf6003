//! Pairwise precision, recall and F1 of predicted stories against gold
//! groups, per language pair, counted from cell sizes (not an enumeration
//! of pairs; an empty denominator counts as 1.0).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

/// True positives, predicted pairs and gold pairs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Pairs in one story and one gold group.
    pub tp: u64,
    /// Pairs in one predicted story.
    pub pp: u64,
    /// Pairs in one gold group.
    pub gp: u64,
}

impl Counts {
    /// Precision, recall and F1.
    pub fn prf(&self) -> (f64, f64, f64) {
        let p = if self.pp == 0 { 1.0 } else { self.tp as f64 / self.pp as f64 };
        let r = if self.gp == 0 { 1.0 } else { self.tp as f64 / self.gp as f64 };
        (p, r, if p + r == 0.0 { 0.0 } else { 2.0 * p * r / (p + r) })
    }
}

/// One scored document: its gold group (`None`: no translation), language
/// and predicted story.
pub struct Scored<'a> {
    /// Gold group.
    pub group: Option<&'a str>,
    /// Language.
    pub lang: &'a str,
    /// Predicted story.
    pub story: usize,
}

/// Documents per language in one cell: (gold group, story) -> lang -> count.
type Cells<'a> = HashMap<(Option<&'a str>, Option<usize>), BTreeMap<&'a str, u64>>;

/// Counts per language pair (`de-en`, `fi-fi`, ...).
pub fn count(docs: &[Scored]) -> BTreeMap<String, Counts> {
    let mut cells: [Cells; 3] = Default::default();
    for d in docs {
        *cells[1].entry((None, Some(d.story))).or_default().entry(d.lang).or_default() += 1;
        if let Some(g) = d.group {
            *cells[2].entry((Some(g), None)).or_default().entry(d.lang).or_default() += 1;
            *cells[0].entry((Some(g), Some(d.story))).or_default().entry(d.lang).or_default() += 1;
        }
    }
    let mut out: BTreeMap<String, Counts> = BTreeMap::new();
    for (k, table) in cells.iter().enumerate() {
        for langs in table.values() {
            for (key, n) in lang_pairs(langs) {
                let c = out.entry(key).or_default();
                *[&mut c.tp, &mut c.pp, &mut c.gp][k] += n;
            }
        }
    }
    out
}

/// Pairs within one cell given its documents per language.
fn lang_pairs(counts: &BTreeMap<&str, u64>) -> Vec<(String, u64)> {
    let langs: Vec<(&str, u64)> = counts.iter().map(|(l, n)| (*l, *n)).collect();
    let mut out = Vec::new();
    for (i, &(a, na)) in langs.iter().enumerate() {
        out.push((format!("{a}-{a}"), na * na.saturating_sub(1) / 2));
        for &(b, nb) in &langs[i + 1..] {
            out.push((format!("{a}-{b}"), na * nb));
        }
    }
    out
}

/// The report: a table per language pair, then the overall line
/// `pairs: precision=P recall=R f1=F`.
pub fn report(counts: &BTreeMap<String, Counts>) -> String {
    let mut s =
        format!("{:8} {:>7} {:>7} {:>7} {:>9} {:>7} {:>7}\n", "langs", "tp", "fp", "fn", "precision", "recall", "f1");
    let mut total = Counts::default();
    for (key, c) in counts {
        total = Counts { tp: total.tp + c.tp, pp: total.pp + c.pp, gp: total.gp + c.gp };
        if c.pp > 0 || c.gp > 0 {
            let (p, r, f) = c.prf();
            let _ = writeln!(s, "{key:8} {:7} {:7} {:7} {p:9.4} {r:7.4} {f:7.4}", c.tp, c.pp - c.tp, c.gp - c.tp);
        }
    }
    let (p, r, f) = total.prf();
    let _ = writeln!(s, "pairs: precision={p:.4} recall={r:.4} f1={f:.4}");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_match_a_pair_enumeration() {
        let d = |group, lang, story| Scored { group, lang, story };
        let docs = [
            d(Some("a"), "en", 0),
            d(Some("a"), "fi", 0),
            d(Some("a"), "sv", 1),
            d(None, "sv", 0),
            d(Some("b"), "en", 2),
        ];
        let c = count(&docs);
        assert_eq!(c["en-fi"], Counts { tp: 1, pp: 1, gp: 1 });
        assert_eq!(c["en-sv"], Counts { tp: 0, pp: 1, gp: 1 });
        assert_eq!(c["fi-sv"], Counts { tp: 0, pp: 1, gp: 1 });
        let text = report(&c);
        assert!(text.ends_with("pairs: precision=0.3333 recall=0.3333 f1=0.3333\n"), "{text}");
    }
}
