//! 通知公告 and 工作台: a notice goes down the tree to the organisations it names, each 签收s it
//! once, the sender sees who has and reminds the rest, a withdrawn notice disappears; members
//! read the notices to their subtree's members; nobody outside the audience opens one; each
//! account's 工作台 lists what waits for it.

use crate::support::*;
use axum::http::StatusCode;
use serde_json::{json, Value};

fn notice(org: i64, audience: &str, org_ids: &[i64], needs_receipt: bool) -> Value {
    json!({"org_id": org, "title": "关于开展年度党员民主评议的通知", "body": "各党组织：请于月底前完成。",
        "audience": audience, "org_ids": org_ids, "needs_receipt": needs_receipt, "deadline": "2099-12-31"})
}

fn titles(todos: &Value) -> Vec<String> {
    todos
        .as_array()
        .expect("todos")
        .iter()
        .map(|t| t["title"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn a_notice_is_received_reminded_and_withdrawn() {
    each_backend(|app| async move {
        let p = province(&app).await;
        let city = app
            .account("city_staff", p.cities[0], "org_staff", None)
            .await;
        let county0 = app
            .account("county0", p.counties[0], "org_staff", None)
            .await;
        let county1 = app
            .account("county1", p.counties[1], "committee_staff", None)
            .await;
        let sec = app
            .account("sec0", p.branches[0], "branch_secretary", None)
            .await;
        let elsewhere = app
            .account("county_other", p.counties[2], "org_staff", None)
            .await;

        // the audience must be inside the sender's subtree, and the sender the account's own
        refused(
            app.api(
                &city,
                "POST",
                "/api/v1/circulars",
                Some(notice(p.cities[0], "orgs", &[p.counties[2]], true)),
            )
            .await,
            "validation_failed",
        );
        refused(
            app.api(
                &county0,
                "POST",
                "/api/v1/circulars",
                Some(notice(p.cities[0], "children", &[], true)),
            )
            .await,
            "not_found",
        );
        let mut empty = notice(p.cities[0], "children", &[], true);
        empty["title"] = json!("  ");
        refused(
            app.api(&city, "POST", "/api/v1/circulars", Some(empty))
                .await,
            "validation_failed",
        );

        // to the city's direct children: its two counties
        let c = ok(app
            .api(
                &city,
                "POST",
                "/api/v1/circulars",
                Some(notice(p.cities[0], "children", &[], true)),
            )
            .await);
        let id = c["id"].as_i64().expect("id");
        let receipts = ok(app
            .api(
                &city,
                "GET",
                &format!("/api/v1/circulars/{id}/receipts"),
                None,
            )
            .await);
        assert_eq!(receipts["targets"], 2, "{receipts}");
        assert_eq!(receipts["received"], 0);

        // the counties have it in their inbox and on their 工作台; a branch below and a county
        // of the other city do not
        let inbox = ok(app.api(&county0, "GET", "/api/v1/circulars", None).await);
        assert_eq!(inbox[0]["id"], id, "{inbox}");
        assert_eq!(inbox[0]["done"], false);
        let todos = ok(app.api(&county0, "GET", "/api/v1/workbench", None).await);
        assert!(
            titles(&todos)
                .iter()
                .any(|t| t.starts_with("签收通知") && t.contains("民主评议")),
            "{todos}"
        );
        let inbox = ok(app.api(&sec, "GET", "/api/v1/circulars", None).await);
        assert_eq!(inbox.as_array().map(Vec::len), Some(0), "{inbox}");
        for token in [&sec, &elsewhere] {
            let (s, _) = app
                .api(token, "GET", &format!("/api/v1/circulars/{id}"), None)
                .await;
            assert_eq!(s, StatusCode::NOT_FOUND);
            refused(
                app.api(
                    token,
                    "POST",
                    &format!("/api/v1/circulars/{id}/receive"),
                    None,
                )
                .await,
                "not_found",
            );
        }
        // a receiver neither sees the receipts nor reminds nor withdraws
        refused(
            app.api(
                &county0,
                "GET",
                &format!("/api/v1/circulars/{id}/receipts"),
                None,
            )
            .await,
            "forbidden",
        );
        refused(
            app.api(
                &county0,
                "POST",
                &format!("/api/v1/circulars/{id}/remind"),
                Some(json!({})),
            )
            .await,
            "forbidden",
        );
        refused(
            app.api(
                &county0,
                "POST",
                &format!("/api/v1/circulars/{id}/withdraw"),
                None,
            )
            .await,
            "forbidden",
        );

        // 签收, once
        let v = ok(app
            .api(
                &county0,
                "POST",
                &format!("/api/v1/circulars/{id}/receive"),
                None,
            )
            .await);
        assert_eq!(v["relation"], "receiver", "{v}");
        assert!(v["received_at"].is_string(), "{v}");
        refused(
            app.api(
                &county0,
                "POST",
                &format!("/api/v1/circulars/{id}/receive"),
                None,
            )
            .await,
            "circular.received",
        );
        let todos = ok(app.api(&county0, "GET", "/api/v1/workbench", None).await);
        assert!(
            !titles(&todos).iter().any(|t| t.contains("民主评议")),
            "{todos}"
        );
        let receipts = ok(app
            .api(
                &city,
                "GET",
                &format!("/api/v1/circulars/{id}/receipts"),
                None,
            )
            .await);
        assert_eq!(receipts["received"], 1, "{receipts}");
        // those not yet received come first
        assert_eq!(receipts["rows"][0]["org_id"], p.counties[1], "{receipts}");
        // filtered by state and name, a page at a time
        let listed = |q: &str| {
            let (app, city) = (&app, city.clone());
            let q = q.to_string();
            async move {
                let r = ok(app
                    .api(
                        &city,
                        "GET",
                        &format!("/api/v1/circulars/{id}/receipts?{q}"),
                        None,
                    )
                    .await);
                let ids: Vec<i64> = r["rows"]
                    .as_array()
                    .expect("rows")
                    .iter()
                    .filter_map(|x| x["org_id"].as_i64())
                    .collect();
                (r["matching"].as_i64().unwrap_or(-1), ids)
            }
        };
        assert_eq!(listed("state=received").await, (1, vec![p.counties[0]]));
        assert_eq!(listed("state=pending").await, (1, vec![p.counties[1]]));
        assert_eq!(listed("limit=1&offset=1").await, (2, vec![p.counties[0]]));
        assert_eq!(
            listed("name=%25").await.0,
            0,
            "a % is a character, not a wildcard"
        );
        let name = receipts["rows"][0]["org_name"]
            .as_str()
            .expect("name")
            .to_string();
        let q: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("name", &name)
            .finish();
        assert_eq!(listed(&q).await, (1, vec![p.counties[1]]));

        // the sender reminds the one that has not received
        let r = ok(app
            .api(
                &city,
                "POST",
                &format!("/api/v1/circulars/{id}/remind"),
                Some(json!({})),
            )
            .await);
        assert_eq!(r["reminded"], 1);
        let inbox = ok(app.api(&county1, "GET", "/api/v1/circulars", None).await);
        assert_eq!(inbox[0]["reminded"], true, "{inbox}");
        let todos = ok(app.api(&county1, "GET", "/api/v1/workbench", None).await);
        assert!(
            titles(&todos).iter().any(|t| t.contains("已催办")),
            "{todos}"
        );

        // withdrawn: gone from the receivers, refused a second time
        ok(app
            .api(
                &city,
                "POST",
                &format!("/api/v1/circulars/{id}/withdraw"),
                None,
            )
            .await);
        refused(
            app.api(
                &city,
                "POST",
                &format!("/api/v1/circulars/{id}/withdraw"),
                None,
            )
            .await,
            "circular.withdrawn",
        );
        let (s, _) = app
            .api(&county1, "GET", &format!("/api/v1/circulars/{id}"), None)
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let inbox = ok(app.api(&county1, "GET", "/api/v1/circulars", None).await);
        assert_eq!(inbox.as_array().map(Vec::len), Some(0), "{inbox}");
        // the sender still has it, marked withdrawn
        let sent = ok(app.api(&city, "GET", "/api/v1/circulars/sent", None).await);
        assert_eq!(sent[0]["status"], "withdrawn", "{sent}");

        // every change is on the chain
        for action in [
            "circular.publish",
            "circular.receive",
            "circular.remind",
            "circular.withdraw",
        ] {
            assert_eq!(
                app.count(&format!(
                    "SELECT COUNT(*) AS n FROM audit_log WHERE action = '{action}'"
                ))
                .await,
                1,
                "{action}"
            );
        }
        assert!(matches!(
            app.verify().await,
            dangjian::audit::VerifyOutcome::Ok { .. }
        ));
    })
    .await;
}

#[tokio::test]
async fn members_read_the_notices_to_their_subtree() {
    each_backend(|app| async move {
        let p = province(&app).await;
        let county = app
            .account("county0", p.counties[0], "org_staff", None)
            .await;
        let mine = app
            .account("member0", p.branches[0], "member", Some(p.members[0]))
            .await;
        let other = app
            .account("member_far", p.branches[4], "member", Some(p.members[8]))
            .await;
        // a notice to read only: no 签收
        let c = ok(app
            .api(
                &county,
                "POST",
                "/api/v1/circulars",
                Some(notice(p.counties[0], "members", &[], false)),
            )
            .await);
        let id = c["id"].as_i64().expect("id");
        let inbox = ok(app.api(&mine, "GET", "/api/v1/circulars", None).await);
        assert_eq!(inbox[0]["id"], id, "{inbox}");
        assert_eq!(inbox[0]["done"], false);
        let todos = ok(app.api(&mine, "GET", "/api/v1/workbench", None).await);
        assert!(
            titles(&todos).iter().any(|t| t.starts_with("阅读通知")),
            "{todos}"
        );
        // reading is the receipt; there is nothing to 签收
        let v = ok(app
            .api(&mine, "GET", &format!("/api/v1/circulars/{id}"), None)
            .await);
        assert_eq!(v["relation"], "member", "{v}");
        refused(
            app.api(
                &mine,
                "POST",
                &format!("/api/v1/circulars/{id}/receive"),
                None,
            )
            .await,
            "circular.not_receiver",
        );
        // a notice to the branches that asks no 签收 is read, not received
        let sec = app
            .account("sec0", p.branches[0], "branch_secretary", None)
            .await;
        let c2 = ok(app
            .api(
                &county,
                "POST",
                "/api/v1/circulars",
                Some(notice(p.counties[0], "children", &[], false)),
            )
            .await);
        let id2 = c2["id"].as_i64().expect("id");
        refused(
            app.api(
                &sec,
                "POST",
                &format!("/api/v1/circulars/{id2}/receive"),
                None,
            )
            .await,
            "circular.no_receipt",
        );
        let inbox = ok(app.api(&mine, "GET", "/api/v1/circulars", None).await);
        assert_eq!(inbox[0]["done"], true, "{inbox}");
        let todos = ok(app.api(&mine, "GET", "/api/v1/workbench", None).await);
        assert!(
            !titles(&todos).iter().any(|t| t.starts_with("阅读通知")),
            "{todos}"
        );
        let receipts = ok(app
            .api(
                &county,
                "GET",
                &format!("/api/v1/circulars/{id}/receipts"),
                None,
            )
            .await);
        assert_eq!(receipts["reads"], 1, "{receipts}");
        // a member of another county neither has it nor opens it
        let inbox = ok(app.api(&other, "GET", "/api/v1/circulars", None).await);
        assert_eq!(inbox.as_array().map(Vec::len), Some(0), "{inbox}");
        let (s, _) = app
            .api(&other, "GET", &format!("/api/v1/circulars/{id}"), None)
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // a member sends nothing
        refused(
            app.api(
                &mine,
                "POST",
                "/api/v1/circulars",
                Some(notice(p.branches[0], "members", &[], false)),
            )
            .await,
            "forbidden",
        );
    })
    .await;
}

/// The page: a notice with an attachment published by the form, opened and 签收ed in the
/// browser, the attachment downloaded under its Chinese name; the navigation's count follows.
#[tokio::test]
async fn the_notice_pages_publish_receive_and_download() {
    each_backend(|app| async move {
        let p = province(&app).await;
        let (city, csrf) = app.browser("city_staff", p.cities[0], "org_staff").await;
        let (county, county_csrf) = app.browser("county0", p.counties[0], "org_staff").await;
        let (s, _, html) = app.page(&city, "GET", "/circulars/new", None).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("name=\"title\""), "{html}");
        let pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";
        let org = p.cities[0].to_string();
        let (ct, body) = multipart(
            &[
                ("_csrf", &csrf),
                ("org_id", &org),
                ("title", "关于报送年度总结的通知"),
                ("body", "请于12月25日前报送。"),
                ("audience", "subtree"),
                ("needs_receipt", "1"),
                ("deadline", "2099-12-25"),
            ],
            pdf,
        );
        let req = axum::http::Request::builder()
            .method("POST")
            .uri("/circulars")
            .header(axum::http::header::COOKIE, format!("dj_session={city}"))
            .header(axum::http::header::CONTENT_TYPE, ct)
            .body(axum::body::Body::from(body))
            .expect("request");
        let (s, h, b) = app.send(req).await;
        assert_eq!(s, StatusCode::SEE_OTHER, "{}", String::from_utf8_lossy(&b));
        let to = h
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        assert!(to.contains("ok=circular_published"), "{to}");
        let id: i64 = to
            .trim_start_matches("/circulars/")
            .split('?')
            .next()
            .and_then(|x| x.parse().ok())
            .expect("id");

        // the county's navigation counts it, its 工作台 lists it, its page offers 签收
        let (_, _, badge) = app.page(&county, "GET", "/workbench/count", None).await;
        assert!(badge.contains('1'), "{badge}");
        let (_, _, home) = app.page(&county, "GET", "/", None).await;
        assert!(home.contains("关于报送年度总结的通知"), "{home}");
        // the sender's home lists it among what it sent, with how many signed for it
        let targets = app
            .count(&format!(
                "SELECT COUNT(*) AS n FROM circular_targets WHERE circular_id = {id}"
            ))
            .await;
        let (_, _, sender_home) = app.page(&city, "GET", "/", None).await;
        assert!(
            sender_home.contains("发出的")
                && sender_home.contains(&format!("签收0&#x2f;{targets}")),
            "{sender_home}"
        );
        let (s, _, html) = app
            .page(&county, "GET", &format!("/circulars/{id}"), None)
            .await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("申请书.pdf"), "{html}");
        let file = app
            .count(&format!(
                "SELECT MIN(id) AS n FROM circular_files WHERE circular_id = {id}"
            ))
            .await;
        let (s, h, _) = app
            .page(&county, "GET", &format!("/circulars/files/{file}"), None)
            .await;
        assert_eq!(s, StatusCode::OK);
        let disposition = h
            .get("content-disposition")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        assert!(disposition.contains("filename*=UTF-8''"), "{disposition}");
        let (s, h, _) = app
            .page(
                &county,
                "POST",
                &format!("/circulars/{id}/receive"),
                Some(&format!("_csrf={county_csrf}")),
            )
            .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert!(h
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .contains("ok=received"));
        let (_, _, html) = app
            .page(&city, "GET", &format!("/circulars/{id}"), None)
            .await;
        assert!(html.contains("已签收"), "{html}");
        // a branch far away cannot download the attachment
        let (far, _) = app
            .browser("far_sec", p.branches[4], "branch_secretary")
            .await;
        let (s, _, _) = app
            .page(&far, "GET", &format!("/circulars/files/{file}"), None)
            .await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    })
    .await;
}

/// 工作台 per role: a branch secretary sees the branch at a glance and the month to close, a
/// member their points, the organisation department the subtree's overdue files.
#[tokio::test]
async fn each_role_gets_its_own_home() {
    each_backend(|app| async move {
        let p = province(&app).await;
        let (sec, _) = app.browser("sec0", p.branches[0], "branch_secretary").await;
        let (_, _, html) = app.page(&sec, "GET", "/", None).await;
        assert!(html.contains("我的待办"), "{html}");
        assert!(
            !html.contains("data-chart="),
            "no city dashboard for a secretary: {html}"
        );
        let token = app
            .account("sec0_api", p.branches[0], "branch_secretary", None)
            .await;
        let todos = ok(app.api(&token, "GET", "/api/v1/workbench", None).await);
        assert!(
            titles(&todos).iter().any(|t| t.contains("积分评定关账")),
            "{todos}"
        );
        let (m, _) = app.browser("member0", p.branches[0], "member").await;
        app.exec(&format!(
            "UPDATE accounts SET member_id = {} WHERE username = 'member0'",
            p.members[0]
        ))
        .await;
        let (s, _, html) = app.page(&m, "GET", "/", None).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("我的积分"), "{html}");
        assert!(!html.contains("请从菜单选择"), "{html}");
        // the own record links nothing the member may not open
        let (s, _, html) = app.page(&m, "GET", "/members/self", None).await;
        assert!(s == StatusCode::OK || s == StatusCode::SEE_OTHER, "{s}");
        let html = if s == StatusCode::SEE_OTHER {
            app.page(&m, "GET", &format!("/members/{}", p.members[0]), None)
                .await
                .2
        } else {
            html
        };
        assert!(html.contains("党员1"), "{html}");
        for dead in ["href=\"/orgs?id=", "href=\"/members?org_id="] {
            assert!(!html.contains(dead), "{dead}: {html}");
        }
        let (staff, _) = app.browser("city_staff", p.cities[0], "org_staff").await;
        let (_, _, html) = app.page(&staff, "GET", "/", None).await;
        assert!(
            html.contains("我的待办") && html.contains("data-chart="),
            "{html}"
        );
    })
    .await;
}

/// A typed ID number never confirms a guess about someone outside the account's subtree: a
/// love-bank card does not link (or tell of) a member elsewhere; a pool or an application
/// answers neutrally, counted and recorded, and an account that keeps trying is held off.
#[tokio::test]
async fn a_typed_number_confirms_nothing_outside_the_subtree() {
    each_backend(|app| async move {
        let city = app.org(None, "中共测试市委", "committee", "city").await;
        let east = app.org(Some(city), "中共东关街道工作委员会", "committee", "township").await;
        let west = app.org(Some(city), "中共西关街道工作委员会", "committee", "township").await;
        let branch = app.org(Some(east), "东关村党支部", "branch", "village").await;
        let far = app.org(Some(west), "西关村党支部", "branch", "village").await;
        let staff = app.account("dongguan", east, "committee_staff", None).await;
        let sec = app.account("dongguan_sec", branch, "branch_secretary", None).await;
        let mut farm = member_input(far, "王秀兰", 41);
        let number = farm.id_number.clone().expect("id");
        farm.id_number = Some(number.clone());
        app.member_with(farm).await;
        let near = member_input(branch, "李芳", 43);
        let near_number = near.id_number.clone().expect("id");
        app.member_with(near).await;
        // a card: the member elsewhere is not linked; the member here is
        let card = |id: &str| json!({"org_id": east, "holder": "持卡人", "id_number": id, "phone": "13700001234", "address": "东关3号楼"});
        let c = ok(app.api(&staff, "POST", "/api/v1/lovebank/cards", Some(card(&number))).await);
        assert!(c["member_id"].is_null(), "{c}");
        let c = ok(app.api(&staff, "POST", "/api/v1/lovebank/cards", Some(card(&near_number))).await);
        assert!(c["member_id"].is_i64(), "{c}");
        // a pool: the neutral answer for a member elsewhere, the plain one here
        let talent = |id: &str| json!({"org_id": branch, "pool": "women", "channel": "organisation", "name": "王秀兰", "id_number": id,
            "phone": "13800002222", "work_unit": "测试村合作社", "recommender": "镇妇联", "recommended_on": app.ctx.clock.today(), "reason": "带头发展特色种植"});
        let (s, v) = app.api(&sec, "POST", "/api/v1/talents", Some(talent(&number))).await;
        assert_eq!((s, v["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("member.registered_elsewhere")), "{v}");
        let (_, v) = app.api(&sec, "POST", "/api/v1/talents", Some(talent(&near_number))).await;
        assert_eq!(v["fields"][0]["message"], "此人已是党员", "{v}");
        // an application, likewise; each neutral answer is recorded
        let apply = |id: &str| json!({"org_id": branch, "name": "王秀兰", "ethnicity": "汉族", "id_number": id, "education": "大学专科",
            "work_unit": "", "applied_on": app.ctx.clock.today(), "secret": PASSWORD});
        let (_, v) = app.api(&sec, "POST", "/api/v1/recruits", Some(apply(&number))).await;
        assert_eq!(v["code"], "member.registered_elsewhere", "{v}");
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'member.registered_elsewhere'").await, 2);
        // guessing on: held off within the hour
        let mut last = StatusCode::OK;
        for _ in 0..25 {
            last = app.api(&sec, "POST", "/api/v1/recruits", Some(apply(&number))).await.0;
        }
        assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    })
    .await;
}

/// What the notice's sender may send and name: a reminder to at most the organisations a
/// notice may choose; a refused form names only organisations of the subtree; an attachment
/// downloads with its content's extension whatever it was called.
#[tokio::test]
async fn notice_inputs_are_bounded() {
    each_backend(|app| async move {
        let p = province(&app).await;
        let county = app
            .account("county0", p.counties[0], "org_staff", None)
            .await;
        let c = ok(app
            .api(
                &county,
                "POST",
                "/api/v1/circulars",
                Some(notice(p.counties[0], "children", &[], true)),
            )
            .await);
        let id = c["id"].as_i64().expect("id");
        let many: Vec<i64> = (1..=5000).collect();
        refused(
            app.api(
                &county,
                "POST",
                &format!("/api/v1/circulars/{id}/remind"),
                Some(json!({"org_ids": many})),
            )
            .await,
            "validation_failed",
        );
        ok(app
            .api(
                &county,
                "POST",
                &format!("/api/v1/circulars/{id}/remind"),
                Some(json!({"org_ids": [p.branches[0], p.branches[0]]})),
            )
            .await);
        // a refused form (no sender) with organisations of another city chosen
        let (s, csrf) = app.browser("member_x", p.branches[0], "member").await;
        let other_city = p.cities[1].to_string();
        let (ct, body) = multipart(
            &[
                ("_csrf", &csrf),
                ("org_id", "0"),
                ("title", "x"),
                ("body", "x"),
                ("audience", "orgs"),
                ("org_ids", &other_city),
            ],
            b"",
        );
        let req = axum::http::Request::builder()
            .method("POST")
            .uri("/circulars")
            .header(axum::http::header::COOKIE, format!("dj_session={s}"))
            .header(axum::http::header::CONTENT_TYPE, ct)
            .body(axum::body::Body::from(body))
            .expect("request");
        let (_, _, b) = app.send(req).await;
        let html = String::from_utf8_lossy(&b);
        assert!(!html.contains("中共第1市委"), "{html}");
        // an attachment named .html downloads as what it is
        let (staff, csrf) = app.browser("city_staff", p.cities[0], "org_staff").await;
        let pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";
        let org = p.cities[0].to_string();
        let (ct, mut body) = multipart(
            &[
                ("_csrf", &csrf),
                ("org_id", &org),
                ("title", "附件测试"),
                ("body", "正文"),
                ("audience", "children"),
            ],
            pdf,
        );
        let text = String::from_utf8_lossy(&body).replace("申请书.pdf", "x.html");
        body = text.into_bytes();
        let req = axum::http::Request::builder()
            .method("POST")
            .uri("/circulars")
            .header(axum::http::header::COOKIE, format!("dj_session={staff}"))
            .header(axum::http::header::CONTENT_TYPE, ct)
            .body(axum::body::Body::from(body))
            .expect("request");
        let (st, _, _) = app.send(req).await;
        assert_eq!(st, StatusCode::SEE_OTHER);
        let file = app.count("SELECT MAX(id) AS n FROM circular_files").await;
        let (st, h, _) = app
            .page(&staff, "GET", &format!("/circulars/files/{file}"), None)
            .await;
        assert_eq!(st, StatusCode::OK);
        let d = h
            .get("content-disposition")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        assert!(d.contains(".pdf") && !d.contains(".html"), "{d}");
    })
    .await;
}
