//! Feed discovery for `polyfeed add`: from a feed URL, a page or a bare
//! site to the feeds worth adding, each fetched and parsed before it is
//! proposed. A page's language versions (hreflang, `<html lang>`, language
//! switchers) are followed, and each version's feeds are found: the ones it
//! advertises, else the usual paths (`feed`, `rss.xml`, ...). Requests go
//! one at a time through the one [`Fetcher`] (its User-Agent and limits),
//! spaced by `per_host_delay`, and their number is bounded.
//!
//! [`page`] scans HTML; [`opml`] reads OPML files for `import-opml`.

pub mod opml;
pub mod page;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use url::Url;

use crate::fetch::{FetchError, Fetched, Fetcher, ResponseMeta, Validators};
use crate::parse::ParseError;

/// Most pages (the start page and its language versions) fetched.
pub const MAX_PAGES: usize = 8;
/// Most advertised feeds tried per page.
pub const MAX_FEEDS_PER_PAGE: usize = 4;
/// Most requests one discovery makes.
pub const MAX_REQUESTS: usize = 48;
/// Paths tried when a page advertises no feed, relative to the page's
/// directory, then to the site root.
pub const USUAL_PATHS: &[&str] = &["feed", "rss.xml", "atom.xml", "index.xml", "feed.json", "feed.xml", "rss"];

/// A feed found, fetched and parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The URL to configure: where the feed lives after permanent
    /// redirects, else the URL that was found.
    pub url: String,
    /// The URL that finally answered (after any redirect).
    pub final_url: String,
    /// The feed's title.
    pub title: Option<String>,
    /// Its language: the feed's own, else the page's.
    pub lang: Option<String>,
    /// Where the language came from: `feed` or `page`.
    pub lang_from: &'static str,
    /// Entries in the document.
    pub entries: usize,
    /// The newest entry date.
    pub newest: Option<DateTime<Utc>>,
    /// The page it was found for (none when a feed URL was given).
    pub page: Option<String>,
    /// How it was found: `given`, `advertised by` (the page) or `at a usual
    /// path for` (the page).
    pub via: &'static str,
}

/// What discovery found.
#[derive(Debug, Clone)]
pub struct Discovery {
    /// The URL discovery started from (normalised).
    pub start: Url,
    /// The URL that answered it, after redirects.
    pub start_final: Url,
    /// Set when the start URL redirected to a web page: how, and where
    /// (the feeds proposed are that page's, never the page itself).
    pub start_redirect: Option<String>,
    /// The feeds, in the order the pages were visited.
    pub candidates: Vec<Candidate>,
    /// Every URL tried and what came of it.
    pub tried: Vec<(String, String)>,
}

/// Why discovery found nothing to add.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    /// The argument is not a usable URL.
    #[error("{0:?} is not an http(s) URL or a site name")]
    BadInput(String),
    /// The start URL could not be fetched.
    #[error("cannot fetch {url}: {error}")]
    Unreachable {
        /// The URL.
        url: String,
        /// Why.
        error: FetchError,
    },
    /// The site answered the start URL with an error status (refused us,
    /// or has no such page).
    #[error("{url} answered HTTP {status}{}{}{}", reason(*.status), blocking_hint(*.status), said_text(.said))]
    Blocked {
        /// The URL.
        url: String,
        /// The status.
        status: u16,
        /// What the response body said, summarised.
        said: Option<String>,
    },
    /// A document that looks like a feed but does not parse.
    #[error("{url} does not parse as a feed: {error}")]
    NotParsable {
        /// The URL.
        url: String,
        /// The parser's complaint.
        error: ParseError,
    },
    /// Neither HTML nor a feed.
    #[error("{url} is neither a web page nor a feed (Content-Type: {content_type}; {error})")]
    NotPageOrFeed {
        /// The URL.
        url: String,
        /// Its Content-Type.
        content_type: String,
        /// The parser's complaint.
        error: ParseError,
    },
    /// A page, but no feed was found for it or its language versions.
    #[error("no feed found for {url}; tried:{}", tried_list(.tried))]
    NoFeed {
        /// The URL.
        url: String,
        /// What was tried, with the outcome of each.
        tried: Vec<(String, String)>,
    },
}

fn reason(status: u16) -> String {
    FetchError::Status { status, meta: Box::default() }.to_string().trim_start_matches(&format!("HTTP {status}")).into()
}

fn blocking_hint(status: u16) -> &'static str {
    match status {
        401 | 403 | 429 | 451 => " (the site may be blocking automated clients)",
        _ => "",
    }
}

fn said_text(said: &Option<String>) -> String {
    match said {
        Some(s) => format!("; it said: {s:?}"),
        None => String::new(),
    }
}

fn tried_list(tried: &[(String, String)]) -> String {
    if tried.is_empty() {
        return " nothing".into();
    }
    tried.iter().map(|(u, why)| format!("\n  {u}: {why}")).collect()
}

/// Turns what the user typed into a URL: `example.org` and
/// `example.org/news` become `https://...`.
pub fn normalise_input(input: &str) -> Result<Url, DiscoverError> {
    let t = input.trim();
    let with_scheme = if t.contains("://") { t.to_string() } else { format!("https://{t}") };
    match Url::parse(&with_scheme) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(u),
        _ => Err(DiscoverError::BadInput(input.to_string())),
    }
}

/// The requests of one discovery: one at a time, spaced per host, counted.
struct Polite<'a> {
    fetcher: &'a Fetcher,
    delay: Duration,
    last: HashMap<String, Instant>,
    made: usize,
}

impl Polite<'_> {
    async fn get(&mut self, url: &Url) -> Result<(Vec<u8>, ResponseMeta), FetchError> {
        let host = url.host_str().unwrap_or_default().to_string();
        if let Some(at) = self.last.get(&host) {
            let wait = self.delay.saturating_sub(at.elapsed());
            tokio::time::sleep(wait).await;
        }
        self.last.insert(host, Instant::now());
        self.made += 1;
        let location = crate::config::Location::Http(url.clone());
        match self.fetcher.fetch(&location, &Validators::default()).await? {
            Fetched::Body(body, meta) => Ok((body, meta)),
            Fetched::NotModified(_) => Err(FetchError::Network("unexpected 304 Not Modified".into())),
        }
    }

    fn budget_left(&self) -> bool {
        self.made < MAX_REQUESTS
    }
}

/// Finds the feeds for `input` (a feed URL, a page or a bare site).
pub async fn discover(fetcher: &Fetcher, delay: Duration, input: &str) -> Result<Discovery, DiscoverError> {
    let start = normalise_input(input)?;
    let mut polite = Polite { fetcher, delay, last: HashMap::new(), made: 0 };
    let (body, meta) = polite.get(&start).await.map_err(|e| start_error(&start, e))?;
    let start_final = Url::parse(&meta.final_url).unwrap_or_else(|_| start.clone());
    let mut d = Discovery {
        start: start.clone(),
        start_final: start_final.clone(),
        start_redirect: None,
        candidates: vec![],
        tried: vec![],
    };
    match crate::parse::parse(&body, meta.content_type.as_deref(), Some(start_final.as_str())) {
        Ok(parsed) => {
            d.candidates.push(candidate(&start, &meta, &parsed.feed, None, None, "given"));
            Ok(d)
        }
        Err(ParseError::HtmlPage { .. }) => {
            if let Some(how) = meta.redirect_phrase() {
                let note = format!("{how} to an HTML page at {start_final}");
                d.tried.push((start.to_string(), note.clone()));
                d.start_redirect = Some(note);
            }
            let text = crate::parse::encoding::decode(&body, None).text;
            let first = page::scan(&text, &start_final);
            follow_pages(&mut polite, &mut d, first).await;
            if d.candidates.is_empty() {
                return Err(DiscoverError::NoFeed { url: start.to_string(), tried: d.tried });
            }
            Ok(d)
        }
        Err(error) if looks_like_feed(&body, meta.content_type.as_deref()) => {
            Err(DiscoverError::NotParsable { url: start.to_string(), error })
        }
        Err(error) => Err(DiscoverError::NotPageOrFeed {
            url: start.to_string(),
            content_type: meta.content_type.unwrap_or_else(|| "none".into()),
            error,
        }),
    }
}

fn start_error(url: &Url, e: FetchError) -> DiscoverError {
    match e {
        FetchError::Status { status, meta } => DiscoverError::Blocked {
            url: url.to_string(),
            status,
            said: meta.error_body.as_deref().map(page::summarise).filter(|s| !s.is_empty()),
        },
        error => DiscoverError::Unreachable { url: url.to_string(), error },
    }
}

/// True when a document that failed to parse was meant as a feed: a feed or
/// XML/JSON media type, or text that starts like XML or JSON.
fn looks_like_feed(body: &[u8], content_type: Option<&str>) -> bool {
    let ct = content_type.unwrap_or_default().to_ascii_lowercase();
    if ["xml", "rss", "atom", "json"].iter().any(|k| ct.contains(k)) {
        return true;
    }
    let text = String::from_utf8_lossy(&body[..body.len().min(256)]);
    let t = text.trim_start_matches('\u{feff}').trim_start();
    t.starts_with("<?xml") || t.starts_with("<rss") || t.starts_with("<feed") || t.starts_with('{')
}

/// Visits the start page and its language versions (breadth first, at most
/// [`MAX_PAGES`]) and collects the feeds of each.
async fn follow_pages(polite: &mut Polite<'_>, d: &mut Discovery, first: page::Page) {
    let mut queue: Vec<(Url, Option<String>)> = vec![(d.start_final.clone(), None)];
    let mut scanned = Some(first);
    let mut i = 0;
    while i < queue.len() && polite.budget_left() {
        let (url, hreflang) = queue[i].clone();
        i += 1;
        let page = match scanned.take() {
            Some(p) => p,
            None => match fetch_page(polite, &url).await {
                Ok(p) => p,
                Err(why) => {
                    d.tried.push((url.to_string(), why));
                    continue;
                }
            },
        };
        for (lang, alt) in &page.alternates {
            if queue.len() < MAX_PAGES && !queue.iter().any(|(u, _)| same_page(u, alt)) {
                queue.push((alt.clone(), Some(lang.clone())));
            }
            if same_page(alt, &url) && hreflang.is_none() {
                queue[i - 1].1 = Some(lang.clone());
            }
        }
        let lang = queue[i - 1].1.clone().or_else(|| page.lang.clone());
        feeds_of_page(polite, d, &url, &page, lang).await;
    }
}

fn same_page(a: &Url, b: &Url) -> bool {
    a.as_str().trim_end_matches('/') == b.as_str().trim_end_matches('/')
}

async fn fetch_page(polite: &mut Polite<'_>, url: &Url) -> Result<page::Page, String> {
    let (body, meta) = polite.get(url).await.map_err(|e| e.to_string())?;
    let text = crate::parse::encoding::decode(
        &body,
        meta.content_type.as_deref().and_then(crate::parse::encoding::charset_of),
    )
    .text;
    if !crate::parse::looks_like_html(text.trim_start()) {
        return Err("not an HTML page".into());
    }
    let base = Url::parse(&meta.final_url).unwrap_or_else(|_| url.clone());
    Ok(page::scan(&text, &base))
}

/// The advertised feeds of one page, else the first usual path that parses.
async fn feeds_of_page(polite: &mut Polite<'_>, d: &mut Discovery, url: &Url, page: &page::Page, lang: Option<String>) {
    let mut found = false;
    for feed in page.feeds.iter().take(MAX_FEEDS_PER_PAGE) {
        let Ok(feed) = Url::parse(feed) else { continue };
        found |= try_feed(polite, d, &feed, url, lang.as_deref(), "advertised by").await;
    }
    if found || !page.feeds.is_empty() {
        return;
    }
    d.tried.push((url.to_string(), "advertises no feed".into()));
    for path in usual_paths(url) {
        if !polite.budget_left() {
            d.tried.push((path.to_string(), "not tried: request limit reached".into()));
            return;
        }
        if try_feed(polite, d, &path, url, lang.as_deref(), "at a usual path for").await {
            return;
        }
    }
}

/// The usual feed paths below the page's directory, then below the root.
fn usual_paths(page: &Url) -> Vec<Url> {
    let mut out: Vec<Url> = Vec::new();
    let root = page.join("/").ok();
    for base in [page.join("./").ok(), root].into_iter().flatten() {
        for p in USUAL_PATHS {
            if let Ok(u) = base.join(p)
                && !out.contains(&u)
            {
                out.push(u);
            }
        }
    }
    out
}

/// Fetches and parses a possible feed; true when it is a feed (new or
/// already found).
async fn try_feed(
    polite: &mut Polite<'_>,
    d: &mut Discovery,
    url: &Url,
    page: &Url,
    page_lang: Option<&str>,
    via: &'static str,
) -> bool {
    let known = |d: &Discovery, u: &str| d.candidates.iter().any(|c| c.url == u || c.final_url == u);
    if known(d, url.as_str()) {
        return true;
    }
    if d.tried.iter().any(|(u, _)| u == url.as_str()) {
        return false;
    }
    let outcome = match polite.get(url).await {
        Err(e) => Err(e.to_string()),
        Ok((body, meta)) => {
            match crate::parse::parse(&body, meta.content_type.as_deref(), Some(meta.final_url.as_str())) {
                Ok(parsed) => Ok(candidate(url, &meta, &parsed.feed, Some(page), page_lang, via)),
                Err(ParseError::HtmlPage { .. }) => Err(match meta.redirect_phrase() {
                    Some(how) => format!("{how} to an HTML page at {}, not a feed", meta.final_url),
                    None => "an HTML page, not a feed".into(),
                }),
                Err(e) => Err(e.to_string()),
            }
        }
    };
    match outcome {
        Ok(c) => {
            if !known(d, &c.final_url) && !known(d, &c.url) {
                d.candidates.push(c);
            }
            true
        }
        Err(why) => {
            d.tried.push((url.to_string(), why));
            false
        }
    }
}

fn candidate(
    url: &Url,
    meta: &ResponseMeta,
    feed: &crate::model::RawFeed,
    page: Option<&Url>,
    page_lang: Option<&str>,
    via: &'static str,
) -> Candidate {
    let feed_lang = feed.language.as_deref().and_then(crate::lang::normalise_tag);
    let lang_from = if feed_lang.is_some() { "feed" } else { "page" };
    Candidate {
        url: meta.moved_to.clone().unwrap_or_else(|| url.to_string()),
        final_url: meta.final_url.clone(),
        title: feed
            .title
            .as_deref()
            .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|t| !t.is_empty()),
        lang: feed_lang.or_else(|| page_lang.map(str::to_string)),
        lang_from,
        entries: feed.entries.len(),
        newest: feed.entries.iter().filter_map(|e| e.published.or(e.updated)).max(),
        page: page.map(Url::to_string),
        via,
    }
}

/// The publisher group for a site: its host without `www.`.
pub fn group_of(url: &Url) -> Option<String> {
    let host = url.host_str()?;
    Some(host.strip_prefix("www.").unwrap_or(host).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_become_urls() {
        assert_eq!(normalise_input("porvoo.fi").unwrap().as_str(), "https://porvoo.fi/");
        assert_eq!(normalise_input("http://a.fi/x").unwrap().as_str(), "http://a.fi/x");
        assert!(normalise_input("ftp://a.fi/").is_err());
        assert!(normalise_input("not a url").is_err());
    }

    #[test]
    fn usual_paths_below_the_page_then_the_root() {
        let p = usual_paths(&Url::parse("http://a.fi/en/").unwrap());
        assert_eq!(p[0].as_str(), "http://a.fi/en/feed");
        assert!(p.iter().any(|u| u.as_str() == "http://a.fi/feed"));
        assert_eq!(p.len(), 2 * USUAL_PATHS.len());
    }

    #[test]
    fn groups_drop_www() {
        assert_eq!(group_of(&Url::parse("https://www.porvoo.fi/fi/").unwrap()).as_deref(), Some("porvoo.fi"));
    }

    #[test]
    fn refusals_read_well() {
        let e = DiscoverError::Blocked { url: "http://a.fi/".into(), status: 403, said: Some("No bots".into()) };
        assert_eq!(
            e.to_string(),
            "http://a.fi/ answered HTTP 403 Forbidden (the site may be blocking automated clients); it said: \"No bots\""
        );
    }
}
