//! The shipped Grafana dashboard and Prometheus alert rules (`deploy/observability/`) query only
//! metrics that the real `api` binary exports: start it, give it some traffic, scrape
//! `/metrics`, and compare with every metric those files name for the `keel-api` job.

use keel_testkit::deploy_metrics::{API_JOB, deployed_metrics_of, missing_from};
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_api");

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_of_the_dashboard_and_alerts_is_exported_by_the_api() {
    keel_bootstrap::install_crypto_provider();
    let expected = deployed_metrics_of(API_JOB);
    assert!(
        expected.contains("http_requests_total"),
        "the dashboard and rules name no api metric: {expected:?}"
    );

    let dir = std::env::temp_dir().join(format!("keel-metrics-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let _server = Server(
        Command::new(BIN)
            .current_dir(&dir)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", "sqlite://keel.db?mode=rwc")
            .env("PORT", port.to_string())
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawning api"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let url = |path: &str| format!("{base}{path}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(res) = client.get(url("/ready")).send().await
            && res.status() == 200
        {
            break;
        }
        assert!(Instant::now() < deadline, "api did not become ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Traffic that touches every family: 2xx/4xx requests, a login that succeeds and one that
    // fails, a rotation and a refused refresh, rate-limited routes, the database pool.
    let credentials = json!({ "email": "metrics@example.com", "password": "password1" });
    let created = client
        .post(url("/api/v1/users"))
        .json(&credentials)
        .send()
        .await
        .expect("register");
    assert_eq!(created.status(), 201);
    let wrong = client
        .post(url("/api/v1/login"))
        .form(&[
            ("username", "metrics@example.com"),
            ("password", "wrong-password"),
        ])
        .send()
        .await
        .expect("login");
    assert_eq!(wrong.status(), 403);
    let tokens: serde_json::Value = client
        .post(url("/api/v1/login"))
        .json(&credentials)
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("token");
    let refresh = tokens["refresh_token"].as_str().expect("refresh token");
    let rotated = client
        .post(url("/api/v1/auth/refresh"))
        .json(&json!({ "refresh_token": refresh }))
        .send()
        .await
        .expect("refresh");
    assert_eq!(rotated.status(), 200);
    let refused = client
        .post(url("/api/v1/auth/refresh"))
        .json(&json!({ "refresh_token": "not-a-token" }))
        .send()
        .await
        .expect("refresh");
    assert_eq!(refused.status(), 401);
    let access = tokens["access_token"].as_str().expect("access token");
    let posts = client
        .get(url("/api/v1/posts"))
        .bearer_auth(access)
        .send()
        .await
        .expect("posts");
    assert_eq!(posts.status(), 200);
    let unknown = client
        .get(url("/api/v1/no-such-route"))
        .send()
        .await
        .expect("404");
    assert_eq!(unknown.status(), 404);

    let scrape = client.get(url("/metrics")).send().await.expect("scrape");
    assert_eq!(scrape.status(), 200, "GET /metrics");
    let exposition = scrape.text().await.expect("metrics text");
    let missing = missing_from(API_JOB, &exposition);
    assert!(
        missing.is_empty(),
        "deploy/observability queries metrics the api does not export: {missing:?}\n\
         --- /metrics ---\n{exposition}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
