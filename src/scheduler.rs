//! The scheduler: what must happen at a time, inside the binary.
//!
//! Each job has a row in `jobs` with the instant it is next due. A server process ticks every
//! few seconds; a due job is *leased* by one conditional update (`lease_until` in the past or
//! empty), so of several processes on one PostgreSQL database exactly one runs it, and a run
//! that died with its process is taken over once its lease ends. A job must be idempotent
//! (run twice, it does its work once): the lease makes double runs rare, idempotence makes
//! them harmless. Administrators see every job with its last run and outcome (`/jobs`).

use crate::db::{DbResult, DbRow};
use crate::{on_db, Ctx};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::future::Future;
use std::pin::Pin;

pub type JobFuture = Pin<Box<dyn Future<Output = Result<String, String>> + Send>>;

/// One kind of scheduled work.
pub struct Job {
    pub name: &'static str,
    /// What it does, for the administrators' page (a message id).
    pub label: &'static str,
    pub every: Duration,
    pub run: fn(Ctx) -> JobFuture,
}

/// How long a run may take before another process may take the job over.
const LEASE: i64 = 30 * 60;

/// The platform's jobs.
pub fn jobs(ctx: &Ctx) -> Vec<Job> {
    vec![
        Job {
            name: "audit.verify",
            label: "校验审计链",
            every: Duration::hours(ctx.config.audit_verify_hours as i64),
            run: |ctx| Box::pin(async move { crate::audit::checks::run(&ctx, "scheduled").await }),
        },
        Job {
            name: "files.verify",
            label: "校验存储材料",
            every: Duration::hours(ctx.config.files_verify_hours as i64),
            run: |ctx| {
                Box::pin(async move { crate::audit::checks::run_files(&ctx, "scheduled").await })
            },
        },
        Job {
            name: "obligations.generate",
            label: "生成履职义务",
            every: Duration::hours(1),
            run: |ctx| Box::pin(async move { crate::obligation::generate_all(&ctx).await }),
        },
        Job {
            name: "obligations.sweep",
            label: "标记逾期未完成的义务",
            every: Duration::minutes(15),
            run: |ctx| Box::pin(async move { crate::obligation::sweep(&ctx).await }),
        },
        Job {
            name: "first_secretary.purge",
            label: "清除过期的打卡位置和照片",
            every: Duration::hours(24),
            run: |ctx| Box::pin(async move { crate::first_secretary::store::purge(&ctx).await }),
        },
    ]
}

/// Labels of the jobs (message ids, for the catalogue).
pub const LABELS: &[&str] = &[
    "校验审计链",
    "校验存储材料",
    "生成履职义务",
    "标记逾期未完成的义务",
    "清除过期的打卡位置和照片",
];

/// Registers the jobs not yet known (due at once).
pub async fn register(ctx: &Ctx) -> DbResult<()> {
    let now = ctx.clock.now();
    for j in jobs(ctx) {
        on_db!(&ctx.db, p => {
            sqlx::query("INSERT INTO jobs (name, next_due_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                .bind(j.name).bind(now).execute(p).await?;
        });
    }
    Ok(())
}

/// Runs the jobs due now that this process can lease; returns (name, outcome) of each run.
pub async fn tick(ctx: &Ctx, owner: &str) -> DbResult<Vec<(&'static str, Result<String, String>)>> {
    let mut ran = Vec::new();
    for j in jobs(ctx) {
        let now = ctx.clock.now();
        let leased = on_db!(&ctx.db, p => {
            sqlx::query("UPDATE jobs SET lease_owner = $1, lease_until = $2, last_started_at = $3 \
                         WHERE name = $4 AND next_due_at <= $3 AND (lease_until IS NULL OR lease_until < $3)")
                .bind(owner).bind(now + Duration::seconds(LEASE)).bind(now).bind(j.name)
                .execute(p).await?.rows_affected()
        });
        if leased != 1 {
            continue;
        }
        let outcome = (j.run)(ctx.clone()).await;
        let done = ctx.clock.now();
        let (ok, note) = match &outcome {
            Ok(n) => (true, n.clone()),
            Err(n) => (false, n.clone()),
        };
        if !ok {
            tracing::error!(job = j.name, note, "scheduled job failed");
        }
        on_db!(&ctx.db, p => {
            sqlx::query("UPDATE jobs SET lease_owner = NULL, lease_until = NULL, last_finished_at = $1, last_ok = $2, \
                         last_note = $3, runs = runs + 1, next_due_at = $4 WHERE name = $5 AND lease_owner = $6")
                .bind(done).bind(ok).bind(&note).bind(done + j.every).bind(j.name).bind(owner)
                .execute(p).await?;
        });
        ran.push((j.name, outcome));
    }
    Ok(ran)
}

/// Ticks in the background for as long as the server runs.
pub fn spawn(ctx: Ctx) {
    let owner = format!(
        "{}-{}",
        std::process::id(),
        &crate::crypto::random_token()[..8]
    );
    tokio::spawn(async move {
        if let Err(e) = register(&ctx).await {
            tracing::error!(error = %e, "registering the scheduler's jobs");
        }
        let mut every = tokio::time::interval(std::time::Duration::from_secs(15));
        loop {
            every.tick().await;
            if let Err(e) = tick(&ctx, &owner).await {
                tracing::error!(error = %e, "scheduler tick");
            }
        }
    });
}

/// A job as the administrators' page shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct JobRow {
    pub name: String,
    pub label: String,
    pub next_due_at: DateTime<Utc>,
    pub running: bool,
    pub last_started_at: Option<DateTime<Utc>>,
    pub last_finished_at: Option<DateTime<Utc>>,
    pub last_ok: Option<bool>,
    pub last_note: String,
    pub runs: i64,
}

pub async fn list(ctx: &Ctx) -> DbResult<Vec<JobRow>> {
    let now = ctx.clock.now();
    let labels: Vec<(&str, &str)> = jobs(ctx).iter().map(|j| (j.name, j.label)).collect();
    on_db!(&ctx.db, p => {
        let rows = sqlx::query("SELECT name, next_due_at, lease_until, last_started_at, last_finished_at, last_ok, last_note, runs FROM jobs ORDER BY name")
            .fetch_all(p).await?;
        rows.iter().map(|r| {
            let name = r.string("name")?;
            let lease: Option<DateTime<Utc>> = r.opt_ts("lease_until")?;
            Ok(JobRow {
                label: labels.iter().find(|l| l.0 == name).map(|l| l.1).unwrap_or("").to_string(),
                name,
                next_due_at: r.ts("next_due_at")?,
                running: lease.is_some_and(|l| l > now),
                last_started_at: r.opt_ts("last_started_at")?,
                last_finished_at: r.opt_ts("last_finished_at")?,
                last_ok: r.opt_bool("last_ok")?,
                last_note: r.string("last_note")?,
                runs: r.i64("runs")?,
            })
        }).collect()
    })
}
