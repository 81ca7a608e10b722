//! 换届选举: a branch whose term ends asks for 延期 (capped, decided by the level above), then
//! prepares an election (seats, 差额 candidates, held at a notified assembly), is refused at
//! exactly ⅘ present and counted at ⅘ + 1 (more than half of those present to be elected,
//! ballots that add up), and the level above's 批复 replaces the committee and starts the
//! term; the branch cannot approve itself and another county sees nothing.

use crate::support::*;
use dangjian::db::DbRow;
use serde_json::json;

#[tokio::test]
async fn a_branch_postpones_then_elects_its_committee_and_the_county_approves() {
    each_backend(|app| async move {
        app.ctx.clock.set_local(d(2026, 12, 3).and_hms_opt(10, 0, 0).expect("time"));
        let p = province(&app).await;
        let br = app.org(Some(p.counties[0]), "东风村党支部", "branch", "village").await;
        // a village term of five years from 2021-12-20 ends 2026-12-20: 17 days left
        app.exec(&format!("UPDATE orgs SET has_committee = TRUE, committee_size = 3, term_start = '2021-12-20' WHERE id = {br}")).await;
        let mut ms = Vec::new();
        for i in 0..10u16 {
            ms.push(app.member(br, &format!("东风党员{i}"), 400 + i).await);
        }
        let mut prob = member_input(br, "东风预备党员", 450);
        prob.status = "probationary".into();
        prob.full_date = None;
        prob.join_date = d(2026, 3, 1);
        let prob = app.member_with(prob).await;
        let sec = app.account("sec", br, "branch_secretary", None).await;
        let county = app.account("county", p.counties[0], "org_staff", None).await;
        let county_b = app.account("county_b", p.counties[2], "org_staff", None).await;

        // the county sees the term ending; the branch has it on 工作台
        let b = ok(app.api(&county, "GET", "/api/v1/elections", None).await);
        let terms = b["terms"].as_array().expect("terms");
        assert!(terms.iter().any(|t| t["org_id"] == br && t["days_left"] == 17), "{b}");
        let wb = ok(app.api(&sec, "GET", "/api/v1/workbench", None).await);
        assert!(wb.to_string().contains("本届任期将于2026-12-20届满"), "{wb}");

        // 延期: capped at 12 months, one request at a time, decided only by the level above
        let ask = |months: i64| json!({"org_id": br, "months": months, "reason": "村两委换届统一安排"});
        refused(app.api(&sec, "POST", "/api/v1/term-extensions", Some(ask(13))).await, "election.extension_cap");
        let x = ok(app.api(&sec, "POST", "/api/v1/term-extensions", Some(ask(6))).await);
        let xid = x["id"].as_i64().expect("id");
        assert_eq!(x["status"], "asked");
        refused(app.api(&sec, "POST", "/api/v1/term-extensions", Some(ask(1))).await, "election.extension_pending");
        let r = app.api(&sec, "POST", &format!("/api/v1/term-extensions/{xid}/decision"), Some(json!({"approve": true}))).await;
        assert_eq!(r.0.as_u16(), 403, "{r:?}");
        refused(app.api(&county_b, "POST", &format!("/api/v1/term-extensions/{xid}/decision"), Some(json!({"approve": true}))).await, "not_found");
        let wb = ok(app.api(&county, "GET", "/api/v1/workbench", None).await);
        assert!(wb.to_string().contains("审批延期换届申请：东风村党支部"), "{wb}");
        let x = ok(app.api(&county, "POST", &format!("/api/v1/term-extensions/{xid}/decision"), Some(json!({"approve": true, "note": "同意"}))).await);
        assert_eq!(x["status"], "approved");
        // the term now ends 2027-06-20: no longer due
        let b = ok(app.api(&county, "GET", "/api/v1/elections", None).await);
        assert!(!b["terms"].as_array().expect("terms").iter().any(|t| t["org_id"] == br), "{b}");
        // 6 approved + 7 asked passes the cap
        refused(app.api(&sec, "POST", "/api/v1/term-extensions", Some(ask(7))).await, "election.extension_cap");

        // an assembly of the whole roll to hold it at
        let m = ok(app.api(&sec, "POST", "/api/v1/meetings", Some(json!({"org_id": br, "kinds": ["assembly"], "held_on": "2026-12-04", "starts": "09:00", "ends": "11:00", "place": "村委会"}))).await);
        let mid = m["id"].as_i64().expect("id");
        let new = |seats: i64, cands: &[i64]| json!({"org_id": br, "meeting_id": mid, "seats": seats, "candidates": cands});
        // 差额: 3 seats need 4 candidates
        refused(app.api(&sec, "POST", "/api/v1/elections", Some(new(3, &ms[..3]))).await, "election.margin");
        let bad = app.api(&sec, "POST", "/api/v1/elections", Some(new(2, &ms[..4]))).await;
        assert_eq!(fields(&bad.1), ["seats"], "{bad:?}");
        let bad = app.api(&sec, "POST", "/api/v1/elections", Some(new(3, &[ms[0], ms[1], ms[2], prob]))).await;
        assert_eq!(fields(&bad.1), ["candidates"], "a probationary member cannot stand: {bad:?}");
        let e = ok(app.api(&sec, "POST", "/api/v1/elections", Some(new(3, &ms[..4]))).await);
        let eid = e["id"].as_i64().expect("id");
        assert_eq!(e["status"], "prepared");
        assert_eq!(e["min_candidates"], 4);
        // one election under way per branch (on another assembly too), one per assembly
        let m2 = ok(app.api(&sec, "POST", "/api/v1/meetings", Some(json!({"org_id": br, "kinds": ["assembly"], "held_on": "2026-12-11", "starts": "09:00", "ends": "11:00"}))).await)["id"].as_i64().expect("id");
        let mut other = new(3, &ms[..4]);
        other["meeting_id"] = json!(m2);
        refused(app.api(&sec, "POST", "/api/v1/elections", Some(other)).await, "election.under_way");
        let bad = app.api(&sec, "POST", "/api/v1/elections", Some(new(3, &ms[..4]))).await;
        assert_eq!(fields(&bad.1), ["meeting_id"], "{bad:?}");
        refused(app.api(&county_b, "GET", &format!("/api/v1/elections/{eid}"), None).await, "not_found");

        // the assembly is checked again when counted: narrowed to some invitees, it is refused
        let narrow = json!({"org_id": br, "kinds": ["assembly"], "held_on": "2026-12-04", "starts": "09:00", "ends": "11:00", "place": "村委会", "invitees": &ms[..5]});
        ok(app.api(&sec, "PUT", &format!("/api/v1/meetings/{mid}"), Some(narrow)).await);
        let bad = app.api(&sec, "POST", &format!("/api/v1/elections/{eid}/count"), Some(json!({"ballots_returned": 5}))).await;
        assert_eq!(fields(&bad.1), ["meeting_id"], "{bad:?}");
        let whole = json!({"org_id": br, "kinds": ["assembly"], "held_on": "2026-12-04", "starts": "09:00", "ends": "11:00", "place": "村委会", "invitees": []});
        ok(app.api(&sec, "PUT", &format!("/api/v1/meetings/{mid}"), Some(whole)).await);

        // the sitting: notified (ten with a vote, one without), eight sign in
        ok(app.api(&sec, "POST", &format!("/api/v1/meetings/{mid}/notify"), None).await);
        app.ctx.clock.set_local(d(2026, 12, 4).and_hms_opt(9, 5, 0).expect("time"));
        for m in &ms[..8] {
            ok(app.api(&sec, "POST", &format!("/api/v1/meetings/{mid}/mark"), Some(json!({"member_id": m, "status": "present"}))).await);
        }
        ok(app.api(&sec, "POST", &format!("/api/v1/meetings/{mid}/mark"), Some(json!({"member_id": prob, "status": "present"}))).await);
        let count = |votes: [i64; 4], returned: i64| json!({
            "ballots_returned": returned, "ballots_invalid": 0,
            "votes": ms[..4].iter().zip(votes).map(|(m, v)| json!({"member_id": m, "votes": v})).collect::<Vec<_>>(),
            "secretary": ms[0], "deputies": [ms[1]]});
        // eight of ten is ⅘ exactly: not more, so void, and nothing written
        let r = app.api(&sec, "POST", &format!("/api/v1/elections/{eid}/count"), Some(count([8, 7, 6, 2], 8))).await;
        refused(r.clone(), "election.no_quorum");
        assert!(r.1["message"].as_str().unwrap_or("").contains("应到10人，实到8人"), "{r:?}");
        let e = ok(app.api(&sec, "GET", &format!("/api/v1/elections/{eid}"), None).await);
        assert_eq!(e["status"], "prepared");
        // the ninth: ⅘ + 1
        ok(app.api(&sec, "POST", &format!("/api/v1/meetings/{mid}/mark"), Some(json!({"member_id": ms[8], "status": "present"}))).await);
        // more ballots back than issued (nine), and votes beyond nine × 3
        refused(app.api(&sec, "POST", &format!("/api/v1/elections/{eid}/count"), Some(count([8, 7, 6, 2], 10))).await, "election.too_many_ballots");
        let bad = app.api(&sec, "POST", &format!("/api/v1/elections/{eid}/count"), Some(count([9, 9, 9, 1], 9))).await;
        assert_eq!(fields(&bad.1), ["votes"], "{bad:?}");
        // every candidate once, none twice
        let mut dup = count([8, 7, 6, 4], 9);
        dup["votes"][3]["member_id"] = json!(ms[0]);
        let bad = app.api(&sec, "POST", &format!("/api/v1/elections/{eid}/count"), Some(dup)).await;
        assert_eq!(fields(&bad.1), ["votes"], "{bad:?}");
        let mut short = count([8, 7, 6, 4], 9);
        short["votes"].as_array_mut().expect("votes").pop();
        let bad = app.api(&sec, "POST", &format!("/api/v1/elections/{eid}/count"), Some(short)).await;
        assert_eq!(fields(&bad.1), ["votes"], "{bad:?}");
        // fewer elected than the committee's minimum: another round first
        refused(app.api(&sec, "POST", &format!("/api/v1/elections/{eid}/count"), Some(count([8, 7, 4, 4], 9))).await, "election.too_few_elected");
        // 8, 7, 6 of nine present are more than half; 4 is not
        let e = ok(app.api(&sec, "POST", &format!("/api/v1/elections/{eid}/count"), Some(count([8, 7, 6, 4], 9))).await);
        assert_eq!(e["status"], "reported");
        assert_eq!(e["voting_expected"], 10);
        assert_eq!(e["voting_present"], 9);
        let elected: Vec<bool> = e["candidates"].as_array().expect("c").iter().map(|c| c["elected"] == true).collect();
        assert_eq!(elected, [true, true, true, false]);
        assert_eq!(e["unfilled"], 0);

        // a 延期 asked meanwhile (6 + 6 is within the cap) lapses with the old term
        let x2 = ok(app.api(&sec, "POST", "/api/v1/term-extensions", Some(ask(6))).await)["id"].as_i64().expect("id");
        // the 批复: only the level above, with its number; then the committee and the term
        let r = app.api(&sec, "POST", &format!("/api/v1/elections/{eid}/decision"), Some(json!({"approve": true, "approval_no": "县委组〔2026〕1号"}))).await;
        assert_eq!(r.0.as_u16(), 403, "{r:?}");
        let bad = app.api(&county, "POST", &format!("/api/v1/elections/{eid}/decision"), Some(json!({"approve": true}))).await;
        assert_eq!(fields(&bad.1), ["approval_no"], "{bad:?}");
        let bad = app.api(&county, "POST", &format!("/api/v1/elections/{eid}/decision"), Some(json!({"approve": false}))).await;
        assert_eq!(fields(&bad.1), ["note"], "{bad:?}");
        let wb = ok(app.api(&county, "GET", "/api/v1/workbench", None).await);
        assert!(wb.to_string().contains("批复换届选举结果：东风村党支部"), "{wb}");
        let e = ok(app.api(&county, "POST", &format!("/api/v1/elections/{eid}/decision"), Some(json!({"approve": true, "approval_no": "县委组〔2026〕1号"}))).await);
        assert_eq!(e["status"], "approved");
        let c = ok(app.api(&county, "GET", &format!("/api/v1/elections/committee?org_id={br}"), None).await);
        let roles: Vec<&str> = c.as_array().expect("c").iter().map(|s| s["role"].as_str().unwrap_or("")).collect();
        assert_eq!(roles, ["secretary", "deputy", "member"]);
        assert_eq!(c[0]["member_id"], ms[0]);
        let (start, size, ext) = dangjian::on_db!(&app.ctx.db, x => {
            let r = sqlx::query("SELECT term_start, committee_size, term_extended_months FROM orgs WHERE id = $1").bind(br).fetch_one(x).await.expect("org");
            (r.date("term_start").expect("d"), r.i64("committee_size").expect("n"), r.i64("term_extended_months").expect("m"))
        });
        assert_eq!((start, size, ext), (d(2026, 12, 4), 3, 0), "the new term, its 延期 lapsed");
        let x2 = ok(app.api(&county, "GET", "/api/v1/elections", None).await)["extensions"].as_array().expect("x").iter()
            .find(|x| x["id"] == x2).cloned().expect("the 延期");
        assert_eq!(x2["status"], "refused", "{x2}");
        refused(app.api(&county, "POST", &format!("/api/v1/term-extensions/{}/decision", x2["id"]), Some(json!({"approve": true}))).await, "election.extension_decided");
        // one assembly, one election
        let bad = app.api(&sec, "POST", "/api/v1/elections", Some(new(3, &ms[..4]))).await;
        assert_eq!(fields(&bad.1), ["meeting_id"], "{bad:?}");
        // decided once
        refused(app.api(&county, "POST", &format!("/api/v1/elections/{eid}/decision"), Some(json!({"approve": true, "approval_no": "x"}))).await, "election.not_reported");
        // the pages render: the board with a term run out (应换未换), the election, its
        // ballot and tally sheet
        let late = app.org(Some(p.counties[0]), "西岭村党支部", "branch", "village").await;
        app.exec(&format!("UPDATE orgs SET has_committee = TRUE, committee_size = 3, term_start = '2021-06-01' WHERE id = {late}")).await;
        let (web, _) = app.browser("county_web", p.counties[0], "org_staff").await;
        let (s, _, html) = app.page(&web, "GET", "/elections", None).await;
        assert_eq!(s.as_u16(), 200, "{html}");
        assert!(html.contains("西岭村党支部") && html.contains("应换未换 186 天"), "{html}");
        for path in [format!("/elections/{eid}"), format!("/elections/{eid}/ballot"), format!("/elections/{eid}/tally")] {
            let (s, _, html) = app.page(&web, "GET", &path, None).await;
            assert_eq!(s.as_u16(), 200, "{path}: {html}");
            assert!(html.contains("东风党员0"), "{path}");
        }
        // 谈心谈话 now take their category from the approved committee
        let talk = |a: i64, b: i64| json!({"org_id": br, "held_on": "2026-12-04", "a_member_id": a, "b_member_id": b, "topic": "交流思想，听取对支部工作的意见"});
        assert_eq!(ok(app.api(&sec, "POST", "/api/v1/talks", Some(talk(ms[0], ms[1]))).await)["category"], "committee");
        assert_eq!(ok(app.api(&sec, "POST", "/api/v1/talks", Some(talk(ms[5], ms[0]))).await)["category"], "mixed");
        let bad = app.api(&sec, "POST", "/api/v1/talks", Some(talk(ms[5], ms[5]))).await;
        assert_eq!(fields(&bad.1), ["b_member_id"], "{bad:?}");
        let bad = app.api(&sec, "POST", "/api/v1/talks", Some(talk(ms[5], p.members[0]))).await;
        assert_eq!(fields(&bad.1), ["a_member_id"], "a member of another branch: {bad:?}");
        let mut foreign = talk(ms[5], ms[6]);
        foreign["org_id"] = json!(p.branches[4]);
        refused(app.api(&sec, "POST", "/api/v1/talks", Some(foreign)).await, "not_found");
        let t = ok(app.api(&sec, "GET", &format!("/api/v1/talks?org_id={br}&year=2026"), None).await);
        let covered: Vec<bool> = t["coverage"].as_array().expect("c").iter().map(|c| c["covered"] == true).collect();
        assert_eq!(covered, [true, true, false], "no talk between two members yet: {t}");
        ok(app.api(&sec, "POST", "/api/v1/talks", Some(talk(ms[5], ms[6]))).await);
        let t = ok(app.api(&sec, "GET", &format!("/api/v1/talks?org_id={br}&year=2026"), None).await);
        assert!(t["coverage"].as_array().expect("c").iter().all(|c| c["covered"] == true), "{t}");
        let (s, _, html) = app.page(&web, "GET", &format!("/meetings/year?org_id={br}&year=2026"), None).await;
        assert_eq!(s.as_u16(), 200, "{html}");
        assert!(html.contains("交流思想"), "the year shows the talks");
        // without a roster on record the category is stated
        let bare = json!({"org_id": late, "held_on": "2026-12-04", "a_member_id": 0, "b_member_id": 0, "topic": "谈心"});
        let (s, _) = app.api(&county, "POST", "/api/v1/talks", Some(bare)).await;
        assert_eq!(s.as_u16(), 422);
        let n = dangjian::on_db!(&app.ctx.db, x => {
            sqlx::query("SELECT COUNT(*) AS n FROM audit_log WHERE action LIKE 'election.%'").fetch_one(x).await.expect("n").i64("n").expect("n")
        });
        assert_eq!(n, 6, "ask, approve 延期, create, ask again, record, approve");
    })
    .await;
}
