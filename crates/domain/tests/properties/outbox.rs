//! The outbox delivery rules ([`RetryPolicy`], [`Jitter`], [`LeasePolicy`], [`StoredState`])
//! over arbitrary policies, attempt counts, jitters and instants.

use keel_domain::Timestamp;
use keel_domain::outbox::{
    EventKey, EventStatus, FailureOutcome, JITTER_SPREAD, Jitter, LeasePolicy, MAX_RETRY_DELAY,
    RetryPolicy, StoredState, lease_expired,
};
use proptest::prelude::*;
use time::Duration;
use uuid::Uuid;

fn t0() -> Timestamp {
    Timestamp::from_unix_seconds(1_800_000_000).expect("in range")
}

fn policies() -> impl Strategy<Value = RetryPolicy> {
    (1_u32..20, 1_i64..5_000).prop_map(|(max, backoff)| {
        RetryPolicy::new(max, Duration::seconds(backoff)).expect("valid")
    })
}

fn jitters() -> impl Strategy<Value = Jitter> {
    prop_oneof![
        Just(Jitter::NONE),
        (0.0_f64..1.0).prop_map(Jitter::from_fraction),
        any::<u128>().prop_map(|key| Jitter::for_event(EventKey::new(Uuid::from_u128(key)), 1)),
    ]
}

/// `min(backoff·2^(n−1), 3600 s)` computed independently, in whole seconds.
fn expected_nominal(policy: RetryPolicy, attempts: u32) -> Duration {
    let exponent = attempts.max(1) - 1;
    let seconds = if exponent >= 40 {
        3600
    } else {
        (policy.backoff().whole_seconds() as i128 * (1_i128 << exponent)).min(3600) as i64
    };
    Duration::seconds(seconds)
}

proptest! {
    /// Invariant: the delay after the `n`th failure is at most `min(backoff·2^(n−1), 3600 s)`
    /// and, whatever the jitter, more than `1 − JITTER_SPREAD` of it (less one microsecond of
    /// rounding); it never exceeds [`MAX_RETRY_DELAY`].
    #[test]
    fn delays_follow_the_capped_exponential_within_the_jitter_spread(
        policy in policies(), attempts in 0_u32..80, jitter in jitters()
    ) {
        let nominal = expected_nominal(policy, attempts);
        prop_assert_eq!(policy.nominal_delay(attempts), nominal);
        let delay = policy.delay(attempts, jitter);
        prop_assert!(delay <= nominal);
        prop_assert!(delay <= MAX_RETRY_DELAY);
        let floor = nominal.whole_microseconds() as f64 * (1.0 - JITTER_SPREAD);
        prop_assert!(delay.whole_microseconds() as f64 >= floor - 1.0, "{delay} < {floor}µs");
        prop_assert!(delay.is_positive());
    }

    /// Invariant: for a fixed jitter, a later attempt never waits less than an earlier one.
    #[test]
    fn delays_never_shrink_from_one_attempt_to_the_next(
        policy in policies(), attempts in 1_u32..60, fraction in 0.0_f64..1.0
    ) {
        let jitter = Jitter::from_fraction(fraction);
        prop_assert!(policy.delay(attempts + 1, jitter) >= policy.delay(attempts, jitter));
    }

    /// Invariant: a failure dead-letters the event exactly when the attempts, this one
    /// included, reach `max_attempts`; otherwise the retry is scheduled `delay(attempts)` after
    /// the failure, and the attempts always grow by one.
    #[test]
    fn the_dead_letter_comes_exactly_at_max_attempts(
        policy in policies(), before in 0_u32..40, jitter in jitters(), offset in 0_i64..1_000_000
    ) {
        let failed_at = t0().plus(Duration::seconds(offset));
        let outcome = policy.after_failure(before, failed_at, jitter);
        prop_assert_eq!(outcome.attempts(), before + 1);
        match outcome {
            FailureOutcome::DeadLetter { attempts } => {
                prop_assert!(attempts >= policy.max_attempts());
            }
            FailureOutcome::Retry { attempts, available_at } => {
                prop_assert!(attempts < policy.max_attempts());
                prop_assert_eq!(available_at, failed_at.plus(policy.delay(attempts, jitter)));
                prop_assert!(available_at > failed_at);
            }
        }
    }

    /// Invariant: an event is exhausted (dead-lettered without another delivery, after lease
    /// expiries) exactly when the failure that brought it to that count dead-letters.
    #[test]
    fn exhausted_agrees_with_the_failure_that_dead_letters(
        policy in policies(), attempts in 1_u32..60
    ) {
        let dead = matches!(
            policy.after_failure(attempts - 1, t0(), Jitter::NONE),
            FailureOutcome::DeadLetter { .. }
        );
        prop_assert_eq!(policy.exhausted(attempts), dead);
        prop_assert_eq!(policy.exhausted(policy.max_attempts()), true);
        prop_assert_eq!(policy.exhausted(policy.max_attempts() - 1), false);
    }

    /// Invariant: walking an event through failures from zero attempts, it is retried exactly
    /// `max_attempts − 1` times and then dead-lettered.
    #[test]
    fn every_event_gets_exactly_max_attempts(policy in policies(), key in any::<u128>()) {
        let key = EventKey::new(Uuid::from_u128(key));
        let (mut attempts, mut now, mut retries) = (0, t0(), 0);
        let mut dead_letter = None;
        // Bounded: an event that is never dead-lettered fails here instead of looping forever.
        for _ in 0..=policy.max_attempts() {
            match policy.after_failure(attempts, now, Jitter::for_event(key, attempts + 1)) {
                FailureOutcome::Retry { attempts: next, available_at } => {
                    retries += 1;
                    attempts = next;
                    now = available_at;
                }
                FailureOutcome::DeadLetter { attempts: last } => {
                    dead_letter = Some(last);
                    break;
                }
            }
        }
        prop_assert_eq!(dead_letter, Some(policy.max_attempts()));
        prop_assert_eq!(retries, policy.max_attempts() - 1);
    }

    /// Invariant: event-derived jitter always lies in `[0, 1)`.
    #[test]
    fn event_jitter_is_a_fraction(key in any::<u128>(), attempt in any::<u32>()) {
        let fraction = Jitter::for_event(EventKey::new(Uuid::from_u128(key)), attempt).fraction();
        prop_assert!((0.0..1.0).contains(&fraction));
    }

    /// Invariant: a lease is expired exactly from its end on; a delivery allowed to start
    /// always ends (at its budget) before the lease does.
    #[test]
    fn leases_expire_at_their_end_and_cover_every_started_delivery(
        lease in 2_i64..600, budget_share in 0.0_f64..1.0, elapsed in 0_i64..1_200
    ) {
        let lease = Duration::seconds(lease);
        let budget = Duration::seconds(((lease.whole_seconds() - 1) as f64 * budget_share) as i64);
        let policy = LeasePolicy::new(lease, budget).expect("budget < lease");
        let until = policy.lease_until(t0());
        let now = t0().plus(Duration::seconds(elapsed));
        prop_assert_eq!(lease_expired(until, now), now >= until);
        if policy.may_start_delivery(now, until) {
            prop_assert!(now.plus(budget) < until);
            prop_assert!(!lease_expired(until, now.plus(budget)));
        }
    }

    /// Invariant: an event is claimable exactly when pending and due, or processing under an
    /// expired (or missing) lease; completed and failed events never are.
    #[test]
    fn claimability_is_due_pending_or_abandoned_processing(
        status in prop_oneof![
            Just(EventStatus::Pending), Just(EventStatus::Processing),
            Just(EventStatus::Completed), Just(EventStatus::Failed)
        ],
        available in -100_i64..100, until in proptest::option::of(-100_i64..100)
    ) {
        let state = StoredState {
            status,
            available_at: t0().plus(Duration::seconds(available)),
            locked_until: until.map(|s| t0().plus(Duration::seconds(s))),
        };
        let expected = match status {
            EventStatus::Pending => available <= 0,
            EventStatus::Processing => until.is_none_or(|s| s <= 0),
            _ => false,
        };
        prop_assert_eq!(state.is_claimable(t0()), expected);
    }
}

#[test]
fn example_thirty_second_backoff_five_attempts() {
    let policy = RetryPolicy::new(5, Duration::seconds(30)).expect("valid");
    let schedule: Vec<FailureOutcome> = (0..5)
        .map(|before| policy.after_failure(before, t0(), Jitter::NONE))
        .collect();
    let seconds: Vec<Option<i64>> = schedule
        .iter()
        .map(|outcome| match outcome {
            FailureOutcome::Retry { available_at, .. } => {
                Some(available_at.since(t0()).whole_seconds())
            }
            FailureOutcome::DeadLetter { .. } => None,
        })
        .collect();
    assert_eq!(seconds, [Some(30), Some(60), Some(120), Some(240), None]);
}
