//! `follow_pages`: the one fetch of an entry's own web page, for the
//! `<link rel="alternate" hreflang>` tags most multilingual CMSs put there.
//! Runs once per poll cycle after the feeds, on the same client and behind
//! the same per-host gates (concurrency and spacing) as the feeds, for at
//! most [`PAGES_PER_CYCLE`] entries; each page is fetched once (failures
//! from the network or 5xx/429 up to three times over later cycles). What a
//! page says is stored by `Store::save_pages`.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tracing::{Instrument, debug, info_span};

use crate::config::Config;
use crate::fetch::{FetchError, Fetched, Fetcher, Validators};
use crate::pipeline::{HostGate, PollError, SharedStore, blocking, host_of, lock};
use crate::store::{PageResult, PageTodo};

/// Most entry pages fetched in one cycle (the rest wait for later cycles).
pub const PAGES_PER_CYCLE: usize = 50;

/// Fetches the pages still due for sources with `follow_pages = true` and
/// stores what they say. Returns the number of pages requested.
pub(crate) async fn follow_pages(
    store: &SharedStore,
    config: &Config,
    fetcher: &Fetcher,
    hosts: &mut HashMap<String, Arc<HostGate>>,
    global: &Arc<Semaphore>,
) -> Result<u64, PollError> {
    let keys: Vec<String> = config.sources.iter().filter(|s| s.follow_pages).map(|s| s.key.clone()).collect();
    if keys.is_empty() {
        return Ok(0);
    }
    let todo = {
        let store = store.clone();
        blocking(move || lock(&store).pages_to_fetch(&keys, PAGES_PER_CYCLE)).await??
    };
    let mut tasks = tokio::task::JoinSet::new();
    for t in todo {
        let Ok(url) = url::Url::parse(&t.url) else { continue };
        let gate =
            host_of(&t.url).map(|h| hosts.entry(h).or_insert_with(|| Arc::new(HostGate::new(&config.fetch))).clone());
        let (fetcher, global) = (fetcher.clone(), global.clone());
        let span = info_span!("page", url = %t.url);
        tasks.spawn(
            async move {
                let _host = match &gate {
                    Some(g) => g.enter().await,
                    None => None,
                };
                let _slot = global.acquire_owned().await;
                let fetched = fetcher.fetch_page(&url, &Validators::default()).await;
                // A page that trips a bug in the reader is recorded as failed
                // (and retried like a network error), never the cycle's end.
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| page_result(&t, fetched))).unwrap_or_else(
                    |_| PageResult {
                        entry_id: t.entry_id,
                        url: t.url.clone(),
                        error: Some("internal error while reading the page".into()),
                        ..PageResult::default()
                    },
                )
            }
            .instrument(span),
        );
    }
    let mut results = Vec::new();
    while let Some(r) = tasks.join_next().await {
        results.push(r.map_err(|e| PollError::Internal(e.to_string()))?);
    }
    results.sort_by_key(|r| r.entry_id);
    let fetched = results.len() as u64;
    if !results.is_empty() {
        let store = store.clone();
        let gained = blocking(move || lock(&store).save_pages(&results, crate::clock::now())).await??;
        debug!(pages = fetched, gained, "entry pages fetched");
    }
    Ok(fetched)
}

/// What one page fetch gave; transient failures carry an error (retried
/// later), permanent ones (4xx) only their status.
fn page_result(t: &PageTodo, fetched: Result<Fetched, FetchError>) -> PageResult {
    let mut r = PageResult { entry_id: t.entry_id, url: t.url.clone(), ..PageResult::default() };
    match fetched {
        Ok(Fetched::Body(body, meta)) => {
            r.status = Some(meta.status);
            r.etag = meta.validators.etag;
            r.last_modified = meta.validators.last_modified;
            let text = String::from_utf8_lossy(&body);
            r.links = crate::parse::alternate_languages(&text, Some(&meta.final_url));
        }
        Ok(Fetched::NotModified(meta)) => {
            r.status = Some(meta.status);
            r.etag = meta.validators.etag;
            r.last_modified = meta.validators.last_modified;
        }
        Err(e) => {
            r.status = e.status();
            let transient = e.status().is_none_or(|s| s >= 500 || s == 429);
            if transient {
                r.error = Some(e.to_string());
            }
        }
    }
    r
}
