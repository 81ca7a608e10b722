//! The JSON API under `/api/v1`, its OpenAPI document and Swagger UI.

use super::AppState;
use axum::Router;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "dangjian API", version = "1", description = "党建平台接口。认证：浏览器会话（Cookie + X-CSRF-Token）或 `Authorization: Bearer <API令牌>`。错误返回 `{code, message, fields}`。"),
    paths(
        crate::auth::web::api_me, crate::auth::web::api_accounts, crate::auth::web::api_account_create,
        crate::auth::web::api_account_roles, crate::auth::web::api_account_disable, crate::auth::web::api_account_enable,
        crate::auth::web::api_tokens, crate::auth::web::api_token_create, crate::auth::web::api_token_revoke,
        crate::org::web::api_get, crate::org::web::api_children, crate::org::web::api_search, crate::org::web::api_create,
        crate::org::web::api_update, crate::org::web::api_move, crate::org::web::api_dissolve, crate::org::web::api_history,
        crate::member::web::api_list, crate::member::web::api_get, crate::member::web::api_create, crate::member::web::api_update,
        crate::member::web::api_unmask, crate::member::web::api_history, crate::member::web::export,
        crate::member::web::api_transfers, crate::member::web::api_transfer_send, crate::member::web::api_transfer_decide,
        crate::audit::web::api_list, crate::audit::web::api_verify,
        crate::rules::web::api_get, crate::rules::web::api_publish,
        crate::recruit::web::api_list, crate::recruit::web::api_apply, crate::recruit::web::api_get, crate::recruit::web::api_step,
        crate::recruit::web::api_sign, crate::recruit::web::api_correct, crate::recruit::web::api_evaluate, crate::recruit::web::api_revisit,
        crate::recruit::web::api_publicity, crate::recruit::web::api_objection, crate::recruit::web::api_answer,
        crate::recruit::web::api_upload, crate::recruit::web::api_archive, crate::recruit::web::api_verify,
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
        crate::points::web::api_indicators, crate::points::web::api_award, crate::points::web::api_award_with_file,
        crate::points::web::api_entry, crate::points::web::api_reverse, crate::points::web::api_claims, crate::points::web::api_claim,
        crate::points::web::api_claim_with_file, crate::points::web::api_decide, crate::points::web::api_closes, crate::points::web::api_close,
        crate::points::web::api_board, crate::points::web::api_ranking, crate::points::web::api_member, crate::points::web::api_me,
        crate::points::web::api_year, crate::points::web::api_confirm,
        crate::stars::web::api_rounds, crate::stars::web::api_create, crate::stars::web::api_round, crate::stars::web::api_score,
        crate::stars::web::api_publish, crate::stars::web::api_finalise, crate::stars::web::api_history,
    ),
    tags(
        (name = "orgs", description = "党组织"), (name = "members", description = "党员"),
        (name = "transfers", description = "组织关系转接"), (name = "accounts", description = "账号与令牌"),
        (name = "audit", description = "审计日志"), (name = "rules", description = "规则集"),
        (name = "recruits", description = "发展党员（25步全程纪实）"),
        (name = "talents", description = "向阳计划人才库"),
        (name = "rectify", description = "整改台账、销号管理与约谈台账"),
        (name = "reviews", description = "述职评议考核"),
        (name = "lovebank", description = "爱心银行"),
        (name = "points", description = "积分管理：一事一计分、一月一评分、一季一亮分、一年一兑分"),
        (name = "stars", description = "星级党支部评定"),
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
        .merge(crate::recruit::talent_web::api_routes())
        .merge(crate::rectification::web::api_routes())
        .merge(crate::review::web::api_routes())
        .merge(crate::love_bank::web::api_routes())
        .merge(crate::points::web::api_routes())
        .merge(crate::stars::web::api_routes())
        .merge(
            utoipa_swagger_ui::SwaggerUi::new("/api/docs")
                .url("/api/openapi.json", ApiDoc::openapi()),
        )
}
