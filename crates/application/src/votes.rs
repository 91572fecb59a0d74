//! Voting on posts.

use keel_domain::post::PostId;
use keel_domain::vote::{VoteChange, VoteCommand, VoteRuleError};
use keel_ports::{Posts, StoreError, Votes};
use std::sync::Arc;

/// Why a vote failed.
#[derive(Debug, thiserror::Error)]
pub enum VoteError {
    /// No post with this id is visible to the voter.
    #[error("Post with id: {0} does not exist")]
    PostNotFound(PostId),
    /// The vote rules refused the command (already voted, or no vote to remove).
    #[error(transparent)]
    Rule(#[from] VoteRuleError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Adds or removes the caller's vote on a post (`POST /vote`).
#[derive(Clone)]
pub struct CastVote {
    posts: Arc<dyn Posts>,
    votes: Arc<dyn Votes>,
}

impl CastVote {
    /// Wires the use case.
    pub fn new(posts: Arc<dyn Posts>, votes: Arc<dyn Votes>) -> Self {
        Self { posts, votes }
    }

    /// Applies the command; the post is checked before the vote.
    ///
    /// # Errors
    /// [`VoteError::PostNotFound`] first, then the rule errors. Concurrent identical votes end
    /// as [`VoteRuleError::AlreadyVoted`] / [`VoteRuleError::VoteNotFound`], never a failure.
    #[tracing::instrument(name = "use_case.cast_vote", skip_all)]
    pub async fn execute(&self, command: VoteCommand) -> Result<VoteChange, VoteError> {
        let visible = self
            .posts
            .find(command.post)
            .await?
            .is_some_and(|post| post.is_visible_to(command.user));
        if !visible {
            return Err(VoteError::PostNotFound(command.post));
        }
        let exists = self.votes.exists(command.user, command.post).await?;
        let change = command.decide(exists)?;
        let events = command.events(change);
        let stored = match change {
            VoteChange::Add => self.votes.add(command.user, command.post, &events).await,
            VoteChange::Remove => self.votes.remove(command.user, command.post, &events).await,
        };
        match (stored, change) {
            (Ok(()), _) => Ok(change),
            (Err(StoreError::Conflict), VoteChange::Add) => Err(VoteRuleError::AlreadyVoted {
                user: command.user,
                post: command.post,
            }
            .into()),
            (Err(StoreError::Missing), VoteChange::Add) => {
                Err(VoteError::PostNotFound(command.post))
            }
            (Err(StoreError::Missing), VoteChange::Remove) => {
                Err(VoteRuleError::VoteNotFound.into())
            }
            (Err(e), _) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use keel_domain::event::DomainEvent;
    use keel_domain::user::UserId;
    use keel_domain::vote::Direction;
    use keel_ports::{MockPosts, MockVotes};

    fn command(direction: Direction) -> VoteCommand {
        VoteCommand {
            user: UserId::new(1),
            post: PostId::new(7),
            direction,
        }
    }

    fn posts_with(post: Option<keel_domain::post::Post>) -> MockPosts {
        let mut posts = MockPosts::new();
        posts.expect_find().returning(move |_| Ok(post.clone()));
        posts
    }

    async fn cast(
        posts: MockPosts,
        votes: MockVotes,
        direction: Direction,
    ) -> Result<VoteChange, VoteError> {
        CastVote::new(Arc::new(posts), Arc::new(votes))
            .execute(command(direction))
            .await
    }

    #[tokio::test]
    async fn an_up_vote_is_stored_with_its_event() {
        let mut votes = MockVotes::new();
        votes.expect_exists().returning(|_, _| Ok(false));
        votes
            .expect_add()
            .withf(|u, p, events| {
                *u == UserId::new(1)
                    && *p == PostId::new(7)
                    && events
                        == [DomainEvent::VoteCreated {
                            post_id: PostId::new(7),
                            user_id: UserId::new(1),
                        }]
            })
            .times(1)
            .returning(|_, _, _| Ok(()));
        assert_eq!(
            cast(posts_with(Some(post(7, 2, true))), votes, Direction::Up)
                .await
                .expect("added"),
            VoteChange::Add
        );
    }

    #[tokio::test]
    async fn removing_a_vote_stores_vote_deleted() {
        let mut votes = MockVotes::new();
        votes.expect_exists().returning(|_, _| Ok(true));
        votes
            .expect_remove()
            .withf(|_, _, events| {
                events
                    == [DomainEvent::VoteDeleted {
                        post_id: PostId::new(7),
                        user_id: UserId::new(1),
                    }]
            })
            .returning(|_, _, _| Ok(()));
        assert_eq!(
            cast(posts_with(Some(post(7, 2, true))), votes, Direction::Remove)
                .await
                .expect("removed"),
            VoteChange::Remove
        );
    }

    #[tokio::test]
    async fn the_post_is_checked_before_the_vote() {
        let err = cast(posts_with(None), MockVotes::new(), Direction::Up)
            .await
            .expect_err("missing post");
        assert!(matches!(err, VoteError::PostNotFound(id) if id == PostId::new(7)));
        assert_eq!(err.to_string(), "Post with id: 7 does not exist");
        // Someone else's draft is as good as missing.
        let err = cast(
            posts_with(Some(post(7, 2, false))),
            MockVotes::new(),
            Direction::Up,
        )
        .await
        .expect_err("draft");
        assert!(matches!(err, VoteError::PostNotFound(_)));
    }

    #[tokio::test]
    async fn rule_errors_come_from_the_domain() {
        let mut votes = MockVotes::new();
        votes.expect_exists().returning(|_, _| Ok(true));
        let err = cast(posts_with(Some(post(7, 2, true))), votes, Direction::Up)
            .await
            .expect_err("already");
        assert_eq!(err.to_string(), "user 1 has already voted on post 7");

        let mut votes = MockVotes::new();
        votes.expect_exists().returning(|_, _| Ok(false));
        let err = cast(posts_with(Some(post(7, 2, true))), votes, Direction::Remove)
            .await
            .expect_err("none");
        assert!(matches!(err, VoteError::Rule(VoteRuleError::VoteNotFound)));
    }

    #[tokio::test]
    async fn races_end_as_rule_errors_not_failures() {
        let mut votes = MockVotes::new();
        votes.expect_exists().returning(|_, _| Ok(false));
        votes
            .expect_add()
            .returning(|_, _, _| Err(StoreError::Conflict));
        let err = cast(posts_with(Some(post(7, 2, true))), votes, Direction::Up)
            .await
            .expect_err("lost race");
        assert!(matches!(
            err,
            VoteError::Rule(VoteRuleError::AlreadyVoted { .. })
        ));

        let mut votes = MockVotes::new();
        votes.expect_exists().returning(|_, _| Ok(false));
        votes
            .expect_add()
            .returning(|_, _, _| Err(StoreError::Missing));
        let err = cast(posts_with(Some(post(7, 2, true))), votes, Direction::Up)
            .await
            .expect_err("post deleted");
        assert!(matches!(err, VoteError::PostNotFound(_)));

        let mut votes = MockVotes::new();
        votes.expect_exists().returning(|_, _| Ok(true));
        votes
            .expect_remove()
            .returning(|_, _, _| Err(StoreError::Missing));
        let err = cast(posts_with(Some(post(7, 2, true))), votes, Direction::Remove)
            .await
            .expect_err("removed twice");
        assert!(matches!(err, VoteError::Rule(VoteRuleError::VoteNotFound)));
    }

    #[tokio::test]
    async fn store_failures_surface() {
        let mut posts = MockPosts::new();
        posts.expect_find().returning(|_| Err(unavailable()));
        let err = cast(posts, MockVotes::new(), Direction::Up)
            .await
            .expect_err("down");
        assert!(matches!(err, VoteError::Store(StoreError::Unavailable(_))));

        let mut votes = MockVotes::new();
        votes.expect_exists().returning(|_, _| Ok(true));
        votes
            .expect_remove()
            .returning(|_, _, _| Err(unavailable()));
        let err = cast(posts_with(Some(post(7, 2, true))), votes, Direction::Remove)
            .await
            .expect_err("down");
        assert!(matches!(err, VoteError::Store(_)));
    }
}
