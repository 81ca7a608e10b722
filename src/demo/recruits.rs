//! The demo city's recruitment pipeline: people at every one of the 25 steps, with dates
//! that obey the default rules, plus the edge cases a department meets (an evaluation below
//! the elimination line awaiting its re-visit, an extended probation, an approval past its
//! deadline). Entries are transcribed from paper files (签名方式 `paper`); each person's
//! entries are sealed by one audit entry holding their digests, so every demo file verifies.

use super::names::{GIVEN_FEMALE, GIVEN_MALE, SURNAMES};
use super::{pick_str, weighted};
use crate::audit::{self, Actor, NewEntry};
use crate::crypto::{aad, mask_id_number, mask_phone};
use crate::db::{DbRow, Tx};
use crate::error::AppResult;
use crate::member::idcard;
use crate::recruit::rules::{self as rr, Facts, RecruitRules, StepInput, Verdict, Votes};
use crate::recruit::Signer;
use crate::{on_tx, Ctx};
use chrono::{Duration, NaiveDate};
use rand::rngs::StdRng;
use rand::Rng;
use std::collections::HashSet;

/// A branch that receives applicants: id, region code, work unit.
pub(super) struct Branch {
    pub org_id: i64,
    pub region: String,
    pub unit: String,
}

struct Step {
    no: i64,
    on: NaiveDate,
    input: StepInput,
}

fn days(rng: &mut StdRng, lo: i64, hi: i64) -> Duration {
    Duration::days(rng.gen_range(lo..=hi))
}

/// Generates roughly one person in the pipeline per `per_members` members.
#[allow(clippy::too_many_arguments)]
pub(super) async fn generate(
    ctx: &Ctx,
    tx: &mut Tx,
    rng: &mut StdRng,
    branches: &[Branch],
    count: usize,
    as_of: NaiveDate,
    used: &mut HashSet<String>,
    next_member_id: &mut i64,
) -> AppResult<usize> {
    let r = RecruitRules::default();
    let now = ctx.clock.now();
    let actor = Actor::system("demo");
    // publicity periods count working days on the platform's calendar, like the live ones
    let cal = crate::calendar::store::calendar(
        &ctx.db,
        as_of - Duration::days(365 * 6),
        as_of + Duration::days(120),
    )
    .await?;
    for k in 0..count {
        // a branch with at least two full members (contacts and introducers)
        let mut found = None;
        for _ in 0..20 {
            let Some(b) = branches.get(rng.gen_range(0..branches.len().max(1))) else {
                break;
            };
            let people: Vec<i64> = on_tx!(tx, c => {
                let rows = sqlx::query("SELECT id FROM members WHERE org_id = $1 AND status = 'full' ORDER BY id LIMIT 3")
                    .bind(b.org_id).fetch_all(&mut *c).await?;
                rows.iter().map(|r| r.i64("id")).collect::<Result<Vec<_>, _>>()?
            });
            if people.len() >= 2 {
                found = Some((b, people));
                break;
            }
        }
        let Some((b, people)) = found else {
            continue;
        };
        let male = rng.gen_bool(0.6);
        let mut name = weighted(rng, SURNAMES).to_string();
        let pool = if male { GIVEN_MALE } else { GIVEN_FEMALE };
        let first = pick_str(rng, pool);
        name.push_str(first);
        if rng.gen_bool(0.7) {
            name.push_str(super::names::second_given(rng, pool, first));
        }
        // time in the pipeline: anything from today back to about three years
        let edge = k % 40; // a few deliberate edge cases among the first of every forty
        let span = match edge {
            0 => 600,  // evaluation below 60, awaiting the committee's re-visit
            1 => 1100, // extended probation
            2 => 720,  // approval overdue
            _ => rng.gen_range(0..1150),
        };
        let applied = as_of - Duration::days(span);
        let age = rng.gen_range(19..=38);
        let birth = applied - Duration::days(age * 365 + rng.gen_range(0..360));
        let id_number = loop {
            let id = idcard::compose(&b.region, birth, rng.gen_range(1..999), male);
            if used.insert(id.clone()) {
                break id;
            }
        };
        let phone = format!(
            "1{}{:09}",
            pick_str(rng, &["3", "5", "7", "8"]),
            rng.gen_range(0..1_000_000_000u32)
        );
        let education = pick_str(rng, &["大学本科", "大学专科", "研究生", "高中", "中专"]);
        // walk the steps while their dates are not in the future
        let mut steps: Vec<Step> = Vec::new();
        let mut evaluation: Option<(NaiveDate, i64, i64, &str)> = None;
        let mut publicity: Vec<(i64, NaiveDate, NaiveDate)> = Vec::new();
        let mut d = applied;
        let mut status = "active";
        let mut extended = false;
        let mut activist_on = None;
        let mut admitted_on: Option<NaiveDate> = None;
        let mut probation_end: Option<NaiveDate> = None;
        let mut full_on = None;
        let mut last_review = None;
        let mut full_meeting = None;
        let mut no = 1;
        while no <= 25 {
            let mut input = StepInput {
                step: no,
                ..Default::default()
            };
            let next = match no {
                1 => applied,
                2 => d + days(rng, 7, 25),
                3 => {
                    input.channel = pick_str(rng, &["member", "member", "league"]).into();
                    d + days(rng, 60, 200)
                }
                5 => {
                    input.contacts = vec![people[0]];
                    d + days(rng, 1, 5)
                }
                6 => {
                    let a = activist_on.unwrap_or(d);
                    // two half-yearly reviews, recorded as two entries
                    let first = a + Duration::days(175);
                    if first <= as_of {
                        steps.push(Step {
                            no: 6,
                            on: first,
                            input: input.clone(),
                        });
                        last_review = Some(first);
                    }
                    a + Duration::days(350)
                }
                7 => {
                    let a = activist_on.unwrap_or(d);
                    let ev_on = a + Duration::days(355);
                    if ev_on > as_of {
                        break;
                    }
                    let (org, mass) = if edge == 0 {
                        (62, 50)
                    } else {
                        (rng.gen_range(82..=96), rng.gen_range(78..=95))
                    };
                    let (_, v) = rr::evaluate(org, mass, &r)?;
                    evaluation = Some((ev_on, org, mass, v.as_str()));
                    if v != Verdict::Candidate {
                        break;
                    }
                    let start = a + Duration::days(367);
                    let end = rr::publicity_end(start, r.publicity_working_days, &cal);
                    if start > as_of {
                        break;
                    }
                    publicity.push((7, start, end));
                    end + days(rng, 1, 20)
                }
                9 => {
                    input.introducers = vec![people[0], people[1]];
                    d + days(rng, 5, 15)
                }
                10 => {
                    input.conclusion = "pass".into();
                    d + days(rng, 15, 40)
                }
                11 => {
                    input.training_days = 3;
                    input.training_hours = 24;
                    d + days(rng, 5, 20)
                }
                15 | 23 => {
                    let start = if no == 23 {
                        probation_end.unwrap_or(d) - Duration::days(12)
                    } else {
                        d + days(rng, 3, 10)
                    };
                    if start > as_of {
                        break;
                    }
                    let end = rr::publicity_end(start, r.publicity_working_days, &cal);
                    publicity.push((no, start, end));
                    let on = (end + days(rng, 1, 10)).max(if no == 23 {
                        probation_end.unwrap_or(d)
                    } else {
                        d
                    });
                    // the branch's full members on the meeting date are those entitled
                    let entitled = on_tx!(tx, c => {
                        sqlx::query("SELECT COUNT(*) AS n FROM members WHERE org_id = $1 AND status = 'full' AND full_date <= $2")
                            .bind(b.org_id).bind(on).fetch_one(&mut *c).await?.i64("n")?
                    })
                    .max(1);
                    let present = entitled - rng.gen_range(0..=entitled / 4);
                    input.votes = Some(Votes {
                        entitled,
                        present,
                        yes: present,
                        ..Default::default()
                    });
                    if no == 23 {
                        input.outcome = if edge == 1 && !extended {
                            "extend"
                        } else {
                            "on_time"
                        }
                        .into();
                        if input.outcome == "extend" {
                            input.extension_months = 6;
                        }
                    }
                    on
                }
                17 => {
                    input.outcome = "approve".into();
                    if edge == 2 {
                        break; // the approval is still waiting, past its three months
                    }
                    d + days(rng, 20, 60)
                }
                22 => probation_end.unwrap_or(d) - days(rng, 0, 20),
                24 => {
                    input.outcome = steps
                        .last()
                        .map(|s| s.input.outcome.clone())
                        .unwrap_or_default();
                    input.extension_months =
                        steps.last().map(|s| s.input.extension_months).unwrap_or(0);
                    d + days(rng, 10, 40)
                }
                21 => {
                    let first = d + Duration::days(rng.gen_range(60..150));
                    first.min(probation_end.unwrap_or(first))
                }
                _ => d + days(rng, 3, 15),
            };
            let next = next.max(d);
            if next > as_of {
                break;
            }
            d = next;
            match no {
                3 => activist_on = Some(d),
                6 => last_review = Some(d),
                15 => {
                    admitted_on = Some(d);
                    probation_end = Some(rr::probation_end(d, &r));
                }
                21 => last_review = Some(d),
                23 => full_meeting = Some(d),
                _ => {}
            }
            steps.push(Step {
                no,
                on: d,
                input: input.clone(),
            });
            if no == 24 {
                if input.outcome == "extend" {
                    extended = true;
                    probation_end = probation_end.map(|e| rr::add_months(e, 6));
                    full_meeting = None;
                    no = 21;
                    continue;
                }
                full_on = probation_end;
            }
            if no == 25 {
                status = "completed";
            }
            no += 1;
        }
        // the pointer: the last step done, or back to 21 after an extension
        let step = match steps.last() {
            Some(s) if s.no == 24 && s.input.outcome == "extend" => 21,
            Some(s) => s.no,
            None => 1,
        };
        // the roster: admitted people are probationary or full members
        let member_id = if steps.iter().any(|s| s.no == 17) {
            *next_member_id += 1;
            let mid = *next_member_id;
            let (py, ini) = crate::member::pinyin::keys(&name);
            let v = &ctx.vault;
            on_tx!(tx, c => {
                sqlx::query("INSERT INTO members (id, org_id, name, name_pinyin, name_initials, gender, ethnicity, birth_month, id_enc, id_idx, id_masked, phone_enc, phone_idx, phone_masked, key_version, education, work_unit, region_code, join_date, full_date, status, created_at, updated_at) \
                             VALUES ($1, $2, $3, $4, $5, $6, '汉族', $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $21)")
                    .bind(mid).bind(b.org_id).bind(&name).bind(py).bind(ini).bind(if male { "M" } else { "F" }).bind(crate::member::month_of(birth))
                    .bind(v.encrypt(&aad("members", "id_enc", mid), &id_number)).bind(v.blind_index("id", &id_number)).bind(mask_id_number(&id_number))
                    .bind(v.encrypt(&aad("members", "phone_enc", mid), &phone)).bind(v.blind_index("phone", &phone)).bind(mask_phone(&phone))
                    .bind(v.key_version() as i64).bind(education).bind(&b.unit).bind(&id_number[..6])
                    .bind(admitted_on).bind(full_on).bind(if full_on.is_some() { "full" } else { "probationary" }).bind(now)
                    .execute(&mut *c).await?;
            });
            Some(mid)
        } else {
            None
        };
        let candidate_on = steps.iter().find(|s| s.no == 7).map(|s| s.on);
        let rid = tx.reserve_ids("recruits", 1).await?[0];
        on_tx!(tx, c => {
            sqlx::query("INSERT INTO recruits (id, org_id, name, gender, ethnicity, birth_month, id_enc, id_idx, id_masked, phone_enc, phone_masked, key_version, education, work_unit, applied_on, step, status, channel, activist_on, candidate_on, admitted_on, probation_end, extended, full_on, member_id, created_at, updated_at) \
                         VALUES ($25, $1, $2, $3, '汉族', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $24)")
                .bind(b.org_id).bind(&name).bind(if male { "M" } else { "F" }).bind(crate::member::month_of(birth))
                .bind(ctx.vault.encrypt(&aad("recruits", "id_enc", rid), &id_number)).bind(ctx.vault.blind_index("id", &id_number)).bind(mask_id_number(&id_number))
                .bind(ctx.vault.encrypt(&aad("recruits", "phone_enc", rid), &phone)).bind(mask_phone(&phone)).bind(ctx.vault.key_version() as i64)
                .bind(education).bind(&b.unit).bind(applied).bind(step).bind(status)
                .bind(steps.iter().find(|s| s.no == 3).map(|s| s.input.channel.clone()))
                .bind(activist_on).bind(candidate_on).bind(admitted_on).bind(probation_end).bind(extended).bind(full_on).bind(member_id).bind(now).bind(rid)
                .execute(&mut *c).await?;
        });
        let mut digests = Vec::new();
        for s in &steps {
            let data = serde_json::to_value(&s.input).unwrap_or_default();
            let note = "";
            let digest = crate::recruit::store::entry_digest(rid, s.no, s.on, &data, note, None);
            let signers = r.signers_for(s.no);
            let required = signers
                .iter()
                .map(|x| x.as_str())
                .collect::<Vec<_>>()
                .join(",");
            on_tx!(tx, c => {
                let eid = sqlx::query("INSERT INTO recruit_entries (recruit_id, step, done_on, data_json, note, required, complete, digest, recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $9) RETURNING id")
                    .bind(rid).bind(s.no).bind(s.on).bind(data.to_string()).bind(note).bind(&required).bind(true).bind(&digest).bind(now)
                    .fetch_one(&mut *c).await?.i64("id")?;
                for sg in &signers {
                    sqlx::query("INSERT INTO recruit_signatures (entry_id, signer_role, account_id, signer_name, method, signed_at) VALUES ($1, $2, NULL, $3, 'paper', $4)")
                        .bind(eid).bind(sg.as_str()).bind(format!("{}（纸质档案补录）", signer_name(*sg))).bind(now)
                        .execute(&mut *c).await?;
                }
                for (ids, what) in [(&s.input.contacts, "contact"), (&s.input.introducers, "introducer")] {
                    for m in ids.iter() {
                        sqlx::query("INSERT INTO recruit_people (recruit_id, entry_id, role, member_id) VALUES ($1, $2, $3, $4)")
                            .bind(rid).bind(eid).bind(what).bind(*m).execute(&mut *c).await?;
                    }
                }
            });
            digests.push(digest);
        }
        let mut eval_fact = None;
        if let Some((on, org, mass, verdict)) = evaluation {
            let (tenths, v) = rr::evaluate(org, mass, &r)?;
            let st = if v == Verdict::Eliminate {
                "pending_revisit"
            } else {
                "effective"
            };
            eval_fact = Some((tenths, v, st == "pending_revisit"));
            on_tx!(tx, c => {
                sqlx::query("INSERT INTO recruit_evaluations (recruit_id, evaluated_on, org_score, mass_score, total_tenths, verdict, status, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                    .bind(rid).bind(on).bind(org).bind(mass).bind(tenths).bind(verdict).bind(st).bind(now).execute(&mut *c).await?;
            });
        }
        for (before, start, end) in &publicity {
            on_tx!(tx, c => {
                sqlx::query("INSERT INTO recruit_publicity (recruit_id, before_step, starts_on, ends_on, created_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(rid).bind(*before).bind(*start).bind(*end).bind(now).execute(&mut *c).await?;
            });
        }
        let facts = Facts {
            step,
            status: status.into(),
            applied_on: Some(applied),
            activist_on,
            last_review_on: last_review,
            evaluation: eval_fact,
            admitted_on,
            full_meeting_on: full_meeting,
            probation_end,
            extended,
            ..Default::default()
        };
        let due = rr::dues(&facts, &r, None)
            .into_iter()
            .min_by_key(|x| x.due_on);
        on_tx!(tx, c => {
            sqlx::query("UPDATE recruits SET due_on = $1, due_what = $2 WHERE id = $3")
                .bind(due.as_ref().map(|x| x.due_on)).bind(due.as_ref().map(|x| x.what.clone())).bind(rid).execute(&mut *c).await?;
        });
        audit::append(
            tx,
            &actor,
            NewEntry {
                action: "recruit.import",
                object_type: "recruit",
                object_id: rid.to_string(),
                before: serde_json::Value::Null,
                after: serde_json::json!({"source": "纸质档案补录（演示数据）", "step": step, "status": status, "digests": digests}),
            },
        )
        .await?;
    }
    Ok(count)
}

fn signer_name(s: Signer) -> &'static str {
    s.label()
}

/// 向阳计划: people in the three talent pools, recommended through the three channels and
/// followed up (some late, some withdrawn); one in ten of the pipeline's applicants came
/// from a pool, so their tracking ended with the application.
pub(super) async fn talents(
    ctx: &Ctx,
    tx: &mut Tx,
    rng: &mut StdRng,
    branches: &[Branch],
    count: usize,
    as_of: NaiveDate,
    used: &mut HashSet<String>,
) -> AppResult<usize> {
    let r = RecruitRules::default();
    let now = ctx.clock.now();
    let v = &ctx.vault;
    let mut written = 0;
    let recommenders = |pool: &str| match pool {
        "youth" => &["镇团委", "村团支部", "县团委", "学校团委"][..],
        "skilled" => &["县总工会", "企业工会", "镇工会"][..],
        _ => &["村妇联", "镇妇联", "县妇联"][..],
    };
    let reasons = |pool: &str| match pool {
        "youth" => &[
            "返乡创业，带动村民发展电商",
            "大学生村官，工作积极",
            "青年志愿者骨干，服务群众热情",
            "退役军人，带头参与乡村治理",
        ][..],
        "skilled" => &[
            "市级技术能手，带徒传艺",
            "岗位技术骨干，多次获评先进",
            "农机技术员，服务周边农户",
        ][..],
        _ => &[
            "巾帼致富带头人",
            "带领妇女发展手工编织",
            "热心邻里调解，群众认可",
            "家庭农场主，诚信经营",
        ][..],
    };
    for _ in 0..count {
        let Some(b) = branches.get(rng.gen_range(0..branches.len().max(1))) else {
            break;
        };
        let pool = weighted(rng, &[("youth", 5), ("skilled", 3), ("women", 2)]).to_string();
        let channel = weighted(rng, &[("organisation", 6), ("self", 2), ("online", 2)]).to_string();
        let male = pool != "women" && rng.gen_bool(0.6);
        let recommended = as_of - days(rng, 0, 540);
        let age = if pool == "youth" {
            rng.gen_range(18..=33)
        } else {
            rng.gen_range(24..=50)
        };
        let birth = recommended - Duration::days(age * 365 + rng.gen_range(0..360));
        let id_number = loop {
            let id = idcard::compose(&b.region, birth, rng.gen_range(1..999), male);
            if used.insert(id.clone()) {
                break id;
            }
        };
        let given = if male { GIVEN_MALE } else { GIVEN_FEMALE };
        let mut name = weighted(rng, SURNAMES).to_string();
        name.push_str(pick_str(rng, given));
        if rng.gen_bool(0.7) {
            name.push_str(pick_str(rng, given));
        }
        let phone = format!(
            "1{}{:09}",
            pick_str(rng, &["3", "5", "8"]),
            rng.gen_range(0..1_000_000_000u32)
        );
        let recommender = match channel.as_str() {
            "self" => "本人",
            "online" => "网上推荐平台",
            _ => pick_str(rng, recommenders(&pool)),
        };
        // follow-ups about every 80 days; one in eight people has been let slip
        let mut contacts = Vec::new();
        let mut d = recommended + days(rng, 20, 80);
        let slipping = rng.gen_bool(0.125);
        while d <= as_of && !(slipping && d + Duration::days(120) > as_of) {
            contacts.push(d);
            d += days(rng, 60, 88);
        }
        let withdrawn = rng.gen_bool(0.08);
        let last = contacts.last().copied();
        let due = (!withdrawn)
            .then(|| crate::recruit::talent::contact_due(last.unwrap_or(recommended), &r));
        let tid = tx.reserve_ids("talents", 1).await?[0];
        on_tx!(tx, c => {
            sqlx::query("INSERT INTO talents (id, org_id, pool, channel, name, gender, birth_month, id_enc, id_idx, id_masked, phone_enc, phone_masked, key_version, work_unit, recommender, recommended_on, reason, status, last_contact, due_on, closed_note, created_at, updated_at) \
                         VALUES ($22, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $21)")
                .bind(b.org_id).bind(&pool).bind(&channel).bind(&name).bind(if male { "M" } else { "F" }).bind(crate::member::month_of(birth))
                .bind(v.encrypt(&aad("talents", "id_enc", tid), &id_number)).bind(v.blind_index("id", &id_number)).bind(mask_id_number(&id_number))
                .bind(v.encrypt(&aad("talents", "phone_enc", tid), &phone)).bind(mask_phone(&phone)).bind(v.key_version() as i64)
                .bind(&b.unit).bind(recommender).bind(recommended).bind(pick_str(rng, reasons(&pool)))
                .bind(if withdrawn { "withdrawn" } else { "tracking" }).bind(last).bind(due)
                .bind(withdrawn.then_some("外出务工，暂停跟踪")).bind(now).bind(tid)
                .execute(&mut *c).await?;
        });
        for on in contacts {
            let note = pick_str(
                rng,
                &[
                    "谈心谈话，了解思想状况",
                    "参加主题党日活动",
                    "参加志愿服务，表现积极",
                    "推荐学习党的基本知识",
                    "走访所在单位了解表现",
                ],
            );
            on_tx!(tx, c => {
                sqlx::query("INSERT INTO talent_contacts (talent_id, done_on, note, recorded_by, recorded_at) VALUES ($1, $2, $3, NULL, $4)")
                    .bind(tid).bind(on).bind(note).bind(now).execute(&mut *c).await?;
            });
        }
        written += 1;
    }
    // applicants who came from a pool
    let rows = on_tx!(tx, c => {
        let rows = sqlx::query("SELECT id, org_id, name, gender, birth_month, id_enc, id_idx, id_masked, phone_enc, phone_masked, key_version, work_unit, applied_on FROM recruits WHERE id % 10 = 3 ORDER BY id")
            .fetch_all(&mut *c).await?;
        rows.iter().map(|r| Ok((r.i64("id")?, r.i64("org_id")?, r.string("name")?, r.string("gender")?, r.date("birth_month")?,
            (r.bytes("id_enc")?, r.string("id_idx")?, r.string("id_masked")?, r.opt_bytes("phone_enc")?, r.opt_string("phone_masked")?, r.i64("key_version")?),
            r.string("work_unit")?, r.date("applied_on")?))).collect::<Result<Vec<_>, crate::db::DbError>>()?
    });
    for (
        rid,
        org_id,
        name,
        gender,
        birth,
        (id_enc, id_idx, id_masked, phone_enc, phone_masked, kv),
        unit,
        applied,
    ) in rows
    {
        let pool = if gender == "F" && rng.gen_bool(0.4) {
            "women"
        } else if crate::member::age_in_months(birth, applied) <= 33 {
            "youth"
        } else {
            "skilled"
        };
        let recommended = applied - days(rng, 90, 400);
        let channel = weighted(rng, &[("organisation", 6), ("self", 2), ("online", 2)]);
        // the same person's numbers, encrypted again for the talent's own row (a ciphertext
        // is bound to its place)
        let tid = tx.reserve_ids("talents", 1).await?[0];
        let v = &ctx.vault;
        let rebind = |col: &str, enc: &[u8]| -> AppResult<Vec<u8>> {
            let plain = v
                .decrypt_bytes(&aad("recruits", col, rid), enc)
                .map_err(|e| {
                    crate::error::AppError::Internal(format!("recruit {rid} {col}: {e}"))
                })?;
            Ok(v.encrypt_bytes(&aad("talents", col, tid), &plain))
        };
        let id_enc = rebind("id_enc", &id_enc)?;
        let phone_enc = phone_enc.map(|p| rebind("phone_enc", &p)).transpose()?;
        on_tx!(tx, c => {
            sqlx::query("INSERT INTO talents (id, org_id, pool, channel, name, gender, birth_month, id_enc, id_idx, id_masked, phone_enc, phone_masked, key_version, work_unit, recommender, recommended_on, reason, status, recruit_id, last_contact, created_at, updated_at) \
                         VALUES ($20, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 'applied', $17, $18, $19, $19)")
                .bind(org_id).bind(pool).bind(channel).bind(&name).bind(&gender).bind(birth)
                .bind(&id_enc).bind(&id_idx).bind(&id_masked).bind(&phone_enc).bind(&phone_masked).bind(kv)
                .bind(&unit).bind(pick_str(rng, recommenders(pool))).bind(recommended).bind(pick_str(rng, reasons(pool)))
                .bind(rid).bind(applied - days(rng, 10, 60)).bind(now).bind(tid)
                .execute(&mut *c).await?;
        });
        written += 1;
    }
    Ok(written)
}
