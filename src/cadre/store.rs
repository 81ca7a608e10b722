//! The cadre register: create, change, list and read cadres, each change audited.

use super::{CATEGORIES, MAX_NAME, MAX_POSITION, MAX_UNIT, RANKS, STATUSES};
use crate::audit::{self, NewEntry};
use crate::auth::{Perm, Principal};
use crate::db::{path_upper, DbResult, DbRow, SqlBuilder, Val};
use crate::error::{AppError, AppResult, Checks};
use crate::{bind_vals, on_db, on_tx, Ctx};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A cadre as entered (page or API).
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct NewCadre {
    pub name: String,
    /// The organisation (a Party committee of the caller's subtree) that manages the cadre.
    pub managed_by: i64,
    /// 工作单位 (or 派出单位 of a first secretary).
    pub unit: String,
    pub position: String,
    /// A code of [`RANKS`].
    pub rank: String,
    /// A code of [`CATEGORIES`].
    pub category: String,
    /// The roster entry when the cadre is a Party member (in the caller's subtree).
    pub member_id: Option<i64>,
    /// The user name of the account the cadre files with (in the caller's subtree).
    pub account: Option<String>,
    /// Files a weekly work record (工作记实).
    pub weekly_record: bool,
    /// active or left; empty: active.
    pub status: String,
    /// For a change: the version read (a stale one is refused).
    pub version: Option<i64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Cadre {
    pub id: i64,
    pub name: String,
    pub managed_by: i64,
    pub managed_by_name: String,
    pub unit: String,
    pub position: String,
    pub rank: String,
    pub rank_label: String,
    pub category: String,
    pub category_label: String,
    pub member_id: Option<i64>,
    pub account_id: Option<i64>,
    pub account: Option<String>,
    pub weekly_record: bool,
    pub status: String,
    pub status_label: String,
    pub created_at: DateTime<Utc>,
    pub version: i64,
}

const COLUMNS: &str = "c.id, c.name, c.managed_by, o.name AS org_name, o.path AS org_path, c.unit, c.position, c.rank, c.category, \
    c.member_id, c.account_id, a.username, c.weekly_record, c.status, c.created_at, c.version";
const FROM: &str =
    "FROM cadres c JOIN orgs o ON o.id = c.managed_by LEFT JOIN accounts a ON a.id = c.account_id";

fn row(r: &impl DbRow) -> DbResult<(Cadre, String)> {
    let rank = r.string("rank")?;
    let category = r.string("category")?;
    let status = r.string("status")?;
    Ok((
        Cadre {
            id: r.i64("id")?,
            name: r.string("name")?,
            managed_by: r.i64("managed_by")?,
            managed_by_name: r.string("org_name")?,
            unit: r.string("unit")?,
            position: r.string("position")?,
            rank_label: super::label(&RANKS, &rank).to_string(),
            rank,
            category_label: super::label(&CATEGORIES, &category).to_string(),
            category,
            member_id: r.opt_i64("member_id")?,
            account_id: r.opt_i64("account_id")?,
            account: r.opt_string("username")?,
            weekly_record: r.bool("weekly_record")?,
            status_label: super::label(&STATUSES, &status).to_string(),
            status,
            created_at: r.ts("created_at")?,
            version: r.i64("version")?,
        },
        r.string("org_path")?,
    ))
}

/// The cadre and the path of the organisation managing them, without asking who reads.
pub async fn load(ctx: &Ctx, id: i64) -> AppResult<(Cadre, String)> {
    let sql = format!("SELECT {COLUMNS} {FROM} WHERE c.id = $1");
    on_db!(&ctx.db, x => {
        match sqlx::query(&sql).bind(id).fetch_optional(x).await? {
            Some(r) => Ok(row(&r)?),
            None => Err(AppError::NotFound("干部")),
        }
    })
}

/// A cadre `p` may see: managed in its subtree, or the account's own. Outside: not found.
pub async fn get(ctx: &Ctx, p: &Principal, id: i64) -> AppResult<Cadre> {
    let (c, path) = load(ctx, id).await?;
    if c.account_id == Some(p.account_id) {
        return Ok(c);
    }
    if !p.in_scope(&path) {
        return Err(AppError::NotFound("干部"));
    }
    p.authorize(Perm::CadreRead, Some(&path))?;
    Ok(c)
}

/// The cadre the account files as, if any.
pub async fn of_account(ctx: &Ctx, account_id: i64) -> AppResult<Option<(Cadre, String)>> {
    let sql = format!("SELECT {COLUMNS} {FROM} WHERE c.account_id = $1");
    Ok(on_db!(&ctx.db, x => {
        match sqlx::query(&sql).bind(account_id).fetch_optional(x).await? {
            Some(r) => Some(row(&r)?),
            None => None,
        }
    }))
}

/// What a list asks for.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct CadreFilter {
    /// The subtree (default: the caller's organisation).
    pub org_id: Option<i64>,
    /// Part of the name or the unit.
    pub name: Option<String>,
    pub category: Option<String>,
    /// active (default), left or all
    pub status: Option<String>,
    pub offset: Option<i64>,
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CadrePage {
    pub total: i64,
    pub items: Vec<Cadre>,
}

/// The path whose subtree a list covers: the asked organisation inside the caller's scope.
pub async fn scope_path(ctx: &Ctx, p: &Principal, org_id: Option<i64>) -> AppResult<String> {
    match org_id {
        Some(id) if id != p.org_id => {
            let o = crate::org::store::find(&ctx.db, id)
                .await?
                .filter(|o| p.in_scope(&o.path))
                .ok_or(AppError::NotFound("党组织"))?;
            Ok(o.path)
        }
        _ => Ok(p.org_path.clone()),
    }
}

/// The organisation a list covers (as [`scope_path`]: the asked one inside the caller's
/// scope, else the caller's own).
pub async fn scope_org(
    ctx: &Ctx,
    p: &Principal,
    org_id: Option<i64>,
) -> AppResult<crate::org::Org> {
    let path = scope_path(ctx, p, org_id).await?;
    let id = crate::org::path_ids(&path)
        .last()
        .copied()
        .unwrap_or(p.org_id);
    crate::org::store::get(&ctx.db, id).await
}

pub async fn list(ctx: &Ctx, p: &Principal, f: &CadreFilter) -> AppResult<CadrePage> {
    p.authorize(Perm::CadreRead, Some(&p.org_path))?;
    let path = scope_path(ctx, p, f.org_id).await?;
    let mut b = SqlBuilder::subtree("o.path", &path);
    match f.status.as_deref() {
        Some("all") => {}
        Some("left") => b.and(" AND c.status = ?", Val::Str("left".into())),
        _ => b.and(" AND c.status = ?", Val::Str("active".into())),
    }
    if let Some(cat) = f.category.as_deref().filter(|c| !c.is_empty()) {
        b.and(" AND c.category = ?", Val::Str(cat.to_string()));
    }
    if let Some(n) = f.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        let pat = format!("%{}%", crate::member::store::like_escape(n));
        let a = b.arg(Val::Str(pat));
        b.push(&format!(
            " AND (c.name LIKE {a} ESCAPE '\\' OR c.unit LIKE {a} ESCAPE '\\')"
        ));
    }
    let count_sql = format!(
        "SELECT COUNT(*) AS n FROM cadres c JOIN orgs o ON o.id = c.managed_by{}",
        b.sql
    );
    let limit = f.limit.unwrap_or(50).clamp(1, 500);
    let offset = f.offset.unwrap_or(0).clamp(0, 50_000_000);
    let sql = format!(
        "SELECT {COLUMNS} {FROM}{} ORDER BY c.unit, c.name, c.id LIMIT {limit} OFFSET {offset}",
        b.sql
    );
    let vals = b.vals;
    on_db!(&ctx.db, x => {
        let total = bind_vals!(sqlx::query(&count_sql), &vals).fetch_one(x).await?.i64("n")?;
        let rows = bind_vals!(sqlx::query(&sql), &vals).fetch_all(x).await?;
        let items = rows.iter().map(|r| row(r).map(|c| c.0)).collect::<DbResult<Vec<_>>>()?;
        Ok(CadrePage { total, items })
    })
}

/// Checks a cadre as entered; resolves the managing organisation, member and account.
async fn checked(
    ctx: &Ctx,
    p: &Principal,
    input: &NewCadre,
) -> AppResult<(crate::org::Org, Option<i64>)> {
    let org = crate::org::store::find(&ctx.db, input.managed_by)
        .await?
        .filter(|o| p.in_scope(&o.path))
        .ok_or_else(|| {
            AppError::field("managed_by", "请选择管理该干部的党组织（本组织或下级党委）")
        })?;
    p.authorize(Perm::CadreWrite, Some(&org.path))?;
    let mut c = Checks::default();
    c.check(
        matches!(
            org.kind,
            crate::org::OrgKind::Committee | crate::org::OrgKind::WorkingCommittee
        ),
        "managed_by",
        "管理干部的须是党委或党工委（干部管理权限）",
    );
    let name = crate::work_log::clean_text(&input.name);
    let name = name.as_str();
    c.check(
        (1..=MAX_NAME).contains(&name.chars().count()),
        "name",
        &format!("请填写姓名（{MAX_NAME}字以内）"),
    );
    c.check(
        (1..=MAX_UNIT).contains(&crate::work_log::clean_text(&input.unit).chars().count()),
        "unit",
        &format!("请填写工作单位（{MAX_UNIT}字以内）"),
    );
    c.check(
        (1..=MAX_POSITION).contains(&crate::work_log::clean_text(&input.position).chars().count()),
        "position",
        &format!("请填写职务（{MAX_POSITION}字以内）"),
    );
    c.check(
        RANKS.iter().any(|r| r.0 == input.rank),
        "rank",
        "请选择职级",
    );
    c.check(
        CATEGORIES.iter().any(|r| r.0 == input.category),
        "category",
        "请选择干部类别",
    );
    c.check(
        input.status.is_empty() || STATUSES.iter().any(|r| r.0 == input.status),
        "status",
        "状态只能是在职或已离任",
    );
    c.finish()?;
    if let Some(m) = input.member_id {
        let found = crate::member::store::get(ctx, m).await.ok();
        if !found.is_some_and(|(_, path)| p.in_scope(&path)) {
            return Err(AppError::field("member_id", "关联的党员须在本组织范围内"));
        }
    }
    let account = match input
        .account
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
    {
        None => None,
        Some(u) => {
            let found = on_db!(&ctx.db, x => {
                match sqlx::query("SELECT a.id, o.path FROM accounts a JOIN orgs o ON o.id = a.org_id WHERE a.username = $1")
                    .bind(u).fetch_optional(x).await? {
                    Some(r) => Some((r.i64("id")?, r.string("path")?)),
                    None => None,
                }
            });
            match found {
                Some((id, path)) if p.in_scope(&path) => Some(id),
                _ => {
                    return Err(AppError::field(
                        "account",
                        "填报账号须是本组织范围内已有的账号",
                    ))
                }
            }
        }
    };
    Ok((org, account))
}

fn audit_view(input: &NewCadre, account_id: Option<i64>, status: &str) -> serde_json::Value {
    // codes in words (the history shows them as recorded); the account by its id and name
    serde_json::json!({"name": input.name.trim(), "managed_by": input.managed_by, "unit": input.unit.trim(),
        "position": input.position.trim(), "rank": super::label(&RANKS, &input.rank), "category": super::label(&CATEGORIES, &input.category),
        "member_id": input.member_id, "account_id": account_id, "account": input.account.as_deref().filter(|a| !a.is_empty()),
        "weekly_record": input.weekly_record, "status": super::label(&STATUSES, status)})
}

/// An account files as at most one cadre: the unique index's refusal, in words.
fn taken(e: crate::db::DbError) -> AppError {
    if e.is_constraint() {
        AppError::field("account", "该账号已关联其他干部")
    } else {
        e.into()
    }
}

pub async fn create(ctx: &Ctx, p: &Principal, input: &NewCadre) -> AppResult<Cadre> {
    let (org, account) = checked(ctx, p, input).await?;
    let status = if input.status.is_empty() {
        "active"
    } else {
        input.status.as_str()
    };
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let id = on_tx!(&mut tx, x => {
        sqlx::query("INSERT INTO cadres (name, managed_by, unit, position, rank, category, member_id, account_id, weekly_record, status, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING id")
            .bind(input.name.trim()).bind(org.id).bind(input.unit.trim()).bind(input.position.trim()).bind(&input.rank)
            .bind(&input.category).bind(input.member_id).bind(account).bind(input.weekly_record).bind(status).bind(now)
            .fetch_one(&mut *x).await.map_err(|e| taken(e.into()))?.i64("id")?
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "cadre.create",
            object_type: "cadre",
            object_id: id.to_string(),
            before: serde_json::Value::Null,
            after: audit_view(input, account, status),
        },
    )
    .await?;
    tx.commit().await?;
    owes_now(ctx).await?;
    Ok(load(ctx, id).await?.0)
}

/// The current week's obligations at once (a cadre registered or set to file weekly owes this
/// week without waiting for the scheduler's next run).
async fn owes_now(ctx: &Ctx) -> AppResult<()> {
    crate::work_log::store::generate(ctx, ctx.clock.today(), 1).await?;
    Ok(())
}

pub async fn update(ctx: &Ctx, p: &Principal, id: i64, input: &NewCadre) -> AppResult<Cadre> {
    let (old, old_path) = load(ctx, id).await?;
    if !p.in_scope(&old_path) {
        return Err(AppError::NotFound("干部"));
    }
    p.authorize(Perm::CadreWrite, Some(&old_path))?;
    let (org, account) = checked(ctx, p, input).await?;
    let status = if input.status.is_empty() {
        old.status.as_str()
    } else {
        input.status.as_str()
    };
    let version = input.version.unwrap_or(old.version);
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let n = on_tx!(&mut tx, x => {
        sqlx::query("UPDATE cadres SET name = $1, managed_by = $2, unit = $3, position = $4, rank = $5, category = $6, member_id = $7, \
                     account_id = $8, weekly_record = $9, status = $10, updated_at = $11, version = version + 1 WHERE id = $12 AND version = $13")
            .bind(input.name.trim()).bind(org.id).bind(input.unit.trim()).bind(input.position.trim()).bind(&input.rank)
            .bind(&input.category).bind(input.member_id).bind(account).bind(input.weekly_record).bind(status).bind(now)
            .bind(id).bind(version)
            .execute(&mut *x).await.map_err(|e| taken(e.into()))?.rows_affected()
    });
    if n != 1 {
        return Err(AppError::Conflict(
            "该干部信息已被他人修改，请刷新后重试".into(),
        ));
    }
    let before = NewCadre {
        name: old.name.clone(),
        managed_by: old.managed_by,
        unit: old.unit.clone(),
        position: old.position.clone(),
        rank: old.rank.clone(),
        category: old.category.clone(),
        member_id: old.member_id,
        account: old.account.clone(),
        weekly_record: old.weekly_record,
        status: old.status.clone(),
        version: None,
    };
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "cadre.update",
            object_type: "cadre",
            object_id: id.to_string(),
            before: audit_view(&before, old.account_id, &old.status),
            after: audit_view(input, account, status),
        },
    )
    .await?;
    tx.commit().await?;
    owes_now(ctx).await?;
    Ok(load(ctx, id).await?.0)
}

/// Cadres filing weekly records under a subtree (for the week's view and the compliance).
pub async fn weekly_reporters(ctx: &Ctx, path: &str) -> DbResult<Vec<Cadre>> {
    let sql = format!(
        "SELECT {COLUMNS} {FROM} WHERE o.path >= $1 AND o.path < $2 AND c.status = 'active' AND c.weekly_record = $3 ORDER BY c.unit, c.name, c.id"
    );
    on_db!(&ctx.db, x => {
        let rows = sqlx::query(&sql).bind(path).bind(path_upper(path)).bind(true).fetch_all(x).await?;
        rows.iter().map(|r| row(r).map(|c| c.0)).collect()
    })
}
