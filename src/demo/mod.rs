//! The demo city: a realistic prefecture-level city (济宁市, GB/T 2260 code 370800) with its
//! counties, townships, villages, communities, agencies, schools, enterprises and members.
//!
//! Deterministic for a seed and a reference date (`as_of`, default today): the same inputs
//! give the same organisations and people. Everything generated obeys the rules the platform
//! enforces (valid ID checksums, birth dates that agree with them, join age, probation).

mod cadres;
mod first_secretaries;
mod love_bank;
mod meetings;
pub mod names;
mod points;
mod recruits;
mod rectification;
pub mod review;

use crate::audit::{self, Actor, NewEntry};
use crate::crypto::{mask_id_number, mask_phone};
use crate::db::{Db, DbRow};
use crate::error::{AppError, AppResult};
use crate::member::idcard;
use crate::member::rules::add_years;
use crate::org::{OrgKind, OrgLevel};
use crate::{on_db, Ctx};
use chrono::{Duration, NaiveDate, Utc};
use names::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::HashSet;

/// County-level divisions of 济宁市 (GB/T 2260).
pub const COUNTIES: &[(&str, &str, &str)] = &[
    ("370811", "任城区", "区"),
    ("370812", "兖州区", "区"),
    ("370883", "邹城市", "市"),
    ("370881", "曲阜市", "市"),
    ("370832", "梁山县", "县"),
    ("370826", "微山县", "县"),
    ("370827", "鱼台县", "县"),
    ("370828", "金乡县", "县"),
    ("370829", "嘉祥县", "县"),
    ("370830", "汶上县", "县"),
    ("370831", "泗水县", "县"),
];

/// Birthplaces outside the city (other Shandong and Henan counties).
const OTHER_REGIONS: &[&str] = &[
    "370102", "370202", "370402", "370481", "371302", "371702", "370305", "410402", "410421",
    "411082",
];

#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub members: usize,
    pub seed: u64,
    pub as_of: NaiveDate,
}

#[derive(Debug, Clone, Default)]
pub struct DemoSummary {
    pub orgs: usize,
    pub branches: usize,
    pub members: usize,
    pub accounts: Vec<(String, String, String)>,
    /// The demo administrators' second factor: (username, TOTP secret in base32), to add to
    /// an authenticator app (administrators must use one; `require_totp_for_admins`).
    pub totp: Vec<(String, String)>,
}

/// A demo administrator's TOTP secret: fixed for the username, so that the demo's printout
/// and its tests agree.
pub fn demo_totp_secret(username: &str) -> Vec<u8> {
    crate::crypto::sm3(format!("dangjian demo totp {username}").as_bytes())[..20].to_vec()
}

struct OrgRow {
    id: i64,
    parent_id: Option<i64>,
    path: String,
    depth: i64,
    name: String,
    kind: OrgKind,
    level: OrgLevel,
    region: Option<String>,
    established_on: Option<NaiveDate>,
    term_start: Option<NaiveDate>,
    has_committee: bool,
    committee_size: i64,
    sort: i64,
}

/// A branch to fill: its org id, category, target size and groups.
struct BranchPlan {
    org_id: i64,
    level: OrgLevel,
    size: usize,
    region: String,
    unit: String,
    groups: Vec<i64>,
}

struct Gen {
    rng: StdRng,
    as_of: NaiveDate,
    orgs: Vec<OrgRow>,
    branches: Vec<BranchPlan>,
    next_id: i64,
    used_names: HashSet<String>,
}

fn pick<'a, T>(rng: &mut StdRng, xs: &'a [T]) -> &'a T {
    &xs[rng.gen_range(0..xs.len())]
}

fn pick_str(rng: &mut StdRng, xs: &[&'static str]) -> &'static str {
    xs[rng.gen_range(0..xs.len())]
}

fn ordinal(n: usize) -> String {
    const D: [&str; 11] = [
        "零", "一", "二", "三", "四", "五", "六", "七", "八", "九", "十",
    ];
    match n {
        0..=10 => D[n].to_string(),
        11..=19 => format!("十{}", D[n - 10]),
        20..=99 => format!(
            "{}十{}",
            D[n / 10],
            if n % 10 == 0 { "" } else { D[n % 10] }
        ),
        100..=999 => {
            let (h, rest) = (n / 100, n % 100);
            let tail = match rest {
                0 => String::new(),
                1..=9 => format!("零{}", D[rest]),
                // 一百一十 (not 一百十)
                10..=19 => format!("一{}", ordinal(rest)),
                _ => ordinal(rest),
            };
            format!("{}百{tail}", D[h])
        }
        1000..=9999 => {
            let (t, rest) = (n / 1000, n % 1000);
            let tail = match rest {
                0 => String::new(),
                1..=9 => format!("零{}", D[rest]),
                10..=19 => format!("零一{}", ordinal(rest)),
                20..=99 => format!("零{}", ordinal(rest)),
                _ => ordinal(rest),
            };
            format!("{}千{tail}", D[t])
        }
        _ => n.to_string(),
    }
}

impl Gen {
    fn add_org(
        &mut self,
        parent: Option<usize>,
        name: String,
        kind: OrgKind,
        level: OrgLevel,
        region: Option<&str>,
    ) -> usize {
        let id = self.next_id;
        self.next_id += 1;
        let (path, depth, parent_id) = match parent {
            Some(i) => (
                format!("{}{id}/", self.orgs[i].path),
                self.orgs[i].depth + 1,
                Some(self.orgs[i].id),
            ),
            None => (format!("/{id}/"), 0, None),
        };
        let years_ago = self.rng.gen_range(3..40);
        let established = self.as_of - Duration::days(365 * years_ago + self.rng.gen_range(0..365));
        let sort = self.orgs.len() as i64;
        self.orgs.push(OrgRow {
            id,
            parent_id,
            path,
            depth,
            name,
            kind,
            level,
            region: region.map(str::to_string),
            established_on: Some(established),
            term_start: None,
            has_committee: !matches!(
                kind,
                OrgKind::Branch | OrgKind::JointBranch | OrgKind::Group
            ),
            committee_size: 0,
            sort,
        });
        self.orgs.len() - 1
    }

    fn place_name(&mut self, len: usize) -> String {
        // a name not used yet; when the short ones run out, a character longer (never a
        // number: "大260店村" is no village name)
        for extra in 0..4 {
            for _ in 0..50 {
                let mut s = String::new();
                for _ in 0..len + extra {
                    let w = pick_str(&mut self.rng, PLACE);
                    s.push_str(w);
                }
                if self.used_names.insert(s.clone()) {
                    return s;
                }
            }
        }
        format!("{}{}", pick(&mut self.rng, PLACE), self.used_names.len())
    }

    /// A branch with `size` members, its term and committee, and groups when large.
    fn add_branch(
        &mut self,
        parent: usize,
        name: String,
        level: OrgLevel,
        region: &str,
        size: usize,
        unit: String,
    ) {
        let kind = if size < 5 && level == OrgLevel::TwoNew {
            OrgKind::JointBranch
        } else {
            OrgKind::Branch
        };
        let i = self.add_org(Some(parent), name, kind, level, Some(region));
        let full_est = size as i64 * 96 / 100;
        let has_committee = full_est >= 7 && self.rng.gen_bool(0.96);
        let term_years = if level.is_grassroots() { 5 } else { 3 };
        let max_days = 365 * term_years + 120;
        let start = self.as_of - Duration::days(self.rng.gen_range(0..max_days));
        {
            let o = &mut self.orgs[i];
            o.has_committee = has_committee;
            o.committee_size = if has_committee {
                *[3i64, 3, 5, 5, 5, 7]
                    .get(self.rng.gen_range(0..6))
                    .unwrap_or(&5)
            } else {
                0
            };
            o.term_start = Some(start);
        }
        let mut groups = Vec::new();
        if size > 40 {
            let n = size.div_ceil(20).min(5);
            for g in 1..=n {
                let gi = self.add_org(
                    Some(i),
                    format!("第{}党小组", ordinal(g)),
                    OrgKind::Group,
                    level,
                    Some(region),
                );
                groups.push(self.orgs[gi].id);
            }
        }
        self.branches.push(BranchPlan {
            org_id: self.orgs[i].id,
            level,
            size,
            region: region.to_string(),
            unit,
            groups,
        });
    }

    fn size(&mut self, lo: usize, mode: usize, hi: usize) -> usize {
        // Triangular distribution: most branches near `mode`.
        let u: f64 = self.rng.gen();
        let (a, b, c) = (lo as f64, hi as f64, mode as f64);
        let f = (c - a) / (b - a);
        let x = if u < f {
            a + ((b - a) * (c - a) * u).sqrt()
        } else {
            b - ((b - a) * (b - c) * (1.0 - u)).sqrt()
        };
        x.round() as usize
    }

    /// Spends `budget` members on branches made by `make` until it runs out.
    fn spend(
        &mut self,
        mut budget: usize,
        lo: usize,
        mode: usize,
        hi: usize,
        mut make: impl FnMut(&mut Gen, usize),
    ) {
        while budget > 0 {
            let mut s = self.size(lo, mode, hi).min(budget);
            if budget - s < lo {
                s = budget;
            }
            make(self, s);
            budget -= s;
        }
    }
}

/// Plans the organisation tree for `n` members.
fn plan(opts: &DemoOptions) -> Gen {
    let mut g = Gen {
        rng: StdRng::seed_from_u64(opts.seed),
        as_of: opts.as_of,
        orgs: Vec::new(),
        branches: Vec::new(),
        next_id: 1,
        used_names: HashSet::new(),
    };
    let n = opts.members.max(30);
    let root = g.add_org(
        None,
        "中共济宁市委员会".into(),
        OrgKind::Committee,
        OrgLevel::City,
        Some("370800"),
    );
    // City-level share: 市直机关工委 (7%) and 市国资委党委 (8%).
    let city_agency_budget = n * 7 / 100;
    let soe_budget = n * 8 / 100;
    let city_agency = g.add_org(
        Some(root),
        "中共济宁市直机关工作委员会".into(),
        OrgKind::WorkingCommittee,
        OrgLevel::Agency,
        Some("370800"),
    );
    let mut agency_i = 0;
    g.spend(city_agency_budget, 6, 18, 45, |g, s| {
        let a = AGENCIES[agency_i % AGENCIES.len()];
        let round = agency_i / AGENCIES.len();
        agency_i += 1;
        let name = if round == 0 {
            format!("中共济宁市{a}机关支部委员会")
        } else {
            format!("中共济宁市{a}第{}支部委员会", ordinal(round + 1))
        };
        g.add_branch(
            city_agency,
            name,
            OrgLevel::Agency,
            "370800",
            s,
            format!("济宁市{a}"),
        );
    });
    let soe_root = g.add_org(
        Some(root),
        "中共济宁市国资委委员会".into(),
        OrgKind::Committee,
        OrgLevel::Soe,
        Some("370800"),
    );
    let mut soe_i = 0;
    let soe_count = (soe_budget / 2500).clamp(1, SOES.len());
    let per_soe = soe_budget / soe_count;
    for (k, soe) in SOES.iter().enumerate().take(soe_count) {
        let corp = format!("济宁{soe}");
        let c = g.add_org(
            Some(soe_root),
            format!("中共{corp}委员会"),
            OrgKind::Committee,
            OrgLevel::Soe,
            Some("370800"),
        );
        let budget = if k + 1 == soe_count {
            soe_budget - per_soe * k
        } else {
            per_soe
        };
        g.spend(budget, 8, 30, 48, |g, s| {
            soe_i += 1;
            g.add_branch(
                c,
                format!("中共{corp}第{}支部委员会", ordinal(soe_i)),
                OrgLevel::Soe,
                "370800",
                s,
                corp.clone(),
            );
        });
        soe_i = 0;
    }
    // Counties share the rest.
    let county_budget = n - city_agency_budget - soe_budget;
    let counties = (n / 27_000).clamp(1, COUNTIES.len());
    for (ci, (code, cname, suffix)) in COUNTIES.iter().take(counties).enumerate() {
        let budget = if ci + 1 == counties {
            county_budget - county_budget / counties * ci
        } else {
            county_budget / counties
        };
        let c = g.add_org(
            Some(root),
            format!("中共{cname}委员会"),
            OrgKind::Committee,
            OrgLevel::County,
            Some(code),
        );
        // 县直机关工委 12%
        let ag = g.add_org(
            Some(c),
            format!("中共{cname}直属机关工作委员会"),
            OrgKind::WorkingCommittee,
            OrgLevel::Agency,
            Some(code),
        );
        let mut ai = 0;
        let (agency_budget, edu_budget, two_new_budget) =
            (budget * 12 / 100, budget * 9 / 100, budget * 12 / 100);
        g.spend(agency_budget, 5, 15, 35, |g, s| {
            let a = AGENCIES[ai % AGENCIES.len()];
            let round = ai / AGENCIES.len();
            ai += 1;
            let name = if round == 0 {
                format!("中共{cname}{a}支部委员会")
            } else {
                format!("中共{cname}{a}第{}支部委员会", ordinal(round + 1))
            };
            g.add_branch(ag, name, OrgLevel::Agency, code, s, format!("{cname}{a}"));
        });
        // 教育、卫生系统 9%
        let edu = g.add_org(
            Some(c),
            format!("中共{cname}教育和卫生系统委员会"),
            OrgKind::Committee,
            OrgLevel::Institution,
            Some(code),
        );
        let mut ei = 0;
        g.spend(edu_budget, 8, 25, 48, |g, s| {
            let inst = INSTITUTIONS[ei % INSTITUTIONS.len()];
            let round = ei / INSTITUTIONS.len();
            ei += 1;
            let unit = if round == 0 {
                format!("{cname}{inst}")
            } else {
                format!("{cname}{}{inst}", g.place_name(2))
            };
            g.add_branch(
                edu,
                format!("中共{unit}支部委员会"),
                OrgLevel::Institution,
                code,
                s,
                unit.clone(),
            );
        });
        // "两新"组织综合党委 12%
        let tn = g.add_org(
            Some(c),
            format!("中共{cname}非公有制经济组织和社会组织综合委员会"),
            OrgKind::Committee,
            OrgLevel::TwoNew,
            Some(code),
        );
        g.spend(two_new_budget, 3, 9, 30, |g, s| {
            let unit = if g.rng.gen_bool(0.85) {
                format!(
                    "{}{}{}",
                    cname.trim_end_matches(['县', '区', '市']),
                    pick(&mut g.rng, ENTERPRISE_WORDS),
                    pick(&mut g.rng, ENTERPRISE_KINDS)
                )
            } else {
                format!(
                    "{cname}{}{}",
                    g.place_name(2),
                    pick(&mut g.rng, SOCIAL_ORGS)
                )
            };
            let name = if s < 5 {
                format!("中共{unit}等联合支部委员会")
            } else {
                format!("中共{unit}支部委员会")
            };
            g.add_branch(tn, name, OrgLevel::TwoNew, code, s, unit);
        });
        // 乡镇(街道) 67%: villages and communities.
        let local = budget - agency_budget - edu_budget - two_new_budget;
        let towns = (local / 2_200).clamp(1, 20);
        for t in 0..towns {
            let tb = if t + 1 == towns {
                local - local / towns * t
            } else {
                local / towns
            };
            let is_street = *suffix == "区" && t % 2 == 0 || t % 5 == 0;
            let tname = format!(
                "{}{}",
                g.place_name(2),
                if is_street { "街道" } else { "镇" }
            );
            let town = g.add_org(
                Some(c),
                format!("中共{cname}{tname}委员会"),
                OrgKind::Committee,
                OrgLevel::Township,
                Some(code),
            );
            let community_share = if is_street { 70 } else { 15 };
            let cb = tb * community_share / 100;
            // Communities: 社区党委 → 片区党支部 (grid management).
            let mut budget_c = cb;
            while budget_c > 0 {
                let size = g.size(40, 90, 160).min(budget_c);
                let size = if budget_c - size < 40 { budget_c } else { size };
                budget_c -= size;
                let cn = format!("{}社区", g.place_name(2));
                let cc = g.add_org(
                    Some(town),
                    format!("中共{tname}{cn}委员会"),
                    OrgKind::Committee,
                    OrgLevel::Community,
                    Some(code),
                );
                let parts = size.div_ceil(35).max(1);
                let mut left = size;
                for p in 0..parts {
                    let s = if p + 1 == parts { left } else { size / parts };
                    left -= s;
                    g.add_branch(
                        cc,
                        format!("中共{tname}{cn}第{}网格党支部委员会", ordinal(p + 1)),
                        OrgLevel::Community,
                        code,
                        s,
                        format!("{cname}{tname}{cn}"),
                    );
                }
            }
            // Villages: a branch each; large villages a 党总支 with branches.
            g.spend(tb - cb, 8, 26, 90, |g, s| {
                let suffix = pick(&mut g.rng, VILLAGE_SUFFIX);
                let len = 1 + usize::from(g.rng.gen_bool(0.4));
                let vn = format!("{}{}", g.place_name(len), suffix);
                let unit = format!("{cname}{tname}{vn}");
                if s > 50 {
                    let gb = g.add_org(
                        Some(town),
                        format!("中共{tname}{vn}总支部委员会"),
                        OrgKind::GeneralBranch,
                        OrgLevel::Village,
                        Some(code),
                    );
                    let parts = s.div_ceil(30);
                    let mut left = s;
                    for p in 0..parts {
                        let ps = if p + 1 == parts { left } else { s / parts };
                        left -= ps;
                        g.add_branch(
                            gb,
                            format!("中共{tname}{vn}第{}支部委员会", ordinal(p + 1)),
                            OrgLevel::Village,
                            code,
                            ps,
                            unit.clone(),
                        );
                    }
                } else {
                    g.add_branch(
                        town,
                        format!("中共{tname}{vn}支部委员会"),
                        OrgLevel::Village,
                        code,
                        s,
                        unit,
                    );
                }
            });
        }
    }
    g
}

struct Person {
    name: String,
    male: bool,
    ethnicity: &'static str,
    birth: NaiveDate,
    id_number: String,
    phone: String,
    education: &'static str,
    join: NaiveDate,
    full: Option<NaiveDate>,
    grid_role: Option<&'static str>,
    destination: Option<&'static str>,
}

fn weighted<'a>(rng: &mut StdRng, items: &'a [(&'a str, u32)]) -> &'a str {
    let total: u32 = items.iter().map(|x| x.1).sum();
    let mut r = rng.gen_range(0..total);
    for (s, w) in items {
        if r < *w {
            return s;
        }
        r -= w;
    }
    items[0].0
}

fn person(
    rng: &mut StdRng,
    plan: &BranchPlan,
    as_of: NaiveDate,
    used: &mut HashSet<String>,
) -> Person {
    let male = rng.gen_bool(match plan.level {
        OrgLevel::Village => 0.78,
        OrgLevel::Institution => 0.52,
        _ => 0.66,
    });
    let surname = weighted(rng, SURNAMES);
    let pool = if male { GIVEN_MALE } else { GIVEN_FEMALE };
    let mut name = surname.to_string();
    let first = pick_str(rng, pool);
    name.push_str(first);
    if rng.gen_bool(0.7) {
        name.push_str(names::second_given(rng, pool, first));
    }
    // Age structure: villages older, agencies and enterprises younger.
    let band: u32 = rng.gen_range(0..100);
    let old_bias = matches!(plan.level, OrgLevel::Village | OrgLevel::Community);
    let age = match (band, old_bias) {
        (0..=17, true) | (0..=29, false) => rng.gen_range(22..=35),
        (18..=35, true) | (30..=54, false) => rng.gen_range(36..=45),
        (36..=55, true) | (55..=79, false) => rng.gen_range(46..=55),
        (56..=65, true) | (80..=91, false) => rng.gen_range(56..=60),
        _ => rng.gen_range(61..=88),
    };
    let birth = as_of - Duration::days(age * 365 + rng.gen_range(0..365));
    let region = if rng.gen_bool(0.9) {
        plan.region.as_str()
    } else {
        pick(rng, OTHER_REGIONS)
    };
    let region = if region == "370800" { "370811" } else { region };
    let mut id_number;
    loop {
        id_number = idcard::compose(region, birth, rng.gen_range(0..1000), male);
        if used.insert(id_number.clone()) {
            break;
        }
    }
    let phone = format!(
        "1{}{}{:08}",
        pick(rng, &['3', '5', '7', '8', '9']),
        rng.gen_range(0..10),
        rng.gen_range(0..100_000_000u32)
    );
    let education = if age < 40 {
        weighted(
            rng,
            &[
                ("研究生", 8),
                ("大学本科", 45),
                ("大学专科", 27),
                ("中专", 7),
                ("高中", 8),
                ("初中及以下", 5),
            ],
        )
    } else if age < 60 {
        weighted(
            rng,
            &[
                ("研究生", 3),
                ("大学本科", 25),
                ("大学专科", 25),
                ("中专", 12),
                ("高中", 17),
                ("初中及以下", 18),
            ],
        )
    } else {
        weighted(
            rng,
            &[
                ("研究生", 1),
                ("大学本科", 8),
                ("大学专科", 10),
                ("中专", 10),
                ("高中", 25),
                ("初中及以下", 46),
            ],
        )
    };
    let education = crate::member::EDUCATION
        .into_iter()
        .find(|e| *e == education)
        .unwrap_or("高中");
    // Join: about 3% probationary (joined within the last year, under 46), the rest full
    // members who joined between 18 and 48, most in their twenties.
    let adult = add_years(birth, 18);
    let probationary = (20..=45).contains(&age) && rng.gen_bool(0.04);
    let (join, full) = if probationary {
        let j = as_of - Duration::days(rng.gen_range(1..360));
        (j, None)
    } else {
        let latest = as_of - Duration::days(365 + 40);
        let span = (latest - adult).num_days().clamp(1, 30 * 365);
        // Most join in their twenties or thirties.
        let u: f64 = rng.gen();
        let offset = ((u * u) * span as f64) as i64;
        let j = (adult + Duration::days(offset.min(span))).min(latest);
        let f = add_years(j, 1) + Duration::days(rng.gen_range(0..20));
        (j, Some(f.min(as_of)))
    };
    let ethnicity = match rng.gen_range(0..1000) {
        0..=14 => "回族",
        15..=17 => "满族",
        18..=19 => "蒙古族",
        _ => "汉族",
    };
    let (grid_role, destination) = match plan.level {
        OrgLevel::Community => match rng.gen_range(0..100) {
            0..=7 => (Some("center_household"), None),
            8..=11 => (Some("mobile"), Some(*pick(rng, DESTINATIONS))),
            _ => (Some("resident"), None),
        },
        OrgLevel::Village => match rng.gen_range(0..100) {
            0..=4 => (Some("center_household"), None),
            5..=10 => (Some("mobile"), Some(*pick(rng, DESTINATIONS))),
            _ => (None, None),
        },
        _ => (None, None),
    };
    Person {
        name,
        male,
        ethnicity,
        birth,
        id_number,
        phone,
        education,
        join,
        full,
        grid_role,
        destination,
    }
}

async fn count_orgs(db: &Db) -> AppResult<i64> {
    Ok(on_db!(db, p => sqlx::query("SELECT COUNT(*) AS n FROM orgs").fetch_one(p).await?.i64("n")?))
}

// Small batches: sqlx looks each placeholder up by name, which costs O(placeholders) per bind.
const ORG_BATCH: usize = 64;
const MEMBER_BATCH: usize = 40;

/// Fills an empty database with the demo city. Refuses a database that has organisations.
pub async fn generate(
    ctx: &Ctx,
    opts: &DemoOptions,
    mut progress: impl FnMut(&str),
) -> AppResult<DemoSummary> {
    if count_orgs(&ctx.db).await? > 0 {
        return Err(AppError::refused(
            "demo.not_empty",
            "数据库中已有党组织，演示数据只能载入空库",
        ));
    }
    let mut g = plan(opts);
    let now = ctx.clock.now();
    progress(&format!("{} organisations planned", g.orgs.len()));
    let mut tx = ctx.db.begin().await?;
    if let crate::db::TxConn::Sqlite(t) = &mut tx.conn {
        // A bulk load: let this connection cache the whole working set.
        sqlx::query("PRAGMA cache_size = -1048576")
            .execute(&mut **t)
            .await?;
    }
    for chunk in g.orgs.chunks(ORG_BATCH) {
        let mut sql = String::from("INSERT INTO orgs (id, parent_id, path, depth, name, kind, level, region_code, established_on, term_start, has_committee, committee_size, sort, created_at, updated_at) VALUES ");
        for i in 0..chunk.len() {
            let b = i * 14;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "(${},${},${},${},${},${},${},${},${},${},${},${},${},${},${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7,
                b + 8,
                b + 9,
                b + 10,
                b + 11,
                b + 12,
                b + 13,
                b + 14,
                b + 14
            ));
        }
        crate::on_tx!(&mut tx, c => {
            let mut q = sqlx::query(&sql);
            for o in chunk {
                q = q.bind(o.id).bind(o.parent_id).bind(&o.path).bind(o.depth).bind(&o.name).bind(o.kind.as_str())
                    .bind(o.level.as_str()).bind(&o.region).bind(o.established_on).bind(o.term_start)
                    .bind(o.has_committee).bind(o.committee_size).bind(o.sort).bind(now);
            }
            q.execute(&mut *c).await?;
        });
    }
    crate::on_tx!(&mut tx, c => {
        sqlx::query("UPDATE orgs SET approval_authority = $1 WHERE kind IN ('committee', 'working_committee')")
            .bind(true).execute(&mut *c).await?;
    });
    progress("organisations written");
    let mut used = HashSet::new();
    let mut member_id = 0i64;
    let mut written = 0usize;
    let plans = std::mem::take(&mut g.branches);
    let mut batch: Vec<(i64, &BranchPlan, Person, Option<i64>)> = Vec::with_capacity(MEMBER_BATCH);
    let org_names: std::collections::HashMap<i64, &str> =
        g.orgs.iter().map(|o| (o.id, o.name.as_str())).collect();
    let _ = &org_names;
    for plan in &plans {
        for k in 0..plan.size {
            member_id += 1;
            let p = person(&mut g.rng, plan, opts.as_of, &mut used);
            let group = if plan.groups.is_empty() {
                None
            } else {
                Some(plan.groups[k % plan.groups.len()])
            };
            batch.push((member_id, plan, p, group));
            if batch.len() == MEMBER_BATCH {
                insert_members(ctx, &mut tx, &batch, now).await?;
                written += batch.len();
                batch.clear();
                if written % 20_000 == 0 {
                    progress(&format!("{written} members"));
                }
            }
        }
    }
    if !batch.is_empty() {
        insert_members(ctx, &mut tx, &batch, now).await?;
        written += batch.len();
    }
    // people in the recruitment pipeline: about one per hundred members
    let branches: Vec<recruits::Branch> = plans
        .iter()
        .filter(|p| p.size >= 5)
        .map(|p| recruits::Branch {
            org_id: p.org_id,
            region: p.region.clone(),
            unit: p.unit.clone(),
        })
        .collect();
    let roster_before = member_id;
    let in_pipeline = recruits::generate(
        ctx,
        &mut tx,
        &mut g.rng,
        &branches,
        (written / 100).max(40),
        opts.as_of,
        &mut used,
        &mut member_id,
    )
    .await?;
    // admitted people joined the roster
    written += (member_id - roster_before) as usize;
    progress(&format!("{in_pipeline} people in the recruitment pipeline"));
    let in_pools = recruits::talents(
        ctx,
        &mut tx,
        &mut g.rng,
        &branches,
        (written / 400).max(20),
        opts.as_of,
        &mut used,
    )
    .await?;
    progress(&format!("{in_pools} people in the talent pools"));
    // the rectification ledger: townships under inspection, branches' self-checks
    let units: Vec<rectification::Unit> = g
        .orgs
        .iter()
        .filter_map(|o| {
            let parent_id = o.parent_id?;
            let township = o.kind == OrgKind::Committee && o.level == OrgLevel::Township;
            (township || o.kind.holds_members()).then_some(rectification::Unit {
                id: o.id,
                parent_id,
                township,
            })
        })
        .collect();
    let (rect_items, interviews) =
        rectification::generate(ctx, &mut tx, &mut g.rng, &units, opts.as_of).await?;
    progress(&format!(
        "{rect_items} rectification items, {interviews} interviews"
    ));
    // review campaigns in the first county: last year's with results, this year's meeting
    let county = g
        .orgs
        .iter()
        .find(|o| o.level == OrgLevel::County)
        .map(|o| (o.id, o.name.clone()));
    let mut cadre_counts = (0, 0);
    let campaigns = match county {
        Some(county) => {
            let towns: Vec<(i64, String)> = g
                .orgs
                .iter()
                .filter(|o| {
                    o.parent_id == Some(county.0)
                        && o.kind == OrgKind::Committee
                        && o.level == OrgLevel::Township
                })
                .map(|o| (o.id, o.name.clone()))
                .collect();
            let root = g.orgs.first().map(|o| o.id).unwrap_or(county.0);
            cadre_counts = cadres::generate(
                ctx,
                &mut tx,
                &mut g.rng,
                (county.0, &county.1),
                &towns,
                opts.as_of,
            )
            .await?;
            review::generate(ctx, &mut tx, &mut g.rng, root, county, &towns, opts.as_of).await?
        }
        None => 0,
    };
    progress(&format!("{campaigns} review campaigns"));
    // first secretaries: the city's round across the counties, the first county's own
    let places: Vec<first_secretaries::Place> = g
        .orgs
        .iter()
        .map(|o| first_secretaries::Place {
            id: o.id,
            parent_id: o.parent_id,
            level: o.level,
            name: &o.name,
            village: o.level == OrgLevel::Village && o.kind.holds_members(),
        })
        .collect();
    let demo_village = plans
        .iter()
        .find(|p| p.level == OrgLevel::Village)
        .map(|p| p.org_id)
        .unwrap_or(0);
    let fs_counts =
        first_secretaries::generate(ctx, &mut tx, &mut g.rng, &places, demo_village, opts.as_of)
            .await?;
    progress(&format!(
        "{} first secretaries, {} clock-ins",
        fs_counts.0, fs_counts.1
    ));
    progress(&format!(
        "{} cadres, {} weekly work records",
        cadre_counts.0, cadre_counts.1
    ));
    // one community's love bank, in the first county
    let community = g
        .orgs
        .iter()
        .find(|o| o.level == OrgLevel::Community && o.kind == OrgKind::Committee)
        .or_else(|| g.orgs.iter().find(|o| o.level == OrgLevel::Community))
        .map(|o| o.id);
    let love_cards = match community {
        Some(c) => love_bank::generate(ctx, &mut tx, &mut g.rng, c, opts.as_of).await?,
        None => 0,
    };
    progress(&format!("{love_cards} love-bank cards"));
    // a year of points; the demo secretary's branch holds a few claims to decide
    let demo_branch = plans
        .iter()
        .find(|p| p.level == OrgLevel::Village)
        .or(plans.first())
        .map(|p| p.org_id)
        .unwrap_or(0);
    let pts = points::generate(&mut tx, &mut g.rng, opts.as_of, demo_branch).await?;
    progress(&format!(
        "{} points entries, {} star-rating rounds",
        pts.entries, pts.rounds
    ));
    // a year of 组织生活 for every branch
    let (sittings, attendance) =
        meetings::generate(&mut tx, &mut g.rng, opts.as_of, &ctx.clock.zone()).await?;
    progress(&format!(
        "{sittings} meetings, {attendance} attendance rows"
    ));
    // one 换届 per county, and a 延期 asked
    let (elections, extensions) =
        meetings::elections(&mut tx, &mut g.rng, opts.as_of, &ctx.clock.zone()).await?;
    progress(&format!(
        "{elections} elections approved, {extensions} postponements asked"
    ));
    // one 民主评议 round per township, decided
    let rounds = meetings::appraisals(
        &mut tx,
        &mut g.rng,
        opts.as_of,
        &ctx.clock.zone(),
        demo_branch,
    )
    .await?;
    progress(&format!("{rounds} 民主评议 rounds decided"));
    if let crate::db::TxConn::Postgres(t) = &mut tx.conn {
        for table in ["orgs", "members", "meetings"] {
            sqlx::query(&format!("SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT COALESCE(MAX(id), 1) FROM {table}))"))
                .execute(&mut **t)
                .await?;
        }
    }
    audit::append(
        &mut tx,
        &Actor::system("demo"),
        NewEntry {
            action: "demo.generate",
            object_type: "database",
            object_id: String::new(),
            before: serde_json::Value::Null,
            after: serde_json::json!({"seed": opts.seed, "as_of": opts.as_of, "orgs": g.orgs.len(), "branches": plans.len(), "members": written, "recruits": in_pipeline, "talents": in_pools, "rect_items": rect_items, "interviews": interviews, "review_campaigns": campaigns, "love_cards": love_cards, "cadres": cadre_counts.0, "work_logs": cadre_counts.1, "first_secretaries": fs_counts.0, "fs_checkins": fs_counts.1, "point_entries": pts.entries, "star_rounds": pts.rounds, "meetings": sittings, "meeting_attendance": attendance}),
        },
    )
    .await?;
    if let crate::db::TxConn::Sqlite(t) = &mut tx.conn {
        sqlx::query("PRAGMA cache_size = -65536")
            .execute(&mut **t)
            .await?;
    }
    tx.commit().await?;
    progress("committed");
    let summary = DemoSummary {
        orgs: g.orgs.len(),
        branches: plans.len(),
        members: written,
        accounts: demo_accounts(ctx, &g, &plans).await?,
        totp: ["auditor", "security"]
            .iter()
            .map(|u| {
                (
                    u.to_string(),
                    crate::auth::totp::secret_base32(&demo_totp_secret(u)),
                )
            })
            .collect(),
    };
    if let Db::Sqlite(p, _) = &ctx.db {
        sqlx::query("ANALYZE").execute(p).await?;
    } else if let Db::Postgres(p, _) = &ctx.db {
        // and the visibility map, as autovacuum would leave it: until then every index-only
        // scan of the freshly written tables also reads the table
        sqlx::query("VACUUM ANALYZE").execute(p).await?;
        // the member counts were updated once per generated member: rewritten compact, the
        // subtree sums read ~100 pages instead of ~2,000
        sqlx::query("VACUUM FULL ANALYZE org_member_counts")
            .execute(p)
            .await?;
    }
    Ok(summary)
}

async fn insert_members(
    ctx: &Ctx,
    tx: &mut crate::db::Tx,
    batch: &[(i64, &BranchPlan, Person, Option<i64>)],
    now: chrono::DateTime<Utc>,
) -> AppResult<()> {
    const COLS: usize = 25;
    let mut sql = String::from("INSERT INTO members (id, org_id, group_id, name, name_pinyin, name_initials, gender, ethnicity, birth_month, id_enc, id_idx, id_masked, phone_enc, phone_idx, phone_masked, key_version, education, work_unit, region_code, join_date, full_date, status, grid_role, mobile_destination, created_at, updated_at) VALUES ");
    for i in 0..batch.len() {
        if i > 0 {
            sql.push(',');
        }
        sql.push('(');
        for c in 0..COLS {
            sql.push_str(&format!("${},", i * COLS + c + 1));
        }
        sql.push_str(&format!("${})", i * COLS + COLS));
    }
    let v = &ctx.vault;
    use crate::crypto::aad;
    crate::on_tx!(tx, c => {
        let mut q = sqlx::query(&sql);
        for (id, plan, p, group) in batch {
            let (py, ini) = crate::member::pinyin::keys(&p.name);
            q = q.bind(*id).bind(plan.org_id).bind(*group).bind(&p.name).bind(py).bind(ini)
                .bind(if p.male { "M" } else { "F" }).bind(p.ethnicity).bind(crate::member::month_of(p.birth))
                .bind(v.encrypt(&aad("members", "id_enc", id), &p.id_number)).bind(v.blind_index("id", &p.id_number)).bind(mask_id_number(&p.id_number))
                .bind(v.encrypt(&aad("members", "phone_enc", id), &p.phone)).bind(v.blind_index("phone", &p.phone)).bind(mask_phone(&p.phone))
                .bind(v.key_version() as i64).bind(p.education).bind(&plan.unit).bind(&p.id_number[..6])
                .bind(p.join).bind(p.full).bind(if p.full.is_some() { "full" } else { "probationary" })
                .bind(p.grid_role).bind(p.destination).bind(now);
        }
        q.execute(&mut *c).await?;
    });
    Ok(())
}

/// Password of every demo account (printed by `dangjian demo` and `serve --demo`).
pub const DEMO_PASSWORD: &str = "Dangjian@2026";

async fn demo_accounts(
    ctx: &Ctx,
    g: &Gen,
    plans: &[BranchPlan],
) -> AppResult<Vec<(String, String, String)>> {
    let root = g.orgs.first().map(|o| o.id).unwrap_or(1);
    let county = g
        .orgs
        .iter()
        .find(|o| o.level == OrgLevel::County)
        .map(|o| o.id)
        .unwrap_or(root);
    let branch = plans
        .iter()
        .find(|p| p.level == OrgLevel::Village)
        .or(plans.first());
    let branch_id = branch.map(|b| b.org_id).unwrap_or(root);
    let member_id = on_db!(&ctx.db, p => sqlx::query("SELECT id FROM members WHERE org_id = $1 ORDER BY id LIMIT 1").bind(branch_id).fetch_optional(p).await?.map(|r| r.i64("id")).transpose()?);
    // the Party committee above the demo branch (a township's, usually): the "上级党委" of
    // recruitment's steps
    let mut township = branch_id;
    for _ in 0..4 {
        let up = on_db!(&ctx.db, p => sqlx::query("SELECT o.parent_id, p.kind FROM orgs o JOIN orgs p ON p.id = o.parent_id WHERE o.id = $1").bind(township).fetch_optional(p).await?
            .map(|r| Ok::<_, crate::db::DbError>((r.i64("parent_id")?, r.string("kind")?))).transpose()?);
        match up {
            Some((id, kind)) => {
                township = id;
                if kind == "committee" || kind == "working_committee" {
                    break;
                }
            }
            None => break,
        }
    }
    let system = Actor::system("demo");
    let specs: Vec<(&str, &str, i64, &str, Option<i64>)> = vec![
        ("city", "市委组织部（演示）", root, "org_staff", None),
        ("county", "县委组织部（演示）", county, "org_staff", None),
        (
            "township",
            "乡镇（街道）党委工作人员（演示）",
            township,
            "committee_staff",
            None,
        ),
        (
            "secretary",
            "村党支部书记（演示）",
            branch_id,
            "branch_secretary",
            None,
        ),
        ("member", "党员（演示）", branch_id, "member", member_id),
        ("firstsec", "第一书记（演示）", branch_id, "member", None),
        ("auditor", "审计管理员（演示）", root, "audit_admin", None),
        ("security", "安全管理员（演示）", root, "sec_admin", None),
    ];
    let mut out = Vec::new();
    for (u, dn, org, role, mid) in specs {
        let acc = crate::auth::store::create(
            ctx,
            &system,
            &crate::auth::store::NewAccount {
                username: u.into(),
                display_name: dn.into(),
                org_id: org,
                member_id: mid,
                roles: vec![role.into()],
                password: DEMO_PASSWORD.into(),
            },
        )
        .await?;
        on_db!(&ctx.db, p => { sqlx::query("UPDATE accounts SET must_change_password = $1, password_set_by = NULL WHERE id = $2").bind(false).bind(acc.id).execute(p).await?; });
        if crate::auth::Role::parse(role).is_some_and(|r| r.is_admin_trio()) {
            // administrators sign in with a second factor: enrolled with a printed secret
            let secret = demo_totp_secret(u);
            let enc = ctx.vault.encrypt(
                &crate::crypto::aad("accounts", "totp_secret_enc", acc.id),
                &hex::encode(&secret),
            );
            on_db!(&ctx.db, p => {
                sqlx::query("UPDATE accounts SET totp_secret_enc = $1, totp_enabled = $2 WHERE id = $3").bind(enc).bind(true).bind(acc.id).execute(p).await?;
            });
        }
        if u == "township" {
            // the township's Party secretary files the weekly record with this account
            on_db!(&ctx.db, p => {
                sqlx::query("UPDATE cadres SET account_id = $1 WHERE id = (SELECT MIN(c.id) FROM cadres c JOIN orgs o ON o.name = c.unit \
                             WHERE o.id = $2 AND c.category = 'town_head')")
                    .bind(acc.id).bind(org).execute(p).await?;
            });
        }
        if u == "firstsec" {
            // the first secretary on duty in the demo branch clocks in with this account
            on_db!(&ctx.db, p => {
                sqlx::query("UPDATE cadres SET account_id = $1 WHERE id = (SELECT MIN(a.cadre_id) FROM fs_assignments a WHERE a.village_id = $2 AND a.status = 'on_duty')")
                    .bind(acc.id).bind(org).execute(p).await?;
            });
        }
        let role_label = crate::auth::Role::parse(role)
            .map(|r| r.label())
            .unwrap_or(role);
        out.push((u.to_string(), role_label.to_string(), acc.org_name));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(n: usize) -> DemoOptions {
        DemoOptions {
            members: n,
            seed: 7,
            as_of: NaiveDate::from_ymd_opt(2026, 11, 23).expect("d"),
        }
    }

    #[test]
    fn plan_spends_exactly_the_members_and_obeys_the_tree() {
        for n in [30, 1_000, 40_000, 300_000, 3_000_000] {
            let g = plan(&opts(n));
            let total: usize = g.branches.iter().map(|b| b.size).sum();
            assert_eq!(total, n.max(30), "n={n}");
            let kinds: std::collections::HashMap<i64, OrgKind> =
                g.orgs.iter().map(|o| (o.id, o.kind)).collect();
            for o in &g.orgs {
                assert!(
                    o.kind.may_sit_under(o.parent_id.map(|p| kinds[&p])),
                    "{} under its parent",
                    o.name
                );
            }
            assert!(g.branches.iter().all(|b| b.size > 0));
            // names read like places: no numbers in them
            if let Some(o) = g
                .orgs
                .iter()
                .find(|o| o.name.chars().any(|c| c.is_ascii_digit()))
            {
                panic!("n={n}: {}", o.name);
            }
        }
    }

    #[test]
    fn deterministic_for_a_seed() {
        let a = plan(&opts(5_000));
        let b = plan(&opts(5_000));
        assert_eq!(
            a.orgs.iter().map(|o| &o.name).collect::<Vec<_>>(),
            b.orgs.iter().map(|o| &o.name).collect::<Vec<_>>()
        );
    }

    #[test]
    fn people_obey_the_member_rules() {
        let o = opts(2_000);
        let mut g = plan(&o);
        let mut used = HashSet::new();
        let rules = crate::rules::MemberRules::default();
        let plans = std::mem::take(&mut g.branches);
        let mut probationary = 0;
        for plan in plans.iter().take(60) {
            for _ in 0..plan.size {
                let p = person(&mut g.rng, plan, o.as_of, &mut used);
                let input = crate::member::rules::MemberInput {
                    org_id: 1,
                    name: p.name.clone(),
                    ethnicity: p.ethnicity.into(),
                    id_number: Some(p.id_number.clone()),
                    phone: Some(p.phone.clone()),
                    education: p.education.into(),
                    work_unit: plan.unit.clone(),
                    join_date: p.join,
                    full_date: p.full,
                    status: if p.full.is_some() {
                        "full".into()
                    } else {
                        "probationary".into()
                    },
                    grid_role: p.grid_role.map(str::to_string),
                    mobile_destination: p.destination.map(str::to_string),
                    ..Default::default()
                };
                if let Err(c) = crate::member::rules::check(&input, &rules, o.as_of, None) {
                    panic!("{} {:?}: {:?}", p.name, p.id_number, c.0);
                }
                probationary += usize::from(p.full.is_none());
                // nobody joins in old age (an 80-year-old admitted last year looked false)
                assert!(p.join < add_years(p.birth, 49), "{} joined past 48", p.name);
            }
        }
        assert!(probationary > 0);
    }

    #[test]
    fn ordinals() {
        assert_eq!(ordinal(1), "一");
        assert_eq!(ordinal(12), "十二");
        assert_eq!(ordinal(20), "二十");
        assert_eq!(ordinal(34), "三十四");
        assert_eq!(ordinal(100), "一百");
        assert_eq!(ordinal(105), "一百零五");
        assert_eq!(ordinal(110), "一百一十");
        assert_eq!(ordinal(117), "一百一十七");
        assert_eq!(ordinal(999), "九百九十九");
        assert_eq!(ordinal(1000), "一千");
        assert_eq!(ordinal(1012), "一千零一十二");
        assert_eq!(ordinal(1203), "一千二百零三");
    }
}
