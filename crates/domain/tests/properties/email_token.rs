//! The one-time email token rules ([`keel_domain::email_token`]): shape, hashing, redemption.

use keel_domain::Timestamp;
use keel_domain::email_token::{
    EmailToken, MailRequest, StoredToken, TOKEN_BYTES, TOKEN_LEN, TokenPurpose, TokenRejection,
};
use keel_domain::event::{Audience, DomainEvent};
use keel_domain::user::{Email, UserId};
use proptest::prelude::*;
use time::Duration;

fn random() -> impl Strategy<Value = [u8; TOKEN_BYTES]> {
    any::<[u8; TOKEN_BYTES]>()
}

fn purpose() -> impl Strategy<Value = TokenPurpose> {
    prop_oneof![
        Just(TokenPurpose::VerifyEmail),
        Just(TokenPurpose::ResetPassword)
    ]
}

proptest! {
    /// Invariant: a generated token is 43 URL-safe characters, parses back to itself, and
    /// distinct randomness gives distinct tokens and distinct hashes; the hash is never the
    /// token.
    #[test]
    fn generated_tokens_round_trip_and_never_collide(a in random(), b in random()) {
        let token = EmailToken::generate(a);
        prop_assert_eq!(token.as_str().len(), TOKEN_LEN);
        prop_assert_eq!(EmailToken::parse(token.as_str()), Some(token.clone()));
        let hash = token.hash();
        prop_assert_ne!(hash.as_str(), token.as_str());
        prop_assert_eq!(token.hash(), EmailToken::generate(a).hash());
        if a != b {
            let other = EmailToken::generate(b);
            prop_assert_ne!(token.as_str(), other.as_str());
            prop_assert_ne!(token.hash(), other.hash());
        }
    }

    /// Invariant: [`EmailToken::parse`] accepts exactly 43 characters of `A–Z a–z 0–9 - _`.
    #[test]
    fn parse_accepts_exactly_the_token_shape(raw in "[A-Za-z0-9_.~+/= é-]{40,46}") {
        let expected = raw.len() == TOKEN_LEN
            && raw.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        prop_assert_eq!(EmailToken::parse(&raw).is_some(), expected);
    }

    /// Invariant: a stored token proves its account iff it is presented for its own purpose,
    /// unused, strictly before its expiry.
    #[test]
    fn a_token_is_redeemed_iff_same_purpose_unused_and_unexpired(
        stored_for in purpose(), presented_for in purpose(),
        expires in 0_i64..100, now in 0_i64..100, used in proptest::option::of(0_i64..100),
    ) {
        let at = |s: i64| Timestamp::from_unix_seconds(s).expect("valid");
        let stored = StoredToken {
            user: UserId::new(4),
            purpose: stored_for,
            expires_at: at(expires),
            used_at: used.map(at),
        };
        let outcome = stored.redeem(presented_for, at(now));
        let accepted = stored_for == presented_for && used.is_none() && now < expires;
        prop_assert_eq!(outcome.is_ok(), accepted);
        if accepted {
            prop_assert_eq!(outcome, Ok(UserId::new(4)));
        } else {
            prop_assert_ne!(outcome, Err(TokenRejection::Unknown));
        }
    }

    /// Invariant: a mail request's event goes to the mail sender only, carries the raw token
    /// whose hash is what is stored, and expires `lifetime` after `now`.
    #[test]
    fn mail_events_are_private_and_carry_the_stored_tokens_preimage(
        r in random(), purpose in purpose(), minutes in 1_i64..100_000,
    ) {
        let now = Timestamp::from_unix_seconds(1_800_000_000).expect("valid");
        let request = MailRequest::new(
            Email::parse("a@example.com").expect("valid"),
            purpose,
            r,
            now,
            Duration::minutes(minutes),
        );
        prop_assert_eq!(request.expires_at, now.plus(Duration::minutes(minutes)));
        let event = request.event(UserId::new(1));
        prop_assert_eq!(event.audience(), Audience::Mail);
        let token = match &event {
            DomainEvent::EmailVerificationRequested { token, .. }
            | DomainEvent::PasswordResetRequested { token, .. } => Some(token.clone()),
            _ => None,
        };
        prop_assert_eq!(token.map(|t| t.hash()), Some(request.hash()));
    }
}
