//! The outbox worker's metrics: backlog, deliveries by result, and commit → delivery lag.
//!
//! | family | type | labels | meaning |
//! |---|---|---|---|
//! | `outbox_pending_events` | gauge | – | events waiting for delivery (due or scheduled for a retry) |
//! | `outbox_processing_events` | gauge | – | events claimed by a worker right now |
//! | `outbox_failed_events` | gauge | – | dead letters waiting for `worker requeue-failed` |
//! | `outbox_oldest_pending_age_seconds` | gauge | – | age of the oldest undelivered event (0 when none) |
//! | `outbox_deliveries_total` | counter | `result` | outcomes of delivery attempts by this worker: `delivered`, `retry_scheduled`, `dead_lettered`, `released` |
//! | `outbox_sink_failures_total` | counter | `sink` | failed attempts by the sink that refused |
//! | `outbox_delivery_lag_seconds` | histogram | – | time from the change's commit to its delivery |
//!
//! The gauges describe the whole outbox (every worker reports the same values); the counters
//! and the histogram describe this worker — sum them over replicas.

use crate::registry::{Metrics, MetricsError};
use prometheus::{Gauge, Histogram, HistogramOpts, IntCounterVec, IntGauge, Opts};

/// Buckets of the delivery lag, in seconds: from NOTIFY-fast (a few ms) to retry-slow (hours).
const LAG_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0, 300.0, 1800.0, 7200.0,
];

/// The outcome of one delivery attempt, as counted in `outbox_deliveries_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryResult {
    /// Accepted by every sink.
    Delivered,
    /// Failed; another attempt is scheduled.
    RetryScheduled,
    /// Failed for the last time.
    DeadLettered,
    /// Given back undelivered (shutdown or lease ending).
    Released,
}

impl DeliveryResult {
    fn label(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::RetryScheduled => "retry_scheduled",
            Self::DeadLettered => "dead_lettered",
            Self::Released => "released",
        }
    }
}

/// The outbox worker's metric families, registered in one [`Metrics`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct OutboxMetrics {
    pending: IntGauge,
    processing: IntGauge,
    failed: IntGauge,
    oldest_pending_age: Gauge,
    deliveries: IntCounterVec,
    sink_failures: IntCounterVec,
    lag: Histogram,
}

impl OutboxMetrics {
    /// Registers the families in `metrics`.
    ///
    /// # Errors
    /// [`MetricsError`] when they are already registered there.
    pub fn register(metrics: &Metrics) -> Result<Self, MetricsError> {
        let pending = IntGauge::new(
            "outbox_pending_events",
            "Outbox events waiting for delivery (due or scheduled for a retry).",
        )?;
        let processing = IntGauge::new(
            "outbox_processing_events",
            "Outbox events claimed by a worker.",
        )?;
        let failed = IntGauge::new(
            "outbox_failed_events",
            "Dead-lettered outbox events waiting for a requeue.",
        )?;
        let oldest_pending_age = Gauge::new(
            "outbox_oldest_pending_age_seconds",
            "Age of the oldest undelivered outbox event (0 when there is none).",
        )?;
        let deliveries = IntCounterVec::new(
            Opts::new(
                "outbox_deliveries_total",
                "Outbox delivery attempts of this worker, by result.",
            ),
            &["result"],
        )?;
        let sink_failures = IntCounterVec::new(
            Opts::new(
                "outbox_sink_failures_total",
                "Failed outbox delivery attempts of this worker, by the sink that refused.",
            ),
            &["sink"],
        )?;
        let lag = Histogram::with_opts(
            HistogramOpts::new(
                "outbox_delivery_lag_seconds",
                "Time from an event's commit to its delivery to every sink.",
            )
            .buckets(LAG_BUCKETS.to_vec()),
        )?;
        let registry = metrics.registry();
        registry.register(Box::new(pending.clone()))?;
        registry.register(Box::new(processing.clone()))?;
        registry.register(Box::new(failed.clone()))?;
        registry.register(Box::new(oldest_pending_age.clone()))?;
        registry.register(Box::new(deliveries.clone()))?;
        registry.register(Box::new(sink_failures.clone()))?;
        registry.register(Box::new(lag.clone()))?;
        // Every result is exported from the start (as 0), so rate() works before the first one.
        for result in [
            DeliveryResult::Delivered,
            DeliveryResult::RetryScheduled,
            DeliveryResult::DeadLettered,
            DeliveryResult::Released,
        ] {
            deliveries.with_label_values(&[result.label()]);
        }
        Ok(Self {
            pending,
            processing,
            failed,
            oldest_pending_age,
            deliveries,
            sink_failures,
            lag,
        })
    }

    /// Sets the backlog gauges.
    pub fn set_backlog(
        &self,
        pending: u64,
        processing: u64,
        failed: u64,
        oldest_pending_age_seconds: f64,
    ) {
        let gauge = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        self.pending.set(gauge(pending));
        self.processing.set(gauge(processing));
        self.failed.set(gauge(failed));
        self.oldest_pending_age
            .set(oldest_pending_age_seconds.max(0.0));
    }

    /// Counts `count` attempts that ended in `result`.
    pub fn count_deliveries(&self, result: DeliveryResult, count: u64) {
        if count > 0 {
            self.deliveries
                .with_label_values(&[result.label()])
                .inc_by(count);
        }
    }

    /// Counts one failed attempt refused by `sink`.
    pub fn count_sink_failure(&self, sink: &str) {
        self.sink_failures.with_label_values(&[sink]).inc();
    }

    /// Records one delivery's commit → delivery lag.
    pub fn observe_lag(&self, seconds: f64) {
        self.lag.observe(seconds.max(0.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_families_render_with_their_values() {
        let metrics = Metrics::new();
        let outbox = OutboxMetrics::register(&metrics).expect("register");
        outbox.set_backlog(7, 2, 1, 12.5);
        outbox.count_deliveries(DeliveryResult::Delivered, 3);
        outbox.count_sink_failure("webhook");
        outbox.observe_lag(0.02);
        let text = metrics.render().expect("render");
        for line in [
            "outbox_pending_events 7",
            "outbox_processing_events 2",
            "outbox_failed_events 1",
            "outbox_oldest_pending_age_seconds 12.5",
            "outbox_deliveries_total{result=\"delivered\"} 3",
            "outbox_deliveries_total{result=\"dead_lettered\"} 0",
            "outbox_sink_failures_total{sink=\"webhook\"} 1",
            "outbox_delivery_lag_seconds_bucket{le=\"0.025\"} 1",
            "outbox_delivery_lag_seconds_count 1",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        assert!(
            OutboxMetrics::register(&metrics).is_err(),
            "registered twice"
        );
        assert!(Metrics::content_type().starts_with("text/plain"));
    }
}
