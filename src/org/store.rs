//! Reading and changing organisations. Every change is audited in its own transaction.

use super::{Org, OrgKind, OrgLevel};
use crate::audit::{self, Actor, NewEntry};
use crate::db::{path_upper, Db, DbError, DbResult, DbRow, Tx};
use crate::error::{AppError, AppResult, Checks};
use crate::{on_db, on_tx};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub const ORG_COLUMNS: &str = "o.id, o.parent_id, o.path, o.depth, o.name, o.kind, o.level, o.region_code, o.established_on, o.term_start, o.term_extended_months, o.has_committee, o.committee_size, o.sort, o.version";

pub fn row_to_org(r: &impl DbRow) -> DbResult<Org> {
    let kind = r.string("kind")?;
    let level = r.string("level")?;
    Ok(Org {
        id: r.i64("id")?,
        parent_id: r.opt_i64("parent_id")?,
        path: r.string("path")?,
        depth: r.i64("depth")?,
        name: r.string("name")?,
        kind: OrgKind::parse(&kind).ok_or_else(|| DbError::Corrupt(format!("org kind {kind}")))?,
        level: OrgLevel::parse(&level)
            .ok_or_else(|| DbError::Corrupt(format!("org level {level}")))?,
        region_code: r.opt_string("region_code")?,
        established_on: r.opt_date("established_on")?,
        term_start: r.opt_date("term_start")?,
        term_extended_months: r.i64("term_extended_months")?,
        has_committee: r.bool("has_committee")?,
        committee_size: r.i64("committee_size")?,
        sort: r.i64("sort")?,
        version: r.i64("version")?,
    })
}

pub async fn find(db: &Db, id: i64) -> AppResult<Option<Org>> {
    let sql =
        format!("SELECT {ORG_COLUMNS} FROM orgs o WHERE o.id = $1 AND o.dissolved_at IS NULL");
    Ok(on_db!(db, p => {
        match sqlx::query(&sql).bind(id).fetch_optional(p).await? {
            Some(r) => Some(row_to_org(&r)?),
            None => None,
        }
    }))
}

pub async fn get(db: &Db, id: i64) -> AppResult<Org> {
    find(db, id).await?.ok_or(AppError::NotFound("党组织"))
}

async fn get_tx(tx: &mut Tx, id: i64) -> AppResult<Org> {
    let sql =
        format!("SELECT {ORG_COLUMNS} FROM orgs o WHERE o.id = $1 AND o.dissolved_at IS NULL");
    let org = on_tx!(tx, c => {
        match sqlx::query(&sql).bind(id).fetch_optional(&mut *c).await? {
            Some(r) => Some(row_to_org(&r)?),
            None => None,
        }
    });
    org.ok_or(AppError::NotFound("党组织"))
}

/// The organisations on the path from the root to `org`, root first (for breadcrumbs).
pub async fn ancestors(db: &Db, org: &Org) -> AppResult<Vec<Org>> {
    let ids = super::path_ids(&org.path);
    let list = ids
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let sql = format!("SELECT {ORG_COLUMNS} FROM orgs o WHERE o.id IN ({list}) ORDER BY o.depth");
    Ok(on_db!(db, p => {
        let rows = sqlx::query(&sql).fetch_all(p).await?;
        rows.iter().map(row_to_org).collect::<DbResult<Vec<_>>>()?
    }))
}

#[derive(Debug, Clone, Serialize)]
pub struct OrgNode {
    #[serde(flatten)]
    pub org: Org,
    pub child_count: i64,
    pub member_count: i64,
}

/// Whether the subtree at `path` is the whole database's: a root, and the only one. Queries
/// over such a subtree need no condition on organisations (the city's lists and rankings).
pub async fn is_whole_tree(db: &Db, path: &str) -> AppResult<bool> {
    if path.matches('/').count() != 2 {
        return Ok(false);
    }
    let roots = on_db!(db, p => {
        sqlx::query("SELECT COUNT(*) AS n FROM orgs WHERE parent_id IS NULL").fetch_one(p).await?.i64("n")?
    });
    Ok(roots == 1)
}

/// Direct children of `parent_id`, with their own child and member counts (tree expansion).
/// Each child's members are its whole subtree's (a committee's are its branches'), summed from
/// the counts the triggers keep, one index range per child.
pub async fn children(db: &Db, parent_id: i64) -> AppResult<Vec<OrgNode>> {
    let sql = format!(
        "SELECT {ORG_COLUMNS}, \
           (SELECT COUNT(*) FROM orgs c WHERE c.parent_id = o.id AND c.dissolved_at IS NULL) AS child_count, \
           (SELECT CAST(COALESCE(SUM(c.n), 0) AS BIGINT) FROM org_member_counts c \
              WHERE c.path >= o.path AND c.path < substr(o.path, 1, length(o.path) - 1) || '0' AND c.status <> 'left') AS member_count \
         FROM orgs o WHERE o.parent_id = $1 AND o.dissolved_at IS NULL ORDER BY o.sort, o.id"
    );
    Ok(on_db!(db, p => {
        let rows = sqlx::query(&sql).bind(parent_id).fetch_all(p).await?;
        rows.iter().map(|r| Ok(OrgNode {
            org: row_to_org(r)?,
            child_count: r.i64("child_count")?,
            member_count: r.i64("member_count")?,
        })).collect::<DbResult<Vec<_>>>()?
    }))
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SubtreeStats {
    pub orgs_by_kind: Vec<(String, i64)>,
    pub members_by_status: Vec<(String, i64)>,
    pub org_total: i64,
    pub member_total: i64,
}

/// Counts over the subtree rooted at `path` (inclusive).
pub async fn subtree_stats(db: &Db, path: &str) -> AppResult<SubtreeStats> {
    let upper = path_upper(path);
    let (kinds, statuses) = on_db!(db, p => {
        let k = sqlx::query("SELECT o.kind AS k, COUNT(*) AS n FROM orgs o WHERE o.path >= $1 AND o.path < $2 AND o.dissolved_at IS NULL GROUP BY o.kind")
            .bind(path).bind(&upper).fetch_all(p).await?;
        // members by status from the counts the triggers keep (one index range), not a scan
        let s = sqlx::query("SELECT c.status AS k, CAST(SUM(c.n) AS BIGINT) AS n FROM org_member_counts c WHERE c.path >= $1 AND c.path < $2 AND c.status <> 'left' GROUP BY c.status")
            .bind(path).bind(&upper).fetch_all(p).await?;
        let k = k.iter().map(|r| Ok((r.string("k")?, r.i64("n")?))).collect::<DbResult<Vec<_>>>()?;
        let s = s.iter().map(|r| Ok((r.string("k")?, r.i64("n")?))).collect::<DbResult<Vec<_>>>()?;
        (k, s)
    });
    let mut st = SubtreeStats {
        org_total: kinds.iter().map(|x| x.1).sum(),
        member_total: statuses.iter().map(|x| x.1).sum(),
        ..Default::default()
    };
    st.orgs_by_kind = kinds
        .into_iter()
        .map(|(k, n)| {
            (
                OrgKind::parse(&k)
                    .map(|k| k.label())
                    .unwrap_or("未知")
                    .to_string(),
                n,
            )
        })
        .collect();
    st.members_by_status = statuses
        .into_iter()
        .map(|(k, n)| {
            (
                crate::member::Status::parse(&k)
                    .map(|s| s.label())
                    .unwrap_or("未知")
                    .to_string(),
                n,
            )
        })
        .collect();
    Ok(st)
}

/// (full members, all members) directly on one branch.
pub async fn member_counts(db: &Db, org_id: i64) -> AppResult<(i64, i64)> {
    Ok(on_db!(db, p => {
        let r = sqlx::query("SELECT COALESCE(SUM(CASE WHEN status = 'full' THEN 1 ELSE 0 END), 0) AS full_n, COUNT(*) AS total FROM members WHERE org_id = $1 AND status <> 'left'")
            .bind(org_id).fetch_one(p).await?;
        (r.i64("full_n")?, r.i64("total")?)
    }))
}

/// Warnings of the 支部工作条例 for one organisation (empty unless it is a branch).
pub async fn warnings(db: &Db, org: &Org) -> AppResult<Vec<super::rules::Warning>> {
    if !org.kind.holds_members() {
        return Ok(Vec::new());
    }
    let (rules, _) = crate::rules::effective::<crate::rules::BranchRules>(db, &org.path).await?;
    let (full, total) = member_counts(db, org.id).await?;
    let facts = super::rules::BranchFacts {
        is_branch: true,
        grassroots: org.level.is_grassroots(),
        full_members: full,
        total_members: total,
        has_committee: org.has_committee,
        committee_size: org.committee_size,
        term_start: org.term_start,
        extended_months: org.term_extended_months,
    };
    let today = db.today();
    let mut out = super::rules::branch_warnings(&facts, &rules, today);
    let year_start =
        chrono::NaiveDate::from_ymd_opt(chrono::Datelike::year(&today), 1, 1).unwrap_or(today);
    let missed = crate::meeting::missed_by_branch(db, &org.path, year_start).await?;
    out.extend(crate::meeting::warnings(
        missed.get(&org.id).map(Vec::as_slice).unwrap_or(&[]),
    ));
    Ok(out)
}

/// Organisations in the subtree whose name contains `q` (pickers, import lookup).
pub async fn search(
    db: &Db,
    scope_path: &str,
    q: &str,
    only_branches: bool,
    limit: i64,
) -> AppResult<Vec<Org>> {
    let pick = if only_branches {
        Pick::Branches
    } else {
        Pick::All
    };
    search_for(db, scope_path, q, pick, None, limit).await
}

/// Which organisations a picker offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    All,
    /// 党支部, 联合党支部: those that hold members.
    Branches,
    /// 党委, 党工委: those that run campaigns and approve.
    Committees,
    /// Village-level organisations of any kind (a first secretary's posting).
    Villages,
}

impl Pick {
    pub fn parse(s: &str) -> Self {
        match s {
            "branches" | "1" => Pick::Branches,
            "committees" => Pick::Committees,
            "villages" => Pick::Villages,
            _ => Pick::All,
        }
    }
}

/// Live organisations under `scope_path` whose name (or its pinyin initials' part of it)
/// contains `q`, of the kinds `pick` names, without `exclude`; the nearest to the top first.
pub async fn search_for(
    db: &Db,
    scope_path: &str,
    q: &str,
    pick: Pick,
    exclude: Option<i64>,
    limit: i64,
) -> AppResult<Vec<Org>> {
    let upper = path_upper(scope_path);
    let kinds = match pick {
        Pick::All => "",
        Pick::Branches => " AND o.kind IN ('branch', 'joint_branch')",
        Pick::Committees => " AND o.kind IN ('committee', 'working_committee')",
        Pick::Villages => " AND o.level = 'village' AND o.kind <> 'group'",
    };
    let sql = format!(
        "SELECT {ORG_COLUMNS} FROM orgs o WHERE o.path >= $1 AND o.path < $2 AND o.dissolved_at IS NULL AND o.name LIKE $3 AND o.id <> $4{kinds} ORDER BY o.depth, o.id LIMIT $5"
    );
    let like = format!("%{}%", q.trim().replace(['%', '_'], ""));
    Ok(on_db!(db, p => {
        let rows = sqlx::query(&sql).bind(scope_path).bind(&upper).bind(&like).bind(exclude.unwrap_or(0)).bind(limit).fetch_all(p).await?;
        rows.iter().map(row_to_org).collect::<DbResult<Vec<_>>>()?
    }))
}

/// What a form's organisation picker starts with: the first few of the subtree, and the
/// chosen ones (kept when the form comes back with an error) even when they are further down.
pub async fn pick_list(
    db: &Db,
    scope_path: &str,
    pick: Pick,
    chosen: &[i64],
) -> AppResult<Vec<Org>> {
    let mut list = search_for(db, scope_path, "", pick, None, PICK_FIRST).await?;
    for id in chosen.iter().copied().filter(|id| *id > 0) {
        if list.iter().any(|o| o.id == id) {
            continue;
        }
        if let Ok(o) = get(db, id).await {
            let fits = match pick {
                Pick::All => true,
                Pick::Branches => o.kind.holds_members(),
                Pick::Committees => {
                    matches!(o.kind, OrgKind::Committee | OrgKind::WorkingCommittee)
                }
                Pick::Villages => o.level == crate::org::OrgLevel::Village,
            };
            if fits && o.path.starts_with(scope_path) {
                list.insert(0, o);
            }
        }
    }
    Ok(list)
}

/// How many organisations a picker lists before the user types (the search finds the rest).
pub const PICK_FIRST: i64 = 30;

/// Input for creating an organisation.
#[derive(Debug, Clone, Deserialize, Serialize, Default, utoipa::ToSchema)]
pub struct NewOrg {
    pub parent_id: Option<i64>,
    pub name: String,
    /// committee, working_committee, general_branch, branch, joint_branch, group (or the Chinese label)
    pub kind: String,
    /// city, county, township, village, community, agency, institution, soe, two_new
    pub level: String,
    pub region_code: Option<String>,
    pub established_on: Option<NaiveDate>,
    pub term_start: Option<NaiveDate>,
    #[serde(default)]
    pub has_committee: bool,
    #[serde(default)]
    pub committee_size: i64,
}

/// Editable fields; `None` leaves a field as it is.
#[derive(Debug, Clone, Deserialize, Serialize, Default, utoipa::ToSchema)]
pub struct OrgPatch {
    pub name: Option<String>,
    pub level: Option<String>,
    pub region_code: Option<String>,
    pub term_start: Option<NaiveDate>,
    pub has_committee: Option<bool>,
    pub committee_size: Option<i64>,
    /// Optimistic lock: the version the editor saw.
    pub version: Option<i64>,
}

fn check_name(c: &mut Checks, name: &str) {
    let n = name.trim().chars().count();
    c.check(n > 0, "name", "请填写组织名称");
    c.check(n <= 100, "name", "组织名称不能超过100个字");
}

fn check_region(c: &mut Checks, code: &Option<String>) {
    if let Some(code) = code.as_deref().filter(|s| !s.is_empty()) {
        c.check(
            code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
            "region_code",
            "行政区划代码应为6位数字",
        );
    }
}

fn snapshot(o: &Org) -> serde_json::Value {
    serde_json::to_value(o).unwrap_or(serde_json::Value::Null)
}

pub async fn create(db: &Db, actor: &Actor, input: &NewOrg) -> AppResult<Org> {
    let mut c = Checks::default();
    check_name(&mut c, &input.name);
    check_region(&mut c, &input.region_code);
    let kind = OrgKind::parse(&input.kind);
    let level = OrgLevel::parse(&input.level);
    c.check(kind.is_some(), "kind", "请选择组织类别");
    c.check(level.is_some(), "level", "请选择层级或单位类型");
    c.check(
        (0..=99).contains(&input.committee_size),
        "committee_size",
        "委员人数应在0至99之间",
    );
    c.finish()?;
    let (Some(kind), Some(level)) = (kind, level) else {
        return Err(AppError::Internal("checked above".into()));
    };
    let mut tx = db.begin().await?;
    let parent = match input.parent_id {
        Some(pid) => Some(
            get_tx(&mut tx, pid)
                .await
                .map_err(|_| AppError::field("parent_id", "上级党组织不存在"))?,
        ),
        None => None,
    };
    if !kind.may_sit_under(parent.as_ref().map(|p| p.kind)) {
        return Err(AppError::refused(
            "org.bad_parent",
            format!(
                "{}不能设在{}之下",
                kind.label(),
                parent.as_ref().map(|p| p.kind.label()).unwrap_or("最顶层")
            ),
        ));
    }
    let now = db.now();
    let tmp_path = format!("tmp/{}", crate::crypto::random_token());
    let depth = parent.as_ref().map(|p| p.depth + 1).unwrap_or(0);
    let id = on_tx!(&mut tx, c => {
        let r = sqlx::query(
            "INSERT INTO orgs (parent_id, path, depth, name, kind, level, region_code, established_on, term_start, has_committee, committee_size, sort, created_at, updated_at, approval_authority) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, $12, $12, $13) RETURNING id",
        )
        .bind(input.parent_id)
        .bind(&tmp_path)
        .bind(depth)
        .bind(input.name.trim())
        .bind(kind.as_str())
        .bind(level.as_str())
        .bind(input.region_code.as_deref().filter(|s| !s.is_empty()))
        .bind(input.established_on)
        .bind(input.term_start)
        .bind(input.has_committee)
        .bind(input.committee_size)
        .bind(now)
        // 基层党委 approve recruitment by default; a 党工委 or committee without the
        // authority is set by the organisation department.
        .bind(matches!(kind, OrgKind::Committee | OrgKind::WorkingCommittee))
        .fetch_one(&mut *c)
        .await?;
        let id = r.i64("id")?;
        let path = format!("{}{id}/", parent.as_ref().map(|p| p.path.as_str()).unwrap_or("/"));
        sqlx::query("UPDATE orgs SET path = $1 WHERE id = $2").bind(&path).bind(id).execute(&mut *c).await?;
        id
    });
    let org = get_tx(&mut tx, id).await?;
    audit::append(
        &mut tx,
        actor,
        NewEntry {
            action: "org.create",
            object_type: "org",
            object_id: id.to_string(),
            before: serde_json::Value::Null,
            after: snapshot(&org),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(org)
}

pub async fn update(db: &Db, actor: &Actor, id: i64, patch: &OrgPatch) -> AppResult<Org> {
    let mut c = Checks::default();
    if let Some(n) = &patch.name {
        check_name(&mut c, n);
    }
    check_region(&mut c, &patch.region_code);
    let level = patch.level.as_deref().map(OrgLevel::parse);
    c.check(!matches!(level, Some(None)), "level", "层级或单位类型无效");
    if let Some(s) = patch.committee_size {
        c.check(
            (0..=99).contains(&s),
            "committee_size",
            "委员人数应在0至99之间",
        );
    }
    c.finish()?;
    let mut tx = db.begin().await?;
    let before = get_tx(&mut tx, id).await?;
    if let Some(v) = patch.version {
        if v != before.version {
            return Err(AppError::Conflict(
                "该组织已被他人修改，请刷新后重试".into(),
            ));
        }
    }
    let mut after = before.clone();
    if let Some(n) = &patch.name {
        after.name = n.trim().to_string();
    }
    if let Some(Some(l)) = level {
        after.level = l;
    }
    if let Some(r) = &patch.region_code {
        after.region_code = Some(r.clone()).filter(|s| !s.is_empty());
    }
    // a term set by hand is a new term: no 延期 carries over to it
    let new_term = patch.term_start.is_some() && patch.term_start != after.term_start;
    if patch.term_start.is_some() {
        after.term_start = patch.term_start;
    }
    if new_term {
        after.term_extended_months = 0;
    }
    if let Some(h) = patch.has_committee {
        after.has_committee = h;
    }
    if let Some(s) = patch.committee_size {
        after.committee_size = s;
    }
    after.version += 1;
    on_tx!(&mut tx, c => {
        sqlx::query("UPDATE orgs SET name = $1, level = $2, region_code = $3, term_start = $4, has_committee = $5, committee_size = $6, version = $7, updated_at = $8, term_extended_months = $10 WHERE id = $9")
            .bind(&after.name)
            .bind(after.level.as_str())
            .bind(&after.region_code)
            .bind(after.term_start)
            .bind(after.has_committee)
            .bind(after.committee_size)
            .bind(after.version)
            .bind(db.now())
            .bind(id)
            .bind(after.term_extended_months)
            .execute(&mut *c)
            .await?;
    });
    audit::append(
        &mut tx,
        actor,
        NewEntry {
            action: if before.name != after.name {
                "org.rename"
            } else {
                "org.update"
            },
            object_type: "org",
            object_id: id.to_string(),
            before: snapshot(&before),
            after: snapshot(&after),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Moves `id` and its whole subtree under `new_parent_id`.
pub async fn move_to(db: &Db, actor: &Actor, id: i64, new_parent_id: i64) -> AppResult<Org> {
    let mut tx = db.begin().await?;
    let org = get_tx(&mut tx, id).await?;
    let parent = get_tx(&mut tx, new_parent_id)
        .await
        .map_err(|_| AppError::field("parent_id", "目标上级党组织不存在"))?;
    if super::in_subtree(&org.path, &parent.path) {
        return Err(AppError::refused(
            "org.move_into_self",
            "不能把党组织移到它自己或它的下级之下",
        ));
    }
    if !org.kind.may_sit_under(Some(parent.kind)) {
        return Err(AppError::refused(
            "org.bad_parent",
            format!("{}不能设在{}之下", org.kind.label(), parent.kind.label()),
        ));
    }
    let new_path = format!("{}{}/", parent.path, org.id);
    let delta = parent.depth + 1 - org.depth;
    let upper = path_upper(&org.path);
    let old_len = org.path.chars().count() as i64;
    let moved = on_tx!(&mut tx, c => {
        sqlx::query("UPDATE orgs SET parent_id = $1, version = version + 1, updated_at = $2 WHERE id = $3")
            .bind(parent.id).bind(db.now()).bind(org.id).execute(&mut *c).await?;
        sqlx::query("UPDATE orgs SET path = $1 || substr(path, CAST($2 AS INTEGER)), depth = depth + $3 WHERE path >= $4 AND path < $5")
            .bind(&new_path)
            .bind(old_len + 1)
            .bind(delta)
            .bind(&org.path)
            .bind(&upper)
            .execute(&mut *c)
            .await?
            .rows_affected()
    });
    let after = get_tx(&mut tx, id).await?;
    audit::append(
        &mut tx,
        actor,
        NewEntry {
            action: "org.move",
            object_type: "org",
            object_id: id.to_string(),
            before: serde_json::json!({"parent_id": org.parent_id, "path": org.path}),
            after: serde_json::json!({"parent_id": after.parent_id, "path": after.path, "subtree_size": moved}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Dissolves (撤销) an organisation; refused while it has members or children.
pub async fn dissolve(db: &Db, actor: &Actor, id: i64) -> AppResult<()> {
    let mut tx = db.begin().await?;
    let org = get_tx(&mut tx, id).await?;
    let (children, members, accounts) = on_tx!(&mut tx, c => {
        let a = sqlx::query("SELECT COUNT(*) AS n FROM orgs WHERE parent_id = $1 AND dissolved_at IS NULL").bind(id).fetch_one(&mut *c).await?;
        let b = sqlx::query("SELECT COUNT(*) AS n FROM members WHERE org_id = $1 OR group_id = $1").bind(id).fetch_one(&mut *c).await?;
        let d = sqlx::query("SELECT COUNT(*) AS n FROM accounts WHERE org_id = $1 AND disabled = $2").bind(id).bind(false).fetch_one(&mut *c).await?;
        (a.i64("n")?, b.i64("n")?, d.i64("n")?)
    });
    if children > 0 {
        return Err(AppError::refused(
            "org.has_children",
            format!("该组织还有{children}个下级党组织，请先撤销或移走下级组织"),
        ));
    }
    if members > 0 {
        return Err(AppError::refused(
            "org.has_members",
            format!("该组织还有{members}名党员，请先办理组织关系转接"),
        ));
    }
    if accounts > 0 {
        return Err(AppError::refused(
            "org.has_accounts",
            format!("该组织还有{accounts}个启用的账号，请先停用或调整账号"),
        ));
    }
    on_tx!(&mut tx, c => {
        sqlx::query("UPDATE orgs SET dissolved_at = $1, version = version + 1 WHERE id = $2")
            .bind(db.now()).bind(id).execute(&mut *c).await?;
    });
    audit::append(
        &mut tx,
        actor,
        NewEntry {
            action: "org.dissolve",
            object_type: "org",
            object_id: id.to_string(),
            before: snapshot(&org),
            after: serde_json::json!({"dissolved": true}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A branch of the subtree with the 支部工作条例 warnings it raises today.
#[derive(Debug, Clone, Serialize)]
pub struct WarnedBranch {
    pub id: i64,
    pub name: String,
    pub full_members: i64,
    pub total_members: i64,
    pub warnings: Vec<super::rules::Warning>,
}

/// Every branch in the subtree that raises at least one warning, in tree order. The rule
/// values are those in force at the subtree's root; member numbers come from the stored
/// counts (migration 0010), not from grouping the subtree's members.
pub async fn warned_branches(db: &Db, path: &str) -> AppResult<Vec<WarnedBranch>> {
    let upper = path_upper(path);
    let (rules, _) = crate::rules::effective::<crate::rules::BranchRules>(db, path).await?;
    let rows = on_db!(db, p => {
        let rows = sqlx::query(
            "SELECT o.id, o.name, o.path, o.level, o.term_start, o.term_extended_months, o.has_committee, o.committee_size, \
               CAST(COALESCE(SUM(CASE WHEN c.status = 'full' THEN c.n ELSE 0 END), 0) AS BIGINT) AS full_n, \
               CAST(COALESCE(SUM(CASE WHEN c.status <> 'left' THEN c.n ELSE 0 END), 0) AS BIGINT) AS total \
             FROM orgs o LEFT JOIN org_member_counts c ON c.org_id = o.id \
             WHERE o.path >= $1 AND o.path < $2 AND o.kind IN ('branch', 'joint_branch') AND o.dissolved_at IS NULL \
             GROUP BY o.id, o.name, o.path, o.level, o.term_start, o.term_extended_months, o.has_committee, o.committee_size \
             ORDER BY o.path",
        )
        .bind(path)
        .bind(&upper)
        .fetch_all(p)
        .await?;
        rows.iter().map(|r| Ok((r.i64("id")?, r.string("name")?, super::rules::BranchFacts {
            is_branch: true,
            grassroots: OrgLevel::parse(&r.string("level")?).is_some_and(|l| l.is_grassroots()),
            full_members: r.i64("full_n")?,
            total_members: r.i64("total")?,
            has_committee: r.bool("has_committee")?,
            committee_size: r.i64("committee_size")?,
            term_start: r.opt_date("term_start")?,
            extended_months: r.i64("term_extended_months")?,
        }))).collect::<DbResult<Vec<_>>>()?
    });
    let today = db.today();
    let year_start =
        chrono::NaiveDate::from_ymd_opt(chrono::Datelike::year(&today), 1, 1).unwrap_or(today);
    let missed = crate::meeting::missed_by_branch(db, path, year_start).await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, name, f)| {
            let mut warnings = super::rules::branch_warnings(&f, &rules, today);
            warnings.extend(crate::meeting::warnings(
                missed.get(&id).map(Vec::as_slice).unwrap_or(&[]),
            ));
            (!warnings.is_empty()).then_some(WarnedBranch {
                id,
                name,
                full_members: f.full_members,
                total_members: f.total_members,
                warnings,
            })
        })
        .collect())
}

/// Warning codes of the branch rules and their short labels (dashboard, filters).
pub const WARNING_LABELS: [(&str, &str); 15] = [
    ("branch.too_few_full_members", "正式党员不足"),
    ("branch.too_many_members", "党员人数过多"),
    ("branch.committee_missing", "应设未设支委会"),
    ("branch.committee_size", "支委人数不规范"),
    ("branch.committee_over_max", "支委人数超限"),
    ("branch.term_ending", "即将换届"),
    ("branch.term_expired", "任期已满未换届"),
    ("branch.term_unknown", "未记录任期"),
    ("branch.assembly_overdue", "党员大会未按期召开"),
    ("branch.committee_overdue", "支委会未按期召开"),
    ("branch.group_overdue", "党小组会未按期召开"),
    ("branch.lecture_missed", "党课未按期开展"),
    ("branch.theme_day_missed", "主题党日未按期开展"),
    ("branch.life_meeting_missing", "未召开组织生活会"),
    ("branch.appraisal_missing", "未开展民主评议党员"),
];

pub fn warning_label(code: &str) -> &'static str {
    WARNING_LABELS
        .iter()
        .find(|(k, _)| *k == code)
        .map(|(_, v)| *v)
        .unwrap_or("其他")
}

/// How many of `branches` raise each warning code.
pub fn count_by_code(branches: &[WarnedBranch]) -> std::collections::BTreeMap<&'static str, i64> {
    let mut counts = std::collections::BTreeMap::new();
    for w in branches.iter().flat_map(|b| &b.warnings) {
        *counts.entry(w.code).or_default() += 1;
    }
    counts
}

/// Warning counts over every branch in the subtree (dashboard): the number of branches with
/// any warning, and (code, count) per warning kind.
pub async fn branch_warning_counts(db: &Db, path: &str) -> AppResult<(i64, Vec<(String, i64)>)> {
    let branches = warned_branches(db, path).await?;
    Ok((
        branches.len() as i64,
        count_by_code(&branches)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    ))
}
