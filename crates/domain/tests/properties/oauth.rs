//! The OAuth flow rules: flow secrets ([`StateToken`] and friends), flow acceptance
//! ([`OAuthFlow::accept`]) and the account-linking decision ([`decide`]).

use keel_domain::Timestamp;
use keel_domain::oauth::{
    AccountFacts, BrowserBinding, LinkDecision, LinkFacts, LinkRefusal, Nonce, OAuthFlow,
    PkceVerifier, Provider, SECRET_BYTES, StateToken, decide, is_state_char,
};
use keel_domain::user::{Email, UserId};
use proptest::prelude::*;

fn secret() -> impl Strategy<Value = [u8; SECRET_BYTES]> {
    any::<[u8; SECRET_BYTES]>()
}

fn account() -> impl Strategy<Value = Option<AccountFacts>> {
    proptest::option::of((1_i64..4, any::<bool>(), any::<bool>()).prop_map(
        |(id, has_provider, email_verified)| AccountFacts {
            user: UserId::new(id),
            has_provider,
            email_verified,
        },
    ))
}

fn facts() -> impl Strategy<Value = LinkFacts> {
    (
        proptest::option::of((1_i64..4).prop_map(UserId::new)),
        account(),
        any::<bool>(),
        any::<bool>(),
        account(),
    )
        .prop_map(
            |(identity_owner, link_intent, has_email, email_verified, email_account)| LinkFacts {
                identity_owner,
                link_intent,
                email: has_email.then(|| Email::parse("p@example.com").expect("valid")),
                email_verified,
                email_account,
            },
        )
}

proptest! {
    /// Invariant: every generated state is accepted back by [`StateToken::parse`], uses only the
    /// RFC 3986 unreserved alphabet, and distinct randomness gives distinct states and storage keys.
    #[test]
    fn generated_states_round_trip_and_never_collide(a in secret(), b in secret()) {
        let state = StateToken::generate(a);
        prop_assert!(state.as_str().chars().all(is_state_char));
        prop_assert_eq!(StateToken::parse(state.as_str()), Some(state.clone()));
        let binding = BrowserBinding::generate(a);
        prop_assert_eq!(BrowserBinding::parse(binding.as_str()), Some(binding));
        if a != b {
            let other = StateToken::generate(b);
            prop_assert_ne!(state.as_str(), other.as_str());
            prop_assert_ne!(state.storage_key(), other.storage_key());
        }
    }

    /// Invariant: [`StateToken::parse`] accepts exactly the strings of 22..=128 characters
    /// from the alphabet `A–Z a–z 0–9 - _ . ~`.
    #[test]
    fn parse_accepts_exactly_the_state_alphabet(raw in "[A-Za-z0-9._~+/= é-]{0,140}") {
        let expected = (22..=128).contains(&raw.len()) && raw.chars().all(is_state_char);
        prop_assert_eq!(StateToken::parse(&raw).is_some(), expected);
    }

    /// Invariant: a PKCE challenge is 43 URL-safe characters and differs from its verifier.
    #[test]
    fn challenges_are_43_url_safe_characters(a in secret()) {
        let verifier = PkceVerifier::generate(a);
        let challenge = verifier.challenge();
        prop_assert_eq!(challenge.len(), 43);
        prop_assert!(challenge.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        prop_assert_ne!(challenge, verifier.as_str());
    }

    /// Invariant: a flow is accepted iff it is unexpired, of the callback's provider, and the
    /// callback carries the binding that started it.
    #[test]
    fn a_flow_is_accepted_iff_unexpired_same_provider_same_browser(
        mine in secret(), other in secret(), use_mine in any::<bool>(),
        started in 0_usize..6, called in 0_usize..6,
        expires in 0_i64..100, now in 0_i64..100,
    ) {
        let binding = BrowserBinding::generate(mine);
        let presented = if use_mine { binding.clone() } else { BrowserBinding::generate(other) };
        let flow = OAuthFlow {
            provider: Provider::ALL[started],
            pkce_verifier: PkceVerifier::generate(mine),
            nonce: Nonce::generate(mine),
            link_user: None,
            redirect_to_frontend: false,
            binding_digest: binding.digest(),
            expires_at: Timestamp::from_unix_seconds(expires).expect("valid"),
        };
        let now = Timestamp::from_unix_seconds(now).expect("valid");
        let accepted = flow.accept(Provider::ALL[called], Some(&presented), now).is_ok();
        prop_assert_eq!(
            accepted,
            now < flow.expires_at && started == called && presented == binding
        );
        prop_assert!(flow.accept(Provider::ALL[called], None, now).is_err());
    }

    /// Invariant: an identity is never attached to an account by email unless the provider
    /// verified that email and the account's own email is verified (an address registered with
    /// a password by anyone is never joined); a known identity outside a link flow always logs its owner in; a
    /// link flow only ever attaches to the signed-in user.
    #[test]
    fn identities_never_link_by_an_unverified_email(facts in facts()) {
        let decision = decide(&facts);
        if let LinkDecision::LinkAndLogin(user) = &decision {
            prop_assert!(facts.email_verified);
            prop_assert!(facts.email_account.is_some_and(|a| a.email_verified));
            prop_assert_eq!(Some(*user), facts.email_account.map(|a| a.user));
            prop_assert!(facts.identity_owner.is_none() && facts.link_intent.is_none());
        }
        match (facts.link_intent, facts.identity_owner) {
            (None, Some(owner)) => prop_assert_eq!(&decision, &LinkDecision::Login(owner)),
            (Some(intent), _) => prop_assert!(matches!(
                decision,
                LinkDecision::Link(u) | LinkDecision::AlreadyLinked(u) if u == intent.user
            ) || matches!(decision, LinkDecision::Refuse(
                LinkRefusal::IdentityAlreadyLinked | LinkRefusal::ProviderAlreadyLinked
            ))),
            (None, None) => prop_assert!(!matches!(
                decision,
                LinkDecision::Login(_) | LinkDecision::Link(_) | LinkDecision::AlreadyLinked(_)
            )),
        }
        if let LinkDecision::CreateUser(email) = &decision {
            prop_assert_eq!(Some(email), facts.email.as_ref());
            prop_assert!(facts.email_account.is_none());
        }
    }

    /// Invariant: outside a link flow, a new identity whose email matches an account whose
    /// email or whose provider's claim is unverified is refused with `EmailUnverified`,
    /// whatever else holds.
    #[test]
    fn an_unverified_side_refuses_joining_by_email(
        provider_verified in any::<bool>(), account_verified in any::<bool>(),
        has_provider in any::<bool>(), user in 1_i64..4,
    ) {
        prop_assume!(!(provider_verified && account_verified));
        let facts = LinkFacts {
            identity_owner: None,
            link_intent: None,
            email: Some(Email::parse("p@example.com").expect("valid")),
            email_verified: provider_verified,
            email_account: Some(AccountFacts {
                user: UserId::new(user),
                has_provider,
                email_verified: account_verified,
            }),
        };
        prop_assert_eq!(decide(&facts), LinkDecision::Refuse(LinkRefusal::EmailUnverified));
    }
}

#[test]
fn example_an_unverified_email_matching_an_account_is_refused() {
    let facts = LinkFacts {
        identity_owner: None,
        link_intent: None,
        email: Some(Email::parse("p@example.com").expect("valid")),
        email_verified: false,
        email_account: Some(AccountFacts {
            user: UserId::new(1),
            has_provider: false,
            email_verified: true,
        }),
    };
    assert_eq!(
        decide(&facts),
        LinkDecision::Refuse(LinkRefusal::EmailUnverified)
    );
}

#[test]
fn example_a_verified_identity_never_joins_an_unverified_password_account() {
    // Someone registered the victim's address with a password; the owner signs in with a
    // provider that verified it: refused, never joined.
    let facts = LinkFacts {
        identity_owner: None,
        link_intent: None,
        email: Some(Email::parse("victim@example.com").expect("valid")),
        email_verified: true,
        email_account: Some(AccountFacts {
            user: UserId::new(1),
            has_provider: false,
            email_verified: false,
        }),
    };
    assert_eq!(
        decide(&facts),
        LinkDecision::Refuse(LinkRefusal::EmailUnverified)
    );
}
