//! Meetings as stored: planning (one sitting, or the year's plan from the rules), notifying
//! (the roll's snapshot and the sign-in code), signing in (members by code on their phones,
//! observers by name and code without an account), leave, the record filed and locked with
//! its quorum and votes counted from the roll, addenda, a branch's year, a subtree's
//! compliance, and the obligations' generator the scheduler runs.

use super::{MeetingRules, Roll, Vote, ATTENDANCE, KINDS, OBSERVERS, STATUSES};
use crate::audit::{self, Actor, NewEntry};
use crate::auth::{Perm, Principal};
use crate::db::{path_upper, DbResult, DbRow, Tx};
use crate::error::{AppError, AppResult, Checks};
use crate::obligation::{self, NewObligation};
use crate::org::Org;
use crate::{on_db, on_tx, Ctx};
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// The rules in force at `path`.
pub async fn rules_at(ctx: &Ctx, path: &str) -> AppResult<MeetingRules> {
    Ok(crate::rules::effective::<MeetingRules>(&ctx.db, path)
        .await?
        .0)
}

/// A sitting as planned or changed before it is filed.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct NewMeeting {
    /// The branch or 党小组 holding it.
    pub org_id: i64,
    /// What it counts as (`assembly`, `committee`, `group`, `lecture`, `theme_day`, `life`,
    /// `appraisal`); one sitting may be several.
    pub kinds: Vec<String>,
    pub title: String,
    #[schema(value_type = String, format = Date)]
    pub held_on: Option<NaiveDate>,
    /// Local time, HH:MM.
    pub starts: String,
    pub ends: String,
    pub place: String,
    pub agenda: String,
    /// Who is expected (members of the branch); empty: the whole roll (the branch's members,
    /// or the group's). A 支委会 names the committee members.
    pub invitees: Vec<i64>,
}

/// One member on the roll.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = MeetingAttendee)]
pub struct Attendee {
    pub member_id: i64,
    pub name: String,
    /// A full member with voting rights on the day.
    pub voting: bool,
    pub status: String,
    pub status_label: String,
    pub reason: String,
    pub signed_at: Option<DateTime<Utc>>,
    /// code (their phone) or roll (marked by the recorder)
    pub via: String,
    /// 补学: the day an absent member made the sitting up, and what they studied.
    #[schema(value_type = Option<String>, format = Date)]
    pub makeup_on: Option<NaiveDate>,
    pub makeup_note: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = MeetingObserver)]
pub struct Observer {
    pub id: i64,
    pub name: String,
    pub unit: String,
    pub category: String,
    pub category_label: String,
    pub note: String,
    pub signed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = MeetingAddendum)]
pub struct Addendum {
    pub body: String,
    pub author: String,
    pub created_at: DateTime<Utc>,
}

/// A decision of the sitting, to be carried out.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(default)]
#[schema(as = MeetingDecision)]
pub struct Decision {
    pub text: String,
    pub owner: String,
    #[schema(value_type = Option<String>, format = Date)]
    pub deadline: Option<NaiveDate>,
    /// 落实: when it was carried out (read only; recorded after filing).
    #[serde(skip_deserializing)]
    #[schema(value_type = Option<String>, format = Date, read_only)]
    pub done_on: Option<NaiveDate>,
    #[serde(skip_deserializing)]
    #[schema(read_only)]
    pub done_note: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Meeting {
    pub id: i64,
    pub org_id: i64,
    pub org_name: String,
    pub kinds: Vec<String>,
    pub kinds_label: String,
    pub title: String,
    pub held_on: NaiveDate,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub place: String,
    pub agenda: String,
    pub status: String,
    pub status_label: String,
    /// The sign-in code, for those who run the sitting only (never to members).
    pub sign_code: Option<String>,
    pub host: String,
    pub recorder: String,
    pub lecturer: String,
    pub summary: String,
    pub decisions: Vec<Decision>,
    pub votes: Vec<Vote>,
    pub roll: Roll,
    pub attendance: Vec<Attendee>,
    pub observers: Vec<Observer>,
    pub addenda: Vec<Addendum>,
    pub notified_at: Option<DateTime<Utc>>,
    pub filed_at: Option<DateTime<Utc>>,
    pub signer: String,
    pub cancel_reason: String,
    /// Minutes nearly identical to this filed record of another branch (shown to the levels
    /// above only), and how alike, per mille.
    pub similar_to: Option<i64>,
    pub similar_permille: i64,
    pub version: i64,
    #[serde(skip)]
    pub org_path: String,
}

fn label(table: &[(&'static str, &'static str)], k: &str) -> String {
    crate::rules::label(table, k).to_string()
}

fn parse<T: serde::de::DeserializeOwned + Default>(s: &str) -> T {
    serde_json::from_str(s).unwrap_or_default()
}

const COLUMNS: &str = "m.id, m.org_id, o.name AS org_name, o.path AS org_path, m.kinds, m.title, m.held_on, m.starts_at, m.ends_at, m.place, m.agenda, m.status, \
    m.sign_code, m.host, m.recorder, m.lecturer, m.summary, m.decisions_json, m.votes_json, m.expected, m.present, m.voting_expected, m.voting_present, \
    m.notified_at, m.filed_at, m.signer, m.cancel_reason, m.version, m.similar_to, m.similar_permille";

fn meeting_of(r: &impl DbRow) -> DbResult<Meeting> {
    let kinds = super::parse_kinds(&r.string("kinds")?);
    let status = r.string("status")?;
    Ok(Meeting {
        id: r.i64("id")?,
        org_id: r.i64("org_id")?,
        org_name: r.string("org_name")?,
        org_path: r.string("org_path")?,
        kinds_label: super::kinds_label(&kinds),
        kinds,
        title: r.string("title")?,
        held_on: r.date("held_on")?,
        starts_at: r.ts("starts_at")?,
        ends_at: r.ts("ends_at")?,
        place: r.string("place")?,
        agenda: r.string("agenda")?,
        status_label: label(&STATUSES, &status),
        status,
        sign_code: r.opt_string("sign_code")?,
        host: r.string("host")?,
        recorder: r.string("recorder")?,
        lecturer: r.string("lecturer")?,
        summary: r.string("summary")?,
        decisions: parse(&r.string("decisions_json")?),
        votes: parse(&r.string("votes_json")?),
        roll: Roll {
            expected: r.i64("expected")?,
            present: r.i64("present")?,
            voting_expected: r.i64("voting_expected")?,
            voting_present: r.i64("voting_present")?,
        },
        attendance: Vec::new(),
        observers: Vec::new(),
        addenda: Vec::new(),
        notified_at: r.opt_ts("notified_at")?,
        filed_at: r.opt_ts("filed_at")?,
        signer: r.string("signer")?,
        cancel_reason: r.string("cancel_reason")?,
        similar_to: r.opt_i64("similar_to")?,
        similar_permille: r.i64("similar_permille")?,
        version: r.i64("version")?,
    })
}

/// The sitting with its roll, observers and addenda (as stored; no authorisation).
pub async fn load(ctx: &Ctx, id: i64) -> AppResult<Meeting> {
    let sql =
        format!("SELECT {COLUMNS} FROM meetings m JOIN orgs o ON o.id = m.org_id WHERE m.id = $1");
    let mut m = on_db!(&ctx.db, x => {
        match sqlx::query(&sql).bind(id).fetch_optional(x).await? {
            Some(r) => meeting_of(&r)?,
            None => return Err(AppError::NotFound("会议")),
        }
    });
    on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT a.member_id, a.name, a.voting, a.status, a.reason, a.signed_at, a.via, k.done_on AS makeup_on, k.note AS makeup_note \
                                FROM meeting_attendance a LEFT JOIN meeting_makeups k ON k.meeting_id = a.meeting_id AND k.member_id = a.member_id \
                                WHERE a.meeting_id = $1 ORDER BY a.voting DESC, a.member_id")
            .bind(id).fetch_all(x).await?;
        for r in rows {
            let status = r.string("status")?;
            m.attendance.push(Attendee {
                member_id: r.i64("member_id")?,
                name: r.string("name")?,
                voting: r.bool("voting")?,
                status_label: label(&ATTENDANCE, &status),
                status,
                reason: r.string("reason")?,
                signed_at: r.opt_ts("signed_at")?,
                via: r.string("via")?,
                makeup_on: r.opt_date("makeup_on")?,
                makeup_note: r.opt_string("makeup_note")?,
            });
        }
        let rows = sqlx::query("SELECT id, name, unit, category, note, signed_at FROM meeting_observers WHERE meeting_id = $1 ORDER BY id")
            .bind(id).fetch_all(x).await?;
        for r in rows {
            let category = r.string("category")?;
            m.observers.push(Observer {
                id: r.i64("id")?,
                name: r.string("name")?,
                unit: r.string("unit")?,
                category_label: label(&OBSERVERS, &category),
                category,
                note: r.string("note")?,
                signed_at: r.ts("signed_at")?,
            });
        }
        let rows = sqlx::query("SELECT body, author, created_at FROM meeting_addenda WHERE meeting_id = $1 ORDER BY id")
            .bind(id).fetch_all(x).await?;
        for r in rows {
            m.addenda.push(Addendum { body: r.string("body")?, author: r.string("author")?, created_at: r.ts("created_at")? });
        }
        let rows = sqlx::query("SELECT seq, done_on, note FROM meeting_decisions_done WHERE meeting_id = $1")
            .bind(id).fetch_all(x).await?;
        for r in rows {
            if let Some(d) = usize::try_from(r.i64("seq")?).ok().and_then(|i| m.decisions.get_mut(i)) {
                d.done_on = Some(r.date("done_on")?);
                d.done_note = r.string("note")?;
            }
        }
    });
    Ok(m)
}

/// Runs the sitting: meeting rights over its organisation.
fn manages(p: &Principal, m: &Meeting) -> bool {
    p.can(Perm::MeetingWrite) && p.in_scope(&m.org_path)
}

/// `p` reads for a level above the organisation at `path` (its parent is in `p`'s subtree).
pub fn above(p: &Principal, path: &str) -> bool {
    let trimmed = path.trim_end_matches('/');
    let parent = match trimmed.rfind('/') {
        Some(i) => &trimmed[..=i],
        None => return false,
    };
    parent.len() > 1 && p.can(Perm::MeetingRead) && p.in_scope(parent)
}

/// The filed record of another branch nearby (the same grandparent's subtree, the last 400
/// days) whose minutes are most like `summary`, when alike enough by the rules.
async fn most_alike(
    ctx: &Ctx,
    m: &Meeting,
    summary: &str,
    rules: &MeetingRules,
) -> AppResult<Option<(i64, i64)>> {
    if super::text_chars(summary) < rules.minutes_min_chars {
        return Ok(None);
    }
    let ids = crate::org::path_ids(&m.org_path);
    let scope = if ids.len() > 2 {
        ids[..ids.len() - 2]
            .iter()
            .fold("/".to_string(), |acc, i| format!("{acc}{i}/"))
    } else {
        m.org_path.clone()
    };
    let rows = on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT x.id, x.summary FROM meetings x JOIN orgs o ON o.id = x.org_id \
                                WHERE o.path >= $1 AND o.path < $2 AND x.org_id <> $3 AND x.status = 'filed' AND x.held_on >= $4 ORDER BY x.held_on DESC LIMIT 2000")
            .bind(&scope).bind(path_upper(&scope)).bind(m.org_id).bind(m.held_on - Duration::days(400)).fetch_all(x).await?;
        rows.iter().map(|r| Ok((r.i64("id")?, r.string("summary")?))).collect::<DbResult<Vec<_>>>()?
    });
    Ok(rows
        .iter()
        .filter(|(_, s)| super::text_chars(s) >= rules.minutes_min_chars)
        .map(|(id, s)| (*id, super::similarity_permille(summary, s)))
        .filter(|(_, v)| *v >= rules.minutes_similar_permille)
        .max_by_key(|(id, v)| (*v, *id)))
}

/// The sitting as `p` may read it: those with meeting rights over its organisation, and the
/// members on its roll (without the sign-in code). Anyone else: not found.
pub async fn open(ctx: &Ctx, p: &Principal, id: i64) -> AppResult<Meeting> {
    let mut m = load(ctx, id).await?;
    let staff = p.can(Perm::MeetingRead) && p.in_scope(&m.org_path);
    let on_roll = p
        .member_id
        .is_some_and(|me| m.attendance.iter().any(|a| a.member_id == me));
    if !staff && !on_roll {
        return Err(AppError::NotFound("会议"));
    }
    if !manages(p, &m) {
        m.sign_code = None;
    }
    if !above(p, &m.org_path) {
        m.similar_to = None;
        m.similar_permille = 0;
    }
    Ok(m)
}

/// The organisation a sitting is held by: a branch or a 党小组 inside `p`'s subtree.
async fn holder_org(ctx: &Ctx, p: &Principal, org_id: i64) -> AppResult<Org> {
    let org = scoped_org(ctx, p, org_id, Perm::MeetingWrite).await?;
    if !org.kind.holds_members() && org.kind != crate::org::OrgKind::Group {
        return Err(AppError::refused(
            "meeting.not_a_branch",
            format!("“{}”不是党支部或党小组，不能召开支部组织生活会议", org.name),
        ));
    }
    Ok(org)
}

/// An organisation in `p`'s subtree (else not found) on which `p` holds `perm`.
async fn scoped_org(ctx: &Ctx, p: &Principal, org_id: i64, perm: Perm) -> AppResult<Org> {
    let org = crate::org::store::find(&ctx.db, org_id)
        .await?
        .filter(|o| p.in_scope(&o.path))
        .ok_or(AppError::NotFound("党组织"))?;
    p.authorize(perm, Some(&org.path))?;
    Ok(org)
}

/// The branch (not a 党小组) on which `p` holds `perm`, for the branch-only parts of
/// organisational life (elections, talks, 民主评议); another kind is refused with `code`,
/// the message saying why after the organisation's name.
pub async fn branch_of(
    ctx: &Ctx,
    p: &Principal,
    org_id: i64,
    perm: Perm,
    code: &'static str,
    why: &str,
) -> AppResult<Org> {
    let org = scoped_org(ctx, p, org_id, perm).await?;
    if !org.kind.holds_members() {
        return Err(AppError::refused(
            code,
            format!("“{}”不是党支部{why}", org.name),
        ));
    }
    Ok(org)
}

impl Meeting {
    /// The sitting's roll as its attendance stands: expected and present, all and voting.
    pub fn roll_now(&self) -> Roll {
        let count =
            |f: &dyn Fn(&Attendee) -> bool| self.attendance.iter().filter(|a| f(a)).count() as i64;
        Roll {
            expected: self.attendance.len() as i64,
            present: count(&|a| a.status == "present"),
            voting_expected: count(&|a| a.voting),
            voting_present: count(&|a| a.voting && a.status == "present"),
        }
    }
}

fn hhmm(s: &str, field: &str, default: &str) -> AppResult<NaiveTime> {
    let s = if s.trim().is_empty() {
        default
    } else {
        s.trim()
    };
    NaiveTime::parse_from_str(s, "%H:%M")
        .map_err(|_| AppError::field(field, "时间格式应为 时:分，如 09:00"))
}

/// A plan as checked and cleaned.
struct Checked {
    kinds: Vec<String>,
    title: String,
    day: NaiveDate,
    starts: DateTime<Utc>,
    ends: DateTime<Utc>,
    place: String,
    agenda: String,
}

/// Checks and cleans what a plan or a change says.
fn checked(input: &NewMeeting, org: &Org, zone: &crate::clock::Zone) -> AppResult<Checked> {
    let mut c = Checks::default();
    let kinds: Vec<String> = KINDS
        .iter()
        .filter(|k| input.kinds.iter().any(|x| x == k.0))
        .map(|k| k.0.to_string())
        .collect();
    if kinds.is_empty() || kinds.len() != input.kinds.iter().collect::<HashSet<_>>().len() {
        c.add("kinds", "请选择会议类别（可多选）");
    }
    let group = org.kind == crate::org::OrgKind::Group;
    if group && kinds.iter().any(|k| k != "group" && k != "lecture") {
        c.add("kinds", "党小组只能召开党小组会（可结合上党课）");
    }
    if !group && kinds.iter().any(|k| k == "group") {
        c.add("kinds", "党小组会由党小组召开，请在党小组下安排");
    }
    let title = super::clean(&input.title);
    if title.chars().count() > super::MAX_SHORT {
        c.add("title", format!("会议名称不超过{}字", super::MAX_SHORT));
    }
    let place = super::clean(&input.place);
    if place.chars().count() > super::MAX_SHORT {
        c.add("place", format!("会议地点不超过{}字", super::MAX_SHORT));
    }
    let agenda = super::clean(&input.agenda);
    if agenda.chars().count() > super::MAX_TEXT {
        c.add("agenda", format!("会议议程不超过{}字", super::MAX_TEXT));
    }
    let held_on = match input.held_on {
        Some(d) if crate::work_log::in_range(d) => Some(d),
        Some(_) => {
            c.add("held_on", "日期超出范围（2000年至2100年）");
            None
        }
        None => {
            c.add("held_on", "请填写会议日期");
            None
        }
    };
    let starts = hhmm(&input.starts, "starts", "09:00");
    let ends = hhmm(&input.ends, "ends", "11:00");
    if let Err(AppError::Validation(e)) = &starts {
        c.0.extend(e.iter().cloned());
    }
    if let Err(AppError::Validation(e)) = &ends {
        c.0.extend(e.iter().cloned());
    }
    if let (Ok(s), Ok(e)) = (&starts, &ends) {
        if e <= s {
            c.add("ends", "结束时间须晚于开始时间");
        }
    }
    c.finish()?;
    let (Some(day), Ok(s), Ok(e)) = (held_on, starts, ends) else {
        return Err(AppError::field("held_on", "请填写会议日期"));
    };
    let title = if title.is_empty() {
        format!("{}{}", day.format("%-m月%-d日"), super::kinds_label(&kinds))
    } else {
        title
    };
    Ok(Checked {
        kinds,
        title,
        day,
        starts: zone.instant(day.and_time(s)),
        ends: zone.instant(day.and_time(e)),
        place,
        agenda,
    })
}

/// Plans one sitting (status `planned`).
pub async fn create(ctx: &Ctx, p: &Principal, input: &NewMeeting) -> AppResult<Meeting> {
    let org = holder_org(ctx, p, input.org_id).await?;
    let Checked {
        kinds,
        title,
        day,
        starts,
        ends,
        place,
        agenda,
    } = checked(input, &org, &ctx.clock.zone())?;
    let invitees = checked_invitees(ctx, &org, &kinds, &input.invitees).await?;
    let mut tx = ctx.db.begin().await?;
    let id = insert(
        &mut tx,
        p.account_id,
        org.id,
        &kinds,
        &title,
        day,
        starts,
        ends,
        &place,
        &agenda,
        &invitees,
    )
    .await?;
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "meeting.create",
            object_type: "meeting",
            object_id: id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"org_id": org.id, "kinds": kinds, "title": title, "held_on": day, "place": place, "invitees": invitees}),
        },
    )
    .await?;
    tx.commit().await?;
    open(ctx, p, id).await
}

/// Changes a sitting not yet filed: its day, times, place, title and agenda; its kinds and
/// invitees only while the roll is not yet taken (a notified sitting is notified again to
/// change them). The organisation stays.
pub async fn update(ctx: &Ctx, p: &Principal, id: i64, input: &NewMeeting) -> AppResult<Meeting> {
    let m = for_change(ctx, p, id).await?;
    let org = crate::org::store::get(&ctx.db, m.org_id).await?;
    let Checked {
        kinds,
        title,
        day,
        starts,
        ends,
        place,
        agenda,
    } = checked(input, &org, &ctx.clock.zone())?;
    if m.status == "notified" && kinds != m.kinds {
        return Err(AppError::field(
            "kinds",
            "已发出通知的会议不能更改类别；请取消后重新安排",
        ));
    }
    let invitees = if m.status == "planned" {
        checked_invitees(ctx, &org, &kinds, &input.invitees).await?
    } else {
        Vec::new()
    };
    let mut tx = ctx.db.begin().await?;
    let n = on_tx!(&mut tx, x => {
        sqlx::query("UPDATE meetings SET kinds = $1, title = $2, held_on = $3, starts_at = $4, ends_at = $5, place = $6, agenda = $7, \
                     invitees_json = CASE WHEN status = 'planned' THEN $8 ELSE invitees_json END, version = version + 1 \
                     WHERE id = $9 AND version = $10 AND status IN ('planned', 'notified')")
            .bind(kinds.join(",")).bind(&title).bind(day).bind(starts).bind(ends).bind(&place).bind(&agenda)
            .bind(serde_json::to_string(&invitees).unwrap_or_else(|_| "[]".into())).bind(id).bind(m.version)
            .execute(&mut *x).await?.rows_affected()
    });
    bump(n)?;
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "meeting.update",
            object_type: "meeting",
            object_id: id.to_string(),
            before: serde_json::json!({"kinds": m.kinds, "title": m.title, "held_on": m.held_on, "starts_at": m.starts_at, "place": m.place}),
            after: serde_json::json!({"kinds": kinds, "title": title, "held_on": day, "starts_at": starts, "place": place, "invitees": invitees}),
        },
    )
    .await?;
    tx.commit().await?;
    open(ctx, p, id).await
}

/// The invitees named, checked to be on the organisation's roll; a 支委会 alone must name them.
async fn checked_invitees(
    ctx: &Ctx,
    org: &Org,
    kinds: &[String],
    given: &[i64],
) -> AppResult<Vec<i64>> {
    let only_committee = kinds.iter().all(|k| k == "committee");
    if given.is_empty() {
        if only_committee {
            return Err(AppError::field("invitees", "支委会请勾选参会的支部委员"));
        }
        return Ok(Vec::new());
    }
    if given.len() > 500 {
        return Err(AppError::field("invitees", "参会人员最多500人"));
    }
    let roll: HashSet<i64> = roster(ctx, org).await?.into_iter().map(|r| r.0).collect();
    if let Some(x) = given.iter().find(|m| !roll.contains(m)) {
        return Err(AppError::field(
            "invitees",
            format!("党员（编号{x}）不在{}的党员名册中", org.name),
        ));
    }
    if only_committee && org.committee_size > 0 && given.len() as i64 > org.committee_size {
        return Err(AppError::refused(
            "meeting.too_many_committee_members",
            format!(
                "支部委员会共{}人，勾选了{}人",
                org.committee_size,
                given.len()
            ),
        ));
    }
    let mut v = given.to_vec();
    v.sort_unstable();
    v.dedup();
    Ok(v)
}

#[allow(clippy::too_many_arguments)]
async fn insert(
    tx: &mut Tx,
    by: i64,
    org_id: i64,
    kinds: &[String],
    title: &str,
    day: NaiveDate,
    starts: DateTime<Utc>,
    ends: DateTime<Utc>,
    place: &str,
    agenda: &str,
    invitees: &[i64],
) -> AppResult<i64> {
    let now = tx.now;
    let inv = serde_json::to_string(invitees).unwrap_or_else(|_| "[]".into());
    Ok(on_tx!(tx, x => {
        sqlx::query("INSERT INTO meetings (org_id, kinds, title, held_on, starts_at, ends_at, place, agenda, status, invitees_json, created_by, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'planned', $9, $10, $11) RETURNING id")
            .bind(org_id).bind(kinds.join(",")).bind(title).bind(day).bind(starts).bind(ends).bind(place).bind(agenda)
            .bind(inv).bind(by).bind(now)
            .fetch_one(&mut *x).await?.i64("id")?
    }))
}

/// The invitees a planned sitting names (empty: the whole roll).
pub async fn invitees_of(ctx: &Ctx, id: i64) -> AppResult<Vec<i64>> {
    let raw = on_db!(&ctx.db, x => {
        sqlx::query("SELECT invitees_json FROM meetings WHERE id = $1").bind(id).fetch_one(x).await?.string("invitees_json")?
    });
    Ok(serde_json::from_str(&raw).unwrap_or_default())
}

/// The members on an organisation's roll: (id, name, voting today).
async fn roster(ctx: &Ctx, org: &Org) -> AppResult<Vec<(i64, String, bool)>> {
    let today = ctx.clock.today();
    let col = if org.kind == crate::org::OrgKind::Group {
        "group_id"
    } else {
        "org_id"
    };
    let sql = format!(
        "SELECT m.id, m.name, m.status, CAST(CASE WHEN {} THEN 1 ELSE 0 END AS BIGINT) AS suspended FROM members m \
         WHERE m.{col} = $1 AND m.status IN ('full', 'probationary') ORDER BY m.id",
        crate::member::discipline::suspended_sql("m", "$2")
    );
    Ok(on_db!(&ctx.db, x => {
        let rows = sqlx::query(&sql).bind(org.id).bind(today).fetch_all(x).await?;
        rows.iter().map(|r| Ok((r.i64("id")?, r.string("name")?, r.string("status")? == "full" && r.i64("suspended")? == 0)))
            .collect::<DbResult<Vec<_>>>()?
    }))
}

/// The sitting, when `p` manages it (meeting rights over its organisation); else not found
/// (outside the subtree) or forbidden.
async fn managed(ctx: &Ctx, p: &Principal, id: i64) -> AppResult<Meeting> {
    let m = load(ctx, id).await?;
    if !p.in_scope(&m.org_path) {
        return Err(AppError::NotFound("会议"));
    }
    p.authorize(Perm::MeetingWrite, Some(&m.org_path))?;
    Ok(m)
}

/// The head of a sitting for a change: it must be `p`'s to manage and not yet filed.
async fn for_change(ctx: &Ctx, p: &Principal, id: i64) -> AppResult<Meeting> {
    let m = managed(ctx, p, id).await?;
    match m.status.as_str() {
        "filed" => Err(AppError::refused(
            "meeting.filed",
            "会议记录已签字归档，不能修改；如需更正请添加补充说明",
        )),
        "cancelled" => Err(AppError::refused("meeting.cancelled", "会议已取消")),
        _ => Ok(m),
    }
}

fn bump(n: u64) -> AppResult<()> {
    if n == 1 {
        Ok(())
    } else {
        Err(AppError::Conflict("该会议刚被修改，请刷新后重试".into()))
    }
}

/// A six-digit code no sitting being signed into holds.
async fn fresh_code(tx: &mut Tx) -> AppResult<String> {
    for _ in 0..20 {
        let code = format!("{:06}", rand::random::<u32>() % 1_000_000);
        let taken = on_tx!(tx, x => {
            sqlx::query("SELECT 1 AS one FROM meetings WHERE sign_code = $1").bind(&code).fetch_optional(&mut *x).await?.is_some()
        });
        if !taken {
            return Ok(code);
        }
    }
    Err(AppError::Internal("no free sign-in code".into()))
}

/// Notifies the sitting: the roll's snapshot (the invitees, else the organisation's members;
/// voting = full members not under 留党察看 today) and its sign-in code. The members find it
/// on 工作台. A sitting already notified is notified again only to take a new snapshot
/// before anyone signed in.
pub async fn notify(ctx: &Ctx, p: &Principal, id: i64) -> AppResult<Meeting> {
    let m = for_change(ctx, p, id).await?;
    if m.attendance.iter().any(|a| a.status != "expected") {
        return Err(AppError::refused(
            "meeting.roll_started",
            "已有党员签到或请假，不能重新生成参会名单",
        ));
    }
    let org = crate::org::store::get(&ctx.db, m.org_id).await?;
    let raw = on_db!(&ctx.db, x => {
        sqlx::query("SELECT invitees_json FROM meetings WHERE id = $1").bind(id).fetch_one(x).await?.string("invitees_json")?
    });
    let invitees: Vec<i64> = serde_json::from_str(&raw).unwrap_or_default();
    let mut roll = roster(ctx, &org).await?;
    if !invitees.is_empty() {
        roll.retain(|r| invitees.contains(&r.0));
    }
    if roll.is_empty() {
        return Err(AppError::refused(
            "meeting.empty_roll",
            format!("{}没有在册党员，无法通知参会", org.name),
        ));
    }
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let code = match &m.sign_code {
        Some(c) => c.clone(),
        None => fresh_code(&mut tx).await?,
    };
    let n = on_tx!(&mut tx, x => {
        sqlx::query("DELETE FROM meeting_attendance WHERE meeting_id = $1").bind(id).execute(&mut *x).await?;
        for chunk in roll.chunks(200) {
            let mut q = sqlx::QueryBuilder::new("INSERT INTO meeting_attendance (meeting_id, member_id, name, voting, status) ");
            q.push_values(chunk, |mut b, r| {
                b.push_bind(id).push_bind(r.0).push_bind(&r.1).push_bind(r.2).push_bind("expected");
            });
            q.build().execute(&mut *x).await?;
        }
        sqlx::query("UPDATE meetings SET status = 'notified', sign_code = $1, notified_at = $2, expected = $3, voting_expected = $4, version = version + 1 WHERE id = $5 AND version = $6")
            .bind(&code).bind(now).bind(roll.len() as i64).bind(roll.iter().filter(|r| r.2).count() as i64).bind(id).bind(m.version)
            .execute(&mut *x).await?.rows_affected()
    });
    bump(n)?;
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "meeting.notify",
            object_type: "meeting",
            object_id: id.to_string(),
            before: serde_json::json!({"status": m.status}),
            after: serde_json::json!({"status": "notified", "expected": roll.len(), "roll": roll.iter().map(|r| r.0).collect::<Vec<_>>()}),
        },
    )
    .await?;
    tx.commit().await?;
    open(ctx, p, id).await
}

/// Cancels a sitting not yet filed, with the reason.
pub async fn cancel(ctx: &Ctx, p: &Principal, id: i64, reason: &str) -> AppResult<Meeting> {
    let m = for_change(ctx, p, id).await?;
    let reason = super::clean(reason);
    if !(1..=500).contains(&reason.chars().count()) {
        return Err(AppError::field("reason", "请填写取消原因（500字以内）"));
    }
    // a sitting a 民主评议 was decided at stays on record as held
    let decided_at = on_db!(&ctx.db, x => {
        sqlx::query("SELECT year FROM appraisals WHERE meeting_id = $1 AND status = 'decided'").bind(id).fetch_optional(x).await?
            .map(|r| r.i64("year")).transpose()?
    });
    if let Some(year) = decided_at {
        return Err(AppError::refused(
            "meeting.appraisal_decided",
            format!("本次会议已作出{year}年度民主评议评定，不能取消"),
        ));
    }
    let mut tx = ctx.db.begin().await?;
    let n = on_tx!(&mut tx, x => {
        sqlx::query("UPDATE meetings SET status = 'cancelled', sign_code = NULL, cancel_reason = $1, version = version + 1 WHERE id = $2 AND version = $3")
            .bind(&reason).bind(id).bind(m.version).execute(&mut *x).await?.rows_affected()
    });
    bump(n)?;
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "meeting.cancel",
            object_type: "meeting",
            object_id: id.to_string(),
            before: serde_json::json!({"status": m.status}),
            after: serde_json::json!({"status": "cancelled", "reason": reason}),
        },
    )
    .await?;
    tx.commit().await?;
    open(ctx, p, id).await
}

/// The sitting a code opens, while it may be signed into.
/// The sitting a code opens, whatever the time (the caller checks the window: a member on
/// its roll is told the window, anyone else learns nothing from a real code).
async fn by_code(ctx: &Ctx, code: &str) -> AppResult<(Meeting, MeetingRules)> {
    let code: String = code.chars().filter(|c| c.is_ascii_digit()).collect();
    if code.len() != 6 {
        return Err(AppError::NotFound("签到码"));
    }
    let id = on_db!(&ctx.db, x => {
        sqlx::query("SELECT id FROM meetings WHERE sign_code = $1 AND status = 'notified'").bind(&code).fetch_optional(x).await?
            .map(|r| r.i64("id")).transpose()?
    });
    let m = load(ctx, id.ok_or(AppError::NotFound("签到码"))?).await?;
    let rules = rules_at(ctx, &m.org_path).await?;
    Ok((m, rules))
}

/// Refuses outside the sitting's sign-in window, naming it.
fn in_window(ctx: &Ctx, m: &Meeting, rules: &MeetingRules) -> AppResult<()> {
    if !super::in_sign_window(ctx.clock.now(), m.starts_at, m.ends_at, rules) {
        let zone = ctx.clock.zone();
        return Err(AppError::refused(
            "meeting.sign_closed",
            format!(
                "签到时间为会前{}分钟至会后{}分钟（{}—{}），现在不能签到",
                rules.sign_in_before_minutes,
                rules.sign_in_after_minutes,
                zone.local(m.starts_at - Duration::minutes(rules.sign_in_before_minutes))
                    .format("%m-%d %H:%M"),
                zone.local(m.ends_at + Duration::minutes(rules.sign_in_after_minutes))
                    .format("%m-%d %H:%M"),
            ),
        ));
    }
    Ok(())
}

/// The sitting a code opens for someone not on its roll: only while it may be signed into
/// (a closed window answers as a wrong code does).
async fn open_by_code(ctx: &Ctx, code: &str) -> AppResult<Meeting> {
    let (m, rules) = by_code(ctx, code).await?;
    in_window(ctx, &m, &rules).map_err(|_| AppError::NotFound("签到码"))?;
    Ok(m)
}

/// The public view of the sitting a code opens: what an observer sees before signing in.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Sitting {
    pub id: i64,
    pub org_name: String,
    pub title: String,
    pub kinds_label: String,
    pub starts_at: DateTime<Utc>,
    pub place: String,
}

pub async fn sitting(ctx: &Ctx, code: &str) -> AppResult<Sitting> {
    let m = open_by_code(ctx, code).await?;
    Ok(Sitting {
        id: m.id,
        org_name: m.org_name,
        title: m.title,
        kinds_label: m.kinds_label,
        starts_at: m.starts_at,
        place: m.place,
    })
}

/// A member signs in with the code shown at the sitting: only on its roll, only in its
/// window, only once.
pub async fn sign_in(ctx: &Ctx, p: &Principal, code: &str) -> AppResult<Meeting> {
    let Some(me) = p.member_id else {
        return Err(AppError::refused(
            "meeting.not_a_member",
            "本账号未关联党员信息，不能以党员身份签到；列席人员请在签到页以姓名签到",
        ));
    };
    let (m, rules) = by_code(ctx, code).await?;
    // not on the roll: as a wrong code (a real code of another branch tells nothing)
    let Some(a) = m.attendance.iter().find(|a| a.member_id == me) else {
        return Err(AppError::NotFound("签到码"));
    };
    in_window(ctx, &m, &rules)?;
    if a.status == "present" {
        return Err(AppError::refused(
            "meeting.signed",
            format!(
                "您已于{}签到，无需重复签到",
                ctx.clock
                    .zone()
                    .local(a.signed_at.unwrap_or(m.starts_at))
                    .format("%H:%M")
            ),
        ));
    }
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let n = on_tx!(&mut tx, x => {
        let n = sqlx::query("UPDATE meeting_attendance SET status = 'present', signed_at = $1, via = 'code' WHERE meeting_id = $2 AND member_id = $3 AND status <> 'present'")
            .bind(now).bind(m.id).bind(me).execute(&mut *x).await?.rows_affected();
        // the roll changed: a notice sent again meanwhile, or minutes read before, are stale
        sqlx::query("UPDATE meetings SET version = version + 1 WHERE id = $1 AND status = 'notified'").bind(m.id).execute(&mut *x).await?;
        n
    });
    if n != 1 {
        return Err(AppError::refused(
            "meeting.signed",
            "您已签到，无需重复签到",
        ));
    }
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "meeting.sign_in",
            object_type: "meeting",
            object_id: m.id.to_string(),
            before: serde_json::json!({"attendance": a.status}),
            after: serde_json::json!({"member_id": me, "attendance": "present"}),
        },
    )
    .await?;
    tx.commit().await?;
    open(ctx, p, m.id).await
}

/// What an observer without an account says when signing in.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct ObserverSignIn {
    pub code: String,
    pub name: String,
    pub unit: String,
    /// upper, deputy, villager, other
    pub category: String,
    /// The observation left (may come later, with the same name and code).
    pub note: String,
}

/// An observer signs in by name and code (a second time with the same name only adds the
/// observation).
pub async fn observe(ctx: &Ctx, o: &ObserverSignIn, ip: &str) -> AppResult<Sitting> {
    let m = open_by_code(ctx, &o.code).await?;
    let mut c = Checks::default();
    let name = super::clean(&o.name);
    let unit = super::clean(&o.unit);
    let note = super::clean(&o.note);
    c.check(
        (1..=30).contains(&name.chars().count()),
        "name",
        "请填写姓名（30字以内）",
    );
    c.check(
        unit.chars().count() <= super::MAX_SHORT,
        "unit",
        "单位或身份不超过100字",
    );
    c.check(note.chars().count() <= 1000, "note", "意见建议不超过1000字");
    c.check(
        OBSERVERS.iter().any(|x| x.0 == o.category),
        "category",
        "请选择列席身份",
    );
    c.finish()?;
    if m.observers.len() >= 200 && !m.observers.iter().any(|x| x.name == name) {
        return Err(AppError::refused(
            "meeting.too_many_observers",
            "本次会议列席人员已满200人",
        ));
    }
    let existing = m.observers.iter().find(|x| x.name == name).map(|x| x.id);
    let actor = Actor {
        id: None,
        name: format!("列席人员 {name}"),
        role: format!("observer:{}", o.category),
        org_id: None,
        ip: ip.to_string(),
    };
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let oid = on_tx!(&mut tx, x => {
        match existing {
            Some(oid) => {
                if !note.is_empty() {
                    // added to what was said, never replacing it
                    let before = sqlx::query("SELECT note FROM meeting_observers WHERE id = $1").bind(oid).fetch_one(&mut *x).await?.string("note")?;
                    let joined = if before.is_empty() { note.clone() } else { format!("{before}\n{note}") };
                    if joined.chars().count() > 2000 {
                        return Err(AppError::field("note", "意见建议累计不超过2000字"));
                    }
                    sqlx::query("UPDATE meeting_observers SET note = $1 WHERE id = $2").bind(&joined).bind(oid).execute(&mut *x).await?;
                }
                oid
            }
            None => sqlx::query("INSERT INTO meeting_observers (meeting_id, name, unit, category, note, signed_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
                .bind(m.id).bind(&name).bind(&unit).bind(&o.category).bind(&note).bind(now).fetch_one(&mut *x).await?.i64("id")?,
        }
    });
    audit::append(
        &mut tx,
        &actor,
        NewEntry {
            action: if existing.is_some() { "meeting.observation" } else { "meeting.observer_sign_in" },
            object_type: "meeting",
            object_id: m.id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"observer": oid, "name": name, "unit": unit, "category": o.category, "note": note}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Sitting {
        id: m.id,
        org_name: m.org_name,
        title: m.title,
        kinds_label: m.kinds_label,
        starts_at: m.starts_at,
        place: m.place,
    })
}

/// A member on the roll asks for leave before the sitting starts, with the reason.
pub async fn ask_leave(ctx: &Ctx, p: &Principal, id: i64, reason: &str) -> AppResult<Meeting> {
    let m = open(ctx, p, id).await?;
    let me = p.member_id.ok_or(AppError::NotFound("会议"))?;
    let a = m
        .attendance
        .iter()
        .find(|a| a.member_id == me)
        .ok_or(AppError::NotFound("会议"))?;
    if m.status != "notified" {
        return Err(AppError::refused(
            "meeting.not_open",
            "会议不在通知状态，不能请假",
        ));
    }
    if ctx.clock.now() >= m.starts_at {
        return Err(AppError::refused(
            "meeting.started",
            "会议已开始，不能再请假；请会后向支部书记说明情况",
        ));
    }
    if a.status != "expected" {
        return Err(AppError::refused(
            "meeting.leave_exists",
            format!("您的参会状态已是“{}”", a.status_label),
        ));
    }
    let reason = super::clean(reason);
    if !(2..=200).contains(&reason.chars().count()) {
        return Err(AppError::field("reason", "请填写请假事由（2至200字）"));
    }
    set_attendance(
        ctx,
        &p.actor(),
        &m,
        me,
        "leave_asked",
        &reason,
        "meeting.leave_ask",
    )
    .await?;
    open(ctx, p, id).await
}

/// What the recorder marks for one member: a leave decided, present (signed on the roll,
/// not by phone), absent with the reason.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct Mark {
    pub member_id: i64,
    /// present, leave, absent, or (deciding a leave asked) leave / absent
    pub status: String,
    pub reason: String,
}

pub async fn mark(ctx: &Ctx, p: &Principal, id: i64, mk: &Mark) -> AppResult<Meeting> {
    let m = for_change(ctx, p, id).await?;
    if m.status != "notified" {
        return Err(AppError::refused(
            "meeting.not_notified",
            "会议尚未通知，没有参会名单",
        ));
    }
    let a = m
        .attendance
        .iter()
        .find(|a| a.member_id == mk.member_id)
        .ok_or_else(|| AppError::field("member_id", "该党员不在参会名单中"))?;
    if !["present", "leave", "absent"].contains(&mk.status.as_str()) {
        return Err(AppError::field("status", "请选择出席、请假或缺席"));
    }
    if mk.status == "present" && ctx.clock.now() < m.starts_at - Duration::hours(12) {
        return Err(AppError::refused(
            "meeting.not_started",
            "会议尚未召开，不能登记出席",
        ));
    }
    let reason = super::clean(&mk.reason);
    if reason.chars().count() > 200 {
        return Err(AppError::field("reason", "事由不超过200字"));
    }
    let reason = if reason.is_empty() {
        a.reason.clone()
    } else {
        reason
    };
    set_attendance(
        ctx,
        &p.actor(),
        &m,
        mk.member_id,
        &mk.status,
        &reason,
        "meeting.mark",
    )
    .await?;
    open(ctx, p, id).await
}

async fn set_attendance(
    ctx: &Ctx,
    actor: &Actor,
    m: &Meeting,
    member: i64,
    status: &str,
    reason: &str,
    action: &'static str,
) -> AppResult<()> {
    let before = m
        .attendance
        .iter()
        .find(|a| a.member_id == member)
        .map(|a| a.status.clone());
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let n = on_tx!(&mut tx, x => {
        let n = sqlx::query("UPDATE meeting_attendance SET status = $1, reason = $2, signed_at = CASE WHEN $1 = 'present' THEN $3 ELSE NULL END, \
                     via = CASE WHEN $1 = 'present' THEN 'roll' ELSE '' END WHERE meeting_id = $4 AND member_id = $5 AND status = $6")
            .bind(status).bind(reason).bind(now).bind(m.id).bind(member).bind(before.as_deref().unwrap_or(""))
            .execute(&mut *x).await?.rows_affected();
        sqlx::query("UPDATE meetings SET version = version + 1 WHERE id = $1 AND version = $2 AND status = 'notified'")
            .bind(m.id).bind(m.version).execute(&mut *x).await?.rows_affected().min(n)
    });
    bump(n)?;
    audit::append(
        &mut tx,
        actor,
        NewEntry {
            action,
            object_type: "meeting",
            object_id: m.id.to_string(),
            before: serde_json::json!({"attendance": before}),
            after: serde_json::json!({"member_id": member, "attendance": status, "reason": reason}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The record as the recorder writes it, signed and filed in one step.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct Minutes {
    pub host: String,
    pub recorder: String,
    /// The lecturer of a 党课.
    pub lecturer: String,
    /// Speeches in brief, what was discussed.
    pub summary: String,
    pub decisions: Vec<Decision>,
    pub votes: Vec<Vote>,
    /// For a 支委会: how many committee members were present.
    pub committee_present: Option<i64>,
    /// 组织生活会: the problems found (查摆问题), each opened as a rectification item (source
    /// `meeting`) when the record is filed.
    pub problems: Vec<Problem>,
    /// The version read (a record changed meanwhile is refused).
    pub version: i64,
}

/// A problem a 组织生活会 found, and how it is to be put right.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, utoipa::ToSchema)]
#[serde(default)]
#[schema(as = MeetingProblem)]
pub struct Problem {
    pub problem: String,
    pub measures: String,
    pub owner: String,
    #[schema(value_type = Option<String>, format = Date)]
    pub deadline: Option<NaiveDate>,
}

/// Files the record: held (it has started), the roll complete (no leave undecided; whoever
/// has not signed in is absent), quorum and votes counted from the roll, signed by `p` and
/// locked. Fulfils the obligations of the kinds the organisation owes for the period held in.
pub async fn file(ctx: &Ctx, p: &Principal, id: i64, input: &Minutes) -> AppResult<Meeting> {
    let m = for_change(ctx, p, id).await?;
    if m.status != "notified" {
        return Err(AppError::refused(
            "meeting.not_notified",
            "会议须先发出通知、形成参会名单，才能归档会议记录",
        ));
    }
    if input.version != 0 && input.version != m.version {
        return Err(AppError::Conflict("该会议刚被修改，请刷新后重试".into()));
    }
    let now = ctx.clock.now();
    if now < m.starts_at {
        return Err(AppError::refused(
            "meeting.not_held",
            "会议尚未召开，不能归档会议记录",
        ));
    }
    if let Some(a) = m.attendance.iter().find(|a| a.status == "leave_asked") {
        return Err(AppError::refused(
            "meeting.leave_pending",
            format!("{}的请假尚未审批，请先批准或登记为缺席", a.name),
        ));
    }
    let rules = rules_at(ctx, &m.org_path).await?;
    let mut c = Checks::default();
    let host = super::clean(&input.host);
    let recorder = super::clean(&input.recorder);
    let lecturer = super::clean(&input.lecturer);
    let summary = super::clean(&input.summary);
    c.check(
        (1..=30).contains(&host.chars().count()),
        "host",
        "请填写主持人（30字以内）",
    );
    c.check(
        (1..=30).contains(&recorder.chars().count()),
        "recorder",
        "请填写记录人（30字以内）",
    );
    c.check(
        lecturer.chars().count() <= 30,
        "lecturer",
        "授课人不超过30字",
    );
    if m.kinds.iter().any(|k| k == "lecture") && lecturer.is_empty() {
        c.add("lecturer", "党课请填写授课人");
    }
    c.check(
        (1..=super::MAX_TEXT).contains(&summary.chars().count()),
        "summary",
        "请填写会议内容（发言摘要、讨论情况，5000字以内）",
    );
    let decisions: Vec<Decision> = input
        .decisions
        .iter()
        .map(|d| Decision {
            text: super::clean(&d.text),
            owner: super::clean(&d.owner),
            deadline: d.deadline,
            ..Decision::default()
        })
        .filter(|d| !d.text.is_empty() || !d.owner.is_empty() || d.deadline.is_some())
        .collect();
    c.check(decisions.len() <= 50, "decisions", "决定事项最多50项");
    for (i, d) in decisions.iter().enumerate() {
        if d.text.is_empty() {
            c.add(
                &format!("decision_{i}"),
                "填写了责任人或完成时限的决定事项，请填写事项内容",
            );
        }
        if d.text.chars().count() > 500 || d.owner.chars().count() > 30 {
            c.add(
                &format!("decision_{i}"),
                "决定事项不超过500字，责任人不超过30字",
            );
        }
        if d.deadline.is_some_and(|x| !crate::work_log::in_range(x)) {
            c.add(&format!("decision_{i}"), "完成时限超出范围");
        }
    }
    let mut votes: Vec<Vote> = input
        .votes
        .iter()
        .filter(|v| !v.motion.trim().is_empty() || v.ayes + v.noes + v.abstentions != 0)
        .map(|v| Vote {
            motion: super::clean(&v.motion),
            ..v.clone()
        })
        .collect();
    c.check(votes.len() <= 30, "votes", "表决事项最多30项");
    let problems: Vec<Problem> = input
        .problems
        .iter()
        .map(|x| Problem {
            problem: super::clean(&x.problem),
            measures: super::clean(&x.measures),
            owner: super::clean(&x.owner),
            deadline: x.deadline,
        })
        .filter(|x| {
            !x.problem.is_empty()
                || !x.measures.is_empty()
                || !x.owner.is_empty()
                || x.deadline.is_some()
        })
        .collect();
    if !problems.is_empty() && !m.kinds.iter().any(|k| k == "life") {
        c.add(
            "problems",
            "查摆问题随组织生活会记录，本次会议不是组织生活会",
        );
    }
    c.check(problems.len() <= 30, "problems", "查摆问题最多30项");
    for (i, x) in problems.iter().enumerate() {
        let ok = (1..=2000).contains(&x.problem.chars().count())
            && (1..=2000).contains(&x.measures.chars().count())
            && (1..=50).contains(&x.owner.chars().count())
            && x.deadline
                .is_some_and(|d| d > m.held_on && crate::work_log::in_range(d));
        if !ok {
            c.add(
                &format!("problem_{i}"),
                "每个查摆问题须写明问题、整改措施、责任人和晚于会议日期的整改时限",
            );
        }
    }
    c.finish()?;
    let roll = m.roll_now();
    let present = roll.present;
    if roll.present == 0 {
        return Err(AppError::refused(
            "meeting.nobody_present",
            "参会名单上没有出席的党员，不能作为已召开的会议归档",
        ));
    }
    let org = crate::org::store::get(&ctx.db, m.org_id).await?;
    let committee = if m.kinds.iter().any(|k| k == "committee") {
        // a 支委会's roll is the committee: those present are the members present; a sitting
        // that is also something else names them, never more than signed in
        let size = if org.committee_size > 0 {
            org.committee_size
        } else {
            roll.expected
        };
        let only = m.kinds.iter().all(|k| k == "committee");
        let at = if only {
            present.min(size)
        } else {
            input.committee_present.unwrap_or(0)
        };
        if at < 0 || at > size.min(present) {
            return Err(AppError::field(
                "committee_present",
                format!(
                    "到会委员应在0至{}人之间（委员{}人，出席{}人）",
                    size.min(present),
                    size,
                    present
                ),
            ));
        }
        (at, size)
    } else {
        (0, 0)
    };
    super::check_quorum(&m.kinds, &roll, committee, &rules)?;
    if !votes.is_empty() && !m.kinds.iter().any(|k| k == "assembly" || k == "committee") {
        return Err(AppError::field("votes", "只有党员大会、支委会进行表决"));
    }
    super::decide_votes(&mut votes, &roll, &rules)?;
    // minutes nearly identical to another branch's: flagged above, never refused
    let alike = most_alike(ctx, &m, &summary, &rules).await?;
    let zone = ctx.clock.zone();
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let n = on_tx!(&mut tx, x => {
        sqlx::query("UPDATE meeting_attendance SET status = 'absent' WHERE meeting_id = $1 AND status = 'expected'")
            .bind(id).execute(&mut *x).await?;
        sqlx::query("UPDATE meetings SET status = 'filed', sign_code = NULL, host = $1, recorder = $2, lecturer = $3, summary = $4, decisions_json = $5, votes_json = $6, \
                     expected = $7, present = $8, voting_expected = $9, voting_present = $10, filed_at = $11, filed_by = $12, signer = $13, version = version + 1, \
                     similar_to = $16, similar_permille = $17 WHERE id = $14 AND version = $15 AND status = 'notified'")
            .bind(&host).bind(&recorder).bind(&lecturer).bind(&summary)
            .bind(serde_json::to_string(&decisions).unwrap_or_default()).bind(serde_json::to_string(&votes).unwrap_or_default())
            .bind(roll.expected).bind(roll.present).bind(roll.voting_expected).bind(roll.voting_present)
            .bind(now).bind(p.account_id).bind(&p.display_name).bind(id).bind(m.version)
            .bind(alike.map(|a| a.0)).bind(alike.map_or(0, |a| a.1))
            .execute(&mut *x).await?.rows_affected()
    });
    bump(n)?;
    let holder = holder_of(&org, ctx).await?;
    let mut fulfilled = Vec::new();
    for kind in &m.kinds {
        if !super::owes(kind, &holder, &rules) {
            continue;
        }
        let Some(rq) = rules.requirement(kind) else {
            continue;
        };
        let Some(period) = super::period_of(&rq.period, m.held_on) else {
            continue;
        };
        let (due, missed) = super::due_and_missed(&period, &rules, &zone);
        let okind = super::obligation_kind(kind);
        let o = NewObligation {
            kind: &okind,
            subject_type: "org",
            subject_id: org.id,
            scope_org_id: org.id,
            period: &period,
            due_at: due,
            missed_at: missed,
        };
        let status = obligation::fulfil(&mut tx, &o, "meeting", id, now).await?;
        fulfilled.push(serde_json::json!({"kind": kind, "period": period.key, "status": status}));
    }
    // 组织生活会: each problem found a rectification item of the branch, in this transaction
    let mut items = Vec::new();
    for x in &problems {
        let item = crate::rectification::store::NewItem {
            org_id: m.org_id,
            supervisor_id: None,
            source: "meeting".into(),
            source_ref: Some(format!("meeting:{id}")),
            source_note: m.title.chars().take(200).collect(),
            owner: x.owner.clone(),
            problem: x.problem.clone(),
            measures: x.measures.clone(),
            plan: String::new(),
            opened_on: Some(m.held_on),
            deadline: x.deadline,
        };
        items.push(crate::rectification::store::open_in(ctx, &mut tx, p, &item).await?);
    }
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "meeting.file",
            object_type: "meeting",
            object_id: id.to_string(),
            before: serde_json::json!({"status": "notified"}),
            after: serde_json::json!({"status": "filed", "host": host, "recorder": recorder, "roll": roll, "votes": votes, "decisions": decisions.len(), "obligations": fulfilled, "rect_items": items,
                "similar_to": alike.map(|a| a.0), "similar_permille": alike.map(|a| a.1)}),
        },
    )
    .await?;
    tx.commit().await?;
    award_points(ctx, p, &m).await;
    open(ctx, p, id).await
}

/// 积分: a filed sitting awards its kinds' attendance indicators to each member present, one
/// entry per member and kind, each on its own (a member already at the indicator's cap is
/// skipped, not the whole roll), once (the idempotency key is the sitting's). The filing
/// stands whatever the points engine answers: a refusal is logged.
async fn award_points(ctx: &Ctx, p: &Principal, m: &Meeting) {
    if !p.can(Perm::PointsWrite) {
        return;
    }
    let present = match present_of(ctx, m.id).await {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(meeting = m.id, error = %e, "meeting points: reading the roll");
            return;
        }
    };
    for (kind, indicator) in super::POINTS {
        if !m.kinds.iter().any(|k| k == kind) {
            continue;
        }
        for member in &present {
            let input = crate::points::store::AwardInput {
                subject: "member".into(),
                member_id: Some(*member),
                org_id: None,
                indicator: indicator.into(),
                done_on: Some(m.held_on),
                note: format!("{}（会议记录第{}号）", m.title, m.id),
                idempotency_key: Some(format!("meeting-{}-{kind}", m.id)),
            };
            if let Err(e) = crate::points::store::award_many(ctx, p, &input, &[*member], None).await
            {
                tracing::info!(meeting = m.id, member, indicator, error = %e, "meeting points not awarded");
            }
        }
    }
}

/// The members present at a sitting.
async fn present_of(ctx: &Ctx, id: i64) -> AppResult<Vec<i64>> {
    Ok(on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT member_id FROM meeting_attendance WHERE meeting_id = $1 AND status = 'present' ORDER BY member_id")
            .bind(id).fetch_all(x).await?;
        rows.iter().map(|r| r.i64("member_id")).collect::<DbResult<Vec<_>>>()?
    }))
}

/// What decides the kinds `org` owes.
async fn holder_of(org: &Org, ctx: &Ctx) -> AppResult<super::Holder> {
    let (full, _) = crate::org::store::member_counts(&ctx.db, org.id).await?;
    Ok(super::Holder {
        branch: org.kind.holds_members(),
        has_committee: org.has_committee,
        full_members: full,
    })
}

/// What is recorded after a filed sitting (a decision carried out, a make-up study): a day
/// from the sitting's to today, and 2 to 500 characters of what was done (returned cleaned).
fn after_sitting(
    m: &Meeting,
    day: Option<NaiveDate>,
    note: &str,
    today: NaiveDate,
    day_name: &str,
    note_name: &str,
) -> AppResult<String> {
    let mut c = Checks::default();
    let note = super::clean(note);
    if !day.is_some_and(|d| d >= m.held_on && d <= today) {
        c.add(
            "done_on",
            format!("{day_name}应在会议日期（{}）至今天之间", m.held_on),
        );
    }
    c.check(
        (2..=500).contains(&note.chars().count()),
        "note",
        &format!("请填写{note_name}（2至500字）"),
    );
    c.finish()?;
    Ok(note)
}

/// 落实: a decision of a filed record carried out, with the day and how.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct DecisionDone {
    /// The decision's place in the record (0 for the first).
    pub seq: i64,
    #[schema(value_type = String, format = Date)]
    pub done_on: Option<NaiveDate>,
    pub note: String,
}

pub async fn complete_decision(
    ctx: &Ctx,
    p: &Principal,
    id: i64,
    dd: &DecisionDone,
) -> AppResult<Meeting> {
    let m = managed(ctx, p, id).await?;
    let d = usize::try_from(dd.seq)
        .ok()
        .and_then(|i| m.decisions.get(i))
        .filter(|_| m.status == "filed")
        .ok_or_else(|| AppError::field("seq", "没有这项决定事项"))?;
    if d.done_on.is_some() {
        return Err(AppError::refused(
            "meeting.decision_done",
            format!("“{}”已登记落实", d.text),
        ));
    }
    let note = after_sitting(
        &m,
        dd.done_on,
        &dd.note,
        ctx.clock.today(),
        "落实日期",
        "落实情况",
    )?;
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    on_tx!(&mut tx, x => {
        sqlx::query("INSERT INTO meeting_decisions_done (meeting_id, seq, done_on, note, done_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(id).bind(dd.seq).bind(dd.done_on).bind(&note).bind(p.account_id).bind(now).execute(&mut *x).await?;
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "meeting.decision_done",
            object_type: "meeting",
            object_id: id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"seq": dd.seq, "decision": d.text, "done_on": dd.done_on, "note": note}),
        },
    )
    .await?;
    tx.commit().await?;
    open(ctx, p, id).await
}

/// 补学 recorded for a member absent or on leave at a filed sitting: the day (from the sitting
/// to today) and what was studied; once per member.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct Makeup {
    pub member_id: i64,
    #[schema(value_type = String, format = Date)]
    pub done_on: Option<NaiveDate>,
    pub note: String,
}

pub async fn record_makeup(ctx: &Ctx, p: &Principal, id: i64, mk: &Makeup) -> AppResult<Meeting> {
    let m = managed(ctx, p, id).await?;
    if m.status != "filed" {
        return Err(AppError::refused(
            "meeting.not_filed",
            "会议记录归档后才能登记补学",
        ));
    }
    let a = m
        .attendance
        .iter()
        .find(|a| a.member_id == mk.member_id)
        .ok_or_else(|| AppError::field("member_id", "该党员不在参会名单中"))?;
    if a.status != "absent" && a.status != "leave" {
        return Err(AppError::refused(
            "meeting.no_makeup_needed",
            format!("{}出席了会议，无需补学", a.name),
        ));
    }
    if a.makeup_on.is_some() {
        return Err(AppError::refused(
            "meeting.makeup_exists",
            format!("{}的补学已登记", a.name),
        ));
    }
    let note = after_sitting(
        &m,
        mk.done_on,
        &mk.note,
        ctx.clock.today(),
        "补学日期",
        "补学内容",
    )?;
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    on_tx!(&mut tx, x => {
        sqlx::query("INSERT INTO meeting_makeups (meeting_id, member_id, done_on, note, recorded_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(id).bind(mk.member_id).bind(mk.done_on).bind(&note).bind(p.account_id).bind(now).execute(&mut *x).await?;
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "meeting.makeup",
            object_type: "meeting",
            object_id: id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"member_id": mk.member_id, "done_on": mk.done_on, "note": note}),
        },
    )
    .await?;
    tx.commit().await?;
    open(ctx, p, id).await
}

/// A signed addendum to a filed record.
pub async fn add_addendum(ctx: &Ctx, p: &Principal, id: i64, body: &str) -> AppResult<Meeting> {
    let m = managed(ctx, p, id).await?;
    if m.status != "filed" {
        return Err(AppError::refused(
            "meeting.not_filed",
            "会议记录归档前可直接修改，无需补充说明",
        ));
    }
    if m.addenda.len() >= 50 {
        return Err(AppError::refused(
            "meeting.too_many_addenda",
            "每份会议记录最多50条补充说明",
        ));
    }
    let body = super::clean(body);
    if !(1..=1000).contains(&body.chars().count()) {
        return Err(AppError::field("body", "请填写补充说明（1000字以内）"));
    }
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let aid = on_tx!(&mut tx, x => {
        sqlx::query("INSERT INTO meeting_addenda (meeting_id, body, author_id, author, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id")
            .bind(id).bind(&body).bind(p.account_id).bind(&p.display_name).bind(now).fetch_one(&mut *x).await?.i64("id")?
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "meeting.addendum",
            object_type: "meeting",
            object_id: id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"addendum": aid, "body": body}),
        },
    )
    .await?;
    tx.commit().await?;
    open(ctx, p, id).await
}

/// The year's plan of a branch and its 党小组, made from the rules: one sitting per required
/// kind and period not yet held or planned. Returns how many sittings were planned.
pub async fn plan(ctx: &Ctx, p: &Principal, org_id: i64, year: i32) -> AppResult<i64> {
    let org = holder_org(ctx, p, org_id).await?;
    let today = ctx.clock.today();
    if !(today.year() - 1..=today.year() + 1).contains(&year) {
        return Err(AppError::field(
            "year",
            format!("只能生成{}至{}年的计划", today.year() - 1, today.year() + 1),
        ));
    }
    let rules = rules_at(ctx, &org.path).await?;
    let mut orgs = vec![org.clone()];
    if org.kind.holds_members() {
        for g in crate::org::store::children(&ctx.db, org.id).await? {
            if g.org.kind == crate::org::OrgKind::Group {
                orgs.push(g.org);
            }
        }
    }
    let zone = ctx.clock.zone();
    // one plan at a time per branch: the branch's row is held until the plan is written, and
    // what is already planned is read after taking it (two clicks never plan twice)
    let mut tx = ctx.db.begin().await?;
    on_tx!(&mut tx, x => {
        sqlx::query("UPDATE orgs SET version = version WHERE id = $1").bind(org.id).execute(&mut *x).await?;
    });
    let from = NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or(today);
    let to = NaiveDate::from_ymd_opt(year + 1, 1, 31).unwrap_or(today);
    let cal = crate::calendar::store::calendar(&ctx.db, from, to).await?;
    let mut made = Vec::new();
    for o in &orgs {
        let holder = holder_of(o, ctx).await?;
        let held = kinds_held(&mut tx, o.id, year, &rules).await?;
        for mut s in super::plan_year(year, &holder, &rules, &held) {
            // a theme day on a holiday or a weekend moves to the next working day of its month
            // (else the last one before it)
            s.day = working_day_near(s.day, &cal);
            // only what is still ahead: the past is recorded, not planned
            if s.day < today {
                continue;
            }
            made.push((o.id, s));
        }
    }
    if made.len() > 400 {
        return Err(AppError::refused(
            "meeting.plan_too_large",
            "一次生成的会议超过400次，请检查频次规则",
        ));
    }
    let start = NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default();
    let end = NaiveTime::from_hms_opt(11, 0, 0).unwrap_or_default();
    let mut ids = Vec::new();
    for (oid, s) in &made {
        let title = format!(
            "{}{}",
            s.day.format("%-m月%-d日"),
            super::kinds_label(&s.kinds)
        );
        ids.push(
            insert(
                &mut tx,
                p.account_id,
                *oid,
                &s.kinds,
                &title,
                s.day,
                zone.instant(s.day.and_time(start)),
                zone.instant(s.day.and_time(end)),
                "",
                "",
                &[],
            )
            .await?,
        );
    }
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "meeting.plan",
            object_type: "org",
            object_id: org.id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"year": year, "planned": made.len(), "meetings": ids}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(made.len() as i64)
}

/// (kind, period key) of the sittings an organisation holds or has planned in `year` (not
/// cancelled), by the period of the kind's requirement.
async fn kinds_held(
    tx: &mut Tx,
    org_id: i64,
    year: i32,
    rules: &MeetingRules,
) -> AppResult<Vec<(String, String)>> {
    let from = NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or_default();
    let to = NaiveDate::from_ymd_opt(year, 12, 31).unwrap_or_default();
    let rows = on_tx!(tx, x => {
        let rows = sqlx::query("SELECT kinds, held_on FROM meetings WHERE org_id = $1 AND held_on >= $2 AND held_on <= $3 AND status <> 'cancelled'")
            .bind(org_id).bind(from).bind(to).fetch_all(&mut *x).await?;
        rows.iter().map(|r| Ok((r.string("kinds")?, r.date("held_on")?))).collect::<DbResult<Vec<_>>>()?
    });
    let mut out = Vec::new();
    for (kinds, day) in rows {
        for k in super::parse_kinds(&kinds) {
            if let Some(p) = rules
                .requirement(&k)
                .and_then(|rq| super::period_of(&rq.period, day))
            {
                out.push((k, p.key));
            }
        }
    }
    Ok(out)
}

/// `day` if it is a working day, else the next working day of its month, else the last one
/// before it.
fn working_day_near(day: NaiveDate, cal: &crate::calendar::Calendar) -> NaiveDate {
    let ok = |d: NaiveDate| crate::calendar::is_working_day(d, cal);
    (0..31)
        .map(|k| day + Duration::days(k))
        .take_while(|d| d.month() == day.month())
        .find(|d| ok(*d))
        .or_else(|| (1..31).map(|k| day - Duration::days(k)).find(|d| ok(*d)))
        .unwrap_or(day)
}

/// A sitting as a list shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = MeetingRow)]
pub struct Row {
    pub id: i64,
    pub org_id: i64,
    pub org_name: String,
    pub title: String,
    pub kinds_label: String,
    pub held_on: NaiveDate,
    pub starts_at: DateTime<Utc>,
    pub status: String,
    pub status_label: String,
    pub expected: i64,
    pub present: i64,
    /// Held (started) but not yet filed.
    pub unfiled: bool,
}

/// One required kind of a branch's year: the periods so far and how each stands.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = MeetingKindYear)]
pub struct KindYear {
    pub kind: String,
    pub kind_label: String,
    pub period: String,
    /// (period label, status: done, late, missed, due, or open (not yet generated))
    pub cells: Vec<(String, String)>,
}

/// A branch's (or group's) year: its sittings and, per required kind, how each period stands.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Year {
    pub org_id: i64,
    pub org_name: String,
    pub year: i32,
    pub meetings: Vec<Row>,
    pub kinds: Vec<KindYear>,
    pub light: String,
    pub light_label: String,
    pub missed: i64,
    pub late: i64,
    pub overdue: i64,
    /// 党章第九条: members without organisational life for the rule's months.
    pub absentees: Vec<Absentee>,
    /// Attendance of the year's filed sittings: present ÷ expected, per mille.
    pub attendance_permille: Option<i64>,
    /// Each member's attendance of the year's filed sittings (branch and its groups).
    pub attendance: Vec<MemberAttendance>,
    pub absence_months: i64,
}

/// A member's attendance of a year's filed sittings.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MemberAttendance {
    pub member_id: i64,
    pub name: String,
    pub expected: i64,
    pub present: i64,
    pub leave: i64,
    pub absent: i64,
    pub permille: Option<i64>,
}

/// Attendance per member of the filed sittings of a branch (and its groups) in [from, to].
async fn attendance_of(
    ctx: &Ctx,
    org_id: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> AppResult<Vec<MemberAttendance>> {
    Ok(on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT a.member_id, MAX(a.name) AS name, COUNT(*) AS expected, \
                                CAST(SUM(CASE WHEN a.status = 'present' THEN 1 ELSE 0 END) AS BIGINT) AS present, \
                                CAST(SUM(CASE WHEN a.status = 'leave' THEN 1 ELSE 0 END) AS BIGINT) AS on_leave, \
                                CAST(SUM(CASE WHEN a.status = 'absent' THEN 1 ELSE 0 END) AS BIGINT) AS absent \
                                FROM meetings m JOIN orgs o ON o.id = m.org_id JOIN meeting_attendance a ON a.meeting_id = m.id \
                                WHERE (m.org_id = $1 OR o.parent_id = $1) AND m.status = 'filed' AND m.held_on >= $2 AND m.held_on <= $3 \
                                GROUP BY a.member_id ORDER BY a.member_id LIMIT 2000")
            .bind(org_id).bind(from).bind(to).fetch_all(x).await?;
        rows.iter().map(|r| {
            let (expected, present) = (r.i64("expected")?, r.i64("present")?);
            Ok(MemberAttendance {
                member_id: r.i64("member_id")?,
                name: r.string("name")?,
                expected,
                present,
                leave: r.i64("on_leave")?,
                absent: r.i64("absent")?,
                permille: obligation::permille(present, expected),
            })
        }).collect::<DbResult<Vec<_>>>()?
    }))
}

/// A member gone the rule's months without attending (a warning to the branch, never a
/// removal: the branch finds the reason and records what it did).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = MeetingAbsentee)]
pub struct Absentee {
    pub member_id: i64,
    pub name: String,
    pub last_present: Option<NaiveDate>,
    pub absences: i64,
}

/// The members of a branch gone `rules.absence_months` without attending, as of `today`.
pub async fn absentees(
    ctx: &Ctx,
    org_id: i64,
    rules: &MeetingRules,
    today: NaiveDate,
) -> AppResult<Vec<Absentee>> {
    let cut = today
        .checked_sub_months(chrono::Months::new(rules.absence_months.clamp(1, 24) as u32))
        .unwrap_or(today);
    let rows = on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT m.id, m.name, MIN(mt.held_on) AS first_expected, \
                                MAX(CASE WHEN a.status = 'present' THEN mt.held_on END) AS last_present, \
                                CAST(COALESCE(SUM(CASE WHEN a.status = 'absent' AND mt.held_on >= $2 THEN 1 ELSE 0 END), 0) AS BIGINT) AS absences \
                                FROM members m JOIN meeting_attendance a ON a.member_id = m.id JOIN meetings mt ON mt.id = a.meeting_id AND mt.status = 'filed' \
                                WHERE m.org_id = $1 AND m.status IN ('full', 'probationary') GROUP BY m.id, m.name ORDER BY m.id")
            .bind(org_id).bind(cut).fetch_all(x).await?;
        rows.iter().map(|r| Ok((r.i64("id")?, r.string("name")?, r.opt_date("first_expected")?, r.opt_date("last_present")?, r.i64("absences")?)))
            .collect::<DbResult<Vec<_>>>()?
    });
    Ok(rows
        .into_iter()
        .filter(|r| super::long_absent(r.2, r.3, r.4, cut))
        .map(|(member_id, name, _, last_present, absences)| Absentee {
            member_id,
            name,
            last_present,
            absences,
        })
        .collect())
}

pub async fn year(ctx: &Ctx, p: &Principal, org_id: i64, year: i32) -> AppResult<Year> {
    let org = crate::org::store::find(&ctx.db, org_id)
        .await?
        .filter(|o| p.in_scope(&o.path))
        .ok_or(AppError::NotFound("党组织"))?;
    p.authorize(Perm::MeetingRead, Some(&org.path))?;
    let from =
        NaiveDate::from_ymd_opt(year, 1, 1).ok_or_else(|| AppError::field("year", "年份有误"))?;
    let to =
        NaiveDate::from_ymd_opt(year, 12, 31).ok_or_else(|| AppError::field("year", "年份有误"))?;
    let now = ctx.clock.now();
    let meetings = on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT m.id, m.org_id, o.name AS org_name, m.title, m.kinds, m.held_on, m.starts_at, m.status, m.expected, m.present FROM meetings m JOIN orgs o ON o.id = m.org_id \
                                WHERE (m.org_id = $1 OR o.parent_id = $1) AND m.held_on >= $2 AND m.held_on <= $3 ORDER BY m.held_on, m.starts_at, m.id LIMIT 1000")
            .bind(org.id).bind(from).bind(to).fetch_all(x).await?;
        rows.iter().map(|r| {
            let status = r.string("status")?;
            let starts_at = r.ts("starts_at")?;
            Ok(Row {
                id: r.i64("id")?,
                org_id: r.i64("org_id")?,
                org_name: r.string("org_name")?,
                title: r.string("title")?,
                kinds_label: super::kinds_label(&super::parse_kinds(&r.string("kinds")?)),
                held_on: r.date("held_on")?,
                unfiled: (status == "planned" || status == "notified") && starts_at <= now,
                starts_at,
                status_label: label(&STATUSES, &status),
                status,
                expected: r.i64("expected")?,
                present: r.i64("present")?,
            })
        }).collect::<DbResult<Vec<_>>>()?
    });
    let obligations = on_db!(&ctx.db, x => {
        let rows = sqlx::query(&format!("SELECT kind, period, status, due_at FROM obligations WHERE subject_type = 'org' AND subject_id = $1 AND kind IN {} \
                                AND period_start >= $2 AND period_start <= $3", super::OBLIGATION_KINDS_SQL))
            .bind(org.id).bind(from).bind(to).fetch_all(x).await?;
        rows.iter().map(|r| Ok((r.string("kind")?, r.string("period")?, r.string("status")?, r.ts("due_at")?))).collect::<DbResult<Vec<_>>>()?
    });
    let rules = rules_at(ctx, &org.path).await?;
    let holder = holder_of(&org, ctx).await?;
    let (mut missed, mut late, mut overdue) = (0, 0, 0);
    let mut kinds = Vec::new();
    for (kind, name) in KINDS {
        if !super::owes(kind, &holder, &rules) {
            continue;
        }
        let Some(rq) = rules.requirement(kind) else {
            continue;
        };
        let okind = super::obligation_kind(kind);
        let cells = super::periods_of_year(&rq.period, year)
            .into_iter()
            .filter(|pd| pd.start <= ctx.clock.today())
            .map(|pd| {
                let found = obligations.iter().find(|o| o.0 == okind && o.1 == pd.key);
                let status = match found {
                    Some((_, _, s, due)) => {
                        match s.as_str() {
                            "missed" => missed += 1,
                            "late" => late += 1,
                            "due" if *due < now => overdue += 1,
                            _ => {}
                        }
                        s.clone()
                    }
                    None => "open".to_string(),
                };
                (super::period_label(&rq.period, &pd), status)
            })
            .collect();
        kinds.push(KindYear {
            kind: kind.into(),
            kind_label: name.into(),
            period: label(&super::PERIODS, &rq.period),
            cells,
        });
    }
    // nothing due yet (a year ahead, or before the platform's records): no light at all
    let decided = kinds
        .iter()
        .flat_map(|k| &k.cells)
        .any(|c| c.1 != "open" && c.1 != "due")
        || overdue > 0;
    let light = if decided {
        super::light(missed, late, overdue, &rules)
    } else {
        "none"
    };
    let absentees = if org.kind.holds_members() {
        absentees(ctx, org.id, &rules, ctx.clock.today()).await?
    } else {
        Vec::new()
    };
    let mut attendance = attendance_of(ctx, org.id, from, to).await?;
    let (exp, pres) = attendance
        .iter()
        .fold((0, 0), |a, m| (a.0 + m.expected, a.1 + m.present));
    attendance.sort_by(|a, b| {
        a.permille
            .cmp(&b.permille)
            .then(a.member_id.cmp(&b.member_id))
    });
    Ok(Year {
        attendance_permille: obligation::permille(pres, exp),
        attendance,
        absentees,
        absence_months: rules.absence_months,
        org_id: org.id,
        org_name: org.name,
        year,
        meetings,
        kinds,
        light: light.into(),
        light_label: label(&super::LIGHTS, light),
        missed,
        late,
        overdue,
    })
}

/// One branch in a subtree's compliance.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = MeetingComplianceRow)]
pub struct ComplianceRow {
    pub org_id: i64,
    pub org_name: String,
    pub parent_name: String,
    pub light: String,
    pub light_label: String,
    pub done: i64,
    pub late: i64,
    pub missed: i64,
    /// Past due, not yet filed, not yet missed.
    pub overdue: i64,
}

/// A subtree's branches for a year: how many are green, amber and red, and the branches not
/// green (worst first).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = MeetingCompliance)]
pub struct Compliance {
    pub org_id: i64,
    pub org_name: String,
    pub year: i32,
    pub branches: i64,
    pub green: i64,
    pub amber: i64,
    pub red: i64,
    /// Share of branches green, per mille.
    pub green_permille: Option<i64>,
    pub rows: Vec<ComplianceRow>,
    /// 双向列席: sittings with an upper-level observer this year.
    pub upper_observed: i64,
    /// Filed records whose minutes are nearly identical to another branch's (the latest 50).
    pub similar: Vec<Alike>,
}

/// A filed record flagged as nearly identical to another branch's.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Alike {
    pub meeting_id: i64,
    pub org_name: String,
    pub held_on: NaiveDate,
    pub similar_to: i64,
    pub similar_permille: i64,
}

/// Compliance of the branches under `org_id` in `year` (a heavy read at city scale).
pub async fn compliance(
    ctx: &Ctx,
    p: &Principal,
    org_id: Option<i64>,
    year: i32,
) -> AppResult<Compliance> {
    let org = match org_id {
        Some(id) => crate::org::store::find(&ctx.db, id)
            .await?
            .filter(|o| p.in_scope(&o.path))
            .ok_or(AppError::NotFound("党组织"))?,
        None => crate::org::store::get(&ctx.db, p.org_id).await?,
    };
    p.authorize(Perm::MeetingRead, Some(&org.path))?;
    let from =
        NaiveDate::from_ymd_opt(year, 1, 1).ok_or_else(|| AppError::field("year", "年份有误"))?;
    let to =
        NaiveDate::from_ymd_opt(year, 12, 31).ok_or_else(|| AppError::field("year", "年份有误"))?;
    let key = format!("meeting.compliance|{}|{year}", org.path);
    let ctx2 = ctx.clone();
    let (path, name, oid) = (org.path.clone(), org.name.clone(), org.id);
    ctx.heavy
        .run_cloned(&key, move || async move {
            compute_compliance(&ctx2, oid, &name, &path, from, to, year).await
        })
        .await
}

/// A subtree's branches with their required periods of the year so far: (branch, name,
/// parent's name, done, late, missed, overdue). The compliance report and the star rating's
/// computed 组织生活 score read it.
pub async fn tallies(
    ctx: &Ctx,
    path: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> AppResult<Vec<(i64, String, String, i64, i64, i64, i64)>> {
    let now = ctx.clock.now();
    let hi = path_upper(path);
    Ok(on_db!(&ctx.db, x => {
        let rows = sqlx::query(&format!("SELECT o.id, o.name, po.name AS parent_name, \
                                CAST(COALESCE(SUM(CASE WHEN b.status = 'done' THEN 1 ELSE 0 END), 0) AS BIGINT) AS done, \
                                CAST(COALESCE(SUM(CASE WHEN b.status = 'late' THEN 1 ELSE 0 END), 0) AS BIGINT) AS late, \
                                CAST(COALESCE(SUM(CASE WHEN b.status = 'missed' THEN 1 ELSE 0 END), 0) AS BIGINT) AS missed, \
                                CAST(COALESCE(SUM(CASE WHEN b.status = 'due' AND b.due_at < $3 THEN 1 ELSE 0 END), 0) AS BIGINT) AS overdue \
                                FROM orgs o LEFT JOIN orgs po ON po.id = o.parent_id \
                                LEFT JOIN obligations b ON b.scope_org_id = o.id AND b.kind IN {} AND b.subject_type = 'org' AND b.period_start >= $4 AND b.period_start <= $5 \
                                WHERE o.path >= $1 AND o.path < $2 AND o.kind IN ('branch', 'joint_branch') AND o.dissolved_at IS NULL \
                                GROUP BY o.id, o.name, po.name", super::OBLIGATION_KINDS_SQL))
            .bind(path).bind(&hi).bind(now).bind(from).bind(to).fetch_all(x).await?;
        rows.iter().map(|r| Ok((r.i64("id")?, r.string("name")?, r.opt_string("parent_name")?.unwrap_or_default(), r.i64("done")?, r.i64("late")?, r.i64("missed")?, r.i64("overdue")?)))
            .collect::<DbResult<Vec<_>>>()?
    }))
}

async fn compute_compliance(
    ctx: &Ctx,
    org_id: i64,
    org_name: &str,
    path: &str,
    from: NaiveDate,
    to: NaiveDate,
    year: i32,
) -> AppResult<Compliance> {
    let hi = path_upper(path);
    let rows = tallies(ctx, path, from, to).await?;
    let (upper_observed, similar) = on_db!(&ctx.db, x => {
        let n = sqlx::query("SELECT COUNT(DISTINCT m.id) AS n FROM meetings m JOIN orgs o ON o.id = m.org_id JOIN meeting_observers v ON v.meeting_id = m.id AND v.category = 'upper' \
                     WHERE o.path >= $1 AND o.path < $2 AND m.held_on >= $3 AND m.held_on <= $4")
            .bind(path).bind(&hi).bind(from).bind(to).fetch_one(x).await?.i64("n")?;
        let rows = sqlx::query("SELECT m.id, o.name, m.held_on, m.similar_to, m.similar_permille FROM meetings m JOIN orgs o ON o.id = m.org_id \
                     WHERE o.path >= $1 AND o.path < $2 AND m.held_on >= $3 AND m.held_on <= $4 AND m.similar_to IS NOT NULL ORDER BY m.held_on DESC, m.id DESC LIMIT 50")
            .bind(path).bind(&hi).bind(from).bind(to).fetch_all(x).await?;
        let similar = rows.iter().map(|r| Ok(Alike { meeting_id: r.i64("id")?, org_name: r.string("name")?, held_on: r.date("held_on")?,
            similar_to: r.i64("similar_to")?, similar_permille: r.i64("similar_permille")? })).collect::<DbResult<Vec<_>>>()?;
        (n, similar)
    });
    let rules = rules_at(ctx, path).await?;
    let mut out = Compliance {
        org_id,
        org_name: org_name.to_string(),
        year,
        branches: rows.len() as i64,
        green: 0,
        amber: 0,
        red: 0,
        green_permille: None,
        rows: Vec::new(),
        upper_observed,
        similar,
    };
    for (id, name, parent, done, late, missed, overdue) in rows {
        let light = super::light(missed, late, overdue, &rules);
        match light {
            "green" => out.green += 1,
            "amber" => out.amber += 1,
            _ => out.red += 1,
        }
        if light != "green" {
            out.rows.push(ComplianceRow {
                org_id: id,
                org_name: name,
                parent_name: parent,
                light: light.into(),
                light_label: label(&super::LIGHTS, light),
                done,
                late,
                missed,
                overdue,
            });
        }
    }
    out.green_permille = obligation::permille(out.green, out.branches);
    out.rows.sort_by(|a, b| {
        b.missed
            .cmp(&a.missed)
            .then(b.overdue.cmp(&a.overdue))
            .then(b.late.cmp(&a.late))
            .then(a.org_id.cmp(&b.org_id))
    });
    out.rows.truncate(500);
    Ok(out)
}

/// The sittings a member is on the roll of, upcoming and recent.
pub async fn mine(ctx: &Ctx, p: &Principal) -> AppResult<Vec<Row>> {
    let Some(me) = p.member_id else {
        return Ok(Vec::new());
    };
    let since = ctx.clock.today() - Duration::days(90);
    let now = ctx.clock.now();
    Ok(on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT m.id, m.org_id, o.name AS org_name, m.title, m.kinds, m.held_on, m.starts_at, m.status, m.expected, m.present, a.status AS mine \
                                FROM meeting_attendance a JOIN meetings m ON m.id = a.meeting_id JOIN orgs o ON o.id = m.org_id \
                                WHERE a.member_id = $1 AND m.held_on >= $2 AND m.status <> 'cancelled' ORDER BY m.held_on DESC, m.id DESC LIMIT 50")
            .bind(me).bind(since).fetch_all(x).await?;
        rows.iter().map(|r| {
            let mine = r.string("mine")?;
            let starts_at = r.ts("starts_at")?;
            Ok(Row {
                id: r.i64("id")?,
                org_id: r.i64("org_id")?,
                org_name: r.string("org_name")?,
                title: r.string("title")?,
                kinds_label: super::kinds_label(&super::parse_kinds(&r.string("kinds")?)),
                held_on: r.date("held_on")?,
                unfiled: starts_at <= now,
                starts_at,
                status_label: label(&ATTENDANCE, &mine),
                status: mine,
                expected: r.i64("expected")?,
                present: r.i64("present")?,
            })
        }).collect::<DbResult<Vec<_>>>()?
    }))
}

/// The organisations owing sittings of `kind`: (id, path, holder, created on).
async fn holders(ctx: &Ctx, kind: &str) -> AppResult<Vec<(i64, String, super::Holder, NaiveDate)>> {
    let zone = ctx.clock.zone();
    let kinds = if kind == "group" {
        "('group')"
    } else {
        "('branch', 'joint_branch')"
    };
    let sql = format!(
        "SELECT o.id, o.path, o.kind, o.has_committee, o.created_at, COALESCE(c.n, 0) AS full_n FROM orgs o \
         LEFT JOIN org_member_counts c ON c.org_id = o.id AND c.status = 'full' WHERE o.kind IN {kinds} AND o.dissolved_at IS NULL"
    );
    Ok(on_db!(&ctx.db, x => {
        let rows = sqlx::query(&sql).fetch_all(x).await?;
        rows.iter().map(|r| Ok((
            r.i64("id")?,
            r.string("path")?,
            super::Holder { branch: r.string("kind")? != "group", has_committee: r.bool("has_committee")?, full_members: r.i64("full_n")? },
            zone.date_of(r.ts("created_at")?),
        ))).collect::<DbResult<Vec<_>>>()?
    }))
}

/// The meeting rule sets of every organisation that has one: org id → values (newest).
async fn rule_sets(ctx: &Ctx) -> AppResult<HashMap<i64, MeetingRules>> {
    let rows = on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT org_id, version, values_json FROM rule_sets WHERE kind = $1 ORDER BY org_id, version")
            .bind(<MeetingRules as crate::rules::RuleKind>::KIND).fetch_all(x).await?;
        rows.iter().map(|r| Ok((r.i64("org_id")?, r.string("values_json")?))).collect::<DbResult<Vec<_>>>()?
    });
    let mut out = HashMap::new();
    for (org, json) in rows {
        if let Ok(v) = serde_json::from_str::<MeetingRules>(&json) {
            out.insert(org, v);
        }
    }
    Ok(out)
}

fn rules_for(
    path: &str,
    sets: &HashMap<i64, MeetingRules>,
    default: &MeetingRules,
) -> MeetingRules {
    crate::org::path_ids(path)
        .iter()
        .rev()
        .find_map(|id| sets.get(id))
        .unwrap_or(default)
        .clone()
}

/// The generator of the `meeting.<kind>` cadence: for every organisation owing the kind, the
/// obligation of the current period and up to `periods − 1` before it (at most 3; never a
/// period ended before the organisation was registered).
pub async fn generate(
    ctx: &Ctx,
    today: NaiveDate,
    periods: usize,
    kind: &'static str,
) -> AppResult<u64> {
    let sets = rule_sets(ctx).await?;
    let default = MeetingRules::default();
    let zone = ctx.clock.zone();
    let okind = super::obligation_kind(kind);
    let mut want: Vec<(i64, obligation::Period, DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    for (id, path, holder, created) in holders(ctx, kind).await? {
        let rules = rules_for(&path, &sets, &default);
        if !super::owes(kind, &holder, &rules) {
            continue;
        }
        let Some(rq) = rules.requirement(kind) else {
            continue;
        };
        let mut day = today;
        for _ in 0..periods.clamp(1, 3) {
            let Some(pd) = super::period_of(&rq.period, day) else {
                break;
            };
            day = pd.start - Duration::days(1);
            if pd.end < created {
                break;
            }
            let (due, missed) = super::due_and_missed(&pd, &rules, &zone);
            want.push((id, pd, due, missed));
        }
    }
    if want.is_empty() {
        return Ok(0);
    }
    let earliest = want.iter().map(|w| w.1.start).min().unwrap_or(today);
    let have: HashSet<(i64, String)> = on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT subject_id, period FROM obligations WHERE kind = $1 AND subject_type = 'org' AND period_start >= $2")
            .bind(&okind).bind(earliest).fetch_all(x).await?;
        rows.iter().map(|r| Ok((r.i64("subject_id")?, r.string("period")?))).collect::<DbResult<HashSet<_>>>()?
    });
    want.retain(|w| !have.contains(&(w.0, w.1.key.clone())));
    let now = ctx.clock.now();
    let mut made = 0;
    for chunk in want.chunks(200) {
        made += on_db!(&ctx.db, x => {
            let mut q = sqlx::QueryBuilder::new("INSERT INTO obligations (kind, subject_type, subject_id, scope_org_id, period, period_start, period_end, due_at, missed_at, status, created_at) ");
            q.push_values(chunk, |mut b, w| {
                b.push_bind(&okind).push_bind("org").push_bind(w.0).push_bind(w.0).push_bind(&w.1.key).push_bind(w.1.start).push_bind(w.1.end)
                    .push_bind(w.2).push_bind(w.3).push_bind("due").push_bind(now);
            });
            q.push(" ON CONFLICT (kind, subject_type, subject_id, period) DO NOTHING");
            q.build().execute(x).await?.rows_affected()
        });
    }
    Ok(made)
}

/// A member of an organisation's roll, as the planning form offers them.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = MeetingRosterMember)]
pub struct RosterMember {
    pub id: i64,
    pub name: String,
    pub voting: bool,
}

/// The organisation a sitting may be planned for, with its roll.
pub async fn roster_of(
    ctx: &Ctx,
    p: &Principal,
    org_id: i64,
) -> AppResult<(Org, Vec<RosterMember>)> {
    let org = holder_org(ctx, p, org_id).await?;
    let roll = roster(ctx, &org)
        .await?
        .into_iter()
        .map(|(id, name, voting)| RosterMember { id, name, voting })
        .collect();
    Ok((org, roll))
}
