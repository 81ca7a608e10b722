//! One community's love bank (卫东区's model): residents' cards, a year of services and
//! redemptions with a busy current month, and a shelf of everyday goods. Balances and stock
//! are kept exactly as the use cases keep them (never negative, equal to the entries).

use super::names::{GIVEN_FEMALE, GIVEN_MALE, SURNAMES};
use super::{pick_str, weighted};
use crate::db::{DbRow, Tx};
use crate::error::AppResult;
use crate::love_bank::LoveRules;
use crate::{on_tx, Ctx};
use chrono::{Datelike, Duration, NaiveDate};
use rand::rngs::StdRng;
use rand::Rng;

const GOODS: [(&str, &str, i64, i64); 6] = [
    ("食盐", "袋", 5, 200),
    ("酱油", "瓶", 8, 120),
    ("洗衣粉", "袋", 10, 100),
    ("香皂", "块", 6, 150),
    ("毛巾", "条", 12, 80),
    ("大米", "袋", 30, 40),
];

/// Writes the bank of `community`; returns the number of cards.
pub(super) async fn generate(
    ctx: &Ctx,
    tx: &mut Tx,
    rng: &mut StdRng,
    community: i64,
    as_of: NaiveDate,
) -> AppResult<usize> {
    let r = LoveRules::default();
    let now = ctx.clock.now();
    let mut goods = Vec::new();
    for (name, unit, price, stock) in GOODS {
        let id = on_tx!(tx, c => {
            let id = sqlx::query("INSERT INTO love_goods (org_id, name, unit, price, stock, active, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id")
                .bind(community).bind(name).bind(unit).bind(price).bind(stock).bind(true).bind(now)
                .fetch_one(&mut *c).await?.i64("id")?;
            sqlx::query("INSERT INTO love_stock (goods_id, quantity, note, done_on, recorded_by, at) VALUES ($1, $2, '首次入库', $3, NULL, $4)")
                .bind(id).bind(stock).bind(as_of - Duration::days(365)).bind(now).execute(&mut *c).await?;
            id
        });
        goods.push((id, price, stock));
    }
    let n = 120;
    let month_start = NaiveDate::from_ymd_opt(as_of.year(), as_of.month(), 1).unwrap_or(as_of);
    for _ in 0..n {
        let female = rng.gen_bool(0.55);
        let mut holder = weighted(rng, SURNAMES).to_string();
        holder.push_str(pick_str(
            rng,
            if female { GIVEN_FEMALE } else { GIVEN_MALE },
        ));
        let issued = as_of - Duration::days(rng.gen_range(30..365));
        let card = on_tx!(tx, c => {
            sqlx::query("INSERT INTO love_cards (org_id, holder, key_version, address, issued_on, balance, created_at) VALUES ($1, $2, $3, $4, $5, 0, $6) RETURNING id")
                .bind(community).bind(&holder).bind(ctx.vault.key_version() as i64)
                .bind(format!("{}号楼{}单元", rng.gen_range(1..30), rng.gen_range(1..5))).bind(issued).bind(now)
                .fetch_one(&mut *c).await?.i64("id")?
        });
        let mut balance = 0i64;
        let mut d = issued;
        while d <= as_of {
            // a busier current month
            let p_service = if d >= month_start { 0.25 } else { 0.06 };
            if rng.gen_bool(p_service) {
                let s = &r.services[rng.gen_range(0..r.services.len())];
                balance += s.points;
                on_tx!(tx, c => {
                    sqlx::query("INSERT INTO love_entries (card_id, org_id, kind, service, quantity, points, done_on, note, at) VALUES ($1, $2, 'earn', $3, 1, $4, $5, '', $6)")
                        .bind(card).bind(community).bind(&s.key).bind(s.points).bind(d).bind(now).execute(&mut *c).await?;
                });
            }
            if rng.gen_bool(0.04) {
                let k = rng.gen_range(0..goods.len());
                let (gid, price, stock) = goods[k];
                if balance >= price && stock >= 1 {
                    balance -= price;
                    goods[k].2 -= 1;
                    on_tx!(tx, c => {
                        sqlx::query("INSERT INTO love_entries (card_id, org_id, kind, goods_id, quantity, points, done_on, note, at) VALUES ($1, $2, 'redeem', $3, 1, $4, $5, '', $6)")
                            .bind(card).bind(community).bind(gid).bind(-price).bind(d).bind(now).execute(&mut *c).await?;
                    });
                }
            }
            d += Duration::days(1);
        }
        on_tx!(tx, c => {
            sqlx::query("UPDATE love_cards SET balance = $1 WHERE id = $2").bind(balance).bind(card).execute(&mut *c).await?;
        });
    }
    for (gid, _, stock) in goods {
        on_tx!(tx, c => {
            sqlx::query("UPDATE love_goods SET stock = $1 WHERE id = $2").bind(stock).bind(gid).execute(&mut *c).await?;
        });
    }
    Ok(n)
}
