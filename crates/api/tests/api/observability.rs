//! Observability (docs/ARCHITECTURE.md, "Observability"): `/metrics` after a scripted request mix (in-process), and — with the
//! real `api` binary, so the production wiring is what is tested — OTLP/HTTP trace export
//! (span names, parent/child links, the caller's `traceparent`, service name, flush on
//! SIGTERM), Sentry reports of a forced 500 (once, without PII) and the JSON request log
//! (request id round trip, no passwords or tokens), against one local receiver.

use keel_testkit::app::TestApp;
use keel_testkit::collector::{Collector, Span, hex};
use keel_testkit::db::TestDb;
use sea_orm::ConnectionTrait;
use serde_json::json;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_a_scripted_request_mix() {
    let app = TestApp::spawn_with(
        TestDb::sqlite().await,
        &[
            ("METRICS_ENABLED", "true"),
            ("RATE_LIMIT_READ_LIMIT", "3"),
            ("REFRESH_TOKEN_REUSE_GRACE_SECONDS", "0"),
        ],
    )
    .await;
    let user = app.user("metrics").await; // register 201 + login success
    let wrong = app
        .client
        .post(format!("{}/api/v1/login", app.base_url))
        .form(&[("username", user.email.as_str()), ("password", "wrong")]);
    assert_eq!(TestApp::read(wrong).await.status, 403);
    // Read budget 3: two 404s on a templated route, one list, then 429 (before the reuse
    // below ends the session, and with it the access token).
    let token = Some(user.access.as_str());
    assert_eq!(app.get("/api/v1/posts/41", token).await.status, 404);
    assert_eq!(app.get("/api/posts/42", token).await.status, 404);
    assert_eq!(app.get("/api/v1/posts", token).await.status, 200);
    assert_eq!(app.get("/api/v1/posts", token).await.status, 429);
    let refresh = json!({ "refresh_token": user.refresh });
    assert_eq!(
        app.post("/api/v1/auth/refresh", None, &refresh)
            .await
            .status,
        200
    );
    // The rotated token again, past the (zero) grace window: reuse detected.
    assert_eq!(
        app.post("/api/v1/auth/refresh", None, &refresh)
            .await
            .status,
        401
    );
    assert_eq!(app.get("/no/such/path/123", None).await.status, 404);

    // The pool takes a connection back in a task of its own after the request that used it has
    // answered (sqlx resets it first), so under load `in_use` may lag for a moment: wait for it
    // to settle at 0 — a connection that never comes back still fails below.
    let mut res = app.get("/metrics", None).await;
    for _ in 0..50 {
        if res
            .text
            .contains(r#"db_pool_connections{state="in_use"} 0"#)
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        res = app.get("/metrics", None).await;
    }
    assert_eq!(res.status, 200);
    assert!(
        res.header("content-type")
            .is_some_and(|t| t.starts_with("text/plain; version=0.0.4"))
    );
    let text = &res.text;
    for line in [
        r#"http_requests_total{method="POST",route="/api/v1/users",status="2xx"} 1"#,
        r#"http_requests_total{method="POST",route="/api/v1/login",status="2xx"} 1"#,
        r#"http_requests_total{method="POST",route="/api/v1/login",status="4xx"} 1"#,
        r#"http_requests_total{method="POST",route="/api/v1/auth/refresh",status="2xx"} 1"#,
        r#"http_requests_total{method="POST",route="/api/v1/auth/refresh",status="4xx"} 1"#,
        // The alias path is counted under its canonical route template.
        r#"http_requests_total{method="GET",route="/api/v1/posts/{id}",status="4xx"} 2"#,
        r#"http_requests_total{method="GET",route="/api/v1/posts",status="2xx"} 1"#,
        r#"http_requests_total{method="GET",route="/api/v1/posts",status="4xx"} 1"#,
        r#"http_requests_total{method="GET",route="<unmatched>",status="4xx"} 1"#,
        r#"http_request_duration_seconds_count{method="GET",route="/api/v1/posts",status="2xx"} 1"#,
        r#"auth_logins_total{outcome="success"} 1"#,
        r#"auth_logins_total{outcome="invalid_credentials"} 1"#,
        r#"auth_refreshes_total{outcome="rotated"} 1"#,
        r#"auth_refreshes_total{outcome="reuse_detected"} 1"#,
        r#"auth_refreshes_total{outcome="refused"} 0"#,
        r#"rate_limit_decisions_total{decision="allowed",policy="api_read"} 3"#,
        r#"rate_limit_decisions_total{decision="limited",policy="api_read"} 1"#,
        r#"rate_limit_decisions_total{decision="allowed",policy="auth_login"} 4"#,
        r#"rate_limit_decisions_total{decision="allowed",policy="auth_register"} 1"#,
        r#"db_pool_connections{state="in_use"} 0"#,
        "db_pool_max_connections ",
        "process_resident_memory_bytes ",
        "process_cpu_seconds_total ",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    assert!(
        !text.contains("/no/such/path") && !text.contains("/posts/41"),
        "raw paths leaked into labels:\n{text}"
    );
}

#[tokio::test]
async fn metrics_are_a_404_problem_when_disabled() {
    let app = TestApp::spawn_with(TestDb::sqlite().await, &[("METRICS_ENABLED", "false")]).await;
    crate::assert_problem(&app.get("/metrics", None).await, 404, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_exports_traces_reports_a_500_once_and_logs_without_secrets() {
    keel_bootstrap::install_crypto_provider();
    let received = Collector::start().await;
    let receiver = received.base().to_owned();
    let db = TestDb::sqlite().await;
    let dir = std::env::temp_dir().join(format!("keel-obs-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let log_path = dir.join("api.log");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_api"))
        .current_dir(&dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", db.url())
        .env("PORT", port.to_string())
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver)
        .env(
            "SENTRY_DSN",
            format!("{}/1", receiver.replace("http://", "http://public@")),
        )
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).expect("log file"))
        .spawn()
        .expect("spawning api");
    let base = format!("http://127.0.0.1:{port}");
    let url = |path: &str| format!("{base}{path}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !matches!(client.get(url("/ready")).send().await, Ok(r) if r.status() == 200) {
        assert!(Instant::now() < deadline, "api did not become ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Probes and scrapes: served, but no INFO line each.
    for probe in ["/health", "/ready", "/metrics"] {
        let res = client
            .get(url(probe))
            .header(
                "x-request-id",
                format!("obs-probe{}", probe.replace('/', "-")),
            )
            .send()
            .await
            .expect("probe");
        assert!(res.status().is_success(), "{probe}: {}", res.status());
    }

    let email = "observed@example.com";
    let password = "correct-horse-battery-staple";
    let res = client
        .post(url("/api/v1/users"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .expect("register");
    assert_eq!(res.status(), 201);
    let tokens: serde_json::Value = client
        .post(url("/api/v1/login"))
        .form(&[("username", email), ("password", password)])
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("token");
    let access = tokens["access_token"].as_str().expect("access").to_owned();
    let refresh = tokens["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();

    // A traced call: the caller's trace continues in the server span.
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent_id = "00f067aa0ba902b7";
    let res = client
        .get(url("/api/v1/posts"))
        .bearer_auth(&access)
        .header("traceparent", format!("00-{trace_id}-{parent_id}-01"))
        .header("x-request-id", "obs-traced-1")
        .send()
        .await
        .expect("list");
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("obs-traced-1")
    );

    // A forced 500: the posts table disappears under the running server.
    db.connection()
        .execute_unprepared("ALTER TABLE posts RENAME TO posts_gone")
        .await
        .expect("rename");
    let res = client
        .get(url("/api/v1/posts"))
        .bearer_auth(&access)
        .header("x-request-id", "obs-boom-1")
        .send()
        .await
        .expect("boom");
    assert_eq!(res.status(), 500);
    let problem: serde_json::Value = res.json().await.expect("problem");
    assert_eq!(problem["trace_id"], "obs-boom-1");

    // SIGTERM: the server drains and flushes spans and error reports before exiting.
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "api did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "api exited with {status}");

    // Traces: names, links, the caller's trace id, the service name.
    let spans = received.spans();
    let names: Vec<&str> = spans.iter().map(|(_, s)| s.name.as_str()).collect();
    let server = spans
        .iter()
        .map(|(service, span)| (service, span))
        .find(|(_, s)| s.name == "GET /api/v1/posts" && hex(&s.trace_id) == trace_id)
        .unwrap_or_else(|| panic!("no server span in the caller's trace: {names:?}"));
    assert_eq!(server.0, "keel-api");
    assert_eq!(hex(&server.1.parent_span_id), parent_id);
    let child_of = |parent: &Span, name: &str| -> Span {
        spans
            .iter()
            .map(|(_, s)| s)
            .find(|s| s.name == name && s.parent_span_id == parent.span_id)
            .unwrap_or_else(|| panic!("no {name} under {}: {names:?}", parent.name))
            .clone()
    };
    let authenticate = child_of(server.1, "use_case.authenticate");
    child_of(&authenticate, "db.users.find_in_live_session");
    let list = child_of(server.1, "use_case.list_posts");
    let query = child_of(&list, "db.posts.list");
    assert_eq!(hex(&query.trace_id), trace_id);
    assert!(
        names.contains(&"POST /api/v1/login") && names.contains(&"use_case.login"),
        "{names:?}"
    );
    // Probes and scrapes (the readiness polling above included) are not traced at INFO.
    let probe_spans: Vec<&&str> = names
        .iter()
        .filter(|n| ["GET /health", "GET /ready", "GET /metrics"].contains(n))
        .collect();
    assert!(probe_spans.is_empty(), "probe spans exported: {names:?}");

    // Sentry: the 500 once, with its request id, without personal data or secrets.
    let envelopes = received.envelopes();
    let reports: Vec<&String> = envelopes
        .iter()
        .filter(|e| e.contains("obs-boom-1"))
        .collect();
    assert_eq!(reports.len(), 1, "{envelopes:#?}");
    let report = reports[0];
    assert!(report.contains("/api/v1/posts") && report.contains("500"));
    for envelope in &envelopes {
        for secret in [email, password, &access, &refresh] {
            assert!(
                !envelope.contains(secret),
                "PII in a Sentry report: {envelope}"
            );
        }
        let lower = envelope.to_ascii_lowercase();
        assert!(!lower.contains("authorization") && !lower.contains("bearer"));
    }

    // Logs: JSON lines; the request id round trip; no password or token anywhere.
    let log = std::fs::read_to_string(&log_path).expect("log");
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    let served = lines
        .iter()
        .find(|l| l["request_id"] == "obs-traced-1" && l["message"] == "request served")
        .unwrap_or_else(|| panic!("no request line for obs-traced-1:\n{log}"));
    assert_eq!(served["route"], "/api/v1/posts");
    assert_eq!(served["method"], "GET");
    assert_eq!(served["status"], 200);
    assert!(served["latency_ms"].is_number() && served["user_id"].is_number());
    assert!(
        lines
            .iter()
            .any(|l| l["route"] == "/api/v1/login" && l["status"] == 200)
    );
    // Probes are not logged at INFO (the readiness polling above included), API requests are.
    let probe_lines: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| {
            l["message"] == "request served"
                && ["/health", "/ready", "/metrics"].contains(&l["route"].as_str().unwrap_or(""))
        })
        .collect();
    assert!(
        probe_lines.is_empty(),
        "probe request lines: {probe_lines:#?}"
    );
    assert!(
        !log.contains("obs-probe-"),
        "a probe's request id reached the log:\n{log}"
    );
    assert_eq!(served["level"], "INFO", "{served}");
    for secret in [password, &access, &refresh] {
        assert!(!log.contains(secret), "a secret reached the log:\n{log}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Needs PostgreSQL (`TEST_DATABASE_URL`); left out, counted as skipped, when it is not configured.
mod postgres {
    use super::*;

    /// On PostgreSQL each server worker has a pool of its own; the pool gauges sum them, and the
    /// process stays within `DATABASE_MAX_CONNECTIONS`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pool_gauges_sum_the_worker_pools_within_the_configured_total() {
        let db = TestDb::postgres().await;
        let app = TestApp::spawn_with(
            db,
            &[
                ("METRICS_ENABLED", "true"),
                ("DATABASE_MAX_CONNECTIONS", "5"),
            ],
        )
        .await;
        let user = app.user("pools").await;
        // Enough concurrent reads that both workers open connections.
        let reads = (0..40).map(|_| app.get("/api/v1/posts", Some(&user.access)));
        for res in futures::future::join_all(reads).await {
            assert_eq!(res.status, 200);
        }
        let text = app.get("/metrics", None).await.text;
        assert!(
            text.contains("db_pool_max_connections 5\n"),
            "the worker pools should sum to 5:\n{text}"
        );
        let open: f64 = ["in_use", "idle"]
            .iter()
            .map(|state| {
                let prefix = format!("db_pool_connections{{state=\"{state}\"}} ");
                text.lines()
                    .find_map(|l| l.strip_prefix(prefix.as_str()))
                    .and_then(|v| v.trim().parse::<f64>().ok())
                    .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
            })
            .sum();
        assert!(
            (1.0..=5.0).contains(&open),
            "{open} connections open, want 1..=5"
        );
    }
}
