//! The `redis` outbox sink: [`RedisStreamSink`] appends each event to a Redis stream
//! (`OUTBOX_REDIS_STREAM`, default `keel:events`) with `XADD … MAXLEN ~ <cap> *`.
//!
//! Each entry has the fields `id` (outbox row id), `event_key` (the idempotency key),
//! `topic`, `payload` (the JSON text) and `created_at` (RFC 3339, UTC). The cap is approximate
//! (`~`): Redis trims whole macro-nodes, which is far cheaper than an exact cap; the stream may
//! briefly hold a little more than the cap. Consumers read it with `XREAD`/`XREADGROUP` and
//! de-duplicate on `event_key` (delivery is at least once).

use crate::pool::{Pool, RedisError, run};
use async_trait::async_trait;
use keel_domain::outbox::OutboxEvent;
use keel_ports::{DeliveryError, EventSink};

/// Entries a stream keeps by default (approximately).
pub const DEFAULT_MAX_LEN: u64 = 100_000;

/// Appends events to one Redis stream. Cheap to clone.
#[derive(Clone)]
pub struct RedisStreamSink {
    pool: Pool,
    stream: String,
    max_len: u64,
}

impl std::fmt::Debug for RedisStreamSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStreamSink")
            .field("stream", &self.stream)
            .field("max_len", &self.max_len)
            .finish_non_exhaustive()
    }
}

impl RedisStreamSink {
    /// A sink appending to `stream` through `pool`, keeping about `max_len` entries.
    #[must_use]
    pub fn new(pool: Pool, stream: impl Into<String>, max_len: u64) -> Self {
        Self {
            pool,
            stream: stream.into(),
            max_len,
        }
    }
}

#[async_trait]
impl EventSink for RedisStreamSink {
    fn name(&self) -> &'static str {
        "redis"
    }

    #[tracing::instrument(name = "redis.stream.add", skip_all, fields(otel.kind = "client", db.system = "redis"))]
    async fn deliver(&self, event: &OutboxEvent) -> Result<(), DeliveryError> {
        let mut command = redis::cmd("XADD");
        command
            .arg(&self.stream)
            .arg("MAXLEN")
            .arg("~")
            .arg(self.max_len)
            .arg("*")
            .arg("id")
            .arg(event.id.get())
            .arg("event_key")
            .arg(event.key.to_string())
            .arg("topic")
            .arg(&event.topic)
            .arg("payload")
            .arg(&event.payload)
            .arg("created_at")
            .arg(event.created_at.to_rfc3339());
        run(&self.pool, |mut connection| async move {
            command.query_async::<String>(&mut *connection).await
        })
        .await
        .map(|_entry_id| ())
        .map_err(|err| match err {
            // The server answered, with an error (e.g. WRONGTYPE: the key is not a stream).
            RedisError::Command(command)
                if !(command.is_io_error()
                    || command.is_connection_dropped()
                    || command.is_connection_refusal()
                    || command.is_timeout()) =>
            {
                DeliveryError::Rejected(command.to_string())
            }
            other => DeliveryError::Unavailable(Box::new(other)),
        })
    }
}
