//! 发展党员 pages and JSON API: the pipeline board and table, one person's file with the
//! form of the next step, signatures, evaluations, publicity, documents and the archive;
//! approval queues, three-level statistics, plans, the holiday calendar and the public
//! publicity notices.

use super::archive::{self, DOC_KINDS};
use super::rules::{RecruitRules, StepInput, Votes};
use super::store::{
    self, Board, Entry, EvaluationInput, NewRecruit, ObjectionInput, PublicityInput, QueueItem,
    Recruit, RecruitFilter, RevisitInput, StatRow,
};
use super::{CHANNELS, FULL_OUTCOMES, STAGES, STATUSES, STEPS};
use crate::auth::{Perm, Principal};
use crate::error::{AppError, FieldError};
use crate::web::{
    authorize, form, page_ctx, render, render_status, ApiError, AppState, Auth, BrowserLang,
    PageError,
};
use crate::Ctx;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::NaiveDate;
use minijinja::context;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub fn page_routes() -> Router<AppState> {
    Router::new()
        .route("/recruits", get(list_page).post(apply_page))
        .route("/recruits/new", get(new_page))
        .route("/recruits/queue", get(queue_page))
        .route("/recruits/stats", get(stats_page))
        .route("/recruits/stats/export.csv", get(stats_export))
        .route("/recruits/export.csv", get(list_export))
        .route("/recruits/plans", post(plan_page))
        .route("/recruits/authority", post(authority_page))
        .route("/recruits/verify", get(verify_page).post(verify_submit))
        .route("/recruits/signed", get(signed_page))
        .route("/recruits/{id}", get(detail_page))
        .route("/recruits/{id}/steps", post(step_page))
        .route("/recruits/{id}/evaluations", post(evaluate_page))
        .route("/recruits/{id}/publicity", post(publicity_page))
        .route("/recruits/{id}/documents", post(upload_page))
        .route("/recruits/{id}/archive.zip", get(archive_download))
        .route("/recruits/{id}/backfill/finish", post(finish_backfill_page))
        .route("/recruits/entries/{id}/sign", post(sign_page))
        .route("/recruits/entries/{id}/correct", post(correct_page))
        .route("/recruits/evaluations/{id}/revisit", post(revisit_page))
        .route("/recruits/publicity/{id}/objections", post(objection_page))
        .route("/recruits/objections/{id}/answer", post(answer_page))
        .route("/recruits/documents/{id}", get(document_download))
        .route("/notices", get(notices_page))
}

pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/recruits", get(api_list).post(api_apply))
        .route("/api/v1/recruits/board", get(api_board))
        .route("/api/v1/recruits/queue", get(api_queue))
        .route("/api/v1/recruits/stats", get(api_stats))
        .route("/api/v1/recruits/archive/verify", post(api_verify))
        .route("/api/v1/recruits/{id}", get(api_get))
        .route("/api/v1/recruits/{id}/steps", post(api_step))
        .route("/api/v1/recruits/{id}/evaluations", post(api_evaluate))
        .route("/api/v1/recruits/{id}/publicity", post(api_publicity))
        .route("/api/v1/recruits/{id}/documents", post(api_upload))
        .route("/api/v1/recruits/{id}/archive", get(api_archive))
        .route(
            "/api/v1/recruits/{id}/backfill/finish",
            post(api_finish_backfill),
        )
        .route("/api/v1/recruits/entries/{id}/sign", post(api_sign))
        .route("/api/v1/recruits/entries/{id}/correct", post(api_correct))
        .route(
            "/api/v1/recruits/evaluations/{id}/revisit",
            post(api_revisit),
        )
        .route(
            "/api/v1/recruits/publicity/{id}/objections",
            post(api_objection),
        )
        .route("/api/v1/recruits/objections/{id}/answer", post(api_answer))
        .route("/api/v1/notices", get(api_notices))
}

/// Loads a recruit the principal may see.
async fn load(
    ctx: &Ctx,
    p: &Principal,
    id: i64,
    perm: Perm,
) -> Result<(Recruit, String), AppError> {
    let (rc, path) = store::get(ctx, id).await?;
    authorize(ctx, p, perm, Some(&path)).await?;
    Ok((rc, path))
}

/// The subtree a list covers: `org_id` if given and in scope, else the account's.
async fn scope(ctx: &Ctx, p: &Principal, org_id: Option<i64>) -> Result<crate::org::Org, AppError> {
    crate::org::web::load(ctx, p, org_id.unwrap_or(p.org_id), Perm::RecruitRead).await
}

/// A step form (all text) → the step input the rules read.
fn step_from_form(f: &HashMap<String, String>) -> StepInput {
    let ids = |keys: [&str; 2]| -> Vec<i64> {
        keys.iter()
            .filter_map(|k| f.get(*k).and_then(|v| v.trim().parse().ok()))
            .collect()
    };
    let votes = f.contains_key("entitled").then(|| Votes {
        entitled: form::num(f, "entitled"),
        present: form::num(f, "present"),
        yes: form::num(f, "yes"),
        no: form::num(f, "no"),
        abstain: form::num(f, "abstain"),
        written_yes: form::num(f, "written_yes"),
    });
    StepInput {
        step: form::num(f, "step"),
        done_on: form::date(f, "done_on"),
        note: form::text(f, "note"),
        channel: form::text(f, "channel"),
        contacts: ids(["contact1", "contact2"]),
        introducers: ids(["introducer1", "introducer2"]),
        conclusion: form::text(f, "conclusion"),
        training_days: form::num(f, "training_days"),
        training_hours: form::num(f, "training_hours"),
        exception_reason: form::text(f, "exception_reason"),
        expected_leave_on: form::date(f, "expected_leave_on"),
        votes,
        outcome: form::text(f, "outcome"),
        late_reason: form::text(f, "late_reason"),
        extension_months: form::num(f, "extension_months"),
        group_id: f.get("group_id").and_then(|v| v.trim().parse().ok()),
        meeting_id: f.get("meeting_id").and_then(|v| v.trim().parse().ok()),
        correction_reason: String::new(),
    }
}

// ---- pages ----

#[derive(Serialize)]
struct Row {
    r: Recruit,
    stage_label: &'static str,
    step_name: &'static str,
    status_label: &'static str,
    overdue: bool,
}

fn rows(list: Vec<Recruit>, today: NaiveDate) -> Vec<Row> {
    list.into_iter()
        .map(|r| Row {
            stage_label: r.stage_label(),
            step_name: r.step_name(),
            status_label: r.status_label(),
            overdue: r.due_on.is_some_and(|d| d < today),
            r,
        })
        .collect()
}

async fn list_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(f): Query<RecruitFilter>,
) -> Result<Response, PageError> {
    let org = scope(&ctx, &p, f.org_id).await?;
    let (list, total) = store::list(&ctx, &org.path, &f).await?;
    let board = store::board(&ctx, &org.path).await?;
    let pages = crate::web::page_count(total, store::PER_PAGE);
    let qs = serde_urlencoded_qs(&f);
    Ok(render(
        "recruits.html",
        page_ctx(
            &p,
            "recruits",
            context! {
                org => org, rows => rows(list, ctx.clock.today()), board => board, f => f,
                stages => STAGES, statuses => STATUSES,
                page => context! { page => f.page.unwrap_or(1).clamp(1, pages), total => total }, pages => pages, qs => qs,
                can_write => p.can(Perm::RecruitWrite),
            },
        ),
    ))
}

/// The most applicants one list export holds.
const LIST_EXPORT_MAX: i64 = 10_000;

/// The 发展党员 list as a CSV, filtered as the page is (masked numbers only), recorded.
async fn list_export(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(mut f): Query<RecruitFilter>,
) -> Result<Response, PageError> {
    let org = scope(&ctx, &p, f.org_id).await?;
    let today = ctx.clock.today();
    let mut out = Vec::new();
    for page in 1..=(LIST_EXPORT_MAX / store::PER_PAGE) {
        f.page = Some(page);
        let (list, total) = store::list(&ctx, &org.path, &f).await?;
        let done = list.len() < store::PER_PAGE as usize || page * store::PER_PAGE >= total;
        for row in rows(list, today) {
            let r = &row.r;
            out.push(vec![
                r.name.clone(),
                r.org_name.clone(),
                row.stage_label.to_string(),
                if r.step > 0 {
                    format!("{}. {}", r.step, row.step_name)
                } else {
                    String::new()
                },
                r.due_on.map(|d| d.to_string()).unwrap_or_default(),
                if row.overdue {
                    "是".into()
                } else {
                    String::new()
                },
                row.status_label.to_string(),
                r.applied_on.to_string(),
                r.phone.clone().unwrap_or_default(),
            ]);
        }
        if done {
            break;
        }
    }
    f.page = None;
    Ok(crate::web::csv_export(
        &ctx,
        &p,
        crate::web::CsvExport {
            action: "recruit.list_export",
            object_type: "recruit_list",
            title: format!("发展党员名单-{}", org.name),
            header: &[
                "姓名",
                "党支部",
                "阶段",
                "已完成步骤",
                "下一期限",
                "已逾期",
                "状态",
                "申请日期",
                "手机号码（脱敏）",
            ],
            rows: out,
            asked: serde_json::json!({"org_id": org.id, "filter": serde_urlencoded_qs(&f)}),
        },
    )
    .await?)
}

/// 统计与计划 as a CSV (the table of the page), recorded.
async fn stats_export(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<StatsQuery>,
) -> Result<Response, PageError> {
    let org = scope(&ctx, &p, q.org_id).await?;
    let year = q
        .year
        .filter(|y| (2000..=2100).contains(y))
        .unwrap_or_else(|| store::current_year(&ctx));
    let rows = store::stats(&ctx, &org, year).await?;
    let mut header = vec!["党组织"];
    header.extend(STAGES.iter().map(|(_, l)| *l));
    header.extend(["逾期", "本年接收预备党员", "发展计划", "本年转正"]);
    let out = rows
        .into_iter()
        .map(|r| {
            let mut row = vec![r.org_name];
            row.extend(r.stages.iter().map(|n| n.to_string()));
            row.push(r.overdue.to_string());
            row.push(r.admitted.to_string());
            row.push(r.quota.map(|q| q.to_string()).unwrap_or_default());
            row.push(r.full.to_string());
            row
        })
        .collect();
    Ok(crate::web::csv_export(
        &ctx,
        &p,
        crate::web::CsvExport {
            action: "recruit.stats_export",
            object_type: "recruit_stats",
            title: format!("发展党员统计-{}-{year}", org.name),
            header: &header,
            rows: out,
            asked: serde_json::json!({"org_id": org.id, "year": year}),
        },
    )
    .await?)
}

fn serde_urlencoded_qs(f: &RecruitFilter) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    if let Some(v) = f.org_id {
        s.append_pair("org_id", &v.to_string());
    }
    if let Some(v) = f.stage {
        s.append_pair("stage", &v.to_string());
    }
    for (k, v) in [("status", &f.status), ("q", &f.q), ("due", &f.due)] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            s.append_pair(k, v);
        }
    }
    s.finish()
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NewQuery {
    org_id: Option<i64>,
    /// Prefilled from a talent pool's page.
    name: Option<String>,
}

async fn branches_for(
    ctx: &Ctx,
    p: &Principal,
    chosen: i64,
) -> Result<Vec<crate::org::Org>, AppError> {
    crate::org::store::pick_list(
        &ctx.db,
        &p.org_path,
        crate::org::store::Pick::Branches,
        &[chosen],
    )
    .await
}

async fn new_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<NewQuery>,
) -> Result<Response, PageError> {
    authorize(&ctx, &p, Perm::RecruitWrite, Some(&p.org_path)).await?;
    let form = NewRecruit {
        org_id: q.org_id.unwrap_or(p.org_id),
        name: q.name.unwrap_or_default(),
        ethnicity: "汉族".into(),
        applied_on: Some(ctx.clock.today()),
        ..Default::default()
    };
    new_form(&ctx, &p, form, Vec::new(), StatusCode::OK).await
}

async fn new_form(
    ctx: &Ctx,
    p: &Principal,
    form: NewRecruit,
    errors: Vec<FieldError>,
    status: StatusCode,
) -> Result<Response, PageError> {
    let branches = branches_for(ctx, p, form.org_id).await?;
    Ok(render_status(
        status,
        "recruit_new.html",
        page_ctx(
            p,
            "recruits",
            context! { form => form, branches => branches, errors => errors, education => crate::member::EDUCATION,
            can_backfill => p.has_role(crate::auth::Role::OrgStaff) || p.has_role(crate::auth::Role::CommitteeStaff) },
        ),
    ))
}

async fn apply_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let input = NewRecruit {
        org_id: form::num(&f, "org_id"),
        name: form::text(&f, "name"),
        ethnicity: form::text(&f, "ethnicity"),
        id_number: form::text(&f, "id_number"),
        phone: form::text(&f, "phone"),
        education: form::text(&f, "education"),
        work_unit: form::text(&f, "work_unit"),
        applied_on: form::date(&f, "applied_on"),
        note: form::text(&f, "note"),
        secret: form::text(&f, "secret"),
        backfill_ref: form::text(&f, "backfill_ref"),
    };
    match apply_checked(&ctx, &p, &input).await {
        Ok(rc) => Ok(Redirect::to(&format!("/recruits/{}?ok=saved", rc.id)).into_response()),
        Err(e @ (AppError::Validation(_) | AppError::Refused { .. })) => {
            let errors = crate::web::field_errors(e, "name");
            let form = NewRecruit {
                secret: String::new(),
                ..input
            };
            new_form(&ctx, &p, form, errors, StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn apply_checked(ctx: &Ctx, p: &Principal, input: &NewRecruit) -> Result<Recruit, AppError> {
    let org = crate::org::store::get(&ctx.db, input.org_id)
        .await
        .map_err(|_| AppError::field("org_id", "请选择党支部"))?;
    authorize(ctx, p, Perm::RecruitWrite, Some(&org.path)).await?;
    store::apply(ctx, p, input).await
}

#[derive(Serialize)]
struct StepView {
    no: i64,
    stage: i64,
    name: &'static str,
    entries: Vec<Entry>,
    done: bool,
    signers: Vec<&'static str>,
}

async fn detail_view(
    ctx: &Ctx,
    p: &Principal,
    rc: &Recruit,
    path: &str,
    errors: Vec<FieldError>,
    form: Option<HashMap<String, String>>,
) -> Result<minijinja::Value, AppError> {
    let r: RecruitRules = crate::rules::effective(&ctx.db, path).await?.0;
    let entries = store::entries(ctx, rc.id).await?;
    let steps: Vec<StepView> = STEPS
        .iter()
        .map(|d| StepView {
            no: d.no,
            stage: d.stage,
            name: d.name,
            entries: entries.iter().filter(|e| e.step == d.no).cloned().collect(),
            done: entries.iter().any(|e| e.step == d.no && e.complete),
            signers: r.signers_for(d.no).iter().map(|s| s.label()).collect(),
        })
        .collect();
    let pending: Vec<serde_json::Value> = entries
        .iter()
        .filter(|e| !e.complete)
        .map(|e| {
            serde_json::json!({"id": e.id, "step": e.step, "step_name": e.step_name(),
                "missing": e.missing().iter().filter_map(|s| super::Signer::parse(s)).map(|s| s.label()).collect::<Vec<_>>()})
        })
        .collect();
    let next = rc.next_step().filter(|_| pending.is_empty());
    let repeat = (rc.step == 6 || rc.step == 21) && rc.status == "active" && pending.is_empty();
    let people = store::eligible_people(ctx, rc.org_id).await?;
    let groups: Vec<crate::org::store::OrgNode> = crate::org::store::children(&ctx.db, rc.org_id)
        .await?
        .into_iter()
        .filter(|c| c.org.kind == crate::org::OrgKind::Group)
        .collect();
    let evals = store::evaluations(ctx, rc.id).await?;
    let assemblies = if next.is_some_and(|d| d.no == 15 || d.no == 23) {
        store::assemblies(ctx, rc.org_id).await?
    } else {
        Vec::new()
    };
    let publicity = store::publicities(ctx, rc.id).await?;
    let docs = archive::documents(ctx, rc.id).await?;
    let next_publicity = next
        .map(|d| d.no)
        .filter(|n| r.needs_publicity(*n) || (repeat && r.needs_publicity(rc.step + 1)))
        .or_else(|| (repeat && r.needs_publicity(rc.step + 1)).then_some(rc.step + 1));
    Ok(context! {
        rc => rc, stage_label => rc.stage_label(), status_label => rc.status_label(),
        steps => steps, stages => STAGES, pending => pending,
        next => next, repeat => repeat, repeat_name => super::step(rc.step).map(|d| d.name),
        people => people, groups => groups, channels => CHANNELS, full_outcomes => FULL_OUTCOMES, assemblies => assemblies,
        evals => evals, publicity => publicity, docs => docs, doc_kinds => DOC_KINDS,
        next_publicity => next_publicity, rules => r, today => ctx.clock.today(),
        errors => errors, form => form.unwrap_or_default(),
        can_write => p.can(Perm::RecruitWrite),
        can_backfill => store::backfill_officer(p, path),
        can_evaluate => (3..=6).contains(&rc.step) && rc.status == "active",
    })
}

async fn detail_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let (rc, path) = load(&ctx, &p, id, Perm::RecruitRead).await?;
    let v = detail_view(&ctx, &p, &rc, &path, Vec::new(), None).await?;
    Ok(render("recruit.html", page_ctx(&p, "recruits", v)))
}

/// Runs a form action; on a refusal the person's page is shown again with the reason.
async fn act<F, Fut>(
    ctx: &Ctx,
    p: &Principal,
    recruit_id: i64,
    form: Option<HashMap<String, String>>,
    f: F,
) -> Result<Response, PageError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<(), AppError>>,
{
    match f().await {
        Ok(()) => Ok(Redirect::to(&format!("/recruits/{recruit_id}?ok=saved")).into_response()),
        Err(e @ (AppError::Validation(_) | AppError::Refused { .. } | AppError::Conflict(_))) => {
            let errors = crate::web::field_errors(e, "form");
            let (rc, path) = load(ctx, p, recruit_id, Perm::RecruitRead).await?;
            let v = detail_view(ctx, p, &rc, &path, errors, form).await?;
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "recruit.html",
                page_ctx(p, "recruits", v),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

async fn step_checked(
    ctx: &Ctx,
    p: &Principal,
    id: i64,
    input: &StepInput,
    secret: &str,
) -> Result<Entry, AppError> {
    load(ctx, p, id, Perm::RecruitWrite).await?;
    store::record_step(ctx, p, id, input, secret).await
}

async fn step_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let input = step_from_form(&f);
    let secret = form::text(&f, "secret");
    let mut keep = f.clone();
    keep.remove("secret");
    act(&ctx, &p, id, Some(keep), || async {
        step_checked(&ctx, &p, id, &input, &secret)
            .await
            .map(|_| ())
    })
    .await
}

async fn sign_checked(
    ctx: &Ctx,
    p: &Principal,
    entry_id: i64,
    secret: &str,
) -> Result<Entry, AppError> {
    let rid = store::entry_recruit(ctx, entry_id).await?;
    load(ctx, p, rid, Perm::RecruitWrite).await?;
    store::sign(ctx, p, entry_id, secret).await
}

async fn sign_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let rid = store::entry_recruit(&ctx, id).await?;
    let secret = form::text(&f, "secret");
    act(&ctx, &p, rid, None, || async {
        sign_checked(&ctx, &p, id, &secret).await.map(|_| ())
    })
    .await
}

async fn correct_checked(
    ctx: &Ctx,
    p: &Principal,
    entry_id: i64,
    input: &store::Correction,
) -> Result<Entry, AppError> {
    let rid = store::entry_recruit(ctx, entry_id).await?;
    load(ctx, p, rid, Perm::RecruitWrite).await?;
    store::correct(ctx, p, entry_id, input).await
}

async fn correct_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let rid = store::entry_recruit(&ctx, id).await?;
    let input = store::Correction {
        done_on: form::date(&f, "done_on"),
        note: form::text(&f, "note"),
        reason: form::text(&f, "reason"),
        secret: form::text(&f, "secret"),
    };
    act(&ctx, &p, rid, None, || async {
        correct_checked(&ctx, &p, id, &input).await.map(|_| ())
    })
    .await
}

async fn evaluate_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let input = EvaluationInput {
        evaluated_on: form::date(&f, "evaluated_on"),
        org_score: f
            .get("org_score")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(-1),
        mass_score: f
            .get("mass_score")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(-1),
    };
    act(&ctx, &p, id, Some(f.clone()), || async {
        load(&ctx, &p, id, Perm::RecruitWrite).await?;
        store::evaluate(&ctx, &p, id, &input).await.map(|_| ())
    })
    .await
}

async fn revisit_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let rid = store::evaluation_recruit(&ctx, id).await?;
    let input = RevisitInput {
        revisit_on: form::date(&f, "revisit_on"),
        note: form::text(&f, "note"),
        confirm: f.get("confirm").map(|v| v == "true").unwrap_or(false),
    };
    act(&ctx, &p, rid, None, || async {
        load(&ctx, &p, rid, Perm::RecruitWrite).await?;
        store::revisit(&ctx, &p, id, &input).await.map(|_| ())
    })
    .await
}

async fn finish_backfill_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    act(&ctx, &p, id, None, || async {
        load(&ctx, &p, id, Perm::RecruitWrite).await?;
        store::finish_backfill(&ctx, &p, id).await.map(|_| ())
    })
    .await
}

async fn publicity_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let input = PublicityInput {
        before_step: form::num(&f, "before_step"),
        starts_on: form::date(&f, "starts_on"),
    };
    act(&ctx, &p, id, None, || async {
        load(&ctx, &p, id, Perm::RecruitWrite).await?;
        store::start_publicity(&ctx, &p, id, &input)
            .await
            .map(|_| ())
    })
    .await
}

async fn objection_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let rid = store::publicity_recruit(&ctx, id).await?;
    let input = ObjectionInput {
        received_on: form::date(&f, "received_on"),
        content: form::text(&f, "content"),
    };
    act(&ctx, &p, rid, None, || async {
        load(&ctx, &p, rid, Perm::RecruitWrite).await?;
        store::add_objection(&ctx, &p, id, &input).await.map(|_| ())
    })
    .await
}

async fn answer_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let rid = store::objection_recruit(&ctx, id).await?;
    let answer = form::text(&f, "answer");
    act(&ctx, &p, rid, None, || async {
        load(&ctx, &p, rid, Perm::RecruitWrite).await?;
        store::answer_objection(&ctx, &p, id, &answer).await
    })
    .await
}

/// Reads a multipart upload: (fields, file name, file bytes).
async fn upload_checked(
    ctx: &Ctx,
    p: &Principal,
    id: i64,
    mp: Multipart,
) -> Result<archive::Document, AppError> {
    load(ctx, p, id, Perm::RecruitWrite).await?;
    let (f, name, bytes) = crate::web::read_multipart(mp).await?;
    archive::upload(
        ctx,
        p,
        id,
        form::num(&f, "step"),
        &form::text(&f, "kind"),
        &name,
        &bytes,
    )
    .await
}

async fn upload_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    mp: Multipart,
) -> Result<Response, PageError> {
    act(&ctx, &p, id, None, || async {
        upload_checked(&ctx, &p, id, mp).await.map(|_| ())
    })
    .await
}

async fn document_download(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let d = archive::document(&ctx, id).await?;
    load(&ctx, &p, d.recruit_id, Perm::RecruitRead).await?;
    let bytes = archive::content(&ctx, &d).await?;
    let ext = archive::sniff(&bytes).map(|x| x.1).unwrap_or("bin");
    Ok((
        [
            (header::CONTENT_TYPE, d.mime.clone()),
            (
                header::CONTENT_DISPOSITION,
                crate::web::attachment_name(&crate::web::download_name(
                    &format!("发展党员材料-{}", d.id),
                    &d.filename,
                    ext,
                )),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
        ],
        bytes,
    )
        .into_response())
}

fn zip_response(id: i64, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/zip".to_string()),
            (
                header::CONTENT_DISPOSITION,
                crate::web::attachment_name(&format!("发展党员档案-{id}.zip")),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
        ],
        bytes,
    )
        .into_response()
}

async fn archive_download(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    load(&ctx, &p, id, Perm::RecruitRead).await?;
    Ok(zip_response(id, archive::export(&ctx, &p, id).await?))
}

async fn verify_page(State(ctx): State<AppState>, Auth(p): Auth) -> Result<Response, PageError> {
    authorize(&ctx, &p, Perm::RecruitRead, Some(&p.org_path)).await?;
    Ok(render(
        "recruit_verify.html",
        page_ctx(
            &p,
            "recruits",
            context! { report => None::<archive::VerifyReport>, error => "" },
        ),
    ))
}

async fn verify_submit(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    mp: Multipart,
) -> Result<Response, PageError> {
    authorize(&ctx, &p, Perm::RecruitRead, Some(&p.org_path)).await?;
    let result = async {
        let (_, _, bytes) = crate::web::read_multipart(mp).await?;
        archive::verify(&ctx, &p, &bytes).await
    }
    .await;
    match result {
        Ok(report) => Ok(render(
            "recruit_verify.html",
            page_ctx(&p, "recruits", context! { report => report, error => "" }),
        )),
        Err(e @ AppError::Validation(_)) => Ok(render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            "recruit_verify.html",
            page_ctx(
                &p,
                "recruits",
                context! { report => None::<archive::VerifyReport>, error => e.fields().first().map(|f| f.message.clone()).unwrap_or_default() },
            ),
        )),
        Err(e) => Err(e.into()),
    }
}

async fn queue_page(State(ctx): State<AppState>, Auth(p): Auth) -> Result<Response, PageError> {
    authorize(&ctx, &p, Perm::RecruitRead, Some(&p.org_path)).await?;
    let items = store::queue(&ctx, &p).await?;
    Ok(render(
        "recruit_queue.html",
        page_ctx(
            &p,
            "recruits",
            context! { items => items, today => ctx.clock.today() },
        ),
    ))
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct StatsQuery {
    pub org_id: Option<i64>,
    pub year: Option<i32>,
}

async fn stats_view(
    ctx: &Ctx,
    p: &Principal,
    q: &StatsQuery,
) -> Result<minijinja::Value, AppError> {
    let org = scope(ctx, p, q.org_id).await?;
    let year = q
        .year
        .filter(|y| (2000..=2100).contains(y))
        .unwrap_or_else(|| store::current_year(ctx));
    let rows = store::stats(ctx, &org, year).await?;
    let authority = store::has_approval_authority(ctx, org.id).await?;
    let approving = store::approving_org(ctx, &format!("{}0/", org.path)).await?;
    Ok(context! {
        org => org, year => year, rows => rows, stages => STAGES, authority => authority, approving => approving,
        can_plan => p.can(Perm::OrgWrite), can_authority => p.can(Perm::RuleWrite),
    })
}

async fn stats_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<StatsQuery>,
) -> Result<Response, PageError> {
    let v = stats_view(&ctx, &p, &q).await?;
    Ok(render("recruit_stats.html", page_ctx(&p, "recruits", v)))
}

async fn plan_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let org_id = form::num(&f, "org_id");
    let year = form::num(&f, "year") as i32;
    let org = crate::org::web::load(&ctx, &p, org_id, Perm::OrgWrite).await?;
    authorize(&ctx, &p, Perm::RecruitWrite, Some(&org.path)).await?;
    store::set_plan(&ctx, &p, &org, year, form::num(&f, "quota")).await?;
    let back = form::num(&f, "back_org_id");
    Ok(Redirect::to(&format!(
        "/recruits/stats?org_id={back}&year={year}&ok=saved"
    ))
    .into_response())
}

async fn authority_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let org = crate::org::web::load(&ctx, &p, form::num(&f, "org_id"), Perm::RuleWrite).await?;
    store::set_approval_authority(&ctx, &p, &org, f.get("on").is_some_and(|v| v == "true")).await?;
    Ok(Redirect::to(&format!("/recruits/stats?org_id={}&ok=saved", org.id)).into_response())
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SignedQuery {
    account_id: Option<i64>,
}

async fn signed_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<SignedQuery>,
) -> Result<Response, PageError> {
    authorize(&ctx, &p, Perm::RecruitRead, Some(&p.org_path)).await?;
    let account_id = q.account_id.unwrap_or(p.account_id);
    let who = if account_id == p.account_id {
        p.display_name.clone()
    } else {
        let acc = crate::auth::store::get(&ctx, account_id).await?;
        authorize(&ctx, &p, Perm::RecruitRead, Some(&acc.org_path)).await?;
        acc.display_name
    };
    let items = store::signed_by(&ctx, account_id, &p.org_path).await?;
    Ok(render(
        "recruit_signed.html",
        page_ctx(&p, "recruits", context! { items => items, who => who }),
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NoticeQuery {
    org_id: Option<i64>,
}

async fn notice_scope(ctx: &Ctx, org_id: Option<i64>) -> Result<String, AppError> {
    match org_id {
        Some(id) => Ok(crate::org::store::get(&ctx.db, id).await?.path),
        None => Ok("/".into()),
    }
}

/// The public publicity page (公示): open to anyone, names masked, no personal numbers.
async fn notices_page(
    State(ctx): State<AppState>,
    BrowserLang(lang): BrowserLang,
    Query(q): Query<NoticeQuery>,
) -> Result<Response, PageError> {
    let list = store::notices(&ctx, &notice_scope(&ctx, q.org_id).await?).await?;
    Ok(render(
        "notices.html",
        context! { lang => lang.code(), notices => list, today => ctx.clock.today() },
    ))
}

// ---- JSON API ----

#[derive(Serialize, utoipa::ToSchema)]
pub struct RecruitPage {
    pub items: Vec<Recruit>,
    pub total: i64,
}

/// Recruits in the caller's subtree, most urgent first.
#[utoipa::path(get, path = "/api/v1/recruits", tag = "recruits", params(RecruitFilter),
    responses((status = 200, body = RecruitPage), (status = 403, body = crate::web::ErrorBody)))]
pub async fn api_list(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(f): Query<RecruitFilter>,
) -> Result<Json<RecruitPage>, ApiError> {
    let org = scope(&ctx, &p, f.org_id).await?;
    let (items, total) = store::list(&ctx, &org.path, &f).await?;
    Ok(Json(RecruitPage { items, total }))
}

/// Records an application (step 1), signed by the recorder.
#[utoipa::path(post, path = "/api/v1/recruits", tag = "recruits", request_body = NewRecruit,
    responses((status = 200, body = Recruit), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_apply(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Json(input): Json<NewRecruit>,
) -> Result<Json<Recruit>, ApiError> {
    Ok(Json(apply_checked(&ctx, &p, &input).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RecruitFile {
    pub recruit: Recruit,
    pub entries: Vec<Entry>,
    pub evaluations: Vec<store::Evaluation>,
    pub publicity: Vec<store::Publicity>,
    pub documents: Vec<archive::Document>,
}

/// One person's file: steps with signatures, evaluations, publicity, documents.
#[utoipa::path(get, path = "/api/v1/recruits/{id}", tag = "recruits", params(("id" = i64, Path)),
    responses((status = 200, body = RecruitFile), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_get(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<RecruitFile>, ApiError> {
    let (rc, _) = load(&ctx, &p, id, Perm::RecruitRead).await?;
    Ok(Json(RecruitFile {
        entries: store::entries(&ctx, id).await?,
        evaluations: store::evaluations(&ctx, id).await?,
        publicity: store::publicities(&ctx, id).await?,
        documents: archive::documents(&ctx, id).await?,
        recruit: rc,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct StepBody {
    #[serde(flatten)]
    pub input: StepInput,
    /// The signer's password or current TOTP code.
    pub secret: String,
}

/// Records a step, signed by the caller (who must hold one of the step's signer roles).
#[utoipa::path(post, path = "/api/v1/recruits/{id}/steps", tag = "recruits", params(("id" = i64, Path)), request_body = StepBody,
    responses((status = 200, body = Entry), (status = 422, body = crate::web::ErrorBody), (status = 403, body = crate::web::ErrorBody)))]
pub async fn api_step(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<StepBody>,
) -> Result<Json<Entry>, ApiError> {
    Ok(Json(step_checked(&ctx, &p, id, &b.input, &b.secret).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SecretBody {
    /// The signer's password or current TOTP code.
    pub secret: String,
}

/// Adds the caller's signature to a step entry that still needs it.
#[utoipa::path(post, path = "/api/v1/recruits/entries/{id}/sign", tag = "recruits", params(("id" = i64, Path)), request_body = SecretBody,
    responses((status = 200, body = Entry), (status = 403, body = crate::web::ErrorBody), (status = 409, body = crate::web::ErrorBody)))]
pub async fn api_sign(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<SecretBody>,
) -> Result<Json<Entry>, ApiError> {
    Ok(Json(sign_checked(&ctx, &p, id, &b.secret).await?))
}

/// Corrects a complete record (its date and note, with a reason) by a new record that points
/// to it; it takes effect once the roles that signed the original have signed it.
#[utoipa::path(post, path = "/api/v1/recruits/entries/{id}/correct", tag = "recruits", params(("id" = i64, Path)), request_body = store::Correction,
    responses((status = 200, body = Entry), (status = 422, body = crate::web::ErrorBody), (status = 403, body = crate::web::ErrorBody), (status = 409, body = crate::web::ErrorBody)))]
pub async fn api_correct(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<store::Correction>,
) -> Result<Json<Entry>, ApiError> {
    Ok(Json(correct_checked(&ctx, &p, id, &b).await?))
}

/// Records a 100-point evaluation of an activist.
#[utoipa::path(post, path = "/api/v1/recruits/{id}/evaluations", tag = "recruits", params(("id" = i64, Path)), request_body = EvaluationInput,
    responses((status = 200, body = store::Evaluation), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_evaluate(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<EvaluationInput>,
) -> Result<Json<store::Evaluation>, ApiError> {
    load(&ctx, &p, id, Perm::RecruitWrite).await?;
    Ok(Json(store::evaluate(&ctx, &p, id, &b).await?))
}

/// The committee's re-visit of an evaluation below the elimination line.
#[utoipa::path(post, path = "/api/v1/recruits/evaluations/{id}/revisit", tag = "recruits", params(("id" = i64, Path)), request_body = RevisitInput,
    responses((status = 200, body = Recruit), (status = 403, body = crate::web::ErrorBody)))]
pub async fn api_revisit(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<RevisitInput>,
) -> Result<Json<Recruit>, ApiError> {
    let rid = store::evaluation_recruit(&ctx, id).await?;
    load(&ctx, &p, rid, Perm::RecruitWrite).await?;
    Ok(Json(store::revisit(&ctx, &p, id, &b).await?))
}

/// Finishes a 补录 (transcription of a paper file): the file becomes live — due dates return
/// and each step is signed by its own signers again; a file past approval puts the person on
/// the roll as 预备党员 (or links the member already on the branch's roll).
#[utoipa::path(post, path = "/api/v1/recruits/{id}/backfill/finish", tag = "recruits", params(("id" = i64, Path)),
    responses((status = 200, body = Recruit), (status = 403, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_finish_backfill(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Recruit>, ApiError> {
    load(&ctx, &p, id, Perm::RecruitWrite).await?;
    Ok(Json(store::finish_backfill(&ctx, &p, id).await?))
}

/// Opens a publicity period before the next step.
#[utoipa::path(post, path = "/api/v1/recruits/{id}/publicity", tag = "recruits", params(("id" = i64, Path)), request_body = PublicityInput,
    responses((status = 200, body = store::Publicity), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_publicity(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<PublicityInput>,
) -> Result<Json<store::Publicity>, ApiError> {
    load(&ctx, &p, id, Perm::RecruitWrite).await?;
    Ok(Json(store::start_publicity(&ctx, &p, id, &b).await?))
}

/// Records an objection received during a publicity.
#[utoipa::path(post, path = "/api/v1/recruits/publicity/{id}/objections", tag = "recruits", params(("id" = i64, Path)), request_body = ObjectionInput,
    responses((status = 200, body = store::Objection)))]
pub async fn api_objection(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<ObjectionInput>,
) -> Result<Json<store::Objection>, ApiError> {
    let rid = store::publicity_recruit(&ctx, id).await?;
    load(&ctx, &p, rid, Perm::RecruitWrite).await?;
    Ok(Json(store::add_objection(&ctx, &p, id, &b).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct AnswerBody {
    pub answer: String,
}

/// Answers an objection.
#[utoipa::path(post, path = "/api/v1/recruits/objections/{id}/answer", tag = "recruits", params(("id" = i64, Path)), request_body = AnswerBody,
    responses((status = 204, description = "answered"), (status = 409, body = crate::web::ErrorBody)))]
pub async fn api_answer(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<AnswerBody>,
) -> Result<StatusCode, ApiError> {
    let rid = store::objection_recruit(&ctx, id).await?;
    load(&ctx, &p, rid, Perm::RecruitWrite).await?;
    store::answer_objection(&ctx, &p, id, &b.answer).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Attaches a document (multipart: `step`, `kind`, `file`) to a step.
#[utoipa::path(post, path = "/api/v1/recruits/{id}/documents", tag = "recruits", params(("id" = i64, Path)),
    request_body(content_type = "multipart/form-data", description = "fields step, kind (材料类别) and file (PDF/JPG/PNG/MP4)"),
    responses((status = 200, body = archive::Document), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_upload(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    mp: Multipart,
) -> Result<Json<archive::Document>, ApiError> {
    Ok(Json(upload_checked(&ctx, &p, id, mp).await?))
}

/// The 一人一档 archive (zip with manifest.json, index.html and the documents).
#[utoipa::path(get, path = "/api/v1/recruits/{id}/archive", tag = "recruits", params(("id" = i64, Path)),
    responses((status = 200, description = "application/zip")))]
pub async fn api_archive(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    load(&ctx, &p, id, Perm::RecruitRead).await?;
    Ok(zip_response(id, archive::export(&ctx, &p, id).await?))
}

/// Verifies an exported archive (multipart field `file`) against the audit chain.
#[utoipa::path(post, path = "/api/v1/recruits/archive/verify", tag = "recruits",
    request_body(content_type = "multipart/form-data", description = "field file: the archive zip"),
    responses((status = 200, body = archive::VerifyReport), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_verify(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    mp: Multipart,
) -> Result<Json<archive::VerifyReport>, ApiError> {
    authorize(&ctx, &p, Perm::RecruitRead, Some(&p.org_path)).await?;
    let (_, _, bytes) = crate::web::read_multipart(mp).await?;
    Ok(Json(archive::verify(&ctx, &p, &bytes).await?))
}

/// Counts per stage, overdue and due within 30 days, for the caller's subtree.
#[utoipa::path(get, path = "/api/v1/recruits/board", tag = "recruits", params(("org_id" = Option<i64>, Query)), responses((status = 200, body = Board)))]
pub async fn api_board(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<NewQuery>,
) -> Result<Json<Board>, ApiError> {
    let org = scope(&ctx, &p, q.org_id).await?;
    Ok(Json(store::board(&ctx, &org.path).await?))
}

/// What waits for the caller: signatures to give and steps to record.
#[utoipa::path(get, path = "/api/v1/recruits/queue", tag = "recruits", responses((status = 200, body = [QueueItem])))]
pub async fn api_queue(
    State(ctx): State<AppState>,
    Auth(p): Auth,
) -> Result<Json<Vec<QueueItem>>, ApiError> {
    authorize(&ctx, &p, Perm::RecruitRead, Some(&p.org_path)).await?;
    Ok(Json(store::queue(&ctx, &p).await?))
}

/// Statistics per child organisation: stages, overdue, admitted and full this year, plan.
#[utoipa::path(get, path = "/api/v1/recruits/stats", tag = "recruits", params(StatsQuery), responses((status = 200, body = [StatRow])))]
pub async fn api_stats(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<StatsQuery>,
) -> Result<Json<Vec<StatRow>>, ApiError> {
    let org = scope(&ctx, &p, q.org_id).await?;
    let year = q.year.unwrap_or_else(|| store::current_year(&ctx));
    Ok(Json(store::stats(&ctx, &org, year).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct NoticeItem {
    pub publicity_id: i64,
    /// Masked (张*丰).
    pub name: String,
    pub gender: String,
    pub org_name: String,
    pub step_name: String,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
}

/// Publicity notices running today (public; names masked).
#[utoipa::path(get, path = "/api/v1/notices", tag = "recruits", params(("org_id" = Option<i64>, Query)), responses((status = 200, body = [NoticeItem])))]
pub async fn api_notices(
    State(ctx): State<AppState>,
    Query(q): Query<NoticeQuery>,
) -> Result<Json<Vec<NoticeItem>>, ApiError> {
    let list = store::notices(&ctx, &notice_scope(&ctx, q.org_id).await?).await?;
    Ok(Json(
        list.into_iter()
            .map(|n| NoticeItem {
                publicity_id: n.publicity_id,
                name: n.name,
                gender: n.gender,
                org_name: n.org_name,
                step_name: n.step_name.to_string(),
                starts_on: n.starts_on,
                ends_on: n.ends_on,
            })
            .collect(),
    ))
}
