//! Votes: one per user and post.
//!
//! `dir = 1` adds the requester's vote and `dir = 0` removes it. Adding a vote that exists is
//! refused ([`VoteRuleError::AlreadyVoted`]), as is removing one that does not
//! ([`VoteRuleError::VoteNotFound`]); so a post's vote count always equals its number of
//! distinct voters ([`Ballot`] states that invariant executably).

use crate::event::DomainEvent;
use crate::post::PostId;
use crate::user::UserId;
use std::collections::BTreeSet;

/// What the requester asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `dir = 1`: add my vote.
    Up,
    /// `dir = 0`: remove my vote.
    Remove,
}

/// A `dir` value other than 0 or 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("Input should be 0 or 1")]
pub struct InvalidDirection;

impl Direction {
    /// Parses the wire value.
    ///
    /// # Errors
    /// [`InvalidDirection`] for anything but 0 and 1.
    pub fn from_dir(dir: i64) -> Result<Self, InvalidDirection> {
        match dir {
            1 => Ok(Self::Up),
            0 => Ok(Self::Remove),
            _ => Err(InvalidDirection),
        }
    }
}

/// The change a vote command makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoteChange {
    /// Store a new vote.
    Add,
    /// Delete the existing vote.
    Remove,
}

impl VoteChange {
    /// Whether the change needs the voter's vote to exist: a removal does, an addition needs
    /// it absent. [`VoteCommand::decide`] allows a change exactly when this matches whether the
    /// vote exists, so a store can make the change and test this condition in one atomic step
    /// (an insert that does nothing on the key, a delete that finds no row) and report what
    /// it found to `decide`.
    #[must_use]
    pub fn needs_existing_vote(self) -> bool {
        match self {
            Self::Add => false,
            Self::Remove => true,
        }
    }
}

/// Why a vote command is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VoteRuleError {
    /// `dir = 1` while the vote exists.
    #[error("user {user} has already voted on post {post}")]
    AlreadyVoted {
        /// Voter.
        user: UserId,
        /// Post.
        post: PostId,
    },
    /// `dir = 0` while no vote exists.
    #[error("Vote does not exist")]
    VoteNotFound,
}

/// A vote command: who, on which post, in which direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoteCommand {
    /// Voter.
    pub user: UserId,
    /// Post voted on.
    pub post: PostId,
    /// Add or remove.
    pub direction: Direction,
}

impl VoteCommand {
    /// Decides the change given whether the voter's vote already exists.
    ///
    /// # Errors
    /// [`VoteRuleError::AlreadyVoted`] or [`VoteRuleError::VoteNotFound`].
    pub fn decide(&self, already_voted: bool) -> Result<VoteChange, VoteRuleError> {
        let change = self.requested_change();
        if change.needs_existing_vote() == already_voted {
            return Ok(change);
        }
        match change {
            VoteChange::Add => Err(VoteRuleError::AlreadyVoted {
                user: self.user,
                post: self.post,
            }),
            VoteChange::Remove => Err(VoteRuleError::VoteNotFound),
        }
    }

    /// The change the command asks for — [`VoteChange::Add`] for [`Direction::Up`],
    /// [`VoteChange::Remove`] for [`Direction::Remove`] — which [`VoteCommand::decide`] allows
    /// or refuses once the vote's existence is known.
    #[must_use]
    pub fn requested_change(&self) -> VoteChange {
        match self.direction {
            Direction::Up => VoteChange::Add,
            Direction::Remove => VoteChange::Remove,
        }
    }

    /// The events a decided change emits.
    #[must_use]
    pub fn events(&self, change: VoteChange) -> Vec<DomainEvent> {
        let (post_id, user_id) = (self.post, self.user);
        vec![match change {
            VoteChange::Add => DomainEvent::VoteCreated { post_id, user_id },
            VoteChange::Remove => DomainEvent::VoteDeleted { post_id, user_id },
        }]
    }
}

/// The votes on one post, as a model of what a store keeps: the set of voters and a
/// maintained count. Stores that keep a counter beside the vote rows must behave like this.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ballot {
    voters: BTreeSet<UserId>,
    count: u64,
}

impl Ballot {
    /// Applies a command with [`VoteCommand::decide`], updating voters and count together.
    ///
    /// # Errors
    /// The rule error; the ballot is then unchanged.
    pub fn apply(&mut self, command: &VoteCommand) -> Result<VoteChange, VoteRuleError> {
        let change = command.decide(self.voters.contains(&command.user))?;
        match change {
            VoteChange::Add => {
                self.voters.insert(command.user);
                self.count += 1;
            }
            VoteChange::Remove => {
                self.voters.remove(&command.user);
                self.count = self.count.saturating_sub(1);
            }
        }
        Ok(change)
    }

    /// The maintained count.
    #[must_use]
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The number of distinct voters.
    #[must_use]
    pub fn voters(&self) -> usize {
        self.voters.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(user: i64, direction: Direction) -> VoteCommand {
        VoteCommand {
            user: UserId::new(user),
            post: PostId::new(1),
            direction,
        }
    }

    #[test]
    fn dir_parses_only_zero_and_one() {
        assert_eq!(Direction::from_dir(1), Ok(Direction::Up));
        assert_eq!(Direction::from_dir(0), Ok(Direction::Remove));
        assert_eq!(Direction::from_dir(2), Err(InvalidDirection));
        assert_eq!(Direction::from_dir(-1), Err(InvalidDirection));
    }

    #[test]
    fn decide_follows_the_four_cases() {
        assert_eq!(command(1, Direction::Up).decide(false), Ok(VoteChange::Add));
        assert_eq!(
            command(1, Direction::Up).decide(true),
            Err(VoteRuleError::AlreadyVoted {
                user: UserId::new(1),
                post: PostId::new(1)
            })
        );
        assert_eq!(
            command(1, Direction::Remove).decide(true),
            Ok(VoteChange::Remove)
        );
        assert_eq!(
            command(1, Direction::Remove).decide(false),
            Err(VoteRuleError::VoteNotFound)
        );
    }

    #[test]
    fn decide_allows_the_requested_change_exactly_when_its_condition_holds() {
        for direction in [Direction::Up, Direction::Remove] {
            let c = command(1, direction);
            let change = c.requested_change();
            for already_voted in [false, true] {
                let allowed = change.needs_existing_vote() == already_voted;
                assert_eq!(
                    c.decide(already_voted).ok(),
                    allowed.then_some(change),
                    "{direction:?} with already_voted = {already_voted}"
                );
            }
        }
        assert_eq!(
            command(1, Direction::Up).requested_change(),
            VoteChange::Add
        );
        assert!(!VoteChange::Add.needs_existing_vote());
        assert_eq!(
            command(1, Direction::Remove).requested_change(),
            VoteChange::Remove
        );
        assert!(VoteChange::Remove.needs_existing_vote());
    }

    #[test]
    fn events_name_the_change() {
        let c = command(4, Direction::Up);
        assert_eq!(
            c.events(VoteChange::Add),
            vec![DomainEvent::VoteCreated {
                post_id: PostId::new(1),
                user_id: UserId::new(4)
            }]
        );
        assert_eq!(
            c.events(VoteChange::Remove),
            vec![DomainEvent::VoteDeleted {
                post_id: PostId::new(1),
                user_id: UserId::new(4)
            }]
        );
    }

    #[test]
    fn ballot_counts_distinct_voters() {
        let mut ballot = Ballot::default();
        assert!(ballot.apply(&command(1, Direction::Up)).is_ok());
        assert!(ballot.apply(&command(1, Direction::Up)).is_err());
        assert!(ballot.apply(&command(2, Direction::Up)).is_ok());
        assert!(ballot.apply(&command(1, Direction::Remove)).is_ok());
        assert!(ballot.apply(&command(1, Direction::Remove)).is_err());
        assert_eq!((ballot.count(), ballot.voters()), (1, 1));
    }
}
