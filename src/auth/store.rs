//! Accounts, sessions, API tokens and the login flow.

use super::{check_role_set, password, totp, Principal, Role};
use crate::audit::{self, Actor, NewEntry};
use crate::db::{DbResult, DbRow};
use crate::error::{AppError, AppResult, Checks};
use crate::{on_db, on_tx, Ctx};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Account {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub org_id: i64,
    pub org_name: String,
    #[serde(skip)]
    pub org_path: String,
    pub member_id: Option<i64>,
    pub roles: Vec<String>,
    pub must_change_password: bool,
    pub disabled: bool,
    pub locked_until: Option<DateTime<Utc>>,
    pub totp_enabled: bool,
    pub locale: String,
    /// Who chose the current password: `None` its holder, else the administrator who was
    /// shown the one-time password (and so controls the account until it is replaced).
    #[serde(skip)]
    pub password_set_by: Option<i64>,
}

impl Account {
    /// Whether `admin` holds this account's current one-time password.
    pub fn controlled_by(&self, admin: i64) -> bool {
        self.must_change_password && self.password_set_by == Some(admin)
    }
    pub fn role_list(&self) -> Vec<Role> {
        self.roles.iter().filter_map(|r| Role::parse(r)).collect()
    }
    pub fn role_labels(&self) -> String {
        self.roles
            .iter()
            .filter_map(|r| Role::parse(r))
            .map(|r| r.label())
            .collect::<Vec<_>>()
            .join("、")
    }
    pub fn is_locked(&self, now: DateTime<Utc>) -> bool {
        self.locked_until.is_some_and(|t| t > now)
    }
}

const ACCOUNT_COLUMNS: &str = "a.id, a.username, a.display_name, a.org_id, o.name AS org_name, o.path AS org_path, a.member_id, a.must_change_password, a.disabled, a.locked_until, a.totp_enabled, a.locale, a.password_hash, a.failed_count, a.totp_secret_enc, a.totp_last_step, a.password_set_by, a.password_history";

/// An account's columns with its roles as one comma-separated text, from a subquery in the
/// same row: reading an account — on every request, for its session — is one statement.
fn account_select(db: &crate::db::Db) -> String {
    let agg = if db.is_sqlite() {
        "group_concat(r.role, ',')"
    } else {
        "string_agg(r.role, ',')"
    };
    format!(
        "{ACCOUNT_COLUMNS}, (SELECT {agg} FROM account_roles r WHERE r.account_id = a.id) AS roles"
    )
}

/// The roles' text of [`account_select`] as a sorted list (aggregation order is unspecified).
fn roles_of_text(text: Option<String>) -> Vec<String> {
    let mut roles: Vec<String> = text
        .unwrap_or_default()
        .split(',')
        .filter(|r| !r.is_empty())
        .map(str::to_string)
        .collect();
    roles.sort();
    roles
}

struct Row {
    account: Account,
    password_hash: String,
    /// The hashes of the last passwords (newest first), which may not be chosen again.
    password_history: Vec<String>,
    failed_count: i64,
    totp_secret_enc: Option<Vec<u8>>,
    totp_last_step: i64,
}

fn row(r: &impl DbRow) -> DbResult<Row> {
    Ok(Row {
        account: Account {
            id: r.i64("id")?,
            username: r.string("username")?,
            display_name: r.string("display_name")?,
            org_id: r.i64("org_id")?,
            org_name: r.string("org_name")?,
            org_path: r.string("org_path")?,
            member_id: r.opt_i64("member_id")?,
            roles: roles_of_text(r.opt_string("roles")?),
            must_change_password: r.bool("must_change_password")?,
            disabled: r.bool("disabled")?,
            locked_until: r.opt_ts("locked_until")?,
            totp_enabled: r.bool("totp_enabled")?,
            locale: r.string("locale")?,
            password_set_by: r.opt_i64("password_set_by")?,
        },
        password_history: serde_json::from_str(&r.string("password_history")?).unwrap_or_default(),
        password_hash: r.string("password_hash")?,
        failed_count: r.i64("failed_count")?,
        totp_secret_enc: r.opt_bytes("totp_secret_enc")?,
        totp_last_step: r.i64("totp_last_step")?,
    })
}

async fn find_row(ctx: &Ctx, by: &str, key: &str) -> AppResult<Option<Row>> {
    let sql = format!(
        "SELECT {} FROM accounts a JOIN orgs o ON o.id = a.org_id WHERE {by} = $1",
        account_select(&ctx.db)
    );
    Ok(on_db!(&ctx.db, p => {
        let q = sqlx::query(&sql);
        let q = if by == "a.id" { q.bind(key.parse::<i64>().unwrap_or(-1)) } else { q.bind(key.to_string()) };
        match q.fetch_optional(p).await? {
            Some(r) => Some(row(&r)?),
            None => None,
        }
    }))
}

pub async fn get(ctx: &Ctx, id: i64) -> AppResult<Account> {
    find_row(ctx, "a.id", &id.to_string())
        .await?
        .map(|r| r.account)
        .ok_or(AppError::NotFound("账号"))
}

pub async fn count(ctx: &Ctx) -> AppResult<i64> {
    Ok(
        on_db!(&ctx.db, p => sqlx::query("SELECT COUNT(*) AS n FROM accounts").fetch_one(p).await?.i64("n")?),
    )
}

/// Accounts whose organisation lies in the subtree at `scope_path`.
/// Filters of the account list (all optional; `page` from 1).
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct AccountFilter {
    /// Part of the username or the display name.
    pub q: Option<String>,
    /// One role code, e.g. `branch_secretary`.
    pub role: Option<String>,
    /// `active` or `disabled`.
    pub state: Option<String>,
    /// `username`, `display_name` or `id` (default).
    pub sort: Option<String>,
    /// `desc` for descending.
    pub dir: Option<String>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

impl AccountFilter {
    /// The page asked for, brought into 1..=[`crate::db::MAX_PAGE`].
    pub fn page(&self) -> i64 {
        self.page.unwrap_or(1).clamp(1, crate::db::MAX_PAGE)
    }
    pub fn per_page(&self) -> i64 {
        self.per_page.unwrap_or(50).clamp(1, 200)
    }
}

/// One page of the accounts in the subtree at `scope_path`, and how many match in all.
pub async fn list(
    ctx: &Ctx,
    scope_path: &str,
    f: &AccountFilter,
) -> AppResult<(Vec<Account>, i64)> {
    use crate::db::{SqlBuilder, Val};
    let mut b = SqlBuilder::default();
    let lo = b.arg(Val::Str(scope_path.to_string()));
    let hi = b.arg(Val::Str(crate::db::path_upper(scope_path)));
    b.push(&format!(" WHERE o.path >= {lo} AND o.path < {hi}"));
    if let Some(q) = f.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let like = format!("%{}%", q.replace(['%', '_'], ""));
        let a = b.arg(Val::Str(like.clone()));
        let c = b.arg(Val::Str(like));
        b.push(&format!(
            " AND (a.username LIKE {a} OR a.display_name LIKE {c})"
        ));
    }
    if let Some(r) = f.role.as_deref().and_then(Role::parse) {
        let a = b.arg(Val::Str(r.as_str().to_string()));
        b.push(&format!(
            " AND EXISTS (SELECT 1 FROM account_roles r WHERE r.account_id = a.id AND r.role = {a})"
        ));
    }
    match f.state.as_deref() {
        Some("active") => {
            b.push(" AND a.disabled = FALSE");
        }
        Some("disabled") => {
            b.push(" AND a.disabled = TRUE");
        }
        _ => {}
    }
    let count_sql = format!(
        "SELECT COUNT(*) AS n FROM accounts a JOIN orgs o ON o.id = a.org_id{}",
        b.sql
    );
    let order = match f.sort.as_deref() {
        Some("username") => "a.username",
        Some("display_name") => "a.display_name",
        _ => "a.id",
    };
    let dir = if f.dir.as_deref() == Some("desc") {
        "DESC"
    } else {
        "ASC"
    };
    let lim = b.arg(Val::I64(f.per_page()));
    let off = b.arg(Val::I64((f.page() - 1) * f.per_page()));
    let sql = format!(
        "SELECT {} FROM accounts a JOIN orgs o ON o.id = a.org_id{} ORDER BY {order} {dir}, a.id LIMIT {lim} OFFSET {off}",
        account_select(&ctx.db),
        b.sql
    );
    let n_filter = b.vals.len() - 2;
    let (rows, total) = on_db!(&ctx.db, p => {
        let total = crate::bind_vals!(sqlx::query(&count_sql), &b.vals[..n_filter]).fetch_one(p).await?.i64("n")?;
        let rows = crate::bind_vals!(sqlx::query(&sql), &b.vals).fetch_all(p).await?;
        (rows.iter().map(|r| row(r).map(|x| x.account)).collect::<DbResult<Vec<_>>>()?, total)
    });
    Ok((rows, total))
}

#[derive(Debug, Clone, Deserialize, Serialize, Default, utoipa::ToSchema)]
pub struct NewAccount {
    pub username: String,
    pub display_name: String,
    pub org_id: i64,
    #[serde(default)]
    pub member_id: Option<i64>,
    /// Must be empty: roles are granted by the security administrator.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Must be empty: the system issues the one-time password.
    #[serde(default)]
    pub password: String,
}

fn parse_roles(names: &[String]) -> AppResult<Vec<Role>> {
    let roles = parse_role_names(names)?;
    if roles.is_empty() {
        return Err(AppError::field("roles", "请至少选择一个角色"));
    }
    Ok(roles)
}

fn check_username(c: &mut Checks, u: &str) {
    c.check(
        (3..=32).contains(&u.len())
            && u.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-'),
        "username",
        "用户名为3至32位字母、数字、下划线、点或横线",
    );
}

/// Creates an account as the system itself (first start, the demo, tests): with its roles
/// and a password it chose. Administrators create accounts through [`create_by`].
pub async fn create(ctx: &Ctx, actor: &Actor, input: &NewAccount) -> AppResult<Account> {
    let mut c = Checks::default();
    check_username(&mut c, &input.username);
    let dn = input.display_name.trim();
    c.check(
        !dn.is_empty() && dn.chars().count() <= 30,
        "display_name",
        "请填写姓名（30字以内）",
    );
    for v in password::policy_violations(&ctx.config.password, &input.password, &input.username) {
        c.add("password", v);
    }
    c.finish()?;
    let roles = parse_roles(&input.roles)?;
    insert(ctx, actor, input, &roles, &input.password, None).await
}

/// An administrator (the system administrator) creates an account: without roles (the
/// security administrator grants them, with a second administrator's approval for roles that
/// read Party data) and without choosing its password — the system issues a one-time
/// password, returned once, which the holder must replace at first sign-in. The creator holds
/// it until then and may not request or approve anything for the account meanwhile.
pub async fn create_by(
    ctx: &Ctx,
    p: &Principal,
    input: &NewAccount,
) -> AppResult<(Account, String)> {
    let mut c = Checks::default();
    check_username(&mut c, &input.username);
    let dn = input.display_name.trim();
    c.check(
        !dn.is_empty() && dn.chars().count() <= 30,
        "display_name",
        "请填写姓名（30字以内）",
    );
    c.check(
        input.roles.is_empty(),
        "roles",
        "新账号不带角色：角色由安全管理员授予（涉及党员数据的角色须另一名管理员复核）",
    );
    c.check(
        input.password.is_empty(),
        "password",
        "初始密码由系统生成，只显示一次，不由管理员设定",
    );
    c.finish()?;
    let otp = password::generate();
    let acc = insert(ctx, &p.actor(), input, &[], &otp, Some(p.account_id)).await?;
    Ok((acc, otp))
}

/// Checks the member an account is linked to: in the account's organisation's subtree (a
/// member's own account sits on their branch), and linked to no other account.
async fn check_member_link(
    ctx: &Ctx,
    org_path: &str,
    member_id: i64,
    except: Option<i64>,
) -> AppResult<()> {
    let (_, member_path) = crate::member::store::get(ctx, member_id)
        .await
        .map_err(|_| AppError::field("member_id", "关联的党员不存在"))?;
    if !crate::org::in_subtree(org_path, &member_path) {
        return Err(AppError::field(
            "member_id",
            "关联的党员须在该账号所属党组织内",
        ));
    }
    let taken = on_db!(&ctx.db, p => {
        sqlx::query("SELECT id FROM accounts WHERE member_id = $1 AND id <> $2").bind(member_id).bind(except.unwrap_or(-1))
            .fetch_optional(p).await?.is_some()
    });
    if taken {
        return Err(AppError::field("member_id", "该党员已关联其他账号"));
    }
    Ok(())
}

async fn insert(
    ctx: &Ctx,
    actor: &Actor,
    input: &NewAccount,
    roles: &[Role],
    pw: &str,
    by: Option<i64>,
) -> AppResult<Account> {
    let dn = input.display_name.trim();
    let org = crate::org::store::get(&ctx.db, input.org_id)
        .await
        .map_err(|_| AppError::field("org_id", "所属党组织不存在"))?;
    if let Some(m) = input.member_id {
        check_member_link(ctx, &org.path, m, None).await?;
    }
    let hash = password::hash_async(pw.to_string()).await?;
    let now = ctx.clock.now();
    let mut tx = ctx.db.begin().await?;
    let taken = on_tx!(&mut tx, c => sqlx::query("SELECT id FROM accounts WHERE username = $1").bind(&input.username).fetch_optional(&mut *c).await?.is_some());
    if taken {
        return Err(AppError::field("username", "用户名已被使用"));
    }
    let id = on_tx!(&mut tx, c => {
        let id = sqlx::query("INSERT INTO accounts (username, display_name, org_id, member_id, password_hash, must_change_password, locale, created_at, updated_at, created_by, password_set_by) VALUES ($1, $2, $3, $4, $5, $6, 'auto', $7, $7, $8, $8) RETURNING id")
            .bind(&input.username).bind(dn).bind(org.id).bind(input.member_id).bind(&hash).bind(true).bind(now).bind(by)
            .fetch_one(&mut *c).await?.i64("id")?;
        for r in roles {
            sqlx::query("INSERT INTO account_roles (account_id, role) VALUES ($1, $2)").bind(id).bind(r.as_str()).execute(&mut *c).await?;
        }
        id
    });
    audit::append(
        &mut tx,
        actor,
        NewEntry {
            action: "account.create",
            object_type: "account",
            object_id: id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"username": input.username, "display_name": dn, "org_id": org.id,
                "member_id": input.member_id, "roles": roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
                "one_time_password_issued_to": by}),
        },
    )
    .await?;
    tx.commit().await?;
    get(ctx, id).await
}

/// Replaces the roles of an account inside `tx` (the caller checked who may).
pub(crate) async fn set_roles_in(
    tx: &mut crate::db::Tx,
    actor: &Actor,
    before: &Account,
    roles: &[Role],
) -> AppResult<()> {
    let id = before.id;
    check_role_set(roles)?;
    on_tx!(tx, c => {
        sqlx::query("DELETE FROM account_roles WHERE account_id = $1").bind(id).execute(&mut *c).await?;
        for r in roles {
            sqlx::query("INSERT INTO account_roles (account_id, role) VALUES ($1, $2)").bind(id).bind(r.as_str()).execute(&mut *c).await?;
        }
        sqlx::query("DELETE FROM sessions WHERE account_id = $1").bind(id).execute(&mut *c).await?;
    });
    audit::append(
        tx,
        actor,
        NewEntry {
            action: "account.roles",
            object_type: "account",
            object_id: id.to_string(),
            before: serde_json::json!({"roles": before.roles}),
            after: serde_json::json!({"roles": roles.iter().map(|r| r.as_str()).collect::<Vec<_>>()}),
        },
    )
    .await?;
    Ok(())
}

pub fn parse_role_names(names: &[String]) -> AppResult<Vec<Role>> {
    let mut roles = Vec::new();
    for n in names {
        let r = Role::parse(n).ok_or_else(|| AppError::field("roles", format!("未知角色：{n}")))?;
        if !roles.contains(&r) {
            roles.push(r);
        }
    }
    roles.sort();
    check_role_set(&roles)?;
    Ok(roles)
}

/// Disables every account of `ids` in one transaction: all or none. Each must lie in the
/// subtree at `scope_path`, none may be the actor's own, and none an administrator's (their
/// changes need a second administrator, one at a time).
pub async fn set_disabled_many(
    ctx: &Ctx,
    actor: &Actor,
    scope_path: &str,
    ids: &[i64],
    disabled: bool,
) -> AppResult<usize> {
    let mut accounts = Vec::with_capacity(ids.len());
    for id in ids {
        let a = get(ctx, *id).await?;
        if !crate::org::in_subtree(scope_path, &a.org_path) {
            return Err(AppError::Forbidden(format!(
                "账号 {} 不在本账号管辖范围内",
                a.username
            )));
        }
        if a.role_list().iter().any(|r| r.is_admin_trio()) {
            return Err(AppError::refused(
                "account.admin_needs_approval",
                format!(
                    "{} 是管理员账号，其停用或启用须另一名管理员复核，请单独办理",
                    a.username
                ),
            ));
        }
        accounts.push(a);
    }
    let mut tx = ctx.db.begin().await?;
    for a in &accounts {
        disable_in(&mut tx, actor, a, disabled).await?;
    }
    tx.commit().await?;
    Ok(accounts.len())
}

pub(crate) async fn disable_in(
    tx: &mut crate::db::Tx,
    actor: &Actor,
    before: &Account,
    disabled: bool,
) -> AppResult<()> {
    let id = before.id;
    if actor.id == Some(id) {
        return Err(AppError::refused(
            "account.self_disable",
            "不能停用自己的账号",
        ));
    }
    let now = tx.now;
    on_tx!(&mut *tx, c => {
        sqlx::query("UPDATE accounts SET disabled = $1, updated_at = $2 WHERE id = $3").bind(disabled).bind(now).bind(id).execute(&mut *c).await?;
        if disabled {
            sqlx::query("DELETE FROM sessions WHERE account_id = $1").bind(id).execute(&mut *c).await?;
            sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL").bind(now).bind(id).execute(&mut *c).await?;
        }
    });
    audit::append(
        tx,
        actor,
        NewEntry {
            action: if disabled {
                "account.disable"
            } else {
                "account.enable"
            },
            object_type: "account",
            object_id: id.to_string(),
            before: serde_json::json!({"disabled": before.disabled}),
            after: serde_json::json!({"disabled": disabled}),
        },
    )
    .await?;
    Ok(())
}

/// Unlocks an account (its failed sign-ins forgotten) inside `tx`.
pub(crate) async fn unlock_in(
    tx: &mut crate::db::Tx,
    actor: &Actor,
    target: &Account,
) -> AppResult<()> {
    on_tx!(tx, c => {
        sqlx::query("UPDATE accounts SET failed_count = 0, locked_until = NULL WHERE id = $1").bind(target.id).execute(&mut *c).await?;
    });
    audit::append(
        tx,
        actor,
        NewEntry {
            action: "account.unlock",
            object_type: "account",
            object_id: target.id.to_string(),
            before: serde_json::json!({"locked_until": target.locked_until}),
            after: serde_json::Value::Null,
        },
    )
    .await?;
    Ok(())
}

/// The password history kept: the last five (等保).
const HISTORY: usize = 5;

fn pushed_history(history: &[String], old_hash: &str) -> String {
    let mut h: Vec<&str> = std::iter::once(old_hash)
        .chain(history.iter().map(String::as_str))
        .take(HISTORY)
        .collect();
    h.dedup();
    serde_json::to_string(&h).unwrap_or_else(|_| "[]".into())
}

/// Issues a one-time password for `target` inside `tx`: its sessions end, its API tokens are
/// revoked, it is unlocked, and its holder must replace the password at the next sign-in.
/// `receiver` is the administrator shown the password (who holds the account until then).
/// Returns the password, to be shown once.
pub(crate) async fn reset_in(
    ctx: &Ctx,
    tx: &mut crate::db::Tx,
    actor: &Actor,
    target: &Account,
    receiver: i64,
) -> AppResult<String> {
    let otp = password::generate();
    let hash = password::hash_async(otp.clone()).await?;
    let row = find_row(ctx, "a.id", &target.id.to_string())
        .await?
        .ok_or(AppError::NotFound("账号"))?;
    let history = pushed_history(&row.password_history, &row.password_hash);
    let now = tx.now;
    on_tx!(tx, c => {
        sqlx::query("UPDATE accounts SET password_hash = $1, must_change_password = $2, failed_count = 0, locked_until = NULL, password_set_by = $3, password_history = $4, updated_at = $5 WHERE id = $6")
            .bind(&hash).bind(true).bind(receiver).bind(&history).bind(now).bind(target.id).execute(&mut *c).await?;
        sqlx::query("DELETE FROM sessions WHERE account_id = $1").bind(target.id).execute(&mut *c).await?;
        sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL").bind(now).bind(target.id).execute(&mut *c).await?;
    });
    audit::append(
        tx,
        actor,
        NewEntry {
            action: "account.reset_password",
            object_type: "account",
            object_id: target.id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"must_change_password": true, "unlocked": true, "tokens_revoked": true, "one_time_password_issued_to": receiver}),
        },
    )
    .await?;
    Ok(otp)
}

/// The account changes its own password (old one required): not one of the last five; every
/// session of the account ends and its API tokens are revoked; the caller gets a new session
/// (its id is returned, to set as the cookie), so a session stolen before the change is no
/// longer any use.
pub async fn change_password(ctx: &Ctx, p: &Principal, old: &str, new: &str) -> AppResult<String> {
    let r = find_row(ctx, "a.id", &p.account_id.to_string())
        .await?
        .ok_or(AppError::Unauthenticated)?;
    if !password::verify_async(old.to_string(), r.password_hash.clone()).await {
        return Err(AppError::field("old_password", "原密码不正确"));
    }
    if old == new {
        return Err(AppError::field("new_password", "新密码不能与原密码相同"));
    }
    let v = password::policy_violations(&ctx.config.password, new, &p.username);
    if !v.is_empty() {
        return Err(AppError::Validation(
            v.into_iter()
                .map(|m| crate::error::FieldError::new("new_password", m))
                .collect(),
        ));
    }
    for h in &r.password_history {
        if password::verify_async(new.to_string(), h.clone()).await {
            return Err(AppError::field(
                "new_password",
                format!("新密码不能与最近{HISTORY}次用过的密码相同"),
            ));
        }
    }
    let hash = password::hash_async(new.to_string()).await?;
    let history = pushed_history(&r.password_history, &r.password_hash);
    let token = crate::crypto::random_token();
    let token_hash = crate::crypto::sm3_hex(token.as_bytes());
    let csrf = crate::crypto::random_token();
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    on_tx!(&mut tx, c => {
        sqlx::query("UPDATE accounts SET password_hash = $1, must_change_password = $2, password_set_by = NULL, password_history = $3, updated_at = $4 WHERE id = $5")
            .bind(&hash).bind(false).bind(&history).bind(now).bind(p.account_id).execute(&mut *c).await?;
        sqlx::query("DELETE FROM sessions WHERE account_id = $1").bind(p.account_id).execute(&mut *c).await?;
        sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL").bind(now).bind(p.account_id).execute(&mut *c).await?;
        sqlx::query("INSERT INTO sessions (token_hash, account_id, csrf, created_at, last_seen, totp_pending) VALUES ($1, $2, $3, $4, $4, $5)")
            .bind(&token_hash).bind(p.account_id).bind(&csrf).bind(now).bind(false).execute(&mut *c).await?;
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "account.change_password",
            object_type: "account",
            object_id: p.account_id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"must_change_password": false, "sessions_renewed": true, "tokens_revoked": true}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(token)
}

/// The one answer for every failed login, so an attacker learns nothing.
pub const LOGIN_FAILED: &str = "用户名或密码错误；连续失败多次账号将被临时锁定";

pub struct LoginOk {
    pub token: String,
    pub totp_pending: bool,
    pub must_change_password: bool,
}

/// Checks a username and password; on success opens a new session (new token every login).
pub async fn login(ctx: &Ctx, username: &str, pw: &str, ip: &str) -> AppResult<LoginOk> {
    let (max, window) = ip_limit(ctx);
    let now_s = ctx.clock.now().timestamp();
    if let Some(wait) = ctx.login_throttle.wait(ip, now_s, max, window) {
        return Err(AppError::TooManyAttempts(wait));
    }
    let result = login_checked(ctx, username, pw, ip).await;
    if matches!(result, Err(AppError::Refused { .. })) {
        ctx.login_throttle.fail(ip, now_s, max, window);
    }
    result
}

/// The per-address limit of the password policy: (failures, window in seconds).
pub fn ip_limit(ctx: &Ctx) -> (u32, i64) {
    let p = &ctx.config.password;
    (p.ip_max_failures, p.ip_window_minutes * 60)
}

async fn login_checked(ctx: &Ctx, username: &str, pw: &str, ip: &str) -> AppResult<LoginOk> {
    let row = if username.len() <= 64 {
        find_row(ctx, "a.username", username).await?
    } else {
        None
    };
    let Some(row) = row else {
        password::verify_async(pw.to_string(), password::dummy_hash().to_string()).await;
        let mut a = Actor::system("anonymous");
        a.ip = ip.to_string();
        audit::record(
            &ctx.db,
            &a,
            NewEntry {
                action: "auth.login_failed",
                object_type: "account",
                object_id: String::new(),
                before: serde_json::Value::Null,
                after: serde_json::json!({"reason": "unknown_user"}),
            },
        )
        .await?;
        return Err(AppError::refused("auth.failed", LOGIN_FAILED));
    };
    let acc = &row.account;
    let actor = Actor {
        id: Some(acc.id),
        name: acc.username.clone(),
        role: acc.roles.join(","),
        org_id: Some(acc.org_id),
        ip: ip.to_string(),
    };
    let ok = password::verify_async(pw.to_string(), row.password_hash.clone()).await;
    let locked = acc.is_locked(ctx.clock.now());
    if !ok || locked || acc.disabled {
        let policy = &ctx.config.password;
        let failures = if ok {
            row.failed_count
        } else {
            row.failed_count + 1
        };
        let lock_now = !ok && !locked && failures >= policy.max_failures as i64;
        let mut tx = ctx.db.begin().await?;
        on_tx!(&mut tx, c => {
            if lock_now {
                sqlx::query("UPDATE accounts SET failed_count = 0, locked_until = $1 WHERE id = $2")
                    .bind(ctx.clock.now() + Duration::minutes(policy.lock_minutes)).bind(acc.id).execute(&mut *c).await?;
            } else if !ok {
                sqlx::query("UPDATE accounts SET failed_count = $1 WHERE id = $2").bind(failures).bind(acc.id).execute(&mut *c).await?;
            }
        });
        let reason = if acc.disabled {
            "disabled"
        } else if locked {
            "locked"
        } else if lock_now {
            "wrong_password_locked"
        } else {
            "wrong_password"
        };
        audit::append(
            &mut tx,
            &actor,
            NewEntry {
                action: "auth.login_failed",
                object_type: "account",
                object_id: acc.id.to_string(),
                before: serde_json::Value::Null,
                after: serde_json::json!({"reason": reason, "failures": failures}),
            },
        )
        .await?;
        tx.commit().await?;
        return Err(AppError::refused("auth.failed", LOGIN_FAILED));
    }
    let token = crate::crypto::random_token();
    let token_hash = crate::crypto::sm3_hex(token.as_bytes());
    let csrf = crate::crypto::random_token();
    let now = ctx.clock.now();
    let mut tx = ctx.db.begin().await?;
    on_tx!(&mut tx, c => {
        sqlx::query("UPDATE accounts SET failed_count = 0, locked_until = NULL WHERE id = $1").bind(acc.id).execute(&mut *c).await?;
        sqlx::query("INSERT INTO sessions (token_hash, account_id, csrf, created_at, last_seen, totp_pending) VALUES ($1, $2, $3, $4, $4, $5)")
            .bind(&token_hash).bind(acc.id).bind(&csrf).bind(now).bind(acc.totp_enabled).execute(&mut *c).await?;
    });
    audit::append(
        &mut tx,
        &actor,
        NewEntry {
            action: "auth.login",
            object_type: "account",
            object_id: acc.id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"totp_pending": acc.totp_enabled}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(LoginOk {
        token,
        totp_pending: acc.totp_enabled,
        must_change_password: acc.must_change_password,
    })
}

/// Ends a session.
pub async fn logout(ctx: &Ctx, p: &Principal, token_hash: &str) -> AppResult<()> {
    let mut tx = ctx.db.begin().await?;
    on_tx!(&mut tx, c => { sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute(&mut *c).await?; });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "auth.logout",
            object_type: "account",
            object_id: p.account_id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::Value::Null,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The state of a presented session.
pub enum SessionState {
    Valid(Box<Principal>),
    TotpPending(Box<Principal>),
    Invalid,
}

/// The principal of an enabled account (`None` when disabled or unknown).
pub async fn principal_for(
    ctx: &Ctx,
    account_id: i64,
    csrf: String,
    ip: &str,
    via_token: bool,
) -> AppResult<Option<Principal>> {
    let r = find_row(ctx, "a.id", &account_id.to_string()).await?;
    Ok(r.and_then(|r| principal_of(r.account, csrf, ip, via_token)))
}

/// The principal an account acts as, `None` when it is disabled.
fn principal_of(a: Account, csrf: String, ip: &str, via_token: bool) -> Option<Principal> {
    if a.disabled {
        return None;
    }
    let roles: Vec<Role> = a.roles.iter().filter_map(|s| Role::parse(s)).collect();
    Some(Principal {
        account_id: a.id,
        username: a.username,
        display_name: a.display_name,
        org_id: a.org_id,
        org_name: a.org_name,
        org_path: a.org_path,
        roles,
        member_id: a.member_id,
        must_change_password: a.must_change_password,
        totp_enabled: a.totp_enabled,
        lang: crate::i18n::Lang::resolve(Some(&a.locale), None),
        locale: a.locale,
        ip: ip.to_string(),
        csrf,
        via_token,
        read_only: false,
    })
}

/// Resolves a session cookie, applying the idle and absolute timeouts. The session, its
/// account and the account's roles are read in one statement (this runs on every request).
pub async fn session(ctx: &Ctx, token: &str, ip: &str) -> AppResult<SessionState> {
    if token.len() != 64 {
        return Ok(SessionState::Invalid);
    }
    let th = crate::crypto::sm3_hex(token.as_bytes());
    let sql = format!(
        "SELECT s.csrf, s.created_at, s.last_seen, s.totp_pending, {} FROM sessions s \
         JOIN accounts a ON a.id = s.account_id JOIN orgs o ON o.id = a.org_id WHERE s.token_hash = $1",
        account_select(&ctx.db)
    );
    let found = on_db!(&ctx.db, p => {
        match sqlx::query(&sql).bind(&th).fetch_optional(p).await? {
            Some(r) => Some((r.string("csrf")?, r.ts("created_at")?, r.ts("last_seen")?, r.bool("totp_pending")?, row(&r)?.account)),
            None => None,
        }
    });
    let Some((csrf, created, last_seen, pending, account)) = found else {
        return Ok(SessionState::Invalid);
    };
    let now = ctx.clock.now();
    let policy = &ctx.config.password;
    if now - last_seen > Duration::minutes(policy.idle_timeout_minutes)
        || now - created > Duration::hours(policy.absolute_timeout_hours)
    {
        on_db!(&ctx.db, p => { sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(&th).execute(p).await?; });
        return Ok(SessionState::Invalid);
    }
    if now - last_seen > Duration::seconds(30) {
        on_db!(&ctx.db, p => { sqlx::query("UPDATE sessions SET last_seen = $1 WHERE token_hash = $2").bind(now).bind(&th).execute(p).await?; });
    }
    match principal_of(account, csrf, ip, false) {
        None => Ok(SessionState::Invalid),
        Some(p) if pending => Ok(SessionState::TotpPending(Box::new(p))),
        Some(p) => Ok(SessionState::Valid(Box::new(p))),
    }
}

/// Resolves an API token (`Authorization: Bearer dj_...`), with its account, in one
/// statement: only while it is neither revoked nor expired; a `read` token reads only.
pub async fn api_token(ctx: &Ctx, token: &str, ip: &str) -> AppResult<Option<Principal>> {
    if token.len() > 200 {
        return Ok(None);
    }
    let th = crate::crypto::sm3_hex(token.as_bytes());
    let sql = format!(
        "SELECT t.scope AS token_scope, {} FROM api_tokens t JOIN accounts a ON a.id = t.account_id JOIN orgs o ON o.id = a.org_id \
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $2)",
        account_select(&ctx.db)
    );
    let found = on_db!(&ctx.db, p => {
        match sqlx::query(&sql).bind(&th).bind(ctx.clock.now()).fetch_optional(p).await? {
            Some(r) => Some((r.string("token_scope")?, row(&r)?.account)),
            None => None,
        }
    });
    Ok(found.and_then(|(scope, a)| {
        principal_of(a, String::new(), ip, true).map(|mut p| {
            p.read_only = scope == "read";
            p
        })
    }))
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    /// `read` or `read_write`.
    pub scope: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The longest an API token lives, in days.
pub const TOKEN_MAX_DAYS: i64 = 366;

/// Creates an API token acting as the caller (from a signed-in session only, never from
/// another token); the clear token is returned once. It expires after `days` (default the
/// configured `token_days`) and carries a scope: `read` or `read_write`.
pub async fn create_token(
    ctx: &Ctx,
    p: &Principal,
    name: &str,
    scope: &str,
    days: Option<i64>,
) -> AppResult<(ApiToken, String)> {
    let name = name.trim();
    let mut c = Checks::default();
    c.check(
        !name.is_empty() && name.chars().count() <= 50,
        "name",
        "请填写令牌用途（50字以内）",
    );
    c.check(
        matches!(scope, "read" | "read_write"),
        "scope",
        "令牌范围应为 read（只读）或 read_write（读写）",
    );
    let days = days.unwrap_or(ctx.config.token_days);
    c.check(
        (1..=TOKEN_MAX_DAYS).contains(&days),
        "days",
        "有效期为1至366天",
    );
    c.finish()?;
    let token = format!("dj_{}", crate::crypto::random_token());
    let th = crate::crypto::sm3_hex(token.as_bytes());
    let now = ctx.clock.now();
    let expires = now + Duration::days(days);
    let mut tx = ctx.db.begin().await?;
    let id = on_tx!(&mut tx, c => sqlx::query("INSERT INTO api_tokens (account_id, name, token_hash, created_at, expires_at, scope) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
        .bind(p.account_id).bind(name).bind(&th).bind(now).bind(expires).bind(scope).fetch_one(&mut *c).await?.i64("id")?);
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "token.create",
            object_type: "api_token",
            object_id: id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"name": name, "scope": scope, "expires_at": expires}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok((
        ApiToken {
            id,
            name: name.into(),
            scope: scope.into(),
            created_at: now,
            expires_at: Some(expires),
            revoked_at: None,
        },
        token,
    ))
}

pub async fn list_tokens(ctx: &Ctx, account_id: i64) -> AppResult<Vec<ApiToken>> {
    Ok(on_db!(&ctx.db, p => {
        let rows = sqlx::query("SELECT id, name, scope, created_at, expires_at, revoked_at FROM api_tokens WHERE account_id = $1 ORDER BY id DESC").bind(account_id).fetch_all(p).await?;
        rows.iter().map(|r| Ok(ApiToken { id: r.i64("id")?, name: r.string("name")?, scope: r.string("scope")?, created_at: r.ts("created_at")?, expires_at: r.opt_ts("expires_at")?, revoked_at: r.opt_ts("revoked_at")? })).collect::<DbResult<Vec<_>>>()?
    }))
}

pub async fn revoke_token(ctx: &Ctx, p: &Principal, id: i64) -> AppResult<()> {
    let mut tx = ctx.db.begin().await?;
    let n = on_tx!(&mut tx, c => sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND account_id = $3 AND revoked_at IS NULL")
        .bind(ctx.clock.now()).bind(id).bind(p.account_id).execute(&mut *c).await?.rows_affected());
    if n == 0 {
        return Err(AppError::NotFound("令牌"));
    }
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "token.revoke",
            object_type: "api_token",
            object_id: id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"revoked": true}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Sets the account's interface language (`auto`, `zh-CN` or `en`).
pub async fn set_locale(ctx: &Ctx, p: &Principal, locale: &str) -> AppResult<()> {
    if !crate::i18n::LOCALE_SETTINGS
        .iter()
        .any(|(k, _)| *k == locale)
    {
        return Err(AppError::Validation(vec![crate::error::FieldError::new(
            "locale",
            "界面语言只能是 auto、zh-CN 或 en",
        )]));
    }
    let mut tx = ctx.db.begin().await?;
    on_tx!(&mut tx, c => sqlx::query("UPDATE accounts SET locale = $1, updated_at = $2 WHERE id = $3")
        .bind(locale).bind(ctx.clock.now()).bind(p.account_id).execute(&mut *c).await?.rows_affected());
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "account.locale",
            object_type: "account",
            object_id: p.account_id.to_string(),
            before: serde_json::json!({"locale": p.locale}),
            after: serde_json::json!({"locale": locale}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Starts TOTP enrolment: stores a new (not yet enabled) secret and returns it.
pub async fn totp_begin(ctx: &Ctx, p: &Principal) -> AppResult<Vec<u8>> {
    let secret = totp::new_secret();
    let enc = ctx.vault.encrypt(
        &crate::crypto::aad("accounts", "totp_secret_enc", p.account_id),
        &hex::encode(&secret),
    );
    on_db!(&ctx.db, pool => {
        sqlx::query("UPDATE accounts SET totp_secret_enc = $1, totp_enabled = $2, totp_last_step = 0 WHERE id = $3")
            .bind(enc).bind(false).bind(p.account_id).execute(pool).await?;
    });
    Ok(secret)
}

/// Checks a TOTP code for the account; on success it becomes unusable again, the factor is
/// enabled (enrolment) and the session is no longer pending.
pub async fn totp_confirm(
    ctx: &Ctx,
    account_id: i64,
    code: &str,
    session_hash: Option<&str>,
) -> AppResult<()> {
    let r = find_row(ctx, "a.id", &account_id.to_string())
        .await?
        .ok_or(AppError::Unauthenticated)?;
    let enc = r
        .totp_secret_enc
        .ok_or_else(|| AppError::field("code", "尚未设置动态口令"))?;
    let secret = hex::decode(
        ctx.vault
            .decrypt(
                &crate::crypto::aad("accounts", "totp_secret_enc", account_id),
                &enc,
            )
            .map_err(|e| AppError::Internal(e.to_string()))?,
    )
    .map_err(|e| AppError::Internal(e.to_string()))?;
    let now = ctx.clock.now().timestamp().max(0) as u64;
    let actor = Actor {
        id: Some(account_id),
        name: r.account.username.clone(),
        role: r.account.roles.join(","),
        org_id: Some(r.account.org_id),
        ip: String::new(),
    };
    let Some(step) = totp::verify(&secret, code, now, r.totp_last_step.max(0) as u64) else {
        audit::record(
            &ctx.db,
            &actor,
            NewEntry {
                action: "auth.totp_failed",
                object_type: "account",
                object_id: account_id.to_string(),
                before: serde_json::Value::Null,
                after: serde_json::Value::Null,
            },
        )
        .await?;
        return Err(AppError::field("code", "动态口令不正确或已使用"));
    };
    let mut tx = ctx.db.begin().await?;
    on_tx!(&mut tx, c => {
        sqlx::query("UPDATE accounts SET totp_last_step = $1, totp_enabled = $2 WHERE id = $3").bind(step as i64).bind(true).bind(account_id).execute(&mut *c).await?;
        if let Some(h) = session_hash {
            sqlx::query("UPDATE sessions SET totp_pending = $1 WHERE token_hash = $2").bind(false).bind(h).execute(&mut *c).await?;
        }
    });
    audit::append(
        &mut tx,
        &actor,
        NewEntry {
            action: if r.account.totp_enabled {
                "auth.totp"
            } else {
                "auth.totp_enrol"
            },
            object_type: "account",
            object_id: account_id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"totp_enabled": true}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// First start: creates each of the three administrators (三员: system, security, audit)
/// that has no account yet, at the root organisation, each with a one-time password.
/// Returns (username, role label, password) to print once: three people receive them.
pub async fn bootstrap_admin(ctx: &Ctx) -> AppResult<Vec<(String, &'static str, String)>> {
    let root = on_db!(&ctx.db, p => {
        sqlx::query("SELECT id FROM orgs WHERE parent_id IS NULL AND dissolved_at IS NULL ORDER BY id LIMIT 1").fetch_optional(p).await?.map(|r| r.i64("id")).transpose()?
    });
    let system = Actor::system("bootstrap");
    let mut made = Vec::new();
    for (role, name, display) in [
        (Role::SysAdmin, "admin", "系统管理员"),
        (Role::SecAdmin, "secadmin", "安全管理员"),
        (Role::AuditAdmin, "auditadmin", "审计管理员"),
    ] {
        let has = on_db!(&ctx.db, p => {
            sqlx::query("SELECT account_id FROM account_roles WHERE role = $1 LIMIT 1").bind(role.as_str()).fetch_optional(p).await?.is_some()
        });
        if has {
            continue;
        }
        let root_id = match root {
            Some(id) => id,
            None => {
                crate::org::store::create(
                    &ctx.db,
                    &system,
                    &crate::org::store::NewOrg {
                        name: "中共XX市委".into(),
                        kind: "committee".into(),
                        level: "city".into(),
                        ..Default::default()
                    },
                )
                .await?
                .id
            }
        };
        let pw = password::generate();
        let mut username = name.to_string();
        while find_row(ctx, "a.username", &username).await?.is_some() {
            username.push('1');
        }
        create(
            ctx,
            &system,
            &NewAccount {
                username: username.clone(),
                display_name: display.into(),
                org_id: root_id,
                member_id: None,
                roles: vec![role.as_str().into()],
                password: pw.clone(),
            },
        )
        .await?;
        made.push((username, role.label(), pw));
        if root.is_none() {
            // the root made for the first administrator serves the next ones
            return Box::pin(bootstrap_admin(ctx)).await.map(|mut rest| {
                made.append(&mut rest);
                made
            });
        }
    }
    Ok(made)
}

/// On the server (the operator, not an administrator of the platform): issues a one-time
/// password for an account — how an audit administrator, whose account neither of the other
/// administrators may change, is recovered. Audited as the command line.
pub async fn reset_on_server(ctx: &Ctx, username: &str) -> AppResult<String> {
    let acc = find_row(ctx, "a.username", username)
        .await?
        .ok_or(AppError::NotFound("账号"))?
        .account;
    let mut tx = ctx.db.begin().await?;
    let otp = reset_in(ctx, &mut tx, &Actor::system("cli-account-reset"), &acc, 0).await?;
    tx.commit().await?;
    Ok(otp)
}

/// An electronic signature's proof of presence (电子签名): the signer re-enters their password,
/// or a fresh dynamic code when they use TOTP. Returns how they proved it (`password` or
/// `totp`). A failure is audited and answers a field error on `secret`.
pub async fn confirm_identity(ctx: &Ctx, p: &Principal, secret: &str) -> AppResult<&'static str> {
    let r = find_row(ctx, "a.id", &p.account_id.to_string())
        .await?
        .ok_or(AppError::Unauthenticated)?;
    let secret = secret.trim();
    let is_code = secret.len() == 6 && secret.bytes().all(|b| b.is_ascii_digit());
    if is_code && r.account.totp_enabled {
        if let Some(enc) = &r.totp_secret_enc {
            let key = hex::decode(
                ctx.vault
                    .decrypt(
                        &crate::crypto::aad("accounts", "totp_secret_enc", p.account_id),
                        enc,
                    )
                    .map_err(|e| AppError::Internal(e.to_string()))?,
            )
            .map_err(|e| AppError::Internal(e.to_string()))?;
            let now = ctx.clock.now().timestamp().max(0) as u64;
            if let Some(step) = totp::verify(&key, secret, now, r.totp_last_step.max(0) as u64) {
                // A code signs once: the next signature needs the next code.
                let n = on_db!(&ctx.db, pool => {
                    sqlx::query("UPDATE accounts SET totp_last_step = $1 WHERE id = $2 AND totp_last_step < $1")
                        .bind(step as i64).bind(p.account_id).execute(pool).await?.rows_affected()
                });
                if n == 1 {
                    return Ok("totp");
                }
            }
        }
    } else if !secret.is_empty() && password::verify(secret, &r.password_hash) {
        return Ok("password");
    }
    audit::record(
        &ctx.db,
        &p.actor(),
        NewEntry {
            action: "auth.signature_failed",
            object_type: "account",
            object_id: p.account_id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::Value::Null,
        },
    )
    .await?;
    Err(AppError::field(
        "secret",
        "签名确认失败：请输入本人登录密码（已启用动态口令的也可输入当前6位动态口令）",
    ))
}
