//! The source of the current time.

use keel_domain::Timestamp;

/// Tells the time. Use cases never read the system clock themselves, so tests control it.
#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait Clock: Send + Sync {
    /// The current instant (microsecond precision, UTC).
    fn now(&self) -> Timestamp;
}
