//! Stories: one post, with one version per language (and any same-language
//! duplicates). The story id is derived from the entry that started the
//! story and never changes. Pure.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::model::Entry;

/// A source as later stages see it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SourceInfo {
    /// Row id.
    pub id: i64,
    /// The configured URL.
    pub key: String,
    /// Where it is fetched now.
    pub url: String,
    /// Configured name, else the feed's title.
    pub name: Option<String>,
    /// The feed's home page.
    pub home: Option<String>,
    /// Configured language, else the feed's.
    pub lang: Option<String>,
    /// Configured tags.
    pub tags: Vec<String>,
    /// Publisher group.
    pub group: Option<String>,
    /// Its polling state (the index page's status table); not part of any feed.
    #[serde(skip)]
    pub status: SourceStatus,
}

/// A source's polling state as stored: times from the database, never the
/// clock, so pages rendered from it stay a pure function of the database.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceStatus {
    /// When it was last fetched.
    pub last_fetch: Option<DateTime<Utc>>,
    /// Last outcome: `ok`, `not_modified`, `failed`; `None` before the first poll.
    pub outcome: Option<String>,
    /// Last HTTP status.
    pub http_status: Option<u16>,
    /// Consecutive failures.
    pub error_count: u32,
    /// When it is due next (`None`: due now).
    pub next_due: Option<DateTime<Utc>>,
    /// 410 Gone: no longer polled.
    pub gone: bool,
    /// Still listed in feeds.toml (removed sources are no longer polled).
    pub in_config: bool,
}

impl SourceInfo {
    /// The name to show.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.key)
    }
}

/// One language version of a story.
#[derive(Debug, Clone, Serialize)]
pub struct Version {
    /// Entry row id.
    pub entry_id: i64,
    /// Source row id.
    pub source_id: i64,
    /// The configured URL of its source (part of the story id).
    pub source_key: String,
    /// The entry.
    pub entry: Entry,
}

/// A story.
#[derive(Debug, Clone, Serialize)]
pub struct Story {
    /// Stable id: never changes when versions join or the chosen one changes.
    pub id: String,
    /// The versions, one per language, in the order they joined.
    pub versions: Vec<Version>,
    /// Same-language copies of a version (another feed, a republisher).
    pub duplicates: Vec<Version>,
}

impl Story {
    /// The newest change of any version (never the clock).
    pub fn updated(&self) -> DateTime<Utc> {
        self.versions.iter().map(|v| v.entry.updated).max().unwrap_or_default()
    }

    /// The earliest publication time of its versions.
    pub fn published(&self) -> DateTime<Utc> {
        self.versions.iter().map(|v| v.entry.published).min().unwrap_or_default()
    }

    /// The version to show for a language preference: the first language
    /// of `prefs` (primary subtags compared) that the story has, else its
    /// oldest version.
    pub fn choose(&self, prefs: &[String]) -> &Version {
        let lang_of = |v: &Version| v.entry.lang.as_deref().map(crate::lang::primary).map(str::to_string);
        prefs
            .iter()
            .find_map(|p| self.versions.iter().find(|v| lang_of(v).as_deref() == Some(crate::lang::primary(p))))
            .unwrap_or(&self.versions[0])
    }
}

/// The id of a story first seen as entry `entry_key` of source `source_key`,
/// published at `dated` (the date its feed gave): `urn:polyfeed:story:`
/// then 8 hex digits of the publication time (seconds since 1970, clamped
/// to 32 bits) and 16 of SHA-256(source key, 0, entry key). The time comes
/// first so that new stories' ids sort by date, as entries are assigned:
/// every index keyed by story id takes them near one end instead of on
/// random pages (issue 15). An undated entry (`None`: its time is when it
/// was first seen, which a source removed and added again would see
/// differently) gets 24 hex digits of the hash alone, the form every story
/// had before, so that its id stays a function of its identity. Ids are
/// stored, never recomputed, so both forms stay valid.
pub fn story_id(source_key: &str, entry_key: &str, dated: Option<DateTime<Utc>>) -> String {
    let hash = identity_hash(source_key, entry_key);
    match dated {
        Some(at) => {
            let secs = u32::try_from(at.timestamp().max(0)).unwrap_or(u32::MAX);
            format!("urn:polyfeed:story:{secs:08x}{}", &hash[..16])
        }
        None => format!("urn:polyfeed:story:{hash}"),
    }
}

/// Whether `story` is the id a story started by this entry was given, in
/// either form (the time is not compared: the entry's date may have changed
/// since).
pub fn is_own_story_id(story: &str, source_key: &str, entry_key: &str) -> bool {
    let Some(hex) = story.strip_prefix("urn:polyfeed:story:") else { return false };
    let hash = identity_hash(source_key, entry_key);
    hex.len() == 24 && (hex == hash || hex.get(8..) == Some(&hash[..16]))
}

/// 24 hex digits of SHA-256(source key, 0, entry key).
fn identity_hash(source_key: &str, entry_key: &str) -> String {
    let mut h = Sha256::new();
    h.update(source_key.as_bytes());
    h.update([0]);
    h.update(entry_key.as_bytes());
    h.finalize().iter().take(12).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, 0).unwrap()
    }

    #[test]
    fn new_story_ids_sort_by_publication_time_whatever_the_entry() {
        let mut ids: Vec<(i64, String)> = (0..200)
            .map(|i| {
                let secs = 1_700_000_000 + (i * 7919 % 200) * 3600;
                (secs, story_id("https://a.example/feed", &format!("entry-{i}"), Some(at(secs))))
            })
            .collect();
        ids.sort_by(|a, b| a.1.cmp(&b.1));
        assert!(ids.windows(2).all(|w| w[0].0 <= w[1].0), "ids out of date order: {ids:?}");
        let (_, id) = &ids[0];
        assert_eq!(id.len(), "urn:polyfeed:story:".len() + 24);
        assert!(id.starts_with(&format!("urn:polyfeed:story:{:08x}", 1_700_000_000)), "{id}");
    }

    #[test]
    fn the_time_is_clamped_to_32_bits() {
        assert!(story_id("s", "k", Some(at(-86_400))).starts_with("urn:polyfeed:story:00000000"));
        assert!(story_id("s", "k", Some(at(1 << 40))).starts_with("urn:polyfeed:story:ffffffff"));
    }

    #[test]
    fn own_ids_are_recognised_in_both_forms_and_at_any_time() {
        let legacy = {
            let mut h = Sha256::new();
            h.update(b"https://a.example/feed\0entry-1");
            let hex: String = h.finalize().iter().take(12).map(|b| format!("{b:02x}")).collect();
            format!("urn:polyfeed:story:{hex}")
        };
        let src = "https://a.example/feed";
        assert!(is_own_story_id(&legacy, src, "entry-1"));
        // An undated entry's id is the old form: the same whenever it is seen.
        assert_eq!(story_id(src, "entry-1", None), legacy);
        assert!(is_own_story_id(&story_id(src, "entry-1", Some(at(1_700_000_000))), src, "entry-1"));
        // The entry's date changed after the story was created.
        let created = story_id(src, "entry-1", Some(at(1_600_000_000)));
        assert_ne!(created, story_id(src, "entry-1", Some(at(1_700_000_000))));
        assert!(is_own_story_id(&created, src, "entry-1"));
        assert!(!is_own_story_id(&created, src, "entry-2"));
        assert!(!is_own_story_id(&legacy, src, "entry-2"));
        assert!(!is_own_story_id(&created, "https://b.example/feed", "entry-1"));
        for odd in ["", "urn:polyfeed:story:", "urn:polyfeed:story:aaaaaaaéaaaaaaaaaaaaaaa", "entry-1"] {
            assert!(!is_own_story_id(odd, src, "entry-1"), "{odd}");
        }
    }
}
