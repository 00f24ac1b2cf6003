//! Recognising an HTML page served where a feed was expected, and the feed
//! URLs it advertises with `<link rel="alternate">`; the language versions
//! an entry's own page advertises with `<link rel="alternate" hreflang>`.

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

/// The `<link ...` tags (up to, not including, their `>`) that start before
/// byte `end`, in page order. A tag may run past `end` (a `>` after
/// `</head`); the scan stops after it. Never panics on bad markup.
fn link_tags(text: &str, end: usize) -> impl Iterator<Item = &str> {
    let lower = text.to_ascii_lowercase();
    let mut pos = 0;
    std::iter::from_fn(move || {
        let start = pos + lower.get(pos..end)?.find("<link")?;
        let close = start + lower[start..].find('>')?;
        pos = close;
        Some(&text[start..close])
    })
}

/// True when a tag's `rel` holds `alternate`.
fn is_alternate(tag: &str) -> bool {
    crate::markup::attr(tag, "rel").is_some_and(|r| r.to_ascii_lowercase().split_whitespace().any(|t| t == "alternate"))
}

/// The absolute URLs of the feeds a page advertises, in page order.
pub fn advertised_feeds(text: &str, base: Option<&str>) -> Vec<String> {
    let base = base.and_then(|b| url::Url::parse(b).ok());
    let mut out = Vec::new();
    for tag in link_tags(text, text.len()) {
        let attr = |name: &str| crate::markup::attr(tag, name);
        let is_alt = is_alternate(tag);
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

/// Most language alternates read from one page.
const MAX_PAGE_ALTERNATES: usize = 32;
/// Only the start of a page is scanned (the links live in `<head>`).
const MAX_PAGE_SCAN: usize = 512 * 1024;

/// The `(hreflang, absolute URL)` pairs of a page's `<link rel="alternate"
/// hreflang="…" href="…">` tags, in page order, up to `</head>`; `x-default`
/// and non-http(s) targets are skipped. Never panics on bad markup.
pub fn alternate_languages(text: &str, base: Option<&str>) -> Vec<(String, String)> {
    let text = &text[..text.floor_char_boundary(text.len().min(MAX_PAGE_SCAN))];
    let base = base.and_then(|b| url::Url::parse(b).ok());
    let head_end = text.to_ascii_lowercase().find("</head").unwrap_or(text.len());
    let mut out: Vec<(String, String)> = Vec::new();
    for tag in link_tags(text, head_end) {
        let attr = |name: &str| crate::markup::attr(tag, name);
        let is_alt = is_alternate(tag);
        let (Some(lang), Some(href)) = (attr("hreflang"), attr("href")) else { continue };
        let lang = lang.trim();
        if !is_alt || lang.eq_ignore_ascii_case("x-default") {
            continue;
        }
        let Some(lang) = crate::lang::normalise_tag(lang) else { continue };
        let href = html_escape::decode_html_entities(href.trim()).into_owned();
        let abs = match &base {
            Some(b) => b.join(&href).ok(),
            None => url::Url::parse(&href).ok(),
        };
        let Some(abs) = abs.filter(|u| matches!(u.scheme(), "http" | "https")) else { continue };
        let pair = (lang, abs.to_string());
        if !out.contains(&pair) {
            out.push(pair);
        }
        if out.len() >= MAX_PAGE_ALTERNATES {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_alternates_are_read_from_the_head() {
        let page = r#"<!doctype html><html><head><title>x</title>
<link rel="alternate" hreflang="sv" href="/sv/nyhet">
<LINK REL="alternate" HREFLANG="en-GB" HREF="https://a.example/en/news?x=1&amp;y=2">
<link rel="alternate" hreflang="x-default" href="/">
<link rel="canonical" hreflang="de" href="/de/x">
<link rel="alternate" hreflang="fr" href="javascript:alert(1)">
</head><body><link rel="alternate" hreflang="de" href="/de/late"></body>"#;
        let got = alternate_languages(page, Some("https://a.example/fi/uutinen"));
        assert_eq!(
            got,
            vec![
                ("sv".to_string(), "https://a.example/sv/nyhet".to_string()),
                ("en-GB".to_string(), "https://a.example/en/news?x=1&y=2".to_string()),
            ]
        );
        assert!(alternate_languages("<link", None).is_empty());
        // A tag whose `>` lies past `</head`: read, then the scan stops.
        let bad = r#"<head><link rel="alternate" hreflang="sv" href="https://a.example/sv"</head><body>x</body>"#;
        assert_eq!(alternate_languages(bad, None).len(), 1);
        for cut in 0..bad.len() {
            let _ = alternate_languages(&bad[..cut], None);
        }
        assert!(alternate_languages("\u{fffd}<link hreflang=", None).is_empty());
    }
}
