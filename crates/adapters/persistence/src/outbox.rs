//! The write side of the transactional outbox: a change's domain events become
//! `outbox_events` rows inside the change's own transaction, so no write commits without its
//! events and no event commits without its write.
//!
//! Each row gets a fresh UUID v4 `event_key` (the idempotency key of every delivery), the
//! event's topic, its JSON payload, status `pending`, no attempts, and `created_at =
//! available_at = now`.
//!
//! On PostgreSQL a single-row change and its events can also be one statement
//! ([`postgres_write_with_events`]): one round trip instead of `BEGIN`, the change, the outbox
//! insert and `COMMIT`.

use crate::entity::outbox_event;
use crate::error::{store_error, unreadable};
use crate::instant;
use keel_domain::Timestamp;
use keel_domain::event::DomainEvent;
use keel_ports::StoreError;
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, Statement, Value,
};
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
        let row: [Expr; 7] = [
            Value::Uuid(Some(Uuid::new_v4())).into(),
            event.topic().into(),
            Value::Json(Some(Box::new(payload(event)?))).into(),
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

/// PostgreSQL: the `VALUES` rows of `events` for an outbox insert inside a larger statement —
/// `($n::uuid, $n+1::text, $n+2::jsonb), …` — with their parameters (a fresh event key, the
/// topic, the payload) appended to `values`.
pub(crate) fn postgres_event_rows(
    values: &mut Vec<Value>,
    events: &[DomainEvent],
) -> Result<String, StoreError> {
    let mut rows = Vec::new();
    for event in events {
        let n = values.len();
        rows.push(format!(
            "(${}::uuid, ${}::text, ${}::jsonb)",
            n + 1,
            n + 2,
            n + 3
        ));
        values.extend([
            Value::Uuid(Some(Uuid::new_v4())),
            event.topic().into(),
            Value::Json(Some(Box::new(payload(event)?))),
        ]);
    }
    Ok(rows.join(", "))
}

/// PostgreSQL: `events` as JSON objects (`key`, `topic`, `payload`) for a statement that writes
/// a batch's outbox rows from one JSON parameter, each with a fresh event key.
pub(crate) fn postgres_events_json(
    events: &[DomainEvent],
) -> Result<Vec<serde_json::Value>, StoreError> {
    postgres_keyed_events_json(events.iter().map(|event| (Uuid::new_v4(), event)))
}

/// [`postgres_events_json`] with the event keys given.
pub(crate) fn postgres_keyed_events_json<'a>(
    events: impl Iterator<Item = (Uuid, &'a DomainEvent)>,
) -> Result<Vec<serde_json::Value>, StoreError> {
    events
        .map(|(key, event)| {
            Ok(serde_json::json!({
                "key": key,
                "topic": event.topic(),
                "payload": payload(event)?,
            }))
        })
        .collect()
}

/// An event's JSON payload.
fn payload(event: &DomainEvent) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(event)
        .map_err(|err| unreadable(format!("event {} as JSON: {err}", event.topic())))
}

/// PostgreSQL, one statement and one round trip (no explicit transaction): runs `write` — a
/// data-modifying statement with a `RETURNING` clause, whose parameters are `values` (`$1`…) —
/// and appends `events` to the outbox only if `write` returned a row. Returns whether it did.
/// The sub-statements of one statement commit together, so the change and its events commit
/// together or not at all.
pub(crate) async fn postgres_write_with_events(
    db: &DatabaseConnection,
    write: &str,
    mut values: Vec<Value>,
    events: &[DomainEvent],
    now: Timestamp,
) -> Result<bool, StoreError> {
    let mut sql = format!("WITH changed AS ({write})");
    if !events.is_empty() {
        values.push(instant::value(DbBackend::Postgres, now));
        let at = values.len();
        let rows = postgres_event_rows(&mut values, events)?;
        sql.push_str(&format!(
            ", recorded AS (INSERT INTO outbox_events \
                 (event_key, topic, payload, status, attempts, created_at, available_at) \
             SELECT e.event_key, e.topic, e.payload, '{PENDING}', 0, ${at}, ${at} \
             FROM (SELECT 1 FROM changed LIMIT 1) AS c \
             CROSS JOIN (VALUES {rows}) AS e (event_key, topic, payload))"
        ));
    }
    sql.push_str(" SELECT EXISTS (SELECT 1 FROM changed) AS changed");
    db.query_one_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
    .await
    .map_err(store_error)?
    .ok_or_else(|| unreadable("a write statement returned no row"))?
    .try_get::<bool>("", "changed")
    .map_err(store_error)
}
