//! A year of 组织生活 for every branch, as the default rules ask it: the theme day each month
//! (carrying the assembly in a quarter's last month, the lecture in its middle one, the
//! 组织生活会 and the 民主评议 in December), the committee a week before where the branch has
//! one; most filed within days, some late, some never held; members signed in, on leave or
//! absent; now and then an observer from the county. Every sitting fulfils its obligations as
//! the platform would have, and the months not held are missed obligations, so compliance,
//! warnings and 工作台 all have something to show.

use crate::db::{DbRow, Tx};
use crate::error::AppResult;
use crate::meeting::{self, MeetingRules};
use crate::obligation::Period;
use crate::on_tx;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use rand::rngs::StdRng;
use rand::Rng;
use std::collections::HashMap;

const SUMMARIES: [&str; 5] = [
    "集中学习党的二十大精神和上级有关文件，党员结合自身工作谈体会；支部书记通报本月工作安排。",
    "传达学习县委、乡镇党委会议精神，讨论村集体经济发展和人居环境整治，党员逐一发言。",
    "学习党章和《中国共产党支部工作条例（试行）》，观看专题片，开展志愿服务，清扫村内道路。",
    "通报上季度工作完成情况，研究下季度重点任务；党员对村级事务提出意见建议。",
    "重温入党誓词，学习先进典型事迹，围绕为群众办实事开展讨论。",
];
const LEAVE: [&str; 4] = ["外出务工", "身体不适", "家中有事", "在外地就医"];
const OBSERVERS: [&str; 6] = ["王立新", "刘红梅", "孙建军", "赵晓燕", "陈志强", "李文静"];

/// (meeting, member, name, voting, status, reason, signed at)
type AttRow = (
    i64,
    i64,
    String,
    bool,
    &'static str,
    &'static str,
    Option<DateTime<Utc>>,
);
/// (kind, branch, period, due, missed at, status, fulfilled by (meeting, at))
type OblRow = (
    String,
    i64,
    Period,
    DateTime<Utc>,
    DateTime<Utc>,
    &'static str,
    Option<(i64, DateTime<Utc>)>,
);

struct Sitting {
    id: i64,
    org_id: i64,
    kinds: Vec<&'static str>,
    day: NaiveDate,
    /// filed this many days after the sitting; none: held but not yet filed
    filed_after: Option<i64>,
    planned: bool,
}

/// Writes the year; returns (sittings, attendance rows).
pub(super) async fn generate(
    tx: &mut Tx,
    rng: &mut StdRng,
    as_of: NaiveDate,
    zone: &crate::clock::Zone,
) -> AppResult<(usize, usize)> {
    let rules = MeetingRules::default();
    let now = zone.start_of(as_of) + Duration::hours(12);
    let branches = on_tx!(tx, c => {
        let rows = sqlx::query("SELECT id, has_committee, committee_size FROM orgs WHERE kind IN ('branch', 'joint_branch') ORDER BY id")
            .fetch_all(&mut *c).await?;
        rows.iter().map(|r| Ok((r.i64("id")?, r.bool("has_committee")?, r.i64("committee_size")?))).collect::<crate::db::DbResult<Vec<_>>>()?
    });
    let mut roster: HashMap<i64, Vec<(i64, String, bool)>> = HashMap::new();
    on_tx!(tx, c => {
        let rows = sqlx::query("SELECT id, org_id, name, status FROM members WHERE status IN ('full', 'probationary') ORDER BY org_id, id")
            .fetch_all(&mut *c).await?;
        for r in rows {
            roster.entry(r.i64("org_id")?).or_default().push((r.i64("id")?, r.string("name")?, r.string("status")? == "full"));
        }
    });
    // the twelve months ending with as_of's
    let first = NaiveDate::from_ymd_opt(as_of.year(), as_of.month(), 1)
        .and_then(|m| m.checked_sub_months(chrono::Months::new(11)))
        .unwrap_or(as_of);
    let nine = NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default();
    let mut sittings = Vec::new();
    let mut next_id = 1i64;
    for (org, has_committee, _) in &branches {
        let members = roster.get(org).map(Vec::len).unwrap_or(0);
        if members == 0 {
            continue;
        }
        let full = roster
            .get(org)
            .map(|r| r.iter().filter(|m| m.2).count())
            .unwrap_or(0) as i64;
        // a branch that lets its life slide now and then, and a few that do not hold it at all
        let slack: f64 = match rng.gen_range(0..100) {
            0..=79 => 0.02,
            80..=95 => 0.15,
            _ => 0.5,
        };
        for k in 0..12 {
            let month = crate::recruit::rules::add_months(first, k);
            let Some(theme) = meeting::theme_day(month.year(), month.month(), &rules) else {
                continue;
            };
            let mut kinds = vec!["theme_day"];
            match month.month() % 3 {
                0 => kinds.insert(0, "assembly"),
                2 => kinds.push("lecture"),
                _ => {}
            }
            if month.month() == 12 {
                kinds.extend(["life", "appraisal"]);
            }
            let mut days = vec![(theme, kinds)];
            if *has_committee && full >= rules.committee_from_full_members {
                days.push((theme - Duration::days(7), vec!["committee"]));
            }
            for (day, kinds) in days {
                let ahead = day >= as_of;
                if !ahead && rng.gen_bool(slack) {
                    continue; // never held
                }
                let age = (as_of - day).num_days();
                let filed_after = if ahead || (age <= 3 && rng.gen_bool(0.6)) {
                    None // ahead, or held a few days ago and not yet filed
                } else if rng.gen_bool(0.06) {
                    Some(rng.gen_range(35..60).min(age)) // filed late
                } else {
                    Some(rng.gen_range(0..6).min(age))
                };
                sittings.push(Sitting {
                    id: next_id,
                    org_id: *org,
                    kinds,
                    day,
                    filed_after,
                    planned: ahead,
                });
                next_id += 1;
            }
        }
    }
    let committee: HashMap<i64, i64> = branches.iter().map(|b| (b.0, b.2)).collect();
    // the sittings, their rolls and observers
    let mut rows_att = 0usize;
    let mut att: Vec<AttRow> = Vec::new();
    let mut obs: Vec<(i64, &'static str, &'static str, DateTime<Utc>)> = Vec::new();
    for chunk in sittings.chunks(500) {
        let mut mrows = Vec::with_capacity(chunk.len());
        for s in chunk {
            let mut members = roster.get(&s.org_id).cloned().unwrap_or_default();
            // a committee meeting's roll is the committee (its first members here)
            if s.kinds == ["committee"] {
                members.truncate(committee.get(&s.org_id).copied().unwrap_or(3).max(3) as usize);
            }
            let starts = zone.instant(s.day.and_time(nine));
            let ends = starts + Duration::hours(2);
            let (mut present, mut vexp, mut vpres) = (0i64, 0i64, 0i64);
            let notified = !s.planned || (s.day - as_of).num_days() <= 7;
            if notified {
                let mut roll: Vec<(&'static str, &'static str, Option<DateTime<Utc>>)> = members
                    .iter()
                    .map(|_| {
                        if s.planned {
                            ("expected", "", None)
                        } else {
                            match rng.gen_range(0..100) {
                                0..=84 => (
                                    "present",
                                    "",
                                    Some(starts + Duration::minutes(rng.gen_range(-20..10))),
                                ),
                                85..=93 => ("leave", LEAVE[rng.gen_range(0..LEAVE.len())], None),
                                _ => ("absent", "", None),
                            }
                        }
                    })
                    .collect();
                // a filed assembly had its quorum: the absent voters it needed came after all
                if !s.planned && s.kinds.contains(&"assembly") {
                    let voters = members.iter().filter(|m| m.2).count();
                    for (i, m) in members.iter().enumerate() {
                        let there = members
                            .iter()
                            .zip(&roll)
                            .filter(|(m, r)| m.2 && r.0 == "present")
                            .count();
                        if there * 2 > voters {
                            break;
                        }
                        if m.2 && roll[i].0 != "present" {
                            roll[i] = ("present", "", Some(starts + Duration::minutes(5)));
                        }
                    }
                }
                for ((mid, name, voting), (status, reason, signed)) in members.iter().zip(roll) {
                    if *voting {
                        vexp += 1;
                    }
                    if status == "present" {
                        present += 1;
                        if *voting {
                            vpres += 1;
                        }
                    }
                    att.push((s.id, *mid, name.clone(), *voting, status, reason, signed));
                }
            }
            if !s.planned && s.kinds.contains(&"theme_day") && rng.gen_bool(0.08) {
                obs.push((
                    s.id,
                    OBSERVERS[rng.gen_range(0..OBSERVERS.len())],
                    "upper",
                    starts - Duration::minutes(5),
                ));
            }
            let host = members.first().map(|m| m.1.clone()).unwrap_or_default();
            let recorder = members
                .get(1)
                .map(|m| m.1.clone())
                .unwrap_or_else(|| host.clone());
            let status = match (s.planned, s.filed_after) {
                (_, Some(_)) => "filed",
                _ if notified => "notified",
                _ => "planned",
            };
            let filed_at = s
                .filed_after
                .map(|d| (starts + Duration::days(d) + Duration::hours(6)).min(now));
            let title = format!(
                "{}{}",
                s.day.format("%-m月%-d日"),
                meeting::kinds_label(&s.kinds.iter().map(|k| k.to_string()).collect::<Vec<_>>())
            );
            let summary = if status == "filed" {
                SUMMARIES[rng.gen_range(0..SUMMARIES.len())]
            } else {
                ""
            };
            let lecturer = if status == "filed" && s.kinds.contains(&"lecture") {
                host.clone()
            } else {
                String::new()
            };
            mrows.push((
                s,
                title,
                starts,
                ends,
                status,
                host,
                recorder,
                lecturer,
                summary,
                filed_at,
                (members.len() as i64, present, vexp, vpres),
            ));
        }
        on_tx!(tx, c => {
            let mut q = sqlx::QueryBuilder::new("INSERT INTO meetings (id, org_id, kinds, title, held_on, starts_at, ends_at, place, status, sign_code, host, recorder, lecturer, summary, \
                expected, present, voting_expected, voting_present, notified_at, filed_at, signer, created_at) ");
            q.push_values(&mrows, |mut b, (s, title, starts, ends, status, host, recorder, lecturer, summary, filed_at, roll)| {
                let filed = *status == "filed";
                b.push_bind(s.id).push_bind(s.org_id).push_bind(s.kinds.join(",")).push_bind(title).push_bind(s.day).push_bind(*starts).push_bind(*ends)
                    .push_bind("党员活动室").push_bind(*status)
                    .push_bind(if *status == "notified" { Some(format!("{:06}", 100_000 + s.id % 900_000)) } else { None })
                    .push_bind(if filed { host.as_str() } else { "" }).push_bind(if filed { recorder.as_str() } else { "" }).push_bind(lecturer.as_str()).push_bind(*summary)
                    .push_bind(roll.0).push_bind(if filed { roll.1 } else { 0 }).push_bind(roll.2).push_bind(if filed { roll.3 } else { 0 })
                    .push_bind((*status != "planned").then(|| *starts - Duration::days(3)))
                    .push_bind(*filed_at).push_bind(if filed { host.as_str() } else { "" }).push_bind(*starts - Duration::days(10));
            });
            q.build().execute(&mut *c).await?;
        });
        rows_att += att.len();
        for part in att.chunks(2000) {
            on_tx!(tx, c => {
                let mut q = sqlx::QueryBuilder::new("INSERT INTO meeting_attendance (meeting_id, member_id, name, voting, status, reason, signed_at, via) ");
                q.push_values(part, |mut b, a| {
                    b.push_bind(a.0).push_bind(a.1).push_bind(&a.2).push_bind(a.3).push_bind(a.4).push_bind(a.5).push_bind(a.6)
                        .push_bind(if a.4 == "present" { "code" } else { "" });
                });
                q.build().execute(&mut *c).await?;
            });
        }
        att.clear();
        if !obs.is_empty() {
            on_tx!(tx, c => {
                let mut q = sqlx::QueryBuilder::new("INSERT INTO meeting_observers (meeting_id, name, unit, category, signed_at) ");
                q.push_values(&obs, |mut b, o| {
                    b.push_bind(o.0).push_bind(o.1).push_bind("县委组织部").push_bind(o.2).push_bind(o.3);
                });
                q.build().execute(&mut *c).await?;
            });
            obs.clear();
        }
    }
    // the obligations: each owed period of each branch, fulfilled by its filed sitting or not
    let mut filed: HashMap<(i64, &'static str, String), (i64, DateTime<Utc>)> = HashMap::new();
    for s in &sittings {
        let Some(d) = s.filed_after else { continue };
        let at =
            (zone.instant(s.day.and_time(nine)) + Duration::days(d) + Duration::hours(6)).min(now);
        for k in &s.kinds {
            let Some(p) = rules
                .requirement(k)
                .and_then(|rq| meeting::period_of(&rq.period, s.day))
            else {
                continue;
            };
            filed.entry((s.org_id, k, p.key)).or_insert((s.id, at));
        }
    }
    let mut obl: Vec<OblRow> = Vec::new();
    let mut written = 0usize;
    for (org, has_committee, _) in &branches {
        let full = roster
            .get(org)
            .map(|r| r.iter().filter(|m| m.2).count())
            .unwrap_or(0) as i64;
        if roster.get(org).is_none_or(Vec::is_empty) {
            continue;
        }
        let holder = meeting::Holder {
            branch: true,
            has_committee: *has_committee,
            full_members: full,
        };
        for (kind, _) in meeting::KINDS {
            if !meeting::owes(kind, &holder, &rules) {
                continue;
            }
            let Some(rq) = rules.requirement(kind) else {
                continue;
            };
            let mut seen = std::collections::HashSet::new();
            for k in 0..12 {
                let Some(p) =
                    meeting::period_of(&rq.period, crate::recruit::rules::add_months(first, k))
                else {
                    continue;
                };
                if p.start < first || !seen.insert(p.key.clone()) {
                    continue;
                }
                let (due, missed) = meeting::due_and_missed(&p, &rules, zone);
                let by = filed.get(&(*org, kind, p.key.clone())).copied();
                let status = match by {
                    Some((_, at)) if at <= due => "done",
                    Some(_) => "late",
                    None if missed <= now => "missed",
                    None => "due",
                };
                obl.push((
                    meeting::obligation_kind(kind),
                    *org,
                    p,
                    due,
                    missed,
                    status,
                    by,
                ));
            }
        }
        if obl.len() >= 2000 {
            written += flush(tx, &mut obl, now).await?;
        }
    }
    written += flush(tx, &mut obl, now).await?;
    let _ = written;
    Ok((sittings.len(), rows_att))
}

async fn flush(tx: &mut Tx, rows: &mut Vec<OblRow>, now: DateTime<Utc>) -> AppResult<usize> {
    if rows.is_empty() {
        return Ok(0);
    }
    on_tx!(tx, c => {
        let mut q = sqlx::QueryBuilder::new("INSERT INTO obligations (kind, subject_type, subject_id, scope_org_id, period, period_start, period_end, due_at, missed_at, status, record_type, record_id, fulfilled_at, created_at) ");
        q.push_values(rows.iter(), |mut b, r| {
            b.push_bind(&r.0).push_bind("org").push_bind(r.1).push_bind(r.1).push_bind(&r.2.key).push_bind(r.2.start).push_bind(r.2.end)
                .push_bind(r.3).push_bind(r.4).push_bind(r.5).push_bind(r.6.map(|_| "meeting")).push_bind(r.6.map(|x| x.0)).push_bind(r.6.map(|x| x.1))
                .push_bind(r.2.start.min(now.date_naive()).and_hms_opt(0, 0, 0).map(|t| t.and_utc()).unwrap_or(now));
        });
        q.build().execute(&mut *c).await?;
    });
    let n = rows.len();
    rows.clear();
    Ok(n)
}

/// One 换届 per county: a branch with a committee re-elects it at its latest assembly (when
/// more than ⅘ of its voting members were there), the county approves it a week later, and
/// the committee and the new term are on record; the first county also has a 延期 asked by a
/// branch whose term has run out. Returns (elections, extensions).
pub(super) async fn elections(
    tx: &mut Tx,
    rng: &mut StdRng,
    as_of: NaiveDate,
    zone: &crate::clock::Zone,
) -> AppResult<(usize, usize)> {
    let rules = MeetingRules::default();
    let now = zone.start_of(as_of) + Duration::hours(12);
    let (counties, assemblies, expired) = on_tx!(tx, c => {
        let counties = sqlx::query("SELECT path, name FROM orgs WHERE level = 'county' AND kind = 'committee' ORDER BY path")
            .fetch_all(&mut *c).await?.iter().map(|r| Ok((r.string("path")?, r.string("name")?))).collect::<crate::db::DbResult<Vec<_>>>()?;
        let assemblies = sqlx::query("SELECT m.id, m.org_id, o.path, o.committee_size, m.held_on FROM meetings m JOIN orgs o ON o.id = m.org_id \
                                      WHERE m.status = 'filed' AND m.kinds LIKE 'assembly%' AND o.has_committee = TRUE AND m.held_on >= $1 AND m.held_on <= $2 ORDER BY m.held_on DESC, m.id")
            .bind(as_of - Duration::days(150)).bind(as_of - Duration::days(8)).fetch_all(&mut *c).await?
            .iter().map(|r| Ok((r.i64("id")?, r.i64("org_id")?, r.string("path")?, r.i64("committee_size")?, r.date("held_on")?))).collect::<crate::db::DbResult<Vec<_>>>()?;
        let expired = sqlx::query("SELECT id, path, term_start FROM orgs WHERE kind IN ('branch', 'joint_branch') AND has_committee = TRUE AND term_start IS NOT NULL AND term_start < $1 ORDER BY id")
            .bind(as_of - Duration::days(365 * 5 + 2)).fetch_all(&mut *c).await?
            .iter().map(|r| Ok((r.i64("id")?, r.string("path")?, r.date("term_start")?))).collect::<crate::db::DbResult<Vec<_>>>()?;
        (counties, assemblies, expired)
    });
    let (mut n_elections, mut n_ext) = (0, 0);
    let mut next_no = 1;
    for (ci, (cpath, cname)) in counties.iter().enumerate() {
        for (mid, org, _, size, held) in assemblies
            .iter()
            .filter(|a| a.2.starts_with(cpath.as_str()))
        {
            let roll = on_tx!(tx, c => {
                sqlx::query("SELECT member_id, name, status FROM meeting_attendance WHERE meeting_id = $1 AND voting = TRUE ORDER BY member_id")
                    .bind(*mid).fetch_all(&mut *c).await?
                    .iter().map(|r| Ok((r.i64("member_id")?, r.string("name")?, r.string("status")? == "present"))).collect::<crate::db::DbResult<Vec<_>>>()?
            });
            let expected = roll.len() as i64;
            let present: Vec<&(i64, String, bool)> = roll.iter().filter(|r| r.2).collect();
            let seats = (*size).clamp(3, 5);
            let need = crate::election::min_candidates(seats, rules.election_margin_permille);
            if present.len() as i64 * 1000 <= expected * rules.election_quorum_permille
                || (present.len() as i64) < need
            {
                continue;
            }
            let voters = present.len() as i64;
            let mut cands: Vec<crate::election::Candidate> = present
                .iter()
                .take(need as usize)
                .map(|r| crate::election::Candidate {
                    member_id: r.0,
                    name: r.1.clone(),
                    ..Default::default()
                })
                .collect();
            // those elected well over half of the votes; the one more than the seats under it
            for (i, c) in cands.iter_mut().enumerate() {
                c.votes = if (i as i64) < seats {
                    rng.gen_range(voters / 2 + 1..=voters)
                } else {
                    rng.gen_range(0..=voters / 2)
                };
            }
            let outcome = crate::election::tally(
                seats,
                crate::election::Ballots {
                    issued: voters,
                    returned: voters,
                    invalid: 0,
                },
                &mut cands,
                &rules,
            );
            if outcome.map_or(true, |o| o.unfilled > 0) {
                continue;
            }
            let mut first = true;
            for c in cands.iter_mut().filter(|c| c.elected) {
                c.role = if first { "secretary" } else { "member" }.into();
                first = false;
            }
            let json = serde_json::to_string(&cands).unwrap_or_else(|_| "[]".into());
            let approved = *held + Duration::days(7);
            on_tx!(tx, c => {
                let eid = sqlx::query("INSERT INTO elections (org_id, meeting_id, seats, status, candidates_json, voting_expected, voting_present, ballots_returned, ballots_invalid, \
                                       held_on, recorded_at, approval_no, approved_on, decision_note, created_at) \
                                       VALUES ($1, $2, $3, 'approved', $4, $5, $6, $7, 0, $8, $9, $10, $11, '', $12) RETURNING id")
                    .bind(*org).bind(*mid).bind(seats).bind(&json).bind(expected).bind(voters).bind(voters).bind(*held)
                    .bind(zone.start_of(*held) + Duration::hours(12)).bind(format!("{}委组〔{}〕{}号", cname.trim_start_matches("中共").trim_end_matches("委员会"), held.year(), next_no))
                    .bind(approved).bind(zone.start_of(*held) - Duration::days(20))
                    .fetch_one(&mut *c).await?.i64("id")?;
                for x in cands.iter().filter(|x| x.elected) {
                    sqlx::query("INSERT INTO org_committee (org_id, member_id, name, role, election_id, since) VALUES ($1, $2, $3, $4, $5, $6)")
                        .bind(*org).bind(x.member_id).bind(&x.name).bind(&x.role).bind(eid).bind(*held)
                        .execute(&mut *c).await?;
                }
                sqlx::query("UPDATE orgs SET term_start = $1, term_extended_months = 0, committee_size = $2 WHERE id = $3")
                    .bind(*held).bind(seats).bind(*org).execute(&mut *c).await?;
            });
            next_no += 1;
            n_elections += 1;
            break;
        }
        if ci == 0 {
            if let Some((org, _, start)) = expired.iter().find(|e| e.1.starts_with(cpath.as_str()))
            {
                on_tx!(tx, c => {
                    sqlx::query("INSERT INTO term_extensions (org_id, term_start, months, reason, status, asked_at) VALUES ($1, $2, 6, $3, 'asked', $4)")
                        .bind(*org).bind(*start).bind("村“两委”换届由县委统一部署，拟与村委会换届同步进行").bind(now - Duration::days(2))
                        .execute(&mut *c).await?;
                });
                n_ext += 1;
            }
        }
    }
    Ok((n_elections, n_ext))
}

const SELF_TEXTS: [&str; 4] = [
    "一年来认真学习党的理论和上级文件精神，按时参加组织生活和主题党日，按月交纳党费；在村里环境整治、防汛值守中带头参加。不足是学习不够系统，联系群众还不够经常，今后加以改进。",
    "能够对照党员标准严格要求自己，积极参加支部组织的学习和志愿服务，帮助困难群众解决实际问题。存在的问题是发挥先锋模范作用还不够突出，理论学习的深度不够。",
    "坚持参加“三会一课”，完成支部分配的网格联系任务，及时向支部反映群众诉求。自身在学习上有时存在应付思想，参加集体活动不够主动，今后要加强。",
    "本年度因外出务工参加组织生活次数较少，通过线上方式学习，按时交纳党费。今后要主动与支部保持联系，按时参加组织生活。",
];

/// One 民主评议 round per township (so a county's board has several), decided: a branch (not the demo secretary's, which runs its
/// own) with a 组织生活会 or 党员大会 filed this year, every member's self-assessment, the
/// ballots of most members (by code, a few on paper), the committee's grades and results
/// computed by the rules (a 不合格 now and then, with its handling). Returns the rounds.
pub(super) async fn appraisals(
    tx: &mut Tx,
    rng: &mut StdRng,
    as_of: NaiveDate,
    zone: &crate::clock::Zone,
    skip: i64,
) -> AppResult<usize> {
    let rules = MeetingRules::default();
    let (counties, sittings) = on_tx!(tx, c => {
        let counties = sqlx::query("SELECT path FROM orgs WHERE level = 'township' AND kind = 'committee' ORDER BY path")
            .fetch_all(&mut *c).await?.iter().map(|r| r.string("path")).collect::<crate::db::DbResult<Vec<_>>>()?;
        let sittings = sqlx::query("SELECT m.id, m.org_id, o.path, m.held_on, m.kinds, (SELECT COUNT(*) FROM members x WHERE x.org_id = m.org_id AND x.status IN ('full', 'probationary')) AS n \
                                    FROM meetings m JOIN orgs o ON o.id = m.org_id \
                                    WHERE m.status = 'filed' AND m.held_on >= $1 AND m.held_on <= $2 AND m.org_id <> $3 ORDER BY m.held_on DESC, m.id")
            .bind(NaiveDate::from_ymd_opt(as_of.year(), 1, 1).unwrap_or(as_of)).bind(as_of).bind(skip).fetch_all(&mut *c).await?
            .iter().map(|r| Ok((r.i64("id")?, r.i64("org_id")?, r.string("path")?, r.date("held_on")?, r.string("kinds")?, r.i64("n")?)))
            .collect::<crate::db::DbResult<Vec<_>>>()?;
        (counties, sittings)
    });
    let grades: Vec<&str> = rules
        .appraisal_grades
        .iter()
        .map(|g| g.name.as_str())
        .collect();
    let mut rounds = 0;
    for cpath in &counties {
        let Some((mid, org, _, held, _, _)) = sittings.iter().find(|s| {
            s.2.starts_with(cpath.as_str())
                && (5..=15).contains(&s.5)
                && meeting::parse_kinds(&s.4)
                    .iter()
                    .any(|k| k == "life" || k == "assembly")
        }) else {
            continue;
        };
        let roll = on_tx!(tx, c => {
            sqlx::query("SELECT id, name FROM members WHERE org_id = $1 AND status IN ('full', 'probationary') ORDER BY id")
                .bind(*org).fetch_all(&mut *c).await?
                .iter().map(|r| Ok((r.i64("id")?, r.string("name")?))).collect::<crate::db::DbResult<Vec<_>>>()?
        });
        // how each member is seen: most 合格 or 优秀, now and then one who rarely came
        let standing: Vec<usize> = roll
            .iter()
            .map(|_| match rng.gen_range(0..20) {
                0 => 3,
                1 => 2,
                2..=7 => 0,
                _ => 1,
            })
            .collect();
        let opened = zone.start_of(*held) - Duration::days(14) + Duration::hours(2);
        let aid = on_tx!(tx, c => {
            sqlx::query("INSERT INTO appraisals (org_id, year, status, meeting_id, decided_on, rules_json, created_at) VALUES ($1, $2, 'decided', $3, $4, '{}', $5) RETURNING id")
                .bind(*org).bind(i64::from(held.year())).bind(*mid).bind(*held).bind(opened).fetch_one(&mut *c).await?.i64("id")?
        });
        let mut received: Vec<Vec<&str>> = vec![Vec::new(); roll.len()];
        for (ri, (rater, _)) in roll.iter().enumerate() {
            // one in ten did not rate; one in five rated on paper
            let via = match rng.gen_range(0..10) {
                0 => continue,
                1 | 2 => "paper",
                _ => "code",
            };
            let bid = (rng.gen::<u64>() >> 2) as i64 + 1;
            on_tx!(tx, c => {
                if via == "code" {
                    sqlx::query("INSERT INTO appraisal_voters (appraisal_id, member_id) VALUES ($1, $2)")
                        .bind(aid).bind(*rater).execute(&mut *c).await?;
                }
                sqlx::query("INSERT INTO appraisal_ballots (id, appraisal_id, via) VALUES ($1, $2, $3)")
                    .bind(bid).bind(aid).bind(via).execute(&mut *c).await?;
            });
            for (ti, (target, _)) in roll.iter().enumerate() {
                if ti == ri && via == "code" {
                    continue;
                }
                let s = standing[ti];
                // one rating in four a grade off: 优秀 ↔ 合格, 基本合格 → 合格, 不合格 → 基本合格
                let g = if rng.gen_range(0..4) == 0 {
                    [1, 0, 1, 2][s]
                } else {
                    s
                };
                let comment = if s == 3 && rng.gen_range(0..2) == 0 {
                    "参加组织生活太少，希望多和支部联系"
                } else {
                    ""
                };
                received[ti].push(grades[g.min(grades.len() - 1)]);
                on_tx!(tx, c => {
                    sqlx::query("INSERT INTO appraisal_ratings (ballot_id, appraisal_id, member_id, grade, comment) VALUES ($1, $2, $3, $4, $5)")
                        .bind(bid).bind(aid).bind(*target).bind(grades[g.min(grades.len() - 1)]).bind(comment).execute(&mut *c).await?;
                });
            }
        }
        let mut scores = Vec::new();
        let mut given = Vec::new();
        for (i, (id, _)) in roll.iter().enumerate() {
            let s = standing[i];
            let own = grades[s.min(1)];
            let committee = grades[s];
            let parts = crate::appraisal::parts(own, &received[i], committee, &rules);
            scores.push((*id, crate::appraisal::weighted(parts, &rules).unwrap_or(0)));
            given.push((own, committee, SELF_TEXTS[s.min(SELF_TEXTS.len() - 1)]));
        }
        let out = crate::appraisal::results(&scores, &rules);
        let last = grades.last().copied().unwrap_or("");
        for (i, (id, name)) in roll.iter().enumerate() {
            let Some(o) = out.iter().find(|o| o.member_id == *id) else {
                continue;
            };
            let (own, committee, text) = given[i];
            let (handling, note, on) = if o.grade == last {
                (
                    "correct",
                    "支委会谈话提醒，限期三个月改正，按月向支部书记汇报参加组织生活情况",
                    Some((*held + Duration::days(5)).min(as_of)),
                )
            } else {
                ("", "", None)
            };
            on_tx!(tx, c => {
                sqlx::query("INSERT INTO appraisal_members (appraisal_id, member_id, name, self_text, self_grade, self_at, self_by, committee_grade, score, grade, grade_note, handling, handling_note, handled_on) \
                             VALUES ($1, $2, $3, $4, $5, $6, 'member', $7, $8, $9, $10, $11, $12, $13)")
                    .bind(aid).bind(*id).bind(name).bind(text).bind(own).bind(opened + Duration::days(3)).bind(committee)
                    .bind(o.total).bind(&o.grade).bind(&o.note).bind(handling).bind(note).bind(on)
                    .execute(&mut *c).await?;
            });
        }
        rounds += 1;
    }
    Ok(rounds)
}
