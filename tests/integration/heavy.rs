//! Heavy reads never starve the others: identical concurrent reports share one computation,
//! a report without a turn is answered 503 with Retry-After at once, and every read has a
//! deadline below the pool's acquire timeout.

use crate::support::*;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use chrono::Datelike;
use std::sync::Arc;
use std::time::{Duration, Instant};

async fn get(
    app: &TestApp,
    token: &str,
    path: &str,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let req = Request::builder()
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request");
    app.send(req).await
}

#[tokio::test]
async fn identical_reports_share_one_computation_and_a_full_server_answers_at_once() {
    each_backend_with(
        |c| {
            c.heavy_concurrency = 1;
            c.heavy_wait_ms = 100;
        },
        |app| async move {
            let city = app.org(None, "中共测试市委", "committee", "city").await;
            let county = app
                .org(Some(city), "中共测试县委", "committee", "county")
                .await;
            app.org(Some(county), "测试村党支部", "branch", "village")
                .await;
            let staff = app.account("zuzhibu", city, "org_staff", None).await;
            let year = app.ctx.clock.today().year();
            let path = format!("/api/v1/recruits/stats?org_id={city}&year={year}");
            // eight requests at once for the same report: one computation
            let before = app.ctx.heavy.counts().0;
            let app = Arc::new(app);
            let mut tasks = Vec::new();
            for _ in 0..8 {
                let (app, staff, path) = (app.clone(), staff.clone(), path.clone());
                tasks.push(tokio::spawn(
                    async move { get(&app, &staff, &path).await.0 },
                ));
            }
            for t in tasks {
                assert_eq!(t.await.expect("join"), StatusCode::OK);
            }
            let runs = app.ctx.heavy.counts().0 - before;
            assert!(
                (1..8).contains(&runs),
                "{runs} computations for 8 identical requests"
            );

            // the only turn is taken by another report: this one is refused at once
            let holder = {
                let app = app.clone();
                tokio::spawn(async move {
                    app.ctx
                        .heavy
                        .run("someone else's report", || async {
                            tokio::time::sleep(Duration::from_millis(600)).await;
                            Ok::<_, dangjian::error::AppError>(0_i64)
                        })
                        .await
                        .map(|_| ())
                })
            };
            tokio::time::sleep(Duration::from_millis(50)).await;
            let started = Instant::now();
            let (s, h, body) = get(&app, &staff, &path).await;
            assert_eq!(
                s,
                StatusCode::SERVICE_UNAVAILABLE,
                "{}",
                String::from_utf8_lossy(&body)
            );
            assert_eq!(
                h.get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()),
                Some("1")
            );
            assert!(
                started.elapsed() < Duration::from_millis(500),
                "{:?}",
                started.elapsed()
            );
            let err: serde_json::Value = serde_json::from_slice(&body).expect("json");
            assert_eq!(err["code"], "busy");
            // the everyday pages are not held up meanwhile
            let (s, _, _) = get(&app, &staff, "/api/v1/me").await;
            assert_eq!(s, StatusCode::OK);
            holder.await.expect("join").expect("held");
            let (s, _, _) = get(&app, &staff, &path).await;
            assert_eq!(s, StatusCode::OK, "a turn again");
            if let Ok(app) = Arc::try_unwrap(app) {
                drop(app);
            }
        },
    )
    .await;
}

#[tokio::test]
async fn a_read_past_its_deadline_is_answered_503_with_retry_after() {
    each_backend_with(
        |c| c.request_deadline_ms = 200,
        |app| async move {
            let city = app.org(None, "中共测试市委", "committee", "city").await;
            let staff = app.account("zuzhibu", city, "org_staff", None).await;
            let year = app.ctx.clock.today().year();
            // the report's computation is already running and takes longer than the deadline
            let key = format!("recruit.stats|{city}|{year}");
            let app = Arc::new(app);
            let slow = {
                let app = app.clone();
                tokio::spawn(async move {
                    app.ctx
                        .heavy
                        .run(&key, || async {
                            tokio::time::sleep(Duration::from_millis(3000)).await;
                            Ok::<_, dangjian::error::AppError>(Vec::<dangjian::recruit::store::StatRow>::new())
                        })
                        .await
                        .map(|_| ())
                })
            };
            tokio::time::sleep(Duration::from_millis(50)).await;
            let started = Instant::now();
            let (s, h, _) = get(&app, &staff, &format!("/api/v1/recruits/stats?org_id={city}&year={year}")).await;
            assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
            assert!(h.get(header::RETRY_AFTER).is_some());
            let took = started.elapsed();
            assert!(took >= Duration::from_millis(150) && took < Duration::from_millis(1000), "{took:?}");
            // a page says so in its own words
            let (session, _) = app.browser("zuzhibu2", city, "org_staff").await;
            let (s, _, html) = app.page(&session, "GET", &format!("/recruits/stats?org_id={city}&year={year}"), None).await;
            assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
            assert!(html.contains("服务器繁忙"), "{html}");
            // writes are not cut short by the read deadline
            let (s, _) = app.api(&staff, "POST", "/api/v1/orgs", Some(serde_json::json!({"parent_id": city, "name": "中共新设县委", "kind": "committee", "level": "county"}))).await;
            assert_eq!(s, StatusCode::OK);
            slow.await.expect("join").expect("slow");
        },
    )
    .await;
}
