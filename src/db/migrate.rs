//! Schema migrations, embedded in the binary. `migrations/sqlite` and `migrations/postgres`
//! hold files of the same names; each is applied once, in name order, in its own transaction,
//! and recorded in `schema_migrations` with its SM3 checksum (a changed file is refused).

use super::{Db, DbError, DbResult};
use crate::on_db;
use sqlx::Row;

pub struct Migration {
    pub name: &'static str,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

macro_rules! migration {
    ($name:literal) => {
        Migration {
            name: $name,
            sqlite: include_str!(concat!("../../migrations/sqlite/", $name)),
            postgres: include_str!(concat!("../../migrations/postgres/", $name)),
        }
    };
}

pub const MIGRATIONS: &[Migration] = &[
    migration!("0001_foundation.sql"),
    migration!("0002_locale_auto.sql"),
    migration!("0003_recruitment.sql"),
    migration!("0004_talent_pools.sql"),
    migration!("0005_rectification.sql"),
    migration!("0006_review.sql"),
    migration!("0007_love_bank.sql"),
    migration!("0008_points.sql"),
    migration!("0009_points_recent.sql"),
    migration!("0010_member_counts.sql"),
    migration!("0011_name_search.sql"),
    migration!("0012_name_ids.sql"),
    migration!("0013_count_paths.sql"),
    migration!("0014_calendar.sql"),
    migration!("0015_keys_and_chain.sql"),
    migration!("0016_personal_data.sql"),
    migration!("0017_accounts.sql"),
    migration!("0018_discipline.sql"),
    migration!("0019_file_checks.sql"),
    migration!("0020_backfill.sql"),
    migration!("0021_review_levels.sql"),
    migration!("0022_star_hundredths.sql"),
    migration!("0023_heavy_reads.sql"),
    migration!("0024_circulars.sql"),
    migration!("0025_cadres_obligations_work_logs.sql"),
    migration!("0026_first_secretaries.sql"),
    migration!("0027_fs_ledger_activities_pledges.sql"),
    migration!("0028_fs_scores.sql"),
    migration!("0029_fs_reports_guidance.sql"),
    migration!("0030_fs_alliances.sql"),
    migration!("0031_meetings.sql"),
    migration!("0032_elections.sql"),
    migration!("0033_appraisals.sql"),
];

/// Applies pending migrations; returns the names applied.
pub async fn run(db: &Db) -> DbResult<Vec<&'static str>> {
    on_db!(db, p => {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, checksum TEXT NOT NULL, applied_at TEXT NOT NULL)",
        )
        .execute(p)
        .await?;
    });
    let mut applied = Vec::new();
    for m in MIGRATIONS {
        let text = if db.is_sqlite() { m.sqlite } else { m.postgres };
        let sum = crate::crypto::sm3_hex(text.as_bytes());
        let existing: Option<String> = on_db!(db, p => {
            sqlx::query("SELECT checksum FROM schema_migrations WHERE name = $1")
                .bind(m.name)
                .fetch_optional(p)
                .await?
                .map(|r| r.try_get::<String, _>(0))
                .transpose()?
        });
        match existing {
            Some(s) if s == sum => continue,
            Some(_) => {
                return Err(DbError::Migration {
                    name: m.name.into(),
                    message: "file changed after it was applied".into(),
                })
            }
            None => {}
        }
        let now = chrono::Utc::now().to_rfc3339();
        on_db!(db, p => {
            let mut t = p.begin().await?;
            sqlx::raw_sql(text).execute(&mut *t).await.map_err(|e| DbError::Migration {
                name: m.name.into(),
                message: e.to_string(),
            })?;
            sqlx::query("INSERT INTO schema_migrations (name, checksum, applied_at) VALUES ($1, $2, $3)")
                .bind(m.name)
                .bind(&sum)
                .bind(&now)
                .execute(&mut *t)
                .await?;
            t.commit().await?;
        });
        applied.push(m.name);
    }
    Ok(applied)
}
