//! Translating database failures into the ports' [`StoreError`] vocabulary.
//!
//! The mapping is the contract use cases rely on: a unique or primary-key violation is a
//! [`StoreError::Conflict`] (someone got there first), a foreign-key violation is a
//! [`StoreError::Missing`] (a referenced row is gone), failures to reach the database or to win
//! a lock in time are [`StoreError::Unavailable`] (transient: retrying may succeed), and
//! anything else is [`StoreError::Unexpected`].

use keel_ports::StoreError;
use sea_orm::sqlx;
use sea_orm::{DbErr, RuntimeErr, SqlErr};

/// Maps a SeaORM error to the port vocabulary (see the module docs).
pub(crate) fn store_error(err: DbErr) -> StoreError {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => StoreError::Conflict,
        Some(SqlErr::ForeignKeyConstraintViolation(_)) => StoreError::Missing,
        _ if is_transient(&err) => StoreError::Unavailable(Box::new(err)),
        _ => StoreError::Unexpected(Box::new(err)),
    }
}

/// Whether `err` is PostgreSQL refusing a row for violating the constraint named `constraint`.
pub(crate) fn violates(err: &DbErr, constraint: &str) -> bool {
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(inner)) | DbErr::Query(RuntimeErr::SqlxError(inner)) => {
            matches!(inner.as_ref(), sqlx::Error::Database(db) if db.constraint() == Some(constraint))
        }
        _ => false,
    }
}

/// Whether PostgreSQL refused a statement for one of its rows — a data exception (SQLSTATE
/// class 22) or an integrity constraint violation (class 23) — or chose it as a deadlock's
/// victim (40P01): either way nothing of the statement was applied.
pub(crate) fn is_refused_row(err: &DbErr) -> bool {
    let (DbErr::Exec(RuntimeErr::SqlxError(inner)) | DbErr::Query(RuntimeErr::SqlxError(inner))) =
        err
    else {
        return false;
    };
    match inner.as_ref() {
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("22") || code.starts_with("23") || code == "40P01"
        }),
        _ => false,
    }
}

/// A stored value this build cannot read back (a bug or corrupt data).
#[derive(Debug, thiserror::Error)]
#[error("unreadable stored value: {0}")]
pub(crate) struct Unreadable(pub(crate) String);

/// A [`StoreError::Unexpected`] for a row whose content violates a domain invariant.
pub(crate) fn unreadable(what: impl Into<String>) -> StoreError {
    StoreError::Unexpected(Box::new(Unreadable(what.into())))
}

fn is_transient(err: &DbErr) -> bool {
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(inner)) | DbErr::Query(RuntimeErr::SqlxError(inner)) => {
            match inner.as_ref() {
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed => true,
                sqlx::Error::Database(db) => db.code().is_some_and(|code| is_transient_code(&code)),
                _ => false,
            }
        }
        _ => false,
    }
}

/// SQLSTATE classes and SQLite result codes that mean "not now" rather than "never".
fn is_transient_code(code: &str) -> bool {
    // PostgreSQL: connection exceptions (08…), insufficient resources (53…), operator
    // intervention such as a shutdown (57P…), serialization failure and deadlock.
    code.starts_with("08")
        || code.starts_with("53")
        || code.starts_with("57P")
        || code == "40001"
        || code == "40P01"
        // SQLite: SQLITE_BUSY (5) and SQLITE_LOCKED (6) with their extended codes.
        || code.parse::<u32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_codes_cover_both_backends() {
        for code in [
            "08006", "53300", "57P01", "40001", "40P01", "5", "261", "517", "6",
        ] {
            assert!(is_transient_code(code), "{code} should be transient");
        }
        for code in ["23505", "23503", "42P01", "1555", "2067", "787", "1"] {
            assert!(!is_transient_code(code), "{code} should not be transient");
        }
    }

    #[test]
    fn connection_failures_are_unavailable() {
        let err = store_error(DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout));
        assert!(matches!(err, StoreError::Unavailable(_)));
        let err = store_error(DbErr::Custom("boom".into()));
        assert!(matches!(err, StoreError::Unexpected(_)));
    }
}
