//! Verifications of the chain as they happened (`audit_checks`): at start and on the
//! scheduler's clock, or asked for by an auditor. The auditor's pages show the latest, and a
//! broken chain in red on every page they open.

use super::VerifyOutcome;
use crate::db::{DbResult, DbRow};
use crate::{on_db, Ctx};
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Check {
    pub at: DateTime<Utc>,
    pub ok: bool,
    pub entries: i64,
    pub first_bad_seq: Option<i64>,
    pub reason: String,
    /// `start`, `scheduled` or `manual`.
    pub trigger: String,
}

/// Checks every stored file against its digest and records the outcome; `Err` (with the
/// files named) when one fails.
pub async fn run_files(ctx: &Ctx, trigger: &str) -> Result<String, String> {
    let report = crate::blob::verify_all(ctx)
        .await
        .map_err(|e| e.to_string())?;
    let ok = report.bad.is_empty();
    let reason = report
        .bad
        .iter()
        .map(|b| {
            format!(
                "{}（登记SM3 {}，{}）",
                if b.used_by.is_empty() {
                    "未被引用的存储内容".to_string()
                } else {
                    b.used_by.join("；")
                },
                b.digest,
                b.found
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let bad_json = serde_json::to_string(&report.bad).unwrap_or_else(|_| "[]".into());
    let now = ctx.clock.now();
    on_db!(&ctx.db, p => {
        sqlx::query("INSERT INTO audit_checks (at, ok, entries, first_bad_seq, reason, trigger_name, kind, bad_json) VALUES ($1, $2, $3, NULL, $4, $5, 'files', $6)")
            .bind(now).bind(ok).bind(report.checked).bind(&reason).bind(trigger).bind(&bad_json).execute(p).await
            .map_err(|e| e.to_string())?;
    });
    if ok {
        Ok(format!("存储材料完整：{} 份", report.checked))
    } else {
        tracing::error!(
            bad = report.bad.len(),
            reason,
            "stored files fail their digests"
        );
        Err(format!(
            "{} 份存储材料与登记的摘要不符：{reason}",
            report.bad.len()
        ))
    }
}

/// The latest verification of the stored files, if any.
pub async fn latest_files(ctx: &Ctx) -> DbResult<Option<FilesCheck>> {
    on_db!(&ctx.db, p => {
        match sqlx::query("SELECT at, ok, entries, bad_json, trigger_name FROM audit_checks WHERE kind = 'files' ORDER BY id DESC LIMIT 1").fetch_optional(p).await? {
            Some(r) => Ok(Some(FilesCheck {
                at: r.ts("at")?,
                ok: r.bool("ok")?,
                checked: r.i64("entries")?,
                bad: serde_json::from_str(&r.string("bad_json")?).unwrap_or_default(),
                trigger: r.string("trigger_name")?,
            })),
            None => Ok(None),
        }
    })
}

/// A verification of the stored files as recorded.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FilesCheck {
    pub at: DateTime<Utc>,
    pub ok: bool,
    pub checked: i64,
    pub bad: Vec<BadFileRecord>,
    pub trigger: String,
}

/// A failed file as recorded (the shape of `blob::BadFile`).
#[derive(Debug, Clone, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct BadFileRecord {
    pub digest: String,
    pub found: String,
    pub used_by: Vec<String>,
}

/// Verifies the chain and records the outcome; `Err` (with the reason) when it is broken.
pub async fn run(ctx: &Ctx, trigger: &str) -> Result<String, String> {
    let outcome = super::verify(ctx).await.map_err(|e| e.to_string())?;
    let (ok, entries, seq, reason) = match &outcome {
        VerifyOutcome::Ok { entries } => (true, *entries, None, String::new()),
        VerifyOutcome::Broken { seq, reason } => (false, 0, Some(*seq), reason.clone()),
    };
    let now = ctx.clock.now();
    record(ctx, now, ok, entries, seq, &reason, trigger)
        .await
        .map_err(|e| e.to_string())?;
    match outcome {
        VerifyOutcome::Ok { entries } => Ok(format!("审计链完整：{entries} 条")),
        VerifyOutcome::Broken { seq, reason } => {
            tracing::error!(seq, reason, "the audit chain is BROKEN");
            Err(format!("审计链在序号 {seq} 处断裂：{reason}"))
        }
    }
}

async fn record(
    ctx: &Ctx,
    now: DateTime<Utc>,
    ok: bool,
    entries: i64,
    seq: Option<i64>,
    reason: &str,
    trigger: &str,
) -> DbResult<()> {
    on_db!(&ctx.db, p => {
        sqlx::query("INSERT INTO audit_checks (at, ok, entries, first_bad_seq, reason, trigger_name) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(now).bind(ok).bind(entries).bind(seq).bind(reason).bind(trigger).execute(p).await?;
    });
    Ok(())
}

/// The latest verification, if any.
pub async fn latest(ctx: &Ctx) -> DbResult<Option<Check>> {
    on_db!(&ctx.db, p => {
        match sqlx::query("SELECT at, ok, entries, first_bad_seq, reason, trigger_name FROM audit_checks WHERE kind = 'chain' ORDER BY id DESC LIMIT 1").fetch_optional(p).await? {
            Some(r) => Ok(Some(Check {
                at: r.ts("at")?,
                ok: r.bool("ok")?,
                entries: r.i64("entries")?,
                first_bad_seq: r.opt_i64("first_bad_seq")?,
                reason: r.string("reason")?,
                trigger: r.string("trigger_name")?,
            })),
            None => Ok(None),
        }
    })
}

/// Keeps the anchor outside the database up to date while the server runs (every few
/// seconds when the head moved); a head found behind the anchor is logged as an error — the
/// next verification names it.
pub fn spawn_anchor(ctx: Ctx) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            every.tick().await;
            match super::anchor::write(&ctx).await {
                Ok(super::anchor::Written::Behind { head, anchor }) => {
                    tracing::error!(
                        head,
                        anchor,
                        "the audit chain's head is behind its anchor: entries were removed"
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "writing the audit anchor"),
            }
        }
    });
}
