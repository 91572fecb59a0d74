//! Where delivered events go: a log, a Redis stream, a webhook, …

use crate::BoxError;
use async_trait::async_trait;
use keel_domain::outbox::OutboxEvent;

/// Why a sink did not take an event. Every variant counts as a failed attempt (the event is
/// retried or dead-lettered by the retry policy); they differ for logs and metrics.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The receiver answered and refused the event (e.g. a non-2xx webhook response).
    #[error("the receiver refused the event: {0}")]
    Rejected(String),
    /// The receiver could not be reached or did not answer in time.
    #[error("the receiver is unavailable")]
    Unavailable(#[source] BoxError),
    /// The event cannot be represented for this sink (e.g. a payload that is not JSON).
    #[error("the event cannot be encoded for this sink: {0}")]
    Unencodable(String),
}

/// A destination for outbox events.
///
/// Contract:
/// - `deliver` returns `Ok` only once the receiver has accepted the event (durably, as far as
///   the receiver promises);
/// - it returns within a bounded time (its own timeout), reported as
///   [`DeliveryError::Unavailable`], so a worker's lease always outlasts a delivery;
/// - delivery is at least once: the same event (same [`EventKey`](keel_domain::outbox::EventKey),
///   sent to receivers as the idempotency key) may be delivered again after a crash or a
///   failure of another sink, and receivers de-duplicate on the key;
/// - events are independent: a sink keeps no per-event state between calls.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait EventSink: Send + Sync {
    /// A short stable name for logs and metrics (`log`, `redis`, `webhook`).
    fn name(&self) -> &'static str;

    /// Delivers one event.
    ///
    /// # Errors
    /// [`DeliveryError`] when the receiver did not accept the event.
    async fn deliver(&self, event: &OutboxEvent) -> Result<(), DeliveryError>;
}
