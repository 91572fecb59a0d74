//! The refresh-session state machine ([`SessionFamily`]) over arbitrary runs.
//!
//! A run starts a family and applies a random sequence of operations: time passing (by amounts
//! clustered around the grace window, the token lifetime and the family's absolute lifetime,
//! where the rules change), refreshes
//! presenting any token issued so far (biased towards the current token and its predecessor, the
//! interesting cases), and logouts. [`simulate`] records every step; each property then reads
//! the whole trace.

use keel_domain::Timestamp;
use keel_domain::session::{
    FamilyId, RefreshRejection, Revocation, RevocationReason, SessionChange, SessionFamily,
    SessionPolicy, TokenId,
};
use keel_domain::user::UserId;
use proptest::prelude::*;
use proptest::sample::Index;
use time::Duration;
use uuid::Uuid;

fn jti(n: u128) -> TokenId {
    TokenId::new(Uuid::from_u128(n))
}

fn t0() -> Timestamp {
    Timestamp::from_unix_seconds(1_800_000_000).expect("in range")
}

fn policy_of(ttl_seconds: i64, grace_seconds: i64) -> SessionPolicy {
    SessionPolicy {
        refresh_ttl: Duration::seconds(ttl_seconds),
        reuse_grace: Duration::seconds(grace_seconds),
        max_age: Duration::days(365),
    }
}

/// Which previously issued token a refresh presents.
#[derive(Debug, Clone)]
enum Pick {
    /// The family's current token.
    Current,
    /// The token the current one replaced (the current one if there is none).
    Predecessor,
    /// Any token issued so far.
    Any(Index),
    /// The `n`th token issued (0 is the login's), for the examples.
    Nth(usize),
}

#[derive(Debug, Clone)]
enum Op {
    Wait(Duration),
    Refresh(Pick),
    Logout,
}

/// One operation and what it did.
#[derive(Debug, Clone)]
struct Step {
    op: Op,
    now: Timestamp,
    /// The token presented, for a refresh.
    presented: Option<TokenId>,
    /// The refresh result, for a refresh.
    outcome: Option<Result<SessionChange, RefreshRejection>>,
    before: SessionFamily,
    after: SessionFamily,
    /// Every token issued so far, the first included.
    issued: Vec<TokenId>,
}

impl Step {
    /// Whether the presented token was the current token's predecessor, replayed inside the
    /// grace window (the one tolerated replay).
    fn is_grace_replay(&self, policy: &SessionPolicy) -> bool {
        let current = self.before.current();
        self.presented.is_some_and(|presented| {
            presented != current.jti
                && current.rotated_from == Some(presented)
                && self.now.since(current.issued_at) < policy.reuse_grace
        })
    }

    fn accepted_tokens(&self) -> usize {
        self.issued
            .iter()
            .filter(|token| self.after.accepts(**token, self.now))
            .count()
    }
}

fn simulate(policy: &SessionPolicy, ops: &[Op]) -> Vec<Step> {
    let mut now = t0();
    let mut family = SessionFamily::start(
        FamilyId::new(Uuid::from_u128(0xf)),
        UserId::new(1),
        jti(0),
        Some("proptest"),
        now,
        policy,
    );
    let mut issued = vec![jti(0)];
    let mut steps = Vec::with_capacity(ops.len());
    for op in ops {
        let before = family.clone();
        let (mut presented, mut outcome) = (None, None);
        match op {
            Op::Wait(by) => now = now.plus(*by),
            Op::Refresh(pick) => {
                let current = *family.current();
                let token = match pick {
                    Pick::Current => current.jti,
                    Pick::Predecessor => current.rotated_from.unwrap_or(current.jti),
                    Pick::Any(index) => issued[index.index(issued.len())],
                    Pick::Nth(n) => issued[*n],
                };
                let next = jti(u128::try_from(issued.len()).expect("small"));
                let result = family.refresh(token, next, now, policy);
                if let Ok(SessionChange::Rotated { issued: new, .. }) = result {
                    issued.push(new.jti);
                }
                presented = Some(token);
                outcome = Some(result);
            }
            Op::Logout => {
                family.revoke(RevocationReason::Logout, now);
            }
        }
        steps.push(Step {
            op: op.clone(),
            now,
            presented,
            outcome,
            before,
            after: family.clone(),
            issued: issued.clone(),
        });
    }
    steps
}

/// Lifetimes with an absolute lifetime from below the token lifetime to a few of them, so runs
/// both slide the expiry and reach the family's end.
fn policies() -> impl Strategy<Value = SessionPolicy> {
    (1_i64..=600, 0_i64..=30, 1_i64..=2_400).prop_map(|(ttl, grace, max_age)| SessionPolicy {
        max_age: Duration::seconds(max_age),
        ..policy_of(ttl, grace)
    })
}

/// Time steps: zero, small, and within two seconds either side of the grace window and the
/// lifetime, exact boundaries included.
fn waits(policy: &SessionPolicy) -> impl Strategy<Value = Duration> + use<> {
    let around = |centre: Duration| {
        (-2_000_000_i64..=2_000_000)
            .prop_map(move |micros| (centre + Duration::microseconds(micros)).max(Duration::ZERO))
    };
    prop_oneof![
        Just(Duration::ZERO),
        Just(policy.reuse_grace),
        Just(policy.refresh_ttl),
        (1_i64..=3_000_000).prop_map(Duration::microseconds),
        around(policy.reuse_grace),
        around(policy.refresh_ttl),
        around(policy.max_age),
    ]
}

fn ops(policy: &SessionPolicy) -> impl Strategy<Value = Op> + use<> {
    prop_oneof![
        4 => waits(policy).prop_map(Op::Wait),
        4 => Just(Op::Refresh(Pick::Current)),
        3 => Just(Op::Refresh(Pick::Predecessor)),
        3 => any::<Index>().prop_map(|index| Op::Refresh(Pick::Any(index))),
        1 => Just(Op::Logout),
    ]
}

fn runs() -> impl Strategy<Value = (SessionPolicy, Vec<Op>)> {
    policies().prop_flat_map(|policy| (Just(policy), prop::collection::vec(ops(&policy), 0..40)))
}

/// Every step from `from` on refuses every token, refreshes answer `FamilyRevoked`, and the
/// revocation stays `revocation`.
fn revoked_for_good(
    steps: &[Step],
    from: usize,
    revocation: Revocation,
) -> Result<(), TestCaseError> {
    for step in &steps[from..] {
        prop_assert_eq!(step.after.revocation(), Some(revocation));
        prop_assert_eq!(step.accepted_tokens(), 0);
        if step.before.revocation().is_some()
            && let Some(outcome) = &step.outcome
        {
            prop_assert_eq!(outcome, &Err(RefreshRejection::FamilyRevoked));
        }
    }
    Ok(())
}

proptest! {
    /// Invariant: after every operation, at most one issued token is accepted
    /// ([`SessionFamily::accepts`]) — and when one is, it is the current token.
    #[test]
    fn at_most_one_issued_token_is_accepted_at_any_time((policy, ops) in runs()) {
        for step in simulate(&policy, &ops) {
            prop_assert!(step.accepted_tokens() <= 1);
            for token in &step.issued {
                if step.after.accepts(*token, step.now) {
                    prop_assert_eq!(*token, step.after.current().jti);
                }
            }
        }
    }

    /// Invariant: a token retired by a rotation never rotates again and is never accepted
    /// again, whenever and however often it is presented.
    #[test]
    fn a_retired_token_never_rotates_again((policy, ops) in runs()) {
        let steps = simulate(&policy, &ops);
        let mut retired = Vec::new();
        for step in &steps {
            if let (Some(presented), Some(outcome)) = (step.presented, &step.outcome)
                && retired.contains(&presented)
            {
                prop_assert!(outcome.is_err(), "retired {presented} rotated again");
            }
            for token in &retired {
                prop_assert!(!step.after.accepts(*token, step.now));
            }
            if let Some(Ok(SessionChange::Rotated { retired: token, .. })) = &step.outcome {
                retired.push(*token);
            }
        }
    }

    /// Invariant: presenting any token of a live family other than its current token — except
    /// the current token's predecessor inside the grace window — is reuse: the family is revoked
    /// for reuse at that instant, and from then on every token is refused and every refresh
    /// answers `FamilyRevoked`.
    #[test]
    fn reuse_outside_the_grace_window_revokes_the_family_for_good((policy, ops) in runs()) {
        let steps = simulate(&policy, &ops);
        for (i, step) in steps.iter().enumerate() {
            let Some(presented) = step.presented else { continue };
            let is_reuse = step.before.revocation().is_none()
                && presented != step.before.current().jti
                && !step.is_grace_replay(&policy);
            if is_reuse {
                let revocation = Revocation { reason: RevocationReason::ReuseDetected, at: step.now };
                prop_assert_eq!(
                    step.outcome.as_ref(),
                    Some(&Err(RefreshRejection::ReuseDetected(revocation)))
                );
                revoked_for_good(&steps, i, revocation)?;
            }
        }
    }

    /// Invariant: replaying the current token's immediate predecessor less than the grace
    /// window after the rotation is answered `GraceReplay` and leaves the family exactly as it
    /// was.
    #[test]
    fn a_grace_replay_of_the_predecessor_changes_nothing((policy, ops) in runs()) {
        for step in simulate(&policy, &ops) {
            if step.before.revocation().is_none() && step.is_grace_replay(&policy) {
                prop_assert_eq!(step.outcome, Some(Err(RefreshRejection::GraceReplay)));
                prop_assert_eq!(&step.after, &step.before);
            }
        }
    }

    /// Invariant: a refresh rotates exactly when the family accepted the presented token; the
    /// successor is then the only accepted token, lives for the policy's lifetime from now (cut
    /// at the family's absolute end), and
    /// names the presented token as its predecessor. A refused refresh other than reuse
    /// changes nothing.
    #[test]
    fn only_the_current_token_of_a_live_family_rotates((policy, ops) in runs()) {
        for step in simulate(&policy, &ops) {
            let (Some(presented), Some(outcome)) = (step.presented, &step.outcome) else {
                continue;
            };
            prop_assert_eq!(outcome.is_ok(), step.before.accepts(presented, step.now));
            match outcome {
                Ok(SessionChange::Rotated { retired, issued }) => {
                    prop_assert_eq!(*retired, presented);
                    prop_assert_eq!(step.after.current(), issued);
                    prop_assert_eq!(issued.rotated_from, Some(presented));
                    prop_assert_eq!(
                        issued.expires_at,
                        step.now.plus(policy.refresh_ttl).min(step.after.ends_at(&policy))
                    );
                    prop_assert_eq!(step.accepted_tokens(), 1);
                    prop_assert_eq!(step.after.record().last_used_at, step.now);
                }
                Ok(other) => prop_assert!(false, "a refresh produced {other:?}"),
                Err(RefreshRejection::ReuseDetected(_)) => {}
                Err(_) => prop_assert_eq!(&step.after, &step.before),
            }
        }
    }

    /// Invariant: no token of a family expires after the family's absolute end (its login plus
    /// `max_age`), and from that instant on nothing rotates and no token is accepted, however
    /// recently the family was refreshed.
    #[test]
    fn nothing_outlives_the_familys_absolute_end((policy, ops) in runs()) {
        let end = t0().plus(policy.max_age);
        for step in simulate(&policy, &ops) {
            prop_assert_eq!(step.after.ends_at(&policy), end);
            prop_assert!(step.after.current().expires_at <= end);
            if step.now >= end {
                prop_assert_eq!(step.accepted_tokens(), 0);
                if let Some(outcome) = &step.outcome {
                    prop_assert!(outcome.is_err(), "rotated at {:?} past the end", step.now);
                }
            }
        }
    }

    /// Invariant: after a logout the family is revoked for good: the first revocation (logout,
    /// or an earlier reuse) is kept, no token is accepted and every refresh answers
    /// `FamilyRevoked`.
    #[test]
    fn a_logout_revokes_the_family_for_good((policy, ops) in runs()) {
        let steps = simulate(&policy, &ops);
        for (i, step) in steps.iter().enumerate() {
            if !matches!(step.op, Op::Logout) {
                continue;
            }
            let revocation = step.before.revocation().unwrap_or(Revocation {
                reason: RevocationReason::Logout,
                at: step.now,
            });
            revoked_for_good(&steps, i, revocation)?;
        }
    }
}

#[test]
fn example_after_a_rotation_only_the_successor_is_accepted() {
    let policy = policy_of(600, 10);
    let steps = simulate(&policy, &[Op::Refresh(Pick::Current)]);
    let step = &steps[0];
    assert_eq!(step.issued, vec![jti(0), jti(1)]);
    assert!(!step.after.accepts(jti(0), step.now));
    assert!(step.after.accepts(jti(1), step.now));
    assert_eq!(step.accepted_tokens(), 1);
}

#[test]
fn example_a_retired_token_is_refused_inside_and_after_the_grace_window() {
    let policy = policy_of(600, 10);
    let steps = simulate(
        &policy,
        &[
            Op::Refresh(Pick::Current),
            Op::Refresh(Pick::Predecessor),
            Op::Wait(Duration::seconds(10)),
            Op::Refresh(Pick::Predecessor),
        ],
    );
    assert_eq!(steps[1].outcome, Some(Err(RefreshRejection::GraceReplay)));
    assert!(matches!(
        steps[3].outcome,
        Some(Err(RefreshRejection::ReuseDetected(_)))
    ));
}

#[test]
fn example_an_older_ancestor_is_reuse_even_inside_the_grace_window() {
    let policy = policy_of(600, 10);
    let ops = [
        Op::Refresh(Pick::Current),
        Op::Refresh(Pick::Current),
        Op::Refresh(Pick::Nth(0)),
        Op::Refresh(Pick::Current),
    ];
    let steps = simulate(&policy, &ops);
    let revocation = Revocation {
        reason: RevocationReason::ReuseDetected,
        at: t0(),
    };
    assert_eq!(steps[2].presented, Some(jti(0)));
    assert_eq!(
        steps[2].outcome,
        Some(Err(RefreshRejection::ReuseDetected(revocation)))
    );
    assert_eq!(steps[3].outcome, Some(Err(RefreshRejection::FamilyRevoked)));
    assert_eq!(steps[3].accepted_tokens(), 0);
}

#[test]
fn example_a_grace_replay_leaves_the_family_equal() {
    let policy = policy_of(600, 10);
    let steps = simulate(
        &policy,
        &[
            Op::Refresh(Pick::Current),
            Op::Wait(Duration::seconds(9)),
            Op::Refresh(Pick::Predecessor),
        ],
    );
    assert_eq!(steps[2].outcome, Some(Err(RefreshRejection::GraceReplay)));
    assert_eq!(steps[2].after, steps[2].before);
    assert!(steps[2].after.accepts(jti(1), steps[2].now));
}

#[test]
fn example_an_expired_current_token_does_not_rotate() {
    let policy = policy_of(60, 10);
    let steps = simulate(
        &policy,
        &[Op::Wait(Duration::seconds(60)), Op::Refresh(Pick::Current)],
    );
    assert_eq!(steps[1].outcome, Some(Err(RefreshRejection::Expired)));
    assert_eq!(steps[1].after, steps[1].before);
    assert_eq!(steps[1].accepted_tokens(), 0);
}

#[test]
fn example_refreshes_do_not_extend_a_family_past_its_absolute_end() {
    let policy = SessionPolicy {
        max_age: Duration::seconds(150),
        ..policy_of(60, 10)
    };
    let steps = simulate(
        &policy,
        &[
            Op::Wait(Duration::seconds(50)),
            Op::Refresh(Pick::Current),
            Op::Wait(Duration::seconds(50)),
            Op::Refresh(Pick::Current),
            Op::Wait(Duration::seconds(49)),
            Op::Refresh(Pick::Current),
            Op::Wait(Duration::seconds(1)),
            Op::Refresh(Pick::Current),
        ],
    );
    // The second refresh (at 100 s) would live until 160 s: it is cut at the end, 150 s.
    assert_eq!(
        steps[3].after.current().expires_at,
        t0().plus(Duration::seconds(150))
    );
    assert!(
        matches!(steps[5].outcome, Some(Ok(_))),
        "149 s: still inside"
    );
    assert_eq!(
        steps[7].outcome,
        Some(Err(RefreshRejection::Expired)),
        "150 s: ended"
    );
    assert_eq!(steps[7].after, steps[7].before);
}

#[test]
fn example_a_logout_after_reuse_keeps_the_reuse_revocation() {
    // No grace at all: replaying the predecessor, even at once, is reuse.
    let policy = policy_of(600, 0);
    let steps = simulate(
        &policy,
        &[
            Op::Refresh(Pick::Current),
            Op::Refresh(Pick::Predecessor),
            Op::Logout,
        ],
    );
    let reuse = Revocation {
        reason: RevocationReason::ReuseDetected,
        at: t0(),
    };
    assert_eq!(
        steps[1].outcome,
        Some(Err(RefreshRejection::ReuseDetected(reuse)))
    );
    assert_eq!(steps[2].after.revocation(), Some(reuse));
    assert_eq!(steps[2].accepted_tokens(), 0);
}

#[test]
fn example_after_a_logout_the_current_token_is_refused() {
    let policy = policy_of(600, 10);
    let steps = simulate(&policy, &[Op::Logout, Op::Refresh(Pick::Current)]);
    let logout = Revocation {
        reason: RevocationReason::Logout,
        at: t0(),
    };
    assert_eq!(steps[0].after.revocation(), Some(logout));
    assert_eq!(steps[1].outcome, Some(Err(RefreshRejection::FamilyRevoked)));
    assert_eq!(steps[1].accepted_tokens(), 0);
}
