//! Building responses: 200 and 304 for an artifact, 404 and 405. Headers only
//! ever come from values computed in `served` and `site`.

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{
    ALLOW, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, ETAG, HeaderMap, HeaderValue, LAST_MODIFIED,
    VARY,
};
use hyper::{Response, StatusCode};

use super::served::{Served, Variant};

/// Every response body is whole bytes from memory.
pub(crate) type Body = Full<Bytes>;

/// 200 with the variant's bytes (none for HEAD; the headers are the same).
pub(crate) fn artifact(served: &Served, variant: &Variant, cache_control: &HeaderValue, head: bool) -> Response<Body> {
    let mut response = with_body(StatusCode::OK, variant.body.clone(), head);
    let headers = response.headers_mut();
    validators(headers, served, variant, cache_control);
    headers.insert(CONTENT_TYPE, served.content_type.clone());
    if variant.gzipped {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

/// 304: no body, but the validators and caching headers a 200 would carry (RFC 9110 section 15.4.5).
pub(crate) fn not_modified(served: &Served, variant: &Variant, cache_control: &HeaderValue) -> Response<Body> {
    let mut response = Response::new(Body::default());
    *response.status_mut() = StatusCode::NOT_MODIFIED;
    validators(response.headers_mut(), served, variant, cache_control);
    response
}

/// 404 with a short text body.
pub(crate) fn not_found(head: bool) -> Response<Body> {
    text(StatusCode::NOT_FOUND, "not found\n", head)
}

/// 405 naming the methods we answer.
pub(crate) fn method_not_allowed() -> Response<Body> {
    let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n", false);
    response.headers_mut().insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
    response
}

fn validators(headers: &mut HeaderMap, served: &Served, variant: &Variant, cache_control: &HeaderValue) {
    headers.insert(ETAG, variant.etag.clone());
    headers.insert(LAST_MODIFIED, served.last_modified_header.clone());
    headers.insert(CACHE_CONTROL, cache_control.clone());
    if served.gzip().is_some() {
        headers.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
    }
}

fn text(status: StatusCode, message: &'static str, head: bool) -> Response<Body> {
    let mut response = with_body(status, Bytes::from_static(message.as_bytes()), head);
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response
}

/// A response with `Content-Length` of `body`, and `body` itself unless this answers a HEAD.
fn with_body(status: StatusCode, body: Bytes, head: bool) -> Response<Body> {
    let length = HeaderValue::from(body.len());
    let mut response = Response::new(if head { Body::default() } else { Full::new(body) });
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_LENGTH, length);
    response
}
