//! 党纪处分: decisions recorded by organisation staff with the deciding body and document
//! number, audited, shown to the roles that may see them; 留党察看 takes the vote for its
//! period; 开除党籍 takes the member off the roll (lists, counts, statistics) and a revoked one
//! puts them back.

use crate::support::*;
use axum::http::StatusCode;
use chrono::Duration;
use serde_json::json;

fn decision(kind: &str, months: Option<i64>, on: chrono::NaiveDate) -> serde_json::Value {
    json!({"kind": kind, "months": months, "decided_on": on, "deciding_body": "中共测试县纪律检查委员会",
        "document_no": "测纪发〔2026〕7号", "reason": "违反廉洁纪律"})
}

#[tokio::test]
async fn decisions_are_recorded_by_staff_and_take_what_they_take() {
    each_backend(|app| async move {
        let city = app.org(None, "中共测试市委", "committee", "city").await;
        let county = app
            .org(Some(city), "中共测试县委", "committee", "county")
            .await;
        let branch = app
            .org(Some(county), "测试村党支部", "branch", "village")
            .await;
        let mut members = Vec::new();
        for i in 0..4u16 {
            members.push(app.member(branch, &format!("党员{i}"), 300 + i).await);
        }
        let staff = app.account("zuzhibu", city, "org_staff", None).await;
        let secretary = app.account("shuji", branch, "branch_secretary", None).await;
        let member = app
            .account("dangyuan", branch, "member", Some(members[3]))
            .await;
        let today = app.ctx.clock.today();
        let url = |m: i64| format!("/api/v1/members/{m}/discipline");

        // who may: staff record, the secretary sees, a member neither
        refused(
            app.api(
                &secretary,
                "POST",
                &url(members[0]),
                Some(decision("warning", None, today)),
            )
            .await,
            "forbidden",
        );
        refused(
            app.api(&member, "GET", &url(members[0]), None).await,
            "forbidden",
        );
        // what is checked: the period of 留党察看 only, one year or two, a decision not in the future
        for (body, field) in [
            (decision("probation", None, today), "months"),
            (decision("probation", Some(18), today), "months"),
            (decision("warning", Some(12), today), "months"),
            (
                decision("warning", None, today + Duration::days(1)),
                "decided_on",
            ),
            (decision("censure", None, today), "kind"),
        ] {
            let r = app
                .api(&staff, "POST", &url(members[0]), Some(body.clone()))
                .await;
            assert_eq!(r.0, StatusCode::UNPROCESSABLE_ENTITY, "{body} {r:?}");
            assert_eq!(r.1["fields"][0]["field"], field, "{body} {r:?}");
        }
        let w = ok(app
            .api(
                &staff,
                "POST",
                &url(members[0]),
                Some(decision("warning", None, today)),
            )
            .await);
        assert_eq!(w["kind_label"], "警告");
        let p = ok(app
            .api(
                &staff,
                "POST",
                &url(members[1]),
                Some(decision("probation", Some(12), today - Duration::days(10))),
            )
            .await);
        assert_eq!(p["running"], true);
        assert_eq!(
            p["ends_on"],
            json!(today - Duration::days(10) + chrono::Months::new(12))
        );
        let seen = ok(app.api(&secretary, "GET", &url(members[1]), None).await);
        assert_eq!(seen.as_array().map(|a| a.len()), Some(1));
        assert_eq!(
            app.count("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'member.discipline'")
                .await,
            2
        );
        // the member's page shows it to the secretary, with what it takes away
        let (s, _) = app.browser("shuji2", branch, "branch_secretary").await;
        let (_, _, html) = app
            .page(&s, "GET", &format!("/members/{}", members[1]), None)
            .await;
        assert!(
            html.contains("留党察看")
                && html.contains("测纪发〔2026〕7号")
                && html.contains("无表决权"),
            "{html}"
        );
        assert!(
            !html.contains(">登记党纪处分</summary>"),
            "the secretary records nothing"
        );
        // the 留党察看 member is no introducer (recruitment's own test covers the vote)
        let options = dangjian::recruit::store::eligible_people(&app.ctx, branch)
            .await
            .expect("options");
        assert!(
            options.iter().all(|(id, _)| *id != members[1]) && options.len() == 3,
            "{options:?}"
        );
        // after its year, the rights come back
        app.ctx.clock.advance_days(356);
        let options = dangjian::recruit::store::eligible_people(&app.ctx, branch)
            .await
            .expect("options");
        assert_eq!(options.len(), 4);
        let today = app.ctx.clock.today();

        // 开除党籍: off the roll, out of every count, no further business
        let before = ok(app
            .api(
                &staff,
                "GET",
                &format!("/api/v1/members?org_id={branch}"),
                None,
            )
            .await);
        assert_eq!(before["total"], 4);
        let e = ok(app
            .api(
                &staff,
                "POST",
                &url(members[2]),
                Some(decision("expulsion", None, today)),
            )
            .await);
        let m = ok(app
            .api(
                &staff,
                "GET",
                &format!("/api/v1/members/{}", members[2]),
                None,
            )
            .await);
        assert_eq!(m["status"], "left");
        let after = ok(app
            .api(
                &staff,
                "GET",
                &format!("/api/v1/members?org_id={branch}"),
                None,
            )
            .await);
        assert_eq!(after["total"], 3);
        assert!(after["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|x| x["id"] != members[2]));
        let left = ok(app
            .api(
                &staff,
                "GET",
                &format!("/api/v1/members?org_id={branch}&status=left"),
                None,
            )
            .await);
        assert_eq!(left["total"], 1);
        let stats = dangjian::org::store::subtree_stats(
            &app.ctx.db,
            &dangjian::org::store::get(&app.ctx.db, branch)
                .await
                .expect("org")
                .path,
        )
        .await
        .expect("stats");
        assert_eq!(stats.member_total, 3);
        assert_eq!(
            dangjian::org::store::member_counts(&app.ctx.db, branch)
                .await
                .expect("counts"),
            (3, 3)
        );
        let mut edit = member_input(branch, "党员2", 302);
        edit.id_number = None;
        edit.phone = None;
        let edit = serde_json::to_value(&edit).expect("json");
        refused(
            app.api(
                &staff,
                "PUT",
                &format!("/api/v1/members/{}", members[2]),
                Some(edit.clone()),
            )
            .await,
            "member.left",
        );
        refused(
            app.api(
                &staff,
                "POST",
                &url(members[2]),
                Some(decision("warning", None, today)),
            )
            .await,
            "member.left",
        );
        let other = app
            .org(Some(county), "测试社区党支部", "branch", "community")
            .await;
        refused(
            app.api(
                &staff,
                "POST",
                "/api/v1/transfers",
                Some(json!({"member_id": members[2], "to_org_id": other, "reason": "工作调动"})),
            )
            .await,
            "member.left",
        );
        // nobody becomes 已出党 by an edit
        let mut to_left = edit.clone();
        to_left["status"] = json!("left");
        let r = app
            .api(
                &staff,
                "PUT",
                &format!("/api/v1/members/{}", members[0]),
                Some(to_left),
            )
            .await;
        assert_eq!(r.1["fields"][0]["field"], "status", "{r:?}");

        // revoked on appeal: back on the roll with the status they had
        let revoke = format!("{}/{}/revoke", url(members[2]), e["id"]);
        let r = app
            .api(
                &staff,
                "POST",
                &revoke,
                Some(json!({"revoked_on": today, "reason": ""})),
            )
            .await;
        assert_eq!(r.1["fields"][0]["field"], "reason", "{r:?}");
        refused(
            app.api(
                &secretary,
                "POST",
                &revoke,
                Some(json!({"revoked_on": today, "reason": "测纪复〔2026〕1号撤销原处分"})),
            )
            .await,
            "forbidden",
        );
        let back = ok(app
            .api(
                &staff,
                "POST",
                &revoke,
                Some(json!({"revoked_on": today, "reason": "测纪复〔2026〕1号撤销原处分"})),
            )
            .await);
        assert_eq!(back["revoked_on"], json!(today));
        refused(
            app.api(
                &staff,
                "POST",
                &revoke,
                Some(json!({"revoked_on": today, "reason": "再次撤销"})),
            )
            .await,
            "discipline.already_revoked",
        );
        let m = ok(app
            .api(
                &staff,
                "GET",
                &format!("/api/v1/members/{}", members[2]),
                None,
            )
            .await);
        assert_eq!(m["status"], "full");
        assert_eq!(
            ok(app
                .api(
                    &staff,
                    "GET",
                    &format!("/api/v1/members?org_id={branch}"),
                    None
                )
                .await)["total"],
            4
        );
        // a decision outside the caller's subtree is as absent as the member
        let other_city = app.org(None, "中共另一市委", "committee", "city").await;
        let stranger = app.account("waidi", other_city, "org_staff", None).await;
        refused(
            app.api(&stranger, "GET", &url(members[1]), None).await,
            "not_found",
        );
        assert!(matches!(
            app.verify().await,
            dangjian::audit::VerifyOutcome::Ok { .. }
        ));
    })
    .await;
}

#[tokio::test]
async fn a_staff_member_records_a_decision_on_the_page() {
    each_backend(|app| async move {
        let city = app.org(None, "中共测试市委", "committee", "city").await;
        let branch = app.org(Some(city), "测试村党支部", "branch", "village").await;
        let m = app.member(branch, "党员甲", 401).await;
        let (s, csrf) = app.browser("zuzhibu", city, "org_staff").await;
        let today = app.ctx.clock.today();
        let (_, _, html) = app.page(&s, "GET", &format!("/members/{m}"), None).await;
        assert!(html.contains("登记党纪处分") && html.contains("无党纪处分记录"), "{html}");
        // a refused form comes back with its message and what was typed
        let form = format!("_csrf={csrf}&kind=probation&months=&decided_on={today}&deciding_body={}&document_no={}&reason={}",
            urlencode("中共测试市纪律检查委员会"), urlencode("测纪发〔2026〕9号"), urlencode("违反组织纪律"));
        let (st, _, html) = app.page(&s, "POST", &format!("/members/{m}/discipline"), Some(&form)).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("留党察看期限为一年或两年") && html.contains("测纪发〔2026〕9号"), "{html}");
        let form = form.replace("months=&", "months=24&");
        let (st, h, _) = app.page(&s, "POST", &format!("/members/{m}/discipline"), Some(&form)).await;
        assert_eq!(st, StatusCode::SEE_OTHER);
        assert_eq!(h.get("location").and_then(|v| v.to_str().ok()), Some(format!("/members/{m}#discipline").as_str()));
        let (_, _, html) = app.page(&s, "GET", &format!("/members/{m}"), None).await;
        assert!(html.contains("察看期内"), "{html}");
        // the dashboard counts it
        let (_, _, home) = app.page(&s, "GET", "/", None).await;
        assert!(home.contains("党纪处分（留党察看期内及本年其他处分）"), "{home}");
    })
    .await;
}
