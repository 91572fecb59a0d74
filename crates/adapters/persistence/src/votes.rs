//! [`Votes`] on SeaORM: one row per (user, post), with `posts.votes_count` changed in the same
//! transaction as the row, and the `vote.*` events committed alongside.
//!
//! The primary key `(user_id, post_id)` decides races: of concurrent identical votes exactly
//! one insert succeeds and the others fail the key ([`StoreError::Conflict`]), so the count
//! always equals the number of rows (`keel_domain::vote::Ballot` is the model).

use crate::entity::{post, vote};
use crate::error::{store_error, unreadable};
use crate::lost_connection::once_more_if_lost;
use crate::transaction::{begin, finish};
use crate::{instant, outbox};
use async_trait::async_trait;
use keel_domain::event::DomainEvent;
use keel_domain::post::PostId;
use keel_domain::user::UserId;
use keel_ports::{StoreError, Votes};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait};

/// Stored votes on a SeaORM connection (PostgreSQL or SQLite). Cheap to clone.
#[derive(Debug, Clone)]
pub struct SeaVotes {
    db: DatabaseConnection,
}

impl SeaVotes {
    /// Votes stored through `db`.
    #[must_use]
    pub fn new(db: DatabaseConnection) -> Self {
        Self { db }
    }
}

#[async_trait]
impl Votes for SeaVotes {
    #[tracing::instrument(name = "db.votes.exists", skip_all, fields(otel.kind = "client"))]
    async fn exists(&self, user: UserId, post: PostId) -> Result<bool, StoreError> {
        let found = once_more_if_lost(&self.db, || {
            vote::Entity::find_by_id((user.get(), post.get())).one(&self.db)
        })
        .await
        .map_err(store_error)?;
        Ok(found.is_some())
    }

    #[tracing::instrument(name = "db.votes.add", skip_all, fields(otel.kind = "client"))]
    async fn add(
        &self,
        user: UserId,
        post: PostId,
        events: &[DomainEvent],
    ) -> Result<(), StoreError> {
        let txn = begin(&self.db).await?;
        let outcome = insert(&txn, user, post, events).await;
        finish(txn, outcome).await
    }

    #[tracing::instrument(name = "db.votes.remove", skip_all, fields(otel.kind = "client"))]
    async fn remove(
        &self,
        user: UserId,
        post: PostId,
        events: &[DomainEvent],
    ) -> Result<(), StoreError> {
        let txn = begin(&self.db).await?;
        let outcome = delete(&txn, user, post, events).await;
        finish(txn, outcome).await
    }
}

async fn insert(
    txn: &DatabaseTransaction,
    user: UserId,
    post: PostId,
    events: &[DomainEvent],
) -> Result<(), StoreError> {
    let backend = txn.get_database_backend();
    let now = instant::now();
    let row: [Expr; 3] = [
        user.get().into(),
        post.get().into(),
        instant::value(backend, now).into(),
    ];
    let mut insert = Query::insert();
    insert
        .into_table(vote::Entity)
        .columns([
            vote::Column::UserId,
            vote::Column::PostId,
            vote::Column::CreatedAt,
        ])
        .values(row)
        .map_err(|err| unreadable(format!("votes insert: {err}")))?;
    // An existing vote fails the primary key (Conflict); a vanished post or user fails a
    // foreign key (Missing).
    txn.execute(&insert).await.map_err(store_error)?;
    change_count(txn, post, 1).await?;
    outbox::append(txn, events, now).await
}

async fn delete(
    txn: &DatabaseTransaction,
    user: UserId,
    post: PostId,
    events: &[DomainEvent],
) -> Result<(), StoreError> {
    let deleted = vote::Entity::delete_by_id((user.get(), post.get()))
        .exec(txn)
        .await
        .map_err(store_error)?;
    if deleted.rows_affected == 0 {
        return Err(StoreError::Missing);
    }
    change_count(txn, post, -1).await?;
    outbox::append(txn, events, instant::now()).await
}

/// Moves the post's maintained count by `delta`; [`StoreError::Missing`] when the post is gone.
async fn change_count(
    txn: &DatabaseTransaction,
    post: PostId,
    delta: i64,
) -> Result<(), StoreError> {
    let mut update = Query::update();
    update
        .table(post::Entity)
        .value(
            post::Column::VotesCount,
            Expr::col(post::Column::VotesCount).add(delta),
        )
        .and_where(post::Column::Id.eq(post.get()));
    let updated = txn.execute(&update).await.map_err(store_error)?;
    if updated.rows_affected() == 0 {
        return Err(StoreError::Missing);
    }
    Ok(())
}
