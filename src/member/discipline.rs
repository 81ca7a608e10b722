//! 党纪处分: disciplinary decisions on members, and what they take away.
//!
//! The 2018 《中国共产党纪律处分条例》 (art. 8) knows five: 警告, 严重警告, 撤销党内职务, 留党察看
//! (one year or two, art. 40) and 开除党籍. Organisation staff record the decision with its
//! deciding body and document number. While 留党察看 runs (from the decision for its months,
//! unless revoked) the member has no right to vote, elect or be elected (art. 40) and cannot
//! introduce applicants (发展党员工作细则 art. 13); 开除党籍 ends membership: the member leaves
//! the roll (status `left`, 已出党) and no longer counts anywhere.

use crate::audit::{self, NewEntry};
use crate::auth::Principal;
use crate::db::{DbResult, DbRow};
use crate::error::{AppError, AppResult, Checks};
use crate::{on_db, on_tx, Ctx};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// The kinds (code, label), in the order of their weight.
pub const KINDS: [(&str, &str); 5] = [
    ("warning", "警告"),
    ("serious_warning", "严重警告"),
    ("removal_from_post", "撤销党内职务"),
    ("probation", "留党察看"),
    ("expulsion", "开除党籍"),
];

pub fn kind_label(k: &str) -> &'static str {
    KINDS.iter().find(|x| x.0 == k).map(|x| x.1).unwrap_or("")
}

/// The refusal for any change to a member who has left (开除党籍).
pub fn left_refusal() -> AppError {
    AppError::refused(
        "member.left",
        "该同志已被开除党籍（已出党），不能再办理此项业务",
    )
}

/// A decision as entered.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct DisciplineInput {
    /// warning, serious_warning, removal_from_post, probation, expulsion
    pub kind: String,
    pub decided_on: Option<NaiveDate>,
    /// 留党察看: 12 or 24.
    pub months: Option<i64>,
    /// The deciding body (e.g. 中共某某镇纪律检查委员会).
    pub deciding_body: String,
    /// The decision's document number (e.g. 某纪发〔2026〕3号).
    pub document_no: String,
    pub reason: String,
}

/// A decision checked: (kind, decided on, ends on for 留党察看).
pub fn check(
    input: &DisciplineInput,
    today: NaiveDate,
) -> Result<(&'static str, NaiveDate, Option<NaiveDate>), AppError> {
    let mut c = Checks::default();
    let kind = KINDS.iter().find(|k| k.0 == input.kind).map(|k| k.0);
    c.check(
        kind.is_some(),
        "kind",
        "处分种类应为警告、严重警告、撤销党内职务、留党察看或开除党籍",
    );
    let on = input.decided_on;
    c.check(on.is_some(), "decided_on", "请填写处分决定日期");
    if let Some(d) = on {
        c.check(d <= today, "decided_on", "处分决定日期不能晚于今天");
    }
    let body = input.deciding_body.trim().chars().count();
    c.check(
        (2..=60).contains(&body),
        "deciding_body",
        "请填写作出处分决定的机关（60字以内）",
    );
    let doc = input.document_no.trim().chars().count();
    c.check(
        (2..=60).contains(&doc),
        "document_no",
        "请填写处分决定的文号（60字以内）",
    );
    c.check(
        !input.reason.trim().is_empty() && input.reason.trim().chars().count() <= 500,
        "reason",
        "请填写处分事由（500字以内）",
    );
    let months = match (kind, input.months) {
        (Some("probation"), Some(m @ (12 | 24))) => Some(m),
        (Some("probation"), _) => {
            c.add("months", "留党察看期限为一年或两年（12或24个月）");
            None
        }
        (_, None) => None,
        (_, Some(_)) => {
            c.add("months", "只有留党察看有期限");
            None
        }
    };
    c.finish()?;
    let (Some(kind), Some(on)) = (kind, on) else {
        return Err(AppError::field("kind", "处分种类无效"));
    };
    let ends = months.map(|m| crate::recruit::rules::add_months(on, m));
    Ok((kind, on, ends))
}

/// The SQL condition "member `alias` is under 留党察看 on `date_param`".
pub fn suspended_sql(alias: &str, date_param: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM member_discipline d WHERE d.member_id = {alias}.id AND d.kind = 'probation' \
         AND d.decided_on <= {date_param} AND d.ends_on > {date_param} AND d.revoked_on IS NULL)"
    )
}

/// One decision as stored.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Discipline {
    pub id: i64,
    pub member_id: i64,
    pub kind: String,
    pub kind_label: String,
    pub decided_on: NaiveDate,
    pub ends_on: Option<NaiveDate>,
    pub deciding_body: String,
    pub document_no: String,
    pub reason: String,
    pub recorded_at: DateTime<Utc>,
    pub revoked_on: Option<NaiveDate>,
    pub revoke_reason: String,
    /// 留党察看 running today.
    pub running: bool,
}

pub async fn list(ctx: &Ctx, member_id: i64) -> AppResult<Vec<Discipline>> {
    let today = ctx.clock.today();
    Ok(on_db!(&ctx.db, p => {
        let rows = sqlx::query("SELECT id, member_id, kind, decided_on, ends_on, deciding_body, document_no, reason, recorded_at, revoked_on, revoke_reason FROM member_discipline WHERE member_id = $1 ORDER BY decided_on, id")
            .bind(member_id).fetch_all(p).await?;
        rows.iter().map(|r| {
            let kind = r.string("kind")?;
            let (on, ends, revoked) = (r.date("decided_on")?, r.opt_date("ends_on")?, r.opt_date("revoked_on")?);
            Ok(Discipline {
                id: r.i64("id")?,
                member_id: r.i64("member_id")?,
                kind_label: kind_label(&kind).to_string(),
                running: kind == "probation" && revoked.is_none() && on <= today && ends.is_some_and(|e| e > today),
                kind,
                decided_on: on,
                ends_on: ends,
                deciding_body: r.string("deciding_body")?,
                document_no: r.string("document_no")?,
                reason: r.string("reason")?,
                recorded_at: r.ts("recorded_at")?,
                revoked_on: revoked,
                revoke_reason: r.string("revoke_reason")?,
            })
        }).collect::<DbResult<Vec<_>>>()?
    }))
}

/// Whether the member is under 留党察看 on `on`.
pub async fn suspended(ctx: &Ctx, member_id: i64, on: NaiveDate) -> AppResult<bool> {
    Ok(list(ctx, member_id).await?.iter().any(|d| {
        d.kind == "probation"
            && d.revoked_on.is_none()
            && d.decided_on <= on
            && d.ends_on.is_some_and(|e| e > on)
    }))
}

/// Records a decision (the caller checked who may); 开除党籍 ends membership in the same
/// transaction.
pub async fn record(
    ctx: &Ctx,
    p: &Principal,
    member_id: i64,
    input: &DisciplineInput,
) -> AppResult<Discipline> {
    let (kind, on, ends) = check(input, ctx.clock.today())?;
    let (member, _) = super::store::get(ctx, member_id).await?;
    if member.status == super::Status::Left.as_str() {
        return Err(left_refusal());
    }
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let id = on_tx!(&mut tx, c => {
        sqlx::query("INSERT INTO member_discipline (member_id, org_id, kind, decided_on, ends_on, deciding_body, document_no, reason, recorded_by, recorded_at, prior_status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id")
            .bind(member_id).bind(member.org_id).bind(kind).bind(on).bind(ends).bind(input.deciding_body.trim())
            .bind(input.document_no.trim()).bind(input.reason.trim()).bind(p.account_id).bind(now)
            .bind((kind == "expulsion").then_some(member.status.as_str()))
            .fetch_one(&mut *c).await?.i64("id")?
    });
    if kind == "expulsion" {
        on_tx!(&mut tx, c => {
            sqlx::query("UPDATE members SET status = 'left', version = version + 1, updated_at = $1 WHERE id = $2")
                .bind(now).bind(member_id).execute(&mut *c).await?;
        });
    }
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "member.discipline",
            object_type: "member",
            object_id: member_id.to_string(),
            before: serde_json::json!({"status": member.status}),
            after: serde_json::json!({"discipline": id, "kind": kind, "decided_on": on, "ends_on": ends,
                "deciding_body": input.deciding_body.trim(), "document_no": input.document_no.trim()}),
        },
    )
    .await?;
    tx.commit().await?;
    list(ctx, member_id)
        .await?
        .into_iter()
        .find(|d| d.id == id)
        .ok_or(AppError::NotFound("处分记录"))
}

/// A revocation as entered (a decision set aside on appeal or review, 申诉复查).
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct RevokeInput {
    pub revoked_on: Option<NaiveDate>,
    pub reason: String,
}

/// Sets a decision aside; a revoked 开除党籍 restores the status the member had.
pub async fn revoke(
    ctx: &Ctx,
    p: &Principal,
    member_id: i64,
    discipline_id: i64,
    input: &RevokeInput,
) -> AppResult<Discipline> {
    let today = ctx.clock.today();
    let current = list(ctx, member_id)
        .await?
        .into_iter()
        .find(|d| d.id == discipline_id)
        .ok_or(AppError::NotFound("处分记录"))?;
    let mut c = Checks::default();
    let on = input.revoked_on;
    c.check(on.is_some(), "revoked_on", "请填写撤销日期");
    if let Some(d) = on {
        c.check(
            d >= current.decided_on && d <= today,
            "revoked_on",
            "撤销日期应在处分决定日期与今天之间",
        );
    }
    let reason = input.reason.trim();
    c.check(
        (2..=500).contains(&reason.chars().count()),
        "reason",
        "请填写撤销依据（如申诉复查决定及文号，500字以内）",
    );
    c.finish()?;
    let Some(on) = on else {
        return Err(AppError::field("revoked_on", "请填写撤销日期"));
    };
    if current.revoked_on.is_some() {
        return Err(AppError::refused(
            "discipline.already_revoked",
            "该处分决定已撤销",
        ));
    }
    let mut tx = ctx.db.begin().await?;
    let prior = on_tx!(&mut tx, c => {
        let n = sqlx::query("UPDATE member_discipline SET revoked_on = $1, revoke_reason = $2 WHERE id = $3 AND member_id = $4 AND revoked_on IS NULL")
            .bind(on).bind(reason).bind(discipline_id).bind(member_id).execute(&mut *c).await?.rows_affected();
        if n != 1 {
            return Err(AppError::Conflict("该处分记录已被他人修改，请刷新后重试".into()));
        }
        sqlx::query("SELECT prior_status FROM member_discipline WHERE id = $1").bind(discipline_id)
            .fetch_one(&mut *c).await?.opt_string("prior_status")?
    });
    if current.kind == "expulsion" {
        let back = prior
            .as_deref()
            .and_then(super::Status::parse)
            .filter(|s| super::Status::ON_ROLL.contains(s))
            .unwrap_or(super::Status::Full);
        let now = tx.now;
        on_tx!(&mut tx, c => {
            sqlx::query("UPDATE members SET status = $1, version = version + 1, updated_at = $2 WHERE id = $3 AND status = 'left'")
                .bind(back.as_str()).bind(now).bind(member_id).execute(&mut *c).await?;
        });
    }
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "member.discipline_revoked",
            object_type: "member",
            object_id: member_id.to_string(),
            before: serde_json::json!({"discipline": discipline_id, "kind": current.kind}),
            after: serde_json::json!({"discipline": discipline_id, "revoked_on": on, "reason": reason}),
        },
    )
    .await?;
    tx.commit().await?;
    list(ctx, member_id)
        .await?
        .into_iter()
        .find(|d| d.id == discipline_id)
        .ok_or(AppError::NotFound("处分记录"))
}

/// Members under each kind of decision now in the subtree at `path` (statistics): for 留党察看
/// those whose period runs, for the others those decided this year.
pub async fn counts(ctx: &Ctx, path: &str) -> AppResult<Vec<(String, i64)>> {
    let today = ctx.clock.today();
    let year_start = NaiveDate::from_ymd_opt(chrono::Datelike::year(&today), 1, 1).unwrap_or(today);
    let rows: Vec<(String, i64)> = on_db!(&ctx.db, p => {
        let rows = sqlx::query("SELECT d.kind AS k, COUNT(*) AS n FROM member_discipline d JOIN orgs o ON o.id = d.org_id \
             WHERE o.path >= $1 AND o.path < $2 AND d.revoked_on IS NULL AND \
             ((d.kind = 'probation' AND d.decided_on <= $3 AND d.ends_on > $3) OR (d.kind <> 'probation' AND d.decided_on >= $4)) GROUP BY d.kind")
            .bind(path).bind(crate::db::path_upper(path)).bind(today).bind(year_start).fetch_all(p).await?;
        rows.iter().map(|r| Ok((r.string("k")?, r.i64("n")?))).collect::<DbResult<Vec<_>>>()?
    });
    Ok(KINDS
        .iter()
        .map(|(k, label)| {
            (
                label.to_string(),
                rows.iter().find(|r| r.0 == *k).map(|r| r.1).unwrap_or(0),
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    fn input(kind: &str, months: Option<i64>) -> DisciplineInput {
        DisciplineInput {
            kind: kind.into(),
            decided_on: Some(d(2026, 3, 10)),
            months,
            deciding_body: "中共城关镇纪律检查委员会".into(),
            document_no: "城纪发〔2026〕3号".into(),
            reason: "违反组织纪律".into(),
        }
    }

    #[test]
    fn decisions_are_checked() {
        let today = d(2026, 6, 1);
        let ok = |i: &DisciplineInput| check(i, today);
        assert_eq!(ok(&input("warning", None)).ok().map(|x| x.2), Some(None));
        // 留党察看: one year or two, ending on the day the months have passed
        assert_eq!(
            ok(&input("probation", Some(12))).ok().map(|x| x.2),
            Some(Some(d(2027, 3, 10)))
        );
        assert_eq!(
            ok(&input("probation", Some(24))).ok().map(|x| x.2),
            Some(Some(d(2028, 3, 10)))
        );
        let field = |r: Result<_, AppError>| match r {
            Err(AppError::Validation(v)) => v[0].field.clone(),
            other => format!("{other:?}"),
        };
        for months in [None, Some(6), Some(18), Some(36)] {
            assert_eq!(
                field(ok(&input("probation", months))),
                "months",
                "{months:?}"
            );
        }
        assert_eq!(field(ok(&input("warning", Some(12)))), "months");
        assert_eq!(field(ok(&input("reprimand", None))), "kind");
        let mut late = input("warning", None);
        late.decided_on = Some(d(2026, 6, 2));
        assert_eq!(field(ok(&late)), "decided_on");
        let mut nodoc = input("expulsion", None);
        nodoc.document_no = " ".into();
        assert_eq!(field(ok(&nodoc)), "document_no");
    }
}
