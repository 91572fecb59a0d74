//! The `api` process's metrics: HTTP traffic, the database pool, rate-limit decisions, and
//! authentication outcomes.
//!
//! | family | type | labels | meaning |
//! |---|---|---|---|
//! | `http_requests_total` | counter | `method`, `route`, `status` | requests served |
//! | `http_request_duration_seconds` | histogram | `method`, `route`, `status` | time from the request's arrival to its response head |
//! | `http_requests_in_flight` | gauge | – | requests being served right now |
//! | `db_pool_connections` | gauge | `state` (`in_use`, `idle`) | pooled database connections, sampled at scrape time |
//! | `db_pool_max_connections` | gauge | – | the pool's size limit |
//! | `rate_limit_decisions_total` | counter | `policy`, `decision` (`allowed`, `limited`, `backend_unavailable`) | rate-limit checks |
//! | `auth_logins_total` | counter | `outcome` (`success`, `invalid_credentials`) | password logins that reached a verdict |
//! | `auth_refreshes_total` | counter | `outcome` (`rotated`, `refused`, `reuse_detected`) | refresh-token exchanges |
//!
//! Label values are bounded: `route` is the route *template* (`/api/v1/posts/{id}`, or
//! `<unmatched>`), `status` the status class (`2xx` … `5xx`), `method` one of the standard
//! methods or `other`.

use crate::registry::{Metrics, MetricsError};
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts};
use std::time::Duration;

/// Latency buckets in seconds, from a cached health check to a slow password hash.
const DURATION_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The status class label of an HTTP status code.
#[must_use]
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// The method label: standard methods as sent, anything else `other` (bounded cardinality).
#[must_use]
pub fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

/// A rate-limit verdict, as counted in `rate_limit_decisions_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimitDecision {
    /// Within budget.
    Allowed,
    /// Over budget (429).
    Limited,
    /// The limiter's backend did not answer (served or refused per the fail-open setting).
    BackendUnavailable,
}

impl RateLimitDecision {
    fn label(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Limited => "limited",
            Self::BackendUnavailable => "backend_unavailable",
        }
    }
}

/// A password login's verdict, as counted in `auth_logins_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginOutcome {
    /// Tokens issued.
    Success,
    /// Unknown account or wrong password.
    InvalidCredentials,
}

impl LoginOutcome {
    fn label(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::InvalidCredentials => "invalid_credentials",
        }
    }
}

/// A refresh-token exchange's outcome, as counted in `auth_refreshes_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// A new pair was issued.
    Rotated,
    /// Refused without changing anything (unknown, expired, revoked, grace-window replay).
    Refused,
    /// A rotated token was replayed: the family was revoked.
    ReuseDetected,
}

impl RefreshOutcome {
    fn label(self) -> &'static str {
        match self {
            Self::Rotated => "rotated",
            Self::Refused => "refused",
            Self::ReuseDetected => "reuse_detected",
        }
    }
}

/// The `api` process's metric families, registered in one [`Metrics`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct HttpMetrics {
    requests: IntCounterVec,
    duration: HistogramVec,
    in_flight: IntGauge,
    pool: IntGaugeVec,
    pool_max: IntGauge,
    rate_limit: IntCounterVec,
    logins: IntCounterVec,
    refreshes: IntCounterVec,
}

fn gauge_value(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl HttpMetrics {
    /// Registers the families in `metrics`.
    ///
    /// # Errors
    /// [`MetricsError`] when they are already registered there.
    pub fn register(metrics: &Metrics) -> Result<Self, MetricsError> {
        let labels = &["method", "route", "status"];
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests served, by method, route template and status class.",
            ),
            labels,
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency, by method, route template and status class.",
            )
            .buckets(DURATION_BUCKETS.to_vec()),
            labels,
        )?;
        let in_flight = IntGauge::new(
            "http_requests_in_flight",
            "HTTP requests being served right now.",
        )?;
        let pool = IntGaugeVec::new(
            Opts::new(
                "db_pool_connections",
                "Pooled database connections, by state (in_use, idle).",
            ),
            &["state"],
        )?;
        let pool_max = IntGauge::new(
            "db_pool_max_connections",
            "The database pool's maximum size.",
        )?;
        let rate_limit = IntCounterVec::new(
            Opts::new(
                "rate_limit_decisions_total",
                "Rate-limit checks, by policy and decision (allowed, limited, backend_unavailable).",
            ),
            &["policy", "decision"],
        )?;
        let logins = IntCounterVec::new(
            Opts::new(
                "auth_logins_total",
                "Password logins, by outcome (success, invalid_credentials).",
            ),
            &["outcome"],
        )?;
        let refreshes = IntCounterVec::new(
            Opts::new(
                "auth_refreshes_total",
                "Refresh-token exchanges, by outcome (rotated, refused, reuse_detected).",
            ),
            &["outcome"],
        )?;
        let registry = metrics.registry();
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(in_flight.clone()))?;
        registry.register(Box::new(pool.clone()))?;
        registry.register(Box::new(pool_max.clone()))?;
        registry.register(Box::new(rate_limit.clone()))?;
        registry.register(Box::new(logins.clone()))?;
        registry.register(Box::new(refreshes.clone()))?;
        // Outcomes are exported from the start (as 0), so rate() and alerts work at once.
        for outcome in [LoginOutcome::Success, LoginOutcome::InvalidCredentials] {
            logins.with_label_values(&[outcome.label()]);
        }
        for outcome in [
            RefreshOutcome::Rotated,
            RefreshOutcome::Refused,
            RefreshOutcome::ReuseDetected,
        ] {
            refreshes.with_label_values(&[outcome.label()]);
        }
        for state in ["in_use", "idle"] {
            pool.with_label_values(&[state]);
        }
        Ok(Self {
            requests,
            duration,
            in_flight,
            pool,
            pool_max,
            rate_limit,
            logins,
            refreshes,
        })
    }

    /// A request started (balanced by [`HttpMetrics::request_finished`]).
    pub fn request_started(&self) {
        self.in_flight.inc();
    }

    /// A request finished: counts it and records its latency. `route` must be a route
    /// template (or `<unmatched>`), never a raw path.
    pub fn request_finished(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.in_flight.dec();
        let labels = [method_label(method), route, status_class(status)];
        self.requests.with_label_values(&labels).inc();
        self.duration
            .with_label_values(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// Sets the pool gauges (sampled when `/metrics` is scraped).
    pub fn set_pool(&self, in_use: u64, idle: u64, max: u64) {
        self.pool
            .with_label_values(&["in_use"])
            .set(gauge_value(in_use));
        self.pool
            .with_label_values(&["idle"])
            .set(gauge_value(idle));
        self.pool_max.set(gauge_value(max));
    }

    /// Counts one rate-limit decision under `policy` (a policy name such as `auth_login`).
    pub fn count_rate_limit(&self, policy: &str, decision: RateLimitDecision) {
        self.rate_limit
            .with_label_values(&[policy, decision.label()])
            .inc();
    }

    /// Counts one login verdict.
    pub fn count_login(&self, outcome: LoginOutcome) {
        self.logins.with_label_values(&[outcome.label()]).inc();
    }

    /// Counts one refresh outcome.
    pub fn count_refresh(&self, outcome: RefreshOutcome) {
        self.refreshes.with_label_values(&[outcome.label()]).inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_families_render_with_bounded_labels() {
        let metrics = Metrics::new();
        let http = HttpMetrics::register(&metrics).expect("register");
        http.request_started();
        http.request_finished("GET", "/api/v1/posts/{id}", 404, Duration::from_millis(3));
        http.request_started();
        http.request_finished("BREW", "<unmatched>", 501, Duration::from_millis(1));
        http.set_pool(2, 3, 10);
        http.count_rate_limit("auth_login", RateLimitDecision::Limited);
        http.count_login(LoginOutcome::Success);
        http.count_refresh(RefreshOutcome::ReuseDetected);
        let text = metrics.render().expect("render");
        for line in [
            "http_requests_total{method=\"GET\",route=\"/api/v1/posts/{id}\",status=\"4xx\"} 1",
            "http_requests_total{method=\"other\",route=\"<unmatched>\",status=\"5xx\"} 1",
            "http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/posts/{id}\",status=\"4xx\",le=\"0.005\"} 1",
            "http_requests_in_flight 0",
            "db_pool_connections{state=\"in_use\"} 2",
            "db_pool_connections{state=\"idle\"} 3",
            "db_pool_max_connections 10",
            "rate_limit_decisions_total{decision=\"limited\",policy=\"auth_login\"} 1",
            "auth_logins_total{outcome=\"success\"} 1",
            "auth_logins_total{outcome=\"invalid_credentials\"} 0",
            "auth_refreshes_total{outcome=\"reuse_detected\"} 1",
            "auth_refreshes_total{outcome=\"rotated\"} 0",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }

    #[test]
    fn status_classes_and_methods_are_bounded() {
        assert_eq!(status_class(200), "2xx");
        assert_eq!(status_class(302), "3xx");
        assert_eq!(status_class(429), "4xx");
        assert_eq!(status_class(503), "5xx");
        assert_eq!(status_class(101), "1xx");
        assert_eq!(method_label("DELETE"), "DELETE");
        assert_eq!(method_label("PROPFIND"), "other");
    }
}
