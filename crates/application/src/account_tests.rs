use super::*;
use crate::fixtures::*;
use keel_domain::email_token::{TOKEN_LEN, TokenHash};
use keel_domain::event::DomainEvent;
use keel_domain::user::UserId;
use keel_ports::{MockEmailTokens, MockPasswordHasher};

const LIVE: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

fn lifetime() -> Duration {
    Duration::minutes(30)
}

#[test]
fn the_live_fixture_has_the_token_shape() {
    assert_eq!(LIVE.len(), TOKEN_LEN);
}

#[tokio::test]
async fn a_verification_token_is_looked_up_by_its_hash() {
    let mut tokens = MockEmailTokens::new();
    let expected = EmailToken::parse(LIVE).expect("shape").hash();
    tokens
        .expect_verify_email()
        .withf(move |hash, at| *hash == expected && *at == now())
        .times(1)
        .returning(|_, _| Ok(Some(UserId::new(1))));
    VerifyEmail::new(Arc::new(tokens), fixed_clock())
        .execute(LIVE)
        .await
        .expect("verified");
}

#[tokio::test]
async fn refused_and_malformed_verification_tokens_are_one_error() {
    let mut tokens = MockEmailTokens::new();
    tokens
        .expect_verify_email()
        .times(1)
        .returning(|_, _| Ok(None));
    let verify = VerifyEmail::new(Arc::new(tokens), fixed_clock());
    assert!(matches!(
        verify.execute(LIVE).await,
        Err(VerifyEmailError::InvalidToken)
    ));
    // Malformed: refused before any look-up (the mock allows one call only).
    for raw in ["", "short", &format!("{LIVE}A"), &LIVE.replace('A', "!")] {
        assert!(matches!(
            verify.execute(raw).await,
            Err(VerifyEmailError::InvalidToken)
        ));
    }
}

#[tokio::test]
async fn store_failures_pass_through() {
    let mut tokens = MockEmailTokens::new();
    tokens
        .expect_verify_email()
        .returning(|_, _| Err(StoreError::Unavailable("down".into())));
    assert!(matches!(
        VerifyEmail::new(Arc::new(tokens), fixed_clock())
            .execute(LIVE)
            .await,
        Err(VerifyEmailError::Store(_))
    ));
}

#[tokio::test]
async fn a_resend_issues_a_fresh_token_only_while_unverified() {
    let mut tokens = MockEmailTokens::new();
    tokens
        .expect_issue()
        .withf(|request| {
            request.email.as_str() == "u1@example.com"
                && request.purpose == TokenPurpose::VerifyEmail
                && request.expires_at == now().plus(Duration::minutes(30))
                && matches!(
                    request.event(UserId::new(1)),
                    DomainEvent::EmailVerificationRequested { .. }
                )
        })
        .times(1)
        .returning(|_| Ok(Some(UserId::new(1))));
    let resend = ResendVerification::new(Arc::new(tokens), random(), fixed_clock(), lifetime());
    let unverified = User {
        email_verified: false,
        ..user(1)
    };
    resend.execute(&unverified).await.expect("issued");
    // Verified already: nothing is issued (the mock allows one call only).
    resend.execute(&user(1)).await.expect("nothing to do");
}

#[tokio::test]
async fn two_resets_carry_different_tokens_and_unknown_addresses_do_the_same_work() {
    let seen = Arc::new(std::sync::Mutex::new(Vec::<TokenHash>::new()));
    let mut tokens = MockEmailTokens::new();
    let record = seen.clone();
    let mut answers = vec![None, Some(UserId::new(2))];
    tokens
        .expect_issue()
        .withf(|request| {
            request.purpose == TokenPurpose::ResetPassword
                && request.expires_at == now().plus(Duration::minutes(30))
        })
        .times(2)
        .returning(move |request| {
            record.lock().expect("lock").push(request.hash());
            Ok(answers.pop().flatten())
        });
    let reset = RequestPasswordReset::new(Arc::new(tokens), random(), fixed_clock(), lifetime());
    reset.execute(email("u2@example.com")).await.expect("known");
    reset
        .execute(email("nobody@example.com"))
        .await
        .expect("unknown: the same answer");
    let seen = seen.lock().expect("lock");
    assert_ne!(seen[0], seen[1], "each request has its own token");
}

#[tokio::test]
async fn a_reset_hashes_the_new_password_and_redeems_the_token() {
    let mut tokens = MockEmailTokens::new();
    let expected = EmailToken::parse(LIVE).expect("shape").hash();
    tokens
        .expect_reset_password()
        .withf(move |token, password, at| *token == expected && *password == hash() && *at == now())
        .times(1)
        .returning(|_, _, _| Ok(Some(UserId::new(3))));
    let mut hasher = MockPasswordHasher::new();
    hasher
        .expect_hash()
        .withf(|p| p.expose() == "new password")
        .times(1)
        .returning(|_| Ok(hash()));
    ResetPassword::new(Arc::new(tokens), Arc::new(hasher), fixed_clock())
        .execute(LIVE, &password("new password"))
        .await
        .expect("reset");
}

#[tokio::test]
async fn a_refused_or_malformed_reset_token_is_invalid() {
    let mut tokens = MockEmailTokens::new();
    tokens
        .expect_reset_password()
        .times(1)
        .returning(|_, _, _| Ok(None));
    let mut hasher = MockPasswordHasher::new();
    hasher.expect_hash().times(1).returning(|_| Ok(hash()));
    let reset = ResetPassword::new(Arc::new(tokens), Arc::new(hasher), fixed_clock());
    assert!(matches!(
        reset.execute(LIVE, &password("new password")).await,
        Err(ResetPasswordError::InvalidToken)
    ));
    // Malformed: no hashing, no look-up.
    assert!(matches!(
        reset.execute("tampered", &password("new password")).await,
        Err(ResetPasswordError::InvalidToken)
    ));
}
