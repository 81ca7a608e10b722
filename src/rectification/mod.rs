//! 整改台账 / 销号管理 (seeds 003, 004): every problem a review, an inspection (巡察), a
//! standards self-check, a visit or a spot check finds becomes an item owned by an
//! organisation, with its measures (任务书), plan (路线图) and deadline (时间表). Progress is
//! recorded with evidence; the owner asks for close-out (销号) and only a verifier of the
//! supervising organisation — never the owner — closes it or sends it back with the reason.
//! Overdue items escalate on dashboards and in the monthly bulletin (每月通报), and count
//! against the organisation in the next review campaign. 约谈 (interviews) are kept in their
//! own ledger, with follow-up items into this one.
//!
//! Rules first (pure functions over [`RectifyRules`]); persistence in `store.rs`; pages and
//! API in `web.rs`.

pub mod store;
pub mod web;

use crate::error::AppError;
use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};

/// Where an item comes from.
pub const SOURCES: [(&str, &str); 8] = [
    ("review", "述职评议"),
    ("meeting", "组织生活会"),
    ("inspection", "巡察"),
    ("self_check", "对标自查"),
    ("visit", "明察暗访"),
    ("spot_check", "督导抽查"),
    ("interview", "约谈"),
    ("other", "其他"),
];

pub const STATUSES: [(&str, &str); 3] = [
    ("open", "整改中"),
    ("pending", "待核验销号"),
    ("closed", "已销号"),
];

/// What an update on an item records.
pub const UPDATE_KINDS: [(&str, &str); 5] = [
    ("progress", "整改进展"),
    ("request", "申请销号"),
    ("pass", "核验通过，予以销号"),
    ("reject", "核验未通过，退回整改"),
    ("extend", "批准延期"),
];

pub const INTERVIEW_STATUSES: [(&str, &str); 2] = [("planned", "待约谈"), ("held", "已约谈")];

use crate::rules::label;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RectifyRules {
    /// A deadline at most this many days after the item is opened.
    pub max_deadline_days: i64,
    /// Items due within this many days are flagged as due soon.
    pub due_soon_days: i64,
    /// A close-out request states what was done in at least this many characters.
    pub evidence_min_chars: i64,
    /// A close-out request must carry a document (photo, scan, minutes).
    pub evidence_file_required: bool,
    /// How many times the supervising organisation may extend one item's deadline ...
    pub max_extensions: i64,
    /// ... and by at most this many days each time.
    pub extension_max_days: i64,
    /// Points each item overdue in a year costs the organisation in the next review campaign.
    pub overdue_penalty_points: i64,
    pub max_document_mb: i64,
}

impl Default for RectifyRules {
    fn default() -> Self {
        Self {
            max_deadline_days: 365,
            due_soon_days: 15,
            evidence_min_chars: 10,
            evidence_file_required: false,
            max_extensions: 1,
            extension_max_days: 90,
            overdue_penalty_points: 2,
            max_document_mb: 20,
        }
    }
}

impl crate::rules::RuleKind for RectifyRules {
    const KIND: &'static str = "rectify";
    const LABEL: &'static str = "整改台账规则";
    fn validate(&self) -> Result<(), String> {
        let nums = [
            self.max_deadline_days,
            self.due_soon_days,
            self.evidence_min_chars,
            self.max_extensions,
            self.extension_max_days,
            self.overdue_penalty_points,
            self.max_document_mb,
        ];
        if nums.iter().any(|v| *v < 0) {
            return Err("规则值不能为负数".into());
        }
        if self.max_deadline_days < 1 || self.max_deadline_days > 1095 {
            return Err("整改时限上限应在1至1095天之间".into());
        }
        if self.max_document_mb < 1 {
            return Err("材料大小上限至少1MB".into());
        }
        if self.evidence_min_chars > 2000 {
            return Err("销号说明字数下限不超过2000".into());
        }
        Ok(())
    }
}

fn refused(code: &'static str, msg: impl Into<String>) -> AppError {
    AppError::refused(code, msg)
}

/// A new item's dates: opened not in the future, the deadline after the opening and within
/// the rule's horizon.
pub fn check_dates(
    opened_on: NaiveDate,
    deadline: NaiveDate,
    today: NaiveDate,
    r: &RectifyRules,
) -> Result<(), AppError> {
    if opened_on > today {
        return Err(AppError::field("opened_on", "发现日期不能晚于今天"));
    }
    if deadline <= opened_on {
        return Err(AppError::field("deadline", "整改时限应晚于发现日期"));
    }
    let max = opened_on + Duration::days(r.max_deadline_days);
    if deadline > max {
        return Err(refused(
            "rectify.deadline_too_far",
            format!(
                "整改时限最长{}天（{max}前），长期任务请分解为阶段目标",
                r.max_deadline_days
            ),
        ));
    }
    Ok(())
}

/// A close-out request states what was done (and carries a document where the rule asks).
pub fn check_request(evidence: &str, has_file: bool, r: &RectifyRules) -> Result<(), AppError> {
    let n = evidence.trim().chars().count() as i64;
    if n < r.evidence_min_chars.max(1) {
        return Err(AppError::field(
            "note",
            format!(
                "申请销号须说明整改完成情况（至少{}字）",
                r.evidence_min_chars.max(1)
            ),
        ));
    }
    if r.evidence_file_required && !has_file {
        return Err(AppError::field(
            "file",
            "申请销号须附佐证材料（照片、扫描件或会议记录）",
        ));
    }
    Ok(())
}

/// An extension of the deadline by the supervising organisation.
pub fn check_extension(
    deadline: NaiveDate,
    new_deadline: NaiveDate,
    extensions: i64,
    reason: &str,
    r: &RectifyRules,
) -> Result<(), AppError> {
    if extensions >= r.max_extensions {
        return Err(refused(
            "rectify.extended_enough",
            format!(
                "每项整改最多延期{}次，已延期{extensions}次",
                r.max_extensions
            ),
        ));
    }
    if new_deadline <= deadline {
        return Err(AppError::field("deadline", "新的时限应晚于原时限"));
    }
    let max = deadline + Duration::days(r.extension_max_days);
    if new_deadline > max {
        return Err(refused(
            "rectify.extension_too_long",
            format!("每次延期不超过{}天（{max}前）", r.extension_max_days),
        ));
    }
    if reason.trim().is_empty() {
        return Err(AppError::field("note", "请写明延期理由"));
    }
    Ok(())
}

/// Past its deadline and not closed (an item closed after its deadline was overdue too).
pub fn overdue(deadline: NaiveDate, closed_on: Option<NaiveDate>, today: NaiveDate) -> bool {
    match closed_on {
        Some(c) => c > deadline,
        None => today > deadline,
    }
}

/// Where an open item stands against its deadline.
pub fn due_state(deadline: NaiveDate, today: NaiveDate, r: &RectifyRules) -> &'static str {
    if today > deadline {
        "overdue"
    } else if deadline <= today + Duration::days(r.due_soon_days) {
        "soon"
    } else {
        "ok"
    }
}

/// Points an organisation loses in the next campaign for the items overdue in a year.
pub fn penalty(overdue_items: i64, r: &RectifyRules) -> i64 {
    overdue_items * r.overdue_penalty_points
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RuleKind;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    fn code(r: Result<(), AppError>) -> &'static str {
        match r {
            Ok(()) => "ok",
            Err(e) => e.code(),
        }
    }

    #[test]
    fn defaults_validate_and_bad_values_are_refused() {
        assert!(RectifyRules::default().validate().is_ok());
        for bad in [
            RectifyRules {
                max_deadline_days: 0,
                ..Default::default()
            },
            RectifyRules {
                due_soon_days: -1,
                ..Default::default()
            },
            RectifyRules {
                max_document_mb: 0,
                ..Default::default()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn deadlines_after_opening_and_within_the_horizon() {
        let r = RectifyRules::default();
        let today = d(2026, 6, 1);
        let o = d(2026, 1, 1);
        assert_eq!(code(check_dates(o, o, today, &r)), "validation_failed");
        assert_eq!(code(check_dates(o, o + Duration::days(1), today, &r)), "ok");
        assert_eq!(
            code(check_dates(o, o + Duration::days(365), today, &r)),
            "ok"
        );
        assert_eq!(
            code(check_dates(o, o + Duration::days(366), today, &r)),
            "rectify.deadline_too_far"
        );
        assert_eq!(
            code(check_dates(
                today + Duration::days(1),
                d(2026, 9, 1),
                today,
                &r
            )),
            "validation_failed"
        );
        assert_eq!(code(check_dates(today, d(2026, 9, 1), today, &r)), "ok");
    }

    #[test]
    fn close_out_requests_state_what_was_done() {
        let r = RectifyRules::default();
        assert_eq!(
            code(check_request("已完成整改，", false, &r)),
            "validation_failed"
        );
        assert_eq!(
            code(check_request("一二三四五六七八九", false, &r)),
            "validation_failed"
        );
        assert_eq!(code(check_request("一二三四五六七八九十", false, &r)), "ok");
        assert_eq!(
            code(check_request("   一二三四五六七八九   ", false, &r)),
            "validation_failed"
        );
        let strict = RectifyRules {
            evidence_file_required: true,
            ..Default::default()
        };
        assert_eq!(
            code(check_request("一二三四五六七八九十", false, &strict)),
            "validation_failed"
        );
        assert_eq!(
            code(check_request("一二三四五六七八九十", true, &strict)),
            "ok"
        );
    }

    #[test]
    fn extensions_are_counted_and_bounded() {
        let r = RectifyRules::default();
        let dl = d(2026, 3, 31);
        assert_eq!(
            code(check_extension(
                dl,
                dl + Duration::days(90),
                0,
                "汛期施工",
                &r
            )),
            "ok"
        );
        assert_eq!(
            code(check_extension(
                dl,
                dl + Duration::days(91),
                0,
                "汛期施工",
                &r
            )),
            "rectify.extension_too_long"
        );
        assert_eq!(
            code(check_extension(dl, dl, 0, "汛期施工", &r)),
            "validation_failed"
        );
        assert_eq!(
            code(check_extension(dl, dl + Duration::days(10), 0, " ", &r)),
            "validation_failed"
        );
        assert_eq!(
            code(check_extension(dl, dl + Duration::days(10), 1, "再延", &r)),
            "rectify.extended_enough"
        );
        let twice = RectifyRules {
            max_extensions: 2,
            ..Default::default()
        };
        assert_eq!(
            code(check_extension(
                dl,
                dl + Duration::days(10),
                1,
                "再延",
                &twice
            )),
            "ok"
        );
    }

    #[test]
    fn overdue_and_due_soon_at_their_edges() {
        let r = RectifyRules::default();
        let dl = d(2026, 3, 31);
        assert!(!overdue(dl, None, dl));
        assert!(overdue(dl, None, dl + Duration::days(1)));
        assert!(!overdue(dl, Some(dl), d(2027, 1, 1)));
        assert!(overdue(dl, Some(dl + Duration::days(1)), d(2027, 1, 1)));
        assert_eq!(due_state(dl, dl, &r), "soon");
        assert_eq!(due_state(dl, dl + Duration::days(1), &r), "overdue");
        assert_eq!(due_state(dl, dl - Duration::days(15), &r), "soon");
        assert_eq!(due_state(dl, dl - Duration::days(16), &r), "ok");
        assert_eq!(penalty(3, &r), 6);
    }
}
