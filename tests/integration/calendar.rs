//! The one working-day calendar: the State Council's arrangements shipped and stored at
//! start, a missing year warned about and covered by the fixed statutory holidays, a year
//! replaced only by the root's rule writers, and every publicity of the demo counted on it.

use crate::support::*;
use axum::http::StatusCode;
use serde_json::{json, Value};

#[tokio::test]
async fn the_shipped_arrangements_are_the_calendar_and_stay_editable() {
    each_backend(|app| async move {
        let city = app.org(None, "中共测试市委", "committee", "city").await;
        let county = app
            .org(Some(city), "中共测试县委", "committee", "county")
            .await;
        let city_staff = app.account("shiwei", city, "org_staff", None).await;
        let county_staff = app.account("xianwei", county, "org_staff", None).await;
        let member = app.account("dangyuan", county, "member", None).await;

        let y = ok(app
            .api(&county_staff, "GET", "/api/v1/calendar/2026", None)
            .await);
        assert_eq!(y["source"], "builtin");
        let day = |v: &Value, d: &str| {
            v["days"]
                .as_array()
                .expect("days")
                .iter()
                .find(|x| x["day"] == d)
                .cloned()
        };
        assert_eq!(
            day(&y, "2026-10-01").map(|x| x["working"].clone()),
            Some(json!(false))
        );
        assert_eq!(
            day(&y, "2026-10-10").map(|x| x["working"].clone()),
            Some(json!(true)),
            "a 调休 Saturday"
        );
        assert_eq!(
            day(&y, "2026-02-16").map(|x| x["name"].clone()),
            Some(json!("春节"))
        );
        // every year from 2015
        for year in 2015..=2026 {
            assert_eq!(
                ok(app
                    .api(
                        &county_staff,
                        "GET",
                        &format!("/api/v1/calendar/{year}"),
                        None
                    )
                    .await)["source"],
                "builtin",
                "{year}"
            );
        }
        // the 2019 arrangement starts in December 2018
        let y19 = ok(app
            .api(&county_staff, "GET", "/api/v1/calendar/2019", None)
            .await);
        assert_eq!(
            day(&y19, "2018-12-29").map(|x| x["working"].clone()),
            Some(json!(true))
        );

        // a year not published: the fixed statutory days only, and a warning on the dashboard
        let y27 = ok(app
            .api(&county_staff, "GET", "/api/v1/calendar/2027", None)
            .await);
        assert_eq!(y27["source"], "missing");
        assert!(day(&y27, "2027-01-01").is_some() && day(&y27, "2027-10-03").is_some());
        let cal = dangjian::calendar::store::calendar(&app.ctx.db, d(2026, 12, 20), d(2027, 1, 31))
            .await
            .expect("cal");
        assert_eq!(
            dangjian::calendar::nth_working_day(d(2026, 12, 28), 5, &cal),
            d(2027, 1, 4),
            "元旦 is never a working day"
        );
        app.ctx
            .clock
            .set_local(d(2026, 12, 6).and_hms_opt(9, 0, 0).expect("t"));
        let (sess, _) = app.browser("shiwei2", city, "org_staff").await;
        let (s, _, html) = app.page(&sess, "GET", "/", None).await;
        assert_eq!(s, StatusCode::OK);
        assert!(
            html.contains("尚未录入2027年的节假日安排"),
            "the dashboard warns in December"
        );
        app.ctx
            .clock
            .set_local(d(2026, 6, 10).and_hms_opt(9, 0, 0).expect("t"));
        let (_, _, html) = app.page(&sess, "GET", "/", None).await;
        assert!(!html.contains("尚未录入2027年"), "not before October");

        // only the root's rule writers change it; a county, a member cannot
        let body = json!({"notice": "国务院办公厅关于2027年部分节假日安排的通知", "days": [
            {"day": "2027-01-01", "working": false, "name": "元旦"},
            {"day": "2027-02-05", "working": false, "name": "春节"},
            {"day": "2027-02-06", "working": false, "name": "春节"},
            {"day": "2027-02-07", "working": false, "name": "春节"},
            {"day": "2027-02-08", "working": false, "name": "春节"},
            {"day": "2027-02-20", "working": true, "name": "春节调休"},
        ]});
        refused(
            app.api(
                &county_staff,
                "PUT",
                "/api/v1/calendar/2027",
                Some(body.clone()),
            )
            .await,
            "forbidden",
        );
        refused(
            app.api(&member, "PUT", "/api/v1/calendar/2027", Some(body.clone()))
                .await,
            "forbidden",
        );
        let mut bad = body.clone();
        bad["days"][5]["day"] = json!("2027-02-22"); // a Monday cannot be "worked instead"
        let r = app
            .api(&city_staff, "PUT", "/api/v1/calendar/2027", Some(bad))
            .await;
        assert_eq!(r.0, StatusCode::UNPROCESSABLE_ENTITY, "{r:?}");
        assert_eq!(r.1["fields"][0]["field"], "calendar");
        let saved = ok(app
            .api(&city_staff, "PUT", "/api/v1/calendar/2027", Some(body))
            .await);
        assert_eq!(saved["source"], "edited");
        assert_eq!(saved["days"].as_array().map(Vec::len), Some(6));
        let cal = dangjian::calendar::store::calendar(&app.ctx.db, d(2027, 2, 1), d(2027, 2, 28))
            .await
            .expect("cal");
        assert!(dangjian::calendar::is_working_day(d(2027, 2, 20), &cal));
        assert!(!dangjian::calendar::is_working_day(d(2027, 2, 5), &cal));
        // an edited year is never overwritten at start
        dangjian::calendar::store::seed_builtin(&app.ctx.db)
            .await
            .expect("seed");
        assert_eq!(
            ok(app
                .api(&city_staff, "GET", "/api/v1/calendar/2027", None)
                .await)["source"],
            "edited"
        );
        assert_eq!(
            app.count("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'calendar.replace'")
                .await,
            1
        );

        // the page: every day with its weekday; the old address leads to it
        let (s, _, html) = app.page(&sess, "GET", "/calendar?year=2026", None).await;
        assert_eq!(s, StatusCode::OK);
        assert!(html.contains("2026-10-10") && html.contains("调休上班") && html.contains("周六"));
        let (s, h, _) = app.page(&sess, "GET", "/recruits/calendar", None).await;
        assert_eq!(s, StatusCode::PERMANENT_REDIRECT);
        assert_eq!(
            h.get("location").and_then(|v| v.to_str().ok()),
            Some("/calendar")
        );
        // the text form: a full-width comma is accepted; a bad line names itself
        let csrf = app.csrf(&sess).await;
        let form = format!(
            "_csrf={csrf}&year=2028&notice=&calendar={}",
            urlencode("2028-01-01，休，元旦\n2028-01-02,放假")
        );
        let (s, _, html) = app.page(&sess, "POST", "/calendar", Some(&form)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("第2行"), "{html}");
        let form = format!(
            "_csrf={csrf}&year=2028&notice=&calendar={}",
            urlencode("2028-01-01，休，元旦")
        );
        let (s, h, _) = app.page(&sess, "POST", "/calendar", Some(&form)).await;
        assert_eq!(s, StatusCode::SEE_OTHER, "{h:?}");
        assert_eq!(
            ok(app
                .api(&city_staff, "GET", "/api/v1/calendar/2028", None)
                .await)["source"],
            "edited"
        );
    })
    .await;
}

/// Every publicity period of the demo city ends on the working day the calendar gives: none
/// ends on a holiday (the demo counted weekends only before).
#[tokio::test]
async fn demo_publicity_periods_count_the_holidays() {
    let app = TestApp::new(Backend::Sqlite).await;
    let opts = dangjian::demo::DemoOptions {
        members: 3000,
        seed: 3,
        as_of: d(2026, 11, 20),
    };
    dangjian::demo::generate(&app.ctx, &opts, |_| {})
        .await
        .expect("demo");
    let rows: Vec<(chrono::NaiveDate, chrono::NaiveDate)> = dangjian::on_db!(&app.ctx.db, p => {
        sqlx::query_as("SELECT starts_on, ends_on FROM recruit_publicity").fetch_all(p).await.expect("rows")
    });
    assert!(rows.len() > 20, "{} publicity periods", rows.len());
    let cal = dangjian::calendar::store::calendar(&app.ctx.db, d(2015, 1, 1), d(2027, 12, 31))
        .await
        .expect("cal");
    let mut spanning = 0;
    for (start, end) in &rows {
        assert_eq!(
            *end,
            dangjian::calendar::nth_working_day(*start, 5, &cal),
            "{start}"
        );
        assert!(
            dangjian::calendar::is_working_day(*end, &cal),
            "{start}–{end} ends on a day off"
        );
        if dangjian::calendar::working_days_between(*start, *end, &Default::default()) != 5 {
            spanning += 1;
        }
    }
    assert!(spanning > 0, "some periods span a holiday");
}
