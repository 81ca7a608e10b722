//! 组织生活: a branch secretary plans a sitting, notifies the roll, members sign in on their
//! phones by code (only in its window, only once), an observer signs in without an account,
//! a leave is asked and approved, the record is refused without quorum or with votes that do
//! not add up and filed with them; the filed record is locked, fulfils the period's
//! obligations and shows in the branch's year and the county's compliance; the year's plan is
//! made once from the rules; nobody outside the subtree sees any of it.

use crate::support::*;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use dangjian::db::DbRow;
use serde_json::{json, Value};

/// A call without an account (the public sign-in of observers).
async fn public(
    app: &TestApp,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut b = Request::builder().method(method).uri(path);
    let body = match body {
        Some(v) => {
            b = b.header(header::CONTENT_TYPE, "application/json");
            Body::from(v.to_string())
        }
        None => Body::empty(),
    };
    let (status, _, bytes) = app.send(b.body(body).expect("request")).await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn obligation(app: &TestApp, org: i64, kind: &str, period: &str) -> Option<String> {
    let (kind, period) = (kind.to_string(), period.to_string());
    dangjian::on_db!(&app.ctx.db, p => {
        sqlx::query("SELECT status FROM obligations WHERE subject_type = 'org' AND subject_id = $1 AND kind = $2 AND period = $3")
            .bind(org).bind(&kind).bind(&period).fetch_optional(p).await.expect("obligation")
            .map(|r| r.string("status").expect("status"))
    })
}

fn at(app: &TestApp, day: chrono::NaiveDate, h: u32, m: u32) {
    app.ctx
        .clock
        .set_local(day.and_hms_opt(h, m, 0).expect("time"));
}

#[tokio::test]
async fn a_branch_holds_an_assembly_on_the_theme_day_and_files_it() {
    each_backend(|app| async move {
        at(&app, d(2026, 12, 3), 10, 0);
        let p = province(&app).await;
        let br = app.org(Some(p.counties[0]), "红旗村党支部", "branch", "village").await;
        // a committee of three: an assembly with more present than that is no 支委会 and files
        app.exec(&format!("UPDATE orgs SET has_committee = TRUE, committee_size = 3 WHERE id = {br}")).await;
        // nine full members and one probationary member (no vote)
        let mut ms = Vec::new();
        for i in 0..9u16 {
            ms.push(app.member(br, &format!("村党员{i}"), 200 + i).await);
        }
        let mut prob = member_input(br, "预备党员甲", 300);
        prob.status = "probationary".into();
        prob.full_date = None;
        prob.join_date = d(2026, 3, 1);
        ms.push(app.member_with(prob).await);
        let sec = app.account("sec", br, "branch_secretary", None).await;
        let m0 = app.account("mem0", br, "member", Some(ms[0])).await;
        let m1 = app.account("mem1", br, "member", Some(ms[1])).await;
        let stranger = app.account("stranger", p.branches[0], "member", Some(p.members[0])).await;
        let county = app.account("county", p.counties[0], "org_staff", None).await;
        let county_b = app.account("county_b", p.counties[2], "org_staff", None).await;

        // planning: kinds known and fitting the organisation, a foreign organisation unseen
        let plan = |kinds: Value| json!({"org_id": br, "kinds": kinds, "held_on": "2026-12-04", "starts": "09:00", "ends": "11:00", "place": "村党群服务中心", "agenda": "1. 学习\n2. 表决"});
        let bad = app.api(&sec, "POST", "/api/v1/meetings", Some(plan(json!([])))).await;
        assert_eq!(fields(&bad.1), ["kinds"], "{bad:?}");
        let bad = app.api(&sec, "POST", "/api/v1/meetings", Some(plan(json!(["group"])))).await;
        assert_eq!(fields(&bad.1), ["kinds"], "a branch holds no 党小组会: {bad:?}");
        let mut late = plan(json!(["assembly"]));
        late["ends"] = json!("08:00");
        let bad = app.api(&sec, "POST", "/api/v1/meetings", Some(late)).await;
        assert_eq!(fields(&bad.1), ["ends"], "{bad:?}");
        let mut foreign = plan(json!(["assembly"]));
        foreign["org_id"] = json!(p.branches[4]);
        refused(app.api(&sec, "POST", "/api/v1/meetings", Some(foreign)).await, "not_found");
        let bad = app.api(&sec, "POST", "/api/v1/meetings", Some(plan(json!(["committee"])))).await;
        assert_eq!(fields(&bad.1), ["invitees"], "a committee meeting names its members: {bad:?}");
        let m = ok(app.api(&sec, "POST", "/api/v1/meetings", Some(plan(json!(["theme_day", "assembly"])))).await);
        let id = m["id"].as_i64().expect("id");
        assert_eq!(m["kinds"], json!(["assembly", "theme_day"]));
        assert_eq!(m["kinds_label"], "党员大会、主题党日");
        assert_eq!(m["status"], "planned");
        assert_eq!(m["title"], "12月4日党员大会、主题党日");
        // changed before the notice: the place and the time
        let mut change = plan(json!(["theme_day", "assembly"]));
        change["place"] = json!("村委会议室");
        change["starts"] = json!("08:30");
        let m = ok(app.api(&sec, "PUT", &format!("/api/v1/meetings/{id}"), Some(change.clone())).await);
        assert_eq!(m["place"], "村委会议室");
        refused(app.api(&county_b, "PUT", &format!("/api/v1/meetings/{id}"), Some(change)).await, "not_found");
        // not yet notified: no roll, so members do not see it
        refused(app.api(&m0, "GET", &format!("/api/v1/meetings/{id}"), None).await, "not_found");

        // notified: the roll's snapshot (ten, nine with a vote) and a six-digit code
        let m = ok(app.api(&sec, "POST", &format!("/api/v1/meetings/{id}/notify"), None).await);
        assert_eq!(m["attendance"].as_array().map(Vec::len), Some(10));
        assert_eq!(m["attendance"].as_array().expect("roll").iter().filter(|a| a["voting"] == true).count(), 9);
        let code = m["sign_code"].as_str().expect("code").to_string();
        assert_eq!(code.len(), 6);
        // a member on the roll sees it, never the code; one not on it does not
        let seen = ok(app.api(&m0, "GET", &format!("/api/v1/meetings/{id}"), None).await);
        assert!(seen["sign_code"].is_null(), "{seen}");
        refused(app.api(&stranger, "GET", &format!("/api/v1/meetings/{id}"), None).await, "not_found");
        refused(app.api(&county_b, "GET", &format!("/api/v1/meetings/{id}"), None).await, "not_found");
        // 工作台: the member's sitting to attend
        let todos = ok(app.api(&m0, "GET", "/api/v1/workbench", None).await);
        assert!(todos.as_array().expect("todos").iter().any(|t| t["source"] == "meetings" && t["link"] == format!("/meetings/{id}")), "{todos}");
        let mine = ok(app.api(&m0, "GET", "/api/v1/meetings/mine", None).await);
        assert_eq!(mine[0]["id"], id);
        assert_eq!(mine[0]["status"], "expected");

        // after the notice the kinds stay (the roll was taken for them)
        let bad = app.api(&sec, "PUT", &format!("/api/v1/meetings/{id}"), Some(plan(json!(["theme_day"])))).await;
        assert_eq!(fields(&bad.1), ["kinds"], "{bad:?}");
        // the day before: no sign-in yet; a leave asked; filing refused
        refused(app.api(&m0, "POST", "/api/v1/meetings/sign-in", Some(json!({"code": code}))).await, "meeting.sign_closed");
        let bad = app.api(&m1, "POST", &format!("/api/v1/meetings/{id}/leave"), Some(json!({"reason": " "}))).await;
        assert_eq!(fields(&bad.1), ["reason"], "{bad:?}");
        ok(app.api(&m1, "POST", &format!("/api/v1/meetings/{id}/leave"), Some(json!({"reason": "外出务工"}))).await);
        refused(app.api(&m1, "POST", &format!("/api/v1/meetings/{id}/leave"), Some(json!({"reason": "外出务工"}))).await, "meeting.leave_exists");
        let minutes = |votes: Value| json!({"host": "王书记", "recorder": "李委员", "summary": "传达学习上级精神，讨论村集体经济项目。", "votes": votes,
            "decisions": [{"text": "成立合作社筹备组", "owner": "王书记", "deadline": "2026-12-31"}]});
        refused(app.api(&sec, "POST", &format!("/api/v1/meetings/{id}/file"), Some(minutes(json!([])))).await, "meeting.not_held");

        // at the sitting: a member signs in once by code; a wrong code is not found
        at(&app, d(2026, 12, 4), 9, 5);
        refused(app.api(&m0, "POST", "/api/v1/meetings/sign-in", Some(json!({"code": "000000"}))).await, "not_found");
        let signed = ok(app.api(&m0, "POST", "/api/v1/meetings/sign-in", Some(json!({"code": code}))).await);
        assert_eq!(signed["attendance"].as_array().expect("roll").iter().find(|a| a["member_id"] == ms[0]).expect("m0")["status"], "present");
        refused(app.api(&m0, "POST", "/api/v1/meetings/sign-in", Some(json!({"code": code}))).await, "meeting.signed");
        refused(app.api(&stranger, "POST", "/api/v1/meetings/sign-in", Some(json!({"code": code}))).await, "not_found");
        refused(app.api(&m1, "POST", &format!("/api/v1/meetings/{id}/leave"), Some(json!({"reason": "临时有事"}))).await, "meeting.started");

        // an observer without an account: by name and code; again with the same name only adds the note
        let bad = public(&app, "POST", "/api/v1/public/attend", Some(json!({"code": code, "name": "", "category": "boss"}))).await;
        assert_eq!(fields(&bad.1), ["name", "category"], "{bad:?}");
        let s = public(&app, "POST", "/api/v1/public/attend", Some(json!({"code": code, "name": "赵干事", "unit": "县委组织部", "category": "upper"}))).await;
        assert_eq!(s.0, StatusCode::OK, "{s:?}");
        assert_eq!(s.1["id"], id);
        let s = public(&app, "POST", "/api/v1/public/attend", Some(json!({"code": code, "name": "赵干事", "category": "upper", "note": "议程规范"}))).await;
        assert_eq!(s.0, StatusCode::OK, "{s:?}");
        let s = public(&app, "POST", "/api/v1/public/attend", Some(json!({"code": code, "name": "赵干事", "category": "upper", "note": "发言充分"}))).await;
        assert_eq!(s.0, StatusCode::OK, "{s:?}");
        let v = public(&app, "GET", &format!("/api/v1/public/attend?code={code}"), None).await;
        assert_eq!(v.1["title"], "12月4日党员大会、主题党日", "{v:?}");

        // 工作台 of the secretary: the leave to decide and the sitting to file
        let todos = ok(app.api(&sec, "GET", "/api/v1/workbench", None).await);
        let titles: Vec<&str> = todos.as_array().expect("todos").iter().filter(|t| t["source"] == "meetings").map(|t| t["title"].as_str().unwrap_or("")).collect();
        assert!(titles.iter().any(|t| t.starts_with("审批会议请假")) && titles.iter().any(|t| t.starts_with("整理会议记录")), "{titles:?}");
        // the roll: the leave still undecided stops the filing
        refused(app.api(&sec, "POST", &format!("/api/v1/meetings/{id}/file"), Some(minutes(json!([])))).await, "meeting.leave_pending");
        ok(app.api(&sec, "POST", &format!("/api/v1/meetings/{id}/mark"), Some(json!({"member_id": ms[1], "status": "leave"}))).await);
        // four of nine voting members present: no quorum (more than half is five)
        for &mid in &ms[2..5] {
            ok(app.api(&sec, "POST", &format!("/api/v1/meetings/{id}/mark"), Some(json!({"member_id": mid, "status": "present"}))).await);
        }
        let r = app.api(&sec, "POST", &format!("/api/v1/meetings/{id}/file"), Some(minutes(json!([])))).await;
        refused(r.clone(), "meeting.no_quorum");
        assert!(r.1["message"].as_str().unwrap_or("").contains("超过应到人数的半数（应到9人，实到4人）"), "{r:?}");
        ok(app.api(&sec, "POST", &format!("/api/v1/meetings/{id}/mark"), Some(json!({"member_id": ms[5], "status": "present"}))).await);
        // the probationary member's presence counts for the roll, not the vote
        ok(app.api(&sec, "POST", &format!("/api/v1/meetings/{id}/mark"), Some(json!({"member_id": ms[9], "status": "present"}))).await);
        // five voting present: votes must add up to five
        let bad = app.api(&sec, "POST", &format!("/api/v1/meetings/{id}/file"), Some(minutes(json!([{"motion": "成立合作社", "ayes": 4, "noes": 0, "abstentions": 0}])))).await;
        assert_eq!(fields(&bad.1), ["vote_0"], "{bad:?}");
        let huge = app.api(&sec, "POST", &format!("/api/v1/meetings/{id}/file"), Some(minutes(json!([{"motion": "溢出", "ayes": i64::MAX, "noes": 1, "abstentions": 0}])))).await;
        assert_eq!(fields(&huge.1), ["vote_0"], "{huge:?}");
        let notlife = app.api(&sec, "POST", &format!("/api/v1/meetings/{id}/file"), Some(json!({"host": "王书记", "recorder": "李委员", "summary": "内容",
            "problems": [{"problem": "学习不深入", "measures": "制定学习计划", "owner": "王书记", "deadline": "2027-03-31"}]}))).await;
        assert_eq!(fields(&notlife.1), ["problems"], "problems go with a 组织生活会: {notlife:?}");
        let half = app.api(&sec, "POST", &format!("/api/v1/meetings/{id}/file"), Some(json!({"host": "王书记", "recorder": "李委员", "summary": "内容", "decisions": [{"text": "", "owner": "张三"}]}))).await;
        assert_eq!(fields(&half.1), ["decision_0"], "a decision without its text: {half:?}");
        let bad = app.api(&sec, "POST", &format!("/api/v1/meetings/{id}/file"), Some(json!({"host": "", "recorder": "", "summary": ""}))).await;
        assert_eq!(fields(&bad.1), ["host", "recorder", "summary"], "{bad:?}");
        let filed = ok(app.api(&sec, "POST", &format!("/api/v1/meetings/{id}/file"),
            Some(minutes(json!([{"motion": "成立合作社", "ayes": 5, "noes": 0, "abstentions": 0}, {"motion": "修路方案", "ayes": 4, "noes": 1, "abstentions": 0}])))).await);
        assert_eq!(filed["status"], "filed");
        assert!(filed["sign_code"].is_null());
        assert_eq!(filed["roll"], json!({"expected": 10, "present": 6, "voting_expected": 9, "voting_present": 5}));
        // 5 ayes of 9 entitled pass; 4 do not
        assert_eq!(filed["votes"][0]["passed"], true);
        assert_eq!(filed["votes"][1]["passed"], false);
        let absent = filed["attendance"].as_array().expect("roll").iter().filter(|a| a["status"] == "absent").count();
        assert_eq!(absent, 3, "whoever did not sign in is absent");
        assert_eq!(filed["observers"][0]["note"], "议程规范\n发言充分", "a second note adds to the first");

        // 积分: those present earn the assembly's and the theme day's attendance points, once
        let pts = |ind: &str| format!("SELECT COUNT(*) AS n FROM point_entries WHERE indicator = '{ind}' AND note LIKE '%会议记录第{id}号%'");
        assert_eq!((app.count(&pts("M15")).await, app.count(&pts("M17")).await), (6, 6));
        // locked: no change, no sign-in, only addenda
        refused(app.api(&sec, "POST", &format!("/api/v1/meetings/{id}/mark"), Some(json!({"member_id": ms[6], "status": "present"}))).await, "meeting.filed");
        refused(app.api(&sec, "POST", &format!("/api/v1/meetings/{id}/notify"), None).await, "meeting.filed");
        refused(app.api(&m0, "POST", "/api/v1/meetings/sign-in", Some(json!({"code": code}))).await, "not_found");
        refused(app.api(&m0, "POST", &format!("/api/v1/meetings/{id}/addenda"), Some(json!({"body": "补记"}))).await, "forbidden");
        let a = ok(app.api(&sec, "POST", &format!("/api/v1/meetings/{id}/addenda"), Some(json!({"body": "更正：第二项表决为修路方案（一期）"}))).await);
        assert_eq!(a["addenda"][0]["author"], "sec");
        assert_eq!(a["summary"], filed["summary"]);

        // 补学 of an absent member: once, from the sitting's day to today; not for one present
        let absent_one = filed["attendance"].as_array().expect("roll").iter().find(|a| a["status"] == "absent").expect("absent")["member_id"].clone();
        let mk = |day: &str| json!({"member_id": absent_one, "done_on": day, "note": "自学会议精神并交心得体会"});
        let bad = app.api(&sec, "POST", &format!("/api/v1/meetings/{id}/makeups"), Some(mk("2026-12-03"))).await;
        assert_eq!(fields(&bad.1), ["done_on"], "before the sitting: {bad:?}");
        refused(app.api(&sec, "POST", &format!("/api/v1/meetings/{id}/makeups"), Some(json!({"member_id": ms[0], "done_on": "2026-12-04", "note": "自学"}))).await, "meeting.no_makeup_needed");
        let done = ok(app.api(&sec, "POST", &format!("/api/v1/meetings/{id}/makeups"), Some(mk("2026-12-04"))).await);
        let row = done["attendance"].as_array().expect("roll").iter().find(|a| a["member_id"] == absent_one).cloned().expect("row");
        assert_eq!((row["makeup_on"].as_str(), row["status"].as_str()), (Some("2026-12-04"), Some("absent")));
        refused(app.api(&sec, "POST", &format!("/api/v1/meetings/{id}/makeups"), Some(mk("2026-12-04"))).await, "meeting.makeup_exists");
        // 落实: the decision is a to-do until it is recorded as carried out
        let todo = |v: &Value| v.as_array().expect("todos").iter().any(|t| t["title"].as_str().unwrap_or("").starts_with("落实会议决定：成立合作社筹备组"));
        assert!(todo(&ok(app.api(&sec, "GET", "/api/v1/workbench", None).await)));
        let bad = app.api(&sec, "POST", &format!("/api/v1/meetings/{id}/decisions"), Some(json!({"seq": 5, "done_on": "2026-12-04", "note": "已成立"}))).await;
        assert_eq!(fields(&bad.1), ["seq"], "{bad:?}");
        let done = ok(app.api(&sec, "POST", &format!("/api/v1/meetings/{id}/decisions"), Some(json!({"seq": 0, "done_on": "2026-12-04", "note": "筹备组已成立，五人组成"}))).await);
        assert_eq!(done["decisions"][0]["done_on"], "2026-12-04");
        assert_eq!(done["decisions"][0]["text"], "成立合作社筹备组", "the decision stays as filed");
        refused(app.api(&sec, "POST", &format!("/api/v1/meetings/{id}/decisions"), Some(json!({"seq": 0, "done_on": "2026-12-04", "note": "再次登记"}))).await, "meeting.decision_done");
        assert!(!todo(&ok(app.api(&sec, "GET", "/api/v1/workbench", None).await)));
        // the period's obligations fulfilled on time
        assert_eq!(obligation(&app, br, "meeting.assembly", "2026-Q4").await.as_deref(), Some("done"));
        assert_eq!(obligation(&app, br, "meeting.theme_day", "2026-12").await.as_deref(), Some("done"));
        assert_eq!(obligation(&app, br, "meeting.committee", "2026-12").await, None, "an assembly is no 支委会");

        // the branch's year and the county's compliance; another county sees neither
        let y = ok(app.api(&sec, "GET", &format!("/api/v1/meetings/year?org_id={br}&year=2026"), None).await);
        assert_eq!(y["meetings"][0]["id"], id);
        let kinds: Vec<&str> = y["kinds"].as_array().expect("kinds").iter().map(|k| k["kind"].as_str().unwrap_or("")).collect();
        assert_eq!(kinds, ["assembly", "committee", "lecture", "theme_day", "life", "appraisal"]);
        assert_eq!(y["attendance_permille"], 600, "six of ten present");
        assert_eq!(y["attendance"].as_array().map(Vec::len), Some(10));
        assert_eq!(y["attendance"][0]["permille"], 0, "the lowest first");
        let c = ok(app.api(&county, "GET", &format!("/api/v1/meetings/compliance?org_id={}&year=2026", p.counties[0]), None).await);
        assert_eq!(c["branches"], 3);
        assert_eq!(c["upper_observed"], 1);
        refused(app.api(&county_b, "GET", &format!("/api/v1/meetings/compliance?org_id={}&year=2026", p.counties[0]), None).await, "not_found");
        refused(app.api(&county_b, "GET", &format!("/api/v1/meetings/year?org_id={br}&year=2026"), None).await, "not_found");
        refused(app.api(&m0, "GET", &format!("/api/v1/meetings/year?org_id={br}&year=2026"), None).await, "forbidden");

        // the audit chain holds every step
        assert!(matches!(app.verify().await, dangjian::audit::VerifyOutcome::Ok { .. }));
        let actions = app.count("SELECT COUNT(*) AS n FROM audit_log WHERE object_type = 'meeting'").await;
        assert!(actions >= 14, "{actions}");
    })
    .await;
}

#[tokio::test]
async fn the_years_plan_comes_from_the_rules_once() {
    each_backend(|app| async move {
        at(&app, d(2026, 12, 20), 10, 0);
        let p = province(&app).await;
        let sec = app.account("sec", p.branches[0], "branch_secretary", None).await;
        // 2027: twelve theme days, four carrying the assembly, four the lecture, December's
        // also the 组织生活会 and the 民主评议; no committee, no groups
        let n = ok(app.api(&sec, "POST", "/api/v1/meetings/plan", Some(json!({"org_id": p.branches[0], "year": 2027}))).await);
        assert_eq!(n["planned"], 12);
        let again = ok(app.api(&sec, "POST", "/api/v1/meetings/plan", Some(json!({"org_id": p.branches[0], "year": 2027}))).await);
        assert_eq!(again["planned"], 0, "periods already planned are left out");
        let y = ok(app.api(&sec, "GET", &format!("/api/v1/meetings/year?org_id={}&year=2027", p.branches[0]), None).await);
        let dec = y["meetings"].as_array().expect("rows").iter().find(|r| r["held_on"] == "2027-12-03").cloned().expect("December's theme day");
        assert_eq!(dec["kinds_label"], "党员大会、主题党日、组织生活会、民主评议党员");
        let bad = app.api(&sec, "POST", "/api/v1/meetings/plan", Some(json!({"org_id": p.branches[0], "year": 2030}))).await;
        assert_eq!(fields(&bad.1), ["year"], "{bad:?}");
        refused(app.api(&sec, "POST", "/api/v1/meetings/plan", Some(json!({"org_id": p.branches[4], "year": 2027}))).await, "not_found");

        // a locality meeting monthly for the assembly: a rule value
        let county = app.account("county", p.counties[0], "org_staff", None).await;
        let mut reqs = serde_json::to_value(dangjian::meeting::MeetingRules::default().requirements).expect("json");
        reqs[0]["period"] = json!("month");
        ok(app.api(&county, "POST", "/api/v1/rules/meeting", Some(json!({"org_id": p.counties[0], "values": {"requirements": reqs}}))).await);
        let n = ok(app.api(&county, "POST", "/api/v1/meetings/plan", Some(json!({"org_id": p.branches[1], "year": 2027}))).await);
        let y = ok(app.api(&county, "GET", &format!("/api/v1/meetings/year?org_id={}&year=2027", p.branches[1]), None).await);
        let assemblies = y["meetings"].as_array().expect("rows").iter().filter(|r| r["kinds_label"].as_str().unwrap_or("").contains("党员大会")).count();
        assert_eq!((n["planned"].as_i64(), assemblies), (Some(12), 12));

        // the scheduler owes each branch its periods once
        let made = dangjian::obligation::generate_all(&app.ctx).await.expect("generate");
        assert!(made.contains("党员大会"), "{made}");
        let owed = app.count("SELECT COUNT(*) AS n FROM obligations WHERE kind = 'meeting.theme_day' AND period = '2026-12'").await;
        assert_eq!(owed, 8, "the eight branches of the province owe December's theme day");
        dangjian::obligation::generate_all(&app.ctx).await.expect("again");
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM obligations WHERE kind = 'meeting.theme_day' AND period = '2026-12'").await, 8);

        // January's theme day not held: missed once its time is past, and a warning on the branch
        at(&app, d(2027, 1, 5), 10, 0);
        dangjian::obligation::generate_all(&app.ctx).await.expect("january");
        at(&app, d(2027, 3, 20), 10, 0);
        dangjian::obligation::sweep(&app.ctx).await.expect("sweep");
        assert_eq!(obligation(&app, p.branches[0], "meeting.theme_day", "2027-01").await.as_deref(), Some("missed"));
        let org = dangjian::org::store::get(&app.ctx.db, p.branches[0]).await.expect("org");
        let w = dangjian::org::store::warnings(&app.ctx.db, &org).await.expect("warnings");
        let w = w.iter().find(|w| w.code == "branch.theme_day_missed").expect("theme day warning");
        assert!(w.message.contains("最近为2027-01"), "{}", w.message);
        let warned = dangjian::org::store::warned_branches(&app.ctx.db, &org.path).await.expect("warned");
        assert!(warned[0].warnings.iter().any(|w| w.code == "branch.theme_day_missed"));
        let c = ok(app.api(&county, "GET", &format!("/api/v1/meetings/compliance?org_id={}&year=2027", p.counties[0]), None).await);
        assert_eq!((c["branches"].as_i64(), c["green"].as_i64()), (Some(2), Some(0)), "{c}");
    })
    .await;
}

#[tokio::test]
async fn six_months_without_attending_warns_the_branch() {
    each_backend(|app| async move {
        at(&app, d(2026, 1, 1), 10, 0);
        let p = province(&app).await;
        let (br, x, y) = (p.branches[0], p.members[0], p.members[1]);
        // January and May, filed: x absent both times, y present in January only
        for (id, day) in [(9001, "2026-01-02"), (9002, "2026-05-01")] {
            app.exec(&format!("INSERT INTO meetings (id, org_id, kinds, title, held_on, starts_at, ends_at, status, created_at) \
                VALUES ({id}, {br}, 'theme_day', '主题党日', '{day}', '{day}T01:00:00Z', '{day}T03:00:00Z', 'filed', '{day}T00:00:00Z')")).await;
            let ys = if id == 9001 { "present" } else { "leave" };
            app.exec(&format!("INSERT INTO meeting_attendance (meeting_id, member_id, name, voting, status) VALUES ({id}, {x}, '党员1', TRUE, 'absent'), ({id}, {y}, '党员2', TRUE, '{ys}')")).await;
        }
        let sec = app.account("sec", br, "branch_secretary", None).await;
        // in July the January sitting is inside the six months: nothing yet
        at(&app, d(2026, 7, 1), 10, 0);
        let yr = ok(app.api(&sec, "GET", &format!("/api/v1/meetings/year?org_id={br}&year=2026"), None).await);
        assert_eq!(yr["absentees"], json!([]), "{yr}");
        // in August: x has attended nothing for six months and missed May without leave; y
        // was on leave in May, so is not warned
        at(&app, d(2026, 8, 1), 10, 0);
        let yr = ok(app.api(&sec, "GET", &format!("/api/v1/meetings/year?org_id={br}&year=2026"), None).await);
        assert_eq!(yr["absentees"].as_array().map(Vec::len), Some(1), "{yr}");
        assert_eq!(yr["absentees"][0]["member_id"], x);
        assert_eq!(yr["absentees"][0]["absences"], 1);
        assert!(yr["absentees"][0]["last_present"].is_null());
    })
    .await;
}

#[tokio::test]
async fn a_committee_meeting_counts_the_committee_from_its_roll() {
    each_backend(|app| async move {
        at(&app, d(2026, 12, 3), 10, 0);
        let p = province(&app).await;
        let br = app.org(Some(p.counties[0]), "支委会测试支部", "branch", "village").await;
        app.exec(&format!("UPDATE orgs SET has_committee = TRUE, committee_size = 3 WHERE id = {br}")).await;
        let mut ms = Vec::new();
        for i in 0..8u16 {
            ms.push(app.member(br, &format!("委员{i}"), 400 + i).await);
        }
        let sec = app.account("sec", br, "branch_secretary", None).await;
        let new = json!({"org_id": br, "kinds": ["committee"], "held_on": "2026-12-04", "invitees": [ms[0], ms[1], ms[2], ms[3]]});
        refused(app.api(&sec, "POST", "/api/v1/meetings", Some(new)).await, "meeting.too_many_committee_members");
        let m = ok(app.api(&sec, "POST", "/api/v1/meetings", Some(json!({"org_id": br, "kinds": ["committee"], "held_on": "2026-12-04", "invitees": [ms[0], ms[1], ms[2]]}))).await);
        let id = m["id"].as_i64().expect("id");
        ok(app.api(&sec, "POST", &format!("/api/v1/meetings/{id}/notify"), None).await);
        at(&app, d(2026, 12, 4), 12, 0);
        let minutes = json!({"host": "书记", "recorder": "委员", "summary": "研究发展党员工作", "committee_present": 3});
        // nobody present: not a sitting, whatever number is claimed
        refused(app.api(&sec, "POST", &format!("/api/v1/meetings/{id}/file"), Some(minutes.clone())).await, "meeting.nobody_present");
        // one of three: no quorum (the claim of three is not taken)
        ok(app.api(&sec, "POST", &format!("/api/v1/meetings/{id}/mark"), Some(json!({"member_id": ms[0], "status": "present"}))).await);
        let r = app.api(&sec, "POST", &format!("/api/v1/meetings/{id}/file"), Some(minutes.clone())).await;
        refused(r.clone(), "meeting.no_committee_quorum");
        assert!(r.1["message"].as_str().unwrap_or("").contains("委员3人，到会1人"), "{r:?}");
        ok(app.api(&sec, "POST", &format!("/api/v1/meetings/{id}/mark"), Some(json!({"member_id": ms[1], "status": "present"}))).await);
        let f = ok(app.api(&sec, "POST", &format!("/api/v1/meetings/{id}/file"), Some(minutes)).await);
        assert_eq!(f["status"], "filed");
    })
    .await;
}

#[tokio::test]
async fn the_problems_a_life_meeting_finds_go_to_the_ledger() {
    each_backend(|app| async move {
        at(&app, d(2026, 12, 3), 10, 0);
        let p = province(&app).await;
        let br = p.branches[0];
        let sec = app.account("sec", br, "branch_secretary", None).await;
        let county = app.account("county", p.counties[0], "org_staff", None).await;
        let m = ok(app.api(&sec, "POST", "/api/v1/meetings", Some(json!({"org_id": br, "kinds": ["life"], "held_on": "2026-12-04"}))).await);
        let id = m["id"].as_i64().expect("id");
        ok(app.api(&sec, "POST", &format!("/api/v1/meetings/{id}/notify"), None).await);
        at(&app, d(2026, 12, 4), 12, 0);
        ok(app.api(&sec, "POST", &format!("/api/v1/meetings/{id}/mark"), Some(json!({"member_id": p.members[0], "status": "present"}))).await);
        let problem = |deadline: &str| json!({"host": "书记", "recorder": "委员", "summary": "开展批评和自我批评，查摆问题。",
            "problems": [{"problem": "理论学习不够深入，学用结合不紧", "measures": "每月集中学习一次，书记带头讲党课", "owner": "支部书记", "deadline": deadline}]});
        let bad = app.api(&sec, "POST", &format!("/api/v1/meetings/{id}/file"), Some(problem("2026-12-01"))).await;
        assert_eq!(fields(&bad.1), ["problem_0"], "a deadline before the meeting: {bad:?}");
        let f = ok(app.api(&sec, "POST", &format!("/api/v1/meetings/{id}/file"), Some(problem("2027-03-31"))).await);
        assert_eq!(f["status"], "filed");
        let items = ok(app.api(&county, "GET", "/api/v1/rectify/items?status=all", None).await);
        let item = items["items"].as_array().expect("items").iter().find(|i| i["source"] == "meeting").cloned().expect("an item from the meeting");
        assert_eq!(item["org_id"], br);
        assert_eq!(item["source_ref"], format!("meeting:{id}"));
        assert_eq!(item["deadline"], "2027-03-31");
        assert_eq!(item["supervisor_id"], p.counties[0]);
    })
    .await;
}

#[tokio::test]
async fn minutes_nearly_identical_to_another_branchs_are_flagged_above() {
    each_backend(|app| async move {
        at(&app, d(2026, 12, 3), 10, 0);
        let p = province(&app).await;
        let county = app.account("county", p.counties[0], "org_staff", None).await;
        let text = "传达学习县委全会精神，讨论本村集体经济合作社筹建方案和人居环境整治分工，党员逐一发言，支部书记作总结并部署下阶段工作任务。";
        let mut filed = Vec::new();
        for (i, (name, summary)) in [("甲村党支部", text.to_string()), ("乙村党支部", text.replace("本村", "我村")), ("丙村党支部", "学习党章，开展志愿服务。".to_string())].iter().enumerate() {
            let br = app.org(Some(p.counties[0]), name, "branch", "village").await;
            let m = app.member(br, &format!("{name}党员"), 600 + i as u16).await;
            let sec = app.account(&format!("sec{i}"), br, "branch_secretary", None).await;
            let id = ok(app.api(&sec, "POST", "/api/v1/meetings", Some(json!({"org_id": br, "kinds": ["theme_day"], "held_on": "2026-12-03", "starts": "09:00", "ends": "11:00"}))).await)["id"].as_i64().expect("id");
            ok(app.api(&sec, "POST", &format!("/api/v1/meetings/{id}/notify"), None).await);
            ok(app.api(&sec, "POST", &format!("/api/v1/meetings/{id}/mark"), Some(json!({"member_id": m, "status": "present"}))).await);
            let f = ok(app.api(&sec, "POST", &format!("/api/v1/meetings/{id}/file"), Some(json!({"host": "书记", "recorder": "委员", "summary": summary}))).await);
            // never refused, and the branch itself is not told
            assert_eq!(f["status"], "filed");
            assert_eq!(f["similar_to"], Value::Null);
            filed.push(id);
        }
        // the county sees the second flagged against the first; the first and the third are not
        let second = ok(app.api(&county, "GET", &format!("/api/v1/meetings/{}", filed[1]), None).await);
        assert_eq!(second["similar_to"], filed[0], "{second}");
        assert!(second["similar_permille"].as_i64().unwrap_or(0) >= 900, "{second}");
        for i in [0, 2] {
            let m = ok(app.api(&county, "GET", &format!("/api/v1/meetings/{}", filed[i]), None).await);
            assert_eq!(m["similar_to"], Value::Null, "{m}");
        }
        let c = ok(app.api(&county, "GET", &format!("/api/v1/meetings/compliance?org_id={}&year=2026", p.counties[0]), None).await);
        let flagged: Vec<i64> = c["similar"].as_array().expect("similar").iter().filter_map(|s| s["meeting_id"].as_i64()).collect();
        assert_eq!(flagged, [filed[1]], "{c}");
    })
    .await;
}
