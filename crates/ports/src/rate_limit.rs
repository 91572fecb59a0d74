//! Fixed-window hit counters, the storage side of rate limiting.
//!
//! The domain decides which counter a request is charged to and what a count means
//! ([`keel_domain::rate_limit`]); a [`RateLimiter`] only counts.

use crate::BoxError;
use async_trait::async_trait;
use keel_domain::rate_limit::Counter;

/// Why hits could not be counted.
#[derive(Debug, thiserror::Error)]
pub enum RateLimiterError {
    /// The backend could not be reached or did not answer in time (a backend that is merely
    /// full makes room instead). The caller decides whether to serve the request anyway (fail
    /// open).
    #[error("the rate limiter backend is unavailable")]
    Unavailable(#[source] BoxError),
}

/// Counts hits on fixed-window counters.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Adds one hit to each of `counters` and returns each counter's count in its window, this
    /// hit included, in the order given.
    ///
    /// Contract:
    /// - each counter is incremented and, when this hit created it, given its expiry of
    ///   [`Counter::ttl_seconds`] atomically: no concurrent hit is lost, no counter lives
    ///   without an expiry, and a counter whose expiry passed counts from zero again;
    /// - a request already refused is not charged to its other budgets: when some of
    ///   `counters` already hold their [`Counter::limit`], only those are incremented, and the
    ///   others answer their current count untouched (0, and not created, when absent) — so
    ///   a refused login neither spends the budget of the account it names nor creates a
    ///   counter for it;
    /// - a remote backend counts all of `counters` in one round trip;
    /// - it returns within about a second, whatever the backend does; it never waits for a
    ///   backend that is down, and uses a backend that came back without a restart.
    ///
    /// # Errors
    /// [`RateLimiterError::Unavailable`] when nothing could be counted.
    async fn hit(&self, counters: &[Counter]) -> Result<Vec<u64>, RateLimiterError>;

    /// Whether the backend answers (for readiness).
    ///
    /// # Errors
    /// [`RateLimiterError::Unavailable`] when it does not.
    async fn ping(&self) -> Result<(), RateLimiterError>;
}
