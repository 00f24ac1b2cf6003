//! The assignment decision for one new entry against its candidates: a
//! same-language duplicate of a stored version, a new language version of a
//! stored story, or a story of its own. Pure and deterministic; every
//! decision carries the signals that made it, with their scores.

use serde::{Deserialize, Serialize};

use super::content::{content_score, content_similarity};
use super::features::{Features, sketch_containment_from, sketch_similarity_from};

/// Cross-language content score needed to join a story without structural
/// evidence (explicit links, shared ids). Chosen on one half of each
/// development corpus (GNOME Help, seed 1; news releases, by publisher) and
/// confirmed on the other half: see BENCHMARKS.md, "Story merging".
pub const CONTENT_THRESHOLD: f64 = 0.14;
/// Content evidence never scores as high as structural evidence.
const CONTENT_CAP: f64 = 0.9;
/// Score of a shared `id_pattern` id (the same class as shared CMS ids).
pub const PATTERN_SCORE: f64 = 0.95;
/// Same-language near-duplicate: estimated 3-gram Jaccard.
pub const DUPLICATE_THRESHOLD: f64 = 0.85;
/// Same-language republication: estimated share of the shorter text's
/// 3-grams found in the other (page chrome on one side, a summary against
/// the full text, both at once). News rewrites of a release reach 0.44 on
/// news-dev, one company's reports from one template 0.73 (with other
/// figures: see [`numbers_contained`]).
pub const CONTAINMENT_THRESHOLD: f64 = 0.7;
/// Fewest sampled 3-grams a containment estimate is trusted on (about 25
/// words of the shorter text).
const CONTAINMENT_SAMPLE: usize = 24;
/// Two stories a new version matches both merge only when a member of one
/// and a member of the other already score this share of the threshold
/// (see `stories_resemble`).
const LINK_RESEMBLANCE: f64 = 0.5;
/// How much better a new version must match a two-version story's other
/// version than the story's version in its language does, to take its
/// place (see `displacement`).
const DISPLACE_RATIO: f64 = 1.5;
/// Entries further apart than this are never versions of one post by
/// content alone.
pub const WINDOW_DAYS: i64 = 7;

/// One signal with its score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signal {
    /// What was compared.
    pub name: String,
    /// Its score, 0..1.
    pub score: f64,
}

/// Why two entries were judged one story (or not).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// The combined score.
    pub score: f64,
    /// The signals behind it.
    pub signals: Vec<Signal>,
}

/// A stored entry that could belong to the new entry's story.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Its row id.
    pub entry_id: i64,
    /// Its story (shared: the candidates of one story, and the window
    /// they come from, hold one copy).
    pub story_id: std::sync::Arc<str>,
    /// Languages its story already has (primary subtags).
    pub story_langs: std::sync::Arc<[String]>,
    /// Its features.
    pub features: std::sync::Arc<Features>,
}

/// What to do with a new entry.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// A story of its own.
    New,
    /// A same-language copy of `of_entry`, in its story.
    Duplicate {
        /// The story.
        story_id: String,
        /// The stored entry it copies.
        of_entry: i64,
        /// Why.
        evidence: Evidence,
    },
    /// A new language version of a story.
    Version {
        /// The story.
        story_id: String,
        /// The stored entry that matched best.
        matched: i64,
        /// Why.
        evidence: Evidence,
        /// Other stories this version also matches above the threshold
        /// (each of their members among the candidates), whose languages
        /// the story lacks: versions of one post that began apart (two of
        /// them met before the third, which matches both). The caller
        /// merges them into `story_id`.
        links: Vec<Link>,
        /// A member of `story_id` in this version's language that matched
        /// the story far worse: it leaves the story (with its duplicates)
        /// before this version joins.
        displaces: Option<i64>,
    },
}

/// Another story a new version also matches (see [`Decision::Version`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Link {
    /// The other story.
    pub story_id: String,
    /// Its entry that matched.
    pub entry: i64,
    /// The score of that match.
    pub score: f64,
}

fn sig(name: &str, score: f64) -> Signal {
    Signal { name: name.to_string(), score }
}

fn same_lang(a: &Features, b: &Features) -> bool {
    a.lang.is_some() && a.lang == b.lang
}

/// Same publisher: one group, or one host.
fn same_publisher(a: &Features, b: &Features) -> bool {
    (a.group.is_some() && a.group == b.group) || (a.host.is_some() && a.host == b.host)
}

/// Scores a same-language pair as duplicates.
pub fn duplicate_evidence(new: &Features, old: &Features) -> Option<Evidence> {
    if !same_lang(new, old) && new.lang.is_some() && old.lang.is_some() {
        return None;
    }
    if new.url_key.is_some() && new.url_key == old.url_key {
        return Some(Evidence { score: 1.0, signals: vec![sig("same canonical URL", 1.0)] });
    }
    if new.guid.is_some() && new.guid == old.guid && same_publisher(new, old) {
        return Some(Evidence { score: 1.0, signals: vec![sig("same guid, same publisher", 1.0)] });
    }
    let days = (new.published - old.published).num_days().abs();
    if days > 3 {
        return None;
    }
    let sim = sketch_similarity_from(&new.sketch, &old.sketch, DUPLICATE_THRESHOLD);
    if sim >= DUPLICATE_THRESHOLD {
        return Some(Evidence { score: sim, signals: vec![sig("near-identical text (3-gram Jaccard)", sim)] });
    }
    if new.source_id == old.source_id || same_publisher(new, old) {
        // A republication is on another site. One publisher's pages that
        // share text (an abstract and its page, a post quoting an earlier
        // one) are posts of their own.
        return None;
    }
    let (contained, sample) = sketch_containment_from(&new.sketch, &old.sketch, CONTAINMENT_THRESHOLD);
    (sample >= CONTAINMENT_SAMPLE && contained >= CONTAINMENT_THRESHOLD && numbers_contained(new, old)).then(|| {
        Evidence { score: contained, signals: vec![sig("text contained in the other (3-gram containment)", contained)] }
    })
}

/// At least 80 % of the shorter text's numbers are in the longer one: a
/// republication keeps every figure (its page may add a few: a copyright
/// year, a related headline's), a release from the same template changes
/// them.
fn numbers_contained(a: &Features, b: &Features) -> bool {
    let (short, long) = if a.content.chars <= b.content.chars { (a, b) } else { (b, a) };
    let nums = &short.content.numbers;
    let missing = nums.iter().filter(|n| !long.content.numbers.contains(*n)).count();
    missing * 5 <= nums.len()
}

/// Scores a cross-language pair as versions of one post.
pub fn version_evidence(new: &Features, old: &Features) -> Evidence {
    version_scored(new, old, &[], true, 0.0, None)
}

/// [`version_evidence`]; without `explain` only the score is filled in (the
/// same score: signals are only left out, which saves their allocations for
/// the many candidates that lose), and it is exact only at or above
/// `floor`: below, it is some score below `floor` too (work that cannot
/// change the verdict is skipped).
/// Ids in `not_ids` are not compared (see [`shared_not_post_ids`]).
/// `known` is the content part at `floor` worked out beforehand
/// (`Pair::content` of the same pair and floor), if it was.
fn version_scored(
    new: &Features,
    old: &Features,
    not_ids: &[&str],
    explain: bool,
    floor: f64,
    known: Option<f64>,
) -> Evidence {
    let mut signals = Vec::new();
    let mut note = |name: &str, score: f64| {
        if explain {
            signals.push(sig(name, score));
        }
    };
    let explicit = new.url_key.as_ref().is_some_and(|u| old.alternates.contains(u))
        || old.url_key.as_ref().is_some_and(|u| new.alternates.contains(u));
    if explicit {
        note("hreflang alternate link", 1.0);
        return Evidence { score: 1.0, signals };
    }
    if let Some(k) = new.pattern_ids.iter().find(|k| old.pattern_ids.contains(k)) {
        note(&format!("same id_pattern id ({})", k.trim_start_matches("pid:")), PATTERN_SCORE);
        return Evidence { score: PATTERN_SCORE, signals };
    }
    let shared_id = new.id_keys.iter().find(|k| old.id_keys.contains(k) && !not_ids.contains(&k.as_str()));
    if let Some(k) = shared_id.filter(|_| same_publisher(new, old)) {
        note(&format!("shared id {k}, same publisher"), 0.95);
        return Evidence { score: 0.95, signals };
    }
    let Some(pair) = Pair::of(new, old) else {
        note("published too far apart", 0.0);
        return Evidence { score: 0.0, signals };
    };
    let content = if explain {
        let (content, parts) = content_similarity(&new.content, &old.content);
        parts.into_iter().for_each(|(n, s)| note(n, s));
        content
    } else {
        known.unwrap_or_else(|| pair.content(new, old, floor))
    };
    note("content", content);
    if pair.date < 1.0 {
        note("published more than 3 days apart", pair.date);
    }
    if pair.boost {
        note("same publisher within 2 days (x1.1)", 1.1);
    }
    Evidence { score: pair.finish(content), signals }
}

/// What the dates and publishers of two entries do to their content score.
struct Pair {
    /// [`date_factor`].
    date: f64,
    /// Same publisher within two days.
    boost: bool,
}

impl Pair {
    /// None: published too far apart to be versions by content.
    fn of(new: &Features, old: &Features) -> Option<Pair> {
        let hours = (new.published - old.published).num_minutes().abs() as f64 / 60.0;
        if hours > (WINDOW_DAYS * 24) as f64 {
            return None;
        }
        Some(Pair { date: date_factor(hours), boost: same_publisher(new, old) && hours <= 48.0 })
    }

    /// The score from the content score.
    fn finish(&self, content: f64) -> f64 {
        let mut score = content * self.date;
        if self.boost {
            score *= 1.1;
        }
        score.min(CONTENT_CAP)
    }

    /// The content score, exact where the finished score reaches `floor`.
    fn content(&self, new: &Features, old: &Features, floor: f64) -> f64 {
        content_score(&new.content, &old.content, |c| self.finish(c) >= floor)
    }
}

/// Full weight within 3 days, then down to 0.5 at the window's end.
fn date_factor(hours: f64) -> f64 {
    let window = (WINDOW_DAYS * 24) as f64;
    if hours <= 72.0 { 1.0 } else { 1.0 - 0.5 * (hours - 72.0) / (window - 72.0) }
}

/// Decides where a new entry belongs. Candidates are considered in a
/// deterministic order (best score, then lowest entry id).
pub fn decide(new: &Features, candidates: &[Candidate]) -> Decision {
    decide_with(new, candidates, CONTENT_THRESHOLD)
}

/// [`decide`] with another content threshold (for calibration: `eval-dedup --threshold`).
pub fn decide_with(new: &Features, candidates: &[Candidate], content_threshold: f64) -> Decision {
    decide_prescored(new, candidates, content_threshold, &Prescored::default())
}

/// [`decide_with`], taking the scores in `pre` (worked out beforehand for
/// this new entry, at this threshold: [`Prescored::score`]) instead of
/// computing them again. The same decision as without them.
pub fn decide_prescored(new: &Features, candidates: &[Candidate], content_threshold: f64, pre: &Prescored) -> Decision {
    // Scores worked out at another threshold are not these.
    let empty = Prescored::default();
    let pre = if pre.floor == content_threshold { pre } else { &empty };
    let mut best_dup: Option<(&Candidate, Evidence)> = None;
    for c in candidates.iter().filter(|c| same_lang(new, &c.features) || new.lang.is_none()) {
        let ev = match pre.get(c.entry_id) {
            Some(Prescore::Duplicate(ev)) => {
                #[cfg(test)]
                if pre.checked {
                    assert_eq!(ev, &duplicate_evidence(new, &c.features), "held duplicate evidence");
                }
                ev.clone()
            }
            _ => duplicate_evidence(new, &c.features),
        };
        if let Some(ev) = ev
            && better(&ev, c, best_dup.as_ref())
        {
            best_dup = Some((c, ev));
        }
    }
    if let Some((c, evidence)) = best_dup {
        return Decision::Duplicate { story_id: c.story_id.to_string(), of_entry: c.entry_id, evidence };
    }
    let Some(lang) = new.lang.as_ref() else { return Decision::New };
    let not_ids = shared_not_post_ids(new, candidates);
    let mut over: Vec<(&Candidate, Evidence)> = Vec::new();
    let mut under: Vec<&str> = Vec::new(); // stories with a member below the threshold
    for c in candidates {
        let other_lang = c.features.lang.as_ref().is_some_and(|l| l != lang);
        if !other_lang || c.story_langs.contains(lang) {
            continue; // one version per language in a story
        }
        let ev = version_scored(new, &c.features, &not_ids, false, content_threshold, pre.content(c.entry_id));
        #[cfg(test)]
        pre.check(c.entry_id, ev.score, || version_scored(new, &c.features, &not_ids, false, content_threshold, None));
        if ev.score >= content_threshold {
            over.push((c, ev));
        } else {
            under.push(&c.story_id);
        }
    }
    // Best first; at one score, the lowest entry id.
    over.sort_by(|(a, x), (b, y)| y.score.total_cmp(&x.score).then(a.entry_id.cmp(&b.entry_id)));
    let best_score = over.first().map(|(_, ev)| ev.score);
    if let Some((e, c)) = displacement(new, candidates, &not_ids, lang, best_score, content_threshold, pre) {
        let evidence = version_scored(new, &e.features, &not_ids, true, 0.0, None);
        return Decision::Version {
            story_id: e.story_id.to_string(),
            matched: e.entry_id,
            evidence,
            links: Vec::new(),
            displaces: Some(c),
        };
    }
    let Some((best, _)) = over.first() else { return Decision::New };
    let evidence = version_scored(new, &best.features, &not_ids, true, 0.0, None);
    let mut langs: Vec<&str> = best.story_langs.iter().map(String::as_str).chain([lang.as_str()]).collect();
    let mut links: Vec<Link> = Vec::new();
    for (c, ev) in &over[1..] {
        let story = &*c.story_id;
        if story == &*best.story_id || links.iter().any(|l| l.story_id == story) {
            continue; // a story links once, by its best match
        }
        if under.contains(&story) {
            continue; // the new version is no match for each version there
        }
        if !stories_resemble(candidates, &best.story_id, story, &not_ids, content_threshold * LINK_RESEMBLANCE) {
            continue; // alike only through the new version: a bridge, not a story
        }
        if c.story_langs.iter().any(|l| langs.contains(&l.as_str())) {
            continue; // one version per language in the merged story
        }
        langs.extend(c.story_langs.iter().map(String::as_str));
        links.push(Link { story_id: story.to_string(), entry: c.entry_id, score: ev.score });
    }
    Decision::Version { story_id: best.story_id.to_string(), matched: best.entry_id, evidence, links, displaces: None }
}

/// A story of two versions that holds one in the new entry's language,
/// whose other version the new entry matches far better (by
/// [`DISPLACE_RATIO`]) than that version matches the one in the new
/// entry's language, and better than any story it could join: (the other
/// version, the entry it displaces). Assignment is greedy, in publication
/// order: a post's version that came first may have joined a look-alike
/// (another help page of one panel, another release of the week) before
/// its true partner arrived; the pair was the weaker match, and it parts.
fn displacement<'a>(
    new: &Features,
    candidates: &'a [Candidate],
    not_ids: &[&str],
    lang: &str,
    best_allowed: Option<f64>,
    threshold: f64,
    pre: &Prescored,
) -> Option<(&'a Candidate, i64)> {
    let mut best: Option<(&Candidate, f64)> = None;
    for e in candidates {
        let pair = e.story_langs.len() == 2 && e.story_langs.iter().any(|l| l == lang);
        if !pair || e.features.lang.as_deref().is_none_or(|l| l == lang) {
            continue;
        }
        let score = version_scored(new, &e.features, not_ids, false, threshold, pre.content(e.entry_id)).score;
        #[cfg(test)]
        pre.check(e.entry_id, score, || version_scored(new, &e.features, not_ids, false, threshold, None));
        let wins = best.is_none_or(|(b, s)| score > s || (score == s && e.entry_id < b.entry_id));
        if score >= threshold && best_allowed.is_none_or(|a| score > a) && wins {
            best = Some((e, score));
        }
    }
    let (e, score) = best?;
    // The version (or duplicate) in the new entry's language it would part from.
    let mut held: Option<(i64, f64)> = None;
    for c in candidates.iter().filter(|c| c.story_id == e.story_id && c.features.lang.as_deref() == Some(lang)) {
        let s = version_scored(&c.features, &e.features, not_ids, false, 0.0, None).score;
        if held.is_none_or(|(_, h)| s > h) {
            held = Some((c.entry_id, s));
        }
    }
    let (c, held) = held?;
    (score >= DISPLACE_RATIO * held).then_some((e, c))
}

/// Whether some member of story `a` and some member of story `b` (among
/// the candidates, in different languages) score at least `floor` as
/// versions of each other. Versions of one post that began apart were
/// near the threshold already (the new version only tips them over);
/// two posts that a new entry matches each on its own side share little.
fn stories_resemble(candidates: &[Candidate], a: &str, b: &str, not_ids: &[&str], floor: f64) -> bool {
    let of = |s: &str| -> Vec<&Candidate> {
        candidates.iter().filter(|c| &*c.story_id == s && c.features.lang.is_some()).collect()
    };
    let (xs, ys) = (of(a), of(b));
    xs.iter().any(|x| {
        ys.iter().any(|y| {
            x.features.lang != y.features.lang
                && version_scored(&x.features, &y.features, not_ids, false, floor, None).score >= floor
        })
    })
}

/// The new entry's language-neutral ids that are not a post's id: an id
/// that another post of the same language and publisher carries too (the
/// new entry is no duplicate of its candidates by now: a same-language
/// candidate with the id is another post), or that two posts of one
/// language in different stories of that publisher carry. Learned per
/// publisher from what is stored: a section, category or portlet number
/// that many posts share stops joining them as soon as two posts of one
/// language show it. (A same-language republication that is not judged a
/// duplicate, a new slug or a summary against the full text, also switches
/// the id off: `id_pattern` is the way to insist.) The candidates are the
/// stored entries sharing a key, as the store finds them (up to 50 a key,
/// at any date).
fn shared_not_post_ids<'a>(new: &'a Features, candidates: &[Candidate]) -> Vec<&'a str> {
    let mut out = Vec::new();
    for k in &new.id_keys {
        let carriers: Vec<&Candidate> =
            candidates.iter().filter(|c| c.features.id_keys.contains(k) && same_publisher(new, &c.features)).collect();
        let clash = carriers.iter().enumerate().any(|(i, x)| {
            x.features.lang.is_some() && x.features.lang == new.lang
                || carriers[i + 1..].iter().any(|y| {
                    y.features.lang.is_some() && y.features.lang == x.features.lang && y.story_id != x.story_id
                })
        });
        if clash {
            out.push(k.as_str());
        }
    }
    out
}

/// What one new entry scores against stored entries, worked out before its
/// decision (assignment does it on another core, while the decisions
/// before this one are made): the parts of [`decide`] that depend on the
/// two entries' features alone, which are most of its work. The stories
/// of the candidates, which earlier decisions change, are not in it.
#[derive(Debug, Clone, Default)]
pub struct Prescored {
    /// The content threshold the scores were worked out at.
    floor: f64,
    /// By stored entry id, sorted.
    scores: Vec<(i64, Prescore)>,
    /// Scores made by [`Prescored::score`], checked against the scores
    /// themselves where used (unit tests only; their forged ones are not).
    #[cfg(test)]
    checked: bool,
}

/// One pair's score, as [`decide_prescored`] would compute it.
#[derive(Debug, Clone)]
enum Prescore {
    /// Same language (or the new entry's is unknown): [`duplicate_evidence`].
    Duplicate(Option<Evidence>),
    /// Two languages, within the window: the content part of the version
    /// score, exact where the version score reaches the threshold.
    Content(f64),
}

impl Prescored {
    /// Scores `new` against each of `olds` (stored entry id, features) as
    /// [`decide_prescored`] at `content_threshold` would.
    pub fn score<'a>(
        new: &Features,
        olds: impl IntoIterator<Item = (i64, &'a Features)>,
        content_threshold: f64,
    ) -> Prescored {
        let mut scores = Vec::new();
        for (id, old) in olds {
            if same_lang(new, old) || new.lang.is_none() {
                scores.push((id, Prescore::Duplicate(duplicate_evidence(new, old))));
            } else if old.lang.is_some()
                && let Some(pair) = Pair::of(new, old)
            {
                scores.push((id, Prescore::Content(pair.content(new, old, content_threshold))));
            }
        }
        scores.sort_unstable_by_key(|(id, _)| *id);
        scores.dedup_by_key(|(id, _)| *id);
        Prescored {
            floor: content_threshold,
            scores,
            #[cfg(test)]
            checked: true,
        }
    }

    /// How many pairs it holds.
    pub fn len(&self) -> usize {
        self.scores.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// Whether it holds the score against stored entry `id`.
    pub fn has(&self, id: i64) -> bool {
        self.get(id).is_some()
    }

    fn get(&self, id: i64) -> Option<&Prescore> {
        self.scores.binary_search_by_key(&id, |(i, _)| *i).ok().map(|i| &self.scores[i].1)
    }

    /// Unit tests: a version score made with the held content part is the
    /// score made without it (forged scores are not checked).
    #[cfg(test)]
    fn check(&self, id: i64, score: f64, computed: impl FnOnce() -> Evidence) {
        if self.checked && self.content(id).is_some() {
            assert_eq!(score.to_bits(), computed().score.to_bits(), "held content score of entry {id}");
        }
    }

    fn content(&self, id: i64) -> Option<f64> {
        match self.get(id) {
            Some(Prescore::Content(c)) => Some(*c),
            _ => None,
        }
    }
}

fn better(ev: &Evidence, c: &Candidate, current: Option<&(&Candidate, Evidence)>) -> bool {
    match current {
        None => true,
        Some((cur, cur_ev)) => ev.score > cur_ev.score || (ev.score == cur_ev.score && c.entry_id < cur.entry_id),
    }
}

#[cfg(test)]
mod tests {
    use super::super::features::{sketch_containment, sketch_similarity};
    use super::*;
    use std::sync::Arc;

    fn post(lang: &str, hour: i64, id: &str) -> Features {
        Features {
            lang: Some(lang.into()),
            published: chrono::DateTime::UNIX_EPOCH + chrono::Duration::hours(hour),
            host: Some("site.example".into()),
            id_keys: vec![format!("cms:{id}")],
            ..Features::default()
        }
    }

    fn candidate(entry_id: i64, story: &str, f: Features) -> Candidate {
        Candidate {
            entry_id,
            story_id: story.into(),
            story_langs: f.lang.iter().cloned().collect(),
            features: Arc::new(f),
        }
    }

    #[test]
    fn an_id_one_post_carries_joins_its_language_versions() {
        let fi = candidate(1, "s1", post("fi", 0, "4410"));
        match decide(&post("sv", 1, "4410"), &[fi]) {
            Decision::Version { story_id, evidence, .. } => {
                assert_eq!(story_id, "s1");
                assert!(evidence.signals[0].name.starts_with("shared id cms:4410"), "{evidence:?}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_id_two_posts_of_one_language_carry_is_not_a_post_id() {
        // Two Finnish posts in two stories share the number: a section, not a post.
        let a = candidate(1, "s1", post("fi", 0, "4410"));
        let b = candidate(2, "s2", post("fi", 2, "4410"));
        assert_eq!(decide(&post("sv", 3, "4410"), &[a.clone(), b]), Decision::New);
        // A new Finnish post with the number: another post of that language has it.
        let sv = candidate(3, "s3", post("sv", 1, "4410"));
        assert_eq!(decide(&post("fi", 3, "4410"), &[a.clone(), sv]), Decision::New);
        // Another publisher's posts with the same number say nothing of this one's.
        let other = |id, story: &str, hour| {
            let mut f = post("fi", hour, "4410");
            f.host = Some("elsewhere.example".into());
            candidate(id, story, f)
        };
        match decide(&post("sv", 3, "4410"), &[a, other(4, "s4", 1), other(5, "s5", 2)]) {
            Decision::Version { story_id, .. } => assert_eq!(story_id, "s1"),
            d => panic!("{d:?}"),
        }
    }

    /// One ferry order, in English and in Danish (one figure fewer): alike
    /// by names and figures only (no word table here), under the threshold.
    const ORDER_EN: &str = "Tervala has signed an agreement with Nordhavn Shipping to deliver hybrid propulsion \
systems for four new ferries. The order is worth approximately 86 million euros and it will be booked in the second \
quarter of 2026. The ferries will operate between Turku and Stockholm from the spring of 2029. Each vessel will \
carry 1,800 passengers and 650 cars, and the hybrid systems cut fuel consumption by 23 percent compared with the \
current fleet. Deliveries start in the autumn of 2027.";
    const ORDER_DA: &str = "Tervala har underskrevet en aftale med Nordhavn Shipping om at levere hybride \
fremdriftssystemer til fire nye færger. Ordren er værd omkring 86 millioner euro og bogføres i andet kvartal 2026. \
Færgerne skal sejle mellem Turku og Stockholm fra foråret 2029. Hvert skib tager 1.800 passagerer og mange biler, og \
systemerne sænker brændstofforbruget med 23 procent. Leveringerne begynder i efteråret 2027.";
    /// Another order of the same company, in Danish.
    const SERVICE_DA: &str = "Tervala har underskrevet en aftale med Nordhavn Shipping om service af to færger. \
Ordren er værd omkring 12 millioner euro og bogføres i tredje kvartal 2026. Skibene sejler mellem Helsinki og Tallinn.";

    /// A post of `site.example` with content read without a word table.
    fn post_with(lang: &str, hour: i64, id: &str, text: &str) -> Features {
        let lex = crate::dedup::content::Lexicon::parse("", "t");
        Features { content: crate::dedup::content::content_features_with(&lex, lang, "", text), ..post(lang, hour, id) }
    }

    /// Scores worked out beforehand are taken as they are, for the pairs
    /// they hold and the threshold they were worked out at; the same
    /// decision as without them.
    #[test]
    fn prescored_scores_stand_in_for_the_pairs_and_threshold_they_hold() {
        let mut en = post_with("en", 0, "7", ORDER_EN);
        en.id_keys.clear();
        let mut da = post_with("da", 1, "8", ORDER_DA);
        da.id_keys.clear();
        let cands = [candidate(1, "s1", en.clone())];
        let pre = Prescored::score(&da, [(1, &en)], CONTENT_THRESHOLD);
        assert_eq!(pre.len(), 1);
        let plain = decide(&da, &cands);
        assert_eq!(plain, Decision::New, "no word table: too little in common");
        assert_eq!(decide_prescored(&da, &cands, CONTENT_THRESHOLD, &pre), plain);
        // A score it holds is used (here a forged one, far above the threshold) ...
        let forged = Prescored { floor: CONTENT_THRESHOLD, scores: vec![(1, Prescore::Content(0.8))], checked: false };
        assert!(matches!(
            decide_prescored(&da, &cands, CONTENT_THRESHOLD, &forged),
            Decision::Version { matched: 1, .. }
        ));
        // ... not one for another entry, nor one worked out at another threshold.
        let other = Prescored { floor: CONTENT_THRESHOLD, scores: vec![(2, Prescore::Content(0.8))], checked: false };
        assert_eq!(decide_prescored(&da, &cands, CONTENT_THRESHOLD, &other), plain);
        let elsewhere = Prescored { floor: 0.5, scores: vec![(1, Prescore::Content(0.8))], checked: false };
        assert_eq!(decide_prescored(&da, &cands, CONTENT_THRESHOLD, &elsewhere), plain);
        // Structural evidence comes before the content part a score stands for.
        let (fi, sv) = (post("fi", 0, "4410"), post("sv", 1, "4410"));
        let zero = Prescored { floor: CONTENT_THRESHOLD, scores: vec![(1, Prescore::Content(0.0))], checked: false };
        let by_id = [candidate(1, "s1", fi)];
        assert!(matches!(
            decide_prescored(&sv, &by_id, CONTENT_THRESHOLD, &zero),
            Decision::Version { matched: 1, .. }
        ));
        // A same-language pair carries its duplicate verdict.
        da.url_key = Some("site.example/da/8".into());
        let copy = Features { source_id: 9, host: Some("copy.example".into()), ..da.clone() };
        let pre = Prescored::score(&copy, [(2, &da)], CONTENT_THRESHOLD);
        let dup = [candidate(2, "s2", da.clone())];
        let verdict = decide_prescored(&copy, &dup, CONTENT_THRESHOLD, &pre);
        assert!(matches!(verdict, Decision::Duplicate { of_entry: 2, .. }), "{verdict:?}");
        assert_eq!(verdict, decide(&copy, &dup));
        let forged =
            Prescored { floor: CONTENT_THRESHOLD, scores: vec![(2, Prescore::Duplicate(None))], checked: false };
        assert_eq!(decide_prescored(&copy, &dup, CONTENT_THRESHOLD, &forged), Decision::New);
    }

    #[test]
    fn a_version_of_two_stories_links_the_one_its_story_can_take() {
        let en = candidate(1, "s1", post_with("en", 0, "7", ORDER_EN));
        let da = candidate(2, "s2", post_with("da", 0, "8", ORDER_DA));
        assert!(version_evidence(&en.features, &da.features).score < CONTENT_THRESHOLD);
        // The English and the Danish version began apart; the Swedish one
        // carries the ids of both.
        let mut sv = post("sv", 1, "7");
        sv.id_keys.push("cms:8".into());
        match decide(&sv, &[en.clone(), da.clone()]) {
            Decision::Version { story_id, matched, links, .. } => {
                assert_eq!((story_id.as_str(), matched), ("s1", 1));
                assert_eq!(links, vec![Link { story_id: "s2".into(), entry: 2, score: 0.95 }]);
            }
            d => panic!("{d:?}"),
        }
        // A story that would hold two versions of one language is not linked.
        let mut da_en = da.clone();
        da_en.story_langs = ["da".to_string(), "en".to_string()].into();
        match decide(&sv, &[en.clone(), da_en]) {
            Decision::Version { story_id, links, .. } => assert_eq!((story_id.as_str(), links), ("s1", vec![])),
            d => panic!("{d:?}"),
        }
        // Nor a story alike only through the new version: another order.
        let other = candidate(3, "s3", post_with("da", 0, "8", SERVICE_DA));
        match decide(&sv, &[en.clone(), other]) {
            Decision::Version { story_id, links, .. } => assert_eq!((story_id.as_str(), links), ("s1", vec![])),
            d => panic!("{d:?}"),
        }
        // Nor a candidate below the threshold.
        let unrelated = candidate(4, "s4", post_with("da", 0, "9", ORDER_DA));
        match decide(&sv, &[en, unrelated]) {
            Decision::Version { links, .. } => assert!(links.is_empty()),
            d => panic!("{d:?}"),
        }
    }

    #[test]
    fn a_far_better_match_takes_the_place_of_a_weak_one() {
        // The Danish page met the English one first, on a weak match; the
        // Danish version proper carries the English page's id.
        let mut e = post_with("en", 0, "7", ORDER_EN);
        e.url_key = Some("site.example/en/7".into());
        let mut weak = post_with("da", 0, "8", ORDER_DA);
        weak.url_key = Some("site.example/da/8".into());
        let held = version_evidence(&weak, &e).score;
        assert!(held > 0.0 && held * DISPLACE_RATIO < PATTERN_SCORE, "{held}");
        let pair = |f: Features, id| Candidate {
            story_langs: ["da".to_string(), "en".to_string()].into(),
            ..candidate(id, "s1", f)
        };
        let da = post("da", 1, "7");
        match decide(&da, &[pair(e.clone(), 1), pair(weak.clone(), 2)]) {
            Decision::Version { story_id, matched, displaces, .. } => {
                assert_eq!((story_id.as_str(), matched, displaces), ("s1", 1, Some(2)));
            }
            d => panic!("{d:?}"),
        }
        // Held by a link, the Danish page stays; the new one has no story to join.
        let mut linked = e.clone();
        linked.alternates = vec!["site.example/da/8".into()];
        assert_eq!(decide(&da, &[pair(linked, 1), pair(weak.clone(), 2)]), Decision::New);
        // A story it can join that it matches as well comes first.
        let mut sv = post_with("sv", 0, "9", ORDER_EN);
        sv.url_key = Some("site.example/sv/9".into());
        let mut da_linking = da.clone();
        da_linking.alternates = vec!["site.example/sv/9".into()];
        match decide(&da_linking, &[pair(e, 1), pair(weak, 2), candidate(3, "s3", sv)]) {
            Decision::Version { story_id, displaces, .. } => assert_eq!((story_id.as_str(), displaces), ("s3", None)),
            d => panic!("{d:?}"),
        }
    }

    const RELEASE: &str = "Tervala has signed an agreement with Nordhavn Shipping to deliver hybrid propulsion \
systems for four new ferries. The order is worth approximately 86 million euros and it will be booked in the \
second quarter of 2026. The ferries will operate between Turku and Stockholm from the spring of 2029. Each \
vessel will carry 1,800 passengers and 650 cars, and the hybrid systems cut fuel consumption by 23 percent \
compared with the current fleet. Deliveries start in the autumn of 2027.";

    fn page(host: &str, source_id: i64, hour: i64, text: &str) -> Features {
        let lex = crate::dedup::content::Lexicon::parse("", "t");
        Features {
            lang: Some("en".into()),
            published: chrono::DateTime::UNIX_EPOCH + chrono::Duration::hours(hour),
            host: Some(host.into()),
            source_id,
            sketch: crate::dedup::features::sketch(text),
            content: crate::dedup::content::content_features_with(&lex, "en", "", text),
            ..Features::default()
        }
    }

    #[test]
    fn a_republication_with_page_chrome_is_a_duplicate_of_the_release() {
        let chrome = "Home Markets Companies Press releases Calendar Subscribe Log in. We use cookies to give \
you the best experience on our website. By continuing to browse you accept our use of cookies. Most read today: \
central bank keeps rates unchanged as inflation slows.";
        let release = candidate(1, "s1", page("tervala.example", 1, 0, RELEASE));
        let republished = page("wire.example", 2, 1, &format!("{chrome} {RELEASE} {chrome}"));
        let jaccard = sketch_similarity(&republished.sketch, &release.features.sketch);
        assert!(jaccard < DUPLICATE_THRESHOLD, "the chrome alone defeats Jaccard: {jaccard}");
        match decide(&republished, std::slice::from_ref(&release)) {
            Decision::Duplicate { story_id, evidence, .. } => {
                assert_eq!(story_id, "s1");
                assert!(evidence.signals[0].name.contains("containment"), "{evidence:?}");
            }
            d => panic!("{d:?}"),
        }
        // The release's own site: a page quoting another page is a page of its own.
        let own = page("tervala.example", 3, 1, &format!("{chrome} {RELEASE} {chrome}"));
        assert_eq!(decide(&own, std::slice::from_ref(&release)), Decision::New);
        // Four days later: not a republication by text alone.
        let late = page("wire.example", 2, 96, &format!("{chrome} {RELEASE}"));
        assert_eq!(decide(&late, &[release]), Decision::New);
    }

    #[test]
    fn the_same_template_with_other_figures_is_another_release() {
        let release = candidate(1, "s1", page("tervala.example", 1, 0, RELEASE));
        let other = RELEASE.replace("86", "41").replace("1,800", "1,200").replace("650", "420").replace("23", "18");
        let republished = page("wire.example", 2, 1, &other);
        let (contained, _) = sketch_containment(&republished.sketch, &release.features.sketch);
        assert!(contained >= CONTAINMENT_THRESHOLD, "most 3-grams are shared: {contained}");
        assert_eq!(decide(&republished, &[release]), Decision::New);
    }
}
