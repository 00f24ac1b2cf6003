//! The served site: an immutable map of path to [`Served`], swapped whole by
//! [`Site::replace`] so a request sees either the old site or the new one.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use hyper::header::HeaderValue;

use super::served::Served;
use crate::publish::Artifact;

/// Artifacts by path (`all.atom`, `tags/x.rss`, `index.html`).
pub(crate) type Snapshot = Arc<HashMap<String, Served>>;

/// The served site: swapped atomically when the renderer produces new artifacts.
pub struct Site {
    /// Read (cloned) by every request; replaced whole by `replace`, never edited in place.
    current: RwLock<Snapshot>,
    /// `Cache-Control` sent with every artifact; from the publishing interval given to `new`.
    cache_control: HeaderValue,
}

impl Site {
    /// An empty site whose artifacts are sent with `Cache-Control: public, max-age=<max_age in seconds>`.
    pub fn new(max_age: Duration) -> Site {
        let value = format!("public, max-age={}", max_age.as_secs());
        let cache_control = HeaderValue::from_str(&value).expect("ASCII letters and digits are a valid header value");
        Site { current: RwLock::new(Arc::default()), cache_control }
    }

    /// Replaces everything served (artifacts as rendered; paths like "all.atom",
    /// "tags/x.rss", "sv/all.json", "index.html"). Hashes and compresses every
    /// body, so call it off the async workers when the site is large.
    pub fn replace(&self, artifacts: Vec<Artifact>) {
        let now = SystemTime::now();
        let map: HashMap<String, Served> =
            artifacts.into_iter().map(|a| (a.path.clone(), Served::new(a, now))).collect();
        tracing::debug!(artifacts = map.len(), "site replaced");
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(map);
    }

    /// How many artifacts are served.
    pub fn len(&self) -> usize {
        self.snapshot().len()
    }

    /// Whether nothing is served yet.
    pub fn is_empty(&self) -> bool {
        self.snapshot().is_empty()
    }

    /// The site as it is now; later `replace` calls don't change it.
    pub(crate) fn snapshot(&self) -> Snapshot {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The `Cache-Control` value for artifacts.
    pub(crate) fn cache_control(&self) -> &HeaderValue {
        &self.cache_control
    }
}

impl std::fmt::Debug for Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Site").field("artifacts", &self.len()).field("cache_control", &self.cache_control).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::media;

    fn artifact(path: &str, body: &str) -> Artifact {
        Artifact {
            path: path.into(),
            content_type: media::ATOM,
            body: body.into(),
            updated: chrono::DateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn replace_swaps_everything_and_old_snapshots_stay_whole() {
        let site = Site::new(Duration::from_secs(900));
        assert!(site.is_empty());
        site.replace(vec![artifact("a.atom", "a"), artifact("b.atom", "b")]);
        let old = site.snapshot();
        site.replace(vec![artifact("c.atom", "c")]);
        assert_eq!(site.len(), 1);
        assert_eq!(old.len(), 2, "a request holding the old site keeps all of it");
        assert!(site.snapshot().contains_key("c.atom"));
        assert_eq!(site.cache_control(), "public, max-age=900");
    }
}
