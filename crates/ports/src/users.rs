//! Stored users.

use crate::StoreError;
use async_trait::async_trait;
use keel_domain::Timestamp;
use keel_domain::session::FamilyId;
use keel_domain::user::{Email, NewUser, User, UserId};

/// Stored users.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait Users: Send + Sync {
    /// Stores `user` and the events [`NewUser::events`] emits for its new id, atomically.
    ///
    /// # Errors
    /// MUST return [`StoreError::Conflict`] when the e-mail address is already registered.
    async fn create(&self, user: &NewUser) -> Result<User, StoreError>;

    /// The user with this id.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn find(&self, id: UserId) -> Result<Option<User>, StoreError>;

    /// The user with this id, only while `family` is one of their session families and is live
    /// at `now` in the sense of [`keel_domain::session::SessionFamily::is_live`]: not revoked
    /// and its current refresh token not expired. Answers `None` otherwise, exactly as for an
    /// unknown user.
    ///
    /// Authenticating a request costs this one store round trip: an implementation MUST
    /// answer it with a single query (the user joined with the family), so that an access
    /// token stops working the moment its session ends, at no extra cost per request.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn find_in_live_session(
        &self,
        id: UserId,
        family: FamilyId,
        now: Timestamp,
    ) -> Result<Option<User>, StoreError>;

    /// The user with this (normalised) address.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, StoreError>;
}
