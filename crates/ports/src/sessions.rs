//! Stored refresh-token families.

use crate::StoreError;
use async_trait::async_trait;
use keel_domain::Timestamp;
use keel_domain::session::{FamilyId, RevocationReason, SessionChange, SessionFamily, TokenId};
use keel_domain::user::UserId;

/// Stored refresh-token families and the tokens of each.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait Sessions: Send + Sync {
    /// Stores a family just started by a login, with its first token.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when the family or token id exists; [`StoreError::Missing`]
    /// when the user does not.
    async fn create(&self, family: &SessionFamily) -> Result<(), StoreError>;

    /// The family that issued the token `jti` (current or retired).
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn find_by_token(&self, jti: TokenId) -> Result<Option<SessionFamily>, StoreError>;

    /// The family with this id.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn find(&self, id: FamilyId) -> Result<Option<SessionFamily>, StoreError>;

    /// Persists `change`, made to `family` since it was loaded.
    ///
    /// # Errors
    /// MUST return [`StoreError::Conflict`] when the stored version differs from the loaded one
    /// (`family.record().version`): of two concurrent refreshes of one token, exactly one is
    /// stored.
    async fn save(&self, family: &SessionFamily, change: &SessionChange) -> Result<(), StoreError>;

    /// The user's families that are not revoked and whose current token has not expired at
    /// `now`, newest first.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn list_live(
        &self,
        user: UserId,
        now: Timestamp,
    ) -> Result<Vec<SessionFamily>, StoreError>;

    /// Revokes every family of the user not yet revoked; returns how many.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn revoke_all(
        &self,
        user: UserId,
        reason: RevocationReason,
        now: Timestamp,
    ) -> Result<u64, StoreError>;
}
