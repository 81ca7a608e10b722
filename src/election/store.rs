//! Elections and 延期 as stored: preparing an election (seats, candidates, the assembly it is
//! held at), recording its count against that sitting's roll, the level above's 批复 that
//! replaces the committee and starts the term, and the terms due in a subtree.

use super::{Ballots, Candidate, EXTENSION_STATUSES};
use crate::audit::{self, NewEntry};
use crate::auth::{Perm, Principal};
use crate::db::{path_upper, DbResult, DbRow};
use crate::error::{AppError, AppResult};
use crate::org::Org;
use crate::{on_db, on_tx, Ctx};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// An election as prepared.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[schema(as = NewElection)]
#[serde(default)]
pub struct NewElection {
    /// The branch electing its committee.
    pub org_id: i64,
    /// The 党员大会 it is held at (a sitting of the branch's whole roll).
    pub meeting_id: i64,
    /// 应选名额: the committee's seats.
    pub seats: i64,
    /// The candidates (full members of the branch with voting rights).
    pub candidates: Vec<i64>,
}

/// The count of an election as recorded after the vote.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[schema(as = ElectionCount)]
#[serde(default)]
pub struct Count {
    /// Ballots returned (at most those issued, one per voting member present).
    pub ballots_returned: i64,
    pub ballots_invalid: i64,
    /// Each candidate's votes.
    pub votes: Vec<CandidateVotes>,
    /// The 书记 chosen among those elected.
    pub secretary: i64,
    /// 副书记 (none, one or two) among those elected.
    pub deputies: Vec<i64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct CandidateVotes {
    pub member_id: i64,
    pub votes: i64,
}

/// The level above's decision.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[schema(as = ElectionDecision)]
#[serde(default)]
pub struct Decision {
    pub approve: bool,
    /// 批复文号 (when approving).
    pub approval_no: String,
    /// The day of the 批复 (default: today).
    pub approved_on: Option<NaiveDate>,
    /// The reason (required when returning).
    pub note: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Election {
    pub id: i64,
    pub org_id: i64,
    pub org_name: String,
    pub parent_id: Option<i64>,
    pub meeting_id: Option<i64>,
    pub meeting_title: String,
    pub seats: i64,
    pub status: String,
    pub status_label: String,
    pub candidates: Vec<Candidate>,
    pub voting_expected: i64,
    pub voting_present: i64,
    pub ballots_returned: i64,
    pub ballots_invalid: i64,
    pub held_on: Option<NaiveDate>,
    pub recorded_at: Option<DateTime<Utc>>,
    pub approval_no: String,
    pub approved_on: Option<NaiveDate>,
    pub decision_note: String,
    /// 差额: the fewest candidates the rules allow for the seats.
    pub min_candidates: i64,
    /// Seats the count left unfilled (另行选举).
    pub unfilled: i64,
    pub version: i64,
    #[serde(skip)]
    pub org_path: String,
}

const COLUMNS: &str = "e.id, e.org_id, o.name AS org_name, o.path AS org_path, o.parent_id, e.meeting_id, COALESCE(m.title, '') AS meeting_title, \
    e.seats, e.status, e.candidates_json, e.voting_expected, e.voting_present, e.ballots_returned, e.ballots_invalid, e.held_on, e.recorded_at, \
    e.approval_no, e.approved_on, e.decision_note, e.version";

fn election_of(r: &impl DbRow, margin: i64) -> DbResult<Election> {
    let status = r.string("status")?;
    let candidates: Vec<Candidate> =
        serde_json::from_str(&r.string("candidates_json")?).unwrap_or_default();
    let seats = r.i64("seats")?;
    let elected = candidates.iter().filter(|c| c.elected).count() as i64;
    let counted = matches!(status.as_str(), "reported" | "approved" | "returned");
    Ok(Election {
        id: r.i64("id")?,
        org_id: r.i64("org_id")?,
        org_name: r.string("org_name")?,
        org_path: r.string("org_path")?,
        parent_id: r.opt_i64("parent_id")?,
        meeting_id: r.opt_i64("meeting_id")?,
        meeting_title: r.string("meeting_title")?,
        seats,
        status_label: super::status_label(&status).to_string(),
        status,
        candidates,
        voting_expected: r.i64("voting_expected")?,
        voting_present: r.i64("voting_present")?,
        ballots_returned: r.i64("ballots_returned")?,
        ballots_invalid: r.i64("ballots_invalid")?,
        held_on: r.opt_date("held_on")?,
        recorded_at: r.opt_ts("recorded_at")?,
        approval_no: r.string("approval_no")?,
        approved_on: r.opt_date("approved_on")?,
        decision_note: r.string("decision_note")?,
        min_candidates: super::min_candidates(seats, margin),
        unfilled: if counted { (seats - elected).max(0) } else { 0 },
        version: r.i64("version")?,
    })
}

pub async fn load(ctx: &Ctx, id: i64) -> AppResult<Election> {
    let sql = format!(
        "SELECT {COLUMNS} FROM elections e JOIN orgs o ON o.id = e.org_id LEFT JOIN meetings m ON m.id = e.meeting_id WHERE e.id = $1"
    );
    // read once; the 差额 minimum follows from the rules at the branch's path
    let mut e = on_db!(&ctx.db, x => {
        match sqlx::query(&sql).bind(id).fetch_optional(x).await? {
            Some(r) => election_of(&r, 0)?,
            None => return Err(AppError::NotFound("换届选举")),
        }
    });
    let rules = crate::meeting::store::rules_at(ctx, &e.org_path).await?;
    e.min_candidates = super::min_candidates(e.seats, rules.election_margin_permille);
    Ok(e)
}

/// The level above the organisation: whoever manages meetings there decides.
fn decides(p: &Principal, parent_path: Option<&str>) -> bool {
    parent_path.is_some_and(|pp| p.can(Perm::MeetingWrite) && p.in_scope(pp))
}

async fn parent_path(ctx: &Ctx, parent_id: Option<i64>) -> AppResult<Option<String>> {
    Ok(match parent_id {
        Some(id) => crate::org::store::find(&ctx.db, id).await?.map(|o| o.path),
        None => None,
    })
}

/// The election as `p` may read it: meeting rights over the branch (its own staff and the
/// levels above). Anyone else: not found.
pub async fn open(ctx: &Ctx, p: &Principal, id: i64) -> AppResult<Election> {
    let e = load(ctx, id).await?;
    if !(p.can(Perm::MeetingRead) && p.in_scope(&e.org_path)) {
        return Err(AppError::NotFound("换届选举"));
    }
    Ok(e)
}

/// What `p` may do with an election: run it (the branch's staff and above) and decide it
/// (the level above).
pub async fn powers(ctx: &Ctx, p: &Principal, e: &Election) -> AppResult<(bool, bool)> {
    let runs = p.can(Perm::MeetingWrite) && p.in_scope(&e.org_path);
    let pp = parent_path(ctx, e.parent_id).await?;
    Ok((runs, decides(p, pp.as_deref())))
}

async fn managed(ctx: &Ctx, p: &Principal, id: i64) -> AppResult<Election> {
    let e = load(ctx, id).await?;
    if !p.in_scope(&e.org_path) {
        return Err(AppError::NotFound("换届选举"));
    }
    p.authorize(Perm::MeetingWrite, Some(&e.org_path))?;
    Ok(e)
}

/// The branch, when `p` runs its meetings: a branch (not a 党小组) in `p`'s subtree.
async fn branch(ctx: &Ctx, p: &Principal, org_id: i64) -> AppResult<Org> {
    crate::meeting::store::branch_of(
        ctx,
        p,
        org_id,
        Perm::MeetingWrite,
        "election.not_a_branch",
        "，不在此选举支部委员会",
    )
    .await
}

/// The branch's full members with voting rights (the electorate and who may stand).
async fn electorate(ctx: &Ctx, p: &Principal, org: &Org) -> AppResult<Vec<(i64, String)>> {
    let (_, roll) = crate::meeting::store::roster_of(ctx, p, org.id).await?;
    Ok(roll
        .into_iter()
        .filter(|r| r.voting)
        .map(|r| (r.id, r.name))
        .collect())
}

/// The form of a new election: the branch, who may stand, and its assemblies to hold it at.
pub struct Prepare {
    pub org: Org,
    pub electorate: Vec<(i64, String)>,
    pub assemblies: Vec<(i64, String, NaiveDate)>,
}

pub async fn prepare_form(ctx: &Ctx, p: &Principal, org_id: i64) -> AppResult<Prepare> {
    let org = branch(ctx, p, org_id).await?;
    let electorate = electorate(ctx, p, &org).await?;
    let assemblies = on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT id, title, held_on, kinds FROM meetings WHERE org_id = $1 AND status IN ('planned', 'notified') AND held_on >= $2 ORDER BY held_on")
            .bind(org.id).bind(ctx.clock.today() - chrono::Duration::days(30)).fetch_all(x).await?;
        let mut out = Vec::new();
        for r in rows {
            if crate::meeting::parse_kinds(&r.string("kinds")?).iter().any(|k| k == "assembly") {
                out.push((r.i64("id")?, r.string("title")?, r.date("held_on")?));
            }
        }
        out
    });
    Ok(Prepare {
        org,
        electorate,
        assemblies,
    })
}

/// Prepares an election: seats within the committee's bounds (branch rules), candidates full
/// members with voting rights, 差额 by the rules, held at a 党员大会 of the branch's whole roll
/// not yet filed. One election under way per branch.
pub async fn create(ctx: &Ctx, p: &Principal, input: &NewElection) -> AppResult<Election> {
    let org = branch(ctx, p, input.org_id).await?;
    let (branch_rules, _) =
        crate::rules::effective::<crate::rules::BranchRules>(&ctx.db, &org.path).await?;
    let rules = crate::meeting::store::rules_at(ctx, &org.path).await?;
    if !(branch_rules.committee_min..=branch_rules.committee_hard_max).contains(&input.seats) {
        return Err(AppError::field(
            "seats",
            format!(
                "支部委员会应选名额须在{}至{}名之间",
                branch_rules.committee_min, branch_rules.committee_hard_max
            ),
        ));
    }
    let electorate = electorate(ctx, p, &org).await?;
    let mut candidates = Vec::new();
    for id in &input.candidates {
        if candidates.iter().any(|c: &Candidate| c.member_id == *id) {
            return Err(AppError::field("candidates", "候选人重复"));
        }
        let Some((_, name)) = electorate.iter().find(|(m, _)| m == id) else {
            return Err(AppError::field(
                "candidates",
                "候选人须为本支部有选举权和被选举权的正式党员",
            ));
        };
        candidates.push(Candidate {
            member_id: *id,
            name: name.clone(),
            ..Candidate::default()
        });
    }
    super::check_margin(input.seats, candidates.len() as i64, &rules)?;
    let m = sitting(ctx, org.id, input.meeting_id, None).await?;
    if !(m.status == "planned" || m.status == "notified") {
        return Err(AppError::field(
            "meeting_id",
            "该党员大会已签字归档，请另行安排",
        ));
    }
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let json = serde_json::to_string(&candidates).map_err(|e| AppError::Internal(e.to_string()))?;
    let id = on_tx!(&mut tx, x => {
        let busy = sqlx::query("SELECT id FROM elections WHERE org_id = $1 AND status IN ('prepared', 'reported')")
            .bind(org.id).fetch_optional(&mut *x).await?;
        if busy.is_some() {
            return Err(AppError::refused("election.under_way", format!("{}已有一次换届选举正在进行", org.name)));
        }
        sqlx::query("INSERT INTO elections (org_id, meeting_id, seats, status, candidates_json, created_by, created_at) VALUES ($1, $2, $3, 'prepared', $4, $5, $6) RETURNING id")
            .bind(org.id).bind(m.id).bind(input.seats).bind(&json).bind(p.account_id).bind(now)
            .fetch_one(&mut *x).await?.i64("id")?
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "election.create",
            object_type: "election",
            object_id: id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"org_id": org.id, "meeting_id": m.id, "seats": input.seats,
                "candidates": candidates.iter().map(|c| c.member_id).collect::<Vec<_>>()}),
        },
    )
    .await?;
    tx.commit().await?;
    load(ctx, id).await
}

/// The assembly an election is held at, checked each time it is used (its kinds and invitees
/// can change until the notice): the branch's own 党员大会, of the whole roll, not cancelled,
/// and no other election under way or approved on it.
async fn sitting(
    ctx: &Ctx,
    org_id: i64,
    meeting_id: i64,
    this: Option<i64>,
) -> AppResult<crate::meeting::store::Meeting> {
    let m = crate::meeting::store::load(ctx, meeting_id)
        .await
        .map_err(|_| AppError::field("meeting_id", "请选择召开选举的党员大会"))?;
    if m.org_id != org_id || !m.kinds.iter().any(|k| k == "assembly") {
        return Err(AppError::field(
            "meeting_id",
            "选举须在本支部的党员大会上进行",
        ));
    }
    if m.status == "cancelled" {
        return Err(AppError::field(
            "meeting_id",
            "该党员大会已取消，请另行安排",
        ));
    }
    if !crate::meeting::store::invitees_of(ctx, m.id)
        .await?
        .is_empty()
    {
        return Err(AppError::field(
            "meeting_id",
            "选举大会须通知全体党员参加（该会议只邀请了部分党员）",
        ));
    }
    let other = on_db!(&ctx.db, x => {
        sqlx::query("SELECT id FROM elections WHERE meeting_id = $1 AND status IN ('prepared', 'reported', 'approved') AND id <> $2")
            .bind(m.id).bind(this.unwrap_or(0)).fetch_optional(x).await?.is_some()
    });
    if other {
        return Err(AppError::field(
            "meeting_id",
            "该党员大会已用于另一次换届选举",
        ));
    }
    Ok(m)
}

/// Refuses when a candidate (or, with `elected_only`, one elected) no longer has the right to
/// stand (not a full member of the branch, or under 留党察看 since the election was prepared).
async fn still_eligible(
    ctx: &Ctx,
    p: &Principal,
    org_id: i64,
    candidates: &[Candidate],
    elected_only: bool,
) -> AppResult<()> {
    let org = crate::org::store::get(&ctx.db, org_id).await?;
    let electorate = electorate(ctx, p, &org).await?;
    let gone: Vec<&str> = candidates
        .iter()
        .filter(|c| !elected_only || c.elected)
        .filter(|c| !electorate.iter().any(|(m, _)| *m == c.member_id))
        .map(|c| c.name.as_str())
        .collect();
    if !gone.is_empty() {
        return Err(AppError::refused(
            "election.ineligible",
            format!(
                "{}已不具有被选举权（不是本支部正式党员或受留党察看处分），请取消本次选举后重新筹备",
                gone.join("、")
            ),
        ));
    }
    Ok(())
}

fn bump(n: u64) -> AppResult<()> {
    if n == 1 {
        Ok(())
    } else {
        Err(AppError::Conflict("该选举刚被修改，请刷新后重试".into()))
    }
}

/// Records the count: the assembly's roll gives those entitled and present (more than ⅘, or
/// the election is void and nothing is written); ballots and votes must add up; those elected
/// and their roles (one 书记, at most two 副书记, among the elected); then it is reported to
/// the level above.
pub async fn record(ctx: &Ctx, p: &Principal, id: i64, input: &Count) -> AppResult<Election> {
    let e = managed(ctx, p, id).await?;
    if e.status != "prepared" {
        return Err(AppError::refused(
            "election.recorded",
            "选举结果已记录，不能再次记录",
        ));
    }
    let rules = crate::meeting::store::rules_at(ctx, &e.org_path).await?;
    let meeting_id = e.meeting_id.ok_or(AppError::NotFound("党员大会"))?;
    let m = sitting(ctx, e.org_id, meeting_id, Some(e.id)).await?;
    if m.status != "notified" && m.status != "filed" {
        return Err(AppError::refused(
            "election.not_held",
            format!("党员大会“{}”尚未通知参会并签到，无法计票", m.title),
        ));
    }
    still_eligible(ctx, p, e.org_id, &e.candidates, false).await?;
    if input.ballots_returned < 1 {
        return Err(AppError::field("ballots_returned", "请填写收回的选票数"));
    }
    let roll = m.roll_now();
    let (expected, present) = (roll.voting_expected, roll.voting_present);
    super::check_present(expected, present, &rules)?;
    let mut candidates = e.candidates.clone();
    for (i, v) in input.votes.iter().enumerate() {
        if !candidates.iter().any(|c| c.member_id == v.member_id) {
            return Err(AppError::field("votes", "计票中有不在候选人名单上的人"));
        }
        if input.votes[..i].iter().any(|w| w.member_id == v.member_id) {
            return Err(AppError::field("votes", "同一候选人的得票填写了两次"));
        }
    }
    if input.votes.len() != candidates.len() {
        return Err(AppError::field(
            "votes",
            "请填写每位候选人的得票（没有得票的填0）",
        ));
    }
    let mut deputies = input.deputies.clone();
    deputies.sort_unstable();
    deputies.dedup();
    for c in candidates.iter_mut() {
        c.votes = input
            .votes
            .iter()
            .find(|v| v.member_id == c.member_id)
            .map_or(0, |v| v.votes);
        c.role.clear();
    }
    let out = super::tally(
        e.seats,
        Ballots {
            issued: present,
            returned: input.ballots_returned,
            invalid: input.ballots_invalid,
        },
        &mut candidates,
        &rules,
    )?;
    let (br, _) =
        crate::rules::effective::<crate::rules::BranchRules>(&ctx.db, &e.org_path).await?;
    let n_elected = candidates.iter().filter(|c| c.elected).count() as i64;
    if n_elected < br.committee_min {
        let tie = if out.tied.is_empty() {
            String::new()
        } else {
            format!("；{}得票相等，应就他们再次投票", out.tied.join("、"))
        };
        return Err(AppError::refused(
            "election.too_few_elected",
            format!(
                "得票超过实到会有选举权人数半数的只有{}名，少于支部委员会最少{}名{}；应就不足的名额另行选举，以最终结果记录",
                n_elected, br.committee_min, tie
            ),
        ));
    }
    let elected = |id: i64| candidates.iter().any(|c| c.member_id == id && c.elected);
    if candidates.iter().any(|c| c.elected) {
        if !elected(input.secretary) {
            return Err(AppError::field("secretary", "书记须从当选委员中产生"));
        }
        if deputies.len() > 2
            || deputies
                .iter()
                .any(|d| !elected(*d) || *d == input.secretary)
        {
            return Err(AppError::field(
                "deputies",
                "副书记须从当选委员中产生（不超过2名，且不是书记）",
            ));
        }
    }
    for c in candidates.iter_mut().filter(|c| c.elected) {
        c.role = if c.member_id == input.secretary {
            "secretary"
        } else if deputies.contains(&c.member_id) {
            "deputy"
        } else {
            "member"
        }
        .into();
    }
    let json = serde_json::to_string(&candidates).map_err(|e| AppError::Internal(e.to_string()))?;
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let n = on_tx!(&mut tx, x => {
        sqlx::query("UPDATE elections SET status = 'reported', candidates_json = $1, voting_expected = $2, voting_present = $3, ballots_returned = $4, ballots_invalid = $5, \
                     held_on = $6, recorded_at = $7, recorded_by = $8, version = version + 1 WHERE id = $9 AND version = $10")
            .bind(&json).bind(expected).bind(present).bind(input.ballots_returned).bind(input.ballots_invalid)
            .bind(m.held_on).bind(now).bind(p.account_id).bind(id).bind(e.version)
            .execute(&mut *x).await?.rows_affected()
    });
    bump(n)?;
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "election.record",
            object_type: "election",
            object_id: id.to_string(),
            before: serde_json::json!({"status": e.status}),
            after: serde_json::json!({"status": "reported", "voting_expected": expected, "voting_present": present,
                "ballots_returned": input.ballots_returned, "ballots_invalid": input.ballots_invalid,
                "votes": candidates.iter().map(|c| serde_json::json!([c.member_id, c.votes, c.elected, c.role])).collect::<Vec<_>>(),
                "unfilled": out.unfilled, "tied": out.tied}),
        },
    )
    .await?;
    tx.commit().await?;
    load(ctx, id).await
}

/// The level above decides a reported election. Approving (with its 批复文号 and day) replaces
/// the committee roster with those elected, and starts the new term on the day of the
/// election (any 延期 of the old term lapses); it needs at least the committee's minimum
/// elected. Returning needs the reason; the branch then prepares a new election.
pub async fn decide(ctx: &Ctx, p: &Principal, id: i64, d: &Decision) -> AppResult<Election> {
    let e = load(ctx, id).await?;
    let pp = parent_path(ctx, e.parent_id).await?;
    if !p.in_scope(&e.org_path) {
        return Err(AppError::NotFound("换届选举"));
    }
    if !decides(p, pp.as_deref()) {
        return Err(AppError::Forbidden("上级党组织才能批复".into()));
    }
    if e.status != "reported" {
        return Err(AppError::refused(
            "election.not_reported",
            "该选举未报请批复，或已经批复",
        ));
    }
    let note = crate::meeting::clean(&d.note);
    let no = crate::meeting::clean(&d.approval_no);
    let today = ctx.clock.today();
    let on = d.approved_on.unwrap_or(today);
    let held = e.held_on.unwrap_or(today);
    let elected: Vec<&Candidate> = e.candidates.iter().filter(|c| c.elected).collect();
    if d.approve {
        if no.is_empty() || no.chars().count() > 100 {
            return Err(AppError::field(
                "approval_no",
                "请填写批复文号（100字以内）",
            ));
        }
        if on < held || on > today {
            return Err(AppError::field(
                "approved_on",
                format!("批复日期须在选举日（{held}）至今天之间"),
            ));
        }
        let org = crate::org::store::get(&ctx.db, e.org_id).await?;
        let (br, _) =
            crate::rules::effective::<crate::rules::BranchRules>(&ctx.db, &org.path).await?;
        if org.term_start.is_some_and(|t| held < t) {
            return Err(AppError::refused(
                "election.older_than_term",
                format!(
                    "选举日期（{held}）早于本届任期开始日期（{}），不能批复",
                    org.term_start.map(|t| t.to_string()).unwrap_or_default()
                ),
            ));
        }
        let chosen: Vec<Candidate> = elected.iter().map(|c| (*c).clone()).collect();
        still_eligible(ctx, p, e.org_id, &chosen, true).await?;
        if (elected.len() as i64) < br.committee_min {
            return Err(AppError::refused(
                "election.too_few_elected",
                format!(
                    "当选委员{}名，少于支部委员会最少{}名，应另行选举后再报批",
                    elected.len(),
                    br.committee_min
                ),
            ));
        }
    } else if note.is_empty() || note.chars().count() > 500 {
        return Err(AppError::field("note", "请填写不予批复的理由（500字以内）"));
    }
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let status = if d.approve { "approved" } else { "returned" };
    let n = on_tx!(&mut tx, x => {
        let n = sqlx::query("UPDATE elections SET status = $1, approval_no = $2, approved_on = $3, decided_by = $4, decision_note = $5, version = version + 1 WHERE id = $6 AND version = $7")
            .bind(status).bind(&no).bind(if d.approve { Some(on) } else { None }).bind(p.account_id).bind(&note).bind(id).bind(e.version)
            .execute(&mut *x).await?.rows_affected();
        if n == 1 && d.approve {
            sqlx::query("DELETE FROM org_committee WHERE org_id = $1").bind(e.org_id).execute(&mut *x).await?;
            for c in &elected {
                sqlx::query("INSERT INTO org_committee (org_id, member_id, name, role, election_id, since) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind(e.org_id).bind(c.member_id).bind(&c.name).bind(&c.role).bind(id).bind(held)
                    .execute(&mut *x).await?;
            }
            sqlx::query("UPDATE orgs SET term_start = $1, term_extended_months = 0, has_committee = $2, committee_size = $3, version = version + 1, updated_at = $4 WHERE id = $5")
                .bind(held).bind(true).bind(elected.len() as i64).bind(now).bind(e.org_id)
                .execute(&mut *x).await?;
            // a 延期 asked for the old term lapses with it
            sqlx::query("UPDATE term_extensions SET status = 'refused', decided_by = $1, decided_at = $2, decision_note = '已完成换届，本申请不再适用' WHERE org_id = $3 AND status = 'asked'")
                .bind(p.account_id).bind(now).bind(e.org_id)
                .execute(&mut *x).await?;
        }
        n
    });
    bump(n)?;
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: if d.approve { "election.approve" } else { "election.return" },
            object_type: "election",
            object_id: id.to_string(),
            before: serde_json::json!({"status": e.status}),
            after: if d.approve {
                serde_json::json!({"status": status, "approval_no": no, "approved_on": on, "term_start": held,
                    "committee": elected.iter().map(|c| serde_json::json!([c.member_id, c.role])).collect::<Vec<_>>()})
            } else {
                serde_json::json!({"status": status, "note": note})
            },
        },
    )
    .await?;
    tx.commit().await?;
    load(ctx, id).await
}

/// Cancels an election still being prepared.
pub async fn cancel(ctx: &Ctx, p: &Principal, id: i64) -> AppResult<Election> {
    let e = managed(ctx, p, id).await?;
    if e.status != "prepared" {
        return Err(AppError::refused(
            "election.recorded",
            "选举结果已记录，不能取消",
        ));
    }
    let mut tx = ctx.db.begin().await?;
    let n = on_tx!(&mut tx, x => {
        sqlx::query("UPDATE elections SET status = 'cancelled', version = version + 1 WHERE id = $1 AND version = $2")
            .bind(id).bind(e.version).execute(&mut *x).await?.rows_affected()
    });
    bump(n)?;
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "election.cancel",
            object_type: "election",
            object_id: id.to_string(),
            before: serde_json::json!({"status": e.status}),
            after: serde_json::json!({"status": "cancelled"}),
        },
    )
    .await?;
    tx.commit().await?;
    load(ctx, id).await
}

/// A member of the committee as approved.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Seat {
    pub member_id: i64,
    pub name: String,
    pub role: String,
    pub role_label: String,
    pub since: NaiveDate,
}

/// The organisation's committee as last approved (书记 first).
pub async fn committee(ctx: &Ctx, org_id: i64) -> AppResult<Vec<Seat>> {
    let mut out = on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT member_id, name, role, since FROM org_committee WHERE org_id = $1 ORDER BY member_id")
            .bind(org_id).fetch_all(x).await?;
        rows.iter().map(|r| {
            let role = r.string("role")?;
            Ok(Seat { member_id: r.i64("member_id")?, name: r.string("name")?, role_label: super::role_label(&role).to_string(), role, since: r.date("since")? })
        }).collect::<DbResult<Vec<_>>>()?
    });
    out.sort_by_key(|s| super::ROLES.iter().position(|r| r.0 == s.role).unwrap_or(9));
    Ok(out)
}

// ---- 延期换届 ----

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct NewExtension {
    pub org_id: i64,
    pub months: i64,
    pub reason: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[schema(as = ExtensionDecision)]
#[serde(default)]
pub struct ExtensionDecision {
    pub approve: bool,
    pub note: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Extension {
    pub id: i64,
    pub org_id: i64,
    pub org_name: String,
    pub term_start: NaiveDate,
    pub months: i64,
    pub reason: String,
    pub status: String,
    pub status_label: String,
    pub asked_at: DateTime<Utc>,
    pub decision_note: String,
    #[serde(skip)]
    pub org_path: String,
    #[serde(skip)]
    pub parent_id: Option<i64>,
}

fn extension_of(r: &impl DbRow) -> DbResult<Extension> {
    let status = r.string("status")?;
    Ok(Extension {
        id: r.i64("id")?,
        org_id: r.i64("org_id")?,
        org_name: r.string("org_name")?,
        org_path: r.string("org_path")?,
        parent_id: r.opt_i64("parent_id")?,
        term_start: r.date("term_start")?,
        months: r.i64("months")?,
        reason: r.string("reason")?,
        status_label: crate::rules::label(&EXTENSION_STATUSES, &status).to_string(),
        status,
        asked_at: r.ts("asked_at")?,
        decision_note: r.string("decision_note")?,
    })
}

const EXT_COLUMNS: &str = "x.id, x.org_id, o.name AS org_name, o.path AS org_path, o.parent_id, x.term_start, x.months, x.reason, x.status, x.asked_at, x.decision_note";

async fn extension(ctx: &Ctx, id: i64) -> AppResult<Extension> {
    let sql =
        format!("SELECT {EXT_COLUMNS} FROM term_extensions x JOIN orgs o ON o.id = x.org_id WHERE x.id = $1");
    Ok(on_db!(&ctx.db, x => {
        match sqlx::query(&sql).bind(id).fetch_optional(x).await? {
            Some(r) => extension_of(&r)?,
            None => return Err(AppError::NotFound("延期换届申请")),
        }
    }))
}

/// A branch asks the level above to put off its election: the term must be on record, the
/// months with those already approved for this term within the cap, one request at a time.
pub async fn ask_extension(ctx: &Ctx, p: &Principal, input: &NewExtension) -> AppResult<Extension> {
    let org = branch(ctx, p, input.org_id).await?;
    let rules = crate::meeting::store::rules_at(ctx, &org.path).await?;
    let Some(term_start) = org.term_start else {
        return Err(AppError::refused(
            "election.term_unknown",
            "未记录本届任期开始日期，无法申请延期换届",
        ));
    };
    let reason = crate::meeting::clean(&input.reason);
    if !(1..=500).contains(&reason.chars().count()) {
        return Err(AppError::field("reason", "请填写延期理由（500字以内）"));
    }
    super::check_extension(org.term_extended_months, input.months, &rules)?;
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let id = on_tx!(&mut tx, x => {
        let busy = sqlx::query("SELECT id FROM term_extensions WHERE org_id = $1 AND status = 'asked'")
            .bind(org.id).fetch_optional(&mut *x).await?;
        if busy.is_some() {
            return Err(AppError::refused("election.extension_pending", "已有一份延期换届申请等待上级批准"));
        }
        sqlx::query("INSERT INTO term_extensions (org_id, term_start, months, reason, status, asked_by, asked_at) VALUES ($1, $2, $3, $4, 'asked', $5, $6) RETURNING id")
            .bind(org.id).bind(term_start).bind(input.months).bind(&reason).bind(p.account_id).bind(now)
            .fetch_one(&mut *x).await?.i64("id")?
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "election.extension_ask",
            object_type: "term_extension",
            object_id: id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"org_id": org.id, "term_start": term_start, "months": input.months, "reason": reason}),
        },
    )
    .await?;
    tx.commit().await?;
    extension(ctx, id).await
}

/// The level above decides a 延期: approving adds its months to the term (checked against
/// the cap again, for the same term); refusing needs the reason.
pub async fn decide_extension(
    ctx: &Ctx,
    p: &Principal,
    id: i64,
    d: &ExtensionDecision,
) -> AppResult<Extension> {
    let x0 = extension(ctx, id).await?;
    if !p.in_scope(&x0.org_path) {
        return Err(AppError::NotFound("延期换届申请"));
    }
    let pp = parent_path(ctx, x0.parent_id).await?;
    if !decides(p, pp.as_deref()) {
        return Err(AppError::Forbidden("上级党组织才能批复".into()));
    }
    if x0.status != "asked" {
        return Err(AppError::refused(
            "election.extension_decided",
            "该延期申请已经处理",
        ));
    }
    let note = crate::meeting::clean(&d.note);
    if !d.approve && note.is_empty() {
        return Err(AppError::field("note", "请填写不予批准的理由"));
    }
    if note.chars().count() > 500 {
        return Err(AppError::field("note", "意见请控制在500字以内"));
    }
    let org = crate::org::store::get(&ctx.db, x0.org_id).await?;
    let rules = crate::meeting::store::rules_at(ctx, &org.path).await?;
    if d.approve {
        if org.term_start != Some(x0.term_start) {
            return Err(AppError::refused(
                "election.extension_stale",
                "该支部已开始新一届任期，此延期申请不再适用",
            ));
        }
        super::check_extension(org.term_extended_months, x0.months, &rules)?;
    }
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let status = if d.approve { "approved" } else { "refused" };
    let n = on_tx!(&mut tx, x => {
        let n = sqlx::query("UPDATE term_extensions SET status = $1, decided_by = $2, decided_at = $3, decision_note = $4 WHERE id = $5 AND status = 'asked'")
            .bind(status).bind(p.account_id).bind(now).bind(&note).bind(id)
            .execute(&mut *x).await?.rows_affected();
        if n == 1 && d.approve {
            // the row's own months, guarded by the version read above
            let m = sqlx::query("UPDATE orgs SET term_extended_months = term_extended_months + $1, version = version + 1, updated_at = $2 WHERE id = $3 AND version = $4")
                .bind(x0.months).bind(now).bind(org.id).bind(org.version)
                .execute(&mut *x).await?.rows_affected();
            if m != 1 {
                return Err(AppError::Conflict("该支部刚被修改，请刷新后重试".into()));
            }
        }
        n
    });
    if n != 1 {
        return Err(AppError::Conflict("该延期申请刚被处理，请刷新".into()));
    }
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: if d.approve { "election.extension_approve" } else { "election.extension_refuse" },
            object_type: "term_extension",
            object_id: id.to_string(),
            before: serde_json::json!({"status": "asked", "term_extended_months": org.term_extended_months}),
            after: serde_json::json!({"status": status, "note": note,
                "term_extended_months": org.term_extended_months + if d.approve { x0.months } else { 0 }}),
        },
    )
    .await?;
    tx.commit().await?;
    extension(ctx, id).await
}

// ---- a subtree's terms and elections ----

/// A branch whose term has ended or ends soon.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TermDue {
    pub org_id: i64,
    pub org_name: String,
    pub term_start: NaiveDate,
    pub extended_months: i64,
    pub term_end: NaiveDate,
    /// Days to the end (negative: 应换未换 for that many days).
    pub days_left: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Board {
    pub org_id: i64,
    pub org_name: String,
    /// 应换未换 first, then those ending within the warning days.
    pub terms: Vec<TermDue>,
    /// Elections under way or decided in the last year.
    pub elections: Vec<Election>,
    /// 延期 requests and decisions of the last year.
    pub extensions: Vec<Extension>,
}

/// The terms due, elections and 延期 of `p`'s subtree (or `org_id`'s inside it). The term
/// lengths and warning days are the branch rules at the subtree's root.
pub async fn board(ctx: &Ctx, p: &Principal, org_id: Option<i64>) -> AppResult<Board> {
    let root = crate::org::store::find(&ctx.db, org_id.unwrap_or(p.org_id))
        .await?
        .filter(|o| p.in_scope(&o.path))
        .ok_or(AppError::NotFound("党组织"))?;
    p.authorize(Perm::MeetingRead, Some(&root.path))?;
    let (br, _) = crate::rules::effective::<crate::rules::BranchRules>(&ctx.db, &root.path).await?;
    let rules = crate::meeting::store::rules_at(ctx, &root.path).await?;
    let today = ctx.clock.today();
    let hi = path_upper(&root.path);
    let since = today - chrono::Duration::days(366);
    let (mut terms, elections, extensions) = on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT o.id, o.name, o.level, o.term_start, o.term_extended_months FROM orgs o \
                                WHERE o.path >= $1 AND o.path < $2 AND o.kind IN ('branch', 'joint_branch') AND o.dissolved_at IS NULL AND o.term_start IS NOT NULL")
            .bind(&root.path).bind(&hi).fetch_all(x).await?;
        let mut terms = Vec::new();
        for r in rows {
            let Some(start) = r.opt_date("term_start")? else { continue };
            let grassroots = crate::org::OrgLevel::parse(&r.string("level")?).is_some_and(|l| l.is_grassroots());
            let months = r.i64("term_extended_months")?;
            let end = crate::org::rules::current_term_end(start, grassroots, months, &br);
            let days_left = (end - today).num_days();
            if days_left <= br.term_warn_days {
                terms.push(TermDue { org_id: r.i64("id")?, org_name: r.string("name")?, term_start: start, extended_months: months, term_end: end, days_left });
            }
        }
        let sql = format!("SELECT {COLUMNS} FROM elections e JOIN orgs o ON o.id = e.org_id LEFT JOIN meetings m ON m.id = e.meeting_id \
                           WHERE o.path >= $1 AND o.path < $2 AND (e.status IN ('prepared', 'reported') OR e.created_at >= $3) ORDER BY e.id DESC LIMIT 500");
        let rows = sqlx::query(&sql).bind(&root.path).bind(&hi).bind(since.and_hms_opt(0, 0, 0).map(|t| t.and_utc())).fetch_all(x).await?;
        let elections = rows.iter().map(|r| election_of(r, rules.election_margin_permille)).collect::<DbResult<Vec<_>>>()?;
        let sql = format!("SELECT {EXT_COLUMNS} FROM term_extensions x JOIN orgs o ON o.id = x.org_id \
                           WHERE o.path >= $1 AND o.path < $2 AND (x.status = 'asked' OR x.asked_at >= $3) ORDER BY x.id DESC LIMIT 500");
        let rows = sqlx::query(&sql).bind(&root.path).bind(&hi).bind(since.and_hms_opt(0, 0, 0).map(|t| t.and_utc())).fetch_all(x).await?;
        let extensions = rows.iter().map(extension_of).collect::<DbResult<Vec<_>>>()?;
        (terms, elections, extensions)
    });
    terms.sort_by_key(|t| (t.days_left, t.org_id));
    Ok(Board {
        org_id: root.id,
        org_name: root.name,
        terms,
        elections,
        extensions,
    })
}

/// 工作台: for a branch, its own term when due and its election waiting for the count; for
/// the levels above, elections and 延期 of the organisations below waiting for their decision.
pub struct Pending {
    pub own_term: Option<TermDue>,
    pub own_prepared: Vec<(i64, NaiveDate)>,
    pub to_decide: Vec<(i64, String, &'static str)>,
}

pub async fn pending(ctx: &Ctx, p: &Principal) -> AppResult<Pending> {
    let own = crate::org::store::get(&ctx.db, p.org_id).await?;
    let today = ctx.clock.today();
    let mut out = Pending {
        own_term: None,
        own_prepared: Vec::new(),
        to_decide: Vec::new(),
    };
    if own.kind.holds_members() {
        if let Some(start) = own.term_start {
            let (br, _) =
                crate::rules::effective::<crate::rules::BranchRules>(&ctx.db, &own.path).await?;
            let end = crate::org::rules::current_term_end(
                start,
                own.level.is_grassroots(),
                own.term_extended_months,
                &br,
            );
            let days_left = (end - today).num_days();
            if days_left <= br.term_warn_days {
                out.own_term = Some(TermDue {
                    org_id: own.id,
                    org_name: own.name.clone(),
                    term_start: start,
                    extended_months: own.term_extended_months,
                    term_end: end,
                    days_left,
                });
            }
        }
        out.own_prepared = on_db!(&ctx.db, x => {
            let rows = sqlx::query("SELECT e.id, m.held_on FROM elections e JOIN meetings m ON m.id = e.meeting_id WHERE e.org_id = $1 AND e.status = 'prepared'")
                .bind(own.id).fetch_all(x).await?;
            rows.iter().map(|r| Ok((r.i64("id")?, r.date("held_on")?))).collect::<DbResult<Vec<_>>>()?
        });
    }
    // the organisations whose parent is in `p`'s subtree (so `p` is at their level above)
    let hi = path_upper(&own.path);
    out.to_decide = on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT e.id, o.name FROM elections e JOIN orgs o ON o.id = e.org_id JOIN orgs u ON u.id = o.parent_id \
                                WHERE e.status = 'reported' AND u.path >= $1 AND u.path < $2 ORDER BY e.id LIMIT 50")
            .bind(&own.path).bind(&hi).fetch_all(x).await?;
        let mut v = rows.iter().map(|r| Ok((r.i64("id")?, r.string("name")?, "election"))).collect::<DbResult<Vec<_>>>()?;
        let rows = sqlx::query("SELECT x.id, o.name FROM term_extensions x JOIN orgs o ON o.id = x.org_id JOIN orgs u ON u.id = o.parent_id \
                                WHERE x.status = 'asked' AND u.path >= $1 AND u.path < $2 ORDER BY x.id LIMIT 50")
            .bind(&own.path).bind(&hi).fetch_all(x).await?;
        v.extend(rows.iter().map(|r| Ok((r.i64("id")?, r.string("name")?, "extension"))).collect::<DbResult<Vec<_>>>()?);
        v
    });
    if !p.can(Perm::MeetingWrite) {
        out.to_decide.clear();
    }
    Ok(out)
}
