//! 爱心银行: cards, services within the daily cap, idempotent retries, redemptions that never
//! oversell or overdraw even when they race, reversals, the monthly statement reconciling to
//! the entries — on both databases.

use crate::support::*;
use axum::http::StatusCode;
use serde_json::json;

#[tokio::test]
async fn a_community_runs_its_love_bank() {
    each_backend(|app| async move {
        let city = app.org(None, "中共测试市委", "committee", "city").await;
        let county = app.org(Some(city), "中共测试区委", "committee", "county").await;
        let community = app.org(Some(county), "中共卫东社区委员会", "committee", "community").await;
        let branch = app.org(Some(community), "卫东社区第一党支部", "branch", "community").await;
        let other = app.org(Some(county), "中共光明社区委员会", "committee", "community").await;
        let staff = app.account("shequ", community, "committee_staff", None).await;
        let outsider = app.account("guangming", other, "committee_staff", None).await;
        let member = app.member(branch, "刘建国", 7).await;
        let today = app.ctx.clock.today();
        let id_of = |seq: u16| dangjian::member::idcard::compose("410402", chrono::NaiveDate::from_ymd_opt(1950, 5, 1).expect("d"), seq, seq % 2 == 0);

        // --- cards: an ID number is optional, one card per person, members recognised
        let card = |holder: &str, id: String| json!({"org_id": community, "holder": holder, "id_number": id, "phone": "13700001234", "address": "卫东社区3号楼"});
        let r = app.api(&staff, "POST", "/api/v1/lovebank/cards", Some(card("王秀兰", "410402195005010000".into()))).await;
        assert_eq!(r.1["fields"][0]["field"], "id_number", "{r:?}");
        let a = ok(app.api(&staff, "POST", "/api/v1/lovebank/cards", Some(card("王秀兰", id_of(21)))).await);
        let r = app.api(&staff, "POST", "/api/v1/lovebank/cards", Some(card("王秀兰", id_of(21)))).await;
        assert_eq!(r.1["fields"][0]["field"], "id_number", "one card per person: {r:?}");
        let b = ok(app.api(&staff, "POST", "/api/v1/lovebank/cards", Some(json!({"org_id": community, "holder": "李大爷"}))).await);
        let member_id_number = dangjian::member::idcard::compose("370811", chrono::NaiveDate::from_ymd_opt(1980, 1, 1).expect("d") + chrono::Duration::days(7), 7, false);
        let c = ok(app.api(&staff, "POST", "/api/v1/lovebank/cards", Some(card("刘建国", member_id_number))).await);
        assert_eq!(c["member_id"], member, "a member's card is linked to the roster");
        assert!(a["id_number"].as_str().unwrap_or("").contains('*'));
        let (a, b) = (a["id"].as_i64().expect("id"), b["id"].as_i64().expect("id"));
        refused(app.api(&outsider, "GET", &format!("/api/v1/lovebank/cards/{a}"), None).await, "not_found");
        refused(app.api(&outsider, "POST", "/api/v1/lovebank/cards", Some(json!({"org_id": community, "holder": "张三"}))).await, "not_found");

        // --- services: points from the rule set, a daily cap, a retry applied once
        let earn = |card: i64, service: &str, key: Option<&str>| {
            let app = &app;
            let staff = staff.clone();
            let body = json!({"service": service, "done_on": today, "note": "", "idempotency_key": key});
            async move { app.api(&staff, "POST", &format!("/api/v1/lovebank/cards/{card}/earn"), Some(body)).await }
        };
        let first = ok(earn(a, "blood", Some("k-1")).await);
        assert_eq!(first["points"], 10);
        let again = ok(earn(a, "blood", Some("k-1")).await);
        assert_eq!(again["id"], first["id"], "the retry is the same entry");
        let (x, y) = tokio::join!(earn(a, "elderly", Some("k-2")), earn(a, "elderly", Some("k-2")));
        assert_eq!(ok(x)["id"], ok(y)["id"], "concurrent retries apply once");
        ok(earn(a, "elderly", None).await);
        refused(earn(a, "blood", None).await, "love.daily_cap");
        let r = earn(a, "karaoke", None).await;
        assert_eq!(r.1["fields"][0]["field"], "service", "{r:?}");
        ok(earn(b, "blood", None).await);
        let balance = |card: i64| {
            let app = &app;
            let staff = staff.clone();
            async move { ok(app.api(&staff, "GET", &format!("/api/v1/lovebank/cards/{card}"), None).await)["card"]["balance"].as_i64().expect("balance") }
        };
        assert_eq!(balance(a).await, 20);
        assert_eq!(balance(b).await, 10);

        // --- goods; two cards racing for the last bag of salt: one gets it
        let goods = |name: &str, price: i64, stock: i64| json!({"org_id": community, "name": name, "unit": "袋", "price": price, "stock": stock});
        let salt = ok(app.api(&staff, "POST", "/api/v1/lovebank/goods", Some(goods("食盐", 5, 1))).await)["id"].as_i64().expect("id");
        let powder = ok(app.api(&staff, "POST", "/api/v1/lovebank/goods", Some(goods("洗衣粉", 8, 10))).await)["id"].as_i64().expect("id");
        let redeem = |card: i64, goods: i64, q: i64| {
            let app = &app;
            let staff = staff.clone();
            async move { app.api(&staff, "POST", &format!("/api/v1/lovebank/cards/{card}/redeem"), Some(json!({"goods_id": goods, "quantity": q}))).await }
        };
        let (x, y) = tokio::join!(redeem(a, salt, 1), redeem(b, salt, 1));
        let oks = [x.0, y.0].iter().filter(|s| **s == StatusCode::OK).count();
        assert_eq!(oks, 1, "{x:?} {y:?}");
        let loser = if x.0 == StatusCode::OK { &y } else { &x };
        assert_eq!(loser.1["code"], "love.out_of_stock");
        assert_eq!(balance(a).await + balance(b).await, 25, "exactly one paid");
        // not enough points: nothing moves
        refused(redeem(b, powder, 2).await, "love.insufficient");
        let stock = |id: i64| {
            let app = &app;
            let staff = staff.clone();
            async move {
                let list = ok(app.api(&staff, "GET", &format!("/api/v1/lovebank/goods?org_id={community}"), None).await);
                list.as_array().expect("goods").iter().find(|g| g["id"] == id).expect("goods")["stock"].as_i64().expect("stock")
            }
        };
        assert_eq!(stock(powder).await, 10);
        let r = redeem(a, powder, 11).await;
        assert_eq!(r.1["fields"][0]["field"], "quantity", "{r:?}");
        // a card racing itself for more than it holds: as many pass as the balance pays for
        let held = balance(a).await;
        let (x, y) = tokio::join!(redeem(a, powder, 2), redeem(a, powder, 2));
        let passed = [x.0, y.0].iter().filter(|s| **s == StatusCode::OK).count() as i64;
        assert_eq!(passed, (held / 16).min(2), "{held}: {x:?} {y:?}");
        assert_eq!(balance(a).await, held - 16 * passed);

        // --- reversals: a new entry, once; spent points cannot be taken back
        let entries = ok(app.api(&staff, "GET", &format!("/api/v1/lovebank/cards/{a}"), None).await)["entries"].clone();
        let redemption = entries.as_array().expect("entries").iter().find(|e| e["kind"] == "redeem").expect("a redemption").clone();
        let (rid, gid) = (redemption["id"].as_i64().expect("id"), redemption["goods_id"].as_i64().expect("goods"));
        let (bal, stock_before) = (balance(a).await, stock(gid).await);
        ok(app.api(&staff, "POST", &format!("/api/v1/lovebank/entries/{rid}/reverse"), Some(json!({"reason": "物品有破损，退回"}))).await);
        assert_eq!(balance(a).await, bal - redemption["points"].as_i64().expect("points"));
        assert_eq!(stock(gid).await, stock_before + redemption["quantity"].as_i64().expect("q"));
        let r = app.api(&staff, "POST", &format!("/api/v1/lovebank/entries/{rid}/reverse"), Some(json!({"reason": "再退"}))).await;
        assert_eq!(r.0, StatusCode::CONFLICT);
        let d = ok(app.api(&staff, "POST", "/api/v1/lovebank/cards", Some(json!({"org_id": community, "holder": "赵阿姨"}))).await)["id"].as_i64().expect("id");
        let earned = ok(earn(d, "blood", None).await)["id"].as_i64().expect("id");
        ok(redeem(d, powder, 1).await);
        refused(app.api(&staff, "POST", &format!("/api/v1/lovebank/entries/{earned}/reverse"), Some(json!({"reason": "登记错误"}))).await, "love.spent");

        // --- stock movements, the statement, the invariant
        let r = app.api(&staff, "POST", &format!("/api/v1/lovebank/goods/{salt}/stock"), Some(json!({"quantity": -5, "note": "过期"}))).await;
        assert_eq!(r.1["code"], "love.out_of_stock", "{r:?}");
        ok(app.api(&staff, "POST", &format!("/api/v1/lovebank/goods/{salt}/stock"), Some(json!({"quantity": 20, "note": "区民政局调拨"}))).await);
        let month = today.format("%Y-%m").to_string();
        let st = ok(app.api(&staff, "GET", &format!("/api/v1/lovebank/statement?org_id={community}&month={month}"), None).await);
        assert_eq!(st["reconciled"], true, "{st}");
        assert_eq!(st["totals"]["closing"], st["balances"], "{st}");
        assert_eq!(st["totals"]["opening"], 0);
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM love_cards c WHERE c.balance <> (SELECT COALESCE(SUM(e.points), 0) FROM love_entries e WHERE e.card_id = c.id)").await, 0);
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM love_cards WHERE balance < 0").await, 0);

        // --- pages
        let (sess, _) = app.browser("shequ2", community, "committee_staff").await;
        for path in [format!("/lovebank?org_id={community}"), format!("/lovebank/cards/{a}"), format!("/lovebank/statement?org_id={community}&month={month}")] {
            let (s, _, html) = app.page(&sess, "GET", &path, None).await;
            assert_eq!(s, StatusCode::OK, "{path}: {html}");
        }
        assert!(matches!(app.verify().await, dangjian::audit::VerifyOutcome::Ok { .. }));
    })
    .await;
}
