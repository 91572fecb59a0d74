//! The worker's observability: `/ready` turns 503 as soon as shutdown begins (in-process), and
//! the real binary exports its delivery spans over OTLP/HTTP as `keel-worker`, continuing the
//! trace in the webhook call (W3C `traceparent`) and flushing on SIGTERM.

use crate::harness::{BIN, seed};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use keel_bootstrap::{Config, Env};
use keel_testkit::db::TestDb;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
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

#[derive(Clone, Default)]
struct Seen {
    traces: Arc<Mutex<Vec<Vec<u8>>>>,
    traceparents: Arc<Mutex<Vec<String>>>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_traced_and_the_trace_continues_in_the_webhook_call() {
    keel_bootstrap::install_crypto_provider();
    let seen = Seen::default();
    let state = seen.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(state.clone()))
            .route(
                "/v1/traces",
                web::post().to(|state: web::Data<Seen>, body: web::Bytes| async move {
                    state.traces.lock().expect("lock").push(body.to_vec());
                    HttpResponse::Ok().finish()
                }),
            )
            .route(
                "/hooks",
                web::post().to(|state: web::Data<Seen>, req: HttpRequest| async move {
                    if let Some(value) = req.headers().get("traceparent") {
                        let value = value.to_str().unwrap_or_default().to_owned();
                        state.traceparents.lock().expect("lock").push(value);
                    }
                    HttpResponse::NoContent().finish()
                }),
            )
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .expect("bind");
    let base = format!("http://{}", server.addrs()[0]);
    tokio::spawn(server.run());

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
    while seen.traceparents.lock().expect("lock").is_empty() {
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

    let mut spans = Vec::new();
    for body in seen.traces.lock().expect("lock").iter() {
        let request = ExportTraceServiceRequest::decode(body.as_slice()).expect("protobuf");
        for resource in request.resource_spans {
            let service = resource
                .resource
                .iter()
                .flat_map(|r| r.attributes.iter())
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| kv.value.as_ref()?.value.as_ref())
                .and_then(|v| match v {
                    AnyValue::StringValue(s) => Some(s.clone()),
                    _ => None,
                });
            assert_eq!(service.as_deref(), Some("keel-worker"));
            spans.extend(resource.scope_spans.into_iter().flat_map(|s| s.spans));
        }
    }
    let hex = |bytes: &[u8]| -> String { bytes.iter().map(|b| format!("{b:02x}")).collect() };
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    let delivery = spans
        .iter()
        .find(|s| s.name == "use_case.deliver_outbox_event")
        .unwrap_or_else(|| panic!("no delivery span: {names:?}"));
    let call = spans
        .iter()
        .find(|s| s.name == "webhook.deliver" && s.parent_span_id == delivery.span_id)
        .unwrap_or_else(|| panic!("no webhook span under the delivery: {names:?}"));
    let traceparent = seen.traceparents.lock().expect("lock")[0].clone();
    assert_eq!(
        traceparent,
        format!("00-{}-{}-01", hex(&call.trace_id), hex(&call.span_id)),
        "the webhook call carries the delivery's trace"
    );
}
