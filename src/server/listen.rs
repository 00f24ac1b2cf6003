//! The accept loop and shutdown: accept while a connection slot is free,
//! stop on the shutdown trigger, then give open connections
//! [`Limits::shutdown_grace`] to finish before dropping them.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tracing::Instrument;

use super::{Admin, Limits, Site, connection};

/// Serves until `shutdown` completes; then stops accepting and lets in-flight requests finish (bounded, e.g. 5 s).
pub async fn run(listener: TcpListener, site: Arc<Site>, shutdown: impl Future<Output = ()>) -> io::Result<()> {
    run_with_limits(listener, site, shutdown, Limits::default()).await
}

/// [`run`] with explicit [`Limits`].
pub async fn run_with_limits(
    listener: TcpListener,
    site: Arc<Site>,
    shutdown: impl Future<Output = ()>,
    limits: Limits,
) -> io::Result<()> {
    run_with(listener, site, None, shutdown, limits).await
}

/// [`run_with_limits`], also answering `/healthz` and `/metrics` from `admin` when given.
pub async fn run_with(
    listener: TcpListener,
    site: Arc<Site>,
    admin: Option<Arc<dyn Admin>>,
    shutdown: impl Future<Output = ()>,
    limits: Limits,
) -> io::Result<()> {
    tracing::info!(addr = %listener.local_addr()?, "serving");
    let (stop, stopping) = watch::channel(false);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(done) = connections.join_next() => log_panic(done),
            (stream, peer, slot) = accept(&listener, &slots) => {
                let serve = connection::serve(stream, Arc::clone(&site), admin.clone(), limits, stopping.clone(), slot);
                connections.spawn(serve.instrument(tracing::debug_span!("connection", %peer)));
            }
        }
    }
    drop(listener);
    let _ = stop.send(true);
    drain(connections, limits.shutdown_grace).await;
    Ok(())
}

/// The next connection, once a slot is free. Cancel-safe: a dropped call loses no connection.
async fn accept(listener: &TcpListener, slots: &Arc<Semaphore>) -> (TcpStream, SocketAddr, OwnedSemaphorePermit) {
    let slot = Arc::clone(slots).acquire_owned().await.expect("the connection semaphore is never closed");
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => return (stream, peer, slot),
            Err(error) => pause_after(error).await,
        }
    }
}

/// Accept errors are not fatal. The client's own failures are skipped; the
/// rest (out of file descriptors, mostly) get a short pause instead of a spin.
async fn pause_after(error: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(error.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        tracing::debug!(%error, "accept failed");
        return;
    }
    tracing::warn!(%error, "accept failed; pausing");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Waits up to `grace` for the connections (already told to stop) to close, then drops the rest.
async fn drain(mut connections: JoinSet<()>, grace: Duration) {
    let all_closed = async {
        while let Some(done) = connections.join_next().await {
            log_panic(done);
        }
    };
    if tokio::time::timeout(grace, all_closed).await.is_err() {
        tracing::warn!(open = connections.len(), "shutdown grace period over; dropping connections");
        connections.shutdown().await;
    }
    tracing::info!("server stopped");
}

fn log_panic(done: Result<(), tokio::task::JoinError>) {
    if let Err(error) = done
        && error.is_panic()
    {
        tracing::error!(%error, "connection task panicked");
    }
}
