//! Recovering from pooled connections the database has dropped, without failing a request and
//! at no cost while the database is healthy.
//!
//! The pool hands out an idle connection without a round trip (only one idle for 30 s is pinged
//! first). After PostgreSQL restarts (or fails over, or an administrator terminates backends),
//! every idle connection in the pool is dead, and each would fail the request it is handed to.
//! Instead, the first operation that fails because its connection was lost ([`is_lost`]):
//!
//! 1. evicts every idle connection of its pool ([`evict_idle`]): they were opened before the
//!    loss, most likely to the same server process, so a new connection is opened per request
//!    until the pool has refilled — one reconnect per pooled connection, once per incident;
//! 2. runs once more — on a connection opened afresh — when running it twice is safe
//!    ([`once_more_if_lost`]):
//!    - a read;
//!    - `BEGIN` (see `transaction::begin`): nothing of the transaction has reached the server,
//!      and a dead pooled connection always fails on its first round trip, which for a write is
//!      its `BEGIN`;
//!    - an idempotent write (one whose second run changes nothing the first did not).
//!
//! Never run twice: a `COMMIT`, and a single non-idempotent statement outside a transaction —
//! after a lost connection either may have been applied by the server, and a second run could
//! apply it twice. Those fail as [`keel_ports::StoreError::Unavailable`] (503) as before; their
//! pool is still evicted, so the next request finds a live connection.
//!
//! On PostgreSQL the post writes and the votes are single statements outside a transaction
//! (the change and its outbox row in one CTE), so they have no `BEGIN` to retry. A batch of
//! post creations is retried all the same ([`then_if_lost`], see `creations`): its events'
//! keys are unique in the outbox, so a second run after a first that committed fails on a key
//! instead of creating the posts twice, and that failure means "already created" — the posts
//! are the ones recorded under the keys. And in the api every write request reads before it writes (the bearer token's user),
//! which evicts the dead connections before the write runs.
//!
//! SQLite connections are files, not sockets: nothing is evicted there, and its errors are not
//! connection losses.

use sea_orm::{DatabaseConnection, DbBackend, DbErr, RuntimeErr, sqlx};
use std::future::Future;
use std::time::Duration;

/// Closing the evicted connections (a `Terminate` message each) never holds a request longer:
/// a socket to an unreachable host is dropped instead.
const CLOSE_EVICTED_WITHIN: Duration = Duration::from_millis(500);

/// Runs `operation`; when it failed because its connection was lost, evicts the pool's idle
/// connections and runs it once more. Only for operations that are safe to run twice (see the
/// module docs).
///
/// # Errors
/// The error of the second run, or of the first when it was not a lost connection.
pub(crate) async fn once_more_if_lost<T, F, Fut>(
    db: &DatabaseConnection,
    operation: F,
) -> Result<T, DbErr>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, DbErr>>,
{
    then_if_lost(db, operation(), &operation).await
}

/// Awaits `first`; when it failed because its connection was lost, evicts the pool's idle
/// connections and runs `again` on a new one. `again` must be right whether or not `first` was
/// applied by the server (the same operation when it is safe to run twice).
///
/// # Errors
/// The error of `again`, or of `first` when it was not a lost connection.
pub(crate) async fn then_if_lost<T, Fut, G, GFut>(
    db: &DatabaseConnection,
    first: Fut,
    again: G,
) -> Result<T, DbErr>
where
    Fut: Future<Output = Result<T, DbErr>>,
    G: FnOnce() -> GFut,
    GFut: Future<Output = Result<T, DbErr>>,
{
    match first.await {
        Err(err) if is_lost(&err) => {
            let evicted = evict_idle(db).await;
            tracing::warn!(error = %err, evicted, "database connection lost; retrying once on a new connection");
            again().await
        }
        outcome => outcome,
    }
}

/// Evicts the pool's idle connections when `err` is a lost connection (for operations that
/// must not be run again), so that the next operation finds a live one.
pub(crate) async fn evict_if_lost(db: &DatabaseConnection, err: &DbErr) {
    if is_lost(err) {
        let evicted = evict_idle(db).await;
        tracing::warn!(error = %err, evicted, "database connection lost; idle connections evicted");
    }
}

/// Whether `err` means the connection itself is gone: an I/O error on its socket, or the server
/// saying it closes the connection (SQLSTATE class 08, connection exception, or 57P01/57P02,
/// administrator or crash shutdown). A refused *new* connection never gets here: the pool
/// retries those until its acquire timeout.
pub(crate) fn is_lost(err: &DbErr) -> bool {
    let inner = match err {
        DbErr::Conn(RuntimeErr::SqlxError(inner))
        | DbErr::Exec(RuntimeErr::SqlxError(inner))
        | DbErr::Query(RuntimeErr::SqlxError(inner)) => inner.as_ref(),
        _ => return false,
    };
    match inner {
        sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code.starts_with("08") || code == "57P01" || code == "57P02"),
        _ => false,
    }
}

/// Takes every idle connection out of the pool and closes it; returns how many. Connections
/// in use are left alone: one that is dead fails its own operation, which evicts again, and
/// one released back to the pool is tested by the pool on release.
pub(crate) async fn evict_idle(db: &DatabaseConnection) -> usize {
    if db.get_database_backend() != DbBackend::Postgres {
        return 0;
    }
    let pool = db.get_postgres_connection_pool();
    let mut idle = Vec::new();
    while let Some(connection) = pool.try_acquire() {
        // Out of the pool's count at once, so the pool opens replacements.
        idle.push(connection.detach());
    }
    let evicted = idle.len();
    let close_all = async {
        for connection in idle {
            // A dead connection's close fails; that is expected.
            let _ = sqlx::Connection::close(connection).await;
        }
    };
    // Whatever is not closed in time is dropped, which closes its socket.
    let _ = tokio::time::timeout(CLOSE_EVICTED_WITHIN, close_all).await;
    evicted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(kind: std::io::ErrorKind) -> DbErr {
        DbErr::Query(RuntimeErr::SqlxError(
            sqlx::Error::Io(std::io::Error::from(kind)).into(),
        ))
    }

    #[test]
    fn socket_errors_are_lost_connections_and_pool_timeouts_are_not() {
        assert!(is_lost(&io(std::io::ErrorKind::ConnectionReset)));
        assert!(is_lost(&io(std::io::ErrorKind::UnexpectedEof)));
        assert!(!is_lost(&DbErr::ConnectionAcquire(
            sea_orm::ConnAcquireErr::Timeout
        )));
        assert!(!is_lost(&DbErr::Custom("boom".into())));
        assert!(!is_lost(&DbErr::Query(RuntimeErr::SqlxError(
            sqlx::Error::RowNotFound.into()
        ))));
    }
}
