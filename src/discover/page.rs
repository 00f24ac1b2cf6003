//! What an HTML page says about its feeds and its language versions: the
//! feeds it advertises, `<html lang>`, `<link rel="alternate" hreflang>` and
//! language-switcher links (`<a hreflang>` or `<a lang>`). A small tag
//! scanner over the text, like `parse`'s, bounded in what it returns. Pure.

use url::Url;

use crate::markup::attr;

/// Most language versions taken from one page.
const MAX_ALTERNATES: usize = 16;

/// What one page says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// `<html lang>`, normalised.
    pub lang: Option<String>,
    /// Language versions: (normalised language, absolute URL), page order,
    /// the page itself included when it lists itself.
    pub alternates: Vec<(String, Url)>,
    /// Absolute URLs of the feeds it advertises (comment feeds left out).
    pub feeds: Vec<String>,
}

/// Scans a page fetched from `base`.
pub fn scan(text: &str, base: &Url) -> Page {
    let lang = start_tags(text, "html").next().and_then(|t| attr(t, "lang").or_else(|| attr(t, "xml:lang")));
    let mut page = Page {
        lang: lang.and_then(crate::lang::normalise_tag),
        alternates: Vec::new(),
        feeds: crate::parse::advertised_feeds(text, Some(base.as_str()))
            .into_iter()
            .filter(|f| !f.to_ascii_lowercase().contains("comments"))
            .collect(),
    };
    for tag in start_tags(text, "link").chain(start_tags(text, "a")) {
        if page.alternates.len() >= MAX_ALTERNATES {
            break;
        }
        if let Some(alt) = language_link(tag, base)
            && !page.alternates.iter().any(|(_, u)| *u == alt.1)
        {
            page.alternates.push(alt);
        }
    }
    page
}

/// A `<link rel="alternate" hreflang>` (not a feed) or `<a hreflang>` /
/// `<a lang>` with an http(s) target: its language and absolute URL.
fn language_link(tag: &str, base: &Url) -> Option<(String, Url)> {
    let is_link = tag[1..].to_ascii_lowercase().starts_with("link");
    if is_link {
        let rel = attr(tag, "rel")?.to_ascii_lowercase();
        if !rel.split_whitespace().any(|r| r == "alternate") || attr(tag, "type").is_some() {
            return None;
        }
    }
    let lang = attr(tag, "hreflang").or_else(|| if is_link { None } else { attr(tag, "lang") })?;
    if lang.trim().eq_ignore_ascii_case("x-default") {
        return None;
    }
    let lang = crate::lang::normalise_tag(lang.trim())?;
    let href = html_escape::decode_html_entities(attr(tag, "href")?.trim()).into_owned();
    let mut url = base.join(&href).ok().filter(|u| matches!(u.scheme(), "http" | "https"))?;
    url.set_fragment(None);
    Some((lang, url))
}

/// The text of each start tag `<name ...>` (up to, not including, `>`),
/// matched case-insensitively.
fn start_tags<'a>(text: &'a str, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    let lower = text.to_ascii_lowercase();
    let open = format!("<{name}");
    let mut pos = 0;
    std::iter::from_fn(move || {
        loop {
            let start = pos + lower.get(pos..)?.find(&open)?;
            let after = start + open.len();
            let end = after + lower[after..].find('>')?;
            pos = end;
            let next = lower.as_bytes().get(after).copied().unwrap_or(b'>');
            if next.is_ascii_whitespace() || next == b'>' || next == b'/' {
                return Some(&text[start..end]);
            }
        }
    })
}

/// A short, readable account of what an error page said: its `<title>` and
/// the start of its text, tags dropped, whitespace collapsed, at most 200
/// characters.
pub fn summarise(body: &str) -> String {
    let lower = body.to_ascii_lowercase();
    let title = lower.find("<title").and_then(|i| {
        let open = i + lower[i..].find('>')? + 1;
        let close = open + lower[open..].find("</title")?;
        Some(body[open..close].to_string())
    });
    let text = strip_tags(body);
    let mut out = match title.map(|t| collapse(&t)).filter(|t| !t.is_empty()) {
        Some(t) if !text.starts_with(&t) => format!("{t}: {text}"),
        _ => text,
    };
    if out.chars().count() > 200 {
        out = out.chars().take(199).collect::<String>() + "…";
    }
    out
}

fn strip_tags(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    let lower_body = body.to_ascii_lowercase();
    // Skip what is never shown: head, scripts and styles.
    if let Some(i) = lower_body.find("</head>") {
        rest = &body[i + 7..];
    }
    let mut in_tag = false;
    let mut skip_until: Option<&str> = None;
    let mut i = 0;
    let lower = rest.to_ascii_lowercase();
    while i < rest.len() {
        if let Some(end) = skip_until {
            match lower[i..].find(end) {
                Some(j) => i += j + end.len(),
                None => break,
            }
            skip_until = None;
            continue;
        }
        let c = rest[i..].chars().next().unwrap_or(' ');
        if c == '<' {
            in_tag = true;
            if lower[i..].starts_with("<script") {
                skip_until = Some("</script>");
            } else if lower[i..].starts_with("<style") {
                skip_until = Some("</style>");
            }
            out.push(' ');
        } else if c == '>' && in_tag {
            in_tag = false;
        } else if !in_tag {
            out.push(c);
        }
        i += c.len_utf8();
    }
    collapse(&html_escape::decode_html_entities(&out))
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_language_versions_and_feeds() {
        let base = Url::parse("http://s.fi/fi/").unwrap();
        let html = r#"<!DOCTYPE html><HTML lang="fi-FI"><head>
            <link rel="alternate" hreflang="fi" href="/fi/">
            <link rel="alternate" hreflang="sv" href="http://s.fi/sv/#top">
            <link rel="alternate" hreflang="x-default" href="/">
            <link rel="alternate" type="application/rss+xml" href="feed.xml">
            <link rel="alternate" type="application/rss+xml" href="/comments/feed/">
            </head><body><a href="/en/" hreflang="en">In English</a><a href="/sv/" lang="sv">Svenska</a>
            <abbr lang="de">x</abbr></body></html>"#;
        let p = scan(html, &base);
        assert_eq!(p.lang.as_deref(), Some("fi-FI"));
        assert_eq!(p.feeds, vec!["http://s.fi/fi/feed.xml".to_string()]);
        let alts: Vec<(String, String)> = p.alternates.iter().map(|(l, u)| (l.clone(), u.to_string())).collect();
        assert_eq!(
            alts,
            vec![
                ("fi".into(), "http://s.fi/fi/".into()),
                ("sv".into(), "http://s.fi/sv/".into()),
                ("en".into(), "http://s.fi/en/".into()),
            ]
        );
    }

    #[test]
    fn error_pages_are_summarised() {
        let page = "<html><head><title>Access denied</title><style>p{}</style></head>\
                    <body><script>var x = 1;</script><h1>Access   denied</h1><p>Bots are not welcome &amp; go away.</p></body></html>";
        assert_eq!(summarise(page), "Access denied Bots are not welcome & go away.");
        assert_eq!(summarise("plain refusal"), "plain refusal");
    }
}
