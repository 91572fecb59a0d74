//! Authentication: bearer-token checks, password login, refresh rotation and logout.
//!
//! Session decisions (rotation, reuse, grace) are the domain's
//! ([`keel_domain::session::SessionFamily`]); these use cases load, decide, persist and sign.

use keel_domain::Timestamp;
use keel_domain::session::{
    FamilyId, IssuedToken, RevocationReason, SessionFamily, SessionPolicy, TokenId,
};
use keel_domain::user::{Email, User, UserId};
use keel_ports::{
    AccessClaims, Clock, HashError, PasswordHasher, Random, Sessions, StoreError, TokenCodec,
    TokenError, Users,
};
use std::sync::Arc;
use uuid::Uuid;

/// An access token and a refresh token of the same session family.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenPair {
    /// Short-lived bearer token.
    pub access_token: String,
    /// Long-lived token for `POST /auth/refresh`.
    pub refresh_token: String,
}

impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenPair(<redacted>)")
    }
}

fn sign_pair(
    tokens: &dyn TokenCodec,
    user: UserId,
    family: FamilyId,
    issued: &IssuedToken,
    now: Timestamp,
) -> Result<TokenPair, TokenError> {
    Ok(TokenPair {
        access_token: tokens.issue_access(user, family, now)?,
        refresh_token: tokens.issue_refresh(user, family, issued)?,
    })
}

/// The authenticated caller of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user, as stored now.
    pub user: User,
    /// The session family the access token was issued with, if it names one.
    pub family: Option<FamilyId>,
}

/// Why a bearer token was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthenticateError {
    /// Invalid, expired or wrong-type token, or its session has ended, or its user no longer
    /// exists.
    #[error("Could not validate credentials")]
    InvalidToken(#[source] Option<TokenError>),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Turns a bearer access token into the [`Principal`] it names.
#[derive(Clone)]
pub struct Authenticate {
    tokens: Arc<dyn TokenCodec>,
    users: Arc<dyn Users>,
    clock: Arc<dyn Clock>,
}

impl Authenticate {
    /// Wires the use case.
    pub fn new(tokens: Arc<dyn TokenCodec>, users: Arc<dyn Users>, clock: Arc<dyn Clock>) -> Self {
        Self {
            tokens,
            users,
            clock,
        }
    }

    /// Verifies the token and loads its user.
    ///
    /// # Errors
    /// [`AuthenticateError::InvalidToken`] when the token fails verification or names a user
    /// that no longer exists.
    #[tracing::instrument(name = "use_case.authenticate", skip_all)]
    pub async fn execute(&self, access_token: &str) -> Result<Principal, AuthenticateError> {
        let verified = self
            .verify(access_token)
            .map_err(|e| AuthenticateError::InvalidToken(Some(e)))?;
        self.load(verified).await
    }

    /// The first half of [`Authenticate::execute`]: checks the token's signature, issuer,
    /// audience, expiry and type, without asking the user store. The HTTP edge verifies a
    /// request's token once, for the rate limiter, and hands the result to [`Authenticate::load`].
    ///
    /// # Errors
    /// [`TokenError`] describing the first failed check.
    pub fn verify(&self, access_token: &str) -> Result<VerifiedAccess, TokenError> {
        self.tokens
            .verify_access(access_token, self.clock.now())
            .map(VerifiedAccess)
    }

    /// The second half of [`Authenticate::execute`]: loads the verified token's user, as long
    /// as the session family the token was issued in is still live.
    ///
    /// An access token ends with its session: once its family is revoked (logout, logout-all,
    /// a session deleted from the list, or refresh-token reuse) or has expired, its access
    /// tokens are refused at once rather than when their own short `exp` passes. The check
    /// rides on the user lookup ([`Users::find_in_live_session`]), so it costs no extra round
    /// trip.
    ///
    /// A token without a family (no `fam` claim) is refused: keel issues every access token
    /// with the family of the login or refresh that produced it (password and OAuth logins
    /// alike), so such a token was not issued by this version, and there is no session whose
    /// end it could follow.
    ///
    /// # Errors
    /// [`AuthenticateError::InvalidToken`] when the token names no family, or its family is
    /// not the user's or not live, or the user no longer exists.
    #[tracing::instrument(name = "use_case.authenticate", skip_all)]
    pub async fn load(&self, verified: VerifiedAccess) -> Result<Principal, AuthenticateError> {
        let VerifiedAccess(claims) = verified;
        let family = claims.family.ok_or(AuthenticateError::InvalidToken(None))?;
        let user = self
            .users
            .find_in_live_session(claims.user_id, family, self.clock.now())
            .await?
            .ok_or(AuthenticateError::InvalidToken(None))?;
        Ok(Principal {
            user,
            family: Some(family),
        })
    }
}

/// An access token's claims that [`Authenticate::verify`] accepted; only it makes one, so
/// [`Authenticate::load`] never trusts unverified claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedAccess(AccessClaims);

impl VerifiedAccess {
    /// The user the token was issued to.
    #[must_use]
    pub fn user_id(&self) -> UserId {
        self.0.user_id
    }
}

/// Why a login failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown address, no password, or a wrong one — deliberately indistinguishable.
    #[error("Invalid Credentials")]
    InvalidCredentials,
    /// Hashing failed.
    #[error(transparent)]
    Hash(#[from] HashError),
    /// Signing failed.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Password login: checks credentials and starts a session family (`POST /login`).
#[derive(Clone)]
pub struct Login {
    users: Arc<dyn Users>,
    hasher: Arc<dyn PasswordHasher>,
    sessions: Arc<dyn Sessions>,
    tokens: Arc<dyn TokenCodec>,
    random: Arc<dyn Random>,
    clock: Arc<dyn Clock>,
    policy: SessionPolicy,
}

impl Login {
    /// Wires the use case.
    pub fn new(
        users: Arc<dyn Users>,
        hasher: Arc<dyn PasswordHasher>,
        sessions: Arc<dyn Sessions>,
        tokens: Arc<dyn TokenCodec>,
        random: Arc<dyn Random>,
        clock: Arc<dyn Clock>,
        policy: SessionPolicy,
    ) -> Self {
        Self {
            users,
            hasher,
            sessions,
            tokens,
            random,
            clock,
            policy,
        }
    }

    /// Logs in with the address as typed and the password; `user_agent` labels the session.
    ///
    /// Every failed path spends one password verification, so timing does not reveal whether
    /// an account exists.
    ///
    /// # Errors
    /// [`LoginError::InvalidCredentials`] for any credential problem.
    #[tracing::instrument(name = "use_case.login", skip_all)]
    pub async fn execute(
        &self,
        email: &str,
        password: &str,
        user_agent: Option<&str>,
    ) -> Result<TokenPair, LoginError> {
        let user = match Email::parse(email) {
            Ok(email) => self.users.find_by_email(&email).await?,
            Err(_) => None,
        };
        let stored_hash = user.as_ref().and_then(|u| u.password_hash.clone());
        let verified = self.hasher.verify(password, stored_hash).await?;
        let user = match user {
            Some(user) if verified => user,
            _ => return Err(LoginError::InvalidCredentials),
        };
        let pair = start_session::<LoginError>(
            self.sessions.as_ref(),
            self.tokens.as_ref(),
            self.random.as_ref(),
            user.id,
            user_agent,
            self.clock.now(),
            &self.policy,
        )
        .await?;
        tracing::info!(user_id = user.id.get(), "login succeeded");
        Ok(pair)
    }
}

/// A version-4 UUID from the [`Random`] port (ids of session families and refresh tokens: the
/// application never draws randomness itself, so tests decide it).
pub(crate) fn random_uuid(random: &dyn Random) -> Uuid {
    let mut bytes = [0_u8; 16];
    random.fill(&mut bytes);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// Starts a session family for `user` (a login of any kind) and signs its first pair.
pub(crate) async fn start_session<E: From<TokenError> + From<StoreError>>(
    sessions: &dyn Sessions,
    tokens: &dyn TokenCodec,
    random: &dyn Random,
    user: UserId,
    user_agent: Option<&str>,
    now: Timestamp,
    policy: &SessionPolicy,
) -> Result<TokenPair, E> {
    let family = SessionFamily::start(
        FamilyId::new(random_uuid(random)),
        user,
        TokenId::new(random_uuid(random)),
        user_agent,
        now,
        policy,
    );
    sessions.create(&family).await?;
    tracing::debug!(user_id = user.get(), family_id = %family.id(), "session started");
    Ok(sign_pair(tokens, user, family.id(), family.current(), now)?)
}

/// Why a refresh token was refused.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Not a valid refresh token of this server, not the current token of a live family, a
    /// replay (inside or outside the grace window), or the loser of a concurrent refresh.
    #[error("Could not validate refresh token")]
    InvalidRefreshToken,
    /// Signing failed.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Outcome of a refresh attempt, for metrics and audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// Rotated.
    Rotated,
    /// Refused without changing anything.
    Refused,
    /// Reuse detected: the family was revoked.
    ReuseDetected,
}

/// Exchanges a refresh token for a new pair, rotating it (`POST /auth/refresh`).
#[derive(Clone)]
pub struct RefreshSession {
    sessions: Arc<dyn Sessions>,
    tokens: Arc<dyn TokenCodec>,
    random: Arc<dyn Random>,
    clock: Arc<dyn Clock>,
    policy: SessionPolicy,
}

impl RefreshSession {
    /// Wires the use case.
    pub fn new(
        sessions: Arc<dyn Sessions>,
        tokens: Arc<dyn TokenCodec>,
        random: Arc<dyn Random>,
        clock: Arc<dyn Clock>,
        policy: SessionPolicy,
    ) -> Self {
        Self {
            sessions,
            tokens,
            random,
            clock,
            policy,
        }
    }

    /// Rotates `refresh_token`.
    ///
    /// # Errors
    /// [`RefreshError::InvalidRefreshToken`] for every refusal; reuse outside the grace window
    /// revokes the family first.
    pub async fn execute(&self, refresh_token: &str) -> Result<TokenPair, RefreshError> {
        self.execute_with_outcome(refresh_token).await.1
    }

    /// As [`Self::execute`], also telling what happened.
    ///
    /// # Errors
    /// As [`Self::execute`].
    #[tracing::instrument(name = "use_case.refresh_session", skip_all)]
    pub async fn execute_with_outcome(
        &self,
        refresh_token: &str,
    ) -> (RefreshOutcome, Result<TokenPair, RefreshError>) {
        match self.rotate(refresh_token).await {
            Ok(pair) => (RefreshOutcome::Rotated, Ok(pair)),
            Err((outcome, error)) => (outcome, Err(error)),
        }
    }

    async fn rotate(
        &self,
        refresh_token: &str,
    ) -> Result<TokenPair, (RefreshOutcome, RefreshError)> {
        let refused = |e: RefreshError| (RefreshOutcome::Refused, e);
        let now = self.clock.now();
        let claims = self
            .tokens
            .verify_refresh(refresh_token, now)
            .map_err(|_| refused(RefreshError::InvalidRefreshToken))?;
        let mut family = self
            .sessions
            .find_by_token(claims.jti)
            .await
            .map_err(|e| refused(e.into()))?
            .filter(|f| f.id() == claims.family && f.user_id() == claims.user_id)
            .ok_or(refused(RefreshError::InvalidRefreshToken))?;
        let next = TokenId::new(random_uuid(self.random.as_ref()));
        match family.refresh(claims.jti, next, now, &self.policy) {
            Ok(change) => {
                match self.sessions.save(&family, &change).await {
                    Ok(()) => {}
                    // A concurrent refresh of the same token won: this one is refused.
                    Err(StoreError::Conflict) => {
                        return Err(refused(RefreshError::InvalidRefreshToken));
                    }
                    Err(e) => return Err(refused(e.into())),
                }
                sign_pair(
                    self.tokens.as_ref(),
                    family.user_id(),
                    family.id(),
                    family.current(),
                    now,
                )
                .map_err(|e| refused(e.into()))
            }
            Err(rejection) => {
                if let Some(change) = rejection.change() {
                    tracing::warn!(user_id = family.user_id().get(), family_id = %family.id(), "refresh token reuse detected; session family revoked");
                    self.persist_revocation(family, change, now)
                        .await
                        .map_err(|e| refused(e.into()))?;
                    return Err((
                        RefreshOutcome::ReuseDetected,
                        RefreshError::InvalidRefreshToken,
                    ));
                }
                Err(refused(RefreshError::InvalidRefreshToken))
            }
        }
    }

    /// Saves a reuse revocation; if the family changed meanwhile (a concurrent rotation), the
    /// revocation is applied to the fresh state, so reuse is never forgotten.
    async fn persist_revocation(
        &self,
        family: SessionFamily,
        change: keel_domain::session::SessionChange,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        match self.sessions.save(&family, &change).await {
            Err(StoreError::Conflict) => {
                revoke_with_retry(
                    self.sessions.as_ref(),
                    family.id(),
                    RevocationReason::ReuseDetected,
                    now,
                )
                .await
            }
            other => other,
        }
    }
}

/// Revokes a family, reloading and retrying when a concurrent change wins the version check.
pub(crate) async fn revoke_with_retry(
    sessions: &dyn Sessions,
    id: FamilyId,
    reason: RevocationReason,
    now: Timestamp,
) -> Result<(), StoreError> {
    const ATTEMPTS: usize = 3;
    for _ in 0..ATTEMPTS {
        let Some(mut family) = sessions.find(id).await? else {
            return Ok(());
        };
        let Some(change) = family.revoke(reason, now) else {
            return Ok(());
        };
        match sessions.save(&family, &change).await {
            Err(StoreError::Conflict) => continue,
            other => return other,
        }
    }
    Err(StoreError::Conflict)
}

/// Why a logout failed.
#[derive(Debug, thiserror::Error)]
pub enum LogoutError {
    /// Not a valid refresh token of this server (malformed, forged, expired, wrong type).
    #[error("Could not validate refresh token")]
    InvalidRefreshToken,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Revokes the family of a refresh token (`POST /auth/logout`). Idempotent.
#[derive(Clone)]
pub struct Logout {
    sessions: Arc<dyn Sessions>,
    tokens: Arc<dyn TokenCodec>,
    clock: Arc<dyn Clock>,
}

impl Logout {
    /// Wires the use case.
    pub fn new(
        sessions: Arc<dyn Sessions>,
        tokens: Arc<dyn TokenCodec>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            sessions,
            tokens,
            clock,
        }
    }

    /// Revokes the token's family; an already revoked or forgotten family is fine.
    ///
    /// # Errors
    /// [`LogoutError::InvalidRefreshToken`] when the token does not verify.
    #[tracing::instrument(name = "use_case.logout", skip_all)]
    pub async fn execute(&self, refresh_token: &str) -> Result<(), LogoutError> {
        let now = self.clock.now();
        let claims = self
            .tokens
            .verify_refresh(refresh_token, now)
            .map_err(|_| LogoutError::InvalidRefreshToken)?;
        revoke_with_retry(
            self.sessions.as_ref(),
            claims.family,
            RevocationReason::Logout,
            now,
        )
        .await?;
        Ok(())
    }
}

/// Revokes every session family of the caller (`POST /auth/logout-all`).
#[derive(Clone)]
pub struct LogoutAll {
    sessions: Arc<dyn Sessions>,
    clock: Arc<dyn Clock>,
}

impl LogoutAll {
    /// Wires the use case.
    pub fn new(sessions: Arc<dyn Sessions>, clock: Arc<dyn Clock>) -> Self {
        Self { sessions, clock }
    }

    /// Revokes all of `user`'s families; returns how many were live.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    #[tracing::instrument(name = "use_case.logout_all", skip_all)]
    pub async fn execute(&self, user: UserId) -> Result<u64, StoreError> {
        let revoked = self
            .sessions
            .revoke_all(user, RevocationReason::LogoutAll, self.clock.now())
            .await?;
        tracing::info!(user_id = user.get(), revoked, "logged out everywhere");
        Ok(revoked)
    }
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
