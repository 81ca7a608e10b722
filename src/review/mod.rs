//! 述职评议考核 (seeds 003, 001, 000, 004): Party secretaries report on their Party-building
//! work and are reviewed, scored and ranked. A campaign names the reviewing organisation, the
//! reporters (all units of one level plus a reproducible random draw from another: 峄城
//! "7+3"), the scheme (indicators, rater groups and their weights, grades) and the levels that
//! review each report before the meeting. Reports keep the seed's shape (achievements at most a
//! third, problems and rectification at least a third each); the meeting opens only with every
//! report approved and enough representatives and public among the raters; raters score by
//! real name on a phone; the reviewing secretary names at least two key problems per reporter
//! before the meeting closes. Results are weighted, graded and ranked, with 一票否定 and
//! 一票肯定 as recorded decisions; the bottom ones get an interview and every problem goes to
//! the rectification ledger.
//!
//! Rules first (pure functions over [`ReviewRules`] and a [`Scheme`]); persistence and use
//! cases in `store.rs`; pages and API in `web.rs`.

pub mod store;
pub mod web;

use crate::error::AppError;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A ratio as numerator and denominator (`[1, 3]` = one third), compared exactly.
use crate::rules::Ratio;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ReviewRules {
    /// Achievements take at most this share of a report.
    #[schema(value_type = Vec<i64>, min_items = 2, max_items = 2)]
    pub achievements_max: Ratio,
    /// Problems take at least this share.
    #[schema(value_type = Vec<i64>, min_items = 2, max_items = 2)]
    pub problems_min: Ratio,
    /// Rectification measures take at least this share.
    #[schema(value_type = Vec<i64>, min_items = 2, max_items = 2)]
    pub measures_min: Ratio,
    /// Fewer figures than this in a report draws a warning (用具体事例和数据说话).
    pub min_figures: i64,
    /// A report of fewer characters is not a report.
    pub min_report_chars: i64,
    /// Representatives and the public together are at least this share of the raters.
    #[schema(value_type = Vec<i64>, min_items = 2, max_items = 2)]
    pub public_min: Ratio,
    /// The rater groups that count as representatives or public.
    pub public_groups: Vec<String>,
    /// Key problems the reviewing secretary names for each reporter at least.
    pub critique_min: i64,
    /// The lowest-ranked this many reporters get an interview (约谈).
    pub bottom_interviews: i64,
    /// Reporters tied across the cut of `bottom_interviews` are treated alike: `true` (the
    /// default) interviews all of them (more than the number), `false` none of them (fewer).
    pub bottom_ties_included: bool,
    /// Days the rectification of a review problem gets.
    pub rectify_days: i64,
    /// Deduct the rectification ledger's penalty for items overdue in the campaign year.
    pub deduct_overdue: bool,
}

impl Default for ReviewRules {
    fn default() -> Self {
        Self {
            achievements_max: [1, 3],
            problems_min: [1, 3],
            measures_min: [1, 3],
            min_figures: 5,
            min_report_chars: 300,
            public_min: [1, 3],
            public_groups: vec!["reps".into(), "public".into()],
            critique_min: 2,
            bottom_interviews: 1,
            bottom_ties_included: true,
            rectify_days: 90,
            deduct_overdue: true,
        }
    }
}

fn ratio_ok(r: Ratio) -> bool {
    r[0] >= 0 && r[1] > 0 && r[0] <= r[1]
}

impl crate::rules::RuleKind for ReviewRules {
    const KIND: &'static str = "review";
    const LABEL: &'static str = "述职评议规则";
    fn validate(&self) -> Result<(), String> {
        for r in [
            self.achievements_max,
            self.problems_min,
            self.measures_min,
            self.public_min,
        ] {
            if !ratio_ok(r) {
                return Err("比例应写作 [分子, 分母]，且 0 ≤ 分子 ≤ 分母".into());
            }
        }
        if [
            self.min_figures,
            self.min_report_chars,
            self.critique_min,
            self.bottom_interviews,
            self.rectify_days,
        ]
        .iter()
        .any(|v| *v < 0)
        {
            return Err("规则值不能为负数".into());
        }
        if self.rectify_days < 1 {
            return Err("整改期限至少1天".into());
        }
        Ok(())
    }
}

// ---- the scheme ----

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[schema(as = ReviewIndicator)]
pub struct Indicator {
    pub key: String,
    pub name: String,
    /// Weight in percent; the indicators' weights sum to 100.
    pub weight: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Level {
    pub key: String,
    /// 好, 较好, 一般, 差
    pub name: String,
    /// Score of the level, 0–100.
    pub score: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Group {
    pub key: String,
    pub name: String,
    /// Weight in percent of the group's mean in the result; the weights sum to 100.
    pub weight: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[schema(as = ReviewGrade)]
pub struct Grade {
    pub name: String,
    /// The lowest score of the band, in points.
    pub min: i64,
}

/// Indicators, levels, rater groups and grades: what raters score and how it adds up.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Scheme {
    pub indicators: Vec<Indicator>,
    pub levels: Vec<Level>,
    pub groups: Vec<Group>,
    /// Best first; the last band is what a veto gives.
    pub grades: Vec<Grade>,
}

fn s(x: &str) -> String {
    x.to_string()
}

impl Default for Scheme {
    /// The seed's six key points, four levels, four rater groups and four grades.
    fn default() -> Self {
        let ind = |k: &str, n: &str, w| Indicator {
            key: s(k),
            name: s(n),
            weight: w,
        };
        let lvl = |k: &str, n: &str, sc| Level {
            key: s(k),
            name: s(n),
            score: sc,
        };
        let grp = |k: &str, n: &str, w| Group {
            key: s(k),
            name: s(n),
            weight: w,
        };
        let gr = |n: &str, m| Grade { name: s(n), min: m };
        Self {
            indicators: vec![
                ind("duty", "履行第一责任人职责", 20),
                ind("service", "基层服务型党组织建设", 20),
                ind("support", "强化工作保障", 15),
                ind("members", "党员队伍建设", 15),
                ind("organisation", "基层组织建设", 15),
                ind("rectification", "问题整改落实", 15),
            ],
            levels: vec![
                lvl("good", "好", 100),
                lvl("fair", "较好", 80),
                lvl("average", "一般", 60),
                lvl("poor", "差", 40),
            ],
            groups: vec![
                grp("leaders", "领导班子成员", 40),
                grp("members", "党员代表", 20),
                grp("reps", "两代表一委员", 20),
                grp("public", "群众代表", 20),
            ],
            grades: vec![gr("好", 90), gr("较好", 80), gr("一般", 60), gr("差", 0)],
        }
    }
}

impl Scheme {
    pub fn validate(&self) -> Result<(), String> {
        let unique = |keys: Vec<&str>| keys.iter().collect::<BTreeSet<_>>().len() == keys.len();
        if self.indicators.is_empty() || self.levels.is_empty() || self.groups.is_empty() {
            return Err("方案须有指标、评价档次和评议人类别".into());
        }
        if self.indicators.iter().map(|i| i.weight).sum::<i64>() != 100
            || self.indicators.iter().any(|i| i.weight <= 0)
        {
            return Err("各指标权重为正，合计100".into());
        }
        if self.groups.iter().map(|g| g.weight).sum::<i64>() != 100
            || self.groups.iter().any(|g| g.weight < 0)
        {
            return Err("各类评议人权重不为负，合计100".into());
        }
        if self.levels.iter().any(|l| !(0..=100).contains(&l.score)) {
            return Err("评价档次的分值应在0至100之间".into());
        }
        if !unique(self.indicators.iter().map(|i| i.key.as_str()).collect())
            || !unique(self.levels.iter().map(|i| i.key.as_str()).collect())
            || !unique(self.groups.iter().map(|i| i.key.as_str()).collect())
        {
            return Err("指标、档次、评议人类别的代码不能重复".into());
        }
        if self.grades.is_empty()
            || self.grades.windows(2).any(|w| w[0].min <= w[1].min)
            || self.grades.last().is_some_and(|g| g.min != 0)
        {
            return Err("等次按分数线从高到低排列，最后一档分数线为0".into());
        }
        Ok(())
    }

    pub fn group(&self, key: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.key == key)
    }
}

// ---- reports ----

/// The size of a report's three parts, in characters (whitespace not counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Shape {
    pub achievements: i64,
    pub problems: i64,
    pub measures: i64,
}

fn chars(t: &str) -> i64 {
    t.chars().filter(|c| !c.is_whitespace()).count() as i64
}

impl Shape {
    pub fn of(achievements: &str, problems: &str, measures: &str) -> Self {
        Self {
            achievements: chars(achievements),
            problems: chars(problems),
            measures: chars(measures),
        }
    }
    pub fn total(&self) -> i64 {
        self.achievements + self.problems + self.measures
    }
}

fn pct(r: Ratio) -> String {
    if r[1] == 3 && r[0] == 1 {
        "三分之一".into()
    } else {
        format!("{}/{}", r[0], r[1])
    }
}

/// The seed's shape rules: achievements at most, problems and measures at least, their share.
pub fn check_shape(s: &Shape, r: &ReviewRules) -> Result<(), AppError> {
    let total = s.total();
    if total < r.min_report_chars.max(1) {
        return Err(AppError::field(
            "achievements",
            format!(
                "述职报告过短（{total}字，至少{}字）",
                r.min_report_chars.max(1)
            ),
        ));
    }
    let share = |part: i64| format!("{}%", part * 100 / total);
    if s.achievements * r.achievements_max[1] > r.achievements_max[0] * total {
        return Err(AppError::refused(
            "review.too_much_achievement",
            format!(
                "谈成绩不多于{}，现占{}（{}字/{}字）",
                pct(r.achievements_max),
                share(s.achievements),
                s.achievements,
                total
            ),
        ));
    }
    if s.problems * r.problems_min[1] < r.problems_min[0] * total {
        return Err(AppError::refused(
            "review.too_few_problems",
            format!(
                "谈问题不少于{}，现占{}（{}字/{}字）",
                pct(r.problems_min),
                share(s.problems),
                s.problems,
                total
            ),
        ));
    }
    if s.measures * r.measures_min[1] < r.measures_min[0] * total {
        return Err(AppError::refused(
            "review.too_few_measures",
            format!(
                "谈整改不少于{}，现占{}（{}字/{}字）",
                pct(r.measures_min),
                share(s.measures),
                s.measures,
                total
            ),
        ));
    }
    Ok(())
}

/// How many figures a text cites: runs of digits (ASCII or full-width), with a decimal part.
pub fn count_figures(text: &str) -> i64 {
    let mut n = 0;
    let mut in_num = false;
    for c in text.chars() {
        let digit = c.is_ascii_digit() || ('０'..='９').contains(&c);
        let joins = in_num && (c == '.' || c == '．' || c == ',');
        if digit && !in_num {
            n += 1;
        }
        in_num = digit || joins;
    }
    n
}

// ---- the meeting ----

/// Representatives and the public must be at least the rule's share of the raters.
pub fn check_raters(groups: &BTreeMap<String, i64>, r: &ReviewRules) -> Result<(), AppError> {
    let total: i64 = groups.values().sum();
    if total == 0 {
        return Err(AppError::refused(
            "review.no_raters",
            "尚未登记评议人，不能开会",
        ));
    }
    let public: i64 = r.public_groups.iter().filter_map(|g| groups.get(g)).sum();
    if public * r.public_min[1] < r.public_min[0] * total {
        return Err(AppError::refused(
            "review.too_few_public",
            format!(
                "两代表一委员和群众代表应不少于评议人的{}（现{public}人/共{total}人）",
                pct(r.public_min)
            ),
        ));
    }
    Ok(())
}

/// A rater's total for one reporter, in tenths of a point: the indicators' weighted level
/// scores. Every indicator must be answered with a level of the scheme.
pub fn score_total(answers: &BTreeMap<String, String>, scheme: &Scheme) -> Result<i64, AppError> {
    let mut sum = 0;
    for ind in &scheme.indicators {
        let Some(level) = answers
            .get(&ind.key)
            .and_then(|k| scheme.levels.iter().find(|l| &l.key == k))
        else {
            return Err(AppError::field(&ind.key, format!("请评价“{}”", ind.name)));
        };
        sum += ind.weight * level.score;
    }
    if let Some(extra) = answers
        .keys()
        .find(|k| !scheme.indicators.iter().any(|i| &&i.key == k))
    {
        return Err(AppError::field(extra, "没有这一评价指标"));
    }
    // weights sum to 100 and scores are at most 100: sum/10 is tenths of a point
    Ok(sum / 10)
}

/// The result of one reporter: the mean total of each rater group, weighted by the groups'
/// weights (renormalised over the groups that scored). `None` when nobody scored.
pub fn aggregate(by_group: &BTreeMap<String, Vec<i64>>, scheme: &Scheme) -> Option<i64> {
    let mut weighted = 0i64;
    let mut weights = 0i64;
    for g in &scheme.groups {
        if let Some(list) = by_group.get(&g.key).filter(|l| !l.is_empty()) {
            let mean2 = list.iter().sum::<i64>() * 2 / list.len() as i64; // doubled for rounding
            weighted += mean2 * g.weight;
            weights += g.weight;
        }
    }
    if weights == 0 {
        return None;
    }
    // round half up: (2x / w + 1) / 2
    Some((weighted / weights + 1) / 2)
}

/// The grade of a score (tenths), best band first.
pub fn grade(tenths: i64, scheme: &Scheme) -> String {
    scheme
        .grades
        .iter()
        .find(|g| tenths >= g.min * 10)
        .or(scheme.grades.last())
        .map(|g| g.name.clone())
        .unwrap_or_default()
}

/// Final standing of a reporter after the decisions: a veto (一票否定) forces the lowest grade
/// and the bottom of the ranking; an affirmation (一票肯定) gives the top grade unless vetoed.
pub fn final_grade(tenths: i64, vetoed: bool, affirmed: bool, scheme: &Scheme) -> String {
    if vetoed {
        scheme
            .grades
            .last()
            .map(|g| g.name.clone())
            .unwrap_or_default()
    } else if affirmed {
        scheme
            .grades
            .first()
            .map(|g| g.name.clone())
            .unwrap_or_default()
    } else {
        grade(tenths, scheme)
    }
}

/// Who gets the 排名靠后 interview: the last `n` of `ranks` (in ranking order, best first), with
/// reporters tied at the cut treated alike — all of them interviewed when `include_ties`, else
/// none of them. In ranking order.
pub fn bottom(ranks: &[(i64, i64)], n: usize, include_ties: bool) -> Vec<i64> {
    let len = ranks.len();
    let n = n.min(len);
    if n == 0 {
        return Vec::new();
    }
    let mut cut = len - n; // the first interviewed
    if cut > 0 && ranks[cut - 1].1 == ranks[cut].1 {
        let tied = ranks[cut].1;
        if include_ties {
            while cut > 0 && ranks[cut - 1].1 == tied {
                cut -= 1;
            }
        } else {
            while cut < len && ranks[cut].1 == tied {
                cut += 1;
            }
        }
    }
    ranks[cut..].iter().map(|r| r.0).collect()
}

/// Differential ranking (差异化排名): by score, highest first, vetoed ones last; equal scores
/// share a rank and the next rank skips (1, 2, 2, 4). Returns (id, rank) in ranking order.
pub fn rank(list: &[(i64, i64, bool)]) -> Vec<(i64, i64)> {
    let mut v: Vec<&(i64, i64, bool)> = list.iter().collect();
    v.sort_by(|a, b| a.2.cmp(&b.2).then(b.1.cmp(&a.1)).then(a.0.cmp(&b.0)));
    let mut out = Vec::with_capacity(v.len());
    for (i, x) in v.iter().enumerate() {
        let r = match i.checked_sub(1).and_then(|j| v.get(j)) {
            Some(prev) if prev.1 == x.1 && prev.2 == x.2 => {
                out.last().map(|(_, r)| *r).unwrap_or(1)
            }
            _ => i as i64 + 1,
        };
        out.push((x.0, r));
    }
    out
}

/// The reproducible draw of `n` among `candidates` (ids, in a stable order) from `seed`:
/// anyone with the seed and the list gets the same draw.
pub fn draw(candidates: &[i64], n: usize, seed: u64) -> Vec<i64> {
    let mut pool: Vec<i64> = candidates.to_vec();
    pool.sort_unstable();
    let mut rng = StdRng::seed_from_u64(seed);
    let n = n.min(pool.len());
    for i in 0..n {
        let j = rng.gen_range(i..pool.len());
        pool.swap(i, j);
    }
    let mut picked = pool[..n].to_vec();
    picked.sort_unstable();
    picked
}

/// Every reporter has at least the rule's number of key problems named.
pub fn check_critiques(counts: &[(String, i64)], r: &ReviewRules) -> Result<(), AppError> {
    let short: Vec<String> = counts
        .iter()
        .filter(|(_, n)| *n < r.critique_min)
        .map(|(name, n)| format!("{name}（{n}条）"))
        .collect();
    if !short.is_empty() {
        return Err(AppError::refused(
            "review.critiques_missing",
            format!(
                "每位述职人至少点评{}条关键问题，尚未完成：{}",
                r.critique_min,
                short.join("、")
            ),
        ));
    }
    Ok(())
}

/// The four conditions without which the meeting is not held (seed 003), checked by each
/// reviewer of a report.
pub const CHECKLIST: [(&str, &str); 4] = [
    ("problems_found", "问题找得准"),
    ("causes_analysed", "原因剖析深"),
    ("measures_solid", "整改措施实"),
    ("materials_true", "述职材料真"),
];

pub const CAMPAIGN_STATUSES: [(&str, &str); 3] = [
    ("reports", "撰写和审核述职报告"),
    ("meeting", "述职评议会进行中"),
    ("closed", "已结束，结果已公布"),
];

pub const REPORT_STATUSES: [(&str, &str); 4] = [
    ("draft", "撰写中"),
    ("submitted", "待审核"),
    ("returned", "已退回修改"),
    ("approved", "审核通过"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RuleKind;

    fn code<T>(r: Result<T, AppError>) -> &'static str {
        match r {
            Ok(_) => "ok",
            Err(e) => e.code(),
        }
    }

    #[test]
    fn defaults_validate() {
        assert!(ReviewRules::default().validate().is_ok());
        assert!(Scheme::default().validate().is_ok());
        let mut bad = Scheme::default();
        bad.indicators[0].weight += 1;
        assert!(bad.validate().is_err());
        let mut bad = Scheme::default();
        bad.grades.swap(0, 1);
        assert!(bad.validate().is_err());
        let bad = ReviewRules {
            public_min: [4, 3],
            ..Default::default()
        };
        assert!(bad.validate().is_err());
    }

    fn shape(a: i64, p: i64, m: i64) -> Shape {
        Shape {
            achievements: a,
            problems: p,
            measures: m,
        }
    }

    #[test]
    fn report_shape_at_one_third_exactly() {
        let r = ReviewRules::default();
        assert_eq!(code(check_shape(&shape(100, 100, 100), &r)), "ok");
        assert_eq!(
            code(check_shape(&shape(101, 100, 100), &r)),
            "review.too_much_achievement"
        );
        assert_eq!(code(check_shape(&shape(99, 101, 100), &r)), "ok");
        assert_eq!(
            code(check_shape(&shape(100, 99, 101), &r)),
            "review.too_few_problems"
        );
        assert_eq!(
            code(check_shape(&shape(100, 101, 99), &r)),
            "review.too_few_measures"
        );
        assert_eq!(code(check_shape(&shape(0, 150, 150), &r)), "ok");
        assert_eq!(
            code(check_shape(&shape(100, 100, 99), &r)),
            "validation_failed"
        );
        let loose = ReviewRules {
            achievements_max: [1, 2],
            problems_min: [1, 4],
            measures_min: [1, 4],
            min_report_chars: 10,
            ..Default::default()
        };
        assert_eq!(code(check_shape(&shape(50, 25, 25), &loose)), "ok");
        assert_eq!(
            code(check_shape(&shape(51, 25, 24), &loose)),
            "review.too_much_achievement"
        );
        assert_eq!(Shape::of("成 绩\n", "问题", "整改措施").total(), 8);
    }

    #[test]
    fn figures_are_counted() {
        assert_eq!(
            count_figures("整顿软弱涣散村12个，发展党员35名，投入资金1,200万元，占比8.5%"),
            4
        );
        assert_eq!(count_figures("全年开展２次集中培训"), 1);
        assert_eq!(count_figures("没有数据"), 0);
    }

    #[test]
    fn raters_with_a_third_of_public_and_representatives() {
        let r = ReviewRules::default();
        let g = |l: i64, m: i64, reps: i64, p: i64| {
            BTreeMap::from([
                ("leaders".to_string(), l),
                ("members".to_string(), m),
                ("reps".to_string(), reps),
                ("public".to_string(), p),
            ])
        };
        assert_eq!(code(check_raters(&g(10, 10, 5, 5), &r)), "ok");
        assert_eq!(
            code(check_raters(&g(10, 11, 5, 5), &r)),
            "review.too_few_public"
        );
        assert_eq!(code(check_raters(&g(10, 9, 5, 5), &r)), "ok");
        assert_eq!(code(check_raters(&g(0, 0, 0, 0), &r)), "review.no_raters");
        assert_eq!(code(check_raters(&g(2, 0, 0, 1), &r)), "ok");
    }

    #[test]
    fn totals_weights_and_grades() {
        let sc = Scheme::default();
        let all = |lvl: &str| -> BTreeMap<String, String> {
            sc.indicators
                .iter()
                .map(|i| (i.key.clone(), lvl.to_string()))
                .collect()
        };
        assert_eq!(score_total(&all("good"), &sc).ok(), Some(1000));
        assert_eq!(score_total(&all("poor"), &sc).ok(), Some(400));
        let mut mixed = all("good");
        mixed.insert("duty".into(), "average".into()); // 20% at 60 instead of 100
        assert_eq!(score_total(&mixed, &sc).ok(), Some(920));
        let mut missing = all("good");
        missing.remove("support");
        assert_eq!(code(score_total(&missing, &sc)), "validation_failed");
        let mut wrong = all("good");
        wrong.insert("duty".into(), "excellent".into());
        assert_eq!(code(score_total(&wrong, &sc)), "validation_failed");
        // groups weighted 40/20/20/20; absent groups renormalised
        let by = BTreeMap::from([
            ("leaders".to_string(), vec![900, 800]),
            ("public".to_string(), vec![600]),
        ]);
        // leaders mean 85.0 (w40), public 60.0 (w20): (850*40 + 600*20) / 60 = 766.67 → 766.7
        assert_eq!(aggregate(&by, &sc), Some(767));
        assert_eq!(aggregate(&BTreeMap::new(), &sc), None);
        // bands at, just below and just above
        assert_eq!(grade(900, &sc), "好");
        assert_eq!(grade(899, &sc), "较好");
        assert_eq!(grade(800, &sc), "较好");
        assert_eq!(grade(799, &sc), "一般");
        assert_eq!(grade(600, &sc), "一般");
        assert_eq!(grade(599, &sc), "差");
        assert_eq!(final_grade(950, true, true, &sc), "差");
        assert_eq!(final_grade(700, false, true, &sc), "好");
    }

    #[test]
    fn ranking_shares_ties_and_puts_vetoes_last() {
        let ranks = rank(&[
            (1, 850, false),
            (2, 900, false),
            (3, 850, false),
            (4, 950, true),
            (5, 700, false),
        ]);
        assert_eq!(ranks, vec![(2, 1), (1, 2), (3, 2), (5, 4), (4, 5)]);
        assert_eq!(rank(&[]), vec![]);
    }

    #[test]
    fn ties_across_the_interview_cut_are_treated_alike() {
        // ranks 1, 2, 2 (two reporters tied at 80.0), one interview
        let r = [(10, 1), (11, 2), (12, 2)];
        assert_eq!(bottom(&r, 1, true), vec![11, 12], "both tied interviewed");
        assert_eq!(bottom(&r, 1, false), Vec::<i64>::new(), "neither");
        // no tie at the cut: exactly n, whatever the rule
        let r = [(10, 1), (11, 1), (12, 3), (13, 4)];
        for ties in [true, false] {
            assert_eq!(bottom(&r, 1, ties), vec![13]);
            assert_eq!(bottom(&r, 2, ties), vec![12, 13]);
        }
        // the cut inside a tie of three
        let r = [(1, 1), (2, 2), (3, 2), (4, 2)];
        assert_eq!(bottom(&r, 2, true), vec![2, 3, 4]);
        assert_eq!(bottom(&r, 2, false), Vec::<i64>::new());
        // all tied, none, more than there are
        assert_eq!(bottom(&[(1, 1), (2, 1)], 1, true), vec![1, 2]);
        assert!(bottom(&r, 0, true).is_empty());
        assert_eq!(bottom(&r, 9, false), vec![1, 2, 3, 4]);
    }

    #[test]
    fn the_draw_is_reproducible_from_its_seed() {
        let c: Vec<i64> = (100..140).collect();
        let a = draw(&c, 3, 20261123);
        assert_eq!(a.len(), 3);
        assert_eq!(a, draw(&c, 3, 20261123));
        let mut shuffled = c.clone();
        shuffled.reverse();
        assert_eq!(
            a,
            draw(&shuffled, 3, 20261123),
            "the order of the candidates does not matter"
        );
        assert_ne!(a, draw(&c, 3, 20261124));
        assert_eq!(draw(&c[..2], 3, 1).len(), 2);
    }

    #[test]
    fn two_key_problems_for_everyone() {
        let r = ReviewRules::default();
        let c = |n: i64| vec![("甲".to_string(), 2), ("乙".to_string(), n)];
        assert_eq!(code(check_critiques(&c(2), &r)), "ok");
        assert_eq!(code(check_critiques(&c(1), &r)), "review.critiques_missing");
        assert_eq!(code(check_critiques(&c(3), &r)), "ok");
    }
}
