//! A local stand-in for everything keel's binaries send telemetry and events to, for tests that
//! run them: an OTLP/HTTP trace collector (`POST /v1/traces`), Sentry's envelope endpoint
//! (`POST /api/{project}/envelope/`) and a webhook receiver (any other `POST`, answered 204).
//! It records what arrives so tests can assert on spans, reports and headers.

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message;
use std::sync::{Arc, Mutex};

/// An exported span, as decoded from OTLP.
pub use opentelemetry_proto::tonic::trace::v1::Span;

/// A `POST` other than a trace export or a Sentry envelope: its path and its headers (lower-case
/// names).
type Post = (String, Vec<(String, String)>);

/// What arrived, shared between the server's workers and the test.
#[derive(Clone, Default)]
struct Received {
    traces: Arc<Mutex<Vec<Vec<u8>>>>,
    envelopes: Arc<Mutex<Vec<String>>>,
    posts: Arc<Mutex<Vec<Post>>>,
}

/// A running collector on `127.0.0.1` (stopped with the test's runtime).
pub struct Collector {
    base: String,
    received: Received,
}

impl Collector {
    /// Starts the collector on a free port.
    ///
    /// # Panics
    /// When no port can be bound.
    pub async fn start() -> Collector {
        let received = Received::default();
        let state = received.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::PayloadConfig::new(16 * 1024 * 1024))
                .app_data(web::Data::new(state.clone()))
                .route("/v1/traces", web::post().to(traces))
                .route("/api/{project}/envelope/", web::post().to(envelope))
                .default_service(web::post().to(other_post))
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))
        .expect("bind the collector");
        let base = format!("http://{}", server.addrs()[0]);
        tokio::spawn(server.run());
        Collector { base, received }
    }

    /// `http://127.0.0.1:{port}`: the value for `OTEL_EXPORTER_OTLP_ENDPOINT`, and the base of
    /// webhook URLs and of a Sentry DSN (`http://public@127.0.0.1:{port}/1`).
    #[must_use]
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Every exported span so far, with the `service.name` of its resource.
    ///
    /// # Panics
    /// When an export is not a valid OTLP protobuf request.
    #[must_use]
    pub fn spans(&self) -> Vec<(String, Span)> {
        let mut spans = Vec::new();
        for body in self.received.traces.lock().expect("lock").iter() {
            let request = ExportTraceServiceRequest::decode(body.as_slice()).expect("protobuf");
            for resource in request.resource_spans {
                let service = resource
                    .resource
                    .iter()
                    .flat_map(|r| r.attributes.iter())
                    .find(|kv| kv.key == "service.name")
                    .and_then(|kv| kv.value.as_ref()?.value.as_ref())
                    .map(|v| match v {
                        AnyValue::StringValue(s) => s.clone(),
                        other => format!("{other:?}"),
                    })
                    .unwrap_or_default();
                for scope in resource.scope_spans {
                    spans.extend(scope.spans.into_iter().map(|s| (service.clone(), s)));
                }
            }
        }
        spans
    }

    /// The Sentry envelopes received so far, as text.
    #[must_use]
    pub fn envelopes(&self) -> Vec<String> {
        self.received.envelopes.lock().expect("lock").clone()
    }

    /// The values of header `name` on every other `POST` to `path` so far, in arrival order.
    #[must_use]
    pub fn header_values(&self, path: &str, name: &str) -> Vec<String> {
        let name = name.to_ascii_lowercase();
        self.received
            .posts
            .lock()
            .expect("lock")
            .iter()
            .filter(|(p, _)| p == path)
            .flat_map(|(_, headers)| headers.iter().filter(|(n, _)| *n == name))
            .map(|(_, v)| v.clone())
            .collect()
    }
}

/// Lower-case hex of a trace or span id, as in a `traceparent` header.
#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn traces(state: web::Data<Received>, body: web::Bytes) -> HttpResponse {
    state.traces.lock().expect("lock").push(body.to_vec());
    HttpResponse::Ok().finish()
}

async fn envelope(state: web::Data<Received>, body: web::Bytes) -> HttpResponse {
    let text = String::from_utf8_lossy(&body).into_owned();
    state.envelopes.lock().expect("lock").push(text);
    HttpResponse::Ok().json(serde_json::json!({}))
}

async fn other_post(state: web::Data<Received>, req: HttpRequest) -> HttpResponse {
    let headers = req
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    state
        .posts
        .lock()
        .expect("lock")
        .push((req.path().to_owned(), headers));
    HttpResponse::NoContent().finish()
}
