//! The operational endpoints: `/healthz` and `/metrics`, answered by an
//! [`Admin`] the caller supplies (the daemon's observer). They are never
//! artifacts: nothing publishes them as files, and they are never cached.

use std::sync::Arc;

use hyper::body::Bytes;
use hyper::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use super::response::Body;

/// Paths answered by the [`Admin`] rather than the site.
pub const PATHS: [&str; 2] = ["/healthz", "/metrics"];

/// What `/healthz` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// 200 when true, else 503.
    pub ok: bool,
    /// A small JSON object saying why.
    pub body: String,
}

/// The source of the operational answers. Both calls may block (they read
/// the database): the server runs them on a blocking thread.
pub trait Admin: Send + Sync + std::fmt::Debug + 'static {
    /// `/healthz`.
    fn health(&self) -> Health;
    /// `/metrics` in the Prometheus text format, or why it cannot be read.
    fn metrics(&self) -> Result<String, String>;
}

/// The answer to an admin path, or `None` when `request` is not for one.
pub(crate) async fn respond<B>(admin: &Arc<dyn Admin>, request: &Request<B>) -> Option<Response<Body>> {
    let path = request.uri().path();
    if !PATHS.contains(&path) || !matches!(*request.method(), Method::GET | Method::HEAD) {
        return None;
    }
    let head = request.method() == Method::HEAD;
    let admin = Arc::clone(admin);
    let metrics = path == "/metrics";
    let answer = tokio::task::spawn_blocking(move || {
        if metrics {
            match admin.metrics() {
                Ok(text) => (StatusCode::OK, "text/plain; version=0.0.4; charset=utf-8", text),
                Err(e) => (StatusCode::SERVICE_UNAVAILABLE, "text/plain; charset=utf-8", format!("{e}\n")),
            }
        } else {
            let h = admin.health();
            let status = if h.ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
            (status, "application/json", h.body + "\n")
        }
    })
    .await;
    let (status, content_type, body) = answer.unwrap_or_else(|e| {
        (StatusCode::INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8", format!("internal error: {e}\n"))
    });
    let length = HeaderValue::from(body.len());
    let mut response = Response::new(if head { Body::default() } else { Body::new(Bytes::from(body)) });
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CONTENT_LENGTH, length);
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Some(response)
}
