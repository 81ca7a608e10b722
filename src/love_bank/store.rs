//! Persistence and use cases of the love bank. Balances and stock change only by conditional
//! updates (`... WHERE balance >= $n`), in the same transaction as the entry and its audit
//! record; a retried request with the same idempotency key is applied once.

use super::{LoveRules, Totals};
use crate::audit::{self, NewEntry};
use crate::auth::{Perm, Principal};
use crate::crypto::{mask_id_number, mask_phone};
use crate::db::{path_upper, DbResult, DbRow, Tx};
use crate::error::{AppError, AppResult};
use crate::org::Org;
use crate::{bind_vals, on_db, on_tx, Ctx};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub async fn rules_for(ctx: &Ctx, path: &str) -> AppResult<LoveRules> {
    Ok(crate::rules::effective::<LoveRules>(&ctx.db, path).await?.0)
}

// ---- cards ----

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Card {
    pub id: i64,
    pub org_id: i64,
    pub org_name: String,
    pub holder: String,
    /// Set when the holder is a Party member.
    pub member_id: Option<i64>,
    /// Masked.
    pub id_number: Option<String>,
    /// Masked.
    pub phone: Option<String>,
    pub address: String,
    pub issued_on: NaiveDate,
    pub balance: i64,
    pub version: i64,
}

const CARD_COLUMNS: &str = "c.id, c.org_id, o.name AS org_name, o.path, c.holder, c.member_id, c.id_masked, c.phone_masked, c.address, c.issued_on, c.balance, c.version";

fn card_row(r: &impl DbRow) -> DbResult<(Card, String)> {
    Ok((
        Card {
            id: r.i64("id")?,
            org_id: r.i64("org_id")?,
            org_name: r.string("org_name")?,
            holder: r.string("holder")?,
            member_id: r.opt_i64("member_id")?,
            id_number: r.opt_string("id_masked")?,
            phone: r.opt_string("phone_masked")?,
            address: r.string("address")?,
            issued_on: r.date("issued_on")?,
            balance: r.i64("balance")?,
            version: r.i64("version")?,
        },
        r.string("path")?,
    ))
}

pub async fn card(ctx: &Ctx, id: i64) -> AppResult<(Card, String)> {
    let sql = format!(
        "SELECT {CARD_COLUMNS} FROM love_cards c JOIN orgs o ON o.id = c.org_id WHERE c.id = $1"
    );
    on_db!(&ctx.db, x => {
        match sqlx::query(&sql).bind(id).fetch_optional(x).await? {
            Some(r) => Ok(card_row(&r)?),
            None => Err(AppError::NotFound("爱心卡")),
        }
    })
}

async fn card_tx(tx: &mut Tx, id: i64) -> AppResult<Card> {
    let sql = format!(
        "SELECT {CARD_COLUMNS} FROM love_cards c JOIN orgs o ON o.id = c.org_id WHERE c.id = $1"
    );
    on_tx!(tx, x => {
        match sqlx::query(&sql).bind(id).fetch_optional(&mut *x).await? {
            Some(r) => Ok(card_row(&r)?.0),
            None => Err(AppError::NotFound("爱心卡")),
        }
    })
}

pub const PER_PAGE: i64 = 50;

/// Cards under `scope_path` whose holder's name contains `q` (or, `q` being letters, reads
/// as it in pinyin).
pub async fn cards(ctx: &Ctx, scope_path: &str, q: &str, page: i64) -> AppResult<(Vec<Card>, i64)> {
    let pinyin = crate::member::pinyin::matching(
        &ctx.db,
        "SELECT c.id, c.holder AS name FROM love_cards c JOIN orgs o ON o.id = c.org_id WHERE o.path >= $1 AND o.path < $2",
        scope_path,
        q,
    )
    .await?;
    let like = format!("%{}%", crate::member::store::like_escape(q.trim()));
    let page = page.clamp(1, 100_000);
    let mut b = crate::db::SqlBuilder::subtree("o.path", scope_path);
    crate::member::pinyin::name_or_ids(
        &mut b,
        "c.holder LIKE ? ESCAPE '\\'",
        like,
        "c.id",
        &pinyin,
    );
    let sql = format!("SELECT {CARD_COLUMNS} FROM love_cards c JOIN orgs o ON o.id = c.org_id{} ORDER BY c.id LIMIT {PER_PAGE} OFFSET {}", b.sql, (page - 1) * PER_PAGE);
    let count = format!(
        "SELECT COUNT(*) AS n FROM love_cards c JOIN orgs o ON o.id = c.org_id{}",
        b.sql
    );
    on_db!(&ctx.db, x => {
        let rows = bind_vals!(sqlx::query(&sql), &b.vals).fetch_all(x).await?;
        let total = bind_vals!(sqlx::query(&count), &b.vals).fetch_one(x).await?.i64("n")?;
        Ok((rows.iter().map(|r| card_row(r).map(|c| c.0)).collect::<DbResult<Vec<_>>>()?, total))
    })
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct NewCard {
    /// The community (or any organisation) that runs the bank.
    pub org_id: i64,
    pub holder: String,
    /// Optional; one card per person and community when given.
    pub id_number: String,
    pub phone: String,
    pub address: String,
    pub issued_on: Option<NaiveDate>,
}

/// Issues a card; a holder whose ID number is on the roster is linked to the member.
pub async fn issue(ctx: &Ctx, p: &Principal, input: &NewCard) -> AppResult<Card> {
    let org = crate::org::store::get(&ctx.db, input.org_id)
        .await
        .map_err(|_| AppError::field("org_id", "请选择社区"))?;
    p.authorize(Perm::LoveWrite, Some(&org.path))?;
    let mut c = crate::error::Checks::default();
    let holder = input.holder.trim();
    c.check(
        !holder.is_empty() && holder.chars().count() <= 30,
        "holder",
        "请填写持卡人姓名（30字以内）",
    );
    let id_number = input.id_number.trim().to_ascii_uppercase();
    if !id_number.is_empty() {
        if let Err(m) = crate::member::idcard::parse(&id_number) {
            c.add("id_number", m);
        }
    }
    let phone = input.phone.trim();
    c.check(
        phone.is_empty() || crate::member::rules::valid_phone(phone),
        "phone",
        "手机号码应为11位数字",
    );
    c.check(
        input.address.trim().chars().count() <= 100,
        "address",
        "住址不超过100字",
    );
    let today = ctx.clock.today();
    let issued_on = input.issued_on.unwrap_or(today);
    c.check(issued_on <= today, "issued_on", "日期不能晚于今天");
    c.finish()?;
    let idx = (!id_number.is_empty()).then(|| ctx.vault.blind_index("id", &id_number));
    let mut tx = ctx.db.begin().await?;
    let (taken, member) = on_tx!(&mut tx, x => {
        let taken = match &idx {
            Some(i) => sqlx::query("SELECT id FROM love_cards WHERE org_id = $1 AND id_idx = $2").bind(org.id).bind(i).fetch_optional(&mut *x).await?.is_some(),
            None => false,
        };
        // linked to the roll only within the account's subtree: a card answers alike for a
        // member elsewhere and for anyone else (a typed number never confirms a guess)
        let member = match &idx {
            Some(i) => sqlx::query("SELECT m.id FROM members m JOIN orgs o ON o.id = m.org_id WHERE m.id_idx = $1 AND o.path >= $2 AND o.path < $3")
                .bind(i).bind(&p.org_path).bind(crate::db::path_upper(&p.org_path))
                .fetch_optional(&mut *x).await?.map(|r| r.i64("id")).transpose()?,
            None => None,
        };
        (taken, member)
    });
    if taken {
        return Err(AppError::field("id_number", "此人在本社区已有爱心卡"));
    }
    let id = tx.reserve_ids("love_cards", 1).await?[0];
    let aad = |col| crate::crypto::aad("love_cards", col, id);
    on_tx!(&mut tx, x => {
        sqlx::query("INSERT INTO love_cards (id, org_id, holder, member_id, id_enc, id_idx, id_masked, phone_enc, phone_masked, key_version, address, issued_on, balance, created_at) \
                     VALUES ($13, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, $12)")
            .bind(org.id).bind(holder).bind(member)
            .bind((!id_number.is_empty()).then(|| ctx.vault.encrypt(&aad("id_enc"), &id_number))).bind(&idx)
            .bind((!id_number.is_empty()).then(|| mask_id_number(&id_number)))
            .bind((!phone.is_empty()).then(|| ctx.vault.encrypt(&aad("phone_enc"), phone))).bind((!phone.is_empty()).then(|| mask_phone(phone)))
            .bind(ctx.vault.key_version() as i64).bind(input.address.trim()).bind(issued_on).bind(ctx.clock.now()).bind(id)
            .execute(&mut *x).await?;
    });
    let card = card_tx(&mut tx, id).await?;
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "love.card",
            object_type: "love_card",
            object_id: id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::to_value(&card).unwrap_or_default(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(card)
}

// ---- entries ----

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = LoveEntry)]
pub struct Entry {
    pub id: i64,
    pub card_id: i64,
    /// earn, redeem, reverse
    pub kind: String,
    pub service: Option<String>,
    pub goods_id: Option<i64>,
    pub goods_name: Option<String>,
    pub quantity: i64,
    /// Signed: earned points positive, redeemed negative.
    pub points: i64,
    pub done_on: NaiveDate,
    pub note: String,
    pub reverses_id: Option<i64>,
    /// Set on an entry that a later reversal cancelled.
    pub reversed: bool,
}

const ENTRY_COLUMNS: &str = "e.id, e.card_id, e.kind, e.service, e.goods_id, g.name AS goods_name, e.quantity, e.points, e.done_on, e.note, e.reverses_id, (SELECT COUNT(*) FROM love_entries r WHERE r.reverses_id = e.id) AS reversed";

fn entry_row(r: &impl DbRow) -> DbResult<Entry> {
    Ok(Entry {
        id: r.i64("id")?,
        card_id: r.i64("card_id")?,
        kind: r.string("kind")?,
        service: r.opt_string("service")?,
        goods_id: r.opt_i64("goods_id")?,
        goods_name: r.opt_string("goods_name")?,
        quantity: r.i64("quantity")?,
        points: r.i64("points")?,
        done_on: r.date("done_on")?,
        note: r.string("note")?,
        reverses_id: r.opt_i64("reverses_id")?,
        reversed: r.i64("reversed")? > 0,
    })
}

pub async fn entries(ctx: &Ctx, card_id: i64) -> AppResult<Vec<Entry>> {
    let sql = format!("SELECT {ENTRY_COLUMNS} FROM love_entries e LEFT JOIN love_goods g ON g.id = e.goods_id WHERE e.card_id = $1 ORDER BY e.id DESC LIMIT 500");
    on_db!(&ctx.db, x => {
        let rows = sqlx::query(&sql).bind(card_id).fetch_all(x).await?;
        Ok(rows.iter().map(entry_row).collect::<DbResult<Vec<_>>>()?)
    })
}

async fn entry_tx(tx: &mut Tx, id: i64) -> AppResult<Entry> {
    let sql = format!("SELECT {ENTRY_COLUMNS} FROM love_entries e LEFT JOIN love_goods g ON g.id = e.goods_id WHERE e.id = $1");
    on_tx!(tx, x => {
        match sqlx::query(&sql).bind(id).fetch_optional(&mut *x).await? {
            Some(r) => Ok(entry_row(&r)?),
            None => Err(AppError::NotFound("积分记录")),
        }
    })
}

async fn by_key(ctx: &Ctx, key: &str) -> AppResult<Option<Entry>> {
    let sql = format!("SELECT {ENTRY_COLUMNS} FROM love_entries e LEFT JOIN love_goods g ON g.id = e.goods_id WHERE e.idempotency_key = $1");
    on_db!(&ctx.db, x => {
        Ok(match sqlx::query(&sql).bind(key).fetch_optional(x).await? {
            Some(r) => Some(entry_row(&r)?),
            None => None,
        })
    })
}

/// A retried request: the entry its key already made (on the same card), if any.
async fn replay(ctx: &Ctx, card_id: i64, key: &Option<String>) -> AppResult<Option<Entry>> {
    let Some(k) = key else { return Ok(None) };
    match by_key(ctx, k).await? {
        Some(e) if e.card_id == card_id => Ok(Some(e)),
        Some(_) => Err(AppError::Conflict("该幂等键已用于另一张爱心卡".into())),
        None => Ok(None),
    }
}

/// Runs `f`; when it fails because a concurrent request with the same key won, returns that
/// request's entry instead.
async fn once<F, Fut>(ctx: &Ctx, card_id: i64, key: &Option<String>, f: F) -> AppResult<Entry>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = AppResult<Entry>>,
{
    if let Some(e) = replay(ctx, card_id, key).await? {
        return Ok(e);
    }
    match f().await {
        Err(AppError::Db(e)) if e.is_constraint() && key.is_some() => {
            replay(ctx, card_id, key).await?.ok_or(AppError::Db(e))
        }
        other => other,
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct EarnInput {
    /// A service key of the rule set.
    pub service: String,
    pub done_on: Option<NaiveDate>,
    pub note: String,
    /// A retried request with the same key is applied once.
    pub idempotency_key: Option<String>,
}

/// Records a service: the card earns the service's points (within the daily cap).
pub async fn earn(ctx: &Ctx, p: &Principal, card_id: i64, input: &EarnInput) -> AppResult<Entry> {
    let key = crate::idempotency::clean(input.idempotency_key.as_deref())?;
    let (c, path) = card(ctx, card_id).await?;
    p.authorize(Perm::LoveWrite, Some(&path))?;
    let r = rules_for(ctx, &path).await?;
    let today = ctx.clock.today();
    let on = input.done_on.unwrap_or(today);
    if on > today || on < c.issued_on {
        return Err(AppError::field("done_on", "日期应在发卡日期与今天之间"));
    }
    let note = input.note.trim();
    if note.chars().count() > 200 {
        return Err(AppError::field("note", "说明不超过200字"));
    }
    once(ctx, card_id, &key, || async {
        let mut tx = ctx.db.begin().await?;
        // the card's row first: the day's total below cannot change under us
        let n = on_tx!(&mut tx, x => {
            sqlx::query("UPDATE love_cards SET version = version + 1 WHERE id = $1").bind(c.id).execute(&mut *x).await?.rows_affected()
        });
        if n != 1 {
            return Err(AppError::NotFound("爱心卡"));
        }
        let earned_today = on_tx!(&mut tx, x => {
            sqlx::query("SELECT CAST(COALESCE(SUM(points), 0) AS BIGINT) AS n FROM love_entries WHERE card_id = $1 AND kind = 'earn' AND done_on = $2")
                .bind(c.id).bind(on).fetch_one(&mut *x).await?.i64("n")?
        });
        let pts = super::earn(&input.service, earned_today, &r)?;
        let id = on_tx!(&mut tx, x => {
            let id = sqlx::query("INSERT INTO love_entries (card_id, org_id, kind, service, quantity, points, done_on, note, idempotency_key, recorded_by, at) VALUES ($1, $2, 'earn', $3, 1, $4, $5, $6, $7, $8, $9) RETURNING id")
                .bind(c.id).bind(c.org_id).bind(&input.service).bind(pts).bind(on).bind(note).bind(&key).bind(p.account_id).bind(ctx.clock.now())
                .fetch_one(&mut *x).await?.i64("id")?;
            sqlx::query("UPDATE love_cards SET balance = balance + $1 WHERE id = $2").bind(pts).bind(c.id).execute(&mut *x).await?;
            id
        });
        audit::append(
            &mut tx,
            &p.actor(),
            NewEntry {
                action: "love.earn",
                object_type: "love_card",
                object_id: c.id.to_string(),
                before: serde_json::json!({"balance": c.balance}),
                after: serde_json::json!({"entry_id": id, "service": input.service, "points": pts, "done_on": on, "note": note}),
            },
        )
        .await?;
        let e = entry_tx(&mut tx, id).await?;
        tx.commit().await?;
        Ok(e)
    })
    .await
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct RedeemInput {
    pub goods_id: i64,
    pub quantity: i64,
    /// A retried request with the same key is applied once.
    pub idempotency_key: Option<String>,
}

/// Redeems goods: the stock and the balance go down together, or nothing happens. Neither
/// can go below zero, however many redemptions race.
pub async fn redeem(
    ctx: &Ctx,
    p: &Principal,
    card_id: i64,
    input: &RedeemInput,
) -> AppResult<Entry> {
    let key = crate::idempotency::clean(input.idempotency_key.as_deref())?;
    let (c, path) = card(ctx, card_id).await?;
    p.authorize(Perm::LoveWrite, Some(&path))?;
    let r = rules_for(ctx, &path).await?;
    let g = goods_one(ctx, input.goods_id).await?;
    if g.org_id != c.org_id || !g.active {
        return Err(AppError::field("goods_id", "本社区没有这种物品"));
    }
    let points = super::cost(g.price, input.quantity, &r)?;
    once(ctx, card_id, &key, || async {
        let mut tx = ctx.db.begin().await?;
        let stock = on_tx!(&mut tx, x => {
            sqlx::query("UPDATE love_goods SET stock = stock - $1 WHERE id = $2 AND stock >= $1").bind(input.quantity).bind(g.id).execute(&mut *x).await?.rows_affected()
        });
        if stock != 1 {
            return Err(AppError::refused(
                "love.out_of_stock",
                format!("“{}”库存不足", g.name),
            ));
        }
        let paid = on_tx!(&mut tx, x => {
            sqlx::query("UPDATE love_cards SET balance = balance - $1, version = version + 1 WHERE id = $2 AND balance >= $1").bind(points).bind(c.id).execute(&mut *x).await?.rows_affected()
        });
        if paid != 1 {
            let now = card_tx(&mut tx, c.id).await?.balance;
            return Err(AppError::refused(
                "love.insufficient",
                format!("爱心积分不足：需要{points}分，现有{now}分"),
            ));
        }
        let today = ctx.clock.today();
        let id = on_tx!(&mut tx, x => {
            sqlx::query("INSERT INTO love_entries (card_id, org_id, kind, goods_id, quantity, points, done_on, note, idempotency_key, recorded_by, at) VALUES ($1, $2, 'redeem', $3, $4, $5, $6, '', $7, $8, $9) RETURNING id")
                .bind(c.id).bind(c.org_id).bind(g.id).bind(input.quantity).bind(-points).bind(today).bind(&key).bind(p.account_id).bind(ctx.clock.now())
                .fetch_one(&mut *x).await?.i64("id")?
        });
        audit::append(
            &mut tx,
            &p.actor(),
            NewEntry {
                action: "love.redeem",
                object_type: "love_card",
                object_id: c.id.to_string(),
                before: serde_json::json!({"balance": c.balance, "stock": g.stock}),
                after: serde_json::json!({"entry_id": id, "goods_id": g.id, "goods": g.name, "quantity": input.quantity, "points": -points}),
            },
        )
        .await?;
        let e = entry_tx(&mut tx, id).await?;
        tx.commit().await?;
        Ok(e)
    })
    .await
}

/// Cancels an entry by a reversing one (never an edit): an earning taken back (if the points
/// are still on the card), a redemption given back (points returned, goods restocked).
pub async fn reverse(ctx: &Ctx, p: &Principal, entry_id: i64, reason: &str) -> AppResult<Entry> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 200 {
        return Err(AppError::field("reason", "请写明冲正原因（200字以内）"));
    }
    let card_id = on_db!(&ctx.db, x => {
        match sqlx::query("SELECT card_id FROM love_entries WHERE id = $1").bind(entry_id).fetch_optional(x).await? {
            Some(r) => r.i64("card_id")?,
            None => return Err(AppError::NotFound("积分记录")),
        }
    });
    let (c, path) = card(ctx, card_id).await?;
    p.authorize(Perm::LoveWrite, Some(&path))?;
    let mut tx = ctx.db.begin().await?;
    let e = entry_tx(&mut tx, entry_id).await?;
    if e.kind == "reverse" {
        return Err(AppError::refused("love.reversal", "冲正记录不能再冲正"));
    }
    if e.reversed {
        return Err(AppError::Conflict("该记录已冲正".into()));
    }
    let back = -e.points;
    let changed = on_tx!(&mut tx, x => {
        sqlx::query("UPDATE love_cards SET balance = balance + $1, version = version + 1 WHERE id = $2 AND balance + $1 >= 0").bind(back).bind(c.id).execute(&mut *x).await?.rows_affected()
    });
    if changed != 1 {
        return Err(AppError::refused(
            "love.spent",
            "这笔积分已被兑换使用，不能冲正",
        ));
    }
    if let (Some(g), "redeem") = (e.goods_id, e.kind.as_str()) {
        on_tx!(&mut tx, x => {
            sqlx::query("UPDATE love_goods SET stock = stock + $1 WHERE id = $2").bind(e.quantity).bind(g).execute(&mut *x).await?;
        });
    }
    let id = on_tx!(&mut tx, x => {
        sqlx::query("INSERT INTO love_entries (card_id, org_id, kind, service, goods_id, quantity, points, done_on, note, reverses_id, recorded_by, at) VALUES ($1, $2, 'reverse', $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id")
            .bind(c.id).bind(c.org_id).bind(&e.service).bind(e.goods_id).bind(e.quantity).bind(back).bind(ctx.clock.today()).bind(reason).bind(e.id).bind(p.account_id).bind(ctx.clock.now())
            .fetch_one(&mut *x).await?.i64("id")?
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "love.reverse",
            object_type: "love_card",
            object_id: c.id.to_string(),
            before: serde_json::json!({"entry_id": e.id, "kind": e.kind, "points": e.points}),
            after: serde_json::json!({"entry_id": id, "points": back, "reason": reason}),
        },
    )
    .await?;
    let out = entry_tx(&mut tx, id).await?;
    tx.commit().await?;
    Ok(out)
}

// ---- goods ----

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Goods {
    pub id: i64,
    pub org_id: i64,
    pub name: String,
    /// 袋, 瓶, 包 ...
    pub unit: String,
    /// Points per unit.
    pub price: i64,
    pub stock: i64,
    pub active: bool,
}

fn goods_row(r: &impl DbRow) -> DbResult<Goods> {
    Ok(Goods {
        id: r.i64("id")?,
        org_id: r.i64("org_id")?,
        name: r.string("name")?,
        unit: r.string("unit")?,
        price: r.i64("price")?,
        stock: r.i64("stock")?,
        active: r.bool("active")?,
    })
}

pub async fn goods_one(ctx: &Ctx, id: i64) -> AppResult<Goods> {
    on_db!(&ctx.db, x => {
        match sqlx::query("SELECT id, org_id, name, unit, price, stock, active FROM love_goods WHERE id = $1").bind(id).fetch_optional(x).await? {
            Some(r) => Ok(goods_row(&r)?),
            None => Err(AppError::field("goods_id", "没有这种物品")),
        }
    })
}

pub async fn goods(ctx: &Ctx, org_id: i64) -> AppResult<Vec<Goods>> {
    on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT id, org_id, name, unit, price, stock, active FROM love_goods WHERE org_id = $1 ORDER BY price, id").bind(org_id).fetch_all(x).await?;
        Ok(rows.iter().map(goods_row).collect::<DbResult<Vec<_>>>()?)
    })
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct NewGoods {
    pub org_id: i64,
    pub name: String,
    pub unit: String,
    pub price: i64,
    pub stock: i64,
}

pub async fn add_goods(ctx: &Ctx, p: &Principal, input: &NewGoods) -> AppResult<Goods> {
    let org = crate::org::store::get(&ctx.db, input.org_id)
        .await
        .map_err(|_| AppError::field("org_id", "请选择社区"))?;
    p.authorize(Perm::LoveWrite, Some(&org.path))?;
    let mut c = crate::error::Checks::default();
    c.check(
        !input.name.trim().is_empty() && input.name.trim().chars().count() <= 30,
        "name",
        "请填写物品名称（30字以内）",
    );
    c.check(
        !input.unit.trim().is_empty() && input.unit.trim().chars().count() <= 5,
        "unit",
        "请填写单位（如：袋、瓶）",
    );
    c.check(
        (1..=10_000).contains(&input.price),
        "price",
        "兑换积分应为1至10000",
    );
    c.check(
        (0..=100_000).contains(&input.stock),
        "stock",
        "库存应为0至100000",
    );
    c.finish()?;
    let mut tx = ctx.db.begin().await?;
    let id = on_tx!(&mut tx, x => {
        let id = sqlx::query("INSERT INTO love_goods (org_id, name, unit, price, stock, active, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id")
            .bind(org.id).bind(input.name.trim()).bind(input.unit.trim()).bind(input.price).bind(input.stock).bind(true).bind(ctx.clock.now())
            .fetch_one(&mut *x).await?.i64("id")?;
        if input.stock > 0 {
            sqlx::query("INSERT INTO love_stock (goods_id, quantity, note, done_on, recorded_by, at) VALUES ($1, $2, '首次入库', $3, $4, $5)")
                .bind(id).bind(input.stock).bind(ctx.clock.today()).bind(p.account_id).bind(ctx.clock.now()).execute(&mut *x).await?;
        }
        id
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "love.goods",
            object_type: "love_goods",
            object_id: id.to_string(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"org_id": org.id, "name": input.name.trim(), "unit": input.unit.trim(), "price": input.price, "stock": input.stock}),
        },
    )
    .await?;
    tx.commit().await?;
    goods_one(ctx, id).await
}

/// Goods received (positive) or written off (negative, never below zero), recorded and
/// audited.
pub async fn restock(
    ctx: &Ctx,
    p: &Principal,
    goods_id: i64,
    quantity: i64,
    note: &str,
) -> AppResult<Goods> {
    let g = goods_one(ctx, goods_id).await?;
    let org = crate::org::store::get(&ctx.db, g.org_id).await?;
    p.authorize(Perm::LoveWrite, Some(&org.path))?;
    if quantity == 0 || quantity.abs() > 100_000 {
        return Err(AppError::field(
            "quantity",
            "数量应为非零整数（入库为正，报损为负）",
        ));
    }
    let note = note.trim();
    if quantity < 0 && note.is_empty() {
        return Err(AppError::field("note", "报损须写明原因"));
    }
    let mut tx = ctx.db.begin().await?;
    let n = on_tx!(&mut tx, x => {
        sqlx::query("UPDATE love_goods SET stock = stock + $1 WHERE id = $2 AND stock + $1 >= 0").bind(quantity).bind(g.id).execute(&mut *x).await?.rows_affected()
    });
    if n != 1 {
        return Err(AppError::refused(
            "love.out_of_stock",
            format!("“{}”库存不足", g.name),
        ));
    }
    on_tx!(&mut tx, x => {
        sqlx::query("INSERT INTO love_stock (goods_id, quantity, note, done_on, recorded_by, at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(g.id).bind(quantity).bind(note).bind(ctx.clock.today()).bind(p.account_id).bind(ctx.clock.now()).execute(&mut *x).await?;
    });
    audit::append(
        &mut tx,
        &p.actor(),
        NewEntry {
            action: "love.stock",
            object_type: "love_goods",
            object_id: g.id.to_string(),
            before: serde_json::json!({"stock": g.stock}),
            after: serde_json::json!({"quantity": quantity, "note": note}),
        },
    )
    .await?;
    tx.commit().await?;
    goods_one(ctx, g.id).await
}

// ---- the monthly statement ----

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Statement {
    pub org_id: i64,
    pub org_name: String,
    /// YYYY-MM
    pub month: String,
    pub totals: Totals,
    /// Service name → (times, points) in the month.
    pub services: Vec<(String, i64, i64)>,
    /// Goods name → (quantity, points) redeemed in the month.
    pub goods: Vec<(String, i64, i64)>,
    pub cards: i64,
    pub active_cards: i64,
    /// The balances on the cards now; equals the sum of every entry (checked).
    pub balances: i64,
    pub reconciled: bool,
}

/// [`statement_uncached`] as a heavy read (`crate::heavy`): bounded, shared by identical
/// concurrent requests, refused quickly when the server is full of them.
pub async fn statement(ctx: &Ctx, org: &Org, month: &str) -> AppResult<Statement> {
    let key = format!("love.statement|{}|{month}", org.id);
    ctx.heavy
        .run_cloned(&key, || statement_uncached(ctx, org, month))
        .await
}

async fn statement_uncached(ctx: &Ctx, org: &Org, month: &str) -> AppResult<Statement> {
    let (start, end) = crate::rectification::store::month_bounds(month)
        .ok_or_else(|| AppError::field("month", "月份格式应为YYYY-MM"))?;
    let r = rules_for(ctx, &org.path).await?;
    let upper = path_upper(&org.path);
    let (rows, cards, balances, all_entries) = on_db!(&ctx.db, x => {
        let rows = sqlx::query("SELECT e.kind, e.service, g.name AS goods, e.quantity, e.points, e.done_on, e.card_id FROM love_entries e JOIN love_cards c ON c.id = e.card_id JOIN orgs o ON o.id = c.org_id LEFT JOIN love_goods g ON g.id = e.goods_id WHERE o.path >= $1 AND o.path < $2 AND e.done_on <= $3")
            .bind(&org.path).bind(&upper).bind(end).fetch_all(x).await?;
        let rows = rows.iter().map(|r| Ok((r.string("kind")?, r.opt_string("service")?, r.opt_string("goods")?, r.i64("quantity")?, r.i64("points")?, r.date("done_on")?, r.i64("card_id")?))).collect::<DbResult<Vec<_>>>()?;
        let cards = sqlx::query("SELECT COUNT(*) AS n, CAST(COALESCE(SUM(c.balance), 0) AS BIGINT) AS b FROM love_cards c JOIN orgs o ON o.id = c.org_id WHERE o.path >= $1 AND o.path < $2")
            .bind(&org.path).bind(&upper).fetch_one(x).await?;
        let all = sqlx::query("SELECT CAST(COALESCE(SUM(e.points), 0) AS BIGINT) AS s FROM love_entries e JOIN love_cards c ON c.id = e.card_id JOIN orgs o ON o.id = c.org_id WHERE o.path >= $1 AND o.path < $2")
            .bind(&org.path).bind(&upper).fetch_one(x).await?.i64("s")?;
        (rows, cards.i64("n")?, cards.i64("b")?, all)
    });
    let totals = super::totals(
        rows.iter()
            .map(|(k, _, _, _, p, d, _)| (k.as_str(), *p, *d < start)),
    );
    let mut services: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let mut goods: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let mut active = std::collections::BTreeSet::new();
    for (kind, service, g, q, pts, d, card) in &rows {
        if *d < start {
            continue;
        }
        active.insert(*card);
        match kind.as_str() {
            "earn" => {
                let name = service
                    .as_deref()
                    .and_then(|k| r.service(k))
                    .map(|s| s.name.clone())
                    .unwrap_or_else(|| service.clone().unwrap_or_default());
                let e = services.entry(name).or_default();
                e.0 += 1;
                e.1 += pts;
            }
            "redeem" => {
                let e = goods.entry(g.clone().unwrap_or_default()).or_default();
                e.0 += q;
                e.1 -= pts;
            }
            _ => {}
        }
    }
    Ok(Statement {
        org_id: org.id,
        org_name: org.name.clone(),
        month: month.to_string(),
        totals,
        services: services.into_iter().map(|(k, (n, p))| (k, n, p)).collect(),
        goods: goods.into_iter().map(|(k, (n, p))| (k, n, p)).collect(),
        cards,
        active_cards: active.len() as i64,
        reconciled: balances == all_entries,
        balances,
    })
}
