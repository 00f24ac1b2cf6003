//! Bounded body reading and decompression, and local-file "fetches".

use std::io::Read;
use std::path::Path;

use futures_util::StreamExt;

use super::{FetchError, Fetched, ResponseMeta, Validators};

/// Reads a response body, failing as soon as it passes `limit` bytes.
pub(super) async fn read_capped(
    resp: reqwest::Response,
    limit: u64,
    map_err: impl Fn(reqwest::Error) -> FetchError,
) -> Result<Vec<u8>, FetchError> {
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(FetchError::TooLarge { limit, what: "body" });
    }
    let cap = resp.content_length().unwrap_or(64 * 1024).min(limit) as usize;
    let mut out = Vec::with_capacity(cap);
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(&map_err)?;
        if (out.len() + chunk.len()) as u64 > limit {
            return Err(FetchError::TooLarge { limit, what: "body" });
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Bytes of an error body kept for messages.
const ERROR_START: usize = 2048;

/// The start of an error response's body: at most [`ERROR_START`] bytes
/// after decompression, read for at most two seconds. `None` when nothing
/// usable arrived in time.
pub(super) async fn error_start(resp: reqwest::Response, encoding: Option<&str>) -> Option<String> {
    let read = async {
        let mut raw = Vec::new();
        let mut stream = resp.bytes_stream();
        while let Some(Ok(chunk)) = stream.next().await {
            raw.extend_from_slice(&chunk);
            if raw.len() >= 8 * ERROR_START {
                break;
            }
        }
        raw
    };
    let raw = tokio::time::timeout(std::time::Duration::from_secs(2), read).await.ok()?;
    let mut out = Vec::new();
    let mut reader: Box<dyn Read + '_> = match encoding.unwrap_or("identity") {
        "" | "identity" => Box::new(&raw[..]),
        "gzip" | "x-gzip" => Box::new(flate2::read::MultiGzDecoder::new(&raw[..])),
        "deflate" => deflate_reader(&raw),
        "br" => Box::new(brotli::Decompressor::new(&raw[..], 4096)),
        _ => return None,
    };
    // A truncated stream still yields what was decoded before the cut.
    let mut buf = [0u8; 512];
    while out.len() < ERROR_START {
        match reader.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
        }
    }
    out.truncate(ERROR_START);
    let text = String::from_utf8_lossy(&out).trim().to_string();
    (!text.is_empty()).then_some(text)
}

/// Undoes `Content-Encoding`, refusing output larger than `limit`.
pub(super) fn decompress(raw: Vec<u8>, encoding: Option<&str>, limit: u64) -> Result<Vec<u8>, FetchError> {
    let encoding = encoding.unwrap_or("identity");
    let reader: Box<dyn Read + '_> = match encoding {
        "" | "identity" => {
            if raw.len() as u64 > limit {
                return Err(FetchError::TooLarge { limit, what: "decompressed" });
            }
            return Ok(raw);
        }
        "gzip" | "x-gzip" => Box::new(flate2::read::MultiGzDecoder::new(&raw[..])),
        "deflate" => deflate_reader(&raw),
        "br" => Box::new(brotli::Decompressor::new(&raw[..], 64 * 1024)),
        other => {
            return Err(FetchError::Decode { encoding: other.to_string(), message: "unsupported encoding".into() });
        }
    };
    let mut out = Vec::with_capacity(raw.len().saturating_mul(4).min(limit as usize));
    reader
        .take(limit + 1)
        .read_to_end(&mut out)
        .map_err(|e| FetchError::Decode { encoding: encoding.to_string(), message: e.to_string() })?;
    if out.len() as u64 > limit {
        return Err(FetchError::TooLarge { limit, what: "decompressed" });
    }
    Ok(out)
}

/// `deflate` is zlib-wrapped by the spec, raw deflate in practice: accept both.
fn deflate_reader(raw: &[u8]) -> Box<dyn Read + '_> {
    let zlib = raw.len() >= 2 && raw[0] & 0x0f == 8 && (u16::from(raw[0]) << 8 | u16::from(raw[1])) % 31 == 0;
    if zlib { Box::new(flate2::read::ZlibDecoder::new(raw)) } else { Box::new(flate2::read::DeflateDecoder::new(raw)) }
}

/// Reads a local file as a fetch: its modification time stands in for
/// `Last-Modified`, so an unchanged file is "not modified".
pub(super) async fn read_file(path: &Path, validators: &Validators, limit: u64) -> Result<Fetched, FetchError> {
    let err = |e: std::io::Error| FetchError::File { path: path.display().to_string(), message: e.to_string() };
    let md = tokio::fs::metadata(path).await.map_err(err)?;
    if md.len() > limit {
        return Err(FetchError::TooLarge { limit, what: "body" });
    }
    let stamp = md.modified().ok().map(|t| format!("{} {}", httpdate::fmt_http_date(t), md.len()));
    let meta = ResponseMeta {
        status: 200,
        final_url: url::Url::from_file_path(path).map(|u| u.to_string()).unwrap_or_default(),
        validators: Validators { etag: None, last_modified: stamp.clone() },
        ..ResponseMeta::default()
    };
    if stamp.is_some() && validators.last_modified == stamp {
        return Ok(Fetched::NotModified(ResponseMeta { status: 304, ..meta }));
    }
    let body = tokio::fs::read(path).await.map_err(err)?;
    if body.len() as u64 > limit {
        return Err(FetchError::TooLarge { limit, what: "body" });
    }
    Ok(Fetched::Body(body, ResponseMeta { wire_bytes: md.len(), ..meta }))
}
