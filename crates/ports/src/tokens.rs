//! Access and refresh token encoding.

use keel_domain::Timestamp;
use keel_domain::session::{FamilyId, IssuedToken, TokenId};
use keel_domain::user::UserId;

/// What a valid access token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessClaims {
    /// The user it was issued to.
    pub user_id: UserId,
    /// The session family it was issued with, if it names one.
    pub family: Option<FamilyId>,
}

/// What a valid refresh token says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshClaims {
    /// The user it was issued to.
    pub user_id: UserId,
    /// Its family (`fam`).
    pub family: FamilyId,
    /// Its identity (`jti`).
    pub jti: TokenId,
}

/// Why a token is refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Malformed, forged, signed with another algorithm, or with a wrong issuer or audience.
    #[error("the token is invalid")]
    Invalid,
    /// Past its `exp`.
    #[error("the token has expired")]
    Expired,
    /// An access token where a refresh token is expected, or the reverse.
    #[error("the token is of the wrong type")]
    WrongType,
    /// Signing failed.
    #[error("the token could not be signed: {0}")]
    Encode(String),
}

/// Signs and verifies tokens. Verification pins the algorithm and checks signature, issuer,
/// audience, expiry against `now`, and type.
#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait TokenCodec: Send + Sync {
    /// Signs an access token for `user` in `family`, valid from `now` for the configured lifetime.
    ///
    /// # Errors
    /// [`TokenError::Encode`] when signing fails.
    fn issue_access(
        &self,
        user: UserId,
        family: FamilyId,
        now: Timestamp,
    ) -> Result<String, TokenError>;

    /// Signs the refresh token `token` of `family`.
    ///
    /// # Errors
    /// [`TokenError::Encode`] when signing fails.
    fn issue_refresh(
        &self,
        user: UserId,
        family: FamilyId,
        token: &IssuedToken,
    ) -> Result<String, TokenError>;

    /// Verifies an access token.
    ///
    /// # Errors
    /// [`TokenError`] describing the first failed check.
    fn verify_access(&self, token: &str, now: Timestamp) -> Result<AccessClaims, TokenError>;

    /// Verifies a refresh token.
    ///
    /// # Errors
    /// [`TokenError`] describing the first failed check.
    fn verify_refresh(&self, token: &str, now: Timestamp) -> Result<RefreshClaims, TokenError>;

    /// Lifetime of access tokens.
    fn access_ttl(&self) -> time::Duration;
}
