//! Persistence and use cases of review campaigns. Every change runs in one transaction with
//! its audit entry; a rater's score is one row per rater and reporter, replaced (and counted)
//! until the meeting closes.

use super::{ReviewRules, Scheme, Shape, CAMPAIGN_STATUSES, CHECKLIST, REPORT_STATUSES};
use crate::audit::{self, Actor, NewEntry};
use crate::auth::{Perm, Principal};
use crate::db::{path_upper, DbResult, DbRow, Tx};
use crate::error::{AppError, AppResult};
use crate::org::{Org, OrgKind};
use crate::rules::label;
use crate::{on_db, on_tx, Ctx};
use chrono::{Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub async fn rules_for(ctx: &Ctx, path: &str) -> AppResult<ReviewRules> {
    Ok(crate::rules::effective::<ReviewRules>(&ctx.db, path)
        .await?
        .0)
}

// ---- schemes ----

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SchemeVersion {
    pub id: i64,
    pub org_id: i64,
    pub name: String,
    pub version: i64,
    pub scheme: Scheme,
}

fn scheme_row(r: &impl DbRow) -> DbResult<SchemeVersion> {
    Ok(SchemeVersion {
        id: r.i64("id")?,
        org_id: r.i64("org_id")?,
        name: r.string("name")?,
        version: r.i64("version")?,
        scheme: serde_json::from_str(&r.string("scheme_json")?).unwrap_or_default(),
    })
}

pub async fn scheme(ctx: &Ctx, id: i64) -> AppResult<SchemeVersion> {
    on_db!(&ctx.db, c => {
        match sqlx::query("SELECT id, org_id, name, version, scheme_json FROM review_schemes WHERE id = $1").bind(id).fetch_optional(c).await? {
            Some(r) => Ok(scheme_row(&r)?),
            None => Err(AppError::NotFound("评议方案")),
        }
    })
}

/// Schemes an organisation may use: its own and its ancestors', newest version first.
pub async fn schemes_for(ctx: &Ctx, org: &Org) -> AppResult<Vec<SchemeVersion>> {
    let ids = crate::org::path_ids(&org.path)
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",");
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // ids come from the stored path, never from input
    let sql = format!("SELECT id, org_id, name, version, scheme_json FROM review_schemes WHERE org_id IN ({ids}) ORDER BY name, version DESC");
    on_db!(&ctx.db, c => {
        let rows = sqlx::query(&sql).fetch_all(c).await?;
        Ok(rows.iter().map(scheme_row).collect::<DbResult<Vec<_>>>()?)
    })
}

/// Saves a scheme as the next version of `name` for the organisation (schemes in use are
/// never changed; a change is a new version).
pub async fn save_scheme(
    ctx: &Ctx,
    p: &Principal,
    org: &Org,
    name: &str,
    scheme: &Scheme,
) -> AppResult<SchemeVersion> {
    p.authorize(Perm::ReviewManage, Some(&org.path))?;
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 50 {
        return Err(AppError::field("name", "请填写方案名称（50字以内）"));
    }
    scheme
        .validate()
        .map_err(|m| AppError::field("scheme", m))?;
    let json = serde_json::to_string(scheme).map_err(|e| AppError::Internal(e.to_string()))?;
    let mut tx = ctx.db.begin().await?;
    let id = on_tx!(&mut tx, c => {
        let v = sqlx::query("SELECT COALESCE(MAX(version), 0) + 1 AS v FROM review_schemes WHERE org_id = $1 AND name = $2")
            .bind(org.id).bind(name).fetch_one(&mut *c).await?.i64("v")?;
        sqlx::query("INSERT INTO review_schemes (org_id, name, version, scheme_json, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
            .bind(org.id).bind(name).bind(v).bind(&json).bind(p.account_id).bind(ctx.clock.now())
            .fetch_one(&mut *c).await?.i64("id")?
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "review.scheme",
            object_type: "review_scheme",
            object_id: id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"org_id": org.id, "name": name, "scheme": scheme}),
        },
    )
    .await?;
    tx.commit().await?;
    self::scheme(ctx, id).await
}

// ---- campaigns ----

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Selection {
    /// Every committee of this level under the reviewing organisation reports.
    pub all_level: String,
    /// And `draw_n` drawn at random among the committees of this level.
    pub draw_level: Option<String>,
    pub draw_n: i64,
    /// The draw's seed: with the candidates, anyone can redo the draw. Within int64 so that a
    /// client can send it back (a seed stored before as a larger unsigned number reads as the
    /// same 64 bits, negative).
    #[serde(deserialize_with = "seed_bits")]
    pub seed: i64,
    pub candidates: Vec<i64>,
    pub drawn: Vec<i64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Campaign {
    pub id: i64,
    pub org_id: i64,
    pub org_name: String,
    pub year: i64,
    pub title: String,
    pub scheme_id: i64,
    /// The review levels of each report, in order.
    pub levels: Vec<String>,
    /// The organisation whose accounts do each level.
    pub level_orgs: Vec<i64>,
    pub selection: Selection,
    /// reports, meeting, closed
    pub status: String,
    /// review (述职评议) or contest (第一书记比武打擂: reporters are postings, no written
    /// report, no critiques or interviews; the top ones are named 擂主 at the close)
    pub kind: String,
    pub version: i64,
}

impl Campaign {
    pub fn status_label(&self) -> &'static str {
        label(&CAMPAIGN_STATUSES, &self.status)
    }
}

const CAMPAIGN_COLUMNS: &str = "c.id, c.org_id, o.name AS org_name, o.path, c.year, c.title, c.scheme_id, c.levels_json, c.level_orgs_json, c.selection_json, c.status, c.kind, c.version";

fn campaign_row(r: &impl DbRow) -> DbResult<(Campaign, String)> {
    Ok((
        Campaign {
            id: r.i64("id")?,
            org_id: r.i64("org_id")?,
            org_name: r.string("org_name")?,
            year: r.i64("year")?,
            title: r.string("title")?,
            scheme_id: r.i64("scheme_id")?,
            levels: serde_json::from_str(&r.string("levels_json")?).unwrap_or_default(),
            level_orgs: serde_json::from_str(&r.string("level_orgs_json")?).unwrap_or_default(),
            selection: serde_json::from_str(&r.string("selection_json")?).unwrap_or(Selection {
                all_level: String::new(),
                draw_level: None,
                draw_n: 0,
                seed: 0,
                candidates: Vec::new(),
                drawn: Vec::new(),
            }),
            status: r.string("status")?,
            kind: r.string("kind")?,
            version: r.i64("version")?,
        },
        r.string("path")?,
    ))
}

pub async fn campaign(ctx: &Ctx, id: i64) -> AppResult<(Campaign, String)> {
    let sql = format!("SELECT {CAMPAIGN_COLUMNS} FROM review_campaigns c JOIN orgs o ON o.id = c.org_id WHERE c.id = $1");
    on_db!(&ctx.db, c => {
        match sqlx::query(&sql).bind(id).fetch_optional(c).await? {
            Some(r) => Ok(campaign_row(&r)?),
            None => Err(AppError::NotFound("述职评议")),
        }
    })
}

/// Campaigns the account takes part in: run inside its subtree, or with a reporter there.
pub async fn campaigns(ctx: &Ctx, scope_path: &str) -> AppResult<Vec<Campaign>> {
    let upper = path_upper(scope_path);
    let sql = format!(
        "SELECT {CAMPAIGN_COLUMNS} FROM review_campaigns c JOIN orgs o ON o.id = c.org_id \
         WHERE (o.path >= $1 AND o.path < $2) OR EXISTS (SELECT 1 FROM review_reporters r JOIN orgs ro ON ro.id = r.org_id WHERE r.campaign_id = c.id AND ro.path >= $1 AND ro.path < $2) \
         ORDER BY c.year DESC, c.id DESC LIMIT 200"
    );
    on_db!(&ctx.db, c => {
        let rows = sqlx::query(&sql).bind(scope_path).bind(&upper).fetch_all(c).await?;
        Ok(rows.iter().map(|r| campaign_row(r).map(|x| x.0)).collect::<DbResult<Vec<_>>>()?)
    })
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct NewCampaign {
    pub org_id: i64,
    pub year: i64,
    pub title: String,
    /// A scheme of the organisation or an ancestor; the default scheme when absent.
    pub scheme_id: Option<i64>,
    /// The review levels of each report; three by default.
    pub levels: Vec<String>,
    /// An organisation level (`township`, `county`, `agency`, ...): all its committees report.
    pub all_level: String,
    pub draw_level: Option<String>,
    pub draw_n: i64,
    /// Given to redo a published draw (the seed a campaign shows); random otherwise.
    pub seed: Option<i64>,
    /// The organisation whose accounts do each level (the organiser or one of its ancestors).
    /// By default every level is the organiser's, and a level named 上级… is its parent's.
    pub level_orgs: Vec<i64>,
}

/// Reads a seed stored as a signed or (before) unsigned 64-bit number as its 64 bits.
fn seed_bits<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    v.as_i64()
        .or_else(|| v.as_u64().map(|u| u as i64))
        .ok_or_else(|| serde::de::Error::custom("seed"))
}

/// The default organisation of each level: the organiser, or its parent for a level named
/// 上级… (the seed's township reports: 县委组织部, 县委书记, then 市委组织部).
pub fn default_level_orgs(levels: &[String], org: &Org) -> Vec<i64> {
    levels
        .iter()
        .map(|l| {
            if l.starts_with("上级") {
                org.parent_id.unwrap_or(org.id)
            } else {
                org.id
            }
        })
        .collect()
}

pub const DEFAULT_LEVELS: [&str; 3] = ["组织部审核", "党委书记审核", "上级组织部审核"];

/// The units of a level under the organisation that report: the topmost Party organisations
/// of that level (a township's committee, a village's branch, an agency's Party group), not
/// the groups or branches nested inside one of them. In id order.
async fn units_at(ctx: &Ctx, org: &Org, level: &str) -> AppResult<Vec<(i64, String)>> {
    on_db!(&ctx.db, c => {
        let rows = sqlx::query("SELECT o.id, o.name FROM orgs o LEFT JOIN orgs p ON p.id = o.parent_id \
                                WHERE o.path > $1 AND o.path < $2 AND o.level = $3 AND o.kind <> $4 AND o.dissolved_at IS NULL \
                                AND (p.level IS NULL OR p.level <> $3) ORDER BY o.id")
            .bind(&org.path).bind(path_upper(&org.path)).bind(level).bind(OrgKind::Group.as_str())
            .fetch_all(c).await?;
        Ok(rows.iter().map(|r| Ok((r.i64("id")?, r.string("name")?))).collect::<DbResult<Vec<_>>>()?)
    })
}

/// Creates a campaign with its reporters: all units of `all_level` plus a reproducible draw
/// from `draw_level` (峄城 "7+3").
pub async fn create_campaign(ctx: &Ctx, p: &Principal, input: &NewCampaign) -> AppResult<Campaign> {
    let org = crate::org::store::get(&ctx.db, input.org_id)
        .await
        .map_err(|_| AppError::field("org_id", "请选择组织述职评议的党组织"))?;
    p.authorize(Perm::ReviewManage, Some(&org.path))?;
    let mut c = crate::error::Checks::default();
    let title = input.title.trim();
    c.check(
        !title.is_empty() && title.chars().count() <= 100,
        "title",
        "请填写标题（100字以内）",
    );
    c.check((2000..=2100).contains(&input.year), "year", "请填写年度");
    let levels: Vec<String> = if input.levels.iter().all(|l| l.trim().is_empty()) {
        DEFAULT_LEVELS.iter().map(|s| s.to_string()).collect()
    } else {
        input
            .levels
            .iter()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect()
    };
    c.check(
        (1..=5).contains(&levels.len()) && levels.iter().all(|l| l.chars().count() <= 30),
        "levels",
        "审核层级1至5级，每级名称30字以内",
    );
    c.check(
        (0..=50).contains(&input.draw_n),
        "draw_n",
        "随机抽取数0至50",
    );
    c.finish()?;
    let scheme_id = match input.scheme_id {
        Some(id) => {
            let s = scheme(ctx, id).await?;
            if !crate::org::path_ids(&org.path).contains(&s.org_id) {
                return Err(AppError::field("scheme_id", "只能使用本级或上级组织的方案"));
            }
            id
        }
        None => match schemes_for(ctx, &org).await?.first() {
            Some(s) => s.id,
            None => {
                save_scheme(ctx, p, &org, "默认方案", &Scheme::default())
                    .await?
                    .id
            }
        },
    };
    let all = units_at(ctx, &org, &input.all_level).await?;
    if all.is_empty() {
        return Err(AppError::field(
            "all_level",
            "该层级下没有党组织，无法确定述职人",
        ));
    }
    let level_orgs = if input.level_orgs.is_empty() {
        default_level_orgs(&levels, &org)
    } else {
        input.level_orgs.clone()
    };
    let ancestors = crate::org::path_ids(&org.path);
    if level_orgs.len() != levels.len() || level_orgs.iter().any(|o| !ancestors.contains(o)) {
        return Err(AppError::field(
            "level_orgs",
            "每一审核层级须指定一个党组织：组织述职评议的党组织或其上级",
        ));
    }
    // a non-negative int64, so that a client can send it back
    let seed = input
        .seed
        .unwrap_or_else(|| (rand::random::<u64>() >> 1) as i64);
    let (candidates, drawn) = match input.draw_level.as_deref().filter(|l| !l.is_empty()) {
        Some(level) if input.draw_n > 0 => {
            let pool: Vec<i64> = units_at(ctx, &org, level)
                .await?
                .into_iter()
                .map(|x| x.0)
                .filter(|id| !all.iter().any(|(a, _)| a == id))
                .collect();
            if (pool.len() as i64) < input.draw_n {
                return Err(AppError::field(
                    "draw_n",
                    format!("可抽取的党组织只有{}个", pool.len()),
                ));
            }
            let d = super::draw(&pool, input.draw_n as usize, seed as u64);
            (pool, d)
        }
        _ => (Vec::new(), Vec::new()),
    };
    let selection = Selection {
        all_level: input.all_level.clone(),
        draw_level: input.draw_level.clone().filter(|l| !l.is_empty()),
        draw_n: input.draw_n,
        seed,
        candidates,
        drawn: drawn.clone(),
    };
    let now = ctx.clock.now();
    let mut tx = ctx.db.begin().await?;
    let id = on_tx!(&mut tx, c => {
        let id = sqlx::query("INSERT INTO review_campaigns (org_id, year, title, scheme_id, levels_json, selection_json, status, created_by, created_at, updated_at, level_orgs_json) VALUES ($1, $2, $3, $4, $5, $6, 'reports', $7, $8, $8, $9) RETURNING id")
            .bind(org.id).bind(input.year).bind(title).bind(scheme_id)
            .bind(serde_json::to_string(&levels).unwrap_or_default())
            .bind(serde_json::to_string(&selection).unwrap_or_default())
            .bind(p.account_id).bind(now).bind(serde_json::to_string(&level_orgs).unwrap_or_default())
            .fetch_one(&mut *c).await?.i64("id")?;
        let reporters = all.iter().map(|(o, _)| (*o, "all")).chain(drawn.iter().map(|o| (*o, "draw")));
        for (o, by) in reporters {
            sqlx::query("INSERT INTO review_reporters (campaign_id, org_id, reporter_name, selected_by, report_status) VALUES ($1, $2, '', $3, 'draft')")
                .bind(id).bind(o).bind(by).execute(&mut *c).await?;
        }
        id
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "review.campaign",
            object_type: "review_campaign",
            object_id: id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"org_id": org.id, "year": input.year, "title": title, "scheme_id": scheme_id,
                "levels": levels, "level_orgs": level_orgs, "selection": selection}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(campaign(ctx, id).await?.0)
}

// ---- reporters and reports ----

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Reporter {
    pub id: i64,
    pub campaign_id: i64,
    pub org_id: i64,
    pub org_name: String,
    /// The secretary who reports.
    pub reporter_name: String,
    /// all, draw
    pub selected_by: String,
    pub achievements: String,
    pub problems: String,
    pub measures: String,
    /// draft, submitted, returned, approved
    pub report_status: String,
    /// The review level the report waits for (0-based).
    pub review_level: i64,
    pub veto_reason: Option<String>,
    pub affirm_reason: Option<String>,
    /// Result in tenths of a point, after any deduction.
    pub score_tenths: Option<i64>,
    pub deduction_tenths: Option<i64>,
    pub grade: Option<String>,
    pub rank: Option<i64>,
    pub shape: Shape,
    /// Figures the report cites.
    pub figures: i64,
    pub version: i64,
}

impl Reporter {
    pub fn status_label(&self) -> &'static str {
        label(&REPORT_STATUSES, &self.report_status)
    }
}

const REPORTER_COLUMNS: &str = "r.id, r.campaign_id, r.org_id, o.name AS org_name, o.path, r.reporter_name, r.selected_by, r.achievements, r.problems, r.measures, r.report_status, r.review_level, r.veto_reason, r.affirm_reason, r.score_tenths, r.deduction_tenths, r.grade, r.rank, r.version";

fn reporter_row(r: &impl DbRow) -> DbResult<(Reporter, String)> {
    let (a, p, m) = (
        r.string("achievements")?,
        r.string("problems")?,
        r.string("measures")?,
    );
    Ok((
        Reporter {
            id: r.i64("id")?,
            campaign_id: r.i64("campaign_id")?,
            org_id: r.i64("org_id")?,
            org_name: r.string("org_name")?,
            reporter_name: r.string("reporter_name")?,
            selected_by: r.string("selected_by")?,
            shape: Shape::of(&a, &p, &m),
            figures: super::count_figures(&a) + super::count_figures(&p) + super::count_figures(&m),
            achievements: a,
            problems: p,
            measures: m,
            report_status: r.string("report_status")?,
            review_level: r.i64("review_level")?,
            veto_reason: r.opt_string("veto_reason")?,
            affirm_reason: r.opt_string("affirm_reason")?,
            score_tenths: r.opt_i64("score_tenths")?,
            deduction_tenths: r.opt_i64("deduction_tenths")?,
            grade: r.opt_string("grade")?,
            rank: r.opt_i64("rank")?,
            version: r.i64("version")?,
        },
        r.string("path")?,
    ))
}

pub async fn reporters(ctx: &Ctx, campaign_id: i64) -> AppResult<Vec<Reporter>> {
    let sql = format!("SELECT {REPORTER_COLUMNS} FROM review_reporters r JOIN orgs o ON o.id = r.org_id WHERE r.campaign_id = $1 ORDER BY CASE WHEN r.rank IS NULL THEN 1 ELSE 0 END, r.rank, o.sort, r.org_id");
    on_db!(&ctx.db, c => {
        let rows = sqlx::query(&sql).bind(campaign_id).fetch_all(c).await?;
        Ok(rows.iter().map(|r| reporter_row(r).map(|x| x.0)).collect::<DbResult<Vec<_>>>()?)
    })
}

/// A reporter with the path of its organisation.
pub async fn reporter(ctx: &Ctx, id: i64) -> AppResult<(Reporter, String)> {
    let sql = format!("SELECT {REPORTER_COLUMNS} FROM review_reporters r JOIN orgs o ON o.id = r.org_id WHERE r.id = $1");
    on_db!(&ctx.db, c => {
        match sqlx::query(&sql).bind(id).fetch_optional(c).await? {
            Some(r) => Ok(reporter_row(&r)?),
            None => Err(AppError::NotFound("述职人")),
        }
    })
}

async fn bump_reporter(tx: &mut Tx, r: &Reporter) -> AppResult<()> {
    let n = on_tx!(tx, c => {
        sqlx::query("UPDATE review_reporters SET version = version + 1 WHERE id = $1 AND version = $2")
            .bind(r.id).bind(r.version).execute(&mut *c).await?.rows_affected()
    });
    if n != 1 {
        return Err(AppError::Conflict(
            "述职报告刚被他人更新，请刷新后重试".into(),
        ));
    }
    Ok(())
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct ReportInput {
    pub reporter_name: String,
    pub achievements: String,
    pub problems: String,
    pub measures: String,
    /// Submit for review (the shape rules apply); otherwise a draft is saved.
    pub submit: bool,
}

/// Saves (and optionally submits) the report of the caller's organisation.
pub async fn save_report(
    ctx: &Ctx,
    p: &Principal,
    reporter_id: i64,
    input: &ReportInput,
) -> AppResult<Reporter> {
    let (rep, path) = reporter(ctx, reporter_id).await?;
    p.authorize(Perm::ReviewReport, Some(&path))?;
    let (c, cpath) = campaign(ctx, rep.campaign_id).await?;
    if c.status != "reports" {
        return Err(AppError::refused(
            "review.reports_closed",
            "述职评议会已开始，报告不能再修改",
        ));
    }
    if rep.report_status == "submitted" || rep.report_status == "approved" {
        return Err(AppError::refused(
            "review.report_locked",
            format!("报告{}，不能修改", rep.status_label()),
        ));
    }
    let name = input.reporter_name.trim();
    let mut ch = crate::error::Checks::default();
    ch.check(
        !name.is_empty() && name.chars().count() <= 30,
        "reporter_name",
        "请填写述职人姓名",
    );
    for (v, f) in [
        (&input.achievements, "achievements"),
        (&input.problems, "problems"),
        (&input.measures, "measures"),
    ] {
        ch.check(v.chars().count() <= 20_000, f, "每部分不超过20000字");
    }
    ch.finish()?;
    let r = rules_for(ctx, &cpath).await?;
    let status = if input.submit {
        super::check_shape(
            &Shape::of(&input.achievements, &input.problems, &input.measures),
            &r,
        )?;
        "submitted"
    } else {
        rep.report_status.as_str()
    };
    let mut tx = ctx.db.begin().await?;
    bump_reporter(&mut tx, &rep).await?;
    on_tx!(&mut tx, c => {
        sqlx::query("UPDATE review_reporters SET reporter_name = $1, achievements = $2, problems = $3, measures = $4, report_status = $5, submitted_at = $6 WHERE id = $7")
            .bind(name).bind(input.achievements.trim()).bind(input.problems.trim()).bind(input.measures.trim())
            .bind(status).bind(input.submit.then(Utc::now)).bind(rep.id)
            .execute(&mut *c).await?;
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: if input.submit { "review.report_submit" } else { "review.report_save" },
            object_type: "review_reporter",
            object_id: rep.id.to_string(),
            before: serde_json::json!({"status": rep.report_status}),
            after: serde_json::json!({"status": status, "reporter_name": name,
                "digest": crate::crypto::sm3_hex(format!("{}\u{1f}{}\u{1f}{}", input.achievements.trim(), input.problems.trim(), input.measures.trim()).as_bytes())}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(reporter(ctx, rep.id).await?.0)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReportReview {
    pub id: i64,
    pub reporter_id: i64,
    pub level: i64,
    pub decision: String,
    pub comments: String,
    pub checklist: BTreeMap<String, bool>,
    pub reviewer: String,
    pub at: chrono::DateTime<Utc>,
}

pub async fn report_reviews(ctx: &Ctx, reporter_id: i64) -> AppResult<Vec<ReportReview>> {
    on_db!(&ctx.db, c => {
        let rows = sqlx::query("SELECT id, reporter_id, level, decision, comments, checklist_json, reviewer, at FROM review_report_reviews WHERE reporter_id = $1 ORDER BY id")
            .bind(reporter_id).fetch_all(c).await?;
        Ok(rows.iter().map(|r| Ok(ReportReview {
            id: r.i64("id")?,
            reporter_id: r.i64("reporter_id")?,
            level: r.i64("level")?,
            decision: r.string("decision")?,
            comments: r.string("comments")?,
            checklist: serde_json::from_str(&r.string("checklist_json")?).unwrap_or_default(),
            reviewer: r.string("reviewer")?,
            at: r.ts("at")?,
        })).collect::<DbResult<Vec<_>>>()?)
    })
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct ReviewInput {
    /// approve, return
    pub decision: String,
    pub comments: String,
    /// The four conditions (`problems_found`, `causes_analysed`, `measures_solid`,
    /// `materials_true`): all must hold to approve.
    pub checklist: BTreeMap<String, bool>,
    /// The comment names a problem for the rectification ledger.
    pub as_problem: bool,
}

/// One level's review of a submitted report: approved (to the next level, or approved at the
/// last) or returned with comments (the report comes back to the same level).
pub async fn review_report(
    ctx: &Ctx,
    p: &Principal,
    reporter_id: i64,
    input: &ReviewInput,
) -> AppResult<Reporter> {
    let (rep, _) = reporter(ctx, reporter_id).await?;
    let (c, cpath) = campaign(ctx, rep.campaign_id).await?;
    p.authorize(Perm::ReviewManage, Some(&cpath))?;
    if rep.report_status != "submitted" {
        return Err(AppError::refused(
            "review.not_submitted",
            format!("报告{}，没有待审核的内容", rep.status_label()),
        ));
    }
    let comments = input.comments.trim();
    if comments.chars().count() > 2000 {
        return Err(AppError::field("comments", "审核意见不超过2000字"));
    }
    let all_hold = CHECKLIST
        .iter()
        .all(|(k, _)| input.checklist.get(*k).copied().unwrap_or(false));
    let level = rep.review_level;
    let level_name = c.levels.get(level as usize).cloned().unwrap_or_default();
    // each level by an account of its own organisation, and no account at two levels
    let level_org = level_org(ctx, &c, level).await?;
    if p.org_id != level_org.id {
        return Err(AppError::Forbidden(format!(
            "第{}级“{}”由{}的账号审核",
            level + 1,
            level_name,
            level_org.name
        )));
    }
    let earlier = on_db!(&ctx.db, x => {
        sqlx::query("SELECT level FROM review_report_reviews WHERE reporter_id = $1 AND account_id = $2 AND decision = 'approve' AND level <> $3 ORDER BY id LIMIT 1")
            .bind(rep.id).bind(p.account_id).bind(level).fetch_optional(x).await?
            .map(|r| r.i64("level")).transpose()?
    });
    if let Some(l) = earlier.filter(|_| input.decision == "approve") {
        return Err(AppError::refused(
            "review.same_reviewer",
            format!(
                "本账号已在第{}级“{}”审核通过该报告，同一报告的各级审核须由不同的人进行",
                l + 1,
                c.levels.get(l as usize).cloned().unwrap_or_default()
            ),
        ));
    }
    let (status, next_level) = match input.decision.as_str() {
        "approve" => {
            if !all_hold {
                let missing: Vec<&str> = CHECKLIST
                    .iter()
                    .filter(|(k, _)| !input.checklist.get(*k).copied().unwrap_or(false))
                    .map(|(_, l)| *l)
                    .collect();
                return Err(AppError::refused(
                    "review.checklist",
                    format!(
                        "问题找不准、原因剖析不深、整改措施不实、述职材料不真的不开会：未确认{}，请退回修改",
                        missing.join("、")
                    ),
                ));
            }
            if level + 1 >= c.levels.len() as i64 {
                ("approved", level + 1)
            } else {
                ("submitted", level + 1)
            }
        }
        "return" => {
            if comments.is_empty() {
                return Err(AppError::field("comments", "退回须写明修改意见"));
            }
            ("returned", level)
        }
        _ => return Err(AppError::field("decision", "请选择通过或退回")),
    };
    let now = ctx.clock.now();
    let mut tx = ctx.db.begin().await?;
    bump_reporter(&mut tx, &rep).await?;
    on_tx!(&mut tx, c => {
        sqlx::query("UPDATE review_reporters SET report_status = $1, review_level = $2 WHERE id = $3")
            .bind(status).bind(next_level).bind(rep.id).execute(&mut *c).await?;
        sqlx::query("INSERT INTO review_report_reviews (reporter_id, level, decision, comments, checklist_json, account_id, reviewer, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(rep.id).bind(level).bind(&input.decision).bind(comments)
            .bind(serde_json::to_string(&input.checklist).unwrap_or_default())
            .bind(p.account_id).bind(format!("{}（{}）", p.display_name, level_name)).bind(now)
            .execute(&mut *c).await?;
        if input.as_problem && !comments.is_empty() {
            sqlx::query("INSERT INTO review_critiques (reporter_id, content, is_problem, origin, account_id, author, at) VALUES ($1, $2, $3, 'report_review', $4, $5, $6)")
                .bind(rep.id).bind(comments).bind(true).bind(p.account_id).bind(&p.display_name).bind(now)
                .execute(&mut *c).await?;
        }
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "review.report_review",
            object_type: "review_reporter",
            object_id: rep.id.to_string(),
            before: serde_json::json!({"status": rep.report_status, "level": level}),
            after: serde_json::json!({"status": status, "level": next_level, "decision": input.decision,
                "level_name": level_name, "comments": comments, "checklist": input.checklist}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(reporter(ctx, rep.id).await?.0)
}

/// The organisation whose accounts do `level` of the campaign's reviews.
pub async fn level_org(ctx: &Ctx, c: &Campaign, level: i64) -> AppResult<Org> {
    let id = match c.level_orgs.get(level as usize) {
        Some(id) => *id,
        None => {
            let org = crate::org::store::get(&ctx.db, c.org_id).await?;
            default_level_orgs(&c.levels, &org)
                .get(level as usize)
                .copied()
                .unwrap_or(org.id)
        }
    };
    crate::org::store::get(&ctx.db, id).await
}

// ---- raters ----

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Rater {
    pub id: i64,
    pub campaign_id: i64,
    pub name: String,
    /// The scheme's group key.
    pub grp: String,
    pub unit: String,
}

fn rater_row(r: &impl DbRow) -> DbResult<Rater> {
    Ok(Rater {
        id: r.i64("id")?,
        campaign_id: r.i64("campaign_id")?,
        name: r.string("name")?,
        grp: r.string("grp")?,
        unit: r.string("unit")?,
    })
}

pub async fn raters(ctx: &Ctx, campaign_id: i64) -> AppResult<Vec<Rater>> {
    on_db!(&ctx.db, c => {
        let rows = sqlx::query("SELECT id, campaign_id, name, grp, unit FROM review_raters WHERE campaign_id = $1 ORDER BY grp, id")
            .bind(campaign_id).fetch_all(c).await?;
        Ok(rows.iter().map(rater_row).collect::<DbResult<Vec<_>>>()?)
    })
}

/// The alphabet of rater codes: no 0/O, 1/I/L, easy to read off a slip.
const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";

pub fn normalise_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn code_hash(code: &str) -> String {
    crate::crypto::sm3_hex(format!("rater:{}", normalise_code(code)).as_bytes())
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct NewRater {
    pub name: String,
    /// A group key of the scheme (`leaders`, `members`, `reps`, `public`, ...).
    pub grp: String,
    /// Unit or village, printed next to the name.
    pub unit: String,
}

/// Registers a rater by real name and returns the code they score with (shown once).
pub async fn register_rater(
    ctx: &Ctx,
    p: &Principal,
    campaign_id: i64,
    input: &NewRater,
) -> AppResult<(Rater, String)> {
    let (c, cpath) = campaign(ctx, campaign_id).await?;
    p.authorize(Perm::ReviewManage, Some(&cpath))?;
    if c.status == "closed" {
        return Err(AppError::refused("review.closed", "述职评议已结束"));
    }
    let sc = scheme(ctx, c.scheme_id).await?.scheme;
    let name = input.name.trim();
    let mut ch = crate::error::Checks::default();
    ch.check(
        !name.is_empty() && name.chars().count() <= 30,
        "name",
        "请填写评议人真实姓名",
    );
    ch.check(sc.group(&input.grp).is_some(), "grp", "请选择评议人类别");
    ch.check(
        input.unit.trim().chars().count() <= 60,
        "unit",
        "单位不超过60字",
    );
    ch.finish()?;
    let code: String = {
        let mut rng = rand::thread_rng();
        (0..10)
            .map(|_| {
                let i = rand::Rng::gen_range(&mut rng, 0..CODE_ALPHABET.len());
                CODE_ALPHABET[i] as char
            })
            .collect()
    };
    let mut tx = ctx.db.begin().await?;
    let id = on_tx!(&mut tx, cx => {
        sqlx::query("INSERT INTO review_raters (campaign_id, name, grp, unit, code_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
            .bind(c.id).bind(name).bind(&input.grp).bind(input.unit.trim()).bind(code_hash(&code)).bind(ctx.clock.now())
            .fetch_one(&mut *cx).await?.i64("id")?
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "review.rater",
            object_type: "review_campaign",
            object_id: c.id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"rater_id": id, "name": name, "grp": input.grp, "unit": input.unit.trim()}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok((
        Rater {
            id,
            campaign_id: c.id,
            name: name.to_string(),
            grp: input.grp.clone(),
            unit: input.unit.trim().to_string(),
        },
        format!("{}-{}-{}", &code[..4], &code[4..8], &code[8..]),
    ))
}

/// The rater a code belongs to, with the campaign.
pub async fn rater_by_code(ctx: &Ctx, code: &str) -> AppResult<(Rater, Campaign)> {
    let h = code_hash(code);
    let r = on_db!(&ctx.db, c => {
        match sqlx::query("SELECT id, campaign_id, name, grp, unit FROM review_raters WHERE code_hash = $1").bind(&h).fetch_optional(c).await? {
            Some(r) => rater_row(&r)?,
            None => return Err(AppError::NotFound("评议码")),
        }
    });
    let (c, _) = campaign(ctx, r.campaign_id).await?;
    Ok((r, c))
}

/// Opens the meeting: every report approved, raters registered with enough representatives
/// and public.
pub async fn open_meeting(ctx: &Ctx, p: &Principal, campaign_id: i64) -> AppResult<Campaign> {
    let (c, cpath) = campaign(ctx, campaign_id).await?;
    p.authorize(Perm::ReviewManage, Some(&cpath))?;
    if c.status != "reports" {
        return Err(AppError::refused(
            "review.not_reports",
            format!("述职评议{}", c.status_label()),
        ));
    }
    let reps = reporters(ctx, c.id).await?;
    let waiting: Vec<String> = reps
        .iter()
        .filter(|r| r.report_status != "approved")
        .map(|r| format!("{}（{}）", r.org_name, r.status_label()))
        .collect();
    if !waiting.is_empty() {
        return Err(AppError::refused(
            "review.reports_pending",
            format!("述职报告未全部审核通过，不能开会：{}", waiting.join("、")),
        ));
    }
    let mut groups: BTreeMap<String, i64> = BTreeMap::new();
    for r in raters(ctx, c.id).await? {
        *groups.entry(r.grp).or_insert(0) += 1;
    }
    let r = rules_for(ctx, &cpath).await?;
    super::check_raters(&groups, &r)?;
    let mut tx = ctx.db.begin().await?;
    let now = ctx.clock.now();
    let n = on_tx!(&mut tx, cx => {
        sqlx::query("UPDATE review_campaigns SET status = 'meeting', opened_at = $1, version = version + 1, updated_at = $1 WHERE id = $2 AND status = 'reports' AND version = $3")
            .bind(now).bind(c.id).bind(c.version).execute(&mut *cx).await?.rows_affected()
    });
    if n != 1 {
        return Err(AppError::Conflict(
            "述职评议刚被他人更新，请刷新后重试".into(),
        ));
    }
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "review.open",
            object_type: "review_campaign",
            object_id: c.id.to_string(),
            before: serde_json::json!({"status": "reports"}),
            after: serde_json::json!({"status": "meeting", "detail": {"raters": groups}}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(campaign(ctx, c.id).await?.0)
}

// ---- scoring ----

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
#[schema(as = ReviewScoreInput)]
pub struct ScoreInput {
    pub reporter_id: i64,
    /// Indicator key → level key, for every indicator of the scheme.
    pub answers: BTreeMap<String, String>,
    pub comment: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Score {
    pub id: i64,
    pub rater_id: i64,
    pub reporter_id: i64,
    pub answers: BTreeMap<String, String>,
    pub total_tenths: i64,
    pub comment: String,
    /// How many times the rater changed it.
    pub revisions: i64,
}

fn score_row(r: &impl DbRow) -> DbResult<Score> {
    Ok(Score {
        id: r.i64("id")?,
        rater_id: r.i64("rater_id")?,
        reporter_id: r.i64("reporter_id")?,
        answers: serde_json::from_str(&r.string("answers_json")?).unwrap_or_default(),
        total_tenths: r.i64("total_tenths")?,
        comment: r.string("comment")?,
        revisions: r.i64("revisions")?,
    })
}

pub async fn scores_of_rater(ctx: &Ctx, rater_id: i64) -> AppResult<Vec<Score>> {
    on_db!(&ctx.db, c => {
        let rows = sqlx::query("SELECT id, rater_id, reporter_id, answers_json, total_tenths, comment, revisions FROM review_scores WHERE rater_id = $1")
            .bind(rater_id).fetch_all(c).await?;
        Ok(rows.iter().map(score_row).collect::<DbResult<Vec<_>>>()?)
    })
}

/// Comments raters left on a reporter (for the reviewer to mark as problems).
pub async fn comments_on(ctx: &Ctx, reporter_id: i64) -> AppResult<Vec<(i64, String, String)>> {
    on_db!(&ctx.db, c => {
        let rows = sqlx::query("SELECT s.id, s.comment, r.grp FROM review_scores s JOIN review_raters r ON r.id = s.rater_id WHERE s.reporter_id = $1 AND s.comment <> '' ORDER BY s.id")
            .bind(reporter_id).fetch_all(c).await?;
        Ok(rows.iter().map(|r| Ok((r.i64("id")?, r.string("comment")?, r.string("grp")?))).collect::<DbResult<Vec<_>>>()?)
    })
}

/// A rater's score of one reporter: one per rater and reporter, replaced until the meeting
/// closes. `actor` is the rater (by code) or the staff entering a paper ballot.
pub async fn submit_score(
    ctx: &Ctx,
    actor: &Actor,
    rater: &Rater,
    input: &ScoreInput,
) -> AppResult<Score> {
    let (c, _) = campaign(ctx, rater.campaign_id).await?;
    if c.status != "meeting" {
        return Err(AppError::refused(
            "review.not_meeting",
            if c.status == "closed" {
                "述职评议会已结束，不能再评分"
            } else {
                "述职评议会尚未开始"
            },
        ));
    }
    let (rep, _) = reporter(ctx, input.reporter_id).await?;
    if rep.campaign_id != c.id {
        return Err(AppError::NotFound("述职人"));
    }
    let sc = scheme(ctx, c.scheme_id).await?.scheme;
    let total = super::score_total(&input.answers, &sc)?;
    let comment = input.comment.trim();
    if comment.chars().count() > 500 {
        return Err(AppError::field("comment", "意见建议不超过500字"));
    }
    let answers = serde_json::to_string(&input.answers).unwrap_or_default();
    let now = ctx.clock.now();
    let mut tx = ctx.db.begin().await?;
    // PostgreSQL: share-lock the campaign row, so a close waits for this score (or this score
    // sees the close). SQLite: the write below takes the database's write lock first.
    if let crate::db::TxConn::Postgres(t) = &mut tx.conn {
        let st = sqlx::query("SELECT status FROM review_campaigns WHERE id = $1 FOR SHARE")
            .bind(c.id)
            .fetch_one(&mut **t)
            .await
            .map_err(crate::db::DbError::from)?
            .string("status")?;
        if st != "meeting" {
            return Err(AppError::refused(
                "review.not_meeting",
                "述职评议会已结束，不能再评分",
            ));
        }
    }
    let s = on_tx!(&mut tx, cx => {
        let r = sqlx::query("INSERT INTO review_scores (campaign_id, rater_id, reporter_id, answers_json, total_tenths, comment, submitted_at, revisions) VALUES ($1, $2, $3, $4, $5, $6, $7, 0) \
                             ON CONFLICT (rater_id, reporter_id) DO UPDATE SET answers_json = excluded.answers_json, total_tenths = excluded.total_tenths, comment = excluded.comment, submitted_at = excluded.submitted_at, revisions = review_scores.revisions + 1 \
                             RETURNING id, rater_id, reporter_id, answers_json, total_tenths, comment, revisions")
            .bind(c.id).bind(rater.id).bind(rep.id).bind(&answers).bind(total).bind(comment).bind(now)
            .fetch_one(&mut *cx).await?;
        score_row(&r)?
    });
    // the meeting may have closed meanwhile: the score must not land after the results
    let still = on_tx!(&mut tx, cx => {
        sqlx::query("SELECT status FROM review_campaigns WHERE id = $1").bind(c.id).fetch_one(&mut *cx).await?.string("status")?
    });
    if still != "meeting" {
        return Err(AppError::refused(
            "review.not_meeting",
            "述职评议会已结束，不能再评分",
        ));
    }
    audit::append(
        &mut tx,
        actor,
        NewEntry {
            action: "review.score",
            object_type: "review_reporter",
            object_id: rep.id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"rater_id": rater.id, "answers": input.answers, "total_tenths": total, "comment": comment, "revisions": s.revisions}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(s)
}

// ---- critiques and decisions ----

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Critique {
    pub id: i64,
    pub reporter_id: i64,
    pub content: String,
    pub is_problem: bool,
    /// critique, report_review, rater_comment
    pub origin: String,
    pub author: String,
    /// The rectification item it became when the meeting closed.
    pub item_id: Option<i64>,
}

pub async fn critiques(ctx: &Ctx, campaign_id: i64) -> AppResult<Vec<Critique>> {
    on_db!(&ctx.db, c => {
        let rows = sqlx::query("SELECT k.id, k.reporter_id, k.content, k.is_problem, k.origin, k.author, k.item_id FROM review_critiques k JOIN review_reporters r ON r.id = k.reporter_id WHERE r.campaign_id = $1 ORDER BY k.id")
            .bind(campaign_id).fetch_all(c).await?;
        Ok(rows.iter().map(|r| Ok(Critique {
            id: r.i64("id")?,
            reporter_id: r.i64("reporter_id")?,
            content: r.string("content")?,
            is_problem: r.bool("is_problem")?,
            origin: r.string("origin")?,
            author: r.string("author")?,
            item_id: r.opt_i64("item_id")?,
        })).collect::<DbResult<Vec<_>>>()?)
    })
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct CritiqueInput {
    pub content: String,
    /// Goes to the rectification ledger when the meeting closes (default true).
    pub is_problem: Option<bool>,
    /// Taken from a rater's comment (its score id).
    pub from_score: Option<i64>,
}

/// The reviewing secretary's critique (点评) of a reporter: a key problem, by default also an
/// item for the rectification ledger.
pub async fn add_critique(
    ctx: &Ctx,
    p: &Principal,
    reporter_id: i64,
    input: &CritiqueInput,
) -> AppResult<Critique> {
    let (rep, _) = reporter(ctx, reporter_id).await?;
    let (c, cpath) = campaign(ctx, rep.campaign_id).await?;
    p.authorize(Perm::ReviewManage, Some(&cpath))?;
    if c.kind == "contest" {
        return Err(AppError::refused(
            "review.contest_no_critique",
            "比武打擂不作点评，问题不进入整改台账",
        ));
    }
    if c.status != "meeting" {
        return Err(AppError::refused(
            "review.not_meeting",
            "点评在述职评议会上进行",
        ));
    }
    let (content, origin) = match input.from_score {
        Some(sid) => {
            let found = comments_on(ctx, rep.id)
                .await?
                .into_iter()
                .find(|(i, _, _)| *i == sid);
            match found {
                Some((_, text, _)) => (text, "rater_comment"),
                None => return Err(AppError::field("from_score", "没有这条评议意见")),
            }
        }
        None => (input.content.trim().to_string(), "critique"),
    };
    if content.is_empty() || content.chars().count() > 1000 {
        return Err(AppError::field("content", "请填写点评的问题（1000字以内）"));
    }
    let is_problem = input.is_problem.unwrap_or(true);
    let now = ctx.clock.now();
    let mut tx = ctx.db.begin().await?;
    let id = on_tx!(&mut tx, cx => {
        sqlx::query("INSERT INTO review_critiques (reporter_id, content, is_problem, origin, account_id, author, at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id")
            .bind(rep.id).bind(&content).bind(is_problem).bind(origin).bind(p.account_id).bind(&p.display_name).bind(now)
            .fetch_one(&mut *cx).await?.i64("id")?
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "review.critique",
            object_type: "review_reporter",
            object_id: rep.id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"critique_id": id, "content": content, "is_problem": is_problem, "origin": origin}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Critique {
        id,
        reporter_id: rep.id,
        content,
        is_problem,
        origin: origin.into(),
        author: p.display_name.clone(),
        item_id: None,
    })
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct DecisionInput {
    /// veto (一票否定), affirm (一票肯定), clear
    pub kind: String,
    pub reason: String,
}

/// Records 一票否定 or 一票肯定 for a reporter, with its reason (or clears both).
pub async fn decide(
    ctx: &Ctx,
    p: &Principal,
    reporter_id: i64,
    input: &DecisionInput,
) -> AppResult<Reporter> {
    let (rep, _) = reporter(ctx, reporter_id).await?;
    let (c, cpath) = campaign(ctx, rep.campaign_id).await?;
    p.authorize(Perm::ReviewManage, Some(&cpath))?;
    if c.status == "closed" {
        return Err(AppError::refused("review.closed", "述职评议已结束"));
    }
    let reason = input.reason.trim();
    let (veto, affirm) = match input.kind.as_str() {
        "veto" | "affirm" if reason.is_empty() || reason.chars().count() > 500 => {
            return Err(AppError::field(
                "reason",
                "请写明理由（500字以内），如重大事故、突出贡献",
            ))
        }
        "veto" => (Some(reason), rep.affirm_reason.as_deref()),
        "affirm" => (rep.veto_reason.as_deref(), Some(reason)),
        "clear" => (None, None),
        _ => return Err(AppError::field("kind", "请选择一票否定或一票肯定")),
    };
    let mut tx = ctx.db.begin().await?;
    bump_reporter(&mut tx, &rep).await?;
    on_tx!(&mut tx, cx => {
        sqlx::query("UPDATE review_reporters SET veto_reason = $1, affirm_reason = $2 WHERE id = $3")
            .bind(veto).bind(affirm).bind(rep.id).execute(&mut *cx).await?;
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "review.decision",
            object_type: "review_reporter",
            object_id: rep.id.to_string(),
            before: serde_json::json!({"veto": rep.veto_reason, "affirm": rep.affirm_reason}),
            after: serde_json::json!({"kind": input.kind, "veto": veto, "affirm": affirm}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(reporter(ctx, rep.id).await?.0)
}

// ---- closing and results ----

/// Closes the meeting: every reporter critiqued enough, results computed (weighted by rater
/// group, the rectification penalty deducted, decisions applied, graded and ranked), the
/// bottom ones given an interview, every problem entered in the rectification ledger — all in
/// one transaction.
pub async fn close_meeting(ctx: &Ctx, p: &Principal, campaign_id: i64) -> AppResult<Campaign> {
    let (c, cpath) = campaign(ctx, campaign_id).await?;
    p.authorize(Perm::ReviewManage, Some(&cpath))?;
    if c.status != "meeting" {
        return Err(AppError::refused(
            "review.not_meeting",
            format!("述职评议{}", c.status_label()),
        ));
    }
    let r = rules_for(ctx, &cpath).await?;
    let reps = reporters(ctx, c.id).await?;
    let crits = critiques(ctx, c.id).await?;
    let counts: Vec<(String, i64)> = reps
        .iter()
        .map(|x| {
            (
                x.org_name.clone(),
                crits
                    .iter()
                    .filter(|k| k.reporter_id == x.id && k.origin != "report_review")
                    .count() as i64,
            )
        })
        .collect();
    let contest = c.kind == "contest";
    if !contest {
        super::check_critiques(&counts, &r)?;
    }
    let sc = scheme(ctx, c.scheme_id).await?.scheme;
    let rect_rules = crate::rectification::store::rules_for(ctx, &cpath).await?;
    let mut deductions = BTreeMap::new();
    if r.deduct_overdue && !contest {
        for rep in &reps {
            let path = crate::org::store::get(&ctx.db, rep.org_id).await?.path;
            let n = crate::rectification::store::overdue_in_year(ctx, &path, c.year as i32).await?;
            deductions.insert(rep.id, crate::rectification::penalty(n, &rect_rules) * 10);
        }
    }
    // The campaign leaves `meeting` first: from then on no score can land (a score takes the
    // campaign row before writing), and the scores read below are all there will be.
    let mut tx = ctx.db.begin().await?;
    let now = ctx.clock.now();
    let n = on_tx!(&mut tx, cx => {
        sqlx::query("UPDATE review_campaigns SET status = 'closed', closed_at = $1, version = version + 1, updated_at = $1 WHERE id = $2 AND status = 'meeting' AND version = $3")
            .bind(now).bind(c.id).bind(c.version).execute(&mut *cx).await?.rows_affected()
    });
    if n != 1 {
        return Err(AppError::Conflict(
            "述职评议刚被他人更新，请刷新后重试".into(),
        ));
    }
    // every score with its rater's group
    let rows = on_tx!(&mut tx, cx => {
        let rows = sqlx::query("SELECT s.reporter_id, s.total_tenths, r.grp FROM review_scores s JOIN review_raters r ON r.id = s.rater_id WHERE s.campaign_id = $1")
            .bind(c.id).fetch_all(&mut *cx).await?;
        rows.iter().map(|r| Ok((r.i64("reporter_id")?, r.i64("total_tenths")?, r.string("grp")?))).collect::<DbResult<Vec<_>>>()?
    });
    let mut results = Vec::new();
    for rep in &reps {
        let mut by: BTreeMap<String, Vec<i64>> = BTreeMap::new();
        for (rid, t, g) in &rows {
            if *rid == rep.id {
                by.entry(g.clone()).or_default().push(*t);
            }
        }
        let raw = super::aggregate(&by, &sc).unwrap_or(0);
        let deduction = deductions.get(&rep.id).copied().unwrap_or(0);
        let score = (raw - deduction).max(0);
        results.push((rep, score, deduction));
    }
    let ranks = super::rank(
        &results
            .iter()
            .map(|(rep, s, _)| (rep.id, *s, rep.veto_reason.is_some()))
            .collect::<Vec<_>>(),
    );
    let today = ctx.clock.today();
    for (rep, score, deduction) in &results {
        let rank = ranks.iter().find(|(id, _)| *id == rep.id).map(|(_, r)| *r);
        let g = super::final_grade(
            *score,
            rep.veto_reason.is_some(),
            rep.affirm_reason.is_some(),
            &sc,
        );
        on_tx!(&mut tx, cx => {
            sqlx::query("UPDATE review_reporters SET score_tenths = $1, deduction_tenths = $2, grade = $3, rank = $4, version = version + 1 WHERE id = $5")
                .bind(*score).bind(*deduction).bind(&g).bind(rank).bind(rep.id).execute(&mut *cx).await?;
        });
    }
    // every problem into the rectification ledger, linked back (a contest has none)
    for k in crits.iter().filter(|k| k.is_problem && !contest) {
        let Some(rep) = reps.iter().find(|x| x.id == k.reporter_id) else {
            continue;
        };
        let item = crate::rectification::store::NewItem {
            org_id: rep.org_id,
            supervisor_id: Some(c.org_id),
            source: "review".into(),
            source_ref: Some(format!("review:{}:{}", c.id, rep.id)),
            source_note: c.title.clone(),
            owner: if rep.reporter_name.is_empty() {
                format!("{}书记", rep.org_name)
            } else {
                rep.reporter_name.clone()
            },
            problem: k.content.clone(),
            measures: "对照点评意见制定整改措施，明确时限，逐项销号".into(),
            plan: String::new(),
            opened_on: Some(today),
            deadline: Some(today + Duration::days(r.rectify_days)),
        };
        let item_id = crate::rectification::store::open_in(ctx, &mut tx, p, &item).await?;
        on_tx!(&mut tx, cx => {
            sqlx::query("UPDATE review_critiques SET item_id = $1 WHERE id = $2").bind(item_id).bind(k.id).execute(&mut *cx).await?;
        });
    }
    // the bottom ones get an interview (约谈), ties at the cut alike (review::bottom); a
    // contest names its champions instead
    let bottom = if contest {
        let vetoed: Vec<i64> = reps
            .iter()
            .filter(|x| x.veto_reason.is_some())
            .map(|x| x.id)
            .collect();
        crate::first_secretary::alliance::crown_in(&mut tx, ctx, p, &c, &cpath, &ranks, &vetoed)
            .await?;
        Vec::new()
    } else {
        super::bottom(
            &ranks,
            r.bottom_interviews.max(0) as usize,
            r.bottom_ties_included,
        )
    };
    for id in &bottom {
        if let Some(rep) = reps.iter().find(|x| x.id == *id) {
            let v = crate::rectification::store::NewInterview {
                org_id: rep.org_id,
                interviewee: if rep.reporter_name.is_empty() {
                    format!("{}书记", rep.org_name)
                } else {
                    rep.reporter_name.clone()
                },
                interviewer: format!("{}负责同志", c.org_name),
                reason: format!("{}排名靠后", c.title),
                source: "review".into(),
                source_ref: Some(format!("review:{}:{}", c.id, rep.id)),
                planned_on: Some(today + Duration::days(7)),
            };
            crate::rectification::store::plan_interview_in(&mut tx, &p.actor(), rep.org_id, &v)
                .await?;
        }
    }
    let summary: Vec<serde_json::Value> = results
        .iter()
        .map(|(rep, s, d)| serde_json::json!({"reporter_id": rep.id, "org_id": rep.org_id, "score_tenths": s, "deduction_tenths": d,
            "veto": rep.veto_reason, "affirm": rep.affirm_reason}))
        .collect();
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "review.close",
            object_type: "review_campaign",
            object_id: c.id.to_string(),
            before: serde_json::json!({"status": "meeting"}),
            after: serde_json::json!({"status": "closed", "results": summary, "ranks": ranks, "interviews": bottom}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(campaign(ctx, c.id).await?.0)
}

/// How scoring stands: per reporter, how many raters scored; and how many raters there are.
pub async fn progress(ctx: &Ctx, campaign_id: i64) -> AppResult<(i64, BTreeMap<i64, i64>)> {
    on_db!(&ctx.db, c => {
        let raters = sqlx::query("SELECT COUNT(*) AS n FROM review_raters WHERE campaign_id = $1").bind(campaign_id).fetch_one(c).await?.i64("n")?;
        let rows = sqlx::query("SELECT reporter_id, COUNT(*) AS n FROM review_scores WHERE campaign_id = $1 GROUP BY reporter_id").bind(campaign_id).fetch_all(c).await?;
        let mut m = BTreeMap::new();
        for r in &rows {
            m.insert(r.i64("reporter_id")?, r.i64("n")?);
        }
        Ok((raters, m))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rater_codes_are_forgiving_to_type() {
        assert_eq!(normalise_code(" abcd-efgh-jk "), "ABCDEFGHJK");
        assert_eq!(code_hash("abcd efgh jk"), code_hash("ABCD-EFGH-JK"));
        assert!(CODE_ALPHABET.iter().all(|c| !b"01ILO".contains(c)));
    }
}
