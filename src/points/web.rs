//! 积分管理 pages and JSON API: an organisation's month (award, claims, entries, close), the
//! quarterly board, the annual conversion, the ranking of a subtree, and a member's own
//! points on a phone.

use super::store::{
    self, AwardInput, Awarded, Board, Claim, ClaimInput, Close, Decision, Entry, MemberPoints,
    Ranking, YearResult,
};
use super::{month_key, month_label, Indicator};
use crate::auth::{Perm, Principal};
use crate::error::{AppError, FieldError};
use crate::org::Org;
use crate::rectification::store::Upload;
use crate::web::{
    authorize, form, page_ctx, render, render_status, ApiError, AppState, Auth, PageError,
};
use crate::Ctx;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Datelike;
use minijinja::context;
use serde::Deserialize;
use std::collections::HashMap;

pub fn page_routes() -> Router<AppState> {
    Router::new()
        .route("/points", get(month_page))
        .route("/points/award", post(award_page))
        .route("/points/claims", post(claim_page))
        .route("/points/claims/{id}/decide", post(decide_page))
        .route("/points/claims/{id}/evidence", get(claim_evidence))
        .route("/points/entries/{id}/reverse", post(reverse_page))
        .route("/points/entries/{id}/evidence", get(entry_evidence))
        .route("/points/close", post(close_page))
        .route("/points/board", get(board_page))
        .route("/points/year", get(year_page))
        .route("/points/year/confirm", post(confirm_page))
        .route("/points/ranking", get(ranking_page))
        .route("/points/ranking/export.csv", get(ranking_export))
        .route("/points/members/{id}", get(member_page))
        .route("/points/me", get(me_page))
}

pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/points/indicators", get(api_indicators))
        .route("/api/v1/points/awards", post(api_award))
        .route("/api/v1/points/awards/evidence", post(api_award_with_file))
        .route("/api/v1/points/awards/batch", post(api_award_many))
        .route("/api/v1/points/entries/{id}", get(api_entry))
        .route("/api/v1/points/entries/{id}/reverse", post(api_reverse))
        .route("/api/v1/points/claims", get(api_claims).post(api_claim))
        .route("/api/v1/points/claims/evidence", post(api_claim_with_file))
        .route("/api/v1/points/claims/{id}/decide", post(api_decide))
        .route("/api/v1/points/closes", get(api_closes).post(api_close))
        .route("/api/v1/points/board", get(api_board))
        .route("/api/v1/points/ranking", get(api_ranking))
        .route("/api/v1/points/members/{id}", get(api_member))
        .route("/api/v1/points/me", get(api_me))
        .route("/api/v1/points/year", get(api_year))
        .route("/api/v1/points/year/confirm", post(api_confirm))
}

async fn scope(ctx: &Ctx, p: &Principal, org_id: Option<i64>) -> Result<Org, AppError> {
    crate::org::web::load(ctx, p, org_id.unwrap_or(p.org_id), Perm::PointsRead).await
}

/// A range of months from `month` (YYYY-MM), `quarter` (YYYY-Qn) or `year`; this month by
/// default.
#[derive(Deserialize, Default, utoipa::IntoParams, Clone)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct RangeQuery {
    pub org_id: Option<i64>,
    /// YYYY-MM
    pub month: Option<String>,
    /// YYYY-Qn
    pub quarter: Option<String>,
    pub year: Option<i32>,
    /// For a committee's board: branch (default) or secretary.
    pub subject: Option<String>,
    pub offset: Option<usize>,
    pub limit: Option<usize>,
    /// A board page's page (50 rows each).
    pub page: Option<usize>,
    /// A board page's filter: rows whose name (or branch) contains it.
    pub name: Option<String>,
}

/// Rows of a board on one page.
const BOARD_PAGE: usize = 50;

/// The board's API rows when no `limit` is asked for, and the most one answer holds.
const BOARD_API_ROWS: usize = 300;
const BOARD_API_MAX: usize = 500;

/// `branch` or `secretary`: which of a committee's boards is asked for.
fn unit_subject(q: &RangeQuery) -> &'static str {
    match q.subject.as_deref() {
        Some("secretary") => "secretary",
        _ => "branch",
    }
}

/// One page of a board as the pages show it, with its pager's values and the query string
/// that keeps everything but the page.
fn board_page_of(
    board: Board,
    q: &RangeQuery,
    extra: &[(&str, String)],
) -> (Board, minijinja::Value) {
    let name = q.name.clone().unwrap_or_default();
    let page = q.page.unwrap_or(1).clamp(1, 100_000);
    let board = board.page(&name, (page - 1) * BOARD_PAGE, BOARD_PAGE);
    let pages = board.total_rows.div_ceil(BOARD_PAGE).max(1);
    let mut qs = url::form_urlencoded::Serializer::new(String::new());
    qs.append_pair("org_id", &board.org_id.to_string());
    for (k, v) in extra {
        qs.append_pair(k, v);
    }
    let unnamed = qs.finish();
    let mut qs = url::form_urlencoded::Serializer::new(unnamed.clone());
    if !name.trim().is_empty() {
        qs.append_pair("name", name.trim());
    }
    let pager = context! {
        page => context! { page => page.min(pages), total => board.total_rows },
        pages => pages, qs => qs.finish(), unnamed => unnamed, name => name.trim(),
    };
    (board, pager)
}

impl RangeQuery {
    fn range(&self, ctx: &Ctx) -> Result<(i64, i64), AppError> {
        if let Some(q) = self.quarter.as_deref().filter(|q| !q.is_empty()) {
            return super::parse_quarter(q)
                .ok_or_else(|| AppError::field("quarter", "季度格式应为YYYY-Qn"));
        }
        if let Some(y) = self.year {
            if !(1900..=9999).contains(&y) {
                return Err(AppError::field("year", "年份不正确"));
            }
            return Ok((y as i64 * 100 + 1, y as i64 * 100 + 12));
        }
        let m = match self.month.as_deref().filter(|m| !m.is_empty()) {
            Some(m) => super::parse_month(m)
                .ok_or_else(|| AppError::field("month", "月份格式应为YYYY-MM"))?,
            None => month_key(ctx.clock.today()),
        };
        Ok((m, m))
    }
}

fn prev_month(m: i64) -> i64 {
    if m % 100 == 1 {
        m - 89
    } else {
        m - 1
    }
}

/// The board of an organisation: a branch's members, or a committee's branches or
/// secretaries.
async fn board_of(
    ctx: &Ctx,
    org: &Org,
    subject: Option<&str>,
    from: i64,
    to: i64,
) -> Result<Board, AppError> {
    if org.kind.holds_members() {
        store::member_board(ctx, org, from, to).await
    } else {
        let subject = match subject {
            Some("secretary") => "secretary",
            _ => "branch",
        };
        store::unit_board(ctx, org, subject, from, to).await
    }
}

/// Indicators grouped for a select: (group label, indicators).
fn groups(list: Vec<&Indicator>) -> Vec<(String, Vec<Indicator>)> {
    let mut out: Vec<(String, Vec<Indicator>)> = Vec::new();
    for i in list {
        let g = format!(
            "{}·{}",
            crate::rules::label(&super::SUBJECTS, &i.subject),
            i.category
        );
        match out.iter_mut().find(|x| x.0 == g) {
            Some(x) => x.1.push(i.clone()),
            None => out.push((g, vec![i.clone()])),
        }
    }
    out
}

async fn month_view(
    ctx: &Ctx,
    p: &Principal,
    q: &RangeQuery,
    errors: Vec<FieldError>,
) -> Result<minijinja::Value, AppError> {
    let org = scope(ctx, p, q.org_id).await?;
    let (m, _) = q.range(ctx)?;
    let branch = org.kind.holds_members();
    let (rules, _) = store::rules_for(ctx, &org.path).await?;
    let subject = unit_subject(q);
    let board = board_of(ctx, &org, Some(subject), m, m).await?;
    let scope_name = if branch { "members" } else { "units" };
    let closes = store::closes(ctx, org.id, scope_name).await?;
    let this = month_key(ctx.clock.today());
    // the last few ended months not closed yet
    let mut to_close = Vec::new();
    let mut x = prev_month(this);
    for _ in 0..6 {
        let l = month_label(x);
        if !closes.iter().any(|c| c.month == l) {
            to_close.push(l);
        }
        x = prev_month(x);
    }
    to_close.reverse();
    let from_above = p.org_path != org.path;
    // what this account may award here: a branch's indicators (superior ones only from
    // above) to its members, or a committee's branch indicators to its branches
    let indicators: Vec<&Indicator> = rules
        .indicators
        .iter()
        .filter(|i| !i.scored)
        .filter(|i| {
            if branch {
                from_above || i.awarder == "branch"
            } else {
                i.subject == "branch"
            }
        })
        .collect();
    // a branch's members by name; a committee's branches through the picker's search
    let (members, branches) = if branch {
        let mut names: Vec<(i64, String)> =
            board.rows.iter().map(|r| (r.id, r.name.clone())).collect();
        names.sort_by(|a, b| a.1.cmp(&b.1));
        (names, Vec::new())
    } else {
        let picks = crate::org::store::pick_list(
            &ctx.db,
            &org.path,
            crate::org::store::Pick::Branches,
            &[],
        )
        .await?;
        (
            Vec::new(),
            picks.into_iter().map(|o| (o.id, o.name)).collect(),
        )
    };
    let closed = board.closed.contains(&month_label(m));
    let mut extra = vec![("month", month_label(m))];
    if !branch {
        extra.push(("subject", subject.to_string()));
    }
    let (board, pager) = board_page_of(board, q, &extra);
    let pending = if branch {
        store::claims(ctx, Some(org.id), None, true).await?
    } else {
        Vec::new()
    };
    let recent = if branch {
        store::recent(ctx, org.id, 30).await?
    } else {
        Vec::new()
    };
    let names: HashMap<String, String> = rules
        .indicators
        .iter()
        .map(|i| (i.key.clone(), i.name.clone()))
        .collect();
    let today = ctx.clock.today();
    Ok(context! {
        org => org, branch => branch, month => month_label(m), board => board, subject => subject, pager => pager,
        closes => closes, to_close => to_close, groups => groups(indicators), members => members,
        branches => branches, pending => pending, recent => recent, names => names, errors => errors,
        today => today, quarter => super::quarter_of(today), year => today.year(),
        can_write => p.can(Perm::PointsWrite), key => format!("{:x}", rand::random::<u64>()),
        closed => closed, account_id => p.account_id,
    })
}

async fn month_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<RangeQuery>,
) -> Result<Response, PageError> {
    let v = month_view(&ctx, &p, &q, Vec::new()).await?;
    Ok(render("points.html", page_ctx(&p, "points", v)))
}

/// After a change on the month page: back to it, or the page with the refusal.
/// The members ticked on the award form (`m.<id>`), a meeting's attendees.
fn attendees(f: &form::Fields) -> Vec<i64> {
    f.keys()
        .filter_map(|k| k.strip_prefix("m.")?.parse().ok())
        .collect()
}

/// `form`: which of the page's forms was sent (award, decide, reverse, close), so that its
/// refusal is shown next to it.
async fn on_month(
    ctx: &Ctx,
    p: &Principal,
    org_id: i64,
    form: &str,
    r: Result<String, AppError>,
) -> Result<Response, PageError> {
    on_month_keeping(ctx, p, org_id, form, None, r).await
}

/// [`on_month`], the refused award form keeping what was entered (`sent`: its fields).
async fn on_month_keeping(
    ctx: &Ctx,
    p: &Principal,
    org_id: i64,
    form: &str,
    sent: Option<&form::Fields>,
    r: Result<String, AppError>,
) -> Result<Response, PageError> {
    match r {
        Ok(to) => Ok(Redirect::to(&to).into_response()),
        Err(e @ (AppError::Validation(_) | AppError::Refused { .. } | AppError::Conflict(_))) => {
            let status = if matches!(e, AppError::Conflict(_)) {
                StatusCode::CONFLICT
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            let q = RangeQuery {
                org_id: Some(org_id),
                ..Default::default()
            };
            let v = month_view(ctx, p, &q, crate::web::field_errors(e, "form")).await?;
            let kept = sent.map(|f| {
                let ticked = attendees(f);
                context! {
                    indicator => form::text(f, "indicator"), member_id => form::opt_num(f, "member_id"),
                    note => form::text(f, "note"), done_on => form::text(f, "done_on"), ticked => ticked,
                }
            });
            let v = context! { failed => form, kept => kept, ..v };
            Ok(render_status(
                status,
                "points.html",
                page_ctx(p, "points", v),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

fn upload(name: String, bytes: Vec<u8>) -> Option<Upload> {
    (!bytes.is_empty()).then_some(Upload {
        filename: name,
        bytes,
    })
}

fn award_from(f: &form::Fields) -> AwardInput {
    AwardInput {
        subject: form::text(f, "subject"),
        member_id: form::opt_num(f, "member_id"),
        org_id: form::opt_num(f, "org_id"),
        indicator: form::text(f, "indicator"),
        done_on: form::date(f, "done_on"),
        note: form::text(f, "note"),
        idempotency_key: f.get("key").cloned(),
    }
}

async fn award_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    mp: Multipart,
) -> Result<Response, PageError> {
    let (f, name, bytes) = crate::web::read_multipart(mp).await?;
    let back = form::num(&f, "back_org");
    scope(&ctx, &p, Some(back)).await?;
    // the attendees ticked: one award each, all or none
    let attendees = attendees(&f);
    let r = if attendees.is_empty() {
        store::award(&ctx, &p, &award_from(&f), upload(name, bytes))
            .await
            .map(|a| {
                let ok = if a.claim.is_some() {
                    "pending"
                } else {
                    "saved"
                };
                format!("/points?org_id={back}&ok={ok}")
            })
    } else {
        store::award_many(&ctx, &p, &award_from(&f), &attendees, upload(name, bytes))
            .await
            .map(|_| format!("/points?org_id={back}&ok=saved"))
    };
    on_month_keeping(&ctx, &p, back, "award", Some(&f), r).await
}

async fn decide_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let (c, _) = store::claim(&ctx, id).await?;
    let d = Decision {
        approve: form::text(&f, "approve") == "1",
        note: form::text(&f, "note"),
        version: form::num(&f, "version"),
    };
    let back = form::opt_num(&f, "back_org").unwrap_or(c.org_id);
    scope(&ctx, &p, Some(back)).await?;
    let r = store::decide(&ctx, &p, id, &d)
        .await
        .map(|_| format!("/points?org_id={back}&ok=saved"));
    on_month(&ctx, &p, back, "decide", r).await
}

async fn reverse_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let (e, _) = store::entry(&ctx, id).await?;
    scope(&ctx, &p, Some(e.org_id)).await?;
    let r = store::reverse(&ctx, &p, id, &form::text(&f, "reason"))
        .await
        .map(|_| format!("/points?org_id={}&ok=saved", e.org_id));
    on_month(&ctx, &p, e.org_id, "reverse", r).await
}

async fn close_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let org_id = form::num(&f, "org_id");
    let org = scope(&ctx, &p, Some(org_id)).await?;
    let scope_name = if org.kind.holds_members() {
        "members"
    } else {
        "units"
    };
    let month = form::text(&f, "month");
    let r = store::close_month(&ctx, &p, org_id, scope_name, &month)
        .await
        .map(|_| format!("/points?org_id={org_id}&month={month}&ok=closed"));
    on_month(&ctx, &p, org_id, "close", r).await
}

async fn evidence(ctx: &Ctx, digest: Option<String>, what: &str) -> Result<Response, AppError> {
    let digest = digest.ok_or(AppError::NotFound("佐证材料"))?;
    let bytes = crate::blob::content_named(ctx, &digest, what).await?;
    let (mime, ext) = crate::blob::sniff(&bytes).unwrap_or(("application/octet-stream", "bin"));
    Ok((
        [
            (header::CONTENT_TYPE, mime.to_string()),
            (
                header::CONTENT_DISPOSITION,
                crate::web::attachment_name(&format!(
                    "积分佐证-{}.{ext}",
                    &digest[..12.min(digest.len())]
                )),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_string()),
        ],
        bytes,
    )
        .into_response())
}

async fn may_see_member(
    ctx: &Ctx,
    p: &Principal,
    member_id: Option<i64>,
    org_path: &str,
) -> Result<(), AppError> {
    if member_id.is_some() && member_id == p.member_id {
        return Ok(());
    }
    authorize(ctx, p, Perm::PointsRead, Some(org_path)).await
}

async fn entry_evidence(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let (e, path) = store::entry(&ctx, id).await?;
    may_see_member(&ctx, &p, e.member_id, &path).await?;
    Ok(evidence(&ctx, e.evidence, &format!("积分记录{id}的佐证材料")).await?)
}

async fn claim_evidence(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let (c, path) = store::claim(&ctx, id).await?;
    may_see_member(&ctx, &p, c.member_id, &path).await?;
    Ok(evidence(&ctx, c.evidence, &format!("积分申报{id}的佐证材料")).await?)
}

async fn board_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(mut q): Query<RangeQuery>,
) -> Result<Response, PageError> {
    let org = scope(&ctx, &p, q.org_id).await?;
    if q.quarter.as_deref().unwrap_or("").is_empty() && q.month.is_none() && q.year.is_none() {
        q.quarter = Some(super::quarter_of(ctx.clock.today()));
    }
    let (from, to) = q.range(&ctx)?;
    let branch = org.kind.holds_members();
    let subject = unit_subject(&q);
    let board = board_of(&ctx, &org, Some(subject), from, to).await?;
    let quarter = q.quarter.clone().unwrap_or_default();
    let mut extra = vec![("quarter", quarter.clone())];
    if !branch {
        extra.push(("subject", subject.to_string()));
    }
    let (board, pager) = board_page_of(board, &q, &extra);
    Ok(render(
        "points_board.html",
        page_ctx(
            &p,
            "points",
            context! { org => org, branch => branch, board => board, subject => subject, pager => pager, quarter => quarter },
        ),
    ))
}

async fn year_view(
    ctx: &Ctx,
    p: &Principal,
    org_id: Option<i64>,
    year: Option<i32>,
) -> Result<(Org, YearResult), AppError> {
    let org = scope(ctx, p, org_id).await?;
    if !org.kind.holds_members() {
        return Err(AppError::field("org_id", "年度兑分按党支部查看"));
    }
    let year = year.unwrap_or_else(|| ctx.clock.today().year());
    let y = store::year_result(ctx, &org, year).await?;
    Ok((org, y))
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct YearQuery {
    pub org_id: Option<i64>,
    pub year: Option<i32>,
}

async fn year_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<YearQuery>,
) -> Result<Response, PageError> {
    let (org, y) = year_view(&ctx, &p, q.org_id, q.year).await?;
    Ok(render(
        "points_year.html",
        page_ctx(
            &p,
            "points",
            context! { org => org, y => y, can_write => p.can(Perm::PointsWrite), errors => Vec::<FieldError>::new() },
        ),
    ))
}

async fn confirm_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    axum::Form(f): axum::Form<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let org_id = form::num(&f, "org_id");
    let year = form::num(&f, "year") as i32;
    match store::confirm_year(&ctx, &p, org_id, year).await {
        Ok(_) => Ok(Redirect::to(&format!(
            "/points/year?org_id={org_id}&year={year}&ok=saved"
        ))
        .into_response()),
        Err(e @ (AppError::Validation(_) | AppError::Refused { .. } | AppError::Conflict(_))) => {
            let (org, y) = year_view(&ctx, &p, Some(org_id), Some(year)).await?;
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "points_year.html",
                page_ctx(
                    &p,
                    "points",
                    context! { org => org, y => y, can_write => true, errors => crate::web::field_errors(e, "form") },
                ),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

const RANK_PAGE: usize = 100;

/// The organisation and range of `q` as a query string (the same range elsewhere).
fn range_qs(org_id: i64, q: &RangeQuery) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    s.append_pair("org_id", &org_id.to_string());
    for (k, v) in [("month", &q.month), ("quarter", &q.quarter)] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            s.append_pair(k, v);
        }
    }
    if let Some(y) = q.year {
        s.append_pair("year", &y.to_string());
    }
    s.finish()
}

/// The most members a ranking export holds.
const RANK_EXPORT_MAX: usize = 10_000;

/// A ranking as a CSV (rank, member, branch, points), up to 10,000 members, recorded.
async fn ranking_export(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<RangeQuery>,
) -> Result<Response, PageError> {
    let org = scope(&ctx, &p, q.org_id).await?;
    let (from, to) = q.range(&ctx)?;
    let mut rows = Vec::new();
    let mut offset = 0;
    while offset < RANK_EXPORT_MAX {
        let r = store::ranking(&ctx, &org, from, to, offset, 500).await?;
        let n = r.rows.len();
        rows.extend(
            r.rows
                .into_iter()
                .map(|x| vec![x.rank.to_string(), x.name, x.org_name, x.total.to_string()]),
        );
        offset += n;
        if n < 500 || offset >= r.ranked {
            break;
        }
    }
    let label = if from == to {
        month_label(from)
    } else {
        format!("{}至{}", month_label(from), month_label(to))
    };
    Ok(crate::web::csv_export(
        &ctx,
        &p,
        crate::web::CsvExport {
            action: "points.ranking_export",
            object_type: "points_ranking",
            title: format!("积分排名-{}-{label}", org.name),
            header: &["名次", "党员", "所在支部", "积分"],
            rows,
            asked: serde_json::json!({"org_id": org.id, "from": from, "to": to}),
        },
    )
    .await?)
}

async fn ranking_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<RangeQuery>,
) -> Result<Response, PageError> {
    let org = scope(&ctx, &p, q.org_id).await?;
    let (from, to) = q.range(&ctx)?;
    let offset = q.offset.unwrap_or(0);
    let r = store::ranking(&ctx, &org, from, to, offset, RANK_PAGE).await?;
    let label = if from == to {
        month_label(from)
    } else {
        format!("{} — {}", month_label(from), month_label(to))
    };
    Ok(render(
        "points_ranking.html",
        page_ctx(
            &p,
            "points",
            context! {
                org => org, r => r, label => label, month => month_label(to),
                prev => offset.checked_sub(RANK_PAGE), next => (offset + RANK_PAGE < r.ranked).then_some(offset + RANK_PAGE),
                export_qs => range_qs(org.id, &q),
            },
        ),
    ))
}

async fn member_view(
    ctx: &Ctx,
    (mp, branch, data): (MemberPoints, Org, store::BoardData),
    p: &Principal,
) -> Result<minijinja::Value, AppError> {
    let (rules, _) = store::rules_for(ctx, &branch.path).await?;
    let names: HashMap<String, String> = rules
        .indicators
        .iter()
        .map(|i| (i.key.clone(), i.name.clone()))
        .collect();
    let claimable: Vec<&Indicator> = rules
        .for_subject("member")
        .filter(|i| i.claimable)
        .collect();
    // the latest closed month's board, published to the branch's members
    let board = store::last_closed_board(ctx, &branch, &data, mp.year).await?;
    let own = p.member_id == Some(mp.member_id);
    Ok(context! {
        mp => mp, names => names, groups => groups(claimable), board => board, own => own,
        today => ctx.clock.today(), can_claim => own && p.can(Perm::PointsClaim),
    })
}

async fn member_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Query(q): Query<YearQuery>,
) -> Result<Response, PageError> {
    let mp = member_points_for(&ctx, &p, id, q.year).await?;
    let v = member_view(&ctx, mp, &p).await?;
    Ok(render(
        "points_member.html",
        page_ctx(
            &p,
            "points",
            context! { ..v, ..context! { errors => Vec::<FieldError>::new() } },
        ),
    ))
}

/// A member's year of points with their branch and the branch's year as read (the member's
/// page folds its latest closed month from it).
async fn member_points_for(
    ctx: &Ctx,
    p: &Principal,
    id: i64,
    year: Option<i32>,
) -> Result<(MemberPoints, Org, store::BoardData), AppError> {
    let (m, path) = crate::member::store::get(ctx, id).await?;
    may_see_member(ctx, p, Some(id), &path).await?;
    let branch = crate::org::store::get(&ctx.db, m.org_id).await?;
    let year = year.unwrap_or_else(|| ctx.clock.today().year());
    let (mp, data) = store::member_year(ctx, &branch, id, m.name, year).await?;
    Ok((mp, branch, data))
}

async fn me_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<YearQuery>,
) -> Result<Response, PageError> {
    let id = p
        .member_id
        .ok_or_else(|| AppError::refused("points.no_member", "本账号未关联党员"))?;
    let mp = member_points_for(&ctx, &p, id, q.year).await?;
    let v = member_view(&ctx, mp, &p).await?;
    Ok(render(
        "points_member.html",
        page_ctx(
            &p,
            "points_me",
            context! { ..v, ..context! { errors => Vec::<FieldError>::new() } },
        ),
    ))
}

async fn claim_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    mp: Multipart,
) -> Result<Response, PageError> {
    let result = async {
        let (f, name, bytes) = crate::web::read_multipart(mp).await?;
        let input = ClaimInput {
            indicator: form::text(&f, "indicator"),
            done_on: form::date(&f, "done_on"),
            note: form::text(&f, "note"),
        };
        store::self_claim(&ctx, &p, &input, upload(name, bytes)).await
    }
    .await;
    match result {
        Ok(_) => Ok(Redirect::to("/points/me?ok=pending").into_response()),
        Err(e @ (AppError::Validation(_) | AppError::Refused { .. } | AppError::Conflict(_))) => {
            let id = p.member_id.ok_or(AppError::NotFound("党员"))?;
            let mp = member_points_for(&ctx, &p, id, None).await?;
            let v = member_view(&ctx, mp, &p).await?;
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "points_member.html",
                page_ctx(
                    &p,
                    "points_me",
                    context! { ..v, ..context! { errors => crate::web::field_errors(e, "form") } },
                ),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

// ---- JSON API ----

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct OrgQuery {
    pub org_id: Option<i64>,
}

/// The indicator catalogue in force for an organisation.
#[utoipa::path(get, path = "/api/v1/points/indicators", tag = "points", params(OrgQuery),
    responses((status = 200, body = [Indicator])))]
pub async fn api_indicators(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<OrgQuery>,
) -> Result<Json<Vec<Indicator>>, ApiError> {
    let org = scope(&ctx, &p, q.org_id).await?;
    Ok(Json(store::rules_for(&ctx, &org.path).await?.0.indicators))
}

/// Awards an indicator (一事一计分). An indicator that needs approval answers with a pending
/// claim instead of an entry. An `Idempotency-Key` header (or `idempotency_key`) applies a
/// retry once.
#[utoipa::path(post, path = "/api/v1/points/awards", tag = "points", request_body = AwardInput,
    responses((status = 200, body = Awarded), (status = 422, body = crate::web::ErrorBody), (status = 409, body = crate::web::ErrorBody)))]
pub async fn api_award(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    headers: HeaderMap,
    Json(mut b): Json<AwardInput>,
) -> Result<Json<Awarded>, ApiError> {
    b.idempotency_key = crate::idempotency::from_request(&headers, b.idempotency_key.take());
    Ok(Json(store::award(&ctx, &p, &b, None).await?))
}

/// One member indicator for several members of one branch at once (a meeting's
/// attendees, at most 200), all or none.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct BatchAward {
    #[serde(flatten)]
    pub award: AwardInput,
    pub member_ids: Vec<i64>,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct BatchAwarded {
    /// Entries made (or, for a retry with the same key, made before).
    pub count: usize,
}

/// 一事一计分 for a meeting's attendees: the same member indicator, day and note for each of
/// `member_ids` (one branch), in one transaction; a refusal names the member it stopped at.
#[utoipa::path(post, path = "/api/v1/points/awards/batch", tag = "points", request_body = BatchAward,
    responses((status = 200, body = BatchAwarded), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_award_many(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    headers: HeaderMap,
    Json(mut b): Json<BatchAward>,
) -> Result<Json<BatchAwarded>, ApiError> {
    b.award.idempotency_key =
        crate::idempotency::from_request(&headers, b.award.idempotency_key.take());
    let count = store::award_many(&ctx, &p, &b.award, &b.member_ids, None).await?;
    Ok(Json(BatchAwarded { count }))
}

/// The same as `awards`, as a multipart form with one evidence file (`file`: PDF, JPG, PNG
/// or MP4) and the fields of an award.
#[utoipa::path(post, path = "/api/v1/points/awards/evidence", tag = "points",
    request_body(content_type = "multipart/form-data", description = "subject, member_id, org_id, indicator, done_on, note, key and file"),
    responses((status = 200, body = Awarded), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_award_with_file(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    headers: HeaderMap,
    mp: Multipart,
) -> Result<Json<Awarded>, ApiError> {
    let (f, name, bytes) = crate::web::read_multipart(mp).await?;
    let mut input = award_from(&f);
    input.idempotency_key =
        crate::idempotency::from_request(&headers, input.idempotency_key.take());
    Ok(Json(
        store::award(&ctx, &p, &input, upload(name, bytes)).await?,
    ))
}

/// One entry.
#[utoipa::path(get, path = "/api/v1/points/entries/{id}", tag = "points", params(("id" = i64, Path)),
    responses((status = 200, body = Entry), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_entry(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Entry>, ApiError> {
    let (e, path) = store::entry(&ctx, id).await?;
    may_see_member(&ctx, &p, e.member_id, &path).await?;
    Ok(Json(e))
}

/// Cancels an entry by a reversing entry (never an edit); refused in a closed month.
#[utoipa::path(post, path = "/api/v1/points/entries/{id}/reverse", tag = "points", params(("id" = i64, Path)), request_body = crate::web::ReverseBody,
    responses((status = 200, body = Entry), (status = 409, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_reverse(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<crate::web::ReverseBody>,
) -> Result<Json<Entry>, ApiError> {
    Ok(Json(store::reverse(&ctx, &p, id, &b.reason).await?))
}

/// Pending claims of a branch.
#[utoipa::path(get, path = "/api/v1/points/claims", tag = "points", params(OrgQuery),
    responses((status = 200, body = [Claim])))]
pub async fn api_claims(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<OrgQuery>,
) -> Result<Json<Vec<Claim>>, ApiError> {
    let org = scope(&ctx, &p, q.org_id).await?;
    Ok(Json(store::claims(&ctx, Some(org.id), None, true).await?))
}

/// A member claims points for themselves (the branch approves).
#[utoipa::path(post, path = "/api/v1/points/claims", tag = "points", request_body = ClaimInput,
    responses((status = 200, body = Claim), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_claim(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Json(b): Json<ClaimInput>,
) -> Result<Json<Claim>, ApiError> {
    Ok(Json(store::self_claim(&ctx, &p, &b, None).await?))
}

/// The same as `claims`, as a multipart form with the evidence file (`file`) and the fields
/// `indicator`, `done_on`, `note`.
#[utoipa::path(post, path = "/api/v1/points/claims/evidence", tag = "points",
    request_body(content_type = "multipart/form-data", description = "indicator, done_on, note and file"),
    responses((status = 200, body = Claim), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_claim_with_file(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    mp: Multipart,
) -> Result<Json<Claim>, ApiError> {
    let (f, name, bytes) = crate::web::read_multipart(mp).await?;
    let input = ClaimInput {
        indicator: form::text(&f, "indicator"),
        done_on: form::date(&f, "done_on"),
        note: form::text(&f, "note"),
    };
    Ok(Json(
        store::self_claim(&ctx, &p, &input, upload(name, bytes)).await?,
    ))
}

/// Approves or rejects a pending claim; a claim decided meanwhile answers 409.
#[utoipa::path(post, path = "/api/v1/points/claims/{id}/decide", tag = "points", params(("id" = i64, Path)), request_body = Decision,
    responses((status = 200, body = Claim), (status = 409, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_decide(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<Decision>,
) -> Result<Json<Claim>, ApiError> {
    Ok(Json(store::decide(&ctx, &p, id, &b).await?))
}

#[derive(Deserialize, Default, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct ClosesQuery {
    pub org_id: Option<i64>,
    /// members (a branch) or units (a committee)
    pub scope: Option<String>,
}

/// The closed months of an organisation.
#[utoipa::path(get, path = "/api/v1/points/closes", tag = "points", params(ClosesQuery),
    responses((status = 200, body = [Close])))]
pub async fn api_closes(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<ClosesQuery>,
) -> Result<Json<Vec<Close>>, ApiError> {
    let org = scope(&ctx, &p, q.org_id).await?;
    let s = q.scope.unwrap_or_else(|| {
        if org.kind.holds_members() {
            "members".into()
        } else {
            "units".into()
        }
    });
    Ok(Json(store::closes(&ctx, org.id, &s).await?))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(default)]
pub struct CloseBody {
    pub org_id: i64,
    /// members (a branch closing its members' month) or units (a committee closing its
    /// branches' and secretaries' month)
    pub scope: String,
    /// YYYY-MM
    pub month: String,
}

/// 一月一评分: closes a month; its entries are frozen.
#[utoipa::path(post, path = "/api/v1/points/closes", tag = "points", request_body = CloseBody,
    responses((status = 200, body = Close), (status = 409, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_close(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Json(b): Json<CloseBody>,
) -> Result<Json<Close>, ApiError> {
    Ok(Json(
        store::close_month(&ctx, &p, b.org_id, &b.scope, &b.month).await?,
    ))
}

/// 一季一亮分: the board of a branch's members, or of a committee's branches or
/// secretaries (`subject`), month by month over a month, quarter or year; the rows whose
/// name contains `name`, `limit` of them (300, at most 500) from `offset`, `total_rows`
/// counting them all.
#[utoipa::path(get, path = "/api/v1/points/board", tag = "points", params(RangeQuery),
    responses((status = 200, body = Board), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_board(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<RangeQuery>,
) -> Result<Json<Board>, ApiError> {
    let org = scope(&ctx, &p, q.org_id).await?;
    let (from, to) = q.range(&ctx)?;
    let board = board_of(&ctx, &org, q.subject.as_deref(), from, to).await?;
    Ok(Json(board.page(
        q.name.as_deref().unwrap_or(""),
        q.offset.unwrap_or(0),
        q.limit.unwrap_or(BOARD_API_ROWS).min(BOARD_API_MAX),
    )))
}

/// Members of a subtree ranked by their points over a month, quarter or year, computed from
/// the entries; `limit` (at most 500) from `offset`.
#[utoipa::path(get, path = "/api/v1/points/ranking", tag = "points", params(RangeQuery),
    responses((status = 200, body = Ranking), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_ranking(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<RangeQuery>,
) -> Result<Json<Ranking>, ApiError> {
    let org = scope(&ctx, &p, q.org_id).await?;
    let (from, to) = q.range(&ctx)?;
    Ok(Json(
        store::ranking(
            &ctx,
            &org,
            from,
            to,
            q.offset.unwrap_or(0),
            q.limit.unwrap_or(100),
        )
        .await?,
    ))
}

/// A member's points of a year: months, rank in the branch over closed months, entries and
/// claims.
#[utoipa::path(get, path = "/api/v1/points/members/{id}", tag = "points", params(("id" = i64, Path), YearQuery),
    responses((status = 200, body = MemberPoints), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_member(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Query(q): Query<YearQuery>,
) -> Result<Json<MemberPoints>, ApiError> {
    Ok(Json(member_points_for(&ctx, &p, id, q.year).await?.0))
}

/// The caller's own points (a member account).
#[utoipa::path(get, path = "/api/v1/points/me", tag = "points", params(YearQuery),
    responses((status = 200, body = MemberPoints), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_me(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<YearQuery>,
) -> Result<Json<MemberPoints>, ApiError> {
    let id = p
        .member_id
        .ok_or_else(|| AppError::refused("points.no_member", "本账号未关联党员"))?;
    Ok(Json(member_points_for(&ctx, &p, id, q.year).await?.0))
}

/// 一年一兑分: a branch's annual conversion, confirmed or provisional.
#[utoipa::path(get, path = "/api/v1/points/year", tag = "points", params(YearQuery),
    responses((status = 200, body = YearResult), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_year(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<YearQuery>,
) -> Result<Json<YearResult>, ApiError> {
    Ok(Json(year_view(&ctx, &p, q.org_id, q.year).await?.1))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(default)]
pub struct ConfirmBody {
    pub org_id: i64,
    pub year: i32,
}

/// Confirms a branch's annual conversion (all twelve months closed).
#[utoipa::path(post, path = "/api/v1/points/year/confirm", tag = "points", request_body = ConfirmBody,
    responses((status = 200, body = YearResult), (status = 409, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_confirm(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Json(b): Json<ConfirmBody>,
) -> Result<Json<YearResult>, ApiError> {
    Ok(Json(store::confirm_year(&ctx, &p, b.org_id, b.year).await?))
}
