//! Deduplication: which stored story a new entry belongs to. Pure: the
//! store fetches candidates and records decisions; this module only scores
//! and decides.
//!
//! - `features`: identity keys, a MinHash sketch and content features of an entry.
//! - `content`: content that survives translation: numbers, names, length,
//!   and dictionary concepts compared by cosine and paragraph alignment.
//! - `decide`: duplicates first (same language: canonical URL, guid, near-identical
//!   text), then language versions (explicit hreflang links, shared CMS ids,
//!   content), never two versions of one language in a story.
//! - `eval`: the assignment loop in memory, and pairwise scoring against gold
//!   groups (`polyfeed eval-dedup`, tests, the micro-benchmark).
//!
//! The one input that is not an argument: `features` reads the process-wide
//! lexicon (`crate::lexicon::shared`, loaded once, read-only);
//! `content::content_features_with` takes one explicitly.

pub mod content;
mod decide;
pub mod eval;
mod features;

pub use decide::{
    CONTENT_THRESHOLD, Candidate, DUPLICATE_THRESHOLD, Decision, Evidence, Link, PATTERN_SCORE, Prescored, Signal,
    WINDOW_DAYS, decide, decide_prescored, decide_with, duplicate_evidence, version_evidence,
};
pub use features::{Features, features, fold_url, id_keys, pattern_ids, sketch_similarity};

/// Tests: numbers below `n` from a seeded linear congruential generator
/// (the same sequence for the same seed, on every machine).
#[cfg(test)]
pub(crate) fn test_numbers(mut seed: u64) -> impl FnMut(u64) -> u64 {
    move |n| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) % n
    }
}
