//! Persistence and use cases of points. An award takes its subject's lock row first, then
//! sums what the indicator already gave in the period, checks the cap and writes the entry
//! and its audit record in the same transaction; a closed month refuses every change.

use super::{month_key, month_label, Indicator, Outcome, PointsRules};
use crate::audit::{self, NewEntry};
use crate::auth::{Perm, Principal};
use crate::db::{fetch_packed, fetch_rows_packed, path_upper, DbResult, DbRow, Tx, Val};
use crate::error::{AppError, AppResult};
use crate::org::Org;
use crate::rectification::store::Upload;
use crate::{on_db, on_tx, Ctx};
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};

/// The rules in force at `path` and their version (0 = the defaults).
pub async fn rules_for(ctx: &Ctx, path: &str) -> AppResult<(PointsRules, i64)> {
    let (r, v) = crate::rules::effective::<PointsRules>(&ctx.db, path).await?;
    Ok((r, v.map(|v| v.version).unwrap_or(0)))
}

// ---- subjects ----

/// Who an award is for, resolved and checked.
#[derive(Debug, Clone)]
pub struct Target {
    pub subject: String,
    pub member_id: Option<i64>,
    pub member_name: Option<String>,
    pub branch: Org,
}

/// Subjects whose points are the organisation's (a branch's own; a village's first
/// secretary, whoever is on duty there), not a member's.
fn by_org(subject: &str) -> bool {
    matches!(subject, "branch" | "first_secretary")
}

impl Target {
    fn lock_id(&self) -> i64 {
        if by_org(&self.subject) {
            self.branch.id
        } else {
            self.member_id.unwrap_or(0)
        }
    }
}

async fn member_of(ctx: &Ctx, member_id: i64) -> AppResult<(i64, String)> {
    on_db!(&ctx.db, x => {
        match sqlx::query("SELECT org_id, name FROM members WHERE id = $1 AND status <> 'left'").bind(member_id).fetch_optional(x).await? {
            Some(r) => Ok((r.i64("org_id")?, r.string("name")?)),
            None => Err(AppError::field("member_id", "请选择党员")),
        }
    })
}

/// Resolves the subject of an award: a member (in their branch), a branch, a branch's
/// secretary (a member of that branch), or a village's first secretary (the village's
/// organisation: whoever is on duty there in the month, crate::first_secretary::scoring).
pub async fn target(
    ctx: &Ctx,
    subject: &str,
    member_id: Option<i64>,
    org_id: Option<i64>,
) -> AppResult<Target> {
    match subject {
        "member" => {
            let id = member_id.ok_or_else(|| AppError::field("member_id", "请选择党员"))?;
            let (org, name) = member_of(ctx, id).await?;
            Ok(Target {
                subject: subject.into(),
                member_id: Some(id),
                member_name: Some(name),
                branch: crate::org::store::get(&ctx.db, org).await?,
            })
        }
        "branch" | "secretary" | "first_secretary" => {
            let org = match org_id {
                Some(o) => crate::org::store::get(&ctx.db, o)
                    .await
                    .map_err(|_| AppError::field("org_id", "请选择党支部"))?,
                None => return Err(AppError::field("org_id", "请选择党支部")),
            };
            if !org.kind.holds_members() {
                return Err(AppError::field("org_id", "只能为党支部计分"));
            }
            let mut t = Target {
                subject: subject.into(),
                member_id: None,
                member_name: None,
                branch: org,
            };
            if subject == "secretary" {
                let id = member_id.ok_or_else(|| AppError::field("member_id", "请选择支部书记"))?;
                let (org, name) = member_of(ctx, id).await?;
                if org != t.branch.id {
                    return Err(AppError::field("member_id", "支部书记应为本支部党员"));
                }
                t.member_id = Some(id);
                t.member_name = Some(name);
            }
            Ok(t)
        }
        _ => Err(AppError::field(
            "subject",
            "积分对象应为党员、党支部、支部书记或第一书记",
        )),
    }
}

/// The organisations whose month close freezes this subject's points: the branch for
/// members' points, every committee above it for branches', secretaries' and first
/// secretaries'.
fn closers(t: &Target) -> Vec<i64> {
    if t.subject == "member" {
        vec![t.branch.id]
    } else {
        crate::org::path_ids(&t.branch.path)
            .into_iter()
            .filter(|i| *i != t.branch.id)
            .collect()
    }
}

/// Inside a change's transaction: takes the lock rows of the organisations that could close
/// `month` (a close takes the same row, so a close and a change never interleave), then
/// refuses when the month is closed.
async fn guard_open(tx: &mut Tx, t: &Target, month: i64, what: &str) -> AppResult<()> {
    let ids = closers(t);
    for id in &ids {
        lock_row(tx, "close", *id).await?;
    }
    if ids.is_empty() {
        return Ok(());
    }
    let scope = close_scope(&t.subject);
    // ids are integers parsed from the path
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let sql = format!("SELECT COUNT(*) AS n FROM point_closes WHERE scope = $1 AND month = $2 AND org_id IN ({list})");
    let n = on_tx!(tx, x => {
        sqlx::query(&sql).bind(scope).bind(month).fetch_one(&mut *x).await?.i64("n")?
    });
    if n > 0 {
        return Err(AppError::refused(
            "points.month_closed",
            format!("{}已关账，积分已冻结，{what}", month_label(month)),
        ));
    }
    Ok(())
}

/// The month close that freezes a subject's points: `members` (closed by the branch),
/// `first_secretaries` (closed by the department running the first secretaries' round) or
/// `units` (branches and secretaries, closed by a committee).
fn close_scope(subject: &str) -> &'static str {
    match subject {
        "member" => "members",
        "first_secretary" => "first_secretaries",
        _ => "units",
    }
}

async fn lock_row(tx: &mut Tx, kind: &str, id: i64) -> AppResult<()> {
    on_tx!(tx, x => {
        sqlx::query("INSERT INTO point_locks (subject, subject_id, version) VALUES ($1, $2, 1) ON CONFLICT (subject, subject_id) DO UPDATE SET version = point_locks.version + 1")
            .bind(kind).bind(id).execute(&mut *x).await?;
    });
    Ok(())
}

/// Takes the subject's lock row: awards to one subject run one after another.
async fn lock(tx: &mut Tx, t: &Target) -> AppResult<()> {
    lock_row(tx, &t.subject, t.lock_id()).await
}

/// What `indicator` already gave the subject in the months `from..=to`.
async fn net_in(tx: &mut Tx, t: &Target, indicator: &str, from: i64, to: i64) -> AppResult<i64> {
    let (col, id) = if by_org(&t.subject) {
        ("org_id", t.branch.id)
    } else {
        ("member_id", t.member_id.unwrap_or(0))
    };
    let sql = format!("SELECT CAST(COALESCE(SUM(points), 0) AS BIGINT) AS n FROM point_entries WHERE subject = $1 AND {col} = $2 AND indicator = $3 AND month IN ({})", listed_months(from, to));
    Ok(on_tx!(tx, x => {
        sqlx::query(&sql).bind(&t.subject).bind(id).bind(indicator).fetch_one(&mut *x).await?.i64("n")?
    }))
}

// ---- entries ----

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = PointsEntry)]
pub struct Entry {
    pub id: i64,
    pub subject: String,
    pub member_id: Option<i64>,
    pub member_name: Option<String>,
    pub org_id: i64,
    pub indicator: String,
    pub category: String,
    pub points: i64,
    pub done_on: NaiveDate,
    pub note: String,
    /// SM3 digest of the evidence file.
    pub evidence: Option<String>,
    pub evidence_name: Option<String>,
    pub claim_id: Option<i64>,
    pub reverses_id: Option<i64>,
    /// Set on an entry a later reversal cancelled.
    pub reversed: bool,
    pub rules_version: i64,
    pub recorded_by: Option<i64>,
}

const ENTRY_COLUMNS: &str = "e.id, e.subject, e.member_id, m.name AS member_name, e.org_id, e.indicator, e.category, e.points, e.done_on, e.note, e.evidence, e.evidence_name, e.claim_id, e.reverses_id, (SELECT COUNT(*) FROM point_entries r WHERE r.reverses_id = e.id) AS reversed, e.rules_version, e.recorded_by";

fn entry_row(r: &impl DbRow) -> DbResult<Entry> {
    Ok(Entry {
        id: r.i64("id")?,
        subject: r.string("subject")?,
        member_id: r.opt_i64("member_id")?,
        member_name: r.opt_string("member_name")?,
        org_id: r.i64("org_id")?,
        indicator: r.string("indicator")?,
        category: r.string("category")?,
        points: r.i64("points")?,
        done_on: r.date("done_on")?,
        note: r.string("note")?,
        evidence: r.opt_string("evidence")?,
        evidence_name: r.opt_string("evidence_name")?,
        claim_id: r.opt_i64("claim_id")?,
        reverses_id: r.opt_i64("reverses_id")?,
        reversed: r.i64("reversed")? > 0,
        rules_version: r.i64("rules_version")?,
        recorded_by: r.opt_i64("recorded_by")?,
    })
}

async fn entry_tx(tx: &mut Tx, id: i64) -> AppResult<Entry> {
    let sql = format!(
        "SELECT {ENTRY_COLUMNS} FROM point_entries e LEFT JOIN members m ON m.id = e.member_id WHERE e.id = $1"
    );
    on_tx!(tx, x => {
        match sqlx::query(&sql).bind(id).fetch_optional(&mut *x).await? {
            Some(r) => Ok(entry_row(&r)?),
            None => Err(AppError::NotFound("积分记录")),
        }
    })
}

pub async fn entry(ctx: &Ctx, id: i64) -> AppResult<(Entry, String)> {
    let sql = format!("SELECT {ENTRY_COLUMNS}, o.path FROM point_entries e LEFT JOIN members m ON m.id = e.member_id JOIN orgs o ON o.id = e.org_id WHERE e.id = $1");
    on_db!(&ctx.db, x => {
        match sqlx::query(&sql).bind(id).fetch_optional(x).await? {
            Some(r) => Ok((entry_row(&r)?, r.string("path")?)),
            None => Err(AppError::NotFound("积分记录")),
        }
    })
}

/// Entries of a subject (newest first): a member's (`member_id`) or a branch's own
/// (`org_id`, subject branch), within a year.
pub async fn entries_of(ctx: &Ctx, subject: &str, id: i64, year: i32) -> AppResult<Vec<Entry>> {
    let col = if by_org(subject) {
        "e.org_id"
    } else {
        "e.member_id"
    };
    let from = year as i64 * 100 + 1;
    let rest = format!(" FROM point_entries e LEFT JOIN members m ON m.id = e.member_id WHERE e.subject = $1 AND {col} = $2 AND e.month IN ({}) ORDER BY e.done_on DESC, e.id DESC LIMIT 1000", listed_months(from, from + 11));
    let rows = fetch_rows_packed(
        &ctx.db,
        ENTRY_COLUMNS,
        &rest,
        &[Val::Str(subject.into()), Val::I64(id)],
    )
    .await?;
    Ok(rows.iter().map(entry_row).collect::<DbResult<Vec<_>>>()?)
}

/// The latest entries recorded for a branch (its members', its own and its secretary's; a
/// first secretary's monthly scores are on the first secretary's page), newest first.
pub async fn recent(ctx: &Ctx, branch_id: i64, limit: i64) -> AppResult<Vec<Entry>> {
    let rest = format!(" FROM point_entries e LEFT JOIN members m ON m.id = e.member_id WHERE e.org_id = $1 AND e.subject <> 'first_secretary' ORDER BY e.id DESC LIMIT {}", limit.clamp(1, 500));
    let rows = fetch_rows_packed(&ctx.db, ENTRY_COLUMNS, &rest, &[Val::I64(branch_id)]).await?;
    Ok(rows.iter().map(entry_row).collect::<DbResult<Vec<_>>>()?)
}

async fn by_key(ctx: &Ctx, key: &str) -> AppResult<Option<Entry>> {
    let sql = format!("SELECT {ENTRY_COLUMNS} FROM point_entries e LEFT JOIN members m ON m.id = e.member_id WHERE e.idempotency_key = $1");
    on_db!(&ctx.db, x => {
        Ok(match sqlx::query(&sql).bind(key).fetch_optional(x).await? {
            Some(r) => Some(entry_row(&r)?),
            None => None,
        })
    })
}

fn note_ok(note: &str) -> AppResult<String> {
    let note = note.trim();
    if note.chars().count() > 200 {
        return Err(AppError::field("note", "说明不超过200字"));
    }
    Ok(note.to_string())
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct AwardInput {
    /// member, branch or secretary; the indicator's own when empty.
    pub subject: String,
    /// The member (member and secretary subjects).
    pub member_id: Option<i64>,
    /// The branch (branch and secretary subjects).
    pub org_id: Option<i64>,
    /// An indicator key of the catalogue in force.
    pub indicator: String,
    /// The day of the event; today by default.
    pub done_on: Option<NaiveDate>,
    pub note: String,
    /// A retried request with the same key is applied once.
    pub idempotency_key: Option<String>,
}

/// What an award made: an entry, or — for an indicator that needs approval — a claim
/// waiting for it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Awarded {
    pub entry: Option<Entry>,
    pub claim: Option<Claim>,
}

fn evidence_ok(i: &Indicator, file: &Option<Upload>, r: &PointsRules) -> AppResult<()> {
    if let Some(f) = file {
        crate::blob::check(&f.bytes, r.max_evidence_mb)?;
    } else if i.evidence {
        return Err(AppError::field(
            "file",
            format!("“{}”须上传佐证材料", i.name),
        ));
    }
    Ok(())
}

/// 一事一计分: awards an indicator to a subject.
pub async fn award(
    ctx: &Ctx,
    p: &Principal,
    input: &AwardInput,
    file: Option<Upload>,
) -> AppResult<Awarded> {
    let key = crate::idempotency::clean(input.idempotency_key.as_deref())?;
    let subject = match input.subject.trim() {
        "" => infer_subject(ctx, input).await?,
        s => s.to_string(),
    };
    let (member_id, org_id) = match subject.as_str() {
        "branch" => (None, input.org_id),
        _ => (input.member_id, input.org_id),
    };
    let t = target(ctx, &subject, member_id, org_id).await?;
    p.authorize(Perm::PointsWrite, Some(&t.branch.path))?;
    if let Some(k) = &key {
        if let Some(e) = by_key(ctx, k).await? {
            return replayed(e, &t);
        }
    }
    let (r, version) = rules_for(ctx, &t.branch.path).await?;
    let i = r
        .indicator(&input.indicator)
        .filter(|i| i.subject == t.subject)
        .ok_or_else(|| AppError::field("indicator", "请选择本对象的积分指标"))?
        .clone();
    if i.scored {
        return Err(AppError::field(
            "indicator",
            format!("“{}”是评分表的评分项，请在月度评分表中打分", i.name),
        ));
    }
    super::check_awarder(&i, p.org_path != t.branch.path)?;
    evidence_ok(&i, &file, &r)?;
    let today = ctx.clock.today();
    let on = input.done_on.unwrap_or(today);
    super::check_date(on, today, &r, false)?;
    let note = note_ok(&input.note)?;
    if i.approval {
        let claim = submit_claim(ctx, p, &t, &i, on, &note, file).await?;
        return Ok(Awarded {
            entry: None,
            claim: Some(claim),
        });
    }
    let result = async {
        let mut tx = ctx.db.begin().await?;
        let e = write_entry(
            ctx,
            &mut tx,
            p,
            &t,
            &i,
            on,
            &note,
            file.as_ref(),
            None,
            &key,
            version,
        )
        .await?;
        tx.commit().await?;
        Ok(e)
    }
    .await;
    match result {
        // a concurrent request with the same key won: its entry is this request's answer
        Err(AppError::Db(e)) if e.is_constraint() && key.is_some() => {
            match by_key(ctx, key.as_deref().unwrap_or_default()).await? {
                Some(found) => replayed(found, &t),
                None => Err(AppError::Db(e)),
            }
        }
        Err(e) => Err(e),
        Ok(e) => replayed(e, &t),
    }
}

/// The most members one award names (a meeting's attendees).
pub const MAX_ATTENDEES: usize = 200;

/// 一事一计分 for several members of one branch at once (a meeting's attendees): the same member
/// indicator, day, note and evidence for each, in one transaction — all recorded, or none and
/// the refusal names the member it stopped at. An indicator that needs approval is refused
/// here (each claim is decided on its own). A retry with the same key is applied once.
/// Returns how many entries the award made.
pub async fn award_many(
    ctx: &Ctx,
    p: &Principal,
    input: &AwardInput,
    members: &[i64],
    file: Option<Upload>,
) -> AppResult<usize> {
    let mut ids = members.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Err(AppError::field("member_ids", "请选择参加的党员"));
    }
    if ids.len() > MAX_ATTENDEES {
        return Err(AppError::field(
            "member_ids",
            format!("一次最多为{MAX_ATTENDEES}名党员计分"),
        ));
    }
    let key = crate::idempotency::clean(input.idempotency_key.as_deref())?;
    let mut targets = Vec::with_capacity(ids.len());
    for id in &ids {
        // a member that does not exist is answered as one outside the account's subtree:
        // the answer says nothing about ids elsewhere
        let t = target(ctx, "member", Some(*id), None)
            .await
            .map_err(|_| AppError::NotFound("党员"))?;
        p.authorize(Perm::PointsWrite, Some(&t.branch.path))?;
        targets.push(t);
    }
    let branch = targets[0].branch.clone();
    if targets.iter().any(|t| t.branch.id != branch.id) {
        return Err(AppError::field(
            "member_ids",
            "一次计分的党员须属于同一个党支部",
        ));
    }
    // a batch's entries carry its key, the account's and each member's: another account's
    // key never answers for this one
    let key_of = |t: &Target| {
        key.as_ref()
            .map(|k| format!("{k}:{}:{}", p.account_id, t.member_id.unwrap_or(0)))
    };
    let (r, version) = rules_for(ctx, &branch.path).await?;
    let i = r
        .indicator(&input.indicator)
        .filter(|i| i.subject == "member")
        .ok_or_else(|| AppError::field("indicator", "请选择党员的积分指标"))?
        .clone();
    if i.approval {
        return Err(AppError::field(
            "indicator",
            "需审核的指标请逐人计分，各自审核",
        ));
    }
    super::check_awarder(&i, p.org_path != branch.path)?;
    evidence_ok(&i, &file, &r)?;
    let today = ctx.clock.today();
    let on = input.done_on.unwrap_or(today);
    super::check_date(on, today, &r, false)?;
    let note = note_ok(&input.note)?;
    // a retry: applied once, and only if it asks what was applied
    if let Some(k) = key_of(&targets[0]) {
        if by_key(ctx, &k).await?.is_some() {
            for t in &targets {
                let same = match key_of(t) {
                    Some(k) => by_key(ctx, &k)
                        .await?
                        .is_some_and(|e| e.indicator == i.key && e.done_on == on && e.note == note),
                    None => false,
                };
                if !same {
                    return Err(AppError::Conflict("该幂等键已用于另一项积分".into()));
                }
            }
            return Ok(ids.len());
        }
    }
    let mut tx = ctx.db.begin().await?;
    for t in &targets {
        let named = |e: AppError| match e {
            AppError::Refused { code, message } => AppError::Refused {
                code,
                message: format!("{}：{message}", t.member_name.as_deref().unwrap_or("")),
            },
            e => e,
        };
        write_entry(
            ctx,
            &mut tx,
            p,
            t,
            &i,
            on,
            &note,
            file.as_ref(),
            None,
            &key_of(t),
            version,
        )
        .await
        .map_err(named)?;
    }
    tx.commit().await?;
    Ok(ids.len())
}

/// The subject an indicator is for, from the catalogue in force where the award lands.
async fn infer_subject(ctx: &Ctx, input: &AwardInput) -> AppResult<String> {
    let org = match (input.org_id, input.member_id) {
        (Some(o), _) => o,
        (None, Some(m)) => member_of(ctx, m).await?.0,
        (None, None) => return Err(AppError::field("member_id", "请选择党员或党支部")),
    };
    let path = crate::org::store::get(&ctx.db, org)
        .await
        .map_err(|_| AppError::field("org_id", "请选择党支部"))?
        .path;
    let (r, _) = rules_for(ctx, &path).await?;
    r.indicator(&input.indicator)
        .map(|i| i.subject.clone())
        .ok_or_else(|| AppError::field("indicator", "请选择积分指标"))
}

fn replayed(e: Entry, t: &Target) -> AppResult<Awarded> {
    if e.subject != t.subject || e.org_id != t.branch.id || e.member_id != t.member_id {
        return Err(AppError::Conflict("该幂等键已用于另一项积分".into()));
    }
    Ok(Awarded {
        entry: Some(e),
        claim: None,
    })
}

/// Writes one entry inside `tx`: the subject's lock, the cap, the entry, its evidence and its
/// audit record.
#[allow(clippy::too_many_arguments)]
async fn write_entry(
    ctx: &Ctx,
    tx: &mut Tx,
    p: &Principal,
    t: &Target,
    i: &Indicator,
    on: NaiveDate,
    note: &str,
    file: Option<&Upload>,
    claim: Option<(i64, Option<String>, Option<String>)>,
    key: &Option<String>,
    version: i64,
) -> AppResult<Entry> {
    guard_open(tx, t, month_key(on), "不能再计分").await?;
    lock(tx, t).await?;
    // a retry that waited for the lock behind its twin: the twin's entry is the answer
    if let Some(k) = key {
        let done = on_tx!(tx, x => {
            sqlx::query("SELECT id FROM point_entries WHERE idempotency_key = $1").bind(k).fetch_optional(&mut *x).await?.map(|r| r.i64("id")).transpose()?
        });
        if let Some(id) = done {
            return entry_tx(tx, id).await;
        }
    }
    let (from, to) = super::period_range(&i.period, on);
    let net = net_in(tx, t, &i.key, from, to).await?;
    super::check_cap(i, net, i.points)?;
    let (mut evidence, mut evidence_name) = (None, None);
    if let Some(f) = file {
        evidence = Some(crate::blob::put(ctx, tx, &f.bytes).await?);
        evidence_name = Some(crate::blob::clean_filename(&f.filename, "佐证材料"));
    }
    let claim_id = claim.as_ref().map(|c| c.0);
    if let Some((_, d, n)) = claim {
        evidence = d;
        evidence_name = n;
    }
    let id = on_tx!(tx, x => {
        sqlx::query("INSERT INTO point_entries (subject, member_id, org_id, indicator, category, points, done_on, month, note, evidence, evidence_name, claim_id, idempotency_key, rules_version, recorded_by, at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id")
            .bind(&t.subject).bind(t.member_id).bind(t.branch.id).bind(&i.key).bind(&i.category).bind(i.points)
            .bind(on).bind(month_key(on)).bind(note).bind(&evidence).bind(&evidence_name).bind(claim_id)
            .bind(key).bind(version).bind(p.account_id).bind(ctx.clock.now())
            .fetch_one(&mut *x).await?.i64("id")?
    });
    audit::append(
        tx,
        &p.actor(),
        NewEntry {
            action: "points.award",
            object_type: "point_entry",
            object_id: id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({
                "subject": t.subject, "member_id": t.member_id, "org_id": t.branch.id, "indicator": i.key,
                "name": i.name, "points": i.points, "done_on": on, "note": note, "evidence": evidence,
                "claim_id": claim_id, "rules_version": version,
            }),
        },
    )
    .await?;
    entry_tx(tx, id).await
}

/// Cancels an entry by a reversing one in the same month (never an edit). A closed month
/// cannot be changed.
pub async fn reverse(ctx: &Ctx, p: &Principal, entry_id: i64, reason: &str) -> AppResult<Entry> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err(AppError::field("reason", "请写明冲正原因（200字以内）"));
    }
    let (e, path) = entry(ctx, entry_id).await?;
    p.authorize(Perm::PointsWrite, Some(&path))?;
    if e.subject == "first_secretary" {
        // a sheet is changed whole, by whoever scores it, with its reason
        return Err(AppError::refused(
            "points.sheet_entry",
            "第一书记月度评分不能逐项冲正，请由乡镇党委在评分表中重新评分并写明理由",
        ));
    }
    if e.reverses_id.is_some() {
        return Err(AppError::refused("points.reversal", "冲正记录不能再冲正"));
    }
    if e.reversed {
        return Err(AppError::Conflict("该记录已冲正".into()));
    }
    let t = Target {
        subject: e.subject.clone(),
        member_id: e.member_id,
        member_name: e.member_name.clone(),
        branch: crate::org::store::get(&ctx.db, e.org_id).await?,
    };
    let mut tx = ctx.db.begin().await?;
    guard_open(&mut tx, &t, month_key(e.done_on), "不能冲正").await?;
    lock(&mut tx, &t).await?;
    let id = write_reversal(ctx, &mut tx, p, &e, reason).await?;
    let out = entry_tx(&mut tx, id).await?;
    tx.commit().await?;
    Ok(out)
}

/// Inside `tx`, with the subject's lock held and the month open: the entry reversing `e`, and
/// its audit record.
async fn write_reversal(
    ctx: &Ctx,
    tx: &mut Tx,
    p: &Principal,
    e: &Entry,
    reason: &str,
) -> AppResult<i64> {
    let id = on_tx!(tx, x => {
        sqlx::query("INSERT INTO point_entries (subject, member_id, org_id, indicator, category, points, done_on, month, note, reverses_id, rules_version, recorded_by, at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id")
            .bind(&e.subject).bind(e.member_id).bind(e.org_id).bind(&e.indicator).bind(&e.category).bind(-e.points)
            .bind(e.done_on).bind(month_key(e.done_on)).bind(reason).bind(e.id).bind(e.rules_version).bind(p.account_id).bind(ctx.clock.now())
            .fetch_one(&mut *x).await?.i64("id")?
    });
    audit::append(
        tx,
        &p.actor(),
        NewEntry {
            action: "points.reverse",
            object_type: "point_entry",
            object_id: id.to_string(),
            before: serde_json::json!({"entry_id": e.id, "indicator": e.indicator, "points": e.points}),
            after: serde_json::json!({"points": -e.points, "reason": reason}),
        },
    )
    .await?;
    Ok(id)
}

/// 一月一评分 on a sheet: a score for every area (scored indicator) of the subject for
/// `month`, one entry per area in one transaction, dated the month's last day (today while
/// the month runs). A month already scored is scored again only with a reason: its entries
/// are reversed and the new ones written, all or nothing; a closed month refuses both.
/// Returns the month's new entries.
pub async fn score_sheet(
    ctx: &Ctx,
    p: &Principal,
    t: &Target,
    month: i64,
    scores: &BTreeMap<String, i64>,
    note: &str,
    reason: &str,
) -> AppResult<Vec<Entry>> {
    p.authorize(Perm::PointsWrite, Some(&t.branch.path))?;
    let (r, version) = rules_for(ctx, &t.branch.path).await?;
    let areas: Vec<&Indicator> = r.for_subject(&t.subject).filter(|i| i.scored).collect();
    let given = super::check_sheet(&areas, scores)?;
    if let Some(a) = areas.first() {
        super::check_awarder(a, p.org_path != t.branch.path)?;
    }
    let today = ctx.clock.today();
    if month > month_key(today) {
        return Err(AppError::field("month", "不能为尚未开始的月份评分"));
    }
    let on = last_day(month).min(today);
    super::check_date(on, today, &r, false)?;
    let note = note_ok(note)?;
    let reason = reason.trim();
    if reason.chars().count() > 200 {
        return Err(AppError::field("reason", "修改理由不超过200字"));
    }
    let mut tx = ctx.db.begin().await?;
    guard_open(&mut tx, t, month, "不能再评分").await?;
    lock(&mut tx, t).await?;
    let standing: Vec<i64> = on_tx!(&mut tx, x => {
        let rows = sqlx::query("SELECT e.id FROM point_entries e WHERE e.subject = $1 AND e.org_id = $2 AND e.month = $3 AND e.reverses_id IS NULL \
                                AND NOT EXISTS (SELECT 1 FROM point_entries r WHERE r.reverses_id = e.id) ORDER BY e.id")
            .bind(&t.subject).bind(t.branch.id).bind(month).fetch_all(&mut *x).await?;
        rows.iter().map(|r| r.i64("id")).collect::<DbResult<Vec<_>>>()?
    });
    if !standing.is_empty() {
        if reason.is_empty() {
            return Err(AppError::refused(
                "points.scored",
                format!("{}已评分；修改评分须写明理由", month_label(month)),
            ));
        }
        for id in standing {
            let e = entry_tx(&mut tx, id).await?;
            write_reversal(ctx, &mut tx, p, &e, reason).await?;
        }
    }
    let mut out = Vec::with_capacity(areas.len());
    for (a, v) in areas.iter().zip(given) {
        let mut i = (*a).clone();
        i.points = v;
        out.push(
            write_entry(
                ctx, &mut tx, p, t, &i, on, &note, None, None, &None, version,
            )
            .await?,
        );
    }
    tx.commit().await?;
    Ok(out)
}

// ---- claims ----

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Claim {
    pub id: i64,
    pub subject: String,
    pub member_id: Option<i64>,
    pub member_name: Option<String>,
    pub org_id: i64,
    pub indicator: String,
    pub points: i64,
    pub done_on: NaiveDate,
    pub note: String,
    pub evidence: Option<String>,
    pub evidence_name: Option<String>,
    /// pending, approved, rejected
    pub status: String,
    pub submitted_by: Option<i64>,
    pub decided_by: Option<i64>,
    pub decision_note: Option<String>,
    pub version: i64,
}

const CLAIM_COLUMNS: &str = "c.id, c.subject, c.member_id, m.name AS member_name, c.org_id, c.indicator, c.points, c.done_on, c.note, c.evidence, c.evidence_name, c.status, c.submitted_by, c.decided_by, c.decision_note, c.version";

fn claim_row(r: &impl DbRow) -> DbResult<Claim> {
    Ok(Claim {
        id: r.i64("id")?,
        subject: r.string("subject")?,
        member_id: r.opt_i64("member_id")?,
        member_name: r.opt_string("member_name")?,
        org_id: r.i64("org_id")?,
        indicator: r.string("indicator")?,
        points: r.i64("points")?,
        done_on: r.date("done_on")?,
        note: r.string("note")?,
        evidence: r.opt_string("evidence")?,
        evidence_name: r.opt_string("evidence_name")?,
        status: r.string("status")?,
        submitted_by: r.opt_i64("submitted_by")?,
        decided_by: r.opt_i64("decided_by")?,
        decision_note: r.opt_string("decision_note")?,
        version: r.i64("version")?,
    })
}

pub async fn claim(ctx: &Ctx, id: i64) -> AppResult<(Claim, String)> {
    let sql = format!("SELECT {CLAIM_COLUMNS}, o.path FROM point_claims c LEFT JOIN members m ON m.id = c.member_id JOIN orgs o ON o.id = c.org_id WHERE c.id = $1");
    on_db!(&ctx.db, x => {
        match sqlx::query(&sql).bind(id).fetch_optional(x).await? {
            Some(r) => Ok((claim_row(&r)?, r.string("path")?)),
            None => Err(AppError::NotFound("积分申报")),
        }
    })
}

/// Claims of a branch, or (with `member_id`) of one member, newest first.
pub async fn claims(
    ctx: &Ctx,
    branch_id: Option<i64>,
    member_id: Option<i64>,
    only_pending: bool,
) -> AppResult<Vec<Claim>> {
    let mut sql = format!("SELECT {CLAIM_COLUMNS} FROM point_claims c LEFT JOIN members m ON m.id = c.member_id WHERE 1 = 1");
    if branch_id.is_some() {
        sql.push_str(" AND c.org_id = $1");
    } else {
        sql.push_str(" AND c.member_id = $1");
    }
    if only_pending {
        sql.push_str(" AND c.status = 'pending'");
    }
    sql.push_str(" ORDER BY c.id DESC LIMIT 200");
    let id = branch_id.or(member_id).unwrap_or(0);
    on_db!(&ctx.db, x => {
        let rows = sqlx::query(&sql).bind(id).fetch_all(x).await?;
        Ok(rows.iter().map(claim_row).collect::<DbResult<Vec<_>>>()?)
    })
}

async fn submit_claim(
    ctx: &Ctx,
    p: &Principal,
    t: &Target,
    i: &Indicator,
    on: NaiveDate,
    note: &str,
    file: Option<Upload>,
) -> AppResult<Claim> {
    let mut tx = ctx.db.begin().await?;
    guard_open(&mut tx, t, month_key(on), "不能再申报").await?;
    let (mut evidence, mut evidence_name) = (None, None);
    if let Some(f) = &file {
        evidence = Some(crate::blob::put(ctx, &mut tx, &f.bytes).await?);
        evidence_name = Some(crate::blob::clean_filename(&f.filename, "佐证材料"));
    }
    let id = on_tx!(&mut tx, x => {
        sqlx::query("INSERT INTO point_claims (subject, member_id, org_id, indicator, points, done_on, note, evidence, evidence_name, status, submitted_by, submitted_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10, $11) RETURNING id")
            .bind(&t.subject).bind(t.member_id).bind(t.branch.id).bind(&i.key).bind(i.points).bind(on).bind(note)
            .bind(&evidence).bind(&evidence_name).bind(p.account_id).bind(ctx.clock.now())
            .fetch_one(&mut *x).await?.i64("id")?
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "points.claim",
            object_type: "point_claim",
            object_id: id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"subject": t.subject, "member_id": t.member_id, "org_id": t.branch.id, "indicator": i.key, "points": i.points, "done_on": on, "note": note, "evidence": evidence}),
        },
    )
    .await?;
    let sql = format!("SELECT {CLAIM_COLUMNS} FROM point_claims c LEFT JOIN members m ON m.id = c.member_id WHERE c.id = $1");
    let c = on_tx!(&mut tx, x => claim_row(&sqlx::query(&sql).bind(id).fetch_one(&mut *x).await?)?);
    tx.commit().await?;
    Ok(c)
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct ClaimInput {
    /// A claimable indicator.
    pub indicator: String,
    pub done_on: Option<NaiveDate>,
    pub note: String,
}

/// A member claims points for themselves, with evidence, for the branch to approve.
pub async fn self_claim(
    ctx: &Ctx,
    p: &Principal,
    input: &ClaimInput,
    file: Option<Upload>,
) -> AppResult<Claim> {
    if !p.can(Perm::PointsClaim) {
        return Err(AppError::Forbidden("申报本人积分".into()));
    }
    let member_id = p
        .member_id
        .ok_or_else(|| AppError::refused("points.no_member", "本账号未关联党员"))?;
    let t = target(ctx, "member", Some(member_id), None).await?;
    let (r, _) = rules_for(ctx, &t.branch.path).await?;
    let i = r
        .indicator(&input.indicator)
        .filter(|i| i.subject == "member")
        .ok_or_else(|| AppError::field("indicator", "请选择申报的积分指标"))?
        .clone();
    let today = ctx.clock.today();
    let on = input.done_on.unwrap_or(today);
    if let Some(f) = &file {
        crate::blob::check(&f.bytes, r.max_evidence_mb)?;
    }
    super::check_claim(&i, on, today, &r, file.is_some())?;
    let note = note_ok(&input.note)?;
    if note.is_empty() {
        return Err(AppError::field("note", "请简要说明事项"));
    }
    submit_claim(ctx, p, &t, &i, on, &note, file).await
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct Decision {
    pub approve: bool,
    pub note: String,
    /// The claim's version as read; a claim decided meanwhile answers 409.
    pub version: i64,
}

/// Approves (the entry is written, within the cap) or rejects a pending claim. Exactly one
/// decision wins; a second answers 409.
pub async fn decide(ctx: &Ctx, p: &Principal, claim_id: i64, d: &Decision) -> AppResult<Claim> {
    let (c, path) = claim(ctx, claim_id).await?;
    p.authorize(Perm::PointsWrite, Some(&path))?;
    if c.submitted_by == Some(p.account_id) {
        return Err(AppError::refused(
            "points.self_approval",
            "不能审核自己提交的积分",
        ));
    }
    if p.member_id.is_some() && p.member_id == c.member_id {
        return Err(AppError::refused(
            "points.self_approval",
            "不能审核本人的积分",
        ));
    }
    let note = note_ok(&d.note)?;
    if !d.approve && note.is_empty() {
        return Err(AppError::field("note", "退回须写明理由"));
    }
    let t = Target {
        subject: c.subject.clone(),
        member_id: c.member_id,
        member_name: c.member_name.clone(),
        branch: crate::org::store::get(&ctx.db, c.org_id).await?,
    };
    if c.subject != "member" && p.org_path == t.branch.path {
        return Err(AppError::refused(
            "points.awarder",
            "党支部和支部书记的积分由上级党组织审核",
        ));
    }
    let (r, version) = rules_for(ctx, &t.branch.path).await?;
    let i = if d.approve {
        let i = r.indicator(&c.indicator).cloned().ok_or_else(|| {
            AppError::refused("points.indicator_gone", "该指标已不在现行指标库中，请退回")
        })?;
        Some(i)
    } else {
        None
    };
    let mut tx = ctx.db.begin().await?;
    let status = if d.approve { "approved" } else { "rejected" };
    let n = on_tx!(&mut tx, x => {
        sqlx::query("UPDATE point_claims SET status = $1, decided_by = $2, decided_at = $3, decision_note = $4, version = version + 1 WHERE id = $5 AND status = 'pending' AND version = $6")
            .bind(status).bind(p.account_id).bind(ctx.clock.now()).bind(&note).bind(c.id).bind(d.version)
            .execute(&mut *x).await?.rows_affected()
    });
    if n != 1 {
        return Err(AppError::Conflict("该申报已被处理或已变化，请刷新".into()));
    }
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "points.decide",
            object_type: "point_claim",
            object_id: c.id.to_string(),
            before: serde_json::json!({"status": "pending"}),
            after: serde_json::json!({"status": status, "note": note}),
        },
    )
    .await?;
    if let Some(i) = i {
        // the points are the catalogue's now; the claim recorded what was asked
        write_entry(
            ctx,
            &mut tx,
            p,
            &t,
            &i,
            c.done_on,
            &c.note,
            None,
            Some((c.id, c.evidence.clone(), c.evidence_name.clone())),
            &None,
            version,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(claim(ctx, c.id).await?.0)
}

// ---- closing months ----

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Close {
    pub org_id: i64,
    /// members or units
    pub scope: String,
    /// YYYY-MM
    pub month: String,
    pub entries: i64,
    pub total: i64,
    pub closed_at: chrono::DateTime<Utc>,
}

pub async fn closes(ctx: &Ctx, org_id: i64, scope: &str) -> AppResult<Vec<Close>> {
    on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT org_id, scope, month, entries, total, closed_at FROM point_closes WHERE org_id = $1 AND scope = $2 ORDER BY month DESC")
            .bind(org_id).bind(scope).fetch_all(x).await?;
        Ok(rows.iter().map(|r| Ok(Close {
            org_id: r.i64("org_id")?,
            scope: r.string("scope")?,
            month: month_label(r.i64("month")?),
            entries: r.i64("entries")?,
            total: r.i64("total")?,
            closed_at: r.ts("closed_at")?,
        })).collect::<DbResult<Vec<_>>>()?)
    })
}

/// 一月一评分: closes a month. A branch closes its members' points (`members`); a
/// committee closes its branches' and secretaries' points (`units`). Only a month that has
/// ended, with no claim of it pending; the close records the entries' count and sum.
pub async fn close_month(
    ctx: &Ctx,
    p: &Principal,
    org_id: i64,
    scope: &str,
    month: &str,
) -> AppResult<Close> {
    if scope == "first_secretaries" {
        return Err(AppError::field(
            "scope",
            "第一书记月度评分在“第一书记 → 月度评分”关账（须先评完该月）",
        ));
    }
    close_in(ctx, p, org_id, scope, month).await
}

/// The close of first secretaries' month, after crate::first_secretary::scoring's checks.
pub(crate) async fn close_first_secretaries(
    ctx: &Ctx,
    p: &Principal,
    org_id: i64,
    month: &str,
) -> AppResult<Close> {
    close_in(ctx, p, org_id, "first_secretaries", month).await
}

async fn close_in(
    ctx: &Ctx,
    p: &Principal,
    org_id: i64,
    scope: &str,
    month: &str,
) -> AppResult<Close> {
    let org = crate::org::store::get(&ctx.db, org_id).await?;
    p.authorize(Perm::PointsWrite, Some(&org.path))?;
    let m =
        super::parse_month(month).ok_or_else(|| AppError::field("month", "月份格式应为YYYY-MM"))?;
    match scope {
        "members" if !org.kind.holds_members() => {
            return Err(AppError::field("org_id", "党员积分由党支部按月关账"))
        }
        "units" if org.kind.holds_members() => {
            return Err(AppError::field(
                "org_id",
                "支部和书记积分由上级党委按月关账",
            ))
        }
        "first_secretaries" if org.kind.holds_members() => {
            return Err(AppError::field(
                "org_id",
                "第一书记月度评分由组织选派的组织部门关账",
            ))
        }
        "first_secretaries" => {
            let runs = on_db!(&ctx.db, x => {
                sqlx::query("SELECT COUNT(*) AS n FROM fs_rounds WHERE org_id = $1").bind(org.id).fetch_one(x).await?.i64("n")?
            });
            if runs == 0 {
                return Err(AppError::refused(
                    "points.not_fs_department",
                    format!(
                        "{}没有组织第一书记选派，第一书记月度评分由组织选派的组织部门关账",
                        org.name
                    ),
                ));
            }
        }
        "members" | "units" => {}
        _ => return Err(AppError::field("scope", "关账范围应为党员、支部或第一书记")),
    }
    if m >= month_key(ctx.clock.today()) {
        return Err(AppError::refused(
            "points.month_open",
            format!("{}尚未结束，月末后才能关账", month_label(m)),
        ));
    }
    let upper = path_upper(&org.path);
    let mut tx = ctx.db.begin().await?;
    // the same row every change of this month takes first: nothing lands while closing
    lock_row(&mut tx, "close", org.id).await?;
    let (done, pending, entries, total) = on_tx!(&mut tx, x => {
        let done = sqlx::query("SELECT COUNT(*) AS n FROM point_closes WHERE org_id = $1 AND scope = $2 AND month = $3")
            .bind(org.id).bind(scope).bind(m).fetch_one(&mut *x).await?.i64("n")?;
        let (pending, sums) = if scope == "first_secretaries" {
            // no claims: the sheet is scored by the level above
            let sums = sqlx::query("SELECT COUNT(*) AS n, CAST(COALESCE(SUM(e.points), 0) AS BIGINT) AS s FROM point_entries e JOIN orgs o ON o.id = e.org_id WHERE e.subject = 'first_secretary' AND e.month = $1 AND o.path > $2 AND o.path < $3")
                .bind(m).bind(&org.path).bind(&upper).fetch_one(&mut *x).await?;
            (0, sums)
        } else if scope == "members" {
            let pending = sqlx::query("SELECT COUNT(*) AS n FROM point_claims WHERE org_id = $1 AND subject = 'member' AND status = 'pending' AND done_on BETWEEN $2 AND $3")
                .bind(org.id).bind(first_day(m)).bind(last_day(m)).fetch_one(&mut *x).await?.i64("n")?;
            let sums = sqlx::query("SELECT COUNT(*) AS n, CAST(COALESCE(SUM(points), 0) AS BIGINT) AS s FROM point_entries WHERE subject = 'member' AND month = $1 AND org_id = $2")
                .bind(m).bind(org.id).fetch_one(&mut *x).await?;
            (pending, sums)
        } else {
            let pending = sqlx::query("SELECT COUNT(*) AS n FROM point_claims c JOIN orgs o ON o.id = c.org_id WHERE c.subject <> 'member' AND c.status = 'pending' AND c.done_on BETWEEN $1 AND $2 AND o.path > $3 AND o.path < $4")
                .bind(first_day(m)).bind(last_day(m)).bind(&org.path).bind(&upper).fetch_one(&mut *x).await?.i64("n")?;
            let sums = sqlx::query("SELECT COUNT(*) AS n, CAST(COALESCE(SUM(e.points), 0) AS BIGINT) AS s FROM point_entries e JOIN orgs o ON o.id = e.org_id WHERE e.subject IN ('branch', 'secretary') AND e.month = $1 AND o.path > $2 AND o.path < $3")
                .bind(m).bind(&org.path).bind(&upper).fetch_one(&mut *x).await?;
            (pending, sums)
        };
        (done, pending, sums.i64("n")?, sums.i64("s")?)
    });
    if done > 0 {
        return Err(AppError::Conflict(format!("{}已关账", month_label(m))));
    }
    if pending > 0 {
        return Err(AppError::refused(
            "points.claims_pending",
            format!(
                "{}还有{pending}条积分申报待审核，审核后才能关账",
                month_label(m)
            ),
        ));
    }
    let now = ctx.clock.now();
    on_tx!(&mut tx, x => {
        sqlx::query("INSERT INTO point_closes (org_id, scope, month, entries, total, closed_by, closed_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(org.id).bind(scope).bind(m).bind(entries).bind(total).bind(p.account_id).bind(now)
            .execute(&mut *x).await?;
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "points.close",
            object_type: "point_close",
            object_id: format!("{}:{scope}:{}", org.id, month_label(m)),
            before: serde_json::Value::Null,
            after: serde_json::json!({"scope": scope, "month": month_label(m), "entries": entries, "total": total}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Close {
        org_id: org.id,
        scope: scope.into(),
        month: month_label(m),
        entries,
        total,
        closed_at: now,
    })
}

fn first_day(m: i64) -> NaiveDate {
    NaiveDate::from_ymd_opt((m / 100) as i32, (m % 100) as u32, 1).unwrap_or_default()
}

fn last_day(m: i64) -> NaiveDate {
    let next = if m % 100 == 12 { m + 89 } else { m + 1 };
    first_day(next) - chrono::Duration::days(1)
}

// ---- boards and rankings ----

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BoardRow {
    /// The member (member and secretary boards) or the branch (branch board).
    pub id: i64,
    pub name: String,
    /// The branch of a secretary.
    pub org_name: Option<String>,
    /// Points per month of the range, in order.
    pub months: Vec<i64>,
    pub total: i64,
    pub rank: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = PointsBoard)]
pub struct Board {
    pub org_id: i64,
    pub org_name: String,
    /// member (a branch's members), branch or secretary (a committee's branches or
    /// secretaries)
    pub subject: String,
    /// YYYY-MM of each month column.
    pub months: Vec<String>,
    pub rows: Vec<BoardRow>,
    /// Rows of the whole board (or of those matching the name asked for), when `rows` is
    /// one page of them.
    pub total_rows: usize,
    /// Months of the range already closed (so final).
    pub closed: Vec<String>,
}

impl Board {
    /// The rows whose name (or branch) contains `name` (all when empty), `offset..offset +
    /// limit` of them; ranks stay those of the whole board, `total_rows` counts the matches.
    pub fn page(mut self, name: &str, offset: usize, limit: usize) -> Board {
        let name = name.trim();
        if !name.is_empty() {
            self.rows.retain(|r| {
                r.name.contains(name) || r.org_name.as_deref().is_some_and(|o| o.contains(name))
            });
        }
        self.total_rows = self.rows.len();
        self.rows = self.rows.into_iter().skip(offset).take(limit).collect();
        self
    }
}

fn fold(
    sums: &[(i64, i64, i64)],
    months: &[i64],
    names: &HashMap<i64, (String, Option<String>)>,
) -> Vec<BoardRow> {
    let mut per: BTreeMap<i64, Vec<i64>> =
        names.keys().map(|k| (*k, vec![0; months.len()])).collect();
    for (id, m, s) in sums {
        if let Some(ix) = months.iter().position(|x| x == m) {
            per.entry(*id).or_insert_with(|| vec![0; months.len()])[ix] += s;
        }
    }
    let totals: Vec<(i64, i64)> = per.iter().map(|(id, v)| (*id, v.iter().sum())).collect();
    super::rank(&totals)
        .into_iter()
        .map(|(id, total, rank)| {
            let (name, org_name) = names.get(&id).cloned().unwrap_or_default();
            BoardRow {
                id,
                name,
                org_name,
                months: per.get(&id).cloned().unwrap_or_default(),
                total,
                rank,
            }
        })
        .collect()
}

/// The kept totals that cover months `from..=to` exactly: (span, SQL list of periods) — one
/// month, a calendar quarter (`YYYYq`) or a calendar year, else its months.
fn kept_span(from: i64, to: i64) -> (&'static str, String) {
    let (y, m) = (from / 100, from % 100);
    if from == to {
        ("M", from.to_string())
    } else if y == to / 100 && m == 1 && to % 100 == 12 {
        ("Y", y.to_string())
    } else if y == to / 100 && m % 3 == 1 && to == from + 2 {
        ("Q", (y * 10 + (m + 2) / 3).to_string())
    } else {
        ("M", listed_months(from, to))
    }
}

/// The months `from..=to` as an SQL list (integers computed here, inlined). Queries name the
/// months rather than a range: the index is (subject, month, org_id, ...), and under a range
/// of months PostgreSQL reads every branch's entries of the range to find one branch's (3,900
/// pages for one month at 300,000 members: 86 ms; listed: under 1 ms).
fn listed_months(from: i64, to: i64) -> String {
    let months = super::months(from, to);
    if months.is_empty() {
        "NULL".to_string()
    } else {
        months
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A branch's members, month by month over `from..=to`, ranked by the range's total. Every
/// member of the branch is on it (with 0 when they have no entry), and anyone who earned
/// points here before moving on.
pub async fn member_board(ctx: &Ctx, branch: &Org, from: i64, to: i64) -> AppResult<Board> {
    Ok(member_board_data(ctx, branch, from, to)
        .await?
        .board(branch, from, to))
}

/// A branch's member points over a range of months as read from the database — enough to
/// fold the board of the range or of any month in it without reading again (a member's page
/// shows the year and the latest closed month).
pub struct BoardData {
    /// (member, month, points)
    sums: Vec<(i64, i64, i64)>,
    names: HashMap<i64, (String, Option<String>)>,
    /// Members of the branch now (the others are in the range's entries only).
    current: HashSet<i64>,
    /// Closed months of the range, ascending.
    closed: Vec<i64>,
}

async fn member_board_data(ctx: &Ctx, branch: &Org, from: i64, to: i64) -> AppResult<BoardData> {
    let listed = listed_months(from, to);
    let sums_sql = format!("SELECT member_id, month, CAST(SUM(points) AS BIGINT) AS s FROM point_entries WHERE subject = 'member' AND month IN ({listed}) AND org_id = $1 GROUP BY member_id, month");
    // a UNION, not `org_id = $1 OR id IN (…)`: PostgreSQL answers that OR by reading every
    // member of the city (111 ms; the UNION: under 1 ms)
    let names_sql = format!("SELECT id, name, org_id FROM members WHERE org_id = $1 AND status <> 'left' UNION SELECT id, name, org_id FROM members WHERE id IN (SELECT member_id FROM point_entries WHERE subject = 'member' AND month IN ({listed}) AND org_id = $1)");
    let by_branch = [Val::I64(branch.id)];
    let sums: Vec<(i64, i64, i64)> =
        fetch_packed(&ctx.db, &sums_sql, &["member_id", "month", "s"], &by_branch).await?;
    let mut names = HashMap::new();
    let mut current = HashSet::new();
    for (id, name, org_id) in fetch_packed::<(i64, String, i64)>(
        &ctx.db,
        &names_sql,
        &["id", "name", "org_id"],
        &by_branch,
    )
    .await?
    {
        if org_id == branch.id {
            current.insert(id);
        }
        names.insert(id, (name, None));
    }
    let closed = on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT month FROM point_closes WHERE org_id = $1 AND scope = 'members' AND month BETWEEN $2 AND $3 ORDER BY month")
            .bind(branch.id).bind(from).bind(to).fetch_all(x).await?;
        rows.iter().map(|r| r.i64("month")).collect::<DbResult<Vec<_>>>()?
    });
    Ok(BoardData {
        sums,
        names,
        current,
        closed,
    })
}

impl BoardData {
    /// The board of `from..=to`, a range within the one read: the branch's members now and
    /// whoever has entries in it — what [`member_board`] reads for that range itself.
    fn board(&self, branch: &Org, from: i64, to: i64) -> Board {
        let months = super::months(from, to);
        let sums: Vec<(i64, i64, i64)> = self
            .sums
            .iter()
            .filter(|(_, m, _)| months.contains(m))
            .copied()
            .collect();
        let with_entries: HashSet<i64> = sums.iter().map(|(id, _, _)| *id).collect();
        let names: HashMap<i64, (String, Option<String>)> = self
            .names
            .iter()
            .filter(|(id, _)| self.current.contains(id) || with_entries.contains(id))
            .map(|(id, n)| (*id, n.clone()))
            .collect();
        let rows = fold(&sums, &months, &names);
        Board {
            org_id: branch.id,
            org_name: branch.name.clone(),
            subject: "member".into(),
            months: months.iter().map(|m| month_label(*m)).collect(),
            total_rows: rows.len(),
            rows,
            closed: self
                .closed
                .iter()
                .filter(|m| months.contains(m))
                .map(|m| month_label(*m))
                .collect(),
        }
    }
}

/// A committee's branches (subject `branch`) or secretaries (`secretary`) over a range,
/// ranked; at most `limit` rows.
pub async fn unit_board(
    ctx: &Ctx,
    org: &Org,
    subject: &str,
    from: i64,
    to: i64,
) -> AppResult<Board> {
    // a heavy read: bounded and shared by identical concurrent requests (crate::heavy); the
    // whole board, so that its pages share one computation
    let key = format!("points.units|{}|{subject}|{from}|{to}", org.id);
    ctx.heavy
        .run_cloned(&key, || unit_board_uncached(ctx, org, subject, from, to))
        .await
}

async fn unit_board_uncached(
    ctx: &Ctx,
    org: &Org,
    subject: &str,
    from: i64,
    to: i64,
) -> AppResult<Board> {
    let months = super::months(from, to);
    let listed = listed_months(from, to);
    let upper = path_upper(&org.path);
    let branch_kinds = "('branch', 'joint_branch')";
    let (sums, names, closed) = on_db!(&ctx.db, x => {
        let whole = crate::org::store::is_whole_tree(&ctx.db, &org.path).await?;
        // the kept month totals (migration 0023), the subtree's by its organisations' paths
        let (join, cond) = if whole {
            ("", "")
        } else {
            (" JOIN orgs o ON o.id = t.org_id", " AND o.path >= $1 AND o.path < $2")
        };
        let by_path = [Val::Str(org.path.clone()), Val::Str(upper.clone())];
        let vals: &[Val] = if whole { &[] } else { &by_path };
        let (sums, names) = if subject == "branch" {
            let sums: Vec<(i64, i64, i64)> = fetch_packed(&ctx.db, &format!("SELECT t.org_id AS id, t.period AS month, t.total AS s FROM point_totals t{join} WHERE t.subject = 'branch' AND t.span = 'M' AND t.period IN ({listed}){cond}"),
                &["id", "month", "s"], vals).await?;
            let rows = sqlx::query(&format!("SELECT id, name FROM orgs WHERE path >= $1 AND path < $2 AND kind IN {branch_kinds} AND dissolved_at IS NULL"))
                .bind(&org.path).bind(&upper).fetch_all(x).await?;
            let names = rows.iter().map(|r| Ok((r.i64("id")?, (r.string("name")?, None)))).collect::<DbResult<HashMap<_, _>>>()?;
            (sums, names)
        } else {
            let sums: Vec<(i64, i64, i64)> = fetch_packed(&ctx.db, &format!("SELECT t.member_id AS id, t.period AS month, CAST(SUM(t.total) AS BIGINT) AS s FROM point_totals t{join} WHERE t.subject = 'secretary' AND t.span = 'M' AND t.period IN ({listed}){cond} GROUP BY t.member_id, t.period"),
                &["id", "month", "s"], vals).await?;
            let names: Vec<(i64, String, String)> = fetch_packed(&ctx.db, &format!("SELECT m.id, m.name, MIN(b.name) AS org_name FROM point_totals t JOIN members m ON m.id = t.member_id JOIN orgs b ON b.id = t.org_id{join} WHERE t.subject = 'secretary' AND t.span = 'M' AND t.period IN ({listed}){cond} GROUP BY m.id, m.name"),
                &["id", "name", "org_name"], vals).await?;
            let names = names.into_iter().map(|(id, n, o)| (id, (n, Some(o)))).collect::<HashMap<_, _>>();
            (sums, names)
        };
        let rows = sqlx::query("SELECT DISTINCT month FROM point_closes WHERE org_id = $1 AND scope = 'units' AND month BETWEEN $2 AND $3 ORDER BY month")
            .bind(org.id).bind(from).bind(to).fetch_all(x).await?;
        let closed = rows.iter().map(|r| Ok(month_label(r.i64("month")?))).collect::<DbResult<Vec<_>>>()?;
        (sums, names, closed)
    });
    let rows = fold(&sums, &months, &names);
    let total_rows = rows.len();
    Ok(Board {
        org_id: org.id,
        org_name: org.name.clone(),
        subject: subject.into(),
        months: months.iter().map(|m| month_label(*m)).collect(),
        rows,
        total_rows,
        closed,
    })
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RankRow {
    pub rank: i64,
    pub member_id: i64,
    pub name: String,
    pub org_name: String,
    pub total: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Ranking {
    pub org_id: i64,
    pub org_name: String,
    /// First and last month, YYYY-MM.
    pub from: String,
    pub to: String,
    /// Members with points in the range.
    pub ranked: usize,
    pub offset: usize,
    pub rows: Vec<RankRow>,
}

/// Members of a subtree ranked by their points over `from..=to`, computed from the entries
/// on every call; `rows` holds `limit` of them from `offset`.
pub async fn ranking(
    ctx: &Ctx,
    org: &Org,
    from: i64,
    to: i64,
    offset: usize,
    limit: usize,
) -> AppResult<Ranking> {
    // a heavy read: bounded and shared by identical concurrent requests (crate::heavy)
    let key = format!("points.ranking|{}|{from}|{to}|{offset}|{limit}", org.id);
    ctx.heavy
        .run_cloned(&key, || ranking_uncached(ctx, org, from, to, offset, limit))
        .await
}

pub(crate) async fn ranking_uncached(
    ctx: &Ctx,
    org: &Org,
    from: i64,
    to: i64,
    offset: usize,
    limit: usize,
) -> AppResult<Ranking> {
    // the kept totals (migration 0023): one row per member and branch for a month, a
    // calendar quarter or a calendar year; another range adds its months up. A whole
    // database's tree needs no filter by organisation.
    let whole = crate::org::store::is_whole_tree(&ctx.db, &org.path).await?;
    let (span, periods) = kept_span(from, to);
    let (join, cond) = if whole {
        ("", "")
    } else {
        (
            " JOIN orgs o ON o.id = t.org_id",
            " AND o.path >= $1 AND o.path < $2",
        )
    };
    let sql = format!("SELECT t.member_id AS id, CAST(SUM(t.total) AS BIGINT) AS s FROM point_totals t{join} WHERE t.subject = 'member' AND t.span = '{span}' AND t.period IN ({periods}){cond} GROUP BY t.member_id");
    let by_path = [Val::Str(org.path.clone()), Val::Str(path_upper(&org.path))];
    let acc: Vec<(i64, i64)> = fetch_packed(
        &ctx.db,
        &sql,
        &["id", "s"],
        if whole { &[] } else { &by_path },
    )
    .await?;
    let ranked = super::rank(&acc);
    let page: Vec<(i64, i64, i64)> = ranked
        .iter()
        .skip(offset)
        .take(limit.clamp(1, 500))
        .copied()
        .collect();
    let ids = page
        .iter()
        .map(|r| r.0.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let names: HashMap<i64, (String, String)> = if ids.is_empty() {
        HashMap::new()
    } else {
        // ids are integers from the database
        let sql = format!("SELECT m.id, m.name, o.name AS org_name FROM members m JOIN orgs o ON o.id = m.org_id WHERE m.id IN ({ids})");
        on_db!(&ctx.db, x => {
            let rows = sqlx::query(&sql).fetch_all(x).await?;
            rows.iter().map(|r| Ok((r.i64("id")?, (r.string("name")?, r.string("org_name")?)))).collect::<DbResult<HashMap<_, _>>>()?
        })
    };
    Ok(Ranking {
        org_id: org.id,
        org_name: org.name.clone(),
        from: month_label(from),
        to: month_label(to),
        ranked: ranked.len(),
        offset,
        rows: page
            .into_iter()
            .map(|(id, total, rank)| {
                let (name, org_name) = names.get(&id).cloned().unwrap_or_default();
                RankRow {
                    rank,
                    member_id: id,
                    name,
                    org_name,
                    total,
                }
            })
            .collect(),
    })
}

// ---- a member's own points ----

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MemberPoints {
    pub member_id: i64,
    pub name: String,
    pub org_id: i64,
    pub org_name: String,
    pub year: i32,
    pub total: i64,
    /// (YYYY-MM, points, rank in the branch when the month is closed)
    pub months: Vec<(String, i64, Option<i64>)>,
    /// Members of the branch.
    pub branch_size: usize,
    /// Rank in the branch over the closed months of the year.
    pub rank: Option<i64>,
    pub entries: Vec<Entry>,
    pub claims: Vec<Claim>,
}

/// A member's year in their branch (`branch`: the member's organisation, `name`: theirs), with
/// the branch's year as read, for [`last_closed_board`].
pub async fn member_year(
    ctx: &Ctx,
    branch: &Org,
    member_id: i64,
    name: String,
    year: i32,
) -> AppResult<(MemberPoints, BoardData)> {
    let (from, to) = (year as i64 * 100 + 1, year as i64 * 100 + 12);
    let data = member_board_data(ctx, branch, from, to).await?;
    let board = data.board(branch, from, to);
    let closed = &data.closed;
    let months_all = super::months(from, to);
    let mine = board.rows.iter().find(|r| r.id == member_id);
    let mut months = Vec::new();
    for (ix, m) in months_all.iter().enumerate() {
        let pts = mine.and_then(|r| r.months.get(ix)).copied().unwrap_or(0);
        let rank = if closed.contains(m) {
            let col: Vec<(i64, i64)> = board
                .rows
                .iter()
                .map(|r| (r.id, r.months.get(ix).copied().unwrap_or(0)))
                .collect();
            super::rank(&col)
                .into_iter()
                .find(|x| x.0 == member_id)
                .map(|x| x.2)
        } else {
            None
        };
        months.push((month_label(*m), pts, rank));
    }
    let rank = if closed.is_empty() {
        None
    } else {
        let totals: Vec<(i64, i64)> = board
            .rows
            .iter()
            .map(|r| {
                let s = months_all
                    .iter()
                    .enumerate()
                    .filter(|(_, m)| closed.contains(m))
                    .map(|(ix, _)| r.months.get(ix).copied().unwrap_or(0))
                    .sum();
                (r.id, s)
            })
            .collect();
        super::rank(&totals)
            .into_iter()
            .find(|x| x.0 == member_id)
            .map(|x| x.2)
    };
    let mp = MemberPoints {
        member_id,
        name,
        org_id: branch.id,
        org_name: branch.name.clone(),
        year,
        total: mine.map(|r| r.total).unwrap_or(0),
        months,
        branch_size: board.rows.len(),
        rank,
        entries: entries_of(ctx, "member", member_id, year).await?,
        claims: claims(ctx, None, Some(member_id), false).await?,
    };
    Ok((mp, data))
}

/// The board of the branch's latest closed month — the one published to its members. `data`
/// is the branch's `year` as read for the member's page: when that month lies in it (the
/// current year with a month closed), nothing more is read.
pub async fn last_closed_board(
    ctx: &Ctx,
    branch: &Org,
    data: &BoardData,
    year: i32,
) -> AppResult<Option<Board>> {
    use chrono::Datelike;
    let (from, to) = (year as i64 * 100 + 1, year as i64 * 100 + 12);
    // The year's own latest close; in a current year with none closed yet (January), the
    // branch's latest close before it. A past year never shows a later year's month.
    let latest = match data.closed.last() {
        Some(m) => Some(*m),
        None if year >= ctx.clock.today().year() => closes(ctx, branch.id, "members")
            .await?
            .first()
            .and_then(|c| super::parse_month(&c.month)),
        None => None,
    };
    Ok(match latest {
        Some(m) if (from..=to).contains(&m) => Some(data.board(branch, m, m)),
        Some(m) => Some(member_board(ctx, branch, m, m).await?),
        None => None,
    })
}

// ---- 一年一兑分 ----

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct YearResult {
    pub org_id: i64,
    pub org_name: String,
    pub year: i32,
    pub outcomes: Vec<OutcomeRow>,
    /// Months of the year closed so far (YYYY-MM).
    pub closed: Vec<String>,
    pub confirmed: bool,
    pub confirmed_at: Option<chrono::DateTime<Utc>>,
    /// SM3 of the confirmed results.
    pub digest: Option<String>,
    /// `[n, d]`
    #[schema(value_type = Vec<i64>)]
    pub excellent_share: [i64; 2],
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OutcomeRow {
    #[serde(flatten)]
    pub outcome: Outcome,
    pub name: String,
}

/// The annual conversion of a branch: confirmed (as it was confirmed), or provisional from
/// the entries.
pub async fn year_result(ctx: &Ctx, branch: &Org, year: i32) -> AppResult<YearResult> {
    let (r, _) = rules_for(ctx, &branch.path).await?;
    let stored = on_db!(&ctx.db, x => {
        match sqlx::query("SELECT results_json, digest, confirmed_at FROM point_years WHERE org_id = $1 AND year = $2").bind(branch.id).bind(year as i64).fetch_optional(x).await? {
            Some(row) => Some((row.string("results_json")?, row.string("digest")?, row.ts("confirmed_at")?)),
            None => None,
        }
    });
    let board = member_board(ctx, branch, year as i64 * 100 + 1, year as i64 * 100 + 12).await?;
    let (outcomes, confirmed, at, digest) = match stored {
        Some((json, digest, at)) => {
            let v: Vec<OutcomeRow> = serde_json::from_str(&json)
                .map_err(|e| AppError::Internal(format!("stored annual result unreadable: {e}")))?;
            (v, true, Some(at), Some(digest))
        }
        None => (outcomes_of(&board, &r), false, None, None),
    };
    Ok(YearResult {
        org_id: branch.id,
        org_name: branch.name.clone(),
        year,
        outcomes,
        closed: board.closed,
        confirmed,
        confirmed_at: at,
        digest,
        excellent_share: r.excellent_share,
    })
}

fn outcomes_of(board: &Board, r: &PointsRules) -> Vec<OutcomeRow> {
    let totals: Vec<(i64, i64)> = board.rows.iter().map(|x| (x.id, x.total)).collect();
    let names: HashMap<i64, String> = board.rows.iter().map(|x| (x.id, x.name.clone())).collect();
    super::convert(&totals, r)
        .into_iter()
        .map(|o| OutcomeRow {
            name: names.get(&o.member_id).cloned().unwrap_or_default(),
            outcome: o,
        })
        .collect()
}

/// Confirms a branch's annual conversion once all twelve months are closed; the results are
/// kept as confirmed, with their SM3 digest in the audit chain.
pub async fn confirm_year(
    ctx: &Ctx,
    p: &Principal,
    branch_id: i64,
    year: i32,
) -> AppResult<YearResult> {
    let branch = crate::org::store::get(&ctx.db, branch_id).await?;
    p.authorize(Perm::PointsWrite, Some(&branch.path))?;
    if !branch.kind.holds_members() {
        return Err(AppError::field("org_id", "年度兑分由党支部确认"));
    }
    let res = year_result(ctx, &branch, year).await?;
    if res.confirmed {
        return Err(AppError::Conflict(format!("{year}年度积分已确认")));
    }
    if res.closed.len() < 12 {
        return Err(AppError::refused(
            "points.year_open",
            format!(
                "{year}年还有{}个月未关账，全年关账后才能确认",
                12 - res.closed.len()
            ),
        ));
    }
    let json =
        serde_json::to_string(&res.outcomes).map_err(|e| AppError::Internal(e.to_string()))?;
    let digest = crate::crypto::sm3_hex(json.as_bytes());
    let mut tx = ctx.db.begin().await?;
    on_tx!(&mut tx, x => {
        sqlx::query("INSERT INTO point_years (org_id, year, results_json, digest, confirmed_by, confirmed_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(branch.id).bind(year as i64).bind(&json).bind(&digest).bind(p.account_id).bind(ctx.clock.now())
            .execute(&mut *x).await?;
    });
    let counts: BTreeMap<&str, usize> = res.outcomes.iter().fold(BTreeMap::new(), |mut m, o| {
        *m.entry(o.outcome.grade.as_str()).or_default() += 1;
        m
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "points.year",
            object_type: "point_year",
            object_id: format!("{}:{year}", branch.id),
            before: serde_json::Value::Null,
            after: serde_json::json!({"year": year, "digest": digest, "members": res.outcomes.len(), "grades": counts}),
        },
    )
    .await?;
    tx.commit().await?;
    year_result(ctx, &branch, year).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_spans_cover_the_range_exactly() {
        assert_eq!(kept_span(202611, 202611), ("M", "202611".into()));
        assert_eq!(kept_span(202610, 202612), ("Q", "20264".into()));
        assert_eq!(kept_span(202601, 202603), ("Q", "20261".into()));
        assert_eq!(kept_span(202601, 202612), ("Y", "2026".into()));
        // not a calendar quarter or year: its months
        assert_eq!(
            kept_span(202602, 202604),
            ("M", "202602, 202603, 202604".into())
        );
        assert_eq!(
            kept_span(202511, 202601),
            ("M", "202511, 202512, 202601".into())
        );
        assert_eq!(kept_span(202601, 202611).0, "M");
    }
}
