//! The worker's observability: `/ready` turns 503 as soon as shutdown begins (in-process), and
//! the real binary exports its delivery spans over OTLP/HTTP as `keel-worker`, continuing the
//! trace in the webhook call (W3C `traceparent`) and flushing on SIGTERM.

use crate::harness::{BIN, seed};
use keel_bootstrap::{Config, Env};
use keel_testkit::collector::{Collector, hex};
use keel_testkit::db::TestDb;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_turns_503_as_soon_as_shutdown_begins() {
    keel_bootstrap::install_crypto_provider();
    let db = TestDb::sqlite().await;
    let config = Config::from_env(&Env::from_pairs([
        ("DATABASE_URL".to_owned(), db.url().to_owned()),
        ("WORKER_PORT".to_owned(), "0".to_owned()),
        ("ENVIRONMENT".to_owned(), "test".to_owned()),
        ("RUST_LOG".to_owned(), "warn".to_owned()),
    ]))
    .expect("config");
    let running = keel_bootstrap::worker::start(&config).await.expect("start");
    let url = format!("http://{}/ready", running.addr);
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while client
        .get(&url)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .ok()
        != Some(200)
    {
        assert!(Instant::now() < deadline, "the worker did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    running.begin_shutdown();
    let res = client.get(&url).send().await.expect("ready");
    assert_eq!(res.status(), 503);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_traced_and_the_trace_continues_in_the_webhook_call() {
    keel_bootstrap::install_crypto_provider();
    let seen = Collector::start().await;
    let base = seen.base().to_owned();

    let db = TestDb::sqlite().await;
    seed(&db, 1, "post.created").await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut child = Command::new(BIN)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", db.url())
        .env("WORKER_PORT", port.to_string())
        .env("OUTBOX_SINKS", "webhook")
        .env("OUTBOX_WEBHOOK_URL", format!("{base}/hooks"))
        .env("OUTBOX_WEBHOOK_SECRET", "any-secret")
        .env("OUTBOX_DISPATCH_INTERVAL_SECONDS", "1")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &base)
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawning worker");
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.header_values("/hooks", "traceparent").is_empty() {
        assert!(Instant::now() < deadline, "no delivery reached the webhook");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "the worker did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "worker exited with {status}");

    let spans: Vec<_> = seen
        .spans()
        .into_iter()
        .map(|(service, span)| {
            assert_eq!(service, "keel-worker");
            span
        })
        .collect();
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    let delivery = spans
        .iter()
        .find(|s| s.name == "use_case.deliver_outbox_event")
        .unwrap_or_else(|| panic!("no delivery span: {names:?}"));
    let call = spans
        .iter()
        .find(|s| s.name == "webhook.deliver" && s.parent_span_id == delivery.span_id)
        .unwrap_or_else(|| panic!("no webhook span under the delivery: {names:?}"));
    let traceparent = seen.header_values("/hooks", "traceparent")[0].clone();
    assert_eq!(
        traceparent,
        format!("00-{}-{}-01", hex(&call.trace_id), hex(&call.span_id)),
        "the webhook call carries the delivery's trace"
    );
}
