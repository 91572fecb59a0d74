//! Stored votes.

use crate::StoreError;
use async_trait::async_trait;
use keel_domain::event::DomainEvent;
use keel_domain::post::PostId;
use keel_domain::user::UserId;
use keel_domain::vote::VoteChange;

/// What [`Votes::cast`] found, and so whether it wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoteCast {
    /// No post with this id is visible to the voter (it does not exist, or it is someone
    /// else's draft — [`Post::is_visible_to`](keel_domain::post::Post::is_visible_to)):
    /// nothing was written.
    PostNotVisible,
    /// The post is visible; `already_voted` says whether the voter's vote existed when the
    /// change was attempted. The change, its count and its events were written exactly when
    /// that allowed it ([`VoteChange::needs_existing_vote`] `== already_voted`), else nothing.
    Found {
        /// Whether the voter's vote on the post existed.
        already_voted: bool,
    },
}

/// Stored votes, one per (user, post), with the post's vote count kept equal to its number of
/// votes in the same transaction.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait Votes: Send + Sync {
    /// Makes `change` of `user`'s vote on `post` — adds the vote and increments the post's
    /// count, or deletes it and decrements the count — and stores `events`, all atomically,
    /// provided the post is visible to `user` and the vote's existence allows the change
    /// ([`VoteChange::needs_existing_vote`]). Visibility, the vote's existence and the write
    /// are one atomic step, so what it reports is what the change was decided on.
    ///
    /// Of concurrent identical adds exactly one writes and the others report
    /// `already_voted: true`; of concurrent identical removals one writes and the others report
    /// `already_voted: false` — races end as findings, never as errors.
    ///
    /// # Errors
    /// [`StoreError::Missing`] when the post or the user vanished during the change (nothing is
    /// written); any other [`StoreError`] when the store fails.
    async fn cast(
        &self,
        user: UserId,
        post: PostId,
        change: VoteChange,
        events: &[DomainEvent],
    ) -> Result<VoteCast, StoreError>;
}
