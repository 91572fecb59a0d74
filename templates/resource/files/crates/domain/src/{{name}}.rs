//! {{Humans}}: a bounded name and description, owned by the user who created them.
//!
//! Invariants: the name ([`{{Name}}Name`]) has 1..=200 characters and the description
//! ([`{{Name}}Description`]) 0..=2000; every authenticated user may read {{a_human}}, only its
//! owner may change or delete it. Each change returns the events the store commits with it:
//! `{{name}}.created`, `{{name}}.updated`, `{{name}}.deleted`.

use crate::Timestamp;
use crate::event::DomainEvent;
use crate::user::UserId;
use std::fmt;

/// Database identity of {{a_human}}.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(transparent))]
pub struct {{Name}}Id(i64);

impl {{Name}}Id {
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

impl fmt::Display for {{Name}}Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Longest name, in characters.
pub const NAME_MAX_CHARS: usize = 200;
/// Longest description, in characters.
pub const DESCRIPTION_MAX_CHARS: usize = 2_000;

/// Why a text field is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Empty string where at least one character is required.
    #[error("String should have at least 1 character")]
    Empty,
    /// Longer than the field's maximum (carried).
    #[error("String should have at most {0} characters")]
    TooLong(usize),
    /// Holds a NUL character (U+0000): PostgreSQL's text types cannot store it.
    #[error("String should not contain the NUL character")]
    Nul,
}

fn at_most(raw: &str, max: usize) -> Result<String, TextError> {
    if raw.chars().count() > max {
        Err(TextError::TooLong(max))
    } else if raw.contains('\0') {
        Err(TextError::Nul)
    } else {
        Ok(raw.to_owned())
    }
}

/// {{A_human}}'s name: 1 to 200 characters without NUL, kept as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct {{Name}}Name(String);

impl {{Name}}Name {
    /// Checks the bounds.
    ///
    /// # Errors
    /// [`TextError`] when empty, longer than [`NAME_MAX_CHARS`] or holding a NUL.
    pub fn parse(raw: &str) -> Result<Self, TextError> {
        if raw.is_empty() {
            return Err(TextError::Empty);
        }
        at_most(raw, NAME_MAX_CHARS).map(Self)
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// {{A_human}}'s description: at most 2000 characters (empty allowed) without NUL, kept as
/// written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct {{Name}}Description(String);

impl {{Name}}Description {
    /// Checks the bound.
    ///
    /// # Errors
    /// [`TextError::TooLong`] when longer than [`DESCRIPTION_MAX_CHARS`], [`TextError::Nul`]
    /// when holding a NUL.
    pub fn parse(raw: &str) -> Result<Self, TextError> {
        at_most(raw, DESCRIPTION_MAX_CHARS).map(Self)
    }

    /// The description.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What an owner writes: the whole of {{a_human}}'s editable state. Used for creation and for
/// a full replacement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct {{Name}}Draft {
    /// Name.
    pub name: {{Name}}Name,
    /// Description.
    pub description: {{Name}}Description,
}

/// {{A_human}} not yet stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct New{{Name}} {
    /// Owner: the user who creates it.
    pub owner_id: UserId,
    /// Editable state.
    pub draft: {{Name}}Draft,
    /// Creation time (also the first `updated_at`).
    pub created_at: Timestamp,
}

impl New{{Name}} {
    /// The events a creation emits once the store has given the {{human}} its id.
    #[must_use]
    pub fn events(&self, id: {{Name}}Id) -> Vec<DomainEvent> {
        vec![DomainEvent::{{Name}}Created {
            {{name}}_id: id,
            owner_id: self.owner_id,
        }]
    }
}

/// A stored {{human}}.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct {{Name}} {
    /// Identity.
    pub id: {{Name}}Id,
    /// Owner.
    pub owner_id: UserId,
    /// Name.
    pub name: {{Name}}Name,
    /// Description.
    pub description: {{Name}}Description,
    /// Creation time.
    pub created_at: Timestamp,
    /// Time of the last replacement.
    pub updated_at: Timestamp,
}

/// The requester is not the {{human}}'s owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("user {user} does not own {{human}} {id}")]
pub struct NotOwner {
    /// The {{human}}.
    pub id: {{Name}}Id,
    /// The requester.
    pub user: UserId,
}

impl {{Name}} {
    /// Checks that `user` owns the {{human}}.
    ///
    /// # Errors
    /// [`NotOwner`] when someone else created it.
    pub fn ensure_owned_by(&self, user: UserId) -> Result<(), NotOwner> {
        if self.owner_id == user {
            Ok(())
        } else {
            Err(NotOwner { id: self.id, user })
        }
    }

    /// Replaces the editable state on behalf of `editor`, returning the events to store with
    /// it.
    ///
    /// # Errors
    /// [`NotOwner`] when `editor` is not the owner; the {{human}} is then unchanged.
    pub fn replace(
        &mut self,
        editor: UserId,
        draft: {{Name}}Draft,
        now: Timestamp,
    ) -> Result<Vec<DomainEvent>, NotOwner> {
        self.ensure_owned_by(editor)?;
        self.name = draft.name;
        self.description = draft.description;
        self.updated_at = now;
        Ok(vec![DomainEvent::{{Name}}Updated {
            {{name}}_id: self.id,
            owner_id: self.owner_id,
        }])
    }

    /// Decides a deletion on behalf of `user`, returning the events to store with it.
    ///
    /// # Errors
    /// [`NotOwner`] when `user` is not the owner.
    pub fn delete(&self, user: UserId) -> Result<Vec<DomainEvent>, NotOwner> {
        self.ensure_owned_by(user)?;
        Ok(vec![DomainEvent::{{Name}}Deleted {
            {{name}}_id: self.id,
            owner_id: self.owner_id,
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> Timestamp {
        Timestamp::from_unix_seconds(1_700_000_000).expect("valid")
    }

    fn stored(owner: i64) -> {{Name}} {
        {{Name}} {
            id: {{Name}}Id::new(1),
            owner_id: UserId::new(owner),
            name: {{Name}}Name::parse("n").expect("valid"),
            description: {{Name}}Description::parse("").expect("valid"),
            created_at: at(),
            updated_at: at(),
        }
    }

    fn draft(name: &str) -> {{Name}}Draft {
        {{Name}}Draft {
            name: {{Name}}Name::parse(name).expect("valid"),
            description: {{Name}}Description::parse("described").expect("valid"),
        }
    }

    #[test]
    fn ids_round_trip_and_display() {
        assert_eq!({{Name}}Id::new(42).get(), 42);
        assert_eq!({{Name}}Id::new(7).to_string(), "7");
    }

    #[test]
    fn bounds_are_in_characters() {
        assert_eq!({{Name}}Name::parse(""), Err(TextError::Empty));
        assert!({{Name}}Name::parse(&"ü".repeat(200)).is_ok());
        assert_eq!(
            {{Name}}Name::parse(&"a".repeat(201)),
            Err(TextError::TooLong(200))
        );
        assert!({{Name}}Description::parse("").is_ok());
        assert!({{Name}}Description::parse(&"ü".repeat(2_000)).is_ok());
        assert_eq!(
            {{Name}}Description::parse(&"a".repeat(2_001)),
            Err(TextError::TooLong(2_000))
        );
        assert_eq!({{Name}}Name::parse("a\0"), Err(TextError::Nul));
        assert_eq!({{Name}}Description::parse("\0"), Err(TextError::Nul));
    }

    #[test]
    fn only_the_owner_replaces_or_deletes() {
        let mut x = stored(1);
        let later = at().plus(time::Duration::seconds(5));
        let err = x
            .replace(UserId::new(2), draft("new"), later)
            .expect_err("not owner");
        assert_eq!(
            err,
            NotOwner {
                id: {{Name}}Id::new(1),
                user: UserId::new(2)
            }
        );
        assert_eq!((x.name.as_str(), x.updated_at), ("n", at()));
        let events = x
            .replace(UserId::new(1), draft("new"), later)
            .expect("owner");
        assert_eq!(
            events,
            vec![DomainEvent::{{Name}}Updated {
                {{name}}_id: {{Name}}Id::new(1),
                owner_id: UserId::new(1)
            }]
        );
        assert_eq!(
            (x.name.as_str(), x.description.as_str(), x.updated_at),
            ("new", "described", later)
        );
        assert!(x.delete(UserId::new(2)).is_err());
        assert_eq!(
            x.delete(UserId::new(1)).expect("owner"),
            vec![DomainEvent::{{Name}}Deleted {
                {{name}}_id: {{Name}}Id::new(1),
                owner_id: UserId::new(1)
            }]
        );
    }

    #[test]
    fn creation_emits_created_and_topics_are_the_contract() {
        let new = New{{Name}} {
            owner_id: UserId::new(3),
            draft: draft("a"),
            created_at: at(),
        };
        let created = new.events({{Name}}Id::new(9));
        assert_eq!(
            created,
            vec![DomainEvent::{{Name}}Created {
                {{name}}_id: {{Name}}Id::new(9),
                owner_id: UserId::new(3)
            }]
        );
        let mut x = stored(3);
        let updated = x.replace(UserId::new(3), draft("b"), at()).expect("owner");
        let deleted = x.delete(UserId::new(3)).expect("owner");
        let topics: Vec<&str> = [created, updated, deleted]
            .iter()
            .flatten()
            .map(DomainEvent::topic)
            .collect();
        assert_eq!(
            topics,
            ["{{name}}.created", "{{name}}.updated", "{{name}}.deleted"]
        );
    }
}
