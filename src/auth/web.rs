//! Login, password, second factor, my account, API tokens and account administration:
//! pages and JSON endpoints.

use super::store::{self, NewAccount};
use super::{Perm, Role};
use crate::error::{AppError, FieldError};
use crate::web::{
    authorize, page_ctx, render, render_status, ApiError, AppState, Auth, BrowserLang, PageError,
};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use minijinja::context;
use serde::Deserialize;

pub fn page_routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login_submit))
        .route("/login/totp", get(totp_login_page).post(totp_login_submit))
        .route("/logout", post(logout))
        .route("/password", get(password_page).post(password_submit))
        .route("/me", get(me_page))
        .route("/me/totp", get(totp_enrol_page).post(totp_enrol_submit))
        .route("/me/tokens", post(token_create_page))
        .route("/me/locale", post(locale_submit))
        .route("/me/tokens/{id}/revoke", post(token_revoke_page))
        .route("/accounts", get(accounts_page))
        .route("/accounts/batch", post(accounts_batch_page))
        .route(
            "/accounts/new",
            get(account_new_page).post(account_create_page),
        )
        .route("/accounts/requests", get(requests_page))
        .route("/accounts/requests/{id}/decide", post(request_decide_page))
        .route("/accounts/{id}/roles", post(account_roles_page))
        .route("/accounts/{id}/{what}", post(account_change_page))
}

pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/login", post(api_login))
        .route("/api/v1/auth/totp", post(api_login_totp))
        .route("/api/v1/auth/totp/enrol", post(api_totp_enrol))
        .route("/api/v1/auth/totp/confirm", post(api_totp_confirm))
        .route("/api/v1/auth/password", post(api_password))
        .route("/api/v1/auth/logout", post(api_logout))
        .route("/api/v1/me", get(api_me))
        .route(
            "/api/v1/accounts",
            get(api_accounts).post(api_account_create),
        )
        .route("/api/v1/accounts/{id}/roles", put(api_account_roles))
        .route("/api/v1/accounts/{id}/reset", post(api_account_reset))
        .route("/api/v1/accounts/{id}/unlock", post(api_account_unlock))
        .route("/api/v1/accounts/{id}/disable", post(api_account_disable))
        .route("/api/v1/accounts/{id}/enable", post(api_account_enable))
        .route("/api/v1/account-requests", get(api_requests))
        .route(
            "/api/v1/account-requests/{id}/decide",
            post(api_request_decide),
        )
        .route("/api/v1/tokens", get(api_tokens).post(api_token_create))
        .route("/api/v1/tokens/{id}/revoke", post(api_token_revoke))
}

/// Repeated-key form bodies (checkbox groups).
pub fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn field<'a>(pairs: &'a [(String, String)], k: &str) -> &'a str {
    pairs
        .iter()
        .find(|(a, _)| a == k)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

fn with_cookie(mut r: Response, cookie: &str) -> Response {
    if let Ok(v) = header::HeaderValue::from_str(cookie) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

async fn login_page(BrowserLang(lang): BrowserLang) -> Response {
    render("login.html", context! { lang => lang.code(), error => "" })
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
}

async fn login_submit(
    State(ctx): State<AppState>,
    BrowserLang(lang): BrowserLang,
    crate::web::ClientIp(ip): crate::web::ClientIp,
    axum::Form(f): axum::Form<LoginForm>,
) -> Response {
    match store::login(&ctx, f.username.trim(), &f.password, &ip).await {
        Ok(ok) => {
            let to = if ok.totp_pending {
                "/login/totp"
            } else if ok.must_change_password {
                "/password"
            } else {
                "/"
            };
            with_cookie(
                Redirect::to(to).into_response(),
                &crate::web::session_cookie(&ok.token, ctx.config.secure_cookies),
            )
        }
        Err(AppError::Refused { message, .. }) => render_status(
            StatusCode::UNAUTHORIZED,
            "login.html",
            context! { lang => lang.code(), error => message, username => f.username },
        ),
        Err(e @ AppError::TooManyAttempts(wait)) => too_many(
            render_status(
                StatusCode::TOO_MANY_REQUESTS,
                "login.html",
                context! { lang => lang.code(), error => e.to_string(), username => f.username },
            ),
            wait,
        ),
        Err(e) => PageError(e).into_response(),
    }
}

/// A 429 with the seconds to wait.
fn too_many(mut r: Response, wait: i64) -> Response {
    if let Ok(v) = axum::http::HeaderValue::from_str(&wait.to_string()) {
        r.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
    }
    r
}

/// The pending session's CSRF token, for the second step's form (its session exists, but is
/// not yet signed in).
async fn pending_csrf(ctx: &crate::Ctx, headers: &HeaderMap) -> Option<String> {
    let token = crate::web::cookie_value(headers, crate::web::SESSION_COOKIE)?;
    match store::session(ctx, &token, "").await {
        Ok(store::SessionState::TotpPending(p)) => Some(p.csrf),
        _ => None,
    }
}

async fn totp_login_page(
    State(ctx): State<AppState>,
    BrowserLang(lang): BrowserLang,
    headers: HeaderMap,
) -> Response {
    let Some(csrf) = pending_csrf(&ctx, &headers).await else {
        return Redirect::to("/login").into_response();
    };
    render(
        "totp.html",
        context! { lang => lang.code(), mode => "login", error => "", csrf => csrf },
    )
}

#[derive(Deserialize)]
struct CodeForm {
    code: String,
}

async fn totp_login_submit(
    State(ctx): State<AppState>,
    BrowserLang(lang): BrowserLang,
    crate::web::ClientIp(ip): crate::web::ClientIp,
    headers: HeaderMap,
    axum::Form(f): axum::Form<CodeForm>,
) -> Response {
    let Some(token) = crate::web::cookie_value(&headers, crate::web::SESSION_COOKIE) else {
        return Redirect::to("/login").into_response();
    };
    let p = match store::session(&ctx, &token, "").await {
        Ok(store::SessionState::TotpPending(p)) => p,
        Ok(store::SessionState::Valid(_)) => return Redirect::to("/").into_response(),
        _ => return Redirect::to("/login").into_response(),
    };
    // wrong codes count against the address like wrong passwords
    let (max, window) = store::ip_limit(&ctx);
    let now = ctx.clock.now().timestamp();
    if let Some(wait) = ctx.login_throttle.wait(&ip, now, max, window) {
        let e = AppError::TooManyAttempts(wait);
        return too_many(
            render_status(
                StatusCode::TOO_MANY_REQUESTS,
                "totp.html",
                context! { lang => lang.code(), mode => "login", error => e.to_string(), csrf => p.csrf.clone() },
            ),
            wait,
        );
    }
    let th = crate::crypto::sm3_hex(token.as_bytes());
    let result = store::totp_confirm(&ctx, p.account_id, &f.code, Some(&th)).await;
    if matches!(result, Err(AppError::Validation(_))) {
        ctx.login_throttle.fail(&ip, now, max, window);
    }
    match result {
        Ok(()) => Redirect::to(if p.must_change_password {
            "/password"
        } else {
            "/"
        })
        .into_response(),
        Err(AppError::Validation(v)) => render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            "totp.html",
            context! { lang => lang.code(), mode => "login", error => v.first().map(|f| f.message.clone()).unwrap_or_default(), csrf => p.csrf.clone() },
        ),
        Err(e) => PageError(e).into_response(),
    }
}

async fn logout(State(ctx): State<AppState>, Auth(p): Auth, headers: HeaderMap) -> Response {
    if let Some(token) = crate::web::cookie_value(&headers, crate::web::SESSION_COOKIE) {
        let th = crate::crypto::sm3_hex(token.as_bytes());
        if let Err(e) = store::logout(&ctx, &p, &th).await {
            return PageError(e).into_response();
        }
    }
    with_cookie(
        Redirect::to("/login").into_response(),
        &crate::web::clear_session_cookie(),
    )
}

/// The password rules as the form states them (from the configured policy).
fn policy_ctx(ctx: &crate::Ctx) -> minijinja::Value {
    let pol = &ctx.config.password;
    context! { min_length => pol.min_length, min_classes => pol.min_classes }
}

async fn password_page(State(ctx): State<AppState>, Auth(p): Auth) -> Response {
    render(
        "password.html",
        page_ctx(
            &p,
            "",
            context! { errors => Vec::<FieldError>::new(), policy => policy_ctx(&ctx) },
        ),
    )
}

#[derive(Deserialize)]
struct PasswordForm {
    old_password: String,
    new_password: String,
    confirm_password: String,
}

async fn password_submit(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    axum::Form(f): axum::Form<PasswordForm>,
) -> Response {
    if f.new_password != f.confirm_password {
        return render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            "password.html",
            page_ctx(
                &p,
                "",
                context! { errors => vec![FieldError::new("confirm_password", "两次输入的新密码不一致")], policy => policy_ctx(&ctx) },
            ),
        );
    }
    match store::change_password(&ctx, &p, &f.old_password, &f.new_password).await {
        // a new session id: the one used before the change is no longer any use
        Ok(token) => with_cookie(
            Redirect::to("/?ok=password").into_response(),
            &crate::web::session_cookie(&token, ctx.config.secure_cookies),
        ),
        Err(AppError::Validation(v)) => render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            "password.html",
            page_ctx(&p, "", context! { errors => v, policy => policy_ctx(&ctx) }),
        ),
        Err(e) => PageError(e).into_response(),
    }
}

async fn me_page(State(ctx): State<AppState>, Auth(p): Auth) -> Result<Response, PageError> {
    render_me(&ctx, &p, "").await
}

/// The account page; `new_token` is a just-created API token, shown this once.
async fn render_me(
    ctx: &crate::Ctx,
    p: &crate::auth::Principal,
    new_token: &str,
) -> Result<Response, PageError> {
    let tokens = store::list_tokens(ctx, p.account_id).await?;
    Ok(render(
        "me.html",
        page_ctx(
            p,
            "",
            context! { tokens => tokens, new_token => new_token, locales => crate::i18n::LOCALE_SETTINGS },
        ),
    ))
}

#[derive(Deserialize)]
struct LocaleForm {
    locale: String,
}

async fn locale_submit(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    axum::Form(f): axum::Form<LocaleForm>,
) -> Result<Response, PageError> {
    store::set_locale(&ctx, &p, f.locale.trim()).await?;
    Ok(Redirect::to("/me?ok=locale").into_response())
}

async fn totp_enrol_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
) -> Result<Response, PageError> {
    let secret = store::totp_begin(&ctx, &p).await?;
    Ok(render(
        "totp.html",
        page_ctx(
            &p,
            "",
            context! {
                mode => "enrol",
                secret => super::totp::secret_base32(&secret),
                uri => super::totp::otpauth_uri("dangjian", &p.username, &secret),
                error => "",
            },
        ),
    ))
}

async fn totp_enrol_submit(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    axum::Form(f): axum::Form<CodeForm>,
) -> Response {
    match store::totp_confirm(&ctx, p.account_id, &f.code, None).await {
        Ok(()) => Redirect::to("/me?ok=totp").into_response(),
        Err(AppError::Validation(v)) => render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            "totp.html",
            page_ctx(
                &p,
                "",
                context! { mode => "retry", error => v.first().map(|f| f.message.clone()).unwrap_or_default() },
            ),
        ),
        Err(e) => PageError(e).into_response(),
    }
}

#[derive(Deserialize)]
struct TokenForm {
    name: String,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    days: Option<String>,
}

async fn token_create_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    axum::Form(f): axum::Form<TokenForm>,
) -> Result<Response, PageError> {
    let days = f.days.as_deref().and_then(|d| d.trim().parse().ok());
    let (_, clear) = store::create_token(
        &ctx,
        &p,
        &f.name,
        f.scope.as_deref().unwrap_or("read_write"),
        days,
    )
    .await?;
    render_me(&ctx, &p, &clear).await
}

async fn token_revoke_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    store::revoke_token(&ctx, &p, id).await?;
    Ok(Redirect::to("/me?ok=revoked").into_response())
}

async fn accounts_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(f): Query<store::AccountFilter>,
) -> Result<Response, PageError> {
    authorize(&ctx, &p, Perm::AccountRead, None).await?;
    let (accounts, total) = store::list(&ctx, &p.org_path, &f).await?;
    let pages = crate::web::page_count(total, f.per_page());
    let qs = |with_sort: bool| {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [("q", &f.q), ("role", &f.role), ("state", &f.state)] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                s.append_pair(k, v);
            }
        }
        if let Some(n) = f.per_page {
            s.append_pair("per_page", &n.to_string());
        }
        if with_sort {
            for (k, v) in [("sort", &f.sort), ("dir", &f.dir)] {
                if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                    s.append_pair(k, v);
                }
            }
        }
        s.finish()
    };
    Ok(render(
        "accounts.html",
        page_ctx(
            &p,
            "accounts",
            context! {
                accounts => accounts, roles => role_options(), f => f, qs => qs(true), qs_nosort => qs(false),
                page => context! { page => f.page(), total => total }, pages => pages,
                can_write => p.can(Perm::AccountWrite), can_security => p.can(Perm::AccountSecurity), can_roles => p.can(Perm::AccountRoles),
            },
        ),
    ))
}

/// Batch enable or disable of the selected accounts (`id` repeated, `action`), all or none
/// (business accounts only: an administrator's needs a second administrator, one at a time).
async fn accounts_batch_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    authorize(&ctx, &p, Perm::AccountSecurity, Some(&p.org_path)).await?;
    let pairs = form_pairs(&body);
    let ids: Vec<i64> = pairs
        .iter()
        .filter(|(k, _)| k == "id")
        .filter_map(|(_, v)| v.trim().parse().ok())
        .collect();
    if ids.is_empty() || ids.len() > 200 {
        return Err(AppError::refused("account.batch_size", "请选择1至200个账号").into());
    }
    let disabled = match field(&pairs, "action") {
        "disable" => true,
        "enable" => false,
        _ => return Err(AppError::field("action", "未知的批量操作").into()),
    };
    store::set_disabled_many(&ctx, &p.actor(), &p.org_path, &ids, disabled).await?;
    Ok(Redirect::to("/accounts?ok=saved").into_response())
}

fn role_options() -> Vec<(String, String)> {
    Role::ALL
        .iter()
        .map(|r| (r.as_str().to_string(), r.label().to_string()))
        .collect()
}

async fn account_new_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
) -> Result<Response, PageError> {
    authorize(&ctx, &p, Perm::AccountWrite, None).await?;
    Ok(render(
        "account_form.html",
        page_ctx(
            &p,
            "accounts",
            context! { errors => Vec::<FieldError>::new(), form => context!{} },
        ),
    ))
}

fn new_account_from(pairs: &[(String, String)]) -> NewAccount {
    NewAccount {
        username: field(pairs, "username").trim().to_string(),
        display_name: field(pairs, "display_name").to_string(),
        org_id: field(pairs, "org_id").trim().parse().unwrap_or(0),
        member_id: field(pairs, "member_id").trim().parse().ok(),
        roles: Vec::new(),
        password: String::new(),
    }
}

/// Creating an account: the target organisation must lie in the caller's subtree.
async fn check_account_target(
    ctx: &AppState,
    p: &crate::auth::Principal,
    org_id: i64,
) -> Result<(), AppError> {
    let org = crate::org::store::get(&ctx.db, org_id)
        .await
        .map_err(|_| AppError::field("org_id", "所属党组织不存在"))?;
    authorize(ctx, p, Perm::AccountWrite, Some(&org.path)).await
}

/// The page that shows a one-time password, once.
fn one_time_page(
    p: &crate::auth::Principal,
    account: &store::Account,
    otp: &str,
    created: bool,
) -> Response {
    render(
        "account_otp.html",
        page_ctx(
            p,
            "accounts",
            context! { account => account, otp => otp, created => created },
        ),
    )
}

async fn account_create_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    body: axum::body::Bytes,
) -> Response {
    let pairs = form_pairs(&body);
    let input = new_account_from(&pairs);
    let result = async {
        check_account_target(&ctx, &p, input.org_id).await?;
        store::create_by(&ctx, &p, &input).await
    }
    .await;
    match result {
        Ok((acc, otp)) => one_time_page(&p, &acc, &otp, true),
        Err(AppError::Validation(v)) => render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            "account_form.html",
            page_ctx(&p, "accounts", context! { errors => v, form => input }),
        ),
        Err(e @ AppError::Refused { .. }) => render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            "account_form.html",
            page_ctx(
                &p,
                "accounts",
                context! { errors => vec![FieldError::new("username", e.public_message())], form => input },
            ),
        ),
        Err(e) => PageError(e).into_response(),
    }
}

/// A change made from the accounts page: applied (a reset shows its one-time password), or
/// waiting for a second administrator.
fn outcome_page(p: &crate::auth::Principal, o: super::admin::Outcome) -> Response {
    match (&o.one_time_password, o.applied) {
        (Some(otp), _) => one_time_page(p, &o.account, otp, false),
        (None, true) => Redirect::to("/accounts?ok=saved").into_response(),
        (None, false) => Redirect::to("/accounts/requests?ok=requested").into_response(),
    }
}

async fn account_roles_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let names: Vec<String> = form_pairs(&body)
        .into_iter()
        .filter(|(k, _)| k == "roles")
        .map(|(_, v)| v)
        .collect();
    let roles = store::parse_role_names(&names)?;
    let o = super::admin::change(&ctx, &p, id, super::admin::Change::Roles { roles }).await?;
    Ok(outcome_page(&p, o))
}

async fn account_change_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path((id, what)): Path<(i64, String)>,
) -> Result<Response, PageError> {
    let change = change_of(&what)?;
    let o = super::admin::change(&ctx, &p, id, change).await?;
    Ok(outcome_page(&p, o))
}

fn change_of(what: &str) -> Result<super::admin::Change, AppError> {
    use super::admin::Change;
    Ok(match what {
        "reset" => Change::Reset,
        "unlock" => Change::Unlock,
        "disable" => Change::Disable,
        "enable" => Change::Enable,
        _ => return Err(AppError::NotFound("操作")),
    })
}

async fn requests_page(State(ctx): State<AppState>, Auth(p): Auth) -> Result<Response, PageError> {
    authorize(&ctx, &p, Perm::AccountRead, None).await?;
    let list = super::admin::requests(&ctx, &p.org_path).await?;
    Ok(render(
        "account_requests.html",
        page_ctx(
            &p,
            "accounts",
            context! { requests => list, kinds => super::admin::KINDS, roles => role_options(), can_decide => p.can(Perm::AccountApprove) },
        ),
    ))
}

async fn request_decide_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let pairs = form_pairs(&body);
    let approve = field(&pairs, "decision") == "approve";
    let o = super::admin::decide(&ctx, &p, id, approve, field(&pairs, "note")).await?;
    Ok(match o.one_time_password {
        Some(otp) => one_time_page(&p, &o.account, &otp, false),
        None => Redirect::to(if approve {
            "/accounts/requests?ok=approved"
        } else {
            "/accounts/requests?ok=rejected"
        })
        .into_response(),
    })
}

// ---- JSON API ----

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LoginBody {
    pub username: String,
    pub password: String,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct SessionBody {
    /// A session, used as `Authorization: Bearer <session>`; it ends like a browser's (idle
    /// and absolute timeouts), and may change the password and make API tokens.
    pub session: String,
    /// The second factor is still owed: `POST /api/v1/auth/totp` with this session.
    pub totp_required: bool,
    /// The password must be changed (`POST /api/v1/auth/password`) before anything else.
    pub must_change_password: bool,
}

/// Signs in by JSON (the same checks and limits as the sign-in page) and opens a session.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "accounts", request_body = LoginBody,
    responses((status = 200, body = SessionBody), (status = 401, body = crate::web::ErrorBody), (status = 429, body = crate::web::ErrorBody)))]
pub async fn api_login(
    State(ctx): State<AppState>,
    crate::web::ClientIp(ip): crate::web::ClientIp,
    Json(b): Json<LoginBody>,
) -> Response {
    match store::login(&ctx, b.username.trim(), &b.password, &ip).await {
        Ok(ok) => Json(SessionBody {
            session: ok.token,
            totp_required: ok.totp_pending,
            must_change_password: ok.must_change_password,
        })
        .into_response(),
        Err(AppError::Refused { message, .. }) => {
            let body = serde_json::json!({"code": "auth.failed", "message": message, "fields": []});
            (StatusCode::UNAUTHORIZED, Json(body)).into_response()
        }
        Err(e @ AppError::TooManyAttempts(wait)) => too_many(ApiError(e).into_response(), wait),
        Err(e) => ApiError(e).into_response(),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct CodeBody {
    pub code: String,
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string())
        .filter(|t| !t.starts_with("dj_"))
}

/// The second factor of a JSON sign-in (`Authorization: Bearer <session>`).
#[utoipa::path(post, path = "/api/v1/auth/totp", tag = "accounts", request_body = CodeBody,
    responses((status = 204), (status = 401, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_login_totp(
    State(ctx): State<AppState>,
    crate::web::ClientIp(ip): crate::web::ClientIp,
    headers: HeaderMap,
    Json(b): Json<CodeBody>,
) -> Result<Response, ApiError> {
    let token = bearer(&headers).ok_or(AppError::Unauthenticated)?;
    let p = match store::session(&ctx, &token, "").await? {
        store::SessionState::TotpPending(p) => p,
        store::SessionState::Valid(_) => return Ok(StatusCode::NO_CONTENT.into_response()),
        store::SessionState::Invalid => return Err(AppError::Unauthenticated.into()),
    };
    let (max, window) = store::ip_limit(&ctx);
    let now = ctx.clock.now().timestamp();
    if let Some(wait) = ctx.login_throttle.wait(&ip, now, max, window) {
        return Ok(too_many(
            ApiError(AppError::TooManyAttempts(wait)).into_response(),
            wait,
        ));
    }
    let th = crate::crypto::sm3_hex(token.as_bytes());
    let r = store::totp_confirm(&ctx, p.account_id, &b.code, Some(&th)).await;
    if matches!(r, Err(AppError::Validation(_))) {
        ctx.login_throttle.fail(&ip, now, max, window);
    }
    r?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct TotpSecret {
    /// The secret in base32, for an authenticator app.
    pub secret: String,
    /// The same as an `otpauth://` address (what a QR code carries).
    pub uri: String,
}

/// Starts enrolling the second factor of the signed-in session's account (an administrator
/// must, by default, before anything else): a new secret, enabled once confirmed.
#[utoipa::path(post, path = "/api/v1/auth/totp/enrol", tag = "accounts", responses((status = 200, body = TotpSecret)))]
pub async fn api_totp_enrol(
    State(ctx): State<AppState>,
    Auth(p): Auth,
) -> Result<Json<TotpSecret>, ApiError> {
    let secret = store::totp_begin(&ctx, &p).await?;
    Ok(Json(TotpSecret {
        secret: super::totp::secret_base32(&secret),
        uri: super::totp::otpauth_uri("dangjian", &p.username, &secret),
    }))
}

/// Confirms the enrolment with a code from the authenticator.
#[utoipa::path(post, path = "/api/v1/auth/totp/confirm", tag = "accounts", request_body = CodeBody,
    responses((status = 204), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_totp_confirm(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Json(b): Json<CodeBody>,
) -> Result<StatusCode, ApiError> {
    store::totp_confirm(&ctx, p.account_id, &b.code, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PasswordBody {
    pub old_password: String,
    pub new_password: String,
}

/// Changes the password of a signed-in session (never by an API token); every session and
/// token of the account ends, and a new session is returned.
#[utoipa::path(post, path = "/api/v1/auth/password", tag = "accounts", request_body = PasswordBody,
    responses((status = 200, body = SessionBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_password(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Json(b): Json<PasswordBody>,
) -> Result<Json<SessionBody>, ApiError> {
    let token = store::change_password(&ctx, &p, &b.old_password, &b.new_password).await?;
    Ok(Json(SessionBody {
        session: token,
        totp_required: false,
        must_change_password: false,
    }))
}

/// Ends a session of the JSON sign-in.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "accounts", responses((status = 204)))]
pub async fn api_logout(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    if let Some(token) = bearer(&headers) {
        store::logout(&ctx, &p, &crate::crypto::sm3_hex(token.as_bytes())).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The calling account.
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts", responses((status = 200, body = crate::auth::store::Account), (status = 401, body = crate::web::ErrorBody)))]
pub async fn api_me(
    State(ctx): State<AppState>,
    Auth(p): Auth,
) -> Result<Json<store::Account>, ApiError> {
    Ok(Json(store::get(&ctx, p.account_id).await?))
}

/// Accounts within the caller's subtree.
#[utoipa::path(get, path = "/api/v1/accounts", tag = "accounts", params(store::AccountFilter), responses((status = 200, body = [crate::auth::store::Account]), (status = 403, body = crate::web::ErrorBody)))]
pub async fn api_accounts(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(f): Query<store::AccountFilter>,
) -> Result<Response, ApiError> {
    authorize(&ctx, &p, Perm::AccountRead, None).await?;
    let (items, total) = store::list(&ctx, &p.org_path, &f).await?;
    Ok(([("x-total-count", total.to_string())], Json(items)).into_response())
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct CreatedAccount {
    pub account: store::Account,
    /// Issued by the system and shown this once; the holder must replace it at first sign-in.
    pub one_time_password: String,
}

/// Creates an account without roles (the system administrator); the system issues its
/// one-time password. Roles are granted by the security administrator.
#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", request_body = crate::auth::store::NewAccount,
    responses((status = 200, body = CreatedAccount), (status = 422, body = crate::web::ErrorBody), (status = 403, body = crate::web::ErrorBody)))]
pub async fn api_account_create(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Json(input): Json<NewAccount>,
) -> Result<Json<CreatedAccount>, ApiError> {
    check_account_target(&ctx, &p, input.org_id).await?;
    let (account, one_time_password) = store::create_by(&ctx, &p, &input).await?;
    Ok(Json(CreatedAccount {
        account,
        one_time_password,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RolesBody {
    pub roles: Vec<String>,
}

/// Sets an account's roles (the security administrator; never one's own). Granting a role
/// that reads Party data, or any change to an administrator, waits for a second
/// administrator: then `applied` is false and `request` says what waits.
#[utoipa::path(put, path = "/api/v1/accounts/{id}/roles", tag = "accounts", params(("id" = i64, Path)), request_body = RolesBody,
    responses((status = 200, body = crate::auth::admin::Outcome), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_account_roles(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<RolesBody>,
) -> Result<Json<super::admin::Outcome>, ApiError> {
    let roles = store::parse_role_names(&b.roles)?;
    Ok(Json(
        super::admin::change(&ctx, &p, id, super::admin::Change::Roles { roles }).await?,
    ))
}

async fn api_change(
    ctx: AppState,
    p: crate::auth::Principal,
    id: i64,
    what: &str,
) -> Result<Json<super::admin::Outcome>, ApiError> {
    Ok(Json(
        super::admin::change(&ctx, &p, id, change_of(what)?).await?,
    ))
}

/// Resets an account's password to a one-time password issued by the system (shown once, in
/// `one_time_password`); its sessions end and its tokens are revoked. For an account that
/// reads Party data, or an administrator, it waits for a second administrator.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/reset", tag = "accounts", params(("id" = i64, Path)), responses((status = 200, body = crate::auth::admin::Outcome)))]
pub async fn api_account_reset(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<super::admin::Outcome>, ApiError> {
    api_change(ctx, p, id, "reset").await
}

/// Unlocks an account (an administrator's waits for a second administrator).
#[utoipa::path(post, path = "/api/v1/accounts/{id}/unlock", tag = "accounts", params(("id" = i64, Path)), responses((status = 200, body = crate::auth::admin::Outcome)))]
pub async fn api_account_unlock(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<super::admin::Outcome>, ApiError> {
    api_change(ctx, p, id, "unlock").await
}

/// Disables an account, ending its sessions and tokens (an administrator's waits for a
/// second administrator).
#[utoipa::path(post, path = "/api/v1/accounts/{id}/disable", tag = "accounts", params(("id" = i64, Path)), responses((status = 200, body = crate::auth::admin::Outcome)))]
pub async fn api_account_disable(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<super::admin::Outcome>, ApiError> {
    api_change(ctx, p, id, "disable").await
}

/// Enables an account (an administrator's waits for a second administrator).
#[utoipa::path(post, path = "/api/v1/accounts/{id}/enable", tag = "accounts", params(("id" = i64, Path)), responses((status = 200, body = crate::auth::admin::Outcome)))]
pub async fn api_account_enable(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<super::admin::Outcome>, ApiError> {
    api_change(ctx, p, id, "enable").await
}

/// Changes to accounts of the caller's subtree waiting for (or decided by) a second
/// administrator.
#[utoipa::path(get, path = "/api/v1/account-requests", tag = "accounts", responses((status = 200, body = [crate::auth::admin::Request])))]
pub async fn api_requests(
    State(ctx): State<AppState>,
    Auth(p): Auth,
) -> Result<Json<Vec<super::admin::Request>>, ApiError> {
    authorize(&ctx, &p, Perm::AccountRead, None).await?;
    Ok(Json(super::admin::requests(&ctx, &p.org_path).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct DecideBody {
    pub approve: bool,
    /// Required when rejecting.
    #[serde(default)]
    pub note: String,
}

/// A second administrator approves (applies) or rejects a change another asked for.
#[utoipa::path(post, path = "/api/v1/account-requests/{id}/decide", tag = "accounts", params(("id" = i64, Path)), request_body = DecideBody,
    responses((status = 200, body = crate::auth::admin::Outcome), (status = 409, body = crate::web::ErrorBody)))]
pub async fn api_request_decide(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<DecideBody>,
) -> Result<Json<super::admin::Outcome>, ApiError> {
    Ok(Json(
        super::admin::decide(&ctx, &p, id, b.approve, &b.note).await?,
    ))
}

/// The caller's API tokens.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "accounts", responses((status = 200, body = [crate::auth::store::ApiToken])))]
pub async fn api_tokens(
    State(ctx): State<AppState>,
    Auth(p): Auth,
) -> Result<Json<Vec<store::ApiToken>>, ApiError> {
    Ok(Json(store::list_tokens(&ctx, p.account_id).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct TokenBody {
    pub name: String,
    /// `read` (reads only) or `read_write` (default).
    #[serde(default)]
    pub scope: Option<String>,
    /// Days until it expires (1–366; default the configured `token_days`, 90).
    #[serde(default)]
    pub days: Option<i64>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct NewTokenBody {
    pub token: crate::auth::store::ApiToken,
    /// Shown once; only its hash is stored.
    pub secret: String,
}

/// Creates an API token acting as the caller — from a signed-in session only (a token cannot
/// make tokens).
#[utoipa::path(post, path = "/api/v1/tokens", tag = "accounts", request_body = TokenBody, responses((status = 200, body = NewTokenBody)))]
pub async fn api_token_create(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Json(b): Json<TokenBody>,
) -> Result<Json<NewTokenBody>, ApiError> {
    let (token, secret) = store::create_token(
        &ctx,
        &p,
        &b.name,
        b.scope.as_deref().unwrap_or("read_write"),
        b.days,
    )
    .await?;
    Ok(Json(NewTokenBody { token, secret }))
}

/// Revokes one of the caller's tokens.
#[utoipa::path(post, path = "/api/v1/tokens/{id}/revoke", tag = "accounts", params(("id" = i64, Path)), responses((status = 204)))]
pub async fn api_token_revoke(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    store::revoke_token(&ctx, &p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
