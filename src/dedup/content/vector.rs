//! Sparse concept vectors (unit length, weights quantised so that a stored
//! vector scores exactly like a fresh one), their cosine, and the
//! order-aware alignment of two documents' paragraphs. Pure.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// Weight quantum: components are stored as integers in 1/10000.
const SCALE: f64 = 10_000.0;

/// A unit-length sparse vector over concept ids, sorted by id. Serialised
/// compactly as `id:weight,...` (base-36 id, weight in 1/10000) in text
/// formats, as its (id, weight) pairs in binary ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SparseVec(Vec<(u32, u16)>);

impl Serialize for SparseVec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() { String::from(self.clone()).serialize(s) } else { self.0.serialize(s) }
    }
}

impl<'de> Deserialize<'de> for SparseVec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<SparseVec, D::Error> {
        if d.is_human_readable() {
            SparseVec::try_from(String::deserialize(d)?).map_err(serde::de::Error::custom)
        } else {
            Ok(SparseVec(Vec::deserialize(d)?))
        }
    }
}

impl SparseVec {
    /// The strongest `keep` of (concept, weight) pairs (concepts distinct,
    /// in any order), scaled to unit length.
    pub fn from_pairs(weights: impl Iterator<Item = (u32, f64)>, keep: usize) -> SparseVec {
        TOP.with_borrow_mut(|top| {
            top.clear();
            top.extend(weights.filter(|(_, v)| *v > 0.0));
            // Strongest first, ties by concept: a total order (concepts are
            // unique), so selecting the top `keep` before sorting them gives
            // the same components, summed in the same order, as sorting all.
            let order = |a: &(u32, f64), b: &(u32, f64)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
            if top.len() > keep && keep > 0 {
                top.select_nth_unstable_by(keep - 1, order);
            }
            top.truncate(keep);
            // A total order: unstable sorting gives the stable result.
            top.sort_unstable_by(order);
            let norm = top.iter().map(|p| p.1 * p.1).sum::<f64>().sqrt();
            let mut out: Vec<(u32, u16)> = Vec::with_capacity(top.len());
            out.extend(top.iter().map(|&(c, v)| (c, (v / norm * SCALE).round() as u16)).filter(|p| p.1 > 0));
            out.sort_unstable_by_key(|p| p.0);
            if top.capacity() > KEPT_TOP {
                *top = Vec::new(); // one text of very many concepts does not keep its buffer
            }
            SparseVec(out)
        })
    }

    /// The components: concept id and weight (unit length overall).
    pub fn iter(&self) -> impl Iterator<Item = (u32, f64)> + '_ {
        self.0.iter().map(|&(c, w)| (c, f64::from(w) / SCALE))
    }

    /// True when the vector has no component.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Cosine similarity with another unit vector, 0..1.
    ///
    /// The ids are hashes, so which side a merge step advances is a coin
    /// toss to the branch predictor: the merge advances both sides by
    /// arithmetic instead of branches (half the time of a `match` on
    /// vectors of a few hundred ids; the sum is the same integer).
    pub fn cosine(&self, other: &SparseVec) -> f64 {
        let (x, y) = (&self.0[..], &other.0[..]);
        let (mut i, mut j, mut sum) = (0, 0, 0u64);
        while i < x.len() && j < y.len() {
            let (a, b) = (x[i], y[j]);
            let product = u64::from(a.1) * u64::from(b.1);
            sum += if a.0 == b.0 { product } else { 0 };
            i += usize::from(a.0 <= b.0);
            j += usize::from(a.0 >= b.0);
        }
        (sum as f64 / (SCALE * SCALE)).min(1.0)
    }
}

impl From<SparseVec> for String {
    fn from(v: SparseVec) -> String {
        let mut s = String::with_capacity(v.0.len() * 11);
        for (i, (c, w)) in v.0.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            let _ = write!(s, "{sep}{}:{w}", base36(*c));
        }
        s
    }
}

impl TryFrom<String> for SparseVec {
    type Error = String;
    fn try_from(s: String) -> Result<SparseVec, String> {
        let parse = |item: &str| -> Option<(u32, u16)> {
            let (c, w) = item.split_once(':')?;
            Some((u32::from_str_radix(c, 36).ok()?, w.parse().ok()?))
        };
        s.split(',')
            .filter(|i| !i.is_empty())
            .map(|i| parse(i).ok_or(format!("bad concept vector item {i:?}")))
            .collect()
    }
}

impl FromIterator<(u32, u16)> for SparseVec {
    fn from_iter<I: IntoIterator<Item = (u32, u16)>>(iter: I) -> SparseVec {
        let mut v: Vec<(u32, u16)> = iter.into_iter().collect();
        v.sort_by_key(|p| p.0);
        SparseVec(v)
    }
}

fn base36(mut n: u32) -> String {
    let digits = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(digits[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// The concept vectors of a text's title and paragraphs, in order. Stored
/// as the list of vectors; the first alignment builds an index of every
/// component by concept (concept, paragraph, weight), kept with them, so
/// that two texts' paragraph cosines come from one merge of two sorted
/// lists instead of a merge per pair of paragraphs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Paragraphs {
    vecs: Vec<SparseVec>,
    #[serde(skip)]
    index: OnceLock<Vec<(u32, u16, u16)>>,
}

impl PartialEq for Paragraphs {
    fn eq(&self, other: &Paragraphs) -> bool {
        self.vecs == other.vecs
    }
}

impl Eq for Paragraphs {}

impl From<Vec<SparseVec>> for Paragraphs {
    fn from(vecs: Vec<SparseVec>) -> Paragraphs {
        Paragraphs { vecs, index: OnceLock::new() }
    }
}

impl Paragraphs {
    /// How many (title included).
    pub fn len(&self) -> usize {
        self.vecs.len()
    }

    /// True when there is none.
    pub fn is_empty(&self) -> bool {
        self.vecs.is_empty()
    }

    /// Builds the index now (see [`super::ContentFeatures::prepare`]).
    pub fn prepare(&self) {
        self.index();
    }

    /// Every component as (concept, paragraph, weight), by concept. A
    /// text has at most `concepts::MAX_PARAGRAPHS` (60) vectors; any
    /// beyond 65,535 would count as matching nothing.
    fn index(&self) -> &[(u32, u16, u16)] {
        self.index.get_or_init(|| {
            let mut all: Vec<(u32, u16, u16)> = self
                .vecs
                .iter()
                .zip(0..=u16::MAX)
                .flat_map(|(v, p)| v.0.iter().map(move |&(c, w)| (c, p, w)))
                .collect();
            all.sort_unstable();
            all
        })
    }

    /// The cosine of every pair of paragraphs, row-major (`self`'s
    /// paragraph by `other`'s): the same sums as [`SparseVec::cosine`] of
    /// each pair.
    #[cfg(test)]
    fn cosines(&self, other: &Paragraphs) -> Vec<f64> {
        let mut dots = Vec::new();
        self.dots_into(other, &mut dots);
        dots.into_iter().map(cosine_of).collect()
    }

    /// The dot products behind [`Paragraphs::cosines`] (row-major), into
    /// `dots`, whatever it held.
    fn dots_into(&self, other: &Paragraphs, dots: &mut Vec<u64>) {
        let m = other.len();
        dots.clear();
        dots.resize(self.len() * m, 0);
        let (x, y) = (self.index(), other.index());
        let (mut i, mut j) = (0, 0);
        while i < x.len() && j < y.len() {
            let (c, d) = (x[i].0, y[j].0);
            if c == d {
                let ie = i + x[i..].iter().take_while(|t| t.0 == c).count();
                let je = j + y[j..].iter().take_while(|t| t.0 == c).count();
                for &(_, p, w) in &x[i..ie] {
                    let row = p as usize * m;
                    for &(_, q, v) in &y[j..je] {
                        dots[row + q as usize] += u64::from(w) * u64::from(v);
                    }
                }
                (i, j) = (ie, je);
            } else {
                // Unequal ids step without a branch, as in `SparseVec::cosine`.
                i += usize::from(c < d);
                j += usize::from(c > d);
            }
        }
    }
}

/// A document's vector and its paragraphs' vectors in the smaller stored
/// form (`Features::encode`): one dictionary of every concept they name,
/// sorted, its ids stored as the differences between neighbours (about 4
/// bytes in postcard's varints instead of 5), and each paragraph
/// component as its index in the dictionary (1 or 2 bytes instead of 5).
/// Nine in ten paragraph concepts are among the document's strongest. The
/// dictionary is itself a vector: the document's components with their
/// weights, and among them, in id order, the paragraphs' other concepts at
/// weight 0 (a document's vector has no zero weight:
/// [`SparseVec::from_pairs`] drops them).
/// `None` when the vectors do not have that shape (ids out of order, a
/// zero weight in the document's vector): they are stored as they are.
pub(crate) fn pack_concepts(doc: &SparseVec, paragraphs: &Paragraphs) -> Option<(SparseVec, Paragraphs)> {
    let sorted = |v: &SparseVec| v.0.windows(2).all(|w| w[0].0 < w[1].0);
    if !sorted(doc) || doc.0.iter().any(|c| c.1 == 0) || !paragraphs.vecs.iter().all(sorted) {
        return None;
    }
    let mut named: Vec<u32> = paragraphs.vecs.iter().flat_map(|v| v.0.iter().map(|c| c.0)).collect();
    named.sort_unstable();
    named.dedup();
    // Both sorted: merged, each id once.
    let mut dict: Vec<(u32, u16)> = Vec::with_capacity(doc.0.len() + named.len());
    let (mut kept, mut others) = (doc.0.iter().peekable(), named.into_iter().peekable());
    loop {
        let next = match (kept.peek(), others.peek()) {
            (Some(&&(d, w)), Some(&o)) if d <= o => {
                if d == o {
                    others.next();
                }
                kept.next();
                (d, w)
            }
            (_, Some(&o)) => {
                others.next();
                (o, 0)
            }
            (Some(&&k), None) => {
                kept.next();
                k
            }
            (None, None) => break,
        };
        dict.push(next);
    }
    // Each paragraph's ids are sorted, so its indices come from one walk
    // along the dictionary (a binary search per id mispredicted its way
    // through most of the packing's time).
    let vecs = paragraphs
        .vecs
        .iter()
        .map(|v| {
            let mut at = 0;
            let mut out = Vec::with_capacity(v.0.len());
            for &(c, w) in &v.0 {
                while dict.get(at).is_some_and(|d| d.0 < c) {
                    at += 1;
                }
                out.push((u32::try_from(at).ok().filter(|_| dict.get(at).is_some_and(|d| d.0 == c))?, w));
            }
            Some(SparseVec(out))
        })
        .collect::<Option<Vec<_>>>()?;
    let mut previous = 0;
    let deltas = dict
        .iter()
        .map(|&(c, w)| {
            let d = c - previous;
            previous = c;
            (d, w)
        })
        .collect();
    Some((SparseVec(deltas), vecs.into()))
}

/// The vectors [`pack_concepts`] packed. `None` for anything it cannot have
/// written (an index past the dictionary, ids that overflow or repeat).
pub(crate) fn unpack_concepts(dict: SparseVec, paragraphs: Paragraphs) -> Option<(SparseVec, Paragraphs)> {
    // In place: a row is decoded each time assignment reads it.
    let mut ids = dict.0;
    let mut id = 0u32;
    for (i, c) in ids.iter_mut().enumerate() {
        id = if i == 0 { c.0 } else { id.checked_add(c.0).filter(|_| c.0 > 0)? };
        c.0 = id;
    }
    let mut vecs = paragraphs.vecs;
    for v in &mut vecs {
        for c in &mut v.0 {
            c.0 = ids.get(c.0 as usize)?.0;
        }
        if !v.0.windows(2).all(|w| w[0].0 < w[1].0) {
            return None;
        }
    }
    ids.retain(|c| c.1 > 0);
    Some((SparseVec(ids), vecs.into()))
}

/// The cosine of two unit vectors from their quantised dot product.
fn cosine_of(dot: u64) -> f64 {
    (dot as f64 / (SCALE * SCALE)).min(1.0)
}

thread_local! {
    /// The components [`SparseVec::from_pairs`] chooses from, kept on each
    /// thread between calls (up to [`KEPT_TOP`]): a text's features make
    /// one vector per paragraph, and collecting each into a new buffer
    /// grew it several times over, each growth a trip to the allocator,
    /// whose locks the `cpu` threads of a cold poll queue for.
    static TOP: RefCell<Vec<(u32, f64)>> = const { RefCell::new(Vec::new()) };
    /// One pair's paragraph dot products (at most 60 x 60 paragraphs), and
    /// the two rows of [`monotone`]'s matching (as long as a text has
    /// paragraphs; rows longer than [`KEPT_ROW`] are not kept): kept on
    /// each thread between pairs. A scoring thread aligns millions of
    /// pairs; allocating them for each pair made it queue for the
    /// allocator's lock behind the deciding thread.
    static DOTS: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
    static ROWS: RefCell<(Vec<f64>, Vec<f64>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Best monotone matching of paragraphs (a translation keeps their order):
/// the summed cosine of matched pairs at or above `floor`, divided by the
/// larger paragraph count. 0..1. `cut`: either text may be cut short (see
/// [`monotone`]).
pub fn align(a: &Paragraphs, b: &Paragraphs, floor: f64, cut: bool) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let m = b.len();
    DOTS.with_borrow_mut(|dots| {
        a.dots_into(b, dots);
        monotone(a.len(), m, cut, |i, j| {
            let s = cosine_of(dots[i * m + j]);
            (s >= floor).then_some(s)
        })
    })
}

/// How alike two sequences of paragraph lengths are: the best monotone
/// matching of paragraphs whose lengths differ by at most a factor of two,
/// each pair scoring its length ratio, divided by the larger count. 0..1.
pub fn shape(a: &[u32], b: &[u32], cut: bool) -> f64 {
    let ratio = |x: u32, y: u32| f64::from(x.min(y)) / f64::from(x.max(y).max(1));
    monotone(a.len(), b.len(), cut, |i, j| {
        let r = ratio(a[i], b[j]);
        (r >= 0.5).then_some(r)
    })
}

/// The most [`monotone`] can give two sequences of `n` and `m` items (each
/// pair scores at most 1): all of the shorter matched, divided by the
/// larger count; 1 with `cut` (what a text cut short compared may be all
/// of it). A bound on [`shape`] and [`align`] that needs no pair scored.
pub fn most(n: usize, m: usize, cut: bool) -> f64 {
    match (n.min(m), n.max(m)) {
        (0, _) => 0.0,
        _ if cut => 1.0,
        (few, many) => few as f64 / many as f64,
    }
}

/// Least share of the longer text that a text cut short must cover.
const PREFIX_MIN: f64 = 0.7;

/// The best monotone matching of two sequences of `n` and `m` items (`pair`
/// scores a pair, `None` when it cannot match), divided by the larger count.
/// With `cut`, one text may end early (feeds and excerpts cut long texts at
/// different points): the rest of the other is not held against it if what
/// was compared covers at least [`PREFIX_MIN`] of it.
fn monotone(n: usize, m: usize, cut: bool, pair: impl Fn(usize, usize) -> Option<f64>) -> f64 {
    if n == 0 || m == 0 {
        return 0.0;
    }
    ROWS.with_borrow_mut(|(prev, row)| {
        prev.clear();
        prev.resize(m + 1, 0.0);
        row.clear();
        row.resize(m + 1, 0.0);
        let best = matching(n, m, cut, &pair, prev, row);
        if m >= KEPT_ROW {
            // One text of very many paragraphs does not keep its rows.
            (*prev, *row) = (Vec::new(), Vec::new());
        }
        best
    })
}

/// Most components [`SparseVec::from_pairs`] keeps room for between calls.
const KEPT_TOP: usize = 4096;

/// Longest matching row kept between pairs (a text's paragraphs are not
/// bounded; paragraph vectors are, at 60).
const KEPT_ROW: usize = 1024;

/// [`monotone`]'s matching, on two zeroed rows of `m + 1`.
fn matching<'a>(
    n: usize,
    m: usize,
    cut: bool,
    pair: &impl Fn(usize, usize) -> Option<f64>,
    mut prev: &'a mut [f64],
    mut row: &'a mut [f64],
) -> f64 {
    let mut best: f64 = 0.0;
    for i in 0..n {
        for j in 0..m {
            let diag = pair(i, j).map_or(prev[j], |s| prev[j] + s);
            row[j + 1] = diag.max(prev[j + 1]).max(row[j]);
        }
        if cut && (i + 1) as f64 >= PREFIX_MIN * n as f64 {
            best = best.max(row[m] / (i + 1).max(m) as f64);
        }
        std::mem::swap(&mut prev, &mut row);
    }
    best = best.max(prev[m] / n.max(m) as f64);
    if cut {
        for (j, v) in prev.iter().enumerate().skip(1) {
            if j as f64 >= PREFIX_MIN * m as f64 {
                best = best.max(v / n.max(j) as f64);
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn v(items: &[(u32, f64)]) -> SparseVec {
        SparseVec::from_pairs(items.iter().copied().collect::<HashMap<u32, f64>>().into_iter(), 50)
    }

    fn al(a: &[SparseVec], b: &[SparseVec], floor: f64, cut: bool) -> f64 {
        align(&a.to_vec().into(), &b.to_vec().into(), floor, cut)
    }

    #[test]
    fn paragraph_cosines_from_the_index_are_each_pairs_cosine() {
        // Overlapping concept ranges, repeated concepts across paragraphs.
        let mut next = crate::dedup::test_numbers(7);
        let mut text = |paras: usize| -> Vec<SparseVec> {
            (0..paras)
                .map(|_| v(&(0..1 + next(30)).map(|_| (next(60) as u32, 1.0 + next(9) as f64)).collect::<Vec<_>>()))
                .collect()
        };
        let (a, b) = (text(7), text(11));
        let (pa, pb): (Paragraphs, Paragraphs) = (a.clone().into(), b.clone().into());
        let all = pa.cosines(&pb);
        assert!(all.iter().any(|c| *c > 0.0) && all.contains(&0.0), "{all:?}");
        for (i, x) in a.iter().enumerate() {
            for (j, y) in b.iter().enumerate() {
                assert_eq!(all[i * b.len() + j], x.cosine(y), "paragraphs {i} and {j}");
            }
        }
        // Stored as the plain list of vectors.
        let json = serde_json::to_string(&pa).unwrap();
        assert_eq!(json, serde_json::to_string(&a).unwrap());
        assert_eq!(serde_json::from_str::<Paragraphs>(&json).unwrap(), pa);
    }

    #[test]
    fn the_merged_cosine_is_the_dot_product_of_the_shared_ids() {
        let mut next = crate::dedup::test_numbers(11);
        // Ids from a small range (many shared) and at the ends of u32.
        let mut vector = || -> SparseVec {
            let len = next(120);
            (0..len)
                .map(|_| match next(4) {
                    0 => (u32::MAX - next(3) as u32, 1 + next(9999) as u16),
                    1 => (next(3) as u32, 1 + next(9999) as u16),
                    _ => (next(400) as u32, 1 + next(9999) as u16),
                })
                .collect::<HashMap<u32, u16>>()
                .into_iter()
                .collect()
        };
        for round in 0..500 {
            let (a, b) = (vector(), vector());
            let theirs: HashMap<u32, u16> = b.0.iter().copied().collect();
            let dot: u64 = a.0.iter().filter_map(|(c, w)| theirs.get(c).map(|v| u64::from(*w) * u64::from(*v))).sum();
            let expected = (dot as f64 / (SCALE * SCALE)).min(1.0);
            assert_eq!(a.cosine(&b).to_bits(), expected.to_bits(), "round {round}: {a:?} . {b:?}");
            assert_eq!(b.cosine(&a).to_bits(), expected.to_bits(), "round {round}, swapped");
        }
    }

    #[test]
    fn cosine_and_round_trip() {
        let a = v(&[(1, 1.0), (2, 1.0)]);
        let b = v(&[(2, 1.0), (3, 1.0)]);
        assert!((a.cosine(&b) - 0.5).abs() < 1e-3);
        assert!((a.cosine(&a) - 1.0).abs() < 1e-3);
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<SparseVec>(&json).unwrap(), a);
        assert_eq!(serde_json::from_str::<SparseVec>("\"\"").unwrap(), SparseVec::default());
    }

    #[test]
    fn alignment_rewards_order() {
        let p: Vec<SparseVec> = (1..=4).map(|c| v(&[(c, 1.0)])).collect();
        let reversed: Vec<SparseVec> = p.iter().rev().cloned().collect();
        assert!((al(&p, &p, 0.2, false) - 1.0).abs() < 1e-3);
        assert!(al(&p, &reversed, 0.2, false) < 0.3);
        assert!((al(&p, &p[..2], 0.2, false) - 0.5).abs() < 1e-3);
    }

    #[test]
    fn a_text_cut_short_is_compared_with_the_part_it_covers() {
        let p: Vec<SparseVec> = (1..=10).map(|c| v(&[(c, 1.0)])).collect();
        // Cut after 8 of 10 paragraphs: all of it against the first 8.
        assert!((al(&p[..8], &p, 0.2, false) - 0.8).abs() < 1e-3);
        assert!((al(&p[..8], &p, 0.2, true) - 1.0).abs() < 1e-3);
        assert!((al(&p, &p[..8], 0.2, true) - 1.0).abs() < 1e-3, "either side");
        // Only the part past PREFIX_MIN of the other is forgiven: half a
        // text against its first 7 of 10 paragraphs scores 5/7.
        assert!((al(&p[..5], &p, 0.2, true) - 5.0 / 7.0).abs() < 1e-3);
        // The same for lengths.
        let lens: Vec<u32> = (1..=10).map(|i| 100 * i).collect();
        assert!((shape(&lens[..8], &lens, true) - 1.0).abs() < 1e-3);
        assert!(shape(&lens[..8], &lens, false) < 0.81);
        // Another text is not helped: order still counts.
        let reversed: Vec<SparseVec> = p[..8].iter().rev().cloned().collect();
        assert!(al(&reversed, &p, 0.2, true) < 0.2);
    }

    #[test]
    fn no_shape_or_alignment_exceeds_what_the_counts_allow() {
        let mut next = crate::dedup::test_numbers(11);
        let mut reached = 0;
        for round in 0..300 {
            let (n, m) = (next(9), next(9));
            // Alike lengths and concepts, so that many pairs match.
            let lens = |k: usize, next: &mut dyn FnMut(u64) -> u64| -> Vec<u32> {
                (0..k).map(|_| 100 + next(20) as u32).collect()
            };
            let (la, lb) = (lens(n as usize, &mut next), lens(m as usize, &mut next));
            let para = |k: usize, next: &mut dyn FnMut(u64) -> u64| -> Vec<SparseVec> {
                (0..k).map(|_| v(&[(next(3) as u32, 1.0), (next(3) as u32 + 3, 1.0)])).collect()
            };
            let (pa, pb) = (para(n as usize, &mut next), para(m as usize, &mut next));
            let cut = round % 2 == 1;
            let most = most(n as usize, m as usize, cut);
            for got in [shape(&la, &lb, cut), al(&pa, &pb, 0.2, cut)] {
                assert!(got <= most, "{got} over {most} ({n} and {m} items, cut {cut})");
                reached += usize::from(got == most && most > 0.0 && most < 1.0);
            }
        }
        // The bound is tight: some matchings reach it.
        assert!(reached > 0);
    }
}
