//! How instants cross the database boundary.
//!
//! PostgreSQL stores `timestamptz` and gets `OffsetDateTime` parameters. SQLite has no time
//! type: instants are stored as fixed-width RFC 3339 text with six fractional digits and a `Z`
//! ([`Timestamp::to_rfc3339`]), so that comparing or sorting the text compares or sorts the
//! instants. The driver's own `OffsetDateTime` binding would write a variable number of
//! fractional digits, which sorts wrongly; hence every instant this crate writes or compares
//! goes through [`value`]. Reading accepts both (the driver parses RFC 3339).

use keel_domain::Timestamp;
use sea_orm::{DbBackend, Value};
use time::OffsetDateTime;

/// The parameter that stores or compares with `at` on `backend`.
pub(crate) fn value(backend: DbBackend, at: Timestamp) -> Value {
    match backend {
        DbBackend::Sqlite => Value::String(Some(at.to_rfc3339())),
        _ => Value::TimeDateTimeWithTimeZone(Some(at.as_offset_date_time())),
    }
}

/// [`value`] for a nullable column.
pub(crate) fn optional(backend: DbBackend, at: Option<Timestamp>) -> Value {
    match (backend, at) {
        (_, Some(at)) => value(backend, at),
        (DbBackend::Sqlite, None) => Value::String(None),
        (_, None) => Value::TimeDateTimeWithTimeZone(None),
    }
}

/// A stored instant as the domain type (stored values already have microsecond precision).
pub(crate) fn read(stored: OffsetDateTime) -> Timestamp {
    Timestamp::new(stored)
}

/// The current instant, for rows the ports give no time for (outbox bookkeeping).
pub(crate) fn now() -> Timestamp {
    Timestamp::new(OffsetDateTime::now_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn sqlite_text_is_fixed_width_so_it_sorts_like_time() {
        let whole = Timestamp::new(datetime!(2026-01-01 00:00:00 UTC));
        let half = Timestamp::new(datetime!(2026-01-01 00:00:00.5 UTC));
        let (Value::String(Some(a)), Value::String(Some(b))) = (
            value(DbBackend::Sqlite, whole),
            value(DbBackend::Sqlite, half),
        ) else {
            panic!("SQLite instants are text");
        };
        assert_eq!(a, "2026-01-01T00:00:00.000000Z");
        assert!(a < b);
        assert_eq!(a.len(), b.len());
    }

    #[test]
    fn postgres_gets_a_typed_instant_and_typed_nulls() {
        let at = Timestamp::new(datetime!(2026-01-01 00:00:00.123456 UTC));
        assert_eq!(
            value(DbBackend::Postgres, at),
            Value::TimeDateTimeWithTimeZone(Some(at.as_offset_date_time()))
        );
        assert_eq!(
            optional(DbBackend::Postgres, None),
            Value::TimeDateTimeWithTimeZone(None)
        );
        assert_eq!(optional(DbBackend::Sqlite, None), Value::String(None));
    }
}
