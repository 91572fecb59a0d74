use super::*;
use crate::fixtures::*;
use keel_domain::session::{Revocation, SessionChange};
use keel_ports::{
    AccessClaims, MockPasswordHasher, MockSessions, MockTokenCodec, MockUsers, RefreshClaims,
};

fn codec() -> MockTokenCodec {
    let mut tokens = MockTokenCodec::new();
    tokens
        .expect_issue_access()
        .returning(|user, fam, _| Ok(format!("access:{user}:{fam}")));
    tokens
        .expect_issue_refresh()
        .returning(|_, _, t| Ok(format!("refresh:{}", t.jti)));
    tokens
}

fn refresh_claims(jti: u128) -> RefreshClaims {
    RefreshClaims {
        user_id: UserId::new(1),
        family: family_id(1),
        jti: token_id(jti),
    }
}

fn codec_accepting(jti: u128) -> MockTokenCodec {
    let mut tokens = codec();
    tokens
        .expect_verify_refresh()
        .returning(move |_, _| Ok(refresh_claims(jti)));
    tokens
}

fn refresh_uc(sessions: MockSessions, tokens: MockTokenCodec) -> RefreshSession {
    RefreshSession::new(
        Arc::new(sessions),
        Arc::new(tokens),
        random(),
        fixed_clock(),
        policy(),
    )
}

fn live_sessions(users: &mut MockUsers) {
    // User 1's family 1 is live; nothing else is.
    users
        .expect_find_in_live_session()
        .returning(|id, fam, at| {
            assert_eq!(
                at,
                fixed_clock().now(),
                "liveness is judged at the clock's now"
            );
            Ok((id == UserId::new(1) && fam == family_id(1)).then(|| user(1)))
        });
}

#[tokio::test]
async fn authenticate_loads_the_tokens_user() {
    let mut tokens = MockTokenCodec::new();
    tokens.expect_verify_access().returning(|t, _| match t {
        "good" => Ok(AccessClaims {
            user_id: UserId::new(1),
            family: Some(family_id(1)),
        }),
        "ghost" => Ok(AccessClaims {
            user_id: UserId::new(2),
            family: Some(family_id(1)),
        }),
        _ => Err(TokenError::Invalid),
    });
    let mut users = MockUsers::new();
    live_sessions(&mut users);
    let auth = Authenticate::new(Arc::new(tokens), Arc::new(users), fixed_clock());
    let principal = auth.execute("good").await.expect("valid");
    assert_eq!(
        (principal.user.id, principal.family),
        (UserId::new(1), Some(family_id(1)))
    );
    assert!(matches!(
        auth.execute("forged").await,
        Err(AuthenticateError::InvalidToken(Some(TokenError::Invalid)))
    ));
    // A correctly signed token whose user is gone (or whose family is another user's) is
    // refused the same way.
    assert!(matches!(
        auth.execute("ghost").await,
        Err(AuthenticateError::InvalidToken(None))
    ));
}

#[tokio::test]
async fn authenticate_in_two_halves_verifies_once_then_loads() {
    let mut tokens = MockTokenCodec::new();
    tokens
        .expect_verify_access()
        .times(2)
        .returning(|t, _| match t {
            "good" => Ok(AccessClaims {
                user_id: UserId::new(1),
                family: Some(family_id(1)),
            }),
            _ => Err(TokenError::Expired),
        });
    let mut users = MockUsers::new();
    users
        .expect_find_in_live_session()
        .withf(|id, fam, _| *id == UserId::new(1) && *fam == family_id(1))
        .times(1)
        .returning(|_, _, _| Ok(Some(user(1))));
    let auth = Authenticate::new(Arc::new(tokens), Arc::new(users), fixed_clock());
    let verified = auth.verify("good").expect("valid");
    assert_eq!(verified.user_id(), UserId::new(1));
    let principal = auth.load(verified).await.expect("user exists");
    assert_eq!(
        (principal.user.id, principal.family),
        (UserId::new(1), Some(family_id(1)))
    );
    assert!(matches!(auth.verify("old"), Err(TokenError::Expired)));
}

#[tokio::test]
async fn a_verified_token_of_a_deleted_user_does_not_load() {
    let mut tokens = MockTokenCodec::new();
    tokens.expect_verify_access().returning(|_, _| {
        Ok(AccessClaims {
            user_id: UserId::new(9),
            family: Some(family_id(1)),
        })
    });
    let mut users = MockUsers::new();
    users
        .expect_find_in_live_session()
        .returning(|_, _, _| Ok(None));
    let auth = Authenticate::new(Arc::new(tokens), Arc::new(users), fixed_clock());
    let verified = auth.verify("signed").expect("valid signature");
    assert!(matches!(
        auth.load(verified).await,
        Err(AuthenticateError::InvalidToken(None))
    ));
}

#[tokio::test]
async fn an_access_token_of_an_ended_session_is_refused_although_its_user_exists() {
    let mut tokens = MockTokenCodec::new();
    tokens.expect_verify_access().returning(|_, _| {
        Ok(AccessClaims {
            user_id: UserId::new(1),
            family: Some(family_id(2)),
        })
    });
    let mut users = MockUsers::new();
    live_sessions(&mut users);
    // The plain lookup would find the user: the token must not be judged by it.
    users.expect_find().never();
    let auth = Authenticate::new(Arc::new(tokens), Arc::new(users), fixed_clock());
    assert!(matches!(
        auth.execute("signed, family 2 revoked").await,
        Err(AuthenticateError::InvalidToken(None))
    ));
}

#[tokio::test]
async fn an_access_token_without_a_family_is_refused_without_asking_the_store() {
    let mut tokens = MockTokenCodec::new();
    tokens.expect_verify_access().returning(|_, _| {
        Ok(AccessClaims {
            user_id: UserId::new(1),
            family: None,
        })
    });
    let mut users = MockUsers::new();
    users.expect_find_in_live_session().never();
    users.expect_find().never();
    let auth = Authenticate::new(Arc::new(tokens), Arc::new(users), fixed_clock());
    assert!(matches!(
        auth.execute("signed, no fam").await,
        Err(AuthenticateError::InvalidToken(None))
    ));
}

fn login_uc(users: MockUsers, hasher: MockPasswordHasher, sessions: MockSessions) -> Login {
    Login::new(
        Arc::new(users),
        Arc::new(hasher),
        Arc::new(sessions),
        Arc::new(codec()),
        random(),
        fixed_clock(),
        policy(),
    )
}

#[tokio::test]
async fn login_starts_a_family_and_signs_a_pair() {
    let mut users = MockUsers::new();
    users
        .expect_find_by_email()
        .withf(|e| e.as_str() == "u1@example.com")
        .returning(|_| Ok(Some(user(1))));
    let mut hasher = MockPasswordHasher::new();
    hasher
        .expect_verify()
        .withf(|c, h| c == "password1" && *h == Some(hash()))
        .returning(|_, _| Ok(true));
    let mut sessions = MockSessions::new();
    sessions
        .expect_create()
        .withf(|f| {
            // The ids come from the Random port (the fixture's first two draws), never from
            // randomness the application draws itself.
            let drawn = |byte: u8| uuid::Builder::from_random_bytes([byte; 16]).into_uuid();
            f.user_id() == UserId::new(1)
                && f.record().user_agent.as_deref() == Some("ua")
                && f.is_live(now())
                && f.id().get() == drawn(1)
                && f.current().jti == TokenId::new(drawn(2))
        })
        .times(1)
        .returning(|_| Ok(()));
    let pair = login_uc(users, hasher, sessions)
        .execute(" U1@example.com ", "password1", Some("ua"))
        .await
        .expect("logged in");
    assert!(pair.access_token.starts_with("access:1:"));
    assert!(pair.refresh_token.starts_with("refresh:"));
    assert!(!format!("{pair:?}").contains("access:"));
}

#[tokio::test]
async fn every_credential_failure_spends_one_verification() {
    // Unknown address: verified against nothing, refused.
    let mut users = MockUsers::new();
    users.expect_find_by_email().returning(|_| Ok(None));
    let mut hasher = MockPasswordHasher::new();
    hasher
        .expect_verify()
        .withf(|_, h| h.is_none())
        .times(1)
        .returning(|_, _| Ok(false));
    let err = login_uc(users, hasher, MockSessions::new())
        .execute("nobody@example.com", "password1", None)
        .await
        .expect_err("unknown");
    assert!(matches!(err, LoginError::InvalidCredentials));

    // Not even an address: still one verification, no lookup.
    let mut hasher = MockPasswordHasher::new();
    hasher.expect_verify().times(1).returning(|_, _| Ok(false));
    let err = login_uc(MockUsers::new(), hasher, MockSessions::new())
        .execute("not-an-email", "x", None)
        .await
        .expect_err("malformed");
    assert!(matches!(err, LoginError::InvalidCredentials));

    // Wrong password.
    let mut users = MockUsers::new();
    users
        .expect_find_by_email()
        .returning(|_| Ok(Some(user(1))));
    let mut hasher = MockPasswordHasher::new();
    hasher.expect_verify().times(1).returning(|_, _| Ok(false));
    let err = login_uc(users, hasher, MockSessions::new())
        .execute("u1@example.com", "wrong", None)
        .await
        .expect_err("wrong");
    assert_eq!(err.to_string(), "Invalid Credentials");
}

#[tokio::test]
async fn login_surfaces_store_and_hasher_failures() {
    let mut users = MockUsers::new();
    users
        .expect_find_by_email()
        .returning(|_| Err(unavailable()));
    let err = login_uc(users, MockPasswordHasher::new(), MockSessions::new())
        .execute("u1@example.com", "p", None)
        .await
        .expect_err("down");
    assert!(matches!(err, LoginError::Store(_)));

    let mut users = MockUsers::new();
    users
        .expect_find_by_email()
        .returning(|_| Ok(Some(user(1))));
    let mut hasher = MockPasswordHasher::new();
    hasher
        .expect_verify()
        .returning(|_, _| Err(HashError("corrupt".into())));
    let err = login_uc(users, hasher, MockSessions::new())
        .execute("u1@example.com", "p", None)
        .await
        .expect_err("hash");
    assert!(matches!(err, LoginError::Hash(_)));

    let mut users = MockUsers::new();
    users
        .expect_find_by_email()
        .returning(|_| Ok(Some(user(1))));
    let mut hasher = MockPasswordHasher::new();
    hasher.expect_verify().returning(|_, _| Ok(true));
    let mut sessions = MockSessions::new();
    sessions.expect_create().returning(|_| Err(unavailable()));
    let err = login_uc(users, hasher, sessions)
        .execute("u1@example.com", "p", None)
        .await
        .expect_err("store");
    assert!(matches!(err, LoginError::Store(_)));
}

#[tokio::test]
async fn refreshing_the_current_token_rotates_it() {
    let mut sessions = MockSessions::new();
    sessions
        .expect_find_by_token()
        .returning(|_| Ok(Some(family(1, 10))));
    sessions
        .expect_save()
        .withf(|f, change| matches!(change, SessionChange::Rotated { retired, issued } if *retired == token_id(10) && issued.rotated_from == Some(token_id(10)) && f.current().jti == issued.jti))
        .times(1)
        .returning(|_, _| Ok(()));
    let (outcome, pair) = refresh_uc(sessions, codec_accepting(10))
        .execute_with_outcome("t")
        .await;
    assert_eq!(outcome, RefreshOutcome::Rotated);
    let pair = pair.expect("rotated");
    assert!(pair.refresh_token.starts_with("refresh:"));
    assert_ne!(pair.refresh_token, format!("refresh:{}", token_id(10)));
}

#[tokio::test]
async fn invalid_or_unknown_refresh_tokens_are_refused() {
    let mut tokens = codec();
    tokens
        .expect_verify_refresh()
        .returning(|_, _| Err(TokenError::WrongType));
    let err = refresh_uc(MockSessions::new(), tokens)
        .execute("access-token")
        .await
        .expect_err("wrong type");
    assert_eq!(err.to_string(), "Could not validate refresh token");

    let mut sessions = MockSessions::new();
    sessions.expect_find_by_token().returning(|_| Ok(None));
    let err = refresh_uc(sessions, codec_accepting(10))
        .execute("t")
        .await
        .expect_err("unknown jti");
    assert!(matches!(err, RefreshError::InvalidRefreshToken));

    // A token whose claims name another family than the one that stored its jti.
    let mut sessions = MockSessions::new();
    sessions.expect_find_by_token().returning(|_| {
        Ok(Some(SessionFamily::start(
            family_id(2),
            UserId::new(1),
            token_id(10),
            None,
            now(),
            &policy(),
        )))
    });
    let err = refresh_uc(sessions, codec_accepting(10))
        .execute("t")
        .await
        .expect_err("mismatch");
    assert!(matches!(err, RefreshError::InvalidRefreshToken));
}

#[tokio::test]
async fn the_loser_of_a_concurrent_refresh_is_refused() {
    let mut sessions = MockSessions::new();
    sessions
        .expect_find_by_token()
        .returning(|_| Ok(Some(family(1, 10))));
    sessions
        .expect_save()
        .returning(|_, _| Err(StoreError::Conflict));
    let (outcome, result) = refresh_uc(sessions, codec_accepting(10))
        .execute_with_outcome("t")
        .await;
    assert_eq!(outcome, RefreshOutcome::Refused);
    assert!(matches!(result, Err(RefreshError::InvalidRefreshToken)));
}

fn rotated_family() -> SessionFamily {
    let mut f = family(1, 10);
    f.refresh(token_id(10), token_id(11), now(), &policy())
        .expect("rotates");
    f.refresh(token_id(11), token_id(12), now(), &policy())
        .expect("rotates");
    f
}

#[tokio::test]
async fn replaying_an_old_token_revokes_the_family() {
    let mut sessions = MockSessions::new();
    sessions
        .expect_find_by_token()
        .returning(|_| Ok(Some(rotated_family())));
    sessions
        .expect_save()
        .withf(|f, change| {
            matches!(
                change,
                SessionChange::Revoked(Revocation {
                    reason: RevocationReason::ReuseDetected,
                    ..
                })
            ) && f.revocation().is_some()
        })
        .times(1)
        .returning(|_, _| Ok(()));
    let (outcome, result) = refresh_uc(sessions, codec_accepting(10))
        .execute_with_outcome("t")
        .await;
    assert_eq!(outcome, RefreshOutcome::ReuseDetected);
    assert!(matches!(result, Err(RefreshError::InvalidRefreshToken)));
}

#[tokio::test]
async fn a_reuse_racing_a_rotation_still_revokes() {
    let mut sessions = MockSessions::new();
    sessions
        .expect_find_by_token()
        .returning(|_| Ok(Some(rotated_family())));
    let mut seq = mockall::Sequence::new();
    sessions
        .expect_save()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Err(StoreError::Conflict));
    sessions
        .expect_find()
        .returning(|_| Ok(Some(rotated_family())));
    sessions
        .expect_save()
        .withf(|_, change| matches!(change, SessionChange::Revoked(r) if r.reason == RevocationReason::ReuseDetected))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(()));
    let (outcome, _) = refresh_uc(sessions, codec_accepting(10))
        .execute_with_outcome("t")
        .await;
    assert_eq!(outcome, RefreshOutcome::ReuseDetected);
}

#[tokio::test]
async fn a_replay_inside_the_grace_window_saves_nothing() {
    let mut sessions = MockSessions::new();
    sessions
        .expect_find_by_token()
        .returning(|_| Ok(Some(rotated_family())));
    // No save expectation: saving would panic.
    let (outcome, result) = refresh_uc(sessions, codec_accepting(11))
        .execute_with_outcome("t")
        .await;
    assert_eq!(outcome, RefreshOutcome::Refused);
    assert!(matches!(result, Err(RefreshError::InvalidRefreshToken)));
}

#[tokio::test]
async fn a_family_past_its_absolute_lifetime_is_not_refreshed() {
    // Logged in 90 days ago (the fixtures' max_age), refreshed yesterday under a policy that
    // let the token live 29 more days: the family has ended all the same.
    let mut record = family(1, 10).record().clone();
    record.created_at = now().plus(time::Duration::days(-90));
    record.current.issued_at = now().plus(time::Duration::days(-1));
    record.current.expires_at = now().plus(time::Duration::days(29));
    let ended = SessionFamily::restore(record);
    let mut sessions = MockSessions::new();
    sessions
        .expect_find_by_token()
        .returning(move |_| Ok(Some(ended.clone())));
    sessions.expect_save().never();
    let (outcome, result) = refresh_uc(sessions, codec_accepting(10))
        .execute_with_outcome("t")
        .await;
    assert_eq!(outcome, RefreshOutcome::Refused);
    assert!(matches!(result, Err(RefreshError::InvalidRefreshToken)));
}

#[tokio::test]
async fn refresh_surfaces_store_failures() {
    let mut sessions = MockSessions::new();
    sessions
        .expect_find_by_token()
        .returning(|_| Err(unavailable()));
    let err = refresh_uc(sessions, codec_accepting(10))
        .execute("t")
        .await
        .expect_err("down");
    assert!(matches!(err, RefreshError::Store(_)));
}

fn logout_uc(sessions: MockSessions, tokens: MockTokenCodec) -> Logout {
    Logout::new(Arc::new(sessions), Arc::new(tokens), fixed_clock())
}

#[tokio::test]
async fn logout_revokes_the_family_once() {
    let mut sessions = MockSessions::new();
    sessions
        .expect_find()
        .withf(|id| *id == family_id(1))
        .returning(|_| Ok(Some(family(1, 10))));
    sessions
        .expect_save()
        .withf(|_, change| matches!(change, SessionChange::Revoked(r) if r.reason == RevocationReason::Logout))
        .times(1)
        .returning(|_, _| Ok(()));
    logout_uc(sessions, codec_accepting(10))
        .execute("t")
        .await
        .expect("logged out");

    // Already revoked: nothing to save, still fine.
    let mut sessions = MockSessions::new();
    sessions.expect_find().returning(|_| {
        let mut f = family(1, 10);
        f.revoke(RevocationReason::Logout, now());
        Ok(Some(f))
    });
    logout_uc(sessions, codec_accepting(10))
        .execute("t")
        .await
        .expect("idempotent");

    // Forgotten family: fine too.
    let mut sessions = MockSessions::new();
    sessions.expect_find().returning(|_| Ok(None));
    logout_uc(sessions, codec_accepting(10))
        .execute("t")
        .await
        .expect("unknown family");
}

#[tokio::test]
async fn logout_refuses_invalid_tokens_and_retries_conflicts() {
    let mut tokens = MockTokenCodec::new();
    tokens
        .expect_verify_refresh()
        .returning(|_, _| Err(TokenError::Expired));
    assert!(matches!(
        logout_uc(MockSessions::new(), tokens).execute("t").await,
        Err(LogoutError::InvalidRefreshToken)
    ));

    let mut sessions = MockSessions::new();
    sessions
        .expect_find()
        .returning(|_| Ok(Some(family(1, 10))));
    sessions
        .expect_save()
        .times(3)
        .returning(|_, _| Err(StoreError::Conflict));
    let err = logout_uc(sessions, codec_accepting(10))
        .execute("t")
        .await
        .expect_err("keeps conflicting");
    assert!(matches!(err, LogoutError::Store(StoreError::Conflict)));
}

#[tokio::test]
async fn logout_all_revokes_every_family_of_the_user() {
    let mut sessions = MockSessions::new();
    sessions
        .expect_revoke_all()
        .withf(|u, reason, at| {
            *u == UserId::new(1) && *reason == RevocationReason::LogoutAll && *at == now()
        })
        .returning(|_, _, _| Ok(2));
    assert_eq!(
        LogoutAll::new(Arc::new(sessions), fixed_clock())
            .execute(UserId::new(1))
            .await
            .expect("revoked"),
        2
    );
}
