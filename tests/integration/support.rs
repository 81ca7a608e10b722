//! TestApp: a fresh database per test (SQLite file in a temp dir, or a new PostgreSQL
//! database when DANGJIAN_TEST_PG holds a server URL), the full router in process, and
//! fixture builders.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use dangjian::audit::Actor;
use dangjian::config::Config;
use dangjian::member::rules::MemberInput;
use dangjian::org::store::NewOrg;
use dangjian::Ctx;
use http_body_util::BodyExt;
use std::future::Future;
use tower::ServiceExt;

#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

pub fn backends() -> Vec<Backend> {
    let mut v = vec![Backend::Sqlite];
    if let Ok(url) = std::env::var("DANGJIAN_TEST_PG") {
        if !url.is_empty() {
            v.push(Backend::Postgres(url));
        }
    }
    v
}

/// Runs `f` once per backend, each time on a fresh database.
pub async fn each_backend<F, Fut>(f: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    each_backend_with(|_| {}, f).await
}

/// [`each_backend`] with settings of its own.
pub async fn each_backend_with<C, F, Fut>(configure: C, f: F)
where
    C: Fn(&mut Config),
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    for b in backends() {
        let app = TestApp::with(b, &configure).await;
        let cleanup = app.cleanup_info();
        f(app).await;
        cleanup.run().await;
    }
}

pub struct Cleanup(Option<(String, String)>);

impl Cleanup {
    pub async fn run(self) {
        if let Some((admin_url, name)) = self.0 {
            if let Ok(pool) = sqlx::PgPool::connect(&admin_url).await {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&pool)
                    .await;
                pool.close().await;
            }
        }
    }
}

pub struct TestApp {
    pub ctx: Ctx,
    pub router: Router,
    pub backend: Backend,
    pub dir: tempfile::TempDir,
    pub db_url: String,
    pg: Option<(String, String)>,
}

/// The local time every test starts at: `DANGJIAN_TEST_NOW` (`YYYY-MM-DD` or
/// `YYYY-MM-DD HH:MM`, Beijing time) when set — CI runs the suite at several calendar edges
/// — else a plain working Wednesday. No test reads the wall clock.
pub fn test_now() -> chrono::NaiveDateTime {
    let text = std::env::var("DANGJIAN_TEST_NOW").unwrap_or_default();
    let text = text.trim();
    if text.is_empty() {
        return chrono::NaiveDate::from_ymd_opt(2026, 6, 10)
            .and_then(|d| d.and_hms_opt(10, 0, 0))
            .expect("default test time");
    }
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M")
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(|d| d.and_hms_opt(10, 0, 0).expect("10:00"))
        })
        .expect("DANGJIAN_TEST_NOW: YYYY-MM-DD or YYYY-MM-DD HH:MM")
}

pub const KEY: &str = "00112233445566778899aabbccddeeff";

fn pg_url_with_db(url: &str, db: &str) -> String {
    let mut u = url::Url::parse(url).expect("pg url");
    u.set_path(&format!("/{db}"));
    u.to_string()
}

impl TestApp {
    pub async fn new(backend: Backend) -> Self {
        Self::with(backend, |_| {}).await
    }

    pub async fn with(backend: Backend, configure: impl Fn(&mut Config)) -> Self {
        // Server errors are logged, never answered: show them with a failing test's output.
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter("dangjian=warn")
            .try_init();
        let dir = tempfile::tempdir().expect("tempdir");
        let (db_url, pg) = match &backend {
            Backend::Sqlite => (
                format!("sqlite://{}", dir.path().join("t.db").display()),
                None,
            ),
            Backend::Postgres(url) => {
                let name = format!("dj_test_{}", &dangjian::crypto::random_token()[..16]);
                let pool = sqlx::PgPool::connect(url)
                    .await
                    .expect("connect to DANGJIAN_TEST_PG");
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&pool)
                    .await
                    .expect("create database");
                pool.close().await;
                (pg_url_with_db(url, &name), Some((url.clone(), name)))
            }
        };
        let mut cfg = Config {
            database_url: db_url.clone(),
            data_key: Some(KEY.into()),
            audit_anchor_file: Some(dir.path().join("audit.anchor")),
            max_body_bytes: 2 * 1024 * 1024,
            ..Default::default()
        };
        configure(&mut cfg);
        cfg.validate().expect("config");
        let ctx = Ctx::open(cfg).await.expect("open");
        ctx.clock.set_local(test_now());
        let router = dangjian::web::router(ctx.clone());
        Self {
            ctx,
            router,
            backend,
            dir,
            db_url,
            pg,
        }
    }

    pub fn cleanup_info(&self) -> Cleanup {
        Cleanup(self.pg.clone())
    }

    pub fn is_sqlite(&self) -> bool {
        matches!(self.backend, Backend::Sqlite)
    }

    pub fn system(&self) -> Actor {
        Actor::system("test")
    }

    pub async fn org(&self, parent: Option<i64>, name: &str, kind: &str, level: &str) -> i64 {
        dangjian::org::store::create(
            &self.ctx.db,
            &self.system(),
            &NewOrg {
                parent_id: parent,
                name: name.into(),
                kind: kind.into(),
                level: level.into(),
                ..Default::default()
            },
        )
        .await
        .expect("create org")
        .id
    }

    pub async fn member(&self, org_id: i64, name: &str, seq: u16) -> i64 {
        self.member_with(member_input(org_id, name, seq)).await
    }

    pub async fn member_with(&self, input: MemberInput) -> i64 {
        dangjian::member::store::create(&self.ctx, &self.system(), &input)
            .await
            .expect("create member")
            .id
    }

    /// An account with one role and an API token; returns the token.
    pub async fn account(
        &self,
        username: &str,
        org_id: i64,
        role: &str,
        member_id: Option<i64>,
    ) -> String {
        let acc = dangjian::auth::store::create(
            &self.ctx,
            &self.system(),
            &dangjian::auth::store::NewAccount {
                username: username.into(),
                display_name: username.into(),
                org_id,
                member_id,
                roles: vec![role.into()],
                password: PASSWORD.into(),
            },
        )
        .await
        .expect("create account");
        // an established user: the first password replaced long ago (the forced change is a
        // flow of its own, see `browser`); an administrator with a second factor enrolled
        // (require_totp_for_admins), its secret `totp_secret(username)`
        dangjian::on_db!(&self.ctx.db, p => {
            sqlx::query("UPDATE accounts SET must_change_password = $1, password_set_by = NULL WHERE id = $2")
                .bind(false).bind(acc.id).execute(p).await.expect("established");
        });
        if dangjian::auth::Role::parse(role).is_some_and(|r| r.is_admin_trio()) {
            let enc = self.ctx.vault.encrypt(
                &dangjian::crypto::aad("accounts", "totp_secret_enc", acc.id),
                &hex::encode(totp_secret(username)),
            );
            dangjian::on_db!(&self.ctx.db, p => {
                sqlx::query("UPDATE accounts SET totp_secret_enc = $1, totp_enabled = $2 WHERE id = $3")
                    .bind(enc).bind(true).bind(acc.id).execute(p).await.expect("totp");
            });
        }
        let p = self.principal(acc.id).await;
        let (token, secret) =
            dangjian::auth::store::create_token(&self.ctx, &p, "test", "read_write", None)
                .await
                .expect("token");
        // tests move the clock by years; their tokens outlive it (expiry has a test of its own)
        dangjian::on_db!(&self.ctx.db, p => {
            sqlx::query("UPDATE api_tokens SET expires_at = $1 WHERE id = $2")
                .bind(self.ctx.clock.now() + chrono::Duration::days(3650)).bind(token.id).execute(p).await.expect("expiry");
        });
        secret
    }

    /// An account as the system creates it, its first password still to be replaced (the
    /// forced change's own flow).
    pub async fn fresh_account(&self, username: &str, org_id: i64, role: &str) -> i64 {
        dangjian::auth::store::create(
            &self.ctx,
            &self.system(),
            &dangjian::auth::store::NewAccount {
                username: username.into(),
                display_name: username.into(),
                org_id,
                member_id: None,
                roles: vec![role.into()],
                password: PASSWORD.into(),
            },
        )
        .await
        .expect("create account")
        .id
    }

    /// The current TOTP code of a test administrator.
    pub fn totp_code(&self, username: &str) -> String {
        let step = self.ctx.clock.now().timestamp() as u64 / 30;
        format!(
            "{:06}",
            dangjian::auth::totp::code_at(&totp_secret(username), step)
        )
    }

    pub async fn principal(&self, account_id: i64) -> dangjian::auth::Principal {
        dangjian::auth::store::principal_for(&self.ctx, account_id, String::new(), "", true)
            .await
            .expect("load")
            .expect("enabled account")
    }

    pub async fn send(&self, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let resp = self.router.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes()
            .to_vec();
        (status, headers, body)
    }

    /// A JSON API call with a bearer token.
    pub async fn api(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (StatusCode, serde_json::Value) {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        let body = match body {
            Some(v) => {
                b = b.header(header::CONTENT_TYPE, "application/json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        let (status, _, bytes) = self.send(b.body(body).expect("request")).await;
        let v = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (status, v)
    }

    /// Logs in through the form; returns the session cookie value.
    pub async fn login(&self, username: &str, password: &str) -> Result<String, StatusCode> {
        let req = Request::builder()
            .method("POST")
            .uri("/login")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!(
                "username={username}&password={}",
                urlencode(password)
            )))
            .expect("request");
        let (status, headers, _) = self.send(req).await;
        if status != StatusCode::SEE_OTHER {
            return Err(status);
        }
        let cookie = headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("dj_session="))
            .ok_or(StatusCode::INTERNAL_SERVER_ERROR)?;
        Ok(cookie
            .trim_start_matches("dj_session=")
            .split(';')
            .next()
            .unwrap_or("")
            .to_string())
    }

    /// A page request with a session cookie.
    pub async fn page(
        &self,
        session: &str,
        method: &str,
        path: &str,
        form: Option<&str>,
    ) -> (StatusCode, axum::http::HeaderMap, String) {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header(header::COOKIE, format!("dj_session={session}"));
        let body = match form {
            Some(f) => {
                b = b.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                Body::from(f.to_string())
            }
            None => Body::empty(),
        };
        let (s, h, bytes) = self.send(b.body(body).expect("request")).await;
        (s, h, String::from_utf8_lossy(&bytes).into_owned())
    }

    /// A page request with extra request headers (e.g. `Accept-Language`).
    pub async fn page_with(
        &self,
        session: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (StatusCode, axum::http::HeaderMap, String) {
        let mut b = Request::builder().method("GET").uri(path);
        if !session.is_empty() {
            b = b.header(header::COOKIE, format!("dj_session={session}"));
        }
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let (s, h, bytes) = self.send(b.body(Body::empty()).expect("request")).await;
        (s, h, String::from_utf8_lossy(&bytes).into_owned())
    }

    /// A browser session for a new account with `role` at `org_id`, past the forced password
    /// change: (session cookie, CSRF token).
    pub async fn browser(&self, username: &str, org_id: i64, role: &str) -> (String, String) {
        self.account(username, org_id, role, None).await;
        let session = self.login(username, PASSWORD).await.expect("login");
        if dangjian::auth::Role::parse(role).is_some_and(|r| r.is_admin_trio()) {
            self.second_factor(&session, username).await;
        }
        let session = self.change_password(&session).await;
        let csrf = self.csrf(&session).await;
        (session, csrf)
    }

    /// Changes a session's one-time password; returns the renewed session.
    pub async fn change_password(&self, session: &str) -> String {
        let csrf = self.csrf(session).await;
        let form = format!(
            "_csrf={csrf}&old_password={}&new_password={}&confirm_password={}",
            urlencode(PASSWORD),
            urlencode("New@pass2026"),
            urlencode("New@pass2026")
        );
        let (s, h, body) = self.page(session, "POST", "/password", Some(&form)).await;
        assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
        // the change renews the session: the new one comes as the cookie
        session_of(&h).expect("a new session after the password change")
    }

    /// Passes the second step of a sign-in with the account's current TOTP code.
    pub async fn second_factor(&self, session: &str, username: &str) {
        let (_, _, html) = self.page(session, "GET", "/login/totp", None).await;
        let marker = "name=\"_csrf\" value=\"";
        let start = html.find(marker).expect("csrf field on the second step") + marker.len();
        let csrf = html[start..].split('"').next().unwrap_or("").to_string();
        let form = format!("_csrf={csrf}&code={}", self.totp_code(username));
        let (s, _, body) = self.page(session, "POST", "/login/totp", Some(&form)).await;
        assert_eq!(s, StatusCode::SEE_OTHER, "{body}");
    }

    /// The CSRF token of a session (what the page's meta tag carries).
    pub async fn csrf(&self, session: &str) -> String {
        let (_, _, html) = self.page(session, "GET", "/password", None).await;
        let marker = "name=\"csrf-token\" content=\"";
        let start = html.find(marker).expect("csrf meta") + marker.len();
        html[start..].split('"').next().unwrap_or("").to_string()
    }

    pub async fn verify(&self) -> dangjian::audit::VerifyOutcome {
        dangjian::audit::verify(&self.ctx).await.expect("verify")
    }

    /// Runs SQL directly (tamper tests, checks).
    pub async fn exec(&self, sql: &str) {
        // SQLite prepares DDL against the connection's cached schema, which another pooled
        // connection's DDL (a tamper test's DROP TRIGGER) leaves stale until the connection
        // next reads in a transaction: read the schema first, on the connection that runs `sql`
        dangjian::on_db!(&self.ctx.db, p => {
            let mut c = p.acquire().await.expect("connection");
            if self.is_sqlite() {
                sqlx::query("SELECT COUNT(*) FROM sqlite_master").execute(&mut *c).await.expect("schema");
            }
            sqlx::raw_sql(sql).execute(&mut *c).await.expect(sql);
        });
    }

    pub async fn count(&self, sql: &str) -> i64 {
        dangjian::on_db!(&self.ctx.db, p => {
            let r = sqlx::query(sql).fetch_one(p).await.expect(sql);
            dangjian::db::DbRow::i64(&r, "n").expect("n")
        })
    }
}

pub const PASSWORD: &str = "Test@2026pw";

/// A test administrator's TOTP secret (fixed by the username).
pub fn totp_secret(username: &str) -> Vec<u8> {
    dangjian::demo::demo_totp_secret(username)
}

/// The session cookie a response sets.
pub fn session_of(h: &axum::http::HeaderMap) -> Option<String> {
    h.get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("dj_session=") && !v.starts_with("dj_session=;"))
        .map(|v| {
            v.trim_start_matches("dj_session=")
                .split(';')
                .next()
                .unwrap_or("")
                .to_string()
        })
}

/// Runs the `dangjian` binary against `db_url` with the test data key.
pub fn cli(db_url: &str, args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_dangjian"))
        .args(["--database-url", db_url])
        .args(args)
        .env("DANGJIAN_DATA_KEY", KEY)
        .envs(envs.iter().copied())
        .output()
        .expect("run dangjian")
}

pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub fn d(y: i32, m: u32, day: u32) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(y, m, day).expect("date")
}

/// A valid full member born 1980 with a unique ID number derived from `seq`.
pub fn member_input(org_id: i64, name: &str, seq: u16) -> MemberInput {
    let birth = d(1980, 1, 1) + chrono::Duration::days(seq as i64);
    MemberInput {
        org_id,
        name: name.into(),
        ethnicity: "汉族".into(),
        id_number: Some(dangjian::member::idcard::compose(
            "370811",
            birth,
            seq % 1000,
            seq % 2 == 0,
        )),
        phone: Some(format!("139{:08}", 10_000_000 + seq as u32)),
        education: "大学本科".into(),
        work_unit: "测试单位".into(),
        join_date: d(2010, 7, 1),
        full_date: Some(d(2011, 7, 1)),
        status: "full".into(),
        ..Default::default()
    }
}

/// province → 2 cities → 2 counties each → 2 branches each, 2 members per branch.
pub struct Province {
    pub province: i64,
    pub cities: Vec<i64>,
    pub counties: Vec<i64>,
    pub branches: Vec<i64>,
    pub members: Vec<i64>,
}

pub async fn province(app: &TestApp) -> Province {
    let province = app.org(None, "中共山东省委", "committee", "city").await;
    let mut p = Province {
        province,
        cities: vec![],
        counties: vec![],
        branches: vec![],
        members: vec![],
    };
    let mut seq = 1u16;
    for c in 0..2 {
        let city = app
            .org(
                Some(province),
                &format!("中共第{c}市委"),
                "committee",
                "city",
            )
            .await;
        p.cities.push(city);
        for k in 0..2 {
            let county = app
                .org(
                    Some(city),
                    &format!("中共{c}市{k}县委"),
                    "committee",
                    "county",
                )
                .await;
            p.counties.push(county);
            for b in 0..2 {
                let branch = app
                    .org(
                        Some(county),
                        &format!("{c}市{k}县第{b}党支部"),
                        "branch",
                        "village",
                    )
                    .await;
                p.branches.push(branch);
                for _ in 0..2 {
                    p.members
                        .push(app.member(branch, &format!("党员{seq}"), seq).await);
                    seq += 1;
                }
            }
        }
    }
    p
}

/// Asserts a refusal with its code.
pub fn refused(r: (StatusCode, serde_json::Value), code: &str) {
    assert!(r.0.is_client_error(), "{r:?}");
    assert_eq!(r.1["code"], code, "{r:?}");
}

/// The fields a validation refusal names.
pub fn fields(v: &serde_json::Value) -> Vec<String> {
    v["fields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| f["field"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

pub fn ok(r: (StatusCode, serde_json::Value)) -> serde_json::Value {
    assert_eq!(r.0, StatusCode::OK, "{}", r.1);
    r.1
}

pub fn multipart(fields: &[(&str, &str)], file: &[u8]) -> (String, Vec<u8>) {
    let boundary = "----djrecruitboundary";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"申请书.pdf\"\r\nContent-Type: application/pdf\r\n\r\n").as_bytes());
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

pub async fn post_multipart(
    app: &TestApp,
    token: &str,
    path: &str,
    ct: &str,
    body: Vec<u8>,
) -> (StatusCode, Vec<u8>) {
    let req = Request::builder()
        .method("POST")
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, ct)
        .body(Body::from(body))
        .expect("request");
    let (s, _, b) = app.send(req).await;
    (s, b)
}
