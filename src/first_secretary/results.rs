//! 实绩: a first secretary's monthly report — the month's results counters (typed by the
//! catalogue of the rule set: roads, lamps, jobs, collective income …), the projects under
//! way and the problems met — filed on a phone, owed monthly (a cadence obligation due on the
//! rule's day of the next month), summed up the tree for the departments
//! (对下派干部工作实绩报告及时汇总分析, seed 002), and shown on the first secretary's public
//! page (亮身份、亮标准、亮承诺, F26) without personal data.

use super::store::{self, Assignment, Paths};
use super::{format_amount, parse_amount, Counter, FsRules};
use crate::audit::{self, NewEntry};
use crate::auth::{Perm, Principal};
use crate::db::{path_upper, DbResult, DbRow};
use crate::error::{AppError, AppResult, Checks};
use crate::obligation::{NewObligation, Period};
use crate::points::{month_key, month_label};
use crate::{on_db, on_tx, Ctx};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// The obligation kind of the monthly report (subject: the posting).
pub const OBLIGATION: &str = "fs.report";
/// The obligations' subject type for a posting.
pub const SUBJECT: &str = "fs_assignment";

/// Longest projects and problems texts.
pub const MAX_REPORT_TEXT: usize = 1000;

/// A monthly report as filed.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct NewReport {
    /// The month reported, `YYYY-MM`.
    pub month: String,
    /// Counter code → the value as typed (`244.23`); an empty or absent value is none.
    pub counters: BTreeMap<String, String>,
    /// Projects under way (致富项目、基础工程 …) and how far they are.
    pub projects: String,
    /// Problems met and help asked for.
    pub problems: String,
    /// The version read, when filing again (refused if someone filed in between).
    pub version: Option<i64>,
}

/// One counter's value in a report.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CounterValue {
    pub key: String,
    pub category: String,
    pub name: String,
    pub unit: String,
    /// As people read it (`244.23`).
    pub value: String,
}

/// A monthly 实绩 report.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = FsReport)]
pub struct Report {
    pub id: i64,
    pub assignment_id: i64,
    /// `YYYY-MM`
    pub month: String,
    /// The counters filled in (not zero), in the catalogue's order; counters the rules no
    /// longer name come last under their code.
    pub counters: Vec<CounterValue>,
    pub projects: String,
    pub problems: String,
    pub filed_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
    /// done (on time) or late, from the month's obligation.
    pub status: String,
    /// The month's scores are closed: the report no longer changes.
    pub frozen: bool,
}

fn value_of(c: &Counter, raw: i64, decimals: i64) -> CounterValue {
    CounterValue {
        key: c.key.clone(),
        category: c.category.clone(),
        name: c.name.clone(),
        unit: c.unit.clone(),
        value: format_amount(raw, decimals),
    }
}

/// The counters of a report in the catalogue's order (code → (value, decimals kept)).
fn counter_values(catalogue: &[Counter], got: &BTreeMap<String, (i64, i64)>) -> Vec<CounterValue> {
    let mut out: Vec<CounterValue> = catalogue
        .iter()
        .filter_map(|c| got.get(&c.key).map(|(v, d)| value_of(c, *v, *d)))
        .collect();
    for (k, (v, d)) in got {
        if !catalogue.iter().any(|c| &c.key == k) {
            out.push(CounterValue {
                key: k.clone(),
                category: String::new(),
                name: k.clone(),
                unit: String::new(),
                value: format_amount(*v, *d),
            });
        }
    }
    out
}

/// The month `YYYY-MM` (exactly so) as its first day.
pub fn month_start(text: &str) -> Option<NaiveDate> {
    let t = text.trim();
    let shaped = t.len() == 7
        && t.char_indices()
            .all(|(i, c)| if i == 4 { c == '-' } else { c.is_ascii_digit() });
    if !shaped {
        return None;
    }
    let m = crate::points::parse_month(t)?;
    NaiveDate::from_ymd_opt((m / 100) as i32, (m % 100) as u32, 1)
}

fn period_of(first: NaiveDate) -> Period {
    let (start, end) = super::month_bounds(first);
    Period {
        key: month_label(month_key(start)),
        start,
        end,
    }
}

fn obligation<'a>(
    a: &Assignment,
    village: i64,
    period: &'a Period,
    rules: &FsRules,
    zone: &crate::clock::Zone,
) -> NewObligation<'a> {
    let (due_at, missed_at) = super::report_deadlines(period.start, rules, zone);
    NewObligation {
        kind: OBLIGATION,
        subject_type: SUBJECT,
        subject_id: a.id,
        scope_org_id: village,
        period,
        due_at,
        missed_at,
    }
}

/// A posting's reports, newest month first (at most `limit`).
pub async fn reports(ctx: &Ctx, paths: &Paths, id: i64, limit: i64) -> AppResult<Vec<Report>> {
    let rules = store::rules_at(ctx, &paths.round).await?;
    let rows = on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT id, month, projects, problems, filed_at, updated_at, version FROM fs_reports WHERE assignment_id = $1 ORDER BY month DESC LIMIT $2")
            .bind(id).bind(limit).fetch_all(x).await?;
        rows.iter().map(|r| Ok((r.i64("id")?, r.i64("month")?, r.string("projects")?, r.string("problems")?, r.ts("filed_at")?, r.ts("updated_at")?, r.i64("version")?)))
            .collect::<DbResult<Vec<_>>>()?
    });
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids = rows
        .iter()
        .map(|r| r.0.to_string())
        .collect::<Vec<_>>()
        .join(",");
    // ids are integers read above
    let sql = format!(
        "SELECT report_id, code, value, decimals FROM fs_report_counters WHERE report_id IN ({ids})"
    );
    let mut got: HashMap<i64, BTreeMap<String, (i64, i64)>> = HashMap::new();
    on_db!(&ctx.db, x => {
        for r in sqlx::query(&sql).fetch_all(x).await? {
            got.entry(r.i64("report_id")?).or_default()
                .insert(r.string("code")?, (r.i64("value")?, r.i64("decimals")?));
        }
    });
    let statuses: HashMap<String, String> = crate::obligation::of_subject(ctx, SUBJECT, id, 60)
        .await?
        .into_iter()
        .filter(|o| o.kind == OBLIGATION)
        .map(|o| (o.period, o.status))
        .collect();
    let empty = BTreeMap::new();
    let months: Vec<i64> = rows.iter().map(|r| r.1).collect();
    let frozen = match &paths.village {
        Some(v) => super::scoring::frozen_months(ctx, v, &months).await?,
        None => Vec::new(),
    };
    Ok(rows
        .into_iter()
        .map(
            |(rid, m, projects, problems, filed_at, updated_at, version)| {
                let month = month_label(m);
                Report {
                    frozen: frozen.contains(&m),
                    id: rid,
                    assignment_id: id,
                    counters: counter_values(&rules.counters, got.get(&rid).unwrap_or(&empty)),
                    status: statuses
                        .get(&month)
                        .cloned()
                        .unwrap_or_else(|| "done".into()),
                    month,
                    projects,
                    problems,
                    filed_at,
                    updated_at,
                    version,
                }
            },
        )
        .collect())
}

/// Files (or files again, until the month's scores are closed) the first secretary's report
/// of a month: its counters in the catalogue's units, its projects and problems. It fulfils
/// the month's obligation — on time by the rule's day of the next month, late after.
pub async fn file(ctx: &Ctx, p: &Principal, id: i64, input: &NewReport) -> AppResult<Report> {
    let (a, paths) = store::get(ctx, p, id).await?;
    if paths.cadre_account != Some(p.account_id) {
        return Err(AppError::Forbidden("月度实绩报告由第一书记本人报送".into()));
    }
    let (Some(village), Some(vpath), Some(start)) =
        (a.village_id, paths.village.clone(), a.start_on)
    else {
        return Err(AppError::Conflict("尚未派驻到村，不能报送实绩".into()));
    };
    if !matches!(a.status.as_str(), "on_duty" | "recalled" | "completed") {
        return Err(AppError::Conflict("尚未派驻到村，不能报送实绩".into()));
    }
    let rules = store::rules_at(ctx, &paths.round).await?;
    let today = ctx.clock.today();
    let mut c = Checks::default();
    let first = month_start(&input.month);
    match first {
        None => c.add("month", "请选择报送的月份（年-月）"),
        Some(f) => {
            if let Err(e) = super::report_month_check(f, today, start, a.ended_on) {
                c.add("month", e);
            }
        }
    }
    let projects = crate::work_log::clean_text(&input.projects);
    let problems = crate::work_log::clean_text(&input.problems);
    c.check(
        projects.chars().count() <= MAX_REPORT_TEXT,
        "projects",
        "项目进展最多1000字",
    );
    c.check(
        problems.chars().count() <= MAX_REPORT_TEXT,
        "problems",
        "困难问题最多1000字",
    );
    let mut values: Vec<(&Counter, i64)> = Vec::new();
    let refused_before = c.0.len();
    if input.counters.len() > rules.counters.len().max(1) * 2 {
        return Err(AppError::field("counters", "实绩统计项过多"));
    }
    for (k, text) in &input.counters {
        let Some(counter) = rules.counters.iter().find(|x| &x.key == k) else {
            if !text.trim().is_empty() {
                let shown: String = k.chars().take(30).collect();
                c.add(&format!("counters.{shown}"), format!("没有统计项“{shown}”"));
            }
            continue;
        };
        match parse_amount(text, counter.decimals) {
            Ok(Some(v)) if v > 0 => values.push((counter, v)),
            Ok(_) => {}
            Err(e) => c.add(
                &format!("counters.{k}"),
                format!("{}（{}）{e}", counter.name, counter.unit),
            ),
        }
    }
    let counters_refused = c.0.len() > refused_before;
    c.check(
        counters_refused || !values.is_empty() || !projects.is_empty() || !problems.is_empty(),
        "projects",
        "请至少填写一项实绩、项目进展或困难问题",
    );
    c.finish()?;
    let Some(first) = first else {
        return Err(AppError::field("month", "请选择报送的月份（年-月）"));
    };
    let m = month_key(first);
    if super::scoring::month_frozen(ctx, &vpath, m).await? {
        return Err(AppError::Conflict(format!(
            "{}的评分已结束，实绩报告不再变更",
            month_label(m)
        )));
    }
    values.sort_by_key(|(c, _)| rules.counters.iter().position(|x| x.key == c.key));
    let before = reports_of_month(ctx, id, m).await?;
    if let (Some(v), Some((_, was))) = (input.version, before.as_ref()) {
        if v != *was {
            return Err(AppError::Conflict(
                "该月的实绩报告已被他人更新，请刷新后再报送".into(),
            ));
        }
    }
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let rid = on_tx!(&mut tx, x => {
        let rid = match &before {
            Some((rid, version)) => {
                let n = sqlx::query("UPDATE fs_reports SET projects = $1, problems = $2, filed_by = $3, updated_at = $4, version = version + 1 WHERE id = $5 AND version = $6")
                    .bind(&projects).bind(&problems).bind(p.account_id).bind(now).bind(rid).bind(version)
                    .execute(&mut *x).await?.rows_affected();
                if n == 0 {
                    return Err(AppError::Conflict("该月的实绩报告已被他人更新，请刷新后再报送".into()));
                }
                sqlx::query("DELETE FROM fs_report_counters WHERE report_id = $1").bind(rid).execute(&mut *x).await?;
                *rid
            }
            None => sqlx::query("INSERT INTO fs_reports (assignment_id, village_id, month, projects, problems, filed_by, filed_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id")
                .bind(id).bind(village).bind(m).bind(&projects).bind(&problems).bind(p.account_id).bind(now)
                .fetch_one(&mut *x).await?.i64("id")?,
        };
        for (counter, v) in &values {
            sqlx::query("INSERT INTO fs_report_counters (report_id, code, value, decimals) VALUES ($1, $2, $3, $4)")
                .bind(rid).bind(&counter.key).bind(v).bind(counter.decimals).execute(&mut *x).await?;
        }
        rid
    });
    let period = period_of(first);
    let o = obligation(&a, village, &period, &rules, &ctx.clock.zone());
    crate::obligation::fulfil(&mut tx, &o, "fs_report", rid, now).await?;
    let shown: serde_json::Map<String, serde_json::Value> = values
        .iter()
        .map(|(c, v)| {
            (
                format!("{}（{}）", c.name, c.unit),
                serde_json::json!(format_amount(*v, c.decimals)),
            )
        })
        .collect();
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: if before.is_some() {
                "fs.report_refile"
            } else {
                "fs.report_file"
            },
            object_type: "fs_assignment",
            object_id: id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"report_id": rid, "month": period.key, "counters": shown,
                "projects": projects, "problems": problems}),
        },
    )
    .await?;
    tx.commit().await?;
    reports(ctx, &paths, id, 24)
        .await?
        .into_iter()
        .find(|r| r.id == rid)
        .ok_or(AppError::NotFound("实绩报告"))
}

/// (id, version) of a posting's report of a month.
async fn reports_of_month(ctx: &Ctx, id: i64, m: i64) -> AppResult<Option<(i64, i64)>> {
    on_db!(&ctx.db, x => {
        match sqlx::query("SELECT id, version FROM fs_reports WHERE assignment_id = $1 AND month = $2")
            .bind(id).bind(m).fetch_optional(x).await? {
            Some(r) => Ok(Some((r.i64("id")?, r.i64("version")?))),
            None => Ok(None),
        }
    })
}

/// Makes the monthly report obligations of every posting on duty, for the months begun up to
/// `today` (at most `periods` back), one statement per round and month.
pub async fn generate(ctx: &Ctx, today: NaiveDate, periods: usize) -> AppResult<u64> {
    let rounds = on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT a.round_id, o.path, MIN(a.start_on) AS since FROM fs_assignments a JOIN fs_rounds r ON r.id = a.round_id \
                                JOIN orgs o ON o.id = r.org_id WHERE a.status = 'on_duty' AND a.start_on IS NOT NULL GROUP BY a.round_id, o.path")
            .fetch_all(x).await?;
        rows.iter().map(|r| Ok((r.i64("round_id")?, r.string("path")?, r.date("since")?))).collect::<DbResult<Vec<_>>>()?
    });
    let zone = ctx.clock.zone();
    let now = ctx.clock.now();
    let mut made = 0;
    for (round, path, since) in rounds {
        let rules = store::rules_at(ctx, &path).await?;
        let mut first = super::month_bounds(today).0;
        for _ in 0..periods.max(1) {
            let period = period_of(first);
            if period.end < since {
                break;
            }
            let (due, missed) = super::report_deadlines(first, &rules, &zone);
            made += on_db!(&ctx.db, x => {
                sqlx::query("INSERT INTO obligations (kind, subject_type, subject_id, scope_org_id, period, period_start, period_end, due_at, missed_at, status, created_at) \
                             SELECT $1, $2, a.id, a.village_id, $3, $4, $5, $6, $7, 'due', $8 FROM fs_assignments a \
                             WHERE a.round_id = $9 AND a.status = 'on_duty' AND a.village_id IS NOT NULL AND a.start_on <= $5 \
                             ON CONFLICT (kind, subject_type, subject_id, period) DO NOTHING")
                    .bind(OBLIGATION).bind(SUBJECT).bind(&period.key).bind(period.start).bind(period.end).bind(due).bind(missed)
                    .bind(now).bind(round)
                    .execute(x).await?.rows_affected()
            });
            let Some(prev) = first.pred_opt() else { break };
            first = super::month_bounds(prev).0;
        }
    }
    Ok(made)
}

/// A counter summed over the reports of a subtree.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CounterTotal {
    pub key: String,
    pub category: String,
    pub name: String,
    pub unit: String,
    pub total: String,
    /// Villages whose reports counted it.
    pub villages: i64,
}

/// 实绩汇总: the reports of the first secretaries below an organisation over a range of
/// months, summed per counter, with how the reports came in.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = FsResultsSummary)]
pub struct Summary {
    pub org_id: i64,
    pub org_name: String,
    pub from: String,
    pub to: String,
    pub reports: i64,
    pub counters: Vec<CounterTotal>,
    /// The monthly report obligations of the range.
    pub tally: crate::obligation::Tally,
    /// On time among those decided, in per mille.
    pub on_time_permille: Option<i64>,
    /// The reports owed in the range and not filed (overdue or missed), oldest month first, at
    /// most 200: who to remind.
    pub unfiled: Vec<Unfiled>,
}

/// A monthly report owed and not filed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Unfiled {
    pub assignment_id: i64,
    pub cadre_name: String,
    pub village_name: String,
    /// `YYYY-MM`
    pub month: String,
    /// missed (past the grace days) or due (overdue, still in them)
    pub status: String,
}

/// The reports summed under `org_id` for the months `from`..=`to` (yyyymm; at most 36).
pub async fn summary(
    ctx: &Ctx,
    p: &Principal,
    org_id: i64,
    from: i64,
    to: i64,
) -> AppResult<Summary> {
    let org = crate::org::store::get(&ctx.db, org_id)
        .await
        .map_err(|_| AppError::NotFound("组织"))?;
    if !p.in_scope(&org.path) {
        return Err(AppError::NotFound("组织"));
    }
    p.authorize(Perm::CadreRead, Some(&org.path))?;
    let months = crate::points::months(from, to);
    if from > to || months.len() > 36 {
        return Err(AppError::field("from", "汇总的月份须从早到晚，最多36个月"));
    }
    // a report over the subtree: bounded and shared like the other heavy reads
    let key = format!("fs.results|{}|{from}|{to}", org.path);
    ctx.heavy
        .run_cloned(&key, || summary_of(ctx, org, from, to))
        .await
}

/// [`summary`] computed, once the reader is authorised.
async fn summary_of(ctx: &Ctx, org: crate::org::Org, from: i64, to: i64) -> AppResult<Summary> {
    let org_id = org.id;
    let rules = store::rules_at(ctx, &org.path).await?;
    let upper = path_upper(&org.path);
    let (reports, rows) = on_db!(&ctx.db, x => {
        let n = sqlx::query("SELECT COUNT(*) AS n FROM fs_reports r JOIN orgs o ON o.id = r.village_id WHERE o.path >= $1 AND o.path < $2 AND r.month BETWEEN $3 AND $4")
            .bind(&org.path).bind(&upper).bind(from).bind(to).fetch_one(x).await?.i64("n")?;
        let rows = sqlx::query("SELECT c.code, c.decimals, CAST(SUM(c.value) AS BIGINT) AS total, COUNT(DISTINCT r.village_id) AS villages \
                                FROM fs_report_counters c JOIN fs_reports r ON r.id = c.report_id JOIN orgs o ON o.id = r.village_id \
                                WHERE o.path >= $1 AND o.path < $2 AND r.month BETWEEN $3 AND $4 GROUP BY c.code, c.decimals")
            .bind(&org.path).bind(&upper).bind(from).bind(to).fetch_all(x).await?;
        let rows = rows.iter().map(|r| Ok((r.string("code")?, r.i64("decimals")?, r.i64("total")?, r.i64("villages")?)))
            .collect::<DbResult<Vec<_>>>()?;
        (n, rows)
    });
    let counters = totals(&rules.counters, &rows);
    let start = NaiveDate::from_ymd_opt((from / 100) as i32, (from % 100) as u32, 1)
        .ok_or(AppError::field("from", "月份无效"))?;
    let end = NaiveDate::from_ymd_opt((to / 100) as i32, (to % 100) as u32, 1)
        .ok_or(AppError::field("to", "月份无效"))?;
    let tally = crate::obligation::tally_by_subject(ctx, OBLIGATION, &org.path, start, end)
        .await?
        .into_values()
        .fold(crate::obligation::Tally::default(), |mut t, x| {
            t.expected += x.expected;
            t.done += x.done;
            t.late += x.late;
            t.missed += x.missed;
            t.open += x.open;
            t
        });
    let now = ctx.clock.now();
    let unfiled = on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT b.subject_id, b.period, b.status, c.name, v.name AS village FROM obligations b JOIN orgs v ON v.id = b.scope_org_id \
                                JOIN fs_assignments a ON a.id = b.subject_id JOIN cadres c ON c.id = a.cadre_id \
                                WHERE b.kind = $1 AND b.subject_type = $2 AND v.path >= $3 AND v.path < $4 AND b.period_start >= $5 AND b.period_start <= $6 \
                                AND (b.status = 'missed' OR (b.status = 'due' AND b.due_at < $7)) ORDER BY b.period_start, v.path LIMIT 200")
            .bind(OBLIGATION).bind(SUBJECT).bind(&org.path).bind(&upper).bind(start).bind(end).bind(now).fetch_all(x).await?;
        rows.iter().map(|r| Ok(Unfiled { assignment_id: r.i64("subject_id")?, month: r.string("period")?, status: r.string("status")?,
            cadre_name: r.string("name")?, village_name: r.string("village")? })).collect::<DbResult<Vec<_>>>()?
    });
    Ok(Summary {
        unfiled,
        org_id,
        org_name: org.name,
        from: month_label(from),
        to: month_label(to),
        reports,
        counters,
        on_time_permille: tally.on_time_permille(),
        tally,
    })
}

/// Per counter of the catalogue (then any the rules no longer name), the sum of its values:
/// values kept with other decimal places are brought to the catalogue's (rounded half up).
pub fn totals(catalogue: &[Counter], rows: &[(String, i64, i64, i64)]) -> Vec<CounterTotal> {
    let mut sums: BTreeMap<&str, (i128, i64, i64)> = BTreeMap::new();
    for (code, decimals, total, villages) in rows {
        let want = catalogue
            .iter()
            .find(|c| &c.key == code)
            .map(|c| c.decimals)
            .unwrap_or(*decimals);
        let v = rescale(*total, *decimals, want);
        let e = sums.entry(code.as_str()).or_insert((0, want, 0));
        e.0 += v as i128;
        e.2 = e.2.max(*villages);
    }
    let mut out = Vec::new();
    for c in catalogue {
        if let Some((v, d, n)) = sums.remove(c.key.as_str()) {
            out.push(CounterTotal {
                key: c.key.clone(),
                category: c.category.clone(),
                name: c.name.clone(),
                unit: c.unit.clone(),
                total: format_amount(v.clamp(0, i64::MAX as i128) as i64, d),
                villages: n,
            });
        }
    }
    for (k, (v, d, n)) in sums {
        out.push(CounterTotal {
            key: k.to_string(),
            category: String::new(),
            name: k.to_string(),
            unit: String::new(),
            total: format_amount(v.clamp(0, i64::MAX as i128) as i64, d),
            villages: n,
        });
    }
    out
}

/// A value kept with `from` decimal places, with `to` (rounded half up).
pub fn rescale(v: i64, from: i64, to: i64) -> i64 {
    if to >= from {
        v.saturating_mul(10_i64.pow((to - from).clamp(0, 6) as u32))
    } else {
        let d = 10_i64.pow((from - to).clamp(0, 6) as u32);
        (v + d / 2) / d
    }
}

// ---------------------------------------------------------------- the public page

/// A pledge item as the public page shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublicPledge {
    pub item: String,
    pub target: String,
    pub progress: String,
}

/// 亮身份、亮标准、亮承诺: what a village's notice board shows of its first secretary — no
/// personal data (no ID number, phone, photo, position or check-in).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublicProfile {
    pub name: String,
    pub sending_level: String,
    pub sending_unit: String,
    pub village: String,
    pub township: String,
    pub start_on: Option<NaiveDate>,
    pub ends_on: Option<NaiveDate>,
    pub standard: Vec<String>,
    pub pledges: Vec<PublicPledge>,
    /// The results the first secretary reported over the posting.
    pub results: Vec<CounterTotal>,
    pub months_reported: i64,
}

/// The public page of a first secretary on duty, where the rules of the round's department
/// publish it; not found otherwise (ended, not yet posted, or not published).
pub async fn public_profile(ctx: &Ctx, id: i64) -> AppResult<PublicProfile> {
    let (a, paths) = store::load(ctx, id)
        .await
        .map_err(|_| AppError::NotFound("第一书记"))?;
    let rules = store::rules_at(ctx, &paths.round).await?;
    if a.status != "on_duty" || !rules.public_profile || a.village_id.is_none() {
        return Err(AppError::NotFound("第一书记"));
    }
    let pledges = store::pledges(ctx, id)
        .await?
        .into_iter()
        .map(|x| PublicPledge {
            item: x.item,
            target: x.target,
            progress: x.progress,
        })
        .collect();
    let (results, months) = posting_totals(ctx, &paths, id).await?;
    Ok(PublicProfile {
        name: a.cadre_name,
        sending_level: a.sending_level_label,
        sending_unit: a.sending_unit,
        village: a.village_name.unwrap_or_default(),
        township: a.township_name.unwrap_or_default(),
        start_on: a.start_on,
        ends_on: a.ends_on,
        standard: rules.public_standard.clone(),
        pledges,
        results,
        months_reported: months,
    })
}

/// The results a posting reported over its months, summed per counter, and how many months.
pub async fn posting_totals(
    ctx: &Ctx,
    paths: &Paths,
    id: i64,
) -> AppResult<(Vec<CounterTotal>, i64)> {
    let rules = store::rules_at(ctx, &paths.round).await?;
    let (months, rows) = on_db!(&ctx.db, x => {
        let n = sqlx::query("SELECT COUNT(*) AS n FROM fs_reports WHERE assignment_id = $1")
            .bind(id).fetch_one(x).await?.i64("n")?;
        let rows = sqlx::query("SELECT c.code, c.decimals, CAST(SUM(c.value) AS BIGINT) AS total, COUNT(DISTINCT r.village_id) AS villages \
                                FROM fs_report_counters c JOIN fs_reports r ON r.id = c.report_id WHERE r.assignment_id = $1 GROUP BY c.code, c.decimals")
            .bind(id).fetch_all(x).await?;
        let rows = rows.iter().map(|r| Ok((r.string("code")?, r.i64("decimals")?, r.i64("total")?, r.i64("villages")?)))
            .collect::<DbResult<Vec<_>>>()?;
        (n, rows)
    });
    Ok((totals(&rules.counters, &rows), months))
}

/// Whether the posting has a public page now (for the link on its page).
pub async fn is_public(ctx: &Ctx, a: &Assignment, paths: &Paths) -> AppResult<bool> {
    Ok(a.status == "on_duty"
        && a.village_id.is_some()
        && store::rules_at(ctx, &paths.round).await?.public_profile)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_follow_the_catalogue_and_bring_old_decimals_to_its_own() {
        let cat = vec![
            Counter {
                key: "roads".into(),
                category: "基础设施".into(),
                name: "新修道路".into(),
                unit: "公里".into(),
                decimals: 2,
            },
            Counter {
                key: "lamps".into(),
                category: "基础设施".into(),
                name: "安装路灯".into(),
                unit: "盏".into(),
                decimals: 0,
            },
        ];
        let rows = vec![
            ("lamps".to_string(), 0, 12, 2),
            // filed when roads had one decimal: 3.5 km
            ("roads".to_string(), 1, 35, 1),
            ("roads".to_string(), 2, 1025, 3),
            ("wells".to_string(), 0, 4, 1),
        ];
        let t = totals(&cat, &rows);
        let got: Vec<(&str, &str, i64)> = t
            .iter()
            .map(|c| (c.key.as_str(), c.total.as_str(), c.villages))
            .collect();
        assert_eq!(
            got,
            vec![("roads", "13.75", 3), ("lamps", "12", 2), ("wells", "4", 1)]
        );
        for (v, from, to, want) in [
            (35, 1, 2, 350),
            (1025, 2, 1, 103),
            (1024, 2, 1, 102),
            (7, 0, 0, 7),
            (15, 1, 0, 2),
        ] {
            assert_eq!(rescale(v, from, to), want, "{v} {from}→{to}");
        }
    }

    #[test]
    fn a_month_is_read_as_its_first_day() {
        assert_eq!(month_start("2026-11"), NaiveDate::from_ymd_opt(2026, 11, 1));
        for bad in [
            "", "2026-13", "2026", "11-2026", "2026-00", "+2026-11", "2026-011", "2026-1",
        ] {
            assert_eq!(month_start(bad), None, "{bad}");
        }
    }
}
