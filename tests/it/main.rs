//! The integration tests, as one test binary (`it`): each file of this
//! folder is one module. One binary instead of one per file: every test
//! binary links the whole crate and its dependencies (about 240 MB each in
//! the dev profile), so 24 of them cost minutes of a fresh build for nothing
//! (BENCHMARKS.md, "CI on a fresh clone").
//!
//! Run one file's tests with `cargo test --test it add::`, one test with
//! `cargo test --test it add::failures_say_what_happened` (a filter
//! matches the test's path, `module::name`).
//!
//! The tests share one process: none may change the process's environment
//! or current directory (give them to the child `Command` instead), and each
//! uses its own temporary folder and loopback ports. A new test file is a
//! module here, not a file of its own in `tests/` (that would be a binary of
//! its own again). `tests/common/mod.rs` stays where standalone test files
//! find it with `mod common;`.

#[path = "../common/mod.rs"]
mod common;

mod add;
mod bench_smoke;
mod browser;
mod cli;
mod conformance;
mod copy_store;
mod crash_safety;
mod daemon;
mod dedup_bench;
mod disk;
mod eval_dedup;
mod examples;
mod extcheck;
mod feed_rules;
mod lexicon;
mod misbehaving;
mod nodes;
mod observe;
mod parse_fixtures;
mod politeness;
mod poll_http;
mod postgres;
mod publish;
mod reload;
mod serve_http;
mod story_rules;
mod websub;
