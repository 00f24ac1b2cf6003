//! Micro-benchmark of story assignment: feature extraction per entry and
//! `decide` per new entry against candidate pools of growing size (the
//! store hands `decide` only the entries in its time window, so its cost
//! follows the window's size, not the database's). Ignored by default:
//!
//!     cargo test --release --test it dedup_bench:: -- --ignored --nocapture
//!
//! `BENCH_POOLS=100,1000,10000` sets the pool sizes; with N stored entries
//! posted evenly over D days the pool is about N * 7 / D (1M entries over
//! two years: about 10k). Synthetic texts (en/fi/sv), tiny lexicon.

use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use polyfeed::dedup::content::{Lexicon, content_features_with};
use polyfeed::dedup::{Candidate, Features, decide};

const WORDS: &[&str] = &[
    "city", "bridge", "library", "council", "budget", "school", "road", "park", "museum", "harbour", "station",
    "festival", "winter", "summer", "traffic", "water", "energy", "housing", "health", "culture",
];

/// Stored entries are one minute apart, so 10k of them span 7 days.
/// A deterministic pseudo-random text of `paras` paragraphs.
fn text(seed: u64, paras: usize) -> String {
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let mut next = || {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (x >> 33) as usize
    };
    (0..paras)
        .map(|_| {
            (0..40).map(|_| WORDS[next() % WORDS.len()]).collect::<Vec<_>>().join(" ") + &format!(" {}.", next() % 9000)
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn entry(lex: &Lexicon, i: u64) -> Features {
    let lang = ["en", "fi", "sv"][(i % 3) as usize];
    let body = text(i, 4 + (i % 5) as usize);
    Features {
        lang: Some(lang.into()),
        published: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::minutes(i as i64),
        source_id: (i % 7) as i64,
        content: content_features_with(lex, lang, &format!("Post {i}"), &body),
        ..Features::default()
    }
}

#[test]
#[ignore]
fn assignment_cost_by_pool_size() {
    let table = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/eval_dedup/lexicon.tsv"));
    let lex = Lexicon::parse(&table.expect("fixture lexicon"), "bench");
    let pools: Vec<usize> = std::env::var("BENCH_POOLS")
        .unwrap_or_else(|_| "100,1000,10000".into())
        .split(',')
        .filter_map(|p| p.trim().parse().ok())
        .collect();
    let max = pools.iter().copied().max().unwrap_or(0);
    let t = Instant::now();
    let stored: Vec<Candidate> = (0..max as u64)
        .map(|i| Candidate {
            entry_id: i as i64,
            story_id: i.to_string().into(),
            story_langs: Default::default(),
            features: std::sync::Arc::new(entry(&lex, i)),
        })
        .collect();
    println!("features: {:.1} us/entry", t.elapsed().as_secs_f64() * 1e6 / max.max(1) as f64);
    for pool in pools {
        let at = stored[pool.saturating_sub(1)].features.published; // every candidate within the window
        let news: Vec<Features> = (0..50).map(|k| Features { published: at, ..entry(&lex, 10_000_000 + k) }).collect();
        let t = Instant::now();
        for n in &news {
            std::hint::black_box(decide(n, &stored[..pool]));
        }
        println!("decide with {pool} candidates: {:.1} us/entry", t.elapsed().as_secs_f64() * 1e6 / news.len() as f64);
    }
}
