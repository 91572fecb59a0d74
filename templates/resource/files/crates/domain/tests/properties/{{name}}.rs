//! The {{human}} rules: field bounds, and that only the owner changes {{a_human}}.

use keel_domain::Timestamp;
use keel_domain::event::DomainEvent;
use keel_domain::user::UserId;
use keel_domain::{{name}}::{
    DESCRIPTION_MAX_CHARS, NAME_MAX_CHARS, TextError, {{Name}}, {{Name}}Description, {{Name}}Draft,
    {{Name}}Id, {{Name}}Name,
};
use proptest::prelude::*;

/// Strings of exactly `lengths` characters, any Unicode scalar values.
fn text(lengths: impl Strategy<Value = usize>) -> impl Strategy<Value = String> {
    lengths.prop_flat_map(|n| prop::collection::vec(any::<char>(), n).prop_map(String::from_iter))
}

fn stored(owner: i64) -> {{Name}} {
    let at = Timestamp::from_unix_seconds(1_700_000_000).expect("valid");
    {{Name}} {
        id: {{Name}}Id::new(1),
        owner_id: UserId::new(owner),
        name: {{Name}}Name::parse("original").expect("valid"),
        description: {{Name}}Description::parse("").expect("valid"),
        created_at: at,
        updated_at: at,
    }
}

proptest! {
    /// Invariant: a name is accepted exactly when it has 1 to 200 characters and no NUL, and
    /// is kept as written.
    #[test]
    fn names_are_accepted_exactly_from_1_to_200_chars(
        raw in text(prop_oneof![0..=3_usize, 197..=203_usize, 1..=NAME_MAX_CHARS])
    ) {
        let chars = raw.chars().count();
        match {{Name}}Name::parse(&raw) {
            Ok(name) => {
                prop_assert!((1..=NAME_MAX_CHARS).contains(&chars));
                prop_assert!(!raw.contains('\0'));
                prop_assert_eq!(name.as_str(), raw.as_str());
            }
            Err(error) => {
                let expected = if chars == 0 {
                    TextError::Empty
                } else if chars > NAME_MAX_CHARS {
                    TextError::TooLong(NAME_MAX_CHARS)
                } else {
                    TextError::Nul
                };
                prop_assert_eq!(error, expected);
            }
        }
    }

    /// Invariant: a description is accepted exactly when it has at most 2000 characters
    /// (empty included) and no NUL, and is kept as written.
    #[test]
    fn descriptions_are_accepted_exactly_up_to_2000_chars(
        raw in text(prop_oneof![0..=3_usize, 1_997..=2_003_usize])
    ) {
        let chars = raw.chars().count();
        match {{Name}}Description::parse(&raw) {
            Ok(description) => {
                prop_assert!(chars <= DESCRIPTION_MAX_CHARS);
                prop_assert!(!raw.contains('\0'));
                prop_assert_eq!(description.as_str(), raw.as_str());
            }
            Err(error) => {
                let expected = if chars > DESCRIPTION_MAX_CHARS {
                    TextError::TooLong(DESCRIPTION_MAX_CHARS)
                } else {
                    TextError::Nul
                };
                prop_assert_eq!(error, expected);
            }
        }
    }

    /// Invariant: whoever asks, a replacement or deletion succeeds exactly for the owner; a
    /// refused replacement leaves the {{human}} unchanged, an accepted one emits one
    /// `{{name}}.updated` naming the {{human}} and its owner.
    #[test]
    fn only_the_owner_replaces_or_deletes(owner in 1..5_i64, editor in 1..5_i64, seconds in 0..1_000_i64) {
        let mut subject = stored(owner);
        let before = subject.clone();
        let now = before.created_at.plus(time::Duration::seconds(seconds));
        let draft = {{Name}}Draft {
            name: {{Name}}Name::parse("new").expect("valid"),
            description: {{Name}}Description::parse("d").expect("valid"),
        };
        prop_assert_eq!(subject.delete(UserId::new(editor)).is_ok(), owner == editor);
        match subject.replace(UserId::new(editor), draft, now) {
            Ok(events) => {
                prop_assert_eq!(owner, editor);
                prop_assert_eq!(subject.name.as_str(), "new");
                prop_assert_eq!(subject.updated_at, now);
                prop_assert_eq!(events, vec![DomainEvent::{{Name}}Updated {
                    {{name}}_id: before.id,
                    owner_id: before.owner_id,
                }]);
            }
            Err(refused) => {
                prop_assert_ne!(owner, editor);
                prop_assert_eq!(refused.user, UserId::new(editor));
                prop_assert_eq!(subject, before);
            }
        }
    }
}

#[test]
fn a_stranger_cannot_rename_and_the_bounds_are_in_characters() {
    let mut subject = stored(1);
    let draft = {{Name}}Draft {
        name: {{Name}}Name::parse("x").expect("valid"),
        description: {{Name}}Description::parse("").expect("valid"),
    };
    let now = subject.created_at;
    assert!(subject.replace(UserId::new(2), draft, now).is_err());
    assert_eq!(subject.name.as_str(), "original");
    assert!({{Name}}Name::parse(&"ü".repeat(NAME_MAX_CHARS)).is_ok());
    assert_eq!(
        {{Name}}Description::parse(&"ü".repeat(DESCRIPTION_MAX_CHARS + 1)),
        Err(TextError::TooLong(DESCRIPTION_MAX_CHARS))
    );
}
