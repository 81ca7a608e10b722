//! The JSON API under `/api/v1`, its OpenAPI document and Swagger UI.

use super::AppState;
use axum::Router;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "dangjian API", version = "1", description = "党建平台接口。认证：浏览器会话（Cookie + X-CSRF-Token）或 `Authorization: Bearer <API令牌>`。错误返回 `{code, message, fields}`。"),
    paths(
        crate::auth::web::api_login, crate::auth::web::api_login_totp, crate::auth::web::api_totp_enrol, crate::auth::web::api_totp_confirm, crate::auth::web::api_password, crate::auth::web::api_logout,
        crate::auth::web::api_me, crate::auth::web::api_accounts, crate::auth::web::api_account_create,
        crate::auth::web::api_account_roles, crate::auth::web::api_account_disable, crate::auth::web::api_account_enable,
        crate::auth::web::api_account_reset, crate::auth::web::api_account_unlock, crate::auth::web::api_requests, crate::auth::web::api_request_decide,
        crate::auth::web::api_tokens, crate::auth::web::api_token_create, crate::auth::web::api_token_revoke,
        crate::org::web::api_get, crate::org::web::api_children, crate::org::web::api_search, crate::org::web::api_create,
        crate::org::web::api_update, crate::org::web::api_move, crate::org::web::api_dissolve, crate::org::web::api_history,
        crate::member::web::api_list, crate::member::web::api_get, crate::member::web::api_create, crate::member::web::api_update,
        crate::member::web::api_unmask, crate::member::web::api_history, crate::member::web::export,
        crate::member::web::api_discipline, crate::member::web::api_discipline_record, crate::member::web::api_discipline_revoke,
        crate::member::web::api_transfers, crate::member::web::api_transfer_send, crate::member::web::api_transfer_decide,
        crate::audit::web::api_list, crate::audit::web::api_verify,
        crate::rules::web::api_get, crate::rules::web::api_publish,
        crate::calendar::web::api_year, crate::calendar::web::api_replace,
        crate::recruit::web::api_list, crate::recruit::web::api_apply, crate::recruit::web::api_get, crate::recruit::web::api_step,
        crate::recruit::web::api_sign, crate::recruit::web::api_correct, crate::recruit::web::api_evaluate, crate::recruit::web::api_revisit,
        crate::recruit::web::api_publicity, crate::recruit::web::api_objection, crate::recruit::web::api_answer,
        crate::recruit::web::api_upload, crate::recruit::web::api_archive, crate::recruit::web::api_finish_backfill, crate::recruit::web::api_verify,
        crate::recruit::web::api_board, crate::recruit::web::api_queue, crate::recruit::web::api_stats, crate::recruit::web::api_notices,
        crate::recruit::talent_web::api_list, crate::recruit::talent_web::api_summary, crate::recruit::talent_web::api_add,
        crate::recruit::talent_web::api_get, crate::recruit::talent_web::api_contact, crate::recruit::talent_web::api_withdraw,
        crate::rectification::web::api_list, crate::rectification::web::api_create, crate::rectification::web::api_get,
        crate::rectification::web::api_update, crate::rectification::web::api_update_with_file, crate::rectification::web::api_board,
        crate::rectification::web::api_bulletin, crate::rectification::web::api_export, crate::rectification::web::api_interviews,
        crate::rectification::web::api_interview_create, crate::rectification::web::api_interview, crate::rectification::web::api_interview_held,
        crate::review::web::api_list, crate::review::web::api_create, crate::review::web::api_schemes, crate::review::web::api_scheme_save, crate::review::web::api_get,
        crate::review::web::api_rater_add, crate::review::web::api_open, crate::review::web::api_close, crate::review::web::api_reporter,
        crate::review::web::api_report, crate::review::web::api_review, crate::review::web::api_critique, crate::review::web::api_decision,
        crate::review::web::api_desk_score, crate::review::web::api_rater, crate::review::web::api_score,
        crate::love_bank::web::api_cards, crate::love_bank::web::api_issue, crate::love_bank::web::api_card, crate::love_bank::web::api_earn,
        crate::love_bank::web::api_redeem, crate::love_bank::web::api_reverse, crate::love_bank::web::api_goods, crate::love_bank::web::api_add_goods,
        crate::love_bank::web::api_stock, crate::love_bank::web::api_statement,
        crate::points::web::api_indicators, crate::points::web::api_award, crate::points::web::api_award_with_file, crate::points::web::api_award_many,
        crate::points::web::api_entry, crate::points::web::api_reverse, crate::points::web::api_claims, crate::points::web::api_claim,
        crate::points::web::api_claim_with_file, crate::points::web::api_decide, crate::points::web::api_closes, crate::points::web::api_close,
        crate::points::web::api_board, crate::points::web::api_ranking, crate::points::web::api_member, crate::points::web::api_me,
        crate::points::web::api_year, crate::points::web::api_confirm,
        crate::stars::web::api_rounds, crate::stars::web::api_create, crate::stars::web::api_round, crate::stars::web::api_score,
        crate::stars::web::api_publish, crate::stars::web::api_finalise, crate::stars::web::api_history,
        crate::web::pages::api_workbench,
        crate::circular::web::api_inbox, crate::circular::web::api_sent, crate::circular::web::api_publish, crate::circular::web::api_get,
        crate::circular::web::api_receipts, crate::circular::web::api_receive, crate::circular::web::api_remind, crate::circular::web::api_withdraw,
        crate::cadre::web::api_list, crate::cadre::web::api_create, crate::cadre::web::api_get, crate::cadre::web::api_update, crate::cadre::web::api_obligations,
        crate::work_log::web::api_file, crate::work_log::web::api_mine, crate::work_log::web::api_get, crate::work_log::web::api_return, crate::work_log::web::api_addendum,
        crate::work_log::web::api_board, crate::work_log::web::api_compliance, crate::work_log::web::api_dispatch,
        crate::meeting::web::api_create, crate::meeting::web::api_mine, crate::meeting::web::api_sign_in, crate::meeting::web::api_plan,
        crate::meeting::web::api_year, crate::meeting::web::api_compliance, crate::meeting::web::api_get, crate::meeting::web::api_update, crate::meeting::web::api_notify,
        crate::meeting::web::api_cancel, crate::meeting::web::api_mark, crate::meeting::web::api_leave, crate::meeting::web::api_file,
        crate::meeting::web::api_addendum, crate::meeting::web::api_makeup, crate::meeting::web::api_decision, crate::meeting::web::api_sitting, crate::meeting::web::api_attend, crate::meeting::web::api_talks, crate::meeting::web::api_talk,
        crate::election::web::api_board, crate::election::web::api_create, crate::election::web::api_committee, crate::election::web::api_get,
        crate::appraisal::web::api_board, crate::appraisal::web::api_create, crate::appraisal::web::api_mine, crate::appraisal::web::api_results,
        crate::appraisal::web::api_get, crate::appraisal::web::api_self, crate::appraisal::web::api_rating, crate::appraisal::web::api_rate,
        crate::appraisal::web::api_paper, crate::appraisal::web::api_decide, crate::appraisal::web::api_handle, crate::appraisal::web::api_cancel,
        crate::election::web::api_count, crate::election::web::api_decide, crate::election::web::api_cancel, crate::election::web::api_ask, crate::election::web::api_extension_decide,
        crate::first_secretary::web::api_rounds, crate::first_secretary::web::api_round, crate::first_secretary::web::api_list, crate::first_secretary::web::api_nominate,
        crate::first_secretary::web::api_get, crate::first_secretary::web::api_assign, crate::first_secretary::web::api_decide, crate::first_secretary::web::api_tutor,
        crate::first_secretary::web::api_tutor_remove, crate::first_secretary::web::api_checkins, crate::first_secretary::web::api_checkin, crate::first_secretary::web::api_presence,
        crate::first_secretary::web::api_leave, crate::first_secretary::web::api_leave_decide, crate::first_secretary::web::api_leave_cancel,
        crate::first_secretary::web::api_leaves, crate::first_secretary::web::api_spot_checks, crate::first_secretary::web::api_spot_check,
        crate::first_secretary::web::api_ledger, crate::first_secretary::web::api_ledger_add, crate::first_secretary::web::api_ledger_reverse,
        crate::first_secretary::web::api_activities, crate::first_secretary::web::api_activity,
        crate::first_secretary::web::api_pledges, crate::first_secretary::web::api_pledge_add, crate::first_secretary::web::api_pledge_progress, crate::first_secretary::web::api_pledge_remove,
        crate::first_secretary::web::api_scores, crate::first_secretary::web::api_score, crate::first_secretary::web::api_month_scores,
        crate::first_secretary::web::api_close, crate::first_secretary::web::api_ranking, crate::first_secretary::web::api_publish,
        crate::first_secretary::web::api_assessments, crate::first_secretary::web::api_assess, crate::first_secretary::web::api_year, crate::first_secretary::web::api_confirm_year,
        crate::first_secretary::web::api_reports, crate::first_secretary::web::api_report, crate::first_secretary::web::api_guidance,
        crate::first_secretary::web::api_guidance_add, crate::first_secretary::web::api_results, crate::first_secretary::web::api_public,
        crate::first_secretary::web::api_party_relation, crate::first_secretary::web::api_party_relation_send,
        crate::first_secretary::web::api_alliances, crate::first_secretary::web::api_alliance_create, crate::first_secretary::web::api_alliance,
        crate::first_secretary::web::api_alliance_members, crate::first_secretary::web::api_contest, crate::first_secretary::web::api_alliance_remove,
    ),
    components(schemas(crate::rules::web::RuleKindName, crate::first_secretary::web::DecideAction)),
    modifiers(&CommonResponses),
    tags(
        (name = "orgs", description = "党组织"), (name = "members", description = "党员"),
        (name = "transfers", description = "组织关系转接"), (name = "accounts", description = "账号与令牌"),
        (name = "audit", description = "审计日志"), (name = "rules", description = "规则集"),
        (name = "calendar", description = "节假日日历（工作日计算）"),
        (name = "recruits", description = "发展党员（25步全程纪实）"),
        (name = "talents", description = "向阳计划人才库"),
        (name = "rectify", description = "整改台账、销号管理与约谈台账"),
        (name = "reviews", description = "述职评议考核"),
        (name = "lovebank", description = "爱心银行"),
        (name = "points", description = "积分管理：一事一计分、一月一评分、一季一亮分、一年一兑分"),
        (name = "stars", description = "星级党支部评定"),
        (name = "workbench", description = "工作台：我的待办"),
        (name = "circulars", description = "通知公告（签收、阅读回执、催办）"),
        (name = "cadres", description = "干部名册（干部管理权限、履职义务）"),
        (name = "work_logs", description = "工作记实（每周记实、退回、补充说明、按时率）"),
        (name = "first_secretaries", description = "第一书记（选派批次、派驻、导师、打卡、在村情况）"),
        (name = "meetings", description = "组织生活（三会一课、主题党日：计划、通知、签到、会议记录、归档、达标情况）"),
        (name = "appraisals", description = "民主评议党员：个人自评、民主测评（测评码，不评自己）、支部评价、加权评定与优秀比例、不合格党员组织处置"),
        (name = "elections", description = "换届选举（差额、五分之四到会、过半数当选、上级批复、委员名单）与延期换届"),
    )
)]
pub struct ApiDoc;

pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(crate::auth::web::api_routes())
        .merge(crate::org::web::api_routes())
        .merge(crate::member::web::api_routes())
        .merge(crate::audit::web::api_routes())
        .merge(crate::rules::web::api_routes())
        .merge(crate::recruit::web::api_routes())
        .merge(crate::calendar::web::api_routes())
        .merge(crate::recruit::talent_web::api_routes())
        .merge(crate::rectification::web::api_routes())
        .merge(crate::review::web::api_routes())
        .merge(crate::love_bank::web::api_routes())
        .merge(crate::points::web::api_routes())
        .merge(crate::stars::web::api_routes())
        .merge(crate::circular::web::api_routes())
        .merge(crate::cadre::web::api_routes())
        .merge(crate::work_log::web::api_routes())
        .merge(crate::first_secretary::web::api_routes())
        .merge(crate::meeting::web::api_routes())
        .merge(crate::election::web::api_routes())
        .merge(crate::appraisal::web::api_routes())
        .route(
            "/api/v1/workbench",
            axum::routing::get(super::pages::api_workbench),
        )
        .merge(
            utoipa_swagger_ui::SwaggerUi::new("/api/docs")
                .url("/api/openapi.json", ApiDoc::openapi()),
        )
}

/// The answers every operation can give besides its own: documented once here so that the
/// document matches what the server does (checked by schemathesis, drills/schemathesis.py).
const COMMON_RESPONSES: &[(&str, &str)] = &[
    ("400", "请求格式有误（路径、查询参数或JSON语法）"),
    ("401", "未登录或令牌无效"),
    ("403", "没有权限"),
    ("404", "对象不存在或不在权限范围内"),
    ("409", "与已有数据或并发修改冲突"),
    ("413", "请求过大"),
    ("415", "内容类型不支持"),
    ("422", "输入有误或规则不允许"),
    ("429", "请求过于频繁"),
    ("503", "存储暂时不可用，未保存，可稍后重试"),
];

struct CommonResponses;

impl utoipa::Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        for item in openapi.paths.paths.values_mut() {
            let ops = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for op in ops.into_iter().flatten() {
                for (code, description) in COMMON_RESPONSES {
                    op.responses
                        .responses
                        .entry((*code).to_string())
                        .or_insert_with(|| {
                            ResponseBuilder::new()
                                .description(*description)
                                .content(
                                    "application/json",
                                    ContentBuilder::new()
                                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                                        .build(),
                                )
                                .build()
                                .into()
                        });
                }
            }
        }
    }
}

/// Under `/api/`, every error is the JSON `ErrorBody`: the framework's own refusals (a body
/// that is not JSON, a wrong content type, a malformed path or query, an unknown route, a
/// body over the limit) come as plain text or HTML and are rewritten here, with the field
/// named where the refusal names one.
pub async fn json_errors(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{header, StatusCode};
    use axum::response::IntoResponse;
    if !req.uri().path().starts_with("/api/v1/") {
        return next.run(req).await;
    }
    let res = next.run(req).await;
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return res;
    }
    let allow = res.headers().get(header::ALLOW).cloned();
    let detail = axum::body::to_bytes(res.into_body(), 16 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    tracing::debug!(%status, %detail, "request refused before its handler");
    let (code, message) = match status {
        StatusCode::NOT_FOUND => ("not_found", "接口或对象不存在"),
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "不支持此请求方法"),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "请求过大"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "内容类型不支持：请以 application/json 提交",
        ),
        StatusCode::UNPROCESSABLE_ENTITY => ("validation_failed", "输入有误"),
        s if s.is_server_error() => ("internal_error", "服务器内部错误，请稍后重试"),
        _ => ("bad_request", "请求格式有误"),
    };
    let fields = match status {
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => rejected_field(&detail)
            .map(|f| {
                vec![super::FieldErrorBody {
                    message: format!("“{f}”的类型或取值不正确"),
                    field: f,
                }]
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let mut r = (
        status,
        axum::Json(super::ErrorBody {
            code: code.into(),
            message: message.into(),
            fields,
        }),
    )
        .into_response();
    if let Some(allow) = allow {
        r.headers_mut().insert(header::ALLOW, allow);
    }
    r
}

/// The field a deserialisation refusal names: `missing field `x``, or the path before the
/// first `": "` after "target type: " / "query string: ".
fn rejected_field(detail: &str) -> Option<String> {
    if let Some(i) = detail.find("field `") {
        let rest = &detail[i + 7..];
        return rest.find('`').map(|j| rest[..j].to_string());
    }
    for marker in ["target type: ", "query string: "] {
        if let Some(i) = detail.find(marker) {
            let rest = &detail[i + marker.len()..];
            if let Some(j) = rest.find(": ") {
                let f = &rest[..j];
                if !f.is_empty() && f.len() <= 64 && !f.contains(' ') {
                    return Some(f.to_string());
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::rejected_field;

    #[test]
    fn refusals_name_their_field() {
        let cases = [
            ("Failed to deserialize the JSON body into the target type: source_ref: invalid type: map, expected a string at line 1 column 114", Some("source_ref")),
            ("Failed to deserialize the JSON body into the target type: missing field `name` at line 1 column 2", Some("name")),
            ("Failed to deserialize query string: page: invalid digit found in string", Some("page")),
            ("Failed to parse the request body as JSON: expected value at line 1 column 1", None),
            ("Expected request with `Content-Type: application/json`", None),
        ];
        for (detail, want) in cases {
            assert_eq!(rejected_field(detail).as_deref(), want, "{detail}");
        }
    }
}

#[cfg(test)]
mod schema_tests {
    /// utoipa names a schema after its type and keeps the last of two with one name, so a
    /// response could be documented as another module's type: every type deriving `ToSchema`
    /// has a name of its own (or an `as`).
    #[test]
    fn schema_names_are_unique() {
        fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    let text = std::fs::read_to_string(&p).unwrap_or_default();
                    let lines: Vec<&str> = text.lines().collect();
                    for (i, l) in lines.iter().enumerate() {
                        if !l.contains("utoipa::ToSchema") {
                            continue;
                        }
                        let mut name = None;
                        for next in lines.iter().skip(i + 1).take(4) {
                            if let Some(a) = next.split("schema(as = ").nth(1) {
                                name = a.split(')').next().map(str::to_string);
                                break;
                            }
                            let t = next.trim_start();
                            for kw in ["pub struct ", "pub enum "] {
                                if let Some(rest) = t.strip_prefix(kw) {
                                    name = rest
                                        .split(|c: char| !c.is_alphanumeric() && c != '_')
                                        .next()
                                        .map(str::to_string);
                                }
                            }
                            if name.is_some() {
                                break;
                            }
                        }
                        out.extend(name);
                    }
                }
            }
        }
        let mut names = Vec::new();
        walk(
            std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src")),
            &mut names,
        );
        assert!(names.len() > 100, "{}", names.len());
        names.sort();
        let dups: Vec<&String> = names
            .windows(2)
            .filter(|w| w[0] == w[1])
            .map(|w| &w[0])
            .collect();
        assert!(dups.is_empty(), "schema names used twice: {dups:?}");
    }
}
