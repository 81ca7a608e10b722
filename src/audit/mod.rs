//! The tamper-evident audit log (审计日志).
//!
//! Every mutation, login, failed login, authorisation refusal and unmask is appended in the
//! same transaction as the change it records. Entries form a keyed hash chain: each entry's
//! hash is HMAC-SM3, under the chain key (derived from the data key, never in the database),
//! of a fixed byte encoding of (seq, previous hash, time, actor, role, organisation, action,
//! object, before, after); entries written before keying (`audit_meta.keyed_from`) are plain
//! SM3 and sealed by the first keyed entry's link. `audit_head` holds the last seq and hash
//! with their HMAC, so neither a recomputed chain nor a rewound head verifies without the key;
//! an anchor file outside the database (see [`anchor`]) catches a head rewound to a state it
//! once had. [`verify`] also checks that the append-only triggers are in place.

pub mod anchor;
pub mod checks;
pub mod words;

pub mod web;

use crate::db::{ChainKey, Db, DbError, DbResult, DbRow, SqlBuilder, Tx, Val};
use crate::{bind_vals, on_db, on_tx};
use serde::Serialize;
use std::borrow::Cow;

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who did it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Actor {
    pub id: Option<i64>,
    pub name: String,
    pub role: String,
    pub org_id: Option<i64>,
    pub ip: String,
}

impl Actor {
    pub fn system(name: &str) -> Self {
        Self {
            id: None,
            name: name.to_string(),
            role: "system".into(),
            org_id: None,
            ip: String::new(),
        }
    }
}

/// What is being recorded, before hashing.
#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    pub action: &'a str,
    pub object_type: &'a str,
    pub object_id: String,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
}

/// One audit entry; `before_json`/`after_json` are JSON text with personal numbers masked.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, utoipa::ToSchema)]
#[schema(as = AuditEntry)]
pub struct Entry {
    pub seq: i64,
    pub prev_hash: String,
    pub hash: String,
    pub ts: String,
    pub actor_id: Option<i64>,
    pub actor_name: String,
    pub role: String,
    pub org_id: Option<i64>,
    pub action: String,
    pub object_type: String,
    pub object_id: String,
    pub before_json: String,
    pub after_json: String,
    pub ip: String,
}

fn put(buf: &mut Vec<u8>, field: &[u8]) {
    buf.extend_from_slice(&(field.len() as u32).to_be_bytes());
    buf.extend_from_slice(field);
}

fn put_opt(buf: &mut Vec<u8>, v: Option<i64>) {
    match v {
        Some(x) => {
            buf.push(1);
            buf.extend_from_slice(&x.to_be_bytes());
        }
        None => buf.push(0),
    }
}

/// An entry's fields borrowed (from an [`Entry`] or straight from a database row), in the
/// order they are hashed.
#[derive(Debug, Clone, Copy)]
pub struct EntryRef<'a> {
    pub seq: i64,
    pub prev_hash: &'a str,
    pub hash: &'a str,
    pub ts: &'a str,
    pub actor_id: Option<i64>,
    pub actor_name: &'a str,
    pub role: &'a str,
    pub org_id: Option<i64>,
    pub action: &'a str,
    pub object_type: &'a str,
    pub object_id: &'a str,
    pub before_json: &'a str,
    pub after_json: &'a str,
    pub ip: &'a str,
}

impl Entry {
    pub fn as_ref(&self) -> EntryRef<'_> {
        EntryRef {
            seq: self.seq,
            prev_hash: &self.prev_hash,
            hash: &self.hash,
            ts: &self.ts,
            actor_id: self.actor_id,
            actor_name: &self.actor_name,
            role: &self.role,
            org_id: self.org_id,
            action: &self.action,
            object_type: &self.object_type,
            object_id: &self.object_id,
            before_json: &self.before_json,
            after_json: &self.after_json,
            ip: &self.ip,
        }
    }
}

/// The fixed byte encoding hashed for each entry (version tag first, so it can evolve).
pub fn encode(e: &Entry) -> Vec<u8> {
    let mut b = Vec::with_capacity(256 + e.before_json.len() + e.after_json.len());
    encode_into(&e.as_ref(), &mut b);
    b
}

/// [`encode`] into a reused buffer (cleared first): the plain-SM3 entries' encoding.
pub fn encode_into(e: &EntryRef<'_>, b: &mut Vec<u8>) {
    encode_tagged(e, b"DJA1", b)
}

/// The encoding under a version tag (`DJA1` plain SM3, `DJA2` keyed).
fn encode_tagged(e: &EntryRef<'_>, tag: &[u8; 4], b: &mut Vec<u8>) {
    b.clear();
    b.extend_from_slice(tag);
    b.extend_from_slice(&e.seq.to_be_bytes());
    put(b, e.prev_hash.as_bytes());
    put(b, e.ts.as_bytes());
    put_opt(b, e.actor_id);
    put(b, e.actor_name.as_bytes());
    put(b, e.role.as_bytes());
    put_opt(b, e.org_id);
    put(b, e.action.as_bytes());
    put(b, e.object_type.as_bytes());
    put(b, e.object_id.as_bytes());
    put(b, e.before_json.as_bytes());
    put(b, e.after_json.as_bytes());
    put(b, e.ip.as_bytes());
}

pub fn entry_hash(e: &Entry) -> String {
    crate::crypto::sm3_hex(&encode(e))
}

/// A keyed entry's hash: HMAC-SM3 under the chain key of its `DJA2` encoding.
pub fn keyed_hash(key: &ChainKey, e: &EntryRef<'_>, buf: &mut Vec<u8>) -> String {
    encode_tagged(e, b"DJA2", buf);
    hex::encode(crate::crypto::hmac_sm3(&key.0, buf))
}

/// The MAC of the chain's head (seq, hash).
pub fn head_mac(key: &ChainKey, seq: i64, hash: &str) -> String {
    let mut b = b"DJH1".to_vec();
    b.extend_from_slice(&seq.to_be_bytes());
    b.extend_from_slice(hash.as_bytes());
    hex::encode(crate::crypto::hmac_sm3(&key.0, &b))
}

/// The MAC of `audit_meta.keyed_from`.
pub fn meta_mac(key: &ChainKey, keyed_from: i64) -> String {
    let mut b = b"DJK1".to_vec();
    b.extend_from_slice(&keyed_from.to_be_bytes());
    hex::encode(crate::crypto::hmac_sm3(&key.0, &b))
}

fn ts_text(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Appends one entry inside `tx`. If this fails the caller's transaction must roll back.
pub async fn append(tx: &mut Tx, actor: &Actor, e: NewEntry<'_>) -> DbResult<i64> {
    append_many(tx, actor, vec![e]).await
}

/// Entries [`append_many`] writes in one statement.
const APPEND_BATCH: usize = 64;

/// Appends entries in order inside `tx`, in statements of up to [`APPEND_BATCH`] rows; returns
/// the last one's sequence number. If this fails the caller's transaction must roll back.
pub async fn append_many(tx: &mut Tx, actor: &Actor, es: Vec<NewEntry<'_>>) -> DbResult<i64> {
    // The head is read once per transaction and kept in it; `Tx::commit` writes it back.
    // PostgreSQL: the row lock orders concurrent writers; SQLite already holds the write lock.
    let mut head = match &tx.audit_head {
        Some(h) => h.clone(),
        None => {
            let sql = if tx.is_postgres() {
                "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE"
            } else {
                "SELECT seq, hash FROM audit_head WHERE id = 1"
            };
            on_tx!(tx, c => {
                let r = sqlx::query(sql).fetch_one(&mut *c).await?;
                (r.i64("seq")?, r.string("hash")?)
            })
        }
    };
    let ts = ts_text(tx.now);
    // fail closed: no entry is written that the chain's key does not seal
    let key = tx
        .chain_key
        .clone()
        .ok_or_else(|| DbError::Corrupt("the audit chain's key is not loaded".into()))?;
    let mut buf = Vec::with_capacity(512);
    let mut es = es.into_iter().peekable();
    while es.peek().is_some() {
        let mut batch = Vec::with_capacity(APPEND_BATCH);
        for e in es.by_ref().take(APPEND_BATCH) {
            let mut entry = Entry {
                seq: head.0 + 1,
                prev_hash: std::mem::take(&mut head.1),
                hash: String::new(),
                ts: ts.clone(),
                actor_id: actor.id,
                actor_name: actor.name.clone(),
                role: actor.role.clone(),
                org_id: actor.org_id,
                action: e.action.to_string(),
                object_type: e.object_type.to_string(),
                object_id: e.object_id,
                before_json: e.before.to_string(),
                after_json: e.after.to_string(),
                ip: actor.ip.clone(),
            };
            entry.hash = keyed_hash(&key, &entry.as_ref(), &mut buf);
            head = (entry.seq, entry.hash.clone());
            batch.push(entry);
        }
        let sql = format!(
            "INSERT INTO audit_log (seq, prev_hash, hash, ts, actor_id, actor_name, role, org_id, action, object_type, object_id, before_json, after_json, ip) VALUES {}",
            crate::db::values_tuples(!tx.is_postgres(), batch.len(), 14)
        );
        on_tx!(tx, c => {
            let mut q = sqlx::query(&sql);
            for entry in &batch {
                q = q
                    .bind(entry.seq)
                    .bind(&entry.prev_hash)
                    .bind(&entry.hash)
                    .bind(&entry.ts)
                    .bind(entry.actor_id)
                    .bind(&entry.actor_name)
                    .bind(&entry.role)
                    .bind(entry.org_id)
                    .bind(&entry.action)
                    .bind(&entry.object_type)
                    .bind(&entry.object_id)
                    .bind(&entry.before_json)
                    .bind(&entry.after_json)
                    .bind(&entry.ip);
            }
            q.execute(&mut *c).await?;
        });
        tx.audit_head = Some(head.clone());
        tx.audit_dirty = true;
    }
    Ok(head.0)
}

/// Records a standalone event (login, refusal, unmask) in its own transaction.
pub async fn record(db: &Db, actor: &Actor, e: NewEntry<'_>) -> DbResult<()> {
    let mut tx = db.begin().await?;
    append(&mut tx, actor, e).await?;
    tx.commit().await
}

fn row_to_entry(r: &impl DbRow) -> DbResult<Entry> {
    Ok(Entry {
        seq: r.i64("seq")?,
        prev_hash: r.string("prev_hash")?,
        hash: r.string("hash")?,
        ts: r.string("ts")?,
        actor_id: r.opt_i64("actor_id")?,
        actor_name: r.string("actor_name")?,
        role: r.string("role")?,
        org_id: r.opt_i64("org_id")?,
        action: r.string("action")?,
        object_type: r.string("object_type")?,
        object_id: r.string("object_id")?,
        before_json: r.string("before_json")?,
        after_json: r.string("after_json")?,
        ip: r.string("ip")?,
    })
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum VerifyOutcome {
    Ok { entries: i64 },
    Broken { seq: i64, reason: String },
}

/// The columns of an entry in [`EntryRef`]'s order, read by position, then the encrypted
/// originals of a redacted entry (hex).
const ENTRY_COLUMNS: &str = "seq, prev_hash, hash, ts, actor_id, actor_name, role, org_id, action, object_type, object_id, before_json, after_json, ip";

/// Entries per chunk of [`verify`]: read on one connection, checked on a blocking thread.
const VERIFY_CHUNK: i64 = 4_000;

/// What one chunk of seqs `lo..=hi` showed; stitched to its neighbours by [`verify`].
#[derive(Debug, Default)]
struct ChunkOutcome {
    /// The first entry is not `lo` (or there is none).
    head_broken: Option<(i64, String)>,
    /// The first entry's previous hash, to compare with the chunk before.
    first_prev: String,
    /// A break after the first entry's link (its own hash included).
    body_broken: Option<(i64, String)>,
    last_seq: i64,
    last_hash: String,
}

/// How a chunk's entries are checked: which are keyed, under which key, and how a redacted
/// entry's original is read back.
#[derive(Clone)]
struct Checker {
    keyed_from: i64,
    key: ChainKey,
    vault: std::sync::Arc<crate::crypto::Vault>,
}

/// An entry's encrypted originals (hex of `before_enc`, `after_enc`), when it was redacted.
type Originals<'a> = (Option<Cow<'a, str>>, Option<Cow<'a, str>>);

impl Checker {
    /// The entry's hash as it must be: keyed after `keyed_from`, plain SM3 up to it; a
    /// redacted entry is hashed on its original, which must redact to the stored text.
    fn expected_hash(
        &self,
        e: &EntryRef<'_>,
        originals: &Originals<'_>,
        buf: &mut Vec<u8>,
    ) -> Result<String, String> {
        let open = |col: &str,
                    hex_text: &Option<Cow<'_, str>>,
                    stored: &str|
         -> Result<Option<String>, String> {
            let Some(h) = hex_text.as_deref().filter(|h| !h.is_empty()) else {
                return Ok(None);
            };
            let bytes = hex::decode(h).map_err(|_| format!("{col} is not hex"))?;
            let plain = self
                .vault
                .decrypt(&crate::crypto::aad("audit_log", col, e.seq), &bytes)
                .map_err(|err| format!("{col}: {err}"))?;
            if redact_json(&plain).as_deref().unwrap_or(&plain) != stored {
                return Err(format!("{col} does not redact to the stored text"));
            }
            Ok(Some(plain))
        };
        let before = open("before_enc", &originals.0, e.before_json)?;
        let after = open("after_enc", &originals.1, e.after_json)?;
        let mut orig = *e;
        if let Some(b) = &before {
            orig.before_json = b;
        }
        if let Some(a) = &after {
            orig.after_json = a;
        }
        Ok(if e.seq > self.keyed_from {
            keyed_hash(&self.key, &orig, buf)
        } else {
            encode_into(&orig, buf);
            hex::encode(crate::crypto::sm3(buf))
        })
    }
}

/// Checks a chunk's entries: consecutive seqs from `lo`, each linked to the one before, each
/// hashing to its stored hash. The first entry's link is the caller's to check.
fn check_chunk<'a>(
    lo: i64,
    checker: &Checker,
    entries: impl Iterator<Item = Result<(EntryRef<'a>, Originals<'a>), sqlx::Error>>,
) -> DbResult<ChunkOutcome> {
    let mut out = ChunkOutcome {
        last_seq: lo - 1,
        ..Default::default()
    };
    let mut buf = Vec::with_capacity(1024);
    let mut prev: Option<&'a str> = None;
    for e in entries {
        let (e, originals) = e?;
        let expected = out.last_seq + 1;
        if e.seq != expected {
            let b = (
                expected,
                format!("expected seq {expected}, found {}", e.seq),
            );
            if prev.is_none() {
                out.head_broken = Some(b);
            } else {
                out.body_broken = Some(b);
            }
            return Ok(out);
        }
        match prev {
            None => out.first_prev = e.prev_hash.to_string(),
            Some(p) if p != e.prev_hash => {
                out.body_broken = Some((e.seq, "previous-hash link broken".into()));
                return Ok(out);
            }
            Some(_) => {}
        }
        match checker.expected_hash(&e, &originals, &mut buf) {
            Ok(h) if h == e.hash => {}
            Ok(_) => {
                out.body_broken = Some((e.seq, "entry content does not match its hash".into()));
                return Ok(out);
            }
            Err(reason) => {
                out.body_broken = Some((e.seq, reason));
                return Ok(out);
            }
        }
        prev = Some(e.hash);
        out.last_seq = e.seq;
    }
    if let Some(p) = prev {
        out.last_hash = p.to_string();
    } else {
        out.head_broken = Some((lo, format!("expected seq {lo}, found none")));
    }
    Ok(out)
}

/// Reads one entry from a row of [`ENTRY_COLUMNS`] and the originals, borrowing its text.
macro_rules! entry_ref {
    ($r:expr) => {{
        use sqlx::Row;
        let r = $r;
        (|| -> Result<(EntryRef<'_>, Originals<'_>), sqlx::Error> {
            Ok((
                EntryRef {
                    seq: r.try_get(0)?,
                    prev_hash: r.try_get(1)?,
                    hash: r.try_get(2)?,
                    ts: r.try_get(3)?,
                    actor_id: r.try_get(4)?,
                    actor_name: r.try_get(5)?,
                    role: r.try_get(6)?,
                    org_id: r.try_get(7)?,
                    action: r.try_get(8)?,
                    object_type: r.try_get(9)?,
                    object_id: r.try_get(10)?,
                    before_json: r.try_get(11)?,
                    after_json: r.try_get(12)?,
                    ip: r.try_get(13)?,
                },
                (
                    r.try_get::<Option<String>, _>(14)?.map(Cow::Owned),
                    r.try_get::<Option<String>, _>(15)?.map(Cow::Owned),
                ),
            ))
        })()
    }};
}

/// One entry as SQLite's `json_array` gives it (text borrowed where it holds no escapes).
#[derive(serde::Deserialize)]
struct JsonEntry<'a>(
    i64,
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Cow<'a, str>,
    Option<i64>,
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Cow<'a, str>,
    Option<i64>,
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Cow<'a, str>,
    #[serde(borrow)] Option<Cow<'a, str>>,
    #[serde(borrow)] Option<Cow<'a, str>>,
);

/// Reads and checks the entries `lo..=hi`: the rows are fetched on a pooled connection and
/// hashed on a blocking thread, so chunks overlap (reading one while hashing another).
///
/// SQLite hands the chunk over as one JSON array: sqlx's SQLite driver passes every row from
/// its worker thread to the caller as a message, which costs more than reading and hashing
/// the entry (see BENCHMARKS.md); one row per chunk avoids it. JSON keeps every text exactly.
async fn verify_chunk(db: &Db, checker: Checker, lo: i64, hi: i64) -> DbResult<ChunkOutcome> {
    let joined = match db {
        Db::Sqlite(p, _) => {
            // the primary key's order, which check_chunk verifies (a sorter here would cost a third)
            let sql = format!("SELECT json_group_array(json_array({ENTRY_COLUMNS}, lower(hex(before_enc)), lower(hex(after_enc)))) AS j FROM (SELECT {ENTRY_COLUMNS}, before_enc, after_enc FROM audit_log WHERE seq >= $1 AND seq <= $2 ORDER BY seq)");
            let text: String = sqlx::query(&sql)
                .bind(lo)
                .bind(hi)
                .fetch_one(p)
                .await?
                .string("j")?;
            tokio::task::spawn_blocking(move || {
                let rows: Vec<JsonEntry<'_>> = serde_json::from_str(&text)
                    .map_err(|e| crate::db::DbError::Corrupt(format!("audit chunk {lo}: {e}")))?;
                check_chunk(
                    lo,
                    &checker,
                    rows.iter().map(|r| {
                        Ok((
                            EntryRef {
                                seq: r.0,
                                prev_hash: &r.1,
                                hash: &r.2,
                                ts: &r.3,
                                actor_id: r.4,
                                actor_name: &r.5,
                                role: &r.6,
                                org_id: r.7,
                                action: &r.8,
                                object_type: &r.9,
                                object_id: &r.10,
                                before_json: &r.11,
                                after_json: &r.12,
                                ip: &r.13,
                            },
                            (
                                r.14.as_deref().map(Cow::Borrowed),
                                r.15.as_deref().map(Cow::Borrowed),
                            ),
                        ))
                    }),
                )
            })
            .await
        }
        Db::Postgres(p, _) => {
            let sql = format!(
                "SELECT {ENTRY_COLUMNS}, encode(before_enc, 'hex') AS b, encode(after_enc, 'hex') AS a FROM audit_log WHERE seq >= $1 AND seq <= $2 ORDER BY seq"
            );
            let rows = sqlx::query(&sql).bind(lo).bind(hi).fetch_all(p).await?;
            tokio::task::spawn_blocking(move || {
                check_chunk(lo, &checker, rows.iter().map(|r| entry_ref!(r)))
            })
            .await
        }
    };
    joined.map_err(|e| crate::db::DbError::Corrupt(format!("audit check stopped: {e}")))?
}

/// The append-only triggers whose absence (or, on PostgreSQL, disabling) `verify` reports.
async fn missing_triggers(db: &Db) -> DbResult<Vec<String>> {
    let want: &[&str] = if db.is_sqlite() {
        &["audit_log_no_update", "audit_log_no_delete"]
    } else {
        &["audit_log_no_update", "audit_log_no_truncate"]
    };
    let present: Vec<String> = on_db!(db, p => {
        let sql = if db.is_sqlite() {
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'"
        } else {
            "SELECT tgname::text AS name FROM pg_trigger WHERE tgrelid = 'audit_log'::regclass AND NOT tgisinternal AND tgenabled <> 'D'"
        };
        let rows = sqlx::query(sql).fetch_all(p).await?;
        rows.iter().map(|r| r.string("name")).collect::<DbResult<Vec<_>>>()?
    });
    Ok(want
        .iter()
        .filter(|t| !present.iter().any(|p| p == *t))
        .map(|t| t.to_string())
        .collect())
}

/// `audit_meta`: from which seq entries are keyed, if the chain has been sealed.
pub async fn keyed_from(db: &Db) -> DbResult<Option<(i64, String)>> {
    on_db!(db, p => {
        match sqlx::query("SELECT keyed_from, mac FROM audit_meta WHERE id = 1").fetch_optional(p).await? {
            Some(r) => Ok(Some((r.i64("keyed_from")?, r.string("mac")?))),
            None => Ok(None),
        }
    })
}

/// Walks the chain `1..=max_seq` with `checker`: chunks of [`VERIFY_CHUNK`] entries read and
/// hashed concurrently (two or three at a time), then stitched in order — each chunk's first
/// entry must link to the last of the chunk before. The last (seq, hash), or the first break.
async fn walk(
    db: &Db,
    checker: &Checker,
    max_seq: i64,
) -> DbResult<Result<(i64, String), (i64, String)>> {
    use futures_util::StreamExt;
    let parallel = std::thread::available_parallelism().map_or(2, |n| n.get()) + 1;
    let chunks = (0..)
        .map(|i| 1 + i * VERIFY_CHUNK)
        .take_while(|lo| *lo <= max_seq)
        .map(|lo| (lo, (lo + VERIFY_CHUNK - 1).min(max_seq)));
    let mut results = futures_util::stream::iter(chunks)
        .map(|(lo, hi)| {
            let checker = checker.clone();
            async move { (hi, verify_chunk(db, checker, lo, hi).await) }
        })
        .buffered(parallel);
    let mut prev = GENESIS.to_string();
    let mut last = 0i64;
    while let Some((hi, r)) = results.next().await {
        let c = r?;
        let link = c.head_broken.or_else(|| {
            (c.first_prev != prev).then(|| (last + 1, "previous-hash link broken".to_string()))
        });
        if let Some(b) = link.or(c.body_broken) {
            return Ok(Err(b));
        }
        if c.last_seq < hi {
            let seq = c.last_seq + 1;
            return Ok(Err((seq, format!("expected seq {seq}, found none"))));
        }
        prev = c.last_hash;
        last = c.last_seq;
    }
    Ok(Ok((last, prev)))
}

/// The chain's extent and head: (min seq, max seq, head (seq, hash, mac)).
async fn extent(db: &Db) -> DbResult<(i64, i64, Option<(i64, String, String)>)> {
    on_db!(db, p => {
        let m = sqlx::query("SELECT COALESCE(MIN(seq), 1) AS lo, COALESCE(MAX(seq), 0) AS hi FROM audit_log").fetch_one(p).await?;
        let h = sqlx::query("SELECT seq, hash, mac FROM audit_head WHERE id = 1").fetch_optional(p).await?;
        let h = match h { Some(h) => Some((h.i64("seq")?, h.string("hash")?, h.string("mac")?)), None => None };
        Ok((m.i64("lo")?, m.i64("hi")?, h))
    })
}

/// Verifies the whole chain and names the first bad seq: every entry (keyed after
/// `audit_meta.keyed_from`, whose MAC must hold), the links, the head and its MAC, the
/// append-only triggers, and the anchor outside the database.
pub async fn verify(ctx: &crate::Ctx) -> DbResult<VerifyOutcome> {
    let db = &ctx.db;
    let key = db
        .chain_key()
        .cloned()
        .ok_or_else(|| DbError::Corrupt("the audit chain's key is not loaded".into()))?;
    let broken = |seq: i64, reason: String| Ok(VerifyOutcome::Broken { seq, reason });
    let missing = missing_triggers(db).await?;
    if !missing.is_empty() {
        return broken(
            0,
            format!(
                "append-only triggers missing or disabled: {}",
                missing.join(", ")
            ),
        );
    }
    let (min_seq, max_seq, head) = extent(db).await?;
    let Some((head_seq, head_hash, head_mac_stored)) = head else {
        return broken(max_seq + 1, "the chain's head is missing".into());
    };
    let keyed = match keyed_from(db).await? {
        Some((k, mac)) if mac == meta_mac(&key, k) => k,
        Some(_) => {
            return broken(
                0,
                "the keyed range's record (audit_meta) was altered".into(),
            )
        }
        None => {
            return broken(
                0,
                "the chain has not been sealed with its key (audit_meta is missing)".into(),
            )
        }
    };
    let checker = Checker {
        keyed_from: keyed,
        key: key.clone(),
        vault: ctx.vault.clone(),
    };
    let (last, prev) = match walk(db, &checker, max_seq).await? {
        Ok(x) => x,
        Err((seq, reason)) => return broken(seq, reason),
    };
    // Nothing may sit before seq 1 or be missing at the tail.
    if min_seq < 1 {
        return broken(min_seq, "entry before the start of the chain".into());
    }
    if head_seq != last || head_hash != prev {
        return broken(
            last + 1,
            format!("chain ends at {last} but head records {head_seq} (truncated or head altered)"),
        );
    }
    if keyed > last {
        return broken(
            last + 1,
            format!("the keyed range starts at {keyed}, after the chain's end {last} (truncated)"),
        );
    }
    if head_mac_stored != head_mac(&key, head_seq, &head_hash) {
        return broken(
            last,
            "the head's MAC does not match (head rewritten)".into(),
        );
    }
    if let Err((seq, reason)) = anchor::check(ctx, last, &prev).await {
        return broken(seq, reason);
    }
    Ok(VerifyOutcome::Ok { entries: last })
}

/// The hash `e` must have to be the chain's entry at its seq: keyed or plain as its place in
/// the chain says, over the original text the platform keeps for a redacted entry. An entry
/// copied out (an archive) is authentic when this equals its hash and the chain verifies.
pub async fn expected_hash(ctx: &crate::Ctx, e: &Entry) -> DbResult<Result<String, String>> {
    let key = ctx
        .db
        .chain_key()
        .cloned()
        .ok_or_else(|| DbError::Corrupt("the audit chain's key is not loaded".into()))?;
    let keyed = keyed_from(&ctx.db).await?.map_or(0, |k| k.0);
    let originals: (Option<String>, Option<String>) = on_db!(&ctx.db, p => {
        let sql = if ctx.db.is_sqlite() {
            "SELECT lower(hex(before_enc)) AS b, lower(hex(after_enc)) AS a FROM audit_log WHERE seq = $1"
        } else {
            "SELECT encode(before_enc, 'hex') AS b, encode(after_enc, 'hex') AS a FROM audit_log WHERE seq = $1"
        };
        match sqlx::query(sql).bind(e.seq).fetch_optional(p).await? {
            Some(r) => (r.opt_string("b")?.filter(|s| !s.is_empty()), r.opt_string("a")?.filter(|s| !s.is_empty())),
            None => (None, None),
        }
    });
    let checker = Checker {
        keyed_from: keyed,
        key,
        vault: ctx.vault.clone(),
    };
    let mut buf = Vec::new();
    Ok(checker.expected_hash(
        &e.as_ref(),
        &(originals.0.map(Cow::Owned), originals.1.map(Cow::Owned)),
        &mut buf,
    ))
}

/// Verifies a chain written before keying, plain SM3 throughout (links, hashes, head): what
/// sealing requires before it vouches for those entries with the key.
pub(crate) async fn verify_plain(ctx: &crate::Ctx) -> DbResult<VerifyOutcome> {
    let db = &ctx.db;
    let key = db
        .chain_key()
        .cloned()
        .ok_or_else(|| DbError::Corrupt("the audit chain's key is not loaded".into()))?;
    let (min_seq, max_seq, head) = extent(db).await?;
    let checker = Checker {
        keyed_from: i64::MAX,
        key,
        vault: ctx.vault.clone(),
    };
    let (last, prev) = match walk(db, &checker, max_seq).await? {
        Ok(x) => x,
        Err((seq, reason)) => return Ok(VerifyOutcome::Broken { seq, reason }),
    };
    let head_ok = head.is_some_and(|(s, h, _)| s == last && h == prev);
    if min_seq < 1 || !head_ok {
        return Ok(VerifyOutcome::Broken {
            seq: last + 1,
            reason: "the chain's end and its head disagree".into(),
        });
    }
    Ok(VerifyOutcome::Ok { entries: last })
}

/// Rewrites personal fields of an entry's JSON written under earlier masks: a full birth
/// date becomes its month, a wide ID-number mask the present one. `None` when nothing
/// changes. Pure, so [`verify`] can check a redacted entry against its original.
pub fn redact_json(text: &str) -> Option<String> {
    fn walk(v: &mut serde_json::Value) -> bool {
        let mut changed = false;
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m.iter_mut() {
                    match (k.as_str(), &*x) {
                        ("birth_date", serde_json::Value::String(s)) if s.len() == 10 => {
                            *x = serde_json::Value::String(s[..7].to_string());
                            changed = true;
                        }
                        ("id_number" | "id_masked", serde_json::Value::String(s))
                            if s.contains('*') && crate::crypto::remask_id(s) != *s =>
                        {
                            *x = serde_json::Value::String(crate::crypto::remask_id(s));
                            changed = true;
                        }
                        _ => changed |= walk(x),
                    }
                }
            }
            serde_json::Value::Array(a) => {
                for x in a {
                    changed |= walk(x);
                }
            }
            _ => {}
        }
        changed
    }
    let mut v: serde_json::Value = serde_json::from_str(text).ok()?;
    walk(&mut v).then(|| v.to_string())
}

/// Filters for browsing the log.
#[derive(Debug, Default, Clone, serde::Deserialize, Serialize)]
pub struct AuditFilter {
    /// An action code (`member.update`) or a capability's prefix ending in a dot (`member.`).
    pub action: Option<String>,
    /// The acting account's user name or display name.
    pub actor: Option<String>,
    /// From and to (local dates, inclusive).
    #[serde(default, deserialize_with = "crate::web::form::empty_as_none")]
    pub from: Option<chrono::NaiveDate>,
    #[serde(default, deserialize_with = "crate::web::form::empty_as_none")]
    pub to: Option<chrono::NaiveDate>,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub before_seq: Option<i64>,
    pub limit: Option<i64>,
}

/// The entries of the subtree at `scope` (by the organisation of the account that acted;
/// entries of the system itself, with none, belong to the whole tree): what an audit
/// administrator bound to `scope` reads.
pub async fn list_scoped(
    db: &Db,
    scope: &str,
    whole_tree: bool,
    f: &AuditFilter,
) -> DbResult<Vec<Entry>> {
    let mut b = SqlBuilder::new(&format!("SELECT {ENTRY_COLUMNS} FROM audit_log WHERE 1=1"));
    let lo = b.arg(Val::Str(scope.to_string()));
    let hi = b.arg(Val::Str(crate::db::path_upper(scope)));
    let system = if whole_tree { " OR org_id IS NULL" } else { "" };
    b.push(&format!(
        " AND (org_id IN (SELECT id FROM orgs WHERE path >= {lo} AND path < {hi}){system})"
    ));
    filtered(db, b, f, 500).await
}

/// [`list_scoped`] with a larger cap (exports).
pub async fn list_scoped_up_to(
    db: &Db,
    scope: &str,
    whole_tree: bool,
    f: &AuditFilter,
    cap: i64,
) -> DbResult<Vec<Entry>> {
    let mut b = SqlBuilder::new(&format!("SELECT {ENTRY_COLUMNS} FROM audit_log WHERE 1=1"));
    let lo = b.arg(Val::Str(scope.to_string()));
    let hi = b.arg(Val::Str(crate::db::path_upper(scope)));
    let system = if whole_tree { " OR org_id IS NULL" } else { "" };
    b.push(&format!(
        " AND (org_id IN (SELECT id FROM orgs WHERE path >= {lo} AND path < {hi}){system})"
    ));
    filtered(db, b, f, cap).await
}

pub async fn list(db: &Db, f: &AuditFilter) -> DbResult<Vec<Entry>> {
    let b = SqlBuilder::new(&format!("SELECT {ENTRY_COLUMNS} FROM audit_log WHERE 1=1"));
    filtered(db, b, f, 500).await
}

async fn filtered(db: &Db, mut b: SqlBuilder, f: &AuditFilter, cap: i64) -> DbResult<Vec<Entry>> {
    if let Some(a) = f.action.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        if let Some(prefix) = a.strip_suffix('.') {
            // a capability: its codes sort between `prefix.` and `prefix/`
            let lo = b.arg(Val::Str(format!("{prefix}.")));
            let hi = b.arg(Val::Str(format!("{prefix}/")));
            b.push(&format!(" AND action >= {lo} AND action < {hi}"));
        } else {
            let p = b.arg(Val::Str(a.to_string()));
            b.push(&format!(" AND action = {p}"));
        }
    }
    if let Some(a) = f.actor.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let p = b.arg(Val::Str(a.to_string()));
        b.push(&format!(
            " AND (actor_name = {p} OR actor_id IN (SELECT id FROM accounts WHERE display_name = {p}))"
        ));
    }
    let zone = crate::clock::display_zone();
    if let Some(d) = f.from {
        let p = b.arg(Val::Str(ts_text(zone.start_of(d))));
        b.push(&format!(" AND ts >= {p}"));
    }
    if let Some(d) = f.to.and_then(|d| d.succ_opt()) {
        let p = b.arg(Val::Str(ts_text(zone.start_of(d))));
        b.push(&format!(" AND ts < {p}"));
    }
    if let Some(a) = f.object_type.as_deref().filter(|s| !s.is_empty()) {
        let p = b.arg(Val::Str(a.to_string()));
        b.push(&format!(" AND object_type = {p}"));
    }
    if let Some(a) = f.object_id.as_deref().filter(|s| !s.is_empty()) {
        let p = b.arg(Val::Str(a.to_string()));
        b.push(&format!(" AND object_id = {p}"));
    }
    if let Some(s) = f.before_seq {
        let p = b.arg(Val::I64(s));
        b.push(&format!(" AND seq < {p}"));
    }
    let limit = f.limit.unwrap_or(50).clamp(1, cap);
    let p = b.arg(Val::I64(limit));
    b.push(&format!(" ORDER BY seq DESC LIMIT {p}"));
    on_db!(db, p => {
        let rows = bind_vals!(sqlx::query(&b.sql), &b.vals).fetch_all(p).await?;
        rows.iter().map(row_to_entry).collect()
    })
}

/// The history of one object, oldest first.
pub async fn history(db: &Db, object_type: &str, object_id: &str) -> DbResult<Vec<Entry>> {
    on_db!(db, p => {
        let rows = sqlx::query("SELECT * FROM audit_log WHERE object_type = $1 AND object_id = $2 ORDER BY seq")
            .bind(object_type)
            .bind(object_id)
            .fetch_all(p)
            .await?;
        rows.iter().map(row_to_entry).collect()
    })
}

/// The history of one object as a page shows it ([`words::in_words`]): organisations by
/// name, actors by their accounts' display names.
pub async fn history_in_words(
    db: &Db,
    object_type: &str,
    object_id: &str,
) -> DbResult<Vec<words::HistoryRow>> {
    let entries = history(db, object_type, object_id).await?;
    let org_ids = words::org_ids(&entries);
    let mut actor_ids: Vec<i64> = entries.iter().filter_map(|e| e.actor_id).collect();
    actor_ids.sort_unstable();
    actor_ids.dedup();
    let names = |table: &str, column: &str, ids: &[i64]| {
        let mut b = SqlBuilder::new(&format!(
            "SELECT id, {column} AS name FROM {table} WHERE id IN ("
        ));
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                b.push(", ");
            }
            let p = b.arg(Val::I64(*id));
            b.push(&p);
        }
        b.push(")");
        b
    };
    let mut orgs = std::collections::HashMap::new();
    let mut actors = std::collections::HashMap::new();
    for (ids, table, column, into) in [
        (&org_ids, "orgs", "name", &mut orgs),
        (&actor_ids, "accounts", "display_name", &mut actors),
    ] {
        for chunk in ids.chunks(500) {
            let b = names(table, column, chunk);
            let rows: Vec<(i64, String)> = on_db!(db, p => {
                let rows = bind_vals!(sqlx::query(&b.sql), &b.vals).fetch_all(p).await?;
                rows.iter().map(|r| Ok((r.i64("id")?, r.string("name")?))).collect::<DbResult<Vec<_>>>()?
            });
            into.extend(rows);
        }
    }
    Ok(words::in_words(&entries, &orgs, &actors))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(seq: i64, prev: &str) -> Entry {
        let mut x = Entry {
            seq,
            prev_hash: prev.into(),
            hash: String::new(),
            ts: "2026-01-01T00:00:00.000000Z".into(),
            actor_id: Some(1),
            actor_name: "admin".into(),
            role: "sys_admin".into(),
            org_id: Some(1),
            action: "org.create".into(),
            object_type: "org".into(),
            object_id: seq.to_string(),
            before_json: "null".into(),
            after_json: "{}".into(),
            ip: "127.0.0.1".into(),
        };
        x.hash = entry_hash(&x);
        x
    }

    fn checker(keyed_from: i64) -> Checker {
        Checker {
            keyed_from,
            key: ChainKey([9; 32]),
            vault: std::sync::Arc::new(crate::crypto::Vault::new(1, [7; 16], Default::default())),
        }
    }

    #[test]
    fn chain_links_and_detects_edits() {
        let a = e(1, GENESIS);
        let b = e(2, &a.hash);
        let plain = checker(i64::MAX);
        let check = |lo: i64, es: &[&Entry]| {
            check_chunk(
                lo,
                &plain,
                es.iter().map(|x| Ok((x.as_ref(), (None, None)))),
            )
            .expect("rows decode")
        };
        let ok = check(1, &[&a, &b]);
        assert!(ok.head_broken.is_none() && ok.body_broken.is_none());
        assert_eq!((ok.first_prev.as_str(), ok.last_seq), (GENESIS, 2));
        assert_eq!(ok.last_hash, b.hash);
        // an edited entry no longer matches its hash
        let mut c = b.clone();
        c.after_json = "{\"x\":1}".into();
        assert_eq!(check(1, &[&a, &c]).body_broken.map(|x| x.0), Some(2));
        // a chunk must start at its first seq
        assert_eq!(check(3, &[&b]).head_broken.map(|x| x.0), Some(3));
        // a link to anything but the entry before breaks (its own hash is right)
        let d = e(2, GENESIS);
        assert_eq!(check(1, &[&a, &d]).body_broken.map(|x| x.0), Some(2));
    }

    #[test]
    fn keyed_entries_need_the_key() {
        let c = checker(1);
        let a = e(1, GENESIS); // before keying: plain SM3
        let mut b = e(2, &a.hash);
        let mut buf = Vec::new();
        b.hash = keyed_hash(&c.key, &b.as_ref(), &mut buf);
        let check = |es: &[&Entry]| {
            check_chunk(1, &c, es.iter().map(|x| Ok((x.as_ref(), (None, None)))))
                .expect("rows decode")
        };
        assert!(check(&[&a, &b]).body_broken.is_none());
        // recomputed without the key (plain SM3 in the keyed range): refused
        let mut forged = b.clone();
        forged.actor_name = "mallory".into();
        forged.hash = entry_hash(&forged);
        assert_eq!(check(&[&a, &forged]).body_broken.map(|x| x.0), Some(2));
        // with another key: refused
        let mut other = b.clone();
        other.hash = keyed_hash(&ChainKey([1; 32]), &other.as_ref(), &mut buf);
        assert_eq!(check(&[&a, &other]).body_broken.map(|x| x.0), Some(2));
        // the head's and the range's MACs change with what they cover
        assert_ne!(head_mac(&c.key, 2, &b.hash), head_mac(&c.key, 1, &a.hash));
        assert_ne!(meta_mac(&c.key, 1), meta_mac(&c.key, 2));
    }

    #[test]
    fn a_redacted_entry_verifies_on_its_original() {
        let c = checker(i64::MAX);
        let mut x = e(1, GENESIS);
        x.after_json =
            r#"{"birth_date":"1978-04-06","id_number":"3708**********7525","name":"张三"}"#.into();
        x.hash = entry_hash(&x);
        let original = x.after_json.clone();
        let redacted = redact_json(&original).expect("changes");
        assert_eq!(
            redacted,
            r#"{"birth_date":"1978-04","id_number":"3****************5","name":"张三"}"#
        );
        assert_eq!(
            redact_json(&redacted),
            None,
            "redacting twice changes nothing"
        );
        let enc = hex::encode(
            c.vault
                .encrypt(&crate::crypto::aad("audit_log", "after_enc", 1), &original),
        );
        let mut stored = x.clone();
        stored.after_json = redacted.clone();
        let run = |s: &Entry, after_enc: &str| {
            check_chunk(
                1,
                &c,
                std::iter::once(Ok((
                    s.as_ref(),
                    (None, Some(Cow::Owned(after_enc.to_string()))),
                ))),
            )
            .expect("decode")
        };
        assert!(run(&stored, &enc).body_broken.is_none());
        // the shown text must be the original's redaction
        let mut shown = stored.clone();
        shown.after_json = redacted.replace("张三", "李四");
        assert!(run(&shown, &enc).body_broken.is_some());
        // an original taken from another entry does not open here
        let elsewhere = hex::encode(
            c.vault
                .encrypt(&crate::crypto::aad("audit_log", "after_enc", 2), &original),
        );
        assert!(run(&stored, &elsewhere).body_broken.is_some());
    }

    #[test]
    fn encoding_separates_fields() {
        // Moving a byte from one field to the next must change the encoding.
        let mut a = e(1, GENESIS);
        let mut b = a.clone();
        a.actor_name = "ab".into();
        a.role = "c".into();
        b.actor_name = "a".into();
        b.role = "bc".into();
        assert_ne!(encode(&a), encode(&b));
        let mut n = e(1, GENESIS);
        n.actor_id = None;
        assert_ne!(encode(&n), encode(&e(1, GENESIS)));
    }

    /// Fuzz target for the encoding that is hashed: it reads back to the very entry (so two
    /// different entries never hash the same bytes), and reading any bytes never panics.
    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        fn field(b: &[u8], at: &mut usize) -> Option<String> {
            let n = u32::from_be_bytes(b.get(*at..*at + 4)?.try_into().ok()?) as usize;
            *at += 4;
            let s = String::from_utf8(b.get(*at..at.checked_add(n)?)?.to_vec()).ok()?;
            *at += n;
            Some(s)
        }

        fn opt(b: &[u8], at: &mut usize) -> Option<Option<i64>> {
            let tag = *b.get(*at)?;
            *at += 1;
            match tag {
                0 => Some(None),
                1 => {
                    let v = i64::from_be_bytes(b.get(*at..*at + 8)?.try_into().ok()?);
                    *at += 8;
                    Some(Some(v))
                }
                _ => None,
            }
        }

        /// The inverse of `encode` (the hash field is not encoded); `None` unless the bytes
        /// are exactly one encoded entry.
        fn read(b: &[u8]) -> Option<Entry> {
            if b.get(..4)? != b"DJA1" {
                return None;
            }
            let seq = i64::from_be_bytes(b.get(4..12)?.try_into().ok()?);
            let mut at = 12;
            let e = Entry {
                seq,
                prev_hash: field(b, &mut at)?,
                hash: String::new(),
                ts: field(b, &mut at)?,
                actor_id: opt(b, &mut at)?,
                actor_name: field(b, &mut at)?,
                role: field(b, &mut at)?,
                org_id: opt(b, &mut at)?,
                action: field(b, &mut at)?,
                object_type: field(b, &mut at)?,
                object_id: field(b, &mut at)?,
                before_json: field(b, &mut at)?,
                after_json: field(b, &mut at)?,
                ip: field(b, &mut at)?,
            };
            (at == b.len()).then_some(e)
        }

        fn entry() -> impl Strategy<Value = Entry> {
            let t = || "\\PC{0,16}";
            (
                (
                    any::<i64>(),
                    t(),
                    t(),
                    any::<Option<i64>>(),
                    t(),
                    t(),
                    any::<Option<i64>>(),
                ),
                (t(), t(), t(), "\\PC{0,64}", "\\PC{0,64}", t()),
            )
                .prop_map(
                    |(
                        (seq, prev_hash, ts, actor_id, actor_name, role, org_id),
                        (action, object_type, object_id, before_json, after_json, ip),
                    )| Entry {
                        seq,
                        prev_hash,
                        hash: String::new(),
                        ts,
                        actor_id,
                        actor_name,
                        role,
                        org_id,
                        action,
                        object_type,
                        object_id,
                        before_json,
                        after_json,
                        ip,
                    },
                )
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(10_000))]

            #[test]
            fn round_trip(e in entry()) {
                prop_assert_eq!(read(&encode(&e)), Some(e));
            }

            #[test]
            fn distinct_entries_hash_distinct_bytes(a in entry(), b in entry()) {
                if a != b {
                    prop_assert_ne!(encode(&a), encode(&b));
                }
            }

            #[test]
            fn any_bytes_read_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
                let _ = read(&bytes);
            }
        }
    }
}
