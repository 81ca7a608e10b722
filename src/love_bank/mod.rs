//! 爱心银行 (seed 003, 卫东区): residents — Party members or not — hold a love-points card;
//! community staff record the services they do (blood donation, care for the elderly,
//! volunteering ...) worth 2, 5 or 10 points by default; the points buy everyday goods (salt,
//! soy sauce, washing powder) from the community's catalogue. A balance never goes negative
//! and an item never oversells, even when two redemptions race: both are conditional updates
//! in the redemption's transaction, and the database refuses a negative value besides. Every
//! movement is an entry (corrections are reversing entries), so a balance always equals the
//! sum of its card's entries; a monthly statement per community reconciles them.
//!
//! Rules first ([`LoveRules`] and pure functions); persistence in `store.rs`; pages and API in
//! `web.rs`.

pub mod store;
pub mod web;

use crate::error::AppError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Service {
    pub key: String,
    pub name: String,
    pub points: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct LoveRules {
    /// The services that earn points and what each is worth.
    pub services: Vec<Service>,
    /// A card earns at most this many points a day (0 = no cap).
    pub daily_cap: i64,
    /// One redemption takes at most this many of an item.
    pub max_quantity: i64,
}

impl Default for LoveRules {
    fn default() -> Self {
        let s = |k: &str, n: &str, p| Service {
            key: k.into(),
            name: n.into(),
            points: p,
        };
        Self {
            services: vec![
                s("blood", "无偿献血", 10),
                s("elderly", "关爱空巢老人", 5),
                s("volunteer", "社区志愿服务", 5),
                s("mediation", "邻里纠纷调解", 5),
                s("environment", "环境卫生整治", 2),
                s("patrol", "治安巡逻", 2),
            ],
            daily_cap: 20,
            max_quantity: 10,
        }
    }
}

impl crate::rules::RuleKind for LoveRules {
    const KIND: &'static str = "love_bank";
    const LABEL: &'static str = "爱心银行规则";
    fn validate(&self) -> Result<(), String> {
        if self.services.is_empty() {
            return Err("至少设置一项服务".into());
        }
        let mut keys = std::collections::BTreeSet::new();
        for s in &self.services {
            if !(1..=100).contains(&s.points) {
                return Err(format!("服务“{}”的积分应在1至100之间", s.name));
            }
            if s.key.trim().is_empty() || s.name.trim().is_empty() || !keys.insert(&s.key) {
                return Err("服务代码和名称不能为空，代码不能重复".into());
            }
        }
        if self.daily_cap < 0 || !(1..=1000).contains(&self.max_quantity) {
            return Err("每日上限不能为负，单次兑换数量1至1000".into());
        }
        Ok(())
    }
}

impl LoveRules {
    pub fn service(&self, key: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.key == key)
    }
}

/// Points a service earns, checked against the day's cap (`earned_today` before it).
pub fn earn(service: &str, earned_today: i64, r: &LoveRules) -> Result<i64, AppError> {
    let s = r
        .service(service)
        .ok_or_else(|| AppError::field("service", "请选择服务项目"))?;
    if r.daily_cap > 0 && earned_today + s.points > r.daily_cap {
        return Err(AppError::refused(
            "love.daily_cap",
            format!(
                "每张爱心卡每天最多积{}分，今天已积{earned_today}分",
                r.daily_cap
            ),
        ));
    }
    Ok(s.points)
}

/// What a redemption costs, checked against the quantity limit.
pub fn cost(price: i64, quantity: i64, r: &LoveRules) -> Result<i64, AppError> {
    if quantity < 1 || quantity > r.max_quantity {
        return Err(AppError::field(
            "quantity",
            format!("兑换数量应为1至{}", r.max_quantity),
        ));
    }
    Ok(price * quantity)
}

/// A month's statement of one community, from its entries.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Totals {
    /// Points held on the community's cards before the month.
    pub opening: i64,
    pub earned: i64,
    pub redeemed: i64,
    /// Reversals (corrections), net.
    pub reversed: i64,
    pub closing: i64,
}

/// Folds (points, before the month?) of entries into the statement's totals: `kind` of each
/// entry, its signed points, and whether it falls before the month.
pub fn totals<'a>(entries: impl IntoIterator<Item = (&'a str, i64, bool)>) -> Totals {
    let mut t = Totals::default();
    for (kind, points, before) in entries {
        if before {
            t.opening += points;
            continue;
        }
        match kind {
            "earn" => t.earned += points,
            "redeem" => t.redeemed -= points,
            _ => t.reversed += points,
        }
    }
    t.closing = t.opening + t.earned - t.redeemed + t.reversed;
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RuleKind;

    fn code<T>(r: Result<T, AppError>) -> &'static str {
        match r {
            Ok(_) => "ok",
            Err(e) => e.code(),
        }
    }

    #[test]
    fn services_earn_their_points_within_the_daily_cap() {
        let r = LoveRules::default();
        assert!(r.validate().is_ok());
        assert_eq!(earn("blood", 0, &r).ok(), Some(10));
        assert_eq!(earn("blood", 10, &r).ok(), Some(10), "at the cap");
        assert_eq!(code(earn("blood", 11, &r)), "love.daily_cap");
        assert_eq!(earn("patrol", 18, &r).ok(), Some(2));
        assert_eq!(code(earn("patrol", 19, &r)), "love.daily_cap");
        assert_eq!(code(earn("karaoke", 0, &r)), "validation_failed");
        let uncapped = LoveRules {
            daily_cap: 0,
            ..Default::default()
        };
        assert_eq!(earn("blood", 1000, &uncapped).ok(), Some(10));
        let mut bad = LoveRules::default();
        bad.services[0].points = 0;
        assert!(bad.validate().is_err());
        let mut dup = LoveRules::default();
        dup.services[1].key = "blood".into();
        assert!(dup.validate().is_err());
    }

    #[test]
    fn redemptions_cost_price_times_quantity_within_the_limit() {
        let r = LoveRules::default();
        assert_eq!(cost(15, 1, &r).ok(), Some(15));
        assert_eq!(cost(15, 10, &r).ok(), Some(150));
        assert_eq!(code(cost(15, 11, &r)), "validation_failed");
        assert_eq!(code(cost(15, 0, &r)), "validation_failed");
    }

    #[test]
    fn statements_reconcile() {
        let t = totals([
            ("earn", 30, true),
            ("redeem", -10, true),
            ("earn", 15, false),
            ("redeem", -12, false),
            ("reverse", -5, false),
        ]);
        assert_eq!(
            t,
            Totals {
                opening: 20,
                earned: 15,
                redeemed: 12,
                reversed: -5,
                closing: 18
            }
        );
    }
}
