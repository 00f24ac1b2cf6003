//! Recognising an HTML page served where a feed was expected, and the feed
//! URLs it advertises with `<link rel="alternate">`.

const FEED_TYPES: &[&str] = &[
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "application/json",
    "application/rdf+xml",
];

/// True when the text starts like an HTML document rather than XML or JSON.
pub fn looks_like_html(text: &str) -> bool {
    let head: String = text.chars().take(512).collect::<String>().to_ascii_lowercase();
    let head = head.trim_start();
    head.starts_with("<!doctype html")
        || head.starts_with("<html")
        || (head.starts_with("<!--") && head.contains("<html"))
        || (head.starts_with("<head") || head.starts_with("<body"))
}

/// The absolute URLs of the feeds a page advertises, in page order.
pub fn advertised_feeds(text: &str, base: Option<&str>) -> Vec<String> {
    let base = base.and_then(|b| url::Url::parse(b).ok());
    let lower = text.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(i) = lower[pos..].find("<link") {
        let start = pos + i;
        let Some(end) = lower[start..].find('>').map(|e| start + e) else {
            break;
        };
        pos = end;
        let tag = &text[start..end];
        let attr = |name: &str| crate::markup::attr(tag, name);
        let is_alt = attr("rel").is_some_and(|r| r.to_ascii_lowercase().split_whitespace().any(|t| t == "alternate"));
        let is_feed = attr("type").is_some_and(|t| FEED_TYPES.contains(&t.trim().to_ascii_lowercase().as_str()));
        if let (true, true, Some(href)) = (is_alt, is_feed, attr("href")) {
            let href = html_escape::decode_html_entities(href.trim()).into_owned();
            let abs = match &base {
                Some(b) => b.join(&href).map(|u| u.to_string()).unwrap_or(href),
                None => href,
            };
            if !out.contains(&abs) {
                out.push(abs);
            }
        }
        if out.len() >= 16 {
            break;
        }
    }
    out
}
