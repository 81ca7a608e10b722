//! Import checks every row first and names each bad row; export writes exactly the filter.

use crate::support::*;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};

fn workbook(rows: &[[&str; 13]]) -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in dangjian::member::io::HEADERS.iter().enumerate() {
        ws.write_string(0, c as u16, *h).expect("h");
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            ws.write_string(r as u32 + 1, c as u16, *v).expect("cell");
        }
    }
    wb.save_to_buffer().expect("xlsx")
}

fn id(seq: u16) -> String {
    dangjian::member::idcard::compose("370811", d(1985, 3, 1), seq * 2 + 1, true)
}

struct Ids(Vec<String>);

fn sample(branch: &str) -> (Ids, Vec<[String; 13]>) {
    let ids = Ids((1..=5).map(id).collect());
    let row = |name: &str, idn: &str, br: &str, status: &str, full: &str| -> [String; 13] {
        [
            name,
            "男",
            "汉族",
            idn,
            "13900001111",
            "大学本科",
            "某村",
            br,
            "2010-07-01",
            full,
            status,
            "",
            "",
        ]
        .map(str::to_string)
    };
    let mut bad_id = ids.0[1].clone();
    bad_id.replace_range(17..18, if bad_id.ends_with('1') { "2" } else { "1" });
    let rows = vec![
        row("张一", &ids.0[0], branch, "正式党员", "2011-07-01"),
        row("张二", &bad_id, branch, "正式党员", "2011-07-01"),
        row("张三", &ids.0[2], branch, "正式党员", "2011-07-01"),
        row(
            "张四",
            &ids.0[3],
            "不存在的党支部",
            "正式党员",
            "2011-07-01",
        ),
        row("张五", &ids.0[4], branch, "正式党员", "2011-08-01"),
    ];
    (ids, rows)
}

fn as_refs(rows: &[[String; 13]]) -> Vec<[&str; 13]> {
    rows.iter()
        .map(|r| std::array::from_fn(|i| r[i].as_str()))
        .collect()
}

fn multipart(file: &[u8], name: &str, mode: &str, csrf: &str) -> (String, Vec<u8>) {
    let boundary = "----djtestboundary";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"_csrf\"\r\n\r\n{csrf}\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"mode\"\r\n\r\n{mode}\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes());
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Follows the redirect to an import job and polls it until the report is final.
async fn finished_import(app: &TestApp, session: &str, redirect: &axum::http::HeaderMap) -> String {
    let job = redirect
        .get("location")
        .expect("loc")
        .to_str()
        .expect("s")
        .to_string();
    let mut html = String::new();
    for _ in 0..100 {
        html = app.page(session, "GET", &job, None).await.2;
        if html.contains("导入进度：完成") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(html.contains("导入进度：完成"), "{html}");
    html
}

#[tokio::test]
async fn import_names_every_bad_row_and_writes_nothing_by_default() {
    each_backend(|app| async move {
        let root = app.org(None, "中共测试市委", "committee", "city").await;
        let branch = app.org(Some(root), "甲村党支部", "branch", "village").await;
        let _ = branch;
        let (s, csrf) = app.browser("imp", root, "org_staff").await;
        let (_, rows) = sample("甲村党支部");
        let file = workbook(&as_refs(&rows));
        let upload = |mode: &str| {
            let (ct, body) = multipart(&file, "members.xlsx", mode, &csrf);
            Request::builder()
                .method("POST")
                .uri("/members/import")
                .header(header::COOKIE, format!("dj_session={s}"))
                .header(header::CONTENT_TYPE, ct)
                .body(Body::from(body))
                .expect("req")
        };
        let (st, h, _) = app.send(upload("all")).await;
        assert_eq!(st, StatusCode::SEE_OTHER);
        let html = finished_import(&app, &s, &h).await;
        assert!(html.contains("导入进度：完成"), "{html}");
        assert!(
            html.contains("<td>3</td><td>身份证号码</td><td>身份证号码校验位错误</td>"),
            "{html}"
        );
        assert!(html.contains("<td>5</td><td>所在党支部</td>"), "{html}");
        assert!(html.contains("未导入任何数据"));
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM members").await, 0);
        // Only the valid rows.
        let (st, h, _) = app.send(upload("valid_only")).await;
        assert_eq!(st, StatusCode::SEE_OTHER);
        let body = finished_import(&app, &s, &h).await;
        assert!(body.contains("data-written=\"3\""), "{body}");
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM members").await, 3);
        assert_eq!(
            app.count("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'member.create'")
                .await,
            3
        );
    })
    .await;
}

#[tokio::test]
async fn import_detects_duplicates_in_file_and_database_and_reads_csv() {
    each_backend(|app| async move {
        let root = app.org(None, "中共测试市委", "committee", "city").await;
        let branch = app.org(Some(root), "甲村党支部", "branch", "village").await;
        let (ids, _) = sample("甲村党支部");
        let mut existing = member_input(branch, "已在库", 1);
        existing.id_number = Some(ids.0[0].clone());
        app.member_with(existing).await;
        let csv = format!(
            "\u{feff}姓名,身份证号码,所在党支部,入党日期,转正日期,党员状态,学历,民族\n甲,{a},甲村党支部,2010-07-01,2011-07-01,正式党员,高中,汉族\n乙,{b},#{branch},2010/07/01,2011/07/01,正式党员,高中,汉族\n丙,{b},甲村党支部,2010-07-01,2011-07-01,正式党员,高中,汉族\n丁,{c},甲村党支部,2010-07-01,2009-07-01,正式党员,高中,汉族\n",
            a = ids.0[0],
            b = ids.0[1],
            c = ids.0[2]
        );
        let rows = dangjian::member::io::read_csv(csv.as_bytes()).expect("csv");
        let path = dangjian::org::store::get(&app.ctx.db, root).await.expect("root").path;
        let r = dangjian::member::io::run_import(&app.ctx, &app.system(), &path, rows, dangjian::member::io::ImportMode::ValidOnly, None).await.expect("import");
        let errs: Vec<(usize, &str)> = r.errors.iter().map(|e| (e.row, e.message.as_str())).collect();
        assert!(errs.contains(&(2, "该身份证号码已在本辖区党员库中")), "{errs:?}");
        assert!(errs.contains(&(4, "与第3行的身份证号码重复")), "{errs:?}");
        assert!(errs.iter().any(|(row, m)| *row == 5 && m.contains("转正日期")), "{errs:?}");
        assert_eq!(r.written, 1, "only 乙 (branch given by #id) is written");
    })
    .await;
}

#[tokio::test]
async fn export_writes_exactly_the_filtered_list() {
    each_backend(|app| async move {
        let root = app.org(None, "中共测试市委", "committee", "city").await;
        let a = app.org(Some(root), "甲村党支部", "branch", "village").await;
        let b = app.org(Some(root), "乙村党支部", "branch", "village").await;
        for i in 0..3 {
            app.member(a, &format!("甲{i}"), 60 + i).await;
        }
        let mut young = member_input(b, "乙新", 70);
        young.join_date = app.ctx.clock.today() - chrono::Duration::days(30);
        young.full_date = None;
        young.status = "probationary".into();
        app.member_with(young).await;
        let token = app.account("exp", root, "org_staff", None).await;
        let get = |q: &str| {
            Request::builder()
                .uri(format!("/api/v1/members/export?{q}"))
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .expect("req")
        };
        let (_, _, all) = app.send(get("format=csv")).await;
        assert_eq!(String::from_utf8_lossy(&all).lines().count(), 5);
        let (_, _, some) = app.send(get(&format!("format=csv&org_id={a}"))).await;
        assert_eq!(String::from_utf8_lossy(&some).lines().count(), 4);
        let (_, _, prob) = app.send(get("status=probationary")).await;
        let rows = dangjian::member::io::read_xlsx(&prob).expect("xlsx");
        assert_eq!(rows.len(), 1);
        assert_eq!(&rows[0]["姓名"], "乙新");
        assert_eq!(&rows[0]["党员状态"], "预备党员");
        assert!(rows[0]["身份证号码"].contains("**********"));
    })
    .await;
}

#[tokio::test]
async fn an_import_writes_in_batches_each_member_with_its_own_entry() {
    each_backend(|app| async move {
        let root = app.org(None, "中共测试市委", "committee", "city").await;
        let branch = app.org(Some(root), "甲村党支部", "branch", "village").await;
        // more rows than one insert statement and one audit statement take
        let n = dangjian::member::store::INSERT_BATCH * 3 + 7;
        let mut csv = String::from("\u{feff}姓名,身份证号码,所在党支部,入党日期,转正日期,党员状态,学历,民族\n");
        for i in 0..n {
            csv.push_str(&format!("张{i},{},甲村党支部,2010-07-01,2011-07-01,正式党员,高中,汉族\n", id(100 + i as u16)));
        }
        let rows = dangjian::member::io::read_csv(csv.as_bytes()).expect("csv");
        let path = dangjian::org::store::get(&app.ctx.db, root).await.expect("root").path;
        let r = dangjian::member::io::run_import(&app.ctx, &app.system(), &path, rows, dangjian::member::io::ImportMode::AllOrNothing, None).await.expect("import");
        assert_eq!(r.written, n, "{:?}", r.errors);
        assert_eq!(app.count(&format!("SELECT COUNT(*) AS n FROM members WHERE org_id = {branch}")).await, n as i64);
        // one creation entry per member, each naming its own member
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'member.create'").await, n as i64);
        assert_eq!(
            app.count("SELECT COUNT(*) AS n FROM members m WHERE (SELECT COUNT(*) FROM audit_log a WHERE a.action = 'member.create' AND a.object_id = CAST(m.id AS TEXT)) = 1").await,
            n as i64
        );
        // the snapshots are the stored rows, across the batches' edges
        let token = app.account("imp", root, "org_staff", None).await;
        let first = app.count(&format!("SELECT MIN(id) AS n FROM members WHERE org_id = {branch}")).await;
        for k in [0, 39, 40, 63, 64, n as i64 - 1] {
            let (_, stored) = app.api(&token, "GET", &format!("/api/v1/members/{}", first + k), None).await;
            let (_, h) = app.api(&token, "GET", &format!("/api/v1/members/{}/history", first + k), None).await;
            let created: serde_json::Value = serde_json::from_str(h[0]["after_json"].as_str().expect("after")).expect("json");
            assert_eq!(created, stored, "member {k}");
        }
        assert!(matches!(app.verify().await, dangjian::audit::VerifyOutcome::Ok { .. }));
    })
    .await;
}
