//! polyfeed: a feed aggregator that recognises one post published in several
//! languages and republishes it once, in the reader's language.
//!
//! The components, in pipeline order:
//!
//! - [`config`]: feeds.toml, read strictly and validated, with file:line:column errors.
//! - [`fetch`]: the one HTTP client; conditional GET, redirects, bounded bodies, local files.
//! - [`parse`]: bytes to [`model::RawFeed`]: encodings, feed-rs behind guards, rss fallback.
//! - [`normalise`]: raw entries to [`model::Entry`]: ids, URLs, language, dates, sanitised HTML.
//! - [`store`]: the only module with SQL: SQLite, migrations, sources, entries.
//! - [`stories`]: the story rules (assignment, merges, splits), once, over a data-access trait each store implements.
//! - [`schedule`]: when each source is due next, and why.
//! - [`pipeline`]: one poll cycle, readable top to bottom.
//! - [`follow`]: `follow_pages`, the one fetch of an entry's own page for its hreflang links.
//! - [`server`]: serves published artifacts over HTTP/1.1 from memory: validators, gzip, limits.
//! - [`discover`]: feed discovery for `add` (pages, language versions, usual paths) and OPML reading.
//! - [`observe`]: `/healthz` and `/metrics` (Prometheus text) for `serve` and `run`.
//! - [`daemon`], [`reload`]: the long-running modes; config reload on SIGHUP or file change.
//! - [`cli`]: the command line.
//!
//! Pure modules (`model`, `lang`, `markup`, `parse`, `normalise`, `schedule`)
//! do no IO and read no clock.

// The library has no `unsafe` at all; the binary's allocator choice and
// calls (jemalloc's options and mallctl; glibc's mallopt, malloc_trim) are
// in main.rs.
#![forbid(unsafe_code)]

pub mod cli;
pub mod clock;
pub mod config;
pub mod cpu;
pub mod daemon;
pub mod dedup;
pub mod discover;
pub mod fetch;
pub mod follow;
pub mod hosts;
pub mod lang;
pub mod lexicon;
pub mod markup;
pub mod model;
pub mod node;
pub mod normalise;
pub mod observe;
pub mod parse;
pub mod pipeline;
pub mod publish;
pub mod reload;
pub mod schedule;
pub mod server;
pub mod store;
pub mod stories;
pub mod story;
pub mod tags;
pub mod websub;
