//! 组织生活: the meetings of a branch and its 党小组 (三会一课, 主题党日, 组织生活会, 民主评议党员) —
//! planned from the frequency rules, notified to a roster snapshot, signed in on phones with a
//! short code valid only at the sitting (observers without accounts by name and code), minuted
//! with the 条例's quorum and pass rules counted from the roll, filed and locked (corrected
//! only by signed addenda), and counted against the requirements: each required kind and
//! period is a cadence obligation ([`crate::obligation`], kinds `meeting.*`) that the filed
//! sitting fulfils.
//!
//! The rules here are pure functions over plain data; their numbers are the rule set
//! [`MeetingRules`] (defaults from the 支部工作条例 2018, see MECHANISMS §7.1).

pub mod store;
pub mod talk;
pub mod web;

use crate::error::{AppError, Checks};
use crate::obligation::Period;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// The kinds of sitting (code, name), in the order a record lists them.
pub const KINDS: [(&str, &str); 7] = [
    ("assembly", "党员大会"),
    ("committee", "支委会"),
    ("group", "党小组会"),
    ("lecture", "党课"),
    ("theme_day", "主题党日"),
    ("life", "组织生活会"),
    ("appraisal", "民主评议党员"),
];

/// How often a kind is required (code, name).
pub const PERIODS: [(&str, &str); 5] = [
    ("month", "每月"),
    ("quarter", "每季度"),
    ("half", "每半年"),
    ("year", "每年"),
    ("none", "不作要求"),
];

/// Observer categories (code, name): 双向列席 by upper-level staff, 两代表一委员, 村民代表.
pub const OBSERVERS: [(&str, &str); 4] = [
    ("upper", "上级党组织列席人员"),
    ("deputy", "两代表一委员"),
    ("villager", "村民（居民）代表"),
    ("other", "其他列席人员"),
];

/// Statuses of a sitting (code, name).
pub const STATUSES: [(&str, &str); 4] = [
    ("planned", "计划中"),
    ("notified", "已通知"),
    ("filed", "已归档"),
    ("cancelled", "已取消"),
];

/// Attendance (code, name).
pub const ATTENDANCE: [(&str, &str); 5] = [
    ("expected", "未签到"),
    ("present", "出席"),
    ("leave_asked", "请假待批"),
    ("leave", "请假"),
    ("absent", "缺席"),
];

/// The obligation kinds of every meeting kind, as an SQL list (constants: safe to inline; an
/// IN list, unlike a LIKE, uses the obligations' indexes on both databases).
pub const OBLIGATION_KINDS_SQL: &str = "('meeting.assembly', 'meeting.committee', 'meeting.group', 'meeting.lecture', 'meeting.theme_day', 'meeting.life', 'meeting.appraisal')";

/// The obligation kind of a meeting kind: `meeting.assembly`, ….
pub fn obligation_kind(kind: &str) -> String {
    format!("meeting.{kind}")
}

/// One required kind: how many sittings per period.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(default)]
#[schema(as = MeetingRequirement)]
pub struct Requirement {
    pub kind: String,
    pub period: String,
    pub count: i64,
}

impl Default for Requirement {
    fn default() -> Self {
        Self {
            kind: String::new(),
            period: "none".into(),
            count: 1,
        }
    }
}

fn req(kind: &str, period: &str) -> Requirement {
    Requirement {
        kind: kind.into(),
        period: period.into(),
        count: 1,
    }
}

fn agrade(name: &str, min: i64, rated: i64, outcome: &str) -> AppraisalGrade {
    AppraisalGrade {
        name: name.into(),
        min,
        rated,
        outcome: outcome.into(),
    }
}

/// The rule values of organisational life (per locality).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct MeetingRules {
    /// How often each kind is required (条例: 支委会 and 党小组会 monthly, 党员大会 quarterly,
    /// 主题党日 monthly, 组织生活会 and 民主评议 yearly; 党课 quarterly is a local default).
    pub requirements: Vec<Requirement>,
    /// A branch owes 支委会 only with a committee and at least this many full members.
    pub committee_from_full_members: i64,
    /// The theme day: the n-th (1–4; 0 the last) …
    pub theme_day_week: i64,
    /// … weekday (1 Monday – 7 Sunday) of each month.
    pub theme_day_weekday: i64,
    /// A period's sitting is filed on time up to this many days after the period ends.
    pub file_within_days: i64,
    /// A required sitting not filed this many days after it was due counts as missed.
    pub missed_after_days: i64,
    /// Members sign in from this many minutes before the start …
    pub sign_in_before_minutes: i64,
    /// … to this many minutes after the end.
    pub sign_in_after_minutes: i64,
    /// 党员大会: voting members present must exceed this share of those entitled (‰).
    pub assembly_quorum_permille: i64,
    /// 党员大会: a motion passes when ayes exceed this share of the voting members (‰).
    pub assembly_pass_permille: i64,
    /// 支委会: committee members present must exceed this share of the committee (‰).
    pub committee_quorum_permille: i64,
    /// A branch with more than this many missed periods (all kinds, the year so far) is red.
    pub amber_missed_max: i64,
    /// 党章第九条: this many months without attending warns the branch about the member.
    pub absence_months: i64,
    /// 换届选举 (基层组织选举工作条例): voting members present must exceed this share of those
    /// entitled (‰; ⅘).
    pub election_quorum_permille: i64,
    /// 差额: candidates must exceed the seats by at least this share of the seats (‰; 20%).
    pub election_margin_permille: i64,
    /// A candidate is elected with more than this share of the votes of those present (‰).
    pub election_elect_permille: i64,
    /// 延期换届: at most this many months in all for one term.
    pub extension_max_months: i64,
    /// 谈心谈话: each category at least this many times a year.
    pub talks_per_category_year: i64,
    /// Minutes this similar (‰) to another branch's filed record are flagged to the level
    /// above (never refused) …
    pub minutes_similar_permille: i64,
    /// … when both have at least this many characters.
    pub minutes_min_chars: i64,
    /// 民主评议: the weights (‰, summing to 1000) of the 个人自评 grade, the 民主测评 ratings
    /// and the committee's grade in a member's score; a part missing is left out and the
    /// others renormalised.
    pub appraisal_self_permille: i64,
    pub appraisal_peer_permille: i64,
    pub appraisal_committee_permille: i64,
    /// The grades of a round, highest first: the lowest score (of 100) of each, the points a
    /// rating in it gives, and what it leads to. The first is capped by the share below; the
    /// last needs organisational handling.
    pub appraisal_grades: Vec<AppraisalGrade>,
    /// The 评定 needs 民主测评 ballots from at least this share of the roll (‰; 0: none).
    pub appraisal_min_ballots_permille: i64,
    /// At most this share of a branch's roll is graded in the first grade (优秀).
    #[schema(value_type = Vec<i64>, min_items = 2, max_items = 2)]
    pub appraisal_excellent_share: crate::rules::Ratio,
}

/// A grade of 民主评议.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct AppraisalGrade {
    pub name: String,
    /// The lowest score of the grade (of 100).
    pub min: i64,
    /// The points (of 100) a rating in this grade gives.
    pub rated: i64,
    #[serde(default)]
    pub outcome: String,
}

impl Default for MeetingRules {
    fn default() -> Self {
        Self {
            requirements: vec![
                req("assembly", "quarter"),
                req("committee", "month"),
                req("group", "month"),
                req("lecture", "quarter"),
                req("theme_day", "month"),
                req("life", "year"),
                req("appraisal", "year"),
            ],
            committee_from_full_members: 7,
            theme_day_week: 1,
            theme_day_weekday: 5,
            file_within_days: 10,
            missed_after_days: 30,
            sign_in_before_minutes: 30,
            sign_in_after_minutes: 60,
            assembly_quorum_permille: 500,
            assembly_pass_permille: 500,
            committee_quorum_permille: 500,
            amber_missed_max: 1,
            absence_months: 6,
            election_quorum_permille: 800,
            election_margin_permille: 200,
            election_elect_permille: 500,
            extension_max_months: 12,
            talks_per_category_year: 1,
            minutes_similar_permille: 900,
            minutes_min_chars: 40,
            appraisal_self_permille: 200,
            appraisal_peer_permille: 500,
            appraisal_committee_permille: 300,
            appraisal_grades: vec![
                agrade("优秀", 90, 100, "予以表扬，作为评选优秀共产党员的推荐人选"),
                agrade("合格", 70, 80, ""),
                agrade("基本合格", 50, 60, "支部书记谈心谈话，提出改进要求"),
                agrade(
                    "不合格",
                    0,
                    0,
                    "按处置不合格党员的程序办理：限期改正、劝其退党或除名",
                ),
            ],
            appraisal_excellent_share: [1, 3],
            appraisal_min_ballots_permille: 500,
        }
    }
}

impl crate::rules::RuleKind for MeetingRules {
    const KIND: &'static str = "meeting";
    const LABEL: &'static str = "组织生活规则（三会一课）";
    fn validate(&self) -> Result<(), String> {
        for r in &self.requirements {
            if !KINDS.iter().any(|k| k.0 == r.kind) {
                return Err(format!("会议类别“{}”不存在", r.kind));
            }
            if !PERIODS.iter().any(|p| p.0 == r.period) {
                return Err(format!("周期“{}”不存在", r.period));
            }
            if !(1..=10).contains(&r.count) {
                return Err("每周期次数须在1至10之间".into());
            }
        }
        for k in KINDS {
            if self.requirements.iter().filter(|r| r.kind == k.0).count() > 1 {
                return Err(format!("{}的频次重复", k.1));
            }
        }
        if !(0..=4).contains(&self.theme_day_week) || !(1..=7).contains(&self.theme_day_weekday) {
            return Err("主题党日须为每月第1至4周（0为最后一周）的周一至周日".into());
        }
        if !(0..=90).contains(&self.file_within_days)
            || !(0..=365).contains(&self.missed_after_days)
        {
            return Err("归档期限0至90天，逾期转为未开0至365天".into());
        }
        if !(0..=720).contains(&self.sign_in_before_minutes)
            || !(0..=720).contains(&self.sign_in_after_minutes)
        {
            return Err("签到时段须在会前、会后各0至720分钟之间".into());
        }
        for v in [
            self.assembly_quorum_permille,
            self.assembly_pass_permille,
            self.committee_quorum_permille,
            self.election_quorum_permille,
            self.election_elect_permille,
        ] {
            if !(1..=999).contains(&v) {
                return Err("到会、表决比例须在1‰至999‰之间".into());
            }
        }
        if !(0..=60).contains(&self.amber_missed_max) || !(1..=24).contains(&self.absence_months) {
            return Err("黄灯上限0至60，未参加组织生活月数1至24".into());
        }
        if !(0..=1000).contains(&self.election_margin_permille) {
            return Err("差额比例须在0‰至1000‰之间".into());
        }
        if !(1..=1000).contains(&self.minutes_similar_permille)
            || !(1..=10_000).contains(&self.minutes_min_chars)
        {
            return Err("记录雷同比例须在1‰至1000‰之间，比对字数1至10000".into());
        }
        if !(0..=52).contains(&self.talks_per_category_year) {
            return Err("谈心谈话每类每年次数须在0至52之间".into());
        }
        if !(0..=60).contains(&self.extension_max_months) {
            return Err("延期换届最长月数须在0至60之间".into());
        }
        let w = [
            self.appraisal_self_permille,
            self.appraisal_peer_permille,
            self.appraisal_committee_permille,
        ];
        if w.iter().any(|v| !(0..=1000).contains(v)) || w.iter().sum::<i64>() != 1000 {
            return Err("民主评议自评、测评、支部评价的权重须在0‰至1000‰之间，合计1000‰".into());
        }
        let g = &self.appraisal_grades;
        if g.len() < 2
            || g.iter().any(|x| {
                x.name.trim().is_empty()
                    || !(0..=100).contains(&x.min)
                    || !(0..=100).contains(&x.rated)
            })
            || g.windows(2)
                .any(|w| w[0].min <= w[1].min || w[0].rated < w[1].rated)
            || g.last().is_some_and(|x| x.min != 0)
        {
            return Err("民主评议等次至少两档，名称不能为空，最低分和测评分值在0至100之间、从高到低，末档最低分为0".into());
        }
        if !(0..=1000).contains(&self.appraisal_min_ballots_permille) {
            return Err("民主评议评定所需测评票比例须在0‰至1000‰之间".into());
        }
        let [n, d] = self.appraisal_excellent_share;
        if n < 0 || d <= 0 || n > d {
            return Err("民主评议优秀比例应为 0 至 1 之间的分数".into());
        }
        if !(1..=50).contains(&self.committee_from_full_members) {
            return Err("应开支委会的正式党员数须在1至50之间".into());
        }
        Ok(())
    }
}

impl MeetingRules {
    /// The requirement of a kind, when it has one.
    pub fn requirement(&self, kind: &str) -> Option<&Requirement> {
        self.requirements
            .iter()
            .find(|r| r.kind == kind && r.period != "none")
    }
}

/// 谈心谈话 categories (code, name): between committee members, between a committee member
/// and a member, between members.
pub const TALK_CATEGORIES: [(&str, &str); 3] = [
    ("committee", "支委之间"),
    ("mixed", "支委与党员之间"),
    ("members", "党员之间"),
];

/// The category of a talk from whether each side sits on the committee.
pub fn talk_category(a_on_committee: bool, b_on_committee: bool) -> &'static str {
    match (a_on_committee, b_on_committee) {
        (true, true) => "committee",
        (false, false) => "members",
        _ => "mixed",
    }
}

/// The categories a year's talks have not yet covered `talks_per_category_year` times.
pub fn talk_gaps(counts: &[(&str, i64)], r: &MeetingRules) -> Vec<&'static str> {
    TALK_CATEGORIES
        .iter()
        .filter(|(c, _)| {
            counts
                .iter()
                .filter(|(k, _)| k == c)
                .map(|(_, n)| n)
                .sum::<i64>()
                < r.talks_per_category_year
        })
        .map(|(c, _)| *c)
        .collect()
}

pub fn kind_label(kind: &str) -> &'static str {
    crate::rules::label(&KINDS, kind)
}

/// The kinds of a record as stored (`assembly,theme_day`), known ones in the order of
/// [`KINDS`].
pub fn parse_kinds(s: &str) -> Vec<String> {
    let given: Vec<&str> = s.split(',').map(str::trim).collect();
    KINDS
        .iter()
        .filter(|k| given.contains(&k.0))
        .map(|k| k.0.to_string())
        .collect()
}

/// "党员大会、主题党日"
pub fn kinds_label(kinds: &[String]) -> String {
    kinds
        .iter()
        .map(|k| kind_label(k))
        .collect::<Vec<_>>()
        .join("、")
}

/// The period of `period` (month, quarter, half, year) holding `d`.
pub fn period_of(period: &str, d: NaiveDate) -> Option<Period> {
    let y = d.year();
    let (key, start, months) = match period {
        "month" => (format!("{y}-{:02}", d.month()), (d.month(), 1), 1),
        "quarter" => {
            let q = (d.month() - 1) / 3 + 1;
            (format!("{y}-Q{q}"), (3 * q - 2, 1), 3)
        }
        "half" => {
            let h = if d.month() <= 6 { 1 } else { 2 };
            (format!("{y}-H{h}"), (6 * h - 5, 1), 6)
        }
        "year" => (format!("{y}"), (1, 1), 12),
        _ => return None,
    };
    let start = NaiveDate::from_ymd_opt(y, start.0, start.1)?;
    let end = crate::recruit::rules::add_months(start, months) - Duration::days(1);
    Some(Period { key, start, end })
}

/// A period as people name it: 2026年12月, 2026年第四季度, 2026年下半年, 2026年.
pub fn period_label(period: &str, p: &Period) -> String {
    let y = p.start.year();
    match period {
        "month" => format!("{y}年{}月", p.start.month()),
        "quarter" => {
            let q = ["一", "二", "三", "四"][((p.start.month() - 1) / 3) as usize % 4];
            format!("{y}年第{q}季度")
        }
        "half" => format!(
            "{y}年{}",
            if p.start.month() <= 6 {
                "上半年"
            } else {
                "下半年"
            }
        ),
        _ => format!("{y}年"),
    }
}

/// The periods of `period` that start in the year of `year`.
pub fn periods_of_year(period: &str, year: i32) -> Vec<Period> {
    let mut out = Vec::new();
    let Some(mut d) = NaiveDate::from_ymd_opt(year, 1, 1) else {
        return out;
    };
    while d.year() == year {
        let Some(p) = period_of(period, d) else {
            break;
        };
        d = p.end + Duration::days(1);
        out.push(p);
    }
    out
}

/// What decides which kinds an organisation owes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holder {
    /// A branch (党支部, 联合党支部); else a 党小组.
    pub branch: bool,
    pub has_committee: bool,
    pub full_members: i64,
}

/// Does `holder` owe sittings of `kind` at all? 党小组 owe only 党小组会; a branch everything
/// else, 支委会 only with a committee of a branch with enough full members.
pub fn owes(kind: &str, h: &Holder, r: &MeetingRules) -> bool {
    if r.requirement(kind).is_none() {
        return false;
    }
    match (kind, h.branch) {
        ("group", b) => !b,
        (_, false) => false,
        ("committee", true) => h.has_committee && h.full_members >= r.committee_from_full_members,
        _ => true,
    }
}

/// When a period's sitting is due (filed on time) and when an unfiled one counts as missed.
pub fn due_and_missed(
    p: &Period,
    r: &MeetingRules,
    zone: &crate::clock::Zone,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let due = zone.start_of(p.end + Duration::days(1 + r.file_within_days));
    (due, due + Duration::days(r.missed_after_days))
}

/// The theme day of a month: the n-th given weekday (0: the last).
pub fn theme_day(year: i32, month: u32, r: &MeetingRules) -> Option<NaiveDate> {
    let wd = Weekday::try_from((r.theme_day_weekday.clamp(1, 7) - 1) as u8).ok()?;
    if r.theme_day_week == 0 {
        let first_next =
            crate::recruit::rules::add_months(NaiveDate::from_ymd_opt(year, month, 1)?, 1);
        let mut d = first_next - Duration::days(1);
        while d.weekday() != wd {
            d -= Duration::days(1);
        }
        return Some(d);
    }
    NaiveDate::from_weekday_of_month_opt(year, month, wd, r.theme_day_week.clamp(1, 4) as u8)
}

/// A sitting of the year's plan: its day and the kinds it counts as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Planned {
    pub day: NaiveDate,
    pub kinds: Vec<String>,
}

/// The year's plan of one organisation: one sitting per required period and kind, on the
/// theme day where one is held that month. The assembly sits on the theme day of each
/// quarter's last month, the lecture on that of its middle month, the 组织生活会 and the
/// 民主评议 together on December's; 支委会 a week before the theme day, 党小组会 a week after.
/// Kinds owed by `h` only; a period already holding a sitting of the kind (`held`, as
/// (kind, period key)) is left out.
pub fn plan_year(
    year: i32,
    h: &Holder,
    r: &MeetingRules,
    held: &[(String, String)],
) -> Vec<Planned> {
    let mut by_day: std::collections::BTreeMap<NaiveDate, Vec<String>> = Default::default();
    for (kind, _) in KINDS {
        if !owes(kind, h, r) {
            continue;
        }
        let Some(rq) = r.requirement(kind) else {
            continue;
        };
        for p in periods_of_year(&rq.period, year) {
            if held.iter().any(|(k, key)| k == kind && *key == p.key) {
                continue;
            }
            // the month within the period the sitting falls in
            let months = (p.end.month() - p.start.month() + 1) as i64;
            let month = match kind {
                "assembly" | "life" | "appraisal" => months - 1,
                "lecture" => months / 2,
                _ => 0,
            };
            let first = crate::recruit::rules::add_months(p.start, month);
            let Some(theme) = theme_day(first.year(), first.month(), r) else {
                continue;
            };
            for n in 0..rq.count.max(1) {
                let spread = Duration::days(7 * n);
                let day = match kind {
                    "committee" => theme - Duration::days(7) + spread,
                    "group" => theme + Duration::days(7) + spread,
                    _ => theme + spread,
                };
                // a day pushed out of its period stays at its edge
                let day = day.clamp(p.start, p.end);
                by_day.entry(day).or_default().push(kind.to_string());
            }
        }
    }
    by_day
        .into_iter()
        .map(|(day, kinds)| Planned { day, kinds })
        .collect()
}

/// Is `now` inside the sign-in window of a sitting from `starts` to `ends`?
pub fn in_sign_window(
    now: DateTime<Utc>,
    starts: DateTime<Utc>,
    ends: DateTime<Utc>,
    r: &MeetingRules,
) -> bool {
    now >= starts - Duration::minutes(r.sign_in_before_minutes)
        && now <= ends + Duration::minutes(r.sign_in_after_minutes)
}

/// A vote of a sitting: one motion and its count.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(default)]
#[schema(as = MeetingVote)]
pub struct Vote {
    pub motion: String,
    pub ayes: i64,
    pub noes: i64,
    pub abstentions: i64,
    /// Decided when filed: ayes above the share of the voting members entitled.
    pub passed: bool,
}

/// The roll as counted when filing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Roll {
    pub expected: i64,
    pub present: i64,
    pub voting_expected: i64,
    pub voting_present: i64,
}

/// A share as a refusal says it: 半数 for one half, else a percentage (三分之二 as 66.7%).
pub fn share_words(permille: i64) -> String {
    match permille {
        500 => "半数".into(),
        800 => "五分之四".into(),
        p if p % 10 == 0 => format!("{}%", p / 10),
        p => format!("{}.{}%", p / 10, p % 10),
    }
}

/// `part > whole × permille / 1000`, exactly.
fn above(part: i64, whole: i64, permille: i64) -> bool {
    part * 1000 > whole * permille
}

/// The 条例's quorum of a sitting, counted from the roll: a 党员大会 needs more than the
/// share of its voting members present; a 支委会 more than the share of the committee
/// (`committee_present` of `committee_size`). Other kinds have none.
pub fn check_quorum(
    kinds: &[String],
    roll: &Roll,
    committee: (i64, i64),
    r: &MeetingRules,
) -> Result<(), AppError> {
    let has = |k: &str| kinds.iter().any(|x| x == k);
    if has("assembly")
        && !above(
            roll.voting_present,
            roll.voting_expected,
            r.assembly_quorum_permille,
        )
    {
        return Err(AppError::refused(
            "meeting.no_quorum",
            format!(
                "党员大会有表决权的到会党员须超过应到人数的{}（应到{}人，实到{}人），会议不能有效召开",
                share_words(r.assembly_quorum_permille), roll.voting_expected, roll.voting_present
            ),
        ));
    }
    let (present, size) = committee;
    if has("committee") && !above(present, size, r.committee_quorum_permille) {
        return Err(AppError::refused(
            "meeting.no_committee_quorum",
            format!(
                "支委会到会委员须超过委员总数的{}（委员{}人，到会{}人）",
                share_words(r.committee_quorum_permille),
                size,
                present
            ),
        ));
    }
    Ok(())
}

/// Checks each vote against the roll (the counts add up to the voting members present) and
/// decides it: passed when the ayes exceed the share of the voting members entitled.
pub fn decide_votes(votes: &mut [Vote], roll: &Roll, r: &MeetingRules) -> Result<(), AppError> {
    let mut c = Checks::default();
    for (i, v) in votes.iter_mut().enumerate() {
        let field = format!("vote_{i}");
        if v.motion.trim().is_empty() {
            c.add(&field, "请填写表决事项");
            continue;
        }
        if v.ayes < 0 || v.noes < 0 || v.abstentions < 0 {
            c.add(&field, format!("“{}”的票数不能为负数", v.motion));
            continue;
        }
        let sum = v.ayes.saturating_add(v.noes).saturating_add(v.abstentions);
        if sum != roll.voting_present {
            c.add(
                &field,
                format!(
                    "“{}”赞成{}、反对{}、弃权{}，合计{}票，应等于到会有表决权党员{}人",
                    v.motion, v.ayes, v.noes, v.abstentions, sum, roll.voting_present
                ),
            );
            continue;
        }
        v.passed = above(v.ayes, roll.voting_expected, r.assembly_pass_permille);
    }
    c.finish()
}

/// How alike two minutes are, per mille: the Jaccard share of their character pairs (letters,
/// digits and CJK only; spaces and punctuation dropped). 0 when either has fewer than two.
pub fn similarity_permille(a: &str, b: &str) -> i64 {
    fn pairs(s: &str) -> HashSet<(char, char)> {
        let cs: Vec<char> = s.chars().filter(|c| c.is_alphanumeric()).collect();
        cs.windows(2).map(|w| (w[0], w[1])).collect()
    }
    let (x, y) = (pairs(a), pairs(b));
    if x.is_empty() || y.is_empty() {
        return 0;
    }
    let common = x.intersection(&y).count() as i64;
    let all = (x.len() + y.len()) as i64 - common;
    common * 1000 / all
}

/// The characters a similarity is counted over.
pub fn text_chars(s: &str) -> i64 {
    s.chars().filter(|c| c.is_alphanumeric()).count() as i64
}

/// The star rating's computed 组织生活 score out of `max`: the share of the required periods so
/// far held on time (late ones count half; missed and overdue ones nothing), rounded to the
/// nearest point. None when nothing was due yet.
pub fn life_score(done: i64, late: i64, missed: i64, overdue: i64, max: i64) -> Option<i64> {
    let due = done + late + missed + overdue;
    if due <= 0 {
        return None;
    }
    // (done + late / 2) / due × max, rounded half up, in integers
    Some(((2 * done + late) * max * 10 / (2 * due) + 5) / 10)
}

/// A branch's standing for the period counted: green when nothing is missed or late, amber
/// up to `amber_missed_max` missed (or any late or overdue), red beyond.
pub fn light(missed: i64, late: i64, overdue: i64, r: &MeetingRules) -> &'static str {
    if missed > r.amber_missed_max {
        "red"
    } else if missed > 0 || late > 0 || overdue > 0 {
        "amber"
    } else {
        "green"
    }
}

pub const LIGHTS: [(&str, &str); 3] = [("green", "达标"), ("amber", "需关注"), ("red", "未达标")];

/// The member indicators of the default points catalogue a filed sitting awards to those
/// present, by kind (a locality whose catalogue lacks one awards nothing for it).
pub const POINTS: [(&str, &str); 6] = [
    ("assembly", "M15"),
    ("group", "M16"),
    ("theme_day", "M17"),
    ("lecture", "M18"),
    ("life", "M19"),
    ("appraisal", "M20"),
];

/// The branch warnings of required sittings not held: (kind, code, name).
pub const WARNINGS: [(&str, &str, &str); 7] = [
    ("assembly", "branch.assembly_overdue", "党员大会未按期召开"),
    ("committee", "branch.committee_overdue", "支委会未按期召开"),
    ("group", "branch.group_overdue", "党小组会未按期召开"),
    ("lecture", "branch.lecture_missed", "党课未按期开展"),
    ("theme_day", "branch.theme_day_missed", "主题党日未按期开展"),
    ("life", "branch.life_meeting_missing", "未召开组织生活会"),
    (
        "appraisal",
        "branch.appraisal_missing",
        "未开展民主评议党员",
    ),
];

/// The warnings of a branch from its missed obligations this year: (kind, periods missed,
/// the latest missed period's key), one warning per kind.
pub fn warnings(missed: &[(String, i64, String)]) -> Vec<crate::org::rules::Warning> {
    WARNINGS
        .iter()
        .filter_map(|(kind, code, name)| {
            let (_, n, last) = missed.iter().find(|m| m.0 == *kind && m.1 > 0)?;
            Some(crate::org::rules::Warning {
                code,
                message: format!("{name}：本年有{n}个周期未按期召开并归档（最近为{last}）"),
            })
        })
        .collect()
}

/// Missed obligations of this year by branch (a group's counted for its branch) in the
/// subtree at `path`: branch id → (kind, periods missed, latest period key).
pub async fn missed_by_branch(
    db: &crate::db::Db,
    path: &str,
    year_start: NaiveDate,
) -> crate::db::DbResult<std::collections::HashMap<i64, Vec<(String, i64, String)>>> {
    use crate::db::DbRow;
    let hi = crate::db::path_upper(path);
    let rows = crate::on_db!(db, x => {
        let rows = sqlx::query(&format!("SELECT CASE WHEN o.kind = 'group' THEN o.parent_id ELSE o.id END AS branch, b.kind, COUNT(*) AS n, MAX(b.period) AS last \
                                FROM obligations b JOIN orgs o ON o.id = b.scope_org_id \
                                WHERE b.kind IN {} AND b.status = 'missed' AND b.period_start >= $1 AND o.path >= $2 AND o.path < $3 \
                                GROUP BY CASE WHEN o.kind = 'group' THEN o.parent_id ELSE o.id END, b.kind", OBLIGATION_KINDS_SQL))
            .bind(year_start).bind(path).bind(&hi).fetch_all(x).await?;
        rows.iter().map(|r| Ok((r.opt_i64("branch")?.unwrap_or(0), r.string("kind")?, r.i64("n")?, r.string("last")?)))
            .collect::<crate::db::DbResult<Vec<_>>>()?
    });
    let mut out: std::collections::HashMap<i64, Vec<(String, i64, String)>> = Default::default();
    for (branch, kind, n, last) in rows {
        out.entry(branch).or_default().push((
            kind.trim_start_matches("meeting.").to_string(),
            n,
            last,
        ));
    }
    Ok(out)
}

/// 党章第九条: has a member gone `absence_months` without organisational life? Only when the
/// platform has their roll since before the cut (their first expected sitting on or before
/// it), no sitting attended since, and at least one sitting missed without leave since.
pub fn long_absent(
    first_expected: Option<NaiveDate>,
    last_present: Option<NaiveDate>,
    absences_since: i64,
    cut: NaiveDate,
) -> bool {
    first_expected.is_some_and(|f| f <= cut)
        && last_present.is_none_or(|l| l < cut)
        && absences_since > 0
}

/// Longest text of a record field, in characters.
pub const MAX_TEXT: usize = 5000;
/// Longest title, place, name, in characters.
pub const MAX_SHORT: usize = 100;

/// Text as stored (see [`crate::work_log::clean_text`]).
pub fn clean(s: &str) -> String {
    crate::work_log::clean_text(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    fn kinds(k: &[&str]) -> Vec<String> {
        k.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn periods_cover_their_dates() {
        let cases = [
            (
                "month",
                d(2026, 12, 31),
                "2026-12",
                d(2026, 12, 1),
                d(2026, 12, 31),
            ),
            (
                "month",
                d(2028, 2, 29),
                "2028-02",
                d(2028, 2, 1),
                d(2028, 2, 29),
            ),
            (
                "quarter",
                d(2026, 10, 1),
                "2026-Q4",
                d(2026, 10, 1),
                d(2026, 12, 31),
            ),
            (
                "quarter",
                d(2026, 3, 31),
                "2026-Q1",
                d(2026, 1, 1),
                d(2026, 3, 31),
            ),
            (
                "half",
                d(2026, 6, 30),
                "2026-H1",
                d(2026, 1, 1),
                d(2026, 6, 30),
            ),
            (
                "half",
                d(2026, 7, 1),
                "2026-H2",
                d(2026, 7, 1),
                d(2026, 12, 31),
            ),
            (
                "year",
                d(2027, 1, 1),
                "2027",
                d(2027, 1, 1),
                d(2027, 12, 31),
            ),
        ];
        for (period, day, key, start, end) in cases {
            let p = period_of(period, day).expect("period");
            assert_eq!(
                (p.key.as_str(), p.start, p.end),
                (key, start, end),
                "{period} {day}"
            );
        }
        assert!(period_of("none", d(2026, 1, 1)).is_none());
        assert_eq!(periods_of_year("month", 2026).len(), 12);
        assert_eq!(periods_of_year("quarter", 2026).len(), 4);
        assert_eq!(periods_of_year("year", 2026).len(), 1);
        let q4 = period_of("quarter", d(2026, 11, 5)).expect("q");
        assert_eq!(period_label("quarter", &q4), "2026年第四季度");
        assert_eq!(period_label("half", &q4), "2026年下半年");
    }

    #[test]
    fn committee_meetings_only_with_a_committee_of_enough_full_members() {
        let r = MeetingRules::default();
        let branch = |has, full| Holder {
            branch: true,
            has_committee: has,
            full_members: full,
        };
        // (holder, owes 支委会)
        let cases = [
            (branch(true, 7), true),
            (branch(true, 6), false),
            (branch(true, 8), true),
            (branch(false, 30), false),
        ];
        for (h, want) in cases {
            assert_eq!(owes("committee", &h, &r), want, "{h:?}");
        }
        let group = Holder {
            branch: false,
            has_committee: false,
            full_members: 3,
        };
        assert!(owes("group", &group, &r));
        assert!(!owes("assembly", &group, &r));
        assert!(!owes("group", &branch(true, 9), &r));
        let mut none = r.clone();
        none.requirements.retain(|q| q.kind != "lecture");
        assert!(!owes("lecture", &branch(true, 9), &none));
    }

    #[test]
    fn the_theme_day_is_the_nth_weekday() {
        let r = MeetingRules::default(); // first Friday
        assert_eq!(theme_day(2026, 12, &r), Some(d(2026, 12, 4)));
        assert_eq!(theme_day(2027, 1, &r), Some(d(2027, 1, 1)));
        let last = MeetingRules {
            theme_day_week: 0,
            theme_day_weekday: 6,
            ..r
        };
        assert_eq!(theme_day(2026, 12, &last), Some(d(2026, 12, 26)));
        assert_eq!(theme_day(2028, 2, &last), Some(d(2028, 2, 26)));
    }

    #[test]
    fn the_plan_has_one_sitting_per_required_period() {
        let r = MeetingRules::default();
        let h = Holder {
            branch: true,
            has_committee: true,
            full_members: 12,
        };
        let plan = plan_year(2026, &h, &r, &[]);
        let count = |k: &str| {
            plan.iter()
                .filter(|p| p.kinds.iter().any(|x| x == k))
                .count()
        };
        assert_eq!(count("theme_day"), 12);
        assert_eq!(count("committee"), 12);
        assert_eq!(count("assembly"), 4);
        assert_eq!(count("lecture"), 4);
        assert_eq!((count("life"), count("appraisal")), (1, 1));
        assert_eq!(count("group"), 0);
        // December's theme day holds the assembly, the 组织生活会 and the 民主评议
        let dec = plan.iter().find(|p| p.day == d(2026, 12, 4)).expect("dec");
        assert_eq!(
            dec.kinds,
            kinds(&["assembly", "theme_day", "life", "appraisal"])
        );
        // a period already held is left out
        let held = vec![("assembly".to_string(), "2026-Q1".to_string())];
        let plan = plan_year(2026, &h, &r, &held);
        assert_eq!(
            plan.iter()
                .filter(|p| p.kinds.iter().any(|x| x == "assembly"))
                .count(),
            3
        );
        // a small branch: no 支委会
        let small = Holder {
            full_members: 5,
            ..h
        };
        assert!(plan_year(2026, &small, &r, &[])
            .iter()
            .all(|p| !p.kinds.iter().any(|x| x == "committee")));
    }

    #[test]
    fn assembly_quorum_is_more_than_half_of_the_voting_members() {
        let r = MeetingRules::default();
        let roll = |expected, present| Roll {
            expected,
            present,
            voting_expected: expected,
            voting_present: present,
        };
        // (voting expected, present, valid)
        let cases = [
            (10, 5, false),
            (10, 6, true),
            (9, 4, false),
            (9, 5, true),
            (1, 1, true),
            (0, 0, false),
        ];
        for (e, p, ok) in cases {
            let got = check_quorum(&kinds(&["assembly"]), &roll(e, p), (0, 0), &r);
            assert_eq!(got.is_ok(), ok, "{e} {p}");
        }
        // no quorum for a theme day alone
        assert!(check_quorum(&kinds(&["theme_day"]), &roll(10, 1), (0, 0), &r).is_ok());
        // 支委会: more than half of the committee
        for (present, size, ok) in [(2, 5, false), (3, 5, true), (2, 3, true), (1, 3, false)] {
            let got = check_quorum(&kinds(&["committee"]), &roll(0, 0), (present, size), &r);
            assert_eq!(got.is_ok(), ok, "{present}/{size}");
        }
        let e = check_quorum(&kinds(&["assembly"]), &roll(10, 5), (0, 0), &r).expect_err("quorum");
        assert!(
            e.to_string().contains("应到10人，实到5人")
                || format!("{e:?}").contains("应到10人，实到5人")
        );
    }

    #[test]
    fn votes_add_up_and_pass_on_more_than_half_of_those_entitled() {
        let r = MeetingRules::default();
        let roll = Roll {
            expected: 12,
            present: 9,
            voting_expected: 10,
            voting_present: 8,
        };
        let v = |ayes, noes, abstentions| Vote {
            motion: "议题".into(),
            ayes,
            noes,
            abstentions,
            passed: false,
        };
        // (ayes, noes, abstentions, passed); None: refused
        let cases = [
            (6, 2, 0, Some(true)),
            (5, 3, 0, Some(false)), // 5 is not more than half of the 10 entitled
            (5, 2, 1, Some(false)),
            (6, 1, 0, None), // 7 votes for 8 present
            (6, 2, 1, None), // 9 votes for 8 present
            (-1, 9, 0, None),
        ];
        for (a, n, ab, want) in cases {
            let mut votes = vec![v(a, n, ab)];
            let got = decide_votes(&mut votes, &roll, &r);
            match want {
                Some(p) => {
                    assert!(got.is_ok(), "{a} {n} {ab}");
                    assert_eq!(votes[0].passed, p, "{a} {n} {ab}");
                }
                None => assert!(got.is_err(), "{a} {n} {ab}"),
            }
        }
    }

    #[test]
    fn sign_in_is_open_only_around_the_sitting() {
        let r = MeetingRules::default(); // 30 before, 60 after
        let starts = DateTime::parse_from_rfc3339("2026-12-04T01:00:00Z")
            .expect("t")
            .to_utc();
        let ends = starts + Duration::hours(2);
        let cases = [
            (starts - Duration::minutes(31), false),
            (starts - Duration::minutes(30), true),
            (starts + Duration::minutes(10), true),
            (ends + Duration::minutes(60), true),
            (ends + Duration::minutes(61), false),
        ];
        for (now, ok) in cases {
            assert_eq!(in_sign_window(now, starts, ends, &r), ok, "{now}");
        }
    }

    #[test]
    fn the_sql_list_names_every_kind() {
        let want = format!(
            "({})",
            KINDS
                .iter()
                .map(|k| format!("'meeting.{}'", k.0))
                .collect::<Vec<_>>()
                .join(", ")
        );
        assert_eq!(OBLIGATION_KINDS_SQL, want);
    }

    #[test]
    fn minutes_alike_by_character_pairs() {
        let a = "集中学习党的二十大精神和上级有关文件，党员结合自身工作谈体会；支部书记通报本月工作安排。";
        assert_eq!(similarity_permille(a, a), 1000);
        // punctuation and spaces do not count
        let b = a.replace('，', " ").replace('；', "");
        assert_eq!(similarity_permille(a, &b), 1000);
        // one clause changed: still alike; another text: not
        let c = a.replace("本月", "下月");
        let s = similarity_permille(a, &c);
        assert!((850..1000).contains(&s), "{s}");
        let d = "传达学习县委、乡镇党委会议精神，讨论村集体经济发展和人居环境整治，党员逐一发言。";
        assert!(
            similarity_permille(a, d) < 300,
            "{}",
            similarity_permille(a, d)
        );
        assert_eq!(similarity_permille("", a), 0);
        assert_eq!(similarity_permille("党", a), 0);
        assert_eq!(text_chars("党员， 大会。"), 4);
    }

    #[test]
    fn life_score_counts_late_as_half() {
        for (done, late, missed, overdue, max, want) in [
            (12, 0, 0, 0, 15, Some(15)),
            (0, 0, 0, 0, 15, None),
            (0, 0, 12, 0, 15, Some(0)),
            (11, 0, 1, 0, 15, Some(14)), // 13.75
            (10, 2, 0, 0, 15, Some(14)), // 13.75
            (6, 0, 6, 0, 15, Some(8)),   // 7.5 rounds up
            (5, 0, 7, 0, 15, Some(6)),   // 6.25
            (9, 0, 0, 3, 20, Some(15)),
        ] {
            assert_eq!(
                life_score(done, late, missed, overdue, max),
                want,
                "{done} {late} {missed} {overdue}"
            );
        }
    }

    #[test]
    fn talks_cover_each_category() {
        assert_eq!(talk_category(true, true), "committee");
        assert_eq!(talk_category(true, false), "mixed");
        assert_eq!(talk_category(false, true), "mixed");
        assert_eq!(talk_category(false, false), "members");
        let r = MeetingRules::default();
        assert_eq!(talk_gaps(&[], &r), ["committee", "mixed", "members"]);
        assert_eq!(
            talk_gaps(&[("committee", 1), ("members", 3)], &r),
            ["mixed"]
        );
        assert!(talk_gaps(&[("committee", 1), ("mixed", 1), ("members", 1)], &r).is_empty());
        let two = MeetingRules {
            talks_per_category_year: 2,
            ..Default::default()
        };
        assert_eq!(
            talk_gaps(&[("committee", 1), ("mixed", 2), ("members", 2)], &two),
            ["committee"]
        );
        let none = MeetingRules {
            talks_per_category_year: 0,
            ..Default::default()
        };
        assert!(talk_gaps(&[], &none).is_empty());
    }

    #[test]
    fn shares_are_said_in_words() {
        assert_eq!(share_words(500), "半数");
        assert_eq!(share_words(800), "五分之四");
        assert_eq!(share_words(200), "20%");
        assert_eq!(share_words(667), "66.7%");
    }

    #[test]
    fn the_light_turns_with_missed_periods() {
        let r = MeetingRules::default(); // amber up to 1 missed
        let cases = [
            ((0, 0, 0), "green"),
            ((0, 1, 0), "amber"),
            ((0, 0, 1), "amber"),
            ((1, 0, 0), "amber"),
            ((2, 0, 0), "red"),
        ];
        for ((m, l, o), want) in cases {
            assert_eq!(light(m, l, o, &r), want, "{m} {l} {o}");
        }
    }

    #[test]
    fn six_months_without_attending_needs_a_record_that_long() {
        let cut = d(2026, 6, 7);
        // (first expected, last present, absences since the cut, warned)
        let cases = [
            (Some(d(2026, 1, 2)), None, 1, true),
            (Some(d(2026, 6, 7)), None, 1, true), // expected on the cut: a record that long
            (Some(d(2026, 6, 8)), None, 3, false), // the platform knows them for less
            (Some(d(2026, 1, 2)), Some(d(2026, 6, 6)), 1, true), // last present the day before
            (Some(d(2026, 1, 2)), Some(d(2026, 6, 7)), 1, false), // present on the cut
            (Some(d(2026, 1, 2)), None, 0, false), // on leave throughout: not absent
            (None, None, 0, false),
        ];
        for (first, last, absences, want) in cases {
            assert_eq!(
                long_absent(first, last, absences, cut),
                want,
                "{first:?} {last:?} {absences}"
            );
        }
    }

    #[test]
    fn the_rules_refuse_what_cannot_be_meant() {
        use crate::rules::RuleKind;
        assert!(MeetingRules::default().validate().is_ok());
        let mut r = MeetingRules::default();
        r.requirements.push(req("assembly", "month"));
        assert!(r.validate().is_err());
        let mut r = MeetingRules::default();
        r.requirements[0].period = "fortnight".into();
        assert!(r.validate().is_err());
        for (q, ok) in [(0, false), (1, true), (999, true), (1000, false)] {
            let r = MeetingRules {
                assembly_quorum_permille: q,
                ..MeetingRules::default()
            };
            assert_eq!(r.validate().is_ok(), ok, "{q}");
        }
        assert_eq!(
            parse_kinds("theme_day, assembly,bogus"),
            kinds(&["assembly", "theme_day"])
        );
    }
}
