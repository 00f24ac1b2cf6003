//! Conditional GET (RFC 9110 section 13.2.2): `If-None-Match` first, with the
//! weak comparison; only without it, `If-Modified-Since`, compared as a date
//! (readers rebuild the string, so equal text is not the test).

use std::time::SystemTime;

use hyper::header::{HeaderMap, IF_MODIFIED_SINCE, IF_NONE_MATCH};

use super::served::Variant;

/// Whether the client's copy is current, so the answer is 304.
pub(crate) fn not_modified(headers: &HeaderMap, variant: &Variant, last_modified: SystemTime) -> bool {
    let mut none_match = headers.get_all(IF_NONE_MATCH).into_iter().peekable();
    if none_match.peek().is_some() {
        return none_match.any(|v| lists(v.as_bytes(), variant.opaque_tag()));
    }
    modified_since(headers).is_some_and(|since| last_modified <= since)
}

/// Whether an `If-None-Match` value is `*` or lists `tag`, `W/` or not.
fn lists(value: &[u8], tag: &[u8]) -> bool {
    if value.trim_ascii() == b"*" {
        return true;
    }
    let mut rest = value;
    loop {
        rest = rest.trim_ascii_start();
        rest = rest.strip_prefix(b",").unwrap_or(rest).trim_ascii_start();
        if rest.is_empty() {
            return false;
        }
        let Some((opaque, after)) = next_entity_tag(rest) else { return false };
        if opaque == tag {
            return true;
        }
        rest = after;
    }
}

/// The opaque tag (without quotes) at the start of `s`, and what follows it.
fn next_entity_tag(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let s = s.strip_prefix(b"W/").unwrap_or(s).strip_prefix(b"\"")?;
    let end = s.iter().position(|&b| b == b'"')?;
    Some((&s[..end], &s[end + 1..]))
}

/// The `If-Modified-Since` date, if there is exactly one and it is a valid HTTP date (any of the three formats).
fn modified_since(headers: &HeaderMap) -> Option<SystemTime> {
    let mut values = headers.get_all(IF_MODIFIED_SINCE).into_iter();
    let (Some(value), None) = (values.next(), values.next()) else { return None };
    httpdate::parse_http_date(value.to_str().ok()?.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::body::Bytes;
    use hyper::header::HeaderValue;
    use std::time::{Duration, UNIX_EPOCH};

    /// Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT.
    const LM: u64 = 784_111_777;

    fn variant() -> Variant {
        Variant { body: Bytes::new(), etag: HeaderValue::from_static("\"abc\""), gzipped: false }
    }

    fn check(headers: &[(hyper::header::HeaderName, &str)]) -> bool {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(name, HeaderValue::from_str(value).unwrap());
        }
        not_modified(&map, &variant(), UNIX_EPOCH + Duration::from_secs(LM))
    }

    #[test]
    fn if_none_match_exact_weak_listed_and_star() {
        assert!(check(&[(IF_NONE_MATCH, "\"abc\"")]));
        assert!(check(&[(IF_NONE_MATCH, "W/\"abc\"")]));
        assert!(check(&[(IF_NONE_MATCH, "\"x\", W/\"y,z\" ,\"abc\"")]));
        assert!(check(&[(IF_NONE_MATCH, "\"x\""), (IF_NONE_MATCH, "\"abc\"")]));
        assert!(check(&[(IF_NONE_MATCH, " * ")]));
        assert!(!check(&[(IF_NONE_MATCH, "\"abcd\"")]));
        assert!(!check(&[(IF_NONE_MATCH, "abc")]), "unquoted is not an entity tag");
        assert!(!check(&[(IF_NONE_MATCH, "w/\"abc\"")]), "W/ is case-sensitive");
        assert!(!check(&[(IF_NONE_MATCH, "\"abc")]));
    }

    #[test]
    fn if_none_match_takes_precedence_over_if_modified_since() {
        assert!(!check(&[(IF_NONE_MATCH, "\"old\""), (IF_MODIFIED_SINCE, "Sun, 06 Nov 1994 08:49:37 GMT")]));
        assert!(check(&[(IF_NONE_MATCH, "\"abc\""), (IF_MODIFIED_SINCE, "Sat, 01 Jan 1994 00:00:00 GMT")]));
    }

    #[test]
    fn if_modified_since_is_a_date_comparison_in_any_format() {
        assert!(check(&[(IF_MODIFIED_SINCE, "Sun, 06 Nov 1994 08:49:37 GMT")]));
        assert!(check(&[(IF_MODIFIED_SINCE, "Sunday, 06-Nov-94 08:49:37 GMT")]));
        assert!(check(&[(IF_MODIFIED_SINCE, "Sun Nov  6 08:49:37 1994")]));
        assert!(check(&[(IF_MODIFIED_SINCE, "Sun, 06 Nov 1994 08:49:38 GMT")]));
        assert!(!check(&[(IF_MODIFIED_SINCE, "Sun, 06 Nov 1994 08:49:36 GMT")]));
        assert!(!check(&[(IF_MODIFIED_SINCE, "yesterday")]));
        assert!(!check(&[(IF_MODIFIED_SINCE, "Sun, 06 Nov 1994 08:49:37 GMT"), (IF_MODIFIED_SINCE, "x")]));
        assert!(!check(&[]));
    }
}
