//! The demo city's review campaigns in its first county: last year's, finished with results
//! (grades, ranking, problems in the ledger, the bottom township interviewed), and this
//! year's, mid-meeting with part of the scores in. One rater of this year's has the published
//! code [`DEMO_RATER_CODE`], so a visitor can score on a phone.

use super::names::{GIVEN_FEMALE, GIVEN_MALE, SURNAMES};
use super::{pick_str, weighted};
use crate::db::{DbRow, Tx};
use crate::error::AppResult;
use crate::review::{self as rv, Scheme};
use crate::{on_tx, Ctx};
use chrono::{Datelike, Duration, NaiveDate};
use rand::rngs::StdRng;
use rand::Rng;
use std::collections::BTreeMap;

/// A rater code printed by `dangjian demo` for this year's meeting.
pub const DEMO_RATER_CODE: &str = "DJPF-2026-DM";

fn person(rng: &mut StdRng) -> String {
    let mut n = weighted(rng, SURNAMES).to_string();
    let given = if rng.gen_bool(0.7) {
        GIVEN_MALE
    } else {
        GIVEN_FEMALE
    };
    n.push_str(pick_str(rng, given));
    if rng.gen_bool(0.6) {
        n.push_str(pick_str(rng, given));
    }
    n
}

const ACHIEVEMENTS: &str = "全年整顿软弱涣散村党组织{a}个，新建党群服务中心{b}个，发展党员{c}名，其中35岁以下{d}名；村集体经济收入10万元以上的村达到{e}个。";
const PROBLEMS: &str = "抓党建主业意识还不够牢固，存在形势紧了抓一抓、工作忙了放一放的问题；对村党组织书记培训不够系统，全年仅集中培训{f}次；个别村“三会一课”制度落实不经常，党员教育管理存在宽松软现象；流动党员管理办法不多，{g}名流动党员联系不经常。";
const MEASURES: &str = "一是建立书记抓党建责任清单，每季度专题研究党建工作不少于{h}次；二是实施村党组织书记轮训计划，年内实现全覆盖；三是推行“三会一课”全程纪实，每月通报；四是建立流动党员联系台账，每月联系不少于1次，年底前全部纳入管理。";

/// A report's numbers, drawn so that they agree with each other and with a township's size:
/// those under 35 are part of the new members, a quarter holds a few meetings, not dozens.
fn fill(t: &str, rng: &mut StdRng) -> String {
    let new_members = rng.gen_range(8..40);
    let young = new_members * rng.gen_range(40..80) / 100;
    let values = [
        ("a", rng.gen_range(1..6)),
        ("b", rng.gen_range(1..5)),
        ("c", new_members),
        ("d", young),
        ("e", rng.gen_range(3..20)),
        ("f", rng.gen_range(1..4)),
        ("g", rng.gen_range(5..40)),
        ("h", rng.gen_range(1..4)),
    ];
    let mut s = t.to_string();
    for (k, v) in values {
        s = s.replace(&format!("{{{k}}}"), &v.to_string());
    }
    s
}

/// The raters' units: the county's leaders, its departments, the townships' Party
/// representatives and members of the public (测评 draws its raters from all of them).
fn rater_unit(grp: &str, county: &str, towns: &[(i64, String)], rng: &mut StdRng) -> String {
    const DEPARTMENTS: [&str; 5] = [
        "县委组织部",
        "县委宣传部",
        "县纪委监委",
        "县委统战部",
        "县直机关工委",
    ];
    let town = |rng: &mut StdRng| {
        let t = &towns[rng.gen_range(0..towns.len())].1;
        t.trim_start_matches("中共")
            .trim_end_matches("工作委员会")
            .trim_end_matches("委员会")
            .to_string()
    };
    match grp {
        "leaders" => county.to_string(),
        "members" => DEPARTMENTS[rng.gen_range(0..DEPARTMENTS.len())].to_string(),
        "reps" => format!("{}党代表", town(rng)),
        _ => format!("{}群众代表", town(rng)),
    }
}

/// Writes the two campaigns; returns how many.
pub(super) async fn generate(
    _ctx: &Ctx,
    tx: &mut Tx,
    rng: &mut StdRng,
    root: i64,
    county: (i64, String),
    towns: &[(i64, String)],
    as_of: NaiveDate,
) -> AppResult<usize> {
    if towns.is_empty() {
        return Ok(0);
    }
    let now = _ctx.clock.now();
    let scheme = Scheme::default();
    let scheme_id = on_tx!(tx, c => {
        sqlx::query("INSERT INTO review_schemes (org_id, name, version, scheme_json, created_at) VALUES ($1, '默认方案', 1, $2, $3) RETURNING id")
            .bind(root).bind(serde_json::to_string(&scheme).unwrap_or_default()).bind(now)
            .fetch_one(&mut *c).await?.i64("id")?
    });
    let levels = serde_json::to_string(&["县委组织部审核", "县委书记审核", "市委组织部审核"])
        .unwrap_or_default();
    for (year, finished) in [(as_of.year() - 1, true), (as_of.year(), false)] {
        let selection = serde_json::json!({"all_level": "township", "draw_level": null, "draw_n": 0, "seed": 0, "candidates": [], "drawn": []});
        let title = format!("{year}年度乡镇（街道）党（工）委书记抓基层党建工作述职评议");
        let cid = on_tx!(tx, c => {
            sqlx::query("INSERT INTO review_campaigns (org_id, year, title, scheme_id, levels_json, selection_json, status, opened_at, closed_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $8, $8) RETURNING id")
                .bind(county.0).bind(year as i64).bind(&title).bind(scheme_id).bind(&levels).bind(selection.to_string())
                .bind(if finished { "closed" } else { "meeting" }).bind(now).bind(finished.then_some(now))
                .fetch_one(&mut *c).await?.i64("id")?
        });
        // reporters with approved reports, each reviewed at three levels
        let mut reporters = Vec::new();
        for (org_id, _) in towns {
            let name = person(rng);
            let rid = on_tx!(tx, c => {
                let rid = sqlx::query("INSERT INTO review_reporters (campaign_id, org_id, reporter_name, selected_by, achievements, problems, measures, report_status, review_level, submitted_at) VALUES ($1, $2, $3, 'all', $4, $5, $6, 'approved', 3, $7) RETURNING id")
                    .bind(cid).bind(*org_id).bind(&name).bind(fill(ACHIEVEMENTS, rng)).bind(fill(PROBLEMS, rng)).bind(fill(MEASURES, rng)).bind(now)
                    .fetch_one(&mut *c).await?.i64("id")?;
                for (level, who) in ["县委组织部审核", "县委书记审核", "市委组织部审核"].iter().enumerate() {
                    sqlx::query("INSERT INTO review_report_reviews (reporter_id, level, decision, comments, checklist_json, reviewer, at) VALUES ($1, $2, 'approve', '', $3, $4, $5)")
                        .bind(rid).bind(level as i64).bind(r#"{"causes_analysed":true,"materials_true":true,"measures_solid":true,"problems_found":true}"#)
                        .bind(format!("审核人（{who}，演示数据）")).bind(now).execute(&mut *c).await?;
                }
                rid
            });
            reporters.push((rid, *org_id, name));
        }
        // raters: a third representatives and public
        let groups = [("leaders", 5), ("members", 3), ("reps", 2), ("public", 2)];
        let mut raters = Vec::new();
        for (grp, n) in groups {
            for _ in 0..n {
                let name = person(rng);
                let code = if !finished && raters.is_empty() {
                    DEMO_RATER_CODE.to_string()
                } else {
                    format!("DEMO{cid}R{}", raters.len())
                };
                let hash = crate::crypto::sm3_hex(
                    format!("rater:{}", crate::review::store::normalise_code(&code)).as_bytes(),
                );
                let unit = rater_unit(grp, &county.1, towns, rng);
                let id = on_tx!(tx, c => {
                    sqlx::query("INSERT INTO review_raters (campaign_id, name, grp, unit, code_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
                        .bind(cid).bind(&name).bind(grp).bind(&unit).bind(&hash).bind(now)
                        .fetch_one(&mut *c).await?.i64("id")?
                });
                raters.push((id, grp));
            }
        }
        // scores: every rater in a finished campaign, half of them now (the demo rater not yet)
        let mut by_reporter: BTreeMap<i64, BTreeMap<String, Vec<i64>>> = BTreeMap::new();
        for (i, (rater, grp)) in raters.iter().enumerate() {
            if !finished && (i == 0 || i % 2 == 1) {
                continue;
            }
            for (k, (rid, _, _)) in reporters.iter().enumerate() {
                // some townships do better than others, and raters differ a little
                let answers: BTreeMap<String, String> = scheme
                    .indicators
                    .iter()
                    .map(|ind| {
                        let roll = rng.gen_range(0..100) + (k as i32 % 4) * 8;
                        let lvl = match roll {
                            0..=44 => "good",
                            45..=84 => "fair",
                            85..=109 => "average",
                            _ => "poor",
                        };
                        (ind.key.clone(), lvl.to_string())
                    })
                    .collect();
                let total = rv::score_total(&answers, &scheme)?;
                by_reporter
                    .entry(*rid)
                    .or_default()
                    .entry(grp.to_string())
                    .or_default()
                    .push(total);
                on_tx!(tx, c => {
                    sqlx::query("INSERT INTO review_scores (campaign_id, rater_id, reporter_id, answers_json, total_tenths, comment, submitted_at) VALUES ($1, $2, $3, $4, $5, '', $6)")
                        .bind(cid).bind(*rater).bind(*rid).bind(serde_json::to_string(&answers).unwrap_or_default()).bind(total).bind(now)
                        .execute(&mut *c).await?;
                });
            }
        }
        if !finished {
            continue;
        }
        // critiques become ledger items; results, ranks, the bottom one interviewed
        let closed_on = NaiveDate::from_ymd_opt(year + 1, 1, 20)
            .unwrap_or(as_of)
            .min(as_of);
        for (rid, org_id, name) in &reporters {
            for problem in [
                "对抓基层党建主业意识不强，部署多、督促指导少",
                "软弱涣散村党组织整顿推进慢，缺少有力措施",
            ] {
                let deadline = closed_on + Duration::days(90);
                let (status, closed) = if deadline < as_of {
                    (
                        "closed",
                        Some(deadline - Duration::days(rng.gen_range(1..30))),
                    )
                } else {
                    ("open", None)
                };
                on_tx!(tx, c => {
                    let item = sqlx::query("INSERT INTO rect_items (org_id, supervisor_id, source, source_ref, source_note, owner, problem, measures, plan, opened_on, deadline, status, closed_on, created_at, updated_at) \
                                            VALUES ($1, $2, 'review', $3, $4, $5, $6, '对照点评意见制定整改措施，明确时限，逐项销号', '', $7, $8, $9, $10, $11, $11) RETURNING id")
                        .bind(*org_id).bind(county.0).bind(format!("review:{cid}:{rid}")).bind(&title).bind(name).bind(problem)
                        .bind(closed_on).bind(deadline).bind(status).bind(closed).bind(now)
                        .fetch_one(&mut *c).await?.i64("id")?;
                    if let Some(cl) = closed {
                        sqlx::query("INSERT INTO rect_updates (item_id, kind, done_on, note, account_id, author, at) VALUES ($1, 'pass', $2, '经核验整改到位，予以销号', NULL, '县委组织部核验人（演示数据）', $3)")
                            .bind(item).bind(cl).bind(now).execute(&mut *c).await?;
                    }
                    sqlx::query("INSERT INTO review_critiques (reporter_id, content, is_problem, origin, author, at, item_id) VALUES ($1, $2, $3, 'critique', '县委书记（演示数据）', $4, $5)")
                        .bind(*rid).bind(problem).bind(true).bind(now).bind(item).execute(&mut *c).await?;
                });
            }
        }
        let scores: Vec<(i64, i64, bool)> = reporters
            .iter()
            .map(|(rid, _, _)| {
                (
                    *rid,
                    by_reporter
                        .get(rid)
                        .and_then(|g| rv::aggregate(g, &scheme))
                        .unwrap_or(0),
                    false,
                )
            })
            .collect();
        let ranks = rv::rank(&scores);
        for (rid, score, _) in &scores {
            let rank = ranks.iter().find(|(i, _)| i == rid).map(|(_, r)| *r);
            on_tx!(tx, c => {
                sqlx::query("UPDATE review_reporters SET score_tenths = $1, deduction_tenths = 0, grade = $2, rank = $3 WHERE id = $4")
                    .bind(*score).bind(rv::grade(*score, &scheme)).bind(rank).bind(*rid).execute(&mut *c).await?;
            });
        }
        if let Some((last, _)) = ranks.last() {
            if let Some((_, org_id, name)) = reporters.iter().find(|(r, _, _)| r == last) {
                on_tx!(tx, c => {
                    sqlx::query("INSERT INTO interviews (org_id, interviewee, interviewer, reason, source, source_ref, planned_on, status, held_on, minutes, created_at, updated_at) VALUES ($1, $2, '县委组织部部长', $3, 'review', $4, $5, 'held', $5, '指出述职评议中反映的问题，提出限期整改要求', $6, $6)")
                        .bind(*org_id).bind(name).bind(format!("{title}排名靠后")).bind(format!("review:{cid}:{last}"))
                        .bind(closed_on + Duration::days(7)).bind(now).execute(&mut *c).await?;
                });
            }
        }
    }
    Ok(2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// A report's numbers agree: those under 35 are among the new members, a quarter holds at
    /// most 3 meetings; raters come from the county, its departments and its townships.
    #[test]
    fn reports_and_raters_read_true() {
        let mut rng = StdRng::seed_from_u64(5);
        let towns = vec![
            (1, "中共和新镇委员会".to_string()),
            (2, "中共河寨街道工作委员会".to_string()),
        ];
        for _ in 0..200 {
            let s = fill(
                "发展党员{c}名，其中35岁以下{d}名；每季度不少于{h}次",
                &mut rng,
            );
            let n: Vec<i64> = s
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|x| x.parse().ok())
                .collect();
            // 35 is the age in the text itself
            let (c, d, h) = (n[0], n[2], n[3]);
            assert!(d <= c && (1..=3).contains(&h), "{s}");
            for grp in ["reps", "public"] {
                let u = rater_unit(grp, "中共任城区委员会", &towns, &mut rng);
                assert!(u.starts_with("和新镇") || u.starts_with("河寨街道"), "{u}");
                assert!(!u.contains("委员会") && !u.contains("工作"), "{u}");
            }
        }
        assert_eq!(
            rater_unit("leaders", "中共任城区委员会", &towns, &mut rng),
            "中共任城区委员会"
        );
    }
}
