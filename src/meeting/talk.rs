//! 谈心谈话 as stored: a talk between two members of a branch, its category from the committee
//! roster on record (or stated where the branch has none), and a year's coverage of the three
//! categories against the rule.

use super::{talk_category, talk_gaps, TALK_CATEGORIES};
use crate::audit::{self, NewEntry};
use crate::auth::{Perm, Principal};
use crate::db::{DbResult, DbRow};
use crate::error::{AppError, AppResult};
use crate::{on_db, on_tx, Ctx};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// A talk as logged.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct NewTalk {
    /// The branch.
    pub org_id: i64,
    pub held_on: Option<NaiveDate>,
    /// The two members (of the branch) who talked.
    pub a_member_id: i64,
    pub b_member_id: i64,
    /// `committee`, `mixed` or `members`: only where the branch has no committee roster on
    /// record (otherwise taken from it).
    pub category: String,
    /// What was talked about, in brief.
    pub topic: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Talk {
    pub id: i64,
    pub held_on: NaiveDate,
    pub a_name: String,
    pub b_name: String,
    pub category: String,
    pub category_label: String,
    pub topic: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TalkCoverage {
    pub category: String,
    pub label: String,
    pub count: i64,
    /// Covered as often as the rule asks.
    pub covered: bool,
}

/// A branch's talks of a year and how they cover the categories.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Talks {
    pub org_id: i64,
    pub year: i32,
    pub per_category: i64,
    pub coverage: Vec<TalkCoverage>,
    /// Whether the category comes from the committee roster (else it is stated).
    pub roster_on_record: bool,
    pub talks: Vec<Talk>,
}

async fn branch(ctx: &Ctx, p: &Principal, org_id: i64, perm: Perm) -> AppResult<crate::org::Org> {
    super::store::branch_of(ctx, p, org_id, perm, "talk.not_a_branch", "").await
}

async fn committee_ids(ctx: &Ctx, org_id: i64) -> AppResult<Vec<i64>> {
    Ok(on_db!(&ctx.db, x => {
        sqlx::query("SELECT member_id FROM org_committee WHERE org_id = $1").bind(org_id).fetch_all(x).await?
            .iter().map(|r| r.i64("member_id")).collect::<DbResult<Vec<_>>>()?
    }))
}

/// Logs a talk: two different members of the branch (full or probationary), a day from the
/// start of last year to today, the topic; the category from the committee roster.
pub async fn log(ctx: &Ctx, p: &Principal, input: &NewTalk) -> AppResult<Talk> {
    let org = branch(ctx, p, input.org_id, Perm::MeetingWrite).await?;
    let today = ctx.clock.today();
    let day = input
        .held_on
        .ok_or_else(|| AppError::field("held_on", "请填写谈话日期"))?;
    let earliest = NaiveDate::from_ymd_opt(today.year() - 1, 1, 1).unwrap_or(today);
    if day > today || day < earliest {
        return Err(AppError::field(
            "held_on",
            format!("谈话日期须在{earliest}至今天之间"),
        ));
    }
    if input.a_member_id == input.b_member_id {
        return Err(AppError::field("b_member_id", "谈话双方须为两名不同的党员"));
    }
    let topic = super::clean(&input.topic);
    if !(2..=500).contains(&topic.chars().count()) {
        return Err(AppError::field("topic", "请填写谈话内容（2至500字）"));
    }
    let names = on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT id, name FROM members WHERE org_id = $1 AND status IN ('full', 'probationary') AND id IN ($2, $3)")
            .bind(org.id).bind(input.a_member_id).bind(input.b_member_id).fetch_all(x).await?;
        rows.iter().map(|r| Ok((r.i64("id")?, r.string("name")?))).collect::<DbResult<Vec<_>>>()?
    });
    let name = |id: i64| names.iter().find(|(m, _)| *m == id).map(|(_, n)| n.clone());
    let (Some(a_name), Some(b_name)) = (name(input.a_member_id), name(input.b_member_id)) else {
        return Err(AppError::field("a_member_id", "谈话双方须为本支部党员"));
    };
    let roster = committee_ids(ctx, org.id).await?;
    let category = if roster.is_empty() {
        if !TALK_CATEGORIES.iter().any(|c| c.0 == input.category) {
            return Err(AppError::field(
                "category",
                "本支部尚无经批复的委员名单，请选择谈话类别",
            ));
        }
        input.category.clone()
    } else {
        talk_category(
            roster.contains(&input.a_member_id),
            roster.contains(&input.b_member_id),
        )
        .to_string()
    };
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let id = on_tx!(&mut tx, x => {
        sqlx::query("INSERT INTO talks (org_id, held_on, a_member_id, a_name, b_member_id, b_name, category, topic, recorded_by, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id")
            .bind(org.id).bind(day).bind(input.a_member_id).bind(&a_name).bind(input.b_member_id).bind(&b_name)
            .bind(&category).bind(&topic).bind(p.account_id).bind(now)
            .fetch_one(&mut *x).await?.i64("id")?
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "meeting.talk",
            object_type: "talk",
            object_id: id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"org_id": org.id, "held_on": day, "members": [input.a_member_id, input.b_member_id], "category": category}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Talk {
        id,
        held_on: day,
        a_name,
        b_name,
        category_label: crate::rules::label(&TALK_CATEGORIES, &category).to_string(),
        category,
        topic,
    })
}

/// A branch's talks of `year` and their coverage.
pub async fn year(ctx: &Ctx, p: &Principal, org_id: i64, year: i32) -> AppResult<Talks> {
    let org = branch(ctx, p, org_id, Perm::MeetingRead).await?;
    let rules = super::store::rules_at(ctx, &org.path).await?;
    let from =
        NaiveDate::from_ymd_opt(year, 1, 1).ok_or_else(|| AppError::field("year", "年份有误"))?;
    let to = NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or(from);
    let talks = on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT id, held_on, a_name, b_name, category, topic FROM talks WHERE org_id = $1 AND held_on >= $2 AND held_on <= $3 ORDER BY held_on DESC, id DESC")
            .bind(org.id).bind(from).bind(to).fetch_all(x).await?;
        rows.iter().map(|r| {
            let category = r.string("category")?;
            Ok(Talk { id: r.i64("id")?, held_on: r.date("held_on")?, a_name: r.string("a_name")?, b_name: r.string("b_name")?,
                category_label: crate::rules::label(&TALK_CATEGORIES, &category).to_string(), category, topic: r.string("topic")? })
        }).collect::<DbResult<Vec<_>>>()?
    });
    let counts: Vec<(&str, i64)> = TALK_CATEGORIES
        .iter()
        .map(|(c, _)| (*c, talks.iter().filter(|t| t.category == *c).count() as i64))
        .collect();
    let gaps = talk_gaps(&counts, &rules);
    Ok(Talks {
        org_id: org.id,
        year,
        per_category: rules.talks_per_category_year,
        coverage: TALK_CATEGORIES
            .iter()
            .zip(&counts)
            .map(|((c, label), (_, n))| TalkCoverage {
                category: c.to_string(),
                label: label.to_string(),
                count: *n,
                covered: !gaps.contains(c),
            })
            .collect(),
        roster_on_record: !committee_ids(ctx, org.id).await?.is_empty(),
        talks,
    })
}
