//! The web experience: language choice, the dashboard, the branch-warnings list, sortable
//! and batch-selectable member lists.

use crate::support::*;
use axum::http::StatusCode;
use serde_json::json;

#[tokio::test]
async fn pages_speak_the_account_setting_else_the_browser_language() {
    each_backend(|app| async move {
        let root = app.org(None, "中共测试市委", "committee", "city").await;
        let (s, csrf) = app.browser("lang", root, "org_staff").await;
        let en = [("accept-language", "en-US,en;q=0.9,zh;q=0.5")];
        // No setting yet: the browser decides.
        let (st, _, html) = app.page_with(&s, "/members", &en).await;
        assert_eq!(st, StatusCode::OK);
        assert!(html.contains(r#"<html lang="en">"#), "{html}");
        assert!(html.contains("Member roster") && !html.contains("党员名册"));
        let (_, _, html) = app
            .page_with(&s, "/members", &[("accept-language", "zh-CN")])
            .await;
        assert!(html.contains(r#"<html lang="zh-CN">"#) && html.contains("党员名册"));
        // An unknown setting is refused and changes nothing.
        let (st, _, _) = app
            .page(
                &s,
                "POST",
                "/me/locale",
                Some(&format!("_csrf={csrf}&locale=fr")),
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        // The account's choice wins over the browser, and is audited.
        let (st, h, _) = app
            .page(
                &s,
                "POST",
                "/me/locale",
                Some(&format!("_csrf={csrf}&locale=zh-CN")),
            )
            .await;
        assert_eq!(st, StatusCode::SEE_OTHER);
        assert_eq!(h.get("location").expect("loc"), "/me?ok=locale");
        let (_, _, html) = app.page_with(&s, "/members", &en).await;
        assert!(html.contains("党员名册"), "the setting wins");
        assert_eq!(
            app.count("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'account.locale'")
                .await,
            1
        );
        // Messages for the browser script come in the page's language too.
        let (st, h, _) = app
            .page(
                &s,
                "POST",
                "/me/locale",
                Some(&format!("_csrf={csrf}&locale=en")),
            )
            .await;
        assert_eq!(st, StatusCode::SEE_OTHER, "{h:?}");
        let (_, _, html) = app.page_with(&s, "/", &[]).await;
        assert!(html.contains(r#""saved":"Saved""#), "{html}");
        // Error pages follow the account's language; without a session, the browser's.
        let (st, _, html) = app.page_with(&s, "/no/such/page", &[]).await;
        assert_eq!(st, StatusCode::NOT_FOUND);
        assert!(html.contains("Not found"), "{html}");
        let (_, _, html) = app.page_with("", "/no/such/page", &en).await;
        assert!(html.contains("Not found"));
        let (_, _, html) = app.page_with("", "/login", &[]).await;
        assert!(html.contains(r#"<html lang="zh-CN">"#));
        let (_, _, html) = app.page_with("", "/login", &en).await;
        assert!(html.contains("Sign in"), "{html}");
    })
    .await;
}

#[tokio::test]
async fn the_dashboard_draws_every_panel_of_the_subtree() {
    each_backend(|app| async move {
        let p = province(&app).await;
        let (s, _) = app.browser("city", p.cities[0], "org_staff").await;
        let (st, _, html) = app.page_with(&s, "/", &[]).await;
        assert_eq!(st, StatusCode::OK);
        // seven foundation panels, the two of recruitment (progress, deadlines), the ledger's,
        // party discipline; the year's points ranking has no points yet in this province
        assert_eq!(html.matches("data-chart=").count(), 11, "{html}");
        assert!(html.contains(">整改台账<"), "{html}");
        assert!(html.contains("积分排行"), "{html}");
        assert_eq!(html.matches("data-reserved=").count(), 0);
        assert!(html.contains(">发展党员进度<"), "{html}");
        assert!(html.contains(r#"src="/assets/echarts.min.js?v="#));
        // The city holds half of the province's members; every number is in the text table.
        let in_city = p.members.len() / 2;
        assert!(
            html.contains(&format!(r#"<span class="n">{in_city}</span>"#)),
            "{html}"
        );
        assert!(html.contains(r#"<th scope="row">正式党员</th>"#));
        // the one-pass profile agrees with the members counted one way at a time
        let today = app.ctx.clock.today();
        let y = chrono::Datelike::year(&today);
        let root = dangjian::org::store::get(&app.ctx.db, p.province).await.expect("root");
        let (stats, hist) = dangjian::member::store::profile(&app.ctx, &root.path, y - 9, y, today).await.expect("profile");
        let all = app.count("SELECT COUNT(*) AS n FROM members WHERE status <> 'left'").await;
        assert_eq!(stats.total, all);
        for parts in [&stats.by_status, &stats.by_education, &stats.by_gender] {
            assert_eq!(parts.iter().map(|x| x.1).sum::<i64>(), all, "{parts:?}");
        }
        let joined = app
            .count(&format!("SELECT COUNT(*) AS n FROM members WHERE status <> 'left' AND join_date >= '{}-01-01' AND join_date <= '{y}-12-31'", y - 9))
            .await;
        assert_eq!(hist.by_join_year.iter().map(|x| x.1).sum::<i64>(), joined, "{hist:?}");
        assert!(hist.by_age_band.iter().map(|x| x.1).sum::<i64>() <= all);
        // A member-only account sees no statistics.
        let (m, _) = app.browser("member", p.branches[0], "member").await;
        let (_, _, html) = app.page_with(&m, "/", &[]).await;
        assert_eq!(html.matches("data-chart=").count(), 0);
    })
    .await;
}

#[tokio::test]
async fn branch_warnings_list_filters_by_kind_and_stays_in_scope() {
    each_backend(|app| async move {
        let root = app.org(None, "中共测试市委", "committee", "city").await;
        let a = app
            .org(Some(root), "中共甲县委", "committee", "county")
            .await;
        let b = app
            .org(Some(root), "中共乙县委", "committee", "county")
            .await;
        let thin = app
            .org(Some(a), "甲县东村党支部", "branch", "village")
            .await;
        app.member(thin, "张三", 1).await;
        app.org(Some(b), "乙县西村党支部", "branch", "village")
            .await;
        let (s, _) = app.browser("county_a", a, "org_staff").await;
        let (st, _, html) = app.page_with(&s, "/orgs/warnings", &[]).await;
        assert_eq!(st, StatusCode::OK);
        assert!(
            html.contains("甲县东村党支部") && !html.contains("乙县西村党支部"),
            "{html}"
        );
        assert!(html.contains(r#"data-code="branch.too_few_full_members""#));
        // Filtering by a kind the branch does not raise empties the list; an unknown kind is
        // ignored rather than failing.
        let (_, _, html) = app
            .page_with(&s, "/orgs/warnings?code=branch.too_many_members", &[])
            .await;
        assert!(
            html.contains("甲县东村党支部"),
            "unraised kinds are not offered, so the filter is dropped"
        );
        let (st, _, html) = app
            .page_with(
                &s,
                "/orgs/warnings?code=%3Cscript%3E&sort=members&dir=desc&page=99",
                &[],
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        assert!(!html.contains("<script>"));
        let (_, _, html) = app
            .page_with(&s, "/orgs/warnings?code=branch.too_few_full_members", &[])
            .await;
        assert!(html.contains("甲县东村党支部"));
    })
    .await;
}

#[tokio::test]
async fn batch_export_holds_only_selected_members_within_scope() {
    each_backend(|app| async move {
        let p = province(&app).await;
        let (s, _) = app.browser("county", p.counties[0], "org_staff").await;
        // Members of the first county's first branch, and one from elsewhere.
        let (_, _, list) = app
            .page_with(
                &s,
                &format!("/members?org_id={}&sort=name", p.branches[0]),
                &[],
            )
            .await;
        assert!(
            list.contains("data-batch-form") && list.contains("aria-sort=\"ascending\""),
            "{list}"
        );
        let mine = p.members[0];
        let foreign = *p.members.last().expect("members");
        let (st, h, csv) = app
            .page_with(
                &s,
                &format!("/members/export?format=csv&id={mine}&id={foreign}"),
                &[],
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{csv}");
        assert!(h.get("content-disposition").is_some());
        let rows: Vec<&str> = csv
            .lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .collect();
        assert_eq!(
            rows.len(),
            1,
            "only the selected member inside the scope: {csv}"
        );
        // Too many ids at once is refused with the limit in the message.
        let many: String = (1..=501).map(|i| format!("&id={i}")).collect();
        let (st, _, body) = app
            .page_with(&s, &format!("/members/export?format=csv{many}"), &[])
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            body.contains("member.batch_too_large") && body.contains("500"),
            "{body}"
        );
        let audited = app
            .count("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'member.export'")
            .await;
        assert_eq!(audited, 1);
    })
    .await;
}

#[tokio::test]
async fn accounts_list_filters_pages_and_disables_in_batches_all_or_nothing() {
    each_backend(|app| async move {
        let p = province(&app).await;
        for (i, b) in p.branches.iter().enumerate() {
            app.account(&format!("sec{i:02}"), *b, "branch_secretary", None)
                .await;
        }
        // An account in another city, outside the first city's scope.
        let (s, csrf) = app.browser("cityadmin", p.cities[0], "sec_admin").await;
        let (st, _, html) = app
            .page_with(
                &s,
                "/accounts?role=branch_secretary&sort=username&dir=desc",
                &[],
            )
            .await;
        assert_eq!(st, StatusCode::OK, "{html}");
        // Four branches per city, each with its secretary; the other city's stay out.
        assert_eq!(html.matches("name=\"id\" value=").count(), 4, "{html}");
        let first = html.find("sec03").expect("sec03");
        assert!(
            first < html.find("sec00").expect("sec00"),
            "sorted descending"
        );
        assert!(!html.contains("sec07"));
        let (_, _, html) = app
            .page_with(&s, "/accounts?q=sec0&per_page=3&page=2", &[])
            .await;
        assert!(
            html.contains("第 2 &#x2f; 2 页，共 4 条") && html.contains("per_page=3"),
            "{html}"
        );
        // The API takes the same filter.
        let token = app
            .account("apiadmin", p.cities[0], "sys_admin", None)
            .await;
        let (st, list) = app
            .api(
                &token,
                "GET",
                "/api/v1/accounts?q=sec0&per_page=2&sort=username",
                None,
            )
            .await;
        assert_eq!(st, StatusCode::OK);
        let names: Vec<&str> = list
            .as_array()
            .expect("array")
            .iter()
            .filter_map(|a| a["username"].as_str())
            .collect();
        assert_eq!(names, ["sec00", "sec01"]);
        let id_of = |name: &str| {
            let name = name.to_string();
            let app = &app;
            async move {
                app.count(&format!(
                    "SELECT id AS n FROM accounts WHERE username = '{name}'"
                ))
                .await
            }
        };
        let (a, b, foreign, me) = (
            id_of("sec00").await,
            id_of("sec01").await,
            id_of("sec07").await,
            id_of("cityadmin").await,
        );
        // One account outside the scope: refused, and nothing changed.
        let form = format!("_csrf={csrf}&action=disable&id={a}&id={foreign}");
        let (st, _, _) = app.page(&s, "POST", "/accounts/batch", Some(&form)).await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        // One's own account in the selection: refused, and nothing changed.
        let form = format!("_csrf={csrf}&action=disable&id={a}&id={me}");
        let (st, _, _) = app.page(&s, "POST", "/accounts/batch", Some(&form)).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            app.count("SELECT COUNT(*) AS n FROM accounts WHERE disabled = TRUE")
                .await,
            0
        );
        // A clean selection is applied to every account, each audited.
        let form = format!("_csrf={csrf}&action=disable&id={a}&id={b}");
        let (st, h, _) = app.page(&s, "POST", "/accounts/batch", Some(&form)).await;
        assert_eq!(st, StatusCode::SEE_OTHER, "{h:?}");
        assert_eq!(
            app.count("SELECT COUNT(*) AS n FROM accounts WHERE disabled = TRUE")
                .await,
            2
        );
        assert_eq!(
            app.count("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'account.disable'")
                .await,
            2
        );
        let (_, _, html) = app.page_with(&s, "/accounts?state=disabled", &[]).await;
        assert_eq!(html.matches("name=\"id\" value=").count(), 2);
        let form = format!("_csrf={csrf}&action=explode&id={a}");
        let (st, _, _) = app.page(&s, "POST", "/accounts/batch", Some(&form)).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(matches!(
            app.verify().await,
            dangjian::audit::VerifyOutcome::Ok { .. }
        ));
    })
    .await;
}

#[tokio::test]
async fn assets_are_cached_by_content_hash_and_sent_gzipped_when_accepted() {
    let app = TestApp::new(Backend::Sqlite).await;
    let (st, h, plain) = app.page_with("", "/assets/echarts.min.js", &[]).await;
    assert_eq!(st, StatusCode::OK);
    assert!(h.get("content-encoding").is_none());
    assert!(h["cache-control"]
        .to_str()
        .expect("cc")
        .contains("immutable"));
    let (st, h, _) = app
        .page_with(
            "",
            "/assets/echarts.min.js",
            &[("accept-encoding", "br, gzip")],
        )
        .await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(h["content-encoding"], "gzip");
    let len: usize = h["content-length"]
        .to_str()
        .expect("len")
        .parse()
        .expect("n");
    assert!(len * 2 < plain.len(), "gzip {len} vs {}", plain.len());
    let (st, _, _) = app.page_with("", "/assets/nope.js", &[]).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    let (st, h, _) = app.page_with("", "/favicon.ico", &[]).await;
    assert_eq!(st, StatusCode::PERMANENT_REDIRECT);
    assert!(h["location"]
        .to_str()
        .expect("loc")
        .starts_with("/assets/favicon.svg?v="));
}

/// Stored XSS: a script payload in every free-text field a user can fill comes back escaped on
/// every page that shows it (each field is either refused by its rules or stored and shown
/// as text).
#[tokio::test]
async fn stored_script_payloads_come_back_escaped() {
    each_backend(|app| async move {
        // short enough for every name field (30 characters)
        const XSS: &str = "<img src=x onerror=alert(1)>";
        let root = app.org(None, "中共测试市委", "committee", "city").await;
        let branch = app.org(Some(root), "甲村党支部", "branch", "village").await;
        let staff = app.account("xss_staff", root, "org_staff", None).await;
        let sec = app.account("xss_sec", branch, "branch_secretary", None).await;
        let today = app.ctx.clock.today();
        let m = app.member(branch, "张三", 901).await;
        let try_create = |token: String, path: &'static str, body: serde_json::Value| {
            let app = &app;
            async move {
                let (s, v) = app.api(&token, "POST", path, Some(body)).await;
                assert!(s == StatusCode::OK || s == StatusCode::UNPROCESSABLE_ENTITY, "{path}: {s} {v}");
                (s == StatusCode::OK).then(|| v["id"].as_i64().or_else(|| v["entry"]["id"].as_i64())).flatten()
            }
        };
        let org = try_create(staff.clone(), "/api/v1/orgs", serde_json::json!({"parent_id": root, "name": XSS, "kind": "branch", "level": "village"})).await;
        let item = try_create(staff.clone(), "/api/v1/rectify/items", serde_json::json!({"org_id": branch, "source": "self_check", "owner": XSS,
            "problem": XSS, "measures": XSS, "plan": XSS, "opened_on": today, "deadline": today + chrono::Duration::days(30)})).await;
        let talent = try_create(sec.clone(), "/api/v1/talents", serde_json::json!({"org_id": branch, "pool": "youth", "channel": "organisation",
            "name": "青年乙", "id_number": dangjian::member::idcard::compose("370811", today - chrono::Duration::days(24 * 365), 702, false),
            "work_unit": XSS, "recommender": XSS, "recommended_on": today, "reason": XSS})).await;
        let card = try_create(staff.clone(), "/api/v1/lovebank/cards", serde_json::json!({"org_id": branch, "holder": XSS, "phone": "", "id_number": "", "address": XSS})).await;
        let entry = try_create(sec.clone(), "/api/v1/points/awards", serde_json::json!({"member_id": m, "indicator": "M01", "done_on": today, "note": XSS})).await;
        let mut pages = vec!["/rectify".to_string(), "/talents".into(), format!("/lovebank?org_id={branch}"), format!("/points/members/{m}"), format!("/orgs?id={root}"), format!("/orgs/{root}/children"), "/audit".into()];
        pages.extend(org.map(|id| format!("/orgs?id={id}")));
        pages.extend(item.map(|id| format!("/rectify/{id}")));
        pages.extend(talent.map(|id| format!("/talents/{id}")));
        pages.extend(card.map(|id| format!("/lovebank/cards/{id}")));
        assert!(item.is_some() && card.is_some() && entry.is_some(), "free text fields store the payload as text");
        let (s, _) = app.browser("xss_viewer", root, "org_staff").await;
        let (a, _) = app.browser("xss_auditor", root, "audit_admin").await;
        let mut escaped = 0;
        for path in &pages {
            let who = if path == "/audit" { &a } else { &s };
            let (st, _, html) = app.page_with(who, path, &[]).await;
            assert_eq!(st, StatusCode::OK, "{path}");
            assert!(!html.contains("<img src=x"), "{path} shows the payload unescaped");
            if html.contains("&lt;img src=x onerror=alert(1)&gt;") {
                escaped += 1;
            }
        }
        assert!(escaped >= 5, "the payload is shown, escaped, on most pages ({escaped} of {})", pages.len());
    })
    .await;
}

/// Organisation pickers search the whole subtree (not the first 500), the transfer picker
/// searches every branch of the platform but the member's own, and searching follows typed
/// input (`input`, which a Chinese IME sends), not key presses.
#[tokio::test]
async fn organisation_pickers_search_beyond_the_first_page() {
    each_backend(|app| async move {
        let city = app.org(None, "中共测试市委", "committee", "city").await;
        let county = app
            .org(Some(city), "中共测试县委", "committee", "county")
            .await;
        let town = app
            .org(
                Some(county),
                "中共东关街道工作委员会",
                "committee",
                "township",
            )
            .await;
        let mut branches = Vec::new();
        for i in 0..40 {
            branches.push(
                app.org(
                    Some(town),
                    &format!("中共东关街道第{i}村支部委员会"),
                    "branch",
                    "village",
                )
                .await,
            );
        }
        let far = app
            .org(Some(county), "中共西城村支部委员会", "branch", "village")
            .await;
        let (staff, _) = app.browser("county", county, "org_staff").await;
        let (_, _, html) = app.page(&staff, "GET", "/recruits/new", None).await;
        assert!(!html.contains("第39村支部"), "the first page only: {html}");
        assert!(
            html.contains(r#"hx-trigger="input changed delay:300ms, search""#),
            "{html}"
        );
        let (_, _, opts) = app
            .page(
                &staff,
                "GET",
                &format!("/orgs/options?kinds=branches&q={}", urlencode("第39村")),
                None,
            )
            .await;
        assert!(
            opts.contains(&format!(r#"value="{}""#, branches[39])),
            "{opts}"
        );
        let (_, _, opts) = app
            .page(
                &staff,
                "GET",
                &format!("/orgs/options?kinds=committees&q={}", urlencode("东关")),
                None,
            )
            .await;
        assert!(
            opts.contains(&format!(r#"value="{town}""#)) && !opts.contains("村支部"),
            "{opts}"
        );
        // a form that comes back keeps its choice even when it is not among the first
        let (_, _, html) = app
            .page(
                &staff,
                "GET",
                &format!("/rectify/new?org_id={}", branches[39]),
                None,
            )
            .await;
        assert!(html.contains("第39村支部"), "{html}");
        let (_, _, opts) = app
            .page(&staff, "GET", "/orgs/options?blank=parent&q=zzz", None)
            .await;
        assert!(
            opts.starts_with(r#"<option value="">上级党组织（默认）</option>"#),
            "{opts}"
        );

        // a secretary transfers to a branch outside the own one, never to the own one
        let (sec, _) = app.browser("sec", branches[0], "branch_secretary").await;
        let q = urlencode("支部委员会");
        let (_, _, own) = app
            .page(
                &sec,
                "GET",
                &format!("/orgs/options?branches=1&q={q}"),
                None,
            )
            .await;
        assert!(
            !own.contains(&format!(r#"value="{far}""#)),
            "the roster's pickers stay in the subtree: {own}"
        );
        let (_, _, opts) = app
            .page(
                &sec,
                "GET",
                &format!(
                    "/orgs/options?for=transfer&exclude={}&q={}",
                    branches[0],
                    urlencode("西城")
                ),
                None,
            )
            .await;
        assert!(opts.contains(&format!(r#"value="{far}""#)), "{opts}");
        let (_, _, opts) = app
            .page(
                &sec,
                "GET",
                &format!(
                    "/orgs/options?for=transfer&exclude={}&q={}",
                    branches[0],
                    urlencode("第0村")
                ),
                None,
            )
            .await;
        assert!(
            !opts.contains(&format!(r#"value="{}""#, branches[0])),
            "{opts}"
        );
        let member = app.member(branches[0], "张明", 1).await;
        let (_, _, html) = app
            .page(&sec, "GET", &format!("/members/{member}"), None)
            .await;
        assert!(
            html.contains(&format!(
                "/orgs/options?for=transfer&amp;exclude={}",
                branches[0]
            )) || html.contains(&format!(
                "/orgs/options?for=transfer&exclude={}",
                branches[0]
            )),
            "{html}"
        );
        // a member account searches nothing outside its own branch
        let (m, _) = app.browser("member1", branches[0], "member").await;
        let (_, _, opts) = app
            .page(
                &m,
                "GET",
                &format!("/orgs/options?for=transfer&q={}", urlencode("西城")),
                None,
            )
            .await;
        assert!(!opts.contains(&format!(r#"value="{far}""#)), "{opts}");
    })
    .await;
}

/// 规则设置 in words: each value named with its unit and edited in an input of its kind; a
/// Chinese comma or full-width digit is accepted, a wrong value refused naming the field; the
/// version in force names its organisation.
#[tokio::test]
async fn the_rules_page_edits_values_by_name() {
    each_backend(|app| async move {
        let city = app.org(None, "中共测试市委", "committee", "city").await;
        let (s, csrf) = app.browser("zuzhibu", city, "org_staff").await;
        let (_, _, html) = app.page(&s, "GET", "/rules", None).await;
        assert!(
            html.contains("公示期") && html.contains("个工作日"),
            "{html}"
        );
        assert!(!html.contains("<code>publicity_steps</code>"), "{html}");
        assert!(
            html.contains(r#"name="v.publicity_steps" value="7，15，23""#),
            "{html}"
        );
        // the recruit card's fields as the page sends them, with a Chinese comma and digits
        let start = html
            .find(r#"action="/rules/recruit""#)
            .expect("recruit form");
        let end = start + html[start..].find("</form>").expect("end");
        let mut form = vec![format!("_csrf={csrf}"), format!("org_id={city}")];
        let mut rest = &html[start..end];
        while let Some(i) = rest.find("name=\"") {
            rest = &rest[i + 6..];
            let name = &rest[..rest.find('"').expect("quote")];
            if name == "_csrf" || name == "org_id" {
                continue;
            }
            let value = if let Some(v) = rest
                .find("value=\"")
                .filter(|v| *v < rest.find('>').unwrap_or(0))
            {
                let t = &rest[v + 7..];
                t[..t.find('"').expect("q")].to_string()
            } else if name.starts_with("v.") && rest.starts_with(&format!("{name}\" rows")) {
                let t = &rest[rest.find('>').expect(">") + 1..];
                t[..t.find("</textarea>").expect("ta")]
                    .replace("&quot;", "\"")
                    .replace("&#x27;", "'")
            } else {
                // a select: its selected option
                let t = &rest[..rest.find("</select>").unwrap_or(0)];
                let sel = t.find("selected").map(|i| &t[..i]).unwrap_or(t);
                let v = sel.rfind("value=\"").map(|i| &sel[i + 7..]).unwrap_or("");
                v[..v.find('"').unwrap_or(0)].to_string()
            };
            let value = match name {
                "v.publicity_steps" => "7、15，２３".to_string(),
                "v.publicity_working_days" => "７".to_string(),
                // the signers' table: its first blank row becomes step 7 (every box posted)
                "v.signers.0.step" => "７".to_string(),
                _ => value,
            };
            form.push(format!("{}={}", urlencode(name), urlencode(&value)));
        }
        let body = form.join("&");
        // first what the new version changes, in words; then, confirmed, the version
        let (st, _, preview) = app.page(&s, "POST", "/rules/recruit", Some(&body)).await;
        assert_eq!(st, StatusCode::OK, "{preview}");
        assert!(
            preview.contains("确认发布") && preview.contains("公示期"),
            "{preview}"
        );
        assert!(
            preview.contains("步骤：7，签名人：党支部书记、培养联系人、上级党委、组织部门组织员"),
            "{preview}"
        );
        assert_eq!(
            app.count("SELECT COUNT(*) AS n FROM rule_sets WHERE kind = 'recruit'")
                .await,
            0,
            "nothing published yet"
        );
        let marker = "name=\"values\" value=\"";
        let start = preview.find(marker).expect("values") + marker.len();
        let values = preview[start..]
            .split('"')
            .next()
            .unwrap_or("")
            .replace("&quot;", "\"")
            .replace("&#x2f;", "/");
        let confirm = format!(
            "_csrf={csrf}&org_id={city}&confirm=1&values={}",
            urlencode(&values)
        );
        let (st, h, html) = app.page(&s, "POST", "/rules/recruit", Some(&confirm)).await;
        assert_eq!(st, StatusCode::SEE_OTHER, "{html}");
        assert!(h
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .contains("ok=published"));
        let token = app.account("zuzhibu_api", city, "org_staff", None).await;
        let v = ok(app
            .api(
                &token,
                "GET",
                &format!("/api/v1/rules/recruit?org_id={city}"),
                None,
            )
            .await);
        assert_eq!(v["publicity_working_days"], 7, "{v}");
        assert_eq!(v["publicity_steps"], json!([7, 15, 23]), "{v}");
        assert_eq!(
            v["signers"],
            json!({"7": ["branch_secretary", "contact", "committee", "org_dept"]}),
            "{v}"
        );
        // the table shows the step's signers by name, not as JSON
        let (_, _, page) = app.page(&s, "GET", "/rules", None).await;
        assert!(
            page.contains("组织部门组织员") && !page.contains("\"signers\""),
            "{page}"
        );
        let (_, _, html) = app.page(&s, "GET", "/rules", None).await;
        assert!(html.contains("当前生效：第 1 版（中共测试市委）"), "{html}");
        // a wrong value names its field
        let bad = body.replace(
            &format!("{}={}", urlencode("v.min_age"), "18"),
            &format!("{}={}", urlencode("v.min_age"), urlencode("十八")),
        );
        assert_ne!(bad, body);
        let (st, _, html) = app.page(&s, "POST", "/rules/recruit", Some(&bad)).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("“递交入党申请最低年龄”应为整数"), "{html}");
        // who may not publish is refused before the form is read; a table of thousands of
        // rows is refused as too long
        let (sec, sec_csrf) = app.browser("rules_sec", city, "branch_secretary").await;
        let (st, _, _) = app
            .page(
                &sec,
                "POST",
                "/rules/points",
                Some(&format!(
                    "_csrf={sec_csrf}&org_id={city}&t.indicators=table&v.indicators.0.points=x"
                )),
            )
            .await;
        assert_eq!(st, StatusCode::FORBIDDEN);
        let many: String = (0..600)
            .map(|i| format!("&v.indicators.{i}.points=x"))
            .collect();
        let (st, _, html) = app
            .page(
                &s,
                "POST",
                "/rules/points",
                Some(&format!(
                    "_csrf={csrf}&org_id={city}&t.indicators=table{many}"
                )),
            )
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(html.contains("最多500行"), "{html}");
        // the same values again: nothing to publish
        let (st, _, html) = app.page(&s, "POST", "/rules/recruit", Some(&body)).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
        assert!(html.contains("与当前生效的规则相同"), "{html}");
    })
    .await;
}

/// 星级评定: the whole table is one form — several rows saved at once, a row partly filled
/// named in the refusal while the others are kept, a row's own button saving only it.
#[tokio::test]
async fn star_scores_are_saved_from_one_form() {
    each_backend(|app| async move {
        let city = app.org(None, "中共测试市委", "committee", "city").await;
        let town = app.org(Some(city), "中共城关镇委员会", "committee", "township").await;
        let a = app.org(Some(town), "东关村党支部", "branch", "village").await;
        let b = app.org(Some(town), "西关村党支部", "branch", "village").await;
        let c = app.org(Some(town), "南关村党支部", "branch", "village").await;
        let staff = app.account("chengguan", town, "committee_staff", None).await;
        let year = chrono::Datelike::year(&app.ctx.clock.today());
        let round = ok(app.api(&staff, "POST", "/api/v1/stars/rounds", Some(json!({"org_id": town, "year": year}))).await);
        let id = round["id"].as_i64().expect("id");
        let (s, csrf) = app.browser("chengguan_web", town, "committee_staff").await;
        let (_, _, html) = app.page(&s, "GET", &format!("/stars/{id}"), None).await;
        assert!(html.contains(&format!(r#"name="item_{a}_organisation""#)) && html.contains("保存全部评分"), "{html}");
        let row = |br: i64, v: [&str; 4]| {
            format!("item_{br}_organisation={}&item_{br}_members={}&item_{br}_life={}&item_{br}_role={}&innovation_{br}=", v[0], v[1], v[2], v[3])
        };
        // a and b complete, c partly: a and b are saved, c is named
        let body = format!("_csrf={csrf}&{}&{}&{}", row(a, ["15", "15", "10", "10"]), row(b, ["10", "10", "10", "10"]), row(c, ["10", "", "", ""]));
        let (st, _, html) = app.page(&s, "POST", &format!("/stars/{id}/score"), Some(&body)).await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
        assert!(html.contains("南关村党支部："), "{html}");
        let r = ok(app.api(&staff, "GET", &format!("/api/v1/stars/rounds/{id}"), None).await);
        let scored: Vec<i64> = r["scores"].as_array().expect("scores").iter().filter(|x| x["scored"] == true).map(|x| x["branch_id"].as_i64().unwrap_or(0)).collect();
        assert_eq!(scored.len(), 2, "{r}");
        assert!(scored.contains(&a) && scored.contains(&b));
        // a row's own button saves that row only (the others' values are ignored)
        let body = format!("_csrf={csrf}&only={c}&{}&{}", row(a, ["1", "1", "1", "1"]), row(c, ["12", "12", "12", "12"]));
        let (st, h, _) = app.page(&s, "POST", &format!("/stars/{id}/score"), Some(&body)).await;
        assert_eq!(st, StatusCode::SEE_OTHER);
        assert!(h.get("location").and_then(|v| v.to_str().ok()).unwrap_or("").contains("ok=saved"));
        let r = ok(app.api(&staff, "GET", &format!("/api/v1/stars/rounds/{id}"), None).await);
        let of = |br: i64| r["scores"].as_array().expect("s").iter().find(|x| x["branch_id"] == br).cloned().expect("row");
        assert_eq!(of(c)["items"]["organisation"], 12, "{r}");
        assert_eq!(of(a)["items"]["organisation"], 15, "untouched: {r}");
    })
    .await;
}

/// A rule value far beyond anything the 细则 use is refused, naming it, before it can break
/// the date and score arithmetic of the pages that read it.
#[tokio::test]
async fn absurd_rule_values_are_refused() {
    each_backend(|app| async move {
        let city = app.org(None, "中共测试市委", "committee", "city").await;
        let staff = app.account("zuzhibu", city, "org_staff", None).await;
        for (kind, key, v) in [
            ("branch", "term_years", 2_147_483_000i64),
            ("rectify", "due_soon_days", 1_000_000_000_000_000),
            (
                "rectify",
                "overdue_penalty_points",
                1_000_000_000_000_000_000,
            ),
            ("recruit", "talk_within_days", 1_000_000_000_000_000),
        ] {
            let (s, body) = app
                .api(
                    &staff,
                    "POST",
                    &format!("/api/v1/rules/{kind}"),
                    Some(json!({"org_id": city, "values": {key: v}})),
                )
                .await;
            assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{kind}.{key}: {body}");
            assert!(
                body["fields"][0]["message"]
                    .as_str()
                    .unwrap_or("")
                    .contains("不能超过"),
                "{body}"
            );
        }
        ok(app
            .api(
                &staff,
                "POST",
                "/api/v1/rules/branch",
                Some(json!({"org_id": city, "values": {"term_years": 5}})),
            )
            .await);
        let (st, _) = app.api(&staff, "GET", "/api/v1/orgs/warnings", None).await;
        assert!(!st.is_server_error());
    })
    .await;
}

/// The lists a department prints or sends upward export as CSV (UTF-8 with a BOM, a Chinese
/// file name, formulas made text), each export recorded; results before they exist are
/// refused.
#[tokio::test]
async fn lists_sent_upward_export_as_csv_and_are_recorded() {
    each_backend(|app| async move {
        let today = app.ctx.clock.today();
        let opts = dangjian::demo::DemoOptions {
            members: 2000,
            seed: 5,
            as_of: today,
        };
        dangjian::demo::generate(&app.ctx, &opts, |_| {})
            .await
            .expect("demo");
        let root = app
            .count("SELECT MIN(id) AS n FROM orgs WHERE parent_id IS NULL")
            .await;
        let (s, _) = app.browser("export_staff", root, "org_staff").await;
        let closed = app
            .count("SELECT COALESCE(MAX(id), 0) AS n FROM review_campaigns WHERE status = 'closed'")
            .await;
        let open = app
            .count(
                "SELECT COALESCE(MAX(id), 0) AS n FROM review_campaigns WHERE status <> 'closed'",
            )
            .await;
        let round = app
            .count("SELECT COALESCE(MAX(id), 0) AS n FROM star_rounds WHERE status <> 'scoring'")
            .await;
        assert!(
            closed > 0 && open > 0 && round > 0,
            "the demo has results to export"
        );
        let y = chrono::Datelike::year(&today);
        // the latest year the demo's members have points in (the clock's year may have none yet)
        let points_year = app
            .count("SELECT COALESCE(MAX(period), 0) AS n FROM point_totals WHERE subject = 'member' AND span = 'Y'")
            .await;
        assert!(points_year > 0);
        for (path, action, first) in [
            (
                "/orgs/warnings/export.csv".to_string(),
                "org.warnings_export",
                "党支部,正式党员",
            ),
            (
                "/recruits/export.csv?status=all".to_string(),
                "recruit.list_export",
                "姓名,党支部,阶段",
            ),
            (
                format!("/recruits/stats/export.csv?year={y}"),
                "recruit.stats_export",
                "党组织,",
            ),
            (
                format!("/reviews/{closed}/results.csv"),
                "review.results_export",
                "名次,单位,述职人",
            ),
            (
                format!("/stars/{round}/export.csv"),
                "stars.export",
                "党支部,年度积分",
            ),
            (
                format!("/points/ranking/export.csv?org_id={root}&year={points_year}"),
                "points.ranking_export",
                "名次,党员,所在支部,积分",
            ),
        ] {
            let before = app
                .count(&format!(
                    "SELECT COUNT(*) AS n FROM audit_log WHERE action = '{action}'"
                ))
                .await;
            let (st, h, body) = app.page(&s, "GET", &path, None).await;
            assert_eq!(st, StatusCode::OK, "{path}: {body}");
            assert!(
                h.get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .starts_with("text/csv"),
                "{path}"
            );
            let cd = h
                .get("content-disposition")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            assert!(
                cd.starts_with("attachment;") && cd.contains("filename*=UTF-8''%"),
                "{path}: {cd}"
            );
            assert!(body.starts_with('\u{feff}'), "{path}: a BOM for Excel");
            assert!(
                body.trim_start_matches('\u{feff}').starts_with(first),
                "{path}: {}",
                &body[..body.len().min(200)]
            );
            assert!(body.lines().count() > 1, "{path}: rows");
            assert_eq!(
                app.count(&format!(
                    "SELECT COUNT(*) AS n FROM audit_log WHERE action = '{action}'"
                ))
                .await,
                before + 1,
                "{path}"
            );
        }
        // results not yet there: refused, and nothing recorded
        let (st, _, _) = app
            .page(&s, "GET", &format!("/reviews/{open}/results.csv"), None)
            .await;
        assert_eq!(st, StatusCode::UNPROCESSABLE_ENTITY);
        // outside the account's subtree: not found
        let town = app
            .count("SELECT MAX(id) AS n FROM orgs WHERE kind = 'committee' AND depth >= 2")
            .await;
        let (outsider, _) = app.browser("export_town", town, "org_staff").await;
        let (st, _, _) = app
            .page(
                &outsider,
                "GET",
                &format!("/points/ranking/export.csv?org_id={root}"),
                None,
            )
            .await;
        assert_eq!(st, StatusCode::NOT_FOUND);
    })
    .await;
}
