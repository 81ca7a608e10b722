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
    pub nominated: i64,
    pub on_duty: i64,
    pub created_at: DateTime<Utc>,
}

const ROUND_COLUMNS: &str = "r.id, r.org_id, o.name AS org_name, o.path AS org_path, r.name, r.year, r.status, r.created_at, \
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
    pub note: String,
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
    a.sending_level, a.sending_unit, a.status, a.nominated_at, a.decided_at, a.note, a.village_id, v.name AS village_name, v.path AS village_path, \
    t.name AS township_name, a.start_on, a.term_months, a.ends_on, a.ended_on, a.liaison, a.team, a.lat_e6, a.lng_e6, a.baseline_json, a.version";
const A_FROM: &str =
    "FROM fs_assignments a JOIN fs_rounds r ON r.id = a.round_id JOIN orgs ro ON ro.id = r.org_id \
    JOIN cadres c ON c.id = a.cadre_id JOIN orgs co ON co.id = c.managed_by \
    LEFT JOIN orgs v ON v.id = a.village_id LEFT JOIN orgs t ON t.id = v.parent_id";

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
            village_id: r.opt_i64("village_id")?,
            village_name: r.opt_string("village_name")?,
            township_name: r.opt_string("township_name")?,
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

pub async fn load(ctx: &Ctx, id: i64) -> AppResult<(Assignment, Paths)> {
    let sql = format!("SELECT {A_COLUMNS} {A_FROM} WHERE a.id = $1");
    on_db!(&ctx.db, x => {
        match sqlx::query(&sql).bind(id).fetch_optional(x).await? {
            Some(r) => Ok(a_row(&r)?),
            None => Err(AppError::NotFound("第一书记选派")),
        }
    })
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

/// The department deciding: `CadreWrite` over the round's organisation.
fn decide_auth(p: &Principal, paths: &Paths) -> AppResult<()> {
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
        b.and(" AND a.status = ?", Val::Str(s.to_string()));
    }
    if let Some(n) = f.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        let pat = format!("%{}%", crate::member::store::like_escape(n));
        let a = b.arg(Val::Str(pat));
        b.push(&format!(
            " AND (c.name LIKE {a} ESCAPE '\\' OR a.sending_unit LIKE {a} ESCAPE '\\' OR v.name LIKE {a} ESCAPE '\\')"
        ));
    }
    let limit = f.limit.unwrap_or(50).clamp(1, 500);
    let offset = f.offset.unwrap_or(0).clamp(0, 50_000_000);
    let count_sql = format!("SELECT COUNT(*) AS n {A_FROM}{}", b.sql);
    let sql = format!(
        "SELECT {A_COLUMNS} {A_FROM}{} ORDER BY t.name, v.name, c.name, a.id LIMIT {limit} OFFSET {offset}",
        b.sql
    );
    let vals = b.vals;
    on_db!(&ctx.db, x => {
        let total = bind_vals!(sqlx::query(&count_sql), &vals).fetch_one(x).await?.i64("n")?;
        let rows = bind_vals!(sqlx::query(&sql), &vals).fetch_all(x).await?;
        let items = rows.iter().map(|r| a_row(r).map(|a| a.0)).collect::<DbResult<Vec<_>>>()?;
        Ok(AssignmentPage { total, items })
    })
}

/// The on-duty (or nominated) assignment of the account's cadre, if any.
pub async fn of_account(ctx: &Ctx, account_id: i64) -> AppResult<Option<(Assignment, Paths)>> {
    let sql = format!(
        "SELECT {A_COLUMNS} {A_FROM} WHERE c.account_id = $1 ORDER BY CASE a.status WHEN 'on_duty' THEN 0 WHEN 'nominated' THEN 1 ELSE 2 END, a.id DESC LIMIT 1"
    );
    Ok(on_db!(&ctx.db, x => {
        match sqlx::query(&sql).bind(account_id).fetch_optional(x).await? {
            Some(r) => Some(a_row(&r)?),
            None => None,
        }
    }))
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
    let mut c = Checks::default();
    c.check(round.status == "open", "round_id", "该批次已结束推荐");
    c.check(cadre.status == "active", "cadre_id", "该干部已离任");
    c.check(
        LEVELS.iter().any(|l| l.0 == input.sending_level),
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
            .bind(round.id).bind(cadre.id).bind(&input.sending_level).bind(&unit).bind(now).bind(p.account_id).bind(&note)
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
            after: serde_json::json!({"round_id": round.id, "cadre_id": cadre.id, "sending_level": super::label(&LEVELS, &input.sending_level),
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
        village
            .as_ref()
            .is_some_and(|v| v.level == crate::org::OrgLevel::Village),
        "village_id",
        "请选择本辖区内的村党组织",
    );
    c.check(input.start_on.is_some(), "start_on", "请填写到村日期");
    if let Err(m) = super::check_term(input.term_months, &rules) {
        c.check(false, "term_months", &m);
    }
    c.check(
        point.is_some_and(|p| p.valid() && !(p.lat == 0.0 && p.lng == 0.0)),
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
                a.start_on.is_none_or(|s| on >= s) && on <= today,
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
            let months = a.term_months.unwrap_or(0) + more;
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
        sqlx::query("UPDATE fs_assignments SET status = $1, term_months = $2, ends_on = $3, ended_on = $4, note = CASE WHEN $5 = '' THEN note ELSE $5 END, \
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
    let (_, paths) = get(ctx, p, id).await?;
    decide_auth(p, &paths)?;
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
    let Some((a, paths)) = of_account(ctx, p.account_id)
        .await?
        .filter(|(a, _)| a.status == "on_duty")
    else {
        return Err(AppError::Forbidden(
            "本账号没有在岗的第一书记选派，不能打卡".into(),
        ));
    };
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
    let inside = super::inside(distance, &rules);
    let accuracy = input
        .accuracy
        .filter(|a| a.is_finite() && *a >= 0.0)
        .map(|a| a.round().min(1e6) as i64)
        .unwrap_or(-1);
    let offline = timing == Timing::Offline;
    let mut tx = ctx.db.begin().await?;
    let photo = if input.photo.is_empty() {
        None
    } else {
        Some(crate::blob::put(ctx, &mut tx, &input.photo).await?)
    };
    let id = on_tx!(&mut tx, x => {
        let id = sqlx::query("INSERT INTO fs_checkins (assignment_id, kind, at, local_day, received_at, offline, accuracy_m, distance_m, inside, photo) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id")
            .bind(a.id).bind(&input.kind).bind(at).bind(day).bind(received).bind(offline).bind(accuracy).bind(distance)
            .bind(inside).bind(&photo).fetch_one(&mut *x).await?.i64("id")?;
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
            "SELECT a.id, c.name AS cadre_name, v.name AS village_name, COALESCE(t.name, '') AS township_name, a.sending_unit, a.start_on, a.ends_on, a.ended_on, ro.path AS round_path \
             FROM fs_assignments a JOIN fs_rounds r ON r.id = a.round_id JOIN orgs ro ON ro.id = r.org_id JOIN cadres c ON c.id = a.cadre_id \
             JOIN orgs v ON v.id = a.village_id LEFT JOIN orgs t ON t.id = v.parent_id \
             WHERE a.status IN ('on_duty', 'recalled', 'completed') AND a.start_on <= $1 AND COALESCE(a.ended_on, a.ends_on) >= $2 \
               AND ((v.path >= $3 AND v.path < $4) OR (ro.path >= $3 AND ro.path < $4)) ORDER BY t.name, v.name, a.id")
            .bind(until).bind(first).bind(&path).bind(&hi).fetch_all(x).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push((r.i64("id")?, r.string("cadre_name")?, r.string("village_name")?, r.string("township_name")?, r.string("sending_unit")?,
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
    let mut by: std::collections::HashMap<i64, Vec<(NaiveDate, bool, bool)>> =
        std::collections::HashMap::new();
    for (a, d, i, o) in days {
        by.entry(a).or_default().push((d, i, o));
    }
    let cal = crate::calendar::store::calendar(&ctx.db, first, last).await?;
    let mut rules_by: std::collections::HashMap<String, FsRules> = std::collections::HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for (id, cadre_name, village_name, township_name, sending_unit, start, end, round_path) in rows
    {
        if !rules_by.contains_key(&round_path) {
            let r = rules_at(ctx, &round_path).await?;
            rules_by.insert(round_path.clone(), r);
        }
        let rules = rules_by.get(&round_path).cloned().unwrap_or_default();
        let from = first.max(start);
        let to = until.min(end.unwrap_or(until));
        let wd = if to >= from {
            crate::calendar::working_days_between(from, to, &cal)
        } else {
            0
        };
        let cs = by.remove(&id).unwrap_or_default();
        let mut pr = super::presence(&cs, wd, &rules);
        // the offline count is of days with a check-in sent later
        pr.offline = cs.iter().filter(|c| c.2).count() as i64;
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
