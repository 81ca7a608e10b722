//! Recruits and their step entries, signatures, evaluations and publicity: persistence and
//! use cases. Every change runs in one transaction with its audit entry; the recruit's
//! `version` is bumped by every change, so two concurrent changes to one recruit cannot both
//! apply (the second gets a conflict).

use super::rules::{self, Facts, Person, RecruitRules, StepInput, Verdict};
use super::{Signer, StepKind};
use crate::audit::{self, NewEntry};
use crate::auth::{Principal, Role};
use crate::crypto::{aad, mask_id_number, mask_phone};
use crate::db::{path_upper, DbResult, DbRow, SqlBuilder, Tx, Val};
use crate::error::{AppError, AppResult};
use crate::member::rules::MemberInput;
use crate::org::Org;
use crate::{bind_vals, on_db, on_tx, Ctx};
use chrono::{Datelike, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Recruit {
    pub id: i64,
    pub org_id: i64,
    pub org_name: String,
    pub name: String,
    /// M or F
    pub gender: String,
    pub ethnicity: String,
    /// Year and month of birth (`YYYY-MM`); the day only in the encrypted ID number.
    #[serde(serialize_with = "crate::member::ser_month")]
    #[schema(value_type = String)]
    pub birth_month: NaiveDate,
    /// Masked.
    pub id_number: String,
    /// Masked.
    pub phone: Option<String>,
    pub education: String,
    pub work_unit: String,
    pub applied_on: NaiveDate,
    /// The last complete step (1–25).
    pub step: i64,
    /// active, completed, eliminated, stopped, cancelled
    pub status: String,
    pub channel: Option<String>,
    pub activist_on: Option<NaiveDate>,
    pub candidate_on: Option<NaiveDate>,
    pub admitted_on: Option<NaiveDate>,
    pub probation_end: Option<NaiveDate>,
    pub extended: bool,
    pub full_on: Option<NaiveDate>,
    pub member_id: Option<i64>,
    pub due_on: Option<NaiveDate>,
    pub due_what: Option<String>,
    pub version: i64,
    /// 补录: the paper archive the file is transcribed from (`None` for a live file).
    pub backfill_ref: Option<String>,
    /// The 补录 is still being entered (no due dates; staff record and sign).
    pub backfill_open: bool,
}

impl Recruit {
    pub fn stage(&self) -> i64 {
        super::stage_of(self.step)
    }
    pub fn stage_label(&self) -> &'static str {
        super::stage_label(self.stage())
    }
    pub fn status_label(&self) -> &'static str {
        super::status_label(&self.status)
    }
    pub fn step_name(&self) -> &'static str {
        super::step(self.step).map(|d| d.name).unwrap_or("")
    }
    pub fn next_step(&self) -> Option<&'static super::StepDef> {
        if self.status != "active" || self.step >= 25 {
            return None;
        }
        super::step(self.step + 1)
    }
}

const COLUMNS: &str = "r.id, r.org_id, o.name AS org_name, r.name, r.gender, r.ethnicity, r.birth_month, r.id_masked, r.phone_masked, r.education, r.work_unit, r.applied_on, r.step, r.status, r.channel, r.activist_on, r.candidate_on, r.admitted_on, r.probation_end, r.extended, r.full_on, r.member_id, r.due_on, r.due_what, r.version, r.backfill_ref, r.backfill_open, o.path AS org_path";

fn row(r: &impl DbRow) -> DbResult<(Recruit, String)> {
    Ok((
        Recruit {
            id: r.i64("id")?,
            org_id: r.i64("org_id")?,
            org_name: r.string("org_name")?,
            name: r.string("name")?,
            gender: r.string("gender")?,
            ethnicity: r.string("ethnicity")?,
            birth_month: r.date("birth_month")?,
            id_number: r.string("id_masked")?,
            phone: r.opt_string("phone_masked")?,
            education: r.string("education")?,
            work_unit: r.string("work_unit")?,
            applied_on: r.date("applied_on")?,
            step: r.i64("step")?,
            status: r.string("status")?,
            channel: r.opt_string("channel")?,
            activist_on: r.opt_date("activist_on")?,
            candidate_on: r.opt_date("candidate_on")?,
            admitted_on: r.opt_date("admitted_on")?,
            probation_end: r.opt_date("probation_end")?,
            extended: r.bool("extended")?,
            full_on: r.opt_date("full_on")?,
            member_id: r.opt_i64("member_id")?,
            due_on: r.opt_date("due_on")?,
            due_what: r.opt_string("due_what")?,
            version: r.i64("version")?,
            backfill_ref: r.opt_string("backfill_ref")?,
            backfill_open: r.bool("backfill_open")?,
        },
        r.string("org_path")?,
    ))
}

/// A recruit with the path of its branch (for scope checks).
pub async fn get(ctx: &Ctx, id: i64) -> AppResult<(Recruit, String)> {
    let sql =
        format!("SELECT {COLUMNS} FROM recruits r JOIN orgs o ON o.id = r.org_id WHERE r.id = $1");
    on_db!(&ctx.db, p => {
        match sqlx::query(&sql).bind(id).fetch_optional(p).await? {
            Some(r) => Ok(row(&r)?),
            None => Err(AppError::NotFound("发展对象")),
        }
    })
}

async fn get_tx(tx: &mut Tx, id: i64) -> AppResult<(Recruit, String)> {
    let sql =
        format!("SELECT {COLUMNS} FROM recruits r JOIN orgs o ON o.id = r.org_id WHERE r.id = $1");
    on_tx!(tx, c => {
        match sqlx::query(&sql).bind(id).fetch_optional(&mut *c).await? {
            Some(r) => Ok(row(&r)?),
            None => Err(AppError::NotFound("发展对象")),
        }
    })
}

// ---- entries and signatures ----

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Signature {
    pub id: i64,
    pub entry_id: i64,
    /// branch_secretary, contact, committee, org_dept
    pub signer_role: String,
    pub account_id: Option<i64>,
    pub signer_name: String,
    /// password, totp, or paper (transcribed from the paper file)
    pub method: String,
    pub signed_at: chrono::DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[schema(as = RecruitEntry)]
pub struct Entry {
    pub id: i64,
    pub recruit_id: i64,
    pub step: i64,
    pub done_on: NaiveDate,
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    pub note: String,
    /// Signer roles this entry needs.
    pub required: Vec<String>,
    pub complete: bool,
    /// SM3 over the entry's content; the audit chain holds it.
    pub digest: String,
    pub recorded_by: Option<i64>,
    pub recorded_at: chrono::DateTime<Utc>,
    pub corrects_id: Option<i64>,
    /// The complete correction that replaces this record, if any.
    #[serde(default)]
    pub corrected_by: Option<i64>,
    #[serde(default)]
    pub signatures: Vec<Signature>,
}

impl Entry {
    pub fn step_name(&self) -> &'static str {
        super::step(self.step).map(|d| d.name).unwrap_or("")
    }
    pub fn missing(&self) -> Vec<String> {
        self.required
            .iter()
            .filter(|r| !self.signatures.iter().any(|s| &s.signer_role == *r))
            .cloned()
            .collect()
    }
}

const ENTRY_COLUMNS: &str = "e.id, e.recruit_id, e.step, e.done_on, e.data_json, e.note, e.required, e.complete, e.digest, e.recorded_by, e.recorded_at, e.corrects_id";

fn entry_row(r: &impl DbRow) -> DbResult<Entry> {
    Ok(Entry {
        id: r.i64("id")?,
        recruit_id: r.i64("recruit_id")?,
        step: r.i64("step")?,
        done_on: r.date("done_on")?,
        data: serde_json::from_str(&r.string("data_json")?).unwrap_or(serde_json::Value::Null),
        note: r.string("note")?,
        required: r
            .string("required")?
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        complete: r.bool("complete")?,
        digest: r.string("digest")?,
        recorded_by: r.opt_i64("recorded_by")?,
        recorded_at: r.ts("recorded_at")?,
        corrects_id: r.opt_i64("corrects_id")?,
        corrected_by: None,
        signatures: Vec::new(),
    })
}

fn sig_row(r: &impl DbRow) -> DbResult<Signature> {
    Ok(Signature {
        id: r.i64("id")?,
        entry_id: r.i64("entry_id")?,
        signer_role: r.string("signer_role")?,
        account_id: r.opt_i64("account_id")?,
        signer_name: r.string("signer_name")?,
        method: r.string("method")?,
        signed_at: r.ts("signed_at")?,
    })
}

/// Every entry of a recruit in order, with its signatures.
pub async fn entries(ctx: &Ctx, recruit_id: i64) -> AppResult<Vec<Entry>> {
    let sql = format!(
        "SELECT {ENTRY_COLUMNS} FROM recruit_entries e WHERE e.recruit_id = $1 ORDER BY e.id"
    );
    let (mut list, sigs) = on_db!(&ctx.db, p => {
        let rows = sqlx::query(&sql).bind(recruit_id).fetch_all(p).await?;
        let list = rows.iter().map(entry_row).collect::<DbResult<Vec<_>>>()?;
        let rows = sqlx::query("SELECT s.id, s.entry_id, s.signer_role, s.account_id, s.signer_name, s.method, s.signed_at FROM recruit_signatures s JOIN recruit_entries e ON e.id = s.entry_id WHERE e.recruit_id = $1 ORDER BY s.id")
            .bind(recruit_id).fetch_all(p).await?;
        (list, rows.iter().map(sig_row).collect::<DbResult<Vec<_>>>()?)
    });
    for e in &mut list {
        e.signatures = sigs
            .iter()
            .filter(|s| s.entry_id == e.id)
            .cloned()
            .collect();
    }
    mark_corrected(&mut list);
    Ok(list)
}

/// Fills `corrected_by` from the complete corrections in `list`.
fn mark_corrected(list: &mut [Entry]) {
    let by: Vec<(i64, i64)> = list
        .iter()
        .filter(|e| e.complete)
        .filter_map(|e| e.corrects_id.map(|o| (o, e.id)))
        .collect();
    for e in list.iter_mut() {
        e.corrected_by = by.iter().find(|(o, _)| *o == e.id).map(|(_, c)| *c);
    }
}

/// The file as it stands: each record in the order it was first made, replaced by its
/// latest complete correction.
pub fn effective(list: &[Entry]) -> Vec<&Entry> {
    list.iter()
        .filter(|e| e.corrects_id.is_none())
        .map(|root| {
            let mut cur = root;
            while let Some(next) = cur
                .corrected_by
                .and_then(|c| list.iter().find(|e| e.id == c))
            {
                cur = next;
            }
            cur
        })
        .collect()
}

async fn entry_tx(tx: &mut Tx, id: i64) -> AppResult<Entry> {
    let sql = format!("SELECT {ENTRY_COLUMNS} FROM recruit_entries e WHERE e.id = $1");
    let (e, sigs) = on_tx!(tx, c => {
        let e = match sqlx::query(&sql).bind(id).fetch_optional(&mut *c).await? {
            Some(r) => entry_row(&r)?,
            None => return Err(AppError::NotFound("步骤记录")),
        };
        let rows = sqlx::query("SELECT id, entry_id, signer_role, account_id, signer_name, method, signed_at FROM recruit_signatures WHERE entry_id = $1 ORDER BY id")
            .bind(id).fetch_all(&mut *c).await?;
        (e, rows.iter().map(sig_row).collect::<DbResult<Vec<_>>>()?)
    });
    Ok(Entry {
        signatures: sigs,
        ..e
    })
}

/// The recruit an entry belongs to (for scope checks).
pub async fn entry_recruit(ctx: &Ctx, entry_id: i64) -> AppResult<i64> {
    recruit_of(
        ctx,
        "SELECT recruit_id FROM recruit_entries WHERE id = $1",
        entry_id,
        "步骤记录",
    )
    .await
}

// ---- approval authority ----

/// The nearest organisation above the branch that may approve recruitment (a 基层党委 with
/// approval authority).
pub async fn approving_org(ctx: &Ctx, branch_path: &str) -> AppResult<Option<Org>> {
    let ids = crate::org::path_ids(branch_path);
    if ids.len() < 2 {
        return Ok(None);
    }
    let list = ids[..ids.len() - 1]
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",");
    // ids are integers parsed from the path, so inlining them is safe.
    let sql = format!(
        "SELECT {} FROM orgs o WHERE o.id IN ({list}) AND o.approval_authority = $1 AND o.dissolved_at IS NULL ORDER BY o.depth DESC LIMIT 1",
        crate::org::store::ORG_COLUMNS
    );
    Ok(on_db!(&ctx.db, p => {
        match sqlx::query(&sql).bind(true).fetch_optional(p).await? {
            Some(r) => Some(crate::org::store::row_to_org(&r)?),
            None => None,
        }
    }))
}

/// Gives or withdraws an organisation's authority to approve recruitment. Only a 党委 or
/// 党工委 may hold it (a 党总支 cannot).
pub async fn set_approval_authority(
    ctx: &Ctx,
    p: &Principal,
    org: &Org,
    on: bool,
) -> AppResult<()> {
    use crate::org::OrgKind;
    if on && !matches!(org.kind, OrgKind::Committee | OrgKind::WorkingCommittee) {
        return Err(AppError::refused(
            "recruit.no_approval_authority",
            format!(
                "{}不能拥有发展党员审批权，只有基层党委可以",
                org.kind.label()
            ),
        ));
    }
    let mut tx = ctx.db.begin().await?;
    on_tx!(&mut tx, c => {
        sqlx::query("UPDATE orgs SET approval_authority = $1, version = version + 1 WHERE id = $2")
            .bind(on).bind(org.id).execute(&mut *c).await?;
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "org.approval_authority",
            object_type: "org",
            object_id: org.id.to_string(),
            before: serde_json::json!({"approval_authority": !on}),
            after: serde_json::json!({"approval_authority": on}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn has_approval_authority(ctx: &Ctx, org_id: i64) -> AppResult<bool> {
    Ok(on_db!(&ctx.db, p => {
        sqlx::query("SELECT approval_authority FROM orgs WHERE id = $1").bind(org_id).fetch_optional(p).await?
            .map(|r| r.bool("approval_authority")).transpose()?.unwrap_or(false)
    }))
}

// ---- who may sign ----

/// Can `p` sign for `signer` on a recruit of `branch_path`?
pub fn can_sign(
    p: &Principal,
    signer: Signer,
    branch_path: &str,
    approving_path: Option<&str>,
    contacts: &[i64],
) -> bool {
    match signer {
        Signer::BranchSecretary => p.has_role(Role::BranchSecretary) && p.in_scope(branch_path),
        Signer::Contact => p.member_id.is_some_and(|m| contacts.contains(&m)),
        Signer::Committee => {
            p.has_role(Role::CommitteeStaff)
                && p.in_scope(branch_path)
                && approving_path.is_some_and(|a| p.in_scope(a))
        }
        Signer::OrgDept => p.has_role(Role::OrgStaff) && p.in_scope(branch_path),
    }
}

async fn contacts_of(tx: &mut Tx, recruit_id: i64) -> AppResult<Vec<i64>> {
    Ok(on_tx!(tx, c => {
        let rows = sqlx::query("SELECT p.member_id FROM recruit_people p JOIN recruit_entries e ON e.id = p.entry_id WHERE p.recruit_id = $1 AND p.role = 'contact' AND e.complete = $2 ORDER BY p.member_id")
            .bind(recruit_id).bind(true).fetch_all(&mut *c).await?;
        rows.iter().map(|r| r.i64("member_id")).collect::<DbResult<Vec<_>>>()?
    }))
}

// ---- facts ----

async fn rules_for(ctx: &Ctx, path: &str) -> AppResult<RecruitRules> {
    Ok(crate::rules::effective::<RecruitRules>(&ctx.db, path)
        .await?
        .0)
}

/// Everything the rules need to know about a recruit, read inside `tx`.
/// `on` is the date of the step being judged (who is suspended, who votes).
async fn facts(
    tx: &mut Tx,
    rc: &Recruit,
    publicity_step: i64,
    people: &[i64],
    on: NaiveDate,
) -> AppResult<Facts> {
    let rid = rc.id;
    let review_step = if rc.step >= 18 { 21 } else { 6 };
    let mut f = Facts {
        step: rc.step,
        status: rc.status.clone(),
        applied_on: Some(rc.applied_on),
        activist_on: rc.activist_on,
        admitted_on: rc.admitted_on,
        probation_end: rc.probation_end,
        extended: rc.extended,
        ..Default::default()
    };
    let latest = |step: i64| {
        format!("SELECT done_on, data_json FROM recruit_entries WHERE recruit_id = $1 AND step = {step} AND complete = $2 ORDER BY id DESC LIMIT 1")
    };
    let (review, pr, training, full_meeting) = on_tx!(tx, c => {
        let mut out = Vec::new();
        for step in [review_step, 10, 11, 23] {
            let r = sqlx::query(&latest(step)).bind(rid).bind(true).fetch_optional(&mut *c).await?;
            out.push(match r {
                Some(r) => Some((r.date("done_on")?, serde_json::from_str::<StepInput>(&r.string("data_json")?).unwrap_or_default())),
                None => None,
            });
        }
        let mut it = out.into_iter();
        (it.next().flatten(), it.next().flatten(), it.next().flatten(), it.next().flatten())
    });
    f.last_review_on = review.map(|r| r.0);
    f.political_review = pr.map(|(d, i)| (d, i.conclusion == "pass"));
    if let Some((_, t)) = training {
        f.training_days = t.training_days;
        f.training_hours = t.training_hours;
        f.training_exception = !t.exception_reason.trim().is_empty();
    }
    if let Some((d, i)) = full_meeting {
        // A meeting before an extension does not count for the new probation end.
        if rc.probation_end.is_none_or(|end| d >= end) {
            f.full_meeting_on = Some(d);
            f.full_proposal = Some(i.outcome);
        }
    }
    let (eval, publicity, pending) = on_tx!(tx, c => {
        let e = sqlx::query("SELECT total_tenths, verdict, status FROM recruit_evaluations WHERE recruit_id = $1 AND status <> 'overturned' ORDER BY id DESC LIMIT 1")
            .bind(rid).fetch_optional(&mut *c).await?;
        let e = match e {
            Some(r) => {
                let v = match r.string("verdict")?.as_str() {
                    "candidate" => Verdict::Candidate,
                    "continue" => Verdict::Continue,
                    _ => Verdict::Eliminate,
                };
                Some((r.i64("total_tenths")?, v, r.string("status")? == "pending_revisit"))
            }
            None => None,
        };
        let p = sqlx::query("SELECT p.ends_on, (SELECT COUNT(*) FROM recruit_objections o WHERE o.publicity_id = p.id AND o.answer IS NULL) AS open FROM recruit_publicity p WHERE p.recruit_id = $1 AND p.before_step = $2 ORDER BY p.id DESC LIMIT 1")
            .bind(rid).bind(publicity_step).fetch_optional(&mut *c).await?;
        let p = match p {
            Some(r) => Some((r.date("ends_on")?, r.i64("open")?)),
            None => None,
        };
        let pend = sqlx::query("SELECT step FROM recruit_entries WHERE recruit_id = $1 AND complete = $2")
            .bind(rid).bind(false).fetch_optional(&mut *c).await?.map(|r| r.i64("step")).transpose()?;
        (e, p, pend)
    });
    f.evaluation = eval;
    f.publicity = publicity;
    f.pending_step = pending;
    if !people.is_empty() {
        let list = people
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",");
        // integers from the request, so inlining them is safe
        let sql = format!(
            "SELECT m.id, m.name, m.status, CAST(CASE WHEN {} THEN 1 ELSE 0 END AS BIGINT) AS suspended FROM members m WHERE m.org_id = $1 AND m.id IN ({list})",
            crate::member::discipline::suspended_sql("m", "$2")
        );
        f.people = on_tx!(tx, c => {
            let rows = sqlx::query(&sql).bind(rc.org_id).bind(on).fetch_all(&mut *c).await?;
            rows.iter().map(|r| Ok(Person {
                id: r.i64("id")?,
                name: r.string("name")?,
                full: r.string("status")? == "full",
                suspended: r.i64("suspended")? == 1,
            })).collect::<DbResult<Vec<_>>>()?
        });
    }
    if publicity_step == 15 || publicity_step == 23 {
        f.voters = Some(voters(tx, rc.org_id, on).await?);
    }
    Ok(f)
}

/// A branch's voters on a date: (full members, of whom under 留党察看).
async fn voters(tx: &mut Tx, org_id: i64, on: NaiveDate) -> AppResult<(i64, i64)> {
    let sql = format!(
        "SELECT COUNT(*) AS n, COALESCE(SUM(CASE WHEN {} THEN 1 ELSE 0 END), 0) AS s FROM members m \
         WHERE m.org_id = $1 AND m.status = 'full' AND m.full_date <= $2",
        crate::member::discipline::suspended_sql("m", "$2")
    );
    Ok(on_tx!(tx, c => {
        let r = sqlx::query(&sql).bind(org_id).bind(on).fetch_one(&mut *c).await?;
        (r.i64("n")?, r.i64("s")?)
    }))
}

/// Recomputes the recruit's next due date from the rules (stored so that lists and
/// reminders at city scale are one indexed range scan).
async fn refresh_due(tx: &mut Tx, rc: &Recruit, r: &RecruitRules) -> AppResult<()> {
    if rc.backfill_open {
        // a file being transcribed has history, not deadlines
        on_tx!(tx, c => {
            sqlx::query("UPDATE recruits SET due_on = NULL, due_what = NULL WHERE id = $1").bind(rc.id).execute(&mut *c).await?;
        });
        return Ok(());
    }
    let today = crate::clock::display_zone().date_of(tx.now);
    let f = facts(tx, rc, 0, &[], today).await?;
    let thought = if r.thought_report_every_months > 0 {
        on_tx!(tx, c => {
            sqlx::query("SELECT MAX(uploaded_at) AS t FROM recruit_docs WHERE recruit_id = $1 AND kind = '思想汇报'")
                .bind(rc.id).fetch_one(&mut *c).await?.opt_ts("t")?.map(|t| t.date_naive())
        })
    } else {
        None
    };
    let first = rules::dues(&f, r, thought)
        .into_iter()
        .min_by_key(|d| d.due_on);
    on_tx!(tx, c => {
        sqlx::query("UPDATE recruits SET due_on = $1, due_what = $2 WHERE id = $3")
            .bind(first.as_ref().map(|d| d.due_on)).bind(first.as_ref().map(|d| d.what.clone())).bind(rc.id)
            .execute(&mut *c).await?;
    });
    Ok(())
}

async fn bump(tx: &mut Tx, rc: &Recruit) -> AppResult<()> {
    let now = tx.now;
    let n = on_tx!(tx, c => {
        sqlx::query("UPDATE recruits SET version = version + 1, updated_at = $1 WHERE id = $2 AND version = $3")
            .bind(now).bind(rc.id).bind(rc.version).execute(&mut *c).await?.rows_affected()
    });
    if n != 1 {
        return Err(AppError::Conflict(
            "该发展对象刚被他人更新，请刷新后重试".into(),
        ));
    }
    Ok(())
}

// ---- applying (step 1) ----

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct NewRecruit {
    pub org_id: i64,
    pub name: String,
    pub ethnicity: String,
    pub id_number: String,
    pub phone: String,
    pub education: String,
    pub work_unit: String,
    pub applied_on: Option<NaiveDate>,
    pub note: String,
    /// The recorder's password (or TOTP code): the electronic signature of step 1.
    pub secret: String,
    /// 补录 (organisation or committee staff only): the paper archive the file is transcribed
    /// from, e.g. “县委组织部档案室 2019年发展党员档案第37卷”. Empty for a live application.
    pub backfill_ref: String,
}

/// 补录 is entered by organisation staff: the organisation department or the committee staff
/// over the branch, who sign each record in place of its original signers.
pub fn backfill_officer(p: &Principal, branch_path: &str) -> bool {
    (p.has_role(Role::OrgStaff) || p.has_role(Role::CommitteeStaff))
        && p.in_scope(branch_path)
        && p.can(crate::auth::Perm::RecruitWrite)
}

fn not_backfill_officer() -> AppError {
    AppError::Forbidden("补录档案由组织部门或党委工作人员录入并签名".into())
}

/// Records an application (step 1): the person enters the pipeline at the branch.
pub async fn apply(ctx: &Ctx, p: &Principal, input: &NewRecruit) -> AppResult<Recruit> {
    let mut c = crate::error::Checks::default();
    let name = input.name.trim();
    let (id_number, info, phone) =
        crate::member::rules::check_person(&mut c, name, &input.id_number, &input.phone);
    let phone = phone.as_str();
    c.check(
        crate::member::EDUCATION.contains(&input.education.as_str()),
        "education",
        "请选择学历",
    );
    c.check(
        !input.ethnicity.trim().is_empty() && input.ethnicity.chars().count() <= 20,
        "ethnicity",
        "请填写民族",
    );
    c.check(
        input.work_unit.chars().count() <= 100,
        "work_unit",
        "工作单位不超过100字",
    );
    let today = ctx.clock.today();
    match input.applied_on {
        None => c.add("applied_on", "请填写递交申请书的日期"),
        Some(d) if d > today => c.add("applied_on", "日期不能晚于今天"),
        _ => {}
    }
    let backfill_ref = input.backfill_ref.trim();
    let backfill = !backfill_ref.is_empty();
    c.check(
        backfill_ref.is_empty() || (2..=100).contains(&backfill_ref.chars().count()),
        "backfill_ref",
        "请写明纸质档案的保管处和卷号（100字以内）",
    );
    c.finish()?;
    let (Some(info), Some(applied_on)) = (info, input.applied_on) else {
        return Err(AppError::field("id_number", "身份证号码无效"));
    };
    let org = crate::org::store::get(&ctx.db, input.org_id)
        .await
        .map_err(|_| AppError::field("org_id", "党支部不存在"))?;
    if !org.kind.holds_members() {
        return Err(AppError::field(
            "org_id",
            format!("申请人应由党支部受理，“{}”是{}", org.name, org.kind.label()),
        ));
    }
    let r = rules_for(ctx, &org.path).await?;
    rules::check_age(info.birth_date, applied_on, &r)?;
    let signers = r.signers_for(1);
    let role = if backfill {
        if !backfill_officer(p, &org.path) {
            return Err(not_backfill_officer());
        }
        signers.first().copied().unwrap_or(Signer::BranchSecretary)
    } else {
        signers
            .iter()
            .copied()
            .find(|s| can_sign(p, *s, &org.path, None, &[]))
            .ok_or_else(|| {
                AppError::Forbidden(format!("第1步须由{}记录并签名", signer_labels(&signers)))
            })?
    };
    let method = crate::auth::store::confirm_identity(ctx, p, &input.secret).await?;
    let method = if backfill { "backfill" } else { method };
    let id_idx = ctx.vault.blind_index("id", &id_number);
    let now = ctx.clock.now();
    crate::member::store::dupcheck_wait(ctx, Some(p.account_id))?;
    let (in_pipeline, is_member, elsewhere) = on_db!(&ctx.db, c => {
        let a = sqlx::query("SELECT o.path FROM recruits r JOIN orgs o ON o.id = r.org_id WHERE r.id_idx = $1 AND r.status = 'active'").bind(&id_idx).fetch_optional(c).await?
            .map(|r| r.string("path")).transpose()?;
        let b = sqlx::query("SELECT m.org_id, o.path FROM members m JOIN orgs o ON o.id = m.org_id WHERE m.id_idx = $1").bind(&id_idx).fetch_optional(c).await?
            .map(|r| Ok::<_, crate::db::DbError>((r.i64("org_id")?, r.string("path")?))).transpose()?;
        let elsewhere = a.as_deref().is_some_and(|x| !p.in_scope(x)) || b.as_ref().is_some_and(|(_, x)| !p.in_scope(x));
        (a.is_some(), b.map(|x| x.0), elsewhere)
    });
    // known outside the account's subtree: the neutral answer, counted
    if elsewhere {
        return Err(crate::member::store::dupcheck_hit(
            ctx,
            &p.actor(),
            "member.registered_elsewhere",
            "recruit",
        )
        .await?);
    }
    let mut tx = ctx.db.begin().await?;
    // the file of a member already on this branch's roll may be transcribed (补录); it will
    // be linked to them
    if is_member.is_some_and(|org_id| !(backfill && org_id == org.id)) {
        return Err(AppError::field("id_number", "该身份证号码已在党员库中"));
    }
    if in_pipeline {
        return Err(AppError::field("id_number", "此人已在发展党员流程中"));
    }
    let gender = if info.male { "M" } else { "F" };
    let rid = tx.reserve_ids("recruits", 1).await?[0];
    on_tx!(&mut tx, c => {
        sqlx::query("INSERT INTO recruits (id, org_id, name, gender, ethnicity, birth_month, id_enc, id_idx, id_masked, phone_enc, phone_masked, key_version, education, work_unit, applied_on, step, status, created_at, updated_at, backfill_ref, backfill_by, backfill_open) \
                     VALUES ($16, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 0, 'active', $15, $15, $17, $18, $19)")
            .bind(org.id).bind(name).bind(gender).bind(input.ethnicity.trim()).bind(crate::member::month_of(info.birth_date))
            .bind(ctx.vault.encrypt(&aad("recruits", "id_enc", rid), &id_number)).bind(&id_idx).bind(mask_id_number(&id_number))
            .bind((!phone.is_empty()).then(|| ctx.vault.encrypt(&aad("recruits", "phone_enc", rid), phone)))
            .bind((!phone.is_empty()).then(|| mask_phone(phone)))
            .bind(ctx.vault.key_version() as i64).bind(&input.education).bind(input.work_unit.trim())
            .bind(applied_on).bind(now).bind(rid)
            .bind(backfill.then_some(backfill_ref)).bind(backfill.then_some(p.account_id)).bind(backfill)
            .execute(&mut *c).await?;
    });
    let (rc, _) = get_tx(&mut tx, rid).await?;
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "recruit.apply",
            object_type: "recruit",
            object_id: rid.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::to_value(&rc).unwrap_or_default(),
        },
    )
    .await?;
    super::talent::link_application(&mut tx, &p.actor(), &id_idx, rid).await?;
    let step1 = StepInput {
        step: 1,
        done_on: Some(applied_on),
        note: input.note.trim().to_string(),
        ..Default::default()
    };
    insert_entry(
        ctx, &mut tx, p, &rc, &org.path, &step1, applied_on, &signers, role, method, &r, None,
    )
    .await?;
    let (out, _) = get_tx(&mut tx, rid).await?;
    tx.commit().await?;
    Ok(out)
}

fn signer_labels(list: &[Signer]) -> String {
    list.iter()
        .map(|s| s.label())
        .collect::<Vec<_>>()
        .join("、")
}

/// SM3 over an entry's content (step, date, data, note, recorder): what the audit chain
/// holds and what an archive's verification recomputes.
pub fn entry_digest(
    rc_id: i64,
    step: i64,
    done_on: NaiveDate,
    data: &serde_json::Value,
    note: &str,
    by: Option<i64>,
) -> String {
    let canon = serde_json::json!({"recruit_id": rc_id, "step": step, "done_on": done_on, "data": data, "note": note, "recorded_by": by});
    crate::crypto::sm3_hex(canon.to_string().as_bytes())
}

/// Inserts an entry with the recorder's signature; completes it when no other signer is
/// needed.
#[allow(clippy::too_many_arguments)]
async fn insert_entry(
    ctx: &Ctx,
    tx: &mut Tx,
    p: &Principal,
    rc: &Recruit,
    branch_path: &str,
    input: &StepInput,
    done_on: NaiveDate,
    signers: &[Signer],
    role: Signer,
    method: &str,
    r: &RecruitRules,
    corrects: Option<i64>,
) -> AppResult<Entry> {
    let mut stored = input.clone();
    stored.note = String::new();
    let data = serde_json::to_string(&stored).map_err(|e| AppError::Internal(e.to_string()))?;
    let required = signers
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let digest = entry_digest(
        rc.id,
        input.step,
        done_on,
        &serde_json::to_value(&stored).unwrap_or_default(),
        input.note.trim(),
        Some(p.account_id),
    );
    let now = ctx.clock.now();
    let eid = on_tx!(tx, c => {
        let eid = sqlx::query("INSERT INTO recruit_entries (recruit_id, step, done_on, data_json, note, required, complete, digest, recorded_by, recorded_at, corrects_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id")
            .bind(rc.id).bind(input.step).bind(done_on).bind(&data).bind(input.note.trim()).bind(&required)
            .bind(false).bind(&digest).bind(p.account_id).bind(now).bind(corrects)
            .fetch_one(&mut *c).await?.i64("id")?;
        // a correction names nobody new: the people stay those of the corrected record
        let named = if corrects.is_some() { [(&Vec::new(), "contact"), (&Vec::new(), "introducer")] } else { [(&input.contacts, "contact"), (&input.introducers, "introducer")] };
        for (ids, what) in named {
            for m in ids.iter() {
                sqlx::query("INSERT INTO recruit_people (recruit_id, entry_id, role, member_id) VALUES ($1, $2, $3, $4)")
                    .bind(rc.id).bind(eid).bind(what).bind(*m).execute(&mut *c).await?;
            }
        }
        // 补录: the entering officer signs in place of every original signer
        let roles: Vec<Signer> = if method == "backfill" { signers.to_vec() } else { vec![role] };
        for s in roles {
            sqlx::query("INSERT INTO recruit_signatures (entry_id, signer_role, account_id, signer_name, method, signed_at) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(eid).bind(s.as_str()).bind(p.account_id).bind(&p.display_name).bind(method).bind(now)
                .execute(&mut *c).await?;
        }
        eid
    });
    let entry = entry_tx(tx, eid).await?;
    audit::append(
        tx,
        &p.actor(),
        NewEntry {
            action: if corrects.is_some() { "recruit.correct" } else { "recruit.step" },
            object_type: "recruit",
            object_id: rc.id.to_string(),
            before: serde_json::json!({"step": rc.step, "corrects_id": corrects}),
            after: serde_json::json!({"entry_id": eid, "step": input.step, "done_on": done_on, "digest": digest,
                "data": stored, "note": input.note.trim(), "signed_as": role.as_str(), "method": method}),
        },
    )
    .await?;
    bump(tx, rc).await?;
    if entry.missing().is_empty() {
        if corrects.is_some() {
            apply_correction(tx, p, rc, &entry, r).await?;
        } else {
            complete(ctx, tx, p, rc, branch_path, &entry, r).await?;
        }
    } else {
        let (now_rc, _) = get_tx(tx, rc.id).await?;
        refresh_due(tx, &now_rc, r).await?;
    }
    entry_tx(tx, eid).await
}

/// A step 15 or 23 held at the branch's 党员大会 as recorded under 组织生活 (notified, so its
/// roll is taken): the day is the sitting's, those entitled and present are counted from its
/// roll (never typed); the votes cast stay as entered.
async fn with_sitting(
    ctx: &Ctx,
    rc: &Recruit,
    input: &StepInput,
    meeting_id: i64,
) -> AppResult<StepInput> {
    let wrong = || AppError::field("meeting_id", "请选择本党支部召开的党员大会");
    let m = crate::meeting::store::load(ctx, meeting_id)
        .await
        .map_err(|_| wrong())?;
    if m.org_id != rc.org_id || !m.kinds.iter().any(|k| k == "assembly") {
        return Err(wrong());
    }
    if m.status != "notified" && m.status != "filed" {
        return Err(AppError::field(
            "meeting_id",
            format!("党员大会“{}”尚未发出通知、登记参会情况", m.title),
        ));
    }
    if input.done_on.is_some_and(|d| d != m.held_on) {
        return Err(AppError::field(
            "done_on",
            format!("日期应为党员大会召开的日期{}", m.held_on),
        ));
    }
    let mut out = input.clone();
    out.done_on = Some(m.held_on);
    let mut v = out.votes.unwrap_or_default();
    let roll = m.roll_now();
    (v.entitled, v.present) = (roll.voting_expected, roll.voting_present);
    out.votes = Some(v);
    Ok(out)
}

/// The recruitment files discussed at a sitting (steps 15 and 23 linked to it): (recruit,
/// name, step).
pub async fn discussed_at(
    ctx: &Ctx,
    meeting_id: i64,
    org_id: i64,
) -> AppResult<Vec<(i64, String, i64)>> {
    let rows = on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT r.id, r.name, e.step, e.data_json FROM recruit_entries e JOIN recruits r ON r.id = e.recruit_id \
                                WHERE r.org_id = $1 AND e.step IN (15, 23) ORDER BY e.id")
            .bind(org_id).fetch_all(x).await?;
        rows.iter().map(|r| Ok((r.i64("id")?, r.string("name")?, r.i64("step")?, r.string("data_json")?))).collect::<crate::db::DbResult<Vec<_>>>()?
    });
    Ok(rows
        .into_iter()
        .filter(|(_, _, _, data)| {
            serde_json::from_str::<StepInput>(data)
                .ok()
                .and_then(|i| i.meeting_id)
                == Some(meeting_id)
        })
        .map(|(id, name, step, _)| (id, name, step))
        .collect())
}

/// The branch's 党员大会 a step 15 or 23 may be linked to: notified or filed, in the last
/// 60 days.
pub async fn assemblies(ctx: &Ctx, org_id: i64) -> AppResult<Vec<(i64, String, NaiveDate)>> {
    let since = ctx.clock.today() - chrono::Duration::days(60);
    Ok(on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT id, title, held_on, kinds FROM meetings WHERE org_id = $1 AND status IN ('notified', 'filed') AND held_on >= $2 ORDER BY held_on DESC LIMIT 20")
            .bind(org_id).bind(since).fetch_all(x).await?;
        let mut out = Vec::new();
        for r in rows {
            if crate::meeting::parse_kinds(&r.string("kinds")?).iter().any(|k| k == "assembly") {
                out.push((r.i64("id")?, r.string("title")?, r.date("held_on")?));
            }
        }
        out
    }))
}

/// Marks an entry complete and applies what the step means for the recruit.
async fn complete(
    ctx: &Ctx,
    tx: &mut Tx,
    p: &Principal,
    rc: &Recruit,
    branch_path: &str,
    e: &Entry,
    r: &RecruitRules,
) -> AppResult<()> {
    let input: StepInput = serde_json::from_value(e.data.clone()).unwrap_or_default();
    let n = on_tx!(tx, c => {
        sqlx::query("UPDATE recruit_entries SET complete = $1 WHERE id = $2 AND complete = $3")
            .bind(true).bind(e.id).bind(false).execute(&mut *c).await?.rows_affected()
    });
    if n != 1 {
        return Err(AppError::Conflict("该步骤已完成".into()));
    }
    let on = e.done_on;
    // (new step, status, extra SET clause with its date value)
    let mut step = e.step.max(rc.step);
    let mut status = "active";
    let mut sets: Vec<(&str, Option<NaiveDate>)> = Vec::new();
    let mut member_change = None;
    match e.step {
        3 => sets.push(("activist_on", Some(on))),
        7 => sets.push(("candidate_on", Some(on))),
        10 if input.conclusion != "pass" => status = "stopped",
        15 => {
            let passed = input
                .votes
                .map(|v| rules::meeting_passes(&v, r))
                .transpose()?
                .unwrap_or(false);
            if passed {
                sets.push(("admitted_on", Some(on)));
                sets.push(("probation_end", Some(rules::probation_end(on, r))));
            } else {
                step = 14; // not admitted: the branch may discuss again later
            }
        }
        17 => {
            if input.outcome == "approve" {
                member_change = Some("admit");
            } else {
                status = "stopped";
            }
        }
        23 => {
            let passed = input
                .votes
                .map(|v| rules::meeting_passes(&v, r))
                .transpose()?
                .unwrap_or(false);
            if !passed {
                step = 22;
            }
        }
        24 => match input.outcome.as_str() {
            "on_time" => {
                sets.push(("full_on", rc.probation_end));
                member_change = Some("full");
            }
            "extend" => {
                let end = rc
                    .probation_end
                    .map(|d| rules::add_months(d, input.extension_months));
                sets.push(("probation_end", end));
                step = 21;
            }
            _ => {
                status = "cancelled";
                member_change = Some("cancel");
            }
        },
        25 => status = "completed",
        _ => {}
    }
    let extended = rc.extended || (e.step == 24 && input.outcome == "extend");
    let channel = if e.step == 3 {
        Some(input.channel.clone())
    } else {
        rc.channel.clone()
    };
    on_tx!(tx, c => {
        sqlx::query("UPDATE recruits SET step = $1, status = $2, extended = $3, channel = $4 WHERE id = $5")
            .bind(step).bind(status).bind(extended).bind(&channel).bind(rc.id).execute(&mut *c).await?;
        for (col, val) in &sets {
            // column names come from the match above, never from input
            sqlx::query(&format!("UPDATE recruits SET {col} = $1 WHERE id = $2")).bind(*val).bind(rc.id).execute(&mut *c).await?;
        }
        if rc.backfill_open && status != "active" {
            // a transcribed file that has ended is finished with it
            sqlx::query("UPDATE recruits SET backfill_open = $1 WHERE id = $2").bind(false).bind(rc.id).execute(&mut *c).await?;
        }
    });
    let (after, _) = get_tx(tx, rc.id).await?;
    match member_change {
        // 补录: a member already on the roll is linked; one who is not joins the roll when the
        // file is finished or becomes full (the roll never holds a 预备党员 whose probation is
        // long over)
        Some("admit") if rc.backfill_open => link_roll_member(tx, &after).await?,
        Some("full") if rc.backfill_open && after.member_id.is_none() => {
            admit_member(ctx, tx, p, &after, branch_path, true).await?
        }
        Some("full") if rc.backfill_open => check_roll_full(ctx, tx, &after).await?,
        Some("cancel") if rc.backfill_open && after.member_id.is_some() => {
            return Err(AppError::refused(
                "recruit.backfill_roll_mismatch",
                "名册中已有该党员，而纸质档案记载取消预备党员资格，请先核对名册与档案",
            ));
        }
        Some("admit") => admit_member(ctx, tx, p, &after, branch_path, false).await?,
        Some("full") => {
            if let Some(mid) = after.member_id {
                on_tx!(tx, c => {
                    sqlx::query("UPDATE members SET status = 'full', full_date = $1, version = version + 1, updated_at = $2 WHERE id = $3")
                        .bind(after.full_on).bind(ctx.clock.now()).bind(mid).execute(&mut *c).await?;
                });
                audit::append(
                    tx,
                    &p.actor(),
                    NewEntry {
                        action: "member.full",
                        object_type: "member",
                        object_id: mid.to_string(),
                        before: serde_json::json!({"status": "probationary"}),
                        after: serde_json::json!({"status": "full", "full_date": after.full_on, "recruit_id": rc.id}),
                    },
                )
                .await?;
            }
        }
        Some(_) => {
            if let Some(mid) = after.member_id {
                let refs = on_tx!(tx, c => {
                    let a = sqlx::query("SELECT COUNT(*) AS n FROM accounts WHERE member_id = $1").bind(mid).fetch_one(&mut *c).await?.i64("n")?;
                    let t = sqlx::query("SELECT COUNT(*) AS n FROM transfers WHERE member_id = $1").bind(mid).fetch_one(&mut *c).await?.i64("n")?;
                    let pp = sqlx::query("SELECT COUNT(*) AS n FROM recruit_people WHERE member_id = $1").bind(mid).fetch_one(&mut *c).await?.i64("n")?;
                    a + t + pp
                });
                if refs > 0 {
                    return Err(AppError::refused(
                        "recruit.member_referenced",
                        "该预备党员仍有账号、转接记录或担任联系人/介绍人的记录，请先处理后再取消资格",
                    ));
                }
                let snapshot = crate::member::store::get(ctx, mid).await.ok().map(|m| m.0);
                on_tx!(tx, c => {
                    sqlx::query("UPDATE recruits SET member_id = NULL WHERE id = $1").bind(rc.id).execute(&mut *c).await?;
                    sqlx::query("DELETE FROM members WHERE id = $1").bind(mid).execute(&mut *c).await?;
                });
                audit::append(
                    tx,
                    &p.actor(),
                    NewEntry {
                        action: "member.remove",
                        object_type: "member",
                        object_id: mid.to_string(),
                        before: serde_json::to_value(snapshot).unwrap_or_default(),
                        after: serde_json::json!({"reason": "取消预备党员资格", "recruit_id": rc.id}),
                    },
                )
                .await?;
            }
        }
        None => {}
    }
    let (after, _) = get_tx(tx, rc.id).await?;
    audit::append(
        tx,
        &p.actor(),
        NewEntry {
            action: "recruit.step_complete",
            object_type: "recruit",
            object_id: rc.id.to_string(),
            before: serde_json::json!({"step": rc.step, "status": rc.status}),
            after: serde_json::json!({"entry_id": e.id, "step": after.step, "status": after.status,
                "digest": e.digest, "member_id": after.member_id}),
        },
    )
    .await?;
    refresh_due(tx, &after, r).await?;
    Ok(())
}

/// Step 17 approved: the person enters the roster as a probationary member whose joining
/// date is the date of the branch meeting.
/// 补录 at approval: links the member already on this branch's roll with the same ID number,
/// whose joining date must be the file's meeting date.
async fn link_roll_member(tx: &mut Tx, rc: &Recruit) -> AppResult<()> {
    let id_idx = on_tx!(tx, c => {
        sqlx::query("SELECT id_idx FROM recruits WHERE id = $1").bind(rc.id).fetch_one(&mut *c).await?.string("id_idx")?
    });
    let found = on_tx!(tx, c => {
        match sqlx::query("SELECT id, join_date FROM members WHERE id_idx = $1 AND org_id = $2").bind(&id_idx).bind(rc.org_id).fetch_optional(&mut *c).await? {
            Some(r) => Some((r.i64("id")?, r.date("join_date")?)),
            None => None,
        }
    });
    if let Some((mid, join)) = found {
        if Some(join) != rc.admitted_on {
            return Err(AppError::refused(
                "recruit.backfill_roll_mismatch",
                format!(
                    "名册中该党员的入党日期为{join}，与档案中支部大会通过的日期{}不一致，请先核对名册与档案",
                    rc.admitted_on.map(|d| d.to_string()).unwrap_or_default()
                ),
            ));
        }
        on_tx!(tx, c => {
            sqlx::query("UPDATE recruits SET member_id = $1 WHERE id = $2").bind(mid).bind(rc.id).execute(&mut *c).await?;
        });
    }
    Ok(())
}

/// 补录 at full membership with a linked roll member: the roll's full date must be the file's.
async fn check_roll_full(ctx: &Ctx, tx: &mut Tx, rc: &Recruit) -> AppResult<()> {
    let Some(mid) = rc.member_id else {
        return Ok(());
    };
    let (status, full) = on_tx!(tx, c => {
        let r = sqlx::query("SELECT status, full_date FROM members WHERE id = $1").bind(mid).fetch_one(&mut *c).await?;
        (r.string("status")?, r.opt_date("full_date")?)
    });
    if status == "full" && full != rc.full_on {
        return Err(AppError::refused(
            "recruit.backfill_roll_mismatch",
            format!(
                "名册中该党员的转正日期为{}，与档案中的转正日期{}不一致，请先核对名册与档案",
                full.map(|d| d.to_string()).unwrap_or_default(),
                rc.full_on.map(|d| d.to_string()).unwrap_or_default()
            ),
        ));
    }
    if status == "probationary" {
        on_tx!(tx, c => {
            sqlx::query("UPDATE members SET status = 'full', full_date = $1, version = version + 1, updated_at = $2 WHERE id = $3")
                .bind(rc.full_on).bind(ctx.clock.now()).bind(mid).execute(&mut *c).await?;
        });
    }
    Ok(())
}

/// Puts the admitted person on the roll: as 预备党员 at approval, or (补录 of a file whose
/// probation is over) straight as 正式党员 with the file's dates.
async fn admit_member(
    ctx: &Ctx,
    tx: &mut Tx,
    p: &Principal,
    rc: &Recruit,
    branch_path: &str,
    full: bool,
) -> AppResult<()> {
    let (id_enc, phone_enc) = on_tx!(tx, c => {
        let r = sqlx::query("SELECT id_enc, phone_enc FROM recruits WHERE id = $1").bind(rc.id).fetch_one(&mut *c).await?;
        (r.bytes("id_enc")?, r.opt_bytes("phone_enc")?)
    });
    let id_number = ctx
        .vault
        .decrypt(&aad("recruits", "id_enc", rc.id), &id_enc)
        .map_err(|e| AppError::Internal(format!("recruit {} id_enc: {e}", rc.id)))?;
    let phone = phone_enc
        .map(|b| ctx.vault.decrypt(&aad("recruits", "phone_enc", rc.id), &b))
        .transpose()
        .map_err(|e| AppError::Internal(format!("recruit {} phone_enc: {e}", rc.id)))?;
    let join = rc
        .admitted_on
        .ok_or_else(|| AppError::Internal("admitted without a meeting date".into()))?;
    let input = MemberInput {
        org_id: rc.org_id,
        name: rc.name.clone(),
        gender: Some(rc.gender.clone()),
        ethnicity: rc.ethnicity.clone(),
        birth_date: None,
        id_number: Some(id_number),
        phone,
        education: rc.education.clone(),
        work_unit: if rc.work_unit.is_empty() {
            "未填写".into()
        } else {
            rc.work_unit.clone()
        },
        join_date: join,
        full_date: if full { rc.full_on } else { None },
        status: if full { "full" } else { "probationary" }.into(),
        ..Default::default()
    };
    let checked = crate::member::store::check_input(ctx, branch_path, &input, None).await?;
    let mid = crate::member::store::insert_checked(ctx, tx, &p.actor(), rc.org_id, None, &checked)
        .await?;
    on_tx!(tx, c => {
        sqlx::query("UPDATE recruits SET member_id = $1 WHERE id = $2").bind(mid).bind(rc.id).execute(&mut *c).await?;
    });
    Ok(())
}

/// The role `p` signs an entry in: while a paper file is transcribed (补录) the entering
/// officer signs for the step's first signer (anyone else is refused); otherwise the first
/// of the step's signers that `p` may be ([`role_for`]), none if none.
fn signing_role(
    p: &Principal,
    rc: &Recruit,
    signers: &[Signer],
    branch_path: &str,
    approving: Option<&str>,
    contacts: &[i64],
) -> AppResult<Option<Signer>> {
    if rc.backfill_open {
        if !backfill_officer(p, branch_path) {
            return Err(not_backfill_officer());
        }
        return Ok(Some(
            signers.first().copied().unwrap_or(Signer::BranchSecretary),
        ));
    }
    Ok(role_for(p, signers, branch_path, approving, contacts))
}

/// Which signer role `p` takes for an entry of `step`, if any.
fn role_for(
    p: &Principal,
    signers: &[Signer],
    branch_path: &str,
    approving: Option<&str>,
    contacts: &[i64],
) -> Option<Signer> {
    signers
        .iter()
        .copied()
        .find(|s| can_sign(p, *s, branch_path, approving, contacts))
}

/// Records step `input.step` for a recruit, signed by `p`.
pub async fn record_step(
    ctx: &Ctx,
    p: &Principal,
    recruit_id: i64,
    input: &StepInput,
    secret: &str,
) -> AppResult<Entry> {
    let (rc, path) = get(ctx, recruit_id).await?;
    let r = rules_for(ctx, &path).await?;
    let Some(def) = super::step(input.step) else {
        return Err(AppError::field("step", "步骤应在1至25之间"));
    };
    if def.no == 1 {
        return Err(AppError::refused(
            "recruit.out_of_order",
            "第1步在登记申请人时记录",
        ));
    }
    let approving = approving_org(ctx, &path).await?;
    let mut signers = r.signers_for(def.no);
    if def.no == 11
        && !input.exception_reason.trim().is_empty()
        && !signers.contains(&Signer::Committee)
    {
        // a shorter training needs the committee's signature on its reason
        signers.push(Signer::Committee);
    }
    if signers.contains(&Signer::Committee) && approving.is_none() {
        return Err(AppError::refused(
            "recruit.no_approving_committee",
            "该党支部上级没有具有发展党员审批权的基层党委，请组织部门先设置",
        ));
    }
    let mut tx = ctx.db.begin().await?;
    let contacts = contacts_of(&mut tx, rc.id).await?;
    let role = signing_role(
        p,
        &rc,
        &signers,
        &path,
        approving.as_ref().map(|o| o.path.as_str()),
        &contacts,
    )?
    .ok_or_else(|| {
        AppError::Forbidden(format!(
            "第{}步“{}”须由{}记录并签名",
            def.no,
            def.name,
            signer_labels(&signers)
        ))
    })?;
    let people: Vec<i64> = input
        .contacts
        .iter()
        .chain(input.introducers.iter())
        .copied()
        .collect();
    // discussed at a 党员大会 recorded under 组织生活: its roll gives those entitled and present
    let linked;
    let input = match (input.meeting_id, def.no) {
        (Some(mid), 15 | 23) => {
            linked = with_sitting(ctx, &rc, input, mid).await?;
            &linked
        }
        (Some(_), _) => {
            return Err(AppError::field(
                "meeting_id",
                "只有支部大会讨论的步骤可以关联会议",
            ))
        }
        _ => input,
    };
    let on = input.done_on.unwrap_or_else(|| ctx.clock.today());
    let mut f = facts(&mut tx, &rc, def.no, &people, on).await?;
    if rc.backfill_open {
        // the roll of a meeting years ago is not in the platform: the entered number stands
        f.voters = None;
    }
    let done_on = rules::check_step(input, &f, &r, ctx.clock.today())?;
    if def.kind == StepKind::Group {
        if let Some(g) = input.group_id {
            let ok = on_tx!(&mut tx, c => {
                sqlx::query("SELECT id FROM orgs WHERE id = $1 AND parent_id = $2 AND kind = 'group' AND dissolved_at IS NULL")
                    .bind(g).bind(rc.org_id).fetch_optional(&mut *c).await?.is_some()
            });
            if !ok {
                return Err(AppError::field("group_id", "党小组须属于本党支部"));
            }
        }
    }
    // The signature is checked last, so a refusal never costs a TOTP code.
    drop(tx);
    let method = crate::auth::store::confirm_identity(ctx, p, secret).await?;
    let method = if rc.backfill_open { "backfill" } else { method };
    let mut tx = ctx.db.begin().await?;
    let (fresh, _) = get_tx(&mut tx, rc.id).await?;
    if fresh.version != rc.version {
        return Err(AppError::Conflict(
            "该发展对象刚被他人更新，请刷新后重试".into(),
        ));
    }
    let mut clean = input.clone();
    clean.done_on = Some(done_on);
    let e = insert_entry(
        ctx, &mut tx, p, &rc, &path, &clean, done_on, &signers, role, method, &r, None,
    )
    .await?;
    if def.kind == StepKind::Group {
        if let (Some(g), Some(mid)) = (input.group_id, fresh.member_id) {
            on_tx!(&mut tx, c => {
                sqlx::query("UPDATE members SET group_id = $1, version = version + 1 WHERE id = $2").bind(g).bind(mid).execute(&mut *c).await?;
            });
        }
    }
    tx.commit().await?;
    Ok(e)
}

/// Adds `p`'s signature to an entry that still needs it.
pub async fn sign(ctx: &Ctx, p: &Principal, entry_id: i64, secret: &str) -> AppResult<Entry> {
    let rid = entry_recruit(ctx, entry_id).await?;
    let (rc, path) = get(ctx, rid).await?;
    let r = rules_for(ctx, &path).await?;
    let approving = approving_org(ctx, &path).await?;
    let mut tx = ctx.db.begin().await?;
    let e = entry_tx(&mut tx, entry_id).await?;
    if e.complete {
        return Err(AppError::Conflict("该步骤已完成签名".into()));
    }
    let contacts = contacts_of(&mut tx, rc.id).await?;
    let missing: Vec<Signer> = e
        .missing()
        .iter()
        .filter_map(|s| Signer::parse(s))
        .collect();
    let role = role_for(
        p,
        &missing,
        &path,
        approving.as_ref().map(|o| o.path.as_str()),
        &contacts,
    )
    .ok_or_else(|| AppError::Forbidden(format!("该步骤待{}签名", signer_labels(&missing))))?;
    drop(tx);
    let method = crate::auth::store::confirm_identity(ctx, p, secret).await?;
    let mut tx = ctx.db.begin().await?;
    let (fresh, _) = get_tx(&mut tx, rc.id).await?;
    let now = ctx.clock.now();
    on_tx!(&mut tx, c => {
        sqlx::query("INSERT INTO recruit_signatures (entry_id, signer_role, account_id, signer_name, method, signed_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(entry_id).bind(role.as_str()).bind(p.account_id).bind(&p.display_name).bind(method).bind(now)
            .execute(&mut *c).await?;
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "recruit.sign",
            object_type: "recruit",
            object_id: rc.id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"entry_id": entry_id, "step": e.step, "digest": e.digest, "signed_as": role.as_str(), "method": method}),
        },
    )
    .await?;
    bump(&mut tx, &fresh).await?;
    let e = entry_tx(&mut tx, entry_id).await?;
    if e.missing().is_empty() {
        let (now_rc, _) = get_tx(&mut tx, rc.id).await?;
        if e.corrects_id.is_some() {
            apply_correction(&mut tx, p, &now_rc, &e, &r).await?;
        } else {
            complete(ctx, &mut tx, p, &now_rc, &path, &e, &r).await?;
        }
    }
    let out = entry_tx(&mut tx, entry_id).await?;
    tx.commit().await?;
    Ok(out)
}

/// Recomputes the stored next deadline of every active recruit and talent-pool person under
/// `scope_path`, each with the rules effective for their branch: after a rule set changes,
/// lists and reminders follow the new values. Runs in batches so a city's pipeline does not
/// hold one long write transaction.
pub async fn refresh_due_under(ctx: &Ctx, scope_path: &str) -> AppResult<usize> {
    let upper = path_upper(scope_path);
    let (ids, talents) = on_db!(&ctx.db, p => {
        let rows = sqlx::query("SELECT r.id FROM recruits r JOIN orgs o ON o.id = r.org_id WHERE o.path >= $1 AND o.path < $2 AND r.status = 'active' ORDER BY r.id")
            .bind(scope_path).bind(&upper).fetch_all(p).await?;
        let ids = rows.iter().map(|r| r.i64("id")).collect::<DbResult<Vec<_>>>()?;
        let rows = sqlx::query("SELECT t.id, o.path, COALESCE(t.last_contact, t.recommended_on) AS since FROM talents t JOIN orgs o ON o.id = t.org_id WHERE o.path >= $1 AND o.path < $2 AND t.status = 'tracking' ORDER BY t.id")
            .bind(scope_path).bind(&upper).fetch_all(p).await?;
        let talents = rows.iter().map(|r| Ok((r.i64("id")?, r.string("path")?, r.date("since")?))).collect::<DbResult<Vec<_>>>()?;
        (ids, talents)
    });
    let mut cache: std::collections::HashMap<String, RecruitRules> = Default::default();
    for chunk in ids.chunks(200) {
        let mut tx = ctx.db.begin().await?;
        for id in chunk {
            let (rc, path) = get_tx(&mut tx, *id).await?;
            if !cache.contains_key(&path) {
                cache.insert(path.clone(), rules_for(ctx, &path).await?);
            }
            if let Some(r) = cache.get(&path) {
                refresh_due(&mut tx, &rc, r).await?;
            }
        }
        tx.commit().await?;
    }
    for chunk in talents.chunks(500) {
        let mut tx = ctx.db.begin().await?;
        for (id, path, since) in chunk {
            if !cache.contains_key(path) {
                cache.insert(path.clone(), rules_for(ctx, path).await?);
            }
            let due = cache
                .get(path)
                .map(|r| super::talent::contact_due(*since, r));
            on_tx!(&mut tx, c => {
                sqlx::query("UPDATE talents SET due_on = $1 WHERE id = $2").bind(due).bind(*id).execute(&mut *c).await?;
            });
        }
        tx.commit().await?;
    }
    Ok(ids.len() + talents.len())
}

// ---- 补录 ----

/// Finishes the transcription of a paper file: from now on it is a live file (due dates,
/// the signers of each step). A file still running past approval puts the person on the roll
/// as 预备党员 now. Only the staff who may enter 补录.
pub async fn finish_backfill(ctx: &Ctx, p: &Principal, recruit_id: i64) -> AppResult<Recruit> {
    let (rc, path) = get(ctx, recruit_id).await?;
    if !backfill_officer(p, &path) {
        return Err(not_backfill_officer());
    }
    if !rc.backfill_open {
        return Err(AppError::refused(
            "recruit.backfill_closed",
            "该档案不在补录中",
        ));
    }
    let r = rules_for(ctx, &path).await?;
    let mut tx = ctx.db.begin().await?;
    if entries_tx(&mut tx, rc.id)
        .await?
        .iter()
        .any(|e| !e.complete)
    {
        return Err(AppError::refused(
            "recruit.awaiting_signatures",
            "尚有待签名的记录，完成后才能结束补录",
        ));
    }
    on_tx!(&mut tx, c => {
        sqlx::query("UPDATE recruits SET backfill_open = $1 WHERE id = $2").bind(false).bind(rc.id).execute(&mut *c).await?;
    });
    let (now_rc, _) = get_tx(&mut tx, rc.id).await?;
    if now_rc.status == "active" && now_rc.step >= 17 && now_rc.member_id.is_none() {
        link_roll_member(&mut tx, &now_rc).await?;
        let (linked, _) = get_tx(&mut tx, rc.id).await?;
        if linked.member_id.is_none() {
            admit_member(ctx, &mut tx, p, &linked, &path, false).await?;
        }
    }
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "recruit.backfill_finished",
            object_type: "recruit",
            object_id: rc.id.to_string(),
            before: serde_json::json!({"backfill_ref": rc.backfill_ref, "step": rc.step}),
            after: serde_json::json!({"backfill_open": false}),
        },
    )
    .await?;
    bump(&mut tx, &rc).await?;
    let (after, _) = get_tx(&mut tx, rc.id).await?;
    refresh_due(&mut tx, &after, &r).await?;
    let (after, _) = get_tx(&mut tx, rc.id).await?;
    tx.commit().await?;
    Ok(after)
}

// ---- corrections (更正) ----

/// A correction of a record: its date and wording, with the reason. What a step decided
/// (votes, outcomes, conclusions, the people named) is never corrected; the 细则 has the step
/// done again instead.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct Correction {
    /// The corrected date (the record's own date when only the wording changes).
    pub done_on: Option<NaiveDate>,
    /// The corrected note.
    pub note: String,
    /// Why the earlier record was wrong.
    pub reason: String,
    /// Password or a TOTP code: the corrector's signature.
    pub secret: String,
}

async fn entries_tx(tx: &mut Tx, rid: i64) -> AppResult<Vec<Entry>> {
    let sql = format!(
        "SELECT {ENTRY_COLUMNS} FROM recruit_entries e WHERE e.recruit_id = $1 ORDER BY e.id"
    );
    let mut list = on_tx!(tx, c => {
        let rows = sqlx::query(&sql).bind(rid).fetch_all(&mut *c).await?;
        rows.iter().map(entry_row).collect::<DbResult<Vec<_>>>()?
    });
    mark_corrected(&mut list);
    Ok(list)
}

/// The applicant's exact birth date, read from the encrypted ID number for the age rule
/// (never shown, so not an unmask).
async fn exact_birth(ctx: &Ctx, rid: i64) -> AppResult<NaiveDate> {
    let enc = on_db!(&ctx.db, p => {
        sqlx::query("SELECT id_enc FROM recruits WHERE id = $1").bind(rid).fetch_optional(p).await?
            .ok_or(AppError::NotFound("发展对象"))?.bytes("id_enc")?
    });
    let number = ctx
        .vault
        .decrypt(&aad("recruits", "id_enc", rid), &enc)
        .map_err(|e| AppError::Internal(format!("recruit {rid} id_enc: {e}")))?;
    crate::member::idcard::parse(&number)
        .map(|i| i.birth_date)
        .map_err(|e| AppError::Internal(format!("recruit {rid}: stored ID number: {e}")))
}

/// The time rules' view of a file, around the effective record `target`; `birth` is the
/// exact birth date when a rule about the application date needs it.
fn timeline(list: &[Entry], target: i64, birth: Option<NaiveDate>) -> rules::Timeline {
    let eff = effective(list);
    let mut t = rules::Timeline {
        birth_date: birth,
        ..Default::default()
    };
    for e in eff.iter().filter(|e| e.complete) {
        t.dates.insert(e.step, e.done_on);
        let data: StepInput = serde_json::from_value(e.data.clone()).unwrap_or_default();
        match e.step {
            10 => t.review_passed = data.conclusion == "pass",
            13 => t.expected_leave_on = data.expected_leave_on,
            17 => t.late_reason_17 = data.late_reason,
            24 => {
                if data.outcome == "extend" {
                    t.extension_months += data.extension_months;
                }
                t.late_reason_24 = data.late_reason;
            }
            _ => {}
        }
    }
    if let Some(i) = eff.iter().position(|e| e.id == target) {
        t.prev_on = i.checked_sub(1).and_then(|j| eff.get(j)).map(|e| e.done_on);
        t.next_on = eff.get(i + 1).map(|e| e.done_on);
    }
    t
}

/// Records a correction of entry `entry_id` as a new entry pointing to it, signed by the roles
/// the corrected record needed; it takes effect when all of them have signed.
pub async fn correct(
    ctx: &Ctx,
    p: &Principal,
    entry_id: i64,
    input: &Correction,
) -> AppResult<Entry> {
    let rid = entry_recruit(ctx, entry_id).await?;
    let (rc, path) = get(ctx, rid).await?;
    let r = rules_for(ctx, &path).await?;
    let reason = input.reason.trim();
    let mut c = crate::error::Checks::default();
    c.check(input.done_on.is_some(), "done_on", "请填写日期");
    c.check(
        input.note.chars().count() <= 2000,
        "note",
        "说明不超过2000字",
    );
    c.check(
        !reason.is_empty() && reason.chars().count() <= 500,
        "reason",
        "请写明更正理由（500字以内）",
    );
    c.finish()?;
    let done_on = input
        .done_on
        .ok_or_else(|| AppError::field("done_on", "请填写日期"))?;
    let approving = approving_org(ctx, &path).await?;
    let mut tx = ctx.db.begin().await?;
    let list = entries_tx(&mut tx, rid).await?;
    let Some(orig) = list.iter().find(|e| e.id == entry_id) else {
        return Err(AppError::NotFound("步骤记录"));
    };
    if let Some(pending) = list.iter().find(|e| !e.complete) {
        return Err(AppError::refused(
            "recruit.awaiting_signatures",
            format!("第{}步的记录尚待签名，完成后才能更正", pending.step),
        ));
    }
    if let Some(by) = orig.corrected_by {
        return Err(AppError::refused(
            "recruit.already_corrected",
            format!("该记录已被更正（记录{by}），请更正最新的记录"),
        ));
    }
    if done_on == orig.done_on && input.note.trim() == orig.note {
        return Err(AppError::field("note", "更正后的日期和说明与原记录相同"));
    }
    let birth = if orig.step == 1 {
        Some(exact_birth(ctx, rc.id).await?)
    } else {
        None
    };
    let mut t = timeline(&list, orig.id, birth);
    if r.needs_publicity(orig.step) {
        // the publicity before the first record of this step (a correction's own record is later)
        let mut first = orig;
        while let Some(prev) = first
            .corrects_id
            .and_then(|id| list.iter().find(|e| e.id == id))
        {
            first = prev;
        }
        let recorded = first.recorded_at;
        t.publicity_end = on_tx!(&mut tx, c => {
            sqlx::query("SELECT ends_on FROM recruit_publicity WHERE recruit_id = $1 AND before_step = $2 AND created_at <= $3 ORDER BY id DESC LIMIT 1")
                .bind(rc.id).bind(orig.step).bind(recorded).fetch_optional(&mut *c).await?
                .map(|r| r.date("ends_on")).transpose()?
        });
    }
    if orig.step == 15 || orig.step == 23 {
        let data: StepInput = serde_json::from_value(orig.data.clone()).unwrap_or_default();
        t.votes = data.votes;
        if !rc.backfill_open {
            t.voters = Some(voters(&mut tx, rc.org_id, done_on).await?);
        }
    }
    rules::check_correction(orig.step, done_on, &t, &r, ctx.clock.today())?;
    let signers: Vec<Signer> = orig
        .required
        .iter()
        .filter_map(|s| Signer::parse(s))
        .collect();
    let contacts = contacts_of(&mut tx, rc.id).await?;
    let role = signing_role(
        p,
        &rc,
        &signers,
        &path,
        approving.as_ref().map(|o| o.path.as_str()),
        &contacts,
    )?
    .ok_or_else(|| {
        AppError::Forbidden(format!(
            "更正第{}步“{}”的记录须由{}签名",
            orig.step,
            orig.step_name(),
            signer_labels(&signers)
        ))
    })?;
    let mut data: StepInput = serde_json::from_value(orig.data.clone()).unwrap_or_default();
    data.step = orig.step;
    data.done_on = Some(done_on);
    data.note = input.note.trim().to_string();
    data.correction_reason = reason.to_string();
    let orig_id = orig.id;
    drop(tx);
    let method = crate::auth::store::confirm_identity(ctx, p, &input.secret).await?;
    let method = if rc.backfill_open { "backfill" } else { method };
    let mut tx = ctx.db.begin().await?;
    let (fresh, _) = get_tx(&mut tx, rc.id).await?;
    if fresh.version != rc.version {
        return Err(AppError::Conflict(
            "该发展对象刚被他人更新，请刷新后重试".into(),
        ));
    }
    let e = insert_entry(
        ctx,
        &mut tx,
        p,
        &fresh,
        &path,
        &data,
        done_on,
        &signers,
        role,
        method,
        &r,
        Some(orig_id),
    )
    .await?;
    tx.commit().await?;
    Ok(e)
}

/// A correction signed by all its roles: it replaces the record, and the dates derived from
/// the record's date follow it (the recruit's stage dates, the probation end, the member's
/// joining and full-membership dates).
async fn apply_correction(
    tx: &mut Tx,
    p: &Principal,
    rc: &Recruit,
    e: &Entry,
    r: &RecruitRules,
) -> AppResult<()> {
    let n = on_tx!(tx, c => {
        sqlx::query("UPDATE recruit_entries SET complete = $1 WHERE id = $2 AND complete = $3")
            .bind(true).bind(e.id).bind(false).execute(&mut *c).await?.rows_affected()
    });
    if n != 1 {
        return Err(AppError::Conflict("该更正已生效".into()));
    }
    let list = entries_tx(tx, rc.id).await?;
    let old = e
        .corrects_id
        .and_then(|o| list.iter().find(|x| x.id == o))
        .map(|x| x.done_on)
        .ok_or_else(|| AppError::Internal(format!("correction {} without its record", e.id)))?;
    let new = e.done_on;
    let t = timeline(&list, e.id, None);
    let mut sets: Vec<(&str, Option<NaiveDate>)> = Vec::new();
    if old != new {
        match e.step {
            1 => sets.push(("applied_on", Some(new))),
            3 if rc.activist_on == Some(old) => sets.push(("activist_on", Some(new))),
            7 if rc.candidate_on == Some(old) => sets.push(("candidate_on", Some(new))),
            15 if rc.admitted_on == Some(old) => {
                let end = t.probation_end(r);
                sets.push(("admitted_on", Some(new)));
                sets.push(("probation_end", end));
                if rc.full_on.is_some() {
                    sets.push(("full_on", end));
                }
            }
            _ => {}
        }
    }
    on_tx!(tx, c => {
        for (col, val) in &sets {
            // column names come from the match above, never from input
            sqlx::query(&format!("UPDATE recruits SET {col} = $1 WHERE id = $2")).bind(*val).bind(rc.id).execute(&mut *c).await?;
        }
    });
    let (after, _) = get_tx(tx, rc.id).await?;
    if let (Some(mid), true) = (after.member_id, after.admitted_on != rc.admitted_on) {
        let now = tx.now;
        on_tx!(tx, c => {
            sqlx::query("UPDATE members SET join_date = $1, full_date = $2, version = version + 1, updated_at = $3 WHERE id = $4")
                .bind(after.admitted_on).bind(after.full_on).bind(now).bind(mid).execute(&mut *c).await?;
        });
        audit::append(
            tx,
            &p.actor(),
            NewEntry {
                action: "member.update",
                object_type: "member",
                object_id: mid.to_string(),
                before: serde_json::json!({"join_date": rc.admitted_on, "full_date": rc.full_on}),
                after: serde_json::json!({"join_date": after.admitted_on, "full_date": after.full_on,
                    "reason": "更正支部大会日期", "recruit_id": rc.id}),
            },
        )
        .await?;
    }
    audit::append(
        tx,
        &p.actor(),
        NewEntry {
            action: "recruit.correction_applied",
            object_type: "recruit",
            object_id: rc.id.to_string(),
            before: serde_json::json!({"entry_id": e.corrects_id, "done_on": old,
                "applied_on": rc.applied_on, "activist_on": rc.activist_on, "candidate_on": rc.candidate_on,
                "admitted_on": rc.admitted_on, "probation_end": rc.probation_end, "full_on": rc.full_on}),
            after: serde_json::json!({"entry_id": e.id, "done_on": new, "digest": e.digest,
                "applied_on": after.applied_on, "activist_on": after.activist_on, "candidate_on": after.candidate_on,
                "admitted_on": after.admitted_on, "probation_end": after.probation_end, "full_on": after.full_on}),
        },
    )
    .await?;
    refresh_due(tx, &after, r).await?;
    Ok(())
}

// ---- evaluations (百分制测评) ----

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Evaluation {
    pub id: i64,
    pub recruit_id: i64,
    pub evaluated_on: NaiveDate,
    pub org_score: i64,
    pub mass_score: i64,
    /// Weighted total in tenths of a point (805 = 80.5).
    pub total_tenths: i64,
    /// candidate, continue, eliminate
    pub verdict: String,
    /// effective, pending_revisit, overturned
    pub status: String,
    pub revisit_on: Option<NaiveDate>,
    pub revisit_note: Option<String>,
}

impl Evaluation {
    pub fn total(&self) -> f64 {
        self.total_tenths as f64 / 10.0
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct EvaluationInput {
    pub evaluated_on: Option<NaiveDate>,
    /// The Party organisation's score, 0–100.
    pub org_score: i64,
    /// Members' and the public's score, 0–100.
    pub mass_score: i64,
}

pub async fn evaluations(ctx: &Ctx, recruit_id: i64) -> AppResult<Vec<Evaluation>> {
    Ok(on_db!(&ctx.db, p => {
        let rows = sqlx::query("SELECT id, recruit_id, evaluated_on, org_score, mass_score, total_tenths, verdict, status, revisit_on, revisit_note FROM recruit_evaluations WHERE recruit_id = $1 ORDER BY id")
            .bind(recruit_id).fetch_all(p).await?;
        rows.iter().map(|r| Ok(Evaluation {
            id: r.i64("id")?,
            recruit_id: r.i64("recruit_id")?,
            evaluated_on: r.date("evaluated_on")?,
            org_score: r.i64("org_score")?,
            mass_score: r.i64("mass_score")?,
            total_tenths: r.i64("total_tenths")?,
            verdict: r.string("verdict")?,
            status: r.string("status")?,
            revisit_on: r.opt_date("revisit_on")?,
            revisit_note: r.opt_string("revisit_note")?,
        })).collect::<DbResult<Vec<_>>>()?
    }))
}

/// Records a 100-point evaluation of an activist. Below the elimination line it does not
/// take effect until the committee's re-visit confirms it.
pub async fn evaluate(
    ctx: &Ctx,
    p: &Principal,
    recruit_id: i64,
    input: &EvaluationInput,
) -> AppResult<Evaluation> {
    let (rc, path) = get(ctx, recruit_id).await?;
    let by_officer = rc.backfill_open && backfill_officer(p, &path);
    if !by_officer && !can_sign(p, Signer::BranchSecretary, &path, None, &[]) {
        return Err(AppError::Forbidden("百分制测评由党支部书记录入".into()));
    }
    let r = rules_for(ctx, &path).await?;
    if rc.status != "active" || !(3..=6).contains(&rc.step) {
        return Err(AppError::refused(
            "recruit.evaluation_stage",
            "百分制测评在入党积极分子培养阶段（第3至6步）进行",
        ));
    }
    let on = input
        .evaluated_on
        .ok_or_else(|| AppError::field("evaluated_on", "请填写测评日期"))?;
    if on > ctx.clock.today() || Some(on) < rc.activist_on {
        return Err(AppError::field(
            "evaluated_on",
            "测评日期应在确定为入党积极分子之后、不晚于今天",
        ));
    }
    let (tenths, verdict) = rules::evaluate(input.org_score, input.mass_score, &r)?;
    let status = if verdict == Verdict::Eliminate {
        "pending_revisit"
    } else {
        "effective"
    };
    let mut tx = ctx.db.begin().await?;
    let pending = on_tx!(&mut tx, c => {
        sqlx::query("SELECT id FROM recruit_evaluations WHERE recruit_id = $1 AND status = 'pending_revisit'")
            .bind(rc.id).fetch_optional(&mut *c).await?.is_some()
    });
    if pending {
        return Err(AppError::refused(
            "recruit.revisit_pending",
            "上次测评低于淘汰线，党委回访考察后才能再次测评",
        ));
    }
    let id = on_tx!(&mut tx, c => {
        sqlx::query("INSERT INTO recruit_evaluations (recruit_id, evaluated_on, org_score, mass_score, total_tenths, verdict, status, recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id")
            .bind(rc.id).bind(on).bind(input.org_score).bind(input.mass_score).bind(tenths).bind(verdict.as_str()).bind(status)
            .bind(p.account_id).bind(ctx.clock.now()).fetch_one(&mut *c).await?.i64("id")?
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "recruit.evaluate",
            object_type: "recruit",
            object_id: rc.id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"evaluation_id": id, "evaluated_on": on, "org_score": input.org_score,
                "mass_score": input.mass_score, "total_tenths": tenths, "verdict": verdict.as_str(), "status": status}),
        },
    )
    .await?;
    bump(&mut tx, &rc).await?;
    refresh_due(&mut tx, &rc, &r).await?;
    tx.commit().await?;
    let list = evaluations(ctx, rc.id).await?;
    list.into_iter()
        .find(|e| e.id == id)
        .ok_or(AppError::NotFound("测评"))
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct RevisitInput {
    pub revisit_on: Option<NaiveDate>,
    pub note: String,
    /// true: the low score stands and the activist is eliminated; false: it is overturned.
    pub confirm: bool,
}

/// The committee's re-visit (回访考察) of an evaluation below the elimination line.
pub async fn revisit(
    ctx: &Ctx,
    p: &Principal,
    evaluation_id: i64,
    input: &RevisitInput,
) -> AppResult<Recruit> {
    let rid = evaluation_recruit(ctx, evaluation_id).await?;
    let (rc, path) = get(ctx, rid).await?;
    let approving = approving_org(ctx, &path).await?;
    let by_officer = rc.backfill_open && backfill_officer(p, &path);
    if !by_officer
        && !can_sign(
            p,
            Signer::Committee,
            &path,
            approving.as_ref().map(|o| o.path.as_str()),
            &[],
        )
    {
        return Err(AppError::Forbidden("回访考察由上级党委进行".into()));
    }
    let on = input
        .revisit_on
        .ok_or_else(|| AppError::field("revisit_on", "请填写回访日期"))?;
    if on > ctx.clock.today() {
        return Err(AppError::field("revisit_on", "日期不能晚于今天"));
    }
    if input.note.trim().is_empty() {
        return Err(AppError::field("note", "请写明回访考察情况"));
    }
    let r = rules_for(ctx, &path).await?;
    let new_status = if input.confirm {
        "effective"
    } else {
        "overturned"
    };
    let mut tx = ctx.db.begin().await?;
    let n = on_tx!(&mut tx, c => {
        sqlx::query("UPDATE recruit_evaluations SET status = $1, revisit_on = $2, revisit_note = $3, revisit_by = $4 WHERE id = $5 AND status = 'pending_revisit'")
            .bind(new_status).bind(on).bind(input.note.trim()).bind(p.account_id).bind(evaluation_id)
            .execute(&mut *c).await?.rows_affected()
    });
    if n != 1 {
        return Err(AppError::Conflict("该测评不需要或已完成回访考察".into()));
    }
    if input.confirm {
        on_tx!(&mut tx, c => {
            sqlx::query("UPDATE recruits SET status = 'eliminated' WHERE id = $1").bind(rc.id).execute(&mut *c).await?;
        });
    }
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "recruit.revisit",
            object_type: "recruit",
            object_id: rc.id.to_string(),
            before: serde_json::json!({"evaluation_id": evaluation_id, "status": "pending_revisit"}),
            after: serde_json::json!({"evaluation_id": evaluation_id, "status": new_status, "revisit_on": on, "note": input.note.trim(),
                "recruit_status": if input.confirm { "eliminated" } else { "active" }}),
        },
    )
    .await?;
    bump(&mut tx, &rc).await?;
    let (after, _) = get_tx(&mut tx, rc.id).await?;
    refresh_due(&mut tx, &after, &r).await?;
    tx.commit().await?;
    Ok(get(ctx, rid).await?.0)
}

// ---- publicity (公示) ----

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Objection {
    pub id: i64,
    pub publicity_id: i64,
    pub received_on: NaiveDate,
    pub content: String,
    pub answer: Option<String>,
    pub answered_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Publicity {
    pub id: i64,
    pub recruit_id: i64,
    pub before_step: i64,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub objections: Vec<Objection>,
}

pub async fn publicities(ctx: &Ctx, recruit_id: i64) -> AppResult<Vec<Publicity>> {
    let (mut list, objs) = on_db!(&ctx.db, p => {
        let rows = sqlx::query("SELECT id, recruit_id, before_step, starts_on, ends_on FROM recruit_publicity WHERE recruit_id = $1 ORDER BY id")
            .bind(recruit_id).fetch_all(p).await?;
        let list = rows.iter().map(|r| Ok(Publicity {
            id: r.i64("id")?,
            recruit_id: r.i64("recruit_id")?,
            before_step: r.i64("before_step")?,
            starts_on: r.date("starts_on")?,
            ends_on: r.date("ends_on")?,
            objections: Vec::new(),
        })).collect::<DbResult<Vec<_>>>()?;
        let rows = sqlx::query("SELECT o.id, o.publicity_id, o.received_on, o.content, o.answer, o.answered_on FROM recruit_objections o JOIN recruit_publicity p ON p.id = o.publicity_id WHERE p.recruit_id = $1 ORDER BY o.id")
            .bind(recruit_id).fetch_all(p).await?;
        (list, rows.iter().map(|r| Ok(Objection {
            id: r.i64("id")?,
            publicity_id: r.i64("publicity_id")?,
            received_on: r.date("received_on")?,
            content: r.string("content")?,
            answer: r.opt_string("answer")?,
            answered_on: r.opt_date("answered_on")?,
        })).collect::<DbResult<Vec<_>>>()?)
    });
    for p in &mut list {
        p.objections = objs
            .iter()
            .filter(|o| o.publicity_id == p.id)
            .cloned()
            .collect();
    }
    Ok(list)
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct PublicityInput {
    /// The step the publicity precedes (7, 15 or 23 by default).
    pub before_step: i64,
    pub starts_on: Option<NaiveDate>,
}

/// Opens a publicity period before the recruit's next step.
pub async fn start_publicity(
    ctx: &Ctx,
    p: &Principal,
    recruit_id: i64,
    input: &PublicityInput,
) -> AppResult<Publicity> {
    let (rc, path) = get(ctx, recruit_id).await?;
    if rc.backfill_open {
        if !backfill_officer(p, &path) {
            return Err(not_backfill_officer());
        }
    } else if !can_sign(p, Signer::BranchSecretary, &path, None, &[]) {
        return Err(AppError::Forbidden("公示由党支部书记发起".into()));
    }
    let r = rules_for(ctx, &path).await?;
    if rc.status != "active" || !r.needs_publicity(input.before_step) {
        return Err(AppError::field("before_step", "该步骤前不需要公示"));
    }
    let next = if rc.step == 6 && input.before_step == 7 {
        7
    } else {
        rc.step + 1
    };
    if input.before_step != next {
        return Err(AppError::refused(
            "recruit.publicity_step",
            format!("只能为下一步（第{next}步）公示"),
        ));
    }
    let start = input
        .starts_on
        .ok_or_else(|| AppError::field("starts_on", "请填写公示开始日期"))?;
    let today = ctx.clock.today();
    if rc.backfill_open {
        // 补录: the publicity as the paper file records it
        if start < rc.applied_on || start > today {
            return Err(AppError::field(
                "starts_on",
                "补录的公示开始日期应在递交申请书之后、今天之前",
            ));
        }
    } else if start < today - Duration::days(30) || start > today + Duration::days(30) {
        return Err(AppError::field(
            "starts_on",
            "公示开始日期应在今天前后30天内",
        ));
    }
    let cal = crate::calendar::store::calendar(&ctx.db, start, start + Duration::days(90)).await?;
    let end = rules::publicity_end(start, r.publicity_working_days, &cal);
    let mut tx = ctx.db.begin().await?;
    // one open publicity per recruit and step: open until the step it precedes is recorded
    // (the recruit's version, bumped below, serialises two concurrent requests)
    let open = on_tx!(&mut tx, c => {
        match sqlx::query("SELECT p.starts_on, p.ends_on FROM recruit_publicity p WHERE p.recruit_id = $1 AND p.before_step = $2 \
             AND NOT EXISTS (SELECT 1 FROM recruit_entries e WHERE e.recruit_id = p.recruit_id AND e.step = p.before_step AND e.complete = $3 AND e.recorded_at >= p.created_at) \
             ORDER BY p.id DESC LIMIT 1")
            .bind(rc.id).bind(input.before_step).bind(true).fetch_optional(&mut *c).await? {
            Some(r) => Some((r.date("starts_on")?, r.date("ends_on")?)),
            None => None,
        }
    });
    if let Some((from, to)) = open {
        return Err(AppError::refused(
            "recruit.publicity_open",
            format!(
                "第{}步前已有公示（{from}至{to}），记录该步骤前不能再发起公示",
                input.before_step
            ),
        ));
    }
    let id = on_tx!(&mut tx, c => {
        sqlx::query("INSERT INTO recruit_publicity (recruit_id, before_step, starts_on, ends_on, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
            .bind(rc.id).bind(input.before_step).bind(start).bind(end).bind(p.account_id).bind(ctx.clock.now())
            .fetch_one(&mut *c).await?.i64("id")?
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "recruit.publicity",
            object_type: "recruit",
            object_id: rc.id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"publicity_id": id, "before_step": input.before_step, "starts_on": start, "ends_on": end,
                "working_days": r.publicity_working_days}),
        },
    )
    .await?;
    bump(&mut tx, &rc).await?;
    tx.commit().await?;
    publicities(ctx, rc.id)
        .await?
        .into_iter()
        .find(|x| x.id == id)
        .ok_or(AppError::NotFound("公示"))
}

/// The recruit a row of `table` (keyed by `id`) belongs to; `what` names it in a 404.
async fn recruit_of(ctx: &Ctx, sql: &str, id: i64, what: &'static str) -> AppResult<i64> {
    on_db!(&ctx.db, pool => {
        match sqlx::query(sql).bind(id).fetch_optional(pool).await? {
            Some(r) => Ok(r.i64("recruit_id")?),
            None => Err(AppError::NotFound(what)),
        }
    })
}

pub async fn evaluation_recruit(ctx: &Ctx, evaluation_id: i64) -> AppResult<i64> {
    recruit_of(
        ctx,
        "SELECT recruit_id FROM recruit_evaluations WHERE id = $1",
        evaluation_id,
        "测评",
    )
    .await
}

pub async fn publicity_recruit(ctx: &Ctx, publicity_id: i64) -> AppResult<i64> {
    recruit_of(
        ctx,
        "SELECT recruit_id FROM recruit_publicity WHERE id = $1",
        publicity_id,
        "公示",
    )
    .await
}

pub async fn objection_recruit(ctx: &Ctx, objection_id: i64) -> AppResult<i64> {
    recruit_of(
        ctx,
        "SELECT p.recruit_id FROM recruit_objections o JOIN recruit_publicity p ON p.id = o.publicity_id WHERE o.id = $1",
        objection_id,
        "公示反映",
    )
    .await
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct ObjectionInput {
    pub received_on: Option<NaiveDate>,
    pub content: String,
}

/// Records an objection received during a publicity.
pub async fn add_objection(
    ctx: &Ctx,
    p: &Principal,
    publicity_id: i64,
    input: &ObjectionInput,
) -> AppResult<Objection> {
    let rid = publicity_recruit(ctx, publicity_id).await?;
    let (rc, path) = get(ctx, rid).await?;
    if !p.can(crate::auth::Perm::RecruitWrite) || !p.in_scope(&path) {
        return Err(AppError::Forbidden("登记公示反映".into()));
    }
    let content = input.content.trim();
    if content.is_empty() || content.chars().count() > 2000 {
        return Err(AppError::field("content", "请填写反映内容（2000字以内）"));
    }
    let on = input
        .received_on
        .ok_or_else(|| AppError::field("received_on", "请填写收到日期"))?;
    let mut tx = ctx.db.begin().await?;
    let id = on_tx!(&mut tx, c => {
        sqlx::query("INSERT INTO recruit_objections (publicity_id, received_on, content) VALUES ($1, $2, $3) RETURNING id")
            .bind(publicity_id).bind(on).bind(content).fetch_one(&mut *c).await?.i64("id")?
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "recruit.objection",
            object_type: "recruit",
            object_id: rc.id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"objection_id": id, "publicity_id": publicity_id, "received_on": on, "content": content}),
        },
    )
    .await?;
    bump(&mut tx, &rc).await?;
    tx.commit().await?;
    Ok(Objection {
        id,
        publicity_id,
        received_on: on,
        content: content.to_string(),
        answer: None,
        answered_on: None,
    })
}

/// Answers an objection; the step waits until every objection is answered.
pub async fn answer_objection(
    ctx: &Ctx,
    p: &Principal,
    objection_id: i64,
    answer: &str,
) -> AppResult<()> {
    let rid = objection_recruit(ctx, objection_id).await?;
    let (rc, path) = get(ctx, rid).await?;
    if !p.can(crate::auth::Perm::RecruitWrite) || !p.in_scope(&path) {
        return Err(AppError::Forbidden("答复公示反映".into()));
    }
    let answer = answer.trim();
    if answer.is_empty() || answer.chars().count() > 2000 {
        return Err(AppError::field("answer", "请填写答复（2000字以内）"));
    }
    let today = ctx.clock.today();
    let mut tx = ctx.db.begin().await?;
    let n = on_tx!(&mut tx, c => {
        sqlx::query("UPDATE recruit_objections SET answer = $1, answered_on = $2, answered_by = $3 WHERE id = $4 AND answer IS NULL")
            .bind(answer).bind(today).bind(p.account_id).bind(objection_id).execute(&mut *c).await?.rows_affected()
    });
    if n != 1 {
        return Err(AppError::Conflict("该反映已答复".into()));
    }
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "recruit.objection_answer",
            object_type: "recruit",
            object_id: rc.id.to_string(),
            before: serde_json::json!({"objection_id": objection_id}),
            after: serde_json::json!({"objection_id": objection_id, "answer": answer, "answered_on": today}),
        },
    )
    .await?;
    bump(&mut tx, &rc).await?;
    tx.commit().await?;
    Ok(())
}

/// A publicity notice as the public page shows it: no personal numbers, the name masked.
#[derive(Debug, Clone, Serialize)]
pub struct Notice {
    pub publicity_id: i64,
    pub name: String,
    pub gender: String,
    pub org_name: String,
    pub step_name: &'static str,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
}

/// 张三丰 → 张*丰, 李四 → 李*.
pub fn mask_name(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    match chars.len() {
        0 => String::new(),
        1 => "*".into(),
        2 => format!("{}*", chars[0]),
        n => format!("{}{}{}", chars[0], "*".repeat(n - 2), chars[n - 1]),
    }
}

/// Publicity notices running today under `scope_path`.
pub async fn notices(ctx: &Ctx, scope_path: &str) -> AppResult<Vec<Notice>> {
    let today = ctx.clock.today();
    let upper = path_upper(scope_path);
    Ok(on_db!(&ctx.db, p => {
        let rows = sqlx::query("SELECT pb.id, r.name, r.gender, o.name AS org_name, pb.before_step, pb.starts_on, pb.ends_on FROM recruit_publicity pb JOIN recruits r ON r.id = pb.recruit_id JOIN orgs o ON o.id = r.org_id \
                                WHERE pb.starts_on <= $1 AND pb.ends_on >= $1 AND r.status = 'active' AND o.path >= $2 AND o.path < $3 ORDER BY pb.ends_on, pb.id LIMIT 500")
            .bind(today).bind(scope_path).bind(&upper).fetch_all(p).await?;
        rows.iter().map(|r| Ok(Notice {
            publicity_id: r.i64("id")?,
            name: mask_name(&r.string("name")?),
            gender: crate::member::gender_label(&r.string("gender")?).to_string(),
            org_name: r.string("org_name")?,
            step_name: super::step(r.i64("before_step")?).map(|d| d.name).unwrap_or(""),
            starts_on: r.date("starts_on")?,
            ends_on: r.date("ends_on")?,
        })).collect::<DbResult<Vec<_>>>()?
    }))
}

// ---- lists, queues, statistics ----

#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct RecruitFilter {
    /// Organisation whose subtree to list (default: the account's).
    pub org_id: Option<i64>,
    /// 1–5
    pub stage: Option<i64>,
    /// active (default), completed, eliminated, stopped, cancelled, all
    pub status: Option<String>,
    /// Name contains.
    pub q: Option<String>,
    /// overdue, soon (due within 30 days)
    pub due: Option<String>,
    pub page: Option<i64>,
}

pub const PER_PAGE: i64 = 50;

/// Stage → range of `step` (last complete step) in that stage, from the step table.
fn stage_range(stage: i64) -> (i64, i64) {
    let steps = (0..=25).filter(|s| super::stage_of(*s) == stage);
    let lo = steps.clone().min().unwrap_or(0);
    (lo, steps.max().unwrap_or(lo))
}

/// Adds `n` people whose last complete step is `step` to the per-stage counts.
fn count_in_stage(stages: &mut [i64], step: i64, n: i64) {
    let s = super::stage_of(step) as usize;
    if let Some(slot) = stages.get_mut(s.saturating_sub(1)) {
        *slot += n;
    }
}

/// `pinyin`: the ids a pinyin search of `f.q` found ([`crate::member::pinyin::matching`]).
fn list_where(scope_path: &str, f: &RecruitFilter, today: NaiveDate, pinyin: &[i64]) -> SqlBuilder {
    let mut b = SqlBuilder::subtree("o.path", scope_path);
    match f.status.as_deref() {
        Some("all") => {}
        Some(s) if super::STATUSES.iter().any(|(k, _)| *k == s) => {
            b.and(" AND r.status = ?", Val::Str(s.to_string()))
        }
        _ => b.and(" AND r.status = ?", Val::Str("active".into())),
    }
    if let Some(stage) = f.stage.filter(|s| (1..=5).contains(s)) {
        let (lo, hi) = stage_range(stage);
        b.and(" AND r.step >= ?", Val::I64(lo));
        b.and(" AND r.step <= ?", Val::I64(hi));
    }
    if let Some(q) = f.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let like = format!("%{}%", crate::member::store::like_escape(q));
        crate::member::pinyin::name_or_ids(
            &mut b,
            "r.name LIKE ? ESCAPE '\\'",
            like,
            "r.id",
            pinyin,
        );
    }
    match f.due.as_deref() {
        Some("overdue") => b.and(" AND r.due_on < ?", Val::Date(today)),
        Some("soon") => {
            b.and(" AND r.due_on >= ?", Val::Date(today));
            b.and(" AND r.due_on <= ?", Val::Date(today + Duration::days(30)));
        }
        _ => {}
    }
    b
}

/// Recruits under `scope_path`, filtered, most urgent first.
pub async fn list(
    ctx: &Ctx,
    scope_path: &str,
    f: &RecruitFilter,
) -> AppResult<(Vec<Recruit>, i64)> {
    let pinyin = crate::member::pinyin::matching(
        &ctx.db,
        "SELECT r.id, r.name FROM recruits r JOIN orgs o ON o.id = r.org_id WHERE o.path >= $1 AND o.path < $2",
        scope_path,
        f.q.as_deref().unwrap_or(""),
    )
    .await?;
    let b = list_where(scope_path, f, ctx.clock.today(), &pinyin);
    let page = f.page.unwrap_or(1).clamp(1, 100_000);
    let sql = format!(
        "SELECT {COLUMNS} FROM recruits r JOIN orgs o ON o.id = r.org_id{} ORDER BY CASE WHEN r.due_on IS NULL THEN 1 ELSE 0 END, r.due_on, r.id LIMIT {PER_PAGE} OFFSET {}",
        b.sql,
        (page - 1) * PER_PAGE
    );
    let count_sql = format!(
        "SELECT COUNT(*) AS n FROM recruits r JOIN orgs o ON o.id = r.org_id{}",
        b.sql
    );
    Ok(on_db!(&ctx.db, p => {
        let rows = bind_vals!(sqlx::query(&sql), &b.vals).fetch_all(p).await?;
        let total = bind_vals!(sqlx::query(&count_sql), &b.vals).fetch_one(p).await?.i64("n")?;
        (rows.iter().map(|r| row(r).map(|x| x.0)).collect::<DbResult<Vec<_>>>()?, total)
    }))
}

/// Active recruits per stage, and how many are overdue / due within 30 days.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
#[schema(as = RecruitBoard)]
pub struct Board {
    /// Count per stage 1–5.
    pub stages: Vec<i64>,
    pub overdue: i64,
    pub due_soon: i64,
}

pub async fn board(ctx: &Ctx, scope_path: &str) -> AppResult<Board> {
    let upper = path_upper(scope_path);
    let today = ctx.clock.today();
    // the whole database's tree (the city's board) needs no join to the organisations (a
    // province's 30,000 recruits: 44 ms → 6.8 ms on PostgreSQL)
    let subtree = if crate::org::store::is_whole_tree(&ctx.db, scope_path).await? {
        ""
    } else {
        " JOIN orgs o ON o.id = r.org_id AND o.path >= $3 AND o.path < $4"
    };
    let sql = format!(
        "SELECT r.step, COUNT(*) AS n, SUM(CASE WHEN r.due_on < $1 THEN 1 ELSE 0 END) AS late, SUM(CASE WHEN r.due_on >= $1 AND r.due_on <= $2 THEN 1 ELSE 0 END) AS soon \
         FROM recruits r{subtree} WHERE r.status = 'active' GROUP BY r.step"
    );
    let rows = on_db!(&ctx.db, p => {
        let q = sqlx::query(&sql).bind(today).bind(today + Duration::days(30));
        let q = if subtree.is_empty() { q } else { q.bind(scope_path).bind(&upper) };
        let rows = q.fetch_all(p).await?;
        rows.iter().map(|r| Ok((r.i64("step")?, r.i64("n")?, r.opt_i64("late")?.unwrap_or(0), r.opt_i64("soon")?.unwrap_or(0)))).collect::<DbResult<Vec<_>>>()?
    });
    let mut b = Board {
        stages: vec![0; 5],
        ..Default::default()
    };
    for (step, n, late, soon) in rows {
        count_in_stage(&mut b.stages, step, n);
        b.overdue += late;
        b.due_soon += soon;
    }
    Ok(b)
}

/// One line of the three-level statistics: a child organisation of the scope.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct StatRow {
    pub org_id: i64,
    pub org_name: String,
    /// Active recruits per stage 1–5.
    pub stages: Vec<i64>,
    pub overdue: i64,
    /// Admitted as probationary members this year (step 17 approved).
    pub admitted: i64,
    /// Became full members this year.
    pub full: i64,
    /// 发展计划 for this year, if set.
    pub quota: Option<i64>,
}

/// [`stats_uncached`] as a heavy read (`crate::heavy`): bounded, shared by identical
/// concurrent requests, refused quickly when the server is full of them.
pub async fn stats(ctx: &Ctx, org: &Org, year: i32) -> AppResult<Vec<StatRow>> {
    let key = format!("recruit.stats|{}|{year}", org.id);
    ctx.heavy
        .run_cloned(&key, || stats_uncached(ctx, org, year))
        .await
}

/// Statistics per child organisation of `org` for `year`.
async fn stats_uncached(ctx: &Ctx, org: &Org, year: i32) -> AppResult<Vec<StatRow>> {
    let children = crate::org::store::children(&ctx.db, org.id).await?;
    let today = ctx.clock.today();
    let from = NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(today);
    let to = NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(today);
    let mut out: Vec<StatRow> = children
        .iter()
        .map(|c| StatRow {
            org_id: c.org.id,
            org_name: c.org.name.clone(),
            stages: vec![0; 5],
            ..Default::default()
        })
        .collect();
    if out.is_empty() {
        out.push(StatRow {
            org_id: org.id,
            org_name: org.name.clone(),
            stages: vec![0; 5],
            ..Default::default()
        });
    }
    // Four grouped queries over the whole subtree; each row is folded into the child whose id
    // is the first segment of its path below the scope (`/1/12/345/` under `/1/` → 12).
    let upper = path_upper(&org.path);
    let (steps, admitted, full, quotas) = on_db!(&ctx.db, p => {
        let rows = sqlx::query("SELECT o.path, r.step, COUNT(*) AS n, SUM(CASE WHEN r.due_on < $3 THEN 1 ELSE 0 END) AS late FROM recruits r JOIN orgs o ON o.id = r.org_id WHERE o.path >= $1 AND o.path < $2 AND r.status = 'active' GROUP BY o.path, r.step")
            .bind(&org.path).bind(&upper).bind(today).fetch_all(p).await?;
        let steps = rows.iter().map(|r| Ok((r.string("path")?, r.i64("step")?, r.i64("n")?, r.opt_i64("late")?.unwrap_or(0)))).collect::<DbResult<Vec<_>>>()?;
        let rows = sqlx::query("SELECT o.path, COUNT(*) AS n FROM recruit_entries e JOIN recruits r ON r.id = e.recruit_id JOIN orgs o ON o.id = r.org_id WHERE o.path >= $1 AND o.path < $2 AND e.step = 17 AND e.complete = $3 AND NOT EXISTS (SELECT 1 FROM recruit_entries c2 WHERE c2.corrects_id = e.id AND c2.complete = $3) AND e.done_on >= $4 AND e.done_on <= $5 AND e.data_json LIKE '%\"outcome\":\"approve\"%' GROUP BY o.path")
            .bind(&org.path).bind(&upper).bind(true).bind(from).bind(to).fetch_all(p).await?;
        let admitted = rows.iter().map(|r| Ok((r.string("path")?, r.i64("n")?))).collect::<DbResult<Vec<_>>>()?;
        let rows = sqlx::query("SELECT o.path, COUNT(*) AS n FROM recruits r JOIN orgs o ON o.id = r.org_id WHERE o.path >= $1 AND o.path < $2 AND r.full_on >= $3 AND r.full_on <= $4 GROUP BY o.path")
            .bind(&org.path).bind(&upper).bind(from).bind(to).fetch_all(p).await?;
        let full = rows.iter().map(|r| Ok((r.string("path")?, r.i64("n")?))).collect::<DbResult<Vec<_>>>()?;
        let rows = sqlx::query("SELECT p.org_id, p.quota FROM recruit_plans p JOIN orgs o ON o.id = p.org_id WHERE p.year = $1 AND (o.parent_id = $2 OR o.id = $2)")
            .bind(year as i64).bind(org.id).fetch_all(p).await?;
        let quotas = rows.iter().map(|r| Ok((r.i64("org_id")?, r.i64("quota")?))).collect::<DbResult<Vec<_>>>()?;
        (steps, admitted, full, quotas)
    });
    let index: std::collections::HashMap<i64, usize> =
        out.iter().enumerate().map(|(i, r)| (r.org_id, i)).collect();
    let slot = |path: &str| -> Option<usize> {
        if children.is_empty() {
            return Some(0);
        }
        let below = path.strip_prefix(org.path.as_str())?;
        let child: i64 = below.split('/').next()?.parse().ok()?;
        index.get(&child).copied()
    };
    for (path, step, n, late) in &steps {
        if let Some(i) = slot(path) {
            count_in_stage(&mut out[i].stages, *step, *n);
            out[i].overdue += late;
        }
    }
    for (path, n) in &admitted {
        if let Some(i) = slot(path) {
            out[i].admitted += n;
        }
    }
    for (path, n) in &full {
        if let Some(i) = slot(path) {
            out[i].full += n;
        }
    }
    for (id, q) in quotas {
        if let Some(i) = index.get(&id) {
            out[*i].quota = Some(q);
        }
    }
    Ok(out)
}

/// Sets the yearly recruitment plan (发展计划) of an organisation.
pub async fn set_plan(ctx: &Ctx, p: &Principal, org: &Org, year: i32, quota: i64) -> AppResult<()> {
    if !(2000..=2100).contains(&year) {
        return Err(AppError::field("year", "年度无效"));
    }
    if !(0..=100_000).contains(&quota) {
        return Err(AppError::field("quota", "计划数应在0至100000之间"));
    }
    let mut tx = ctx.db.begin().await?;
    on_tx!(&mut tx, c => {
        sqlx::query("INSERT INTO recruit_plans (org_id, year, quota) VALUES ($1, $2, $3) ON CONFLICT (org_id, year) DO UPDATE SET quota = excluded.quota")
            .bind(org.id).bind(year as i64).bind(quota).execute(&mut *c).await?;
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "recruit.plan",
            object_type: "org",
            object_id: org.id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"year": year, "quota": quota}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// What waits for `p`: entries missing a signature `p` can give, and recruits whose next
/// step is `p`'s to record, most urgent first.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct QueueItem {
    pub recruit_id: i64,
    pub name: String,
    pub org_name: String,
    pub step: i64,
    pub step_name: String,
    /// sign (an entry awaits p's signature) or record (the next step is p's)
    pub action: String,
    pub entry_id: Option<i64>,
    pub due_on: Option<NaiveDate>,
}

pub async fn queue(ctx: &Ctx, p: &Principal) -> AppResult<Vec<QueueItem>> {
    let r = rules_for(ctx, &p.org_path).await?;
    let upper = path_upper(&p.org_path);
    let mine: Vec<Signer> = Signer::ALL
        .into_iter()
        .filter(|s| match s {
            Signer::BranchSecretary => p.has_role(Role::BranchSecretary),
            Signer::Committee => p.has_role(Role::CommitteeStaff),
            Signer::OrgDept => p.has_role(Role::OrgStaff),
            Signer::Contact => false,
        })
        .collect();
    let steps: Vec<i64> = (2..=25)
        .filter(|n| r.signers_for(*n).iter().any(|s| mine.contains(s)))
        .collect();
    let mut out = Vec::new();
    let pending = on_db!(&ctx.db, pool => {
        let rows = sqlx::query("SELECT e.id AS entry_id, e.step, e.required, r.id, r.name, o.name AS org_name, r.due_on, \
                                (SELECT GROUP_CONCAT_PLACEHOLDER) AS signed \
                                FROM recruit_entries e JOIN recruits r ON r.id = e.recruit_id JOIN orgs o ON o.id = r.org_id \
                                WHERE e.complete = $3 AND o.path >= $1 AND o.path < $2 ORDER BY e.id LIMIT 500"
                                .replace("SELECT GROUP_CONCAT_PLACEHOLDER", if ctx.db.is_sqlite() {
                                    "SELECT GROUP_CONCAT(s.signer_role) FROM recruit_signatures s WHERE s.entry_id = e.id"
                                } else {
                                    "SELECT STRING_AGG(s.signer_role, ',') FROM recruit_signatures s WHERE s.entry_id = e.id"
                                }).as_str())
            .bind(&p.org_path).bind(&upper).bind(false).fetch_all(pool).await?;
        rows.iter().map(|r| Ok((r.i64("entry_id")?, r.i64("step")?, r.string("required")?, r.i64("id")?, r.string("name")?, r.string("org_name")?, r.opt_date("due_on")?, r.opt_string("signed")?.unwrap_or_default()))).collect::<DbResult<Vec<_>>>()?
    });
    for (eid, step, required, rid, name, org_name, due_on, signed) in pending {
        let signed: Vec<&str> = signed.split(',').collect();
        let waits = required
            .split(',')
            .filter(|x| !signed.contains(x))
            .filter_map(Signer::parse)
            .any(|s| mine.contains(&s));
        if waits {
            out.push(QueueItem {
                recruit_id: rid,
                name,
                org_name,
                step,
                step_name: super::step(step).map(|d| d.name).unwrap_or("").to_string(),
                action: "sign".into(),
                entry_id: Some(eid),
                due_on,
            });
        }
    }
    if !steps.is_empty() {
        let list = steps
            .iter()
            .map(|s| (s - 1).to_string())
            .collect::<Vec<_>>()
            .join(",");
        // the step numbers come from the step table
        let sql = format!(
            "SELECT {COLUMNS} FROM recruits r JOIN orgs o ON o.id = r.org_id WHERE o.path >= $1 AND o.path < $2 AND r.status = 'active' AND r.step IN ({list}) \
             AND NOT EXISTS (SELECT 1 FROM recruit_entries e WHERE e.recruit_id = r.id AND e.complete = $3) \
             ORDER BY CASE WHEN r.due_on IS NULL THEN 1 ELSE 0 END, r.due_on, r.id LIMIT 500"
        );
        let rows = on_db!(&ctx.db, pool => {
            let rows = sqlx::query(&sql).bind(&p.org_path).bind(&upper).bind(false).fetch_all(pool).await?;
            rows.iter().map(|r| row(r).map(|x| x.0)).collect::<DbResult<Vec<_>>>()?
        });
        for rc in rows {
            let next = rc.step + 1;
            out.push(QueueItem {
                recruit_id: rc.id,
                name: rc.name,
                org_name: rc.org_name,
                step: next,
                step_name: super::step(next).map(|d| d.name).unwrap_or("").to_string(),
                action: "record".into(),
                entry_id: None,
                due_on: rc.due_on,
            });
        }
    }
    Ok(out)
}

/// Everything one account signed (trace-back from a signer), newest first.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SignedItem {
    pub recruit_id: i64,
    pub name: String,
    pub step: i64,
    pub step_name: String,
    pub done_on: NaiveDate,
    pub signer_role: String,
    pub method: String,
    pub signed_at: chrono::DateTime<Utc>,
    pub digest: String,
}

pub async fn signed_by(ctx: &Ctx, account_id: i64, scope_path: &str) -> AppResult<Vec<SignedItem>> {
    let upper = path_upper(scope_path);
    Ok(on_db!(&ctx.db, p => {
        let rows = sqlx::query("SELECT r.id, r.name, e.step, e.done_on, s.signer_role, s.method, s.signed_at, e.digest FROM recruit_signatures s \
                                JOIN recruit_entries e ON e.id = s.entry_id JOIN recruits r ON r.id = e.recruit_id JOIN orgs o ON o.id = r.org_id \
                                WHERE s.account_id = $1 AND o.path >= $2 AND o.path < $3 ORDER BY s.id DESC LIMIT 1000")
            .bind(account_id).bind(scope_path).bind(&upper).fetch_all(p).await?;
        rows.iter().map(|r| {
            let step = r.i64("step")?;
            Ok(SignedItem {
                recruit_id: r.i64("id")?,
                name: r.string("name")?,
                step,
                step_name: super::step(step).map(|d| d.name).unwrap_or("").to_string(),
                done_on: r.date("done_on")?,
                signer_role: r.string("signer_role")?,
                method: r.string("method")?,
                signed_at: r.ts("signed_at")?,
                digest: r.string("digest")?,
            })
        }).collect::<DbResult<Vec<_>>>()?
    }))
}

/// The recruit file of a member (trace-back from a member), if they came through the pipeline.
pub async fn for_member(ctx: &Ctx, member_id: i64) -> AppResult<Option<i64>> {
    Ok(on_db!(&ctx.db, p => {
        sqlx::query("SELECT id FROM recruits WHERE member_id = $1 ORDER BY id DESC LIMIT 1").bind(member_id).fetch_optional(p).await?
            .map(|r| r.i64("id")).transpose()?
    }))
}

/// Full members of a branch who may serve as contacts or introducers.
pub async fn eligible_people(ctx: &Ctx, org_id: i64) -> AppResult<Vec<(i64, String)>> {
    Ok(on_db!(&ctx.db, p => {
        let sql = format!(
            "SELECT m.id, m.name FROM members m WHERE m.org_id = $1 AND m.status = 'full' AND NOT {} ORDER BY m.name_pinyin LIMIT 500",
            crate::member::discipline::suspended_sql("m", "$2")
        );
        let rows = sqlx::query(&sql).bind(org_id).bind(ctx.clock.today()).fetch_all(p).await?;
        rows.iter().map(|r| Ok((r.i64("id")?, r.string("name")?))).collect::<DbResult<Vec<_>>>()?
    }))
}

pub fn current_year(ctx: &Ctx) -> i32 {
    ctx.clock.today().year()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_ranges_follow_the_step_table() {
        assert_eq!(stage_range(1), (0, 1));
        assert_eq!(stage_range(2), (2, 5));
        assert_eq!(stage_range(3), (6, 10));
        assert_eq!(stage_range(4), (11, 17));
        assert_eq!(stage_range(5), (18, 25));
    }

    #[test]
    fn masked_names() {
        assert_eq!(mask_name("王小明"), "王*明");
        assert_eq!(mask_name("李四"), "李*");
        assert_eq!(mask_name("欧阳娜娜"), "欧**娜");
    }
}
