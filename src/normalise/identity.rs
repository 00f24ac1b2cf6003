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

/// What [`KeySet::admit`] made of an entry.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Admitted {
    /// Its key is new in this document.
    New,
    /// Its key was taken by a different item (a publisher's duplicate id):
    /// the key now carries a hash of its link, title and text.
    Renamed(String),
    /// The same item again, verbatim (same key, same content): one entry,
    /// the repeat is dropped.
    Repeat(String),
}

/// Keys already given in one document.
///
/// The rule for items of one document that share an id (guid, else link,
/// else hash): identical items (the same fields as parsed, so the same
/// content hash) are one entry, stored once; items that differ are told
/// apart by a hash of their link, title and text, which is stable across
/// polls, so a later poll of the same document finds the same keys and
/// adds no rows.
///
/// The keys are the ones earlier versions gave, which stored a verbatim
/// repeat as an entry of its own: a repeat still takes the key it had then
/// (`id#hash` of its link, title and text, salted when taken), so the items
/// after it keep theirs and never overwrite the stored repeat.
#[derive(Default)]
pub(super) struct KeySet {
    /// Every key given so far, repeats' too.
    taken: HashSet<String>,
    /// (id before renaming, content hash) of each entry kept.
    kept: HashSet<(String, String)>,
}

impl KeySet {
    /// Admits `e` to this document's keys, renaming its key when another
    /// item holds it.
    pub(super) fn admit(&mut self, e: &mut Entry) -> Admitted {
        let original = e.key.clone();
        let key = self.next_free(e);
        if !self.kept.insert((original.clone(), e.content_hash.clone())) {
            return Admitted::Repeat(format!("item {original:?} repeated verbatim; stored once"));
        }
        if key == original {
            return Admitted::New;
        }
        e.key = key;
        Admitted::Renamed(format!("duplicate id {original:?}; entry told apart by its link and title"))
    }

    /// The entry's key if free, else the first free `key#hash` of its link,
    /// title and text (salted 0, 1, ... after the first), and takes it.
    fn next_free(&mut self, e: &Entry) -> String {
        if self.taken.insert(e.key.clone()) {
            return e.key.clone();
        }
        let url = e.url.as_deref().unwrap_or("");
        let body = e.summary_html.as_deref().or(e.content_html.as_deref()).unwrap_or("");
        let mut n = 0u32;
        loop {
            let salt = n.to_string();
            let candidate =
                format!("{}#{}", e.key, short_hash(&[url, &e.title, body, &salt][..if n == 0 { 3 } else { 4 }]));
            if self.taken.insert(candidate.clone()) {
                return candidate;
            }
            n += 1;
        }
    }
}
