//! # keel-telemetry
//!
//! Telemetry for keel's processes: a Prometheus [`Metrics`] registry that renders the text
//! exposition format for `/metrics`, and the metric families each process registers in it —
//! [`OutboxMetrics`] for the outbox worker — and the `log` outbox sink ([`LogSink`]), which
//! writes each event to the process log. Families are registered once per registry (never
//! in a global default registry), so tests and embedders can run several side by side.
//!
//! Metric names follow Prometheus conventions: base units (seconds), `_total` for counters,
//! low-cardinality labels only (never ids, e-mails or URLs).
#![forbid(unsafe_code)]

mod event_log;
mod outbox;
mod registry;

pub use event_log::LogSink;

pub use outbox::{DeliveryResult, OutboxMetrics};
pub use registry::{Metrics, MetricsError};
