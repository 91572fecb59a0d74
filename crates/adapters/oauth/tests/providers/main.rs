//! keel-oauth's providers against the local fakes of `keel_testkit::oauth_fake`: the generic
//! OpenID provider (discovery, ID-token validation, error mapping, timeouts), Google,
//! Microsoft and Apple (ID tokens, Apple's client secret), GitHub and Facebook (profile APIs),
//! and the built-in authorize URLs (no network).

mod authorize;
mod builtin;
mod oidc;
mod plain;

use keel_domain::oauth::{ExternalIdentity, Provider};
use keel_oauth::{HttpOptions, ProviderSettings, build};
use keel_ports::{AuthorizeRequest, CodeExchange, IdentityProvider, ProviderError};
use keel_testkit::oauth_fake::{CLIENT_ID, CLIENT_SECRET, FakeProvider};
use openidconnect::url::Url;
use std::sync::Arc;
use std::time::Duration;

/// The callback keel would use.
pub const REDIRECT_URI: &str = "http://127.0.0.1:8000/api/v1/auth/oauth/test/callback";
/// A PKCE verifier and its S256 challenge.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mJ92K9M6ulU3zGnHG37wH8b0KGe2Wo";
pub const CHALLENGE: &str = "hgFbn35otwPT97Zcqf1oFwGHnojXGUeO7RwjLY4KOzs";
pub const STATE: &str = "state-AZaz09-_.~";
pub const NONCE: &str = "nonce-of-this-flow";

/// Outside production, the default timeout (generous: a loaded CI machine must not turn a
/// slow debug-build fake into a false "unreachable"; the timeout test sets its own).
pub fn options() -> HttpOptions {
    HttpOptions {
        timeout: keel_oauth::DEFAULT_TIMEOUT,
        allow_insecure: true,
    }
}

pub fn one(settings: ProviderSettings, options: &HttpOptions) -> Arc<dyn IdentityProvider> {
    let mut built = build(&[settings], options).expect("valid settings");
    assert_eq!(built.len(), 1);
    built.remove(0)
}

/// The generic provider pointed at `issuer`.
pub fn oidc_settings(issuer: &str) -> ProviderSettings {
    ProviderSettings {
        issuer_url: Some(issuer.to_owned()),
        ..ProviderSettings::new(Provider::Oidc, CLIENT_ID, CLIENT_SECRET)
    }
}

/// A built-in provider re-based on the fake.
pub fn builtin_settings(provider: Provider, fake: &FakeProvider) -> ProviderSettings {
    ProviderSettings {
        test_base_url: Some(fake.base_url()),
        ..ProviderSettings::new(provider, CLIENT_ID, CLIENT_SECRET)
    }
}

pub fn authorize_request() -> AuthorizeRequest {
    AuthorizeRequest {
        redirect_uri: REDIRECT_URI.to_owned(),
        state: STATE.to_owned(),
        pkce_challenge: CHALLENGE.to_owned(),
        nonce: NONCE.to_owned(),
    }
}

pub fn query(url: &str) -> Vec<(String, String)> {
    Url::parse(url)
        .expect("an absolute URL")
        .query_pairs()
        .into_owned()
        .collect()
}

pub fn param(url: &str, name: &str) -> Option<String> {
    query(url)
        .into_iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
}

/// The code the fake hands back for this provider's authorize URL.
pub async fn code_for(provider: &dyn IdentityProvider, fake: &FakeProvider) -> String {
    let url = provider
        .authorize_url(&authorize_request())
        .await
        .expect("an authorize URL");
    let callback = fake.authorize(&url);
    assert_eq!(param(&callback, "state").as_deref(), Some(STATE));
    param(&callback, "code").expect("the callback has a code")
}

pub fn exchange_of(code: String) -> CodeExchange {
    CodeExchange {
        code,
        redirect_uri: REDIRECT_URI.to_owned(),
        pkce_verifier: VERIFIER.to_owned(),
        nonce: NONCE.to_owned(),
    }
}

/// The whole flow: authorize URL → fake consent → code exchange.
pub async fn sign_in(
    provider: &dyn IdentityProvider,
    fake: &FakeProvider,
) -> Result<ExternalIdentity, ProviderError> {
    let code = code_for(provider, fake).await;
    provider.exchange(&exchange_of(code)).await
}
