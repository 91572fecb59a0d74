//! One-time tokens mailed to prove an address (email verification) or to set a new password
//! (password reset).
//!
//! The rules:
//! - a token is [`TOKEN_BYTES`] random bytes (256 bits) supplied by the caller, sent as 43
//!   URL-safe characters ([`EmailToken`]);
//! - only its SHA-256 ([`TokenHash`]) is ever stored, so a leaked table hands out no live token;
//! - a token serves one [`TokenPurpose`], once, before it expires ([`StoredToken::redeem`]);
//! - what leaves the system is the mail event ([`MailRequest::event`]), the only place the raw
//!   token is written; those events go to the mail sender alone ([`crate::event::Audience`]).

use crate::Timestamp;
use crate::event::DomainEvent;
use crate::oauth::base64url;
use crate::user::{Email, UserId};
use sha2::{Digest, Sha256};
use std::fmt;
use time::Duration;

/// Bytes of randomness in a token (256 bits).
pub const TOKEN_BYTES: usize = 32;

/// Characters of a token: [`TOKEN_BYTES`] in base64url without padding.
pub const TOKEN_LEN: usize = 43;

/// What a token may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenPurpose {
    /// Proving the account's address (`POST /auth/verify-email`).
    VerifyEmail,
    /// Choosing a new password (`POST /auth/password-reset/confirm`).
    ResetPassword,
}

impl TokenPurpose {
    /// Both purposes.
    pub const ALL: [TokenPurpose; 2] = [TokenPurpose::VerifyEmail, TokenPurpose::ResetPassword];

    /// The stored name (`verify_email`, `reset_password`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            TokenPurpose::VerifyEmail => "verify_email",
            TokenPurpose::ResetPassword => "reset_password",
        }
    }

    /// The purpose stored as `name`, if any.
    #[must_use]
    pub fn parse(name: &str) -> Option<TokenPurpose> {
        TokenPurpose::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// A raw token, as mailed and as presented back. Never stored; its `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(transparent))]
pub struct EmailToken(String);

impl EmailToken {
    /// A new token from [`TOKEN_BYTES`] random bytes.
    #[must_use]
    pub fn generate(random: [u8; TOKEN_BYTES]) -> Self {
        Self(base64url(&random))
    }

    /// A presented token, if it has the shape keel gives them ([`TOKEN_LEN`] characters of
    /// `A–Z a–z 0–9 - _`); anything else is refused without looking anything up.
    #[must_use]
    pub fn parse(raw: &str) -> Option<Self> {
        (raw.len() == TOKEN_LEN
            && raw
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .then(|| Self(raw.to_owned()))
    }

    /// The token's characters (for the mail's link).
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What is stored and looked up: `BASE64URL(SHA256(token))`.
    #[must_use]
    pub fn hash(&self) -> TokenHash {
        TokenHash(base64url(&Sha256::digest(self.0.as_bytes())))
    }
}

impl fmt::Debug for EmailToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EmailToken(<redacted>)")
    }
}

/// The stored form of a token: `BASE64URL(SHA256(token))`, 43 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenHash(String);

impl TokenHash {
    /// A hash as stored.
    #[must_use]
    pub fn new(stored: String) -> Self {
        Self(stored)
    }

    /// The hash.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A token about to be stored and mailed to the account with [`MailRequest::email`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailRequest {
    /// The account's (normalised) address, where the mail goes.
    pub email: Email,
    /// The raw token, for the mail only.
    pub token: EmailToken,
    /// What it is for.
    pub purpose: TokenPurpose,
    /// When it stops being accepted.
    pub expires_at: Timestamp,
}

impl MailRequest {
    /// A request for a token made of `random`, for `purpose`, living `lifetime` from `now`.
    #[must_use]
    pub fn new(
        email: Email,
        purpose: TokenPurpose,
        random: [u8; TOKEN_BYTES],
        now: Timestamp,
        lifetime: Duration,
    ) -> Self {
        Self {
            email,
            token: EmailToken::generate(random),
            purpose,
            expires_at: now.plus(lifetime),
        }
    }

    /// What is stored.
    #[must_use]
    pub fn hash(&self) -> TokenHash {
        self.token.hash()
    }

    /// The mail event recorded with the token, once the store knows the account's id.
    #[must_use]
    pub fn event(&self, user_id: UserId) -> DomainEvent {
        let (email, token, expires_at) = (
            self.email.clone(),
            self.token.clone(),
            self.expires_at.to_rfc3339(),
        );
        match self.purpose {
            TokenPurpose::VerifyEmail => DomainEvent::EmailVerificationRequested {
                user_id,
                email,
                token,
                expires_at,
            },
            TokenPurpose::ResetPassword => DomainEvent::PasswordResetRequested {
                user_id,
                email,
                token,
                expires_at,
            },
        }
    }
}

/// A stored token as read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredToken {
    /// The account it was issued to.
    pub user: UserId,
    /// What it is for.
    pub purpose: TokenPurpose,
    /// When it stops being accepted.
    pub expires_at: Timestamp,
    /// When it was used, if it was.
    pub used_at: Option<Timestamp>,
}

/// Why a presented token is refused (all of them answer the same 400 to the client).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejection {
    /// Not a token keel issued (malformed, tampered or unknown).
    #[error("the token is not one keel issued")]
    Unknown,
    /// Issued for the other purpose.
    #[error("the token was issued for another purpose")]
    OtherPurpose,
    /// Used already.
    #[error("the token was used already")]
    Used,
    /// Past its expiry.
    #[error("the token has expired")]
    Expired,
}

impl StoredToken {
    /// The account the token proves, when it is presented for `purpose` at `now`: it must be
    /// of that purpose, unused, and unexpired (a token is dead at its `expires_at`).
    ///
    /// # Errors
    /// [`TokenRejection`] naming the first rule broken.
    pub fn redeem(&self, purpose: TokenPurpose, now: Timestamp) -> Result<UserId, TokenRejection> {
        if self.purpose != purpose {
            return Err(TokenRejection::OtherPurpose);
        }
        if self.used_at.is_some() {
            return Err(TokenRejection::Used);
        }
        if now >= self.expires_at {
            return Err(TokenRejection::Expired);
        }
        Ok(self.user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_seconds(seconds).expect("valid")
    }

    #[test]
    fn purposes_round_trip_and_unknown_names_are_refused() {
        for purpose in TokenPurpose::ALL {
            assert_eq!(TokenPurpose::parse(purpose.as_str()), Some(purpose));
        }
        assert_eq!(TokenPurpose::parse("login"), None);
    }

    #[test]
    fn tokens_are_redacted_and_hashed() {
        let token = EmailToken::generate([7; TOKEN_BYTES]);
        assert_eq!(format!("{token:?}"), "EmailToken(<redacted>)");
        assert_eq!(token.as_str().len(), TOKEN_LEN);
        assert_eq!(EmailToken::parse(token.as_str()), Some(token.clone()));
        let hash = token.hash();
        assert_eq!(hash.as_str().len(), 43);
        assert_ne!(hash.as_str(), token.as_str());
        assert_eq!(TokenHash::new(hash.as_str().to_owned()), hash);
        assert_eq!(EmailToken::parse("short"), None);
        assert_eq!(EmailToken::parse(&format!("{}.", "a".repeat(42))), None);
    }

    #[test]
    fn requests_expire_after_their_lifetime_and_name_their_event() {
        let email = Email::parse("a@example.com").expect("valid");
        let user = UserId::new(3);
        for purpose in TokenPurpose::ALL {
            let request = MailRequest::new(
                email.clone(),
                purpose,
                [1; TOKEN_BYTES],
                at(100),
                Duration::seconds(60),
            );
            assert_eq!(request.expires_at, at(160));
            assert_eq!(request.hash(), request.token.hash());
            let topic = request.event(user).topic();
            assert_eq!(
                topic,
                match purpose {
                    TokenPurpose::VerifyEmail => "mail.verify_email",
                    TokenPurpose::ResetPassword => "mail.password_reset",
                }
            );
        }
    }

    #[test]
    fn a_token_is_redeemed_once_for_its_purpose_before_it_expires() {
        let stored = StoredToken {
            user: UserId::new(1),
            purpose: TokenPurpose::ResetPassword,
            expires_at: at(100),
            used_at: None,
        };
        assert_eq!(
            stored.redeem(TokenPurpose::ResetPassword, at(99)),
            Ok(UserId::new(1))
        );
        assert_eq!(
            stored.redeem(TokenPurpose::ResetPassword, at(100)),
            Err(TokenRejection::Expired)
        );
        assert_eq!(
            stored.redeem(TokenPurpose::VerifyEmail, at(1)),
            Err(TokenRejection::OtherPurpose)
        );
        let used = StoredToken {
            used_at: Some(at(50)),
            ..stored
        };
        assert_eq!(
            used.redeem(TokenPurpose::ResetPassword, at(60)),
            Err(TokenRejection::Used)
        );
        let sentences: Vec<String> = [
            TokenRejection::Unknown,
            TokenRejection::OtherPurpose,
            TokenRejection::Used,
            TokenRejection::Expired,
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(
            sentences,
            [
                "the token is not one keel issued",
                "the token was issued for another purpose",
                "the token was used already",
                "the token has expired",
            ]
        );
    }
}
