//! A year of points for every member (attendance, dues, study, service, the odd deduction),
//! branches' and secretaries' points since the start of last year, closed months, a few
//! claims waiting for approval, and star ratings: last year's final in every committee above
//! branches, this year's being scored in the first one. Every cap of the default catalogue
//! holds, and every figure is a sum of the entries written here.

use crate::db::{DbRow, Tx};
use crate::error::AppResult;
use crate::on_tx;
use crate::points::{month_key, period_range, PointsRules};
use crate::stars::StarRules;
use chrono::{Datelike, Duration, NaiveDate, Utc};
use rand::rngs::StdRng;
use rand::Rng;
use std::collections::{BTreeMap, HashMap};

/// (indicator, probability a month) of a member's regular month.
const CORE: [(&str, f64); 3] = [("M17", 0.85), ("M21", 0.95), ("M15", 0.35)];
/// Occasional events, each month one may happen.
const EXTRA: [&str; 16] = [
    "M01", "M03", "M04", "M10", "M18", "M22", "M29", "M33", "M35", "M36", "M43", "M45", "M57",
    "M58", "M59", "M60",
];
const BRANCH: [(&str, f64); 6] = [
    ("B02", 0.9),
    ("B03", 0.85),
    ("B05", 0.9),
    ("B09", 0.95),
    ("B11", 0.3),
    ("B13", 0.5),
];
const BRANCH_QUARTER: [(&str, f64); 3] = [("B01", 0.9), ("B04", 0.85), ("B08", 0.8)];
const SECRETARY: [(&str, f64); 3] = [("S02", 0.9), ("S05", 0.85), ("S06", 0.5)];

struct Row {
    subject: &'static str,
    member_id: Option<i64>,
    org_id: i64,
    indicator: String,
    category: String,
    points: i64,
    on: NaiveDate,
}

pub(super) struct Summary {
    pub entries: usize,
    pub rounds: usize,
}

fn day_in(rng: &mut StdRng, month: i64, until: NaiveDate) -> Option<NaiveDate> {
    let first = NaiveDate::from_ymd_opt((month / 100) as i32, (month % 100) as u32, 1)?;
    let next = first.checked_add_months(chrono::Months::new(1))?;
    let last = (next - Duration::days(1)).min(until);
    if last < first {
        return None;
    }
    Some(first + Duration::days(rng.gen_range(0..=(last - first).num_days())))
}

async fn flush(tx: &mut Tx, rows: &mut Vec<Row>, now: chrono::DateTime<Utc>) -> AppResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    const COLS: usize = 10;
    let mut sql = String::from("INSERT INTO point_entries (subject, member_id, org_id, indicator, category, points, done_on, month, note, rules_version, at) VALUES ");
    for i in 0..rows.len() {
        if i > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..COLS - 1 {
            sql.push_str(&format!("${},", i * COLS + c + 1));
        }
        // rules_version 0: the default catalogue
        sql.push_str(&format!("0, ${})", i * COLS + COLS));
    }
    on_tx!(tx, c => {
        let mut q = sqlx::query(&sql);
        for r in rows.iter() {
            q = q.bind(r.subject).bind(r.member_id).bind(r.org_id).bind(&r.indicator).bind(&r.category)
                .bind(r.points).bind(r.on).bind(month_key(r.on)).bind("").bind(now);
        }
        q.execute(&mut *c).await?;
    });
    rows.clear();
    Ok(())
}

/// Awards `key` on a day of `month` if its cap allows; keeps the running sums.
#[allow(clippy::too_many_arguments)]
fn try_award(
    rng: &mut StdRng,
    r: &PointsRules,
    sums: &mut HashMap<(String, i64), i64>,
    key: &str,
    month: i64,
    until: NaiveDate,
    subject: &'static str,
    member_id: Option<i64>,
    org_id: i64,
) -> Option<Row> {
    let i = r.indicator(key)?;
    let on = day_in(rng, month, until)?;
    let (from, _) = period_range(&i.period, on);
    let net = sums.entry((key.to_string(), from)).or_default();
    if i.cap > 0 && (*net + i.points).abs() > i.cap {
        return None;
    }
    *net += i.points;
    Some(Row {
        subject,
        member_id,
        org_id,
        indicator: i.key.clone(),
        category: i.category.clone(),
        points: i.points,
        on,
    })
}

// rows per INSERT: sqlx binds get slow beyond about a thousand parameters
const BATCH: usize = 100;

pub(super) async fn generate(
    tx: &mut Tx,
    rng: &mut StdRng,
    as_of: NaiveDate,
    demo_branch: i64,
) -> AppResult<Summary> {
    let r = PointsRules::default();
    let now = tx.now;
    let this = month_key(as_of);
    let last_year = as_of.year() as i64 - 1;
    let member_months =
        crate::points::months(month_key(as_of - Duration::days(335)).min(this), this);
    let unit_months = crate::points::months(last_year * 100 + 1, this);
    let members: Vec<(i64, i64, NaiveDate)> = on_tx!(tx, x => {
        let rows = sqlx::query("SELECT id, org_id, join_date FROM members ORDER BY org_id, id").fetch_all(&mut *x).await?;
        rows.iter().map(|r| Ok((r.i64("id")?, r.i64("org_id")?, r.date("join_date")?))).collect::<crate::db::DbResult<Vec<_>>>()?
    });
    let mut rows: Vec<Row> = Vec::with_capacity(BATCH);
    let mut written = 0usize;
    // (branch, month) → (entries, total) of members' points, for the closes
    let mut per_month: BTreeMap<(i64, i64), (i64, i64)> = BTreeMap::new();
    let mut secretaries: BTreeMap<i64, i64> = BTreeMap::new();
    for &(id, org, joined) in &members {
        secretaries.insert(org, id);
        let diligence: f64 = rng.gen_range(0.55..1.15);
        let mut sums: HashMap<(String, i64), i64> = HashMap::new();
        for &m in &member_months {
            if m < month_key(joined) {
                continue;
            }
            let mut month_rows = Vec::new();
            for (key, p) in CORE {
                if rng.gen_bool((p * diligence).min(1.0)) {
                    month_rows.extend(try_award(
                        rng,
                        &r,
                        &mut sums,
                        key,
                        m,
                        as_of,
                        "member",
                        Some(id),
                        org,
                    ));
                }
            }
            for _ in 0..2 {
                if rng.gen_bool((0.55 * diligence).min(1.0)) {
                    let key = EXTRA[rng.gen_range(0..EXTRA.len())];
                    month_rows.extend(try_award(
                        rng,
                        &r,
                        &mut sums,
                        key,
                        m,
                        as_of,
                        "member",
                        Some(id),
                        org,
                    ));
                }
            }
            if rng.gen_bool(0.02) {
                month_rows.extend(try_award(
                    rng,
                    &r,
                    &mut sums,
                    "M71",
                    m,
                    as_of,
                    "member",
                    Some(id),
                    org,
                ));
            }
            for row in month_rows {
                let e = per_month.entry((org, m)).or_default();
                e.0 += 1;
                e.1 += row.points;
                rows.push(row);
                if rows.len() == BATCH {
                    written += rows.len();
                    flush(tx, &mut rows, now).await?;
                }
            }
        }
    }
    // branches' and secretaries' points, from January of last year
    let mut branch_points: HashMap<i64, i64> = HashMap::new();
    for (&org, &secretary) in &secretaries {
        let diligence: f64 = rng.gen_range(0.6..1.1);
        let mut sums: HashMap<(String, i64), i64> = HashMap::new();
        let mut ssums: HashMap<(String, i64), i64> = HashMap::new();
        for &m in &unit_months {
            let mut list: Vec<(&str, f64)> = BRANCH.to_vec();
            if m % 100 % 3 == 0 {
                list.extend(BRANCH_QUARTER);
            }
            if m % 100 == 2 {
                list.push(("B06", 0.9));
            }
            for (key, p) in list {
                if rng.gen_bool((p * diligence).min(1.0)) {
                    if let Some(row) =
                        try_award(rng, &r, &mut sums, key, m, as_of, "branch", None, org)
                    {
                        if m / 100 == last_year {
                            *branch_points.entry(org).or_default() += row.points;
                        }
                        rows.push(row);
                    }
                }
            }
            for (key, p) in SECRETARY {
                if rng.gen_bool((p * diligence).min(1.0)) {
                    rows.extend(try_award(
                        rng,
                        &r,
                        &mut ssums,
                        key,
                        m,
                        as_of,
                        "secretary",
                        Some(secretary),
                        org,
                    ));
                }
            }
            if rows.len() >= BATCH {
                written += rows.len();
                flush(tx, &mut rows, now).await?;
            }
        }
    }
    written += rows.len();
    flush(tx, &mut rows, now).await?;
    // every ended month closed by its branch, but last month of the demo secretary's branch
    let last_month = if this % 100 == 1 { this - 89 } else { this - 1 };
    for (&(org, m), &(n, total)) in per_month
        .iter()
        .filter(|((org, m), _)| *m < this && !(*org == demo_branch && *m == last_month))
    {
        on_tx!(tx, x => {
            sqlx::query("INSERT INTO point_closes (org_id, scope, month, entries, total, closed_by, closed_at) VALUES ($1, 'members', $2, $3, $4, NULL, $5)")
                .bind(org).bind(m).bind(n).bind(total).bind(now).execute(&mut *x).await?;
        });
    }
    // a few claims waiting in the demo branch and here and there
    let claimable: Vec<&str> = ["M57", "M58", "M36", "M03"].to_vec();
    for &(id, org, _) in members.iter().filter(|m| m.1 == demo_branch).take(3) {
        let key = claimable[rng.gen_range(0..claimable.len())];
        let first = NaiveDate::from_ymd_opt(as_of.year(), as_of.month(), 1).unwrap_or(as_of);
        let on = (as_of - Duration::days(rng.gen_range(0..5))).max(first);
        insert_claim(tx, &r, id, org, key, on, now).await?;
    }
    // star ratings: the committees right above branches
    let parents: Vec<(i64, String)> = on_tx!(tx, x => {
        let rows = sqlx::query("SELECT DISTINCT p.id, p.path FROM orgs b JOIN orgs p ON p.id = b.parent_id WHERE b.kind IN ('branch', 'joint_branch') AND p.kind NOT IN ('branch', 'joint_branch') ORDER BY p.path")
            .fetch_all(&mut *x).await?;
        rows.iter().map(|r| Ok((r.i64("id")?, r.string("path")?))).collect::<crate::db::DbResult<Vec<_>>>()?
    });
    // rounds never overlap: only committees with no rating committee below them
    let committees: Vec<(i64, String)> = parents
        .iter()
        .filter(|(_, p)| {
            !parents
                .iter()
                .any(|(_, q)| q != p && q.starts_with(p.as_str()))
        })
        .cloned()
        .collect();
    let stars = StarRules::default();
    let scheme = serde_json::to_string(&stars).unwrap_or_default();
    let mut rounds = 0;
    for (ix, (committee, path)) in committees.iter().enumerate() {
        let branches: Vec<i64> = on_tx!(tx, x => {
            let rows = sqlx::query("SELECT id FROM orgs WHERE path > $1 AND path < $2 AND kind IN ('branch', 'joint_branch') AND dissolved_at IS NULL ORDER BY path")
                .bind(path).bind(crate::db::path_upper(path)).fetch_all(&mut *x).await?;
            rows.iter().map(|r| r.i64("id")).collect::<crate::db::DbResult<Vec<_>>>()?
        });
        let publicity_until = NaiveDate::from_ymd_opt(as_of.year(), 1, 12).unwrap_or(as_of);
        let round = on_tx!(tx, x => {
            sqlx::query("INSERT INTO star_rounds (org_id, year, scheme_json, rules_version, status, publicity_until, created_at, finalised_at) VALUES ($1, $2, $3, 0, 'final', $4, $5, $5) RETURNING id")
                .bind(committee).bind(last_year).bind(&scheme).bind(publicity_until).bind(now).fetch_one(&mut *x).await?.i64("id")?
        });
        rounds += 1;
        let mut scored = Vec::new();
        for &b in &branches {
            let quality: f64 = rng.gen_range(0.55..1.0);
            let items: BTreeMap<String, i64> = stars
                .items
                .iter()
                .map(|i| {
                    (
                        i.key.clone(),
                        ((i.max as f64) * (quality + rng.gen_range(-0.08..0.08)))
                            .round()
                            .clamp(0.0, i.max as f64) as i64,
                    )
                })
                .collect();
            let innovation = if rng.gen_bool(0.2) {
                "“党建+产业”示范项目"
            } else {
                ""
            };
            let bp = branch_points.get(&b).copied().unwrap_or(0);
            let scaled = crate::stars::total_scaled(items.values().sum::<i64>(), bp, &stars);
            scored.push((
                b,
                items,
                innovation,
                bp,
                crate::stars::points_centi(bp, &stars),
                crate::stars::centi(scaled, &stars),
                crate::stars::band(scaled, !innovation.is_empty(), &stars),
                scaled,
            ));
        }
        let capped = crate::stars::apply_caps(
            &scored.iter().map(|s| (s.0, s.7, s.6)).collect::<Vec<_>>(),
            &stars,
        );
        for (s, (_, st, cap)) in scored.iter().zip(&capped) {
            let json = serde_json::to_string(&s.1).unwrap_or_default();
            on_tx!(tx, x => {
                sqlx::query("INSERT INTO star_scores (round_id, branch_id, items_json, innovation, branch_points, points_centi, total_centi, stars, capped, scored_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                    .bind(round).bind(s.0).bind(&json).bind(s.2).bind(s.3).bind(s.4).bind(s.5).bind(*st).bind(*cap).bind(now).execute(&mut *x).await?;
                sqlx::query("INSERT INTO star_ratings (branch_id, year, stars, total_centi, round_id) VALUES ($1, $2, $3, $4, $5)")
                    .bind(s.0).bind(last_year).bind(*st).bind(s.5).bind(round).execute(&mut *x).await?;
            });
        }
        if ix == 0 {
            // this year's round, being scored
            let round = on_tx!(tx, x => {
                sqlx::query("INSERT INTO star_rounds (org_id, year, scheme_json, rules_version, status, created_at) VALUES ($1, $2, $3, 0, 'scoring', $4) RETURNING id")
                    .bind(committee).bind(last_year + 1).bind(&scheme).bind(now).fetch_one(&mut *x).await?.i64("id")?
            });
            rounds += 1;
            for &b in branches.iter().take(branches.len() / 2) {
                let items: BTreeMap<String, i64> = stars
                    .items
                    .iter()
                    .map(|i| (i.key.clone(), rng.gen_range(i.max / 2..=i.max)))
                    .collect();
                let json = serde_json::to_string(&items).unwrap_or_default();
                on_tx!(tx, x => {
                    sqlx::query("INSERT INTO star_scores (round_id, branch_id, items_json, innovation, scored_at) VALUES ($1, $2, $3, '', $4)")
                        .bind(round).bind(b).bind(&json).bind(now).execute(&mut *x).await?;
                });
            }
        }
    }
    Ok(Summary {
        entries: written,
        rounds,
    })
}

async fn insert_claim(
    tx: &mut Tx,
    r: &PointsRules,
    member_id: i64,
    org_id: i64,
    key: &str,
    on: NaiveDate,
    now: chrono::DateTime<Utc>,
) -> AppResult<()> {
    let Some(i) = r.indicator(key) else {
        return Ok(());
    };
    on_tx!(tx, x => {
        sqlx::query("INSERT INTO point_claims (subject, member_id, org_id, indicator, points, done_on, note, status, submitted_at) VALUES ('member', $1, $2, $3, $4, $5, $6, 'pending', $7)")
            .bind(member_id).bind(org_id).bind(&i.key).bind(i.points).bind(on).bind(format!("{}（本人申报）", i.name)).bind(now)
            .execute(&mut *x).await?;
    });
    Ok(())
}
