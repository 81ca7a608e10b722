//! 一月一评分、一季一排名 (seed 002, F14–F15) on the points engine: subject `first_secretary`,
//! whose entries count for the village's organisation — whoever is on duty there in the
//! month. The township scores each month on the six-area sheet (the scored indicators of the
//! points catalogue, a rule value); the department running the round closes the month
//! (`point_closes` scope `first_secretaries`); once a quarter's three months are closed the
//! department publishes the quarter's ranking (ties share a rank), kept as published in
//! `fs_quarters` with its digest.

use super::store::{self, Assignment, Paths};
use crate::audit::{self, NewEntry};
use crate::auth::{Perm, Principal};
use crate::db::{path_upper, DbResult, DbRow};
use crate::error::{AppError, AppResult};
use crate::org::Org;
use crate::points::{self, month_label, Indicator};
use crate::{on_db, Ctx};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// One area of the sheet, as the rules in force define it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = FsScoreArea)]
pub struct Area {
    pub key: String,
    pub name: String,
    /// The full mark.
    pub full: i64,
}

/// A month's scores of one village's first secretary.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = FsMonthScore)]
pub struct MonthScore {
    /// YYYY-MM
    pub month: String,
    /// Per area, in the sheet's order; empty when the month is not scored.
    pub scores: Vec<i64>,
    pub total: i64,
    pub scored: bool,
    /// The department closed the month: the scores are final.
    pub closed: bool,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
#[schema(as = FsScoreSheet)]
pub struct Sheet {
    /// YYYY-MM; last month by default.
    pub month: String,
    /// Area key (FS1 …) → score, from 0 to the area's full mark; every area of the sheet.
    pub scores: BTreeMap<String, i64>,
    pub note: String,
    /// Needed to score a month again (the earlier scores are reversed).
    pub reason: String,
}

/// The sheet's areas in force for a village.
pub async fn areas(ctx: &Ctx, village_path: &str) -> AppResult<Vec<Area>> {
    let (r, _) = points::store::rules_for(ctx, village_path).await?;
    Ok(r.for_subject("first_secretary")
        .filter(|i| i.scored)
        .map(area)
        .collect())
}

fn area(i: &Indicator) -> Area {
    Area {
        key: i.key.clone(),
        name: i.name.clone(),
        full: i.points,
    }
}

/// The months of a posting, newest first: from its start to its end (or this month), at most
/// the last 12.
fn posting_months(a: &Assignment, today: NaiveDate) -> Vec<i64> {
    months_between(a.start_on, a.ended_on.or(a.ends_on), today)
}

fn months_between(start: Option<NaiveDate>, end: Option<NaiveDate>, today: NaiveDate) -> Vec<i64> {
    let Some(start) = start else {
        return Vec::new();
    };
    let end = end.unwrap_or(today).min(today);
    if end < start {
        return Vec::new();
    }
    let mut v = points::months(points::month_key(start), points::month_key(end));
    v.reverse();
    v.truncate(12);
    v
}

/// (village, month) → (area key → net points): the standing scores of the villages' months.
async fn scores_of(
    ctx: &Ctx,
    villages: &[i64],
    months: &[i64],
) -> AppResult<HashMap<(i64, i64), HashMap<String, i64>>> {
    let mut out: HashMap<(i64, i64), HashMap<String, i64>> = HashMap::new();
    if villages.is_empty() || months.is_empty() {
        return Ok(out);
    }
    let listed = months
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    for chunk in villages.chunks(500) {
        // ids and months are integers computed here
        let ids = chunk
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let sql = format!("SELECT org_id, month, indicator, CAST(SUM(points) AS BIGINT) AS s, \
                           CAST(SUM(CASE WHEN reverses_id IS NULL THEN 1 ELSE -1 END) AS BIGINT) AS n FROM point_entries \
                           WHERE subject = 'first_secretary' AND month IN ({listed}) AND org_id IN ({ids}) GROUP BY org_id, month, indicator");
        on_db!(&ctx.db, x => {
            for r in sqlx::query(&sql).fetch_all(x).await? {
                // an area scored again has its earlier entry reversed: it stands when more
                // entries were written than reversed
                if r.i64("n")? > 0 {
                    out.entry((r.i64("org_id")?, r.i64("month")?)).or_default().insert(r.string("indicator")?, r.i64("s")?);
                }
            }
        });
    }
    Ok(out)
}

/// The months closed by `org` (scope `first_secretaries`) among `months`.
async fn closed_months(ctx: &Ctx, org: i64, months: &[i64]) -> AppResult<Vec<i64>> {
    if months.is_empty() {
        return Ok(Vec::new());
    }
    let (lo, hi) = (
        months.iter().min().copied().unwrap_or(0),
        months.iter().max().copied().unwrap_or(0),
    );
    on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT month FROM point_closes WHERE org_id = $1 AND scope = 'first_secretaries' AND month BETWEEN $2 AND $3")
            .bind(org).bind(lo).bind(hi).fetch_all(x).await?;
        Ok(rows.iter().map(|r| r.i64("month")).collect::<DbResult<Vec<_>>>()?)
    })
}

/// month → the organisations that closed it (scope `first_secretaries`), among `months`: a
/// village's month is frozen when any organisation above it closed it.
async fn closes_of(ctx: &Ctx, months: &[i64]) -> AppResult<HashMap<i64, Vec<i64>>> {
    let mut out: HashMap<i64, Vec<i64>> = HashMap::new();
    if months.is_empty() {
        return Ok(out);
    }
    let listed = months
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    // months are integers computed here
    let sql = format!("SELECT org_id, month FROM point_closes WHERE scope = 'first_secretaries' AND month IN ({listed})");
    on_db!(&ctx.db, x => {
        for r in sqlx::query(&sql).fetch_all(x).await? {
            out.entry(r.i64("month")?).or_default().push(r.i64("org_id")?);
        }
    });
    Ok(out)
}

/// Which of `months` are closed for a village by an organisation above it.
pub async fn frozen_months(ctx: &Ctx, village_path: &str, months: &[i64]) -> AppResult<Vec<i64>> {
    let closes = closes_of(ctx, months).await?;
    Ok(months
        .iter()
        .copied()
        .filter(|m| frozen(&closes, village_path, *m))
        .collect())
}

/// Whether a village's month is closed by an organisation above it (its scores and its
/// first secretary's report no longer change).
pub async fn month_frozen(ctx: &Ctx, village_path: &str, m: i64) -> AppResult<bool> {
    Ok(frozen(&closes_of(ctx, &[m]).await?, village_path, m))
}

fn frozen(closes: &HashMap<i64, Vec<i64>>, village_path: &str, m: i64) -> bool {
    closes.get(&m).is_some_and(|orgs| {
        crate::org::path_ids(village_path)
            .iter()
            .any(|i| orgs.contains(i))
    })
}

fn month_score(
    areas: &[Area],
    m: i64,
    got: Option<&HashMap<String, i64>>,
    closed: bool,
) -> MonthScore {
    let scores: Vec<i64> = match got {
        Some(g) => areas
            .iter()
            .map(|a| g.get(&a.key).copied().unwrap_or(0))
            .collect(),
        None => Vec::new(),
    };
    MonthScore {
        month: month_label(m),
        // every standing entry, also of an area the rules in force no longer name
        total: got.map(|g| g.values().sum()).unwrap_or(0),
        scored: got.is_some(),
        scores,
        closed,
    }
}

/// A posting's months with their scores, newest first.
pub async fn of_posting(
    ctx: &Ctx,
    a: &Assignment,
    paths: &Paths,
) -> AppResult<(Vec<Area>, Vec<MonthScore>)> {
    let (Some(village), Some(vpath)) = (a.village_id, paths.village.as_deref()) else {
        return Ok((Vec::new(), Vec::new()));
    };
    let areas = areas(ctx, vpath).await?;
    let months = posting_months(a, ctx.clock.today());
    let got = scores_of(ctx, &[village], &months).await?;
    let closes = closes_of(ctx, &months).await?;
    Ok((
        areas.clone(),
        months
            .iter()
            .map(|m| {
                month_score(
                    &areas,
                    *m,
                    got.get(&(village, *m)),
                    frozen(&closes, vpath, *m),
                )
            })
            .collect(),
    ))
}

/// Whether `p` scores the posting's months: the township (or any organisation above the
/// village) with daily management and points, never the first secretary themself.
pub fn can_score(p: &Principal, paths: &Paths) -> bool {
    paths.cadre_account != Some(p.account_id)
        && p.can(Perm::FsDaily)
        && p.can(Perm::PointsWrite)
        && paths
            .village
            .as_deref()
            .is_some_and(|v| p.in_scope(v) && p.org_path != v)
}

/// 一月一评分: the township scores a month of a posting on the sheet.
pub async fn score(ctx: &Ctx, p: &Principal, id: i64, sheet: &Sheet) -> AppResult<MonthScore> {
    let (a, paths) = store::get(ctx, p, id).await?;
    if !can_score(p, &paths) {
        return Err(if paths.cadre_account == Some(p.account_id) {
            AppError::Forbidden("第一书记不能为自己评分".into())
        } else {
            AppError::Forbidden("由派驻村所在乡镇党委评分".into())
        });
    }
    let today = ctx.clock.today();
    let month = if sheet.month.trim().is_empty() {
        points::month_key(today.with_day0(0).unwrap_or(today) - chrono::Duration::days(1))
    } else {
        points::parse_month(&sheet.month)
            .ok_or_else(|| AppError::field("month", "月份格式应为YYYY-MM"))?
    };
    if month == points::month_key(today) {
        return Err(AppError::field(
            "month",
            format!("{}尚未结束，月末后才能评分", month_label(month)),
        ));
    }
    if !posting_months(&a, today).contains(&month)
        || !matches!(a.status.as_str(), "on_duty" | "recalled" | "completed")
    {
        return Err(AppError::field(
            "month",
            format!("{}不在{}的驻村期内", month_label(month), a.cadre_name),
        ));
    }
    let village = a
        .village_id
        .ok_or_else(|| AppError::field("month", "尚未派驻到村"))?;
    let target = points::store::target(ctx, "first_secretary", None, Some(village)).await?;
    points::store::score_sheet(
        ctx,
        p,
        &target,
        month,
        &sheet.scores,
        &crate::work_log::clean_text(&sheet.note),
        // invisible characters are no reason
        &crate::work_log::clean_text(&sheet.reason),
    )
    .await?;
    let areas = areas(ctx, &target.branch.path).await?;
    let got = scores_of(ctx, &[village], &[month]).await?;
    Ok(month_score(
        &areas,
        month,
        got.get(&(village, month)),
        false,
    ))
}

// ---- a month across the scope ----

/// One posting's line of a month.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = FsMonthRow)]
pub struct MonthRow {
    pub assignment_id: i64,
    pub cadre_name: String,
    pub village_name: String,
    pub township_name: Option<String>,
    pub sending_unit: String,
    pub score: MonthScore,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = FsMonthSheet)]
pub struct MonthSheet {
    pub month: String,
    pub areas: Vec<Area>,
    pub rows: Vec<MonthRow>,
    pub scored: usize,
    /// The departments (running rounds) in the scope, with whether each closed the month.
    pub departments: Vec<Department>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = FsDepartment)]
pub struct Department {
    pub org_id: i64,
    pub name: String,
    pub closed: bool,
}

/// A posting on duty some time in a range: (assignment, cadre, village id, village name,
/// village path, sending unit, round's organisation).
type Line = (i64, String, i64, String, String, String, i64);

/// The postings on duty some time between `first` and `last` whose village or round lies in
/// `path`'s subtree, in village order.
async fn postings_in(
    ctx: &Ctx,
    path: &str,
    first: NaiveDate,
    last: NaiveDate,
) -> AppResult<Vec<Line>> {
    let hi = path_upper(path);
    on_db!(&ctx.db, x => {
        let rows = sqlx::query(
            "SELECT a.id, c.name AS cadre_name, v.id AS village_id, v.name AS village_name, v.path AS village_path, a.sending_unit, r.org_id \
             FROM fs_assignments a JOIN fs_rounds r ON r.id = a.round_id JOIN orgs ro ON ro.id = r.org_id JOIN cadres c ON c.id = a.cadre_id \
             JOIN orgs v ON v.id = a.village_id \
             WHERE a.status IN ('on_duty', 'recalled', 'completed') AND a.start_on <= $1 AND COALESCE(a.ended_on, a.ends_on) >= $2 \
               AND ((v.path >= $3 AND v.path < $4) OR (ro.path >= $3 AND ro.path < $4)) ORDER BY v.path, a.start_on, a.id")
            .bind(last).bind(first).bind(path).bind(&hi).fetch_all(x).await?;
        Ok(rows.iter().map(|r| Ok((r.i64("id")?, r.string("cadre_name")?, r.i64("village_id")?, r.string("village_name")?,
            r.string("village_path")?, r.string("sending_unit")?, r.i64("org_id")?))).collect::<DbResult<Vec<_>>>()?)
    })
}

/// The departments running rounds at `path` or below.
async fn departments_in(ctx: &Ctx, path: &str) -> AppResult<Vec<(i64, String, String)>> {
    let hi = path_upper(path);
    on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT DISTINCT o.id, o.name, o.path FROM fs_rounds r JOIN orgs o ON o.id = r.org_id WHERE o.path >= $1 AND o.path < $2 ORDER BY o.path")
            .bind(path).bind(&hi).fetch_all(x).await?;
        Ok(rows.iter().map(|r| Ok((r.i64("id")?, r.string("name")?, r.string("path")?))).collect::<DbResult<Vec<_>>>()?)
    })
}

/// The month's sheet of every posting in `p`'s scope (the township's villages, the county's
/// rounds).
pub async fn month_sheet(ctx: &Ctx, p: &Principal, month: i64) -> AppResult<MonthSheet> {
    p.authorize(Perm::CadreRead, None)?;
    let first = NaiveDate::from_ymd_opt((month / 100) as i32, (month % 100) as u32, 1)
        .ok_or_else(|| AppError::field("month", "月份格式应为YYYY-MM"))?;
    if first > ctx.clock.today() {
        return Err(AppError::field("month", "不能查看尚未开始的月份"));
    }
    let (_, last) = super::month_bounds(first);
    let lines = postings_in(ctx, &p.org_path, first, last).await?;
    let areas = areas(ctx, &p.org_path).await?;
    let villages: Vec<i64> = lines.iter().map(|l| l.2).collect();
    let got = scores_of(ctx, &villages, &[month]).await?;
    let towns = store::townships(ctx, lines.iter().map(|l| l.4.as_str())).await?;
    // the month's closes, read once: the departments' own and, for each row, any above it
    let closes = closes_of(ctx, &[month]).await?;
    let closed_by = closes.get(&month).cloned().unwrap_or_default();
    let departments = departments_in(ctx, &p.org_path)
        .await?
        .into_iter()
        .map(|(id, name, _)| Department {
            org_id: id,
            name,
            closed: closed_by.contains(&id),
        })
        .collect();
    let rows: Vec<MonthRow> = lines
        .into_iter()
        .map(|(id, cadre, village, vname, vpath, unit, _)| MonthRow {
            assignment_id: id,
            cadre_name: cadre,
            village_name: vname,
            township_name: towns.get(&vpath).cloned(),
            sending_unit: unit,
            score: month_score(
                &areas,
                month,
                got.get(&(village, month)),
                frozen(&closes, &vpath, month),
            ),
        })
        .collect();
    Ok(MonthSheet {
        month: month_label(month),
        scored: rows.iter().filter(|r| r.score.scored).count(),
        areas,
        rows,
        departments,
    })
}

/// The department closes a month of its first secretaries' scores (一月一评分): the points
/// engine's close of scope `first_secretaries`, which freezes every village below it. Only the
/// department itself, and only once every first secretary on duty below it that month is scored.
pub async fn close(
    ctx: &Ctx,
    p: &Principal,
    org_id: i64,
    month: &str,
) -> AppResult<points::store::Close> {
    let org = department(ctx, p, org_id).await?;
    let m = points::parse_month(month)
        .ok_or_else(|| AppError::field("month", "月份格式应为YYYY-MM"))?;
    if m < month_key_of_first_round(ctx, org.id).await? {
        return Err(AppError::field(
            "month",
            format!("{}早于本部门第一书记选派", month_label(m)),
        ));
    }
    let first = NaiveDate::from_ymd_opt((m / 100) as i32, (m % 100) as u32, 1)
        .ok_or_else(|| AppError::field("month", "月份格式应为YYYY-MM"))?;
    let today = ctx.clock.today();
    let (_, last) = super::month_bounds(first);
    // every first secretary scored first — while the month can still be scored (a month past
    // the rules' back-dating can no longer be, and closes with its gaps shown as such)
    let (rules, _) = points::store::rules_for(ctx, &org.path).await?;
    if first <= today && (today - last).num_days() <= rules.backdate_days {
        let lines: Vec<Line> = postings_in(ctx, &org.path, first, last)
            .await?
            .into_iter()
            .filter(|l| crate::org::in_subtree(&org.path, &l.4))
            .collect();
        let villages: Vec<i64> = lines.iter().map(|l| l.2).collect();
        let got = scores_of(ctx, &villages, &[m]).await?;
        let owed: Vec<&str> = lines
            .iter()
            .filter(|l| !got.contains_key(&(l.2, m)))
            .map(|l| l.1.as_str())
            .collect();
        if let Some(first) = owed.first() {
            return Err(AppError::refused(
                "fs.unscored",
                format!(
                    "{}还有{}名第一书记未评分（{first}等），评完后才能关账",
                    month_label(m),
                    owed.len()
                ),
            ));
        }
    }
    points::store::close_first_secretaries(ctx, p, org.id, month).await
}

/// The month (YYYYMM) the department's first round was created in.
async fn month_key_of_first_round(ctx: &Ctx, org: i64) -> AppResult<i64> {
    let year = on_db!(&ctx.db, x => {
        sqlx::query("SELECT CAST(MIN(year) AS BIGINT) AS y FROM fs_rounds WHERE org_id = $1")
            .bind(org).fetch_one(x).await?.opt_i64("y")?
    });
    // a round names the year it serves; its postings may start the year before
    Ok(year.map_or(0, |y| (y - 1) * 100 + 1))
}

/// The department `org_id` acting through `p`: in scope (else as absent), the department
/// itself (not one above it), running a round.
async fn department(ctx: &Ctx, p: &Principal, org_id: i64) -> AppResult<Org> {
    let org = crate::org::store::get(&ctx.db, org_id)
        .await
        .map_err(|_| AppError::NotFound("组织"))?;
    if !p.in_scope(&org.path) {
        return Err(AppError::NotFound("组织"));
    }
    p.authorize(Perm::CadreWrite, Some(&org.path))?;
    p.authorize(Perm::PointsWrite, Some(&org.path))?;
    if p.org_path != org.path {
        return Err(AppError::Forbidden(
            "由组织第一书记选派的组织部门本级办理".into(),
        ));
    }
    if !departments_in(ctx, &org.path)
        .await?
        .iter()
        .any(|d| d.0 == org.id)
    {
        return Err(AppError::refused(
            "fs.not_department",
            format!("{}没有组织第一书记选派", org.name),
        ));
    }
    Ok(org)
}

/// `2026-Q3` (and only that spelling, whatever was typed: `2026-Q03`, ` 2026-Q3 `) with its
/// first and last month.
pub fn quarter_of_text(q: &str) -> AppResult<(String, i64, i64)> {
    let (from, to) = points::parse_quarter(q)
        .filter(|_| q.trim().len() <= 10)
        .ok_or_else(|| AppError::field("quarter", "季度格式应为YYYY-Qn"))?;
    Ok((
        format!("{}-Q{}", from / 100, (from % 100 + 2) / 3),
        from,
        to,
    ))
}

// ---- 一季一排名 ----

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[schema(as = FsRankRow)]
pub struct RankRow {
    /// None when no month of the quarter is scored.
    pub rank: Option<i64>,
    pub assignment_id: Option<i64>,
    pub cadre_name: String,
    pub village_name: String,
    pub township_name: Option<String>,
    pub sending_unit: String,
    /// Per month of the quarter; none where the month is not scored (not yet on duty, say).
    pub months: Vec<Option<i64>>,
    pub total: i64,
    pub months_scored: i64,
    /// The average of the months scored, rounded half up: what the ranking ranks, so that a
    /// first secretary posted in the quarter's second month stands with the others.
    pub average: i64,
}

/// A quarter's line: the months' scores, their total, how many, the average rounded half up.
pub fn rank_line(months: &[Option<i64>]) -> (i64, i64, i64) {
    let total: i64 = months.iter().flatten().sum();
    let n = months.iter().flatten().count() as i64;
    let average = if n > 0 { (2 * total + n) / (2 * n) } else { 0 };
    (total, n, average)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = FsRanking)]
pub struct Ranking {
    pub org_id: i64,
    pub org_name: String,
    /// YYYY-Qn
    pub quarter: String,
    pub months: Vec<String>,
    pub rows: Vec<RankRow>,
    /// Months of the quarter the department has closed.
    pub closed: Vec<String>,
    pub published_at: Option<DateTime<Utc>>,
    /// SM3 of the published rows.
    pub digest: Option<String>,
}

/// The quarter's ranking as it stands: every posting on duty in the quarter, by its villages'
/// scores summed over the months (ties share a rank).
async fn live(ctx: &Ctx, org: &Org, quarter: &str) -> AppResult<Ranking> {
    let (quarter, from, to) = quarter_of_text(quarter)?;
    // a report over the subtree: bounded and shared like the other heavy reads
    let key = format!("fs.ranking|{}|{quarter}", org.id);
    ctx.heavy
        .run_cloned(&key, || live_of(ctx, org, quarter.clone(), from, to))
        .await
}

/// [`live`] computed.
async fn live_of(ctx: &Ctx, org: &Org, quarter: String, from: i64, to: i64) -> AppResult<Ranking> {
    let months = points::months(from, to);
    let first = NaiveDate::from_ymd_opt((from / 100) as i32, (from % 100) as u32, 1)
        .ok_or_else(|| AppError::field("quarter", "季度格式应为YYYY-Qn"))?;
    let (_, last) = super::month_bounds(
        NaiveDate::from_ymd_opt((to / 100) as i32, (to % 100) as u32, 1).unwrap_or(first),
    );
    // the villages below the department and the postings of its rounds: who was on duty in
    // each village (the latest posting of the quarter names the line)
    let lines: Vec<Line> = postings_in(ctx, &org.path, first, last)
        .await?
        .into_iter()
        .filter(|l| l.6 == org.id || crate::org::in_subtree(&org.path, &l.4))
        .collect();
    let villages: Vec<i64> = lines.iter().map(|l| l.2).collect();
    let got = scores_of(ctx, &villages, &months).await?;
    let towns = store::townships(ctx, lines.iter().map(|l| l.4.as_str())).await?;
    let mut by_village: BTreeMap<i64, RankRow> = BTreeMap::new();
    for (id, cadre, village, vname, vpath, unit, _) in lines {
        let per: Vec<Option<i64>> = months
            .iter()
            .map(|m| got.get(&(village, *m)).map(|g| g.values().sum()))
            .collect();
        let (total, months_scored, average) = rank_line(&per);
        by_village.insert(
            village,
            RankRow {
                rank: None,
                assignment_id: Some(id),
                cadre_name: cadre,
                village_name: vname,
                township_name: towns.get(&vpath).cloned(),
                sending_unit: unit,
                months: per,
                total,
                months_scored,
                average,
            },
        );
    }
    let scored: Vec<(i64, i64)> = by_village
        .iter()
        .filter(|(_, r)| r.months_scored > 0)
        .map(|(v, r)| (*v, r.average))
        .collect();
    let mut rows: Vec<RankRow> = points::rank(&scored)
        .into_iter()
        .filter_map(|(v, _, rank)| {
            by_village.remove(&v).map(|mut r| {
                r.rank = Some(rank);
                r
            })
        })
        .collect();
    rows.extend(by_village.into_values());
    let closed = closed_months(ctx, org.id, &months).await?;
    Ok(Ranking {
        org_id: org.id,
        org_name: org.name.clone(),
        quarter,
        months: months.iter().map(|m| month_label(*m)).collect(),
        rows,
        closed: months
            .iter()
            .filter(|m| closed.contains(m))
            .map(|m| month_label(*m))
            .collect(),
        published_at: None,
        digest: None,
    })
}

/// The departments whose rankings `p` may read, nearest first: the one running `p`'s own
/// posting's round, those at or above `p`'s organisation, then those below it.
pub async fn departments_for(ctx: &Ctx, p: &Principal) -> AppResult<Vec<(i64, String)>> {
    let all: Vec<(i64, String, String)> = on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT DISTINCT o.id, o.name, o.path FROM fs_rounds r JOIN orgs o ON o.id = r.org_id ORDER BY o.path")
            .fetch_all(x).await?;
        rows.iter().map(|r| Ok((r.i64("id")?, r.string("name")?, r.string("path")?))).collect::<DbResult<Vec<_>>>()?
    });
    let own = store::of_account(ctx, p.account_id)
        .await?
        .map(|(a, _)| a.round_org_id);
    let mut out: Vec<(i64, String)> = Vec::new();
    if let Some(o) = own {
        out.extend(all.iter().filter(|d| d.0 == o).map(|d| (d.0, d.1.clone())));
    }
    if p.can(Perm::CadreRead) {
        let mut above: Vec<&(i64, String, String)> = all
            .iter()
            .filter(|d| crate::org::in_subtree(&d.2, &p.org_path))
            .collect();
        above.reverse();
        let below = all.iter().filter(|d| p.in_scope(&d.2) && d.2 != p.org_path);
        for d in above.into_iter().chain(below) {
            if !out.iter().any(|x| x.0 == d.0) {
                out.push((d.0, d.1.clone()));
            }
        }
    }
    Ok(out)
}

/// A quarter's ranking of the department `org_id`: as published, else — for the department
/// and those above it — as it stands.
pub async fn ranking(ctx: &Ctx, p: &Principal, org_id: i64, quarter: &str) -> AppResult<Ranking> {
    let org = crate::org::store::get(&ctx.db, org_id)
        .await
        .map_err(|_| AppError::NotFound("第一书记排名"))?;
    let readable = departments_for(ctx, p).await?;
    if !readable.iter().any(|d| d.0 == org.id) {
        return Err(AppError::NotFound("第一书记排名"));
    }
    let (quarter, _, _) = quarter_of_text(quarter)?;
    if let Some(r) = published(ctx, &org, &quarter).await? {
        return Ok(r);
    }
    if !(p.can(Perm::CadreRead) && p.in_scope(&org.path)) {
        return Err(AppError::refused(
            "fs.ranking_unpublished",
            format!("{quarter}的第一书记排名尚未发布"),
        ));
    }
    live(ctx, &org, &quarter).await
}

async fn published(ctx: &Ctx, org: &Org, quarter: &str) -> AppResult<Option<Ranking>> {
    let row = on_db!(&ctx.db, x => {
        match sqlx::query("SELECT rows_json, digest, published_at FROM fs_quarters WHERE org_id = $1 AND quarter = $2")
            .bind(org.id).bind(quarter).fetch_optional(x).await? {
            Some(r) => Some((r.string("rows_json")?, r.string("digest")?, r.ts("published_at")?)),
            None => None,
        }
    });
    let Some((json, digest, at)) = row else {
        return Ok(None);
    };
    let kept: Kept = serde_json::from_str(&json)
        .map_err(|e| AppError::Internal(format!("fs_quarters {}: {e}", org.id)))?;
    Ok(Some(Ranking {
        org_id: org.id,
        org_name: org.name.clone(),
        quarter: quarter.to_string(),
        months: kept.months,
        rows: kept.rows,
        closed: kept.closed,
        published_at: Some(at),
        digest: Some(digest),
    }))
}

/// What a published ranking keeps.
#[derive(Serialize, Deserialize)]
struct Kept {
    months: Vec<String>,
    closed: Vec<String>,
    rows: Vec<RankRow>,
}

/// The text a published ranking is kept as, and its SM3 digest.
pub fn kept(months: &[String], closed: &[String], rows: &[RankRow]) -> AppResult<(String, String)> {
    kept_text(&Kept {
        months: months.to_vec(),
        closed: closed.to_vec(),
        rows: rows.to_vec(),
    })
}

/// A published or confirmed result as kept: its JSON text and the SM3 digest of that text.
fn kept_text(v: &impl Serialize) -> AppResult<(String, String)> {
    let json = serde_json::to_string(v).map_err(|e| AppError::Internal(format!("fs kept: {e}")))?;
    let digest = crate::crypto::sm3_hex(json.as_bytes());
    Ok((json, digest))
}

/// The last quarter that has ended by `today`, as YYYY-Qn.
pub fn last_full_quarter(today: NaiveDate) -> String {
    let first = super::month_bounds(today).0;
    let back = (first.month() - 1) % 3 + 1;
    points::quarter_of(
        first
            .checked_sub_months(chrono::Months::new(back))
            .unwrap_or(first),
    )
}

/// The quarters a department has published, newest first.
pub async fn published_quarters(ctx: &Ctx, org_id: i64) -> AppResult<Vec<String>> {
    on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT quarter FROM fs_quarters WHERE org_id = $1 ORDER BY quarter DESC")
            .bind(org_id).fetch_all(x).await?;
        Ok(rows.iter().map(|r| r.string("quarter")).collect::<DbResult<Vec<_>>>()?)
    })
}

/// 一季一排名: the department publishes a quarter's ranking once all its months are closed;
/// it is kept as published.
pub async fn publish(ctx: &Ctx, p: &Principal, org_id: i64, quarter: &str) -> AppResult<Ranking> {
    let org = department(ctx, p, org_id).await?;
    let (quarter, from, to) = quarter_of_text(quarter)?;
    let quarter = quarter.as_str();
    let months = points::months(from, to);
    let closed = closed_months(ctx, org.id, &months).await?;
    let open: Vec<String> = months
        .iter()
        .filter(|m| !closed.contains(m))
        .map(|m| month_label(*m))
        .collect();
    if !open.is_empty() {
        return Err(AppError::refused(
            "fs.months_open",
            format!("{}尚未关账，全季度关账后才能发布排名", open.join("、")),
        ));
    }
    let r = live(ctx, &org, quarter).await?;
    let (json, digest) = kept(&r.months, &r.closed, &r.rows)?;
    let now = ctx.clock.now();
    let mut tx = ctx.db.begin().await?;
    let inserted = crate::on_tx!(&mut tx, x => {
        sqlx::query("INSERT INTO fs_quarters (org_id, quarter, rows_json, digest, published_by, published_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (org_id, quarter) DO NOTHING")
            .bind(org.id).bind(quarter).bind(&json).bind(&digest).bind(p.account_id).bind(now)
            .execute(&mut *x).await?.rows_affected()
    });
    if inserted == 0 {
        return Err(AppError::Conflict(format!("{quarter}的第一书记排名已发布")));
    }
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "fs.ranking_publish",
            object_type: "fs_quarter",
            object_id: format!("{}:{quarter}", org.id),
            before: serde_json::Value::Null,
            after: serde_json::json!({"quarter": quarter, "ranked": r.rows.len(), "digest": digest}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Ranking {
        published_at: Some(now),
        digest: Some(digest),
        ..r
    })
}

/// What waits on `p` for 工作台: (title, link, how many). A township's first secretaries
/// not yet scored for last month (while the month is open); a department's last month not
/// yet closed, and its last quarter closed but not published.
pub async fn todos(ctx: &Ctx, p: &Principal) -> AppResult<Vec<(String, String, i64)>> {
    let mut out = Vec::new();
    let today = ctx.clock.today();
    let last = points::month_key(super::month_bounds(today).0 - chrono::Duration::days(1));
    let org = crate::org::store::get(&ctx.db, p.org_id).await?;
    if org.level == crate::org::OrgLevel::Township
        && p.can(Perm::FsDaily)
        && p.can(Perm::PointsWrite)
    {
        let sheet = month_sheet(ctx, p, last).await?;
        let owed = sheet
            .rows
            .iter()
            .filter(|r| !r.score.scored && !r.score.closed)
            .count();
        if owed > 0 {
            out.push((
                format!("{}第一书记月度评分：{owed}人未评分", month_label(last)),
                format!("/first-secretaries/scores?month={}", month_label(last)),
                owed as i64,
            ));
        }
    }
    let runs = departments_in(ctx, &p.org_path)
        .await?
        .iter()
        .any(|d| d.0 == p.org_id);
    if runs && p.can(Perm::CadreWrite) && p.can(Perm::PointsWrite) {
        if closed_months(ctx, p.org_id, &[last]).await?.is_empty() {
            out.push((
                format!("{}第一书记月度评分待关账", month_label(last)),
                format!("/first-secretaries/scores?month={}", month_label(last)),
                1,
            ));
        }
        let quarter = last_full_quarter(today);
        if let Some((from, to)) = points::parse_quarter(&quarter) {
            let months = points::months(from, to);
            let closed = closed_months(ctx, p.org_id, &months).await?;
            if closed.len() == months.len()
                && !published_quarters(ctx, p.org_id).await?.contains(&quarter)
            {
                out.push((
                    format!("{quarter}第一书记季度排名待发布"),
                    format!(
                        "/first-secretaries/rankings?org_id={}&quarter={quarter}",
                        p.org_id
                    ),
                    1,
                ));
            }
        }
    }
    Ok(out)
}

/// A first secretary's lines in the published rankings of their round's department, newest
/// first: (quarter, rank, of how many, total).
pub async fn own_ranks(
    ctx: &Ctx,
    a: &Assignment,
) -> AppResult<Vec<(String, Option<i64>, usize, i64)>> {
    let org = crate::org::store::get(&ctx.db, a.round_org_id).await?;
    let mut out = Vec::new();
    for q in published_quarters(ctx, org.id).await?.into_iter().take(8) {
        if let Some(r) = published(ctx, &org, &q).await? {
            if let Some(row) = r.rows.iter().find(|x| x.assignment_id == Some(a.id)) {
                out.push((q, row.rank, r.rows.len(), row.average));
            }
        }
    }
    Ok(out)
}

// ---- 一年一奖惩 (双考核) ----

/// The department's 履职考核 of a posting for a year, against its pledge.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = FsAssessment)]
pub struct Assessment {
    pub assignment_id: i64,
    pub year: i64,
    /// 0–100
    pub score: i64,
    pub note: String,
    pub assessed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
#[schema(as = FsNewAssessment)]
pub struct NewAssessment {
    pub year: Option<i64>,
    /// 0–100
    pub score: Option<i64>,
    /// What the assessment found against the pledge.
    pub note: String,
}

pub async fn assessments(ctx: &Ctx, assignment: i64) -> AppResult<Vec<Assessment>> {
    on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT assignment_id, year, score, note, assessed_at FROM fs_assessments WHERE assignment_id = $1 ORDER BY year DESC")
            .bind(assignment).fetch_all(x).await?;
        Ok(rows.iter().map(|r| Ok(Assessment {
            assignment_id: r.i64("assignment_id")?,
            year: r.i64("year")?,
            score: r.i64("score")?,
            note: r.string("note")?,
            assessed_at: r.ts("assessed_at")?,
        })).collect::<DbResult<Vec<_>>>()?)
    })
}

async fn year_confirmed(ctx: &Ctx, org: i64, year: i64) -> AppResult<bool> {
    Ok(on_db!(&ctx.db, x => {
        sqlx::query("SELECT COUNT(*) AS n FROM fs_years WHERE org_id = $1 AND year = $2")
            .bind(org).bind(year).fetch_one(x).await?.i64("n")? > 0
    }))
}

/// The years of a posting, newest first (those it was on duty in, up to this one).
pub fn posting_years(a: &Assignment, today: NaiveDate) -> Vec<i64> {
    let Some(start) = a.start_on else {
        return Vec::new();
    };
    let end = a.ended_on.or(a.ends_on).unwrap_or(today).min(today);
    (start.year() as i64..=end.year() as i64).rev().collect()
}

/// The department running the round records its yearly 履职考核 of a posting (0–100, with what
/// it found against the pledge); changed freely until the department confirms the year.
pub async fn assess(
    ctx: &Ctx,
    p: &Principal,
    id: i64,
    input: &NewAssessment,
) -> AppResult<Assessment> {
    let (a, paths) = store::get(ctx, p, id).await?;
    store::decide_auth(p, &paths)?;
    let today = ctx.clock.today();
    let note = crate::work_log::clean_text(&input.note);
    let mut errors = Vec::new();
    let year = input.year.filter(|y| posting_years(&a, today).contains(y));
    if year.is_none() {
        errors.push(crate::error::FieldError::new(
            "year",
            "请选择驻村期内已开始的年度",
        ));
    }
    let score = input.score.filter(|s| (0..=100).contains(s));
    if score.is_none() {
        errors.push(crate::error::FieldError::new(
            "score",
            "履职考核得分应在0至100分之间",
        ));
    }
    if note.is_empty() || note.chars().count() > 500 {
        errors.push(crate::error::FieldError::new(
            "note",
            "请写明对照履职承诺的考核情况（500字以内）",
        ));
    }
    let (Some(year), Some(score)) = (year, score) else {
        return Err(AppError::Validation(errors));
    };
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    if year_confirmed(ctx, a.round_org_id, year).await? {
        return Err(AppError::refused(
            "fs.year_confirmed",
            format!("{year}年度考核结果已确认，不能再修改"),
        ));
    }
    let before = assessments(ctx, id)
        .await?
        .into_iter()
        .find(|x| x.year == year);
    let now = ctx.clock.now();
    let mut tx = ctx.db.begin().await?;
    crate::on_tx!(&mut tx, x => {
        sqlx::query("INSERT INTO fs_assessments (assignment_id, year, score, note, assessed_by, assessed_at) VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (assignment_id, year) DO UPDATE SET score = excluded.score, note = excluded.note, assessed_by = excluded.assessed_by, assessed_at = excluded.assessed_at")
            .bind(id).bind(year).bind(score).bind(&note).bind(p.account_id).bind(now).execute(&mut *x).await?;
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "fs.assess",
            object_type: "fs_assignment",
            object_id: id.to_string(),
            before: before
                .map(|b| serde_json::json!({"year": b.year, "score": b.score, "note": b.note}))
                .unwrap_or(serde_json::Value::Null),
            after: serde_json::json!({"year": year, "score": score, "note": note}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Assessment {
        assignment_id: id,
        year,
        score,
        note,
        assessed_at: now,
    })
}

/// A posting's lines in its department's confirmed years (一年一奖惩), newest first.
pub async fn confirmed_lines(ctx: &Ctx, a: &Assignment) -> AppResult<Vec<(i64, YearRow)>> {
    let rows = on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT year, rows_json FROM fs_years WHERE org_id = $1 ORDER BY year DESC LIMIT 10")
            .bind(a.round_org_id).fetch_all(x).await?;
        rows.iter().map(|r| Ok((r.i64("year")?, r.string("rows_json")?))).collect::<DbResult<Vec<_>>>()?
    });
    Ok(rows
        .into_iter()
        .filter_map(|(y, json)| {
            serde_json::from_str::<Vec<YearRow>>(&json)
                .ok()?
                .into_iter()
                .find(|r| r.assignment_id == a.id)
                .map(|r| (y, r))
        })
        .collect())
}

/// One first secretary's line of a department's year.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[schema(as = FsYearRow)]
pub struct YearRow {
    pub assignment_id: i64,
    pub cadre_name: String,
    pub village_name: String,
    pub township_name: Option<String>,
    pub sending_unit: String,
    pub months_scored: i64,
    /// The months' scores as a percentage of the sheet's full marks (日常考核).
    pub monthly_percent: Option<i64>,
    /// The department's 履职考核 (0–100), when recorded.
    pub pledge: Option<i64>,
    /// 双考核: the two combined (0–100), when the 履职考核 is recorded.
    pub result: Option<i64>,
    pub rank: Option<i64>,
    /// excellent, competent, basic, incompetent
    pub grade: Option<String>,
    pub grade_label: Option<String>,
    /// Why the grade is below its band (the 优秀 share), if it is.
    pub note: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = FsYear)]
pub struct Year {
    pub org_id: i64,
    pub org_name: String,
    pub year: i64,
    pub rows: Vec<YearRow>,
    /// First secretaries without the department's 履职考核 yet.
    pub missing: usize,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub digest: Option<String>,
}

/// The year of a department's first secretaries as it stands: each posting of its rounds on
/// duty in the year, with the year's monthly scores, the 履职考核 and, for those assessed, the
/// combined result, rank and grade.
async fn year_live(ctx: &Ctx, org: &Org, year: i64) -> AppResult<Year> {
    let first = NaiveDate::from_ymd_opt(year as i32, 1, 1)
        .ok_or_else(|| AppError::field("year", "年份不正确"))?;
    let last = NaiveDate::from_ymd_opt(year as i32, 12, 31).unwrap_or(first);
    let today = ctx.clock.today();
    let lines: Vec<Line> = postings_in(ctx, &org.path, first, last)
        .await?
        .into_iter()
        .filter(|l| l.6 == org.id)
        .collect();
    let areas = areas(ctx, &org.path).await?;
    let full: i64 = areas.iter().map(|a| a.full).sum();
    let rules = store::rules_at(ctx, &org.path).await?;
    let months = points::months(year * 100 + 1, year * 100 + 12);
    let villages: Vec<i64> = lines.iter().map(|l| l.2).collect();
    let got = scores_of(ctx, &villages, &months).await?;
    let towns = store::townships(ctx, lines.iter().map(|l| l.4.as_str())).await?;
    let pledges: HashMap<i64, i64> = on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT s.assignment_id, s.score FROM fs_assessments s JOIN fs_assignments a ON a.id = s.assignment_id JOIN fs_rounds r ON r.id = a.round_id \
                                WHERE r.org_id = $1 AND s.year = $2")
            .bind(org.id).bind(year).fetch_all(x).await?;
        rows.iter().map(|r| Ok((r.i64("assignment_id")?, r.i64("score")?))).collect::<DbResult<HashMap<_, _>>>()?
    });
    // a posting's months: the village's scores in the months it was on duty
    let spans: HashMap<i64, (Option<NaiveDate>, Option<NaiveDate>)> = on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT a.id, a.start_on, a.ends_on, a.ended_on FROM fs_assignments a JOIN fs_rounds r ON r.id = a.round_id WHERE r.org_id = $1")
            .bind(org.id).fetch_all(x).await?;
        rows.iter().map(|r| Ok((r.i64("id")?, (r.opt_date("start_on")?, r.opt_date("ended_on")?.or(r.opt_date("ends_on")?)))))
            .collect::<DbResult<HashMap<_, _>>>()?
    });
    let mut rows = Vec::with_capacity(lines.len());
    let mut results = Vec::new();
    for (id, cadre, village, vname, vpath, unit, _) in lines {
        let (s, e) = spans.get(&id).copied().unwrap_or((None, None));
        let on: Vec<i64> = months_between(s, e, today.min(last))
            .into_iter()
            .filter(|m| m / 100 == year)
            .collect();
        let (mut n, mut sum) = (0i64, 0i64);
        for m in &on {
            if let Some(g) = got.get(&(village, *m)) {
                n += 1;
                sum += g.values().sum::<i64>();
            }
        }
        let monthly_percent = (n > 0 && full > 0).then(|| (sum * 200 + n * full) / (2 * n * full));
        let pledge = pledges.get(&id).copied();
        let result = pledge.map(|pl| super::annual_result(sum, n * full, pl, &rules));
        if let Some(r) = result {
            results.push((id, r));
        }
        rows.push(YearRow {
            assignment_id: id,
            cadre_name: cadre,
            village_name: vname,
            township_name: towns.get(&vpath).cloned(),
            sending_unit: unit,
            months_scored: n,
            monthly_percent,
            pledge,
            result,
            rank: None,
            grade: None,
            grade_label: None,
            note: String::new(),
        });
    }
    let graded: HashMap<i64, (i64, &str, String)> = super::annual_grades(&results, &rules)
        .into_iter()
        .map(|(id, _, rank, g, note)| (id, (rank, g, note)))
        .collect();
    for r in rows.iter_mut() {
        if let Some((rank, g, note)) = graded.get(&r.assignment_id) {
            r.rank = Some(*rank);
            r.grade = Some(g.to_string());
            r.grade_label = Some(super::label(&super::ANNUAL_GRADES, g).to_string());
            r.note = note.clone();
        }
    }
    rows.sort_by_key(|r| (r.rank.unwrap_or(i64::MAX), r.assignment_id));
    Ok(Year {
        org_id: org.id,
        org_name: org.name.clone(),
        year,
        missing: rows.iter().filter(|r| r.pledge.is_none()).count(),
        rows,
        confirmed_at: None,
        digest: None,
    })
}

/// A department's year: as confirmed, else — for the department and those above — as it stands.
pub async fn year(ctx: &Ctx, p: &Principal, org_id: i64, year: i64) -> AppResult<Year> {
    let org = crate::org::store::get(&ctx.db, org_id)
        .await
        .map_err(|_| AppError::NotFound("第一书记年度考核"))?;
    if !departments_for(ctx, p).await?.iter().any(|d| d.0 == org.id) {
        return Err(AppError::NotFound("第一书记年度考核"));
    }
    if !(2000..=2100).contains(&year) {
        return Err(AppError::field("year", "年份不正确"));
    }
    let kept = on_db!(&ctx.db, x => {
        match sqlx::query("SELECT rows_json, digest, confirmed_at FROM fs_years WHERE org_id = $1 AND year = $2")
            .bind(org.id).bind(year).fetch_optional(x).await? {
            Some(r) => Some((r.string("rows_json")?, r.string("digest")?, r.ts("confirmed_at")?)),
            None => None,
        }
    });
    if let Some((json, digest, at)) = kept {
        let rows: Vec<YearRow> = serde_json::from_str(&json)
            .map_err(|e| AppError::Internal(format!("fs_years {}: {e}", org.id)))?;
        return Ok(Year {
            org_id: org.id,
            org_name: org.name.clone(),
            year,
            missing: 0,
            rows,
            confirmed_at: Some(at),
            digest: Some(digest),
        });
    }
    if !(p.can(Perm::CadreRead) && p.in_scope(&org.path)) {
        return Err(AppError::refused(
            "fs.year_unconfirmed",
            format!("{year}年度第一书记考核结果尚未确认"),
        ));
    }
    year_live(ctx, &org, year).await
}

/// The text a confirmed year is kept as, and its SM3 digest.
pub fn kept_year(rows: &[YearRow]) -> AppResult<(String, String)> {
    kept_text(&rows)
}

/// 一年一奖惩: the department confirms a year once it has ended and every first secretary of
/// its rounds has their 履职考核. The result is kept as confirmed; 优秀 goes on the red side of
/// the ledger and 不称职 on the black, in the same transaction.
pub async fn confirm_year(ctx: &Ctx, p: &Principal, org_id: i64, year: i64) -> AppResult<Year> {
    let org = department(ctx, p, org_id).await?;
    if !(2000..=2100).contains(&year) {
        return Err(AppError::field("year", "年份不正确"));
    }
    if ctx.clock.today().year() as i64 <= year {
        return Err(AppError::refused(
            "fs.year_open",
            format!("{year}年度尚未结束，年度结束后才能确认考核结果"),
        ));
    }
    let y = year_live(ctx, &org, year).await?;
    if y.rows.is_empty() {
        return Err(AppError::refused(
            "fs.year_empty",
            format!("{year}年度没有在岗的第一书记"),
        ));
    }
    if y.missing > 0 {
        return Err(AppError::refused(
            "fs.assessments_missing",
            format!(
                "还有{}名第一书记没有{year}年度履职考核得分，全部考核后才能确认",
                y.missing
            ),
        ));
    }
    let (json, digest) = kept_year(&y.rows)?;
    let now = ctx.clock.now();
    let last = NaiveDate::from_ymd_opt(year as i32, 12, 31).unwrap_or_default();
    let ends: HashMap<i64, (i64, Option<NaiveDate>)> = on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT a.id, a.cadre_id, a.ended_on FROM fs_assignments a JOIN fs_rounds r ON r.id = a.round_id WHERE r.org_id = $1")
            .bind(org.id).fetch_all(x).await?;
        rows.iter().map(|r| Ok((r.i64("id")?, (r.i64("cadre_id")?, r.opt_date("ended_on")?)))).collect::<DbResult<HashMap<_, _>>>()?
    });
    let mut tx = ctx.db.begin().await?;
    let inserted = crate::on_tx!(&mut tx, x => {
        sqlx::query("INSERT INTO fs_years (org_id, year, rows_json, digest, confirmed_by, confirmed_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (org_id, year) DO NOTHING")
            .bind(org.id).bind(year).bind(&json).bind(&digest).bind(p.account_id).bind(now)
            .execute(&mut *x).await?.rows_affected()
    });
    if inserted == 0 {
        return Err(AppError::Conflict(format!("{year}年度考核结果已确认")));
    }
    for r in &y.rows {
        let (color, category, what) = match r.grade.as_deref() {
            Some("excellent") => ("red", "commendation", "优秀"),
            Some("incompetent") => ("black", "penalty", "不称职"),
            _ => continue,
        };
        let Some((cadre, ended)) = ends.get(&r.assignment_id).copied() else {
            continue;
        };
        let note = format!(
            "{year}年度第一书记考核{what}（综合得分{}）",
            r.result.unwrap_or(0)
        );
        store::insert_ledger(
            &mut tx,
            p,
            &store::LedgerRow {
                assignment: r.assignment_id,
                cadre,
                color,
                category,
                on: ended.map_or(last, |e| e.min(last)),
                note: &note,
                source: "annual",
                source_id: Some(year),
                reverses: None,
            },
        )
        .await?;
    }
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "fs.year_confirm",
            object_type: "fs_year",
            object_id: format!("{}:{year}", org.id),
            before: serde_json::Value::Null,
            after: serde_json::json!({"year": year, "ranked": y.rows.len(), "digest": digest}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Year {
        confirmed_at: Some(now),
        digest: Some(digest),
        ..y
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: Option<&str>) -> Option<NaiveDate> {
        s.and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
    }

    #[test]
    fn the_last_full_quarter_is_the_one_before_todays() {
        for (today, want) in [
            ("2027-01-01", "2026-Q4"),
            ("2026-03-31", "2025-Q4"),
            ("2026-04-01", "2026-Q1"),
            ("2026-09-30", "2026-Q2"),
            ("2026-12-07", "2026-Q3"),
        ] {
            let d = NaiveDate::parse_from_str(today, "%Y-%m-%d").expect("date");
            assert_eq!(last_full_quarter(d), want, "{today}");
        }
    }

    #[test]
    fn a_postings_months_run_from_its_start_to_its_end_or_today_newest_first() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 7).expect("date");
        type Case<'a> = (Option<&'a str>, Option<&'a str>, Option<&'a str>, &'a [i64]);
        let cases: &[Case] = &[
            (None, None, None, &[]),
            (
                Some("2026-10-31"),
                Some("2028-10-30"),
                None,
                &[202612, 202611, 202610],
            ),
            (Some("2026-12-07"), Some("2028-12-06"), None, &[202612]),
            (Some("2026-12-08"), Some("2028-12-07"), None, &[]),
            (
                Some("2026-09-01"),
                Some("2028-08-31"),
                Some("2026-10-15"),
                &[202610, 202609],
            ),
        ];
        for (s, e, x, want) in cases {
            assert_eq!(
                months_between(d(*s), d(*x).or(d(*e)), today),
                want.to_vec(),
                "{s:?}"
            );
        }
        let long = months_between(d(Some("2024-01-01")), d(Some("2027-01-01")), today);
        assert_eq!(long.len(), 12);
    }
}
