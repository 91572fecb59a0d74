//! Waking the outbox's workers once events have committed.

/// Tells the outbox's workers that events were committed, so that they claim them now instead
/// of at their next poll.
///
/// A wake-up is a hint, not a delivery: workers claim from the stored outbox and keep polling,
/// so a lost wake-up costs latency (up to the poll interval), never an event. Callers wake
/// *after* the commit of the change that recorded the events, outside its transaction: a
/// worker woken earlier could miss them.
///
/// Implementations MUST return at once, never fail the caller and never block on I/O, and
/// SHOULD coalesce: a burst of commits costs one wake-up per short interval (per process),
/// whatever the write rate, and every call is followed by a wake-up sent after it.
#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait OutboxWaker: Send + Sync {
    /// Signals that outbox events were committed.
    fn wake(&self);
}
