//! One TCP connection: hyper's HTTP/1.1 state machine with our limits (head
//! size, head read time), a graceful close when the server stops, and the
//! connection slot held until the socket is gone.

use std::convert::Infallible;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, watch};

use super::response::Body;
use super::{Admin, Limits, Site, admin, handler};

/// hyper refuses a smaller read buffer.
const MIN_BUF: usize = 8192;

/// Serves `stream` until the client leaves, a limit cuts it off, or `stopping`
/// turns true (then the request in flight finishes and the connection closes).
pub(super) async fn serve(
    stream: TcpStream,
    site: Arc<Site>,
    admin: Option<Arc<dyn Admin>>,
    limits: Limits,
    mut stopping: watch::Receiver<bool>,
    _slot: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |request| {
        let (site, admin) = (Arc::clone(&site), admin.clone());
        async move { Ok::<_, Infallible>(answer(&site, admin.as_ref(), &request).await) }
    });
    let connection = builder(&limits).serve_connection(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = stopped(&mut stopping) => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%error, "connection closed with an error");
    }
}

/// Completes when the server stops (or is gone).
async fn stopped(stopping: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns must not live across an await: drop it here.
    let _ = stopping.wait_for(|stop| *stop).await;
}

fn builder(limits: &Limits) -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(MIN_BUF));
    builder
}

/// The response, logged: the admin's for its paths, else the site's.
async fn answer(site: &Site, admin: Option<&Arc<dyn Admin>>, request: &Request<Incoming>) -> Response<Body> {
    let admin_answer = match admin {
        Some(admin) => admin::respond(admin, request).await,
        None => None,
    };
    let response = admin_answer.unwrap_or_else(|| handler::respond(site, request));
    tracing::debug!(
        method = %request.method(),
        path = request.uri().path(),
        status = response.status().as_u16(),
        gzip = response.headers().contains_key(hyper::header::CONTENT_ENCODING),
        "request"
    );
    response
}
