//! `follow_pages`: the one fetch of an entry's own web page, for the
//! `<link rel="alternate" hreflang>` tags most multilingual CMSs put there.
//! Runs once per poll cycle after the feeds, on the same client and behind
//! the same per-host gates (concurrency and spacing) as the feeds, for at
//! most [`PAGES_PER_CYCLE`] entries; each page is fetched once (failures
//! from the network or 5xx/429 up to three times over later cycles). What a
//! page says is stored by `Store::save_pages`.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tracing::{Instrument, debug, info_span};

use crate::config::Config;
use crate::fetch::{FetchError, Fetched, Fetcher, Validators};
use crate::hosts::{Hosts, lease_end};
use crate::pipeline::{PollError, SharedStore, admit, blocking, host_of, lock};
use crate::store::{PageResult, PageTodo};

/// Most entry pages fetched in one cycle (the rest wait for later cycles).
pub const PAGES_PER_CYCLE: usize = 50;

/// Fetches the pages still due for sources with `follow_pages = true` and
/// stores what they say. Returns the number of pages requested.
pub(crate) async fn follow_pages(
    store: &SharedStore,
    config: &Config,
    fetcher: &Fetcher,
    hosts: &mut Hosts,
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
    // Pages on hosts this node does not hold yet: lease them, unless
    // another node holds them (those pages wait for a later cycle).
    let mut wanted: Vec<String> = todo.iter().filter_map(|t| host_of(&t.url)).filter(|h| !hosts.holds(h)).collect();
    wanted.sort();
    wanted.dedup();
    if !wanted.is_empty() {
        let (store, lease) = (store.clone(), config.fetch.lease);
        let granted = blocking(move || {
            let now = crate::clock::now();
            lock(&store).lease_hosts(&wanted, now, lease_end(now, lease), crate::node::token(), crate::node::is_dead)
        })
        .await??;
        hosts.hold(granted);
    }
    let mut tasks = tokio::task::JoinSet::new();
    let mut refused = Vec::new();
    for t in todo {
        let Ok(url) = url::Url::parse(&t.url) else { continue };
        if !may_fetch(&url, &t.source) {
            // Recorded as done (no status, no error): never asked for again.
            debug!(url = %t.url, "entry page on an internal address; not fetched");
            refused.push(PageResult { entry_id: t.entry_id, url: t.url.clone(), ..PageResult::default() });
            continue;
        }
        let gate = match host_of(&t.url) {
            Some(h) if hosts.holds(&h) => hosts.gate(&h),
            Some(_) => continue,
            None => None,
        };
        let (fetcher, global) = (fetcher.clone(), global.clone());
        let span = info_span!("page", url = %t.url);
        tasks.spawn(
            async move {
                let _admitted = admit(gate.as_deref(), global).await;
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
    let skipped = refused.len();
    let mut results = refused;
    while let Some(r) = tasks.join_next().await {
        results.push(r.map_err(|e| PollError::Internal(e.to_string()))?);
    }
    results.sort_by_key(|r| r.entry_id);
    let fetched = (results.len() - skipped) as u64;
    if !results.is_empty() {
        let store = store.clone();
        let gained = blocking(move || lock(&store).save_pages(&results, crate::clock::now())).await??;
        debug!(pages = fetched, gained, "entry pages fetched");
    }
    Ok(fetched)
}

/// Entry links come from the feed, so a feed must not be able to make us
/// request internal addresses (loopback, private, link-local: cloud metadata
/// services, admin consoles) unless the feed itself is served from that
/// host. Host names are not resolved here; a public name that resolves to a
/// private address is not caught.
fn may_fetch(page: &url::Url, source_key: &str) -> bool {
    use url::Host;
    let Some(host) = page.host() else { return false };
    let source_host = url::Url::parse(source_key).ok().and_then(|u| u.host_str().map(str::to_ascii_lowercase));
    if page.host_str().map(str::to_ascii_lowercase) == source_host {
        return true;
    }
    match host {
        Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d != "localhost" && !d.ends_with(".localhost")
        }
        Host::Ipv4(ip) => {
            !(ip.is_loopback() || ip.is_private() || ip.is_link_local() || ip.is_unspecified() || ip.is_broadcast())
        }
        Host::Ipv6(ip) => {
            let first = ip.segments()[0];
            let mapped =
                ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback() || v4.is_private() || v4.is_link_local());
            !(ip.is_loopback() || ip.is_unspecified() || first & 0xfe00 == 0xfc00 || first & 0xffc0 == 0xfe80 || mapped)
        }
    }
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

#[cfg(test)]
mod tests {
    use super::may_fetch;

    fn ok(page: &str, source: &str) -> bool {
        may_fetch(&url::Url::parse(page).unwrap(), source)
    }

    #[test]
    fn internal_addresses_only_from_a_feed_on_the_same_host() {
        assert!(ok("https://www.porvoo.fi/uutiset/x", "https://www.porvoo.fi/rss"));
        assert!(ok("https://www.borga.fi/nyheter/x", "https://www.porvoo.fi/rss"));
        for bad in [
            "http://169.254.169.254/latest/meta-data/",
            "http://127.0.0.1:8080/admin",
            "http://10.0.0.5/",
            "http://192.168.1.1/",
            "http://localhost/",
            "http://app.localhost./",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://0.0.0.0/",
        ] {
            assert!(!ok(bad, "https://www.porvoo.fi/rss"), "{bad}");
        }
        // A feed served from an internal host may have its pages there.
        assert!(ok("http://127.0.0.1:8080/fi/x", "http://127.0.0.1:8080/fi.xml"));
        assert!(!ok("http://127.0.0.1:9999/x", "file:feeds/a.xml"));
    }
}
