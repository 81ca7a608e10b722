use crate::support::*;
use axum::http::StatusCode;
use serde_json::json;

#[tokio::test]
async fn organisation_lifecycle_with_refusals() {
    each_backend(|app| async move {
        let root = app.org(None, "中共测试市委", "committee", "city").await;
        let token = app.account("staff", root, "org_staff", None).await;
        let (s, county) = app.api(&token, "POST", "/api/v1/orgs", Some(json!({"parent_id": root, "name": "中共甲县委", "kind": "committee", "level": "county"}))).await;
        assert_eq!(s, StatusCode::OK, "{county}");
        let county_id = county["id"].as_i64().expect("id");
        // A branch directly under the root is fine; a group under a committee is refused.
        let (s, e) = app.api(&token, "POST", "/api/v1/orgs", Some(json!({"parent_id": county_id, "name": "小组", "kind": "group", "level": "village"}))).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e["code"], "org.bad_parent");
        let (s, e) = app.api(&token, "POST", "/api/v1/orgs", Some(json!({"parent_id": county_id, "name": "", "kind": "branch", "level": "village"}))).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e["fields"][0]["field"], "name");
        let (_, branch) = app.api(&token, "POST", "/api/v1/orgs", Some(json!({"parent_id": county_id, "name": "东村党支部", "kind": "branch", "level": "village"}))).await;
        let branch_id = branch["id"].as_i64().expect("id");
        // Rename with optimistic lock.
        let (s, renamed) = app.api(&token, "PATCH", &format!("/api/v1/orgs/{branch_id}"), Some(json!({"name": "东村第一党支部", "version": 1}))).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(renamed["name"], "东村第一党支部");
        let (s, _) = app.api(&token, "PATCH", &format!("/api/v1/orgs/{branch_id}"), Some(json!({"name": "x", "version": 1}))).await;
        assert_eq!(s, StatusCode::CONFLICT);
        // A branch with one member: warnings, dissolve refused with the reason.
        app.member(branch_id, "张三", 1).await;
        let (_, b) = app.api(&token, "GET", &format!("/api/v1/orgs/{branch_id}"), None).await;
        let codes: Vec<&str> = b["warnings"].as_array().expect("w").iter().filter_map(|w| w["code"].as_str()).collect();
        assert!(codes.contains(&"branch.too_few_full_members"), "{codes:?}");
        let (s, e) = app.api(&token, "DELETE", &format!("/api/v1/orgs/{branch_id}"), None).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e["code"], "org.has_members");
        assert!(e["message"].as_str().expect("m").contains("1名党员"));
        let (s, e) = app.api(&token, "DELETE", &format!("/api/v1/orgs/{county_id}"), None).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e["code"], "org.has_children");
        // Move the county's branch under a new county: the subtree's paths follow.
        let (_, county2) = app.api(&token, "POST", "/api/v1/orgs", Some(json!({"parent_id": root, "name": "中共乙县委", "kind": "committee", "level": "county"}))).await;
        let county2_id = county2["id"].as_i64().expect("id");
        let (s, moved) = app.api(&token, "POST", &format!("/api/v1/orgs/{branch_id}/move"), Some(json!({"parent_id": county2_id}))).await;
        assert_eq!(s, StatusCode::OK, "{moved}");
        assert_eq!(moved["path"], format!("/{root}/{county2_id}/{branch_id}/"));
        let (s, e) = app.api(&token, "POST", &format!("/api/v1/orgs/{county2_id}/move"), Some(json!({"parent_id": branch_id}))).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        // The now empty county dissolves.
        let (s, _) = app.api(&token, "DELETE", &format!("/api/v1/orgs/{county_id}"), None).await;
        assert_eq!(s, StatusCode::NO_CONTENT);
        let (s, _) = app.api(&token, "GET", &format!("/api/v1/orgs/{county_id}"), None).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        // History names who changed what.
        let (_, h) = app.api(&token, "GET", &format!("/api/v1/orgs/{branch_id}/history"), None).await;
        let actions: Vec<&str> = h.as_array().expect("h").iter().filter_map(|e| e["action"].as_str()).collect();
        assert_eq!(actions, vec!["org.create", "org.rename", "org.move"]);
        // the page's history names the organisations moved between, not their ids
        let (sess, _) = app.browser("staff2", root, "org_staff").await;
        let (_, _, html) = app.page(&sess, "GET", &format!("/orgs?id={branch_id}"), None).await;
        assert!(html.contains("→ 中共乙县委"), "{html}");
        assert!(!html.contains(&format!("→ {county2_id}<")), "{html}");
        // the tree stays on it: its county open, the branch marked as the current node
        assert!(html.contains(r#"<div class="sub" data-loaded="1">"#), "{html}");
        assert!(html.contains(&format!(r#"href="/orgs?id={branch_id}" aria-current="true" class="current">东村第一党支部"#)), "{html}");
        assert!(html.contains(r#"id="scope-org" name="id""#), "the tree's search");
        assert!(matches!(app.verify().await, dangjian::audit::VerifyOutcome::Ok { .. }));
    })
    .await;
}

#[tokio::test]
async fn member_create_edit_search_and_history() {
    each_backend(|app| async move {
        let root = app.org(None, "中共测试市委", "committee", "city").await;
        let branch = app.org(Some(root), "西村党支部", "branch", "village").await;
        let token = app.account("staff", root, "org_staff", None).await;
        let mut input = serde_json::to_value(member_input(branch, "张三", 7)).expect("json");
        let (s, m) = app
            .api(&token, "POST", "/api/v1/members", Some(input.clone()))
            .await;
        assert_eq!(s, StatusCode::OK, "{m}");
        let id = m["id"].as_i64().expect("id");
        assert!(
            m["id_number"].as_str().expect("id").contains("**********"),
            "masked"
        );
        assert!(m["phone"].as_str().expect("phone").contains("****"));
        // Duplicate ID refused with the field named.
        let (s, e) = app
            .api(&token, "POST", "/api/v1/members", Some(input.clone()))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e["fields"][0]["field"], "id_number");
        // Bad checksum refused.
        input["id_number"] = json!("370811198001010011");
        let (s, e) = app
            .api(&token, "POST", "/api/v1/members", Some(input.clone()))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(e["fields"]
            .as_array()
            .expect("f")
            .iter()
            .any(|f| f["field"] == "id_number"));
        // Members go on branches, not committees.
        let mut on_root = serde_json::to_value(member_input(root, "李四", 8)).expect("json");
        on_root["org_id"] = json!(root);
        let (s, e) = app
            .api(&token, "POST", "/api/v1/members", Some(on_root))
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        // Search by initials, full pinyin, name, exact ID number.
        app.member(branch, "王五", 9).await;
        for q in ["zs", "zhangsan", "zhang", "张三", "张"] {
            let (_, page) = app
                .api(
                    &token,
                    "GET",
                    &format!("/api/v1/members?q={}", urlencode(q)),
                    None,
                )
                .await;
            let names: Vec<&str> = page["items"]
                .as_array()
                .expect("items")
                .iter()
                .filter_map(|m| m["name"].as_str())
                .collect();
            assert_eq!(names, vec!["张三"], "q={q}");
        }
        let idn = member_input(branch, "张三", 7).id_number.expect("id");
        let (_, page) = app
            .api(&token, "GET", &format!("/api/v1/members?q={idn}"), None)
            .await;
        assert_eq!(page["total"], 1);
        let (_, page) = app
            .api(&token, "GET", "/api/v1/members?status=probationary", None)
            .await;
        assert_eq!(page["total"], 0);
        let (_, page) = app
            .api(
                &token,
                "GET",
                "/api/v1/members?join_year=2010&sort=name&dir=desc&per_page=1&page=2",
                None,
            )
            .await;
        assert_eq!(page["total"], 2);
        assert_eq!(
            page["items"][0]["name"], "王五",
            "desc by pinyin: zhangsan, wangwu"
        );
        // Edit without re-entering the ID; the branch is not changed by editing.
        let mut edit = serde_json::to_value(member_input(branch, "张三丰", 7)).expect("json");
        edit["id_number"] = json!(null);
        edit["phone"] = json!(null);
        edit["education"] = json!("研究生");
        edit["version"] = json!(1);
        let (s, m2) = app
            .api(
                &token,
                "PUT",
                &format!("/api/v1/members/{id}"),
                Some(edit.clone()),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{m2}");
        assert_eq!(m2["education"], "研究生");
        assert_eq!(m2["id_number"], m["id_number"]);
        let (s, _) = app
            .api(
                &token,
                "PUT",
                &format!("/api/v1/members/{id}"),
                Some(edit.clone()),
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT, "stale version");
        let (_, h) = app
            .api(
                &token,
                "GET",
                &format!("/api/v1/members/{id}/history"),
                None,
            )
            .await;
        let last = &h.as_array().expect("h")[1];
        assert_eq!(last["action"], "member.update");
        assert!(last["before_json"]
            .as_str()
            .expect("b")
            .contains("大学本科"));
        assert!(last["after_json"].as_str().expect("a").contains("研究生"));
        // Unmask is allowed for org staff and audited.
        let (s, u) = app
            .api(
                &token,
                "POST",
                &format!("/api/v1/members/{id}/unmask"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(u["id_number"], idn);
        assert_eq!(
            app.count("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'member.unmask'")
                .await,
            1
        );
    })
    .await;
}

#[tokio::test]
async fn transfer_moves_a_member_exactly_once() {
    each_backend(|app| async move {
        let root = app.org(None, "中共测试市委", "committee", "city").await;
        let a = app.org(Some(root), "甲村党支部", "branch", "village").await;
        let b = app.org(Some(root), "乙村党支部", "branch", "village").await;
        let m = app.member(a, "赵六", 3).await;
        let token = app.account("staff", root, "org_staff", None).await;
        let (s, t) = app
            .api(
                &token,
                "POST",
                "/api/v1/transfers",
                Some(json!({"member_id": m, "to_org_id": b, "reason": "工作调动"})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{t}");
        let tid = t["id"].as_i64().expect("id");
        // Still in branch a until received; a second open transfer is refused.
        let (_, mm) = app
            .api(&token, "GET", &format!("/api/v1/members/{m}"), None)
            .await;
        assert_eq!(mm["org_id"], a);
        let (s, e) = app
            .api(
                &token,
                "POST",
                "/api/v1/transfers",
                Some(json!({"member_id": m, "to_org_id": b, "reason": "x"})),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e["code"], "transfer.already_open");
        let (s, _) = app
            .api(
                &token,
                "POST",
                &format!("/api/v1/transfers/{tid}/return"),
                Some(json!({"note": ""})),
            )
            .await;
        assert_eq!(
            s,
            StatusCode::UNPROCESSABLE_ENTITY,
            "a return needs a reason"
        );
        let (s, done) = app
            .api(
                &token,
                "POST",
                &format!("/api/v1/transfers/{tid}/receive"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(done["status"], "received");
        let (s, _) = app
            .api(
                &token,
                "POST",
                &format!("/api/v1/transfers/{tid}/receive"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::CONFLICT);
        let (_, mm) = app
            .api(&token, "GET", &format!("/api/v1/members/{m}"), None)
            .await;
        assert_eq!(mm["org_id"], b);
        assert_eq!(
            app.count(&format!("SELECT COUNT(*) AS n FROM members WHERE id = {m}"))
                .await,
            1
        );
        let (_, list) = app.api(&token, "GET", "/api/v1/transfers", None).await;
        assert_eq!(list.as_array().expect("l").len(), 1);
    })
    .await;
}

#[tokio::test]
async fn rule_values_change_per_locality() {
    each_backend(|app| async move {
        let root = app.org(None, "中共测试市委", "committee", "city").await;
        let county = app
            .org(Some(root), "中共甲县委", "committee", "county")
            .await;
        let branch = app
            .org(Some(county), "甲村党支部", "branch", "village")
            .await;
        for i in 0..4 {
            app.member(branch, &format!("党员{i}"), 20 + i).await;
        }
        let token = app.account("staff", root, "org_staff", None).await;
        let codes = |v: &serde_json::Value| -> Vec<String> {
            v["warnings"]
                .as_array()
                .expect("w")
                .iter()
                .filter_map(|w| w["code"].as_str().map(str::to_string))
                .collect()
        };
        let (_, b) = app
            .api(&token, "GET", &format!("/api/v1/orgs/{branch}"), None)
            .await;
        assert!(!codes(&b).contains(&"branch.too_many_members".to_string()));
        // The county lowers the member maximum to 3 for its subtree.
        let (s, v) = app
            .api(
                &token,
                "POST",
                "/api/v1/rules/branch",
                Some(json!({"org_id": county, "values": {"max_members": 3}})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let (_, b) = app
            .api(&token, "GET", &format!("/api/v1/orgs/{branch}"), None)
            .await;
        assert!(codes(&b).contains(&"branch.too_many_members".to_string()));
        let (s, e) = app
            .api(
                &token,
                "POST",
                "/api/v1/rules/branch",
                Some(json!({"org_id": county, "values": {"committee_min": 9}})),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
        let (_, r) = app
            .api(
                &token,
                "GET",
                &format!("/api/v1/rules/branch?org_id={root}"),
                None,
            )
            .await;
        assert_eq!(r["max_members"], 50, "the city keeps the default");
    })
    .await;
}

#[tokio::test]
async fn html_pages_render_for_a_logged_in_secretary() {
    each_backend(|app| async move {
        let root = app.org(None, "中共测试市委", "committee", "city").await;
        let branch = app.org(Some(root), "甲村党支部", "branch", "village").await;
        let m = app.member(branch, "张三", 1).await;
        app.fresh_account("sec", branch, "branch_secretary").await;
        let session = app.login("sec", PASSWORD).await.expect("login");
        // The first login must change the password.
        let (s, h, _) = app.page(&session, "GET", "/members", None).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert_eq!(h.get("location").expect("loc"), "/password");
        let csrf = app.csrf(&session).await;
        let form = format!("_csrf={csrf}&old_password={}&new_password={}&confirm_password={}", urlencode(PASSWORD), urlencode("New@pass2026"), urlencode("New@pass2026"));
        let (s, h, body) = app.page(&session, "POST", "/password", Some(&form)).await;
        assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
        // the change renews the session: the one used before it is over
        assert_eq!(app.page(&session, "GET", "/members", None).await.0, StatusCode::SEE_OTHER);
        let session = session_of(&h).expect("renewed session");
        let csrf = app.csrf(&session).await;
        for path in ["/", "/orgs", &format!("/orgs?id={branch}"), "/members", "/members?q=zs", &format!("/members/{m}"), &format!("/members/{m}/edit"), "/transfers", "/transfers?status=sent&page=abc", "/orgs/warnings?code=x&page=-1", "/rules", "/me", "/members/new"] {
            let (s, _, body) = app.page(&session, "GET", path, None).await;
            assert_eq!(s, StatusCode::OK, "{path}: {body}");
            assert!(body.contains("党建平台"), "{path}");
        }
        // part of a number finds nothing and the page says why
        let (_, _, body) = app.page(&session, "GET", "/members?q=3708", None).await;
        assert!(body.contains("只能按完整号码"), "{body}");
        let (_, _, body) = app.page(&session, "GET", "/members?q=zs", None).await;
        assert!(!body.contains("只能按完整号码"));
        assert!(body.contains("张三"));
        // The secretary may not import, see accounts or the audit log.
        for path in ["/members/import", "/accounts", "/audit"] {
            let (s, _, _) = app.page(&session, "GET", path, None).await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{path}");
        }
        // Edit through the form, with the CSRF token.
        let form = format!("_csrf={csrf}&name=%E5%BC%A0%E4%B8%89&ethnicity=%E6%B1%89%E6%97%8F&education=%E7%A0%94%E7%A9%B6%E7%94%9F&work_unit=x&join_date=2010-07-01&full_date=2011-07-01&status=full&version=1");
        let (s, _, body) = app.page(&session, "POST", &format!("/members/{m}/edit"), Some(&form)).await;
        assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
        // A form error comes back as the form with the field named.
        let form = format!("_csrf={csrf}&name=&ethnicity=x&education=x&join_date=2010-07-01&status=full&version=2");
        let (s, _, body) = app.page(&session, "POST", &format!("/members/{m}/edit"), Some(&form)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(body.contains("请填写姓名") && body.contains("民族应填写"));
    })
    .await;
}

/// The stored per-organisation counts (migration 0010) answer a roll's total: they follow
/// every create, status change and transfer, and the default order is the tree's.
#[tokio::test]
async fn member_totals_follow_every_write() {
    each_backend(|app| async move {
        let root = app.org(None, "中共测试市委", "committee", "city").await;
        let county = app.org(Some(root), "中共甲县委", "committee", "county").await;
        let a = app.org(Some(county), "甲村党支部", "branch", "village").await;
        let b = app.org(Some(county), "乙村党支部", "branch", "village").await;
        let c = app.org(Some(root), "丙村党支部", "branch", "village").await;
        let token = app.account("staff", root, "org_staff", None).await;
        let mut seq = 0u16;
        let mut in_a = Vec::new();
        for (org, n) in [(b, 2), (a, 3), (c, 1)] {
            for _ in 0..n {
                seq += 1;
                let id = app.member(org, "测试", seq).await;
                if org == a {
                    in_a.push(id);
                }
            }
        }
        let total = |q: String| {
            let app = &app;
            let token = &token;
            async move {
                let (s, page) = app.api(token, "GET", &q, None).await;
                assert_eq!(s, StatusCode::OK, "{page}");
                page["total"].as_i64().expect("total")
            }
        };
        assert_eq!(total(format!("/api/v1/members?org_id={county}")).await, 5);
        assert_eq!(total("/api/v1/members".into()).await, 6);
        // The creation's audit snapshot (the row the insert returned) is the stored member.
        let (_, stored) = app
            .api(&token, "GET", &format!("/api/v1/members/{}", in_a[0]), None)
            .await;
        let (_, h) = app
            .api(&token, "GET", &format!("/api/v1/members/{}/history", in_a[0]), None)
            .await;
        let created: serde_json::Value =
            serde_json::from_str(h[0]["after_json"].as_str().expect("after")).expect("json");
        assert_eq!(h[0]["action"], "member.create");
        assert_eq!(created, stored);
        // Organisation order: each branch's members together, in the tree's (path) order.
        let (_, page) = app
            .api(&token, "GET", &format!("/api/v1/members?org_id={county}"), None)
            .await;
        let orgs: Vec<i64> = page["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|m| m["org_id"].as_i64())
            .collect();
        let (first, second) = if format!("{a}/") < format!("{b}/") { (a, b) } else { (b, a) };
        let expect: Vec<i64> = std::iter::repeat_n(first, if first == a { 3 } else { 2 })
            .chain(std::iter::repeat_n(second, if second == a { 3 } else { 2 }))
            .collect();
        assert_eq!(orgs, expect);
        // A status change moves one count; an edit that changes nothing else moves none.
        let m = in_a[0];
        let mut edit = serde_json::to_value(member_input(a, "测试", 2)).expect("json");
        edit["id_number"] = json!(null);
        edit["phone"] = json!(null);
        edit["status"] = json!("probationary");
        edit["full_date"] = json!(null);
        edit["join_date"] = json!(app.ctx.clock.today() - chrono::Duration::days(100));
        edit["version"] = json!(1);
        let (s, e) = app
            .api(&token, "PUT", &format!("/api/v1/members/{m}"), Some(edit))
            .await;
        assert_eq!(s, StatusCode::OK, "{e}");
        assert_eq!(
            total(format!("/api/v1/members?org_id={county}&status=probationary")).await,
            1
        );
        assert_eq!(
            total(format!("/api/v1/members?org_id={county}&status=full")).await,
            4
        );
        // A transfer out of the county, received.
        let (s, t) = app
            .api(
                &token,
                "POST",
                "/api/v1/transfers",
                Some(json!({"member_id": in_a[1], "to_org_id": c, "reason": "工作调动"})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{t}");
        let tid = t["id"].as_i64().expect("id");
        assert_eq!(total(format!("/api/v1/members?org_id={county}")).await, 5, "until received");
        let (s, _) = app
            .api(&token, "POST", &format!("/api/v1/transfers/{tid}/receive"), None)
            .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(total(format!("/api/v1/members?org_id={county}")).await, 4);
        assert_eq!(total(format!("/api/v1/members?org_id={c}")).await, 2);
        assert_eq!(total("/api/v1/members".into()).await, 6);
        // A name search in a county or the city is counted from the name indexes; with a
        // status as well, from the members: both agree with the rows.
        assert_eq!(total(format!("/api/v1/members?org_id={county}&q=ceshi")).await, 4);
        assert_eq!(total("/api/v1/members?q=CeShi".into()).await, 6);
        assert_eq!(total(format!("/api/v1/members?org_id={county}&q=ceshi&status=full")).await, 3);
        assert_eq!(total(format!("/api/v1/members?org_id={county}&q=wangwu")).await, 0);
        // A filtered list is counted, and agrees.
        assert_eq!(
            total(format!("/api/v1/members?org_id={county}&education=%E5%A4%A7%E5%AD%A6%E6%9C%AC%E7%A7%91")).await,
            4
        );
        // A moved organisation takes its counts with it (their rows carry its path).
        let before = total(format!("/api/v1/members?org_id={county}")).await;
        let (s, moved) = app.api(&token, "POST", &format!("/api/v1/orgs/{b}/move"), Some(serde_json::json!({"parent_id": root}))).await;
        assert_eq!(s, StatusCode::OK, "{moved}");
        assert_eq!(total(format!("/api/v1/members?org_id={county}")).await, before - 2);
        assert_eq!(total(format!("/api/v1/members?org_id={b}")).await, 2);
        assert_eq!(total("/api/v1/members".into()).await, 6);
        assert_eq!(
            app.count("SELECT COUNT(*) AS n FROM org_member_counts c JOIN orgs o ON o.id = c.org_id WHERE c.path <> o.path").await,
            0
        );
        // Every stored count equals the count of the members themselves.
        assert_eq!(
            app.count(
                "SELECT COUNT(*) AS n FROM (SELECT org_id, status, COUNT(*) AS k FROM members GROUP BY org_id, status) x \
                 WHERE NOT EXISTS (SELECT 1 FROM org_member_counts c WHERE c.org_id = x.org_id AND c.status = x.status AND c.n = x.k)"
            )
            .await,
            0
        );
        assert_eq!(
            app.count("SELECT CAST(SUM(n) AS BIGINT) AS n FROM org_member_counts").await,
            6
        );
    })
    .await;
}

/// Pinyin finds applicants, pool members, ledger owners and love-bank card holders as it finds
/// members: "xlx" (initials) or the name's whole pinyin, outside the roster too.
#[tokio::test]
async fn pinyin_finds_names_in_every_list() {
    each_backend(|app| async move {
        let today = app.ctx.clock.today();
        let opts = dangjian::demo::DemoOptions { members: 2000, seed: 11, as_of: today };
        dangjian::demo::generate(&app.ctx, &opts, |_| {}).await.expect("demo");
        let root = app.count("SELECT MIN(id) AS n FROM orgs WHERE parent_id IS NULL").await;
        let token = app.account("pinyin_staff", root, "org_staff", None).await;
        fn ids(v: &serde_json::Value, out: &mut Vec<i64>) {
            match v {
                serde_json::Value::Object(m) => {
                    if let Some(id) = m.get("id").and_then(serde_json::Value::as_i64) {
                        out.push(id);
                    }
                    m.values().for_each(|x| ids(x, out));
                }
                serde_json::Value::Array(a) => a.iter().for_each(|x| ids(x, out)),
                _ => {}
            }
        }
        for (table, name_col, url) in [
            ("recruits", "name", "/api/v1/recruits?status=all&q="),
            ("talents", "name", "/api/v1/talents?q="),
            ("rect_items", "owner", "/api/v1/rectify/items?status=all&q="),
            ("love_cards", "holder", "/api/v1/lovebank/cards?q="),
        ] {
            let (id, name): (i64, String) = dangjian::on_db!(&app.ctx.db, p => {
                sqlx::query_as(&format!("SELECT id, {name_col} FROM {table} ORDER BY id LIMIT 1")).fetch_one(p).await.expect(table)
            });
            let (full, initials) = dangjian::member::pinyin::keys(&name);
            for q in [initials.as_str(), full.as_str()] {
                let v = ok(app.api(&token, "GET", &format!("{url}{q}"), None).await);
                let mut found = Vec::new();
                ids(&v, &mut found);
                assert!(found.contains(&id), "{table}: {name} by {q}: {v}");
            }
            // a % or _ is a character, not a wildcard
            for q in ["%25", "_"] {
                let v = ok(app.api(&token, "GET", &format!("{url}{q}"), None).await);
                let mut found = Vec::new();
                ids(&v, &mut found);
                assert!(!found.contains(&id), "{table}: {q} matched {name}");
            }
            let v = ok(app.api(&token, "GET", &format!("{url}qqqqqqqq"), None).await);
            let mut found = Vec::new();
            ids(&v, &mut found);
            assert!(!found.contains(&id), "{table}: nothing reads as qqqqqqqq");
        }
        // a filter form's empty boxes (a number's too) mean "all", never a malformed request
        let (sess, _) = app.browser("pinyin_web", root, "org_staff").await;
        for path in ["/recruits?org_id=&stage=&status=&q=&due=", "/rectify?min_age=&status=&q=", "/stars?year=&page=", "/talents?page=&q=", "/points?month=&page=&subject="] {
            let (st, _, html) = app.page(&sess, "GET", path, None).await;
            assert_eq!(st, StatusCode::OK, "{path}: {html}");
        }
    })
    .await;
}
