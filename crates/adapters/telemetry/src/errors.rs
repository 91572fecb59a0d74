//! Error reporting to Sentry (`SENTRY_DSN`): server errors (5xx) and panics, with the request's
//! route template, method, status, request id and trace id — and nothing personal.
//!
//! Privacy by construction: `send_default_pii` is off; events are built here from a fixed set of
//! low-risk fields (never bodies, headers, query strings, cookies, user ids or e-mail
//! addresses); and a `before_send` hook drops any `request` and `user` data an integration
//! might add. Panics are reported by the panic integration (message and stack only).

use sentry::protocol::{Event, Level};
use std::collections::BTreeMap;
use std::time::Duration;

/// The DSN is not a valid Sentry DSN.
#[derive(Debug, thiserror::Error)]
#[error("SENTRY_DSN is not a valid DSN: {0}")]
pub struct ErrorReportingError(String);

/// Reports to Sentry while alive; dropping it flushes the queue (up to two seconds).
pub struct ErrorReporting {
    _guard: sentry::ClientInitGuard,
}

impl std::fmt::Debug for ErrorReporting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ErrorReporting").finish_non_exhaustive()
    }
}

/// Where and how to report.
#[derive(Debug, Clone)]
pub struct ErrorReportingSettings<'a> {
    /// `SENTRY_DSN`.
    pub dsn: &'a str,
    /// `SENTRY_ENVIRONMENT`.
    pub environment: &'a str,
    /// `SENTRY_TRACES_SAMPLE_RATE`.
    pub traces_sample_rate: f32,
    /// The process (`keel-api`, `keel-worker`): sent as the `service` tag.
    pub service: &'a str,
    /// The release (the binary's version).
    pub release: &'a str,
}

impl ErrorReporting {
    /// Starts the Sentry client process-wide. Needs a rustls crypto provider installed first.
    ///
    /// # Errors
    /// [`ErrorReportingError`] when the DSN cannot be parsed.
    pub fn init(settings: &ErrorReportingSettings<'_>) -> Result<Self, ErrorReportingError> {
        let dsn: sentry::types::Dsn = settings
            .dsn
            .parse()
            .map_err(|e: sentry::types::ParseDsnError| ErrorReportingError(e.to_string()))?;
        let service = settings.service.to_owned();
        let options = sentry::ClientOptions::new()
            .environment(settings.environment.to_owned())
            .release(settings.release.to_owned())
            .traces_sample_rate(settings.traces_sample_rate)
            .send_default_pii(false)
            .attach_stacktrace(false)
            .shutdown_timeout(Duration::from_secs(2))
            .before_send(move |mut event| {
                event.request = None;
                event.user = None;
                event
                    .tags
                    .entry("service".to_owned())
                    .or_insert_with(|| service.clone());
                Some(event)
            });
        let guard = sentry::init((dsn, options));
        Ok(Self { _guard: guard })
    }
}

/// What is reported about a failed request.
#[derive(Debug, Clone, Copy)]
pub struct ServerError<'a> {
    /// The HTTP method.
    pub method: &'a str,
    /// The route template (or `<unmatched>`).
    pub route: &'a str,
    /// The status (≥ 500).
    pub status: u16,
    /// The request id (`X-Request-Id`, also the problem's `trace_id`).
    pub request_id: &'a str,
    /// The OpenTelemetry trace id, when tracing.
    pub trace_id: Option<&'a str>,
}

/// Reports a server error to Sentry (a no-op when [`ErrorReporting`] is not initialised).
pub fn report_server_error(error: &ServerError<'_>) {
    if sentry::Hub::current().client().is_none() {
        return;
    }
    let mut tags = BTreeMap::new();
    tags.insert("http.method".to_owned(), error.method.to_owned());
    tags.insert("http.route".to_owned(), error.route.to_owned());
    tags.insert("http.status_code".to_owned(), error.status.to_string());
    tags.insert("request_id".to_owned(), error.request_id.to_owned());
    if let Some(trace_id) = error.trace_id {
        tags.insert("trace_id".to_owned(), trace_id.to_owned());
    }
    let event = Event {
        level: Level::Error,
        message: Some(format!(
            "{} {} answered {}",
            error.method, error.route, error.status
        )),
        transaction: Some(format!("{} {}", error.method, error.route)),
        tags,
        ..Event::default()
    };
    sentry::capture_event(event);
}
