//! The two engines behind one small interface, so that every store module
//! keeps one copy of its queries. [`Db`] is an SQLite connection or a
//! PostgreSQL client; SQL is written once with SQLite's `?N` placeholders
//! (rewritten to `$N` for PostgreSQL, once per statement, and cached as a
//! prepared statement); values go in as [`Value`]s, converted to the type
//! each engine expects (PostgreSQL infers a parameter's type from the
//! query: a flag compared with an INTEGER column goes as a number, one used
//! as a condition as a boolean); rows come out as [`Row`]s of values.
//! [`Db::dialect`] tells the few places where the two really differ.
//!
//! A [`Tx`] is a transaction on either engine; it derefs to the [`Db`], so
//! a helper that takes `&Db` runs inside or outside one. Dropping a `Tx`
//! without [`Tx::commit`] rolls it back.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;

use super::StoreError;

/// A value going into or coming out of a query.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value {
    /// NULL.
    Null,
    /// An integer.
    Int(i64),
    /// A boolean (SQLite stores 0/1).
    Bool(bool),
    /// A float.
    Real(f64),
    /// Text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

/// Something that can be bound as a parameter.
pub(super) trait ToValue {
    fn to_value(&self) -> Value;
}

macro_rules! int_value {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                Value::Int(*self as i64)
            }
        }
    )*};
}
int_value!(i64, i32, u16, u32, u64, usize);

impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Bool(*self)
    }
}
impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
}
impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}
impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        self.as_slice().to_value()
    }
}
impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}
impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}
impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

/// The parameters of a query: `p![a, b, c]`.
macro_rules! p {
    ($($x:expr),* $(,)?) => {
        &[$($crate::store::db::ToValue::to_value(&$x)),*][..]
    };
}
pub(super) use p;

/// What went wrong in one engine.
#[derive(Debug)]
pub enum DbError {
    /// SQLite refused.
    Sqlite(rusqlite::Error),
    /// PostgreSQL refused (or the connection failed).
    Postgres(postgres::Error),
    /// A value of an unexpected type or out of range.
    Type(String),
    /// A query that must return a row returned none.
    NoRow,
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::Sqlite(e) => e.fmt(f),
            // postgres::Error's Display says only "db error" for the
            // server's errors: show the server's message.
            DbError::Postgres(e) => match e.as_db_error() {
                Some(db) => write!(f, "{}: {}", db.severity(), db.message()),
                // The driver's own errors ("error performing TLS
                // handshake") say why only in their causes.
                None => {
                    e.fmt(f)?;
                    let mut cause = std::error::Error::source(e);
                    while let Some(c) = cause {
                        write!(f, ": {c}")?;
                        cause = c.source();
                    }
                    Ok(())
                }
            },
            DbError::Type(s) => f.write_str(s),
            DbError::NoRow => f.write_str("no row returned"),
        }
    }
}

impl std::error::Error for DbError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DbError::Sqlite(e) => Some(e),
            DbError::Postgres(e) => Some(e),
            _ => None,
        }
    }
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        DbError::Sqlite(e)
    }
}
impl From<postgres::Error> for DbError {
    fn from(e: postgres::Error) -> Self {
        DbError::Postgres(e)
    }
}

/// Adds context to engine results.
pub(super) trait Context<T> {
    fn ctx(self, what: &str) -> Result<T, StoreError>;
}

impl<T> Context<T> for Result<T, DbError> {
    fn ctx(self, what: &str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Db { context: what.to_string(), source })
    }
}

impl<T> Context<T> for Result<T, rusqlite::Error> {
    fn ctx(self, what: &str) -> Result<T, StoreError> {
        self.map_err(|e| StoreError::Db { context: what.to_string(), source: DbError::Sqlite(e) })
    }
}

/// One row of a result.
pub(super) struct Row(Vec<Value>);

impl Row {
    /// Column `i` as `T`.
    pub(super) fn get<T: FromValue>(&self, i: usize) -> Result<T, DbError> {
        let v = self.0.get(i).ok_or_else(|| DbError::Type(format!("no column {i}")))?;
        T::from_value(v).ok_or_else(|| DbError::Type(format!("column {i}: unexpected value {v:?}")))
    }

    /// Every column's value, in the query's order.
    pub(super) fn values(&self) -> &[Value] {
        &self.0
    }

    /// Column `i` as bytes (a BLOB, or TEXT written by older versions).
    pub(super) fn bytes(&self, i: usize) -> Option<Vec<u8>> {
        match self.0.get(i)? {
            Value::Blob(b) => Some(b.clone()),
            Value::Text(t) => Some(t.as_bytes().to_vec()),
            _ => None,
        }
    }
}

/// A column value read as a Rust type.
pub(super) trait FromValue: Sized {
    fn from_value(v: &Value) -> Option<Self>;
}

macro_rules! int_from {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(v: &Value) -> Option<Self> {
                match v {
                    Value::Int(i) => <$t>::try_from(*i).ok(),
                    Value::Bool(b) => Some(<$t>::from(*b)),
                    _ => None,
                }
            }
        }
    )*};
}
int_from!(i64, i32, u16, u32, u64);

impl FromValue for bool {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Bool(b) => Some(*b),
            Value::Int(i) => Some(*i != 0),
            _ => None,
        }
    }
}
impl FromValue for f64 {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Real(f) => Some(*f),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
}
impl FromValue for String {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Text(s) => Some(s.clone()),
            _ => None,
        }
    }
}
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::Null => Some(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// Which engine, for the few statements written per dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// A PostgreSQL session with its prepared statements, and how to open it
/// again: a daemon outlives server restarts and dropped connections.
pub(super) struct PgConn {
    /// Always set; taken out only to be dropped off the async runtime.
    client: Option<postgres::Client>,
    statements: HashMap<String, postgres::Statement>,
    /// The URL, to reconnect (`None`: never).
    url: Option<String>,
    /// Inside BEGIN ... COMMIT: a lost session is an error then, never
    /// silently replaced (the rest of the transaction would run outside it).
    in_tx: bool,
}

impl Drop for PgConn {
    fn drop(&mut self) {
        // Closing the session blocks on the driver's own runtime.
        if let Some(c) = self.client.take() {
            off_runtime(move || drop(c));
        }
    }
}

/// Runs `f`, which blocks on the PostgreSQL driver's own runtime, where
/// that is allowed: `postgres::Client` panics when called on a thread that
/// drives async tasks, and some store calls (small reads in the daemon's
/// loops, opening the store in `serve`) are made on one. On a worker of a
/// multi-threaded runtime the worker hands its tasks over while `f` runs
/// (`block_in_place`); on a current-thread runtime `f` runs on a scoped
/// thread; elsewhere (blocking threads, plain threads) as it is.
pub(super) fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current().map(|h| h.runtime_flavor()) {
        Err(_) => f(),
        Ok(RuntimeFlavor::MultiThread) => tokio::task::block_in_place(f),
        Ok(_) => std::thread::scope(|s| s.spawn(f).join()).unwrap_or_else(|p| std::panic::resume_unwind(p)),
    }
}

/// Prepared statements kept per PostgreSQL session; statements with
/// generated lists (`IN (...)`) would otherwise grow the cache forever.
const PG_STATEMENT_CACHE: usize = 256;

impl PgConn {
    pub(super) fn new(client: postgres::Client, url: Option<String>) -> PgConn {
        PgConn { client: Some(client), statements: HashMap::new(), url, in_tx: false }
    }

    fn client(&mut self) -> &mut postgres::Client {
        self.client.as_mut().expect("the client is only taken when dropped")
    }

    /// Opens the session again when the server closed it, between
    /// transactions; a failure leaves the closed client, whose error the
    /// caller then gets.
    fn reopen_if_closed(&mut self) {
        if self.in_tx || !self.client().is_closed() {
            return;
        }
        let Some(url) = self.url.clone() else { return };
        let shown = crate::config::redact_database_url(&url);
        match super::pg::connect(&url, &shown) {
            Ok(client) => {
                tracing::warn!(database = %shown, "the database connection was lost; reconnected");
                let old = self.client.replace(client);
                self.statements.clear();
                drop(old);
            }
            Err(e) => tracing::warn!(error = %e, "the database connection was lost"),
        }
    }

    fn statement(&mut self, sql: &str) -> Result<postgres::Statement, DbError> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let stmt = self.client().prepare(&dollar_params(sql))?;
        if self.statements.len() >= PG_STATEMENT_CACHE {
            self.statements.clear();
        }
        self.statements.insert(sql.to_string(), stmt.clone());
        Ok(stmt)
    }
}

/// A database connection on either engine.
pub(super) enum Db {
    /// SQLite.
    Sqlite(rusqlite::Connection),
    /// PostgreSQL (the client's calls need `&mut`; the store shares `&Db`).
    Postgres(Box<RefCell<PgConn>>),
}

impl Db {
    /// The dialect.
    pub(super) fn dialect(&self) -> Dialect {
        match self {
            Db::Sqlite(_) => Dialect::Sqlite,
            Db::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Whether a transaction is open on this connection.
    pub(super) fn in_transaction(&self) -> bool {
        match self {
            Db::Sqlite(c) => !c.is_autocommit(),
            Db::Postgres(c) => c.borrow().in_tx,
        }
    }

    /// Runs statements without parameters or results (DDL, BEGIN, ...).
    pub(super) fn batch(&self, sql: &str) -> Result<(), DbError> {
        match self {
            Db::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Db::Postgres(c) => {
                let c = &mut *c.borrow_mut();
                off_runtime(|| {
                    c.reopen_if_closed();
                    c.client().batch_execute(sql)
                })?;
                match sql {
                    "BEGIN" => c.in_tx = true,
                    "COMMIT" | "ROLLBACK" => c.in_tx = false,
                    _ => {}
                }
                Ok(())
            }
        }
    }

    /// Runs one statement; the number of rows it changed.
    pub(super) fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, DbError> {
        match self {
            Db::Sqlite(c) => Ok(c.prepare_cached(sql)?.execute(rusqlite::params_from_iter(params.iter()))? as u64),
            Db::Postgres(c) => {
                let c = &mut *c.borrow_mut();
                off_runtime(|| {
                    c.reopen_if_closed();
                    let stmt = c.statement(sql)?;
                    Ok(c.client().execute(&stmt, &pg_params(params))?)
                })
            }
        }
    }

    /// Every row of a query, each mapped by `f`.
    pub(super) fn query_map<T>(
        &self,
        sql: &str,
        params: &[Value],
        mut f: impl FnMut(&Row) -> Result<T, DbError>,
    ) -> Result<Vec<T>, DbError> {
        match self {
            Db::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let n = stmt.column_count();
                let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    let mut vals = Vec::with_capacity(n);
                    for i in 0..n {
                        vals.push(sqlite_value(r.get_ref(i)?));
                    }
                    out.push(f(&Row(vals))?);
                }
                Ok(out)
            }
            Db::Postgres(c) => {
                let rows = {
                    let c = &mut *c.borrow_mut();
                    off_runtime(|| {
                        c.reopen_if_closed();
                        let stmt = c.statement(sql)?;
                        c.client().query(&stmt, &pg_params(params)).map_err(DbError::from)
                    })?
                };
                let mut out = Vec::with_capacity(rows.len());
                for r in rows {
                    let mut vals = Vec::with_capacity(r.len());
                    for i in 0..r.len() {
                        vals.push(r.try_get::<_, Value>(i)?);
                    }
                    out.push(f(&Row(vals))?);
                }
                Ok(out)
            }
        }
    }

    /// The first row of a query, if any, mapped by `f`.
    pub(super) fn query_opt<T>(
        &self,
        sql: &str,
        params: &[Value],
        f: impl FnMut(&Row) -> Result<T, DbError>,
    ) -> Result<Option<T>, DbError> {
        Ok(self.query_map(sql, params, f)?.into_iter().next())
    }

    /// The first row of a query, which must return one, mapped by `f`.
    pub(super) fn query_row<T>(
        &self,
        sql: &str,
        params: &[Value],
        f: impl FnMut(&Row) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        self.query_opt(sql, params, f)?.ok_or(DbError::NoRow)
    }

    /// Inside a transaction on PostgreSQL, waits for the advisory lock
    /// `key` (`pg_advisory_xact_lock`: held until the transaction ends), so
    /// that transactions taking it run one at a time across processes.
    /// Nothing on SQLite, whose IMMEDIATE transactions already do.
    pub(super) fn turn(&self, key: i64) -> Result<(), DbError> {
        if self.dialect() == Dialect::Postgres {
            self.query_row("SELECT pg_advisory_xact_lock(?1)::TEXT", p![key], |_| Ok(()))?;
        }
        Ok(())
    }

    /// Starts a transaction; `immediate` takes SQLite's write lock at once
    /// (PostgreSQL locks rows as they are written).
    pub(super) fn transaction(&self, immediate: bool) -> Result<Tx<'_>, DbError> {
        self.batch(match self {
            Db::Sqlite(_) if immediate => "BEGIN IMMEDIATE",
            _ => "BEGIN",
        })?;
        Ok(Tx { db: self, done: false })
    }

    /// Starts a read-only transaction that sees one snapshot of the
    /// database throughout, whatever other sessions commit meanwhile
    /// (SQLite: a read transaction, in WAL mode; PostgreSQL: REPEATABLE
    /// READ).
    pub(super) fn snapshot(&self) -> Result<Tx<'_>, DbError> {
        match self {
            Db::Sqlite(_) => self.batch("BEGIN DEFERRED")?,
            Db::Postgres(c) => {
                self.batch("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
                c.borrow_mut().in_tx = true;
            }
        }
        Ok(Tx { db: self, done: false })
    }
}

/// An open transaction; rolled back when dropped without `commit`.
pub(super) struct Tx<'a> {
    db: &'a Db,
    done: bool,
}

impl Tx<'_> {
    /// Commits.
    pub(super) fn commit(mut self) -> Result<(), DbError> {
        self.done = true;
        let done = self.db.batch("COMMIT");
        if let Db::Postgres(c) = self.db {
            c.borrow_mut().in_tx = false;
        }
        done
    }
}

impl std::ops::Deref for Tx<'_> {
    type Target = Db;
    fn deref(&self) -> &Db {
        self.db
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if !self.done {
            // Nothing to do if it fails: the connection is gone or the
            // transaction never started.
            let _ = self.db.batch("ROLLBACK");
            if let Db::Postgres(c) = self.db {
                c.borrow_mut().in_tx = false;
            }
        }
    }
}

fn sqlite_value(v: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(*i),
            Value::Bool(b) => ValueRef::Integer(i64::from(*b)),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

fn pg_params(params: &[Value]) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn postgres::types::ToSql + Sync)).collect()
}

type BoxError = Box<dyn std::error::Error + Sync + Send>;

impl postgres::types::ToSql for Value {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<postgres::types::IsNull, BoxError> {
        use postgres::types::Type;
        let int = |i: i64, out: &mut bytes::BytesMut| match *ty {
            Type::INT8 => i.to_sql(ty, out),
            Type::INT4 => i32::try_from(i)?.to_sql(ty, out),
            Type::INT2 => i16::try_from(i)?.to_sql(ty, out),
            Type::BOOL => (i != 0).to_sql(ty, out),
            Type::FLOAT8 => (i as f64).to_sql(ty, out),
            Type::TEXT | Type::VARCHAR => i.to_string().to_sql(ty, out),
            _ => Err(format!("cannot send an integer as {ty}").into()),
        };
        match self {
            Value::Null => Ok(postgres::types::IsNull::Yes),
            Value::Int(i) => int(*i, out),
            Value::Bool(b) if *ty == Type::BOOL => b.to_sql(ty, out),
            Value::Bool(b) => int(i64::from(*b), out),
            Value::Real(f) if *ty == Type::FLOAT4 => (*f as f32).to_sql(ty, out),
            Value::Real(f) => f.to_sql(ty, out),
            Value::Text(s) => s.as_str().to_sql(ty, out),
            Value::Blob(b) => b.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

impl<'a> postgres::types::FromSql<'a> for Value {
    fn from_sql(ty: &postgres::types::Type, raw: &'a [u8]) -> Result<Value, BoxError> {
        use postgres::types::Type;
        Ok(match *ty {
            Type::BOOL => Value::Bool(bool::from_sql(ty, raw)?),
            Type::INT2 => Value::Int(i16::from_sql(ty, raw)?.into()),
            Type::INT4 => Value::Int(i32::from_sql(ty, raw)?.into()),
            Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
            Type::FLOAT4 => Value::Real(f32::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
            Type::BYTEA => Value::Blob(raw.to_vec()),
            _ => Value::Text(String::from_sql(ty, raw)?),
        })
    }

    fn from_sql_null(_: &postgres::types::Type) -> Result<Value, BoxError> {
        Ok(Value::Null)
    }

    fn accepts(ty: &postgres::types::Type) -> bool {
        use postgres::types::Type;
        matches!(
            *ty,
            Type::BOOL
                | Type::INT2
                | Type::INT4
                | Type::INT8
                | Type::FLOAT4
                | Type::FLOAT8
                | Type::BYTEA
                | Type::TEXT
                | Type::VARCHAR
                | Type::BPCHAR
                | Type::NAME
                | Type::UNKNOWN
        )
    }
}

/// SQLite's placeholders in PostgreSQL's form: `?N` becomes `$N`, a bare
/// `?` the next number; text inside quotes is left alone.
pub(super) fn dollar_params(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut next = 1;
    let mut quote: Option<char> = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                out.push(c);
            }
            None if c == '?' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                out.push('$');
                if digits.is_empty() {
                    out.push_str(&next.to_string());
                    next += 1;
                } else {
                    out.push_str(&digits);
                }
            }
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_rewritten_outside_quotes() {
        assert_eq!(dollar_params("SELECT ?1, ?2 WHERE a = ?1"), "SELECT $1, $2 WHERE a = $1");
        assert_eq!(dollar_params("IN (?,?,?)"), "IN ($1,$2,$3)");
        assert_eq!(dollar_params("SELECT '?' || \"a?\" || ?3"), "SELECT '?' || \"a?\" || $3");
    }
}
