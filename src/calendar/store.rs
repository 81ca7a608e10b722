//! The calendar's persistence: the shipped arrangements stored at start, a year read or
//! replaced, the calendar of a date range for every working-day rule.

use super::{assemble, builtin, check_year, Calendar, Day};
use crate::audit::{self, Actor, NewEntry};
use crate::auth::Principal;
use crate::db::{Db, DbResult, DbRow, Tx};
use crate::error::{AppError, AppResult};
use crate::{on_db, on_tx, Ctx};
use chrono::{Datelike, NaiveDate};
use serde::Serialize;

async fn stored_years(db: &Db) -> DbResult<Vec<(i32, String, String)>> {
    on_db!(db, p => {
        let rows = sqlx::query("SELECT year, source, notice FROM calendar_years ORDER BY year").fetch_all(p).await?;
        rows.iter().map(|r| Ok((r.i64("year")? as i32, r.string("source")?, r.string("notice")?))).collect()
    })
}

async fn insert_days(tx: &mut Tx, year: i32, days: &[Day], keep_existing: bool) -> DbResult<()> {
    let sql = if keep_existing {
        "INSERT INTO calendar_days (day, working, name, year) VALUES ($1, $2, $3, $4) ON CONFLICT (day) DO NOTHING"
    } else {
        "INSERT INTO calendar_days (day, working, name, year) VALUES ($1, $2, $3, $4) ON CONFLICT (day) DO UPDATE SET working = excluded.working, name = excluded.name, year = excluded.year"
    };
    on_tx!(tx, c => {
        for d in days {
            sqlx::query(sql).bind(d.day).bind(d.working).bind(&d.name).bind(year as i64).execute(&mut *c).await?;
        }
    });
    Ok(())
}

/// Stores the shipped arrangement of every year not stored yet (days already stored, typed
/// by hand before, are kept). Runs at start; one audit entry when it stored anything.
pub async fn seed_builtin(db: &Db) -> DbResult<Vec<i32>> {
    let have: Vec<i32> = stored_years(db).await?.into_iter().map(|y| y.0).collect();
    let missing: Vec<_> = builtin()
        .values()
        .filter(|a| !have.contains(&a.year))
        .collect();
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = db.begin().await?;
    let now = tx.now;
    for a in &missing {
        insert_days(&mut tx, a.year, &a.days, true).await?;
        on_tx!(&mut tx, c => {
            sqlx::query("INSERT INTO calendar_years (year, source, notice, updated_at) VALUES ($1, 'builtin', $2, $3) ON CONFLICT (year) DO NOTHING")
                .bind(a.year as i64).bind(&a.notice).bind(now).execute(&mut *c).await?;
        });
    }
    let years: Vec<i32> = missing.iter().map(|a| a.year).collect();
    audit::append(
        &mut tx,
        &Actor::system("calendar"),
        NewEntry {
            action: "calendar.seed",
            object_type: "calendar",
            object_id: String::new(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"years": years, "source": "国务院办公厅部分节假日安排的通知"}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(years)
}

/// The calendar of `from..=to`: the stored days, and for a year with no stored arrangement
/// its fixed-date statutory holidays.
pub async fn calendar(db: &Db, from: NaiveDate, to: NaiveDate) -> AppResult<Calendar> {
    let (days, years) = on_db!(db, p => {
        let rows = sqlx::query("SELECT day, working, name FROM calendar_days WHERE day >= $1 AND day <= $2")
            .bind(from).bind(to).fetch_all(p).await?;
        let days = rows.iter().map(|r| Ok(Day { day: r.date("day")?, working: r.bool("working")?, name: r.string("name")? })).collect::<DbResult<Vec<_>>>()?;
        let rows = sqlx::query("SELECT year FROM calendar_years WHERE year >= $1 AND year <= $2")
            .bind(from.year() as i64).bind(to.year() as i64).fetch_all(p).await?;
        let years = rows.iter().map(|r| Ok(r.i64("year")? as i32)).collect::<DbResult<Vec<_>>>()?;
        (days, years)
    });
    Ok(assemble(from, to, &days, &years))
}

/// One year as the holiday page shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct YearView {
    pub year: i32,
    /// `builtin`, `edited`, or `missing` (no arrangement stored: the fixed-date statutory
    /// holidays apply, without 调休).
    pub source: String,
    pub notice: String,
    pub days: Vec<Day>,
}

pub async fn year(db: &Db, year: i32) -> AppResult<YearView> {
    let info = stored_years(db).await?.into_iter().find(|y| y.0 == year);
    let Some((_, source, notice)) = info else {
        return Ok(YearView {
            year,
            source: "missing".into(),
            notice: String::new(),
            days: super::statutory_fixed(year),
        });
    };
    let days = on_db!(db, p => {
        let rows = sqlx::query("SELECT day, working, name FROM calendar_days WHERE year = $1 ORDER BY day")
            .bind(year as i64).fetch_all(p).await?;
        rows.iter().map(|r| Ok(Day { day: r.date("day")?, working: r.bool("working")?, name: r.string("name")? })).collect::<DbResult<Vec<_>>>()?
    });
    Ok(YearView {
        year,
        source,
        notice,
        days,
    })
}

/// Replaces a year's arrangement (all its days) and marks it edited.
pub async fn replace_year(
    ctx: &Ctx,
    p: &Principal,
    year: i32,
    notice: &str,
    days: &[Day],
) -> AppResult<YearView> {
    if !(2000..=2100).contains(&year) {
        return Err(AppError::field("year", "年份应在2000至2100之间"));
    }
    check_year(year, days).map_err(|m| AppError::field("calendar", m))?;
    if days.is_empty() {
        return Err(AppError::field("calendar", "请至少填写一天"));
    }
    let notice: String = notice.trim().chars().take(100).collect();
    let before = self::year(&ctx.db, year).await?;
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    // a day another year's arrangement holds (the December before) must not be taken silently
    let dates: Vec<NaiveDate> = days.iter().map(|d| d.day).collect();
    let clash = on_tx!(&mut tx, c => {
        let mut clash = None;
        for d in &dates {
            let r = sqlx::query("SELECT year FROM calendar_days WHERE day = $1 AND year <> $2")
                .bind(*d).bind(year as i64).fetch_optional(&mut *c).await?;
            if let Some(r) = r {
                clash = Some((*d, r.i64("year")?));
                break;
            }
        }
        clash
    });
    if let Some((d, y)) = clash {
        return Err(AppError::field(
            "calendar",
            format!("{d} 已在{y}年的安排中，请先修改{y}年"),
        ));
    }
    on_tx!(&mut tx, c => {
        sqlx::query("DELETE FROM calendar_days WHERE year = $1").bind(year as i64).execute(&mut *c).await?;
    });
    insert_days(&mut tx, year, days, false).await?;
    on_tx!(&mut tx, c => {
        sqlx::query("INSERT INTO calendar_years (year, source, notice, updated_at) VALUES ($1, 'edited', $2, $3) ON CONFLICT (year) DO UPDATE SET source = 'edited', notice = excluded.notice, updated_at = excluded.updated_at")
            .bind(year as i64).bind(&notice).bind(now).execute(&mut *c).await?;
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "calendar.replace",
            object_type: "calendar",
            object_id: year.to_string(),
            before: serde_json::json!({"source": before.source, "days": before.days}),
            after: serde_json::json!({"notice": notice, "days": days}),
        },
    )
    .await?;
    tx.commit().await?;
    self::year(&ctx.db, year).await
}

/// The years whose arrangement is missing and matters now: this year, and from October on
/// the next (the State Council publishes it in the autumn).
pub async fn missing_years(db: &Db, today: NaiveDate) -> AppResult<Vec<i32>> {
    let have: Vec<i32> = stored_years(db).await?.into_iter().map(|y| y.0).collect();
    let mut want = vec![today.year()];
    if today.month() >= 10 {
        want.push(today.year() + 1);
    }
    Ok(want.into_iter().filter(|y| !have.contains(y)).collect())
}
