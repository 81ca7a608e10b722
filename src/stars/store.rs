//! Star-rating rounds: one per committee and year, scored branch by branch, publicised, then
//! final; final ratings are kept per branch and year.

use super::StarRules;
use crate::audit::{self, NewEntry};
use crate::auth::{Perm, Principal};
use crate::db::{path_upper, DbResult, DbRow};
use crate::error::{AppError, AppResult};
use crate::org::Org;
use crate::{on_db, on_tx, Ctx};
use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

pub const STATUSES: [(&str, &str); 3] = [
    ("scoring", "评分中"),
    ("publicity", "公示中"),
    ("final", "已确定"),
];

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Round {
    pub id: i64,
    pub org_id: i64,
    pub org_name: String,
    pub year: i64,
    pub scheme: StarRules,
    pub rules_version: i64,
    /// scoring, publicity, final
    pub status: String,
    pub publicity_until: Option<NaiveDate>,
    pub version: i64,
}

fn round_row(r: &impl DbRow) -> AppResult<(Round, String)> {
    let json = r.string("scheme_json")?;
    let scheme: StarRules = serde_json::from_str(&json)
        .map_err(|e| AppError::Internal(format!("star round scheme unreadable: {e}")))?;
    Ok((
        Round {
            id: r.i64("id")?,
            org_id: r.i64("org_id")?,
            org_name: r.string("org_name")?,
            year: r.i64("year")?,
            scheme,
            rules_version: r.i64("rules_version")?,
            status: r.string("status")?,
            publicity_until: r.opt_date("publicity_until")?,
            version: r.i64("version")?,
        },
        r.string("path")?,
    ))
}

const ROUND_COLUMNS: &str = "s.id, s.org_id, o.name AS org_name, o.path, s.year, s.scheme_json, s.rules_version, s.status, s.publicity_until, s.version";

pub async fn round(ctx: &Ctx, id: i64) -> AppResult<(Round, String)> {
    let sql = format!(
        "SELECT {ROUND_COLUMNS} FROM star_rounds s JOIN orgs o ON o.id = s.org_id WHERE s.id = $1"
    );
    on_db!(&ctx.db, x => {
        match sqlx::query(&sql).bind(id).fetch_optional(x).await? {
            Some(r) => round_row(&r),
            None => Err(AppError::NotFound("星级评定")),
        }
    })
}

/// Rounds of a subtree, newest first.
/// The rounds of a subtree (of one year, when asked), newest year first, `limit` from
/// `offset`, and how many there are in all.
pub async fn rounds(
    ctx: &Ctx,
    scope_path: &str,
    year: Option<i64>,
    offset: i64,
    limit: i64,
) -> AppResult<(Vec<Round>, i64)> {
    let cond = "o.path >= $1 AND o.path < $2 AND ($3 = 0 OR s.year = $3)";
    let sql = format!("SELECT {ROUND_COLUMNS} FROM star_rounds s JOIN orgs o ON o.id = s.org_id WHERE {cond} ORDER BY s.year DESC, o.path LIMIT $4 OFFSET $5");
    let count = format!(
        "SELECT COUNT(*) AS n FROM star_rounds s JOIN orgs o ON o.id = s.org_id WHERE {cond}"
    );
    let upper = path_upper(scope_path);
    let year = year.unwrap_or(0);
    on_db!(&ctx.db, x => {
        let rows = sqlx::query(&sql).bind(scope_path).bind(&upper).bind(year).bind(limit.clamp(0, 500)).bind(offset.max(0)).fetch_all(x).await?;
        let n = sqlx::query(&count).bind(scope_path).bind(&upper).bind(year).fetch_one(x).await?.i64("n")?;
        let rounds = rows.iter().map(|r| round_row(r).map(|x| x.0)).collect::<AppResult<Vec<_>>>()?;
        Ok((rounds, n))
    })
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct NewRound {
    /// The committee rating its branches.
    pub org_id: i64,
    pub year: i64,
}

/// Starts a committee's rating of a year, with the scheme in force copied into the round.
pub async fn create(ctx: &Ctx, p: &Principal, input: &NewRound) -> AppResult<Round> {
    let org = crate::org::store::get(&ctx.db, input.org_id)
        .await
        .map_err(|_| AppError::field("org_id", "请选择党委"))?;
    p.authorize(Perm::StarsManage, Some(&org.path))?;
    if org.kind.holds_members() {
        return Err(AppError::field(
            "org_id",
            "星级评定由党支部的上级党组织开展",
        ));
    }
    let this_year = chrono::Datelike::year(&ctx.clock.today()) as i64;
    if !(this_year - 1..=this_year).contains(&input.year) {
        return Err(AppError::field(
            "year",
            format!("评定年度应为{}或{this_year}年", this_year - 1),
        ));
    }
    let (scheme, src) = crate::rules::effective::<StarRules>(&ctx.db, &org.path).await?;
    let json = serde_json::to_string(&scheme).map_err(|e| AppError::Internal(e.to_string()))?;
    let mut tx = ctx.db.begin().await?;
    // one rating per branch and year: no round over or under this one's branches
    let overlap = on_tx!(&mut tx, x => {
        sqlx::query("SELECT o.name FROM star_rounds s JOIN orgs o ON o.id = s.org_id WHERE s.year = $1 AND ((o.path >= $2 AND o.path < $3) OR ($4 >= o.path AND $4 < o.path || '~')) LIMIT 1")
            .bind(input.year).bind(&org.path).bind(path_upper(&org.path)).bind(&org.path)
            .fetch_optional(&mut *x).await?.map(|r| r.string("name")).transpose()?
    });
    if let Some(name) = overlap {
        return Err(AppError::Conflict(format!(
            "{name}已开展{}年度星级评定，评定范围不能重叠",
            input.year
        )));
    }
    let version = src.map(|v| v.version).unwrap_or(0);
    let id = on_tx!(&mut tx, x => {
        sqlx::query("INSERT INTO star_rounds (org_id, year, scheme_json, rules_version, status, created_by, created_at) VALUES ($1, $2, $3, $4, 'scoring', $5, $6) RETURNING id")
            .bind(org.id).bind(input.year).bind(&json).bind(version).bind(p.account_id).bind(ctx.clock.now())
            .fetch_one(&mut *x).await?.i64("id")?
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "stars.round",
            object_type: "star_round",
            object_id: id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"org_id": org.id, "year": input.year, "rules_version": version}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(round(ctx, id).await?.0)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BranchScore {
    pub branch_id: i64,
    pub name: String,
    /// Manual scores by item key (empty until scored).
    pub items: BTreeMap<String, i64>,
    pub innovation: String,
    pub scored: bool,
    /// Filled at publicity: the year's branch points, their score and the total in hundredths
    /// rounded down (the stars were decided on the exact total), the stars.
    pub branch_points: Option<i64>,
    pub points_centi: Option<i64>,
    pub total_centi: Option<i64>,
    /// The total as decided, in words (`89.8`).
    pub total_text: Option<String>,
    pub stars: Option<i64>,
    /// Moved down by a distribution cap.
    pub capped: bool,
    /// Last year's final stars.
    pub previous: Option<i64>,
    /// The 组织生活 item computed from the branch's required meetings of the year (三会一课
    /// 落实), offered to the assessor; None when nothing was due or the scheme has no such item.
    pub life_suggested: Option<i64>,
}

/// The branches a round rates: the branches under the committee.
async fn branches(ctx: &Ctx, org_path: &str) -> AppResult<Vec<(i64, String)>> {
    let upper = path_upper(org_path);
    on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT id, name FROM orgs WHERE path > $1 AND path < $2 AND kind IN ('branch', 'joint_branch') AND dissolved_at IS NULL ORDER BY path")
            .bind(org_path).bind(&upper).fetch_all(x).await?;
        Ok(rows.iter().map(|r| Ok((r.i64("id")?, r.string("name")?))).collect::<DbResult<Vec<_>>>()?)
    })
}

pub async fn scores(ctx: &Ctx, r: &Round, org_path: &str) -> AppResult<Vec<BranchScore>> {
    let list = branches(ctx, org_path).await?;
    let upper = path_upper(org_path);
    // the computed 组织生活 item: the year's required meetings of each branch
    let life: HashMap<i64, Option<i64>> = match r.scheme.items.iter().find(|i| i.key == "life") {
        Some(item) => {
            let from = chrono::NaiveDate::from_ymd_opt(r.year as i32, 1, 1).unwrap_or_default();
            let to = chrono::NaiveDate::from_ymd_opt(r.year as i32, 12, 31).unwrap_or_default();
            crate::meeting::store::tallies(ctx, org_path, from, to)
                .await?
                .into_iter()
                .map(|(id, _, _, done, late, missed, overdue)| {
                    (
                        id,
                        crate::meeting::life_score(done, late, missed, overdue, item.max),
                    )
                })
                .collect()
        }
        None => HashMap::new(),
    };
    let (rows, prev) = on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT branch_id, items_json, innovation, branch_points, points_centi, total_centi, stars, capped FROM star_scores WHERE round_id = $1")
            .bind(r.id).fetch_all(x).await?;
        let rows = rows.iter().map(|r| Ok((r.i64("branch_id")?, (r.string("items_json")?, r.string("innovation")?, r.opt_i64("branch_points")?, r.opt_i64("points_centi")?, r.opt_i64("total_centi")?, r.opt_i64("stars")?, r.bool("capped")?)))).collect::<DbResult<HashMap<_, _>>>()?;
        let prev = sqlx::query("SELECT s.branch_id, s.stars FROM star_ratings s JOIN orgs o ON o.id = s.branch_id WHERE s.year = $1 AND o.path > $2 AND o.path < $3")
            .bind(r.year - 1).bind(org_path).bind(&upper).fetch_all(x).await?;
        let prev = prev.iter().map(|r| Ok((r.i64("branch_id")?, r.i64("stars")?))).collect::<DbResult<HashMap<_, _>>>()?;
        (rows, prev)
    });
    Ok(list
        .into_iter()
        .map(|(id, name)| {
            let s = rows.get(&id);
            BranchScore {
                branch_id: id,
                name,
                items: s
                    .and_then(|s| serde_json::from_str(&s.0).ok())
                    .unwrap_or_default(),
                innovation: s.map(|s| s.1.clone()).unwrap_or_default(),
                scored: s.is_some(),
                branch_points: s.and_then(|s| s.2),
                points_centi: s.and_then(|s| s.3),
                total_centi: s.and_then(|s| s.4),
                total_text: s.and_then(|s| s.4).map(super::centi_text),
                stars: s.and_then(|s| s.5),
                capped: s.map(|s| s.6).unwrap_or(false),
                previous: prev.get(&id).copied(),
                life_suggested: life.get(&id).copied().flatten(),
            }
        })
        .collect())
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
#[schema(as = StarScoreInput)]
pub struct ScoreInput {
    pub branch_id: i64,
    /// Score per assessment item key.
    pub items: BTreeMap<String, i64>,
    /// The innovation project, if any (five stars need one).
    pub innovation: String,
}

/// Records (or changes) a branch's manual scores while the round is scoring.
pub async fn score(ctx: &Ctx, p: &Principal, round_id: i64, input: &ScoreInput) -> AppResult<()> {
    let (r, path) = round(ctx, round_id).await?;
    p.authorize(Perm::StarsManage, Some(&path))?;
    if r.status != "scoring" {
        return Err(AppError::refused(
            "stars.not_scoring",
            "评定已进入公示，不能再评分",
        ));
    }
    if !branches(ctx, &path)
        .await?
        .iter()
        .any(|b| b.0 == input.branch_id)
    {
        return Err(AppError::field("branch_id", "该支部不在本次评定范围内"));
    }
    super::check_items(&input.items, &r.scheme)?;
    let innovation = input.innovation.trim();
    if innovation.chars().count() > 200 {
        return Err(AppError::field("innovation", "创新项目不超过200字"));
    }
    let json =
        serde_json::to_string(&input.items).map_err(|e| AppError::Internal(e.to_string()))?;
    let mut tx = ctx.db.begin().await?;
    on_tx!(&mut tx, x => {
        sqlx::query("INSERT INTO star_scores (round_id, branch_id, items_json, innovation, scored_by, scored_at) VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (round_id, branch_id) DO UPDATE SET items_json = excluded.items_json, innovation = excluded.innovation, scored_by = excluded.scored_by, scored_at = excluded.scored_at")
            .bind(r.id).bind(input.branch_id).bind(&json).bind(innovation).bind(p.account_id).bind(ctx.clock.now())
            .execute(&mut *x).await?;
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "stars.score",
            object_type: "star_round",
            object_id: r.id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"branch_id": input.branch_id, "items": input.items, "innovation": innovation}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Computes every branch's stars (points of the year from the entries, manual scores, bands,
/// distribution caps) and opens the publicity. Every branch must be scored first.
pub async fn publish(ctx: &Ctx, p: &Principal, round_id: i64, version: i64) -> AppResult<Round> {
    let (r, path) = round(ctx, round_id).await?;
    p.authorize(Perm::StarsManage, Some(&path))?;
    if r.status != "scoring" {
        return Err(AppError::Conflict("评定已公示".into()));
    }
    let list = scores(ctx, &r, &path).await?;
    let missing: Vec<&str> = list
        .iter()
        .filter(|s| !s.scored)
        .map(|s| s.name.as_str())
        .collect();
    if list.is_empty() {
        return Err(AppError::refused("stars.no_branches", "本组织下没有党支部"));
    }
    if !missing.is_empty() {
        return Err(AppError::refused(
            "stars.unscored",
            format!(
                "还有{}个支部未评分：{}",
                missing.len(),
                missing
                    .iter()
                    .take(5)
                    .copied()
                    .collect::<Vec<_>>()
                    .join("、")
            ),
        ));
    }
    // the branches' points of the year, from the entries
    let upper = path_upper(&path);
    let pts: HashMap<i64, i64> = on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT e.org_id, CAST(SUM(e.points) AS BIGINT) AS s FROM point_entries e JOIN orgs o ON o.id = e.org_id WHERE e.subject = 'branch' AND e.month BETWEEN $1 AND $2 AND o.path > $3 AND o.path < $4 GROUP BY e.org_id")
            .bind(r.year * 100 + 1).bind(r.year * 100 + 12).bind(&path).bind(&upper).fetch_all(x).await?;
        rows.iter().map(|r| Ok((r.i64("org_id")?, r.i64("s")?))).collect::<DbResult<HashMap<_, _>>>()?
    });
    // (branch, points, points' share and total in hundredths, stars, exact total scaled)
    let computed: Vec<(i64, i64, i64, i64, i64, i64)> = list
        .iter()
        .map(|s| {
            let bp = pts.get(&s.branch_id).copied().unwrap_or(0);
            let scaled = super::total_scaled(s.items.values().sum::<i64>(), bp, &r.scheme);
            let stars = super::band(scaled, !s.innovation.is_empty(), &r.scheme);
            (
                s.branch_id,
                bp,
                super::points_centi(bp, &r.scheme),
                super::centi(scaled, &r.scheme),
                stars,
                scaled,
            )
        })
        .collect();
    let capped = super::apply_caps(
        &computed.iter().map(|c| (c.0, c.5, c.4)).collect::<Vec<_>>(),
        &r.scheme,
    );
    let until = ctx.clock.today() + Duration::days(r.scheme.publicity_days);
    let mut tx = ctx.db.begin().await?;
    let n = on_tx!(&mut tx, x => {
        sqlx::query("UPDATE star_rounds SET status = 'publicity', publicity_until = $1, version = version + 1 WHERE id = $2 AND status = 'scoring' AND version = $3")
            .bind(until).bind(r.id).bind(version).execute(&mut *x).await?.rows_affected()
    });
    if n != 1 {
        return Err(AppError::Conflict("评定已变化，请刷新后再试".into()));
    }
    for (c, (_, stars, was_capped)) in computed.iter().zip(&capped) {
        on_tx!(&mut tx, x => {
            sqlx::query("UPDATE star_scores SET branch_points = $1, points_centi = $2, total_centi = $3, stars = $4, capped = $5 WHERE round_id = $6 AND branch_id = $7")
                .bind(c.1).bind(c.2).bind(c.3).bind(*stars).bind(*was_capped).bind(r.id).bind(c.0)
                .execute(&mut *x).await?;
        });
    }
    let mut dist: BTreeMap<i64, usize> = BTreeMap::new();
    for (_, s, _) in &capped {
        *dist.entry(*s).or_default() += 1;
    }
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "stars.publish",
            object_type: "star_round",
            object_id: r.id.to_string(),
            before: serde_json::json!({"status": "scoring"}),
            after: serde_json::json!({"status": "publicity", "publicity_until": until, "stars": dist, "capped": capped.iter().filter(|c| c.2).count()}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(round(ctx, r.id).await?.0)
}

/// After the publicity, the ratings become final and join each branch's history.
pub async fn finalise(ctx: &Ctx, p: &Principal, round_id: i64) -> AppResult<Round> {
    let (r, path) = round(ctx, round_id).await?;
    p.authorize(Perm::StarsManage, Some(&path))?;
    if r.status != "publicity" {
        return Err(AppError::refused(
            "stars.not_publicised",
            "评定结果须先公示",
        ));
    }
    let until = r.publicity_until.unwrap_or_default();
    if ctx.clock.today() <= until {
        return Err(AppError::refused(
            "stars.publicity",
            format!("公示期至{until}，期满后才能确定"),
        ));
    }
    let mut tx = ctx.db.begin().await?;
    let n = on_tx!(&mut tx, x => {
        sqlx::query("UPDATE star_rounds SET status = 'final', finalised_at = $1, version = version + 1 WHERE id = $2 AND status = 'publicity'")
            .bind(ctx.clock.now()).bind(r.id).execute(&mut *x).await?.rows_affected()
    });
    if n != 1 {
        return Err(AppError::Conflict("评定已确定".into()));
    }
    let written = on_tx!(&mut tx, x => {
        sqlx::query("INSERT INTO star_ratings (branch_id, year, stars, total_centi, round_id) SELECT branch_id, $1, stars, total_centi, round_id FROM star_scores WHERE round_id = $2")
            .bind(r.year).bind(r.id).execute(&mut *x).await?.rows_affected()
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "stars.finalise",
            object_type: "star_round",
            object_id: r.id.to_string(),
            before: serde_json::json!({"status": "publicity"}),
            after: serde_json::json!({"status": "final", "ratings": written}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(round(ctx, r.id).await?.0)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Rating {
    pub year: i64,
    pub stars: i64,
    /// In hundredths, rounded down.
    pub total_centi: i64,
    pub total_text: String,
    pub round_id: i64,
}

/// A branch's final ratings, by year.
pub async fn history(ctx: &Ctx, branch: &Org) -> AppResult<Vec<Rating>> {
    on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT year, stars, total_centi, round_id FROM star_ratings WHERE branch_id = $1 ORDER BY year")
            .bind(branch.id).fetch_all(x).await?;
        Ok(rows.iter().map(|r| {
            let t = r.i64("total_centi")?;
            Ok(Rating { year: r.i64("year")?, stars: r.i64("stars")?, total_centi: t, total_text: super::centi_text(t), round_id: r.i64("round_id")? })
        }).collect::<DbResult<Vec<_>>>()?)
    })
}
