//! Stored votes.

use crate::StoreError;
use async_trait::async_trait;
use keel_domain::event::DomainEvent;
use keel_domain::post::PostId;
use keel_domain::user::UserId;

/// Stored votes, one per (user, post), with the post's vote count kept equal to its number of
/// votes in the same transaction.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait Votes: Send + Sync {
    /// Whether `user` has voted on `post`.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn exists(&self, user: UserId, post: PostId) -> Result<bool, StoreError>;

    /// Stores the vote, increments the post's count and stores `events`, atomically.
    ///
    /// # Errors
    /// MUST return [`StoreError::Conflict`] when the vote already exists (two concurrent
    /// identical votes: exactly one succeeds) and [`StoreError::Missing`] when the post is gone.
    async fn add(
        &self,
        user: UserId,
        post: PostId,
        events: &[DomainEvent],
    ) -> Result<(), StoreError>;

    /// Deletes the vote, decrements the post's count and stores `events`, atomically.
    ///
    /// # Errors
    /// MUST return [`StoreError::Missing`] when there is no such vote.
    async fn remove(
        &self,
        user: UserId,
        post: PostId,
        events: &[DomainEvent],
    ) -> Result<(), StoreError>;
}
