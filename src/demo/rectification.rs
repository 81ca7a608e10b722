//! The demo city's rectification ledger: each county's inspection of its townships, branches'
//! standards self-checks and county interviews of township secretaries, with items open,
//! overdue, awaiting verification and closed (some late), each with its updates.

use super::names::{GIVEN_MALE, SURNAMES};
use super::{pick_str, weighted};
use crate::db::{DbRow, Tx};
use crate::error::AppResult;
use crate::{on_tx, Ctx};
use chrono::{Duration, NaiveDate};
use rand::rngs::StdRng;
use rand::Rng;

/// An organisation the ledger can name: id, parent, whether it is a township committee.
pub(super) struct Unit {
    pub id: i64,
    pub parent_id: i64,
    pub township: bool,
}

const TOWN_PROBLEMS: [&str; 8] = [
    "党委理论学习中心组学习不经常，全年仅开展4次",
    "基层党建述职问题清单整改不到位",
    "发展党员工作程序不规范，部分材料缺少签名",
    "软弱涣散村党组织整顿进度滞后",
    "党费收缴不及时，个别支部存在代缴现象",
    "村级党群服务中心功能发挥不充分",
    "村“两委”班子分工不明确，议事规则执行不严",
    "第一书记驻村天数不足，考勤记录不全",
];
const BRANCH_PROBLEMS: [&str; 7] = [
    "三会一课记录不完整，缺少党小组会记录",
    "主题党日活动内容单一，党员参与率不高",
    "党员积分公示不及时",
    "组织生活会会前谈心谈话覆盖不全",
    "党员档案材料缺失",
    "流动党员联系不经常，未按月登记去向",
    "党务公开栏内容未按季度更新",
];
const MEASURES: [&str; 4] = [
    "制定整改方案，明确责任人和时间节点，逐项销号",
    "补齐相关记录，建立月度自查制度",
    "召开专题会议研究整改措施，党委书记督办",
    "开展专项培训，规范工作流程",
];
const PROGRESS: [&str; 4] = [
    "已召开支委会研究整改方案",
    "已补齐部分记录，剩余部分本月完成",
    "已对照标准逐项自查，形成问题清单",
    "组织委员现场督导，推进整改",
];

fn person(rng: &mut StdRng) -> String {
    let mut n = weighted(rng, SURNAMES).to_string();
    n.push_str(pick_str(rng, GIVEN_MALE));
    n
}

#[allow(clippy::too_many_arguments)]
async fn item(
    tx: &mut Tx,
    rng: &mut StdRng,
    org: &Unit,
    source: &str,
    source_ref: Option<String>,
    note: &str,
    owner: &str,
    problem: &str,
    opened: NaiveDate,
    as_of: NaiveDate,
) -> AppResult<()> {
    let now = tx.now;
    let deadline = opened + Duration::days(rng.gen_range(30..=120));
    // how it stands today
    let roll = rng.gen_range(0..100);
    let (status, closed_on) = if deadline < as_of {
        match roll {
            0..=59 => (
                "closed",
                Some(
                    (deadline - Duration::days(rng.gen_range(0..20)))
                        .max(opened + Duration::days(7)),
                ),
            ),
            60..=69 => (
                "closed",
                Some((deadline + Duration::days(rng.gen_range(1..25))).min(as_of)),
            ),
            70..=79 => ("pending", None),
            _ => ("open", None),
        }
    } else if roll < 15 {
        ("pending", None)
    } else {
        ("open", None)
    };
    let id = on_tx!(tx, c => {
        sqlx::query("INSERT INTO rect_items (org_id, supervisor_id, source, source_ref, source_note, owner, problem, measures, plan, opened_on, deadline, status, closed_on, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) RETURNING id")
            .bind(org.id).bind(org.parent_id).bind(source).bind(&source_ref).bind(note).bind(owner).bind(problem)
            .bind(pick_str(rng, &MEASURES)).bind("一月内制定方案，两月内基本完成，到期前申请销号")
            .bind(opened).bind(deadline).bind(status).bind(closed_on).bind(now)
            .fetch_one(&mut *c).await?.i64("id")?
    });
    let author = if org.township {
        "镇党委组织委员（演示数据）"
    } else {
        "党支部书记（演示数据）"
    };
    let mut updates: Vec<(&str, NaiveDate, &str, &str)> = Vec::new();
    let mid = (opened + Duration::days(rng.gen_range(5..25))).min(as_of);
    updates.push(("progress", mid, pick_str(rng, &PROGRESS), author));
    match (status, closed_on) {
        ("closed", Some(c)) => {
            let asked = (c - Duration::days(rng.gen_range(1..6))).max(mid);
            updates.push((
                "request",
                asked,
                "已按整改措施完成整改，相关记录和照片附后",
                author,
            ));
            updates.push((
                "pass",
                c,
                "经现场核验，整改到位，予以销号",
                "上级党组织核验人（演示数据）",
            ));
        }
        ("pending", _) => {
            let asked = (as_of - Duration::days(rng.gen_range(0..10))).max(mid);
            updates.push(("request", asked, "已完成整改，申请销号", author));
        }
        _ => {}
    }
    for (kind, on, note, author) in updates {
        on_tx!(tx, c => {
            sqlx::query("INSERT INTO rect_updates (item_id, kind, done_on, note, account_id, author, at) VALUES ($1, $2, $3, $4, NULL, $5, $6)")
                .bind(id).bind(kind).bind(on).bind(note).bind(author).bind(now).execute(&mut *c).await?;
        });
    }
    Ok(())
}

/// Writes the ledger; returns (items, interviews).
pub(super) async fn generate(
    _ctx: &Ctx,
    tx: &mut Tx,
    rng: &mut StdRng,
    units: &[Unit],
    as_of: NaiveDate,
) -> AppResult<(usize, usize)> {
    let mut items = 0;
    let mut interviews = 0;
    let mut towns = 0;
    for u in units {
        if u.township {
            towns += 1;
            // the county's inspection round
            let round = if rng.gen_bool(0.5) {
                "县委第一轮巡察"
            } else {
                "县委第二轮巡察"
            };
            let opened = as_of - Duration::days(rng.gen_range(20..330));
            let secretary = format!("{}（镇党委书记）", person(rng));
            for _ in 0..rng.gen_range(1..=3) {
                let problem = pick_str(rng, &TOWN_PROBLEMS);
                item(
                    tx,
                    rng,
                    u,
                    "inspection",
                    None,
                    round,
                    &secretary,
                    problem,
                    opened,
                    as_of,
                )
                .await?;
                items += 1;
            }
            // one township in eight was interviewed after the review; one more is due to be
            if towns % 8 == 1 || towns % 8 == 5 {
                let held = towns % 8 == 1;
                let planned = as_of
                    - Duration::days(if held {
                        rng.gen_range(15..200)
                    } else {
                        -rng.gen_range(1..20)
                    });
                let interviewer = "县委组织部部长";
                let vid = on_tx!(tx, c => {
                    sqlx::query("INSERT INTO interviews (org_id, interviewee, interviewer, reason, source, planned_on, status, held_on, minutes, created_at, updated_at) \
                                 VALUES ($1, $2, $3, $4, 'review', $5, $6, $7, $8, $9, $9) RETURNING id")
                        .bind(u.id).bind(&secretary).bind(interviewer).bind("抓基层党建工作述职评议排名靠后")
                        .bind(planned).bind(if held { "held" } else { "planned" }).bind(held.then_some(planned))
                        .bind(held.then_some("指出基层组织建设、党员教育管理两方面问题，要求限期整改，列入整改台账"))
                        .bind(_ctx.clock.now()).fetch_one(&mut *c).await?.i64("id")?
                });
                interviews += 1;
                if held {
                    for problem in ["软弱涣散村党组织整顿进度滞后", "党员教育培训覆盖面不足"]
                    {
                        let note = format!("{interviewer}约谈{secretary}");
                        item(
                            tx,
                            rng,
                            u,
                            "interview",
                            Some(format!("interview:{vid}")),
                            &note,
                            &secretary,
                            problem,
                            planned,
                            as_of,
                        )
                        .await?;
                        items += 1;
                    }
                }
            }
        } else if rng.gen_range(0..6) == 0 {
            let opened = as_of - Duration::days(rng.gen_range(5..300));
            let owner = format!("{}（党支部书记）", person(rng));
            let problem = pick_str(rng, &BRANCH_PROBLEMS);
            item(
                tx,
                rng,
                u,
                "self_check",
                None,
                "对照基层党建标准化148项标准自查",
                &owner,
                problem,
                opened,
                as_of,
            )
            .await?;
            items += 1;
        }
    }
    Ok((items, interviews))
}
