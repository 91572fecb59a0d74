//! # keel-oauth
//!
//! The identity providers behind `keel_ports::IdentityProvider`: this crate owns everything
//! that talks to an OAuth 2.0 / OpenID Connect provider — authorize URLs, the code exchange
//! (with the PKCE verifier), ID-token validation and profile/email look-ups. Flow state,
//! account rules and HTTP routes are elsewhere (application, persistence/redis, http).
//!
//! | provider | kind | identity |
//! |---|---|---|
//! | `google` | OpenID, fixed endpoints | ID token, issuer `https://accounts.google.com` |
//! | `microsoft` | OpenID, `common` tenant | ID token, issuer `https://login.microsoftonline.com/{tid}/v2.0` with `tid` the token's own tenant |
//! | `apple` | OpenID, `response_mode=form_post`, ES256 client-secret JWT | ID token, issuer `https://appleid.apple.com` (`email_verified` may be `"true"`) |
//! | `facebook` | OAuth 2.0 | Graph `/me?fields=id,email`; issuer `https://www.facebook.com` |
//! | `github` | OAuth 2.0 | `/user` id + primary `/user/emails` entry; issuer `https://github.com` |
//! | `oidc` | OpenID, discovery from `OAUTH_OIDC_ISSUER_URL` (lazy, cached) | ID token (+ userinfo when it has no email) |
//!
//! Every ID token is verified with `openidconnect` (signature against the provider's JWKS —
//! refetched once when the key id is unknown —, issuer, audience, expiry, nonce; asymmetric
//! algorithms only). Every request has the timeout of [`HttpOptions`]; in production
//! (`allow_insecure == false`) `http://` URLs and loopback/private hosts — also names that
//! resolve to them — are refused for discovery, JWKS, token, userinfo and profile requests.
//!
//! Error mapping ([`keel_ports::ProviderError`]): no answer in time, a connection failure, a refused URL,
//! a 5xx without an OAuth error, a failed discovery or JWKS fetch → `Unreachable`; an OAuth
//! error from the token endpoint (or another non-2xx answer) → `ExchangeFailed`; a token response
//! that is not one, a missing or invalid ID token → `InvalidTokenResponse`; a userinfo/profile/
//! emails answer that is not 2xx or not usable → `ProfileFetchFailed`.
//!
//! HTTP goes through the workspace's reqwest (rustls, ring provider), which `openidconnect` is
//! handed for discovery; the process needs the ring provider installed
//! ([`install_crypto_provider`]; [`build`] calls it).
#![forbid(unsafe_code)]

mod apple;
mod http;
mod openid;
mod plain;
mod token;

pub use apple::{APPLE_AUDIENCE, CLIENT_SECRET_LIFETIME_SECONDS};
pub use plain::{FACEBOOK_ISSUER, GITHUB_ISSUER};

use keel_domain::oauth::Provider;
use keel_ports::IdentityProvider;
use openid::{Endpoints, IssuerRule, OpenIdConfig, OpenIdProvider, Secret};
use openidconnect::IssuerUrl;
use openidconnect::url::Url;
use plain::{PlainProvider, Profile};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// The default timeout of every outbound request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The display name of the generic provider when `OAUTH_OIDC_DISPLAY_NAME` is unset.
pub const DEFAULT_OIDC_DISPLAY_NAME: &str = "OpenID Connect";
/// Google's issuer.
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";
/// Apple's issuer.
pub const APPLE_ISSUER: &str = "https://appleid.apple.com";

/// Makes rustls's *ring* provider the process-wide default, once; later calls do nothing.
/// The workspace builds reqwest without a built-in provider.
pub fn install_crypto_provider() {
    // An error means a provider is already installed: exactly what is wanted.
    let _already = rustls::crypto::ring::default_provider().install_default();
}

/// How providers talk HTTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpOptions {
    /// The limit on every outbound request, connecting included (default 10 s).
    pub timeout: Duration,
    /// `true` outside production: `http://` URLs and loopback/private hosts are allowed (local
    /// test providers). `false` in production (docs/operations.md).
    pub allow_insecure: bool,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            timeout: DEFAULT_TIMEOUT,
            allow_insecure: false,
        }
    }
}

/// One enabled provider's configuration (`OAUTH_{PROVIDER}_*`).
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderSettings {
    /// Which provider.
    pub provider: Provider,
    /// `OAUTH_{PROVIDER}_CLIENT_ID`.
    pub client_id: String,
    /// `OAUTH_{PROVIDER}_CLIENT_SECRET`; for Apple the `.p8` PEM private key that signs the
    /// client-secret JWT.
    pub client_secret: String,
    /// Apple only (required): `OAUTH_APPLE_TEAM_ID`, the client secret's `iss`.
    pub apple_team_id: Option<String>,
    /// Apple only (required): `OAUTH_APPLE_KEY_ID`, the client secret's `kid`.
    pub apple_key_id: Option<String>,
    /// `oidc` only (required): `OAUTH_OIDC_ISSUER_URL`.
    pub issuer_url: Option<String>,
    /// `oidc` only: `OAUTH_OIDC_DISPLAY_NAME` (default [`DEFAULT_OIDC_DISPLAY_NAME`]).
    pub display_name: Option<String>,
    /// FOR TESTS ONLY — not configurable from the environment. Replaces the origin
    /// (`scheme://host:port`) of every endpoint of a built-in provider (authorize, token,
    /// JWKS, profile APIs) so that it talks to a local fake; paths are kept (e.g. GitHub's
    /// `https://api.github.com/user` becomes `{test_base_url}/user`). Ignored for `oidc`, whose
    /// endpoints come from discovery.
    pub test_base_url: Option<String>,
}

impl fmt::Debug for ProviderSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderSettings")
            .field("provider", &self.provider)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("apple_team_id", &self.apple_team_id)
            .field("apple_key_id", &self.apple_key_id)
            .field("issuer_url", &self.issuer_url)
            .field("display_name", &self.display_name)
            .field("test_base_url", &self.test_base_url)
            .finish()
    }
}

impl ProviderSettings {
    /// Settings with the id and secret and nothing else set.
    pub fn new(
        provider: Provider,
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        Self {
            provider,
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            apple_team_id: None,
            apple_key_id: None,
            issuer_url: None,
            display_name: None,
            test_base_url: None,
        }
    }
}

/// Why the providers cannot be built (a start-up error naming the setting).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A required setting is missing or empty.
    #[error("{setting} must be set for the {provider} OAuth provider")]
    Missing {
        /// The provider.
        provider: Provider,
        /// The environment variable.
        setting: &'static str,
    },
    /// `OAUTH_APPLE_CLIENT_SECRET` is not a usable P-256 PEM private key.
    #[error("OAUTH_APPLE_CLIENT_SECRET must be the PEM (.p8) P-256 private key: {0}")]
    AppleKey(String),
    /// `OAUTH_OIDC_ISSUER_URL` is not an acceptable issuer.
    #[error("OAUTH_OIDC_ISSUER_URL {url:?} is not acceptable: {reason}")]
    IssuerUrl {
        /// The configured value.
        url: String,
        /// Why.
        reason: String,
    },
    /// A test base URL is not an absolute http(s) URL.
    #[error("test_base_url {0:?} is not an absolute http(s) URL")]
    TestBaseUrl(String),
    /// The same provider is configured twice.
    #[error("the {0} OAuth provider is configured twice")]
    Duplicate(Provider),
    /// The HTTP client could not be built.
    #[error("building the OAuth HTTP client failed: {0}")]
    Client(String),
}

/// Builds one provider per settings entry, in the same order. No network request is made:
/// the generic provider discovers its issuer on first use.
///
/// # Errors
/// [`BuildError`] for a missing Apple team/key id or unusable Apple key, a missing, malformed
/// or (in production) non-https / private `oidc` issuer, a bad test base URL, a provider listed
/// twice, or an HTTP client that cannot be built.
pub fn build(
    settings: &[ProviderSettings],
    options: &HttpOptions,
) -> Result<Vec<Arc<dyn IdentityProvider>>, BuildError> {
    let http = http::Http::new(options).map_err(|error| BuildError::Client(error.to_string()))?;
    let mut built: Vec<Arc<dyn IdentityProvider>> = Vec::with_capacity(settings.len());
    for (index, entry) in settings.iter().enumerate() {
        if settings[..index]
            .iter()
            .any(|other| other.provider == entry.provider)
        {
            return Err(BuildError::Duplicate(entry.provider));
        }
        built.push(build_one(entry, &http, options)?);
    }
    Ok(built)
}

/// An endpoint of a built-in provider, re-based on the test base URL when there is one.
fn endpoint(real: &str, base: Option<&Url>) -> Result<Url, BuildError> {
    let real_url = Url::parse(real).map_err(|_| BuildError::TestBaseUrl(real.to_owned()))?;
    let Some(base) = base else {
        return Ok(real_url);
    };
    let text = format!("{}{}", base.as_str().trim_end_matches('/'), real_url.path());
    Url::parse(&text).map_err(|_| BuildError::TestBaseUrl(text))
}

fn required(
    value: Option<&String>,
    provider: Provider,
    setting: &'static str,
) -> Result<String, BuildError> {
    value
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty())
        .ok_or(BuildError::Missing { provider, setting })
}

fn build_one(
    settings: &ProviderSettings,
    http: &http::Http,
    options: &HttpOptions,
) -> Result<Arc<dyn IdentityProvider>, BuildError> {
    let provider = settings.provider;
    let base = match &settings.test_base_url {
        None => None,
        Some(text) => {
            let url = Url::parse(text).map_err(|_| BuildError::TestBaseUrl(text.clone()))?;
            if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
                return Err(BuildError::TestBaseUrl(text.clone()));
            }
            Some(url)
        }
    };
    let base = base.as_ref();
    let display = |name: &str| name.to_owned();
    let fixed_secret = Secret::Static(settings.client_secret.clone());
    let config = |display_name: String, secret: Secret, scopes, extra| OpenIdConfig {
        provider,
        display_name,
        client_id: settings.client_id.clone(),
        secret,
        scopes,
        extra_authorize: extra,
    };
    let issuer = |text: &str| {
        IssuerUrl::new(text.to_owned()).map_err(|error| BuildError::IssuerUrl {
            url: text.to_owned(),
            reason: error.to_string(),
        })
    };
    let built: Arc<dyn IdentityProvider> = match provider {
        Provider::Google => Arc::new(OpenIdProvider::fixed(
            config(display("Google"), fixed_secret, "openid email profile", &[]),
            Endpoints {
                authorize: endpoint("https://accounts.google.com/o/oauth2/v2/auth", base)?,
                token: endpoint("https://oauth2.googleapis.com/token", base)?,
                jwks: endpoint("https://www.googleapis.com/oauth2/v3/certs", base)?,
                userinfo: None,
            },
            IssuerRule::Exact(issuer(GOOGLE_ISSUER)?),
            http.clone(),
        )),
        Provider::Microsoft => Arc::new(OpenIdProvider::fixed(
            config(
                display("Microsoft"),
                fixed_secret,
                "openid profile email",
                &[],
            ),
            Endpoints {
                authorize: endpoint(
                    "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
                    base,
                )?,
                token: endpoint(
                    "https://login.microsoftonline.com/common/oauth2/v2.0/token",
                    base,
                )?,
                jwks: endpoint(
                    "https://login.microsoftonline.com/common/discovery/v2.0/keys",
                    base,
                )?,
                userinfo: None,
            },
            IssuerRule::MicrosoftTenant,
            http.clone(),
        )),
        Provider::Apple => {
            let team_id = required(
                settings.apple_team_id.as_ref(),
                provider,
                "OAUTH_APPLE_TEAM_ID",
            )?;
            let key_id = required(
                settings.apple_key_id.as_ref(),
                provider,
                "OAUTH_APPLE_KEY_ID",
            )?;
            let secret = apple::AppleSecret::new(
                &settings.client_secret,
                team_id,
                key_id,
                settings.client_id.clone(),
            )
            .map_err(|error| BuildError::AppleKey(error.to_string()))?;
            Arc::new(OpenIdProvider::fixed(
                config(
                    display("Apple"),
                    Secret::Apple(secret),
                    "openid email name",
                    &[("response_mode", "form_post")],
                ),
                Endpoints {
                    authorize: endpoint("https://appleid.apple.com/auth/authorize", base)?,
                    token: endpoint("https://appleid.apple.com/auth/token", base)?,
                    jwks: endpoint("https://appleid.apple.com/auth/keys", base)?,
                    userinfo: None,
                },
                IssuerRule::Exact(issuer(APPLE_ISSUER)?),
                http.clone(),
            ))
        }
        Provider::Facebook => Arc::new(PlainProvider {
            provider,
            display_name: display("Facebook"),
            client_id: settings.client_id.clone(),
            client_secret: settings.client_secret.clone(),
            scopes: "email public_profile",
            authorize: endpoint("https://www.facebook.com/v19.0/dialog/oauth", base)?,
            token: endpoint("https://graph.facebook.com/v19.0/oauth/access_token", base)?,
            profile: Profile::Facebook {
                me: endpoint("https://graph.facebook.com/v19.0/me", base)?,
            },
            http: http.clone(),
        }),
        Provider::Github => Arc::new(PlainProvider {
            provider,
            display_name: display("GitHub"),
            client_id: settings.client_id.clone(),
            client_secret: settings.client_secret.clone(),
            scopes: "read:user user:email",
            authorize: endpoint("https://github.com/login/oauth/authorize", base)?,
            token: endpoint("https://github.com/login/oauth/access_token", base)?,
            profile: Profile::Github {
                api: match base {
                    Some(base) => base.clone(),
                    None => endpoint("https://api.github.com/", None)?,
                },
            },
            http: http.clone(),
        }),
        Provider::Oidc => {
            let text = required(
                settings.issuer_url.as_ref(),
                provider,
                "OAUTH_OIDC_ISSUER_URL",
            )?;
            let issuer_url = issuer(&text)?;
            http::check_url(issuer_url.url(), options.allow_insecure).map_err(|error| {
                BuildError::IssuerUrl {
                    url: text.clone(),
                    reason: error.to_string(),
                }
            })?;
            let name = settings
                .display_name
                .as_deref()
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .unwrap_or(DEFAULT_OIDC_DISPLAY_NAME);
            Arc::new(OpenIdProvider::discovered(
                config(display(name), fixed_secret, "openid email profile", &[]),
                issuer_url,
                http.clone(),
            ))
        }
    };
    Ok(built)
}
