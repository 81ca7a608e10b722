//! 通知公告 pages and JSON API: the inbox and the sent list, writing a notice (with
//! attachments), one notice with its 签收 or, for the sender, who has received it, reminders
//! and withdrawal.

use super::store::{self, Circular, CircularItem, NewCircular, Receipts, Upload, View};
use super::AUDIENCES;
use crate::auth::{Perm, Principal};
use crate::error::{AppError, FieldError};
use crate::web::{form, page_ctx, render, render_status, ApiError, AppState, Auth, PageError};
use crate::Ctx;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use minijinja::context;
use serde::Deserialize;

pub fn page_routes() -> Router<AppState> {
    Router::new()
        .route("/circulars", get(list_page).post(publish_page))
        .route("/circulars/new", get(new_page))
        .route("/circulars/{id}", get(detail_page))
        .route("/circulars/{id}/receive", post(receive_page))
        .route("/circulars/{id}/remind", post(remind_page))
        .route("/circulars/{id}/withdraw", post(withdraw_page))
        .route("/circulars/files/{id}", get(file_download))
}

pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/circulars", get(api_inbox).post(api_publish))
        .route("/api/v1/circulars/sent", get(api_sent))
        .route("/api/v1/circulars/{id}", get(api_get))
        .route("/api/v1/circulars/{id}/receipts", get(api_receipts))
        .route("/api/v1/circulars/{id}/receive", post(api_receive))
        .route("/api/v1/circulars/{id}/remind", post(api_remind))
        .route("/api/v1/circulars/{id}/withdraw", post(api_withdraw))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ListQuery {
    #[serde(rename = "box")]
    which: Option<String>,
}

async fn list_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    let can_send = p.can(Perm::CircularSend);
    let sent = can_send && q.which.as_deref() == Some("sent");
    let items = if sent {
        store::sent(&ctx, &p, 200).await?
    } else {
        store::inbox(&ctx, &p, 200).await?
    };
    Ok(render(
        "circulars.html",
        page_ctx(
            &p,
            "circulars",
            context! { items => items, sent => sent, can_send => can_send },
        ),
    ))
}

async fn new_form(
    p: &Principal,
    form: NewCircular,
    chosen: Vec<(i64, String)>,
    errors: Vec<FieldError>,
    status: StatusCode,
) -> Result<Response, PageError> {
    Ok(render_status(
        status,
        "circular_new.html",
        page_ctx(
            p,
            "circulars",
            context! { form => form, chosen => chosen, errors => errors, audiences => AUDIENCES },
        ),
    ))
}

async fn new_page(State(_ctx): State<AppState>, Auth(p): Auth) -> Result<Response, PageError> {
    p.authorize(Perm::CircularSend, Some(&p.org_path))?;
    let form = NewCircular {
        org_id: p.org_id,
        audience: "subtree".into(),
        needs_receipt: true,
        ..Default::default()
    };
    new_form(&p, form, Vec::new(), Vec::new(), StatusCode::OK).await
}

fn from_fields(f: &std::collections::HashMap<String, String>, org_ids: Vec<i64>) -> NewCircular {
    NewCircular {
        org_id: form::num(f, "org_id"),
        title: form::text(f, "title"),
        body: form::text(f, "body"),
        audience: form::text(f, "audience"),
        org_ids,
        needs_receipt: f
            .get("needs_receipt")
            .is_some_and(|v| v == "1" || v == "on"),
        deadline: form::date(f, "deadline"),
    }
}

/// The page's form: text fields, the chosen organisations (`org_ids`, repeated) and up to
/// five files (`file`, repeated).
async fn read_form(
    mut mp: Multipart,
) -> Result<
    (
        std::collections::HashMap<String, String>,
        Vec<i64>,
        Vec<Upload>,
    ),
    AppError,
> {
    let refused = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::TooLarge
        } else {
            AppError::field("files", "上传失败或格式有误")
        }
    };
    let (mut fields, mut ids, mut files) =
        (std::collections::HashMap::new(), Vec::new(), Vec::new());
    while let Some(field) = mp.next_field().await.map_err(refused)? {
        let name = field.name().unwrap_or("").to_string();
        match name.as_str() {
            "file" => {
                let fname = field.file_name().unwrap_or("").to_string();
                let bytes = field.bytes().await.map_err(refused)?;
                if !bytes.is_empty() {
                    files.push(Upload {
                        filename: fname,
                        bytes: bytes.to_vec(),
                    });
                }
            }
            "org_ids" => {
                if let Ok(id) = field.text().await.map_err(refused)?.trim().parse() {
                    ids.push(id);
                }
            }
            _ => {
                let v = field.text().await.map_err(refused)?;
                fields.insert(name, v);
            }
        }
    }
    Ok((fields, ids, files))
}

async fn publish_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    mp: Multipart,
) -> Result<Response, PageError> {
    let (f, ids, files) = read_form(mp).await?;
    let input = from_fields(&f, ids);
    match store::publish(&ctx, &p, &input, files).await {
        Ok(c) => {
            Ok(Redirect::to(&format!("/circulars/{}?ok=circular_published", c.id)).into_response())
        }
        Err(e @ (AppError::Validation(_) | AppError::Refused { .. })) => {
            let chosen = names(&ctx, &p, &input.org_ids).await?;
            new_form(
                &p,
                input,
                chosen,
                crate::web::field_errors(e, "title"),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// Names of organisations (a refused form shows what was chosen).
/// Only those in the account's subtree: a refused form never names an organisation the
/// account may not see.
async fn names(ctx: &Ctx, p: &Principal, ids: &[i64]) -> Result<Vec<(i64, String)>, AppError> {
    let mut out = Vec::new();
    for id in ids.iter().take(super::MAX_CHOSEN) {
        if let Some(o) = crate::org::store::find(&ctx.db, *id).await? {
            if p.in_scope(&o.path) {
                out.push((o.id, o.name));
            }
        }
    }
    Ok(out)
}

/// Receiving organisations on one page of a notice's receipts.
const RECEIPTS_PAGE: i64 = 50;

/// A notice's page: which of its receipts to list (the sender's side).
#[derive(Deserialize, Default)]
#[serde(default)]
struct DetailQuery {
    state: Option<String>,
    name: Option<String>,
    page: Option<i64>,
}

async fn detail_view(
    ctx: &Ctx,
    p: &Principal,
    id: i64,
    q: &DetailQuery,
) -> Result<minijinja::Value, AppError> {
    let v = store::open(ctx, p, id).await?;
    let page = q.page.unwrap_or(1).clamp(1, 100_000);
    let filter = store::ReceiptFilter {
        state: q
            .state
            .clone()
            .filter(|s| s == "pending" || s == "received"),
        name: q.name.clone(),
        offset: Some((page - 1) * RECEIPTS_PAGE),
        limit: Some(RECEIPTS_PAGE),
    };
    let receipts = if v.relation == "sender" {
        Some(store::receipts(ctx, p, id, &filter).await?)
    } else {
        None
    };
    let pages = receipts
        .as_ref()
        .map(|r| (r.matching + RECEIPTS_PAGE - 1) / RECEIPTS_PAGE)
        .unwrap_or(1)
        .max(1);
    let mut qs = url::form_urlencoded::Serializer::new(String::new());
    if let Some(s) = &filter.state {
        qs.append_pair("state", s);
    }
    let name = filter
        .name
        .as_deref()
        .map(str::trim)
        .unwrap_or("")
        .to_string();
    if !name.is_empty() {
        qs.append_pair("name", &name);
    }
    let matching = receipts.as_ref().map(|r| r.matching).unwrap_or(0);
    Ok(context! {
        v => v, receipts => receipts, today => ctx.clock.today(),
        filter => context! { state => filter.state, name => name },
        page => context! { page => page.min(pages), total => matching }, pages => pages, qs => qs.finish(),
    })
}

async fn detail_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Query(q): Query<DetailQuery>,
) -> Result<Response, PageError> {
    let v = detail_view(&ctx, &p, id, &q).await?;
    Ok(render("circular.html", page_ctx(&p, "circulars", v)))
}

/// After an action on a notice: back to it with the action's confirmation, or the refusal
/// on the notice's page (its address is the notice's, so a refresh does not repeat it).
async fn after(
    ctx: &Ctx,
    p: &Principal,
    id: i64,
    ok: &str,
    r: Result<(), AppError>,
) -> Result<Response, PageError> {
    match r {
        Ok(()) => Ok(Redirect::to(&format!("/circulars/{id}?ok={ok}")).into_response()),
        Err(e @ (AppError::Validation(_) | AppError::Refused { .. })) => {
            let mut v = detail_view(ctx, p, id, &DetailQuery::default()).await?;
            v = context! { errors => crate::web::field_errors(e, "form"), ..v };
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "circular.html",
                page_ctx(p, "circulars", v),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

async fn receive_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let r = store::receive(&ctx, &p, id).await.map(|_| ());
    after(&ctx, &p, id, "received", r).await
}

async fn remind_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let r = store::remind(&ctx, &p, id, &[]).await.map(|_| ());
    after(&ctx, &p, id, "reminded", r).await
}

async fn withdraw_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let r = store::withdraw(&ctx, &p, id).await.map(|_| ());
    after(&ctx, &p, id, "withdrawn", r).await
}

async fn file_download(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let (f, bytes) = store::file(&ctx, &p, id).await?;
    Ok((
        [
            (header::CONTENT_TYPE, f.mime.clone()),
            (
                header::CONTENT_DISPOSITION,
                // the name's extension is the content's, whatever the uploader called it
                crate::web::attachment_name(&crate::web::download_name(
                    &format!("通知附件-{}", f.id),
                    &f.filename,
                    crate::blob::sniff(&bytes).map(|x| x.1).unwrap_or("bin"),
                )),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
        ],
        bytes,
    )
        .into_response())
}

// ---- API ----

/// Notices addressed to the caller (its organisation's, or its subtree's members'), those
/// still to 签收 or read first.
#[utoipa::path(get, path = "/api/v1/circulars", tag = "circulars", responses((status = 200, body = [store::CircularItem])))]
pub async fn api_inbox(
    State(ctx): State<AppState>,
    Auth(p): Auth,
) -> Result<Json<Vec<CircularItem>>, ApiError> {
    Ok(Json(store::inbox(&ctx, &p, 200).await?))
}

/// Notices sent by the caller's organisation and its subtree, with their receipt counts.
#[utoipa::path(get, path = "/api/v1/circulars/sent", tag = "circulars", responses((status = 200, body = [store::CircularItem]), (status = 403, body = crate::web::ErrorBody)))]
pub async fn api_sent(
    State(ctx): State<AppState>,
    Auth(p): Auth,
) -> Result<Json<Vec<CircularItem>>, ApiError> {
    Ok(Json(store::sent(&ctx, &p, 200).await?))
}

/// Publishes a notice to the sender's subtree, its direct children, chosen organisations of
/// its subtree or the members of its subtree (attachments: through the page).
#[utoipa::path(post, path = "/api/v1/circulars", tag = "circulars", request_body = NewCircular,
    responses((status = 200, body = Circular), (status = 403, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_publish(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Json(b): Json<NewCircular>,
) -> Result<Json<Circular>, ApiError> {
    Ok(Json(store::publish(&ctx, &p, &b, Vec::new()).await?))
}

/// One notice as the caller sees it (opening it records the caller's reading).
#[utoipa::path(get, path = "/api/v1/circulars/{id}", tag = "circulars", params(("id" = i64, Path)),
    responses((status = 200, body = View), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_get(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<View>, ApiError> {
    Ok(Json(store::open(&ctx, &p, id).await?))
}

/// Who has received a notice (its sender's side), those not yet received first.
#[utoipa::path(get, path = "/api/v1/circulars/{id}/receipts", tag = "circulars", params(("id" = i64, Path), store::ReceiptFilter),
    responses((status = 200, body = Receipts), (status = 403, body = crate::web::ErrorBody)))]
pub async fn api_receipts(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Query(f): Query<store::ReceiptFilter>,
) -> Result<Json<Receipts>, ApiError> {
    Ok(Json(store::receipts(&ctx, &p, id, &f).await?))
}

/// 签收: the caller's organisation acknowledges the notice.
#[utoipa::path(post, path = "/api/v1/circulars/{id}/receive", tag = "circulars", params(("id" = i64, Path)),
    responses((status = 200, body = View), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_receive(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<View>, ApiError> {
    Ok(Json(store::receive(&ctx, &p, id).await?))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(default)]
pub struct RemindBody {
    /// The organisations to remind; empty: every one that has not received.
    pub org_ids: Vec<i64>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Reminded {
    pub reminded: i64,
}

/// Reminds the receiving organisations that have not received the notice.
#[utoipa::path(post, path = "/api/v1/circulars/{id}/remind", tag = "circulars", params(("id" = i64, Path)), request_body = RemindBody,
    responses((status = 200, body = Reminded), (status = 403, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_remind(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<RemindBody>,
) -> Result<Json<Reminded>, ApiError> {
    Ok(Json(Reminded {
        reminded: store::remind(&ctx, &p, id, &b.org_ids).await?,
    }))
}

/// Withdraws a notice: its receivers no longer see it.
#[utoipa::path(post, path = "/api/v1/circulars/{id}/withdraw", tag = "circulars", params(("id" = i64, Path)),
    responses((status = 200, body = Circular), (status = 403, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_withdraw(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Circular>, ApiError> {
    Ok(Json(store::withdraw(&ctx, &p, id).await?))
}
