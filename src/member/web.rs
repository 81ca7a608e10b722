//! Member pages (list with filters, detail with history, forms, import, export), transfer
//! pages, and their JSON endpoints.

use super::io::{self, ImportMode};
use super::rules::MemberInput;
use super::store::{self, MemberFilter, MemberPage};
use super::transfer::{self, Decision, NewTransfer, Transfer};
use super::{Member, Status, AGE_BANDS, EDUCATION};
use crate::auth::{Perm, Principal};
use crate::error::{AppError, FieldError};
use crate::web::{
    authorize, authorize_member, page_ctx, render, render_status, ApiError, AppState, Auth,
    PageError,
};
use crate::Ctx;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use minijinja::context;
use serde::{Deserialize, Serialize};

pub fn page_routes() -> Router<AppState> {
    Router::new()
        .route("/members", get(list_page).post(create_page))
        .route("/members/new", get(new_page))
        .route("/members/self", get(self_page))
        .route("/members/export", get(export))
        .route("/members/import", get(import_page).post(import_submit))
        .route("/members/import/template.xlsx", get(template))
        .route("/members/import/{job}", get(import_status))
        .route("/members/{id}", get(detail_page))
        .route("/members/{id}/edit", get(edit_page).post(edit_submit))
        .route("/members/{id}/unmask", post(unmask_partial))
        .route("/members/{id}/discipline", post(discipline_page))
        .route(
            "/members/{id}/discipline/{did}/revoke",
            post(discipline_revoke_page),
        )
        .route("/transfers", get(transfers_page).post(transfer_send_page))
        .route("/transfers/{id}/{decision}", post(transfer_decide_page))
}

pub fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/members", get(api_list).post(api_create))
        .route("/api/v1/members/export", get(export))
        .route("/api/v1/members/{id}", get(api_get).put(api_update))
        .route("/api/v1/members/{id}/unmask", post(api_unmask))
        .route("/api/v1/members/{id}/history", get(api_history))
        .route(
            "/api/v1/members/{id}/discipline",
            get(api_discipline).post(api_discipline_record),
        )
        .route(
            "/api/v1/members/{id}/discipline/{did}/revoke",
            post(api_discipline_revoke),
        )
        .route(
            "/api/v1/transfers",
            get(api_transfers).post(api_transfer_send),
        )
        .route(
            "/api/v1/transfers/{id}/{decision}",
            post(api_transfer_decide),
        )
}

/// The subtree a list or export covers: the chosen organisation, which must be in scope.
async fn scope_for(
    ctx: &Ctx,
    p: &Principal,
    org_id: Option<i64>,
    perm: Perm,
) -> Result<(String, i64), AppError> {
    match org_id {
        Some(id) if id != p.org_id => {
            let org = crate::org::store::get(&ctx.db, id).await?;
            authorize(ctx, p, perm, Some(&org.path)).await?;
            Ok((org.path, org.id))
        }
        _ => {
            authorize(ctx, p, perm, Some(&p.org_path)).await?;
            Ok((p.org_path.clone(), p.org_id))
        }
    }
}

/// Exact lookups by ID number or phone an account may make in a window.
pub const LOOKUPS_PER_WINDOW: u32 = 30;
pub const LOOKUP_WINDOW_SECS: i64 = 600;

/// A full ID number or phone in the search text confirms a guess: only an account that may
/// see numbers in clear looks one up — throttled and audited (without the number); for any
/// other account the number finds nothing. The filter text kept for logs is masked.
async fn screen_numbers(ctx: &Ctx, p: &Principal, f: &mut MemberFilter) -> Result<(), AppError> {
    let Some(q) = f.q.clone() else {
        return Ok(());
    };
    let Some(kind) = store::number_query(&q) else {
        return Ok(());
    };
    if !p.can(Perm::MemberUnmask) {
        return Ok(());
    }
    let key = format!("lookup:{}", p.account_id);
    let now = ctx.clock.now().timestamp();
    if let Some(wait) = ctx
        .limits
        .wait(&key, now, LOOKUPS_PER_WINDOW, LOOKUP_WINDOW_SECS)
    {
        return Err(AppError::TooManyAttempts(wait));
    }
    ctx.limits
        .fail(&key, now, LOOKUPS_PER_WINDOW, LOOKUP_WINDOW_SECS);
    let masked = if kind == "id" {
        crate::crypto::mask_id_number(&q)
    } else {
        crate::crypto::mask_phone(&q)
    };
    crate::audit::record(
        &ctx.db,
        &p.actor(),
        crate::audit::NewEntry {
            action: "member.lookup",
            object_type: "member_list",
            object_id: String::new(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"kind": kind, "number": masked}),
        },
    )
    .await?;
    f.numbers_allowed = true;
    Ok(())
}

/// A member created by an account: an ID number registered outside its subtree is answered
/// neutrally and counted against it, as an import's rows are (io::OUTSIDE_HITS an hour).
async fn create_counted(
    ctx: &Ctx,
    p: &Principal,
    input: &super::rules::MemberInput,
) -> Result<Member, AppError> {
    store::dupcheck_wait(ctx, Some(p.account_id))?;
    let r = store::create(ctx, &p.actor(), input).await;
    if let Err(AppError::Refused {
        code: "member.registered_elsewhere",
        ..
    }) = &r
    {
        store::dupcheck_hit(ctx, &p.actor(), "member.create_refused", "member").await?;
    }
    r
}

/// The filter as it may be logged: a number in `q` masked.
fn loggable_qs(f: &MemberFilter) -> String {
    let mut f = f.clone();
    if let Some(kind) = f.q.as_deref().and_then(store::number_query) {
        let q = f.q.take().unwrap_or_default();
        f.q = Some(if kind == "id" {
            crate::crypto::mask_id_number(&q)
        } else {
            crate::crypto::mask_phone(&q)
        });
    }
    filter_qs(&f)
}

async fn load_member(
    ctx: &Ctx,
    p: &Principal,
    id: i64,
    perm: Perm,
) -> Result<(Member, String), AppError> {
    let (m, path) = store::get(ctx, id).await?;
    authorize_member(ctx, p, perm, id, &path).await?;
    Ok((m, path))
}

fn options() -> minijinja::Value {
    context! {
        statuses => Status::ALL.iter().map(|s| (s.as_str(), s.label())).collect::<Vec<_>>(),
        roll_statuses => Status::ON_ROLL.iter().map(|s| (s.as_str(), s.label())).collect::<Vec<_>>(),
        educations => EDUCATION,
        age_bands => AGE_BANDS.iter().map(|a| (a.0, a.1)).collect::<Vec<_>>(),
        grid_roles => super::GridRole::ALL.iter().map(|g| (g.as_str(), g.label())).collect::<Vec<_>>(),
    }
}

/// The query string of a filter without its page (pagination and export links).
fn filter_qs(f: &MemberFilter) -> String {
    filter_qs_with(f, true)
}

/// The query string of a filter, with or without its sort order (sortable headers).
fn filter_qs_with(f: &MemberFilter, with_sort: bool) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    let mut add = |k: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            s.append_pair(k, &v);
        }
    };
    add("q", f.q.clone());
    add("org_id", f.org_id.map(|v| v.to_string()));
    add("status", f.status.clone());
    add("education", f.education.clone());
    add("age_band", f.age_band.clone());
    add("join_year", f.join_year.map(|v| v.to_string()));
    add("gender", f.gender.clone());
    if with_sort {
        add("sort", f.sort.clone());
        add("dir", f.dir.clone());
    }
    add("per_page", f.per_page.map(|v| v.to_string()));
    s.finish()
}

/// A batch selection: repeated `id` (the member list's checkboxes) or `ids` parameters, each a
/// member number; anything else is refused.
fn batch_ids(query: Option<&str>) -> Result<Vec<i64>, AppError> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .filter(|(k, _)| k == "id" || k == "ids")
        .map(|(_, v)| v.trim().parse::<i64>())
        .collect::<Result<Vec<i64>, _>>()
        .map_err(|_| AppError::field("ids", "须为党员编号（整数）"))
}

/// HTML filter forms send empty strings; treat them as absent.
fn clean(mut f: MemberFilter) -> MemberFilter {
    let none_if_empty = |o: Option<String>| o.filter(|s| !s.trim().is_empty());
    f.q = none_if_empty(f.q);
    f.status = none_if_empty(f.status);
    f.education = none_if_empty(f.education);
    f.age_band = none_if_empty(f.age_band);
    f.gender = none_if_empty(f.gender);
    f.sort = none_if_empty(f.sort);
    f.dir = none_if_empty(f.dir);
    f
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct RawFilter {
    pub q: Option<String>,
    pub org_id: Option<String>,
    pub status: Option<String>,
    pub education: Option<String>,
    pub age_band: Option<String>,
    pub join_year: Option<String>,
    pub gender: Option<String>,
    pub sort: Option<String>,
    pub dir: Option<String>,
    pub page: Option<String>,
    pub per_page: Option<String>,
    pub format: Option<String>,
}

impl RawFilter {
    /// The typed filter; anything that is not a number where one is expected is refused.
    /// An empty number is none for the pages' filter forms (which send every field), and
    /// refused from the API (`strict`).
    fn filter(&self, strict: bool) -> Result<MemberFilter, AppError> {
        let mut checks = crate::error::Checks::default();
        let mut num = |field: &str, s: &Option<String>| match s.as_deref().map(str::trim) {
            None => None,
            Some("") if !strict => None,
            Some(v) => {
                let n = v.parse::<i64>().ok();
                checks.check(n.is_some(), field, "须为整数");
                n
            }
        };
        let (org_id, join_year, page, per_page) = (
            num("org_id", &self.org_id),
            num("join_year", &self.join_year),
            num("page", &self.page),
            num("per_page", &self.per_page),
        );
        if join_year.is_some_and(|y| !(1921..=9999).contains(&y)) {
            checks.add("join_year", "入党年份须在1921年以后");
        }
        // an unknown value is refused, never ignored (an export would hold more than asked)
        let given = |s: &Option<String>| {
            s.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        if let Some(v) = given(&self.status) {
            checks.check(
                super::Status::parse(&v).is_some(),
                "status",
                "党员状态应为 full（正式党员）或 probationary（预备党员）",
            );
        }
        if let Some(v) = given(&self.education) {
            checks.check(
                super::EDUCATION.contains(&v.as_str()),
                "education",
                "学历应为：研究生、大学本科、大学专科、中专、高中、初中及以下",
            );
        }
        if let Some(v) = given(&self.age_band) {
            checks.check(
                super::AGE_BANDS.iter().any(|a| a.0 == v),
                "age_band",
                "年龄段应为 le35、36_45、46_55、56_60 或 gt60",
            );
        }
        if let Some(v) = given(&self.gender) {
            checks.check(matches!(v.as_str(), "M" | "F"), "gender", "性别应为 M 或 F");
        }
        if let Some(v) = given(&self.sort) {
            checks.check(
                matches!(
                    v.as_str(),
                    "name" | "join_date" | "birth_month" | "birth_date" | "id"
                ),
                "sort",
                "排序应为 name、join_date、birth_month 或 id",
            );
        }
        if let Some(v) = given(&self.dir) {
            checks.check(
                matches!(v.as_str(), "asc" | "desc"),
                "dir",
                "顺序应为 asc 或 desc",
            );
        }
        if let Some(v) = given(&self.format) {
            checks.check(
                matches!(v.as_str(), "xlsx" | "csv"),
                "format",
                "格式应为 xlsx 或 csv",
            );
        }
        checks.finish()?;
        Ok(clean(MemberFilter {
            q: self.q.clone(),
            org_id,
            status: self.status.clone(),
            education: self.education.clone(),
            age_band: self.age_band.clone(),
            join_year: join_year.map(|v| v as i32),
            gender: self.gender.clone(),
            sort: self.sort.clone(),
            dir: self.dir.clone(),
            page,
            per_page,
            ids: Vec::new(),
            numbers_allowed: false,
        }))
    }
}

async fn list_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(raw): Query<RawFilter>,
) -> Result<Response, PageError> {
    let mut f = raw.filter(false)?;
    let (scope, scope_id) = scope_for(&ctx, &p, f.org_id, Perm::MemberRead).await?;
    screen_numbers(&ctx, &p, &mut f).await?;
    let page = store::list(&ctx, &f, &scope).await?;
    let scope_org = crate::org::store::get(&ctx.db, scope_id).await?;
    let pages = crate::web::page_count(page.total, page.per_page);
    Ok(render(
        "members.html",
        page_ctx(
            &p,
            "members",
            context! {
                page => page, pages => pages, f => f, qs => filter_qs(&f), qs_nosort => filter_qs_with(&f, false),
                opts => options(), scope_org => scope_org, max_batch => store::MAX_BATCH,
                tree => crate::org::web::tree_nodes(&ctx, &p, scope_id).await?,
                can_write => p.can(Perm::MemberWrite), can_export => p.can(Perm::MemberExport),
                can_transfer => p.can(Perm::TransferWrite),
                partial_number => f.q.as_deref().is_some_and(store::partial_number),
            },
        ),
    ))
}

async fn self_page(Auth(p): Auth) -> Response {
    match p.member_id {
        Some(id) => Redirect::to(&format!("/members/{id}")).into_response(),
        None => PageError(AppError::NotFound("本人党员档案")).into_response(),
    }
}

async fn detail_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    detail(&ctx, &p, id, StatusCode::OK, Vec::new(), None).await
}

/// The member's page; `errors` and `form` re-show a refused discipline form.
async fn detail(
    ctx: &Ctx,
    p: &Principal,
    id: i64,
    status: StatusCode,
    errors: Vec<FieldError>,
    form: Option<DisciplineForm>,
) -> Result<Response, PageError> {
    let (m, path) = load_member(ctx, p, id, Perm::MemberRead).await?;
    let history = crate::audit::history_in_words(&ctx.db, "member", &id.to_string()).await?;
    let branch = crate::org::store::get(&ctx.db, m.org_id).await?;
    let group = match m.group_id {
        Some(g) => crate::org::store::find(&ctx.db, g).await?.map(|o| o.name),
        None => None,
    };
    let in_scope = p.in_scope(&path);
    // Trace-back: the recruitment file this member came through, if any.
    let recruit_id = if in_scope && p.can(Perm::RecruitRead) {
        crate::recruit::store::for_member(ctx, id).await?
    } else {
        None
    };
    let on_roll = m.status != Status::Left.as_str();
    // 民主评议 results are on the member's record for whoever may read it
    let appraisals = crate::appraisal::store::results_of(ctx, id).await?;
    let discipline = if in_scope && p.can(Perm::DisciplineRead) {
        Some(super::discipline::list(ctx, id).await?)
    } else {
        None
    };
    Ok(render_status(
        status,
        "member.html",
        page_ctx(
            p,
            "members",
            context! {
                m => m, branch => branch, group => group, history => history,
                status_label => m.status_label(), gender_label => m.gender_label(), grid_role_label => m.grid_role_label(),
                age => super::age_in_months(m.birth_month, ctx.clock.today()),
                can_write => on_roll && in_scope && p.can(Perm::MemberWrite), can_unmask => in_scope && p.can(Perm::MemberUnmask),
                can_transfer => on_roll && in_scope && p.can(Perm::TransferWrite), recruit_id => recruit_id,
                // the branch's roster and page, linked only for those who may open them
                can_list => in_scope && p.can(Perm::MemberRead), can_org => in_scope && p.can(Perm::OrgRead),
                discipline => discipline, discipline_kinds => super::discipline::KINDS,
                can_discipline => in_scope && p.can(Perm::DisciplineWrite),
                discipline_errors => errors, discipline_form => form.unwrap_or_default(),
                today => ctx.clock.today(), appraisals => appraisals,
            },
        ),
    ))
}

/// The discipline form as HTML sends it.
#[derive(Deserialize, Serialize, Default, Clone)]
#[serde(default)]
struct DisciplineForm {
    kind: String,
    decided_on: String,
    months: String,
    deciding_body: String,
    document_no: String,
    reason: String,
}

fn form_date(s: &str) -> Option<chrono::NaiveDate> {
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

async fn discipline_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<DisciplineForm>,
) -> Result<Response, PageError> {
    let (_, path) = store::get(&ctx, id).await?;
    authorize(&ctx, &p, Perm::DisciplineWrite, Some(&path)).await?;
    let input = super::discipline::DisciplineInput {
        kind: f.kind.clone(),
        decided_on: form_date(&f.decided_on),
        months: f.months.trim().parse().ok(),
        deciding_body: f.deciding_body.clone(),
        document_no: f.document_no.clone(),
        reason: f.reason.clone(),
    };
    match super::discipline::record(&ctx, &p, id, &input).await {
        Ok(_) => Ok(Redirect::to(&format!("/members/{id}#discipline")).into_response()),
        Err(e @ (AppError::Validation(_) | AppError::Refused { .. })) => {
            let errors = match e {
                AppError::Validation(v) => v,
                other => vec![FieldError::new("kind", other.public_message())],
            };
            detail(
                &ctx,
                &p,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                errors,
                Some(f),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RevokeForm {
    revoked_on: String,
    reason: String,
}

async fn discipline_revoke_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path((id, did)): Path<(i64, i64)>,
    axum::Form(f): axum::Form<RevokeForm>,
) -> Result<Response, PageError> {
    let (_, path) = store::get(&ctx, id).await?;
    authorize(&ctx, &p, Perm::DisciplineWrite, Some(&path)).await?;
    let input = super::discipline::RevokeInput {
        revoked_on: form_date(&f.revoked_on),
        reason: f.reason,
    };
    match super::discipline::revoke(&ctx, &p, id, did, &input).await {
        Ok(_) => Ok(Redirect::to(&format!("/members/{id}#discipline")).into_response()),
        Err(e @ (AppError::Validation(_) | AppError::Refused { .. })) => {
            let errors = match e {
                AppError::Validation(v) => v,
                other => vec![FieldError::new("revoked_on", other.public_message())],
            };
            detail(&ctx, &p, id, StatusCode::UNPROCESSABLE_ENTITY, errors, None).await
        }
        Err(e) => Err(e.into()),
    }
}

async fn unmask_partial(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let (_, path) = store::get(&ctx, id).await?;
    authorize(&ctx, &p, Perm::MemberUnmask, Some(&path)).await?;
    let (idn, phone) = store::reveal(&ctx, &p.actor(), id).await?;
    let html = format!(
        "<dl class=\"kv revealed\"><dt>身份证号码</dt><dd>{}</dd><dt>手机号码</dt><dd>{}</dd></dl><p class=\"hint\">已记录本次查看。</p>",
        minijinja::HtmlEscape(&idn),
        minijinja::HtmlEscape(phone.as_deref().unwrap_or("—"))
    );
    Ok(axum::response::Html(html).into_response())
}

/// The member form as HTML sends it (empty strings for empty fields).
#[derive(Deserialize, Default, Serialize)]
#[serde(default)]
struct MemberForm {
    org_id: String,
    group_id: String,
    name: String,
    gender: String,
    ethnicity: String,
    id_number: String,
    phone: String,
    education: String,
    work_unit: String,
    join_date: String,
    full_date: String,
    status: String,
    grid_role: String,
    mobile_destination: String,
    version: String,
}

impl MemberForm {
    fn input(&self) -> Result<MemberInput, Vec<FieldError>> {
        let mut errs = Vec::new();
        let date =
            |s: &str, field: &str, errs: &mut Vec<FieldError>| -> Option<chrono::NaiveDate> {
                if s.trim().is_empty() {
                    return None;
                }
                let d = chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok();
                if d.is_none() {
                    errs.push(FieldError::new(field, "日期格式应为YYYY-MM-DD"));
                }
                d
            };
        let join = date(&self.join_date, "join_date", &mut errs);
        if join.is_none() && self.join_date.trim().is_empty() {
            errs.push(FieldError::new("join_date", "请填写入党日期"));
        }
        let full = date(&self.full_date, "full_date", &mut errs);
        let opt = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        if !errs.is_empty() {
            return Err(errs);
        }
        Ok(MemberInput {
            org_id: self.org_id.trim().parse().unwrap_or(0),
            group_id: self.group_id.trim().parse().ok(),
            name: self.name.clone(),
            gender: opt(&self.gender),
            ethnicity: self.ethnicity.clone(),
            birth_date: None,
            id_number: opt(&self.id_number),
            phone: opt(&self.phone),
            education: self.education.clone(),
            work_unit: self.work_unit.clone(),
            region_code: None,
            join_date: join.unwrap_or_default(),
            full_date: full,
            status: self.status.clone(),
            grid_role: opt(&self.grid_role),
            mobile_destination: opt(&self.mobile_destination),
            version: self.version.trim().parse().ok(),
        })
    }
}

fn form_of(m: &Member) -> MemberForm {
    MemberForm {
        org_id: m.org_id.to_string(),
        group_id: m.group_id.map(|g| g.to_string()).unwrap_or_default(),
        name: m.name.clone(),
        gender: m.gender.clone(),
        ethnicity: m.ethnicity.clone(),
        id_number: String::new(),
        phone: String::new(),
        education: m.education.clone(),
        work_unit: m.work_unit.clone(),
        join_date: m.join_date.to_string(),
        full_date: m.full_date.map(|d| d.to_string()).unwrap_or_default(),
        status: m.status.clone(),
        grid_role: m.grid_role.clone().unwrap_or_default(),
        mobile_destination: m.mobile_destination.clone().unwrap_or_default(),
        version: m.version.to_string(),
    }
}

#[derive(Deserialize, Default)]
struct NewQuery {
    org_id: Option<i64>,
}

async fn new_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<NewQuery>,
) -> Result<Response, PageError> {
    let branch = match q.org_id {
        Some(id) => Some(crate::org::web::load(&ctx, &p, id, Perm::MemberWrite).await?)
            .filter(|o| o.kind.holds_members()),
        None => {
            authorize(&ctx, &p, Perm::MemberWrite, Some(&p.org_path)).await?;
            // A branch account adds members to its own branch without searching for it.
            Some(crate::org::store::get(&ctx.db, p.org_id).await?)
                .filter(|o| o.kind.holds_members())
        }
    };
    let form = MemberForm {
        org_id: branch
            .as_ref()
            .map(|b| b.id.to_string())
            .unwrap_or_default(),
        ethnicity: "汉族".into(),
        status: "full".into(),
        ..Default::default()
    };
    Ok(render(
        "member_form.html",
        page_ctx(
            &p,
            "members",
            context! { mode => "new", form => form, branch => branch, opts => options(), errors => Vec::<FieldError>::new() },
        ),
    ))
}

async fn create_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    axum::Form(f): axum::Form<MemberForm>,
) -> Result<Response, PageError> {
    // Only a branch inside the account's scope is named back on the form.
    let branch = crate::org::store::find(&ctx.db, f.org_id.trim().parse().unwrap_or(0))
        .await?
        .filter(|b| p.in_scope(&b.path));
    let result = async {
        let input = f.input().map_err(AppError::Validation)?;
        let b = branch
            .clone()
            .ok_or_else(|| AppError::field("org_id", "请选择所在党支部"))?;
        authorize(&ctx, &p, Perm::MemberWrite, Some(&b.path)).await?;
        create_counted(&ctx, &p, &input).await
    }
    .await;
    match result {
        Ok(m) => Ok(Redirect::to(&format!("/members/{}?ok=created", m.id)).into_response()),
        Err(AppError::Validation(v)) => Ok(render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            "member_form.html",
            page_ctx(
                &p,
                "members",
                context! { mode => "new", form => f, branch => branch, opts => options(), errors => v },
            ),
        )),
        Err(e) => Err(e.into()),
    }
}

async fn edit_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let (m, _) = load_member(&ctx, &p, id, Perm::MemberWrite).await?;
    let branch = crate::org::store::get(&ctx.db, m.org_id).await?;
    let groups: Vec<(i64, String)> = crate::org::store::children(&ctx.db, m.org_id)
        .await?
        .into_iter()
        .filter(|n| n.org.kind == crate::org::OrgKind::Group)
        .map(|n| (n.org.id, n.org.name))
        .collect();
    Ok(render(
        "member_form.html",
        page_ctx(
            &p,
            "members",
            context! { mode => "edit", m => m, form => form_of(&m), branch => branch, groups => groups, opts => options(), errors => Vec::<FieldError>::new() },
        ),
    ))
}

async fn edit_submit(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    axum::Form(f): axum::Form<MemberForm>,
) -> Result<Response, PageError> {
    let (m, _) = load_member(&ctx, &p, id, Perm::MemberWrite).await?;
    let result = async {
        let mut input = f.input().map_err(AppError::Validation)?;
        input.org_id = m.org_id;
        store::update(&ctx, &p.actor(), id, &input).await
    }
    .await;
    match result {
        Ok(_) => Ok(Redirect::to(&format!("/members/{id}?ok=saved")).into_response()),
        Err(AppError::Validation(v)) => {
            let branch = crate::org::store::get(&ctx.db, m.org_id).await?;
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "member_form.html",
                page_ctx(
                    &p,
                    "members",
                    context! { mode => "edit", m => m, form => f, branch => branch, groups => Vec::<(i64, String)>::new(), opts => options(), errors => v },
                ),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

/// Exports exactly the filtered list (xlsx by default, `format=csv` for CSV).
#[utoipa::path(get, path = "/api/v1/members/export", tag = "members", params(MemberFilter, ("format" = Option<String>, Query, description = "xlsx or csv")),
    responses((status = 200, description = "the file", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"), (status = 403, body = crate::web::ErrorBody)))]
pub async fn export(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(raw): Query<RawFilter>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
    uri: axum::http::Uri,
) -> Response {
    let mut f = match raw.filter(uri.path().starts_with("/api/")) {
        Ok(f) => f,
        Err(e) => return ApiError(e).into_response(),
    };
    f.ids = match batch_ids(query.as_deref()) {
        Ok(ids) => ids,
        Err(e) => return ApiError(e).into_response(),
    };
    if f.ids.len() > store::MAX_BATCH {
        return ApiError(AppError::refused(
            "member.batch_too_large",
            format!("一次最多选择{}名党员", store::MAX_BATCH),
        ))
        .into_response();
    }
    let csv = raw.format.as_deref() == Some("csv");
    let result = async {
        let (scope, _) = scope_for(&ctx, &p, f.org_id, Perm::MemberExport).await?;
        screen_numbers(&ctx, &p, &mut f).await?;
        let (bytes, n) = if csv { io::export_csv(&ctx, &f, &scope).await? } else { io::export_xlsx(&ctx, &f, &scope).await? };
        crate::audit::record(&ctx.db, &p.actor(), crate::audit::NewEntry {
            action: "member.export",
            object_type: "member_list",
            object_id: String::new(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"filter": loggable_qs(&f), "ids": f.ids, "rows": n, "format": if csv { "csv" } else { "xlsx" }}),
        }).await?;
        Ok::<_, AppError>(bytes)
    }
    .await;
    match result {
        Ok(bytes) => {
            let (ct, ext) = if csv {
                ("text/csv; charset=utf-8", "csv")
            } else {
                (
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    "xlsx",
                )
            };
            let name = format!(
                "党员名册-{}.{ext}",
                crate::clock::fmt_local(ctx.clock.now(), "%Y%m%d%H%M")
            );
            (
                [
                    (header::CONTENT_TYPE, ct.to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        crate::web::attachment_name(&name),
                    ),
                ],
                bytes,
            )
                .into_response()
        }
        Err(e) => ApiError(e).into_response(),
    }
}

async fn template(Auth(_p): Auth) -> Result<Response, PageError> {
    let bytes = io::template_xlsx()?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ),
            (
                header::CONTENT_DISPOSITION,
                &crate::web::attachment_name("党员导入模板.xlsx"),
            ),
        ],
        bytes,
    )
        .into_response())
}

async fn import_page(State(ctx): State<AppState>, Auth(p): Auth) -> Result<Response, PageError> {
    authorize(&ctx, &p, Perm::MemberImport, Some(&p.org_path)).await?;
    Ok(render(
        "import.html",
        page_ctx(
            &p,
            "import",
            context! { error => "", headers => io::HEADERS },
        ),
    ))
}

async fn import_submit(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    mut mp: Multipart,
) -> Result<Response, PageError> {
    authorize(&ctx, &p, Perm::MemberImport, Some(&p.org_path)).await?;
    let mut file: Option<(String, Vec<u8>)> = None;
    let mut mode = ImportMode::AllOrNothing;
    while let Ok(Some(field)) = mp.next_field().await {
        let name = field.name().unwrap_or("").to_string();
        if name == "file" {
            let file_name = field.file_name().unwrap_or("").to_string();
            let bytes = field
                .bytes()
                .await
                .map_err(|_| AppError::field("file", "上传失败或文件过大"))?;
            file = Some((file_name, bytes.to_vec()));
        } else if name == "mode" {
            mode = if field.text().await.unwrap_or_default() == "valid_only" {
                ImportMode::ValidOnly
            } else {
                ImportMode::AllOrNothing
            };
        }
    }
    let fail = |msg: String| {
        render_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            "import.html",
            page_ctx(
                &p,
                "import",
                context! { error => msg, headers => io::HEADERS },
            ),
        )
    };
    let Some((name, bytes)) = file.filter(|f| !f.1.is_empty()) else {
        return Ok(fail("请选择要导入的文件".into()));
    };
    let rows = if name.to_lowercase().ends_with(".csv") {
        io::read_csv(&bytes)
    } else {
        io::read_xlsx(&bytes)
    };
    let rows = match rows {
        Ok(r) => r,
        Err(m) => {
            io::audit_import(&ctx, &p.actor(), 0, 0, 0, 0, Some(&m)).await?;
            return Ok(fail(m));
        }
    };
    let job = ctx.imports.start(p.account_id);
    let (ctx2, actor, scope, job2) = (ctx.clone(), p.actor(), p.org_path.clone(), job.clone());
    tokio::spawn(async move {
        let jobs = ctx2.imports.clone();
        let result = io::run_import(&ctx2, &actor, &scope, rows, mode, Some((&jobs, &job2))).await;
        jobs.update(&job2, |r| match result {
            Ok(rep) => *r = rep,
            Err(e) => {
                tracing::error!(error = %e, "import failed");
                r.done = true;
                r.failed = Some(e.public_message());
            }
        });
    });
    Ok(Redirect::to(&format!("/members/import/{job}")).into_response())
}

async fn import_status(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(job): Path<String>,
    headers: axum::http::HeaderMap,
) -> Result<Response, PageError> {
    let report = ctx
        .imports
        .get(&job, p.account_id)
        .ok_or(AppError::NotFound("导入任务"))?;
    let partial = headers.contains_key("hx-request");
    let view = context! { job => job, r => report };
    if partial {
        Ok(render("import_status.html", view))
    } else {
        Ok(render(
            "import.html",
            page_ctx(
                &p,
                "import",
                context! { status => view, error => "", headers => io::HEADERS },
            ),
        ))
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TransfersQuery {
    status: Option<String>,
    page: Option<String>,
}

const TRANSFERS_PER_PAGE: i64 = 50;

/// The transfers page: the list (filtered by state, paginated) and any form errors.
async fn transfers_view(
    ctx: &Ctx,
    p: &Principal,
    q: &TransfersQuery,
    errors: Vec<FieldError>,
) -> Result<minijinja::Value, AppError> {
    let status = q
        .status
        .as_deref()
        .filter(|s| transfer::STATUSES.iter().any(|(k, _)| k == s));
    let total = transfer::count(ctx, &p.org_path, status).await?;
    let pages = crate::web::page_count(total, TRANSFERS_PER_PAGE);
    let page = q
        .page
        .as_deref()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or(1)
        .clamp(1, pages);
    let list = transfer::list_sides(
        ctx,
        &p.org_path,
        status,
        TRANSFERS_PER_PAGE,
        (page - 1) * TRANSFERS_PER_PAGE,
    )
    .await?;
    // the receiving side receives or returns, the sending side cancels: each sees its own
    let rows: Vec<serde_json::Value> = list
        .iter()
        .map(|(t, from, to)| {
            serde_json::json!({ "t": t, "status_label": t.status_label(),
                "receiver": p.in_scope(to), "sender": p.in_scope(from) })
        })
        .collect();
    let qs = status.map(|s| format!("status={s}")).unwrap_or_default();
    Ok(context! {
        rows => rows, errors => errors, status => status, statuses => transfer::STATUSES,
        page => context! { page => page, total => total }, pages => pages, qs => qs,
    })
}

async fn transfers_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<TransfersQuery>,
) -> Result<Response, PageError> {
    authorize(&ctx, &p, Perm::TransferWrite, Some(&p.org_path)).await?;
    let view = transfers_view(&ctx, &p, &q, Vec::new()).await?;
    Ok(render("transfers.html", page_ctx(&p, "transfers", view)))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct TransferForm {
    member_id: String,
    to_org_id: String,
    reason: String,
}

async fn send_checked(ctx: &Ctx, p: &Principal, input: &NewTransfer) -> Result<Transfer, AppError> {
    let (_, path) = store::get(ctx, input.member_id).await?;
    authorize(ctx, p, Perm::TransferWrite, Some(&path)).await?;
    transfer::send(ctx, &p.actor(), input).await
}

async fn transfer_send_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    axum::Form(f): axum::Form<TransferForm>,
) -> Result<Response, PageError> {
    let input = NewTransfer {
        member_id: f.member_id.trim().parse().unwrap_or(0),
        to_org_id: f.to_org_id.trim().parse().unwrap_or(0),
        reason: f.reason,
    };
    match send_checked(&ctx, &p, &input).await {
        Ok(_) => Ok(Redirect::to("/transfers?ok=sent").into_response()),
        Err(e @ (AppError::Validation(_) | AppError::Refused { .. })) => {
            let errors = match e {
                AppError::Validation(v) => v,
                other => vec![FieldError::new("member_id", other.public_message())],
            };
            let view = transfers_view(&ctx, &p, &TransfersQuery::default(), errors).await?;
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "transfers.html",
                page_ctx(&p, "transfers", view),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(default)]
pub struct DecisionBody {
    /// Required when returning a transfer.
    pub note: String,
}

async fn decide_checked(
    ctx: &Ctx,
    p: &Principal,
    id: i64,
    decision: &str,
    note: &str,
) -> Result<Transfer, AppError> {
    let (_, from_path, to_path) = transfer::get(ctx, id).await?;
    let d = match decision {
        "receive" => Decision::Receive,
        "return" => Decision::Return,
        "cancel" => Decision::Cancel,
        _ => return Err(AppError::NotFound("操作")),
    };
    let side = if d == Decision::Cancel {
        &from_path
    } else {
        &to_path
    };
    authorize(ctx, p, Perm::TransferWrite, Some(side)).await?;
    transfer::decide(ctx, &p.actor(), id, d, note).await
}

async fn transfer_decide_page(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path((id, decision)): Path<(i64, String)>,
    axum::Form(f): axum::Form<DecisionBody>,
) -> Result<Response, PageError> {
    decide_checked(&ctx, &p, id, &decision, &f.note).await?;
    Ok(Redirect::to("/transfers?ok=saved").into_response())
}

// ---- JSON API ----

/// Members in the caller's subtree (or `org_id`'s), filtered, sorted and paginated.
#[utoipa::path(get, path = "/api/v1/members", tag = "members", params(MemberFilter),
    responses((status = 200, body = MemberPage), (status = 403, body = crate::web::ErrorBody)))]
pub async fn api_list(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(raw): Query<RawFilter>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Result<Json<MemberPage>, ApiError> {
    let mut f = raw.filter(true)?;
    f.ids = batch_ids(query.as_deref())?;
    let (scope, _) = scope_for(&ctx, &p, f.org_id, Perm::MemberRead).await?;
    screen_numbers(&ctx, &p, &mut f).await?;
    Ok(Json(store::list(&ctx, &f, &scope).await?))
}

/// One member (numbers masked).
#[utoipa::path(get, path = "/api/v1/members/{id}", tag = "members", params(("id" = i64, Path)),
    responses((status = 200, body = Member), (status = 403, body = crate::web::ErrorBody), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_get(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Member>, ApiError> {
    Ok(Json(load_member(&ctx, &p, id, Perm::MemberRead).await?.0))
}

/// Adds a member to a branch.
#[utoipa::path(post, path = "/api/v1/members", tag = "members", request_body = MemberInput,
    responses((status = 200, body = Member), (status = 422, body = crate::web::ErrorBody), (status = 403, body = crate::web::ErrorBody)))]
pub async fn api_create(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Json(input): Json<MemberInput>,
) -> Result<Json<Member>, ApiError> {
    let org = crate::org::store::get(&ctx.db, input.org_id)
        .await
        .map_err(|_| AppError::field("org_id", "所在党支部不存在"))?;
    authorize(&ctx, &p, Perm::MemberWrite, Some(&org.path)).await?;
    Ok(Json(create_counted(&ctx, &p, &input).await?))
}

/// Edits a member (the branch changes only by transfer).
#[utoipa::path(put, path = "/api/v1/members/{id}", tag = "members", params(("id" = i64, Path)), request_body = MemberInput,
    responses((status = 200, body = Member), (status = 409, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_update(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(input): Json<MemberInput>,
) -> Result<Json<Member>, ApiError> {
    load_member(&ctx, &p, id, Perm::MemberWrite).await?;
    Ok(Json(store::update(&ctx, &p.actor(), id, &input).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct UnmaskedBody {
    pub id_number: String,
    pub phone: Option<String>,
}

/// The clear ID number and phone (role-restricted; every call is audited).
#[utoipa::path(post, path = "/api/v1/members/{id}/unmask", tag = "members", params(("id" = i64, Path)),
    responses((status = 200, body = UnmaskedBody), (status = 403, body = crate::web::ErrorBody)))]
pub async fn api_unmask(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<UnmaskedBody>, ApiError> {
    let (_, path) = store::get(&ctx, id).await?;
    authorize(&ctx, &p, Perm::MemberUnmask, Some(&path)).await?;
    let (id_number, phone) = store::reveal(&ctx, &p.actor(), id).await?;
    Ok(Json(UnmaskedBody { id_number, phone }))
}

/// The disciplinary decisions (党纪处分) on a member, oldest first.
#[utoipa::path(get, path = "/api/v1/members/{id}/discipline", tag = "members", params(("id" = i64, Path)),
    responses((status = 200, body = [super::discipline::Discipline]), (status = 403, body = crate::web::ErrorBody), (status = 404, body = crate::web::ErrorBody)))]
pub async fn api_discipline(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Vec<super::discipline::Discipline>>, ApiError> {
    let (_, path) = store::get(&ctx, id).await?;
    authorize(&ctx, &p, Perm::DisciplineRead, Some(&path)).await?;
    Ok(Json(super::discipline::list(&ctx, id).await?))
}

/// Records a disciplinary decision (organisation staff): 警告, 严重警告, 撤销党内职务, 留党察看
/// (12 or 24 months: no vote, no election, no introducing while it runs) or 开除党籍 (the
/// member leaves the roll, status `left`).
#[utoipa::path(post, path = "/api/v1/members/{id}/discipline", tag = "members", params(("id" = i64, Path)),
    request_body = super::discipline::DisciplineInput,
    responses((status = 200, body = super::discipline::Discipline), (status = 403, body = crate::web::ErrorBody), (status = 404, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_discipline_record(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
    Json(input): Json<super::discipline::DisciplineInput>,
) -> Result<Json<super::discipline::Discipline>, ApiError> {
    let (_, path) = store::get(&ctx, id).await?;
    authorize(&ctx, &p, Perm::DisciplineWrite, Some(&path)).await?;
    Ok(Json(super::discipline::record(&ctx, &p, id, &input).await?))
}

/// Sets a decision aside (申诉复查); a revoked 开除党籍 restores the member's former status.
#[utoipa::path(post, path = "/api/v1/members/{id}/discipline/{did}/revoke", tag = "members", params(("id" = i64, Path), ("did" = i64, Path)),
    request_body = super::discipline::RevokeInput,
    responses((status = 200, body = super::discipline::Discipline), (status = 403, body = crate::web::ErrorBody), (status = 404, body = crate::web::ErrorBody), (status = 409, body = crate::web::ErrorBody), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_discipline_revoke(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path((id, did)): Path<(i64, i64)>,
    Json(input): Json<super::discipline::RevokeInput>,
) -> Result<Json<super::discipline::Discipline>, ApiError> {
    let (_, path) = store::get(&ctx, id).await?;
    authorize(&ctx, &p, Perm::DisciplineWrite, Some(&path)).await?;
    Ok(Json(
        super::discipline::revoke(&ctx, &p, id, did, &input).await?,
    ))
}

/// Who changed this member, when, before → after.
#[utoipa::path(get, path = "/api/v1/members/{id}/history", tag = "members", params(("id" = i64, Path)), responses((status = 200, body = [crate::audit::Entry])))]
pub async fn api_history(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> Result<Json<Vec<crate::audit::Entry>>, ApiError> {
    load_member(&ctx, &p, id, Perm::MemberRead).await?;
    let h = crate::audit::history(&ctx.db, "member", &id.to_string()).await?;
    Ok(Json(h))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TransferQuery {
    /// sent, received, returned, cancelled
    pub status: Option<String>,
}

/// Transfers with either side in the caller's subtree.
#[utoipa::path(get, path = "/api/v1/transfers", tag = "transfers", params(TransferQuery), responses((status = 200, body = [Transfer])))]
pub async fn api_transfers(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<TransferQuery>,
) -> Result<Json<Vec<Transfer>>, ApiError> {
    authorize(&ctx, &p, Perm::TransferWrite, Some(&p.org_path)).await?;
    Ok(Json(
        transfer::list(&ctx, &p.org_path, q.status.as_deref(), 500, 0).await?,
    ))
}

/// Sends a member's organisation relationship to another branch.
#[utoipa::path(post, path = "/api/v1/transfers", tag = "transfers", request_body = NewTransfer,
    responses((status = 200, body = Transfer), (status = 422, body = crate::web::ErrorBody)))]
pub async fn api_transfer_send(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Json(input): Json<NewTransfer>,
) -> Result<Json<Transfer>, ApiError> {
    Ok(Json(send_checked(&ctx, &p, &input).await?))
}

/// `receive` or `return` (receiving side) or `cancel` (sending side).
#[utoipa::path(post, path = "/api/v1/transfers/{id}/{decision}", tag = "transfers",
    params(("id" = i64, Path), ("decision" = String, Path, description = "receive, return or cancel")), request_body = DecisionBody,
    responses((status = 200, body = Transfer), (status = 409, body = crate::web::ErrorBody)))]
pub async fn api_transfer_decide(
    State(ctx): State<AppState>,
    Auth(p): Auth,
    Path((id, decision)): Path<(i64, String)>,
    body: Option<Json<DecisionBody>>,
) -> Result<Json<Transfer>, ApiError> {
    let note = body.map(|b| b.0.note).unwrap_or_default();
    Ok(Json(decide_checked(&ctx, &p, id, &decision, &note).await?))
}

/// Fuzz target for the member filter's query-string parser: any query string gives a filter or
/// a refusal naming fields, never a panic; and a filter written as a query string reads back
/// as the same filter.
#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    fn read(qs: &str) -> Option<Result<MemberFilter, AppError>> {
        let uri: axum::http::Uri = format!("/members?{qs}").parse().ok()?;
        let raw = Query::<RawFilter>::try_from_uri(&uri).ok()?;
        Some(raw.0.filter(true))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5_000))]

        #[test]
        fn any_query_string(qs in "([a-z_]{1,9}=[\\PC%&=+]{0,12}&?){0,12}") {
            match read(&qs) {
                Some(Err(AppError::Validation(fields))) => prop_assert!(!fields.is_empty()),
                Some(Err(e)) => prop_assert!(false, "unexpected refusal {:?}", e),
                _ => {}
            }
        }

        #[test]
        fn round_trip(q in proptest::option::of("\\PC{0,10}"), org_id: Option<i64>, status in proptest::option::of("(full|probationary)"),
                      join_year in proptest::option::of(1921i32..2100), gender in proptest::option::of("[MF]"), per_page: Option<i64>,
                      sort in proptest::option::of("(name|join_date)"), dir in proptest::option::of("(asc|desc)")) {
            let f = clean(MemberFilter { q, org_id, status, join_year, gender, per_page, sort, dir, ..Default::default() });
            let qs = filter_qs(&f);
            let back = read(&qs).expect("a query string we wrote parses").expect("and is accepted");
            prop_assert_eq!(filter_qs(&back), qs);
        }
    }
}
