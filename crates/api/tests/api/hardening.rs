//! Request hardening over HTTP (docs/contract.md, "The edge"): security headers and the CSP on every
//! response (and `/docs` and `/redoc` still loading everything they need under it), no-store
//! on every API response, the `Host` check, HSTS and the HTTPS redirect behind trusted proxies
//! only, CORS preflights and simple requests, body limits, and the production refusals of the
//! `api` binary.

use crate::assert_problem;
use keel_testkit::app::{TestApp, TestResponse};
use keel_testkit::db::TestDb;
use reqwest::Method;
use serde_json::json;
use std::process::Command;

/// The Content-Security-Policy agreed for the API, its docs and the GUI.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; \
frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";

async fn app(overrides: &[(&str, &str)]) -> TestApp {
    TestApp::spawn_with(TestDb::sqlite().await, overrides).await
}

fn assert_security_headers(res: &TestResponse) {
    let expected = [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-resource-policy", "same-origin"),
        ("content-security-policy", CSP),
    ];
    for (name, value) in expected {
        assert_eq!(res.header(name), Some(value), "{name} on {}", res.status);
    }
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = app(&[]).await;
    let alice = app.user("alice").await;
    let responses = [
        app.get("/health", None).await,
        app.get("/ready", None).await,
        app.get("/nope", None).await,
        app.get("/api/v2/posts", None).await,
        app.get("/api/v1/posts", None).await,
        app.get("/api/v1/posts", Some(&alice.access)).await,
        app.send(Method::PATCH, "/api/v1/posts", None, None).await,
        app.get("/docs", None).await,
        app.get("/docs/assets/swagger-ui.css", None).await,
        app.get("/openapi.json", None).await,
        app.get("/", None).await,
    ];
    for res in &responses {
        assert_security_headers(res);
        assert!(
            res.header("strict-transport-security").is_none(),
            "HSTS is off by default"
        );
    }
}

#[tokio::test]
async fn headers_and_csp_can_be_switched_off() {
    let app = app(&[("SECURITY_CSP_ENABLED", "false")]).await;
    let res = app.get("/health", None).await;
    assert_eq!(res.header("x-frame-options"), Some("DENY"));
    assert!(res.header("content-security-policy").is_none());
    let app = app_without_headers().await;
    let res = app.get("/health", None).await;
    assert!(res.header("x-frame-options").is_none());
    assert!(res.header("content-security-policy").is_none());
}

async fn app_without_headers() -> TestApp {
    app(&[("SECURITY_HEADERS_ENABLED", "false")]).await
}

/// Every `src`/`href` attribute value of an HTML page.
fn references(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        let mut rest = html;
        while let Some(start) = rest.find(attribute) {
            rest = &rest[start + attribute.len()..];
            if let Some(end) = rest.find('"') {
                found.push(rest[..end].to_owned());
                rest = &rest[end..];
            }
        }
    }
    found
}

#[tokio::test]
async fn docs_and_redoc_load_everything_from_this_origin_under_the_csp() {
    let app = app(&[]).await;
    for page in ["/docs", "/redoc"] {
        let res = app.get(page, None).await;
        assert_eq!(res.status, 200);
        assert_eq!(res.header("content-security-policy"), Some(CSP));
        // script-src 'self' without 'unsafe-inline': every script must be a file of ours, and
        // no element may carry an inline event handler.
        let lower = res.text.to_ascii_lowercase();
        assert_eq!(
            lower.matches("<script").count(),
            lower.matches("<script src=\"/").count(),
            "{page} has an inline script"
        );
        assert!(!lower.contains(" onload=") && !lower.contains(" onclick="));
        let refs = references(&res.text);
        assert!(!refs.is_empty(), "{page} loads its viewer");
        for reference in refs {
            assert!(
                reference.starts_with('/') && !reference.starts_with("//"),
                "{page} loads {reference} from another origin"
            );
            let asset = app.get(&reference, None).await;
            assert_eq!(asset.status, 200, "{page}: {reference}");
            // nosniff: scripts and styles must come with their own types.
            let content_type = asset.header("content-type").unwrap_or("");
            if reference.ends_with(".js") {
                assert!(
                    content_type.starts_with("text/javascript"),
                    "{reference}: {content_type}"
                );
            } else if reference.ends_with(".css") {
                assert!(
                    content_type.starts_with("text/css"),
                    "{reference}: {content_type}"
                );
            }
            assert_security_headers(&asset);
        }
    }
    // The bundles are whole: each ends with the code that starts its viewer (a vendoring
    // step once cut ReDoc's in half, and /redoc rendered nothing).
    let redoc_js = app.get("/docs/assets/redoc.standalone.js", None).await;
    assert!(redoc_js.text.len() > 1_000_000, "the whole ReDoc bundle");
    assert!(redoc_js.text.trim_end().ends_with("}()});"));
    assert!(redoc_js.text.contains("getAttribute(\"spec-url\")"));
    let swagger_js = app.get("/docs/assets/swagger-ui-bundle.js", None).await;
    assert!(swagger_js.text.contains("SwaggerUIBundle"));
    // Both viewers fetch the document from this origin (connect-src 'self').
    let init = app.get("/docs/assets/docs-init.js", None).await;
    assert!(init.text.contains("url: \"/openapi.json\""));
    let redoc = app.get("/redoc", None).await;
    assert!(redoc.text.contains("spec-url=\"/openapi.json\""));
    let document = app.get("/openapi.json", None).await;
    assert_eq!(document.status, 200);
    // The CSP grants what the viewers need and nothing remote.
    for needed in [
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "worker-src 'self' blob:",
    ] {
        assert!(CSP.contains(needed));
    }
    assert!(!CSP.contains("http"), "no remote source is allowed");
}

#[tokio::test]
async fn every_api_response_is_never_stored_and_tokens_above_all() {
    let app = app(&[]).await;
    let alice = app.user("alice").await;
    let login = TestApp::read(
        app.client
            .post(format!("{}/api/v1/login", app.base_url))
            .form(&[
                ("username", alice.email.as_str()),
                ("password", alice.password.as_str()),
            ]),
    )
    .await;
    let refresh = app
        .post(
            "/api/v1/auth/refresh",
            None,
            &json!({ "refresh_token": alice.refresh }),
        )
        .await;
    assert_eq!(refresh.status, 200);
    let alias = app
        .post(
            "/api/login",
            None,
            &json!({ "email": alice.email, "password": alice.password }),
        )
        .await;
    assert!(alias.body["access_token"].is_string());
    let others = [
        app.get("/api/v1/posts", Some(&alice.access)).await,
        app.get("/api/v1/users/me", None).await,
        app.get("/api/v1/nope", None).await,
    ];
    for res in [&login, &refresh, &alias].into_iter().chain(others.iter()) {
        assert_eq!(
            res.header("cache-control"),
            Some("no-store"),
            "{}",
            res.text
        );
        assert_eq!(res.header("pragma"), Some("no-cache"));
    }
    // Outside the API, the pages and assets keep their own caching.
    let asset = app.get("/docs/assets/swagger-ui.css", None).await;
    assert_eq!(asset.header("cache-control"), Some("public, max-age=86400"));
    assert!(app.get("/health", None).await.header("pragma").is_none());
}

async fn with_host(app: &TestApp, path: &str, host: &str) -> TestResponse {
    TestApp::read(
        app.client
            .get(format!("{}{path}", app.base_url))
            .header("host", host),
    )
    .await
}

#[tokio::test]
async fn hosts_outside_trusted_hosts_are_refused() {
    let app = app(&[("TRUSTED_HOSTS", "api.example.com, *.example.org, 127.0.0.1")]).await;
    for host in ["evil.test", "example.org", "api.example.com.evil.test"] {
        let res = with_host(&app, "/api/v1/posts", host).await;
        assert_problem(&res, 400, "invalid_host");
        assert_eq!(res.body["detail"], "Invalid host header");
        assert_eq!(res.body["instance"], "/api/v1/posts");
        assert_security_headers(&res);
    }
    for host in ["api.example.com", "API.example.com:8443", "eu.example.org"] {
        let res = with_host(&app, "/openapi.json", host).await;
        assert_eq!(res.status, 200, "{host}");
    }
    // Probes address pods by IP: the operational routes answer any host.
    assert_eq!(
        with_host(&app, "/health", "10.1.2.3:8000").await.status,
        200
    );
    assert_eq!(with_host(&app, "/ready", "10.1.2.3:8000").await.status, 200);
    // Outside production the default allows any host.
    let open = self::app(&[]).await;
    assert_eq!(
        with_host(&open, "/openapi.json", "anything.test")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn https_redirect_and_hsts_believe_forwarded_proto_only_from_trusted_proxies() {
    let settings = [
        ("SECURITY_HTTPS_REDIRECT", "true"),
        ("SECURITY_HSTS_ENABLED", "true"),
        ("SECURITY_HSTS_MAX_AGE_SECONDS", "600"),
        ("TRUST_PROXY_HEADERS", "true"),
    ];
    let app = app(&settings).await;
    let res = app.get("/api/v1/posts?limit=5", None).await;
    assert_eq!(res.status, 308);
    assert_eq!(
        res.header("location"),
        Some("https://127.0.0.1/api/v1/posts?limit=5")
    );
    assert!(
        res.header("strict-transport-security").is_none(),
        "not over plain HTTP"
    );
    // Probes are not redirected.
    assert_eq!(app.get("/health", None).await.status, 200);
    // Through the trusted proxy that terminated TLS: served, with HSTS.
    let forwarded = TestApp::read(
        app.client
            .get(format!("{}/api/v1/posts", app.base_url))
            .header("x-forwarded-proto", "https"),
    )
    .await;
    assert_problem(&forwarded, 401, "invalid_credentials");
    assert_eq!(
        forwarded.header("strict-transport-security"),
        Some("max-age=600; includeSubDomains")
    );
    // The same header from a peer that is not a trusted proxy is ignored.
    let mut untrusted = settings.to_vec();
    untrusted.push(("TRUSTED_PROXIES", "10.0.0.0/8"));
    let app = self::app(&untrusted).await;
    let spoofed = TestApp::read(
        app.client
            .get(format!("{}/api/v1/posts", app.base_url))
            .header("x-forwarded-proto", "https"),
    )
    .await;
    assert_eq!(spoofed.status, 308);
    assert!(spoofed.header("strict-transport-security").is_none());
}

async fn preflight(
    app: &TestApp,
    path: &str,
    origin: &str,
    method: &str,
    headers: &str,
) -> TestResponse {
    TestApp::read(
        app.client
            .request(Method::OPTIONS, format!("{}{path}", app.base_url))
            .header("origin", origin)
            .header("access-control-request-method", method)
            .header("access-control-request-headers", headers),
    )
    .await
}

fn assert_no_cors_headers(res: &TestResponse) {
    for name in [
        "access-control-allow-origin",
        "access-control-allow-methods",
        "access-control-allow-headers",
        "access-control-allow-credentials",
        "access-control-expose-headers",
    ] {
        assert!(res.header(name).is_none(), "unexpected {name}");
    }
}

#[tokio::test]
async fn cors_answers_allowed_preflights_and_refuses_the_others() {
    let app = app(&[(
        "CORS_ORIGINS",
        "http://localhost:3000,https://app.example.com",
    )])
    .await;
    let res = preflight(
        &app,
        "/api/v1/posts",
        "https://app.example.com",
        "POST",
        "authorization,content-type",
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(
        res.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    let methods = res.header("access-control-allow-methods").unwrap_or("");
    for method in ["GET", "POST", "PUT", "DELETE"] {
        assert!(methods.contains(method), "{methods}");
    }
    assert_eq!(
        res.header("access-control-allow-headers"),
        Some("authorization,content-type")
    );
    assert!(
        res.header("access-control-allow-credentials").is_none(),
        "no credentials"
    );
    assert_security_headers(&res);
    // The preflight is answered before routing and rate limiting.
    let res = preflight(&app, "/api/v1/login", "http://localhost:3000", "POST", "").await;
    assert_eq!(res.status, 200);

    let res = preflight(
        &app,
        "/api/v1/posts",
        "https://evil.test",
        "POST",
        "authorization",
    )
    .await;
    assert_problem(&res, 400, "cors_preflight_rejected");
    assert_eq!(res.body["detail"], "Disallowed CORS origin");
    assert_no_cors_headers(&res);
    let res = preflight(&app, "/api/v1/posts", "http://localhost:3000", "TRACE", "").await;
    assert_problem(&res, 400, "cors_preflight_rejected");
    assert_eq!(res.body["detail"], "Disallowed CORS method");
    assert_no_cors_headers(&res);
}

#[tokio::test]
async fn simple_requests_get_cors_headers_only_for_allowed_origins() {
    let app = app(&[]).await; // the default CORS_ORIGINS
    let from = |origin: &'static str| {
        app.client
            .get(format!("{}/api/v1/posts", app.base_url))
            .header("origin", origin)
    };
    let allowed = TestApp::read(from("http://127.0.0.1:8000")).await;
    assert_problem(&allowed, 401, "invalid_credentials");
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("http://127.0.0.1:8000")
    );
    let exposed = allowed
        .header("access-control-expose-headers")
        .unwrap_or("");
    for name in [
        "X-Request-Id",
        "X-RateLimit-Remaining",
        "Retry-After",
        "RateLimit",
    ] {
        assert!(exposed.contains(name), "{exposed}");
    }
    assert!(allowed.header("access-control-allow-credentials").is_none());
    // A disallowed origin is served normally, just without CORS headers.
    let other = TestApp::read(from("https://evil.test")).await;
    assert_problem(&other, 401, "invalid_credentials");
    assert_no_cors_headers(&other);
    let health = TestApp::read(
        app.client
            .get(format!("{}/health", app.base_url))
            .header("origin", "https://evil.test"),
    )
    .await;
    assert_eq!(health.status, 200);
    assert_no_cors_headers(&health);
}

#[tokio::test]
async fn bodies_over_max_body_bytes_are_413_problems_on_every_body_route() {
    let app = app(&[("MAX_BODY_BYTES", "512")]).await;
    let alice = app.user("alice").await;
    let big = "x".repeat(1024);
    for (path, token) in [
        ("/api/v1/users", None),
        ("/api/v1/login", None),
        ("/api/v1/auth/refresh", None),
        ("/api/v1/posts", Some(alice.access.as_str())),
        ("/api/v1/vote", Some(alice.access.as_str())),
    ] {
        let res = app
            .post(path, token, &json!({ "email": big, "title": big }))
            .await;
        assert_problem(&res, 413, "payload_too_large");
    }
    // Within the limit the login body still reaches the handler.
    let res = app
        .post(
            "/api/v1/login",
            None,
            &json!({ "email": alice.email, "password": alice.password }),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
}

fn api_binary(env: &[(&str, &str)]) -> std::process::Output {
    let dir = std::env::temp_dir();
    let mut command = Command::new(env!("CARGO_BIN_EXE_api"));
    command
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .arg("openapi");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("running api")
}

#[test]
fn the_binary_refuses_weak_production_settings_naming_them() {
    let strong = "s".repeat(48);
    for (env, variable) in [
        (vec![("SECRET_KEY", "changeme")], "SECRET_KEY"),
        (vec![], "SECRET_KEY"),
        (
            vec![("SECRET_KEY", strong.as_str()), ("TRUSTED_HOSTS", "*")],
            "TRUSTED_HOSTS",
        ),
        (
            vec![
                ("SECRET_KEY", strong.as_str()),
                ("RATE_LIMIT_FAIL_OPEN", "true"),
            ],
            "RATE_LIMIT_FAIL_OPEN",
        ),
    ] {
        let mut all = vec![("ENVIRONMENT", "production")];
        all.extend(env);
        let output = api_binary(&all);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{variable}: {stderr}");
        assert!(stderr.contains(variable), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(
            !stderr.contains("changeme"),
            "secrets are not echoed: {stderr}"
        );
    }
    let forced = api_binary(&[
        ("ENVIRONMENT", "production"),
        ("SECRET_KEY", strong.as_str()),
        ("RATE_LIMIT_FAIL_OPEN", "true"),
        ("RATE_LIMIT_FAIL_OPEN_FORCE", "true"),
    ]);
    assert!(
        forced.status.success(),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
    let bad_proxy = api_binary(&[("TRUSTED_PROXIES", "10.0.0.0/99")]);
    assert_eq!(bad_proxy.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_proxy.stderr).contains("TRUSTED_PROXIES"));
}
