//! The write side of the transactional outbox: a change's domain events become
//! `outbox_events` rows inside the change's own transaction, so no write commits without its
//! events and no event commits without its write.
//!
//! Each row gets a fresh UUID v4 `event_key` (the idempotency key of every delivery), the
//! event's topic, its JSON payload, status `pending`, no attempts, and `created_at =
//! available_at = now`.

use crate::entity::outbox_event;
use crate::error::{store_error, unreadable};
use crate::instant;
use keel_domain::Timestamp;
use keel_domain::event::DomainEvent;
use keel_ports::StoreError;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ConnectionTrait, DatabaseTransaction, Value};
use uuid::Uuid;

/// Status of an event not yet delivered.
pub(crate) const PENDING: &str = "pending";

/// Appends `events` to the outbox within `txn` (nothing when there are none).
pub(crate) async fn append(
    txn: &DatabaseTransaction,
    events: &[DomainEvent],
    now: Timestamp,
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let backend = txn.get_database_backend();
    let mut insert = Query::insert();
    insert.into_table(outbox_event::Entity).columns([
        outbox_event::Column::EventKey,
        outbox_event::Column::Topic,
        outbox_event::Column::Payload,
        outbox_event::Column::Status,
        outbox_event::Column::Attempts,
        outbox_event::Column::CreatedAt,
        outbox_event::Column::AvailableAt,
    ]);
    for event in events {
        let payload = serde_json::to_value(event)
            .map_err(|err| unreadable(format!("event {} as JSON: {err}", event.topic())))?;
        let row: [Expr; 7] = [
            Value::Uuid(Some(Uuid::new_v4())).into(),
            event.topic().into(),
            Value::Json(Some(Box::new(payload))).into(),
            PENDING.into(),
            0_i32.into(),
            instant::value(backend, now).into(),
            instant::value(backend, now).into(),
        ];
        insert
            .values(row)
            .map_err(|err| unreadable(format!("outbox insert: {err}")))?;
    }
    txn.execute(&insert).await.map_err(store_error)?;
    Ok(())
}
