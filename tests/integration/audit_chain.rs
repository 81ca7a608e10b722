//! Tamper evidence: edit, delete, reorder, insert or truncate audit entries and
//! `audit verify` names the first bad sequence number; the CLI exits non-zero.

use crate::support::*;
use axum::http::StatusCode;
use dangjian::audit::VerifyOutcome;

async fn some_history(app: &TestApp) {
    let root = app.org(None, "中共测试市委", "committee", "city").await;
    let b = app.org(Some(root), "甲村党支部", "branch", "village").await;
    for i in 0..4 {
        app.member(b, &format!("党员{i}"), 40 + i).await;
    }
}

fn bad_seq(v: VerifyOutcome) -> i64 {
    match v {
        VerifyOutcome::Broken { seq, .. } => seq,
        VerifyOutcome::Ok { entries } => panic!("chain of {entries} verified after tampering"),
    }
}

/// Puts the append-only triggers back (after a tampering case took them away), so that only
/// the case's own damage is found.
async fn lock(app: &TestApp) {
    if app.is_sqlite() {
        for (name, op) in [
            ("audit_log_no_update", "UPDATE"),
            ("audit_log_no_delete", "DELETE"),
        ] {
            app.exec(&format!("CREATE TRIGGER IF NOT EXISTS {name} BEFORE {op} ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;")).await;
        }
    } else {
        app.exec("ALTER TABLE audit_log ENABLE TRIGGER USER").await;
    }
}

async fn unlock(app: &TestApp) {
    if app.is_sqlite() {
        app.exec("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;")
            .await;
    } else {
        app.exec("ALTER TABLE audit_log DISABLE TRIGGER USER").await;
    }
}

#[tokio::test]
async fn the_log_refuses_update_and_delete() {
    each_backend(|app| async move {
        some_history(&app).await;
        let upd = dangjian::on_db!(&app.ctx.db, p => sqlx::query("UPDATE audit_log SET actor_name = 'x' WHERE seq = 1").execute(p).await.is_err());
        let del = dangjian::on_db!(&app.ctx.db, p => sqlx::query("DELETE FROM audit_log WHERE seq = 1").execute(p).await.is_err());
        assert!(upd && del, "append-only enforced by the database");
    })
    .await;
}

#[tokio::test]
async fn every_kind_of_tampering_is_named() {
    let cases = [
        "edit",
        "delete",
        "reorder",
        "insert",
        "truncate",
        "relink",
        "truncate_and_rewind_head",
        "replay_old_head",
        "drop_triggers",
        "recompute_without_key",
        "alter_keyed_range",
    ];
    for case in cases {
        each_backend(|app| async move {
            some_history(&app).await;
            let n = match app.verify().await {
                VerifyOutcome::Ok { entries } => entries,
                other => panic!("{other:?}"),
            };
            // the calendar stored at start, two organisations, four members
            assert_eq!(n, 7);
            let head_row = |app: &TestApp| {
                let db = app.ctx.db.clone();
                async move {
                    dangjian::on_db!(&db, p => {
                        let r = sqlx::query("SELECT seq, hash, mac FROM audit_head WHERE id = 1").fetch_one(p).await.expect("head");
                        use dangjian::db::DbRow;
                        (r.i64("seq").expect("s"), r.string("hash").expect("h"), r.string("mac").expect("m"))
                    })
                }
            };
            let expected = match case {
                "edit" => {
                    unlock(&app).await;
                    app.exec("UPDATE audit_log SET after_json = '{\"name\":\"篡改\"}' WHERE seq = 3").await;
                    3
                }
                "delete" => {
                    unlock(&app).await;
                    app.exec("DELETE FROM audit_log WHERE seq = 4").await;
                    4
                }
                "reorder" => {
                    unlock(&app).await;
                    app.exec("UPDATE audit_log SET seq = -2 WHERE seq = 2; UPDATE audit_log SET seq = 2 WHERE seq = 5; UPDATE audit_log SET seq = 5 WHERE seq = -2;").await;
                    2
                }
                "insert" => {
                    unlock(&app).await;
                    app.exec("UPDATE audit_log SET seq = seq + 100 WHERE seq >= 4; UPDATE audit_log SET seq = seq - 99 WHERE seq >= 104; INSERT INTO audit_log (seq, prev_hash, hash, ts, actor_id, actor_name, role, org_id, action, object_type, object_id, before_json, after_json, ip) SELECT 4, hash, hash, ts, actor_id, actor_name, role, org_id, 'member.delete', object_type, object_id, before_json, after_json, ip FROM audit_log WHERE seq = 3").await;
                    4
                }
                "truncate" => {
                    unlock(&app).await;
                    app.exec("DELETE FROM audit_log WHERE seq >= 5").await;
                    5
                }
                "relink" => {
                    // an edited entry whose hash is recomputed (as the source shows, without
                    // the key): the entry itself no longer verifies
                    unlock(&app).await;
                    app.exec("UPDATE audit_log SET actor_name = 'mallory' WHERE seq = 2").await;
                    let mut e = dangjian::audit::history(&app.ctx.db, "org", "1").await.expect("h").remove(0);
                    e.hash = dangjian::audit::entry_hash(&e);
                    app.exec(&format!("UPDATE audit_log SET hash = '{}' WHERE seq = 2", e.hash)).await;
                    2
                }
                "truncate_and_rewind_head" => {
                    // the tail deleted and the head set to the entry before: its MAC is missing
                    unlock(&app).await;
                    app.exec("DELETE FROM audit_log WHERE seq > 5; UPDATE audit_head SET seq = 5, hash = (SELECT hash FROM audit_log WHERE seq = 5)").await;
                    5
                }
                "replay_old_head" => {
                    // the head as it was at seq 5, saved then and put back after truncating:
                    // the database alone cannot tell; the anchor outside it can
                    let (s5, h5, m5) = head_row(&app).await;
                    assert_eq!(dangjian::audit::anchor::write(&app.ctx).await, Ok(dangjian::audit::anchor::Written::Moved(s5)));
                    app.member(app.count("SELECT MIN(id) AS n FROM orgs WHERE kind = 'branch'").await, "新增", 49).await;
                    assert_eq!(dangjian::audit::anchor::write(&app.ctx).await, Ok(dangjian::audit::anchor::Written::Moved(s5 + 1)));
                    unlock(&app).await;
                    app.exec(&format!("DELETE FROM audit_log WHERE seq > {s5}; UPDATE audit_head SET seq = {s5}, hash = '{h5}', mac = '{m5}'")).await;
                    // the anchor is never moved back
                    assert_eq!(dangjian::audit::anchor::write(&app.ctx).await, Ok(dangjian::audit::anchor::Written::Behind { head: s5, anchor: s5 + 1 }));
                    s5 + 1
                }
                "drop_triggers" => {
                    unlock(&app).await;
                    0
                }
                "recompute_without_key" => {
                    // every entry from 3 on rewritten and rehashed with plain SM3, head included
                    unlock(&app).await;
                    let entries = dangjian::audit::list(&app.ctx.db, &Default::default()).await.expect("list");
                    let mut prev = entries.iter().find(|e| e.seq == 2).expect("2").hash.clone();
                    let mut ordered: Vec<_> = entries.into_iter().filter(|e| e.seq >= 3).collect();
                    ordered.sort_by_key(|e| e.seq);
                    for mut e in ordered {
                        e.prev_hash = prev.clone();
                        e.actor_name = "mallory".into();
                        e.hash = dangjian::audit::entry_hash(&e);
                        app.exec(&format!("UPDATE audit_log SET actor_name = 'mallory', prev_hash = '{}', hash = '{}' WHERE seq = {}", e.prev_hash, e.hash, e.seq)).await;
                        prev = e.hash;
                    }
                    app.exec(&format!("UPDATE audit_head SET hash = '{prev}'")).await;
                    3
                }
                _ => {
                    // pretend every entry is from before keying (plain SM3 would then be accepted)
                    app.exec("UPDATE audit_meta SET keyed_from = 1000").await;
                    0
                }
            };
            if case != "drop_triggers" {
                lock(&app).await;
            }
            assert_eq!(bad_seq(app.verify().await), expected, "{case}");
            if app.is_sqlite() && case == "edit" {
                let out = cli(&app.db_url, &["audit", "verify"], &[]);
                assert!(!out.status.success());
                assert!(String::from_utf8_lossy(&out.stdout).contains("seq 3"), "{}", String::from_utf8_lossy(&out.stdout));
            }
        })
        .await;
    }
}

#[tokio::test]
async fn a_write_whose_audit_fails_is_rolled_back() {
    each_backend(|app| async move {
        let root = app.org(None, "中共测试市委", "committee", "city").await;
        let b = app.org(Some(root), "甲村党支部", "branch", "village").await;
        // Break the chain head so that appending fails (its row is gone).
        app.exec("DELETE FROM audit_head").await;
        let r =
            dangjian::member::store::create(&app.ctx, &app.system(), &member_input(b, "张三", 9))
                .await;
        assert!(r.is_err());
        assert_eq!(
            app.count("SELECT COUNT(*) AS n FROM members").await,
            0,
            "no half-written state"
        );
    })
    .await;
}

#[tokio::test]
async fn backup_restores_data_and_a_verifying_chain() {
    let app = TestApp::new(Backend::Sqlite).await;
    some_history(&app).await;
    let target = app.dir.path().join("backup.db");
    let out = cli(&app.db_url, &["backup", &target.display().to_string()], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = cli(
        &format!("sqlite://{}", target.display()),
        &["audit", "verify"],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("7 entries"));
}

/// One byte flipped in an encrypted ID number, phone or stored file: reading it fails loudly
/// (a server error, logged), never answers with other data; the masked forms stay readable.
#[tokio::test]
async fn a_tampered_ciphertext_is_never_read_as_data() {
    each_backend(|app| async move {
        let root = app.org(None, "中共测试市委", "committee", "city").await;
        let branch = app.org(Some(root), "甲村党支部", "branch", "village").await;
        let token = app.account("tamper", root, "org_staff", None).await;
        let m = app.member(branch, "张三", 931).await;
        let (s, clear) = app.api(&token, "POST", &format!("/api/v1/members/{m}/unmask"), None).await;
        assert_eq!(s, axum::http::StatusCode::OK, "{clear}");
        for column in ["id_enc", "phone_enc"] {
            let set = |bytes: Vec<u8>| {
                let db = app.ctx.db.clone();
                async move {
                    dangjian::on_db!(&db, p => {
                        sqlx::query(&format!("UPDATE members SET {column} = $1 WHERE id = $2")).bind(bytes).bind(m).execute(p).await.expect("set");
                    });
                }
            };
            let original = dangjian::on_db!(&app.ctx.db, p => {
                let r = sqlx::query(&format!("SELECT {column} AS b FROM members WHERE id = $1")).bind(m).fetch_one(p).await.expect("row");
                dangjian::db::DbRow::bytes(&r, "b").expect("bytes")
            });
            let mut flipped = original.clone();
            let i = flipped.len() / 2;
            flipped[i] ^= 0x20;
            set(flipped).await;
            let (s, e) = app.api(&token, "POST", &format!("/api/v1/members/{m}/unmask"), None).await;
            assert_eq!(s, axum::http::StatusCode::INTERNAL_SERVER_ERROR, "{column}: {e}");
            assert_eq!(e["code"], "internal_error");
            for v in [&clear["id_number"], &clear["phone"]] {
                let v = v.as_str().expect("clear");
                assert!(!e.to_string().contains(v), "{column}: no clear data in the refusal");
            }
            set(original).await;
            let (s, again) = app.api(&token, "POST", &format!("/api/v1/members/{m}/unmask"), None).await;
            assert_eq!((s, &again), (axum::http::StatusCode::OK, &clear), "{column} restored");
        }
        // the masked record is still there to read
        let (s, shown) = app.api(&token, "GET", &format!("/api/v1/members/{m}"), None).await;
        assert_eq!(s, axum::http::StatusCode::OK, "{shown}");
        assert!(shown["id_number"].as_str().expect("masked").contains("****"));
    })
    .await;
}

/// The change history and the auditor's log speak Chinese: "手机号码：旧 → 新" instead of the
/// records' JSON, actions by name; the auditor filters by a capability, by the actor's display
/// name and by dates, and exports what the filter holds (the export itself recorded).
#[tokio::test]
async fn the_log_reads_in_words_and_exports() {
    each_backend(|app| async move {
        let city = app.org(None, "中共测试市委", "committee", "city").await;
        let branch = app
            .org(Some(city), "测试村党支部", "branch", "village")
            .await;
        let token = app.account("zuzhibu", city, "org_staff", None).await;
        app.exec("UPDATE accounts SET display_name = '组织部李干事' WHERE username = 'zuzhibu'")
            .await;
        let id = app.member(branch, "陈宁", 3).await;
        let mut edit = serde_json::to_value(member_input(branch, "陈宁", 3)).expect("json");
        edit["id_number"] = serde_json::json!(null);
        edit["phone"] = serde_json::json!("13988888888");
        edit["version"] = serde_json::json!(1);
        ok(app
            .api(&token, "PUT", &format!("/api/v1/members/{id}"), Some(edit))
            .await);
        let (staff, _) = app.browser("shuji", city, "org_staff").await;
        let (_, _, html) = app
            .page(&staff, "GET", &format!("/members/{id}"), None)
            .await;
        assert!(html.contains("修改党员信息"), "{html}");
        assert!(
            html.contains("手机号码：") && html.contains("→ 139****8888"),
            "{html}"
        );
        assert!(!html.contains("&quot;version&quot;"), "no raw JSON: {html}");

        let (auditor, _) = app.browser("shenji", city, "audit_admin").await;
        let today = app.ctx.clock.today();
        let q = format!(
            "/audit?action=member.&actor={}&from={today}&to={today}",
            urlencode("组织部李干事")
        );
        let (s, _, html) = app.page(&auditor, "GET", &q, None).await;
        assert_eq!(s, StatusCode::OK, "{html}");
        assert!(
            html.contains("修改党员信息") && html.contains("→ 139****8888"),
            "{html}"
        );
        assert!(
            !html.contains(">account.create<"),
            "only the member actions: {html}"
        );
        let yesterday = today - chrono::Duration::days(1);
        let (_, _, html) = app
            .page(
                &auditor,
                "GET",
                &format!("/audit?action=member.&from={yesterday}&to={yesterday}"),
                None,
            )
            .await;
        assert!(html.contains("没有符合条件的记录"), "{html}");
        let (s, _, _) = app
            .page(&auditor, "GET", "/audit?from=2026-13-01", None)
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        // the export: the filter's entries in words, a Chinese file name, recorded
        let (s, h, csv) = app
            .page(
                &auditor,
                "GET",
                &format!(
                    "/audit/export?action=member.update&actor={}",
                    urlencode("组织部李干事")
                ),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK);
        let disposition = h
            .get("content-disposition")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        assert!(
            disposition.contains("filename*=UTF-8''%E5%AE%A1%E8%AE%A1"),
            "{disposition}"
        );
        assert_eq!(csv.lines().count(), 2, "{csv}");
        assert!(
            csv.contains("修改党员信息") && csv.contains("手机号码："),
            "{csv}"
        );
        assert_eq!(
            app.count("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'audit.export'")
                .await,
            1
        );
        // a secretary reads no log
        let (sec, _) = app.browser("cunshuji", branch, "branch_secretary").await;
        let (s, _, _) = app.page(&sec, "GET", "/audit/export", None).await;
        assert_eq!(s, StatusCode::FORBIDDEN);
    })
    .await;
}
