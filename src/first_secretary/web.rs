//! 第一书记 pages and JSON API: rounds and assignments for the departments, the phone page a
//! first secretary clocks in on, and the month's presence report.

use super::results::{self, NewReport, PublicProfile, Report, Summary};
use super::scoring::{self, MonthScore, MonthSheet, Ranking, Sheet};
use super::store::{
    self, Activity, Assignment, AssignmentFilter, AssignmentPage, Checkin, Decision, Leave,
    LeaveDecision, LedgerEntry, LedgerReversal, NewActivity, NewCheckin, NewLeave, NewLedgerEntry,
    NewPledge, NewRound, NewSpotCheck, NewTutor, Nomination, Pledge, PledgeProgress, Posting,
    PresenceReport, Round, SpotCheck, Tutor,
};
use super::store::{Guidance, NewGuidance};
use super::{LEVELS, STATUSES, TUTOR_ROLES};
use crate::auth::{Perm, Principal};
use crate::error::{AppError, FieldError};
use crate::web::{form, page_ctx, render, render_status, ApiError, AppState, Auth, PageError};
use crate::Ctx;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use minijinja::context;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub fn page_routes() -> Router<AppState> {
    Router::new()
        .route("/first-secretaries", get(list_page).post(nominate_page))
        .route("/first-secretaries/rounds", post(round_page))
        .route("/first-secretaries/rounds/{id}", get(round_detail_page))
        .route(
            "/first-secretaries/rounds/{id}/activities",
            post(activity_page),
        )
        .route(
            "/first-secretaries/checkin",
            get(checkin_page).post(checkin_post),
        )
        .route("/first-secretaries/presence", get(presence_page))
        .route("/first-secretaries/scores", get(scores_page))
        .route("/first-secretaries/scores/close", post(close_page))
        .route(
            "/first-secretaries/rankings",
            get(ranking_page).post(publish_page),
        )
        .route("/first-secretaries/{id}/scores", post(score_page))
        .route("/first-secretaries/{id}/assessment", post(assess_page))
        .route(
            "/first-secretaries/years",
            get(year_page).post(confirm_page),
        )
        .route("/first-secretaries/photos/{id}", get(photo))
        .route("/first-secretaries/{id}", get(detail_page))
        .route("/first-secretaries/{id}/assign", post(assign_page))
        .route("/first-secretaries/{id}/decide/{what}", post(decide_page))
        .route("/first-secretaries/{id}/tutors", post(tutor_page))
        .route("/first-secretaries/{id}/spot-checks", post(spot_page))
        .route("/first-secretaries/{id}/ledger", post(ledger_page))
        .route("/first-secretaries/{id}/pledges", post(pledge_page))
        .route("/first-secretaries/{id}/reports", post(report_page))
        .route("/first-secretaries/{id}/guidance", post(guidance_page))
        .route("/first-secretaries/{id}/record", get(record_page))
        .route(
            "/first-secretaries/{id}/party-relation",
            post(party_relation_page),
        )
        .route("/first-secretaries/results", get(results_page))
        .route(
            "/first-secretaries/alliances",
            get(alliances_page).post(alliance_create_page),
        )
        .route(
            "/first-secretaries/alliances/{id}/members",
            post(alliance_members_page),
        )
        .route(
            "/first-secretaries/alliances/{id}/contests",
            post(contest_page),
        )
        .route(
            "/first-secretaries/alliances/{id}/members/{assignment}/remove",
            post(alliance_remove_page),
        )
        .route("/public/first-secretaries/{id}", get(public_page))
        .route(
            "/first-secretaries/pledges/{id}/progress",
            post(pledge_progress_page),
        )
        .route(
            "/first-secretaries/pledges/{id}/remove",
            post(pledge_remove_page),
        )
        .route(
            "/first-secretaries/ledger/{id}/reverse",
            post(ledger_reverse_page),
        )
        .route("/first-secretaries/leaves", post(leave_page))
        .route(
            "/first-secretaries/leaves/{id}/decide",
            post(leave_decide_page),
        )
        .route(
            "/first-secretaries/leaves/{id}/cancel",
            post(leave_cancel_page),
        )
        .route(
            "/first-secretaries/{id}/tutors/{tutor}/remove",
            post(tutor_remove_page),
        )
}

pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/first-secretaries",
            get(api_list).post(api_nominate),
        )
        .route(
            "/api/v1/first-secretaries/rounds",
            get(api_rounds).post(api_round),
        )
        .route("/api/v1/first-secretaries/presence", get(api_presence))
        .route("/api/v1/first-secretaries/checkins", post(api_checkin))
        .route("/api/v1/first-secretaries/{id}", get(api_get))
        .route("/api/v1/first-secretaries/{id}/assign", post(api_assign))
        .route(
            "/api/v1/first-secretaries/{id}/decide/{action}",
            post(api_decide),
        )
        .route("/api/v1/first-secretaries/{id}/tutors", post(api_tutor))
        .route(
            "/api/v1/first-secretaries/{id}/tutors/{tutor_id}",
            delete(api_tutor_remove),
        )
        .route("/api/v1/first-secretaries/{id}/checkins", get(api_checkins))
        .route("/api/v1/first-secretaries/leaves", post(api_leave))
        .route(
            "/api/v1/first-secretaries/leaves/{id}/decide",
            post(api_leave_decide),
        )
        .route(
            "/api/v1/first-secretaries/leaves/{id}/cancel",
            post(api_leave_cancel),
        )
        .route("/api/v1/first-secretaries/{id}/leaves", get(api_leaves))
        .route(
            "/api/v1/first-secretaries/{id}/spot-checks",
            get(api_spot_checks).post(api_spot_check),
        )
        .route(
            "/api/v1/first-secretaries/rounds/{id}/activities",
            get(api_activities).post(api_activity),
        )
        .route(
            "/api/v1/first-secretaries/{id}/pledges",
            get(api_pledges).post(api_pledge_add),
        )
        .route(
            "/api/v1/first-secretaries/{id}/reports",
            get(api_reports).post(api_report),
        )
        .route(
            "/api/v1/first-secretaries/{id}/guidance",
            get(api_guidance).post(api_guidance_add),
        )
        .route("/api/v1/first-secretaries/results", get(api_results))
        .route(
            "/api/v1/first-secretaries/alliances",
            get(api_alliances).post(api_alliance_create),
        )
        .route(
            "/api/v1/first-secretaries/alliances/{id}",
            get(api_alliance),
        )
        .route(
            "/api/v1/first-secretaries/alliances/{id}/members",
            post(api_alliance_members),
        )
        .route(
            "/api/v1/first-secretaries/alliances/{id}/members/{assignment_id}",
            delete(api_alliance_remove),
        )
        .route(
            "/api/v1/first-secretaries/alliances/{id}/contests",
            post(api_contest),
        )
        .route(
            "/api/v1/first-secretaries/{id}/party-relation",
            get(api_party_relation).post(api_party_relation_send),
        )
        .route("/api/v1/public/first-secretaries/{id}", get(api_public))
        .route(
            "/api/v1/first-secretaries/pledges/{id}/progress",
            post(api_pledge_progress),
        )
        .route(
            "/api/v1/first-secretaries/pledges/{id}/remove",
            post(api_pledge_remove),
        )
        .route(
            "/api/v1/first-secretaries/{id}/ledger",
            get(api_ledger).post(api_ledger_add),
        )
        .route(
            "/api/v1/first-secretaries/ledger/{id}/reverse",
            post(api_ledger_reverse),
        )
        .route("/api/v1/first-secretaries/scores", get(api_month_scores))
        .route("/api/v1/first-secretaries/scores/close", post(api_close))
        .route(
            "/api/v1/first-secretaries/rankings",
            get(api_ranking).post(api_publish),
        )
        .route(
            "/api/v1/first-secretaries/{id}/scores",
            get(api_scores).post(api_score),
        )
        .route(
            "/api/v1/first-secretaries/{id}/assessments",
            get(api_assessments).post(api_assess),
        )
        .route(
            "/api/v1/first-secretaries/years",
            get(api_year).post(api_confirm_year),
        )
}

const PAGE: i64 = 50;

fn refused(e: &AppError) -> bool {
    matches!(
        e,
        AppError::Validation(_) | AppError::Refused { .. } | AppError::Conflict(_)
    )
}

fn status_of(e: &AppError) -> StatusCode {
    if matches!(e, AppError::Conflict(_)) {
        StatusCode::CONFLICT
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    }
}

// ---------------------------------------------------------------- list, rounds, nominations

#[derive(Deserialize, Default)]
#[serde(default)]
struct ListQuery {
    org_id: Option<i64>,
    round_id: Option<i64>,
    status: Option<String>,
    name: Option<String>,
    page: Option<i64>,
}

async fn list_view(
    ctx: &Ctx,
    p: &Principal,
    q: &ListQuery,
    errors: Vec<FieldError>,
    sent: &HashMap<String, String>,
) -> Result<minijinja::Value, AppError> {
    let page = q.page.unwrap_or(1).clamp(1, 100_000);
    let f = AssignmentFilter {
        org_id: q.org_id,
        round_id: q.round_id,
        status: q.status.clone(),
        name: q.name.clone(),
        offset: Some((page - 1) * PAGE),
        limit: Some(PAGE),
    };
    let list = store::list(ctx, p, &f).await?;
    let rounds = store::rounds(ctx, p).await?;
    let org = crate::cadre::store::scope_org(ctx, p, q.org_id).await?;
    // cadres that may be nominated: active first secretaries (and others) of the register
    let cadres = if p.can(Perm::CadreWrite) {
        crate::cadre::store::list(
            ctx,
            p,
            &crate::cadre::store::CadreFilter {
                category: Some("first_secretary".into()),
                limit: Some(500),
                ..Default::default()
            },
        )
        .await?
        .items
    } else {
        Vec::new()
    };
    let busy = store::busy_cadres(ctx).await?;
    let cadres: Vec<_> = cadres
        .into_iter()
        .filter(|c| !busy.contains(&c.id))
        .collect();
    let pages = ((list.total + PAGE - 1) / PAGE).max(1);
    let mut qs = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("name", q.name.clone()),
        ("status", q.status.clone()),
        ("round_id", q.round_id.map(|r| r.to_string())),
    ] {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            qs.append_pair(k, &v);
        }
    }
    if q.org_id.is_some() {
        qs.append_pair("org_id", &org.id.to_string());
    }
    let open_rounds: Vec<&Round> = rounds.iter().filter(|r| r.status == "open").collect();
    Ok(context! {
        list => list, rounds => rounds, open_rounds => open_rounds, org => org, cadres => cadres,
        filter => context! { name => q.name, status => q.status, round_id => q.round_id },
        page => context! { page => page.min(pages), total => list.total }, pages => pages, qs => qs.finish(),
        can_write => p.can(Perm::CadreWrite), errors => errors, sent => sent,
        levels => LEVELS, statuses => STATUSES, year => chrono::Datelike::year(&ctx.clock.today()),
    })
}

async fn list_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    let v = list_view(&ctx, &p, &q, Vec::new(), &HashMap::new()).await?;
    Ok(render(
        "first_secretaries.html",
        page_ctx(&p, "first_secretaries", v),
    ))
}

async fn list_refused(
    ctx: &Ctx,
    p: &Principal,
    e: AppError,
    sent: &HashMap<String, String>,
) -> Result<Response, PageError> {
    let status = status_of(&e);
    let v = list_view(
        ctx,
        p,
        &ListQuery::default(),
        crate::web::field_errors(e, "form"),
        sent,
    )
    .await?;
    Ok(render_status(
        status,
        "first_secretaries.html",
        page_ctx(p, "first_secretaries", v),
    ))
}

async fn round_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let input = NewRound {
        org_id: form::opt_num(&f, "org_id"),
        name: form::text(&f, "name"),
        year: form::num(&f, "year"),
    };
    match store::create_round(&ctx, &p, &input).await {
        Ok(_) => Ok(Redirect::to("/first-secretaries?ok=saved").into_response()),
        Err(e) if refused(&e) => list_refused(&ctx, &p, e, &f).await,
        Err(e) => Err(e.into()),
    }
}

fn nomination_of(f: &HashMap<String, String>) -> Nomination {
    Nomination {
        round_id: form::num(f, "round_id"),
        cadre_id: form::num(f, "cadre_id"),
        sending_level: form::text(f, "sending_level"),
        sending_unit: form::text(f, "sending_unit"),
        note: form::text(f, "note"),
    }
}

async fn nominate_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    match store::nominate(&ctx, &p, &nomination_of(&f)).await {
        Ok(a) => Ok(Redirect::to(&format!("/first-secretaries/{}?ok=saved", a.id)).into_response()),
        Err(e) if refused(&e) => list_refused(&ctx, &p, e, &f).await,
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------- one assignment

#[derive(Deserialize, Default)]
#[serde(default)]
struct DetailQuery {
    month: Option<String>,
    /// The month of a report to correct (the form opens with what was filed).
    report: Option<String>,
}

fn parse_month(s: Option<&str>, today: NaiveDate) -> Result<NaiveDate, AppError> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(today),
        Some(m) => NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d")
            .ok()
            .filter(|d| (2000..=2100).contains(&chrono::Datelike::year(d)))
            .ok_or_else(|| AppError::field("month", "月份格式应为 YYYY-MM")),
    }
}

async fn detail_view(
    ctx: &Ctx,
    p: &Principal,
    id: i64,
    month: NaiveDate,
    errors: Vec<FieldError>,
    sent: &HashMap<String, String>,
) -> Result<minijinja::Value, AppError> {
    let (a, paths) = store::get(ctx, p, id).await?;
    let tutors = store::tutors(ctx, id).await?;
    let (first, last) = super::month_bounds(month);
    let checkins = store::checkins(ctx, id, first, last).await?;
    let rules = store::rules_at(ctx, &paths.round).await?;
    let can_decide = store::decides(p, &paths);
    let history = if can_decide {
        crate::audit::history_in_words(&ctx.db, "fs_assignment", &id.to_string()).await?
    } else {
        Vec::new()
    };
    let own = paths.cadre_account == Some(p.account_id);
    let leaves = store::leaves(ctx, id).await?;
    let approvable: Vec<i64> = leaves
        .iter()
        .filter(|l| l.status == "requested" && store::can_approve(p, &paths, &l.approver))
        .map(|l| l.id)
        .collect();
    let ledger = store::ledger(ctx, id).await?;
    let (red, black) = store::ledger_totals(ctx, store::LedgerOf::Assignment, id).await?;
    let pledges = store::pledges(ctx, id).await?;
    let can_pledge = store::can_pledge(p, &a, &paths);
    let spots = store::spot_checks(ctx, id).await?;
    let (areas, scores) = scoring::of_posting(ctx, &a, &paths).await?;
    let can_score = scoring::can_score(p, &paths)
        && matches!(a.status.as_str(), "on_duty" | "recalled" | "completed");
    let assessments = scoring::assessments(ctx, id).await?;
    let years = scoring::posting_years(&a, ctx.clock.today());
    let ranks = if a.start_on.is_some() {
        scoring::own_ranks(ctx, &a).await?
    } else {
        Vec::new()
    };
    let can_check = p.can(Perm::FsDaily)
        && (paths.village.as_deref().is_some_and(|v| p.in_scope(v)) || p.in_scope(&paths.round));
    let prev = first
        .pred_opt()
        .unwrap_or(first)
        .format("%Y-%m")
        .to_string();
    let next = last.succ_opt().unwrap_or(last).format("%Y-%m").to_string();
    let reports = results::reports(ctx, &paths, id, 12).await?;
    let can_report = own
        && a.village_id.is_some()
        && matches!(a.status.as_str(), "on_duty" | "recalled" | "completed");
    let guidance = store::guidance(ctx, id).await?;
    let can_guide = store::can_record_guidance(p, &paths) && a.start_on.is_some();
    let public = results::is_public(ctx, &a, &paths).await?;
    // the form's month: a report asked to be corrected (prefilled, with its version), else
    // last month while it is not reported, else this month
    let correct = sent.get("_correct").cloned();
    let prefill = correct
        .as_ref()
        .and_then(|m| reports.iter().find(|r| &r.month == m && !r.frozen))
        .cloned();
    let prefill_values: HashMap<String, String> = prefill
        .as_ref()
        .map(|r| {
            r.counters
                .iter()
                .map(|c| (c.key.clone(), c.value.clone()))
                .collect()
        })
        .unwrap_or_default();
    let report_month = match &prefill {
        Some(r) => r.month.clone(),
        None => report_month(ctx.clock.today(), &reports),
    };
    let report_open = prefill.is_some();
    let relation = store::party_relation(ctx, p, &a, &paths).await?;
    Ok(context! {
        reports => reports, can_report => can_report, report_month => report_month,
        prefill => prefill, prefill_values => prefill_values, report_open => report_open,
        guidance => guidance, can_guide => can_guide, public => public, relation => relation,
        guidance_methods => super::GUIDANCE_METHODS,
        a => a, tutors => tutors, checkins => checkins, month => first.format("%Y-%m").to_string(),
        prev => prev, next => next, rules => rules, can_decide => can_decide, own => own, history => history,
        errors => errors, sent => sent, tutor_roles => TUTOR_ROLES, today => ctx.clock.today(),
        leaves => leaves, approvable => approvable, spots => spots, can_check => can_check,
        methods => super::CHECK_METHODS, results => super::CHECK_RESULTS,
        ledger => ledger, red => red, black => black, can_ledger => can_decide,
        categories => super::LEDGER_CATEGORIES, pledges => pledges, can_pledge => can_pledge,
        areas => areas, scores => scores, can_score => can_score, ranks => ranks,
        assessments => assessments, years => years,
        this_month => crate::points::month_label(crate::points::month_key(ctx.clock.today())),
    })
}

async fn detail_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Query(q): Query<DetailQuery>,
) -> Result<Response, PageError> {
    let month = parse_month(q.month.as_deref(), ctx.clock.today())?;
    let mut sent = HashMap::new();
    if let Some(r) = q
        .report
        .as_deref()
        .filter(|r| results::month_start(r).is_some())
    {
        sent.insert("_correct".to_string(), r.trim().to_string());
    }
    let v = detail_view(&ctx, &p, id, month, Vec::new(), &sent).await?;
    Ok(render(
        "first_secretary.html",
        page_ctx(&p, "first_secretaries", v),
    ))
}

async fn after(
    ctx: &Ctx,
    p: &Principal,
    id: i64,
    r: Result<(), AppError>,
    sent: &HashMap<String, String>,
) -> Result<Response, PageError> {
    match r {
        Ok(()) => Ok(Redirect::to(&format!("/first-secretaries/{id}?ok=saved")).into_response()),
        Err(e) if refused(&e) => {
            let status = status_of(&e);
            let v = detail_view(
                ctx,
                p,
                id,
                ctx.clock.today(),
                crate::web::field_errors(e, "form"),
                sent,
            )
            .await?;
            Ok(render_status(
                status,
                "first_secretary.html",
                page_ctx(p, "first_secretaries", v),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

fn float(f: &HashMap<String, String>, k: &str) -> Option<f64> {
    f.get(k).and_then(|v| v.trim().parse::<f64>().ok())
}

fn posting_of(f: &HashMap<String, String>) -> Posting {
    Posting {
        village_id: form::num(f, "village_id"),
        start_on: form::date(f, "start_on"),
        term_months: form::num(f, "term_months"),
        liaison: form::text(f, "liaison"),
        team: form::text(f, "team"),
        lat: float(f, "lat"),
        lng: float(f, "lng"),
        collective_income_yuan: form::opt_num(f, "collective_income_yuan"),
        households_in_difficulty: form::opt_num(f, "households_in_difficulty"),
        version: form::opt_num(f, "version"),
    }
}

async fn assign_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let r = store::assign(&ctx, &p, id, &posting_of(&f))
        .await
        .map(|_| ());
    after(&ctx, &p, id, r, &f).await
}

fn decision_of(f: &HashMap<String, String>) -> Decision {
    Decision {
        reason: form::text(f, "reason"),
        on: form::date(f, "on"),
        months: form::opt_num(f, "months"),
        version: form::opt_num(f, "version"),
    }
}

async fn decide_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path((id, what)): Path<(i64, String)>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let r = store::decide(&ctx, &p, id, &what, &decision_of(&f))
        .await
        .map(|_| ());
    after(&ctx, &p, id, r, &f).await
}

async fn tutor_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let input = NewTutor {
        role: form::text(&f, "role"),
        name: form::text(&f, "name"),
        unit: form::text(&f, "unit"),
    };
    let r = store::add_tutor(&ctx, &p, id, &input).await.map(|_| ());
    after(&ctx, &p, id, r, &f).await
}

async fn tutor_remove_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path((id, tutor)): Path<(i64, i64)>,
) -> Result<Response, PageError> {
    let r = store::remove_tutor(&ctx, &p, id, tutor).await;
    after(&ctx, &p, id, r, &HashMap::new()).await
}

async fn photo(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let bytes = store::checkin_photo(&ctx, &p, id).await?;
    let mime = crate::blob::sniff(&bytes)
        .map(|s| s.0)
        .unwrap_or("application/octet-stream");
    Ok((
        [
            (header::CONTENT_TYPE, mime),
            (header::CACHE_CONTROL, "private, no-store"),
        ],
        bytes,
    )
        .into_response())
}

// ---------------------------------------------------------------- clocking in

async fn checkin_view(
    ctx: &Ctx,
    p: &Principal,
    errors: Vec<FieldError>,
    sent: &HashMap<String, String>,
) -> Result<minijinja::Value, AppError> {
    let mine = store::of_account(ctx, p.account_id).await?;
    let today = ctx.clock.today();
    let (a, todays, rules, leaves) = match mine {
        Some((a, paths)) => {
            let cs = store::checkins(ctx, a.id, today, today).await?;
            let rules = store::rules_at(ctx, &paths.round).await?;
            let leaves = store::leaves(ctx, a.id).await?;
            (Some(a), cs, Some(rules), leaves)
        }
        None => (None, Vec::new(), None, Vec::new()),
    };
    Ok(
        context! { a => a, todays => todays, rules => rules, errors => errors, today => today, leaves => leaves, sent => sent },
    )
}

async fn checkin_page(State(ctx): State<AppState>, Auth(p): Auth) -> Result<Response, PageError> {
    let v = checkin_view(&ctx, &p, Vec::new(), &HashMap::new()).await?;
    Ok(render("fs_checkin.html", page_ctx(&p, "fs_checkin", v)))
}

fn checkin_of(f: &HashMap<String, String>, photo: Vec<u8>) -> Result<NewCheckin, AppError> {
    let at = match f.get("at").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| AppError::field("at", "打卡时间格式有误"))?,
        ),
    };
    Ok(NewCheckin {
        kind: form::text(f, "kind"),
        lat: float(f, "lat"),
        lng: float(f, "lng"),
        accuracy: float(f, "accuracy"),
        at,
        photo,
    })
}

async fn checkin_post(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    mp: Multipart,
) -> Result<Response, PageError> {
    let r = async {
        let (f, _, bytes) = crate::web::read_multipart(mp).await?;
        store::checkin(&ctx, &p, &checkin_of(&f, bytes)?).await
    }
    .await;
    match r {
        Ok(c) => Ok(Redirect::to(&format!(
            "/first-secretaries/checkin?ok={}",
            if c.inside {
                "checkin_inside"
            } else {
                "checkin_outside"
            }
        ))
        .into_response()),
        Err(e) if refused(&e) => {
            let status = status_of(&e);
            let v = checkin_view(
                &ctx,
                &p,
                crate::web::field_errors(e, "form"),
                &HashMap::new(),
            )
            .await?;
            Ok(render_status(
                status,
                "fs_checkin.html",
                page_ctx(&p, "fs_checkin", v),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------- leave and spot checks

fn leave_of(f: &HashMap<String, String>) -> NewLeave {
    NewLeave {
        from_on: form::date(f, "from_on"),
        to_on: form::date(f, "to_on"),
        reason: form::text(f, "reason"),
    }
}

async fn leave_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    match store::request_leave(&ctx, &p, &leave_of(&f)).await {
        Ok(_) => Ok(Redirect::to("/first-secretaries/checkin?ok=saved#leave").into_response()),
        Err(e) if refused(&e) => {
            let status = status_of(&e);
            let v = checkin_view(&ctx, &p, crate::web::field_errors(e, "reason"), &f).await?;
            Ok(render_status(
                status,
                "fs_checkin.html",
                page_ctx(&p, "fs_checkin", v),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

async fn leave_cancel_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    store::cancel_leave(&ctx, &p, id).await?;
    Ok(Redirect::to("/first-secretaries/checkin?ok=saved#leave").into_response())
}

async fn leave_decide_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let input = LeaveDecision {
        approve: form::text(&f, "approve") == "1",
        note: form::text(&f, "note"),
    };
    let assignment = store::leave_assignment(&ctx, id).await?;
    let r = store::decide_leave(&ctx, &p, id, &input).await.map(|_| ());
    after(&ctx, &p, assignment, r, &f).await
}

async fn spot_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let input = NewSpotCheck {
        checked_on: form::date(&f, "checked_on"),
        method: form::text(&f, "check_method"),
        result: form::text(&f, "result"),
        note: form::text(&f, "note"),
    };
    let r = store::spot_check(&ctx, &p, id, &input).await.map(|_| ());
    after(&ctx, &p, id, r, &f).await
}

/// The first secretary asks for leave (the township approves up to the rule's working days,
/// the county beyond).
#[utoipa::path(post, path = "/api/v1/first-secretaries/leaves", tag = "first_secretaries", request_body = NewLeave,
    responses((status = 200, body = Leave), (status = 403, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_leave(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Json(b): Json<NewLeave>,
) -> Result<Json<Leave>, ApiError> {
    Ok(Json(store::request_leave(&ctx, &p, &b).await?))
}

/// Approves or refuses a leave (a refusal needs its reason).
#[utoipa::path(post, path = "/api/v1/first-secretaries/leaves/{id}/decide", tag = "first_secretaries", params(("id" = i64, Path)), request_body = LeaveDecision,
    responses((status = 200, body = Leave), (status = 403, body = crate::web::ErrorBody), (status = 404, body = crate::web::ErrorBody), (status = 409, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_leave_decide(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<LeaveDecision>,
) -> Result<Json<Leave>, ApiError> {
    Ok(Json(store::decide_leave(&ctx, &p, id, &b).await?))
}

/// The first secretary withdraws a leave not yet decided.
#[utoipa::path(post, path = "/api/v1/first-secretaries/leaves/{id}/cancel", tag = "first_secretaries", params(("id" = i64, Path)),
    responses((status = 200, body = Leave), (status = 404, body = crate::web::ErrorBody), (status = 409, body = crate::web::ErrorBody)))]
pub async fn api_leave_cancel(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Leave>, ApiError> {
    Ok(Json(store::cancel_leave(&ctx, &p, id).await?))
}

/// An assignment's leaves, newest first.
#[utoipa::path(get, path = "/api/v1/first-secretaries/{id}/leaves", tag = "first_secretaries", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<Leave>), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_leaves(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Vec<Leave>>, ApiError> {
    store::get(&ctx, &p, id).await?;
    Ok(Json(store::leaves(&ctx, id).await?))
}

/// An assignment's spot checks (四不两直), newest first.
#[utoipa::path(get, path = "/api/v1/first-secretaries/{id}/spot-checks", tag = "first_secretaries", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<SpotCheck>), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_spot_checks(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Vec<SpotCheck>>, ApiError> {
    store::get(&ctx, &p, id).await?;
    Ok(Json(store::spot_checks(&ctx, id).await?))
}

/// Records a spot check; absent on a day without approved leave is flagged.
#[utoipa::path(post, path = "/api/v1/first-secretaries/{id}/spot-checks", tag = "first_secretaries", params(("id" = i64, Path)), request_body = NewSpotCheck,
    responses((status = 200, body = SpotCheck), (status = 403, body = crate::web::ErrorBody), (status = 404, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_spot_check(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<NewSpotCheck>,
) -> Result<Json<SpotCheck>, ApiError> {
    Ok(Json(store::spot_check(&ctx, &p, id, &b).await?))
}

// ---------------------------------------------------------------- 四个一

/// A round's 四个一: the obligations of its periods with their status, and the records.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RoundActivities {
    pub round: Round,
    pub obligations: Vec<crate::obligation::Obligation>,
    pub activities: Vec<Activity>,
}

/// A round's 四个一 as the caller may read it, and the round's organisation path.
async fn round_activities(
    ctx: &Ctx,
    p: &Principal,
    id: i64,
) -> Result<(RoundActivities, String), AppError> {
    let (round, path) = store::round(ctx, p, id).await?;
    let obligations = crate::obligation::of_subject(ctx, store::ROUND_SUBJECT, id, 40).await?;
    let activities = store::activities(ctx, id).await?;
    Ok((
        RoundActivities {
            round,
            obligations,
            activities,
        },
        path,
    ))
}

async fn round_view(
    ctx: &Ctx,
    p: &Principal,
    id: i64,
    errors: Vec<FieldError>,
    sent: &HashMap<String, String>,
) -> Result<minijinja::Value, AppError> {
    let (v, path) = round_activities(ctx, p, id).await?;
    let can_record = p.can(Perm::CadreWrite) && p.in_scope(&path);
    let grace = store::rules_at(ctx, &path).await?.activity_grace_days;
    // each period by its name (2026年12月, 2026年第四季度 ...)
    let periods: Vec<String> = v
        .obligations
        .iter()
        .map(|o| {
            super::cadence_period_label(&o.kind, o.period_start).unwrap_or_else(|| o.period.clone())
        })
        .collect();
    Ok(context! {
        r => v.round, obligations => v.obligations, periods => periods, activities => v.activities, can_record => can_record,
        kinds => super::ACTIVITIES, grace => grace, errors => errors, sent => sent, today => ctx.clock.today(),
    })
}

async fn round_detail_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let v = round_view(&ctx, &p, id, Vec::new(), &HashMap::new()).await?;
    Ok(render(
        "first_secretary_round.html",
        page_ctx(&p, "first_secretaries", v),
    ))
}

async fn activity_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let input = NewActivity {
        kind: form::text(&f, "kind"),
        held_on: form::date(&f, "held_on"),
        title: form::text(&f, "title"),
        content: form::text(&f, "content"),
        // what is not a number is refused, not taken as none
        attendees: form::text(&f, "attendees").parse().unwrap_or(-1),
    };
    match store::record_activity(&ctx, &p, id, &input).await {
        Ok(_) => {
            Ok(Redirect::to(&format!("/first-secretaries/rounds/{id}?ok=saved")).into_response())
        }
        Err(e) if refused(&e) => {
            let status = status_of(&e);
            let v = round_view(&ctx, &p, id, crate::web::field_errors(e, "form"), &f).await?;
            Ok(render_status(
                status,
                "first_secretary_round.html",
                page_ctx(&p, "first_secretaries", v),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// A round's 四个一 (monthly work meeting, quarterly site visit, half-yearly training, yearly
/// assessment): each period's obligation with its status, and what was held.
#[utoipa::path(get, path = "/api/v1/first-secretaries/rounds/{id}/activities", tag = "first_secretaries", params(("id" = i64, Path)),
    responses((status = 200, body = RoundActivities), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_activities(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<RoundActivities>, ApiError> {
    Ok(Json(round_activities(&ctx, &p, id).await?.0))
}

/// Records a meeting, visit, training or assessment the round's department held: it fulfils
/// the obligation of its period (on time when entered by the period's end).
#[utoipa::path(post, path = "/api/v1/first-secretaries/rounds/{id}/activities", tag = "first_secretaries", params(("id" = i64, Path)), request_body = NewActivity,
    responses((status = 200, body = Activity), (status = 403, body = crate::web::ErrorBody), (status = 404, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_activity(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<NewActivity>,
) -> Result<Json<Activity>, ApiError> {
    Ok(Json(store::record_activity(&ctx, &p, id, &b).await?))
}

// ---------------------------------------------------------------- 履职承诺

async fn pledge_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let input = NewPledge {
        item: form::text(&f, "item"),
        target: form::text(&f, "target"),
    };
    let r = store::add_pledge(&ctx, &p, id, &input).await.map(|_| ());
    after(&ctx, &p, id, r, &f).await
}

async fn pledge_progress_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let input = PledgeProgress {
        progress: form::text(&f, "progress"),
    };
    let assignment = store::pledge_get(&ctx, id).await?.assignment_id;
    let r = store::pledge_progress(&ctx, &p, id, &input)
        .await
        .map(|_| ());
    after(&ctx, &p, assignment, r, &f).await
}

async fn pledge_remove_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let assignment = store::pledge_get(&ctx, id).await?.assignment_id;
    let r = store::remove_pledge(&ctx, &p, id).await.map(|_| ());
    after(&ctx, &p, assignment, r, &f).await
}

/// A posting's pledge (履职承诺书): items, targets and how far each has come.
#[utoipa::path(get, path = "/api/v1/first-secretaries/{id}/pledges", tag = "first_secretaries", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<Pledge>), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_pledges(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Vec<Pledge>>, ApiError> {
    store::get(&ctx, &p, id).await?;
    Ok(Json(store::pledges(&ctx, id).await?))
}

/// Adds a pledge item (the first secretary on duty, or the round's department).
#[utoipa::path(post, path = "/api/v1/first-secretaries/{id}/pledges", tag = "first_secretaries", params(("id" = i64, Path)), request_body = NewPledge,
    responses((status = 200, body = Pledge), (status = 403, body = crate::web::ErrorBody), (status = 404, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_pledge_add(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<NewPledge>,
) -> Result<Json<Pledge>, ApiError> {
    Ok(Json(store::add_pledge(&ctx, &p, id, &b).await?))
}

/// Records how far a pledge item has come.
#[utoipa::path(post, path = "/api/v1/first-secretaries/pledges/{id}/progress", tag = "first_secretaries", params(("id" = i64, Path)), request_body = PledgeProgress,
    responses((status = 200, body = Pledge), (status = 403, body = crate::web::ErrorBody), (status = 404, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_pledge_progress(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<PledgeProgress>,
) -> Result<Json<Pledge>, ApiError> {
    Ok(Json(store::pledge_progress(&ctx, &p, id, &b).await?))
}

/// Takes a pledge item back (kept in the record, no longer listed).
#[utoipa::path(post, path = "/api/v1/first-secretaries/pledges/{id}/remove", tag = "first_secretaries", params(("id" = i64, Path)),
    responses((status = 204), (status = 403, body = crate::web::ErrorBody), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_pledge_remove(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    store::remove_pledge(&ctx, &p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------- the red/black ledger

async fn ledger_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let input = NewLedgerEntry {
        category: form::text(&f, "category"),
        occurred_on: form::date(&f, "occurred_on"),
        matter: form::text(&f, "matter"),
    };
    let r = store::add_ledger(&ctx, &p, id, &input).await.map(|_| ());
    after(&ctx, &p, id, r, &f).await
}

async fn ledger_reverse_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let input = LedgerReversal {
        reason: form::text(&f, "reason"),
    };
    let assignment = store::ledger_assignment(&ctx, id).await?;
    let r = store::reverse_ledger(&ctx, &p, id, &input)
        .await
        .map(|_| ());
    after(&ctx, &p, assignment, r, &f).await
}

/// A posting's red/black ledger (红黑台账), newest first; a reversal names the entry it
/// reverses, and a reversed entry the entry that reversed it.
#[utoipa::path(get, path = "/api/v1/first-secretaries/{id}/ledger", tag = "first_secretaries", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<LedgerEntry>), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_ledger(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Vec<LedgerEntry>>, ApiError> {
    store::get(&ctx, &p, id).await?;
    Ok(Json(store::ledger(&ctx, id).await?))
}

/// Adds an entry to a posting's red/black ledger (the department running the round).
#[utoipa::path(post, path = "/api/v1/first-secretaries/{id}/ledger", tag = "first_secretaries", params(("id" = i64, Path)), request_body = NewLedgerEntry,
    responses((status = 200, body = LedgerEntry), (status = 403, body = crate::web::ErrorBody), (status = 404, body = crate::web::ErrorBody), (status = 409, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_ledger_add(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<NewLedgerEntry>,
) -> Result<Json<LedgerEntry>, ApiError> {
    Ok(Json(store::add_ledger(&ctx, &p, id, &b).await?))
}

/// Reverses a ledger entry with its reason: a new, cancelling entry (the ledger is
/// append-only; an entry is reversed at most once, and a reversal never).
#[utoipa::path(post, path = "/api/v1/first-secretaries/ledger/{id}/reverse", tag = "first_secretaries", params(("id" = i64, Path)), request_body = LedgerReversal,
    responses((status = 200, body = LedgerEntry), (status = 403, body = crate::web::ErrorBody), (status = 404, body = crate::web::ErrorBody), (status = 409, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_ledger_reverse(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<LedgerReversal>,
) -> Result<Json<LedgerEntry>, ApiError> {
    Ok(Json(store::reverse_ledger(&ctx, &p, id, &b).await?))
}

// ---------------------------------------------------------------- the month's presence

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct PresenceQuery {
    pub org_id: Option<i64>,
    /// YYYY-MM (default: this month).
    #[param(pattern = r"^([0-9]{4}-[0-9]{2})?$")]
    pub month: Option<String>,
    /// `csv` for the file (page only).
    pub format: Option<String>,
}

async fn presence_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<PresenceQuery>,
) -> Result<Response, PageError> {
    let month = parse_month(q.month.as_deref(), ctx.clock.today())?;
    let r = store::presence_month(&ctx, &p, q.org_id, month).await?;
    if q.format.as_deref() == Some("csv") {
        let rows = r
            .rows
            .iter()
            .map(|x| {
                vec![
                    x.township_name.clone(),
                    x.village_name.clone(),
                    x.cadre_name.clone(),
                    x.sending_unit.clone(),
                    x.presence.working_days.to_string(),
                    x.presence.required.to_string(),
                    x.presence.in_village.to_string(),
                    x.presence.leave_days.to_string(),
                    x.presence.absent_days.to_string(),
                    x.presence.outside_only.to_string(),
                    x.presence.offline.to_string(),
                    if x.presence.short { "是" } else { "否" }.to_string(),
                ]
            })
            .collect();
        return Ok(crate::web::csv_export(
            &ctx,
            &p,
            crate::web::CsvExport {
                action: "fs.presence_export",
                object_type: "fs_presence",
                title: format!("第一书记在村情况-{}", r.month),
                header: &[
                    "乡镇",
                    "村",
                    "第一书记",
                    "派出单位",
                    "工作日",
                    "应在村天数",
                    "在村天数",
                    "请假",
                    "缺勤",
                    "仅村外打卡天数",
                    "离线补传",
                    "不足",
                ],
                rows,
                asked: serde_json::json!({"org_id": q.org_id, "month": r.month}),
            },
        )
        .await?);
    }
    let org = crate::cadre::store::scope_org(&ctx, &p, q.org_id).await?;
    // the map: each village at its place, green where the month's days are met, red where short
    let ids: Vec<i64> = r.rows.iter().map(|x| x.assignment_id).collect();
    let points = store::village_points(&ctx, &ids).await?;
    let map: Vec<serde_json::Value> = r
        .rows
        .iter()
        .filter_map(|x| {
            points.get(&x.assignment_id).map(|pt| {
                serde_json::json!([
                    format!(
                        "{} {}（{}/{}天）",
                        x.village_name, x.cadre_name, x.presence.in_village, x.presence.required
                    ),
                    (pt.lng * 1e4).round() / 1e4,
                    (pt.lat * 1e4).round() / 1e4,
                    x.presence.short
                ])
            })
        })
        .collect();
    let v = context! { r => r, org => org, map => map };
    Ok(render(
        "fs_presence.html",
        page_ctx(&p, "first_secretaries", v),
    ))
}

// ---------------------------------------------------------------- API

/// The rounds the caller runs or may nominate into.
#[utoipa::path(get, path = "/api/v1/first-secretaries/rounds", tag = "first_secretaries",
    responses((status = 200, body = Vec<Round>), (status = 403, body = crate::web::ErrorBody)))]
pub async fn api_rounds(
    State(ctx): State<AppState>,
    Auth(p): Auth,
) -> Result<Json<Vec<Round>>, ApiError> {
    Ok(Json(store::rounds(&ctx, &p).await?))
}

/// Opens a round (批次) run by a committee of the caller's subtree.
#[utoipa::path(post, path = "/api/v1/first-secretaries/rounds", tag = "first_secretaries", request_body = NewRound,
    responses((status = 200, body = Round), (status = 403, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_round(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Json(b): Json<NewRound>,
) -> Result<Json<Round>, ApiError> {
    Ok(Json(store::create_round(&ctx, &p, &b).await?))
}

/// Assignments whose round, village or cadre is in the subtree.
#[utoipa::path(get, path = "/api/v1/first-secretaries", tag = "first_secretaries", params(AssignmentFilter),
    responses((status = 200, body = AssignmentPage), (status = 403, body = crate::web::ErrorBody)))]
pub async fn api_list(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(f): Query<AssignmentFilter>,
) -> Result<Json<AssignmentPage>, ApiError> {
    Ok(Json(store::list(&ctx, &p, &f).await?))
}

/// The sending side nominates a cadre of its register into an open round.
#[utoipa::path(post, path = "/api/v1/first-secretaries", tag = "first_secretaries", request_body = Nomination,
    responses((status = 200, body = Assignment), (status = 403, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_nominate(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Json(b): Json<Nomination>,
) -> Result<Json<Assignment>, ApiError> {
    Ok(Json(store::nominate(&ctx, &p, &b).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AssignmentDetail {
    #[serde(flatten)]
    pub assignment: Assignment,
    pub tutors: Vec<Tutor>,
}

/// One assignment with its tutors.
#[utoipa::path(get, path = "/api/v1/first-secretaries/{id}", tag = "first_secretaries", params(("id" = i64, Path)),
    responses((status = 200, body = AssignmentDetail), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_get(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<AssignmentDetail>, ApiError> {
    let (assignment, _) = store::get(&ctx, &p, id).await?;
    let tutors = store::tutors(&ctx, id).await?;
    Ok(Json(AssignmentDetail { assignment, tutors }))
}

/// The round's department sends a nominated cadre to a village (term, liaison, location; the
/// village's baseline is recorded).
#[utoipa::path(post, path = "/api/v1/first-secretaries/{id}/assign", tag = "first_secretaries", params(("id" = i64, Path)), request_body = Posting,
    responses((status = 200, body = Assignment), (status = 403, body = crate::web::ErrorBody), (status = 409, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_assign(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<Posting>,
) -> Result<Json<Assignment>, ApiError> {
    Ok(Json(store::assign(&ctx, &p, id, &b).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DecideAction {
    Return,
    Recall,
    Complete,
    Extend,
}

/// `return` a nomination, `recall` (召回), `complete` at term end (期满) or `extend` (延期).
#[utoipa::path(post, path = "/api/v1/first-secretaries/{id}/decide/{action}", tag = "first_secretaries",
    params(("id" = i64, Path), ("action" = DecideAction, Path)), request_body = Decision,
    responses((status = 200, body = Assignment), (status = 403, body = crate::web::ErrorBody), (status = 409, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_decide(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path((id, action)): Path<(i64, DecideAction)>,
    Json(b): Json<Decision>,
) -> Result<Json<Assignment>, ApiError> {
    let what = match action {
        DecideAction::Return => "return",
        DecideAction::Recall => "recall",
        DecideAction::Complete => "complete",
        DecideAction::Extend => "extend",
    };
    Ok(Json(store::decide(&ctx, &p, id, what, &b).await?))
}

/// Adds a "3+1" tutor.
#[utoipa::path(post, path = "/api/v1/first-secretaries/{id}/tutors", tag = "first_secretaries", params(("id" = i64, Path)), request_body = NewTutor,
    responses((status = 200, body = Tutor), (status = 403, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_tutor(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<NewTutor>,
) -> Result<Json<Tutor>, ApiError> {
    Ok(Json(store::add_tutor(&ctx, &p, id, &b).await?))
}

/// Removes a tutor (kept in the history).
#[utoipa::path(delete, path = "/api/v1/first-secretaries/{id}/tutors/{tutor_id}", tag = "first_secretaries",
    params(("id" = i64, Path), ("tutor_id" = i64, Path)),
    responses((status = 204), (status = 403, body = crate::web::ErrorBody), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_tutor_remove(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path((id, tutor)): Path<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    store::remove_tutor(&ctx, &p, id, tutor).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct RangeQuery {
    /// First local day (default: the first of this month).
    #[param(value_type = Option<String>, pattern = r"^([0-9]{4}-[0-9]{2}-[0-9]{2})?$")]
    #[serde(deserialize_with = "crate::web::form::empty_as_none")]
    pub from: Option<NaiveDate>,
    /// Last local day (default: today).
    #[param(value_type = Option<String>, pattern = r"^([0-9]{4}-[0-9]{2}-[0-9]{2})?$")]
    #[serde(deserialize_with = "crate::web::form::empty_as_none")]
    pub to: Option<NaiveDate>,
}

/// An assignment's check-ins (at most 500, newest first): verdicts, distances, times.
#[utoipa::path(get, path = "/api/v1/first-secretaries/{id}/checkins", tag = "first_secretaries",
    params(("id" = i64, Path), RangeQuery),
    responses((status = 200, body = Vec<Checkin>), (status = 404, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_checkins(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Query(q): Query<RangeQuery>,
) -> Result<Json<Vec<Checkin>>, ApiError> {
    store::get(&ctx, &p, id).await?;
    let today = ctx.clock.today();
    let from = q.from.unwrap_or_else(|| super::month_bounds(today).0);
    let to = q.to.unwrap_or(today);
    if to < from || (to - from).num_days() > 366 {
        return Err(AppError::field("to", "查询范围须在一年以内，且截止不早于起始").into());
    }
    Ok(Json(store::checkins(&ctx, id, from, to).await?))
}

/// Clocks in or out (the caller's own on-duty assignment): a multipart form with `kind` (in
/// or out), `lat`, `lng`, `accuracy` (metres), `at` (RFC 3339, for a check-in queued offline;
/// empty: now) and `file` (the photo, JPG or PNG). Outside the radius it is recorded as such.
#[utoipa::path(post, path = "/api/v1/first-secretaries/checkins", tag = "first_secretaries",
    request_body(content_type = "multipart/form-data", description = "kind, lat, lng, accuracy, at and file (photo)"),
    responses((status = 200, body = Checkin), (status = 403, body = crate::web::ErrorBody), (status = 409, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_checkin(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    mp: Multipart,
) -> Result<Json<Checkin>, ApiError> {
    let (f, _, bytes) = crate::web::read_multipart(mp).await?;
    Ok(Json(
        store::checkin(&ctx, &p, &checkin_of(&f, bytes)?).await?,
    ))
}

/// The month's days in the village of every first secretary of the subtree, against the
/// share of working days required.
#[utoipa::path(get, path = "/api/v1/first-secretaries/presence", tag = "first_secretaries", params(PresenceQuery),
    responses((status = 200, body = PresenceReport), (status = 403, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_presence(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<PresenceQuery>,
) -> Result<Json<PresenceReport>, ApiError> {
    let month = parse_month(q.month.as_deref(), ctx.clock.today())?;
    Ok(Json(
        store::presence_month(&ctx, &p, q.org_id, month).await?,
    ))
}

// ---- 一月一评分、一季一排名 ----

fn sheet_of(f: &HashMap<String, String>) -> Sheet {
    Sheet {
        month: form::text(f, "month"),
        scores: f
            .iter()
            .filter_map(|(k, v)| {
                let key = k.strip_prefix("score_")?;
                // an empty box is a missing score; one that is not a whole number is out of
                // the area's range (both named by the sheet's check)
                let v = v.trim();
                (!v.is_empty()).then(|| (key.to_string(), v.parse::<i64>().unwrap_or(-1)))
            })
            .collect(),
        note: form::text(f, "note"),
        reason: form::text(f, "reason"),
    }
}

async fn score_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let r = scoring::score(&ctx, &p, id, &sheet_of(&f))
        .await
        .map(|_| ());
    after(&ctx, &p, id, r, &f).await
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct ScoresQuery {
    /// YYYY-MM; last month by default.
    pub month: Option<String>,
}

fn month_or_last(s: Option<&str>, today: NaiveDate) -> Result<i64, AppError> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        Some(m) => crate::points::parse_month(m)
            .ok_or_else(|| AppError::field("month", "月份格式应为YYYY-MM")),
        None => Ok(crate::points::month_key(
            super::month_bounds(today).0 - chrono::Duration::days(1),
        )),
    }
}

async fn scores_view(
    ctx: &Ctx,
    p: &Principal,
    month: i64,
    errors: Vec<FieldError>,
) -> Result<minijinja::Value, AppError> {
    let sheet = scoring::month_sheet(ctx, p, month).await?;
    let today = ctx.clock.today();
    let ended = month < crate::points::month_key(today);
    // the departments this account closes for: its own organisation's or below, not closed
    // the department closes its own months, not those of the departments below it
    let closable: Vec<i64> = if p.can(Perm::PointsWrite) && p.can(Perm::CadreWrite) && ended {
        sheet
            .departments
            .iter()
            .filter(|d| !d.closed && d.org_id == p.org_id)
            .map(|d| d.org_id)
            .collect()
    } else {
        Vec::new()
    };
    let prev = crate::points::month_label(if month % 100 == 1 {
        month - 89
    } else {
        month - 1
    });
    let next_m = if month % 100 == 12 {
        month + 89
    } else {
        month + 1
    };
    let next =
        (next_m <= crate::points::month_key(today)).then(|| crate::points::month_label(next_m));
    Ok(context! {
        sheet => sheet, closable => closable, prev => prev, next => next, errors => errors,
        quarter => crate::points::quarter_of(NaiveDate::from_ymd_opt((month / 100) as i32, (month % 100) as u32, 1).unwrap_or(today)),
    })
}

async fn scores_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<ScoresQuery>,
) -> Result<Response, PageError> {
    let month = month_or_last(q.month.as_deref(), ctx.clock.today())?;
    let v = scores_view(&ctx, &p, month, Vec::new()).await?;
    Ok(render(
        "fs_scores.html",
        page_ctx(&p, "first_secretaries", v),
    ))
}

async fn close_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let month = form::text(&f, "month");
    let org: i64 = form::num(&f, "org_id");
    match scoring::close(&ctx, &p, org, &month).await {
        Ok(_) => Ok(Redirect::to(&format!(
            "/first-secretaries/scores?month={month}&ok=closed"
        ))
        .into_response()),
        Err(e) if refused(&e) => {
            let status = status_of(&e);
            let m = month_or_last(Some(&month), ctx.clock.today())?;
            let v = scores_view(&ctx, &p, m, crate::web::field_errors(e, "form")).await?;
            Ok(render_status(
                status,
                "fs_scores.html",
                page_ctx(&p, "first_secretaries", v),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct RankingQuery {
    /// The department running the rounds; the nearest one by default.
    pub org_id: Option<i64>,
    /// YYYY-Qn; the last quarter by default.
    pub quarter: Option<String>,
}

fn quarter_step(q: &str, forward: bool) -> Option<String> {
    let (from, _) = crate::points::parse_quarter(q)?;
    let d = NaiveDate::from_ymd_opt((from / 100) as i32, (from % 100) as u32, 1)?;
    let d = if forward {
        d.checked_add_months(chrono::Months::new(3))?
    } else {
        d.checked_sub_months(chrono::Months::new(3))?
    };
    Some(crate::points::quarter_of(d))
}

/// The departments `p` reads, the one asked for (the nearest by default) and the quarter
/// asked for (the last one ended by default).
async fn ranking_of(
    ctx: &Ctx,
    p: &Principal,
    q: &RankingQuery,
) -> Result<(Vec<(i64, String)>, i64, String), AppError> {
    let departments = scoring::departments_for(ctx, p).await?;
    let org = q
        .org_id
        .or(departments.first().map(|d| d.0))
        .ok_or(AppError::NotFound("第一书记排名"))?;
    let quarter = q
        .quarter
        .clone()
        .filter(|x| !x.trim().is_empty())
        .unwrap_or_else(|| scoring::last_full_quarter(ctx.clock.today()));
    Ok((departments, org, quarter))
}

async fn ranking_view(
    ctx: &Ctx,
    p: &Principal,
    q: &RankingQuery,
    errors: Vec<FieldError>,
) -> Result<minijinja::Value, AppError> {
    let (departments, org, quarter) = ranking_of(ctx, p, q).await?;
    let result = scoring::ranking(ctx, p, org, &quarter).await;
    let (r, unpublished) = match result {
        Ok(r) => (Some(r), false),
        Err(AppError::Refused {
            code: "fs.ranking_unpublished",
            ..
        }) => (None, true),
        Err(e) => return Err(e),
    };
    let dept = crate::org::store::get(&ctx.db, org).await?;
    let ended = scoring::quarter_of_text(&quarter)
        .is_ok_and(|(_, _, to)| to < crate::points::month_key(ctx.clock.today()));
    let can_publish = r.as_ref().is_some_and(|r| r.published_at.is_none())
        && ended
        && p.can(Perm::CadreWrite)
        && p.can(Perm::PointsWrite)
        && p.org_path == dept.path;
    let published = scoring::published_quarters(ctx, org).await?;
    let next = quarter_step(&quarter, true)
        .filter(|n| n.as_str() <= crate::points::quarter_of(ctx.clock.today()).as_str());
    Ok(context! {
        r => r, unpublished => unpublished, quarter => quarter, org_id => org, org_name => dept.name,
        departments => departments, can_publish => can_publish, published => published,
        prev => quarter_step(&quarter, false), next => next, errors => errors,
        own => store::of_account(ctx, p.account_id).await?.map(|(a, _)| a.id),
    })
}

async fn ranking_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<RankingQuery>,
) -> Result<Response, PageError> {
    let v = ranking_view(&ctx, &p, &q, Vec::new()).await?;
    Ok(render(
        "fs_ranking.html",
        page_ctx(&p, "first_secretaries", v),
    ))
}

async fn publish_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let quarter = form::text(&f, "quarter");
    let org: i64 = form::num(&f, "org_id");
    match scoring::publish(&ctx, &p, org, &quarter).await {
        Ok(r) => Ok(Redirect::to(&format!(
            "/first-secretaries/rankings?org_id={org}&quarter={}&ok=ranking_published",
            r.quarter
        ))
        .into_response()),
        Err(e) if refused(&e) => {
            let status = status_of(&e);
            let q = RankingQuery {
                org_id: Some(org),
                quarter: Some(quarter),
            };
            let v = ranking_view(&ctx, &p, &q, crate::web::field_errors(e, "form")).await?;
            Ok(render_status(
                status,
                "fs_ranking.html",
                page_ctx(&p, "first_secretaries", v),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PostingScores {
    pub areas: Vec<scoring::Area>,
    /// The posting's months, newest first (at most 12).
    pub months: Vec<MonthScore>,
}

/// A posting's monthly scores (一月一评分), per area of the sheet.
#[utoipa::path(get, path = "/api/v1/first-secretaries/{id}/scores", tag = "first_secretaries", params(("id" = i64, Path)),
    responses((status = 200, body = PostingScores), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_scores(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<PostingScores>, ApiError> {
    let (a, paths) = store::get(&ctx, &p, id).await?;
    let (areas, months) = scoring::of_posting(&ctx, &a, &paths).await?;
    Ok(Json(PostingScores { areas, months }))
}

/// The township scores a month on the sheet: every area from 0 to its full mark; a month
/// already scored again only with a reason.
#[utoipa::path(post, path = "/api/v1/first-secretaries/{id}/scores", tag = "first_secretaries", params(("id" = i64, Path)), request_body = Sheet,
    responses((status = 200, body = MonthScore), (status = 403, body = crate::web::ErrorBody), (status = 404, body = crate::web::ErrorBody),
        (status = 409, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_score(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<Sheet>,
) -> Result<Json<MonthScore>, ApiError> {
    Ok(Json(scoring::score(&ctx, &p, id, &b).await?))
}

/// A month's scores of every first secretary in the account's scope.
#[utoipa::path(get, path = "/api/v1/first-secretaries/scores", tag = "first_secretaries", params(ScoresQuery),
    responses((status = 200, body = MonthSheet), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_month_scores(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<ScoresQuery>,
) -> Result<Json<MonthSheet>, ApiError> {
    let month = month_or_last(q.month.as_deref(), ctx.clock.today())?;
    Ok(Json(scoring::month_sheet(&ctx, &p, month).await?))
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct CloseMonth {
    /// The department running the rounds.
    pub org_id: i64,
    /// YYYY-MM
    pub month: String,
}

/// The department closes a month of its first secretaries' scores: final from then on.
#[utoipa::path(post, path = "/api/v1/first-secretaries/scores/close", tag = "first_secretaries", request_body = CloseMonth,
    responses((status = 200, body = crate::points::store::Close), (status = 403, body = crate::web::ErrorBody), (status = 409, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_close(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Json(b): Json<CloseMonth>,
) -> Result<Json<crate::points::store::Close>, ApiError> {
    Ok(Json(scoring::close(&ctx, &p, b.org_id, &b.month).await?))
}

/// A quarter's ranking of a department's first secretaries: as published, or — for the
/// department — as it stands.
#[utoipa::path(get, path = "/api/v1/first-secretaries/rankings", tag = "first_secretaries", params(RankingQuery),
    responses((status = 200, body = Ranking), (status = 404, body = crate::web::ErrorBody), (status = 409, body = crate::web::ErrorBody)))]
pub async fn api_ranking(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<RankingQuery>,
) -> Result<Json<Ranking>, ApiError> {
    let (_, org, quarter) = ranking_of(&ctx, &p, &q).await?;
    Ok(Json(scoring::ranking(&ctx, &p, org, &quarter).await?))
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct PublishQuarter {
    pub org_id: i64,
    /// YYYY-Qn
    pub quarter: String,
}

/// 一季一排名: the department publishes a quarter's ranking once its three months are closed.
#[utoipa::path(post, path = "/api/v1/first-secretaries/rankings", tag = "first_secretaries", request_body = PublishQuarter,
    responses((status = 200, body = Ranking), (status = 403, body = crate::web::ErrorBody), (status = 409, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_publish(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Json(b): Json<PublishQuarter>,
) -> Result<Json<Ranking>, ApiError> {
    Ok(Json(
        scoring::publish(&ctx, &p, b.org_id, &b.quarter).await?,
    ))
}

// ---- 一年一奖惩 ----

async fn assess_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let input = scoring::NewAssessment {
        year: form::opt_num(&f, "year"),
        score: form::opt_num(&f, "score"),
        note: form::text(&f, "note"),
    };
    let r = scoring::assess(&ctx, &p, id, &input).await.map(|_| ());
    after(&ctx, &p, id, r, &f).await
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct YearQuery {
    /// The department running the rounds; the nearest one by default.
    pub org_id: Option<i64>,
    /// Last year by default.
    pub year: Option<i64>,
}

/// The departments `p` reads, the one asked for (the nearest by default) and the year asked
/// for (last year by default).
async fn year_of(
    ctx: &Ctx,
    p: &Principal,
    q: &YearQuery,
) -> Result<(Vec<(i64, String)>, i64, i64), AppError> {
    let departments = scoring::departments_for(ctx, p).await?;
    let org = q
        .org_id
        .or(departments.first().map(|d| d.0))
        .ok_or(AppError::NotFound("第一书记年度考核"))?;
    let year = q
        .year
        .unwrap_or(chrono::Datelike::year(&ctx.clock.today()) as i64 - 1);
    Ok((departments, org, year))
}

async fn year_view(
    ctx: &Ctx,
    p: &Principal,
    q: &YearQuery,
    errors: Vec<FieldError>,
) -> Result<minijinja::Value, AppError> {
    let (departments, org, year) = year_of(ctx, p, q).await?;
    let (y, unconfirmed) = match scoring::year(ctx, p, org, year).await {
        Ok(y) => (Some(y), false),
        Err(AppError::Refused {
            code: "fs.year_unconfirmed",
            ..
        }) => (None, true),
        Err(e) => return Err(e),
    };
    let dept = crate::org::store::get(&ctx.db, org).await?;
    let this = chrono::Datelike::year(&ctx.clock.today()) as i64;
    let can_confirm = y.as_ref().is_some_and(|y| y.confirmed_at.is_none())
        && year < this
        && p.can(Perm::CadreWrite)
        && p.org_path == dept.path;
    Ok(context! {
        y => y, unconfirmed => unconfirmed, year => year, org_id => org, org_name => dept.name,
        departments => departments, can_confirm => can_confirm,
        prev => year - 1, next => (year < this).then_some(year + 1), errors => errors,
        rules => store::rules_at(ctx, &dept.path).await?,
    })
}

async fn year_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<YearQuery>,
) -> Result<Response, PageError> {
    let v = year_view(&ctx, &p, &q, Vec::new()).await?;
    Ok(render("fs_year.html", page_ctx(&p, "first_secretaries", v)))
}

async fn confirm_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let org: i64 = form::num(&f, "org_id");
    let year: i64 = form::num(&f, "year");
    match scoring::confirm_year(&ctx, &p, org, year).await {
        Ok(_) => Ok(Redirect::to(&format!(
            "/first-secretaries/years?org_id={org}&year={year}&ok=year_confirmed"
        ))
        .into_response()),
        Err(e) if refused(&e) => {
            let status = status_of(&e);
            let q = YearQuery {
                org_id: Some(org),
                year: Some(year),
            };
            let v = year_view(&ctx, &p, &q, crate::web::field_errors(e, "form")).await?;
            Ok(render_status(
                status,
                "fs_year.html",
                page_ctx(&p, "first_secretaries", v),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// A posting's yearly 履职考核 (against the pledge), newest first.
#[utoipa::path(get, path = "/api/v1/first-secretaries/{id}/assessments", tag = "first_secretaries", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<scoring::Assessment>), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_assessments(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Vec<scoring::Assessment>>, ApiError> {
    store::get(&ctx, &p, id).await?;
    Ok(Json(scoring::assessments(&ctx, id).await?))
}

/// The round's department records (or changes, until the year is confirmed) a year's 履职考核.
#[utoipa::path(post, path = "/api/v1/first-secretaries/{id}/assessments", tag = "first_secretaries", params(("id" = i64, Path)), request_body = scoring::NewAssessment,
    responses((status = 200, body = scoring::Assessment), (status = 403, body = crate::web::ErrorBody), (status = 404, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_assess(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<scoring::NewAssessment>,
) -> Result<Json<scoring::Assessment>, ApiError> {
    Ok(Json(scoring::assess(&ctx, &p, id, &b).await?))
}

/// A department's year (双考核): as confirmed, or — for the department — as it stands.
#[utoipa::path(get, path = "/api/v1/first-secretaries/years", tag = "first_secretaries", params(YearQuery),
    responses((status = 200, body = scoring::Year), (status = 404, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_year(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<YearQuery>,
) -> Result<Json<scoring::Year>, ApiError> {
    let (_, org, year) = year_of(&ctx, &p, &q).await?;
    Ok(Json(scoring::year(&ctx, &p, org, year).await?))
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ConfirmYear {
    pub org_id: i64,
    pub year: i64,
}

/// 一年一奖惩: the department confirms an ended year once every first secretary is assessed.
#[utoipa::path(post, path = "/api/v1/first-secretaries/years", tag = "first_secretaries", request_body = ConfirmYear,
    responses((status = 200, body = scoring::Year), (status = 403, body = crate::web::ErrorBody), (status = 409, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_confirm_year(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Json(b): Json<ConfirmYear>,
) -> Result<Json<scoring::Year>, ApiError> {
    Ok(Json(
        scoring::confirm_year(&ctx, &p, b.org_id, b.year).await?,
    ))
}

// ---------------------------------------------------------------- 实绩, guidance, public page

/// The month a new report form offers: last month while it is not reported, else this one.
fn report_month(today: NaiveDate, reports: &[Report]) -> String {
    let (first, _) = super::month_bounds(today);
    let last = first
        .pred_opt()
        .unwrap_or(first)
        .format("%Y-%m")
        .to_string();
    if reports.iter().any(|r| r.month == last) {
        first.format("%Y-%m").to_string()
    } else {
        last
    }
}

fn report_of(f: &HashMap<String, String>) -> NewReport {
    NewReport {
        month: form::text(f, "month"),
        counters: f
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("c.").map(|k| (k.to_string(), v.clone())))
            .collect(),
        projects: form::text(f, "projects"),
        problems: form::text(f, "problems"),
        version: form::opt_num(f, "version"),
    }
}

async fn report_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    match results::file(&ctx, &p, id, &report_of(&f)).await {
        Ok(_) => Ok(
            Redirect::to(&format!("/first-secretaries/{id}?ok=report_filed#reports"))
                .into_response(),
        ),
        Err(e) => after(&ctx, &p, id, Err(e), &f).await,
    }
}

async fn guidance_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let input = NewGuidance {
        tutor_id: form::num(&f, "tutor_id"),
        held_on: form::date(&f, "held_on"),
        method: form::text(&f, "method"),
        topic: form::text(&f, "topic"),
        content: form::text(&f, "content"),
    };
    let r = store::add_guidance(&ctx, &p, id, &input).await.map(|_| ());
    after(&ctx, &p, id, r, &f).await
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct ResultsQuery {
    /// The organisation whose villages are summed (default: the reader's own).
    pub org_id: Option<i64>,
    /// First month, `YYYY-MM` (default: January of this year).
    pub from: Option<String>,
    /// Last month, `YYYY-MM` (default: this month).
    pub to: Option<String>,
}

async fn summary_of(ctx: &Ctx, p: &Principal, q: &ResultsQuery) -> Result<Summary, AppError> {
    let today = ctx.clock.today();
    let this = crate::points::month_key(today);
    let month = |v: &Option<String>, field: &str, default: i64| -> Result<i64, AppError> {
        match v.as_deref().map(str::trim).filter(|x| !x.is_empty()) {
            None => Ok(default),
            Some(x) => results::month_start(x)
                .map(crate::points::month_key)
                .ok_or_else(|| AppError::field(field, "月份格式应为 YYYY-MM")),
        }
    };
    let from = month(&q.from, "from", this / 100 * 100 + 1)?;
    let to = month(&q.to, "to", this)?;
    results::summary(ctx, p, q.org_id.unwrap_or(p.org_id), from, to).await
}

async fn results_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<ResultsQuery>,
) -> Result<Response, PageError> {
    let (s, errors) = match summary_of(&ctx, &p, &q).await {
        Ok(s) => (s, Vec::new()),
        Err(e @ AppError::Validation(_)) => {
            let errors = crate::web::field_errors(e, "from");
            let q = ResultsQuery {
                org_id: q.org_id,
                from: None,
                to: None,
            };
            (summary_of(&ctx, &p, &q).await?, errors)
        }
        Err(e) => return Err(e.into()),
    };
    let rate = s
        .on_time_permille
        .map(|x| format!("{}.{}%", x / 10, x % 10));
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(render_status(
        status,
        "fs_results.html",
        page_ctx(
            &p,
            "first_secretaries",
            context! { s => s, rate => rate, errors => errors },
        ),
    ))
}

/// 亮身份、亮标准、亮承诺: open to anyone, where the round's department publishes it.
async fn public_page(
    State(ctx): State<AppState>,
    crate::web::BrowserLang(lang): crate::web::BrowserLang,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let f = results::public_profile(&ctx, id).await?;
    Ok(render(
        "fs_public.html",
        context! { lang => lang.code(), f => f },
    ))
}

/// A posting's monthly 实绩 reports, newest first.
#[utoipa::path(get, path = "/api/v1/first-secretaries/{id}/reports", tag = "first_secretaries", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<Report>), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_reports(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Vec<Report>>, ApiError> {
    let (_, paths) = store::get(&ctx, &p, id).await?;
    Ok(Json(results::reports(&ctx, &paths, id, 120).await?))
}

/// Files (or files again, until the month's scores are closed) the first secretary's report
/// of a month: counters by code in the catalogue's units, projects and problems.
#[utoipa::path(post, path = "/api/v1/first-secretaries/{id}/reports", tag = "first_secretaries", params(("id" = i64, Path)), request_body = NewReport,
    responses((status = 200, body = Report), (status = 403, body = crate::web::ErrorBody), (status = 404, body = crate::web::ErrorBody),
        (status = 409, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_report(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<NewReport>,
) -> Result<Json<Report>, ApiError> {
    Ok(Json(results::file(&ctx, &p, id, &b).await?))
}

/// A posting's tutors' guidance sessions, newest first.
#[utoipa::path(get, path = "/api/v1/first-secretaries/{id}/guidance", tag = "first_secretaries", params(("id" = i64, Path)),
    responses((status = 200, body = Vec<Guidance>), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_guidance(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Vec<Guidance>>, ApiError> {
    store::get(&ctx, &p, id).await?;
    Ok(Json(store::guidance(&ctx, id).await?))
}

/// Records a guidance session of one of the posting's tutors (the first secretary or the
/// round's department).
#[utoipa::path(post, path = "/api/v1/first-secretaries/{id}/guidance", tag = "first_secretaries", params(("id" = i64, Path)), request_body = NewGuidance,
    responses((status = 200, body = Guidance), (status = 403, body = crate::web::ErrorBody), (status = 404, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_guidance_add(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<NewGuidance>,
) -> Result<Json<Guidance>, ApiError> {
    Ok(Json(store::add_guidance(&ctx, &p, id, &b).await?))
}

/// 实绩汇总: the monthly reports of the first secretaries below an organisation, summed per
/// counter over a range of months, with how the reports came in.
#[utoipa::path(get, path = "/api/v1/first-secretaries/results", tag = "first_secretaries", params(ResultsQuery),
    responses((status = 200, body = Summary), (status = 404, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_results(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<ResultsQuery>,
) -> Result<Json<Summary>, ApiError> {
    Ok(Json(summary_of(&ctx, &p, &q).await?))
}

/// A first secretary's public page (亮身份、亮标准、亮承诺; no account, no personal data; 404
/// unless on duty and published by the round's rules).
#[utoipa::path(get, path = "/api/v1/public/first-secretaries/{id}", tag = "first_secretaries", params(("id" = i64, Path)),
    responses((status = 200, body = PublicProfile), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_public(
    State(ctx): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Json<PublicProfile>, ApiError> {
    Ok(Json(results::public_profile(&ctx, id).await?))
}

async fn party_relation_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let r = store::send_party_relation(&ctx, &p, id).await.map(|_| ());
    after(&ctx, &p, id, r, &f).await
}

/// The first secretary's Party relationship against the posting (none when the cadre is not
/// on the roster or not yet posted).
#[utoipa::path(get, path = "/api/v1/first-secretaries/{id}/party-relation", tag = "first_secretaries", params(("id" = i64, Path)),
    responses((status = 200, body = Option<store::PartyRelation>), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_party_relation(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Option<store::PartyRelation>>, ApiError> {
    let (a, paths) = store::get(&ctx, &p, id).await?;
    Ok(Json(store::party_relation(&ctx, &p, &a, &paths).await?))
}

/// Sends the transfer the posting calls for: into the village's branch while on duty, back to
/// the branch it came from after (received by the other side as any transfer).
#[utoipa::path(post, path = "/api/v1/first-secretaries/{id}/party-relation", tag = "first_secretaries", params(("id" = i64, Path)),
    responses((status = 200, body = crate::member::transfer::Transfer), (status = 403, body = crate::web::ErrorBody),
        (status = 404, body = crate::web::ErrorBody), (status = 409, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_party_relation_send(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<crate::member::transfer::Transfer>, ApiError> {
    Ok(Json(store::send_party_relation(&ctx, &p, id).await?))
}

// ---------------------------------------------------------------- 联盟 and 比武打擂

async fn alliances_view(
    ctx: &Ctx,
    p: &Principal,
    errors: Vec<FieldError>,
    sent: &HashMap<String, String>,
) -> Result<minijinja::Value, AppError> {
    use super::alliance;
    let list = alliance::alliances(ctx, p).await?;
    let wholes: Vec<(i64, String)> = list
        .iter()
        .filter(|a| a.org_id == p.org_id && a.parent_id.is_none())
        .map(|a| (a.id, a.name.clone()))
        .collect();
    let mut rows = Vec::new();
    for a in list {
        let org = crate::org::store::get(&ctx.db, a.org_id).await?;
        let manage = alliance::manages(p, &a, &org.path);
        let subs = a.parent_id.is_none() && rows_has_children(ctx, a.id).await?;
        let candidates = if manage && !subs {
            alliance::candidates(ctx, p, a.id).await?
        } else {
            Vec::new()
        };
        rows.push(
            context! { a => a, manage => manage, candidates => candidates, has_subs => subs },
        );
    }
    let can_create = p.can(Perm::CadreWrite);
    let champions = store::rules_at(ctx, &p.org_path).await?.contest_champions;
    Ok(context! {
        rows => rows, wholes => wholes, can_create => can_create, errors => errors, sent => sent, champions => champions,
        quarter => crate::points::quarter_of(ctx.clock.today()),
        half => format!("{}-H{}", chrono::Datelike::year(&ctx.clock.today()), if chrono::Datelike::month(&ctx.clock.today()) <= 6 { 1 } else { 2 }),
    })
}

async fn rows_has_children(ctx: &Ctx, id: i64) -> Result<bool, AppError> {
    use crate::db::DbRow;
    Ok(crate::on_db!(&ctx.db, x => {
        sqlx::query("SELECT COUNT(*) AS n FROM fs_alliances WHERE parent_id = $1").bind(id).fetch_one(x).await?.i64("n")?
    }) > 0)
}

async fn alliances_page(State(ctx): State<AppState>, Auth(p): Auth) -> Result<Response, PageError> {
    let v = alliances_view(&ctx, &p, Vec::new(), &HashMap::new()).await?;
    Ok(render(
        "fs_alliances.html",
        page_ctx(&p, "first_secretaries", v),
    ))
}

async fn alliances_after(
    ctx: &Ctx,
    p: &Principal,
    r: Result<(), AppError>,
    sent: &HashMap<String, String>,
) -> Result<Response, PageError> {
    match r {
        Ok(()) => Ok(Redirect::to("/first-secretaries/alliances?ok=saved").into_response()),
        Err(e) if refused(&e) => {
            let status = status_of(&e);
            let v = alliances_view(ctx, p, crate::web::field_errors(e, "form"), sent).await?;
            Ok(render_status(
                status,
                "fs_alliances.html",
                page_ctx(p, "first_secretaries", v),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

async fn alliance_create_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let input = super::alliance::NewAlliance {
        org_id: None,
        name: form::text(&f, "name"),
        parent_id: form::opt_num(&f, "parent_id").filter(|x| *x > 0),
    };
    let r = super::alliance::create(&ctx, &p, &input).await.map(|_| ());
    alliances_after(&ctx, &p, r, &f).await
}

async fn alliance_members_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let ids: Vec<i64> = f
        .iter()
        .filter(|(k, _)| k == "assignment_id")
        .filter_map(|(_, v)| v.trim().parse().ok())
        .collect();
    let input = super::alliance::NewMembers {
        assignment_ids: ids,
    };
    let r = super::alliance::add_members(&ctx, &p, id, &input)
        .await
        .map(|_| ());
    alliances_after(&ctx, &p, r, &f.into_iter().collect()).await
}

async fn contest_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let input = super::alliance::NewContest {
        period: form::text(&f, "period"),
        title: form::text(&f, "title"),
        scheme_id: None,
    };
    match super::alliance::create_contest(&ctx, &p, id, &input).await {
        Ok(c) => Ok(Redirect::to(&format!("/reviews/{}", c.campaign_id)).into_response()),
        Err(e) => alliances_after(&ctx, &p, Err(e), &f).await,
    }
}

/// The alliances the reader sees (its subtree's and those above it), with members, the
/// rotating flag's holder and the contests with their champions.
#[utoipa::path(get, path = "/api/v1/first-secretaries/alliances", tag = "first_secretaries",
    responses((status = 200, body = Vec<super::alliance::Alliance>)))]
pub async fn api_alliances(
    State(ctx): State<AppState>,
    Auth(p): Auth,
) -> Result<Json<Vec<super::alliance::Alliance>>, ApiError> {
    Ok(Json(super::alliance::alliances(&ctx, &p).await?))
}

/// Forms an alliance of the reader's department (with `parent_id`, a sub-alliance of one).
#[utoipa::path(post, path = "/api/v1/first-secretaries/alliances", tag = "first_secretaries", request_body = super::alliance::NewAlliance,
    responses((status = 200, body = super::alliance::Alliance), (status = 403, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_alliance_create(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Json(b): Json<super::alliance::NewAlliance>,
) -> Result<Json<super::alliance::Alliance>, ApiError> {
    Ok(Json(super::alliance::create(&ctx, &p, &b).await?))
}

/// One alliance.
#[utoipa::path(get, path = "/api/v1/first-secretaries/alliances/{id}", tag = "first_secretaries", params(("id" = i64, Path)),
    responses((status = 200, body = super::alliance::Alliance), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_alliance(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<super::alliance::Alliance>, ApiError> {
    Ok(Json(super::alliance::get(&ctx, &p, id).await?))
}

/// Adds first secretaries on duty under the department to a sub-alliance.
#[utoipa::path(post, path = "/api/v1/first-secretaries/alliances/{id}/members", tag = "first_secretaries", params(("id" = i64, Path)),
    request_body = super::alliance::NewMembers,
    responses((status = 200, body = super::alliance::Alliance), (status = 403, body = crate::web::ErrorBody), (status = 404, body = crate::web::ErrorBody),
        (status = 409, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_alliance_members(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<super::alliance::NewMembers>,
) -> Result<Json<super::alliance::Alliance>, ApiError> {
    Ok(Json(super::alliance::add_members(&ctx, &p, id, &b).await?))
}

/// Opens a contest (比武打擂) of an alliance for a quarter (sub-alliance) or half-year (whole):
/// a review campaign of kind `contest`; judges, meeting and close on the review API.
#[utoipa::path(post, path = "/api/v1/first-secretaries/alliances/{id}/contests", tag = "first_secretaries", params(("id" = i64, Path)),
    request_body = super::alliance::NewContest,
    responses((status = 200, body = super::alliance::Contest), (status = 403, body = crate::web::ErrorBody), (status = 404, body = crate::web::ErrorBody),
        (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_contest(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<super::alliance::NewContest>,
) -> Result<Json<super::alliance::Contest>, ApiError> {
    Ok(Json(
        super::alliance::create_contest(&ctx, &p, id, &b).await?,
    ))
}

/// 履职档案: what goes into the cadre's personnel file (个人组织人事档案) from the posting —
/// the yearly results as confirmed, the published quarterly ranks, the red/black ledger with
/// its reversals, the results reported — on one printable page.
async fn record_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let (a, paths) = store::get(&ctx, &p, id).await?;
    let years = scoring::confirmed_lines(&ctx, &a).await?;
    let assessments = scoring::assessments(&ctx, id).await?;
    let ranks = if a.start_on.is_some() {
        scoring::own_ranks(&ctx, &a).await?
    } else {
        Vec::new()
    };
    let ledger = store::ledger(&ctx, id).await?;
    let (red, black) = store::ledger_totals(&ctx, store::LedgerOf::Assignment, id).await?;
    let (results, months) = results::posting_totals(&ctx, &paths, id).await?;
    let tutors = store::tutors(&ctx, id).await?;
    let v = context! {
        a => a, years => years, assessments => assessments, ranks => ranks, ledger => ledger, red => red, black => black,
        results => results, months => months, tutors => tutors, printed_on => ctx.clock.today(),
        own => paths.cadre_account == Some(p.account_id),
    };
    Ok(render(
        "fs_record.html",
        page_ctx(&p, "first_secretaries", v),
    ))
}

async fn alliance_remove_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path((id, assignment)): Path<(i64, i64)>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let r = super::alliance::remove_member(&ctx, &p, id, assignment)
        .await
        .map(|_| ());
    alliances_after(&ctx, &p, r, &f).await
}

/// Takes a first secretary out of an alliance (contests already held keep them).
#[utoipa::path(delete, path = "/api/v1/first-secretaries/alliances/{id}/members/{assignment_id}", tag = "first_secretaries",
    params(("id" = i64, Path), ("assignment_id" = i64, Path)),
    responses((status = 200, body = super::alliance::Alliance), (status = 403, body = crate::web::ErrorBody), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_alliance_remove(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path((id, assignment)): Path<(i64, i64)>,
) -> Result<Json<super::alliance::Alliance>, ApiError> {
    Ok(Json(
        super::alliance::remove_member(&ctx, &p, id, assignment).await?,
    ))
}
