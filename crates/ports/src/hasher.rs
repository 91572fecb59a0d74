//! Password hashing.

use async_trait::async_trait;
use keel_domain::user::{Password, PasswordHash};

/// The hasher failed (not a wrong password: that is `Ok(false)`).
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(pub String);

/// Hashes and verifies passwords.
///
/// Implementations run the work off the async executor and bound its concurrency, so logins
/// cannot starve other requests.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait PasswordHasher: Send + Sync {
    /// Hashes a policy-checked password into a PHC string with a fresh salt.
    ///
    /// # Errors
    /// [`HashError`] when the hasher itself fails.
    async fn hash(&self, password: &Password) -> Result<PasswordHash, HashError>;

    /// Checks `candidate` against `hash`.
    ///
    /// With `hash = None` (unknown account, or one without a password) it MUST spend the same
    /// work as a real verification and return `Ok(false)`, so response times do not reveal
    /// which accounts exist.
    ///
    /// # Errors
    /// [`HashError`] when the stored hash is unreadable or the hasher fails.
    async fn verify(&self, candidate: &str, hash: Option<PasswordHash>) -> Result<bool, HashError>;
}
