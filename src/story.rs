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

/// The id of a story first seen as entry `entry_key` of source `source_key`.
pub fn story_id(source_key: &str, entry_key: &str) -> String {
    let mut h = Sha256::new();
    h.update(source_key.as_bytes());
    h.update([0]);
    h.update(entry_key.as_bytes());
    let hex: String = h.finalize().iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("urn:polyfeed:story:{hex}")
}
