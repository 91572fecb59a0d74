//! The vote rules ([`VoteCommand::decide`]) and the count a [`Ballot`] maintains.

use keel_domain::post::PostId;
use keel_domain::user::UserId;
use keel_domain::vote::{
    Ballot, Direction, InvalidDirection, VoteChange, VoteCommand, VoteRuleError,
};
use proptest::prelude::*;
use std::collections::BTreeSet;

fn command(user: i64, direction: Direction) -> VoteCommand {
    VoteCommand {
        user: UserId::new(user),
        post: PostId::new(1),
        direction,
    }
}

/// Commands on one post from a handful of users, so repeats and removals are common.
fn commands() -> impl Strategy<Value = Vec<VoteCommand>> {
    let one = (0_i64..6, any::<bool>())
        .prop_map(|(user, up)| command(user, if up { Direction::Up } else { Direction::Remove }));
    prop::collection::vec(one, 0..64)
}

fn count_as_usize(ballot: &Ballot) -> usize {
    usize::try_from(ballot.count()).expect("a small count")
}

proptest! {
    /// Invariant: after any sequence of [`Ballot::apply`] commands, accepted or refused, the
    /// maintained count equals the number of distinct voters.
    #[test]
    fn the_count_always_equals_the_distinct_voters(commands in commands()) {
        let mut ballot = Ballot::default();
        for command in &commands {
            let _outcome = ballot.apply(command);
            prop_assert_eq!(count_as_usize(&ballot), ballot.voters());
        }
    }

    /// Invariant: every [`Ballot::apply`] answers what [`VoteCommand::decide`] says given
    /// whether that user has a vote (tracked by a plain set), and a refused command leaves the
    /// ballot unchanged.
    #[test]
    fn every_outcome_is_what_decide_says(commands in commands()) {
        let mut ballot = Ballot::default();
        let mut voters = BTreeSet::new();
        for command in &commands {
            let before = ballot.clone();
            let expected = command.decide(voters.contains(&command.user));
            prop_assert_eq!(ballot.apply(command), expected);
            match expected {
                Ok(VoteChange::Add) => prop_assert!(voters.insert(command.user)),
                Ok(VoteChange::Remove) => prop_assert!(voters.remove(&command.user)),
                Err(_) => prop_assert_eq!(&ballot, &before),
            }
            prop_assert_eq!(ballot.voters(), voters.len());
        }
    }

    /// Invariant: the wire value `dir` parses exactly when it is 0 or 1.
    #[test]
    fn dir_parses_exactly_zero_and_one(dir in prop_oneof![-3_i64..=4, any::<i64>()]) {
        let expected = match dir {
            1 => Ok(Direction::Up),
            0 => Ok(Direction::Remove),
            _ => Err(InvalidDirection),
        };
        prop_assert_eq!(Direction::from_dir(dir), expected);
    }
}

#[test]
fn example_a_repeated_or_missing_vote_does_not_move_the_count() {
    let mut ballot = Ballot::default();
    let outcomes = [
        ballot.apply(&command(1, Direction::Up)),
        ballot.apply(&command(1, Direction::Up)),
        ballot.apply(&command(2, Direction::Remove)),
        ballot.apply(&command(2, Direction::Up)),
        ballot.apply(&command(1, Direction::Remove)),
    ];
    assert_eq!(
        outcomes,
        [
            Ok(VoteChange::Add),
            Err(VoteRuleError::AlreadyVoted {
                user: UserId::new(1),
                post: PostId::new(1)
            }),
            Err(VoteRuleError::VoteNotFound),
            Ok(VoteChange::Add),
            Ok(VoteChange::Remove),
        ]
    );
    assert_eq!((ballot.count(), ballot.voters()), (1, 1));
}

#[test]
fn example_a_refused_command_leaves_the_ballot_equal() {
    let mut ballot = Ballot::default();
    assert_eq!(
        ballot.apply(&command(3, Direction::Up)),
        command(3, Direction::Up).decide(false)
    );
    let before = ballot.clone();
    assert_eq!(
        ballot.apply(&command(3, Direction::Up)),
        command(3, Direction::Up).decide(true)
    );
    assert_eq!(ballot, before);
}

#[test]
fn example_dir_two_is_refused() {
    assert_eq!(Direction::from_dir(2), Err(InvalidDirection));
    assert_eq!(Direction::from_dir(1), Ok(Direction::Up));
}
