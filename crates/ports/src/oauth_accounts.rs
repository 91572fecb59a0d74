//! Stored links between users and provider identities (`oauth_accounts`).

use crate::StoreError;
use async_trait::async_trait;
use keel_domain::Timestamp;
use keel_domain::oauth::{ExternalIdentity, Provider};
use keel_domain::user::{NewUser, User, UserId};

/// An identity of `provider` to store with a user: (`issuer`, `subject`) is its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityLink {
    /// The provider that vouched for it.
    pub provider: Provider,
    /// Issuer and subject (and the email as reported, kept for reference only).
    pub identity: ExternalIdentity,
    /// When it is linked (also its first login when it logs in).
    pub at: Timestamp,
}

/// Stored provider identities and the users they belong to.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait OAuthAccounts: Send + Sync {
    /// The user the identity (`provider`, `issuer`, `subject`) is linked to.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn owner(
        &self,
        provider: Provider,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<UserId>, StoreError>;

    /// Whether `user` has an identity of `provider` linked.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn has_provider(&self, user: UserId, provider: Provider) -> Result<bool, StoreError>;

    /// Links `link` to `user` (a link is not a login: `last_login_at` stays empty).
    ///
    /// # Errors
    /// MUST return [`StoreError::Conflict`] when the identity is linked already (to anyone) or
    /// `user` already has an identity of this provider; [`StoreError::Missing`] when the user
    /// does not exist.
    async fn link(&self, user: UserId, link: &IdentityLink) -> Result<(), StoreError>;

    /// Creates `user` (no password) with `link` linked — its first login at `link.at` — and
    /// the events [`NewUser::events`] emits, in one transaction.
    ///
    /// # Errors
    /// MUST return [`StoreError::Conflict`] when the email is registered or the identity is
    /// linked already (a concurrent flow got there first); nothing is stored then.
    async fn create_user(&self, user: &NewUser, link: &IdentityLink) -> Result<User, StoreError>;

    /// Records a login through the identity (`last_login_at`).
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn record_login(
        &self,
        provider: Provider,
        issuer: &str,
        subject: &str,
        at: Timestamp,
    ) -> Result<(), StoreError>;
}
