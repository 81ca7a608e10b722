//! 积分管理 (seed 001, 国网枣庄 and 蒋庄煤矿; seeds 002–004): points for members, branches
//! and branch secretaries, "一事一计分、一月一评分、一季一亮分、一年一兑分".
//!
//! - 一事一计分: every award is an entry with its indicator, subject, date, evidence and
//!   awarder; an indicator's cap per month, quarter or year is checked in the award's
//!   transaction; corrections are reversing entries; an idempotency key applies a retry once.
//! - 一月一评分: a branch closes a month; its entries are frozen and its board published to
//!   the branch's members. A committee closes the month of its branches' and secretaries'
//!   points the same way.
//! - 一季一亮分: the quarterly board ranks members within their branch and branches within
//!   their committee, month by month.
//! - 一年一兑分: the annual total maps to a grade; at most a share (⅓ by default) of a
//!   branch may be 优秀; the branch confirms the result, which is then kept as it was.
//!
//! Every total is a sum over entries, never a kept counter. The indicator catalogue and the
//! grade bands are rule values ([`PointsRules`], kind `points`), published per subtree;
//! each entry keeps the points and the rule version it was awarded under.

pub mod catalogue;
pub mod store;
pub mod web;

use crate::error::AppError;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// Who points are for.
pub const SUBJECTS: [(&str, &str); 4] = [
    ("member", "党员"),
    ("branch", "党支部"),
    ("secretary", "支部书记"),
    // the village's first secretary on duty, scored monthly on a sheet (一月一评分,
    // crate::first_secretary::scoring); entries count for the village's organisation
    ("first_secretary", "第一书记"),
];
/// The period an indicator's cap applies to.
pub const PERIODS: [(&str, &str); 3] = [("month", "每月"), ("quarter", "每季度"), ("year", "每年")];
/// Who may award an indicator: the branch itself, or only a higher organisation.
pub const AWARDERS: [(&str, &str); 2] = [("branch", "党支部"), ("superior", "上级党组织")];
pub const CLAIM_STATUSES: [(&str, &str); 3] = [
    ("pending", "待审核"),
    ("approved", "已通过"),
    ("rejected", "未通过"),
];

use crate::rules::{label, Ratio};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PointsIndicator)]
pub struct Indicator {
    /// Stable code, e.g. `M15`.
    pub key: String,
    /// member, branch or secretary
    pub subject: String,
    /// 政治理论学习, 组织生活, 履职尽责, 创新实践, 志愿服务, 违纪违规 ...
    pub category: String,
    pub name: String,
    /// Per event; negative for a deduction.
    pub points: i64,
    /// The most the indicator may add (or, for a deduction, take) in one period; 0 = no cap.
    pub cap: i64,
    /// month, quarter or year
    pub period: String,
    /// branch or superior
    pub awarder: String,
    /// Members may claim it themselves, with evidence, for approval.
    pub claimable: bool,
    /// An award needs an evidence file.
    pub evidence: bool,
    /// An award takes effect only when approved by someone other than the awarder.
    pub approval: bool,
    /// An area of a score sheet: the scorer gives 0 up to `points` (the full mark) once a
    /// month, on the sheet rather than as an event (first secretaries' six areas).
    #[serde(default)]
    pub scored: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[schema(as = PointsGrade)]
pub struct Grade {
    pub name: String,
    /// The lowest annual total of the grade.
    pub min: i64,
    /// What the grade leads to (推荐评优, 组织处置 ...), shown with the result.
    #[serde(default)]
    pub outcome: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PointsRules {
    pub indicators: Vec<Indicator>,
    /// Annual grades of members, highest first; the last one takes everything below.
    pub grades: Vec<Grade>,
    /// At most this share of a branch's members may be graded in the first grade (优秀).
    #[schema(value_type = Vec<i64>, min_items = 2, max_items = 2)]
    pub excellent_share: Ratio,
    /// Members claim an event at most this many days after it.
    pub claim_days: i64,
    /// Awards may be dated at most this many days back (and never into a closed month).
    pub backdate_days: i64,
    /// Largest evidence file, in MB.
    pub max_evidence_mb: i64,
}

impl Default for PointsRules {
    fn default() -> Self {
        let g = |n: &str, min, outcome: &str| Grade {
            name: n.into(),
            min,
            outcome: outcome.into(),
        };
        Self {
            indicators: catalogue::default_indicators(),
            grades: vec![
                g("优秀", 100, "作为评选优秀共产党员的推荐人选"),
                g("合格", 60, ""),
                g("基本合格", 40, "支部书记谈心谈话，提出改进要求"),
                g("不合格", 0, "按不合格党员组织处置程序办理"),
            ],
            excellent_share: [1, 3],
            claim_days: 30,
            backdate_days: 92,
            max_evidence_mb: 20,
        }
    }
}

impl crate::rules::RuleKind for PointsRules {
    const KIND: &'static str = "points";
    const LABEL: &'static str = "积分管理规则（指标库、年度等次）";
    fn validate(&self) -> Result<(), String> {
        let mut keys = std::collections::BTreeSet::new();
        for i in &self.indicators {
            let what = format!("指标“{}”", i.name);
            if i.key.trim().is_empty() || i.name.trim().is_empty() || i.category.trim().is_empty() {
                return Err("指标的代码、名称和类别不能为空".into());
            }
            if !keys.insert(i.key.as_str()) {
                return Err(format!("指标代码“{}”重复", i.key));
            }
            if label(&SUBJECTS, &i.subject).is_empty()
                || label(&PERIODS, &i.period).is_empty()
                || label(&AWARDERS, &i.awarder).is_empty()
            {
                return Err(format!("{what}的对象、周期或计分主体不正确"));
            }
            if i.points == 0 || i.points.abs() > 100 {
                return Err(format!("{what}每次分值应为非零且不超过100"));
            }
            if i.cap < 0 || (i.cap > 0 && i.cap < i.points.abs()) || i.cap > 1000 {
                return Err(format!("{what}的上限应为0（不设）或不小于每次分值"));
            }
            if i.claimable && (i.subject != "member" || i.points < 0) {
                return Err(format!("{what}：只有党员的加分指标可由本人申报"));
            }
            if (i.subject == "first_secretary") != i.scored {
                return Err(format!(
                    "{what}：第一书记的指标是评分表的评分项，评分项只用于第一书记"
                ));
            }
            if i.scored
                && (i.points <= 0
                    || i.cap != i.points
                    || i.period != "month"
                    || i.awarder != "superior"
                    || i.claimable
                    || i.approval)
            {
                return Err(format!(
                    "{what}：评分项按月由上级评分，满分为正数，周期上限等于满分，不需申报和审核"
                ));
            }
        }
        if !self.indicators.iter().any(|i| i.subject == "member") {
            return Err("至少设置一项党员积分指标".into());
        }
        if self.grades.len() < 2 || self.grades.windows(2).any(|w| w[0].min <= w[1].min) {
            return Err("年度等次至少两档，分数线从高到低".into());
        }
        let [n, d] = self.excellent_share;
        if n < 0 || d <= 0 || n > d {
            return Err("优秀比例应为 0 至 1 之间的分数".into());
        }
        if !(1..=365).contains(&self.claim_days) || !(0..=366).contains(&self.backdate_days) {
            return Err("申报期限1至365天，补记期限0至366天".into());
        }
        if !(1..=200).contains(&self.max_evidence_mb) {
            return Err("佐证材料大小上限应为1至200MB".into());
        }
        Ok(())
    }
}

impl PointsRules {
    pub fn indicator(&self, key: &str) -> Option<&Indicator> {
        self.indicators.iter().find(|i| i.key == key)
    }

    pub fn for_subject<'a>(&'a self, subject: &'a str) -> impl Iterator<Item = &'a Indicator> {
        self.indicators.iter().filter(move |i| i.subject == subject)
    }
}

/// YYYYMM of a date.
pub fn month_key(d: NaiveDate) -> i64 {
    d.year() as i64 * 100 + d.month() as i64
}

/// `2026-03` → 202603.
pub fn parse_month(s: &str) -> Option<i64> {
    let (y, m) = s.trim().split_once('-')?;
    let (y, m): (i64, i64) = (y.parse().ok()?, m.parse().ok()?);
    ((1900..=9999).contains(&y) && (1..=12).contains(&m)).then_some(y * 100 + m)
}

pub fn month_label(m: i64) -> String {
    format!("{:04}-{:02}", m / 100, m % 100)
}

/// `2026-Q3` → (202607, 202609).
pub fn parse_quarter(s: &str) -> Option<(i64, i64)> {
    let (y, q) = s.trim().split_once("-Q")?;
    let (y, q): (i64, i64) = (y.parse().ok()?, q.parse().ok()?);
    ((1900..=9999).contains(&y) && (1..=4).contains(&q))
        .then_some((y * 100 + q * 3 - 2, y * 100 + q * 3))
}

pub fn quarter_of(d: NaiveDate) -> String {
    format!("{}-Q{}", d.year(), (d.month() - 1) / 3 + 1)
}

/// The months of a period containing `on`, as an inclusive YYYYMM range.
pub fn period_range(period: &str, on: NaiveDate) -> (i64, i64) {
    let y = on.year() as i64 * 100;
    let m = on.month() as i64;
    match period {
        "quarter" => {
            let first = (m - 1) / 3 * 3 + 1;
            (y + first, y + first + 2)
        }
        "year" => (y + 1, y + 12),
        _ => (y + m, y + m),
    }
}

/// The months of a range, in order.
pub fn months(from: i64, to: i64) -> Vec<i64> {
    let mut out = Vec::new();
    let mut m = from;
    while m <= to && out.len() < 1200 {
        out.push(m);
        m = if m % 100 == 12 { m + 89 } else { m + 1 };
    }
    out
}

/// Checks an award against its indicator's cap: `net` is what the indicator already gave the
/// subject in the period (reversals included). A cap bounds the period's net in the
/// indicator's direction.
pub fn check_cap(i: &Indicator, net: i64, points: i64) -> Result<(), AppError> {
    if i.cap == 0 {
        return Ok(());
    }
    let after = (net + points) * points.signum();
    if after > i.cap {
        let done = net.abs();
        let period = label(&PERIODS, &i.period);
        return Err(AppError::refused(
            "points.cap",
            if i.points > 0 {
                format!("“{}”{period}最多计{}分，本期已计{done}分", i.name, i.cap)
            } else {
                format!("“{}”{period}最多扣{}分，本期已扣{done}分", i.name, i.cap)
            },
        ));
    }
    Ok(())
}

/// Checks an award's date: not in the future, at most `backdate_days` back, not in a closed
/// month.
pub fn check_date(
    on: NaiveDate,
    today: NaiveDate,
    r: &PointsRules,
    closed: bool,
) -> Result<(), AppError> {
    if on > today {
        return Err(AppError::field("done_on", "日期不能晚于今天"));
    }
    if (today - on).num_days() > r.backdate_days {
        return Err(AppError::field(
            "done_on",
            format!("只能补记{}天内的事项", r.backdate_days),
        ));
    }
    if closed {
        return Err(AppError::refused(
            "points.month_closed",
            format!("{}已关账，积分已冻结", month_label(month_key(on))),
        ));
    }
    Ok(())
}

/// Checks that `who` may award `i`: `superior` indicators only from above the branch.
pub fn check_awarder(i: &Indicator, from_above: bool) -> Result<(), AppError> {
    if i.awarder == "superior" && !from_above {
        return Err(AppError::refused(
            "points.awarder",
            format!("“{}”由上级党组织计分", i.name),
        ));
    }
    Ok(())
}

/// Checks a member's own claim: a claimable indicator, within the claim period, with
/// evidence when the indicator needs it.
pub fn check_claim(
    i: &Indicator,
    on: NaiveDate,
    today: NaiveDate,
    r: &PointsRules,
    has_evidence: bool,
) -> Result<(), AppError> {
    if !i.claimable {
        return Err(AppError::refused(
            "points.not_claimable",
            format!("“{}”不能由本人申报", i.name),
        ));
    }
    if on > today {
        return Err(AppError::field("done_on", "日期不能晚于今天"));
    }
    if (today - on).num_days() > r.claim_days {
        return Err(AppError::field(
            "done_on",
            format!("事项发生{}天内申报", r.claim_days),
        ));
    }
    if i.evidence && !has_evidence {
        return Err(AppError::field("file", "请上传佐证材料"));
    }
    Ok(())
}

/// Checks a score sheet: one score for each area (scored indicator) of `areas`, each from 0 to
/// the area's full mark, and nothing else. Returns the scores in the areas' order.
pub fn check_sheet(
    areas: &[&Indicator],
    scores: &std::collections::BTreeMap<String, i64>,
) -> Result<Vec<i64>, AppError> {
    if areas.is_empty() {
        return Err(AppError::refused(
            "points.no_sheet",
            "积分规则中没有评分项，请先在规则中设置评分表",
        ));
    }
    if let Some(k) = scores.keys().find(|k| !areas.iter().any(|a| &a.key == *k)) {
        return Err(AppError::field(
            "scores",
            format!("评分表中没有“{k}”这一项"),
        ));
    }
    let mut out = Vec::with_capacity(areas.len());
    for a in areas {
        match scores.get(&a.key) {
            None => {
                return Err(AppError::field(
                    &format!("score_{}", a.key),
                    format!("请为“{}”评分", a.name),
                ))
            }
            Some(v) if !(0..=a.points).contains(v) => {
                return Err(AppError::field(
                    &format!("score_{}", a.key),
                    format!("“{}”的得分应在0至{}分之间", a.name, a.points),
                ))
            }
            Some(v) => out.push(*v),
        }
    }
    Ok(out)
}

/// Ranks totals, highest first; equal totals share a rank (1, 2, 2, 4).
pub fn rank(totals: &[(i64, i64)]) -> Vec<(i64, i64, i64)> {
    let mut v: Vec<(i64, i64)> = totals.to_vec();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut out: Vec<(i64, i64, i64)> = Vec::with_capacity(v.len());
    for (i, (id, t)) in v.into_iter().enumerate() {
        let r = match out.last() {
            Some(&(_, pt, pr)) if pt == t => pr,
            _ => i as i64 + 1,
        };
        out.push((id, t, r));
    }
    out
}

/// A member's annual result (一年一兑分).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Outcome {
    pub member_id: i64,
    pub total: i64,
    pub rank: i64,
    pub grade: String,
    /// What the grade leads to.
    #[serde(default)]
    pub outcome: String,
    /// Why the grade differs from the bands, if it does.
    pub note: String,
}

pub fn grade_of(total: i64, r: &PointsRules) -> usize {
    r.grades
        .iter()
        .position(|g| total >= g.min)
        .unwrap_or(r.grades.len().saturating_sub(1))
}

/// Converts a branch's annual totals into grades: the bands first, then at most
/// ⌊n × excellent_share⌋ in the first grade by rank; when the limit falls inside a tie, the
/// whole tie goes to the next grade (the limit is never exceeded).
pub fn convert(totals: &[(i64, i64)], r: &PointsRules) -> Vec<Outcome> {
    convert_in(totals, &r.grades, r.excellent_share, "积分")
}

/// [`convert`] over any grade table and first-grade share (the 民主评议 results use it too);
/// `what` names the total in the note of a member moved down.
pub fn convert_in(
    totals: &[(i64, i64)],
    grades: &[Grade],
    excellent_share: crate::rules::Ratio,
    what: &str,
) -> Vec<Outcome> {
    let ranked = rank(totals);
    let n = ranked.len() as i64;
    let [sn, sd] = excellent_share;
    let allowed = if sd > 0 { n * sn / sd } else { 0 };
    let top = grades.first().map(|g| g.name.clone()).unwrap_or_default();
    ranked
        .iter()
        .map(|&(id, total, rank)| {
            let g = grades
                .iter()
                .position(|g| total >= g.min)
                .unwrap_or(grades.len().saturating_sub(1));
            let mut gi = g;
            let mut note = String::new();
            if g == 0 {
                // everyone ranked at or above this one's rank shares it or is ahead
                let at_or_above = ranked.iter().filter(|x| x.2 <= rank).count() as i64;
                if at_or_above > allowed {
                    gi = 1;
                    note = format!(
                        "{what}达到{top}分数线，但名次（含并列）超出{top}比例（{sn}/{sd}，本支部至多{allowed}名）"
                    );
                }
            }
            let grade = grades.get(gi);
            Outcome {
                member_id: id,
                total,
                rank,
                grade: grade.map(|x| x.name.clone()).unwrap_or_default(),
                outcome: grade.map(|x| x.outcome.clone()).unwrap_or_default(),
                note,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RuleKind;

    fn ind(points: i64, cap: i64, period: &str) -> Indicator {
        Indicator {
            key: "T".into(),
            subject: "member".into(),
            category: "组织生活".into(),
            name: "测试".into(),
            points,
            cap,
            period: period.into(),
            awarder: "branch".into(),
            claimable: false,
            evidence: false,
            approval: false,
            scored: false,
        }
    }

    fn code<T>(r: Result<T, AppError>) -> &'static str {
        match r {
            Ok(_) => "ok",
            Err(e) => e.code(),
        }
    }

    #[test]
    fn the_default_catalogue_is_valid_and_as_large_as_the_seeds() {
        let r = PointsRules::default();
        assert_eq!(r.validate(), Ok(()));
        assert_eq!(r.for_subject("member").count(), 78);
        assert_eq!(r.for_subject("branch").count(), 16);
        assert!(r.for_subject("secretary").count() >= 10);
        let mut dup = r.clone();
        dup.indicators[1].key = dup.indicators[0].key.clone();
        assert!(dup.validate().is_err());
        let mut bad = r.clone();
        bad.indicators[0].cap = 1;
        bad.indicators[0].points = 3;
        assert!(bad.validate().is_err(), "a cap below one event");
        let mut claim = r.clone();
        claim.indicators[0].subject = "branch".into();
        claim.indicators[0].claimable = true;
        assert!(claim.validate().is_err());
        let mut grades = r;
        grades.grades.swap(0, 1);
        assert!(grades.validate().is_err());
    }

    #[test]
    fn caps_hold_at_below_and_above_in_both_directions() {
        let add = ind(3, 9, "month");
        assert_eq!(code(check_cap(&add, 5, 3)), "ok", "below: 8");
        assert_eq!(code(check_cap(&add, 6, 3)), "ok", "at: 9");
        assert_eq!(code(check_cap(&add, 7, 3)), "points.cap", "above: 10");
        // a reversal in the period lowers the net again
        assert_eq!(code(check_cap(&add, 9 - 3, 3)), "ok");
        let deduct = ind(-5, 10, "year");
        assert_eq!(code(check_cap(&deduct, -5, -5)), "ok", "at: -10");
        assert_eq!(code(check_cap(&deduct, -6, -5)), "points.cap", "above: -11");
        assert_eq!(code(check_cap(&deduct, 0, -5)), "ok");
        let free = ind(3, 0, "month");
        assert_eq!(code(check_cap(&free, 3000, 3)), "ok", "no cap");
    }

    #[test]
    fn periods_are_month_ranges() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).expect("date");
        assert_eq!(period_range("month", d(2026, 2, 28)), (202602, 202602));
        assert_eq!(period_range("quarter", d(2026, 2, 28)), (202601, 202603));
        assert_eq!(period_range("quarter", d(2026, 12, 1)), (202610, 202612));
        assert_eq!(period_range("year", d(2026, 7, 1)), (202601, 202612));
        assert_eq!(months(202511, 202602), vec![202511, 202512, 202601, 202602]);
        assert_eq!(parse_quarter("2026-Q4"), Some((202610, 202612)));
        assert_eq!(parse_quarter("2026-Q5"), None);
        assert_eq!(parse_month("2026-13"), None);
        assert_eq!(parse_month("2026-03"), Some(202603));
        assert_eq!(quarter_of(d(2026, 9, 30)), "2026-Q3");
    }

    #[test]
    fn dates_claims_and_awarders() {
        let r = PointsRules::default();
        let today = NaiveDate::from_ymd_opt(2026, 6, 30).expect("date");
        let back = |n| today - chrono::Duration::days(n);
        assert_eq!(code(check_date(today, today, &r, false)), "ok");
        assert_eq!(code(check_date(back(92), today, &r, false)), "ok", "at");
        assert_eq!(
            code(check_date(back(93), today, &r, false)),
            "validation_failed"
        );
        assert_eq!(
            code(check_date(back(-1), today, &r, false)),
            "validation_failed"
        );
        assert_eq!(
            code(check_date(today, today, &r, true)),
            "points.month_closed"
        );
        let mut i = ind(2, 8, "month");
        assert_eq!(
            code(check_claim(&i, today, today, &r, false)),
            "points.not_claimable"
        );
        i.claimable = true;
        i.evidence = true;
        assert_eq!(code(check_claim(&i, back(30), today, &r, true)), "ok", "at");
        assert_eq!(
            code(check_claim(&i, back(31), today, &r, true)),
            "validation_failed"
        );
        assert_eq!(
            code(check_claim(&i, today, today, &r, false)),
            "validation_failed",
            "evidence"
        );
        i.awarder = "superior".into();
        assert_eq!(code(check_awarder(&i, false)), "points.awarder");
        assert_eq!(code(check_awarder(&i, true)), "ok");
    }

    #[test]
    fn ties_share_a_rank() {
        assert_eq!(
            rank(&[(1, 10), (2, 30), (3, 10), (4, 5)]),
            vec![(2, 30, 1), (1, 10, 2), (3, 10, 2), (4, 5, 4)]
        );
        assert!(rank(&[]).is_empty());
    }

    #[test]
    fn annual_grades_respect_the_excellent_share() {
        let r = PointsRules::default();
        let grades = |v: &[(i64, i64)]| -> Vec<(i64, String)> {
            convert(v, &r)
                .into_iter()
                .map(|o| (o.member_id, o.grade))
                .collect()
        };
        // bands: at, below and above each line
        assert_eq!(grade_of(100, &r), 0);
        assert_eq!(grade_of(99, &r), 1);
        assert_eq!(grade_of(60, &r), 1);
        assert_eq!(grade_of(59, &r), 2);
        assert_eq!(grade_of(40, &r), 2);
        assert_eq!(grade_of(39, &r), 3);
        assert_eq!(grade_of(-50, &r), 3);
        // six members, all over the line: at most ⌊6/3⌋ = 2 优秀
        let six: Vec<(i64, i64)> = (1..=6).map(|i| (i, 100 + i)).collect();
        let g = grades(&six);
        assert_eq!(g.iter().filter(|x| x.1 == "优秀").count(), 2);
        assert_eq!(g[0], (6, "优秀".into()));
        assert_eq!(g[1], (5, "优秀".into()));
        assert_eq!(g[2], (4, "合格".into()));
        // a tie across the limit: both go down, the limit is never exceeded
        let tie = [(1, 120), (2, 110), (3, 110), (4, 50), (5, 50), (6, 50)];
        let g = grades(&tie);
        assert_eq!(g[0], (1, "优秀".into()));
        assert_eq!(g[1].1, "合格");
        assert_eq!(g[2].1, "合格");
        assert!(convert(&tie, &r)[1].note.contains("比例"));
        assert!(
            convert(&tie, &r)[0].outcome.contains("优秀共产党员"),
            "the grade's outcome"
        );
        assert_eq!(
            convert(&tie, &r)[1].outcome,
            "",
            "demoted: the next grade's outcome"
        );
        // fewer than the share over the line: the bands alone decide
        let few = [(1, 100), (2, 99), (3, 10)];
        assert_eq!(
            grades(&few),
            vec![(1, "优秀".into()), (2, "合格".into()), (3, "不合格".into())]
        );
        // two members: ⌊2/3⌋ = 0 优秀
        assert_eq!(grades(&[(1, 150), (2, 140)])[0].1, "合格");
    }
}
