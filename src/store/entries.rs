//! Entries: the upsert by (source, key) that keeps first-seen times and
//! earlier revisions, and read access for later stages and tests.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::db::{Context, Db, Dialect, Value, p};
use super::sources::{FetchRecord, record};
use super::{Store, StoreError, features, ts};
use crate::model::{Entry, LangOrigin};

/// What one save changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SaveStats {
    /// Entries stored for the first time.
    pub new: u64,
    /// Stored entries whose content changed.
    pub updated: u64,
}

/// An entry to store, with what re-normalising and story assignment need.
#[derive(Debug, Clone)]
pub struct NewEntry {
    /// The normalised entry.
    pub entry: Entry,
    /// JSON of the raw fields it was normalised from.
    pub raw: String,
    /// Its features' identity keys ([`crate::dedup::Features::keys`]).
    pub keys: Vec<String>,
    /// Its dedup features as stored ([`crate::dedup::Features::encode`]),
    /// worked out beforehand: the fetch's `cpu` thread encodes them before
    /// the writer stores them. Only the encoded form is kept: a parsed
    /// fetch waiting for the writer holds a third less.
    pub stored_features: Vec<u8>,
}

impl NewEntry {
    /// An entry to store, its features encoded.
    pub fn new(entry: Entry, raw: String, mut features: crate::dedup::Features) -> NewEntry {
        let stored_features = features.encode();
        NewEntry { entry, raw, keys: features.keys(), stored_features }
    }

    /// Its features, read back from their stored form.
    pub fn features(&self) -> Result<crate::dedup::Features, StoreError> {
        crate::dedup::Features::decode(&self.stored_features)
            .ok_or_else(|| StoreError::Corrupt("the features of an entry to store".into()))
    }
}

/// An entry as stored (for `explain`, tests and later stages).
#[derive(Debug, Clone, Serialize)]
pub struct EntryRow {
    /// Row id.
    pub id: i64,
    /// Source row id.
    pub source_id: i64,
    /// The entry.
    pub entry: Entry,
    /// When it was first stored.
    pub first_seen_at: String,
}

/// One fetch to record, with the entries it brought (none for a 304 or
/// a failure): an item of [`Store::save_fetches`].
#[derive(Debug, Clone, Copy)]
pub struct FetchToSave<'a> {
    /// The source's row id.
    pub source_id: i64,
    /// What the fetch did.
    pub fetch: &'a FetchRecord,
    /// Its entries, normalised.
    pub entries: &'a [NewEntry],
    /// When it was processed (first and last seen times).
    pub now: DateTime<Utc>,
}

impl Store {
    /// Records one fetch and upserts its entries, in one transaction: either
    /// all of it is stored or nothing is. New entries get their story in
    /// [`Store::assign_stories`], once per cycle, in a deterministic order. `raw` holds, per entry, the JSON
    /// that lets `normalise` run again later.
    pub fn save_fetch(
        &mut self,
        source_id: i64,
        fetch: &FetchRecord,
        entries: &[NewEntry],
        now: DateTime<Utc>,
    ) -> Result<SaveStats, StoreError> {
        let stats = self.save_fetches(&[FetchToSave { source_id, fetch, entries, now }])?;
        Ok(stats.into_iter().next().unwrap_or_default())
    }

    /// Records several fetches and their entries in one transaction: all
    /// of them or, on an error, none (the caller can then record them one
    /// at a time, so that each fails on its own). Each commit writes every
    /// page it changed to the log: a poll of 1,000 unchanged feeds wrote
    /// 1,000 times the same few pages, and a cold poll as many times the
    /// pages of the indexes its entries share. The entries first (each
    /// node writes only its claimed sources' entries), then the source rows:
    /// several of them on PostgreSQL under the sources lock, in id order,
    /// as every write to several of them, so that other nodes' claims wait
    /// for the rows and the commit, not for the entries. The stats come
    /// back in the order of `fetches`.
    pub fn save_fetches(&mut self, fetches: &[FetchToSave<'_>]) -> Result<Vec<SaveStats>, StoreError> {
        let tx = self.db.transaction(true).ctx("cannot start saving")?;
        let mut order: Vec<usize> = (0..fetches.len()).collect();
        order.sort_by_key(|&i| fetches[i].source_id);
        let mut stats = vec![SaveStats::default(); fetches.len()];
        for &i in &order {
            stats[i] = save_entries(&tx, &mut self.features, fetches[i])?;
        }
        if fetches.len() > 1 {
            super::sources::lock_sources(&tx)?;
        }
        for &i in &order {
            let f = fetches[i];
            record(&tx, f.source_id, f.fetch, stats[i].new, stats[i].updated)?;
        }
        tx.commit().ctx("cannot commit fetches")?;
        Ok(stats)
    }

    /// All entries of a source, newest first.
    pub fn entries_of(&self, source_id: i64) -> Result<Vec<EntryRow>, StoreError> {
        load_entries(&self.db, "source_id = ?1 ORDER BY published_at DESC, id DESC", p![source_id])
    }

    /// The entries with these row ids (in id order).
    pub fn entries_by_id(&self, ids: &[i64]) -> Result<Vec<EntryRow>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let list = chunk.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",");
            out.extend(load_entries(&self.db, &format!("id IN ({list}) ORDER BY id"), &[])?);
        }
        Ok(out)
    }
}

/// Upserts one fetch's entries inside `tx` (its record left to the caller).
fn save_entries(
    tx: &Db,
    cache: &mut crate::stories::FeatureCache,
    save: FetchToSave<'_>,
) -> Result<SaveStats, StoreError> {
    let mut stats = SaveStats::default();
    for n in save.entries {
        match upsert(tx, save.source_id, &n.entry, &n.raw, save.now)? {
            Upsert::New(id) => {
                stats.new += 1;
                features::store_encoded(tx, cache, id, &n.keys, &n.stored_features, true)?;
            }
            Upsert::Updated(id) => {
                stats.updated += 1;
                // An updated entry keeps what its page said.
                let mut f = n.features()?;
                let links = features::page_links(tx, id)?;
                crate::stories::add_links(&mut f, links.iter().map(String::as_str));
                features::store(tx, cache, id, f)?;
                // A changed entry may carry new strong evidence (a late hreflang link).
                features::queue_recheck(tx, id)?;
            }
            Upsert::Same => {}
        }
    }
    Ok(stats)
}

/// One entry by id, on any connection or transaction.
pub(super) fn load_one(conn: &Db, id: i64) -> Result<Option<EntryRow>, StoreError> {
    Ok(load_entries(conn, "id = ?1", p![id])?.pop())
}

/// Entries matching a WHERE clause (with ORDER BY), fully loaded.
fn load_entries(conn: &Db, filter: &str, params: &[Value]) -> Result<Vec<EntryRow>, StoreError> {
    let sql = format!(
        "SELECT id, source_id, key, guid, url, title, summary_html, content_html, lang, lang_origin,
                    published_at, updated_at, date_given, first_seen_at, authors, enclosures, images, content_hash
             FROM entries WHERE {filter}"
    );
    let rows: Vec<(EntryRow, [String; 4])> = conn
        .query_map(&sql, params, |r| {
            let json: [String; 4] = [r.get(9)?, r.get(14)?, r.get(15)?, r.get(16)?];
            let published: String = r.get(10)?;
            let updated: String = r.get(11)?;
            Ok((
                EntryRow {
                    id: r.get(0)?,
                    source_id: r.get(1)?,
                    first_seen_at: r.get(13)?,
                    entry: Entry {
                        key: r.get(2)?,
                        guid: r.get(3)?,
                        url: r.get(4)?,
                        title: r.get(5)?,
                        summary_html: r.get(6)?,
                        content_html: r.get(7)?,
                        lang: r.get(8)?,
                        lang_origin: LangOrigin::Unknown,
                        published: super::parse_ts(&published).unwrap_or_default(),
                        updated: super::parse_ts(&updated).unwrap_or_default(),
                        date_given: r.get(12)?,
                        authors: Vec::new(),
                        categories: Vec::new(),
                        enclosures: Vec::new(),
                        images: Vec::new(),
                        links: Vec::new(),
                        content_hash: r.get(17)?,
                    },
                },
                json,
            ))
        })
        .ctx("cannot read entries")?;
    rows.into_iter().map(|(row, json)| complete(conn, row, &json)).collect()
}

/// Fills the JSON columns and the link and category tables into a row.
fn complete(conn: &Db, mut row: EntryRow, json: &[String; 4]) -> Result<EntryRow, StoreError> {
    let bad = |what: &str| StoreError::Corrupt(format!("entry {} {what}", row.id));
    let e = &mut row.entry;
    e.lang_origin = serde_json::from_str(&format!("\"{}\"", json[0])).map_err(|_| bad("lang_origin"))?;
    e.authors = serde_json::from_str(&json[1]).map_err(|_| bad("authors"))?;
    e.enclosures = serde_json::from_str(&json[2]).map_err(|_| bad("enclosures"))?;
    e.images = serde_json::from_str(&json[3]).map_err(|_| bad("images"))?;
    e.links = conn
        .query_map(
            "SELECT href, rel, hreflang, mime, title FROM entry_links WHERE entry_id = ?1 ORDER BY rowid",
            p![row.id],
            |r| {
                Ok(crate::model::Link {
                    href: r.get(0)?,
                    rel: r.get(1)?,
                    hreflang: r.get(2)?,
                    mime: r.get(3)?,
                    title: r.get(4)?,
                    length: None,
                })
            },
        )
        .ctx("cannot read links")?;
    e.categories = conn
        .query_map("SELECT term FROM entry_categories WHERE entry_id = ?1 ORDER BY term", p![row.id], |r| r.get(0))
        .ctx("cannot read categories")?;
    Ok(row)
}

impl Store {
    /// Publication times of a source's newest dated entries.
    pub fn recent_published(&self, source_id: i64, limit: usize) -> Result<Vec<DateTime<Utc>>, StoreError> {
        let rows = self
            .db
            .query_map(
                "SELECT published_at FROM entries WHERE source_id = ?1 AND date_given = 1 ORDER BY published_at DESC LIMIT ?2",
                p![source_id, limit],
                |r| r.get::<String>(0),
            )
            .ctx("cannot read entry dates")?;
        Ok(rows.iter().filter_map(|s| super::parse_ts(s)).collect())
    }

    /// Number of entries stored for a source.
    pub fn entry_count(&self, source_id: i64) -> Result<u64, StoreError> {
        self.db
            .query_row("SELECT COUNT(*) FROM entries WHERE source_id = ?1", p![source_id], |r| r.get(0))
            .ctx("cannot count entries")
    }

    /// Number of stored revisions (earlier versions of updated entries).
    pub fn revision_count(&self) -> Result<u64, StoreError> {
        self.db.query_row("SELECT COUNT(*) FROM entry_revisions", &[], |r| r.get(0)).ctx("cannot count revisions")
    }
}

enum Upsert {
    New(i64),
    Updated(i64),
    Same,
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

fn lang_origin(o: LangOrigin) -> String {
    json(&o).trim_matches('"').to_string()
}

fn upsert(tx: &Db, source_id: i64, e: &Entry, raw: &str, now: DateTime<Utc>) -> Result<Upsert, StoreError> {
    let existing: Option<(i64, String, String)> = tx
        .query_opt(
            "SELECT id, content_hash, raw FROM entries WHERE source_id = ?1 AND key = ?2",
            p![source_id, e.key],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .ctx("cannot look up entry")?;
    let Some((id, hash, old_raw)) = existing else {
        let id = insert(tx, source_id, e, raw, now)?;
        return Ok(Upsert::New(id));
    };
    if hash == e.content_hash {
        tx.execute("UPDATE entries SET last_seen_at = ?2 WHERE id = ?1", p![id, ts(now)]).ctx("cannot touch entry")?;
        return Ok(Upsert::Same);
    }
    tx.execute(
        "INSERT INTO entry_revisions (entry_id, replaced_at, content_hash, raw) VALUES (?1, ?2, ?3, ?4)",
        p![id, ts(now), hash, old_raw],
    )
    .ctx("cannot keep revision")?;
    // date_given is an INTEGER column: compared, not used as a condition.
    let sql = match tx.dialect() {
        Dialect::Sqlite => UPDATE_ENTRY.replace("{greatest}", "MAX"),
        Dialect::Postgres => UPDATE_ENTRY.replace("{greatest}", "GREATEST"),
    };
    tx.execute(
        &sql,
        p![
            id,
            e.guid,
            e.url,
            e.title,
            e.summary_html,
            e.content_html,
            e.lang,
            lang_origin(e.lang_origin),
            ts(e.published),
            ts(e.updated),
            e.date_given,
            ts(now),
            json(&e.authors),
            json(&e.enclosures),
            json(&e.images),
            e.content_hash,
            raw
        ],
    )
    .ctx("cannot update entry")?;
    replace_children(tx, id, e)?;
    Ok(Upsert::Updated(id))
}

/// An entry's new content; `{greatest}` is the engine's two-argument maximum.
const UPDATE_ENTRY: &str =
    "UPDATE entries SET guid = ?2, url = ?3, title = ?4, summary_html = ?5, content_html = ?6, lang = ?7, lang_origin = ?8,
        published_at = CASE WHEN ?11 <> 0 THEN ?9 ELSE published_at END,
        updated_at = CASE WHEN ?11 <> 0 THEN ?10 ELSE {greatest}(published_at, ?10) END,
        date_given = ?11, last_seen_at = ?12, authors = ?13, enclosures = ?14, images = ?15, content_hash = ?16, raw = ?17
     WHERE id = ?1";

fn insert(tx: &Db, source_id: i64, e: &Entry, raw: &str, now: DateTime<Utc>) -> Result<i64, StoreError> {
    let id: i64 = tx
        .query_row(
            "INSERT INTO entries (source_id, key, guid, url, title, summary_html, content_html, lang, lang_origin,
                published_at, updated_at, date_given, first_seen_at, last_seen_at, authors, enclosures, images, content_hash, raw)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13, ?14, ?15, ?16, ?17, ?18)
             RETURNING id",
            p![
        source_id,
        e.key,
        e.guid,
        e.url,
        e.title,
        e.summary_html,
        e.content_html,
        e.lang,
        lang_origin(e.lang_origin),
        ts(e.published),
        ts(e.updated),
        e.date_given,
        ts(now),
        json(&e.authors),
        json(&e.enclosures),
        json(&e.images),
        e.content_hash,
        raw
            ],
            |r| r.get(0),
        )
        .ctx("cannot insert entry")?;
    // Waits for its story (see `Store::has_unassigned`).
    tx.execute("INSERT INTO story_pending (entry_id) VALUES (?1)", p![id]).ctx("cannot insert entry")?;
    // A new row has no children to replace: the schema's foreign keys keep
    // none of an entry that is gone, whose id the new one may have taken.
    insert_children(tx, id, e)?;
    Ok(id)
}

fn replace_children(tx: &Db, id: i64, e: &Entry) -> Result<(), StoreError> {
    tx.execute("DELETE FROM entry_links WHERE entry_id = ?1", p![id]).ctx("cannot replace links")?;
    tx.execute("DELETE FROM entry_categories WHERE entry_id = ?1", p![id]).ctx("cannot replace categories")?;
    insert_children(tx, id, e)
}

fn insert_children(tx: &Db, id: i64, e: &Entry) -> Result<(), StoreError> {
    for l in &e.links {
        tx.execute(
            "INSERT INTO entry_links (entry_id, href, rel, hreflang, mime, title) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            p![id, l.href, l.rel, l.hreflang, l.mime, l.title],
        )
        .ctx("cannot store link")?;
    }
    for c in &e.categories {
        tx.execute("INSERT INTO entry_categories (entry_id, term) VALUES (?1, ?2) ON CONFLICT DO NOTHING", p![id, c])
            .ctx("cannot store category")?;
    }
    Ok(())
}
