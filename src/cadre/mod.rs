//! 干部: the cadre register. A cadre is a person with an employing unit, a position and a
//! rank, managed by an organisation department (干部管理权限) — not a Party member record,
//! though linked to the roster when the person is a member, and to an account when they file
//! for themselves. The register is what the weekly work records (工作记实), and later the first
//! secretaries and the supervision files, hang on.
//!
//! Scope: a cadre belongs to the subtree of the organisation that manages them (`managed_by`,
//! a Party committee); accounts of that subtree with `CadreRead` see them, with `CadreWrite`
//! keep them.

pub mod store;
pub mod web;

/// Ranks (职级), code and label.
pub const RANKS: [(&str, &str); 7] = [
    ("county_chief", "正县级"),
    ("county_deputy", "副县级"),
    ("section_chief", "正科级"),
    ("section_deputy", "副科级"),
    ("section_member", "科员及以下"),
    ("village", "村（社区）干部"),
    ("other", "其他"),
];

/// Categories: which group of cadres a person belongs to (whose records and cadences apply).
pub const CATEGORIES: [(&str, &str); 5] = [
    ("section", "科级干部"),
    ("town_head", "镇街主要负责人"),
    ("dept_head", "部门主要负责人"),
    ("first_secretary", "第一书记"),
    ("other", "其他干部"),
];

pub const STATUSES: [(&str, &str); 2] = [("active", "在职"), ("left", "已离任")];

/// Longest name, unit and position.
pub const MAX_NAME: usize = 30;
pub const MAX_UNIT: usize = 60;
pub const MAX_POSITION: usize = 60;

pub fn label(table: &[(&'static str, &'static str)], code: &str) -> &'static str {
    crate::rules::label(table, code)
}
