//! 工作记实 pages and JSON API: a cadre's week (the form, phone first) and their weeks; one
//! record with its return and addenda; the managing department's week (who has filed) and
//! punctuality per unit (with CSV).

use super::store::{self, Compliance, Mine, NewWorkLog, WeekBoard, WeekFilter, WorkLog};
use super::{Followup, Item, OUTCOMES};
use crate::auth::{Perm, Principal};
use crate::error::{AppError, FieldError};
use crate::web::{form, page_ctx, render, render_status, ApiError, AppState, Auth, PageError};
use crate::Ctx;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use minijinja::context;
use serde::Deserialize;
use std::collections::HashMap;

use super::store::NO_CADRE;

pub fn page_routes() -> Router<AppState> {
    Router::new()
        .route("/work-logs", get(mine_page).post(file_page))
        .route("/work-logs/board", get(board_page))
        .route("/work-logs/compliance", get(compliance_page))
        .route("/work-logs/{id}", get(detail_page))
        .route("/work-logs/{id}/return", post(return_page))
        .route("/work-logs/{id}/addenda", post(addendum_page))
        .route("/dispatch/{id}", get(dispatch_page))
}

pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/work-logs", post(api_file))
        .route("/api/v1/work-logs/mine", get(api_mine))
        .route("/api/v1/work-logs/board", get(api_board))
        .route("/api/v1/work-logs/compliance", get(api_compliance))
        .route("/api/v1/work-logs/{id}", get(api_get))
        .route("/api/v1/work-logs/{id}/return", post(api_return))
        .route("/api/v1/work-logs/{id}/addenda", post(api_addendum))
        .route("/api/v1/dispatch/{id}", get(api_dispatch))
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct MineQuery {
    /// Any day of the week (default: this week).
    #[param(value_type = Option<String>, pattern = r"^([0-9]{4}-[0-9]{2}-[0-9]{2})?$")]
    pub week: Option<NaiveDate>,
    /// Entering for another cadre (the managing department).
    pub cadre_id: Option<i64>,
}

/// Rows the form shows for each part: the items there, and blank rows to add more.
fn rows(items: &[Item], max: i64) -> Vec<Item> {
    let mut v = items.to_vec();
    let want = (items.len() + 3).max(5).min(max.max(1) as usize);
    while v.len() < want {
        v.push(Item::default());
    }
    v
}

/// The form as the page fills it: this week's record if filed, else blanks, and last week's
/// plan with its outcomes.
fn form_of(m: &Mine, sent: Option<&NewWorkLog>) -> minijinja::Value {
    let (done, plan, prior) = match (sent, &m.current) {
        // what was typed, without the blank rows (the form adds its own)
        (Some(s), _) => (
            s.done
                .iter()
                .filter(|i| !i.text.trim().is_empty())
                .cloned()
                .collect(),
            s.plan
                .iter()
                .filter(|i| !i.text.trim().is_empty())
                .cloned()
                .collect(),
            s.followups.clone(),
        ),
        (None, Some(w)) => (w.done.clone(), w.plan.clone(), w.followups.clone()),
        (None, None) => (Vec::new(), Vec::new(), Vec::new()),
    };
    // one row per item of last week's plan as it stands now, with what was said of it
    let followups: Vec<Followup> = m
        .previous_plan
        .iter()
        .enumerate()
        .map(|(i, planned)| {
            let said = prior
                .iter()
                .find(|f| f.text == planned.text)
                .or_else(|| prior.get(i));
            Followup {
                text: planned.text.clone(),
                outcome: said.map(|f| f.outcome.clone()).unwrap_or_default(),
                reason: said.map(|f| f.reason.clone()).unwrap_or_default(),
            }
        })
        .collect();
    context! {
        done => rows(&done, m.rules.max_items), plan => rows(&plan, m.rules.max_items), followups => followups,
    }
}

async fn mine_view(
    ctx: &Ctx,
    p: &Principal,
    q: &MineQuery,
    sent: Option<&NewWorkLog>,
    errors: Vec<FieldError>,
) -> Result<Option<minijinja::Value>, AppError> {
    let m = match store::mine(ctx, p, q.week, q.cadre_id).await {
        Ok(m) => m,
        Err(AppError::Refused { .. }) if q.cadre_id.is_none() => return Ok(None),
        Err(e) => return Err(e),
    };
    let today = ctx.clock.today();
    let this_week = crate::obligation::monday_of(today);
    let for_other = m.cadre.account_id != Some(p.account_id);
    // the department enters a week only for a cadre without an account, or one not yet filed
    let filed_by_cadre = for_other && m.cadre.account_id.is_some() && m.current.is_some();
    let editable = m.current.as_ref().is_none_or(|w| !w.locked)
        && m.week <= today
        && m.cadre.status == "active"
        && m.cadre.weekly_record
        && !filed_by_cadre;
    Ok(Some(context! {
        form => form_of(&m, sent), errors => errors, outcomes => OUTCOMES, editable => editable,
        prev_week => m.week - chrono::Duration::days(7),
        next_week => (m.week < this_week).then(|| m.week + chrono::Duration::days(7)),
        for_other => for_other, filed_by_cadre => filed_by_cadre,
        can_board => p.can(Perm::CadreRead), today => today, wk => m,
    }))
}

async fn mine_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<MineQuery>,
) -> Result<Response, PageError> {
    match mine_view(&ctx, &p, &q, None, Vec::new()).await? {
        Some(v) => Ok(render("work_logs.html", page_ctx(&p, "work_logs", v))),
        None if p.can(Perm::CadreRead) => Ok(Redirect::to("/work-logs/board").into_response()),
        None => Err(AppError::refused("work_log.no_cadre", NO_CADRE).into()),
    }
}

fn items_from(f: &HashMap<String, String>, part: &str) -> Vec<Item> {
    (0..60)
        .filter_map(|i| {
            f.get(&format!("{part}_text_{i}")).map(|t| Item {
                text: t.clone(),
                party: f
                    .get(&format!("{part}_party_{i}"))
                    .is_some_and(|v| v == "1" || v == "on"),
            })
        })
        .collect()
}

fn followups_from(f: &HashMap<String, String>) -> Vec<Followup> {
    (0..60)
        .filter_map(|i| {
            f.get(&format!("fu_text_{i}")).map(|t| Followup {
                text: t.clone(),
                outcome: form::text(f, &format!("fu_outcome_{i}")),
                reason: form::text(f, &format!("fu_reason_{i}")),
            })
        })
        .collect()
}

async fn file_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    // a week or cadre that does not read as one is refused, never taken for "this week" or
    // "my own"
    for (k, ok) in [
        ("week", form::date(&f, "week").is_some()),
        ("cadre_id", form::opt_num(&f, "cadre_id").is_some()),
    ] {
        if !ok && f.get(k).is_some_and(|v| !v.trim().is_empty()) {
            return Err(AppError::field(k, "参数格式有误").into());
        }
    }
    if form::opt_num(&f, "cadre_id").is_none()
        && crate::cadre::store::of_account(&ctx, p.account_id)
            .await?
            .is_none()
    {
        return Err(AppError::refused("work_log.no_cadre", NO_CADRE).into());
    }
    let input = NewWorkLog {
        cadre_id: form::opt_num(&f, "cadre_id"),
        week: form::date(&f, "week"),
        done: items_from(&f, "done"),
        plan: items_from(&f, "plan"),
        followups: followups_from(&f),
    };
    match store::file(&ctx, &p, &input).await {
        Ok(w) => {
            Ok(Redirect::to(&format!("/work-logs/{}?ok=work_log_filed", w.id)).into_response())
        }
        Err(e @ (AppError::Validation(_) | AppError::Refused { .. } | AppError::Conflict(_))) => {
            let q = MineQuery {
                week: input.week,
                cadre_id: input.cadre_id,
            };
            let v = mine_view(
                &ctx,
                &p,
                &q,
                Some(&input),
                crate::web::field_errors(e, "form"),
            )
            .await?
            .ok_or(AppError::NotFound("干部"))?;
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "work_logs.html",
                page_ctx(&p, "work_logs", v),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

async fn detail_view(
    ctx: &Ctx,
    p: &Principal,
    id: i64,
    errors: Vec<FieldError>,
) -> Result<minijinja::Value, AppError> {
    let w = store::open(ctx, p, id).await?;
    // the record's cadre, read once: who manages them, whether they file for themselves
    let (cadre, path) = crate::cadre::store::load(ctx, w.cadre_id).await?;
    let manages = p.in_scope(&path) && p.can(Perm::CadreWrite);
    let mine = cadre.account_id == Some(p.account_id);
    let cadre_has_account = cadre.account_id.is_some();
    Ok(context! {
        w => w, manages => manages, mine => mine, errors => errors, outcomes => OUTCOMES,
        cadre_has_account => cadre_has_account,
    })
}

async fn detail_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let v = detail_view(&ctx, &p, id, Vec::new()).await?;
    Ok(render("work_log.html", page_ctx(&p, "work_logs", v)))
}

async fn after(
    ctx: &Ctx,
    p: &Principal,
    id: i64,
    ok: &str,
    r: Result<WorkLog, AppError>,
) -> Result<Response, PageError> {
    match r {
        Ok(_) => Ok(Redirect::to(&format!("/work-logs/{id}?ok={ok}")).into_response()),
        Err(e @ (AppError::Validation(_) | AppError::Refused { .. } | AppError::Conflict(_))) => {
            let v = detail_view(ctx, p, id, crate::web::field_errors(e, "form")).await?;
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "work_log.html",
                page_ctx(p, "work_logs", v),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

async fn return_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let r = store::return_log(&ctx, &p, id, &form::text(&f, "comment")).await;
    after(&ctx, &p, id, "work_log_returned", r).await
}

async fn addendum_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let r = store::add_addendum(&ctx, &p, id, &form::text(&f, "body")).await;
    after(&ctx, &p, id, "work_log_addendum", r).await
}

const PAGE: i64 = 50;

#[derive(Deserialize, Default)]
#[serde(default)]
struct BoardQuery {
    org_id: Option<i64>,
    week: Option<NaiveDate>,
    state: Option<String>,
    name: Option<String>,
    page: Option<i64>,
}

async fn board_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<BoardQuery>,
) -> Result<Response, PageError> {
    let page = q.page.unwrap_or(1).clamp(1, 100_000);
    let f = WeekFilter {
        org_id: q.org_id,
        week: q.week,
        state: q.state.clone(),
        name: q.name.clone(),
        offset: Some((page - 1) * PAGE),
        limit: Some(PAGE),
    };
    let b = store::week_board(&ctx, &p, &f).await?;
    let org = crate::cadre::store::scope_org(&ctx, &p, q.org_id).await?;
    let pages = ((b.matching + PAGE - 1) / PAGE).max(1);
    let mut qs = url::form_urlencoded::Serializer::new(String::new());
    qs.append_pair("week", &b.week_start.to_string());
    for (k, v) in [("state", q.state.as_deref()), ("name", q.name.as_deref())] {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            qs.append_pair(k, v);
        }
    }
    if q.org_id.is_some() {
        qs.append_pair("org_id", &org.id.to_string());
    }
    let this_week = crate::obligation::monday_of(ctx.clock.today());
    let v = context! {
        b => b, org => org, filter => context! { state => q.state, name => q.name },
        page => context! { page => page.min(pages), total => b.matching }, pages => pages, qs => qs.finish(),
        prev_week => b.week_start - chrono::Duration::days(7),
        next_week => (b.week_start < this_week).then(|| b.week_start + chrono::Duration::days(7)),
        can_write => p.can(Perm::CadreWrite),
    };
    Ok(render("work_log_board.html", page_ctx(&p, "work_logs", v)))
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct ComplianceQuery {
    pub org_id: Option<i64>,
    /// First week (any day of it); default 12 weeks before `to`.
    #[param(value_type = Option<String>, pattern = r"^([0-9]{4}-[0-9]{2}-[0-9]{2})?$")]
    pub from: Option<NaiveDate>,
    /// Last week (any day of it); default this week.
    #[param(value_type = Option<String>, pattern = r"^([0-9]{4}-[0-9]{2}-[0-9]{2})?$")]
    pub to: Option<NaiveDate>,
    /// `csv` for the file.
    pub format: Option<String>,
}

fn rate(permille: Option<i64>) -> String {
    permille
        .map(|x| format!("{}.{}%", x / 10, x % 10))
        .unwrap_or_else(|| "—".into())
}

async fn compliance_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<ComplianceQuery>,
) -> Result<Response, PageError> {
    let c = store::compliance(&ctx, &p, q.org_id, q.from, q.to).await?;
    let org = crate::cadre::store::scope_org(&ctx, &p, q.org_id).await?;
    if q.format.as_deref() == Some("csv") {
        let rows = c
            .units
            .iter()
            .map(|u| {
                vec![
                    u.unit.clone(),
                    u.cadres.to_string(),
                    u.tally.expected.to_string(),
                    u.tally.done.to_string(),
                    u.tally.late.to_string(),
                    u.tally.missed.to_string(),
                    u.tally.open.to_string(),
                    rate(u.on_time_permille),
                ]
            })
            .collect();
        return Ok(crate::web::csv_export(
            &ctx,
            &p,
            crate::web::CsvExport {
                action: "work_log.compliance_export",
                object_type: "work_log",
                title: format!("工作记实按时率-{}", org.name),
                header: &[
                    "单位",
                    "干部数",
                    "应报周数",
                    "按时",
                    "迟报",
                    "未报",
                    "待报",
                    "按时率",
                ],
                rows,
                asked: serde_json::json!({"org_id": org.id, "from": c.from, "to": c.to}),
            },
        )
        .await?);
    }
    let rates: Vec<String> = c.units.iter().map(|u| rate(u.on_time_permille)).collect();
    let v = context! { c => c, org => org, rates => rates, total_rate => rate(c.on_time_permille) };
    Ok(render(
        "work_log_compliance.html",
        page_ctx(&p, "work_logs", v),
    ))
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct DispatchQuery {
    /// Any day of a past week (default: the last one past its deadline).
    #[param(value_type = Option<String>, pattern = r"^([0-9]{4}-[0-9]{2}-[0-9]{2})?$")]
    pub week: Option<NaiveDate>,
}

/// 周工作调度公示: open to anyone where the committee's rules publish it.
async fn dispatch_page(
    State(ctx): State<AppState>,
    crate::web::BrowserLang(lang): crate::web::BrowserLang,
    Path(id): Path<i64>,
    Query(q): Query<DispatchQuery>,
) -> Result<Response, PageError> {
    let d = store::public_dispatch(&ctx, id, q.week).await?;
    Ok(render(
        "work_log_dispatch.html",
        context! { lang => lang.code(), d => d, org_id => id },
    ))
}

// ---- API ----

/// 周工作调度公示 of a committee's cadres for a past week (no account needed; 404 unless the
/// committee's rules publish it).
#[utoipa::path(get, path = "/api/v1/dispatch/{id}", tag = "work_logs", params(("id" = i64, Path), DispatchQuery),
    responses((status = 200, body = store::PublicDispatch), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_dispatch(
    State(ctx): State<AppState>,
    Path(id): Path<i64>,
    Query(q): Query<DispatchQuery>,
) -> Result<Json<store::PublicDispatch>, ApiError> {
    Ok(Json(store::public_dispatch(&ctx, id, q.week).await?))
}

/// Files (or refiles, until it locks) a week's record: the caller's own, or — for the
/// managing department — a cadre's (`cadre_id`, recorded as entered for them).
#[utoipa::path(post, path = "/api/v1/work-logs", tag = "work_logs", request_body = NewWorkLog,
    responses((status = 200, body = WorkLog), (status = 403, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_file(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Json(b): Json<NewWorkLog>,
) -> Result<Json<WorkLog>, ApiError> {
    Ok(Json(store::file(&ctx, &p, &b).await?))
}

/// The caller's week (its record if filed, last week's plan to follow up) and recent weeks.
#[utoipa::path(get, path = "/api/v1/work-logs/mine", tag = "work_logs", params(MineQuery),
    responses((status = 200, body = Mine), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_mine(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<MineQuery>,
) -> Result<Json<Mine>, ApiError> {
    Ok(Json(store::mine(&ctx, &p, q.week, q.cadre_id).await?))
}

/// One record (a managing department's reading is audited).
#[utoipa::path(get, path = "/api/v1/work-logs/{id}", tag = "work_logs", params(("id" = i64, Path)),
    responses((status = 200, body = WorkLog), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_get(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<WorkLog>, ApiError> {
    Ok(Json(store::open(&ctx, &p, id).await?))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(default)]
pub struct CommentBody {
    pub comment: String,
}

/// Returns a record to its cadre with a comment (before it locks).
#[utoipa::path(post, path = "/api/v1/work-logs/{id}/return", tag = "work_logs", params(("id" = i64, Path)), request_body = CommentBody,
    responses((status = 200, body = WorkLog), (status = 403, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_return(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<CommentBody>,
) -> Result<Json<WorkLog>, ApiError> {
    Ok(Json(store::return_log(&ctx, &p, id, &b.comment).await?))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(default)]
pub struct AddendumBody {
    pub body: String,
}

/// Adds an addendum (the only change once a record is locked).
#[utoipa::path(post, path = "/api/v1/work-logs/{id}/addenda", tag = "work_logs", params(("id" = i64, Path)), request_body = AddendumBody,
    responses((status = 200, body = WorkLog), (status = 403, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_addendum(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<AddendumBody>,
) -> Result<Json<WorkLog>, ApiError> {
    Ok(Json(store::add_addendum(&ctx, &p, id, &b.body).await?))
}

/// A subtree's week: who has filed, late, returned, not yet (default: last week).
#[utoipa::path(get, path = "/api/v1/work-logs/board", tag = "work_logs", params(WeekFilter),
    responses((status = 200, body = WeekBoard), (status = 403, body = crate::web::ErrorBody)))]
pub async fn api_board(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(f): Query<WeekFilter>,
) -> Result<Json<WeekBoard>, ApiError> {
    Ok(Json(store::week_board(&ctx, &p, &f).await?))
}

/// Punctuality per unit over a range of weeks, with the cadres late or missing.
#[utoipa::path(get, path = "/api/v1/work-logs/compliance", tag = "work_logs", params(ComplianceQuery),
    responses((status = 200, body = Compliance), (status = 403, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_compliance(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<ComplianceQuery>,
) -> Result<Json<Compliance>, ApiError> {
    Ok(Json(
        store::compliance(&ctx, &p, q.org_id, q.from, q.to).await?,
    ))
}
