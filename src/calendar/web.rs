//! 节假日日历: the holiday page and its API. Everyone who reads rules reads the calendar;
//! only an account of a root organisation with `RuleWrite` changes it, since it is the whole
//! platform's.

use super::store::{self, YearView};
use super::Day;
use crate::auth::{Perm, Principal};
use crate::error::{AppError, FieldError};
use crate::web::{authorize, form, page_ctx, render_status, ApiError, AppState, Auth, PageError};
use crate::Ctx;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::Datelike;
use minijinja::context;
use serde::Deserialize;
use std::collections::HashMap;

pub fn page_routes() -> Router<AppState> {
    Router::new()
        .route("/calendar", get(calendar_page).post(calendar_submit))
        // the page's former address, under 发展党员
        .route(
            "/recruits/calendar",
            get(|| async { Redirect::permanent("/calendar") }),
        )
}

pub fn api_routes() -> Router<AppState> {
    Router::new().route("/api/v1/calendar/{year}", get(api_year).put(api_replace))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct YearQuery {
    year: Option<i32>,
}

/// The root organisation's path: the calendar's changes need the whole tree in scope.
async fn root_path(ctx: &Ctx, p: &Principal) -> Result<String, AppError> {
    let root = p
        .org_path
        .trim_matches('/')
        .split('/')
        .next()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or(AppError::NotFound("党组织"))?;
    Ok(crate::org::store::get(&ctx.db, root).await?.path)
}

async fn may_edit(ctx: &Ctx, p: &Principal) -> bool {
    match root_path(ctx, p).await {
        Ok(root) => p.authorize(Perm::RuleWrite, Some(&root)).is_ok(),
        Err(_) => false,
    }
}

fn lines_of(v: &YearView) -> String {
    v.days
        .iter()
        .map(|d| {
            format!(
                "{},{},{}",
                d.day,
                if d.working { "班" } else { "休" },
                d.name
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

async fn show(
    ctx: &Ctx,
    p: &Principal,
    year: i32,
    status: StatusCode,
    errors: Vec<FieldError>,
    text: Option<String>,
) -> Result<Response, PageError> {
    let v = store::year(&ctx.db, year).await?;
    let text = text.unwrap_or_else(|| {
        if v.source == "missing" {
            String::new()
        } else {
            lines_of(&v)
        }
    });
    let latest = super::latest_builtin_year();
    Ok(render_status(
        status,
        "calendar.html",
        page_ctx(
            p,
            "calendar",
            context! { year => year, view => v, can_write => may_edit(ctx, p).await, errors => errors, text => text, latest_builtin => latest },
        ),
    ))
}

async fn calendar_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<YearQuery>,
) -> Result<Response, PageError> {
    authorize(&ctx, &p, Perm::RuleRead, Some(&p.org_path)).await?;
    let year = q
        .year
        .filter(|y| (2000..=2100).contains(y))
        .unwrap_or_else(|| ctx.clock.today().year());
    show(&ctx, &p, year, StatusCode::OK, Vec::new(), None).await
}

async fn replace(
    ctx: &Ctx,
    p: &Principal,
    year: i32,
    notice: &str,
    days: &[Day],
) -> Result<YearView, AppError> {
    let root = root_path(ctx, p).await?;
    authorize(ctx, p, Perm::RuleWrite, None).await?;
    if !p.in_scope(&root) {
        // the whole platform's calendar: a lower level may read it, not change it
        return Err(AppError::Forbidden(
            "节假日日历由根组织（市级）的规则管理账号维护".into(),
        ));
    }
    store::replace_year(ctx, p, year, notice, days).await
}

async fn calendar_submit(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let year = form::opt_num(&f, "year")
        .and_then(|y| i32::try_from(y).ok())
        .unwrap_or_else(|| ctx.clock.today().year());
    let text = form::text(&f, "calendar");
    let result = match super::parse_lines(&text) {
        Ok(days) => replace(&ctx, &p, year, &form::text(&f, "notice"), &days).await,
        Err((_, m)) => Err(AppError::field("calendar", m)),
    };
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/calendar?year={year}&ok=saved")).into_response()),
        Err(e @ AppError::Validation(_)) => {
            show(
                &ctx,
                &p,
                year,
                StatusCode::UNPROCESSABLE_ENTITY,
                crate::web::field_errors(e, "calendar"),
                Some(text),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// A year's holiday arrangement: its days off and the weekend days worked (调休), and where
/// it comes from (`builtin`, `edited`, or `missing` — then only the fixed-date statutory
/// holidays are known and listed).
#[utoipa::path(get, path = "/api/v1/calendar/{year}", tag = "calendar", params(("year" = i32, Path)),
    responses((status = 200, body = YearView)))]
pub async fn api_year(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(year): Path<i32>,
) -> Result<Json<YearView>, ApiError> {
    authorize(&ctx, &p, Perm::RuleRead, Some(&p.org_path)).await?;
    if !(2000..=2100).contains(&year) {
        return Err(AppError::field("year", "年份应在2000至2100之间").into());
    }
    Ok(Json(store::year(&ctx.db, year).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ReplaceBody {
    /// The notice the arrangement follows (e.g. 国务院办公厅关于2027年部分节假日安排的通知).
    #[serde(default)]
    pub notice: String,
    /// Every day off and every weekend day worked of the year's arrangement.
    pub days: Vec<Day>,
}

/// Replaces a year's arrangement (the whole year); an account of the root organisation with
/// the rule-writing permission only.
#[utoipa::path(put, path = "/api/v1/calendar/{year}", tag = "calendar", params(("year" = i32, Path)), request_body = ReplaceBody,
    responses((status = 200, body = YearView), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_replace(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(year): Path<i32>,
    Json(b): Json<ReplaceBody>,
) -> Result<Json<YearView>, ApiError> {
    Ok(Json(replace(&ctx, &p, year, &b.notice, &b.days).await?))
}
