//! [`Posts`] on SeaORM: posts, their read model, and the `post.*` events committed with each
//! change.
//!
//! Writes: on PostgreSQL each change and its events are one statement (a CTE, see
//! `outbox::postgres_write_with_events`); creations that arrive together share one such
//! statement (module `creations`: each new post's id is drawn by the statement and written
//! into its event's payload). On SQLite each write is a `BEGIN IMMEDIATE` transaction. Either
//! way the outbox's workers are woken after the commit.
//!
//! The read model ([`PostView`]) joins the owner's public columns (never the password hash)
//! and reads the maintained `posts.votes_count`, so no read aggregates the votes table. The
//! feed is served by the `posts_feed_visible_idx` index (`created_at DESC, id DESC`, carrying
//! `published` and `owner_id`): a page's ids come from the index alone, then only those rows
//! are read and joined with their owners.

use crate::creations::{Creation, CreationWriter, Creations};
use crate::entity::{post, user};
use crate::error::{store_error, unreadable};
use crate::lost_connection::once_more_if_lost;
use crate::transaction::{begin, finish_and_wake};
use crate::users::{returned_id, stored_email};
use crate::waker::Wakeup;
use crate::{instant, outbox};
use async_trait::async_trait;
use keel_domain::event::DomainEvent;
use keel_domain::paging::Search;
use keel_domain::post::{Content, NewPost, Post, PostId, Title};
use keel_domain::user::UserId;
use keel_ports::{Author, OutboxWaker, PostQuery, PostView, Posts, StoreError};
use sea_orm::sea_query::{BinOper, Expr, ExprTrait, Func, Order, Query, SelectStatement};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend,
    EntityTrait, FromQueryResult, JoinType, QueryFilter, QueryOrder, QuerySelect, RelationTrait,
    Select, Value,
};
use std::sync::Arc;
use time::OffsetDateTime;

/// Stored posts on a SeaORM connection (PostgreSQL or SQLite). Cheap to clone.
#[derive(Debug, Clone)]
pub struct SeaPosts {
    db: DatabaseConnection,
    wakeup: Wakeup,
    /// PostgreSQL's creations, written in batches.
    creations: Creations,
}

impl SeaPosts {
    /// Posts stored through `db`; `waker` is woken after each commit that recorded events.
    #[must_use]
    pub fn new(db: DatabaseConnection, waker: Arc<dyn OutboxWaker>) -> Self {
        let wakeup = Wakeup::new(waker);
        Self {
            creations: Creations::new(CreationWriter::new(db.clone(), wakeup.clone())),
            db,
            wakeup,
        }
    }
}

#[async_trait]
impl Posts for SeaPosts {
    #[tracing::instrument(name = "db.posts.create", skip_all, fields(otel.kind = "client"))]
    async fn create(&self, new: &NewPost) -> Result<Post, StoreError> {
        if self.db.get_database_backend() == DbBackend::Postgres {
            let id = self.creations.write(Creation::new(new.clone())).await?;
            return Ok(stored(new, id));
        }
        let txn = begin(&self.db).await?;
        let outcome = insert(&txn, new).await;
        finish_and_wake(txn, outcome, &self.wakeup).await
    }

    #[tracing::instrument(name = "db.posts.find", skip_all, fields(otel.kind = "client"))]
    async fn find(&self, id: PostId) -> Result<Option<Post>, StoreError> {
        once_more_if_lost(&self.db, || {
            post::Entity::find_by_id(id.get()).one(&self.db)
        })
        .await
        .map_err(store_error)?
        .map(to_domain)
        .transpose()
    }

    #[tracing::instrument(name = "db.posts.view", skip_all, fields(otel.kind = "client"))]
    async fn view(&self, id: PostId) -> Result<Option<PostView>, StoreError> {
        once_more_if_lost(&self.db, || {
            views()
                .filter(post::Column::Id.eq(id.get()))
                .into_model::<ViewRow>()
                .one(&self.db)
        })
        .await
        .map_err(store_error)?
        .map(ViewRow::into_view)
        .transpose()
    }

    #[tracing::instrument(name = "db.posts.list", skip_all, fields(otel.kind = "client"))]
    async fn list(&self, query: &PostQuery) -> Result<Vec<PostView>, StoreError> {
        // Two steps in one statement: the page's ids from the feed index alone (it carries the
        // visibility columns, so skipped posts cost no heap fetch and no owner join), then
        // those posts with their owners.
        once_more_if_lost(&self.db, || {
            views()
                .filter(post::Column::Id.in_subquery(page_ids(query)))
                .order_by_desc(post::Column::CreatedAt)
                .order_by_desc(post::Column::Id)
                .into_model::<ViewRow>()
                .all(&self.db)
        })
        .await
        .map_err(store_error)?
        .into_iter()
        .map(ViewRow::into_view)
        .collect()
    }

    #[tracing::instrument(name = "db.posts.replace", skip_all, fields(otel.kind = "client"))]
    async fn replace(&self, post: &Post, events: &[DomainEvent]) -> Result<(), StoreError> {
        if self.db.get_database_backend() == DbBackend::Postgres {
            let values: Vec<Value> = vec![
                post.title.as_str().into(),
                post.content.as_str().into(),
                post.published.into(),
                instant::value(DbBackend::Postgres, post.updated_at),
                post.id.get().into(),
            ];
            let write = "UPDATE posts SET title = $1, content = $2, published = $3, \
                         updated_at = $4 WHERE id = $5 RETURNING id";
            return self.postgres_write(write, values, events).await;
        }
        let txn = begin(&self.db).await?;
        let outcome = update(&txn, post, events).await;
        finish_and_wake(txn, outcome, &self.wakeup).await
    }

    #[tracing::instrument(name = "db.posts.delete", skip_all, fields(otel.kind = "client"))]
    async fn delete(&self, id: PostId, events: &[DomainEvent]) -> Result<(), StoreError> {
        if self.db.get_database_backend() == DbBackend::Postgres {
            // Votes go with the post (`ON DELETE CASCADE`).
            let write = "DELETE FROM posts WHERE id = $1 RETURNING id";
            return self
                .postgres_write(write, vec![id.get().into()], events)
                .await;
        }
        let txn = begin(&self.db).await?;
        let outcome = remove(&txn, id, events).await;
        finish_and_wake(txn, outcome, &self.wakeup).await
    }
}

impl SeaPosts {
    /// PostgreSQL: a change of one post and its events in one statement
    /// ([`outbox::postgres_write_with_events`]); [`StoreError::Missing`] when no post changed.
    async fn postgres_write(
        &self,
        write: &str,
        values: Vec<Value>,
        events: &[DomainEvent],
    ) -> Result<(), StoreError> {
        let changed =
            outbox::postgres_write_with_events(&self.db, write, values, events, instant::now())
                .await?;
        if !changed {
            return Err(StoreError::Missing);
        }
        if !events.is_empty() {
            self.wakeup.wake();
        }
        Ok(())
    }
}

async fn insert(txn: &DatabaseTransaction, new: &NewPost) -> Result<Post, StoreError> {
    let backend = txn.get_database_backend();
    let row: [Expr; 6] = [
        new.draft.title.as_str().into(),
        new.draft.content.as_str().into(),
        new.draft.published.into(),
        instant::value(backend, new.created_at).into(),
        instant::value(backend, new.created_at).into(),
        new.owner_id.get().into(),
    ];
    let mut insert = Query::insert();
    insert
        .into_table(post::Entity)
        .columns([
            post::Column::Title,
            post::Column::Content,
            post::Column::Published,
            post::Column::CreatedAt,
            post::Column::UpdatedAt,
            post::Column::OwnerId,
        ])
        .values(row)
        .map_err(|err| unreadable(format!("posts insert: {err}")))?
        .returning_col(post::Column::Id);
    // A missing owner fails the foreign key: `StoreError::Missing`.
    let id = PostId::new(returned_id(txn, &insert).await?);
    outbox::append(txn, &new.events(id), instant::now()).await?;
    Ok(stored(new, id))
}

/// `new` as stored under `id`.
fn stored(new: &NewPost, id: PostId) -> Post {
    Post {
        id,
        owner_id: new.owner_id,
        title: new.draft.title.clone(),
        content: new.draft.content.clone(),
        published: new.draft.published,
        created_at: new.created_at,
        updated_at: new.created_at,
    }
}

async fn update(
    txn: &DatabaseTransaction,
    post: &Post,
    events: &[DomainEvent],
) -> Result<(), StoreError> {
    let backend = txn.get_database_backend();
    let mut update = Query::update();
    update
        .table(post::Entity)
        .value(post::Column::Title, post.title.as_str())
        .value(post::Column::Content, post.content.as_str())
        .value(post::Column::Published, post.published)
        .value(
            post::Column::UpdatedAt,
            instant::value(backend, post.updated_at),
        )
        .and_where(post::Column::Id.eq(post.id.get()));
    let updated = txn.execute(&update).await.map_err(store_error)?;
    if updated.rows_affected() == 0 {
        return Err(StoreError::Missing);
    }
    outbox::append(txn, events, instant::now()).await
}

async fn remove(
    txn: &DatabaseTransaction,
    id: PostId,
    events: &[DomainEvent],
) -> Result<(), StoreError> {
    // Votes go with the post (`ON DELETE CASCADE`).
    let deleted = post::Entity::delete_by_id(id.get())
        .exec(txn)
        .await
        .map_err(store_error)?;
    if deleted.rows_affected == 0 {
        return Err(StoreError::Missing);
    }
    outbox::append(txn, events, instant::now()).await
}

/// The ids of the posts on the page `query` asks for: visible to the viewer (published, or
/// their own), matching the search if any, newest first, `skip` then `limit`.
fn page_ids(query: &PostQuery) -> SelectStatement {
    let visible = Condition::any()
        .add(post::Column::Published.eq(true))
        .add(post::Column::OwnerId.eq(query.viewer.get()));
    let mut filter = Condition::all().add(visible);
    if let Some(matches) = title_matches(&query.search) {
        filter = filter.add(matches);
    }
    let mut ids = Query::select();
    ids.column((post::Entity, post::Column::Id))
        .from(post::Entity)
        .cond_where(filter)
        .order_by((post::Entity, post::Column::CreatedAt), Order::Desc)
        .order_by((post::Entity, post::Column::Id), Order::Desc)
        .limit(query.page.limit().unsigned_abs())
        .offset(query.page.skip().unsigned_abs());
    ids
}

/// Posts joined with their owner's public columns.
fn views() -> Select<post::Entity> {
    post::Entity::find()
        .select_only()
        .columns([
            post::Column::Id,
            post::Column::Title,
            post::Column::Content,
            post::Column::Published,
            post::Column::CreatedAt,
            post::Column::UpdatedAt,
            post::Column::OwnerId,
            post::Column::VotesCount,
        ])
        .column_as(user::Column::Email, "owner_email")
        .column_as(user::Column::EmailVerified, "owner_email_verified")
        .column_as(user::Column::CreatedAt, "owner_created_at")
        .join(JoinType::InnerJoin, post::Relation::Owner.def())
}

/// `LOWER(posts.title) LIKE LOWER(?) ESCAPE '\'` with the term's `\`, `%` and `_` escaped, so
/// the term matches as a literal substring whatever it contains ([`Search::matches`]).
fn title_matches(search: &Search) -> Option<Expr> {
    let term = search.term()?;
    let pattern = format!("%{}%", escape_like(term));
    let lowered_pattern = Expr::Binary(
        Box::new(Func::lower(Expr::val(pattern)).into()),
        BinOper::Escape,
        Box::new(Expr::Constant('\\'.into())),
    );
    Some(
        Expr::expr(Func::lower(Expr::col((post::Entity, post::Column::Title))))
            .binary(BinOper::Like, lowered_pattern),
    )
}

/// Escapes the LIKE metacharacters of `term` with `\`.
fn escape_like(term: &str) -> String {
    let mut escaped = String::with_capacity(term.len() + 4);
    for c in term.chars() {
        if matches!(c, '\\' | '%' | '_') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// One row of [`views`].
#[derive(Debug, FromQueryResult)]
struct ViewRow {
    id: i64,
    title: String,
    content: String,
    published: bool,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    owner_id: i64,
    votes_count: i64,
    owner_email: String,
    owner_email_verified: bool,
    owner_created_at: OffsetDateTime,
}

impl ViewRow {
    fn into_view(self) -> Result<PostView, StoreError> {
        let owner = Author {
            id: UserId::new(self.owner_id),
            email: stored_email(self.owner_id, &self.owner_email)?,
            email_verified: self.owner_email_verified,
            created_at: instant::read(self.owner_created_at),
        };
        let post = to_domain(post::Model {
            id: self.id,
            title: self.title,
            content: self.content,
            published: self.published,
            created_at: self.created_at,
            updated_at: self.updated_at,
            owner_id: self.owner_id,
            votes_count: self.votes_count,
        })?;
        Ok(PostView {
            post,
            owner,
            votes: self.votes_count,
        })
    }
}

fn to_domain(row: post::Model) -> Result<Post, StoreError> {
    let id = row.id;
    Ok(Post {
        id: PostId::new(id),
        owner_id: UserId::new(row.owner_id),
        title: Title::parse(&row.title)
            .map_err(|err| unreadable(format!("posts.title of post {id}: {err}")))?,
        content: Content::parse(&row.content)
            .map_err(|err| unreadable(format!("posts.content of post {id}: {err}")))?,
        published: row.published,
        created_at: instant::read(row.created_at),
        updated_at: instant::read(row.updated_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::DbBackend;
    use sea_orm::QueryTrait;

    #[test]
    fn like_metacharacters_are_escaped() {
        assert_eq!(escape_like(r"50%_off\now"), r"50\%\_off\\now");
        assert_eq!(escape_like("plain"), "plain");
    }

    #[test]
    fn search_compiles_to_lower_like_with_escape_on_both_backends() {
        let search = Search::parse("A_b").expect("valid");
        let matches = title_matches(&search).expect("a term");
        let select = views().filter(matches);
        let postgres = select.build(DbBackend::Postgres);
        assert!(
            postgres
                .sql
                .contains(r#"LOWER("posts"."title") LIKE LOWER($1) ESCAPE "#),
            "{}",
            postgres.sql
        );
        let sqlite = views()
            .filter(title_matches(&search).expect("a term"))
            .build(DbBackend::Sqlite);
        assert!(
            sqlite
                .sql
                .contains(r#"LOWER("posts"."title") LIKE LOWER(?) ESCAPE '\'"#),
            "{}",
            sqlite.sql
        );
        // The read model never loads password hashes and never aggregates the votes table.
        assert!(!sqlite.sql.contains("password_hash"));
        assert!(!sqlite.sql.contains(r#""votes""#), "{}", sqlite.sql);
        assert!(
            sqlite.sql.contains(r#""posts"."votes_count""#),
            "{}",
            sqlite.sql
        );
        assert!(title_matches(&Search::default()).is_none());
    }

    #[test]
    fn the_list_picks_the_page_ids_first_then_joins_only_those() {
        let query = PostQuery {
            viewer: UserId::new(3),
            page: keel_domain::paging::Page::new(10, 190).expect("a valid page"),
            search: Search::parse("rust").expect("valid"),
        };
        let sql = views()
            .filter(post::Column::Id.in_subquery(page_ids(&query)))
            .build(DbBackend::Postgres)
            .sql;
        let (outer, inner) = sql.split_once(" IN (SELECT ").expect("an id subquery");
        // The join with the owners is outside the subquery: skipped rows are never joined.
        assert!(outer.contains(r#"INNER JOIN "users""#), "{sql}");
        assert!(!inner.contains(r#""users""#), "{sql}");
        // The page (visibility, search, order, limit, offset) is chosen inside it.
        for part in [
            r#""posts"."published" = $1 OR "posts"."owner_id" = $2"#,
            "LIKE LOWER($3)",
            r#"ORDER BY "posts"."created_at" DESC, "posts"."id" DESC LIMIT $4 OFFSET $5"#,
        ] {
            assert!(inner.contains(part), "{part} in {sql}");
        }
    }
}
