//! 述职评议 pages and JSON API: campaigns, a campaign's reporters, raters, meeting and results;
//! one reporter's report with its review levels, critiques and decisions; and the rater's
//! phone page, reached with the code printed for them (no account needed).

use super::store::{
    self, Campaign, Critique, CritiqueInput, DecisionInput, NewCampaign, NewRater, Rater,
    ReportInput, ReportReview, Reporter, ReviewInput, SchemeVersion, Score, ScoreInput,
};
use super::{CHECKLIST, REPORT_STATUSES};
use crate::audit::Actor;
use crate::auth::{Perm, Principal};
use crate::error::{AppError, FieldError};
use crate::web::{
    authorize, form, page_ctx, render, render_status, ApiError, AppState, Auth, BrowserLang,
    PageError,
};
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
        .route("/reviews", get(list_page).post(create_page))
        .route("/reviews/{id}", get(campaign_page))
        .route("/reviews/{id}/results.csv", get(results_export))
        .route("/reviews/{id}/raters", post(rater_page))
        .route("/reviews/{id}/open", post(open_page))
        .route("/reviews/{id}/close", post(close_page))
        .route("/reviews/reporters/{id}", get(reporter_page))
        .route("/reviews/reporters/{id}/report", post(report_page))
        .route("/reviews/reporters/{id}/review", post(review_page))
        .route("/reviews/reporters/{id}/critiques", post(critique_page))
        .route("/reviews/reporters/{id}/decision", post(decision_page))
}

/// The rater's pages: public, reached with the rater's code.
pub fn public_routes() -> Router<AppState> {
    Router::new()
        .route("/score", get(code_page).post(code_submit))
        .route("/score/save", post(score_submit))
        .route("/score/leave", post(code_leave))
        .route("/api/v1/score/{code}", get(api_rater).post(api_score))
}

pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/reviews", get(api_list).post(api_create))
        .route(
            "/api/v1/reviews/schemes",
            get(api_schemes).post(api_scheme_save),
        )
        .route("/api/v1/reviews/{id}", get(api_get))
        .route("/api/v1/reviews/{id}/raters", post(api_rater_add))
        .route("/api/v1/reviews/{id}/open", post(api_open))
        .route("/api/v1/reviews/{id}/close", post(api_close))
        .route("/api/v1/reviews/reporters/{id}", get(api_reporter))
        .route("/api/v1/reviews/reporters/{id}/report", post(api_report))
        .route("/api/v1/reviews/reporters/{id}/review", post(api_review))
        .route(
            "/api/v1/reviews/reporters/{id}/critiques",
            post(api_critique),
        )
        .route(
            "/api/v1/reviews/reporters/{id}/decision",
            post(api_decision),
        )
        .route(
            "/api/v1/reviews/reporters/{id}/scores",
            post(api_desk_score),
        )
}

/// A campaign the principal takes part in: run in its subtree, or reporting from there.
async fn load_campaign(ctx: &Ctx, p: &Principal, id: i64) -> Result<(Campaign, String), AppError> {
    let (c, path) = store::campaign(ctx, id).await?;
    if p.can(Perm::ReviewRead) && !p.in_scope(&path) {
        let mine = store::reporters(ctx, id).await?;
        for r in &mine {
            let rp = crate::org::store::get(&ctx.db, r.org_id).await?.path;
            if p.in_scope(&rp) {
                return Ok((c, path));
            }
        }
    }
    authorize(ctx, p, Perm::ReviewRead, Some(&path)).await?;
    Ok((c, path))
}

/// A reporter the principal may see: its own organisation's, or any of a campaign it runs.
async fn load_reporter(ctx: &Ctx, p: &Principal, id: i64) -> Result<(Reporter, String), AppError> {
    let (r, path) = store::reporter(ctx, id).await?;
    if p.can(Perm::ReviewRead) && p.in_scope(&path) {
        return Ok((r, path));
    }
    let (_, cpath) = store::campaign(ctx, r.campaign_id).await?;
    authorize(ctx, p, Perm::ReviewRead, Some(&cpath)).await?;
    Ok((r, path))
}

// ---- pages ----

async fn list_view(
    ctx: &Ctx,
    p: &Principal,
    form: NewCampaign,
    errors: Vec<FieldError>,
) -> Result<minijinja::Value, AppError> {
    authorize(ctx, p, Perm::ReviewRead, Some(&p.org_path)).await?;
    let list = store::campaigns(ctx, &p.org_path).await?;
    let rows: Vec<_> = list
        .into_iter()
        .map(|c| context! { status_label => c.status_label(), c => c })
        .collect();
    let orgs = crate::org::store::pick_list(
        &ctx.db,
        &p.org_path,
        crate::org::store::Pick::Committees,
        &[form.org_id],
    )
    .await?;
    let own = crate::org::store::get(&ctx.db, p.org_id).await?;
    let schemes = store::schemes_for(ctx, &own).await?;
    let levels: Vec<(&str, &str)> = crate::org::OrgLevel::ALL
        .iter()
        .map(|l| (l.as_str(), l.label()))
        .collect();
    Ok(context! {
        rows => rows, orgs => orgs, levels => levels, form => form, errors => errors, schemes => schemes,
        can_manage => p.can(Perm::ReviewManage), default_levels => super::store::DEFAULT_LEVELS.join("\n"),
    })
}

async fn list_page(State(ctx): State<AppState>, Auth(p): Auth) -> Result<Response, PageError> {
    let form = NewCampaign {
        org_id: p.org_id,
        year: ctx.clock.today().year() as i64,
        all_level: "township".into(),
        ..Default::default()
    };
    let v = list_view(&ctx, &p, form, Vec::new()).await?;
    Ok(render("reviews.html", page_ctx(&p, "reviews", v)))
}

async fn create_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let num = |k: &str| f.get(k).and_then(|v| v.trim().parse::<i64>().ok());
    let input = NewCampaign {
        org_id: num("org_id").unwrap_or(0),
        year: num("year").unwrap_or(0),
        title: form::text(&f, "title"),
        scheme_id: num("scheme_id"),
        levels: form::text(&f, "levels")
            .lines()
            .map(str::to_string)
            .collect(),
        all_level: form::text(&f, "all_level"),
        draw_level: f.get("draw_level").cloned().filter(|v| !v.is_empty()),
        draw_n: num("draw_n").unwrap_or(0),
        seed: f.get("seed").and_then(|v| v.trim().parse().ok()),
        level_orgs: Vec::new(),
    };
    match store::create_campaign(&ctx, &p, &input).await {
        Ok(c) => Ok(Redirect::to(&format!("/reviews/{}?ok=created", c.id)).into_response()),
        Err(e @ (AppError::Validation(_) | AppError::Refused { .. })) => {
            let v = list_view(&ctx, &p, input, crate::web::field_errors(e, "title")).await?;
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "reviews.html",
                page_ctx(&p, "reviews", v),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Serialize)]
struct ReporterRow {
    r: Reporter,
    status_label: &'static str,
    level_name: String,
    scored: i64,
    critiques: i64,
}

async fn campaign_view(
    ctx: &Ctx,
    p: &Principal,
    c: Campaign,
    path: &str,
    errors: Vec<FieldError>,
    new_code: Option<(Rater, String)>,
) -> Result<minijinja::Value, AppError> {
    let reps = store::reporters(ctx, c.id).await?;
    let raters = store::raters(ctx, c.id).await?;
    let (nraters, scored) = store::progress(ctx, c.id).await?;
    let crits = store::critiques(ctx, c.id).await?;
    let sc = store::scheme(ctx, c.scheme_id).await?;
    let manage = p.can(Perm::ReviewManage) && p.in_scope(path);
    let rows: Vec<ReporterRow> = reps
        .into_iter()
        .map(|r| ReporterRow {
            status_label: r.status_label(),
            level_name: c
                .levels
                .get(r.review_level as usize)
                .cloned()
                .unwrap_or_default(),
            scored: scored.get(&r.id).copied().unwrap_or(0),
            critiques: crits
                .iter()
                .filter(|k| k.reporter_id == r.id && k.origin != "report_review")
                .count() as i64,
            r,
        })
        .collect();
    // score sheets not yet handed in (each rater scores each reporter): said before closing
    let missing_scores: i64 = rows.iter().map(|r| (nraters - r.scored).max(0)).sum();
    let mut by_group: BTreeMap<String, i64> = BTreeMap::new();
    for r in &raters {
        *by_group.entry(r.grp.clone()).or_insert(0) += 1;
    }
    let groups: Vec<_> = sc
        .scheme
        .groups
        .iter()
        .map(|g| context! { key => g.key, name => g.name, weight => g.weight, n => by_group.get(&g.key).copied().unwrap_or(0) })
        .collect();
    let r = store::rules_for(ctx, path).await?;
    let names: BTreeMap<i64, String> = {
        let mut m = BTreeMap::new();
        for id in c
            .selection
            .candidates
            .iter()
            .chain(c.selection.drawn.iter())
        {
            if let Ok(o) = crate::org::store::get(&ctx.db, *id).await {
                m.insert(*id, o.name);
            }
        }
        m
    };
    let drawn_names: Vec<String> = c
        .selection
        .drawn
        .iter()
        .filter_map(|i| names.get(i).cloned())
        .collect();
    let mut level_names = Vec::new();
    for i in 0..c.levels.len() {
        level_names.push(store::level_org(ctx, &c, i as i64).await?.name);
    }
    Ok(context! {
        level_names => level_names,
        status_label => c.status_label(), scheme => sc, rows => rows, raters => raters, groups => groups,
        fs_champions => crate::first_secretary::store::rules_at(ctx, &cpath_of(ctx, c.org_id).await?).await?.contest_champions,
        nraters => nraters, missing_scores => missing_scores, errors => errors, manage => manage, rules => r, drawn_names => drawn_names,
        new_code => new_code.map(|(r, code)| context! { name => r.name, code => code }),
        seed => c.selection.seed.to_string(), c => c,
    })
}

async fn campaign_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let (c, path) = load_campaign(&ctx, &p, id).await?;
    let v = campaign_view(&ctx, &p, c, &path, Vec::new(), None).await?;
    Ok(render("review.html", page_ctx(&p, "reviews", v)))
}

/// A closed campaign's results as a CSV (rank, unit, reporter, score, grade), for the
/// organising side only (a reporter's committee sees its own row on the page), recorded.
async fn results_export(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let (c, path) = load_campaign(&ctx, &p, id).await?;
    authorize(&ctx, &p, Perm::ReviewRead, Some(&path)).await?;
    if c.status != "closed" {
        return Err(AppError::refused("review.not_closed", "评议结束、结果公布后才能导出").into());
    }
    let mut reps = store::reporters(&ctx, c.id).await?;
    reps.sort_by_key(|r| r.rank.unwrap_or(i64::MAX));
    let tenths = |v: Option<i64>| {
        v.map(|t| format!("{:.1}", t as f64 / 10.0))
            .unwrap_or_default()
    };
    let rows = reps
        .into_iter()
        .map(|r| {
            vec![
                r.rank.map(|n| n.to_string()).unwrap_or_default(),
                r.org_name.clone(),
                r.reporter_name.clone(),
                tenths(r.score_tenths),
                tenths(r.deduction_tenths),
                r.grade.clone().unwrap_or_default(),
                match (&r.veto_reason, &r.affirm_reason) {
                    (Some(v), _) => format!("一票否定：{v}"),
                    (None, Some(a)) => format!("一票肯定：{a}"),
                    _ => String::new(),
                },
            ]
        })
        .collect();
    Ok(crate::web::csv_export(
        &ctx,
        &p,
        crate::web::CsvExport {
            action: "review.results_export",
            object_type: "review_campaign",
            title: format!("述职评议结果-{}", c.title),
            header: &["名次", "单位", "述职人", "得分", "扣分", "等次", "说明"],
            rows,
            asked: serde_json::json!({"campaign_id": c.id}),
        },
    )
    .await?)
}

/// Runs a change on a campaign page: back to the page, or the page with the refusal.
async fn on_campaign(
    ctx: &Ctx,
    p: &Principal,
    id: i64,
    result: Result<Option<(Rater, String)>, AppError>,
) -> Result<Response, PageError> {
    match result {
        Ok(None) => Ok(Redirect::to(&format!("/reviews/{id}?ok=saved")).into_response()),
        Ok(Some(code)) => {
            let (c, path) = load_campaign(ctx, p, id).await?;
            let v = campaign_view(ctx, p, c, &path, Vec::new(), Some(code)).await?;
            Ok(render("review.html", page_ctx(p, "reviews", v)))
        }
        Err(e @ (AppError::Validation(_) | AppError::Refused { .. } | AppError::Conflict(_))) => {
            let (c, path) = load_campaign(ctx, p, id).await?;
            let v =
                campaign_view(ctx, p, c, &path, crate::web::field_errors(e, "form"), None).await?;
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "review.html",
                page_ctx(p, "reviews", v),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

async fn rater_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let input = NewRater {
        name: form::text(&f, "name"),
        grp: form::text(&f, "grp"),
        unit: form::text(&f, "unit"),
    };
    let r = store::register_rater(&ctx, &p, id, &input).await.map(Some);
    on_campaign(&ctx, &p, id, r).await
}

async fn open_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let r = store::open_meeting(&ctx, &p, id).await.map(|_| None);
    on_campaign(&ctx, &p, id, r).await
}

async fn close_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    match store::close_meeting(&ctx, &p, id).await {
        Ok(_) => Ok(Redirect::to(&format!("/reviews/{id}?ok=review_closed")).into_response()),
        Err(e) => on_campaign(&ctx, &p, id, Err(e)).await,
    }
}

async fn reporter_view(
    ctx: &Ctx,
    p: &Principal,
    r: Reporter,
    path: &str,
    errors: Vec<FieldError>,
    form: Option<ReportInput>,
) -> Result<minijinja::Value, AppError> {
    let (c, cpath) = store::campaign(ctx, r.campaign_id).await?;
    let reviews: Vec<ReportReview> = store::report_reviews(ctx, r.id).await?;
    let crits: Vec<Critique> = store::critiques(ctx, c.id)
        .await?
        .into_iter()
        .filter(|k| k.reporter_id == r.id)
        .collect();
    let manage = p.can(Perm::ReviewManage) && p.in_scope(&cpath);
    let own = p.can(Perm::ReviewReport) && p.in_scope(path);
    let level_org = store::level_org(ctx, &c, r.review_level).await.ok();
    let comments = if manage {
        store::comments_on(ctx, r.id).await?
    } else {
        Vec::new()
    };
    let rules = store::rules_for(ctx, &cpath).await?;
    let form = form.unwrap_or_else(|| ReportInput {
        reporter_name: if r.reporter_name.is_empty() {
            p.display_name.clone()
        } else {
            r.reporter_name.clone()
        },
        achievements: r.achievements.clone(),
        problems: r.problems.clone(),
        measures: r.measures.clone(),
        submit: false,
    });
    Ok(context! {
        status_label => r.status_label(),
        level_name => c.levels.get(r.review_level as usize).cloned().unwrap_or_default(),
        editable => own && c.status == "reports" && (r.report_status == "draft" || r.report_status == "returned"),
        // each level by an account of its own organisation (the store refuses the others)
        reviewable => manage && r.report_status == "submitted" && level_org.as_ref().is_some_and(|o| o.id == p.org_id),
        level_org => level_org.map(|o| o.name),
        in_meeting => c.status == "meeting", manage => manage, own => own,
        checklist => CHECKLIST, statuses => REPORT_STATUSES,
        r => r, c => c, reviews => reviews, critiques => crits, comments => comments, rules => rules,
        form => form, errors => errors,
    })
}

async fn reporter_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let (r, path) = load_reporter(&ctx, &p, id).await?;
    let v = reporter_view(&ctx, &p, r, &path, Vec::new(), None).await?;
    Ok(render("review_reporter.html", page_ctx(&p, "reviews", v)))
}

async fn on_reporter(
    ctx: &Ctx,
    p: &Principal,
    id: i64,
    result: Result<(), AppError>,
    form: Option<ReportInput>,
) -> Result<Response, PageError> {
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/reviews/reporters/{id}?ok=saved")).into_response()),
        Err(e @ (AppError::Validation(_) | AppError::Refused { .. } | AppError::Conflict(_))) => {
            let (r, path) = load_reporter(ctx, p, id).await?;
            let v =
                reporter_view(ctx, p, r, &path, crate::web::field_errors(e, "form"), form).await?;
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "review_reporter.html",
                page_ctx(p, "reviews", v),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

async fn report_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    load_reporter(&ctx, &p, id).await?;
    let input = ReportInput {
        reporter_name: form::text(&f, "reporter_name"),
        achievements: form::text(&f, "achievements"),
        problems: form::text(&f, "problems"),
        measures: form::text(&f, "measures"),
        submit: f.get("action").map(String::as_str) == Some("submit"),
    };
    let r = store::save_report(&ctx, &p, id, &input).await.map(|_| ());
    on_reporter(&ctx, &p, id, r, Some(input)).await
}

async fn cpath_of(ctx: &Ctx, org: i64) -> Result<String, AppError> {
    Ok(crate::org::store::get(&ctx.db, org).await?.path)
}

async fn review_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    load_reporter(&ctx, &p, id).await?;
    let get = |k: &str| {
        f.iter()
            .find(|(x, _)| x == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let checklist = CHECKLIST
        .iter()
        .map(|(k, _)| (k.to_string(), f.iter().any(|(x, v)| x == "check" && v == k)))
        .collect();
    let input = ReviewInput {
        decision: get("decision"),
        comments: get("comments"),
        checklist,
        as_problem: get("as_problem") == "on",
    };
    let r = store::review_report(&ctx, &p, id, &input).await.map(|_| ());
    on_reporter(&ctx, &p, id, r, None).await
}

async fn critique_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    load_reporter(&ctx, &p, id).await?;
    let input = CritiqueInput {
        content: form::text(&f, "content"),
        is_problem: Some(!f.contains_key("not_problem")),
        from_score: f.get("from_score").and_then(|v| v.parse().ok()),
    };
    let r = store::add_critique(&ctx, &p, id, &input).await.map(|_| ());
    on_reporter(&ctx, &p, id, r, None).await
}

async fn decision_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    load_reporter(&ctx, &p, id).await?;
    let input = DecisionInput {
        kind: form::text(&f, "kind"),
        reason: form::text(&f, "reason"),
    };
    let r = store::decide(&ctx, &p, id, &input).await.map(|_| ());
    on_reporter(&ctx, &p, id, r, None).await
}

// ---- the rater's phone page ----

/// The rater's code travels in a cookie of its own (HttpOnly, SameSite, path `/score`),
/// never in an address: not in the history, not in a proxy's log.
const RATER_COOKIE: &str = "dj_rater";

async fn code_page(
    State(ctx): State<AppState>,
    BrowserLang(lang): BrowserLang,
    headers: axum::http::HeaderMap,
    Query(q): Query<SavedQuery>,
) -> Result<Response, PageError> {
    let Some(code) = crate::web::cookie_value(&headers, RATER_COOKIE) else {
        return Ok(render(
            "score_code.html",
            context! { lang => lang.code(), error => "" },
        ));
    };
    match rater_view(
        &ctx,
        lang.code(),
        &code,
        Vec::new(),
        q.ok.is_some().then_some(q.r).flatten(),
    )
    .await
    {
        Ok(v) => Ok(render("score.html", v)),
        // a code that no longer opens anything (the campaign closed and was removed): ask again
        Err(AppError::NotFound(_)) => Ok(with_code_cookie(
            render(
                "score_code.html",
                context! { lang => lang.code(), error => "" },
            ),
            "",
        )),
        Err(e) => Err(e.into()),
    }
}

fn with_code_cookie(mut r: Response, code: &str) -> Response {
    let v = if code.is_empty() {
        format!("{RATER_COOKIE}=; Path=/score; HttpOnly; SameSite=Strict; Max-Age=0")
    } else {
        format!("{RATER_COOKIE}={code}; Path=/score; HttpOnly; SameSite=Strict; Max-Age=43200")
    };
    if let Ok(h) = axum::http::HeaderValue::from_str(&v) {
        r.headers_mut().append(axum::http::header::SET_COOKIE, h);
    }
    r
}

async fn code_submit(
    State(ctx): State<AppState>,
    BrowserLang(lang): BrowserLang,
    crate::web::ClientIp(ip): crate::web::ClientIp,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let code = store::normalise_code(&form::text(&f, "code"));
    let found = match crate::web::code_attempt(&ctx, &ip) {
        Err(e) => Err(e),
        Ok(()) => store::rater_by_code(&ctx, &code).await.map(|_| ()),
    };
    match found {
        Ok(()) => Ok(with_code_cookie(
            Redirect::to("/score").into_response(),
            &code,
        )),
        Err(e @ AppError::TooManyAttempts(_)) => Ok(render_status(
            StatusCode::TOO_MANY_REQUESTS,
            "score_code.html",
            context! { lang => lang.code(), error => e.public_message() },
        )),
        Err(AppError::NotFound(_)) => {
            crate::web::code_failed(&ctx, &ip);
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "score_code.html",
                context! { lang => lang.code(), error => "评议码不正确，请核对纸条上的评议码" },
            ))
        }
        Err(e) => Err(e.into()),
    }
}

async fn code_leave() -> Response {
    with_code_cookie(Redirect::to("/score").into_response(), "")
}

async fn rater_view(
    ctx: &Ctx,
    lang: &str,
    code: &str,
    errors: Vec<FieldError>,
    saved: Option<i64>,
) -> Result<minijinja::Value, AppError> {
    let (rater, c) = store::rater_by_code(ctx, code).await?;
    let reps = store::reporters(ctx, c.id).await?;
    let mine: Vec<Score> = store::scores_of_rater(ctx, rater.id).await?;
    let sc = store::scheme(ctx, c.scheme_id).await?.scheme;
    let rows: Vec<_> = reps
        .iter()
        .map(|r| {
            let s = mine.iter().find(|s| s.reporter_id == r.id);
            context! { id => r.id, org_name => r.org_name, reporter_name => r.reporter_name,
            answers => s.map(|s| s.answers.clone()).unwrap_or_default(),
            comment => s.map(|s| s.comment.clone()).unwrap_or_default(), done => s.is_some() }
        })
        .collect();
    let group = sc
        .group(&rater.grp)
        .map(|g| g.name.clone())
        .unwrap_or_default();
    Ok(context! {
        rater => rater, group => group, c => c, rows => rows, scheme => sc, code => store::normalise_code(code),
        open => c.status == "meeting", done => mine.len(), total => reps.len(), errors => errors, saved => saved,
        lang => lang,
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SavedQuery {
    ok: Option<String>,
    r: Option<i64>,
}

async fn score_submit(
    State(ctx): State<AppState>,
    BrowserLang(lang): BrowserLang,
    headers: axum::http::HeaderMap,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let Some(code) = crate::web::cookie_value(&headers, RATER_COOKIE) else {
        return Ok(Redirect::to("/score").into_response());
    };
    let (rater, c) = store::rater_by_code(&ctx, &code).await?;
    let sc = store::scheme(&ctx, c.scheme_id).await?.scheme;
    let reporter_id = f
        .get("reporter_id")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let answers = sc
        .indicators
        .iter()
        .filter_map(|i| f.get(&i.key).map(|v| (i.key.clone(), v.clone())))
        .collect();
    let input = ScoreInput {
        reporter_id,
        answers,
        comment: form::text(&f, "comment"),
    };
    match store::submit_score(&ctx, &rater_actor(&rater), &rater, &input).await {
        Ok(_) => Ok(
            Redirect::to(&format!("/score?ok=saved&r={reporter_id}#r{reporter_id}"))
                .into_response(),
        ),
        Err(e @ (AppError::Validation(_) | AppError::Refused { .. })) => {
            let mut errors = crate::web::field_errors(e, "form");
            for er in &mut errors {
                er.field = format!("r{reporter_id}");
            }
            let v = rater_view(&ctx, lang.code(), &code, errors, None).await?;
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "score.html",
                v,
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// A rater by code, with the per-address limit on wrong codes.
async fn rater_checked(
    ctx: &Ctx,
    ip: &str,
    code: &str,
) -> Result<(Rater, super::store::Campaign), AppError> {
    crate::web::code_attempt(ctx, ip)?;
    let r = store::rater_by_code(ctx, code).await;
    if matches!(r, Err(AppError::NotFound(_))) {
        crate::web::code_failed(ctx, ip);
    }
    r
}

fn rater_actor(r: &Rater) -> Actor {
    Actor {
        id: None,
        name: format!("评议人 {}", r.name),
        role: format!("rater:{}", r.grp),
        org_id: None,
        ip: String::new(),
    }
}

// ---- JSON API ----

/// Campaigns run in the caller's subtree or with a reporter there.
#[utoipa::path(get, path = "/api/v1/reviews", tag = "reviews",
    responses((status = 200, body = [Campaign])))]
pub async fn api_list(
    State(ctx): State<AppState>,
    Auth(p): Auth,
) -> Result<Json<Vec<Campaign>>, ApiError> {
    authorize(&ctx, &p, Perm::ReviewRead, Some(&p.org_path)).await?;
    Ok(Json(store::campaigns(&ctx, &p.org_path).await?))
}

/// Creates a campaign: its reporters are all committees of `all_level` plus `draw_n` drawn
/// with the (returned) seed from `draw_level`.
#[utoipa::path(post, path = "/api/v1/reviews", tag = "reviews", request_body = NewCampaign,
    responses((status = 200, body = Campaign), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_create(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Json(b): Json<NewCampaign>,
) -> Result<Json<Campaign>, ApiError> {
    Ok(Json(store::create_campaign(&ctx, &p, &b).await?))
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct OrgQuery {
    pub org_id: Option<i64>,
}

/// Schemes an organisation may use (its own and its ancestors').
#[utoipa::path(get, path = "/api/v1/reviews/schemes", tag = "reviews", params(OrgQuery),
    responses((status = 200, body = [SchemeVersion])))]
pub async fn api_schemes(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<OrgQuery>,
) -> Result<Json<Vec<SchemeVersion>>, ApiError> {
    let org =
        crate::org::web::load(&ctx, &p, q.org_id.unwrap_or(p.org_id), Perm::ReviewRead).await?;
    Ok(Json(store::schemes_for(&ctx, &org).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SchemeBody {
    pub org_id: i64,
    pub name: String,
    pub scheme: super::Scheme,
}

/// Saves a scheme as the next version of its name (a scheme in use never changes).
#[utoipa::path(post, path = "/api/v1/reviews/schemes", tag = "reviews", request_body = SchemeBody,
    responses((status = 200, body = SchemeVersion), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_scheme_save(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Json(b): Json<SchemeBody>,
) -> Result<Json<SchemeVersion>, ApiError> {
    let org = crate::org::web::load(&ctx, &p, b.org_id, Perm::ReviewManage).await?;
    Ok(Json(
        store::save_scheme(&ctx, &p, &org, &b.name, &b.scheme).await?,
    ))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct CampaignFile {
    pub campaign: Campaign,
    pub scheme: SchemeVersion,
    /// In ranking order once closed.
    pub reporters: Vec<Reporter>,
    pub raters: Vec<Rater>,
    pub critiques: Vec<Critique>,
}

/// A campaign with its reporters (and results), raters and critiques.
#[utoipa::path(get, path = "/api/v1/reviews/{id}", tag = "reviews", params(("id" = i64, Path)),
    responses((status = 200, body = CampaignFile), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_get(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<CampaignFile>, ApiError> {
    let (c, _) = load_campaign(&ctx, &p, id).await?;
    Ok(Json(CampaignFile {
        scheme: store::scheme(&ctx, c.scheme_id).await?,
        reporters: store::reporters(&ctx, id).await?,
        raters: store::raters(&ctx, id).await?,
        critiques: store::critiques(&ctx, id).await?,
        campaign: c,
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct NewRaterCode {
    pub rater: Rater,
    /// The code to score with; shown only now.
    pub code: String,
}

/// Registers a rater by real name; returns the code they score with (shown once).
#[utoipa::path(post, path = "/api/v1/reviews/{id}/raters", tag = "reviews", params(("id" = i64, Path)), request_body = NewRater,
    responses((status = 200, body = NewRaterCode), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_rater_add(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<NewRater>,
) -> Result<Json<NewRaterCode>, ApiError> {
    let (rater, code) = store::register_rater(&ctx, &p, id, &b).await?;
    Ok(Json(NewRaterCode { rater, code }))
}

/// Opens the meeting (every report approved, raters composed as the rules require).
#[utoipa::path(post, path = "/api/v1/reviews/{id}/open", tag = "reviews", params(("id" = i64, Path)),
    responses((status = 200, body = Campaign), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_open(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Campaign>, ApiError> {
    Ok(Json(store::open_meeting(&ctx, &p, id).await?))
}

/// Closes the meeting and publishes the results (ranking, grades, interviews, ledger items).
#[utoipa::path(post, path = "/api/v1/reviews/{id}/close", tag = "reviews", params(("id" = i64, Path)),
    responses((status = 200, body = Campaign), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_close(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Campaign>, ApiError> {
    Ok(Json(store::close_meeting(&ctx, &p, id).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ReporterFile {
    pub reporter: Reporter,
    pub reviews: Vec<ReportReview>,
}

/// One reporter: the report, its shape and figures, the reviews it had.
#[utoipa::path(get, path = "/api/v1/reviews/reporters/{id}", tag = "reviews", params(("id" = i64, Path)),
    responses((status = 200, body = ReporterFile)))]
pub async fn api_reporter(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<ReporterFile>, ApiError> {
    let (r, _) = load_reporter(&ctx, &p, id).await?;
    Ok(Json(ReporterFile {
        reviews: store::report_reviews(&ctx, id).await?,
        reporter: r,
    }))
}

/// Saves or submits the report of the caller's organisation (shape rules on submit).
#[utoipa::path(post, path = "/api/v1/reviews/reporters/{id}/report", tag = "reviews", params(("id" = i64, Path)), request_body = ReportInput,
    responses((status = 200, body = Reporter), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_report(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<ReportInput>,
) -> Result<Json<Reporter>, ApiError> {
    load_reporter(&ctx, &p, id).await?;
    Ok(Json(store::save_report(&ctx, &p, id, &b).await?))
}

/// One review level's decision on a submitted report.
#[utoipa::path(post, path = "/api/v1/reviews/reporters/{id}/review", tag = "reviews", params(("id" = i64, Path)), request_body = ReviewInput,
    responses((status = 200, body = Reporter), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_review(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<ReviewInput>,
) -> Result<Json<Reporter>, ApiError> {
    load_reporter(&ctx, &p, id).await?;
    Ok(Json(store::review_report(&ctx, &p, id, &b).await?))
}

/// A critique (点评) of a reporter at the meeting.
#[utoipa::path(post, path = "/api/v1/reviews/reporters/{id}/critiques", tag = "reviews", params(("id" = i64, Path)), request_body = CritiqueInput,
    responses((status = 200, body = Critique), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_critique(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<CritiqueInput>,
) -> Result<Json<Critique>, ApiError> {
    load_reporter(&ctx, &p, id).await?;
    Ok(Json(store::add_critique(&ctx, &p, id, &b).await?))
}

/// Records 一票否定 / 一票肯定 (or clears them) with the reason.
#[utoipa::path(post, path = "/api/v1/reviews/reporters/{id}/decision", tag = "reviews", params(("id" = i64, Path)), request_body = DecisionInput,
    responses((status = 200, body = Reporter), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_decision(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<DecisionInput>,
) -> Result<Json<Reporter>, ApiError> {
    load_reporter(&ctx, &p, id).await?;
    Ok(Json(store::decide(&ctx, &p, id, &b).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct DeskScore {
    pub rater_id: i64,
    #[serde(flatten)]
    pub score: ScoreInput,
}

/// Enters a rater's paper ballot at the desk (the staff is recorded as the one who entered it).
#[utoipa::path(post, path = "/api/v1/reviews/reporters/{id}/scores", tag = "reviews", params(("id" = i64, Path)), request_body = DeskScore,
    responses((status = 200, body = Score), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_desk_score(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<DeskScore>,
) -> Result<Json<Score>, ApiError> {
    let (r, _) = load_reporter(&ctx, &p, id).await?;
    let (_, cpath) = store::campaign(&ctx, r.campaign_id).await?;
    authorize(&ctx, &p, Perm::ReviewManage, Some(&cpath)).await?;
    let rater = store::raters(&ctx, r.campaign_id)
        .await?
        .into_iter()
        .find(|x| x.id == b.rater_id)
        .ok_or(AppError::NotFound("评议人"))?;
    let input = ScoreInput {
        reporter_id: id,
        ..b.score
    };
    Ok(Json(
        store::submit_score(&ctx, &p.actor(), &rater, &input).await?,
    ))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RaterFile {
    pub rater: Rater,
    pub campaign: Campaign,
    pub scheme: super::Scheme,
    pub reporters: Vec<Reporter>,
    pub scores: Vec<Score>,
}

/// The rater's view (by code, no account): the reporters, the scheme, the rater's scores.
#[utoipa::path(get, path = "/api/v1/score/{code}", tag = "reviews", params(("code" = String, Path)),
    responses((status = 200, body = RaterFile), (status = 404, body = crate::web::ErrorBody)), security(()))]
pub async fn api_rater(
    State(ctx): State<AppState>,
    crate::web::ClientIp(ip): crate::web::ClientIp,
    Path(code): Path<String>,
) -> Result<Json<RaterFile>, ApiError> {
    let (rater, c) = rater_checked(&ctx, &ip, &code).await?;
    Ok(Json(RaterFile {
        scheme: store::scheme(&ctx, c.scheme_id).await?.scheme,
        reporters: store::reporters(&ctx, c.id)
            .await?
            .into_iter()
            .map(|mut r| {
                // a rater sees who reports, not the report text
                r.achievements.clear();
                r.problems.clear();
                r.measures.clear();
                r
            })
            .collect(),
        scores: store::scores_of_rater(&ctx, rater.id).await?,
        rater,
        campaign: c,
    }))
}

/// A rater's score of one reporter (by code): one per rater and reporter, changeable until
/// the meeting closes.
#[utoipa::path(post, path = "/api/v1/score/{code}", tag = "reviews", params(("code" = String, Path)), request_body = ScoreInput,
    responses((status = 200, body = Score), (status = 422, body = crate::web::ErrorBody)), security(()))]
pub async fn api_score(
    State(ctx): State<AppState>,
    crate::web::ClientIp(ip): crate::web::ClientIp,
    Path(code): Path<String>,
    Json(b): Json<ScoreInput>,
) -> Result<Json<Score>, ApiError> {
    let (rater, _) = rater_checked(&ctx, &ip, &code).await?;
    Ok(Json(
        store::submit_score(&ctx, &rater_actor(&rater), &rater, &b).await?,
    ))
}
