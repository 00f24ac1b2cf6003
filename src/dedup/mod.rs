//! Deduplication: which stored story a new entry belongs to. Pure: the
//! store fetches candidates and records decisions; this module only scores
//! and decides.
//!
//! - `features`: identity keys, a MinHash sketch and content features of an entry.
//! - `content`: content that survives translation (numbers, names, length).
//! - `decide`: duplicates first (same language: canonical URL, guid, near-identical
//!   text), then language versions (explicit hreflang links, shared CMS ids,
//!   content), never two versions of one language in a story.

pub mod content;
mod decide;
mod features;

pub use decide::{
    CONTENT_THRESHOLD, Candidate, DUPLICATE_THRESHOLD, Decision, Evidence, Signal, WINDOW_DAYS, decide,
    duplicate_evidence, version_evidence,
};
pub use features::{Features, features, fold_url, id_keys, sketch_similarity};
