//! Account security: proving an address ([`VerifyEmail`], [`ResendVerification`]) and
//! recovering an account by mail ([`RequestPasswordReset`], [`ResetPassword`]).
//!
//! Every mailed token is made here from the [`Random`] port, stored only as its hash, and
//! leaves the system only inside the mail event written in the same transaction
//! ([`EmailTokens`]). A refused token is one answer whatever the reason (unknown, tampered,
//! used, expired), so a caller learns nothing about other tokens.

use keel_domain::email_token::{EmailToken, MailRequest, TOKEN_BYTES, TokenPurpose};
use keel_domain::user::{Email, Password, User};
use keel_ports::{Clock, EmailTokens, HashError, PasswordHasher, Random, StoreError};
use std::sync::Arc;
use time::Duration;

/// How long mailed tokens live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenLifetimes {
    /// Email verification tokens (`EMAIL_VERIFY_EXPIRE_HOURS`).
    pub verify_email: Duration,
    /// Password reset tokens (`PASSWORD_RESET_EXPIRE_MINUTES`).
    pub reset_password: Duration,
}

/// A mail request for `email`, with a fresh token from `random`.
#[must_use]
pub fn mail_request(
    random: &dyn Random,
    email: Email,
    purpose: TokenPurpose,
    now: keel_domain::Timestamp,
    lifetime: Duration,
) -> MailRequest {
    let mut bytes = [0_u8; TOKEN_BYTES];
    random.fill(&mut bytes);
    MailRequest::new(email, purpose, bytes, now, lifetime)
}

/// Why a verification failed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyEmailError {
    /// Unknown, tampered, used or expired → 400 `invalid_verification_token`.
    #[error("Invalid or expired verification token")]
    InvalidToken,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Marks an account's email verified with a mailed token (`POST /auth/verify-email`).
#[derive(Clone)]
pub struct VerifyEmail {
    tokens: Arc<dyn EmailTokens>,
    clock: Arc<dyn Clock>,
}

impl VerifyEmail {
    /// Wires the use case.
    pub fn new(tokens: Arc<dyn EmailTokens>, clock: Arc<dyn Clock>) -> Self {
        Self { tokens, clock }
    }

    /// Redeems `raw`.
    ///
    /// # Errors
    /// [`VerifyEmailError::InvalidToken`] for any token that is not a live verification token.
    #[tracing::instrument(name = "use_case.verify_email", skip_all)]
    pub async fn execute(&self, raw: &str) -> Result<(), VerifyEmailError> {
        let token = EmailToken::parse(raw).ok_or(VerifyEmailError::InvalidToken)?;
        let user = self
            .tokens
            .verify_email(&token.hash(), self.clock.now())
            .await?
            .ok_or(VerifyEmailError::InvalidToken)?;
        tracing::info!(user_id = user.get(), "email verified");
        Ok(())
    }
}

/// Mails a new verification token to the signed-in user (`POST /auth/verify-email/resend`).
#[derive(Clone)]
pub struct ResendVerification {
    tokens: Arc<dyn EmailTokens>,
    random: Arc<dyn Random>,
    clock: Arc<dyn Clock>,
    lifetime: Duration,
}

impl ResendVerification {
    /// Wires the use case; tokens live `lifetime`.
    pub fn new(
        tokens: Arc<dyn EmailTokens>,
        random: Arc<dyn Random>,
        clock: Arc<dyn Clock>,
        lifetime: Duration,
    ) -> Self {
        Self {
            tokens,
            random,
            clock,
            lifetime,
        }
    }

    /// Stores a new token for `user` with its mail event; nothing when the email is verified
    /// already (the route answers the same).
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    #[tracing::instrument(name = "use_case.resend_verification", skip_all)]
    pub async fn execute(&self, user: &User) -> Result<(), StoreError> {
        if user.email_verified {
            return Ok(());
        }
        let request = mail_request(
            self.random.as_ref(),
            user.email.clone(),
            TokenPurpose::VerifyEmail,
            self.clock.now(),
            self.lifetime,
        );
        self.tokens.issue(&request).await?;
        Ok(())
    }
}

/// Mails a reset token to the account with an address, if there is one
/// (`POST /auth/password-reset`).
#[derive(Clone)]
pub struct RequestPasswordReset {
    tokens: Arc<dyn EmailTokens>,
    random: Arc<dyn Random>,
    clock: Arc<dyn Clock>,
    lifetime: Duration,
}

impl RequestPasswordReset {
    /// Wires the use case; tokens live `lifetime`.
    pub fn new(
        tokens: Arc<dyn EmailTokens>,
        random: Arc<dyn Random>,
        clock: Arc<dyn Clock>,
        lifetime: Duration,
    ) -> Self {
        Self {
            tokens,
            random,
            clock,
            lifetime,
        }
    }

    /// Makes a token and hands it to the store, which keeps it (and writes the mail event)
    /// only when an account has `email`. The same work is done either way and the outcome is
    /// not returned: the caller cannot tell whether the address has an account.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    #[tracing::instrument(name = "use_case.request_password_reset", skip_all)]
    pub async fn execute(&self, email: Email) -> Result<(), StoreError> {
        let request = mail_request(
            self.random.as_ref(),
            email,
            TokenPurpose::ResetPassword,
            self.clock.now(),
            self.lifetime,
        );
        if let Some(user) = self.tokens.issue(&request).await? {
            tracing::info!(user_id = user.get(), "password reset requested");
        }
        Ok(())
    }
}

/// Why a password reset failed.
#[derive(Debug, thiserror::Error)]
pub enum ResetPasswordError {
    /// Unknown, tampered, used or expired → 400 `invalid_reset_token`.
    #[error("Invalid or expired password reset token")]
    InvalidToken,
    /// Hashing failed.
    #[error(transparent)]
    Hash(#[from] HashError),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Sets a new password with a mailed token (`POST /auth/password-reset/confirm`).
#[derive(Clone)]
pub struct ResetPassword {
    tokens: Arc<dyn EmailTokens>,
    hasher: Arc<dyn PasswordHasher>,
    clock: Arc<dyn Clock>,
}

impl ResetPassword {
    /// Wires the use case.
    pub fn new(
        tokens: Arc<dyn EmailTokens>,
        hasher: Arc<dyn PasswordHasher>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            tokens,
            hasher,
            clock,
        }
    }

    /// Redeems `raw` and, atomically with it, sets `password` (Argon2id through the hasher
    /// port, off the executor), marks the email verified and ends every session of the
    /// account: its refresh and access tokens answer 401 from then on.
    ///
    /// # Errors
    /// [`ResetPasswordError::InvalidToken`] for any token that is not a live reset token
    /// (checked for shape before the password is hashed).
    #[tracing::instrument(name = "use_case.reset_password", skip_all)]
    pub async fn execute(&self, raw: &str, password: &Password) -> Result<(), ResetPasswordError> {
        let token = EmailToken::parse(raw).ok_or(ResetPasswordError::InvalidToken)?;
        let hash = self.hasher.hash(password).await?;
        let user = self
            .tokens
            .reset_password(&token.hash(), &hash, self.clock.now())
            .await?
            .ok_or(ResetPasswordError::InvalidToken)?;
        tracing::info!(user_id = user.get(), "password reset; every session ended");
        Ok(())
    }
}

#[cfg(test)]
#[path = "account_tests.rs"]
mod tests;
