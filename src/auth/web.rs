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
        .route("/accounts/{id}/roles", post(account_roles_page))
        .route("/accounts/{id}/disable", post(account_disable_page))
        .route("/accounts/{id}/enable", post(account_enable_page))
        .route("/accounts/{id}/reset", post(account_reset_page))
}

pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/me", get(api_me))
        .route(
            "/api/v1/accounts",
            get(api_accounts).post(api_account_create),
        )
        .route("/api/v1/accounts/{id}/roles", put(api_account_roles))
        .route("/api/v1/accounts/{id}/disable", post(api_account_disable))
        .route("/api/v1/accounts/{id}/enable", post(api_account_enable))
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

async fn totp_login_page(BrowserLang(lang): BrowserLang) -> Response {
    render(
        "totp.html",
        context! { lang => lang.code(), mode => "login", error => "" },
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
                context! { lang => lang.code(), mode => "login", error => e.to_string() },
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
            context! { lang => lang.code(), mode => "login", error => v.first().map(|f| f.message.clone()).unwrap_or_default() },
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

async fn password_page(Auth(p): Auth) -> Response {
    render(
        "password.html",
        page_ctx(&p, "", context! { errors => Vec::<FieldError>::new() }),
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
    headers: HeaderMap,
    axum::Form(f): axum::Form<PasswordForm>,
) -> Response {
    if f.new_password != f.confirm_password {
        return render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            "password.html",
            page_ctx(
                &p,
                "",
                context! { errors => vec![FieldError::new("confirm_password", "两次输入的新密码不一致")] },
            ),
        );
    }
    let keep = crate::web::cookie_value(&headers, crate::web::SESSION_COOKIE)
        .map(|t| crate::crypto::sm3_hex(t.as_bytes()))
        .unwrap_or_default();
    match store::change_password(&ctx, &p, &f.old_password, &f.new_password, &keep).await {
        Ok(()) => Redirect::to("/?ok=password").into_response(),
        Err(AppError::Validation(v)) => render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            "password.html",
            page_ctx(&p, "", context! { errors => v }),
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
}

async fn token_create_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    axum::Form(f): axum::Form<TokenForm>,
) -> Result<Response, PageError> {
    let (_, clear) = store::create_token(&ctx, &p, &f.name).await?;
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
                can_write => p.can(Perm::AccountWrite), can_security => p.can(Perm::AccountSecurity),
            },
        ),
    ))
}

/// Batch enable or disable of the selected accounts (`id` repeated, `action`), all or none.
async fn accounts_batch_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    authorize(&ctx, &p, Perm::AccountWrite, Some(&p.org_path)).await?;
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
            context! { roles => role_options(), errors => Vec::<FieldError>::new(), form => context!{} },
        ),
    ))
}

fn new_account_from(pairs: &[(String, String)]) -> NewAccount {
    NewAccount {
        username: field(pairs, "username").trim().to_string(),
        display_name: field(pairs, "display_name").to_string(),
        org_id: field(pairs, "org_id").trim().parse().unwrap_or(0),
        member_id: field(pairs, "member_id").trim().parse().ok(),
        roles: pairs
            .iter()
            .filter(|(k, _)| k == "roles")
            .map(|(_, v)| v.clone())
            .collect(),
        password: field(pairs, "password").to_string(),
    }
}

/// Creating or changing an account: the target organisation must lie in the caller's subtree.
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

async fn account_create_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    body: axum::body::Bytes,
) -> Response {
    let pairs = form_pairs(&body);
    let input = new_account_from(&pairs);
    let result = async {
        check_account_target(&ctx, &p, input.org_id).await?;
        store::create(&ctx, &p.actor(), &input).await
    }
    .await;
    match result {
        Ok(_) => Redirect::to("/accounts?ok=created").into_response(),
        Err(AppError::Validation(v)) => render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            "account_form.html",
            page_ctx(
                &p,
                "accounts",
                context! { roles => role_options(), errors => v, form => input },
            ),
        ),
        Err(e @ AppError::Refused { .. }) => render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            "account_form.html",
            page_ctx(
                &p,
                "accounts",
                context! { roles => role_options(), errors => vec![FieldError::new("roles", e.public_message())], form => input },
            ),
        ),
        Err(e) => PageError(e).into_response(),
    }
}

async fn target_account(
    ctx: &AppState,
    p: &crate::auth::Principal,
    id: i64,
    perm: Perm,
) -> Result<store::Account, AppError> {
    let acc = store::get(ctx, id).await?;
    authorize(ctx, p, perm, Some(&acc.org_path)).await?;
    Ok(acc)
}

async fn account_roles_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    target_account(&ctx, &p, id, Perm::AccountWrite).await?;
    let roles: Vec<String> = form_pairs(&body)
        .into_iter()
        .filter(|(k, _)| k == "roles")
        .map(|(_, v)| v)
        .collect();
    store::set_roles(&ctx, &p.actor(), id, &roles).await?;
    Ok(Redirect::to("/accounts?ok=saved").into_response())
}

async fn account_disable_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    target_account(&ctx, &p, id, Perm::AccountWrite).await?;
    store::set_disabled(&ctx, &p.actor(), id, true).await?;
    Ok(Redirect::to("/accounts?ok=saved").into_response())
}

async fn account_enable_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    target_account(&ctx, &p, id, Perm::AccountWrite).await?;
    store::set_disabled(&ctx, &p.actor(), id, false).await?;
    Ok(Redirect::to("/accounts?ok=saved").into_response())
}

async fn account_reset_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    target_account(&ctx, &p, id, Perm::AccountSecurity).await?;
    let pairs = form_pairs(&body);
    store::reset_password(&ctx, &p.actor(), id, field(&pairs, "password")).await?;
    Ok(Redirect::to("/accounts?ok=reset").into_response())
}

// ---- JSON API ----

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

/// Creates an account (三员 roles are exclusive).
#[utoipa::path(post, path = "/api/v1/accounts", tag = "accounts", request_body = crate::auth::store::NewAccount,
    responses((status = 200, body = crate::auth::store::Account), (status = 422, body = crate::web::ErrorBody), (status = 403, body = crate::web::ErrorBody)))]
pub async fn api_account_create(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Json(input): Json<NewAccount>,
) -> Result<Json<store::Account>, ApiError> {
    check_account_target(&ctx, &p, input.org_id).await?;
    Ok(Json(store::create(&ctx, &p.actor(), &input).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct RolesBody {
    pub roles: Vec<String>,
}

/// Replaces an account's roles (never one's own).
#[utoipa::path(put, path = "/api/v1/accounts/{id}/roles", tag = "accounts", params(("id" = i64, Path)), request_body = RolesBody,
    responses((status = 200, body = crate::auth::store::Account), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_account_roles(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<RolesBody>,
) -> Result<Json<store::Account>, ApiError> {
    target_account(&ctx, &p, id, Perm::AccountWrite).await?;
    Ok(Json(
        store::set_roles(&ctx, &p.actor(), id, &b.roles).await?,
    ))
}

/// Disables an account, ending its sessions and tokens.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/disable", tag = "accounts", params(("id" = i64, Path)), responses((status = 200, body = crate::auth::store::Account)))]
pub async fn api_account_disable(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<store::Account>, ApiError> {
    target_account(&ctx, &p, id, Perm::AccountWrite).await?;
    Ok(Json(store::set_disabled(&ctx, &p.actor(), id, true).await?))
}

/// Enables an account.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/enable", tag = "accounts", params(("id" = i64, Path)), responses((status = 200, body = crate::auth::store::Account)))]
pub async fn api_account_enable(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<store::Account>, ApiError> {
    target_account(&ctx, &p, id, Perm::AccountWrite).await?;
    Ok(Json(
        store::set_disabled(&ctx, &p.actor(), id, false).await?,
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
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct NewTokenBody {
    pub token: crate::auth::store::ApiToken,
    /// Shown once; only its hash is stored.
    pub secret: String,
}

/// Creates an API token acting as the caller.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "accounts", request_body = TokenBody, responses((status = 200, body = NewTokenBody)))]
pub async fn api_token_create(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Json(b): Json<TokenBody>,
) -> Result<Json<NewTokenBody>, ApiError> {
    let (token, secret) = store::create_token(&ctx, &p, &b.name).await?;
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
