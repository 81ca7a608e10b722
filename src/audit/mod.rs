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

/// The fixed byte encoding hashed for each entry (version tag first, so it can evolve).
pub fn encode(e: &Entry) -> Vec<u8> {
    let mut b = Vec::with_capacity(256 + e.before_json.len() + e.after_json.len());
    b.extend_from_slice(b"DJA1");
    b.extend_from_slice(&e.seq.to_be_bytes());
    put(&mut b, e.prev_hash.as_bytes());
    put(&mut b, e.ts.as_bytes());
    put_opt(&mut b, e.actor_id);
    put(&mut b, e.actor_name.as_bytes());
    put(&mut b, e.role.as_bytes());
    put_opt(&mut b, e.org_id);
    put(&mut b, e.action.as_bytes());
    put(&mut b, e.object_type.as_bytes());
    put(&mut b, e.object_id.as_bytes());
    put(&mut b, e.before_json.as_bytes());
    put(&mut b, e.after_json.as_bytes());
    put(&mut b, e.ip.as_bytes());
    b
}

pub fn entry_hash(e: &Entry) -> String {
    crate::crypto::sm3_hex(&encode(e))
}

fn now_ts() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

/// Appends one entry inside `tx`. If this fails the caller's transaction must roll back.
pub async fn append(tx: &mut Tx, actor: &Actor, e: NewEntry<'_>) -> DbResult<i64> {
    // PostgreSQL: the row lock orders concurrent writers; SQLite already holds the write lock.
    let sql = if matches!(tx, Tx::Postgres(_)) {
        "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE"
    } else {
        "SELECT seq, hash FROM audit_head WHERE id = 1"
    };
    let head = on_tx!(tx, c => {
        let r = sqlx::query(sql).fetch_one(&mut *c).await?;
        (r.i64("seq")?, r.string("hash")?)
    });
    let mut entry = Entry {
        seq: head.0 + 1,
        prev_hash: head.1,
        hash: String::new(),
        ts: now_ts(),
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
    on_tx!(tx, c => {
        sqlx::query(
            "INSERT INTO audit_log (seq, prev_hash, hash, ts, actor_id, actor_name, role, org_id, action, object_type, object_id, before_json, after_json, ip) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
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
        .bind(&entry.ip)
        .execute(&mut *c)
        .await?;
        sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(entry.seq)
            .bind(&entry.hash)
            .execute(&mut *c)
            .await?;
    });
    Ok(entry.seq)
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

/// Checks one entry against its predecessor's hash and expected seq.
pub fn check_link(e: &Entry, expected_seq: i64, prev_hash: &str) -> Result<(), String> {
    if e.seq != expected_seq {
        return Err(format!("expected seq {expected_seq}, found {}", e.seq));
    }
    if e.prev_hash != prev_hash {
        return Err("previous-hash link broken".into());
    }
    if entry_hash(e) != e.hash {
        return Err("entry content does not match its hash".into());
    }
    Ok(())
}

/// Walks the whole chain in seq order, in pages, and names the first bad seq.
pub async fn verify(db: &Db) -> DbResult<VerifyOutcome> {
    const PAGE: i64 = 5000;
    let mut expected = 1i64;
    let mut prev = GENESIS.to_string();
    loop {
        let rows: Vec<Entry> = on_db!(db, p => {
            let rows = sqlx::query("SELECT * FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT $2")
                .bind(expected)
                .bind(PAGE)
                .fetch_all(p)
                .await?;
            rows.iter().map(row_to_entry).collect::<DbResult<Vec<_>>>()?
        });
        let n = rows.len() as i64;
        for e in rows {
            if let Err(reason) = check_link(&e, expected, &prev) {
                return Ok(VerifyOutcome::Broken {
                    seq: expected,
                    reason,
                });
            }
            prev = e.hash;
            expected += 1;
        }
        if n < PAGE {
            break;
        }
    }
    // Nothing may sit before seq 1 or be missing at the tail.
    let (min_seq, head_seq, head_hash) = on_db!(db, p => {
        let m = sqlx::query("SELECT COALESCE(MIN(seq), 1) AS s FROM audit_log").fetch_one(p).await?;
        let h = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(p).await?;
        (m.i64("s")?, h.i64("seq")?, h.string("hash")?)
    });
    if min_seq < 1 {
        return Ok(VerifyOutcome::Broken {
            seq: min_seq,
            reason: "entry before the start of the chain".into(),
        });
    }
    let last = expected - 1;
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
        assert!(check_link(&a, 1, GENESIS).is_ok());
        assert!(check_link(&b, 2, &a.hash).is_ok());
        let mut c = b.clone();
        c.after_json = "{\"x\":1}".into();
        assert!(check_link(&c, 2, &a.hash).is_err());
        assert!(check_link(&b, 3, &a.hash).is_err());
        assert!(check_link(&b, 2, GENESIS).is_err());
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
