//! Identity providers (OAuth 2.0 / OpenID Connect): building the authorize URL of a flow and
//! turning the callback's code into a verified [`ExternalIdentity`].

use crate::BoxError;
use async_trait::async_trait;
use keel_domain::oauth::{ExternalIdentity, Provider};

/// What the authorize redirect must carry. Everything secret (the PKCE verifier) stays
/// server-side; only its S256 challenge travels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeRequest {
    /// `{OAUTH_PUBLIC_BASE_URL or request origin}/api/v1/auth/oauth/{provider}/callback`.
    pub redirect_uri: String,
    /// The opaque single-use state referencing the server-side flow.
    pub state: String,
    /// `BASE64URL(SHA256(verifier))` without padding (`code_challenge_method=S256`).
    pub pkce_challenge: String,
    /// The nonce the ID token must carry (OpenID providers; ignored by plain OAuth 2.0 ones).
    pub nonce: String,
}

/// What the callback hands to the provider to finish the flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeExchange {
    /// The authorization code from the callback.
    pub code: String,
    /// The same redirect URI as the authorize request.
    pub redirect_uri: String,
    /// The PKCE verifier kept server-side for this flow.
    pub pkce_verifier: String,
    /// The nonce stored with the flow; the ID token's `nonce` must equal it.
    pub nonce: String,
}

/// Why a provider could not produce an identity. Each maps to one `error_code` (docs/contract.md).
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The provider (or its discovery, JWKS, token or profile endpoint) could not be reached or
    /// did not answer in time → 502 `oauth_provider_unreachable`.
    #[error("the provider is unreachable")]
    Unreachable(#[source] BoxError),
    /// The provider refused the code exchange (e.g. `invalid_grant`) → 400 `oauth_exchange_failed`.
    #[error("the provider refused the code exchange: {0}")]
    ExchangeFailed(String),
    /// The token response was unusable: malformed, or an ID token failing validation
    /// (signature, issuer, audience, expiry, nonce) → 502 `oauth_invalid_token_response`.
    #[error("the provider's token response is invalid: {0}")]
    InvalidTokenResponse(String),
    /// The profile/userinfo/emails request failed or answered something unusable
    /// → 502 `oauth_profile_fetch_failed`.
    #[error("the provider's profile could not be fetched: {0}")]
    ProfileFetchFailed(String),
}

/// One configured identity provider.
///
/// Contract: every outbound request has a timeout (reported as [`ProviderError::Unreachable`]);
/// an identity is returned only after the code exchange succeeded and, for OpenID providers,
/// the ID token was fully validated (signature against the provider's JWKS, issuer, audience,
/// expiry, nonce); `email_verified` is `true` only when the provider asserts it.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait IdentityProvider: Send + Sync {
    /// Which provider this is.
    fn provider(&self) -> Provider;

    /// The name shown on buttons (`Google`, …, `OAUTH_OIDC_DISPLAY_NAME`).
    fn display_name(&self) -> String;

    /// The provider's authorize URL for this flow, with `response_type=code`, `client_id`,
    /// `redirect_uri`, the provider's scopes, `state`, `code_challenge`,
    /// `code_challenge_method=S256` (and `nonce` / `response_mode=form_post` where they apply).
    /// Built-in providers make no network request; the generic OpenID provider may fetch (and
    /// cache) its discovery document.
    ///
    /// # Errors
    /// [`ProviderError::Unreachable`] when discovery is needed and fails.
    async fn authorize_url(&self, request: &AuthorizeRequest) -> Result<String, ProviderError>;

    /// Exchanges the callback's code for a verified identity.
    ///
    /// # Errors
    /// See [`ProviderError`].
    async fn exchange(&self, exchange: &CodeExchange) -> Result<ExternalIdentity, ProviderError>;
}
