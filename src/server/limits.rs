//! The bounds that keep one client from holding the server: header size,
//! header read time, concurrent connections, and the shutdown grace period.

use std::time::Duration;

/// Resource bounds for [`run_with_limits`](super::run_with_limits); [`run`](super::run) uses the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Time a client has to send a complete request head (line and headers),
    /// counted from when the server starts waiting for it; also bounds idle
    /// keep-alive connections. Cuts off slowloris clients.
    pub header_read_timeout: Duration,
    /// Largest request head accepted, in bytes; larger heads get 431.
    /// hyper's minimum is 8192, smaller values are raised to it.
    pub max_header_bytes: usize,
    /// Connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// After shutdown, how long open connections get to finish before they are dropped.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            max_connections: 512,
            shutdown_grace: Duration::from_secs(5),
        }
    }
}
