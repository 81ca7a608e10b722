//! The app-owned database backend: SQLite or PostgreSQL behind one enum.
//!
//! Queries are written once with `$N` placeholders and run on either backend through
//! [`on_db!`] / [`on_tx!`], which expand the same body for each native sqlx driver.
//! Rows are read through [`DbRow`], so decoding code is shared too.

pub mod migrate;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{PgPool, Row, SqlitePool};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use crate::config::DatabaseUrl;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database error: {0}")]
    Sqlx(#[from] sqlx::Error),
    #[error("migration {name} failed: {message}")]
    Migration { name: String, message: String },
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

impl DbError {
    /// A unique or foreign-key violation: the caller's input conflicts with stored data.
    pub fn is_constraint(&self) -> bool {
        matches!(self, DbError::Sqlx(sqlx::Error::Database(e))
            if e.is_unique_violation() || e.is_foreign_key_violation())
    }

    /// The storage cannot take the work now (disk full, I/O error, database locked or
    /// unreachable, pool exhausted): nothing was stored, and the same request may succeed
    /// later. Answered as 503, not as a server defect.
    pub fn is_unavailable(&self) -> bool {
        match self {
            DbError::Sqlx(sqlx::Error::Database(e)) => {
                let code = e.code().unwrap_or_default();
                if e.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                    // SQLite primary result codes: BUSY 5, LOCKED 6, NOMEM 7, IOERR 10,
                    // FULL 13, CANTOPEN 14 (the extended code carries them in its low byte).
                    code.parse::<i64>()
                        .is_ok_and(|n| matches!(n & 0xff, 5 | 6 | 7 | 10 | 13 | 14))
                } else {
                    // PostgreSQL SQLSTATE: insufficient resources (53…: disk full), operator
                    // intervention (57…: shutdown), system error (58…: I/O), connection (08…).
                    ["53", "57", "58", "08"].iter().any(|c| code.starts_with(c))
                }
            }
            DbError::Sqlx(
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed,
            ) => true,
            _ => false,
        }
    }
}

pub type DbResult<T> = Result<T, DbError>;

/// How long a SQLite writer waits for its turn before the request is answered "unavailable".
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Debug)]
pub enum Db {
    /// The pool and what its transactions share (for SQLite, the gate its write transactions
    /// pass one at a time, see [`Db::begin`]).
    Sqlite(SqlitePool, Arc<Shared>),
    Postgres(PgPool, Arc<Shared>),
}

/// What every transaction of a database needs besides its connection: the clock its
/// instants are read from and the key of the audit chain (both set once at start by
/// [`crate::Ctx::open`]), and SQLite's write gate.
#[derive(Debug, Default)]
pub struct Shared {
    write_gate: Arc<tokio::sync::Mutex<()>>,
    clock: std::sync::OnceLock<crate::clock::Clock>,
    chain_key: std::sync::OnceLock<ChainKey>,
}

/// The audit chain's HMAC key (derived from the data key, never stored in the database).
#[derive(Clone)]
pub struct ChainKey(pub [u8; 32]);

impl std::fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChainKey(..)")
    }
}

/// A write transaction: the backend's connection, and the audit chain's head as this
/// transaction has moved it (see [`crate::audit::append`]).
pub struct Tx {
    pub conn: TxConn,
    /// The chain's last (seq, hash) once this transaction has read or appended to it; written
    /// back to `audit_head` once, at commit. Updating the one-row head per entry made a
    /// transaction of many entries quadratic on PostgreSQL (every update of a row adds a
    /// version the next update walks past until the transaction ends).
    pub(crate) audit_head: Option<(i64, String)>,
    pub(crate) audit_dirty: bool,
    /// The instant this transaction began, by the database's clock.
    pub now: DateTime<Utc>,
    pub(crate) chain_key: Option<ChainKey>,
    /// SQLite: the next id of each table this transaction reserved ids of.
    reserved: std::collections::HashMap<&'static str, i64>,
}

pub enum TxConn {
    Sqlite(SqliteTx),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// A SQLite write transaction on a connection of its own, begun with `BEGIN IMMEDIATE`.
///
/// Not sqlx's `Transaction`: SQLite rolls a transaction back by itself on some errors
/// (`SQLITE_FULL`, `SQLITE_IOERR`, `SQLITE_BUSY`, `SQLITE_NOMEM`), after which sqlx's own
/// `ROLLBACK` fails and its nesting counter stays up; the connection's next "transaction" is
/// then a savepoint inside one that never commits — acknowledged writes that are lost and a
/// write lock that is never released (found by the disk-full drill). Here a transaction that
/// did not commit closes its connection instead of returning it to the pool, and closing a
/// SQLite connection rolls back whatever it held. Only a committed connection is reused.
pub struct SqliteTx {
    conn: sqlx::pool::PoolConnection<sqlx::Sqlite>,
    committed: bool,
    /// This process's turn to write, held until the transaction ends.
    _turn: tokio::sync::OwnedMutexGuard<()>,
}

impl std::ops::Deref for SqliteTx {
    type Target = sqlx::SqliteConnection;
    fn deref(&self) -> &Self::Target {
        &self.conn
    }
}

impl std::ops::DerefMut for SqliteTx {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.conn
    }
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        if !self.committed {
            self.conn.close_on_drop();
        }
    }
}

/// Run `$body` with `$p` bound to the native pool of whichever backend `$db` is.
#[macro_export]
macro_rules! on_db {
    ($db:expr, $p:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($p, _) => $body,
            $crate::db::Db::Postgres($p, _) => $body,
        }
    };
}

/// Run `$body` with `$c` bound to the native connection of the transaction `$tx`.
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, $c:ident => $body:expr) => {
        match &mut ($tx).conn {
            $crate::db::TxConn::Sqlite(t) => {
                let $c = &mut **t;
                $body
            }
            $crate::db::TxConn::Postgres(t) => {
                let $c = &mut **t;
                $body
            }
        }
    };
}

/// Bind a slice of [`Val`] to a query built from dynamic SQL.
#[macro_export]
macro_rules! bind_vals {
    ($q:expr, $vals:expr) => {{
        let mut q = $q;
        for v in $vals {
            q = match v {
                $crate::db::Val::I64(x) => q.bind(*x),
                $crate::db::Val::Str(x) => q.bind(x.clone()),
                $crate::db::Val::Date(x) => q.bind(*x),
                $crate::db::Val::Bool(x) => q.bind(*x),
            };
        }
        q
    }};
}

/// A value bound to a dynamically built query.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    I64(i64),
    Str(String),
    Date(NaiveDate),
    Bool(bool),
}

/// Builds `WHERE` clauses with numbered placeholders.
#[derive(Debug, Default)]
pub struct SqlBuilder {
    pub sql: String,
    pub vals: Vec<Val>,
}

impl SqlBuilder {
    pub fn new(sql: &str) -> Self {
        Self {
            sql: sql.to_string(),
            vals: Vec::new(),
        }
    }
    /// Appends `v` and returns its placeholder, e.g. `$3`.
    pub fn arg(&mut self, v: Val) -> String {
        self.vals.push(v);
        format!("${}", self.vals.len())
    }
    pub fn push(&mut self, s: &str) -> &mut Self {
        self.sql.push_str(s);
        self
    }
    /// ` WHERE {col} >= $a AND {col} < $b`: the subtree of `path` on a materialised-path
    /// column, as one range scan.
    pub fn subtree(col: &str, path: &str) -> Self {
        let mut b = Self::new("");
        let lo = b.arg(Val::Str(path.to_string()));
        let hi = b.arg(Val::Str(path_upper(path)));
        b.push(&format!(" WHERE {col} >= {lo} AND {col} < {hi}"));
        b
    }
    /// Appends `sql` with its `?` standing for the placeholder of `v`.
    pub fn and(&mut self, sql: &str, v: Val) {
        let a = self.arg(v);
        self.push(&sql.replace('?', &a));
    }
}

/// Column access shared by both backends' rows.
pub trait DbRow {
    fn i64(&self, c: &str) -> DbResult<i64>;
    fn opt_i64(&self, c: &str) -> DbResult<Option<i64>>;
    fn string(&self, c: &str) -> DbResult<String>;
    fn opt_string(&self, c: &str) -> DbResult<Option<String>>;
    fn date(&self, c: &str) -> DbResult<NaiveDate>;
    fn opt_date(&self, c: &str) -> DbResult<Option<NaiveDate>>;
    fn ts(&self, c: &str) -> DbResult<DateTime<Utc>>;
    fn opt_ts(&self, c: &str) -> DbResult<Option<DateTime<Utc>>>;
    fn bool(&self, c: &str) -> DbResult<bool>;
    fn opt_bool(&self, c: &str) -> DbResult<Option<bool>>;
    fn bytes(&self, c: &str) -> DbResult<Vec<u8>>;
    fn opt_bytes(&self, c: &str) -> DbResult<Option<Vec<u8>>>;
}

macro_rules! impl_row {
    ($t:ty) => {
        impl DbRow for $t {
            fn i64(&self, c: &str) -> DbResult<i64> {
                Ok(self.try_get(c)?)
            }
            fn opt_i64(&self, c: &str) -> DbResult<Option<i64>> {
                Ok(self.try_get(c)?)
            }
            fn string(&self, c: &str) -> DbResult<String> {
                Ok(self.try_get(c)?)
            }
            fn opt_string(&self, c: &str) -> DbResult<Option<String>> {
                Ok(self.try_get(c)?)
            }
            fn date(&self, c: &str) -> DbResult<NaiveDate> {
                Ok(self.try_get(c)?)
            }
            fn opt_date(&self, c: &str) -> DbResult<Option<NaiveDate>> {
                Ok(self.try_get(c)?)
            }
            fn ts(&self, c: &str) -> DbResult<DateTime<Utc>> {
                Ok(self.try_get(c)?)
            }
            fn opt_ts(&self, c: &str) -> DbResult<Option<DateTime<Utc>>> {
                Ok(self.try_get(c)?)
            }
            fn bool(&self, c: &str) -> DbResult<bool> {
                Ok(self.try_get(c)?)
            }
            fn opt_bool(&self, c: &str) -> DbResult<Option<bool>> {
                Ok(self.try_get(c)?)
            }
            fn bytes(&self, c: &str) -> DbResult<Vec<u8>> {
                Ok(self.try_get(c)?)
            }
            fn opt_bytes(&self, c: &str) -> DbResult<Option<Vec<u8>>> {
                Ok(self.try_get(c)?)
            }
        }
    };
}
impl_row!(SqliteRow);
impl_row!(PgRow);

/// How long a request waits for a pooled connection; every request's deadline is shorter.
pub const POOL_ACQUIRE_MS: u64 = 10_000;

impl Db {
    /// Opens the pool; `sqlite_cache_mib` is SQLite's page cache per connection.
    pub async fn connect(url: &DatabaseUrl, sqlite_cache_mib: u32) -> DbResult<Self> {
        match url {
            DatabaseUrl::Sqlite(path) => {
                let opts = SqliteConnectOptions::new()
                    .filename(path)
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .foreign_keys(true)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT)
                    // negative: KiB
                    .pragma(
                        "cache_size",
                        format!("-{}", u64::from(sqlite_cache_mib.max(1)) * 1024),
                    )
                    // Sorts and groupings larger than the page cache spill to temporary files
                    // (the OS's cache), not to the heap: counting the city's dashboard in memory
                    // added 95 MB to the server's resident set, which it kept.
                    .pragma("temp_store", "file")
                    // what a change frees is overwritten where the page is written anyway, so
                    // earlier personal data does not linger in the file
                    .pragma("secure_delete", "FAST");
                let pool = SqlitePoolOptions::new()
                    .max_connections(8)
                    .min_connections(1)
                    .acquire_timeout(Duration::from_millis(POOL_ACQUIRE_MS))
                    .connect_with(opts)
                    .await?;
                Ok(Db::Sqlite(pool, Default::default()))
            }
            DatabaseUrl::Postgres(url) => {
                let opts = PgConnectOptions::from_str(url)?;
                let pool = PgPoolOptions::new()
                    .max_connections(16)
                    .acquire_timeout(Duration::from_millis(POOL_ACQUIRE_MS))
                    .connect_with(opts)
                    .await?;
                Ok(Db::Postgres(pool, Default::default()))
            }
        }
    }

    pub fn is_sqlite(&self) -> bool {
        matches!(self, Db::Sqlite(..))
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Db::Sqlite(..) => "sqlite",
            Db::Postgres(..) => "postgres",
        }
    }

    /// Begins a write transaction. On SQLite it takes the write lock at once (`BEGIN
    /// IMMEDIATE`: a deferred transaction that reads first could fail to upgrade under
    /// concurrency); on PostgreSQL the audit head row is locked when the audit entry is
    /// appended.
    /// Starts a transaction. SQLite allows one writer at a time: its busy handler makes a
    /// waiting writer sleep and retry with growing pauses, so under a burst of writes (a review
    /// meeting's raters) some wait far longer than others. Here the process's writers queue
    /// first, first come first served, for the gate — and only then take a connection, so the
    /// queue never holds the readers' connections. Waiting longer than the busy timeout is
    /// "unavailable", as SQLite's own busy error is.
    pub async fn begin(&self) -> DbResult<Tx> {
        let sh = self.shared();
        let now = self.now();
        let key = sh.chain_key.get().cloned();
        let mk = |conn| Tx {
            conn,
            audit_head: None,
            audit_dirty: false,
            now,
            chain_key: key,
            reserved: Default::default(),
        };
        match self {
            Db::Sqlite(p, sh) => {
                let turn =
                    tokio::time::timeout(SQLITE_BUSY_TIMEOUT, sh.write_gate.clone().lock_owned())
                        .await
                        .map_err(|_| DbError::Sqlx(sqlx::Error::PoolTimedOut))?;
                let mut t = SqliteTx {
                    conn: p.acquire().await?,
                    committed: false,
                    _turn: turn,
                };
                sqlx::query("BEGIN IMMEDIATE").execute(&mut *t).await?;
                Ok(mk(TxConn::Sqlite(t)))
            }
            Db::Postgres(p, _) => Ok(mk(TxConn::Postgres(p.begin().await?))),
        }
    }

    fn shared(&self) -> &Shared {
        match self {
            Db::Sqlite(_, s) | Db::Postgres(_, s) => s,
        }
    }

    /// The instant now, by the clock set at start (the system clock until then).
    pub fn now(&self) -> DateTime<Utc> {
        self.shared().clock.get().map_or_else(Utc::now, |c| c.now())
    }

    /// Today's date in the clock's zone.
    pub fn today(&self) -> NaiveDate {
        self.shared().clock.get().map_or_else(
            || crate::clock::Zone::default().date_of(Utc::now()),
            |c| c.today(),
        )
    }

    /// Sets the clock and the audit chain's key; once, at start.
    pub fn init(&self, clock: crate::clock::Clock, chain_key: ChainKey) {
        let sh = self.shared();
        let _ = sh.clock.set(clock);
        let _ = sh.chain_key.set(chain_key);
    }

    pub fn chain_key(&self) -> Option<&ChainKey> {
        self.shared().chain_key.get()
    }

    pub async fn close(&self) {
        on_db!(self, p => p.close().await)
    }
}

impl Tx {
    /// Reserves `n` new ids of `table` (its `id` column) before inserting rows with them, so
    /// that what is written into a row can name the row (a ciphertext bound to it). SQLite:
    /// the next rowids — the write transaction holds the database's only write lock; PostgreSQL:
    /// values of the column's identity sequence.
    pub async fn reserve_ids(&mut self, table: &'static str, n: usize) -> DbResult<Vec<i64>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let next = self.reserved.get(table).copied();
        match &mut self.conn {
            TxConn::Sqlite(t) => {
                let start = match next {
                    Some(x) => x,
                    None => {
                        let sql = format!("SELECT COALESCE(MAX(id), 0) + 1 AS n FROM {table}");
                        sqlx::query(&sql).fetch_one(&mut **t).await?.i64("n")?
                    }
                };
                self.reserved.insert(table, start + n as i64);
                Ok((start..start + n as i64).collect())
            }
            TxConn::Postgres(t) => {
                let sql = format!(
                    "SELECT nextval(pg_get_serial_sequence('{table}', 'id')) AS id FROM generate_series(1, $1)"
                );
                let rows = sqlx::query(&sql).bind(n as i64).fetch_all(&mut **t).await?;
                rows.iter().map(|r| r.i64("id")).collect()
            }
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.conn, TxConn::Postgres(_))
    }

    pub async fn commit(mut self) -> DbResult<()> {
        if self.audit_dirty {
            if let Some((seq, hash)) = self.audit_head.take() {
                let mac = match &self.chain_key {
                    Some(k) => crate::audit::head_mac(k, seq, &hash),
                    None => {
                        return Err(DbError::Corrupt(
                            "the audit chain's key is not loaded".into(),
                        ))
                    }
                };
                on_tx!(&mut self, c => {
                    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2, mac = $3 WHERE id = 1")
                        .bind(seq)
                        .bind(&hash)
                        .bind(&mac)
                        .execute(&mut *c)
                        .await?;
                });
            }
        }
        match self.conn {
            TxConn::Sqlite(mut t) => {
                sqlx::query("COMMIT").execute(&mut *t).await?;
                t.committed = true;
            }
            TxConn::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }
}

/// The rows of `inner` (with `vals` bound), handed over as one JSON array of arrays of its
/// columns `cols`, decoded into `T` (a tuple, e.g. `(i64, String)`).
///
/// For queries of many small rows: sqlx's SQLite driver passes every row from its worker
/// thread to the caller as a message of its own, which costs more than SQLite's work on such
/// rows (a branch's year of points, 421 rows: 0.47 ms in SQLite, about 2 ms delivered row by
/// row). PostgreSQL is asked for the same shape (`json_agg`), so both run one path. The
/// array keeps the order in which `inner` yields its rows: both aggregates take the rows of
/// a subquery as it produces them (PostgreSQL never splits `json_agg`, which has no combine
/// function, across parallel workers), and the integration suite's ordered lists check it on
/// both databases.
pub async fn fetch_packed<T: serde::de::DeserializeOwned>(
    db: &Db,
    inner: &str,
    cols: &[&str],
    vals: &[Val],
) -> DbResult<Vec<T>> {
    let cols = cols.join(", ");
    let sql = if db.is_sqlite() {
        format!("SELECT json_group_array(json_array({cols})) AS j FROM ({inner}) AS t")
    } else {
        format!("SELECT COALESCE(json_agg(json_build_array({cols})), '[]'::json)::text AS j FROM ({inner}) AS t")
    };
    let text =
        on_db!(db, p => bind_vals!(sqlx::query(&sql), vals).fetch_one(p).await?.string("j")?);
    serde_json::from_str(&text).map_err(|e| DbError::Corrupt(format!("packed rows: {e}")))
}

/// A row of a packed result (see [`fetch_rows_packed`]), read through [`DbRow`] like a
/// native one.
pub struct PackedRow {
    names: Arc<[String]>,
    vals: Vec<serde_json::Value>,
}

impl PackedRow {
    fn get(&self, c: &str) -> DbResult<&serde_json::Value> {
        self.names
            .iter()
            .position(|n| n == c)
            .and_then(|i| self.vals.get(i))
            .ok_or_else(|| DbError::Corrupt(format!("packed row has no column {c}")))
    }
    fn opt<T>(
        &self,
        c: &str,
        f: impl FnOnce(&serde_json::Value) -> Option<T>,
    ) -> DbResult<Option<T>> {
        match self.get(c)? {
            serde_json::Value::Null => Ok(None),
            v => f(v)
                .map(Some)
                .ok_or_else(|| DbError::Corrupt(format!("packed column {c}: unexpected {v}"))),
        }
    }
    fn req<T>(&self, c: &str, f: impl FnOnce(&serde_json::Value) -> Option<T>) -> DbResult<T> {
        self.opt(c, f)?
            .ok_or_else(|| DbError::Corrupt(format!("packed column {c} is null")))
    }
}

fn parse_ts(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f")
                .ok()
                .map(|t| t.and_utc())
        })
        .or_else(|| {
            DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%:z")
                .ok()
                .map(|t| t.with_timezone(&Utc))
        })
}

impl DbRow for PackedRow {
    fn i64(&self, c: &str) -> DbResult<i64> {
        self.req(c, |v| v.as_i64())
    }
    fn opt_i64(&self, c: &str) -> DbResult<Option<i64>> {
        self.opt(c, |v| v.as_i64())
    }
    fn string(&self, c: &str) -> DbResult<String> {
        self.req(c, |v| v.as_str().map(str::to_string))
    }
    fn opt_string(&self, c: &str) -> DbResult<Option<String>> {
        self.opt(c, |v| v.as_str().map(str::to_string))
    }
    fn date(&self, c: &str) -> DbResult<NaiveDate> {
        self.req(c, |v| v.as_str().and_then(|s| s.parse().ok()))
    }
    fn opt_date(&self, c: &str) -> DbResult<Option<NaiveDate>> {
        self.opt(c, |v| v.as_str().and_then(|s| s.parse().ok()))
    }
    fn ts(&self, c: &str) -> DbResult<DateTime<Utc>> {
        self.req(c, |v| v.as_str().and_then(parse_ts))
    }
    fn opt_ts(&self, c: &str) -> DbResult<Option<DateTime<Utc>>> {
        self.opt(c, |v| v.as_str().and_then(parse_ts))
    }
    fn bool(&self, c: &str) -> DbResult<bool> {
        self.req(c, |v| v.as_bool().or_else(|| v.as_i64().map(|n| n != 0)))
    }
    fn opt_bool(&self, c: &str) -> DbResult<Option<bool>> {
        self.opt(c, |v| v.as_bool().or_else(|| v.as_i64().map(|n| n != 0)))
    }
    fn bytes(&self, c: &str) -> DbResult<Vec<u8>> {
        Err(DbError::Corrupt(format!(
            "packed rows carry no bytes ({c})"
        )))
    }
    fn opt_bytes(&self, c: &str) -> DbResult<Option<Vec<u8>>> {
        self.bytes(c).map(Some)
    }
}

/// The items of a select list and the names their rows are read by: `e.id` → `id`,
/// `(SELECT …) AS reversed` → `reversed`. Commas inside parentheses do not split.
fn select_items(list: &str) -> Vec<(&str, String)> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    let bytes = list.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'(' => depth += 1,
            b')' => depth -= 1,
            b',' if depth == 0 => {
                items.push(&list[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&list[start..]);
    items
        .into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| match item.rfind(" AS ") {
            Some(at) if !item[at..].contains(')') => {
                (item[..at].trim(), item[at + 4..].trim().to_string())
            }
            _ => (
                item,
                item.rsplit('.').next().unwrap_or(item).trim().to_string(),
            ),
        })
        .collect()
}

/// `SELECT {select_list}{rest}` (`rest`: from ` FROM` on, with `vals` bound), its rows handed
/// over packed as one JSON value (see [`fetch_packed`]) and read back through [`DbRow`] by
/// the select list's names, so a row decoder works on either. For result sets of many rows
/// or columns; no BLOB columns.
pub async fn fetch_rows_packed(
    db: &Db,
    select_list: &str,
    rest: &str,
    vals: &[Val],
) -> DbResult<Vec<PackedRow>> {
    let items = select_items(select_list);
    let inner = format!(
        "SELECT {}{rest}",
        items
            .iter()
            .enumerate()
            .map(|(i, (expr, _))| format!("{expr} AS c{i}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let cols: Vec<String> = (0..items.len()).map(|i| format!("c{i}")).collect();
    let cols: Vec<&str> = cols.iter().map(String::as_str).collect();
    let names: Arc<[String]> = items.into_iter().map(|(_, n)| n).collect();
    let rows: Vec<Vec<serde_json::Value>> = fetch_packed(db, &inner, &cols, vals).await?;
    Ok(rows
        .into_iter()
        .map(|vals| PackedRow {
            names: names.clone(),
            vals,
        })
        .collect())
}

/// The highest page a roll or an account list serves (a province's roll at 20 a page is
/// 150,000 pages); the bound keeps `(page - 1) * per_page` far from overflow.
pub const MAX_PAGE: i64 = 10_000_000;

/// The placeholders of a multi-row `VALUES`: `rows` tuples of `per_row`, bound in order. On
/// PostgreSQL `$1, $2, …`; on SQLite anonymous `?` — SQLite finds a numbered parameter's name
/// by walking a list, so binding n numbered parameters costs O(n²) (an import's batch of 40
/// members, 1,000 parameters, was slower than 40 single-row statements).
pub fn values_tuples(sqlite: bool, rows: usize, per_row: usize) -> String {
    let mut out = String::with_capacity(rows * per_row * 5);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for k in 0..per_row {
            if k > 0 {
                out.push_str(", ");
            }
            if sqlite {
                out.push('?');
            } else {
                out.push_str(&format!("${}", r * per_row + k + 1));
            }
        }
        out.push(')');
    }
    out
}

/// Upper bound for a materialised-path prefix range: every path that starts with `prefix`
/// satisfies `prefix <= path < upper(prefix)` (paths end in '/', and '/' + 1 = '0').
pub fn path_upper(prefix: &str) -> String {
    let mut s = prefix.to_string();
    if s.ends_with('/') {
        s.pop();
        s.push('0');
    } else {
        s.push('\u{10FFFF}');
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn values_tuples_number_or_leave_anonymous() {
        assert_eq!(
            super::values_tuples(false, 2, 3),
            "($1, $2, $3), ($4, $5, $6)"
        );
        assert_eq!(super::values_tuples(true, 2, 2), "(?, ?), (?, ?)");
        assert_eq!(super::values_tuples(true, 0, 2), "");
    }

    use super::*;

    #[test]
    fn select_items_name_each_column() {
        let got = select_items("e.id, m.name AS member_name, (SELECT COUNT(*) FROM r WHERE r.a = e.id, x) AS reversed, CAST(SUM(e.points) AS BIGINT) AS s, plain");
        let names: Vec<&str> = got.iter().map(|(_, n)| n.as_str()).collect();
        assert_eq!(names, ["id", "member_name", "reversed", "s", "plain"]);
        assert_eq!(got[1].0, "m.name");
        assert_eq!(got[3].0, "CAST(SUM(e.points) AS BIGINT)");
    }

    #[test]
    fn packed_rows_decode_like_native_ones() {
        let row = PackedRow {
            names: vec![
                "n".to_string(),
                "s".into(),
                "d".into(),
                "t".into(),
                "b".into(),
                "z".into(),
            ]
            .into(),
            vals: serde_json::from_str(
                r#"[7, "七", "2026-11-24", "2026-11-24T03:42:20.998924+00:00", 1, null]"#,
            )
            .expect("json"),
        };
        assert_eq!(row.i64("n").expect("n"), 7);
        assert_eq!(row.string("s").expect("s"), "七");
        assert_eq!(
            row.date("d").expect("d"),
            NaiveDate::from_ymd_opt(2026, 11, 24).expect("d")
        );
        assert_eq!(row.ts("t").expect("t").timestamp(), 1_795_491_740);
        assert!(row.bool("b").expect("b"));
        assert_eq!(row.opt_string("z").expect("z"), None);
        assert!(row.string("z").is_err(), "null is not a string");
        assert!(row.i64("s").is_err(), "text is not a number");
        assert!(row.i64("missing").is_err());
        assert!(row.bytes("s").is_err());
    }

    #[test]
    fn path_range() {
        assert_eq!(path_upper("/1/5/"), "/1/50");
        let (lo, hi) = ("/1/5/", path_upper("/1/5/"));
        for p in ["/1/5/", "/1/5/7/", "/1/5/70/3/"] {
            assert!(p >= lo && p < hi.as_str(), "{p}");
        }
        for p in ["/1/50/", "/1/6/", "/1/", "/1/4/9/"] {
            assert!(!(p >= lo && p < hi.as_str()), "{p}");
        }
    }
}
