//! The outbox as the relay sees it: claiming due events under a lease and recording what
//! became of each delivery.

use crate::StoreError;
use async_trait::async_trait;
use keel_domain::Timestamp;
use keel_domain::outbox::{EventId, FailureOutcome, OutboxEvent, WorkerId};

/// How many events are where, for the backlog metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboxStats {
    /// Events waiting for delivery (`pending`, due or scheduled for a retry).
    pub pending: u64,
    /// Events claimed by a worker (`processing`).
    pub processing: u64,
    /// Dead letters (`failed`), waiting for a requeue.
    pub failed: u64,
    /// When the oldest event not yet delivered (pending or processing) was recorded.
    pub oldest_pending: Option<Timestamp>,
}

/// The stored outbox (`outbox_events`), from the delivery side. The write side — appending
/// events with their change — is part of each storage port's contract.
///
/// Every method that changes an event claimed by a worker acts only on events that worker
/// still holds (`status = processing` and `locked_by = worker`): a worker whose lease expired
/// and whose events were claimed by another can no longer change them.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Claims up to `limit` events that are claimable at `now`
    /// ([`StoredState::is_claimable`](keel_domain::outbox::StoredState::is_claimable): pending
    /// and due, or processing under an expired lease), oldest due first: marks them
    /// `processing`, held by `worker` until `lease_until`, and returns them in ascending id
    /// order. The selection happens in the store (never by filtering after a limit). An event
    /// taken over from an expired lease comes back with one more failed attempt (its worker
    /// recorded no outcome).
    ///
    /// MUST never hand one event to two workers whose claims overlap in time: concurrent
    /// claims get disjoint events (PostgreSQL: `FOR UPDATE SKIP LOCKED`).
    ///
    /// # Errors
    /// [`StoreError`] when the store fails; nothing is claimed then.
    async fn claim(
        &self,
        worker: &WorkerId,
        limit: u32,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Vec<OutboxEvent>, StoreError>;

    /// Marks the events `completed` at `at` (delivered to every sink). Returns how many were
    /// still held by `worker` and so were marked; the others are left alone.
    ///
    /// A completed mail event keeps no secret: in the same change, each marked event whose
    /// topic starts with [`MAIL_TOPIC_PREFIX`](keel_domain::event::MAIL_TOPIC_PREFIX) loses the
    /// [`MAIL_SECRET_MEMBER`](keel_domain::event::MAIL_SECRET_MEMBER) of its payload (the raw
    /// one-time token, needed only until the mail is sent). Other payloads stay as they are.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails; nothing is marked then.
    async fn complete(
        &self,
        worker: &WorkerId,
        ids: &[EventId],
        at: Timestamp,
    ) -> Result<u64, StoreError>;

    /// Records a failed delivery at `at` with its (already truncated) `error`: a
    /// [`FailureOutcome::Retry`] makes the event pending again from `available_at` with the
    /// new attempt count, a [`FailureOutcome::DeadLetter`] marks it `failed`. The lease is
    /// dropped either way. Returns whether the event was still held by `worker`.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails; the event stays claimed until its lease expires.
    async fn fail(
        &self,
        worker: &WorkerId,
        id: EventId,
        outcome: FailureOutcome,
        error: &str,
        at: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Gives events back undelivered (shutdown, or a lease about to run out): they become
    /// pending again at once, without counting an attempt. Returns how many were still held by
    /// `worker`.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails; the events come back when their lease expires.
    async fn release(&self, worker: &WorkerId, ids: &[EventId]) -> Result<u64, StoreError>;

    /// Makes dead letters (`failed`) pending again, due at `now` with zero attempts — all of
    /// them, or those of one `topic`. Returns how many. On PostgreSQL, waiting workers are
    /// woken.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails; nothing changes then.
    async fn requeue_failed(
        &self,
        topic: Option<String>,
        now: Timestamp,
    ) -> Result<u64, StoreError>;

    /// Deletes `completed` events processed before `before`. Returns how many. Pending,
    /// processing and failed events are never purged.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn purge_completed(&self, before: Timestamp) -> Result<u64, StoreError>;

    /// Counts events by delivery state.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn stats(&self) -> Result<OutboxStats, StoreError>;
}
