//! Reading and changing the roster. Personal numbers are encrypted (SM4) with a blind index
//! (HMAC-SM3) for exact search and a masked copy for display; clear text never reaches the
//! database, the logs or the audit trail.

use super::rules::{self, CheckedMember, MemberInput};
use super::{Member, Status, AGE_BANDS};
use crate::audit::{self, Actor, NewEntry};
use crate::crypto::{aad, mask_id_number, mask_phone};
use crate::db::{fetch_rows_packed, path_upper, DbResult, DbRow, SqlBuilder, Tx, Val};
use crate::error::{AppError, AppResult};
use crate::org::{Org, OrgKind};
use crate::rules::MemberRules;
use crate::Ctx;
use crate::{bind_vals, on_db, on_tx};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub const MEMBER_COLUMNS: &str = "m.id, m.org_id, o.name AS org_name, m.group_id, m.name, m.gender, m.ethnicity, m.birth_month, m.id_masked, m.phone_masked, m.education, m.work_unit, m.region_code, m.join_date, m.full_date, m.status, m.grid_role, m.mobile_destination, m.version";

/// [`MEMBER_COLUMNS`] as an insert's `RETURNING` list: the new row's own columns, and its
/// organisation's name by a subquery.
fn returned_member_columns() -> String {
    MEMBER_COLUMNS
        .replace(
            "o.name AS org_name",
            "(SELECT o.name FROM orgs o WHERE o.id = members.org_id) AS org_name",
        )
        .replace("m.", "")
}

pub fn row_to_member(r: &impl DbRow) -> DbResult<Member> {
    Ok(Member {
        id: r.i64("id")?,
        org_id: r.i64("org_id")?,
        org_name: r.string("org_name")?,
        group_id: r.opt_i64("group_id")?,
        name: r.string("name")?,
        gender: r.string("gender")?,
        ethnicity: r.string("ethnicity")?,
        birth_month: r.date("birth_month")?,
        id_number: r.string("id_masked")?,
        phone: r.opt_string("phone_masked")?,
        education: r.string("education")?,
        work_unit: r.string("work_unit")?,
        region_code: r.string("region_code")?,
        join_date: r.date("join_date")?,
        full_date: r.opt_date("full_date")?,
        status: r.string("status")?,
        grid_role: r.opt_string("grid_role")?,
        mobile_destination: r.opt_string("mobile_destination")?,
        version: r.i64("version")?,
    })
}

/// Member with the path of its branch (for scope checks).
pub async fn get(ctx: &Ctx, id: i64) -> AppResult<(Member, String)> {
    let sql = format!("SELECT {MEMBER_COLUMNS}, o.path AS org_path FROM members m JOIN orgs o ON o.id = m.org_id WHERE m.id = $1");
    let found = on_db!(&ctx.db, p => {
        match sqlx::query(&sql).bind(id).fetch_optional(p).await? {
            Some(r) => Some((row_to_member(&r)?, r.string("org_path")?)),
            None => None,
        }
    });
    found.ok_or(AppError::NotFound("党员"))
}

async fn get_tx(tx: &mut Tx, id: i64) -> AppResult<(Member, String)> {
    let sql = format!("SELECT {MEMBER_COLUMNS}, o.path AS org_path FROM members m JOIN orgs o ON o.id = m.org_id WHERE m.id = $1");
    let found = on_tx!(tx, c => {
        match sqlx::query(&sql).bind(id).fetch_optional(&mut *c).await? {
            Some(r) => Some((row_to_member(&r)?, r.string("org_path")?)),
            None => None,
        }
    });
    found.ok_or(AppError::NotFound("党员"))
}

/// The member's exact birth date, read from the encrypted ID number for a rule that needs it
/// (never shown, so not an unmask).
pub async fn exact_birth(ctx: &Ctx, id: i64) -> AppResult<NaiveDate> {
    let enc = on_db!(&ctx.db, p => {
        sqlx::query("SELECT id_enc FROM members WHERE id = $1").bind(id).fetch_optional(p).await?
            .ok_or(AppError::NotFound("党员"))?.bytes("id_enc")?
    });
    let number = ctx
        .vault
        .decrypt(&aad("members", "id_enc", id), &enc)
        .map_err(|e| AppError::Internal(format!("member {id} id_enc: {e}")))?;
    super::idcard::parse(&number)
        .map(|i| i.birth_date)
        .map_err(|e| AppError::Internal(format!("member {id}: stored ID number: {e}")))
}

/// Decrypts the ID number and phone of one member and audits that they were shown.
pub async fn reveal(ctx: &Ctx, actor: &Actor, id: i64) -> AppResult<(String, Option<String>)> {
    let (enc_id, enc_phone) = on_db!(&ctx.db, p => {
        let r = sqlx::query("SELECT id_enc, phone_enc FROM members WHERE id = $1")
            .bind(id)
            .fetch_optional(p)
            .await?
            .ok_or(AppError::NotFound("党员"))?;
        (r.bytes("id_enc")?, r.opt_bytes("phone_enc")?)
    });
    let id_number = ctx
        .vault
        .decrypt(&aad("members", "id_enc", id), &enc_id)
        .map_err(|e| AppError::Internal(format!("member {id} id_enc: {e}")))?;
    let phone = enc_phone
        .map(|p| ctx.vault.decrypt(&aad("members", "phone_enc", id), &p))
        .transpose()
        .map_err(|e| AppError::Internal(format!("member {id} phone_enc: {e}")))?;
    audit::record(
        &ctx.db,
        actor,
        NewEntry {
            action: "member.unmask",
            object_type: "member",
            object_id: id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"fields": ["id_number", "phone"]}),
        },
    )
    .await?;
    Ok((id_number, phone))
}

/// The audit snapshot of a member: masked numbers only.
fn snapshot(m: &Member) -> serde_json::Value {
    serde_json::to_value(m).unwrap_or(serde_json::Value::Null)
}

async fn branch_for(tx: &mut Tx, org_id: i64, group_id: Option<i64>) -> AppResult<Org> {
    let sql = format!(
        "SELECT {} FROM orgs o WHERE o.id = $1 AND o.dissolved_at IS NULL",
        crate::org::store::ORG_COLUMNS
    );
    let org = on_tx!(tx, c => {
        match sqlx::query(&sql).bind(org_id).fetch_optional(&mut *c).await? {
            Some(r) => Some(crate::org::store::row_to_org(&r)?),
            None => None,
        }
    })
    .ok_or_else(|| AppError::field("org_id", "所在党支部不存在"))?;
    if !org.kind.holds_members() {
        return Err(AppError::field(
            "org_id",
            format!(
                "党员应编入党支部或联合党支部，“{}”是{}",
                org.name,
                org.kind.label()
            ),
        ));
    }
    if let Some(g) = group_id {
        let ok = on_tx!(tx, c => {
            sqlx::query("SELECT id FROM orgs WHERE id = $1 AND parent_id = $2 AND kind = $3 AND dissolved_at IS NULL")
                .bind(g).bind(org_id).bind(OrgKind::Group.as_str())
                .fetch_optional(&mut *c).await?.is_some()
        });
        if !ok {
            return Err(AppError::field("group_id", "党小组须属于所在党支部"));
        }
    }
    Ok(org)
}

/// Checks an input against the member rules in force for `path`.
pub async fn check_input(
    ctx: &Ctx,
    path: &str,
    input: &MemberInput,
    stored: Option<(NaiveDate, &str)>,
) -> AppResult<CheckedMember> {
    let (r, _) = crate::rules::effective::<MemberRules>(&ctx.db, path).await?;
    rules::check(input, &r, ctx.clock.today(), stored).map_err(|c| AppError::Validation(c.0))
}

/// The member's ID number and its blind index, which every insert needs.
fn id_key<'a>(ctx: &Ctx, m: &'a CheckedMember) -> AppResult<(&'a str, String)> {
    let id_number = m
        .id_number
        .as_deref()
        .ok_or_else(|| AppError::field("id_number", "请填写身份证号码"))?;
    Ok((id_number, ctx.vault.blind_index("id", id_number)))
}

/// Inserts a checked member inside `tx` and audits it. Returns the new id.
pub async fn insert_checked(
    ctx: &Ctx,
    tx: &mut Tx,
    actor: &Actor,
    org_id: i64,
    group_id: Option<i64>,
    m: &CheckedMember,
) -> AppResult<i64> {
    let (_, id_idx) = id_key(ctx, m)?;
    let existing = on_tx!(tx, c => {
        sqlx::query("SELECT o.path FROM members m JOIN orgs o ON o.id = m.org_id WHERE m.id_idx = $1").bind(&id_idx).fetch_optional(&mut *c).await?
            .map(|r| r.string("path")).transpose()?
    });
    if let Some(path) = existing {
        return Err(duplicate(actor_scope(actor, tx).await?.as_deref(), &path));
    }
    let ids = insert_new_many(ctx, tx, actor, &[(org_id, group_id, m)]).await?;
    ids.first()
        .copied()
        .ok_or_else(|| AppError::Internal("member insert returned no row".into()))
}

/// The refusal of an ID number already on the roll: named within the caller's subtree, and
/// the same neutral sentence for a member anywhere else (the platform does not tell an
/// outsider which organisation holds whom).
pub fn duplicate(scope: Option<&str>, member_path: &str) -> AppError {
    match scope {
        Some(s) if crate::org::in_subtree(s, member_path) => {
            AppError::field("id_number", "该身份证号码已在本辖区党员库中")
        }
        _ => AppError::refused("member.registered_elsewhere", DUPLICATE_ELSEWHERE),
    }
}

/// The neutral answer for an ID number registered outside the caller's subtree.
pub const DUPLICATE_ELSEWHERE: &str = "已在其他党组织登记，请联系组织部门";

/// Every write that matches a typed ID number against the whole platform (a member, an
/// applicant, a pool, a love-bank card) answers differently when the number is known
/// elsewhere — a guess confirmed. Such answers are counted per account with the member
/// import's and creation's (`dupcheck:<account>`, [`super::io::OUTSIDE_HITS`] an hour) and
/// recorded; an account over the count is held off before anything is matched.
pub fn dupcheck_wait(ctx: &Ctx, account_id: Option<i64>) -> AppResult<()> {
    let Some(id) = account_id else { return Ok(()) };
    let now = ctx.clock.now().timestamp();
    match ctx.limits.wait(
        &format!("dupcheck:{id}"),
        now,
        super::io::OUTSIDE_HITS,
        super::io::OUTSIDE_WINDOW,
    ) {
        Some(wait) => Err(AppError::TooManyAttempts(wait)),
        None => Ok(()),
    }
}

/// Counts and records (as `action` on `object_type`) an answer that said a number is known
/// outside the account's subtree; returns the neutral refusal to give.
pub async fn dupcheck_hit(
    ctx: &Ctx,
    actor: &Actor,
    action: &'static str,
    object_type: &str,
) -> AppResult<AppError> {
    if let Some(id) = actor.id {
        let now = ctx.clock.now().timestamp();
        ctx.limits.fail(
            &format!("dupcheck:{id}"),
            now,
            super::io::OUTSIDE_HITS,
            super::io::OUTSIDE_WINDOW,
        );
    }
    crate::audit::record(
        &ctx.db,
        actor,
        crate::audit::NewEntry {
            action,
            object_type,
            object_id: String::new(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"reason": "registered_elsewhere"}),
        },
    )
    .await?;
    Ok(AppError::refused(
        "member.registered_elsewhere",
        DUPLICATE_ELSEWHERE,
    ))
}

/// The subtree of the account acting (none for the system).
async fn actor_scope(actor: &Actor, tx: &mut Tx) -> AppResult<Option<String>> {
    let Some(org) = actor.org_id.filter(|_| actor.id.is_some()) else {
        // the system itself (the command line, the demo) sees the whole roll
        return Ok(Some("/".to_string()));
    };
    Ok(on_tx!(tx, c => {
        sqlx::query("SELECT path FROM orgs WHERE id = $1").bind(org).fetch_optional(&mut *c).await?
            .map(|r| r.string("path")).transpose()?
    }))
}

/// Members an import writes in one statement (see [`INSERT_BATCH`]).
pub const INSERT_BATCH: usize = 40;

/// Inserts members whose ID numbers were already found new (`(org_id, group_id, member)`; an
/// import checks all its rows against the database at once, and the unique index still
/// refuses a duplicate that arrived in between) and audits them: one multi-row insert
/// returning the stored rows (at most [`INSERT_BATCH`] keeps the statement small), then their
/// audit entries. Returns the new ids in ascending order.
pub async fn insert_new_many(
    ctx: &Ctx,
    tx: &mut Tx,
    actor: &Actor,
    rows: &[(i64, Option<i64>, &CheckedMember)],
) -> AppResult<Vec<i64>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    struct Values<'a> {
        id: i64,
        org_id: i64,
        group_id: Option<i64>,
        m: &'a CheckedMember,
        birth: NaiveDate,
        pinyin: String,
        initials: String,
        id_enc: Vec<u8>,
        id_idx: String,
        id_masked: String,
        phone_enc: Option<Vec<u8>>,
        phone_idx: Option<String>,
        phone_masked: Option<String>,
        region: String,
    }
    let ids = tx.reserve_ids("members", rows.len()).await?;
    let mut values = Vec::with_capacity(rows.len());
    for ((org_id, group_id, m), id) in rows.iter().zip(&ids) {
        let (id_number, id_idx) = id_key(ctx, m)?;
        let birth = super::month_of(
            m.birth_date
                .ok_or_else(|| AppError::field("id_number", "请填写身份证号码"))?,
        );
        let (pinyin, initials) = super::pinyin::keys(&m.name);
        values.push(Values {
            id: *id,
            org_id: *org_id,
            group_id: *group_id,
            m,
            birth,
            pinyin,
            initials,
            id_enc: ctx.vault.encrypt(&aad("members", "id_enc", id), id_number),
            id_idx,
            id_masked: mask_id_number(id_number),
            phone_enc: m
                .phone
                .as_deref()
                .map(|p| ctx.vault.encrypt(&aad("members", "phone_enc", id), p)),
            phone_idx: m
                .phone
                .as_deref()
                .map(|p| ctx.vault.blind_index("phone", p)),
            phone_masked: m.phone.as_deref().map(mask_phone),
            region: m
                .region_code
                .clone()
                .unwrap_or_else(|| id_number[..6].to_string()),
        });
    }
    // The stored rows come back from the insert itself, read like any member (the audit
    // entries' snapshots), instead of from a second statement.
    let insert = format!(
        "INSERT INTO members (id, org_id, group_id, name, name_pinyin, name_initials, gender, ethnicity, birth_month, id_enc, id_idx, id_masked, phone_enc, phone_idx, phone_masked, key_version, education, work_unit, region_code, join_date, full_date, status, grid_role, mobile_destination, created_at, updated_at) \
         VALUES {} RETURNING {}",
        crate::db::values_tuples(!tx.is_postgres(), values.len(), 26),
        returned_member_columns()
    );
    let now = ctx.clock.now();
    let key_version = ctx.vault.key_version() as i64;
    let mut created = on_tx!(tx, c => {
        let mut q = sqlx::query(&insert);
        for v in &values {
            q = q
                .bind(v.id)
                .bind(v.org_id)
                .bind(v.group_id)
                .bind(&v.m.name)
                .bind(&v.pinyin)
                .bind(&v.initials)
                .bind(v.m.gender)
                .bind(&v.m.ethnicity)
                .bind(v.birth)
                .bind(&v.id_enc)
                .bind(&v.id_idx)
                .bind(&v.id_masked)
                .bind(&v.phone_enc)
                .bind(&v.phone_idx)
                .bind(&v.phone_masked)
                .bind(key_version)
                .bind(&v.m.education)
                .bind(&v.m.work_unit)
                .bind(&v.region)
                .bind(v.m.join_date)
                .bind(v.m.full_date)
                .bind(v.m.status.as_str())
                .bind(v.m.grid_role.map(|g| g.as_str()))
                .bind(&v.m.mobile_destination)
                .bind(now)
                .bind(now);
        }
        let rs = q.fetch_all(&mut *c).await?;
        rs.iter().map(row_to_member).collect::<DbResult<Vec<_>>>()?
    });
    // the order of RETURNING's rows is unspecified; the entries follow the ids
    created.sort_by_key(|m| m.id);
    audit::append_many(
        tx,
        actor,
        created
            .iter()
            .map(|m| NewEntry {
                action: "member.create",
                object_type: "member",
                object_id: m.id.to_string(),
                before: serde_json::Value::Null,
                after: snapshot(m),
            })
            .collect(),
    )
    .await?;
    Ok(created.iter().map(|m| m.id).collect())
}

pub async fn create(ctx: &Ctx, actor: &Actor, input: &MemberInput) -> AppResult<Member> {
    let org = crate::org::store::get(&ctx.db, input.org_id)
        .await
        .map_err(|_| AppError::field("org_id", "所在党支部不存在"))?;
    let checked = check_input(ctx, &org.path, input, None).await?;
    let mut tx = ctx.db.begin().await?;
    branch_for(&mut tx, input.org_id, input.group_id).await?;
    let id = insert_checked(ctx, &mut tx, actor, input.org_id, input.group_id, &checked).await?;
    tx.commit().await?;
    Ok(get(ctx, id).await?.0)
}

/// Edits a member in place. The branch is changed only by a transfer, never here.
pub async fn update(ctx: &Ctx, actor: &Actor, id: i64, input: &MemberInput) -> AppResult<Member> {
    let (before, path) = get(ctx, id).await?;
    if before.status == Status::Left.as_str() {
        return Err(super::discipline::left_refusal());
    }
    // the exact birth date (for the joining age) is only in the encrypted number
    let birth = exact_birth(ctx, id).await?;
    let checked = check_input(ctx, &path, input, Some((birth, before.gender.as_str()))).await?;
    if input.org_id != 0 && input.org_id != before.org_id {
        return Err(AppError::refused(
            "member.org_change_needs_transfer",
            "变更所在党支部须办理组织关系转接",
        ));
    }
    let mut tx = ctx.db.begin().await?;
    let (current, _) = get_tx(&mut tx, id).await?;
    if let Some(v) = input.version {
        if v != current.version {
            return Err(AppError::Conflict(
                "该党员信息已被他人修改，请刷新后重试".into(),
            ));
        }
    }
    branch_for(&mut tx, current.org_id, input.group_id).await?;
    if let Some(idn) = checked.id_number.as_deref() {
        let idx = ctx.vault.blind_index("id", idn);
        let clash = on_tx!(&mut tx, c => {
            sqlx::query("SELECT id FROM members WHERE id_idx = $1 AND id <> $2").bind(&idx).bind(id).fetch_optional(&mut *c).await?.is_some()
        });
        if clash {
            return Err(AppError::field("id_number", "该身份证号码已在党员库中"));
        }
        let enc = ctx.vault.encrypt(&aad("members", "id_enc", id), idn);
        let birth = checked.birth_date.map(super::month_of);
        on_tx!(&mut tx, c => {
            sqlx::query("UPDATE members SET id_enc = $1, id_idx = $2, id_masked = $3, birth_month = $4, gender = $5, key_version = $6 WHERE id = $7")
                .bind(enc).bind(&idx).bind(mask_id_number(idn)).bind(birth).bind(checked.gender)
                .bind(ctx.vault.key_version() as i64).bind(id)
                .execute(&mut *c).await?;
        });
    }
    if let Some(ph) = checked.phone.as_deref() {
        let enc = ctx.vault.encrypt(&aad("members", "phone_enc", id), ph);
        on_tx!(&mut tx, c => {
            sqlx::query("UPDATE members SET phone_enc = $1, phone_idx = $2, phone_masked = $3 WHERE id = $4")
                .bind(enc).bind(ctx.vault.blind_index("phone", ph)).bind(mask_phone(ph)).bind(id)
                .execute(&mut *c).await?;
        });
    }
    let (pinyin, initials) = super::pinyin::keys(&checked.name);
    on_tx!(&mut tx, c => {
        sqlx::query("UPDATE members SET group_id = $1, name = $2, name_pinyin = $3, name_initials = $4, ethnicity = $5, education = $6, work_unit = $7, region_code = COALESCE($8, region_code), join_date = $9, full_date = $10, status = $11, grid_role = $12, mobile_destination = $13, version = version + 1, updated_at = $14 WHERE id = $15")
            .bind(input.group_id)
            .bind(&checked.name)
            .bind(&pinyin)
            .bind(&initials)
            .bind(&checked.ethnicity)
            .bind(&checked.education)
            .bind(&checked.work_unit)
            .bind(&checked.region_code)
            .bind(checked.join_date)
            .bind(checked.full_date)
            .bind(checked.status.as_str())
            .bind(checked.grid_role.map(|g| g.as_str()))
            .bind(&checked.mobile_destination)
            .bind(ctx.clock.now())
            .bind(id)
            .execute(&mut *c)
            .await?;
    });
    let (after, _) = get_tx(&mut tx, id).await?;
    audit::append(
        &mut tx,
        actor,
        NewEntry {
            action: "member.update",
            object_type: "member",
            object_id: id.to_string(),
            before: snapshot(&before),
            after: snapshot(&after),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// List filters; every field is optional and kept in the URL.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct MemberFilter {
    /// Name, pinyin ("zhangsan"), initials ("zs"), or an exact ID number / phone.
    pub q: Option<String>,
    /// Root of the subtree to list (defaults to the account's organisation).
    pub org_id: Option<i64>,
    pub status: Option<String>,
    pub education: Option<String>,
    /// le35, 36_45, 46_55, 56_60, gt60
    pub age_band: Option<String>,
    pub join_year: Option<i32>,
    /// M or F
    pub gender: Option<String>,
    /// name, join_date, birth_date, id; none: by organisation (tree order), then id
    pub sort: Option<String>,
    /// asc or desc
    pub dir: Option<String>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
    /// Only these members (a batch selection), at most `MAX_BATCH`; empty means no limit.
    #[serde(default)]
    pub ids: Vec<i64>,
    /// Whether an exact ID number or phone in `q` is looked up (set by the web layer for an
    /// account that may unmask, after its throttle and audit); otherwise a number finds
    /// nothing — searching by a number would confirm a guessed one.
    #[serde(skip)]
    #[param(ignore)]
    pub numbers_allowed: bool,
}

/// Whether a search text is an ID number (18 characters, digits and X) or a phone (11 digits).
pub fn number_query(q: &str) -> Option<&'static str> {
    let q = q.trim();
    if !q.is_ascii() {
        return None;
    }
    let digits = |s: &str| s.bytes().all(|c| c.is_ascii_digit());
    if q.len() == 18
        && digits(&q[..17])
        && q[17..]
            .bytes()
            .all(|c| c.is_ascii_digit() || c == b'x' || c == b'X')
    {
        Some("id")
    } else if q.len() == 11 && digits(q) {
        Some("phone")
    } else {
        None
    }
}

/// Whether a search text looks like part of an ID number or phone (4 to 17 digits, not a
/// whole phone): numbers are stored encrypted and found only whole, which the page says.
pub fn partial_number(q: &str) -> bool {
    let q = q.trim();
    (4..=17).contains(&q.len())
        && q.bytes()
            .all(|c| c.is_ascii_digit() || c == b'x' || c == b'X')
        && number_query(q).is_none()
}

/// `q` for a `LIKE … ESCAPE '\'`: `%`, `_` and the escape itself taken literally.
pub fn like_escape(q: &str) -> String {
    let mut s = String::with_capacity(q.len() + 2);
    for c in q.chars() {
        if matches!(c, '%' | '_' | '\\') {
            s.push('\\');
        }
        s.push(c);
    }
    s
}

/// The largest batch selection a request may name.
pub const MAX_BATCH: usize = 500;

impl MemberFilter {
    /// The page asked for, brought into 1..=[`crate::db::MAX_PAGE`].
    pub fn page(&self) -> i64 {
        self.page.unwrap_or(1).clamp(1, crate::db::MAX_PAGE)
    }
    pub fn per_page(&self) -> i64 {
        self.per_page.unwrap_or(20).clamp(1, 200)
    }
}

/// Builds the WHERE clause for `f` within the subtree at `scope_path`.
/// `scope_path` `None` is the whole database's tree: no condition on organisations, so the
/// query needs no join to `orgs` (see [`list`]).
pub fn build_where(
    ctx: &Ctx,
    f: &MemberFilter,
    scope_path: Option<&str>,
    today: NaiveDate,
) -> SqlBuilder {
    let mut b = SqlBuilder::default();
    match scope_path {
        Some(scope) => {
            let lo = b.arg(Val::Str(scope.to_string()));
            let hi = b.arg(Val::Str(path_upper(scope)));
            b.push(&format!(" WHERE o.path >= {lo} AND o.path < {hi}"));
        }
        None => {
            b.push(" WHERE 1 = 1");
        }
    }
    if let Some(q) = f.q.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let lower = q.to_ascii_lowercase();
        if let Some(kind) = number_query(q) {
            if f.numbers_allowed {
                let p = b.arg(Val::Str(ctx.vault.blind_index(kind, q)));
                b.push(&format!(" AND m.{kind}_idx = {p}"));
            } else {
                // a bound value, so that the filter counts as a condition (counted_status)
                let p = b.arg(Val::I64(0));
                b.push(&format!(" AND 1 = {p}"));
            }
        } else if lower.bytes().all(|c| c.is_ascii_lowercase()) {
            let a = b.arg(Val::Str(lower.clone()));
            let a2 = b.arg(Val::Str(super::pinyin::prefix_upper(&lower)));
            let c = b.arg(Val::Str(lower.clone()));
            let c2 = b.arg(Val::Str(super::pinyin::prefix_upper(&lower)));
            // A small subtree is cheaper to scan and filter; in a county or a city, a name of
            // three letters or more matches far fewer members than the scope holds, so the two
            // name indexes are read first (a city: 150 ms → 1–7 ms at 300,000 members).
            if wide_name_search(&lower, scope_path) {
                b.push(&format!(
                    " AND m.id IN ({})",
                    name_index_union("id", (&a, &a2), (&c, &c2))
                ));
            } else {
                b.push(&format!(
                    " AND ((m.name_initials >= {a} AND m.name_initials < {a2}) OR (m.name_pinyin >= {c} AND m.name_pinyin < {c2}))"
                ));
            }
        } else {
            let p = b.arg(Val::Str(format!("%{}%", like_escape(q))));
            b.push(&format!(" AND m.name LIKE {p} ESCAPE '\\'"));
        }
    }
    match f.status.as_deref().and_then(Status::parse) {
        Some(s) => {
            let p = b.arg(Val::Str(s.as_str().into()));
            b.push(&format!(" AND m.status = {p}"));
        }
        // those who left (开除党籍) are listed only when asked for
        None => {
            b.push(" AND m.status <> 'left'");
        }
    }
    if let Some(e) = f
        .education
        .as_deref()
        .filter(|e| super::EDUCATION.contains(e))
    {
        let p = b.arg(Val::Str(e.into()));
        b.push(&format!(" AND m.education = {p}"));
    }
    if let Some(g) = f.gender.as_deref().filter(|g| *g == "M" || *g == "F") {
        let p = b.arg(Val::Str(g.into()));
        b.push(&format!(" AND m.gender = {p}"));
    }
    if let Some((_, _, min, max)) = f
        .age_band
        .as_deref()
        .and_then(|a| AGE_BANDS.iter().find(|x| x.0 == a))
    {
        // ages by month (super::age_in_months): age >= min <=> birth month <= this month -
        // min years; age <= max <=> birth month > this month - (max+1) years
        let month = super::month_of(today);
        let p = b.arg(Val::Date(rules::add_years(month, -min)));
        b.push(&format!(" AND m.birth_month <= {p}"));
        let p = b.arg(Val::Date(rules::add_years(month, -(max + 1))));
        b.push(&format!(" AND m.birth_month > {p}"));
    }
    if !f.ids.is_empty() {
        let mut list = String::new();
        for (i, id) in f.ids.iter().take(MAX_BATCH).enumerate() {
            if i > 0 {
                list.push_str(", ");
            }
            list.push_str(&b.arg(Val::I64(*id)));
        }
        b.push(&format!(" AND m.id IN ({list})"));
    }
    if let Some(y) = f.join_year.filter(|y| (1921..=2200).contains(y)) {
        if let (Some(a), Some(z)) = (
            NaiveDate::from_ymd_opt(y, 1, 1),
            NaiveDate::from_ymd_opt(y + 1, 1, 1),
        ) {
            let p = b.arg(Val::Date(a));
            let q = b.arg(Val::Date(z));
            b.push(&format!(" AND m.join_date >= {p} AND m.join_date < {q}"));
        }
    }
    b
}

/// Whether a pinyin search for `lower` in the subtree at `scope_path` (`None`: the whole tree)
/// reads the name indexes first: a county or a city, and three letters or more.
fn wide_name_search(lower: &str, scope_path: Option<&str>) -> bool {
    let wide = scope_path.is_none_or(|p| p.matches('/').count() <= 3);
    wide && lower.len() >= 3
}

/// The pinyin of a filter that asks for nothing but a wide name search (see
/// [`wide_name_search`]): its total is counted from the name indexes alone.
fn only_wide_name(ctx: &Ctx, f: &MemberFilter, scope_path: Option<&str>) -> Option<String> {
    let lower = f.q.as_deref().map(str::trim)?.to_ascii_lowercase();
    let plain = MemberFilter {
        q: None,
        org_id: None,
        sort: None,
        dir: None,
        page: None,
        per_page: None,
        ..f.clone()
    };
    (counted_status(ctx, &plain) == Some(None)
        && !lower.is_empty()
        && lower.bytes().all(|c| c.is_ascii_lowercase())
        && wide_name_search(&lower, scope_path))
    .then_some(lower)
}

/// `cols` of the members whose initials lie in `initials` (the placeholders of a prefix and
/// its upper bound) or whose pinyin lies in `pinyin`: a UNION of the two name indexes' ranges.
fn name_index_union(cols: &str, initials: (&str, &str), pinyin: (&str, &str)) -> String {
    format!(
        "SELECT {cols} FROM members WHERE name_initials >= {} AND name_initials < {} \
         UNION SELECT {cols} FROM members WHERE name_pinyin >= {} AND name_pinyin < {}",
        initials.0, initials.1, pinyin.0, pinyin.1
    )
}

/// `FROM … x`: the members of the subtree (`None`: the whole tree) whose name's initials or
/// pinyin start with `lower`, as `x.id` and `x.org_id`, read from the name indexes alone: they
/// hold each member's organisation (migration 0011) and id (SQLite's rowid; PostgreSQL's by
/// `INCLUDE`, migration 0012).
fn name_matches_from(b: &mut SqlBuilder, scope_path: Option<&str>, lower: &str) -> String {
    let a = b.arg(Val::Str(lower.to_string()));
    let a2 = b.arg(Val::Str(super::pinyin::prefix_upper(lower)));
    let mut from = format!(
        " FROM ({}) x",
        name_index_union("id, org_id", (&a, &a2), (&a, &a2))
    );
    if let Some(scope) = scope_path {
        let lo = b.arg(Val::Str(scope.to_string()));
        let hi = b.arg(Val::Str(path_upper(scope)));
        from.push_str(&format!(
            " JOIN orgs o ON o.id = x.org_id WHERE o.path >= {lo} AND o.path < {hi}"
        ));
    }
    from
}

/// The matches of a wide name search counted from the name indexes: no member row is read (a
/// county's `wangj`, 2,721 matches in the city: 8.6 ms → 3.0 ms).
async fn name_total(ctx: &Ctx, scope_path: Option<&str>, lower: &str) -> AppResult<i64> {
    let mut b = SqlBuilder::new("SELECT COUNT(*) AS n");
    let from = name_matches_from(&mut b, scope_path, lower);
    b.push(&from);
    Ok(on_db!(&ctx.db, p => {
        bind_vals!(sqlx::query(&b.sql), &b.vals).fetch_one(p).await?.i64("n")?
    }))
}

fn order_by(f: &MemberFilter) -> &'static str {
    let desc = f.dir.as_deref() == Some("desc");
    // A name search's matches come from the name indexes, scattered over the tree: in id
    // order the page is cut as they come (a county's `wangj`: 1.4 ms), in the tree's order
    // every match is sorted first (7.7 ms).
    let searched = f.q.as_deref().is_some_and(|q| !q.trim().is_empty());
    let sort = f.sort.as_deref().or(searched.then_some("id"));
    match (sort, desc) {
        (Some("name"), false) => " ORDER BY m.name_pinyin, m.id",
        (Some("name"), true) => " ORDER BY m.name_pinyin DESC, m.id DESC",
        (Some("join_date"), false) => " ORDER BY m.join_date, m.id",
        (Some("join_date"), true) => " ORDER BY m.join_date DESC, m.id DESC",
        (Some("birth_date" | "birth_month"), false) => " ORDER BY m.birth_month, m.id",
        (Some("birth_date" | "birth_month"), true) => " ORDER BY m.birth_month DESC, m.id DESC",
        (Some("id"), true) => " ORDER BY m.id DESC",
        (Some("id"), false) => " ORDER BY m.id",
        // The default, a roll's order: by organisation (tree order), then by registration.
        (_, true) => " ORDER BY o.path DESC, m.id DESC",
        (_, false) => " ORDER BY o.path, m.id",
    }
}

/// The filter's status when it asks for nothing but a subtree and (perhaps) a status: the
/// lists whose total the stored per-organisation counts answer. `Some(None)`: every status.
/// Derived from [`build_where`] itself (every condition it adds binds a value), so what it
/// accepts as a filter and what this counts as one cannot drift apart.
fn counted_status(ctx: &Ctx, f: &MemberFilter) -> Option<Option<Status>> {
    let others = MemberFilter {
        status: None,
        ..f.clone()
    };
    build_where(ctx, &others, None, ctx.clock.today())
        .vals
        .is_empty()
        .then(|| f.status.as_deref().and_then(Status::parse))
}

/// Members in the subtree at `scope_path` (`None`: the whole tree) of `status` (`None`:
/// all), from the counts the triggers of migrations 0010 and 0013 keep.
async fn stored_total(
    ctx: &Ctx,
    scope_path: Option<&str>,
    status: Option<Status>,
) -> AppResult<i64> {
    let mut b = SqlBuilder::default();
    b.push("SELECT CAST(COALESCE(SUM(c.n), 0) AS BIGINT) AS n FROM org_member_counts c");
    match scope_path {
        // each row carries its organisation's path (migration 0013): one index range
        Some(scope) => {
            let lo = b.arg(Val::Str(scope.to_string()));
            let hi = b.arg(Val::Str(path_upper(scope)));
            b.push(&format!(" WHERE c.path >= {lo} AND c.path < {hi}"));
        }
        None => {
            b.push(" WHERE 1 = 1");
        }
    }
    match status {
        Some(s) => {
            let p = b.arg(Val::Str(s.as_str().into()));
            b.push(&format!(" AND c.status = {p}"));
        }
        None => {
            b.push(" AND c.status <> 'left'");
        }
    }
    Ok(on_db!(&ctx.db, p => {
        bind_vals!(sqlx::query(&b.sql), &b.vals).fetch_one(p).await?.i64("n")?
    }))
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MemberPage {
    pub items: Vec<Member>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

pub async fn list(ctx: &Ctx, f: &MemberFilter, scope_path: &str) -> AppResult<MemberPage> {
    // The whole database's tree (a city's staff) needs no subtree condition: counting and
    // paging then read the members table alone, in its own order (47 ms → 13.5 ms at 300,000).
    let whole = crate::org::store::is_whole_tree(&ctx.db, scope_path).await?;
    let scope = (!whole).then_some(scope_path);
    let mut b = build_where(ctx, f, scope, ctx.clock.today());
    let by_org = order_by(f).contains("o.path");
    let from = if whole && !by_org {
        "members m"
    } else {
        "members m JOIN orgs o ON o.id = m.org_id"
    };
    let cond = b.sql.clone();
    // A subtree with at most a status asked for is the common list (a roll): its total is a
    // sum of stored counts, not a count of the subtree's members (a county: 1.2 ms → 0.2 ms;
    // PostgreSQL 10 ms → 0.5 ms).
    let wide_name = only_wide_name(ctx, f, scope);
    let total = match (counted_status(ctx, f), &wide_name) {
        (Some(status), _) => stored_total(ctx, scope, status).await?,
        (None, Some(lower)) => name_total(ctx, scope, lower).await?,
        (None, None) => {
            let from = if whole { "members m" } else { from };
            let count_sql = format!("SELECT COUNT(*) AS n FROM {from}{cond}");
            on_db!(&ctx.db, p => {
                bind_vals!(sqlx::query(&count_sql), &b.vals).fetch_one(p).await?.i64("n")?
            })
        }
    };
    let (page, per) = (f.page(), f.per_page());
    let order = order_by(f);
    // PostgreSQL answers `m.id IN (the name indexes' matches)` in id order by walking the
    // members' primary key until the page is full (a county's `wangj` at 3,000,000 members:
    // 140 ms); from the name indexes alone the page takes 13 ms. SQLite does better with the
    // general form (1.1 ms against 1.6 ms), so there the branch is not taken.
    let by_id = order == " ORDER BY m.id" || order == " ORDER BY m.id DESC";
    let name_ids = wide_name.filter(|_| by_id && !ctx.db.is_sqlite());
    let (rest, vals) = if let Some(lower) = name_ids {
        let mut nb = SqlBuilder::default();
        let matches = name_matches_from(&mut nb, scope, &lower);
        let lim = nb.arg(Val::I64(per));
        let off = nb.arg(Val::I64((page - 1) * per));
        let rest = format!(
            " FROM members m JOIN orgs o ON o.id = m.org_id WHERE m.id IN \
             (SELECT x.id{matches}{} LIMIT {lim} OFFSET {off}){order}",
            order.replace("m.id", "x.id")
        );
        (rest, nb.vals)
    } else {
        let lim = b.arg(Val::I64(per));
        let off = b.arg(Val::I64((page - 1) * per));
        // The page's ids first, then their rows: sorting whole rows of a county's 23,000
        // members costs three times as much, a deep page ten times. In the default order the
        // ids come without a sort at all: organisations by path, each one's members by
        // (org_id, id).
        let rest = format!(
            " FROM members m JOIN orgs o ON o.id = m.org_id WHERE m.id IN \
             (SELECT m.id FROM {from}{cond}{order} LIMIT {lim} OFFSET {off}){order}"
        );
        (rest, b.vals)
    };
    let items = fetch_rows_packed(&ctx.db, MEMBER_COLUMNS, &rest, &vals)
        .await?
        .iter()
        .map(row_to_member)
        .collect::<DbResult<Vec<_>>>()?;
    Ok(MemberPage {
        items,
        total,
        page,
        per_page: per,
    })
}

/// Every member matching `f` (export), in pages of `chunk`, handed to `each`.
pub async fn for_each_filtered(
    ctx: &Ctx,
    f: &MemberFilter,
    scope_path: &str,
    mut each: impl FnMut(Member) -> AppResult<()>,
) -> AppResult<i64> {
    let base = build_where(ctx, f, Some(scope_path), ctx.clock.today());
    let mut after_id = 0i64;
    let mut n = 0;
    loop {
        let mut b = SqlBuilder {
            sql: base.sql.clone(),
            vals: base.vals.clone(),
        };
        let a = b.arg(Val::I64(after_id));
        let rest = format!(
            " FROM members m JOIN orgs o ON o.id = m.org_id{} AND m.id > {a} ORDER BY m.id LIMIT 5000",
            b.sql
        );
        let rows: Vec<Member> = fetch_rows_packed(&ctx.db, MEMBER_COLUMNS, &rest, &b.vals)
            .await?
            .iter()
            .map(row_to_member)
            .collect::<DbResult<Vec<_>>>()?;
        let len = rows.len();
        for m in rows {
            after_id = m.id;
            n += 1;
            each(m)?;
        }
        if len < 5000 {
            break;
        }
    }
    Ok(n)
}

/// Counts for dashboards: by status, education, age band, join year.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MemberStats {
    pub total: i64,
    pub by_status: Vec<(String, i64)>,
    pub by_education: Vec<(String, i64)>,
    pub by_gender: Vec<(String, i64)>,
}

/// Existing blind indexes among `idxs` (import duplicate check).
/// Members already holding these ID numbers (blind indexes): (index, their branch's path).
pub async fn existing_id_indexes(ctx: &Ctx, idxs: &[String]) -> AppResult<Vec<(String, String)>> {
    let mut found = Vec::new();
    for chunk in idxs.chunks(500) {
        let mut b = SqlBuilder::new("SELECT m.id_idx, o.path FROM members m JOIN orgs o ON o.id = m.org_id WHERE m.id_idx IN (");
        for (i, v) in chunk.iter().enumerate() {
            if i > 0 {
                b.push(", ");
            }
            let p = b.arg(Val::Str(v.clone()));
            b.push(&p);
        }
        b.push(")");
        let rows = on_db!(&ctx.db, p => {
            let rows = bind_vals!(sqlx::query(&b.sql), &b.vals).fetch_all(p).await?;
            rows.iter().map(|r| Ok((r.string("id_idx")?, r.string("path")?))).collect::<DbResult<Vec<_>>>()?
        });
        found.extend(rows);
    }
    Ok(found)
}

/// Histograms for the dashboard (portable SQL: dates are compared, not formatted): members
/// by join year and by age band.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Histograms {
    pub by_join_year: Vec<(i32, i64)>,
    /// (age band label, count), in the order of `AGE_BANDS`.
    pub by_age_band: Vec<(String, i64)>,
}

/// The dashboard's member counts of the subtree at `scope_path`, in one pass over its
/// members (the covering index): by status, education and gender, by join year `from..=to`
/// and by age band on `today` (ages by month, as the roll's filter counts them).
pub async fn profile(
    ctx: &Ctx,
    scope_path: &str,
    from: i32,
    to: i32,
    today: NaiveDate,
) -> AppResult<(MemberStats, Histograms)> {
    let upper = path_upper(scope_path);
    let mut b = SqlBuilder::default();
    let lo = b.arg(Val::Str(scope_path.into()));
    let hi = b.arg(Val::Str(upper));
    let mut cases = String::new();
    for y in from..=to {
        if let (Some(a), Some(z)) = (
            NaiveDate::from_ymd_opt(y, 1, 1),
            NaiveDate::from_ymd_opt(y + 1, 1, 1),
        ) {
            let pa = b.arg(Val::Date(a));
            let pz = b.arg(Val::Date(z));
            cases.push_str(&format!(", COALESCE(SUM(CASE WHEN m.join_date >= {pa} AND m.join_date < {pz} THEN 1 ELSE 0 END), 0) AS y{y}"));
        }
    }
    let month = super::month_of(today);
    for (i, (_, _, min, max)) in AGE_BANDS.iter().enumerate() {
        let pa = b.arg(Val::Date(rules::add_years(month, -min)));
        let pz = b.arg(Val::Date(rules::add_years(month, -(max + 1))));
        cases.push_str(&format!(", COALESCE(SUM(CASE WHEN m.birth_month <= {pa} AND m.birth_month > {pz} THEN 1 ELSE 0 END), 0) AS a{i}"));
    }
    let sql = format!("SELECT m.status AS s, m.education AS e, m.gender AS g, COUNT(*) AS n{cases} FROM members m JOIN orgs o ON o.id = m.org_id WHERE o.path >= {lo} AND o.path < {hi} AND m.status <> 'left' GROUP BY m.status, m.education, m.gender");
    let years: Vec<i32> = (from..=to).collect();
    let (groups, by_year, by_band) = on_db!(&ctx.db, p => {
        let rows = bind_vals!(sqlx::query(&sql), &b.vals).fetch_all(p).await?;
        let mut groups = Vec::with_capacity(rows.len());
        let mut by_year = vec![0i64; years.len()];
        let mut by_band = vec![0i64; AGE_BANDS.len()];
        for r in &rows {
            groups.push((r.string("s")?, r.string("e")?, r.string("g")?, r.i64("n")?));
            for (k, y) in years.iter().enumerate() {
                by_year[k] += r.i64(&format!("y{y}"))?;
            }
            for (k, n) in by_band.iter_mut().enumerate() {
                *n += r.i64(&format!("a{k}"))?;
            }
        }
        (groups, by_year, by_band)
    });
    let mut by_status: std::collections::BTreeMap<String, i64> = Default::default();
    let mut by_gender: std::collections::BTreeMap<String, i64> = Default::default();
    let mut by_education: std::collections::HashMap<String, i64> = Default::default();
    let mut total = 0;
    for (s, e, g, n) in groups {
        total += n;
        *by_status
            .entry(
                Status::parse(&s)
                    .map(|x| x.label().to_string())
                    .unwrap_or(s),
            )
            .or_default() += n;
        *by_gender
            .entry(super::gender_label(&g).to_string())
            .or_default() += n;
        *by_education.entry(e).or_default() += n;
    }
    // Education in its natural order, highest first.
    let mut edu: Vec<(String, i64)> = super::EDUCATION
        .iter()
        .filter_map(|e| by_education.remove(*e).map(|n| (e.to_string(), n)))
        .collect();
    edu.extend(by_education);
    let stats = MemberStats {
        total,
        by_status: by_status.into_iter().collect(),
        by_education: edu,
        by_gender: by_gender.into_iter().collect(),
    };
    let hist = Histograms {
        by_join_year: years.into_iter().zip(by_year).collect(),
        by_age_band: AGE_BANDS
            .iter()
            .zip(by_band)
            .map(|(a, n)| (a.1.to_string(), n))
            .collect(),
    };
    Ok((stats, hist))
}
