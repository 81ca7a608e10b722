//! Party members (党员): the roster, its rules, search and organisation-relationship transfer.

pub mod discipline;
pub mod idcard;
pub mod io;
pub mod pinyin;
pub mod region;
pub mod rules;
pub mod store;
pub mod transfer;
pub mod web;

use serde::Serialize;

/// 党员状态.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// 正式党员
    Full,
    /// 预备党员
    Probationary,
    /// 已出党 (开除党籍): kept for the record, off the roll — no list, count or board holds
    /// such a member unless asked for by this status.
    Left,
}

impl Status {
    pub const ALL: [Status; 3] = [Status::Full, Status::Probationary, Status::Left];
    /// The statuses of the roll (a member may be entered or edited with).
    pub const ON_ROLL: [Status; 2] = [Status::Full, Status::Probationary];
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Full => "full",
            Status::Probationary => "probationary",
            Status::Left => "left",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Status::Full => "正式党员",
            Status::Probationary => "预备党员",
            Status::Left => "已出党",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s || k.label() == s)
    }
}

/// 网格角色 (grid management).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum GridRole {
    /// 党员中心户
    CenterHousehold,
    /// 居民党员
    Resident,
    /// 流动党员
    Mobile,
}

impl GridRole {
    pub const ALL: [GridRole; 3] = [
        GridRole::CenterHousehold,
        GridRole::Resident,
        GridRole::Mobile,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            GridRole::CenterHousehold => "center_household",
            GridRole::Resident => "resident",
            GridRole::Mobile => "mobile",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            GridRole::CenterHousehold => "党员中心户",
            GridRole::Resident => "居民党员",
            GridRole::Mobile => "流动党员",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s || k.label() == s)
    }
}

/// 学历, highest first.
pub const EDUCATION: [&str; 6] = [
    "研究生",
    "大学本科",
    "大学专科",
    "中专",
    "高中",
    "初中及以下",
];

/// Age bands for filters: (code, label, min age, max age inclusive).
pub const AGE_BANDS: [(&str, &str, i64, i64); 5] = [
    ("le35", "35岁及以下", 0, 35),
    ("36_45", "36至45岁", 36, 45),
    ("46_55", "46至55岁", 46, 55),
    ("56_60", "56至60岁", 56, 60),
    ("gt60", "60岁以上", 61, 200),
];

pub fn gender_label(g: &str) -> &'static str {
    match g {
        "M" => "男",
        "F" => "女",
        _ => "未知",
    }
}

/// One member as stored; personal numbers only as masked text.
#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Member {
    pub id: i64,
    pub org_id: i64,
    pub org_name: String,
    pub group_id: Option<i64>,
    pub name: String,
    /// M or F
    pub gender: String,
    pub ethnicity: String,
    /// Year and month of birth (`YYYY-MM`): what statistics need; the day is only in the
    /// encrypted ID number (see ARCHITECTURE.md, personal data).
    #[serde(serialize_with = "ser_month")]
    #[schema(value_type = String, example = "1990-05")]
    pub birth_month: chrono::NaiveDate,
    /// Masked unless the caller asked to unmask and may.
    pub id_number: String,
    pub phone: Option<String>,
    pub education: String,
    pub work_unit: String,
    pub region_code: String,
    pub join_date: chrono::NaiveDate,
    pub full_date: Option<chrono::NaiveDate>,
    /// full or probationary
    pub status: String,
    pub grid_role: Option<String>,
    pub mobile_destination: Option<String>,
    pub version: i64,
}

/// A month kept as its first day, written `YYYY-MM`.
pub fn ser_month<S: serde::Serializer>(d: &chrono::NaiveDate, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&d.format("%Y-%m").to_string())
}

/// The first day of `d`'s month.
pub fn month_of(d: chrono::NaiveDate) -> chrono::NaiveDate {
    use chrono::Datelike;
    d.with_day(1).unwrap_or(d)
}

/// Whole years from a birth month to `on`'s month (the birth month counts as the birthday):
/// the age statistics and lists show, without the day of birth.
pub fn age_in_months(birth_month: chrono::NaiveDate, on: chrono::NaiveDate) -> i64 {
    use chrono::Datelike;
    let mut a = (on.year() - birth_month.year()) as i64;
    if on.month() < birth_month.month() {
        a -= 1;
    }
    a
}

impl Member {
    pub fn status_label(&self) -> &'static str {
        Status::parse(&self.status).map(|s| s.label()).unwrap_or("")
    }
    pub fn gender_label(&self) -> &'static str {
        gender_label(&self.gender)
    }
    pub fn grid_role_label(&self) -> &'static str {
        self.grid_role
            .as_deref()
            .and_then(GridRole::parse)
            .map(|g| g.label())
            .unwrap_or("")
    }
}
