//! Weekly records: filing (by the cadre, or entered for them by the managing department),
//! reading (a department's every reading audited: 授权查实绩), returning, addenda after the
//! lock, the week's view of a subtree, compliance per unit, and the weekly obligations'
//! generator the scheduler runs.

use super::{Followup, Item, WorkLogRules, OBLIGATION, OUTCOMES};
use crate::audit::{self, NewEntry};
use crate::auth::{Perm, Principal};
use crate::cadre::store::Cadre;
use crate::db::{path_upper, DbResult, DbRow};
use crate::error::{AppError, AppResult};
use crate::obligation::{self, NewObligation, Period, Tally};
use crate::{on_db, on_tx, Ctx};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// A week's record as written.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct NewWorkLog {
    /// The cadre (entering for someone else); empty: the caller's own cadre record.
    pub cadre_id: Option<i64>,
    /// Any day of the week (the record is the week's, Monday to Sunday).
    pub week: Option<NaiveDate>,
    pub done: Vec<Item>,
    pub plan: Vec<Item>,
    /// How last week's plan went, one per planned item.
    pub followups: Vec<Followup>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Addendum {
    pub body: String,
    pub author: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WorkLog {
    pub id: i64,
    pub cadre_id: i64,
    pub cadre_name: String,
    pub unit: String,
    pub position: String,
    pub week_start: NaiveDate,
    pub week_end: NaiveDate,
    /// e.g. 2026-W49
    pub week: String,
    /// 2026年第49周（11月30日—12月6日）
    pub week_label: String,
    pub done: Vec<Item>,
    pub plan: Vec<Item>,
    pub followups: Vec<Followup>,
    /// submitted or returned
    pub status: String,
    /// First filed (the week's on-time-ness is this instant's).
    pub filed_at: DateTime<Utc>,
    pub submitted_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub late: bool,
    /// Changes now only by addendum.
    pub locked: bool,
    pub locks_at: DateTime<Utc>,
    /// Who typed it (录入人), when not the cadre.
    pub filer_name: String,
    pub entered_for: bool,
    pub review_comment: Option<String>,
    pub reviewer_name: Option<String>,
    pub reviewed_at: Option<DateTime<Utc>>,
    pub addenda: Vec<Addendum>,
    pub version: i64,
}

pub const STATUSES: [(&str, &str); 2] = [("submitted", "已报送"), ("returned", "已退回")];

/// The refusal of an account not registered as a cadre.
pub const NO_CADRE: &str =
    "本账号未登记为干部，不能填报工作记实；请联系组织部门在干部名册中关联账号";

/// Addenda one record holds at most.
pub const MAX_ADDENDA: usize = 50;

/// A date a request names, refused outside [`super::in_range`].
fn checked_week(d: Option<NaiveDate>, field: &str) -> AppResult<Option<NaiveDate>> {
    match d {
        Some(d) if !super::in_range(d) => {
            Err(AppError::field(field, "日期超出范围（2000年至2100年）"))
        }
        d => Ok(d),
    }
}

/// The rules in force for a cadre managed at `path`.
pub async fn rules_at(ctx: &Ctx, path: &str) -> AppResult<WorkLogRules> {
    Ok(crate::rules::effective::<WorkLogRules>(&ctx.db, path)
        .await?
        .0)
}

fn parse<T: serde::de::DeserializeOwned + Default>(s: &str) -> T {
    serde_json::from_str(s).unwrap_or_default()
}

const COLUMNS: &str = "w.id, w.cadre_id, c.name AS cadre_name, c.unit, c.position, c.account_id, o.path AS org_path, w.week_start, w.done_json, w.plan_json, \
    w.followup_json, w.status, w.filed_at, w.submitted_at, w.locks_at, w.late, w.filed_by, w.filer_name, w.review_comment, w.reviewer_name, w.reviewed_at, w.version";
const FROM: &str =
    "FROM work_logs w JOIN cadres c ON c.id = w.cadre_id JOIN orgs o ON o.id = c.managed_by";

/// The record, its cadre's account and the managing organisation's path.
async fn load(ctx: &Ctx, id: i64) -> AppResult<(WorkLog, Option<i64>, String)> {
    let sql = format!("SELECT {COLUMNS} {FROM} WHERE w.id = $1");
    let (mut w, account, path) = on_db!(&ctx.db, x => {
        match sqlx::query(&sql).bind(id).fetch_optional(x).await? {
            Some(r) => {
                let account = r.opt_i64("account_id")?;
                let filed_by = r.opt_i64("filed_by")?;
                let week_start = r.date("week_start")?;
                let w = WorkLog {
                    id: r.i64("id")?,
                    cadre_id: r.i64("cadre_id")?,
                    cadre_name: r.string("cadre_name")?,
                    unit: r.string("unit")?,
                    position: r.string("position")?,
                    week: obligation::week(week_start).key,
                    week_label: obligation::week_label(week_start),
                    week_start,
                    week_end: week_start + Duration::days(6),
                    done: parse(&r.string("done_json")?),
                    plan: parse(&r.string("plan_json")?),
                    followups: parse(&r.string("followup_json")?),
                    status: r.string("status")?,
                    filed_at: r.ts("filed_at")?,
                    submitted_at: r.ts("submitted_at")?,
                    due_at: r.ts("filed_at")?,
                    late: r.bool("late")?,
                    locked: false,
                    locks_at: r.ts("locks_at")?,
                    filer_name: r.string("filer_name")?,
                    entered_for: filed_by.is_some() && filed_by != account,
                    review_comment: r.opt_string("review_comment")?,
                    reviewer_name: r.opt_string("reviewer_name")?,
                    reviewed_at: r.opt_ts("reviewed_at")?,
                    addenda: Vec::new(),
                    version: r.i64("version")?,
                };
                (w, account, r.string("org_path")?)
            }
            None => return Err(AppError::NotFound("工作记实")),
        }
    });
    let rules = rules_at(ctx, &path).await?;
    w.due_at = super::due_at(w.week_start, &rules, &ctx.clock.zone());
    w.locked = w.status == "submitted" && ctx.clock.now() >= w.locks_at;
    w.addenda = on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT body, author, created_at FROM work_log_addenda WHERE log_id = $1 ORDER BY id")
            .bind(id).fetch_all(x).await?;
        rows.iter().map(|r| Ok(Addendum { body: r.string("body")?, author: r.string("author")?, created_at: r.ts("created_at")? }))
            .collect::<DbResult<Vec<_>>>()?
    });
    Ok((w, account, path))
}

/// The record's cadre account and managing path: what deciding who may see it needs, read
/// before anything else about it (an answer outside the subtree takes as long as an absent one).
async fn head(ctx: &Ctx, id: i64) -> AppResult<(Option<i64>, String)> {
    on_db!(&ctx.db, x => {
        match sqlx::query("SELECT c.account_id, o.path FROM work_logs w JOIN cadres c ON c.id = w.cadre_id JOIN orgs o ON o.id = c.managed_by WHERE w.id = $1")
            .bind(id).fetch_optional(x).await? {
            Some(r) => Ok((r.opt_i64("account_id")?, r.string("path")?)),
            None => Err(AppError::NotFound("工作记实")),
        }
    })
}

/// Whether `p` is the cadre (files as them) or may act for the managing organisation.
fn own(p: &Principal, account: Option<i64>) -> bool {
    account == Some(p.account_id)
}

/// Reads a record: the cadre's own, or a managing account's (each such reading audited).
pub async fn open(ctx: &Ctx, p: &Principal, id: i64) -> AppResult<WorkLog> {
    let (account, path) = head(ctx, id).await?;
    if own(p, account) {
        return Ok(load(ctx, id).await?.0);
    }
    if !p.in_scope(&path) {
        return Err(AppError::NotFound("工作记实"));
    }
    p.authorize(Perm::CadreRead, Some(&path))?;
    let (w, _, _) = load(ctx, id).await?;
    audit::record(
        &ctx.db,
        &p.actor(),
        NewEntry {
            action: "work_log.view",
            object_type: "work_log",
            object_id: id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"cadre_id": w.cadre_id, "week": w.week}),
        },
    )
    .await?;
    Ok(w)
}

/// The cadre a record is filed for: the asked one (entering for them needs `CadreWrite` over
/// them) or the caller's own.
async fn cadre_for(ctx: &Ctx, p: &Principal, cadre_id: Option<i64>) -> AppResult<(Cadre, String)> {
    match cadre_id {
        Some(id) => {
            let (c, path) = crate::cadre::store::load(ctx, id).await?;
            if c.account_id != Some(p.account_id) {
                if !p.in_scope(&path) {
                    return Err(AppError::NotFound("干部"));
                }
                p.authorize(Perm::CadreWrite, Some(&path))?;
            }
            Ok((c, path))
        }
        None => crate::cadre::store::of_account(ctx, p.account_id)
            .await?
            .ok_or_else(|| AppError::refused("work_log.no_cadre", NO_CADRE)),
    }
}

/// The obligation a cadre's week is.
fn obligation_of<'a>(
    c: &Cadre,
    period: &'a Period,
    due: DateTime<Utc>,
    rules: &WorkLogRules,
) -> NewObligation<'a> {
    NewObligation {
        kind: OBLIGATION,
        subject_type: "cadre",
        subject_id: c.id,
        scope_org_id: c.managed_by,
        period,
        due_at: due,
        missed_at: super::missed_at(due, rules),
    }
}

/// Files (or, until it locks, refiles) the week's record.
pub async fn file(ctx: &Ctx, p: &Principal, input: &NewWorkLog) -> AppResult<WorkLog> {
    let week = checked_week(input.week, "week")?;
    let (cadre, path) = cadre_for(ctx, p, input.cadre_id).await?;
    if cadre.status != "active" {
        return Err(AppError::refused(
            "work_log.cadre_left",
            "该干部已离任，不再填报工作记实",
        ));
    }
    if !cadre.weekly_record {
        return Err(AppError::refused(
            "work_log.not_reporter",
            "该干部不填报每周工作记实（可在干部名册中设置）",
        ));
    }
    let rules = rules_at(ctx, &path).await?;
    let today = ctx.clock.today();
    let zone = ctx.clock.zone();
    let period = obligation::week(week.unwrap_or(today));
    let registered = obligation::monday_of(zone.date_of(cadre.created_at));
    if period.start < registered {
        return Err(AppError::field(
            "week",
            format!("该周早于干部登记的那一周（{registered}起），不需填报"),
        ));
    }
    let done = super::clean_items(&input.done);
    let plan = super::clean_items(&input.plan);
    // how last week's plan went: one outcome per item actually planned, in its order (the
    // texts are the plan's, whatever a client sends)
    let prev = previous_plan(ctx, cadre.id, period.start).await?;
    if input.followups.len() != prev.len() {
        return Err(AppError::field(
            "followups",
            format!("请逐项说明上周计划（共{}项）的完成情况", prev.len()),
        ));
    }
    let followups: Vec<Followup> = prev
        .iter()
        .zip(&input.followups)
        .map(|(planned, f)| Followup {
            text: planned.text.clone(),
            outcome: f.outcome.trim().to_string(),
            reason: super::clean_text(&f.reason),
        })
        .collect();
    let errors = super::check(period.start, today, &done, &plan, &followups, &rules);
    if !errors.is_empty() {
        return Err(AppError::Validation(errors));
    }
    // the deadline the week's obligation was made with (a later rule change does not move it)
    let made_due = on_db!(&ctx.db, x => {
        match sqlx::query("SELECT due_at FROM obligations WHERE kind = $1 AND subject_type = 'cadre' AND subject_id = $2 AND period = $3")
            .bind(OBLIGATION).bind(cadre.id).bind(&period.key).fetch_optional(x).await? {
            Some(r) => Some(r.ts("due_at")?),
            None => None,
        }
    });
    let due = made_due.unwrap_or_else(|| super::due_at(period.start, &rules, &ctx.clock.zone()));
    let existing = on_db!(&ctx.db, x => {
        match sqlx::query("SELECT id, status, locks_at, version FROM work_logs WHERE cadre_id = $1 AND week_start = $2")
            .bind(cadre.id).bind(period.start).fetch_optional(x).await? {
            Some(r) => Some((r.i64("id")?, r.string("status")?, r.ts("locks_at")?, r.i64("version")?)),
            None => None,
        }
    });
    let (done_json, plan_json, fu_json) = (
        serde_json::to_string(&done).unwrap_or_default(),
        serde_json::to_string(&plan).unwrap_or_default(),
        serde_json::to_string(&followups).unwrap_or_default(),
    );
    // the content as the audit chain keeps it: its digest (the record itself is the table's)
    let digest = crate::crypto::sm3_hex(format!("{done_json}\n{plan_json}\n{fu_json}").as_bytes());
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let (id, action, before) = match existing {
        Some((id, status, locks_at, version)) => {
            if cadre.account_id.is_some() && cadre.account_id != Some(p.account_id) {
                return Err(AppError::refused(
                    "work_log.filed_by_cadre",
                    "该周记实已由本人报送；如需修改，请退回本人",
                ));
            }
            if status == "submitted" && now >= locks_at {
                return Err(AppError::refused(
                    "work_log.locked",
                    format!(
                        "该周记实已于{}锁定，只能添加补充说明",
                        crate::clock::fmt_local(locks_at, "%Y-%m-%d %H:%M")
                    ),
                ));
            }
            // a returned record filed again locks anew; refiling an open one keeps its lock
            let locks_at = if status == "returned" {
                super::locks_at(now, &rules)
            } else {
                locks_at
            };
            let n = on_tx!(&mut tx, x => {
                sqlx::query("UPDATE work_logs SET done_json = $1, plan_json = $2, followup_json = $3, status = 'submitted', submitted_at = $4, \
                             filed_by = $5, filer_name = $6, locks_at = $9, version = version + 1 WHERE id = $7 AND version = $8")
                    .bind(&done_json).bind(&plan_json).bind(&fu_json).bind(now).bind(p.account_id).bind(&p.display_name)
                    .bind(id).bind(version).bind(locks_at).execute(&mut *x).await?.rows_affected()
            });
            if n != 1 {
                return Err(AppError::Conflict("该周记实刚被修改，请刷新后重试".into()));
            }
            (
                id,
                "work_log.resubmit",
                serde_json::json!({"status": status}),
            )
        }
        None => {
            let late = now > due;
            let id = on_tx!(&mut tx, x => {
                sqlx::query("INSERT INTO work_logs (cadre_id, week_start, done_json, plan_json, followup_json, status, filed_at, submitted_at, locks_at, late, filed_by, filer_name) \
                             VALUES ($1, $2, $3, $4, $5, 'submitted', $6, $6, $10, $7, $8, $9) RETURNING id")
                    .bind(cadre.id).bind(period.start).bind(&done_json).bind(&plan_json).bind(&fu_json).bind(now).bind(late)
                    .bind(p.account_id).bind(&p.display_name).bind(super::locks_at(now, &rules))
                    .fetch_one(&mut *x).await?.i64("id")?
            });
            (id, "work_log.file", serde_json::Value::Null)
        }
    };
    let status = obligation::fulfil(
        &mut tx,
        &obligation_of(&cadre, &period, due, &rules),
        "work_log",
        id,
        now,
    )
    .await?;
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action,
            object_type: "work_log",
            object_id: id.to_string(),
            before,
            after: serde_json::json!({"cadre_id": cadre.id, "week": period.key, "filed_at": now, "due_at": due,
                "obligation": status, "done": done.len(), "plan": plan.len(),
                "party": done.iter().chain(&plan).filter(|i| i.party).count(), "content_sm3": digest,
                "entered_for": cadre.account_id != Some(p.account_id)}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(load(ctx, id).await?.0)
}

/// The managing department returns a record with its comment; the cadre refiles it.
pub async fn return_log(ctx: &Ctx, p: &Principal, id: i64, comment: &str) -> AppResult<WorkLog> {
    let (_, path) = head(ctx, id).await?;
    if !p.in_scope(&path) {
        return Err(AppError::NotFound("工作记实"));
    }
    p.authorize(Perm::CadreWrite, Some(&path))?;
    let (w, _, _) = load(ctx, id).await?;
    let comment = super::clean_text(comment);
    let comment = comment.as_str();
    if !(1..=super::MAX_TEXT).contains(&comment.chars().count()) {
        return Err(AppError::field(
            "comment",
            format!("请填写退回意见（{}字以内）", super::MAX_TEXT),
        ));
    }
    if w.status != "submitted" {
        return Err(AppError::refused(
            "work_log.not_submitted",
            "该记实已退回，待本人重新报送",
        ));
    }
    if w.locked {
        return Err(AppError::refused(
            "work_log.locked",
            "该记实已锁定，不能退回；可添加补充说明",
        ));
    }
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let n = on_tx!(&mut tx, x => {
        sqlx::query("UPDATE work_logs SET status = 'returned', review_comment = $1, reviewer_name = $2, reviewed_at = $3, version = version + 1 \
                     WHERE id = $4 AND version = $5")
            .bind(comment).bind(&p.display_name).bind(now).bind(id).bind(w.version)
            .execute(&mut *x).await?.rows_affected()
    });
    if n != 1 {
        return Err(AppError::Conflict("该周记实刚被修改，请刷新后重试".into()));
    }
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "work_log.return",
            object_type: "work_log",
            object_id: id.to_string(),
            before: serde_json::json!({"status": "submitted"}),
            after: serde_json::json!({"status": "returned", "comment": comment}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(load(ctx, id).await?.0)
}

/// An addendum to a filed record, by the cadre or the managing department.
pub async fn add_addendum(ctx: &Ctx, p: &Principal, id: i64, body: &str) -> AppResult<WorkLog> {
    let (account, path) = head(ctx, id).await?;
    if !own(p, account) {
        if !p.in_scope(&path) {
            return Err(AppError::NotFound("工作记实"));
        }
        p.authorize(Perm::CadreWrite, Some(&path))?;
    }
    let (w, _, _) = load(ctx, id).await?;
    if w.addenda.len() >= MAX_ADDENDA {
        return Err(AppError::refused(
            "work_log.too_many_addenda",
            format!("每份记实最多{MAX_ADDENDA}条补充说明"),
        ));
    }
    let body = super::clean_text(body);
    let body = body.as_str();
    if !(1..=super::MAX_TEXT).contains(&body.chars().count()) {
        return Err(AppError::field(
            "body",
            format!("请填写补充说明（{}字以内）", super::MAX_TEXT),
        ));
    }
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let aid = on_tx!(&mut tx, x => {
        sqlx::query("INSERT INTO work_log_addenda (log_id, body, author_id, author, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id")
            .bind(id).bind(body).bind(p.account_id).bind(&p.display_name).bind(now)
            .fetch_one(&mut *x).await?.i64("id")?
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "work_log.addendum",
            object_type: "work_log",
            object_id: id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"addendum": aid, "body": body}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(load(ctx, id).await?.0)
}

/// One week of one cadre in a list: the record if filed, the obligation's status.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WeekRow {
    pub cadre_id: i64,
    pub cadre_name: String,
    pub unit: String,
    pub position: String,
    pub week_start: NaiveDate,
    pub week: String,
    pub week_label: String,
    pub log_id: Option<i64>,
    pub status: Option<String>,
    pub late: bool,
    pub filed_at: Option<DateTime<Utc>>,
    /// The obligation: due, done, late, missed; none when the week owed no record.
    pub obligation: Option<String>,
    pub obligation_label: String,
    /// Owed, not filed, past its deadline.
    pub overdue: bool,
}

fn week_row(r: &impl DbRow, now: DateTime<Utc>) -> DbResult<WeekRow> {
    let ob = r.opt_string("ob_status")?;
    let week_start = r.date("wk")?;
    let log_id = r.opt_i64("log_id")?;
    let overdue = log_id.is_none()
        && matches!(ob.as_deref(), Some("due" | "missed"))
        && r.opt_ts("ob_due")?.is_some_and(|d| d < now);
    Ok(WeekRow {
        overdue,
        week_label: obligation::week_label(week_start),
        cadre_id: r.i64("id")?,
        cadre_name: r.string("name")?,
        unit: r.string("unit")?,
        position: r.string("position")?,
        week: obligation::week(week_start).key,
        week_start,
        log_id,
        status: r.opt_string("log_status")?,
        late: r.opt_bool("late")?.unwrap_or(false),
        filed_at: r.opt_ts("filed_at")?,
        obligation_label: ob
            .as_deref()
            .map(|s| crate::rules::label(&obligation::STATUSES, s))
            .unwrap_or("")
            .to_string(),
        obligation: ob,
    })
}

/// A cadre's own page: the cadre, the form's week (this one) with last week's plan to
/// follow up, and their recent weeks.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Mine {
    pub cadre: Cadre,
    pub week: NaiveDate,
    pub week_key: String,
    pub week_label: String,
    pub due_at: DateTime<Utc>,
    /// This week's record when already filed.
    pub current: Option<WorkLog>,
    /// The previous week's plan, to say how it went.
    pub previous_plan: Vec<Item>,
    pub weeks: Vec<WeekRow>,
    pub rules: WorkLogRules,
}

/// The plan filed for the week before `monday`.
pub async fn previous_plan(ctx: &Ctx, cadre_id: i64, monday: NaiveDate) -> AppResult<Vec<Item>> {
    let prev = monday - Duration::days(7);
    Ok(on_db!(&ctx.db, x => {
        match sqlx::query("SELECT plan_json FROM work_logs WHERE cadre_id = $1 AND week_start = $2")
            .bind(cadre_id).bind(prev).fetch_optional(x).await? {
            Some(r) => parse(&r.string("plan_json")?),
            None => Vec::new(),
        }
    }))
}

/// The weeks of one cadre: every week with a record or an obligation, newest first.
pub async fn weeks_of(ctx: &Ctx, cadre_id: i64, limit: i64) -> AppResult<Vec<WeekRow>> {
    let now = ctx.clock.now();
    let sql = "SELECT c.id, c.name, c.unit, c.position, k.wk, w.id AS log_id, w.status AS log_status, w.late, w.filed_at, b.status AS ob_status, b.due_at AS ob_due \
               FROM (SELECT week_start AS wk FROM work_logs WHERE cadre_id = $1 UNION SELECT period_start AS wk FROM obligations WHERE kind = $2 AND subject_type = 'cadre' AND subject_id = $1) k \
               JOIN cadres c ON c.id = $1 \
               LEFT JOIN work_logs w ON w.cadre_id = c.id AND w.week_start = k.wk \
               LEFT JOIN obligations b ON b.kind = $2 AND b.subject_type = 'cadre' AND b.subject_id = c.id AND b.period_start = k.wk \
               ORDER BY k.wk DESC LIMIT $3";
    Ok(on_db!(&ctx.db, x => {
        let rows = sqlx::query(sql).bind(cadre_id).bind(OBLIGATION).bind(limit.clamp(1, 520)).fetch_all(x).await?;
        rows.iter().map(|r| week_row(r, now)).collect::<DbResult<Vec<_>>>()?
    }))
}

/// The caller's own page (the week of `week`, default this one).
pub async fn mine(
    ctx: &Ctx,
    p: &Principal,
    week: Option<NaiveDate>,
    cadre_id: Option<i64>,
) -> AppResult<Mine> {
    let week = checked_week(week, "week")?;
    let (cadre, path) = cadre_for(ctx, p, cadre_id).await?;
    let rules = rules_at(ctx, &path).await?;
    // by default the oldest week still owed (last week, due Monday noon, before this one)
    let owed = on_db!(&ctx.db, x => {
        match sqlx::query("SELECT MIN(period_start) AS wk FROM obligations WHERE kind = $1 AND subject_type = 'cadre' AND subject_id = $2 \
                           AND status IN ('due', 'missed') AND period_start >= $3")
            .bind(OBLIGATION).bind(cadre.id).bind(ctx.clock.today() - Duration::days(7 * 8)).fetch_optional(x).await? {
            Some(r) => r.opt_date("wk")?,
            None => None,
        }
    });
    let period = obligation::week(week.or(owed).unwrap_or_else(|| ctx.clock.today()));
    let current_id = on_db!(&ctx.db, x => {
        match sqlx::query("SELECT id FROM work_logs WHERE cadre_id = $1 AND week_start = $2")
            .bind(cadre.id).bind(period.start).fetch_optional(x).await? {
            Some(r) => Some(r.i64("id")?),
            None => None,
        }
    });
    let current = match current_id {
        Some(id) => Some(load(ctx, id).await?.0),
        None => None,
    };
    let previous_plan = previous_plan(ctx, cadre.id, period.start).await?;
    if cadre.account_id != Some(p.account_id) && (current.is_some() || !previous_plan.is_empty()) {
        // a department's reading of a cadre's records, through the form: recorded like any other
        audit::record(
            &ctx.db,
            &p.actor(),
            NewEntry {
                action: "work_log.view",
                object_type: "work_log",
                object_id: current
                    .as_ref()
                    .map(|w| w.id.to_string())
                    .unwrap_or_default(),
                before: serde_json::Value::Null,
                after: serde_json::json!({"cadre_id": cadre.id, "week": period.key, "via": "form"}),
            },
        )
        .await?;
    }
    Ok(Mine {
        previous_plan,
        weeks: weeks_of(ctx, cadre.id, 26).await?,
        due_at: super::due_at(period.start, &rules, &ctx.clock.zone()),
        week: period.start,
        week_label: obligation::week_label(period.start),
        week_key: period.key,
        cadre,
        current,
        rules,
    })
}

/// A subtree's week: every weekly reporter with their record's state.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WeekBoard {
    pub week_start: NaiveDate,
    pub week: String,
    pub week_label: String,
    pub due_at: DateTime<Utc>,
    pub reporters: i64,
    /// Reporters who owe this week's record (the others: registered later, or a holiday week).
    pub owed: i64,
    /// Owed and not filed.
    pub missing: i64,
    pub filed: i64,
    pub late: i64,
    pub returned: i64,
    /// Rows matching the filter (the page shows `limit` of them).
    pub matching: i64,
    pub rows: Vec<WeekRow>,
}

/// What the week's view lists.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct WeekFilter {
    pub org_id: Option<i64>,
    /// Any day of the week (default: last week, the one just due).
    #[param(value_type = Option<String>, pattern = r"^([0-9]{4}-[0-9]{2}-[0-9]{2})?$")]
    pub week: Option<NaiveDate>,
    /// filed, missing, late (default all)
    pub state: Option<String>,
    /// Part of a name or unit.
    pub name: Option<String>,
    pub offset: Option<i64>,
    pub limit: Option<i64>,
}

pub async fn week_board(ctx: &Ctx, p: &Principal, f: &WeekFilter) -> AppResult<WeekBoard> {
    p.authorize(Perm::CadreRead, Some(&p.org_path))?;
    let path = crate::cadre::store::scope_path(ctx, p, f.org_id).await?;
    let period = obligation::week(
        checked_week(f.week, "week")?.unwrap_or_else(|| ctx.clock.today() - Duration::days(7)),
    );
    let rules = rules_at(ctx, &path).await?;
    let base = "FROM cadres c JOIN orgs o ON o.id = c.managed_by \
                LEFT JOIN work_logs w ON w.cadre_id = c.id AND w.week_start = $3 \
                LEFT JOIN obligations b ON b.kind = $4 AND b.subject_type = 'cadre' AND b.subject_id = c.id AND b.period = $6 \
                WHERE o.path >= $1 AND o.path < $2 AND c.status = 'active' AND c.weekly_record = $5";
    let mut cond = String::new();
    match f.state.as_deref() {
        Some("filed") => cond.push_str(" AND w.id IS NOT NULL"),
        Some("missing") => cond.push_str(" AND w.id IS NULL AND b.id IS NOT NULL"),
        Some("late") => cond.push_str(" AND w.late = $5"),
        _ => {}
    }
    let name = f
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| {
            format!(
                "%{}%",
                crate::member::store::like_escape(&n.replace('\0', ""))
            )
        })
        .unwrap_or_else(|| "%".into());
    cond.push_str(" AND (c.name LIKE $7 ESCAPE '\\' OR c.unit LIKE $7 ESCAPE '\\')");
    let limit = f.limit.unwrap_or(50).clamp(1, 500);
    let offset = f.offset.unwrap_or(0).clamp(0, 50_000_000);
    let counts_sql = format!(
        "SELECT COUNT(*) AS n, COUNT(w.id) AS filed, SUM(CASE WHEN w.late = $5 THEN 1 ELSE 0 END) AS late, \
         SUM(CASE WHEN w.status = 'returned' THEN 1 ELSE 0 END) AS returned, COUNT(b.id) AS owed, \
         SUM(CASE WHEN b.id IS NOT NULL AND w.id IS NULL THEN 1 ELSE 0 END) AS missing {base}"
    );
    let matching_sql = format!("SELECT COUNT(*) AS n {base}{cond}");
    let rows_sql = format!(
        "SELECT c.id, c.name, c.unit, c.position, $3 AS wk, w.id AS log_id, w.status AS log_status, w.late, w.filed_at, b.status AS ob_status, b.due_at AS ob_due \
         {base}{cond} ORDER BY CASE WHEN w.id IS NULL THEN 0 ELSE 1 END, c.unit, c.name, c.id LIMIT {limit} OFFSET {offset}"
    );
    let upper = path_upper(&path);
    let now = ctx.clock.now();
    let (counts, owed, missing, matching, rows) = on_db!(&ctx.db, x => {
        let r = sqlx::query(&counts_sql).bind(&path).bind(&upper).bind(period.start).bind(OBLIGATION).bind(true).bind(&period.key)
            .fetch_one(x).await?;
        let counts = (r.i64("n")?, r.i64("filed")?, r.opt_i64("late")?.unwrap_or(0), r.opt_i64("returned")?.unwrap_or(0));
        let (owed, missing) = (r.i64("owed")?, r.opt_i64("missing")?.unwrap_or(0));
        let m = sqlx::query(&matching_sql).bind(&path).bind(&upper).bind(period.start).bind(OBLIGATION).bind(true).bind(&period.key).bind(&name)
            .fetch_one(x).await?.i64("n")?;
        let rows = sqlx::query(&rows_sql).bind(&path).bind(&upper).bind(period.start).bind(OBLIGATION).bind(true).bind(&period.key).bind(&name)
            .fetch_all(x).await?;
        (counts, owed, missing, m, rows.iter().map(|r| week_row(r, now)).collect::<DbResult<Vec<_>>>()?)
    });
    let (reporters, filed, late, returned) = counts;
    Ok(WeekBoard {
        due_at: super::due_at(period.start, &rules, &ctx.clock.zone()),
        week_start: period.start,
        week_label: obligation::week_label(period.start),
        week: period.key,
        reporters,
        owed,
        missing,
        filed,
        late,
        returned,
        matching,
        rows,
    })
}

/// One unit's punctuality over a range of weeks.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UnitCompliance {
    pub unit: String,
    pub cadres: i64,
    pub tally: Tally,
    /// Filed on time, per mille of the weeks owed.
    pub on_time_permille: Option<i64>,
}

/// A cadre with weeks filed late or missed in the range.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Laggard {
    pub cadre_id: i64,
    pub name: String,
    pub unit: String,
    pub late: i64,
    pub missed: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Compliance {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub total: Tally,
    pub on_time_permille: Option<i64>,
    pub units: Vec<UnitCompliance>,
    pub laggards: Vec<Laggard>,
}

/// Punctuality per unit of a subtree's weekly reporters, for the weeks starting in
/// [from, to] (default: the last 13 weeks).
pub async fn compliance(
    ctx: &Ctx,
    p: &Principal,
    org_id: Option<i64>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> AppResult<Compliance> {
    p.authorize(Perm::CadreRead, Some(&p.org_path))?;
    let path = crate::cadre::store::scope_path(ctx, p, org_id).await?;
    let to = obligation::monday_of(checked_week(to, "to")?.unwrap_or_else(|| ctx.clock.today()));
    let from =
        obligation::monday_of(checked_week(from, "from")?.unwrap_or(to - Duration::days(7 * 12)));
    if from > to || (to - from).num_days() > 7 * 60 {
        return Err(AppError::field(
            "from",
            "统计区间须在60周以内，且起始不晚于结束",
        ));
    }
    // a report over the subtree: bounded and shared like the other heavy reads
    let key = format!("work_log.compliance|{path}|{from}|{to}");
    ctx.heavy
        .run_cloned(&key, || compliance_of(ctx, path.clone(), from, to))
        .await
}

/// [`compliance`] computed, for the subtree at `path` and the weeks starting in [from, to].
async fn compliance_of(
    ctx: &Ctx,
    path: String,
    from: NaiveDate,
    to: NaiveDate,
) -> AppResult<Compliance> {
    let by = obligation::tally_by_subject(ctx, OBLIGATION, &path, from, to).await?;
    let ids: Vec<i64> = by.keys().copied().collect();
    let mut names: std::collections::HashMap<i64, (String, String)> =
        std::collections::HashMap::new();
    let upper = path_upper(&path);
    for chunk in ids.chunks(500) {
        let list = chunk
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        // integers from the database, inlined; names only of the cadres managed here now (one
        // moved elsewhere keeps their weeks here, under no name)
        on_db!(&ctx.db, x => {
            for r in sqlx::query(&format!("SELECT c.id, c.name, c.unit FROM cadres c JOIN orgs o ON o.id = c.managed_by \
                                           WHERE c.id IN ({list}) AND o.path >= $1 AND o.path < $2"))
                .bind(&path).bind(&upper).fetch_all(x).await? {
                names.insert(r.i64("id")?, (r.string("name")?, r.string("unit")?));
            }
        });
    }
    let mut units: std::collections::BTreeMap<String, (i64, Tally)> = Default::default();
    let mut total = Tally::default();
    let mut laggards = Vec::new();
    for (id, t) in &by {
        let (name, unit) = names
            .get(id)
            .cloned()
            .unwrap_or_else(|| ("（已调出的干部）".into(), "（已调出）".into()));
        let u = units.entry(unit.clone()).or_default();
        u.0 += 1;
        for (a, b) in [
            (&mut u.1.expected, t.expected),
            (&mut u.1.done, t.done),
            (&mut u.1.late, t.late),
            (&mut u.1.missed, t.missed),
            (&mut u.1.open, t.open),
            (&mut total.expected, t.expected),
            (&mut total.done, t.done),
            (&mut total.late, t.late),
            (&mut total.missed, t.missed),
            (&mut total.open, t.open),
        ] {
            *a += b;
        }
        if t.late + t.missed > 0 {
            laggards.push(Laggard {
                cadre_id: *id,
                name,
                unit,
                late: t.late,
                missed: t.missed,
            });
        }
    }
    laggards.sort_by(|a, b| {
        (b.missed, b.late, &a.unit, &a.name).cmp(&(a.missed, a.late, &b.unit, &b.name))
    });
    laggards.truncate(200);
    let mut units: Vec<UnitCompliance> = units
        .into_iter()
        .map(|(unit, (cadres, tally))| UnitCompliance {
            on_time_permille: tally.on_time_permille(),
            unit,
            cadres,
            tally,
        })
        .collect();
    units.sort_by(|a, b| {
        a.on_time_permille
            .cmp(&b.on_time_permille)
            .then(a.unit.cmp(&b.unit))
    });
    Ok(Compliance {
        from,
        to,
        on_time_permille: total.on_time_permille(),
        total,
        units,
        laggards,
    })
}

/// The weekly obligations up to `today`: for the current week and the `weeks - 1` before it
/// (catching up after the server was down), every active cadre filing weekly records who was
/// registered by the week's end owes one, unless the week has no working day and the rules
/// exempt such weeks. Each week is one statement per managing organisation, inserted with the
/// unique key: a run stopped half-way is completed by the next, and nothing is made twice.
pub async fn generate(ctx: &Ctx, today: NaiveDate, weeks: usize) -> AppResult<u64> {
    let weeks = weeks.max(1) as i64;
    let current = obligation::monday_of(today);
    let first = current - Duration::days(7 * (weeks - 1));
    let cal = crate::calendar::store::calendar(&ctx.db, first, current + Duration::days(6)).await?;
    let managers = on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT DISTINCT c.managed_by, o.path FROM cadres c JOIN orgs o ON o.id = c.managed_by \
                                WHERE c.status = 'active' AND c.weekly_record = $1")
            .bind(true).fetch_all(x).await?;
        rows.iter().map(|r| Ok((r.i64("managed_by")?, r.string("path")?))).collect::<DbResult<Vec<_>>>()?
    });
    let zone = ctx.clock.zone();
    let mut made = 0;
    for (org, path) in managers {
        let rules = rules_at(ctx, &path).await?;
        for k in 0..weeks {
            let monday = first + Duration::days(7 * k);
            let period = obligation::week(monday);
            let working =
                (0..7).any(|i| crate::calendar::is_working_day(monday + Duration::days(i), &cal));
            if !working && rules.exempt_weeks_without_working_days {
                continue;
            }
            let due = super::due_at(monday, &rules, &zone);
            let week_end = zone.start_of(monday + Duration::days(7));
            let now = ctx.clock.now();
            let n = on_db!(&ctx.db, x => {
                sqlx::query("INSERT INTO obligations (kind, subject_type, subject_id, scope_org_id, period, period_start, period_end, due_at, missed_at, status, created_at) \
                             SELECT $1, 'cadre', c.id, c.managed_by, $2, $3, $4, $5, $6, 'due', $7 FROM cadres c \
                             WHERE c.managed_by = $8 AND c.status = 'active' AND c.weekly_record = $9 AND c.created_at < $10 \
                             ON CONFLICT (kind, subject_type, subject_id, period) DO NOTHING")
                    .bind(OBLIGATION).bind(&period.key).bind(period.start).bind(period.end).bind(due).bind(super::missed_at(due, &rules))
                    .bind(now).bind(org).bind(true).bind(week_end)
                    .execute(x).await?.rows_affected()
            });
            made += n;
        }
    }
    Ok(made)
}

/// One cadre's week on the public page.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublicRow {
    pub name: String,
    pub unit: String,
    pub position: String,
    pub done: Vec<Item>,
    pub plan: Vec<Item>,
}

/// 周工作调度公示: a committee's cadres' records of one past week, for everyone to read.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublicDispatch {
    pub org_name: String,
    pub week: String,
    pub week_start: NaiveDate,
    pub week_end: NaiveDate,
    /// The week before (for the page's navigation).
    pub previous: NaiveDate,
    /// The week after, when it is past too.
    pub next: Option<NaiveDate>,
    pub rows: Vec<PublicRow>,
}

/// The public dispatch of the committee `org_id` for the week of `week` (default: the last
/// week past its deadline). Not found unless the committee's rules publish it; a week not yet
/// past its deadline is not shown. Only records standing as filed (not returned) appear.
pub async fn public_dispatch(
    ctx: &Ctx,
    org_id: i64,
    week: Option<NaiveDate>,
) -> AppResult<PublicDispatch> {
    let org = crate::org::store::find(&ctx.db, org_id)
        .await?
        .ok_or(AppError::NotFound("公示"))?;
    let rules = rules_at(ctx, &org.path).await?;
    if !rules.public_dispatch {
        return Err(AppError::NotFound("公示"));
    }
    let zone = ctx.clock.zone();
    let now = ctx.clock.now();
    let past = |monday: NaiveDate| super::due_at(monday, &rules, &zone) <= now;
    let mut latest = obligation::monday_of(ctx.clock.today());
    while !past(latest) {
        latest -= Duration::days(7);
    }
    let period = obligation::week(checked_week(week, "week")?.unwrap_or(latest).min(latest));
    let rows = on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT c.name, c.unit, c.position, w.done_json, w.plan_json FROM work_logs w JOIN cadres c ON c.id = w.cadre_id \
                                WHERE c.managed_by = $1 AND w.week_start = $2 AND w.status = 'submitted' ORDER BY c.unit, c.name, c.id LIMIT 1000")
            .bind(org.id).bind(period.start).fetch_all(x).await?;
        rows.iter().map(|r| Ok(PublicRow {
            name: r.string("name")?, unit: r.string("unit")?, position: r.string("position")?,
            done: parse(&r.string("done_json")?), plan: parse(&r.string("plan_json")?),
        })).collect::<DbResult<Vec<_>>>()?
    });
    Ok(PublicDispatch {
        org_name: org.name,
        week: period.key,
        previous: period.start - Duration::days(7),
        next: (period.start < latest).then(|| period.start + Duration::days(7)),
        week_start: period.start,
        week_end: period.end,
        rows,
    })
}

/// The outcome label of a follow-up.
pub fn outcome_label(code: &str) -> &'static str {
    crate::rules::label(&OUTCOMES, code)
}
