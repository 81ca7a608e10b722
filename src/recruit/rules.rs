//! The recruitment rules of 《中国共产党发展党员工作细则》 and the seed's local practice, as
//! pure functions over plain data. Every number is a field of [`RecruitRules`] with the
//! national default; a locality publishes its own version (see `crate::rules`).

use super::{Signer, StepKind, STEPS};
use crate::error::AppError;
use crate::member::rules::age_on;
use chrono::{Duration, Months, NaiveDate};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RecruitRules {
    /// Minimum age on the day the application is handed in.
    pub min_age: i64,
    /// The Party organisation talks with the applicant within this many days (一个月内).
    pub talk_within_days: i64,
    /// Minimum wait from application to activist, in months (local variant; 0 = none).
    pub min_months_before_activist: i64,
    pub contacts_min: i64,
    pub contacts_max: i64,
    /// The branch reviews each activist (and probationary member) this often, in months.
    pub review_every_months: i64,
    /// Cultivation of at least this many months before becoming a development candidate.
    pub min_cultivation_months: i64,
    /// The 100-point evaluation must be passed before step 7.
    pub require_evaluation: bool,
    /// Weight of the Party organisation's score in percent; members and the public get the rest.
    pub evaluation_org_weight_pct: i64,
    /// At or above: may be listed as a development candidate.
    pub evaluation_pass: i64,
    /// At or above (and below `evaluation_pass`): keep cultivating; below: eliminated after a
    /// mandatory re-visit by the committee.
    pub evaluation_keep: i64,
    pub introducers: i64,
    /// A political review's conclusion is valid this many months.
    pub political_review_valid_months: i64,
    pub training_min_days: i64,
    pub training_min_hours: i64,
    /// Pre-review refused if the candidate leaves the unit within this many months.
    pub prereview_leave_months: i64,
    /// A branch meeting is valid only if present voting members exceed this share (‰) of
    /// those entitled.
    pub quorum_permille: i64,
    /// A resolution passes only if yes votes (with written opinions) exceed this share (‰).
    pub pass_permille: i64,
    /// The committee approves within this many months of the branch meeting ...
    pub approval_within_months: i64,
    /// ... or, with a recorded reason, within this many.
    pub approval_max_months: i64,
    pub probation_months: i64,
    pub extension_min_months: i64,
    pub extension_max_months: i64,
    /// The application to become a full member may be handed in this many days before the
    /// probation ends.
    pub full_application_window_days: i64,
    /// Steps that need a publicity period (公示) first.
    pub publicity_steps: Vec<i64>,
    pub publicity_working_days: i64,
    /// Thought reports expected this often, in months (local variant; 0 = not tracked).
    pub thought_report_every_months: i64,
    pub max_document_mb: i64,
    /// Who signs each step (`"7": ["branch_secretary"]`); steps not named use the default.
    pub signers: BTreeMap<String, Vec<String>>,
    /// 向阳计划: the excellent-youth pool takes people up to this age on recommendation.
    pub talent_youth_max_age: i64,
    /// 向阳计划: each person in a pool is contacted (跟踪培养) at least this often, in months.
    pub talent_contact_every_months: i64,
}

impl Default for RecruitRules {
    fn default() -> Self {
        Self {
            min_age: 18,
            talk_within_days: 30,
            min_months_before_activist: 0,
            contacts_min: 1,
            contacts_max: 2,
            review_every_months: 6,
            min_cultivation_months: 12,
            require_evaluation: true,
            evaluation_org_weight_pct: 50,
            evaluation_pass: 80,
            evaluation_keep: 60,
            introducers: 2,
            political_review_valid_months: 12,
            training_min_days: 3,
            training_min_hours: 24,
            prereview_leave_months: 3,
            quorum_permille: 500,
            pass_permille: 500,
            approval_within_months: 3,
            approval_max_months: 6,
            probation_months: 12,
            extension_min_months: 6,
            extension_max_months: 12,
            full_application_window_days: 30,
            publicity_steps: vec![7, 15, 23],
            publicity_working_days: 5,
            thought_report_every_months: 0,
            max_document_mb: 20,
            signers: BTreeMap::new(),
            talent_youth_max_age: 35,
            talent_contact_every_months: 3,
        }
    }
}

/// The signers of a step when the rule set names none.
pub fn default_signers(step: i64) -> &'static [Signer] {
    match step {
        4 | 8 | 10 | 11 | 13 | 16 | 17 | 24 | 25 => &[Signer::Committee],
        18 => &[Signer::OrgDept],
        _ => &[Signer::BranchSecretary],
    }
}

impl RecruitRules {
    pub fn signers_for(&self, step: i64) -> Vec<Signer> {
        match self.signers.get(&step.to_string()) {
            Some(list) => list.iter().filter_map(|s| Signer::parse(s)).collect(),
            None => default_signers(step).to_vec(),
        }
    }

    pub fn needs_publicity(&self, step: i64) -> bool {
        self.publicity_steps.contains(&step)
    }
}

impl crate::rules::RuleKind for RecruitRules {
    const KIND: &'static str = "recruit";
    const LABEL: &'static str = "发展党员规则";
    fn validate(&self) -> Result<(), String> {
        let nums = [
            self.min_age,
            self.talk_within_days,
            self.min_months_before_activist,
            self.contacts_min,
            self.contacts_max,
            self.review_every_months,
            self.min_cultivation_months,
            self.evaluation_org_weight_pct,
            self.evaluation_pass,
            self.evaluation_keep,
            self.introducers,
            self.political_review_valid_months,
            self.training_min_days,
            self.training_min_hours,
            self.prereview_leave_months,
            self.quorum_permille,
            self.pass_permille,
            self.approval_within_months,
            self.approval_max_months,
            self.probation_months,
            self.extension_min_months,
            self.extension_max_months,
            self.full_application_window_days,
            self.publicity_working_days,
            self.thought_report_every_months,
            self.max_document_mb,
            self.talent_youth_max_age,
            self.talent_contact_every_months,
        ];
        if nums.iter().any(|v| *v < 0) {
            return Err("规则值不能为负数".into());
        }
        if !(14..=30).contains(&self.min_age) {
            return Err("申请入党年龄下限应在14至30之间".into());
        }
        if self.contacts_min < 1 || self.contacts_min > self.contacts_max {
            return Err("培养联系人人数须满足 1 ≤ 下限 ≤ 上限".into());
        }
        if self.introducers < 1 {
            return Err("入党介绍人至少1名".into());
        }
        if self.review_every_months < 1 || self.probation_months < 1 {
            return Err("考察周期和预备期至少1个月".into());
        }
        if self.evaluation_org_weight_pct > 100
            || self.evaluation_keep > self.evaluation_pass
            || self.evaluation_pass > 100
        {
            return Err("测评权重不超过100，且 继续培养线 ≤ 列为发展对象线 ≤ 100".into());
        }
        if self.quorum_permille >= 1000 || self.pass_permille >= 1000 {
            return Err("表决比例应小于1000‰".into());
        }
        if self.approval_within_months > self.approval_max_months {
            return Err("审批期限不能大于延长后的最长期限".into());
        }
        if self.extension_min_months > self.extension_max_months {
            return Err("延长预备期的下限不能大于上限".into());
        }
        if self.talent_contact_every_months < 1 || !(14..=45).contains(&self.talent_youth_max_age) {
            return Err("人才库跟踪周期至少1个月，优秀青年年龄上限应在14至45之间".into());
        }
        if self.max_document_mb < 1 {
            return Err("材料大小上限至少1MB".into());
        }
        for s in &self.publicity_steps {
            if !(1..=25).contains(s) {
                return Err(format!("公示步骤 {s} 不在1至25之间"));
            }
        }
        for (k, list) in &self.signers {
            let ok = k.parse::<i64>().is_ok_and(|n| (1..=25).contains(&n));
            if !ok {
                return Err(format!("签名配置的步骤“{k}”不在1至25之间"));
            }
            if list.is_empty() {
                return Err(format!("第{k}步至少需要一个签名角色"));
            }
            if let Some(bad) = list.iter().find(|s| Signer::parse(s).is_none()) {
                return Err(format!(
                    "签名角色“{bad}”无效（可选 branch_secretary、contact、committee、org_dept）"
                ));
            }
        }
        Ok(())
    }
}

pub fn add_months(d: NaiveDate, months: i64) -> NaiveDate {
    let m = Months::new(u32::try_from(months.max(0)).unwrap_or(0));
    d.checked_add_months(m).unwrap_or(d)
}

// ---- working days (公示) ----

pub use crate::calendar::{is_working_day, Calendar};

/// The last day of a publicity of `n` working days starting on `start` (counted if it is a
/// working day), on the platform's one calendar.
pub fn publicity_end(start: NaiveDate, n: i64, cal: &Calendar) -> NaiveDate {
    crate::calendar::nth_working_day(start, n, cal)
}

// ---- single rules ----

fn refused(code: &'static str, msg: impl Into<String>) -> AppError {
    AppError::refused(code, msg)
}

pub fn check_age(
    birth: NaiveDate,
    applied_on: NaiveDate,
    r: &RecruitRules,
) -> Result<(), AppError> {
    let age = age_on(birth, applied_on);
    if age < r.min_age {
        return Err(AppError::field(
            "id_number",
            format!(
                "申请人递交申请书时应年满{}周岁（{}时{}周岁）",
                r.min_age, applied_on, age
            ),
        ));
    }
    Ok(())
}

pub fn talk_due(applied_on: NaiveDate, r: &RecruitRules) -> NaiveDate {
    applied_on + Duration::days(r.talk_within_days)
}

pub fn next_review_due(since: NaiveDate, r: &RecruitRules) -> NaiveDate {
    add_months(since, r.review_every_months)
}

/// The 100-point evaluation: the weighted total and what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// >= pass: may be listed as a development candidate.
    Candidate,
    /// keep..pass: keep cultivating.
    Continue,
    /// < keep: eliminated, after a committee re-visit.
    Eliminate,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Candidate => "candidate",
            Verdict::Continue => "continue",
            Verdict::Eliminate => "eliminate",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Candidate => "可列为发展对象",
            Verdict::Continue => "继续培养",
            Verdict::Eliminate => "淘汰（须回访考察）",
        }
    }
}

/// Total (rounded to one decimal, kept as tenths) and verdict of an evaluation.
pub fn evaluate(org: i64, mass: i64, r: &RecruitRules) -> Result<(i64, Verdict), AppError> {
    if !(0..=100).contains(&org) {
        return Err(AppError::field("org_score", "党组织评分应在0至100之间"));
    }
    if !(0..=100).contains(&mass) {
        return Err(AppError::field("mass_score", "党员群众评分应在0至100之间"));
    }
    let w = r.evaluation_org_weight_pct;
    // tenths of a point, rounded half up
    let tenths = (org * w * 10 + mass * (100 - w) * 10 + 50) / 100;
    let verdict = if tenths >= r.evaluation_pass * 10 {
        Verdict::Candidate
    } else if tenths >= r.evaluation_keep * 10 {
        Verdict::Continue
    } else {
        Verdict::Eliminate
    };
    Ok((tenths, verdict))
}

pub fn check_training(
    days: i64,
    hours: i64,
    exception: &str,
    r: &RecruitRules,
) -> Result<(), AppError> {
    if days < 0 || hours < 0 {
        return Err(AppError::field("training_days", "培训天数和学时不能为负数"));
    }
    if days >= r.training_min_days || hours >= r.training_min_hours {
        return Ok(());
    }
    if exception.trim().is_empty() {
        return Err(refused(
            "recruit.training_short",
            format!(
                "集中培训一般不少于{}天或{}个学时（本次{}天、{}学时）；确需例外的，须由党委写明理由",
                r.training_min_days, r.training_min_hours, days, hours
            ),
        ));
    }
    Ok(())
}

pub fn check_prereview(
    done_on: NaiveDate,
    leave_on: Option<NaiveDate>,
    r: &RecruitRules,
) -> Result<(), AppError> {
    if let Some(l) = leave_on {
        if l >= done_on && l < add_months(done_on, r.prereview_leave_months) {
            return Err(refused(
                "recruit.leaving_soon",
                format!(
                    "发展对象将于{}离开工作单位，未满{}个月，上级党委不予预审",
                    l, r.prereview_leave_months
                ),
            ));
        }
    }
    Ok(())
}

/// A branch general meeting's vote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Votes {
    /// Full members entitled to vote.
    pub entitled: i64,
    /// Entitled members present.
    pub present: i64,
    pub yes: i64,
    pub no: i64,
    pub abstain: i64,
    /// Written "yes" opinions of absent entitled members.
    pub written_yes: i64,
}

/// Is the meeting valid, and did the resolution pass? A meeting without quorum is refused.
pub fn meeting_passes(v: &Votes, r: &RecruitRules) -> Result<bool, AppError> {
    let mut c = crate::error::Checks::default();
    c.check(v.entitled >= 1, "entitled", "应到有表决权的正式党员至少1人");
    c.check(
        (0..=v.entitled).contains(&v.present),
        "present",
        "实到人数应在0与应到人数之间",
    );
    c.check(
        v.yes >= 0 && v.no >= 0 && v.abstain >= 0 && v.yes + v.no + v.abstain <= v.present,
        "yes",
        "赞成、反对、弃权票之和不能超过实到人数",
    );
    c.check(
        v.written_yes >= 0 && v.written_yes <= v.entitled - v.present,
        "written_yes",
        "书面意见人数不能超过缺席的有表决权党员人数",
    );
    c.finish()?;
    if v.present * 1000 <= v.entitled * r.quorum_permille {
        return Err(refused(
            "recruit.no_quorum",
            format!(
                "支部大会有表决权的到会人数须超过应到人数的{}‰（应到{}，实到{}），会议无效",
                r.quorum_permille, v.entitled, v.present
            ),
        ));
    }
    Ok((v.yes + v.written_yes) * 1000 > v.entitled * r.pass_permille)
}

/// The entitled number of a branch meeting is the branch's full members on the meeting date
/// less those under 留党察看 (细则 art. 29; 纪律处分条例 art. 40): 预备党员 have no vote.
pub fn check_entitled(
    v: &Votes,
    voters: Option<(i64, i64)>,
    on: NaiveDate,
) -> Result<(), AppError> {
    let Some((full, suspended)) = voters else {
        return Ok(());
    };
    let want = full - suspended;
    if v.entitled == want {
        return Ok(());
    }
    let without = if suspended > 0 {
        format!("，其中{suspended}人受留党察看处分、没有表决权")
    } else {
        String::new()
    };
    Err(refused(
        "recruit.entitled_mismatch",
        format!(
            "应到有表决权的正式党员应为{want}人（{on}本支部正式党员{full}人{without}；预备党员没有表决权），填报为{}人",
            v.entitled
        ),
    ))
}

/// Approval (steps 17, 24) within the deadline, or with a reason within the maximum.
pub fn check_approval_deadline(
    meeting_on: NaiveDate,
    done_on: NaiveDate,
    reason: &str,
    r: &RecruitRules,
) -> Result<(), AppError> {
    if done_on < meeting_on {
        return Err(AppError::field("done_on", "审批日期不能早于支部大会日期"));
    }
    let normal = add_months(meeting_on, r.approval_within_months);
    let max = add_months(meeting_on, r.approval_max_months);
    if done_on > max {
        return Err(refused(
            "recruit.approval_too_late",
            format!(
                "上级党委审批须在支部大会后{}个月内（最迟{}），已超过延长期限",
                r.approval_max_months, max
            ),
        ));
    }
    if done_on > normal && reason.trim().is_empty() {
        return Err(refused(
            "recruit.approval_late",
            format!(
                "上级党委应在支部大会后{}个月内（{}前）审批；延长审批须写明理由",
                r.approval_within_months, normal
            ),
        ));
    }
    Ok(())
}

pub fn probation_end(meeting_on: NaiveDate, r: &RecruitRules) -> NaiveDate {
    add_months(meeting_on, r.probation_months)
}

pub fn check_extension(months: i64, already: bool, r: &RecruitRules) -> Result<(), AppError> {
    if already {
        return Err(refused("recruit.extended_once", "预备期只能延长一次"));
    }
    if months < r.extension_min_months || months > r.extension_max_months {
        return Err(AppError::field(
            "extension_months",
            format!(
                "延长预备期应为{}至{}个月",
                r.extension_min_months, r.extension_max_months
            ),
        ));
    }
    Ok(())
}

// ---- a whole step ----

/// What a step's form or API call carries.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(default)]
pub struct StepInput {
    pub step: i64,
    pub done_on: Option<NaiveDate>,
    pub note: String,
    /// Step 3: `member` (党员推荐) or `league` (群团组织推优).
    pub channel: String,
    /// Step 5: member ids of the cultivation contacts.
    pub contacts: Vec<i64>,
    /// Step 9: member ids of the introducers.
    pub introducers: Vec<i64>,
    /// Step 10: `pass` or `fail`.
    pub conclusion: String,
    /// Step 11.
    pub training_days: i64,
    pub training_hours: i64,
    /// Step 11: the committee's reason for a shorter training.
    pub exception_reason: String,
    /// Step 13: when the candidate will leave the unit, if known.
    pub expected_leave_on: Option<NaiveDate>,
    /// Steps 15, 23.
    pub votes: Option<Votes>,
    /// Steps 15, 23: the branch's 党员大会 (组织生活) it was discussed at; its roll then gives
    /// those entitled and present, and its record lists this file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meeting_id: Option<i64>,
    /// Step 17: `approve` or `reject`; steps 23/24: `on_time`, `extend` or `cancel`.
    pub outcome: String,
    /// Steps 17, 24: the reason for approving after the normal deadline.
    pub late_reason: String,
    /// Steps 23/24 with `extend`.
    pub extension_months: i64,
    /// Step 19.
    pub group_id: Option<i64>,
    /// Set only on a correction (更正): why the earlier record was wrong.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub correction_reason: String,
}

/// A member named as contact or introducer, as the rules see them.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    pub id: i64,
    pub name: String,
    pub full: bool,
    /// Under 留党察看 on the step's date (member::discipline).
    pub suspended: bool,
}

/// Everything the rules need to know about a recruit to judge a step.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Last complete step.
    pub step: i64,
    pub status: String,
    pub applied_on: Option<NaiveDate>,
    pub activist_on: Option<NaiveDate>,
    pub last_review_on: Option<NaiveDate>,
    /// Latest effective evaluation: (total in tenths, verdict), or one awaiting a re-visit.
    pub evaluation: Option<(i64, Verdict, bool)>,
    /// (date, passed) of the latest political review.
    pub political_review: Option<(NaiveDate, bool)>,
    pub training_days: i64,
    pub training_hours: i64,
    pub training_exception: bool,
    /// Date of the admitting meeting (step 15) and of the full-membership meeting (step 23).
    pub admitted_on: Option<NaiveDate>,
    pub full_meeting_on: Option<NaiveDate>,
    /// Step 23's proposal.
    pub full_proposal: Option<String>,
    pub probation_end: Option<NaiveDate>,
    pub extended: bool,
    /// For the publicity before the step being recorded: (last day, open objections).
    pub publicity: Option<(NaiveDate, i64)>,
    /// Contacts/introducers named in the input, looked up.
    pub people: Vec<Person>,
    /// A step entry still awaiting signatures.
    pub pending_step: Option<i64>,
    /// For a branch meeting (steps 15, 23): the branch's full members on the meeting date and
    /// how many of them are under 留党察看 then. `None` where the roll of that day is not known
    /// (补录 of a historical file).
    pub voters: Option<(i64, i64)>,
}

/// Checks one step entry against the rules. Returns the normalised date.
pub fn check_step(
    input: &StepInput,
    f: &Facts,
    r: &RecruitRules,
    today: NaiveDate,
) -> Result<NaiveDate, AppError> {
    let Some(def) = super::step(input.step) else {
        return Err(AppError::field("step", "步骤应在1至25之间"));
    };
    if f.status != "active" {
        return Err(refused(
            "recruit.not_active",
            format!(
                "该发展对象{}，不能再记录步骤",
                super::status_label(&f.status)
            ),
        ));
    }
    if let Some(p) = f.pending_step {
        return Err(refused(
            "recruit.awaiting_signatures",
            format!("第{p}步尚待签名，完成后才能记录下一步"),
        ));
    }
    let repeat = def.kind == StepKind::Review && f.step == def.no;
    if !(repeat || f.step + 1 == def.no) {
        let next = (f.step + 1).min(25);
        let name = super::step(next).map(|d| d.name).unwrap_or("");
        return Err(refused(
            "recruit.out_of_order",
            format!(
                "应先完成第{next}步“{name}”，不能记录第{}步“{}”",
                def.no, def.name
            ),
        ));
    }
    let done_on = input
        .done_on
        .ok_or_else(|| AppError::field("done_on", "请填写日期"))?;
    if done_on > today {
        return Err(AppError::field("done_on", "日期不能晚于今天"));
    }
    if let Some(applied) = f.applied_on {
        if done_on < applied {
            return Err(AppError::field(
                "done_on",
                "日期不能早于递交入党申请书的日期",
            ));
        }
    }
    if input.note.chars().count() > 2000 {
        return Err(AppError::field("note", "说明不超过2000字"));
    }
    match input.step {
        3 => {
            if !super::CHANNELS.iter().any(|(k, _)| *k == input.channel) {
                return Err(AppError::field(
                    "channel",
                    "请选择推荐方式：党员推荐或群团组织推优",
                ));
            }
            if let Some(a) = f.applied_on {
                let earliest = add_months(a, r.min_months_before_activist);
                if done_on < earliest {
                    return Err(refused(
                        "recruit.too_early_activist",
                        format!(
                            "递交申请书满{}个月后才能确定为入党积极分子（{}起）",
                            r.min_months_before_activist, earliest
                        ),
                    ));
                }
            }
        }
        5 => check_people(
            &input.contacts,
            &f.people,
            r.contacts_min,
            r.contacts_max,
            "contacts",
            "培养联系人",
        )?,
        7 => {
            let Some(a) = f.activist_on else {
                return Err(refused("recruit.not_activist", "尚未确定为入党积极分子"));
            };
            let earliest = add_months(a, r.min_cultivation_months);
            if done_on < earliest {
                return Err(refused(
                    "recruit.cultivation_short",
                    format!(
                        "入党积极分子经过{}个月以上培养教育才能列为发展对象（{}起）",
                        r.min_cultivation_months, earliest
                    ),
                ));
            }
            let since = f.last_review_on.unwrap_or(a);
            if next_review_due(since, r) < done_on {
                return Err(refused(
                    "recruit.review_overdue",
                    format!(
                        "培养考察已逾期（应每{}个月考察一次，上次{}），请先补记考察",
                        r.review_every_months, since
                    ),
                ));
            }
            if r.require_evaluation {
                match f.evaluation {
                    Some((_, Verdict::Candidate, false)) => {}
                    Some((t, v, pending)) => {
                        return Err(refused(
                            "recruit.evaluation_not_passed",
                            format!(
                                "最近一次百分制测评{}分（{}{}），须达到{}分才能列为发展对象",
                                t as f64 / 10.0,
                                v.label(),
                                if pending {
                                    "，回访考察未完成"
                                } else {
                                    ""
                                },
                                r.evaluation_pass
                            ),
                        ))
                    }
                    None => {
                        return Err(refused(
                            "recruit.evaluation_missing",
                            "列为发展对象前须进行百分制测评",
                        ))
                    }
                }
            }
        }
        9 => check_people(
            &input.introducers,
            &f.people,
            r.introducers,
            r.introducers,
            "introducers",
            "入党介绍人",
        )?,
        10 if input.conclusion != "pass" && input.conclusion != "fail" => {
            return Err(AppError::field(
                "conclusion",
                "请选择政治审查结论：合格或不合格",
            ));
        }
        11 => check_training(
            input.training_days,
            input.training_hours,
            &input.exception_reason,
            r,
        )?,
        13 => check_prereview(done_on, input.expected_leave_on, r)?,
        15 => {
            match f.political_review {
                Some((on, true)) => {
                    let valid_to = add_months(on, r.political_review_valid_months);
                    if done_on > valid_to {
                        return Err(refused(
                            "recruit.political_review_expired",
                            format!(
                                "政治审查结论（{on}）有效期{}个月，已于{valid_to}过期，请重新审查",
                                r.political_review_valid_months
                            ),
                        ));
                    }
                }
                _ => {
                    return Err(refused(
                        "recruit.political_review_missing",
                        "政治审查结论合格后才能提交支部大会讨论",
                    ))
                }
            }
            if f.training_days < r.training_min_days
                && f.training_hours < r.training_min_hours
                && !f.training_exception
            {
                return Err(refused(
                    "recruit.training_short",
                    "未经短期集中培训的，不能发展为预备党员",
                ));
            }
            let v = input
                .votes
                .ok_or_else(|| AppError::field("entitled", "请填写表决情况"))?;
            check_entitled(&v, f.voters, done_on)?;
            meeting_passes(&v, r)?;
        }
        17 => {
            if input.outcome != "approve" && input.outcome != "reject" {
                return Err(AppError::field("outcome", "请选择审批结果：批准或不批准"));
            }
            let meeting = f
                .admitted_on
                .ok_or_else(|| refused("recruit.no_meeting", "尚无支部大会决议"))?;
            check_approval_deadline(meeting, done_on, &input.late_reason, r)?;
        }
        22 => {
            let end = f
                .probation_end
                .ok_or_else(|| refused("recruit.no_probation", "尚未进入预备期"))?;
            let earliest = end - Duration::days(r.full_application_window_days);
            if done_on < earliest {
                return Err(refused(
                    "recruit.full_application_early",
                    format!("预备期{end}届满，转正申请最早于{earliest}提出"),
                ));
            }
        }
        23 => {
            let end = f
                .probation_end
                .ok_or_else(|| refused("recruit.no_probation", "尚未进入预备期"))?;
            if done_on < end {
                return Err(refused(
                    "recruit.probation_running",
                    format!("预备期{end}届满后，支部大会才能讨论转正"),
                ));
            }
            check_full_outcome(input, f, r)?;
            let v = input
                .votes
                .ok_or_else(|| AppError::field("entitled", "请填写表决情况"))?;
            check_entitled(&v, f.voters, done_on)?;
            meeting_passes(&v, r)?;
        }
        24 => {
            check_full_outcome(input, f, r)?;
            let meeting = f
                .full_meeting_on
                .ok_or_else(|| refused("recruit.no_meeting", "尚无支部大会决议"))?;
            check_approval_deadline(meeting, done_on, &input.late_reason, r)?;
        }
        _ => {}
    }
    if r.needs_publicity(def.no) {
        match f.publicity {
            None => {
                return Err(refused(
                    "recruit.publicity_missing",
                    format!("第{}步“{}”前须先公示", def.no, def.name),
                ))
            }
            Some((end, _)) if done_on <= end => {
                return Err(refused(
                    "recruit.publicity_running",
                    format!("公示期到{end}结束，期满后才能进行第{}步", def.no),
                ))
            }
            Some((_, open)) if open > 0 => {
                return Err(refused(
                    "recruit.objections_open",
                    format!("公示期间收到的{open}条反映尚未答复，答复后才能继续"),
                ))
            }
            _ => {}
        }
    }
    Ok(done_on)
}

fn check_full_outcome(input: &StepInput, f: &Facts, r: &RecruitRules) -> Result<(), AppError> {
    if !super::FULL_OUTCOMES
        .iter()
        .any(|(k, _)| *k == input.outcome)
    {
        return Err(AppError::field(
            "outcome",
            "请选择：按期转正、延长预备期或取消预备党员资格",
        ));
    }
    if input.outcome == "extend" {
        check_extension(input.extension_months, f.extended, r)?;
    }
    if input.outcome == "cancel" && input.note.trim().is_empty() {
        return Err(AppError::field("note", "取消预备党员资格须写明理由"));
    }
    Ok(())
}

fn check_people(
    ids: &[i64],
    people: &[Person],
    min: i64,
    max: i64,
    field: &str,
    what: &str,
) -> Result<(), AppError> {
    let unique: BTreeSet<i64> = ids.iter().copied().collect();
    let n = unique.len() as i64;
    if unique.len() != ids.len() {
        return Err(AppError::field(field, format!("{what}不能重复")));
    }
    if n < min || n > max {
        let want = if min == max {
            format!("{min}名")
        } else {
            format!("{min}至{max}名")
        };
        return Err(AppError::field(
            field,
            format!("{what}应为{want}（现{n}名）"),
        ));
    }
    for id in &unique {
        let Some(p) = people.iter().find(|p| p.id == *id) else {
            return Err(AppError::field(field, format!("{what}须为本党支部党员")));
        };
        if !p.full {
            return Err(refused(
                "recruit.not_full_member",
                format!("{what}须为正式党员，{}是预备党员", p.name),
            ));
        }
        if p.suspended {
            return Err(refused(
                "recruit.under_watch",
                format!("{}受留党察看处分、尚未恢复党员权利，不能担任{what}", p.name),
            ));
        }
    }
    Ok(())
}

// ---- reminders ----

/// Something due for a recruit: what, by when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Due {
    pub what: String,
    pub due_on: NaiveDate,
}

/// The names of what can be due (message ids shown through the catalogue).
pub const DUE_LABELS: [&str; 8] = [
    "测评低于淘汰线，须回访考察",
    "党组织派人谈话",
    "培养教育考察",
    "上级党委审批",
    "提出转正申请",
    "支部大会讨论转正",
    "上级党委审批转正",
    "思想汇报",
];

/// What is due next for a recruit (at most one item per obligation).
pub fn dues(f: &Facts, r: &RecruitRules, thought_report_last: Option<NaiveDate>) -> Vec<Due> {
    let mut out = Vec::new();
    if f.status != "active" {
        return out;
    }
    if let Some((_, Verdict::Eliminate, true)) = f.evaluation {
        if let Some(a) = f.last_review_on.or(f.activist_on) {
            out.push(Due {
                what: "测评低于淘汰线，须回访考察".into(),
                due_on: a,
            });
        }
    }
    match f.step {
        1 => {
            if let Some(a) = f.applied_on {
                out.push(Due {
                    what: "党组织派人谈话".into(),
                    due_on: talk_due(a, r),
                });
            }
        }
        5 | 6 => {
            if let Some(a) = f.activist_on {
                out.push(Due {
                    what: "培养教育考察".into(),
                    due_on: next_review_due(f.last_review_on.unwrap_or(a), r),
                });
            }
        }
        15 | 16 => {
            if let Some(m) = f.admitted_on {
                out.push(Due {
                    what: "上级党委审批".into(),
                    due_on: add_months(m, r.approval_within_months),
                });
            }
        }
        19..=21 => {
            if let Some(end) = f.probation_end {
                out.push(Due {
                    what: "提出转正申请".into(),
                    due_on: end,
                });
            }
        }
        22 => {
            if let Some(end) = f.probation_end {
                out.push(Due {
                    what: "支部大会讨论转正".into(),
                    due_on: end,
                });
            }
        }
        23 => {
            if let Some(m) = f.full_meeting_on {
                out.push(Due {
                    what: "上级党委审批转正".into(),
                    due_on: add_months(m, r.approval_within_months),
                });
            }
        }
        _ => {}
    }
    if r.thought_report_every_months > 0 && (3..=24).contains(&f.step) {
        if let Some(since) = thought_report_last.or(f.activist_on) {
            out.push(Due {
                what: "思想汇报".into(),
                due_on: add_months(since, r.thought_report_every_months),
            });
        }
    }
    out
}

/// Every step's signers must be known roles, and every step must be signable.
pub fn signers_table(r: &RecruitRules) -> Vec<(i64, Vec<Signer>)> {
    STEPS.iter().map(|d| (d.no, r.signers_for(d.no))).collect()
}

// ---- corrections (更正) ----

/// What a correction's time rules need to know about a recruit's file: the effective date of
/// each step (its latest complete record), and the neighbours of the record being corrected.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    pub birth_date: Option<NaiveDate>,
    pub dates: BTreeMap<i64, NaiveDate>,
    /// Step 10 concluded with a pass.
    pub review_passed: bool,
    /// Step 13: when the candidate leaves the unit.
    pub expected_leave_on: Option<NaiveDate>,
    /// Late-approval reasons recorded at steps 17 and 24.
    pub late_reason_17: String,
    pub late_reason_24: String,
    /// Months the probation was extended at step 24.
    pub extension_months: i64,
    /// Dates of the records before and after the corrected one in the file.
    pub prev_on: Option<NaiveDate>,
    pub next_on: Option<NaiveDate>,
    /// The last day of the 公示 that preceded the corrected record, if its step needs one.
    pub publicity_end: Option<NaiveDate>,
    /// For a corrected branch meeting (steps 15, 23): its votes, and the branch's voters on
    /// the corrected date (full members, of whom suspended).
    pub votes: Option<Votes>,
    pub voters: Option<(i64, i64)>,
}

impl Timeline {
    /// The probation end the dates imply (step 15 plus probation plus any extension).
    pub fn probation_end(&self, r: &RecruitRules) -> Option<NaiveDate> {
        self.dates
            .get(&15)
            .map(|m| add_months(probation_end(*m, r), self.extension_months))
    }
}

/// Checks a corrected date for the record of `step` against every time rule that relates it to
/// another step of the same file (a correction changes a record's date and wording, never what
/// was decided). Returns the probation end the corrected dates imply.
pub fn check_correction(
    step: i64,
    new_on: NaiveDate,
    t: &Timeline,
    r: &RecruitRules,
    today: NaiveDate,
) -> Result<Option<NaiveDate>, AppError> {
    if new_on > today {
        return Err(AppError::field("done_on", "日期不能晚于今天"));
    }
    if let Some(prev) = t.prev_on.filter(|p| new_on < *p) {
        return Err(AppError::field(
            "done_on",
            format!("更正后的日期不能早于前一项记录的日期（{prev}）"),
        ));
    }
    if let Some(next) = t.next_on.filter(|n| new_on > *n) {
        return Err(AppError::field(
            "done_on",
            format!("更正后的日期不能晚于后一项记录的日期（{next}）"),
        ));
    }
    if let Some(end) = t.publicity_end.filter(|end| new_on <= *end) {
        return Err(refused(
            "recruit.publicity_running",
            format!(
                "第{step}步须在公示期满（{end}）之后，更正后的日期不能早于或等于公示的最后一天"
            ),
        ));
    }
    if let Some(v) = &t.votes {
        check_entitled(v, t.voters, new_on)?;
    }
    let mut t = t.clone();
    t.dates.insert(step, new_on);
    let d = |s: i64| t.dates.get(&s).copied();
    let touches = |a: i64, b: i64| step == a || step == b;
    if step == 1 {
        if let Some(b) = t.birth_date {
            check_age(b, new_on, r)?;
        }
    }
    if let (true, Some(applied), Some(activist)) = (touches(1, 3), d(1), d(3)) {
        let earliest = add_months(applied, r.min_months_before_activist);
        if activist < earliest {
            return Err(refused(
                "recruit.too_early_activist",
                format!(
                    "递交申请书满{}个月后才能确定为入党积极分子（{}起）",
                    r.min_months_before_activist, earliest
                ),
            ));
        }
    }
    if let (true, Some(activist), Some(candidate)) = (touches(3, 7), d(3), d(7)) {
        let earliest = add_months(activist, r.min_cultivation_months);
        if candidate < earliest {
            return Err(refused(
                "recruit.cultivation_short",
                format!(
                    "入党积极分子经过{}个月以上培养教育才能列为发展对象（{}起）",
                    r.min_cultivation_months, earliest
                ),
            ));
        }
    }
    if let (true, true, Some(review), Some(meeting)) =
        (touches(10, 15), t.review_passed, d(10), d(15))
    {
        let valid_to = add_months(review, r.political_review_valid_months);
        if meeting > valid_to {
            return Err(refused(
                "recruit.political_review_expired",
                format!(
                    "政治审查结论（{review}）有效期{}个月，至{valid_to}止，支部大会不能晚于此日",
                    r.political_review_valid_months
                ),
            ));
        }
    }
    if step == 13 {
        check_prereview(new_on, t.expected_leave_on, r)?;
    }
    if let (true, Some(meeting), Some(approval)) = (touches(15, 17), d(15), d(17)) {
        check_approval_deadline(meeting, approval, &t.late_reason_17, r)?;
    }
    let end = t.probation_end(r);
    if let (true, Some(end), Some(application)) = (touches(15, 22), end, d(22)) {
        let earliest = end - Duration::days(r.full_application_window_days);
        if application < earliest {
            return Err(refused(
                "recruit.full_application_early",
                format!("预备期{end}届满，转正申请最早于{earliest}提出"),
            ));
        }
    }
    if let (true, Some(end), Some(meeting)) = (touches(15, 23), end, d(23)) {
        if meeting < end {
            return Err(refused(
                "recruit.probation_running",
                format!("预备期{end}届满后，支部大会才能讨论转正"),
            ));
        }
    }
    if let (true, Some(meeting), Some(approval)) = (touches(23, 24), d(23), d(24)) {
        check_approval_deadline(meeting, approval, &t.late_reason_24, r)?;
    }
    Ok(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RuleKind;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    fn facts(step: i64) -> Facts {
        Facts {
            step,
            status: "active".into(),
            applied_on: Some(d(2024, 1, 10)),
            activist_on: Some(d(2024, 3, 1)),
            last_review_on: Some(d(2025, 2, 1)),
            evaluation: Some((850, Verdict::Candidate, false)),
            political_review: Some((d(2025, 4, 1), true)),
            training_days: 3,
            training_hours: 24,
            admitted_on: Some(d(2025, 6, 1)),
            probation_end: Some(d(2026, 6, 1)),
            publicity: Some((d(2025, 3, 7), 0)),
            ..Default::default()
        }
    }

    fn input(step: i64, on: NaiveDate) -> StepInput {
        StepInput {
            step,
            done_on: Some(on),
            ..Default::default()
        }
    }

    fn code(r: Result<NaiveDate, AppError>) -> &'static str {
        match r {
            Ok(_) => "ok",
            Err(e) => e.code(),
        }
    }

    const TODAY: fn() -> NaiveDate = || NaiveDate::from_ymd_opt(2027, 1, 1).expect("date");

    #[test]
    fn defaults_validate_and_bad_values_are_refused() {
        let r = RecruitRules::default();
        assert!(r.validate().is_ok());
        for bad in [
            RecruitRules {
                min_age: 13,
                ..Default::default()
            },
            RecruitRules {
                contacts_min: 3,
                ..Default::default()
            },
            RecruitRules {
                evaluation_keep: 90,
                ..Default::default()
            },
            RecruitRules {
                quorum_permille: 1000,
                ..Default::default()
            },
            RecruitRules {
                approval_within_months: 7,
                ..Default::default()
            },
            RecruitRules {
                publicity_steps: vec![26],
                ..Default::default()
            },
            RecruitRules {
                signers: [("7".to_string(), vec!["boss".to_string()])].into(),
                ..Default::default()
            },
            RecruitRules {
                signers: [("30".to_string(), vec!["committee".to_string()])].into(),
                ..Default::default()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        let custom = RecruitRules {
            signers: [(
                "6".to_string(),
                vec!["branch_secretary".into(), "contact".into()],
            )]
            .into(),
            ..Default::default()
        };
        assert!(custom.validate().is_ok());
        assert_eq!(
            custom.signers_for(6),
            vec![Signer::BranchSecretary, Signer::Contact]
        );
        assert_eq!(custom.signers_for(17), vec![Signer::Committee]);
        assert_eq!(custom.signers_for(18), vec![Signer::OrgDept]);
    }

    #[test]
    fn age_at_application() {
        let r = RecruitRules::default();
        let birth = d(2006, 5, 20);
        for (on, ok) in [
            (d(2024, 5, 19), false), // one day short of 18
            (d(2024, 5, 20), true),  // the birthday
            (d(2024, 5, 21), true),
        ] {
            assert_eq!(check_age(birth, on, &r).is_ok(), ok, "{on}");
        }
    }

    #[test]
    fn evaluation_bands_at_the_edges() {
        let r = RecruitRules::default();
        for (org, mass, tenths, v) in [
            (80, 80, 800, Verdict::Candidate),
            (80, 79, 795, Verdict::Continue),
            (81, 80, 805, Verdict::Candidate),
            (60, 60, 600, Verdict::Continue),
            (60, 59, 595, Verdict::Eliminate),
            (59, 59, 590, Verdict::Eliminate),
            (100, 0, 500, Verdict::Eliminate),
        ] {
            assert_eq!(
                evaluate(org, mass, &r).expect("in range"),
                (tenths, v),
                "{org}/{mass}"
            );
        }
        assert!(evaluate(101, 0, &r).is_err());
        assert!(evaluate(0, -1, &r).is_err());
        let weighted = RecruitRules {
            evaluation_org_weight_pct: 70,
            ..Default::default()
        };
        assert_eq!(
            evaluate(90, 60, &weighted).expect("ok"),
            (810, Verdict::Candidate)
        );
    }

    #[test]
    fn training_days_or_hours_or_a_reason() {
        let r = RecruitRules::default();
        for (days, hours, reason, ok) in [
            (3, 0, "", true),
            (2, 23, "", false),
            (2, 24, "", true),
            (0, 25, "", true),
            (2, 23, "因疫情改为线上学习并补考合格", true),
        ] {
            assert_eq!(
                check_training(days, hours, reason, &r).is_ok(),
                ok,
                "{days}/{hours}"
            );
        }
    }

    #[test]
    fn prereview_refused_when_leaving_within_three_months() {
        let r = RecruitRules::default();
        let on = d(2025, 3, 15);
        for (leave, ok) in [
            (None, true),
            (Some(d(2025, 6, 14)), false),
            (Some(d(2025, 6, 15)), true),
            (Some(d(2025, 3, 15)), false),
            (Some(d(2025, 1, 1)), true),
        ] {
            assert_eq!(check_prereview(on, leave, &r).is_ok(), ok, "{leave:?}");
        }
    }

    #[test]
    fn only_full_members_not_suspended_are_entitled() {
        let on = d(2026, 5, 1);
        let v = |entitled| Votes {
            entitled,
            present: entitled,
            yes: entitled,
            ..Default::default()
        };
        // 20 full and 2 probationary members: 20 entitled, not 22; one of the 20 suspended: 19
        for (voters, entitled, want) in [
            (Some((20, 0)), 20, "ok"),
            (Some((20, 0)), 22, "recruit.entitled_mismatch"),
            (Some((20, 0)), 19, "recruit.entitled_mismatch"),
            (Some((20, 1)), 19, "ok"),
            (Some((20, 1)), 20, "recruit.entitled_mismatch"),
            // a roll not known (补录): the entered number stands
            (None, 22, "ok"),
        ] {
            assert_eq!(
                code(check_entitled(&v(entitled), voters, on).map(|_| on)),
                want,
                "{voters:?} {entitled}"
            );
        }
        // and the step itself refuses it
        let r = RecruitRules::default();
        let mut f = facts(14);
        f.voters = Some((20, 0));
        let mut i = input(15, d(2025, 4, 1));
        i.votes = Some(v(22));
        assert_eq!(
            code(check_step(&i, &f, &r, TODAY())),
            "recruit.entitled_mismatch"
        );
        i.votes = Some(v(20));
        assert_eq!(code(check_step(&i, &f, &r, TODAY())), "ok");
    }

    #[test]
    fn meeting_quorum_and_majority_over_half() {
        let r = RecruitRules::default();
        let v = |entitled, present, yes, written_yes| Votes {
            entitled,
            present,
            yes,
            written_yes,
            ..Default::default()
        };
        // quorum: present must exceed half of the entitled
        assert_eq!(
            meeting_passes(&v(10, 5, 5, 1), &r).map_err(|e| e.code()),
            Err("recruit.no_quorum")
        );
        assert_eq!(
            meeting_passes(&v(10, 6, 6, 0), &r).map_err(|e| e.code()),
            Ok(true)
        );
        // majority of the entitled, not of those present
        assert_eq!(
            meeting_passes(&v(10, 6, 5, 0), &r).map_err(|e| e.code()),
            Ok(false)
        );
        assert_eq!(
            meeting_passes(&v(10, 6, 5, 1), &r).map_err(|e| e.code()),
            Ok(true)
        );
        assert_eq!(
            meeting_passes(&v(9, 5, 4, 0), &r).map_err(|e| e.code()),
            Ok(false)
        );
        assert_eq!(
            meeting_passes(&v(9, 5, 5, 0), &r).map_err(|e| e.code()),
            Ok(true)
        );
        // impossible counts
        assert!(meeting_passes(&v(10, 11, 6, 0), &r).is_err());
        assert!(meeting_passes(&v(10, 6, 7, 0), &r).is_err());
        assert!(meeting_passes(&v(10, 6, 6, 5), &r).is_err());
    }

    #[test]
    fn approval_deadline_three_months_then_six_with_reason() {
        let r = RecruitRules::default();
        let m = d(2025, 6, 1);
        for (on, reason, code) in [
            (d(2025, 9, 1), "", "ok"),
            (d(2025, 9, 2), "", "recruit.approval_late"),
            (d(2025, 9, 2), "党委换届", "ok"),
            (d(2025, 12, 1), "党委换届", "ok"),
            (d(2025, 12, 2), "党委换届", "recruit.approval_too_late"),
            (d(2025, 5, 31), "", "validation_failed"),
        ] {
            let got = check_approval_deadline(m, on, reason, &r).map(|_| on);
            assert_eq!(code_of(got), code, "{on}");
        }
    }

    fn code_of(r: Result<NaiveDate, AppError>) -> &'static str {
        code(r)
    }

    #[test]
    fn probation_and_extension() {
        let r = RecruitRules::default();
        assert_eq!(probation_end(d(2025, 6, 1), &r), d(2026, 6, 1));
        assert_eq!(probation_end(d(2024, 2, 29), &r), d(2025, 2, 28));
        for (m, ok) in [(5, false), (6, true), (12, true), (13, false)] {
            assert_eq!(check_extension(m, false, &r).is_ok(), ok, "{m}");
        }
        assert!(check_extension(6, true, &r).is_err());
    }

    #[test]
    fn publicity_counts_working_days_with_the_holiday_calendar() {
        let none = Calendar::new();
        // Monday 2026-09-28 + 5 working days → Friday 2026-10-02 without a calendar
        assert_eq!(publicity_end(d(2026, 9, 28), 5, &none), d(2026, 10, 2));
        // starting on a Saturday: the first working day is Monday
        assert_eq!(publicity_end(d(2026, 9, 26), 1, &none), d(2026, 9, 28));
        let mut cal = Calendar::new();
        for day in 1..=7 {
            cal.insert(d(2026, 10, day), false);
        }
        cal.insert(d(2026, 10, 10), true); // Saturday make-up working day (调休)
                                           // Mon 28, Tue 29, Wed 30, then the holiday, then Thu 8, Fri 9 → 5th day is Oct 9
        assert_eq!(publicity_end(d(2026, 9, 28), 5, &cal), d(2026, 10, 9));
        assert_eq!(publicity_end(d(2026, 9, 28), 6, &cal), d(2026, 10, 10));
        assert!(!is_working_day(d(2026, 10, 5), &cal));
        assert!(is_working_day(d(2026, 10, 10), &cal));
    }

    #[test]
    fn steps_go_in_order_and_reviews_repeat() {
        let r = RecruitRules::default();
        assert_eq!(
            code(check_step(&input(3, d(2024, 2, 1)), &facts(1), &r, TODAY())),
            "recruit.out_of_order"
        );
        let mut f = facts(6);
        f.last_review_on = Some(d(2024, 9, 1));
        assert_eq!(
            code(check_step(&input(6, d(2024, 12, 1)), &f, &r, TODAY())),
            "ok"
        );
        assert_eq!(
            code(check_step(&input(5, d(2024, 12, 1)), &f, &r, TODAY())),
            "recruit.out_of_order"
        );
        f.pending_step = Some(6);
        assert_eq!(
            code(check_step(&input(6, d(2024, 12, 1)), &f, &r, TODAY())),
            "recruit.awaiting_signatures"
        );
        let mut f = facts(1);
        f.status = "eliminated".into();
        assert_eq!(
            code(check_step(&input(2, d(2024, 2, 1)), &f, &r, TODAY())),
            "recruit.not_active"
        );
        // dates: not in the future, not before the application
        assert_eq!(
            code(check_step(&input(2, d(2027, 1, 2)), &facts(1), &r, TODAY())),
            "validation_failed"
        );
        assert_eq!(
            code(check_step(&input(2, d(2024, 1, 9)), &facts(1), &r, TODAY())),
            "validation_failed"
        );
    }

    #[test]
    fn activist_channel_and_local_minimum_wait() {
        let mut i = input(3, d(2024, 4, 9));
        assert_eq!(
            code(check_step(&i, &facts(2), &RecruitRules::default(), TODAY())),
            "validation_failed"
        );
        i.channel = "league".into();
        assert_eq!(
            code(check_step(&i, &facts(2), &RecruitRules::default(), TODAY())),
            "ok"
        );
        let r = RecruitRules {
            min_months_before_activist: 3,
            ..Default::default()
        };
        assert_eq!(
            code(check_step(&i, &facts(2), &r, TODAY())),
            "recruit.too_early_activist"
        );
        i.done_on = Some(d(2024, 4, 10));
        assert_eq!(code(check_step(&i, &facts(2), &r, TODAY())), "ok");
    }

    #[test]
    fn candidate_after_a_year_with_reviews_evaluation_and_publicity() {
        let r = RecruitRules::default();
        let f = facts(6);
        // activist 2024-03-01: a year later at the earliest
        assert_eq!(
            code(check_step(&input(7, d(2025, 2, 28)), &f, &r, TODAY())),
            "recruit.cultivation_short"
        );
        assert_eq!(
            code(check_step(&input(7, d(2025, 3, 8)), &f, &r, TODAY())),
            "ok"
        );
        // publicity until 2025-03-07: the step may follow only after it ends
        assert_eq!(
            code(check_step(&input(7, d(2025, 3, 7)), &f, &r, TODAY())),
            "recruit.publicity_running"
        );
        let mut g = f.clone();
        g.publicity = Some((d(2025, 3, 7), 1));
        assert_eq!(
            code(check_step(&input(7, d(2025, 3, 8)), &g, &r, TODAY())),
            "recruit.objections_open"
        );
        g.publicity = None;
        assert_eq!(
            code(check_step(&input(7, d(2025, 3, 8)), &g, &r, TODAY())),
            "recruit.publicity_missing"
        );
        // last review 2025-02-01, due every 6 months: 2025-08-01 still fine, 08-02 overdue
        let mut g = f.clone();
        g.publicity = Some((d(2025, 3, 7), 0));
        assert_eq!(
            code(check_step(&input(7, d(2025, 8, 1)), &g, &r, TODAY())),
            "ok"
        );
        assert_eq!(
            code(check_step(&input(7, d(2025, 8, 2)), &g, &r, TODAY())),
            "recruit.review_overdue"
        );
        // evaluation: below the pass line, or a < 60 awaiting its re-visit
        for ev in [
            Some((795, Verdict::Continue, false)),
            Some((550, Verdict::Eliminate, true)),
            None,
        ] {
            let mut g = f.clone();
            g.evaluation = ev;
            let c = code(check_step(&input(7, d(2025, 3, 8)), &g, &r, TODAY()));
            assert!(
                c == "recruit.evaluation_not_passed" || c == "recruit.evaluation_missing",
                "{c}"
            );
        }
        let no_eval = RecruitRules {
            require_evaluation: false,
            ..Default::default()
        };
        let mut g = f.clone();
        g.evaluation = None;
        assert_eq!(
            code(check_step(&input(7, d(2025, 3, 8)), &g, &no_eval, TODAY())),
            "ok"
        );
    }

    fn person(id: i64, full: bool, suspended: bool) -> Person {
        Person {
            id,
            name: format!("党员{id}"),
            full,
            suspended,
        }
    }

    #[test]
    fn contacts_and_introducers_are_full_members_not_under_watch() {
        let r = RecruitRules::default();
        let mut f = facts(8);
        f.people = vec![
            person(1, true, false),
            person(2, true, false),
            person(3, false, false),
            person(4, true, true),
        ];
        let mut i = input(9, d(2025, 4, 1));
        for (ids, c) in [
            (vec![1, 2], "ok"),
            (vec![1], "validation_failed"),
            (vec![1, 1], "validation_failed"),
            (vec![1, 2, 3], "validation_failed"),
            (vec![1, 3], "recruit.not_full_member"),
            (vec![1, 4], "recruit.under_watch"),
            (vec![1, 99], "validation_failed"),
        ] {
            i.introducers = ids.clone();
            assert_eq!(code(check_step(&i, &f, &r, TODAY())), c, "{ids:?}");
        }
        let mut f = facts(4);
        f.people = vec![
            person(1, true, false),
            person(2, true, false),
            person(5, true, false),
        ];
        let mut i = input(5, d(2024, 3, 5));
        for (ids, c) in [
            (vec![], "validation_failed"),
            (vec![1], "ok"),
            (vec![1, 2], "ok"),
            (vec![1, 2, 5], "validation_failed"),
        ] {
            i.contacts = ids.clone();
            assert_eq!(code(check_step(&i, &f, &r, TODAY())), c, "{ids:?}");
        }
    }

    #[test]
    fn admission_meeting_needs_review_training_and_votes() {
        let r = RecruitRules::default();
        let mut f = facts(14);
        f.publicity = Some((d(2025, 5, 20), 0));
        let mut i = input(15, d(2025, 6, 1));
        i.votes = Some(Votes {
            entitled: 10,
            present: 8,
            yes: 7,
            no: 1,
            ..Default::default()
        });
        assert_eq!(code(check_step(&i, &f, &r, TODAY())), "ok");
        let mut g = f.clone();
        g.political_review = Some((d(2024, 5, 31), true)); // valid until 2025-05-31
        assert_eq!(
            code(check_step(&i, &g, &r, TODAY())),
            "recruit.political_review_expired"
        );
        g.political_review = Some((d(2024, 6, 1), true));
        assert_eq!(code(check_step(&i, &g, &r, TODAY())), "ok");
        g.political_review = Some((d(2025, 4, 1), false));
        assert_eq!(
            code(check_step(&i, &g, &r, TODAY())),
            "recruit.political_review_missing"
        );
        let mut g = f.clone();
        g.training_days = 2;
        g.training_hours = 16;
        assert_eq!(
            code(check_step(&i, &g, &r, TODAY())),
            "recruit.training_short"
        );
        g.training_exception = true;
        assert_eq!(code(check_step(&i, &g, &r, TODAY())), "ok");
        i.votes = Some(Votes {
            entitled: 10,
            present: 5,
            yes: 5,
            ..Default::default()
        });
        assert_eq!(code(check_step(&i, &f, &r, TODAY())), "recruit.no_quorum");
    }

    #[test]
    fn full_membership_after_probation() {
        let r = RecruitRules::default();
        // probation ends 2026-06-01; application window 30 days before
        assert_eq!(
            code(check_step(
                &input(22, d(2026, 5, 1)),
                &facts(21),
                &r,
                TODAY()
            )),
            "recruit.full_application_early"
        );
        assert_eq!(
            code(check_step(
                &input(22, d(2026, 5, 2)),
                &facts(21),
                &r,
                TODAY()
            )),
            "ok"
        );
        let mut f = facts(22);
        f.publicity = Some((d(2026, 5, 29), 0));
        let mut i = input(23, d(2026, 5, 31));
        i.outcome = "on_time".into();
        i.votes = Some(Votes {
            entitled: 10,
            present: 8,
            yes: 8,
            ..Default::default()
        });
        assert_eq!(
            code(check_step(&i, &f, &r, TODAY())),
            "recruit.probation_running"
        );
        i.done_on = Some(d(2026, 6, 1));
        assert_eq!(code(check_step(&i, &f, &r, TODAY())), "ok");
        i.outcome = "extend".into();
        i.extension_months = 6;
        assert_eq!(code(check_step(&i, &f, &r, TODAY())), "ok");
        f.extended = true;
        assert_eq!(
            code(check_step(&i, &f, &r, TODAY())),
            "recruit.extended_once"
        );
        i.outcome = "cancel".into();
        assert_eq!(code(check_step(&i, &f, &r, TODAY())), "validation_failed");
        i.note = "预备期间违反党的纪律".into();
        assert_eq!(code(check_step(&i, &f, &r, TODAY())), "ok");
    }

    fn timeline() -> Timeline {
        let mut t = Timeline {
            birth_date: Some(d(2000, 5, 20)),
            review_passed: true,
            ..Default::default()
        };
        for (step, on) in [
            (1, d(2023, 1, 10)),
            (3, d(2023, 3, 1)),
            (7, d(2024, 3, 1)),
            (10, d(2024, 5, 1)),
            (13, d(2024, 6, 1)),
            (15, d(2024, 7, 1)),
            (17, d(2024, 9, 1)),
            (22, d(2025, 6, 15)),
            (23, d(2025, 7, 2)),
            (24, d(2025, 8, 1)),
        ] {
            t.dates.insert(step, on);
        }
        t
    }

    fn corr(step: i64, on: NaiveDate, t: &Timeline, r: &RecruitRules) -> &'static str {
        match check_correction(step, on, t, r, TODAY()) {
            Ok(_) => "ok",
            Err(e) => e.code(),
        }
    }

    #[test]
    fn corrected_dates_keep_every_time_rule() {
        let r = RecruitRules::default();
        let mut t = timeline();
        // neighbours bound the date: at the bound, one day past it
        t.prev_on = Some(d(2024, 8, 1));
        t.next_on = Some(d(2024, 10, 1));
        assert_eq!(corr(17, d(2024, 8, 1), &t, &r), "ok");
        assert_eq!(corr(17, d(2024, 7, 31), &t, &r), "validation_failed");
        assert_eq!(corr(17, d(2024, 10, 1), &t, &r), "ok");
        assert_eq!(corr(17, d(2024, 10, 2), &t, &r), "validation_failed");
        // the 公示 before the step: after its last day, not on it
        let mut t = timeline();
        t.publicity_end = Some(d(2024, 3, 8));
        assert_eq!(corr(7, d(2024, 3, 9), &t, &r), "ok");
        assert_eq!(corr(7, d(2024, 3, 8), &t, &r), "recruit.publicity_running");
        assert_eq!(corr(7, d(2023, 8, 16), &t, &r), "recruit.publicity_running");
        // a meeting moved to a day with another roll: its entitled number must still match
        let mut t = timeline();
        t.votes = Some(Votes {
            entitled: 9,
            present: 9,
            yes: 9,
            ..Default::default()
        });
        t.voters = Some((9, 0));
        assert_eq!(corr(15, d(2024, 7, 2), &t, &r), "ok");
        t.voters = Some((10, 0));
        assert_eq!(corr(15, d(2024, 7, 2), &t, &r), "recruit.entitled_mismatch");
        let t = timeline();
        assert_eq!(
            corr(17, TODAY() + Duration::days(1), &t, &r),
            "validation_failed"
        );
        // age at the corrected application date: 18 on the birthday, not the day before
        assert_eq!(corr(1, d(2018, 5, 20), &t, &r), "ok");
        assert_eq!(corr(1, d(2018, 5, 19), &t, &r), "validation_failed");
        // the local minimum wait before becoming an activist
        let wait = RecruitRules {
            min_months_before_activist: 3,
            ..Default::default()
        };
        assert_eq!(corr(1, d(2022, 12, 1), &t, &wait), "ok");
        assert_eq!(
            corr(1, d(2022, 12, 2), &t, &wait),
            "recruit.too_early_activist"
        );
        // twelve months of cultivation, from either end
        assert_eq!(corr(3, d(2023, 3, 1), &t, &r), "ok");
        assert_eq!(corr(3, d(2023, 3, 2), &t, &r), "recruit.cultivation_short");
        assert_eq!(corr(7, d(2024, 2, 29), &t, &r), "recruit.cultivation_short");
        // the political review is valid 12 months at the meeting
        assert_eq!(corr(10, d(2023, 7, 1), &t, &r), "ok");
        assert_eq!(
            corr(10, d(2023, 6, 30), &t, &r),
            "recruit.political_review_expired"
        );
        let mut failed = timeline();
        failed.review_passed = false;
        assert_eq!(corr(10, d(2023, 6, 30), &failed, &r), "ok");
        // approval within 3 months of the meeting, 6 with a reason
        assert_eq!(corr(15, d(2024, 6, 1), &t, &r), "ok");
        assert_eq!(corr(15, d(2024, 5, 31), &t, &r), "recruit.approval_late");
        let mut late = timeline();
        late.late_reason_17 = "党委换届".into();
        assert_eq!(corr(15, d(2024, 5, 31), &late, &r), "ok");
        assert_eq!(
            corr(17, d(2025, 1, 2), &late, &r),
            "recruit.approval_too_late"
        );
        // moving the meeting moves the probation end, which bounds steps 22 and 23
        assert_eq!(
            check_correction(15, d(2024, 7, 2), &t, &r, TODAY())
                .ok()
                .flatten(),
            Some(d(2025, 7, 2))
        );
        assert_eq!(corr(15, d(2024, 7, 3), &t, &r), "recruit.probation_running");
        assert_eq!(corr(23, d(2025, 7, 1), &t, &r), "ok");
        assert_eq!(
            corr(23, d(2025, 6, 30), &t, &r),
            "recruit.probation_running"
        );
        assert_eq!(corr(22, d(2025, 6, 1), &t, &r), "ok");
        assert_eq!(
            corr(22, d(2025, 5, 31), &t, &r),
            "recruit.full_application_early"
        );
        let mut ext = timeline();
        ext.extension_months = 6;
        assert_eq!(
            corr(23, d(2025, 7, 2), &ext, &r),
            "recruit.probation_running"
        );
        assert_eq!(ext.probation_end(&r), Some(d(2026, 1, 1)));
        // full membership approved within 3 months of the meeting
        assert_eq!(corr(24, d(2025, 10, 2), &t, &r), "ok");
        assert_eq!(corr(24, d(2025, 10, 3), &t, &r), "recruit.approval_late");
        // pre-review: leaving within 3 months of the corrected date
        let mut leave = timeline();
        leave.expected_leave_on = Some(d(2024, 9, 1));
        assert_eq!(corr(13, d(2024, 5, 31), &leave, &r), "ok");
        assert_eq!(corr(13, d(2024, 6, 2), &leave, &r), "recruit.leaving_soon");
    }

    #[test]
    fn reminders_name_the_next_deadline() {
        let r = RecruitRules::default();
        let mut f = facts(1);
        assert_eq!(
            dues(&f, &r, None),
            vec![Due {
                what: "党组织派人谈话".into(),
                due_on: d(2024, 2, 9)
            }]
        );
        f.step = 6;
        assert_eq!(dues(&f, &r, None)[0].due_on, d(2025, 8, 1));
        f.step = 15;
        assert_eq!(dues(&f, &r, None)[0].due_on, d(2025, 9, 1));
        f.status = "completed".into();
        assert!(dues(&f, &r, None).is_empty());
        let tr = RecruitRules {
            thought_report_every_months: 3,
            ..Default::default()
        };
        let mut f = facts(6);
        f.evaluation = Some((550, Verdict::Eliminate, true));
        let d2 = dues(&f, &tr, Some(d(2025, 1, 1)));
        assert_eq!(d2.len(), 3, "{d2:?}");
        assert!(d2
            .iter()
            .any(|x| x.what == "思想汇报" && x.due_on == d(2025, 4, 1)));
    }
}
