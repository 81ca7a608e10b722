//! 工作日历: the one working-day calendar of the platform.
//!
//! Every working-day computation (a 公示 of five working days, a deadline counted in working
//! days) reads this calendar: Monday to Friday are working days, except the holidays of the
//! State Council's yearly arrangement; a weekend day of that arrangement worked instead
//! (调休) is a working day. The arrangements from 2015 to the latest published one ship in
//! the binary (`builtin.txt`) and are stored at start for the years not yet stored; each year
//! stays editable (a year once edited is never overwritten). For a year with no arrangement
//! stored, the fixed-date statutory holidays of 《全国年节及纪念日放假办法》 (元旦, 劳动节, 国庆节)
//! are applied and the dashboard warns that the year is missing.

pub mod store;
pub mod web;

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The dashboard's warning for a year without its arrangement (a message id).
pub const MISSING_YEAR: &str = "尚未录入{0}年的节假日安排：工作日暂按法定节日的固定日期计算，不含调休。国务院办公厅通知发布后请录入。";

/// Weekday names, Monday first (message ids).
pub const WEEKDAYS: [&str; 7] = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"];

/// Days the calendar overrides: `true` = a working day (调休), `false` = a holiday.
pub type Calendar = BTreeMap<NaiveDate, bool>;

/// One day of an arrangement.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Day {
    pub day: NaiveDate,
    /// `true`: a weekend day worked (调休上班); `false`: a day off.
    pub working: bool,
    pub name: String,
}

/// One year's arrangement as published.
#[derive(Debug, Clone)]
pub struct Arrangement {
    pub year: i32,
    pub notice: String,
    pub days: Vec<Day>,
}

/// The years from which on the 2024 revision of the holiday rules holds (劳动节 two days).
const LABOUR_DAY_TWO_DAYS_FROM: i32 = 2025;

pub fn is_working_day(d: NaiveDate, cal: &Calendar) -> bool {
    match cal.get(&d) {
        Some(w) => *w,
        None => !matches!(d.weekday(), Weekday::Sat | Weekday::Sun),
    }
}

/// The `n`th working day counting from `start` (itself counted if it is a working day): the
/// last day of a publicity of `n` working days.
pub fn nth_working_day(start: NaiveDate, n: i64, cal: &Calendar) -> NaiveDate {
    let mut d = start;
    let mut left = n.max(1);
    // a year has well over 200 working days; the bound only guards a malformed calendar
    for _ in 0..(n.max(1) * 10 + 400) {
        if is_working_day(d, cal) {
            left -= 1;
            if left == 0 {
                return d;
            }
        }
        d += Duration::days(1);
    }
    d
}

/// The date `n` working days after `from` (not counting `from`): a deadline "within n
/// working days".
pub fn add_working_days(from: NaiveDate, n: i64, cal: &Calendar) -> NaiveDate {
    nth_working_day(from + Duration::days(1), n, cal)
}

/// Working days in `from..=to`.
pub fn working_days_between(from: NaiveDate, to: NaiveDate, cal: &Calendar) -> i64 {
    let mut n = 0;
    let mut d = from;
    while d <= to {
        if is_working_day(d, cal) {
            n += 1;
        }
        d += Duration::days(1);
    }
    n
}

/// The fixed-date statutory holidays of a year (元旦, 劳动节, 国庆节): what is known of a year
/// whose arrangement has not been published. The lunar holidays and the 调休 come only with
/// the arrangement.
pub fn statutory_fixed(year: i32) -> Vec<Day> {
    let mut v = Vec::new();
    let mut add = |m: u32, d: u32, name: &str| {
        if let Some(day) = NaiveDate::from_ymd_opt(year, m, d) {
            v.push(Day {
                day,
                working: false,
                name: name.to_string(),
            });
        }
    };
    add(1, 1, "元旦");
    add(5, 1, "劳动节");
    if year >= LABOUR_DAY_TWO_DAYS_FROM {
        add(5, 2, "劳动节");
    }
    for d in 1..=3 {
        add(10, d, "国庆节");
    }
    v
}

/// The arrangements shipped in the binary, by year.
pub fn builtin() -> &'static BTreeMap<i32, Arrangement> {
    static B: OnceLock<BTreeMap<i32, Arrangement>> = OnceLock::new();
    B.get_or_init(|| match parse(include_str!("builtin.txt")) {
        Ok(m) => m,
        Err(e) => {
            // covered by a unit test; never reached in a build that passed it
            tracing::error!(error = %e, "the built-in holiday arrangements do not parse");
            BTreeMap::new()
        }
    })
}

/// The latest year whose arrangement ships in the binary.
pub fn latest_builtin_year() -> Option<i32> {
    builtin().keys().next_back().copied()
}

/// Parses arrangements: `YEAR notice` lines open a year; each following line is a holiday's
/// name, its days off (`a..b` ranges or single dates), then optionally `班` and the weekend
/// days worked.
pub fn parse(text: &str) -> Result<BTreeMap<i32, Arrangement>, String> {
    let mut out: BTreeMap<i32, Arrangement> = BTreeMap::new();
    let mut current: Option<i32> = None;
    let date = |s: &str, line: usize| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| format!("line {line}: bad date {s}"))
    };
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let n = i + 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.split_whitespace();
        let first = parts.next().unwrap_or("");
        if let Ok(year) = first.parse::<i32>() {
            out.insert(
                year,
                Arrangement {
                    year,
                    notice: parts.collect::<Vec<_>>().join(" "),
                    days: Vec::new(),
                },
            );
            current = Some(year);
            continue;
        }
        let year = current.ok_or(format!("line {n}: a holiday before its year"))?;
        let name = first.to_string();
        let mut working = false;
        let mut days = Vec::new();
        for tok in parts {
            if tok == "班" {
                working = true;
                continue;
            }
            let (a, b) = tok.split_once("..").unwrap_or((tok, tok));
            let (a, b) = (date(a, n)?, date(b, n)?);
            if b < a || (b - a).num_days() > 15 {
                return Err(format!("line {n}: bad range {tok}"));
            }
            let mut d = a;
            while d <= b {
                days.push(Day {
                    day: d,
                    working,
                    name: name.clone(),
                });
                d += Duration::days(1);
            }
        }
        if let Some(a) = out.get_mut(&year) {
            a.days.extend(days);
        }
    }
    for a in out.values_mut() {
        a.days.sort_by_key(|d| d.day);
    }
    Ok(out)
}

/// Checks a year's days before they are stored: each date once, a worked day on a weekend,
/// every day within the December before the year and the year itself, names short.
pub fn check_year(year: i32, days: &[Day]) -> Result<(), String> {
    let from = NaiveDate::from_ymd_opt(year - 1, 12, 1).ok_or("年份不正确")?;
    let to = NaiveDate::from_ymd_opt(year, 12, 31).ok_or("年份不正确")?;
    let mut seen = std::collections::BTreeSet::new();
    for d in days {
        if d.day < from || d.day > to {
            return Err(format!(
                "{} 不在{}年的安排范围内（上年12月至本年12月）",
                d.day, year
            ));
        }
        if !seen.insert(d.day) {
            return Err(format!("{} 出现了两次", d.day));
        }
        if d.working && !matches!(d.day.weekday(), Weekday::Sat | Weekday::Sun) {
            return Err(format!("{} 是工作日，不需要标为调休上班", d.day));
        }
        if d.name.chars().count() > 30 {
            return Err(format!("{} 的名称超过30字", d.day));
        }
    }
    if days.len() > 200 {
        return Err("一年最多200天".into());
    }
    Ok(())
}

/// Reads calendar lines `YYYY-MM-DD,休|班[,名称]` (the holiday page's text form; full-width
/// commas and tabs accepted).
pub fn parse_lines(text: &str) -> Result<Vec<Day>, (usize, String)> {
    let mut days = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = line.split([',', '，', '\t', '、']).map(str::trim).collect();
        let day = parts
            .first()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
        let working = match parts.get(1).copied() {
            Some("休") | Some("holiday") => Some(false),
            Some("班") | Some("workday") => Some(true),
            _ => None,
        };
        let (Some(day), Some(working)) = (day, working) else {
            return Err((
                i + 1,
                format!(
                    "第{}行格式应为“日期,休或班,名称”，如 2026-10-01,休,国庆节",
                    i + 1
                ),
            ));
        };
        days.push(Day {
            day,
            working,
            name: parts.get(2).copied().unwrap_or("").to_string(),
        });
    }
    Ok(days)
}

/// The calendar of `from..=to` from stored days and the years stored: a year without a
/// stored arrangement gets its statutory fixed-date holidays.
pub fn assemble(from: NaiveDate, to: NaiveDate, stored: &[Day], years: &[i32]) -> Calendar {
    let mut cal: Calendar = stored.iter().map(|d| (d.day, d.working)).collect();
    for y in from.year()..=to.year() {
        if !years.contains(&y) {
            for d in statutory_fixed(y) {
                cal.entry(d.day).or_insert(false);
            }
        }
    }
    cal
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    #[test]
    fn the_shipped_arrangements_parse_and_hold_together() {
        let b = builtin();
        let years: Vec<i32> = b.keys().copied().collect();
        assert_eq!(years, (2015..=2026).collect::<Vec<_>>());
        for a in b.values() {
            check_year(a.year, &a.days).unwrap_or_else(|e| panic!("{}: {e}", a.year));
            assert!(a.notice.contains(&a.year.to_string()));
            // every year has 元旦, 春节 and 国庆节 off, and the statutory fixed days are off
            for name in ["元旦", "春节", "国庆节"] {
                assert!(
                    a.days.iter().any(|x| x.name.contains(name) && !x.working),
                    "{} {name}",
                    a.year
                );
            }
            for s in statutory_fixed(a.year) {
                let found = a.days.iter().find(|x| x.day == s.day);
                assert!(found.is_some_and(|x| !x.working), "{} {}", a.year, s.day);
            }
        }
        // Weekdays off minus weekend days worked is the year's statutory holidays: a
        // holiday on a weekend is given back on a weekday (补休), a bridge day is worked on a
        // weekend (调休). 11 days until 2024 (12 in 2015 with the 3 September anniversary,
        // 13 in 2020 with the extended 春节), 13 from 2025.
        for a in b.values() {
            let off = a
                .days
                .iter()
                .filter(|x| !x.working && x.day.weekday().num_days_from_monday() < 5)
                .count() as i64;
            let on = a.days.iter().filter(|x| x.working).count() as i64;
            let want = match a.year {
                2015 => 12,
                2020 => 13,
                y if y >= 2025 => 13,
                _ => 11,
            };
            assert_eq!(
                off - on,
                want,
                "{}: {off} weekdays off, {on} weekend days worked",
                a.year
            );
        }
    }

    #[test]
    fn working_days_follow_the_arrangement() {
        let a = &builtin()[&2026];
        let cal: Calendar = a.days.iter().map(|x| (x.day, x.working)).collect();
        // a 调休 Saturday is a working day, a holiday weekday is not
        assert!(is_working_day(d(2026, 2, 14), &cal));
        assert!(!is_working_day(d(2026, 2, 16), &cal));
        assert!(is_working_day(d(2026, 10, 10), &cal));
        assert!(!is_working_day(d(2026, 10, 5), &cal));
        // working days from Monday 28 September 2026: 28, 29, 30, then the holiday, then
        // Thursday 8, Friday 9, Saturday 10 October (worked) and Monday 12
        assert_eq!(nth_working_day(d(2026, 9, 28), 3, &cal), d(2026, 9, 30));
        assert_eq!(nth_working_day(d(2026, 9, 28), 4, &cal), d(2026, 10, 8));
        assert_eq!(nth_working_day(d(2026, 9, 28), 5, &cal), d(2026, 10, 9));
        assert_eq!(nth_working_day(d(2026, 9, 28), 6, &cal), d(2026, 10, 10));
        assert_eq!(nth_working_day(d(2026, 9, 28), 7, &cal), d(2026, 10, 12));
        // a start on a holiday counts from the next working day
        assert_eq!(nth_working_day(d(2026, 10, 3), 1, &cal), d(2026, 10, 8));
        assert_eq!(add_working_days(d(2026, 9, 30), 1, &cal), d(2026, 10, 8));
        assert_eq!(
            working_days_between(d(2026, 9, 28), d(2026, 10, 12), &cal),
            7
        );
    }

    #[test]
    fn a_year_without_its_arrangement_still_keeps_the_fixed_holidays() {
        // 28 December 2026 + 5 working days: 28, 29, 30, 31, then 1 January 2027 (元旦,
        // fixed by law) is not one, the weekend, Monday 4 January
        let stored = &builtin()[&2026].days;
        let cal = assemble(d(2026, 12, 28), d(2027, 3, 1), stored, &[2026]);
        assert_eq!(nth_working_day(d(2026, 12, 28), 5, &cal), d(2027, 1, 4));
        // with nothing at all known, only weekends
        assert_eq!(
            nth_working_day(d(2026, 12, 28), 5, &Calendar::new()),
            d(2027, 1, 1)
        );
        let fixed = statutory_fixed(2027);
        assert_eq!(fixed.len(), 6);
        assert_eq!(statutory_fixed(2024).len(), 5, "劳动节 one day before 2025");
    }

    #[test]
    fn bad_years_and_lines_are_refused() {
        let day = |y, m, dd, w| Day {
            day: d(y, m, dd),
            working: w,
            name: String::new(),
        };
        assert!(check_year(2027, &[day(2026, 12, 31, false)]).is_ok());
        assert!(check_year(2027, &[day(2026, 11, 30, false)]).is_err());
        assert!(
            check_year(2027, &[day(2027, 1, 4, true)]).is_err(),
            "a Monday cannot be worked instead"
        );
        assert!(check_year(2027, &[day(2027, 1, 1, false), day(2027, 1, 1, false)]).is_err());
        assert_eq!(
            parse_lines("2027-01-01，休，元旦\n\n2027-02-06\t班").map(|v| v.len()),
            Ok(2)
        );
        assert_eq!(parse_lines("2027-01-01,放假").map_err(|e| e.0), Err(1));
        assert!(
            parse("元旦 2026-01-01").is_err(),
            "a holiday before its year"
        );
        assert!(parse("2026 x\n元旦 2026-01-09..2026-01-01").is_err());
    }
}
