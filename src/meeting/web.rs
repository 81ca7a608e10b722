//! 组织生活 pages and JSON API: a member's meetings and sign-in (phone first), a branch's year
//! (plan, sittings, how each required period stands), planning a sitting, one sitting (roll,
//! code, leave, minutes, filing, addenda), a subtree's compliance, and the public sign-in page
//! of observers without an account (`/attend`).

use super::store::{
    self, Compliance, Mark, Meeting, Minutes, NewMeeting, ObserverSignIn, Row, Sitting, Year,
};
use super::{ATTENDANCE, KINDS, OBSERVERS};
use crate::auth::{Perm, Principal};
use crate::error::{AppError, FieldError};
use crate::web::{
    form, page_ctx, render, render_status, ApiError, AppState, Auth, BrowserLang, ClientIp,
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
use serde::Deserialize;
use std::collections::HashMap;

pub fn page_routes() -> Router<AppState> {
    Router::new()
        .route("/meetings", get(mine_page).post(create_page))
        .route("/meetings/sign", post(sign_page))
        .route("/meetings/new", get(new_page))
        .route("/meetings/year", get(year_page))
        .route("/meetings/plan", post(plan_page))
        .route("/meetings/compliance", get(compliance_page))
        .route("/meetings/{id}", get(detail_page))
        .route("/meetings/{id}/edit", get(edit_page).post(edit_submit))
        .route("/meetings/{id}/notify", post(notify_page))
        .route("/meetings/{id}/cancel", post(cancel_page))
        .route("/meetings/{id}/mark", post(mark_page))
        .route("/meetings/{id}/leave", post(leave_page))
        .route("/meetings/{id}/file", post(file_page))
        .route("/meetings/{id}/addenda", post(addendum_page))
        .route("/meetings/{id}/makeups", post(makeup_page))
        .route("/meetings/{id}/decisions", post(decision_page))
        .route("/attend", get(attend_page).post(attend_submit))
        .route("/meetings/talks", post(talk_page))
}

pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/meetings", post(api_create))
        .route("/api/v1/meetings/mine", get(api_mine))
        .route("/api/v1/meetings/sign-in", post(api_sign_in))
        .route("/api/v1/meetings/plan", post(api_plan))
        .route("/api/v1/meetings/year", get(api_year))
        .route("/api/v1/meetings/compliance", get(api_compliance))
        .route("/api/v1/meetings/{id}", get(api_get).put(api_update))
        .route("/api/v1/meetings/{id}/notify", post(api_notify))
        .route("/api/v1/meetings/{id}/cancel", post(api_cancel))
        .route("/api/v1/meetings/{id}/mark", post(api_mark))
        .route("/api/v1/meetings/{id}/leave", post(api_leave))
        .route("/api/v1/meetings/{id}/file", post(api_file))
        .route("/api/v1/meetings/{id}/addenda", post(api_addendum))
        .route("/api/v1/meetings/{id}/makeups", post(api_makeup))
        .route("/api/v1/meetings/{id}/decisions", post(api_decision))
        .route("/api/v1/public/attend", get(api_sitting).post(api_attend))
        .route("/api/v1/talks", get(api_talks).post(api_talk))
}

/// Refusals a form shows in place (anything else is an error page).
fn shown(e: &AppError) -> bool {
    matches!(
        e,
        AppError::Validation(_) | AppError::Refused { .. } | AppError::Conflict(_)
    )
}

async fn mine_page(State(ctx): State<AppState>, Auth(p): Auth) -> Result<Response, PageError> {
    mine_render(&ctx, &p, StatusCode::OK, Vec::new()).await
}

async fn mine_render(
    ctx: &Ctx,
    p: &Principal,
    status: StatusCode,
    errors: Vec<FieldError>,
) -> Result<Response, PageError> {
    let rows = store::mine(ctx, p).await?;
    let staff = p.can(Perm::MeetingRead);
    let own = crate::org::store::get(&ctx.db, p.org_id).await?;
    Ok(render_status(
        status,
        "meetings.html",
        page_ctx(
            p,
            "meetings",
            context! {
                rows => rows, staff => staff, errors => errors, is_member => p.member_id.is_some(),
                own_org => own, own_holds => own.kind.holds_members() || own.kind == crate::org::OrgKind::Group,
                year => ctx.clock.today().year(),
            },
        ),
    ))
}

async fn sign_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    ClientIp(ip): ClientIp,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    // guessing codes is throttled here as on the API and the observers' page
    let r = match crate::web::code_attempt(&ctx, &ip) {
        Err(e) => Err(e),
        Ok(()) => store::sign_in(&ctx, &p, &form::text(&f, "code")).await,
    };
    if matches!(r, Err(AppError::NotFound(_))) {
        crate::web::code_failed(&ctx, &ip);
    }
    match r {
        Err(e @ AppError::TooManyAttempts(_)) => {
            mine_render(
                &ctx,
                &p,
                StatusCode::TOO_MANY_REQUESTS,
                vec![FieldError::new("code", e.public_message())],
            )
            .await
        }
        Ok(m) => Ok(Redirect::to(&format!("/meetings/{}?ok=meeting_signed", m.id)).into_response()),
        Err(AppError::NotFound(_)) => {
            mine_render(
                &ctx,
                &p,
                StatusCode::UNPROCESSABLE_ENTITY,
                vec![FieldError::new("code", "签到码不正确或会议不在签到时间内")],
            )
            .await
        }
        Err(e) if shown(&e) => {
            mine_render(
                &ctx,
                &p,
                StatusCode::UNPROCESSABLE_ENTITY,
                crate::web::field_errors(e, "code"),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct YearQuery {
    /// The branch or 党小组 (default: the caller's organisation).
    pub org_id: Option<i64>,
    /// Default: this year.
    pub year: Option<i32>,
}

fn year_of(ctx: &Ctx, y: Option<i32>) -> Result<i32, AppError> {
    let this = ctx.clock.today().year();
    match y {
        None => Ok(this),
        Some(y) if (2000..=2100).contains(&y) => Ok(y),
        Some(_) => Err(AppError::field("year", "年份超出范围（2000年至2100年）")),
    }
}

async fn year_view(
    ctx: &Ctx,
    p: &Principal,
    q: &YearQuery,
    errors: Vec<FieldError>,
) -> Result<minijinja::Value, AppError> {
    let year = year_of(ctx, q.year)?;
    let y = store::year(ctx, p, q.org_id.unwrap_or(p.org_id), year).await?;
    let org = crate::org::store::get(&ctx.db, y.org_id).await?;
    let can_write = p.can(Perm::MeetingWrite);
    // 谈心谈话 of a branch's year, with its roll to log one
    let (talks, roll) = if org.kind.holds_members() {
        let t = super::talk::year(ctx, p, org.id, year).await?;
        let roll = if can_write {
            store::roster_of(ctx, p, org.id).await?.1
        } else {
            Vec::new()
        };
        (Some(t), roll)
    } else {
        (None, Vec::new())
    };
    Ok(context! {
        y => y, errors => errors, can_write => can_write, talks => talks, roll => roll,
        talk_categories => super::TALK_CATEGORIES, today => ctx.clock.today(),
        holds => org.kind.holds_members() || org.kind == crate::org::OrgKind::Group,
        statuses => crate::obligation::STATUSES,
    })
}

async fn year_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<YearQuery>,
) -> Result<Response, PageError> {
    let v = year_view(&ctx, &p, &q, Vec::new()).await?;
    Ok(render("meeting_year.html", page_ctx(&p, "meetings", v)))
}

async fn plan_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let org_id = form::opt_num(&f, "org_id").unwrap_or(p.org_id);
    let year = form::opt_num(&f, "year").unwrap_or(ctx.clock.today().year() as i64) as i32;
    match store::plan(&ctx, &p, org_id, year).await {
        Ok(n) => {
            let ok = if n > 0 {
                "meeting_planned"
            } else {
                "meeting_plan_none"
            };
            Ok(Redirect::to(&format!(
                "/meetings/year?org_id={org_id}&year={year}&ok={ok}"
            ))
            .into_response())
        }
        Err(e) if shown(&e) => {
            let q = YearQuery {
                org_id: Some(org_id),
                year: Some(year),
            };
            let v = year_view(&ctx, &p, &q, crate::web::field_errors(e, "plan")).await?;
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "meeting_year.html",
                page_ctx(&p, "meetings", v),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NewQuery {
    org_id: Option<i64>,
}

async fn new_view(
    ctx: &Ctx,
    p: &Principal,
    org_id: i64,
    sent: Option<&NewMeeting>,
    errors: Vec<FieldError>,
) -> Result<minijinja::Value, AppError> {
    let (org, roll) = store::roster_of(ctx, p, org_id).await?;
    let today = ctx.clock.today();
    let blank = NewMeeting {
        org_id,
        held_on: Some(today),
        starts: "09:00".into(),
        ends: "11:00".into(),
        ..NewMeeting::default()
    };
    Ok(context! {
        org => org, roll => roll, kinds => KINDS, errors => errors,
        form => sent.cloned().unwrap_or(blank),
        is_group => org.kind == crate::org::OrgKind::Group,
    })
}

async fn new_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<NewQuery>,
) -> Result<Response, PageError> {
    let v = new_view(&ctx, &p, q.org_id.unwrap_or(p.org_id), None, Vec::new()).await?;
    Ok(render("meeting_new.html", page_ctx(&p, "meetings", v)))
}

/// The planning form filled with a sitting not yet filed, to change it.
async fn edit_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let m = store::open(&ctx, &p, id).await?;
    if !(p.can(Perm::MeetingWrite) && p.in_scope(&m.org_path))
        || !(m.status == "planned" || m.status == "notified")
    {
        return Err(AppError::NotFound("会议").into());
    }
    let zone = ctx.clock.zone();
    let raw = store::invitees_of(&ctx, id).await?;
    let form = NewMeeting {
        org_id: m.org_id,
        kinds: m.kinds.clone(),
        title: m.title.clone(),
        held_on: Some(m.held_on),
        starts: zone.local(m.starts_at).format("%H:%M").to_string(),
        ends: zone.local(m.ends_at).format("%H:%M").to_string(),
        place: m.place.clone(),
        agenda: m.agenda.clone(),
        invitees: raw,
    };
    let mut v = new_view(&ctx, &p, m.org_id, Some(&form), Vec::new()).await?;
    v = context! { ..v, ..context! { edit => m } };
    Ok(render("meeting_new.html", page_ctx(&p, "meetings", v)))
}

fn meeting_form(p: &Principal, f: &[(String, String)]) -> Result<NewMeeting, AppError> {
    let many = |k: &str| {
        f.iter()
            .filter(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .collect::<Vec<_>>()
    };
    let one: HashMap<String, String> = f.iter().cloned().collect();
    for k in ["org_id", "held_on"] {
        let bad = match k {
            "org_id" => form::opt_num(&one, k).is_none(),
            _ => form::date(&one, k).is_none(),
        };
        if bad && one.get(k).is_some_and(|v| !v.trim().is_empty()) {
            return Err(AppError::field(k, "参数格式有误"));
        }
    }
    Ok(NewMeeting {
        org_id: form::opt_num(&one, "org_id").unwrap_or(p.org_id),
        kinds: many("kinds"),
        title: form::text(&one, "title"),
        held_on: form::date(&one, "held_on"),
        starts: form::text(&one, "starts"),
        ends: form::text(&one, "ends"),
        place: form::text(&one, "place"),
        agenda: form::text(&one, "agenda"),
        invitees: many("invitees")
            .iter()
            .filter_map(|v| v.trim().parse().ok())
            .collect(),
    })
}

async fn edit_submit(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let input = meeting_form(&p, &f)?;
    match store::update(&ctx, &p, id, &input).await {
        Ok(m) => Ok(Redirect::to(&format!("/meetings/{}?ok=saved", m.id)).into_response()),
        Err(e) if shown(&e) => {
            let m = store::open(&ctx, &p, id).await?;
            let v = new_view(
                &ctx,
                &p,
                m.org_id,
                Some(&input),
                crate::web::field_errors(e, "form"),
            )
            .await?;
            let v = context! { ..v, ..context! { edit => m } };
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "meeting_new.html",
                page_ctx(&p, "meetings", v),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

async fn create_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    axum::Form(f): axum::Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let input = meeting_form(&p, &f)?;
    match store::create(&ctx, &p, &input).await {
        Ok(m) => {
            Ok(Redirect::to(&format!("/meetings/{}?ok=meeting_created", m.id)).into_response())
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
                "meeting_new.html",
                page_ctx(&p, "meetings", v),
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
    minutes: Option<&Minutes>,
) -> Result<minijinja::Value, AppError> {
    let m = store::open(ctx, p, id).await?;
    let manages = p.can(Perm::MeetingWrite) && p.in_scope(&m.org_path);
    let now = ctx.clock.now();
    let me = p
        .member_id
        .and_then(|me| m.attendance.iter().find(|a| a.member_id == me).cloned());
    let started = now >= m.starts_at;
    let committee_size = if m.kinds.iter().any(|k| k == "committee") {
        crate::org::store::get(&ctx.db, m.org_id)
            .await?
            .committee_size
    } else {
        0
    };
    let mut blank = Minutes {
        version: m.version,
        ..Minutes::default()
    };
    blank.decisions.resize(3, Default::default());
    if m.kinds.iter().any(|k| k == "assembly" || k == "committee") {
        blank.votes.resize(2, Default::default());
    }
    if m.kinds.iter().any(|k| k == "life") {
        blank.problems.resize(3, Default::default());
    }
    let mut sent = minutes.cloned().unwrap_or(blank);
    sent.decisions
        .resize(sent.decisions.len().max(3), Default::default());
    // the recruitment files discussed here (steps 15 and 23 linked to this 党员大会)
    let recruits = if p.can(Perm::RecruitRead)
        && p.in_scope(&m.org_path)
        && m.kinds.iter().any(|k| k == "assembly")
    {
        crate::recruit::store::discussed_at(ctx, m.id, m.org_id).await?
    } else {
        Vec::new()
    };
    Ok(context! {
        m => m, manages => manages, mine => me, started => started, errors => errors, recruits => recruits,
        attendance => ATTENDANCE, minutes => sent, committee_size => committee_size,
    })
}

async fn detail_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let v = detail_view(&ctx, &p, id, Vec::new(), None).await?;
    Ok(render("meeting.html", page_ctx(&p, "meetings", v)))
}

async fn after(
    ctx: &Ctx,
    p: &Principal,
    id: i64,
    ok: &str,
    r: Result<Meeting, AppError>,
    minutes: Option<&Minutes>,
) -> Result<Response, PageError> {
    match r {
        Ok(_) => Ok(Redirect::to(&format!("/meetings/{id}?ok={ok}")).into_response()),
        Err(e) if shown(&e) => {
            let v = detail_view(ctx, p, id, crate::web::field_errors(e, "form"), minutes).await?;
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "meeting.html",
                page_ctx(p, "meetings", v),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

async fn notify_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let r = store::notify(&ctx, &p, id).await;
    after(&ctx, &p, id, "meeting_notified", r, None).await
}

async fn cancel_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let r = store::cancel(&ctx, &p, id, &form::text(&f, "reason")).await;
    after(&ctx, &p, id, "meeting_cancelled", r, None).await
}

async fn mark_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let mk = Mark {
        member_id: form::num(&f, "member_id"),
        status: form::text(&f, "status"),
        reason: form::text(&f, "reason"),
    };
    let r = store::mark(&ctx, &p, id, &mk).await;
    after(&ctx, &p, id, "meeting_marked", r, None).await
}

async fn leave_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let r = store::ask_leave(&ctx, &p, id, &form::text(&f, "reason")).await;
    after(&ctx, &p, id, "meeting_leave_asked", r, None).await
}

fn minutes_from(f: &HashMap<String, String>) -> Minutes {
    let decisions = (0..50)
        .filter_map(|i| {
            f.get(&format!("decision_text_{i}"))
                .map(|t| store::Decision {
                    text: t.clone(),
                    owner: form::text(f, &format!("decision_owner_{i}")),
                    deadline: form::date(f, &format!("decision_deadline_{i}")),
                    ..store::Decision::default()
                })
        })
        .collect();
    let votes = (0..30)
        .filter_map(|i| {
            f.get(&format!("vote_motion_{i}")).map(|t| super::Vote {
                motion: t.clone(),
                ayes: form::num(f, &format!("vote_ayes_{i}")),
                noes: form::num(f, &format!("vote_noes_{i}")),
                abstentions: form::num(f, &format!("vote_abstentions_{i}")),
                passed: false,
            })
        })
        .collect();
    Minutes {
        host: form::text(f, "host"),
        recorder: form::text(f, "recorder"),
        lecturer: form::text(f, "lecturer"),
        summary: form::text(f, "summary"),
        decisions,
        votes,
        committee_present: form::opt_num(f, "committee_present"),
        problems: (0..30)
            .filter_map(|i| {
                f.get(&format!("problem_text_{i}")).map(|t| store::Problem {
                    problem: t.clone(),
                    measures: form::text(f, &format!("problem_measures_{i}")),
                    owner: form::text(f, &format!("problem_owner_{i}")),
                    deadline: form::date(f, &format!("problem_deadline_{i}")),
                })
            })
            .collect(),
        version: form::num(f, "version"),
    }
}

async fn file_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    // a count that does not read as a number is refused, never taken for 0
    for (k, v) in &f {
        let numeric = k.starts_with("vote_ayes_")
            || k.starts_with("vote_noes_")
            || k.starts_with("vote_abstentions_")
            || k == "committee_present";
        if numeric && !v.trim().is_empty() && v.trim().parse::<i64>().is_err() {
            return after(
                &ctx,
                &p,
                id,
                "",
                Err(AppError::field(k, "票数、人数须为整数")),
                Some(&minutes_from(&f)),
            )
            .await;
        }
    }
    let input = minutes_from(&f);
    let r = store::file(&ctx, &p, id, &input).await;
    after(&ctx, &p, id, "meeting_filed", r, Some(&input)).await
}

async fn addendum_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let r = store::add_addendum(&ctx, &p, id, &form::text(&f, "body")).await;
    after(&ctx, &p, id, "meeting_addendum", r, None).await
}

/// A date field sent filled must read as one (never taken for "none").
fn typed_date(f: &HashMap<String, String>, key: &str) -> Result<(), AppError> {
    if f.get(key).is_some_and(|v| !v.trim().is_empty()) && form::date(f, key).is_none() {
        return Err(AppError::field(key, "日期格式有误"));
    }
    Ok(())
}

async fn makeup_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    if let Err(e) = typed_date(&f, "done_on") {
        return after(&ctx, &p, id, "", Err(e), None).await;
    }
    let mk = store::Makeup {
        member_id: form::num(&f, "member_id"),
        done_on: form::date(&f, "done_on"),
        note: form::text(&f, "note"),
    };
    let r = store::record_makeup(&ctx, &p, id, &mk).await;
    after(&ctx, &p, id, "meeting_makeup", r, None).await
}

async fn decision_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    if let Err(e) = typed_date(&f, "done_on") {
        return after(&ctx, &p, id, "", Err(e), None).await;
    }
    let dd = store::DecisionDone {
        seq: form::num(&f, "seq"),
        done_on: form::date(&f, "done_on"),
        note: form::text(&f, "note"),
    };
    let r = store::complete_decision(&ctx, &p, id, &dd).await;
    after(&ctx, &p, id, "meeting_decision_done", r, None).await
}

async fn compliance_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<YearQuery>,
) -> Result<Response, PageError> {
    let year = year_of(&ctx, q.year)?;
    let c = store::compliance(&ctx, &p, q.org_id, year).await?;
    let org = crate::org::store::get(&ctx.db, c.org_id).await?;
    Ok(render(
        "meeting_compliance.html",
        page_ctx(&p, "meetings", context! { c => c, org => org }),
    ))
}

// ---- the public sign-in of observers ----

#[derive(Deserialize, Default)]
#[serde(default)]
struct AttendQuery {
    code: Option<String>,
}

async fn attend_page(
    State(ctx): State<AppState>,
    BrowserLang(lang): BrowserLang,
    Query(q): Query<AttendQuery>,
) -> Result<Response, PageError> {
    let code = q.code.unwrap_or_default();
    Ok(render(
        "attend.html",
        context! { lang => lang.code(), observers => OBSERVERS, form => ObserverSignIn { code, ..Default::default() }, errors => Vec::<FieldError>::new(), done => None::<Sitting>, today => ctx.clock.today() },
    ))
}

async fn attend_submit(
    State(ctx): State<AppState>,
    BrowserLang(lang): BrowserLang,
    ClientIp(ip): ClientIp,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let o = ObserverSignIn {
        code: form::text(&f, "code"),
        name: form::text(&f, "name"),
        unit: form::text(&f, "unit"),
        category: form::text(&f, "category"),
        note: form::text(&f, "note"),
    };
    let r = match crate::web::code_attempt(&ctx, &ip) {
        Err(e) => Err(e),
        Ok(()) => store::observe(&ctx, &o, &ip).await,
    };
    let page = |status, errors: Vec<FieldError>, done: Option<Sitting>| {
        render_status(
            status,
            "attend.html",
            context! { lang => lang.code(), observers => OBSERVERS, form => o.clone(), errors => errors, done => done },
        )
    };
    match r {
        Ok(s) => Ok(page(StatusCode::OK, Vec::new(), Some(s))),
        Err(e @ AppError::TooManyAttempts(_)) => Ok(page(
            StatusCode::TOO_MANY_REQUESTS,
            vec![FieldError::new("code", e.public_message())],
            None,
        )),
        Err(AppError::NotFound(_)) => {
            crate::web::code_failed(&ctx, &ip);
            Ok(page(
                StatusCode::UNPROCESSABLE_ENTITY,
                vec![FieldError::new(
                    "code",
                    "签到码不正确，请核对会场公布的六位签到码",
                )],
                None,
            ))
        }
        Err(e) if shown(&e) => Ok(page(
            StatusCode::UNPROCESSABLE_ENTITY,
            crate::web::field_errors(e, "code"),
            None,
        )),
        Err(e) => Err(e.into()),
    }
}

async fn talk_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let org_id = form::opt_num(&f, "org_id").unwrap_or(p.org_id);
    let input = super::talk::NewTalk {
        org_id,
        held_on: form::date(&f, "held_on"),
        a_member_id: form::opt_num(&f, "a_member_id").unwrap_or(0),
        b_member_id: form::opt_num(&f, "b_member_id").unwrap_or(0),
        category: form::text(&f, "category"),
        topic: form::text(&f, "topic"),
    };
    let year = input.held_on.map_or(ctx.clock.today().year(), |d| d.year());
    match super::talk::log(&ctx, &p, &input).await {
        Ok(_) => Ok(Redirect::to(&format!(
            "/meetings/year?org_id={org_id}&year={year}&ok=talk_logged#talks"
        ))
        .into_response()),
        Err(e) if shown(&e) => {
            let q = YearQuery {
                org_id: Some(org_id),
                year: Some(year),
            };
            let v = year_view(&ctx, &p, &q, crate::web::field_errors(e, "talk")).await?;
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "meeting_year.html",
                page_ctx(&p, "meetings", v),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

// ---- JSON API ----

/// A branch's 谈心谈话 of a year and how they cover the three categories.
#[utoipa::path(get, path = "/api/v1/talks", tag = "meetings", params(YearQuery),
    responses((status = 200, body = super::talk::Talks), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_talks(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<YearQuery>,
) -> Result<Json<super::talk::Talks>, ApiError> {
    let year = year_of(&ctx, q.year)?;
    Ok(Json(
        super::talk::year(&ctx, &p, q.org_id.unwrap_or(p.org_id), year).await?,
    ))
}

/// Logs a 谈心谈话 between two members of a branch (category from the committee roster).
#[utoipa::path(post, path = "/api/v1/talks", tag = "meetings", request_body = super::talk::NewTalk,
    responses((status = 200, body = super::talk::Talk), (status = 403, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_talk(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Json(b): Json<super::talk::NewTalk>,
) -> Result<Json<super::talk::Talk>, ApiError> {
    Ok(Json(super::talk::log(&ctx, &p, &b).await?))
}

/// Plans a sitting of a branch or 党小组 (status `planned`).
#[utoipa::path(post, path = "/api/v1/meetings", tag = "meetings", request_body = NewMeeting,
    responses((status = 200, body = Meeting), (status = 403, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_create(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Json(b): Json<NewMeeting>,
) -> Result<Json<Meeting>, ApiError> {
    Ok(Json(store::create(&ctx, &p, &b).await?))
}

/// The sittings the caller (a member) is on the roll of, upcoming and of the last 90 days;
/// `status` is the caller's attendance.
#[utoipa::path(get, path = "/api/v1/meetings/mine", tag = "meetings", responses((status = 200, body = [Row])))]
pub async fn api_mine(
    State(ctx): State<AppState>,
    Auth(p): Auth,
) -> Result<Json<Vec<Row>>, ApiError> {
    Ok(Json(store::mine(&ctx, &p).await?))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(default)]
#[schema(as = MeetingCodeBody)]
pub struct CodeBody {
    /// The six digits shown at the sitting.
    pub code: String,
}

/// A member signs in with the sitting's code (on its roll, in its window, once).
#[utoipa::path(post, path = "/api/v1/meetings/sign-in", tag = "meetings", request_body = CodeBody,
    responses((status = 200, body = Meeting), (status = 404, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_sign_in(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    ClientIp(ip): ClientIp,
    Json(b): Json<CodeBody>,
) -> Result<Json<Meeting>, ApiError> {
    crate::web::code_attempt(&ctx, &ip)?;
    let r = store::sign_in(&ctx, &p, &b.code).await;
    if matches!(r, Err(AppError::NotFound(_))) {
        crate::web::code_failed(&ctx, &ip);
    }
    Ok(Json(r?))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(default)]
pub struct PlanBody {
    pub org_id: i64,
    pub year: i32,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Planned {
    pub planned: i64,
}

/// Makes the year's plan of a branch and its 党小组 from the frequency rules (only what is
/// not yet held or planned, only days still ahead).
#[utoipa::path(post, path = "/api/v1/meetings/plan", tag = "meetings", request_body = PlanBody,
    responses((status = 200, body = Planned), (status = 403, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_plan(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Json(b): Json<PlanBody>,
) -> Result<Json<Planned>, ApiError> {
    Ok(Json(Planned {
        planned: store::plan(&ctx, &p, b.org_id, b.year).await?,
    }))
}

/// A branch's (or group's) year: its sittings and how each required period stands.
#[utoipa::path(get, path = "/api/v1/meetings/year", tag = "meetings", params(YearQuery),
    responses((status = 200, body = Year), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_year(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<YearQuery>,
) -> Result<Json<Year>, ApiError> {
    let year = year_of(&ctx, q.year)?;
    Ok(Json(
        store::year(&ctx, &p, q.org_id.unwrap_or(p.org_id), year).await?,
    ))
}

/// Compliance of a subtree's branches in a year: green, amber, red and the branches not green.
#[utoipa::path(get, path = "/api/v1/meetings/compliance", tag = "meetings", params(YearQuery),
    responses((status = 200, body = Compliance), (status = 404, body = crate::web::ErrorBody), (status = 503, body = crate::web::ErrorBody)))]
pub async fn api_compliance(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<YearQuery>,
) -> Result<Json<Compliance>, ApiError> {
    let year = year_of(&ctx, q.year)?;
    Ok(Json(store::compliance(&ctx, &p, q.org_id, year).await?))
}

/// One sitting: to those who run it (with the sign-in code) and to the members on its roll.
#[utoipa::path(get, path = "/api/v1/meetings/{id}", tag = "meetings", params(("id" = i64, Path)),
    responses((status = 200, body = Meeting), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_get(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Meeting>, ApiError> {
    Ok(Json(store::open(&ctx, &p, id).await?))
}

/// Changes a sitting not yet filed (kinds and invitees only before the notice).
#[utoipa::path(put, path = "/api/v1/meetings/{id}", tag = "meetings", params(("id" = i64, Path)), request_body = NewMeeting,
    responses((status = 200, body = Meeting), (status = 403, body = crate::web::ErrorBody), (status = 404, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_update(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<NewMeeting>,
) -> Result<Json<Meeting>, ApiError> {
    Ok(Json(store::update(&ctx, &p, id, &b).await?))
}

/// Notifies the sitting: takes the roll's snapshot and issues its sign-in code.
#[utoipa::path(post, path = "/api/v1/meetings/{id}/notify", tag = "meetings", params(("id" = i64, Path)),
    responses((status = 200, body = Meeting), (status = 403, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_notify(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Meeting>, ApiError> {
    Ok(Json(store::notify(&ctx, &p, id).await?))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(default)]
pub struct ReasonBody {
    pub reason: String,
}

/// Cancels a sitting not yet filed.
#[utoipa::path(post, path = "/api/v1/meetings/{id}/cancel", tag = "meetings", params(("id" = i64, Path)), request_body = ReasonBody,
    responses((status = 200, body = Meeting), (status = 403, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_cancel(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<ReasonBody>,
) -> Result<Json<Meeting>, ApiError> {
    Ok(Json(store::cancel(&ctx, &p, id, &b.reason).await?))
}

/// The recorder marks a member on the roll: present, leave (approving a leave asked) or absent.
#[utoipa::path(post, path = "/api/v1/meetings/{id}/mark", tag = "meetings", params(("id" = i64, Path)), request_body = Mark,
    responses((status = 200, body = Meeting), (status = 403, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_mark(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<Mark>,
) -> Result<Json<Meeting>, ApiError> {
    Ok(Json(store::mark(&ctx, &p, id, &b).await?))
}

/// A member on the roll asks for leave before the sitting starts.
#[utoipa::path(post, path = "/api/v1/meetings/{id}/leave", tag = "meetings", params(("id" = i64, Path)), request_body = ReasonBody,
    responses((status = 200, body = Meeting), (status = 404, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_leave(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<ReasonBody>,
) -> Result<Json<Meeting>, ApiError> {
    Ok(Json(store::ask_leave(&ctx, &p, id, &b.reason).await?))
}

/// Files the record, signed by the caller and locked: quorum and votes counted from the roll.
#[utoipa::path(post, path = "/api/v1/meetings/{id}/file", tag = "meetings", params(("id" = i64, Path)), request_body = Minutes,
    responses((status = 200, body = Meeting), (status = 403, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_file(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<Minutes>,
) -> Result<Json<Meeting>, ApiError> {
    Ok(Json(store::file(&ctx, &p, id, &b).await?))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(default)]
#[schema(as = MeetingAddendumBody)]
pub struct BodyText {
    pub body: String,
}

/// A signed addendum to a filed record.
#[utoipa::path(post, path = "/api/v1/meetings/{id}/addenda", tag = "meetings", params(("id" = i64, Path)), request_body = BodyText,
    responses((status = 200, body = Meeting), (status = 403, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_addendum(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<BodyText>,
) -> Result<Json<Meeting>, ApiError> {
    Ok(Json(store::add_addendum(&ctx, &p, id, &b.body).await?))
}

/// 落实: a decision of a filed record carried out.
#[utoipa::path(post, path = "/api/v1/meetings/{id}/decisions", tag = "meetings", params(("id" = i64, Path)), request_body = store::DecisionDone,
    responses((status = 200, body = Meeting), (status = 403, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_decision(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<store::DecisionDone>,
) -> Result<Json<Meeting>, ApiError> {
    Ok(Json(store::complete_decision(&ctx, &p, id, &b).await?))
}

/// 补学 of a member absent or on leave at a filed sitting.
#[utoipa::path(post, path = "/api/v1/meetings/{id}/makeups", tag = "meetings", params(("id" = i64, Path)), request_body = store::Makeup,
    responses((status = 200, body = Meeting), (status = 403, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_makeup(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<store::Makeup>,
) -> Result<Json<Meeting>, ApiError> {
    Ok(Json(store::record_makeup(&ctx, &p, id, &b).await?))
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct SittingQuery {
    pub code: String,
}

/// The sitting a code opens while it may be signed into (no account needed).
#[utoipa::path(get, path = "/api/v1/public/attend", tag = "meetings", params(SittingQuery),
    responses((status = 200, body = Sitting), (status = 404, body = crate::web::ErrorBody), (status = 429, body = crate::web::ErrorBody)))]
pub async fn api_sitting(
    State(ctx): State<AppState>,
    ClientIp(ip): ClientIp,
    Query(q): Query<SittingQuery>,
) -> Result<Json<Sitting>, ApiError> {
    crate::web::code_attempt(&ctx, &ip)?;
    let r = store::sitting(&ctx, &q.code).await;
    if matches!(r, Err(AppError::NotFound(_))) {
        crate::web::code_failed(&ctx, &ip);
    }
    Ok(Json(r?))
}

/// An observer without an account signs in by name and code (and may leave an observation).
#[utoipa::path(post, path = "/api/v1/public/attend", tag = "meetings", request_body = ObserverSignIn,
    responses((status = 200, body = Sitting), (status = 404, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody), (status = 429, body = crate::web::ErrorBody)))]
pub async fn api_attend(
    State(ctx): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(b): Json<ObserverSignIn>,
) -> Result<Json<Sitting>, ApiError> {
    crate::web::code_attempt(&ctx, &ip)?;
    let r = store::observe(&ctx, &b, &ip).await;
    if matches!(r, Err(AppError::NotFound(_))) {
        crate::web::code_failed(&ctx, &ip);
    }
    Ok(Json(r?))
}
