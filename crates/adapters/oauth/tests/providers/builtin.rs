//! Google, Microsoft and Apple (fixed endpoints re-based on the fake).

use super::*;
use keel_oauth::{APPLE_AUDIENCE, BuildError, CLIENT_SECRET_LIFETIME_SECONDS};
use keel_testkit::oauth_fake::{
    APPLE_KEY_ID, APPLE_PRIVATE_KEY_PEM, APPLE_TEAM_ID, Behaviour, MICROSOFT_TENANT,
};
use serde_json::json;

fn apple_settings(fake: &FakeProvider) -> ProviderSettings {
    ProviderSettings {
        apple_team_id: Some(APPLE_TEAM_ID.to_owned()),
        apple_key_id: Some(APPLE_KEY_ID.to_owned()),
        test_base_url: Some(fake.base_url()),
        ..ProviderSettings::new(Provider::Apple, CLIENT_ID, APPLE_PRIVATE_KEY_PEM)
    }
}

#[tokio::test]
async fn google_login_verifies_the_id_token_against_googles_issuer() {
    let fake = FakeProvider::start().await;
    fake.set_identity("g-1", Some("g@example.com"), json!(true));
    let provider = one(builtin_settings(Provider::Google, &fake), &options());
    let identity = sign_in(provider.as_ref(), &fake).await.expect("identity");
    assert_eq!(identity.issuer, "https://accounts.google.com");
    assert_eq!(identity.subject, "g-1");
    assert!(identity.email_verified);
    let calls = fake.token_calls();
    assert_eq!(calls[0].route, "/token");
    assert_eq!(calls[0].client_auth, "post");
    assert!(calls[0].problems.is_empty(), "{:?}", calls[0].problems);

    fake.set_behaviour(Behaviour::WrongIssuer);
    let result = sign_in(provider.as_ref(), &fake).await;
    assert!(
        matches!(result, Err(ProviderError::InvalidTokenResponse(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn apple_signs_its_client_secret_and_reads_string_email_verified() {
    for (verified, expected) in [
        (json!("true"), true),
        (json!("false"), false),
        (json!(true), true),
    ] {
        let fake = FakeProvider::start().await;
        fake.set_identity(
            "000123.abc",
            Some("x@privaterelay.appleid.com"),
            verified.clone(),
        );
        let provider = one(apple_settings(&fake), &options());
        let identity = sign_in(provider.as_ref(), &fake).await.expect("identity");
        assert_eq!(identity.issuer, "https://appleid.apple.com");
        assert_eq!(identity.subject, "000123.abc");
        assert_eq!(identity.email_verified, expected, "{verified}");

        let calls = fake.token_calls();
        assert_eq!(calls[0].route, "/auth/token");
        assert!(calls[0].problems.is_empty(), "{:?}", calls[0].problems);
        let claims = calls[0]
            .apple_client_secret
            .clone()
            .expect("the fake verified the client-secret JWT");
        assert_eq!(claims["iss"], APPLE_TEAM_ID);
        assert_eq!(claims["sub"], CLIENT_ID);
        assert_eq!(claims["aud"], APPLE_AUDIENCE);
        let lifetime = claims["exp"].as_u64().expect("exp") - claims["iat"].as_u64().expect("iat");
        assert_eq!(lifetime, CLIENT_SECRET_LIFETIME_SECONDS);
    }
}

#[tokio::test]
async fn apple_needs_its_team_id_key_id_and_a_p256_key() {
    let fake = FakeProvider::start().await;
    let no_team = ProviderSettings {
        apple_team_id: None,
        ..apple_settings(&fake)
    };
    assert!(matches!(
        build(&[no_team], &options()),
        Err(BuildError::Missing {
            setting: "OAUTH_APPLE_TEAM_ID",
            ..
        })
    ));
    let no_key_id = ProviderSettings {
        apple_key_id: Some("  ".to_owned()),
        ..apple_settings(&fake)
    };
    assert!(matches!(
        build(&[no_key_id], &options()),
        Err(BuildError::Missing {
            setting: "OAUTH_APPLE_KEY_ID",
            ..
        })
    ));
    let not_a_key = ProviderSettings {
        client_secret: "a plain secret".to_owned(),
        ..apple_settings(&fake)
    };
    assert!(matches!(
        build(&[not_a_key], &options()),
        Err(BuildError::AppleKey(_))
    ));
}

#[tokio::test]
async fn a_provider_listed_twice_is_refused() {
    let fake = FakeProvider::start().await;
    let google = builtin_settings(Provider::Google, &fake);
    assert!(matches!(
        build(&[google.clone(), google], &options()),
        Err(BuildError::Duplicate(Provider::Google))
    ));
}

/// Abuse of the contract (tokens, sessions, ownership, hostile input): part of the `security` suite by living here.
mod security {
    use super::*;

    #[tokio::test]
    async fn microsoft_accepts_the_tenant_issuer_of_the_tokens_own_tid_only() {
        let fake = FakeProvider::start().await;
        // Microsoft sends no email_verified: the email is not treated as verified.
        fake.set_identity("ms-1", Some("m@example.com"), serde_json::Value::Null);
        let provider = one(builtin_settings(Provider::Microsoft, &fake), &options());
        let identity = sign_in(provider.as_ref(), &fake).await.expect("identity");
        assert_eq!(
            identity.issuer,
            format!("https://login.microsoftonline.com/{MICROSOFT_TENANT}/v2.0")
        );
        assert_eq!(identity.subject, "ms-1");
        assert!(!identity.email_verified);

        for behaviour in [
            Behaviour::WrongIssuer,
            Behaviour::WrongAudience,
            Behaviour::BadSignature,
        ] {
            fake.set_behaviour(behaviour);
            let result = sign_in(provider.as_ref(), &fake).await;
            assert!(
                matches!(result, Err(ProviderError::InvalidTokenResponse(_))),
                "{behaviour:?}: {result:?}"
            );
        }
    }

    #[tokio::test]
    async fn apple_refuses_a_bad_nonce_and_a_foreign_signature() {
        let fake = FakeProvider::start().await;
        let provider = one(apple_settings(&fake), &options());
        for behaviour in [
            Behaviour::WrongNonce,
            Behaviour::BadSignature,
            Behaviour::Expired,
        ] {
            fake.set_behaviour(behaviour);
            let result = sign_in(provider.as_ref(), &fake).await;
            assert!(
                matches!(result, Err(ProviderError::InvalidTokenResponse(_))),
                "{behaviour:?}: {result:?}"
            );
        }
    }
}
