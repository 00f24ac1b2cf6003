//! The HTTP/1.1 server: serves published [`Artifact`](crate::publish::Artifact)s
//! from memory, the same bytes the file sink writes.
//!
//! - `site`: the [`Site`], swapped whole when the renderer publishes.
//! - `served`: one artifact as served, with its validators and gzip copy computed once.
//! - `path`, `negotiate`, `conditional`: reading the request (path, `Accept-Encoding`, validators).
//! - `handler`, `response`: deciding and building the response.
//! - `listen`, `connection`, `limits`: accepting, per-connection limits, graceful shutdown.
//! - `admin`: `/healthz` and `/metrics`, answered by an [`Admin`] when one is given.
//!
//! Invariants: request bodies are never read; a request path is only ever a
//! key in the in-memory map, never a filesystem path.

mod admin;
mod conditional;
mod connection;
mod handler;
mod limits;
mod listen;
mod negotiate;
mod path;
mod response;
mod served;
mod site;

pub use admin::{Admin, Health, PATHS as ADMIN_PATHS};
pub use limits::Limits;
pub use listen::{run, run_with, run_with_limits};
pub use site::Site;
