//! OAuth and OpenID Connect sign-in: listing the enabled providers, starting a flow (sign-in or
//! explicit linking) and completing it at the callback.
//!
//! The flow's secrets (state, PKCE verifier, nonce) come from the [`Random`] port and stay
//! server-side in [`OAuthFlows`]; only the state and the PKCE challenge travel. The callback
//! takes the flow (single use), lets the domain accept it ([`OAuthFlow::accept`]: provider,
//! browser, expiry), lets the provider turn the code into a verified identity, and lets the
//! domain decide what that identity does to the accounts ([`decide`]). A sign-in ends with a
//! token pair issued by the same session machinery as the password login.

use crate::auth::{TokenPair, start_session};
use keel_domain::Timestamp;
use keel_domain::oauth::{
    AccountFacts, BrowserBinding, ExternalIdentity, LinkDecision, LinkFacts, LinkRefusal, Nonce,
    OAuthFlow, PkceVerifier, Provider, SECRET_BYTES, StateRejection, StateToken, decide,
};
use keel_domain::session::SessionPolicy;
use keel_domain::user::{Email, NewUser, UserId};
use keel_ports::{
    AuthorizeRequest, Clock, CodeExchange, IdentityLink, IdentityProvider, OAuthAccounts,
    OAuthFlows, ProviderError, Random, Sessions, StoreError, TokenCodec, TokenError, Users,
};
use std::sync::Arc;

/// The configured providers, in listing order.
#[derive(Clone, Default)]
pub struct OAuthProviders {
    providers: Vec<Arc<dyn IdentityProvider>>,
}

impl std::fmt::Debug for OAuthProviders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.providers.iter().map(|p| p.provider()))
            .finish()
    }
}

/// Why a provider named in a path cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderLookupError {
    /// keel knows no provider of that name → 404 `oauth_provider_unsupported`.
    #[error("Unsupported OAuth provider: {0}")]
    Unsupported(String),
    /// A known provider without credentials → 404 `oauth_provider_not_configured`.
    #[error("OAuth provider '{0}' is not configured")]
    NotConfigured(Provider),
}

impl OAuthProviders {
    /// The enabled providers (one per [`Provider`]; a later duplicate is ignored), sorted in
    /// listing order.
    #[must_use]
    pub fn new(mut providers: Vec<Arc<dyn IdentityProvider>>) -> Self {
        let rank = |p: &Arc<dyn IdentityProvider>| {
            Provider::ALL
                .iter()
                .position(|q| *q == p.provider())
                .unwrap_or(usize::MAX)
        };
        providers.sort_by_key(rank);
        providers.dedup_by_key(|p| p.provider());
        Self { providers }
    }

    /// The enabled providers, in listing order.
    #[must_use]
    pub fn enabled(&self) -> &[Arc<dyn IdentityProvider>] {
        &self.providers
    }

    /// The provider named `name` (as in URLs).
    ///
    /// # Errors
    /// [`ProviderLookupError`] when keel does not know it or it is not configured.
    pub fn get(&self, name: &str) -> Result<&Arc<dyn IdentityProvider>, ProviderLookupError> {
        let provider = Provider::parse(name)
            .ok_or_else(|| ProviderLookupError::Unsupported(name.to_owned()))?;
        self.providers
            .iter()
            .find(|p| p.provider() == provider)
            .ok_or(ProviderLookupError::NotConfigured(provider))
    }
}

/// How long a flow's state stays valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowPolicy {
    /// `OAUTH_STATE_EXPIRE_SECONDS`.
    pub state_ttl: time::Duration,
}

/// What `start` and `link/start` need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartRequest {
    /// The provider as named in the path.
    pub provider: String,
    /// The signed-in user of `link/start`; `None` for a sign-in.
    pub link_user: Option<UserId>,
    /// Whether the callback ends with a frontend redirect.
    pub redirect_to_frontend: bool,
    /// The callback URL the provider redirects to.
    pub redirect_uri: String,
    /// The browser's binding cookie, if it sent one.
    pub binding: Option<String>,
}

/// A started flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Started {
    /// Where to send the browser.
    pub authorization_url: String,
    /// The browser's binding: the cookie to (re)set.
    pub binding: BrowserBinding,
}

/// Why a flow could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Unknown or unconfigured provider.
    #[error(transparent)]
    Provider(#[from] ProviderLookupError),
    /// The provider could not build its authorize URL (discovery failed).
    #[error(transparent)]
    Unreachable(ProviderError),
    /// The flow could not be stored.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Starts a sign-in or linking flow (`GET …/start`, `POST …/link/start`).
#[derive(Clone)]
pub struct StartOAuth {
    providers: OAuthProviders,
    flows: Arc<dyn OAuthFlows>,
    random: Arc<dyn Random>,
    clock: Arc<dyn Clock>,
    policy: FlowPolicy,
}

fn secret(random: &dyn Random) -> [u8; SECRET_BYTES] {
    let mut bytes = [0_u8; SECRET_BYTES];
    random.fill(&mut bytes);
    bytes
}

impl StartOAuth {
    /// Wires the use case.
    pub fn new(
        providers: OAuthProviders,
        flows: Arc<dyn OAuthFlows>,
        random: Arc<dyn Random>,
        clock: Arc<dyn Clock>,
        policy: FlowPolicy,
    ) -> Self {
        Self {
            providers,
            flows,
            random,
            clock,
            policy,
        }
    }

    /// The enabled providers, in listing order (`GET /auth/oauth/providers`).
    #[must_use]
    pub fn providers(&self) -> &OAuthProviders {
        &self.providers
    }

    /// Stores a new flow and returns the provider's authorize URL for it. The browser keeps its
    /// binding when it sent a well-formed one, else gets a new one.
    ///
    /// # Errors
    /// [`StartError`].
    #[tracing::instrument(name = "use_case.start_oauth", skip_all, fields(provider = %request.provider))]
    pub async fn execute(&self, request: StartRequest) -> Result<Started, StartError> {
        let provider = self.providers.get(&request.provider)?.clone();
        let random = self.random.as_ref();
        let binding = request
            .binding
            .as_deref()
            .and_then(BrowserBinding::parse)
            .unwrap_or_else(|| BrowserBinding::generate(secret(random)));
        let state = StateToken::generate(secret(random));
        let flow = OAuthFlow {
            provider: provider.provider(),
            pkce_verifier: PkceVerifier::generate(secret(random)),
            nonce: Nonce::generate(secret(random)),
            link_user: request.link_user,
            redirect_to_frontend: request.redirect_to_frontend,
            binding_digest: binding.digest(),
            expires_at: self.clock.now().plus(self.policy.state_ttl),
        };
        let authorization_url = provider
            .authorize_url(&AuthorizeRequest {
                redirect_uri: request.redirect_uri,
                state: state.as_str().to_owned(),
                pkce_challenge: flow.pkce_verifier.challenge(),
                nonce: flow.nonce.as_str().to_owned(),
            })
            .await
            .map_err(StartError::Unreachable)?;
        self.flows.put(&state, &flow).await?;
        Ok(Started {
            authorization_url,
            binding,
        })
    }
}

/// The callback's parameters, as received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallbackRequest {
    /// The provider as named in the path.
    pub provider: String,
    /// `state`.
    pub state: Option<String>,
    /// `code`.
    pub code: Option<String>,
    /// `error`.
    pub error: Option<String>,
    /// `error_description`.
    pub error_description: Option<String>,
    /// The browser's binding cookie.
    pub binding: Option<String>,
    /// The callback URL (the same as the flow's authorize request).
    pub redirect_uri: String,
    /// Labels the session of a sign-in.
    pub user_agent: Option<String>,
}

/// What a completed flow produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackOutcome {
    /// A sign-in: a new session.
    SignedIn(TokenPair),
    /// An explicit link (done now, or already in place for the same user).
    Linked,
}

/// A completed flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completed {
    /// The provider.
    pub provider: Provider,
    /// Whether to answer with a frontend redirect.
    pub redirect_to_frontend: bool,
    /// The result.
    pub outcome: CallbackOutcome,
}

/// Why a callback failed.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    /// No `state` parameter → 400 `invalid_oauth_state` (`OAuth callback is missing state`).
    #[error("OAuth callback is missing state")]
    MissingState,
    /// Unknown, tampered, used, expired, other-provider or other-browser state
    /// → 400 `invalid_oauth_state`.
    #[error("Invalid OAuth state")]
    InvalidState(Option<StateRejection>),
    /// Unknown or unconfigured provider.
    #[error(transparent)]
    Provider(#[from] ProviderLookupError),
    /// The provider reported an error (`error` / `error_description`).
    #[error("the provider reported an error: {message}")]
    ProviderDenied {
        /// The provider.
        provider: Provider,
        /// `error_description` if present, else `error`.
        message: String,
        /// Whether the flow asked for a frontend redirect.
        redirect_to_frontend: bool,
    },
    /// No `code` → 400 `oauth_code_missing`.
    #[error("OAuth callback is missing code")]
    CodeMissing,
    /// The provider could not produce a verified identity.
    #[error(transparent)]
    Exchange(ProviderError),
    /// The account rules refused the identity.
    #[error(transparent)]
    Refused(LinkRefusal),
    /// Signing failed.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The ports a callback needs besides the flows.
#[derive(Clone)]
pub struct AccountPorts {
    /// Users (lookups by email).
    pub users: Arc<dyn Users>,
    /// Linked identities.
    pub accounts: Arc<dyn OAuthAccounts>,
    /// Session families.
    pub sessions: Arc<dyn Sessions>,
    /// Token signing.
    pub tokens: Arc<dyn TokenCodec>,
    /// The ids of new session families and refresh tokens.
    pub random: Arc<dyn Random>,
}

/// Completes a flow at the callback (`GET`/`POST …/callback`).
#[derive(Clone)]
pub struct CompleteOAuth {
    providers: OAuthProviders,
    flows: Arc<dyn OAuthFlows>,
    ports: AccountPorts,
    clock: Arc<dyn Clock>,
    policy: SessionPolicy,
}

/// How often a decision is re-made when a concurrent flow changed the accounts meanwhile.
const DECISION_ATTEMPTS: usize = 2;

impl CompleteOAuth {
    /// Wires the use case.
    pub fn new(
        providers: OAuthProviders,
        flows: Arc<dyn OAuthFlows>,
        ports: AccountPorts,
        clock: Arc<dyn Clock>,
        policy: SessionPolicy,
    ) -> Self {
        Self {
            providers,
            flows,
            ports,
            clock,
            policy,
        }
    }

    /// Checks, in this order: a state is present; the provider exists and is configured; the
    /// state is well-formed, stored (it is consumed now), unexpired, of this provider and of
    /// this browser; the provider reported no error; a code is present. Then exchanges the code
    /// and applies the account rules.
    ///
    /// # Errors
    /// [`CallbackError`].
    #[tracing::instrument(name = "use_case.complete_oauth", skip_all, fields(provider = %request.provider))]
    pub async fn execute(&self, request: CallbackRequest) -> Result<Completed, CallbackError> {
        let raw_state = request
            .state
            .as_deref()
            .ok_or(CallbackError::MissingState)?;
        let provider = self.providers.get(&request.provider)?.clone();
        let state = StateToken::parse(raw_state).ok_or(CallbackError::InvalidState(None))?;
        let flow = self
            .flows
            .take(&state)
            .await?
            .ok_or(CallbackError::InvalidState(None))?;
        let binding = request.binding.as_deref().and_then(BrowserBinding::parse);
        let now = self.clock.now();
        flow.accept(provider.provider(), binding.as_ref(), now)
            .map_err(|rejection| {
                tracing::warn!(%rejection, "OAuth state refused");
                CallbackError::InvalidState(Some(rejection))
            })?;
        if let Some(error) = non_empty(request.error.as_deref()) {
            let message = non_empty(request.error_description.as_deref())
                .unwrap_or(error)
                .to_owned();
            return Err(CallbackError::ProviderDenied {
                provider: flow.provider,
                message,
                redirect_to_frontend: flow.redirect_to_frontend,
            });
        }
        let code = non_empty(request.code.as_deref()).ok_or(CallbackError::CodeMissing)?;
        let identity = provider
            .exchange(&CodeExchange {
                code: code.to_owned(),
                redirect_uri: request.redirect_uri.clone(),
                pkce_verifier: flow.pkce_verifier.as_str().to_owned(),
                nonce: flow.nonce.as_str().to_owned(),
            })
            .await
            .map_err(CallbackError::Exchange)?;
        let outcome = self
            .apply(&flow, identity, request.user_agent.as_deref(), now)
            .await?;
        Ok(Completed {
            provider: flow.provider,
            redirect_to_frontend: flow.redirect_to_frontend,
            outcome,
        })
    }

    async fn facts(
        &self,
        flow: &OAuthFlow,
        identity: &ExternalIdentity,
    ) -> Result<LinkFacts, StoreError> {
        let accounts = self.ports.accounts.as_ref();
        let provider = flow.provider;
        let identity_owner = accounts
            .owner(provider, &identity.issuer, &identity.subject)
            .await?;
        let link_intent = match flow.link_user {
            Some(user) => Some(AccountFacts {
                user,
                has_provider: accounts.has_provider(user, provider).await?,
                // Not read by an explicit link (the user proved the account by signing in).
                email_verified: false,
            }),
            None => None,
        };
        let email = identity.email.as_deref().and_then(|e| Email::parse(e).ok());
        let email_account = match (&email, identity_owner, link_intent) {
            (Some(email), None, None) => match self.ports.users.find_by_email(email).await? {
                Some(user) => Some(AccountFacts {
                    user: user.id,
                    has_provider: accounts.has_provider(user.id, provider).await?,
                    email_verified: user.email_verified,
                }),
                None => None,
            },
            _ => None,
        };
        Ok(LinkFacts {
            identity_owner,
            link_intent,
            email_verified: identity.email_verified && email.is_some(),
            email,
            email_account,
        })
    }

    async fn apply(
        &self,
        flow: &OAuthFlow,
        identity: ExternalIdentity,
        user_agent: Option<&str>,
        now: Timestamp,
    ) -> Result<CallbackOutcome, CallbackError> {
        let accounts = self.ports.accounts.as_ref();
        let link = IdentityLink {
            provider: flow.provider,
            identity,
            at: now,
        };
        let (issuer, subject) = (&link.identity.issuer, &link.identity.subject);
        let mut attempt = 0;
        let user = loop {
            attempt += 1;
            let decision = decide(&self.facts(flow, &link.identity).await?);
            let stored = match decision {
                LinkDecision::Login(user) => {
                    accounts
                        .record_login(flow.provider, issuer, subject, now)
                        .await?;
                    Ok(user)
                }
                LinkDecision::LinkAndLogin(user) => {
                    let linked = accounts.link(user, &link).await;
                    if linked.is_ok() {
                        accounts
                            .record_login(flow.provider, issuer, subject, now)
                            .await?;
                    }
                    linked.map(|()| user)
                }
                LinkDecision::CreateUser(email) => {
                    let new = NewUser {
                        email,
                        password_hash: None,
                        // The provider's claim is the account's proof, when it made one.
                        email_verified: link.identity.email_verified,
                        verification: None,
                        created_at: now,
                    };
                    accounts.create_user(&new, &link).await.map(|u| u.id)
                }
                LinkDecision::Link(user) => {
                    return match accounts.link(user, &link).await {
                        Ok(()) => Ok(CallbackOutcome::Linked),
                        Err(StoreError::Conflict) if attempt < DECISION_ATTEMPTS => continue,
                        Err(e) => Err(conflict_as_refusal(e)),
                    };
                }
                LinkDecision::AlreadyLinked(_) => return Ok(CallbackOutcome::Linked),
                LinkDecision::Refuse(refusal) => return Err(CallbackError::Refused(refusal)),
            };
            match stored {
                Ok(user) => break user,
                // A concurrent flow linked the identity or registered the email: decide again.
                Err(StoreError::Conflict) if attempt < DECISION_ATTEMPTS => {}
                Err(e) => return Err(conflict_as_refusal(e)),
            }
        };
        let pair = start_session::<CallbackError>(
            self.ports.sessions.as_ref(),
            self.ports.tokens.as_ref(),
            self.ports.random.as_ref(),
            user,
            user_agent,
            now,
            &self.policy,
        )
        .await?;
        tracing::info!(user_id = user.get(), provider = %flow.provider, "OAuth sign-in succeeded");
        Ok(CallbackOutcome::SignedIn(pair))
    }
}

/// A conflict that persists after a fresh decision: the identity went to someone else.
fn conflict_as_refusal(error: StoreError) -> CallbackError {
    match error {
        StoreError::Conflict => CallbackError::Refused(LinkRefusal::IdentityAlreadyLinked),
        other => CallbackError::Store(other),
    }
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.trim().is_empty())
}

#[cfg(test)]
#[path = "oauth_tests.rs"]
mod tests;
