//! The web layer shared by every capability: router assembly, templates, assets, the
//! authentication extractor, CSRF and security headers, and the mapping of errors to pages
//! and JSON. Capability handlers live beside their domain code (`org::web`, `member::web`, ...).

pub mod api;
pub mod pages;

use crate::auth::store::SessionState;
use crate::auth::{Perm, Principal};
use crate::error::AppError;
use crate::Ctx;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Router;
use minijinja::Environment;
use serde::Serialize;
use std::sync::{Arc, OnceLock};
use tower_http::set_header::SetResponseHeaderLayer;

pub type AppState = Arc<Ctx>;

pub const SESSION_COOKIE: &str = "dj_session";

/// Embedded static files: (name, content type, bytes).
pub const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../assets/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/app.js"),
    ),
    (
        "htmx.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/vendor/htmx-2.0.11.min.js"),
    ),
];

fn asset_versions() -> &'static std::collections::HashMap<&'static str, String> {
    static V: OnceLock<std::collections::HashMap<&'static str, String>> = OnceLock::new();
    V.get_or_init(|| {
        ASSETS
            .iter()
            .map(|(n, _, b)| (*n, crate::crypto::sm3_hex(b)[..10].to_string()))
            .collect()
    })
}

/// Templates, embedded in the binary.
const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    ("macros.html", include_str!("../../templates/macros.html")),
    ("error.html", include_str!("../../templates/error.html")),
    ("login.html", include_str!("../../templates/login.html")),
    (
        "password.html",
        include_str!("../../templates/password.html"),
    ),
    ("totp.html", include_str!("../../templates/totp.html")),
    ("home.html", include_str!("../../templates/home.html")),
    ("orgs.html", include_str!("../../templates/orgs.html")),
    (
        "org_children.html",
        include_str!("../../templates/org_children.html"),
    ),
    (
        "org_form.html",
        include_str!("../../templates/org_form.html"),
    ),
    ("members.html", include_str!("../../templates/members.html")),
    ("member.html", include_str!("../../templates/member.html")),
    (
        "member_form.html",
        include_str!("../../templates/member_form.html"),
    ),
    ("import.html", include_str!("../../templates/import.html")),
    (
        "import_status.html",
        include_str!("../../templates/import_status.html"),
    ),
    (
        "transfers.html",
        include_str!("../../templates/transfers.html"),
    ),
    (
        "accounts.html",
        include_str!("../../templates/accounts.html"),
    ),
    (
        "account_form.html",
        include_str!("../../templates/account_form.html"),
    ),
    ("me.html", include_str!("../../templates/me.html")),
    ("audit.html", include_str!("../../templates/audit.html")),
    ("rules.html", include_str!("../../templates/rules.html")),
];

pub fn templates() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        for (name, src) in TEMPLATES {
            if let Err(e) = env.add_template(name, src) {
                tracing::error!(template = name, error = %e, "template does not compile");
            }
        }
        env.add_function("asset", |name: String| -> minijinja::Value {
            minijinja::Value::from_safe_string(match asset_versions().get(name.as_str()) {
                Some(v) => format!("/assets/{name}?v={v}"),
                None => format!("/assets/{name}"),
            })
        });
        env
    })
}

/// Renders a template to HTML; a template failure is a logged server error.
pub fn render(name: &str, ctx: minijinja::Value) -> Response {
    render_status(StatusCode::OK, name, ctx)
}

pub fn render_status(status: StatusCode, name: &str, ctx: minijinja::Value) -> Response {
    match templates().get_template(name).and_then(|t| t.render(ctx)) {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(template = name, error = %e, "render failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<h1>服务器内部错误</h1>".to_string()),
            )
                .into_response()
        }
    }
}

/// The navigation entries the principal may use.
#[derive(Serialize)]
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub key: &'static str,
}

/// The left navigation: each entry with the permission that shows it.
const NAV: [(Perm, &str, &str, &str); 8] = [
    (Perm::OrgRead, "/orgs", "党组织", "orgs"),
    (Perm::MemberRead, "/members", "党员", "members"),
    (Perm::SelfRead, "/members/self", "我的档案", "members"),
    (Perm::MemberImport, "/members/import", "批量导入", "import"),
    (
        Perm::TransferWrite,
        "/transfers",
        "组织关系转接",
        "transfers",
    ),
    (Perm::AccountRead, "/accounts", "账号管理", "accounts"),
    (Perm::RuleRead, "/rules", "规则设置", "rules"),
    (Perm::AuditRead, "/audit", "审计日志", "audit"),
];

pub fn nav_for(p: &Principal) -> Vec<NavItem> {
    let home = NavItem {
        href: "/",
        label: "首页",
        key: "home",
    };
    std::iter::once(home)
        .chain(
            NAV.iter()
                .filter(|(perm, ..)| {
                    p.can(*perm) && (*perm != Perm::SelfRead || p.member_id.is_some())
                })
                .map(|(_, href, label, key)| NavItem { href, label, key }),
        )
        .collect()
}

/// Common template context: the principal, navigation, CSRF token.
pub fn base_ctx(p: &Principal, active: &str) -> minijinja::Value {
    minijinja::context! {
        me => p,
        role_labels => p.role_labels(),
        nav => nav_for(p),
        active => active,
        csrf => p.csrf,
    }
}

/// Merges page values into the base context.
pub fn page_ctx(p: &Principal, active: &str, extra: minijinja::Value) -> minijinja::Value {
    minijinja::context! { ..extra, ..base_ctx(p, active) }
}

/// An error answered as an HTML page.
pub struct PageError(pub AppError);

macro_rules! wraps_app_error {
    ($t:ident) => {
        impl From<AppError> for $t {
            fn from(e: AppError) -> Self {
                $t(e)
            }
        }
        impl From<crate::db::DbError> for $t {
            fn from(e: crate::db::DbError) -> Self {
                $t(AppError::Db(e))
            }
        }
    };
}
wraps_app_error!(PageError);
wraps_app_error!(ApiError);

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let e = self.0;
        if matches!(e, AppError::Unauthenticated) {
            return Redirect::to("/login").into_response();
        }
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(error = %e, "request failed");
        }
        render_status(
            status,
            "error.html",
            minijinja::context! { status => status.as_u16(), code => e.code(), message => e.public_message(), fields => e.fields() },
        )
    }
}

/// An error answered as JSON: `{code, message, fields}`.
pub struct ApiError(pub AppError);

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable machine code, e.g. `validation_failed`, `forbidden`, `org.has_members`.
    pub code: String,
    /// Chinese message for people.
    pub message: String,
    pub fields: Vec<FieldErrorBody>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct FieldErrorBody {
    pub field: String,
    pub message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::error!(error = %e, "api request failed");
        }
        let body = ErrorBody {
            code: e.code().to_string(),
            message: e.public_message(),
            fields: e
                .fields()
                .iter()
                .map(|f| FieldErrorBody {
                    field: f.field.clone(),
                    message: f.message.clone(),
                })
                .collect(),
        };
        (status, axum::Json(body)).into_response()
    }
}

fn client_ip(parts: &axum::http::request::Parts) -> String {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_default()
}

pub fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// The authenticated principal of a request (session cookie or API token).
pub struct Auth(pub Principal);

/// Paths usable while a password change is still owed.
const PASSWORD_PATHS: [&str; 3] = ["/password", "/logout", "/api/v1/me"];

impl FromRequestParts<AppState> for Auth {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        ctx: &AppState,
    ) -> Result<Self, Response> {
        let path = parts.uri.path().to_string();
        let is_api = path.starts_with("/api/");
        let ip = client_ip(parts);
        let deny = |e: AppError| -> Response {
            if is_api {
                ApiError(e).into_response()
            } else {
                PageError(e).into_response()
            }
        };
        if let Some(auth) = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        {
            let token = auth.strip_prefix("Bearer ").unwrap_or("").trim();
            return match crate::auth::store::api_token(ctx, token, &ip).await {
                Ok(Some(p)) => Ok(Auth(p)),
                Ok(None) => Err(deny(AppError::Unauthenticated)),
                Err(e) => Err(deny(e)),
            };
        }
        let Some(token) = cookie_value(&parts.headers, SESSION_COOKIE) else {
            return Err(if is_api {
                deny(AppError::Unauthenticated)
            } else {
                Redirect::to("/login").into_response()
            });
        };
        match crate::auth::store::session(ctx, &token, &ip).await {
            Ok(SessionState::Valid(p)) => {
                if p.must_change_password && !PASSWORD_PATHS.contains(&path.as_str()) {
                    return Err(if is_api {
                        deny(AppError::refused(
                            "auth.password_change_required",
                            "请先修改初始密码",
                        ))
                    } else {
                        Redirect::to("/password").into_response()
                    });
                }
                if ctx.config.require_totp_for_admins
                    && p.roles.iter().any(|r| r.is_admin_trio())
                    && !p.totp_enabled
                    && !path.starts_with("/me/totp")
                    && !PASSWORD_PATHS.contains(&path.as_str())
                {
                    return Err(if is_api {
                        deny(AppError::refused(
                            "auth.totp_required",
                            "管理员账号须先启用动态口令",
                        ))
                    } else {
                        Redirect::to("/me/totp").into_response()
                    });
                }
                Ok(Auth(*p))
            }
            Ok(SessionState::TotpPending(_)) => Err(if is_api {
                deny(AppError::Unauthenticated)
            } else {
                Redirect::to("/login/totp").into_response()
            }),
            Ok(SessionState::Invalid) => Err(if is_api {
                deny(AppError::Unauthenticated)
            } else {
                Redirect::to("/login").into_response()
            }),
            Err(e) => Err(deny(e)),
        }
    }
}

/// The one authorisation call used by handlers: checks role and subtree, and records a
/// refusal in the audit log before answering it.
pub async fn authorize(
    ctx: &Ctx,
    p: &Principal,
    perm: Perm,
    object_path: Option<&str>,
) -> Result<(), AppError> {
    match p.authorize(perm, object_path) {
        Ok(()) => Ok(()),
        Err(e) => {
            refused(ctx, p, perm, object_path).await;
            Err(e)
        }
    }
}

/// Member records: a member may read their own.
pub async fn authorize_member(
    ctx: &Ctx,
    p: &Principal,
    perm: Perm,
    member_id: i64,
    path: &str,
) -> Result<(), AppError> {
    match p.authorize_member(perm, member_id, path) {
        Ok(()) => Ok(()),
        Err(e) => {
            refused(ctx, p, perm, Some(path)).await;
            Err(e)
        }
    }
}

async fn refused(ctx: &Ctx, p: &Principal, perm: Perm, object_path: Option<&str>) {
    let r = crate::audit::record(
        &ctx.db,
        &p.actor(),
        crate::audit::NewEntry {
            action: "authz.denied",
            object_type: "permission",
            object_id: format!("{perm:?}"),
            before: serde_json::Value::Null,
            after: serde_json::json!({"object_path": object_path}),
        },
    )
    .await;
    if let Err(e) = r {
        tracing::error!(error = %e, "could not audit an authorisation refusal");
    }
}

/// CSRF: every state-changing request that rides on the session cookie must carry the
/// session's token (header `X-CSRF-Token`, query `_csrf`, or form field `_csrf`), and a
/// cross-origin `Origin` is refused outright.
async fn csrf_guard(State(ctx): State<AppState>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let headers = req.headers().clone();
    if let (Some(origin), Some(host)) = (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) {
        let origin_host = origin.split("://").nth(1).unwrap_or("");
        if origin != "null" && origin_host != host {
            return csrf_refusal(req.uri().path());
        }
    }
    if headers.contains_key(header::AUTHORIZATION) {
        return next.run(req).await;
    }
    let Some(token) = cookie_value(&headers, SESSION_COOKIE) else {
        // No session: only the login form accepts that (Origin checked above, SameSite=Strict).
        return next.run(req).await;
    };
    let th = crate::crypto::sm3_hex(token.as_bytes());
    let expected = crate::on_db!(&ctx.db, p => {
        sqlx::query("SELECT csrf FROM sessions WHERE token_hash = $1")
            .bind(&th)
            .fetch_optional(p)
            .await
            .ok()
            .flatten()
            .and_then(|r| crate::db::DbRow::string(&r, "csrf").ok())
    });
    let Some(expected) = expected else {
        return next.run(req).await; // unknown session: the handler's Auth answers it
    };
    let path = req.uri().path().to_string();
    let from_header = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let from_query = req.uri().query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "_csrf")
            .map(|(_, v)| v.into_owned())
    });
    if from_header.as_deref() == Some(expected.as_str())
        || from_query.as_deref() == Some(expected.as_str())
    {
        return next.run(req).await;
    }
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return csrf_refusal(&path);
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, ctx.config.max_body_bytes).await {
        Ok(b) => b,
        Err(_) => return ApiError(AppError::TooLarge).into_response(),
    };
    let ok =
        url::form_urlencoded::parse(&bytes).any(|(k, v)| k == "_csrf" && v == expected.as_str());
    if !ok {
        return csrf_refusal(&path);
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

fn csrf_refusal(path: &str) -> Response {
    let e = AppError::refused(
        "csrf_failed",
        "页面已过期或请求来源不可信，请刷新页面后重试",
    );
    if path.starts_with("/api/") {
        let mut r = ApiError(e).into_response();
        *r.status_mut() = StatusCode::FORBIDDEN;
        r
    } else {
        let mut r = PageError(e).into_response();
        *r.status_mut() = StatusCode::FORBIDDEN;
        r
    }
}

async fn asset(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, ct, bytes)) => (
            [
                (header::CONTENT_TYPE, *ct),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            *bytes,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn not_found() -> Response {
    PageError(AppError::NotFound("页面")).into_response()
}

/// The whole application.
pub fn router(ctx: Ctx) -> Router {
    let state: AppState = Arc::new(ctx);
    let max_body = state.config.max_body_bytes;
    Router::new()
        .merge(pages::routes())
        .merge(api::routes())
        .route("/assets/{name}", axum::routing::get(asset))
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), csrf_guard))
        .layer(DefaultBodyLimit::max(max_body))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"),
        ))
        .layer(SetResponseHeaderLayer::overriding(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::overriding(header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
        .layer(SetResponseHeaderLayer::overriding(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::if_not_present(header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .with_state(state)
}

/// The session cookie for a new login.
pub fn session_cookie(token: &str, secure: bool) -> String {
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

pub fn clear_session_cookie() -> String {
    format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// The peer address of the request, when the server recorded it.
pub struct ClientIp(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(parts)))
    }
}
