//! Stored users.

use crate::StoreError;
use async_trait::async_trait;
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

    /// The user with this (normalised) address.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, StoreError>;
}
