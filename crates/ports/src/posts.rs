//! Stored posts and their read model.

use crate::StoreError;
use async_trait::async_trait;
use keel_domain::Timestamp;
use keel_domain::event::DomainEvent;
use keel_domain::paging::{Page, Search};
use keel_domain::post::{NewPost, Post, PostId};
use keel_domain::user::{Email, UserId};

/// The public face of a post's owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    /// Identity.
    pub id: UserId,
    /// Address.
    pub email: Email,
    /// Whether the address is verified.
    pub email_verified: bool,
    /// Registration time.
    pub created_at: Timestamp,
}

/// A post as readers see it: with its owner and its vote count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostView {
    /// The post.
    pub post: Post,
    /// Its owner.
    pub owner: Author,
    /// Number of votes (equals the number of distinct voters).
    pub votes: i64,
}

/// A page of the feed as one viewer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostQuery {
    /// Who is reading: drafts of others are never returned.
    pub viewer: UserId,
    /// Case-insensitive title filter.
    pub search: Search,
    /// Which slice.
    pub page: Page,
}

/// Stored posts.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait Posts: Send + Sync {
    /// Stores `post` and the events [`NewPost::events`] emits for its new id, atomically.
    ///
    /// # Errors
    /// [`StoreError::Missing`] when the owner does not exist.
    async fn create(&self, post: &NewPost) -> Result<Post, StoreError>;

    /// The post with this id, whoever may see it.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn find(&self, id: PostId) -> Result<Option<Post>, StoreError>;

    /// The post with this id, with owner and vote count, whoever may see it.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn view(&self, id: PostId) -> Result<Option<PostView>, StoreError>;

    /// Posts visible to `query.viewer` ([`Post::is_visible_to`]) whose title matches
    /// `query.search` ([`Search::matches`]), newest first (ties: higher id first), sliced by
    /// `query.page`. MUST NOT aggregate the whole votes table per call.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    async fn list(&self, query: &PostQuery) -> Result<Vec<PostView>, StoreError>;

    /// Stores the replaced state of `post` and `events`, atomically.
    ///
    /// # Errors
    /// MUST return [`StoreError::Missing`] when the post no longer exists.
    async fn replace(&self, post: &Post, events: &[DomainEvent]) -> Result<(), StoreError>;

    /// Deletes the post (its votes go with it) and stores `events`, atomically.
    ///
    /// # Errors
    /// MUST return [`StoreError::Missing`] when the post no longer exists.
    async fn delete(&self, id: PostId, events: &[DomainEvent]) -> Result<(), StoreError>;
}
