//! Authentication, sessions, CSRF, input limits and the personal-data canary.

use crate::support::*;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use serde_json::json;

#[tokio::test]
async fn login_answers_the_same_and_locks_after_failures() {
    each_backend(|app| async move {
        let root = app.org(None, "中共测试市委", "committee", "city").await;
        app.account("alice", root, "org_staff", None).await;
        let form = |u: &str, p: &str| format!("username={u}&password={}", urlencode(p));
        let post = |body: String| Request::builder().method("POST").uri("/login").header(header::CONTENT_TYPE, "application/x-www-form-urlencoded").body(Body::from(body)).expect("req");
        let (s1, _, b1) = app.send(post(form("alice", "Wrong@2026x"))).await;
        let (s2, _, b2) = app.send(post(form("nobody", "Wrong@2026x"))).await;
        assert_eq!(s1, StatusCode::UNAUTHORIZED);
        let (b1, b2) = (String::from_utf8_lossy(&b1).replace("alice", "U"), String::from_utf8_lossy(&b2).replace("nobody", "U"));
        assert_eq!((s1, &b1), (s2, &b2), "unknown user and wrong password answer alike");
        // Four more failures (five in all) lock the account: even the right password fails.
        for _ in 0..4 {
            app.send(post(form("alice", "Wrong@2026x"))).await;
        }
        assert_eq!(app.login("alice", PASSWORD).await.err(), Some(StatusCode::UNAUTHORIZED));
        assert!(app.count("SELECT COUNT(*) AS n FROM accounts WHERE username = 'alice' AND locked_until IS NOT NULL").await == 1);
        assert!(app.count("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'auth.login_failed'").await >= 6);
    })
    .await;
}

#[tokio::test]
async fn sessions_end_on_logout_and_disable_and_rotate_on_login() {
    each_backend(|app| async move {
        let root = app.org(None, "中共测试市委", "committee", "city").await;
        let admin = app.account("root", root, "sec_admin", None).await;
        app.account("bob", root, "org_staff", None).await;
        let s1 = app.login("bob", PASSWORD).await.expect("login");
        let s2 = app.login("bob", PASSWORD).await.expect("login");
        assert_ne!(s1, s2, "a new token at every login");
        let (s, h, _) = app.page(&s1, "GET", "/password", None).await;
        assert_eq!(s, StatusCode::OK, "{h:?}");
        // Logout kills that session only.
        let csrf = app.csrf(&s1).await;
        let (s, _, _) = app
            .page(&s1, "POST", "/logout", Some(&format!("_csrf={csrf}")))
            .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let (s, h, _) = app.page(&s1, "GET", "/password", None).await;
        assert_eq!(
            (s, h.get("location").map(|v| v.to_str().unwrap_or(""))),
            (StatusCode::SEE_OTHER, Some("/login"))
        );
        let (s, _, _) = app.page(&s2, "GET", "/password", None).await;
        assert_eq!(s, StatusCode::OK);
        // Disabling the account ends its sessions and tokens at once.
        let (_, accounts) = app.api(&admin, "GET", "/api/v1/accounts", None).await;
        let bob = accounts
            .as_array()
            .expect("a")
            .iter()
            .find(|a| a["username"] == "bob")
            .expect("bob")["id"]
            .as_i64()
            .expect("id");
        let (s, _) = app
            .api(
                &admin,
                "POST",
                &format!("/api/v1/accounts/{bob}/disable"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let (s, _, _) = app.page(&s2, "GET", "/password", None).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert_eq!(
            app.login("bob", PASSWORD).await.err(),
            Some(StatusCode::UNAUTHORIZED)
        );
    })
    .await;
}

#[tokio::test]
async fn csrf_and_origin_are_checked_on_every_form_post() {
    each_backend(|app| async move {
        let root = app.org(None, "中共测试市委", "committee", "city").await;
        app.account("carol", root, "org_staff", None).await;
        let s = app.login("carol", PASSWORD).await.expect("login");
        let (st, _, _) = app.page(&s, "POST", "/logout", Some("x=1")).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "no token");
        let (st, _, _) = app.page(&s, "POST", "/logout", Some("_csrf=0000")).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "wrong token");
        let csrf = app.csrf(&s).await;
        let req = Request::builder()
            .method("POST")
            .uri("/logout")
            .header(header::COOKIE, format!("dj_session={s}"))
            .header(header::HOST, "dangjian.local")
            .header(header::ORIGIN, "https://evil.example")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("_csrf={csrf}")))
            .expect("req");
        let (st, _, _) = app.send(req).await;
        assert_eq!(st, StatusCode::FORBIDDEN, "foreign origin");
        // No state change by GET: /logout only answers POST.
        let (st, _, _) = app.page(&s, "GET", "/logout", None).await;
        assert_eq!(st, StatusCode::METHOD_NOT_ALLOWED);
    })
    .await;
}

#[tokio::test]
async fn bad_input_gets_4xx_never_5xx() {
    each_backend(|app| async move {
        let root = app.org(None, "中共测试市委", "committee", "city").await;
        let t = app.account("dave", root, "org_staff", None).await;
        let raw = |body: &'static [u8], ct: &str| {
            Request::builder()
                .method("POST")
                .uri("/api/v1/members")
                .header(header::AUTHORIZATION, format!("Bearer {t}"))
                .header(header::CONTENT_TYPE, ct.to_string())
                .body(Body::from(body))
                .expect("req")
        };
        for (body, ct) in [
            (&b"{not json"[..], "application/json"),
            (&b"\xff\xfe\x00"[..], "application/json"),
            (&b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]"[..], "application/json"),
            (&b"{}"[..], "text/plain"),
            (&br#"{"org_id": "x"}"#[..], "application/json"),
            (&br#"{"name": "\ud800"}"#[..], "application/json"),
            (&b"{}"[..], "application/x-www-form-urlencoded"),
        ] {
            let (s, h, b) = app.send(raw(body, ct)).await;
            assert!(s.is_client_error(), "{s} for {:?}", String::from_utf8_lossy(body));
            // the framework's own refusals come as the API's JSON error too
            assert_eq!(h.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()), Some("application/json"), "{s}");
            let e: serde_json::Value = serde_json::from_slice(&b).expect("json error");
            assert!(e["code"].as_str().is_some_and(|c| !c.is_empty()), "{e}");
        }
        // a wrongly typed field is named
        let (s, _, b) = app.send(raw(br#"{"org_id": "x"}"#, "application/json")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let e: serde_json::Value = serde_json::from_slice(&b).expect("json");
        assert_eq!(e["fields"][0]["field"], "org_id", "{e}");
        // invalid UTF-8 and nonsense in the path and query
        for uri in ["/api/v1/members/%FF%FE", "/api/v1/members/abc", "/api/v1/orgs/99999999999999999999", "/api/v1/points/board?month=%FF"] {
            let req = Request::builder().uri(uri).header(header::AUTHORIZATION, format!("Bearer {t}")).body(Body::empty()).expect("req");
            let (s, h, _) = app.send(req).await;
            assert!(s.is_client_error(), "{s} for {uri}");
            assert_eq!(h.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()), Some("application/json"), "{uri}");
        }
        let (s, e) = app.api(&t, "GET", "/api/v1/no/such/thing", None).await;
        assert_eq!((s, e["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
        let big = vec![b'a'; 3 * 1024 * 1024];
        let req = Request::builder()
            .method("POST")
            .uri("/api/v1/members")
            .header(header::AUTHORIZATION, format!("Bearer {t}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(big))
            .expect("req");
        let (s, _, _) = app.send(req).await;
        assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
        let (s, e) = app.api(&t, "GET", "/api/v1/orgs/999999", None).await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert_eq!(e["code"], "not_found");
        let (s, _) = app.api("dj_bogus", "GET", "/api/v1/me", None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        // out-of-range pages are brought into range; numbers that are not numbers are refused
        let (s, _) = app.api(&t, "GET", "/api/v1/members?page=-5&per_page=100000", None).await;
        assert_eq!(s, StatusCode::OK);
        // an unknown filter value is refused, never ignored (an export would hold everything)
        for (q, field) in [("age_band=zz", "age_band"), ("status=bogus", "status"), ("gender=X", "gender"), ("education=博士", "education"), ("sort=id_enc", "sort"), ("dir=up", "dir")] {
            let (s, e) = app.api(&t, "GET", &format!("/api/v1/members?{q}"), None).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{q}: {e}");
            assert_eq!(e["fields"][0]["field"], field, "{q}");
            let (s, _, _) = app.send(Request::builder().uri(format!("/api/v1/members/export?format=csv&{q}")).header(header::AUTHORIZATION, format!("Bearer {t}")).body(Body::empty()).expect("req")).await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "export {q}");
        }
        for uri in ["/api/v1/members?page=9223372036854775807&per_page=200", "/api/v1/members?page=9223372036854775807&q=zhang", "/api/v1/accounts?page=9223372036854775807"] {
            let (s, e) = app.api(&t, "GET", uri, None).await;
            assert!(s == StatusCode::OK || s == StatusCode::FORBIDDEN, "{s} {e} for {uri}");
        }
        let (s, e) = app.api(&t, "GET", "/api/v1/members?join_year=abc&per_page=9223372036854775808", None).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        let fields: Vec<&str> = e["fields"].as_array().expect("fields").iter().filter_map(|f| f["field"].as_str()).collect();
        assert_eq!(fields, ["join_year", "per_page"]);
        let (s, e) = app.api(&t, "GET", "/api/v1/members?ids=-9223372036854775809", None).await;
        assert_eq!((s, e["fields"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("ids")), "{e}");
    })
    .await;
}

#[tokio::test]
async fn security_headers_and_openapi() {
    let app = TestApp::new(Backend::Sqlite).await;
    let (s, h, _) = app
        .send(
            Request::builder()
                .uri("/login")
                .body(Body::empty())
                .expect("req"),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let csp = h
        .get("content-security-policy")
        .expect("csp")
        .to_str()
        .expect("s");
    for part in [
        "script-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(part), "{part}");
    }
    assert_eq!(h.get("x-content-type-options").expect("nosniff"), "nosniff");
    assert!(h.contains_key("referrer-policy"));
    let (s, _, body) = app
        .send(
            Request::builder()
                .uri("/api/openapi.json")
                .body(Body::empty())
                .expect("req"),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let doc: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert!(doc["openapi"].as_str().expect("v").starts_with("3."));
    for path in [
        "/api/v1/members",
        "/api/v1/orgs/{id}",
        "/api/v1/transfers",
        "/api/v1/audit",
        "/api/v1/accounts",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} documented");
    }
    let (s, _, _) = app
        .send(
            Request::builder()
                .uri("/api/docs/")
                .body(Body::empty())
                .expect("req"),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, h, _) = app
        .send(
            Request::builder()
                .uri("/assets/app.css")
                .body(Body::empty())
                .expect("req"),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(h
        .get("cache-control")
        .expect("cc")
        .to_str()
        .expect("s")
        .contains("immutable"));
}

#[tokio::test]
async fn totp_second_factor_is_required_once_enabled_and_codes_work_once() {
    let app = TestApp::new(Backend::Sqlite).await;
    let root = app.org(None, "中共测试市委", "committee", "city").await;
    let token = app.account("erin", root, "org_staff", None).await;
    let _ = token;
    let acc = dangjian::auth::store::list(&app.ctx, "/", &Default::default())
        .await
        .expect("list")
        .0
        .into_iter()
        .find(|a| a.username == "erin")
        .expect("erin");
    let p = app.principal(acc.id).await;
    let secret = dangjian::auth::store::totp_begin(&app.ctx, &p)
        .await
        .expect("begin");
    let now = app.ctx.clock.now().timestamp() as u64;
    let code = format!("{:06}", dangjian::auth::totp::code_at(&secret, now / 30));
    dangjian::auth::store::totp_confirm(&app.ctx, acc.id, &code, None)
        .await
        .expect("enrol");
    assert!(
        dangjian::auth::store::totp_confirm(&app.ctx, acc.id, &code, None)
            .await
            .is_err(),
        "a code works once"
    );
    // A password login now stops at the second factor.
    let s = app.login("erin", PASSWORD).await.expect("login");
    let (st, h, _) = app.page(&s, "GET", "/members", None).await;
    assert_eq!(st, StatusCode::SEE_OTHER);
    assert_eq!(h.get("location").expect("loc"), "/login/totp");
}

/// Unique ID numbers and phones — of members, applicants, talent-pool entries and love-bank
/// card holders — never appear in clear in the database files, the WAL, a backup, the audit
/// log, exports, or any list or detail response (masked for entitled accounts, refused to
/// others).
#[tokio::test]
async fn personal_numbers_never_stored_or_exported_in_clear() {
    each_backend(|app| async move {
        let root = app.org(None, "中共测试市委", "committee", "city").await;
        let branch = app.org(Some(root), "甲村党支部", "branch", "village").await;
        let token = app.account("frank", root, "org_staff", None).await;
        let mut canaries = Vec::new();
        for i in 0..5u16 {
            let mut input = member_input(branch, &format!("金丝雀{i}"), 500 + i);
            input.phone = Some(format!("1770000{:04}", 4321 + i));
            canaries.push(input.id_number.clone().expect("id"));
            canaries.push(input.phone.clone().expect("phone"));
            let (s, m) = app.api(&token, "POST", "/api/v1/members", Some(serde_json::to_value(&input).expect("json"))).await;
            assert_eq!(s, StatusCode::OK, "{m}");
            // Edit once so before/after snapshots exist too.
            let id = m["id"].as_i64().expect("id");
            input.education = "研究生".into();
            input.version = Some(1);
            let (s, _) = app.api(&token, "PUT", &format!("/api/v1/members/{id}"), Some(serde_json::to_value(&input).expect("json"))).await;
            assert_eq!(s, StatusCode::OK);
        }
        // The other capabilities that keep ID numbers and phones: an applicant (发展党员), a
        // talent-pool entry (向阳计划) and a love-bank card (爱心银行), each with canaries.
        let sec = app.account("fsec", branch, "branch_secretary", None).await;
        let today = app.ctx.clock.today();
        let born = |years: i64, seq: u16, male: bool| dangjian::member::idcard::compose("370811", today - chrono::Duration::days(years * 365 + 40), seq, male);
        let (rid, tid, cid) = (born(25, 611, true), born(24, 622, false), born(60, 633, true));
        let (rphone, tphone, cphone) = ("17700005511", "17700005522", "17700005533");
        canaries.extend([rid.clone(), tid.clone(), cid.clone(), rphone.into(), tphone.into(), cphone.into()]);
        let recruit = ok(app.api(&sec, "POST", "/api/v1/recruits", Some(json!({"org_id": branch, "name": "申请人甲", "ethnicity": "汉族",
            "id_number": rid, "phone": rphone, "education": "大学本科", "work_unit": "测试", "applied_on": today, "secret": PASSWORD}))).await);
        let talent = ok(app.api(&sec, "POST", "/api/v1/talents", Some(json!({"org_id": branch, "pool": "youth", "channel": "organisation",
            "name": "青年乙", "id_number": tid, "phone": tphone, "recommender": "镇团委", "recommended_on": today, "reason": "表现突出"}))).await);
        let card = ok(app.api(&token, "POST", "/api/v1/lovebank/cards", Some(json!({"org_id": branch, "holder": "持卡人丙",
            "id_number": cid, "phone": cphone, "address": "甲村3号"}))).await);
        // Exports (csv and xlsx) and the audit log as the API returns them.
        let mut haystacks: Vec<Vec<u8>> = Vec::new();
        // Every list and detail of those capabilities, as an entitled account (masked by
        // default) and as one of another branch (refused, and nothing in the refusal).
        let other = app.org(Some(root), "乙村党支部", "branch", "village").await;
        let outsider = app.account("fout", other, "branch_secretary", None).await;
        let reads = [
            "/api/v1/members".to_string(), format!("/api/v1/recruits/{}", recruit["id"]), "/api/v1/recruits".into(),
            format!("/api/v1/talents/{}", talent["id"]), "/api/v1/talents".into(),
            format!("/api/v1/lovebank/cards/{}", card["id"]), format!("/api/v1/lovebank/cards?org_id={branch}"),
            "/api/v1/audit?limit=500".into(),
        ];
        for path in &reads {
            for who in [&token, &sec, &outsider] {
                let (_, _, body) = app.send(Request::builder().uri(path.as_str()).header(header::AUTHORIZATION, format!("Bearer {who}")).body(Body::empty()).expect("req")).await;
                haystacks.push(body);
            }
        }
        let (s, _, _) = app.send(Request::builder().uri(format!("/api/v1/recruits/{}", recruit["id"])).header(header::AUTHORIZATION, format!("Bearer {outsider}")).body(Body::empty()).expect("req")).await;
        assert!(s == StatusCode::FORBIDDEN || s == StatusCode::NOT_FOUND, "{s}");
        for fmt in ["csv", "xlsx"] {
            let (s, _, body) = app
                .send(Request::builder().uri(format!("/api/v1/members/export?format={fmt}")).header(header::AUTHORIZATION, format!("Bearer {token}")).body(Body::empty()).expect("req"))
                .await;
            assert_eq!(s, StatusCode::OK);
            if fmt == "xlsx" {
                let rows = dangjian::member::io::read_xlsx(&body).expect("xlsx");
                haystacks.push(format!("{rows:?}").into_bytes());
            } else {
                haystacks.push(body);
            }
        }
        let audit = app.count("SELECT COUNT(*) AS n FROM audit_log").await;
        assert!(audit >= 10);
        let entries = dangjian::audit::list(&app.ctx.db, &dangjian::audit::AuditFilter { limit: Some(500), ..Default::default() }).await.expect("audit");
        haystacks.push(serde_json::to_vec(&entries).expect("json"));
        if app.is_sqlite() {
            app.exec("PRAGMA wal_checkpoint(PASSIVE)").await;
            // and an online backup as `dangjian backup` makes it
            let backup = app.dir.path().join("backup.db");
            app.exec(&format!("VACUUM INTO '{}'", backup.display())).await;
            for f in ["t.db", "t.db-wal", "backup.db"] {
                if let Ok(bytes) = std::fs::read(app.dir.path().join(f)) {
                    haystacks.push(bytes);
                }
            }
        } else {
            // Every text column of the tables that hold people.
            let dump: Vec<String> = dangjian::on_db!(&app.ctx.db, p => {
                // every row of every table, as text
                let tables = sqlx::query("SELECT tablename AS t FROM pg_tables WHERE schemaname = current_schema()")
                    .fetch_all(p).await.expect("tables");
                let mut dump = Vec::new();
                for t in &tables {
                    let t = dangjian::db::DbRow::string(t, "t").expect("t");
                    let rows = sqlx::query(&format!("SELECT CAST(row_to_json(x) AS TEXT) AS j FROM \"{t}\" x"))
                        .fetch_all(p).await.expect("dump");
                    dump.extend(rows.iter().map(|r| dangjian::db::DbRow::string(r, "j").expect("j")));
                }
                dump
            });
            haystacks.push(dump.join("\n").into_bytes());
        }
        for c in &canaries {
            for h in &haystacks {
                assert!(!h.windows(c.len()).any(|w| w == c.as_bytes()), "{c} found in clear");
            }
        }
        // ...while exact search through the blind index still finds them.
        let (_, page) = app.api(&token, "GET", &format!("/api/v1/members?q={}", canaries[1]), None).await;
        assert_eq!(page["total"], 1);
    })
    .await;
}

/// The command-line import prints its report without personal numbers, and the server log
/// of a failing import carries none either.
#[tokio::test]
async fn cli_output_carries_no_personal_numbers() {
    let app = TestApp::new(Backend::Sqlite).await;
    let root = app.org(None, "中共测试市委", "committee", "city").await;
    app.org(Some(root), "甲村党支部", "branch", "village").await;
    let good = member_input(root, "甲", 801).id_number.expect("id");
    let mut bad = member_input(root, "乙", 802).id_number.expect("id");
    bad.replace_range(17..18, if bad.ends_with('1') { "2" } else { "1" });
    let phone = "17712345678";
    let csv = format!(
        "姓名,身份证号码,手机号码,所在党支部,入党日期,转正日期,党员状态,学历,民族\n甲,{good},{phone},甲村党支部,2010-07-01,2011-07-01,正式党员,高中,汉族\n乙,{bad},{phone},甲村党支部,2010-07-01,2011-07-01,正式党员,高中,汉族\n甲二,{good},{phone},甲村党支部,2010-07-01,2011-07-01,正式党员,高中,汉族\n"
    );
    let file = app.dir.path().join("canary.csv");
    std::fs::write(&file, csv).expect("write");
    let out = cli(
        &app.db_url,
        &["import", &file.display().to_string()],
        &[("DANGJIAN_LOG", "debug")],
    );
    assert!(!out.status.success(), "two bad rows: nothing imported");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("第3行") && text.contains("第4行"), "{text}");
    for canary in [good.as_str(), bad.as_str(), phone] {
        assert!(!text.contains(canary), "{canary} printed: {text}");
    }
}

/// A session ends after 30 idle minutes and after 12 hours in all (the password policy's
/// values); an address that keeps failing to sign in is refused with 429, whichever user it
/// names, even with the right password.
#[tokio::test]
async fn sessions_time_out_and_a_failing_address_is_held_off() {
    each_backend(|app| async move {
        let root = app.org(None, "中共测试市委", "committee", "city").await;
        app.account("gina", root, "org_staff", None).await;
        let age = |column: &'static str, minutes: i64, session: String| {
            let app = &app;
            async move {
                let th = dangjian::crypto::sm3_hex(session.as_bytes());
                let at = app.ctx.clock.now() - chrono::Duration::minutes(minutes);
                dangjian::on_db!(&app.ctx.db, p => {
                    sqlx::query(&format!("UPDATE sessions SET {column} = $1 WHERE token_hash = $2")).bind(at).bind(&th).execute(p).await.expect("age");
                });
            }
        };
        let alive = |session: String| {
            let app = &app;
            async move { app.page(&session, "GET", "/password", None).await.0 == StatusCode::OK }
        };
        // idle: 29 minutes keeps it, 31 ends it
        let s = app.login("gina", PASSWORD).await.expect("login");
        age("last_seen", 29, s.clone()).await;
        assert!(alive(s.clone()).await, "29 idle minutes");
        age("last_seen", 31, s.clone()).await;
        assert!(!alive(s.clone()).await, "31 idle minutes");
        // absolute: active all along, but opened 12 hours ago
        let s = app.login("gina", PASSWORD).await.expect("login");
        age("created_at", 11 * 60 + 59, s.clone()).await;
        assert!(alive(s.clone()).await, "11 h 59 min");
        age("created_at", 12 * 60 + 1, s.clone()).await;
        assert!(!alive(s.clone()).await, "12 h 1 min");

        // the address limit (20 failures in 15 minutes): spread over many names, so that no
        // account locks; then even the right password of another account is held off
        let post = |u: &str, p: &str| {
            Request::builder().method("POST").uri("/login").header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(format!("username={u}&password={}", urlencode(p)))).expect("req")
        };
        for i in 0..19 {
            let (s, _, _) = app.send(post(&format!("guess{i}"), "Wrong@2026x")).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "failure {i}");
        }
        assert!(app.login("gina", PASSWORD).await.is_ok(), "19 failures: still let in");
        app.send(post("guess19", "Wrong@2026x")).await;
        let (s, h, body) = app.send(post("gina", PASSWORD)).await;
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "20 failures: held off");
        let wait: i64 = h.get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok()).expect("Retry-After");
        assert!((1..=900).contains(&wait), "{wait}");
        assert!(String::from_utf8_lossy(&body).contains("尝试次数过多"));
    })
    .await;
}
