//! Organisation pages (tree, detail with branch warnings, forms) and JSON endpoints.

use super::store::{self, NewOrg, OrgNode, OrgPatch};
use super::{Org, OrgKind, OrgLevel};
use crate::auth::{Perm, Principal};
use crate::error::{AppError, FieldError};
use crate::web::{authorize, page_ctx, render, render_status, ApiError, AppState, Auth, PageError};
use crate::Ctx;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use minijinja::context;
use serde::{Deserialize, Serialize};

pub fn page_routes() -> Router<AppState> {
    Router::new()
        .route("/orgs", get(tree_page).post(create_page))
        .route("/orgs/new", get(new_page))
        .route("/orgs/options", get(options_partial))
        .route("/orgs/warnings", get(warnings_page))
        .route("/orgs/warnings/export.csv", get(warnings_export))
        .route("/orgs/{id}/children", get(children_partial))
        .route("/orgs/{id}/edit", get(edit_page).post(edit_submit))
        .route("/orgs/{id}/move", post(move_submit))
        .route("/orgs/{id}/dissolve", post(dissolve_submit))
}

pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/orgs", post(api_create))
        .route("/api/v1/orgs/search", get(api_search))
        .route(
            "/api/v1/orgs/{id}",
            get(api_get).patch(api_update).delete(api_dissolve),
        )
        .route("/api/v1/orgs/{id}/children", get(api_children))
        .route("/api/v1/orgs/{id}/move", post(api_move))
        .route("/api/v1/orgs/{id}/history", get(api_history))
}

/// Loads an organisation the principal may act on with `perm`.
pub async fn load(ctx: &Ctx, p: &Principal, id: i64, perm: Perm) -> Result<Org, AppError> {
    let org = store::get(&ctx.db, id).await?;
    authorize(ctx, p, perm, Some(&org.path)).await?;
    Ok(org)
}

fn kind_options() -> Vec<(&'static str, &'static str)> {
    OrgKind::ALL
        .iter()
        .map(|k| (k.as_str(), k.label()))
        .collect()
}
fn level_options() -> Vec<(&'static str, &'static str)> {
    OrgLevel::ALL
        .iter()
        .map(|k| (k.as_str(), k.label()))
        .collect()
}

#[derive(Deserialize, Default)]
struct TreeQuery {
    id: Option<i64>,
}

#[derive(Serialize)]
struct OrgView {
    org: Org,
    kind_label: &'static str,
    level_label: &'static str,
}

fn view(o: &Org) -> OrgView {
    OrgView {
        org: o.clone(),
        kind_label: o.kind.label(),
        level_label: o.level.label(),
    }
}

fn node_views(nodes: Vec<OrgNode>) -> Vec<serde_json::Value> {
    nodes
        .into_iter()
        .map(|n| {
            serde_json::json!({
                "id": n.org.id, "name": n.org.name, "kind_label": n.org.kind.label(),
                "child_count": n.child_count, "member_count": n.member_count,
                "holds_members": n.org.kind.holds_members(),
            })
        })
        .collect()
}

async fn tree_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<TreeQuery>,
) -> Result<Response, PageError> {
    let root = load(&ctx, &p, p.org_id, Perm::OrgRead).await?;
    let selected = match q.id {
        Some(id) => load(&ctx, &p, id, Perm::OrgRead).await?,
        None => root.clone(),
    };
    let mut root_children = node_views(store::children(&ctx.db, root.id).await?);
    let children = node_views(store::children(&ctx.db, selected.id).await?);
    // the tree stays on the selected organisation: its ancestors below the root open, each
    // with its children, down to the selected one's own
    let chain: Vec<i64> = crate::org::path_ids(&selected.path)
        .into_iter()
        .skip_while(|id| *id != root.id)
        .skip(1)
        .collect();
    let mut level = &mut root_children;
    for id in chain {
        let Some(node) = level.iter_mut().find(|n| n["id"] == id) else {
            break;
        };
        let below = if id == selected.id {
            children.clone()
        } else {
            node_views(store::children(&ctx.db, id).await?)
        };
        node["sub"] = serde_json::Value::Array(below);
        let serde_json::Value::Array(next) = &mut node["sub"] else {
            break;
        };
        level = next;
    }
    let warnings = store::warnings(&ctx.db, &selected).await?;
    let mut stats = store::subtree_stats(&ctx.db, &selected.path).await?;
    // "下辖组织" are those below the organisation, not itself
    let own = selected.kind.label();
    for (label, n) in stats.orgs_by_kind.iter_mut() {
        if label == own {
            *n -= 1;
        }
    }
    stats.orgs_by_kind.retain(|(_, n)| *n > 0);
    let ancestors: Vec<Org> = store::ancestors(&ctx.db, &selected)
        .await?
        .into_iter()
        .filter(|a| p.in_scope(&a.path))
        .collect();
    let history = crate::audit::history_in_words(&ctx.db, "org", &selected.id.to_string()).await?;
    let (full, total) = store::member_counts(&ctx.db, selected.id).await?;
    Ok(render(
        "orgs.html",
        page_ctx(
            &p,
            "orgs",
            context! {
                root => view(&root), root_children => root_children, selected => view(&selected), children => children,
                warnings => warnings, stats => stats, ancestors => ancestors, history => history,
                direct_full => full, direct_total => total,
                can_write => p.can(Perm::OrgWrite),
                can_members => p.can(Perm::MemberRead),
                is_own_root => selected.id == p.org_id,
            },
        ),
    ))
}

#[derive(Deserialize, Default)]
struct WarningsQuery {
    code: Option<String>,
    sort: Option<String>,
    dir: Option<String>,
    page: Option<i64>,
}

/// Every branch of the account's subtree that raises a 支部工作条例 warning, filterable by
/// kind of warning, sortable, paginated.
/// The warned branches of the account's subtree as the list shows them (filtered by kind,
/// sorted), with the count of each kind and the kind asked for when there is one.
#[allow(clippy::type_complexity)]
async fn warned_rows(
    ctx: &Ctx,
    p: &Principal,
    q: &WarningsQuery,
) -> Result<
    (
        Vec<store::WarnedBranch>,
        std::collections::BTreeMap<&'static str, i64>,
        Option<String>,
    ),
    AppError,
> {
    authorize(ctx, p, Perm::OrgRead, Some(&p.org_path)).await?;
    // a heavy read: bounded and shared by identical concurrent requests (crate::heavy)
    let key = format!("org.warnings|{}", p.org_path);
    let all = ctx
        .heavy
        .run_cloned(&key, || store::warned_branches(&ctx.db, &p.org_path))
        .await?;
    let counts = store::count_by_code(&all);
    let code = q.code.clone().filter(|c| counts.contains_key(c.as_str()));
    let mut rows: Vec<store::WarnedBranch> = all
        .into_iter()
        .filter(|b| {
            code.as_ref()
                .is_none_or(|c| b.warnings.iter().any(|w| w.code == c))
        })
        .collect();
    match q.sort.as_deref() {
        Some("members") => rows.sort_by_key(|b| b.total_members),
        Some("name") => rows.sort_by(|a, b| a.name.cmp(&b.name)),
        _ => {}
    }
    if q.dir.as_deref() == Some("desc") {
        rows.reverse();
    }
    Ok((rows, counts, code))
}

/// 有提醒的党支部 as a CSV (what the list shows, filtered and sorted alike), recorded.
async fn warnings_export(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<WarningsQuery>,
) -> Result<Response, PageError> {
    let (rows, _, code) = warned_rows(&ctx, &p, &q).await?;
    let rows = rows
        .into_iter()
        .map(|b| {
            vec![
                b.name,
                b.full_members.to_string(),
                b.total_members.to_string(),
                b.warnings
                    .iter()
                    .map(|w| w.message.clone())
                    .collect::<Vec<_>>()
                    .join("；"),
            ]
        })
        .collect();
    Ok(crate::web::csv_export(
        &ctx,
        &p,
        crate::web::CsvExport {
            action: "org.warnings_export",
            object_type: "org_warnings",
            title: "有提醒的党支部".to_string(),
            header: &["党支部", "正式党员", "党员总数", "提醒"],
            rows,
            asked: serde_json::json!({"code": code}),
        },
    )
    .await?)
}

async fn warnings_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<WarningsQuery>,
) -> Result<Response, PageError> {
    let (rows, counts, code) = warned_rows(&ctx, &p, &q).await?;
    let sort = q.sort.clone().filter(|s| s == "name" || s == "members");
    let desc = q.dir.as_deref() == Some("desc");
    const PER: i64 = 50;
    let total = rows.len() as i64;
    let pages = crate::web::page_count(total, PER);
    let page = q.page.unwrap_or(1).clamp(1, pages);
    let items: Vec<&store::WarnedBranch> = rows
        .iter()
        .skip(((page - 1) * PER) as usize)
        .take(PER as usize)
        .collect();
    let mut qs = url::form_urlencoded::Serializer::new(String::new());
    if let Some(c) = &code {
        qs.append_pair("code", c);
    }
    if let Some(s) = &sort {
        qs.append_pair("sort", s);
    }
    if desc {
        qs.append_pair("dir", "desc");
    }
    Ok(render(
        "org_warnings.html",
        page_ctx(
            &p,
            "orgs",
            context! {
                items => items, page => context! { page => page, total => total }, pages => pages,
                qs => qs.finish(), code => code, sort => sort, desc => desc,
                codes => counts.iter().map(|(c, n)| (*c, store::warning_label(c), *n)).collect::<Vec<_>>(),
            },
        ),
    ))
}

#[derive(Deserialize, Default)]
struct ChildrenQuery {
    /// `members`: the tree beside the member list (links filter the list).
    #[serde(default)]
    r#for: Option<String>,
}

/// The root of the tree beside a list: the account's organisation and its children, with
/// `selected` marked. Readers without organisation rights get no tree.
pub async fn tree_nodes(
    ctx: &Ctx,
    p: &Principal,
    selected: i64,
) -> Result<minijinja::Value, AppError> {
    if !p.can(Perm::OrgRead) {
        return Ok(minijinja::Value::from(()));
    }
    let root = store::get(&ctx.db, p.org_id).await?;
    let children = node_views(store::children(&ctx.db, root.id).await?);
    Ok(context! { root => view(&root), children => children, selected => selected })
}

async fn children_partial(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Query(q): Query<ChildrenQuery>,
) -> Result<Response, PageError> {
    load(&ctx, &p, id, Perm::OrgRead).await?;
    let children = node_views(store::children(&ctx.db, id).await?);
    Ok(render(
        "org_children.html",
        context! { lang => p.lang.code(), children => children, tree_for => q.r#for },
    ))
}

#[derive(Deserialize, Default)]
struct OptionsQuery {
    q: Option<String>,
    branches: Option<u8>,
    /// branches, committees (default: every kind)
    kinds: Option<String>,
    /// Leave this organisation out (a transfer's current branch).
    exclude: Option<i64>,
    /// `transfer`: a transfer's receiving branch, searched over the whole platform (a member
    /// may move to any branch; only names are listed).
    r#for: Option<String>,
    /// `parent`: the first option is "上级党组织（默认）" (a ledger item's verifier).
    blank: Option<String>,
}

/// `<option>`s of organisations matching `q` in the caller's subtree (form pickers).
async fn options_partial(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<OptionsQuery>,
) -> Result<Response, PageError> {
    authorize(&ctx, &p, Perm::OrgRead, None)
        .await
        .or_else(|e| {
            if p.can(Perm::MemberRead) {
                Ok(())
            } else {
                Err(e)
            }
        })?;
    let pick = match (&q.kinds, q.branches) {
        (Some(k), _) => store::Pick::parse(k),
        (None, Some(1)) => store::Pick::Branches,
        _ => store::Pick::All,
    };
    let transfer = q.r#for.as_deref() == Some("transfer") && p.can(Perm::TransferWrite);
    let (scope, pick) = if transfer {
        // the whole tree: from the root of the caller's path
        let root = crate::org::path_ids(&p.org_path)
            .first()
            .copied()
            .unwrap_or(p.org_id);
        (format!("/{root}/"), store::Pick::Branches)
    } else {
        (p.org_path.clone(), pick)
    };
    let found = store::search_for(
        &ctx.db,
        &scope,
        q.q.as_deref().unwrap_or(""),
        pick,
        q.exclude,
        30,
    )
    .await?;
    let mut html = String::new();
    if q.blank.as_deref() == Some("parent") {
        html.push_str("<option value=\"\">上级党组织（默认）</option>");
    }
    for o in &found {
        html.push_str(&format!(
            "<option value=\"{}\">{}（{}）</option>",
            o.id,
            minijinja::HtmlEscape(&o.name),
            o.kind.label()
        ));
    }
    if found.is_empty() && q.blank.is_none() {
        html.push_str("<option value=\"\">未找到匹配的组织</option>");
    }
    Ok(axum::response::Html(html).into_response())
}

#[derive(Deserialize, Default)]
struct NewQuery {
    parent: Option<i64>,
}

async fn new_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<NewQuery>,
) -> Result<Response, PageError> {
    let parent = load(&ctx, &p, q.parent.unwrap_or(p.org_id), Perm::OrgWrite).await?;
    Ok(render(
        "org_form.html",
        page_ctx(
            &p,
            "orgs",
            context! { mode => "new", parent => parent, form => NewOrg { parent_id: Some(parent.id), ..Default::default() },
            kinds => kind_options(), levels => level_options(), errors => Vec::<FieldError>::new() },
        ),
    ))
}

/// HTML forms send empty strings for empty dates and numbers.
#[derive(Deserialize)]
struct OrgForm {
    parent_id: Option<i64>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    level: String,
    #[serde(default)]
    region_code: String,
    #[serde(default)]
    term_start: String,
    #[serde(default)]
    has_committee: Option<String>,
    #[serde(default)]
    committee_size: String,
    #[serde(default)]
    version: Option<i64>,
}

fn parse_date_field(s: &str, field: &str, errs: &mut Vec<FieldError>) -> Option<chrono::NaiveDate> {
    if s.trim().is_empty() {
        return None;
    }
    match chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
        Ok(d) => Some(d),
        Err(_) => {
            errs.push(FieldError::new(field, "日期格式应为YYYY-MM-DD"));
            None
        }
    }
}

fn parse_int_field(s: &str, field: &str, errs: &mut Vec<FieldError>) -> Option<i64> {
    if s.trim().is_empty() {
        return None;
    }
    match s.trim().parse() {
        Ok(v) => Some(v),
        Err(_) => {
            errs.push(FieldError::new(field, "应为整数"));
            None
        }
    }
}

async fn create_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    axum::Form(f): axum::Form<OrgForm>,
) -> Result<Response, PageError> {
    let parent = load(&ctx, &p, f.parent_id.unwrap_or(0), Perm::OrgWrite).await?;
    let mut errs = Vec::new();
    let input = NewOrg {
        parent_id: Some(parent.id),
        name: f.name.clone(),
        kind: f.kind.clone(),
        level: f.level.clone(),
        region_code: Some(f.region_code.clone()).filter(|s| !s.trim().is_empty()),
        established_on: None,
        term_start: parse_date_field(&f.term_start, "term_start", &mut errs),
        has_committee: f.has_committee.is_some(),
        committee_size: parse_int_field(&f.committee_size, "committee_size", &mut errs)
            .unwrap_or(0),
    };
    let result = if errs.is_empty() {
        store::create(&ctx.db, &p.actor(), &input).await
    } else {
        Err(AppError::Validation(errs))
    };
    match result {
        Ok(org) => Ok(Redirect::to(&format!("/orgs?id={}&ok=created", org.id)).into_response()),
        Err(e @ (AppError::Validation(_) | AppError::Refused { .. })) => {
            let errors = match &e {
                AppError::Validation(v) => v.clone(),
                other => vec![FieldError::new("kind", other.public_message())],
            };
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "org_form.html",
                page_ctx(
                    &p,
                    "orgs",
                    context! { mode => "new", parent => parent, form => input, kinds => kind_options(), levels => level_options(), errors => errors },
                ),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

async fn edit_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let org = load(&ctx, &p, id, Perm::OrgWrite).await?;
    Ok(render(
        "org_form.html",
        page_ctx(
            &p,
            "orgs",
            context! { mode => "edit", org => org, form => org, kinds => kind_options(), levels => level_options(), errors => Vec::<FieldError>::new() },
        ),
    ))
}

async fn edit_submit(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<OrgForm>,
) -> Result<Response, PageError> {
    let org = load(&ctx, &p, id, Perm::OrgWrite).await?;
    let mut errs = Vec::new();
    let patch = OrgPatch {
        name: Some(f.name.clone()),
        level: Some(f.level.clone()),
        region_code: Some(f.region_code.clone()),
        term_start: parse_date_field(&f.term_start, "term_start", &mut errs),
        has_committee: Some(f.has_committee.is_some()),
        committee_size: Some(
            parse_int_field(&f.committee_size, "committee_size", &mut errs).unwrap_or(0),
        ),
        version: f.version,
    };
    let result = if errs.is_empty() {
        store::update(&ctx.db, &p.actor(), id, &patch).await
    } else {
        Err(AppError::Validation(errs))
    };
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/orgs?id={id}&ok=saved")).into_response()),
        Err(AppError::Validation(v)) => Ok(render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            "org_form.html",
            page_ctx(
                &p,
                "orgs",
                context! { mode => "edit", org => org, form => org, kinds => kind_options(), levels => level_options(), errors => v },
            ),
        )),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct MoveBody {
    pub parent_id: i64,
}

async fn move_submit(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<MoveBody>,
) -> Result<Response, PageError> {
    do_move(&ctx, &p, id, f.parent_id).await?;
    Ok(Redirect::to(&format!("/orgs?id={id}&ok=moved")).into_response())
}

async fn do_move(ctx: &Ctx, p: &Principal, id: i64, parent_id: i64) -> Result<Org, AppError> {
    if id == p.org_id {
        return Err(AppError::refused(
            "org.own_root",
            "不能移动本账号所属的党组织",
        ));
    }
    load(ctx, p, id, Perm::OrgWrite).await?;
    load(ctx, p, parent_id, Perm::OrgWrite).await?;
    store::move_to(&ctx.db, &p.actor(), id, parent_id).await
}

async fn do_dissolve(ctx: &Ctx, p: &Principal, id: i64) -> Result<Option<i64>, AppError> {
    if id == p.org_id {
        return Err(AppError::refused(
            "org.own_root",
            "不能撤销本账号所属的党组织",
        ));
    }
    let org = load(ctx, p, id, Perm::OrgWrite).await?;
    store::dissolve(&ctx.db, &p.actor(), id).await?;
    Ok(org.parent_id)
}

async fn dissolve_submit(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let parent = do_dissolve(&ctx, &p, id).await?;
    Ok(Redirect::to(&format!(
        "/orgs?id={}&ok=dissolved",
        parent.unwrap_or(p.org_id)
    ))
    .into_response())
}

// ---- JSON API ----

#[derive(Serialize, utoipa::ToSchema)]
pub struct OrgBody {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub path: String,
    pub depth: i64,
    pub name: String,
    pub kind: String,
    pub kind_label: String,
    pub level: String,
    pub level_label: String,
    pub region_code: Option<String>,
    pub term_start: Option<chrono::NaiveDate>,
    pub has_committee: bool,
    pub committee_size: i64,
    pub version: i64,
    /// 支部工作条例 warnings (branches only).
    pub warnings: Vec<WarningBody>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct WarningBody {
    pub code: String,
    pub message: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct OrgChildBody {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub child_count: i64,
    pub member_count: i64,
}

async fn body_of(ctx: &Ctx, o: &Org) -> Result<OrgBody, AppError> {
    let w = store::warnings(&ctx.db, o).await?;
    Ok(OrgBody {
        id: o.id,
        parent_id: o.parent_id,
        path: o.path.clone(),
        depth: o.depth,
        name: o.name.clone(),
        kind: o.kind.as_str().into(),
        kind_label: o.kind.label().into(),
        level: o.level.as_str().into(),
        level_label: o.level.label().into(),
        region_code: o.region_code.clone(),
        term_start: o.term_start,
        has_committee: o.has_committee,
        committee_size: o.committee_size,
        version: o.version,
        warnings: w
            .into_iter()
            .map(|w| WarningBody {
                code: w.code.into(),
                message: w.message,
            })
            .collect(),
    })
}

/// One organisation with its branch warnings.
#[utoipa::path(get, path = "/api/v1/orgs/{id}", tag = "orgs", params(("id" = i64, Path)),
    responses((status = 200, body = OrgBody), (status = 403, body = crate::web::ErrorBody), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_get(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<OrgBody>, ApiError> {
    let o = load(&ctx, &p, id, Perm::OrgRead).await?;
    Ok(Json(body_of(&ctx, &o).await?))
}

/// Direct children (tree expansion).
#[utoipa::path(get, path = "/api/v1/orgs/{id}/children", tag = "orgs", params(("id" = i64, Path)), responses((status = 200, body = [OrgChildBody])))]
pub async fn api_children(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Vec<OrgChildBody>>, ApiError> {
    load(&ctx, &p, id, Perm::OrgRead).await?;
    let nodes = store::children(&ctx.db, id).await?;
    Ok(Json(
        nodes
            .into_iter()
            .map(|n| OrgChildBody {
                id: n.org.id,
                name: n.org.name,
                kind: n.org.kind.as_str().into(),
                child_count: n.child_count,
                member_count: n.member_count,
            })
            .collect(),
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Part of the name.
    pub q: Option<String>,
    /// Only branches (党支部, 联合党支部).
    pub branches: Option<bool>,
}

/// Organisations in the caller's subtree whose name contains `q`.
#[utoipa::path(get, path = "/api/v1/orgs/search", tag = "orgs", params(SearchQuery), responses((status = 200, body = [OrgChildBody])))]
pub async fn api_search(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<SearchQuery>,
) -> Result<Json<Vec<OrgChildBody>>, ApiError> {
    authorize(&ctx, &p, Perm::OrgRead, None).await?;
    let found = store::search(
        &ctx.db,
        &p.org_path,
        q.q.as_deref().unwrap_or(""),
        q.branches.unwrap_or(false),
        50,
    )
    .await?;
    Ok(Json(
        found
            .into_iter()
            .map(|o| OrgChildBody {
                id: o.id,
                name: o.name,
                kind: o.kind.as_str().into(),
                child_count: 0,
                member_count: 0,
            })
            .collect(),
    ))
}

/// Creates an organisation under `parent_id`.
#[utoipa::path(post, path = "/api/v1/orgs", tag = "orgs", request_body = NewOrg,
    responses((status = 200, body = OrgBody), (status = 422, body = crate::web::ErrorBody), (status = 403, body = crate::web::ErrorBody)))]
pub async fn api_create(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Json(input): Json<NewOrg>,
) -> Result<Json<OrgBody>, ApiError> {
    let parent_id = input
        .parent_id
        .ok_or_else(|| AppError::field("parent_id", "请指定上级党组织"))?;
    load(&ctx, &p, parent_id, Perm::OrgWrite)
        .await
        .map_err(|e| match e {
            AppError::NotFound(_) => AppError::field("parent_id", "上级党组织不存在"),
            e => e,
        })?;
    let o = store::create(&ctx.db, &p.actor(), &input).await?;
    Ok(Json(body_of(&ctx, &o).await?))
}

/// Renames or edits an organisation (optimistic lock with `version`).
#[utoipa::path(patch, path = "/api/v1/orgs/{id}", tag = "orgs", params(("id" = i64, Path)), request_body = OrgPatch,
    responses((status = 200, body = OrgBody), (status = 409, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_update(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(patch): Json<OrgPatch>,
) -> Result<Json<OrgBody>, ApiError> {
    load(&ctx, &p, id, Perm::OrgWrite).await?;
    let o = store::update(&ctx.db, &p.actor(), id, &patch).await?;
    Ok(Json(body_of(&ctx, &o).await?))
}

/// Moves an organisation and its subtree under another parent.
#[utoipa::path(post, path = "/api/v1/orgs/{id}/move", tag = "orgs", params(("id" = i64, Path)), request_body = MoveBody,
    responses((status = 200, body = OrgBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_move(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(b): Json<MoveBody>,
) -> Result<Json<OrgBody>, ApiError> {
    let o = do_move(&ctx, &p, id, b.parent_id).await?;
    Ok(Json(body_of(&ctx, &o).await?))
}

/// Dissolves an organisation; refused while it has members, children or accounts.
#[utoipa::path(delete, path = "/api/v1/orgs/{id}", tag = "orgs", params(("id" = i64, Path)),
    responses((status = 204), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_dissolve(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    do_dissolve(&ctx, &p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who changed this organisation, when, before → after.
#[utoipa::path(get, path = "/api/v1/orgs/{id}/history", tag = "orgs", params(("id" = i64, Path)), responses((status = 200, body = [crate::audit::Entry])))]
pub async fn api_history(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Vec<crate::audit::Entry>>, ApiError> {
    load(&ctx, &p, id, Perm::OrgRead).await?;
    let h = crate::audit::history(&ctx.db, "org", &id.to_string()).await?;
    Ok(Json(h))
}
