//! Stored one-time email tokens (verification, password reset) and what redeeming one does.

use crate::StoreError;
use async_trait::async_trait;
use keel_domain::Timestamp;
use keel_domain::email_token::{MailRequest, TokenHash};
use keel_domain::user::{PasswordHash, UserId};

/// Stored one-time email tokens. Only hashes are stored; the raw token leaves the store only
/// inside the mail event written with it.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait EmailTokens: Send + Sync {
    /// Stores the token of `request` for the account whose address is `request.email`, with
    /// the mail event [`MailRequest::event`], atomically. Answers the account, or `None`
    /// (nothing stored) when no account has that address.
    ///
    /// Both outcomes MUST run the same statements up to the event (the account is looked up by
    /// the insert itself), so that a caller answering the same either way cannot be told apart
    /// by its timing.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn issue(&self, request: &MailRequest) -> Result<Option<UserId>, StoreError>;

    /// Redeems a verification token ([`keel_domain::email_token::StoredToken::redeem`] for
    /// [`keel_domain::email_token::TokenPurpose::VerifyEmail`]) and marks its account's email
    /// verified, atomically; every other unused verification token of the account is spent
    /// too. Answers the account, or `None` (nothing changed) when the token is refused.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn verify_email(
        &self,
        hash: &TokenHash,
        now: Timestamp,
    ) -> Result<Option<UserId>, StoreError>;

    /// Redeems a password-reset token and, atomically: sets the account's password hash, marks
    /// its email verified (the mail proved it), spends every other unused reset token of the
    /// account and revokes every live session family of the account (reason `password_reset`).
    /// Answers the account, or `None` (nothing changed) when the token is refused.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn reset_password(
        &self,
        hash: &TokenHash,
        password: &PasswordHash,
        now: Timestamp,
    ) -> Result<Option<UserId>, StoreError>;
}
