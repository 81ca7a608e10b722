//! 补录: a department adopting the platform transcribes finished paper files with their
//! original dates, checked by the same time rules, marked 补录 with who entered them and from
//! which archive, signed by the entering officer in place of the original signers.

use crate::support::*;
use axum::http::StatusCode;
use serde_json::{json, Value};

struct World {
    branch: i64,
    members: Vec<i64>,
    secretary: String,
    committee: String,
    org_dept: String,
}

async fn world(app: &TestApp) -> World {
    let city = app.org(None, "中共测试市委", "committee", "city").await;
    let county = app
        .org(Some(city), "中共测试县委", "committee", "county")
        .await;
    let branch = app
        .org(Some(county), "测试村党支部", "branch", "village")
        .await;
    let mut members = Vec::new();
    for i in 0..6u16 {
        members.push(app.member(branch, &format!("党员{i}"), 500 + i).await);
    }
    World {
        branch,
        members,
        secretary: app.account("shuji", branch, "branch_secretary", None).await,
        committee: app
            .account("dangwei", county, "committee_staff", None)
            .await,
        org_dept: app.account("zuzhibu", city, "org_staff", None).await,
    }
}

async fn step(
    app: &TestApp,
    token: &str,
    id: i64,
    on: &str,
    mut body: Value,
) -> (StatusCode, Value) {
    body["secret"] = json!(PASSWORD);
    body["done_on"] = json!(on);
    app.api(
        token,
        "POST",
        &format!("/api/v1/recruits/{id}/steps"),
        Some(body),
    )
    .await
}

fn votes(n: i64) -> Value {
    json!({"entitled": n, "present": n - 2, "yes": n - 2, "no": 0, "abstain": 0, "written_yes": 0})
}

fn person(w: &World, id_number: &str) -> Value {
    json!({"org_id": w.branch, "name": "李建国", "ethnicity": "汉族", "id_number": id_number, "education": "大学本科",
        "work_unit": "测试村", "applied_on": "2019-03-01", "secret": PASSWORD, "backfill_ref": "测试县委组织部档案室 2019年发展党员档案第37卷"})
}

/// Transcribes a file from application to approval (steps 1–17), as the paper file has it.
async fn through_approval(app: &TestApp, w: &World, id_number: &str) -> i64 {
    through_16(app, w, id_number).await.map_or(0, |id| id)
}

async fn through_16(app: &TestApp, w: &World, id_number: &str) -> Option<i64> {
    let rc = ok(app
        .api(
            &w.org_dept,
            "POST",
            "/api/v1/recruits",
            Some(person(w, id_number)),
        )
        .await);
    let id = rc["id"].as_i64().expect("id");
    let t = &w.org_dept;
    ok(step(app, t, id, "2019-03-20", json!({"step": 2})).await);
    ok(step(
        app,
        t,
        id,
        "2019-09-10",
        json!({"step": 3, "channel": "league"}),
    )
    .await);
    ok(step(app, t, id, "2019-09-20", json!({"step": 4})).await);
    ok(step(
        app,
        t,
        id,
        "2019-09-25",
        json!({"step": 5, "contacts": [w.members[0]]}),
    )
    .await);
    ok(step(app, t, id, "2020-03-20", json!({"step": 6})).await);
    ok(step(app, t, id, "2020-09-15", json!({"step": 6})).await);
    ok(app
        .api(
            t,
            "POST",
            &format!("/api/v1/recruits/{id}/evaluations"),
            Some(json!({"evaluated_on": "2020-09-16", "org_score": 90, "mass_score": 84})),
        )
        .await);
    ok(app
        .api(
            t,
            "POST",
            &format!("/api/v1/recruits/{id}/publicity"),
            Some(json!({"before_step": 7, "starts_on": "2020-09-21"})),
        )
        .await);
    // the same time rules: the 公示 runs five working days (National Day follows), cultivation a year
    refused(
        step(app, t, id, "2020-09-25", json!({"step": 7})).await,
        "recruit.publicity_running",
    );
    ok(step(app, t, id, "2020-10-12", json!({"step": 7})).await);
    ok(step(app, t, id, "2020-10-15", json!({"step": 8})).await);
    ok(step(
        app,
        t,
        id,
        "2020-10-20",
        json!({"step": 9, "introducers": [w.members[1], w.members[2]]}),
    )
    .await);
    ok(step(
        app,
        t,
        id,
        "2020-11-20",
        json!({"step": 10, "conclusion": "pass"}),
    )
    .await);
    ok(step(
        app,
        t,
        id,
        "2020-12-10",
        json!({"step": 11, "training_days": 3, "training_hours": 24}),
    )
    .await);
    ok(step(app, t, id, "2021-01-05", json!({"step": 12})).await);
    ok(step(app, t, id, "2021-01-10", json!({"step": 13})).await);
    ok(step(app, t, id, "2021-01-15", json!({"step": 14})).await);
    ok(app
        .api(
            t,
            "POST",
            &format!("/api/v1/recruits/{id}/publicity"),
            Some(json!({"before_step": 15, "starts_on": "2021-01-18"})),
        )
        .await);
    // the roll of 2021 is not in the platform: the meeting's entitled number is the file's
    ok(step(
        app,
        t,
        id,
        "2021-02-01",
        json!({"step": 15, "votes": votes(25)}),
    )
    .await);
    ok(step(app, t, id, "2021-02-10", json!({"step": 16})).await);
    refused(
        step(
            app,
            t,
            id,
            "2021-06-01",
            json!({"step": 17, "outcome": "approve"}),
        )
        .await,
        "recruit.approval_late",
    );
    let r = step(
        app,
        t,
        id,
        "2021-03-01",
        json!({"step": 17, "outcome": "approve"}),
    )
    .await;
    (r.0 == StatusCode::OK).then_some(id).or_else(|| {
        assert_eq!(r.1["code"], "recruit.backfill_roll_mismatch", "{r:?}");
        None
    })
}

#[tokio::test]
async fn a_finished_paper_file_is_transcribed_under_the_same_rules() {
    each_backend(|app| async move {
        let w = world(&app).await;
        let number = dangjian::member::idcard::compose("370811", d(1995, 4, 12), 37, true);
        // only organisation staff transcribe; a secretary's application is a live one
        refused(
            app.api(
                &w.secretary,
                "POST",
                "/api/v1/recruits",
                Some(person(&w, &number)),
            )
            .await,
            "forbidden",
        );
        let id = through_approval(&app, &w, &number).await;
        let file = ok(app
            .api(&w.org_dept, "GET", &format!("/api/v1/recruits/{id}"), None)
            .await);
        assert_eq!(file["recruit"]["backfill_open"], true);
        assert_eq!(
            file["recruit"]["backfill_ref"],
            "测试县委组织部档案室 2019年发展党员档案第37卷"
        );
        assert!(
            file["recruit"]["due_on"].is_null(),
            "no deadlines while transcribing: {}",
            file["recruit"]
        );
        // the roll never holds a 预备党员 whose probation ended years ago
        assert!(file["recruit"]["member_id"].is_null());
        // only the staff record, and they sign in place of every original signer
        refused(
            step(&app, &w.secretary, id, "2021-03-10", json!({"step": 18})).await,
            "forbidden",
        );
        let t = &w.org_dept;
        ok(step(&app, t, id, "2021-03-10", json!({"step": 18})).await);
        ok(step(&app, t, id, "2021-03-15", json!({"step": 19})).await);
        ok(step(&app, t, id, "2021-03-20", json!({"step": 20})).await);
        ok(step(&app, t, id, "2021-09-01", json!({"step": 21})).await);
        refused(
            step(&app, t, id, "2021-12-01", json!({"step": 22})).await,
            "recruit.full_application_early",
        );
        ok(step(&app, t, id, "2022-01-10", json!({"step": 22})).await);
        ok(app
            .api(
                t,
                "POST",
                &format!("/api/v1/recruits/{id}/publicity"),
                Some(json!({"before_step": 23, "starts_on": "2022-01-12"})),
            )
            .await);
        refused(
            step(
                &app,
                t,
                id,
                "2022-01-30",
                json!({"step": 23, "outcome": "on_time", "votes": votes(26)}),
            )
            .await,
            "recruit.probation_running",
        );
        ok(step(
            &app,
            t,
            id,
            "2022-02-10",
            json!({"step": 23, "outcome": "on_time", "votes": votes(26)}),
        )
        .await);
        ok(step(
            &app,
            t,
            id,
            "2022-03-01",
            json!({"step": 24, "outcome": "on_time"}),
        )
        .await);
        ok(step(&app, t, id, "2022-03-10", json!({"step": 25})).await);
        let file = ok(app
            .api(&w.org_dept, "GET", &format!("/api/v1/recruits/{id}"), None)
            .await);
        assert_eq!(file["recruit"]["status"], "completed");
        assert_eq!(
            file["recruit"]["backfill_open"], false,
            "an ended file is finished with it"
        );
        // on the roll as a full member with the file's dates
        let mid = file["recruit"]["member_id"].as_i64().expect("on the roll");
        let m = ok(app
            .api(&w.org_dept, "GET", &format!("/api/v1/members/{mid}"), None)
            .await);
        assert_eq!(
            (
                m["status"].as_str(),
                m["join_date"].as_str(),
                m["full_date"].as_str()
            ),
            (Some("full"), Some("2021-02-01"), Some("2022-02-01"))
        );
        // every record signed by the officer, marked 补录, for each role the step needs
        let entries = file["entries"].as_array().expect("entries");
        assert_eq!(
            entries.iter().filter(|e| e["complete"] == true).count(),
            26,
            "25 steps, the cultivation review twice"
        );
        for e in entries {
            let sigs = e["signatures"].as_array().expect("signatures");
            assert!(
                !sigs.is_empty()
                    && sigs
                        .iter()
                        .all(|s| s["method"] == "backfill" && s["signer_name"] == "zuzhibu"),
                "{e}"
            );
        }
        assert!(entries
            .iter()
            .any(|e| e["step"] == 17 && e["signatures"][0]["signer_role"] == "committee"));
        // the page says so, and the archive verifies against the chain
        let (s, _) = app
            .browser(
                "zuzhibu2",
                app.org(None, "中共另一市委", "committee", "city").await,
                "org_staff",
            )
            .await;
        let (st, _, _) = app.page(&s, "GET", &format!("/recruits/{id}"), None).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "out of scope");
        let (s, _) = app
            .browser(
                "zuzhibu3",
                dangjian::org::store::get(&app.ctx.db, w.branch)
                    .await
                    .expect("b")
                    .parent_id
                    .expect("county"),
                "committee_staff",
            )
            .await;
        let (_, _, html) = app.page(&s, "GET", &format!("/recruits/{id}"), None).await;
        assert!(
            html.contains("补录档案")
                && html.contains("2019年发展党员档案第37卷")
                && html.contains("补录（经办人签名）"),
            "{html}"
        );
        assert!(matches!(
            app.verify().await,
            dangjian::audit::VerifyOutcome::Ok { .. }
        ));
        let _ = &w.committee;
    })
    .await;
}

#[tokio::test]
async fn a_transcribed_file_links_the_roll_and_a_running_one_goes_live() {
    each_backend(|app| async move {
        let w = world(&app).await;
        // the member is on the roll already (imported first), joined the day of the meeting
        let number = dangjian::member::idcard::compose("370811", d(1996, 2, 3), 41, false);
        let mut on_roll = member_input(w.branch, "李建国", 600);
        on_roll.id_number = Some(number.clone());
        on_roll.join_date = d(2021, 2, 1);
        on_roll.full_date = Some(d(2022, 2, 1));
        let existing = app.member_with(on_roll).await;
        // a live application for a member is refused; a transcription is accepted
        let mut live = person(&w, &number);
        live["backfill_ref"] = json!("");
        let r = app
            .api(&w.secretary, "POST", "/api/v1/recruits", Some(live))
            .await;
        assert_eq!(r.1["fields"][0]["field"], "id_number", "{r:?}");
        // the roll and the file must agree on the joining date
        app.exec(&format!(
            "UPDATE members SET join_date = '2021-02-02' WHERE id = {existing}"
        ))
        .await;
        assert_eq!(
            through_16(&app, &w, &number).await,
            None,
            "refused: the roll says 2021-02-02"
        );
        app.exec(&format!(
            "UPDATE members SET join_date = '2021-02-01' WHERE id = {existing}"
        ))
        .await;
        app.exec("UPDATE recruits SET status = 'stopped' WHERE name = '李建国'")
            .await;
        let id = through_approval(&app, &w, &number).await;
        let file = ok(app
            .api(&w.org_dept, "GET", &format!("/api/v1/recruits/{id}"), None)
            .await);
        assert_eq!(
            file["recruit"]["member_id"], existing,
            "linked, not duplicated"
        );
        assert_eq!(
            app.count(&format!(
                "SELECT COUNT(*) AS n FROM members WHERE org_id = {}",
                w.branch
            ))
            .await,
            7
        );

        // another file stops half-way on paper and goes on live
        let other = dangjian::member::idcard::compose("370811", d(1998, 7, 9), 52, true);
        let mut body = person(&w, &other);
        body["name"] = json!("王小红");
        body["applied_on"] = json!("2025-09-01");
        let rc = ok(app
            .api(&w.org_dept, "POST", "/api/v1/recruits", Some(body))
            .await);
        let rid = rc["id"].as_i64().expect("id");
        refused(
            app.api(
                &w.secretary,
                "POST",
                &format!("/api/v1/recruits/{rid}/backfill/finish"),
                None,
            )
            .await,
            "forbidden",
        );
        let live = ok(app
            .api(
                &w.org_dept,
                "POST",
                &format!("/api/v1/recruits/{rid}/backfill/finish"),
                None,
            )
            .await);
        assert_eq!(live["backfill_open"], false);
        assert!(live["due_on"].is_string(), "deadlines again: {live}");
        refused(
            app.api(
                &w.org_dept,
                "POST",
                &format!("/api/v1/recruits/{rid}/backfill/finish"),
                None,
            )
            .await,
            "recruit.backfill_closed",
        );
        // from now on each step has its own signers
        assert_eq!(live["due_what"], "党组织派人谈话");
        refused(
            step(
                &app,
                &w.org_dept,
                rid,
                &app.ctx.clock.today().to_string(),
                json!({"step": 2}),
            )
            .await,
            "forbidden",
        );
        ok(step(
            &app,
            &w.secretary,
            rid,
            &app.ctx.clock.today().to_string(),
            json!({"step": 2}),
        )
        .await);
        let e = ok(app
            .api(
                &w.secretary,
                "GET",
                &format!("/api/v1/recruits/{rid}"),
                None,
            )
            .await);
        let last = e["entries"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["step"] == 2).cloned())
            .expect("step 2");
        assert_ne!(last["signatures"][0]["method"], "backfill");
    })
    .await;
}
