//! What the renderer produces: a path relative to the output directory, a
//! media type and the bytes. Both sinks (files, the HTTP server) take the
//! same artifacts, so a served feed and its file are identical bytes.

use chrono::{DateTime, Utc};

/// One published file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// Path relative to the output directory, `/`-separated, no leading `/`
    /// (e.g. `all.atom`, `tags/kunta.rss`, `sv/all.json`, `index.html`).
    pub path: String,
    /// The `Content-Type` to serve it with.
    pub content_type: &'static str,
    /// The content.
    pub body: Vec<u8>,
    /// When its content last changed (the newest story in it; never the clock).
    pub updated: DateTime<Utc>,
}

/// Media types of the formats we publish.
pub mod media {
    /// Atom 1.0.
    pub const ATOM: &str = "application/atom+xml; charset=utf-8";
    /// RSS 2.0.
    pub const RSS: &str = "application/rss+xml; charset=utf-8";
    /// JSON Feed 1.1.
    pub const JSON: &str = "application/feed+json; charset=utf-8";
    /// The index page.
    pub const HTML: &str = "text/html; charset=utf-8";
    /// OPML.
    pub const OPML: &str = "text/x-opml; charset=utf-8";
}
