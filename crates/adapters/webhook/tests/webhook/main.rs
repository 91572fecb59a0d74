//! The webhook sink against a real local HTTP receiver that checks the signature the way the
//! documented recipe does.

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use keel_domain::Timestamp;
use keel_domain::outbox::{EventId, EventKey, OutboxEvent};
use keel_ports::{DeliveryError, EventSink};
use keel_webhook::{Signer, WebhookSink};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

const SECRET: &[u8] = b"webhook-test-secret";

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
struct Received {
    topic: String,
    idempotency_key: String,
    signature_valid: bool,
    body: serde_json::Value,
}

#[derive(Clone)]
struct Receiver {
    seen: Arc<Mutex<Vec<Received>>>,
    status: u16,
    delay: Duration,
}

async fn hook(state: web::Data<Receiver>, request: HttpRequest, body: web::Bytes) -> HttpResponse {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let signature_valid = Signer::new(SECRET)
        .expect("key")
        .verify(&body, &header("X-Keel-Signature"));
    state.seen.lock().expect("lock").push(Received {
        topic: header("X-Keel-Event"),
        idempotency_key: header("Idempotency-Key"),
        signature_valid,
        body: serde_json::from_slice(&body).unwrap_or_default(),
    });
    tokio::time::sleep(state.delay).await;
    if !signature_valid {
        return HttpResponse::Unauthorized().body("bad signature");
    }
    HttpResponse::build(actix_web::http::StatusCode::from_u16(state.status).expect("status"))
        .body("receiver says no")
}

/// Starts a receiver answering `status` after `delay`; returns its URL and what it saw.
async fn receiver(status: u16, delay: Duration) -> (String, Arc<Mutex<Vec<Received>>>) {
    let state = Receiver {
        seen: Arc::default(),
        status,
        delay,
    };
    let seen = state.seen.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(state.clone()))
            .route("/hooks", web::post().to(hook))
    })
    .workers(1)
    .disable_signals()
    .bind(("127.0.0.1", 0))
    .expect("bind");
    let addr = server.addrs()[0];
    tokio::spawn(server.run());
    (format!("http://{addr}/hooks"), seen)
}

fn event() -> OutboxEvent {
    OutboxEvent {
        id: EventId::new(42),
        key: EventKey::new(Uuid::from_u128(0x1b4e_28ba_2fa1_11d2_883f_0016_d3cc_a427)),
        topic: "post.created".to_owned(),
        payload: r#"{"post_id":7,"owner_id":3}"#.to_owned(),
        attempts: 0,
        created_at: Timestamp::from_unix_seconds(1_800_000_000).expect("valid"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_is_a_signed_json_post_with_the_event_headers() {
    let (url, seen) = receiver(204, Duration::ZERO).await;
    let sink = WebhookSink::new(&url, SECRET, Duration::from_secs(5)).expect("sink");
    sink.deliver(&event()).await.expect("delivered");
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 1);
    let request = &seen[0];
    assert!(
        request.signature_valid,
        "the receiver verified the signature"
    );
    assert_eq!(request.topic, "post.created");
    assert_eq!(
        request.idempotency_key,
        "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
    );
    assert_eq!(
        request.body,
        serde_json::json!({
            "id": 42,
            "event_key": "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
            "topic": "post.created",
            "payload": { "post_id": 7, "owner_id": 3 },
            "created_at": "2027-01-15T08:00:00.000000Z",
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_or_a_non_2xx_answer_is_a_refusal() {
    let (url, _) = receiver(200, Duration::ZERO).await;
    let forged = WebhookSink::new(&url, b"not-the-secret", Duration::from_secs(5)).expect("sink");
    let err = forged.deliver(&event()).await.expect_err("401");
    assert!(
        matches!(&err, DeliveryError::Rejected(text) if text.starts_with("HTTP 401") && text.contains("bad signature")),
        "{err}"
    );

    let (url, _) = receiver(503, Duration::ZERO).await;
    let sink = WebhookSink::new(&url, SECRET, Duration::from_secs(5)).expect("sink");
    let err = sink.deliver(&event()).await.expect_err("503");
    assert!(
        matches!(&err, DeliveryError::Rejected(text) if text.starts_with("HTTP 503")),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_or_absent_receiver_is_unavailable() {
    let (url, seen) = receiver(200, Duration::from_secs(3)).await;
    let sink = WebhookSink::new(&url, SECRET, Duration::from_millis(300)).expect("sink");
    let started = std::time::Instant::now();
    let err = sink.deliver(&event()).await.expect_err("timeout");
    assert!(matches!(err, DeliveryError::Unavailable(_)), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the timeout bounds the attempt"
    );
    assert_eq!(seen.lock().expect("lock").len(), 1);

    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let sink = WebhookSink::new(
        &format!("http://127.0.0.1:{port}/hooks"),
        SECRET,
        Duration::from_secs(1),
    )
    .expect("sink");
    assert!(matches!(
        sink.deliver(&event()).await,
        Err(DeliveryError::Unavailable(_))
    ));
}
