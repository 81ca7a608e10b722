//! 换届选举 pages and JSON API: a subtree's terms due (应换未换 first), elections and 延期; an
//! election prepared, counted, decided by the level above; its ballot and tally sheet to print.

use super::store::{
    self, Board, Count, Decision, Election, Extension, ExtensionDecision, NewElection,
    NewExtension, Seat,
};
use crate::auth::{Perm, Principal};
use crate::error::{AppError, FieldError};
use crate::web::{form, page_ctx, render, render_status, ApiError, AppState, Auth, PageError};
use crate::Ctx;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use minijinja::context;
use serde::Deserialize;
use std::collections::HashMap;

pub fn page_routes() -> Router<AppState> {
    Router::new()
        .route("/elections", get(board_page).post(create_page))
        .route("/elections/new", get(new_page))
        .route("/elections/extensions", post(ask_page))
        .route("/elections/extensions/{id}", post(extension_decide_page))
        .route("/elections/{id}", get(detail_page))
        .route("/elections/{id}/count", post(count_page))
        .route("/elections/{id}/decision", post(decide_page))
        .route("/elections/{id}/cancel", post(cancel_page))
        .route("/elections/{id}/ballot", get(ballot_page))
        .route("/elections/{id}/tally", get(tally_page))
}

pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/elections", get(api_board).post(api_create))
        .route("/api/v1/elections/committee", get(api_committee))
        .route("/api/v1/elections/{id}", get(api_get))
        .route("/api/v1/elections/{id}/count", post(api_count))
        .route("/api/v1/elections/{id}/decision", post(api_decide))
        .route("/api/v1/elections/{id}/cancel", post(api_cancel))
        .route("/api/v1/term-extensions", post(api_ask))
        .route(
            "/api/v1/term-extensions/{id}/decision",
            post(api_extension_decide),
        )
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
pub struct OrgQuery {
    /// The organisation (default: the caller's).
    pub org_id: Option<i64>,
}

async fn board_view(
    ctx: &Ctx,
    p: &Principal,
    org_id: Option<i64>,
    errors: Vec<FieldError>,
) -> Result<minijinja::Value, AppError> {
    let b = store::board(ctx, p, org_id).await?;
    let org = crate::org::store::get(&ctx.db, b.org_id).await?;
    let committee = store::committee(ctx, org.id).await?;
    let is_branch = org.kind.holds_members();
    let runs = p.can(Perm::MeetingWrite);
    // what the caller decides: the requests of organisations whose level above is in scope
    let mut decide = Vec::new();
    for x in b.extensions.iter().filter(|x| x.status == "asked") {
        let parent = match x.parent_id {
            Some(id) => crate::org::store::find(&ctx.db, id).await?,
            None => None,
        };
        if runs && parent.is_some_and(|o| p.in_scope(&o.path)) {
            decide.push(x.id);
        }
    }
    let (br, _) = crate::rules::effective::<crate::rules::BranchRules>(&ctx.db, &org.path).await?;
    let term_end = org.term_start.map(|s| {
        crate::org::rules::current_term_end(
            s,
            org.level.is_grassroots(),
            org.term_extended_months,
            &br,
        )
    });
    let cap = crate::meeting::store::rules_at(ctx, &org.path)
        .await?
        .extension_max_months;
    Ok(context! {
        b => b, org => org, committee => committee, is_branch => is_branch, runs => runs,
        term_end => term_end, cap => cap,
        decide => decide, errors => errors,
    })
}

async fn board_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<OrgQuery>,
) -> Result<Response, PageError> {
    let v = board_view(&ctx, &p, q.org_id, Vec::new()).await?;
    Ok(render("elections.html", page_ctx(&p, "elections", v)))
}

async fn board_refused(
    ctx: &Ctx,
    p: &Principal,
    org_id: Option<i64>,
    e: AppError,
) -> Result<Response, PageError> {
    if !shown(&e) {
        return Err(e.into());
    }
    let v = board_view(ctx, p, org_id, crate::web::field_errors(e, "form")).await?;
    Ok(render_status(
        StatusCode::UNPROCESSABLE_ENTITY,
        "elections.html",
        page_ctx(p, "elections", v),
    ))
}

async fn new_view(
    ctx: &Ctx,
    p: &Principal,
    org_id: i64,
    sent: Option<&NewElection>,
    errors: Vec<FieldError>,
) -> Result<minijinja::Value, AppError> {
    let f = store::prepare_form(ctx, p, org_id).await?;
    let rules = crate::meeting::store::rules_at(ctx, &f.org.path).await?;
    let (br, _) =
        crate::rules::effective::<crate::rules::BranchRules>(&ctx.db, &f.org.path).await?;
    let blank = NewElection {
        org_id,
        seats: f
            .org
            .committee_size
            .clamp(br.committee_min, br.committee_hard_max),
        ..NewElection::default()
    };
    let form = sent.cloned().unwrap_or(blank);
    Ok(context! {
        org => f.org, electorate => f.electorate, assemblies => f.assemblies, errors => errors,
        min => super::min_candidates(form.seats, rules.election_margin_permille),
        margin => crate::meeting::share_words(rules.election_margin_permille),
        seats_min => br.committee_min, seats_max => br.committee_hard_max,
        form => form,
    })
}

async fn new_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<OrgQuery>,
) -> Result<Response, PageError> {
    let v = new_view(&ctx, &p, q.org_id.unwrap_or(p.org_id), None, Vec::new()).await?;
    Ok(render("election_new.html", page_ctx(&p, "elections", v)))
}

fn ids(f: &[(String, String)], k: &str) -> Vec<i64> {
    f.iter()
        .filter(|(n, _)| n == k)
        .filter_map(|(_, v)| v.trim().parse().ok())
        .collect()
}

async fn create_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    axum::Form(f): axum::Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let one: HashMap<String, String> = f.iter().cloned().collect();
    let input = NewElection {
        org_id: form::opt_num(&one, "org_id").unwrap_or(p.org_id),
        meeting_id: form::opt_num(&one, "meeting_id").unwrap_or(0),
        seats: form::opt_num(&one, "seats").unwrap_or(0),
        candidates: ids(&f, "candidates"),
    };
    match store::create(&ctx, &p, &input).await {
        Ok(e) => {
            Ok(Redirect::to(&format!("/elections/{}?ok=election_created", e.id)).into_response())
        }
        Err(e) if shown(&e) => {
            let v = new_view(
                &ctx,
                &p,
                input.org_id,
                Some(&input),
                crate::web::field_errors(e, "form"),
            )
            .await?;
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "election_new.html",
                page_ctx(&p, "elections", v),
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
    let e = store::open(ctx, p, id).await?;
    let (runs, decides) = store::powers(ctx, p, &e).await?;
    let roll = match e.meeting_id {
        Some(mid) if e.status == "prepared" => {
            let m = crate::meeting::store::load(ctx, mid).await?;
            let roll = m.roll_now();
            Some((m.status, roll.voting_expected, roll.voting_present))
        }
        _ => None,
    };
    let committee = if e.status == "approved" {
        store::committee(ctx, e.org_id).await?
    } else {
        Vec::new()
    };
    let today = ctx.clock.today();
    let rules = crate::meeting::store::rules_at(ctx, &e.org_path).await?;
    let quorum = crate::meeting::share_words(rules.election_quorum_permille);
    Ok(context! {
        e => e, runs => runs, decides => decides, roll => roll, errors => errors, quorum => quorum,
        sent => sent.unwrap_or_default(),
        committee => committee, today => today,
    })
}

async fn detail_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let v = detail_view(&ctx, &p, id, Vec::new(), None).await?;
    Ok(render("election.html", page_ctx(&p, "elections", v)))
}

async fn after(
    ctx: &Ctx,
    p: &Principal,
    id: i64,
    ok: &str,
    r: Result<Election, AppError>,
    sent: Option<HashMap<String, String>>,
) -> Result<Response, PageError> {
    match r {
        Ok(_) => Ok(Redirect::to(&format!("/elections/{id}?ok={ok}")).into_response()),
        Err(e) if shown(&e) => {
            let v = detail_view(ctx, p, id, crate::web::field_errors(e, "form"), sent).await?;
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "election.html",
                page_ctx(p, "elections", v),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

async fn count_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let one: HashMap<String, String> = f.iter().cloned().collect();
    let mut errs = Vec::new();
    let mut num = |k: &str| match one.get(k).map(|v| v.trim()) {
        None | Some("") if k.starts_with("votes_") || k == "ballots_returned" => {
            errs.push(FieldError::new(
                if k == "ballots_returned" { k } else { "votes" },
                "请填写收回选票数和每位候选人的得票（没有得票的填0）",
            ));
            0
        }
        None | Some("") => 0,
        Some(v) => v.parse::<i64>().unwrap_or_else(|_| {
            errs.push(FieldError::new(k, "请填写整数"));
            0
        }),
    };
    let returned = num("ballots_returned");
    let invalid = num("ballots_invalid");
    let mut votes = Vec::new();
    for (k, _) in f.iter().filter(|(k, _)| k.starts_with("votes_")) {
        if let Ok(member_id) = k.trim_start_matches("votes_").parse::<i64>() {
            votes.push(store::CandidateVotes {
                member_id,
                votes: num(k),
            });
        }
    }
    let secretary = num("secretary");
    let count = Count {
        ballots_returned: returned,
        ballots_invalid: invalid,
        votes,
        secretary,
        deputies: ids(&f, "deputies"),
    };
    let r = if errs.is_empty() {
        store::record(&ctx, &p, id, &count).await
    } else {
        Err(AppError::Validation(errs))
    };
    after(&ctx, &p, id, "election_recorded", r, Some(one)).await
}

async fn decide_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let d = Decision {
        approve: form::text(&f, "approve") == "1",
        approval_no: form::text(&f, "approval_no"),
        approved_on: form::date(&f, "approved_on"),
        note: form::text(&f, "note"),
    };
    if d.approved_on.is_none() && !form::text(&f, "approved_on").is_empty() {
        let r = Err(AppError::field("approved_on", "日期格式有误"));
        return after(&ctx, &p, id, "", r, Some(f)).await;
    }
    let ok = if d.approve {
        "election_approved"
    } else {
        "election_returned"
    };
    let r = store::decide(&ctx, &p, id, &d).await;
    after(&ctx, &p, id, ok, r, Some(f)).await
}

async fn cancel_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let r = store::cancel(&ctx, &p, id).await;
    after(&ctx, &p, id, "election_cancelled", r, None).await
}

async fn print_page(ctx: &Ctx, p: &Principal, id: i64, tally: bool) -> Result<Response, PageError> {
    let mut e = store::open(ctx, p, id).await?;
    // the ballot lists the candidates by the pinyin of their names (a stroke order table is
    // not kept); the tally sheet in the same order
    e.candidates
        .sort_by_key(|c| crate::member::pinyin::keys(&c.name).0);
    let today = ctx.clock.today();
    Ok(render(
        "election_print.html",
        page_ctx(
            p,
            "elections",
            context! { e => e, tally => tally, today => today },
        ),
    ))
}

async fn ballot_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    print_page(&ctx, &p, id, false).await
}

async fn tally_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    print_page(&ctx, &p, id, true).await
}

async fn ask_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let org_id = form::opt_num(&f, "org_id").unwrap_or(p.org_id);
    let input = NewExtension {
        org_id,
        months: form::opt_num(&f, "months").unwrap_or(0),
        reason: form::text(&f, "reason"),
    };
    match store::ask_extension(&ctx, &p, &input).await {
        Ok(_) => Ok(
            Redirect::to(&format!("/elections?org_id={org_id}&ok=extension_asked")).into_response(),
        ),
        Err(e) => board_refused(&ctx, &p, Some(org_id), e).await,
    }
}

async fn extension_decide_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let d = ExtensionDecision {
        approve: form::text(&f, "approve") == "1",
        note: form::text(&f, "note"),
    };
    let back = form::opt_num(&f, "back");
    match store::decide_extension(&ctx, &p, id, &d).await {
        Ok(_) => {
            let q = back.map(|b| format!("org_id={b}&")).unwrap_or_default();
            Ok(Redirect::to(&format!("/elections?{q}ok=extension_decided")).into_response())
        }
        Err(e) => board_refused(&ctx, &p, back, e).await,
    }
}

// ---- JSON API ----

/// The terms due (应换未换 first), elections and 延期 of a subtree.
#[utoipa::path(get, path = "/api/v1/elections", tag = "elections", params(OrgQuery),
    responses((status = 200, body = Board), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_board(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<OrgQuery>,
) -> Result<Json<Board>, ApiError> {
    Ok(Json(store::board(&ctx, &p, q.org_id).await?))
}

/// Prepares an election (seats, candidates with 差额, the assembly it is held at).
#[utoipa::path(post, path = "/api/v1/elections", tag = "elections", request_body = NewElection,
    responses((status = 200, body = Election), (status = 403, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_create(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Json(b): Json<NewElection>,
) -> Result<Json<Election>, ApiError> {
    Ok(Json(store::create(&ctx, &p, &b).await?))
}

/// An organisation's committee as last approved (书记 first).
#[utoipa::path(get, path = "/api/v1/elections/committee", tag = "elections", params(OrgQuery),
    responses((status = 200, body = [Seat]), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_committee(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<OrgQuery>,
) -> Result<Json<Vec<Seat>>, ApiError> {
    let org = crate::org::store::find(&ctx.db, q.org_id.unwrap_or(p.org_id))
        .await?
        .filter(|o| p.in_scope(&o.path))
        .ok_or(AppError::NotFound("党组织"))?;
    p.authorize(Perm::MeetingRead, Some(&org.path))?;
    Ok(Json(store::committee(&ctx, org.id).await?))
}

/// One election.
#[utoipa::path(get, path = "/api/v1/elections/{id}", tag = "elections", params(("id" = i64, Path)),
    responses((status = 200, body = Election), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_get(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Election>, ApiError> {
    Ok(Json(store::open(&ctx, &p, id).await?))
}

/// Records the count (⅘ present from the assembly's roll; more than half to be elected) and
/// reports it to the level above.
#[utoipa::path(post, path = "/api/v1/elections/{id}/count", tag = "elections", params(("id" = i64, Path)), request_body = Count,
    responses((status = 200, body = Election), (status = 403, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_count(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<Count>,
) -> Result<Json<Election>, ApiError> {
    Ok(Json(store::record(&ctx, &p, id, &b).await?))
}

/// The level above's 批复 (replaces the committee, starts the term) or return with reason.
#[utoipa::path(post, path = "/api/v1/elections/{id}/decision", tag = "elections", params(("id" = i64, Path)), request_body = Decision,
    responses((status = 200, body = Election), (status = 403, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_decide(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<Decision>,
) -> Result<Json<Election>, ApiError> {
    Ok(Json(store::decide(&ctx, &p, id, &b).await?))
}

/// Cancels an election still being prepared.
#[utoipa::path(post, path = "/api/v1/elections/{id}/cancel", tag = "elections", params(("id" = i64, Path)),
    responses((status = 200, body = Election), (status = 403, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_cancel(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Election>, ApiError> {
    Ok(Json(store::cancel(&ctx, &p, id).await?))
}

/// A branch asks the level above for 延期换届 (capped in all for the term).
#[utoipa::path(post, path = "/api/v1/term-extensions", tag = "elections", request_body = NewExtension,
    responses((status = 200, body = Extension), (status = 403, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_ask(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Json(b): Json<NewExtension>,
) -> Result<Json<Extension>, ApiError> {
    Ok(Json(store::ask_extension(&ctx, &p, &b).await?))
}

/// The level above approves (the term is extended) or refuses a 延期.
#[utoipa::path(post, path = "/api/v1/term-extensions/{id}/decision", tag = "elections", params(("id" = i64, Path)), request_body = ExtensionDecision,
    responses((status = 200, body = Extension), (status = 403, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_extension_decide(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<ExtensionDecision>,
) -> Result<Json<Extension>, ApiError> {
    Ok(Json(store::decide_extension(&ctx, &p, id, &b).await?))
}
