use crate::support::*;

#[test]
fn migration_directories_have_the_same_file_names() {
    let names = |dir: &str| {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .expect(dir)
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let sqlite = names("migrations/sqlite");
    assert_eq!(sqlite, names("migrations/postgres"));
    let embedded: Vec<String> = dangjian::db::migrate::MIGRATIONS
        .iter()
        .map(|m| m.name.to_string())
        .collect();
    assert_eq!(
        sqlite, embedded,
        "every migration file is embedded in the binary"
    );
}

#[tokio::test]
async fn migrations_are_idempotent_and_start_an_empty_chain() {
    each_backend(|app| async move {
        let again = dangjian::db::migrate::run(&app.ctx.db)
            .await
            .expect("migrate again");
        assert!(again.is_empty());
        // the only entry of a new database: the holiday arrangements stored at start
        assert_eq!(
            app.verify().await,
            dangjian::audit::VerifyOutcome::Ok { entries: 1 }
        );
        assert_eq!(
            app.count("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'calendar.seed'")
                .await,
            1
        );
        // started again, nothing more is stored
        dangjian::calendar::store::seed_builtin(&app.ctx.db)
            .await
            .expect("seed");
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM audit_log").await, 1);
    })
    .await;
}

#[tokio::test]
async fn unknown_database_scheme_is_refused() {
    let cfg = dangjian::config::Config {
        database_url: "mysql://localhost/x".into(),
        ..Default::default()
    };
    assert!(cfg.validate().is_err());
}

#[tokio::test]
async fn demo_city_obeys_the_rules_and_is_deterministic() {
    each_backend(|app| async move {
        let opts = dangjian::demo::DemoOptions { members: 3000, seed: 42, as_of: d(2026, 11, 23) };
        let s = dangjian::demo::generate(&app.ctx, &opts, |_| {}).await.expect("demo");
        // the roster plus the people the recruitment pipeline admitted
        assert!((3000..3100).contains(&s.members), "{}", s.members);
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM members").await, s.members as i64);
        // people at every stage of the pipeline, and the edge cases a department meets
        assert!(app.count("SELECT COUNT(*) AS n FROM recruits").await >= 40);
        assert!(app.count("SELECT COUNT(DISTINCT step) AS n FROM recruits").await >= 10);
        assert!(app.count("SELECT COUNT(*) AS n FROM recruit_evaluations WHERE status = 'pending_revisit'").await >= 1);
        assert!(app.count("SELECT COUNT(*) AS n FROM recruits WHERE extended = TRUE AND status = 'active'").await >= 1);
        assert!(app.count("SELECT COUNT(*) AS n FROM recruits WHERE step = 16 AND status = 'active'").await >= 1);
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM recruits r JOIN members m ON m.id = r.member_id WHERE r.step >= 17 AND r.step < 24 AND m.status <> 'probationary'").await, 0);
        // 向阳计划: all three pools and channels; women only in the women's pool; applicants linked
        assert_eq!(app.count("SELECT COUNT(DISTINCT pool) AS n FROM talents").await, 3);
        assert_eq!(app.count("SELECT COUNT(DISTINCT channel) AS n FROM talents").await, 3);
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM talents WHERE pool = 'women' AND gender <> 'F'").await, 0);
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM talents t LEFT JOIN recruits r ON r.id = t.recruit_id WHERE t.status = 'applied' AND (r.id IS NULL OR r.id_idx <> t.id_idx)").await, 0);
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM talents WHERE (status = 'tracking') <> (due_on IS NOT NULL)").await, 0);
        assert!(app.count("SELECT COUNT(*) AS n FROM talents WHERE status = 'applied'").await >= 1);
        // 整改台账: open, overdue, awaiting verification and closed items; closed ones were verified
        for status in ["open", "pending", "closed"] {
            assert!(app.count(&format!("SELECT COUNT(*) AS n FROM rect_items WHERE status = '{status}'")).await >= 1, "{status}");
        }
        assert!(app.count("SELECT COUNT(*) AS n FROM rect_items WHERE status <> 'closed' AND deadline < '2026-11-23'").await >= 1);
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM rect_items i WHERE i.status = 'closed' AND NOT EXISTS (SELECT 1 FROM rect_updates u WHERE u.item_id = i.id AND u.kind = 'pass')").await, 0);
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM rect_items i JOIN orgs o ON o.id = i.org_id WHERE o.parent_id <> i.supervisor_id").await, 0);
        assert!(app.count("SELECT COUNT(*) AS n FROM interviews WHERE status = 'held'").await >= 1);
        assert!(app.count("SELECT COUNT(*) AS n FROM rect_items WHERE source = 'interview'").await >= 1);
        // 述职评议: last year's closed with ranks, this year's meeting under way
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM review_campaigns WHERE status = 'closed' AND kind = 'review'").await, 1);
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM review_campaigns WHERE status = 'meeting' AND kind = 'review'").await, 1);
        // 第一书记联盟: last quarter's contest held, its 擂主 on the red/black ledger
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM review_campaigns WHERE status = 'closed' AND kind = 'contest'").await, 1);
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM fs_champions h JOIN fs_ledger l ON l.id = h.ledger_id WHERE l.category = 'contest_win'").await,
            app.count("SELECT COUNT(*) AS n FROM fs_champions").await);
        assert!(app.count("SELECT COUNT(*) AS n FROM fs_champions WHERE flag = TRUE").await >= 1);
        // 实绩: reports with counters; no report for a month not begun
        assert!(app.count("SELECT COUNT(*) AS n FROM fs_report_counters").await > 0);
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM fs_reports r JOIN fs_assignments a ON a.id = r.assignment_id WHERE r.month >= 202611").await, 0, "the running month is not yet reported");
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM review_reporters r JOIN review_campaigns c ON c.id = r.campaign_id WHERE c.status = 'closed' AND r.rank IS NULL").await, 0);
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM review_reporters WHERE report_status <> 'approved'").await, 0);
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM review_critiques k LEFT JOIN rect_items i ON i.id = k.item_id WHERE i.id IS NULL").await, 0);
        // 爱心银行: a busy community whose balances equal their entries
        assert!(app.count("SELECT COUNT(*) AS n FROM love_cards").await >= 100);
        assert!(app.count("SELECT COUNT(*) AS n FROM love_entries WHERE kind = 'redeem'").await >= 10);
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM love_cards c WHERE c.balance <> (SELECT COALESCE(SUM(e.points), 0) FROM love_entries e WHERE e.card_id = c.id)").await, 0);
        // a year of points: every member has some, closed months agree with their entries,
        // no cap of the catalogue is exceeded, last year's stars are final everywhere
        let members = app.count("SELECT COUNT(*) AS n FROM members").await;
        let with_points = app.count("SELECT COUNT(DISTINCT member_id) AS n FROM point_entries WHERE subject = 'member'").await;
        assert!(with_points * 100 >= members * 95, "{with_points} of {members}");
        assert!(app.count("SELECT COUNT(*) AS n FROM point_closes").await > 0);
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM point_closes c WHERE c.scope = 'members' AND c.total <> (SELECT COALESCE(SUM(e.points), 0) FROM point_entries e WHERE e.subject = 'member' AND e.org_id = c.org_id AND e.month = c.month)").await, 0);
        // 一月一评分: first secretaries' months scored on the sheet within each area's mark, the
        // departments' closes agreeing with them, past quarters published
        assert!(app.count("SELECT COUNT(*) AS n FROM point_entries WHERE subject = 'first_secretary'").await > 0);
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM point_entries WHERE subject = 'first_secretary' AND (points < 0 OR points > 20)").await, 0);
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM point_closes c JOIN orgs d ON d.id = c.org_id WHERE c.scope = 'first_secretaries' AND c.total <> \
            (SELECT COALESCE(SUM(e.points), 0) FROM point_entries e JOIN orgs v ON v.id = e.org_id WHERE e.subject = 'first_secretary' AND e.month = c.month AND v.path LIKE d.path || '%')").await, 0);
        assert!(app.count("SELECT COUNT(*) AS n FROM fs_quarters").await >= 2);
        // 一年一奖惩: last year assessed and confirmed, its 优秀 within the share
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM fs_years").await, 1);
        assert!(app.count("SELECT COUNT(*) AS n FROM fs_assessments").await > 0);
        assert!(app.count("SELECT COUNT(*) AS n FROM fs_ledger WHERE source = 'annual'").await * 5 <= app.count("SELECT COUNT(*) AS n FROM fs_assessments").await * 2);
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM (SELECT member_id, month FROM point_entries WHERE indicator = 'M17' GROUP BY member_id, month HAVING SUM(points) > 3) x").await, 0, "M17 is capped at 3 a month");
        assert!(app.count("SELECT COUNT(*) AS n FROM point_claims WHERE status = 'pending'").await >= 1);
        assert!(app.count("SELECT COUNT(*) AS n FROM star_ratings").await > 0);
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM star_scores s JOIN star_rounds r ON r.id = s.round_id WHERE r.status = 'final' AND s.stars IS NULL").await, 0);
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM star_rounds WHERE status = 'scoring'").await, 1);
        // Every member sits on a branch; probationary members have no full date.
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM members m JOIN orgs o ON o.id = m.org_id WHERE o.kind NOT IN ('branch', 'joint_branch')").await, 0);
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM members WHERE status = 'probationary' AND full_date IS NOT NULL").await, 0);
        assert_eq!(app.count("SELECT COUNT(*) AS n FROM members WHERE status = 'full' AND full_date IS NULL").await, 0);
        // Every stored ID number decrypts (bound to its row) to a valid GB 11643 number agreeing
        // with the birth month.
        let rows: Vec<(i64, Vec<u8>, chrono::NaiveDate)> = dangjian::on_db!(&app.ctx.db, p => {
            let rows = sqlx::query("SELECT id, id_enc, birth_month FROM members ORDER BY id LIMIT 500").fetch_all(p).await.expect("rows");
            rows.iter().map(|r| (dangjian::db::DbRow::i64(r, "id").expect("i"), dangjian::db::DbRow::bytes(r, "id_enc").expect("b"), dangjian::db::DbRow::date(r, "birth_month").expect("d"))).collect()
        });
        for (mid, enc, month) in rows {
            let id = app.ctx.vault.decrypt(&dangjian::crypto::aad("members", "id_enc", mid), &enc).expect("decrypt");
            let info = dangjian::member::idcard::parse(&id).expect("valid id");
            assert_eq!(dangjian::member::month_of(info.birth_date), month);
        }
        // A second load is refused.
        assert!(dangjian::demo::generate(&app.ctx, &opts, |_| {}).await.is_err());
        assert!(matches!(app.verify().await, dangjian::audit::VerifyOutcome::Ok { .. }));
    })
    .await;
}

#[tokio::test]
async fn the_api_document_describes_every_rule_kind_and_the_sign_in() {
    each_backend(|app| async move {
        let city = app.org(None, "中共测试市委", "committee", "city").await;
        let staff = app.account("zuzhibu", city, "org_staff", None).await;
        let doc = ok(app.api(&staff, "GET", "/api/openapi.json", None).await);
        let schemas = &doc["components"]["schemas"];
        let kinds: Vec<String> =
            serde_json::from_value(schemas["RuleKindName"]["enum"].clone()).expect("kinds");
        assert_eq!(
            kinds,
            [
                "branch",
                "member",
                "recruit",
                "rectify",
                "review",
                "love_bank",
                "points",
                "stars",
                "work_log",
                "first_secretary",
                "meeting"
            ]
        );
        assert_eq!(
            schemas["RuleValues"]["oneOf"].as_array().map(Vec::len),
            Some(11),
            "{}",
            schemas["RuleValues"]
        );
        for s in [
            "ReviewRules",
            "PointsRules",
            "StarRules",
            "LoveRules",
            "PublishBody",
            "Published",
        ] {
            assert!(schemas[s].is_object(), "{s}");
        }
        assert!(schemas["ReviewRules"]["properties"]["bottom_ties_included"].is_object());
        let publish = &doc["paths"]["/api/v1/rules/{kind}"]["post"];
        assert!(
            publish["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                .as_str()
                .is_some_and(|r| r.ends_with("PublishBody")),
            "{publish}"
        );
        // what a page can do, the API can: sign in, second factor, first password change
        for path in [
            "/api/v1/auth/login",
            "/api/v1/auth/totp",
            "/api/v1/auth/password",
            "/api/v1/auth/totp/enrol",
            "/api/v1/auth/totp/confirm",
        ] {
            assert!(doc["paths"][path]["post"].is_object(), "{path}");
        }
        // every rule kind answers its values
        for k in &kinds {
            ok(app
                .api(&staff, "GET", &format!("/api/v1/rules/{k}"), None)
                .await);
        }
    })
    .await;
}
