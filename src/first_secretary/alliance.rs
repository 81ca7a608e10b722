//! 第一书记联盟 (梁山, seed 002, F22–F25): a department's whole alliance (总盟) and its
//! sub-alliances (分盟), each sub-alliance with its first secretaries on duty. The contests
//! (比武打擂) are review campaigns of kind `contest` — the built 述职评议 engine: judges
//! registered by real name score each contestant on a phone with a code, results weighted by
//! rater group and ranked (ties share a rank) — quarterly per sub-alliance, half-yearly for the
//! whole. At a contest's close the top ones (a rule value) are named 擂主 with a certificate,
//! each an entry on the red/black ledger, and the first holds the rotating red flag (流动红旗)
//! until the alliance's next contest names another.

use super::store::{self, Assignment};
use crate::audit::{self, NewEntry};
use crate::auth::{Perm, Principal};
use crate::db::{DbResult, DbRow, Tx};
use crate::error::{AppError, AppResult, Checks};
use crate::review::store::Campaign;
use crate::{on_db, on_tx, Ctx};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The scheme a contest is scored on unless the department names another.
pub const CONTEST_SCHEME: &str = "第一书记比武打擂评分方案";

/// The six areas of 实绩打擂晾晒 (F15) as indicators, judges and the public as rater groups.
pub fn contest_scheme() -> crate::review::Scheme {
    use crate::review::{Group, Indicator};
    let base = crate::review::Scheme::default();
    let ind = |k: &str, n: &str, w| Indicator {
        key: k.into(),
        name: n.into(),
        weight: w,
    };
    let grp = |k: &str, n: &str, w| Group {
        key: k.into(),
        name: n.into(),
        weight: w,
    };
    crate::review::Scheme {
        indicators: vec![
            ind("projects", "实施各类基础工程", 15),
            ind("income", "落实群众致富项目", 15),
            ind("economy", "发展村级集体经济", 20),
            ind("difficulties", "解决群众困难问题", 15),
            ind("disputes", "化解各类矛盾纠纷", 15),
            ind("organisation", "加强基层组织建设", 20),
        ],
        levels: base.levels,
        groups: vec![
            grp("judges", "评委", 60),
            grp("reps", "两代表一委员", 20),
            grp("public", "群众代表", 20),
        ],
        grades: base.grades,
    }
}

/// A contest's period: `2026-Q3` (a sub-alliance's quarter) or `2026-H2` (the whole
/// alliance's half-year), in one spelling; refused when malformed or not yet begun.
pub fn contest_period(whole: bool, text: &str, today: NaiveDate) -> Result<String, &'static str> {
    use chrono::Datelike;
    let t = text.trim().to_ascii_uppercase();
    let bad = if whole {
        "总盟比武按半年进行，期间格式为 2026-H1 或 2026-H2"
    } else {
        "分盟比武按季度进行，期间格式为 2026-Q3"
    };
    let (y, rest) = t.split_once('-').ok_or(bad)?;
    if y.len() != 4 || !y.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad);
    }
    let y: i32 = y.parse().map_err(|_| bad)?;
    if !(2000..=2100).contains(&y) || rest.len() > 3 {
        return Err(bad);
    }
    if !rest.chars().skip(1).all(|c| c.is_ascii_digit()) {
        return Err(bad);
    }
    let (first_month, key) = match (whole, rest.split_at_checked(1)) {
        (true, Some(("H", n))) => {
            let n: u32 = n.parse().map_err(|_| bad)?;
            if !(1..=2).contains(&n) {
                return Err(bad);
            }
            ((n - 1) * 6 + 1, format!("{y}-H{n}"))
        }
        (false, Some(("Q", n))) => {
            let n: u32 = n.parse().map_err(|_| bad)?;
            if !(1..=4).contains(&n) {
                return Err(bad);
            }
            ((n - 1) * 3 + 1, format!("{y}-Q{n}"))
        }
        _ => return Err(bad),
    };
    let start = NaiveDate::from_ymd_opt(y, first_month, 1).ok_or(bad)?;
    if start > today || today.year() - y > 2 {
        return Err("比武期间须已开始，且不早于两年前");
    }
    Ok(key)
}

/// A champion's line on the red/black ledger.
pub fn champion_note(title: &str, rank: i64, flag: bool) -> String {
    if flag {
        format!("在{title}中获评擂主（第{rank}名），颁发荣誉证书，授予流动红旗")
    } else {
        format!("在{title}中获评擂主（第{rank}名），颁发荣誉证书")
    }
}

/// The last day of a contest period (`2026-Q3`, `2026-H2`).
pub fn period_end(period: &str) -> Option<NaiveDate> {
    let (y, rest) = period.split_once('-')?;
    let y: i32 = y.parse().ok()?;
    let (kind, n) = rest.split_at_checked(1)?;
    let n: u32 = n.parse().ok()?;
    let last_month = match kind {
        "Q" => n * 3,
        "H" => n * 6,
        _ => return None,
    };
    let first_next = if last_month >= 12 {
        NaiveDate::from_ymd_opt(y + 1, 1, 1)?
    } else {
        NaiveDate::from_ymd_opt(y, last_month + 1, 1)?
    };
    first_next.pred_opt()
}

/// The champions (擂主) among a contest's ranks (reporter, rank; ties share a rank): those
/// ranked within `n` (ties at that cut included), none vetoed and none unscored, and never
/// more than a third of the contestants (rounded up) — a contest is won against others, so in
/// a sub-alliance of three only the first is 擂主, and a tie across the third names none of
/// the tied; the flag goes to rank 1.
pub fn champions(
    ranks: &[(i64, i64)],
    vetoed: &[i64],
    unscored: &[i64],
    n: i64,
) -> Vec<(i64, i64, bool)> {
    let third = (ranks.len() as i64 + 2) / 3;
    let mut out: Vec<(i64, i64, bool)> = ranks
        .iter()
        .filter(|(id, rank)| *rank <= n && !vetoed.contains(id) && !unscored.contains(id))
        .map(|(id, rank)| (*id, *rank, *rank == 1))
        .collect();
    // never more than a third: a tie across that line names none of the tied
    while out.len() as i64 > third {
        let Some(last) = out.iter().map(|x| x.1).max() else {
            break;
        };
        out.retain(|x| x.1 < last);
    }
    out
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Alliance {
    pub id: i64,
    pub org_id: i64,
    pub org_name: String,
    /// The whole alliance of a sub-alliance; none for a whole alliance.
    pub parent_id: Option<i64>,
    pub name: String,
    pub members: Vec<Member>,
    /// Who holds the rotating red flag (the first of the latest closed contest).
    pub flag: Vec<Member>,
    pub contests: Vec<Contest>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = AllianceMember)]
pub struct Member {
    pub assignment_id: i64,
    pub cadre_name: String,
    pub village_name: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Champion {
    pub assignment_id: i64,
    pub cadre_name: String,
    pub village_name: String,
    pub rank: i64,
    pub flag: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Contest {
    pub campaign_id: i64,
    pub period: String,
    pub title: String,
    /// reports (judges being registered), meeting (scoring), closed
    pub status: String,
    pub champions: Vec<Champion>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct NewAlliance {
    /// The department forming it: the caller's own (the default).
    pub org_id: Option<i64>,
    pub name: String,
    /// The whole alliance, for a sub-alliance (分盟).
    pub parent_id: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct NewMembers {
    /// Postings on duty under the department.
    pub assignment_ids: Vec<i64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct NewContest {
    /// `2026-Q3` for a sub-alliance, `2026-H2` for the whole alliance.
    pub period: String,
    /// Default: the alliance's name and the period.
    pub title: String,
    /// A review scheme of the department or above (default: the contest scheme).
    pub scheme_id: Option<i64>,
}

struct Row {
    id: i64,
    org_id: i64,
    org_name: String,
    org_path: String,
    parent_id: Option<i64>,
    name: String,
}

const COLUMNS: &str = "l.id, l.org_id, o.name AS org_name, o.path, l.parent_id, l.name";

fn row(r: &impl DbRow) -> DbResult<Row> {
    Ok(Row {
        id: r.i64("id")?,
        org_id: r.i64("org_id")?,
        org_name: r.string("org_name")?,
        org_path: r.string("path")?,
        parent_id: r.opt_i64("parent_id")?,
        name: r.string("name")?,
    })
}

async fn load(ctx: &Ctx, p: &Principal, id: i64) -> AppResult<Row> {
    let sql = format!(
        "SELECT {COLUMNS} FROM fs_alliances l JOIN orgs o ON o.id = l.org_id WHERE l.id = $1"
    );
    let r = on_db!(&ctx.db, x => {
        match sqlx::query(&sql).bind(id).fetch_optional(x).await? {
            Some(r) => row(&r)?,
            None => return Err(AppError::NotFound("第一书记联盟")),
        }
    });
    if !readable(p, &r.org_path) {
        return Err(AppError::NotFound("第一书记联盟"));
    }
    Ok(r)
}

/// The department's alliances are read by its subtree and the departments above.
fn readable(p: &Principal, org_path: &str) -> bool {
    p.can(Perm::CadreRead)
        && (p.in_scope(org_path) || crate::org::in_subtree(org_path, &p.org_path))
}

fn manage(p: &Principal, r: &Row) -> AppResult<()> {
    if p.org_path != r.org_path {
        return Err(AppError::Forbidden("由组建联盟的组织部门办理".into()));
    }
    p.authorize(Perm::CadreWrite, Some(&r.org_path))
}

/// The members of an alliance: its own, and for a whole alliance its sub-alliances' too.
async fn members_of(ctx: &Ctx, id: i64) -> AppResult<Vec<Member>> {
    on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT DISTINCT a.id, c.name, v.name AS village FROM fs_alliance_members m JOIN fs_alliances l ON l.id = m.alliance_id \
                                JOIN fs_assignments a ON a.id = m.assignment_id JOIN cadres c ON c.id = a.cadre_id JOIN orgs v ON v.id = a.village_id \
                                WHERE (l.id = $1 OR l.parent_id = $1) AND a.status = 'on_duty' ORDER BY v.name, a.id")
            .bind(id).fetch_all(x).await?;
        rows.iter().map(|r| Ok(Member { assignment_id: r.i64("id")?, cadre_name: r.string("name")?, village_name: r.string("village")? }))
            .collect::<DbResult<Vec<_>>>().map_err(AppError::from)
    })
}

async fn contests_of(ctx: &Ctx, id: i64) -> AppResult<Vec<Contest>> {
    let rows = on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT k.campaign_id, k.period, c.title, c.status FROM fs_contests k JOIN review_campaigns c ON c.id = k.campaign_id \
                                WHERE k.alliance_id = $1 ORDER BY k.period DESC, k.campaign_id DESC LIMIT 20")
            .bind(id).fetch_all(x).await?;
        rows.iter().map(|r| Ok((r.i64("campaign_id")?, r.string("period")?, r.string("title")?, r.string("status")?)))
            .collect::<DbResult<Vec<_>>>()?
    });
    let mut out = Vec::new();
    for (campaign_id, period, title, status) in rows {
        let champions = on_db!(&ctx.db, x => {
            let rows = sqlx::query("SELECT h.assignment_id, h.rank, h.flag, c.name, v.name AS village FROM fs_champions h JOIN fs_assignments a ON a.id = h.assignment_id \
                                    JOIN cadres c ON c.id = a.cadre_id JOIN orgs v ON v.id = a.village_id WHERE h.campaign_id = $1 ORDER BY h.rank, v.name")
                .bind(campaign_id).fetch_all(x).await?;
            rows.iter().map(|r| Ok(Champion { assignment_id: r.i64("assignment_id")?, rank: r.i64("rank")?, flag: r.bool("flag")?,
                cadre_name: r.string("name")?, village_name: r.string("village")? })).collect::<DbResult<Vec<_>>>()?
        });
        out.push(Contest {
            campaign_id,
            period,
            title,
            status,
            champions,
        });
    }
    Ok(out)
}

async fn view(ctx: &Ctx, r: Row) -> AppResult<Alliance> {
    let members = members_of(ctx, r.id).await?;
    let contests = contests_of(ctx, r.id).await?;
    let flag = contests
        .iter()
        .find(|c| c.status == "closed" && c.champions.iter().any(|x| x.flag))
        .map(|c| {
            c.champions
                .iter()
                .filter(|x| x.flag)
                .map(|x| Member {
                    assignment_id: x.assignment_id,
                    cadre_name: x.cadre_name.clone(),
                    village_name: x.village_name.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Alliance {
        id: r.id,
        org_id: r.org_id,
        org_name: r.org_name,
        parent_id: r.parent_id,
        name: r.name,
        members,
        flag,
        contests,
    })
}

/// The alliances the reader sees: its subtree's and those of the departments above it.
pub async fn alliances(ctx: &Ctx, p: &Principal) -> AppResult<Vec<Alliance>> {
    p.authorize(Perm::CadreRead, Some(&p.org_path))?;
    let sql = format!(
        "SELECT {COLUMNS} FROM fs_alliances l JOIN orgs o ON o.id = l.org_id ORDER BY o.path, COALESCE(l.parent_id, l.id), l.parent_id IS NOT NULL, l.id LIMIT 500"
    );
    let rows = on_db!(&ctx.db, x => {
        let rows = sqlx::query(&sql).fetch_all(x).await?;
        rows.iter().map(row).collect::<DbResult<Vec<_>>>()?
    });
    let mut out = Vec::new();
    for r in rows.into_iter().filter(|r| readable(p, &r.org_path)) {
        out.push(view(ctx, r).await?);
    }
    Ok(out)
}

pub async fn get(ctx: &Ctx, p: &Principal, id: i64) -> AppResult<Alliance> {
    let r = load(ctx, p, id).await?;
    view(ctx, r).await
}

/// Forms an alliance of the reader's own department (a whole one, or a sub-alliance of one).
pub async fn create(ctx: &Ctx, p: &Principal, input: &NewAlliance) -> AppResult<Alliance> {
    p.authorize(Perm::CadreWrite, Some(&p.org_path))?;
    if input.org_id.is_some_and(|o| o != p.org_id) {
        return Err(AppError::Forbidden("第一书记联盟由组织部门本级组建".into()));
    }
    let name = crate::work_log::clean_text(&input.name);
    let mut c = Checks::default();
    c.check(
        !name.is_empty() && name.chars().count() <= 30,
        "name",
        "请填写联盟名称（30字以内）",
    );
    if let Some(parent) = input.parent_id {
        match load(ctx, p, parent).await {
            Ok(r) if r.org_id == p.org_id && r.parent_id.is_none() => {}
            _ => c.add("parent_id", "分盟须属于本部门组建的总盟"),
        }
    }
    c.finish()?;
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let dup = on_tx!(&mut tx, x => {
        sqlx::query("SELECT id FROM fs_alliances WHERE org_id = $1 AND name = $2").bind(p.org_id).bind(&name)
            .fetch_optional(&mut *x).await?.is_some()
    });
    if dup {
        return Err(AppError::field("name", "本部门已有同名联盟"));
    }
    let id = on_tx!(&mut tx, x => {
        sqlx::query("INSERT INTO fs_alliances (org_id, parent_id, name, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
            .bind(p.org_id).bind(input.parent_id).bind(&name).bind(now).fetch_one(&mut *x).await?.i64("id")?
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "fs.alliance",
            object_type: "fs_alliance",
            object_id: id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"alliance": name, "whole_alliance_id": input.parent_id}),
        },
    )
    .await?;
    tx.commit().await?;
    get(ctx, p, id).await
}

/// Adds postings on duty under the department to a sub-alliance (or a whole alliance without
/// sub-alliances); a first secretary is in one sub-alliance of a whole alliance at a time.
pub async fn add_members(
    ctx: &Ctx,
    p: &Principal,
    id: i64,
    input: &NewMembers,
) -> AppResult<Alliance> {
    let r = load(ctx, p, id).await?;
    manage(p, &r)?;
    let whole = r.parent_id.unwrap_or(r.id);
    let subs = on_db!(&ctx.db, x => {
        sqlx::query("SELECT COUNT(*) AS n FROM fs_alliances WHERE parent_id = $1").bind(r.id).fetch_one(x).await?.i64("n")?
    });
    if r.parent_id.is_none() && subs > 0 {
        return Err(AppError::Conflict(
            "总盟的成员来自各分盟，请在分盟中添加".into(),
        ));
    }
    if input.assignment_ids.is_empty() || input.assignment_ids.len() > 500 {
        return Err(AppError::field(
            "assignment_ids",
            "请选择要加入的第一书记（一次最多500名）",
        ));
    }
    let mut postings: Vec<Assignment> = Vec::new();
    for aid in &input.assignment_ids {
        let (a, paths) = store::load(ctx, *aid)
            .await
            .ok()
            .filter(|(_, paths)| store::can_read(p, paths))
            .ok_or_else(|| AppError::field("assignment_ids", format!("没有编号为{aid}的选派")))?;
        // the round is the alliance's department's or below it: never a posting another
        // department runs (its ledger is that department's)
        if a.status != "on_duty" || !crate::org::in_subtree(&r.org_path, &paths.round) {
            return Err(AppError::field(
                "assignment_ids",
                format!("{}不是本部门下在岗的第一书记", a.cadre_name),
            ));
        }
        postings.push(a);
    }
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    for a in &postings {
        let elsewhere = on_tx!(&mut tx, x => {
            sqlx::query("SELECT l.name FROM fs_alliance_members m JOIN fs_alliances l ON l.id = m.alliance_id \
                         WHERE m.assignment_id = $1 AND (l.id = $2 OR l.parent_id = $2) AND l.id <> $3")
                .bind(a.id).bind(whole).bind(r.id).fetch_optional(&mut *x).await?
                .map(|x| x.string("name")).transpose()?
        });
        if let Some(name) = elsewhere {
            return Err(AppError::field(
                "assignment_ids",
                format!("{}已在{name}", a.cadre_name),
            ));
        }
        on_tx!(&mut tx, x => {
            sqlx::query("INSERT INTO fs_alliance_members (alliance_id, assignment_id, joined_at) VALUES ($1, $2, $3) ON CONFLICT (alliance_id, assignment_id) DO NOTHING")
                .bind(r.id).bind(a.id).bind(now).execute(&mut *x).await?;
        });
    }
    let names: Vec<&str> = postings.iter().map(|a| a.cadre_name.as_str()).collect();
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "fs.alliance_members",
            object_type: "fs_alliance",
            object_id: r.id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"members": names}),
        },
    )
    .await?;
    tx.commit().await?;
    view(ctx, r).await
}

/// Takes a first secretary out of an alliance (to move them to another sub-alliance, say);
/// contests already held keep them.
pub async fn remove_member(
    ctx: &Ctx,
    p: &Principal,
    id: i64,
    assignment: i64,
) -> AppResult<Alliance> {
    let r = load(ctx, p, id).await?;
    manage(p, &r)?;
    let mut tx = ctx.db.begin().await?;
    let name = on_tx!(&mut tx, x => {
        let n = sqlx::query("DELETE FROM fs_alliance_members WHERE alliance_id = $1 AND assignment_id = $2")
            .bind(r.id).bind(assignment).execute(&mut *x).await?.rows_affected();
        if n == 0 {
            return Err(AppError::NotFound("联盟成员"));
        }
        sqlx::query("SELECT c.name FROM fs_assignments a JOIN cadres c ON c.id = a.cadre_id WHERE a.id = $1")
            .bind(assignment).fetch_one(&mut *x).await?.string("name")?
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "fs.alliance_member_remove",
            object_type: "fs_alliance",
            object_id: r.id.to_string(),
            before: serde_json::json!({"members": [name]}),
            after: serde_json::Value::Null,
        },
    )
    .await?;
    tx.commit().await?;
    view(ctx, r).await
}

/// The postings on duty under the alliance's department not yet in it or its siblings (for
/// the page's picker), by village.
pub async fn candidates(ctx: &Ctx, p: &Principal, id: i64) -> AppResult<Vec<Member>> {
    let r = load(ctx, p, id).await?;
    let whole = r.parent_id.unwrap_or(r.id);
    on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT a.id, c.name, v.name AS village FROM fs_assignments a JOIN fs_rounds d ON d.id = a.round_id JOIN orgs ro ON ro.id = d.org_id \
                                JOIN cadres c ON c.id = a.cadre_id JOIN orgs v ON v.id = a.village_id \
                                WHERE a.status = 'on_duty' AND ro.path >= $1 AND ro.path < $2 \
                                AND NOT EXISTS (SELECT 1 FROM fs_alliance_members m JOIN fs_alliances l ON l.id = m.alliance_id \
                                                WHERE m.assignment_id = a.id AND (l.id = $3 OR l.parent_id = $3)) \
                                ORDER BY v.path LIMIT 500")
            .bind(&r.org_path).bind(crate::db::path_upper(&r.org_path)).bind(whole).fetch_all(x).await?;
        rows.iter().map(|r| Ok(Member { assignment_id: r.i64("id")?, cadre_name: r.string("name")?, village_name: r.string("village")? }))
            .collect::<DbResult<Vec<_>>>().map_err(AppError::from)
    })
}

/// Whether the reader manages the alliance (its department's own staff).
pub fn manages(p: &Principal, a: &Alliance, org_path: &str) -> bool {
    p.org_id == a.org_id && p.can(Perm::CadreWrite) && p.org_path == org_path
}

/// Opens a contest of an alliance for a period: a review campaign of kind `contest` whose
/// contestants are the alliance's first secretaries on duty (their villages, their names);
/// the department registers the judges and runs the meeting on the review pages.
pub async fn create_contest(
    ctx: &Ctx,
    p: &Principal,
    id: i64,
    input: &NewContest,
) -> AppResult<Contest> {
    let r = load(ctx, p, id).await?;
    manage(p, &r)?;
    p.authorize(Perm::ReviewManage, Some(&r.org_path))?;
    let today = ctx.clock.today();
    let period = contest_period(r.parent_id.is_none(), &input.period, today)
        .map_err(|m| AppError::field("period", m))?;
    let title = {
        let t = crate::work_log::clean_text(&input.title);
        if t.is_empty() {
            format!("{} {} 比武打擂", r.name, period)
        } else {
            t
        }
    };
    if title.chars().count() > 100 {
        return Err(AppError::field("title", "标题100字以内"));
    }
    let period_end = period_end(&period).ok_or(AppError::field("period", "期间无效"))?;
    let mut members = Vec::new();
    for m in members_of(ctx, r.id).await? {
        let (a, _) = store::load(ctx, m.assignment_id).await?;
        // in the contest only who was in the village during the period
        if a.start_on.is_some_and(|s| s <= period_end) {
            members.push(m);
        }
    }
    if members.len() < 2 {
        return Err(AppError::refused(
            "fs.contest_too_small",
            format!("{period}期间在岗的联盟成员不足2名，无法比武打擂"),
        ));
    }
    let org = crate::org::store::get(&ctx.db, r.org_id).await?;
    let scheme_id = match input.scheme_id {
        Some(sid) => {
            let s = crate::review::store::scheme(ctx, sid)
                .await
                .map_err(|_| AppError::field("scheme_id", "评分方案不存在"))?;
            if !crate::org::path_ids(&org.path).contains(&s.org_id) {
                return Err(AppError::field("scheme_id", "只能使用本级或上级组织的方案"));
            }
            sid
        }
        None => match crate::review::store::schemes_for(ctx, &org)
            .await?
            .into_iter()
            .find(|s| s.name == CONTEST_SCHEME)
        {
            Some(s) => s.id,
            None => {
                crate::review::store::save_scheme(ctx, p, &org, CONTEST_SCHEME, &contest_scheme())
                    .await?
                    .id
            }
        },
    };
    let levels = vec!["组织部确认".to_string()];
    let level_orgs = vec![org.id];
    let selection = serde_json::json!({"all_level": "alliance", "draw_level": null, "draw_n": 0, "seed": 0,
        "candidates": [], "drawn": []});
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let taken = on_tx!(&mut tx, x => {
        sqlx::query("SELECT campaign_id FROM fs_contests WHERE alliance_id = $1 AND period = $2").bind(r.id).bind(&period)
            .fetch_optional(&mut *x).await?.is_some()
    });
    if taken {
        return Err(AppError::field(
            "period",
            format!("{period}的比武打擂已开设"),
        ));
    }
    let cid = on_tx!(&mut tx, x => {
        let cid = sqlx::query("INSERT INTO review_campaigns (org_id, year, title, scheme_id, levels_json, selection_json, status, created_by, created_at, updated_at, level_orgs_json, kind) \
                               VALUES ($1, $2, $3, $4, $5, $6, 'reports', $7, $8, $8, $9, 'contest') RETURNING id")
            .bind(org.id).bind(period[..4].parse::<i64>().unwrap_or(0)).bind(&title).bind(scheme_id)
            .bind(serde_json::to_string(&levels).unwrap_or_default()).bind(selection.to_string())
            .bind(p.account_id).bind(now).bind(serde_json::to_string(&level_orgs).unwrap_or_default())
            .fetch_one(&mut *x).await?.i64("id")?;
        for m in &members {
            sqlx::query("INSERT INTO review_reporters (campaign_id, org_id, reporter_name, selected_by, report_status, assignment_id) \
                         SELECT $1, a.village_id, $2, 'all', 'approved', a.id FROM fs_assignments a WHERE a.id = $3")
                .bind(cid).bind(&m.cadre_name).bind(m.assignment_id).execute(&mut *x).await?;
        }
        sqlx::query("INSERT INTO fs_contests (campaign_id, alliance_id, period) VALUES ($1, $2, $3)")
            .bind(cid).bind(r.id).bind(&period).execute(&mut *x).await?;
        cid
    });
    let names: Vec<&str> = members.iter().map(|m| m.cadre_name.as_str()).collect();
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "fs.contest",
            object_type: "fs_alliance",
            object_id: r.id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"campaign_id": cid, "period": period, "title": title, "scheme_id": scheme_id, "members": names}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Contest {
        campaign_id: cid,
        period,
        title,
        status: "reports".into(),
        champions: Vec::new(),
    })
}

/// At a contest's close (in its transaction): names the champions (擂主), each with a red
/// ledger entry, the first holding the rotating red flag.
pub(crate) async fn crown_in(
    tx: &mut Tx,
    ctx: &Ctx,
    p: &Principal,
    c: &Campaign,
    cpath: &str,
    ranks: &[(i64, i64)],
    vetoed: &[i64],
) -> AppResult<()> {
    let rules = store::rules_at(ctx, cpath).await?;
    let rows = on_tx!(tx, x => {
        let rows = sqlx::query("SELECT r.id, r.assignment_id, a.cadre_id FROM review_reporters r JOIN fs_assignments a ON a.id = r.assignment_id WHERE r.campaign_id = $1")
            .bind(c.id).fetch_all(&mut *x).await?;
        rows.iter().map(|r| Ok((r.i64("id")?, r.i64("assignment_id")?, r.i64("cadre_id")?))).collect::<DbResult<Vec<_>>>()?
    });
    let scored: Vec<i64> = on_tx!(tx, x => {
        let rows = sqlx::query("SELECT DISTINCT reporter_id FROM review_scores WHERE campaign_id = $1").bind(c.id).fetch_all(&mut *x).await?;
        rows.iter().map(|r| r.i64("reporter_id")).collect::<DbResult<Vec<_>>>()?
    });
    let unscored: Vec<i64> = rows
        .iter()
        .map(|x| x.0)
        .filter(|r| !scored.contains(r))
        .collect();
    let today = ctx.clock.today();
    for (reporter, rank, flag) in champions(ranks, vetoed, &unscored, rules.contest_champions) {
        let Some((_, assignment, cadre)) = rows.iter().find(|x| x.0 == reporter) else {
            continue;
        };
        let note = champion_note(&c.title, rank, flag);
        let lid = store::insert_ledger(
            tx,
            p,
            &store::LedgerRow {
                assignment: *assignment,
                cadre: *cadre,
                color: "red",
                category: "contest_win",
                on: today,
                note: &note,
                source: "contest",
                source_id: Some(c.id),
                reverses: None,
            },
        )
        .await?;
        on_tx!(tx, x => {
            sqlx::query("INSERT INTO fs_champions (campaign_id, assignment_id, rank, flag, ledger_id) VALUES ($1, $2, $3, $4, $5)")
                .bind(c.id).bind(assignment).bind(rank).bind(flag).bind(lid).execute(&mut *x).await?;
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contest_period_is_a_quarter_or_a_half_year_begun() {
        let today = NaiveDate::from_ymd_opt(2026, 8, 15).expect("date");
        let cases = [
            (false, "2026-Q3", Ok("2026-Q3")),
            (false, " 2026-q3 ", Ok("2026-Q3")),
            (false, "2026-Q03", Ok("2026-Q3")),
            (false, "2026-Q4", Err(())),
            (false, "2026-Q0", Err(())),
            (false, "2026-H1", Err(())),
            (true, "2026-H1", Ok("2026-H1")),
            (true, "2026-H2", Ok("2026-H2")),
            (true, "2027-H1", Err(())),
            (true, "2026-Q1", Err(())),
            (true, "2023-H2", Err(())),
            (true, "2024-H1", Ok("2024-H1")),
            (false, "", Err(())),
            (true, "2026-H+1", Err(())),
            (true, "+2026-H1", Err(())),
            (false, "2026-Q+3", Err(())),
            (false, "2026", Err(())),
        ];
        for (whole, text, want) in cases {
            assert_eq!(
                contest_period(whole, text, today).map_err(|_| ()),
                want.map(str::to_string),
                "{text:?}"
            );
        }
    }

    #[test]
    fn champions_are_ranked_within_the_number_ties_at_the_cut_included() {
        // ranks as review::rank gives them: 1, 2, 2, 4, 5
        let ranks = [(10, 1), (11, 2), (12, 2), (13, 4), (14, 5)];
        let ids = |ranks: &[(i64, i64)], n: i64, vetoed: &[i64], unscored: &[i64]| {
            champions(ranks, vetoed, unscored, n)
                .into_iter()
                .map(|x| (x.0, x.2))
                .collect::<Vec<_>>()
        };
        // five contestants (a third: 2): the tie for second would make three, so it names
        // none of the tied
        assert_eq!(ids(&ranks, 0, &[], &[]), vec![]);
        assert_eq!(ids(&ranks, 1, &[], &[]), vec![(10, true)]);
        assert_eq!(ids(&ranks, 2, &[], &[]), vec![(10, true)]);
        assert_eq!(ids(&ranks, 3, &[], &[]), vec![(10, true)]);
        assert_eq!(ids(&ranks, 2, &[11], &[]), vec![(10, true), (12, false)]);
        assert_eq!(ids(&ranks, 2, &[], &[10]), vec![(11, false), (12, false)]);
        // nine contestants (a third: 3): ties at the rule's cut included within the third,
        // a tie across the third names none of the tied
        let nine: Vec<(i64, i64)> = (1..=9).map(|i| (i, if i == 4 { 3 } else { i })).collect();
        assert_eq!(ids(&nine, 3, &[], &[]).len(), 2);
        assert_eq!(ids(&nine, 2, &[], &[]).len(), 2);
        let twelve: Vec<(i64, i64)> = (1..=12).map(|i| (i, if i == 4 { 3 } else { i })).collect();
        assert_eq!(
            ids(&twelve, 3, &[], &[]).len(),
            4,
            "ties at the rule's cut, within the third"
        );
        // two tied first of two: no 擂主
        assert_eq!(ids(&[(1, 1), (2, 1)], 3, &[], &[]), vec![]);
        // two or three contestants: one 擂主
        assert_eq!(ids(&[(1, 1), (2, 2)], 3, &[], &[]), vec![(1, true)]);
        assert_eq!(ids(&[(1, 1), (2, 2), (3, 3)], 3, &[], &[]), vec![(1, true)]);
        // tied first of six: both hold the flag; nobody scored: nobody crowned
        assert_eq!(
            champions(
                &[(1, 1), (2, 1), (3, 3), (4, 4), (5, 5), (6, 6)],
                &[],
                &[],
                1
            ),
            vec![(1, 1, true), (2, 1, true)]
        );
        assert_eq!(champions(&[(1, 1), (2, 1)], &[], &[1, 2], 3), vec![]);
        for (p, end) in [
            ("2026-Q3", "2026-09-30"),
            ("2026-Q4", "2026-12-31"),
            ("2026-H1", "2026-06-30"),
            ("2026-H2", "2026-12-31"),
        ] {
            assert_eq!(period_end(p).map(|d| d.to_string()).as_deref(), Some(end));
        }
        assert!(contest_scheme().validate().is_ok());
    }
}
