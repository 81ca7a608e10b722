//! 民主评议 pages and JSON API: a subtree's rounds of a year with members by grade; a round
//! (self-assessments, the 民主测评 code, paper ballots, 评定, handling); the member's rating
//! form opened by code.

use super::store::{
    self, Appraisal, Ballot, Board, Decision, Handling, MemberGrade, Mine, Result1, SelfAssessment,
};
use super::Rating;
use crate::auth::{Perm, Principal};
use crate::error::{AppError, FieldError};
use crate::web::{
    form, page_ctx, render, render_status, ApiError, AppState, Auth, ClientIp, PageError,
};
use crate::Ctx;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Datelike;
use minijinja::context;
use serde::Deserialize;
use std::collections::HashMap;

pub fn page_routes() -> Router<AppState> {
    Router::new()
        .route("/appraisals", get(board_page).post(create_page))
        .route("/appraisals/rate", get(rate_form).post(rate_page))
        .route("/appraisals/{id}", get(detail_page))
        .route("/appraisals/{id}/self", post(self_page))
        .route("/appraisals/{id}/rating", post(rating_page))
        .route("/appraisals/{id}/paper", post(paper_page))
        .route("/appraisals/{id}/decision", post(decide_page))
        .route("/appraisals/{id}/handling", post(handle_page))
        .route("/appraisals/{id}/cancel", post(cancel_page))
}

pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/appraisals", get(api_board).post(api_create))
        .route("/api/v1/appraisals/mine", get(api_mine))
        .route("/api/v1/appraisals/results", get(api_results))
        .route("/api/v1/appraisals/rate", post(api_rate))
        .route("/api/v1/appraisals/{id}", get(api_get))
        .route("/api/v1/appraisals/{id}/self", post(api_self))
        .route("/api/v1/appraisals/{id}/rating", post(api_rating))
        .route("/api/v1/appraisals/{id}/paper", post(api_paper))
        .route("/api/v1/appraisals/{id}/decision", post(api_decide))
        .route("/api/v1/appraisals/{id}/handling", post(api_handle))
        .route("/api/v1/appraisals/{id}/cancel", post(api_cancel))
}

fn shown(e: &AppError) -> bool {
    matches!(
        e,
        AppError::Validation(_) | AppError::Refused { .. } | AppError::Conflict(_)
    )
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct BoardQuery {
    /// The organisation (default: the caller's).
    pub org_id: Option<i64>,
    /// The year (default: this year).
    pub year: Option<i64>,
}

fn this_year(ctx: &Ctx) -> i64 {
    i64::from(ctx.clock.today().year())
}

async fn board_view(
    ctx: &Ctx,
    p: &Principal,
    q: &BoardQuery,
    errors: Vec<FieldError>,
) -> Result<minijinja::Value, AppError> {
    let year = q.year.unwrap_or_else(|| this_year(ctx));
    let mine = store::mine(ctx, p).await?;
    let b = if p.can(Perm::MeetingRead) {
        Some(store::board(ctx, p, q.org_id, year).await?)
    } else {
        None
    };
    let org = crate::org::store::get(&ctx.db, q.org_id.unwrap_or(p.org_id)).await?;
    // a branch's own round of this year, once opened, is reached from the list instead
    let opened = b
        .as_ref()
        .is_some_and(|b| b.year == this_year(ctx) && b.rounds.iter().any(|r| r.org_id == org.id));
    let opens =
        p.can(Perm::MeetingWrite) && org.kind.holds_members() && p.in_scope(&org.path) && !opened;
    Ok(context! {
        b => b, mine => mine, year => year, this_year => this_year(ctx), org => org, opens => opens,
        errors => errors,
    })
}

async fn board_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<BoardQuery>,
) -> Result<Response, PageError> {
    let v = board_view(&ctx, &p, &q, Vec::new()).await?;
    Ok(render("appraisals.html", page_ctx(&p, "appraisals", v)))
}

async fn create_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let org_id = form::opt_num(&f, "org_id").unwrap_or(p.org_id);
    let year = form::opt_num(&f, "year").unwrap_or_else(|| this_year(&ctx));
    match store::create(&ctx, &p, org_id, year).await {
        Ok(a) => {
            Ok(Redirect::to(&format!("/appraisals/{}?ok=appraisal_created", a.id)).into_response())
        }
        Err(e) if shown(&e) => {
            let q = BoardQuery {
                org_id: Some(org_id),
                year: Some(year),
            };
            let v = board_view(&ctx, &p, &q, crate::web::field_errors(e, "form")).await?;
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "appraisals.html",
                page_ctx(&p, "appraisals", v),
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
    sent: Option<HashMap<String, String>>,
) -> Result<minijinja::Value, AppError> {
    let a = store::open(ctx, p, id).await?;
    let runs = store::runs(p, &a);
    let rules = crate::meeting::store::rules_at(ctx, &a.org_path).await?;
    let sittings = if runs && (a.status == "open" || a.status == "rating") {
        store::sittings(ctx, &a).await?
    } else {
        Vec::new()
    };
    let me = p
        .member_id
        .and_then(|m| a.roll.iter().find(|e| e.member_id == m).cloned());
    let rated = match (&me, a.status.as_str()) {
        (Some(e), "rating") => store::has_rated(ctx, a.id, e.member_id).await?,
        _ => false,
    };
    let grades: Vec<String> = rules
        .appraisal_grades
        .iter()
        .map(|g| g.name.clone())
        .collect();
    let last = grades.last().cloned().unwrap_or_default();
    Ok(context! {
        a => a, runs => runs, sittings => sittings, entry => me, rated => rated, grades => grades,
        last => last, handlings => super::HANDLINGS.to_vec(), errors => errors,
        weights => (rules.appraisal_self_permille, rules.appraisal_peer_permille, rules.appraisal_committee_permille),
        share => rules.appraisal_excellent_share,
        sent => sent.unwrap_or_default(),
    })
}

async fn detail_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let v = detail_view(&ctx, &p, id, Vec::new(), None).await?;
    Ok(render("appraisal.html", page_ctx(&p, "appraisals", v)))
}

async fn after(
    ctx: &Ctx,
    p: &Principal,
    id: i64,
    ok: &str,
    r: Result<Appraisal, AppError>,
    sent: Option<HashMap<String, String>>,
) -> Result<Response, PageError> {
    match r {
        Ok(_) => Ok(Redirect::to(&format!("/appraisals/{id}?ok={ok}")).into_response()),
        Err(e) if shown(&e) => {
            let v = detail_view(ctx, p, id, crate::web::field_errors(e, "form"), sent).await?;
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "appraisal.html",
                page_ctx(p, "appraisals", v),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

async fn self_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let s = SelfAssessment {
        member_id: form::opt_num(&f, "member_id"),
        text: form::text(&f, "text"),
        grade: form::text(&f, "grade"),
    };
    let r = store::self_assess(&ctx, &p, id, &s).await;
    after(&ctx, &p, id, "appraisal_self", r, Some(f)).await
}

async fn rating_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let r = store::start_rating(&ctx, &p, id).await;
    after(&ctx, &p, id, "appraisal_rating", r, None).await
}

/// The lines of a ballot form: `g_{member}` the grade, `c_{member}` the comment.
fn ratings_of(f: &HashMap<String, String>) -> Vec<Rating> {
    let mut v: Vec<Rating> = f
        .iter()
        .filter_map(|(k, g)| {
            let id = k.strip_prefix("g_")?.parse().ok()?;
            Some(Rating {
                member_id: id,
                grade: g.trim().to_string(),
                comment: form::text(f, &format!("c_{id}")),
            })
        })
        .collect();
    v.sort_by_key(|r| r.member_id);
    v
}

async fn paper_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let b = Ballot {
        code: String::new(),
        ratings: ratings_of(&f),
    };
    let r = store::paper(&ctx, &p, id, &b).await;
    after(&ctx, &p, id, "appraisal_paper", r, None).await
}

async fn decide_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let mut grades: Vec<MemberGrade> = f
        .iter()
        .filter_map(|(k, g)| {
            Some(MemberGrade {
                member_id: k.strip_prefix("k_")?.parse().ok()?,
                grade: g.trim().to_string(),
            })
        })
        .collect();
    grades.sort_by_key(|g| g.member_id);
    let d = Decision {
        meeting_id: form::opt_num(&f, "meeting_id").unwrap_or(0),
        grades,
    };
    let r = store::decide(&ctx, &p, id, &d).await;
    after(&ctx, &p, id, "appraisal_decided", r, Some(f)).await
}

async fn handle_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let h = Handling {
        member_id: form::opt_num(&f, "member_id").unwrap_or(0),
        handling: form::text(&f, "handling"),
        note: form::text(&f, "note"),
    };
    let r = store::handle(&ctx, &p, id, &h).await;
    after(&ctx, &p, id, "appraisal_handled", r, Some(f)).await
}

async fn cancel_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let r = store::cancel(&ctx, &p, id).await;
    after(&ctx, &p, id, "appraisal_cancelled", r, None).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CodeQuery {
    code: String,
}

/// The round a code opens for `p`, guessing throttled per address as the meetings' codes.
async fn guarded(ctx: &Ctx, p: &Principal, ip: &str, code: &str) -> Result<Appraisal, AppError> {
    crate::web::code_attempt(ctx, ip)?;
    let r = store::by_code(ctx, p, code).await;
    if matches!(r, Err(AppError::NotFound(_))) {
        crate::web::code_failed(ctx, ip);
    }
    r
}

async fn rate_view(
    ctx: &Ctx,
    p: &Principal,
    ip: &str,
    code: &str,
    errors: Vec<FieldError>,
    sent: HashMap<String, String>,
) -> Result<minijinja::Value, AppError> {
    let (a, errors) = if code.trim().is_empty() {
        (None, errors)
    } else {
        match guarded(ctx, p, ip, code).await {
            Ok(a) => (Some(a), errors),
            Err(e @ AppError::TooManyAttempts(_)) => {
                (None, vec![FieldError::new("code", e.public_message())])
            }
            Err(AppError::NotFound(_)) => (
                None,
                vec![FieldError::new(
                    "code",
                    "测评码不正确，或测评已结束，或您不在本次评议名单中",
                )],
            ),
            Err(e) => return Err(e),
        }
    };
    let (others, grades, rated) = match &a {
        Some(a) => {
            let rules = crate::meeting::store::rules_at(ctx, &a.org_path).await?;
            let others: Vec<(i64, String)> = a
                .roll
                .iter()
                .filter(|e| Some(e.member_id) != p.member_id)
                .map(|e| (e.member_id, e.name.clone()))
                .collect();
            let grades: Vec<String> = rules
                .appraisal_grades
                .iter()
                .map(|g| g.name.clone())
                .collect();
            let rated = match p.member_id {
                Some(me) => store::has_rated(ctx, a.id, me).await?,
                None => false,
            };
            (others, grades, rated)
        }
        None => (Vec::new(), Vec::new(), false),
    };
    let a = a.map(|a| context! { id => a.id, org_name => a.org_name, year => a.year });
    Ok(context! {
        a => a, code => code.trim(), others => others, grades => grades, rated => rated,
        errors => errors, sent => sent,
    })
}

async fn rate_form(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    ClientIp(ip): ClientIp,
    Query(q): Query<CodeQuery>,
) -> Result<Response, PageError> {
    let v = rate_view(&ctx, &p, &ip, &q.code, Vec::new(), HashMap::new()).await?;
    Ok(render("appraisal_rate.html", page_ctx(&p, "appraisals", v)))
}

async fn rate_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    ClientIp(ip): ClientIp,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let b = Ballot {
        code: form::text(&f, "code"),
        ratings: ratings_of(&f),
    };
    let r = match guarded(&ctx, &p, &ip, &b.code).await {
        Ok(_) => store::rate(&ctx, &p, &b).await,
        Err(e) => Err(e),
    };
    match r {
        Ok(a) => {
            Ok(Redirect::to(&format!("/appraisals/{}?ok=appraisal_rated", a.id)).into_response())
        }
        Err(e) if shown(&e) => {
            let v = rate_view(
                &ctx,
                &p,
                &ip,
                &b.code,
                crate::web::field_errors(e, "ratings"),
                f,
            )
            .await?;
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "appraisal_rate.html",
                page_ctx(&p, "appraisals", v),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

// ---- JSON API ----

/// A subtree's 民主评议 rounds of a year and its members by grade.
#[utoipa::path(get, path = "/api/v1/appraisals", tag = "appraisals", params(BoardQuery),
    responses((status = 200, body = Board), (status = 403, body = crate::web::ErrorBody), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_board(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<BoardQuery>,
) -> Result<Json<Board>, ApiError> {
    let year = q.year.unwrap_or_else(|| this_year(&ctx));
    Ok(Json(store::board(&ctx, &p, q.org_id, year).await?))
}

/// What opens a round.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize, utoipa::ToSchema)]
#[schema(as = NewAppraisal)]
#[serde(default)]
pub struct NewAppraisal {
    pub org_id: i64,
    pub year: i64,
}

/// Opens a branch's round of a year on its roll of today.
#[utoipa::path(post, path = "/api/v1/appraisals", tag = "appraisals", request_body = NewAppraisal,
    responses((status = 200, body = Appraisal), (status = 403, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_create(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Json(b): Json<NewAppraisal>,
) -> Result<Json<Appraisal>, ApiError> {
    Ok(Json(store::create(&ctx, &p, b.org_id, b.year).await?))
}

/// The rounds the caller takes part in, not yet decided.
#[utoipa::path(get, path = "/api/v1/appraisals/mine", tag = "appraisals",
    responses((status = 200, body = [Mine])))]
pub async fn api_mine(
    State(ctx): State<AppState>,
    Auth(p): Auth,
) -> Result<Json<Vec<Mine>>, ApiError> {
    Ok(Json(store::mine(&ctx, &p).await?))
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct MemberQuery {
    /// The member (default: the caller's own record).
    pub member_id: Option<i64>,
}

/// A member's 民主评议 results, newest first: their own, or any in the caller's subtree
/// with member rights.
#[utoipa::path(get, path = "/api/v1/appraisals/results", tag = "appraisals", params(MemberQuery),
    responses((status = 200, body = [Result1]), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_results(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<MemberQuery>,
) -> Result<Json<Vec<Result1>>, ApiError> {
    let id = q
        .member_id
        .or(p.member_id)
        .ok_or(AppError::NotFound("党员"))?;
    if p.member_id != Some(id) {
        let (_, path) = crate::member::store::get(&ctx, id).await?;
        if !(p.can(Perm::MemberRead) && p.in_scope(&path)) {
            return Err(AppError::NotFound("党员").into());
        }
    }
    Ok(Json(store::results_of(&ctx, id).await?))
}

/// One round as the caller may read it.
#[utoipa::path(get, path = "/api/v1/appraisals/{id}", tag = "appraisals", params(("id" = i64, Path)),
    responses((status = 200, body = Appraisal), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_get(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Appraisal>, ApiError> {
    Ok(Json(store::open(&ctx, &p, id).await?))
}

/// 个人自评 (one's own, or entered by the secretary for a member).
#[utoipa::path(post, path = "/api/v1/appraisals/{id}/self", tag = "appraisals", params(("id" = i64, Path)), request_body = SelfAssessment,
    responses((status = 200, body = Appraisal), (status = 403, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_self(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<SelfAssessment>,
) -> Result<Json<Appraisal>, ApiError> {
    Ok(Json(store::self_assess(&ctx, &p, id, &b).await?))
}

/// Opens the 民主测评 (its code is in the round, for those who run it).
#[utoipa::path(post, path = "/api/v1/appraisals/{id}/rating", tag = "appraisals", params(("id" = i64, Path)),
    responses((status = 200, body = Appraisal), (status = 403, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_rating(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Appraisal>, ApiError> {
    Ok(Json(store::start_rating(&ctx, &p, id).await?))
}

/// A member's 民主测评 ballot by the round's code: every other member once, never oneself.
#[utoipa::path(post, path = "/api/v1/appraisals/rate", tag = "appraisals", request_body = Ballot,
    responses((status = 200, body = Appraisal), (status = 404, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_rate(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    ClientIp(ip): ClientIp,
    Json(b): Json<Ballot>,
) -> Result<Json<Appraisal>, ApiError> {
    guarded(&ctx, &p, &ip, &b.code).await?;
    Ok(Json(store::rate(&ctx, &p, &b).await?))
}

/// A paper ballot entered by the secretary (no name; the whole roll).
#[utoipa::path(post, path = "/api/v1/appraisals/{id}/paper", tag = "appraisals", params(("id" = i64, Path)), request_body = Ballot,
    responses((status = 200, body = Appraisal), (status = 403, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_paper(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<Ballot>,
) -> Result<Json<Appraisal>, ApiError> {
    Ok(Json(store::paper(&ctx, &p, id, &b).await?))
}

/// 评定 at a sitting of the branch: the committee's grades; every member's result computed
/// (weights renormalised, the 优秀 share with its ties).
#[utoipa::path(post, path = "/api/v1/appraisals/{id}/decision", tag = "appraisals", params(("id" = i64, Path)), request_body = Decision,
    responses((status = 200, body = Appraisal), (status = 403, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_decide(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<Decision>,
) -> Result<Json<Appraisal>, ApiError> {
    Ok(Json(store::decide(&ctx, &p, id, &b).await?))
}

/// The organisational handling of a member in the last grade (不合格).
#[utoipa::path(post, path = "/api/v1/appraisals/{id}/handling", tag = "appraisals", params(("id" = i64, Path)), request_body = Handling,
    responses((status = 200, body = Appraisal), (status = 403, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_handle(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<Handling>,
) -> Result<Json<Appraisal>, ApiError> {
    Ok(Json(store::handle(&ctx, &p, id, &b).await?))
}

/// Cancels a round not yet decided.
#[utoipa::path(post, path = "/api/v1/appraisals/{id}/cancel", tag = "appraisals", params(("id" = i64, Path)),
    responses((status = 200, body = Appraisal), (status = 403, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_cancel(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Appraisal>, ApiError> {
    Ok(Json(store::cancel(&ctx, &p, id).await?))
}
