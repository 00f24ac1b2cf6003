//! Copying a whole store into an empty one, on either engine (`polyfeed
//! copy-store`): SQLite to PostgreSQL and back, or to another store of
//! the same engine.
//!
//! The tables come from the databases' own catalogues (`sqlite_master` and
//! `pragma_table_info`; `information_schema` and `pg_constraint`), not
//! from a list kept here: a table a later migration adds is copied without
//! any change to this file. Both stores are migrated to the current schema
//! first, so both have the same tables; each target table is filled from
//! the source table of the same name, parents before the tables whose
//! foreign keys point at them. Left out: PostgreSQL's schema version
//! (`polyfeed_schema`, which the migrations write), the transient state of
//! running pollers ([`TRANSIENT_TABLES`]: nodes and their host leases) and
//! a table only the source has (not polyfeed's); the last two are reported
//! as skipped.
//!
//! Rows keep their ids (stories and entries point at each other by id),
//! and SQLite's hidden `rowid` (the position of a link in its entry) goes
//! to PostgreSQL's explicit `rowid` column and back. On PostgreSQL every
//! identity or serial sequence is then set past the largest id copied.
//! Transient state is not copied as live: a source's claim by a running
//! poller ([`TRANSIENT_COLUMNS`]) is cleared.
//!
//! The source is read in one snapshot (a read transaction), a page of
//! [`PAGE_ROWS`] rows at a time in primary-key order, so memory stays
//! bounded whatever the size of a table; the target is written in one
//! transaction, committed only when every table's row count equals the
//! source's. A target that holds any row is refused before anything is
//! written to it (not even its migrations).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::db::{Context, Db, Dialect, Value, p};
use super::{Store, StoreError};
use crate::config::Database;

/// Rows read from the source and written to the target at a time: what a
/// copy holds in memory, whatever the size of the store.
pub const PAGE_ROWS: usize = 500;

/// Parameters per INSERT statement (several rows each).
const INSERT_PARAMS: usize = 2_000;

/// Columns of transient state, cleared (NULL) in the copy: a source's claim
/// by a running poller (its lease and the poller's token).
pub const TRANSIENT_COLUMNS: &[(&str, &str)] = &[("sources", "claimed_until"), ("sources", "claim_token")];

/// Tables of transient state, not copied (reported as skipped): the nodes
/// polling the source store and their leases on hosts. The copy starts with
/// no node and no lease; the next request to a host is spaced from nothing.
pub const TRANSIENT_TABLES: &[&str] = &["host_leases", "nodes"];

/// Tables the migrations keep for themselves (PostgreSQL's schema version):
/// neither copied nor counted as content.
const SCHEMA_TABLES: &[&str] = &["polyfeed_schema"];

/// Why a copy did not happen.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The store refused.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The SQLite source file does not exist.
    #[error("{0}: no such database file")]
    MissingSource(String),
    /// FROM and TO name one store.
    #[error("FROM and TO are the same database ({0})")]
    SameStore(String),
    /// The target holds rows already.
    #[error("the target {database} is not empty: it holds {rows} rows ({tables}); nothing was copied")]
    NotEmpty {
        /// The target.
        database: String,
        /// Rows in all its tables.
        rows: u64,
        /// `table rows` of the tables that hold rows.
        tables: String,
    },
    /// The two schemas do not match.
    #[error("cannot copy table {table}: {why}")]
    Schema {
        /// The table.
        table: String,
        /// What differs.
        why: String,
    },
    /// A stored value the target's column cannot take.
    #[error("cannot copy {table}.{column}: {why}")]
    Value {
        /// The table.
        table: String,
        /// The column.
        column: String,
        /// Why.
        why: String,
    },
    /// Row counts differ after copying; nothing was committed.
    #[error("row counts differ after copying ({0}); nothing was committed")]
    CountMismatch(String),
}

/// One table's rows on both sides.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TableCount {
    /// The table.
    pub table: String,
    /// Rows in the source.
    pub source: u64,
    /// Rows in the target after the copy.
    pub target: u64,
}

/// What a copy did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CopyReport {
    /// The source's engine (`sqlite` or `postgresql`).
    pub from_engine: &'static str,
    /// The target's engine.
    pub to_engine: &'static str,
    /// Every copied table, in the order it was copied.
    pub tables: Vec<TableCount>,
    /// Tables not copied: transient state ([`TRANSIENT_TABLES`]) and tables
    /// only the source has (not polyfeed's).
    pub skipped: Vec<Skipped>,
    /// Sources whose claim by a poller was cleared.
    pub claims_cleared: u64,
    /// PostgreSQL sequences set past the copied ids: `table.column` and the
    /// next value it gives.
    pub sequences: Vec<(String, i64)>,
}

/// A table not copied, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    /// The table.
    pub table: String,
    /// Its rows in the source.
    pub rows: u64,
    /// Why it was left out.
    pub why: &'static str,
}

/// How far the copy of one table is.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    /// The table.
    pub table: &'a str,
    /// Rows copied so far.
    pub copied: u64,
    /// Rows the table has.
    pub total: u64,
}

/// Copies every table of `from` into `to`, which must be empty; both are
/// migrated to the current schema first. `progress` hears about each page.
pub fn copy(from: &Database, to: &Database, progress: &mut dyn FnMut(Progress<'_>)) -> Result<CopyReport, CopyError> {
    if let Database::Sqlite(path) = from
        && !path.is_file()
    {
        return Err(CopyError::MissingSource(path.display().to_string()));
    }
    if let (Database::Sqlite(a), Database::Sqlite(b)) = (from, to)
        && same_file(a, b)
    {
        return Err(CopyError::SameStore(a.display().to_string()));
    }
    let mut src = Store::connect(from)?;
    let mut dst = Store::connect(to)?;
    if src.db.dialect() == Dialect::Postgres
        && dst.db.dialect() == Dialect::Postgres
        && same_postgres(&src.db, &dst.db).ctx("cannot compare the two databases")?
    {
        return Err(CopyError::SameStore(dst.shown.clone()));
    }
    // Before the target's migrations: a store with content is left as it is.
    refuse_content(&dst, &catalogue(&dst.db)?)?;
    src.migrate()?;
    dst.migrate()?;

    let read = src.db.snapshot().ctx("cannot start reading the source")?;
    let write = dst.db.transaction(true).ctx("cannot start writing the target")?;
    let from_tables: BTreeMap<String, Table> = catalogue(&read)?.into_iter().map(|t| (t.name.clone(), t)).collect();
    let to_tables = catalogue(&write)?;
    // Again inside the transaction: nobody wrote in between.
    refuse_content(&dst, &to_tables)?;
    let order = copy_order(&to_tables)?;
    let mut report = CopyReport {
        from_engine: src.engine(),
        to_engine: dst.engine(),
        tables: Vec::new(),
        skipped: Vec::new(),
        claims_cleared: 0,
        sequences: Vec::new(),
    };
    for name in from_tables.keys().filter(|name| !to_tables.iter().any(|t| &t.name == *name)) {
        let rows = count(&read, name)?;
        report.skipped.push(Skipped { table: name.clone(), rows, why: "not a table of polyfeed's schema" });
    }
    for target in order {
        if TRANSIENT_TABLES.contains(&target.name.as_str()) {
            let rows = if from_tables.contains_key(&target.name) { count(&read, &target.name)? } else { 0 };
            report.skipped.push(Skipped {
                table: target.name.clone(),
                rows,
                why: "transient state (nodes and leases)",
            });
            continue;
        }
        let source = from_tables.get(&target.name).ok_or_else(|| CopyError::Schema {
            table: target.name.clone(),
            why: "the source has no such table".into(),
        })?;
        let plan = Plan::new(source, target, write.dialect())?;
        let total = count(&read, &target.name)?;
        let (copied, cleared) = copy_table(&read, &write, &plan, total, progress)?;
        report.claims_cleared += cleared;
        let written = count(&write, &target.name)?;
        if copied != total {
            return Err(CopyError::CountMismatch(format!("{}: {total} in the source, {copied} read", target.name)));
        }
        report.tables.push(TableCount { table: target.name.clone(), source: total, target: written });
    }
    let differ: Vec<String> = report
        .tables
        .iter()
        .filter(|t| t.source != t.target)
        .map(|t| format!("{}: {} in the source, {} in the target", t.table, t.source, t.target))
        .collect();
    if !differ.is_empty() {
        return Err(CopyError::CountMismatch(differ.join("; ")));
    }
    if write.dialect() == Dialect::Postgres {
        report.sequences = reset_sequences(&write, &to_tables)?;
    }
    write.commit().ctx("cannot commit the copy")?;
    drop(read);
    // A `serve` already pointed at a PostgreSQL target renders the copy.
    let _ = dst.announce_change("copy-store");
    Ok(report)
}

/// True when `b` is the file `a` (or a link to it).
fn same_file(a: &Path, b: &Path) -> bool {
    let (Ok(x), Ok(y)) = (a.canonicalize(), b.canonicalize()) else { return false };
    if x == y {
        return true;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(m), Ok(n)) = (x.metadata(), y.metadata()) {
            return m.dev() == n.dev() && m.ino() == n.ino();
        }
    }
    false
}

/// True when two PostgreSQL sessions are in one database, whatever their
/// URLs say: an advisory lock (per database) one holds, the other cannot
/// take. Nothing is written.
fn same_postgres(a: &Db, b: &Db) -> Result<bool, super::DbError> {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let base = (nanos as i64) ^ (i64::from(std::process::id()) << 40);
    let try_lock = |db: &Db, key: i64| db.query_row("SELECT pg_try_advisory_lock(?1)", p![key], |r| r.get::<bool>(0));
    let unlock = |db: &Db, key: i64| db.query_row("SELECT pg_advisory_unlock(?1)", p![key], |r| r.get::<bool>(0));
    // A key somebody else holds is skipped (very unlikely).
    let mut key = base;
    while !try_lock(a, key)? {
        key = key.wrapping_add(1);
    }
    let other = try_lock(b, key)?;
    if other {
        unlock(b, key)?;
    }
    unlock(a, key)?;
    Ok(!other)
}

/// What a column holds, from its declared type, for the values each
/// engine accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integer,
    Real,
    Text,
    Blob,
    /// Anything else (SQLite's untyped columns, PostgreSQL's booleans): as read.
    Other,
}

impl Kind {
    fn of(declared: &str) -> Kind {
        let t = declared.to_ascii_lowercase();
        if t.contains("int") {
            Kind::Integer
        } else if t.contains("char") || t.contains("text") || t.contains("clob") {
            Kind::Text
        } else if t.contains("blob") || t == "bytea" {
            Kind::Blob
        } else if t.contains("real") || t.contains("floa") || t.contains("doub") {
            Kind::Real
        } else {
            Kind::Other
        }
    }
}

/// One table as the catalogue describes it.
#[derive(Debug, Clone)]
struct Table {
    name: String,
    /// Declared columns, in order, with their kinds.
    columns: Vec<(String, Kind)>,
    /// The primary key's columns, in key order (empty: none declared).
    key: Vec<String>,
    /// An SQLite table without a declared primary key: its hidden `rowid`
    /// can be read and written.
    hidden_rowid: bool,
    /// The tables its foreign keys point at.
    parents: BTreeSet<String>,
}

impl Table {
    fn has(&self, column: &str) -> bool {
        self.columns.iter().any(|(c, _)| c == column)
    }

    fn readable(&self, column: &str) -> bool {
        self.has(column) || (column == "rowid" && self.hidden_rowid)
    }

    fn kind(&self, column: &str) -> Kind {
        self.columns.iter().find(|(c, _)| c == column).map_or(Kind::Integer, |(_, k)| *k)
    }
}

/// Every table of the store but the schema version's, by name.
fn catalogue(db: &Db) -> Result<Vec<Table>, StoreError> {
    let what = "cannot read the database's catalogue";
    let mut names: Vec<String> = match db.dialect() {
        Dialect::Sqlite => db.query_map(
            r"SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\'",
            &[],
            |r| r.get(0),
        ),
        Dialect::Postgres => db.query_map(
            "SELECT table_name::TEXT FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
            &[],
            |r| r.get(0),
        ),
    }
    .ctx(what)?;
    names.retain(|n| !SCHEMA_TABLES.contains(&n.as_str()));
    names.sort();
    let mut tables = Vec::new();
    for name in names {
        let table = match db.dialect() {
            Dialect::Sqlite => {
                let cols: Vec<(String, String, i64)> = db
                    .query_map("SELECT name, type, pk FROM pragma_table_info(?1) ORDER BY cid", p![name], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })
                    .ctx(what)?;
                let mut key: Vec<(i64, String)> = cols.iter().filter(|c| c.2 > 0).map(|c| (c.2, c.0.clone())).collect();
                key.sort();
                let parents = db
                    .query_map("SELECT DISTINCT \"table\" FROM pragma_foreign_key_list(?1)", p![name], |r| r.get(0))
                    .ctx(what)?;
                Table {
                    columns: cols.iter().map(|c| (c.0.clone(), Kind::of(&c.1))).collect(),
                    hidden_rowid: key.is_empty(),
                    key: key.into_iter().map(|k| k.1).collect(),
                    parents: parents.into_iter().collect(),
                    name,
                }
            }
            Dialect::Postgres => {
                let columns = db
                    .query_map(
                        "SELECT column_name::TEXT, data_type::TEXT FROM information_schema.columns
                         WHERE table_schema = current_schema() AND table_name::TEXT = ?1 ORDER BY ordinal_position",
                        p![name],
                        |r| Ok((r.get::<String>(0)?, Kind::of(&r.get::<String>(1)?))),
                    )
                    .ctx(what)?;
                let key = db
                    .query_map(
                        "SELECT k.column_name::TEXT FROM information_schema.table_constraints c
                         JOIN information_schema.key_column_usage k ON k.constraint_schema = c.constraint_schema
                           AND k.constraint_name = c.constraint_name AND k.table_name = c.table_name
                         WHERE c.constraint_type = 'PRIMARY KEY' AND c.table_schema = current_schema()
                           AND c.table_name::TEXT = ?1
                         ORDER BY k.ordinal_position",
                        p![name],
                        |r| r.get(0),
                    )
                    .ctx(what)?;
                let parents = db
                    .query_map(
                        "SELECT DISTINCT pa.relname::TEXT FROM pg_constraint c
                         JOIN pg_class cl ON cl.oid = c.conrelid
                         JOIN pg_namespace n ON n.oid = cl.relnamespace
                         JOIN pg_class pa ON pa.oid = c.confrelid
                         WHERE c.contype = 'f' AND n.nspname = current_schema() AND cl.relname::TEXT = ?1",
                        p![name],
                        |r| r.get(0),
                    )
                    .ctx(what)?;
                Table { columns, key, hidden_rowid: false, parents: parents.into_iter().collect(), name }
            }
        };
        tables.push(table);
    }
    Ok(tables)
}

/// Tables in an order where each comes after the tables its foreign keys
/// point at (by name among equals, so the order is stable).
fn copy_order(tables: &[Table]) -> Result<Vec<&Table>, CopyError> {
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut order = Vec::new();
    while order.len() < tables.len() {
        let next = tables.iter().find(|t| {
            !done.contains(t.name.as_str())
                && t.parents
                    .iter()
                    .all(|p| p == &t.name || done.contains(p.as_str()) || !tables.iter().any(|x| &x.name == p))
        });
        match next {
            Some(t) => {
                done.insert(&t.name);
                order.push(t);
            }
            None => {
                let left: Vec<&str> = tables.iter().map(|t| t.name.as_str()).filter(|n| !done.contains(n)).collect();
                return Err(CopyError::Schema {
                    table: left.join(", "),
                    why: "their foreign keys form a cycle".into(),
                });
            }
        }
    }
    Ok(order)
}

/// Refuses a store that holds any row.
fn refuse_content(store: &Store, tables: &[Table]) -> Result<(), CopyError> {
    let (mut full, mut rows) = (Vec::new(), 0);
    for t in tables {
        let n = count(&store.db, &t.name)?;
        if n > 0 {
            full.push(format!("{} {n}", t.name));
            rows += n;
        }
    }
    if full.is_empty() {
        Ok(())
    } else {
        Err(CopyError::NotEmpty { database: store.shown.clone(), rows, tables: full.join(", ") })
    }
}

fn count(db: &Db, table: &str) -> Result<u64, StoreError> {
    db.query_row(&format!("SELECT COUNT(*) FROM {}", quote(table)), &[], |r| r.get(0))
        .ctx(&format!("cannot count the rows of {table}"))
}

/// An identifier, quoted for both engines.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// How one table is copied.
struct Plan<'a> {
    target: &'a Table,
    /// The target's columns written (SQLite's hidden `rowid` included when
    /// both sides have one).
    columns: Vec<String>,
    /// What is read: `columns`, then any key column not among them.
    select: Vec<String>,
    /// Positions in `select` of the key the source is read in order of.
    key: Vec<usize>,
    /// Positions in `columns` of transient columns, written as NULL.
    transient: Vec<usize>,
    /// The target's engine.
    dialect: Dialect,
}

impl<'a> Plan<'a> {
    fn new(source: &Table, target: &'a Table, dialect: Dialect) -> Result<Plan<'a>, CopyError> {
        let fail = |why: String| CopyError::Schema { table: target.name.clone(), why };
        let mut columns: Vec<String> = target.columns.iter().map(|(c, _)| c.clone()).collect();
        if target.hidden_rowid && !target.has("rowid") && source.readable("rowid") {
            columns.insert(0, "rowid".into());
        }
        if let Some(c) = columns.iter().find(|c| !source.readable(c)) {
            return Err(fail(format!("the source has no column {c}")));
        }
        if let Some((c, _)) = source.columns.iter().find(|(c, _)| !columns.contains(c)) {
            return Err(fail(format!("the target has no column {c}")));
        }
        let key = if !source.key.is_empty() {
            source.key.clone()
        } else if source.hidden_rowid {
            vec!["rowid".to_string()]
        } else {
            return Err(fail("the source table has no primary key to read it in order by".into()));
        };
        let mut select = columns.clone();
        for k in &key {
            if !select.contains(k) {
                select.push(k.clone());
            }
        }
        let key = key.iter().map(|k| select.iter().position(|c| c == k).expect("key columns are selected")).collect();
        let transient = columns
            .iter()
            .enumerate()
            .filter(|(_, c)| TRANSIENT_COLUMNS.contains(&(target.name.as_str(), c.as_str())))
            .map(|(i, _)| i)
            .collect();
        Ok(Plan { target, columns, select, key, transient, dialect })
    }
}

/// Copies one table a page at a time; the rows read and the rows whose
/// transient columns were cleared.
fn copy_table(
    read: &Db,
    write: &Db,
    plan: &Plan<'_>,
    total: u64,
    progress: &mut dyn FnMut(Progress<'_>),
) -> Result<(u64, u64), CopyError> {
    let table = quote(&plan.target.name);
    let select = plan.select.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ");
    let keys = plan.key.iter().map(|&i| quote(&plan.select[i])).collect::<Vec<_>>().join(", ");
    let after = (1..=plan.key.len()).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ");
    let first = format!("SELECT {select} FROM {table} ORDER BY {keys} LIMIT {PAGE_ROWS}");
    let next = format!("SELECT {select} FROM {table} WHERE ({keys}) > ({after}) ORDER BY {keys} LIMIT {PAGE_ROWS}");
    let reading = format!("cannot read {} from the source", plan.target.name);
    let mut last: Option<Vec<Value>> = None;
    let (mut copied, mut cleared) = (0u64, 0u64);
    progress(Progress { table: &plan.target.name, copied, total });
    loop {
        let rows: Vec<Vec<Value>> = match &last {
            None => read.query_map(&first, &[], |r| Ok(r.values().to_vec())),
            Some(key) => read.query_map(&next, key, |r| Ok(r.values().to_vec())),
        }
        .ctx(&reading)?;
        let Some(end) = rows.last() else { break };
        last = Some(plan.key.iter().map(|&i| end[i].clone()).collect());
        let n = rows.len();
        let mut values = Vec::with_capacity(n);
        for mut row in rows {
            row.truncate(plan.columns.len());
            let mut had_claim = false;
            for &i in &plan.transient {
                had_claim |= row[i] != Value::Null;
                row[i] = Value::Null;
            }
            cleared += u64::from(had_claim);
            for (v, c) in row.iter_mut().zip(&plan.columns) {
                coerce(v, plan.target.kind(c), plan.dialect).map_err(|why| CopyError::Value {
                    table: plan.target.name.clone(),
                    column: c.clone(),
                    why,
                })?;
            }
            values.push(row);
        }
        insert(write, &table, &plan.columns, values)
            .ctx(&format!("cannot write {} to the target", plan.target.name))?;
        copied += n as u64;
        progress(Progress { table: &plan.target.name, copied, total });
        if n < PAGE_ROWS {
            break;
        }
    }
    Ok((copied, cleared))
}

/// Writes rows, several per statement.
fn insert(db: &Db, table: &str, columns: &[String], rows: Vec<Vec<Value>>) -> Result<(), super::DbError> {
    let names = columns.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ");
    let per_statement = (INSERT_PARAMS / columns.len().max(1)).max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<Value>> = rows.by_ref().take(per_statement).collect();
        let mut sql = format!("INSERT INTO {table} ({names}) VALUES ");
        let mut n = 0;
        for (r, row) in chunk.iter().enumerate() {
            if r > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for c in 0..row.len() {
                n += 1;
                if c > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("?{n}"));
            }
            sql.push(')');
        }
        let params: Vec<Value> = chunk.into_iter().flatten().collect();
        db.execute(&sql, &params)?;
    }
    Ok(())
}

/// A value as the target's column takes it. PostgreSQL checks types:
/// SQLite's loose ones (JSON features kept as TEXT in a column PostgreSQL
/// declares BYTEA, a whole REAL in an INTEGER column) are converted, a
/// value that has no faithful form is an error. SQLite takes what comes
/// (BYTEA becomes a BLOB, as polyfeed writes there itself).
fn coerce(v: &mut Value, kind: Kind, target: Dialect) -> Result<(), String> {
    if target == Dialect::Sqlite {
        return Ok(());
    }
    let converted = match (kind, &*v) {
        (_, Value::Null) | (Kind::Other, _) => return Ok(()),
        (Kind::Integer, Value::Int(_)) | (Kind::Real, Value::Real(_)) => return Ok(()),
        (Kind::Text, Value::Text(_)) | (Kind::Blob, Value::Blob(_)) => return Ok(()),
        (Kind::Integer, Value::Bool(b)) => Value::Int(i64::from(*b)),
        (Kind::Integer, Value::Real(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => Value::Int(*f as i64),
        (Kind::Real, Value::Int(i)) => Value::Real(*i as f64),
        (Kind::Text, Value::Int(i)) => Value::Text(i.to_string()),
        (Kind::Text, Value::Real(f)) => Value::Text(f.to_string()),
        (Kind::Text, Value::Blob(b)) => {
            Value::Text(String::from_utf8(b.clone()).map_err(|_| "a binary value in a text column".to_string())?)
        }
        (Kind::Blob, Value::Text(t)) => Value::Blob(t.as_bytes().to_vec()),
        (kind, v) => return Err(format!("{v:?} does not fit a column of kind {kind:?}")),
    };
    *v = converted;
    Ok(())
}

/// Sets every identity or serial sequence of the tables past the largest
/// value copied into its column (the next insert would collide otherwise).
fn reset_sequences(db: &Db, tables: &[Table]) -> Result<Vec<(String, i64)>, StoreError> {
    let mut out = Vec::new();
    for t in tables {
        let sequences: Vec<(String, Option<String>)> = db
            .query_map(
                "SELECT column_name::TEXT, pg_get_serial_sequence(?1, column_name::TEXT) FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name::TEXT = ?2 ORDER BY ordinal_position",
                p![quote(&t.name), t.name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ctx("cannot read the sequences")?;
        for (column, sequence) in sequences {
            let Some(sequence) = sequence else { continue };
            let next: i64 = db
                .query_row(
                    &format!(
                        "SELECT setval(?1::TEXT::regclass, (SELECT COALESCE(MAX({}), 0) + 1 FROM {}), false)",
                        quote(&column),
                        quote(&t.name)
                    ),
                    p![sequence],
                    |r| r.get(0),
                )
                .ctx(&format!("cannot reset the sequence of {}.{column}", t.name))?;
            out.push((format!("{}.{column}", t.name), next));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlite_store(dir: &Path, name: &str) -> (Database, Store) {
        let database = Database::Sqlite(dir.join(name));
        let store = Store::open(&database).unwrap();
        (database, store)
    }

    /// Two rows in every table of the schema, whatever its tables are:
    /// ids 1 and 2, text `v1` and `v2` (foreign keys point at the parents'
    /// rows of the same number), every column set, transient ones too.
    fn fill_every_table(store: &Store) -> Vec<String> {
        let tables = catalogue(&store.db).unwrap();
        let mut names = Vec::new();
        for t in copy_order(&tables).unwrap() {
            let columns: Vec<String> = t.columns.iter().map(|(c, _)| c.clone()).collect();
            for i in 1..=2i64 {
                let values: Vec<Value> = t
                    .columns
                    .iter()
                    .map(|(_, k)| match k {
                        Kind::Text | Kind::Blob => Value::Text(format!("v{i}")),
                        Kind::Real => Value::Real(i as f64 + 0.5),
                        Kind::Integer | Kind::Other => Value::Int(i),
                    })
                    .collect();
                insert(&store.db, &quote(&t.name), &columns, vec![values]).unwrap();
            }
            names.push(t.name.clone());
        }
        names.sort();
        names
    }

    /// Every row of every table, ordered by key, hidden rowids included;
    /// text and bytes alike (SQLite keeps PostgreSQL's BYTEA as a BLOB
    /// where polyfeed itself writes one); transient columns as `-`.
    fn dump(store: &Store) -> String {
        let mut out = String::new();
        for t in catalogue(&store.db).unwrap() {
            if TRANSIENT_TABLES.contains(&t.name.as_str()) {
                continue;
            }
            let mut columns: Vec<String> = t.columns.iter().map(|(c, _)| c.clone()).collect();
            if t.hidden_rowid || t.key.is_empty() {
                columns.insert(0, "rowid".into());
            }
            let key = if t.key.is_empty() {
                "rowid".to_string()
            } else {
                t.key.iter().map(|k| quote(k)).collect::<Vec<_>>().join(", ")
            };
            let sql = format!(
                "SELECT {} FROM {} ORDER BY {key}",
                columns.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", "),
                quote(&t.name)
            );
            let rows = store.db.query_map(&sql, &[], |r| Ok(r.values().to_vec())).unwrap();
            for row in rows {
                let cells: Vec<String> = row
                    .iter()
                    .zip(&columns)
                    .map(|(v, c)| match v {
                        _ if TRANSIENT_COLUMNS.contains(&(t.name.as_str(), c.as_str())) => "-".into(),
                        Value::Text(s) => format!("'{s}'"),
                        Value::Blob(b) => format!("'{}'", String::from_utf8_lossy(b)),
                        Value::Int(i) => i.to_string(),
                        v => format!("{v:?}"),
                    })
                    .collect();
                out.push_str(&format!("{}: {}\n", t.name, cells.join(" ")));
            }
        }
        out
    }

    /// The values of transient columns, and the rows of transient tables.
    fn transient_values(store: &Store) -> Vec<Value> {
        let mut out = Vec::new();
        for table in TRANSIENT_TABLES {
            out.push(Value::Int(count(&store.db, table).unwrap() as i64));
        }
        for (table, column) in TRANSIENT_COLUMNS {
            let sql = format!("SELECT {} FROM {}", quote(column), quote(table));
            out.extend(store.db.query_map(&sql, &[], |r| Ok(r.values()[0].clone())).unwrap());
        }
        out
    }

    fn copied(from: &Database, to: &Database) -> CopyReport {
        let mut pages = 0;
        let report = copy(from, to, &mut |_| pages += 1).unwrap();
        assert!(pages >= report.tables.len(), "progress heard for every table");
        report
    }

    #[test]
    fn every_table_is_copied_with_every_value() {
        let dir = tempfile::tempdir().unwrap();
        let (a, store) = sqlite_store(dir.path(), "a.db");
        let names = fill_every_table(&store);
        let original = dump(&store);
        assert!(original.contains("entry_links: 1 1 'v1'"), "the hidden rowid is dumped: {original}");
        drop(store);

        // SQLite to SQLite.
        let b = Database::Sqlite(dir.path().join("b.db"));
        let report = copied(&a, &b);
        let mut tables: Vec<String> = report.tables.iter().map(|t| t.table.clone()).collect();
        tables.sort();
        let mut expected = names.clone();
        expected.retain(|n| !TRANSIENT_TABLES.contains(&n.as_str()));
        assert_eq!(tables, expected, "every table of the schema but the transient ones is copied");
        assert!(report.tables.iter().all(|t| t.source == 2 && t.target == 2), "{:?}", report.tables);
        assert_eq!(report.claims_cleared, 2);
        let skipped: Vec<&str> = report.skipped.iter().map(|s| s.table.as_str()).collect();
        assert_eq!(skipped, TRANSIENT_TABLES);
        assert!(report.sequences.is_empty());
        let copy_b = Store::open(&b).unwrap();
        assert_eq!(dump(&copy_b), original);
        let nothing = vec![Value::Int(0); TRANSIENT_TABLES.len()];
        let claims = transient_values(&copy_b);
        assert_eq!(claims[..nothing.len()], nothing, "no node or lease is copied");
        assert!(claims[nothing.len()..].iter().all(|v| *v == Value::Null), "claims are not copied");

        // SQLite to PostgreSQL and back, when a server is there.
        let Some(scratch) = super::super::scratch::ScratchDatabase::create() else {
            assert!(std::env::var_os("CI").is_none(), "POLYFEED_TEST_DATABASE is not set in CI (scripts/test sets it)");
            eprintln!("skipping the PostgreSQL half: POLYFEED_TEST_DATABASE is not set (scripts/test starts a server)");
            return;
        };
        let scratch = scratch.unwrap();
        let pg = Database::Postgres(scratch.url().to_string());
        let report = copied(&a, &pg);
        assert_eq!(report.tables.len(), expected.len());
        assert_eq!(report.claims_cleared, 2);
        let seqs: Vec<&str> = report.sequences.iter().map(|(s, _)| s.as_str()).collect();
        for id in ["sources.id", "entries.id", "entry_links.rowid", "fetches.id", "story_log.id"] {
            assert!(seqs.contains(&id), "{id} not reset: {seqs:?}");
        }
        assert!(report.sequences.iter().all(|(_, next)| *next == 3), "{:?}", report.sequences);
        let c = Database::Sqlite(dir.path().join("c.db"));
        let report = copied(&pg, &c);
        assert!(report.tables.iter().all(|t| t.source == 2 && t.target == 2), "{:?}", report.tables);
        assert_eq!(report.claims_cleared, 0, "already cleared on the way there");
        assert_eq!(dump(&Store::open(&c).unwrap()), original, "SQLite -> PostgreSQL -> SQLite keeps every value");
        // The next id PostgreSQL gives follows the copied ones.
        let pg_store = Store::open(&pg).unwrap();
        let id: i64 = pg_store
            .db
            .query_row("INSERT INTO sources (key, url, created_at) VALUES ('k3', 'u3', 't3') RETURNING id", &[], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(id, 3);
    }

    #[test]
    fn a_table_of_another_program_is_skipped_and_said() {
        let dir = tempfile::tempdir().unwrap();
        let (a, store) = sqlite_store(dir.path(), "a.db");
        store.db.batch("CREATE TABLE mine (x TEXT); INSERT INTO mine VALUES ('kept where it is');").unwrap();
        drop(store);
        let b = Database::Sqlite(dir.path().join("b.db"));
        let report = copy(&a, &b, &mut |_| {}).unwrap();
        let mine = report.skipped.iter().find(|s| s.table == "mine").expect("mine is reported");
        assert_eq!((mine.rows, mine.why), (1, "not a table of polyfeed's schema"));
        let b = Store::open(&b).unwrap();
        assert!(!catalogue(&b.db).unwrap().iter().any(|t| t.name == "mine"));
        // A target holding a row in a table of its own is not empty.
        let c = Database::Sqlite(dir.path().join("c.db"));
        let c_store = Store::open(&c).unwrap();
        c_store.db.batch("CREATE TABLE mine (x TEXT); INSERT INTO mine VALUES ('x');").unwrap();
        drop(c_store);
        let err = copy(&a, &c, &mut |_| {}).unwrap_err().to_string();
        assert!(err.contains("is not empty: it holds 1 rows (mine 1)"), "{err}");
    }

    #[test]
    fn transient_columns_exist_in_the_schema() {
        let dir = tempfile::tempdir().unwrap();
        let (_, store) = sqlite_store(dir.path(), "p.db");
        let tables = catalogue(&store.db).unwrap();
        for (table, column) in TRANSIENT_COLUMNS {
            let t = tables.iter().find(|t| t.name == *table).unwrap_or_else(|| panic!("no table {table}"));
            assert!(t.has(column), "{table} has no column {column}");
        }
        for table in TRANSIENT_TABLES {
            assert!(tables.iter().any(|t| t.name == *table), "no table {table}");
        }
    }

    #[test]
    fn parents_come_first() {
        let dir = tempfile::tempdir().unwrap();
        let (_, store) = sqlite_store(dir.path(), "p.db");
        let tables = catalogue(&store.db).unwrap();
        let order: Vec<&str> = copy_order(&tables).unwrap().iter().map(|t| t.name.as_str()).collect();
        let at = |n: &str| order.iter().position(|x| *x == n).unwrap();
        assert!(at("sources") < at("entries") && at("entries") < at("story_entries"), "{order:?}");
        assert!(at("stories") < at("story_entries"), "{order:?}");
        assert_eq!(order.len(), tables.len());
    }

    #[test]
    fn values_take_the_target_columns_form() {
        let mut v = Value::Text("{\"a\":1}".into());
        coerce(&mut v, Kind::Blob, Dialect::Postgres).unwrap();
        assert_eq!(v, Value::Blob(b"{\"a\":1}".to_vec()));
        let mut v = Value::Real(3.0);
        coerce(&mut v, Kind::Integer, Dialect::Postgres).unwrap();
        assert_eq!(v, Value::Int(3));
        assert!(coerce(&mut Value::Real(3.5), Kind::Integer, Dialect::Postgres).is_err());
        assert!(coerce(&mut Value::Blob(vec![0xff]), Kind::Text, Dialect::Postgres).is_err());
        let mut v = Value::Blob(vec![0xff]);
        coerce(&mut v, Kind::Text, Dialect::Sqlite).unwrap();
        assert_eq!(v, Value::Blob(vec![0xff]), "SQLite keeps what it is given");
    }
}
