//! The generic OpenID provider against the fake (discovery on first use).

use super::*;
use keel_oauth::BuildError;
use keel_testkit::oauth_fake::{Behaviour, closed_url};
use serde_json::json;
use std::time::Instant;

#[tokio::test]
async fn login_returns_the_verified_identity_keyed_by_issuer_and_subject() {
    let fake = FakeProvider::start().await;
    fake.set_identity("subject-42", Some("Person@Example.com"), json!(true));
    let provider = one(oidc_settings(&fake.issuer()), &options());
    assert_eq!(provider.provider(), Provider::Oidc);
    assert_eq!(provider.display_name(), "OpenID Connect");

    let identity = sign_in(provider.as_ref(), &fake).await.expect("identity");
    assert_eq!(
        identity,
        ExternalIdentity {
            issuer: fake.issuer(),
            subject: "subject-42".to_owned(),
            email: Some("Person@Example.com".to_owned()),
            email_verified: true,
        }
    );
    let calls = fake.token_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].route, "/oidc/token");
    assert!(calls[0].problems.is_empty(), "{:?}", calls[0].problems);
    // Discovery lists client_secret_basic: the default method is used.
    assert_eq!(calls[0].client_auth, "basic");
}

#[tokio::test]
async fn the_authorize_url_comes_from_discovery_and_carries_pkce_and_nonce() {
    let fake = FakeProvider::start().await;
    let settings = ProviderSettings {
        display_name: Some("Company SSO".to_owned()),
        ..oidc_settings(&fake.issuer())
    };
    let provider = one(settings, &options());
    assert_eq!(provider.display_name(), "Company SSO");
    let url = provider
        .authorize_url(&authorize_request())
        .await
        .expect("discovery works");
    assert!(
        url.starts_with(&format!("{}/oidc/authorize?", fake.issuer())),
        "{url}"
    );
    let expected: Vec<(String, String)> = [
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "openid email profile"),
        ("state", STATE),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("nonce", NONCE),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(query(&url), expected);
}

#[tokio::test]
async fn email_verified_false_or_absent_is_not_verified() {
    for verified in [json!(false), serde_json::Value::Null] {
        let fake = FakeProvider::start().await;
        fake.set_identity("s", Some("p@example.com"), verified.clone());
        let provider = one(oidc_settings(&fake.issuer()), &options());
        let identity = sign_in(provider.as_ref(), &fake).await.expect("identity");
        assert_eq!(identity.email.as_deref(), Some("p@example.com"));
        assert!(!identity.email_verified, "{verified}");
    }
}

#[tokio::test]
async fn an_id_token_without_email_is_completed_from_userinfo() {
    let fake = FakeProvider::start().await;
    fake.set_identity("s-ui", Some("ui@example.com"), json!("true"));
    fake.configure(|knobs| knobs.email_only_in_userinfo = true);
    let provider = one(oidc_settings(&fake.issuer()), &options());
    let identity = sign_in(provider.as_ref(), &fake).await.expect("identity");
    assert_eq!(identity.email.as_deref(), Some("ui@example.com"));
    assert!(identity.email_verified);
    assert_eq!(identity.subject, "s-ui");
}

#[tokio::test]
async fn a_failing_userinfo_is_a_profile_fetch_failure() {
    let fake = FakeProvider::start().await;
    fake.configure(|knobs| {
        knobs.email_only_in_userinfo = true;
        knobs.behaviour = Behaviour::ProfileError;
    });
    let provider = one(oidc_settings(&fake.issuer()), &options());
    let result = sign_in(provider.as_ref(), &fake).await;
    assert!(
        matches!(result, Err(ProviderError::ProfileFetchFailed(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_rotated_signing_key_is_picked_up_by_refetching_the_jwks() {
    let fake = FakeProvider::start().await;
    let provider = one(oidc_settings(&fake.issuer()), &options());
    // The first login caches the JWKS (one key).
    sign_in(provider.as_ref(), &fake)
        .await
        .expect("first login");
    // The provider rotates: a new key signs, the cached set lacks its kid.
    fake.configure(|knobs| knobs.rotated_keys = true);
    let identity = sign_in(provider.as_ref(), &fake)
        .await
        .expect("after rotation");
    assert_eq!(identity.issuer, fake.issuer());
}

#[tokio::test]
async fn a_refused_code_is_an_exchange_failure() {
    let fake = FakeProvider::start().await;
    fake.set_behaviour(Behaviour::TokenError);
    let provider = one(oidc_settings(&fake.issuer()), &options());
    let result = sign_in(provider.as_ref(), &fake).await;
    assert!(
        matches!(&result, Err(ProviderError::ExchangeFailed(m)) if m.starts_with("invalid_grant")),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_token_endpoint_server_error_is_unreachable() {
    let fake = FakeProvider::start().await;
    fake.set_behaviour(Behaviour::TokenServerError);
    let provider = one(oidc_settings(&fake.issuer()), &options());
    let result = sign_in(provider.as_ref(), &fake).await;
    assert!(
        matches!(result, Err(ProviderError::Unreachable(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_slow_token_endpoint_times_out_as_unreachable() {
    // Google's fixed endpoints: the only request is the token request, which the fake answers
    // after 10 s; the client gives up after 1 s.
    let fake = FakeProvider::start().await;
    fake.configure(|knobs| {
        knobs.behaviour = Behaviour::SlowToken;
        knobs.delay = Duration::from_secs(10);
    });
    let options = HttpOptions {
        timeout: Duration::from_secs(1),
        allow_insecure: true,
    };
    let provider = one(builtin_settings(Provider::Google, &fake), &options);
    let code = fake.mint_code(REDIRECT_URI, CHALLENGE, Some(NONCE));
    let started = Instant::now();
    let result = provider.exchange(&exchange_of(code)).await;
    let elapsed = started.elapsed();
    assert!(
        matches!(result, Err(ProviderError::Unreachable(_))),
        "{result:?}"
    );
    assert!(
        elapsed < Duration::from_secs(8),
        "gave up after {elapsed:?}"
    );
    assert_eq!(
        fake.token_calls().len(),
        1,
        "the request reached the provider"
    );
}

#[tokio::test]
async fn a_provider_that_is_down_is_unreachable_and_discovery_is_retried() {
    let provider = one(oidc_settings(&closed_url()), &options());
    for _ in 0..2 {
        let result = provider.authorize_url(&authorize_request()).await;
        assert!(
            matches!(result, Err(ProviderError::Unreachable(_))),
            "{result:?}"
        );
    }
    let exchange = provider.exchange(&exchange_of("code".to_owned())).await;
    assert!(
        matches!(exchange, Err(ProviderError::Unreachable(_))),
        "{exchange:?}"
    );
}

#[tokio::test]
async fn a_provider_going_down_after_discovery_is_unreachable() {
    let fake = FakeProvider::start().await;
    let provider = one(oidc_settings(&fake.issuer()), &options());
    let code = code_for(provider.as_ref(), &fake).await;
    fake.stop().await;
    let result = provider.exchange(&exchange_of(code)).await;
    assert!(
        matches!(result, Err(ProviderError::Unreachable(_))),
        "{result:?}"
    );
}

/// Abuse of the contract (tokens, sessions, ownership, hostile input): part of the `security` suite by living here.
mod security {
    use super::*;

    #[tokio::test]
    async fn every_id_token_defect_is_an_invalid_token_response() {
        for behaviour in [
            Behaviour::WrongNonce,
            Behaviour::WrongAudience,
            Behaviour::WrongIssuer,
            Behaviour::Expired,
            Behaviour::BadSignature,
            Behaviour::UnknownKey,
            Behaviour::NoIdToken,
            Behaviour::MalformedTokenResponse,
        ] {
            let fake = FakeProvider::start().await;
            fake.set_behaviour(behaviour);
            let provider = one(oidc_settings(&fake.issuer()), &options());
            let result = sign_in(provider.as_ref(), &fake).await;
            assert!(
                matches!(result, Err(ProviderError::InvalidTokenResponse(_))),
                "{behaviour:?}: {result:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_replayed_code_or_a_wrong_verifier_is_refused_by_the_provider() {
        let fake = FakeProvider::start().await;
        let provider = one(oidc_settings(&fake.issuer()), &options());
        let code = code_for(provider.as_ref(), &fake).await;
        provider
            .exchange(&exchange_of(code.clone()))
            .await
            .expect("first use");
        let replay = provider.exchange(&exchange_of(code)).await;
        assert!(
            matches!(replay, Err(ProviderError::ExchangeFailed(_))),
            "{replay:?}"
        );

        let code = code_for(provider.as_ref(), &fake).await;
        let wrong = CodeExchange {
            pkce_verifier: "another-verifier-another-verifier-another-ve".to_owned(),
            ..exchange_of(code)
        };
        let result = provider.exchange(&wrong).await;
        assert!(
            matches!(result, Err(ProviderError::ExchangeFailed(_))),
            "{result:?}"
        );
        assert!(
            fake.token_calls()
                .last()
                .expect("a call")
                .problems
                .iter()
                .any(|p| p.contains("code_verifier"))
        );
    }

    #[tokio::test]
    async fn production_refuses_http_and_private_issuers() {
        let production = HttpOptions {
            allow_insecure: false,
            ..options()
        };
        for issuer in [
            "http://sso.example.com",
            "https://127.0.0.1:8443",
            "https://10.0.0.5",
            "https://localhost",
        ] {
            let result = build(&[oidc_settings(issuer)], &production);
            assert!(
                matches!(result, Err(BuildError::IssuerUrl { .. })),
                "{issuer}: {:?}",
                result.err()
            );
        }
        assert!(build(&[oidc_settings("https://sso.example.com")], &production).is_ok());
        let missing = build(
            &[ProviderSettings::new(
                Provider::Oidc,
                CLIENT_ID,
                CLIENT_SECRET,
            )],
            &production,
        );
        assert!(matches!(
            missing,
            Err(BuildError::Missing {
                setting: "OAUTH_OIDC_ISSUER_URL",
                ..
            })
        ));
    }

    #[tokio::test]
    async fn production_refuses_token_requests_to_a_local_provider() {
        // Google re-based on the local fake: fine outside production, refused in production
        // before any request leaves (the fake sees no token call).
        let fake = FakeProvider::start().await;
        let production = HttpOptions {
            allow_insecure: false,
            ..options()
        };
        let provider = one(builtin_settings(Provider::Google, &fake), &production);
        let code = fake.mint_code(REDIRECT_URI, CHALLENGE, Some(NONCE));
        let result = provider.exchange(&exchange_of(code)).await;
        assert!(
            matches!(&result, Err(ProviderError::Unreachable(e)) if e.to_string().contains("refused")),
            "{result:?}"
        );
        assert!(fake.token_calls().is_empty());

        let local = one(builtin_settings(Provider::Google, &fake), &options());
        assert!(sign_in(local.as_ref(), &fake).await.is_ok());
    }
}
