//! The `log` outbox sink: each event becomes one structured log line (target `keel::outbox`),
//! with its id, key, topic, payload and commit time as fields. Writing a log line cannot be
//! refused, so this sink never fails; it is the default sink and the one for development.

use async_trait::async_trait;
use keel_domain::outbox::OutboxEvent;
use keel_ports::{DeliveryError, EventSink};

/// Writes events to the log.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogSink;

#[async_trait]
impl EventSink for LogSink {
    fn name(&self) -> &'static str {
        "log"
    }

    async fn deliver(&self, event: &OutboxEvent) -> Result<(), DeliveryError> {
        tracing::info!(
            target: "keel::outbox",
            event_id = event.id.get(),
            event_key = %event.key,
            topic = %event.topic,
            payload = %event.payload,
            created_at = %event.created_at,
            "outbox event"
        );
        Ok(())
    }
}
