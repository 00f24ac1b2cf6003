//! Stable entry identity: the guid, else the canonical link, else a hash of
//! stable fields. Never random, so the same entry gets the same key on every
//! poll.

use std::collections::HashSet;

use sha2::{Digest, Sha256};

use crate::model::Entry;

/// The key of an entry within its source.
pub(super) fn key(e: &Entry) -> String {
    if let Some(g) = e.guid.as_deref().filter(|g| !g.is_empty()) {
        return g.to_string();
    }
    if let Some(u) = &e.url {
        return u.clone();
    }
    let mut fields = vec![e.title.as_str()];
    let published;
    if e.date_given {
        published = e.published.to_rfc3339();
        fields.push(&published);
    }
    fields.push(e.summary_html.as_deref().or(e.content_html.as_deref()).unwrap_or(""));
    format!("sha256:{}", short_hash(&fields))
}

pub(super) fn short_hash(fields: &[&str]) -> String {
    let mut h = Sha256::new();
    for f in fields {
        h.update(f.as_bytes());
        h.update([0u8]);
    }
    h.finalize().iter().take(12).map(|b| format!("{b:02x}")).collect()
}

/// Keys already given in one feed.
#[derive(Default)]
pub(super) struct KeySet(HashSet<String>);

impl KeySet {
    /// Makes `e.key` unique in this feed; a duplicate guid (a publisher bug)
    /// is disambiguated by a hash of the entry's link and title, which stays
    /// stable across polls. Returns a warning when it had to.
    pub(super) fn make_unique(&mut self, e: &mut Entry) -> Option<String> {
        if self.0.insert(e.key.clone()) {
            return None;
        }
        let original = e.key.clone();
        let url = e.url.as_deref().unwrap_or("");
        let body = e.summary_html.as_deref().or(e.content_html.as_deref()).unwrap_or("");
        let mut n = 0u32;
        loop {
            let salt = n.to_string();
            let candidate =
                format!("{original}#{}", short_hash(&[url, &e.title, body, &salt][..if n == 0 { 3 } else { 4 }]));
            if self.0.insert(candidate.clone()) {
                e.key = candidate;
                return Some(format!("duplicate id {original:?}; entry told apart by its link and title"));
            }
            n += 1;
        }
    }
}
