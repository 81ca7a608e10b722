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
        .route("/audit/export", get(export_csv))
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
    let chain = super::checks::run(&ctx, "manual").await.is_ok();
    let files = super::checks::run_files(&ctx, "manual").await.is_ok();
    let ok = chain && files;
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
    let files = files_for(&ctx, &p).await?;
    let next = entries
        .last()
        .map(|e| e.seq)
        .filter(|_| entries.len() as i64 >= f.limit.unwrap_or(50).clamp(1, 500));
    Ok(render(
        "audit.html",
        page_ctx(
            &p,
            "audit",
            context! { entries => entries, f => f, next => next, check => check, files => files, actions => action_groups() },
        ),
    ))
}

/// Audit entries, newest first (audit administrator only).
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit",
    params(("action" = Option<String>, Query, description = "操作代码（如 member.update），或以点结尾的模块前缀（如 member.）"),
           ("actor" = Option<String>, Query, description = "操作人的用户名或显示名称"),
           ("from" = Option<String>, Query, pattern = r"^([0-9]{4}-[0-9]{2}-[0-9]{2})?$", description = "起始日期 YYYY-MM-DD（本地时区，含；可为空）"),
           ("to" = Option<String>, Query, pattern = r"^([0-9]{4}-[0-9]{2}-[0-9]{2})?$", description = "截止日期 YYYY-MM-DD（本地时区，含；可为空）"),
           ("object_type" = Option<String>, Query),
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

/// The action filter's choices: each capability (all its actions) and its actions.
fn action_groups() -> Vec<minijinja::Value> {
    super::words::CAPABILITIES
        .iter()
        .map(|(prefix, label)| {
            let items: Vec<(&str, &str)> = super::words::ACTIONS
                .iter()
                .filter(|(c, _)| c.split('.').next() == Some(*prefix))
                .copied()
                .collect();
            minijinja::context! { prefix => format!("{prefix}."), label => label, items => items }
        })
        .collect()
}

/// The most entries one export holds (narrow the filter for more).
pub const EXPORT_MAX: i64 = 10_000;

/// The filtered log as CSV (UTF-8 with BOM, opens in Excel/WPS): time in the display zone,
/// actor, role, action in words and code, object, the changes in words. The export is
/// itself recorded.
async fn export_csv(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(mut f): Query<AuditFilter>,
) -> Result<Response, PageError> {
    authorize(&ctx, &p, Perm::AuditRead, None).await?;
    f.limit = Some(EXPORT_MAX);
    let whole = crate::org::store::is_whole_tree(&ctx.db, &p.org_path).await?;
    let entries = super::list_scoped_up_to(&ctx.db, &p.org_path, whole, &f, EXPORT_MAX).await?;
    let rows = entries
        .iter()
        .map(|e| {
            let changes = super::words::changes(&e.before_json, &e.after_json)
                .into_iter()
                .map(|c| format!("{}：{} → {}", c.field, c.before, c.after))
                .collect::<Vec<_>>()
                .join("；");
            let ts = crate::clock::parse_instant(&e.ts)
                .map(|t| crate::clock::fmt_local(t, "%Y-%m-%d %H:%M:%S"))
                .unwrap_or_else(|| e.ts.clone());
            let role = crate::auth::Role::parse(&e.role)
                .map(|r| r.label())
                .unwrap_or(e.role.as_str());
            vec![
                e.seq.to_string(),
                ts,
                e.actor_name.clone(),
                role.to_string(),
                e.ip.clone(),
                super::words::action_label(&e.action),
                e.action.clone(),
                e.object_type.clone(),
                e.object_id.clone(),
                changes,
            ]
        })
        .collect();
    Ok(crate::web::csv_export(
        &ctx,
        &p,
        crate::web::CsvExport {
            action: "audit.export",
            object_type: "audit_log",
            title: "审计日志".to_string(),
            header: &[
                "序号",
                "时间",
                "操作人",
                "角色",
                "IP",
                "操作",
                "操作代码",
                "对象类型",
                "对象编号",
                "变更内容",
            ],
            rows,
            asked: serde_json::to_value(&f).unwrap_or_default(),
        },
    )
    .await?)
}

/// The latest check of the stored files as an auditor may see it: the records that use a bad
/// file are named to an auditor of the whole tree only (they carry names and file names).
pub async fn files_for(
    ctx: &crate::Ctx,
    p: &crate::auth::Principal,
) -> Result<Option<super::checks::FilesCheck>, crate::error::AppError> {
    let whole = crate::org::store::is_whole_tree(&ctx.db, &p.org_path).await?;
    Ok(super::checks::latest_files(ctx).await?.map(|mut c| {
        if !whole {
            for b in &mut c.bad {
                b.used_by.clear();
            }
        }
        c
    }))
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct VerifyBody {
    /// The chain and every stored file are intact.
    pub ok: bool,
    pub entries: Option<i64>,
    /// The first bad sequence number.
    pub first_bad_seq: Option<i64>,
    pub reason: Option<String>,
    /// Every stored document and evidence file checked against its SM3 digest: which failed,
    /// what was found, which records use them.
    pub files: Option<super::checks::FilesCheck>,
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
    let _ = super::checks::run_files(&ctx, "manual").await;
    let files = files_for(&ctx, &p).await?;
    let c = super::checks::latest(&ctx)
        .await?
        .ok_or_else(|| crate::error::AppError::Internal("no verification recorded".into()))?;
    Ok(Json(VerifyBody {
        ok: c.ok && files.as_ref().is_none_or(|f| f.ok),
        entries: c.ok.then_some(c.entries),
        first_bad_seq: c.first_bad_seq,
        reason: (!c.ok).then_some(c.reason),
        files,
    }))
}
