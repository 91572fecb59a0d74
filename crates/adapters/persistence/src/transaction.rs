//! Write transactions: how every state change of this crate begins and ends.
//!
//! On SQLite a write transaction starts with `BEGIN IMMEDIATE`: it takes the write lock up
//! front, so a concurrent writer waits on the busy timeout instead of failing with
//! `SQLITE_BUSY` when a deferred transaction tries to upgrade its read lock. PostgreSQL uses its
//! default (`READ COMMITTED`); races surface as unique-key violations or as optimistic version
//! mismatches, never as lost updates.
//!
//! `BEGIN` is run once more on a new connection when its pooled connection turns out to be lost
//! (see `lost_connection`): nothing of the transaction has reached the server yet, so no write
//! can be applied twice. Statements after it, and `COMMIT`, are never retried here.

use crate::error::store_error;
use crate::lost_connection::once_more_if_lost;
use crate::waker::Wakeup;
use keel_ports::StoreError;
use sea_orm::{
    DatabaseConnection, DatabaseTransaction, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};

/// Starts a write transaction (on a new connection if the pooled one was lost).
pub(crate) async fn begin(db: &DatabaseConnection) -> Result<DatabaseTransaction, StoreError> {
    once_more_if_lost(db, || {
        db.begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        })
    })
    .await
    .map_err(store_error)
}

/// Commits when `outcome` is `Ok`, rolls back otherwise, and returns the outcome (or the commit
/// failure).
pub(crate) async fn finish<T>(
    txn: DatabaseTransaction,
    outcome: Result<T, StoreError>,
) -> Result<T, StoreError> {
    match outcome {
        Ok(value) => {
            txn.commit().await.map_err(store_error)?;
            Ok(value)
        }
        Err(err) => {
            if let Err(rollback) = txn.rollback().await {
                // The connection is discarded by the driver; the original error is what matters.
                tracing::warn!(error = %rollback, "rolling back a failed write transaction failed");
            }
            Err(err)
        }
    }
}

/// [`finish`] for a transaction that appended outbox events: once the commit succeeded, wakes
/// the outbox's workers — after the commit, so they find the events, and outside the
/// transaction, so the commit does not notify (see [`crate::waker`]).
pub(crate) async fn finish_and_wake<T>(
    txn: DatabaseTransaction,
    outcome: Result<T, StoreError>,
    wakeup: &Wakeup,
) -> Result<T, StoreError> {
    let value = finish(txn, outcome).await?;
    wakeup.wake();
    Ok(value)
}
