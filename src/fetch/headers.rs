//! Response headers that say "not yet": Cache-Control, Expires, Retry-After.
//! Parsed once here, interpreted by the scheduler.

use std::time::{Duration, SystemTime};

use reqwest::header::{self, HeaderMap};

/// Longest Retry-After we honour (longer values are capped).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3 * 24 * 3600);

/// Caching and back-off hints of one response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseHints {
    /// `Cache-Control: max-age` (or `s-maxage`), seconds.
    pub max_age: Option<u64>,
    /// `Expires` minus `Date` (or now), seconds, when in the future.
    pub expires_in: Option<u64>,
    /// `Retry-After`, seconds from now, capped at [`MAX_RETRY_AFTER`].
    pub retry_after: Option<u64>,
}

impl ResponseHints {
    /// Reads the hints from response headers.
    pub fn from_headers(h: &HeaderMap) -> ResponseHints {
        let get = |n: header::HeaderName| h.get(n).and_then(|v| v.to_str().ok());
        let now = get(header::DATE).and_then(|d| httpdate::parse_http_date(d).ok()).unwrap_or_else(SystemTime::now);
        ResponseHints {
            max_age: get(header::CACHE_CONTROL).and_then(parse_max_age),
            expires_in: get(header::EXPIRES)
                .and_then(|e| httpdate::parse_http_date(e).ok())
                .and_then(|t| t.duration_since(now).ok())
                .map(|d| d.as_secs()),
            retry_after: get(header::RETRY_AFTER).and_then(|v| parse_retry_after(v, now)).map(|d| d.as_secs()),
        }
    }
}

fn parse_max_age(cc: &str) -> Option<u64> {
    let mut best = None;
    for part in cc.split(',') {
        let part = part.trim().to_ascii_lowercase();
        if part == "no-store" || part == "no-cache" {
            return None;
        }
        if let Some(v) = part.strip_prefix("s-maxage=").or_else(|| part.strip_prefix("max-age=")) {
            best = v.trim_matches('"').parse().ok().or(best);
        }
    }
    best
}

/// Parses `Retry-After` (delta seconds or an HTTP date relative to `now`),
/// capped at [`MAX_RETRY_AFTER`].
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    let d = match v.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => httpdate::parse_http_date(v).ok()?.duration_since(now).unwrap_or(Duration::ZERO),
    };
    Some(d.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_and_no_cache() {
        assert_eq!(parse_max_age("public, max-age=3600"), Some(3600));
        assert_eq!(parse_max_age("max-age=60, s-maxage=600"), Some(600));
        assert_eq!(parse_max_age("no-cache, max-age=60"), None);
        assert_eq!(parse_max_age("private"), None);
    }

    #[test]
    fn retry_after_seconds_date_and_cap() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2026 07:28:00 GMT").unwrap();
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2026 07:30:00 GMT", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2026 07:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("99999999", now), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
