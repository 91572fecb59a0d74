//! Posts: the feed, reading one, writing, replacing and deleting one's own.

use keel_domain::paging::{Page, Search};
use keel_domain::post::{NewPost, PostDraft, PostId};
use keel_domain::user::{User, UserId};
use keel_ports::{Author, Clock, PostQuery, PostView, Posts, StoreError};
use std::sync::Arc;

/// Why a post operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PostError {
    /// No post with this id is visible to the caller.
    #[error("post {0} does not exist")]
    NotFound(PostId),
    /// The caller does not own the post.
    #[error("Not authorized to perform requested action")]
    NotOwner(PostId),
    /// Storage failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for PostError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

fn author_of(user: &User) -> Author {
    Author {
        id: user.id,
        email: user.email.clone(),
        email_verified: user.email_verified,
        created_at: user.created_at,
    }
}

/// Reads a page of the feed (`GET /posts`).
#[derive(Clone)]
pub struct ListPosts {
    posts: Arc<dyn Posts>,
}

impl ListPosts {
    /// Wires the use case.
    pub fn new(posts: Arc<dyn Posts>) -> Self {
        Self { posts }
    }

    /// Posts visible to `viewer`, matching `search`, newest first.
    ///
    /// # Errors
    /// [`StoreError`] when the store fails.
    #[tracing::instrument(name = "use_case.list_posts", skip_all)]
    pub async fn execute(
        &self,
        viewer: UserId,
        search: Search,
        page: Page,
    ) -> Result<Vec<PostView>, StoreError> {
        self.posts
            .list(&PostQuery {
                viewer,
                search,
                page,
            })
            .await
    }
}

/// Reads one post (`GET /posts/{id}`).
#[derive(Clone)]
pub struct GetPost {
    posts: Arc<dyn Posts>,
}

impl GetPost {
    /// Wires the use case.
    pub fn new(posts: Arc<dyn Posts>) -> Self {
        Self { posts }
    }

    /// The post with owner and votes, if `viewer` may see it.
    ///
    /// # Errors
    /// [`PostError::NotFound`] when it does not exist or is someone else's draft.
    #[tracing::instrument(name = "use_case.get_post", skip_all)]
    pub async fn execute(&self, viewer: UserId, id: PostId) -> Result<PostView, PostError> {
        self.posts
            .view(id)
            .await?
            .filter(|view| view.post.is_visible_to(viewer))
            .ok_or(PostError::NotFound(id))
    }
}

/// Writes a post (`POST /posts`).
#[derive(Clone)]
pub struct CreatePost {
    posts: Arc<dyn Posts>,
    clock: Arc<dyn Clock>,
}

impl CreatePost {
    /// Wires the use case.
    pub fn new(posts: Arc<dyn Posts>, clock: Arc<dyn Clock>) -> Self {
        Self { posts, clock }
    }

    /// Stores the post (and its `post.created` event) for `author`.
    ///
    /// # Errors
    /// [`PostError::Store`] when the store fails.
    #[tracing::instrument(name = "use_case.create_post", skip_all)]
    pub async fn execute(&self, author: &User, draft: PostDraft) -> Result<PostView, PostError> {
        let new = NewPost {
            owner_id: author.id,
            draft,
            created_at: self.clock.now(),
        };
        let post = self.posts.create(&new).await?;
        tracing::info!(
            post_id = post.id.get(),
            user_id = author.id.get(),
            "post created"
        );
        Ok(PostView {
            post,
            owner: author_of(author),
            votes: 0,
        })
    }
}

/// Replaces one's own post (`PUT /posts/{id}`).
#[derive(Clone)]
pub struct UpdatePost {
    posts: Arc<dyn Posts>,
    clock: Arc<dyn Clock>,
}

impl UpdatePost {
    /// Wires the use case.
    pub fn new(posts: Arc<dyn Posts>, clock: Arc<dyn Clock>) -> Self {
        Self { posts, clock }
    }

    /// Replaces the post's editable state with `draft` (and stores `post.updated`).
    ///
    /// # Errors
    /// [`PostError::NotFound`] when it does not exist or is someone else's draft (also when it
    /// is deleted concurrently); [`PostError::NotOwner`] when someone else owns it.
    #[tracing::instrument(name = "use_case.update_post", skip_all)]
    pub async fn execute(
        &self,
        editor: &User,
        id: PostId,
        draft: PostDraft,
    ) -> Result<PostView, PostError> {
        let mut post = self
            .posts
            .find(id)
            .await?
            .filter(|post| post.is_visible_to(editor.id))
            .ok_or(PostError::NotFound(id))?;
        let events = post
            .replace(editor.id, draft, self.clock.now())
            .map_err(|_| PostError::NotOwner(id))?;
        match self.posts.replace(&post, &events).await {
            Ok(()) => Ok(PostView {
                post,
                owner: author_of(editor),
                votes: 0,
            }),
            Err(StoreError::Missing) => Err(PostError::NotFound(id)),
            Err(e) => Err(e.into()),
        }
    }
}

/// Deletes one's own post (`DELETE /posts/{id}`).
#[derive(Clone)]
pub struct DeletePost {
    posts: Arc<dyn Posts>,
}

impl DeletePost {
    /// Wires the use case.
    pub fn new(posts: Arc<dyn Posts>) -> Self {
        Self { posts }
    }

    /// Deletes the post (and stores `post.deleted`).
    ///
    /// # Errors
    /// [`PostError::NotFound`] when it does not exist or is someone else's draft;
    /// [`PostError::NotOwner`] when someone else owns it.
    #[tracing::instrument(name = "use_case.delete_post", skip_all)]
    pub async fn execute(&self, user: UserId, id: PostId) -> Result<(), PostError> {
        let post = self
            .posts
            .find(id)
            .await?
            .filter(|post| post.is_visible_to(user))
            .ok_or(PostError::NotFound(id))?;
        let events = post.delete(user).map_err(|_| PostError::NotOwner(id))?;
        match self.posts.delete(id, &events).await {
            Ok(()) => Ok(()),
            Err(StoreError::Missing) => Err(PostError::NotFound(id)),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use keel_domain::event::DomainEvent;
    use keel_ports::MockPosts;

    fn view(id: i64, owner: i64, published: bool) -> PostView {
        PostView {
            post: post(id, owner, published),
            owner: author(owner),
            votes: 3,
        }
    }

    #[tokio::test]
    async fn list_passes_the_viewer_search_and_page() {
        let mut posts = MockPosts::new();
        posts
            .expect_list()
            .withf(|q| {
                q.viewer == UserId::new(1)
                    && q.search.term() == Some("rust")
                    && q.page == Page::new(5, 10).expect("valid")
            })
            .returning(|_| Ok(vec![view(1, 1, true)]));
        let list = ListPosts::new(Arc::new(posts));
        let page = list
            .execute(
                UserId::new(1),
                Search::parse("rust").expect("valid"),
                Page::new(5, 10).expect("valid"),
            )
            .await
            .expect("listed");
        assert_eq!(page.len(), 1);
    }

    #[tokio::test]
    async fn drafts_are_hidden_from_other_readers() {
        let mut posts = MockPosts::new();
        posts
            .expect_view()
            .returning(|id| Ok(Some(view(id.get(), 2, false))));
        let get = GetPost::new(Arc::new(posts));
        assert!(get.execute(UserId::new(2), PostId::new(5)).await.is_ok());
        let err = get
            .execute(UserId::new(1), PostId::new(5))
            .await
            .expect_err("hidden");
        assert!(matches!(err, PostError::NotFound(id) if id == PostId::new(5)));
    }

    #[tokio::test]
    async fn a_missing_post_is_not_found() {
        let mut posts = MockPosts::new();
        posts.expect_view().returning(|_| Ok(None));
        let err = GetPost::new(Arc::new(posts))
            .execute(UserId::new(1), PostId::new(5))
            .await
            .expect_err("missing");
        assert!(matches!(err, PostError::NotFound(_)));
    }

    #[tokio::test]
    async fn create_stores_the_draft_for_its_author() {
        let mut posts = MockPosts::new();
        posts
            .expect_create()
            .withf(|new| {
                new.owner_id == UserId::new(1)
                    && new.created_at == now()
                    && new.draft.title.as_str() == "hello"
            })
            .returning(|new| {
                let mut p = post(9, new.owner_id.get(), new.draft.published);
                p.title = new.draft.title.clone();
                Ok(p)
            });
        let created = CreatePost::new(Arc::new(posts), fixed_clock())
            .execute(&user(1), draft("hello"))
            .await
            .expect("created");
        assert_eq!(
            (created.post.id, created.owner.id, created.votes),
            (PostId::new(9), UserId::new(1), 0)
        );
        assert_eq!(created.post.title.as_str(), "hello");
    }

    #[tokio::test]
    async fn create_reports_store_failures() {
        let mut posts = MockPosts::new();
        posts.expect_create().returning(|_| Err(unavailable()));
        let err = CreatePost::new(Arc::new(posts), fixed_clock())
            .execute(&user(1), draft("x"))
            .await
            .expect_err("down");
        assert!(matches!(err, PostError::Store(_)));
    }

    #[tokio::test]
    async fn the_owner_replaces_the_whole_post() {
        let mut posts = MockPosts::new();
        posts
            .expect_find()
            .returning(|id| Ok(Some(post(id.get(), 1, true))));
        posts
            .expect_replace()
            .withf(|p, events| {
                p.title.as_str() == "new"
                    && events
                        == [DomainEvent::PostUpdated {
                            post_id: PostId::new(4),
                            owner_id: UserId::new(1),
                        }]
            })
            .returning(|_, _| Ok(()));
        let updated = UpdatePost::new(Arc::new(posts), fixed_clock())
            .execute(&user(1), PostId::new(4), draft("new"))
            .await
            .expect("updated");
        assert_eq!(updated.post.title.as_str(), "new");
        assert_eq!(updated.owner.id, UserId::new(1));
    }

    #[tokio::test]
    async fn update_refuses_strangers_and_missing_posts() {
        let mut posts = MockPosts::new();
        posts.expect_find().returning(|id| match id.get() {
            1 => Ok(Some(post(1, 2, true))),
            2 => Ok(Some(post(2, 2, false))),
            _ => Ok(None),
        });
        let update = UpdatePost::new(Arc::new(posts), fixed_clock());
        let err = update
            .execute(&user(1), PostId::new(1), draft("x"))
            .await
            .expect_err("stranger");
        assert!(matches!(err, PostError::NotOwner(_)));
        let err = update
            .execute(&user(1), PostId::new(2), draft("x"))
            .await
            .expect_err("someone's draft");
        assert!(matches!(err, PostError::NotFound(_)));
        let err = update
            .execute(&user(1), PostId::new(3), draft("x"))
            .await
            .expect_err("missing");
        assert!(matches!(err, PostError::NotFound(_)));
    }

    #[tokio::test]
    async fn a_post_deleted_meanwhile_is_not_found() {
        let mut posts = MockPosts::new();
        posts
            .expect_find()
            .returning(|id| Ok(Some(post(id.get(), 1, true))));
        posts
            .expect_replace()
            .returning(|_, _| Err(StoreError::Missing));
        posts
            .expect_delete()
            .returning(|_, _| Err(StoreError::Missing));
        let posts = Arc::new(posts);
        let err = UpdatePost::new(posts.clone(), fixed_clock())
            .execute(&user(1), PostId::new(4), draft("x"))
            .await
            .expect_err("gone");
        assert!(matches!(err, PostError::NotFound(_)));
        let err = DeletePost::new(posts)
            .execute(UserId::new(1), PostId::new(4))
            .await
            .expect_err("gone");
        assert!(matches!(err, PostError::NotFound(_)));
    }

    #[tokio::test]
    async fn delete_checks_ownership_and_stores_the_event() {
        let mut posts = MockPosts::new();
        posts
            .expect_find()
            .returning(|id| Ok((id.get() != 3).then(|| post(id.get(), 1, true))));
        posts
            .expect_delete()
            .withf(|id, events| {
                *id == PostId::new(4)
                    && events
                        == [DomainEvent::PostDeleted {
                            post_id: PostId::new(4),
                            owner_id: UserId::new(1),
                        }]
            })
            .times(1)
            .returning(|_, _| Ok(()));
        let delete = DeletePost::new(Arc::new(posts));
        assert!(delete.execute(UserId::new(1), PostId::new(4)).await.is_ok());
        assert!(matches!(
            delete.execute(UserId::new(2), PostId::new(4)).await,
            Err(PostError::NotOwner(_))
        ));
        assert!(matches!(
            delete.execute(UserId::new(1), PostId::new(3)).await,
            Err(PostError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn store_failures_during_writes_surface() {
        let mut posts = MockPosts::new();
        posts
            .expect_find()
            .returning(|id| Ok(Some(post(id.get(), 1, true))));
        posts.expect_replace().returning(|_, _| Err(unavailable()));
        posts.expect_delete().returning(|_, _| Err(unavailable()));
        let posts = Arc::new(posts);
        let err = UpdatePost::new(posts.clone(), fixed_clock())
            .execute(&user(1), PostId::new(4), draft("x"))
            .await
            .expect_err("down");
        assert!(matches!(err, PostError::Store(_)));
        let err = DeletePost::new(posts)
            .execute(UserId::new(1), PostId::new(4))
            .await
            .expect_err("down");
        assert!(matches!(err, PostError::Store(_)));
    }
}
