//! 整改台账 and 约谈: an item from opening to verified close-out through the API, with every
//! rule refusing on the way; the supervisor's side and the owner's side kept apart; two
//! verifiers deciding at once; overdue items in the bulletin; the printed export; an
//! interview whose follow-ups become items.

use crate::support::*;
use axum::http::StatusCode;
use chrono::Duration;
use serde_json::{json, Value};

struct World {
    county: i64,
    town: i64,
    branch: i64,
    other_branch: i64,
    secretary: String,
    town_staff: String,
    county_staff: String,
}

async fn world(app: &TestApp) -> World {
    let city = app.org(None, "中共测试市委", "committee", "city").await;
    let county = app
        .org(Some(city), "中共测试县委", "committee", "county")
        .await;
    let town = app
        .org(Some(county), "中共测试镇委员会", "committee", "township")
        .await;
    let branch = app
        .org(Some(town), "测试村党支部", "branch", "village")
        .await;
    let other_county = app
        .org(Some(city), "中共邻县委", "committee", "county")
        .await;
    let other_branch = app
        .org(Some(other_county), "邻县村党支部", "branch", "village")
        .await;
    World {
        county,
        town,
        branch,
        other_branch,
        secretary: app.account("shuji", branch, "branch_secretary", None).await,
        town_staff: app.account("zhenwei", town, "committee_staff", None).await,
        county_staff: app
            .account("xianwei", county, "committee_staff", None)
            .await,
    }
}

async fn update(app: &TestApp, token: &str, id: i64, body: Value) -> (StatusCode, Value) {
    app.api(
        token,
        "POST",
        &format!("/api/v1/rectify/items/{id}/updates"),
        Some(body),
    )
    .await
}

async fn item(app: &TestApp, token: &str, id: i64) -> Value {
    ok(app
        .api(token, "GET", &format!("/api/v1/rectify/items/{id}"), None)
        .await)
}

#[tokio::test]
async fn an_item_from_opening_to_verified_close_out() {
    each_backend(|app| async move {
        let w = world(&app).await;
        let t0 = app.ctx.clock.today();
        let new = |org: i64, deadline: chrono::NaiveDate| json!({"org_id": org, "source": "self_check", "source_note": "对标148项标准自查",
            "owner": "王书记", "problem": "三会一课记录不全，2026年第三季度缺2次党课记录", "measures": "补齐记录，落实党课制度",
            "plan": "一个月内补齐，之后每月检查", "opened_on": t0, "deadline": deadline});
        // the deadline: after the opening, within a year
        let r = app.api(&w.secretary, "POST", "/api/v1/rectify/items", Some(new(w.branch, t0))).await;
        assert_eq!(r.1["fields"][0]["field"], "deadline", "{r:?}");
        refused(app.api(&w.secretary, "POST", "/api/v1/rectify/items", Some(new(w.branch, t0 + Duration::days(366)))).await, "rectify.deadline_too_far");
        // outside the account's subtree
        refused(app.api(&w.secretary, "POST", "/api/v1/rectify/items", Some(new(w.other_branch, t0 + Duration::days(30)))).await, "not_found");
        // a supervisor must be an ancestor
        let mut bad = new(w.branch, t0 + Duration::days(30));
        bad["supervisor_id"] = json!(w.other_branch);
        let r = app.api(&w.county_staff, "POST", "/api/v1/rectify/items", Some(bad)).await;
        assert_eq!(r.1["fields"][0]["field"], "supervisor_id", "{r:?}");
        let it = ok(app.api(&w.secretary, "POST", "/api/v1/rectify/items", Some(new(w.branch, t0 + Duration::days(30)))).await);
        let id = it["id"].as_i64().expect("id");
        assert_eq!(it["supervisor_id"], w.town, "the parent supervises by default");
        assert_eq!(it["status"], "open");

        // progress; the owner's side cannot decide its own close-out
        let r = update(&app, &w.secretary, id, json!({"kind": "progress", "note": ""})).await;
        assert_eq!(r.1["fields"][0]["field"], "note", "{r:?}");
        ok(update(&app, &w.secretary, id, json!({"kind": "progress", "note": "已补记9月党课记录"})).await);
        refused(update(&app, &w.secretary, id, json!({"kind": "pass"})).await, "forbidden");
        refused(update(&app, &w.town_staff, id, json!({"kind": "pass"})).await, "rectify.not_pending");
        // a close-out request says what was done, with evidence
        let r = update(&app, &w.secretary, id, json!({"kind": "request", "note": "已整改"})).await;
        assert_eq!(r.1["fields"][0]["field"], "note", "{r:?}");
        let (ct, body) = multipart(&[("kind", "request"), ("note", "已补齐第三季度两次党课记录，并建立每月检查制度")], include_bytes!("../fixtures/tiny.pdf"));
        let (s, b) = post_multipart(&app, &w.secretary, &format!("/api/v1/rectify/items/{id}/evidence"), &ct, body).await;
        assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
        let (ct, body) = multipart(&[("kind", "progress"), ("note", "照片")], b"GIF89a not an accepted type");
        let (s, _) = post_multipart(&app, &w.secretary, &format!("/api/v1/rectify/items/{id}/evidence"), &ct, body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        refused(update(&app, &w.secretary, id, json!({"kind": "request", "note": "再次申请销号，内容同上"})).await, "rectify.not_open");
        // sent back with the reason, asked again
        let r = update(&app, &w.town_staff, id, json!({"kind": "reject", "note": ""})).await;
        assert_eq!(r.1["fields"][0]["field"], "note", "{r:?}");
        ok(update(&app, &w.town_staff, id, json!({"kind": "reject", "note": "缺少党课签到表"})).await);
        assert_eq!(item(&app, &w.secretary, id).await["item"]["status"], "open");
        ok(update(&app, &w.secretary, id, json!({"kind": "request", "note": "补充了两次党课的签到表和照片"})).await);

        // two verifiers decide at once: exactly one wins, the other is told it changed
        let v = item(&app, &w.secretary, id).await["item"]["version"].as_i64().expect("version");
        let (a, b) = tokio::join!(
            update(&app, &w.town_staff, id, json!({"kind": "pass", "note": "核验属实", "version": v})),
            update(&app, &w.county_staff, id, json!({"kind": "reject", "note": "照片不清晰", "version": v})),
        );
        let codes = [a.0, b.0];
        assert!(codes.contains(&StatusCode::OK) && codes.contains(&StatusCode::CONFLICT), "{a:?} {b:?}");
        let file = item(&app, &w.secretary, id).await;
        let expect = if a.0 == StatusCode::OK { "closed" } else { "open" };
        assert_eq!(file["item"]["status"], expect);
        let decisions = file["updates"].as_array().expect("updates").iter().filter(|u| u["kind"] == "pass" || u["kind"] == "reject").count();
        assert_eq!(decisions, 2, "one earlier rejection and exactly one decision now: {file}");
        assert_eq!(file["updates"].as_array().expect("updates").iter().filter(|u| !u["documents"].as_array().expect("docs").is_empty()).count(), 1);
        if expect == "open" {
            ok(update(&app, &w.secretary, id, json!({"kind": "request", "note": "重新拍摄了清晰的照片并补充说明"})).await);
            ok(update(&app, &w.town_staff, id, json!({"kind": "pass", "note": "核验属实"})).await);
        }
        refused(update(&app, &w.secretary, id, json!({"kind": "progress", "note": "补充"})).await, "rectify.closed");

        // the one who asked cannot verify their own request
        let own = ok(app.api(&w.county_staff, "POST", "/api/v1/rectify/items", Some(new(w.branch, t0 + Duration::days(60)))).await);
        let oid = own["id"].as_i64().expect("id");
        ok(update(&app, &w.county_staff, oid, json!({"kind": "request", "note": "县委督导组已现场复核完成整改"})).await);
        refused(update(&app, &w.county_staff, oid, json!({"kind": "pass"})).await, "rectify.self_verify");

        // extensions: by the supervisor, bounded, once
        let late = ok(app.api(&w.secretary, "POST", "/api/v1/rectify/items", Some(new(w.branch, t0 + Duration::days(10)))).await);
        let lid = late["id"].as_i64().expect("id");
        refused(update(&app, &w.secretary, lid, json!({"kind": "extend", "deadline": t0 + Duration::days(20), "note": "农忙"})).await, "forbidden");
        refused(update(&app, &w.town_staff, lid, json!({"kind": "extend", "deadline": t0 + Duration::days(101), "note": "农忙"})).await, "rectify.extension_too_long");
        ok(update(&app, &w.town_staff, lid, json!({"kind": "extend", "deadline": t0 + Duration::days(20), "note": "农忙"})).await);
        refused(update(&app, &w.town_staff, lid, json!({"kind": "extend", "deadline": t0 + Duration::days(25), "note": "再延"})).await, "rectify.extended_enough");

        // past the deadline: overdue on the board, in the list and in the bulletin
        app.ctx.clock.advance_days(21);
        let board = ok(app.api(&w.county_staff, "GET", &format!("/api/v1/rectify/board?org_id={}", w.county), None).await);
        assert_eq!(board["overdue"], 1, "{board}");
        assert_eq!(board["pending"], 1, "{board}");
        assert_eq!(board["to_verify"], 1, "the pending request is supervised inside the county: {board}");
        let list = ok(app.api(&w.county_staff, "GET", &format!("/api/v1/rectify/items?org_id={}&due=overdue", w.county), None).await);
        assert_eq!(list["total"], 1);
        assert_eq!(list["items"][0]["id"], lid);
        let today = app.ctx.clock.today();
        let month = today.format("%Y-%m").to_string();
        let b = ok(app.api(&w.county_staff, "GET", &format!("/api/v1/rectify/bulletin?org_id={}&month={month}", w.county), None).await);
        assert_eq!(b["total"]["overdue"], 1, "{b}");
        assert_eq!(b["total"]["penalty"], 2, "{b}");
        assert_eq!(b["rows"][0]["org_id"], w.town, "{b}");
        assert_eq!(b["overdue_items"][0]["id"], lid);
        // the current month counts as of today: an item due before its end is not overdue yet
        let (_, month_end) = dangjian::rectification::store::month_bounds(&month).expect("month");
        if month_end - Duration::days(1) > today {
            ok(app.api(&w.secretary, "POST", "/api/v1/rectify/items", Some(new(w.branch, month_end - Duration::days(1)))).await);
            let b = ok(app.api(&w.county_staff, "GET", &format!("/api/v1/rectify/bulletin?org_id={}&month={month}", w.county), None).await);
            assert_eq!(b["total"]["overdue"], 1, "{b}");
            assert_eq!(b["total"]["penalty"], 2, "{b}");
            assert_eq!(b["month_end"], json!(today), "截至 today: {b}");
        }
        let r = app.api(&w.county_staff, "GET", "/api/v1/rectify/bulletin?month=2026-13", None).await;
        assert_eq!(r.0, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(dangjian::rectification::store::overdue_in_year(&app.ctx, "/", chrono::Datelike::year(&today)).await.expect("count"), 1);

        // the export in the printed layout holds every item of the filter
        let req = axum::http::Request::builder().uri(format!("/api/v1/rectify/export?org_id={}&status=all", w.county))
            .header(axum::http::header::AUTHORIZATION, format!("Bearer {}", w.county_staff)).body(axum::body::Body::empty()).expect("req");
        let (s, h, bytes) = app.send(req).await;
        assert_eq!(s, StatusCode::OK);
        assert!(h[axum::http::header::CONTENT_TYPE].to_str().unwrap_or("").contains("spreadsheetml"));
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("xlsx is a zip");
        let mut shared = String::new();
        std::io::Read::read_to_string(&mut zip.by_name("xl/sharedStrings.xml").expect("shared strings"), &mut shared).expect("read");
        assert!(shared.contains("三会一课记录不全") && shared.contains("整改时限（时间表）") && shared.contains("中共测试镇委员会"), "{shared}");

        // pages
        let (sess, _) = app.browser("xianzuzhi", w.county, "committee_staff").await;
        for path in [format!("/rectify?org_id={}", w.county), format!("/rectify/{id}"), format!("/rectify/{lid}"), "/rectify/new".into(),
            format!("/rectify/bulletin?org_id={}&month={month}", w.county), "/interviews".into()] {
            let (s, _, html) = app.page(&sess, "GET", &path, None).await;
            assert_eq!(s, StatusCode::OK, "{path}: {html}");
        }
        let (_, _, html) = app.page(&sess, "GET", &format!("/rectify/{oid}"), None).await;
        assert!(html.contains("核验通过，予以销号"), "another verifier decides what the county asked: {html}");
        assert!(matches!(app.verify().await, dangjian::audit::VerifyOutcome::Ok { .. }));
    })
    .await;
}

#[tokio::test]
async fn interviews_open_their_follow_up_items() {
    each_backend(|app| async move {
        let w = world(&app).await;
        let t0 = app.ctx.clock.today();
        let plan = json!({"org_id": w.town, "interviewee": "李镇党委书记", "interviewer": "县委组织部部长",
            "reason": "述职评议排名靠后", "source": "review", "planned_on": t0});
        refused(app.api(&w.secretary, "POST", "/api/v1/interviews", Some(plan.clone())).await, "not_found");
        let v = ok(app.api(&w.county_staff, "POST", "/api/v1/interviews", Some(plan)).await);
        let vid = v["id"].as_i64().expect("id");
        assert_eq!(v["status"], "planned");
        let held = |body: Value| {
            let app = &app;
            let token = w.county_staff.clone();
            async move { app.api(&token, "POST", &format!("/api/v1/interviews/{vid}/held"), Some(body)).await }
        };
        let r = held(json!({"held_on": t0, "minutes": "", "follow_ups": ""})).await;
        assert_eq!(r.1["fields"][0]["field"], "minutes", "{r:?}");
        let r = held(json!({"held_on": t0, "minutes": "指出三方面问题", "follow_ups": "软弱涣散村整顿滞后"})).await;
        assert_eq!(r.1["fields"][0]["field"], "deadline", "{r:?}");
        let file = ok(held(json!({"held_on": t0, "minutes": "指出三方面问题，提出整改要求", "follow_ups": "软弱涣散村整顿滞后\n\n村级阵地建设推进慢\n", "deadline": t0 + Duration::days(60)})).await);
        assert_eq!(file["interview"]["status"], "held");
        let items = file["items"].as_array().expect("items");
        assert_eq!(items.len(), 2);
        assert!(items.iter().all(|i| i["source"] == "interview" && i["source_ref"] == format!("interview:{vid}") && i["org_id"] == w.town && i["supervisor_id"] == w.county));
        refused(held(json!({"held_on": t0, "minutes": "再记一次", "follow_ups": ""})).await, "interview.held");
        let list = ok(app.api(&w.county_staff, "GET", "/api/v1/interviews?status=held", None).await);
        assert_eq!(list["total"], 1);
        let (sess, _) = app.browser("xianzuzhi", w.county, "committee_staff").await;
        let (s, _, html) = app.page(&sess, "GET", &format!("/interviews/{vid}"), None).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("村级阵地建设推进慢"), "{html}");
        let iid = items[0]["id"].as_i64().expect("id");
        let (_, _, html) = app.page(&sess, "GET", &format!("/rectify/{iid}"), None).await;
        assert!(html.contains(&format!("/interviews/{vid}")), "the item links back to the interview: {html}");
        assert!(matches!(app.verify().await, dangjian::audit::VerifyOutcome::Ok { .. }));
    })
    .await;
}
