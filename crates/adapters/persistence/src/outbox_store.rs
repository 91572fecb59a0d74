//! The delivery side of the transactional outbox: [`SeaOutbox`] implements
//! [`keel_ports::Outbox`] on PostgreSQL and SQLite, and [`OutboxListener`] wakes a worker when
//! events commit (PostgreSQL `LISTEN`; the writers' side is `crate::waker`).
//!
//! How a claim stays exclusive:
//! - **PostgreSQL**: one `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED LIMIT n)
//!   RETURNING …`. Concurrent claimers lock disjoint rows (a row another claimer holds is
//!   skipped, not waited for), and the claimed rows carry `locked_by`/`locked_until`, so any
//!   number of workers cooperate and a dead worker's rows become claimable when its lease ends.
//! - **SQLite**: the same `UPDATE … RETURNING` without row locks, inside a `BEGIN IMMEDIATE`
//!   transaction: SQLite has one writer at a time, so the selection and the marking cannot
//!   interleave with another claim. Correct for one worker (and, serialised, for several
//!   processes on one file); SQLite is the development database.
//!
//! Reclaiming a row whose lease expired counts a failed attempt (`attempts + 1`, `last_error`
//! says so): its worker died or hung on it, and an event that kills every worker that takes it
//! must reach the dead letter instead of being taken forever (the relay dead-letters an event
//! whose attempts are exhausted without delivering it).
//!
//! The claimable condition is [`StoredState::is_claimable`] written in SQL and evaluated by the
//! database before the `LIMIT`, in due order (`available_at`, then `id`), served by
//! `outbox_events_due_idx`. Every later change of a claimed row (`complete`, `fail`, `release`)
//! requires `status = 'processing' AND locked_by = <worker>`, so a worker that lost its lease
//! cannot overwrite the new holder's work.
//!
//! `complete` also drops the raw one-time token from the payload of each completed mail event
//! (`payload - 'token'` on PostgreSQL, `json_remove` on SQLite), in the same `UPDATE`: once a
//! mail is sent, the table no longer holds a token that would let its reader take the account.
//!
//! Instants are compared as the stored representation (`instant::value`): `timestamptz` on
//! PostgreSQL, fixed-width text on SQLite. Completed rows keep `locked_by` (who delivered them).
//!
//! [`StoredState::is_claimable`]: keel_domain::outbox::StoredState::is_claimable

use crate::entity::outbox_event;
use crate::error::{store_error, unreadable};
use crate::instant;
use crate::lost_connection::{evict_if_lost, once_more_if_lost};
use crate::transaction::{begin, finish};
use async_trait::async_trait;
use keel_domain::Timestamp;
use keel_domain::event::{MAIL_SECRET_MEMBER, MAIL_TOPIC_PREFIX};
use keel_domain::outbox::{EventId, EventKey, FailureOutcome, OutboxEvent, WorkerId};
use keel_ports::{Outbox, OutboxStats, StoreError};
use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, ExecResult, FromQueryResult,
    QueryResult, Statement, Value,
};
use std::time::Duration;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Ids per statement when completing or releasing (well under SQLite's parameter limit).
const IDS_PER_STATEMENT: usize = 1000;
/// Completed rows deleted per statement when purging, so a large purge never holds long locks.
const PURGE_CHUNK: u32 = 10_000;

/// The outbox's delivery side on a SeaORM connection (PostgreSQL or SQLite). Cheap to clone.
#[derive(Debug, Clone)]
pub struct SeaOutbox {
    db: DatabaseConnection,
}

impl SeaOutbox {
    /// The outbox stored through `db`.
    #[must_use]
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

/// Positional parameters in the backend's syntax (`$n` on PostgreSQL, `?` on SQLite).
struct Params {
    backend: DbBackend,
    values: Vec<Value>,
}

impl Params {
    fn new(backend: DbBackend) -> Self {
        Self {
            backend,
            values: Vec::new(),
        }
    }

    /// Adds a parameter and returns its placeholder.
    fn bind(&mut self, value: impl Into<Value>) -> String {
        self.values.push(value.into());
        match self.backend {
            DbBackend::Postgres => format!("${}", self.values.len()),
            _ => "?".to_owned(),
        }
    }

    fn instant(&mut self, at: Timestamp) -> String {
        let value = instant::value(self.backend, at);
        self.bind(value)
    }

    /// `id IN (…)` for `ids`.
    fn ids(&mut self, ids: &[EventId]) -> String {
        let list: Vec<String> = ids.iter().map(|id| self.bind(id.get())).collect();
        format!("id IN ({})", list.join(", "))
    }

    fn statement(self, sql: String) -> Statement {
        Statement::from_sql_and_values(self.backend, sql, self.values)
    }
}

impl SeaOutbox {
    fn backend(&self) -> DbBackend {
        self.db.get_database_backend()
    }

    /// Runs a changing statement; on SQLite inside `BEGIN IMMEDIATE` (see the module docs).
    async fn execute(&self, statement: Statement) -> Result<ExecResult, StoreError> {
        if self.backend() == DbBackend::Sqlite {
            let txn = begin(&self.db).await?;
            let outcome = txn.execute_raw(statement).await.map_err(store_error);
            finish(txn, outcome).await
        } else {
            // Not retried (it may have been applied); a lost connection evicts the idle ones.
            let outcome = self.db.execute_raw(statement).await;
            if let Err(err) = &outcome {
                evict_if_lost(&self.db, err).await;
            }
            outcome.map_err(store_error)
        }
    }

    /// Runs a changing statement that returns rows, as [`SeaOutbox::execute`].
    async fn query(&self, statement: Statement) -> Result<Vec<QueryResult>, StoreError> {
        if self.backend() == DbBackend::Sqlite {
            let txn = begin(&self.db).await?;
            let outcome = txn.query_all_raw(statement).await.map_err(store_error);
            finish(txn, outcome).await
        } else {
            let outcome = self.db.query_all_raw(statement).await;
            if let Err(err) = &outcome {
                evict_if_lost(&self.db, err).await;
            }
            outcome.map_err(store_error)
        }
    }

    /// Applies `update` (a `SET …` list, with its parameters) to the rows of `ids` still
    /// held by `worker`, in chunks; returns how many rows changed.
    async fn update_held(
        &self,
        worker: &WorkerId,
        ids: &[EventId],
        update: impl Fn(&mut Params) -> String,
    ) -> Result<u64, StoreError> {
        let mut changed = 0;
        for chunk in ids.chunks(IDS_PER_STATEMENT) {
            let mut params = Params::new(self.backend());
            let set = update(&mut params);
            let holder = params.bind(worker.as_str());
            let in_ids = params.ids(chunk);
            let sql = format!(
                "UPDATE outbox_events SET {set} \
                 WHERE status = 'processing' AND locked_by = {holder} AND {in_ids}"
            );
            changed += self.execute(params.statement(sql)).await?.rows_affected();
        }
        Ok(changed)
    }
}

/// The SQL of a completed event's payload: a mail event's (topic starting with
/// [`MAIL_TOPIC_PREFIX`]) without its [`MAIL_SECRET_MEMBER`], any other unchanged. Both are
/// constants of keel-domain, not input, written into the statement as literals; a unit test
/// keeps them plain words that need no quoting.
fn payload_without_mail_secret(backend: DbBackend) -> String {
    let without = match backend {
        DbBackend::Postgres => format!("payload - '{MAIL_SECRET_MEMBER}'"),
        _ => format!("json_remove(payload, '$.{MAIL_SECRET_MEMBER}')"),
    };
    format!(
        "CASE WHEN substr(topic, 1, {len}) = '{MAIL_TOPIC_PREFIX}' THEN {without} ELSE payload END",
        len = MAIL_TOPIC_PREFIX.len()
    )
}

#[async_trait]
impl Outbox for SeaOutbox {
    #[tracing::instrument(name = "db.outbox.claim", level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn claim(
        &self,
        worker: &WorkerId,
        limit: u32,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let backend = self.backend();
        let mut params = Params::new(backend);
        let holder = params.bind(worker.as_str());
        let until = params.instant(lease_until);
        let due = params.instant(now);
        let expired = params.instant(now);
        let limit = params.bind(i64::from(limit));
        let lock = if backend == DbBackend::Postgres {
            "FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE outbox_events SET status = 'processing', locked_by = {holder}, locked_until = {until}, \
                 attempts = CASE WHEN status = 'processing' THEN attempts + 1 ELSE attempts END, \
                 last_error = CASE WHEN status = 'processing' \
                     THEN 'lease expired before an outcome was recorded' ELSE last_error END \
             WHERE id IN ( \
                 SELECT id FROM outbox_events \
                 WHERE (status = 'pending' AND available_at <= {due}) \
                    OR (status = 'processing' AND (locked_until IS NULL OR locked_until <= {expired})) \
                 ORDER BY available_at, id \
                 LIMIT {limit} {lock} \
             ) \
             RETURNING *"
        );
        let rows = self.query(params.statement(sql)).await?;
        let mut events = rows
            .iter()
            .map(|row| {
                outbox_event::Model::from_query_result(row, "")
                    .map_err(|err| unreadable(format!("claimed outbox row: {err}")))
                    .and_then(to_event)
            })
            .collect::<Result<Vec<_>, _>>()?;
        events.sort_by_key(|event| event.id);
        Ok(events)
    }

    #[tracing::instrument(name = "db.outbox.complete", skip_all, fields(otel.kind = "client"))]
    async fn complete(
        &self,
        worker: &WorkerId,
        ids: &[EventId],
        at: Timestamp,
    ) -> Result<u64, StoreError> {
        let payload = payload_without_mail_secret(self.backend());
        self.update_held(worker, ids, |params| {
            let at = params.instant(at);
            format!(
                "status = 'completed', processed_at = {at}, locked_until = NULL, \
                 payload = {payload}"
            )
        })
        .await
    }

    #[tracing::instrument(name = "db.outbox.fail", skip_all, fields(otel.kind = "client"))]
    async fn fail(
        &self,
        worker: &WorkerId,
        id: EventId,
        outcome: FailureOutcome,
        error: &str,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        let attempts = i32::try_from(outcome.attempts()).unwrap_or(i32::MAX);
        let changed = self
            .update_held(worker, &[id], |params| {
                let attempts = params.bind(attempts);
                let error = params.bind(error);
                match outcome {
                    FailureOutcome::Retry { available_at, .. } => {
                        let available_at = params.instant(available_at);
                        format!(
                            "status = 'pending', attempts = {attempts}, last_error = {error}, \
                             available_at = {available_at}, locked_by = NULL, locked_until = NULL"
                        )
                    }
                    FailureOutcome::DeadLetter { .. } => {
                        let at = params.instant(at);
                        format!(
                            "status = 'failed', attempts = {attempts}, last_error = {error}, \
                             processed_at = {at}, locked_by = NULL, locked_until = NULL"
                        )
                    }
                }
            })
            .await?;
        Ok(changed == 1)
    }

    #[tracing::instrument(name = "db.outbox.release", skip_all, fields(otel.kind = "client"))]
    async fn release(&self, worker: &WorkerId, ids: &[EventId]) -> Result<u64, StoreError> {
        self.update_held(worker, ids, |_| {
            "status = 'pending', locked_by = NULL, locked_until = NULL".to_owned()
        })
        .await
    }

    #[tracing::instrument(name = "db.outbox.requeue_failed", skip_all, fields(otel.kind = "client"))]
    async fn requeue_failed(
        &self,
        topic: Option<String>,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let backend = self.backend();
        let mut params = Params::new(backend);
        let now = params.instant(now);
        let scope = match topic {
            Some(topic) => format!(" AND topic = {}", params.bind(topic)),
            None => String::new(),
        };
        let sql = format!(
            "UPDATE outbox_events SET status = 'pending', attempts = 0, available_at = {now}, \
             processed_at = NULL, locked_by = NULL, locked_until = NULL \
             WHERE status = 'failed'{scope}"
        );
        let txn = begin(&self.db).await?;
        let outcome = async {
            let requeued = txn
                .execute_raw(params.statement(sql))
                .await
                .map_err(store_error)?
                .rows_affected();
            if backend == DbBackend::Postgres && requeued > 0 {
                // Delivered at commit. Unlike the write transactions (see `crate::waker`),
                // this rare administrative command may notify inside its transaction.
                txn.execute_unprepared(&format!(
                    "SELECT pg_notify('{}', '')",
                    keel_migrations::OUTBOX_NOTIFY_CHANNEL
                ))
                .await
                .map_err(store_error)?;
            }
            Ok(requeued)
        }
        .await;
        finish(txn, outcome).await
    }

    #[tracing::instrument(name = "db.outbox.purge_completed", skip_all, fields(otel.kind = "client"))]
    async fn purge_completed(&self, before: Timestamp) -> Result<u64, StoreError> {
        let mut purged = 0;
        loop {
            let mut params = Params::new(self.backend());
            let before = params.instant(before);
            let chunk = params.bind(i64::from(PURGE_CHUNK));
            let sql = format!(
                "DELETE FROM outbox_events WHERE id IN ( \
                     SELECT id FROM outbox_events \
                     WHERE status = 'completed' AND processed_at < {before} \
                     LIMIT {chunk})"
            );
            let deleted = self.execute(params.statement(sql)).await?.rows_affected();
            purged += deleted;
            if deleted < u64::from(PURGE_CHUNK) {
                return Ok(purged);
            }
        }
    }

    #[tracing::instrument(name = "db.outbox.stats", level = "debug", skip_all, fields(otel.kind = "client"))]
    async fn stats(&self) -> Result<OutboxStats, StoreError> {
        let backend = self.backend();
        let rows = once_more_if_lost(&self.db, || {
            self.db.query_all_raw(Statement::from_string(
                backend,
                "SELECT status, COUNT(*) AS events, MIN(created_at) AS oldest FROM outbox_events \
                 WHERE status IN ('pending', 'processing', 'failed') GROUP BY status",
            ))
        })
        .await
        .map_err(store_error)?;
        let mut stats = OutboxStats::default();
        for row in rows {
            let status: String = row.try_get("", "status").map_err(read_error)?;
            let count: i64 = row.try_get("", "events").map_err(read_error)?;
            let count = u64::try_from(count).unwrap_or(0);
            let oldest = match backend {
                DbBackend::Sqlite => row
                    .try_get::<Option<String>>("", "oldest")
                    .map_err(read_error)?
                    .map(|text| {
                        OffsetDateTime::parse(&text, &Rfc3339)
                            .map_err(|err| unreadable(format!("outbox created_at {text:?}: {err}")))
                    })
                    .transpose()?,
                _ => row
                    .try_get::<Option<OffsetDateTime>>("", "oldest")
                    .map_err(read_error)?,
            }
            .map(instant::read);
            match status.as_str() {
                "pending" => stats.pending = count,
                "processing" => stats.processing = count,
                "failed" => {
                    stats.failed = count;
                    continue;
                }
                other => return Err(unreadable(format!("outbox status {other:?}"))),
            }
            stats.oldest_pending = match (stats.oldest_pending, oldest) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        Ok(stats)
    }
}

fn read_error(err: DbErr) -> StoreError {
    unreadable(format!("outbox statistics: {err}"))
}

fn to_event(row: outbox_event::Model) -> Result<OutboxEvent, StoreError> {
    let attempts = u32::try_from(row.attempts).map_err(|_| {
        unreadable(format!(
            "outbox event {} has {} attempts",
            row.id, row.attempts
        ))
    })?;
    let payload = serde_json::to_string(&row.payload)
        .map_err(|err| unreadable(format!("outbox event {} payload: {err}", row.id)))?;
    Ok(OutboxEvent {
        id: EventId::new(row.id),
        key: EventKey::new(row.event_key),
        topic: row.topic,
        payload,
        attempts,
        created_at: instant::read(row.created_at),
    })
}

/// Why the outbox listener could not be started.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen for outbox notifications")]
pub struct ListenError(#[source] sea_orm::sqlx::Error);

/// What ended a [`OutboxListener::wait`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// Events were committed.
    Notified,
    /// Nothing arrived in time: poll anyway.
    TimedOut,
    /// The notification connection dropped (it reconnects on the next wait); notifications
    /// may have been missed, so poll now.
    ConnectionLost,
}

/// Wakes a worker when events commit: `LISTEN` on the channel the api's wake-ups
/// ([`crate::PgNotifyWaker`]) and `requeue-failed` notify (PostgreSQL only; SQLite workers
/// poll).
pub struct OutboxListener {
    listener: PgListener,
}

impl std::fmt::Debug for OutboxListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxListener").finish_non_exhaustive()
    }
}

impl OutboxListener {
    /// Listens on `url`'s database; `Ok(None)` for a URL that is not PostgreSQL.
    ///
    /// # Errors
    /// [`ListenError`] when PostgreSQL cannot be reached.
    pub async fn connect(url: &str) -> Result<Option<Self>, ListenError> {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Ok(None);
        }
        let mut listener = PgListener::connect(url).await.map_err(ListenError)?;
        listener
            .listen(keel_migrations::OUTBOX_NOTIFY_CHANNEL)
            .await
            .map_err(ListenError)?;
        Ok(Some(Self { listener }))
    }

    /// Waits up to `timeout` for a notification. Notifications that arrived meanwhile are
    /// folded into one wake-up.
    pub async fn wait(&mut self, timeout: Duration) -> Wake {
        let wake = match tokio::time::timeout(timeout, self.listener.try_recv()).await {
            Err(_elapsed) => return Wake::TimedOut,
            Ok(Ok(Some(_))) => Wake::Notified,
            Ok(Ok(None)) => Wake::ConnectionLost,
            Ok(Err(error)) => {
                tracing::warn!(%error, "outbox notification connection failed; polling");
                // Reconnecting is attempted on the next wait: not in a tight loop.
                tokio::time::sleep(timeout.min(Duration::from_secs(1))).await;
                Wake::ConnectionLost
            }
        };
        while self.listener.next_buffered().is_some() {}
        wake
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mail_constants_are_plain_words_in_sql_literals() {
        for word in [MAIL_TOPIC_PREFIX, MAIL_SECRET_MEMBER] {
            assert!(
                !word.is_empty()
                    && word
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_'),
                "{word:?} needs quoting in SQL"
            );
        }
        assert_eq!(
            payload_without_mail_secret(DbBackend::Postgres),
            "CASE WHEN substr(topic, 1, 5) = 'mail.' THEN payload - 'token' ELSE payload END"
        );
    }
}
