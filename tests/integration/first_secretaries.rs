//! 第一书记: a county runs a round, nominates a cadre, assigns them to a village with a term,
//! a location and tutors; the first secretary clocks in inside and outside the radius, offline
//! and refused; the month's presence counts the days; a recall ends the clock-ins; positions
//! and photos go after their retention; another county sees none of it.

use crate::support::*;
use axum::http::StatusCode;
use chrono::Duration;
use serde_json::{json, Value};

/// A JPEG as the checks walk it: SOI, a frame header, a scan header, data, EOI.
const PHOTO: &[u8] = &[
    0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0x01, 0x00, 0x01, 0x01, 0x01, 0x11, 0x00, 0xFF,
    0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00, 0x12, 0x34, 0xFF, 0xD9,
];

fn form(fields: &[(&str, String)], photo: Option<&[u8]>) -> (String, Vec<u8>) {
    let boundary = "----djcheckinboundary";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    if let Some(p) = photo {
        body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"photo.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").as_bytes());
        body.extend_from_slice(p);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn clock(
    app: &TestApp,
    token: &str,
    kind: &str,
    at: Option<(f64, f64)>,
    when: Option<chrono::DateTime<chrono::Utc>>,
    photo: Option<&[u8]>,
) -> (StatusCode, Value) {
    let mut f = vec![("kind", kind.to_string()), ("accuracy", "12.5".to_string())];
    if let Some((lat, lng)) = at {
        f.push(("lat", lat.to_string()));
        f.push(("lng", lng.to_string()));
    }
    if let Some(w) = when {
        f.push(("at", w.to_rfc3339()));
    }
    let (ct, body) = form(&f, photo);
    let (s, b) = post_multipart(app, token, "/api/v1/first-secretaries/checkins", &ct, body).await;
    (s, serde_json::from_slice(&b).unwrap_or(Value::Null))
}

/// The cadre 王立新 (the account `fs_one`), registered by the county department `county` of
/// `county_org` and nominated into the round `rid`: (cadre, assignment).
async fn nominated(app: &TestApp, county: &str, county_org: i64, rid: i64) -> (i64, i64) {
    let cid = ok(app.api(county, "POST", "/api/v1/cadres", Some(json!({"name": "王立新", "managed_by": county_org, "unit": "县农业农村局",
        "position": "四级主任科员", "rank": "section_deputy", "category": "first_secretary", "account": "fs_one"}))).await)["id"]
        .as_i64()
        .expect("id");
    let aid = ok(app
        .api(
            county,
            "POST",
            "/api/v1/first-secretaries",
            Some(json!({"round_id": rid, "cadre_id": cid, "sending_level": "county"})),
        )
        .await)["id"]
        .as_i64()
        .expect("id");
    (cid, aid)
}

/// The latest working day and the latest rest day from `from` to `to`, by the holiday calendar.
async fn days(
    app: &TestApp,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> (chrono::NaiveDate, Option<chrono::NaiveDate>) {
    let cal = dangjian::calendar::store::calendar(&app.ctx.db, from, to)
        .await
        .expect("calendar");
    let (mut work, mut rest) = (None, None);
    let mut d = to;
    while d >= from {
        if dangjian::calendar::is_working_day(d, &cal) {
            work.get_or_insert(d);
        } else {
            rest.get_or_insert(d);
        }
        d -= Duration::days(1);
    }
    (work.expect("a working day in the span"), rest)
}

#[tokio::test]
async fn a_first_secretary_is_sent_clocks_in_and_is_counted() {
    each_backend(|app| async move {
        let p = province(&app).await;
        let county = app.account("county", p.counties[0], "org_staff", None).await;
        let other = app.account("county_b", p.counties[2], "org_staff", None).await;
        let me = app.account("fs_one", p.branches[0], "member", Some(p.members[0])).await;
        let village = p.branches[0];
        let today = app.ctx.clock.today();

        // a round, and a cadre of the register nominated into it
        let bad = app.api(&county, "POST", "/api/v1/first-secretaries/rounds", Some(json!({"org_id": village, "name": "", "year": 1999}))).await;
        assert_eq!(fields(&bad.1), ["org_id", "name", "year"], "{bad:?}");
        let round = ok(app.api(&county, "POST", "/api/v1/first-secretaries/rounds", Some(json!({"name": "县派第一书记", "year": 2026}))).await);
        let rid = round["id"].as_i64().expect("id");
        let c = ok(app.api(&county, "POST", "/api/v1/cadres", Some(json!({"name": "王立新", "managed_by": p.counties[0], "unit": "县农业农村局",
            "position": "四级主任科员", "rank": "section_deputy", "category": "first_secretary", "account": "fs_one"}))).await);
        let cid = c["id"].as_i64().expect("id");
        let bad = app.api(&county, "POST", "/api/v1/first-secretaries", Some(json!({"round_id": rid, "cadre_id": cid, "sending_level": "moon"}))).await;
        assert_eq!(fields(&bad.1), ["sending_level"], "{bad:?}");
        let a = ok(app.api(&county, "POST", "/api/v1/first-secretaries", Some(json!({"round_id": rid, "cadre_id": cid, "sending_level": "county"}))).await);
        let aid = a["id"].as_i64().expect("id");
        assert_eq!(a["status"], "nominated");
        assert_eq!(a["sending_unit"], "县农业农村局", "the cadre's unit by default");
        let again = app.api(&county, "POST", "/api/v1/first-secretaries", Some(json!({"round_id": rid, "cadre_id": cid, "sending_level": "county"}))).await;
        assert_eq!(fields(&again.1), ["cadre_id"], "one place at a time: {again:?}");
        // another county neither nominates this cadre nor sees the assignment
        let bad = app.api(&other, "POST", "/api/v1/first-secretaries", Some(json!({"round_id": rid, "cadre_id": cid, "sending_level": "county"}))).await;
        assert!(bad.0.is_client_error(), "{bad:?}");
        refused(app.api(&other, "GET", &format!("/api/v1/first-secretaries/{aid}"), None).await, "not_found");
        assert_eq!(ok(app.api(&other, "GET", "/api/v1/first-secretaries", None).await)["total"], 0);

        // no clock-in before the assignment
        refused(clock(&app, &me, "in", Some((35.0, 116.0)), None, Some(PHOTO)).await, "forbidden");

        // the assignment: a village of the county, a term within the rule, a location
        let start = today - Duration::days(5);
        let bad = app.api(&county, "POST", &format!("/api/v1/first-secretaries/{aid}/assign"),
            Some(json!({"village_id": p.counties[0], "start_on": start, "term_months": 6}))).await;
        assert_eq!(fields(&bad.1), ["village_id", "term_months", "lat"], "{bad:?}");
        for (start_on, lat) in [("0000-01-01", 35.0), ("9999-06-01", 35.0)] {
            let bad = app.api(&county, "POST", &format!("/api/v1/first-secretaries/{aid}/assign"),
                Some(json!({"village_id": village, "start_on": start_on, "term_months": 24, "lat": lat, "lng": 116.0}))).await;
            assert_eq!(fields(&bad.1), ["start_on"], "{bad:?}");
        }
        let bad = app.api(&county, "POST", &format!("/api/v1/first-secretaries/{aid}/assign"),
            Some(json!({"village_id": village, "start_on": start, "term_months": 24, "lat": 1e-300, "lng": 1e-300}))).await;
        assert_eq!(fields(&bad.1), ["lat"], "(0, 0) after rounding: {bad:?}");
        let bad = app.api(&county, "POST", &format!("/api/v1/first-secretaries/{aid}/assign"),
            Some(json!({"village_id": p.branches[4], "start_on": start, "term_months": 24, "lat": 35.0, "lng": 116.0}))).await;
        assert!(bad.0.is_client_error(), "a village outside the round's department: {bad:?}");
        let a = ok(app.api(&county, "POST", &format!("/api/v1/first-secretaries/{aid}/assign"),
            Some(json!({"village_id": village, "start_on": start, "term_months": 24, "lat": 35.0, "lng": 116.0,
                "liaison": "刘洋", "collective_income_yuan": 30000}))).await);
        assert_eq!(a["status"], "on_duty");
        assert_eq!(a["ends_on"], json!((start + chrono::Months::new(24)).pred_opt().expect("day")));
        assert_eq!(a["baseline"]["members"], 2, "the village as found: {}", a["baseline"]);
        assert_eq!(a["baseline"]["collective_income_yuan"], 30000);
        let twice = app.api(&county, "POST", &format!("/api/v1/first-secretaries/{aid}/assign"),
            Some(json!({"village_id": village, "start_on": start, "term_months": 24, "lat": 35.0, "lng": 116.0}))).await;
        refused(twice, "conflict");

        // tutors
        let bad = app.api(&county, "POST", &format!("/api/v1/first-secretaries/{aid}/tutors"), Some(json!({"role": "mentor", "name": "", "unit": "x"}))).await;
        assert_eq!(fields(&bad.1), ["role", "name"], "{bad:?}");
        let t = ok(app.api(&county, "POST", &format!("/api/v1/first-secretaries/{aid}/tutors"), Some(json!({"role": "general", "name": "赵刚", "unit": "县财政局副局长"}))).await);
        assert_eq!(t["role_label"], "综合导师");
        let d = ok(app.api(&county, "GET", &format!("/api/v1/first-secretaries/{aid}"), None).await);
        assert_eq!(d["tutors"].as_array().map(Vec::len), Some(1));

        // clock-ins: refused without a position, with a file that is no photo, in the future
        // or beyond the offline window; recorded inside and outside the radius
        let before = app.count("SELECT COUNT(*) AS n FROM fs_checkins").await;
        let r = clock(&app, &me, "in", None, None, Some(PHOTO)).await;
        assert_eq!(fields(&r.1), ["position"], "{r:?}");
        let r = clock(&app, &me, "in", Some((35.0, 116.0)), None, None).await;
        assert_eq!(fields(&r.1), ["photo"], "{r:?}");
        let r = clock(&app, &me, "in", Some((35.0, 116.0)), None, Some(b"%PDF-1.4 not a photo")).await;
        assert_eq!(fields(&r.1), ["photo"], "{r:?}");
        let r = clock(&app, &me, "in", Some((91.0, 116.0)), None, Some(PHOTO)).await;
        assert_eq!(fields(&r.1), ["position"], "{r:?}");
        let now = app.ctx.clock.now();
        let r = clock(&app, &me, "in", Some((35.0, 116.0)), Some(now + Duration::minutes(10)), Some(PHOTO)).await;
        assert_eq!(fields(&r.1), ["at"], "{r:?}");
        let r = clock(&app, &me, "in", Some((35.0, 116.0)), Some(now - Duration::hours(73)), Some(PHOTO)).await;
        assert_eq!(fields(&r.1), ["at"], "{r:?}");
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM fs_checkins").await, before, "nothing half-written");
        let inside = ok(clock(&app, &me, "in", Some((35.001, 116.0)), None, Some(PHOTO)).await);
        assert_eq!(inside["inside"], true);
        assert!((100..=120).contains(&inside["distance_m"].as_i64().expect("m")), "{inside}");
        assert_eq!(inside["offline"], false);
        let outside = ok(clock(&app, &me, "out", Some((35.01, 116.0)), None, Some(PHOTO)).await);
        assert_eq!(outside["inside"], false, "recorded as outside, not refused");
        // a coarse fix cannot show the first secretary in the village
        let (ct, body) = form(&[("kind", "in".into()), ("lat", "35.0".into()), ("lng", "116.0".into()), ("accuracy", "1e300".into())], Some(PHOTO));
        let (s, b) = post_multipart(&app, &me, "/api/v1/first-secretaries/checkins", &ct, body).await;
        assert_eq!(s, StatusCode::OK);
        let coarse: Value = serde_json::from_slice(&b).expect("json");
        assert_eq!(coarse["inside"], false, "{coarse}");
        let queued = ok(clock(&app, &me, "in", Some((35.0, 116.0)), Some(now - Duration::hours(30)), Some(PHOTO)).await);
        assert_eq!(queued["offline"], true, "sent later, with the time it was taken");
        // the position is kept encrypted, never in clear
        let clear = app.count("SELECT COUNT(*) AS n FROM fs_checkins WHERE CAST(position_enc AS TEXT) LIKE '%35.0%'").await;
        assert_eq!(clear, 0);
        // a county account is no first secretary
        refused(clock(&app, &county, "in", Some((35.0, 116.0)), None, Some(PHOTO)).await, "forbidden");

        // the check-ins and the month's presence, for the county; not for the other county
        let list = ok(app.api(&county, "GET", &format!("/api/v1/first-secretaries/{aid}/checkins?from={}&to={today}", today - Duration::days(5)), None).await);
        assert_eq!(list.as_array().map(Vec::len), Some(4), "{list}");
        refused(app.api(&other, "GET", &format!("/api/v1/first-secretaries/{aid}/checkins"), None).await, "not_found");
        let month = today.format("%Y-%m").to_string();
        let r = ok(app.api(&county, "GET", &format!("/api/v1/first-secretaries/presence?month={month}"), None).await);
        assert_eq!(r["total"], 1, "{r}");
        let row = &r["rows"][0];
        assert!(row["in_village"].as_i64().expect("days") >= 1, "{row}");
        assert!(row["required"].as_i64().expect("days") <= row["working_days"].as_i64().expect("days"));
        assert_eq!(ok(app.api(&other, "GET", &format!("/api/v1/first-secretaries/presence?month={month}"), None).await)["total"], 0);
        refused(app.api(&county, "GET", "/api/v1/first-secretaries/presence?month=2026-13", None).await, "validation_failed");

        // leave: two weeks from today go to the county (more than the township's 3 working
        // days on any date); the first secretary asks, the county decides, overlaps are refused
        let bad = app.api(&me, "POST", "/api/v1/first-secretaries/leaves", Some(json!({"from_on": today, "to_on": today - Duration::days(1), "reason": "x"}))).await;
        assert_eq!(fields(&bad.1), ["to_on"], "{bad:?}");
        let bad = app.api(&me, "POST", "/api/v1/first-secretaries/leaves", Some(json!({"from_on": today, "to_on": today + Duration::days(13)}))).await;
        assert_eq!(fields(&bad.1), ["reason"], "{bad:?}");
        let leave = ok(app.api(&me, "POST", "/api/v1/first-secretaries/leaves", Some(json!({"from_on": today, "to_on": today + Duration::days(13), "reason": "回派出单位参加年度考核"}))).await);
        let lid = leave["id"].as_i64().expect("id");
        assert_eq!(leave["approver"], "county");
        assert_eq!(leave["status"], "requested");
        let again = app.api(&me, "POST", "/api/v1/first-secretaries/leaves", Some(json!({"from_on": today + Duration::days(1), "to_on": today + Duration::days(13), "reason": "重复"}))).await;
        assert_eq!(fields(&again.1), ["from_on"], "overlap: {again:?}");
        refused(app.api(&me, "POST", &format!("/api/v1/first-secretaries/leaves/{lid}/decide"), Some(json!({"approve": true}))).await, "forbidden");
        refused(app.api(&other, "POST", &format!("/api/v1/first-secretaries/leaves/{lid}/decide"), Some(json!({"approve": true}))).await, "not_found");
        let bad = app.api(&county, "POST", &format!("/api/v1/first-secretaries/leaves/{lid}/decide"), Some(json!({"approve": false}))).await;
        assert_eq!(fields(&bad.1), ["note"], "a refusal says why: {bad:?}");
        let l = ok(app.api(&county, "POST", &format!("/api/v1/first-secretaries/leaves/{lid}/decide"), Some(json!({"approve": true, "note": "同意"}))).await);
        assert_eq!(l["status"], "approved");
        refused(app.api(&county, "POST", &format!("/api/v1/first-secretaries/leaves/{lid}/decide"), Some(json!({"approve": true}))).await, "conflict");
        refused(app.api(&me, "POST", &format!("/api/v1/first-secretaries/leaves/{lid}/cancel"), None).await, "conflict");
        // spot checks: absent on leave is not flagged; absent without leave is
        let bad = app.api(&county, "POST", &format!("/api/v1/first-secretaries/{aid}/spot-checks"), Some(json!({"checked_on": today + Duration::days(1), "method": "visit", "result": "maybe"}))).await;
        assert_eq!(fields(&bad.1), ["checked_on", "result"], "{bad:?}");
        let bad = app.api(&county, "POST", &format!("/api/v1/first-secretaries/{aid}/spot-checks"), Some(json!({"checked_on": today, "method": "visit", "result": "absent"}))).await;
        assert_eq!(fields(&bad.1), ["note"], "{bad:?}");
        let c1 = ok(app.api(&county, "POST", &format!("/api/v1/first-secretaries/{aid}/spot-checks"), Some(json!({"checked_on": today, "method": "phone", "result": "absent", "note": "请假中"}))).await);
        assert_eq!(c1["flagged"], false);
        // a working day of the posting without leave (the leave above is near today)
        let (away, _) = days(&app, start, today - Duration::days(1)).await;
        let c2 = ok(app.api(&county, "POST", &format!("/api/v1/first-secretaries/{aid}/spot-checks"), Some(json!({"checked_on": away, "method": "visit", "result": "absent", "note": "到村未见本人，电话称在县城办事"}))).await);
        assert_eq!(c2["flagged"], true);
        refused(app.api(&other, "POST", &format!("/api/v1/first-secretaries/{aid}/spot-checks"), Some(json!({"checked_on": today, "method": "phone", "result": "present"}))).await, "not_found");
        refused(app.api(&me, "POST", &format!("/api/v1/first-secretaries/{aid}/spot-checks"), Some(json!({"checked_on": today, "method": "phone", "result": "present"}))).await, "forbidden");
        assert_eq!(ok(app.api(&county, "GET", &format!("/api/v1/first-secretaries/{aid}/spot-checks"), None).await).as_array().map(Vec::len), Some(2));

        // a recall needs its reason; then no more clock-ins
        let bad = app.api(&county, "POST", &format!("/api/v1/first-secretaries/{aid}/decide/recall"), Some(json!({"reason": ""}))).await;
        assert_eq!(fields(&bad.1), ["reason"], "{bad:?}");
        let bad = app.api(&county, "POST", &format!("/api/v1/first-secretaries/{aid}/decide/extend"), Some(json!({"reason": "工作需要", "months": 30}))).await;
        assert_eq!(fields(&bad.1), ["months"], "beyond the extended maximum: {bad:?}");
        let bad = app.api(&county, "POST", &format!("/api/v1/first-secretaries/{aid}/decide/extend"), Some(json!({"reason": "溢出", "months": i64::MAX}))).await;
        assert_eq!(fields(&bad.1), ["months"], "no overflow: {bad:?}");
        let a = ok(app.api(&county, "POST", &format!("/api/v1/first-secretaries/{aid}/decide/extend"), Some(json!({"reason": "工作需要", "months": 12}))).await);
        assert_eq!(a["term_months"], 36);
        let a = ok(app.api(&county, "POST", &format!("/api/v1/first-secretaries/{aid}/decide/recall"), Some(json!({"reason": "工作调整"}))).await);
        assert_eq!(a["status"], "recalled");
        assert_eq!(a["ended_on"], json!(today));
        refused(clock(&app, &me, "in", Some((35.0, 116.0)), None, Some(PHOTO)).await, "forbidden");
        refused(app.api(&county, "POST", &format!("/api/v1/first-secretaries/{aid}/decide/recall"), Some(json!({"reason": "再次"}))).await, "conflict");

        // the audit log holds each step, and no position
        for action in ["fs.round_create", "fs.nominate", "fs.assign", "fs.tutor_add", "fs.checkin", "fs.extend", "fs.recall"] {
            assert!(app.count(&format!("SELECT COUNT(*) AS n FROM audit_log WHERE action = '{action}'")).await >= 1, "{action}");
        }

        // after the retention period positions and photos go; the verdicts stay
        let photos = app.count("SELECT COUNT(*) AS n FROM blobs").await;
        assert!(photos >= 1);
        app.ctx.clock.advance_days(366);
        dangjian::first_secretary::store::purge(&app.ctx).await.expect("purge");
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM fs_checkins WHERE purged_at IS NULL OR position_enc IS NOT NULL OR photo IS NOT NULL").await, 0);
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM fs_checkins WHERE inside").await, 2);
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM blobs").await, photos - 1, "the photo no record names is deleted");
        // and a second run finds nothing more
        let again = dangjian::first_secretary::store::purge(&app.ctx).await.expect("purge");
        assert!(again.contains(" 0 "), "{again}");
    })
    .await;
}

#[tokio::test]
async fn the_red_black_ledger_is_append_only_and_goes_into_the_record() {
    each_backend(|app| async move {
        let p = province(&app).await;
        let county = app.account("county", p.counties[0], "org_staff", None).await;
        let other = app.account("county_b", p.counties[2], "org_staff", None).await;
        let me = app.account("fs_one", p.branches[0], "member", Some(p.members[0])).await;
        let today = app.ctx.clock.today();
        let start = today - Duration::days(5);
        let rid = ok(app.api(&county, "POST", "/api/v1/first-secretaries/rounds", Some(json!({"name": "县派第一书记", "year": 2026}))).await)["id"]
            .as_i64()
            .expect("id");
        let (cid, aid) = nominated(&app, &county, p.counties[0], rid).await;
        let ledger = |aid: i64| format!("/api/v1/first-secretaries/{aid}/ledger");
        // nothing goes on the ledger of a nomination not yet posted
        refused(app.api(&county, "POST", &ledger(aid), Some(json!({"category": "commendation", "occurred_on": today, "matter": "表扬"}))).await, "conflict");
        ok(app.api(&county, "POST", &format!("/api/v1/first-secretaries/{aid}/assign"),
            Some(json!({"village_id": p.branches[0], "start_on": start, "term_months": 24, "lat": 35.0, "lng": 116.0}))).await);

        // refusals: an unknown category, a date outside the posting or in the future, no grounds
        let bad = app.api(&county, "POST", &ledger(aid), Some(json!({"category": "gold", "occurred_on": today + Duration::days(1), "matter": " "}))).await;
        assert_eq!(fields(&bad.1), ["category", "occurred_on", "matter"], "{bad:?}");
        let bad = app.api(&county, "POST", &ledger(aid), Some(json!({"category": "thanks", "occurred_on": start - Duration::days(1), "matter": "感谢信"}))).await;
        assert_eq!(fields(&bad.1), ["occurred_on"], "before the posting began: {bad:?}");
        // the first secretary and another county keep no ledger
        assert!(app.api(&me, "POST", &ledger(aid), Some(json!({"category": "commendation", "occurred_on": today, "matter": "自评"}))).await.0.is_client_error());
        refused(app.api(&other, "POST", &ledger(aid), Some(json!({"category": "commendation", "occurred_on": today, "matter": "表扬"}))).await, "not_found");
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM fs_ledger").await, 0, "nothing half-written");

        let red = ok(app.api(&county, "POST", &ledger(aid), Some(json!({"category": "achievement", "occurred_on": start, "matter": "协调资金修建村内道路2.3公里"}))).await);
        assert_eq!((red["color"].as_str(), red["category_label"].as_str()), (Some("red"), Some("实绩突出")));
        // a spot check that finds the first secretary away without leave on a working day goes
        // on the black side, once a day; away on a rest day is no fault
        let (work, rest) = days(&app, start, today).await;
        let check = ok(app.api(&county, "POST", &format!("/api/v1/first-secretaries/{aid}/spot-checks"),
            Some(json!({"checked_on": work, "method": "visit", "result": "absent", "note": "到村未见本人"}))).await);
        assert_eq!(check["flagged"], true);
        let again = ok(app.api(&county, "POST", &format!("/api/v1/first-secretaries/{aid}/spot-checks"),
            Some(json!({"checked_on": work, "method": "phone", "result": "absent", "note": "电话未接"}))).await);
        assert_eq!(again["flagged"], true);
        if let Some(rest) = rest {
            let r = ok(app.api(&county, "POST", &format!("/api/v1/first-secretaries/{aid}/spot-checks"),
                Some(json!({"checked_on": rest, "method": "phone", "result": "absent", "note": "休息日"}))).await);
            assert_eq!(r["flagged"], false, "a rest day");
        }
        let list = ok(app.api(&me, "GET", &ledger(aid), None).await);
        let list = list.as_array().expect("list");
        assert_eq!(list.len(), 2, "the first secretary reads their own ledger: {list:?}");
        let black = list.iter().find(|e| e["color"] == "black").expect("a black entry");
        assert_eq!((black["category"].as_str(), black["source"].as_str()), (Some("absence"), Some("spot_check")));
        assert_eq!(black["source_id"], check["id"]);
        assert_eq!(black["occurred_on"], json!(work));
        assert_eq!(black["note"], "实地暗访发现不在岗：到村未见本人");
        refused(app.api(&other, "GET", &ledger(aid), None).await, "not_found");

        // a correction is a reversing entry, once; a reversal is never reversed
        let bid = black["id"].as_i64().expect("id");
        let reverse = |id: i64| format!("/api/v1/first-secretaries/ledger/{id}/reverse");
        let bad = app.api(&county, "POST", &reverse(bid), Some(json!({"reason": ""}))).await;
        assert_eq!(fields(&bad.1), ["reason"], "{bad:?}");
        refused(app.api(&other, "POST", &reverse(bid), Some(json!({"reason": "误记"}))).await, "not_found");
        let rev = ok(app.api(&county, "POST", &reverse(bid), Some(json!({"reason": "当日在县里参加培训，已备案"}))).await);
        assert_eq!((rev["reverses_id"].as_i64(), rev["color"].as_str()), (Some(bid), Some("black")));
        refused(app.api(&county, "POST", &reverse(bid), Some(json!({"reason": "再次"}))).await, "conflict");
        let rid2 = rev["id"].as_i64().expect("id");
        refused(app.api(&county, "POST", &reverse(rid2), Some(json!({"reason": "撤销冲销"}))).await, "conflict");
        refused(app.api(&county, "POST", &reverse(i64::MAX), Some(json!({"reason": "不存在"}))).await, "not_found");
        let list = ok(app.api(&county, "GET", &ledger(aid), None).await);
        let reversed = list.as_array().expect("list").iter().find(|e| e["id"] == bid).expect("still there").clone();
        assert_eq!(reversed["reversed_by"].as_i64(), Some(rid2), "the original stays, marked");

        // append-only in the database itself
        let changed = dangjian::on_db!(&app.ctx.db, x => sqlx::query("UPDATE fs_ledger SET note = '改写'").execute(x).await.is_err());
        assert!(changed, "an update is refused");
        let removed = dangjian::on_db!(&app.ctx.db, x => sqlx::query("DELETE FROM fs_ledger").execute(x).await.is_err());
        assert!(removed, "a delete is refused");
        let replaced = dangjian::on_db!(&app.ctx.db, x => sqlx::query(&format!("INSERT OR REPLACE INTO fs_ledger (id, assignment_id, cadre_id, color, category, occurred_on, note, source, recorder_name, recorded_at) \
            VALUES ({bid}, {aid}, {cid}, 'red', 'commendation', '{today}', '改写', 'manual', 'x', '{today}')")).execute(x).await.is_err());
        assert!(replaced, "an insert over an entry is refused");
        for action in ["fs.ledger_add", "fs.ledger_reverse"] {
            assert!(app.count(&format!("SELECT COUNT(*) AS n FROM audit_log WHERE action = '{action}'")).await >= 1, "{action}");
        }
        assert!(matches!(app.verify().await, dangjian::audit::VerifyOutcome::Ok { .. }));

        // 履职承诺: the first secretary writes the pledge and its progress; another county cannot
        let pledges = format!("/api/v1/first-secretaries/{aid}/pledges");
        let bad = app.api(&me, "POST", &pledges, Some(json!({"item": "\u{200b}", "target": ""}))).await;
        assert_eq!(fields(&bad.1), ["item", "target"], "invisible text is no text: {bad:?}");
        let item = ok(app.api(&me, "POST", &pledges, Some(json!({"item": "发展村级集体经济", "target": "村集体年收入达到10万元"}))).await);
        let pid = item["id"].as_i64().expect("id");
        refused(app.api(&other, "POST", &pledges, Some(json!({"item": "x", "target": "y"}))).await, "not_found");
        refused(app.api(&other, "POST", &format!("/api/v1/first-secretaries/pledges/{pid}/progress"), Some(json!({"progress": "x"}))).await, "not_found");
        let bad = app.api(&me, "POST", &format!("/api/v1/first-secretaries/pledges/{pid}/progress"), Some(json!({"progress": ""}))).await;
        assert_eq!(fields(&bad.1), ["progress"], "{bad:?}");
        let item = ok(app.api(&me, "POST", &format!("/api/v1/first-secretaries/pledges/{pid}/progress"), Some(json!({"progress": "食用菌大棚已建成6个"}))).await);
        assert_eq!(item["progress"], "食用菌大棚已建成6个");
        for n in 1..10 {
            ok(app.api(&county, "POST", &pledges, Some(json!({"item": format!("承诺{n}"), "target": "完成"}))).await);
        }
        let bad = app.api(&me, "POST", &pledges, Some(json!({"item": "第十一条", "target": "完成"}))).await;
        assert_eq!(fields(&bad.1), ["item"], "at most the rule's 10 items: {bad:?}");
        let (st, _) = app.api(&me, "POST", &format!("/api/v1/first-secretaries/pledges/{pid}/remove"), None).await;
        assert_eq!(st, StatusCode::NO_CONTENT);
        refused(app.api(&me, "POST", &format!("/api/v1/first-secretaries/pledges/{pid}/progress"), Some(json!({"progress": "x"}))).await, "not_found");
        assert_eq!(ok(app.api(&county, "GET", &pledges, None).await).as_array().map(Vec::len), Some(9));
        for action in ["fs.pledge_add", "fs.pledge_progress", "fs.pledge_remove"] {
            assert!(app.count(&format!("SELECT COUNT(*) AS n FROM audit_log WHERE action = '{action}'")).await >= 1, "{action}");
        }

        // the pages: the department enters and reverses on the posting's page; the cadre's
        // record shows the standing entries
        let (s, _) = app.browser("county_w", p.counties[0], "org_staff").await;
        let csrf = app.csrf(&s).await;
        let (st, _, html) = app.page(&s, "GET", &format!("/first-secretaries/{aid}"), None).await;
        assert_eq!(st, StatusCode::OK);
        assert!(html.contains("红黑台账") && html.contains("红榜1条，黑榜0条"), "{html}");
        let (st, _, html) = app.page(&s, "POST", &format!("/first-secretaries/{aid}/ledger"),
            Some(&format!("_csrf={csrf}&category=complaint&occurred_on={today}&matter="))).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("请写明事由和依据"), "the refusal is shown");
        let (st, h, _) = app.page(&s, "POST", &format!("/first-secretaries/{aid}/ledger"),
            Some(&format!("_csrf={csrf}&category=complaint&occurred_on={today}&matter=%E7%BE%A4%E4%BC%97%E5%8F%8D%E6%98%A0"))).await;
        assert_eq!(st, StatusCode::SEE_OTHER, "{h:?}");
        let rid3 = red["id"].as_i64().expect("id");
        let (st, _, _) = app.page(&s, "POST", &format!("/first-secretaries/ledger/{rid3}/reverse"),
            Some(&format!("_csrf={csrf}&reason=%E8%AF%AF%E8%AE%B0"))).await;
        assert_eq!(st, StatusCode::SEE_OTHER);
        let (st, _, html) = app.page(&s, "GET", &format!("/cadres/{cid}"), None).await;
        assert_eq!(st, StatusCode::OK);
        assert!(html.contains("第一书记工作红黑台账") && html.contains("红榜0条，黑榜1条"), "{html}");
        assert!(html.contains("群众反映"));
    })
    .await;
}

#[tokio::test]
async fn four_ones_are_owed_by_the_round_and_fulfilled_by_what_it_holds() {
    each_backend(|app| async move {
        use chrono::Datelike;
        let p = province(&app).await;
        let county = app.account("county", p.counties[0], "org_staff", None).await;
        let other = app.account("county_b", p.counties[2], "org_staff", None).await;
        let me = app.account("fs_one", p.branches[0], "member", Some(p.members[0])).await;
        let today = app.ctx.clock.today();
        let rid = ok(app.api(&county, "POST", "/api/v1/first-secretaries/rounds", Some(json!({"name": "县派第一书记", "year": today.year()}))).await)["id"]
            .as_i64()
            .expect("id");
        let acts = format!("/api/v1/first-secretaries/rounds/{rid}/activities");
        // no first secretary on duty: nothing owed
        dangjian::obligation::generate_all(&app.ctx).await.expect("generate");
        assert_eq!(ok(app.api(&county, "GET", &acts, None).await)["obligations"].as_array().map(Vec::len), Some(0));
        let (_, aid) = nominated(&app, &county, p.counties[0], rid).await;
        let since = today - Duration::days(40);
        ok(app.api(&county, "POST", &format!("/api/v1/first-secretaries/{aid}/assign"),
            Some(json!({"village_id": p.branches[0], "start_on": since, "term_months": 24, "lat": 35.0, "lng": 116.0}))).await);

        // the generator: each kind's periods from the posting's start to now, once however often it runs
        dangjian::obligation::generate_all(&app.ctx).await.expect("generate");
        dangjian::obligation::generate_all(&app.ctx).await.expect("again");
        let v = ok(app.api(&county, "GET", &acts, None).await);
        let obligations = v["obligations"].as_array().expect("list").clone();
        let of = |kind: &str| obligations.iter().filter(|o| o["kind"] == kind).count();
        let months = (today.year() * 12 + today.month() as i32) - (since.year() * 12 + since.month() as i32) + 1;
        assert_eq!(of("fs.meeting"), months as usize, "{obligations:?}");
        assert_eq!(of("fs.assessment"), if since.year() < today.year() { 2 } else { 1 });
        assert!(of("fs.visit") >= 1 && of("fs.training") >= 1);
        assert!(obligations.iter().all(|o| o["status"] == "due"));

        // refusals, and who may record
        let bad = app.api(&county, "POST", &acts, Some(json!({"kind": "party", "held_on": today + Duration::days(1), "title": "", "attendees": -1}))).await;
        assert_eq!(fields(&bad.1), ["kind", "held_on", "title", "attendees"], "{bad:?}");
        let bad = app.api(&county, "POST", &acts, Some(json!({"kind": "meeting", "held_on": "1999-01-01", "title": "例会", "attendees": 1}))).await;
        assert_eq!(fields(&bad.1), ["held_on"], "{bad:?}");
        let bad = app.api(&county, "POST", &acts, Some(json!({"kind": "meeting", "held_on": since - Duration::days(40), "title": "例会", "attendees": 1}))).await;
        assert_eq!(fields(&bad.1), ["held_on"], "before the first posting: {bad:?}");
        let bad = app.api(&county, "POST", &acts, Some(json!({"kind": "meeting", "held_on": today, "title": "例会", "attendees": 0}))).await;
        assert_eq!(fields(&bad.1), ["attendees"], "{bad:?}");
        refused(app.api(&other, "POST", &acts, Some(json!({"kind": "meeting", "held_on": today, "title": "例会", "attendees": 1}))).await, "not_found");
        refused(app.api(&other, "GET", &acts, None).await, "not_found");
        assert!(app.api(&me, "POST", &acts, Some(json!({"kind": "meeting", "held_on": today, "title": "例会", "attendees": 1}))).await.0.is_client_error());
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM fs_activities").await, 0, "nothing half-written");

        // the county's 工作台 asks for this month's meeting
        let todos = ok(app.api(&county, "GET", "/api/v1/workbench", None).await);
        assert!(todos.as_array().expect("todos").iter().any(|t| t["title"].as_str().is_some_and(|s| s.contains("工作例会"))), "{todos}");

        // this month's meeting, entered now: on time; last month's, entered now: late
        let a = ok(app.api(&county, "POST", &acts, Some(json!({"kind": "meeting", "held_on": today, "title": "工作例会", "content": "汇报交流当月工作", "attendees": 1}))).await);
        assert_eq!(a["period"], today.format("%Y-%m").to_string());
        let last_month = today.with_day(1).expect("first") - Duration::days(1);
        ok(app.api(&county, "POST", &acts, Some(json!({"kind": "meeting", "held_on": last_month, "title": "补记上月例会", "attendees": 1}))).await);
        let v = ok(app.api(&county, "GET", &acts, None).await);
        let status = |v: &Value, kind: &str, period: &str| {
            v["obligations"].as_array().expect("list").iter().find(|o| o["kind"] == kind && o["period"] == period)
                .map(|o| o["status"].as_str().unwrap_or("").to_string()).unwrap_or_default()
        };
        assert_eq!(status(&v, "fs.meeting", &today.format("%Y-%m").to_string()), "done");
        // entered within the grace days after its month: on time; later: late
        let expect = if today.day() <= 10 { "done" } else { "late" };
        assert_eq!(status(&v, "fs.meeting", &last_month.format("%Y-%m").to_string()), expect);
        assert_eq!(v["activities"].as_array().map(Vec::len), Some(2));

        // the quarter's site visit never held: missed once its grace days are past; entered
        // afterwards, late
        let quarter = dangjian::first_secretary::activity_period("visit", today).expect("quarter");
        let grace = dangjian::first_secretary::FsRules::default().activity_grace_days;
        app.ctx.clock.advance_days((quarter.end - today).num_days() + grace + 2);
        dangjian::obligation::sweep(&app.ctx).await.expect("sweep");
        let v = ok(app.api(&county, "GET", &acts, None).await);
        assert_eq!(status(&v, "fs.visit", &quarter.key), "missed");
        ok(app.api(&county, "POST", &acts, Some(json!({"kind": "visit", "held_on": quarter.end, "title": "现场观摩", "attendees": 1}))).await);
        let v = ok(app.api(&county, "GET", &acts, None).await);
        assert_eq!(status(&v, "fs.visit", &quarter.key), "late");
        assert!(app.count("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'fs.activity'").await == 3);

        // the page
        let (s, _) = app.browser("county_w", p.counties[0], "org_staff").await;
        let (st, _, html) = app.page(&s, "GET", &format!("/first-secretaries/rounds/{rid}"), None).await;
        assert_eq!(st, StatusCode::OK);
        assert!(html.contains("“四个一”落实情况") && html.contains("补记上月例会") && html.contains("记录活动"), "{html}");
        let csrf = app.csrf(&s).await;
        let (st, _, html) = app.page(&s, "POST", &format!("/first-secretaries/rounds/{rid}/activities"),
            Some(&format!("_csrf={csrf}&kind=training&held_on=&title=&attendees=abc"))).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("请填写主题") && html.contains("参加人数须在1至10000之间"), "not a number is refused, not taken as none: {html}");
    })
    .await;
}

/// The month before `today`'s, as YYYY-MM, and the quarter before today's, as YYYY-Qn with
/// its three months.
fn last_month_and_quarter(today: chrono::NaiveDate) -> (String, String, Vec<String>) {
    use chrono::Datelike;
    let first = today.with_day(1).expect("day 1");
    let m1 = (first - Duration::days(1)).format("%Y-%m").to_string();
    let q_start = first
        .checked_sub_months(chrono::Months::new((first.month() - 1) % 3 + 3))
        .expect("months");
    let quarter = format!("{}-Q{}", q_start.year(), (q_start.month() - 1) / 3 + 1);
    let months = (0..3)
        .map(|k| {
            q_start
                .checked_add_months(chrono::Months::new(k))
                .expect("m")
                .format("%Y-%m")
                .to_string()
        })
        .collect();
    (m1, quarter, months)
}

#[tokio::test]
async fn the_township_scores_the_month_the_county_closes_it_and_publishes_the_quarter() {
    each_backend(|app| async move {
        let p = province(&app).await;
        let town = app.org(Some(p.counties[0]), "中共东平镇委员会", "committee", "township").await;
        let v1 = app.org(Some(town), "前进村党支部", "branch", "village").await;
        let v2 = app.org(Some(town), "后营村党支部", "branch", "village").await;
        let county = app.account("county", p.counties[0], "org_staff", None).await;
        let township = app.account("town", town, "committee_staff", None).await;
        let other = app.account("county_b", p.counties[2], "org_staff", None).await;
        let me = app.account("fs_one", v1, "member", None).await;
        let today = app.ctx.clock.today();
        let start = today - Duration::days(200);
        let (m1, quarter, months) = last_month_and_quarter(today);
        let rid = ok(app.api(&county, "POST", "/api/v1/first-secretaries/rounds", Some(json!({"name": "县派第一书记", "year": 2026}))).await)["id"]
            .as_i64()
            .expect("id");
        let (_, a1) = nominated(&app, &county, p.counties[0], rid).await;
        let c2 = ok(app.api(&county, "POST", "/api/v1/cadres", Some(json!({"name": "赵文静", "managed_by": p.counties[0], "unit": "县教育局",
            "position": "科长", "rank": "section_member", "category": "first_secretary"}))).await)["id"]
            .as_i64()
            .expect("id");
        let a2 = ok(app.api(&county, "POST", "/api/v1/first-secretaries", Some(json!({"round_id": rid, "cadre_id": c2, "sending_level": "county"}))).await)["id"]
            .as_i64()
            .expect("id");
        for (a, v) in [(a1, v1), (a2, v2)] {
            ok(app.api(&county, "POST", &format!("/api/v1/first-secretaries/{a}/assign"),
                Some(json!({"village_id": v, "start_on": start, "term_months": 24, "lat": 35.0, "lng": 116.0}))).await);
        }
        let sheet = |a: i64| format!("/api/v1/first-secretaries/{a}/scores");
        let full = json!({"FS1": 15, "FS2": 15, "FS3": 20, "FS4": 15, "FS5": 15, "FS6": 20});

        // refusals: a mark above the area's, an area missing, an area not on the sheet, a
        // month not begun or before the posting; the first secretary and another county
        let mut over = full.clone();
        over["FS1"] = json!(16);
        let bad = app.api(&township, "POST", &sheet(a1), Some(json!({"month": m1, "scores": over}))).await;
        assert_eq!(fields(&bad.1), ["score_FS1"], "{bad:?}");
        let mut missing = full.clone();
        missing.as_object_mut().expect("map").remove("FS6");
        let bad = app.api(&township, "POST", &sheet(a1), Some(json!({"month": m1, "scores": missing}))).await;
        assert_eq!(fields(&bad.1), ["score_FS6"], "{bad:?}");
        let mut extra = full.clone();
        extra["M01"] = json!(1);
        let bad = app.api(&township, "POST", &sheet(a1), Some(json!({"month": m1, "scores": extra}))).await;
        assert_eq!(fields(&bad.1), ["scores"], "{bad:?}");
        let next = (today + Duration::days(40)).format("%Y-%m").to_string();
        let before = (start - Duration::days(40)).format("%Y-%m").to_string();
        for m in [next, before, "2026-13".to_string()] {
            let bad = app.api(&township, "POST", &sheet(a1), Some(json!({"month": m, "scores": full}))).await;
            assert_eq!(fields(&bad.1), ["month"], "{m}: {bad:?}");
        }
        refused(app.api(&me, "POST", &sheet(a1), Some(json!({"month": m1, "scores": full}))).await, "forbidden");
        refused(app.api(&other, "POST", &sheet(a1), Some(json!({"month": m1, "scores": full}))).await, "not_found");
        // the sheet's areas are not points to award one by one
        let bad = app.api(&township, "POST", "/api/v1/points/awards", Some(json!({"subject": "first_secretary", "org_id": v1, "indicator": "FS1"}))).await;
        assert_eq!(fields(&bad.1), ["indicator"], "{bad:?}");
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM point_entries").await, 0, "nothing half-written");

        // the township scores; a second sheet for the month needs a reason and replaces the first
        let s = ok(app.api(&township, "POST", &sheet(a1), Some(json!({"month": m1, "scores": {"FS1": 12, "FS2": 10, "FS3": 15, "FS4": 12, "FS5": 11, "FS6": 16}, "note": "道路硬化推进较快"}))).await);
        assert_eq!((s["total"].as_i64(), s["scored"].as_bool()), (Some(76), Some(true)));
        refused(app.api(&township, "POST", &sheet(a1), Some(json!({"month": m1, "scores": full}))).await, "points.scored");
        let s = ok(app.api(&township, "POST", &sheet(a1), Some(json!({"month": m1, "reason": "补充核实集体经济收入", "scores": {"FS1": 12, "FS2": 10, "FS3": 18, "FS4": 12, "FS5": 11, "FS6": 16}}))).await);
        assert_eq!(s["total"], 79);
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM point_entries WHERE reverses_id IS NOT NULL").await, 6, "the first sheet reversed");
        // a month closes only once everyone on duty in it is scored
        refused(app.api(&county, "POST", "/api/v1/first-secretaries/scores/close", Some(json!({"org_id": p.counties[0], "month": m1}))).await, "fs.unscored");
        ok(app.api(&township, "POST", &sheet(a2), Some(json!({"month": m1, "scores": {"FS1": 15, "FS2": 15, "FS3": 14, "FS4": 10, "FS5": 10, "FS6": 15}}))).await);
        let mine = ok(app.api(&me, "GET", &sheet(a1), None).await);
        assert_eq!(mine["areas"].as_array().map(Vec::len), Some(6));
        let month = mine["months"].as_array().expect("months").iter().find(|m| m["month"] == json!(m1)).expect("the month").clone();
        assert_eq!(month["scores"], json!([12, 10, 18, 12, 11, 16]));

        // the month across the township; the live ranking of the month's quarter: a tie shares
        // the rank
        let list = ok(app.api(&township, "GET", &format!("/api/v1/first-secretaries/scores?month={m1}"), None).await);
        assert_eq!((list["rows"].as_array().map(Vec::len), list["scored"].as_i64()), (Some(2), Some(2)));
        let q1 = {
            let d = chrono::NaiveDate::parse_from_str(&format!("{m1}-01"), "%Y-%m-%d").expect("date");
            use chrono::Datelike;
            format!("{}-Q{}", d.year(), (d.month() - 1) / 3 + 1)
        };
        let live = ok(app.api(&county, "GET", &format!("/api/v1/first-secretaries/rankings?org_id={}&quarter={q1}", p.counties[0]), None).await);
        let ranks: Vec<(i64, i64)> = live["rows"].as_array().expect("rows").iter().map(|r| (r["rank"].as_i64().unwrap_or(0), r["average"].as_i64().unwrap_or(0))).collect();
        assert_eq!(ranks, [(1, 79), (1, 79)], "{live}");
        assert!(live["published_at"].is_null());
        // not published: the township and the first secretary do not see it yet
        refused(app.api(&me, "GET", &format!("/api/v1/first-secretaries/rankings?quarter={q1}"), None).await, "fs.ranking_unpublished");

        // the township runs no round: the county closes; a closed month is final
        refused(app.api(&township, "POST", "/api/v1/first-secretaries/scores/close", Some(json!({"org_id": town, "month": m1}))).await, "forbidden");
        // the generic close and a single area's reversal do not go around the sheet
        refused(app.api(&county, "POST", "/api/v1/points/closes", Some(json!({"org_id": p.counties[0], "scope": "first_secretaries", "month": m1}))).await, "validation_failed");
        let area = app.count(&format!("SELECT MAX(id) AS n FROM point_entries WHERE subject = 'first_secretary' AND org_id = {v1}")).await;
        refused(app.api(&county, "POST", &format!("/api/v1/points/entries/{area}/reverse"), Some(json!({"reason": "改一项"}))).await, "points.sheet_entry");
        refused(app.api(&other, "POST", "/api/v1/first-secretaries/scores/close", Some(json!({"org_id": p.counties[0], "month": m1}))).await, "not_found");
        refused(app.api(&county, "POST", "/api/v1/first-secretaries/rankings", Some(json!({"org_id": p.counties[0], "quarter": quarter}))).await, "fs.months_open");
        ok(app.api(&county, "POST", "/api/v1/first-secretaries/scores/close", Some(json!({"org_id": p.counties[0], "month": m1}))).await);
        refused(app.api(&township, "POST", &sheet(a1), Some(json!({"month": m1, "reason": "再改", "scores": full}))).await, "points.month_closed");
        for m in &months {
            if *m != m1 {
                // a month still within the back-dating is scored before it closes; an older
                // one can no longer be and closes with its gaps
                for a in [a1, a2] {
                    app.api(&township, "POST", &sheet(a), Some(json!({"month": m, "scores": full}))).await;
                }
                ok(app.api(&county, "POST", "/api/v1/first-secretaries/scores/close", Some(json!({"org_id": p.counties[0], "month": m}))).await);
            }
        }
        let published = ok(app.api(&county, "POST", "/api/v1/first-secretaries/rankings", Some(json!({"org_id": p.counties[0], "quarter": quarter}))).await);
        assert_eq!(published["rows"].as_array().map(Vec::len), Some(2));
        assert!(published["published_at"].is_string());
        refused(app.api(&county, "POST", "/api/v1/first-secretaries/rankings", Some(json!({"org_id": p.counties[0], "quarter": quarter}))).await, "conflict");
        // the same quarter however spelt
        let spelt = quarter.replace("-Q", "-Q0");
        refused(app.api(&county, "POST", "/api/v1/first-secretaries/rankings", Some(json!({"org_id": p.counties[0], "quarter": spelt}))).await, "conflict");
        let long = quarter.replace("-Q", "-Q000000000");
        assert!(app.api(&county, "POST", "/api/v1/first-secretaries/rankings", Some(json!({"org_id": p.counties[0], "quarter": long}))).await.0.is_client_error());
        let kept = app.count(&format!("SELECT COUNT(*) AS n FROM fs_quarters WHERE quarter = '{quarter}'")).await;
        assert_eq!(kept, 1);
        // the first secretary reads the published quarter of their round's department
        let read = ok(app.api(&me, "GET", &format!("/api/v1/first-secretaries/rankings?quarter={quarter}"), None).await);
        assert_eq!(read["digest"], published["digest"]);
        assert!(read["rows"].as_array().expect("rows").iter().any(|r| r["assignment_id"] == json!(a1)));
        refused(app.api(&other, "GET", &format!("/api/v1/first-secretaries/rankings?org_id={}&quarter={quarter}", p.counties[0]), None).await, "not_found");
        // kept as published: the database refuses a change
        let changed = dangjian::on_db!(&app.ctx.db, x => sqlx::query("UPDATE fs_quarters SET digest = 'x'").execute(x).await.is_err());
        assert!(changed, "a published ranking is never rewritten");

        // the pages: the township's month and sheet form, the county's ranking
        let (s, _) = app.browser("town_w", town, "committee_staff").await;
        let (st, _, html) = app.page(&s, "GET", &format!("/first-secretaries/scores?month={m1}"), None).await;
        assert_eq!(st, StatusCode::OK);
        assert!(html.contains("王立新") && html.contains("79"), "{html}");
        let (st, _, html) = app.page(&s, "GET", &format!("/first-secretaries/{a1}"), None).await;
        assert_eq!(st, StatusCode::OK);
        assert!(html.contains("按评分表打分") && html.contains("name=\"score_FS3\""), "the township's sheet");
        let (s, _) = app.browser("county_w", p.counties[0], "org_staff").await;
        let (st, _, html) = app.page(&s, "GET", &format!("/first-secretaries/rankings?org_id={}&quarter={quarter}", p.counties[0]), None).await;
        assert_eq!(st, StatusCode::OK);
        assert!(html.contains("已发布") && html.contains("赵文静"), "{html}");
        assert!(matches!(app.verify().await, dangjian::audit::VerifyOutcome::Ok { .. }));
    })
    .await;
}

#[tokio::test]
async fn the_department_assesses_the_year_against_the_pledge_and_confirms_it_into_the_ledger() {
    each_backend(|app| async move {
        use chrono::Datelike;
        let p = province(&app).await;
        let town = app.org(Some(p.counties[0]), "中共东平镇委员会", "committee", "township").await;
        let county = app.account("county", p.counties[0], "org_staff", None).await;
        let township = app.account("town", town, "committee_staff", None).await;
        let other = app.account("county_b", p.counties[2], "org_staff", None).await;
        let me = app.account("fs_one", p.counties[0], "member", None).await;
        let today = app.ctx.clock.today();
        let year = today.year() as i64 - 1;
        let start = d(year as i32, 7, 1);
        let rid = ok(app.api(&county, "POST", "/api/v1/first-secretaries/rounds", Some(json!({"name": "县派第一书记", "year": year}))).await)["id"]
            .as_i64()
            .expect("id");
        let (_, first) = nominated(&app, &county, p.counties[0], rid).await;
        let mut posts = vec![first];
        for (k, name) in ["赵文静", "钱卫东", "孙丽"].iter().enumerate() {
            let c = ok(app.api(&county, "POST", "/api/v1/cadres", Some(json!({"name": name, "managed_by": p.counties[0], "unit": "县教育局",
                "position": "科长", "rank": "section_member", "category": "first_secretary"}))).await)["id"]
                .as_i64()
                .expect("id");
            posts.push(ok(app.api(&county, "POST", "/api/v1/first-secretaries", Some(json!({"round_id": rid, "cadre_id": c, "sending_level": "county"}))).await)["id"]
                .as_i64()
                .expect("id"));
            let _ = k;
        }
        let mut villages = Vec::new();
        for (k, a) in posts.iter().enumerate() {
            let v = app.org(Some(town), &format!("第{k}村党支部"), "branch", "village").await;
            villages.push(v);
            ok(app.api(&county, "POST", &format!("/api/v1/first-secretaries/{a}/assign"),
                Some(json!({"village_id": v, "start_on": start, "term_months": 36, "lat": 35.0, "lng": 116.0}))).await);
        }
        // last year's six months as the township scored them (each month's sheet: 100 marks)
        let per_month = [95, 88, 70, 50];
        for (v, score) in villages.iter().zip(per_month) {
            for m in 7..=12 {
                app.exec(&format!("INSERT INTO point_entries (subject, org_id, indicator, category, points, done_on, month, note, rules_version, at) \
                    VALUES ('first_secretary', {v}, 'FS1', '实绩评分', {score}, '{year}-{m:02}-28', {}, '', 0, '{year}-{m:02}-28T10:00:00Z')", year * 100 + m)).await;
            }
        }
        let assess = |a: i64| format!("/api/v1/first-secretaries/{a}/assessments");
        // refusals: a score off the scale, no findings, a year before the posting or not begun;
        // the township and the first secretary do not assess
        let bad = app.api(&county, "POST", &assess(posts[0]), Some(json!({"year": year - 1, "score": 101, "note": " "}))).await;
        assert_eq!(fields(&bad.1), ["year", "score", "note"], "{bad:?}");
        let bad = app.api(&county, "POST", &assess(posts[0]), Some(json!({"year": year + 2, "score": 90, "note": "完成承诺"}))).await;
        assert_eq!(fields(&bad.1), ["year"], "{bad:?}");
        assert!(app.api(&township, "POST", &assess(posts[0]), Some(json!({"year": year, "score": 90, "note": "完成"}))).await.0.is_client_error());
        assert!(app.api(&me, "POST", &assess(posts[0]), Some(json!({"year": year, "score": 100, "note": "自评"}))).await.0.is_client_error());
        refused(app.api(&other, "POST", &assess(posts[0]), Some(json!({"year": year, "score": 90, "note": "完成"}))).await, "not_found");

        let years = "/api/v1/first-secretaries/years";
        let confirm = json!({"org_id": p.counties[0], "year": year});
        ok(app.api(&county, "POST", &assess(posts[0]), Some(json!({"year": year, "score": 80, "note": "承诺事项基本完成"}))).await);
        // changed freely until confirmed; the year waits for every first secretary
        ok(app.api(&county, "POST", &assess(posts[0]), Some(json!({"year": year, "score": 96, "note": "承诺事项全部完成，集体经济增收明显"}))).await);
        refused(app.api(&county, "POST", years, Some(confirm.clone())).await, "fs.assessments_missing");
        for (a, s) in posts.iter().skip(1).zip([92, 75, 40]) {
            ok(app.api(&county, "POST", &assess(*a), Some(json!({"year": year, "score": s, "note": "对照承诺逐项考核"}))).await);
        }
        let live = ok(app.api(&county, "GET", &format!("{years}?org_id={}&year={year}", p.counties[0]), None).await);
        let row = |v: &Value, a: i64| v["rows"].as_array().expect("rows").iter().find(|r| r["assignment_id"] == json!(a)).cloned().expect("row");
        // 60% months + 40% pledge: 95×.6+96×.4 = 95.4 → 95; 88×.6+92×.4 = 89.6 → 90; 70×.6+75×.4 = 72; 50×.6+40×.4 = 46
        let got: Vec<(i64, &str)> = posts.iter().map(|a| {
            let r = row(&live, *a);
            (r["result"].as_i64().unwrap_or(-1), match r["grade"].as_str() { Some("excellent") => "优秀", Some("competent") => "称职", Some("basic") => "基本称职", _ => "不称职" })
        }).collect();
        // four first secretaries: at most ⌊4 × 1/5⌋ = 0 may be 优秀 — both 90+ are held to 称职
        assert_eq!(got, [(95, "称职"), (90, "称职"), (72, "称职"), (46, "不称职")], "{live}");
        assert!(row(&live, posts[0])["note"].as_str().unwrap_or("").contains("超出优秀比例"));
        assert_eq!(row(&live, posts[0])["monthly_percent"], 95);
        // not confirmed: below the department only the department reads it
        refused(app.api(&township, "GET", &format!("{years}?org_id={}&year={year}", p.counties[0]), None).await, "fs.year_unconfirmed");
        refused(app.api(&other, "GET", &format!("{years}?org_id={}&year={year}", p.counties[0]), None).await, "not_found");
        // this year has not ended
        refused(app.api(&county, "POST", years, Some(json!({"org_id": p.counties[0], "year": year + 1}))).await, "fs.year_open");
        refused(app.api(&township, "POST", years, Some(json!({"org_id": town, "year": year}))).await, "forbidden");

        let done = ok(app.api(&county, "POST", years, Some(confirm.clone())).await);
        assert!(done["confirmed_at"].is_string());
        refused(app.api(&county, "POST", years, Some(confirm)).await, "conflict");
        refused(app.api(&county, "POST", &assess(posts[0]), Some(json!({"year": year, "score": 99, "note": "改"}))).await, "fs.year_confirmed");
        // 不称职 goes on the black side of the ledger; confirmed results are read below the department
        let black = app.count(&format!("SELECT COUNT(*) AS n FROM fs_ledger WHERE assignment_id = {} AND color = 'black' AND category = 'penalty' AND source = 'annual'", posts[3])).await;
        assert_eq!(black, 1);
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM fs_ledger WHERE color = 'red'").await, 0, "none is 优秀");
        let read = ok(app.api(&township, "GET", &format!("{years}?org_id={}&year={year}", p.counties[0]), None).await);
        assert_eq!(read["digest"], done["digest"]);
        let changed = dangjian::on_db!(&app.ctx.db, x => sqlx::query("DELETE FROM fs_years").execute(x).await.is_err());
        assert!(changed, "a confirmed year is never removed");
        for action in ["fs.assess", "fs.year_confirm", "fs.ledger_add"] {
            assert!(app.count(&format!("SELECT COUNT(*) AS n FROM audit_log WHERE action = '{action}'")).await >= 1, "{action}");
        }
        // the page
        let (s, _) = app.browser("county_w", p.counties[0], "org_staff").await;
        let (st, _, html) = app.page(&s, "GET", &format!("/first-secretaries/years?org_id={}&year={year}", p.counties[0]), None).await;
        assert_eq!(st, StatusCode::OK);
        assert!(html.contains("已确认") && html.contains("孙丽") && html.contains("不称职"), "{html}");
        assert!(matches!(app.verify().await, dangjian::audit::VerifyOutcome::Ok { .. }));
    })
    .await;
}

/// 实绩 and 导师: the first secretary files a month's results (refused for a month not begun,
/// before the posting, with a counter that is not a number), files it again with the version
/// read, and the month's obligation shows it on time or late; the county sums its villages'
/// reports; a tutor's session is recorded; the public page shows identity, standard, pledges
/// and results without an account and without personal data.
#[tokio::test]
async fn the_first_secretary_reports_the_month_is_guided_and_shown_in_public() {
    each_backend(|app| async move {
        use chrono::Datelike;
        let p = province(&app).await;
        let county = app.account("county", p.counties[0], "org_staff", None).await;
        let other = app.account("county_b", p.counties[2], "org_staff", None).await;
        let me = app.account("fs_one", p.branches[0], "member", Some(p.members[0])).await;
        let today = app.ctx.clock.today();
        let rid = ok(app.api(&county, "POST", "/api/v1/first-secretaries/rounds", Some(json!({"name": "县派第一书记", "year": today.year()}))).await)["id"]
            .as_i64()
            .expect("id");
        let (_, aid) = nominated(&app, &county, p.counties[0], rid).await;
        let anon = |path: String| {
            let app = &app;
            async move {
                let req = axum::http::Request::builder().uri(path).body(axum::body::Body::empty()).expect("req");
                let (s, _, body) = app.send(req).await;
                (s, String::from_utf8_lossy(&body).to_string())
            }
        };
        // not on duty: no public page, no report
        assert_eq!(anon(format!("/api/v1/public/first-secretaries/{aid}")).await.0, StatusCode::NOT_FOUND);
        let since = today - Duration::days(40);
        ok(app.api(&county, "POST", &format!("/api/v1/first-secretaries/{aid}/assign"),
            Some(json!({"village_id": p.branches[0], "start_on": since, "term_months": 24, "lat": 35.0, "lng": 116.0}))).await);
        let tutor = ok(app.api(&county, "POST", &format!("/api/v1/first-secretaries/{aid}/tutors"),
            Some(json!({"role": "practice", "name": "李文华", "unit": "原县派第一书记"}))).await)["id"].as_i64().expect("id");
        ok(app.api(&me, "POST", &format!("/api/v1/first-secretaries/{aid}/pledges"),
            Some(json!({"item": "发展村级集体经济", "target": "村集体年收入达到10万元"}))).await);

        let reports = format!("/api/v1/first-secretaries/{aid}/reports");
        let month = |d: chrono::NaiveDate| d.format("%Y-%m").to_string();
        let last = today.with_day(1).expect("first") - Duration::days(1);
        let next = (today.with_day(1).expect("first") + Duration::days(32)).with_day(1).expect("first");
        // refusals, nothing written
        let bad = app.api(&me, "POST", &reports, Some(json!({"month": month(next), "counters": {"roads": "1"}}))).await;
        assert_eq!(fields(&bad.1), ["month"], "a month not begun: {bad:?}");
        let bad = app.api(&me, "POST", &reports, Some(json!({"month": month(since - Duration::days(40)), "counters": {"roads": "1"}}))).await;
        assert_eq!(fields(&bad.1), ["month"], "before the posting: {bad:?}");
        let bad = app.api(&me, "POST", &reports, Some(json!({"month": month(last), "counters": {"roads": "abc", "lamps": "1.5", "nosuch": "3"}}))).await;
        assert_eq!(fields(&bad.1), ["counters.lamps", "counters.nosuch", "counters.roads"], "{bad:?}");
        let bad = app.api(&me, "POST", &reports, Some(json!({"month": month(last), "counters": {"roads": "", "lamps": "0"}}))).await;
        assert_eq!(fields(&bad.1), ["projects"], "an empty report: {bad:?}");
        refused(app.api(&county, "POST", &reports, Some(json!({"month": month(last), "projects": "x"}))).await, "forbidden");
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM fs_reports").await, 0, "nothing half-written");

        // filed: counters in their units, the month's obligation on time up to the due day
        let r = ok(app.api(&me, "POST", &reports, Some(json!({"month": month(last),
            "counters": {"roads": "2.5", "lamps": "12", "income": "3.25", "jobs": ""},
            "projects": "村集体光伏项目并网发电", "problems": "冷库建设资金缺口"}))).await);
        let shown: Vec<(String, String)> = r["counters"].as_array().expect("counters").iter()
            .map(|c| (c["key"].as_str().unwrap_or("").to_string(), c["value"].as_str().unwrap_or("").to_string())).collect();
        assert_eq!(shown, [("income".to_string(), "3.25".to_string()), ("roads".into(), "2.5".into()), ("lamps".into(), "12".into())]);
        let due_day = dangjian::first_secretary::FsRules::default().report_due_day;
        let on_time = (today.day() as i64) <= due_day;
        assert_eq!(r["status"], if on_time { "done" } else { "late" }, "{r}");
        // filed again with the version read: replaced; with a stale version: refused
        let v1 = r["version"].as_i64().expect("version");
        let r2 = ok(app.api(&me, "POST", &reports, Some(json!({"month": month(last), "version": v1,
            "counters": {"roads": "3", "lamps": "12"}, "projects": "村集体光伏项目并网发电"}))).await);
        assert_eq!(r2["id"], r["id"]);
        assert_eq!(r2["counters"].as_array().map(Vec::len), Some(2));
        refused(app.api(&me, "POST", &reports, Some(json!({"month": month(last), "version": v1, "projects": "旧版本"}))).await, "conflict");
        // this month, too (it has begun)
        ok(app.api(&me, "POST", &reports, Some(json!({"month": month(today), "counters": {"roads": "0.75", "visits": "30"}}))).await);
        let list = ok(app.api(&county, "GET", &reports, None).await);
        assert_eq!(list.as_array().map(Vec::len), Some(2));
        assert_eq!(list[0]["month"], month(today));
        refused(app.api(&other, "GET", &reports, None).await, "not_found");

        // the generator owes one report a month of the posting, once however often it runs
        dangjian::obligation::generate_all(&app.ctx).await.expect("generate");
        dangjian::obligation::generate_all(&app.ctx).await.expect("again");
        let owed = app.count(&format!("SELECT COUNT(*) AS n FROM obligations WHERE kind = 'fs.report' AND subject_id = {aid}")).await;
        let months = (today.year() * 12 + today.month() as i32) - (since.year() * 12 + since.month() as i32) + 1;
        assert_eq!(owed, months as i64);
        // the first secretary's 工作台 asks for the ended months not reported, not for those filed
        let todos = ok(app.api(&me, "GET", "/api/v1/workbench", None).await);
        let titles: Vec<String> = todos.as_array().expect("todos").iter().map(|t| t["title"].as_str().unwrap_or("").to_string()).collect();
        assert!(!titles.iter().any(|t| t.contains(&format!("报送{}月度实绩报告", month(last)))), "{titles:?}");
        if month(since) != month(last) {
            assert!(titles.iter().any(|t| t.contains(&format!("报送{}月度实绩报告", month(since)))), "{titles:?}");
        }

        // the county sums its villages' reports; another county does not see them
        let q = format!("/api/v1/first-secretaries/results?org_id={}&from={}&to={}", p.counties[0], month(since), month(today));
        let s = ok(app.api(&county, "GET", &q, None).await);
        assert_eq!(s["reports"], 2);
        let total = |s: &Value, k: &str| s["counters"].as_array().expect("counters").iter()
            .find(|c| c["key"] == k).map(|c| c["total"].as_str().unwrap_or("").to_string()).unwrap_or_default();
        assert_eq!(total(&s, "roads"), "3.75");
        assert_eq!(total(&s, "lamps"), "12");
        assert_eq!(total(&s, "visits"), "30");
        assert_eq!(s["tally"]["expected"], months as i64, "{s}");
        // who has not filed: the posting's first month when it is not last month and past due
        let unfiled: Vec<String> = s["unfiled"].as_array().expect("unfiled").iter().map(|u| u["month"].as_str().unwrap_or("").to_string()).collect();
        assert!(!unfiled.contains(&month(last)) && !unfiled.contains(&month(today)), "{unfiled:?}");
        refused(app.api(&other, "GET", &q, None).await, "not_found");
        let bad = app.api(&county, "GET", &format!("/api/v1/first-secretaries/results?org_id={}&from=2020-01&to=2026-12", p.counties[0]), None).await;
        assert_eq!(fields(&bad.1), ["from"], "more than 36 months: {bad:?}");

        // tutors' guidance: refusals, then recorded by the first secretary
        let guidance = format!("/api/v1/first-secretaries/{aid}/guidance");
        let bad = app.api(&me, "POST", &guidance, Some(json!({"tutor_id": tutor + 999, "held_on": today + Duration::days(1), "method": "fax", "topic": "", "content": ""}))).await;
        assert_eq!(fields(&bad.1), ["tutor_id", "method", "held_on", "topic", "content"], "{bad:?}");
        let bad = app.api(&me, "POST", &guidance, Some(json!({"tutor_id": tutor, "held_on": since - Duration::days(1), "method": "visit", "topic": "选址", "content": "到村察看"}))).await;
        assert_eq!(fields(&bad.1), ["held_on"], "before the posting: {bad:?}");
        refused(app.api(&other, "POST", &guidance, Some(json!({"tutor_id": tutor, "held_on": today, "method": "visit", "topic": "选址", "content": "到村察看"}))).await, "not_found");
        let g = ok(app.api(&me, "POST", &guidance, Some(json!({"tutor_id": tutor, "held_on": today, "method": "visit", "topic": "冷库项目选址", "content": "到村察看地块，建议靠近主路"}))).await);
        assert_eq!(g["tutor_name"], "李文华");
        assert_eq!(ok(app.api(&county, "GET", &guidance, None).await).as_array().map(Vec::len), Some(1));
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM audit_log WHERE action IN ('fs.report_file', 'fs.report_refile', 'fs.guidance')").await, 4);

        // the public page: no account, no personal data
        let (st, body) = anon(format!("/api/v1/public/first-secretaries/{aid}")).await;
        assert_eq!(st, StatusCode::OK, "{body}");
        let v: Value = serde_json::from_str(&body).expect("json");
        assert_eq!(v["name"], "王立新");
        assert_eq!(v["pledges"][0]["item"], "发展村级集体经济");
        assert_eq!(v["standard"].as_array().map(Vec::len), Some(4));
        assert_eq!(v["months_reported"], 2);
        let keys: Vec<&String> = v.as_object().expect("object").keys().collect();
        for private in ["lat", "lng", "position", "cadre_position", "liaison", "baseline", "id_number", "phone"] {
            assert!(!keys.iter().any(|k| k.as_str() == private), "{private} shown: {v}");
        }
        let (st, html) = anon(format!("/public/first-secretaries/{aid}")).await;
        assert_eq!(st, StatusCode::OK);
        assert!(html.contains("亮承诺") && html.contains("村集体年收入达到10万元") && html.contains("新修道路 3.75 公里"), "{html}");
        // a locality may turn it off
        ok(app.api(&county, "POST", "/api/v1/rules/first_secretary", Some(json!({"org_id": p.counties[0], "values": {"public_profile": false}}))).await);
        assert_eq!(anon(format!("/public/first-secretaries/{aid}")).await.0, StatusCode::NOT_FOUND);

        // the pages: the first secretary's form, the county's summary
        // the first secretary corrects a month on the page: the form opens with what was filed
        let fs = app.change_password(&app.login("fs_one", PASSWORD).await.expect("login")).await;
        let (st, _, html) = app.page(&fs, "GET", &format!("/first-secretaries/{aid}?report={}", month(last)), None).await;
        assert_eq!(st, StatusCode::OK);
        assert!(html.contains("正在更正") && html.contains(r#"name="c.roads" inputmode="decimal" value="3""#) && html.contains("村集体光伏项目并网发电"), "{html}");
        let (sc, _) = app.browser("county_w", p.counties[0], "org_staff").await;
        let (st, _, html) = app.page(&sc, "GET", &format!("/first-secretaries/results?org_id={}&from={}&to=2020-01", p.counties[0], month(since)), None).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "a reversed range is refused on the form");
        assert!(html.contains("汇总的月份须从早到晚"), "{html}");
        let (st, _, html) = app.page(&sc, "GET", &format!("/first-secretaries/results?org_id={}&from={}", p.counties[0], month(since)), None).await;
        assert_eq!(st, StatusCode::OK);
        assert!(html.contains("新修道路") && html.contains("3.75"), "{html}");
        let (st, _, html) = app.page(&sc, "GET", &format!("/first-secretaries/{aid}"), None).await;
        assert_eq!(st, StatusCode::OK);
        assert!(html.contains("月度实绩报告") && html.contains("冷库项目选址") && !html.contains("报送实绩"), "the county reads, does not file: {html}");
    })
    .await;
}

/// 组织关系: a first secretary on the roster moves their Party relationship to the village's
/// branch by the built transfer (one open at a time, received by the other side), and back
/// to the branch it came from once recalled; another county sees none of it.
#[tokio::test]
async fn the_party_relationship_follows_the_posting_by_transfer() {
    each_backend(|app| async move {
        use chrono::Datelike;
        let p = province(&app).await;
        let county = app.account("county", p.counties[0], "org_staff", None).await;
        let other = app.account("county_b", p.counties[2], "org_staff", None).await;
        let today = app.ctx.clock.today();
        let rid = ok(app.api(&county, "POST", "/api/v1/first-secretaries/rounds", Some(json!({"name": "县派第一书记", "year": today.year()}))).await)["id"]
            .as_i64().expect("id");
        // a cadre on the roster (member 2, of the county's second branch) and one who is not
        let cid = ok(app.api(&county, "POST", "/api/v1/cadres", Some(json!({"name": "赵明", "managed_by": p.counties[0], "unit": "县财政局",
            "position": "科长", "rank": "section_chief", "category": "first_secretary", "member_id": p.members[2]}))).await)["id"].as_i64().expect("id");
        let aid = ok(app.api(&county, "POST", "/api/v1/first-secretaries", Some(json!({"round_id": rid, "cadre_id": cid, "sending_level": "county"}))).await)["id"]
            .as_i64().expect("id");
        let rel = format!("/api/v1/first-secretaries/{aid}/party-relation");
        assert_eq!(ok(app.api(&county, "GET", &rel, None).await), Value::Null, "not yet posted");
        refused(app.api(&county, "POST", &rel, None).await, "conflict");
        ok(app.api(&county, "POST", &format!("/api/v1/first-secretaries/{aid}/assign"),
            Some(json!({"village_id": p.branches[0], "start_on": today, "term_months": 24, "lat": 35.0, "lng": 116.0}))).await);
        let r = ok(app.api(&county, "GET", &rel, None).await);
        assert_eq!((r["due"].as_str(), r["target_org_id"].as_i64(), r["can_send"].as_bool()), (Some("in"), Some(p.branches[0]), Some(true)), "{r}");
        refused(app.api(&other, "GET", &rel, None).await, "not_found");
        refused(app.api(&other, "POST", &rel, None).await, "not_found");

        let t = ok(app.api(&county, "POST", &rel, None).await);
        assert_eq!((t["status"].as_str(), t["to_org_id"].as_i64()), (Some("sent"), Some(p.branches[0])));
        assert!(t["reason"].as_str().is_some_and(|s| s.contains("第一书记")), "{t}");
        refused(app.api(&county, "POST", &rel, None).await, "transfer.already_open");
        let r = ok(app.api(&county, "GET", &rel, None).await);
        assert_eq!((r["open_transfer"]["id"].clone(), r["can_send"].as_bool()), (t["id"].clone(), Some(false)));
        ok(app.api(&county, "POST", &format!("/api/v1/transfers/{}/receive", t["id"]), None).await);
        let r = ok(app.api(&county, "GET", &rel, None).await);
        assert_eq!((r["in_village"].as_bool(), r["due"].clone()), (Some(true), Value::Null), "{r}");
        refused(app.api(&county, "POST", &rel, None).await, "conflict");

        // recalled: back to where it came from
        ok(app.api(&county, "POST", &format!("/api/v1/first-secretaries/{aid}/decide/recall"), Some(json!({"reason": "工作调整"}))).await);
        let r = ok(app.api(&county, "GET", &rel, None).await);
        assert_eq!((r["due"].as_str(), r["target_org_id"].as_i64()), (Some("back"), Some(p.branches[1])), "{r}");
        let back = ok(app.api(&county, "POST", &rel, None).await);
        assert_eq!(back["to_org_id"].as_i64(), Some(p.branches[1]));
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'transfer.send'").await, 2);

        // the page offers it to whoever may send it
        let (s, _) = app.browser("county_w", p.counties[0], "org_staff").await;
        let (st, _, html) = app.page(&s, "GET", &format!("/first-secretaries/{aid}"), None).await;
        assert_eq!(st, StatusCode::OK);
        assert!(html.contains("组织关系") && html.contains("待接收的转接"), "{html}");
    })
    .await;
}

/// 联盟 and 比武打擂: the county forms its whole alliance and a sub-alliance of two first
/// secretaries, opens the sub-alliance's quarterly contest (refused for a half-year, a
/// quarter not begun, twice), judges score by code on the built review engine, and the close
/// names the champions into the red/black ledger with the rotating red flag to the first.
#[tokio::test]
async fn an_alliance_contest_names_its_champions_and_moves_the_red_flag() {
    each_backend(|app| async move {
        use chrono::Datelike;
        let p = province(&app).await;
        let county = app.account("county", p.counties[0], "org_staff", None).await;
        let other = app.account("county_b", p.counties[2], "org_staff", None).await;
        let today = app.ctx.clock.today();
        let rid = ok(app.api(&county, "POST", "/api/v1/first-secretaries/rounds", Some(json!({"name": "县派第一书记", "year": today.year()}))).await)["id"]
            .as_i64().expect("id");
        let mut postings = Vec::new();
        for (i, name) in ["钱进", "孙悦", "李强"].iter().enumerate() {
            let cid = ok(app.api(&county, "POST", "/api/v1/cadres", Some(json!({"name": name, "managed_by": p.counties[0], "unit": "县商务局",
                "position": "科员", "rank": "section_member", "category": "first_secretary"}))).await)["id"].as_i64().expect("id");
            let aid = ok(app.api(&county, "POST", "/api/v1/first-secretaries", Some(json!({"round_id": rid, "cadre_id": cid, "sending_level": "county"}))).await)["id"]
                .as_i64().expect("id");
            if i < 2 {
                ok(app.api(&county, "POST", &format!("/api/v1/first-secretaries/{aid}/assign"),
                    Some(json!({"village_id": p.branches[i], "start_on": today, "term_months": 24, "lat": 35.0, "lng": 116.0}))).await);
            }
            postings.push(aid);
        }
        let whole = ok(app.api(&county, "POST", "/api/v1/first-secretaries/alliances", Some(json!({"name": "县第一书记联盟"}))).await)["id"].as_i64().expect("id");
        let bad = app.api(&county, "POST", "/api/v1/first-secretaries/alliances", Some(json!({"name": "", "parent_id": whole + 999}))).await;
        assert_eq!(fields(&bad.1), ["name", "parent_id"], "{bad:?}");
        let sub = ok(app.api(&county, "POST", "/api/v1/first-secretaries/alliances", Some(json!({"name": "第一分盟", "parent_id": whole}))).await)["id"].as_i64().expect("id");
        refused(app.api(&county, "POST", "/api/v1/first-secretaries/alliances", Some(json!({"name": "第一分盟", "parent_id": whole}))).await, "validation_failed");
        refused(app.api(&other, "GET", &format!("/api/v1/first-secretaries/alliances/{sub}"), None).await, "not_found");
        refused(app.api(&other, "POST", &format!("/api/v1/first-secretaries/alliances/{sub}/members"), Some(json!({"assignment_ids": [postings[0]]}))).await, "not_found");

        // members: on duty only; through the sub-alliance, not the whole one
        let members = format!("/api/v1/first-secretaries/alliances/{sub}/members");
        let bad = app.api(&county, "POST", &members, Some(json!({"assignment_ids": [postings[2]]}))).await;
        assert_eq!(fields(&bad.1), ["assignment_ids"], "not on duty: {bad:?}");
        refused(app.api(&county, "POST", &format!("/api/v1/first-secretaries/alliances/{whole}/members"), Some(json!({"assignment_ids": [postings[0]]}))).await, "conflict");
        let a = ok(app.api(&county, "POST", &members, Some(json!({"assignment_ids": [postings[0], postings[1]]}))).await);
        assert_eq!(a["members"].as_array().map(Vec::len), Some(2));
        // taken out and back in (moving between sub-alliances)
        let a = ok(app.api(&county, "DELETE", &format!("{members}/{}", postings[0]), None).await);
        assert_eq!(a["members"].as_array().map(Vec::len), Some(1));
        refused(app.api(&county, "DELETE", &format!("{members}/{}", postings[0]), None).await, "not_found");
        refused(app.api(&other, "DELETE", &format!("{members}/{}", postings[1]), None).await, "not_found");
        let a = ok(app.api(&county, "POST", &members, Some(json!({"assignment_ids": [postings[0]]}))).await);
        assert_eq!(a["members"].as_array().map(Vec::len), Some(2));
        let w = ok(app.api(&county, "GET", &format!("/api/v1/first-secretaries/alliances/{whole}"), None).await);
        assert_eq!(w["members"].as_array().map(Vec::len), Some(2), "the whole alliance counts its sub-alliances' members");
        // an organisation below the department reads its alliances
        let below = app.account("branch_staff", p.branches[0], "committee_staff", None).await;
        assert_eq!(ok(app.api(&below, "GET", "/api/v1/first-secretaries/alliances", None).await).as_array().map(Vec::len), Some(2));
        // a posting of a round the county does not run (the city's) never joins its alliance
        let city = app.account("city", p.cities[0], "org_staff", None).await;
        let city_round = ok(app.api(&city, "POST", "/api/v1/first-secretaries/rounds", Some(json!({"name": "市派第一书记", "year": today.year()}))).await)["id"]
            .as_i64().expect("id");
        let ccid = ok(app.api(&city, "POST", "/api/v1/cadres", Some(json!({"name": "冯涛", "managed_by": p.cities[0], "unit": "市财政局",
            "position": "科员", "rank": "section_member", "category": "first_secretary"}))).await)["id"].as_i64().expect("id");
        let city_post = ok(app.api(&city, "POST", "/api/v1/first-secretaries", Some(json!({"round_id": city_round, "cadre_id": ccid, "sending_level": "city"}))).await)["id"]
            .as_i64().expect("id");
        ok(app.api(&city, "POST", &format!("/api/v1/first-secretaries/{city_post}/assign"),
            Some(json!({"village_id": p.branches[2], "start_on": today, "term_months": 24, "lat": 35.0, "lng": 116.0}))).await);
        let bad = app.api(&county, "POST", &members, Some(json!({"assignment_ids": [city_post]}))).await;
        assert_eq!(fields(&bad.1), ["assignment_ids"], "another department's posting: {bad:?}");

        // the contest: a quarter begun, once
        let contests = format!("/api/v1/first-secretaries/alliances/{sub}/contests");
        let q = dangjian::points::quarter_of(today);
        let next_q = dangjian::points::quarter_of(today + Duration::days(93));
        for period in ["2026-H1".to_string(), next_q, "1999-Q1".into(), format!("{}-Q+1", today.year())] {
            let bad = app.api(&county, "POST", &contests, Some(json!({"period": period}))).await;
            assert_eq!(fields(&bad.1), ["period"], "{period}: {bad:?}");
        }
        // a quarter before anyone was posted has no contestants
        let before = dangjian::points::quarter_of(today - Duration::days(100));
        refused(app.api(&county, "POST", &contests, Some(json!({"period": before}))).await, "fs.contest_too_small");
        let c = ok(app.api(&county, "POST", &contests, Some(json!({"period": q}))).await);
        let cid = c["campaign_id"].as_i64().expect("campaign");
        let bad = app.api(&county, "POST", &contests, Some(json!({"period": q}))).await;
        assert_eq!(fields(&bad.1), ["period"], "twice: {bad:?}");
        let campaign = ok(app.api(&county, "GET", &format!("/api/v1/reviews/{cid}"), None).await);
        assert_eq!(campaign["campaign"]["kind"], "contest", "{campaign}");

        // judges by code on the review engine
        let mut codes = Vec::new();
        for (name, grp) in [("周平", "judges"), ("吴刚", "judges"), ("郑华", "reps"), ("王丽", "public")] {
            let x = ok(app.api(&county, "POST", &format!("/api/v1/reviews/{cid}/raters"), Some(json!({"name": name, "grp": grp, "unit": "县委组织部"}))).await);
            codes.push(x["code"].as_str().expect("code").to_string());
        }
        ok(app.api(&county, "POST", &format!("/api/v1/reviews/{cid}/open"), Some(json!({}))).await);
        let reporters: Vec<(i64, i64)> = app_reporters(&app, cid).await;
        let sheet = |lvl: &str| json!({"projects": lvl, "income": lvl, "economy": lvl, "difficulties": lvl, "disputes": lvl, "organisation": lvl});
        for code in &codes {
            for (reporter, assignment) in &reporters {
                let lvl = if *assignment == postings[1] { "good" } else { "fair" };
                ok(app.api("", "POST", &format!("/api/v1/score/{code}"), Some(json!({"reporter_id": reporter, "answers": sheet(lvl)}))).await);
            }
        }
        // a contest takes no critiques (nothing goes to the rectification ledger); the close
        // names the champions
        refused(app.api(&county, "POST", &format!("/api/v1/reviews/reporters/{}/critiques", reporters[0].0), Some(json!({"content": "走访群众不够", "is_problem": true}))).await,
            "review.contest_no_critique");
        ok(app.api(&county, "POST", &format!("/api/v1/reviews/{cid}/close"), Some(json!({}))).await);
        let a = ok(app.api(&county, "GET", &format!("/api/v1/first-secretaries/alliances/{sub}"), None).await);
        let champs = a["contests"][0]["champions"].as_array().expect("champions").clone();
        assert_eq!(champs.len(), 1, "two contestants: one 擂主 (at most a third, rounded up): {a}");
        assert_eq!((champs[0]["assignment_id"].as_i64(), champs[0]["rank"].as_i64(), champs[0]["flag"].as_bool()), (Some(postings[1]), Some(1), Some(true)));
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM rect_items WHERE source = 'review'").await, 0, "a contest opens no rectification");
        assert_eq!(a["flag"][0]["cadre_name"], "孙悦");
        let ledger = ok(app.api(&county, "GET", &format!("/api/v1/first-secretaries/{}/ledger", postings[1]), None).await);
        assert!(ledger.to_string().contains("获评擂主") && ledger.to_string().contains("流动红旗"), "{ledger}");
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM interviews").await, 0, "a contest interviews nobody");
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'fs.ledger_add'").await, 1);

        // the page
        let (s, _) = app.browser("county_w", p.counties[0], "org_staff").await;
        let (st, _, html) = app.page(&s, "GET", "/first-secretaries/alliances", None).await;
        assert_eq!(st, StatusCode::OK);
        assert!(html.contains("第一分盟") && html.contains("流动红旗") && html.contains("孙悦"), "{html}");
        let (st, _, html) = app.page(&s, "GET", &format!("/reviews/{cid}"), None).await;
        assert_eq!(st, StatusCode::OK);
        assert!(html.contains("第一书记比武打擂"), "{html}");
        // the printable record for the personnel file carries the win
        let (st, _, html) = app.page(&s, "GET", &format!("/first-secretaries/{}/record", postings[1]), None).await;
        assert_eq!(st, StatusCode::OK);
        assert!(html.contains("第一书记履职档案") && html.contains("获评擂主") && html.contains("孙悦"), "{html}");
        let (sb, _) = app.browser("county_bw", p.counties[2], "org_staff").await;
        let (st, _, _) = app.page(&sb, "GET", &format!("/first-secretaries/{}/record", postings[1]), None).await;
        assert_eq!(st, StatusCode::NOT_FOUND, "another county reads no record");
    })
    .await;
}

/// (reporter, posting) of a contest.
async fn app_reporters(app: &TestApp, campaign: i64) -> Vec<(i64, i64)> {
    use dangjian::db::DbRow;
    let sql = format!(
        "SELECT id, assignment_id FROM review_reporters WHERE campaign_id = {campaign} ORDER BY id"
    );
    dangjian::on_db!(&app.ctx.db, x => {
        sqlx::query(&sql).fetch_all(x).await.expect("reporters").iter()
            .map(|r| (r.i64("id").expect("id"), r.i64("assignment_id").expect("assignment"))).collect()
    })
}
