//! 民主评议党员: a branch opens its year's round; members write their self-assessments (the
//! secretary enters one from paper); the 民主测评 by code refuses rating oneself, a ballot
//! that leaves someone out and a second ballot; paper ballots stop at the roll's size; the
//! 评定 at a held sitting computes every result with the weights (renormalised when a part
//! is missing) and the 优秀 share (a tie across it down together); a 不合格 member's handling
//! is recorded; results reach the member's record, 工作台 and the county's board; another
//! county sees nothing.

use crate::support::*;
use dangjian::db::DbRow;
use serde_json::{json, Value};

fn line(e: &Value, id: i64) -> Value {
    e["roll"]
        .as_array()
        .and_then(|r| r.iter().find(|x| x["member_id"] == id))
        .cloned()
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn a_branch_runs_its_appraisal_round_from_self_assessment_to_handling() {
    each_backend(|app| async move {
        app.ctx.clock.set_local(d(2026, 12, 3).and_hms_opt(10, 0, 0).expect("time"));
        let p = province(&app).await;
        let br = app.org(Some(p.counties[0]), "南坡村党支部", "branch", "village").await;
        let mut ms = Vec::new();
        for i in 0..6u16 {
            ms.push(app.member(br, &format!("南坡党员{i}"), 500 + i).await);
        }
        let sec = app.account("sec", br, "branch_secretary", None).await;
        let county = app.account("county", p.counties[0], "org_staff", None).await;
        let county_b = app.account("county_b", p.counties[2], "org_staff", None).await;
        let m0 = app.account("mem0", br, "member", Some(ms[0])).await;
        let m1 = app.account("mem1", br, "member", Some(ms[1])).await;
        let stranger = app.account("stranger", p.branches[0], "member", Some(p.members[0])).await;

        // opened by the branch, once a year, this year only in December
        let r = app.api(&m0, "POST", "/api/v1/appraisals", Some(json!({"org_id": br, "year": 2026}))).await;
        assert_eq!(r.0.as_u16(), 403, "{r:?}");
        let bad = app.api(&sec, "POST", "/api/v1/appraisals", Some(json!({"org_id": br, "year": 2025}))).await;
        assert_eq!(fields(&bad.1), ["year"], "{bad:?}");
        let a = ok(app.api(&sec, "POST", "/api/v1/appraisals", Some(json!({"org_id": br, "year": 2026}))).await);
        let id = a["id"].as_i64().expect("id");
        assert_eq!(a["status"], "open");
        assert_eq!(a["roll"].as_array().map(Vec::len), Some(6));
        refused(app.api(&sec, "POST", "/api/v1/appraisals", Some(json!({"org_id": br, "year": 2026}))).await, "appraisal.exists");
        refused(app.api(&county_b, "GET", &format!("/api/v1/appraisals/{id}"), None).await, "not_found");
        refused(app.api(&stranger, "GET", &format!("/api/v1/appraisals/{id}"), None).await, "not_found");

        // 工作台: the member owes a self-assessment
        let wb = ok(app.api(&m0, "GET", "/api/v1/workbench", None).await);
        assert!(wb.to_string().contains("填写2026年度民主评议个人自评"), "{wb}");

        // 个人自评: at least 20 characters, a grade of the rules
        let own = |text: &str, grade: &str| json!({"text": text, "grade": grade});
        let bad = app.api(&m0, "POST", &format!("/api/v1/appraisals/{id}/self"), Some(own("太短", "优秀"))).await;
        assert_eq!(fields(&bad.1), ["text"], "{bad:?}");
        let long = "一年来认真学习党的理论，按时参加组织生活，带头参与村里环境整治和防汛工作。";
        let bad = app.api(&m0, "POST", &format!("/api/v1/appraisals/{id}/self"), Some(own(long, "良好"))).await;
        assert_eq!(fields(&bad.1), ["grade"], "{bad:?}");
        let ghost = format!("{}好", "\u{200B}".repeat(30));
        let bad = app.api(&m0, "POST", &format!("/api/v1/appraisals/{id}/self"), Some(own(&ghost, "优秀"))).await;
        assert_eq!(fields(&bad.1), ["text"], "invisible characters are not text: {bad:?}");
        let a = ok(app.api(&m0, "POST", &format!("/api/v1/appraisals/{id}/self"), Some(own(long, "优秀"))).await);
        assert_eq!(a["roll"].as_array().map(Vec::len), Some(1), "a member sees their own line only");
        assert_eq!(a["roll_size"], 6);
        // the secretary never overwrites what a member wrote
        let mut over = own(long, "合格");
        over["member_id"] = json!(ms[0]);
        refused(app.api(&sec, "POST", &format!("/api/v1/appraisals/{id}/self"), Some(over)).await, "appraisal.self_written");
        // a member cannot write another's; the secretary enters one from paper
        let mut other = own(long, "合格");
        other["member_id"] = json!(ms[1]);
        let r = app.api(&m0, "POST", &format!("/api/v1/appraisals/{id}/self"), Some(other.clone())).await;
        assert_eq!(r.0.as_u16(), 403, "{r:?}");
        ok(app.api(&sec, "POST", &format!("/api/v1/appraisals/{id}/self"), Some(other)).await);

        // 民主测评: only the branch opens it; the code is shown only to those who run it (the branch and the levels above), never to members
        let r = app.api(&m0, "POST", &format!("/api/v1/appraisals/{id}/rating"), None).await;
        assert_eq!(r.0.as_u16(), 403, "{r:?}");
        let a = ok(app.api(&sec, "POST", &format!("/api/v1/appraisals/{id}/rating"), None).await);
        let code = a["rate_code"].as_str().expect("code").to_string();
        assert_eq!(code.len(), 6);
        assert!(ok(app.api(&m0, "GET", &format!("/api/v1/appraisals/{id}"), None).await)["rate_code"].is_null());
        assert!(ok(app.api(&county_b, "GET", "/api/v1/appraisals?year=2026", None).await)["rounds"].as_array().is_some_and(Vec::is_empty));

        // ratings: 南坡党员1–4 优秀 from everyone, 5 不合格, 0 合格
        let grade = |m: usize| match m { 0 => "合格", 5 => "不合格", _ => "优秀" };
        let ballot = |skip: Option<usize>, code: &str| json!({"code": code, "ratings": (0..6usize).filter(|i| Some(*i) != skip)
            .map(|i| json!({"member_id": ms[i], "grade": grade(i), "comment": if i == 5 { "长期不参加组织生活" } else { "" }})).collect::<Vec<_>>()});
        refused(app.api(&m0, "POST", "/api/v1/appraisals/rate", Some(ballot(None, &code))).await, "appraisal.self_rating");
        let mut short = ballot(Some(0), &code);
        short["ratings"].as_array_mut().expect("r").pop();
        let bad = app.api(&m0, "POST", "/api/v1/appraisals/rate", Some(short)).await;
        assert_eq!(fields(&bad.1), ["ratings"], "{bad:?}");
        assert!(bad.1.to_string().contains("南坡党员5"), "names who is missing: {bad:?}");
        refused(app.api(&m0, "POST", "/api/v1/appraisals/rate", Some(ballot(Some(0), "000000"))).await, "not_found");
        refused(app.api(&stranger, "POST", "/api/v1/appraisals/rate", Some(ballot(None, &code))).await, "not_found");
        let wb = ok(app.api(&m0, "GET", "/api/v1/workbench", None).await);
        assert!(wb.to_string().contains("参加2026年度民主测评"), "{wb}");
        ok(app.api(&m0, "POST", "/api/v1/appraisals/rate", Some(ballot(Some(0), &code))).await);
        refused(app.api(&m0, "POST", "/api/v1/appraisals/rate", Some(ballot(Some(0), &code))).await, "appraisal.rated");
        // while ballots come in, nobody sees how anyone was rated (a refreshed tally would
        // tell who gave what)
        let a = ok(app.api(&sec, "GET", &format!("/api/v1/appraisals/{id}"), None).await);
        assert!(line(&a, ms[5])["peer_score"].is_null() && line(&a, ms[5])["comments"].as_array().is_some_and(Vec::is_empty), "{a}");
        assert!(line(&a, ms[5]).get("rated_count").is_none(), "counts are never shown");
        // the 评定 waits for ballots from half of the roll (one of six so far)
        let first = json!({"org_id": br, "kinds": ["assembly"], "held_on": "2026-12-03", "starts": "09:00", "ends": "11:00", "place": "村委会"});
        let early = ok(app.api(&sec, "POST", "/api/v1/meetings", Some(first)).await)["id"].as_i64().expect("id");
        ok(app.api(&sec, "POST", &format!("/api/v1/meetings/{early}/notify"), None).await);
        refused(app.api(&sec, "POST", &format!("/api/v1/appraisals/{id}/decision"), Some(json!({"meeting_id": early, "grades": []}))).await, "appraisal.few_ballots");
        let wb = ok(app.api(&m0, "GET", "/api/v1/workbench", None).await);
        assert!(!wb.to_string().contains("参加2026年度民主测评"), "{wb}");
        // paper ballots: the whole roll, never more ballots than members
        let paper = json!({"ratings": (0..6usize).map(|i| json!({"member_id": ms[i], "grade": grade(i)})).collect::<Vec<_>>()});
        for _ in 0..5 {
            ok(app.api(&sec, "POST", &format!("/api/v1/appraisals/{id}/paper"), Some(paper.clone())).await);
        }
        refused(app.api(&sec, "POST", &format!("/api/v1/appraisals/{id}/paper"), Some(paper)).await, "appraisal.ballots_full");
        let a = ok(app.api(&sec, "GET", &format!("/api/v1/appraisals/{id}"), None).await);
        assert_eq!(a["ballots"], 6);
        assert_eq!(a["paper_ballots"], 5);

        // 评定 at a held sitting of the branch
        let sitting = |day: &str, kinds: Value| json!({"org_id": br, "kinds": kinds, "held_on": day, "starts": "09:00", "ends": "11:00", "place": "村委会"});
        let later = ok(app.api(&sec, "POST", "/api/v1/meetings", Some(sitting("2026-12-05", json!(["assembly"])))).await)["id"].as_i64().expect("id");
        let theme = ok(app.api(&sec, "POST", "/api/v1/meetings", Some(sitting("2026-12-03", json!(["theme_day"])))).await)["id"].as_i64().expect("id");
        let held = ok(app.api(&sec, "POST", "/api/v1/meetings", Some(sitting("2026-12-03", json!(["assembly"])))).await)["id"].as_i64().expect("id");
        // only planned: no roll, not held yet
        let bad = app.api(&sec, "POST", &format!("/api/v1/appraisals/{id}/decision"), Some(json!({"meeting_id": held, "grades": []}))).await;
        assert_eq!(fields(&bad.1), ["meeting_id"], "{bad:?}");
        ok(app.api(&sec, "POST", &format!("/api/v1/meetings/{held}/notify"), None).await);
        // a sitting before the round was opened
        app.exec(&format!("UPDATE appraisals SET created_at = '2026-12-04T00:00:00Z' WHERE id = {id}")).await;
        let bad = app.api(&sec, "POST", &format!("/api/v1/appraisals/{id}/decision"), Some(json!({"meeting_id": held, "grades": []}))).await;
        assert_eq!(fields(&bad.1), ["meeting_id"], "{bad:?}");
        app.exec(&format!("UPDATE appraisals SET created_at = '2026-12-03T01:00:00Z' WHERE id = {id}")).await;
        // the committee: 4 优秀, 2 and 3 合格, 1 合格, 5 不合格, 0 合格
        let decide = |mid: i64, g2: &str| json!({"meeting_id": mid, "grades": [
            {"member_id": ms[0], "grade": "合格"}, {"member_id": ms[1], "grade": "合格"}, {"member_id": ms[2], "grade": g2},
            {"member_id": ms[3], "grade": "合格"}, {"member_id": ms[4], "grade": "优秀"}, {"member_id": ms[5], "grade": "不合格"}]});
        for mid in [later, theme] {
            let bad = app.api(&sec, "POST", &format!("/api/v1/appraisals/{id}/decision"), Some(decide(mid, "合格"))).await;
            assert_eq!(fields(&bad.1), ["meeting_id"], "{bad:?}");
        }
        let bad = app.api(&sec, "POST", &format!("/api/v1/appraisals/{id}/decision"), Some(decide(held, "良好"))).await;
        assert_eq!(fields(&bad.1), ["grades"], "{bad:?}");
        let a = ok(app.api(&sec, "POST", &format!("/api/v1/appraisals/{id}/decision"), Some(decide(held, "合格"))).await);
        assert_eq!(a["status"], "decided");
        assert!(a["rate_code"].is_null());
        assert_eq!(line(&a, ms[5])["comments"].as_array().map(Vec::len), Some(1));
        assert_eq!(line(&a, ms[1])["peer_score"], 1000);
        // the sitting stays held
        refused(app.api(&sec, "POST", &format!("/api/v1/meetings/{held}/cancel"), Some(json!({"reason": "改期"}))).await, "meeting.appraisal_decided");
        // 0: 20% × 100 + 50% × 80 + 30% × 80 = 84.0; 1: 16 + 50 + 24 = 90.0
        // 2, 3 (no self-assessment): (50% × 100 + 30% × 80) / 80% = 92.5; 4: 100; 5: 0
        let got: Vec<(i64, String)> = ms.iter().map(|m| { let l = line(&a, *m); (l["score"].as_i64().unwrap_or(-1), l["grade"].as_str().unwrap_or("").to_string()) }).collect();
        assert_eq!(got, [(840, "合格".into()), (900, "合格".into()), (925, "合格".into()), (925, "合格".into()), (1000, "优秀".into()), (0, "不合格".into())]);
        // at most ⌊6/3⌋ = 2 优秀: 2 and 3 tie across the limit and go down together
        assert!(line(&a, ms[2])["grade_note"].as_str().unwrap_or("").contains("超出优秀比例"), "{a}");
        assert!(line(&a, ms[1])["grade_note"].as_str().unwrap_or("").contains("超出优秀比例"), "{a}");
        refused(app.api(&sec, "POST", &format!("/api/v1/appraisals/{id}/decision"), Some(decide(held, "合格"))).await, "appraisal.decided");
        refused(app.api(&sec, "POST", &format!("/api/v1/appraisals/{id}/self"), Some(json!({"member_id": ms[1], "text": long, "grade": "优秀"}))).await, "appraisal.decided");

        // the member sees their own result
        let mine = ok(app.api(&m1, "GET", &format!("/api/v1/appraisals/{id}"), None).await);
        assert_eq!(line(&mine, ms[1])["grade"], "合格");
        assert!(line(&mine, ms[1])["comments"].as_array().is_some_and(Vec::is_empty));

        // 不合格: handling recorded (only for the last grade; a way of the rules; a note)
        let wb = ok(app.api(&sec, "GET", "/api/v1/workbench", None).await);
        assert!(wb.to_string().contains("1名不合格党员待记录组织处置"), "{wb}");
        let h = |m: i64, how: &str, note: &str| json!({"member_id": m, "handling": how, "note": note});
        refused(app.api(&sec, "POST", &format!("/api/v1/appraisals/{id}/handling"), Some(h(ms[4], "correct", "x"))).await, "appraisal.not_last");
        let bad = app.api(&sec, "POST", &format!("/api/v1/appraisals/{id}/handling"), Some(h(ms[5], "warn", "x"))).await;
        assert_eq!(fields(&bad.1), ["handling"], "{bad:?}");
        let bad = app.api(&sec, "POST", &format!("/api/v1/appraisals/{id}/handling"), Some(h(ms[5], "correct", " "))).await;
        assert_eq!(fields(&bad.1), ["note"], "{bad:?}");
        ok(app.api(&sec, "POST", &format!("/api/v1/appraisals/{id}/handling"), Some(h(ms[5], "correct", "支委会谈话，限期三个月改正，每月汇报思想"))).await);
        refused(app.api(&county, "POST", &format!("/api/v1/appraisals/{id}/handling"), Some(h(ms[5], "expel", "改写"))).await, "appraisal.handled");
        let wb = ok(app.api(&sec, "GET", "/api/v1/workbench", None).await);
        assert!(!wb.to_string().contains("不合格党员待记录组织处置"), "{wb}");

        // on the member's record: their own, and theirs for those with member rights only
        let r = ok(app.api(&sec, "GET", &format!("/api/v1/appraisals/results?member_id={}", ms[5]), None).await);
        assert_eq!(r[0]["grade"], "不合格");
        assert_eq!(r[0]["handling_label"], "限期改正");
        assert_eq!(ok(app.api(&m1, "GET", "/api/v1/appraisals/results", None).await)[0]["grade"], "合格");
        refused(app.api(&m1, "GET", &format!("/api/v1/appraisals/results?member_id={}", ms[5]), None).await, "not_found");
        refused(app.api(&county_b, "GET", &format!("/api/v1/appraisals/results?member_id={}", ms[5]), None).await, "not_found");

        // the county's board: the year's members by grade
        let b = ok(app.api(&county, "GET", "/api/v1/appraisals?year=2026", None).await);
        assert_eq!(b["totals"], json!([1, 4, 0, 1]), "{b}");
        assert_eq!(b["decided"], 1);
        assert_eq!(b["started"], 1);

        // the pages render
        let (web, csrf) = app.browser("county_web", p.counties[0], "org_staff").await;
        let (s, _, html) = app.page(&web, "GET", "/appraisals?year=2026", None).await;
        assert_eq!(s.as_u16(), 200, "{html}");
        assert!(html.contains("南坡村党支部"), "{html}");
        let (s, _, html) = app.page(&web, "GET", &format!("/appraisals/{id}"), None).await;
        assert_eq!(s.as_u16(), 200, "{html}");
        assert!(html.contains("长期不参加组织生活") && html.contains("限期改正"), "{html}");
        let (s, _, html) = app.page(&web, "GET", &format!("/members/{}", ms[5]), None).await;
        assert_eq!(s.as_u16(), 200, "{html}");
        assert!(html.contains("民主评议") && html.contains("不合格"), "the member's record");
        // a second round for another branch through the form; cancelled
        let (s, h, _) = app.page(&web, "POST", "/appraisals", Some(&format!("_csrf={csrf}&org_id={}&year=2026", p.branches[0]))).await;
        assert_eq!(s.as_u16(), 303);
        let loc = h.get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let other: i64 = loc.trim_start_matches("/appraisals/").split('?').next().unwrap_or("").parse().expect("id");
        let (s, _, _) = app.page(&web, "POST", &format!("/appraisals/{other}/cancel"), Some(&format!("_csrf={csrf}"))).await;
        assert_eq!(s.as_u16(), 303);
        assert_eq!(ok(app.api(&county, "GET", &format!("/api/v1/appraisals/{other}"), None).await)["status"], "cancelled");

        // the ballots are secret: the record of one says that it was cast, not what it said
        let (n, leak) = dangjian::on_db!(&app.ctx.db, x => {
            let rows = sqlx::query("SELECT after_json FROM audit_log WHERE action = 'appraisal.ballot'").fetch_all(x).await.expect("rows");
            (rows.len(), rows.iter().any(|r| r.string("after_json").unwrap_or_default().contains("优秀")))
        });
        assert_eq!((n, leak), (6, false));
        assert!(matches!(app.verify().await, dangjian::audit::VerifyOutcome::Ok { .. }), "the chain holds");
    })
    .await;
}
