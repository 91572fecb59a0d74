//! The glue between the HTTP adapter's observation hooks ([`keel_http::observe`]) and the
//! telemetry adapter ([`keel_telemetry`]): [`ApiObserver`] records keel-http's reports as
//! Prometheus metrics, continues callers' W3C traces, reports 5xx answers to Sentry, and renders
//! `/metrics` (sampling the database pool first). Living here, in the composition root, it lets
//! neither adapter depend on the other.

use keel_application::auth::RefreshOutcome as AppRefreshOutcome;
use keel_http::observe::{FinishedRequest, HttpObserver, LoginVerdict, RateLimitVerdict};
use keel_telemetry::{
    HttpMetrics, LoginOutcome, Metrics, RateLimitDecision, RefreshOutcome, ServerError,
};
use sea_orm::DatabaseConnection;

/// Records the `api` process's observations (see the module docs).
pub struct ApiObserver {
    metrics: Metrics,
    http: HttpMetrics,
    /// The database pools (one per server worker on PostgreSQL), summed for the pool gauges.
    pools: Vec<DatabaseConnection>,
    serve_metrics: bool,
}

impl ApiObserver {
    /// Registers the `api` families (and the process metrics) in a fresh registry; `/metrics`
    /// is served only when `serve_metrics` (`METRICS_ENABLED`).
    ///
    /// # Errors
    /// When a family cannot be registered (never for a fresh registry).
    pub fn new(pools: Vec<DatabaseConnection>, serve_metrics: bool) -> anyhow::Result<Self> {
        let metrics = Metrics::with_process_metrics()?;
        let http = HttpMetrics::register(&metrics)?;
        Ok(Self {
            metrics,
            http,
            pools,
            serve_metrics,
        })
    }
}

impl HttpObserver for ApiObserver {
    fn continue_trace(
        &self,
        span: &tracing::Span,
        traceparent: Option<&str>,
        tracestate: Option<&str>,
    ) {
        keel_telemetry::traces::set_remote_parent(span, traceparent, tracestate);
    }

    fn request_started(&self) {
        self.http.request_started();
    }

    fn request_finished(&self, request: &FinishedRequest<'_>) {
        self.http.request_finished(
            request.method,
            request.route,
            request.status,
            request.elapsed,
        );
        if request.status >= 500 {
            let trace_id = request
                .span
                .in_scope(keel_telemetry::traces::current_trace_id);
            keel_telemetry::report_server_error(&ServerError {
                method: keel_telemetry::method_label(request.method),
                route: request.route,
                status: request.status,
                request_id: request.request_id,
                trace_id: trace_id.as_deref(),
            });
        }
    }

    fn rate_limit(&self, policy: &str, verdict: RateLimitVerdict) {
        let decision = match verdict {
            RateLimitVerdict::Allowed => RateLimitDecision::Allowed,
            RateLimitVerdict::Limited => RateLimitDecision::Limited,
            RateLimitVerdict::BackendUnavailable => RateLimitDecision::BackendUnavailable,
        };
        self.http.count_rate_limit(policy, decision);
    }

    fn login(&self, verdict: LoginVerdict) {
        self.http.count_login(match verdict {
            LoginVerdict::Success => LoginOutcome::Success,
            LoginVerdict::InvalidCredentials => LoginOutcome::InvalidCredentials,
        });
    }

    fn refresh(&self, outcome: AppRefreshOutcome) {
        self.http.count_refresh(match outcome {
            AppRefreshOutcome::Rotated => RefreshOutcome::Rotated,
            AppRefreshOutcome::Refused => RefreshOutcome::Refused,
            AppRefreshOutcome::ReuseDetected => RefreshOutcome::ReuseDetected,
        });
    }

    fn metrics(&self) -> Option<(String, &'static str)> {
        if !self.serve_metrics {
            return None;
        }
        let pool = keel_persistence::pools_stats(&self.pools);
        self.http.set_pool(pool.in_use, pool.idle, pool.max);
        match self.metrics.render() {
            Ok(text) => Some((text, Metrics::content_type())),
            Err(error) => {
                tracing::error!(%error, "rendering metrics failed");
                None
            }
        }
    }
}
