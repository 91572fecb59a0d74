//! The wire texts of validation errors: for each refusal of a domain constructor, the `type`
//! and `msg` of the field error a client receives.
//!
//! They belong to the HTTP contract (clients show `msg` and branch on `type`), so they are
//! written here, variant by variant, rather than borrowed from the domain errors' `Display`: a
//! reworded domain message changes nothing on the wire, and the tests below pin every text, so
//! a change of the wire is a visible diff of this file. (An email address's reason — which rule
//! it broke — is the domain's data, carried by `EmailError::Malformed`; the tests pin the full
//! texts of each rule's refusal, so a reworded reason fails here too.)

use keel_domain::paging::PagingError;
use keel_domain::post::TextError;
use keel_domain::user::{EmailError, PasswordError};
use keel_domain::vote::InvalidDirection;

/// One field's violation as it goes on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    /// The machine-readable `type`.
    pub(crate) kind: &'static str,
    /// The human-readable `msg`.
    pub(crate) msg: String,
}

impl Violation {
    fn new(kind: &'static str, msg: impl Into<String>) -> Self {
        Self {
            kind,
            msg: msg.into(),
        }
    }
}

/// A bounded text field (title, content, …).
pub(crate) fn text(e: &TextError) -> Violation {
    match e {
        TextError::Empty => Violation::new(
            "string_too_short",
            "String should have at least 1 character",
        ),
        TextError::TooLong(max) => Violation::new(
            "string_too_long",
            format!("String should have at most {max} characters"),
        ),
        TextError::Nul => Violation::new(
            "string_pattern_mismatch",
            "String should not contain the NUL character",
        ),
    }
}

/// A new password.
pub(crate) fn password(e: &PasswordError) -> Violation {
    match e {
        PasswordError::TooShort => Violation::new(
            "string_too_short",
            "String should have at least 8 characters",
        ),
        PasswordError::TooLong => Violation::new(
            "string_too_long",
            "String should have at most 128 characters",
        ),
    }
}

/// An email address.
pub(crate) fn email(e: &EmailError) -> Violation {
    let msg = match e {
        EmailError::Empty => "value is not a valid email address: it is empty".to_owned(),
        EmailError::TooLong => {
            "value is not a valid email address: it is longer than 254 characters".to_owned()
        }
        EmailError::Malformed(reason) => format!("value is not a valid email address: {reason}"),
    };
    Violation::new("value_error", msg)
}

/// A page (`limit`, `skip`) or a search term.
pub(crate) fn paging(e: &PagingError) -> Violation {
    match e {
        PagingError::LimitTooSmall => Violation::new(
            "greater_than_equal",
            "Input should be greater than or equal to 1",
        ),
        PagingError::LimitTooLarge => Violation::new(
            "less_than_equal",
            "Input should be less than or equal to 100",
        ),
        PagingError::NegativeSkip => Violation::new(
            "greater_than_equal",
            "Input should be greater than or equal to 0",
        ),
        PagingError::SearchTooLong => Violation::new(
            "string_too_long",
            "String should have at most 200 characters",
        ),
        PagingError::SearchNul => Violation::new(
            "string_pattern_mismatch",
            "String should not contain the NUL character",
        ),
    }
}

/// A vote's `dir`.
pub(crate) fn direction(_: &InvalidDirection) -> Violation {
    Violation::new("literal_error", "Input should be 0 or 1")
}

/// An id that must be positive.
pub(crate) fn positive_id() -> Violation {
    Violation::new("greater_than", "Input should be greater than 0")
}

#[cfg(test)]
mod tests {
    use super::*;
    use keel_domain::paging::{Page, Search};
    use keel_domain::post::{Content, Title};
    use keel_domain::user::{Email, Password};
    use keel_domain::vote::Direction;

    fn wire<T, E>(
        result: Result<T, E>,
        describe: impl Fn(&E) -> Violation,
    ) -> (&'static str, String) {
        match result {
            Ok(_) => panic!("accepted"),
            Err(e) => {
                let v = describe(&e);
                (v.kind, v.msg)
            }
        }
    }

    fn pair(kind: &'static str, msg: &str) -> (&'static str, String) {
        (kind, msg.to_owned())
    }

    /// Every refusal a client can meet, from the real domain constructors, with its exact
    /// wire text.
    #[test]
    fn every_refusal_has_its_pinned_wire_text() {
        assert_eq!(
            wire(Title::parse(""), text),
            pair(
                "string_too_short",
                "String should have at least 1 character"
            )
        );
        assert_eq!(
            wire(Title::parse(&"x".repeat(201)), text),
            pair(
                "string_too_long",
                "String should have at most 200 characters"
            )
        );
        assert_eq!(
            wire(Content::parse("a\0b"), text),
            pair(
                "string_pattern_mismatch",
                "String should not contain the NUL character"
            )
        );
        assert_eq!(
            wire(Content::parse(&"x".repeat(10_001)), text),
            pair(
                "string_too_long",
                "String should have at most 10000 characters"
            )
        );
        assert_eq!(
            wire(Password::parse("short"), password),
            pair(
                "string_too_short",
                "String should have at least 8 characters"
            )
        );
        assert_eq!(
            wire(Password::parse(&"p".repeat(129)), password),
            pair(
                "string_too_long",
                "String should have at most 128 characters"
            )
        );
        for (raw, msg) in [
            ("   ", "value is not a valid email address: it is empty"),
            (
                "no-at-sign",
                "value is not a valid email address: an email address must have an @-sign",
            ),
            (
                "@example.com",
                "value is not a valid email address: the part before the @-sign is empty or too long",
            ),
            (
                "a b@example.com",
                "value is not a valid email address: the part before the @-sign has invalid characters",
            ),
            (
                "a@nodot",
                "value is not a valid email address: the part after the @-sign is not a valid domain",
            ),
        ] {
            assert_eq!(
                wire(Email::parse(raw), email),
                pair("value_error", msg),
                "{raw:?}"
            );
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(
            wire(Email::parse(&long), email).0,
            "value_error",
            "too long is a value error"
        );
        assert_eq!(
            wire(Page::new(0, 0), paging),
            pair(
                "greater_than_equal",
                "Input should be greater than or equal to 1"
            )
        );
        assert_eq!(
            wire(Page::new(101, 0), paging),
            pair(
                "less_than_equal",
                "Input should be less than or equal to 100"
            )
        );
        assert_eq!(
            wire(Page::new(1, -1), paging),
            pair(
                "greater_than_equal",
                "Input should be greater than or equal to 0"
            )
        );
        assert_eq!(
            wire(Search::parse(&"s".repeat(201)), paging),
            pair(
                "string_too_long",
                "String should have at most 200 characters"
            )
        );
        assert_eq!(
            wire(Search::parse("s\0"), paging),
            pair(
                "string_pattern_mismatch",
                "String should not contain the NUL character"
            )
        );
        assert_eq!(
            wire(Direction::from_dir(2), direction),
            pair("literal_error", "Input should be 0 or 1")
        );
        assert_eq!(
            email(&EmailError::TooLong).msg,
            "value is not a valid email address: it is longer than 254 characters"
        );
    }
}
