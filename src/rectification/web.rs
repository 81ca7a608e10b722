//! 整改台账 pages and JSON API: the ledger with its filters and print export, one item with
//! its updates and the forms of each side (progress and close-out request for the
//! responsible organisation; verification and extension for the supervising one), the monthly
//! bulletin, and the interview ledger.

use super::store::{
    self, Board, Bulletin, HeldInput, Interview, InterviewFilter, Item, ItemFilter, NewInterview,
    NewItem, Update, UpdateInput, Upload,
};
use super::{label, INTERVIEW_STATUSES, SOURCES, STATUSES};
use crate::auth::{Perm, Principal};
use crate::error::{AppError, FieldError};
use crate::web::{
    authorize, form, page_ctx, render, render_status, ApiError, AppState, Auth, PageError,
};
use crate::Ctx;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{Datelike, NaiveDate};
use minijinja::context;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub fn page_routes() -> Router<AppState> {
    Router::new()
        .route("/rectify", get(list_page).post(create_page))
        .route("/rectify/new", get(new_page))
        .route("/rectify/export.xlsx", get(export_page))
        .route("/rectify/bulletin", get(bulletin_page))
        .route("/rectify/{id}", get(detail_page))
        .route("/rectify/{id}/updates", post(update_page))
        .route("/rectify/documents/{id}", get(document_download))
        .route(
            "/interviews",
            get(interviews_page).post(interview_create_page),
        )
        .route("/interviews/{id}", get(interview_page))
        .route("/interviews/{id}/held", post(interview_held_page))
}

pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/rectify/items", get(api_list).post(api_create))
        .route("/api/v1/rectify/board", get(api_board))
        .route("/api/v1/rectify/bulletin", get(api_bulletin))
        .route("/api/v1/rectify/export", get(api_export))
        .route("/api/v1/rectify/items/{id}", get(api_get))
        .route("/api/v1/rectify/items/{id}/updates", post(api_update))
        .route(
            "/api/v1/rectify/items/{id}/evidence",
            post(api_update_with_file),
        )
        .route(
            "/api/v1/interviews",
            get(api_interviews).post(api_interview_create),
        )
        .route("/api/v1/interviews/{id}", get(api_interview))
        .route("/api/v1/interviews/{id}/held", post(api_interview_held))
}

async fn scope(ctx: &Ctx, p: &Principal, org_id: Option<i64>) -> Result<crate::org::Org, AppError> {
    crate::org::web::load(ctx, p, org_id.unwrap_or(p.org_id), Perm::RectifyRead).await
}

/// Loads an item the principal may see: in the subtree of its organisation or of its
/// supervisor.
async fn load(ctx: &Ctx, p: &Principal, id: i64) -> Result<store::Located, AppError> {
    let loc = store::get(ctx, id).await?;
    let path = if p.in_scope(&loc.path) {
        loc.path.clone()
    } else {
        loc.supervisor_path.clone()
    };
    authorize(ctx, p, Perm::RectifyRead, Some(&path)).await?;
    Ok(loc)
}

#[derive(Serialize)]
struct Row {
    i: Item,
    source_label: &'static str,
    status_label: &'static str,
    due: &'static str,
}

fn rows(list: Vec<Item>, today: NaiveDate, r: &super::RectifyRules) -> Vec<Row> {
    list.into_iter()
        .map(|i| Row {
            source_label: i.source_label(),
            status_label: i.status_label(),
            due: if i.status == "closed" {
                if i.overdue(today) {
                    "late"
                } else {
                    "ok"
                }
            } else {
                super::due_state(i.deadline, today, r)
            },
            i,
        })
        .collect()
}

fn qs(f: &ItemFilter) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    if let Some(v) = f.org_id {
        s.append_pair("org_id", &v.to_string());
    }
    for (k, v) in [
        ("status", &f.status),
        ("source", &f.source),
        ("due", &f.due),
        ("q", &f.q),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            s.append_pair(k, v);
        }
    }
    if let Some(v) = f.min_age {
        s.append_pair("min_age", &v.to_string());
    }
    if f.to_verify == Some(true) {
        s.append_pair("to_verify", "true");
    }
    s.finish()
}

async fn list_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(f): Query<ItemFilter>,
) -> Result<Response, PageError> {
    let org = scope(&ctx, &p, f.org_id).await?;
    let (list, total) = store::list(&ctx, &p, &org.path, &f).await?;
    let board = store::board(&ctx, &p, &org.path).await?;
    let r = store::rules_for(&ctx, &org.path).await?;
    let pages = crate::web::page_count(total, store::PER_PAGE);
    let today = ctx.clock.today();
    Ok(render(
        "rectify.html",
        page_ctx(
            &p,
            "rectify",
            context! {
                org => org, rows => rows(list, today, &r), board => board, f => f, qs => qs(&f),
                sources => SOURCES, statuses => STATUSES, total => total,
                page => context! { page => f.page.unwrap_or(1).clamp(1, pages), total => total }, pages => pages,
                can_write => p.can(Perm::RectifyWrite), can_verify => p.can(Perm::RectifyVerify),
                month => format!("{:04}-{:02}", today.year(), today.month()),
            },
        ),
    ))
}

async fn new_form(
    ctx: &Ctx,
    p: &Principal,
    form: NewItem,
    errors: Vec<FieldError>,
    status: StatusCode,
) -> Result<Response, PageError> {
    authorize(ctx, p, Perm::RectifyWrite, Some(&p.org_path)).await?;
    use crate::org::store::{pick_list, Pick};
    let orgs = pick_list(&ctx.db, &p.org_path, Pick::All, &[form.org_id]).await?;
    let supervisors = pick_list(
        &ctx.db,
        &p.org_path,
        Pick::All,
        &[form.supervisor_id.unwrap_or(0)],
    )
    .await?;
    let today = ctx.clock.today();
    Ok(render_status(
        status,
        "rectify_new.html",
        page_ctx(
            p,
            "rectify",
            context! { form => form, orgs => orgs, supervisors => supervisors, errors => errors, sources => SOURCES, today => today },
        ),
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NewQuery {
    org_id: Option<i64>,
    source: Option<String>,
    source_ref: Option<String>,
}

async fn new_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<NewQuery>,
) -> Result<Response, PageError> {
    let today = ctx.clock.today();
    let form = NewItem {
        org_id: q.org_id.unwrap_or(p.org_id),
        source: q.source.unwrap_or_else(|| "inspection".into()),
        source_ref: q.source_ref,
        opened_on: Some(today),
        deadline: Some(today + chrono::Duration::days(90)),
        ..Default::default()
    };
    new_form(&ctx, &p, form, Vec::new(), StatusCode::OK).await
}

fn item_from_form(f: &HashMap<String, String>) -> NewItem {
    NewItem {
        org_id: form::opt_num(f, "org_id").unwrap_or(0),
        supervisor_id: form::opt_num(f, "supervisor_id"),
        source: form::text(f, "source"),
        source_ref: f.get("source_ref").cloned(),
        source_note: form::text(f, "source_note"),
        owner: form::text(f, "owner"),
        problem: form::text(f, "problem"),
        measures: form::text(f, "measures"),
        plan: form::text(f, "plan"),
        opened_on: form::date(f, "opened_on"),
        deadline: form::date(f, "deadline"),
    }
}

async fn create_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let input = item_from_form(&f);
    match store::create(&ctx, &p, &input).await {
        Ok(item) => Ok(Redirect::to(&format!("/rectify/{}?ok=created", item.id)).into_response()),
        Err(e @ (AppError::Validation(_) | AppError::Refused { .. })) => {
            new_form(
                &ctx,
                &p,
                input,
                crate::web::field_errors(e, "problem"),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

async fn detail_view(
    ctx: &Ctx,
    p: &Principal,
    loc: store::Located,
    errors: Vec<FieldError>,
) -> Result<minijinja::Value, AppError> {
    let updates = store::updates(ctx, loc.item.id).await?;
    let r = store::rules_for(ctx, &loc.path).await?;
    let today = ctx.clock.today();
    let owner_side = p.can(Perm::RectifyWrite) && p.in_scope(&loc.path);
    let verifier = p.can(Perm::RectifyVerify) && p.in_scope(&loc.supervisor_path);
    let i = &loc.item;
    let source_interview = i
        .source_ref
        .as_deref()
        .and_then(|s| s.strip_prefix("interview:"))
        .and_then(|n| n.parse::<i64>().ok());
    Ok(context! {
        source_label => i.source_label(), status_label => i.status_label(),
        due => if i.status == "closed" { if i.overdue(today) { "late" } else { "ok" } } else { super::due_state(i.deadline, today, &r) },
        item => loc.item, updates => updates, errors => errors, today => today, rules => r,
        owner_side => owner_side, verifier => verifier, source_interview => source_interview,
        self_requested => i.requested_by == Some(p.account_id),
    })
}

async fn detail_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let loc = load(&ctx, &p, id).await?;
    let v = detail_view(&ctx, &p, loc, Vec::new()).await?;
    Ok(render("rectify_item.html", page_ctx(&p, "rectify", v)))
}

fn update_from_fields(f: &HashMap<String, String>) -> UpdateInput {
    UpdateInput {
        kind: form::text(f, "kind"),
        note: form::text(f, "note"),
        done_on: form::date(f, "done_on"),
        deadline: form::date(f, "deadline"),
        version: form::opt_num(f, "version"),
    }
}

async fn update_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    mp: Multipart,
) -> Result<Response, PageError> {
    load(&ctx, &p, id).await?;
    let result = async {
        let (f, name, bytes) = crate::web::read_multipart(mp).await?;
        let file = (!bytes.is_empty()).then_some(Upload {
            filename: name,
            bytes,
        });
        store::update(&ctx, &p, id, &update_from_fields(&f), file).await
    }
    .await;
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/rectify/{id}?ok=saved")).into_response()),
        Err(e @ (AppError::Validation(_) | AppError::Refused { .. } | AppError::Conflict(_))) => {
            let status = if matches!(e, AppError::Conflict(_)) {
                StatusCode::CONFLICT
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            let loc = load(&ctx, &p, id).await?;
            let v = detail_view(&ctx, &p, loc, crate::web::field_errors(e, "form")).await?;
            Ok(render_status(
                status,
                "rectify_item.html",
                page_ctx(&p, "rectify", v),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

async fn document_download(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let d = store::document(&ctx, id).await?;
    load(&ctx, &p, d.item_id).await?;
    let what = format!("整改事项{}的佐证材料《{}》", d.item_id, d.filename);
    let bytes = crate::blob::content_named(&ctx, &d.digest, &what).await?;
    let ext = crate::blob::sniff(&bytes).map(|x| x.1).unwrap_or("bin");
    Ok((
        [
            (header::CONTENT_TYPE, d.mime.clone()),
            (
                header::CONTENT_DISPOSITION,
                crate::web::attachment_name(&crate::web::download_name(
                    &format!("整改佐证-{}", d.id),
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

async fn export_bytes(ctx: &Ctx, p: &Principal, f: &ItemFilter) -> Result<Vec<u8>, AppError> {
    let org = scope(ctx, p, f.org_id).await?;
    let items = store::all(ctx, p, &org.path, f).await?;
    let today = ctx.clock.today();
    store::export_xlsx(&items, &format!("{}整改台账（{}）", org.name, today), today)
}

fn xlsx_response(ctx: &Ctx, bytes: Vec<u8>) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                crate::web::attachment_name(&format!(
                    "整改台账-{}.xlsx",
                    crate::clock::fmt_local(ctx.clock.now(), "%Y%m%d")
                )),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
        ],
        bytes,
    )
        .into_response()
}

async fn export_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(f): Query<ItemFilter>,
) -> Result<Response, PageError> {
    Ok(xlsx_response(&ctx, export_bytes(&ctx, &p, &f).await?))
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct BulletinQuery {
    pub org_id: Option<i64>,
    /// YYYY-MM; this month by default.
    pub month: Option<String>,
}

async fn bulletin_of(ctx: &Ctx, p: &Principal, q: &BulletinQuery) -> Result<Bulletin, AppError> {
    let org = scope(ctx, p, q.org_id).await?;
    let today = ctx.clock.today();
    let month = q
        .month
        .clone()
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| format!("{:04}-{:02}", today.year(), today.month()));
    store::bulletin(ctx, &org, &month).await
}

async fn bulletin_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<BulletinQuery>,
) -> Result<Response, PageError> {
    let b = bulletin_of(&ctx, &p, &q).await?;
    let r = store::rules_for(&ctx, &p.org_path).await?;
    Ok(render(
        "rectify_bulletin.html",
        page_ctx(&p, "rectify", context! { b => b, rules => r }),
    ))
}

// ---- interviews ----

#[derive(Serialize)]
struct InterviewRow {
    v: Interview,
    status_label: &'static str,
    source_label: &'static str,
}

fn interview_rows(list: Vec<Interview>) -> Vec<InterviewRow> {
    list.into_iter()
        .map(|v| InterviewRow {
            status_label: label(&INTERVIEW_STATUSES, &v.status),
            source_label: label(&SOURCES, &v.source),
            v,
        })
        .collect()
}

async fn interviews_view(
    ctx: &Ctx,
    p: &Principal,
    f: &InterviewFilter,
    form: NewInterview,
    errors: Vec<FieldError>,
) -> Result<minijinja::Value, AppError> {
    let org = scope(ctx, p, f.org_id).await?;
    let (list, total) = store::interviews(ctx, &org.path, f).await?;
    let pages = crate::web::page_count(total, store::PER_PAGE);
    let orgs = crate::org::store::pick_list(
        &ctx.db,
        &p.org_path,
        crate::org::store::Pick::All,
        &[form.org_id],
    )
    .await?;
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    s.append_pair("org_id", &org.id.to_string());
    if let Some(st) = &f.status {
        s.append_pair("status", st);
    }
    Ok(context! {
        org => org, rows => interview_rows(list), f => f, total => total, pages => pages, qs => s.finish(),
        page => context! { page => f.page.unwrap_or(1).clamp(1, pages), total => total },
        statuses => INTERVIEW_STATUSES, sources => SOURCES, orgs => orgs, form => form, errors => errors,
        can_write => p.can(Perm::RectifyWrite),
    })
}

async fn interviews_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(f): Query<InterviewFilter>,
) -> Result<Response, PageError> {
    let form = NewInterview {
        org_id: f.org_id.unwrap_or(p.org_id),
        interviewer: p.display_name.clone(),
        source: "review".into(),
        planned_on: Some(ctx.clock.today()),
        ..Default::default()
    };
    let v = interviews_view(&ctx, &p, &f, form, Vec::new()).await?;
    Ok(render("interviews.html", page_ctx(&p, "rectify", v)))
}

async fn interview_create_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let input = NewInterview {
        org_id: form::opt_num(&f, "org_id").unwrap_or(0),
        interviewee: form::text(&f, "interviewee"),
        interviewer: form::text(&f, "interviewer"),
        reason: form::text(&f, "reason"),
        source: form::text(&f, "source"),
        source_ref: f.get("source_ref").cloned(),
        planned_on: form::date(&f, "planned_on"),
    };
    match store::create_interview(&ctx, &p, &input).await {
        Ok(v) => Ok(Redirect::to(&format!("/interviews/{}?ok=created", v.id)).into_response()),
        Err(e @ (AppError::Validation(_) | AppError::Refused { .. })) => {
            let v = interviews_view(
                &ctx,
                &p,
                &InterviewFilter::default(),
                input,
                crate::web::field_errors(e, "interviewee"),
            )
            .await?;
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "interviews.html",
                page_ctx(&p, "rectify", v),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

async fn load_interview(ctx: &Ctx, p: &Principal, id: i64) -> Result<Interview, AppError> {
    let (v, path) = store::interview(ctx, id).await?;
    authorize(ctx, p, Perm::RectifyRead, Some(&path)).await?;
    Ok(v)
}

async fn interview_view(
    ctx: &Ctx,
    p: &Principal,
    v: Interview,
    errors: Vec<FieldError>,
) -> Result<minijinja::Value, AppError> {
    let items = store::items_from(ctx, &format!("interview:{}", v.id)).await?;
    Ok(context! {
        status_label => label(&INTERVIEW_STATUSES, &v.status), source_label => label(&SOURCES, &v.source),
        v => v, items => items, errors => errors, today => ctx.clock.today(),
        can_write => p.can(Perm::RectifyWrite),
    })
}

async fn interview_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let v = load_interview(&ctx, &p, id).await?;
    let view = interview_view(&ctx, &p, v, Vec::new()).await?;
    Ok(render("interview.html", page_ctx(&p, "rectify", view)))
}

async fn interview_held_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    load_interview(&ctx, &p, id).await?;
    let input = HeldInput {
        held_on: form::date(&f, "held_on"),
        minutes: form::text(&f, "minutes"),
        follow_ups: form::text(&f, "follow_ups"),
        deadline: form::date(&f, "deadline"),
    };
    match store::hold_interview(&ctx, &p, id, &input).await {
        Ok(_) => Ok(Redirect::to(&format!("/interviews/{id}?ok=saved")).into_response()),
        Err(e @ (AppError::Validation(_) | AppError::Refused { .. } | AppError::Conflict(_))) => {
            let v = load_interview(&ctx, &p, id).await?;
            let view = interview_view(&ctx, &p, v, crate::web::field_errors(e, "form")).await?;
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "interview.html",
                page_ctx(&p, "rectify", view),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

// ---- JSON API ----

#[derive(Serialize, utoipa::ToSchema)]
pub struct ItemPage {
    pub items: Vec<Item>,
    pub total: i64,
}

/// The rectification ledger of the caller's subtree, the most urgent deadline first.
#[utoipa::path(get, path = "/api/v1/rectify/items", tag = "rectify", params(ItemFilter),
    responses((status = 200, body = ItemPage), (status = 403, body = crate::web::ErrorBody)))]
pub async fn api_list(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(f): Query<ItemFilter>,
) -> Result<Json<ItemPage>, ApiError> {
    let org = scope(&ctx, &p, f.org_id).await?;
    let (items, total) = store::list(&ctx, &p, &org.path, &f).await?;
    Ok(Json(ItemPage { items, total }))
}

/// Opens an item for an organisation of the caller's subtree.
#[utoipa::path(post, path = "/api/v1/rectify/items", tag = "rectify", request_body = NewItem,
    responses((status = 200, body = Item), (status = 422, body = crate::web::ErrorBody), (status = 403, body = crate::web::ErrorBody)))]
pub async fn api_create(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Json(b): Json<NewItem>,
) -> Result<Json<Item>, ApiError> {
    Ok(Json(store::create(&ctx, &p, &b).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ItemFile {
    pub item: Item,
    pub updates: Vec<Update>,
}

/// One item with its updates and evidence.
#[utoipa::path(get, path = "/api/v1/rectify/items/{id}", tag = "rectify", params(("id" = i64, Path)),
    responses((status = 200, body = ItemFile), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_get(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<ItemFile>, ApiError> {
    let loc = load(&ctx, &p, id).await?;
    Ok(Json(ItemFile {
        updates: store::updates(&ctx, id).await?,
        item: loc.item,
    }))
}

/// Records progress or a close-out request (responsible side), or a verification (pass,
/// reject) or an extension (supervising side). `version` guards against deciding on a
/// changed item (409).
#[utoipa::path(post, path = "/api/v1/rectify/items/{id}/updates", tag = "rectify", params(("id" = i64, Path)), request_body = UpdateInput,
    responses((status = 200, body = Item), (status = 422, body = crate::web::ErrorBody), (status = 403, body = crate::web::ErrorBody), (status = 409, body = crate::web::ErrorBody)))]
pub async fn api_update(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<UpdateInput>,
) -> Result<Json<Item>, ApiError> {
    load(&ctx, &p, id).await?;
    Ok(Json(store::update(&ctx, &p, id, &b, None).await?))
}

/// The same as `updates`, as a multipart form carrying one evidence file (`file`: PDF, JPG,
/// PNG or MP4) with the fields `kind`, `note`, `done_on`, `deadline`, `version`.
#[utoipa::path(post, path = "/api/v1/rectify/items/{id}/evidence", tag = "rectify", params(("id" = i64, Path)),
    request_body(content_type = "multipart/form-data", description = "kind, note, done_on, deadline, version and file"),
    responses((status = 200, body = Item), (status = 422, body = crate::web::ErrorBody), (status = 409, body = crate::web::ErrorBody)))]
pub async fn api_update_with_file(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    mp: Multipart,
) -> Result<Json<Item>, ApiError> {
    load(&ctx, &p, id).await?;
    let (f, name, bytes) = crate::web::read_multipart(mp).await?;
    let file = (!bytes.is_empty()).then_some(Upload {
        filename: name,
        bytes,
    });
    Ok(Json(
        store::update(&ctx, &p, id, &update_from_fields(&f), file).await?,
    ))
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct OrgQuery {
    pub org_id: Option<i64>,
}

/// Headline numbers of the ledger for a subtree (and what the caller must verify).
#[utoipa::path(get, path = "/api/v1/rectify/board", tag = "rectify", params(OrgQuery),
    responses((status = 200, body = Board)))]
pub async fn api_board(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<OrgQuery>,
) -> Result<Json<Board>, ApiError> {
    let org = scope(&ctx, &p, q.org_id).await?;
    Ok(Json(store::board(&ctx, &p, &org.path).await?))
}

/// The monthly bulletin (每月通报): per child organisation, the items open, opened, closed and
/// overdue at the end of the month, and the penalty for the next campaign.
#[utoipa::path(get, path = "/api/v1/rectify/bulletin", tag = "rectify", params(BulletinQuery),
    responses((status = 200, body = Bulletin), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_bulletin(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<BulletinQuery>,
) -> Result<Json<Bulletin>, ApiError> {
    Ok(Json(bulletin_of(&ctx, &p, &q).await?))
}

/// The filtered ledger as an xlsx workbook in the printed layout.
#[utoipa::path(get, path = "/api/v1/rectify/export", tag = "rectify", params(ItemFilter),
    responses((status = 200, description = "xlsx workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")))]
pub async fn api_export(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(f): Query<ItemFilter>,
) -> Result<Response, ApiError> {
    Ok(xlsx_response(&ctx, export_bytes(&ctx, &p, &f).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct InterviewPage {
    pub items: Vec<Interview>,
    pub total: i64,
}

/// The interview ledger (约谈台账) of the caller's subtree.
#[utoipa::path(get, path = "/api/v1/interviews", tag = "rectify", params(InterviewFilter),
    responses((status = 200, body = InterviewPage)))]
pub async fn api_interviews(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(f): Query<InterviewFilter>,
) -> Result<Json<InterviewPage>, ApiError> {
    let org = scope(&ctx, &p, f.org_id).await?;
    let (items, total) = store::interviews(&ctx, &org.path, &f).await?;
    Ok(Json(InterviewPage { items, total }))
}

/// Plans an interview.
#[utoipa::path(post, path = "/api/v1/interviews", tag = "rectify", request_body = NewInterview,
    responses((status = 200, body = Interview), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_interview_create(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Json(b): Json<NewInterview>,
) -> Result<Json<Interview>, ApiError> {
    Ok(Json(store::create_interview(&ctx, &p, &b).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct InterviewFile {
    pub interview: Interview,
    /// Ledger items opened from it.
    pub items: Vec<Item>,
}

/// One interview and the ledger items it opened.
#[utoipa::path(get, path = "/api/v1/interviews/{id}", tag = "rectify", params(("id" = i64, Path)),
    responses((status = 200, body = InterviewFile), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_interview(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<InterviewFile>, ApiError> {
    let v = load_interview(&ctx, &p, id).await?;
    Ok(Json(InterviewFile {
        items: store::items_from(&ctx, &format!("interview:{id}")).await?,
        interview: v,
    }))
}

/// Records that an interview was held, with minutes; each line of `follow_ups` becomes a
/// ledger item.
#[utoipa::path(post, path = "/api/v1/interviews/{id}/held", tag = "rectify", params(("id" = i64, Path)), request_body = HeldInput,
    responses((status = 200, body = InterviewFile), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_interview_held(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<HeldInput>,
) -> Result<Json<InterviewFile>, ApiError> {
    load_interview(&ctx, &p, id).await?;
    store::hold_interview(&ctx, &p, id, &b).await?;
    let v = load_interview(&ctx, &p, id).await?;
    Ok(Json(InterviewFile {
        items: store::items_from(&ctx, &format!("interview:{id}")).await?,
        interview: v,
    }))
}
