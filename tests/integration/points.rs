//! 积分管理 and 星级党支部: a branch runs its points through a year (awards within caps,
//! idempotent retries, claims decided once, reversals, monthly close, boards, ranking, the
//! annual conversion), and a committee rates its branches' stars — on both databases.

use crate::support::*;
use axum::http::StatusCode;
use chrono::{Datelike, NaiveDate};
use serde_json::{json, Value};

const PNG: &[u8] = include_bytes!("../fixtures/tiny.png");

fn month_of(d: NaiveDate) -> String {
    d.format("%Y-%m").to_string()
}

/// Days from `d` to the 2nd of the next month.
fn to_next_month(d: NaiveDate) -> i64 {
    let first = NaiveDate::from_ymd_opt(d.year(), d.month(), 1).expect("first");
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .expect("next");
    (next - d).num_days() + 1
}

#[tokio::test]
async fn a_branch_runs_its_points_through_a_year() {
    each_backend(|app| async move {
        let city = app.org(None, "中共测试市委", "committee", "city").await;
        let county = app.org(Some(city), "中共测试县委", "committee", "county").await;
        let town = app.org(Some(county), "中共城关镇委员会", "committee", "township").await;
        let branch = app.org(Some(town), "东关村党支部", "branch", "village").await;
        let other = app.org(Some(town), "西关村党支部", "branch", "village").await;
        let m1 = app.member(branch, "张明", 1).await;
        let m2 = app.member(branch, "李红", 2).await;
        let m3 = app.member(branch, "王强", 3).await;
        let m4 = app.member(branch, "赵丽", 4).await;
        let x1 = app.member(other, "孙伟", 5).await;
        let sec = app.account("dongguan", branch, "branch_secretary", None).await;
        let staff = app.account("chengguan", town, "committee_staff", None).await;
        let outsider = app.account("xiguan", other, "branch_secretary", None).await;
        let me = app.account("zhangming", branch, "member", Some(m1)).await;
        let today = app.ctx.clock.today();
        let award = |token: &str, body: Value| {
            let app = &app;
            let token = token.to_string();
            async move { app.api(&token, "POST", "/api/v1/points/awards", Some(body)).await }
        };
        let m = |member: i64, ind: &str| json!({"member_id": member, "indicator": ind, "done_on": today});

        // --- 一事一计分: points from the catalogue, caps at and above, who may award
        let e = ok(award(&sec, m(m1, "M17")).await);
        assert_eq!(e["entry"]["points"], 3);
        assert_eq!(e["entry"]["subject"], "member");
        refused(award(&sec, m(m1, "M17")).await, "points.cap");
        for _ in 0..4 {
            ok(award(&sec, m(m2, "M01")).await);
        }
        refused(award(&sec, m(m2, "M01")).await, "points.cap");
        let r = award(&sec, m(m1, "X99")).await;
        assert_eq!(r.1["fields"][0]["field"], "indicator", "{r:?}");
        refused(award(&outsider, m(m1, "M01")).await, "not_found");
        refused(award(&me, m(m1, "M01")).await, "forbidden");
        let r = award(&sec, json!({"member_id": m1, "indicator": "M01", "done_on": today + chrono::Duration::days(1)})).await;
        assert_eq!(r.1["fields"][0]["field"], "done_on", "{r:?}");
        let r = award(&sec, json!({"member_id": m1, "indicator": "M01", "done_on": today - chrono::Duration::days(93)})).await;
        assert_eq!(r.1["fields"][0]["field"], "done_on", "backdating: {r:?}");
        // a deduction and its cap
        ok(award(&sec, m(m3, "M72")).await);
        refused(award(&sec, m(m3, "M72")).await, "points.cap");
        // superior indicators only from above; evidence where required
        refused(award(&sec, m(m4, "M68")).await, "points.awarder");
        let r = award(&staff, m(m4, "M68")).await;
        assert_eq!(r.1["fields"][0]["field"], "file", "evidence: {r:?}");
        let (ct, body) = multipart(&[("member_id", &m4.to_string()), ("indicator", "M68"), ("note", "乡镇表彰")], PNG);
        let (s, b) = post_multipart(&app, &staff, "/api/v1/points/awards/evidence", &ct, body).await;
        assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
        let honour: Value = serde_json::from_slice(&b).expect("json");
        assert_eq!(honour["entry"]["points"], 5);
        assert!(honour["entry"]["evidence"].as_str().is_some());
        // a file that only starts like an image is refused; one over the body limit too
        let mut fake = vec![0xFF, 0xD8, 0xFF, 0xE0];
        fake.resize(1024 * 1024, 0x41);
        let (ct, body) = multipart(&[("member_id", &m1.to_string()), ("indicator", "M68"), ("note", "假图片")], &fake);
        let (s, b) = post_multipart(&app, &staff, "/api/v1/points/awards/evidence", &ct, body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{}", String::from_utf8_lossy(&b));
        let refusal: Value = serde_json::from_slice(&b).expect("json");
        assert_eq!(refusal["fields"][0]["field"], "file", "{refusal}");
        fake.resize(10 * 1024 * 1024, 0x41);
        let (ct, body) = multipart(&[("member_id", &m1.to_string()), ("indicator", "M68"), ("note", "假图片")], &fake);
        let (s, b) = post_multipart(&app, &staff, "/api/v1/points/awards/evidence", &ct, body).await;
        assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(serde_json::from_slice::<Value>(&b).expect("json")["code"], "payload_too_large");

        // --- a retry with the same key applies once, also when racing
        let keyed = json!({"member_id": m4, "indicator": "M21", "done_on": today, "idempotency_key": "pay-1"});
        let a = ok(award(&sec, keyed.clone()).await);
        let b = ok(award(&sec, keyed.clone()).await);
        assert_eq!(a["entry"]["id"], b["entry"]["id"]);
        let raced = json!({"member_id": m4, "indicator": "M16", "done_on": today, "idempotency_key": "group-1"});
        let (x, y) = tokio::join!(award(&sec, raced.clone()), award(&sec, raced.clone()));
        assert_eq!(ok(x)["entry"]["id"], ok(y)["entry"]["id"], "concurrent retries apply once");
        refused(award(&sec, json!({"member_id": m3, "indicator": "M16", "idempotency_key": "group-1"})).await, "conflict");
        // two different awards racing for a cap of one event: one wins
        let (x, y) = tokio::join!(award(&sec, m(m3, "M15")), award(&sec, m(m3, "M15")));
        assert_eq!([&x, &y].iter().filter(|r| r.0 == StatusCode::OK).count(), 1, "{x:?} {y:?}");

        // --- approval: an award needing it waits as a claim; nobody approves their own
        let pending = ok(award(&sec, m(m2, "M29")).await);
        assert!(pending["entry"].is_null());
        let claim = pending["claim"]["id"].as_i64().expect("claim");
        let decide = |token: &str, id: i64, approve: bool, version: i64| {
            let app = &app;
            let token = token.to_string();
            async move { app.api(&token, "POST", &format!("/api/v1/points/claims/{id}/decide"), Some(json!({"approve": approve, "note": if approve { "" } else { "材料不全" }, "version": version}))).await }
        };
        refused(decide(&sec, claim, true, 1).await, "points.self_approval");
        ok(decide(&staff, claim, true, 1).await);
        refused(decide(&staff, claim, true, 1).await, "conflict");

        // --- members claim for themselves, with evidence; approve and reject race
        let r = app.api(&me, "POST", "/api/v1/points/claims", Some(json!({"indicator": "M57", "note": "社区义诊志愿服务"}))).await;
        assert_eq!(r.1["fields"][0]["field"], "file", "{r:?}");
        refused(app.api(&me, "POST", "/api/v1/points/claims", Some(json!({"indicator": "M17", "note": "参加主题党日"}))).await, "points.not_claimable");
        let (ct, body) = multipart(&[("indicator", "M57"), ("note", "社区义诊志愿服务")], PNG);
        let (s, b) = post_multipart(&app, &me, "/api/v1/points/claims/evidence", &ct, body).await;
        assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
        let mine: Value = serde_json::from_slice(&b).expect("json");
        let mine = mine["id"].as_i64().expect("id");
        let queue = ok(app.api(&sec, "GET", &format!("/api/v1/points/claims?org_id={branch}"), None).await);
        assert_eq!(queue.as_array().map(|a| a.len()), Some(1), "{queue}");
        let (x, y) = tokio::join!(decide(&sec, mine, true, 1), decide(&staff, mine, false, 1));
        let statuses = [x.0, y.0];
        assert!(statuses.contains(&StatusCode::OK) && statuses.contains(&StatusCode::CONFLICT), "{x:?} {y:?}");

        // --- reversals: new entries, once, never of a reversal; the cap counts them
        let r = ok(app.api(&sec, "POST", &format!("/api/v1/points/entries/{}/reverse", e["entry"]["id"]), Some(json!({"reason": "记错了人"}))).await);
        assert_eq!(r["points"], -3);
        refused(app.api(&sec, "POST", &format!("/api/v1/points/entries/{}/reverse", e["entry"]["id"]), Some(json!({"reason": "再冲"}))).await, "conflict");
        refused(app.api(&sec, "POST", &format!("/api/v1/points/entries/{}/reverse", r["id"]), Some(json!({"reason": "冲正的冲正"}))).await, "points.reversal");
        ok(award(&sec, m(m1, "M17")).await);

        // --- branch and secretary points
        ok(award(&sec, json!({"org_id": branch, "indicator": "B02", "done_on": today})).await);
        refused(award(&sec, json!({"org_id": branch, "indicator": "B07"})).await, "points.awarder");
        ok(award(&staff, json!({"org_id": branch, "indicator": "B07", "done_on": today})).await);
        ok(award(&staff, json!({"org_id": other, "indicator": "B02", "done_on": today})).await);
        ok(award(&sec, json!({"subject": "secretary", "org_id": branch, "member_id": m1, "indicator": "S03", "done_on": today})).await);
        let r = award(&staff, json!({"subject": "secretary", "org_id": branch, "member_id": x1, "indicator": "S03"})).await;
        assert_eq!(r.1["fields"][0]["field"], "member_id", "{r:?}");

        // --- boards: every member of the branch, totals equal to the entries
        let month = month_of(today);
        let board = ok(app.api(&sec, "GET", &format!("/api/v1/points/board?org_id={branch}&month={month}"), None).await);
        let rows = board["rows"].as_array().expect("rows");
        assert_eq!(rows.len(), 4, "{board}");
        for row in rows {
            let id = row["id"].as_i64().expect("id");
            let sum = app.count(&format!("SELECT CAST(COALESCE(SUM(points), 0) AS BIGINT) AS n FROM point_entries WHERE subject = 'member' AND member_id = {id}")).await;
            assert_eq!(row["total"].as_i64(), Some(sum), "{row}");
        }
        let ranks: Vec<i64> = rows.iter().map(|r| r["rank"].as_i64().expect("rank")).collect();
        assert_eq!(ranks[0], 1);
        assert!(ranks.windows(2).all(|w| w[0] <= w[1]));
        let units = ok(app.api(&staff, "GET", &format!("/api/v1/points/board?org_id={town}&month={month}"), None).await);
        assert_eq!(units["subject"], "branch");
        assert_eq!(units["rows"][0]["id"], branch, "{units}");
        assert_eq!(units["rows"][0]["total"], 7);
        let secs = ok(app.api(&staff, "GET", &format!("/api/v1/points/board?org_id={town}&month={month}&subject=secretary"), None).await);
        assert_eq!(secs["rows"][0]["id"], m1);
        let rank = ok(app.api(&staff, "GET", &format!("/api/v1/points/ranking?org_id={town}&month={month}"), None).await);
        assert_eq!(rank["ranked"], 4, "x1 has no member points: {rank}");
        refused(app.api(&outsider, "GET", &format!("/api/v1/points/board?org_id={branch}&month={month}"), None).await, "not_found");

        // --- 一月一评分: only an ended month, once, freezing it
        refused(app.api(&sec, "POST", "/api/v1/points/closes", Some(json!({"org_id": branch, "scope": "members", "month": month}))).await, "points.month_open");
        refused(app.api(&me, "POST", "/api/v1/points/closes", Some(json!({"org_id": branch, "scope": "members", "month": month}))).await, "forbidden");
        let r = app.api(&sec, "POST", "/api/v1/points/closes", Some(json!({"org_id": town, "scope": "members", "month": month}))).await;
        assert!(r.0.is_client_error(), "{r:?}");
        app.ctx.clock.advance_days(to_next_month(today));
        let day2 = app.ctx.clock.today();
        // a claim of the new month waits; the old month closes regardless
        let (ct, body) = multipart(&[("indicator", "M58"), ("note", "志愿服务满4小时")], PNG);
        let (s, _) = post_multipart(&app, &me, "/api/v1/points/claims/evidence", &ct, body).await;
        assert_eq!(s, StatusCode::OK);
        let closed = ok(app.api(&sec, "POST", "/api/v1/points/closes", Some(json!({"org_id": branch, "scope": "members", "month": month}))).await);
        let sum = app.count(&format!("SELECT CAST(COALESCE(SUM(points), 0) AS BIGINT) AS n FROM point_entries WHERE subject = 'member' AND org_id = {branch}")).await;
        assert_eq!(closed["total"].as_i64(), Some(sum), "{closed}");
        refused(app.api(&sec, "POST", "/api/v1/points/closes", Some(json!({"org_id": branch, "scope": "members", "month": month}))).await, "conflict");
        refused(award(&sec, m(m2, "M05")).await, "points.month_closed");
        let frozen = rows[0]["id"].as_i64().expect("id");
        let entry = app.count(&format!("SELECT MIN(id) AS n FROM point_entries WHERE member_id = {frozen} AND reverses_id IS NULL")).await;
        refused(app.api(&sec, "POST", &format!("/api/v1/points/entries/{entry}/reverse"), Some(json!({"reason": "关账后更正"}))).await, "points.month_closed");
        // units close by the committee freezes branch points
        ok(app.api(&staff, "POST", "/api/v1/points/closes", Some(json!({"org_id": town, "scope": "units", "month": month}))).await);
        refused(award(&staff, json!({"org_id": other, "indicator": "B03", "done_on": today})).await, "points.month_closed");
        // the member sees their months and the published board
        let mine_now = ok(app.api(&me, "GET", &format!("/api/v1/points/me?year={}", today.year()), None).await);
        let mine_sum = app.count(&format!("SELECT CAST(COALESCE(SUM(points), 0) AS BIGINT) AS n FROM point_entries WHERE subject = 'member' AND member_id = {m1} AND month BETWEEN {y}01 AND {y}12", y = today.year())).await;
        assert_eq!(mine_now["total"].as_i64(), Some(mine_sum), "{mine_now}");
        assert!(mine_now["rank"].as_i64().is_some(), "ranked over the closed month: {mine_now}");
        refused(app.api(&me, "GET", &format!("/api/v1/points/members/{m2}"), None).await, "forbidden");
        // the board a member's page publishes is folded from the year it read: the same as
        // the month's board read on its own
        assert_published_board(&app, branch, m1, today.year(), &month).await;

        // a pending claim holds the close of its month
        app.ctx.clock.advance_days(to_next_month(day2));
        let next = month_of(day2);
        refused(app.api(&sec, "POST", "/api/v1/points/closes", Some(json!({"org_id": branch, "scope": "members", "month": next}))).await, "points.claims_pending");
        let waiting = ok(app.api(&sec, "GET", &format!("/api/v1/points/claims?org_id={branch}"), None).await);
        let w = waiting[0]["id"].as_i64().expect("claim");
        ok(decide(&sec, w, false, 1).await);
        ok(app.api(&sec, "POST", "/api/v1/points/closes", Some(json!({"org_id": branch, "scope": "members", "month": next}))).await);

        // --- 一年一兑分: only with all twelve months closed, once
        let year = today.year();
        refused(app.api(&sec, "POST", "/api/v1/points/year/confirm", Some(json!({"org_id": branch, "year": year}))).await, "points.year_open");
        let now = app.ctx.clock.today();
        if now.year() == year {
            app.ctx.clock.advance_days((NaiveDate::from_ymd_opt(year + 1, 1, 2).expect("jan") - now).num_days());
        }
        for mo in 1..=12 {
            let label = format!("{year}-{mo:02}");
            let r = app.api(&sec, "POST", "/api/v1/points/closes", Some(json!({"org_id": branch, "scope": "members", "month": label}))).await;
            assert!(r.0 == StatusCode::OK || r.1["code"] == "conflict", "{label}: {r:?}");
        }
        let y = ok(app.api(&sec, "POST", "/api/v1/points/year/confirm", Some(json!({"org_id": branch, "year": year}))).await);
        assert_eq!(y["confirmed"], true);
        assert_eq!(y["outcomes"].as_array().map(|a| a.len()), Some(4));
        let excellent = y["outcomes"].as_array().expect("o").iter().filter(|o| o["grade"] == "优秀").count();
        assert!(excellent <= 1, "⌊4/3⌋ = 1 at most: {y}");
        refused(app.api(&sec, "POST", "/api/v1/points/year/confirm", Some(json!({"org_id": branch, "year": year}))).await, "conflict");
        // a past year: its latest close is looked up, then folded from the year read
        assert_published_board(&app, branch, m1, year, &format!("{year}-12")).await;

        // --- pages; the award form posts a file with the token in the body (never the address)
        let (sess, csrf) = app.browser("dongguan2", branch, "branch_secretary").await;
        let now = app.ctx.clock.today().to_string();
        let (ct, body) = multipart(&[("indicator", "M05"), ("member_id", &m4.to_string()), ("org_id", &branch.to_string()), ("back_org", &branch.to_string()), ("done_on", &now)], PNG);
        let req = axum::http::Request::builder()
            .method("POST")
            .uri(format!("/points/award?_csrf={csrf}"))
            .header(axum::http::header::COOKIE, format!("dj_session={sess}"))
            .header(axum::http::header::CONTENT_TYPE, ct)
            .body(axum::body::Body::from(body))
            .expect("request");
        assert_eq!(app.send(req).await.0, StatusCode::FORBIDDEN, "a token in the address is not taken");
        let (ct, body) = multipart(&[("_csrf", &csrf), ("indicator", "M05"), ("member_id", &m4.to_string()), ("org_id", &branch.to_string()), ("back_org", &branch.to_string()), ("done_on", &now)], PNG);
        let req = axum::http::Request::builder()
            .method("POST")
            .uri("/points/award")
            .header(axum::http::header::COOKIE, format!("dj_session={sess}"))
            .header(axum::http::header::CONTENT_TYPE, ct)
            .body(axum::body::Body::from(body))
            .expect("request");
        let (s, h, _) = app.send(req).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert!(h.get("location").and_then(|v| v.to_str().ok()).unwrap_or("").contains("ok=saved"), "{h:?}");
        for path in [
            format!("/points?org_id={branch}&month={month}"),
            format!("/points?org_id={town}&month={month}"),
            format!("/points/board?org_id={branch}&quarter={}", dangjian::points::quarter_of(today)),
            format!("/points/board?org_id={branch}"),
            format!("/points/year?org_id={branch}&year={year}"),
            format!("/points/ranking?org_id={branch}&month={month}"),
            format!("/points/members/{m1}?year={year}"),
        ] {
            let sess = if path.contains(&format!("org_id={town}")) {
                app.browser("chengguan2", town, "committee_staff").await.0
            } else {
                sess.clone()
            };
            let (s, _, html) = app.page(&sess, "GET", &path, None).await;
            assert_eq!(s, StatusCode::OK, "{path}: {html}");
        }
        // the kept totals (migration 0023) are the entries' sums, month, quarter and year
        assert_totals_kept(&app).await;
        assert!(matches!(app.verify().await, dangjian::audit::VerifyOutcome::Ok { .. }));
    })
    .await;
}

/// The board of the branch's latest closed month on a member's page (`last_closed_board`, from
/// the year `member_year` read) is `month`'s board as `member_board` reads it.
/// Every kept total equals its entries' sum, for each span, and none is left over.
pub async fn assert_totals_kept(app: &TestApp) {
    assert!(app.count("SELECT COUNT(*) AS n FROM point_entries").await > 0);
    for (span, period) in [
        ("M", "month"),
        ("Q", "(month / 100) * 10 + ((month % 100) + 2) / 3"),
        ("Y", "month / 100"),
    ] {
        let sums = format!("SELECT subject, {period} AS period, org_id, COALESCE(member_id, 0) AS mid, SUM(points) AS s, COUNT(*) AS c FROM point_entries GROUP BY subject, {period}, org_id, COALESCE(member_id, 0)");
        let missing = app.count(&format!("SELECT COUNT(*) AS n FROM ({sums}) e LEFT JOIN point_totals t ON t.subject = e.subject AND t.span = '{span}' AND t.period = e.period AND t.org_id = e.org_id AND t.member_id = e.mid WHERE t.total IS NULL OR t.total <> e.s OR t.entries <> e.c")).await;
        assert_eq!(missing, 0, "{span}");
        let rows = app
            .count(&format!(
                "SELECT COUNT(*) AS n FROM point_totals WHERE span = '{span}' AND entries > 0"
            ))
            .await;
        assert_eq!(
            rows,
            app.count(&format!("SELECT COUNT(*) AS n FROM ({sums}) e"))
                .await,
            "{span}"
        );
    }
}

async fn assert_published_board(app: &TestApp, branch: i64, member: i64, year: i32, month: &str) {
    use dangjian::points::store;
    let org = dangjian::org::store::get(&app.ctx.db, branch)
        .await
        .expect("branch");
    let name = dangjian::member::store::get(&app.ctx, member)
        .await
        .expect("member")
        .0
        .name;
    let (_, data) = store::member_year(&app.ctx, &org, member, name, year)
        .await
        .expect("year");
    let published = store::last_closed_board(&app.ctx, &org, &data, year)
        .await
        .expect("board")
        .expect("a closed month");
    let m = dangjian::points::parse_month(month).expect("month");
    let direct = store::member_board(&app.ctx, &org, m, m)
        .await
        .expect("month board");
    assert_eq!(published.months, vec![month.to_string()]);
    assert_eq!(
        serde_json::to_value(&published).expect("json"),
        serde_json::to_value(&direct).expect("json")
    );
}

#[tokio::test]
async fn a_committee_rates_its_branches_stars() {
    each_backend(|app| async move {
        let city = app.org(None, "中共测试市委", "committee", "city").await;
        let town = app.org(Some(city), "中共城关镇委员会", "committee", "township").await;
        let a = app.org(Some(town), "东关村党支部", "branch", "village").await;
        let b = app.org(Some(town), "西关村党支部", "branch", "village").await;
        let c = app.org(Some(town), "南关村党支部", "branch", "village").await;
        let outside = app.org(Some(city), "中共河口镇委员会", "committee", "township").await;
        let staff = app.account("chengguan", town, "committee_staff", None).await;
        let sec = app.account("dongguan", a, "branch_secretary", None).await;
        let other = app.account("hekou", outside, "committee_staff", None).await;
        let dept = app.account("zuzhibu", town, "org_staff", None).await;
        let today = app.ctx.clock.today();
        // a scheme where 8 branch points earn the full 40
        let scheme = json!({"org_id": town, "values": {"points_full": 8}});
        ok(app.api(&dept, "POST", "/api/v1/rules/stars", Some(scheme)).await);
        for branch in [a, b] {
            for ind in ["B02", "B03", "B05", "B09"] {
                ok(app.api(&staff, "POST", "/api/v1/points/awards", Some(json!({"org_id": branch, "indicator": ind, "done_on": today}))).await);
            }
        }
        refused(app.api(&sec, "POST", "/api/v1/stars/rounds", Some(json!({"org_id": town, "year": today.year()}))).await, "forbidden");
        let r = app.api(&staff, "POST", "/api/v1/stars/rounds", Some(json!({"org_id": a, "year": today.year()}))).await;
        assert_eq!(r.1["fields"][0]["field"], "org_id", "a branch does not rate: {r:?}");
        let round = ok(app.api(&staff, "POST", "/api/v1/stars/rounds", Some(json!({"org_id": town, "year": today.year()}))).await);
        let id = round["id"].as_i64().expect("id");
        assert_eq!(round["scheme"]["points_full"], 8, "the scheme in force is copied");
        refused(app.api(&staff, "POST", "/api/v1/stars/rounds", Some(json!({"org_id": town, "year": today.year()}))).await, "conflict");
        refused(app.api(&other, "GET", &format!("/api/v1/stars/rounds/{id}"), None).await, "not_found");
        let items = |v: [i64; 4]| json!({"organisation": v[0], "members": v[1], "life": v[2], "role": v[3]});
        let score = |branch: i64, v: [i64; 4], innovation: &str| {
            let app = &app;
            let staff = staff.clone();
            let body = json!({"branch_id": branch, "items": items(v), "innovation": innovation});
            async move { app.api(&staff, "POST", &format!("/api/v1/stars/rounds/{id}/scores"), Some(body)).await }
        };
        let r = score(a, [16, 15, 15, 15], "").await;
        assert_eq!(r.1["fields"][0]["field"], "item_organisation", "{r:?}");
        let r = app.api(&staff, "POST", &format!("/api/v1/stars/rounds/{id}/scores"), Some(json!({"branch_id": a, "items": {"organisation": 15}}))).await;
        assert!(r.0.is_client_error(), "items missing: {r:?}");
        let r = score(outside, [1, 1, 1, 1], "").await;
        assert_eq!(r.1["fields"][0]["field"], "branch_id", "{r:?}");
        ok(score(a, [15, 15, 15, 15], "“党建+合作社”项目").await);
        ok(score(b, [15, 15, 15, 14], "“红色物业”项目").await);
        refused(app.api(&staff, "POST", &format!("/api/v1/stars/rounds/{id}/publish"), Some(json!({"version": 1}))).await, "stars.unscored");
        ok(score(c, [8, 8, 7, 7], "").await);
        refused(app.api(&staff, "POST", &format!("/api/v1/stars/rounds/{id}/publish"), Some(json!({"version": 0}))).await, "conflict");
        let pubd = ok(app.api(&staff, "POST", &format!("/api/v1/stars/rounds/{id}/publish"), Some(json!({"version": 1}))).await);
        assert_eq!(pubd["status"], "publicity");
        refused(score(c, [15, 15, 15, 15], "").await, "stars.not_scoring");
        // the 组织生活 item is offered from the branch's required meetings of the year: four
        // held on time, one late (half), one missed → 9/12 of 15 = 11.25 → 11
        for (i, status) in ["done", "done", "done", "done", "late", "missed"].iter().enumerate() {
            let y = today.year();
            app.exec(&format!("INSERT INTO obligations (kind, subject_type, subject_id, scope_org_id, period, period_start, period_end, due_at, missed_at, status, created_at) \
                VALUES ('meeting.theme_day', 'org', {a}, {a}, '{y}-{m:02}', '{y}-{m:02}-01', '{y}-{m:02}-28', '{y}-{m:02}-28T00:00:00Z', '{y}-{m:02}-28T00:00:00Z', '{status}', '{y}-01-01T00:00:00Z')", m = i + 1)).await;
        }
        let file = ok(app.api(&sec, "GET", &format!("/api/v1/stars/rounds/{id}"), None).await);
        let of = |branch: i64| file["scores"].as_array().expect("scores").iter().find(|s| s["branch_id"] == branch).expect("branch").clone();
        assert_eq!(of(a)["branch_points"], 8);
        assert_eq!(of(a)["points_centi"], 4000);
        assert_eq!(of(a)["total_centi"], 10000);
        assert_eq!(of(a)["total_text"], "100");
        assert_eq!(of(a)["stars"], 5);
        assert_eq!(of(b)["total_centi"], 9900);
        assert_eq!(of(b)["stars"], 4, "three branches: one five-star at most");
        assert_eq!(of(b)["capped"], true);
        assert_eq!(of(c)["total_centi"], 3000);
        assert_eq!(of(c)["stars"], 1);
        assert_eq!(of(a)["life_suggested"], 11, "{}", of(a));
        assert_eq!(of(b)["life_suggested"], Value::Null, "nothing due: no figure offered");
        refused(app.api(&staff, "POST", &format!("/api/v1/stars/rounds/{id}/finalise"), None).await, "stars.publicity");
        app.ctx.clock.advance_days(6);
        ok(app.api(&staff, "POST", &format!("/api/v1/stars/rounds/{id}/finalise"), None).await);
        refused(app.api(&staff, "POST", &format!("/api/v1/stars/rounds/{id}/finalise"), None).await, "stars.not_publicised");
        let h = ok(app.api(&sec, "GET", &format!("/api/v1/stars/history?org_id={a}"), None).await);
        assert_eq!(h[0]["stars"], 5);
        assert_eq!(h[0]["total_text"], "100");
        assert_eq!(h[0]["year"], today.year());
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM star_ratings").await, 3);

        let (sess, _) = app.browser("chengguan2", town, "committee_staff").await;
        for path in [format!("/stars?org_id={town}"), format!("/stars/{id}"), format!("/stars?org_id={a}")] {
            let (s, _, html) = app.page(&sess, "GET", &path, None).await;
            assert_eq!(s, StatusCode::OK, "{path}: {html}");
        }
        assert!(matches!(app.verify().await, dangjian::audit::VerifyOutcome::Ok { .. }));
    })
    .await;
}

/// A committee's boards come a page at a time (branches or secretaries, 50 a page), filtered
/// by name, with the whole board's ranks; the API pages the same way; the star rounds page
/// by year; a committee's member count in the tree is its subtree's; a refused form's page
/// says it answers a POST (so the browser shows the form's address).
#[tokio::test]
async fn committee_boards_and_lists_come_a_page_at_a_time() {
    each_backend(|app| async move {
        let city = app.org(None, "中共测试市委", "committee", "city").await;
        let town = app
            .org(Some(city), "中共城关镇委员会", "committee", "township")
            .await;
        let mut branches = Vec::new();
        for i in 0..55 {
            let b = app
                .org(
                    Some(town),
                    &format!("城关{i:02}村党支部"),
                    "branch",
                    "village",
                )
                .await;
            app.member(b, "张明", 100 + i as u16).await;
            branches.push(b);
        }
        let staff = app
            .account("chengguan", town, "committee_staff", None)
            .await;
        let today = app.ctx.clock.today();
        let month = month_of(today);
        // the last branch earns the most, the first the least
        for (k, b) in branches.iter().enumerate().skip(50) {
            for ind in ["B02", "B03", "B05"].iter().take(k - 49) {
                ok(app
                    .api(
                        &staff,
                        "POST",
                        "/api/v1/points/awards",
                        Some(json!({"org_id": b, "indicator": ind, "done_on": today})),
                    )
                    .await);
            }
        }
        // API: offset and limit over the whole board, ranks of the whole board
        let all = ok(app
            .api(
                &staff,
                "GET",
                &format!("/api/v1/points/board?org_id={town}&month={month}"),
                None,
            )
            .await);
        assert_eq!(all["total_rows"], 55, "{all}");
        assert_eq!(all["rows"].as_array().map(Vec::len), Some(55));
        let tail = ok(app
            .api(
                &staff,
                "GET",
                &format!("/api/v1/points/board?org_id={town}&month={month}&offset=50&limit=10"),
                None,
            )
            .await);
        assert_eq!(tail["rows"].as_array().map(Vec::len), Some(5), "{tail}");
        assert_eq!(tail["rows"][0]["rank"], all["rows"][50]["rank"]);
        let named = ok(app
            .api(
                &staff,
                "GET",
                &format!(
                    "/api/v1/points/board?org_id={town}&month={month}&name=%E5%9F%8E%E5%85%B354"
                ),
                None,
            )
            .await);
        assert_eq!(named["total_rows"], 1, "{named}");
        assert_eq!(named["rows"][0]["id"], branches[54]);
        assert_eq!(named["rows"][0]["rank"], 1, "ranked in the whole board");

        let (sess, csrf) = app.browser("chengguan2", town, "committee_staff").await;
        let (s, _, first) = app
            .page(
                &sess,
                "GET",
                &format!("/points?org_id={town}&month={month}"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            first.contains("城关54村党支部"),
            "the best branch is on page 1"
        );
        assert!(first.contains("第 1 &#x2f; 2 页，共 55 条"), "{first}");
        assert_eq!(
            first.matches("<tr>").count() - 1,
            50,
            "50 rows and the header"
        );
        let (_, _, second) = app
            .page(
                &sess,
                "GET",
                &format!("/points?org_id={town}&month={month}&page=2"),
                None,
            )
            .await;
        assert!(second.contains("第 2 &#x2f; 2 页，共 55 条"));
        assert!(!second.contains("城关54村党支部"));
        let (_, _, found) = app
            .page(
                &sess,
                "GET",
                &format!("/points?org_id={town}&month={month}&name=%E5%9F%8E%E5%85%B303"),
                None,
            )
            .await;
        let link = |b: i64| format!("org_id={b}&month={month}\"");
        assert!(
            found.contains(&link(branches[3])) && !found.contains(&link(branches[4])),
            "{found}"
        );
        assert!(found.contains("共 1 条"));
        for path in [
            format!("/points?org_id={town}&month={month}&page=9223372036854775807"),
            format!("/stars?org_id={town}&page=9223372036854775807"),
            format!("/points?org_id={town}&month={month}&subject=secretary"),
            format!("/points/board?org_id={town}&subject=secretary"),
            format!("/points/board?org_id={town}&page=2"),
            format!("/stars?org_id={town}&year={}&page=1", today.year()),
        ] {
            let (s, _, html) = app.page(&sess, "GET", &path, None).await;
            assert_eq!(s, StatusCode::OK, "{path}: {html}");
            assert!(!html.contains("data-posted"), "{path}");
        }
        // star rounds: the year filter and the page
        ok(app
            .api(
                &staff,
                "POST",
                "/api/v1/stars/rounds",
                Some(json!({"org_id": town, "year": today.year()})),
            )
            .await);
        ok(app
            .api(
                &staff,
                "POST",
                "/api/v1/stars/rounds",
                Some(json!({"org_id": town, "year": today.year() - 1})),
            )
            .await);
        let rounds = ok(app
            .api(
                &staff,
                "GET",
                &format!(
                    "/api/v1/stars/rounds?org_id={town}&year={}",
                    today.year() - 1
                ),
                None,
            )
            .await);
        assert_eq!(rounds.as_array().map(Vec::len), Some(1), "{rounds}");
        let (_, _, stars) = app
            .page(
                &sess,
                "GET",
                &format!("/stars?org_id={town}&year={}", today.year()),
                None,
            )
            .await;
        assert!(stars.contains("共 1 条"), "{stars}");

        // the tree counts a committee's members as its subtree's
        let dept = app.account("shiwei", city, "org_staff", None).await;
        let kids = ok(app
            .api(&dept, "GET", &format!("/api/v1/orgs/{city}/children"), None)
            .await);
        assert_eq!(kids[0]["id"], town);
        assert_eq!(kids[0]["member_count"], 55, "{kids}");

        // a refused form: its page is marked as the answer to a POST
        let (s, _, refused) = app
            .page(
                &sess,
                "POST",
                "/points/close",
                Some(&format!("_csrf={csrf}&org_id={town}&month={month}")),
            )
            .await;
        assert!(s.is_client_error(), "{s}: {refused}");
        assert!(refused.contains("data-posted"), "{refused}");
    })
    .await;
}

/// 一事一计分 for a meeting's attendees: one indicator for several members of the branch in
/// one go — all or none, the refusal naming the member it stopped at; approval indicators and
/// members of two branches refused; a retry applied once; the page's ticks do the same.
#[tokio::test]
async fn a_meetings_attendees_are_awarded_at_once() {
    each_backend(|app| async move {
        let city = app.org(None, "中共测试市委", "committee", "city").await;
        let branch = app.org(Some(city), "东关村党支部", "branch", "village").await;
        let other = app.org(Some(city), "西关村党支部", "branch", "village").await;
        let m1 = app.member(branch, "张明", 1).await;
        let m2 = app.member(branch, "李红", 2).await;
        let m3 = app.member(branch, "王强", 3).await;
        let x1 = app.member(other, "孙伟", 4).await;
        let sec = app.account("dongguan", branch, "branch_secretary", None).await;
        let today = app.ctx.clock.today();
        let batch = |ids: Vec<i64>, ind: &str, key: &str| json!({"indicator": ind, "done_on": today, "note": "党员大会", "member_ids": ids, "idempotency_key": key});
        let entries = || app.count("SELECT COUNT(*) AS n FROM point_entries");
        let r = ok(app.api(&sec, "POST", "/api/v1/points/awards/batch", Some(batch(vec![m1, m2], "M15", "k1"))).await);
        assert_eq!(r["count"], 2);
        assert_eq!(entries().await, 2);
        // the same request again: applied once
        ok(app.api(&sec, "POST", "/api/v1/points/awards/batch", Some(batch(vec![m1, m2], "M15", "k1"))).await);
        assert_eq!(entries().await, 2);
        // the same key asking for something else is a conflict, not a success
        refused(app.api(&sec, "POST", "/api/v1/points/awards/batch", Some(batch(vec![m1, m2, m3], "M16", "k1"))).await, "conflict");
        assert_eq!(entries().await, 2);
        // an id that exists nowhere is answered as one outside the subtree
        refused(app.api(&sec, "POST", "/api/v1/points/awards/batch", Some(batch(vec![m1, 99_999_999], "M16", "k9"))).await, "not_found");
        // M15 is capped at 3 a month: 张明 has it; 王强 is not written either
        let (s, e) = app.api(&sec, "POST", "/api/v1/points/awards/batch", Some(batch(vec![m3, m1], "M15", "k2"))).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        assert!(e["message"].as_str().unwrap_or("").starts_with("张明："), "{e}");
        assert_eq!(entries().await, 2, "all or none");
        // a member outside the secretary's branch is not found; from above, two branches at
        // once are refused
        refused(app.api(&sec, "POST", "/api/v1/points/awards/batch", Some(batch(vec![m1, x1], "M16", "k3"))).await, "not_found");
        let staff = app.account("shiwei", city, "committee_staff", None).await;
        let (_, e) = app.api(&staff, "POST", "/api/v1/points/awards/batch", Some(batch(vec![m1, x1], "M16", "k3"))).await;
        assert_eq!(e["fields"][0]["field"], "member_ids", "{e}");
        let (_, e) = app.api(&sec, "POST", "/api/v1/points/awards/batch", Some(batch(vec![m1, m2], "M07", "k4"))).await;
        assert_eq!(e["fields"][0]["field"], "indicator", "approval indicators one by one: {e}");
        let (_, e) = app.api(&sec, "POST", "/api/v1/points/awards/batch", Some(batch(vec![], "M16", "k5"))).await;
        assert_eq!(e["fields"][0]["field"], "member_ids", "{e}");
        // the page: the attendees ticked
        let (sess, csrf) = app.browser("dongguan2", branch, "branch_secretary").await;
        let (_, _, html) = app.page(&sess, "GET", &format!("/points?org_id={branch}"), None).await;
        assert!(html.contains(&format!("name=\"m.{m3}\"")), "{html}");
        let now = today.to_string();
        let (t1, t3) = (format!("m.{m1}"), format!("m.{m3}"));
        let (ct, body) = multipart(&[("_csrf", &csrf), ("indicator", "M16"), ("back_org", &branch.to_string()), ("org_id", &branch.to_string()), ("done_on", &now), (&t1, "on"), (&t3, "on")], b"");
        let req = axum::http::Request::builder()
            .method("POST")
            .uri("/points/award")
            .header(axum::http::header::COOKIE, format!("dj_session={sess}"))
            .header(axum::http::header::CONTENT_TYPE, ct)
            .body(axum::body::Body::from(body))
            .expect("request");
        let (s, h, _) = app.send(req).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert!(h.get("location").and_then(|v| v.to_str().ok()).unwrap_or("").contains("ok=saved"));
        assert_eq!(app.count(&format!("SELECT COUNT(*) AS n FROM point_entries WHERE indicator = 'M16' AND member_id IN ({m1}, {m3})")).await, 2);
        // the same again is refused (capped) and the form comes back as it was filled
        let (ct, body) = multipart(&[("_csrf", &csrf), ("indicator", "M16"), ("back_org", &branch.to_string()), ("org_id", &branch.to_string()), ("done_on", &now), ("note", "支部党员大会"), (&t1, "on"), (&t3, "on")], b"");
        let req = axum::http::Request::builder()
            .method("POST")
            .uri("/points/award")
            .header(axum::http::header::COOKIE, format!("dj_session={sess}"))
            .header(axum::http::header::CONTENT_TYPE, ct)
            .body(axum::body::Body::from(body))
            .expect("request");
        let (s, _, html) = app.send(req).await;
        let html = String::from_utf8_lossy(&html);
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
        assert!(html.contains(r#"<option value="M16" selected>"#), "the indicator kept");
        assert!(html.contains(&format!(r#"name="m.{m3}" value="on" checked"#)), "the ticks kept");
        assert!(html.contains(r#"value="支部党员大会""#), "the note kept");
        assert!(html.contains("data-posted"));
        assert_totals_kept(&app).await;
    })
    .await;
}
