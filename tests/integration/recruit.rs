//! 发展党员: one person from application to full membership through the API, with each rule
//! refusing on the way, signatures by the named roles, the clock moved forward instead of
//! waiting, and the 一人一档 archive verified against the audit chain (and caught when
//! tampered with).

use crate::support::*;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use chrono::{Duration, NaiveDate};
use serde_json::{json, Value};

struct World {
    branch: i64,
    county: i64,
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
    for i in 0..10u16 {
        members.push(app.member(branch, &format!("党员{i}"), 100 + i).await);
    }
    World {
        branch,
        county,
        members,
        secretary: app.account("shuji", branch, "branch_secretary", None).await,
        committee: app
            .account("dangwei", county, "committee_staff", None)
            .await,
        org_dept: app.account("zuzhibu", city, "org_staff", None).await,
    }
}

fn today(app: &TestApp) -> NaiveDate {
    app.ctx.clock.today()
}

async fn step(app: &TestApp, token: &str, id: i64, body: Value) -> (StatusCode, Value) {
    let mut b = body;
    b["secret"] = json!(PASSWORD);
    if b.get("done_on").is_none() {
        b["done_on"] = json!(today(app));
    }
    app.api(
        token,
        "POST",
        &format!("/api/v1/recruits/{id}/steps"),
        Some(b),
    )
    .await
}

async fn publicize(app: &TestApp, token: &str, id: i64, before: i64) -> Value {
    ok(app
        .api(
            token,
            "POST",
            &format!("/api/v1/recruits/{id}/publicity"),
            Some(json!({"before_step": before, "starts_on": today(app)})),
        )
        .await)
}

/// Opens a publicity before `before` starting today and moves the clock to the day after it
/// ends (working days: a holiday inside it makes it longer).
async fn publicize_and_wait(app: &TestApp, token: &str, id: i64, before: i64) -> Value {
    let x = publicize(app, token, id, before).await;
    let end: NaiveDate = serde_json::from_value(x["ends_on"].clone()).expect("ends_on");
    app.ctx
        .clock
        .advance_days((end - today(app)).num_days() + 1);
    x
}

fn votes(entitled: i64, present: i64, yes: i64) -> Value {
    json!({"entitled": entitled, "present": present, "yes": yes, "no": present - yes, "abstain": 0, "written_yes": 0})
}

async fn get_recruit(app: &TestApp, token: &str, id: i64) -> Value {
    ok(app
        .api(token, "GET", &format!("/api/v1/recruits/{id}"), None)
        .await)
}

#[tokio::test]
async fn application_to_full_membership_with_every_rule() {
    each_backend(|app| async move {
        let w = world(&app).await;
        let t0 = today(&app);
        // --- step 1: age on the application date, signature
        let young = dangjian::member::idcard::compose("370811", t0 - Duration::days(17 * 365), 11, true);
        let mut apply = json!({"org_id": w.branch, "name": "王小明", "ethnicity": "汉族", "id_number": young,
            "phone": "13900001111", "education": "大学本科", "work_unit": "测试村", "applied_on": t0, "secret": PASSWORD});
        let r = app.api(&w.secretary, "POST", "/api/v1/recruits", Some(apply.clone())).await;
        assert_eq!(r.0, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
        assert_eq!(r.1["fields"][0]["field"], "id_number", "{r:?}");
        apply["id_number"] = json!(dangjian::member::idcard::compose("370811", NaiveDate::from_ymd_opt(2000, 3, 1).expect("d"), 12, true));
        apply["secret"] = json!("wrong");
        let r = app.api(&w.secretary, "POST", "/api/v1/recruits", Some(apply.clone())).await;
        assert_eq!(r.1["fields"][0]["field"], "secret", "{r:?}");
        apply["secret"] = json!(PASSWORD);
        refused(app.api(&w.committee, "POST", "/api/v1/recruits", Some(apply.clone())).await, "forbidden");
        let rc = ok(app.api(&w.secretary, "POST", "/api/v1/recruits", Some(apply.clone())).await);
        let id = rc["id"].as_i64().expect("id");
        assert_eq!(rc["step"], 1);
        assert_eq!(rc["due_what"], "党组织派人谈话");
        assert_eq!(rc["due_on"], json!(t0 + Duration::days(30)));
        // a locality with a shorter talk deadline: the stored deadline follows the rule set
        ok(app.api(&w.org_dept, "POST", "/api/v1/rules/recruit", Some(json!({"org_id": w.county, "values": {"talk_within_days": 20}}))).await);
        assert_eq!(get_recruit(&app, &w.secretary, id).await["recruit"]["due_on"], json!(t0 + Duration::days(20)));
        ok(app.api(&w.org_dept, "POST", "/api/v1/rules/recruit", Some(json!({"org_id": w.county, "values": {}}))).await);
        // the same person cannot enter twice
        let r = app.api(&w.secretary, "POST", "/api/v1/recruits", Some(apply.clone())).await;
        assert_eq!(r.0, StatusCode::UNPROCESSABLE_ENTITY);
        // a document on step 1, content-addressed
        let pdf = include_bytes!("../fixtures/tiny.pdf").to_vec();
        let (ct, body) = multipart(&[("step", "1"), ("kind", "入党申请书")], &pdf);
        let (s, b) = post_multipart(&app, &w.secretary, &format!("/api/v1/recruits/{id}/documents"), &ct, body).await;
        assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
        let (ct, body) = multipart(&[("step", "1"), ("kind", "入党申请书")], b"GIF89a fake");
        let (s, _) = post_multipart(&app, &w.secretary, &format!("/api/v1/recruits/{id}/documents"), &ct, body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

        // --- steps 2–5
        refused(step(&app, &w.secretary, id, json!({"step": 3, "channel": "member"})).await, "recruit.out_of_order");
        app.ctx.clock.advance_days(5);
        ok(step(&app, &w.secretary, id, json!({"step": 2, "note": "支部书记谈话"})).await);
        app.ctx.clock.advance_days(5);
        let r = step(&app, &w.secretary, id, json!({"step": 3})).await;
        assert_eq!(r.1["fields"][0]["field"], "channel", "{r:?}");
        ok(step(&app, &w.secretary, id, json!({"step": 3, "channel": "league"})).await);
        let activist_on = today(&app);
        refused(step(&app, &w.secretary, id, json!({"step": 4})).await, "forbidden");
        ok(step(&app, &w.committee, id, json!({"step": 4})).await);
        app.exec(&format!("UPDATE members SET status = 'probationary' WHERE id = {}", w.members[9])).await;
        refused(step(&app, &w.secretary, id, json!({"step": 5, "contacts": [w.members[9]]})).await, "recruit.not_full_member");
        ok(step(&app, &w.secretary, id, json!({"step": 5, "contacts": [w.members[0]]})).await);

        // --- cultivation: reviews every six months, a year at least, the 100-point evaluation
        for _ in 0..2 {
            app.ctx.clock.advance_days(180);
            ok(step(&app, &w.secretary, id, json!({"step": 6, "note": "半年考察"})).await);
        }
        app.ctx.clock.advance_days(10);
        let ev = ok(app.api(&w.secretary, "POST", &format!("/api/v1/recruits/{id}/evaluations"),
            Some(json!({"evaluated_on": today(&app), "org_score": 70, "mass_score": 40}))).await);
        assert_eq!(ev["status"], "pending_revisit");
        assert_eq!(ev["total_tenths"], 550);
        // a second evaluation waits for the re-visit, and the re-visit is the committee's
        refused(app.api(&w.secretary, "POST", &format!("/api/v1/recruits/{id}/evaluations"),
            Some(json!({"evaluated_on": today(&app), "org_score": 90, "mass_score": 90}))).await, "recruit.revisit_pending");
        let eid = ev["id"].as_i64().expect("id");
        refused(app.api(&w.secretary, "POST", &format!("/api/v1/recruits/evaluations/{eid}/revisit"),
            Some(json!({"revisit_on": today(&app), "note": "走访", "confirm": false}))).await, "forbidden");
        refused(step(&app, &w.secretary, id, json!({"step": 7})).await, "recruit.evaluation_not_passed");
        ok(app.api(&w.committee, "POST", &format!("/api/v1/recruits/evaluations/{eid}/revisit"),
            Some(json!({"revisit_on": today(&app), "note": "走访群众，低分系个别人恶意评分", "confirm": false}))).await);
        let ev = ok(app.api(&w.secretary, "POST", &format!("/api/v1/recruits/{id}/evaluations"),
            Some(json!({"evaluated_on": today(&app), "org_score": 90, "mass_score": 80}))).await);
        assert_eq!(ev["verdict"], "candidate");
        // a year after becoming an activist, with a publicity first
        assert!(today(&app) >= activist_on + Duration::days(365));
        refused(step(&app, &w.secretary, id, json!({"step": 7})).await, "recruit.publicity_missing");
        let pb = publicize(&app, &w.secretary, id, 7).await;
        // one open publicity per step
        refused(app.api(&w.secretary, "POST", &format!("/api/v1/recruits/{id}/publicity"),
            Some(json!({"before_step": 7, "starts_on": today(&app)}))).await, "recruit.publicity_open");
        refused(step(&app, &w.secretary, id, json!({"step": 7})).await, "recruit.publicity_running");
        // the public page shows the name masked, never the ID number
        let (s, _, html) = app.page_with("", "/notices", &[]).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("王*明"), "{html}");
        assert!(!html.contains("王小明"));
        let pid = pb["id"].as_i64().expect("id");
        let obj = ok(app.api(&w.secretary, "POST", &format!("/api/v1/recruits/publicity/{pid}/objections"),
            Some(json!({"received_on": today(&app), "content": "反映其邻里关系一般"}))).await);
        app.ctx.clock.advance_days(9);
        refused(step(&app, &w.secretary, id, json!({"step": 7})).await, "recruit.objections_open");
        let oid = obj["id"].as_i64().expect("id");
        let r = app.api(&w.secretary, "POST", &format!("/api/v1/recruits/objections/{oid}/answer"), Some(json!({"answer": "经核实，情况不影响发展"}))).await;
        assert_eq!(r.0, StatusCode::NO_CONTENT);
        ok(step(&app, &w.secretary, id, json!({"step": 7})).await);

        // --- candidates: filing, introducers, political review, training
        ok(step(&app, &w.committee, id, json!({"step": 8})).await);
        // 留党察看 on record (by organisation staff): no introducer, no vote
        let discipline = json!({"kind": "probation", "months": 12, "decided_on": today(&app) - Duration::days(30),
            "deciding_body": "中共测试县纪律检查委员会", "document_no": "测纪发〔2026〕1号", "reason": "违反组织纪律"});
        refused(app.api(&w.secretary, "POST", &format!("/api/v1/members/{}/discipline", w.members[8]), Some(discipline.clone())).await, "forbidden");
        ok(app.api(&w.org_dept, "POST", &format!("/api/v1/members/{}/discipline", w.members[8]), Some(discipline)).await);
        let r = step(&app, &w.secretary, id, json!({"step": 9, "introducers": [w.members[1]]})).await;
        assert_eq!(r.1["fields"][0]["field"], "introducers", "{r:?}");
        refused(step(&app, &w.secretary, id, json!({"step": 9, "introducers": [w.members[1], w.members[8]]})).await, "recruit.under_watch");
        ok(step(&app, &w.secretary, id, json!({"step": 9, "introducers": [w.members[1], w.members[2]]})).await);
        ok(step(&app, &w.committee, id, json!({"step": 10, "conclusion": "pass"})).await);
        refused(step(&app, &w.committee, id, json!({"step": 11, "training_days": 2, "training_hours": 16})).await, "recruit.training_short");
        ok(step(&app, &w.committee, id, json!({"step": 11, "training_days": 3, "training_hours": 24})).await);

        // --- admission: pre-review, the branch meeting, approval within three months
        ok(step(&app, &w.secretary, id, json!({"step": 12})).await);
        refused(step(&app, &w.committee, id, json!({"step": 13, "expected_leave_on": today(&app) + Duration::days(60)})).await, "recruit.leaving_soon");
        ok(step(&app, &w.committee, id, json!({"step": 13})).await);
        ok(step(&app, &w.secretary, id, json!({"step": 14})).await);
        publicize(&app, &w.secretary, id, 15).await;
        app.ctx.clock.advance_days(10);
        // nine full members (and one probationary), one under 留党察看: eight entitled
        refused(step(&app, &w.secretary, id, json!({"step": 15, "votes": votes(10, 8, 8)})).await, "recruit.entitled_mismatch");
        refused(step(&app, &w.secretary, id, json!({"step": 15, "votes": votes(9, 8, 8)})).await, "recruit.entitled_mismatch");
        refused(step(&app, &w.secretary, id, json!({"step": 15, "votes": votes(8, 4, 4)})).await, "recruit.no_quorum");
        // held at the assembly recorded under 组织生活: its roll gives those entitled (eight)
        // and present (seven); the numbers typed are not used
        let sitting = json!({"org_id": w.branch, "kinds": ["assembly"], "held_on": today(&app), "starts": "00:00", "ends": "23:59", "place": "党员活动室"});
        let mid = ok(app.api(&w.secretary, "POST", "/api/v1/meetings", Some(sitting)).await)["id"].as_i64().expect("id");
        let bad = step(&app, &w.secretary, id, json!({"step": 15, "meeting_id": mid, "votes": {"entitled": 0, "present": 0, "yes": 6, "no": 1, "abstain": 0, "written_yes": 0}})).await;
        assert_eq!(fields(&bad.1), ["meeting_id"], "not notified: no roll yet: {bad:?}");
        ok(app.api(&w.secretary, "POST", &format!("/api/v1/meetings/{mid}/notify"), None).await);
        for m in &w.members[..7] {
            ok(app.api(&w.secretary, "POST", &format!("/api/v1/meetings/{mid}/mark"), Some(json!({"member_id": m, "status": "present"}))).await);
        }
        let bad = step(&app, &w.secretary, id, json!({"step": 15, "meeting_id": mid, "done_on": today(&app) - Duration::days(1), "votes": {"entitled": 0, "present": 0, "yes": 6, "no": 1, "abstain": 0, "written_yes": 0}})).await;
        assert_eq!(fields(&bad.1), ["done_on"], "the sitting's day: {bad:?}");
        let bad = step(&app, &w.secretary, id, json!({"step": 14, "meeting_id": mid})).await;
        assert_eq!(fields(&bad.1), ["meeting_id"], "only the assembly steps: {bad:?}");
        let e = ok(step(&app, &w.secretary, id, json!({"step": 15, "meeting_id": mid, "votes": {"entitled": 0, "present": 0, "yes": 6, "no": 1, "abstain": 0, "written_yes": 0}})).await);
        assert_eq!(e["data"]["votes"]["entitled"], 8, "{e}");
        assert_eq!(e["data"]["votes"]["present"], 7, "{e}");
        assert_eq!(e["data"]["meeting_id"], mid, "{e}");
        let linked = dangjian::recruit::store::discussed_at(&app.ctx, mid, w.branch).await.expect("linked");
        assert_eq!(linked.iter().map(|x| (x.0, x.2)).collect::<Vec<_>>(), [(id, 15)], "the sitting lists the file");
        let meeting = today(&app);
        ok(step(&app, &w.committee, id, json!({"step": 16})).await);
        app.ctx.clock.advance_days(100);
        refused(step(&app, &w.secretary, id, json!({"step": 17, "outcome": "approve"})).await, "forbidden");
        refused(step(&app, &w.committee, id, json!({"step": 17, "outcome": "approve"})).await, "recruit.approval_late");
        ok(step(&app, &w.committee, id, json!({"step": 17, "outcome": "approve", "late_reason": "党委换届顺延"})).await);
        let file = get_recruit(&app, &w.secretary, id).await;
        let member_id = file["recruit"]["member_id"].as_i64().expect("admitted into the roster");
        let m = ok(app.api(&w.secretary, "GET", &format!("/api/v1/members/{member_id}"), None).await);
        assert_eq!(m["status"], "probationary");
        assert_eq!(m["join_date"], json!(meeting));
        assert_eq!(file["recruit"]["probation_end"], json!(meeting + chrono::Months::new(12)));

        // --- probation and full membership
        refused(step(&app, &w.committee, id, json!({"step": 18})).await, "forbidden");
        ok(step(&app, &w.org_dept, id, json!({"step": 18})).await);
        ok(step(&app, &w.secretary, id, json!({"step": 19})).await);
        ok(step(&app, &w.secretary, id, json!({"step": 20})).await);
        ok(step(&app, &w.secretary, id, json!({"step": 21})).await);
        refused(step(&app, &w.secretary, id, json!({"step": 22})).await, "recruit.full_application_early");
        let end = meeting + chrono::Months::new(12);
        let wait = (end - today(&app)).num_days() - 10;
        app.ctx.clock.advance_days(wait);
        ok(step(&app, &w.secretary, id, json!({"step": 22})).await);
        publicize(&app, &w.secretary, id, 23).await;
        app.ctx.clock.advance_days(8);
        refused(step(&app, &w.secretary, id, json!({"step": 23, "outcome": "on_time", "votes": votes(9, 7, 7)})).await, "recruit.probation_running");
        app.ctx.clock.advance_days(3);
        ok(step(&app, &w.secretary, id, json!({"step": 23, "outcome": "on_time", "votes": votes(9, 7, 7)})).await);
        ok(step(&app, &w.committee, id, json!({"step": 24, "outcome": "on_time"})).await);
        let m = ok(app.api(&w.secretary, "GET", &format!("/api/v1/members/{member_id}"), None).await);
        assert_eq!(m["status"], "full");
        assert_eq!(m["full_date"], json!(end));
        ok(step(&app, &w.committee, id, json!({"step": 25})).await);
        // trace-back from the member to the recruitment file
        let (sess, _) = app.browser("xiangzhen", w.county, "committee_staff").await;
        let (_, _, html) = app.page(&sess, "GET", &format!("/members/{member_id}"), None).await;
        assert!(html.contains(&format!("/recruits/{id}")), "{html}");
        let file = get_recruit(&app, &w.secretary, id).await;
        assert_eq!(file["recruit"]["status"], "completed");
        assert_eq!(file["recruit"]["step"], 25);
        refused(step(&app, &w.committee, id, json!({"step": 25})).await, "recruit.not_active");
        assert!(file["entries"].as_array().expect("entries").iter().all(|e| e["complete"] == true));

        // --- the statistics see one admission and one full member
        let stats = ok(app.api(&w.org_dept, "GET", &format!("/api/v1/recruits/stats?org_id={}&year={}", w.county, end.format("%Y")), None).await);
        assert_eq!(stats[0]["full"], 1, "{stats}");

        // --- corrections: a new signed record pointing to the old one, never an edit
        let entries = file["entries"].as_array().expect("entries").clone();
        let entry_of = |n: i64| entries.iter().find(|e| e["step"] == n).and_then(|e| e["id"].as_i64()).expect("entry");
        let talk = entry_of(2);
        let correct = |token: String, entry: i64, body: Value| {
            let app = &app;
            async move {
                let mut b = body;
                b["secret"] = json!(PASSWORD);
                app.api(&token, "POST", &format!("/api/v1/recruits/entries/{entry}/correct"), Some(b)).await
            }
        };
        refused(correct(w.committee.clone(), talk, json!({"done_on": t0 + Duration::days(3), "note": "x", "reason": "日期录错"})).await, "forbidden");
        let r = correct(w.secretary.clone(), talk, json!({"done_on": t0 + Duration::days(3), "note": "x", "reason": " "})).await;
        assert_eq!(r.1["fields"][0]["field"], "reason", "{r:?}");
        let r = correct(w.secretary.clone(), talk, json!({"done_on": t0 - Duration::days(1), "note": "x", "reason": "日期录错"})).await;
        assert_eq!(r.1["fields"][0]["field"], "done_on", "{r:?}");
        let fixed = ok(correct(w.secretary.clone(), talk, json!({"done_on": t0 + Duration::days(3), "note": "支部书记在村委会谈话", "reason": "谈话日期录错"})).await);
        assert_eq!(fixed["corrects_id"], talk);
        assert_eq!(fixed["complete"], true);
        refused(correct(w.secretary.clone(), talk, json!({"done_on": t0 + Duration::days(4), "note": "x", "reason": "再改"})).await, "recruit.already_corrected");
        // the meeting date moves the joining date, the probation end and the full date with it
        let meeting_entry = entries.iter().rev().filter(|e| e["step"] == 15).find_map(|e| e["id"].as_i64()).expect("meeting");
        let r = correct(w.secretary.clone(), meeting_entry, json!({"done_on": meeting + Duration::days(2), "note": "", "reason": "会议日期录错"})).await;
        assert_eq!(r.1["fields"][0]["field"], "done_on", "{r:?}");
        // a correction keeps the 公示 before the step: not into or before the publicity
        refused(correct(w.secretary.clone(), meeting_entry, json!({"done_on": meeting - Duration::days(9), "note": "", "reason": "会议日期录错"})).await, "recruit.publicity_running");
        let candidate_entry = entry_of(7);
        let publicity_start: NaiveDate = serde_json::from_value(pb["starts_on"].clone()).expect("starts_on");
        refused(correct(w.secretary.clone(), candidate_entry, json!({"done_on": publicity_start, "note": "", "reason": "日期录错"})).await, "recruit.publicity_running");
        ok(correct(w.secretary.clone(), meeting_entry, json!({"done_on": meeting - Duration::days(1), "note": "", "reason": "会议日期录错"})).await);
        let m = ok(app.api(&w.secretary, "GET", &format!("/api/v1/members/{member_id}"), None).await);
        assert_eq!(m["join_date"], json!(meeting - Duration::days(1)));
        assert_eq!(m["full_date"], json!(end - Duration::days(1)));
        let file = get_recruit(&app, &w.secretary, id).await;
        assert_eq!(file["recruit"]["probation_end"], json!(end - Duration::days(1)));
        let list = file["entries"].as_array().expect("entries");
        assert_eq!(list.iter().filter(|e| e["corrected_by"].is_i64()).count(), 2);
        assert!(list.iter().any(|e| e["id"] == talk && e["note"] == "支部书记谈话"), "the original stays");

        // --- the archive verifies, and a tampered copy does not
        assert!(matches!(app.verify().await, dangjian::audit::VerifyOutcome::Ok { .. }));
        let req = Request::builder().uri(format!("/api/v1/recruits/{id}/archive"))
            .header(header::AUTHORIZATION, format!("Bearer {}", w.secretary)).body(Body::empty()).expect("req");
        let (s, _, zip_bytes) = app.send(req).await;
        assert_eq!(s, StatusCode::OK);
        let verify = |bytes: Vec<u8>| multipart(&[], &bytes);
        let (ct2, body2) = verify(zip_bytes.clone());
        let (s, b) = post_multipart(&app, &w.secretary, "/api/v1/recruits/archive/verify", &ct2, body2).await;
        let report: Value = serde_json::from_slice(&b).unwrap_or(Value::Null);
        assert_eq!(s, StatusCode::OK, "{report}");
        assert_eq!(report["ok"], true, "{report}");
        assert_eq!(report["documents"], 1);
        // tamper: change the document inside the archive
        let tampered = rewrite_zip(&zip_bytes, |name, data| {
            if name.starts_with("documents/") {
                data.extend_from_slice(b"% altered");
            }
        });
        let (ct3, body3) = verify(tampered);
        let (s, b) = post_multipart(&app, &w.secretary, "/api/v1/recruits/archive/verify", &ct3, body3).await;
        let report: Value = serde_json::from_slice(&b).unwrap_or(Value::Null);
        assert_eq!(s, StatusCode::OK);
        assert_eq!(report["ok"], false, "{report}");
        // tamper: change a date in the manifest's audit entries
        let tampered = rewrite_zip(&zip_bytes, |name, data| {
            if name == "manifest.json" {
                let text = String::from_utf8_lossy(data).replacen("支部书记谈话", "支部书记未谈话", 1);
                *data = text.into_bytes();
            }
        });
        let (ct4, body4) = verify(tampered);
        let (_, b) = post_multipart(&app, &w.secretary, "/api/v1/recruits/archive/verify", &ct4, body4).await;
        let report: Value = serde_json::from_slice(&b).unwrap_or(Value::Null);
        assert_eq!(report["ok"], false, "{report}");

        // --- a stored document altered in the database: named, never a server error
        let digest = file["documents"][0]["digest"].as_str().expect("digest").to_string();
        let doc_id = file["documents"][0]["id"].as_i64().expect("doc id");
        let stored: Vec<u8> = dangjian::on_db!(&app.ctx.db, p => {
            use sqlx::Row;
            sqlx::query("SELECT data FROM blobs WHERE digest = $1").bind(&digest).fetch_one(p).await.expect("blob").get::<Vec<u8>, _>("data")
        });
        let mut flipped = stored.clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0x01;
        dangjian::on_db!(&app.ctx.db, p => {
            sqlx::query("UPDATE blobs SET data = $1 WHERE digest = $2").bind(&flipped).bind(&digest).execute(p).await.expect("flip");
        });
        let req = Request::builder().uri(format!("/api/v1/recruits/{id}/archive"))
            .header(header::AUTHORIZATION, format!("Bearer {}", w.secretary)).body(Body::empty()).expect("req");
        let (s, _, b) = app.send(req).await;
        let err: Value = serde_json::from_slice(&b).unwrap_or(Value::Null);
        assert_eq!(s, StatusCode::CONFLICT, "{err}");
        assert_eq!(err["code"], "integrity_failed", "{err}");
        let msg = err["message"].as_str().unwrap_or("");
        assert!(msg.contains("第1步") && msg.contains("入党申请书") && msg.contains(&digest) && msg.contains("密文未通过完整性校验"), "{msg}");
        // the page says the same (not 服务器内部错误)
        let (session, _) = app.browser("shuji_page", w.branch, "branch_secretary").await;
        let (s, _, html) = app.page(&session, "GET", &format!("/recruits/documents/{doc_id}"), None).await;
        assert_eq!(s, StatusCode::CONFLICT);
        assert!(html.contains(&digest) && !html.contains("服务器内部错误"), "{html}");
        // the check of every stored file names it with the record that uses it
        let files = dangjian::blob::verify_all(&app.ctx).await.expect("files");
        assert_eq!(files.bad.len(), 1, "{files:?}");
        assert_eq!(files.bad[0].digest, digest);
        assert!(files.bad[0].used_by[0].contains(&format!("发展党员档案{id} 第1步")), "{files:?}");
        assert!(dangjian::audit::checks::run_files(&app.ctx, "manual").await.is_err());
        if app.is_sqlite() {
            let out = cli(&app.db_url, &["audit", "verify"], &[]);
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(!out.status.success(), "{text}");
            assert!(text.contains("stored files BAD: 1") && text.contains(&digest) && text.contains("第1步"), "{text}");
        }
        let auditor = app.account("shenji", w.county, "audit_admin", None).await;
        let v = ok(app.api(&auditor, "GET", "/api/v1/audit/verify", None).await);
        assert_eq!(v["ok"], false, "{v}");
        assert_eq!(v["files"]["bad"][0]["digest"], json!(digest), "{v}");
        // replaced under the key: the content's own digest is named
        let other = app.ctx.vault.encrypt_bytes(&dangjian::crypto::aad("blobs", "data", &digest), b"%PDF-1.4 other");
        dangjian::on_db!(&app.ctx.db, p => {
            sqlx::query("UPDATE blobs SET data = $1 WHERE digest = $2").bind(&other).bind(&digest).execute(p).await.expect("replace");
        });
        let found = dangjian::crypto::sm3_hex(b"%PDF-1.4 other");
        let files = dangjian::blob::verify_all(&app.ctx).await.expect("files");
        assert!(files.bad[0].found.contains(&found), "{files:?}");
        // restored: whole again
        dangjian::on_db!(&app.ctx.db, p => {
            sqlx::query("UPDATE blobs SET data = $1 WHERE digest = $2").bind(&stored).bind(&digest).execute(p).await.expect("restore");
        });
        assert!(dangjian::blob::verify_all(&app.ctx).await.expect("files").bad.is_empty());
    })
    .await;
}

/// Rewrites every file of a zip through `f`.
fn rewrite_zip(bytes: &[u8], f: impl Fn(&str, &mut Vec<u8>)) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("zip");
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..z.len() {
        let mut file = z.by_index(i).expect("entry");
        let name = file.name().to_string();
        let mut data = Vec::new();
        file.read_to_end(&mut data).expect("read");
        f(&name, &mut data);
        w.start_file(name, zip::write::SimpleFileOptions::default())
            .expect("start");
        w.write_all(&data).expect("write");
    }
    w.finish().expect("finish").into_inner()
}

#[tokio::test]
async fn co_signatures_configured_per_step_and_the_queue() {
    each_backend(|app| async move {
        let w = world(&app).await;
        // this county wants its organisation department to co-sign the talk (step 2)
        let admin = app.account("guize", w.county, "org_staff", None).await;
        ok(app.api(&admin, "POST", "/api/v1/rules/recruit",
            Some(json!({"org_id": w.county, "values": {"signers": {"2": ["branch_secretary", "org_dept"]}}}))).await);
        let id_number = dangjian::member::idcard::compose("370811", NaiveDate::from_ymd_opt(1999, 5, 5).expect("d"), 21, false);
        let rc = ok(app.api(&w.secretary, "POST", "/api/v1/recruits", Some(json!({"org_id": w.branch, "name": "李红", "ethnicity": "汉族",
            "id_number": id_number, "education": "高中", "work_unit": "", "applied_on": today(&app), "secret": PASSWORD}))).await);
        let id = rc["id"].as_i64().expect("id");
        // the board counts the person for the whole tree (the city's, read without a subtree
        // condition) and for the county
        let staged = |b: &Value| b["stages"].as_array().expect("stages").iter().filter_map(Value::as_i64).sum::<i64>();
        assert_eq!(staged(&ok(app.api(&w.org_dept, "GET", "/api/v1/recruits/board", None).await)), 1);
        assert_eq!(staged(&ok(app.api(&w.committee, "GET", "/api/v1/recruits/board", None).await)), 1);
        let e = ok(step(&app, &w.secretary, id, json!({"step": 2})).await);
        assert_eq!(e["complete"], false);
        refused(step(&app, &w.secretary, id, json!({"step": 3, "channel": "member"})).await, "recruit.awaiting_signatures");
        // the organisation department sees it in its queue and signs
        let q = ok(app.api(&w.org_dept, "GET", "/api/v1/recruits/queue", None).await);
        let item = q.as_array().expect("queue").iter().find(|i| i["recruit_id"] == id && i["action"] == "sign").cloned().expect("queued");
        let eid = item["entry_id"].as_i64().expect("entry");
        refused(app.api(&w.committee, "POST", &format!("/api/v1/recruits/entries/{eid}/sign"), Some(json!({"secret": PASSWORD}))).await, "forbidden");
        let e = ok(app.api(&w.org_dept, "POST", &format!("/api/v1/recruits/entries/{eid}/sign"), Some(json!({"secret": PASSWORD}))).await);
        assert_eq!(e["complete"], true);
        assert_eq!(e["signatures"].as_array().map(|a| a.len()), Some(2));
        let r = app.api(&w.org_dept, "POST", &format!("/api/v1/recruits/entries/{eid}/sign"), Some(json!({"secret": PASSWORD}))).await;
        assert_eq!(r.0, StatusCode::CONFLICT);
        ok(step(&app, &w.secretary, id, json!({"step": 3, "channel": "member"})).await);
        // the secretary's queue now holds nothing for this person (step 4 is the committee's)
        let q = ok(app.api(&w.committee, "GET", "/api/v1/recruits/queue", None).await);
        assert!(q.as_array().expect("queue").iter().any(|i| i["recruit_id"] == id && i["step"] == 4 && i["action"] == "record"), "{q}");
        // another county cannot see the person at all
        let other_county = app.org(None, "中共外市委", "committee", "city").await;
        let outsider = app.account("waishi", other_county, "org_staff", None).await;
        refused(app.api(&outsider, "GET", &format!("/api/v1/recruits/{id}"), None).await, "not_found");
        let list = ok(app.api(&outsider, "GET", "/api/v1/recruits", None).await);
        assert_eq!(list["total"], 0);
        assert_eq!(staged(&ok(app.api(&outsider, "GET", "/api/v1/recruits/board", None).await)), 0);
        // with two roots the city's board is a subtree's
        assert_eq!(staged(&ok(app.api(&w.org_dept, "GET", "/api/v1/recruits/board", None).await)), 1);
        assert!(matches!(app.verify().await, dangjian::audit::VerifyOutcome::Ok { .. }));
    })
    .await;
}

#[tokio::test]
async fn extension_and_cancellation_of_probation() {
    each_backend(|app| async move {
        let w = world(&app).await;
        // a person admitted long ago: set up directly at step 22 with a probation end behind us
        let id_number = dangjian::member::idcard::compose("370811", NaiveDate::from_ymd_opt(1995, 1, 1).expect("d"), 31, true);
        let rc = ok(app.api(&w.secretary, "POST", "/api/v1/recruits", Some(json!({"org_id": w.branch, "name": "赵强", "ethnicity": "汉族",
            "id_number": id_number, "education": "大学专科", "work_unit": "", "applied_on": today(&app), "secret": PASSWORD}))).await);
        let id = rc["id"].as_i64().expect("id");
        let t = today(&app);
        let meeting = t - Duration::days(400);
        app.exec(&format!("UPDATE recruits SET step = 22, admitted_on = '{meeting}', probation_end = '{}' WHERE id = {id}", meeting + chrono::Months::new(12))).await;
        publicize_and_wait(&app, &w.secretary, id, 23).await;
        refused(step(&app, &w.secretary, id, json!({"step": 23, "outcome": "extend", "extension_months": 3, "votes": votes(10, 7, 7)})).await, "validation_failed");
        ok(step(&app, &w.secretary, id, json!({"step": 23, "outcome": "extend", "extension_months": 6, "votes": votes(10, 7, 7)})).await);
        ok(step(&app, &w.committee, id, json!({"step": 24, "outcome": "extend", "extension_months": 6})).await);
        let f = get_recruit(&app, &w.secretary, id).await;
        assert_eq!(f["recruit"]["step"], 21);
        assert_eq!(f["recruit"]["extended"], true);
        assert_eq!(f["recruit"]["probation_end"], json!(meeting + chrono::Months::new(18)));
        // a second extension is refused
        app.ctx.clock.advance_days(200);
        ok(step(&app, &w.secretary, id, json!({"step": 21})).await);
        ok(step(&app, &w.secretary, id, json!({"step": 22})).await);
        publicize_and_wait(&app, &w.secretary, id, 23).await;
        refused(step(&app, &w.secretary, id, json!({"step": 23, "outcome": "extend", "extension_months": 6, "votes": votes(10, 7, 7)})).await, "recruit.extended_once");
        ok(step(&app, &w.secretary, id, json!({"step": 23, "outcome": "cancel", "note": "延长期满仍不具备党员条件", "votes": votes(10, 7, 7)})).await);
        ok(step(&app, &w.committee, id, json!({"step": 24, "outcome": "cancel", "note": "延长期满仍不具备党员条件"})).await);
        let f = get_recruit(&app, &w.secretary, id).await;
        assert_eq!(f["recruit"]["status"], "cancelled");
        assert!(matches!(app.verify().await, dangjian::audit::VerifyOutcome::Ok { .. }));
    })
    .await;
}

/// 向阳计划: people enter a pool that fits them through a channel, are followed up on the
/// rule-set cadence (overdue flagged), and leave the pool by applying (which links their
/// recruitment file) or by withdrawing with a reason.
#[tokio::test]
async fn talent_pools_follow_people_until_they_apply() {
    each_backend(|app| async move {
        let w = world(&app).await;
        let t0 = today(&app);
        let other = app.org(Some(w.county), "邻村党支部", "branch", "village").await;
        let outsider = app.account("linshuji", other, "branch_secretary", None).await;
        let id_of = |birth: NaiveDate, seq: u16, male: bool| dangjian::member::idcard::compose("370811", birth, seq, male);
        let young_woman = id_of(t0 - Duration::days(24 * 365), 21, false);
        let add = |token: String, body: Value| {
            let app = &app;
            async move { app.api(&token, "POST", "/api/v1/talents", Some(body)).await }
        };
        let person = |pool: &str, id: &str| json!({"org_id": w.branch, "pool": pool, "channel": "organisation",
            "name": "李春燕", "id_number": id, "phone": "13800002222", "work_unit": "测试村合作社",
            "recommender": "镇妇联", "recommended_on": t0, "reason": "带头发展特色种植"});
        // who fits which pool
        let man40 = id_of(t0 - Duration::days(40 * 365 + 20), 23, true);
        refused(add(w.secretary.clone(), person("women", &man40)).await, "talent.women_only");
        refused(add(w.secretary.clone(), person("youth", &man40)).await, "talent.too_old_for_youth");
        let mut bad = person("women", &young_woman);
        bad["channel"] = json!("phone");
        let r = add(w.secretary.clone(), bad).await;
        assert_eq!(r.1["fields"][0]["field"], "channel", "{r:?}");
        // a member is not recommended again; a branch outside the account's subtree is refused
        let member = id_of(NaiveDate::from_ymd_opt(1980, 1, 1).expect("d") + Duration::days(100), 100, true);
        let r = add(w.secretary.clone(), person("skilled", &member)).await;
        assert_eq!((r.1["fields"][0]["field"].as_str(), r.1["fields"][0]["message"].as_str()), (Some("id_number"), Some("此人已是党员")), "{r:?}");
        refused(add(outsider.clone(), person("women", &young_woman)).await, "not_found");
        let t = ok(add(w.secretary.clone(), person("women", &young_woman)).await);
        let tid = t["id"].as_i64().expect("id");
        assert_eq!(t["status"], "tracking");
        assert_eq!(t["due_on"], json!(dangjian::recruit::rules::add_months(t0, 3)));
        assert!(t["id_number"].as_str().expect("masked").contains('*'), "{t}");
        let r = add(w.secretary.clone(), person("youth", &young_woman)).await;
        assert_eq!(r.1["fields"][0]["field"], "id_number", "already in a pool: {r:?}");
        // a county that follows up monthly: the stored deadlines follow the new rule set
        ok(app.api(&w.org_dept, "POST", "/api/v1/rules/recruit", Some(json!({"org_id": w.county, "values": {"talent_contact_every_months": 1}}))).await);
        let file = ok(app.api(&w.secretary, "GET", &format!("/api/v1/talents/{tid}"), None).await);
        assert_eq!(file["talent"]["due_on"], json!(dangjian::recruit::rules::add_months(t0, 1)));
        ok(app.api(&w.org_dept, "POST", "/api/v1/rules/recruit", Some(json!({"org_id": w.county, "values": {"talent_contact_every_months": 3}}))).await);
        let man = id_of(t0 - Duration::days(30 * 365), 25, true);
        let mut skilled = person("skilled", &man);
        skilled["name"] = json!("张建国");
        skilled["channel"] = json!("self");
        skilled["recommender"] = json!("本人");
        let s = ok(add(w.secretary.clone(), skilled).await);
        let sid = s["id"].as_i64().expect("id");

        // the county sees both, in the pools × channels table
        let sum = ok(app.api(&w.committee, "GET", &format!("/api/v1/talents/summary?org_id={}", w.county), None).await);
        let cell = |pool: &str, ch: &str| sum["cells"].as_array().expect("cells").iter().find(|c| c["pool"] == pool && c["channel"] == ch).cloned().expect("cell");
        assert_eq!(cell("women", "organisation")["tracking"], 1, "{sum}");
        assert_eq!(cell("skilled", "self")["tracking"], 1, "{sum}");
        assert_eq!(sum["cells"].as_array().map(Vec::len), Some(9));
        refused(app.api(&outsider, "GET", &format!("/api/v1/talents/{tid}"), None).await, "not_found");

        // follow-ups move the due date; a missed one shows as overdue
        let contact = |token: String, id: i64, body: Value| {
            let app = &app;
            async move { app.api(&token, "POST", &format!("/api/v1/talents/{id}/contacts"), Some(body)).await }
        };
        let r = contact(w.secretary.clone(), tid, json!({"done_on": t0 - Duration::days(1), "note": "谈心谈话"})).await;
        assert_eq!(r.1["fields"][0]["field"], "done_on", "{r:?}");
        app.ctx.clock.advance_days(30);
        ok(contact(w.secretary.clone(), tid, json!({"done_on": today(&app), "note": "参加主题党日，表现积极"})).await);
        let file = ok(app.api(&w.secretary, "GET", &format!("/api/v1/talents/{tid}"), None).await);
        assert_eq!(file["talent"]["due_on"], json!(dangjian::recruit::rules::add_months(today(&app), 3)));
        assert_eq!(file["contacts"].as_array().map(Vec::len), Some(1));
        app.ctx.clock.advance_days(70);
        let late = ok(app.api(&w.committee, "GET", &format!("/api/v1/talents?org_id={}&due=overdue", w.county), None).await);
        assert_eq!(late["total"], 1, "only the one never followed up: {late}");
        assert_eq!(late["items"][0]["id"], sid);

        // withdrawing needs a reason and ends the follow-up
        let r = app.api(&w.secretary, "POST", &format!("/api/v1/talents/{sid}/withdraw"), Some(json!({"reason": ""}))).await;
        assert_eq!(r.1["fields"][0]["field"], "reason", "{r:?}");
        ok(app.api(&w.secretary, "POST", &format!("/api/v1/talents/{sid}/withdraw"), Some(json!({"reason": "外出务工"}))).await);
        refused(contact(w.secretary.clone(), sid, json!({"done_on": today(&app), "note": "电话联系"})).await, "talent.closed");

        // applying links the two files and ends the tracking
        let apply = json!({"org_id": w.branch, "name": "李春燕", "ethnicity": "汉族", "id_number": young_woman,
            "phone": "13800002222", "education": "大学本科", "work_unit": "测试村合作社", "applied_on": today(&app), "secret": PASSWORD});
        let rc = ok(app.api(&w.secretary, "POST", "/api/v1/recruits", Some(apply)).await);
        let file = ok(app.api(&w.secretary, "GET", &format!("/api/v1/talents/{tid}"), None).await);
        assert_eq!(file["talent"]["status"], "applied");
        assert_eq!(file["talent"]["recruit_id"], rc["id"]);
        assert!(file["talent"]["due_on"].is_null());
        let sum = ok(app.api(&w.committee, "GET", &format!("/api/v1/talents/summary?org_id={}", w.county), None).await);
        assert_eq!(sum["cells"].as_array().expect("cells").iter().find(|c| c["pool"] == "women" && c["channel"] == "organisation").expect("cell")["applied"], 1);

        // the pages: the table, the person, a refusal shown on the form
        let (sess, csrf) = app.browser("xiangzhen", w.county, "committee_staff").await;
        let (s, _, html) = app.page(&sess, "GET", &format!("/talents?org_id={}&status=all", w.county), None).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("李春燕") && html.contains("张建国"), "{html}");
        let (s, _, html) = app.page(&sess, "GET", &format!("/talents/{tid}"), None).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains(&format!("/recruits/{}", rc["id"])), "{html}");
        let form = format!("_csrf={csrf}&org_id={}&pool=women&channel=online&name=%E7%8E%8B%E5%BC%BA&id_number={}&recommender=x&recommended_on={}&reason=y", w.branch, man, today(&app));
        let (s, _, html) = app.page(&sess, "POST", "/talents", Some(&form)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("优秀妇女库只收录女性"), "{html}");
        assert!(matches!(app.verify().await, dangjian::audit::VerifyOutcome::Ok { .. }));
    })
    .await;
}
