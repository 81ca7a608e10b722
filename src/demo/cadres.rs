//! The first county's cadres and a quarter of their weekly work records: the township Party
//! secretaries, the heads and deputy heads of the county's departments; most weeks filed on
//! time (Friday to Monday morning), some late, a few missed — each week's obligation with
//! the status it ended in, so the board, punctuality and 工作台 have something to show.

use super::names::{GIVEN_FEMALE, GIVEN_MALE, SURNAMES};
use super::{pick_str, weighted};
use crate::db::{DbRow, Tx};
use crate::error::AppResult;
use crate::obligation::{monday_of, week};
use crate::work_log::{Followup, Item, WorkLogRules};
use crate::{on_tx, Ctx};
use chrono::{Duration, NaiveDate};
use rand::rngs::StdRng;
use rand::Rng;

/// The county's departments, after 县 or 区 as the county is one.
const DEPARTMENTS: [&str; 16] = [
    "委办公室",
    "政府办公室",
    "发展和改革局",
    "教育和体育局",
    "财政局",
    "人力资源和社会保障局",
    "自然资源和规划局",
    "住房和城乡建设局",
    "交通运输局",
    "农业农村局",
    "水务局",
    "商务局",
    "文化和旅游局",
    "卫生健康局",
    "应急管理局",
    "市场监督管理局",
];

const PARTY_ITEMS: [&str; 10] = [
    "主持召开党委（党组）理论学习中心组学习会",
    "到联系村讲专题党课",
    "督导联系点党支部召开组织生活会",
    "参加所在党支部主题党日活动",
    "调度软弱涣散村党组织整顿进度",
    "与新任村党支部书记谈心谈话",
    "审核本月发展党员材料",
    "听取各支部“三会一课”落实情况汇报",
    "组织党员志愿服务活动",
    "研究部署基层党建述职评议准备工作",
];

const WORK_ITEMS: [&str; 14] = [
    "调度重点工作推进情况",
    "走访企业协调解决用工问题",
    "督导重点项目建设进度",
    "接待来访群众，办理诉求",
    "检查安全生产工作",
    "推进农村人居环境整治",
    "召开专题会议研究年度预算执行",
    "陪同上级检查组督导",
    "调研村集体经济发展情况",
    "组织冬季消防安全检查",
    "协调高标准农田建设用地",
    "审核民生实事项目清单",
    "向党委（党组）汇报阶段工作",
    "推进营商环境问题整改",
];

fn person(rng: &mut StdRng) -> String {
    let mut n = weighted(rng, SURNAMES).to_string();
    let pool = if rng.gen_bool(0.8) {
        GIVEN_MALE
    } else {
        GIVEN_FEMALE
    };
    n.push_str(pick_str(rng, pool));
    n
}

fn items(rng: &mut StdRng, party: bool) -> Vec<Item> {
    let mut v: Vec<Item> = Vec::new();
    for _ in 0..rng.gen_range(2..=4) {
        let text = pick_str(rng, &WORK_ITEMS);
        if !v.iter().any(|i| i.text == text) {
            v.push(Item {
                text: text.to_string(),
                party: false,
            });
        }
    }
    if party {
        v.insert(
            rng.gen_range(0..=v.len()),
            Item {
                text: pick_str(rng, &PARTY_ITEMS).to_string(),
                party: true,
            },
        );
    }
    v
}

/// Registers the county's cadres (managed by the county committee, registered four months
/// before `as_of`) and files their last 12 weeks. Returns (cadres, records).
pub(super) async fn generate(
    ctx: &Ctx,
    tx: &mut Tx,
    rng: &mut StdRng,
    county: (i64, &str),
    towns: &[(i64, String)],
    as_of: NaiveDate,
) -> AppResult<(usize, usize)> {
    let (county, county_name) = county;
    let prefix = if county_name.contains("区委") {
        "区"
    } else {
        "县"
    };
    let zone = ctx.clock.zone();
    let now = ctx.clock.now();
    let rules = WorkLogRules::default();
    let registered = zone.start_of(as_of - Duration::days(120));
    let mut cadres: Vec<(i64, bool)> = Vec::new();
    let mut rows: Vec<(String, String, String, &str, &str)> = Vec::new();
    for (_, town) in towns.iter().take(12) {
        rows.push((
            person(rng),
            town.clone(),
            "党委书记".into(),
            "section_chief",
            "town_head",
        ));
    }
    for d in DEPARTMENTS {
        let head = if d.starts_with("委") || d.starts_with("政府") {
            "主任"
        } else {
            "局长"
        };
        let d = format!("{prefix}{d}");
        rows.push((
            person(rng),
            d.clone(),
            head.into(),
            "section_chief",
            "dept_head",
        ));
        rows.push((
            person(rng),
            d,
            format!("副{head}"),
            "section_deputy",
            "section",
        ));
    }
    for (name, unit, position, rank, category) in rows {
        let id = on_tx!(tx, x => {
            sqlx::query("INSERT INTO cadres (name, managed_by, unit, position, rank, category, weekly_record, status, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', $8, $8) RETURNING id")
                .bind(&name).bind(county).bind(&unit).bind(&position).bind(rank).bind(category).bind(true).bind(registered)
                .fetch_one(&mut *x).await?.i64("id")?
        });
        // a few habitual latecomers
        cadres.push((id, rng.gen_bool(0.15)));
    }
    let this_week = monday_of(as_of);
    let mut records = 0;
    for (id, sloppy) in &cadres {
        let mut last_plan: Vec<Item> = Vec::new();
        for k in (1..=12).rev() {
            let monday = this_week - Duration::days(7 * k);
            let p = week(monday);
            let due = crate::work_log::due_at(monday, &rules, &zone);
            let missed_at = crate::work_log::missed_at(due, &rules);
            let roll: f64 = rng.gen();
            let (miss, late) = if *sloppy {
                (roll < 0.2, roll < 0.5)
            } else {
                (roll < 0.03, roll < 0.1)
            };
            // on time: Friday to Monday morning; late: Monday afternoon to Thursday — in the
            // day's working hours
            let (day, from_hour, to_hour) = if late {
                (rng.gen_range(7..=10), 8, 21)
            } else {
                match rng.gen_range(0..4) {
                    0 => (4, 14, 21),
                    1 => (5, 9, 21),
                    2 => (6, 9, 21),
                    _ => (7, 8, 11),
                }
            };
            let filed = zone.start_of(monday + Duration::days(day))
                + Duration::minutes(rng.gen_range(from_hour * 60..to_hour * 60));
            let filed = if late {
                filed.max(due + Duration::minutes(30))
            } else {
                filed.min(due)
            };
            if miss || filed > now {
                // not yet filed at the demo's moment: the week is still owed
                let open = if now >= missed_at { "missed" } else { "due" };
                on_tx!(tx, x => {
                    sqlx::query("INSERT INTO obligations (kind, subject_type, subject_id, scope_org_id, period, period_start, period_end, due_at, missed_at, status, created_at) \
                                 VALUES ($1, 'cadre', $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                        .bind(crate::work_log::OBLIGATION).bind(id).bind(county).bind(&p.key).bind(p.start).bind(p.end)
                        .bind(due).bind(missed_at).bind(open).bind(zone.start_of(monday)).execute(&mut *x).await?;
                });
                last_plan.clear();
                continue;
            }
            let followups: Vec<Followup> = last_plan
                .iter()
                .map(|i| {
                    let r: f64 = rng.gen();
                    let (outcome, reason) = if r < 0.85 {
                        ("done", "")
                    } else if r < 0.95 {
                        ("partly", "因天气原因顺延，下周继续推进")
                    } else {
                        ("not", "临时承担上级督查接待任务，调整至下周")
                    };
                    Followup {
                        text: i.text.clone(),
                        outcome: outcome.into(),
                        reason: reason.into(),
                    }
                })
                .collect();
            let done = items(rng, true);
            let party_plan = rng.gen_bool(0.5);
            let plan = items(rng, party_plan);
            let status = if late { "late" } else { "done" };
            let log = on_tx!(tx, x => {
                sqlx::query("INSERT INTO work_logs (cadre_id, week_start, done_json, plan_json, followup_json, status, filed_at, submitted_at, locks_at, late, filer_name) \
                             VALUES ($1, $2, $3, $4, $5, 'submitted', $6, $6, $8, $7, '组织部门代为录入') RETURNING id")
                    .bind(id).bind(monday).bind(serde_json::to_string(&done).unwrap_or_default())
                    .bind(serde_json::to_string(&plan).unwrap_or_default())
                    .bind(serde_json::to_string(&followups).unwrap_or_default())
                    .bind(filed).bind(late).bind(crate::work_log::locks_at(filed, &rules))
                    .fetch_one(&mut *x).await?.i64("id")?
            });
            on_tx!(tx, x => {
                sqlx::query("INSERT INTO obligations (kind, subject_type, subject_id, scope_org_id, period, period_start, period_end, due_at, missed_at, status, record_type, record_id, fulfilled_at, created_at) \
                             VALUES ($1, 'cadre', $2, $3, $4, $5, $6, $7, $8, $9, 'work_log', $10, $11, $12)")
                    .bind(crate::work_log::OBLIGATION).bind(id).bind(county).bind(&p.key).bind(p.start).bind(p.end)
                    .bind(due).bind(missed_at).bind(status).bind(log).bind(filed).bind(zone.start_of(monday)).execute(&mut *x).await?;
            });
            last_plan = plan;
            records += 1;
        }
    }
    Ok((cadres.len(), records))
}
