//! Users: identity, e-mail address and password policy.
//!
//! An [`Email`] is always trimmed and lower-cased, so uniqueness holds however a person types
//! it. A [`Password`] always satisfies the length policy and never prints itself.

use crate::Timestamp;
use crate::email_token::MailRequest;
use crate::event::DomainEvent;
use std::fmt;

/// Database identity of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(transparent))]
pub struct UserId(i64);

impl UserId {
    /// Wraps a stored identity.
    #[must_use]
    pub const fn new(id: i64) -> Self {
        Self(id)
    }

    /// The raw identity.
    #[must_use]
    pub const fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Longest accepted e-mail address (RFC 5321 path limit).
pub const EMAIL_MAX_LEN: usize = 254;

/// Why a string is not an acceptable e-mail address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// Nothing but whitespace.
    #[error("value is not a valid email address: it is empty")]
    Empty,
    /// Longer than [`EMAIL_MAX_LEN`].
    #[error("value is not a valid email address: it is longer than 254 characters")]
    TooLong,
    /// Not of the form `local@domain.tld`.
    #[error("value is not a valid email address: {0}")]
    Malformed(&'static str),
}

/// A syntactically valid e-mail address, trimmed and lower-cased.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(transparent))]
pub struct Email(String);

impl Email {
    /// Parses and normalises an address.
    ///
    /// # Errors
    /// [`EmailError`] when the trimmed value is empty, too long, or not `local@domain` with a
    /// dotted domain of letters, digits and hyphens.
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let value = raw.trim().to_lowercase();
        if value.is_empty() {
            return Err(EmailError::Empty);
        }
        if value.chars().count() > EMAIL_MAX_LEN {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = value.rsplit_once('@').ok_or(EmailError::Malformed(
            "an email address must have an @-sign",
        ))?;
        if local.is_empty() || local.len() > 64 {
            return Err(EmailError::Malformed(
                "the part before the @-sign is empty or too long",
            ));
        }
        let local_ok = local
            .chars()
            .all(|c| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c))
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
        if !local_ok {
            return Err(EmailError::Malformed(
                "the part before the @-sign has invalid characters",
            ));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 {
            return Err(EmailError::Malformed(
                "the part after the @-sign is not a valid domain",
            ));
        }
        let labels_ok = labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
        let tld_ok = labels.last().is_some_and(|tld| {
            tld.chars().count() >= 2 && !tld.chars().all(|c| c.is_ascii_digit())
        });
        if !labels_ok || !tld_ok {
            return Err(EmailError::Malformed(
                "the part after the @-sign is not a valid domain",
            ));
        }
        Ok(Self(value))
    }

    /// The normalised address.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Addresses are personal data: debug output (logs, panics) does not carry them.
        f.write_str("Email(<redacted>)")
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Shortest accepted password, in characters.
pub const PASSWORD_MIN_CHARS: usize = 8;
/// Longest accepted password, in characters.
pub const PASSWORD_MAX_CHARS: usize = 128;

/// Why a password is refused by the policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Fewer than [`PASSWORD_MIN_CHARS`] characters.
    #[error("String should have at least 8 characters")]
    TooShort,
    /// More than [`PASSWORD_MAX_CHARS`] characters.
    #[error("String should have at most 128 characters")]
    TooLong,
}

/// A new password that satisfies the policy (8 to 128 characters). Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Checks the policy.
    ///
    /// # Errors
    /// [`PasswordError`] when the length in characters is outside 8..=128.
    pub fn parse(raw: &str) -> Result<Self, PasswordError> {
        let chars = raw.chars().count();
        if chars < PASSWORD_MIN_CHARS {
            Err(PasswordError::TooShort)
        } else if chars > PASSWORD_MAX_CHARS {
            Err(PasswordError::TooLong)
        } else {
            Ok(Self(raw.to_owned()))
        }
    }

    /// The secret itself, for the hasher only.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A password hash in PHC string format, as produced by the configured hasher.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a stored hash.
    #[must_use]
    pub fn new(phc: String) -> Self {
        Self(phc)
    }

    /// The PHC string.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

/// A stored user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Identity.
    pub id: UserId,
    /// Normalised, unique address.
    pub email: Email,
    /// `None` for accounts created through an OAuth provider.
    pub password_hash: Option<PasswordHash>,
    /// Whether the address is proven to be the owner's: a mailed token came back, or the
    /// provider that created the account verified it.
    pub email_verified: bool,
    /// When the account was created.
    pub created_at: Timestamp,
}

/// A registration not yet stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Normalised address.
    pub email: Email,
    /// Hash of the chosen password.
    pub password_hash: Option<PasswordHash>,
    /// Whether the address is already proven (an OAuth provider verified it); a registration
    /// with a password starts unverified.
    pub email_verified: bool,
    /// The verification token to store and mail with the registration, if the address is to
    /// be proven.
    pub verification: Option<MailRequest>,
    /// Registration time.
    pub created_at: Timestamp,
}

impl NewUser {
    /// The events a registration emits once the store has given the user its id.
    #[must_use]
    pub fn events(&self, id: UserId) -> Vec<DomainEvent> {
        let mut events = vec![DomainEvent::UserCreated {
            user_id: id,
            email: self.email.clone(),
        }];
        events.extend(self.verification.as_ref().map(|request| request.event(id)));
        events
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_round_trip_and_display() {
        assert_eq!(super::UserId::new(42).get(), 42);
        assert_eq!(super::UserId::new(-7).to_string(), "-7");
    }

    #[test]
    fn email_bounds_are_inclusive() {
        let local_64 = format!("{}@example.com", "a".repeat(64));
        assert!(
            super::Email::parse(&local_64).is_ok(),
            "a 64-character local part is accepted"
        );
        let local_65 = format!("{}@example.com", "a".repeat(65));
        assert!(
            super::Email::parse(&local_65).is_err(),
            "a 65-character local part is refused"
        );
        // 254 characters in all: 64 + '@' + a domain of 189 characters.
        let domain = format!(
            "{}.{}.{}.com",
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(57)
        );
        let longest = format!("{}@{domain}", "a".repeat(64));
        assert_eq!(longest.chars().count(), 254);
        assert!(
            super::Email::parse(&longest).is_ok(),
            "254 characters are accepted"
        );
        let too_long = format!("{}@e{domain}", "a".repeat(64));
        assert_eq!(
            super::Email::parse(&too_long),
            Err(super::EmailError::TooLong)
        );
    }

    use super::*;

    #[test]
    fn email_is_trimmed_and_lowercased() {
        let email = Email::parse("  Alice@Example.COM ").expect("valid");
        assert_eq!(email.as_str(), "alice@example.com");
        assert_eq!(email.to_string(), "alice@example.com");
    }

    #[test]
    fn password_hashes_never_show_in_debug_output() {
        let hash = PasswordHash::new("$argon2id$v=19$secret".to_owned());
        assert_eq!(format!("{hash:?}"), "PasswordHash(<redacted>)");
        assert_eq!(hash.as_str(), "$argon2id$v=19$secret");
    }

    #[test]
    fn malformed_emails_are_refused() {
        for bad in [
            "",
            "   ",
            "alice",
            "alice@",
            "@example.com",
            "alice@example",
            "a..b@example.com",
            "alice@-example.com",
            "alice@example.c",
            "alice@exa mple.com",
            "alice@example.123",
            ".a@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(Email::parse(&long), Err(EmailError::TooLong));
    }

    #[test]
    fn email_debug_is_redacted() {
        let email = Email::parse("alice@example.com").expect("valid");
        assert_eq!(format!("{email:?}"), "Email(<redacted>)");
    }

    #[test]
    fn password_policy_counts_characters_not_bytes() {
        assert_eq!(Password::parse("1234567"), Err(PasswordError::TooShort));
        assert!(Password::parse("12345678").is_ok());
        assert!(Password::parse(&"é".repeat(128)).is_ok());
        assert_eq!(
            Password::parse(&"a".repeat(129)),
            Err(PasswordError::TooLong)
        );
        let password = Password::parse("correct horse").expect("valid");
        assert_eq!(format!("{password:?}"), "Password(<redacted>)");
        assert_eq!(password.expose(), "correct horse");
    }

    #[test]
    fn registration_emits_user_created() {
        let new = NewUser {
            email: Email::parse("a@example.com").expect("valid"),
            password_hash: None,
            email_verified: false,
            verification: None,
            created_at: Timestamp::from_unix_seconds(0).expect("epoch"),
        };
        assert_eq!(
            new.events(UserId::new(7)),
            vec![DomainEvent::UserCreated {
                user_id: UserId::new(7),
                email: new.email.clone()
            }]
        );
        let request = crate::email_token::MailRequest::new(
            new.email.clone(),
            crate::email_token::TokenPurpose::VerifyEmail,
            [9; crate::email_token::TOKEN_BYTES],
            new.created_at,
            time::Duration::hours(48),
        );
        let verifying = NewUser {
            verification: Some(request.clone()),
            ..new
        };
        let events = verifying.events(UserId::new(7));
        assert_eq!(events.len(), 2);
        assert_eq!(events[1], request.event(UserId::new(7)));
        assert_eq!(events[1].topic(), "mail.verify_email");
    }
}
