//! The chain's anchor outside the database.
//!
//! A head rewound to an earlier state (the tail deleted and `audit_head` set back to an
//! entry's hash with the MAC it had then) verifies inside the database. The anchor file —
//! beside the key file, outside the database — records the latest head the server has seen,
//! with its MAC; the server rewrites it every few seconds when the head moved (and at
//! shutdown), never to an earlier seq. `verify` then requires the chain to reach the anchor's
//! seq with the anchor's hash. Deleting the file loses this lower bound (reported as
//! "no anchor"); the chain's own checks stay.

use crate::db::{ChainKey, DbRow};
use crate::{on_db, Ctx};
use std::path::PathBuf;

/// Where the anchor lives: `audit_anchor_file`, else beside a SQLite database
/// (`<database>.anchor`), else `dangjian.anchor` in the working directory.
pub fn path(cfg: &crate::config::Config) -> PathBuf {
    if let Some(p) = &cfg.audit_anchor_file {
        return p.clone();
    }
    match cfg.db_url() {
        Ok(crate::config::DatabaseUrl::Sqlite(p)) => {
            let mut s = p.into_os_string();
            s.push(".anchor");
            PathBuf::from(s)
        }
        _ => PathBuf::from("dangjian.anchor"),
    }
}

fn mac(key: &ChainKey, seq: i64, hash: &str) -> String {
    let mut b = b"DJN1".to_vec();
    b.extend_from_slice(&seq.to_be_bytes());
    b.extend_from_slice(hash.as_bytes());
    hex::encode(crate::crypto::hmac_sm3(&key.0, &b))
}

/// The anchor as stored: (seq, hash); `Err` when the file exists but is altered or unreadable.
pub fn read(ctx: &Ctx) -> Result<Option<(i64, String)>, String> {
    let p = path(&ctx.config);
    let text = match std::fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("anchor {}: {e}", p.display())),
    };
    let key = ctx
        .db
        .chain_key()
        .ok_or_else(|| "the audit chain's key is not loaded".to_string())?;
    let mut it = text.split_whitespace();
    let (Some(seq), Some(hash), Some(m)) = (it.next(), it.next(), it.next()) else {
        return Err("the anchor file is altered (format)".into());
    };
    let seq: i64 = seq
        .parse()
        .map_err(|_| "the anchor file is altered (seq)".to_string())?;
    if m != mac(key, seq, hash) {
        return Err("the anchor file is altered (MAC)".into());
    }
    Ok(Some((seq, hash.to_string())))
}

/// Checks the chain (ending at `last` with `last_hash`) against the anchor.
pub async fn check(ctx: &Ctx, last: i64, last_hash: &str) -> Result<(), (i64, String)> {
    let Some((seq, hash)) = read(ctx).map_err(|e| (0, e))? else {
        return Ok(());
    };
    if seq > last {
        return Err((
            last + 1,
            format!("chain ends at {last} but the anchor outside the database records {seq} (truncated)"),
        ));
    }
    let stored = if seq == last {
        Some(last_hash.to_string())
    } else {
        let r: Result<Option<String>, crate::db::DbError> = on_db!(&ctx.db, p => {
            match sqlx::query("SELECT hash FROM audit_log WHERE seq = $1").bind(seq).fetch_optional(p).await {
                Ok(Some(r)) => r.string("hash").map(Some),
                Ok(None) => Ok(None),
                Err(e) => Err(e.into()),
            }
        });
        r.map_err(|e| (seq, e.to_string()))?
    };
    if stored.as_deref() != Some(hash.as_str()) {
        return Err((
            seq,
            format!("entry {seq} differs from the anchor outside the database (rewritten)"),
        ));
    }
    Ok(())
}

/// What writing the anchor found.
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    Moved(i64),
    Unchanged,
    /// The database's head is behind the anchor: truncated (the anchor is kept).
    Behind {
        head: i64,
        anchor: i64,
    },
}

/// Records the database's current head in the anchor, never moving it back.
pub async fn write(ctx: &Ctx) -> Result<Written, String> {
    let key = ctx
        .db
        .chain_key()
        .cloned()
        .ok_or_else(|| "the audit chain's key is not loaded".to_string())?;
    let head: Result<(i64, String), crate::db::DbError> = on_db!(&ctx.db, p => {
        match sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1").fetch_one(p).await {
            Ok(r) => Ok((r.i64("seq").unwrap_or(0), r.string("hash").unwrap_or_default())),
            Err(e) => Err(e.into()),
        }
    });
    let (seq, hash) = head.map_err(|e| e.to_string())?;
    match read(ctx)? {
        Some((a, _)) if a > seq => {
            return Ok(Written::Behind {
                head: seq,
                anchor: a,
            })
        }
        Some((a, h)) if a == seq && h == hash => return Ok(Written::Unchanged),
        _ => {}
    }
    let p = path(&ctx.config);
    let tmp = p.with_extension("anchor.tmp");
    let text = format!("{seq} {hash} {}\n", mac(&key, seq, &hash));
    crate::write_private(&tmp, text.as_bytes()).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, &p).map_err(|e| format!("{}: {e}", p.display()))?;
    Ok(Written::Moved(seq))
}
