//! 星级党支部 (seeds 002, 003): a committee rates its branches every year, one to five stars,
//! from the branch's points of the year and manual assessment items; five stars need an
//! innovation project; a distribution cap (at most 10% five-star by default) may demote the
//! lowest of a band; ratings are publicised (公示) before they are final; each year's final
//! rating is kept, so stars rise and fall with a history.
//!
//! The scheme is a rule set ([`StarRules`], kind `stars`), copied into each round when it
//! starts. Pure functions here; persistence in `store.rs`; pages and API in `web.rs`.

pub mod store;
pub mod web;

use crate::error::AppError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::rules::Ratio;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct StarItem {
    pub key: String,
    pub name: String,
    /// Highest score of the item.
    pub max: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct Band {
    pub stars: i64,
    /// Lowest total of the band.
    pub min: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct StarCap {
    pub stars: i64,
    /// At most this share of the committee's branches may hold these stars: `[n, d]`.
    #[schema(value_type = Vec<i64>)]
    pub share: Ratio,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct StarRules {
    /// Score from the branch's points of the year: full marks at `points_full` points.
    pub points_max: i64,
    pub points_full: i64,
    /// Manual assessment items; with `points_max` they add up to 100.
    pub items: Vec<StarItem>,
    /// Bands from five stars down to two; below the last, one star.
    pub bands: Vec<Band>,
    /// Five stars need an innovation project (创新项目).
    pub five_needs_innovation: bool,
    pub caps: Vec<StarCap>,
    /// A cap allows at least one branch even where the share rounds down to none.
    pub cap_at_least_one: bool,
    /// Days of publicity (公示) before ratings become final.
    pub publicity_days: i64,
}

impl Default for StarRules {
    fn default() -> Self {
        let i = |k: &str, n: &str, max| StarItem {
            key: k.into(),
            name: n.into(),
            max,
        };
        let b = |stars, min| Band { stars, min };
        Self {
            points_max: 40,
            points_full: 100,
            items: vec![
                i("organisation", "组织建设（班子、阵地、制度）", 15),
                i("members", "党员队伍（教育管理、发展党员）", 15),
                i("life", "组织生活（三会一课落实）", 15),
                i("role", "作用发挥（服务群众、促进发展）", 15),
            ],
            bands: vec![b(5, 90), b(4, 80), b(3, 70), b(2, 60)],
            five_needs_innovation: true,
            caps: vec![StarCap {
                stars: 5,
                share: [1, 10],
            }],
            cap_at_least_one: true,
            publicity_days: 5,
        }
    }
}

impl crate::rules::RuleKind for StarRules {
    const KIND: &'static str = "stars";
    const LABEL: &'static str = "星级党支部评定规则";
    fn validate(&self) -> Result<(), String> {
        if self.points_max < 0 || self.points_full <= 0 {
            return Err("积分折算分不能为负，满分积分须大于0".into());
        }
        let mut keys = std::collections::BTreeSet::new();
        for it in &self.items {
            if it.key.trim().is_empty() || it.name.trim().is_empty() || !keys.insert(&it.key) {
                return Err("评分项目的代码和名称不能为空，代码不能重复".into());
            }
            if it.max <= 0 {
                return Err(format!("“{}”的满分应大于0", it.name));
            }
        }
        if self.points_max + self.items.iter().map(|i| i.max).sum::<i64>() != 100 {
            return Err("积分折算分与各评分项目满分之和应为100".into());
        }
        let stars: Vec<i64> = self.bands.iter().map(|b| b.stars).collect();
        if stars != [5, 4, 3, 2] {
            return Err("星级分数线应依次为五星、四星、三星、二星".into());
        }
        if self.bands.windows(2).any(|w| w[0].min <= w[1].min)
            || self.bands.iter().any(|b| !(1..=100).contains(&b.min))
        {
            return Err("分数线应在1至100之间并从高到低".into());
        }
        for c in &self.caps {
            let [n, d] = c.share;
            if !(2..=5).contains(&c.stars) || n < 0 || d <= 0 || n > d {
                return Err("比例限制应为二至五星，比例在0至1之间".into());
            }
        }
        if !(0..=30).contains(&self.publicity_days) {
            return Err("公示天数0至30天".into());
        }
        Ok(())
    }
}

/// A branch's total as an exact fraction over `points_full`: the manual items' sum plus the
/// points' proportional share (full marks at `points_full` points). Stars are decided on this
/// value, never on a rounded one.
pub fn total_scaled(items_sum: i64, branch_points: i64, r: &StarRules) -> i64 {
    items_sum * r.points_full + branch_points.clamp(0, r.points_full) * r.points_max
}

/// The points' share in hundredths, rounded down.
pub fn points_centi(branch_points: i64, r: &StarRules) -> i64 {
    branch_points.clamp(0, r.points_full) * r.points_max * 100 / r.points_full
}

/// A scaled total in hundredths, rounded down: a shown value is never on the other side of a
/// band line (whole points) than the exact one.
pub fn centi(scaled: i64, r: &StarRules) -> i64 {
    scaled * 100 / r.points_full
}

/// Hundredths as text: `8980` → `89.8`, `9000` → `90`, `8999` → `89.99`.
pub fn centi_text(c: i64) -> String {
    let (whole, frac) = (c / 100, (c % 100).abs());
    match frac {
        0 => whole.to_string(),
        f if f % 10 == 0 => format!("{whole}.{}", f / 10),
        f => format!("{whole}.{f:02}"),
    }
}

/// Checks the manual scores (every item, 0 to its max, nothing else); returns their sum.
pub fn check_items(items: &BTreeMap<String, i64>, r: &StarRules) -> Result<i64, AppError> {
    let mut c = crate::error::Checks::default();
    for it in &r.items {
        match items.get(&it.key) {
            Some(v) if (0..=it.max).contains(v) => {}
            _ => c.add(
                &format!("item_{}", it.key),
                format!("“{}”应为0至{}分", it.name, it.max),
            ),
        }
    }
    for k in items.keys() {
        if !r.items.iter().any(|i| &i.key == k) {
            c.add("items", format!("没有评分项目“{k}”"));
        }
    }
    c.finish()?;
    Ok(items.values().sum())
}

/// Stars of a total (scaled, [`total_scaled`]) by the bands, compared exactly; five stars need
/// an innovation project when the rules say so (else four).
pub fn band(scaled: i64, innovation: bool, r: &StarRules) -> i64 {
    let s = r
        .bands
        .iter()
        .find(|b| scaled >= b.min * r.points_full)
        .map(|b| b.stars)
        .unwrap_or(1);
    if s == 5 && r.five_needs_innovation && !innovation {
        4
    } else {
        s
    }
}

/// Applies the distribution caps, from the highest stars down: of the branches holding `s`
/// stars, those ranked beyond the allowed number go down one star (`capped`) and compete at
/// the next level. A tie across the limit goes down whole, so a cap is never exceeded.
/// Input `(id, total, stars)`; output `(id, stars, capped)` in input order.
pub fn apply_caps(list: &[(i64, i64, i64)], r: &StarRules) -> Vec<(i64, i64, bool)> {
    let n = list.len() as i64;
    let mut out: Vec<(i64, i64, i64, bool)> =
        list.iter().map(|&(id, t, s)| (id, t, s, false)).collect();
    for s in (2..=5).rev() {
        let Some(cap) = r.caps.iter().find(|c| c.stars == s) else {
            continue;
        };
        let [num, den] = cap.share;
        let mut allowed = n * num / den;
        if r.cap_at_least_one && n > 0 && num > 0 {
            allowed = allowed.max(1);
        }
        let holders: Vec<i64> = out.iter().filter(|x| x.2 == s).map(|x| x.1).collect();
        for x in out.iter_mut().filter(|x| x.2 == s) {
            let at_or_above = holders.iter().filter(|t| **t >= x.1).count() as i64;
            if at_or_above > allowed {
                x.2 = s - 1;
                x.3 = true;
            }
        }
    }
    out.into_iter().map(|(id, _, s, c)| (id, s, c)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RuleKind;

    #[test]
    fn the_default_scheme_adds_up_and_bad_ones_are_refused() {
        let r = StarRules::default();
        assert_eq!(r.validate(), Ok(()));
        let mut bad = r.clone();
        bad.points_max = 50;
        assert!(bad.validate().is_err(), "110 in all");
        let mut bad = r.clone();
        bad.bands[1].min = 95;
        assert!(bad.validate().is_err(), "bands not descending");
        let mut bad = r;
        bad.caps[0].share = [2, 1];
        assert!(bad.validate().is_err());
    }

    #[test]
    fn points_convert_proportionally() {
        let r = StarRules::default();
        assert_eq!(points_centi(0, &r), 0);
        assert_eq!(points_centi(-20, &r), 0);
        assert_eq!(points_centi(50, &r), 2000);
        assert_eq!(points_centi(99, &r), 3960, "39.6, not rounded to 40");
        assert_eq!(points_centi(100, &r), 4000);
        assert_eq!(points_centi(180, &r), 4000, "full marks at most");
        // a third of the points: 13.333… shown as 13.33
        let odd = StarRules {
            points_full: 300,
            ..r.clone()
        };
        assert_eq!(points_centi(100, &odd), 1333);
        assert_eq!(centi_text(8980), "89.8");
        assert_eq!(centi_text(9000), "90");
        assert_eq!(centi_text(8999), "89.99");
        assert_eq!(centi_text(5), "0.05");
    }

    #[test]
    fn bands_at_below_and_above_each_line() {
        let r = StarRules::default();
        let at = |items: i64, points: i64, innovation: bool| {
            band(total_scaled(items, points, &r), innovation, &r)
        };
        for (items, points, innovation, want) in [
            (50, 100, true, 5),  // 90
            (50, 99, true, 4),   // 89.6: below the line, whatever rounding would say
            (49, 100, true, 4),  // 89
            (60, 100, false, 4), // 100 without an innovation project
            (40, 100, false, 4), // 80
            (40, 99, false, 3),  // 79.6
            (30, 100, false, 3), // 70
            (29, 100, false, 2), // 69
            (20, 100, false, 2), // 60
            (20, 99, false, 1),  // 59.6
            (0, 0, false, 1),
        ] {
            assert_eq!(at(items, points, innovation), want, "{items} + {points}");
        }
        // 89.8 is shown as 89.8 and banded four stars, never 90 and five
        let s = total_scaled(51, 97, &r); // 51 + 38.8
        assert_eq!(centi_text(centi(s, &r)), "89.8");
        assert_eq!(band(s, true, &r), 4);
        // on a band line exactly: 90 → five stars
        assert_eq!(band(total_scaled(50, 100, &r), true, &r), 5);
    }

    #[test]
    fn item_scores_are_checked() {
        let r = StarRules::default();
        let mut items: BTreeMap<String, i64> =
            r.items.iter().map(|i| (i.key.clone(), i.max)).collect();
        assert_eq!(check_items(&items, &r).ok(), Some(60));
        items.insert("role".into(), 16);
        assert!(check_items(&items, &r).is_err(), "above the max");
        items.insert("role".into(), -1);
        assert!(check_items(&items, &r).is_err());
        items.insert("role".into(), 0);
        assert_eq!(check_items(&items, &r).ok(), Some(45));
        items.remove("role");
        assert!(check_items(&items, &r).is_err(), "missing");
        items.insert("role".into(), 1);
        items.insert("extra".into(), 1);
        assert!(check_items(&items, &r).is_err(), "unknown");
    }

    #[test]
    fn distribution_caps_demote_the_lowest_and_whole_ties() {
        let r = StarRules::default();
        // 20 branches: at most 2 five-star
        let mut list: Vec<(i64, i64, i64)> = (1..=20).map(|i| (i, 60 + i, 3)).collect();
        list[19].2 = 5; // 80
        list[18].2 = 5; // 79
        list[17].2 = 5; // 78
        let out = apply_caps(&list, &r);
        assert_eq!(out[19], (20, 5, false));
        assert_eq!(out[18], (19, 5, false));
        assert_eq!(out[17], (18, 4, true), "the third goes down");
        assert_eq!(out.iter().filter(|x| x.1 == 5).count(), 2, "at the cap");
        // a tie across the limit goes down whole
        let tie = vec![(1, 95, 5), (2, 92, 5), (3, 92, 5), (4, 50, 1)];
        // 4 branches: ⌊0.4⌋ = 0, at least one
        let out = apply_caps(&tie, &r);
        assert_eq!(out[0], (1, 5, false));
        assert_eq!(out[1], (2, 4, true));
        assert_eq!(out[2], (3, 4, true));
        // below the cap nothing moves
        let few = vec![(1, 95, 5), (2, 70, 3)];
        assert_eq!(apply_caps(&few, &r), vec![(1, 5, false), (2, 3, false)]);
        // without the at-least-one rule a small committee has no five-star branch
        let strict = StarRules {
            cap_at_least_one: false,
            ..StarRules::default()
        };
        assert_eq!(apply_caps(&few, &strict)[0], (1, 4, true));
        // a cap on four stars takes the demoted five-star branches into account
        let both = StarRules {
            caps: vec![
                StarCap {
                    stars: 5,
                    share: [1, 10],
                },
                StarCap {
                    stars: 4,
                    share: [1, 10],
                },
            ],
            cap_at_least_one: true,
            ..StarRules::default()
        };
        let out = apply_caps(&[(1, 95, 5), (2, 93, 5), (3, 85, 4), (4, 60, 2)], &both);
        assert_eq!(
            out,
            vec![(1, 5, false), (2, 4, true), (3, 3, true), (4, 2, false)]
        );
    }
}
