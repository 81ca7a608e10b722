//! Organisation-relationship transfer (组织关系转接): sent by the member's branch side,
//! received (or returned) by the receiving side; the member moves only on receipt, in the
//! same transaction, so a member is in exactly one branch at every moment.

use crate::audit::{self, Actor, NewEntry};
use crate::db::{path_upper, DbResult, DbRow, Tx};
use crate::error::{AppError, AppResult};
use crate::{on_db, on_tx, Ctx};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Transfer {
    pub id: i64,
    pub member_id: i64,
    pub member_name: String,
    pub from_org_id: i64,
    pub from_org_name: String,
    pub to_org_id: i64,
    pub to_org_name: String,
    pub reason: String,
    /// sent, received, returned, cancelled
    pub status: String,
    pub sent_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub note: String,
}

/// Transfer states and their labels.
pub const STATUSES: [(&str, &str); 4] = [
    ("sent", "待接收"),
    ("received", "已接收"),
    ("returned", "已退回"),
    ("cancelled", "已撤回"),
];

impl Transfer {
    pub fn status_label(&self) -> &'static str {
        STATUSES
            .iter()
            .find(|(k, _)| *k == self.status)
            .map(|(_, v)| *v)
            .unwrap_or("未知")
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
pub struct NewTransfer {
    pub member_id: i64,
    pub to_org_id: i64,
    pub reason: String,
}

const COLUMNS: &str = "t.id, t.member_id, m.name AS member_name, t.from_org_id, f.name AS from_org_name, t.to_org_id, d.name AS to_org_name, t.reason, t.status, t.sent_at, t.decided_at, t.note, f.path AS from_path, d.path AS to_path";
const FROM: &str = "FROM transfers t JOIN members m ON m.id = t.member_id JOIN orgs f ON f.id = t.from_org_id JOIN orgs d ON d.id = t.to_org_id";

fn row(r: &impl DbRow) -> DbResult<(Transfer, String, String)> {
    Ok((
        Transfer {
            id: r.i64("id")?,
            member_id: r.i64("member_id")?,
            member_name: r.string("member_name")?,
            from_org_id: r.i64("from_org_id")?,
            from_org_name: r.string("from_org_name")?,
            to_org_id: r.i64("to_org_id")?,
            to_org_name: r.string("to_org_name")?,
            reason: r.string("reason")?,
            status: r.string("status")?,
            sent_at: r.ts("sent_at")?,
            decided_at: r.opt_ts("decided_at")?,
            note: r.string("note")?,
        },
        r.string("from_path")?,
        r.string("to_path")?,
    ))
}

/// A transfer with the paths of both sides (for scope checks).
pub async fn get(ctx: &Ctx, id: i64) -> AppResult<(Transfer, String, String)> {
    let sql = format!("SELECT {COLUMNS} {FROM} WHERE t.id = $1");
    on_db!(&ctx.db, p => {
        match sqlx::query(&sql).bind(id).fetch_optional(p).await? {
            Some(r) => Ok(row(&r)?),
            None => Err(AppError::NotFound("转接记录")),
        }
    })
}

async fn get_tx(tx: &mut Tx, id: i64) -> AppResult<Transfer> {
    let sql = format!("SELECT {COLUMNS} {FROM} WHERE t.id = $1");
    on_tx!(tx, c => {
        match sqlx::query(&sql).bind(id).fetch_optional(&mut *c).await? {
            Some(r) => Ok(row(&r)?.0),
            None => Err(AppError::NotFound("转接记录")),
        }
    })
}

/// Transfers touching the subtree at `scope_path` (either side), newest first.
pub async fn list(
    ctx: &Ctx,
    scope_path: &str,
    status: Option<&str>,
    limit: i64,
    offset: i64,
) -> AppResult<Vec<Transfer>> {
    Ok(list_sides(ctx, scope_path, status, limit, offset)
        .await?
        .into_iter()
        .map(|x| x.0)
        .collect())
}

/// [`list`] with each transfer's sending and receiving branches' paths (which side the
/// account is on decides what it may do).
pub async fn list_sides(
    ctx: &Ctx,
    scope_path: &str,
    status: Option<&str>,
    limit: i64,
    offset: i64,
) -> AppResult<Vec<(Transfer, String, String)>> {
    let upper = path_upper(scope_path);
    let sql = format!(
        "SELECT {COLUMNS} {FROM} WHERE {} ORDER BY t.id DESC LIMIT $4 OFFSET $5",
        scope_where(status)
    );
    let st = status.unwrap_or("").to_string();
    Ok(on_db!(&ctx.db, p => {
        let rows = sqlx::query(&sql).bind(scope_path).bind(&upper).bind(&st).bind(limit.clamp(1, 500)).bind(offset.max(0)).fetch_all(p).await?;
        rows.iter().map(row).collect::<DbResult<Vec<_>>>()?
    }))
}

/// How many transfers `list` would show without a limit.
pub async fn count(ctx: &Ctx, scope_path: &str, status: Option<&str>) -> AppResult<i64> {
    let upper = path_upper(scope_path);
    let sql = format!("SELECT COUNT(*) AS n {FROM} WHERE {}", scope_where(status));
    let st = status.unwrap_or("").to_string();
    Ok(on_db!(&ctx.db, p => {
        sqlx::query(&sql).bind(scope_path).bind(&upper).bind(&st).fetch_one(p).await?.i64("n")?
    }))
}

/// Transfers out of or into the subtree ($1, $2), optionally in one state ($3).
fn scope_where(status: Option<&str>) -> String {
    let status_sql = if status.is_some() {
        " AND t.status = $3"
    } else {
        " AND $3 = $3"
    };
    format!("((f.path >= $1 AND f.path < $2) OR (d.path >= $1 AND d.path < $2)){status_sql}")
}

pub async fn send(ctx: &Ctx, actor: &Actor, input: &NewTransfer) -> AppResult<Transfer> {
    let reason = input.reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err(AppError::field("reason", "请填写转接原因（200字以内）"));
    }
    let (member, _) = super::store::get(ctx, input.member_id).await?;
    if member.status == super::Status::Left.as_str() {
        return Err(super::discipline::left_refusal());
    }
    let to = crate::org::store::get(&ctx.db, input.to_org_id)
        .await
        .map_err(|_| AppError::field("to_org_id", "接收党组织不存在"))?;
    if !to.kind.holds_members() {
        return Err(AppError::field(
            "to_org_id",
            format!(
                "接收方应为党支部或联合党支部，“{}”是{}",
                to.name,
                to.kind.label()
            ),
        ));
    }
    if to.id == member.org_id {
        return Err(AppError::field("to_org_id", "接收党支部与现所在党支部相同"));
    }
    let mut tx = ctx.db.begin().await?;
    let open = on_tx!(&mut tx, c => {
        sqlx::query("SELECT id FROM transfers WHERE member_id = $1 AND status = 'sent'")
            .bind(member.id).fetch_optional(&mut *c).await?.is_some()
    });
    if open {
        return Err(AppError::refused(
            "transfer.already_open",
            "该党员已有一条待接收的转接，请先处理",
        ));
    }
    let id = on_tx!(&mut tx, c => {
        sqlx::query("INSERT INTO transfers (member_id, from_org_id, to_org_id, reason, status, sent_by, sent_at) VALUES ($1, $2, $3, $4, 'sent', $5, $6) RETURNING id")
            .bind(member.id).bind(member.org_id).bind(to.id).bind(reason).bind(actor.id.unwrap_or(0)).bind(ctx.clock.now())
            .fetch_one(&mut *c).await?.i64("id")?
    });
    let t = get_tx(&mut tx, id).await?;
    audit::append(
        &mut tx,
        actor,
        NewEntry {
            action: "transfer.send",
            object_type: "member",
            object_id: member.id.to_string(),
            before: serde_json::json!({"org_id": member.org_id}),
            after: serde_json::json!({"transfer_id": id, "to_org_id": to.id, "reason": reason}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(t)
}

/// The receiving side's decision: `accept` moves the member, otherwise the transfer is
/// returned with `note`. `cancel` is the sending side withdrawing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Receive,
    Return,
    Cancel,
}

pub async fn decide(
    ctx: &Ctx,
    actor: &Actor,
    id: i64,
    decision: Decision,
    note: &str,
) -> AppResult<Transfer> {
    if decision == Decision::Return && note.trim().is_empty() {
        return Err(AppError::field("note", "退回时请说明原因"));
    }
    let mut tx = ctx.db.begin().await?;
    let t = get_tx(&mut tx, id).await?;
    if t.status != "sent" {
        return Err(AppError::Conflict(format!(
            "该转接{}，不能再处理",
            t.status_label()
        )));
    }
    let new_status = match decision {
        Decision::Receive => "received",
        Decision::Return => "returned",
        Decision::Cancel => "cancelled",
    };
    let now = ctx.clock.now();
    let changed = on_tx!(&mut tx, c => {
        let n = sqlx::query("UPDATE transfers SET status = $1, decided_by = $2, decided_at = $3, note = $4 WHERE id = $5 AND status = 'sent'")
            .bind(new_status).bind(actor.id.unwrap_or(0)).bind(now).bind(note.trim()).bind(id)
            .execute(&mut *c).await?.rows_affected();
        if n == 1 && decision == Decision::Receive {
            sqlx::query("UPDATE members SET org_id = $1, group_id = NULL, version = version + 1, updated_at = $2 WHERE id = $3 AND org_id = $4")
                .bind(t.to_org_id).bind(now).bind(t.member_id).bind(t.from_org_id)
                .execute(&mut *c).await?;
        }
        n
    });
    if changed != 1 {
        return Err(AppError::Conflict("该转接已被处理".into()));
    }
    audit::append(
        &mut tx,
        actor,
        NewEntry {
            action: match decision {
                Decision::Receive => "transfer.receive",
                Decision::Return => "transfer.return",
                Decision::Cancel => "transfer.cancel",
            },
            object_type: "member",
            object_id: t.member_id.to_string(),
            before: serde_json::json!({"transfer_id": id, "status": "sent", "org_id": t.from_org_id}),
            after: serde_json::json!({"transfer_id": id, "status": new_status,
                "org_id": if decision == Decision::Receive { t.to_org_id } else { t.from_org_id }, "note": note.trim()}),
        },
    )
    .await?;
    let out = get_tx(&mut tx, id).await?;
    tx.commit().await?;
    Ok(out)
}
