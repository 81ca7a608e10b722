//! First secretaries: the city's round (市派, one village in eight across the counties, a
//! year and a half on duty) and the first county's own round (县派, half a year), each with its
//! cadre, term, liaison, "3+1" tutors and the village's baseline; and their clock-ins — most
//! working days in the village morning and evening, some outside the radius, some sent later
//! from an offline queue, some days missing, a few first secretaries often away.

use super::names::{GIVEN_FEMALE, GIVEN_MALE, SURNAMES};
use super::{pick_str, weighted};
use crate::db::{DbRow, Tx};
use crate::error::AppResult;
use crate::first_secretary::{term_end, Point};
use crate::org::OrgLevel;
use crate::{on_tx, Ctx};
use chrono::{Datelike, Duration, NaiveDate, Weekday};
use rand::rngs::StdRng;
use rand::Rng;

const CITY_UNITS: [&str; 12] = [
    "市委组织部",
    "市发展和改革委员会",
    "市财政局",
    "市农业农村局",
    "市自然资源和规划局",
    "市交通运输局",
    "市卫生健康委员会",
    "市教育局",
    "市商务局",
    "市水利局",
    "市供销合作社",
    "市农商银行",
];

const COUNTY_UNITS: [&str; 8] = [
    "农业农村局",
    "财政局",
    "住房和城乡建设局",
    "交通运输局",
    "水务局",
    "人力资源和社会保障局",
    "商务局",
    "乡村振兴服务中心",
];

const LEAVE_REASONS: [&str; 5] = [
    "回派出单位参加年度考核",
    "家中老人住院需陪护",
    "参加市委组织部第一书记业务培训",
    "子女升学需办理相关手续",
    "本人身体不适就医",
];

/// An organisation as the demo knows it: id, parent, level, name.
pub(super) struct Place<'a> {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub level: OrgLevel,
    pub name: &'a str,
    pub village: bool,
}

fn person(rng: &mut StdRng) -> String {
    let mut n = weighted(rng, SURNAMES).to_string();
    let pool = if rng.gen_bool(0.75) {
        GIVEN_MALE
    } else {
        GIVEN_FEMALE
    };
    n.push_str(pick_str(rng, pool));
    n
}

/// A point `m` metres from `c` at a random bearing.
fn near(rng: &mut StdRng, c: Point, m: f64) -> Point {
    let bearing = rng.gen_range(0.0..std::f64::consts::TAU);
    let dlat = m * bearing.cos() / 111_195.0;
    let dlng = m * bearing.sin() / (111_195.0 * c.lat.to_radians().cos());
    Point {
        lat: c.lat + dlat,
        lng: c.lng + dlng,
    }
}

type Row = (
    i64,
    i64,
    &'static str,
    chrono::DateTime<chrono::Utc>,
    NaiveDate,
    chrono::DateTime<chrono::Utc>,
    bool,
    Vec<u8>,
    i64,
    i64,
    bool,
);

async fn insert(tx: &mut Tx, rows: &[Row]) -> AppResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut sql = String::from("INSERT INTO fs_checkins (id, assignment_id, kind, at, local_day, received_at, offline, position_enc, accuracy_m, distance_m, inside) VALUES ");
    for i in 0..rows.len() {
        let b = i * 11;
        if i > 0 {
            sql.push(',');
        }
        let ps: Vec<String> = (1..=11).map(|k| format!("${}", b + k)).collect();
        sql.push_str(&format!("({})", ps.join(", ")));
    }
    on_tx!(tx, x => {
        let mut q = sqlx::query(&sql);
        for r in rows {
            q = q.bind(r.0).bind(r.1).bind(r.2).bind(r.3).bind(r.4).bind(r.5).bind(r.6).bind(&r.7).bind(r.8).bind(r.9).bind(r.10);
        }
        q.execute(&mut *x).await?;
    });
    Ok(())
}

struct Posted {
    id: i64,
    cadre: i64,
    start: NaiveDate,
    end: Option<NaiveDate>,
    at: Point,
    /// share of working days in the village
    presence: f64,
    village: i64,
    village_name: String,
    /// the township's organisation, as the live ranking names it
    town_full: String,
    town: Option<i64>,
    county: Option<i64>,
    /// the department running the posting's round
    round_org: i64,
    cadre_name: String,
    unit: String,
}

/// Makes the two rounds and the clock-ins; returns (assignments, clock-ins).
#[allow(clippy::too_many_arguments)]
pub(super) async fn generate(
    ctx: &Ctx,
    tx: &mut Tx,
    rng: &mut StdRng,
    places: &[Place<'_>],
    demo_branch: i64,
    as_of: NaiveDate,
) -> AppResult<(usize, usize)> {
    let by_id: std::collections::HashMap<i64, &Place> = places.iter().map(|p| (p.id, p)).collect();
    let up = |id: i64, level: OrgLevel| -> Option<i64> {
        let mut cur = by_id.get(&id)?.parent_id;
        while let Some(c) = cur {
            let p = by_id.get(&c)?;
            if p.level == level {
                return Some(c);
            }
            cur = p.parent_id;
        }
        None
    };
    let Some(city) = places.iter().find(|p| p.parent_id.is_none()) else {
        return Ok((0, 0));
    };
    let counties: Vec<i64> = places
        .iter()
        .filter(|p| p.level == OrgLevel::County && p.parent_id == Some(city.id))
        .map(|p| p.id)
        .collect();
    let Some(&first_county) = counties.first() else {
        return Ok((0, 0));
    };
    let villages: Vec<&Place> = places.iter().filter(|p| p.village).collect();
    let zone = ctx.clock.zone();
    let now = ctx.clock.now();
    let mut rounds = Vec::new();
    for (org, name, year) in [
        (city.id, "第二轮市派第一书记", as_of.year() - 1),
        (first_county, "县派第一书记", as_of.year()),
    ] {
        let name = if org == city.id {
            name.to_string()
        } else {
            format!("{year}年{name}")
        };
        let id = on_tx!(tx, x => sqlx::query("INSERT INTO fs_rounds (org_id, name, year, status, created_at) VALUES ($1, $2, $3, 'open', $4) RETURNING id")
            .bind(org).bind(&name).bind(year as i64).bind(now).fetch_one(&mut *x).await?.i64("id")?);
        rounds.push((id, org));
    }
    let mut posted: Vec<Posted> = Vec::new();
    let mut taken = std::collections::HashSet::new();
    for (k, v) in villages.iter().enumerate() {
        let county = up(v.id, OrgLevel::County);
        let city_round = k % 8 == 0 || v.id == demo_branch;
        let county_round = !city_round && county == Some(first_county) && k % 5 == 1;
        if !(city_round || county_round) || !taken.insert(v.id) {
            continue;
        }
        let (round, managed_by) = if city_round { rounds[0] } else { rounds[1] };
        let county_idx = county
            .and_then(|c| counties.iter().position(|x| *x == c))
            .unwrap_or(0) as f64;
        let town = up(v.id, OrgLevel::Township);
        let town_name = town
            .and_then(|t| by_id.get(&t))
            .map(|t| {
                t.name
                    .trim_start_matches("中共")
                    .trim_end_matches("委员会")
                    .trim_end_matches('委')
                    .to_string()
            })
            .unwrap_or_default();
        let (level, unit) = if city_round {
            ("city", pick_str(rng, &CITY_UNITS).to_string())
        } else {
            ("county", format!("县{}", pick_str(rng, &COUNTY_UNITS)))
        };
        let name = person(rng);
        let (start, term) = if city_round {
            (as_of - Duration::days(rng.gen_range(520..560)), 36)
        } else {
            (as_of - Duration::days(rng.gen_range(170..200)), 24)
        };
        let ends = term_end(start, term);
        // one in fifty recalled some months ago (and replaced by nobody yet)
        let recalled = v.id != demo_branch && rng.gen_bool(0.02);
        let end = recalled.then(|| as_of - Duration::days(rng.gen_range(30..120)));
        let at = Point {
            lat: 34.6 + (county_idx % 7.0) * 0.35 + rng.gen_range(0.0..0.3),
            lng: 115.6 + (county_idx / 7.0).floor() * 0.45 + rng.gen_range(0.0..0.4),
        };
        let (lat, lng) = at.e6();
        let rank = if rng.gen_bool(0.6) {
            "section_deputy"
        } else {
            "section_member"
        };
        let position = if rng.gen_bool(0.5) {
            "四级主任科员"
        } else {
            "科长"
        };
        let baseline = serde_json::json!({"stars": rng.gen_range(1..=4), "stars_year": start.year() - 1,
            "members": rng.gen_range(18..60), "collective_income_yuan": rng.gen_range(0..8) * 10_000 + rng.gen_range(0..10) * 1_000,
            "households_in_difficulty": rng.gen_range(3..40)});
        let nominated =
            zone.start_of(start - Duration::days(rng.gen_range(20..40))) + Duration::hours(9);
        let decided =
            zone.start_of(start - Duration::days(rng.gen_range(5..15))) + Duration::hours(15);
        let status = if recalled { "recalled" } else { "on_duty" };
        let liaison = format!("{}（{}党委委员）", person(rng), town_name);
        let note = if recalled {
            "因身体原因召回，另行选派"
        } else {
            ""
        };
        let (id, cadre_of) = on_tx!(tx, x => {
            let cadre = sqlx::query("INSERT INTO cadres (name, managed_by, unit, position, rank, category, weekly_record, status, created_at, updated_at) \
                                     VALUES ($1, $2, $3, $4, $5, 'first_secretary', $6, 'active', $7, $7) RETURNING id")
                .bind(&name).bind(managed_by).bind(&unit).bind(position).bind(rank).bind(false).bind(nominated)
                .fetch_one(&mut *x).await?.i64("id")?;
            let id = sqlx::query("INSERT INTO fs_assignments (round_id, cadre_id, sending_level, sending_unit, status, nominated_at, decided_at, note, village_id, \
                                  start_on, term_months, ends_on, liaison, team, lat_e6, lng_e6, baseline_json, ended_on, created_at, updated_at) \
                                  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $6, $7) RETURNING id")
                .bind(round).bind(cadre).bind(level).bind(&unit).bind(status).bind(nominated).bind(decided).bind(note).bind(v.id)
                .bind(start).bind(term).bind(ends).bind(&liaison).bind(format!("{town_name}第一书记服务队")).bind(lat).bind(lng)
                .bind(baseline.to_string()).bind(end).fetch_one(&mut *x).await?.i64("id")?;
            for (role, tname, tunit) in [
                ("general", person(rng), format!("县{}副局长", pick_str(rng, &COUNTY_UNITS))),
                ("village", person(rng), format!("{town_name}组织委员")),
                ("practice", person(rng), "原第一书记".to_string()),
            ] {
                sqlx::query("INSERT INTO fs_tutors (assignment_id, role, name, unit, created_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(id).bind(role).bind(&tname).bind(&tunit).bind(decided).execute(&mut *x).await?;
            }
            (id, cadre)
        });
        let presence = if rng.gen_bool(0.08) {
            rng.gen_range(0.45..0.65)
        } else {
            rng.gen_range(0.86..0.98)
        };
        posted.push(Posted {
            id,
            cadre: cadre_of,
            start,
            end,
            at,
            presence,
            village: v.id,
            village_name: v.name.to_string(),
            town_full: town
                .and_then(|t| by_id.get(&t))
                .map(|t| t.name.to_string())
                .unwrap_or_default(),
            town,
            county,
            round_org: managed_by,
            cadre_name: name.clone(),
            unit: unit.clone(),
        });
    }
    // leave: some taken and approved by the township, a few waiting (longer ones, the county's)
    for a in &posted {
        if a.end.is_some() {
            continue;
        }
        if rng.gen_bool(0.35) {
            let from = as_of - Duration::days(rng.gen_range(20..120));
            let from = from.max(a.start);
            let to = from + Duration::days(1);
            let at = zone.start_of(from - Duration::days(3)) + Duration::hours(10);
            on_tx!(tx, x => {
                sqlx::query("INSERT INTO fs_leaves (assignment_id, from_on, to_on, days, reason, approver, status, requested_at, decided_at, decision_note) \
                             VALUES ($1, $2, $3, 2, $4, 'township', 'approved', $5, $6, '同意')")
                    .bind(a.id).bind(from).bind(to).bind(pick_str(rng, &LEAVE_REASONS)).bind(at).bind(at + Duration::hours(3))
                    .execute(&mut *x).await?;
            });
        }
        if rng.gen_bool(0.06) {
            let from = as_of + Duration::days(rng.gen_range(3..10));
            on_tx!(tx, x => {
                sqlx::query("INSERT INTO fs_leaves (assignment_id, from_on, to_on, days, reason, approver, status, requested_at) \
                             VALUES ($1, $2, $3, 5, $4, 'county', 'requested', $5)")
                    .bind(a.id).bind(from).bind(from + Duration::days(6)).bind(pick_str(rng, &LEAVE_REASONS)).bind(now - Duration::hours(20))
                    .execute(&mut *x).await?;
            });
        }
    }
    // the clock-ins of the last year, a few hundred rows to a statement
    let from = as_of - Duration::days(365);
    let mut next_id: i64 = on_tx!(tx, x => sqlx::query("SELECT COALESCE(MAX(id), 0) AS n FROM fs_checkins").fetch_one(&mut *x).await?.i64("n")?)
        + 1;
    let mut batch: Vec<Row> = Vec::with_capacity(400);
    let mut total = 0usize;
    for a in &posted {
        let mut day = a.start.max(from);
        let last = a.end.unwrap_or(as_of).min(as_of);
        while day <= last {
            let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
            let here = if weekend {
                rng.gen_bool(0.12)
            } else {
                rng.gen_bool(a.presence)
            };
            if here || (!weekend && rng.gen_bool(0.3)) {
                // present: in the radius; away days sometimes clock in from elsewhere
                let inside = here && !rng.gen_bool(0.03);
                for (kind, h0, h1) in [
                    ("in", 7 * 60 + 40, 8 * 60 + 50),
                    ("out", 17 * 60 + 20, 19 * 60),
                ] {
                    if kind == "out" && (day == as_of || rng.gen_bool(0.1)) {
                        continue;
                    }
                    let at = zone.start_of(day) + Duration::minutes(rng.gen_range(h0..h1));
                    if at > now {
                        continue;
                    }
                    let offline = rng.gen_bool(0.04);
                    let received = if offline {
                        (at + Duration::minutes(rng.gen_range(30..600))).min(now)
                    } else {
                        at + Duration::seconds(rng.gen_range(1..20))
                    };
                    let dist = if inside {
                        rng.gen_range(10.0..380.0)
                    } else {
                        rng.gen_range(650.0..9000.0)
                    };
                    let p = near(rng, a.at, dist);
                    let d = crate::first_secretary::distance_m(p, a.at).round() as i64;
                    let enc = ctx.vault.encrypt(
                        &crate::crypto::aad("fs_checkins", "position_enc", next_id),
                        &format!("{:.6},{:.6}", p.lat, p.lng),
                    );
                    batch.push((
                        next_id,
                        a.id,
                        kind,
                        at,
                        day,
                        received,
                        offline,
                        enc,
                        rng.gen_range(5..65),
                        d,
                        d <= 500,
                    ));
                    next_id += 1;
                    total += 1;
                    if batch.len() >= 400 {
                        insert(tx, &std::mem::take(&mut batch)).await?;
                    }
                }
            }
            day += Duration::days(1);
        }
    }
    insert(tx, &std::mem::take(&mut batch)).await?;
    ledger(ctx, tx, rng, &posted, as_of).await?;
    four_ones(ctx, tx, rng, as_of).await?;
    reports(ctx, tx, rng, &posted, as_of).await?;
    alliance(ctx, tx, rng, &posted, first_county, as_of).await?;
    let demo_town = up(demo_branch, OrgLevel::Township);
    scores(
        ctx,
        tx,
        rng,
        &posted,
        (city.id, first_county),
        demo_town,
        as_of,
    )
    .await?;
    if let crate::db::TxConn::Postgres(t) = &mut tx.conn {
        for table in [
            "fs_quarters",
            "fs_reports",
            "fs_guidance",
            "fs_alliances",
            "review_campaigns",
            "review_reporters",
            "review_raters",
            "review_schemes",
            "point_entries",
            "fs_ledger",
            "fs_activities",
            "fs_pledges",
            "fs_checkins",
            "fs_leaves",
            "fs_assignments",
            "fs_rounds",
            "fs_tutors",
            "cadres",
        ] {
            sqlx::query(&format!("SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT COALESCE(MAX(id), 1) FROM {table}))"))
                .execute(&mut **t)
                .await?;
        }
    }
    Ok((posted.len(), total))
}

const RED: [(&str, &str); 5] = [
    ("commendation", "被县委评为优秀第一书记，通报表扬"),
    (
        "achievement",
        "协调帮扶资金修建村内道路2.3公里，安装路灯46盏",
    ),
    ("achievement", "引进食用菌种植项目，村集体年增收8万元"),
    ("thanks", "村民代表送来感谢信，感谢帮助解决灌溉用水问题"),
    ("contest_win", "在分盟“比武打擂”中获评擂主，授予流动红旗"),
];
const PLEDGES: [(&str, &str, &str); 4] = [
    (
        "发展壮大村级集体经济",
        "村集体经营性收入年增长10%以上",
        "土地托管服务已签约320亩",
    ),
    (
        "建强村党组织",
        "发展1名35岁以下入党积极分子，规范“三会一课”",
        "已确定入党积极分子1名",
    ),
    (
        "为民办实事",
        "硬化村内道路1.5公里，安装路灯30盏",
        "道路已完工0.8公里",
    ),
    ("化解矛盾纠纷", "信访积案清零", ""),
];
const BLACK: [(&str, &str); 3] = [
    ("failed_check", "县委组织部督查时驻村工作日志缺失两周"),
    ("complaint", "群众反映入户走访不到位，经乡镇党委核实属实"),
    ("absence", "工作日未请假离村，电话抽查不在岗"),
];

/// The red/black ledger: a commendation or achievement for every fourth posting and a few more,
/// a black entry for a few, and one entered by mistake and reversed.
async fn ledger(
    ctx: &Ctx,
    tx: &mut Tx,
    rng: &mut StdRng,
    posted: &[Posted],
    as_of: NaiveDate,
) -> AppResult<()> {
    let zone = ctx.clock.zone();
    let now = ctx.clock.now();
    let recorder = "组织部第一书记工作办公室";
    let mut reversed = false;
    for (i, a) in posted.iter().enumerate() {
        let last = a.end.unwrap_or(as_of).min(as_of);
        let span = (last - a.start).num_days();
        if span < 30 {
            continue;
        }
        let mut rows: Vec<(&str, &str, &str)> = Vec::new();
        if i % 4 == 0 || rng.gen_bool(0.1) {
            let (c, n) = RED[rng.gen_range(0..RED.len())];
            rows.push(("red", c, n));
        }
        if rng.gen_bool(0.07) {
            let (c, n) = BLACK[rng.gen_range(0..BLACK.len())];
            rows.push(("black", c, n));
        }
        if a.end.is_none() {
            // the pledge (履职承诺书) of a posting on duty, with what has come of it
            let at = now.min(zone.start_of(a.start) + Duration::days(10));
            for (item, target, progress) in PLEDGES.iter().filter(|_| rng.gen_bool(0.7)) {
                on_tx!(tx, x => {
                    sqlx::query("INSERT INTO fs_pledges (assignment_id, item, target, progress, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)")
                        .bind(a.id).bind(*item).bind(*target).bind(*progress).bind(at).execute(&mut *x).await?;
                });
            }
        }
        for (color, category, note) in rows {
            let on = a.start + Duration::days(rng.gen_range(20..span));
            let at = now.min(zone.start_of(on) + Duration::hours(rng.gen_range(9..17)));
            let id = on_tx!(tx, x => {
                sqlx::query("INSERT INTO fs_ledger (assignment_id, cadre_id, color, category, occurred_on, note, source, recorded_by, recorder_name, recorded_at) \
                             VALUES ($1, $2, $3, $4, $5, $6, 'manual', NULL, $7, $8) RETURNING id")
                    .bind(a.id).bind(a.cadre).bind(color).bind(category).bind(on).bind(note).bind(recorder).bind(at)
                    .fetch_one(&mut *x).await?.i64("id")?
            });
            if !reversed && color == "black" {
                reversed = true;
                on_tx!(tx, x => {
                    sqlx::query("INSERT INTO fs_ledger (assignment_id, cadre_id, color, category, occurred_on, note, source, reverses_id, recorded_by, recorder_name, recorded_at) \
                                 VALUES ($1, $2, $3, $4, $5, $6, 'manual', $7, NULL, $8, $9)")
                        .bind(a.id).bind(a.cadre).bind(color).bind(category).bind((on + Duration::days(7)).min(as_of))
                        .bind("经复核，当日在县里参加培训，已报乡镇党委备案，予以冲销").bind(id).bind(recorder).bind(now.min(at + Duration::days(7)))
                        .execute(&mut *x).await?;
                });
            }
        }
    }
    Ok(())
}

const PROJECTS: [&str; 6] = [
    "村集体光伏电站并网发电，本月收益入账",
    "土地托管服务签约面积继续扩大",
    "冷库建设完成主体工程",
    "村内道路硬化工程进入收尾",
    "食用菌大棚新建两座，已投产",
    "村级电商服务站开通运营",
];
const PROBLEMS: [&str; 5] = [
    "冷库配套资金尚有缺口，需派出单位协调",
    "部分农户对土地流转仍有顾虑",
    "灌溉机井老化，需列入明年水利项目",
    "",
    "",
];
const GUIDANCE: [(&str, &str); 5] = [
    (
        "村集体经济项目选址",
        "到村察看地块，建议项目靠近主路以便运输",
    ),
    (
        "“三会一课”规范化",
        "查阅会议记录，指出党员大会记录不完整，明确整改要求",
    ),
    (
        "矛盾纠纷化解",
        "介绍原任村化解宅基地纠纷的做法，约定下周一同入户",
    ),
    ("项目资金申报", "讲解衔接资金申报程序和材料要求"),
    ("后备干部培养", "建议从返乡青年中物色人选，结对培养"),
];

/// 实绩 and 导师: the monthly reports of the postings on duty over the last half year (most on
/// time, some late, a few never filed: missed), each with its obligation, this month's still
/// owed; and a few guidance sessions of each posting's tutors.
async fn reports(
    ctx: &Ctx,
    tx: &mut Tx,
    rng: &mut StdRng,
    posted: &[Posted],
    as_of: NaiveDate,
) -> AppResult<()> {
    use crate::first_secretary::{month_bounds, report_deadlines, FsRules};
    let rules = FsRules::default();
    let zone = ctx.clock.zone();
    // the demo's day, not the clock's: a city generated for another day files what that day
    // would have seen (the tests generate one fixed day under several clocks)
    let now = zone.start_of(as_of) + Duration::hours(18);
    let this_month = month_bounds(as_of).0;
    for a in posted
        .iter()
        .filter(|a| a.end.is_none() && a.start <= as_of)
    {
        let mut first = month_bounds(a.start.max(as_of - Duration::days(183))).0;
        while first <= this_month {
            let (start, end) = month_bounds(first);
            let key = first.format("%Y-%m").to_string();
            let (due, missed) = report_deadlines(first, &rules, &zone);
            let current = first == this_month;
            // this month: not yet filed; before: 85% on time, 10% late, 5% never
            let roll: f64 = rng.gen();
            let filed_at = if current {
                None
            } else if roll < 0.85 {
                Some(
                    zone.start_of(end + Duration::days(rng.gen_range(1..=rules.report_due_day)))
                        + Duration::hours(rng.gen_range(8..20)),
                )
            } else if roll < 0.95 {
                Some(
                    due + Duration::days(rng.gen_range(1..20))
                        + Duration::hours(rng.gen_range(8..20)),
                )
            } else {
                None
            };
            let filed_at = filed_at.filter(|t| *t <= now);
            let status = match filed_at {
                Some(t) if t <= due => "done",
                Some(_) => "late",
                None if missed <= now => "missed",
                None => "due",
            };
            let record = match filed_at {
                Some(at) => {
                    let m = crate::points::month_key(first);
                    let project = PROJECTS[rng.gen_range(0..PROJECTS.len())];
                    let problem = PROBLEMS[rng.gen_range(0..PROBLEMS.len())];
                    let counters: Vec<(&crate::first_secretary::Counter, i64)> = rules
                        .counters
                        .iter()
                        .filter_map(|c| {
                            if !rng.gen_bool(0.25) {
                                return None;
                            }
                            let v = match c.unit.as_str() {
                                "公里" => rng.gen_range(10..300),
                                "万元" => rng.gen_range(50..2_000),
                                "亩" => rng.gen_range(50..3_000),
                                "户" | "人次" => rng.gen_range(5..80),
                                _ => rng.gen_range(1..6),
                            };
                            Some((c, v))
                        })
                        .collect();
                    let id = on_tx!(tx, x => {
                        let id = sqlx::query("INSERT INTO fs_reports (assignment_id, village_id, month, projects, problems, filed_by, filed_at, updated_at) \
                                              VALUES ($1, $2, $3, $4, $5, NULL, $6, $6) RETURNING id")
                            .bind(a.id).bind(a.village).bind(m).bind(project).bind(problem).bind(at)
                            .fetch_one(&mut *x).await?.i64("id")?;
                        for (c, v) in &counters {
                            sqlx::query("INSERT INTO fs_report_counters (report_id, code, value, decimals) VALUES ($1, $2, $3, $4)")
                                .bind(id).bind(&c.key).bind(v).bind(c.decimals).execute(&mut *x).await?;
                        }
                        id
                    });
                    Some((id, at))
                }
                None => None,
            };
            on_tx!(tx, x => {
                sqlx::query("INSERT INTO obligations (kind, subject_type, subject_id, scope_org_id, period, period_start, period_end, due_at, missed_at, status, \
                             record_type, record_id, fulfilled_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)")
                    .bind(crate::first_secretary::results::OBLIGATION).bind(crate::first_secretary::results::SUBJECT).bind(a.id).bind(a.village)
                    .bind(&key).bind(start).bind(end).bind(due).bind(missed).bind(status)
                    .bind(record.map(|_| "fs_report")).bind(record.map(|r| r.0)).bind(record.map(|r| r.1))
                    .bind(now.min(zone.start_of(start))).execute(&mut *x).await?;
            });
            let Some(next) = end.succ_opt() else { break };
            first = next;
        }
        // two or three sessions of the tutors
        let tutors = on_tx!(tx, x => {
            let rows = sqlx::query("SELECT id FROM fs_tutors WHERE assignment_id = $1 ORDER BY id").bind(a.id).fetch_all(&mut *x).await?;
            rows.iter().map(|r| r.i64("id")).collect::<crate::db::DbResult<Vec<_>>>()?
        });
        let span = (as_of - a.start).num_days();
        if tutors.is_empty() || span < 7 {
            continue;
        }
        for _ in 0..rng.gen_range(2..=3) {
            let tutor = tutors[rng.gen_range(0..tutors.len())];
            let on = a.start + Duration::days(rng.gen_range(0..span));
            let (topic, content) = GUIDANCE[rng.gen_range(0..GUIDANCE.len())];
            let method = ["visit", "meeting", "phone", "online"][rng.gen_range(0..4)];
            let at = now.min(zone.start_of(on) + Duration::hours(rng.gen_range(15..20)));
            on_tx!(tx, x => {
                sqlx::query("INSERT INTO fs_guidance (assignment_id, tutor_id, held_on, method, topic, content, recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, NULL, $7)")
                    .bind(a.id).bind(tutor).bind(on).bind(method).bind(topic).bind(content).bind(at).execute(&mut *x).await?;
            });
        }
    }
    Ok(())
}

/// 第一书记联盟 of the first county: the whole alliance and two sub-alliances splitting its own
/// round's first secretaries on duty; last quarter's contest of the first sub-alliance held —
/// judges and the public scored by code, the champions named on the red/black ledger, the
/// first holding the rotating red flag.
async fn alliance(
    ctx: &Ctx,
    tx: &mut Tx,
    rng: &mut StdRng,
    posted: &[Posted],
    county: i64,
    as_of: NaiveDate,
) -> AppResult<()> {
    use crate::first_secretary::alliance::{champions, contest_scheme, CONTEST_SCHEME};
    let ours: Vec<&Posted> = posted
        .iter()
        .filter(|a| a.round_org == county && a.end.is_none() && a.start <= as_of)
        .collect();
    let now = ctx.clock.now();
    let quarter_start = crate::first_secretary::month_bounds(as_of).0;
    let quarter_start = quarter_start
        .with_month(((quarter_start.month() - 1) / 3) * 3 + 1)
        .unwrap_or(quarter_start);
    let last_q_end = quarter_start - Duration::days(1);
    let held = ours.iter().filter(|a| a.start <= last_q_end).count();
    if held < 2 {
        return Ok(());
    }
    // two sub-alliances where there are enough first secretaries, else one; the first holds
    // those posted before last quarter ended, so that its contest has contestants
    let mut ours = ours;
    ours.sort_by_key(|a| (a.start > last_q_end, a.id));
    let half = if ours.len() >= 6 {
        ours.len() / 2
    } else {
        ours.len()
    };
    let half = half.max(held.min(ours.len()));
    let (whole, subs) = on_tx!(tx, x => {
        let whole = sqlx::query("INSERT INTO fs_alliances (org_id, parent_id, name, created_at) VALUES ($1, NULL, '第一书记联盟', $2) RETURNING id")
            .bind(county).bind(now).fetch_one(&mut *x).await?.i64("id")?;
        let mut subs = Vec::new();
        for (name, members) in [("第一分盟", &ours[..half]), ("第二分盟", &ours[half..])] {
            if members.is_empty() {
                continue;
            }
            let sub = sqlx::query("INSERT INTO fs_alliances (org_id, parent_id, name, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
                .bind(county).bind(whole).bind(name).bind(now).fetch_one(&mut *x).await?.i64("id")?;
            for a in members {
                sqlx::query("INSERT INTO fs_alliance_members (alliance_id, assignment_id, joined_at) VALUES ($1, $2, $3)")
                    .bind(sub).bind(a.id).bind(now).execute(&mut *x).await?;
            }
            subs.push((sub, name, members.to_vec()));
        }
        (whole, subs)
    });
    let _ = whole;
    let Some((sub, sub_name, members)) = subs.into_iter().next() else {
        return Ok(());
    };
    let contestants: Vec<&Posted> = members
        .into_iter()
        .filter(|a| a.start <= last_q_end)
        .collect();
    if contestants.len() < 2 {
        return Ok(());
    }
    let scheme = contest_scheme();
    let period = crate::points::quarter_of(last_q_end);
    let title = format!("{sub_name} {period} 比武打擂");
    let held_on = (quarter_start + Duration::days(9)).min(as_of);
    let at = ctx.clock.zone().start_of(held_on) + Duration::hours(9);
    let (cid, reporters) = on_tx!(tx, x => {
        let scheme_id = sqlx::query("INSERT INTO review_schemes (org_id, name, version, scheme_json, created_at) VALUES ($1, $2, 1, $3, $4) RETURNING id")
            .bind(county).bind(CONTEST_SCHEME).bind(serde_json::to_string(&scheme).unwrap_or_default()).bind(at)
            .fetch_one(&mut *x).await?.i64("id")?;
        let cid = sqlx::query("INSERT INTO review_campaigns (org_id, year, title, scheme_id, levels_json, selection_json, status, opened_at, closed_at, created_at, updated_at, level_orgs_json, kind) \
                               VALUES ($1, $2, $3, $4, '[\"组织部确认\"]', $5, 'closed', $6, $7, $6, $7, $8, 'contest') RETURNING id")
            .bind(county).bind(last_q_end.year() as i64).bind(&title).bind(scheme_id)
            .bind(serde_json::json!({"all_level": "alliance", "draw_level": null, "draw_n": 0, "seed": 0, "candidates": [], "drawn": []}).to_string())
            .bind(at).bind(at + Duration::hours(3)).bind(format!("[{county}]"))
            .fetch_one(&mut *x).await?.i64("id")?;
        sqlx::query("INSERT INTO fs_contests (campaign_id, alliance_id, period) VALUES ($1, $2, $3)").bind(cid).bind(sub).bind(&period).execute(&mut *x).await?;
        let mut reporters = Vec::new();
        for a in &contestants {
            let rid = sqlx::query("INSERT INTO review_reporters (campaign_id, org_id, reporter_name, selected_by, report_status, assignment_id) VALUES ($1, $2, $3, 'all', 'approved', $4) RETURNING id")
                .bind(cid).bind(a.village).bind(&a.cadre_name).bind(a.id).fetch_one(&mut *x).await?.i64("id")?;
            reporters.push((rid, *a));
        }
        (cid, reporters)
    });
    let mut raters = Vec::new();
    for (i, grp) in ["judges", "judges", "judges", "reps", "public"]
        .iter()
        .enumerate()
    {
        let name = person(rng);
        let hash = crate::crypto::sm3_hex(format!("rater:DEMOFS{cid}R{i}").as_bytes());
        let unit = match *grp {
            "judges" => "县委组织部",
            "reps" => "县人大代表",
            _ => "村民代表",
        };
        let id = on_tx!(tx, x => {
            sqlx::query("INSERT INTO review_raters (campaign_id, name, grp, unit, code_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
                .bind(cid).bind(&name).bind(*grp).bind(unit).bind(&hash).bind(at).fetch_one(&mut *x).await?.i64("id")?
        });
        raters.push((id, *grp));
    }
    let mut results = Vec::new();
    for (k, (rid, _)) in reporters.iter().enumerate() {
        let mut by: std::collections::BTreeMap<String, Vec<i64>> = Default::default();
        for (rater, grp) in &raters {
            let answers: std::collections::BTreeMap<String, String> = scheme
                .indicators
                .iter()
                .map(|ind| {
                    let roll = rng.gen_range(0..100) + (k as i32 % 3) * 10;
                    let lvl = match roll {
                        0..=44 => "good",
                        45..=89 => "fair",
                        _ => "average",
                    };
                    (ind.key.clone(), lvl.to_string())
                })
                .collect();
            let total = crate::review::score_total(&answers, &scheme)?;
            by.entry(grp.to_string()).or_default().push(total);
            on_tx!(tx, x => {
                sqlx::query("INSERT INTO review_scores (campaign_id, rater_id, reporter_id, answers_json, total_tenths, comment, submitted_at) VALUES ($1, $2, $3, $4, $5, '', $6)")
                    .bind(cid).bind(*rater).bind(*rid).bind(serde_json::to_string(&answers).unwrap_or_default()).bind(total).bind(at + Duration::hours(2))
                    .execute(&mut *x).await?;
            });
        }
        results.push((*rid, crate::review::aggregate(&by, &scheme).unwrap_or(0)));
    }
    let ranks = crate::review::rank(
        &results
            .iter()
            .map(|(id, s)| (*id, *s, false))
            .collect::<Vec<_>>(),
    );
    for (rid, score) in &results {
        let rank = ranks.iter().find(|(id, _)| id == rid).map(|(_, r)| *r);
        let grade = crate::review::final_grade(*score, false, false, &scheme);
        on_tx!(tx, x => {
            sqlx::query("UPDATE review_reporters SET score_tenths = $1, deduction_tenths = 0, grade = $2, rank = $3 WHERE id = $4")
                .bind(*score).bind(&grade).bind(rank).bind(*rid).execute(&mut *x).await?;
        });
    }
    let n = crate::first_secretary::FsRules::default().contest_champions;
    for (rid, rank, flag) in champions(&ranks, &[], &[], n) {
        let Some((_, a)) = reporters.iter().find(|(r, _)| *r == rid) else {
            continue;
        };
        let note = crate::first_secretary::alliance::champion_note(&title, rank, flag);
        on_tx!(tx, x => {
            let lid = sqlx::query("INSERT INTO fs_ledger (assignment_id, cadre_id, color, category, occurred_on, note, source, source_id, recorded_by, recorder_name, recorded_at) \
                                   VALUES ($1, $2, 'red', 'contest_win', $3, $4, 'contest', $5, NULL, '县委组织部第一书记工作办公室', $6) RETURNING id")
                .bind(a.id).bind(a.cadre).bind(held_on).bind(&note).bind(cid).bind(at + Duration::hours(3))
                .fetch_one(&mut *x).await?.i64("id")?;
            sqlx::query("INSERT INTO fs_champions (campaign_id, assignment_id, rank, flag, ledger_id) VALUES ($1, $2, $3, $4, $5)")
                .bind(cid).bind(a.id).bind(rank).bind(flag).bind(lid).execute(&mut *x).await?;
        });
    }
    Ok(())
}

/// 四个一 of the rounds with first secretaries on duty: the meetings, visits, trainings and
/// assessments of past periods (a few never held: missed), each with its obligation; the
/// current periods mostly still owed.
async fn four_ones(ctx: &Ctx, tx: &mut Tx, rng: &mut StdRng, as_of: NaiveDate) -> AppResult<usize> {
    use crate::first_secretary::{activity_cadence, activity_period, previous_period, ACTIVITIES};
    let zone = ctx.clock.zone();
    let now = ctx.clock.now();
    let grace = crate::first_secretary::FsRules::default().activity_grace_days;
    let rounds = on_tx!(tx, x => {
        let rows = sqlx::query("SELECT r.id, r.org_id, MIN(a.start_on) AS since FROM fs_rounds r JOIN fs_assignments a ON a.round_id = r.id \
                                WHERE a.status = 'on_duty' AND a.start_on IS NOT NULL GROUP BY r.id, r.org_id")
            .fetch_all(&mut *x).await?;
        rows.iter().map(|r| Ok((r.i64("id")?, r.i64("org_id")?, r.date("since")?))).collect::<crate::db::DbResult<Vec<_>>>()?
    });
    let mut held = 0;
    for (round, org, since) in rounds {
        let on_duty = on_tx!(tx, x => sqlx::query("SELECT COUNT(*) AS n FROM fs_assignments WHERE round_id = $1 AND status = 'on_duty'")
            .bind(round).fetch_one(&mut *x).await?.i64("n")?);
        for (kind, _) in ACTIVITIES {
            let Some(cadence) = activity_cadence(kind) else {
                continue;
            };
            let mut period = activity_period(kind, as_of);
            for _ in 0..8 {
                let Some(p) = period.take() else { break };
                if p.end < since {
                    break;
                }
                period = previous_period(kind, &p);
                let (due, missed) = crate::first_secretary::activity_deadlines(p.end, grace, &zone);
                let current = p.end >= as_of;
                let happened = if current {
                    rng.gen_bool(0.4)
                } else {
                    rng.gen_bool(0.92)
                };
                let first = p.start.max(since);
                let last = p.end.min(as_of);
                if !happened || first > last {
                    let status = if missed <= now { "missed" } else { "due" };
                    on_tx!(tx, x => {
                        sqlx::query("INSERT INTO obligations (kind, subject_type, subject_id, scope_org_id, period, period_start, period_end, due_at, missed_at, status, created_at) \
                                     VALUES ($1, 'fs_round', $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                            .bind(cadence).bind(round).bind(org).bind(&p.key).bind(p.start).bind(p.end).bind(due).bind(missed).bind(status)
                            .bind(zone.start_of(p.start).min(now)).execute(&mut *x).await?;
                    });
                    continue;
                }
                let day = first + Duration::days(rng.gen_range(0..=(last - first).num_days()));
                let recorded = now.min(zone.start_of(day) + Duration::hours(rng.gen_range(16..80)));
                let (title, content) = match kind {
                    "meeting" => (
                        format!("{}月第一书记工作例会", day.month()),
                        "汇报交流当月工作开展情况、存在困难问题以及下步计划打算".to_string(),
                    ),
                    "visit" => (
                        "第一书记现场观摩：村集体经济项目".to_string(),
                        "观摩先进村的产业项目和党群服务中心建设，现场交流经验做法".to_string(),
                    ),
                    "training" => (
                        "第一书记业务培训班".to_string(),
                        "理论授课+实践锻炼+交流研讨".to_string(),
                    ),
                    _ => (
                        format!("{}年度第一书记履职情况考核", day.year()),
                        "对照履职承诺书逐项考核评定".to_string(),
                    ),
                };
                let attendees = (on_duty - rng.gen_range(0..=on_duty.min(2))).max(0);
                let status = if recorded <= due { "done" } else { "late" };
                on_tx!(tx, x => {
                    let id = sqlx::query("INSERT INTO fs_activities (round_id, kind, period, held_on, title, content, attendees, recorded_by, recorder_name, recorded_at) \
                                          VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8, $9) RETURNING id")
                        .bind(round).bind(kind).bind(&p.key).bind(day).bind(&title).bind(&content).bind(attendees)
                        .bind("组织部第一书记工作办公室").bind(recorded).fetch_one(&mut *x).await?.i64("id")?;
                    sqlx::query("INSERT INTO obligations (kind, subject_type, subject_id, scope_org_id, period, period_start, period_end, due_at, missed_at, status, record_type, record_id, fulfilled_at, created_at) \
                                 VALUES ($1, 'fs_round', $2, $3, $4, $5, $6, $7, $8, $9, 'fs_activity', $10, $11, $12)")
                        .bind(cadence).bind(round).bind(org).bind(&p.key).bind(p.start).bind(p.end).bind(due).bind(missed).bind(status)
                        .bind(id).bind(recorded).bind(zone.start_of(p.start).min(now)).execute(&mut *x).await?;
                });
                held += 1;
            }
        }
    }
    Ok(held)
}

/// 一月一评分、一季一排名: the six-area sheet of every posting for each month from last
/// October to last month (last month not yet scored for one first secretary of the demo
/// township: its to-do), the months before last closed by both departments and every quarter
/// those close published — but the county's latest, left for it to publish (its 工作台 says so).
async fn scores(
    ctx: &Ctx,
    tx: &mut Tx,
    rng: &mut StdRng,
    posted: &[Posted],
    (city, county): (i64, i64),
    demo_town: Option<i64>,
    as_of: NaiveDate,
) -> AppResult<()> {
    use crate::points::{month_key, month_label, months};
    let areas: Vec<crate::points::Indicator> = crate::points::PointsRules::default()
        .indicators
        .into_iter()
        .filter(|i| i.scored)
        .collect();
    let this = month_key(as_of);
    let last = if this % 100 == 1 { this - 89 } else { this - 1 };
    let first = (as_of.year() as i64 - 1) * 100 + 10;
    let now = ctx.clock.now();
    // (village, month) → total, for the rankings
    let mut totals: std::collections::HashMap<(i64, i64), i64> = std::collections::HashMap::new();
    let mut rows: Vec<(i64, i64, &str, &str, i64, NaiveDate, i64)> = Vec::new();
    let owed = posted
        .iter()
        .find(|a| a.end.is_none() && demo_town.is_some() && a.town == demo_town)
        .map(|a| a.id);
    for a in posted {
        let end = a.end.unwrap_or(as_of);
        // a steady secretary scores steadily: a level of their own and some monthly spread
        let level: f64 = rng.gen_range(0.62..0.95);
        for m in months(first.max(month_key(a.start)), last.min(month_key(end))) {
            if m == last && owed == Some(a.id) {
                continue;
            }
            let day = NaiveDate::from_ymd_opt((m / 100) as i32, (m % 100) as u32, 1)
                .and_then(|d| d.checked_add_months(chrono::Months::new(1)))
                .and_then(|d| d.pred_opt())
                .unwrap_or(as_of)
                .min(end);
            for i in &areas {
                let share = (level + rng.gen_range(-0.12..0.08)).clamp(0.3, 1.0);
                let v = ((i.points as f64) * share).round() as i64;
                *totals.entry((a.village, m)).or_default() += v;
                rows.push((
                    a.village,
                    m,
                    i.key.as_str(),
                    i.category.as_str(),
                    v,
                    day,
                    a.id,
                ));
            }
        }
    }
    for chunk in rows.chunks(300) {
        let mut sql = String::from("INSERT INTO point_entries (subject, org_id, indicator, category, points, done_on, month, note, rules_version, at) VALUES ");
        for (k, _) in chunk.iter().enumerate() {
            let b = k * 7;
            if k > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "('first_secretary', ${}, ${}, ${}, ${}, ${}, ${}, '', 0, ${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7
            ));
        }
        on_tx!(tx, x => {
            let mut q = sqlx::query(&sql);
            for (village, m, key, category, v, day, _) in chunk {
                q = q.bind(*village).bind(*key).bind(*category).bind(*v).bind(*day).bind(*m).bind(now);
            }
            q.execute(&mut *x).await?;
        });
    }
    // both departments close every month before last; a quarter fully closed is published
    for dept in [city, county] {
        let mine: Vec<&Posted> = posted
            .iter()
            .filter(|a| dept == city || a.county == Some(dept))
            .collect();
        let closed: Vec<i64> = months(first, last)
            .into_iter()
            .filter(|m| *m < last)
            .collect();
        for m in &closed {
            let (n, sum) = mine.iter().fold((0i64, 0i64), |(n, s), a| {
                match totals.get(&(a.village, *m)) {
                    Some(t) => (n + areas.len() as i64, s + t),
                    None => (n, s),
                }
            });
            on_tx!(tx, x => {
                sqlx::query("INSERT INTO point_closes (org_id, scope, month, entries, total, closed_at) VALUES ($1, 'first_secretaries', $2, $3, $4, $5)")
                    .bind(dept).bind(*m).bind(n).bind(sum).bind(now).execute(&mut *x).await?;
            });
        }
        let mut q0 = first;
        let mut quarters = Vec::new();
        while q0 + 2 <= last && closed.contains(&(q0 + 2)) {
            quarters.push(q0);
            q0 = if q0 % 100 >= 10 { q0 + 100 - 9 } else { q0 + 3 };
        }
        if dept == county {
            quarters.pop();
        }
        for q0 in quarters {
            let qm = months(q0, q0 + 2);
            let quarter = format!("{}-Q{}", q0 / 100, (q0 % 100 + 2) / 3);
            let on_duty = |a: &&&Posted| {
                let (s, e) = (month_key(a.start), month_key(a.end.unwrap_or(as_of)));
                s <= q0 + 2 && e >= q0
            };
            let lines: Vec<&&Posted> = mine.iter().filter(on_duty).collect();
            let per = |v: i64| -> Vec<Option<i64>> {
                qm.iter().map(|m| totals.get(&(v, *m)).copied()).collect()
            };
            let averages: Vec<(i64, i64)> = lines
                .iter()
                .map(|a| {
                    (
                        a.village,
                        crate::first_secretary::scoring::rank_line(&per(a.village)),
                    )
                })
                .filter(|(_, l)| l.1 > 0)
                .map(|(v, l)| (v, l.2))
                .collect();
            let by_village: std::collections::HashMap<i64, &&&Posted> =
                lines.iter().map(|a| (a.village, a)).collect();
            let ranked: Vec<crate::first_secretary::scoring::RankRow> =
                crate::points::rank(&averages)
                    .into_iter()
                    .filter_map(|(v, _, rank)| {
                        let a = by_village.get(&v)?;
                        let months = per(v);
                        let (total, months_scored, average) =
                            crate::first_secretary::scoring::rank_line(&months);
                        Some(crate::first_secretary::scoring::RankRow {
                            rank: Some(rank),
                            assignment_id: Some(a.id),
                            cadre_name: a.cadre_name.clone(),
                            village_name: a.village_name.clone(),
                            township_name: Some(a.town_full.clone()).filter(|t| !t.is_empty()),
                            sending_unit: a.unit.clone(),
                            months,
                            total,
                            months_scored,
                            average,
                        })
                    })
                    .collect();
            let labels: Vec<String> = qm.iter().map(|m| month_label(*m)).collect();
            let (json, digest) = crate::first_secretary::scoring::kept(&labels, &labels, &ranked)?;
            on_tx!(tx, x => {
                sqlx::query("INSERT INTO fs_quarters (org_id, quarter, rows_json, digest, published_at) VALUES ($1, $2, $3, $4, $5)")
                    .bind(dept).bind(&quarter).bind(&json).bind(&digest).bind(now).execute(&mut *x).await?;
            });
        }
    }
    // 一年一奖惩: last year's 履职考核 of the city's first secretaries, combined with their
    // scored months and confirmed by the city (优秀 and 不称职 on the ledger)
    let year = as_of.year() as i64 - 1;
    let rules = crate::first_secretary::FsRules::default();
    let full: i64 = areas.iter().map(|i| i.points).sum();
    let jan = NaiveDate::from_ymd_opt(year as i32, 1, 1).unwrap_or(as_of);
    let dec = NaiveDate::from_ymd_opt(year as i32, 12, 31).unwrap_or(as_of);
    let served: Vec<&Posted> = posted
        .iter()
        .filter(|a| a.round_org == city && a.start <= dec && a.end.is_none_or(|e| e >= jan))
        .collect();
    let mut results = Vec::new();
    let mut lines = Vec::new();
    for a in &served {
        let on = months(
            month_key(a.start.max(jan)),
            month_key(a.end.unwrap_or(dec).min(dec)),
        );
        let got: Vec<i64> = on
            .iter()
            .filter_map(|m| totals.get(&(a.village, *m)).copied())
            .collect();
        let (n, sum) = (got.len() as i64, got.iter().sum::<i64>());
        let pledge: i64 = if rng.gen_bool(0.05) {
            rng.gen_range(40..60)
        } else {
            rng.gen_range(72..99)
        };
        let result = crate::first_secretary::annual_result(sum, n * full, pledge, &rules);
        results.push((a.id, result));
        lines.push((a, n, sum, pledge, result));
    }
    let graded: std::collections::HashMap<i64, (i64, &str, String)> =
        crate::first_secretary::annual_grades(&results, &rules)
            .into_iter()
            .map(|(id, _, rank, g, note)| (id, (rank, g, note)))
            .collect();
    let mut kept = Vec::with_capacity(lines.len());
    for (a, n, sum, pledge, result) in lines {
        let (rank, g, note) = graded
            .get(&a.id)
            .cloned()
            .unwrap_or((0, "competent", String::new()));
        let assessed = now - Duration::days(rng.gen_range(20..40));
        on_tx!(tx, x => {
            sqlx::query("INSERT INTO fs_assessments (assignment_id, year, score, note, assessed_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(a.id).bind(year).bind(pledge).bind(if pledge >= 72 { "对照履职承诺书逐项考核，承诺事项基本完成" } else { "承诺事项多项未完成，群众满意度不高" })
                .bind(assessed).execute(&mut *x).await?;
        });
        let ledger = match g {
            "excellent" => Some(("red", "commendation", "优秀")),
            "incompetent" => Some(("black", "penalty", "不称职")),
            _ => None,
        };
        if let Some((color, category, what)) = ledger {
            on_tx!(tx, x => {
                sqlx::query("INSERT INTO fs_ledger (assignment_id, cadre_id, color, category, occurred_on, note, source, source_id, recorded_by, recorder_name, recorded_at) \
                             VALUES ($1, $2, $3, $4, $5, $6, 'annual', $7, NULL, '市委组织部', $8)")
                    .bind(a.id).bind(a.cadre).bind(color).bind(category).bind(a.end.map_or(dec, |e| e.min(dec)))
                    .bind(format!("{year}年度第一书记考核{what}（综合得分{result}）")).bind(year).bind(now)
                    .execute(&mut *x).await?;
            });
        }
        kept.push(crate::first_secretary::scoring::YearRow {
            assignment_id: a.id,
            cadre_name: a.cadre_name.clone(),
            village_name: a.village_name.clone(),
            township_name: Some(a.town_full.clone()).filter(|t| !t.is_empty()),
            sending_unit: a.unit.clone(),
            months_scored: n,
            monthly_percent: (n > 0).then(|| (sum * 200 + n * full) / (2 * n * full)),
            pledge: Some(pledge),
            result: Some(result),
            rank: Some(rank),
            grade: Some(g.to_string()),
            grade_label: Some(
                crate::first_secretary::label(&crate::first_secretary::ANNUAL_GRADES, g)
                    .to_string(),
            ),
            note,
        });
    }
    kept.sort_by_key(|r| (r.rank.unwrap_or(i64::MAX), r.assignment_id));
    if !kept.is_empty() {
        let (json, digest) = crate::first_secretary::scoring::kept_year(&kept)?;
        on_tx!(tx, x => {
            sqlx::query("INSERT INTO fs_years (org_id, year, rows_json, digest, confirmed_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(city).bind(year).bind(&json).bind(&digest).bind(now).execute(&mut *x).await?;
        });
    }
    Ok(())
}
