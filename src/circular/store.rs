//! Notices: publishing (audience resolved into targets), reading with receipts, 签收 by the
//! receiving organisation, the sender's view of who has received, reminders, withdrawal.

use super::{MAX_BODY, MAX_CHOSEN, MAX_FILES, MAX_FILE_MB, MAX_TITLE};
use crate::audit::{self, NewEntry};
use crate::auth::{Perm, Principal, Role};
use crate::db::{path_upper, DbResult, DbRow, SqlBuilder, Val};
use crate::error::{AppError, AppResult, Checks};
use crate::{bind_vals, on_db, on_tx, Ctx};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// A notice as written.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(default)]
pub struct NewCircular {
    /// The sending organisation (the account's own or one in its subtree).
    pub org_id: i64,
    pub title: String,
    pub body: String,
    /// subtree, children, orgs or members
    pub audience: String,
    /// For `orgs`: the organisations of the sender's subtree that receive it.
    pub org_ids: Vec<i64>,
    /// Each receiving organisation must acknowledge (签收).
    pub needs_receipt: bool,
    /// By when (the receipt, or the notice's own deadline).
    pub deadline: Option<NaiveDate>,
}

/// An attachment as uploaded.
pub struct Upload {
    pub filename: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Circular {
    pub id: i64,
    pub org_id: i64,
    pub org_name: String,
    pub title: String,
    pub body: String,
    pub audience: String,
    pub audience_label: String,
    pub needs_receipt: bool,
    pub deadline: Option<NaiveDate>,
    /// published or withdrawn
    pub status: String,
    pub sender_name: String,
    pub created_at: DateTime<Utc>,
    pub withdrawn_at: Option<DateTime<Utc>>,
    pub files: Vec<CircularFile>,
    pub version: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CircularFile {
    pub id: i64,
    pub filename: String,
    pub mime: String,
    pub size: i64,
    pub digest: String,
}

const COLUMNS: &str = "c.id, c.org_id, o.name AS org_name, o.path AS org_path, c.title, c.body, c.audience, c.needs_receipt, c.deadline, c.status, c.sender_name, c.created_at, c.withdrawn_at, c.version";

fn row(r: &impl DbRow) -> DbResult<(Circular, String)> {
    let audience = r.string("audience")?;
    Ok((
        Circular {
            id: r.i64("id")?,
            org_id: r.i64("org_id")?,
            org_name: r.string("org_name")?,
            title: r.string("title")?,
            body: r.string("body")?,
            audience_label: super::audience_label(&audience).to_string(),
            audience,
            needs_receipt: r.bool("needs_receipt")?,
            deadline: r.opt_date("deadline")?,
            status: r.string("status")?,
            sender_name: r.string("sender_name")?,
            created_at: r.ts("created_at")?,
            withdrawn_at: r.opt_ts("withdrawn_at")?,
            files: Vec::new(),
            version: r.i64("version")?,
        },
        r.string("org_path")?,
    ))
}

/// The notice with its sender's path (for scope checks), without checking who asks.
async fn load(ctx: &Ctx, id: i64) -> AppResult<(Circular, String)> {
    let sql =
        format!("SELECT {COLUMNS} FROM circulars c JOIN orgs o ON o.id = c.org_id WHERE c.id = $1");
    let (mut c, path) = on_db!(&ctx.db, p => {
        match sqlx::query(&sql).bind(id).fetch_optional(p).await? {
            Some(r) => row(&r)?,
            None => return Err(AppError::NotFound("通知")),
        }
    });
    c.files = on_db!(&ctx.db, p => {
        let rows = sqlx::query("SELECT id, filename, mime, size, digest FROM circular_files WHERE circular_id = $1 ORDER BY id")
            .bind(id).fetch_all(p).await?;
        rows.iter().map(|r| Ok(CircularFile { id: r.i64("id")?, filename: r.string("filename")?, mime: r.string("mime")?,
            size: r.i64("size")?, digest: r.string("digest")? })).collect::<DbResult<Vec<_>>>()?
    });
    Ok((c, path))
}

/// How an account stands to a notice.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum Relation {
    /// Its organisation (or an ancestor of it) sent the notice: sees who has received.
    Sender,
    /// Its organisation is a target: reads and 签收s for it.
    Receiver,
    /// A member under a members' notice: reads it.
    Member,
}

/// Whether and how `p` may see notice `c` (sent from `sender_path`).
async fn relation(
    ctx: &Ctx,
    p: &Principal,
    c: &Circular,
    sender_path: &str,
) -> AppResult<Relation> {
    if p.can(Perm::CircularSend) && p.in_scope(sender_path) {
        return Ok(Relation::Sender);
    }
    if c.status == "published" {
        let target = on_db!(&ctx.db, x => {
            sqlx::query("SELECT t.org_id, o.path FROM circular_targets t JOIN orgs o ON o.id = t.org_id WHERE t.circular_id = $1 AND (t.org_id = $2 OR ($3 AND $4 >= o.path AND $4 < o.path || '~'))")
                .bind(c.id).bind(p.org_id).bind(c.audience == "members").bind(&p.org_path)
                .fetch_optional(x).await?.is_some()
        });
        if target {
            if c.audience == "members" {
                if p.member_id.is_some() || p.can(Perm::CircularReceive) {
                    return Ok(Relation::Member);
                }
            } else if p.can(Perm::CircularReceive) {
                return Ok(Relation::Receiver);
            }
        }
    }
    Err(AppError::OutOfScope(format!("通知{}", c.id)))
}

/// Publishes a notice: checks it, resolves its audience into targets, stores its files.
pub async fn publish(
    ctx: &Ctx,
    p: &Principal,
    input: &NewCircular,
    files: Vec<Upload>,
) -> AppResult<Circular> {
    let sender = crate::org::store::get(&ctx.db, input.org_id)
        .await
        .map_err(|_| AppError::field("org_id", "请选择发文的党组织"))?;
    p.authorize(Perm::CircularSend, Some(&sender.path))?;
    let today = ctx.clock.today();
    let mut c = Checks::default();
    let title = input.title.trim();
    let body = input.body.trim();
    c.check(
        (1..=MAX_TITLE).contains(&title.chars().count()),
        "title",
        &format!("请填写标题（{MAX_TITLE}字以内）"),
    );
    c.check(
        (1..=MAX_BODY).contains(&body.chars().count()),
        "body",
        &format!("请填写正文（{MAX_BODY}字以内）"),
    );
    c.check(
        super::AUDIENCES.iter().any(|a| a.0 == input.audience),
        "audience",
        "请选择发送范围",
    );
    if let Some(d) = input.deadline {
        c.check(d >= today, "deadline", "截止日期不能早于今天");
    }
    c.check(
        files.len() <= MAX_FILES,
        "files",
        &format!("附件最多{MAX_FILES}个"),
    );
    if input.audience == "orgs" {
        c.check(
            !input.org_ids.is_empty() && input.org_ids.len() <= MAX_CHOSEN,
            "org_ids",
            &format!("请选择接收的党组织（最多{MAX_CHOSEN}个）"),
        );
    }
    if input.audience == "members" && input.needs_receipt {
        c.add("needs_receipt", "发给党员的通知以阅读回执为准，不设签收");
    }
    c.finish()?;
    // the chosen organisations: in the sender's subtree, below it, open
    let mut chosen: Vec<i64> = input.org_ids.clone();
    chosen.sort_unstable();
    chosen.dedup();
    if input.audience == "orgs" {
        let upper = path_upper(&sender.path);
        let list = chosen
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",");
        // integers from the request, parsed as such
        let found = on_db!(&ctx.db, x => {
            sqlx::query(&format!("SELECT COUNT(*) AS n FROM orgs WHERE id IN ({list}) AND path > $1 AND path < $2 AND dissolved_at IS NULL"))
                .bind(&sender.path).bind(&upper).fetch_one(x).await?.i64("n")?
        });
        if found != chosen.len() as i64 {
            return Err(AppError::field(
                "org_ids",
                "接收的党组织须是发文组织的下级党组织",
            ));
        }
    }
    let mut checked = Vec::new();
    for f in &files {
        let mime = crate::blob::check(&f.bytes, MAX_FILE_MB)?;
        checked.push((
            crate::blob::clean_filename(&f.filename, "附件"),
            mime,
            &f.bytes,
        ));
    }
    let upper = path_upper(&sender.path);
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let id = on_tx!(&mut tx, x => {
        sqlx::query("INSERT INTO circulars (org_id, title, body, audience, needs_receipt, deadline, status, created_by, sender_name, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'published', $7, $8, $9) RETURNING id")
            .bind(sender.id).bind(title).bind(body).bind(&input.audience).bind(input.needs_receipt).bind(input.deadline)
            .bind(p.account_id).bind(&p.display_name).bind(now)
            .fetch_one(&mut *x).await?.i64("id")?
    });
    // the audience as one row per receiving organisation (党小组 receive through their branch)
    let targets = on_tx!(&mut tx, x => {
        let q = match input.audience.as_str() {
            "subtree" => "INSERT INTO circular_targets (circular_id, org_id) SELECT $1, id FROM orgs WHERE path > $2 AND path < $3 AND dissolved_at IS NULL AND kind <> 'group'".to_string(),
            "children" => "INSERT INTO circular_targets (circular_id, org_id) SELECT $1, id FROM orgs WHERE parent_id = $4 AND dissolved_at IS NULL AND kind <> 'group' AND $2 <> $3".to_string(),
            "orgs" => format!("INSERT INTO circular_targets (circular_id, org_id) SELECT $1, id FROM orgs WHERE id IN ({}) AND $2 <> $3 AND $4 > 0",
                chosen.iter().map(i64::to_string).collect::<Vec<_>>().join(",")),
            _ => "INSERT INTO circular_targets (circular_id, org_id) SELECT $1, id FROM orgs WHERE id = $4 AND $2 <> $3".to_string(),
        };
        sqlx::query(&q).bind(id).bind(&sender.path).bind(&upper).bind(sender.id).execute(&mut *x).await?.rows_affected()
    });
    if targets == 0 {
        return Err(AppError::field("audience", "发送范围内没有党组织"));
    }
    for (name, mime, bytes) in &checked {
        let digest = crate::blob::put(ctx, &mut tx, bytes).await?;
        on_tx!(&mut tx, x => {
            sqlx::query("INSERT INTO circular_files (circular_id, filename, mime, size, digest) VALUES ($1, $2, $3, $4, $5)")
                .bind(id).bind(name).bind(*mime).bind(bytes.len() as i64).bind(&digest).execute(&mut *x).await?;
        });
    }
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "circular.publish",
            object_type: "circular",
            object_id: id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"org_id": sender.id, "title": title, "audience": input.audience, "targets": targets,
                "needs_receipt": input.needs_receipt, "deadline": input.deadline, "files": checked.len()}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(load(ctx, id).await?.0)
}

/// A notice as one account sees it: the notice, how the account stands to it and, for a
/// receiving organisation, its receipt.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct View {
    pub circular: Circular,
    /// sender, receiver or member
    pub relation: String,
    /// The account's organisation has 签收ed (receiver), when and by whom.
    pub received_at: Option<DateTime<Utc>>,
    pub receiver: Option<String>,
}

/// Opens a notice for `p` (and records that the account has read it).
pub async fn open(ctx: &Ctx, p: &Principal, id: i64) -> AppResult<View> {
    let (c, path) = load(ctx, id).await?;
    let rel = relation(ctx, p, &c, &path).await?;
    let (received_at, receiver) = if rel == Relation::Receiver {
        on_db!(&ctx.db, x => {
            let r = sqlx::query("SELECT received_at, receiver FROM circular_targets WHERE circular_id = $1 AND org_id = $2")
                .bind(id).bind(p.org_id).fetch_one(x).await?;
            (r.opt_ts("received_at")?, r.opt_string("receiver")?)
        })
    } else {
        (None, None)
    };
    if rel != Relation::Sender && !p.read_only {
        let now = ctx.clock.now();
        let mut tx = ctx.db.begin().await?;
        on_tx!(&mut tx, x => {
            sqlx::query("INSERT INTO circular_reads (circular_id, account_id, read_at) VALUES ($1, $2, $3) ON CONFLICT (circular_id, account_id) DO NOTHING")
                .bind(id).bind(p.account_id).bind(now).execute(&mut *x).await?;
        });
        tx.commit().await?;
    }
    Ok(View {
        circular: c,
        relation: match rel {
            Relation::Sender => "sender",
            Relation::Receiver => "receiver",
            Relation::Member => "member",
        }
        .into(),
        received_at,
        receiver,
    })
}

/// 签收: the account's organisation acknowledges the notice (once; audited).
pub async fn receive(ctx: &Ctx, p: &Principal, id: i64) -> AppResult<View> {
    let (c, path) = load(ctx, id).await?;
    if relation(ctx, p, &c, &path).await? != Relation::Receiver {
        return Err(AppError::refused(
            "circular.not_receiver",
            "本组织不是该通知的接收方",
        ));
    }
    if !c.needs_receipt {
        return Err(AppError::refused(
            "circular.no_receipt",
            "该通知无需签收，阅读即可",
        ));
    }
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let n = on_tx!(&mut tx, x => {
        sqlx::query("UPDATE circular_targets SET received_by = $1, receiver = $2, received_at = $3 WHERE circular_id = $4 AND org_id = $5 AND received_at IS NULL")
            .bind(p.account_id).bind(&p.display_name).bind(now).bind(id).bind(p.org_id).execute(&mut *x).await?.rows_affected()
    });
    if n == 0 {
        return Err(AppError::refused("circular.received", "本组织已签收该通知"));
    }
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "circular.receive",
            object_type: "circular",
            object_id: id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"org_id": p.org_id}),
        },
    )
    .await?;
    tx.commit().await?;
    open(ctx, p, id).await
}

/// A receiving organisation as the sender sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Target {
    pub org_id: i64,
    pub org_name: String,
    pub received_at: Option<DateTime<Utc>>,
    pub receiver: Option<String>,
    pub reminded_at: Option<DateTime<Utc>>,
    pub reminders: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Receipts {
    pub targets: i64,
    pub received: i64,
    /// Accounts that have opened the notice (members' read receipts included).
    pub reads: i64,
    /// The receiving organisations asked for ([`ReceiptFilter`]), those not yet received
    /// first, then in the tree's order.
    pub rows: Vec<Target>,
    /// How many receiving organisations match the filter (`rows` is one page of them).
    pub matching: i64,
}

/// Which receiving organisations a notice's receipts list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default)]
pub struct ReceiptFilter {
    /// `pending` (not yet received), `received`, or empty for all.
    pub state: Option<String>,
    /// Organisations whose name contains it.
    pub name: Option<String>,
    pub offset: Option<i64>,
    /// At most 500; 500 when not given.
    pub limit: Option<i64>,
}

/// Who has received a notice (its sender's side).
pub async fn receipts(ctx: &Ctx, p: &Principal, id: i64, f: &ReceiptFilter) -> AppResult<Receipts> {
    let (c, path) = load(ctx, id).await?;
    if relation(ctx, p, &c, &path).await? != Relation::Sender {
        return Err(AppError::Forbidden("只有发文组织可查看签收情况".into()));
    }
    let mut b = SqlBuilder::default();
    let cid = b.arg(Val::I64(id));
    let mut cond = format!("t.circular_id = {cid}");
    match f.state.as_deref() {
        Some("pending") => cond.push_str(" AND t.received_at IS NULL"),
        Some("received") => cond.push_str(" AND t.received_at IS NOT NULL"),
        _ => {}
    }
    if let Some(name) = f.name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        let q = b.arg(Val::Str(format!(
            "%{}%",
            crate::member::store::like_escape(name)
        )));
        cond.push_str(&format!(" AND o.name LIKE {q} ESCAPE '\\'"));
    }
    let count_sql = format!(
        "SELECT COUNT(*) AS n FROM circular_targets t JOIN orgs o ON o.id = t.org_id WHERE {cond}"
    );
    let count_vals = b.vals.clone();
    let lim = b.arg(Val::I64(f.limit.unwrap_or(500).clamp(1, 500)));
    let off = b.arg(Val::I64(f.offset.unwrap_or(0).max(0)));
    let rows_sql = format!("SELECT t.org_id, o.name, t.received_at, t.receiver, t.reminded_at, t.reminders FROM circular_targets t JOIN orgs o ON o.id = t.org_id \
         WHERE {cond} ORDER BY CASE WHEN t.received_at IS NULL THEN 0 ELSE 1 END, o.path LIMIT {lim} OFFSET {off}");
    Ok(on_db!(&ctx.db, x => {
        let counts = sqlx::query("SELECT COUNT(*) AS n, COALESCE(SUM(CASE WHEN received_at IS NULL THEN 0 ELSE 1 END), 0) AS r FROM circular_targets WHERE circular_id = $1")
            .bind(id).fetch_one(x).await?;
        let reads = sqlx::query("SELECT COUNT(*) AS n FROM circular_reads WHERE circular_id = $1").bind(id).fetch_one(x).await?.i64("n")?;
        let matching = bind_vals!(sqlx::query(&count_sql), &count_vals).fetch_one(x).await?.i64("n")?;
        let rows = bind_vals!(sqlx::query(&rows_sql), &b.vals).fetch_all(x).await?;
        Receipts {
            targets: counts.i64("n")?,
            received: counts.i64("r")?,
            reads,
            rows: rows.iter().map(|r| Ok(Target { org_id: r.i64("org_id")?, org_name: r.string("name")?, received_at: r.opt_ts("received_at")?,
                receiver: r.opt_string("receiver")?, reminded_at: r.opt_ts("reminded_at")?, reminders: r.i64("reminders")? })).collect::<DbResult<Vec<_>>>()?,
            matching,
        }
    }))
}

/// Reminds the receiving organisations that have not received (all of them, or those given).
/// Returns how many were reminded.
pub async fn remind(ctx: &Ctx, p: &Principal, id: i64, org_ids: &[i64]) -> AppResult<i64> {
    let (c, path) = load(ctx, id).await?;
    if relation(ctx, p, &c, &path).await? != Relation::Sender {
        return Err(AppError::Forbidden("只有发文组织可以催办".into()));
    }
    if c.status != "published" || !c.needs_receipt {
        return Err(AppError::refused(
            "circular.no_receipt",
            "该通知无需签收或已撤回",
        ));
    }
    // at most the chosen organisations a notice may name; anything longer is "all of them"
    // written out, refused rather than put into one statement
    let mut org_ids = org_ids.to_vec();
    org_ids.sort_unstable();
    org_ids.dedup();
    if org_ids.len() > super::MAX_CHOSEN {
        return Err(AppError::field(
            "org_ids",
            format!(
                "一次最多指定{}个组织；催办全部未签收的组织时不必指定",
                super::MAX_CHOSEN
            ),
        ));
    }
    let filter = if org_ids.is_empty() {
        String::new()
    } else {
        format!(
            " AND org_id IN ({})",
            org_ids
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",")
        )
    };
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let n = on_tx!(&mut tx, x => {
        sqlx::query(&format!("UPDATE circular_targets SET reminded_at = $1, reminders = reminders + 1 WHERE circular_id = $2 AND received_at IS NULL{filter}"))
            .bind(now).bind(id).execute(&mut *x).await?.rows_affected() as i64
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "circular.remind",
            object_type: "circular",
            object_id: id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"reminded": n}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(n)
}

/// Withdraws a notice (its sender's side): receivers no longer see it.
pub async fn withdraw(ctx: &Ctx, p: &Principal, id: i64) -> AppResult<Circular> {
    let (c, path) = load(ctx, id).await?;
    if relation(ctx, p, &c, &path).await? != Relation::Sender {
        return Err(AppError::Forbidden("只有发文组织可以撤回".into()));
    }
    let mut tx = ctx.db.begin().await?;
    let now = tx.now;
    let n = on_tx!(&mut tx, x => {
        sqlx::query("UPDATE circulars SET status = 'withdrawn', withdrawn_at = $1, version = version + 1 WHERE id = $2 AND status = 'published'")
            .bind(now).bind(id).execute(&mut *x).await?.rows_affected()
    });
    if n == 0 {
        return Err(AppError::refused("circular.withdrawn", "该通知已撤回"));
    }
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "circular.withdraw",
            object_type: "circular",
            object_id: id.to_string(),
            before: serde_json::json!({"status": "published"}),
            after: serde_json::json!({"status": "withdrawn"}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(load(ctx, id).await?.0)
}

/// A notice in a list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CircularItem {
    pub id: i64,
    pub title: String,
    pub org_name: String,
    pub audience_label: String,
    pub needs_receipt: bool,
    pub deadline: Option<NaiveDate>,
    pub status: String,
    pub created_at: DateTime<Utc>,
    /// Receiver: whether the account's organisation has received; member: whether read.
    pub done: bool,
    /// Reminded by the sender and not yet received.
    pub reminded: bool,
    /// Sender: receiving organisations and how many have received.
    pub targets: Option<i64>,
    pub received: Option<i64>,
}

fn item(r: &impl DbRow, done: bool, reminded: bool) -> DbResult<CircularItem> {
    let audience = r.string("audience")?;
    Ok(CircularItem {
        id: r.i64("id")?,
        title: r.string("title")?,
        org_name: r.string("org_name")?,
        audience_label: super::audience_label(&audience).to_string(),
        needs_receipt: r.bool("needs_receipt")?,
        deadline: r.opt_date("deadline")?,
        status: r.string("status")?,
        created_at: r.ts("created_at")?,
        done,
        reminded,
        targets: None,
        received: None,
    })
}

/// Notices addressed to the account: to its organisation (staff and secretaries) and to the
/// members of a subtree holding its branch (members); those still to 签收 or read first.
pub async fn inbox(ctx: &Ctx, p: &Principal, limit: i64) -> AppResult<Vec<CircularItem>> {
    let mut out = Vec::new();
    if p.can(Perm::CircularReceive) {
        let rows = on_db!(&ctx.db, x => {
            let rows = sqlx::query("SELECT c.id, c.title, o.name AS org_name, c.audience, c.needs_receipt, c.deadline, c.status, c.created_at, t.received_at, t.reminded_at, \
                 (SELECT COUNT(*) FROM circular_reads r WHERE r.circular_id = c.id AND r.account_id = $2) AS read_n \
                 FROM circular_targets t JOIN circulars c ON c.id = t.circular_id JOIN orgs o ON o.id = c.org_id \
                 WHERE t.org_id = $1 AND c.status = 'published' AND c.audience <> 'members' ORDER BY c.id DESC LIMIT $3")
                .bind(p.org_id).bind(p.account_id).bind(limit).fetch_all(x).await?;
            rows.iter().map(|r| {
                let needs = r.bool("needs_receipt")?;
                let received = r.opt_ts("received_at")?.is_some();
                let done = if needs { received } else { r.i64("read_n")? > 0 };
                item(r, done, needs && !received && r.opt_ts("reminded_at")?.is_some())
            }).collect::<DbResult<Vec<_>>>()?
        });
        out.extend(rows);
    }
    if p.member_id.is_some() || p.has_role(Role::Member) || p.can(Perm::CircularReceive) {
        // a members' notice of any subtree that holds the account's organisation
        let ancestors = crate::org::path_ids(&p.org_path);
        if !ancestors.is_empty() {
            let list = ancestors
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",");
            let rows = on_db!(&ctx.db, x => {
                let rows = sqlx::query(&format!("SELECT c.id, c.title, o.name AS org_name, c.audience, c.needs_receipt, c.deadline, c.status, c.created_at, \
                     (SELECT COUNT(*) FROM circular_reads r WHERE r.circular_id = c.id AND r.account_id = $1) AS read_n \
                     FROM circular_targets t JOIN circulars c ON c.id = t.circular_id JOIN orgs o ON o.id = c.org_id \
                     WHERE t.org_id IN ({list}) AND c.status = 'published' AND c.audience = 'members' ORDER BY c.id DESC LIMIT $2"))
                    .bind(p.account_id).bind(limit).fetch_all(x).await?;
                rows.iter().map(|r| item(r, r.i64("read_n")? > 0, false)).collect::<DbResult<Vec<_>>>()?
            });
            out.extend(rows);
        }
    }
    out.sort_by(|a, b| a.done.cmp(&b.done).then(b.id.cmp(&a.id)));
    out.truncate(limit.max(1) as usize);
    Ok(out)
}

/// Notices sent by the account's organisation and its subtree, newest first, with their
/// receipt counts.
pub async fn sent(ctx: &Ctx, p: &Principal, limit: i64) -> AppResult<Vec<CircularItem>> {
    p.authorize(Perm::CircularSend, Some(&p.org_path))?;
    let upper = path_upper(&p.org_path);
    Ok(on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT c.id, c.title, o.name AS org_name, c.audience, c.needs_receipt, c.deadline, c.status, c.created_at, \
             (SELECT COUNT(*) FROM circular_targets t WHERE t.circular_id = c.id) AS targets, \
             (SELECT COUNT(*) FROM circular_targets t WHERE t.circular_id = c.id AND t.received_at IS NOT NULL) AS received \
             FROM circulars c JOIN orgs o ON o.id = c.org_id WHERE o.path >= $1 AND o.path < $2 ORDER BY c.id DESC LIMIT $3")
            .bind(&p.org_path).bind(&upper).bind(limit).fetch_all(x).await?;
        rows.iter().map(|r| {
            let mut i = item(r, true, false)?;
            i.targets = Some(r.i64("targets")?);
            i.received = Some(r.i64("received")?);
            Ok(i)
        }).collect::<DbResult<Vec<_>>>()?
    }))
}

/// The attachment `file_id` of a notice the account may open: (file, clear bytes).
pub async fn file(ctx: &Ctx, p: &Principal, file_id: i64) -> AppResult<(CircularFile, Vec<u8>)> {
    let cid = on_db!(&ctx.db, x => {
        match sqlx::query("SELECT circular_id FROM circular_files WHERE id = $1").bind(file_id).fetch_optional(x).await? {
            Some(r) => r.i64("circular_id")?,
            None => return Err(AppError::NotFound("附件")),
        }
    });
    let (c, path) = load(ctx, cid).await?;
    relation(ctx, p, &c, &path).await?;
    let f = c
        .files
        .into_iter()
        .find(|f| f.id == file_id)
        .ok_or(AppError::NotFound("附件"))?;
    let what = format!("通知“{}”的附件《{}》", c.title, f.filename);
    let bytes = crate::blob::content_named(ctx, &f.digest, &what).await?;
    Ok((f, bytes))
}
