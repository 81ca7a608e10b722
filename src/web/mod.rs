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
        "checkin.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/checkin.js"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("../../assets/favicon.svg"),
    ),
    (
        "echarts.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../assets/vendor/echarts-6.1.0.common.min.js"),
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
        "org_warnings.html",
        include_str!("../../templates/org_warnings.html"),
    ),
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
    (
        "account_otp.html",
        include_str!("../../templates/account_otp.html"),
    ),
    (
        "account_requests.html",
        include_str!("../../templates/account_requests.html"),
    ),
    (
        "audit_check.html",
        include_str!("../../templates/audit_check.html"),
    ),
    ("rules.html", include_str!("../../templates/rules.html")),
    (
        "rules_preview.html",
        include_str!("../../templates/rules_preview.html"),
    ),
    (
        "circulars.html",
        include_str!("../../templates/circulars.html"),
    ),
    (
        "circular.html",
        include_str!("../../templates/circular.html"),
    ),
    (
        "circular_new.html",
        include_str!("../../templates/circular_new.html"),
    ),
    ("cadres.html", include_str!("../../templates/cadres.html")),
    ("cadre.html", include_str!("../../templates/cadre.html")),
    (
        "cadre_fields.html",
        include_str!("../../templates/cadre_fields.html"),
    ),
    (
        "work_logs.html",
        include_str!("../../templates/work_logs.html"),
    ),
    (
        "meetings.html",
        include_str!("../../templates/meetings.html"),
    ),
    (
        "meeting_year.html",
        include_str!("../../templates/meeting_year.html"),
    ),
    (
        "meeting_new.html",
        include_str!("../../templates/meeting_new.html"),
    ),
    ("meeting.html", include_str!("../../templates/meeting.html")),
    (
        "elections.html",
        include_str!("../../templates/elections.html"),
    ),
    (
        "election_new.html",
        include_str!("../../templates/election_new.html"),
    ),
    (
        "election.html",
        include_str!("../../templates/election.html"),
    ),
    (
        "election_print.html",
        include_str!("../../templates/election_print.html"),
    ),
    (
        "appraisals.html",
        include_str!("../../templates/appraisals.html"),
    ),
    (
        "appraisal.html",
        include_str!("../../templates/appraisal.html"),
    ),
    (
        "appraisal_rate.html",
        include_str!("../../templates/appraisal_rate.html"),
    ),
    (
        "meeting_compliance.html",
        include_str!("../../templates/meeting_compliance.html"),
    ),
    ("attend.html", include_str!("../../templates/attend.html")),
    (
        "work_log.html",
        include_str!("../../templates/work_log.html"),
    ),
    (
        "work_log_board.html",
        include_str!("../../templates/work_log_board.html"),
    ),
    (
        "work_log_compliance.html",
        include_str!("../../templates/work_log_compliance.html"),
    ),
    (
        "work_log_dispatch.html",
        include_str!("../../templates/work_log_dispatch.html"),
    ),
    (
        "first_secretaries.html",
        include_str!("../../templates/first_secretaries.html"),
    ),
    (
        "first_secretary.html",
        include_str!("../../templates/first_secretary.html"),
    ),
    (
        "first_secretary_round.html",
        include_str!("../../templates/first_secretary_round.html"),
    ),
    (
        "fs_checkin.html",
        include_str!("../../templates/fs_checkin.html"),
    ),
    (
        "fs_presence.html",
        include_str!("../../templates/fs_presence.html"),
    ),
    (
        "fs_scores.html",
        include_str!("../../templates/fs_scores.html"),
    ),
    (
        "fs_ranking.html",
        include_str!("../../templates/fs_ranking.html"),
    ),
    (
        "fs_results.html",
        include_str!("../../templates/fs_results.html"),
    ),
    (
        "fs_public.html",
        include_str!("../../templates/fs_public.html"),
    ),
    (
        "fs_alliances.html",
        include_str!("../../templates/fs_alliances.html"),
    ),
    (
        "fs_record.html",
        include_str!("../../templates/fs_record.html"),
    ),
    ("fs_year.html", include_str!("../../templates/fs_year.html")),
    (
        "recruits.html",
        include_str!("../../templates/recruits.html"),
    ),
    ("recruit.html", include_str!("../../templates/recruit.html")),
    (
        "recruit_new.html",
        include_str!("../../templates/recruit_new.html"),
    ),
    (
        "recruit_queue.html",
        include_str!("../../templates/recruit_queue.html"),
    ),
    (
        "recruit_signed.html",
        include_str!("../../templates/recruit_signed.html"),
    ),
    (
        "recruit_stats.html",
        include_str!("../../templates/recruit_stats.html"),
    ),
    (
        "calendar.html",
        include_str!("../../templates/calendar.html"),
    ),
    (
        "recruit_verify.html",
        include_str!("../../templates/recruit_verify.html"),
    ),
    ("notices.html", include_str!("../../templates/notices.html")),
    ("talents.html", include_str!("../../templates/talents.html")),
    ("talent.html", include_str!("../../templates/talent.html")),
    ("rectify.html", include_str!("../../templates/rectify.html")),
    (
        "rectify_new.html",
        include_str!("../../templates/rectify_new.html"),
    ),
    (
        "rectify_item.html",
        include_str!("../../templates/rectify_item.html"),
    ),
    (
        "rectify_bulletin.html",
        include_str!("../../templates/rectify_bulletin.html"),
    ),
    (
        "interviews.html",
        include_str!("../../templates/interviews.html"),
    ),
    (
        "interview.html",
        include_str!("../../templates/interview.html"),
    ),
    ("reviews.html", include_str!("../../templates/reviews.html")),
    ("review.html", include_str!("../../templates/review.html")),
    (
        "review_reporter.html",
        include_str!("../../templates/review_reporter.html"),
    ),
    ("score.html", include_str!("../../templates/score.html")),
    (
        "score_code.html",
        include_str!("../../templates/score_code.html"),
    ),
    (
        "lovebank.html",
        include_str!("../../templates/lovebank.html"),
    ),
    (
        "lovebank_card.html",
        include_str!("../../templates/lovebank_card.html"),
    ),
    (
        "lovebank_statement.html",
        include_str!("../../templates/lovebank_statement.html"),
    ),
    ("points.html", include_str!("../../templates/points.html")),
    (
        "points_board.html",
        include_str!("../../templates/points_board.html"),
    ),
    (
        "points_board_rows.html",
        include_str!("../../templates/points_board_rows.html"),
    ),
    (
        "points_year.html",
        include_str!("../../templates/points_year.html"),
    ),
    (
        "points_ranking.html",
        include_str!("../../templates/points_ranking.html"),
    ),
    (
        "points_member.html",
        include_str!("../../templates/points_member.html"),
    ),
    ("stars.html", include_str!("../../templates/stars.html")),
    (
        "stars_round.html",
        include_str!("../../templates/stars_round.html"),
    ),
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
        env.add_function(
            "t",
            |state: &minijinja::State,
             msgid: String,
             args: minijinja::value::Rest<minijinja::Value>|
             -> String {
                let lang = state
                    .lookup("lang")
                    .and_then(|v| v.as_str().and_then(crate::i18n::Lang::parse))
                    .unwrap_or_default();
                let args: Vec<String> = args.iter().map(|v| v.to_string()).collect();
                crate::i18n::format(lang, &msgid, &args)
            },
        );
        // An instant (stored or serialised, in UTC) as local wall-clock text in the configured
        // zone: `{{ x|local }}` → `2026-12-06 14:21`; a format may be given.
        env.add_filter(
            "local",
            |v: minijinja::Value, fmt: Option<String>| -> String {
                let fmt = fmt.as_deref().unwrap_or("%Y-%m-%d %H:%M");
                match v.as_str() {
                    Some(s) => crate::clock::fmt_local_text(s, fmt),
                    None if v.is_none() || v.is_undefined() => String::new(),
                    None => v.to_string(),
                }
            },
        );
        // a share kept in per mille as people read it: `pct(875)` → `87.5%`, none → `—`
        env.add_function("pct", |v: minijinja::Value| -> String {
            match v.as_i64() {
                Some(p) => format!("{}.{}%", p / 10, p % 10),
                None => "—".into(),
            }
        });
        // `2026-10-10` → `周六` (a message id; pass it through `t`)
        env.add_filter("weekday", |v: String| -> String {
            chrono::NaiveDate::parse_from_str(v.get(..10).unwrap_or(""), "%Y-%m-%d")
                .map(|d| {
                    crate::calendar::WEEKDAYS
                        [chrono::Datelike::weekday(&d).num_days_from_monday() as usize]
                        .to_string()
                })
                .unwrap_or_default()
        });
        // `backfill` → `补录（经办人签名）` (a message id; pass it through `t`)
        // audit entries in words: `member.update` → 修改党员信息; an entry's changes
        env.add_filter("action_label", |code: String| -> String {
            crate::audit::words::action_label(&code)
        });
        env.add_filter(
            "changes",
            |before: String, after: String| -> minijinja::Value {
                minijinja::Value::from_serialize(crate::audit::words::changes(&before, &after))
            },
        );
        env.add_filter("region", |code: String| -> String {
            crate::member::region::name(&code)
        });
        env.add_filter("role_label", |code: String| -> String {
            crate::auth::Role::parse(&code)
                .map(|r| r.label().to_string())
                .unwrap_or(code)
        });
        env.add_filter("sign_method", |m: String| -> String {
            crate::recruit::archive::signature_method_label(&m).to_string()
        });
        env.add_filter("parse_qs", |qs: String| -> minijinja::Value {
            let pairs: Vec<(String, String)> = url::form_urlencoded::parse(qs.as_bytes())
                .filter(|(k, _)| k != "page")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            minijinja::Value::from_serialize(pairs)
        });
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
const NAV: [(Perm, &str, &str, &str); 25] = [
    (Perm::CircularReceive, "/circulars", "通知公告", "circulars"),
    (Perm::SelfRead, "/circulars", "通知公告", "circulars"),
    (Perm::OrgRead, "/orgs", "党组织", "orgs"),
    (Perm::MemberRead, "/members", "党员", "members"),
    (Perm::SelfRead, "/members/self", "我的档案", "members"),
    (Perm::MemberImport, "/members/import", "批量导入", "import"),
    (Perm::RecruitRead, "/recruits", "发展党员", "recruits"),
    (Perm::ReviewRead, "/reviews", "述职评议", "reviews"),
    (Perm::RectifyRead, "/rectify", "整改台账", "rectify"),
    (Perm::PointsRead, "/points", "积分管理", "points"),
    (Perm::PointsClaim, "/points/me", "我的积分", "points_me"),
    (Perm::PointsRead, "/stars", "星级党支部", "stars"),
    (Perm::LoveRead, "/lovebank", "爱心银行", "lovebank"),
    (
        Perm::TransferWrite,
        "/transfers",
        "组织关系转接",
        "transfers",
    ),
    (Perm::CadreRead, "/cadres", "干部名册", "cadres"),
    (Perm::MeetingRead, "/meetings", "组织生活", "meetings"),
    (Perm::SelfRead, "/meetings", "组织生活", "meetings"),
    (Perm::MeetingRead, "/appraisals", "民主评议", "appraisals"),
    (Perm::SelfRead, "/appraisals", "民主评议", "appraisals"),
    (Perm::MeetingRead, "/elections", "换届选举", "elections"),
    (Perm::CadreRead, "/work-logs", "工作记实", "work_logs"),
    (
        Perm::CadreRead,
        "/first-secretaries",
        "第一书记",
        "first_secretaries",
    ),
    (Perm::AccountRead, "/accounts", "账号管理", "accounts"),
    (Perm::RuleRead, "/rules", "规则设置", "rules"),
    (Perm::AuditRead, "/audit", "审计日志", "audit"),
];

pub fn nav_for(p: &Principal) -> Vec<NavItem> {
    let home = NavItem {
        href: "/",
        label: "工作台",
        key: "home",
    };
    let mut seen = std::collections::HashSet::new();
    std::iter::once(home)
        .chain(
            NAV.iter()
                .filter(|(perm, ..)| {
                    p.can(*perm)
                        && (!matches!(perm, Perm::SelfRead | Perm::PointsClaim)
                            || p.member_id.is_some())
                })
                .map(|(_, href, label, key)| NavItem { href, label, key }),
        )
        .filter(|n| seen.insert(n.href))
        .collect()
}

/// The number of pages of `per` rows that `total` rows fill (at least one, so a pager and
/// clamping always have a last page).
pub fn page_count(total: i64, per: i64) -> i64 {
    ((total + per.max(1) - 1) / per.max(1)).max(1)
}

/// Common template context: the principal, navigation, CSRF token.
pub fn base_ctx(p: &Principal, active: &str) -> minijinja::Value {
    minijinja::context! {
        me => p,
        // a password or a second factor still owed: the page asks for it, and nothing on it
        // (the to-do badge) fetches another page meanwhile
        owes => p.must_change_password || (p.roles.iter().any(|r| r.is_admin_trio()) && !p.totp_enabled),
        lang => p.lang.code(),
        ui_messages => crate::i18n::script_messages(p.lang),
        role_labels => p.role_labels(),
        nav => nav_for(p),
        active => active,
        csrf => p.csrf,
        posted => posted(),
    }
}

tokio::task_local! {
    /// Whether the page being answered is the answer to a form's POST (set around every page
    /// request). Such a page carries `data-posted`, and the browser then shows the address of
    /// the page the form was on instead of the POST's, so that reloading a refused form's page
    /// asks for the page again instead of sending the form a second time.
    static POSTED: bool;
}

/// See [`POSTED`]; false outside a page request.
pub fn posted() -> bool {
    POSTED.try_with(|v| *v).unwrap_or(false)
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
        if status.is_server_error() || matches!(e, AppError::Integrity(_)) {
            tracing::error!(error = %e, "request failed");
        }
        // Rendered by `error_pages` once the request's language is known.
        let mut r = status.into_response();
        retry_after(&mut r, &e);
        r.extensions_mut().insert(ErrorPage {
            code: e.code().to_string(),
            message: e.public_message(),
            fields: e.fields().to_vec(),
        });
        r
    }
}

/// An error page waiting to be rendered in the language of its request.
#[derive(Clone)]
struct ErrorPage {
    code: String,
    message: String,
    fields: Vec<crate::error::FieldError>,
}

/// Where the `Auth` extractor leaves the language it resolved for this request.
#[derive(Clone, Default)]
struct LangSlot(Arc<std::sync::Mutex<Option<crate::i18n::Lang>>>);

/// Renders `ErrorPage`s in the request's language: the account's (when the request was
/// authenticated), else the browser's.
async fn error_pages(mut req: Request, next: Next) -> Response {
    let slot = LangSlot::default();
    req.extensions_mut().insert(slot.clone());
    let browser = crate::i18n::Lang::resolve(None, accept_language(req.headers()));
    let is_page = !req.uri().path().starts_with("/api/");
    let posted = is_page
        && !matches!(
            *req.method(),
            axum::http::Method::GET | axum::http::Method::HEAD
        );
    let mut res = POSTED.scope(posted, next.run(req)).await;
    let page = match res.extensions_mut().remove::<ErrorPage>() {
        Some(p) => p,
        None => {
            // the framework's own refusals (a path or form that does not parse) come as plain
            // text echoing the input: a page answers them with its own error page instead
            let status = res.status();
            let plain = res
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_none_or(|v| v.starts_with("text/plain"));
            if !(is_page && plain && (status.is_client_error() || status.is_server_error())) {
                return res;
            }
            let (code, message) = match status {
                StatusCode::NOT_FOUND => ("not_found", crate::error::NOT_FOUND),
                StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "不支持此请求方法"),
                StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "请求过大"),
                StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                    ("unsupported_media_type", "提交的内容类型不支持")
                }
                s if s.is_server_error() => ("internal_error", "服务器内部错误，请稍后重试"),
                _ => ("bad_request", "请求的地址或表单格式有误"),
            };
            ErrorPage {
                code: code.to_string(),
                message: message.to_string(),
                fields: Vec::new(),
            }
        }
    };
    let lang = slot.0.lock().ok().and_then(|g| *g).unwrap_or(browser);
    let status = res.status();
    let retry = res.headers().get(header::RETRY_AFTER).cloned();
    let mut out = render_status(
        status,
        "error.html",
        minijinja::context! { lang => lang.code(), status => status.as_u16(), code => page.code, message => page.message, fields => page.fields, posted => posted },
    );
    if let Some(v) = retry {
        out.headers_mut().insert(header::RETRY_AFTER, v);
    }
    out
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

/// The body of a reversal (爱心银行 and 积分 entries are corrected by a reversing entry).
#[derive(serde::Deserialize, Default, utoipa::ToSchema)]
#[serde(default)]
pub struct ReverseBody {
    /// Why; required.
    pub reason: String,
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
        if status.is_server_error() || matches!(e, AppError::Integrity(_)) {
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
        let mut r = (status, axum::Json(body)).into_response();
        retry_after(&mut r, &e);
        r
    }
}

/// When a refused request may be tried again: `Retry-After` on every 429 and 503.
fn retry_after(r: &mut Response, e: &AppError) {
    let secs = match e {
        AppError::TooManyAttempts(s) | AppError::Busy(s) => Some((*s).max(1)),
        _ if r.status() == StatusCode::SERVICE_UNAVAILABLE => Some(5),
        _ => None,
    };
    if let Some(v) = secs.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
}

fn client_ip(parts: &axum::http::request::Parts, trusted: &[String]) -> String {
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let forwarded = parts
        .headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    resolve_client(peer, forwarded, trusted)
}

/// The client's address: the peer's, unless the peer is a trusted proxy — then the right-most
/// address of `X-Forwarded-For` that is not one (the left part can be written by anyone).
fn resolve_client(
    peer: Option<std::net::IpAddr>,
    forwarded: Option<&str>,
    trusted: &[String],
) -> String {
    let is_trusted = |a: std::net::IpAddr| {
        trusted
            .iter()
            .any(|t| t.parse::<std::net::IpAddr>().is_ok_and(|t| t == a))
    };
    let Some(peer) = peer else {
        return String::new();
    };
    if is_trusted(peer) {
        for hop in forwarded.unwrap_or("").rsplit(',').map(str::trim) {
            match hop.parse::<std::net::IpAddr>() {
                Ok(a) if is_trusted(a) => continue,
                Ok(a) => return a.to_string(),
                Err(_) => break,
            }
        }
    }
    peer.to_string()
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

fn accept_language(h: &HeaderMap) -> Option<&str> {
    h.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok())
}

fn note_lang(parts: &axum::http::request::Parts, lang: crate::i18n::Lang) {
    if let Some(slot) = parts.extensions.get::<LangSlot>() {
        if let Ok(mut g) = slot.0.lock() {
            *g = Some(lang);
        }
    }
}

/// The language of a request without an account (login page): from `Accept-Language`.
pub struct BrowserLang(pub crate::i18n::Lang);

impl<S: Send + Sync> FromRequestParts<S> for BrowserLang {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(BrowserLang(crate::i18n::Lang::resolve(
            None,
            accept_language(&parts.headers),
        )))
    }
}

/// The authenticated principal of a request (session cookie or API token).
pub struct Auth(pub Principal);

/// Paths usable while a password change is still owed.
const PASSWORD_PATHS: [&str; 5] = [
    "/password",
    "/logout",
    "/api/v1/me",
    "/api/v1/auth/password",
    "/api/v1/auth/logout",
];

/// What an API token may never do: make or revoke tokens, change a password or a second
/// factor (a signed-in session does those).
fn token_may_not(method: &Method, path: &str) -> bool {
    let writes = !matches!(*method, Method::GET | Method::HEAD);
    writes
        && (path.starts_with("/api/v1/tokens")
            || path.starts_with("/api/v1/auth/")
            || path.starts_with("/me")
            || path == "/password")
}

/// The checks every signed-in principal passes, by cookie or by bearer: a password change
/// owed, an administrator's second factor.
fn owed(ctx: &Ctx, p: &Principal, path: &str) -> Option<(AppError, &'static str)> {
    if p.must_change_password && !PASSWORD_PATHS.contains(&path) {
        return Some((
            AppError::refused("auth.password_change_required", "请先修改初始密码"),
            "/password",
        ));
    }
    if ctx.config.require_totp_for_admins
        && p.roles.iter().any(|r| r.is_admin_trio())
        && !p.totp_enabled
        && !path.starts_with("/me/totp")
        && !path.starts_with("/api/v1/auth/totp/")
        && !PASSWORD_PATHS.contains(&path)
    {
        return Some((
            AppError::refused("auth.totp_required", "管理员账号须先启用动态口令"),
            "/me/totp",
        ));
    }
    None
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        ctx: &AppState,
    ) -> Result<Self, Response> {
        let path = parts.uri.path().to_string();
        let is_api = path.starts_with("/api/");
        let ip = client_ip(parts, &ctx.config.trusted_proxies);
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
            let found = if token.starts_with("dj_") {
                crate::auth::store::api_token(ctx, token, &ip).await
            } else {
                // a session opened by the JSON sign-in
                match crate::auth::store::session(ctx, token, &ip).await {
                    Ok(SessionState::Valid(p)) => Ok(Some(*p)),
                    Ok(_) => Ok(None),
                    Err(e) => Err(e),
                }
            };
            return match found {
                Ok(Some(mut p)) => {
                    p.lang = crate::i18n::Lang::resolve(
                        Some(&p.locale),
                        accept_language(&parts.headers),
                    );
                    note_lang(parts, p.lang);
                    if let Some((e, _)) = owed(ctx, &p, &path) {
                        return Err(deny(e));
                    }
                    if p.via_token && token_may_not(&parts.method, &path) {
                        return Err(deny(AppError::Forbidden(
                            "API令牌不能管理令牌、密码或动态口令（请登录后办理）".into(),
                        )));
                    }
                    if p.read_only && !matches!(parts.method, Method::GET | Method::HEAD) {
                        return Err(deny(AppError::Forbidden("只读令牌不能修改数据".into())));
                    }
                    Ok(Auth(p))
                }
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
            Ok(SessionState::Valid(mut p)) => {
                p.lang =
                    crate::i18n::Lang::resolve(Some(&p.locale), accept_language(&parts.headers));
                note_lang(parts, p.lang);
                if let Some((e, to)) = owed(ctx, &p, &path) {
                    return Err(if is_api {
                        deny(e)
                    } else {
                        Redirect::to(to).into_response()
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

/// Wrong codes (a rater's, later an observer's or a respondent's) one address may try in a
/// window before it waits: the codes are long enough not to be guessed, and unlimited tries
/// are still not wanted.
pub const CODE_TRIES: u32 = 20;
pub const CODE_WINDOW_SECS: i64 = 900;

/// Refuses an address that has tried too many wrong codes lately.
pub fn code_attempt(ctx: &Ctx, ip: &str) -> Result<(), AppError> {
    let now = ctx.clock.now().timestamp();
    match ctx
        .limits
        .wait(&format!("code:{ip}"), now, CODE_TRIES, CODE_WINDOW_SECS)
    {
        Some(wait) => Err(AppError::TooManyAttempts(wait)),
        None => Ok(()),
    }
}

/// Counts a wrong code against its address.
pub fn code_failed(ctx: &Ctx, ip: &str) {
    let now = ctx.clock.now().timestamp();
    ctx.limits
        .fail(&format!("code:{ip}"), now, CODE_TRIES, CODE_WINDOW_SECS);
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
    // the token in the address is not taken: it would sit in the history and in logs
    if from_header.as_deref() == Some(expected.as_str()) {
        return next.run(req).await;
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let is_form = content_type.starts_with("application/x-www-form-urlencoded");
    let boundary = content_type
        .strip_prefix("multipart/form-data")
        .and_then(|rest| {
            rest.split(';')
                .find_map(|p| p.trim().strip_prefix("boundary="))
        })
        .map(|b| b.trim_matches('"').to_string());
    if !is_form && boundary.is_none() {
        return csrf_refusal(&path);
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, ctx.config.max_body_bytes).await {
        Ok(b) => b,
        Err(_) => return ApiError(AppError::TooLarge).into_response(),
    };
    let ok = match &boundary {
        None => {
            url::form_urlencoded::parse(&bytes).any(|(k, v)| k == "_csrf" && v == expected.as_str())
        }
        Some(b) => multipart_field(&bytes, b, "_csrf").as_deref() == Some(expected.as_bytes()),
    };
    if !ok {
        return csrf_refusal(&path);
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

/// The value of a small text field of a multipart body (the form's `_csrf`, which the
/// templates put first), found without parsing the rest.
fn multipart_field(body: &[u8], boundary: &str, name: &str) -> Option<Vec<u8>> {
    let head = format!("name=\"{name}\"");
    let delim = format!("--{boundary}");
    // the first few parts are enough: the field comes before any file
    let window = &body[..body.len().min(64 * 1024)];
    let mut at = 0;
    while let Some(pos) = find(&window[at..], delim.as_bytes()) {
        let start = at + pos + delim.len();
        let headers_end = find(&window[start..], b"\r\n\r\n")? + start;
        let headers = &window[start..headers_end];
        let value_start = headers_end + 4;
        let next = find(&window[value_start..], delim.as_bytes())? + value_start;
        if find(headers, head.as_bytes()).is_some() && find(headers, b"filename=").is_none() {
            let mut v = &window[value_start..next];
            v = v.strip_suffix(b"\r\n").unwrap_or(v);
            return Some(v.to_vec());
        }
        at = next;
    }
    None
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
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

/// The gzip copy of asset `i` of `ASSETS`, made on its first request only (ECharts shrinks
/// from 700 KB to about 240 KB).
fn gzipped(i: usize) -> Option<&'static [u8]> {
    static GZ: OnceLock<Vec<OnceLock<Option<Vec<u8>>>>> = OnceLock::new();
    let slots = GZ.get_or_init(|| ASSETS.iter().map(|_| OnceLock::new()).collect());
    slots
        .get(i)?
        .get_or_init(|| {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            e.write_all(ASSETS.get(i)?.2).ok()?;
            e.finish().ok()
        })
        .as_deref()
}

async fn asset(
    axum::extract::Path(name): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some((i, (_, ct, bytes))) = ASSETS.iter().enumerate().find(|(_, (n, _, _))| *n == name)
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let accepts_gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let cache = (header::CACHE_CONTROL, "public, max-age=31536000, immutable");
    let vary = (header::VARY, "Accept-Encoding");
    match gzipped(i).filter(|_| accepts_gzip) {
        Some(gz) => (
            [
                (header::CONTENT_TYPE, *ct),
                cache,
                vary,
                (header::CONTENT_ENCODING, "gzip"),
            ],
            gz,
        )
            .into_response(),
        None => ([(header::CONTENT_TYPE, *ct), cache, vary], *bytes).into_response(),
    }
}

async fn not_found(State(ctx): State<AppState>, req: Request) -> Response {
    // Resolve the account (if any) only so that the page is in its language.
    let (mut parts, _) = req.into_parts();
    let _ = Auth::from_request_parts(&mut parts, &ctx).await;
    PageError(AppError::NotFound("页面")).into_response()
}

/// Requests that may run long by nature (verifying the whole chain and every stored file,
/// reading an uploaded workbook or archive, writing an export): `long_request_seconds`.
fn is_long(path: &str) -> bool {
    let p = path.strip_prefix("/api/v1").unwrap_or(path);
    p == "/audit/verify"
        || p.starts_with("/members/import")
        || p.starts_with("/members/export")
        || p.starts_with("/rectify/export")
        || p == "/recruits/verify"
        || p == "/recruits/archive/verify"
        || (p.starts_with("/recruits/") && (p.ends_with("/archive") || p.ends_with("/archive.zip")))
}

/// Every read has a deadline shorter than the pool's acquire timeout: past it the answer is
/// 503 with `Retry-After` (the work is dropped at its next await), never a wait for a
/// connection that ends in a server error. Writes are not cut short (a cut commit could have
/// landed unacknowledged): they are bounded by the write gate's and the pool's timeouts, which
/// answer 503 before anything is written.
async fn deadline(State(ctx): State<AppState>, req: Request, next: Next) -> Response {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return next.run(req).await;
    }
    let long = is_long(req.uri().path());
    let is_api = req.uri().path().starts_with("/api/");
    let limit = if long {
        std::time::Duration::from_secs(ctx.config.long_request_seconds)
    } else {
        std::time::Duration::from_millis(ctx.config.request_deadline_ms)
    };
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(res) => res,
        Err(_) => {
            tracing::warn!(ms = limit.as_millis() as u64, "request past its deadline");
            if is_api {
                ApiError(AppError::Busy(5)).into_response()
            } else {
                PageError(AppError::Busy(5)).into_response()
            }
        }
    }
}

/// A GET's empty parameters (`stage=`, `year=` — what a filter form sends for "all") are
/// dropped before any handler reads the query, so that empty means absent everywhere and a
/// number's empty box is never a malformed request.
async fn drop_empty_params(mut req: Request, next: Next) -> Response {
    if req.method() == axum::http::Method::GET {
        if let Some(q) = req.uri().query() {
            let empty = |kv: &&str| kv.is_empty() || kv.ends_with('=');
            if q.split('&').any(|kv| empty(&kv)) {
                let kept: Vec<&str> = q.split('&').filter(|kv| !empty(kv)).collect();
                let path = req.uri().path();
                let uri = if kept.is_empty() {
                    path.to_string()
                } else {
                    format!("{path}?{}", kept.join("&"))
                };
                if let Ok(uri) = uri.parse() {
                    *req.uri_mut() = uri;
                }
            }
        }
    }
    next.run(req).await
}

/// Whether `text` holds `needle`, ASCII case aside.
fn holds_ci(text: &[u8], needle: &[u8]) -> bool {
    text.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// A NUL character is never typed by a person and cannot be stored as text (PostgreSQL
/// refuses it, which surfaced as a server error): a query string, form or JSON body carrying
/// one is refused as malformed (400) before any handler sees it. Files (multipart) pass.
async fn refuse_nul(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let bad = || (StatusCode::BAD_REQUEST, "请求含有无效的空字符（NUL）").into_response();
    if req
        .uri()
        .query()
        .is_some_and(|q| holds_ci(q.as_bytes(), b"%00"))
    {
        return bad();
    }
    let kind = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let json = kind.starts_with("application/json");
    let form = kind.starts_with("application/x-www-form-urlencoded");
    if !(json || form) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, state.config.max_body_bytes).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "请求过大").into_response();
    };
    if bytes.contains(&0)
        || (json && holds_ci(&bytes, b"\\u0000"))
        || (form && holds_ci(&bytes, b"%00"))
    {
        return bad();
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
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
        .route(
            "/favicon.ico",
            axum::routing::get(|| async {
                Redirect::permanent(&format!(
                    "/assets/favicon.svg?v={}",
                    asset_versions().get("favicon.svg").map(String::as_str).unwrap_or("")
                ))
            }),
        )
        .fallback(not_found)
        .layer(middleware::from_fn(drop_empty_params))
        .layer(middleware::from_fn_with_state(state.clone(), refuse_nul))
        .layer(middleware::from_fn_with_state(state.clone(), csrf_guard))
        .layer(middleware::from_fn_with_state(state.clone(), deadline))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(error_pages))
        .layer(middleware::from_fn(api::json_errors))
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

/// A handler that panicked (a defect, never expected): logged, answered as a server error
/// page (or the API's JSON error), and the connection and the server carry on.
fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let what = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("");
    tracing::error!(panic = what, "request handler panicked");
    let e = AppError::Internal(String::new());
    let mut r = StatusCode::INTERNAL_SERVER_ERROR.into_response();
    r.extensions_mut().insert(ErrorPage {
        code: e.code().to_string(),
        message: e.public_message(),
        fields: Vec::new(),
    });
    r
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

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        ctx: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(parts, &ctx.config.trusted_proxies)))
    }
}

#[cfg(test)]
mod client_tests {
    use super::resolve_client;

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let ip = |s: &str| s.parse().ok();
        let proxies = ["10.0.0.1".to_string(), "10.0.0.2".to_string()];
        let cases = [
            (ip("203.0.113.9"), None, &[][..], "203.0.113.9"),
            // an untrusted peer's header is ignored
            (
                ip("203.0.113.9"),
                Some("1.2.3.4"),
                &proxies[..],
                "203.0.113.9",
            ),
            (
                ip("10.0.0.1"),
                Some("198.51.100.7"),
                &proxies[..],
                "198.51.100.7",
            ),
            // a client cannot choose its address by prepending to the header
            (
                ip("10.0.0.1"),
                Some("1.1.1.1, 198.51.100.7, 10.0.0.2"),
                &proxies[..],
                "198.51.100.7",
            ),
            // nothing usable: the proxy itself
            (ip("10.0.0.1"), Some("garbage"), &proxies[..], "10.0.0.1"),
            (ip("10.0.0.1"), None, &proxies[..], "10.0.0.1"),
            (None, Some("1.2.3.4"), &proxies[..], ""),
        ];
        for (peer, fwd, trusted, want) in cases {
            assert_eq!(resolve_client(peer, fwd, trusted), want, "{peer:?} {fwd:?}");
        }
    }
}

#[cfg(test)]
mod catalogue_tests {
    //! The message catalogue stays complete: every UI string of a template goes through
    //! `t(…)`, and every message id (from templates and from Rust label tables) has English.

    use super::TEMPLATES;
    use std::collections::BTreeSet;

    fn is_han(c: char) -> bool {
        ('\u{4e00}'..='\u{9fff}').contains(&c)
    }

    /// The string literals passed as the first argument of `t(…)` in a template.
    fn template_msgids(src: &str) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        let b = src.as_bytes();
        let mut i = 0;
        while let Some(pos) = src[i..].find("t(") {
            let at = i + pos;
            i = at + 2;
            let prev_ok = at == 0 || !(b[at - 1].is_ascii_alphanumeric() || b[at - 1] == b'_');
            let Some(&q) = b.get(at + 2) else { break };
            if !prev_ok || (q != b'"' && q != b'\'') {
                continue;
            }
            let body_start = at + 3;
            let Some(len) = src[body_start..].find(q as char) else {
                break;
            };
            let line = src[..at].matches('\n').count() + 1;
            out.push((src[body_start..body_start + len].to_string(), line));
            i = body_start + len + 1;
        }
        out
    }

    /// A template line with Chinese text outside `t(…)` (comments excluded).
    fn untranslated_lines(src: &str) -> Vec<(usize, String)> {
        let mut stripped = src.to_string();
        for (id, _) in template_msgids(src) {
            stripped = stripped
                .replacen(&format!("t(\"{id}\""), "t(\"\"", 1)
                .replacen(&format!("t('{id}'"), "t(''", 1);
        }
        while let (Some(a), Some(z)) = (stripped.find("{#"), stripped.find("#}")) {
            if z < a {
                break;
            }
            stripped.replace_range(a..z + 2, "");
        }
        stripped
            .lines()
            .enumerate()
            .filter(|(_, l)| l.chars().any(is_han))
            .map(|(n, l)| (n + 1, l.trim().to_string()))
            .collect()
    }

    /// Labels that Rust hands to templates, which pass them through `t`.
    fn rust_msgids() -> Vec<&'static str> {
        let mut v: Vec<&'static str> = Vec::new();
        v.extend(crate::org::OrgKind::ALL.iter().map(|k| k.label()));
        v.extend(crate::org::OrgLevel::ALL.iter().map(|k| k.label()));
        v.extend(crate::member::Status::ALL.iter().map(|k| k.label()));
        v.extend(crate::member::GridRole::ALL.iter().map(|k| k.label()));
        v.extend(["男", "女", "未知"]);
        v.extend(crate::member::AGE_BANDS.iter().map(|a| a.1));
        v.extend(crate::auth::Role::ALL.iter().map(|r| r.label()));
        v.extend(crate::member::transfer::STATUSES.iter().map(|s| s.1));
        v.extend(crate::member::io::PHASES);
        v.extend(crate::org::store::WARNING_LABELS.iter().map(|s| s.1));
        v.extend(crate::i18n::SCRIPT_MESSAGES.iter().map(|s| s.1));
        v.extend(crate::i18n::LOCALE_SETTINGS.iter().map(|s| s.1));
        v.extend(super::NAV.iter().map(|n| n.2));
        v.extend(super::pages::RESERVED_PANELS);
        v.extend(super::pages::PANEL_TITLES);
        v.extend(crate::recruit::STEPS.iter().map(|s| s.name));
        v.extend(crate::recruit::STAGES.iter().map(|s| s.1));
        v.extend(crate::recruit::STATUSES.iter().map(|s| s.1));
        v.extend(crate::recruit::CHANNELS.iter().map(|s| s.1));
        v.extend(crate::recruit::FULL_OUTCOMES.iter().map(|s| s.1));
        v.extend(crate::recruit::Signer::ALL.iter().map(|s| s.label()));
        v.extend(crate::recruit::archive::DOC_KINDS);
        v.extend(crate::recruit::rules::DUE_LABELS);
        v.extend(crate::calendar::WEEKDAYS);
        v.extend(crate::auth::admin::KINDS.iter().map(|k| k.1));
        v.extend(crate::member::discipline::KINDS.iter().map(|k| k.1));
        v.extend(
            crate::recruit::archive::SIGNATURE_METHODS
                .iter()
                .map(|k| k.1),
        );
        v.push("其他方式");
        v.extend(crate::scheduler::LABELS);
        v.extend(crate::obligation::CADENCES.iter().map(|c| c.label));
        v.push(crate::calendar::MISSING_YEAR);
        for table in [
            &crate::first_secretary::ANNUAL_GRADES,
            &crate::first_secretary::GUIDANCE_METHODS,
            &crate::recruit::talent::POOLS[..],
            &crate::recruit::talent::CHANNELS,
            &crate::recruit::talent::STATUSES,
            &crate::rectification::SOURCES,
            &crate::rectification::STATUSES,
            &crate::cadre::RANKS,
            &crate::cadre::CATEGORIES,
            &crate::cadre::STATUSES,
            &crate::work_log::OUTCOMES,
            &crate::meeting::KINDS,
            &crate::meeting::PERIODS,
            &crate::meeting::OBSERVERS,
            &crate::meeting::STATUSES,
            &crate::meeting::ATTENDANCE,
            &crate::meeting::LIGHTS,
            &crate::meeting::TALK_CATEGORIES,
            &crate::election::STATUSES,
            &crate::appraisal::STATUSES,
            &crate::appraisal::HANDLINGS,
            &crate::election::ROLES,
            &crate::election::EXTENSION_STATUSES,
            &crate::work_log::store::STATUSES,
            &crate::obligation::STATUSES,
            &crate::rectification::UPDATE_KINDS,
            &crate::rectification::INTERVIEW_STATUSES,
            &crate::review::CHECKLIST,
            &crate::review::CAMPAIGN_STATUSES,
            &crate::review::REPORT_STATUSES,
            &crate::points::SUBJECTS,
            &crate::points::PERIODS,
            &crate::points::AWARDERS,
            &crate::points::CLAIM_STATUSES,
            &crate::stars::store::STATUSES,
            &crate::first_secretary::LEVELS,
            &crate::first_secretary::STATUSES,
            &crate::first_secretary::TUTOR_ROLES,
            &crate::first_secretary::KINDS,
            &crate::first_secretary::LEAVE_STATUSES,
            &crate::first_secretary::APPROVERS,
            &crate::first_secretary::CHECK_METHODS,
            &crate::first_secretary::LEDGER_COLORS,
            &crate::first_secretary::ACTIVITIES,
            &crate::first_secretary::LEDGER_CATEGORIES,
            &crate::first_secretary::CHECK_RESULTS,
        ] {
            v.extend(table.iter().map(|s| s.1));
        }
        {
            use crate::rules::RuleKind;
            v.extend([
                crate::rules::BranchRules::LABEL,
                crate::rules::MemberRules::LABEL,
                crate::recruit::rules::RecruitRules::LABEL,
                crate::rectification::RectifyRules::LABEL,
                crate::review::ReviewRules::LABEL,
                crate::love_bank::LoveRules::LABEL,
                crate::points::PointsRules::LABEL,
                crate::stars::StarRules::LABEL,
            ]);
        }
        v
    }

    #[test]
    fn templates_have_no_text_outside_the_catalogue() {
        let mut bad = Vec::new();
        for (name, src) in TEMPLATES {
            for (line, text) in untranslated_lines(src) {
                bad.push(format!("{name}:{line}: {text}"));
            }
        }
        assert!(
            bad.is_empty(),
            "Chinese text outside t(…):\n{}",
            bad.join("\n")
        );
    }

    #[test]
    fn every_message_has_an_english_translation() {
        let en = crate::i18n::english();
        let mut ids: BTreeSet<String> = BTreeSet::new();
        for (_, src) in TEMPLATES {
            ids.extend(template_msgids(src).into_iter().map(|(id, _)| id));
        }
        ids.extend(rust_msgids().into_iter().map(str::to_string));
        let missing: Vec<&String> = ids
            .iter()
            .filter(|id| id.chars().any(is_han) && !en.contains_key(id.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "{} message ids lack English:\n{}",
            missing.len(),
            missing
                .iter()
                .map(|m| format!("{:?} = \"\"", m))
                .collect::<Vec<_>>()
                .join("\n")
        );
        // Placeholders survive translation.
        for (id, text) in en {
            for i in 0..4 {
                let p = format!("{{{i}}}");
                assert_eq!(
                    id.contains(&p),
                    text.contains(&p),
                    "placeholder {p} in {id:?}"
                );
            }
        }
        // No stale entries: every translation is used somewhere.
        let stale: Vec<&String> = en.keys().filter(|k| !ids.contains(*k)).collect();
        assert!(stale.is_empty(), "unused translations: {stale:?}");
    }

    #[test]
    fn the_extractor_sees_both_quote_styles_and_placeholders() {
        let ids = template_msgids(r#"{{ t("甲") }} x t('乙 {0}', a) {{ list(1) }} {{ it("丙") }}"#);
        let ids: Vec<String> = ids.into_iter().map(|x| x.0).collect();
        assert_eq!(ids, ["甲", "乙 {0}"]);
        assert_eq!(
            untranslated_lines("<p>{{ t(\"甲\") }}</p>\n<p>乙</p>{# 丙 #}").len(),
            1
        );
    }
}

#[cfg(test)]
mod paging_tests {
    #[test]
    fn page_count_at_the_edges() {
        for (total, per, want) in [
            (0, 50, 1),
            (1, 50, 1),
            (49, 50, 1),
            (50, 50, 1),
            (51, 50, 2),
            (100, 50, 2),
            (101, 50, 3),
            (5, 0, 5),
        ] {
            assert_eq!(super::page_count(total, per), want, "{total}/{per}");
        }
    }
}

/// A `Content-Disposition` naming a download in Chinese: the UTF-8 name (RFC 6266/5987) and
/// an ASCII fallback for old clients; quotes, slashes and control characters never pass.
/// A download's name: the uploaded file's own name when it has the content's extension,
/// else `fallback.ext`.
pub fn download_name(fallback: &str, uploaded: &str, ext: &str) -> String {
    let own = uploaded.trim();
    if !own.is_empty() && own.to_lowercase().ends_with(&format!(".{ext}")) {
        own.to_string()
    } else {
        format!("{fallback}.{ext}")
    }
}

pub fn attachment_name(name: &str) -> String {
    let clean: String = name
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '\\' | '/'))
        .collect();
    let ascii: String = clean
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded = percent_encoding::utf8_percent_encode(&clean, percent_encoding::NON_ALPHANUMERIC);
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// What [`csv_export`] writes and records.
pub struct CsvExport<'a> {
    /// The audit action, e.g. `org.warnings_export`.
    pub action: &'static str,
    pub object_type: &'static str,
    /// The file's name before its time stamp, e.g. 有提醒的党支部.
    pub title: String,
    pub header: &'a [&'a str],
    pub rows: Vec<Vec<String>>,
    /// What was asked for (filters, ids), as the audit record keeps it.
    pub asked: serde_json::Value,
}

/// A list as the CSV a department prints or sends upward: the header and rows written through
/// [`crate::csvsafe`] (formulas made text, a BOM for Excel), the export recorded in the audit
/// log (`action`, what was asked for and how many rows), the file named in Chinese with the
/// local time, e.g. `有提醒的党支部-202612061530.csv`.
pub async fn csv_export(
    ctx: &crate::Ctx,
    p: &Principal,
    e: CsvExport<'_>,
) -> Result<Response, AppError> {
    let CsvExport {
        action,
        object_type,
        title,
        header,
        rows,
        asked,
    } = e;
    let mut w = crate::csvsafe::Writer::new();
    w.row(header.iter())?;
    let n = rows.len();
    for r in rows {
        w.row(r)?;
    }
    let bytes = w.finish()?;
    crate::audit::record(
        &ctx.db,
        &p.actor(),
        crate::audit::NewEntry {
            action,
            object_type,
            object_id: String::new(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"asked": asked, "rows": n}),
        },
    )
    .await?;
    let name = format!(
        "{title}-{}.csv",
        crate::clock::fmt_local(ctx.clock.now(), "%Y%m%d%H%M")
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, attachment_name(&name)),
        ],
        bytes,
    )
        .into_response())
}

/// Reads a multipart form: its text fields, and the file field `file` (name, bytes).
pub async fn read_multipart(
    mut mp: axum::extract::Multipart,
) -> Result<(std::collections::HashMap<String, String>, String, Vec<u8>), AppError> {
    // Over the body limit: 413, like any other body; anything else is a broken upload.
    let refused = |e: axum::extract::multipart::MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::TooLarge
        } else {
            AppError::field("file", "上传失败或格式有误")
        }
    };
    let mut fields = std::collections::HashMap::new();
    let mut file = (String::new(), Vec::new());
    while let Some(field) = mp.next_field().await.map_err(refused)? {
        let name = field.name().unwrap_or("").to_string();
        if name == "file" {
            let fname = field.file_name().unwrap_or("").to_string();
            let bytes = field.bytes().await.map_err(refused)?;
            file = (fname, bytes.to_vec());
        } else {
            let v = field.text().await.map_err(refused)?;
            fields.insert(name, v);
        }
    }
    Ok((fields, file.0, file.1))
}

/// Fields of a posted form, read leniently: absent or unparsable values come back empty, zero
/// or `None`, and the domain's checks then name the field to fix.
pub mod form {
    use chrono::NaiveDate;
    use std::collections::HashMap;

    pub type Fields = HashMap<String, String>;

    /// A query's date that a form sends empty when not filled: empty is none, anything else
    /// must be a date (`YYYY-MM-DD`).
    pub fn empty_as_none<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<NaiveDate>, D::Error> {
        let s: Option<String> = serde::Deserialize::deserialize(d)?;
        match s.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(v) => NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map(Some)
                .map_err(serde::de::Error::custom),
        }
    }

    pub fn text(f: &Fields, k: &str) -> String {
        f.get(k).cloned().unwrap_or_default()
    }

    pub fn opt_num(f: &Fields, k: &str) -> Option<i64> {
        f.get(k).and_then(|v| v.trim().parse().ok())
    }

    pub fn num(f: &Fields, k: &str) -> i64 {
        opt_num(f, k).unwrap_or(0)
    }

    pub fn date(f: &Fields, k: &str) -> Option<NaiveDate> {
        f.get(k)
            .and_then(|v| NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d").ok())
    }
}

/// A refusal shown on a form: field errors as they are, any other refusal under
/// `default_field`.
pub fn field_errors(e: AppError, default_field: &str) -> Vec<crate::error::FieldError> {
    match e {
        AppError::Validation(v) => v,
        other => vec![crate::error::FieldError::new(
            default_field,
            other.public_message(),
        )],
    }
}
