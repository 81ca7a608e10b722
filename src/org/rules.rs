//! Branch rules of the 中国共产党支部工作条例, as warnings on the organisation page.
//! Pure functions over plain facts; the numbers come from [`BranchRules`].

use crate::rules::BranchRules;
use chrono::{Datelike, NaiveDate};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchFacts {
    pub is_branch: bool,
    pub grassroots: bool,
    pub full_members: i64,
    pub total_members: i64,
    pub has_committee: bool,
    pub committee_size: i64,
    pub term_start: Option<NaiveDate>,
    /// 延期换届 approved for the current term, in months.
    pub extended_months: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub code: &'static str,
    pub message: String,
}

fn w(code: &'static str, message: String) -> Warning {
    Warning { code, message }
}

/// When a term that started on `start` ends under the branch rules: five years for village
/// and community branches, three for others, and any approved 延期 months on top.
pub fn current_term_end(
    start: NaiveDate,
    grassroots: bool,
    extended_months: i64,
    r: &BranchRules,
) -> NaiveDate {
    let years = if grassroots {
        r.term_years_village
    } else {
        r.term_years
    };
    term_end_extended(start, years, extended_months)
}

/// The date a term that started on `start` ends after `years` years and `months` more
/// (an approved 延期).
pub fn term_end_extended(start: NaiveDate, years: i64, months: i64) -> NaiveDate {
    let end = term_end(start, years);
    u32::try_from(months.max(0))
        .ok()
        .and_then(|m| end.checked_add_months(chrono::Months::new(m)))
        .unwrap_or(end)
}

/// The date a term that started on `start` ends after `years` years.
pub fn term_end(start: NaiveDate, years: i64) -> NaiveDate {
    let y = start.year() + years as i32;
    NaiveDate::from_ymd_opt(y, start.month(), start.day())
        .or_else(|| NaiveDate::from_ymd_opt(y, start.month(), 28))
        .unwrap_or(start)
}

pub fn branch_warnings(f: &BranchFacts, r: &BranchRules, today: NaiveDate) -> Vec<Warning> {
    let mut out = Vec::new();
    if !f.is_branch {
        return out;
    }
    if f.full_members < r.min_full_members {
        out.push(w(
            "branch.too_few_full_members",
            format!(
                "正式党员{}名，少于{}名，应与邻近单位成立联合党支部或调整设置",
                f.full_members, r.min_full_members
            ),
        ));
    }
    if f.total_members > r.max_members {
        out.push(w(
            "branch.too_many_members",
            format!(
                "党员{}名，超过{}名，一般应分设党支部",
                f.total_members, r.max_members
            ),
        ));
    }
    if f.full_members >= r.committee_required_at && !f.has_committee {
        out.push(w(
            "branch.committee_missing",
            format!(
                "正式党员{}名（{}名以上），应设立支部委员会",
                f.full_members, r.committee_required_at
            ),
        ));
    }
    if f.has_committee {
        if f.committee_size > r.committee_hard_max {
            out.push(w(
                "branch.committee_over_max",
                format!(
                    "支部委员会{}人，最多不超过{}人",
                    f.committee_size, r.committee_hard_max
                ),
            ));
        } else if f.committee_size < r.committee_min || f.committee_size > r.committee_max {
            out.push(w(
                "branch.committee_size",
                format!(
                    "支部委员会{}人，一般由{}至{}人组成",
                    f.committee_size, r.committee_min, r.committee_max
                ),
            ));
        }
    }
    match f.term_start {
        None => {
            if f.has_committee {
                out.push(w(
                    "branch.term_unknown",
                    "未记录本届任期开始日期".to_string(),
                ));
            }
        }
        Some(start) => {
            let end = current_term_end(start, f.grassroots, f.extended_months, r);
            let days = (end - today).num_days();
            if days < 0 {
                out.push(w(
                    "branch.term_expired",
                    format!("本届任期已于{end}届满，应按期换届"),
                ));
            } else if days <= r.term_warn_days {
                out.push(w(
                    "branch.term_ending",
                    format!("本届任期将于{end}届满（还有{days}天），请做好换届准备"),
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> BranchFacts {
        BranchFacts {
            is_branch: true,
            grassroots: false,
            full_members: 10,
            total_members: 12,
            has_committee: true,
            committee_size: 3,
            term_start: None,
            extended_months: 0,
        }
    }

    fn codes(f: &BranchFacts, today: NaiveDate) -> Vec<&'static str> {
        branch_warnings(f, &BranchRules::default(), today)
            .into_iter()
            .map(|w| w.code)
            .collect()
    }

    fn d(y: i32, m: u32, dd: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, dd).expect("date")
    }

    #[test]
    fn full_member_minimum_at_edges() {
        let today = d(2026, 1, 1);
        for (full, warned) in [(2, true), (3, false), (4, false)] {
            let f = BranchFacts {
                full_members: full,
                total_members: full,
                has_committee: false,
                ..facts()
            };
            assert_eq!(
                codes(&f, today).contains(&"branch.too_few_full_members"),
                warned,
                "{full}"
            );
        }
    }

    #[test]
    fn member_maximum_at_edges() {
        let today = d(2026, 1, 1);
        for (total, warned) in [(49, false), (50, false), (51, true)] {
            let f = BranchFacts {
                total_members: total,
                ..facts()
            };
            assert_eq!(
                codes(&f, today).contains(&"branch.too_many_members"),
                warned,
                "{total}"
            );
        }
    }

    #[test]
    fn committee_required_from_seven() {
        let today = d(2026, 1, 1);
        for (full, warned) in [(6, false), (7, true), (8, true)] {
            let f = BranchFacts {
                full_members: full,
                total_members: full,
                has_committee: false,
                ..facts()
            };
            assert_eq!(
                codes(&f, today).contains(&"branch.committee_missing"),
                warned,
                "{full}"
            );
        }
    }

    #[test]
    fn committee_size_bands() {
        let today = d(2026, 1, 1);
        let table = [
            (2, Some("branch.committee_size")),
            (3, None),
            (5, None),
            (6, Some("branch.committee_size")),
            (7, Some("branch.committee_size")),
            (8, Some("branch.committee_over_max")),
        ];
        for (size, code) in table {
            let f = BranchFacts {
                committee_size: size,
                term_start: Some(d(2025, 1, 1)),
                ..facts()
            };
            let got: Vec<_> = codes(&f, today)
                .into_iter()
                .filter(|c| c.starts_with("branch.committee"))
                .collect();
            assert_eq!(got, code.into_iter().collect::<Vec<_>>(), "{size}");
        }
    }

    #[test]
    fn term_warning_edges() {
        // Ordinary branch: 3 years from 2023-06-01 ends 2026-06-01.
        let f = BranchFacts {
            term_start: Some(d(2023, 6, 1)),
            ..facts()
        };
        let end = d(2026, 6, 1);
        let at = |days_before: i64| codes(&f, end - chrono::Duration::days(days_before));
        assert!(!at(91).iter().any(|c| c.starts_with("branch.term")));
        assert!(at(90).contains(&"branch.term_ending"));
        assert!(at(89).contains(&"branch.term_ending"));
        assert!(at(0).contains(&"branch.term_ending"));
        assert!(at(-1).contains(&"branch.term_expired"));
        // Village branches serve five years.
        let v = BranchFacts {
            grassroots: true,
            ..f.clone()
        };
        assert!(!codes(&v, end).iter().any(|c| c.starts_with("branch.term")));
        assert!(codes(&v, d(2028, 6, 2)).contains(&"branch.term_expired"));
    }

    #[test]
    fn rule_values_are_read_not_hard_coded() {
        let r = BranchRules {
            max_members: 30,
            ..Default::default()
        };
        let f = BranchFacts {
            total_members: 31,
            ..facts()
        };
        assert!(branch_warnings(&f, &r, d(2026, 1, 1))
            .iter()
            .any(|w| w.code == "branch.too_many_members"));
    }

    #[test]
    fn non_branches_get_no_warnings() {
        let f = BranchFacts {
            is_branch: false,
            full_members: 0,
            ..facts()
        };
        assert!(codes(&f, d(2026, 1, 1)).is_empty());
    }

    #[test]
    fn an_approved_extension_moves_the_end() {
        // 3 years from 2023-06-01 end 2026-06-01; 12 months of 延期 move it to 2027-06-01.
        let f = BranchFacts {
            term_start: Some(d(2023, 6, 1)),
            extended_months: 12,
            ..facts()
        };
        assert!(!codes(&f, d(2026, 6, 2)).contains(&"branch.term_expired"));
        assert!(codes(&f, d(2027, 6, 1)).contains(&"branch.term_ending"));
        assert!(codes(&f, d(2027, 6, 2)).contains(&"branch.term_expired"));
        assert_eq!(term_end_extended(d(2024, 2, 29), 3, 0), d(2027, 2, 28));
        assert_eq!(term_end_extended(d(2023, 8, 31), 3, 6), d(2027, 2, 28));
    }

    #[test]
    fn leap_day_term() {
        assert_eq!(term_end(d(2024, 2, 29), 3), d(2027, 2, 28));
    }
}
