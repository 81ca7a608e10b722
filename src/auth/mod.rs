//! Accounts, roles and the one place where every read and write is authorised.
//!
//! An account is bound to one organisation node and acts only inside that subtree. Roles
//! grant permissions; [`Principal::authorize`] checks role and subtree together, for the UI
//! and the API alike. 三员分立: the system, security and audit administrator roles are
//! mutually exclusive, and no account changes its own roles.

pub mod admin;
pub mod password;
pub mod store;
pub mod throttle;
pub mod totp;
pub mod web;

use crate::audit::Actor;
use crate::error::AppError;
use serde::Serialize;

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    serde::Deserialize,
    Hash,
    PartialOrd,
    Ord,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// 系统管理员
    SysAdmin,
    /// 安全管理员
    SecAdmin,
    /// 审计管理员
    AuditAdmin,
    /// 组织部工作人员
    OrgStaff,
    /// 党委工作人员
    CommitteeStaff,
    /// 党支部书记
    BranchSecretary,
    /// 党员
    Member,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::SysAdmin,
        Role::SecAdmin,
        Role::AuditAdmin,
        Role::OrgStaff,
        Role::CommitteeStaff,
        Role::BranchSecretary,
        Role::Member,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Role::SysAdmin => "sys_admin",
            Role::SecAdmin => "sec_admin",
            Role::AuditAdmin => "audit_admin",
            Role::OrgStaff => "org_staff",
            Role::CommitteeStaff => "committee_staff",
            Role::BranchSecretary => "branch_secretary",
            Role::Member => "member",
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Role::SysAdmin => "系统管理员",
            Role::SecAdmin => "安全管理员",
            Role::AuditAdmin => "审计管理员",
            Role::OrgStaff => "组织部工作人员",
            Role::CommitteeStaff => "党委工作人员",
            Role::BranchSecretary => "党支部书记",
            Role::Member => "党员",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s || r.label() == s)
    }
    /// One of the three administrators (三员).
    pub fn is_admin_trio(self) -> bool {
        matches!(self, Role::SysAdmin | Role::SecAdmin | Role::AuditAdmin)
    }

    pub fn perms(self) -> &'static [Perm] {
        use Perm::*;
        match self {
            Role::SysAdmin => &[
                OrgRead,
                OrgWrite,
                AccountRead,
                AccountWrite,
                AccountApprove,
                RuleRead,
                RuleWrite,
                JobsRead,
            ],
            Role::SecAdmin => &[
                OrgRead,
                AccountRead,
                AccountRoles,
                AccountSecurity,
                AccountApprove,
                JobsRead,
            ],
            Role::AuditAdmin => &[AuditRead],
            Role::OrgStaff => &[
                OrgRead,
                OrgWrite,
                MemberRead,
                MemberWrite,
                MemberUnmask,
                MemberExport,
                MemberImport,
                TransferWrite,
                DisciplineRead,
                DisciplineWrite,
                CircularSend,
                CircularReceive,
                RuleRead,
                RuleWrite,
                RecruitRead,
                RecruitWrite,
                RectifyRead,
                RectifyWrite,
                RectifyVerify,
                ReviewRead,
                ReviewManage,
                ReviewReport,
                LoveRead,
                LoveWrite,
                PointsRead,
                PointsWrite,
                StarsManage,
                CadreRead,
                CadreWrite,
                FsDaily,
                MeetingRead,
                MeetingWrite,
            ],
            Role::CommitteeStaff => &[
                OrgRead,
                OrgWrite,
                MemberRead,
                MemberWrite,
                MemberExport,
                MemberImport,
                TransferWrite,
                DisciplineRead,
                DisciplineWrite,
                CircularSend,
                CircularReceive,
                RuleRead,
                RecruitRead,
                RecruitWrite,
                RectifyRead,
                RectifyWrite,
                RectifyVerify,
                ReviewRead,
                ReviewManage,
                ReviewReport,
                LoveRead,
                LoveWrite,
                PointsRead,
                PointsWrite,
                StarsManage,
                CadreRead,
                FsDaily,
                MeetingRead,
                MeetingWrite,
            ],
            Role::BranchSecretary => &[
                OrgRead,
                MemberRead,
                MemberWrite,
                MemberExport,
                TransferWrite,
                DisciplineRead,
                CircularReceive,
                RuleRead,
                RecruitRead,
                RecruitWrite,
                RectifyRead,
                RectifyWrite,
                ReviewRead,
                ReviewReport,
                LoveRead,
                LoveWrite,
                PointsRead,
                PointsWrite,
                MeetingRead,
                MeetingWrite,
            ],
            Role::Member => &[SelfRead, PointsClaim],
        }
    }
}

/// What an action needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Perm {
    OrgRead,
    OrgWrite,
    MemberRead,
    MemberWrite,
    /// See ID numbers and phones in clear (each time audited).
    MemberUnmask,
    MemberExport,
    MemberImport,
    TransferWrite,
    /// See the disciplinary decisions (党纪处分) on members.
    DisciplineRead,
    /// Record and revoke disciplinary decisions (organisation staff).
    DisciplineWrite,
    /// Send notices (通知公告) down the tree and see who has received them.
    CircularSend,
    /// Receive notices addressed to one's organisation and 签收 them.
    CircularReceive,
    AccountRead,
    /// Create accounts (without roles; the system issues the one-time password) and edit
    /// their name, organisation and member link: the system administrator.
    AccountWrite,
    /// Grant and revoke roles: the security administrator.
    AccountRoles,
    /// Reset passwords, unlock, disable and enable accounts: the security administrator.
    AccountSecurity,
    /// Decide another administrator's request that needs a second one (双人复核).
    AccountApprove,
    /// See the scheduler's jobs and their last runs.
    JobsRead,
    AuditRead,
    RuleRead,
    RuleWrite,
    /// A member reading their own record.
    SelfRead,
    /// See the recruitment pipeline (发展党员).
    RecruitRead,
    /// Record steps, evaluations, publicity, documents (each step's signers are checked too).
    RecruitWrite,
    /// See the rectification ledger (整改台账) and interviews (约谈).
    RectifyRead,
    /// Record items, progress and close-out requests, interviews.
    RectifyWrite,
    /// Verify close-outs (销号) and extend deadlines, for the organisations supervised.
    RectifyVerify,
    /// See review campaigns (述职评议) and their published results.
    ReviewRead,
    /// Run a campaign: select reporters, review reports, register raters, critique, decide.
    ReviewManage,
    /// Write the report of one's own organisation.
    ReviewReport,
    /// See a love bank (爱心银行): cards, goods, statements.
    LoveRead,
    /// Issue cards, record services, redeem goods, manage stock.
    LoveWrite,
    /// See points boards, rankings, annual results and star ratings.
    PointsRead,
    /// Award and reverse points, decide claims, close months, confirm the year.
    PointsWrite,
    /// A member claiming points for themselves.
    PointsClaim,
    /// Run star ratings (星级党支部) of the branches under one's committee.
    StarsManage,
    /// See the cadre register (干部) and the weekly work records (工作记实) of the cadres one's
    /// subtree manages (授权查实绩: each view of a record is audited).
    CadreRead,
    /// Keep the register, file a record for a cadre (录入), return a record, see compliance.
    CadreWrite,
    /// The daily management of first secretaries in one's area: approve their leave, record
    /// spot checks (四不两直).
    FsDaily,
    /// See the meetings (组织生活) of one's subtree and their compliance.
    MeetingRead,
    /// Plan, notify, run, minute and file meetings; add addenda.
    MeetingWrite,
}

impl Perm {
    pub fn label(self) -> &'static str {
        match self {
            Perm::OrgRead => "查看党组织",
            Perm::OrgWrite => "维护党组织",
            Perm::MemberRead => "查看党员",
            Perm::MemberWrite => "维护党员",
            Perm::MemberUnmask => "查看完整证件号码",
            Perm::MemberExport => "导出党员",
            Perm::MemberImport => "导入党员",
            Perm::TransferWrite => "办理组织关系转接",
            Perm::DisciplineRead => "查看党纪处分",
            Perm::DisciplineWrite => "登记党纪处分",
            Perm::CircularSend => "发送通知公告",
            Perm::CircularReceive => "签收通知公告",
            Perm::AccountRead => "查看账号",
            Perm::AccountWrite => "维护账号",
            Perm::AccountRoles => "授予角色",
            Perm::AccountSecurity => "账号安全管理",
            Perm::AccountApprove => "复核账号变更",
            Perm::JobsRead => "查看定时任务",
            Perm::AuditRead => "查看审计日志",
            Perm::RuleRead => "查看规则",
            Perm::RuleWrite => "修改规则",
            Perm::SelfRead => "查看本人信息",
            Perm::RecruitRead => "查看发展党员",
            Perm::RecruitWrite => "办理发展党员",
            Perm::RectifyRead => "查看整改台账",
            Perm::RectifyWrite => "办理整改事项",
            Perm::RectifyVerify => "核验销号",
            Perm::ReviewRead => "查看述职评议",
            Perm::ReviewManage => "组织述职评议",
            Perm::ReviewReport => "撰写述职报告",
            Perm::LoveRead => "查看爱心银行",
            Perm::PointsRead => "查看积分",
            Perm::PointsWrite => "积分计分与审核",
            Perm::PointsClaim => "申报本人积分",
            Perm::StarsManage => "星级评定",
            Perm::LoveWrite => "办理爱心银行",
            Perm::CadreRead => "查看干部与工作记实",
            Perm::CadreWrite => "管理干部与工作记实",
            Perm::FsDaily => "第一书记日常管理",
            Perm::MeetingRead => "查看组织生活",
            Perm::MeetingWrite => "组织生活会议记录",
        }
    }
}

/// Rejects role sets that break 三员分立.
pub fn check_role_set(roles: &[Role]) -> Result<(), AppError> {
    let trio = roles.iter().filter(|r| r.is_admin_trio()).count();
    if trio > 1 {
        return Err(AppError::refused(
            "account.admin_roles_exclusive",
            "系统管理员、安全管理员、审计管理员三种角色不能由同一账号兼任",
        ));
    }
    if trio == 1 && roles.len() > 1 {
        return Err(AppError::refused(
            "account.admin_roles_exclusive",
            "三员账号不能同时拥有业务角色",
        ));
    }
    Ok(())
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, Serialize)]
pub struct Principal {
    pub account_id: i64,
    pub username: String,
    pub display_name: String,
    pub org_id: i64,
    pub org_name: String,
    /// Materialised path of the account's organisation: its scope.
    pub org_path: String,
    pub roles: Vec<Role>,
    pub member_id: Option<i64>,
    pub must_change_password: bool,
    pub totp_enabled: bool,
    /// The account's language setting (`auto`, `zh-CN`, `en`).
    pub locale: String,
    /// The language this request is answered in (setting, else the browser's).
    pub lang: crate::i18n::Lang,
    pub ip: String,
    /// CSRF token of the browser session (empty for API tokens).
    pub csrf: String,
    pub via_token: bool,
    /// An API token of the `read` scope: reads only.
    pub read_only: bool,
}

impl Principal {
    pub fn can(&self, perm: Perm) -> bool {
        self.roles.iter().any(|r| r.perms().contains(&perm))
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn in_scope(&self, path: &str) -> bool {
        crate::org::in_subtree(&self.org_path, path)
    }

    /// The single authorisation check: the permission, and the object inside the subtree.
    pub fn authorize(&self, perm: Perm, object_path: Option<&str>) -> Result<(), AppError> {
        if !self.can(perm) {
            return Err(AppError::Forbidden(perm.label().to_string()));
        }
        if let Some(p) = object_path {
            if !self.in_scope(p) {
                return Err(AppError::OutOfScope(perm.label().to_string()));
            }
        }
        Ok(())
    }

    /// Member records: staff by subtree, a member only their own.
    pub fn authorize_member(
        &self,
        perm: Perm,
        member_id: i64,
        branch_path: &str,
    ) -> Result<(), AppError> {
        if perm == Perm::MemberRead && self.member_id == Some(member_id) && self.can(Perm::SelfRead)
        {
            return Ok(());
        }
        self.authorize(perm, Some(branch_path))
    }

    pub fn actor(&self) -> Actor {
        Actor {
            id: Some(self.account_id),
            name: self.username.clone(),
            role: self
                .roles
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(","),
            org_id: Some(self.org_id),
            ip: self.ip.clone(),
        }
    }

    pub fn role_labels(&self) -> String {
        self.roles
            .iter()
            .map(|r| crate::i18n::text(self.lang, r.label()))
            .collect::<Vec<_>>()
            .join(" / ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(roles: Vec<Role>, path: &str) -> Principal {
        Principal {
            account_id: 1,
            username: "u".into(),
            display_name: "u".into(),
            org_id: 2,
            org_name: "x".into(),
            org_path: path.into(),
            roles,
            member_id: Some(9),
            must_change_password: false,
            totp_enabled: false,
            locale: "zh-CN".into(),
            lang: crate::i18n::Lang::ZhCn,
            ip: String::new(),
            csrf: String::new(),
            via_token: false,
            read_only: false,
        }
    }

    #[test]
    fn trio_is_exclusive() {
        assert!(check_role_set(&[Role::SysAdmin]).is_ok());
        assert!(check_role_set(&[Role::OrgStaff, Role::Member]).is_ok());
        assert!(check_role_set(&[Role::SysAdmin, Role::AuditAdmin]).is_err());
        assert!(check_role_set(&[Role::SecAdmin, Role::AuditAdmin]).is_err());
        assert!(check_role_set(&[Role::SysAdmin, Role::OrgStaff]).is_err());
    }

    #[test]
    fn sys_admin_cannot_read_audit_and_auditor_cannot_write() {
        let s = p(vec![Role::SysAdmin], "/1/");
        assert!(s.authorize(Perm::AuditRead, None).is_err());
        let a = p(vec![Role::AuditAdmin], "/1/");
        for perm in [
            Perm::OrgWrite,
            Perm::MemberWrite,
            Perm::AccountWrite,
            Perm::RuleWrite,
            Perm::MemberRead,
        ] {
            assert!(a.authorize(perm, Some("/1/")).is_err(), "{perm:?}");
        }
        assert!(a.authorize(Perm::AuditRead, None).is_ok());
    }

    #[test]
    fn scope_is_the_subtree() {
        let c = p(vec![Role::OrgStaff], "/1/5/");
        assert!(c.authorize(Perm::MemberRead, Some("/1/5/")).is_ok());
        assert!(c.authorize(Perm::MemberRead, Some("/1/5/77/")).is_ok());
        assert!(c.authorize(Perm::MemberRead, Some("/1/55/")).is_err());
        assert!(c.authorize(Perm::MemberRead, Some("/1/")).is_err());
    }

    #[test]
    fn member_sees_only_self() {
        let m = p(vec![Role::Member], "/1/5/");
        assert!(m.authorize_member(Perm::MemberRead, 9, "/1/5/").is_ok());
        assert!(m.authorize_member(Perm::MemberRead, 10, "/1/5/").is_err());
        assert!(m.authorize_member(Perm::MemberWrite, 9, "/1/5/").is_err());
    }

    #[test]
    fn secretary_cannot_unmask_or_import() {
        let s = p(vec![Role::BranchSecretary], "/1/5/9/");
        assert!(s.authorize(Perm::MemberUnmask, Some("/1/5/9/")).is_err());
        assert!(s.authorize(Perm::MemberImport, Some("/1/5/9/")).is_err());
        assert!(s.authorize(Perm::MemberWrite, Some("/1/5/9/")).is_ok());
    }
}
