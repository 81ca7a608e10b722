//! 工作记实: the weekly work record of a cadre (鱼台's 科级干部工作记实, 峄城's 周工作调度): what was
//! done this week, next week's plan — with at least one Party-building item — and how last
//! week's plan went. Due a set time after the week ends; filed late is marked late, never
//! filed is missed (a cadence obligation, [`crate::obligation`]). The week claimed and the
//! instant filed are both kept and chained into the audit log, so a record back-filled before
//! an inspection shows as such. A filed record locks after some days and then changes only by
//! an addendum; the managing department may return one with a comment.
//!
//! The rules here are pure functions over plain data; their numbers are the rule set
//! [`WorkLogRules`].

pub mod store;
pub mod web;

use crate::error::FieldError;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// The obligation kind a weekly record fulfils.
pub const OBLIGATION: &str = "work_log.weekly";

/// The rule values of weekly records (per locality).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct WorkLogRules {
    /// The week's record is due this many hours after the week ends (Sunday 24:00):
    /// 12 is Monday 12:00 of the next week.
    pub due_hours_after_week: i64,
    /// A week not filed counts as missed this many days after it was due.
    pub missed_after_days: i64,
    /// A filed record locks this many days after it was (last) submitted; then only addenda.
    pub lock_days: i64,
    /// Each week's record must hold at least one Party-building (党建) item.
    pub require_party_item: bool,
    /// At most this many items in each of "this week" and "next week".
    pub max_items: i64,
    /// A week without a working day (the calendar's holidays) owes no record.
    pub exempt_weeks_without_working_days: bool,
    /// Publish each past week's records of the committee's cadres on a public page (周工作调度
    /// 公示: names, units, positions and the items; nothing else).
    pub public_dispatch: bool,
}

impl Default for WorkLogRules {
    fn default() -> Self {
        Self {
            due_hours_after_week: 12,
            missed_after_days: 7,
            lock_days: 7,
            require_party_item: true,
            max_items: 20,
            exempt_weeks_without_working_days: true,
            public_dispatch: false,
        }
    }
}

impl crate::rules::RuleKind for WorkLogRules {
    const KIND: &'static str = "work_log";
    const LABEL: &'static str = "工作记实规则";
    fn validate(&self) -> Result<(), String> {
        if !(0..=168).contains(&self.due_hours_after_week) {
            return Err("截止时间须在周末后0至168小时之间".into());
        }
        if !(0..=60).contains(&self.missed_after_days) {
            return Err("逾期转为未报的天数须在0至60之间".into());
        }
        if !(1..=90).contains(&self.lock_days) {
            return Err("锁定天数须在1至90之间".into());
        }
        if !(1..=50).contains(&self.max_items) {
            return Err("每部分条目上限须在1至50之间".into());
        }
        Ok(())
    }
}

/// One item of a week (done this week, or planned for the next).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(default)]
#[schema(as = WorkLogItem)]
pub struct Item {
    pub text: String,
    /// A Party-building (党建) item.
    pub party: bool,
}

/// How one item of last week's plan went.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(default)]
pub struct Followup {
    /// The planned item, as planned.
    pub text: String,
    /// done, partly or not
    pub outcome: String,
    /// Why it was only partly done or not done.
    pub reason: String,
}

pub const OUTCOMES: [(&str, &str); 3] = [
    ("done", "已完成"),
    ("partly", "部分完成"),
    ("not", "未完成"),
];

/// Longest item or reason, in characters.
pub const MAX_TEXT: usize = 500;

/// When the record of the week starting `monday` is due, in the zone's local time.
pub fn due_at(monday: NaiveDate, rules: &WorkLogRules, zone: &crate::clock::Zone) -> DateTime<Utc> {
    zone.start_of(monday + Duration::days(7)) + Duration::hours(rules.due_hours_after_week)
}

/// When an unfiled week counts as missed.
pub fn missed_at(due: DateTime<Utc>, rules: &WorkLogRules) -> DateTime<Utc> {
    due + Duration::days(rules.missed_after_days)
}

/// When a record filed (or, returned, filed again) at `at` locks: fixed then, so a later rule
/// change neither reopens a locked record nor closes an open one early.
pub fn locks_at(at: DateTime<Utc>, rules: &WorkLogRules) -> DateTime<Utc> {
    at + Duration::days(rules.lock_days)
}

/// The dates a record, a list or a range may name: a week of this century (anything else is
/// a typing mistake, and far dates would overflow the week arithmetic).
pub fn in_range(d: NaiveDate) -> bool {
    (NaiveDate::from_ymd_opt(2000, 1, 1)..=NaiveDate::from_ymd_opt(2100, 12, 31)).contains(&Some(d))
}

/// Text as stored: trimmed, without control characters but line breaks and tabs (NUL, which
/// PostgreSQL's text refuses, among them) and without the invisible format characters that
/// make a blank look written or turn text around (zero-width spaces and joiners, direction
/// overrides and isolates, the byte-order mark).
pub fn clean_text(s: &str) -> String {
    let invisible = |c: char| {
        (c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{feff}' | '\u{00ad}')
    };
    s.chars()
        .filter(|c| !invisible(*c))
        .collect::<String>()
        .trim()
        .to_string()
}

/// Drops blank rows and trims the rest.
pub fn clean_items(items: &[Item]) -> Vec<Item> {
    items
        .iter()
        .map(|i| Item {
            text: clean_text(&i.text),
            party: i.party,
        })
        .filter(|i| !i.text.is_empty())
        .collect()
}

/// Checks a week's record against the rules: the week has begun, both parts are filled and
/// within bounds, a Party-building item is there when required, every planned item of last
/// week has an outcome (a reason when not wholly done). Items are already cleaned.
pub fn check(
    monday: NaiveDate,
    today: NaiveDate,
    done: &[Item],
    plan: &[Item],
    followups: &[Followup],
    rules: &WorkLogRules,
) -> Vec<FieldError> {
    let mut e = Vec::new();
    if monday > today {
        e.push(FieldError::new("week", "这一周还没有开始，不能填报"));
    }
    let max = rules.max_items.max(1) as usize;
    for (field, items, what) in [("done", done, "本周工作"), ("plan", plan, "下周计划")] {
        if items.is_empty() {
            e.push(FieldError::new(field, format!("请填写{what}（至少一项）")));
        } else if items.len() > max {
            e.push(FieldError::new(field, format!("{what}最多{max}项")));
        }
        if items.iter().any(|i| i.text.chars().count() > MAX_TEXT) {
            e.push(FieldError::new(
                field,
                format!("{what}每项不超过{MAX_TEXT}字"),
            ));
        }
    }
    if rules.require_party_item && !done.is_empty() && !done.iter().chain(plan).any(|i| i.party) {
        e.push(FieldError::new(
            "done",
            "每周记实须包含党建工作内容：请至少将一项标为“党建”",
        ));
    }
    for (n, f) in followups.iter().enumerate() {
        if !OUTCOMES.iter().any(|o| o.0 == f.outcome) {
            e.push(FieldError::new(
                &format!("followup_{n}"),
                format!("请选择上周计划“{}”的完成情况", short(&f.text)),
            ));
        } else if f.outcome != "done" && f.reason.trim().is_empty() {
            e.push(FieldError::new(
                &format!("followup_{n}"),
                format!("上周计划“{}”未全部完成，请说明原因", short(&f.text)),
            ));
        } else if f.reason.chars().count() > MAX_TEXT || f.text.chars().count() > MAX_TEXT {
            e.push(FieldError::new(
                &format!("followup_{n}"),
                format!("原因不超过{MAX_TEXT}字"),
            ));
        }
    }
    e
}

fn short(s: &str) -> String {
    let mut t: String = s.chars().take(20).collect();
    if s.chars().count() > 20 {
        t.push('…');
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Zone;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }
    fn item(text: &str, party: bool) -> Item {
        Item {
            text: text.into(),
            party,
        }
    }

    #[test]
    fn due_monday_noon_local_by_default() {
        let r = WorkLogRules::default();
        let due = due_at(d(2026, 11, 30), &r, &Zone::BEIJING);
        // Monday 7 December 12:00 in Beijing is 04:00 UTC
        assert_eq!(due.to_rfc3339(), "2026-12-07T04:00:00+00:00");
        let r0 = WorkLogRules {
            due_hours_after_week: 0,
            ..r.clone()
        };
        assert_eq!(
            due_at(d(2026, 11, 30), &r0, &Zone::BEIJING).to_rfc3339(),
            "2026-12-06T16:00:00+00:00"
        );
        assert_eq!(missed_at(due, &r).to_rfc3339(), "2026-12-14T04:00:00+00:00");
    }

    #[test]
    fn locks_exactly_after_lock_days() {
        let r = WorkLogRules::default();
        let at = due_at(d(2026, 11, 30), &r, &Zone::BEIJING);
        assert_eq!(locks_at(at, &r), at + Duration::days(7));
        let r1 = WorkLogRules { lock_days: 1, ..r };
        assert_eq!(locks_at(at, &r1), at + Duration::days(1));
    }

    #[test]
    fn dates_of_this_century_only() {
        for (day, ok) in [
            (d(1999, 12, 31), false),
            (d(2000, 1, 1), true),
            (d(2100, 12, 31), true),
            (d(2101, 1, 1), false),
        ] {
            assert_eq!(in_range(day), ok, "{day}");
        }
        assert_eq!(clean_text(" a\0b "), "ab");
    }

    #[test]
    fn checks_a_week() {
        let r = WorkLogRules {
            max_items: 2,
            ..WorkLogRules::default()
        };
        let monday = d(2026, 11, 30);
        let ok_done = vec![item("走访联系村", false), item("主持支部党员大会", true)];
        let ok_plan = vec![item("督导项目进度", false)];
        let fields = |v: Vec<FieldError>| v.into_iter().map(|e| e.field).collect::<Vec<_>>();
        // (today, done, plan, followups, fields refused)
        type Case = (
            NaiveDate,
            Vec<Item>,
            Vec<Item>,
            Vec<Followup>,
            Vec<&'static str>,
        );
        let cases: Vec<Case> = vec![
            (monday, ok_done.clone(), ok_plan.clone(), vec![], vec![]),
            (
                monday - Duration::days(1),
                ok_done.clone(),
                ok_plan.clone(),
                vec![],
                vec!["week"],
            ),
            (monday, vec![], ok_plan.clone(), vec![], vec!["done"]),
            (monday, ok_done.clone(), vec![], vec![], vec!["plan"]),
            // at the item limit, and one above it
            (
                monday,
                ok_done.clone(),
                vec![item("a", false), item("b", false)],
                vec![],
                vec![],
            ),
            (
                monday,
                ok_done.clone(),
                vec![item("a", false), item("b", false), item("c", false)],
                vec![],
                vec!["plan"],
            ),
            // no Party-building item
            (
                monday,
                vec![item("走访", false)],
                ok_plan.clone(),
                vec![],
                vec!["done"],
            ),
            // a text at the length limit, and one above
            (
                monday,
                vec![item(&"字".repeat(MAX_TEXT), true)],
                ok_plan.clone(),
                vec![],
                vec![],
            ),
            (
                monday,
                vec![item(&"字".repeat(MAX_TEXT + 1), true)],
                ok_plan.clone(),
                vec![],
                vec!["done"],
            ),
            // follow-ups: done needs no reason, partly needs one, an unknown outcome is refused
            (
                monday,
                ok_done.clone(),
                ok_plan.clone(),
                vec![Followup {
                    text: "x".into(),
                    outcome: "done".into(),
                    reason: String::new(),
                }],
                vec![],
            ),
            (
                monday,
                ok_done.clone(),
                ok_plan.clone(),
                vec![Followup {
                    text: "x".into(),
                    outcome: "partly".into(),
                    reason: " ".into(),
                }],
                vec!["followup_0"],
            ),
            (
                monday,
                ok_done.clone(),
                ok_plan.clone(),
                vec![Followup {
                    text: "x".into(),
                    outcome: "not".into(),
                    reason: "雨天停工".into(),
                }],
                vec![],
            ),
            (
                monday,
                ok_done.clone(),
                ok_plan.clone(),
                vec![Followup {
                    text: "x".into(),
                    outcome: "maybe".into(),
                    reason: String::new(),
                }],
                vec!["followup_0"],
            ),
        ];
        for (i, (today, done, plan, fu, want)) in cases.into_iter().enumerate() {
            assert_eq!(
                fields(check(monday, today, &done, &plan, &fu, &r)),
                want,
                "case {i}"
            );
        }
        // without the Party-building rule, a week of other work passes
        let lax = WorkLogRules {
            require_party_item: false,
            ..r
        };
        assert!(check(monday, monday, &[item("走访", false)], &ok_plan, &[], &lax).is_empty());
    }

    #[test]
    fn blank_rows_are_dropped() {
        let v = clean_items(&[item("  ", true), item(" 走访 ", false)]);
        assert_eq!(v, vec![item("走访", false)]);
    }

    #[test]
    fn rule_bounds() {
        use crate::rules::RuleKind;
        let ok = WorkLogRules::default();
        assert!(ok.validate().is_ok());
        for bad in [
            WorkLogRules {
                due_hours_after_week: 169,
                ..ok.clone()
            },
            WorkLogRules {
                due_hours_after_week: -1,
                ..ok.clone()
            },
            WorkLogRules {
                missed_after_days: 61,
                ..ok.clone()
            },
            WorkLogRules {
                lock_days: 0,
                ..ok.clone()
            },
            WorkLogRules {
                max_items: 0,
                ..ok.clone()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        assert!(WorkLogRules {
            due_hours_after_week: 168,
            lock_days: 90,
            ..ok
        }
        .validate()
        .is_ok());
    }

    #[test]
    fn invisible_characters_do_not_count_as_text() {
        for (raw, want) in [
            ("  周例会 ", "周例会"),
            ("\u{200b}", ""),
            ("\u{feff}\u{200d} ", ""),
            ("a\0b", "ab"),
            ("\u{202e}abc", "abc"),
            ("第一行\n第二行", "第一行\n第二行"),
            ("x\u{7}y", "xy"),
        ] {
            assert_eq!(clean_text(raw), want, "{raw:?}");
        }
    }
}
