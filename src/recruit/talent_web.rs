//! 向阳计划 pages and JSON API: the pools × channels table with the people being followed up,
//! one person's page with their follow-ups, and the way out of the pool (an application,
//! which links the recruitment file, or a withdrawal with its reason).

use super::talent::{
    self, Contact, ContactInput, NewTalent, Summary, Talent, TalentFilter, CHANNELS, POOLS,
    STATUSES,
};
use crate::auth::{Perm, Principal};
use crate::error::{AppError, FieldError};
use crate::web::{
    authorize, form, page_ctx, render, render_status, ApiError, AppState, Auth, PageError,
};
use crate::Ctx;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use minijinja::context;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub fn page_routes() -> Router<AppState> {
    Router::new()
        .route("/talents", get(list_page).post(add_page))
        .route("/talents/{id}", get(detail_page))
        .route("/talents/{id}/contacts", post(contact_page))
        .route("/talents/{id}/withdraw", post(withdraw_page))
}

pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/talents", get(api_list).post(api_add))
        .route("/api/v1/talents/summary", get(api_summary))
        .route("/api/v1/talents/{id}", get(api_get))
        .route("/api/v1/talents/{id}/contacts", post(api_contact))
        .route("/api/v1/talents/{id}/withdraw", post(api_withdraw))
}

async fn load(ctx: &Ctx, p: &Principal, id: i64, perm: Perm) -> Result<Talent, AppError> {
    let (t, path) = talent::get(ctx, id).await?;
    authorize(ctx, p, perm, Some(&path)).await?;
    Ok(t)
}

async fn scope(ctx: &Ctx, p: &Principal, org_id: Option<i64>) -> Result<crate::org::Org, AppError> {
    crate::org::web::load(ctx, p, org_id.unwrap_or(p.org_id), Perm::RecruitRead).await
}

async fn add_checked(ctx: &Ctx, p: &Principal, input: &NewTalent) -> Result<Talent, AppError> {
    crate::org::web::load(ctx, p, input.org_id, Perm::RecruitWrite)
        .await
        .map_err(|e| match e {
            AppError::NotFound(_) => AppError::field("org_id", "请选择党组织"),
            other => other,
        })?;
    talent::add(ctx, p, input).await
}

#[derive(Serialize)]
struct Row {
    t: Talent,
    pool_label: &'static str,
    channel_label: &'static str,
    status_label: &'static str,
    overdue: bool,
}

fn rows(list: Vec<Talent>, today: NaiveDate) -> Vec<Row> {
    list.into_iter()
        .map(|t| Row {
            pool_label: t.pool_label(),
            channel_label: t.channel_label(),
            status_label: t.status_label(),
            overdue: t.due_on.is_some_and(|d| d < today),
            t,
        })
        .collect()
}

fn qs(f: &TalentFilter) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    if let Some(v) = f.org_id {
        s.append_pair("org_id", &v.to_string());
    }
    for (k, v) in [
        ("pool", &f.pool),
        ("channel", &f.channel),
        ("status", &f.status),
        ("due", &f.due),
        ("q", &f.q),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            s.append_pair(k, v);
        }
    }
    s.finish()
}

async fn list_view(
    ctx: &Ctx,
    p: &Principal,
    f: &TalentFilter,
    form: NewTalent,
    errors: Vec<FieldError>,
) -> Result<minijinja::Value, AppError> {
    let org = scope(ctx, p, f.org_id).await?;
    let (list, total) = talent::list(ctx, &org.path, f).await?;
    let summary = talent::summary(ctx, &org.path).await?;
    let pages = crate::web::page_count(total, talent::PER_PAGE);
    let orgs = crate::org::store::pick_list(
        &ctx.db,
        &p.org_path,
        crate::org::store::Pick::All,
        &[form.org_id],
    )
    .await?;
    Ok(context! {
        org => org, rows => rows(list, ctx.clock.today()), f => f, summary => summary,
        tracking => summary.total("tracking"), applied => summary.total("applied"), withdrawn => summary.total("withdrawn"),
        pools => POOLS, channels => CHANNELS, statuses => STATUSES,
        page => context! { page => f.page.unwrap_or(1).clamp(1, pages), total => total }, pages => pages, qs => qs(f),
        can_write => p.can(Perm::RecruitWrite), orgs => orgs, form => form, errors => errors,
        today => ctx.clock.today(),
    })
}

async fn list_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(f): Query<TalentFilter>,
) -> Result<Response, PageError> {
    let form = NewTalent {
        org_id: f.org_id.unwrap_or(p.org_id),
        recommended_on: Some(ctx.clock.today()),
        ..Default::default()
    };
    let v = list_view(&ctx, &p, &f, form, Vec::new()).await?;
    Ok(render("talents.html", page_ctx(&p, "recruits", v)))
}

async fn add_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let input = NewTalent {
        org_id: f
            .get("org_id")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0),
        pool: form::text(&f, "pool"),
        channel: form::text(&f, "channel"),
        name: form::text(&f, "name"),
        id_number: form::text(&f, "id_number"),
        phone: form::text(&f, "phone"),
        work_unit: form::text(&f, "work_unit"),
        recommender: form::text(&f, "recommender"),
        recommended_on: form::date(&f, "recommended_on"),
        reason: form::text(&f, "reason"),
    };
    match add_checked(&ctx, &p, &input).await {
        Ok(t) => Ok(Redirect::to(&format!("/talents/{}?ok=saved", t.id)).into_response()),
        Err(e @ (AppError::Validation(_) | AppError::Refused { .. })) => {
            let errors = crate::web::field_errors(e, "name");
            let v = list_view(&ctx, &p, &TalentFilter::default(), input, errors).await?;
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "talents.html",
                page_ctx(&p, "recruits", v),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

async fn detail_view(
    ctx: &Ctx,
    p: &Principal,
    t: Talent,
    errors: Vec<FieldError>,
) -> Result<minijinja::Value, AppError> {
    let contacts = talent::contacts(ctx, t.id).await?;
    Ok(context! {
        pool_label => t.pool_label(), channel_label => t.channel_label(), status_label => t.status_label(),
        overdue => t.due_on.is_some_and(|d| d < ctx.clock.today()),
        person => t, contacts => contacts, errors => errors, today => ctx.clock.today(),
        can_write => p.can(Perm::RecruitWrite),
    })
}

async fn detail_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let t = load(&ctx, &p, id, Perm::RecruitRead).await?;
    let v = detail_view(&ctx, &p, t, Vec::new()).await?;
    Ok(render("talent.html", page_ctx(&p, "recruits", v)))
}

/// Runs a change from the person's page: back to the page when it works, the page with the
/// reason when it is refused.
async fn act<Fut>(ctx: &Ctx, p: &Principal, id: i64, fut: Fut) -> Result<Response, PageError>
where
    Fut: std::future::Future<Output = Result<(), AppError>>,
{
    load(ctx, p, id, Perm::RecruitWrite).await?;
    match fut.await {
        Ok(()) => Ok(Redirect::to(&format!("/talents/{id}?ok=saved")).into_response()),
        Err(e @ (AppError::Validation(_) | AppError::Refused { .. } | AppError::Conflict(_))) => {
            let t = load(ctx, p, id, Perm::RecruitRead).await?;
            let v = detail_view(ctx, p, t, crate::web::field_errors(e, "form")).await?;
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "talent.html",
                page_ctx(p, "recruits", v),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

async fn contact_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let input = ContactInput {
        done_on: form::date(&f, "done_on"),
        note: form::text(&f, "note"),
    };
    act(&ctx, &p, id, async {
        talent::add_contact(&ctx, &p, id, &input).await.map(|_| ())
    })
    .await
}

async fn withdraw_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let reason = form::text(&f, "reason");
    act(&ctx, &p, id, async {
        talent::withdraw(&ctx, &p, id, &reason).await.map(|_| ())
    })
    .await
}

// ---- JSON API ----

#[derive(Serialize, utoipa::ToSchema)]
pub struct TalentPage {
    pub items: Vec<Talent>,
    pub total: i64,
}

/// People in the talent pools (向阳计划) of the caller's subtree, overdue follow-ups first.
#[utoipa::path(get, path = "/api/v1/talents", tag = "talents", params(TalentFilter),
    responses((status = 200, body = TalentPage), (status = 403, body = crate::web::ErrorBody)))]
pub async fn api_list(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(f): Query<TalentFilter>,
) -> Result<Json<TalentPage>, ApiError> {
    let org = scope(&ctx, &p, f.org_id).await?;
    let (items, total) = talent::list(&ctx, &org.path, &f).await?;
    Ok(Json(TalentPage { items, total }))
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct SummaryQuery {
    pub org_id: Option<i64>,
}

/// Three pools × three channels: how many are followed up, applied, withdrawn.
#[utoipa::path(get, path = "/api/v1/talents/summary", tag = "talents", params(SummaryQuery),
    responses((status = 200, body = Summary), (status = 403, body = crate::web::ErrorBody)))]
pub async fn api_summary(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<SummaryQuery>,
) -> Result<Json<Summary>, ApiError> {
    let org = scope(&ctx, &p, q.org_id).await?;
    Ok(Json(talent::summary(&ctx, &org.path).await?))
}

/// Enters a recommended person into a pool.
#[utoipa::path(post, path = "/api/v1/talents", tag = "talents", request_body = NewTalent,
    responses((status = 200, body = Talent), (status = 422, body = crate::web::ErrorBody), (status = 403, body = crate::web::ErrorBody)))]
pub async fn api_add(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Json(b): Json<NewTalent>,
) -> Result<Json<Talent>, ApiError> {
    Ok(Json(add_checked(&ctx, &p, &b).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TalentFile {
    pub talent: Talent,
    pub contacts: Vec<Contact>,
}

/// One person in a pool with their follow-ups.
#[utoipa::path(get, path = "/api/v1/talents/{id}", tag = "talents", params(("id" = i64, Path)),
    responses((status = 200, body = TalentFile), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_get(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<TalentFile>, ApiError> {
    let t = load(&ctx, &p, id, Perm::RecruitRead).await?;
    Ok(Json(TalentFile {
        contacts: talent::contacts(&ctx, id).await?,
        talent: t,
    }))
}

/// Records a follow-up (跟踪培养) and moves the next due date.
#[utoipa::path(post, path = "/api/v1/talents/{id}/contacts", tag = "talents", params(("id" = i64, Path)), request_body = ContactInput,
    responses((status = 200, body = Contact), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_contact(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<ContactInput>,
) -> Result<Json<Contact>, ApiError> {
    load(&ctx, &p, id, Perm::RecruitWrite).await?;
    Ok(Json(talent::add_contact(&ctx, &p, id, &b).await?))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(default)]
pub struct WithdrawBody {
    pub reason: String,
}

/// Takes a person out of the pool with the reason.
#[utoipa::path(post, path = "/api/v1/talents/{id}/withdraw", tag = "talents", params(("id" = i64, Path)), request_body = WithdrawBody,
    responses((status = 200, body = Talent), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_withdraw(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<WithdrawBody>,
) -> Result<Json<Talent>, ApiError> {
    load(&ctx, &p, id, Perm::RecruitWrite).await?;
    Ok(Json(talent::withdraw(&ctx, &p, id, &b.reason).await?))
}
