//! One artifact as served: everything a response needs that depends only on
//! the artifact (validators, media type, gzip copy), computed once rather
//! than per request: the validators at [`Site::replace`](super::Site::replace)
//! time, the gzip copy at the first request that needs it (compressing
//! every artifact up front was most of `serve`'s start-up and of each
//! re-render; artifacts nobody asks for are never compressed).

use std::io::Write;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use flate2::{Compression, write::GzEncoder};
use hyper::body::Bytes;
use hyper::header::HeaderValue;
use sha2::{Digest, Sha256};

use crate::publish::Artifact;

/// Bytes of the SHA-256 digest kept in an ETag (128 bits: no accidental collisions).
const ETAG_BYTES: usize = 16;

/// One artifact, ready to serve.
#[derive(Debug)]
pub(crate) struct Served {
    /// `Content-Type`, from the artifact.
    pub content_type: HeaderValue,
    /// `Last-Modified` as a time, whole seconds, for `If-Modified-Since` comparisons.
    pub last_modified: SystemTime,
    /// `Last-Modified` as sent.
    pub last_modified_header: HeaderValue,
    /// The body as rendered.
    pub identity: Variant,
    /// The body gzip-compressed, when that is smaller; made on first use
    /// (see [`Served::gzip`]).
    gzip: OnceLock<Option<Variant>>,
    /// The hex digest prefix both ETags are made from.
    hash: String,
}

/// One representation of an artifact: its bytes and their strong ETag.
#[derive(Debug)]
pub(crate) struct Variant {
    /// The bytes sent.
    pub body: Bytes,
    /// Quoted strong ETag. The gzip copy gets its own (suffix `-gz`): a strong
    /// validator names exact bytes, and the two representations differ.
    pub etag: HeaderValue,
    /// Whether `body` is gzip-compressed (sent with `Content-Encoding: gzip`).
    pub gzipped: bool,
}

impl Served {
    /// Prepares `artifact`; `now` caps `Last-Modified` (never announce a future date).
    pub fn new(artifact: Artifact, now: SystemTime) -> Served {
        let hash = hex_prefix(&artifact.body);
        let last_modified = whole_seconds(SystemTime::from(artifact.updated), now);
        Served {
            content_type: HeaderValue::from_str(artifact.content_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream")),
            last_modified,
            last_modified_header: header(&httpdate::fmt_http_date(last_modified)),
            identity: Variant { body: artifact.body.into(), etag: etag(&hash, ""), gzipped: false },
            gzip: OnceLock::new(),
            hash,
        }
    }

    /// The gzip copy, when it is smaller than the body; compressed at the
    /// first call, then kept (the same bytes for every later request).
    pub fn gzip(&self) -> Option<&Variant> {
        self.gzip
            .get_or_init(|| {
                gzip(&self.identity.body).map(|body| Variant {
                    body: body.into(),
                    etag: etag(&self.hash, "-gz"),
                    gzipped: true,
                })
            })
            .as_ref()
    }

    /// The gzip copy if the client accepts it and there is one, else the body as rendered.
    pub fn variant(&self, accepts_gzip: bool) -> &Variant {
        if accepts_gzip && let Some(gz) = self.gzip() {
            return gz;
        }
        &self.identity
    }
}

impl Variant {
    /// The ETag without quotes, as compared with `If-None-Match` entries.
    pub fn opaque_tag(&self) -> &[u8] {
        let quoted = self.etag.as_bytes();
        &quoted[1..quoted.len() - 1]
    }
}

/// Lower-case hex of the first [`ETAG_BYTES`] of the body's SHA-256.
fn hex_prefix(body: &[u8]) -> String {
    Sha256::digest(body)[..ETAG_BYTES].iter().map(|b| format!("{b:02x}")).collect()
}

fn etag(hash: &str, suffix: &str) -> HeaderValue {
    header(&format!("\"{hash}{suffix}\""))
}

/// A header value from text we formatted ourselves (hex digits, HTTP dates).
fn header(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).expect("formatted header values are visible ASCII")
}

/// `t` truncated to whole seconds, as an HTTP date can say it, clamped to
/// `[1970, now]` (HTTP dates cannot express earlier times).
fn whole_seconds(t: SystemTime, now: SystemTime) -> SystemTime {
    let clamped = t.clamp(UNIX_EPOCH, now.max(UNIX_EPOCH));
    let secs = clamped.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    UNIX_EPOCH + std::time::Duration::from_secs(secs)
}

/// The body gzip-compressed, or `None` when that would not be smaller.
fn gzip(body: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(body).ok()?;
    let compressed = encoder.finish().ok()?;
    (compressed.len() < body.len()).then_some(compressed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use std::time::Duration;

    fn served(body: &[u8], updated: chrono::DateTime<Utc>) -> Served {
        let artifact = Artifact { path: "all.atom".into(), content_type: "text/plain", body: body.to_vec(), updated };
        Served::new(artifact, UNIX_EPOCH + Duration::from_secs(2_000_000_000))
    }

    #[test]
    fn etag_is_a_quoted_sha256_prefix_and_the_gzip_copy_has_its_own() {
        let s = served(&b"hello ".repeat(100), Utc.timestamp_opt(1_700_000_000, 0).unwrap());
        let etag = s.identity.etag.to_str().unwrap();
        assert_eq!(etag.len(), 2 + 2 * ETAG_BYTES);
        assert!(etag.starts_with('"') && etag.ends_with('"'));
        assert_eq!(&etag[1..33], &hex_prefix(&b"hello ".repeat(100)));
        let gz = s.gzip().expect("repetitive text compresses");
        assert_eq!(gz.etag.to_str().unwrap(), format!("{}-gz\"", &etag[..33]));
        assert!(gz.gzipped && !s.identity.gzipped);
        assert_eq!(s.identity.opaque_tag(), &etag.as_bytes()[1..33]);
    }

    #[test]
    fn the_gzip_copy_is_made_at_the_first_request_that_needs_it() {
        let s = served(&b"hello ".repeat(100), Utc.timestamp_opt(1_700_000_000, 0).unwrap());
        assert!(s.gzip.get().is_none(), "nothing compressed before a request");
        assert!(!s.variant(false).gzipped);
        assert!(s.gzip.get().is_none(), "an identity request compresses nothing");
        let first = s.variant(true).body.clone();
        assert!(s.variant(true).gzipped && s.gzip.get().is_some());
        assert_eq!(s.variant(true).body, first, "kept, not compressed again");
    }

    #[test]
    fn no_gzip_copy_when_it_would_not_be_smaller() {
        let s = served(b"x", Utc.timestamp_opt(0, 0).unwrap());
        assert!(s.gzip().is_none());
        assert!(!s.variant(true).gzipped);
    }

    #[test]
    fn last_modified_is_whole_seconds_and_never_in_the_future_or_before_1970() {
        let s = served(b"x", Utc.timestamp_opt(1_700_000_000, 999_000_000).unwrap());
        assert_eq!(s.last_modified, UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        assert_eq!(s.last_modified_header, "Tue, 14 Nov 2023 22:13:20 GMT");
        let future = served(b"x", Utc.timestamp_opt(3_000_000_000, 0).unwrap());
        assert_eq!(future.last_modified, UNIX_EPOCH + Duration::from_secs(2_000_000_000));
        let ancient = served(b"x", Utc.with_ymd_and_hms(1900, 1, 1, 0, 0, 0).unwrap());
        assert_eq!(ancient.last_modified_header, "Thu, 01 Jan 1970 00:00:00 GMT");
    }
}
