//! The audit administrator's view of the log, and chain verification.

use super::AuditFilter;
use crate::auth::Perm;
use crate::web::{authorize, page_ctx, render, ApiError, AppState, Auth, PageError};
use axum::extract::{Query, State};
use axum::response::IntoResponse;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use minijinja::context;

pub fn page_routes() -> Router<AppState> {
    Router::new()
        .route("/audit", get(audit_page))
        .route("/audit/verify", axum::routing::post(verify_page))
}

/// The entries the auditor may read: their organisation's subtree.
async fn scoped(
    ctx: &crate::Ctx,
    p: &crate::auth::Principal,
    f: &AuditFilter,
) -> Result<Vec<crate::audit::Entry>, crate::error::AppError> {
    let whole = crate::org::store::is_whole_tree(&ctx.db, &p.org_path).await?;
    Ok(super::list_scoped(&ctx.db, &p.org_path, whole, f).await?)
}

async fn verify_page(State(ctx): State<AppState>, Auth(p): Auth) -> Result<Response, PageError> {
    authorize(&ctx, &p, Perm::AuditRead, None).await?;
    let ok = super::checks::run(&ctx, "manual").await.is_ok();
    Ok(axum::response::Redirect::to(if ok {
        "/audit?ok=verified"
    } else {
        "/audit?ok=verify_failed"
    })
    .into_response())
}

pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/audit", get(api_list))
        .route("/api/v1/audit/verify", get(api_verify))
}

async fn audit_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(f): Query<AuditFilter>,
) -> Result<Response, PageError> {
    authorize(&ctx, &p, Perm::AuditRead, None).await?;
    let entries = scoped(&ctx, &p, &f).await?;
    let check = super::checks::latest(&ctx).await?;
    let next = entries
        .last()
        .map(|e| e.seq)
        .filter(|_| entries.len() as i64 >= f.limit.unwrap_or(50).clamp(1, 500));
    Ok(render(
        "audit.html",
        page_ctx(
            &p,
            "audit",
            context! { entries => entries, f => f, next => next, check => check },
        ),
    ))
}

/// Audit entries, newest first (audit administrator only).
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit",
    params(("action" = Option<String>, Query), ("actor" = Option<String>, Query), ("object_type" = Option<String>, Query),
           ("object_id" = Option<String>, Query), ("before_seq" = Option<i64>, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, body = [crate::audit::Entry]), (status = 403, body = crate::web::ErrorBody)))]
pub async fn api_list(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(f): Query<AuditFilter>,
) -> Result<Json<Vec<crate::audit::Entry>>, ApiError> {
    authorize(&ctx, &p, Perm::AuditRead, None).await?;
    Ok(Json(scoped(&ctx, &p, &f).await?))
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct VerifyBody {
    pub ok: bool,
    pub entries: Option<i64>,
    /// The first bad sequence number.
    pub first_bad_seq: Option<i64>,
    pub reason: Option<String>,
}

/// Verifies the whole hash chain.
#[utoipa::path(get, path = "/api/v1/audit/verify", tag = "audit", responses((status = 200, body = VerifyBody), (status = 403, body = crate::web::ErrorBody)))]
pub async fn api_verify(
    State(ctx): State<AppState>,
    Auth(p): Auth,
) -> Result<Json<VerifyBody>, ApiError> {
    authorize(&ctx, &p, Perm::AuditRead, None).await?;
    // the same as the page's button: verified now, and recorded
    let _ = super::checks::run(&ctx, "manual").await;
    let c = super::checks::latest(&ctx)
        .await?
        .ok_or_else(|| crate::error::AppError::Internal("no verification recorded".into()))?;
    Ok(Json(VerifyBody {
        ok: c.ok,
        entries: c.ok.then_some(c.entries),
        first_bad_seq: c.first_bad_seq,
        reason: (!c.ok).then_some(c.reason),
    }))
}
