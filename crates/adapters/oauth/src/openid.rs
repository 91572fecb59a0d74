//! The OpenID Connect providers: the generic one (discovery from its issuer URL) and the
//! built-in Google, Microsoft and Apple. All of them verify the ID token with `openidconnect`
//! (signature against the provider's JWKS, issuer, audience, expiry, nonce) before an identity
//! is returned.

use crate::apple::AppleSecret;
use crate::http::{Http, HttpError};
use crate::token::{ClientAuth, exchange_code};
use async_trait::async_trait;
use keel_domain::oauth::{ExternalIdentity, Provider};
use keel_ports::{AuthorizeRequest, CodeExchange, IdentityProvider, ProviderError};
use openidconnect::core::{
    CoreClientAuthMethod, CoreGenderClaim, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::url::Url;
use openidconnect::{
    AdditionalClaims, ClaimsVerificationError, ClientId, IdToken, IdTokenClaims, IdTokenVerifier,
    IssuerUrl, Nonce, SignatureVerificationError,
};
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

/// How long fetched signing keys are used before they are fetched again. A token signed with a
/// key id the cached set lacks triggers an immediate refetch (key rotation).
const JWKS_MAX_AGE: Duration = Duration::from_secs(3600);

/// The issuer pattern of Microsoft's multi-tenant (`common`) endpoint.
const MICROSOFT_ISSUER_PREFIX: &str = "https://login.microsoftonline.com/";

/// Signature algorithms accepted on ID tokens: asymmetric ones only (a token "signed" with
/// the client secret or not at all is refused).
const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 10] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EcdsaP521Sha512,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// The claims keel reads beyond the standard ones.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ExtraClaims {
    /// Microsoft's tenant id (the issuer of a multi-tenant token is built from it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tid: Option<String>,
}

impl AdditionalClaims for ExtraClaims {}

type KeelIdToken = IdToken<
    ExtraClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type KeelClaims = IdTokenClaims<ExtraClaims, CoreGenderClaim>;

/// How the token's issuer is checked.
#[derive(Debug, Clone)]
pub(crate) enum IssuerRule {
    /// It must equal this issuer exactly.
    Exact(IssuerUrl),
    /// Microsoft `common`: the issuer varies per tenant; it must be exactly
    /// `https://login.microsoftonline.com/{tid}/v2.0` where `tid` is the token's own (signed)
    /// tenant claim — the documented way to validate multi-tenant tokens.
    MicrosoftTenant,
}

/// Where a provider's endpoints are.
#[derive(Debug, Clone)]
pub(crate) struct Endpoints {
    pub(crate) authorize: Url,
    pub(crate) token: Url,
    pub(crate) jwks: Url,
    pub(crate) userinfo: Option<Url>,
}

/// Endpoints, issuer rule and client authentication, fixed or discovered.
#[derive(Debug, Clone)]
struct Resolved {
    endpoints: Endpoints,
    issuer: IssuerRule,
    auth: ClientAuth,
}

#[derive(Debug)]
enum Source {
    Fixed(Resolved),
    Discovery {
        issuer: IssuerUrl,
        resolved: OnceCell<Resolved>,
    },
}

/// The client secret: static, or Apple's minted JWT.
#[derive(Debug, Clone)]
pub(crate) enum Secret {
    Static(String),
    Apple(AppleSecret),
}

/// An OpenID Connect provider.
#[derive(Debug)]
pub(crate) struct OpenIdProvider {
    provider: Provider,
    display_name: String,
    client_id: String,
    secret: Secret,
    scopes: &'static str,
    extra_authorize: &'static [(&'static str, &'static str)],
    http: Http,
    source: Source,
    jwks: RwLock<Option<(Instant, Arc<CoreJsonWebKeySet>)>>,
}

/// What an OpenID provider needs besides its endpoints.
#[derive(Debug)]
pub(crate) struct OpenIdConfig {
    pub(crate) provider: Provider,
    pub(crate) display_name: String,
    pub(crate) client_id: String,
    pub(crate) secret: Secret,
    pub(crate) scopes: &'static str,
    pub(crate) extra_authorize: &'static [(&'static str, &'static str)],
}

impl OpenIdProvider {
    /// A provider with known endpoints (Google, Microsoft, Apple): no network request is needed
    /// to build its authorize URL.
    pub(crate) fn fixed(
        config: OpenIdConfig,
        endpoints: Endpoints,
        issuer: IssuerRule,
        http: Http,
    ) -> Self {
        Self::new(
            config,
            Source::Fixed(Resolved {
                endpoints,
                issuer,
                auth: ClientAuth::Post,
            }),
            http,
        )
    }

    /// The generic provider: discovery from `issuer` on first use, cached once it succeeded.
    pub(crate) fn discovered(config: OpenIdConfig, issuer: IssuerUrl, http: Http) -> Self {
        Self::new(
            config,
            Source::Discovery {
                issuer,
                resolved: OnceCell::new(),
            },
            http,
        )
    }

    fn new(config: OpenIdConfig, source: Source, http: Http) -> Self {
        Self {
            provider: config.provider,
            display_name: config.display_name,
            client_id: config.client_id,
            secret: config.secret,
            scopes: config.scopes,
            extra_authorize: config.extra_authorize,
            http,
            source,
            jwks: RwLock::new(None),
        }
    }

    async fn resolved(&self) -> Result<&Resolved, ProviderError> {
        match &self.source {
            Source::Fixed(resolved) => Ok(resolved),
            Source::Discovery { issuer, resolved } => {
                resolved.get_or_try_init(|| self.discover(issuer)).await
            }
        }
    }

    /// Fetches the discovery document (its `issuer` must equal the configured one, which
    /// `openidconnect` checks) and the JWKS it names.
    async fn discover(&self, issuer: &IssuerUrl) -> Result<Resolved, ProviderError> {
        // An owning client: its futures borrow nothing (a borrowing closure trips the
        // compiler's `Send` inference for higher-ranked lifetimes).
        let http = self.http.clone();
        let client = move |request| {
            let http = http.clone();
            async move { http.call(request).await }
        };
        let metadata = CoreProviderMetadata::discover_async(issuer.clone(), &client)
            .await
            .map_err(|error| {
                ProviderError::Unreachable(
                    format!("OpenID discovery for {} failed: {error}", issuer.as_str()).into(),
                )
            })?;
        let endpoints = Endpoints {
            authorize: metadata.authorization_endpoint().url().clone(),
            token: metadata
                .token_endpoint()
                .map(|url| url.url().clone())
                .ok_or_else(|| {
                    ProviderError::Unreachable(
                        "the discovery document has no token_endpoint".into(),
                    )
                })?,
            jwks: metadata.jwks_uri().url().clone(),
            userinfo: metadata.userinfo_endpoint().map(|url| url.url().clone()),
        };
        for url in [&endpoints.authorize, &endpoints.token, &endpoints.jwks]
            .into_iter()
            .chain(endpoints.userinfo.as_ref())
        {
            self.http.check(url).map_err(HttpError::unreachable)?;
        }
        // Discovery: `client_secret_basic` is the default; only a provider that lists
        // `client_secret_post` without `client_secret_basic` gets the secret in the body.
        let auth = match metadata.token_endpoint_auth_methods_supported() {
            Some(methods)
                if methods.contains(&CoreClientAuthMethod::ClientSecretPost)
                    && !methods.contains(&CoreClientAuthMethod::ClientSecretBasic) =>
            {
                ClientAuth::Post
            }
            _ => ClientAuth::Basic,
        };
        self.store_keys(metadata.jwks().clone());
        Ok(Resolved {
            endpoints,
            issuer: IssuerRule::Exact(issuer.clone()),
            auth,
        })
    }

    fn store_keys(&self, keys: CoreJsonWebKeySet) -> Arc<CoreJsonWebKeySet> {
        let keys = Arc::new(keys);
        if let Ok(mut slot) = self.jwks.write() {
            *slot = Some((Instant::now(), keys.clone()));
        }
        keys
    }

    /// The signing keys: cached ones unless `refresh` or too old.
    async fn keys(
        &self,
        url: &Url,
        refresh: bool,
    ) -> Result<Arc<CoreJsonWebKeySet>, ProviderError> {
        if !refresh {
            let cached = self.jwks.read().ok().and_then(|slot| slot.clone());
            if let Some((fetched, keys)) = cached
                && fetched.elapsed() < JWKS_MAX_AGE
            {
                return Ok(keys);
            }
        }
        let answer = self
            .http
            .send(self.http.get(url.clone()))
            .await
            .map_err(HttpError::unreachable)?;
        if !answer.is_success() {
            return Err(ProviderError::Unreachable(
                format!("the JWKS endpoint answered {}", answer.status).into(),
            ));
        }
        let keys: CoreJsonWebKeySet = serde_json::from_slice(&answer.body).map_err(|error| {
            ProviderError::InvalidTokenResponse(format!("the JWKS is malformed: {error}"))
        })?;
        Ok(self.store_keys(keys))
    }

    fn client_secret(&self) -> Result<String, ProviderError> {
        match &self.secret {
            Secret::Static(secret) => Ok(secret.clone()),
            Secret::Apple(apple) => apple.mint(),
        }
    }

    fn verify(
        &self,
        token: &KeelIdToken,
        keys: &CoreJsonWebKeySet,
        rule: &IssuerRule,
        nonce: &Nonce,
    ) -> Result<KeelClaims, ClaimsVerificationError> {
        let (issuer, exact) = match rule {
            IssuerRule::Exact(issuer) => (issuer.clone(), true),
            IssuerRule::MicrosoftTenant => (
                IssuerUrl::new(format!("{MICROSOFT_ISSUER_PREFIX}common/v2.0"))
                    .map_err(|error| ClaimsVerificationError::Other(error.to_string()))?,
                false,
            ),
        };
        let verifier = IdTokenVerifier::new_public_client(
            ClientId::new(self.client_id.clone()),
            issuer,
            keys.clone(),
        )
        .set_allowed_algs(ALLOWED_ALGS)
        .require_issuer_match(exact);
        let claims = token.claims(&verifier, nonce)?.clone();
        if !exact {
            check_microsoft_issuer(&claims)?;
        }
        Ok(claims)
    }

    /// Verifies the ID token, refetching the keys once when its key id is unknown.
    async fn verified_claims(
        &self,
        raw: &str,
        resolved: &Resolved,
        nonce: &str,
    ) -> Result<KeelClaims, ProviderError> {
        let token = KeelIdToken::from_str(raw).map_err(|error| {
            ProviderError::InvalidTokenResponse(format!("the ID token is malformed: {error}"))
        })?;
        let nonce = Nonce::new(nonce.to_owned());
        let keys = self.keys(&resolved.endpoints.jwks, false).await?;
        let first = self.verify(&token, &keys, &resolved.issuer, &nonce);
        let result = match first {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                let keys = self.keys(&resolved.endpoints.jwks, true).await?;
                self.verify(&token, &keys, &resolved.issuer, &nonce)
            }
            other => other,
        };
        result.map_err(|error| {
            ProviderError::InvalidTokenResponse(format!("the ID token is invalid: {error}"))
        })
    }

    /// The email from the userinfo endpoint, for ID tokens that carry none. Its `sub` must be
    /// the ID token's (OpenID Connect Core §5.3.2).
    async fn userinfo_email(
        &self,
        url: &Url,
        access_token: &str,
        subject: &str,
    ) -> Result<(Option<String>, bool), ProviderError> {
        let answer = self
            .http
            .send(self.http.get(url.clone()).bearer_auth(access_token))
            .await
            .map_err(HttpError::unreachable)?;
        if !answer.is_success() {
            return Err(ProviderError::ProfileFetchFailed(format!(
                "the userinfo endpoint answered {}",
                answer.status
            )));
        }
        let info: serde_json::Value = serde_json::from_slice(&answer.body).map_err(|_| {
            ProviderError::ProfileFetchFailed("the userinfo answer is not JSON".to_owned())
        })?;
        if info.get("sub").and_then(serde_json::Value::as_str) != Some(subject) {
            return Err(ProviderError::ProfileFetchFailed(
                "the userinfo subject differs from the ID token's".to_owned(),
            ));
        }
        let email = info
            .get("email")
            .and_then(serde_json::Value::as_str)
            .filter(|email| !email.is_empty())
            .map(str::to_owned);
        let verified = email.is_some() && flag(info.get("email_verified"));
        Ok((email, verified))
    }
}

/// A boolean claim that may arrive as `true` or `"true"` (Apple sends strings).
pub(crate) fn flag(value: Option<&serde_json::Value>) -> bool {
    match value {
        Some(serde_json::Value::Bool(flag)) => *flag,
        Some(serde_json::Value::String(text)) => text.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// The multi-tenant issuer check: `iss` must be exactly the tenant issuer built from the
/// token's own `tid` claim, and `tid` a plain tenant id (no path characters).
fn check_microsoft_issuer(claims: &KeelClaims) -> Result<(), ClaimsVerificationError> {
    let tid = claims
        .additional_claims()
        .tid
        .as_deref()
        .filter(|tid| !tid.is_empty() && tid.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .ok_or_else(|| {
            ClaimsVerificationError::InvalidIssuer("the token has no valid tid claim".to_owned())
        })?;
    let expected = format!("{MICROSOFT_ISSUER_PREFIX}{tid}/v2.0");
    if claims.issuer().as_str() == expected {
        Ok(())
    } else {
        Err(ClaimsVerificationError::InvalidIssuer(format!(
            "expected {expected}, found {}",
            claims.issuer().as_str()
        )))
    }
}

#[async_trait]
impl IdentityProvider for OpenIdProvider {
    fn provider(&self) -> Provider {
        self.provider
    }

    fn display_name(&self) -> String {
        self.display_name.clone()
    }

    async fn authorize_url(&self, request: &AuthorizeRequest) -> Result<String, ProviderError> {
        let resolved = self.resolved().await?;
        let mut url = resolved.endpoints.authorize.clone();
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", &self.client_id)
                .append_pair("redirect_uri", &request.redirect_uri)
                .append_pair("scope", self.scopes)
                .append_pair("state", &request.state)
                .append_pair("code_challenge", &request.pkce_challenge)
                .append_pair("code_challenge_method", "S256")
                .append_pair("nonce", &request.nonce);
            for (name, value) in self.extra_authorize {
                query.append_pair(name, value);
            }
        }
        Ok(url.into())
    }

    async fn exchange(&self, exchange: &CodeExchange) -> Result<ExternalIdentity, ProviderError> {
        let resolved = self.resolved().await?;
        let secret = self.client_secret()?;
        let tokens = exchange_code(
            &self.http,
            &resolved.endpoints.token,
            &self.client_id,
            &secret,
            resolved.auth,
            exchange,
        )
        .await?;
        let raw = tokens.id_token.as_deref().ok_or_else(|| {
            ProviderError::InvalidTokenResponse("the token response has no id_token".to_owned())
        })?;
        let claims = self.verified_claims(raw, resolved, &exchange.nonce).await?;
        let subject = claims.subject().as_str().to_owned();
        let mut email = claims
            .email()
            .map(|email| email.as_str().to_owned())
            .filter(|email| !email.is_empty());
        let mut email_verified = email.is_some() && claims.email_verified() == Some(true);
        if email.is_none()
            && let Some(url) = &resolved.endpoints.userinfo
        {
            (email, email_verified) = self
                .userinfo_email(url, &tokens.access_token, &subject)
                .await?;
        }
        Ok(ExternalIdentity {
            issuer: claims.issuer().as_str().to_owned(),
            subject,
            email,
            email_verified,
        })
    }
}
