//! 第一书记: cadres sent to villages. An organisation department runs a round (批次); a sending
//! unit nominates a cadre of the register; the department assigns them to a village with a
//! start date and a term (1–3 years, extendable), the township's liaison, the team and the
//! "3+1" tutors (综合/村级/实践导师), and records the village as found (the baseline that later
//! results are measured against); it may recall them. On duty, the first secretary clocks in
//! and out on a phone: the browser's position is measured against the village's location and a
//! radius, a photo is taken at that moment, and a check-in queued without signal keeps the time
//! it was taken, marked as sent later. A month's days in the village are counted against a
//! share of its working days (the platform calendar).
//!
//! The rules here are pure functions over plain data; their numbers are the rule set
//! [`FsRules`].

pub mod alliance;
pub mod results;
pub mod scoring;
pub mod store;
pub mod web;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// The rule values of first secretaries (per locality).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct FsRules {
    /// The shortest and longest term at assignment, in months (中组部 2015: 1–3 years).
    pub term_months_min: i64,
    pub term_months_max: i64,
    /// The longest term with its extensions, in months.
    pub term_months_max_extended: i64,
    /// A check-in within this many metres of the village's location counts as in the village.
    pub checkin_radius_m: i64,
    /// A position the phone reports as coarser than this many metres cannot show the first
    /// secretary in the village (recorded, counted as outside).
    pub max_accuracy_m: i64,
    /// Every check-in needs a photo taken at that moment.
    pub require_photo: bool,
    /// The largest photo, in MB.
    pub photo_max_mb: i64,
    /// A check-in whose time is more than this many minutes before it reached the server is
    /// marked as sent later (离线补传).
    pub offline_after_minutes: i64,
    /// A check-in queued offline is taken at most this many hours after its time.
    pub offline_max_hours: i64,
    /// Days in the village a month must reach, in thousandths of the month's working days
    /// (666: two thirds — rounded up, 666‰ of up to 31 days asks exactly what ⅔ does).
    pub village_days_permille: i64,
    /// Positions and photos of check-ins are deleted this many days after them (the distance
    /// and the verdict stay).
    pub retention_days: i64,
    /// A leave of up to this many working days is approved by the township; a longer one by
    /// the county.
    pub leave_township_max_days: i64,
    /// The longest leave one request may ask for, in working days.
    pub leave_max_days: i64,
    /// 四个一: a meeting, visit, training or assessment not entered this many days after the
    /// end of its period counts as missed (it may still be entered, as late).
    pub activity_grace_days: i64,
    /// The most items a 履职承诺书 may hold.
    pub pledge_items_max: i64,
    /// 双考核: the weight, in percent, of the year's monthly scores (日常考核) in the yearly
    /// result; the rest is the department's 履职考核 against the pledge.
    pub annual_monthly_percent: i64,
    /// The lowest yearly result (0–100) of each grade: 优秀, 称职, 基本称职 (below: 不称职).
    pub annual_excellent_min: i64,
    pub annual_competent_min: i64,
    pub annual_basic_min: i64,
    /// At most this share of a department's first secretaries are 优秀 in a year.
    #[schema(value_type = Vec<i64>, min_items = 2, max_items = 2)]
    pub annual_excellent_share: crate::rules::Ratio,
    /// The monthly 实绩 report of a month is due by the end of this day of the next month.
    pub report_due_day: i64,
    /// The results counters (实绩) a monthly report fills in: roads, lamps, jobs, collective
    /// income … (the seeds' figures), each with its unit and decimal places.
    pub counters: Vec<Counter>,
    /// 亮身份、亮标准、亮承诺: a first secretary on duty has a public page (no account, no
    /// personal data) the village's notice board can point to.
    pub public_profile: bool,
    /// The work standard the public page shows (亮标准).
    pub public_standard: Vec<String>,
    /// 擂主 named at a contest's close: those ranked within this number (ties at the cut
    /// included).
    pub contest_champions: i64,
}

/// A results counter of the monthly 实绩 report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Counter {
    /// A short code (letters, digits, `_`), kept with every value filed under it.
    pub key: String,
    pub category: String,
    pub name: String,
    pub unit: String,
    /// Decimal places (0–2), e.g. 2 for 公里 and 万元.
    pub decimals: i64,
}

fn counter(key: &str, category: &str, name: &str, unit: &str, decimals: i64) -> Counter {
    Counter {
        key: key.into(),
        category: category.into(),
        name: name.into(),
        unit: unit.into(),
        decimals,
    }
}

/// The seeds' results counters (000, 001, 002: what the reports count per village).
fn default_counters() -> Vec<Counter> {
    vec![
        counter("lessons", "组织建设", "上党课", "次", 0),
        counter("new_members", "组织建设", "发展党员", "名", 0),
        counter("activists", "组织建设", "发展入党积极分子", "名", 0),
        counter("reserve_cadres", "组织建设", "培养后备干部", "名", 0),
        counter("projects", "产业发展", "引进或推广致富项目", "个", 0),
        counter("cooperatives", "产业发展", "领办合作社", "个", 0),
        counter("land", "产业发展", "新增入社土地", "亩", 1),
        counter("income", "产业发展", "新增村集体收入", "万元", 2),
        counter("funds", "产业发展", "协调项目资金", "万元", 2),
        counter("jobs", "产业发展", "带动就业", "人次", 0),
        counter("roads", "基础设施", "新修道路", "公里", 2),
        counter("lamps", "基础设施", "安装路灯", "盏", 0),
        counter("wells", "基础设施", "新打机井", "眼", 0),
        counter("ponds", "基础设施", "治理坑塘、黑臭水体", "个", 0),
        counter("clinics", "基础设施", "新建和改建卫生室", "个", 0),
        counter("sports", "基础设施", "兴建体育设施", "处", 0),
        counter("visits", "为民服务", "走访群众", "户", 0),
        counter("condolences", "为民服务", "慰问困难党员群众", "户", 0),
        counter("solved", "为民服务", "帮助解决实际问题", "个", 0),
        counter("disputes", "为民服务", "化解矛盾纠纷", "件", 0),
    ]
}

impl Default for FsRules {
    fn default() -> Self {
        Self {
            term_months_min: 12,
            term_months_max: 36,
            term_months_max_extended: 48,
            checkin_radius_m: 500,
            max_accuracy_m: 200,
            require_photo: true,
            photo_max_mb: 5,
            offline_after_minutes: 10,
            offline_max_hours: 72,
            village_days_permille: 666,
            retention_days: 365,
            leave_township_max_days: 3,
            leave_max_days: 30,
            activity_grace_days: 10,
            pledge_items_max: 10,
            annual_monthly_percent: 60,
            annual_excellent_min: 90,
            annual_competent_min: 70,
            annual_basic_min: 60,
            annual_excellent_share: [1, 5],
            report_due_day: 5,
            counters: default_counters(),
            public_profile: true,
            // the four duties of 中组部等 2015 (the national rule; a locality may set its own,
            // e.g. 峄城's 五项职责)
            public_standard: vec![
                "建强基层组织".into(),
                "推动精准扶贫".into(),
                "为民办事服务".into(),
                "提升治理水平".into(),
            ],
            contest_champions: 3,
        }
    }
}

impl crate::rules::RuleKind for FsRules {
    const KIND: &'static str = "first_secretary";
    const LABEL: &'static str = "第一书记规则";
    fn validate(&self) -> Result<(), String> {
        if !(1..=60).contains(&self.term_months_min)
            || self.term_months_max < self.term_months_min
            || self.term_months_max > 72
        {
            return Err("任期月数须在1至72之间，且最短不大于最长".into());
        }
        if !(self.term_months_max..=96).contains(&self.term_months_max_extended) {
            return Err("延期后的最长任期须不短于最长任期、不超过96个月".into());
        }
        if !(50..=10_000).contains(&self.checkin_radius_m) {
            return Err("打卡半径须在50至10000米之间".into());
        }
        if !(10..=5000).contains(&self.max_accuracy_m) {
            return Err("定位精度要求须在10至5000米之间".into());
        }
        if !(1..=20).contains(&self.photo_max_mb) {
            return Err("照片大小上限须在1至20MB之间".into());
        }
        if !(1..=1440).contains(&self.offline_after_minutes) {
            return Err("离线补传的判定分钟数须在1至1440之间".into());
        }
        if !(1..=720).contains(&self.offline_max_hours) {
            return Err("离线打卡补传时限须在1至720小时之间".into());
        }
        if !(0..=1000).contains(&self.village_days_permille) {
            return Err("在村天数比例须在0至1000‰之间".into());
        }
        if !(30..=3650).contains(&self.retention_days) {
            return Err("位置和照片保存天数须在30至3650之间".into());
        }
        if !(0..=30).contains(&self.leave_township_max_days) {
            return Err("乡镇审批的请假天数须在0至30之间".into());
        }
        if !(1..=180).contains(&self.leave_max_days) {
            return Err("一次请假的最长天数须在1至180之间".into());
        }
        if !(0..=90).contains(&self.activity_grace_days) {
            return Err("“四个一”补录期限须在0至90天之间".into());
        }
        if !(1..=50).contains(&self.pledge_items_max) {
            return Err("履职承诺的条数上限须在1至50之间".into());
        }
        if !(0..=100).contains(&self.annual_monthly_percent) {
            return Err("月度评分在年度考核中的权重须在0至100%之间".into());
        }
        if !(self.annual_basic_min < self.annual_competent_min
            && self.annual_competent_min < self.annual_excellent_min
            && self.annual_basic_min >= 0
            && self.annual_excellent_min <= 100)
        {
            return Err(
                "年度考核等次分数线须在0至100之间，且优秀高于称职、称职高于基本称职".into(),
            );
        }
        let [n, d] = self.annual_excellent_share;
        if n < 0 || d <= 0 || n > d {
            return Err("年度考核优秀比例应为 0 至 1 之间的分数".into());
        }
        if !(1..=28).contains(&self.report_due_day) {
            return Err("月度实绩报告的报送日须在次月1日至28日之间".into());
        }
        check_counters(&self.counters)?;
        if !(1..=50).contains(&self.contest_champions) {
            return Err("每次比武打擂评出的擂主须在1至50名之间".into());
        }
        if self.public_standard.len() > 10
            || self
                .public_standard
                .iter()
                .any(|x| x.trim().is_empty() || x.chars().count() > 50)
        {
            return Err("公开的工作标准最多10条，每条1至50字".into());
        }
        Ok(())
    }
}

/// The catalogue of results counters: 1–60 entries, codes unique, names and units given.
pub fn check_counters(counters: &[Counter]) -> Result<(), String> {
    if counters.is_empty() || counters.len() > 60 {
        return Err("实绩统计项须有1至60项".into());
    }
    let mut seen = std::collections::HashSet::new();
    for (i, c) in counters.iter().enumerate() {
        let n = i + 1;
        if c.key.is_empty()
            || c.key.len() > 30
            || !c
                .key
                .chars()
                .all(|x| x.is_ascii_lowercase() || x.is_ascii_digit() || x == '_')
        {
            return Err(format!(
                "实绩统计项第{n}行：代码须为1至30个小写字母、数字或下划线"
            ));
        }
        if !seen.insert(c.key.as_str()) {
            return Err(format!("实绩统计项第{n}行：代码“{}”重复", c.key));
        }
        let len = |t: &str, max: usize| !t.trim().is_empty() && t.chars().count() <= max;
        if !len(&c.name, 30) || !len(&c.category, 20) || !len(&c.unit, 10) {
            return Err(format!(
                "实绩统计项第{n}行：须填写类别（20字以内）、名称（30字以内）和单位（10字以内）"
            ));
        }
        if !(0..=2).contains(&c.decimals) {
            return Err(format!("实绩统计项第{n}行：小数位须为0至2"));
        }
    }
    Ok(())
}

/// The largest value a counter takes in one report (in its unit).
pub const COUNTER_MAX: i64 = 100_000_000;

/// A counter's value as typed (`12`, `3.5`, `0.25`; full-width digits and point accepted) in
/// its smallest unit (× 10^decimals): none for an empty field; refused when negative, not a
/// number, finer than its decimal places or above [`COUNTER_MAX`].
pub fn parse_amount(text: &str, decimals: i64) -> Result<Option<i64>, String> {
    let t: String = text
        .trim()
        .chars()
        .map(|c| match c {
            '０'..='９' => char::from_u32(c as u32 - '０' as u32 + '0' as u32).unwrap_or(c),
            '．' | '。' => '.',
            _ => c,
        })
        .collect();
    if t.is_empty() {
        return Ok(None);
    }
    let bad = || {
        if decimals == 0 {
            "须为不小于0的整数".to_string()
        } else {
            format!("须为不小于0的数，最多{decimals}位小数")
        }
    };
    let (whole, frac) = t.split_once('.').unwrap_or((&t, ""));
    if whole.is_empty()
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
        || (t.contains('.') && frac.is_empty())
        || frac.len() as i64 > decimals
        || whole.len() > 12
    {
        return Err(bad());
    }
    let scale = 10_i64.pow(decimals as u32);
    let w: i64 = whole.parse().map_err(|_| bad())?;
    if w > COUNTER_MAX {
        return Err(format!("不能超过{COUNTER_MAX}"));
    }
    let f: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse::<i64>().map_err(|_| bad())? * 10_i64.pow((decimals - frac.len() as i64) as u32)
    };
    let v = w * scale + f;
    if v > COUNTER_MAX * scale {
        return Err(format!("不能超过{COUNTER_MAX}"));
    }
    Ok(Some(v))
}

/// A value in its smallest unit as people read it: 24423 with 2 decimals is `244.23`, 3000
/// is `30` (no trailing zeros).
pub fn format_amount(v: i64, decimals: i64) -> String {
    if decimals <= 0 {
        return v.to_string();
    }
    let scale = 10_i64.pow(decimals as u32);
    let (w, f) = (v / scale, (v % scale).abs());
    if f == 0 {
        return w.to_string();
    }
    let frac = format!("{f:0width$}", width = decimals as usize);
    format!("{w}.{}", frac.trim_end_matches('0'))
}

/// Whether a monthly report of the month starting `month_start` may be filed on `today` by a
/// posting from `start` (to `last`, the day it ended, if it has): the month has begun and
/// lies in the posting.
pub fn report_month_check(
    month_start: NaiveDate,
    today: NaiveDate,
    start: NaiveDate,
    last: Option<NaiveDate>,
) -> Result<(), &'static str> {
    let (first, month_end) = month_bounds(month_start);
    if first > today {
        return Err("该月尚未开始，不能报送实绩");
    }
    if month_end < start || last.is_some_and(|l| first > l) {
        return Err("该月不在派驻任期内");
    }
    Ok(())
}

/// When a month's report is due (the end of the rule's day of the next month) and when, not
/// yet filed, it counts as missed (`grace_days` later).
pub fn report_deadlines(
    month_start: NaiveDate,
    r: &FsRules,
    zone: &crate::clock::Zone,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let (_, end) = month_bounds(month_start);
    let day = end + Duration::days(r.report_due_day.clamp(1, 28));
    activity_deadlines(day, r.activity_grace_days, zone)
}

/// 一年一奖惩: the grades of the yearly assessment, highest first.
pub const ANNUAL_GRADES: [(&str, &str); 4] = [
    ("excellent", "优秀"),
    ("competent", "称职"),
    ("basic", "基本称职"),
    ("incompetent", "不称职"),
];

/// 双考核: the yearly result (0–100) of a first secretary — the year's monthly scores as a
/// percentage of the sheet's full marks (`scored` of `full` over the months scored), weighted
/// by `annual_monthly_percent`, and the department's 履职考核 against the pledge for the rest;
/// rounded half up. Without a month scored, the pledge assessment alone.
pub fn annual_result(scored: i64, full: i64, pledge: i64, r: &FsRules) -> i64 {
    let w = r.annual_monthly_percent.clamp(0, 100);
    if full <= 0 {
        return pledge.clamp(0, 100);
    }
    // in ten-thousandths: monthly% × w + pledge × (100 − w), over 100, rounded half up
    let num = scored.clamp(0, full) * 100 * w + pledge.clamp(0, 100) * (100 - w) * full;
    let den = full * 100;
    (2 * num + den) / (2 * den)
}

/// The grades of a department's yearly results: the bands first, then at most
/// ⌊n × annual_excellent_share⌋ 优秀 by rank (a tie across the limit goes down whole) — the
/// points engine's conversion with the rule set's bands. (id, result, rank, grade key, note).
pub fn annual_grades(
    results: &[(i64, i64)],
    r: &FsRules,
) -> Vec<(i64, i64, i64, &'static str, String)> {
    let g = |key: &str, min| crate::points::Grade {
        name: key.into(),
        min,
        outcome: String::new(),
    };
    let bands = crate::points::PointsRules {
        grades: vec![
            g("excellent", r.annual_excellent_min),
            g("competent", r.annual_competent_min),
            g("basic", r.annual_basic_min),
            g("incompetent", 0),
        ],
        excellent_share: r.annual_excellent_share,
        ..crate::points::PointsRules::default()
    };
    let [sn, sd] = r.annual_excellent_share;
    let allowed = if sd > 0 {
        results.len() as i64 * sn / sd
    } else {
        0
    };
    crate::points::convert(results, &bands)
        .into_iter()
        .map(|o| {
            let note = if o.note.is_empty() {
                String::new()
            } else {
                format!("达到优秀分数线，超出优秀比例（{sn}/{sd}，至多{allowed}名）")
            };
            let key = ANNUAL_GRADES
                .iter()
                .map(|x| x.0)
                .find(|k| *k == o.grade)
                .unwrap_or("incompetent");
            (o.member_id, o.total, o.rank, key, note)
        })
        .collect()
}

/// Where a first secretary is sent from.
pub const LEVELS: [(&str, &str); 3] = [("province", "省派"), ("city", "市派"), ("county", "县派")];

pub const STATUSES: [(&str, &str); 5] = [
    ("nominated", "已推荐"),
    ("returned", "未采纳"),
    ("on_duty", "在岗"),
    ("recalled", "已召回"),
    ("completed", "期满"),
];

/// The "3+1" tutors.
pub const TUTOR_ROLES: [(&str, &str); 3] = [
    ("general", "综合导师"),
    ("village", "村级导师"),
    ("practice", "实践导师"),
];

pub const KINDS: [(&str, &str); 2] = [("in", "上班打卡"), ("out", "下班打卡")];

pub const LEAVE_STATUSES: [(&str, &str); 4] = [
    ("requested", "待审批"),
    ("approved", "已批准"),
    ("refused", "未批准"),
    ("cancelled", "已撤销"),
];

pub const APPROVERS: [(&str, &str); 2] = [("township", "乡镇审批"), ("county", "县级审批")];

/// How a spot check (四不两直) was made.
pub const CHECK_METHODS: [(&str, &str); 3] = [
    ("visit", "实地暗访"),
    ("phone", "电话抽查"),
    ("video", "视频连线"),
];

/// How a tutor's guidance session was held.
pub const GUIDANCE_METHODS: [(&str, &str); 4] = [
    ("visit", "到村指导"),
    ("meeting", "座谈交流"),
    ("phone", "电话指导"),
    ("online", "线上指导"),
];

pub const CHECK_RESULTS: [(&str, &str); 2] = [("present", "在岗"), ("absent", "不在岗")];

/// 四个一 (金乡, F10–F13): what the department running a round holds for its first
/// secretaries, and how often — a work meeting every month, a site visit every quarter, a
/// training every half-year, a performance assessment every year.
pub const ACTIVITIES: [(&str, &str); 4] = [
    ("meeting", "工作例会"),
    ("visit", "现场观摩"),
    ("training", "业务培训"),
    ("assessment", "履职考核"),
];

/// The obligation kind of each activity (registered in `obligation::CADENCES`).
pub const ACTIVITY_CADENCES: [(&str, &str); 4] = [
    ("meeting", "fs.meeting"),
    ("visit", "fs.visit"),
    ("training", "fs.training"),
    ("assessment", "fs.assessment"),
];

pub fn activity_cadence(kind: &str) -> Option<&'static str> {
    ACTIVITY_CADENCES.iter().find(|c| c.0 == kind).map(|c| c.1)
}

/// The period of `kind` holding `d`: a month, a quarter, a half-year or a year.
pub fn activity_period(kind: &str, d: NaiveDate) -> Option<crate::obligation::Period> {
    let y = d.year();
    let (key, first_month, months) = match kind {
        "meeting" => (format!("{y}-{:02}", d.month()), d.month(), 1),
        "visit" => {
            let q = (d.month() - 1) / 3;
            (format!("{y}-Q{}", q + 1), q * 3 + 1, 3)
        }
        "training" => {
            let h = (d.month() - 1) / 6;
            (format!("{y}-H{}", h + 1), h * 6 + 1, 6)
        }
        "assessment" => (format!("{y}"), 1, 12),
        _ => return None,
    };
    let start = NaiveDate::from_ymd_opt(y, first_month, 1)?;
    let end = start
        .checked_add_months(chrono::Months::new(months))?
        .pred_opt()?;
    Some(crate::obligation::Period { key, start, end })
}

/// The activity (kind, name) an obligation kind of [`ACTIVITY_CADENCES`] stands for.
pub fn cadence_activity(cadence: &str) -> Option<(&'static str, &'static str)> {
    let kind = ACTIVITY_CADENCES.iter().find(|c| c.1 == cadence)?.0;
    ACTIVITIES.iter().find(|a| a.0 == kind).copied()
}

/// The name of the period starting on `start` of an obligation kind of [`ACTIVITY_CADENCES`].
pub fn cadence_period_label(cadence: &str, start: NaiveDate) -> Option<String> {
    let (kind, _) = cadence_activity(cadence)?;
    activity_period(kind, start).map(|p| period_label(kind, &p))
}

/// When a period's activity is due (the end of its last day) and when, not yet recorded, it
/// counts as missed (`grace_days` later).
pub fn activity_deadlines(
    end: NaiveDate,
    grace_days: i64,
    zone: &crate::clock::Zone,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let due = zone.start_of(end + Duration::days(1));
    (due, due + Duration::days(grace_days))
}

/// The period before `p` of the same kind.
pub fn previous_period(
    kind: &str,
    p: &crate::obligation::Period,
) -> Option<crate::obligation::Period> {
    activity_period(kind, p.start.pred_opt()?)
}

/// A period as people name it: 2026年12月, 2026年第四季度, 2026年下半年, 2026年度.
pub fn period_label(kind: &str, p: &crate::obligation::Period) -> String {
    let y = p.start.year();
    match kind {
        "meeting" => format!("{y}年{}月", p.start.month()),
        "visit" => format!(
            "{y}年第{}季度",
            ["一", "二", "三", "四"][((p.start.month() - 1) / 3) as usize % 4]
        ),
        "training" => format!(
            "{y}年{}",
            if p.start.month() <= 6 {
                "上半年"
            } else {
                "下半年"
            }
        ),
        _ => format!("{y}年度"),
    }
}

/// The red/black ledger's sides (第一书记工作红黑台账).
pub const LEDGER_COLORS: [(&str, &str); 2] = [("red", "红榜"), ("black", "黑榜")];

/// What an entry records, and the side it goes on: commendations, contest wins and
/// achievements are red; absences, failed checks, upheld complaints and penalties black.
pub const LEDGER_CATEGORIES: [(&str, &str); 8] = [
    ("commendation", "表彰奖励"),
    ("contest_win", "比武打擂获胜"),
    ("achievement", "实绩突出"),
    ("thanks", "群众致谢"),
    ("absence", "无故不在岗"),
    ("failed_check", "督查检查未通过"),
    ("complaint", "群众投诉查实"),
    ("penalty", "问责处理"),
];

/// The side a category goes on; `None` for a category the ledger does not know.
pub fn ledger_color(category: &str) -> Option<&'static str> {
    match category {
        "commendation" | "contest_win" | "achievement" | "thanks" => Some("red"),
        "absence" | "failed_check" | "complaint" | "penalty" => Some("black"),
        _ => None,
    }
}

/// A day within the posting (from its start to its end, or today while it lasts) and never
/// after today: when a ledger entry or a spot check may be dated.
pub fn within_posting(
    on: NaiveDate,
    today: NaiveDate,
    start: Option<NaiveDate>,
    ended: Option<NaiveDate>,
) -> bool {
    on <= today && start.is_some_and(|s| on >= s) && ended.is_none_or(|e| on <= e)
}

/// Whether an entry may be reversed: an original entry (not itself a reversal) that no entry
/// has reversed yet.
pub fn ledger_reversible(is_reversal: bool, already_reversed: bool) -> Result<(), &'static str> {
    if is_reversal {
        return Err("冲销记录不能再冲销");
    }
    if already_reversed {
        return Err("这条记录已冲销");
    }
    Ok(())
}

/// Who approves a leave of `days` working days: the township up to the rule's days, the
/// county beyond; more than the longest leave is refused.
pub fn leave_approver(days: i64, rules: &FsRules) -> Result<&'static str, String> {
    if days < 1 {
        return Err("请假期间没有工作日，无需请假".into());
    }
    if days > rules.leave_max_days {
        return Err(format!(
            "一次请假最多{}个工作日，请分段申请",
            rules.leave_max_days
        ));
    }
    Ok(if days <= rules.leave_township_max_days {
        "township"
    } else {
        "county"
    })
}

pub fn label(table: &[(&'static str, &'static str)], code: &str) -> &'static str {
    crate::rules::label(table, code)
}

/// Longest texts.
pub const MAX_TEXT: usize = 200;

/// A position, in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub lat: f64,
    pub lng: f64,
}

impl Point {
    /// A position the browser could give: finite, on the globe.
    pub fn valid(&self) -> bool {
        self.lat.is_finite()
            && self.lng.is_finite()
            && (-90.0..=90.0).contains(&self.lat)
            && (-180.0..=180.0).contains(&self.lng)
    }

    pub fn from_e6(lat: i64, lng: i64) -> Self {
        Self {
            lat: lat as f64 / 1e6,
            lng: lng as f64 / 1e6,
        }
    }

    pub fn e6(&self) -> (i64, i64) {
        (
            (self.lat * 1e6).round() as i64,
            (self.lng * 1e6).round() as i64,
        )
    }
}

/// The great-circle distance in metres (haversine on a sphere of the Earth's mean radius;
/// within a village's radius the error is well under a metre).
pub fn distance_m(a: Point, b: Point) -> f64 {
    const R: f64 = 6_371_008.8;
    let (p1, p2) = (a.lat.to_radians(), b.lat.to_radians());
    let dp = (b.lat - a.lat).to_radians();
    let dl = (b.lng - a.lng).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * R * h.sqrt().min(1.0).asin()
}

/// Whether a check-in at `distance` metres, with the fix's reported accuracy (metres, when
/// the phone gave one), is in the village: at the radius still is; a fix coarser than the
/// rule's accuracy cannot show it.
pub fn inside(distance: i64, accuracy: Option<i64>, rules: &FsRules) -> bool {
    distance <= rules.checkin_radius_m && accuracy.is_none_or(|a| a <= rules.max_accuracy_m)
}

/// What the time a phone gives for a check-in means: taken now, or queued and sent later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    Now,
    Offline,
}

/// Checks the time a check-in claims against when it arrived. A time in the future (beyond
/// two minutes of clock skew) or older than the offline window is refused; one more than
/// `offline_after_minutes` old is marked as sent later.
pub fn timing(
    at: DateTime<Utc>,
    received: DateTime<Utc>,
    rules: &FsRules,
) -> Result<Timing, String> {
    if at > received + Duration::minutes(2) {
        return Err("打卡时间晚于当前时间：请校准手机时间后重试".into());
    }
    if at < received - Duration::hours(rules.offline_max_hours) {
        return Err(format!(
            "离线打卡须在{}小时内补传，这条已超过时限",
            rules.offline_max_hours
        ));
    }
    if at < received - Duration::minutes(rules.offline_after_minutes) {
        Ok(Timing::Offline)
    } else {
        Ok(Timing::Now)
    }
}

/// The last day of a term of `months` starting on `start` (a 12-month term from 1 March ends
/// on the last day of February).
pub fn term_end(start: NaiveDate, months: i64) -> NaiveDate {
    let months = months.clamp(0, 1200) as u32;
    start
        .checked_add_months(chrono::Months::new(months))
        .and_then(|d| d.pred_opt())
        .unwrap_or(start)
}

/// A term at assignment: within the rule's bounds.
pub fn check_term(months: i64, rules: &FsRules) -> Result<(), String> {
    if (rules.term_months_min..=rules.term_months_max).contains(&months) {
        Ok(())
    } else {
        Err(format!(
            "任期须在{}至{}个月之间",
            rules.term_months_min, rules.term_months_max
        ))
    }
}

/// An extension: the whole term with it stays within the extended maximum.
pub fn check_extension(current: i64, more: i64, rules: &FsRules) -> Result<(), String> {
    if more < 1 {
        return Err("延长的月数须至少为1".into());
    }
    let total = current.saturating_add(more);
    if total > rules.term_months_max_extended {
        return Err(format!(
            "延期后任期超过最长{}个月",
            rules.term_months_max_extended
        ));
    }
    Ok(())
}

/// The days in the village a month asks for: the share of its working days, rounded up.
pub fn days_required(working_days: i64, rules: &FsRules) -> i64 {
    (working_days * rules.village_days_permille + 999) / 1000
}

/// The first and last day of the month holding `d`.
pub fn month_bounds(d: NaiveDate) -> (NaiveDate, NaiveDate) {
    let first = d.with_day(1).unwrap_or(d);
    let last = first
        .checked_add_months(chrono::Months::new(1))
        .and_then(|x| x.pred_opt())
        .unwrap_or(first);
    (first, last)
}

/// A month's presence of one first secretary: days with a check-in in the village, days with
/// check-ins only outside it, against what is required of the days of the month on duty.
#[derive(Debug, Clone, Default, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Presence {
    /// Working days of the month while on duty (up to today for the current month).
    pub working_days: i64,
    pub required: i64,
    /// Working days on approved leave (not required).
    pub leave_days: i64,
    /// Days with at least one check-in inside the radius (any day: weekends count too).
    pub in_village: i64,
    /// Past working days neither in the village nor on leave (缺勤).
    pub absent_days: i64,
    /// Days whose check-ins were all outside the radius.
    pub outside_only: i64,
    /// Check-ins sent later from an offline queue.
    pub offline: i64,
    /// Below what is required.
    pub short: bool,
}

/// Counts a month from the check-ins' (day, inside, offline), its past working days and the
/// working days on approved leave.
pub fn presence(
    checkins: &[(NaiveDate, bool, bool)],
    working: &[NaiveDate],
    leave: &std::collections::BTreeSet<NaiveDate>,
    rules: &FsRules,
) -> Presence {
    let mut inside_days = std::collections::BTreeSet::new();
    let mut any_days = std::collections::BTreeSet::new();
    let mut offline = 0;
    for (d, ins, off) in checkins {
        any_days.insert(*d);
        if *ins {
            inside_days.insert(*d);
        }
        if *off {
            offline += 1;
        }
    }
    let working_days = working.len() as i64;
    let leave_days = working.iter().filter(|d| leave.contains(d)).count() as i64;
    let required = days_required(working_days - leave_days, rules);
    let in_village = inside_days.len() as i64;
    let absent_days = working
        .iter()
        .filter(|d| !leave.contains(d) && !inside_days.contains(d))
        .count() as i64;
    Presence {
        working_days,
        required,
        leave_days,
        in_village,
        absent_days,
        outside_only: any_days.difference(&inside_days).count() as i64,
        offline,
        short: in_village < required,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counter_value_is_read_in_its_smallest_unit_within_its_decimal_places() {
        type Case<'a> = (&'a str, i64, Result<Option<i64>, ()>);
        let cases: [Case; 20] = [
            ("", 0, Ok(None)),
            ("  ", 2, Ok(None)),
            ("0", 0, Ok(Some(0))),
            ("12", 0, Ok(Some(12))),
            ("１２", 0, Ok(Some(12))),
            ("12.5", 0, Err(())),
            ("12.5", 1, Ok(Some(125))),
            ("244.23", 2, Ok(Some(24423))),
            ("244．2", 2, Ok(Some(24420))),
            ("0.25", 2, Ok(Some(25))),
            ("0.255", 2, Err(())),
            ("-1", 0, Err(())),
            ("1e3", 0, Err(())),
            ("3.", 1, Err(())),
            (".5", 1, Err(())),
            ("abc", 0, Err(())),
            // at, just above the largest value
            ("100000000", 0, Ok(Some(100_000_000))),
            ("100000001", 0, Err(())),
            ("100000000.00", 2, Ok(Some(10_000_000_000))),
            ("100000000.01", 2, Err(())),
        ];
        for (text, decimals, want) in cases {
            assert_eq!(
                parse_amount(text, decimals).map_err(|_| ()),
                want,
                "{text:?} with {decimals} decimals"
            );
        }
        for (v, d, text) in [
            (24423, 2, "244.23"),
            (24420, 2, "244.2"),
            (3000, 2, "30"),
            (7, 0, "7"),
            (5, 1, "0.5"),
        ] {
            assert_eq!(format_amount(v, d), text);
            assert_eq!(parse_amount(text, d), Ok(Some(v)));
        }
    }

    #[test]
    fn a_report_is_for_a_begun_month_of_the_posting() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date");
        let start = d("2026-03-15");
        let cases = [
            // (month, today, posting ended, ok)
            ("2026-03-01", "2026-03-15", None, true),
            ("2026-02-01", "2026-03-15", None, false),
            ("2026-04-01", "2026-03-31", None, false),
            ("2026-04-01", "2026-04-01", None, true),
            ("2026-06-01", "2026-07-10", Some("2026-05-31"), false),
            ("2026-05-01", "2026-07-10", Some("2026-05-31"), true),
            ("2026-06-01", "2026-07-10", Some("2026-06-01"), true),
        ];
        for (m, today, last, ok) in cases {
            assert_eq!(
                report_month_check(d(m), d(today), start, last.map(d)).is_ok(),
                ok,
                "{m} on {today}"
            );
        }
        let r = FsRules::default();
        let z = crate::clock::Zone::BEIJING;
        let (due, missed) = report_deadlines(d("2026-11-01"), &r, &z);
        // the end of 5 December, Beijing time; missed ten days later
        assert_eq!(due, z.start_of(d("2026-12-06")));
        assert_eq!(missed - due, Duration::days(r.activity_grace_days));
    }

    #[test]
    fn the_counter_catalogue_is_checked_row_by_row() {
        assert!(check_counters(&default_counters()).is_ok());
        assert!(check_counters(&[]).is_err());
        let ok = counter("roads", "基础设施", "新修道路", "公里", 2);
        for (bad, why) in [
            (
                Counter {
                    key: "Roads".into(),
                    ..ok.clone()
                },
                "代码",
            ),
            (
                Counter {
                    key: "".into(),
                    ..ok.clone()
                },
                "代码",
            ),
            (
                Counter {
                    name: " ".into(),
                    ..ok.clone()
                },
                "名称",
            ),
            (
                Counter {
                    unit: "".into(),
                    ..ok.clone()
                },
                "单位",
            ),
            (
                Counter {
                    decimals: 3,
                    ..ok.clone()
                },
                "小数位",
            ),
            (
                Counter {
                    decimals: -1,
                    ..ok.clone()
                },
                "小数位",
            ),
        ] {
            let e = check_counters(&[bad]).expect_err(why);
            assert!(e.contains(why), "{e}");
        }
        assert!(check_counters(&[ok.clone(), ok.clone()])
            .expect_err("twice")
            .contains("重复"));
        let at = |n: usize| {
            (0..n)
                .map(|i| Counter {
                    key: format!("c{i}"),
                    ..ok.clone()
                })
                .collect::<Vec<_>>()
        };
        assert!(check_counters(&at(60)).is_ok());
        assert!(check_counters(&at(61)).is_err());
        let mut r = FsRules {
            report_due_day: 28,
            ..FsRules::default()
        };
        assert!(crate::rules::RuleKind::validate(&r).is_ok());
        r.report_due_day = 29;
        assert!(crate::rules::RuleKind::validate(&r).is_err());
        r.report_due_day = 0;
        assert!(crate::rules::RuleKind::validate(&r).is_err());
    }

    #[test]
    fn the_yearly_result_weighs_the_months_and_the_pledge_and_rounds_half_up() {
        let r = FsRules::default(); // 60% months, 40% pledge
        let cases = [
            // (scored, full, pledge, result)
            (1200, 1200, 100, 100),
            (0, 1200, 0, 0),
            (900, 1200, 80, 77),    // 75% × .6 + 80 × .4 = 45 + 32
            (1000, 1200, 90, 86),   // 83.33 × .6 + 36 = 86.0
            (1025, 1200, 90, 87),   // 85.4167 × .6 + 36 = 87.25
            (1037, 1200, 84, 85),   // 86.4167 × .6 + 33.6 = 85.45
            (125, 200, 90, 74),     // 62.5 × .6 + 36 = 73.5 → 74 (half up)
            (0, 0, 88, 88),         // no month scored: the pledge alone
            (1300, 1200, 120, 100), // clamped
        ];
        for (scored, full, pledge, want) in cases {
            assert_eq!(
                annual_result(scored, full, pledge, &r),
                want,
                "{scored}/{full}, {pledge}"
            );
        }
        let months_only = FsRules {
            annual_monthly_percent: 100,
            ..FsRules::default()
        };
        assert_eq!(annual_result(600, 1200, 100, &months_only), 50);
    }

    #[test]
    fn yearly_grades_at_below_and_above_each_line_and_the_excellent_share() {
        let r = FsRules::default(); // 90 / 70 / 60, at most 1 in 5 优秀
        let grade = |v: i64| {
            // one first secretary among ten, the others far below: the share is no limit
            let mut all: Vec<(i64, i64)> = (2..=10).map(|i| (i, 10)).collect();
            all.push((1, v));
            annual_grades(&all, &r)
                .into_iter()
                .find(|x| x.0 == 1)
                .map(|x| x.3)
                .unwrap_or("")
        };
        for (v, want) in [
            (91, "excellent"),
            (90, "excellent"),
            (89, "competent"),
            (70, "competent"),
            (69, "basic"),
            (60, "basic"),
            (59, "incompetent"),
            (0, "incompetent"),
        ] {
            assert_eq!(grade(v), want, "{v}");
        }
        // ten at 95 and above: two may be 优秀; a tie across the limit goes down whole
        let all: Vec<(i64, i64)> = vec![
            (1, 99),
            (2, 98),
            (3, 97),
            (4, 97),
            (5, 96),
            (6, 50),
            (7, 50),
            (8, 50),
            (9, 50),
            (10, 50),
        ];
        let g = annual_grades(&all, &r);
        let of = |id: i64| g.iter().find(|x| x.0 == id).cloned().expect("graded");
        assert_eq!((of(1).3, of(2).3), ("excellent", "excellent"));
        assert_eq!(
            (of(3).3, of(4).3, of(5).3),
            ("competent", "competent", "competent")
        );
        assert!(of(3).4.contains("超出优秀比例"), "{:?}", of(3));
        assert_eq!((of(3).2, of(4).2), (3, 3), "a tie shares its rank");
        let three: Vec<(i64, i64)> = vec![
            (1, 95),
            (2, 95),
            (3, 95),
            (4, 10),
            (5, 10),
            (6, 10),
            (7, 10),
            (8, 10),
            (9, 10),
            (10, 10),
        ];
        assert!(
            annual_grades(&three, &r).iter().all(|x| x.3 != "excellent"),
            "a tie of three over a limit of two"
        );
    }
    use crate::rules::RuleKind;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }
    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("instant")
            .with_timezone(&Utc)
    }

    #[test]
    fn distance_matches_known_values() {
        // one thousandth of a degree of latitude is about 111 m
        let a = Point {
            lat: 35.0,
            lng: 116.0,
        };
        let b = Point {
            lat: 35.001,
            lng: 116.0,
        };
        let m = distance_m(a, b);
        assert!((m - 111.2).abs() < 0.5, "{m}");
        // along a parallel it shrinks with the cosine of the latitude
        let c = Point {
            lat: 35.0,
            lng: 116.001,
        };
        let m = distance_m(a, c);
        assert!((m - 91.1).abs() < 0.5, "{m}");
        assert_eq!(distance_m(a, a), 0.0);
        // 济南 to 郑州, about 376 km
        let jn = Point {
            lat: 36.6512,
            lng: 117.1201,
        };
        let zz = Point {
            lat: 34.7466,
            lng: 113.6254,
        };
        let km = distance_m(jn, zz) / 1000.0;
        assert!((370.0..385.0).contains(&km), "{km}");
    }

    #[test]
    fn radius_at_below_above() {
        let r = FsRules::default();
        for (dist, want) in [
            (0, true),
            (499, true),
            (500, true),
            (501, false),
            (5000, false),
        ] {
            assert_eq!(inside(dist, None, &r), want, "{dist}");
        }
        for (acc, want) in [
            (Some(5), true),
            (Some(200), true),
            (Some(201), false),
            (None, true),
        ] {
            assert_eq!(inside(100, acc, &r), want, "{acc:?}");
        }
        let wide = FsRules {
            checkin_radius_m: 1000,
            ..r
        };
        assert!(
            inside(999, None, &wide) && inside(1000, None, &wide) && !inside(1001, None, &wide)
        );
    }

    #[test]
    fn positions_the_browser_cannot_give_are_invalid() {
        for (lat, lng, ok) in [
            (35.0, 116.0, true),
            (90.0, 180.0, true),
            (-90.0, -180.0, true),
            (90.1, 0.0, false),
            (0.0, 180.5, false),
            (f64::NAN, 116.0, false),
            (35.0, f64::INFINITY, false),
        ] {
            assert_eq!(Point { lat, lng }.valid(), ok, "{lat},{lng}");
        }
        let p = Point {
            lat: 35.123456,
            lng: 116.654321,
        };
        assert_eq!(p.e6(), (35_123_456, 116_654_321));
        assert_eq!(Point::from_e6(35_123_456, 116_654_321).e6(), p.e6());
    }

    #[test]
    fn timing_now_offline_and_refused() {
        let r = FsRules::default();
        let now = t("2026-12-07T01:00:00Z");
        for (at, want) in [
            ("2026-12-07T01:00:00Z", Ok(Timing::Now)),
            ("2026-12-07T01:02:00Z", Ok(Timing::Now)),
            ("2026-12-07T00:50:00Z", Ok(Timing::Now)),
            ("2026-12-07T00:49:59Z", Ok(Timing::Offline)),
            ("2026-12-04T01:00:00Z", Ok(Timing::Offline)),
        ] {
            assert_eq!(timing(t(at), now, &r), want, "{at}");
        }
        assert!(timing(t("2026-12-07T01:02:01Z"), now, &r).is_err());
        assert!(timing(t("2026-12-04T00:59:59Z"), now, &r).is_err());
    }

    #[test]
    fn term_end_and_bounds() {
        assert_eq!(term_end(d("2026-03-01"), 12), d("2027-02-28"));
        assert_eq!(term_end(d("2027-03-01"), 12), d("2028-02-29"));
        assert_eq!(term_end(d("2026-01-31"), 1), d("2026-02-27"));
        assert_eq!(term_end(d("2026-12-07"), 36), d("2029-12-06"));
        let r = FsRules::default();
        for (m, ok) in [
            (11, false),
            (12, true),
            (13, true),
            (35, true),
            (36, true),
            (37, false),
        ] {
            assert_eq!(check_term(m, &r).is_ok(), ok, "{m}");
        }
        for (cur, more, ok) in [
            (36, 12, true),
            (36, 13, false),
            (47, 1, true),
            (24, 0, false),
            (36, i64::MAX, false),
        ] {
            assert_eq!(check_extension(cur, more, &r).is_ok(), ok, "{cur}+{more}");
        }
    }

    #[test]
    fn required_days_round_up() {
        let r = FsRules::default();
        for (wd, want) in [
            (0, 0),
            (1, 1),
            (2, 2),
            (3, 2),
            (4, 3),
            (21, 14),
            (22, 15),
            (23, 16),
            (30, 20),
            (31, 21),
        ] {
            assert_eq!(days_required(wd, &r), want, "{wd}");
        }
        let all = FsRules {
            village_days_permille: 1000,
            ..r.clone()
        };
        assert_eq!(days_required(22, &all), 22);
        let none = FsRules {
            village_days_permille: 0,
            ..r
        };
        assert_eq!(days_required(22, &none), 0);
    }

    #[test]
    fn presence_counts_days_not_checkins() {
        let r = FsRules::default();
        let cs = [
            (d("2026-11-02"), true, false),
            (d("2026-11-02"), true, false),
            (d("2026-11-03"), false, false),
            (d("2026-11-03"), true, true),
            (d("2026-11-04"), false, false),
            (d("2026-11-05"), false, true),
        ];
        let none = std::collections::BTreeSet::new();
        let wd = |n: i64| -> Vec<NaiveDate> {
            (0..n)
                .map(|i| d("2026-11-02") + Duration::days(i))
                .collect()
        };
        let p = presence(&cs, &wd(3), &none, &r);
        assert_eq!(p.in_village, 2);
        assert_eq!(p.outside_only, 2);
        assert_eq!(p.offline, 2);
        assert_eq!(p.required, 2);
        assert_eq!(p.absent_days, 1, "the 4th: outside only");
        assert!(!p.short);
        let p = presence(&cs, &wd(4), &none, &r);
        assert_eq!(p.required, 3);
        assert_eq!(p.absent_days, 2);
        assert!(p.short);
        // approved leave is neither required nor absent
        let leave: std::collections::BTreeSet<NaiveDate> =
            [d("2026-11-04"), d("2026-11-05")].into();
        let p = presence(&cs, &wd(4), &leave, &r);
        assert_eq!((p.leave_days, p.required, p.absent_days), (2, 2, 0));
        assert!(!p.short);
    }

    #[test]
    fn leave_goes_to_the_township_or_the_county() {
        let r = FsRules::default();
        for (days, want) in [
            (1, "township"),
            (3, "township"),
            (4, "county"),
            (30, "county"),
        ] {
            assert_eq!(leave_approver(days, &r), Ok(want), "{days}");
        }
        assert!(leave_approver(0, &r).is_err());
        assert!(leave_approver(31, &r).is_err());
        let strict = FsRules {
            leave_township_max_days: 0,
            ..r
        };
        assert_eq!(leave_approver(1, &strict), Ok("county"));
    }

    #[test]
    fn month_bounds_of_any_day() {
        assert_eq!(
            month_bounds(d("2026-02-14")),
            (d("2026-02-01"), d("2026-02-28"))
        );
        assert_eq!(
            month_bounds(d("2028-02-29")),
            (d("2028-02-01"), d("2028-02-29"))
        );
        assert_eq!(
            month_bounds(d("2026-12-31")),
            (d("2026-12-01"), d("2026-12-31"))
        );
    }

    #[test]
    fn rules_validate() {
        let ok = FsRules::default();
        assert!(ok.validate().is_ok());
        for bad in [
            FsRules {
                term_months_min: 0,
                ..ok.clone()
            },
            FsRules {
                term_months_min: 40,
                ..ok.clone()
            },
            FsRules {
                term_months_max_extended: 30,
                ..ok.clone()
            },
            FsRules {
                checkin_radius_m: 49,
                ..ok.clone()
            },
            FsRules {
                photo_max_mb: 0,
                ..ok.clone()
            },
            FsRules {
                offline_max_hours: 0,
                ..ok.clone()
            },
            FsRules {
                village_days_permille: 1001,
                ..ok.clone()
            },
            FsRules {
                retention_days: 29,
                ..ok.clone()
            },
            FsRules {
                leave_township_max_days: 31,
                ..ok.clone()
            },
            FsRules {
                leave_max_days: 0,
                ..ok.clone()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        assert!(FsRules {
            checkin_radius_m: 50,
            retention_days: 30,
            ..ok
        }
        .validate()
        .is_ok());
    }

    #[test]
    fn ledger_sides_dates_and_reversals() {
        for (c, want) in [
            ("commendation", Some("red")),
            ("contest_win", Some("red")),
            ("achievement", Some("red")),
            ("thanks", Some("red")),
            ("absence", Some("black")),
            ("failed_check", Some("black")),
            ("complaint", Some("black")),
            ("penalty", Some("black")),
            ("", None),
            ("RED", None),
        ] {
            assert_eq!(ledger_color(c), want, "{c}");
        }
        for (code, _) in LEDGER_CATEGORIES {
            assert!(ledger_color(code).is_some(), "{code} has a side");
        }
        let start = Some(d("2026-03-01"));
        let today = d("2026-12-07");
        for (on, ended, ok) in [
            ("2026-03-01", None, true),
            ("2026-02-28", None, false),
            ("2026-12-07", None, true),
            ("2026-12-08", None, false),
            ("2026-06-30", Some(d("2026-06-30")), true),
            ("2026-07-01", Some(d("2026-06-30")), false),
        ] {
            assert_eq!(within_posting(d(on), today, start, ended), ok, "{on}");
        }
        assert!(
            !within_posting(d("2026-05-01"), today, None, None),
            "not yet posted"
        );
        assert!(ledger_reversible(false, false).is_ok());
        assert!(ledger_reversible(true, false).is_err());
        assert!(ledger_reversible(false, true).is_err());
    }

    #[test]
    fn four_ones_periods() {
        // (kind, day, key, start, end, label)
        for (kind, day, key, start, end, label) in [
            (
                "meeting",
                "2026-12-07",
                "2026-12",
                "2026-12-01",
                "2026-12-31",
                "2026年12月",
            ),
            (
                "meeting",
                "2028-02-29",
                "2028-02",
                "2028-02-01",
                "2028-02-29",
                "2028年2月",
            ),
            (
                "visit",
                "2026-09-30",
                "2026-Q3",
                "2026-07-01",
                "2026-09-30",
                "2026年第三季度",
            ),
            (
                "visit",
                "2026-10-01",
                "2026-Q4",
                "2026-10-01",
                "2026-12-31",
                "2026年第四季度",
            ),
            (
                "visit",
                "2027-01-01",
                "2027-Q1",
                "2027-01-01",
                "2027-03-31",
                "2027年第一季度",
            ),
            (
                "training",
                "2026-06-30",
                "2026-H1",
                "2026-01-01",
                "2026-06-30",
                "2026年上半年",
            ),
            (
                "training",
                "2026-07-01",
                "2026-H2",
                "2026-07-01",
                "2026-12-31",
                "2026年下半年",
            ),
            (
                "assessment",
                "2026-12-31",
                "2026",
                "2026-01-01",
                "2026-12-31",
                "2026年度",
            ),
        ] {
            let p = activity_period(kind, d(day)).expect("period");
            assert_eq!(
                (p.key.as_str(), p.start, p.end),
                (key, d(start), d(end)),
                "{kind} {day}"
            );
            assert_eq!(period_label(kind, &p), label);
        }
        assert!(activity_period("party", d("2026-12-07")).is_none());
        let p = activity_period("meeting", d("2027-01-15")).expect("period");
        assert_eq!(
            previous_period("meeting", &p).map(|p| p.key),
            Some("2026-12".to_string())
        );
        let p = activity_period("training", d("2027-03-01")).expect("period");
        assert_eq!(
            previous_period("training", &p).map(|p| p.key),
            Some("2026-H2".to_string())
        );
        for (k, name) in ACTIVITIES {
            let c = activity_cadence(k).expect("cadence");
            assert_eq!(cadence_activity(c), Some((k, name)));
        }
        assert_eq!(cadence_activity("work_log.week"), None);
        assert_eq!(
            cadence_period_label("fs.visit", d("2026-10-01")).as_deref(),
            Some("2026年第四季度")
        );
        let mut r = FsRules::default();
        for (days, ok) in [(0, true), (90, true), (-1, false), (91, false)] {
            r.activity_grace_days = days;
            assert_eq!(crate::rules::RuleKind::validate(&r).is_ok(), ok, "{days}");
        }
    }
}
