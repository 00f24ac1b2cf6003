//! HTML sanitising with ammonia: no scripts, no event handlers, no
//! `javascript:` URLs, no tracking pixels; relative URLs made absolute.
//! Done once at ingest (ammonia is the slowest stage), never per request.

use std::cell::RefCell;
use std::collections::HashSet;

use ammonia::{Builder, UrlRelative};

use crate::model::RawText;

/// Hosts and path fragments of well-known tracking pixels.
const TRACKERS: &[&str] = &[
    "feeds.feedburner.com/~r/",
    "feeds.feedburner.com/~ff/",
    "pixel.wp.com/",
    "stats.wordpress.com/",
    "feedsportal.com/",
    "pi.feedsportal.com/",
    "www.google-analytics.com/",
    "/open.aspx?",
    "/tracking/pixel",
];

/// Sanitised HTML of a text body (plain text is escaped and given paragraphs).
pub(super) fn text_to_html(t: &RawText, base: Option<&str>) -> String {
    if t.is_html {
        sanitise_html(&t.body, base)
    } else {
        let escaped = html_escape::encode_text(t.body.trim());
        if escaped.is_empty() {
            return String::new();
        }
        escaped.split("\n\n").map(|p| format!("<p>{}</p>", p.trim())).collect::<Vec<_>>().join("\n")
    }
}

/// Sanitises an HTML fragment, resolving relative URLs against `base`.
pub fn sanitise_html(html: &str, base: Option<&str>) -> String {
    let without_pixels = remove_tracking_pixels(html);
    let relative = match base.and_then(|b| url::Url::parse(b).ok()) {
        Some(base) => UrlRelative::RewriteWithBase(base),
        None => UrlRelative::PassThrough,
    };
    let clean = SANITISER.with_borrow_mut(|b| b.url_relative(relative).clean(&without_pixels).to_string());
    if clean.trim().len() == clean.len() { clean } else { clean.trim().to_string() }
}

thread_local! {
    /// The sanitiser's rules, built once per thread: building them (a
    /// dozen hash sets of tags, attributes and schemes) cost as much as a
    /// fifth of sanitising a typical entry. Only the base URL changes
    /// between entries, and it is set before each use.
    static SANITISER: RefCell<Builder<'static>> = RefCell::new(rules());
}

/// What sanitised HTML may keep.
fn rules() -> Builder<'static> {
    let mut b = Builder::default();
    b.url_schemes(HashSet::from(["http", "https", "mailto", "tel", "ftp", "magnet"]))
        .link_rel(Some("noopener noreferrer"))
        .add_generic_attributes(["lang", "dir"])
        .add_tag_attributes("img", ["width", "height", "loading"])
        .add_tags(["figure", "figcaption", "picture", "source", "audio", "video", "track", "time", "mark"])
        .add_tag_attributes("source", ["src", "srcset", "type", "media"])
        .add_tag_attributes("audio", ["src", "controls"])
        .add_tag_attributes("video", ["src", "controls", "poster", "width", "height"])
        .add_tag_attributes("time", ["datetime"])
        .attribute_filter(|el, attr, value| {
            let is_src = matches!((el, attr), ("img", "src") | ("source", "src") | ("img", "srcset"));
            if is_src && TRACKERS.iter().any(|t| value.contains(t)) { None } else { Some(value.into()) }
        });
    b
}

/// Removes `<img>` tags declared 1x1 (or 0x0) pixels: the classic tracker.
fn remove_tracking_pixels(html: &str) -> std::borrow::Cow<'_, str> {
    let lower = html.to_ascii_lowercase();
    if !lower.contains("<img") {
        return html.into();
    }
    let mut out = String::with_capacity(html.len());
    let mut pos = 0;
    while let Some(i) = lower[pos..].find("<img") {
        let start = pos + i;
        let end = lower[start..].find('>').map_or(html.len(), |e| start + e + 1);
        out.push_str(&html[pos..start]);
        let tag = &html[start..end];
        let tiny =
            |name| crate::markup::attr(tag, name).is_some_and(|v| matches!(v.trim().trim_end_matches("px"), "0" | "1"));
        if !(tiny("width") && tiny("height")) {
            out.push_str(tag);
        }
        pos = end;
    }
    out.push_str(&html[pos..]);
    out.into()
}
