//! Rule sets: see the values in force and publish a new version for a subtree.

use super::{BranchRules, MemberRules, RuleKind};
use crate::auth::Perm;
use crate::error::{AppError, FieldError};
use crate::first_secretary::FsRules;
use crate::love_bank::LoveRules;
use crate::meeting::MeetingRules;
use crate::points::PointsRules;
use crate::recruit::rules::RecruitRules;
use crate::rectification::RectifyRules;
use crate::review::ReviewRules;
use crate::stars::StarRules;
use crate::web::{page_ctx, render, render_status, ApiError, AppState, Auth, PageError};
use crate::work_log::WorkLogRules;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use minijinja::context;
use serde::{Deserialize, Serialize};

pub fn page_routes() -> Router<AppState> {
    Router::new()
        .route("/rules", get(rules_page))
        .route("/rules/{kind}", post(publish_page))
}

pub fn api_routes() -> Router<AppState> {
    Router::new().route("/api/v1/rules/{kind}", get(api_get).post(api_publish))
}

#[derive(Deserialize, Default)]
pub struct OrgQuery {
    pub org_id: Option<i64>,
}

async fn org_for(
    ctx: &crate::Ctx,
    p: &crate::auth::Principal,
    org_id: Option<i64>,
    perm: Perm,
) -> Result<crate::org::Org, AppError> {
    crate::org::web::load(ctx, p, org_id.unwrap_or(p.org_id), perm).await
}

/// One kind's card on the rules page: its values in force, where they come from, this
/// organisation's versions and the JSON to edit.
async fn kind_card<R: RuleKind>(
    ctx: &crate::Ctx,
    org: &crate::org::Org,
    sent: Option<(&str, &std::collections::HashMap<String, String>)>,
) -> Result<minijinja::Value, AppError> {
    let (values, source) = super::effective::<R>(&ctx.db, &org.path).await?;
    let versions = super::versions(&ctx.db, org.id, R::KIND).await?;
    let json_value = serde_json::to_value(&values).unwrap_or_default();
    let mut fields = super::form::fields(R::KIND, &json_value);
    // a refused form of this kind comes back as it was sent, to fix the one bad value
    if let Some((_, f)) = sent.filter(|(k, _)| *k == R::KIND) {
        super::form::keep_sent(&mut fields, f);
    }
    let source_name = match &source {
        Some(s) => Some(crate::org::store::get(&ctx.db, s.org_id).await?.name),
        None => None,
    };
    Ok(context! {
        kind => R::KIND, title => R::LABEL, source => source, source_name => source_name, versions => versions, fields => fields,
        json => serde_json::to_string_pretty(&values).unwrap_or_default(), values => values,
    })
}

async fn view(
    ctx: &crate::Ctx,
    org: &crate::org::Org,
    sent: Option<(&str, &std::collections::HashMap<String, String>)>,
) -> Result<minijinja::Value, AppError> {
    let kinds = vec![
        kind_card::<BranchRules>(ctx, org, sent).await?,
        kind_card::<MemberRules>(ctx, org, sent).await?,
        kind_card::<RecruitRules>(ctx, org, sent).await?,
        kind_card::<RectifyRules>(ctx, org, sent).await?,
        kind_card::<ReviewRules>(ctx, org, sent).await?,
        kind_card::<LoveRules>(ctx, org, sent).await?,
        kind_card::<PointsRules>(ctx, org, sent).await?,
        kind_card::<StarRules>(ctx, org, sent).await?,
        kind_card::<WorkLogRules>(ctx, org, sent).await?,
        kind_card::<FsRules>(ctx, org, sent).await?,
        kind_card::<MeetingRules>(ctx, org, sent).await?,
    ];
    Ok(context! { org => org, kinds => kinds })
}

async fn rules_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<OrgQuery>,
) -> Result<Response, PageError> {
    let org = org_for(&ctx, &p, q.org_id, Perm::RuleRead).await?;
    let v = view(&ctx, &org, None).await?;
    Ok(render(
        "rules.html",
        page_ctx(
            &p,
            "rules",
            context! { ..v, ..context! { can_write => p.can(Perm::RuleWrite), errors => Vec::<FieldError>::new() } },
        ),
    ))
}

async fn publish(
    ctx: &crate::Ctx,
    p: &crate::auth::Principal,
    kind: &str,
    org_id: i64,
    json: &str,
) -> Result<i64, AppError> {
    let org = org_for(ctx, p, Some(org_id), Perm::RuleWrite).await?;
    fn parse<R: RuleKind>(json: &str) -> Result<R, AppError> {
        serde_json::from_str(json)
            .map_err(|e| AppError::field("values", format!("规则值格式错误：{e}")))
    }
    let db = &ctx.db;
    match kind {
        "branch" => super::publish(db, &p.actor(), org.id, &parse::<BranchRules>(json)?).await,
        "member" => super::publish(db, &p.actor(), org.id, &parse::<MemberRules>(json)?).await,
        "rectify" => super::publish(db, &p.actor(), org.id, &parse::<RectifyRules>(json)?).await,
        "review" => super::publish(db, &p.actor(), org.id, &parse::<ReviewRules>(json)?).await,
        "love_bank" => super::publish(db, &p.actor(), org.id, &parse::<LoveRules>(json)?).await,
        "points" => super::publish(db, &p.actor(), org.id, &parse::<PointsRules>(json)?).await,
        "stars" => super::publish(db, &p.actor(), org.id, &parse::<StarRules>(json)?).await,
        "work_log" => super::publish(db, &p.actor(), org.id, &parse::<WorkLogRules>(json)?).await,
        "first_secretary" => super::publish(db, &p.actor(), org.id, &parse::<FsRules>(json)?).await,
        "meeting" => super::publish(db, &p.actor(), org.id, &parse::<MeetingRules>(json)?).await,
        "recruit" => {
            let version =
                super::publish(db, &p.actor(), org.id, &parse::<RecruitRules>(json)?).await?;
            // deadlines are stored for fast lists; they follow the new values
            if let Err(e) = crate::recruit::store::refresh_due_under(ctx, &org.path).await {
                tracing::error!(error = %e, org = org.id, "recomputing recruitment deadlines after a rule change");
            }
            Ok(version)
        }
        _ => Err(AppError::NotFound("规则集")),
    }
}

/// The values in force where `org` stands and `json` read as the kind's values, checked as
/// publishing would check them: (in force, proposed, the kind's name).
async fn compare<R: RuleKind>(
    ctx: &crate::Ctx,
    org: &crate::org::Org,
    json: &str,
) -> Result<(serde_json::Value, serde_json::Value, &'static str), AppError> {
    let proposed: R = serde_json::from_str(json)
        .map_err(|e| AppError::field("values", format!("规则值格式错误：{e}")))?;
    super::check(&proposed)?;
    let (current, _) = super::effective::<R>(&ctx.db, &org.path).await?;
    Ok((
        serde_json::to_value(&current).unwrap_or_default(),
        serde_json::to_value(&proposed).unwrap_or_default(),
        R::LABEL,
    ))
}

/// The page before a new version is published: what it changes against the values in force,
/// in words, and the button that publishes exactly that (the values travel as JSON).
async fn preview(
    ctx: &crate::Ctx,
    p: &crate::auth::Principal,
    kind: &str,
    org_id: i64,
    json: &str,
) -> Result<Response, AppError> {
    let org = org_for(ctx, p, Some(org_id), Perm::RuleWrite).await?;
    let (current, proposed, title) = match kind {
        "branch" => compare::<BranchRules>(ctx, &org, json).await?,
        "member" => compare::<MemberRules>(ctx, &org, json).await?,
        "recruit" => compare::<RecruitRules>(ctx, &org, json).await?,
        "rectify" => compare::<RectifyRules>(ctx, &org, json).await?,
        "review" => compare::<ReviewRules>(ctx, &org, json).await?,
        "love_bank" => compare::<LoveRules>(ctx, &org, json).await?,
        "points" => compare::<PointsRules>(ctx, &org, json).await?,
        "stars" => compare::<StarRules>(ctx, &org, json).await?,
        "work_log" => compare::<WorkLogRules>(ctx, &org, json).await?,
        "first_secretary" => compare::<FsRules>(ctx, &org, json).await?,
        "meeting" => compare::<MeetingRules>(ctx, &org, json).await?,
        _ => return Err(AppError::NotFound("规则集")),
    };
    let changes = super::form::diff(kind, &current, &proposed);
    if changes.is_empty() {
        return Err(AppError::field(
            "values",
            "与当前生效的规则相同，无需发布新版本",
        ));
    }
    Ok(render(
        "rules_preview.html",
        page_ctx(
            p,
            "rules",
            context! {
                org => org, kind => kind, title => title, changes => changes,
                values => proposed.to_string(),
            },
        ),
    ))
}

async fn publish_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(kind): Path<String>,
    axum::Form(f): axum::Form<std::collections::HashMap<String, String>>,
) -> Result<Response, PageError> {
    let org_id = crate::web::form::num(&f, "org_id");
    // who may publish here is asked before anything of the form is read
    org_for(&ctx, &p, Some(org_id), Perm::RuleWrite).await?;
    // the form's fields, or (for those who prefer it) the whole rule set as JSON
    let json = match f.get("values") {
        Some(raw) => Ok(super::form::halfwidth(raw)),
        None => super::form::values_from(&kind, &f).map(|v| v.to_string()),
    };
    // first what it changes, then (confirmed) the new version
    let confirmed = f.get("confirm").map(String::as_str) == Some("1");
    let result = async {
        let json = json?;
        if confirmed {
            publish(&ctx, &p, &kind, org_id, &json).await.map(|_| None)
        } else {
            preview(&ctx, &p, &kind, org_id, &json).await.map(Some)
        }
    }
    .await;
    match result {
        Ok(Some(page)) => Ok(page),
        Ok(None) => {
            Ok(Redirect::to(&format!("/rules?org_id={org_id}&ok=published")).into_response())
        }
        Err(AppError::Validation(errors)) => {
            let org = org_for(&ctx, &p, Some(org_id), Perm::RuleRead).await?;
            let v = view(&ctx, &org, Some((kind.as_str(), &f))).await?;
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "rules.html",
                page_ctx(
                    &p,
                    "rules",
                    context! { ..v, ..context! { can_write => true, errors => errors, failed_kind => kind } },
                ),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// The kinds of rule set.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // documents the path parameter
pub enum RuleKindName {
    Branch,
    Member,
    Recruit,
    Rectify,
    Review,
    LoveBank,
    Points,
    Stars,
    WorkLog,
    FirstSecretary,
    Meeting,
}

/// The values of one rule set; the `kind` in the path says which of these shapes.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // documents the bodies
pub enum RuleValues {
    Branch(BranchRules),
    Member(MemberRules),
    Recruit(RecruitRules),
    Rectify(RectifyRules),
    Review(ReviewRules),
    LoveBank(LoveRules),
    Points(PointsRules),
    Stars(StarRules),
    WorkLog(WorkLogRules),
    FirstSecretary(FsRules),
    Meeting(MeetingRules),
}

/// The rule values in force for an organisation: `branch` (支部工作条例), `member`, `recruit`
/// (发展党员细则), `rectify` (整改台账), `review` (述职评议, with the tie rule of the bottom
/// interviews), `love_bank`, `points` (积分), `stars` (星级党支部), `work_log` (工作记实), `first_secretary` (第一书记) or `meeting` (组织生活).
#[utoipa::path(get, path = "/api/v1/rules/{kind}", tag = "rules", params(("kind" = RuleKindName, Path), ("org_id" = Option<i64>, Query)),
    responses((status = 200, description = "the values in force", body = RuleValues)))]
pub async fn api_get(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(kind): Path<String>,
    Query(q): Query<OrgQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let org = org_for(&ctx, &p, q.org_id, Perm::RuleRead).await?;
    async fn values<R: RuleKind>(
        ctx: &crate::Ctx,
        path: &str,
    ) -> Result<serde_json::Result<serde_json::Value>, AppError> {
        Ok(serde_json::to_value(
            super::effective::<R>(&ctx.db, path).await?.0,
        ))
    }
    let v = match kind.as_str() {
        "branch" => values::<BranchRules>(&ctx, &org.path).await?,
        "member" => values::<MemberRules>(&ctx, &org.path).await?,
        "recruit" => values::<RecruitRules>(&ctx, &org.path).await?,
        "rectify" => values::<RectifyRules>(&ctx, &org.path).await?,
        "review" => values::<ReviewRules>(&ctx, &org.path).await?,
        "love_bank" => values::<LoveRules>(&ctx, &org.path).await?,
        "points" => values::<PointsRules>(&ctx, &org.path).await?,
        "stars" => values::<StarRules>(&ctx, &org.path).await?,
        "work_log" => values::<WorkLogRules>(&ctx, &org.path).await?,
        "first_secretary" => values::<FsRules>(&ctx, &org.path).await?,
        "meeting" => values::<MeetingRules>(&ctx, &org.path).await?,
        _ => return Err(AppError::NotFound("规则集").into()),
    };
    Ok(Json(v.map_err(|e| AppError::Internal(e.to_string()))?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PublishBody {
    pub org_id: i64,
    /// The full or partial rule values of the path's kind; missing keys take the defaults,
    /// unknown keys are refused.
    #[schema(value_type = RuleValues)]
    pub values: serde_json::Value,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Published {
    /// The new version's number.
    pub version: i64,
}

/// Publishes a new version of a rule set for an organisation's subtree (rule writers of that
/// organisation).
#[utoipa::path(post, path = "/api/v1/rules/{kind}", tag = "rules", params(("kind" = RuleKindName, Path)), request_body = PublishBody,
    responses((status = 200, body = Published), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_publish(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(kind): Path<String>,
    Json(b): Json<PublishBody>,
) -> Result<Json<Published>, ApiError> {
    let version = publish(&ctx, &p, &kind, b.org_id, &b.values.to_string()).await?;
    Ok(Json(Published { version }))
}
