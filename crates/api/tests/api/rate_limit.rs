//! Rate limiting over HTTP (docs/contract.md, "Rate limiting" and "Order of checks"): exact counts per window, the 429 and its headers,
//! budgets kept apart per user, address and policy, the client address behind proxies, the
//! per-account login budget, the order of checks, and Redis outages (fail open, fail closed,
//! recovery without a restart).
//!
//! Every scenario runs with the in-process limiter and, when `TEST_REDIS_URL` is set, with the
//! Redis limiter (then mandatory). Each app writes its Redis keys under a prefix of its own.
//! Counting tests use hour-long windows, or wait out the last seconds of a window, so a window
//! boundary never falls inside a test.

use crate::assert_problem;
use keel_testkit::app::{REAL_RATE_LIMITS, TestApp, TestResponse};
use keel_testkit::db::TestDb;
use reqwest::Method;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Copy)]
pub(crate) enum Limiter {
    InProcess,
    Redis,
}

/// Runs each scenario `async fn name(limiter: Limiter)` as `name::in_process` and `name::redis`
/// (which needs `TEST_REDIS_URL`).
macro_rules! on_every_limiter {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn in_process() {
                    super::$name(super::Limiter::InProcess).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn redis() {
                    super::$name(super::Limiter::Redis).await;
                }
            }
        )*
    };
}

on_every_limiter!(
    counts_are_exact_and_the_429_carries_every_header,
    the_real_defaults_limit_registration_and_reads,
    users_addresses_and_policies_have_budgets_of_their_own,
    forwarded_for_is_ignored_unless_sent_by_a_trusted_proxy,
    login_is_limited_per_account_across_many_addresses,
    an_exhausted_budget_answers_429_before_authentication_validation_and_existence,
);

/// Starts the app with `limiter` and `overrides` (SQLite; the limiter is what is under test).
pub(crate) async fn spawn(limiter: Limiter, overrides: &[(&str, &str)]) -> TestApp {
    let prefix = format!("keel-test:{}:", uuid::Uuid::new_v4());
    let mut pairs: Vec<(&str, &str)> = overrides.to_vec();
    let url = matches!(limiter, Limiter::Redis).then(keel_testkit::services::redis_url);
    if let Some(url) = url.as_deref() {
        pairs.push(("REDIS_URL", url));
        pairs.push(("RATE_LIMIT_KEY_PREFIX", &prefix));
        // An unreachable Redis must fail the test, not be served around.
        pairs.push(("RATE_LIMIT_FAIL_OPEN", "false"));
    }
    let app = TestApp::spawn_with(TestDb::sqlite().await, &pairs).await;
    if matches!(limiter, Limiter::Redis) {
        let ready = app.get("/ready", None).await;
        assert_eq!(
            ready.body["checks"]["redis"], true,
            "TEST_REDIS_URL is set but Redis does not answer: {}",
            ready.text
        );
    }
    app
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after the epoch")
        .as_secs()
}

/// Waits for the next window when fewer than `margin` seconds are left in this one.
pub(crate) async fn avoid_window_edge(window: u64, margin: u64) {
    let left = window - unix_now() % window;
    if left <= margin {
        tokio::time::sleep(Duration::from_millis(left * 1000 + 200)).await;
    }
}

fn header_u64(res: &TestResponse, name: &str) -> u64 {
    res.header(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing or not a number: {:?}", res.headers))
}

/// Asserts the five rate-limit headers.
fn assert_limit_headers(res: &TestResponse, policy: &str, limit: u64, remaining: u64, window: u64) {
    assert_eq!(header_u64(res, "x-ratelimit-limit"), limit, "{policy}");
    assert_eq!(
        header_u64(res, "x-ratelimit-remaining"),
        remaining,
        "{policy}"
    );
    let reset = header_u64(res, "x-ratelimit-reset");
    assert!(
        (0..=window).contains(&reset),
        "reset {reset} within the window"
    );
    assert_eq!(
        res.header("ratelimit-policy"),
        Some(format!("{policy};q={limit};w={window}").as_str())
    );
    assert_eq!(
        res.header("ratelimit"),
        Some(format!("{policy};r={remaining};t={reset}").as_str())
    );
}

fn assert_no_limit_headers(res: &TestResponse) {
    for name in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "ratelimit",
        "ratelimit-policy",
        "retry-after",
    ] {
        assert!(
            res.header(name).is_none(),
            "unexpected {name}: {:?}",
            res.headers
        );
    }
}

/// Asserts the 429 of docs/contract.md's "Rate limiting".
fn assert_exceeded(res: &TestResponse, policy: &str, limit: u64, window: u64) {
    assert_problem(res, 429, "rate_limit_exceeded");
    assert_eq!(res.body["detail"], "Rate limit exceeded");
    assert_eq!(res.body["title"], "Too Many Requests");
    assert_limit_headers(res, policy, limit, 0, window);
    let retry_after = header_u64(res, "retry-after");
    assert!(retry_after >= 1, "Retry-After {retry_after}");
    assert_eq!(retry_after, header_u64(res, "x-ratelimit-reset").max(1));
}

async fn register(app: &TestApp, email: &str, forwarded_for: Option<&str>) -> TestResponse {
    let mut request = app
        .client
        .post(format!("{}/api/v1/users", app.base_url))
        .json(&json!({ "email": email, "password": "password1" }));
    if let Some(xff) = forwarded_for {
        request = request.header("x-forwarded-for", xff);
    }
    TestApp::read(request).await
}

async fn login_form(
    app: &TestApp,
    username: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> TestResponse {
    let mut request = app
        .client
        .post(format!("{}/api/v1/login", app.base_url))
        .form(&[("username", username), ("password", password)]);
    if let Some(xff) = forwarded_for {
        request = request.header("x-forwarded-for", xff);
    }
    TestApp::read(request).await
}

async fn counts_are_exact_and_the_429_carries_every_header(limiter: Limiter) {
    let app = spawn(
        limiter,
        &[
            ("RATE_LIMIT_REGISTER_LIMIT", "3"),
            ("RATE_LIMIT_REGISTER_WINDOW_SECONDS", "3600"),
        ],
    )
    .await;
    avoid_window_edge(3600, 5).await;
    for (n, remaining) in [(1, 2), (2, 1), (3, 0)] {
        let res = register(&app, &format!("u{n}@example.com"), None).await;
        assert_eq!(res.status, 201, "{}", res.text);
        assert_limit_headers(&res, "auth_register", 3, remaining, 3600);
    }
    let res = register(&app, "u4@example.com", None).await;
    assert_exceeded(&res, "auth_register", 3, 3600);
    assert_eq!(res.body["instance"], "/api/v1/users");
    // Still refused, and the alias path shares the budget.
    let res = app
        .post(
            "/api/users",
            None,
            &json!({ "email": "u5@example.com", "password": "password1" }),
        )
        .await;
    assert_exceeded(&res, "auth_register", 3, 3600);
    assert_eq!(res.body["instance"], "/api/users");
    // Routes that are not limited carry no headers and are not refused.
    let health = app.get("/health", None).await;
    assert_eq!(health.status, 200);
    assert_no_limit_headers(&health);
}

async fn the_real_defaults_limit_registration_and_reads(limiter: Limiter) {
    let app = spawn(limiter, &REAL_RATE_LIMITS).await;
    avoid_window_edge(60, 4).await;
    for n in 1..=5 {
        let res = register(&app, &format!("d{n}@example.com"), None).await;
        assert_eq!(res.status, 201, "{}", res.text);
        assert_limit_headers(&res, "auth_register", 5, 5 - n, 60);
    }
    assert_exceeded(
        &register(&app, "d6@example.com", None).await,
        "auth_register",
        5,
        60,
    );
    let tokens = login_form(&app, "d1@example.com", "password1", None).await;
    assert_eq!(tokens.status, 200, "{}", tokens.text);
    assert_limit_headers(&tokens, "auth_login", 10, 9, 60);
    let access = tokens.body["access_token"].as_str().expect("token");
    let list = app.get("/api/v1/posts", Some(access)).await;
    assert_eq!(list.status, 200);
    assert_limit_headers(&list, "api_read", 120, 119, 60);
    let write = app
        .post(
            "/api/v1/posts",
            Some(access),
            &json!({ "title": "t", "content": "c" }),
        )
        .await;
    assert_eq!(write.status, 201);
    assert_limit_headers(&write, "api_write", 60, 59, 60);
}

async fn users_addresses_and_policies_have_budgets_of_their_own(limiter: Limiter) {
    let app = spawn(
        limiter,
        &[
            ("RATE_LIMIT_READ_LIMIT", "2"),
            ("RATE_LIMIT_READ_WINDOW_SECONDS", "3600"),
            ("TRUST_PROXY_HEADERS", "true"),
        ],
    )
    .await;
    avoid_window_edge(3600, 5).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    for remaining in [1, 0] {
        let res = app.get("/api/v1/posts", Some(&alice.access)).await;
        assert_eq!(res.status, 200);
        assert_limit_headers(&res, "api_read", 2, remaining, 3600);
    }
    assert_exceeded(
        &app.get("/api/v1/posts/1", Some(&alice.access)).await,
        "api_read",
        2,
        3600,
    );
    // Another user, the same address: a budget of its own.
    let res = app.get("/api/v1/posts", Some(&bob.access)).await;
    assert_eq!(res.status, 200);
    assert_limit_headers(&res, "api_read", 2, 1, 3600);
    // Another policy, the same user: a budget of its own.
    let res = app
        .post(
            "/api/v1/posts",
            Some(&alice.access),
            &json!({ "title": "t", "content": "c" }),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    // Without a valid token the address pays, not the user whose token was forged.
    let forged = format!("{}x", alice.access);
    let res = app.get("/api/v1/posts", Some(&forged)).await;
    assert_problem(&res, 401, "invalid_credentials");
    assert_limit_headers(&res, "api_read", 2, 1, 3600);
    // Another address (through the trusted local proxy): a budget of its own.
    for address in ["203.0.113.1", "203.0.113.2"] {
        let request = app
            .client
            .get(format!("{}/api/v1/posts", app.base_url))
            .header("x-forwarded-for", address);
        let res = TestApp::read(request).await;
        assert_problem(&res, 401, "invalid_credentials");
        assert_limit_headers(&res, "api_read", 2, 1, 3600);
    }
}

async fn forwarded_for_is_ignored_unless_sent_by_a_trusted_proxy(limiter: Limiter) {
    let limits = [
        ("RATE_LIMIT_REGISTER_LIMIT", "1"),
        ("RATE_LIMIT_REGISTER_WINDOW_SECONDS", "3600"),
    ];
    // Default: TRUST_PROXY_HEADERS=false. A spoofed header changes nothing.
    let app = spawn(limiter, &limits).await;
    avoid_window_edge(3600, 5).await;
    assert_eq!(
        register(&app, "a@example.com", Some("198.51.100.1"))
            .await
            .status,
        201
    );
    let res = register(&app, "b@example.com", Some("198.51.100.2")).await;
    assert_exceeded(&res, "auth_register", 1, 3600);

    // Trusted, but the peer (127.0.0.1) is not one of the trusted proxies.
    let mut untrusted = limits.to_vec();
    untrusted.extend([
        ("TRUST_PROXY_HEADERS", "true"),
        ("TRUSTED_PROXIES", "10.0.0.0/8"),
    ]);
    let app = spawn(limiter, &untrusted).await;
    assert_eq!(
        register(&app, "a@example.com", Some("198.51.100.1"))
            .await
            .status,
        201
    );
    let res = register(&app, "b@example.com", Some("198.51.100.2")).await;
    assert_exceeded(&res, "auth_register", 1, 3600);

    // Through a trusted proxy: the rightmost hop that is not a trusted proxy is the client.
    let mut trusted = limits.to_vec();
    trusted.extend([
        ("TRUST_PROXY_HEADERS", "true"),
        ("TRUSTED_PROXIES", "127.0.0.1/32, 10.0.0.0/8"),
    ]);
    let app = spawn(limiter, &trusted).await;
    assert_eq!(
        register(&app, "a@example.com", Some("198.51.100.1"))
            .await
            .status,
        201
    );
    assert_eq!(
        register(&app, "b@example.com", Some("198.51.100.2"))
            .await
            .status,
        201
    );
    // The client prepends a fake hop; the proxies appended the real address and their own.
    let res = register(
        &app,
        "c@example.com",
        Some("192.0.2.99, 198.51.100.1, 10.0.0.5"),
    )
    .await;
    assert_exceeded(&res, "auth_register", 1, 3600);
    // No header: the peer itself.
    assert_eq!(register(&app, "d@example.com", None).await.status, 201);
}

async fn login_is_limited_per_account_across_many_addresses(limiter: Limiter) {
    let app = spawn(
        limiter,
        &[
            ("RATE_LIMIT_LOGIN_LIMIT", "3"),
            ("RATE_LIMIT_LOGIN_WINDOW_SECONDS", "3600"),
            ("TRUST_PROXY_HEADERS", "true"),
            ("MAX_BODY_BYTES", "1024"),
        ],
    )
    .await;
    avoid_window_edge(3600, 5).await;
    app.register("alice@example.com", "password1").await;
    app.register("bob@example.com", "password1").await;
    // Three addresses, one account: the account's budget runs out.
    for (n, address) in ["198.51.100.1", "198.51.100.2", "198.51.100.3"]
        .iter()
        .enumerate()
    {
        let res = login_form(&app, "alice@example.com", "wrong-password", Some(address)).await;
        assert_problem(&res, 403, "invalid_credentials");
        // The account's budget (3 - n - 1 left) is tighter than the fresh address's (2 left).
        assert_limit_headers(&res, "auth_login", 3, 2 - n as u64, 3600);
    }
    // A fourth address, the right password, the account spelled differently, JSON instead of
    // the form: still the same account's budget.
    let request = app
        .client
        .post(format!("{}/api/v1/login", app.base_url))
        .header("x-forwarded-for", "198.51.100.4")
        .json(&json!({ "email": " ALICE@Example.com", "password": "password1" }));
    assert_exceeded(&TestApp::read(request).await, "auth_login", 3, 3600);
    // Another account from a fresh address is unaffected, and the handler still reads the
    // body the limiter read.
    let res = login_form(&app, "bob@example.com", "password1", Some("198.51.100.5")).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert!(res.body["access_token"].is_string());
    assert_limit_headers(&res, "auth_login", 3, 2, 3600);
    // One address, many accounts: the address's budget runs out.
    for n in 0..2 {
        let res = login_form(
            &app,
            &format!("nobody{n}@example.com"),
            "x",
            Some("198.51.100.5"),
        )
        .await;
        assert_problem(&res, 403, "invalid_credentials");
    }
    let res = login_form(&app, "bob@example.com", "password1", Some("198.51.100.5")).await;
    assert_exceeded(&res, "auth_login", 3, 3600);
    // That refusal spent nothing of bob's account budget: one login so far, two left.
    let res = login_form(&app, "bob@example.com", "password1", Some("198.51.100.20")).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_limit_headers(&res, "auth_login", 3, 1, 3600);
    // A name that is not an e-mail address names no account: it is charged to the address
    // only, however many addresses try it (no budget, and no counter, per made-up string).
    for n in 10..15 {
        let res = login_form(&app, " Mallory ", "x", Some(&format!("198.51.100.{n}"))).await;
        assert_ne!(res.status, 429, "{}", res.text);
        assert_limit_headers(&res, "auth_login", 3, 2, 3600);
    }
    // A body over MAX_BODY_BYTES is 413 while the budget lasts...
    let big = "a".repeat(2048);
    let res = login_form(&app, &big, "x", Some("198.51.100.6")).await;
    assert_problem(&res, 413, "payload_too_large");
    // ...and 429 once it is spent, whatever the body.
    let res = login_form(&app, &big, "x", Some("198.51.100.5")).await;
    assert_exceeded(&res, "auth_login", 3, 3600);
}

async fn an_exhausted_budget_answers_429_before_authentication_validation_and_existence(
    limiter: Limiter,
) {
    let app = spawn(
        limiter,
        &[
            ("RATE_LIMIT_LOGIN_LIMIT", "1"),
            ("RATE_LIMIT_LOGIN_WINDOW_SECONDS", "3600"),
            ("RATE_LIMIT_WRITE_LIMIT", "1"),
            ("RATE_LIMIT_WRITE_WINDOW_SECONDS", "3600"),
        ],
    )
    .await;
    avoid_window_edge(3600, 5).await;
    let alice = app.user("alice").await; // spends the address's one login
    // auth_login: validation (422), a bad token (401), a bad media type (415), an unknown
    // OAuth provider (404) — all 429 now.
    let res = app.post("/api/v1/auth/refresh", None, &json!({})).await;
    assert_exceeded(&res, "auth_login", 1, 3600);
    let res = app
        .post(
            "/api/v1/auth/logout",
            None,
            &json!({ "refresh_token": "x" }),
        )
        .await;
    assert_exceeded(&res, "auth_login", 1, 3600);
    let res = TestApp::read(
        app.client
            .post(format!("{}/api/v1/login", app.base_url))
            .header("content-type", "text/plain")
            .body("x"),
    )
    .await;
    assert_exceeded(&res, "auth_login", 1, 3600);
    let res = app
        .get("/api/v1/auth/oauth/nosuchprovider/start", None)
        .await;
    assert_exceeded(&res, "auth_login", 1, 3600);
    // api_write: the first write passes, then 429 before validation, existence, ownership.
    let res = app
        .post(
            "/api/v1/vote",
            Some(&alice.access),
            &json!({ "post_id": 999, "dir": 1 }),
        )
        .await;
    assert_problem(&res, 404, "post_not_found");
    assert_limit_headers(&res, "api_write", 1, 0, 3600);
    let res = app
        .send(
            Method::PUT,
            "/api/v1/posts/999",
            Some(&alice.access),
            Some(&json!({})),
        )
        .await;
    assert_exceeded(&res, "api_write", 1, 3600);
    let res = app
        .send(
            Method::DELETE,
            "/api/v1/posts/abc",
            Some(&alice.access),
            None,
        )
        .await;
    assert_exceeded(&res, "api_write", 1, 3600);
    // Routes outside the policies still answer.
    assert_eq!(
        app.get("/api/v1/users/me", Some(&alice.access))
            .await
            .status,
        200
    );
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_fails_open_without_headers_and_ready_reports_it() {
    let url = format!("redis://127.0.0.1:{}", closed_port());
    let app = TestApp::spawn_with(
        TestDb::sqlite().await,
        &[("REDIS_URL", &url), ("RATE_LIMIT_FAIL_OPEN", "true")],
    )
    .await;
    let alice = app.user("alice").await;
    let res = app.get("/api/v1/posts", Some(&alice.access)).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_no_limit_headers(&res);
    // Redis is not required: reported, not failing.
    let ready = app.get("/ready", None).await;
    assert_eq!(ready.status, 200, "{}", ready.text);
    assert_eq!(
        ready.body,
        json!({ "status": "ok", "checks": { "database": true, "redis": false } })
    );

    let required = TestApp::spawn_with(
        TestDb::sqlite().await,
        &[("REDIS_URL", &url), ("REDIS_HEALTH_REQUIRED", "true")],
    )
    .await;
    let ready = required.get("/ready", None).await;
    assert_problem(&ready, 503, "service_not_ready");
    assert_eq!(
        ready.body["checks"],
        json!({ "database": true, "redis": false })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_fails_closed_with_503_on_limited_routes_only() {
    let url = format!("redis://127.0.0.1:{}", closed_port());
    let app = TestApp::spawn_with(
        TestDb::sqlite().await,
        &[("REDIS_URL", &url), ("RATE_LIMIT_FAIL_OPEN", "false")],
    )
    .await;
    let started = std::time::Instant::now();
    let res = register(&app, "alice@example.com", None).await;
    assert!(started.elapsed() < Duration::from_secs(3), "no hang");
    assert_problem(&res, 503, "rate_limit_backend_unavailable");
    assert_eq!(res.body["detail"], "Rate limiting backend is unavailable");
    assert_no_limit_headers(&res);
    let res = login_form(&app, "alice@example.com", "password1", None).await;
    assert_problem(&res, 503, "rate_limit_backend_unavailable");
    // Unlimited routes do not depend on Redis.
    assert_eq!(app.get("/health", None).await.status, 200);
    let res = app.get("/api/v1/users/me", None).await;
    assert_problem(&res, 401, "invalid_credentials");
}

/// A TCP relay to the test Redis on a fixed port that can be taken down and brought back.
struct Relay {
    port: u16,
    target: String,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Relay {
    fn new(target: &str) -> Self {
        let target = target
            .trim_start_matches("redis://")
            .split('/')
            .next()
            .unwrap_or("127.0.0.1:6379")
            .to_owned();
        Self {
            port: closed_port(),
            target,
            tasks: Arc::default(),
        }
    }

    async fn up(&self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("rebinding the relay port");
        let target = self.target.clone();
        let tasks = self.tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let target = target.clone();
                let relay = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tasks.lock().expect("tasks").push(relay);
            }
        });
        self.tasks.lock().expect("tasks").push(accept);
    }

    /// Closes the port and every relayed connection, as a stopped Redis would.
    fn down(&self) {
        for task in self.tasks.lock().expect("tasks").drain(..) {
            task.abort();
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.down();
    }
}

async fn eventually(app: &TestApp, path: &str, token: &str, status: u16) -> TestResponse {
    let mut last = None;
    for _ in 0..40 {
        let res = app.get(path, Some(token)).await;
        if res.status == status {
            return res;
        }
        last = Some(res);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{path} never answered {status}: {last:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limiting_can_be_switched_off() {
    for switch in ["RATE_LIMIT_ENABLED", "ENABLE_OPTIONAL_RATE_LIMITING"] {
        let app = TestApp::spawn_with(
            TestDb::sqlite().await,
            &[(switch, "false"), ("RATE_LIMIT_REGISTER_LIMIT", "1")],
        )
        .await;
        for n in 0..3 {
            let res = register(&app, &format!("x{n}@example.com"), None).await;
            assert_eq!(res.status, 201, "{switch}: {}", res.text);
            assert_no_limit_headers(&res);
        }
    }
}

/// Needs Redis (`TEST_REDIS_URL`); left out, counted as skipped, when it is not configured.
mod redis {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redis_coming_back_is_used_again_without_a_restart() {
        let url = keel_testkit::services::redis_url();
        let relay = Relay::new(&url);
        let prefix = format!("keel-test:{}:", uuid::Uuid::new_v4());
        let relay_url = format!("redis://127.0.0.1:{}", relay.port);
        let app = TestApp::spawn_with(
            TestDb::sqlite().await,
            &[
                ("REDIS_URL", &relay_url),
                ("RATE_LIMIT_KEY_PREFIX", &prefix),
                ("RATE_LIMIT_FAIL_OPEN", "false"),
                ("RATE_LIMIT_READ_WINDOW_SECONDS", "3600"),
            ],
        )
        .await;
        // The app started while nothing listened at REDIS_URL. Bring Redis up for the sign-up,
        // then take it down: limited routes fail closed.
        let token = {
            relay.up().await;
            let alice = app.user("alice").await;
            relay.down();
            alice.access
        };
        let res = eventually(&app, "/api/v1/posts", &token, 503).await;
        assert_problem(&res, 503, "rate_limit_backend_unavailable");
        assert_eq!(app.get("/ready", None).await.body["checks"]["redis"], false);
        // Back up: picked up by the next requests.
        relay.up().await;
        let res = eventually(&app, "/api/v1/posts", &token, 200).await;
        assert!(res.header("x-ratelimit-remaining").is_some());
        assert_eq!(app.get("/ready", None).await.body["checks"]["redis"], true);
        // Down and up once more, with connections in the pool that died meanwhile.
        relay.down();
        eventually(&app, "/api/v1/posts", &token, 503).await;
        relay.up().await;
        let res = eventually(&app, "/api/v1/posts", &token, 200).await;
        assert!(res.header("ratelimit").is_some());
    }
}
