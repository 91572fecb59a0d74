//! [`Votes`] on SeaORM: one row per (user, post), with `posts.votes_count` changed in the same
//! transaction as the row, and the `vote.*` events committed alongside.
//!
//! A vote is one atomic step that checks the post's visibility, makes the change only when the
//! vote's existence allows it ([`VoteChange::needs_existing_vote`]), moves the counter and
//! records the events:
//! - **PostgreSQL**: one statement (one round trip, no explicit transaction): a CTE selects the
//!   visible post, inserts the vote with `ON CONFLICT DO NOTHING` (or deletes it), moves the
//!   counter of the post whose vote changed and inserts the outbox rows for that change, then
//!   reports whether the post was visible and whether the vote changed. Sub-statements of one
//!   statement share a snapshot and commit together.
//! - **SQLite** (no data-modifying CTEs): the same steps as separate statements in one
//!   `BEGIN IMMEDIATE` transaction (SQLite has one writer at a time; its round trips are
//!   in-process calls).
//!
//! The primary key `(user_id, post_id)` decides races: of concurrent identical adds exactly one
//! inserts and the others find the vote (the insert does nothing on the key), of concurrent
//! removals one deletes and the others find none, so the count always equals the number of rows
//! (`keel_domain::vote::Ballot` is the model). A post deleted during the vote fails the vote's
//! foreign key ([`StoreError::Missing`]) and nothing is written.

use crate::entity::{post, vote};
use crate::error::{store_error, unreadable};
use crate::transaction::{begin, finish};
use crate::waker::Wakeup;
use crate::{instant, outbox};
use async_trait::async_trait;
use keel_domain::Timestamp;
use keel_domain::event::DomainEvent;
use keel_domain::post::PostId;
use keel_domain::user::UserId;
use keel_domain::vote::VoteChange;
use keel_ports::{OutboxWaker, StoreError, VoteCast, Votes};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend,
    EntityTrait, QueryFilter, Statement, Value,
};
use std::sync::Arc;

/// Stored votes on a SeaORM connection (PostgreSQL or SQLite). Cheap to clone.
#[derive(Debug, Clone)]
pub struct SeaVotes {
    db: DatabaseConnection,
    wakeup: Wakeup,
}

impl SeaVotes {
    /// Votes stored through `db`; `waker` is woken after each vote that committed events.
    #[must_use]
    pub fn new(db: DatabaseConnection, waker: Arc<dyn OutboxWaker>) -> Self {
        Self {
            db,
            wakeup: Wakeup::new(waker),
        }
    }
}

#[async_trait]
impl Votes for SeaVotes {
    #[tracing::instrument(name = "db.votes.cast", skip_all, fields(otel.kind = "client"))]
    async fn cast(
        &self,
        user: UserId,
        post: PostId,
        change: VoteChange,
        events: &[DomainEvent],
    ) -> Result<VoteCast, StoreError> {
        let (cast, wrote) = match self.db.get_database_backend() {
            DbBackend::Postgres => {
                let statement = postgres_cast(user, post, change, events, instant::now())?;
                let row = self
                    .db
                    .query_one_raw(statement)
                    .await
                    .map_err(store_error)?
                    .ok_or_else(|| unreadable("the vote statement returned no row"))?;
                let visible: bool = row.try_get("", "visible").map_err(store_error)?;
                let changed: bool = row.try_get("", "changed").map_err(store_error)?;
                finding(change, visible, changed)
            }
            _ => {
                let txn = begin(&self.db).await?;
                let outcome = sqlite_cast(&txn, user, post, change, events).await;
                finish(txn, outcome).await?
            }
        };
        if wrote && !events.is_empty() {
            self.wakeup.wake();
        }
        Ok(cast)
    }
}

/// What the store found (`visible`: the post is visible to the voter; `changed`: the vote was
/// inserted or deleted), and whether anything was written.
fn finding(change: VoteChange, visible: bool, changed: bool) -> (VoteCast, bool) {
    if !visible {
        return (VoteCast::PostNotVisible, false);
    }
    // The change happened exactly when the vote's existence allowed it; when it did not, the
    // vote's existence was the opposite of what the change needed.
    let needed = change.needs_existing_vote();
    let already_voted = if changed { needed } else { !needed };
    (VoteCast::Found { already_voted }, changed)
}

/// The one PostgreSQL statement of a vote (see the module docs). Parameters: `$1` post, `$2`
/// voter, `$3` now, then key, topic and payload of each event.
fn postgres_cast(
    user: UserId,
    post: PostId,
    change: VoteChange,
    events: &[DomainEvent],
    now: Timestamp,
) -> Result<Statement, StoreError> {
    let mut values: Vec<Value> = vec![
        post.get().into(),
        user.get().into(),
        instant::value(DbBackend::Postgres, now),
    ];
    let (write, delta) = match change {
        VoteChange::Add => (
            "INSERT INTO votes (user_id, post_id, created_at) SELECT $2, id, $3 FROM target \
             ON CONFLICT (user_id, post_id) DO NOTHING RETURNING post_id",
            "+ 1",
        ),
        VoteChange::Remove => (
            "DELETE FROM votes WHERE user_id = $2 AND post_id IN (SELECT id FROM target) \
             RETURNING post_id",
            "- 1",
        ),
    };
    let mut sql = format!(
        "WITH target AS (SELECT id FROM posts WHERE id = $1 AND (published OR owner_id = $2)), \
         changed AS ({write}), \
         counted AS (UPDATE posts SET votes_count = votes_count {delta} \
             WHERE id IN (SELECT post_id FROM changed) RETURNING id)"
    );
    if !events.is_empty() {
        let rows = outbox::postgres_event_rows(&mut values, events)?;
        sql.push_str(&format!(
            ", recorded AS (INSERT INTO outbox_events \
                 (event_key, topic, payload, status, attempts, created_at, available_at) \
             SELECT e.event_key, e.topic, e.payload, '{pending}', 0, $3, $3 \
             FROM counted CROSS JOIN (VALUES {rows}) AS e (event_key, topic, payload))",
            pending = outbox::PENDING,
        ));
    }
    sql.push_str(
        " SELECT EXISTS (SELECT 1 FROM target) AS visible, \
         EXISTS (SELECT 1 FROM changed) AS changed",
    );
    Ok(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
}

/// The vote's steps on SQLite, inside `txn` (`BEGIN IMMEDIATE`); returns the finding and
/// whether anything was written.
async fn sqlite_cast(
    txn: &DatabaseTransaction,
    user: UserId,
    post: PostId,
    change: VoteChange,
    events: &[DomainEvent],
) -> Result<(VoteCast, bool), StoreError> {
    let backend = txn.get_database_backend();
    // `Post::is_visible_to`: published, or the voter's own.
    let visible = post::Entity::find_by_id(post.get())
        .filter(
            Condition::any()
                .add(post::Column::Published.eq(true))
                .add(post::Column::OwnerId.eq(user.get())),
        )
        .one(txn)
        .await
        .map_err(store_error)?
        .is_some();
    if !visible {
        return Ok(finding(change, false, false));
    }
    let now = instant::now();
    let changed = match change {
        VoteChange::Add => {
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
                .map_err(|err| unreadable(format!("votes insert: {err}")))?
                .on_conflict(
                    OnConflict::columns([vote::Column::UserId, vote::Column::PostId])
                        .do_nothing()
                        .to_owned(),
                );
            txn.execute(&insert)
                .await
                .map_err(store_error)?
                .rows_affected()
        }
        VoteChange::Remove => {
            vote::Entity::delete_by_id((user.get(), post.get()))
                .exec(txn)
                .await
                .map_err(store_error)?
                .rows_affected
        }
    } > 0;
    if changed {
        let delta = match change {
            VoteChange::Add => 1,
            VoteChange::Remove => -1,
        };
        change_count(txn, post, delta).await?;
        outbox::append(txn, events, now).await?;
    }
    Ok(finding(change, true, changed))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_finding_follows_what_the_statement_saw() {
        use VoteChange::{Add, Remove};
        assert_eq!(
            finding(Add, false, false),
            (VoteCast::PostNotVisible, false)
        );
        assert_eq!(
            finding(Add, true, true),
            (
                VoteCast::Found {
                    already_voted: false
                },
                true
            )
        );
        assert_eq!(
            finding(Add, true, false),
            (
                VoteCast::Found {
                    already_voted: true
                },
                false
            )
        );
        assert_eq!(
            finding(Remove, true, true),
            (
                VoteCast::Found {
                    already_voted: true
                },
                true
            )
        );
        assert_eq!(
            finding(Remove, true, false),
            (
                VoteCast::Found {
                    already_voted: false
                },
                false
            )
        );
    }

    #[test]
    fn the_postgres_vote_is_one_statement_with_its_events() {
        let event = DomainEvent::VoteCreated {
            post_id: PostId::new(7),
            user_id: UserId::new(3),
        };
        let now = instant::now();
        let statement = postgres_cast(
            UserId::new(3),
            PostId::new(7),
            VoteChange::Add,
            &[event],
            now,
        )
        .expect("built");
        let sql = &statement.sql;
        for part in [
            "WITH target AS (SELECT id FROM posts WHERE id = $1 AND (published OR owner_id = $2))",
            "ON CONFLICT (user_id, post_id) DO NOTHING",
            "votes_count = votes_count + 1 WHERE id IN (SELECT post_id FROM changed)",
            "FROM counted CROSS JOIN (VALUES ($4::uuid, $5::text, $6::jsonb))",
        ] {
            assert!(sql.contains(part), "{part} in {sql}");
        }
        let values = statement.values.expect("parameters").0;
        assert_eq!(values.len(), 6);
        assert_eq!(values[4], Value::from("vote.created"));

        let removal = postgres_cast(UserId::new(3), PostId::new(7), VoteChange::Remove, &[], now)
            .expect("built");
        assert!(removal.sql.contains("DELETE FROM votes WHERE user_id = $2"));
        assert!(removal.sql.contains("votes_count - 1"));
        assert!(!removal.sql.contains("outbox_events"), "no events, no rows");
    }
}
