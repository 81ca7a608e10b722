//! Party organisations (党组织): the tree of committees, general branches, branches and
//! groups, kept as a materialised path (`/1/12/345/`).
//!
//! Why a materialised path and not a closure table: the hot read is "everything under this
//! node" (members of a county, branches of a township), which a path turns into one range
//! scan `path >= P AND path < upper(P)` on a plain B-tree index in both SQLite and PostgreSQL;
//! the tree is shallow (at most ~7 levels) so paths are short; and a move rewrites the
//! subtree's paths in one UPDATE instead of deleting and re-inserting closure rows.

pub mod rules;
pub mod store;
pub mod web;

use serde::Serialize;

/// 党组织类别.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum OrgKind {
    /// 党委
    Committee,
    /// 党工委
    WorkingCommittee,
    /// 党总支
    GeneralBranch,
    /// 党支部
    Branch,
    /// 联合党支部
    JointBranch,
    /// 党小组
    Group,
}

impl OrgKind {
    pub const ALL: [OrgKind; 6] = [
        OrgKind::Committee,
        OrgKind::WorkingCommittee,
        OrgKind::GeneralBranch,
        OrgKind::Branch,
        OrgKind::JointBranch,
        OrgKind::Group,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrgKind::Committee => "committee",
            OrgKind::WorkingCommittee => "working_committee",
            OrgKind::GeneralBranch => "general_branch",
            OrgKind::Branch => "branch",
            OrgKind::JointBranch => "joint_branch",
            OrgKind::Group => "group",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            OrgKind::Committee => "党委",
            OrgKind::WorkingCommittee => "党工委",
            OrgKind::GeneralBranch => "党总支",
            OrgKind::Branch => "党支部",
            OrgKind::JointBranch => "联合党支部",
            OrgKind::Group => "党小组",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s || k.label() == s)
    }

    /// Members are kept on branches (党支部, 联合党支部); groups subdivide a branch.
    pub fn holds_members(self) -> bool {
        matches!(self, OrgKind::Branch | OrgKind::JointBranch)
    }

    /// May an organisation of this kind sit directly under `parent`?
    pub fn may_sit_under(self, parent: Option<OrgKind>) -> bool {
        use OrgKind::*;
        match (self, parent) {
            (Committee | WorkingCommittee, None) => true,
            (_, None) => false,
            (Committee | WorkingCommittee, Some(p)) => matches!(p, Committee | WorkingCommittee),
            (GeneralBranch, Some(p)) => matches!(p, Committee | WorkingCommittee),
            (Branch | JointBranch, Some(p)) => {
                matches!(p, Committee | WorkingCommittee | GeneralBranch)
            }
            (Group, Some(p)) => matches!(p, Branch | JointBranch),
        }
    }
}

/// 所在层级或单位类型.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Hash)]
#[serde(rename_all = "snake_case")]
pub enum OrgLevel {
    /// 市
    City,
    /// 县(市、区)
    County,
    /// 乡镇(街道)
    Township,
    /// 村
    Village,
    /// 社区
    Community,
    /// 机关
    Agency,
    /// 事业单位
    Institution,
    /// 国有企业
    Soe,
    /// "两新"组织
    TwoNew,
}

impl OrgLevel {
    pub const ALL: [OrgLevel; 9] = [
        OrgLevel::City,
        OrgLevel::County,
        OrgLevel::Township,
        OrgLevel::Village,
        OrgLevel::Community,
        OrgLevel::Agency,
        OrgLevel::Institution,
        OrgLevel::Soe,
        OrgLevel::TwoNew,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrgLevel::City => "city",
            OrgLevel::County => "county",
            OrgLevel::Township => "township",
            OrgLevel::Village => "village",
            OrgLevel::Community => "community",
            OrgLevel::Agency => "agency",
            OrgLevel::Institution => "institution",
            OrgLevel::Soe => "soe",
            OrgLevel::TwoNew => "two_new",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            OrgLevel::City => "市",
            OrgLevel::County => "县(市、区)",
            OrgLevel::Township => "乡镇(街道)",
            OrgLevel::Village => "村",
            OrgLevel::Community => "社区",
            OrgLevel::Agency => "机关",
            OrgLevel::Institution => "事业单位",
            OrgLevel::Soe => "国有企业",
            OrgLevel::TwoNew => "“两新”组织",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s || k.label() == s)
    }

    /// Village and community branches serve five-year terms.
    pub fn is_grassroots(self) -> bool {
        matches!(self, OrgLevel::Village | OrgLevel::Community)
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Org {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub path: String,
    pub depth: i64,
    pub name: String,
    pub kind: OrgKind,
    pub level: OrgLevel,
    pub region_code: Option<String>,
    pub established_on: Option<chrono::NaiveDate>,
    pub term_start: Option<chrono::NaiveDate>,
    /// 延期换届: the months the level above approved for the current term.
    pub term_extended_months: i64,
    pub has_committee: bool,
    pub committee_size: i64,
    pub sort: i64,
    pub version: i64,
}

impl Org {
    pub fn kind_label(&self) -> &'static str {
        self.kind.label()
    }
    pub fn level_label(&self) -> &'static str {
        self.level.label()
    }
}

/// The organisation ids on a path, root first: `/1/12/345/` → `[1, 12, 345]`.
pub fn path_ids(path: &str) -> Vec<i64> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// Is `path` inside the subtree rooted at `scope` (inclusive)?
pub fn in_subtree(scope: &str, path: &str) -> bool {
    path.starts_with(scope)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hierarchy_rules() {
        use OrgKind::*;
        let table = [
            (Committee, None, true),
            (Branch, None, false),
            (Committee, Some(Committee), true),
            (Committee, Some(Branch), false),
            (GeneralBranch, Some(Committee), true),
            (GeneralBranch, Some(GeneralBranch), false),
            (Branch, Some(GeneralBranch), true),
            (JointBranch, Some(WorkingCommittee), true),
            (Branch, Some(Branch), false),
            (Group, Some(Branch), true),
            (Group, Some(JointBranch), true),
            (Group, Some(Committee), false),
            (Branch, Some(Group), false),
        ];
        for (k, p, ok) in table {
            assert_eq!(k.may_sit_under(p), ok, "{k:?} under {p:?}");
        }
    }

    #[test]
    fn parse_labels_and_codes() {
        for k in OrgKind::ALL {
            assert_eq!(OrgKind::parse(k.as_str()), Some(k));
            assert_eq!(OrgKind::parse(k.label()), Some(k));
        }
        for l in OrgLevel::ALL {
            assert_eq!(OrgLevel::parse(l.as_str()), Some(l));
            assert_eq!(OrgLevel::parse(l.label()), Some(l));
        }
        assert_eq!(OrgKind::parse("x"), None);
    }

    #[test]
    fn paths() {
        assert_eq!(path_ids("/1/12/345/"), vec![1, 12, 345]);
        assert!(in_subtree("/1/12/", "/1/12/345/"));
        assert!(in_subtree("/1/12/", "/1/12/"));
        assert!(!in_subtree("/1/12/", "/1/120/"));
        assert!(!in_subtree("/1/12/", "/1/"));
    }
}
