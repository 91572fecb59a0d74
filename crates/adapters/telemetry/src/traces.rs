//! Distributed tracing: an OpenTelemetry pipeline that exports the process's `tracing` spans
//! over OTLP/HTTP (protobuf) to `OTEL_EXPORTER_OTLP_ENDPOINT`, and W3C trace-context helpers
//! for inbound (`traceparent` → parent context) and outbound (current span → `traceparent`)
//! calls.
//!
//! Spans are batched on the SDK's own thread and sent with a blocking HTTP client, so export
//! never runs on, or blocks, the async executor. [`Tracing::shutdown`] flushes what is left.

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

/// The exporter could not be built from the endpoint.
#[derive(Debug, thiserror::Error)]
#[error("OTLP exporter: {0}")]
pub struct TracingError(String);

/// The process's tracer provider; [`Tracing::shutdown`] flushes the spans still batched.
#[derive(Debug, Clone)]
pub struct Tracing {
    provider: SdkTracerProvider,
}

impl Tracing {
    /// Builds the OTLP/HTTP pipeline for `service_name`, exporting to `{endpoint}/v1/traces`,
    /// and installs the W3C trace-context propagator process-wide.
    ///
    /// # Errors
    /// [`TracingError`] when the exporter cannot be built (e.g. an unusable URL).
    pub fn otlp(endpoint: &str, service_name: &str) -> Result<Self, TracingError> {
        let url = format!("{}/v1/traces", endpoint.trim_end_matches('/'));
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(url)
            .build()
            .map_err(|e| TracingError(e.to_string()))?;
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(
                Resource::builder()
                    .with_service_name(service_name.to_owned())
                    .build(),
            )
            .build();
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        Ok(Self { provider })
    }

    /// The `tracing` layer that turns spans into OpenTelemetry spans of this pipeline.
    pub fn layer<S>(&self) -> impl Layer<S> + use<S>
    where
        S: tracing::Subscriber + for<'span> LookupSpan<'span>,
    {
        tracing_opentelemetry::layer()
            .with_tracer(self.provider.tracer("keel"))
            .with_tracked_inactivity(false)
            .with_threads(false)
    }

    /// Exports the spans still batched and stops the pipeline (blocking; call it off the
    /// executor or at exit).
    pub fn shutdown(&self) {
        if let Err(error) = self.provider.shutdown() {
            eprintln!("flushing traces failed: {error}");
        }
    }
}

/// Makes the W3C `traceparent` (and `tracestate`) of a caller the parent of `span`. Without
/// a valid `traceparent` the span starts a new trace. A no-op when no pipeline is installed.
pub fn set_remote_parent(
    span: &tracing::Span,
    traceparent: Option<&str>,
    tracestate: Option<&str>,
) {
    let Some(traceparent) = traceparent else {
        return;
    };
    let carrier = TraceHeaders {
        traceparent,
        tracestate,
    };
    let context = TraceContextPropagator::new().extract(&carrier);
    if context.span().span_context().is_valid() {
        let _ = span.set_parent(context);
    }
}

struct TraceHeaders<'a> {
    traceparent: &'a str,
    tracestate: Option<&'a str>,
}

impl Extractor for TraceHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            "traceparent" => Some(self.traceparent),
            "tracestate" => self.tracestate,
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        vec!["traceparent", "tracestate"]
    }
}

#[derive(Default)]
struct Collected(Vec<(String, String)>);

impl Injector for Collected {
    fn set(&mut self, key: &str, value: String) {
        self.0.push((key.to_owned(), value));
    }
}

/// The W3C trace-context headers (`traceparent`, and `tracestate` when set) that continue
/// the current span's trace in an outbound call; empty when no trace is being recorded.
#[must_use]
pub fn outbound_headers() -> Vec<(String, String)> {
    let context = tracing::Span::current().context();
    if !context.span().span_context().is_valid() {
        return Vec::new();
    }
    let mut headers = Collected::default();
    TraceContextPropagator::new().inject_context(&context, &mut headers);
    headers.0
}

/// The current span's trace id (32 hex digits), when a trace is being recorded.
#[must_use]
pub fn current_trace_id() -> Option<String> {
    let context = tracing::Span::current().context();
    let span = context.span();
    let span_context = span.span_context();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}
