//! Rounds, assignments, tutors and check-ins of first secretaries: each change audited in its
//! transaction; what a reader sees follows the round's department, the village's township and
//! the cadre's managing department.

use super::{FsRules, Point, Presence, Timing, LEVELS, MAX_TEXT, STATUSES, TUTOR_ROLES};
use crate::audit::{self, Actor, NewEntry};
use crate::auth::{Perm, Principal};
use crate::db::{path_upper, DbResult, DbRow, SqlBuilder, Val};
use crate::error::{AppError, AppResult, Checks};
use crate::{bind_vals, on_db, on_tx, Ctx};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

pub async fn rules_at(ctx: &Ctx, path: &str) -> AppResult<FsRules> {
    Ok(crate::rules::effective::<FsRules>(&ctx.db, path).await?.0)
}

fn clean(s: &str) -> String {
    crate::work_log::clean_text(s)
}

fn text_ok(s: &str, max: usize) -> bool {
    s.chars().count() <= max
}

// ---------------------------------------------------------------- rounds

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
#[schema(as = FsNewRound)]
pub struct NewRound {
    /// The organisation department's committee running the round (default: the caller's).
    pub org_id: Option<i64>,
    /// 批次名称, e.g. 第三轮市派第一书记.
    pub name: String,
    pub year: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = FsRound)]
pub struct Round {
    pub id: i64,
    pub org_id: i64,
    pub org_name: String,
    pub name: String,
    pub year: i64,
    pub status: String,
    /// The level it sends from, by its department: province, city or county.
    pub sending_level: String,
    pub nominated: i64,
    pub on_duty: i64,
    pub created_at: DateTime<Utc>,
}

const ROUND_COLUMNS: &str = "r.id, r.org_id, o.name AS org_name, o.path AS org_path, o.level AS org_level, r.name, r.year, r.status, r.created_at, \
    (SELECT COUNT(*) FROM fs_assignments a WHERE a.round_id = r.id AND a.status = 'nominated') AS nominated, \
    (SELECT COUNT(*) FROM fs_assignments a WHERE a.round_id = r.id AND a.status = 'on_duty') AS on_duty";

fn round_row(r: &impl DbRow) -> DbResult<(Round, String)> {
    Ok((
        Round {
            id: r.i64("id")?,
            org_id: r.i64("org_id")?,
            org_name: r.string("org_name")?,
            name: r.string("name")?,
            year: r.i64("year")?,
            status: r.string("status")?,
            sending_level: match r.string("org_level")?.as_str() {
                "city" => "city",
                "county" | "township" | "village" | "community" => "county",
                _ => "province",
            }
            .to_string(),
            nominated: r.i64("nominated")?,
            on_duty: r.i64("on_duty")?,
            created_at: r.ts("created_at")?,
        },
        r.string("org_path")?,
    ))
}

async fn load_round(ctx: &Ctx, id: i64) -> AppResult<(Round, String)> {
    let sql = format!(
        "SELECT {ROUND_COLUMNS} FROM fs_rounds r JOIN orgs o ON o.id = r.org_id WHERE r.id = $1"
    );
    on_db!(&ctx.db, x => {
        match sqlx::query(&sql).bind(id).fetch_optional(x).await? {
            Some(r) => Ok(round_row(&r)?),
            None => Err(AppError::NotFound("选派批次")),
        }
    })
}

/// The rounds a reader may nominate into or see: run by its subtree or by a department above.
pub async fn rounds(ctx: &Ctx, p: &Principal) -> AppResult<Vec<Round>> {
    p.authorize(Perm::CadreRead, Some(&p.org_path))?;
    let sql = format!(
        "SELECT {ROUND_COLUMNS} FROM fs_rounds r JOIN orgs o ON o.id = r.org_id ORDER BY r.year DESC, r.id DESC LIMIT 500"
    );
    let all = on_db!(&ctx.db, x => {
        let rows = sqlx::query(&sql).fetch_all(x).await?;
        rows.iter().map(round_row).collect::<DbResult<Vec<_>>>()?
    });
    Ok(all
        .into_iter()
        .filter(|(_, path)| p.in_scope(path) || crate::org::in_subtree(path, &p.org_path))
        .map(|r| r.0)
        .collect())
}

pub async fn create_round(ctx: &Ctx, p: &Principal, input: &NewRound) -> AppResult<Round> {
    p.authorize(Perm::CadreWrite, Some(&p.org_path))?;
    let org_id = input.org_id.unwrap_or(p.org_id);
    let org = crate::org::store::find(&ctx.db, org_id)
        .await?
        .filter(|o| p.in_scope(&o.path))
        .ok_or_else(|| AppError::field("org_id", "请选择本组织或下级党委"))?;
    p.authorize(Perm::CadreWrite, Some(&org.path))?;
    let name = clean(&input.name);
    let mut c = Checks::default();
    c.check(
        matches!(
            org.kind,
            crate::org::OrgKind::Committee | crate::org::OrgKind::WorkingCommittee
        ),
        "org_id",
        "选派批次须由党委（组织部门）组织",
    );
    c.check(
        !name.is_empty() && text_ok(&name, 60),
        "name",
        "请填写批次名称（60字以内）",
    );
    c.check(
        (2000..=2100).contains(&input.year),
        "year",
        "年度须在2000至2100之间",
    );
    c.finish()?;
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let id = on_tx!(&mut tx, x => {
        sqlx::query("INSERT INTO fs_rounds (org_id, name, year, status, created_at) VALUES ($1, $2, $3, 'open', $4) RETURNING id")
            .bind(org.id).bind(&name).bind(input.year).bind(now)
            .fetch_one(&mut *x).await.map_err(|e| {
                let e: crate::db::DbError = e.into();
                if e.is_constraint() { AppError::field("name", "本组织已有同名批次") } else { e.into() }
            })?.i64("id")?
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "fs.round_create",
            object_type: "fs_round",
            object_id: id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"org_id": org.id, "name": name, "year": input.year}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(load_round(ctx, id).await?.0)
}

// ---------------------------------------------------------------- assignments

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Assignment {
    pub id: i64,
    pub round_id: i64,
    pub round_name: String,
    pub round_org_id: i64,
    pub cadre_id: i64,
    pub cadre_name: String,
    pub cadre_unit: String,
    pub cadre_position: String,
    pub sending_level: String,
    pub sending_level_label: String,
    pub sending_unit: String,
    pub status: String,
    pub status_label: String,
    pub nominated_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    /// The nomination's note (推荐意见).
    pub note: String,
    /// The last decision's reason (not taken, recalled, extended).
    pub decision_note: String,
    pub village_id: Option<i64>,
    pub village_name: Option<String>,
    pub township_name: Option<String>,
    pub start_on: Option<NaiveDate>,
    pub term_months: Option<i64>,
    pub ends_on: Option<NaiveDate>,
    pub ended_on: Option<NaiveDate>,
    pub liaison: String,
    pub team: String,
    /// The village's location for clock-ins (degrees).
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub baseline: serde_json::Value,
    pub version: i64,
}

/// Where an assignment lives, for who may see and change it.
#[derive(Debug, Clone)]
pub struct Paths {
    pub round: String,
    pub village: Option<String>,
    pub cadre: String,
    pub cadre_account: Option<i64>,
}

const A_COLUMNS: &str = "a.id, a.round_id, r.name AS round_name, r.org_id AS round_org_id, ro.path AS round_path, \
    a.cadre_id, c.name AS cadre_name, c.unit AS cadre_unit, c.position AS cadre_position, co.path AS cadre_path, c.account_id AS cadre_account, \
    a.sending_level, a.sending_unit, a.status, a.nominated_at, a.decided_at, a.note, a.decision_note, a.village_id, v.name AS village_name, v.path AS village_path, \
    a.start_on, a.term_months, a.ends_on, a.ended_on, a.liaison, a.team, a.lat_e6, a.lng_e6, a.baseline_json, a.version";
const A_FROM: &str =
    "FROM fs_assignments a JOIN fs_rounds r ON r.id = a.round_id JOIN orgs ro ON ro.id = r.org_id \
    JOIN cadres c ON c.id = a.cadre_id JOIN orgs co ON co.id = c.managed_by \
    LEFT JOIN orgs v ON v.id = a.village_id";

fn a_row(r: &impl DbRow) -> DbResult<(Assignment, Paths)> {
    let level = r.string("sending_level")?;
    let status = r.string("status")?;
    let (lat, lng) = match (r.opt_i64("lat_e6")?, r.opt_i64("lng_e6")?) {
        (Some(a), Some(b)) => {
            let p = Point::from_e6(a, b);
            (Some(p.lat), Some(p.lng))
        }
        _ => (None, None),
    };
    Ok((
        Assignment {
            id: r.i64("id")?,
            round_id: r.i64("round_id")?,
            round_name: r.string("round_name")?,
            round_org_id: r.i64("round_org_id")?,
            cadre_id: r.i64("cadre_id")?,
            cadre_name: r.string("cadre_name")?,
            cadre_unit: r.string("cadre_unit")?,
            cadre_position: r.string("cadre_position")?,
            sending_level_label: super::label(&LEVELS, &level).to_string(),
            sending_level: level,
            sending_unit: r.string("sending_unit")?,
            status_label: super::label(&STATUSES, &status).to_string(),
            status,
            nominated_at: r.ts("nominated_at")?,
            decided_at: r.opt_ts("decided_at")?,
            note: r.string("note")?,
            decision_note: r.string("decision_note")?,
            village_id: r.opt_i64("village_id")?,
            village_name: r.opt_string("village_name")?,
            township_name: None,
            start_on: r.opt_date("start_on")?,
            term_months: r.opt_i64("term_months")?,
            ends_on: r.opt_date("ends_on")?,
            ended_on: r.opt_date("ended_on")?,
            liaison: r.string("liaison")?,
            team: r.string("team")?,
            lat,
            lng,
            baseline: serde_json::from_str(&r.string("baseline_json")?)
                .unwrap_or(serde_json::Value::Null),
            version: r.i64("version")?,
        },
        Paths {
            round: r.string("round_path")?,
            village: r.opt_string("village_path")?,
            cadre: r.string("cadre_path")?,
            cadre_account: r.opt_i64("cadre_account")?,
        },
    ))
}

/// The township (乡镇党委) above each village path, whatever lies between (a 总支, say): by
/// the ids the materialised paths hold, one query for all.
pub async fn townships<'a>(
    ctx: &Ctx,
    paths: impl Iterator<Item = &'a str>,
) -> AppResult<std::collections::HashMap<String, String>> {
    let paths: Vec<&str> = paths.collect();
    let mut ids: Vec<i64> = paths.iter().flat_map(|p| crate::org::path_ids(p)).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut names: std::collections::HashMap<i64, String> = std::collections::HashMap::new();
    for chunk in ids.chunks(500) {
        let list = chunk
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let sql = format!(
            "SELECT id, name FROM orgs WHERE id IN ({list}) AND level = 'township' AND kind IN ('committee', 'working_committee')"
        );
        on_db!(&ctx.db, x => {
            for r in sqlx::query(&sql).fetch_all(x).await? {
                names.insert(r.i64("id")?, r.string("name")?);
            }
        });
    }
    Ok(paths
        .iter()
        .filter_map(|p| {
            crate::org::path_ids(p)
                .iter()
                .rev()
                .find_map(|i| names.get(i))
                .map(|n| (p.to_string(), n.clone()))
        })
        .collect())
}

async fn with_townships(
    ctx: &Ctx,
    mut v: Vec<(Assignment, Paths)>,
) -> AppResult<Vec<(Assignment, Paths)>> {
    let towns = townships(ctx, v.iter().filter_map(|x| x.1.village.as_deref())).await?;
    for (a, paths) in v.iter_mut() {
        a.township_name = paths.village.as_ref().and_then(|p| towns.get(p).cloned());
    }
    Ok(v)
}

pub async fn load(ctx: &Ctx, id: i64) -> AppResult<(Assignment, Paths)> {
    let sql = format!("SELECT {A_COLUMNS} {A_FROM} WHERE a.id = $1");
    let one = on_db!(&ctx.db, x => {
        match sqlx::query(&sql).bind(id).fetch_optional(x).await? {
            Some(r) => a_row(&r)?,
            None => return Err(AppError::NotFound("第一书记选派")),
        }
    });
    with_townships(ctx, vec![one])
        .await?
        .pop()
        .ok_or(AppError::NotFound("第一书记选派"))
}

/// Whether `p` reads the assignment: the first secretary themself, or `CadreRead` where the
/// round's department, the village or the cadre's managing department is in its subtree.
pub fn can_read(p: &Principal, paths: &Paths) -> bool {
    if paths.cadre_account == Some(p.account_id) {
        return true;
    }
    p.can(Perm::CadreRead)
        && (p.in_scope(&paths.round)
            || p.in_scope(&paths.cadre)
            || paths.village.as_deref().is_some_and(|v| p.in_scope(v)))
}

pub async fn get(ctx: &Ctx, p: &Principal, id: i64) -> AppResult<(Assignment, Paths)> {
    let (a, paths) = load(ctx, id).await?;
    if !can_read(p, &paths) {
        return Err(AppError::NotFound("第一书记选派"));
    }
    Ok((a, paths))
}

/// Whether `p` is the department deciding (and keeping the red/black ledger): `CadreWrite`
/// over the round's organisation.
pub fn decides(p: &Principal, paths: &Paths) -> bool {
    p.can(Perm::CadreWrite) && p.in_scope(&paths.round)
}

/// [`decides`], refused with the reason.
pub(crate) fn decide_auth(p: &Principal, paths: &Paths) -> AppResult<()> {
    if !p.in_scope(&paths.round) {
        return Err(if p.can(Perm::CadreRead) {
            AppError::Forbidden("由组织该批次的组织部门办理".into())
        } else {
            AppError::NotFound("第一书记选派")
        });
    }
    p.authorize(Perm::CadreWrite, Some(&paths.round))
}

#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct AssignmentFilter {
    /// The subtree (default: the caller's organisation): the rounds it runs, the villages in it
    /// and the cadres it manages.
    pub org_id: Option<i64>,
    pub round_id: Option<i64>,
    /// nominated, returned, on_duty, recalled, completed (default: all)
    pub status: Option<String>,
    /// Part of the name, the sending unit or the village.
    pub name: Option<String>,
    pub offset: Option<i64>,
    pub limit: Option<i64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AssignmentPage {
    pub total: i64,
    pub items: Vec<Assignment>,
}

pub async fn list(ctx: &Ctx, p: &Principal, f: &AssignmentFilter) -> AppResult<AssignmentPage> {
    p.authorize(Perm::CadreRead, Some(&p.org_path))?;
    let path = crate::cadre::store::scope_path(ctx, p, f.org_id).await?;
    let mut b = SqlBuilder::new("");
    let lo = b.arg(Val::Str(path.clone()));
    let hi = b.arg(Val::Str(path_upper(&path)));
    b.push(&format!(
        " WHERE ((ro.path >= {lo} AND ro.path < {hi}) OR (co.path >= {lo} AND co.path < {hi}) OR (v.path >= {lo} AND v.path < {hi}))"
    ));
    if let Some(r) = f.round_id {
        b.and(" AND a.round_id = ?", Val::I64(r));
    }
    if let Some(s) = f.status.as_deref().filter(|s| !s.is_empty()) {
        if !STATUSES.iter().any(|x| x.0 == s) {
            return Err(AppError::field(
                "status",
                "状态只能是已推荐、未采纳、在岗、已召回或期满",
            ));
        }
        b.and(" AND a.status = ?", Val::Str(s.to_string()));
    }
    let name = f.name.as_deref().map(clean).unwrap_or_default();
    if !name.is_empty() {
        let pat = format!("%{}%", crate::member::store::like_escape(&name));
        let a = b.arg(Val::Str(pat));
        b.push(&format!(
            " AND (c.name LIKE {a} ESCAPE '\\' OR a.sending_unit LIKE {a} ESCAPE '\\' OR v.name LIKE {a} ESCAPE '\\')"
        ));
    }
    let limit = f.limit.unwrap_or(50).clamp(1, 500);
    let offset = f.offset.unwrap_or(0).clamp(0, 50_000_000);
    let count_sql = format!("SELECT COUNT(*) AS n {A_FROM}{}", b.sql);
    let sql = format!(
        "SELECT {A_COLUMNS} {A_FROM}{} ORDER BY v.path, c.name, a.id LIMIT {limit} OFFSET {offset}",
        b.sql
    );
    let vals = b.vals;
    let (total, found) = on_db!(&ctx.db, x => {
        let total = bind_vals!(sqlx::query(&count_sql), &vals).fetch_one(x).await?.i64("n")?;
        let rows = bind_vals!(sqlx::query(&sql), &vals).fetch_all(x).await?;
        (total, rows.iter().map(a_row).collect::<DbResult<Vec<_>>>()?)
    });
    let items = with_townships(ctx, found)
        .await?
        .into_iter()
        .map(|a| a.0)
        .collect();
    Ok(AssignmentPage { total, items })
}

/// The caller's own assignment on duty; refused (naming what it wanted to do) without one.
async fn on_duty(ctx: &Ctx, p: &Principal, doing: &str) -> AppResult<(Assignment, Paths)> {
    of_account(ctx, p.account_id)
        .await?
        .filter(|(a, _)| a.status == "on_duty")
        .ok_or_else(|| AppError::Forbidden(format!("本账号没有在岗的第一书记选派，不能{doing}")))
}

/// The cadres nominated or on duty now (not to be nominated again).
pub async fn busy_cadres(ctx: &Ctx) -> AppResult<std::collections::HashSet<i64>> {
    Ok(on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT cadre_id FROM fs_assignments WHERE status IN ('nominated', 'on_duty')").fetch_all(x).await?;
        rows.iter().map(|r| r.i64("cadre_id")).collect::<DbResult<std::collections::HashSet<_>>>()?
    }))
}

/// The on-duty (or nominated) assignment of the account's cadre, if any.
pub async fn of_account(ctx: &Ctx, account_id: i64) -> AppResult<Option<(Assignment, Paths)>> {
    let sql = format!(
        "SELECT {A_COLUMNS} {A_FROM} WHERE c.account_id = $1 ORDER BY CASE a.status WHEN 'on_duty' THEN 0 WHEN 'nominated' THEN 1 ELSE 2 END, a.id DESC LIMIT 1"
    );
    let found = on_db!(&ctx.db, x => {
        match sqlx::query(&sql).bind(account_id).fetch_optional(x).await? {
            Some(r) => Some(a_row(&r)?),
            None => None,
        }
    });
    Ok(match found {
        Some(one) => with_townships(ctx, vec![one]).await?.pop(),
        None => None,
    })
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct Nomination {
    pub round_id: i64,
    /// A cadre of the register in the caller's subtree.
    pub cadre_id: i64,
    /// province, city or county
    pub sending_level: String,
    /// 派出单位 (default: the cadre's unit).
    pub sending_unit: String,
    pub note: String,
}

pub async fn nominate(ctx: &Ctx, p: &Principal, input: &Nomination) -> AppResult<Assignment> {
    p.authorize(Perm::CadreWrite, Some(&p.org_path))?;
    let (round, round_path) = load_round(ctx, input.round_id)
        .await
        .map_err(|_| AppError::field("round_id", "请选择选派批次"))?;
    if !(p.in_scope(&round_path) || crate::org::in_subtree(&round_path, &p.org_path)) {
        return Err(AppError::field("round_id", "请选择选派批次"));
    }
    let (cadre, cadre_path) = crate::cadre::store::load(ctx, input.cadre_id)
        .await
        .ok()
        .filter(|(_, path)| p.in_scope(path))
        .ok_or_else(|| AppError::field("cadre_id", "请选择本组织干部名册中的干部"))?;
    p.authorize(Perm::CadreWrite, Some(&cadre_path))?;
    let unit = clean(if input.sending_unit.trim().is_empty() {
        &cadre.unit
    } else {
        &input.sending_unit
    });
    let note = clean(&input.note);
    let level = if input.sending_level.is_empty() {
        round.sending_level.clone()
    } else {
        input.sending_level.clone()
    };
    let mut c = Checks::default();
    c.check(round.status == "open", "round_id", "该批次已结束推荐");
    c.check(cadre.status == "active", "cadre_id", "该干部已离任");
    c.check(
        LEVELS.iter().any(|l| l.0 == level),
        "sending_level",
        "请选择选派层级（省派、市派或县派）",
    );
    c.check(
        !unit.is_empty() && text_ok(&unit, 60),
        "sending_unit",
        "请填写派出单位（60字以内）",
    );
    c.check(text_ok(&note, MAX_TEXT), "note", "推荐意见过长");
    c.finish()?;
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let id = on_tx!(&mut tx, x => {
        sqlx::query("INSERT INTO fs_assignments (round_id, cadre_id, sending_level, sending_unit, status, nominated_at, nominated_by, note, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, 'nominated', $5, $6, $7, $5, $5) RETURNING id")
            .bind(round.id).bind(cadre.id).bind(&level).bind(&unit).bind(now).bind(p.account_id).bind(&note)
            .fetch_one(&mut *x).await.map_err(|e| {
                let e: crate::db::DbError = e.into();
                if e.is_constraint() { AppError::field("cadre_id", "该干部已被推荐或正在驻村") } else { e.into() }
            })?.i64("id")?
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "fs.nominate",
            object_type: "fs_assignment",
            object_id: id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"round_id": round.id, "cadre_id": cadre.id, "sending_level": super::label(&LEVELS, &level),
                "sending_unit": unit, "note": note}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(load(ctx, id).await?.0)
}

/// The department's decision to send a nominated cadre to a village.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct Posting {
    /// A village Party organisation in the department's subtree.
    pub village_id: i64,
    pub start_on: Option<NaiveDate>,
    pub term_months: i64,
    /// The host township's liaison (联络员).
    pub liaison: String,
    /// The work team (工作队/服务队), if any.
    pub team: String,
    /// The village's location for clock-ins, in degrees.
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    /// Baseline: the village collective's income of the last year, in 元.
    pub collective_income_yuan: Option<i64>,
    /// Baseline: households in difficulty (困难户).
    pub households_in_difficulty: Option<i64>,
    pub version: Option<i64>,
}

/// The village as found: its star rating, members and what the department enters.
async fn baseline(ctx: &Ctx, village: i64, input: &Posting) -> AppResult<serde_json::Value> {
    let (stars, members) = on_db!(&ctx.db, x => {
        let s = sqlx::query("SELECT year, stars FROM star_ratings WHERE branch_id = $1 ORDER BY year DESC LIMIT 1")
            .bind(village).fetch_optional(x).await?;
        let stars = match s { Some(r) => Some((r.i64("year")?, r.i64("stars")?)), None => None };
        let m = sqlx::query("SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) AS n FROM org_member_counts WHERE org_id = $1 AND status IN ('full', 'probationary')")
            .bind(village).fetch_one(x).await?.i64("n")?;
        (stars, m)
    });
    Ok(serde_json::json!({
        "stars": stars.map(|s| s.1), "stars_year": stars.map(|s| s.0), "members": members,
        "collective_income_yuan": input.collective_income_yuan, "households_in_difficulty": input.households_in_difficulty,
    }))
}

pub async fn assign(ctx: &Ctx, p: &Principal, id: i64, input: &Posting) -> AppResult<Assignment> {
    let (a, paths) = get(ctx, p, id).await?;
    decide_auth(p, &paths)?;
    if a.status != "nominated" {
        return Err(AppError::Conflict("只有已推荐的人选可以派驻".into()));
    }
    let rules = rules_at(ctx, &paths.round).await?;
    let village = crate::org::store::find(&ctx.db, input.village_id)
        .await?
        .filter(|o| p.in_scope(&o.path));
    let liaison = clean(&input.liaison);
    let team = clean(&input.team);
    let point = match (input.lat, input.lng) {
        (Some(lat), Some(lng)) => Some(Point { lat, lng }),
        _ => None,
    };
    let mut c = Checks::default();
    c.check(
        village.as_ref().is_some_and(|v| {
            v.level == crate::org::OrgLevel::Village
                && crate::org::in_subtree(&paths.round, &v.path)
        }),
        "village_id",
        "请选择组织该批次的党委辖区内的村党组织",
    );
    let today = ctx.clock.today();
    c.check(
        input.start_on.is_some_and(|d| {
            d >= NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or(d)
                && d <= today + chrono::Duration::days(180)
        }),
        "start_on",
        "请填写到村日期（2000年以后，最晚为半年内）",
    );
    if let Err(m) = super::check_term(input.term_months, &rules) {
        c.check(false, "term_months", &m);
    }
    c.check(
        point.is_some_and(|p| p.valid() && p.e6() != (0, 0)),
        "lat",
        "请填写驻村地点的纬度和经度（打卡以此为中心）",
    );
    c.check(text_ok(&liaison, 60), "liaison", "联络员过长（60字以内）");
    c.check(text_ok(&team, 60), "team", "工作队名称过长（60字以内）");
    c.check(
        input
            .collective_income_yuan
            .is_none_or(|v| (0..=10_000_000_000).contains(&v)),
        "collective_income_yuan",
        "村集体收入须为0至100亿元之间的整数（元）",
    );
    c.check(
        input
            .households_in_difficulty
            .is_none_or(|v| (0..=100_000).contains(&v)),
        "households_in_difficulty",
        "困难户数须在0至100000之间",
    );
    c.finish()?;
    let (Some(village), Some(start), Some(point)) = (village, input.start_on, point) else {
        return Err(AppError::field("village_id", "请选择本辖区内的村党组织"));
    };
    let busy = on_db!(&ctx.db, x => {
        sqlx::query("SELECT COUNT(*) AS n FROM fs_assignments WHERE village_id = $1 AND status = 'on_duty'")
            .bind(village.id).fetch_one(x).await?.i64("n")?
    });
    if busy > 0 {
        return Err(AppError::field("village_id", "该村已有在岗的第一书记"));
    }
    let ends = super::term_end(start, input.term_months);
    let (lat, lng) = point.e6();
    let base = baseline(ctx, village.id, input).await?;
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let n = on_tx!(&mut tx, x => {
        sqlx::query("UPDATE fs_assignments SET status = 'on_duty', decided_at = $1, decided_by = $2, village_id = $3, start_on = $4, term_months = $5, \
                     ends_on = $6, liaison = $7, team = $8, lat_e6 = $9, lng_e6 = $10, baseline_json = $11, updated_at = $1, version = version + 1 \
                     WHERE id = $12 AND version = $13 AND status = 'nominated'")
            .bind(now).bind(p.account_id).bind(village.id).bind(start).bind(input.term_months).bind(ends).bind(&liaison).bind(&team)
            .bind(lat).bind(lng).bind(base.to_string()).bind(id).bind(input.version.unwrap_or(a.version))
            .execute(&mut *x).await?.rows_affected()
    });
    if n != 1 {
        return Err(AppError::Conflict(
            "该选派已被他人处理，请刷新后重试".into(),
        ));
    }
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "fs.assign",
            object_type: "fs_assignment",
            object_id: id.to_string(),
            before: serde_json::json!({"status": "已推荐"}),
            after: serde_json::json!({"status": "在岗", "village_id": village.id, "start_on": start, "term_months": input.term_months,
                "ends_on": ends, "liaison": liaison, "team": team, "lat": point.lat, "lng": point.lng, "baseline": base}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(load(ctx, id).await?.0)
}

/// A decision with a reason: not taking a nomination, recalling, or ending at term.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
#[schema(as = FsDecision)]
pub struct Decision {
    pub reason: String,
    /// The day it takes effect (recall, term end; default today).
    pub on: Option<NaiveDate>,
    /// Months to extend by (extension).
    pub months: Option<i64>,
    pub version: Option<i64>,
}

/// `return` (a nomination not taken), `recall` (召回, with reason), `complete` (期满) or
/// `extend` (延期, by months).
pub async fn decide(
    ctx: &Ctx,
    p: &Principal,
    id: i64,
    what: &str,
    input: &Decision,
) -> AppResult<Assignment> {
    let (a, paths) = get(ctx, p, id).await?;
    decide_auth(p, &paths)?;
    let rules = rules_at(ctx, &paths.round).await?;
    let reason = clean(&input.reason);
    let today = ctx.clock.today();
    let on = input.on.unwrap_or(today);
    let mut c = Checks::default();
    c.check(text_ok(&reason, MAX_TEXT), "reason", "理由过长");
    let (from, to, months, ends) = match what {
        "return" => {
            c.check(!reason.is_empty(), "reason", "请写明不予采纳的理由");
            ("nominated", "returned", a.term_months, a.ends_on)
        }
        "recall" => {
            c.check(!reason.is_empty(), "reason", "请写明召回的理由");
            c.check(
                a.start_on.is_none_or(|s| on >= s || s > today) && on <= today,
                "on",
                "召回日期须在到村之后、不晚于今天",
            );
            ("on_duty", "recalled", a.term_months, a.ends_on)
        }
        "complete" => {
            c.check(
                a.ends_on.is_some_and(|e| today >= e),
                "on",
                "任期尚未届满；提前结束请用召回",
            );
            ("on_duty", "completed", a.term_months, a.ends_on)
        }
        "extend" => {
            let more = input.months.unwrap_or(0);
            if let Err(m) = super::check_extension(a.term_months.unwrap_or(0), more, &rules) {
                c.check(false, "months", &m);
            }
            c.check(!reason.is_empty(), "reason", "请写明延期的理由");
            let months = a.term_months.unwrap_or(0).saturating_add(more);
            (
                "on_duty",
                "on_duty",
                Some(months),
                a.start_on.map(|s| super::term_end(s, months)),
            )
        }
        _ => return Err(AppError::NotFound("操作")),
    };
    c.finish()?;
    if a.status != from {
        return Err(AppError::Conflict(format!(
            "当前状态为“{}”，不能办理此项",
            a.status_label
        )));
    }
    let ended = matches!(what, "recall" | "complete").then(|| {
        if what == "complete" {
            a.ends_on.unwrap_or(on)
        } else {
            on
        }
    });
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let n = on_tx!(&mut tx, x => {
        sqlx::query("UPDATE fs_assignments SET status = $1, term_months = $2, ends_on = $3, ended_on = $4, decision_note = CASE WHEN $5 = '' THEN decision_note ELSE $5 END, \
                     decided_at = CASE WHEN $6 = 'return' THEN $7 ELSE decided_at END, decided_by = CASE WHEN $6 = 'return' THEN $8 ELSE decided_by END, \
                     updated_at = $7, version = version + 1 WHERE id = $9 AND version = $10 AND status = $11")
            .bind(to).bind(months).bind(ends).bind(ended).bind(&reason).bind(what).bind(now).bind(p.account_id)
            .bind(id).bind(input.version.unwrap_or(a.version)).bind(from)
            .execute(&mut *x).await?.rows_affected()
    });
    if n != 1 {
        return Err(AppError::Conflict(
            "该选派已被他人处理，请刷新后重试".into(),
        ));
    }
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: match what {
                "return" => "fs.return",
                "recall" => "fs.recall",
                "complete" => "fs.complete",
                _ => "fs.extend",
            },
            object_type: "fs_assignment",
            object_id: id.to_string(),
            before: serde_json::json!({"status": a.status_label, "term_months": a.term_months, "ends_on": a.ends_on}),
            after: serde_json::json!({"status": super::label(&STATUSES, to), "term_months": months, "ends_on": ends,
                "ended_on": ended, "reason": reason}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(load(ctx, id).await?.0)
}

/// The villages' locations (degrees) of postings, for the presence map: the place the
/// department set for clock-ins, not anyone's position.
pub async fn village_points(
    ctx: &Ctx,
    ids: &[i64],
) -> AppResult<std::collections::HashMap<i64, Point>> {
    let mut out = std::collections::HashMap::new();
    for chunk in ids.chunks(500) {
        // ids are integers read from the database
        let listed = chunk
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let sql = format!("SELECT id, lat_e6, lng_e6 FROM fs_assignments WHERE id IN ({listed}) AND lat_e6 IS NOT NULL AND lng_e6 IS NOT NULL");
        on_db!(&ctx.db, x => {
            for r in sqlx::query(&sql).fetch_all(x).await? {
                out.insert(r.i64("id")?, Point::from_e6(r.i64("lat_e6")?, r.i64("lng_e6")?));
            }
        });
    }
    Ok(out)
}

// ---------------------------------------------------------------- Party relationship

/// The first secretary's Party relationship (组织关系) against the posting: moved to the
/// village's branch while on duty, back to where it came from at the end, each by the built
/// transfer (sent by the member's side, received by the other).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PartyRelation {
    pub member_id: i64,
    /// The branch the member's relationship is in now.
    pub org_id: i64,
    pub org_name: String,
    pub in_village: bool,
    /// A transfer of the member waiting to be received, if any.
    pub open_transfer: Option<crate::member::transfer::Transfer>,
    /// in (to the village) or back (to the branch it came from), when one is due now.
    pub due: Option<String>,
    pub target_org_id: Option<i64>,
    pub target_org_name: Option<String>,
    /// Whether the reader may send it (transfers over the member's branch).
    pub can_send: bool,
}

/// The relationship of a posting's first secretary, when the cadre is a member of the roster.
pub async fn party_relation(
    ctx: &Ctx,
    p: &Principal,
    a: &Assignment,
    paths: &Paths,
) -> AppResult<Option<PartyRelation>> {
    let member = on_db!(&ctx.db, x => {
        sqlx::query("SELECT member_id FROM cadres WHERE id = $1").bind(a.cadre_id).fetch_optional(x).await?
            .map(|r| r.opt_i64("member_id")).transpose()?.flatten()
    });
    let (Some(member_id), Some(village)) = (member, a.village_id) else {
        return Ok(None);
    };
    let (m, path) = crate::member::store::get(ctx, member_id).await?;
    // the member's branch is read by the round's department, the first secretary and whoever
    // has the branch in its subtree — not by a township only because the village is its own
    if !(p.in_scope(&path) || decides(p, paths) || paths.cadre_account == Some(p.account_id)) {
        return Ok(None);
    }
    let (open, came_from) = on_db!(&ctx.db, x => {
        let open = sqlx::query("SELECT id FROM transfers WHERE member_id = $1 AND status = 'sent'")
            .bind(member_id).fetch_optional(x).await?.map(|r| r.i64("id")).transpose()?;
        let from = sqlx::query("SELECT t.from_org_id, o.name FROM transfers t JOIN orgs o ON o.id = t.from_org_id \
                                WHERE t.member_id = $1 AND t.to_org_id = $2 AND t.status = 'received' ORDER BY t.id DESC LIMIT 1")
            .bind(member_id).bind(village).fetch_optional(x).await?
            .map(|r| Ok::<_, crate::db::DbError>((r.i64("from_org_id")?, r.string("name")?))).transpose()?;
        (open, from)
    });
    let open_transfer = match open {
        Some(t) => Some(crate::member::transfer::get(ctx, t).await?.0),
        None => None,
    };
    let in_village = m.org_id == village;
    let (due, target) = match a.status.as_str() {
        "on_duty" if !in_village => (
            Some("in"),
            Some((village, a.village_name.clone().unwrap_or_default())),
        ),
        "recalled" | "completed" if in_village => match came_from {
            Some(from) => (Some("back"), Some(from)),
            None => (None, None),
        },
        _ => (None, None),
    };
    let can_send = due.is_some()
        && open_transfer.is_none()
        && m.status != crate::member::Status::Left.as_str()
        && p.authorize(Perm::TransferWrite, Some(&path)).is_ok();
    Ok(Some(PartyRelation {
        member_id,
        org_id: m.org_id,
        org_name: m.org_name,
        in_village,
        open_transfer,
        due: due.map(str::to_string),
        target_org_id: target.as_ref().map(|t| t.0),
        target_org_name: target.map(|t| t.1),
        can_send,
    }))
}

/// Sends the transfer the posting calls for now: into the village's branch while on duty,
/// back to the branch it came from once the posting has ended.
pub async fn send_party_relation(
    ctx: &Ctx,
    p: &Principal,
    id: i64,
) -> AppResult<crate::member::transfer::Transfer> {
    let (a, paths) = get(ctx, p, id).await?;
    let Some(rel) = party_relation(ctx, p, &a, &paths).await? else {
        return Err(AppError::Conflict(
            "该第一书记未关联党员信息或尚未派驻到村，无法转接组织关系".into(),
        ));
    };
    if rel.open_transfer.is_some() {
        return Err(AppError::refused(
            "transfer.already_open",
            "该党员已有一条待接收的转接，请先处理",
        ));
    }
    let (Some(due), Some(to), Some(to_name)) = (rel.due, rel.target_org_id, rel.target_org_name)
    else {
        return Err(AppError::Conflict(if rel.in_village {
            "组织关系已在派驻村党组织".into()
        } else {
            "派驻已结束，组织关系不在派驻村，无需转接".into()
        }));
    };
    let (_, path) = crate::member::store::get(ctx, rel.member_id).await?;
    p.authorize(Perm::TransferWrite, Some(&path))?;
    let reason = if due == "in" {
        format!("选派担任第一书记，组织关系转入{to_name}")
    } else {
        format!("第一书记派驻结束，组织关系转回{to_name}")
    };
    crate::member::transfer::send(
        ctx,
        &p.actor(),
        &crate::member::transfer::NewTransfer {
            member_id: rel.member_id,
            to_org_id: to,
            reason,
        },
    )
    .await
}

// ---------------------------------------------------------------- tutors

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct NewTutor {
    /// general (综合导师), village (村级导师) or practice (实践导师)
    pub role: String,
    pub name: String,
    pub unit: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Tutor {
    pub id: i64,
    pub role: String,
    pub role_label: String,
    pub name: String,
    pub unit: String,
    pub created_at: DateTime<Utc>,
}

pub async fn tutors(ctx: &Ctx, assignment: i64) -> AppResult<Vec<Tutor>> {
    on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT id, role, name, unit, created_at FROM fs_tutors WHERE assignment_id = $1 AND removed_at IS NULL ORDER BY role, id")
            .bind(assignment).fetch_all(x).await?;
        rows.iter().map(|r| {
            let role = r.string("role")?;
            Ok(Tutor { id: r.i64("id")?, role_label: super::label(&TUTOR_ROLES, &role).to_string(), role,
                name: r.string("name")?, unit: r.string("unit")?, created_at: r.ts("created_at")? })
        }).collect::<DbResult<Vec<_>>>().map_err(AppError::from)
    })
}

pub async fn add_tutor(ctx: &Ctx, p: &Principal, id: i64, input: &NewTutor) -> AppResult<Tutor> {
    let (a, paths) = get(ctx, p, id).await?;
    decide_auth(p, &paths)?;
    let name = clean(&input.name);
    let unit = clean(&input.unit);
    let mut c = Checks::default();
    c.check(
        TUTOR_ROLES.iter().any(|r| r.0 == input.role),
        "role",
        "请选择导师类别（综合导师、村级导师或实践导师）",
    );
    c.check(
        !name.is_empty() && text_ok(&name, 30),
        "name",
        "请填写导师姓名（30字以内）",
    );
    c.check(
        !unit.is_empty() && text_ok(&unit, 60),
        "unit",
        "请填写导师的单位和职务（60字以内）",
    );
    c.check(
        matches!(a.status.as_str(), "nominated" | "on_duty"),
        "role",
        "只能为推荐中或在岗的第一书记确定导师",
    );
    c.finish()?;
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let tid = on_tx!(&mut tx, x => {
        sqlx::query("INSERT INTO fs_tutors (assignment_id, role, name, unit, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id")
            .bind(id).bind(&input.role).bind(&name).bind(&unit).bind(now).fetch_one(&mut *x).await?.i64("id")?
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "fs.tutor_add",
            object_type: "fs_assignment",
            object_id: id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"tutor_id": tid, "role": super::label(&TUTOR_ROLES, &input.role), "name": name, "unit": unit}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Tutor {
        id: tid,
        role_label: super::label(&TUTOR_ROLES, &input.role).to_string(),
        role: input.role.clone(),
        name,
        unit,
        created_at: now,
    })
}

pub async fn remove_tutor(ctx: &Ctx, p: &Principal, id: i64, tutor: i64) -> AppResult<()> {
    let (a, paths) = get(ctx, p, id).await?;
    decide_auth(p, &paths)?;
    if !matches!(a.status.as_str(), "nominated" | "on_duty") {
        return Err(AppError::Conflict("派驻已结束，导师记录不再变更".into()));
    }
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let found = on_tx!(&mut tx, x => {
        match sqlx::query("UPDATE fs_tutors SET removed_at = $1 WHERE id = $2 AND assignment_id = $3 AND removed_at IS NULL RETURNING role, name")
            .bind(now).bind(tutor).bind(id).fetch_optional(&mut *x).await? {
            Some(r) => Some((r.string("role")?, r.string("name")?)),
            None => None,
        }
    });
    let Some((role, name)) = found else {
        return Err(AppError::NotFound("导师"));
    };
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "fs.tutor_remove",
            object_type: "fs_assignment",
            object_id: id.to_string(),
            before: serde_json::json!({"tutor_id": tutor, "role": super::label(&TUTOR_ROLES, &role), "name": name}),
            after: serde_json::Value::Null,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

// ---------------------------------------------------------------- tutors' guidance

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct NewGuidance {
    /// One of the posting's tutors.
    pub tutor_id: i64,
    pub held_on: Option<NaiveDate>,
    /// visit (到村指导), meeting (座谈交流), phone (电话指导) or online (线上指导)
    pub method: String,
    /// What it was about, e.g. 村集体经济项目选址.
    pub topic: String,
    /// The guidance given and what was settled.
    pub content: String,
}

/// A tutor's guidance session (导师指导).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Guidance {
    pub id: i64,
    pub tutor_id: i64,
    pub tutor_name: String,
    pub tutor_role_label: String,
    pub held_on: NaiveDate,
    pub method: String,
    pub method_label: String,
    pub topic: String,
    pub content: String,
    pub recorded_at: DateTime<Utc>,
}

/// A posting's guidance sessions, newest first.
pub async fn guidance(ctx: &Ctx, assignment: i64) -> AppResult<Vec<Guidance>> {
    on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT g.id, g.tutor_id, t.name, t.role, g.held_on, g.method, g.topic, g.content, g.recorded_at FROM fs_guidance g \
                                JOIN fs_tutors t ON t.id = g.tutor_id WHERE g.assignment_id = $1 ORDER BY g.held_on DESC, g.id DESC LIMIT 100")
            .bind(assignment).fetch_all(x).await?;
        rows.iter().map(|r| {
            let method = r.string("method")?;
            Ok(Guidance {
                id: r.i64("id")?,
                tutor_id: r.i64("tutor_id")?,
                tutor_name: r.string("name")?,
                tutor_role_label: super::label(&TUTOR_ROLES, &r.string("role")?).to_string(),
                held_on: r.date("held_on")?,
                method_label: super::label(&super::GUIDANCE_METHODS, &method).to_string(),
                method,
                topic: r.string("topic")?,
                content: r.string("content")?,
                recorded_at: r.ts("recorded_at")?,
            })
        }).collect::<DbResult<Vec<_>>>().map_err(AppError::from)
    })
}

/// Who records a guidance session: the first secretary themself or the round's department.
pub fn can_record_guidance(p: &Principal, paths: &Paths) -> bool {
    paths.cadre_account == Some(p.account_id) || decides(p, paths)
}

/// Records a session of one of the posting's tutors (on a day of the posting, not ahead).
pub async fn add_guidance(
    ctx: &Ctx,
    p: &Principal,
    id: i64,
    input: &NewGuidance,
) -> AppResult<Guidance> {
    let (a, paths) = get(ctx, p, id).await?;
    if !can_record_guidance(p, &paths) {
        return Err(AppError::Forbidden(
            "导师指导由第一书记本人或组织部门记录".into(),
        ));
    }
    let tutors = tutors(ctx, id).await?;
    let tutor = tutors.iter().find(|t| t.id == input.tutor_id);
    let topic = clean(&input.topic);
    let content = clean(&input.content);
    let today = ctx.clock.today();
    let mut c = Checks::default();
    c.check(tutor.is_some(), "tutor_id", "请选择本人的导师");
    c.check(
        super::GUIDANCE_METHODS.iter().any(|m| m.0 == input.method),
        "method",
        "请选择指导方式",
    );
    match (input.held_on, a.start_on) {
        (None, _) => c.add("held_on", "请填写指导日期"),
        (Some(_), None) => c.add("held_on", "尚未派驻到村，不能记录导师指导"),
        (Some(d), Some(start)) => {
            if d > today {
                c.add("held_on", "指导日期不能晚于今天");
            } else if d < start || a.ended_on.is_some_and(|e| d > e) {
                c.add("held_on", "指导日期须在派驻任期内");
            }
        }
    }
    c.check(
        !topic.is_empty() && text_ok(&topic, 50),
        "topic",
        "请填写指导主题（50字以内）",
    );
    c.check(
        !content.is_empty() && text_ok(&content, 500),
        "content",
        "请填写指导内容和解决的问题（500字以内）",
    );
    c.finish()?;
    let (Some(tutor), Some(held_on)) = (tutor, input.held_on) else {
        return Err(AppError::field("tutor_id", "请选择本人的导师"));
    };
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let gid = on_tx!(&mut tx, x => {
        sqlx::query("INSERT INTO fs_guidance (assignment_id, tutor_id, held_on, method, topic, content, recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id")
            .bind(id).bind(tutor.id).bind(held_on).bind(&input.method).bind(&topic).bind(&content).bind(p.account_id).bind(now)
            .fetch_one(&mut *x).await?.i64("id")?
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "fs.guidance",
            object_type: "fs_assignment",
            object_id: id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"guidance_id": gid, "tutor": tutor.name, "held_on": held_on,
                "guidance_method": super::label(&super::GUIDANCE_METHODS, &input.method), "topic": topic, "content": content}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Guidance {
        id: gid,
        tutor_id: tutor.id,
        tutor_name: tutor.name.clone(),
        tutor_role_label: tutor.role_label.clone(),
        held_on,
        method_label: super::label(&super::GUIDANCE_METHODS, &input.method).to_string(),
        method: input.method.clone(),
        topic,
        content,
        recorded_at: now,
    })
}

// ---------------------------------------------------------------- check-ins

/// A clock-in or -out as the phone sends it.
#[derive(Debug, Clone, Default)]
pub struct NewCheckin {
    /// in or out
    pub kind: String,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    /// The fix's accuracy the browser reports, in metres.
    pub accuracy: Option<f64>,
    /// When the phone took it (a check-in queued offline); none: now.
    pub at: Option<DateTime<Utc>>,
    pub photo: Vec<u8>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Checkin {
    pub id: i64,
    pub kind: String,
    pub kind_label: String,
    pub at: DateTime<Utc>,
    pub local_day: NaiveDate,
    pub received_at: DateTime<Utc>,
    /// Sent later from an offline queue (the time is the phone's).
    pub offline: bool,
    pub accuracy_m: i64,
    pub distance_m: i64,
    pub inside: bool,
    pub has_photo: bool,
    /// Position and photo deleted after the retention period.
    pub purged: bool,
}

fn checkin_row(r: &impl DbRow) -> DbResult<Checkin> {
    let kind = r.string("kind")?;
    Ok(Checkin {
        id: r.i64("id")?,
        kind_label: super::label(&super::KINDS, &kind).to_string(),
        kind,
        at: r.ts("at")?,
        local_day: r.date("local_day")?,
        received_at: r.ts("received_at")?,
        offline: r.bool("offline")?,
        accuracy_m: r.i64("accuracy_m")?,
        distance_m: r.i64("distance_m")?,
        inside: r.bool("inside")?,
        has_photo: r.opt_string("photo")?.is_some(),
        purged: r.opt_ts("purged_at")?.is_some(),
    })
}

pub async fn checkin(ctx: &Ctx, p: &Principal, input: &NewCheckin) -> AppResult<Checkin> {
    let (a, paths) = on_duty(ctx, p, "打卡").await?;
    let rules = rules_at(ctx, &paths.round).await?;
    let received = ctx.clock.now();
    let at = input.at.unwrap_or(received);
    let zone = ctx.clock.zone();
    let day = zone.date_of(at);
    let mut c = Checks::default();
    c.check(
        super::KINDS.iter().any(|k| k.0 == input.kind),
        "kind",
        "请选择上班打卡或下班打卡",
    );
    let point = match (input.lat, input.lng) {
        (Some(lat), Some(lng)) => Some(Point { lat, lng }).filter(|p| p.valid()),
        _ => None,
    };
    c.check(
        point.is_some(),
        "position",
        "未能取得位置：请在手机设置中允许浏览器定位后重试",
    );
    let timing = super::timing(at, received, &rules);
    if let Err(m) = &timing {
        c.check(false, "at", m);
    }
    c.check(
        a.start_on.is_some_and(|s| day >= s) && a.ends_on.is_none_or(|e| day <= e),
        "at",
        "打卡日期不在驻村任期内",
    );
    if rules.require_photo {
        c.check(!input.photo.is_empty(), "photo", "请拍摄现场照片后再打卡");
    }
    c.finish()?;
    if !input.photo.is_empty() {
        let mime = crate::blob::check(&input.photo, rules.photo_max_mb).map_err(|_| {
            AppError::field(
                "photo",
                format!("照片须为不超过{}MB的JPG或PNG图片", rules.photo_max_mb),
            )
        })?;
        if !mime.starts_with("image/") {
            return Err(AppError::field("photo", "照片须为JPG或PNG图片"));
        }
    }
    let (Some(point), Ok(timing)) = (point, timing) else {
        return Err(AppError::field("position", "未能取得位置"));
    };
    let village = match (a.lat, a.lng) {
        (Some(lat), Some(lng)) => Point { lat, lng },
        _ => {
            return Err(AppError::Conflict(
                "驻村地点尚未设定坐标，请联系组织部门".into(),
            ))
        }
    };
    let distance = super::distance_m(point, village).round().min(1e9) as i64;
    let accuracy = input
        .accuracy
        .filter(|a| a.is_finite() && *a >= 0.0)
        .map(|a| a.round().min(1e6) as i64);
    let inside = super::inside(distance, accuracy, &rules);
    let accuracy = accuracy.unwrap_or(-1);
    let offline = timing == Timing::Offline;
    let mut tx = ctx.db.begin().await?;
    let photo = if input.photo.is_empty() {
        None
    } else {
        Some(crate::blob::put(ctx, &mut tx, &input.photo).await?)
    };
    let id = on_tx!(&mut tx, x => {
        // still on duty as the row is written (a recall meanwhile wins)
        let id = sqlx::query("INSERT INTO fs_checkins (assignment_id, kind, at, local_day, received_at, offline, accuracy_m, distance_m, inside, photo) \
                     SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 WHERE EXISTS (SELECT 1 FROM fs_assignments WHERE id = $1 AND status = 'on_duty') RETURNING id")
            .bind(a.id).bind(&input.kind).bind(at).bind(day).bind(received).bind(offline).bind(accuracy).bind(distance)
            .bind(inside).bind(&photo).fetch_optional(&mut *x).await?;
        let Some(id) = id else {
            return Err(AppError::Forbidden("本账号没有在岗的第一书记选派，不能打卡".into()));
        };
        let id = id.i64("id")?;
        let enc = ctx.vault.encrypt(&crate::crypto::aad("fs_checkins", "position_enc", id),
            &format!("{:.6},{:.6}", point.lat, point.lng));
        sqlx::query("UPDATE fs_checkins SET position_enc = $1 WHERE id = $2").bind(enc).bind(id).execute(&mut *x).await?;
        id
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "fs.checkin",
            object_type: "fs_assignment",
            object_id: a.id.to_string(),
            before: serde_json::Value::Null,
            // the verdict, not the position (personal data, purged after its retention)
            after: serde_json::json!({"checkin_id": id, "kind": super::label(&super::KINDS, &input.kind), "at": at,
                "offline": offline, "distance_m": distance, "inside": inside, "photo": photo}),
        },
    )
    .await?;
    tx.commit().await?;
    checkin_get(ctx, id).await
}

async fn checkin_get(ctx: &Ctx, id: i64) -> AppResult<Checkin> {
    on_db!(&ctx.db, x => {
        let r = sqlx::query("SELECT id, kind, at, local_day, received_at, offline, accuracy_m, distance_m, inside, photo, purged_at FROM fs_checkins WHERE id = $1")
            .bind(id).fetch_one(x).await?;
        Ok(checkin_row(&r)?)
    })
}

/// An assignment's check-ins from `from` to `to` (local days), newest first.
pub async fn checkins(
    ctx: &Ctx,
    assignment: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> AppResult<Vec<Checkin>> {
    on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT id, kind, at, local_day, received_at, offline, accuracy_m, distance_m, inside, photo, purged_at FROM fs_checkins \
                                WHERE assignment_id = $1 AND local_day >= $2 AND local_day <= $3 ORDER BY at DESC, id DESC LIMIT 500")
            .bind(assignment).bind(from).bind(to).fetch_all(x).await?;
        rows.iter().map(checkin_row).collect::<DbResult<Vec<_>>>().map_err(AppError::from)
    })
}

/// A check-in's photo, for the managing levels and the first secretary.
pub async fn checkin_photo(ctx: &Ctx, p: &Principal, id: i64) -> AppResult<Vec<u8>> {
    let found = on_db!(&ctx.db, x => {
        match sqlx::query("SELECT assignment_id, photo FROM fs_checkins WHERE id = $1").bind(id).fetch_optional(x).await? {
            Some(r) => Some((r.i64("assignment_id")?, r.opt_string("photo")?)),
            None => None,
        }
    });
    let Some((assignment, photo)) = found else {
        return Err(AppError::NotFound("打卡记录"));
    };
    get(ctx, p, assignment).await?;
    let digest = photo.ok_or(AppError::NotFound("打卡照片"))?;
    crate::blob::content_named(ctx, &digest, "打卡照片").await
}

// ---------------------------------------------------------------- the month's presence

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PresenceRow {
    pub assignment_id: i64,
    pub cadre_name: String,
    pub village_name: String,
    pub township_name: String,
    pub sending_unit: String,
    #[serde(flatten)]
    pub presence: Presence,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PresenceReport {
    /// The month, YYYY-MM.
    pub month: String,
    pub first: NaiveDate,
    pub last: NaiveDate,
    /// Counted up to (today for the current month).
    pub until: NaiveDate,
    pub total: i64,
    pub short: i64,
    pub rows: Vec<PresenceRow>,
}

/// The month's days in the village of every first secretary on duty in it, whose village,
/// round or managing department is in the subtree.
pub async fn presence_month(
    ctx: &Ctx,
    p: &Principal,
    org_id: Option<i64>,
    month: NaiveDate,
) -> AppResult<PresenceReport> {
    p.authorize(Perm::CadreRead, Some(&p.org_path))?;
    let path = crate::cadre::store::scope_path(ctx, p, org_id).await?;
    let (first, last) = super::month_bounds(month);
    if first > ctx.clock.today() {
        return Err(AppError::field("month", "不能统计尚未开始的月份"));
    }
    let until = last.min(ctx.clock.today());
    // a report over the subtree: bounded and shared like the other heavy reads
    let key = format!("fs.presence|{path}|{first}|{until}");
    ctx.heavy
        .run_cloned(&key, || presence_of(ctx, path.clone(), first, last, until))
        .await
}

/// [`presence_month`] computed for the subtree at `path`, from `first` to `until`.
async fn presence_of(
    ctx: &Ctx,
    path: String,
    first: NaiveDate,
    last: NaiveDate,
    until: NaiveDate,
) -> AppResult<PresenceReport> {
    let hi = path_upper(&path);
    let rows = on_db!(&ctx.db, x => {
        let rows = sqlx::query(
            "SELECT a.id, c.name AS cadre_name, v.name AS village_name, a.status, \
             v.path AS village_path, a.sending_unit, a.start_on, a.ends_on, a.ended_on, ro.path AS round_path \
             FROM fs_assignments a JOIN fs_rounds r ON r.id = a.round_id JOIN orgs ro ON ro.id = r.org_id JOIN cadres c ON c.id = a.cadre_id \
             JOIN orgs v ON v.id = a.village_id \
             WHERE a.status IN ('on_duty', 'recalled', 'completed') AND a.start_on <= $1 AND COALESCE(a.ended_on, a.ends_on) >= $2 \
               AND ((v.path >= $3 AND v.path < $4) OR (ro.path >= $3 AND ro.path < $4)) ORDER BY v.path, a.id")
            .bind(until).bind(first).bind(&path).bind(&hi).fetch_all(x).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push((r.i64("id")?, r.string("cadre_name")?, r.string("village_name")?, r.string("village_path")?, r.string("sending_unit")?,
                r.date("start_on")?, r.opt_date("ended_on")?.or(r.opt_date("ends_on")?), r.string("round_path")?));
        }
        out
    });
    let days: Vec<(i64, NaiveDate, bool, bool)> = on_db!(&ctx.db, x => {
        let rows = sqlx::query(
            "SELECT k.assignment_id, k.local_day, CAST(MAX(CASE WHEN k.inside THEN 1 ELSE 0 END) AS BIGINT) AS inside, CAST(SUM(CASE WHEN k.offline THEN 1 ELSE 0 END) AS BIGINT) AS offline \
             FROM fs_checkins k JOIN fs_assignments a ON a.id = k.assignment_id JOIN fs_rounds r ON r.id = a.round_id JOIN orgs ro ON ro.id = r.org_id \
             JOIN orgs v ON v.id = a.village_id \
             WHERE k.local_day >= $1 AND k.local_day <= $2 AND ((v.path >= $3 AND v.path < $4) OR (ro.path >= $3 AND ro.path < $4)) \
             GROUP BY k.assignment_id, k.local_day")
            .bind(first).bind(until).bind(&path).bind(&hi).fetch_all(x).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push((r.i64("assignment_id")?, r.date("local_day")?, r.i64("inside")? > 0, r.i64("offline")? > 0));
        }
        out
    });
    let leaves: Vec<(i64, NaiveDate, NaiveDate)> = on_db!(&ctx.db, x => {
        let rows = sqlx::query(
            "SELECT l.assignment_id, l.from_on, l.to_on FROM fs_leaves l JOIN fs_assignments a ON a.id = l.assignment_id \
             JOIN fs_rounds r ON r.id = a.round_id JOIN orgs ro ON ro.id = r.org_id JOIN orgs v ON v.id = a.village_id \
             WHERE l.status = 'approved' AND l.from_on <= $2 AND l.to_on >= $1 \
               AND ((v.path >= $3 AND v.path < $4) OR (ro.path >= $3 AND ro.path < $4))")
            .bind(first).bind(until).bind(&path).bind(&hi).fetch_all(x).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push((r.i64("assignment_id")?, r.date("from_on")?, r.date("to_on")?));
        }
        out
    });
    let mut on_leave: std::collections::HashMap<i64, std::collections::BTreeSet<NaiveDate>> =
        std::collections::HashMap::new();
    for (a, from, to) in leaves {
        let set = on_leave.entry(a).or_default();
        let mut d = from.max(first);
        while d <= to.min(until) {
            set.insert(d);
            d += chrono::Duration::days(1);
        }
    }
    let today = ctx.clock.today();
    let mut by: std::collections::HashMap<i64, Vec<(NaiveDate, bool, bool)>> =
        std::collections::HashMap::new();
    for (a, d, i, o) in days {
        by.entry(a).or_default().push((d, i, o));
    }
    let cal = crate::calendar::store::calendar(&ctx.db, first, last).await?;
    let mut rules_by: std::collections::HashMap<String, FsRules> = std::collections::HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    let towns = townships(ctx, rows.iter().map(|r| r.3.as_str())).await?;
    for (id, cadre_name, village_name, village_path, sending_unit, start, end, round_path) in rows {
        let township_name = towns.get(&village_path).cloned().unwrap_or_default();
        if !rules_by.contains_key(&round_path) {
            let r = rules_at(ctx, &round_path).await?;
            rules_by.insert(round_path.clone(), r);
        }
        let rules = rules_by.get(&round_path).cloned().unwrap_or_default();
        // the working days on duty that are over (today is not, yet)
        let from = first.max(start);
        let to = until.min(end.unwrap_or(until));
        let mut working = Vec::new();
        let mut d = from;
        while d <= to && d < today {
            if crate::calendar::is_working_day(d, &cal) {
                working.push(d);
            }
            d += chrono::Duration::days(1);
        }
        // check-ins on the days on duty only (a recall dated back ends them)
        let cs: Vec<(NaiveDate, bool, bool)> = by
            .remove(&id)
            .unwrap_or_default()
            .into_iter()
            .filter(|c| c.0 >= start && end.is_none_or(|e| c.0 <= e))
            .collect();
        let leave = on_leave.remove(&id).unwrap_or_default();
        let pr = super::presence(&cs, &working, &leave, &rules);
        out.push(PresenceRow {
            assignment_id: id,
            cadre_name,
            village_name,
            township_name,
            sending_unit,
            presence: pr,
        });
    }
    Ok(PresenceReport {
        month: first.format("%Y-%m").to_string(),
        first,
        last,
        until,
        total: out.len() as i64,
        short: out.iter().filter(|r| r.presence.short).count() as i64,
        rows: out,
    })
}

/// Deletes positions and photos of check-ins past their retention (the scheduler's job): the
/// distance and the verdict stay; a photo no other record names leaves the blob store.
pub async fn purge(ctx: &Ctx) -> Result<String, String> {
    let now = ctx.clock.now();
    let rounds: Vec<(i64, String)> = on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT r.id, o.path FROM fs_rounds r JOIN orgs o ON o.id = r.org_id")
            .fetch_all(x).await.map_err(|e| e.to_string())?;
        rows.iter().map(|r| Ok((r.i64("id")?, r.string("path")?))).collect::<DbResult<Vec<_>>>().map_err(|e| e.to_string())?
    });
    let mut total = 0u64;
    for (round, path) in rounds {
        let rules = rules_at(ctx, &path).await.map_err(|e| e.to_string())?;
        let before = now - chrono::Duration::days(rules.retention_days);
        let mut tx = ctx.db.begin().await.map_err(|e| e.to_string())?;
        let digests: Vec<String> = on_tx!(&mut tx, x => {
            let rows = sqlx::query("SELECT DISTINCT k.photo FROM fs_checkins k JOIN fs_assignments a ON a.id = k.assignment_id \
                                    WHERE a.round_id = $1 AND k.purged_at IS NULL AND k.at < $2 AND k.photo IS NOT NULL")
                .bind(round).bind(before).fetch_all(&mut *x).await.map_err(|e| e.to_string())?;
            rows.iter().map(|r| r.string("photo")).collect::<DbResult<Vec<_>>>().map_err(|e| e.to_string())?
        });
        let n = on_tx!(&mut tx, x => {
            sqlx::query("UPDATE fs_checkins SET position_enc = NULL, photo = NULL, purged_at = $1 \
                         WHERE purged_at IS NULL AND at < $2 AND assignment_id IN (SELECT id FROM fs_assignments WHERE round_id = $3)")
                .bind(now).bind(before).bind(round).execute(&mut *x).await.map_err(|e| e.to_string())?.rows_affected()
        });
        if n == 0 {
            continue;
        }
        let freed = crate::blob::delete_unreferenced(&mut tx, &digests)
            .await
            .map_err(|e| e.to_string())?;
        audit::append(
            &mut tx,
            &Actor::system("scheduler"),
            NewEntry {
                action: "fs.purge",
                object_type: "fs_round",
                object_id: round.to_string(),
                before: serde_json::Value::Null,
                after: serde_json::json!({"checkins": n, "photos_deleted": freed, "before": before}),
            },
        )
        .await
        .map_err(|e| e.to_string())?;
        tx.commit().await.map_err(|e| e.to_string())?;
        total += n;
    }
    Ok(format!("清除过期打卡位置和照片 {total} 条"))
}

// ---------------------------------------------------------------- leave and spot checks

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct NewLeave {
    pub from_on: Option<NaiveDate>,
    pub to_on: Option<NaiveDate>,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Leave {
    pub id: i64,
    pub assignment_id: i64,
    pub from_on: NaiveDate,
    pub to_on: NaiveDate,
    /// Working days it covers.
    pub days: i64,
    pub reason: String,
    /// township or county
    pub approver: String,
    pub approver_label: String,
    pub status: String,
    pub status_label: String,
    pub requested_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_note: String,
}

const LEAVE_COLUMNS: &str = "id, assignment_id, from_on, to_on, days, reason, approver, status, requested_at, decided_at, decision_note";

fn leave_row(r: &impl DbRow) -> DbResult<Leave> {
    let approver = r.string("approver")?;
    let status = r.string("status")?;
    Ok(Leave {
        id: r.i64("id")?,
        assignment_id: r.i64("assignment_id")?,
        from_on: r.date("from_on")?,
        to_on: r.date("to_on")?,
        days: r.i64("days")?,
        reason: r.string("reason")?,
        approver_label: super::label(&super::APPROVERS, &approver).to_string(),
        approver,
        status_label: super::label(&super::LEAVE_STATUSES, &status).to_string(),
        status,
        requested_at: r.ts("requested_at")?,
        decided_at: r.opt_ts("decided_at")?,
        decision_note: r.string("decision_note")?,
    })
}

pub async fn leaves(ctx: &Ctx, assignment: i64) -> AppResult<Vec<Leave>> {
    let sql = format!(
        "SELECT {LEAVE_COLUMNS} FROM fs_leaves WHERE assignment_id = $1 ORDER BY from_on DESC, id DESC LIMIT 200"
    );
    on_db!(&ctx.db, x => {
        let rows = sqlx::query(&sql).bind(assignment).fetch_all(x).await?;
        rows.iter().map(leave_row).collect::<DbResult<Vec<_>>>().map_err(AppError::from)
    })
}

/// The first secretary asks for leave: within the term, not over another leave, at most the
/// rule's days; the township or the county approves by its length.
pub async fn request_leave(ctx: &Ctx, p: &Principal, input: &NewLeave) -> AppResult<Leave> {
    let (a, paths) = on_duty(ctx, p, "请假").await?;
    let rules = rules_at(ctx, &paths.round).await?;
    let reason = clean(&input.reason);
    let mut c = Checks::default();
    c.check(input.from_on.is_some(), "from_on", "请填写请假开始日期");
    c.check(input.to_on.is_some(), "to_on", "请填写请假结束日期");
    c.check(
        !reason.is_empty() && text_ok(&reason, MAX_TEXT),
        "reason",
        "请写明请假事由（200字以内）",
    );
    c.finish()?;
    let (Some(from), Some(to)) = (input.from_on, input.to_on) else {
        return Err(AppError::field("from_on", "请填写请假日期"));
    };
    let mut c = Checks::default();
    c.check(to >= from, "to_on", "结束日期不能早于开始日期");
    c.check(
        a.start_on.is_some_and(|s| from >= s) && a.ends_on.is_none_or(|e| to <= e),
        "from_on",
        "请假日期须在驻村任期内",
    );
    c.check(
        from >= ctx.clock.today() - chrono::Duration::days(7),
        "from_on",
        "只能补请7天以内的假",
    );
    c.finish()?;
    if (to - from).num_days() > 366 {
        return Err(AppError::field("to_on", "请假期间过长"));
    }
    let cal = crate::calendar::store::calendar(&ctx.db, from, to).await?;
    let days = crate::calendar::working_days_between(from, to, &cal);
    let approver = super::leave_approver(days, &rules).map_err(|m| AppError::field("to_on", m))?;
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let (overlap, id) = on_tx!(&mut tx, x => {
        let overlap = sqlx::query("SELECT COUNT(*) AS n FROM fs_leaves WHERE assignment_id = $1 AND status IN ('requested', 'approved') AND from_on <= $2 AND to_on >= $3")
            .bind(a.id).bind(to).bind(from).fetch_one(&mut *x).await?.i64("n")?;
        if overlap > 0 {
            (overlap, 0)
        } else {
            let id = sqlx::query("INSERT INTO fs_leaves (assignment_id, from_on, to_on, days, reason, approver, status, requested_at) \
                                  VALUES ($1, $2, $3, $4, $5, $6, 'requested', $7) RETURNING id")
                .bind(a.id).bind(from).bind(to).bind(days).bind(&reason).bind(approver).bind(now)
                .fetch_one(&mut *x).await?.i64("id")?;
            (0, id)
        }
    });
    if overlap > 0 {
        return Err(AppError::field("from_on", "与已申请或已批准的请假时间重叠"));
    }
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "fs.leave_request",
            object_type: "fs_assignment",
            object_id: a.id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"leave_id": id, "from_on": from, "to_on": to, "days": days, "reason": reason,
                "approver": super::label(&super::APPROVERS, approver)}),
        },
    )
    .await?;
    tx.commit().await?;
    leave_get(ctx, id).await
}

/// The assignment a leave belongs to (for the page to return to).
pub async fn leave_assignment(ctx: &Ctx, id: i64) -> AppResult<i64> {
    Ok(leave_get(ctx, id).await?.assignment_id)
}

async fn leave_get(ctx: &Ctx, id: i64) -> AppResult<Leave> {
    let sql = format!("SELECT {LEAVE_COLUMNS} FROM fs_leaves WHERE id = $1");
    on_db!(&ctx.db, x => {
        match sqlx::query(&sql).bind(id).fetch_optional(x).await? {
            Some(r) => Ok(leave_row(&r)?),
            None => Err(AppError::NotFound("请假")),
        }
    })
}

/// Whether `p` approves a leave going to `approver` for an assignment at `paths`: the
/// township (`FsDaily` over the village), or for a county leave an organisation at least two
/// levels above the village (the county, the city) or the round's department.
pub fn can_approve(p: &Principal, paths: &Paths, approver: &str) -> bool {
    if !p.can(Perm::FsDaily) {
        return false;
    }
    let Some(village) = paths.village.as_deref() else {
        return false;
    };
    let depth = |path: &str| crate::org::path_ids(path).len();
    match approver {
        "township" => p.in_scope(village) || p.in_scope(&paths.round),
        _ => {
            (p.in_scope(village) && depth(&p.org_path) + 2 <= depth(village))
                || p.in_scope(&paths.round)
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct LeaveDecision {
    /// approve (true) or refuse (false)
    pub approve: bool,
    pub note: String,
}

pub async fn decide_leave(
    ctx: &Ctx,
    p: &Principal,
    id: i64,
    input: &LeaveDecision,
) -> AppResult<Leave> {
    let l = leave_get(ctx, id).await?;
    let (_, paths) = get(ctx, p, l.assignment_id)
        .await
        .map_err(|_| AppError::NotFound("请假"))?;
    if !can_approve(p, &paths, &l.approver) {
        return Err(AppError::Forbidden(if l.approver == "county" {
            "超过乡镇审批天数的请假由县级组织部门审批".into()
        } else {
            "由驻村所在乡镇审批".into()
        }));
    }
    let note = clean(&input.note);
    let mut c = Checks::default();
    c.check(text_ok(&note, MAX_TEXT), "note", "审批意见过长");
    c.check(
        input.approve || !note.is_empty(),
        "note",
        "不批准时请写明理由",
    );
    c.finish()?;
    let to = if input.approve { "approved" } else { "refused" };
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let n = on_tx!(&mut tx, x => {
        sqlx::query("UPDATE fs_leaves SET status = $1, decided_at = $2, decided_by = $3, decision_note = $4 WHERE id = $5 AND status = 'requested'")
            .bind(to).bind(now).bind(p.account_id).bind(&note).bind(id).execute(&mut *x).await?.rows_affected()
    });
    if n != 1 {
        return Err(AppError::Conflict("该请假已处理".into()));
    }
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: if input.approve {
                "fs.leave_approve"
            } else {
                "fs.leave_refuse"
            },
            object_type: "fs_assignment",
            object_id: l.assignment_id.to_string(),
            before: serde_json::json!({"leave_id": id, "status": l.status_label}),
            after: serde_json::json!({"leave_id": id, "status": super::label(&super::LEAVE_STATUSES, to), "note": note}),
        },
    )
    .await?;
    tx.commit().await?;
    leave_get(ctx, id).await
}

/// The first secretary withdraws a leave not yet decided.
pub async fn cancel_leave(ctx: &Ctx, p: &Principal, id: i64) -> AppResult<Leave> {
    let l = leave_get(ctx, id).await?;
    let (_, paths) = load(ctx, l.assignment_id).await?;
    if paths.cadre_account != Some(p.account_id) {
        return Err(AppError::NotFound("请假"));
    }
    let mut tx = ctx.db.begin().await?;
    let n = on_tx!(&mut tx, x => {
        sqlx::query("UPDATE fs_leaves SET status = 'cancelled' WHERE id = $1 AND status = 'requested'")
            .bind(id).execute(&mut *x).await?.rows_affected()
    });
    if n != 1 {
        return Err(AppError::Conflict("已审批的请假不能撤销".into()));
    }
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "fs.leave_cancel",
            object_type: "fs_assignment",
            object_id: l.assignment_id.to_string(),
            before: serde_json::json!({"leave_id": id, "status": l.status_label}),
            after: serde_json::json!({"leave_id": id, "status": "已撤销"}),
        },
    )
    .await?;
    tx.commit().await?;
    leave_get(ctx, id).await
}

/// The leaves waiting for `p`'s decision (工作台).
pub async fn leaves_to_decide(ctx: &Ctx, p: &Principal) -> AppResult<Vec<(Leave, Assignment)>> {
    if !p.can(Perm::FsDaily) {
        return Ok(Vec::new());
    }
    let hi = path_upper(&p.org_path);
    let sql = format!(
        "SELECT l.id AS leave_id, {A_COLUMNS} {A_FROM} JOIN fs_leaves l ON l.assignment_id = a.id \
         WHERE l.status = 'requested' AND ((v.path >= $1 AND v.path < $2) OR (ro.path >= $1 AND ro.path < $2)) ORDER BY l.requested_at LIMIT 200"
    );
    let found: Vec<(i64, Assignment, Paths)> = on_db!(&ctx.db, x => {
        let rows = sqlx::query(&sql).bind(&p.org_path).bind(&hi).fetch_all(x).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let (a, paths) = a_row(r)?;
            out.push((r.i64("leave_id")?, a, paths));
        }
        out
    });
    let mut out = Vec::new();
    for (id, a, paths) in found {
        let l = leave_get(ctx, id).await?;
        if can_approve(p, &paths, &l.approver) {
            out.push((l, a));
        }
    }
    Ok(out)
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct NewSpotCheck {
    pub checked_on: Option<NaiveDate>,
    /// visit, phone or video
    pub method: String,
    /// present or absent
    pub result: String,
    pub note: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SpotCheck {
    pub id: i64,
    pub checked_on: NaiveDate,
    pub method: String,
    pub method_label: String,
    pub result: String,
    pub result_label: String,
    /// Absent without approved leave that day.
    pub flagged: bool,
    pub note: String,
    pub checker_name: String,
    pub created_at: DateTime<Utc>,
}

fn spot_row(r: &impl DbRow) -> DbResult<SpotCheck> {
    let method = r.string("method")?;
    let result = r.string("result")?;
    Ok(SpotCheck {
        id: r.i64("id")?,
        checked_on: r.date("checked_on")?,
        method_label: super::label(&super::CHECK_METHODS, &method).to_string(),
        method,
        result_label: super::label(&super::CHECK_RESULTS, &result).to_string(),
        result,
        flagged: r.bool("flagged")?,
        note: r.string("note")?,
        checker_name: r.string("checker_name")?,
        created_at: r.ts("created_at")?,
    })
}

const SPOT_COLUMNS: &str =
    "id, checked_on, method, result, flagged, note, checker_name, created_at";

pub async fn spot_checks(ctx: &Ctx, assignment: i64) -> AppResult<Vec<SpotCheck>> {
    let sql = format!("SELECT {SPOT_COLUMNS} FROM fs_spot_checks WHERE assignment_id = $1 ORDER BY checked_on DESC, id DESC LIMIT 200");
    on_db!(&ctx.db, x => {
        let rows = sqlx::query(&sql).bind(assignment).fetch_all(x).await?;
        rows.iter().map(spot_row).collect::<DbResult<Vec<_>>>().map_err(AppError::from)
    })
}

/// Records a spot check (四不两直) by the township or the county: absent on a day without
/// approved leave is flagged.
pub async fn spot_check(
    ctx: &Ctx,
    p: &Principal,
    id: i64,
    input: &NewSpotCheck,
) -> AppResult<SpotCheck> {
    let (a, paths) = get(ctx, p, id).await?;
    if !(p.can(Perm::FsDaily)
        && (paths.village.as_deref().is_some_and(|v| p.in_scope(v)) || p.in_scope(&paths.round)))
    {
        return Err(AppError::Forbidden("由驻村所在乡镇或组织部门抽查".into()));
    }
    let note = clean(&input.note);
    let today = ctx.clock.today();
    let mut c = Checks::default();
    c.check(
        input
            .checked_on
            .is_some_and(|d| super::within_posting(d, today, a.start_on, a.ended_on)),
        "checked_on",
        "抽查日期须在驻村期间、不晚于今天",
    );
    c.check(
        super::CHECK_METHODS.iter().any(|m| m.0 == input.method),
        "method",
        "请选择抽查方式",
    );
    c.check(
        super::CHECK_RESULTS.iter().any(|m| m.0 == input.result),
        "result",
        "请选择抽查结果",
    );
    c.check(text_ok(&note, MAX_TEXT), "note", "情况说明过长");
    c.check(
        input.result != "absent" || !note.is_empty(),
        "note",
        "不在岗时请写明情况",
    );
    c.finish()?;
    let Some(day) = input.checked_on else {
        return Err(AppError::field("checked_on", "请填写抽查日期"));
    };
    let cal = crate::calendar::store::calendar(&ctx.db, day, day).await?;
    let working = crate::calendar::is_working_day(day, &cal);
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let name = p.display_name.clone();
    let (sid, flagged, entered) = on_tx!(&mut tx, x => {
        let on_leave = sqlx::query("SELECT COUNT(*) AS n FROM fs_leaves WHERE assignment_id = $1 AND status = 'approved' AND from_on <= $2 AND to_on >= $2")
            .bind(id).bind(day).fetch_one(&mut *x).await?.i64("n")? > 0;
        // absent on a rest day or on leave is no fault
        let flagged = input.result == "absent" && !on_leave && working;
        let sid = sqlx::query("INSERT INTO fs_spot_checks (assignment_id, checked_on, method, result, flagged, note, checked_by, checker_name, created_at) \
                               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id")
            .bind(id).bind(day).bind(&input.method).bind(&input.result).bind(flagged).bind(&note).bind(p.account_id).bind(&name).bind(now)
            .fetch_one(&mut *x).await?.i64("id")?;
        // one black entry a day however many checks find the first secretary away
        let entered = sqlx::query(&format!("SELECT COUNT(*) AS n FROM fs_ledger l WHERE l.assignment_id = $1 AND l.source = 'spot_check' AND l.occurred_on = $2 AND {STANDING}"))
            .bind(id).bind(day).fetch_one(&mut *x).await?.i64("n")? > 0;
        (sid, flagged, entered)
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "fs.spot_check",
            object_type: "fs_assignment",
            object_id: id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"spot_check_id": sid, "checked_on": day, "method": super::label(&super::CHECK_METHODS, &input.method),
                "result": super::label(&super::CHECK_RESULTS, &input.result), "flagged": flagged, "note": note}),
        },
    )
    .await?;
    if flagged && !entered {
        // absent without leave on a working day goes on the black side of the ledger with the
        // check as its source
        let why: String = format!(
            "{}发现不在岗：{}",
            super::label(&super::CHECK_METHODS, &input.method),
            note
        )
        .chars()
        .take(MAX_TEXT)
        .collect();
        insert_ledger(
            &mut tx,
            p,
            &LedgerRow {
                assignment: id,
                cadre: a.cadre_id,
                color: "black",
                category: "absence",
                on: day,
                note: &why,
                source: "spot_check",
                source_id: Some(sid),
                reverses: None,
            },
        )
        .await?;
    }
    tx.commit().await?;
    let sql = format!("SELECT {SPOT_COLUMNS} FROM fs_spot_checks WHERE id = $1");
    on_db!(&ctx.db, x => {
        let r = sqlx::query(&sql).bind(sid).fetch_one(x).await?;
        Ok(spot_row(&r)?)
    })
}

// ---------------------------------------------------------------- the red/black ledger

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct NewLedgerEntry {
    /// commendation, contest_win, achievement, thanks (red); absence, failed_check, complaint,
    /// penalty (black)
    pub category: String,
    pub occurred_on: Option<NaiveDate>,
    /// What happened (事由), with the document or decision it rests on.
    pub matter: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct LedgerReversal {
    /// Why the entry is reversed.
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LedgerEntry {
    pub id: i64,
    pub assignment_id: i64,
    pub cadre_id: i64,
    /// red or black
    pub color: String,
    pub color_label: String,
    pub category: String,
    pub category_label: String,
    pub occurred_on: NaiveDate,
    pub note: String,
    /// manual, or spot_check (a flagged spot check wrote it)
    pub source: String,
    pub source_id: Option<i64>,
    /// The entry this one reverses.
    pub reverses_id: Option<i64>,
    /// The entry that reversed this one.
    pub reversed_by: Option<i64>,
    pub village_name: Option<String>,
    pub recorder_name: String,
    pub recorded_at: DateTime<Utc>,
}

const L_COLUMNS: &str = "l.id, l.assignment_id, l.cadre_id, l.color, l.category, l.occurred_on, l.note, l.source, l.source_id, \
    l.reverses_id, x.id AS reversed_by, v.name AS village_name, l.recorder_name, l.recorded_at";
const L_FROM: &str = "FROM fs_ledger l LEFT JOIN fs_ledger x ON x.reverses_id = l.id \
    JOIN fs_assignments a ON a.id = l.assignment_id LEFT JOIN orgs v ON v.id = a.village_id";

fn ledger_row(r: &impl DbRow) -> DbResult<LedgerEntry> {
    let color = r.string("color")?;
    let category = r.string("category")?;
    Ok(LedgerEntry {
        id: r.i64("id")?,
        assignment_id: r.i64("assignment_id")?,
        cadre_id: r.i64("cadre_id")?,
        color_label: super::label(&super::LEDGER_COLORS, &color).to_string(),
        color,
        category_label: super::label(&super::LEDGER_CATEGORIES, &category).to_string(),
        category,
        occurred_on: r.date("occurred_on")?,
        note: r.string("note")?,
        source: r.string("source")?,
        source_id: r.opt_i64("source_id")?,
        reverses_id: r.opt_i64("reverses_id")?,
        reversed_by: r.opt_i64("reversed_by")?,
        village_name: r.opt_string("village_name")?,
        recorder_name: r.string("recorder_name")?,
        recorded_at: r.ts("recorded_at")?,
    })
}

async fn ledger_where(ctx: &Ctx, cond: &str, id: i64) -> AppResult<Vec<LedgerEntry>> {
    let sql = format!(
        "SELECT {L_COLUMNS} {L_FROM} WHERE {cond} ORDER BY l.occurred_on DESC, l.id DESC LIMIT 500"
    );
    on_db!(&ctx.db, x => {
        let rows = sqlx::query(&sql).bind(id).fetch_all(x).await?;
        rows.iter().map(ledger_row).collect::<DbResult<Vec<_>>>().map_err(AppError::from)
    })
}

/// An assignment's ledger, newest first (reversals included, each next to what it reverses
/// by its reference; the newest 500).
pub async fn ledger(ctx: &Ctx, assignment: i64) -> AppResult<Vec<LedgerEntry>> {
    ledger_where(ctx, "l.assignment_id = $1", assignment).await
}

/// A cadre's ledger over all their postings: what goes into their record (the newest 500).
pub async fn cadre_ledger(ctx: &Ctx, cadre: i64) -> AppResult<Vec<LedgerEntry>> {
    ledger_where(ctx, "l.cadre_id = $1", cadre).await
}

/// An entry `l` that stands: an original no entry reversed (reversals count for nothing).
const STANDING: &str =
    "l.reverses_id IS NULL AND NOT EXISTS (SELECT 1 FROM fs_ledger x WHERE x.reverses_id = l.id)";

/// The standing entries of each side (red, black) over the whole ledger: originals that no
/// entry reversed; reversals count for nothing.
pub async fn ledger_totals(ctx: &Ctx, column: LedgerOf, id: i64) -> AppResult<(i64, i64)> {
    let col = match column {
        LedgerOf::Assignment => "assignment_id",
        LedgerOf::Cadre => "cadre_id",
    };
    let sql =
        format!("SELECT l.color, COUNT(*) AS n FROM fs_ledger l WHERE l.{col} = $1 AND {STANDING} GROUP BY l.color");
    let (mut red, mut black) = (0, 0);
    on_db!(&ctx.db, x => {
        for r in sqlx::query(&sql).bind(id).fetch_all(x).await? {
            match r.string("color")?.as_str() {
                "red" => red = r.i64("n")?,
                _ => black = r.i64("n")?,
            }
        }
    });
    Ok((red, black))
}

/// Whose ledger [`ledger_totals`] counts.
#[derive(Debug, Clone, Copy)]
pub enum LedgerOf {
    Assignment,
    Cadre,
}

async fn ledger_entry(ctx: &Ctx, id: i64) -> AppResult<LedgerEntry> {
    ledger_where(ctx, "l.id = $1", id)
        .await?
        .pop()
        .ok_or(AppError::NotFound("红黑台账记录"))
}

/// Adds an entry to the red/black ledger of a posting (the round's department).
pub async fn add_ledger(
    ctx: &Ctx,
    p: &Principal,
    id: i64,
    input: &NewLedgerEntry,
) -> AppResult<LedgerEntry> {
    let (a, paths) = get(ctx, p, id).await?;
    decide_auth(p, &paths)?;
    if a.start_on.is_none() {
        return Err(AppError::Conflict("尚未派驻，不能记入红黑台账".into()));
    }
    let note = clean(&input.matter);
    let today = ctx.clock.today();
    let color = super::ledger_color(&input.category);
    let mut c = Checks::default();
    c.check(color.is_some(), "category", "请选择记录类别");
    c.check(
        input
            .occurred_on
            .is_some_and(|d| super::within_posting(d, today, a.start_on, a.ended_on)),
        "occurred_on",
        "日期须在驻村期间、不晚于今天",
    );
    c.check(!note.is_empty(), "matter", "请写明事由和依据");
    c.check(text_ok(&note, MAX_TEXT), "matter", "事由过长");
    c.finish()?;
    let (Some(color), Some(on)) = (color, input.occurred_on) else {
        return Err(AppError::field("category", "请选择记录类别"));
    };
    let mut tx = ctx.db.begin().await?;
    let lid = insert_ledger(
        &mut tx,
        p,
        &LedgerRow {
            assignment: a.id,
            cadre: a.cadre_id,
            color,
            category: &input.category,
            on,
            note: &note,
            source: "manual",
            source_id: None,
            reverses: None,
        },
    )
    .await?;
    tx.commit().await?;
    ledger_entry(ctx, lid).await
}

/// Reverses a ledger entry with its reason: a new entry that cancels it; nothing is changed
/// or removed.
pub async fn reverse_ledger(
    ctx: &Ctx,
    p: &Principal,
    entry: i64,
    input: &LedgerReversal,
) -> AppResult<LedgerEntry> {
    let e = ledger_entry(ctx, entry).await?;
    let (_, paths) = get(ctx, p, e.assignment_id).await?;
    decide_auth(p, &paths)?;
    super::ledger_reversible(e.reverses_id.is_some(), e.reversed_by.is_some())
        .map_err(|m| AppError::Conflict(m.into()))?;
    let note = clean(&input.reason);
    let mut c = Checks::default();
    c.check(!note.is_empty(), "reason", "请写明冲销理由");
    c.check(text_ok(&note, MAX_TEXT), "reason", "冲销理由过长");
    c.finish()?;
    let mut tx = ctx.db.begin().await?;
    let lid = insert_ledger(
        &mut tx,
        p,
        &LedgerRow {
            assignment: e.assignment_id,
            cadre: e.cadre_id,
            color: &e.color,
            category: &e.category,
            on: ctx.clock.today(),
            note: &note,
            source: "manual",
            source_id: None,
            reverses: Some(e.id),
        },
    )
    .await
    .map_err(|err| match err {
        // two reversals at once: the unique index lets one through
        AppError::Db(ref d) if d.is_constraint() => AppError::Conflict("这条记录已冲销".into()),
        other => other,
    })?;
    tx.commit().await?;
    ledger_entry(ctx, lid).await
}

/// Which assignment a ledger entry belongs to (for the page to go back to).
pub async fn ledger_assignment(ctx: &Ctx, entry: i64) -> AppResult<i64> {
    Ok(ledger_entry(ctx, entry).await?.assignment_id)
}

pub(crate) struct LedgerRow<'a> {
    pub assignment: i64,
    pub cadre: i64,
    pub color: &'a str,
    pub category: &'a str,
    pub on: NaiveDate,
    pub note: &'a str,
    /// manual, spot_check (`source_id` the check), annual (`source_id` the year)
    pub source: &'a str,
    pub source_id: Option<i64>,
    pub reverses: Option<i64>,
}

/// Writes one ledger entry and its audit entry in the caller's transaction.
pub(crate) async fn insert_ledger(
    tx: &mut crate::db::Tx,
    p: &Principal,
    row: &LedgerRow<'_>,
) -> AppResult<i64> {
    let now = tx.now;
    let name = p.display_name.clone();
    let lid = on_tx!(tx, x => {
        sqlx::query("INSERT INTO fs_ledger (assignment_id, cadre_id, color, category, occurred_on, note, source, source_id, reverses_id, recorded_by, recorder_name, recorded_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id")
            .bind(row.assignment).bind(row.cadre).bind(row.color).bind(row.category).bind(row.on).bind(row.note)
            .bind(row.source).bind(row.source_id).bind(row.reverses).bind(p.account_id).bind(&name).bind(now)
            .fetch_one(&mut *x).await?.i64("id")?
    });
    audit::append(
        tx,
        &p.actor(),
        NewEntry {
            action: if row.reverses.is_some() {
                "fs.ledger_reverse"
            } else {
                "fs.ledger_add"
            },
            object_type: "fs_assignment",
            object_id: row.assignment.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"ledger_id": lid, "side": super::label(&super::LEDGER_COLORS, row.color),
                "ledger_category": super::label(&super::LEDGER_CATEGORIES, row.category), "occurred_on": row.on,
                "note": row.note, "reverses": row.reverses,
                "spot_check_id": (row.source == "spot_check").then_some(row.source_id).flatten(),
                "year": (row.source == "annual").then_some(row.source_id).flatten()}),
        },
    )
    .await?;
    Ok(lid)
}

// ---------------------------------------------------------------- 四个一

/// The subject type of the 四个一 obligations: a round (its department owes them).
pub const ROUND_SUBJECT: &str = "fs_round";

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct NewActivity {
    /// meeting (工作例会), visit (现场观摩), training (业务培训) or assessment (履职考核)
    pub kind: String,
    pub held_on: Option<NaiveDate>,
    pub title: String,
    /// What was reported, seen, taught or assessed.
    pub content: String,
    /// How many first secretaries took part.
    pub attendees: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Activity {
    pub id: i64,
    pub round_id: i64,
    pub kind: String,
    pub kind_label: String,
    /// The period it counts for (2026-12, 2026-Q4, 2026-H2, 2026).
    pub period: String,
    pub period_label: String,
    pub held_on: NaiveDate,
    pub title: String,
    pub content: String,
    pub attendees: i64,
    pub recorder_name: String,
    pub recorded_at: DateTime<Utc>,
}

fn activity_row(r: &impl DbRow) -> DbResult<Activity> {
    let kind = r.string("kind")?;
    let held_on = r.date("held_on")?;
    let period_label = super::activity_period(&kind, held_on)
        .map(|p| super::period_label(&kind, &p))
        .unwrap_or_default();
    Ok(Activity {
        id: r.i64("id")?,
        round_id: r.i64("round_id")?,
        kind_label: super::label(&super::ACTIVITIES, &kind).to_string(),
        kind,
        period: r.string("period")?,
        period_label,
        held_on,
        title: r.string("title")?,
        content: r.string("content")?,
        attendees: r.i64("attendees")?,
        recorder_name: r.string("recorder_name")?,
        recorded_at: r.ts("recorded_at")?,
    })
}

const ACT_COLUMNS: &str =
    "id, round_id, kind, period, held_on, title, content, attendees, recorder_name, recorded_at";

/// A round, for whoever reads its assignments: its department's subtree and the departments
/// above (the same reach as [`rounds`]).
pub async fn round(ctx: &Ctx, p: &Principal, id: i64) -> AppResult<(Round, String)> {
    let (r, path) = load_round(ctx, id).await?;
    if !(p.can(Perm::CadreRead)
        && (p.in_scope(&path) || crate::org::in_subtree(&path, &p.org_path)))
    {
        return Err(AppError::NotFound("选派批次"));
    }
    Ok((r, path))
}

/// A round's 四个一 records, newest first.
pub async fn activities(ctx: &Ctx, round: i64) -> AppResult<Vec<Activity>> {
    let sql = format!("SELECT {ACT_COLUMNS} FROM fs_activities WHERE round_id = $1 ORDER BY held_on DESC, id DESC LIMIT 200");
    on_db!(&ctx.db, x => {
        let rows = sqlx::query(&sql).bind(round).fetch_all(x).await?;
        rows.iter().map(activity_row).collect::<DbResult<Vec<_>>>().map_err(AppError::from)
    })
}

/// The obligation row of a round's activity period.
fn activity_obligation<'a>(
    cadence: &'a str,
    round: &Round,
    period: &'a crate::obligation::Period,
    rules: &FsRules,
    zone: &crate::clock::Zone,
) -> crate::obligation::NewObligation<'a> {
    let (due_at, missed_at) =
        super::activity_deadlines(period.end, rules.activity_grace_days, zone);
    crate::obligation::NewObligation {
        kind: cadence,
        subject_type: ROUND_SUBJECT,
        subject_id: round.id,
        scope_org_id: round.org_id,
        period,
        due_at,
        missed_at,
    }
}

/// Records a meeting, visit, training or assessment of a round (its department): it fulfils
/// the round's obligation of the period it was held in — on time when entered by the end of
/// the period, late after it.
pub async fn record_activity(
    ctx: &Ctx,
    p: &Principal,
    round_id: i64,
    input: &NewActivity,
) -> AppResult<Activity> {
    let (r, path) = round(ctx, p, round_id).await?;
    if !p.in_scope(&path) {
        return Err(AppError::Forbidden("由组织该批次的组织部门办理".into()));
    }
    p.authorize(Perm::CadreWrite, Some(&path))?;
    let rules = rules_at(ctx, &path).await?;
    let title = clean(&input.title);
    let content = clean(&input.content);
    let today = ctx.clock.today();
    let cadence = super::activity_cadence(&input.kind);
    let mut c = Checks::default();
    c.check(cadence.is_some(), "kind", "请选择活动类别");
    c.check(
        input.held_on.is_some_and(|d| {
            use chrono::Datelike;
            d <= today && i64::from(d.year()) >= r.year - 1
        }),
        "held_on",
        "日期须不早于批次年度的上一年、不晚于今天",
    );
    c.check(
        !title.is_empty() && text_ok(&title, 60),
        "title",
        "请填写主题（60字以内）",
    );
    c.check(text_ok(&content, MAX_TEXT * 5), "content", "内容过长");
    c.check(
        (1..=10_000).contains(&input.attendees),
        "attendees",
        "参加人数须在1至10000之间",
    );
    c.finish()?;
    let (Some(cadence), Some(held_on)) = (cadence, input.held_on) else {
        return Err(AppError::field("kind", "请选择活动类别"));
    };
    let Some(period) = super::activity_period(&input.kind, held_on) else {
        return Err(AppError::field("held_on", "日期无效"));
    };
    // nothing was owed before the round's first posting began
    let since = on_db!(&ctx.db, x => {
        sqlx::query("SELECT MIN(start_on) AS since FROM fs_assignments WHERE round_id = $1 AND start_on IS NOT NULL AND status IN ('on_duty', 'recalled', 'completed')")
            .bind(r.id).fetch_one(x).await?.opt_date("since")?
    });
    match since {
        None => {
            return Err(AppError::Conflict(
                "本批次还没有派驻的第一书记，无需记录“四个一”".into(),
            ))
        }
        Some(s) if period.end < s => {
            return Err(AppError::field(
                "held_on",
                format!("本批次{s}起才有派驻的第一书记，此前的期间不计"),
            ))
        }
        _ => {}
    }
    let zone = ctx.clock.zone();
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let name = p.display_name.clone();
    let id = on_tx!(&mut tx, x => {
        sqlx::query("INSERT INTO fs_activities (round_id, kind, period, held_on, title, content, attendees, recorded_by, recorder_name, recorded_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id")
            .bind(r.id).bind(&input.kind).bind(&period.key).bind(held_on).bind(&title).bind(&content).bind(input.attendees)
            .bind(p.account_id).bind(&name).bind(now)
            .fetch_one(&mut *x).await?.i64("id")?
    });
    let o = activity_obligation(cadence, &r, &period, &rules, &zone);
    // held in its period and entered within the grace days: on time; entered later: late
    let at = if now <= o.missed_at {
        zone.start_of(held_on)
    } else {
        now
    };
    let status = crate::obligation::fulfil(&mut tx, &o, "fs_activity", id, at).await?;
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "fs.activity",
            object_type: "fs_round",
            object_id: r.id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"activity_id": id, "kind": super::label(&super::ACTIVITIES, &input.kind),
                "period": super::period_label(&input.kind, &period), "held_on": held_on, "title": title,
                "attendees": input.attendees, "status": crate::rules::label(&crate::obligation::STATUSES, &status)}),
        },
    )
    .await?;
    tx.commit().await?;
    let sql = format!("SELECT {ACT_COLUMNS} FROM fs_activities WHERE id = $1");
    on_db!(&ctx.db, x => {
        let row = sqlx::query(&sql).bind(id).fetch_one(x).await?;
        Ok(activity_row(&row)?)
    })
}

/// The generator of one 四个一 cadence: every round with first secretaries on duty owes the
/// activity of the current period and of the `periods - 1` before it, back to the period its
/// first posting began in.
pub async fn generate_activities(
    ctx: &Ctx,
    today: NaiveDate,
    periods: usize,
    kind: &'static str,
) -> AppResult<u64> {
    let Some(cadence) = super::activity_cadence(kind) else {
        return Ok(0);
    };
    let rounds = on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT a.round_id, MIN(a.start_on) AS since FROM fs_assignments a WHERE a.status = 'on_duty' AND a.start_on IS NOT NULL \
                                GROUP BY a.round_id")
            .fetch_all(x).await?;
        rows.iter().map(|r| Ok((r.i64("round_id")?, r.date("since")?))).collect::<DbResult<Vec<_>>>()?
    });
    let zone = ctx.clock.zone();
    let mut made = 0;
    for (id, since) in rounds {
        let (r, path) = load_round(ctx, id).await?;
        let rules = rules_at(ctx, &path).await?;
        let mut period = super::activity_period(kind, today);
        let mut tx = ctx.db.begin().await?;
        for _ in 0..periods.max(1) {
            let Some(p) = period.take() else { break };
            if p.end < since {
                break;
            }
            let o = activity_obligation(cadence, &r, &p, &rules, &zone);
            if crate::obligation::ensure(&mut tx, &o).await? {
                made += 1;
            }
            period = super::previous_period(kind, &p);
        }
        tx.commit().await?;
    }
    Ok(made)
}

// ---------------------------------------------------------------- 履职承诺

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct NewPledge {
    /// What is pledged, e.g. 发展村级集体经济.
    pub item: String,
    /// The target, e.g. 村集体年收入达到10万元.
    pub target: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct PledgeProgress {
    /// How far it has come.
    pub progress: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Pledge {
    pub id: i64,
    pub assignment_id: i64,
    pub item: String,
    pub target: String,
    pub progress: String,
    pub updated_at: DateTime<Utc>,
}

fn pledge_row(r: &impl DbRow) -> DbResult<Pledge> {
    Ok(Pledge {
        id: r.i64("id")?,
        assignment_id: r.i64("assignment_id")?,
        item: r.string("item")?,
        target: r.string("target")?,
        progress: r.string("progress")?,
        updated_at: r.ts("updated_at")?,
    })
}

const PLEDGE_COLUMNS: &str = "id, assignment_id, item, target, progress, updated_at";

/// A posting's pledge (履职承诺书), in the order its items were made.
pub async fn pledges(ctx: &Ctx, assignment: i64) -> AppResult<Vec<Pledge>> {
    let sql = format!("SELECT {PLEDGE_COLUMNS} FROM fs_pledges WHERE assignment_id = $1 AND removed_at IS NULL ORDER BY id LIMIT 100");
    on_db!(&ctx.db, x => {
        let rows = sqlx::query(&sql).bind(assignment).fetch_all(x).await?;
        rows.iter().map(pledge_row).collect::<DbResult<Vec<_>>>().map_err(AppError::from)
    })
}

/// Who keeps a pledge: the first secretary while on duty, and the round's department.
pub fn can_pledge(p: &Principal, a: &Assignment, paths: &Paths) -> bool {
    (paths.cadre_account == Some(p.account_id) && a.status == "on_duty") || decides(p, paths)
}

async fn pledge_auth(ctx: &Ctx, p: &Principal, id: i64) -> AppResult<(Assignment, Paths)> {
    let (a, paths) = get(ctx, p, id).await?;
    if !can_pledge(p, &a, &paths) {
        return Err(AppError::Forbidden(
            "履职承诺由在岗的第一书记本人或组织部门填写".into(),
        ));
    }
    Ok((a, paths))
}

/// Audits a change of a posting's pledge in the change's transaction, and commits both.
async fn pledge_commit(
    mut tx: crate::db::Tx,
    p: &Principal,
    action: &'static str,
    pledge: &Pledge,
    after: serde_json::Value,
) -> AppResult<()> {
    let mut after = after;
    after["pledge_id"] = serde_json::json!(pledge.id);
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action,
            object_type: "fs_assignment",
            object_id: pledge.assignment_id.to_string(),
            before: serde_json::Value::Null,
            after,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A pledge item (removed ones included), for the page to go back to its posting.
pub async fn pledge_get(ctx: &Ctx, id: i64) -> AppResult<Pledge> {
    let sql = format!("SELECT {PLEDGE_COLUMNS} FROM fs_pledges WHERE id = $1");
    on_db!(&ctx.db, x => {
        match sqlx::query(&sql).bind(id).fetch_optional(x).await? {
            Some(r) => Ok(pledge_row(&r)?),
            None => Err(AppError::NotFound("承诺事项")),
        }
    })
}

/// Adds an item to the pledge (at most the rule's number of items).
pub async fn add_pledge(ctx: &Ctx, p: &Principal, id: i64, input: &NewPledge) -> AppResult<Pledge> {
    let (_, paths) = pledge_auth(ctx, p, id).await?;
    let rules = rules_at(ctx, &paths.round).await?;
    let item = clean(&input.item);
    let target = clean(&input.target);
    let mut c = Checks::default();
    c.check(
        !item.is_empty() && text_ok(&item, 100),
        "item",
        "请填写承诺事项（100字以内）",
    );
    c.check(
        !target.is_empty() && text_ok(&target, 100),
        "target",
        "请填写目标（100字以内）",
    );
    c.finish()?;
    if pledges(ctx, id).await?.len() as i64 >= rules.pledge_items_max {
        return Err(AppError::field(
            "item",
            format!("履职承诺最多{}条", rules.pledge_items_max),
        ));
    }
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let pid = on_tx!(&mut tx, x => {
        sqlx::query("INSERT INTO fs_pledges (assignment_id, item, target, progress, created_at, updated_at) VALUES ($1, $2, $3, '', $4, $4) RETURNING id")
            .bind(id).bind(&item).bind(&target).bind(now).fetch_one(&mut *x).await?.i64("id")?
    });
    let pledge = Pledge {
        id: pid,
        assignment_id: id,
        item,
        target,
        progress: String::new(),
        updated_at: now,
    };
    let after = serde_json::json!({"item": pledge.item, "target": pledge.target});
    pledge_commit(tx, p, "fs.pledge_add", &pledge, after).await?;
    Ok(pledge)
}

/// Records how far a pledge item has come.
pub async fn pledge_progress(
    ctx: &Ctx,
    p: &Principal,
    pledge: i64,
    input: &PledgeProgress,
) -> AppResult<Pledge> {
    let mut item = pledge_get(ctx, pledge).await?;
    pledge_auth(ctx, p, item.assignment_id).await?;
    let progress = clean(&input.progress);
    let mut c = Checks::default();
    c.check(
        !progress.is_empty() && text_ok(&progress, MAX_TEXT),
        "progress",
        "请填写进展情况（200字以内）",
    );
    c.finish()?;
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let n = on_tx!(&mut tx, x => {
        sqlx::query("UPDATE fs_pledges SET progress = $1, updated_at = $2 WHERE id = $3 AND removed_at IS NULL")
            .bind(&progress).bind(now).bind(pledge).execute(&mut *x).await?.rows_affected()
    });
    if n == 0 {
        return Err(AppError::NotFound("承诺事项"));
    }
    item.progress = progress;
    item.updated_at = now;
    let after = serde_json::json!({"progress": item.progress});
    pledge_commit(tx, p, "fs.pledge_progress", &item, after).await?;
    Ok(item)
}

/// Takes an item back (kept, marked removed); returns its posting.
pub async fn remove_pledge(ctx: &Ctx, p: &Principal, pledge: i64) -> AppResult<i64> {
    let item = pledge_get(ctx, pledge).await?;
    pledge_auth(ctx, p, item.assignment_id).await?;
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let n = on_tx!(&mut tx, x => {
        sqlx::query("UPDATE fs_pledges SET removed_at = $1 WHERE id = $2 AND removed_at IS NULL")
            .bind(now).bind(pledge).execute(&mut *x).await?.rows_affected()
    });
    if n == 0 {
        return Err(AppError::NotFound("承诺事项"));
    }
    let after = serde_json::json!({"item": item.item});
    pledge_commit(tx, p, "fs.pledge_remove", &item, after).await?;
    Ok(item.assignment_id)
}
