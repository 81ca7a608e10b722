//! 干部名册 pages and JSON API: the list of a subtree's cadres with a filter, adding a cadre,
//! one cadre with their change form, obligations and weekly records.

use super::store::{self, Cadre, CadreFilter, CadrePage, NewCadre};
use super::{CATEGORIES, RANKS, STATUSES};
use crate::auth::{Perm, Principal};
use crate::error::{AppError, FieldError};
use crate::web::{form, page_ctx, render, render_status, ApiError, AppState, Auth, PageError};
use crate::Ctx;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use minijinja::context;
use std::collections::HashMap;

pub fn page_routes() -> Router<AppState> {
    Router::new()
        .route("/cadres", get(list_page).post(create_page))
        .route("/cadres/{id}", get(detail_page).post(update_page))
}

pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/cadres", get(api_list).post(api_create))
        .route("/api/v1/cadres/{id}", get(api_get).put(api_update))
        .route("/api/v1/cadres/{id}/obligations", get(api_obligations))
}

const PAGE: i64 = 50;

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct ListQuery {
    org_id: Option<i64>,
    name: Option<String>,
    category: Option<String>,
    status: Option<String>,
    page: Option<i64>,
}

fn blank(p: &Principal) -> NewCadre {
    NewCadre {
        managed_by: p.org_id,
        rank: "section_chief".into(),
        category: "section".into(),
        weekly_record: true,
        ..Default::default()
    }
}

async fn list_view(
    ctx: &Ctx,
    p: &Principal,
    q: &ListQuery,
    new: NewCadre,
    errors: Vec<FieldError>,
) -> Result<minijinja::Value, AppError> {
    let page = q.page.unwrap_or(1).clamp(1, 100_000);
    let f = CadreFilter {
        org_id: q.org_id,
        name: q.name.clone(),
        category: q.category.clone(),
        status: q.status.clone(),
        offset: Some((page - 1) * PAGE),
        limit: Some(PAGE),
    };
    let list = store::list(ctx, p, &f).await?;
    let org = crate::cadre::store::scope_org(ctx, p, q.org_id).await?;
    let managed_name = crate::org::store::find(&ctx.db, new.managed_by)
        .await?
        .filter(|o| p.in_scope(&o.path))
        .map(|o| o.name)
        .unwrap_or_default();
    let pages = ((list.total + PAGE - 1) / PAGE).max(1);
    let mut qs = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("name", q.name.as_deref()),
        ("category", q.category.as_deref()),
        ("status", q.status.as_deref()),
    ] {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            qs.append_pair(k, v);
        }
    }
    if q.org_id.is_some() {
        qs.append_pair("org_id", &org.id.to_string());
    }
    Ok(context! {
        list => list, org => org, filter => context! { name => q.name, category => q.category, status => q.status },
        page => context! { page => page.min(pages), total => list.total }, pages => pages, qs => qs.finish(),
        can_write => p.can(Perm::CadreWrite), form => new, managed_name => managed_name, errors => errors,
        ranks => RANKS, categories => CATEGORIES, statuses => STATUSES,
    })
}

async fn list_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    let v = list_view(&ctx, &p, &q, blank(&p), Vec::new()).await?;
    Ok(render("cadres.html", page_ctx(&p, "cadres", v)))
}

fn from_fields(f: &HashMap<String, String>) -> NewCadre {
    NewCadre {
        name: form::text(f, "name"),
        managed_by: form::num(f, "managed_by"),
        unit: form::text(f, "unit"),
        position: form::text(f, "position"),
        rank: form::text(f, "rank"),
        category: form::text(f, "category"),
        member_id: form::opt_num(f, "member_id"),
        account: Some(form::text(f, "account")).filter(|a| !a.is_empty()),
        weekly_record: f
            .get("weekly_record")
            .is_some_and(|v| v == "1" || v == "on"),
        status: form::text(f, "status"),
        version: form::opt_num(f, "version"),
    }
}

/// A member number typed that is not one: refused, never dropped.
fn member_typed(f: &HashMap<String, String>) -> Result<(), AppError> {
    if form::opt_num(f, "member_id").is_none()
        && f.get("member_id").is_some_and(|v| !v.trim().is_empty())
    {
        return Err(AppError::field("member_id", "党员编号应为数字"));
    }
    Ok(())
}

async fn create_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let input = from_fields(&f);
    let r = match member_typed(&f) {
        Ok(()) => store::create(&ctx, &p, &input).await,
        Err(e) => Err(e),
    };
    match r {
        Ok(c) => Ok(Redirect::to(&format!("/cadres/{}?ok=cadre_saved", c.id)).into_response()),
        Err(e @ (AppError::Validation(_) | AppError::Refused { .. })) => {
            let v = list_view(
                &ctx,
                &p,
                &ListQuery::default(),
                input,
                crate::web::field_errors(e, "name"),
            )
            .await?;
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "cadres.html",
                page_ctx(&p, "cadres", v),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

async fn detail_view(
    ctx: &Ctx,
    p: &Principal,
    c: Cadre,
    form: Option<NewCadre>,
    errors: Vec<FieldError>,
) -> Result<minijinja::Value, AppError> {
    let weeks = crate::work_log::store::weeks_of(ctx, c.id, 26).await?;
    // the red/black ledger of their postings as first secretary goes into their record
    let ledger = crate::first_secretary::store::cadre_ledger(ctx, c.id).await?;
    let (red, black) = crate::first_secretary::store::ledger_totals(
        ctx,
        crate::first_secretary::store::LedgerOf::Cadre,
        c.id,
    )
    .await?;
    let history = if p.can(Perm::CadreWrite) {
        crate::audit::history_in_words(&ctx.db, "cadre", &c.id.to_string()).await?
    } else {
        Vec::new()
    };
    let form = form.unwrap_or_else(|| NewCadre {
        name: c.name.clone(),
        managed_by: c.managed_by,
        unit: c.unit.clone(),
        position: c.position.clone(),
        rank: c.rank.clone(),
        category: c.category.clone(),
        member_id: c.member_id,
        account: c.account.clone(),
        weekly_record: c.weekly_record,
        status: c.status.clone(),
        version: Some(c.version),
    });
    let managed_name = crate::org::store::find(&ctx.db, form.managed_by)
        .await?
        .filter(|o| p.in_scope(&o.path))
        .map(|o| o.name)
        .unwrap_or_default();
    Ok(context! {
        c => c, weeks => weeks, ledger => ledger, red => red, black => black, history => history, form => form, errors => errors, managed_name => managed_name,
        can_write => p.can(Perm::CadreWrite), ranks => RANKS, categories => CATEGORIES, statuses => STATUSES,
    })
}

async fn detail_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let c = store::get(&ctx, &p, id).await?;
    let v = detail_view(&ctx, &p, c, None, Vec::new()).await?;
    Ok(render("cadre.html", page_ctx(&p, "cadres", v)))
}

async fn update_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let input = from_fields(&f);
    let r = match member_typed(&f) {
        Ok(()) => store::update(&ctx, &p, id, &input).await,
        Err(e) => Err(e),
    };
    match r {
        Ok(c) => Ok(Redirect::to(&format!("/cadres/{}?ok=cadre_saved", c.id)).into_response()),
        Err(e @ (AppError::Validation(_) | AppError::Refused { .. } | AppError::Conflict(_))) => {
            let c = store::get(&ctx, &p, id).await?;
            let v = detail_view(
                &ctx,
                &p,
                c,
                Some(input),
                crate::web::field_errors(e, "name"),
            )
            .await?;
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "cadre.html",
                page_ctx(&p, "cadres", v),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

// ---- API ----

/// The cadres managed in the caller's subtree (or an organisation of it).
#[utoipa::path(get, path = "/api/v1/cadres", tag = "cadres", params(CadreFilter),
    responses((status = 200, body = CadrePage), (status = 403, body = crate::web::ErrorBody)))]
pub async fn api_list(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(f): Query<CadreFilter>,
) -> Result<Json<CadrePage>, ApiError> {
    Ok(Json(store::list(&ctx, &p, &f).await?))
}

/// Registers a cadre (managed by a Party committee of the caller's subtree).
#[utoipa::path(post, path = "/api/v1/cadres", tag = "cadres", request_body = NewCadre,
    responses((status = 200, body = Cadre), (status = 403, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_create(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Json(b): Json<NewCadre>,
) -> Result<Json<Cadre>, ApiError> {
    Ok(Json(store::create(&ctx, &p, &b).await?))
}

#[utoipa::path(get, path = "/api/v1/cadres/{id}", tag = "cadres", params(("id" = i64, Path)),
    responses((status = 200, body = Cadre), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_get(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Cadre>, ApiError> {
    Ok(Json(store::get(&ctx, &p, id).await?))
}

/// Changes a cadre (all fields; `version` as read, a stale one answers 409).
#[utoipa::path(put, path = "/api/v1/cadres/{id}", tag = "cadres", params(("id" = i64, Path)), request_body = NewCadre,
    responses((status = 200, body = Cadre), (status = 409, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_update(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<NewCadre>,
) -> Result<Json<Cadre>, ApiError> {
    Ok(Json(store::update(&ctx, &p, id, &b).await?))
}

/// A cadre's cadence obligations (weekly records, ...), newest period first.
#[utoipa::path(get, path = "/api/v1/cadres/{id}/obligations", tag = "cadres", params(("id" = i64, Path)),
    responses((status = 200, body = [crate::obligation::Obligation]), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_obligations(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Vec<crate::obligation::Obligation>>, ApiError> {
    let c = store::get(&ctx, &p, id).await?;
    Ok(Json(
        crate::obligation::of_subject(&ctx, "cadre", c.id, 200)
            .await
            .map_err(AppError::from)?,
    ))
}
