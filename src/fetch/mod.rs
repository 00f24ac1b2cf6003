//! The one HTTP client of the process: conditional GET, redirects handled
//! hop by hop (so 301/308 can be recorded), bounded bodies, and local files
//! for offline use. Only this module makes requests.

mod body;
mod headers;

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use url::Url;

use crate::config::{FetchSettings, Location};
pub use headers::{MAX_RETRY_AFTER, ResponseHints, parse_retry_after};

/// Validators stored from the previous response, echoed exactly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    /// `ETag` as received (quotes and `W/` included).
    pub etag: Option<String>,
    /// `Last-Modified` as received.
    pub last_modified: Option<String>,
}

/// Facts about a response that the scheduler and the store need, whatever
/// the outcome.
#[derive(Debug, Clone, Default)]
pub struct ResponseMeta {
    /// Final HTTP status (200 for files).
    pub status: u16,
    /// The URL that answered last.
    pub final_url: String,
    /// Set when the chain from the requested URL began with permanent
    /// redirects (301/308): the last URL reached through them.
    pub moved_to: Option<String>,
    /// Every redirect followed, in order: its status and where it pointed.
    pub redirects: Vec<(u16, String)>,
    /// Validators of this response (replace the stored ones when present).
    pub validators: Validators,
    /// Caching and back-off hints.
    pub hints: ResponseHints,
    /// Bytes read from the network (compressed).
    pub wire_bytes: u64,
    /// `Content-Type` of the body.
    pub content_type: Option<String>,
    /// `Content-Language` of the body: the language of a feed that names none.
    pub content_language: Option<String>,
    /// The start of an error response's body (at most 2 KiB, decompressed,
    /// lossy UTF-8), so that a refusal can be shown with what it said.
    pub error_body: Option<String>,
}

/// A successful fetch.
#[derive(Debug)]
pub enum Fetched {
    /// 200 with a body (decompressed).
    Body(Vec<u8>, ResponseMeta),
    /// 304, or an unchanged local file.
    NotModified(ResponseMeta),
}

/// Why a fetch failed. `meta` is present when a response arrived.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The server answered with an error status.
    #[error("HTTP {status}{}", reason(*.status))]
    Status {
        /// The status code.
        status: u16,
        /// What the response said.
        meta: Box<ResponseMeta>,
    },
    /// Timed out connecting or reading.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// Could not connect, or the connection broke.
    #[error("network error: {0}")]
    Network(String),
    /// The body was larger than allowed.
    #[error("response larger than {limit} bytes ({what})")]
    TooLarge {
        /// The cap that was hit.
        limit: u64,
        /// `body` or `decompressed`.
        what: &'static str,
    },
    /// More redirects than allowed.
    #[error("more than {0} redirects")]
    TooManyRedirects(usize),
    /// A redirect pointed back to a URL already visited.
    #[error("redirect loop at {0}")]
    RedirectLoop(String),
    /// A redirect without a usable Location.
    #[error("bad redirect: {0}")]
    BadRedirect(String),
    /// The body could not be decompressed.
    #[error("cannot decode {encoding} body: {message}")]
    Decode {
        /// The Content-Encoding.
        encoding: String,
        /// What went wrong.
        message: String,
    },
    /// A local file could not be read.
    #[error("cannot read {path}: {message}")]
    File {
        /// The path.
        path: String,
        /// The IO error.
        message: String,
    },
}

impl FetchError {
    /// The response facts, if a response arrived.
    pub fn meta(&self) -> Option<&ResponseMeta> {
        match self {
            FetchError::Status { meta, .. } => Some(meta),
            _ => None,
        }
    }

    /// HTTP status, if a response arrived.
    pub fn status(&self) -> Option<u16> {
        self.meta().map(|m| m.status)
    }
}

impl ResponseMeta {
    /// How the request was redirected, for messages: `None` without a
    /// redirect, else e.g. `"redirects (301 Moved Permanently)"` naming the
    /// first hop's status.
    pub fn redirect_phrase(&self) -> Option<String> {
        let (first, _) = self.redirects.first()?;
        let hops = if self.redirects.len() > 1 { format!(", {} hops", self.redirects.len()) } else { String::new() };
        Some(format!("redirects ({first}{}{hops})", reason(*first)))
    }
}

fn reason(status: u16) -> String {
    StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).map(|r| format!(" {r}")).unwrap_or_default()
}

/// Most redirect hops followed for one fetch.
pub const MAX_REDIRECTS: usize = 5;

const ACCEPT_PAGE: &str = "text/html, application/xhtml+xml;q=0.9, */*;q=0.1";

const ACCEPT: &str = "application/atom+xml, application/rss+xml, application/feed+json, \
application/rdf+xml;q=0.9, application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5";

/// The process-wide fetcher. Cheap to clone.
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    settings: FetchSettings,
}

/// The User-Agent we send.
pub fn user_agent(contact: Option<&str>) -> String {
    let version = env!("CARGO_PKG_VERSION");
    match contact {
        Some(c) => format!("polyfeed/{version} (+{c})"),
        None => format!("polyfeed/{version} (+https://github.com/polyfeed/polyfeed)"),
    }
}

impl Fetcher {
    /// Builds the client from the settings.
    pub fn new(settings: &FetchSettings) -> Result<Fetcher, FetchError> {
        let client = reqwest::Client::builder()
            .user_agent(user_agent(settings.contact.as_deref()))
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| FetchError::Network(e.to_string()))?;
        Ok(Fetcher { client, settings: settings.clone() })
    }

    /// POSTs an `application/x-www-form-urlencoded` body (WebSub pings);
    /// returns the status. No redirects are followed.
    pub async fn post_form(&self, url: &Url, pairs: &[(&str, &str)]) -> Result<u16, FetchError> {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
        let resp = self
            .client
            .post(url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| FetchError::Network(e.to_string()))?;
        Ok(resp.status().as_u16())
    }

    /// Fetches a source, conditionally when validators are given.
    pub async fn fetch(&self, location: &Location, validators: &Validators) -> Result<Fetched, FetchError> {
        match location {
            Location::Http(url) => self.fetch_http(url, validators).await,
            Location::File(path) => body::read_file(path, validators, self.settings.max_decompressed_size).await,
        }
    }

    /// Fetches a web page (an entry's own page, for `follow_pages`) with the
    /// same client, limits and redirect handling, asking for HTML.
    pub async fn fetch_page(&self, url: &Url, validators: &Validators) -> Result<Fetched, FetchError> {
        self.fetch_http_accepting(url, validators, ACCEPT_PAGE).await
    }

    async fn fetch_http(&self, start: &Url, validators: &Validators) -> Result<Fetched, FetchError> {
        self.fetch_http_accepting(start, validators, ACCEPT).await
    }

    async fn fetch_http_accepting(
        &self,
        start: &Url,
        validators: &Validators,
        accept: &'static str,
    ) -> Result<Fetched, FetchError> {
        let mut url = start.clone();
        let mut visited = vec![url.to_string()];
        let mut moved_to: Option<String> = None;
        let mut redirects = Vec::new();
        let mut all_permanent = true;
        loop {
            let resp = self.send(&url, validators, accept).await?;
            let status = resp.status();
            if !status.is_redirection() || status == StatusCode::NOT_MODIFIED {
                let mut meta = meta_of(&resp, &url);
                meta.moved_to = moved_to;
                meta.redirects = redirects;
                return self.finish(resp, meta).await;
            }
            let next = redirect_target(&resp, &url)?;
            redirects.push((status.as_u16(), next.to_string()));
            all_permanent &= matches!(status, StatusCode::MOVED_PERMANENTLY | StatusCode::PERMANENT_REDIRECT);
            if all_permanent {
                moved_to = Some(next.to_string());
            }
            if visited.contains(&next.to_string()) {
                return Err(FetchError::RedirectLoop(next.to_string()));
            }
            if visited.len() > MAX_REDIRECTS {
                return Err(FetchError::TooManyRedirects(MAX_REDIRECTS));
            }
            visited.push(next.to_string());
            url = next;
        }
    }

    async fn send(
        &self,
        url: &Url,
        validators: &Validators,
        accept: &'static str,
    ) -> Result<reqwest::Response, FetchError> {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static(accept));
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip, br"));
        if let Some(v) = validators.etag.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(header::IF_NONE_MATCH, v);
        }
        if let Some(v) = validators.last_modified.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(header::IF_MODIFIED_SINCE, v);
        }
        self.client.get(url.clone()).headers(headers).send().await.map_err(|e| self.map_error(e))
    }

    async fn finish(&self, resp: reqwest::Response, mut meta: ResponseMeta) -> Result<Fetched, FetchError> {
        let status = resp.status();
        if status == StatusCode::NOT_MODIFIED {
            return Ok(Fetched::NotModified(meta));
        }
        let encoding = resp
            .headers()
            .get(header::CONTENT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.trim().to_ascii_lowercase());
        if !status.is_success() {
            meta.error_body = body::error_start(resp, encoding.as_deref()).await;
            return Err(FetchError::Status { status: status.as_u16(), meta: Box::new(meta) });
        }
        let raw = body::read_capped(resp, self.settings.max_body_size, |e| self.map_error(e)).await?;
        meta.wire_bytes = raw.len() as u64;
        let body = body::decompress(raw, encoding.as_deref(), self.settings.max_decompressed_size)?;
        Ok(Fetched::Body(body, meta))
    }

    fn map_error(&self, e: reqwest::Error) -> FetchError {
        if e.is_timeout() { FetchError::Timeout(self.settings.timeout) } else { FetchError::Network(error_chain(&e)) }
    }
}

/// The error with its causes, one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let s = c.to_string();
        if !out.contains(&s) {
            out.push_str(": ");
            out.push_str(&s);
        }
        cur = c.source();
    }
    out
}

fn header_str(h: &HeaderMap, name: header::HeaderName) -> Option<String> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
}

fn meta_of(resp: &reqwest::Response, url: &Url) -> ResponseMeta {
    let h = resp.headers();
    ResponseMeta {
        status: resp.status().as_u16(),
        final_url: url.to_string(),
        moved_to: None,
        redirects: Vec::new(),
        validators: Validators {
            etag: header_str(h, header::ETAG),
            last_modified: header_str(h, header::LAST_MODIFIED),
        },
        hints: ResponseHints::from_headers(h),
        wire_bytes: 0,
        content_type: header_str(h, header::CONTENT_TYPE),
        content_language: header_str(h, header::CONTENT_LANGUAGE),
        error_body: None,
    }
}

fn redirect_target(resp: &reqwest::Response, url: &Url) -> Result<Url, FetchError> {
    let loc = resp
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| FetchError::BadRedirect(format!("HTTP {} without Location", resp.status().as_u16())))?;
    let next = url.join(loc).map_err(|e| FetchError::BadRedirect(format!("{loc:?}: {e}")))?;
    if !matches!(next.scheme(), "http" | "https") {
        return Err(FetchError::BadRedirect(format!("refusing to follow a redirect to {next}")));
    }
    Ok(next)
}
