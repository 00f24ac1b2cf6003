//! Domain types shared by every stage: no IO, no wire types from the feed crates.
//!
//! Two layers live here. [`RawFeed`] and [`RawEntry`] are what `parse` extracts
//! from a document, kept close to the source so that an entry can be normalised
//! again later (they are stored as JSON beside each entry). [`Entry`] is the
//! normalised form the rest of the program uses.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A link as the feed gave it (`rel`, `hreflang` and `type` kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Link {
    /// The target, absolute after normalisation.
    pub href: String,
    /// `rel`, lower-cased; `None` means the format's default (alternate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rel: Option<String>,
    /// `hreflang` as given (BCP 47).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hreflang: Option<String>,
    /// Media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime: Option<String>,
    /// Human-readable title of the link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Declared length in bytes (enclosures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
}

/// An author or contributor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Person {
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// E-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Home page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
}

/// A media file attached to an entry (RSS enclosure, Atom `rel="enclosure"`,
/// JSON Feed attachment, Media RSS content).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Enclosure {
    /// Absolute URL of the file.
    pub url: String,
    /// Media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime: Option<String>,
    /// Declared length in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    /// Human-readable title (JSON Feed attachment `title`, Media RSS title).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Playing time in seconds, when declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_secs: Option<u64>,
}

/// A body of text with its declared type (`text`, `html`, `xhtml`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RawText {
    /// The text as the parser returned it.
    pub body: String,
    /// True when `body` is markup (HTML or XHTML), false for plain text.
    pub is_html: bool,
}

/// Feed-level facts from one fetched document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RawFeed {
    /// Which format the document was (e.g. `rss2`, `atom`, `json`).
    pub format: String,
    /// Feed title.
    pub title: Option<String>,
    /// Feed language (`<language>`, `xml:lang`, JSON Feed `language`).
    pub language: Option<String>,
    /// Feed-level links (home page, self).
    pub links: Vec<Link>,
    /// Feed-level authors (Atom `<author>`, JSON Feed `author`/`authors`);
    /// entries without their own already inherit them where the format says so.
    #[serde(default)]
    pub authors: Vec<Person>,
    /// RSS `<ttl>` in minutes.
    pub ttl_minutes: Option<u32>,
    /// When the publisher asks not to be polled.
    #[serde(default)]
    pub schedule: ScheduleHints,
    /// The entries in document order.
    pub entries: Vec<RawEntry>,
}

/// Channel-level "not yet" signals besides `<ttl>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ScheduleHints {
    /// RSS `<skipHours>`: hours of the day (0-23, GMT) not to poll in.
    pub skip_hours: Vec<u8>,
    /// RSS `<skipDays>`: days not to poll on, 0 = Monday .. 6 = Sunday.
    pub skip_days: Vec<u8>,
    /// `sy:updatePeriod` x `sy:updateFrequency` as seconds between updates.
    pub update_every_secs: Option<u64>,
}

/// One entry as the document gave it, before normalisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RawEntry {
    /// guid / Atom id / JSON Feed id, trimmed; `None` when the feed gave none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guid: Option<String>,
    /// Title as given (may hold markup or entities).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<RawText>,
    /// Summary / description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<RawText>,
    /// Full content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<RawText>,
    /// Every link with its rel and hreflang (RSS item-level atom:link included).
    #[serde(default)]
    pub links: Vec<Link>,
    /// Authors.
    #[serde(default)]
    pub authors: Vec<Person>,
    /// Category terms (labels preferred when given).
    #[serde(default)]
    pub categories: Vec<String>,
    /// Publication time as parsed (UTC); `None` when absent or unparseable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<DateTime<Utc>>,
    /// Last update time as parsed (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<DateTime<Utc>>,
    /// Entry-level language (`xml:lang`, JSON Feed item `language`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// Base URL in force for this entry (`xml:base`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    /// Enclosures and attachments.
    #[serde(default)]
    pub enclosures: Vec<Enclosure>,
    /// Images (Media RSS thumbnails, JSON Feed `image`).
    #[serde(default)]
    pub images: Vec<String>,
    /// An RSS 1.0 item's `rdf:about`, its URI: the stored id of an item
    /// without any other (not its key, which stays what earlier versions gave).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub about: Option<String>,
}

/// Where an entry's language came from: used by `explain` and by dedup to
/// weigh how far the language can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LangOrigin {
    /// `xml:lang` or JSON Feed item `language` on the entry itself.
    Entry,
    /// The feed's declared language.
    Feed,
    /// The `lang` of the source in feeds.toml.
    Config,
    /// Detected from the text.
    Detected,
    /// Nothing to go on.
    Unknown,
}

/// A normalised entry: what the store keeps and later stages read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Stable identity within its source (see `normalise::identity`).
    pub key: String,
    /// The guid as given, if any.
    pub guid: Option<String>,
    /// Canonical absolute URL of the entry's page.
    pub url: Option<String>,
    /// Plain-text title, entities decoded and whitespace folded.
    pub title: String,
    /// Sanitised HTML summary.
    pub summary_html: Option<String>,
    /// Sanitised HTML content.
    pub content_html: Option<String>,
    /// Authors.
    pub authors: Vec<Person>,
    /// Publication time, UTC (first-seen time when missing, clamped when in the future).
    pub published: DateTime<Utc>,
    /// Update time, UTC (equals `published` when missing).
    pub updated: DateTime<Utc>,
    /// True when `published` came from the feed (false: first-seen time,
    /// because the date was missing, unparseable or in the future).
    pub date_given: bool,
    /// BCP 47 language tag (`fi`, `sv`, `en-GB`), if known.
    pub lang: Option<String>,
    /// Where `lang` came from.
    pub lang_origin: LangOrigin,
    /// Category terms, whitespace folded, duplicates removed.
    pub categories: Vec<String>,
    /// Enclosures with absolute URLs.
    pub enclosures: Vec<Enclosure>,
    /// Image URLs.
    pub images: Vec<String>,
    /// Every link, absolute, with rel and hreflang.
    pub links: Vec<Link>,
    /// Hash of the normalised content, to tell an update from a re-send.
    pub content_hash: String,
}
