//! 向阳计划 (seed 001): the talent pools the Party committee keeps with the Youth League, the
//! trade union and the women's federation — excellent youth, skilled workers (岗位技术能手)
//! and excellent women — fed by three channels (organisation, self, online recommendation).
//! Each person is followed up (跟踪培养) on a rule-set cadence until they hand in an
//! application, which links them to their recruitment file; or they leave the pool with a
//! reason. Rules first (pure), then the store.

use super::rules::{add_months, RecruitRules};
use crate::audit::{self, Actor, NewEntry};
use crate::auth::Principal;
use crate::crypto::{mask_id_number, mask_phone};
use crate::db::{path_upper, DbResult, DbRow, SqlBuilder, Tx, Val};
use crate::error::{AppError, AppResult};
use crate::member::rules::age_on;
use crate::{bind_vals, on_db, on_tx, Ctx};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub const POOLS: [(&str, &str); 3] = [
    ("youth", "优秀青年"),
    ("skilled", "岗位技术能手"),
    ("women", "优秀妇女"),
];
pub const CHANNELS: [(&str, &str); 3] = [
    ("organisation", "组织推荐"),
    ("self", "个人自荐"),
    ("online", "网上推荐"),
];
pub const STATUSES: [(&str, &str); 3] = [
    ("tracking", "跟踪培养中"),
    ("applied", "已递交入党申请"),
    ("withdrawn", "已退出人才库"),
];

fn label(table: &[(&'static str, &'static str)], k: &str) -> &'static str {
    table
        .iter()
        .find(|(x, _)| *x == k)
        .map(|(_, l)| *l)
        .unwrap_or("")
}

/// The youngest age a pool takes (a Youth League member may be recommended at 14).
pub const MIN_AGE: i64 = 14;

// ---- rules ----

/// Whether a person fits the pool they are recommended into.
pub fn check_pool(
    pool: &str,
    male: bool,
    birth: NaiveDate,
    on: NaiveDate,
    r: &RecruitRules,
) -> Result<(), AppError> {
    if !POOLS.iter().any(|(k, _)| *k == pool) {
        return Err(AppError::field(
            "pool",
            "请选择人才库：优秀青年、岗位技术能手或优秀妇女",
        ));
    }
    let age = age_on(birth, on);
    if age < MIN_AGE {
        return Err(AppError::field(
            "id_number",
            format!("推荐时应年满{MIN_AGE}周岁（{on}时{age}周岁）"),
        ));
    }
    if pool == "women" && male {
        return Err(AppError::refused(
            "talent.women_only",
            "优秀妇女库只收录女性",
        ));
    }
    if pool == "youth" && age > r.talent_youth_max_age {
        return Err(AppError::refused(
            "talent.too_old_for_youth",
            format!(
                "优秀青年库收录{}周岁以下的青年（推荐时{age}周岁）",
                r.talent_youth_max_age
            ),
        ));
    }
    Ok(())
}

/// When the next follow-up is due after the last one (or the recommendation).
pub fn contact_due(since: NaiveDate, r: &RecruitRules) -> NaiveDate {
    add_months(since, r.talent_contact_every_months)
}

// ---- data ----

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Talent {
    pub id: i64,
    pub org_id: i64,
    pub org_name: String,
    /// youth, skilled, women
    pub pool: String,
    /// organisation, self, online
    pub channel: String,
    pub name: String,
    /// M or F
    pub gender: String,
    /// Year and month of birth (`YYYY-MM`).
    #[serde(serialize_with = "crate::member::ser_month")]
    #[schema(value_type = String)]
    pub birth_month: NaiveDate,
    /// Masked; the clear number is never shown here.
    pub id_number: String,
    pub phone: Option<String>,
    pub work_unit: String,
    /// Who recommended: 团委, 工会, 妇联, the person, or the website.
    pub recommender: String,
    pub recommended_on: NaiveDate,
    pub reason: String,
    /// tracking, applied, withdrawn
    pub status: String,
    pub recruit_id: Option<i64>,
    pub last_contact: Option<NaiveDate>,
    /// The next follow-up, while tracking.
    pub due_on: Option<NaiveDate>,
    pub closed_note: Option<String>,
    pub version: i64,
}

impl Talent {
    pub fn pool_label(&self) -> &'static str {
        label(&POOLS, &self.pool)
    }
    pub fn channel_label(&self) -> &'static str {
        label(&CHANNELS, &self.channel)
    }
    pub fn status_label(&self) -> &'static str {
        label(&STATUSES, &self.status)
    }
}

const COLUMNS: &str = "t.id, t.org_id, o.name AS org_name, o.path, t.pool, t.channel, t.name, t.gender, t.birth_month, t.id_masked, t.phone_masked, t.work_unit, t.recommender, t.recommended_on, t.reason, t.status, t.recruit_id, t.last_contact, t.due_on, t.closed_note, t.version";

fn row(r: &impl DbRow) -> DbResult<(Talent, String)> {
    Ok((
        Talent {
            id: r.i64("id")?,
            org_id: r.i64("org_id")?,
            org_name: r.string("org_name")?,
            pool: r.string("pool")?,
            channel: r.string("channel")?,
            name: r.string("name")?,
            gender: r.string("gender")?,
            birth_month: r.date("birth_month")?,
            id_number: r.string("id_masked")?,
            phone: r.opt_string("phone_masked")?,
            work_unit: r.string("work_unit")?,
            recommender: r.string("recommender")?,
            recommended_on: r.date("recommended_on")?,
            reason: r.string("reason")?,
            status: r.string("status")?,
            recruit_id: r.opt_i64("recruit_id")?,
            last_contact: r.opt_date("last_contact")?,
            due_on: r.opt_date("due_on")?,
            closed_note: r.opt_string("closed_note")?,
            version: r.i64("version")?,
        },
        r.string("path")?,
    ))
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct NewTalent {
    /// The organisation that tracks the person (a branch, or a committee for its subtree).
    pub org_id: i64,
    pub pool: String,
    pub channel: String,
    pub name: String,
    pub id_number: String,
    pub phone: String,
    pub work_unit: String,
    pub recommender: String,
    pub recommended_on: Option<NaiveDate>,
    /// Why the person is recommended (their merits).
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Contact {
    pub id: i64,
    pub talent_id: i64,
    pub done_on: NaiveDate,
    pub note: String,
    pub recorded_by: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct ContactInput {
    pub done_on: Option<NaiveDate>,
    pub note: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct TalentFilter {
    pub org_id: Option<i64>,
    pub pool: Option<String>,
    pub channel: Option<String>,
    /// tracking (default), applied, withdrawn, all
    pub status: Option<String>,
    /// `overdue`: follow-up overdue
    pub due: Option<String>,
    pub q: Option<String>,
    pub page: Option<i64>,
}

pub const PER_PAGE: i64 = 50;

// ---- store ----

async fn rules_of(path: &str, ctx: &Ctx) -> AppResult<RecruitRules> {
    Ok(crate::rules::effective::<RecruitRules>(&ctx.db, path)
        .await?
        .0)
}

pub async fn get(ctx: &Ctx, id: i64) -> AppResult<(Talent, String)> {
    let sql =
        format!("SELECT {COLUMNS} FROM talents t JOIN orgs o ON o.id = t.org_id WHERE t.id = $1");
    on_db!(&ctx.db, p => {
        match sqlx::query(&sql).bind(id).fetch_optional(p).await? {
            Some(r) => Ok(row(&r)?),
            None => Err(AppError::NotFound("人才库人员")),
        }
    })
}

async fn get_tx(tx: &mut Tx, id: i64) -> AppResult<Talent> {
    let sql =
        format!("SELECT {COLUMNS} FROM talents t JOIN orgs o ON o.id = t.org_id WHERE t.id = $1");
    on_tx!(tx, c => {
        match sqlx::query(&sql).bind(id).fetch_optional(&mut *c).await? {
            Some(r) => Ok(row(&r)?.0),
            None => Err(AppError::NotFound("人才库人员")),
        }
    })
}

/// Enters a recommended person into a pool.
pub async fn add(ctx: &Ctx, p: &Principal, input: &NewTalent) -> AppResult<Talent> {
    let mut c = crate::error::Checks::default();
    let name = input.name.trim();
    let (id_number, info, phone) =
        crate::member::rules::check_person(&mut c, name, &input.id_number, &input.phone);
    let phone = phone.as_str();
    c.check(
        CHANNELS.iter().any(|(k, _)| *k == input.channel),
        "channel",
        "请选择推荐渠道：组织推荐、个人自荐或网上推荐",
    );
    c.check(
        input.work_unit.trim().chars().count() <= 100,
        "work_unit",
        "工作单位不超过100字",
    );
    c.check(
        !input.recommender.trim().is_empty() && input.recommender.trim().chars().count() <= 50,
        "recommender",
        "请填写推荐人或推荐单位（50字以内）",
    );
    c.check(
        !input.reason.trim().is_empty() && input.reason.trim().chars().count() <= 1000,
        "reason",
        "请填写推荐理由（1000字以内）",
    );
    let today = ctx.clock.today();
    match input.recommended_on {
        None => c.add("recommended_on", "请填写推荐日期"),
        Some(d) if d > today => c.add("recommended_on", "日期不能晚于今天"),
        _ => {}
    }
    c.finish()?;
    let (Some(info), Some(on)) = (info, input.recommended_on) else {
        return Err(AppError::field("id_number", "身份证号码无效"));
    };
    let org = crate::org::store::get(&ctx.db, input.org_id)
        .await
        .map_err(|_| AppError::field("org_id", "请选择党组织"))?;
    let r = rules_of(&org.path, ctx).await?;
    check_pool(&input.pool, info.male, info.birth_date, on, &r)?;
    let id_idx = ctx.vault.blind_index("id", &id_number);
    crate::member::store::dupcheck_wait(ctx, Some(p.account_id))?;
    let mut tx = ctx.db.begin().await?;
    let (member, recruit, tracked) = on_tx!(&mut tx, c => {
        let m = sqlx::query("SELECT o.path FROM members m JOIN orgs o ON o.id = m.org_id WHERE m.id_idx = $1").bind(&id_idx).fetch_optional(&mut *c).await?
            .map(|r| r.string("path")).transpose()?;
        let rc = sqlx::query("SELECT o.path FROM recruits r JOIN orgs o ON o.id = r.org_id WHERE r.id_idx = $1 AND r.status = 'active'").bind(&id_idx).fetch_optional(&mut *c).await?
            .map(|r| r.string("path")).transpose()?;
        let t = sqlx::query("SELECT o.path FROM talents t JOIN orgs o ON o.id = t.org_id WHERE t.id_idx = $1 AND t.status = 'tracking'").bind(&id_idx).fetch_optional(&mut *c).await?
            .map(|r| r.string("path")).transpose()?;
        (m, rc, t)
    });
    // known outside the account's subtree: the neutral answer, counted
    if [&member, &recruit, &tracked]
        .iter()
        .any(|x| x.as_deref().is_some_and(|path| !p.in_scope(path)))
    {
        drop(tx);
        return Err(crate::member::store::dupcheck_hit(
            ctx,
            &p.actor(),
            "member.registered_elsewhere",
            "talent",
        )
        .await?);
    }
    let (member, recruit, tracked) = (member.is_some(), recruit.is_some(), tracked.is_some());
    if member {
        return Err(AppError::field("id_number", "此人已是党员"));
    }
    if recruit {
        return Err(AppError::field(
            "id_number",
            "此人已递交入党申请，在发展党员流程中",
        ));
    }
    if tracked {
        return Err(AppError::field("id_number", "此人已在人才库中"));
    }
    let now = ctx.clock.now();
    let id = tx.reserve_ids("talents", 1).await?[0];
    on_tx!(&mut tx, c => {
        sqlx::query("INSERT INTO talents (id, org_id, pool, channel, name, gender, birth_month, id_enc, id_idx, id_masked, phone_enc, phone_masked, key_version, work_unit, recommender, recommended_on, reason, status, due_on, created_at, updated_at) \
                     VALUES ($19, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 'tracking', $17, $18, $18)")
            .bind(org.id).bind(&input.pool).bind(&input.channel).bind(name)
            .bind(if info.male { "M" } else { "F" }).bind(crate::member::month_of(info.birth_date))
            .bind(ctx.vault.encrypt(&crate::crypto::aad("talents", "id_enc", id), &id_number)).bind(&id_idx).bind(mask_id_number(&id_number))
            .bind((!phone.is_empty()).then(|| ctx.vault.encrypt(&crate::crypto::aad("talents", "phone_enc", id), phone)))
            .bind((!phone.is_empty()).then(|| mask_phone(phone)))
            .bind(ctx.vault.key_version() as i64).bind(input.work_unit.trim()).bind(input.recommender.trim())
            .bind(on).bind(input.reason.trim()).bind(contact_due(on, &r)).bind(now).bind(id)
            .execute(&mut *c).await?;
    });
    let t = get_tx(&mut tx, id).await?;
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "talent.add",
            object_type: "talent",
            object_id: id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::to_value(&t).unwrap_or_default(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(t)
}

async fn bump(tx: &mut Tx, t: &Talent) -> AppResult<()> {
    let now = tx.now;
    let n = on_tx!(tx, c => {
        sqlx::query("UPDATE talents SET version = version + 1, updated_at = $1 WHERE id = $2 AND version = $3")
            .bind(now).bind(t.id).bind(t.version).execute(&mut *c).await?.rows_affected()
    });
    if n != 1 {
        return Err(AppError::Conflict(
            "该人员刚被他人更新，请刷新后重试".into(),
        ));
    }
    Ok(())
}

fn still_tracking(t: &Talent) -> AppResult<()> {
    if t.status != "tracking" {
        return Err(AppError::refused(
            "talent.closed",
            format!("该人员{}，不再跟踪培养", t.status_label()),
        ));
    }
    Ok(())
}

/// Records a follow-up (谈心谈话, 培养活动, 考察) and moves the next due date.
pub async fn add_contact(
    ctx: &Ctx,
    p: &Principal,
    id: i64,
    input: &ContactInput,
) -> AppResult<Contact> {
    let (t, path) = get(ctx, id).await?;
    still_tracking(&t)?;
    let note = input.note.trim();
    let mut c = crate::error::Checks::default();
    c.check(
        !note.is_empty() && note.chars().count() <= 2000,
        "note",
        "请填写跟踪培养情况（2000字以内）",
    );
    match input.done_on {
        None => c.add("done_on", "请填写日期"),
        Some(d) if d > ctx.clock.today() => c.add("done_on", "日期不能晚于今天"),
        Some(d) if d < t.recommended_on => c.add("done_on", "日期不能早于推荐日期"),
        _ => {}
    }
    c.finish()?;
    let on = input
        .done_on
        .ok_or_else(|| AppError::field("done_on", "请填写日期"))?;
    let r = rules_of(&path, ctx).await?;
    let mut tx = ctx.db.begin().await?;
    let last = t.last_contact.map_or(on, |l| l.max(on));
    let cid = on_tx!(&mut tx, c => {
        let cid = sqlx::query("INSERT INTO talent_contacts (talent_id, done_on, note, recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5) RETURNING id")
            .bind(id).bind(on).bind(note).bind(p.account_id).bind(ctx.clock.now()).fetch_one(&mut *c).await?.i64("id")?;
        sqlx::query("UPDATE talents SET last_contact = $1, due_on = $2 WHERE id = $3")
            .bind(last).bind(contact_due(last, &r)).bind(id).execute(&mut *c).await?;
        cid
    });
    bump(&mut tx, &t).await?;
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "talent.contact",
            object_type: "talent",
            object_id: id.to_string(),
            before: serde_json::json!({"last_contact": t.last_contact, "due_on": t.due_on}),
            after: serde_json::json!({"contact_id": cid, "done_on": on, "note": note, "due_on": contact_due(last, &r)}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Contact {
        id: cid,
        talent_id: id,
        done_on: on,
        note: note.to_string(),
        recorded_by: p.display_name.clone(),
    })
}

/// Takes a person out of the pool (moved away, declined, no longer suitable) with the reason.
pub async fn withdraw(ctx: &Ctx, p: &Principal, id: i64, reason: &str) -> AppResult<Talent> {
    let (t, _) = get(ctx, id).await?;
    still_tracking(&t)?;
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(AppError::field(
            "reason",
            "请写明退出人才库的原因（500字以内）",
        ));
    }
    let mut tx = ctx.db.begin().await?;
    on_tx!(&mut tx, c => {
        sqlx::query("UPDATE talents SET status = 'withdrawn', due_on = NULL, closed_note = $1 WHERE id = $2")
            .bind(reason).bind(id).execute(&mut *c).await?;
    });
    bump(&mut tx, &t).await?;
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "talent.withdraw",
            object_type: "talent",
            object_id: id.to_string(),
            before: serde_json::json!({"status": t.status}),
            after: serde_json::json!({"status": "withdrawn", "reason": reason}),
        },
    )
    .await?;
    let out = get_tx(&mut tx, id).await?;
    tx.commit().await?;
    Ok(out)
}

/// An application handed in by someone in a pool ends the tracking and links the two files
/// (called inside the application's transaction).
pub async fn link_application(
    tx: &mut Tx,
    actor: &Actor,
    id_idx: &str,
    recruit_id: i64,
) -> AppResult<()> {
    let now = tx.now;
    let ids = on_tx!(tx, c => {
        let rows = sqlx::query("SELECT id FROM talents WHERE id_idx = $1 AND status = 'tracking'")
            .bind(id_idx).fetch_all(&mut *c).await?;
        let ids = rows.iter().map(|r| r.i64("id")).collect::<DbResult<Vec<_>>>()?;
        for id in &ids {
            sqlx::query("UPDATE talents SET status = 'applied', recruit_id = $1, due_on = NULL, version = version + 1, updated_at = $2 WHERE id = $3")
                .bind(recruit_id).bind(now).bind(*id).execute(&mut *c).await?;
        }
        ids
    });
    for id in ids {
        audit::append(
            tx,
            actor,
            NewEntry {
                action: "talent.applied",
                object_type: "talent",
                object_id: id.to_string(),
                before: serde_json::json!({"status": "tracking"}),
                after: serde_json::json!({"status": "applied", "recruit_id": recruit_id}),
            },
        )
        .await?;
    }
    Ok(())
}

pub async fn contacts(ctx: &Ctx, id: i64) -> AppResult<Vec<Contact>> {
    on_db!(&ctx.db, p => {
        let rows = sqlx::query("SELECT c.id, c.talent_id, c.done_on, c.note, COALESCE(a.display_name, '') AS who FROM talent_contacts c LEFT JOIN accounts a ON a.id = c.recorded_by WHERE c.talent_id = $1 ORDER BY c.done_on DESC, c.id DESC")
            .bind(id).fetch_all(p).await?;
        Ok(rows.iter().map(|r| Ok(Contact {
            id: r.i64("id")?,
            talent_id: r.i64("talent_id")?,
            done_on: r.date("done_on")?,
            note: r.string("note")?,
            recorded_by: r.string("who")?,
        })).collect::<DbResult<Vec<_>>>()?)
    })
}

/// `pinyin`: the ids a pinyin search of `f.q` found ([`crate::member::pinyin::matching`]).
fn list_where(scope_path: &str, f: &TalentFilter, today: NaiveDate, pinyin: &[i64]) -> SqlBuilder {
    let mut b = SqlBuilder::subtree("o.path", scope_path);
    match f.status.as_deref() {
        Some("all") => {}
        Some(s) if STATUSES.iter().any(|(k, _)| *k == s) => {
            b.and(" AND t.status = ?", Val::Str(s.to_string()))
        }
        _ => b.and(" AND t.status = ?", Val::Str("tracking".into())),
    }
    if let Some(pool) = f
        .pool
        .as_deref()
        .filter(|v| POOLS.iter().any(|(k, _)| k == v))
    {
        b.and(" AND t.pool = ?", Val::Str(pool.to_string()));
    }
    if let Some(ch) = f
        .channel
        .as_deref()
        .filter(|v| CHANNELS.iter().any(|(k, _)| k == v))
    {
        b.and(" AND t.channel = ?", Val::Str(ch.to_string()));
    }
    if let Some(q) = f.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let like = format!("%{}%", crate::member::store::like_escape(q));
        crate::member::pinyin::name_or_ids(
            &mut b,
            "t.name LIKE ? ESCAPE '\\'",
            like,
            "t.id",
            pinyin,
        );
    }
    if f.due.as_deref() == Some("overdue") {
        b.and(" AND t.due_on < ?", Val::Date(today));
    }
    b
}

/// People in the pools under `scope_path`, the most overdue follow-up first.
pub async fn list(ctx: &Ctx, scope_path: &str, f: &TalentFilter) -> AppResult<(Vec<Talent>, i64)> {
    let pinyin = crate::member::pinyin::matching(
        &ctx.db,
        "SELECT t.id, t.name FROM talents t JOIN orgs o ON o.id = t.org_id WHERE o.path >= $1 AND o.path < $2",
        scope_path,
        f.q.as_deref().unwrap_or(""),
    )
    .await?;
    let b = list_where(scope_path, f, ctx.clock.today(), &pinyin);
    let page = f.page.unwrap_or(1).clamp(1, 100_000);
    let sql = format!(
        "SELECT {COLUMNS} FROM talents t JOIN orgs o ON o.id = t.org_id{} ORDER BY CASE WHEN t.due_on IS NULL THEN 1 ELSE 0 END, t.due_on, t.id LIMIT {PER_PAGE} OFFSET {}",
        b.sql,
        (page - 1) * PER_PAGE
    );
    let count_sql = format!(
        "SELECT COUNT(*) AS n FROM talents t JOIN orgs o ON o.id = t.org_id{}",
        b.sql
    );
    Ok(on_db!(&ctx.db, p => {
        let rows = bind_vals!(sqlx::query(&sql), &b.vals).fetch_all(p).await?;
        let total = bind_vals!(sqlx::query(&count_sql), &b.vals).fetch_one(p).await?.i64("n")?;
        (rows.iter().map(|r| row(r).map(|x| x.0)).collect::<DbResult<Vec<_>>>()?, total)
    }))
}

/// One cell of the pools × channels table.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Cell {
    pub pool: String,
    pub channel: String,
    pub tracking: i64,
    pub applied: i64,
    pub withdrawn: i64,
}

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Summary {
    /// Three pools × three channels, in the order of `POOLS` and `CHANNELS`.
    pub cells: Vec<Cell>,
    /// Follow-ups overdue.
    pub overdue: i64,
}

impl Summary {
    pub fn total(&self, status: &str) -> i64 {
        self.cells
            .iter()
            .map(|c| match status {
                "tracking" => c.tracking,
                "applied" => c.applied,
                _ => c.withdrawn,
            })
            .sum()
    }
}

/// [`summary_uncached`] as a heavy read (`crate::heavy`): bounded, shared by identical
/// concurrent requests, refused quickly when the server is full of them.
pub async fn summary(ctx: &Ctx, scope_path: &str) -> AppResult<Summary> {
    let key = format!("talent.summary|{scope_path}");
    ctx.heavy
        .run_cloned(&key, || summary_uncached(ctx, scope_path))
        .await
}

/// How many people each pool took through each channel, and where they stand.
async fn summary_uncached(ctx: &Ctx, scope_path: &str) -> AppResult<Summary> {
    let upper = path_upper(scope_path);
    let today = ctx.clock.today();
    let (rows, overdue) = on_db!(&ctx.db, p => {
        let rows = sqlx::query("SELECT t.pool, t.channel, t.status, COUNT(*) AS n FROM talents t JOIN orgs o ON o.id = t.org_id WHERE o.path >= $1 AND o.path < $2 GROUP BY t.pool, t.channel, t.status")
            .bind(scope_path).bind(&upper).fetch_all(p).await?;
        let rows = rows.iter().map(|r| Ok((r.string("pool")?, r.string("channel")?, r.string("status")?, r.i64("n")?))).collect::<DbResult<Vec<_>>>()?;
        let overdue = sqlx::query("SELECT COUNT(*) AS n FROM talents t JOIN orgs o ON o.id = t.org_id WHERE o.path >= $1 AND o.path < $2 AND t.status = 'tracking' AND t.due_on < $3")
            .bind(scope_path).bind(&upper).bind(today).fetch_one(p).await?.i64("n")?;
        (rows, overdue)
    });
    let mut cells = Vec::new();
    for (pool, _) in POOLS {
        for (channel, _) in CHANNELS {
            let mut cell = Cell {
                pool: pool.into(),
                channel: channel.into(),
                ..Default::default()
            };
            for (p, ch, st, n) in &rows {
                if p == pool && ch == channel {
                    match st.as_str() {
                        "tracking" => cell.tracking += n,
                        "applied" => cell.applied += n,
                        _ => cell.withdrawn += n,
                    }
                }
            }
            cells.push(cell);
        }
    }
    Ok(Summary { cells, overdue })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    fn code(r: Result<(), AppError>) -> &'static str {
        match r {
            Ok(()) => "ok",
            Err(e) => e.code(),
        }
    }

    #[test]
    fn pools_take_the_people_they_are_for() {
        let r = RecruitRules::default();
        let birth = d(1990, 6, 15);
        // youth: 35 on the recommendation day is in, the day after the 36th birthday is out
        assert_eq!(
            code(check_pool("youth", true, birth, d(2026, 6, 14), &r)),
            "ok"
        );
        assert_eq!(
            code(check_pool("youth", true, birth, d(2026, 6, 15), &r)),
            "talent.too_old_for_youth"
        );
        let older = RecruitRules {
            talent_youth_max_age: 40,
            ..Default::default()
        };
        assert_eq!(
            code(check_pool("youth", true, birth, d(2026, 6, 15), &older)),
            "ok"
        );
        // the minimum age: 14 on the day, not the day before
        let teen = d(2012, 3, 1);
        assert_eq!(
            code(check_pool("skilled", false, teen, d(2026, 3, 1), &r)),
            "ok"
        );
        assert_eq!(
            code(check_pool("skilled", false, teen, d(2026, 2, 28), &r)),
            "validation_failed"
        );
        // women only in the women's pool; any age
        assert_eq!(
            code(check_pool("women", true, birth, d(2026, 1, 1), &r)),
            "talent.women_only"
        );
        assert_eq!(
            code(check_pool("women", false, d(1970, 1, 1), d(2026, 1, 1), &r)),
            "ok"
        );
        assert_eq!(
            code(check_pool("elders", false, birth, d(2026, 1, 1), &r)),
            "validation_failed"
        );
    }

    #[test]
    fn follow_ups_fall_due_on_the_cadence() {
        let r = RecruitRules::default();
        assert_eq!(contact_due(d(2026, 1, 31), &r), d(2026, 4, 30));
        let monthly = RecruitRules {
            talent_contact_every_months: 1,
            ..Default::default()
        };
        assert_eq!(contact_due(d(2026, 1, 15), &monthly), d(2026, 2, 15));
    }
}
