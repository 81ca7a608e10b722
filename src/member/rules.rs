//! Rules a member record must obey, as pure functions over the input.

use super::{idcard, GridRole, Status, EDUCATION};
use crate::error::Checks;
use crate::rules::MemberRules;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

/// What a user enters for a member (form, API, import row).
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
pub struct MemberInput {
    pub org_id: i64,
    pub group_id: Option<i64>,
    pub name: String,
    /// M/F or 男/女; must agree with the ID number.
    pub gender: Option<String>,
    pub ethnicity: String,
    /// Must agree with the ID number when given.
    pub birth_date: Option<NaiveDate>,
    /// Required on create; on edit, empty keeps the stored number.
    pub id_number: Option<String>,
    /// On edit, empty keeps the stored number.
    pub phone: Option<String>,
    pub education: String,
    pub work_unit: String,
    /// Defaults to the first six digits of the ID number.
    pub region_code: Option<String>,
    pub join_date: NaiveDate,
    pub full_date: Option<NaiveDate>,
    /// full / probationary, or 正式党员 / 预备党员
    pub status: String,
    pub grid_role: Option<String>,
    pub mobile_destination: Option<String>,
    /// Optimistic lock on edit.
    pub version: Option<i64>,
}

/// The normalised record after the checks passed.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedMember {
    pub name: String,
    pub gender: &'static str,
    pub ethnicity: String,
    pub birth_date: Option<NaiveDate>,
    pub id_number: Option<String>,
    pub phone: Option<String>,
    pub education: String,
    pub work_unit: String,
    pub region_code: Option<String>,
    pub join_date: NaiveDate,
    pub full_date: Option<NaiveDate>,
    pub status: Status,
    pub grid_role: Option<GridRole>,
    pub mobile_destination: Option<String>,
}

/// The anniversary `years` after `d` (29 Feb → 28 Feb).
pub fn add_years(d: NaiveDate, years: i64) -> NaiveDate {
    let y = d.year() + years as i32;
    NaiveDate::from_ymd_opt(y, d.month(), d.day())
        .or_else(|| NaiveDate::from_ymd_opt(y, d.month(), 28))
        .unwrap_or(d)
}

/// Whole years from `birth` to `on`.
pub fn age_on(birth: NaiveDate, on: NaiveDate) -> i64 {
    let mut a = (on.year() - birth.year()) as i64;
    if (on.month(), on.day()) < (birth.month(), birth.day()) {
        a -= 1;
    }
    a
}

pub fn valid_phone(p: &str) -> bool {
    p.len() == 11 && p.starts_with('1') && p.bytes().all(|b| b.is_ascii_digit())
}

/// Checks a member record. `stored_birth` is the birth date on file when the ID number is
/// not re-entered on edit.
pub fn check(
    input: &MemberInput,
    rules: &MemberRules,
    today: NaiveDate,
    stored: Option<(NaiveDate, &str)>,
) -> Result<CheckedMember, Checks> {
    let mut c = Checks::default();
    let name = input.name.trim().to_string();
    let n = name.chars().count();
    c.check(n > 0, "name", "请填写姓名");
    c.check(n <= 30, "name", "姓名不能超过30个字");

    let id_number = input
        .id_number
        .as_deref()
        .map(|s| s.trim().to_ascii_uppercase())
        .filter(|s| !s.is_empty());
    let mut birth = stored.map(|s| s.0);
    let mut gender: Option<&'static str> = stored.map(|s| if s.1 == "F" { "F" } else { "M" });
    let mut region = None;
    match &id_number {
        Some(id) => match idcard::parse(id) {
            Ok(info) => {
                birth = Some(info.birth_date);
                gender = Some(if info.male { "M" } else { "F" });
                region = Some(info.region_code);
            }
            Err(m) => c.add("id_number", m),
        },
        None if stored.is_none() => c.add("id_number", "请填写身份证号码"),
        None => {}
    }
    if let (Some(given), Some(b)) = (input.birth_date, birth) {
        c.check(given == b, "birth_date", "出生日期与身份证号码不一致");
    }
    if let Some(g) = input.gender.as_deref().filter(|s| !s.is_empty()) {
        let g = match g {
            "M" | "男" => Some("M"),
            "F" | "女" => Some("F"),
            _ => None,
        };
        match (g, gender) {
            (None, _) => c.add("gender", "性别应为男或女"),
            (Some(g), Some(from_id)) if g != from_id => c.add("gender", "性别与身份证号码不一致"),
            _ => {}
        }
    }
    let eth = input.ethnicity.trim().to_string();
    c.check(
        eth.ends_with('族') && (2..=10).contains(&eth.chars().count()),
        "ethnicity",
        "民族应填写如“汉族”",
    );
    let phone = input
        .phone
        .as_deref()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    if let Some(p) = &phone {
        c.check(valid_phone(p), "phone", "手机号码应为以1开头的11位数字");
    }
    c.check(
        EDUCATION.contains(&input.education.trim()),
        "education",
        "学历应为：研究生、大学本科、大学专科、中专、高中、初中及以下",
    );
    c.check(
        input.work_unit.trim().chars().count() <= 100,
        "work_unit",
        "工作单位不能超过100个字",
    );
    let region_code = input
        .region_code
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .or(region);
    if let Some(r) = &region_code {
        c.check(
            r.len() == 6 && r.bytes().all(|b| b.is_ascii_digit()),
            "region_code",
            "行政区划代码应为6位数字",
        );
    }
    // 已出党 is reached only by a recorded 开除党籍 (member::discipline), never by an edit.
    let status = Status::parse(input.status.trim()).filter(|s| Status::ON_ROLL.contains(s));
    if status.is_none() {
        c.add("status", "党员状态应为正式党员或预备党员");
    }
    let join = input.join_date;
    c.check(join <= today, "join_date", "入党日期不能晚于今天");
    if let Some(b) = birth {
        c.check(
            age_on(b, join) >= rules.min_join_age,
            "join_date",
            &format!("入党时应年满{}周岁", rules.min_join_age),
        );
    }
    let probation_end = add_years(join, rules.probation_years);
    let latest_end = add_years(
        join,
        rules.probation_years + rules.max_probation_extension_years,
    );
    match status {
        Some(Status::Full) => match input.full_date {
            None => c.add("full_date", "正式党员须填写转正日期"),
            Some(f) => {
                c.check(
                    f >= probation_end,
                    "full_date",
                    &format!(
                        "转正日期不能早于入党满{}年（{probation_end}）",
                        rules.probation_years
                    ),
                );
                c.check(
                    f <= latest_end,
                    "full_date",
                    &format!("预备期最长至{latest_end}，转正日期不能更晚"),
                );
                c.check(f <= today, "full_date", "转正日期不能晚于今天");
            }
        },
        Some(Status::Probationary) => {
            c.check(
                input.full_date.is_none(),
                "full_date",
                "预备党员不应有转正日期",
            );
            c.check(
                today < latest_end,
                "status",
                &format!("预备期已满（入党于{join}），应办理转正或按规定处理"),
            );
        }
        Some(Status::Left) | None => {}
    }
    let grid_role = match input.grid_role.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(g) => match GridRole::parse(g) {
            Some(r) => Some(r),
            None => {
                c.add("grid_role", "网格角色应为党员中心户、居民党员或流动党员");
                None
            }
        },
    };
    let dest = input
        .mobile_destination
        .as_deref()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    if grid_role == Some(GridRole::Mobile) {
        c.check(dest.is_some(), "mobile_destination", "流动党员须填写流入地");
    }
    if !c.0.is_empty() {
        return Err(c);
    }
    Ok(CheckedMember {
        name,
        gender: gender.unwrap_or("M"),
        ethnicity: eth,
        birth_date: birth,
        id_number,
        phone,
        education: input.education.trim().to_string(),
        work_unit: input.work_unit.trim().to_string(),
        region_code,
        join_date: join,
        full_date: input.full_date,
        status: status.unwrap_or(Status::Full),
        grid_role,
        mobile_destination: if grid_role == Some(GridRole::Mobile) {
            dest
        } else {
            None
        },
    })
}

/// What every form about a person checks first: a name of at most 30 characters, a valid ID
/// number, and a phone number if one is given. Returns the normalised ID number, what it says
/// (when valid) and the trimmed phone.
pub fn check_person(
    c: &mut Checks,
    name: &str,
    id_number: &str,
    phone: &str,
) -> (String, Option<idcard::IdInfo>, String) {
    let name = name.trim();
    c.check(
        !name.is_empty() && name.chars().count() <= 30,
        "name",
        "请填写姓名（30字以内）",
    );
    let id_number = id_number.trim().to_ascii_uppercase();
    let info = match idcard::parse(&id_number) {
        Ok(i) => Some(i),
        Err(m) => {
            c.add("id_number", m);
            None
        }
    };
    let phone = phone.trim().to_string();
    c.check(
        phone.is_empty() || valid_phone(&phone),
        "phone",
        "手机号码应为11位数字",
    );
    (id_number, info, phone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_person_has_a_name_a_valid_id_and_maybe_a_phone() {
        let good = idcard::compose(
            "370811",
            NaiveDate::from_ymd_opt(1990, 1, 1).expect("d"),
            12,
            true,
        );
        let mut c = Checks::default();
        let (id, info, phone) =
            check_person(&mut c, " 张三 ", &good.to_lowercase(), " 13800000000 ");
        assert!(c.0.is_empty(), "{:?}", c.0);
        assert_eq!((id, phone.as_str()), (good.clone(), "13800000000"));
        assert!(info.is_some_and(|i| i.male));
        let mut c = Checks::default();
        let (_, info, _) = check_person(&mut c, "", &good[..17], "1380000000");
        let fields: Vec<&str> = c.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["name", "id_number", "phone"]);
        assert!(info.is_none());
        let mut c = Checks::default();
        check_person(&mut c, &"名".repeat(31), &good, "");
        assert_eq!(c.0.len(), 1, "no phone is fine, a 31-character name is not");
    }

    fn d(y: i32, m: u32, dd: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, dd).expect("date")
    }

    fn base() -> MemberInput {
        MemberInput {
            org_id: 1,
            name: "张三".into(),
            ethnicity: "汉族".into(),
            id_number: Some(idcard::compose("370811", d(1990, 5, 1), 11, true)),
            phone: Some("13812345678".into()),
            education: "大学本科".into(),
            work_unit: "某村".into(),
            join_date: d(2015, 7, 1),
            full_date: Some(d(2016, 7, 1)),
            status: "full".into(),
            ..Default::default()
        }
    }

    fn fields(r: Result<CheckedMember, Checks>) -> Vec<String> {
        match r {
            Ok(_) => vec![],
            Err(c) => c.0.into_iter().map(|f| f.field).collect(),
        }
    }

    const TODAY: (i32, u32, u32) = (2026, 11, 23);

    fn run(i: &MemberInput) -> Vec<String> {
        fields(check(
            i,
            &MemberRules::default(),
            d(TODAY.0, TODAY.1, TODAY.2),
            None,
        ))
    }

    #[test]
    fn valid_record_passes_and_derives() {
        let ok = check(&base(), &MemberRules::default(), d(2026, 11, 23), None).expect("ok");
        assert_eq!(ok.gender, "M");
        assert_eq!(ok.birth_date, Some(d(1990, 5, 1)));
        assert_eq!(ok.region_code.as_deref(), Some("370811"));
    }

    #[test]
    fn join_age_edges() {
        // Born 1990-05-01: turns 18 on 2008-05-01.
        for (join, ok) in [
            (d(2008, 4, 30), false),
            (d(2008, 5, 1), true),
            (d(2008, 5, 2), true),
        ] {
            let i = MemberInput {
                join_date: join,
                full_date: Some(add_years(join, 1)),
                ..base()
            };
            assert_eq!(!run(&i).contains(&"join_date".to_string()), ok, "{join}");
        }
    }

    #[test]
    fn full_date_edges() {
        let join = d(2015, 7, 1);
        for (full, ok) in [
            (d(2016, 6, 30), false),
            (d(2016, 7, 1), true),
            (d(2017, 7, 1), true),
            (d(2017, 7, 2), false),
        ] {
            let i = MemberInput {
                join_date: join,
                full_date: Some(full),
                ..base()
            };
            assert_eq!(run(&i).is_empty(), ok, "{full}");
        }
        let i = MemberInput {
            full_date: None,
            ..base()
        };
        assert_eq!(run(&i), vec!["full_date"]);
    }

    #[test]
    fn probationary_window_edges() {
        // Probation 1 year + at most 1 year extension: probationary only while today < join + 2y.
        for (join, ok) in [
            (d(2024, 11, 23), false),
            (d(2024, 11, 24), true),
            (d(2025, 11, 23), true),
        ] {
            let i = MemberInput {
                join_date: join,
                full_date: None,
                status: "预备党员".into(),
                ..base()
            };
            assert_eq!(run(&i).is_empty(), ok, "{join}");
        }
    }

    #[test]
    fn identity_agreement() {
        let i = MemberInput {
            gender: Some("女".into()),
            ..base()
        };
        assert_eq!(run(&i), vec!["gender"]);
        let i = MemberInput {
            birth_date: Some(d(1990, 5, 2)),
            ..base()
        };
        assert_eq!(run(&i), vec!["birth_date"]);
        let i = MemberInput {
            id_number: Some("370811199005010110".into()),
            ..base()
        };
        assert!(run(&i).contains(&"id_number".to_string()));
        let i = MemberInput {
            id_number: None,
            ..base()
        };
        assert_eq!(run(&i), vec!["id_number"]);
    }

    #[test]
    fn other_fields() {
        let table: Vec<(MemberInput, &str)> = vec![
            (
                MemberInput {
                    name: " ".into(),
                    ..base()
                },
                "name",
            ),
            (
                MemberInput {
                    ethnicity: "汉".into(),
                    ..base()
                },
                "ethnicity",
            ),
            (
                MemberInput {
                    phone: Some("2381234567".into()),
                    ..base()
                },
                "phone",
            ),
            (
                MemberInput {
                    education: "博士后".into(),
                    ..base()
                },
                "education",
            ),
            (
                MemberInput {
                    status: "x".into(),
                    ..base()
                },
                "status",
            ),
            (
                MemberInput {
                    grid_role: Some("流动党员".into()),
                    ..base()
                },
                "mobile_destination",
            ),
            (
                MemberInput {
                    grid_role: Some("x".into()),
                    ..base()
                },
                "grid_role",
            ),
            (
                MemberInput {
                    join_date: d(2027, 1, 1),
                    full_date: None,
                    status: "probationary".into(),
                    ..base()
                },
                "join_date",
            ),
        ];
        for (i, field) in table {
            assert!(
                run(&i).contains(&field.to_string()),
                "{field}: {:?}",
                run(&i)
            );
        }
    }

    #[test]
    fn edit_without_reentering_id_uses_stored_birth() {
        let i = MemberInput {
            id_number: None,
            ..base()
        };
        let r = check(
            &i,
            &MemberRules::default(),
            d(2026, 11, 23),
            Some((d(1990, 5, 1), "M")),
        );
        assert!(r.is_ok());
    }

    #[test]
    fn ages() {
        assert_eq!(age_on(d(2000, 2, 29), d(2018, 2, 28)), 17);
        assert_eq!(age_on(d(2000, 2, 29), d(2018, 3, 1)), 18);
        assert_eq!(add_years(d(2000, 2, 29), 1), d(2001, 2, 28));
    }
}
