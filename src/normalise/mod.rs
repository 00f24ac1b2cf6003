//! [`RawFeed`] to [`Entry`]: identity, absolute URLs, language, dates, plain
//! text titles and sanitised HTML. Pure: time comes in as a value, and it
//! never fails; problems come back as warnings.

mod identity;
mod sanitise;
mod text;
mod urls;

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

use crate::lang;
use crate::model::{Entry, LangOrigin, Link, RawEntry, RawFeed};

pub use sanitise::sanitise_html;
pub use text::{plain_text, plain_text_paragraphs};
pub use urls::canonical_url;

/// What normalisation needs to know besides the document.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// The URL the document came from (resolves relative links).
    pub base_url: Option<&'a str>,
    /// The source's configured language.
    pub source_lang: Option<&'a str>,
    /// The time of this poll: first-seen time, and the limit for future dates.
    pub now: DateTime<Utc>,
}

/// Dates further in the future than this are clamped to `now`.
const FUTURE_SLACK: Duration = Duration::minutes(10);

/// Normalises every entry of a feed. Entry keys are unique in the result;
/// an item repeated verbatim in the document is one entry (see
/// `identity::KeySet` for the rule).
pub fn feed(feed: &RawFeed, ctx: &Context<'_>) -> (Vec<Entry>, Vec<String>) {
    let (entries, warnings) = feed_indexed(feed, ctx);
    (entries.into_iter().map(|(_, e)| e).collect(), warnings)
}

/// [`feed`], each entry with the index of the raw entry it came from in
/// `feed.entries` (repeats are left out, so the indices can skip).
pub fn feed_indexed(feed: &RawFeed, ctx: &Context<'_>) -> (Vec<(usize, Entry)>, Vec<String>) {
    let mut warnings = Vec::new();
    let mut keys = identity::KeySet::default();
    let feed_lang = feed.language.as_deref().and_then(lang::normalise_tag);
    let mut out = Vec::with_capacity(feed.entries.len());
    for (i, raw) in feed.entries.iter().enumerate() {
        let mut e = keyed(raw, feed_lang.as_deref(), ctx);
        // Keys, renamed ones too, come from the text as parsed; only then
        // is the text repaired.
        let admitted = keys.admit(&mut e);
        no_controls(&mut e);
        match admitted {
            identity::Admitted::New => out.push((i, e)),
            identity::Admitted::Renamed(w) => {
                warnings.push(w);
                out.push((i, e));
            }
            identity::Admitted::Repeat(w) => warnings.push(w),
        }
    }
    (out, warnings)
}

/// Normalises one entry (its key is not yet made unique within the feed).
pub fn entry(raw: &RawEntry, feed_lang: Option<&str>, ctx: &Context<'_>) -> Entry {
    let mut e = keyed(raw, feed_lang, ctx);
    no_controls(&mut e);
    e
}

/// One entry with its key and content hash, its text still as parsed
/// (control characters not yet repaired).
///
/// The key is computed from exactly the text earlier versions keyed by (they
/// stored C1 and C0 characters as parsed), so an entry keyed by a hash of
/// its text keeps its stored key. The content hash is that of earlier
/// versions too, except for an entry whose text gets repaired: its hash
/// changes once, so a row stored with control characters is updated (and
/// cleaned) on the next poll.
fn keyed(raw: &RawEntry, feed_lang: Option<&str>, ctx: &Context<'_>) -> Entry {
    let base = raw.base.as_deref().or(ctx.base_url);
    let links: Vec<Link> = urls::links(&raw.links, base);
    let title = raw.title.as_ref().map(text::title).unwrap_or_default();
    let summary_html = raw.summary.as_ref().map(|t| sanitise::text_to_html(t, base)).filter(|s| !s.is_empty());
    let content_html = raw.content.as_ref().map(|t| sanitise::text_to_html(t, base)).filter(|s| !s.is_empty());
    let (lang, lang_origin) =
        language(raw, feed_lang, ctx.source_lang, &title, summary_html.as_deref().or(content_html.as_deref()));
    let url = urls::entry_url(&links, raw.guid.as_deref(), lang.as_deref());
    let (published, updated, date_given) = dates(raw, ctx.now);
    let mut e = Entry {
        key: String::new(),
        guid: raw.guid.clone(),
        url,
        title,
        summary_html,
        content_html,
        authors: text::authors(&raw.authors),
        published,
        updated,
        date_given,
        lang,
        lang_origin,
        categories: text::categories(&raw.categories),
        enclosures: urls::enclosures(&raw.enclosures, base),
        images: urls::images(&raw.images, base),
        links,
        content_hash: String::new(),
    };
    e.key = identity::key(&e);
    // Stored, the id reads as feedparser's (a path resolved, an RSS 1.0
    // item's URI); the key stays the one earlier versions gave.
    e.guid = urls::stored_id(raw.guid.as_deref(), raw.about.as_deref(), base);
    let repaired = text_fields(&mut e).any(|s| crate::parse::encoding::repair_controls(s).is_some());
    e.content_hash = content_hash(&e, raw, repaired);
    e
}

/// Every text field of an entry that is stored or published.
fn text_fields(e: &mut Entry) -> impl Iterator<Item = &mut String> {
    std::iter::once(&mut e.title)
        .chain(e.guid.iter_mut())
        .chain(e.summary_html.iter_mut())
        .chain(e.content_html.iter_mut())
        .chain(e.categories.iter_mut())
        .chain(e.authors.iter_mut().flat_map(|p| p.name.iter_mut()))
}

/// No control character reaches storage or a published feed, also when a
/// character reference (`&#x81;`) produced one after decoding: see
/// [`crate::parse::encoding::repair_controls`]. The key is left as it is.
fn no_controls(e: &mut Entry) {
    for s in text_fields(e) {
        if let Some(r) = crate::parse::encoding::repair_controls(s) {
            *s = r;
        }
    }
}

fn language(
    raw: &RawEntry,
    feed_lang: Option<&str>,
    source_lang: Option<&str>,
    title: &str,
    body_html: Option<&str>,
) -> (Option<String>, LangOrigin) {
    if let Some(l) = raw.language.as_deref().and_then(lang::normalise_tag) {
        return (Some(l), LangOrigin::Entry);
    }
    if let Some(l) = feed_lang {
        return (Some(l.to_string()), LangOrigin::Feed);
    }
    if let Some(l) = source_lang {
        return (Some(l.to_string()), LangOrigin::Config);
    }
    let sample = format!("{title}. {}", body_html.map(text::plain_text).unwrap_or_default());
    let sample: String = sample.chars().take(2000).collect();
    match lang::detect(&sample) {
        Some(l) => (Some(l), LangOrigin::Detected),
        None => (None, LangOrigin::Unknown),
    }
}

/// (published, updated, whether `published` came from the feed).
fn dates(raw: &RawEntry, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>, bool) {
    let valid = |d: &DateTime<Utc>| *d <= now + FUTURE_SLACK;
    let given = raw.published.or(raw.updated).filter(valid);
    let published = given.unwrap_or(now);
    let updated = raw.updated.filter(valid).unwrap_or(published).max(published);
    (published, updated, given.is_some())
}

/// A hash of what the feed said about the entry, to tell a real update from
/// a re-send. Based on the raw entry so that fallback values (first-seen
/// dates) do not make every poll look like a change.
fn content_hash(e: &Entry, raw: &RawEntry, repaired: bool) -> String {
    let mut h = Sha256::new();
    h.update(serde_json::to_vec(raw).unwrap_or_default());
    h.update(e.key.as_bytes());
    if repaired {
        h.update(b"\0control characters repaired");
    }
    let digest = h.finalize();
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
