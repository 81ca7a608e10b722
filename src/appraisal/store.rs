//! 民主评议 rounds as stored: a round opened on the branch's roll, self-assessments, ballots
//! cast by code or entered from paper, the 评定 that computes and stores each member's result,
//! the handling of those in the last grade; a subtree's rounds and grade counts for a year.

use super::Rating;
use crate::audit::{self, NewEntry};
use crate::auth::{Perm, Principal};
use crate::db::{path_upper, DbResult, DbRow, Tx};
use crate::error::{AppError, AppResult};
use crate::org::Org;
use crate::{on_db, on_tx, Ctx};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// A member of a round: their self-assessment, what the ratings and the committee gave, the
/// result and, for the last grade, its handling.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = AppraisalEntry)]
pub struct Entry {
    pub member_id: i64,
    pub name: String,
    pub self_text: String,
    pub self_grade: String,
    pub self_at: Option<DateTime<Utc>>,
    /// `member` (their own) or `secretary` (entered from paper).
    pub self_by: String,
    /// The mean of the ratings received (民主测评), in tenths of a point, once decided. How many
    /// ratings and of which grade are never kept: a member rated by everyone but themselves
    /// would stand out as one who rated by code.
    pub peer_score: Option<i64>,
    /// 党员互评 comments received, without their authors (only for those who run the round).
    pub comments: Vec<String>,
    pub committee_grade: String,
    /// The weighted score in tenths of a point, once decided.
    pub score: Option<i64>,
    pub grade: String,
    /// Why the grade is below the bands' (the 优秀 share), if it is.
    pub grade_note: String,
    pub outcome: String,
    pub handling: String,
    pub handling_label: String,
    pub handling_note: String,
    pub handled_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Appraisal {
    pub id: i64,
    pub org_id: i64,
    pub org_name: String,
    pub year: i64,
    pub status: String,
    pub status_label: String,
    /// The 民主测评 code while rating (only for those who run the round).
    pub rate_code: Option<String>,
    pub meeting_id: Option<i64>,
    pub meeting_title: String,
    pub decided_on: Option<NaiveDate>,
    pub opened_at: DateTime<Utc>,
    /// Ballots cast (by code and on paper).
    pub ballots: i64,
    pub paper_ballots: i64,
    /// Members on the roll (a member reading the round sees only their own line of it).
    pub roll_size: i64,
    pub roll: Vec<Entry>,
    pub version: i64,
    #[serde(skip)]
    pub org_path: String,
}

/// A self-assessment: by the member, or entered by the secretary for one (`member_id`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[schema(as = AppraisalSelf)]
#[serde(default)]
pub struct SelfAssessment {
    /// Whose (default: the caller's own).
    pub member_id: Option<i64>,
    /// 个人自评: at least 20 characters, at most 2000.
    pub text: String,
    /// The grade the member gives themselves.
    pub grade: String,
}

/// 评定: the sitting it is decided at and the committee's grade of each member (a member left
/// out has no committee part).
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[schema(as = AppraisalDecision)]
#[serde(default)]
pub struct Decision {
    pub meeting_id: i64,
    pub grades: Vec<MemberGrade>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[schema(as = AppraisalMemberGrade)]
#[serde(default)]
pub struct MemberGrade {
    pub member_id: i64,
    pub grade: String,
}

/// The organisational handling of a member in the last grade.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[schema(as = AppraisalHandling)]
#[serde(default)]
pub struct Handling {
    pub member_id: i64,
    /// correct (限期改正), persuade (劝其退党) or expel (除名).
    pub handling: String,
    /// What was decided and done (required).
    pub note: String,
}

/// A ballot (by code: the caller's; on paper: `code` empty, entered by the secretary).
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[schema(as = AppraisalBallot)]
#[serde(default)]
pub struct Ballot {
    /// The round's six-digit code shown at the sitting (by code only).
    pub code: String,
    pub ratings: Vec<Rating>,
}

const HEAD: &str = "SELECT a.id, a.org_id, o.name AS org_name, o.path AS org_path, a.year, a.status, a.rate_code, a.meeting_id, COALESCE(m.title, '') AS meeting_title, \
    a.decided_on, a.created_at, a.version FROM appraisals a JOIN orgs o ON o.id = a.org_id LEFT JOIN meetings m ON m.id = a.meeting_id";

pub async fn load(ctx: &Ctx, id: i64) -> AppResult<Appraisal> {
    let sql = format!("{HEAD} WHERE a.id = $1");
    let (mut a, received) = on_db!(&ctx.db, x => {
        let Some(r) = sqlx::query(&sql).bind(id).fetch_optional(x).await? else {
            return Err(AppError::NotFound("民主评议"));
        };
        let status = r.string("status")?;
        let mut a = Appraisal {
            id: r.i64("id")?,
            org_id: r.i64("org_id")?,
            org_name: r.string("org_name")?,
            org_path: r.string("org_path")?,
            year: r.i64("year")?,
            status_label: super::status_label(&status).to_string(),
            status,
            rate_code: r.opt_string("rate_code")?,
            meeting_id: r.opt_i64("meeting_id")?,
            meeting_title: r.string("meeting_title")?,
            decided_on: r.opt_date("decided_on")?,
            opened_at: r.ts("created_at")?,
            ballots: 0,
            paper_ballots: 0,
            roll_size: 0,
            roll: Vec::new(),
            version: r.i64("version")?,
        };
        let b = sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) AS n, CAST(COALESCE(SUM(CASE WHEN via = 'paper' THEN 1 ELSE 0 END), 0) AS BIGINT) AS paper FROM appraisal_ballots WHERE appraisal_id = $1")
            .bind(id).fetch_one(x).await?;
        a.ballots = b.i64("n")?;
        a.paper_ballots = b.i64("paper")?;
        let rows = sqlx::query("SELECT member_id, name, self_text, self_grade, self_at, self_by, committee_grade, score, grade, grade_note, handling, handling_note, handled_on \
                                FROM appraisal_members WHERE appraisal_id = $1 ORDER BY member_id")
            .bind(id).fetch_all(x).await?;
        for r in rows {
            let handling = r.string("handling")?;
            a.roll.push(Entry {
                member_id: r.i64("member_id")?,
                name: r.string("name")?,
                self_text: r.string("self_text")?,
                self_grade: r.string("self_grade")?,
                self_at: r.opt_ts("self_at")?,
                self_by: r.string("self_by")?,
                peer_score: None,
                comments: Vec::new(),
                committee_grade: r.string("committee_grade")?,
                score: r.opt_i64("score")?,
                grade: r.string("grade")?,
                grade_note: r.string("grade_note")?,
                outcome: String::new(),
                handling_label: super::handling_label(&handling).to_string(),
                handling,
                handling_note: r.string("handling_note")?,
                handled_on: r.opt_date("handled_on")?,
            });
        }
        // the grades each member received (in the roll's order), read only for their mean
        let mut received: Vec<Vec<String>> = vec![Vec::new(); a.roll.len()];
        let rows = sqlx::query("SELECT member_id, grade, comment FROM appraisal_ratings WHERE appraisal_id = $1 ORDER BY ballot_id")
            .bind(id).fetch_all(x).await?;
        for r in rows {
            let mid = r.i64("member_id")?;
            if let Some(i) = a.roll.iter().position(|e| e.member_id == mid) {
                received[i].push(r.string("grade")?);
                let c = r.string("comment")?;
                if !c.trim().is_empty() {
                    a.roll[i].comments.push(c);
                }
            }
        }
        (a, received)
    });
    a.roll_size = a.roll.len() as i64;
    let rules = crate::meeting::store::rules_at(ctx, &a.org_path).await?;
    for (e, got) in a.roll.iter_mut().zip(&received) {
        let given: Vec<&str> = got.iter().map(String::as_str).collect();
        e.peer_score = super::parts("", &given, "", &rules)[1];
        e.outcome = rules
            .appraisal_grades
            .iter()
            .find(|g| g.name == e.grade)
            .map(|g| g.outcome.clone())
            .unwrap_or_default();
    }
    Ok(a)
}

/// Runs the round: meeting rights over the branch (its staff and the levels above).
pub fn runs(p: &Principal, a: &Appraisal) -> bool {
    p.can(Perm::MeetingWrite) && p.in_scope(&a.org_path)
}

/// The round as `p` may read it: those with meeting rights over the branch see all of it
/// (the code only when they run it); a member on its roll sees their own line, without who
/// rated them how. Anyone else: not found.
pub async fn open(ctx: &Ctx, p: &Principal, id: i64) -> AppResult<Appraisal> {
    let mut a = load(ctx, id).await?;
    let staff = p.can(Perm::MeetingRead) && p.in_scope(&a.org_path);
    let on_roll = p
        .member_id
        .is_some_and(|me| a.roll.iter().any(|e| e.member_id == me));
    if !staff && !on_roll {
        return Err(AppError::NotFound("民主评议"));
    }
    if !runs(p, &a) {
        a.rate_code = None;
    }
    if a.status != "decided" {
        // while ballots come in, a tally refreshed after each would tell who gave what
        for e in &mut a.roll {
            e.comments.clear();
            e.peer_score = None;
        }
    }
    if !staff {
        a.roll.retain(|e| Some(e.member_id) == p.member_id);
        if a.status != "decided" {
            for e in &mut a.roll {
                e.committee_grade.clear();
            }
        }
    }
    Ok(a)
}

async fn managed(ctx: &Ctx, p: &Principal, id: i64) -> AppResult<Appraisal> {
    let a = load(ctx, id).await?;
    if !p.in_scope(&a.org_path) {
        return Err(AppError::NotFound("民主评议"));
    }
    p.authorize(Perm::MeetingWrite, Some(&a.org_path))?;
    Ok(a)
}

fn bump(n: u64) -> AppResult<()> {
    if n == 1 {
        Ok(())
    } else {
        Err(AppError::Conflict(
            "该民主评议刚被修改，请刷新后重试".into(),
        ))
    }
}

fn closed(a: &Appraisal) -> AppResult<()> {
    match a.status.as_str() {
        "decided" => Err(AppError::refused(
            "appraisal.decided",
            format!("{}年度民主评议已评定，不能再修改", a.year),
        )),
        "cancelled" => Err(AppError::refused("appraisal.cancelled", "该民主评议已取消")),
        _ => Ok(()),
    }
}

async fn audit_it(
    tx: &mut Tx,
    p: &Principal,
    action: &'static str,
    id: i64,
    before: serde_json::Value,
    after: serde_json::Value,
) -> AppResult<()> {
    audit::append(
        tx,
        &p.actor(),
        NewEntry {
            action,
            object_type: "appraisal",
            object_id: id.to_string(),
            before,
            after,
        },
    )
    .await?;
    Ok(())
}

/// The branch, when `p` runs its meetings: a branch (not a 党小组) in `p`'s subtree.
async fn branch(ctx: &Ctx, p: &Principal, org_id: i64) -> AppResult<Org> {
    crate::meeting::store::branch_of(
        ctx,
        p,
        org_id,
        Perm::MeetingWrite,
        "appraisal.not_a_branch",
        "，民主评议由党支部组织",
    )
    .await
}

/// Opens a branch's round for a year (this year, or last year's until the end of March): the
/// roll is the branch's full and probationary members now. One round a year.
pub async fn create(ctx: &Ctx, p: &Principal, org_id: i64, year: i64) -> AppResult<Appraisal> {
    let org = branch(ctx, p, org_id).await?;
    let today = ctx.clock.today();
    let this = i64::from(today.year());
    if !(year == this || (year == this - 1 && today.month() <= 3)) {
        return Err(AppError::field(
            "year",
            format!("只能开展{this}年度的民主评议（上年度的可补到3月底）"),
        ));
    }
    let (_, roll) = crate::meeting::store::roster_of(ctx, p, org.id).await?;
    if roll.is_empty() {
        return Err(AppError::refused(
            "appraisal.empty",
            format!("{}没有党员，无法开展民主评议", org.name),
        ));
    }
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let id = on_tx!(&mut tx, x => {
        let busy = sqlx::query("SELECT id FROM appraisals WHERE org_id = $1 AND year = $2 AND status <> 'cancelled'")
            .bind(org.id).bind(year).fetch_optional(&mut *x).await?;
        if busy.is_some() {
            return Err(AppError::refused("appraisal.exists", format!("{}{}年度的民主评议已开展", org.name, year)));
        }
        let id = sqlx::query("INSERT INTO appraisals (org_id, year, status, created_by, created_at) VALUES ($1, $2, 'open', $3, $4) RETURNING id")
            .bind(org.id).bind(year).bind(p.account_id).bind(now).fetch_one(&mut *x).await?.i64("id")?;
        for m in &roll {
            sqlx::query("INSERT INTO appraisal_members (appraisal_id, member_id, name) VALUES ($1, $2, $3)")
                .bind(id).bind(m.id).bind(&m.name).execute(&mut *x).await?;
        }
        id
    });
    audit_it(
        &mut tx,
        p,
        "appraisal.create",
        id,
        serde_json::Value::Null,
        serde_json::json!({"org_id": org.id, "year": year, "roll": roll.iter().map(|m| m.id).collect::<Vec<_>>()}),
    )
    .await?;
    tx.commit().await?;
    open(ctx, p, id).await
}

/// 个人自评: a member on the roll writes their own (again, until the round is decided); the
/// secretary may enter one written on paper for a member.
pub async fn self_assess(
    ctx: &Ctx,
    p: &Principal,
    id: i64,
    s: &SelfAssessment,
) -> AppResult<Appraisal> {
    let a = load(ctx, id).await?;
    let whose = s.member_id.or(p.member_id).unwrap_or(0);
    let own = p.member_id == Some(whose);
    let on_roll = a.roll.iter().find(|e| e.member_id == whose);
    if own {
        if on_roll.is_none() {
            return Err(AppError::NotFound("民主评议"));
        }
    } else {
        if !p.in_scope(&a.org_path) {
            return Err(AppError::NotFound("民主评议"));
        }
        p.authorize(Perm::MeetingWrite, Some(&a.org_path))?;
        if on_roll.is_none() {
            return Err(AppError::field("member_id", "该党员不在本次民主评议名单中"));
        }
    }
    closed(&a)?;
    if !own && on_roll.is_some_and(|e| e.self_by == "member") {
        return Err(AppError::refused(
            "appraisal.self_written",
            format!(
                "{}已本人提交个人自评，不能代录覆盖",
                on_roll.map(|e| e.name.as_str()).unwrap_or("")
            ),
        ));
    }
    let rules = crate::meeting::store::rules_at(ctx, &a.org_path).await?;
    let text = s.text.trim();
    // what is written, not the spaces around it
    let n = crate::meeting::text_chars(text);
    if !(20..=2000).contains(&n) || text.chars().count() > 4000 {
        return Err(AppError::field("text", "个人自评须写20至2000字"));
    }
    super::check_grade("grade", &s.grade, &rules)?;
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    on_tx!(&mut tx, x => {
        sqlx::query("UPDATE appraisal_members SET self_text = $1, self_grade = $2, self_at = $3, self_by = $4 WHERE appraisal_id = $5 AND member_id = $6")
            .bind(text).bind(&s.grade).bind(now).bind(if own { "member" } else { "secretary" }).bind(id).bind(whose).execute(&mut *x).await?;
        let n = sqlx::query("UPDATE appraisals SET version = version + 1 WHERE id = $1 AND status IN ('open', 'rating')")
            .bind(id).execute(&mut *x).await?.rows_affected();
        bump(n)?;
    });
    audit_it(
        &mut tx,
        p,
        "appraisal.self",
        id,
        serde_json::Value::Null,
        serde_json::json!({"member_id": whose, "grade": s.grade, "chars": n, "by_secretary": !own}),
    )
    .await?;
    tx.commit().await?;
    open(ctx, p, id).await
}

/// A six-digit code no round being rated holds.
async fn fresh_code(tx: &mut Tx) -> AppResult<String> {
    for _ in 0..20 {
        let code = format!("{:06}", rand::random::<u32>() % 1_000_000);
        let taken = on_tx!(tx, x => {
            sqlx::query("SELECT 1 AS one FROM appraisals WHERE rate_code = $1").bind(&code).fetch_optional(&mut *x).await?.is_some()
        });
        if !taken {
            return Ok(code);
        }
    }
    Err(AppError::Internal("no free rating code".into()))
}

/// Opens the 民主测评: the code the members rate by.
pub async fn start_rating(ctx: &Ctx, p: &Principal, id: i64) -> AppResult<Appraisal> {
    let a = managed(ctx, p, id).await?;
    closed(&a)?;
    if a.status == "rating" {
        return Err(AppError::refused("appraisal.rating", "民主测评已开始"));
    }
    let mut tx = ctx.db.begin().await?;
    let code = fresh_code(&mut tx).await?;
    on_tx!(&mut tx, x => {
        let n = sqlx::query("UPDATE appraisals SET status = 'rating', rate_code = $1, version = version + 1 WHERE id = $2 AND version = $3 AND status = 'open'")
            .bind(&code).bind(id).bind(a.version).execute(&mut *x).await?.rows_affected();
        bump(n)?;
    });
    audit_it(
        &mut tx,
        p,
        "appraisal.rating",
        id,
        serde_json::json!({"status": a.status}),
        serde_json::json!({"status": "rating"}),
    )
    .await?;
    tx.commit().await?;
    open(ctx, p, id).await
}

/// The round a code opens, while rated, for a member on its roll (anyone else: a wrong code).
pub async fn by_code(ctx: &Ctx, p: &Principal, code: &str) -> AppResult<Appraisal> {
    let code: String = code.chars().filter(|c| c.is_ascii_digit()).collect();
    if code.len() != 6 {
        return Err(AppError::NotFound("测评码"));
    }
    let id = on_db!(&ctx.db, x => {
        sqlx::query("SELECT id FROM appraisals WHERE rate_code = $1 AND status = 'rating'").bind(&code).fetch_optional(x).await?
            .map(|r| r.i64("id")).transpose()?
    });
    let a = load(ctx, id.ok_or(AppError::NotFound("测评码"))?).await?;
    if !p
        .member_id
        .is_some_and(|me| a.roll.iter().any(|e| e.member_id == me))
    {
        return Err(AppError::NotFound("测评码"));
    }
    Ok(a)
}

/// Whether the member has cast their ballot in the round.
pub async fn has_rated(ctx: &Ctx, id: i64, member_id: i64) -> AppResult<bool> {
    Ok(on_db!(&ctx.db, x => {
        sqlx::query("SELECT member_id FROM appraisal_voters WHERE appraisal_id = $1 AND member_id = $2")
            .bind(id).bind(member_id).fetch_optional(x).await?.is_some()
    }))
}

async fn cast(
    ctx: &Ctx,
    p: &Principal,
    a: &Appraisal,
    rater: Option<i64>,
    ratings: &[Rating],
) -> AppResult<()> {
    let rules = crate::meeting::store::rules_at(ctx, &a.org_path).await?;
    let roll: Vec<(i64, String)> = a
        .roll
        .iter()
        .map(|e| (e.member_id, e.name.clone()))
        .collect();
    super::check_ballot(rater, &roll, ratings, &rules)?;
    let mut tx = ctx.db.begin().await?;
    let total = roll.len() as i64;
    // the ballot's id is random (never 0): its place among the others tells nothing
    let bid = (rand::random::<u64>() >> 2) as i64 + 1;
    on_tx!(&mut tx, x => {
        // first the round's row: concurrent ballots of one round wait here for each other
        let n = sqlx::query("UPDATE appraisals SET version = version + 1 WHERE id = $1 AND status = 'rating'")
            .bind(a.id).execute(&mut *x).await?.rows_affected();
        if n != 1 {
            return Err(AppError::refused("appraisal.not_rating", "民主测评未开始或已结束"));
        }
        if let Some(me) = rater {
            let n = sqlx::query("INSERT INTO appraisal_voters (appraisal_id, member_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(a.id).bind(me).execute(&mut *x).await?.rows_affected();
            if n != 1 {
                return Err(AppError::refused("appraisal.rated", "您已提交测评票，不能重复测评"));
            }
        }
        let cast = sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM appraisal_ballots WHERE appraisal_id = $1")
            .bind(a.id).fetch_one(&mut *x).await?.i64("n")?;
        if cast >= total {
            return Err(AppError::refused("appraisal.ballots_full",
                format!("测评票已收{cast}张，参评党员{total}人，不能再多")));
        }
        let via = if rater.is_some() { "code" } else { "paper" };
        sqlx::query("INSERT INTO appraisal_ballots (id, appraisal_id, via) VALUES ($1, $2, $3)")
            .bind(bid).bind(a.id).bind(via).execute(&mut *x).await?;
        for r in ratings {
            sqlx::query("INSERT INTO appraisal_ratings (ballot_id, appraisal_id, member_id, grade, comment) VALUES ($1, $2, $3, $4, $5)")
                .bind(bid).bind(a.id).bind(r.member_id).bind(&r.grade).bind(r.comment.trim()).execute(&mut *x).await?;
        }
    });
    // the ballot itself is secret: the record says that a member cast one (a second is
    // refused), never which
    audit_it(
        &mut tx,
        p,
        "appraisal.ballot",
        a.id,
        serde_json::Value::Null,
        serde_json::json!({"via": if rater.is_some() { "code" } else { "paper" }, "rater_id": rater, "lines": ratings.len()}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A member rates the others by the code shown at the sitting: once, the whole roll but
/// themselves.
pub async fn rate(ctx: &Ctx, p: &Principal, b: &Ballot) -> AppResult<Appraisal> {
    let Some(me) = p.member_id else {
        return Err(AppError::refused(
            "appraisal.not_a_member",
            "本账号未关联党员信息，不能参加民主测评",
        ));
    };
    let a = by_code(ctx, p, &b.code).await?;
    cast(ctx, p, &a, Some(me), &b.ratings).await?;
    open(ctx, p, a.id).await
}

/// The secretary enters a paper ballot (no name; the whole roll rated); never more ballots
/// than members on the roll.
pub async fn paper(ctx: &Ctx, p: &Principal, id: i64, b: &Ballot) -> AppResult<Appraisal> {
    let a = managed(ctx, p, id).await?;
    closed(&a)?;
    cast(ctx, p, &a, None, &b.ratings).await?;
    open(ctx, p, id).await
}

/// 评定 at a sitting of the branch (支委会, 党员大会, 组织生活会 or 民主评议, not cancelled,
/// held by today): the committee's grades stored, each member's score and grade computed with
/// the rules (the 优秀 share with its ties), the code closed.
pub async fn decide(ctx: &Ctx, p: &Principal, id: i64, d: &Decision) -> AppResult<Appraisal> {
    let a = managed(ctx, p, id).await?;
    closed(&a)?;
    let rules = crate::meeting::store::rules_at(ctx, &a.org_path).await?;
    let m = crate::meeting::store::load(ctx, d.meeting_id)
        .await
        .map_err(|_| AppError::field("meeting_id", "请选择进行评定的会议"))?;
    if m.org_id != a.org_id
        || !m
            .kinds
            .iter()
            .any(|k| matches!(k.as_str(), "committee" | "assembly" | "life" | "appraisal"))
    {
        return Err(AppError::field(
            "meeting_id",
            "评定须在本支部的支委会、党员大会、组织生活会或民主评议会上进行",
        ));
    }
    let opened = ctx.clock.zone().local(a.opened_at).date_naive();
    if !(m.status == "notified" || m.status == "filed")
        || m.held_on > ctx.clock.today()
        || m.held_on < opened
    {
        return Err(AppError::field(
            "meeting_id",
            format!("评定的会议须已通知召开（已登记参会情况），日期在本次评议开展（{opened}）之后、不晚于今天"),
        ));
    }
    let roll = a.roll.len() as i64;
    if a.ballots * 1000 < roll * rules.appraisal_min_ballots_permille {
        return Err(AppError::refused(
            "appraisal.few_ballots",
            format!(
                "民主测评收回测评票{}张，不足参评党员{roll}人的{}，请继续测评或录入纸质测评票",
                a.ballots,
                crate::meeting::share_words(rules.appraisal_min_ballots_permille)
            ),
        ));
    }
    let mut committee: Vec<(i64, String)> = Vec::new();
    for g in d.grades.iter().filter(|g| !g.grade.is_empty()) {
        if !a.roll.iter().any(|e| e.member_id == g.member_id)
            || committee.iter().any(|c| c.0 == g.member_id)
        {
            return Err(AppError::field(
                "grades",
                "支部评价须为本次评议的党员，每人一次",
            ));
        }
        super::check_grade("grades", &g.grade, &rules)?;
        committee.push((g.member_id, g.grade.clone()));
    }
    let mut scores = Vec::new();
    let mut none = Vec::new();
    for e in &a.roll {
        let cg = committee
            .iter()
            .find(|c| c.0 == e.member_id)
            .map(|c| c.1.as_str())
            .unwrap_or("");
        let mut parts = super::parts(&e.self_grade, &[], cg, &rules);
        parts[1] = e.peer_score;
        match super::weighted(parts, &rules) {
            Some(s) => scores.push((e.member_id, s)),
            None => none.push(e.name.as_str()),
        }
    }
    if !none.is_empty() {
        return Err(AppError::field(
            "grades",
            format!(
                "{}没有个人自评、民主测评和支部评价，无法评定，请给出支部评价",
                none.join("、")
            ),
        ));
    }
    let out = super::results(&scores, &rules);
    let snapshot = serde_json::json!({
        "self_permille": rules.appraisal_self_permille,
        "peer_permille": rules.appraisal_peer_permille,
        "committee_permille": rules.appraisal_committee_permille,
        "grades": rules.appraisal_grades,
        "excellent_share": rules.appraisal_excellent_share,
    });
    let mut tx = ctx.db.begin().await?;
    let by = p.account_id;
    on_tx!(&mut tx, x => {
        let n = sqlx::query("UPDATE appraisals SET status = 'decided', rate_code = NULL, meeting_id = $1, decided_on = $2, decided_by = $3, rules_json = $4, version = version + 1 \
                             WHERE id = $5 AND version = $6 AND status IN ('open', 'rating')")
            .bind(m.id).bind(m.held_on).bind(by).bind(snapshot.to_string()).bind(id).bind(a.version).execute(&mut *x).await?.rows_affected();
        bump(n)?;
        for o in &out {
            let cg = committee.iter().find(|c| c.0 == o.member_id).map(|c| c.1.as_str()).unwrap_or("");
            sqlx::query("UPDATE appraisal_members SET committee_grade = $1, score = $2, grade = $3, grade_note = $4 WHERE appraisal_id = $5 AND member_id = $6")
                .bind(cg).bind(o.total).bind(&o.grade).bind(&o.note).bind(id).bind(o.member_id).execute(&mut *x).await?;
        }
    });
    audit_it(
        &mut tx,
        p,
        "appraisal.decide",
        id,
        serde_json::json!({"status": a.status}),
        serde_json::json!({"status": "decided", "meeting_id": m.id,
            "results": out.iter().map(|o| serde_json::json!({"member_id": o.member_id, "score": o.total, "grade": o.grade})).collect::<Vec<_>>()}),
    )
    .await?;
    tx.commit().await?;
    open(ctx, p, id).await
}

/// Records the organisational handling of a member in the last grade.
pub async fn handle(ctx: &Ctx, p: &Principal, id: i64, h: &Handling) -> AppResult<Appraisal> {
    let a = managed(ctx, p, id).await?;
    if a.status != "decided" {
        return Err(AppError::refused(
            "appraisal.not_decided",
            "评定之后才能记录组织处置",
        ));
    }
    let rules = crate::meeting::store::rules_at(ctx, &a.org_path).await?;
    let last = rules
        .appraisal_grades
        .last()
        .map(|g| g.name.clone())
        .unwrap_or_default();
    let Some(e) = a.roll.iter().find(|e| e.member_id == h.member_id) else {
        return Err(AppError::field("member_id", "该党员不在本次民主评议名单中"));
    };
    if e.grade != last {
        return Err(AppError::refused(
            "appraisal.not_last",
            format!("{}的评定结果为{}，不需组织处置", e.name, e.grade),
        ));
    }
    if !e.handling.is_empty() {
        return Err(AppError::refused(
            "appraisal.handled",
            format!(
                "{}的组织处置已于{}记录（{}）",
                e.name,
                e.handled_on.map(|d| d.to_string()).unwrap_or_default(),
                e.handling_label
            ),
        ));
    }
    if super::handling_label(&h.handling).is_empty() {
        return Err(AppError::field(
            "handling",
            "处置方式须为限期改正、劝其退党或除名",
        ));
    }
    let note = h.note.trim();
    if note.is_empty() || note.chars().count() > 1000 {
        return Err(AppError::field(
            "note",
            "请写明处置决定和执行情况（1000字以内）",
        ));
    }
    let today = ctx.clock.today();
    let mut tx = ctx.db.begin().await?;
    on_tx!(&mut tx, x => {
        sqlx::query("UPDATE appraisal_members SET handling = $1, handling_note = $2, handled_on = $3 WHERE appraisal_id = $4 AND member_id = $5")
            .bind(&h.handling).bind(note).bind(today).bind(id).bind(h.member_id).execute(&mut *x).await?;
        let n = sqlx::query("UPDATE appraisals SET version = version + 1 WHERE id = $1 AND status = 'decided'")
            .bind(id).execute(&mut *x).await?.rows_affected();
        bump(n)?;
    });
    audit_it(
        &mut tx,
        p,
        "appraisal.handle",
        id,
        serde_json::json!({"handling": e.handling}),
        serde_json::json!({"member_id": h.member_id, "handling": h.handling}),
    )
    .await?;
    tx.commit().await?;
    open(ctx, p, id).await
}

/// Cancels a round not yet decided (its ballots stay on record with it).
pub async fn cancel(ctx: &Ctx, p: &Principal, id: i64) -> AppResult<Appraisal> {
    let a = managed(ctx, p, id).await?;
    closed(&a)?;
    let mut tx = ctx.db.begin().await?;
    on_tx!(&mut tx, x => {
        let n = sqlx::query("UPDATE appraisals SET status = 'cancelled', rate_code = NULL, version = version + 1 WHERE id = $1 AND version = $2")
            .bind(id).bind(a.version).execute(&mut *x).await?.rows_affected();
        bump(n)?;
    });
    audit_it(
        &mut tx,
        p,
        "appraisal.cancel",
        id,
        serde_json::json!({"status": a.status}),
        serde_json::json!({"status": "cancelled"}),
    )
    .await?;
    tx.commit().await?;
    open(ctx, p, id).await
}

/// A round in a subtree's list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = AppraisalRow)]
pub struct Row {
    pub id: i64,
    pub org_id: i64,
    pub org_name: String,
    pub status: String,
    pub status_label: String,
    pub roll: i64,
    pub ballots: i64,
    pub decided_on: Option<NaiveDate>,
    /// Members by grade (decided rounds), in the order of the rules' grades.
    pub grades: Vec<i64>,
    /// Members in the last grade whose handling is not recorded.
    pub unhandled: i64,
}

/// A subtree's rounds of a year and its members by grade.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = AppraisalBoard)]
pub struct Board {
    pub org_id: i64,
    pub org_name: String,
    pub year: i64,
    pub grade_names: Vec<String>,
    pub totals: Vec<i64>,
    pub rounds: Vec<Row>,
    /// Branches of the subtree, those with a round opened (not cancelled) and decided.
    pub branches: i64,
    pub started: i64,
    pub decided: i64,
}

pub async fn board(ctx: &Ctx, p: &Principal, org_id: Option<i64>, year: i64) -> AppResult<Board> {
    let org = crate::org::store::find(&ctx.db, org_id.unwrap_or(p.org_id))
        .await?
        .filter(|o| p.in_scope(&o.path))
        .ok_or(AppError::NotFound("党组织"))?;
    p.authorize(Perm::MeetingRead, Some(&org.path))?;
    let rules = crate::meeting::store::rules_at(ctx, &org.path).await?;
    let names: Vec<String> = rules
        .appraisal_grades
        .iter()
        .map(|g| g.name.clone())
        .collect();
    let last = names.last().cloned().unwrap_or_default();
    let hi = path_upper(&org.path);
    let (mut rounds, counts, branches, started, decided) = on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT a.id, a.org_id, o.name, a.status, a.decided_on, \
                                (SELECT CAST(COUNT(*) AS BIGINT) FROM appraisal_members e WHERE e.appraisal_id = a.id) AS roll, \
                                (SELECT CAST(COUNT(*) AS BIGINT) FROM appraisal_ballots b WHERE b.appraisal_id = a.id) AS ballots \
                                FROM appraisals a JOIN orgs o ON o.id = a.org_id \
                                WHERE o.path >= $1 AND o.path < $2 AND a.year = $3 AND a.status <> 'cancelled' ORDER BY o.path LIMIT 2000")
            .bind(&org.path).bind(&hi).bind(year).fetch_all(x).await?;
        let rounds = rows.iter().map(|r| {
            let status = r.string("status")?;
            Ok(Row {
                id: r.i64("id")?,
                org_id: r.i64("org_id")?,
                org_name: r.string("name")?,
                status_label: super::status_label(&status).to_string(),
                status,
                roll: r.i64("roll")?,
                ballots: r.i64("ballots")?,
                decided_on: r.opt_date("decided_on")?,
                grades: vec![0; names.len()],
                unhandled: 0,
            })
        }).collect::<DbResult<Vec<_>>>()?;
        let rows = sqlx::query("SELECT e.appraisal_id, e.grade, e.handling, CAST(COUNT(*) AS BIGINT) AS n FROM appraisal_members e JOIN appraisals a ON a.id = e.appraisal_id JOIN orgs o ON o.id = a.org_id \
                                WHERE o.path >= $1 AND o.path < $2 AND a.year = $3 AND a.status = 'decided' GROUP BY e.appraisal_id, e.grade, e.handling")
            .bind(&org.path).bind(&hi).bind(year).fetch_all(x).await?;
        let counts = rows.iter().map(|r| Ok((r.i64("appraisal_id")?, r.string("grade")?, r.string("handling")?, r.i64("n")?)))
            .collect::<DbResult<Vec<_>>>()?;
        let branches = sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM orgs WHERE path >= $1 AND path < $2 AND kind IN ('branch', 'joint_branch') AND dissolved_at IS NULL")
            .bind(&org.path).bind(&hi).fetch_one(x).await?.i64("n")?;
        // counted whole (the list above stops at 2000)
        let c = sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) AS started, CAST(COALESCE(SUM(CASE WHEN a.status = 'decided' THEN 1 ELSE 0 END), 0) AS BIGINT) AS decided \
                             FROM appraisals a JOIN orgs o ON o.id = a.org_id WHERE o.path >= $1 AND o.path < $2 AND a.year = $3 AND a.status <> 'cancelled'")
            .bind(&org.path).bind(&hi).bind(year).fetch_one(x).await?;
        (rounds, counts, branches, c.i64("started")?, c.i64("decided")?)
    });
    let mut totals = vec![0; names.len()];
    for (aid, grade, handling, n) in counts {
        let Some(i) = names.iter().position(|g| *g == grade) else {
            continue;
        };
        totals[i] += n;
        if let Some(r) = rounds.iter_mut().find(|r| r.id == aid) {
            r.grades[i] += n;
            if grade == last && handling.is_empty() {
                r.unhandled += n;
            }
        }
    }
    Ok(Board {
        org_id: org.id,
        org_name: org.name,
        year,
        grade_names: names,
        totals,
        rounds,
        branches,
        started,
        decided,
    })
}

/// A member's result of one year (their record).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = AppraisalResult)]
pub struct Result1 {
    pub appraisal_id: i64,
    pub year: i64,
    pub org_name: String,
    pub grade: String,
    pub handling_label: String,
    pub handling_note: String,
}

/// A member's results, newest first.
pub async fn results_of(ctx: &Ctx, member_id: i64) -> AppResult<Vec<Result1>> {
    Ok(on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT a.id, a.year, o.name, e.grade, e.handling, e.handling_note FROM appraisal_members e JOIN appraisals a ON a.id = e.appraisal_id JOIN orgs o ON o.id = a.org_id \
                                WHERE e.member_id = $1 AND a.status = 'decided' ORDER BY a.year DESC LIMIT 20")
            .bind(member_id).fetch_all(x).await?;
        rows.iter().map(|r| Ok(Result1 {
            appraisal_id: r.i64("id")?,
            year: r.i64("year")?,
            org_name: r.string("name")?,
            grade: r.string("grade")?,
            handling_label: super::handling_label(&r.string("handling")?).to_string(),
            handling_note: r.string("handling_note")?,
        })).collect::<DbResult<Vec<_>>>()?
    }))
}

/// A round the member takes part in: under way (with what they still owe), or decided this
/// year or last (with their result).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = AppraisalMine)]
pub struct Mine {
    pub id: i64,
    pub org_name: String,
    pub year: i64,
    pub status: String,
    pub status_label: String,
    pub self_done: bool,
    pub rated: bool,
    /// The member's result, once decided.
    pub grade: String,
}

pub async fn mine(ctx: &Ctx, p: &Principal) -> AppResult<Vec<Mine>> {
    let Some(me) = p.member_id else {
        return Ok(Vec::new());
    };
    Ok(on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT a.id, o.name, a.year, a.status, e.self_at, \
                                (SELECT CAST(COUNT(*) AS BIGINT) FROM appraisal_voters v WHERE v.appraisal_id = a.id AND v.member_id = $1) AS rated, e.grade \
                                FROM appraisal_members e JOIN appraisals a ON a.id = e.appraisal_id JOIN orgs o ON o.id = a.org_id \
                                WHERE e.member_id = $1 AND (a.status IN ('open', 'rating') OR (a.status = 'decided' AND a.year >= $2)) ORDER BY a.id DESC LIMIT 5")
            .bind(me).bind(i64::from(ctx.clock.today().year()) - 1).fetch_all(x).await?;
        rows.iter().map(|r| {
            let status = r.string("status")?;
            Ok(Mine {
                id: r.i64("id")?,
                org_name: r.string("name")?,
                year: r.i64("year")?,
                status_label: super::status_label(&status).to_string(),
                status,
                self_done: r.opt_ts("self_at")?.is_some(),
                rated: r.i64("rated")? > 0,
                grade: r.string("grade")?,
            })
        }).collect::<DbResult<Vec<_>>>()?
    }))
}

/// 工作台 of those who run rounds: rounds of their subtree not decided, and members in the
/// last grade whose handling is not recorded.
pub async fn pending(ctx: &Ctx, p: &Principal) -> AppResult<Vec<(i64, String, String, i64)>> {
    let own = crate::org::store::get(&ctx.db, p.org_id).await?;
    let hi = path_upper(&own.path);
    let year = i64::from(ctx.clock.today().year());
    let last = crate::meeting::store::rules_at(ctx, &own.path)
        .await?
        .appraisal_grades
        .last()
        .map(|g| g.name.clone())
        .unwrap_or_default();
    Ok(on_db!(&ctx.db, x => {
        // rounds under way, then the few members in the last grade without handling (by the
        // grade index: a year of decided rounds is never read whole)
        let rows = sqlx::query("SELECT a.id, o.name, a.status FROM appraisals a JOIN orgs o ON o.id = a.org_id \
                                WHERE o.path >= $1 AND o.path < $2 AND a.year >= $3 AND a.status IN ('open', 'rating') ORDER BY a.id LIMIT 100")
            .bind(&own.path).bind(&hi).bind(year - 1).fetch_all(x).await?;
        let mut out = rows.iter().map(|r| Ok((r.i64("id")?, r.string("name")?, r.string("status")?, 0)))
            .collect::<DbResult<Vec<_>>>()?;
        let rows = sqlx::query("SELECT a.id, o.name, CAST(COUNT(*) AS BIGINT) AS n FROM appraisal_members e JOIN appraisals a ON a.id = e.appraisal_id JOIN orgs o ON o.id = a.org_id \
                                WHERE e.grade = $4 AND e.handling = '' AND a.status = 'decided' AND a.year >= $3 AND o.path >= $1 AND o.path < $2 \
                                GROUP BY a.id, o.name ORDER BY a.id LIMIT 100")
            .bind(&own.path).bind(&hi).bind(year - 1).bind(&last).fetch_all(x).await?;
        for r in rows {
            out.push((r.i64("id")?, r.string("name")?, "decided".to_string(), r.i64("n")?));
        }
        out
    }))
}

/// The sittings of the branch a round may be decided at (held in the round's year or after,
/// by today, not cancelled).
pub async fn sittings(ctx: &Ctx, a: &Appraisal) -> AppResult<Vec<(i64, String, NaiveDate)>> {
    let from = NaiveDate::from_ymd_opt(a.year as i32, 1, 1).unwrap_or_default();
    Ok(on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT id, title, held_on, kinds FROM meetings WHERE org_id = $1 AND status <> 'cancelled' AND held_on >= $2 AND held_on <= $3 ORDER BY held_on DESC LIMIT 50")
            .bind(a.org_id).bind(from).bind(ctx.clock.today()).fetch_all(x).await?;
        let mut out = Vec::new();
        for r in rows {
            if crate::meeting::parse_kinds(&r.string("kinds")?).iter().any(|k| matches!(k.as_str(), "committee" | "assembly" | "life" | "appraisal")) {
                out.push((r.i64("id")?, r.string("title")?, r.date("held_on")?));
            }
        }
        out
    }))
}
