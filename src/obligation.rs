//! Cadence obligations: "every week one X, every month one Y" as data. An obligation is one
//! row per kind, subject (a cadre or an organisation) and period, with the instant it is due,
//! the instant an unfulfilled one counts as missed, and the record that fulfilled it:
//!
//! * `due` — open (past `due_at` it is shown overdue, and fulfilling it then is `late`);
//! * `done` — fulfilled by `due_at`;
//! * `late` — fulfilled after `due_at` (also after it was `missed`);
//! * `missed` — still open at `missed_at` (the sweep marks it; it may still be fulfilled late).
//!
//! Each capability with a cadence owns its generator (which subjects owe what, when due),
//! registered in [`CADENCES`]; the scheduler runs them all (`obligations.generate`), then the
//! sweep (`obligations.sweep`). A generator inserts with the table's unique key, so a run
//! killed half-way is finished by the next, and two runs never make two rows.

use crate::db::{path_upper, DbResult, DbRow, Tx};
use crate::error::AppResult;
use crate::{on_db, on_tx, Ctx};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use futures_util::future::BoxFuture;
use serde::Serialize;

/// A cadence: its kind, its name, and the generator making the obligations due up to `today`
/// (at most `max_periods` periods per run; returns the rows made).
pub struct Cadence {
    pub kind: &'static str,
    pub label: &'static str,
    pub generate: for<'a> fn(&'a Ctx, NaiveDate, usize) -> BoxFuture<'a, AppResult<u64>>,
}

/// Every cadence of the platform.
pub const CADENCES: &[Cadence] = &[
    Cadence {
        kind: crate::work_log::OBLIGATION,
        label: "每周工作记实",
        generate: |c, d, n| Box::pin(crate::work_log::store::generate(c, d, n)),
    },
    // 四个一 of the first secretaries' rounds (the kinds are `first_secretary::ACTIVITY_CADENCES`)
    Cadence {
        kind: crate::first_secretary::results::OBLIGATION,
        label: "第一书记月度实绩报告",
        generate: |c, d, n| Box::pin(crate::first_secretary::results::generate(c, d, n)),
    },
    Cadence {
        kind: "fs.meeting",
        label: "第一书记月度工作例会",
        generate: |c, d, n| {
            Box::pin(crate::first_secretary::store::generate_activities(
                c, d, n, "meeting",
            ))
        },
    },
    Cadence {
        kind: "fs.visit",
        label: "第一书记季度现场观摩",
        generate: |c, d, n| {
            Box::pin(crate::first_secretary::store::generate_activities(
                c, d, n, "visit",
            ))
        },
    },
    Cadence {
        kind: "fs.training",
        label: "第一书记半年业务培训",
        generate: |c, d, n| {
            Box::pin(crate::first_secretary::store::generate_activities(
                c, d, n, "training",
            ))
        },
    },
    Cadence {
        kind: "fs.assessment",
        label: "第一书记年度履职考核",
        generate: |c, d, n| {
            Box::pin(crate::first_secretary::store::generate_activities(
                c,
                d,
                n,
                "assessment",
            ))
        },
    },
    // 三会一课 and the rest of 组织生活: one cadence per kind of sitting (`meeting::KINDS`)
    Cadence {
        kind: "meeting.assembly",
        label: "党员大会",
        generate: |c, d, n| Box::pin(crate::meeting::store::generate(c, d, n, "assembly")),
    },
    Cadence {
        kind: "meeting.committee",
        label: "支委会",
        generate: |c, d, n| Box::pin(crate::meeting::store::generate(c, d, n, "committee")),
    },
    Cadence {
        kind: "meeting.group",
        label: "党小组会",
        generate: |c, d, n| Box::pin(crate::meeting::store::generate(c, d, n, "group")),
    },
    Cadence {
        kind: "meeting.lecture",
        label: "党课",
        generate: |c, d, n| Box::pin(crate::meeting::store::generate(c, d, n, "lecture")),
    },
    Cadence {
        kind: "meeting.theme_day",
        label: "主题党日",
        generate: |c, d, n| Box::pin(crate::meeting::store::generate(c, d, n, "theme_day")),
    },
    Cadence {
        kind: "meeting.life",
        label: "组织生活会",
        generate: |c, d, n| Box::pin(crate::meeting::store::generate(c, d, n, "life")),
    },
    Cadence {
        kind: "meeting.appraisal",
        label: "民主评议党员",
        generate: |c, d, n| Box::pin(crate::meeting::store::generate(c, d, n, "appraisal")),
    },
];

pub fn cadence_label(kind: &str) -> &'static str {
    CADENCES
        .iter()
        .find(|c| c.kind == kind)
        .map(|c| c.label)
        .unwrap_or("")
}

/// Statuses (code, label).
pub const STATUSES: [(&str, &str); 4] = [
    ("due", "待完成"),
    ("done", "按时完成"),
    ("late", "逾期完成"),
    ("missed", "未完成"),
];

/// How far back a generator catches up after the server was down.
pub const CATCH_UP_PERIODS: usize = 8;

/// A period of a cadence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Period {
    /// e.g. `2026-W49`
    pub key: String,
    pub start: NaiveDate,
    pub end: NaiveDate,
}

/// The Monday starting the ISO week of `d`.
pub fn monday_of(d: NaiveDate) -> NaiveDate {
    d - Duration::days(d.weekday().num_days_from_monday() as i64)
}

/// The ISO week holding `d`.
pub fn week(d: NaiveDate) -> Period {
    let start = monday_of(d);
    let iso = start.iso_week();
    Period {
        key: format!("{}-W{:02}", iso.year(), iso.week()),
        start,
        end: start + Duration::days(6),
    }
}

/// A week as people name it: 2026年第49周（11月30日—12月6日）.
pub fn week_label(monday: NaiveDate) -> String {
    let p = week(monday);
    let iso = p.start.iso_week();
    format!(
        "{}年第{}周（{}—{}）",
        iso.year(),
        iso.week(),
        p.start.format("%-m月%-d日"),
        p.end.format("%-m月%-d日")
    )
}

/// The status an obligation takes when its record comes at `at`.
pub fn status_on_fulfil(at: DateTime<Utc>, due_at: DateTime<Utc>) -> &'static str {
    if at <= due_at {
        "done"
    } else {
        "late"
    }
}

/// The row a generator or a fulfilling record makes.
pub struct NewObligation<'a> {
    pub kind: &'a str,
    pub subject_type: &'a str,
    pub subject_id: i64,
    pub scope_org_id: i64,
    pub period: &'a Period,
    pub due_at: DateTime<Utc>,
    pub missed_at: DateTime<Utc>,
}

/// Makes the obligation unless it exists (the unique key): true when made.
pub async fn ensure(tx: &mut Tx, o: &NewObligation<'_>) -> DbResult<bool> {
    let now = tx.now;
    let n = on_tx!(tx, x => {
        sqlx::query("INSERT INTO obligations (kind, subject_type, subject_id, scope_org_id, period, period_start, period_end, due_at, missed_at, status, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'due', $10) ON CONFLICT (kind, subject_type, subject_id, period) DO NOTHING")
            .bind(o.kind).bind(o.subject_type).bind(o.subject_id).bind(o.scope_org_id).bind(&o.period.key)
            .bind(o.period.start).bind(o.period.end).bind(o.due_at).bind(o.missed_at).bind(now)
            .execute(&mut *x).await?.rows_affected()
    });
    Ok(n == 1)
}

/// Marks the obligation fulfilled by a record (made first if the generator has not yet made
/// it); returns its status. A record filed again later does not change an earlier status.
pub async fn fulfil(
    tx: &mut Tx,
    o: &NewObligation<'_>,
    record_type: &str,
    record_id: i64,
    at: DateTime<Utc>,
) -> DbResult<String> {
    ensure(tx, o).await?;
    let status = status_on_fulfil(at, o.due_at);
    on_tx!(tx, x => {
        sqlx::query("UPDATE obligations SET status = CASE WHEN $1 <= due_at THEN 'done' ELSE 'late' END, record_type = $2, record_id = $3, fulfilled_at = $1 \
                     WHERE kind = $4 AND subject_type = $5 AND subject_id = $6 AND period = $7 AND status IN ('due', 'missed')")
            .bind(at).bind(record_type).bind(record_id).bind(o.kind).bind(o.subject_type).bind(o.subject_id).bind(&o.period.key)
            .execute(&mut *x).await?;
        let r = sqlx::query("SELECT status FROM obligations WHERE kind = $1 AND subject_type = $2 AND subject_id = $3 AND period = $4")
            .bind(o.kind).bind(o.subject_type).bind(o.subject_id).bind(&o.period.key)
            .fetch_optional(&mut *x).await?;
        match r {
            Some(r) => Ok(r.string("status")?),
            None => Ok(status.to_string()),
        }
    })
}

/// Runs every cadence's generator up to today; the note for the jobs page.
pub async fn generate_all(ctx: &Ctx) -> Result<String, String> {
    let today = ctx.clock.today();
    let mut parts = Vec::new();
    for c in CADENCES {
        let n = (c.generate)(ctx, today, CATCH_UP_PERIODS)
            .await
            .map_err(|e| format!("{}: {e}", c.kind))?;
        parts.push(format!("{} {n}", c.label));
    }
    Ok(format!("新生成：{}", parts.join("，")))
}

/// Marks open obligations past their `missed_at` as missed; the note for the jobs page.
pub async fn sweep(ctx: &Ctx) -> Result<String, String> {
    let now = ctx.clock.now();
    let n = on_db!(&ctx.db, x => {
        sqlx::query("UPDATE obligations SET status = 'missed' WHERE status = 'due' AND missed_at <= $1")
            .bind(now).execute(x).await.map_err(|e| e.to_string())?.rows_affected()
    });
    Ok(format!("标记未完成 {n} 项"))
}

/// Counts of one cadence's obligations in a subtree over a range of periods.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Tally {
    pub expected: i64,
    pub done: i64,
    pub late: i64,
    pub missed: i64,
    /// Open, not yet missed (overdue or not yet due).
    pub open: i64,
}

impl Tally {
    /// On time as a share of those decided (done, late or missed; not those still open), in
    /// per mille (one decimal of a percentage).
    pub fn on_time_permille(&self) -> Option<i64> {
        permille(self.done, self.expected - self.open)
    }
}

/// `part / whole` in per mille, rounded half up; none when nothing was expected.
pub fn permille(part: i64, whole: i64) -> Option<i64> {
    (whole > 0).then(|| (part * 2000 + whole) / (whole * 2))
}

/// The obligations of `kind` under `path` whose period starts in [from, to], tallied by
/// subject (subject id → tally).
pub async fn tally_by_subject(
    ctx: &Ctx,
    kind: &str,
    path: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> DbResult<std::collections::HashMap<i64, Tally>> {
    let mut out = std::collections::HashMap::new();
    on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT b.subject_id, b.status, COUNT(*) AS n FROM obligations b JOIN orgs o ON o.id = b.scope_org_id \
                                WHERE b.kind = $1 AND o.path >= $2 AND o.path < $3 AND b.period_start >= $4 AND b.period_start <= $5 \
                                GROUP BY b.subject_id, b.status")
            .bind(kind).bind(path).bind(path_upper(path)).bind(from).bind(to).fetch_all(x).await?;
        for r in rows {
            let t: &mut Tally = out.entry(r.i64("subject_id")?).or_default();
            let n = r.i64("n")?;
            t.expected += n;
            match r.string("status")?.as_str() {
                "done" => t.done += n,
                "late" => t.late += n,
                "missed" => t.missed += n,
                _ => t.open += n,
            }
        }
    });
    Ok(out)
}

/// One obligation as its subject's page lists it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Obligation {
    pub id: i64,
    pub kind: String,
    pub kind_label: String,
    pub period: String,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub due_at: DateTime<Utc>,
    pub status: String,
    pub status_label: String,
    pub overdue: bool,
    pub record_type: Option<String>,
    pub record_id: Option<i64>,
    pub fulfilled_at: Option<DateTime<Utc>>,
}

/// A subject's obligations, newest period first.
pub async fn of_subject(
    ctx: &Ctx,
    subject_type: &str,
    subject_id: i64,
    limit: i64,
) -> DbResult<Vec<Obligation>> {
    let now = ctx.clock.now();
    on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT id, kind, period, period_start, period_end, due_at, status, record_type, record_id, fulfilled_at FROM obligations \
                                WHERE subject_type = $1 AND subject_id = $2 ORDER BY period_start DESC, id DESC LIMIT $3")
            .bind(subject_type).bind(subject_id).bind(limit.clamp(1, 500)).fetch_all(x).await?;
        rows.iter().map(|r| {
            let kind = r.string("kind")?;
            let status = r.string("status")?;
            let due_at = r.ts("due_at")?;
            Ok(Obligation {
                id: r.i64("id")?,
                kind_label: cadence_label(&kind).to_string(),
                kind,
                period: r.string("period")?,
                period_start: r.date("period_start")?,
                period_end: r.date("period_end")?,
                overdue: (status == "due" || status == "missed") && due_at < now,
                due_at,
                status_label: crate::rules::label(&STATUSES, &status).to_string(),
                status,
                record_type: r.opt_string("record_type")?,
                record_id: r.opt_i64("record_id")?,
                fulfilled_at: r.opt_ts("fulfilled_at")?,
            })
        }).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    #[test]
    fn weeks_are_iso_weeks() {
        // (day, Monday, key)
        let cases = [
            (d(2026, 12, 6), d(2026, 11, 30), "2026-W49"), // a Sunday
            (d(2026, 12, 7), d(2026, 12, 7), "2026-W50"),  // a Monday
            (d(2027, 1, 1), d(2026, 12, 28), "2026-W53"),  // 2026 has 53 ISO weeks
            (d(2027, 1, 4), d(2027, 1, 4), "2027-W01"),
            (d(2028, 2, 29), d(2028, 2, 28), "2028-W09"),
        ];
        for (day, monday, key) in cases {
            let w = week(day);
            assert_eq!((w.start, w.key.as_str()), (monday, key), "{day}");
            assert_eq!(w.end, monday + Duration::days(6));
        }
        assert_eq!(
            week_label(d(2026, 12, 6)),
            "2026年第49周（11月30日—12月6日）"
        );
        assert_eq!(week_label(d(2027, 1, 1)), "2026年第53周（12月28日—1月3日）");
    }

    #[test]
    fn fulfilled_at_the_deadline_is_on_time() {
        let due = Utc::now();
        assert_eq!(status_on_fulfil(due - Duration::seconds(1), due), "done");
        assert_eq!(status_on_fulfil(due, due), "done");
        assert_eq!(status_on_fulfil(due + Duration::seconds(1), due), "late");
    }

    #[test]
    fn shares_round_half_up() {
        assert_eq!(permille(0, 0), None);
        assert_eq!(permille(1, 3), Some(333));
        assert_eq!(permille(2, 3), Some(667));
        assert_eq!(permille(1, 8), Some(125));
        assert_eq!(permille(1, 2000), Some(1)); // 0.5‰ rounds up
        assert_eq!(permille(5, 5), Some(1000));
    }
}
