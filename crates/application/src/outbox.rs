//! Delivering the outbox: [`RelayOutbox`] claims due events, hands each to every sink and
//! records the outcome; [`RequeueFailed`] and [`PurgeCompleted`] are the operators' tools.
//!
//! The relay keeps these promises (the rules themselves live in [`keel_domain::outbox`]):
//! - an event is marked `completed` only after every sink accepted it; a failure of any sink
//!   is a failed attempt of the event, retried on the [`RetryPolicy`] schedule or dead-lettered;
//! - a delivery starts only if it surely ends before the batch's lease does
//!   ([`LeasePolicy::may_start_delivery`]); the rest of the batch is released, as it is when a
//!   stop is requested — so a stopping worker finishes the delivery in flight and gives back
//!   the others, leaving nothing `processing`;
//! - delivery is at least once: a crash between delivering and recording repeats the batch's
//!   deliveries once its lease expires, under the same event keys.

use keel_domain::Timestamp;
use keel_domain::event::Audience;
use keel_domain::outbox::{
    EventId, FailureOutcome, Jitter, LeasePolicy, OutboxEvent, RetryPolicy, WorkerId,
    last_error_text,
};
use keel_ports::{Clock, DeliveryError, ErrorChain, EventSink, Outbox, StoreError};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use time::Duration;

/// How the relay claims and retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelaySettings {
    /// Events claimed per batch.
    pub batch_size: u32,
    /// When failed deliveries are retried or given up on.
    pub retry: RetryPolicy,
    /// How long a claim lasts and how long one delivery may take.
    pub lease: LeasePolicy,
}

/// What one batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelayReport {
    /// Events claimed.
    pub claimed: usize,
    /// Events delivered to every sink and marked completed.
    pub delivered: usize,
    /// Failed events scheduled for another attempt.
    pub retried: usize,
    /// Failed events given up on (dead letters).
    pub dead_lettered: usize,
    /// Events given back undelivered (stop requested, or the lease about to run out).
    pub released: usize,
    /// For each delivered event, the time from its commit to its delivery.
    pub lags: Vec<Duration>,
    /// The name of the sink that failed, once per failed attempt.
    pub sink_failures: Vec<&'static str>,
    /// Outcomes that could not be recorded (store failure, or the lease was lost): those
    /// events come back when their lease expires.
    pub unrecorded: usize,
}

impl RelayReport {
    /// Whether the batch was full, i.e. more events are probably due right now.
    #[must_use]
    pub fn was_full(&self, batch_size: u32) -> bool {
        u32::try_from(self.claimed).unwrap_or(u32::MAX) >= batch_size
    }
}

/// Why a batch could not be run or recorded.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// Claiming failed: nothing was delivered.
    #[error("claiming outbox events failed")]
    Claim(#[source] StoreError),
    /// Events were delivered but marking them completed failed: they will be delivered again
    /// when their lease expires (at least once).
    #[error("recording {delivered} delivered outbox events failed")]
    Complete {
        /// How many deliveries went unrecorded.
        delivered: usize,
        /// The store failure.
        #[source]
        source: StoreError,
    },
}

/// Delivers due outbox events to every sink of their [`Audience`], one batch per call (the
/// worker's loop): public events to the configured sinks (`OUTBOX_SINKS`), mail events (which
/// carry one-time tokens) to the mail sinks only — never the other way round.
#[derive(Clone)]
pub struct RelayOutbox {
    outbox: Arc<dyn Outbox>,
    sinks: Vec<Arc<dyn EventSink>>,
    mail_sinks: Vec<Arc<dyn EventSink>>,
    clock: Arc<dyn Clock>,
    worker: WorkerId,
    settings: RelaySettings,
}

impl RelayOutbox {
    /// Wires the use case for the worker named `worker`.
    pub fn new(
        outbox: Arc<dyn Outbox>,
        sinks: Vec<Arc<dyn EventSink>>,
        clock: Arc<dyn Clock>,
        worker: WorkerId,
        settings: RelaySettings,
    ) -> Self {
        Self {
            outbox,
            sinks,
            mail_sinks: Vec::new(),
            clock,
            worker,
            settings,
        }
    }

    /// Delivers [`Audience::Mail`] events to `sink` (the SMTP sender). Without a mail sink
    /// those events are completed undelivered: no other sink ever sees their tokens.
    #[must_use]
    pub fn with_mail_sink(mut self, sink: Arc<dyn EventSink>) -> Self {
        self.mail_sinks.push(sink);
        self
    }

    /// The worker this relay claims for.
    #[must_use]
    pub fn worker(&self) -> &WorkerId {
        &self.worker
    }

    /// The settings.
    #[must_use]
    pub fn settings(&self) -> RelaySettings {
        self.settings
    }

    /// Claims one batch and delivers it. `stop` is read before each delivery: once it is set,
    /// the rest of the batch is released.
    ///
    /// # Errors
    /// [`RelayError::Claim`] when nothing could be claimed; [`RelayError::Complete`] when the
    /// deliveries could not be recorded. Failures to record a single failure or release are
    /// logged and counted in [`RelayReport::unrecorded`] instead: the lease brings those
    /// events back.
    pub async fn run_batch(&self, stop: &AtomicBool) -> Result<RelayReport, RelayError> {
        let mut report = RelayReport::default();
        if stop.load(Ordering::SeqCst) {
            return Ok(report);
        }
        let now = self.clock.now();
        let lease_until = self.settings.lease.lease_until(now);
        let events = self
            .outbox
            .claim(&self.worker, self.settings.batch_size, now, lease_until)
            .await
            .map_err(RelayError::Claim)?;
        report.claimed = events.len();
        let mut delivered = Vec::with_capacity(events.len());
        let mut remaining = events.as_slice();
        while let Some((event, rest)) = remaining.split_first() {
            if stop.load(Ordering::SeqCst)
                || !self
                    .settings
                    .lease
                    .may_start_delivery(self.clock.now(), lease_until)
            {
                break;
            }
            remaining = rest;
            if self.settings.retry.exhausted(event.attempts) {
                // Its leases expired until no attempt was left: a worker died or hung on it.
                self.dead_letter_exhausted(event, &mut report).await;
                continue;
            }
            match self.deliver(event).await {
                Ok(()) => {
                    report.lags.push(self.clock.now().since(event.created_at));
                    delivered.push(event.id);
                }
                Err((sink, error)) => {
                    report.sink_failures.push(sink);
                    self.record_failure(event, sink, &error, &mut report).await;
                }
            }
        }
        if !remaining.is_empty() {
            self.release(remaining, &mut report).await;
        }
        if !delivered.is_empty() {
            let marked = self
                .outbox
                .complete(&self.worker, &delivered, self.clock.now())
                .await
                .map_err(|source| RelayError::Complete {
                    delivered: delivered.len(),
                    source,
                })?;
            let marked = usize::try_from(marked).unwrap_or(usize::MAX);
            report.delivered = marked.min(delivered.len());
            report.unrecorded += delivered.len() - report.delivered;
            if report.delivered < delivered.len() {
                tracing::warn!(
                    worker = %self.worker,
                    delivered = delivered.len(),
                    recorded = report.delivered,
                    "some deliveries were not recorded: their lease was lost; they will be delivered again"
                );
            }
        }
        Ok(report)
    }

    /// Hands `event` to every sink in turn; the first refusal ends the attempt.
    #[tracing::instrument(
        name = "use_case.deliver_outbox_event",
        skip_all,
        fields(event_id = event.id.get(), topic = %event.topic)
    )]
    async fn deliver(&self, event: &OutboxEvent) -> Result<(), (&'static str, DeliveryError)> {
        let sinks = match Audience::of_topic(&event.topic) {
            Audience::Public => &self.sinks,
            Audience::Mail => &self.mail_sinks,
        };
        for sink in sinks {
            sink.deliver(event)
                .await
                .map_err(|error| (sink.name(), error))?;
        }
        tracing::debug!(event_id = %event.id, event_key = %event.key, topic = %event.topic, "outbox event delivered");
        Ok(())
    }

    async fn record_failure(
        &self,
        event: &OutboxEvent,
        sink: &'static str,
        error: &DeliveryError,
        report: &mut RelayReport,
    ) {
        let now = self.clock.now();
        let jitter = Jitter::for_event(event.key, event.attempts.saturating_add(1));
        let outcome = self
            .settings
            .retry
            .after_failure(event.attempts, now, jitter);
        let text = last_error_text(&format!("{sink}: {}", ErrorChain(error)));
        match outcome {
            FailureOutcome::Retry {
                attempts,
                available_at,
            } => {
                report.retried += 1;
                tracing::warn!(event_id = %event.id, event_key = %event.key, topic = %event.topic, sink, attempts, retry_at = %available_at, error = %text, "outbox delivery failed; will retry");
            }
            FailureOutcome::DeadLetter { attempts } => {
                report.dead_lettered += 1;
                tracing::error!(event_id = %event.id, event_key = %event.key, topic = %event.topic, sink, attempts, error = %text, "outbox delivery failed for the last time; event dead-lettered");
            }
        }
        match self
            .outbox
            .fail(&self.worker, event.id, outcome, &text, now)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                report.unrecorded += 1;
                tracing::warn!(event_id = %event.id, worker = %self.worker, "failed delivery not recorded: the lease was lost");
            }
            Err(store) => {
                report.unrecorded += 1;
                tracing::warn!(event_id = %event.id, error = %ErrorChain(&store), "recording a failed delivery failed; the event returns when its lease expires");
            }
        }
    }

    /// Dead-letters an event whose failed attempts, lease expiries included, are exhausted,
    /// without delivering it again.
    async fn dead_letter_exhausted(&self, event: &OutboxEvent, report: &mut RelayReport) {
        let outcome = FailureOutcome::DeadLetter {
            attempts: event.attempts,
        };
        let text = last_error_text(&format!(
            "{} attempts, the last ones ended by an expired lease: the worker stopped or hung delivering it",
            event.attempts
        ));
        tracing::error!(event_id = %event.id, event_key = %event.key, topic = %event.topic, attempts = event.attempts, "outbox event dead-lettered: its leases kept expiring");
        match self
            .outbox
            .fail(&self.worker, event.id, outcome, &text, self.clock.now())
            .await
        {
            Ok(true) => report.dead_lettered += 1,
            Ok(false) => {
                report.unrecorded += 1;
                tracing::warn!(event_id = %event.id, worker = %self.worker, "dead letter not recorded (the lease was lost); the event returns when its lease expires");
            }
            Err(store) => {
                report.unrecorded += 1;
                tracing::warn!(event_id = %event.id, worker = %self.worker, error = %ErrorChain(&store), "recording a dead letter failed; the event returns when its lease expires");
            }
        }
    }

    async fn release(&self, events: &[OutboxEvent], report: &mut RelayReport) {
        let ids: Vec<EventId> = events.iter().map(|event| event.id).collect();
        match self.outbox.release(&self.worker, &ids).await {
            Ok(released) => {
                report.released = usize::try_from(released).unwrap_or(usize::MAX);
                tracing::info!(worker = %self.worker, released, "undelivered outbox events released");
            }
            Err(store) => {
                report.unrecorded += ids.len();
                tracing::warn!(worker = %self.worker, events = ids.len(), error = %ErrorChain(&store), "releasing outbox events failed; they return when their lease expires");
            }
        }
    }
}

/// Makes dead letters pending again (`worker requeue-failed [--topic T]`).
#[derive(Clone)]
pub struct RequeueFailed {
    outbox: Arc<dyn Outbox>,
    clock: Arc<dyn Clock>,
}

impl RequeueFailed {
    /// Wires the use case.
    pub fn new(outbox: Arc<dyn Outbox>, clock: Arc<dyn Clock>) -> Self {
        Self { outbox, clock }
    }

    /// Requeues every dead letter, or those of `topic`; returns how many.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    #[tracing::instrument(name = "use_case.requeue_failed", skip_all)]
    pub async fn execute(&self, topic: Option<String>) -> Result<u64, StoreError> {
        self.outbox.requeue_failed(topic, self.clock.now()).await
    }
}

/// Deletes delivered events past their retention (`worker purge --older-than DAYS`).
#[derive(Clone)]
pub struct PurgeCompleted {
    outbox: Arc<dyn Outbox>,
    clock: Arc<dyn Clock>,
}

impl PurgeCompleted {
    /// Wires the use case.
    pub fn new(outbox: Arc<dyn Outbox>, clock: Arc<dyn Clock>) -> Self {
        Self { outbox, clock }
    }

    /// Deletes completed events processed more than `older_than` ago; returns how many.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    #[tracing::instrument(name = "use_case.purge_completed", skip_all)]
    pub async fn execute(&self, older_than: Duration) -> Result<u64, StoreError> {
        let cutoff: Timestamp = self.clock.now().plus(-older_than);
        self.outbox.purge_completed(cutoff).await
    }
}

#[cfg(test)]
#[path = "outbox_tests.rs"]
mod tests;
