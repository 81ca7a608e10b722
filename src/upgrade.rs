//! One-time upgrades of stored data that need the data key, run at start after the schema
//! migrations. Each records itself in `upgrades` (and in the audit log) once done, runs in
//! batches of its own transactions, and is safe to restart: what it already did it finds
//! done (a rebound ciphertext, a redacted entry) and skips.
//!
//! - `seal_chain`: entries written before the chain was keyed are checked (plain SM3) and
//!   sealed: `audit_meta` records from which seq entries are keyed, under the key's MAC.
//! - `rebind_ciphertexts`: ciphertexts written before binding are opened and written again
//!   bound to their table, column and row (AEAD associated data).
//! - `redact_audit`: audit entries written under the earlier masks (full birth dates, ID
//!   numbers showing four and four characters) keep their original text only encrypted and
//!   bound to the entry (`before_enc`/`after_enc`, what the chain is checked on); the stored
//!   text is the redacted one.
//! - `vacuum_personal`: the database is rewritten once so that the dropped birth dates and
//!   the earlier masks no longer sit in free pages (SQLite `VACUUM`, PostgreSQL `VACUUM FULL`).

use crate::audit::{self, Actor, NewEntry, VerifyOutcome};
use crate::crypto::{aad, Vault};
use crate::db::{Db, DbResult, DbRow, Tx};
use crate::{on_db, on_tx, Ctx, StartError};

async fn done(db: &Db, name: &str) -> DbResult<bool> {
    on_db!(db, p => Ok(sqlx::query("SELECT name FROM upgrades WHERE name = $1").bind(name).fetch_optional(p).await?.is_some()))
}

async fn mark(tx: &mut Tx, name: &str, note: &str) -> DbResult<()> {
    let now = tx.now;
    on_tx!(tx, c => {
        sqlx::query("INSERT INTO upgrades (name, done_at, note) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
            .bind(name).bind(now).bind(note).execute(&mut *c).await?;
    });
    Ok(())
}

pub async fn run(ctx: &Ctx) -> Result<(), StartError> {
    seal_chain(ctx).await?;
    rebind_ciphertexts(ctx).await?;
    redact_audit(ctx).await?;
    vacuum_personal(ctx).await?;
    Ok(())
}

/// Seals the chain with its key, once: after checking every entry written before keying.
async fn seal_chain(ctx: &Ctx) -> Result<(), StartError> {
    let db = &ctx.db;
    if audit::keyed_from(db).await?.is_some() {
        return Ok(());
    }
    let key = db
        .chain_key()
        .cloned()
        .ok_or_else(|| StartError::Upgrade("the audit chain's key is not loaded".into()))?;
    let head: i64 = on_db!(db, p => sqlx::query("SELECT COALESCE(MAX(seq), 0) AS n FROM audit_log").fetch_one(p).await?.i64("n")?);
    if head > 0 {
        if let VerifyOutcome::Broken { seq, reason } = audit::verify_plain(ctx).await? {
            // never vouch for a broken chain: it stays unsealed, and every verification says so
            tracing::error!(
                seq,
                reason,
                "the audit chain is broken; it is not sealed with the key"
            );
            return Ok(());
        }
    }
    let mut tx = db.begin().await?;
    let mac = audit::meta_mac(&key, head);
    on_tx!(&mut tx, c => {
        sqlx::query("INSERT INTO audit_meta (id, keyed_from, mac) VALUES (1, $1, $2)").bind(head).bind(&mac).execute(&mut *c).await?;
    });
    if head > 0 {
        // entries written before keying are vouched for from here on
        audit::append(
            &mut tx,
            &Actor::system("upgrade"),
            NewEntry {
                action: "audit.seal",
                object_type: "audit",
                object_id: String::new(),
                before: serde_json::Value::Null,
                after: serde_json::json!({"keyed_from": head}),
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The columns holding ciphertexts, by table: (table, key column, columns).
const CIPHER_COLUMNS: &[(&str, &str, &[&str])] = &[
    ("members", "id", &["id_enc", "phone_enc"]),
    ("recruits", "id", &["id_enc", "phone_enc"]),
    ("talents", "id", &["id_enc", "phone_enc"]),
    ("love_cards", "id", &["id_enc", "phone_enc"]),
    ("accounts", "id", &["totp_secret_enc"]),
    ("blobs", "digest", &["data"]),
];

/// Rows per transaction of the rebinding and the redaction.
const BATCH: i64 = 500;

fn rebound(
    vault: &Vault,
    table: &str,
    col: &str,
    row: &str,
    enc: &[u8],
) -> Result<Option<Vec<u8>>, StartError> {
    if !Vault::is_legacy(enc) {
        return Ok(None);
    }
    let plain = vault
        .decrypt_legacy(enc)
        .map_err(|e| StartError::Upgrade(format!("{table}.{col} of {row}: {e}")))?;
    Ok(Some(vault.encrypt_bytes(&aad(table, col, row), &plain)))
}

async fn rebind_ciphertexts(ctx: &Ctx) -> Result<(), StartError> {
    const NAME: &str = "rebind_ciphertexts_v1";
    let db = &ctx.db;
    if done(db, NAME).await? {
        return Ok(());
    }
    let mut total = 0i64;
    for (table, key, cols) in CIPHER_COLUMNS {
        let select = format!(
            "SELECT {key} AS k, {} FROM {table} WHERE {key} > $1 ORDER BY {key} LIMIT {BATCH}",
            cols.join(", ")
        );
        let mut after = String::new();
        let mut after_id = 0i64;
        loop {
            let text_key = *key == "digest";
            // (row key, column, new ciphertext)
            let rows: Vec<(String, Vec<Option<Vec<u8>>>)> = on_db!(db, p => {
                let q = sqlx::query(&select);
                let q = if text_key { q.bind(after.clone()) } else { q.bind(after_id) };
                let rs = q.fetch_all(p).await?;
                let mut v = Vec::with_capacity(rs.len());
                for r in &rs {
                    let k = if text_key { r.string("k")? } else { r.i64("k")?.to_string() };
                    let mut cs = Vec::with_capacity(cols.len());
                    for c in cols.iter() {
                        cs.push(r.opt_bytes(c)?);
                    }
                    v.push((k, cs));
                }
                v
            });
            let Some(last) = rows.last() else { break };
            if text_key {
                after = last.0.clone();
            } else {
                after_id = last.0.parse().unwrap_or(i64::MAX);
            }
            let mut changes = Vec::new();
            for (k, cs) in &rows {
                for (col, enc) in cols.iter().zip(cs) {
                    if let Some(enc) = enc {
                        if let Some(new) = rebound(&ctx.vault, table, col, k, enc)? {
                            changes.push((k.clone(), *col, new));
                        }
                    }
                }
            }
            if changes.is_empty() {
                continue;
            }
            total += changes.len() as i64;
            let mut tx = db.begin().await?;
            on_tx!(&mut tx, c => {
                for (k, col, new) in &changes {
                    let sql = format!("UPDATE {table} SET {col} = $1 WHERE {key} = $2");
                    let q = sqlx::query(&sql).bind(new);
                    let q = if text_key { q.bind(k.clone()) } else { q.bind(k.parse::<i64>().unwrap_or(-1)) };
                    q.execute(&mut *c).await?;
                }
            });
            tx.commit().await?;
        }
    }
    let mut tx = db.begin().await?;
    mark(
        &mut tx,
        NAME,
        &format!("{total} ciphertexts bound to their rows"),
    )
    .await?;
    if total > 0 {
        audit::append(
            &mut tx,
            &Actor::system("upgrade"),
            NewEntry {
                action: "crypto.rebind",
                object_type: "crypto",
                object_id: String::new(),
                before: serde_json::Value::Null,
                after: serde_json::json!({"ciphertexts": total}),
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The append-only trigger on updates, taken away for one transaction and put back in it.
async fn without_update_trigger(tx: &mut Tx, restore: bool) -> DbResult<()> {
    let sql = match (tx.is_postgres(), restore) {
        (false, false) => "DROP TRIGGER audit_log_no_update",
        (false, true) => "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log\nBEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
        (true, false) => "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update",
        (true, true) => "ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update",
    };
    on_tx!(tx, c => { sqlx::query(sql).execute(&mut *c).await?; });
    Ok(())
}

async fn redact_audit(ctx: &Ctx) -> Result<(), StartError> {
    const NAME: &str = "redact_audit_v1";
    let db = &ctx.db;
    if done(db, NAME).await? {
        return Ok(());
    }
    let mut after = 0i64;
    let mut total = 0i64;
    loop {
        let rows: Vec<(i64, String, String, bool)> = on_db!(db, p => {
            let rs = sqlx::query("SELECT seq, before_json, after_json, before_enc IS NULL AND after_enc IS NULL AS fresh FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT 2000")
                .bind(after).fetch_all(p).await?;
            rs.iter().map(|r| Ok((r.i64("seq")?, r.string("before_json")?, r.string("after_json")?, r.bool("fresh")?))).collect::<DbResult<Vec<_>>>()?
        });
        let Some(last) = rows.last() else { break };
        after = last.0;
        // (seq, new before, before original enc, new after, after original enc)
        type Change = (i64, Option<(String, Vec<u8>)>, Option<(String, Vec<u8>)>);
        let mut changes: Vec<Change> = Vec::new();
        for (seq, before, after_json, fresh) in &rows {
            if !fresh {
                continue; // redacted already (a restarted upgrade)
            }
            let b = audit::redact_json(before).map(|r| {
                (
                    r,
                    ctx.vault
                        .encrypt(&aad("audit_log", "before_enc", seq), before),
                )
            });
            let a = audit::redact_json(after_json).map(|r| {
                (
                    r,
                    ctx.vault
                        .encrypt(&aad("audit_log", "after_enc", seq), after_json),
                )
            });
            if b.is_some() || a.is_some() {
                changes.push((*seq, b, a));
            }
        }
        if changes.is_empty() {
            continue;
        }
        total += changes.len() as i64;
        let mut tx = db.begin().await?;
        without_update_trigger(&mut tx, false).await?;
        on_tx!(&mut tx, c => {
            for (seq, b, a) in &changes {
                if let Some((text, enc)) = b {
                    sqlx::query("UPDATE audit_log SET before_json = $1, before_enc = $2 WHERE seq = $3").bind(text).bind(enc).bind(*seq).execute(&mut *c).await?;
                }
                if let Some((text, enc)) = a {
                    sqlx::query("UPDATE audit_log SET after_json = $1, after_enc = $2 WHERE seq = $3").bind(text).bind(enc).bind(*seq).execute(&mut *c).await?;
                }
            }
        });
        without_update_trigger(&mut tx, true).await?;
        tx.commit().await?;
    }
    let mut tx = db.begin().await?;
    mark(&mut tx, NAME, &format!("{total} entries redacted")).await?;
    if total > 0 {
        audit::append(
            &mut tx,
            &Actor::system("upgrade"),
            NewEntry {
                action: "audit.redact",
                object_type: "audit",
                object_id: String::new(),
                before: serde_json::Value::Null,
                after: serde_json::json!({"entries": total, "rule": "出生日期保留年月，身份证号码仅显示首尾各一位；原文加密保存并参与校验"}),
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn vacuum_personal(ctx: &Ctx) -> Result<(), StartError> {
    const NAME: &str = "vacuum_personal_v1";
    let db = &ctx.db;
    if done(db, NAME).await? {
        return Ok(());
    }
    match db {
        Db::Sqlite(p, _) => {
            sqlx::query("VACUUM").execute(p).await?;
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(p)
                .await?;
        }
        Db::Postgres(p, _) => {
            for t in ["members", "recruits", "talents", "love_cards", "audit_log"] {
                sqlx::query(&format!("VACUUM FULL {t}")).execute(p).await?;
            }
        }
    }
    let mut tx = db.begin().await?;
    mark(
        &mut tx,
        NAME,
        "database rewritten: no earlier personal data in free space",
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
