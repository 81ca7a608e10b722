//! 干部名册 and 工作记实: a county registers its cadres; a cadre files the week (on time, late,
//! back-filled, refiled until it locks, then only addenda); the department returns one, sees
//! the week and punctuality per unit; the scheduler makes each week's obligation once and
//! sweeps the unfiled ones to missed; nobody outside the managing subtree sees any of it.

use crate::support::*;
use chrono::Duration;
use dangjian::obligation::monday_of;
use serde_json::{json, Value};

fn cadre(managed_by: i64, name: &str, unit: &str, account: Option<&str>) -> Value {
    json!({"name": name, "managed_by": managed_by, "unit": unit, "position": "局长", "rank": "section_chief",
        "category": "dept_head", "account": account, "weekly_record": true})
}

fn week(day: chrono::NaiveDate, party: bool) -> Value {
    json!({"week": day, "done": [{"text": "走访联系村两委班子", "party": false}, {"text": "讲专题党课", "party": party}],
        "plan": [{"text": "督导项目进度", "party": false}]})
}

/// A week with one outcome ("done") for each of `n` items planned the week before.
fn week_after(day: chrono::NaiveDate, n: usize) -> Value {
    let mut w = week(day, true);
    w["followups"] = json!(vec![json!({"outcome": "done"}); n]);
    w
}

async fn obligation(app: &TestApp, cadre: i64, monday: chrono::NaiveDate) -> Option<String> {
    let m = monday;
    dangjian::on_db!(&app.ctx.db, p => {
        sqlx::query("SELECT status FROM obligations WHERE subject_type = 'cadre' AND subject_id = $1 AND period_start = $2")
            .bind(cadre).bind(m).fetch_optional(p).await.expect("obligation")
            .map(|r| { use dangjian::db::DbRow; r.string("status").expect("status") })
    })
}

#[tokio::test]
async fn a_cadre_files_weeks_and_the_county_sees_who_is_late() {
    each_backend(|app| async move {
        let p = province(&app).await;
        let county = app.account("county", p.counties[0], "org_staff", None).await;
        // the cadre files with an account of the county's subtree (a member's account)
        let me = app.account("chief", p.branches[0], "member", Some(p.members[0])).await;
        let other_county = app.account("county_b", p.counties[2], "org_staff", None).await;
        // every week owes a record in this county, holidays or not (the test runs on any date)
        ok(app
            .api(&county, "POST", "/api/v1/rules/work_log",
                Some(json!({"org_id": p.counties[0], "values": {"exempt_weeks_without_working_days": false}})))
            .await);

        // the register: managed by a committee of the caller's subtree, with an account of it
        let bad = app.api(&county, "POST", "/api/v1/cadres", Some(cadre(p.branches[0], "张建国", "县农业农村局", None))).await;
        assert_eq!(fields(&bad.1), ["managed_by"], "{bad:?}");
        let bad = app.api(&county, "POST", "/api/v1/cadres", Some(cadre(p.counties[0], "张建国", "县农业农村局", Some("county_b")))).await;
        assert_eq!(fields(&bad.1), ["account"], "{bad:?}");
        let bad = app.api(&county, "POST", "/api/v1/cadres", Some(cadre(p.counties[2], "张建国", "县农业农村局", None))).await;
        assert_eq!(fields(&bad.1), ["managed_by"], "another county's committee: {bad:?}");
        let mut blank = cadre(p.counties[0], " ", "", None);
        blank["rank"] = json!("grand");
        let bad = app.api(&county, "POST", "/api/v1/cadres", Some(blank)).await;
        assert_eq!(fields(&bad.1), ["name", "unit", "rank"], "{bad:?}");
        let c = ok(app.api(&county, "POST", "/api/v1/cadres", Some(cadre(p.counties[0], "张建国", "县农业农村局", Some("chief")))).await);
        let cid = c["id"].as_i64().expect("id");
        assert_eq!(c["rank_label"], "正科级");
        let bad = app.api(&county, "POST", "/api/v1/cadres", Some(cadre(p.counties[0], "李明", "县财政局", Some("chief")))).await;
        assert_eq!(fields(&bad.1), ["account"], "one account files as one cadre: {bad:?}");
        let li = ok(app.api(&county, "POST", "/api/v1/cadres", Some(cadre(p.counties[0], "李明", "县财政局", None))).await);
        let li_id = li["id"].as_i64().expect("id");
        refused(app.api(&other_county, "GET", &format!("/api/v1/cadres/{cid}"), None).await, "not_found");
        let list = ok(app.api(&county, "GET", "/api/v1/cadres?name=%E5%BC%A0", None).await);
        assert_eq!(list["total"], 1);

        // this week's obligation, made once however often the scheduler runs
        dangjian::obligation::generate_all(&app.ctx).await.expect("generate");
        dangjian::obligation::generate_all(&app.ctx).await.expect("generate again");
        let today = app.ctx.clock.today();
        let monday = monday_of(today);
        assert_eq!(obligation(&app, cid, monday).await.as_deref(), Some("due"));
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM obligations WHERE kind = 'work_log.weekly'").await, 2, "two cadres, this week only");
        // registered a month ago (a week before that is refused: nobody owed it)
        let month_ago = app.ctx.clock.now() - Duration::days(30);
        dangjian::on_db!(&app.ctx.db, x => {
            sqlx::query("UPDATE cadres SET created_at = $1").bind(month_ago).execute(x).await.expect("backdate");
        });
        let r = app.api(&me, "POST", "/api/v1/work-logs", Some(week(monday - Duration::days(70), true))).await;
        assert_eq!(fields(&r.1), ["week"], "before registration: {r:?}");
        for bad in ["9999-01-04", "1970-01-05"] {
            let r = app.api(&me, "POST", "/api/v1/work-logs", Some(json!({"week": bad, "done": [], "plan": []}))).await;
            assert_eq!(fields(&r.1), ["week"], "{bad}: {r:?}");
        }
        refused(app.api(&county, "GET", "/api/v1/work-logs/board?week=0001-01-01", None).await, "validation_failed");
        // the cadre's 工作台 holds the week
        let todos = ok(app.api(&me, "GET", "/api/v1/workbench", None).await);
        assert!(todos.to_string().contains("填报工作记实"), "{todos}");

        // refusals: no Party-building item, a week not yet begun, nothing half-written
        let r = app.api(&me, "POST", "/api/v1/work-logs", Some(week(today, false))).await;
        assert_eq!(fields(&r.1), ["done"], "{r:?}");
        let r = app.api(&me, "POST", "/api/v1/work-logs", Some(week(monday + Duration::days(7), true))).await;
        assert_eq!(fields(&r.1), ["week"], "{r:?}");
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM work_logs").await, 0);

        // filed in the week: on time, the obligation done
        let w = ok(app.api(&me, "POST", "/api/v1/work-logs", Some(week(today, true))).await);
        let wid = w["id"].as_i64().expect("id");
        assert_eq!((w["late"].clone(), w["week_start"].clone()), (json!(false), json!(monday.to_string())));
        assert_eq!(obligation(&app, cid, monday).await.as_deref(), Some("done"));
        // refiled before it locks: the first filing stays the week's
        let mut again = week(today, true);
        again["plan"] = json!([{"text": "召开支部委员会", "party": true}]);
        let w2 = ok(app.api(&me, "POST", "/api/v1/work-logs", Some(again)).await);
        assert_eq!((w2["id"].clone(), w2["filed_at"].clone()), (w["id"].clone(), w["filed_at"].clone()));
        assert_eq!(w2["plan"][0]["text"], "召开支部委员会");

        // last week back-filled now: kept as filed now, for the week it claims
        let prev = monday - Duration::days(7);
        let b = ok(app.api(&me, "POST", "/api/v1/work-logs", Some(week(prev, true))).await);
        let due_prev: chrono::DateTime<chrono::Utc> = serde_json::from_value(b["due_at"].clone()).expect("due");
        assert_eq!(b["late"], json!(app.ctx.clock.now() > due_prev));

        // the county reads it (recorded), returns it; the cadre refiles
        let read = ok(app.api(&county, "GET", &format!("/api/v1/work-logs/{wid}"), None).await);
        assert_eq!(read["cadre_name"], "张建国");
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'work_log.view'").await, 1);
        // reading it through the form (entering for the cadre) is recorded too
        ok(app.api(&county, "GET", &format!("/api/v1/work-logs/mine?cadre_id={cid}&week={today}"), None).await);
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'work_log.view'").await, 2);
        refused(app.api(&county, "POST", &format!("/api/v1/work-logs/{wid}/return"), Some(json!({"comment": " "}))).await, "validation_failed");
        let r = ok(app.api(&county, "POST", &format!("/api/v1/work-logs/{wid}/return"), Some(json!({"comment": "党建内容过于笼统，请具体写明"}))).await);
        assert_eq!(r["status"], "returned");
        let todos = ok(app.api(&me, "GET", "/api/v1/workbench", None).await);
        assert!(todos.to_string().contains("被退回"), "{todos}");
        // last week is filed now: this week says how its plan went, item by item
        let r = app.api(&me, "POST", "/api/v1/work-logs", Some(week(today, true))).await;
        assert_eq!(fields(&r.1), ["followups"], "{r:?}");
        let mut forged = week_after(today, 1);
        forged["followups"][0]["text"] = json!("编造的计划");
        let r = ok(app.api(&me, "POST", "/api/v1/work-logs", Some(forged)).await);
        assert_eq!(r["status"], "submitted");
        assert_eq!(r["followups"][0]["text"], "督导项目进度", "the plan's own text");
        // the department does not overwrite what the cadre filed (it returns it instead)
        let mut over = week_after(today, 1);
        over["cadre_id"] = json!(cid);
        refused(app.api(&county, "POST", "/api/v1/work-logs", Some(over)).await, "work_log.filed_by_cadre");
        // outsiders: another county, and the cadre on another's record
        refused(app.api(&other_county, "GET", &format!("/api/v1/work-logs/{wid}"), None).await, "not_found");
        refused(app.api(&other_county, "POST", &format!("/api/v1/work-logs/{wid}/return"), Some(json!({"comment": "x"}))).await, "not_found");
        let mut for_li = week(today, true);
        for_li["cadre_id"] = json!(li_id);
        refused(app.api(&me, "POST", "/api/v1/work-logs", Some(for_li.clone())).await, "not_found");
        // the county enters 李明's week for him (录入), attributed to the county's account
        let entered = ok(app.api(&county, "POST", "/api/v1/work-logs", Some(for_li)).await);
        assert_eq!((entered["entered_for"].clone(), entered["filer_name"].clone()), (json!(true), json!("county")));

        // the next week: owed, not filed, missed once its grace has passed
        app.ctx.clock.advance_days(7);
        dangjian::obligation::generate_all(&app.ctx).await.expect("generate");
        let next = monday + Duration::days(7);
        assert_eq!(obligation(&app, cid, next).await.as_deref(), Some("due"));
        // this week's record locked 7 days after it was filed: only an addendum now
        app.ctx.clock.advance_days(1);
        refused(app.api(&me, "POST", "/api/v1/work-logs", Some(week_after(monday, 1))).await, "work_log.locked");
        // a later rule change does not reopen it
        ok(app
            .api(&county, "POST", "/api/v1/rules/work_log",
                Some(json!({"org_id": p.counties[0], "values": {"exempt_weeks_without_working_days": false, "lock_days": 90}})))
            .await);
        refused(app.api(&me, "POST", "/api/v1/work-logs", Some(week_after(monday, 1))).await, "work_log.locked");
        refused(app.api(&county, "POST", &format!("/api/v1/work-logs/{wid}/return"), Some(json!({"comment": "补充"}))).await, "work_log.locked");
        let a = ok(app.api(&me, "POST", &format!("/api/v1/work-logs/{wid}/addenda"), Some(json!({"body": "补充：党课题目为《学习贯彻条例》"}))).await);
        assert_eq!(a["addenda"].as_array().map(Vec::len), Some(1));
        app.ctx.clock.advance_days(14);
        dangjian::obligation::sweep(&app.ctx).await.expect("sweep");
        assert_eq!(obligation(&app, cid, next).await.as_deref(), Some("missed"));

        // the board of that week and punctuality over the range
        let board = ok(app.api(&county, "GET", &format!("/api/v1/work-logs/board?week={next}"), None).await);
        assert_eq!((board["reporters"].clone(), board["filed"].clone()), (json!(2), json!(0)));
        let c = ok(app.api(&county, "GET", &format!("/api/v1/work-logs/compliance?from={monday}&to={next}"), None).await);
        assert_eq!(c["units"].as_array().map(Vec::len), Some(2));
        let tally = &c["total"];
        assert_eq!((tally["done"].clone(), tally["missed"].clone()), (json!(2), json!(2)), "{c}");
        assert_eq!(c["on_time_permille"], 500);
        let todos = ok(app.api(&county, "GET", "/api/v1/workbench", None).await);
        assert!(todos.to_string().contains("逾期未报"), "{todos}");
        // filed after it was missed: late, and the week counts as filed late
        let late = ok(app.api(&me, "POST", "/api/v1/work-logs", Some(week_after(next, 1))).await);
        assert_eq!(late["late"], true);
        assert_eq!(obligation(&app, cid, next).await.as_deref(), Some("late"));
        // a cadre who left files no more
        let mut left = cadre(p.counties[0], "李明", "县财政局", None);
        left["status"] = json!("left");
        ok(app.api(&county, "PUT", &format!("/api/v1/cadres/{li_id}"), Some(left)).await);
        let mut for_li = week(app.ctx.clock.today(), true);
        for_li["cadre_id"] = json!(li_id);
        refused(app.api(&county, "POST", "/api/v1/work-logs", Some(for_li)).await, "work_log.cadre_left");
        assert!(matches!(app.verify().await, dangjian::audit::VerifyOutcome::Ok { .. }));
    })
    .await;
}

#[tokio::test]
async fn only_the_managing_subtree_sees_cadres_and_records() {
    each_backend(|app| async move {
        let p = province(&app).await;
        let county = app
            .account("county", p.counties[0], "org_staff", None)
            .await;
        let sec = app
            .account("sec", p.branches[0], "branch_secretary", Some(p.members[0]))
            .await;
        let member = app
            .account("member", p.branches[0], "member", Some(p.members[1]))
            .await;
        let committee = app
            .account("committee", p.counties[0], "committee_staff", None)
            .await;
        let c = ok(app
            .api(
                &county,
                "POST",
                "/api/v1/cadres",
                Some(cadre(p.counties[0], "王芳", "县委组织部", None)),
            )
            .await);
        let cid = c["id"].as_i64().expect("id");
        // a secretary has no register; a member who is no cadre files nothing
        refused(
            app.api(&sec, "GET", "/api/v1/cadres", None).await,
            "forbidden",
        );
        refused(
            app.api(&sec, "GET", "/api/v1/work-logs/board", None).await,
            "forbidden",
        );
        refused(
            app.api(
                &member,
                "POST",
                "/api/v1/work-logs",
                Some(week(app.ctx.clock.today(), true)),
            )
            .await,
            "work_log.no_cadre",
        );
        // committee staff read the register but keep none of it
        ok(app
            .api(&committee, "GET", &format!("/api/v1/cadres/{cid}"), None)
            .await);
        refused(
            app.api(
                &committee,
                "PUT",
                &format!("/api/v1/cadres/{cid}"),
                Some(cadre(p.counties[0], "王芳", "县委组织部", None)),
            )
            .await,
            "forbidden",
        );
        let mut for_her = week(app.ctx.clock.today(), true);
        for_her["cadre_id"] = json!(cid);
        refused(
            app.api(&committee, "POST", "/api/v1/work-logs", Some(for_her))
                .await,
            "forbidden",
        );
        // a stale version is refused
        let mut stale = cadre(p.counties[0], "王芳", "县委组织部", None);
        stale["version"] = json!(0);
        refused(
            app.api(
                &county,
                "PUT",
                &format!("/api/v1/cadres/{cid}"),
                Some(stale),
            )
            .await,
            "conflict",
        );
        // the pages: the board and the register render for the county, the phone form for a
        // cadre — with more than a page of cadres
        for i in 0..51 {
            ok(app
                .api(
                    &county,
                    "POST",
                    "/api/v1/cadres",
                    Some(cadre(p.counties[0], &format!("干部{i}"), "县统计局", None)),
                )
                .await);
        }
        let (session, _) = app.browser("county_page", p.counties[0], "org_staff").await;
        for path in [
            "/cadres",
            "/cadres?page=2",
            "/work-logs/board?page=2&state=missing",
            &format!("/cadres/{cid}"),
            "/work-logs/board",
            "/work-logs/compliance",
            &format!("/work-logs?cadre_id={cid}"),
        ] {
            let (status, _, body) = app.page(&session, "GET", path, None).await;
            assert_eq!(status, axum::http::StatusCode::OK, "{path}: {body}");
        }
    })
    .await;
}

#[tokio::test]
async fn weekly_obligations_are_made_once_even_when_a_run_stops_half_way() {
    each_backend(|app| async move {
        let p = province(&app).await;
        let county = app.account("county", p.counties[0], "org_staff", None).await;
        ok(app
            .api(&county, "POST", "/api/v1/rules/work_log",
                Some(json!({"org_id": p.counties[0], "values": {"exempt_weeks_without_working_days": false}})))
            .await);
        for (i, name) in ["赵磊", "钱敏", "孙伟"].iter().enumerate() {
            ok(app.api(&county, "POST", "/api/v1/cadres", Some(cadre(p.counties[0], name, &format!("县第{i}局"), None))).await);
        }
        // registered three weeks ago
        let earlier = app.ctx.clock.now() - Duration::days(21);
        dangjian::on_db!(&app.ctx.db, x => {
            sqlx::query("UPDATE cadres SET created_at = $1").bind(earlier).execute(x).await.expect("backdate");
        });
        let today = app.ctx.clock.today();
        // a run that stopped after the oldest weeks, then a whole one, then another
        dangjian::work_log::store::generate(&app.ctx, today - Duration::days(14), 2).await.expect("partial");
        let partial = app.count("SELECT COUNT(*) AS n FROM obligations WHERE kind = 'work_log.weekly'").await;
        dangjian::work_log::store::generate(&app.ctx, today, 8).await.expect("whole");
        dangjian::work_log::store::generate(&app.ctx, today, 8).await.expect("again");
        // the weeks since registration (its own week included): four, for three cadres; the
        // current week's were made when they were registered
        assert_eq!(partial, 3 * 2 + 3);
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM obligations WHERE kind = 'work_log.weekly'").await, 3 * 4);
        // two processes ticking at once run the generation once
        dangjian::scheduler::register(&app.ctx).await.expect("register");
        let (a, b) = tokio::join!(
            dangjian::scheduler::tick(&app.ctx, "process-a"),
            dangjian::scheduler::tick(&app.ctx, "process-b")
        );
        let gen = |v: &[(&str, Result<String, String>)]| v.iter().filter(|r| r.0 == "obligations.generate").count();
        assert_eq!(gen(&a.expect("a")) + gen(&b.expect("b")), 1);
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM obligations WHERE kind = 'work_log.weekly'").await, 3 * 4);
        let jobs = dangjian::scheduler::list(&app.ctx).await.expect("jobs");
        let g = jobs.iter().find(|j| j.name == "obligations.generate").expect("job");
        assert_eq!((g.runs, g.last_ok), (1, Some(true)));
    })
    .await;
}

#[tokio::test]
async fn a_county_may_publish_its_weekly_dispatch_for_everyone() {
    each_backend(|app| async move {
        let p = province(&app).await;
        let county = app
            .account("county", p.counties[0], "org_staff", None)
            .await;
        let c = ok(app
            .api(
                &county,
                "POST",
                "/api/v1/cadres",
                Some(cadre(p.counties[0], "周强", "县水务局", None)),
            )
            .await);
        let mut w = week(app.ctx.clock.today(), true);
        w["cadre_id"] = c["id"].clone();
        let filed = ok(app.api(&county, "POST", "/api/v1/work-logs", Some(w)).await);
        let anon = |path: String| {
            let app = &app;
            async move {
                let req = axum::http::Request::builder()
                    .uri(path)
                    .body(axum::body::Body::empty())
                    .expect("req");
                let (s, _, body) = app.send(req).await;
                (s, String::from_utf8_lossy(&body).to_string())
            }
        };
        let id = p.counties[0];
        // not published unless the county's rules say so
        assert_eq!(
            anon(format!("/api/v1/dispatch/{id}")).await.0,
            axum::http::StatusCode::NOT_FOUND
        );
        ok(app
            .api(
                &county,
                "POST",
                "/api/v1/rules/work_log",
                Some(json!({"org_id": id, "values": {"public_dispatch": true}})),
            )
            .await);
        // the week filed is shown only once its deadline has passed
        let (s, body) = anon(format!(
            "/api/v1/dispatch/{id}?week={}",
            filed["week_start"].as_str().expect("week")
        ))
        .await;
        assert_eq!(s, axum::http::StatusCode::OK);
        let v: Value = serde_json::from_str(&body).expect("json");
        assert!(
            v["rows"].as_array().expect("rows").is_empty(),
            "this week is not past its deadline: {v}"
        );
        app.ctx.clock.advance_days(8);
        let (_, body) = anon(format!(
            "/api/v1/dispatch/{id}?week={}",
            filed["week_start"].as_str().expect("week")
        ))
        .await;
        let v: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(v["rows"][0]["name"], "周强", "{v}");
        assert_eq!(v["rows"][0]["done"][1]["party"], true);
        // the page: names, units and items, nothing that needs an account
        let (s, page) = anon(format!(
            "/dispatch/{id}?week={}",
            filed["week_start"].as_str().expect("week")
        ))
        .await;
        assert_eq!(s, axum::http::StatusCode::OK);
        assert!(
            page.contains("周强") && page.contains("讲专题党课"),
            "{page}"
        );
        // another county publishes nothing
        assert_eq!(
            anon(format!("/api/v1/dispatch/{}", p.counties[1])).await.0,
            axum::http::StatusCode::NOT_FOUND
        );
    })
    .await;
}
