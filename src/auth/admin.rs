//! 三员分立 with two-person approval (双人复核): who may change an account, and which
//! changes wait for a second administrator.
//!
//! - The system administrator creates accounts without roles; the system issues their
//!   one-time passwords (see [`super::store::create_by`]).
//! - The security administrator grants and revokes roles, resets passwords (again a
//!   system-issued one-time password the holder must replace), unlocks, disables and enables.
//! - A change waits for a second administrator (a system or security administrator other
//!   than the one who asked) when it grants a role that reads Party data or any
//!   administrator role, touches an administrator's account, or resets the password of an
//!   account holding a role that reads Party data ([`needs_approval`]).
//! - Nobody changes their own account here; an audit administrator's account is changed by
//!   neither (it is recovered on the server: `dangjian account reset`); an administrator who
//!   holds an account's one-time password (issued it, not yet replaced) neither asks for nor
//!   approves anything for that account.
//! - A reset's one-time password is shown once, to the administrator who completed it (the
//!   approver when approval was needed); every step is an audit event the auditor sees.

use super::store::{self, Account};
use super::{Perm, Principal, Role};
use crate::audit::{self, NewEntry};
use crate::db::{DbResult, DbRow};
use crate::error::{AppError, AppResult};
use crate::{on_db, on_tx, Ctx};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A change to an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    Roles { roles: Vec<Role> },
    Reset,
    Unlock,
    Disable,
    Enable,
}

impl Change {
    pub fn kind(&self) -> &'static str {
        match self {
            Change::Roles { .. } => "roles",
            Change::Reset => "reset",
            Change::Unlock => "unlock",
            Change::Disable => "disable",
            Change::Enable => "enable",
        }
    }

    /// Who asks for it: roles by `AccountRoles`, the rest by `AccountSecurity`.
    pub fn perm(&self) -> Perm {
        match self {
            Change::Roles { .. } => Perm::AccountRoles,
            _ => Perm::AccountSecurity,
        }
    }
}

/// The kinds of change and what they are called (message ids).
pub const KINDS: [(&str, &str); 5] = [
    ("roles", "变更角色"),
    ("reset", "重置密码"),
    ("unlock", "解锁"),
    ("disable", "停用"),
    ("enable", "启用"),
];

/// A role whose holder reads Party members' data.
pub fn reads_data(r: Role) -> bool {
    matches!(
        r,
        Role::OrgStaff | Role::CommitteeStaff | Role::BranchSecretary
    )
}

/// Whether `change` to an account holding `current` roles waits for a second administrator.
pub fn needs_approval(change: &Change, current: &[Role]) -> bool {
    let admin = current.iter().any(|r| r.is_admin_trio());
    match change {
        Change::Roles { roles } => {
            admin
                || roles
                    .iter()
                    .any(|r| r.is_admin_trio() || (reads_data(*r) && !current.contains(r)))
        }
        Change::Reset => admin || current.iter().any(|r| reads_data(*r)),
        Change::Unlock | Change::Disable | Change::Enable => admin,
    }
}

/// Refuses a party that may not take part in a change of `target`: its own account, an audit
/// administrator's, or one whose one-time password it holds.
pub fn check_party(admin: i64, target: &Account) -> AppResult<()> {
    if admin == target.id {
        return Err(AppError::refused(
            "account.self_change",
            "不能更改自己的账号（密码请通过“修改密码”更改）",
        ));
    }
    if target.role_list().contains(&Role::AuditAdmin) {
        return Err(AppError::refused(
            "account.auditor_protected",
            "审计管理员账号不能由系统管理员或安全管理员更改；如需找回，由服务器运维人员执行 dangjian account reset",
        ));
    }
    if target.controlled_by(admin) {
        return Err(AppError::refused(
            "account.controlled",
            "您持有该账号尚未更换的初始密码，不能为其申请或复核变更；待本人首次登录改密后再办理，或由其他管理员办理",
        ));
    }
    Ok(())
}

/// A change waiting for (or decided by) a second administrator.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Request {
    pub id: i64,
    /// roles, reset, unlock, disable, enable
    pub kind: String,
    pub target_id: i64,
    pub target_username: String,
    pub target_name: String,
    /// The roles asked for (a roles change).
    pub roles: Vec<String>,
    pub requested_by: i64,
    pub requested_by_name: String,
    pub requested_at: DateTime<Utc>,
    /// pending, approved, rejected, cancelled
    pub status: String,
    pub decided_by_name: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub note: String,
}

/// What a change came to.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = AccountChangeOutcome)]
pub struct Outcome {
    /// Applied now (`true`), or waiting for a second administrator (`false`, see `request`).
    pub applied: bool,
    pub account: Account,
    pub request: Option<Request>,
    /// A reset's one-time password, shown this once to the administrator who completed it.
    pub one_time_password: Option<String>,
}

const REQUEST_SELECT: &str = "SELECT r.id, r.kind, r.target_id, t.username AS target_username, t.display_name AS target_name, r.payload, r.requested_by, q.display_name AS requested_by_name, r.requested_at, r.status, d.display_name AS decided_by_name, r.decided_at, r.note \
     FROM account_requests r JOIN accounts t ON t.id = r.target_id JOIN accounts q ON q.id = r.requested_by LEFT JOIN accounts d ON d.id = r.decided_by";

fn request_row(r: &impl DbRow) -> DbResult<Request> {
    let payload: Change = serde_json::from_str(&r.string("payload")?)
        .map_err(|e| crate::db::DbError::Corrupt(format!("account request payload: {e}")))?;
    Ok(Request {
        id: r.i64("id")?,
        kind: r.string("kind")?,
        target_id: r.i64("target_id")?,
        target_username: r.string("target_username")?,
        target_name: r.string("target_name")?,
        roles: match payload {
            Change::Roles { roles } => roles.iter().map(|r| r.as_str().to_string()).collect(),
            _ => Vec::new(),
        },
        requested_by: r.i64("requested_by")?,
        requested_by_name: r.string("requested_by_name")?,
        requested_at: r.ts("requested_at")?,
        status: r.string("status")?,
        decided_by_name: r.opt_string("decided_by_name")?,
        decided_at: r.opt_ts("decided_at")?,
        note: r.string("note")?,
    })
}

pub async fn get_request(ctx: &Ctx, id: i64) -> AppResult<Request> {
    let sql = format!("{REQUEST_SELECT} WHERE r.id = $1");
    let r = on_db!(&ctx.db, p => {
        match sqlx::query(&sql).bind(id).fetch_optional(p).await? {
            Some(r) => Some(request_row(&r)?),
            None => None,
        }
    });
    r.ok_or(AppError::NotFound("账号变更申请"))
}

/// The requests on accounts of the subtree at `scope`, pending first, then the latest decided.
pub async fn requests(ctx: &Ctx, scope: &str) -> AppResult<Vec<Request>> {
    let sql = format!(
        "{REQUEST_SELECT} JOIN orgs o ON o.id = t.org_id WHERE o.path >= $1 AND o.path < $2 \
         ORDER BY CASE WHEN r.status = 'pending' THEN 0 ELSE 1 END, r.id DESC LIMIT 200"
    );
    Ok(on_db!(&ctx.db, p => {
        let rows = sqlx::query(&sql).bind(scope).bind(crate::db::path_upper(scope)).fetch_all(p).await?;
        rows.iter().map(request_row).collect::<DbResult<Vec<_>>>()?
    }))
}

async fn target(ctx: &Ctx, p: &Principal, id: i64, perm: Perm) -> AppResult<Account> {
    let acc = store::get(ctx, id).await?;
    crate::web::authorize(ctx, p, perm, Some(&acc.org_path)).await?;
    Ok(acc)
}

/// Applies `change` to `acc` inside `tx`; a reset's password (for `receiver`) is returned.
async fn apply(
    ctx: &Ctx,
    tx: &mut crate::db::Tx,
    actor: &audit::Actor,
    acc: &Account,
    change: &Change,
    receiver: i64,
) -> AppResult<Option<String>> {
    match change {
        Change::Roles { roles } => store::set_roles_in(tx, actor, acc, roles).await?,
        Change::Reset => return Ok(Some(store::reset_in(ctx, tx, actor, acc, receiver).await?)),
        Change::Unlock => store::unlock_in(tx, actor, acc).await?,
        Change::Disable => store::disable_in(tx, actor, acc, true).await?,
        Change::Enable => store::disable_in(tx, actor, acc, false).await?,
    }
    Ok(None)
}

/// An administrator changes an account: applied at once, or recorded as a request for a
/// second administrator (see the module).
pub async fn change(ctx: &Ctx, p: &Principal, id: i64, change: Change) -> AppResult<Outcome> {
    let acc = target(ctx, p, id, change.perm()).await?;
    check_party(p.account_id, &acc)?;
    if let Change::Roles { roles } = &change {
        super::check_role_set(roles)?;
    }
    if !needs_approval(&change, &acc.role_list()) {
        let mut tx = ctx.db.begin().await?;
        let otp = apply(ctx, &mut tx, &p.actor(), &acc, &change, p.account_id).await?;
        tx.commit().await?;
        return Ok(Outcome {
            applied: true,
            account: store::get(ctx, id).await?,
            request: None,
            one_time_password: otp,
        });
    }
    let payload = serde_json::to_string(&change).map_err(|e| AppError::Internal(e.to_string()))?;
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let open = on_tx!(&mut tx, c => {
        sqlx::query("SELECT id FROM account_requests WHERE target_id = $1 AND kind = $2 AND status = 'pending'")
            .bind(id).bind(change.kind()).fetch_optional(&mut *c).await?.is_some()
    });
    if open {
        return Err(AppError::Conflict("该账号已有同类变更在等待复核".into()));
    }
    let rid = on_tx!(&mut tx, c => {
        sqlx::query("INSERT INTO account_requests (kind, target_id, payload, requested_by, requested_at) VALUES ($1, $2, $3, $4, $5) RETURNING id")
            .bind(change.kind()).bind(id).bind(&payload).bind(p.account_id).bind(now).fetch_one(&mut *c).await?.i64("id")?
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "account.request",
            object_type: "account",
            object_id: id.to_string(),
            before: serde_json::json!({"roles": acc.roles}),
            after: serde_json::json!({"request": rid, "change": change}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Outcome {
        applied: false,
        account: acc,
        request: Some(get_request(ctx, rid).await?),
        one_time_password: None,
    })
}

/// A second administrator approves or rejects a request; an approval applies it in the same
/// transaction (a reset's one-time password is for the approver, shown once).
pub async fn decide(
    ctx: &Ctx,
    p: &Principal,
    request_id: i64,
    approve: bool,
    note: &str,
) -> AppResult<Outcome> {
    let req = get_request(ctx, request_id).await?;
    let acc = target(ctx, p, req.target_id, Perm::AccountApprove).await?;
    if req.status != "pending" {
        return Err(AppError::Conflict("该申请已处理".into()));
    }
    if req.requested_by == p.account_id {
        return Err(AppError::refused(
            "account.own_request",
            "不能复核自己提出的申请，须由另一名管理员复核",
        ));
    }
    check_party(p.account_id, &acc)?;
    let note: String = note.trim().chars().take(200).collect();
    if !approve && note.is_empty() {
        return Err(AppError::field("note", "驳回须写明理由"));
    }
    let change: Change = {
        let sql = "SELECT payload FROM account_requests WHERE id = $1";
        let text = on_db!(&ctx.db, pool => sqlx::query(sql).bind(request_id).fetch_one(pool).await?.string("payload")?);
        serde_json::from_str(&text).map_err(|e| AppError::Internal(e.to_string()))?
    };
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let n = on_tx!(&mut tx, c => {
        sqlx::query("UPDATE account_requests SET status = $1, decided_by = $2, decided_at = $3, note = $4 WHERE id = $5 AND status = 'pending'")
            .bind(if approve { "approved" } else { "rejected" }).bind(p.account_id).bind(now).bind(&note).bind(request_id)
            .execute(&mut *c).await?.rows_affected()
    });
    if n != 1 {
        return Err(AppError::Conflict("该申请已处理".into()));
    }
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: if approve {
                "account.approve"
            } else {
                "account.reject"
            },
            object_type: "account",
            object_id: req.target_id.to_string(),
            before: serde_json::json!({"request": request_id, "requested_by": req.requested_by}),
            after: serde_json::json!({"note": note}),
        },
    )
    .await?;
    let otp = if approve {
        apply(ctx, &mut tx, &p.actor(), &acc, &change, p.account_id).await?
    } else {
        None
    };
    tx.commit().await?;
    Ok(Outcome {
        applied: approve,
        account: store::get(ctx, req.target_id).await?,
        request: Some(get_request(ctx, request_id).await?),
        one_time_password: otp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use Role::*;

    #[test]
    fn what_waits_for_a_second_administrator() {
        let roles = |v: &[Role]| Change::Roles { roles: v.to_vec() };
        let cases: &[(Change, &[Role], bool)] = &[
            // granting a data-reading role, or any administrator role: approval
            (roles(&[OrgStaff]), &[], true),
            (roles(&[CommitteeStaff]), &[Member], true),
            (roles(&[BranchSecretary, Member]), &[Member], true),
            (roles(&[SecAdmin]), &[], true),
            (roles(&[AuditAdmin]), &[], true),
            // the member role, and taking roles away from a business account: at once
            (roles(&[Member]), &[], false),
            (roles(&[Member]), &[BranchSecretary, Member], false),
            (roles(&[]), &[OrgStaff], false),
            // keeping a data role already held while adding the member role: at once
            (roles(&[BranchSecretary, Member]), &[BranchSecretary], false),
            // any change to an administrator's account: approval
            (roles(&[]), &[SysAdmin], true),
            (Change::Disable, &[SecAdmin], true),
            (Change::Unlock, &[SysAdmin], true),
            (Change::Reset, &[SysAdmin], true),
            // resets: approval when the account reads data
            (Change::Reset, &[BranchSecretary], true),
            (Change::Reset, &[Member], false),
            (Change::Reset, &[], false),
            (Change::Disable, &[OrgStaff], false),
            (Change::Enable, &[Member], false),
        ];
        for (c, current, want) in cases {
            assert_eq!(needs_approval(c, current), *want, "{c:?} on {current:?}");
        }
    }
}
