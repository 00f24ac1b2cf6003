//! Features of an entry for story assignment: identity keys (canonical URL,
//! language-neutral ids, explicit alternates), a MinHash sketch for
//! same-language near-duplicates, and content features. Pure.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::content::{ContentFeatures, Paragraphs, SparseVec, content_features};
use crate::model::Entry;

/// Size of the bottom-k MinHash sketch.
const SKETCH: usize = 128;

/// What assignment knows about one entry. Stored in a binary encoding
/// ([`Features::encode`]): a change to this struct or to the types in it
/// needs new numbers for both stored formats (`FORMAT` and
/// `FORMAT_PACKED`; next 3 and 4), `decode` arms that still read the old
/// ones, and a schema migration (so that an older polyfeed refuses the
/// database instead of skipping rows it cannot read): rows in an old layout
/// must never be misread.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Features {
    /// Primary language subtag.
    pub lang: Option<String>,
    /// Publication time.
    pub published: DateTime<Utc>,
    /// Source row id.
    pub source_id: i64,
    /// Publisher group of the source.
    pub group: Option<String>,
    /// Host of the entry's URL, without `www.`.
    pub host: Option<String>,
    /// The guid, when the feed gave one.
    pub guid: Option<String>,
    /// Canonical URL folded (scheme, `www.`, trailing slash, case of host).
    pub url_key: Option<String>,
    /// Language-neutral identifiers from the URL and guid.
    pub id_keys: Vec<String>,
    /// Ids captured by the source's `id_pattern`, scoped (`pid:SCOPE:ID`).
    #[serde(default)]
    pub pattern_ids: Vec<String>,
    /// Folded URLs of the entry's links to other-language versions.
    pub alternates: Vec<String>,
    /// Bottom-k MinHash of word 3-grams (same-language near-duplicates).
    pub sketch: Vec<u64>,
    /// Content that survives translation.
    pub content: ContentFeatures,
}

/// Version of the stored encoding (first byte of a stored row): the fields
/// as they are.
pub const FORMAT: u8 = 1;

/// The smaller stored encoding: `FORMAT`'s with the sketch as the
/// differences between its sorted hashes, and the concept vectors packed
/// into one dictionary (`content::pack_concepts`): a quarter smaller (a
/// cold poll of 60 real-text feeds: 3,992 bytes a row on average, 38 % of
/// rows overflowing a 4 KiB page; packed, 3,050 bytes and 13 %), so fewer
/// pages to write when entries are stored and to read when assignment
/// reads them back. Decoded to exactly the features that were encoded.
pub const FORMAT_PACKED: u8 = 2;

impl Features {
    /// The stored form: `FORMAT_PACKED` (or `FORMAT` for features that
    /// do not have the shape packing needs), then the fields in postcard's
    /// compact binary encoding (several times faster to write and read
    /// than JSON, which story assignment does for every candidate it has
    /// not cached). Takes `&mut self` only to write the packed fields
    /// without copying the rest: they are swapped in for the writing and
    /// back out after it, so the features are unchanged.
    pub fn encode(&mut self) -> Vec<u8> {
        let (format, fields) = match self.packed_fields() {
            Some(mut packed) => {
                self.swap_packed(&mut packed);
                let out = (FORMAT_PACKED, postcard::to_allocvec(self));
                self.swap_packed(&mut packed);
                out
            }
            None => (FORMAT, postcard::to_allocvec(self)),
        };
        let mut out = vec![format];
        // Plain data into a Vec: serialising cannot fail.
        out.extend(fields.unwrap_or_default());
        out
    }

    /// Reads a stored row: the binary form of either format, or JSON (what
    /// earlier versions stored). `None` for anything else: the caller
    /// leaves the entry out as a candidate.
    pub fn decode(stored: &[u8]) -> Option<Features> {
        match stored.split_first() {
            Some((&FORMAT, rest)) => postcard::from_bytes(rest).ok(),
            Some((&FORMAT_PACKED, rest)) => postcard::from_bytes::<Features>(rest).ok()?.unpacked(),
            Some((b'{', _)) => serde_json::from_slice(stored).ok(),
            _ => None,
        }
    }

    /// The sketch and the concept vectors in their packed form; `None`
    /// when they cannot be packed (a sketch out of order, vectors
    /// `pack_concepts` does not take).
    fn packed_fields(&self) -> Option<(Vec<u64>, SparseVec, Paragraphs)> {
        if !self.sketch.is_sorted_by(|a, b| a < b) {
            return None;
        }
        let c = &self.content;
        let (concepts, paragraphs) = super::content::pack_concepts(&c.concepts, &c.paragraph_concepts)?;
        let mut previous = 0;
        let sketch = self
            .sketch
            .iter()
            .map(|&h| {
                let d = h - previous;
                previous = h;
                d
            })
            .collect();
        Some((sketch, concepts, paragraphs))
    }

    /// Swaps the fields [`Features::packed_fields`] gives with these.
    fn swap_packed(&mut self, packed: &mut (Vec<u64>, SparseVec, Paragraphs)) {
        std::mem::swap(&mut self.sketch, &mut packed.0);
        std::mem::swap(&mut self.content.concepts, &mut packed.1);
        std::mem::swap(&mut self.content.paragraph_concepts, &mut packed.2);
    }

    /// The features [`Features::encode`] packed.
    fn unpacked(mut self) -> Option<Features> {
        let mut h = 0u64;
        for (i, d) in self.sketch.iter_mut().enumerate() {
            h = if i == 0 { *d } else { h.checked_add(*d).filter(|_| *d > 0)? };
            *d = h;
        }
        let c = &mut self.content;
        let (concepts, paragraphs) = super::content::unpack_concepts(
            std::mem::take(&mut c.concepts),
            std::mem::take(&mut c.paragraph_concepts),
        )?;
        (c.concepts, c.paragraph_concepts) = (concepts, paragraphs);
        Some(self)
    }
}

impl Features {
    /// The identity keys this entry is found by (`u:` canonical URL, `a:`
    /// alternates it links to, `i:` language-neutral ids, `p:` id_pattern
    /// ids, `g:` guid).
    pub fn keys(&self) -> Vec<String> {
        let mut k: Vec<String> = Vec::new();
        k.extend(self.url_key.iter().map(|u| format!("u:{u}")));
        k.extend(self.alternates.iter().map(|a| format!("a:{a}")));
        k.extend(self.id_keys.iter().map(|i| format!("i:{i}")));
        k.extend(self.pattern_ids.iter().map(|p| format!("p:{p}")));
        k.extend(self.guid.iter().map(|g| format!("g:{g}")));
        k
    }

    /// The keys under which other entries would point at this one: the
    /// candidates found by [`Features::keys`] of others.
    pub fn lookups(&self) -> Vec<String> {
        let mut k: Vec<String> = Vec::new();
        if let Some(u) = &self.url_key {
            k.push(format!("u:{u}"));
            k.push(format!("a:{u}"));
        }
        k.extend(self.alternates.iter().map(|a| format!("u:{a}")));
        k.extend(self.id_keys.iter().map(|i| format!("i:{i}")));
        k.extend(self.pattern_ids.iter().map(|p| format!("p:{p}")));
        k.extend(self.guid.iter().map(|g| format!("g:{g}")));
        k
    }
}

/// Computes the features of an entry.
pub fn features(e: &Entry, source_id: i64, group: Option<&str>) -> Features {
    let text =
        crate::normalise::plain_text_paragraphs(e.content_html.as_deref().or(e.summary_html.as_deref()).unwrap_or(""));
    let lang = e.lang.as_deref().map(|l| crate::lang::primary(l).to_string());
    let own = e.url.as_deref().and_then(fold_url);
    let mut alternates: Vec<String> = e
        .links
        .iter()
        .filter(|l| l.hreflang.is_some() || l.rel.as_deref() == Some("alternate"))
        .filter_map(|l| fold_url(&l.href))
        .filter(|u| Some(u) != own.as_ref())
        .collect();
    alternates.sort();
    alternates.dedup();
    Features {
        published: e.published,
        source_id,
        group: group.map(str::to_string),
        host: e.url.as_deref().and_then(host_of),
        guid: e.guid.clone(),
        id_keys: id_keys(e.url.as_deref(), e.guid.as_deref()),
        pattern_ids: Vec::new(),
        url_key: own,
        alternates,
        sketch: sketch(&format!("{}\n{text}", e.title)),
        content: content_features(lang.as_deref().unwrap_or(""), &e.title, &text),
        lang,
    }
}

/// Longest URL or guid an `id_pattern` is applied to.
const MAX_PATTERN_INPUT: usize = 4096;
/// Longest id kept from an `id_pattern` capture.
const MAX_PATTERN_ID: usize = 200;

/// The ids a source's `id_pattern` captures from an entry's link and guid
/// (the group named `id`, else the first group), as `pid:SCOPE:ID`. `scope`
/// is the source's group (or its key when it has none): only entries with
/// the same scope and id are joined. Empty captures and over-long inputs or
/// ids are ignored.
pub fn pattern_ids(pattern: &regex::Regex, scope: &str, url: Option<&str>, guid: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    for s in [url, guid].into_iter().flatten().filter(|s| s.len() <= MAX_PATTERN_INPUT) {
        let Some(caps) = pattern.captures(s) else { continue };
        let Some(m) = caps.name("id").or_else(|| caps.get(1)) else { continue };
        let id = m.as_str().trim();
        if !id.is_empty() && id.len() <= MAX_PATTERN_ID {
            out.push(format!("pid:{scope}:{id}"));
        }
    }
    out.sort();
    out.dedup();
    out
}

fn host_of(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    Some(u.host_str()?.trim_start_matches("www.").to_ascii_lowercase())
}

/// `https://www.Example.org/a/b/?x=1` -> `example.org/a/b?x=1`.
pub fn fold_url(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    let host = u.host_str()?.trim_start_matches("www.").to_ascii_lowercase();
    let path = u.path().trim_end_matches('/');
    Some(match u.query() {
        Some(q) if !q.is_empty() => format!("{host}{path}?{q}"),
        _ => format!("{host}{path}"),
    })
}

/// Language codes that sites put in paths and query strings.
const LANG_MARKERS: &[&str] = &[
    "fi", "sv", "en", "de", "fr", "se", "ru", "et", "es", "it", "fi-fi", "sv-fi", "sv-se", "en-gb", "en-us", "suomi",
    "svenska", "english",
];
const LANG_PARAMS: &[&str] = &["lang", "language", "languageid", "locale", "hl", "l"];

/// Identifiers that stay the same across a post's language versions:
/// numeric CMS ids (Liferay `/-/…/1410877/slug`, Drupal `1234 at https://…`,
/// `?p=123`), and the URL with its language markers removed.
pub fn id_keys(url: Option<&str>, guid: Option<&str>) -> Vec<String> {
    let mut keys = Vec::new();
    for s in [url, guid].into_iter().flatten() {
        if let Some((num, rest)) = s.split_once(" at ")
            && num.chars().all(|c| c.is_ascii_digit())
            && rest.starts_with("http")
        {
            keys.push(format!("cms:{num}"));
        }
        let Ok(u) = url::Url::parse(s) else { continue };
        for seg in u.path_segments().into_iter().flatten() {
            if seg.len() >= 4 && seg.len() <= 12 && seg.chars().all(|c| c.is_ascii_digit()) && !date_like(seg) {
                keys.push(format!("cms:{seg}"));
            }
        }
        for (k, v) in u.query_pairs() {
            if matches!(k.as_ref(), "p" | "id" | "nid" | "article" | "articleid" | "newsid")
                && v.chars().all(|c| c.is_ascii_digit())
                && !v.is_empty()
            {
                keys.push(format!("cms:{v}"));
            }
        }
        if let Some(stripped) = without_lang_markers(&u) {
            keys.push(format!("url:{stripped}"));
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

/// A path segment that reads as a year, a year and month or a date
/// (`2008`, `200810`, `20081022`): archive paths share them across every
/// post of a period, so they are not taken for a post's id (a site whose
/// real ids look like years needs `id_pattern`).
fn date_like(seg: &str) -> bool {
    let year = |y: &str| y.parse::<u32>().is_ok_and(|y| (1900..=2100).contains(&y));
    let month = |m: &str| m.parse::<u32>().is_ok_and(|m| (1..=12).contains(&m));
    let day = |d: &str| d.parse::<u32>().is_ok_and(|d| (1..=31).contains(&d));
    match seg.len() {
        4 => year(seg),
        6 => year(&seg[..4]) && month(&seg[4..]),
        8 => year(&seg[..4]) && month(&seg[4..6]) && day(&seg[6..]),
        _ => false,
    }
}

/// The URL without language path segments or query parameters, when it had any.
fn without_lang_markers(u: &url::Url) -> Option<String> {
    let segs: Vec<&str> = u.path_segments()?.filter(|s| !s.is_empty()).collect();
    let kept: Vec<&str> =
        segs.iter().copied().filter(|s| !LANG_MARKERS.contains(&s.to_ascii_lowercase().as_str())).collect();
    let query: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| !LANG_PARAMS.contains(&k.to_ascii_lowercase().as_str()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let changed = kept.len() != segs.len() || query.len() != u.query_pairs().count();
    if !changed || kept.is_empty() {
        return None;
    }
    let host = u.host_str()?.trim_start_matches("www.").to_ascii_lowercase();
    let q: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    Some(format!("{host}/{}{}{}", kept.join("/"), if q.is_empty() { "" } else { "?" }, q.join("&")))
}

/// FNV-1a, 64 bit, of words joined by single spaces, without joining
/// them: a stable hash (the sketch is stored).
fn fnv_words<S: AsRef<str>>(words: &[S]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut step = |b: u8| {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    };
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            step(b' ');
        }
        w.as_ref().bytes().for_each(&mut step);
    }
    h
}

/// A word in lower case (`str::to_lowercase`); one already in lower case,
/// most words, is borrowed, not copied. A word is that when each of its
/// characters lower-cases to itself alone (`str::to_lowercase` maps
/// character by character, but for capital sigma, which becomes σ or ς by
/// its position and never stays itself): checked on the bytes for ASCII
/// words, by each character's own mapping for the others (Finnish,
/// Swedish, German and French words with ä, ö, å, é, ü were each copied).
pub(crate) fn lowercase(w: &str) -> Cow<'_, str> {
    if w.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) || w.chars().all(lowercases_to_itself) {
        Cow::Borrowed(w)
    } else {
        Cow::Owned(w.to_lowercase())
    }
}

/// `c` lower-cases to itself alone.
fn lowercases_to_itself(c: char) -> bool {
    if c.is_ascii() {
        return !c.is_ascii_uppercase();
    }
    let mut l = c.to_lowercase();
    l.next() == Some(c) && l.next().is_none()
}

/// Bottom-k MinHash of the lower-cased word 3-grams.
pub(crate) fn sketch(text: &str) -> Vec<u64> {
    let words: Vec<Cow<'_, str>> =
        text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(lowercase).collect();
    let mut hashes: Vec<u64> = words.windows(3).map(fnv_words).collect();
    if hashes.is_empty() && !words.is_empty() {
        hashes.push(fnv_words(&words));
    }
    hashes.sort_unstable();
    hashes.dedup();
    hashes.truncate(SKETCH);
    hashes
}

/// Estimated Jaccard similarity of the 3-gram sets behind two sketches.
pub fn sketch_similarity(a: &[u64], b: &[u64]) -> f64 {
    sketch_similarity_from(a, b, 0.0)
}

/// Misses (hashes of the union found on one side only) after which a
/// merge of `n` steps cannot reach a share of `floor` shared ones: a
/// hash more than the arithmetic allows, so that rounding never stops a
/// merge that reaches it.
fn most_misses(n: usize, floor: f64) -> usize {
    if floor <= 0.0 { usize::MAX } else { (n as f64 * (1.0 - floor)).max(0.0) as usize + 1 }
}

/// [`sketch_similarity`], exact where it is at least `floor`; below it,
/// some value below `floor`: the merge stops once so many hashes missed
/// that the rest cannot bring it to `floor` (most pairs compared share
/// almost nothing, and stop after a fifth of the merge or less).
pub fn sketch_similarity_from(a: &[u64], b: &[u64], floor: f64) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let keep = SKETCH.min(a.len().max(b.len()));
    if !(a.is_sorted_by(|x, y| x < y) && b.is_sorted_by(|x, y| x < y)) {
        // not as `sketch` makes them: the general way
        let mut union: Vec<u64> = a.iter().chain(b).copied().collect();
        union.sort_unstable();
        union.dedup();
        union.truncate(keep);
        let both = union.iter().filter(|h| a.binary_search(h).is_ok() && b.binary_search(h).is_ok()).count();
        return both as f64 / union.len() as f64;
    }
    // Both strictly ascending: merge the smallest `keep` of the union,
    // counting those in both (the same counts as sorting the union). The
    // steps advance by arithmetic, not branches (see `SparseVec::cosine`).
    // The estimate is `both / union` with `union` at most `keep`: each
    // miss lowers the most it can end at by `1 / keep`.
    let most = most_misses(keep, floor);
    let (mut i, mut j, mut union, mut both) = (0, 0, 0usize, 0usize);
    while union < keep && i < a.len() && j < b.len() {
        let (x, y) = (a[i], b[j]);
        both += usize::from(x == y);
        i += usize::from(x <= y);
        j += usize::from(x >= y);
        union += 1;
        if union - both > most {
            return 0.0;
        }
    }
    // One side is used up: the rest of the other is in the union only.
    union += (keep - union).min(a.len() - i + b.len() - j);
    both as f64 / union as f64
}

/// [`sketch_containment_from`] with no floor: exact (the tests compare the
/// two).
#[cfg(test)]
pub fn sketch_containment(a: &[u64], b: &[u64]) -> (f64, usize) {
    sketch_containment_from(a, b, 0.0)
}

/// Estimated containment of the smaller 3-gram set behind two sketches in
/// the larger one, with the number of sampled 3-grams it rests on; the
/// share is exact where it is at least `floor`, and below it some share
/// below `floor` (the merge stops once too many of the smaller sample's
/// hashes missed). The sample size is always exact.
///
/// Both sketches hold every hash of their set up to their largest (all of
/// them when a sketch is not full), so below the smaller of the two limits
/// both sets are known exactly: that range is a random sample of each set,
/// and the share of the smaller sample found in the other estimates
/// containment. Robust to page chrome that only one side has, where
/// Jaccard falls with every added line.
pub fn sketch_containment_from(a: &[u64], b: &[u64], floor: f64) -> (f64, usize) {
    if !(a.is_sorted_by(|x, y| x < y) && b.is_sorted_by(|x, y| x < y)) {
        return (0.0, 0);
    }
    let limit = |s: &[u64]| if s.len() < SKETCH { u64::MAX } else { s.last().copied().unwrap_or(u64::MAX) };
    let tau = limit(a).min(limit(b));
    let below = |s: &[u64]| s.partition_point(|h| *h <= tau);
    let (na, nb) = (below(a), below(b));
    let (small, large) = if na <= nb { (&a[..na], &b[..nb]) } else { (&b[..nb], &a[..na]) };
    if small.is_empty() {
        return (0.0, 0);
    }
    // Both strictly ascending: one merge pass counts the shared hashes.
    let most = most_misses(small.len(), floor);
    let (mut i, mut j, mut both) = (0, 0, 0usize);
    while i < small.len() && j < large.len() {
        let (x, y) = (small[i], large[j]);
        both += usize::from(x == y);
        i += usize::from(x <= y);
        j += usize::from(x >= y);
        // The smaller sample's hashes passed, less those found.
        if i - both > most {
            return (0.0, small.len());
        }
    }
    (both as f64 / small.len() as f64, small.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercase_is_str_to_lowercase_and_borrows_only_what_it_keeps() {
        // Every character, alone and after a letter (a final capital sigma
        // lower-cases by its position).
        for c in (0..=char::MAX as u32).filter_map(char::from_u32) {
            for w in [c.to_string(), format!("a{c}")] {
                let l = lowercase(&w);
                assert_eq!(l, w.to_lowercase(), "{c:?}");
                assert_eq!(matches!(l, Cow::Borrowed(_)), w.to_lowercase() == w, "{c:?}");
            }
        }
        for w in ["pörssi", "Borgå", "ΟΔΟΣ", "οδος", "ǅemal", "İstanbul", "straẞe", "één", "ﬁn"] {
            let l = lowercase(w);
            assert_eq!(l, w.to_lowercase(), "{w}");
            assert_eq!(matches!(l, Cow::Borrowed(_)), w.to_lowercase() == w, "{w}");
        }
        assert!(matches!(lowercase("pörssi"), Cow::Borrowed(_)));
        assert!(matches!(lowercase("Pörssi"), Cow::Owned(_)));
    }

    /// Features as `features` makes them, from random sorted vectors: ids
    /// near both ends of `u32` and in a small shared range, paragraphs
    /// naming concepts the document's vector does not keep.
    fn random_features(next: &mut impl FnMut(u64) -> u64) -> Features {
        fn vector(next: &mut impl FnMut(u64) -> u64, len: u64) -> SparseVec {
            let weights: std::collections::HashMap<u32, f64> = (0..len)
                .map(|_| {
                    let id = match next(5) {
                        0 => u32::MAX - next(4) as u32,
                        1 => next(4) as u32,
                        2 => next(300) as u32,
                        _ => next(u64::from(u32::MAX)) as u32,
                    };
                    (id, 1.0 + next(7) as f64)
                })
                .collect();
            SparseVec::from_pairs(weights.into_iter(), 200)
        }
        let len = next(250);
        let doc = vector(next, len);
        // Nine in ten paragraph concepts among the document's, as in real text.
        let ids: Vec<u32> = doc.iter().map(|c| c.0).collect();
        let paragraphs: Vec<SparseVec> = (0..next(12))
            .map(|_| {
                let len = next(40);
                let mut p: std::collections::HashMap<u32, f64> = vector(next, len).iter().collect();
                if !ids.is_empty() {
                    for _ in 0..len * 9 {
                        p.insert(ids[next(ids.len() as u64) as usize], 1.0 + next(7) as f64);
                    }
                }
                SparseVec::from_pairs(p.into_iter(), 32)
            })
            .collect();
        let mut sketch: Vec<u64> =
            (0..next(140)).map(|_| if next(3) == 0 { u64::MAX - next(3) } else { next(u64::MAX) }).collect();
        sketch.sort_unstable();
        sketch.dedup();
        let mut f = Features { sketch, source_id: next(1000) as i64, ..Features::default() };
        f.content.concepts = doc;
        f.content.paragraph_concepts = paragraphs.into();
        f
    }

    #[test]
    fn packed_features_read_back_exactly_and_smaller() {
        let mut next = crate::dedup::test_numbers(23);
        let (mut packed, mut plain) = (0, 0);
        for round in 0..400 {
            let mut f = random_features(&mut next);
            let stored = f.encode();
            assert_eq!(stored[0], FORMAT_PACKED, "round {round}");
            assert_eq!(Features::decode(&stored), Some(f.clone()), "round {round}");
            packed += stored.len();
            plain += 1 + postcard::to_allocvec(&f).unwrap().len();
            // Damaged rows are not misread and do not panic.
            for cut in [1, stored.len() / 3, stored.len() - 1] {
                let _ = Features::decode(&stored[..cut]);
            }
            let mut flipped = stored.clone();
            let at = 1 + next(stored.len() as u64 - 1) as usize;
            flipped[at] ^= 1 << next(8);
            if let Some(g) = Features::decode(&flipped) {
                assert!(g.content.concepts.iter().zip(g.content.concepts.iter().skip(1)).all(|(a, b)| a.0 < b.0));
            }
        }
        assert!(packed * 10 < plain * 9, "packed {packed} bytes against {plain}");
        // Rows in the plain form stay readable.
        let f = random_features(&mut next);
        let mut old = vec![FORMAT];
        old.extend(postcard::to_allocvec(&f).unwrap());
        assert_eq!(Features::decode(&old), Some(f));
    }

    #[test]
    fn stored_features_read_back_binary_and_json() {
        let lex = crate::dedup::content::Lexicon::parse("fi\tkaupunki\tcity:1.0\n", "t");
        let mut f = Features {
            lang: Some("fi".into()),
            published: "2026-11-20T10:00:00Z".parse().unwrap(),
            source_id: 7,
            url_key: Some("porvoo.fi/uutiset/a".into()),
            id_keys: vec!["cms:2291045".into()],
            pattern_ids: vec!["pid:porvoo:12".into()],
            sketch: vec![1, u64::MAX, 42],
            content: crate::dedup::content::content_features_with(
                &lex,
                "fi",
                "Kaupunki 2027",
                "Kaupunki Porvoo kertoo 1 250 000 euroa.",
            ),
            ..Features::default()
        };
        assert!(!f.content.concepts.is_empty(), "the test covers concept vectors");
        // A sketch out of order is not packed: stored as it is.
        let stored = f.encode();
        assert_eq!(stored[0], FORMAT);
        assert_eq!(Features::decode(&stored), Some(f.clone()));
        // Rows written before the binary form are JSON.
        assert_eq!(Features::decode(serde_json::to_string(&f).unwrap().as_bytes()), Some(f.clone()));
        // Another layout is not misread: the entry is left out.
        let mut other = stored.clone();
        other[0] = FORMAT_PACKED + 1;
        assert_eq!(Features::decode(&other), None);
        assert_eq!(Features::decode(&stored[..stored.len() / 2]), None);
    }

    #[test]
    fn id_keys_survive_language_changes() {
        let fi = id_keys(Some("https://www.porvoo.fi/uutiset/-/asset_publisher/2291045/asiantuntijatuki"), None);
        let sv = id_keys(Some("https://www.borga.fi/nyheter/-/asset_publisher/2291045/expertstod"), None);
        assert!(fi.contains(&"cms:2291045".to_string()) && sv.contains(&"cms:2291045".to_string()));
        let a = id_keys(Some("https://site.example/fi/news/budget-2027?lang=fi"), None);
        let b = id_keys(Some("https://site.example/sv/news/budget-2027?lang=sv"), None);
        assert!(a.iter().any(|k| b.contains(k) && k.starts_with("url:")), "{a:?} {b:?}");
        assert!(id_keys(None, Some("1234 at https://drupal.example")).contains(&"cms:1234".to_string()));
        assert!(id_keys(Some("https://example.org/posts/hello"), None).is_empty());
        // Archive paths: years, months and dates are shared by every post of a period.
        for url in [
            "https://a.example/media/2008/10/otsikko",
            "https://a.example/news/200810/x",
            "https://a.example/20081022/x",
        ] {
            assert!(id_keys(Some(url), None).is_empty(), "{url}");
        }
        assert_eq!(id_keys(Some("https://a.example/news/2008/1410877/x"), None), vec!["cms:1410877".to_string()]);
    }

    #[test]
    fn pattern_ids_use_the_named_or_first_group() {
        let first = regex::Regex::new(r"/news/(\d+)-").unwrap();
        let named = regex::Regex::new(r"(?:x)?item=(?<id>[a-z0-9]+)").unwrap();
        let ids = pattern_ids(&first, "g", Some("https://a.example/fi/news/42-otsikko"), Some("tag:a,42"));
        assert_eq!(ids, vec!["pid:g:42".to_string()]);
        let ids = pattern_ids(&named, "s", None, Some("urn:x?item=ab12"));
        assert_eq!(ids, vec!["pid:s:ab12".to_string()]);
        assert!(pattern_ids(&first, "g", Some("https://a.example/about"), None).is_empty());
        let long = format!("https://a.example/news/1-{}", "x".repeat(5000));
        assert!(pattern_ids(&first, "g", Some(&long), None).is_empty());
    }

    #[test]
    fn sketches_find_near_duplicates() {
        let a = sketch("The city council decided on Monday that the new bridge will be built next year in the centre");
        let b = sketch("The city council decided on Monday that the new bridge will be built next year in the centre.");
        let c = sketch("Completely different text about library opening hours during the winter holidays this year");
        assert!(sketch_similarity(&a, &b) > 0.95);
        assert!(sketch_similarity(&a, &c) < 0.05);
        let general = |a: &[u64], b: &[u64]| {
            let mut u: Vec<u64> = a.iter().chain(b).copied().collect();
            u.sort_unstable();
            u.dedup();
            u.truncate(SKETCH.min(a.len().max(b.len())));
            u.iter().filter(|h| a.binary_search(h).is_ok() && b.binary_search(h).is_ok()).count() as f64
                / u.len() as f64
        };
        for (x, y) in [(&a, &b), (&a, &c), (&b, &c), (&c, &a)] {
            assert_eq!(sketch_similarity(x, y), general(x, y));
        }
        assert_eq!(fold_url("https://www.Example.org/a/b/").as_deref(), Some("example.org/a/b"));
    }

    /// A floor changes no estimate that reaches it, and leaves every other
    /// one below it.
    #[test]
    fn sketch_estimates_with_a_floor_are_exact_at_or_above_it_and_below_it_otherwise() {
        let mut next = crate::dedup::test_numbers(11);
        let (mut stopped, mut reached) = (0, 0);
        for round in 0..3000 {
            // A sketch, and another made from it with some hashes dropped
            // and others added: from near copies to unrelated texts.
            let range = [1_000, 100_000][round % 2];
            let len = next(SKETCH as u64 + 40) as usize;
            let mut a: Vec<u64> = (0..len).map(|_| next(range)).collect();
            let mut b: Vec<u64> = a.iter().copied().filter(|_| next(100) >= (round % 60) as u64).collect();
            b.extend((0..next(1 + (round % 50) as u64)).map(|_| next(range)));
            for s in [&mut a, &mut b] {
                s.sort_unstable();
                s.dedup();
                s.truncate(SKETCH);
            }
            for floor in [0.3, 0.5, 0.7, 0.85, 0.9] {
                let exact = sketch_similarity(&a, &b);
                let from = sketch_similarity_from(&a, &b, floor);
                if exact >= floor {
                    reached += 1;
                    assert_eq!(from.to_bits(), exact.to_bits(), "round {round}, floor {floor}");
                } else {
                    stopped += usize::from(from != exact);
                    assert!(from < floor, "round {round}, floor {floor}: {from} for {exact}");
                }
                let (contained, sample) = sketch_containment(&a, &b);
                let (from, from_sample) = sketch_containment_from(&a, &b, floor);
                assert_eq!(from_sample, sample, "round {round}");
                if contained >= floor {
                    assert_eq!(from.to_bits(), contained.to_bits(), "round {round}, floor {floor}");
                } else {
                    assert!(from < floor, "round {round}, floor {floor}: {from} for {contained}");
                }
            }
        }
        // Both sides of every floor were met, and merges did stop early.
        assert!(reached > 1000 && stopped > 1000, "{reached} reached, {stopped} stopped");
    }

    /// The merges count what sorting and searching the sets would count,
    /// for sketches of every length up to full, sharing few or many hashes.
    #[test]
    fn sketch_merges_count_as_the_sets_do() {
        let mut next = crate::dedup::test_numbers(5);
        let mut sketch_of = |range: u64| {
            let len = next(SKETCH as u64 + 40) as usize;
            let mut s: Vec<u64> = (0..len).map(|_| next(range)).collect();
            s.sort_unstable();
            s.dedup();
            s.truncate(SKETCH);
            s
        };
        for round in 0..2000 {
            let range = [150, 400, 5000][round % 3];
            let (a, b) = (sketch_of(range), sketch_of(range));
            let mut union: Vec<u64> = a.iter().chain(&b).copied().collect();
            union.sort_unstable();
            union.dedup();
            union.truncate(SKETCH.min(a.len().max(b.len())));
            let both = union.iter().filter(|h| a.binary_search(h).is_ok() && b.binary_search(h).is_ok()).count();
            let jaccard = if union.is_empty() { 0.0 } else { both as f64 / union.len() as f64 };
            assert_eq!(sketch_similarity(&a, &b).to_bits(), jaccard.to_bits(), "round {round}: {a:?} {b:?}");
            let limit = |s: &[u64]| if s.len() < SKETCH { u64::MAX } else { *s.last().unwrap() };
            let tau = limit(&a).min(limit(&b));
            let (sa, sb): (Vec<u64>, Vec<u64>) =
                (a.iter().copied().filter(|h| *h <= tau).collect(), b.iter().copied().filter(|h| *h <= tau).collect());
            let (small, large) = if sa.len() <= sb.len() { (&sa, &sb) } else { (&sb, &sa) };
            let shared = small.iter().filter(|h| large.binary_search(h).is_ok()).count();
            let expected = if small.is_empty() { (0.0, 0) } else { (shared as f64 / small.len() as f64, small.len()) };
            let (contained, sample) = sketch_containment(&a, &b);
            assert_eq!((contained.to_bits(), sample), (expected.0.to_bits(), expected.1), "round {round}");
        }
    }

    /// Sketches are stored: a sketch made now must be the one earlier
    /// versions stored for the same text (words lower-cased one by one,
    /// each 3-gram joined by spaces and hashed with 64-bit FNV-1a).
    #[test]
    fn sketches_are_the_ones_earlier_versions_stored() {
        let reference = |text: &str| {
            let fnv = |s: &str| {
                s.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
            };
            let words: Vec<String> =
                text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_lowercase).collect();
            let mut h: Vec<u64> = words.windows(3).map(|w| fnv(&w.join(" "))).collect();
            if h.is_empty() && !words.is_empty() {
                h.push(fnv(&words.join(" ")));
            }
            h.sort_unstable();
            h.dedup();
            h.truncate(SKETCH);
            h
        };
        let long: String = (0..400).map(|i| format!("Sana{} ", i % 170)).collect();
        for text in [
            "",
            "one",
            "Two Words",
            "Porvoo / Borgå: KAUPUNGINVALTUUSTO päätti 1 200,5 euron avustuksesta",
            "İstanbul ǅemal ΣΊΣΥΦΟΣ straße ÅÄÖ åäö, DŽ, ǈ",
            long.as_str(),
        ] {
            assert_eq!(sketch(text), reference(text), "{text}");
        }
        assert_eq!(sketch("a b c"), vec![0x69cf_4808_85ad_45af]);
    }
}
