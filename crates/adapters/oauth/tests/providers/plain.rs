//! GitHub and Facebook (plain OAuth 2.0: the identity comes from their APIs).

use super::*;
use keel_oauth::{FACEBOOK_ISSUER, GITHUB_ISSUER};
use keel_testkit::oauth_fake::Behaviour;
use serde_json::json;

#[tokio::test]
async fn github_uses_the_account_id_and_the_verified_primary_email() {
    let fake = FakeProvider::start().await;
    fake.set_identity("583231", Some("octo@example.com"), json!(true));
    fake.configure(|knobs| {
        knobs.github_emails = Some(vec![
            ("old@example.com".to_owned(), false, true),
            ("octo@example.com".to_owned(), true, true),
        ]);
    });
    let provider = one(builtin_settings(Provider::Github, &fake), &options());
    let identity = sign_in(provider.as_ref(), &fake).await.expect("identity");
    assert_eq!(
        identity,
        ExternalIdentity {
            issuer: GITHUB_ISSUER.to_owned(),
            subject: "583231".to_owned(),
            email: Some("octo@example.com".to_owned()),
            email_verified: true,
        }
    );
    let calls = fake.token_calls();
    assert_eq!(calls[0].route, "/login/oauth/access_token");
    assert!(calls[0].problems.is_empty(), "{:?}", calls[0].problems);
}

#[tokio::test]
async fn github_unverified_primary_is_unverified_and_no_primary_is_no_email() {
    let fake = FakeProvider::start().await;
    fake.set_identity("7", None, json!(false));
    let provider = one(builtin_settings(Provider::Github, &fake), &options());

    fake.configure(|knobs| {
        knobs.github_emails = Some(vec![
            ("verified-secondary@example.com".to_owned(), false, true),
            ("main@example.com".to_owned(), true, false),
        ]);
    });
    let identity = sign_in(provider.as_ref(), &fake).await.expect("identity");
    assert_eq!(identity.email.as_deref(), Some("main@example.com"));
    assert!(!identity.email_verified);

    fake.configure(|knobs| {
        knobs.github_emails = Some(vec![("secondary@example.com".to_owned(), false, true)]);
    });
    let identity = sign_in(provider.as_ref(), &fake).await.expect("identity");
    assert_eq!(identity.email, None);
    assert!(!identity.email_verified);
}

#[tokio::test]
async fn github_errors_map_to_exchange_and_profile_failures() {
    let fake = FakeProvider::start().await;
    let provider = one(builtin_settings(Provider::Github, &fake), &options());
    // GitHub reports a refused code with 200 and an error body.
    fake.set_behaviour(Behaviour::TokenError);
    let refused = sign_in(provider.as_ref(), &fake).await;
    assert!(
        matches!(refused, Err(ProviderError::ExchangeFailed(_))),
        "{refused:?}"
    );

    fake.set_behaviour(Behaviour::ProfileError);
    let profile = sign_in(provider.as_ref(), &fake).await;
    assert!(
        matches!(profile, Err(ProviderError::ProfileFetchFailed(_))),
        "{profile:?}"
    );

    fake.set_behaviour(Behaviour::MalformedTokenResponse);
    let malformed = sign_in(provider.as_ref(), &fake).await;
    assert!(
        matches!(malformed, Err(ProviderError::InvalidTokenResponse(_))),
        "{malformed:?}"
    );
}

#[tokio::test]
async fn facebook_reads_id_and_email_from_the_graph_api() {
    let fake = FakeProvider::start().await;
    fake.set_identity("10220000", Some("fb@example.com"), serde_json::Value::Null);
    let provider = one(builtin_settings(Provider::Facebook, &fake), &options());
    let identity = sign_in(provider.as_ref(), &fake).await.expect("identity");
    assert_eq!(
        identity,
        ExternalIdentity {
            issuer: FACEBOOK_ISSUER.to_owned(),
            subject: "10220000".to_owned(),
            email: Some("fb@example.com".to_owned()),
            // Graph returns only confirmed emails.
            email_verified: true,
        }
    );

    fake.set_identity("10220001", None, serde_json::Value::Null);
    let identity = sign_in(provider.as_ref(), &fake).await.expect("identity");
    assert_eq!(identity.email, None);
    assert!(!identity.email_verified);
}

#[tokio::test]
async fn facebook_errors_map_to_exchange_and_profile_failures() {
    let fake = FakeProvider::start().await;
    let provider = one(builtin_settings(Provider::Facebook, &fake), &options());
    fake.set_behaviour(Behaviour::TokenError);
    let refused = sign_in(provider.as_ref(), &fake).await;
    assert!(
        matches!(&refused, Err(ProviderError::ExchangeFailed(m)) if m.contains("invalid or expired")),
        "{refused:?}"
    );
    fake.set_behaviour(Behaviour::ProfileError);
    let profile = sign_in(provider.as_ref(), &fake).await;
    assert!(
        matches!(profile, Err(ProviderError::ProfileFetchFailed(_))),
        "{profile:?}"
    );
}
