//! The rows the story rules read beside each entry, shared by the save
//! paths (`entries`, `pages`) and the rules' data access (`stories`): an
//! entry's dedup features (stored in `Features::encode`'s versioned binary
//! form, older rows as JSON; read through the store's
//! [`FeatureCache`]) with its identity keys, the links found on its page,
//! and the queue of entries to recheck for strong evidence. A leaf: it
//! uses no other module of `store`.

use std::sync::Arc;

use super::StoreError;
use super::db::{Context, Db, p};
use crate::dedup::Features;
use crate::stories::FeatureCache;

/// An entry's features, from the cache or else read and decoded (none: not
/// stored or unreadable).
pub(super) fn load(tx: &Db, cache: &mut FeatureCache, id: i64) -> Result<Option<Arc<Features>>, StoreError> {
    if let Some(f) = cache.get(id) {
        return Ok(Some(f));
    }
    let stored: Option<Vec<u8>> = tx
        .query_opt("SELECT features FROM entry_features WHERE entry_id = ?1", p![id], |r| Ok(r.bytes(0)))
        .ctx("cannot read features")?
        .flatten();
    let Some(f) = stored.and_then(|b| Features::decode(&b)) else { return Ok(None) };
    Ok(Some(cache.put(id, f)))
}

/// Stores an entry's features and identity keys (new or changed entry),
/// encoding them here.
pub(super) fn store(tx: &Db, cache: &mut FeatureCache, id: i64, mut f: Features) -> Result<(), StoreError> {
    let encoded = f.encode();
    store_encoded(tx, cache, id, &f.keys(), &encoded, false)
}

/// [`store`] with the features already encoded (`encoded`:
/// `Features::encode` of features whose identity keys are `keys`), as a
/// fetch's `cpu` thread encodes them before the writer stores them.
/// `fresh`: the entry's row was made in this transaction, so no keys of it
/// are stored yet (a purge deletes an entry's keys with it, so none are
/// left for a new row that takes a deleted one's id).
pub(super) fn store_encoded(
    tx: &Db,
    cache: &mut FeatureCache,
    id: i64,
    keys: &[String],
    encoded: &[u8],
    fresh: bool,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO entry_features (entry_id, features) VALUES (?1, ?2)
         ON CONFLICT (entry_id) DO UPDATE SET features = excluded.features",
        p![id, encoded],
    )
    .ctx("cannot store features")?;
    if !fresh {
        tx.execute("DELETE FROM entry_keys WHERE entry_id = ?1", p![id]).ctx("cannot store keys")?;
    }
    for k in keys {
        tx.execute("INSERT INTO entry_keys (key, entry_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING", p![k, id])
            .ctx("cannot store keys")?;
    }
    // Not kept decoded: a cold poll stores every entry before assigning
    // any, and assignment reads them back in its own order.
    cache.forget(id);
    Ok(())
}

/// The hrefs of the alternate links found on an entry's page earlier.
pub(super) fn page_links(tx: &Db, id: i64) -> Result<Vec<String>, StoreError> {
    let links: Option<String> = tx
        .query_opt("SELECT links FROM entry_pages WHERE entry_id = ?1", p![id], |r| r.get(0))
        .ctx("cannot read page links")?;
    let links: Vec<(String, String)> = links.and_then(|l| serde_json::from_str(&l).ok()).unwrap_or_default();
    Ok(links.into_iter().map(|(_, h)| h).collect())
}

/// Queues an entry for a strong-evidence recheck.
pub(super) fn queue_recheck(tx: &Db, id: i64) -> Result<(), StoreError> {
    tx.execute("INSERT INTO story_recheck (entry_id) VALUES (?1) ON CONFLICT DO NOTHING", p![id])
        .ctx("cannot queue recheck")
        .map(|_| ())
}
