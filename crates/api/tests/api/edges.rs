//! The edges of the route table, tried as an attacker would: every spelling of a path that
//! reaches a handler spends the same rate-limit budget and gets the same headers as the plain
//! one; every API response is `no-store` whatever the spelling; `HEAD` answers on every `GET`
//! route; hostile `Host` values are refused; the forwarded scheme is the trusted hop's.
//!
//! The routes come from the route table itself (`keel_http::declared_routes`), so a route
//! added later is covered without touching this file.

use crate::assert_problem;
use crate::rate_limit::{Limiter, spawn};
use keel_http::DeclaredRoute;
use keel_testkit::app::{TestApp, TestResponse, TestUser};
use reqwest::Method;
use serde_json::{Value, json};

/// Percent-encodes one byte, with lower- or upper-case hex digits.
fn escape(byte: u8, upper: bool) -> String {
    if upper {
        format!("%{byte:02X}")
    } else {
        format!("%{byte:02x}")
    }
}

/// Other spellings of `path` that the router maps to the same route: each letter and digit
/// encoded alone (alternating the case of the hex digits), every one encoded at once with
/// mixed case, and the same under the `/api` alias.
fn spellings(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = path.as_bytes();
    // Letters inside `{…}` were substituted already; only literal characters are encoded.
    for (i, byte) in bytes.iter().enumerate() {
        if byte.is_ascii_alphanumeric() {
            let mut spelled = String::from(&path[..i]);
            spelled.push_str(&escape(*byte, i % 2 == 1));
            spelled.push_str(&path[i + 1..]);
            out.push(spelled);
        }
    }
    let all: String = bytes
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if b.is_ascii_alphanumeric() {
                escape(*b, i % 3 == 0)
            } else {
                (*b as char).to_string()
            }
        })
        .collect();
    out.push(all);
    if let Some(rest) = path.strip_prefix("/api/v1/") {
        out.push(format!("/api/{rest}"));
        out.push(format!("/%61pi/{}", escape_first(rest)));
        out.push(format!("/%61%70%69/{rest}"));
    }
    out
}

/// `rest` with its first letter encoded.
fn escape_first(rest: &str) -> String {
    let first = rest.as_bytes()[0];
    format!("{}{}", escape(first, true), &rest[1..])
}

/// The template with its parameters filled in.
fn concrete(route: &DeclaredRoute, post_id: i64) -> String {
    route
        .path
        .replace("{id}", &post_id.to_string())
        .replace("{provider}", "google")
}

/// A request of `route` at `path`, as the owner of the post would send it.
async fn call(
    app: &TestApp,
    route: &DeclaredRoute,
    path: &str,
    user: &TestUser,
    post_id: i64,
) -> TestResponse {
    let method = Method::from_bytes(route.method.as_bytes()).expect("method");
    let mut request = app
        .client
        .request(method, format!("{}{path}", app.base_url));
    if route.bearer {
        request = request.bearer_auth(&user.access);
    }
    let body: Option<Value> = match (route.method.as_str(), route.path.as_str()) {
        ("POST", p) if p.ends_with("/login") => None,
        ("POST", p) if p.ends_with("/users") => Some(json!({
            "email": format!("{}@example.com", uuid::Uuid::new_v4().simple()),
            "password": "correct horse battery",
        })),
        ("POST", p) if p.ends_with("/vote") => Some(json!({ "post_id": post_id, "dir": 1 })),
        ("POST" | "PUT", p) if p.contains("/posts") => {
            Some(json!({ "title": "t", "content": "c" }))
        }
        ("POST", p) if p.contains("/auth/refresh") || p.contains("/auth/logout") => {
            Some(json!({ "refresh_token": "not-a-token" }))
        }
        _ => None,
    };
    if route.path.ends_with("/login") {
        request = request.form(&[("username", user.email.as_str()), ("password", "wrong")]);
    } else if let Some(body) = body {
        request = request.json(&body);
    }
    TestApp::read(request).await
}

fn header<'a>(res: &'a TestResponse, name: &str, path: &str) -> &'a str {
    res.header(name)
        .unwrap_or_else(|| panic!("{path}: no {name} (status {}): {}", res.status, res.text))
}

fn remaining(res: &TestResponse, path: &str) -> u64 {
    header(res, "x-ratelimit-remaining", path)
        .parse()
        .expect("a number")
}

async fn every_spelling_of_a_limited_route_spends_the_same_budget(limiter: Limiter) {
    let hour = "3600";
    let app = spawn(
        limiter,
        &[
            ("RATE_LIMIT_LOGIN_WINDOW_SECONDS", hour),
            ("RATE_LIMIT_REGISTER_WINDOW_SECONDS", hour),
            ("RATE_LIMIT_READ_WINDOW_SECONDS", hour),
            ("RATE_LIMIT_WRITE_WINDOW_SECONDS", hour),
        ],
    )
    .await;
    let user = app.user("speller").await;
    let post = app.create_post(&user, "a post", true).await;
    let post_id = post["id"].as_i64().expect("id");
    let routes: Vec<DeclaredRoute> = keel_http::declared_routes("v1")
        .into_iter()
        .filter(|r| r.policy.is_some())
        .collect();
    assert!(routes.len() >= 13, "the limited routes: {routes:?}");
    for route in &routes {
        let plain = concrete(route, post_id);
        let first = call(&app, route, &plain, &user, post_id).await;
        let mut left = remaining(&first, &plain);
        let policy = header(&first, "ratelimit-policy", &plain).to_owned();
        assert!(
            policy.starts_with(route.policy.unwrap_or_default()),
            "{plain}: {policy}"
        );
        assert_eq!(header(&first, "cache-control", &plain), "no-store");
        for spelled in spellings(&plain) {
            let res = call(&app, route, &spelled, &user, post_id).await;
            assert_eq!(
                remaining(&res, &spelled),
                left - 1,
                "{} {spelled} did not spend the budget of {plain}",
                route.method
            );
            left -= 1;
            assert_eq!(header(&res, "ratelimit-policy", &spelled), policy);
            for name in ["x-ratelimit-limit", "x-ratelimit-reset", "ratelimit"] {
                header(&res, name, &spelled);
            }
            assert_eq!(
                header(&res, "cache-control", &spelled),
                "no-store",
                "{spelled}"
            );
            assert_eq!(header(&res, "pragma", &spelled), "no-cache");
        }
    }
}

mod every_spelling_of_a_limited_route_spends_the_same_budget {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn in_process() {
        super::every_spelling_of_a_limited_route_spends_the_same_budget(super::Limiter::InProcess)
            .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redis() {
        super::every_spelling_of_a_limited_route_spends_the_same_budget(super::Limiter::Redis)
            .await;
    }
}

async fn guess(app: &TestApp, path: &str, email: &str, password: &str) -> TestResponse {
    let request = app
        .client
        .post(format!("{}{path}", app.base_url))
        .form(&[("username", email), ("password", password)]);
    TestApp::read(request).await
}

/// The scenario of the review: from an address whose login budget is spent, no spelling of
/// the login path reaches the handler, and the right password is refused too.
#[tokio::test]
async fn a_spent_login_budget_cannot_be_spelled_around() {
    let app = spawn(
        Limiter::InProcess,
        &[
            ("RATE_LIMIT_LOGIN_LIMIT", "10"),
            ("RATE_LIMIT_LOGIN_WINDOW_SECONDS", "3600"),
        ],
    )
    .await;
    let victim = app.user("victim").await;
    // `app.user` logged in once already: nine wrong guesses spend the rest of the budget.
    for _ in 0..9 {
        let res = guess(&app, "/api/v1/login", &victim.email, "wrong").await;
        assert_problem(&res, 403, "invalid_credentials");
    }
    let res = guess(&app, "/api/v1/login", &victim.email, "wrong").await;
    assert_problem(&res, 429, "rate_limit_exceeded");
    for path in [
        "/api/v1/log%69n",
        "/api/v1/lo%67in",
        "/api/v1/%6c%6F%67%69%6e",
        "/api/log%69n",
        "/%61pi/v%31/login",
        "/%61%70%69/%6C%6f%67%69%6E",
    ] {
        let res = guess(&app, path, &victim.email, "wrong").await;
        assert_problem(&res, 429, "rate_limit_exceeded");
    }
    let res = guess(&app, "/api/v1/log%69n", &victim.email, &victim.password).await;
    assert_problem(&res, 429, "rate_limit_exceeded");
}

/// Every API route, limited or not, is `no-store` whatever the spelling — the answers of
/// unknown paths and wrong methods under `/api` included.
#[tokio::test]
async fn every_api_response_is_no_store_whatever_the_spelling() {
    let app = spawn(Limiter::InProcess, &[]).await;
    let user = app.user("nostore").await;
    let post = app.create_post(&user, "a post", true).await;
    let post_id = post["id"].as_i64().expect("id");
    for route in keel_http::declared_routes("v1")
        .iter()
        .filter(|r| r.path.starts_with("/api/"))
    {
        assert!(route.no_store, "{route:?}");
        let plain = concrete(route, post_id);
        for spelled in spellings(&plain).into_iter().take(6) {
            let res = call(&app, route, &spelled, &user, post_id).await;
            assert_ne!(
                res.body["error_code"], "not_found",
                "{} {spelled} was not routed",
                route.method
            );
            assert_eq!(
                res.header("cache-control"),
                Some("no-store"),
                "{} {spelled}",
                route.method
            );
        }
    }
    for path in ["/%61pi/v1/nothing-here", "/api/v1/%75sers/me/x"] {
        let res = app.get(path, Some(&user.access)).await;
        assert_problem(&res, 404, "not_found");
        assert_eq!(res.header("cache-control"), Some("no-store"), "{path}");
    }
    let res = app
        .send(Method::PATCH, "/%61pi/v1/posts", Some(&user.access), None)
        .await;
    assert_problem(&res, 405, "method_not_allowed");
    assert_eq!(res.header("cache-control"), Some("no-store"));
}

/// RFC 9110: a `GET` resource answers `HEAD` with the same status and headers, and no body.
#[tokio::test]
async fn head_answers_on_every_get_route() {
    let app = spawn(Limiter::InProcess, &[]).await;
    let user = app.user("header").await;
    let post = app.create_post(&user, "a post", true).await;
    let post_id = post["id"].as_i64().expect("id");
    let gets: Vec<DeclaredRoute> = keel_http::declared_routes("v1")
        .into_iter()
        .filter(|r| r.method == "GET")
        .collect();
    assert!(gets.len() >= 15, "{gets:?}");
    for route in &gets {
        let path = concrete(route, post_id).replace(
            "{file}",
            if route.path.starts_with("/docs") {
                "swagger-ui.css"
            } else {
                "app.js"
            },
        );
        let send = |method: Method| {
            let mut request = app
                .client
                .request(method, format!("{}{path}", app.base_url));
            if route.bearer {
                request = request.bearer_auth(&user.access);
            }
            TestApp::read(request)
        };
        let get = send(Method::GET).await;
        let head = send(Method::HEAD).await;
        assert_eq!(head.status, get.status, "HEAD {path}");
        assert!(head.text.is_empty(), "HEAD {path} sent a body");
        for name in ["content-type", "cache-control", "etag", "x-api-version"] {
            assert_eq!(head.header(name), get.header(name), "HEAD {path}: {name}");
        }
        if get.header("content-length").is_some() && !path.contains("/metrics") {
            assert_eq!(
                head.header("content-length"),
                get.header("content-length"),
                "HEAD {path}"
            );
        }
    }
    // HEAD is in the allowed CORS methods, and a 405 still answers other methods.
    let res = app.send(Method::PATCH, "/health", None, None).await;
    assert_problem(&res, 405, "method_not_allowed");
}

async fn with_host(app: &TestApp, path: &str, host: &str) -> TestResponse {
    TestApp::read(
        app.client
            .get(format!("{}{path}", app.base_url))
            .header("host", host),
    )
    .await
}

/// `Host` is parsed strictly: userinfo, bad ports and junk are refused even when every host is
/// trusted, so nothing but a host and a port can reach a URL built from it.
#[tokio::test]
async fn hostile_host_values_are_invalid_hosts() {
    for trusted in ["*", "localhost"] {
        let app = spawn(Limiter::InProcess, &[("TRUSTED_HOSTS", trusted)]).await;
        for host in [
            "localhost:8000@evil.com",
            "localhost@evil.com",
            "user:pass@localhost",
            "localhost:99999",
            "localhost:0",
            "localhost:",
            "localhost:80:80",
            "localhost:8o",
            "localhost/evil",
            "localhost\\evil",
            "local host",
            "localhost#x",
            "localhost?x",
            "::1",
            "[::1",
            "[not-v6]:80",
            "%6cocalhost",
            "",
        ] {
            let res = with_host(&app, "/api/v1/auth/oauth/providers", host).await;
            assert_problem(&res, 400, "invalid_host");
            let res = with_host(&app, "/openapi.json", host).await;
            assert_eq!(res.status, 400, "{host:?} on /openapi.json");
        }
        for host in ["localhost", "LOCALHOST:8000", "localhost.:443"] {
            let res = with_host(&app, "/api/v1/auth/oauth/providers", host).await;
            assert_eq!(res.status, 200, "{host}: {}", res.text);
        }
    }
    // Probes keep answering whatever the host (they address pods by IP).
    let app = spawn(Limiter::InProcess, &[("TRUSTED_HOSTS", "localhost")]).await;
    assert_eq!(
        with_host(&app, "/health", "10.1.2.3:8000").await.status,
        200
    );
}

/// Behind a proxy that appends to `X-Forwarded-Proto`, a client claiming `https` is still
/// redirected: the scheme is the one the trusted proxy wrote.
#[tokio::test]
async fn a_client_cannot_claim_https_through_an_appending_proxy() {
    let app = spawn(
        Limiter::InProcess,
        &[
            ("SECURITY_HTTPS_REDIRECT", "true"),
            ("TRUST_PROXY_HEADERS", "true"),
        ],
    )
    .await;
    let send = |proto: &'static str| {
        TestApp::read(
            app.client
                .get(format!("{}/api/v1/auth/oauth/providers", app.base_url))
                .header("x-forwarded-for", "203.0.113.9")
                .header("x-forwarded-proto", proto),
        )
    };
    assert_eq!(send("https, http").await.status, 308);
    assert_eq!(send("http").await.status, 308);
    assert_eq!(send("https").await.status, 200);
}
