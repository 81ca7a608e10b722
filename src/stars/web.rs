//! 星级党支部 pages and JSON API: a subtree's rounds, one round's scoring, publicity and
//! final ratings, a branch's history of stars.

use super::store::{self, BranchScore, NewRound, Rating, Round, ScoreInput};
use crate::auth::{Perm, Principal};
use crate::error::{AppError, FieldError};
use crate::web::{form, page_ctx, render, render_status, ApiError, AppState, Auth, PageError};
use crate::Ctx;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Datelike;
use minijinja::context;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

pub fn page_routes() -> Router<AppState> {
    Router::new()
        .route("/stars", get(list_page).post(create_page))
        .route("/stars/{id}", get(round_page))
        .route("/stars/{id}/export.csv", get(round_export))
        .route("/stars/{id}/score", post(score_page))
        .route("/stars/{id}/publish", post(publish_page))
        .route("/stars/{id}/finalise", post(finalise_page))
}

pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/stars/rounds", get(api_rounds).post(api_create))
        .route("/api/v1/stars/rounds/{id}", get(api_round))
        .route("/api/v1/stars/rounds/{id}/scores", post(api_score))
        .route("/api/v1/stars/rounds/{id}/publish", post(api_publish))
        .route("/api/v1/stars/rounds/{id}/finalise", post(api_finalise))
        .route("/api/v1/stars/history", get(api_history))
}

/// A round is seen by accounts over its committee and by its branches (it is publicised).
async fn load(ctx: &Ctx, p: &Principal, id: i64) -> Result<(Round, String), AppError> {
    let (r, path) = store::round(ctx, id).await?;
    if !p.can(Perm::PointsRead) {
        return Err(AppError::Forbidden(Perm::PointsRead.label().into()));
    }
    if !p.in_scope(&path) && !crate::org::in_subtree(&path, &p.org_path) {
        return Err(AppError::NotFound("星级评定"));
    }
    Ok((r, path))
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct OrgQuery {
    pub org_id: Option<i64>,
    /// Only the rounds of this year.
    pub year: Option<i64>,
    /// The page's page (20 rounds each).
    pub page: Option<i64>,
    /// The API's rounds from `offset`, `limit` of them (500, at most 500).
    pub offset: Option<i64>,
    pub limit: Option<i64>,
}

/// Rounds on one page of the list.
const ROUNDS_PAGE: i64 = 20;

async fn list_view(
    ctx: &Ctx,
    p: &Principal,
    q: &OrgQuery,
    errors: Vec<FieldError>,
) -> Result<minijinja::Value, AppError> {
    let org = crate::org::web::load(ctx, p, q.org_id.unwrap_or(p.org_id), Perm::PointsRead).await?;
    let page = q.page.unwrap_or(1).clamp(1, 100_000);
    let (rounds, total) = store::rounds(
        ctx,
        &org.path,
        q.year,
        (page - 1) * ROUNDS_PAGE,
        ROUNDS_PAGE,
    )
    .await?;
    let pages = ((total + ROUNDS_PAGE - 1) / ROUNDS_PAGE).max(1);
    let qs = {
        let mut qs = url::form_urlencoded::Serializer::new(String::new());
        qs.append_pair("org_id", &org.id.to_string());
        if let Some(y) = q.year {
            qs.append_pair("year", &y.to_string());
        }
        qs.finish()
    };
    let history = if org.kind.holds_members() {
        store::history(ctx, &org).await?
    } else {
        Vec::new()
    };
    let year = ctx.clock.today().year();
    Ok(context! {
        org => org, rounds => rounds, history => history, errors => errors, years => vec![year, year - 1],
        page => context! { page => page.min(pages), total => total }, pages => pages, qs => qs,
        year_shown => q.year,
        can_manage => p.can(Perm::StarsManage) && !org.kind.holds_members(),
        statuses => store::STATUSES.iter().map(|s| (s.0, s.1)).collect::<HashMap<_, _>>(),
    })
}

async fn list_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<OrgQuery>,
) -> Result<Response, PageError> {
    let v = list_view(&ctx, &p, &q, Vec::new()).await?;
    Ok(render("stars.html", page_ctx(&p, "stars", v)))
}

async fn create_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let input = NewRound {
        org_id: form::num(&f, "org_id"),
        year: form::num(&f, "year"),
    };
    match store::create(&ctx, &p, &input).await {
        Ok(r) => Ok(Redirect::to(&format!("/stars/{}?ok=created", r.id)).into_response()),
        Err(e @ (AppError::Validation(_) | AppError::Refused { .. } | AppError::Conflict(_))) => {
            let q = OrgQuery {
                org_id: Some(input.org_id),
                ..Default::default()
            };
            let v = list_view(&ctx, &p, &q, crate::web::field_errors(e, "form")).await?;
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "stars.html",
                page_ctx(&p, "stars", v),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// A round's branches with their scores and stars as a CSV (after publicity starts; before,
/// the scores are still being entered), recorded.
async fn round_export(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let (r, path) = load(&ctx, &p, id).await?;
    if r.status == "scoring" {
        return Err(AppError::refused("stars.not_published", "公示开始后才能导出评定结果").into());
    }
    let scores = store::scores(&ctx, &r, &path).await?;
    let rows = scores
        .into_iter()
        .map(|s| {
            vec![
                s.name,
                s.branch_points.map(|n| n.to_string()).unwrap_or_default(),
                s.points_centi
                    .map(|c| format!("{:.2}", c as f64 / 100.0))
                    .unwrap_or_default(),
                s.items.values().sum::<i64>().to_string(),
                s.total_text.unwrap_or_default(),
                s.stars.map(|n| format!("{n}星")).unwrap_or_default(),
                if s.capped {
                    "是".into()
                } else {
                    String::new()
                },
                s.previous.map(|n| format!("{n}星")).unwrap_or_default(),
            ]
        })
        .collect();
    Ok(crate::web::csv_export(
        &ctx,
        &p,
        crate::web::CsvExport {
            action: "stars.export",
            object_type: "star_round",
            title: format!("星级评定-{}-{}", r.org_name, r.year),
            header: &[
                "党支部",
                "年度积分",
                "积分折算分",
                "评定项目得分",
                "总分",
                "星级",
                "受比例限制降级",
                "上年星级",
            ],
            rows,
            asked: serde_json::json!({"round_id": r.id}),
        },
    )
    .await?)
}

async fn round_view(
    ctx: &Ctx,
    p: &Principal,
    id: i64,
    errors: Vec<FieldError>,
) -> Result<minijinja::Value, AppError> {
    let (r, path) = load(ctx, p, id).await?;
    let scores = store::scores(ctx, &r, &path).await?;
    let manage = p.can(Perm::StarsManage) && p.in_scope(&path);
    let mut dist: BTreeMap<i64, usize> = BTreeMap::new();
    for s in &scores {
        if let Some(st) = s.stars {
            *dist.entry(st).or_default() += 1;
        }
    }
    Ok(context! {
        r => r, scores => scores, errors => errors, manage => manage,
        unscored => scores.iter().filter(|s| !s.scored).count(),
        dist => dist.into_iter().rev().collect::<Vec<_>>(),
        status => store::STATUSES.iter().find(|s| s.0 == r.status).map(|s| s.1).unwrap_or(""),
        can_finalise => r.status == "publicity" && r.publicity_until.is_some_and(|u| ctx.clock.today() > u),
    })
}

async fn round_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let v = round_view(&ctx, &p, id, Vec::new()).await?;
    Ok(render("stars_round.html", page_ctx(&p, "stars", v)))
}

async fn on_round(
    ctx: &Ctx,
    p: &Principal,
    id: i64,
    r: Result<(), AppError>,
) -> Result<Response, PageError> {
    match r {
        Ok(()) => Ok(Redirect::to(&format!("/stars/{id}?ok=saved")).into_response()),
        Err(e @ (AppError::Validation(_) | AppError::Refused { .. } | AppError::Conflict(_))) => {
            let v = round_view(ctx, p, id, crate::web::field_errors(e, "form")).await?;
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "stars_round.html",
                page_ctx(p, "stars", v),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

async fn score_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let (r, _) = load(&ctx, &p, id).await?;
    // one form for the whole table: `item_<branch>_<key>` and `innovation_<branch>`; a row's
    // own button (`only=<branch>`) saves that row, the form's button every row filled in.
    // Rows are saved one by one (each audited); a row left partly empty is named, and the
    // rows before and after it are still saved.
    let mut branches: Vec<i64> = f
        .keys()
        .filter_map(|k| k.strip_prefix("innovation_").and_then(|b| b.parse().ok()))
        .collect();
    branches.sort_unstable();
    if let Some(only) = form::opt_num(&f, "only") {
        branches.retain(|b| *b == only);
    }
    let mut errors = Vec::new();
    let mut saved = 0;
    for b in branches {
        let items: BTreeMap<String, i64> = r
            .scheme
            .items
            .iter()
            .map(|i| {
                (
                    i.key.clone(),
                    form::opt_num(&f, &format!("item_{b}_{}", i.key)).unwrap_or(-1),
                )
            })
            .collect();
        let filled = items.values().filter(|v| **v >= 0).count();
        if filled == 0 {
            continue; // nothing typed for this branch
        }
        let input = ScoreInput {
            branch_id: b,
            items,
            innovation: form::text(&f, &format!("innovation_{b}")),
        };
        match store::score(&ctx, &p, id, &input).await {
            Ok(()) => saved += 1,
            Err(
                e @ (AppError::Validation(_) | AppError::Refused { .. } | AppError::Conflict(_)),
            ) => {
                let name = crate::org::store::get(&ctx.db, b)
                    .await
                    .map(|o| o.name)
                    .unwrap_or_default();
                for fe in crate::web::field_errors(e, "form") {
                    errors.push(FieldError::new("form", format!("{name}：{}", fe.message)));
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    if !errors.is_empty() {
        let v = round_view(&ctx, &p, id, errors).await?;
        return Ok(render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            "stars_round.html",
            page_ctx(&p, "stars", v),
        ));
    }
    let _ = saved;
    on_round(&ctx, &p, id, Ok(())).await
}

async fn publish_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    load(&ctx, &p, id).await?;
    let res = store::publish(&ctx, &p, id, form::num(&f, "version"))
        .await
        .map(|_| ());
    on_round(&ctx, &p, id, res).await
}

async fn finalise_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    load(&ctx, &p, id).await?;
    let res = store::finalise(&ctx, &p, id).await.map(|_| ());
    on_round(&ctx, &p, id, res).await
}

// ---- JSON API ----

/// Star-rating rounds of a subtree (of one `year`), newest first, `limit` (at most 500)
/// from `offset`.
#[utoipa::path(get, path = "/api/v1/stars/rounds", tag = "stars", params(OrgQuery),
    responses((status = 200, body = [Round])))]
pub async fn api_rounds(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<OrgQuery>,
) -> Result<Json<Vec<Round>>, ApiError> {
    let org =
        crate::org::web::load(&ctx, &p, q.org_id.unwrap_or(p.org_id), Perm::PointsRead).await?;
    let (rounds, _) = store::rounds(
        &ctx,
        &org.path,
        q.year,
        q.offset.unwrap_or(0),
        q.limit.unwrap_or(500),
    )
    .await?;
    Ok(Json(rounds))
}

/// Starts a committee's rating of its branches for a year.
#[utoipa::path(post, path = "/api/v1/stars/rounds", tag = "stars", request_body = NewRound,
    responses((status = 200, body = Round), (status = 409, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_create(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Json(b): Json<NewRound>,
) -> Result<Json<Round>, ApiError> {
    Ok(Json(store::create(&ctx, &p, &b).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RoundFile {
    pub round: Round,
    pub scores: Vec<BranchScore>,
}

/// A round with every branch's scores (and, once publicised, stars).
#[utoipa::path(get, path = "/api/v1/stars/rounds/{id}", tag = "stars", params(("id" = i64, Path)),
    responses((status = 200, body = RoundFile), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_round(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<RoundFile>, ApiError> {
    let (round, path) = load(&ctx, &p, id).await?;
    let scores = store::scores(&ctx, &round, &path).await?;
    Ok(Json(RoundFile { round, scores }))
}

/// Records a branch's manual scores and innovation project.
#[utoipa::path(post, path = "/api/v1/stars/rounds/{id}/scores", tag = "stars", params(("id" = i64, Path)), request_body = ScoreInput,
    responses((status = 200, body = RoundFile), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_score(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<ScoreInput>,
) -> Result<Json<RoundFile>, ApiError> {
    load(&ctx, &p, id).await?;
    store::score(&ctx, &p, id, &b).await?;
    let (round, path) = load(&ctx, &p, id).await?;
    let scores = store::scores(&ctx, &round, &path).await?;
    Ok(Json(RoundFile { round, scores }))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(default)]
pub struct VersionBody {
    /// The round's version as read.
    pub version: i64,
}

/// Computes the stars and opens the publicity (公示).
#[utoipa::path(post, path = "/api/v1/stars/rounds/{id}/publish", tag = "stars", params(("id" = i64, Path)), request_body = VersionBody,
    responses((status = 200, body = Round), (status = 409, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_publish(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<VersionBody>,
) -> Result<Json<Round>, ApiError> {
    load(&ctx, &p, id).await?;
    Ok(Json(store::publish(&ctx, &p, id, b.version).await?))
}

/// Makes the ratings final once the publicity has ended.
#[utoipa::path(post, path = "/api/v1/stars/rounds/{id}/finalise", tag = "stars", params(("id" = i64, Path)),
    responses((status = 200, body = Round), (status = 409, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_finalise(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Round>, ApiError> {
    load(&ctx, &p, id).await?;
    Ok(Json(store::finalise(&ctx, &p, id).await?))
}

/// A branch's final star ratings by year.
#[utoipa::path(get, path = "/api/v1/stars/history", tag = "stars", params(OrgQuery),
    responses((status = 200, body = [Rating])))]
pub async fn api_history(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<OrgQuery>,
) -> Result<Json<Vec<Rating>>, ApiError> {
    let org =
        crate::org::web::load(&ctx, &p, q.org_id.unwrap_or(p.org_id), Perm::PointsRead).await?;
    Ok(Json(store::history(&ctx, &org).await?))
}
