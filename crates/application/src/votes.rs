//! Voting on posts.
//!
//! The domain decides ([`VoteCommand::decide`]); the store makes the requested change and
//! reports what it found in the same atomic step ([`Votes::cast`]), so a vote is one store call:
//! no read of the post or of the vote before the write.

use keel_domain::post::PostId;
use keel_domain::vote::{VoteChange, VoteCommand, VoteRuleError};
use keel_ports::{StoreError, VoteCast, Votes};
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
    votes: Arc<dyn Votes>,
}

impl CastVote {
    /// Wires the use case.
    pub fn new(votes: Arc<dyn Votes>) -> Self {
        Self { votes }
    }

    /// Applies the command: the store attempts the change the command asks for
    /// ([`VoteCommand::requested_change`]) and the domain judges what the store found.
    ///
    /// # Errors
    /// [`VoteError::PostNotFound`] first (also for a post deleted meanwhile), then the rule
    /// errors. Concurrent identical votes end as [`VoteRuleError::AlreadyVoted`] /
    /// [`VoteRuleError::VoteNotFound`], never a failure.
    #[tracing::instrument(name = "use_case.cast_vote", skip_all)]
    pub async fn execute(&self, command: VoteCommand) -> Result<VoteChange, VoteError> {
        let requested = command.requested_change();
        let events = command.events(requested);
        let cast = self
            .votes
            .cast(command.user, command.post, requested, &events)
            .await;
        let already_voted = match cast {
            Ok(VoteCast::Found { already_voted }) => already_voted,
            // A key refused the change: a concurrent request got there first, so the condition
            // the change needed did not hold (the contract reports this as a finding; a store
            // that reports it as a conflict still gets the rule's answer, not a failure).
            Err(StoreError::Conflict) => !requested.needs_existing_vote(),
            Ok(VoteCast::PostNotVisible) | Err(StoreError::Missing) => {
                return Err(VoteError::PostNotFound(command.post));
            }
            Err(e) => return Err(e.into()),
        };
        let change = command.decide(already_voted)?;
        // `decide` allows exactly the requested change, which the store then wrote.
        debug_assert_eq!(change, requested);
        Ok(change)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::unavailable;
    use keel_domain::event::DomainEvent;
    use keel_domain::user::UserId;
    use keel_domain::vote::Direction;
    use keel_ports::MockVotes;

    fn command(direction: Direction) -> VoteCommand {
        VoteCommand {
            user: UserId::new(1),
            post: PostId::new(7),
            direction,
        }
    }

    fn votes_finding(found: Result<VoteCast, StoreError>) -> MockVotes {
        let mut votes = MockVotes::new();
        let found = std::sync::Mutex::new(Some(found));
        votes
            .expect_cast()
            .times(1)
            .returning(move |_, _, _, _| found.lock().expect("lock").take().expect("cast once"));
        votes
    }

    async fn cast(votes: MockVotes, direction: Direction) -> Result<VoteChange, VoteError> {
        CastVote::new(Arc::new(votes))
            .execute(command(direction))
            .await
    }

    #[tokio::test]
    async fn an_up_vote_asks_the_store_to_add_with_its_event() {
        let mut votes = MockVotes::new();
        votes
            .expect_cast()
            .withf(|u, p, change, events| {
                *u == UserId::new(1)
                    && *p == PostId::new(7)
                    && *change == VoteChange::Add
                    && events
                        == [DomainEvent::VoteCreated {
                            post_id: PostId::new(7),
                            user_id: UserId::new(1),
                        }]
            })
            .times(1)
            .returning(|_, _, _, _| {
                Ok(VoteCast::Found {
                    already_voted: false,
                })
            });
        assert_eq!(
            cast(votes, Direction::Up).await.expect("added"),
            VoteChange::Add
        );
    }

    #[tokio::test]
    async fn removing_asks_the_store_to_remove_with_vote_deleted() {
        let mut votes = MockVotes::new();
        votes
            .expect_cast()
            .withf(|_, _, change, events| {
                *change == VoteChange::Remove
                    && events
                        == [DomainEvent::VoteDeleted {
                            post_id: PostId::new(7),
                            user_id: UserId::new(1),
                        }]
            })
            .times(1)
            .returning(|_, _, _, _| {
                Ok(VoteCast::Found {
                    already_voted: true,
                })
            });
        assert_eq!(
            cast(votes, Direction::Remove).await.expect("removed"),
            VoteChange::Remove
        );
    }

    #[tokio::test]
    async fn an_invisible_or_vanished_post_is_not_found() {
        for found in [Ok(VoteCast::PostNotVisible), Err(StoreError::Missing)] {
            let err = cast(votes_finding(found), Direction::Up)
                .await
                .expect_err("missing post");
            assert!(matches!(err, VoteError::PostNotFound(id) if id == PostId::new(7)));
            assert_eq!(err.to_string(), "Post with id: 7 does not exist");
        }
    }

    #[tokio::test]
    async fn what_the_store_found_is_judged_by_the_domain_rules() {
        let err = cast(
            votes_finding(Ok(VoteCast::Found {
                already_voted: true,
            })),
            Direction::Up,
        )
        .await
        .expect_err("already");
        assert!(matches!(
            err,
            VoteError::Rule(VoteRuleError::AlreadyVoted { .. })
        ));
        assert_eq!(err.to_string(), "user 1 has already voted on post 7");

        let err = cast(
            votes_finding(Ok(VoteCast::Found {
                already_voted: false,
            })),
            Direction::Remove,
        )
        .await
        .expect_err("none");
        assert!(matches!(err, VoteError::Rule(VoteRuleError::VoteNotFound)));
    }

    #[tokio::test]
    async fn store_failures_surface() {
        let err = cast(votes_finding(Err(unavailable())), Direction::Remove)
            .await
            .expect_err("down");
        assert!(matches!(err, VoteError::Store(StoreError::Unavailable(_))));
    }

    #[tokio::test]
    async fn a_conflict_reported_by_the_store_is_the_rule_answer_not_a_failure() {
        let err = cast(votes_finding(Err(StoreError::Conflict)), Direction::Up)
            .await
            .expect_err("lost race");
        assert!(matches!(
            err,
            VoteError::Rule(VoteRuleError::AlreadyVoted { .. })
        ));
        let err = cast(votes_finding(Err(StoreError::Conflict)), Direction::Remove)
            .await
            .expect_err("lost race");
        assert!(matches!(err, VoteError::Rule(VoteRuleError::VoteNotFound)));
    }
}
