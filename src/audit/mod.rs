//! The tamper-evident audit log (审计日志).
//!
//! Every mutation, login, failed login, authorisation refusal and unmask is appended in the
//! same transaction as the change it records. Entries form a hash chain: each entry's hash is
//! SM3 over a fixed byte encoding of (seq, previous hash, time, actor, role, organisation,
//! action, object, before, after). `audit_head` holds the last seq and hash, so truncation is
//! detected as well as edits, deletions and reordering.

pub mod web;

use crate::db::{Db, DbResult, DbRow, SqlBuilder, Tx, Val};
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

/// [`encode`] into a reused buffer (cleared first).
pub fn encode_into(e: &EntryRef<'_>, b: &mut Vec<u8>) {
    b.clear();
    b.extend_from_slice(b"DJA1");
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
            entry.hash = entry_hash(&entry);
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

/// The columns of an entry in [`EntryRef`]'s order, read by position.
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

/// Checks a chunk's entries: consecutive seqs from `lo`, each linked to the one before, each
/// hashing to its stored hash. The first entry's link is the caller's to check.
fn check_chunk<'a>(
    lo: i64,
    entries: impl Iterator<Item = Result<EntryRef<'a>, sqlx::Error>>,
) -> DbResult<ChunkOutcome> {
    let mut out = ChunkOutcome {
        last_seq: lo - 1,
        ..Default::default()
    };
    let mut buf = Vec::with_capacity(1024);
    let mut prev: Option<&'a str> = None;
    for e in entries {
        let e = e?;
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
        encode_into(&e, &mut buf);
        let mut hex = [0u8; 64];
        let same = hex::encode_to_slice(crate::crypto::sm3(&buf), &mut hex).is_ok()
            && hex.as_slice() == e.hash.as_bytes();
        if !same {
            out.body_broken = Some((e.seq, "entry content does not match its hash".into()));
            return Ok(out);
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

/// Reads one entry from a row of [`ENTRY_COLUMNS`], borrowing its text.
macro_rules! entry_ref {
    ($r:expr) => {{
        use sqlx::Row;
        let r = $r;
        (|| -> Result<EntryRef<'_>, sqlx::Error> {
            Ok(EntryRef {
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
            })
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
);

/// Reads and checks the entries `lo..=hi`: the rows are fetched on a pooled connection and
/// hashed on a blocking thread, so chunks overlap (reading one while hashing another).
///
/// SQLite hands the chunk over as one JSON array: sqlx's SQLite driver passes every row from
/// its worker thread to the caller as a message, which costs more than reading and hashing
/// the entry (see BENCHMARKS.md); one row per chunk avoids it. JSON keeps every text exactly.
async fn verify_chunk(db: &Db, lo: i64, hi: i64) -> DbResult<ChunkOutcome> {
    let joined = match db {
        Db::Sqlite(p, _) => {
            // the primary key's order, which check_chunk verifies (a sorter here would cost a third)
            let sql = format!("SELECT json_group_array(json_array({ENTRY_COLUMNS})) AS j FROM (SELECT {ENTRY_COLUMNS} FROM audit_log WHERE seq >= $1 AND seq <= $2 ORDER BY seq)");
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
                    rows.iter().map(|r| {
                        Ok(EntryRef {
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
                        })
                    }),
                )
            })
            .await
        }
        Db::Postgres(p, _) => {
            let sql = format!(
                "SELECT {ENTRY_COLUMNS} FROM audit_log WHERE seq >= $1 AND seq <= $2 ORDER BY seq"
            );
            let rows = sqlx::query(&sql).bind(lo).bind(hi).fetch_all(p).await?;
            tokio::task::spawn_blocking(move || check_chunk(lo, rows.iter().map(|r| entry_ref!(r))))
                .await
        }
    };
    joined.map_err(|e| crate::db::DbError::Corrupt(format!("audit check stopped: {e}")))?
}

/// Walks the whole chain and names the first bad seq: chunks of [`VERIFY_CHUNK`] entries are
/// read and hashed concurrently (two or three at a time), then stitched in order — each chunk's
/// first entry must link to the last of the chunk before, and the last chunk to the head.
pub async fn verify(db: &Db) -> DbResult<VerifyOutcome> {
    use futures_util::StreamExt;
    let (min_seq, max_seq, head_seq, head_hash) = on_db!(db, p => {
        let m = sqlx::query("SELECT COALESCE(MIN(seq), 1) AS lo, COALESCE(MAX(seq), 0) AS hi FROM audit_log").fetch_one(p).await?;
        let h = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(p).await?;
        (m.i64("lo")?, m.i64("hi")?, h.i64("seq")?, h.string("hash")?)
    });
    let parallel = std::thread::available_parallelism().map_or(2, |n| n.get()) + 1;
    let chunks = (0..)
        .map(|i| 1 + i * VERIFY_CHUNK)
        .take_while(|lo| *lo <= max_seq)
        .map(|lo| (lo, (lo + VERIFY_CHUNK - 1).min(max_seq)));
    let mut results = futures_util::stream::iter(chunks)
        .map(|(lo, hi)| async move { (hi, verify_chunk(db, lo, hi).await) })
        .buffered(parallel);
    let mut prev = GENESIS.to_string();
    let mut last = 0i64;
    while let Some((hi, r)) = results.next().await {
        let c = r?;
        let broken = c.head_broken.or_else(|| {
            (c.first_prev != prev).then(|| (last + 1, "previous-hash link broken".to_string()))
        });
        if let Some((seq, reason)) = broken.or(c.body_broken) {
            return Ok(VerifyOutcome::Broken { seq, reason });
        }
        if c.last_seq < hi {
            let seq = c.last_seq + 1;
            return Ok(VerifyOutcome::Broken {
                seq,
                reason: format!("expected seq {seq}, found none"),
            });
        }
        prev = c.last_hash;
        last = c.last_seq;
    }
    // Nothing may sit before seq 1 or be missing at the tail.
    if min_seq < 1 {
        return Ok(VerifyOutcome::Broken {
            seq: min_seq,
            reason: "entry before the start of the chain".into(),
        });
    }
    if head_seq != last || head_hash != prev {
        return Ok(VerifyOutcome::Broken {
            seq: last + 1,
            reason: format!(
                "chain ends at {last} but head records {head_seq} (truncated or head altered)"
            ),
        });
    }
    Ok(VerifyOutcome::Ok { entries: last })
}

/// Filters for browsing the log.
#[derive(Debug, Default, Clone, serde::Deserialize, Serialize)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub actor: Option<String>,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub before_seq: Option<i64>,
    pub limit: Option<i64>,
}

pub async fn list(db: &Db, f: &AuditFilter) -> DbResult<Vec<Entry>> {
    let mut b = SqlBuilder::new("SELECT * FROM audit_log WHERE 1=1");
    if let Some(a) = f.action.as_deref().filter(|s| !s.is_empty()) {
        let p = b.arg(Val::Str(a.to_string()));
        b.push(&format!(" AND action = {p}"));
    }
    if let Some(a) = f.actor.as_deref().filter(|s| !s.is_empty()) {
        let p = b.arg(Val::Str(a.to_string()));
        b.push(&format!(" AND actor_name = {p}"));
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
    let limit = f.limit.unwrap_or(50).clamp(1, 500);
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

    #[test]
    fn chain_links_and_detects_edits() {
        let a = e(1, GENESIS);
        let b = e(2, &a.hash);
        let check = |lo: i64, es: &[&Entry]| {
            check_chunk(lo, es.iter().map(|x| Ok(x.as_ref()))).expect("rows decode")
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
