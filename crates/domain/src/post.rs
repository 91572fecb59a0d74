//! Posts: bounded title and content, ownership and visibility.
//!
//! Invariants: a [`Title`] has 1..=200 characters and a [`Content`] 1..=10000, neither with a
//! NUL character (U+0000, which no database text column holds); only the owner
//! may change or delete a post; an unpublished post is visible to its owner only.

use crate::Timestamp;
use crate::event::DomainEvent;
use crate::user::UserId;
use std::fmt;

/// Database identity of a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(transparent))]
pub struct PostId(i64);

impl PostId {
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

impl fmt::Display for PostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Longest title, in characters.
pub const TITLE_MAX_CHARS: usize = 200;
/// Longest content, in characters.
pub const CONTENT_MAX_CHARS: usize = 10_000;

/// Why a text field is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Empty string.
    #[error("String should have at least 1 character")]
    Empty,
    /// Longer than the field's maximum (carried).
    #[error("String should have at most {0} characters")]
    TooLong(usize),
    /// Holds a NUL character (U+0000): PostgreSQL's text types cannot store it.
    #[error("String should not contain the NUL character")]
    Nul,
}

fn bounded(raw: &str, max: usize) -> Result<String, TextError> {
    if raw.is_empty() {
        Err(TextError::Empty)
    } else if raw.chars().count() > max {
        Err(TextError::TooLong(max))
    } else if raw.contains('\0') {
        Err(TextError::Nul)
    } else {
        Ok(raw.to_owned())
    }
}

/// A post title: 1 to 200 characters without NUL, kept as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title(String);

impl Title {
    /// Checks the bounds.
    ///
    /// # Errors
    /// [`TextError`] when empty or longer than [`TITLE_MAX_CHARS`].
    pub fn parse(raw: &str) -> Result<Self, TextError> {
        bounded(raw, TITLE_MAX_CHARS).map(Self)
    }

    /// The title text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A post body: 1 to 10000 characters without NUL, kept as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content(String);

impl Content {
    /// Checks the bounds.
    ///
    /// # Errors
    /// [`TextError`] when empty or longer than [`CONTENT_MAX_CHARS`].
    pub fn parse(raw: &str) -> Result<Self, TextError> {
        bounded(raw, CONTENT_MAX_CHARS).map(Self)
    }

    /// The body text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What an author writes: the whole of a post's editable state. Used for creation and for a
/// full replacement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostDraft {
    /// Title.
    pub title: Title,
    /// Body.
    pub content: Content,
    /// Visible to everyone (`true`) or to its owner only.
    pub published: bool,
}

/// A post not yet stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPost {
    /// Author.
    pub owner_id: UserId,
    /// Editable state.
    pub draft: PostDraft,
    /// Creation time (also the first `updated_at`).
    pub created_at: Timestamp,
}

impl NewPost {
    /// The events a creation emits once the store has given the post its id.
    #[must_use]
    pub fn events(&self, id: PostId) -> Vec<DomainEvent> {
        vec![DomainEvent::PostCreated {
            post_id: id,
            owner_id: self.owner_id,
        }]
    }
}

/// A stored post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Post {
    /// Identity.
    pub id: PostId,
    /// Author.
    pub owner_id: UserId,
    /// Title.
    pub title: Title,
    /// Body.
    pub content: Content,
    /// Visible to everyone or to its owner only.
    pub published: bool,
    /// Creation time.
    pub created_at: Timestamp,
    /// Time of the last replacement.
    pub updated_at: Timestamp,
}

/// The requester is not the post's owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("user {user} does not own post {post}")]
pub struct NotOwner {
    /// The post.
    pub post: PostId,
    /// The requester.
    pub user: UserId,
}

impl Post {
    /// Whether `viewer` may see this post: published posts are public, drafts are the owner's.
    #[must_use]
    pub fn is_visible_to(&self, viewer: UserId) -> bool {
        self.published || self.owner_id == viewer
    }

    /// Checks that `user` owns the post.
    ///
    /// # Errors
    /// [`NotOwner`] when someone else wrote it.
    pub fn ensure_owned_by(&self, user: UserId) -> Result<(), NotOwner> {
        if self.owner_id == user {
            Ok(())
        } else {
            Err(NotOwner {
                post: self.id,
                user,
            })
        }
    }

    /// Replaces the editable state on behalf of `editor`, returning the events to store with it.
    ///
    /// # Errors
    /// [`NotOwner`] when `editor` is not the owner; the post is then unchanged.
    pub fn replace(
        &mut self,
        editor: UserId,
        draft: PostDraft,
        now: Timestamp,
    ) -> Result<Vec<DomainEvent>, NotOwner> {
        self.ensure_owned_by(editor)?;
        self.title = draft.title;
        self.content = draft.content;
        self.published = draft.published;
        self.updated_at = now;
        Ok(vec![DomainEvent::PostUpdated {
            post_id: self.id,
            owner_id: self.owner_id,
        }])
    }

    /// Decides a deletion on behalf of `user`, returning the events to store with it.
    ///
    /// # Errors
    /// [`NotOwner`] when `user` is not the owner.
    pub fn delete(&self, user: UserId) -> Result<Vec<DomainEvent>, NotOwner> {
        self.ensure_owned_by(user)?;
        Ok(vec![DomainEvent::PostDeleted {
            post_id: self.id,
            owner_id: self.owner_id,
        }])
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn post_ids_round_trip_and_display() {
        assert_eq!(super::PostId::new(42).get(), 42);
        assert_eq!(super::PostId::new(7).to_string(), "7");
    }

    use super::*;

    fn post(owner: i64, published: bool) -> Post {
        let at = Timestamp::from_unix_seconds(1_700_000_000).expect("valid");
        Post {
            id: PostId::new(1),
            owner_id: UserId::new(owner),
            title: Title::parse("t").expect("valid"),
            content: Content::parse("c").expect("valid"),
            published,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn bounds_are_in_characters() {
        assert_eq!(Title::parse(""), Err(TextError::Empty));
        assert!(Title::parse(&"ü".repeat(200)).is_ok());
        assert_eq!(Title::parse(&"a".repeat(201)), Err(TextError::TooLong(200)));
        assert!(Content::parse(&"a".repeat(10_000)).is_ok());
        assert_eq!(
            Content::parse(&"a".repeat(10_001)),
            Err(TextError::TooLong(10_000))
        );
        assert_eq!(Content::parse(""), Err(TextError::Empty));
    }

    #[test]
    fn drafts_are_visible_to_their_owner_only() {
        assert!(post(1, false).is_visible_to(UserId::new(1)));
        assert!(!post(1, false).is_visible_to(UserId::new(2)));
        assert!(post(1, true).is_visible_to(UserId::new(2)));
    }

    #[test]
    fn only_the_owner_replaces_or_deletes() {
        let mut p = post(1, true);
        let later = p.created_at.plus(time::Duration::seconds(5));
        let draft = PostDraft {
            title: Title::parse("new").expect("valid"),
            content: Content::parse("body").expect("valid"),
            published: false,
        };
        let err = p
            .replace(UserId::new(2), draft.clone(), later)
            .expect_err("not owner");
        assert_eq!(
            err,
            NotOwner {
                post: PostId::new(1),
                user: UserId::new(2)
            }
        );
        assert_eq!(p.title.as_str(), "t");
        let events = p.replace(UserId::new(1), draft, later).expect("owner");
        assert_eq!(
            events,
            vec![DomainEvent::PostUpdated {
                post_id: PostId::new(1),
                owner_id: UserId::new(1)
            }]
        );
        assert_eq!(
            (p.title.as_str(), p.published, p.updated_at),
            ("new", false, later)
        );
        assert!(p.delete(UserId::new(2)).is_err());
        assert_eq!(
            p.delete(UserId::new(1)).expect("owner"),
            vec![DomainEvent::PostDeleted {
                post_id: PostId::new(1),
                owner_id: UserId::new(1)
            }]
        );
    }

    #[test]
    fn creation_emits_post_created() {
        let at = Timestamp::from_unix_seconds(0).expect("epoch");
        let new = NewPost {
            owner_id: UserId::new(3),
            draft: PostDraft {
                title: Title::parse("a").expect("v"),
                content: Content::parse("b").expect("v"),
                published: true,
            },
            created_at: at,
        };
        assert_eq!(
            new.events(PostId::new(9)),
            vec![DomainEvent::PostCreated {
                post_id: PostId::new(9),
                owner_id: UserId::new(3)
            }]
        );
    }
}
