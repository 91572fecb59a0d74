//! Observation hooks: what the HTTP adapter tells the outside about the requests it serves.
//!
//! The adapter knows *what* happened (a request finished with a status under a route template,
//! a rate-limit verdict, a login or refresh outcome) but not *where* it is recorded: the
//! composition root passes an [`HttpObserver`] in [`crate::HttpSettings`], and records metrics,
//! traces and error reports with its telemetry adapter. This keeps keel-http free of
//! Prometheus, OpenTelemetry and Sentry (adapters never depend on each other); without an
//! observer ([`NoObserver`]) nothing is recorded and `/metrics` answers 404.

use keel_application::auth::RefreshOutcome;
use std::sync::Arc;
use std::time::Duration;

/// A served request, as reported to [`HttpObserver::request_finished`].
#[derive(Debug, Clone, Copy)]
pub struct FinishedRequest<'a> {
    /// The method.
    pub method: &'a str,
    /// The route template (`/api/v1/posts/{id}`), or `<unmatched>`; never a raw path.
    pub route: &'a str,
    /// The response status.
    pub status: u16,
    /// Time from arrival to the response head.
    pub elapsed: Duration,
    /// The request id (`X-Request-Id`).
    pub request_id: &'a str,
    /// The request's span (to read its trace id).
    pub span: &'a tracing::Span,
}

/// A rate-limit verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimitVerdict {
    /// Within budget.
    Allowed,
    /// Over budget: 429.
    Limited,
    /// The backend did not answer (served when failing open, 503 when failing closed).
    BackendUnavailable,
}

/// A password login's verdict (requests refused before the check are not reported).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginVerdict {
    /// Tokens issued.
    Success,
    /// Unknown account or wrong password.
    InvalidCredentials,
}

/// Receives what the adapter observes. Every method has a no-op default.
pub trait HttpObserver: Send + Sync + 'static {
    /// Continues the caller's trace: makes the W3C `traceparent`/`tracestate` the parent of
    /// `span` (the request's server span, not yet entered).
    fn continue_trace(
        &self,
        span: &tracing::Span,
        traceparent: Option<&str>,
        tracestate: Option<&str>,
    ) {
        let _ = (span, traceparent, tracestate);
    }

    /// A request arrived.
    fn request_started(&self) {}

    /// A request was answered.
    fn request_finished(&self, request: &FinishedRequest<'_>) {
        let _ = request;
    }

    /// A rate-limit check under `policy` (`auth_login`, `api_read`, …) ended in `verdict`.
    fn rate_limit(&self, policy: &str, verdict: RateLimitVerdict) {
        let _ = (policy, verdict);
    }

    /// A password login reached a verdict.
    fn login(&self, verdict: LoginVerdict) {
        let _ = verdict;
    }

    /// A refresh-token exchange ran.
    fn refresh(&self, outcome: RefreshOutcome) {
        let _ = outcome;
    }

    /// The `/metrics` body (Prometheus text format) and its content type; `None` when
    /// metrics are not served (the route then answers 404).
    fn metrics(&self) -> Option<(String, &'static str)> {
        None
    }
}

/// Records nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl HttpObserver for NoObserver {}

/// The observer of an app (a shared [`HttpObserver`]).
#[derive(Clone)]
pub struct Observer(pub Arc<dyn HttpObserver>);

impl Default for Observer {
    fn default() -> Self {
        Self(Arc::new(NoObserver))
    }
}

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observer").finish_non_exhaustive()
    }
}

/// The authenticated user of a request, once known (logged with the request line).
#[derive(Debug, Clone, Copy)]
pub(crate) struct UserId(pub i64);
