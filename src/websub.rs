//! WebSub, publisher side: when a hub is configured, every published feed
//! that changed is announced to it (`hub.mode=publish`, `hub.url=` the
//! feed's public self URL), so subscribers hear of new stories at once
//! instead of at their next poll. The links themselves (`rel="hub"`,
//! `rel="self"`) are written by the feed renderers.

use futures_util::StreamExt;

use crate::config::Config;
use crate::fetch::Fetcher;

/// Pings in flight at once.
const CONCURRENCY: usize = 4;

/// What the pings did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PingReport {
    /// Feed URLs the hub accepted (2xx).
    pub accepted: Vec<String>,
    /// Feed URLs the hub refused or could not be reached for, with why.
    pub failed: Vec<(String, String)>,
}

/// The public URLs of the changed artifacts that are feeds, when a hub and
/// a base URL are configured; empty otherwise. `paths` are artifact paths
/// (`all.atom`, `sv/tags/kunta.json`, ...).
pub fn feed_urls(config: &Config, paths: &[String]) -> Vec<String> {
    let (Some(_), Some(base)) = (&config.publish.hub, &config.publish.base_url) else {
        return Vec::new();
    };
    paths
        .iter()
        .filter(|p| p.ends_with(".atom") || p.ends_with(".rss") || p.ends_with(".json"))
        // Built exactly as the feeds' `rel="self"` links are (`FeedDoc::url`):
        // hubs match topics byte for byte.
        .map(|p| format!("{base}{p}"))
        .collect()
}

/// Tells the configured hub that these feeds changed. A failed ping is
/// logged and reported, never fatal: the feeds are published either way,
/// and subscribers still poll.
pub async fn ping(config: &Config, urls: Vec<String>) -> PingReport {
    let mut report = PingReport::default();
    let Some(hub) = config.publish.hub.clone() else {
        return report;
    };
    if urls.is_empty() {
        return report;
    }
    let fetcher = match Fetcher::new(&config.fetch) {
        Ok(f) => f,
        Err(e) => {
            report.failed = urls.into_iter().map(|u| (u, e.to_string())).collect();
            return report;
        }
    };
    let results: Vec<(String, Result<u16, String>)> = futures_util::stream::iter(urls)
        .map(|u| {
            let (fetcher, hub) = (&fetcher, &hub);
            async move {
                let r = fetcher.post_form(hub, &[("hub.mode", "publish"), ("hub.url", &u)]).await;
                (u, r.map_err(|e| e.to_string()))
            }
        })
        .buffered(CONCURRENCY)
        .collect()
        .await;
    for (url, r) in results {
        match r {
            Ok(s) if (200..300).contains(&s) => report.accepted.push(url),
            Ok(s) => report.failed.push((url, format!("hub answered HTTP {s}"))),
            Err(e) => report.failed.push((url, e)),
        }
    }
    if !report.failed.is_empty() {
        tracing::warn!(
            hub = %hub,
            failed = report.failed.len(),
            first = %report.failed[0].1,
            "WebSub hub ping failed; subscribers will see the change at their next poll"
        );
    }
    tracing::info!(hub = %hub, feeds = report.accepted.len(), "pinged WebSub hub");
    report
}
