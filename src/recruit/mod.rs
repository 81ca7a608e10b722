//! 发展党员全程纪实: the 25-step recruitment pipeline of 《中国共产党发展党员工作细则》.
//!
//! A person in the pipeline is a *recruit*; each step done is an *entry* with its date, its
//! step data and the signatures of the roles the rule set names for that step. A recruit's
//! `step` is the last step whose entry is complete (every required role signed); the next
//! step may be recorded only then. Steps 6 and 21 (education and observation) repeat: each
//! entry is one periodic review. Nothing is deleted: a correction is a new entry that points
//! to the one it replaces.
//!
//! - `rules.rs` — the rule values ([`crate::rules::RecruitRules`]) applied as pure functions,
//!   and the working-day calendar arithmetic of publicity periods.
//! - `store.rs` — recruits, entries, signatures, evaluations, publicity, plans, statistics.
//! - `archive.rs` — documents (content-addressed, SM3, encrypted) and the 一人一档 export with
//!   its verification against the audit chain.
//! - `web.rs` — pages and the JSON API.

pub mod archive;
pub mod rules;
pub mod store;
pub mod talent;
pub mod talent_web;
pub mod web;

use serde::Serialize;

/// The five stages.
pub const STAGES: [(i64, &str); 5] = [
    (1, "申请入党"),
    (2, "入党积极分子的确定和培养教育"),
    (3, "发展对象的确定和考察"),
    (4, "预备党员的接收"),
    (5, "预备党员的教育考察和转正"),
];

/// What a step's form asks for besides date and note.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    Plain,
    /// Step 3: how the activist was recommended.
    Channel,
    /// Step 5: 1–2 cultivation contacts.
    Contacts,
    /// Steps 6, 21: a periodic review (repeatable).
    Review,
    /// Step 9: the introducers.
    Introducers,
    /// Step 10: the political review's conclusion.
    PoliticalReview,
    /// Step 11: days and class hours of the concentrated training.
    Training,
    /// Step 13: the expected date of leaving the unit, if any.
    PreReview,
    /// Steps 15, 23: the branch general meeting's vote.
    Meeting,
    /// Step 17: the committee's approval.
    Approval,
    /// Step 24: approval of becoming a full member (on time / extended / cancelled).
    FullApproval,
    /// Step 19: assignment to a Party group.
    Group,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct StepDef {
    pub no: i64,
    pub stage: i64,
    pub name: &'static str,
    pub kind: StepKind,
}

const fn s(no: i64, stage: i64, name: &'static str, kind: StepKind) -> StepDef {
    StepDef {
        no,
        stage,
        name,
        kind,
    }
}

pub const STEPS: [StepDef; 25] = [
    s(1, 1, "递交入党申请书", StepKind::Plain),
    s(2, 1, "党组织派人谈话", StepKind::Plain),
    s(3, 2, "推荐和确定入党积极分子", StepKind::Channel),
    s(4, 2, "上级党委备案", StepKind::Plain),
    s(5, 2, "指定培养联系人", StepKind::Contacts),
    s(6, 2, "培养教育考察", StepKind::Review),
    s(7, 3, "确定发展对象", StepKind::Plain),
    s(8, 3, "报上级党委备案", StepKind::Plain),
    s(9, 3, "确定入党介绍人", StepKind::Introducers),
    s(10, 3, "政治审查", StepKind::PoliticalReview),
    s(11, 3, "短期集中培训", StepKind::Training),
    s(12, 4, "支部委员会审查", StepKind::Plain),
    s(13, 4, "上级党委预审", StepKind::PreReview),
    s(14, 4, "填写入党志愿书", StepKind::Plain),
    s(15, 4, "支部大会讨论", StepKind::Meeting),
    s(16, 4, "上级党委派人谈话", StepKind::Plain),
    s(17, 4, "上级党委审批", StepKind::Approval),
    s(18, 4, "再上一级党委组织部门备案", StepKind::Plain),
    s(19, 5, "编入党支部和党小组", StepKind::Group),
    s(20, 5, "入党宣誓", StepKind::Plain),
    s(21, 5, "继续教育考察", StepKind::Review),
    s(22, 5, "提出转正申请", StepKind::Plain),
    s(23, 5, "支部大会讨论", StepKind::Meeting),
    s(24, 5, "上级党委审批", StepKind::FullApproval),
    s(25, 5, "材料归档", StepKind::Plain),
];

/// The definition of step `no` (1–25).
/// The step numbered `no` (1–25); any other number, however far out, is none.
pub fn step(no: i64) -> Option<&'static StepDef> {
    STEPS.get(usize::try_from(no.checked_sub(1)?).ok()?)
}

pub fn stage_of(step_done: i64) -> i64 {
    // The stage a recruit is in: that of the next step to do.
    step(step_done.saturating_add(1).min(25))
        .map(|d| d.stage)
        .unwrap_or(5)
}

pub fn stage_label(stage: i64) -> &'static str {
    STAGES
        .iter()
        .find(|(n, _)| *n == stage)
        .map(|(_, l)| *l)
        .unwrap_or("")
}

/// Who may sign a step (configured per step in the rule set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Signer {
    /// 党支部书记
    BranchSecretary,
    /// 培养联系人/考察人 (an account linked to one of the recruit's contacts)
    Contact,
    /// 上级党委（分管委员、书记）
    Committee,
    /// 组织部门组织员
    OrgDept,
}

impl Signer {
    pub const ALL: [Signer; 4] = [
        Signer::BranchSecretary,
        Signer::Contact,
        Signer::Committee,
        Signer::OrgDept,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Signer::BranchSecretary => "branch_secretary",
            Signer::Contact => "contact",
            Signer::Committee => "committee",
            Signer::OrgDept => "org_dept",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Signer::BranchSecretary => "党支部书记",
            Signer::Contact => "培养联系人",
            Signer::Committee => "上级党委",
            Signer::OrgDept => "组织部门组织员",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// Each signer's code and name, as the rules form offers them.
pub const SIGNER_CHOICES: [(&str, &str); 4] = [
    ("branch_secretary", "党支部书记"),
    ("contact", "培养联系人"),
    ("committee", "上级党委"),
    ("org_dept", "组织部门组织员"),
];

/// A recruit's state in the pipeline.
pub const STATUSES: [(&str, &str); 5] = [
    ("active", "进行中"),
    ("completed", "已转正归档"),
    ("eliminated", "已淘汰"),
    ("stopped", "已终止"),
    ("cancelled", "取消预备党员资格"),
];

pub fn status_label(s: &str) -> &'static str {
    STATUSES
        .iter()
        .find(|(k, _)| *k == s)
        .map(|(_, v)| *v)
        .unwrap_or("")
}

/// How an activist was recommended (step 3).
pub const CHANNELS: [(&str, &str); 2] = [("member", "党员推荐"), ("league", "群团组织推优")];

/// Step 23/24 outcomes.
pub const FULL_OUTCOMES: [(&str, &str); 3] = [
    ("on_time", "按期转正"),
    ("extend", "延长预备期"),
    ("cancel", "取消预备党员资格"),
];

pub fn label_of(table: &[(&'static str, &'static str)], key: &str) -> &'static str {
    table
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| *v)
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_number_outside_one_to_twenty_five_is_none() {
        for (no, some) in [
            (i64::MIN, false),
            (-1, false),
            (0, false),
            (1, true),
            (25, true),
            (26, false),
            (i64::MAX, false),
        ] {
            assert_eq!(step(no).is_some(), some, "{no}");
        }
        assert_eq!(stage_of(i64::MAX), 5);
        assert_eq!(stage_of(0), 1);
    }

    #[test]
    fn twenty_five_steps_in_five_stages() {
        for (i, d) in STEPS.iter().enumerate() {
            assert_eq!(d.no, i as i64 + 1);
        }
        assert_eq!(step(0).map(|d| d.no), None);
        assert_eq!(step(26).map(|d| d.no), None);
        assert_eq!(stage_of(0), 1);
        assert_eq!(stage_of(2), 2);
        assert_eq!(stage_of(6), 3);
        assert_eq!(stage_of(11), 4);
        assert_eq!(stage_of(18), 5);
        assert_eq!(stage_of(25), 5);
    }
}
