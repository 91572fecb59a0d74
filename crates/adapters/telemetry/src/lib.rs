//! # keel-telemetry
//!
//! Telemetry for keel's processes:
//! - metrics: a Prometheus [`Metrics`] registry that renders the text exposition format for
//!   `/metrics`, with process metrics ([`Metrics::with_process_metrics`]) and the families each
//!   process registers in it — [`HttpMetrics`] for `api`, [`OutboxMetrics`] for the worker;
//! - traces: the OTLP/HTTP pipeline ([`Tracing`]) and W3C trace-context helpers
//!   ([`traces`]);
//! - errors: Sentry reporting of server errors and panics without PII ([`errors`]);
//! - the `log` outbox sink ([`LogSink`]), which writes each event to the process log.
//!
//! Families are registered once per registry (never in a global default registry), so tests
//! and embedders can run several side by side. Metric names follow Prometheus conventions:
//! base units (seconds), `_total` for counters, low-cardinality labels only (never ids,
//! e-mails or URLs).
#![forbid(unsafe_code)]

pub mod errors;
mod event_log;
mod http;
mod outbox;
mod registry;
pub mod traces;

pub use event_log::LogSink;

pub use errors::{ErrorReporting, ErrorReportingSettings, ServerError, report_server_error};
pub use http::{
    HttpMetrics, LoginOutcome, RateLimitDecision, RefreshOutcome, method_label, status_class,
};
pub use outbox::{DeliveryResult, OutboxMetrics};
pub use registry::{Metrics, MetricsError};
pub use traces::{Tracing, TracingError};
