//! Process-wide telemetry set-up: the log subscriber (JSON lines, or pretty on a terminal in
//! development, filtered by `RUST_LOG`), OpenTelemetry trace export over OTLP/HTTP when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set, and Sentry error reporting when `SENTRY_DSN` is set.
//!
//! The binaries call [`init_process`] and keep the returned [`TelemetryGuard`] until they exit:
//! [`TelemetryGuard::shutdown`] flushes the batched spans and the Sentry queue. [`init`] installs
//! the log subscriber alone (tests spawn many apps in one process; the first one wins).

use crate::Config;
use crate::config::{LogFormat, ObservabilityConfig};
use anyhow::Context;
use keel_telemetry::{ErrorReporting, ErrorReportingSettings, Tracing};
use secrecy::ExposeSecret;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The service name of the `api` process (unless `OTEL_SERVICE_NAME`).
pub const API_SERVICE: &str = "keel-api";
/// The service name of the worker process (unless `OTEL_SERVICE_NAME`).
pub const WORKER_SERVICE: &str = "keel-worker";

/// Installs the global log subscriber once (no trace export, no Sentry); later calls are
/// ignored.
pub fn init(config: &ObservabilityConfig) {
    let _already_installed = install(config, None);
}

fn install(config: &ObservabilityConfig, tracing: Option<&Tracing>) -> bool {
    // `RUST_LOG` filters the log lines only; exported spans are keel's `info` spans whatever
    // the log level (per-layer filters), so `RUST_LOG=warn` does not silence traces.
    let filter =
        || EnvFilter::try_new(&config.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let otel = tracing.map(|t| t.layer().with_filter(EnvFilter::new("info")));
    let registry = tracing_subscriber::registry().with(otel);
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Json => registry
            .with(
                fmt.json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(false)
                    .fmt_fields(SpanFieldsNotKept)
                    .with_filter(filter()),
            )
            .try_init()
            .is_ok(),
        LogFormat::Pretty => registry.with(fmt.with_filter(filter())).try_init().is_ok(),
    }
}

/// The JSON lines carry the event's own fields and no span's (`with_current_span(false)`,
/// `with_span_list(false)`), so the log layer keeps no text of span fields: by default it would
/// format every field of every span it sees into a string (the request span, the use case's,
/// each query's) on every request, and never print them. Event fields are written by the
/// JSON formatter itself, not through this.
struct SpanFieldsNotKept;

impl<'writer> tracing_subscriber::fmt::FormatFields<'writer> for SpanFieldsNotKept {
    fn format_fields<R: tracing_subscriber::field::RecordFields>(
        &self,
        _writer: tracing_subscriber::fmt::format::Writer<'writer>,
        _fields: R,
    ) -> std::fmt::Result {
        Ok(())
    }
}

/// Flushes traces and error reports when the process ends.
#[derive(Debug, Default)]
pub struct TelemetryGuard {
    tracing: Option<Tracing>,
    errors: Option<ErrorReporting>,
}

impl TelemetryGuard {
    /// Exports the spans still batched and sends the queued error reports (blocking, bounded
    /// by the exporters' timeouts). Call it once the server or worker has stopped.
    pub fn shutdown(mut self) {
        if let Some(tracing) = self.tracing.take() {
            tracing.shutdown();
        }
        // Dropping the Sentry guard flushes its queue.
        drop(self.errors.take());
    }
}

/// Sets up logs, traces and error reporting for a binary whose default service name is
/// `default_service` ([`API_SERVICE`], [`WORKER_SERVICE`]); with
/// `ENABLE_OPTIONAL_OBSERVABILITY=false`, logs only. Installs the rustls crypto
/// provider first (the OTLP and Sentry clients need it).
///
/// # Errors
/// When `OTEL_EXPORTER_OTLP_ENDPOINT` or `SENTRY_DSN` cannot be used.
pub fn init_process(config: &Config, default_service: &str) -> anyhow::Result<TelemetryGuard> {
    crate::install_crypto_provider();
    if !config.features.observability {
        // The observability pack is off: logs only.
        init(&config.observability);
        return Ok(TelemetryGuard::default());
    }
    let config = &config.observability;
    let service = config.service_name.as_deref().unwrap_or(default_service);
    let tracing = config
        .otlp_endpoint
        .as_deref()
        .map(|endpoint| Tracing::otlp(endpoint, service))
        .transpose()
        .context("OTEL_EXPORTER_OTLP_ENDPOINT")?;
    let errors = config
        .sentry_dsn
        .as_ref()
        .map(|dsn| {
            ErrorReporting::init(&ErrorReportingSettings {
                dsn: dsn.expose_secret(),
                environment: &config.sentry_environment,
                traces_sample_rate: config.sentry_traces_sample_rate,
                service,
                release: concat!("keel@", env!("CARGO_PKG_VERSION")),
            })
        })
        .transpose()
        .context("SENTRY_DSN")?;
    install(config, tracing.as_ref());
    if let Some(endpoint) = &config.otlp_endpoint {
        tracing::info!(%endpoint, service, "exporting traces over OTLP/HTTP");
    }
    if errors.is_some() {
        tracing::info!(service, "reporting errors to Sentry");
    }
    Ok(TelemetryGuard { tracing, errors })
}
