//! `SeaEmailTokens`: only hashes at rest, the mail event in the same transaction, the same
//! statements for unknown addresses, single use, purposes, expiry, and what a redemption
//! changes (verified email; for a reset: the password and every session).

use crate::harness::{Store, at, email};
use keel_domain::email_token::{MailRequest, TOKEN_BYTES, TokenPurpose};
use keel_domain::session::{FamilyId, SessionFamily, SessionPolicy, TokenId};
use keel_domain::user::{NewUser, PasswordHash, User};
use keel_persistence::entity::email_token;
use keel_ports::{EmailTokens, Sessions, Users};
use sea_orm::EntityTrait;
use time::Duration;
use uuid::Uuid;

on_every_backend!(
    issuing_stores_only_the_hash_with_its_mail_event_and_unknown_addresses_nothing,
    a_registration_stores_its_verification_token_with_both_events,
    a_verification_token_is_spent_once_for_its_purpose_before_it_expires,
    a_reset_sets_the_password_verifies_and_ends_every_session_once,
);

fn request(address: &str, purpose: TokenPurpose, seed: u8, lifetime: Duration) -> MailRequest {
    MailRequest::new(
        email(address),
        purpose,
        [seed; TOKEN_BYTES],
        at(0),
        lifetime,
    )
}

async fn rows(s: &Store) -> Vec<email_token::Model> {
    email_token::Entity::find()
        .all(&s.conn)
        .await
        .expect("read email_tokens")
}

async fn login(s: &Store, user: &User) -> FamilyId {
    let policy = SessionPolicy {
        refresh_ttl: Duration::days(30),
        reuse_grace: Duration::seconds(10),
        max_age: Duration::days(90),
    };
    let family = SessionFamily::start(
        FamilyId::new(Uuid::new_v4()),
        user.id,
        TokenId::new(Uuid::new_v4()),
        None,
        at(0),
        &policy,
    );
    s.sessions.create(&family).await.expect("login");
    family.id()
}

async fn issuing_stores_only_the_hash_with_its_mail_event_and_unknown_addresses_nothing(s: Store) {
    let user = s.user("alice@example.com").await;
    let before = s.outbox().await.len();
    let reset = request(
        "alice@example.com",
        TokenPurpose::ResetPassword,
        1,
        Duration::minutes(30),
    );
    let issued = s.email_tokens.issue(&reset).await.expect("issue");
    assert_eq!(issued, Some(user.id), "[{}]", s.label);
    let stored = rows(&s).await;
    assert_eq!(stored.len(), 1, "[{}]", s.label);
    assert_eq!(stored[0].token_hash, reset.hash().as_str(), "[{}]", s.label);
    assert_ne!(stored[0].token_hash, reset.token.as_str(), "[{}]", s.label);
    assert_eq!(stored[0].purpose, "reset_password", "[{}]", s.label);
    assert_eq!(stored[0].used_at, None, "[{}]", s.label);
    let events = s.events().await;
    assert_eq!(events.len(), before + 1, "[{}]", s.label);
    let (topic, payload) = events.last().expect("the mail event");
    assert_eq!(topic, "mail.password_reset", "[{}]", s.label);
    assert_eq!(payload["token"], reset.token.as_str(), "[{}]", s.label);
    assert_eq!(payload["user_id"], user.id.get(), "[{}]", s.label);
    assert_eq!(payload["email"], "alice@example.com", "[{}]", s.label);

    // An address without an account: nothing stored, no event.
    let unknown = request(
        "nobody@example.com",
        TokenPurpose::ResetPassword,
        2,
        Duration::minutes(30),
    );
    assert_eq!(
        s.email_tokens.issue(&unknown).await.expect("issue"),
        None,
        "[{}]",
        s.label
    );
    assert_eq!(rows(&s).await.len(), 1, "[{}]", s.label);
    assert_eq!(s.outbox().await.len(), before + 1, "[{}]", s.label);
}

async fn a_registration_stores_its_verification_token_with_both_events(s: Store) {
    let verification = request(
        "new@example.com",
        TokenPurpose::VerifyEmail,
        3,
        Duration::hours(48),
    );
    let user = s
        .users
        .create(&NewUser {
            email: email("new@example.com"),
            password_hash: None,
            email_verified: false,
            verification: Some(verification.clone()),
            created_at: at(0),
        })
        .await
        .expect("register");
    let topics: Vec<String> = s.events().await.into_iter().map(|(t, _)| t).collect();
    assert_eq!(
        topics,
        ["user.created", "mail.verify_email"],
        "[{}]",
        s.label
    );
    assert_eq!(
        s.email_tokens
            .verify_email(&verification.hash(), at(1))
            .await
            .expect("verify"),
        Some(user.id),
        "[{}]",
        s.label
    );
}

async fn a_verification_token_is_spent_once_for_its_purpose_before_it_expires(s: Store) {
    let user = s.user("bob@example.com").await;
    let hour = Duration::hours(1);
    let first = request("bob@example.com", TokenPurpose::VerifyEmail, 4, hour);
    let second = request("bob@example.com", TokenPurpose::VerifyEmail, 5, hour);
    let reset = request("bob@example.com", TokenPurpose::ResetPassword, 6, hour);
    for r in [&first, &second, &reset] {
        s.email_tokens.issue(r).await.expect("issue");
    }
    let verify = |r: &MailRequest, now| {
        let tokens = s.email_tokens.clone();
        let hash = r.hash();
        async move { tokens.verify_email(&hash, now).await.expect("verify") }
    };
    // Another purpose's token is not a verification token.
    assert_eq!(verify(&reset, at(1)).await, None, "[{}]", s.label);
    // Past its expiry: refused, nothing changes.
    assert_eq!(verify(&first, at(3_600)).await, None, "[{}]", s.label);
    let unverified = s.users.find(user.id).await.expect("find").expect("user");
    assert!(!unverified.email_verified, "[{}]", s.label);

    assert_eq!(
        verify(&second, at(10)).await,
        Some(user.id),
        "[{}]",
        s.label
    );
    let verified = s.users.find(user.id).await.expect("find").expect("user");
    assert!(verified.email_verified, "[{}]", s.label);
    // Used: refused the second time.
    assert_eq!(verify(&second, at(11)).await, None, "[{}]", s.label);
    // The reset token is untouched by the verification.
    let reset_row = rows(&s)
        .await
        .into_iter()
        .find(|row| row.token_hash == reset.hash().as_str())
        .expect("reset row");
    assert_eq!(reset_row.used_at, None, "[{}]", s.label);
}

async fn a_reset_sets_the_password_verifies_and_ends_every_session_once(s: Store) {
    let user = s.user("carol@example.com").await;
    let other = s.user("dave@example.com").await;
    let families = [login(&s, &user).await, login(&s, &user).await];
    let others = login(&s, &other).await;
    let minutes = Duration::minutes(30);
    let old = request("carol@example.com", TokenPurpose::ResetPassword, 7, minutes);
    let reset = request("carol@example.com", TokenPurpose::ResetPassword, 8, minutes);
    s.email_tokens.issue(&old).await.expect("issue");
    s.email_tokens.issue(&reset).await.expect("issue");
    let new_hash = PasswordHash::new("$argon2id$v=19$new".to_owned());

    let done = s
        .email_tokens
        .reset_password(&reset.hash(), &new_hash, at(60))
        .await
        .expect("reset");
    assert_eq!(done, Some(user.id), "[{}]", s.label);
    let stored = s.users.find(user.id).await.expect("find").expect("user");
    assert_eq!(
        stored.password_hash,
        Some(new_hash.clone()),
        "[{}]",
        s.label
    );
    assert!(stored.email_verified, "[{}]", s.label);
    for family in families {
        let live = s
            .users
            .find_in_live_session(user.id, family, at(61))
            .await
            .expect("find");
        assert_eq!(live, None, "[{}] every session ended", s.label);
    }
    let untouched = s
        .users
        .find_in_live_session(other.id, others, at(61))
        .await
        .expect("find");
    assert!(
        untouched.is_some(),
        "[{}] other accounts keep theirs",
        s.label
    );

    // Single use, and the account's older reset token is spent with it.
    for r in [&reset, &old] {
        let again = s
            .email_tokens
            .reset_password(&r.hash(), &new_hash, at(62))
            .await
            .expect("reset");
        assert_eq!(again, None, "[{}]", s.label);
    }
}
