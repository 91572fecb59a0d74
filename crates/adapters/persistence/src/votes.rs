//! [`Votes`] on SeaORM: one row per (user, post), with `posts.votes_count` changed in the same
//! transaction as the row, and the `vote.*` events committed alongside.
//!
//! A vote is one atomic step that checks the post's visibility, makes the change only when the
//! vote's existence allows it ([`VoteChange::needs_existing_vote`]), moves the counter and
//! records the events:
//! - **PostgreSQL**: one statement (one round trip, no explicit transaction) for all the votes
//!   that arrive together ([`crate::batch`]; a batch holds at most one vote per (user, post)
//!   pair): a CTE locks the voted posts in id order, keeps each vote whose post is visible to
//!   its voter, inserts the added votes with `ON CONFLICT DO NOTHING` and deletes the removed
//!   ones, moves each post's counter by the sum of its changes and inserts the outbox rows of
//!   the votes that changed, then reports for each vote whether its post was visible and
//!   whether it changed. Sub-statements of one statement share a snapshot and commit together.
//!   Every batch locks its posts in the same order before writing any vote, so that two
//!   batches sharing posts take turns on them rather than deadlock. (That is the design's
//!   reasoning; a test racing batches over overlapping posts in opposite orders saw no
//!   deadlock with the lock removed either, so its need is not shown by a test.) A batch the database
//!   refuses as a whole (a foreign key: a post or voter deleted meanwhile) is cast again one
//!   vote at a time, so that only the refused vote fails.
//! - **SQLite** (no data-modifying CTEs): the same steps as separate statements in one
//!   `BEGIN IMMEDIATE` transaction (SQLite has one writer at a time; its round trips are
//!   in-process calls).
//!
//! The primary key `(user_id, post_id)` decides races: of concurrent identical adds exactly one
//! inserts and the others find the vote (the insert does nothing on the key), of concurrent
//! removals one deletes and the others find none, so the count always equals the number of rows
//! (`keel_domain::vote::Ballot` is the model). A post deleted during the vote fails the vote's
//! foreign key ([`StoreError::Missing`]) and nothing is written; on PostgreSQL a post deleted
//! before the batch locked it is simply not found (not visible).

use crate::batch::{BatchWrite, Batcher};
use crate::entity::{post, vote};
use crate::error::{is_refused_row, store_error, unreadable};
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
    DbErr, EntityTrait, QueryFilter, Statement,
};
use std::sync::Arc;

/// Stored votes on a SeaORM connection (PostgreSQL or SQLite). Cheap to clone.
#[derive(Debug, Clone)]
pub struct SeaVotes {
    db: DatabaseConnection,
    wakeup: Wakeup,
    /// PostgreSQL's votes, cast in batches.
    casts: Batcher<CastWriter>,
}

impl SeaVotes {
    /// Votes stored through `db`; `waker` is woken after each vote that committed events.
    #[must_use]
    pub fn new(db: DatabaseConnection, waker: Arc<dyn OutboxWaker>) -> Self {
        let wakeup = Wakeup::new(waker);
        Self {
            casts: Batcher::new(CastWriter {
                db: db.clone(),
                wakeup: wakeup.clone(),
            }),
            db,
            wakeup,
        }
    }
}

/// One vote to cast on PostgreSQL.
#[derive(Debug, Clone)]
struct Cast {
    user: UserId,
    post: PostId,
    change: VoteChange,
    events: Vec<DomainEvent>,
}

/// Casts batches of votes on one pool.
struct CastWriter {
    db: DatabaseConnection,
    wakeup: Wakeup,
}

impl BatchWrite for CastWriter {
    type Item = Cast;
    type Output = VoteCast;
    const SPAN: &'static str = "db.votes.cast_batch";

    /// One vote per (user, post) pair in a batch: the sub-statements of one statement do not
    /// see each other's changes, so a second vote on the pair waits for the next batch.
    fn fits(&self, batch: &[&Cast], cast: &Cast) -> bool {
        !batch
            .iter()
            .any(|other| other.user == cast.user && other.post == cast.post)
    }

    /// Casts `casts` as one batch, or one by one when the batch was refused; wakes the
    /// outbox's workers when any recorded events.
    async fn write(&self, casts: &[Cast]) -> Vec<Result<VoteCast, StoreError>> {
        let outcome = match postgres_cast_all(&self.db, casts, instant::now()).await {
            Err(err) if casts.len() > 1 && is_refused_row(&err) => {
                let mut outcomes = Vec::with_capacity(casts.len());
                for cast in casts {
                    let alone =
                        postgres_cast_all(&self.db, std::slice::from_ref(cast), instant::now());
                    outcomes.push(alone.await.map(|mut found| found.remove(0)));
                }
                outcomes
            }
            Err(err) => casts.iter().map(|_| Err(err.clone())).collect(),
            Ok(found) => found.into_iter().map(Ok).collect(),
        };
        let recorded = outcome
            .iter()
            .zip(casts)
            .any(|(outcome, cast)| matches!(outcome, Ok((_, true))) && !cast.events.is_empty());
        if recorded {
            self.wakeup.wake();
        }
        outcome
            .into_iter()
            .map(|found| found.map(|(cast, _)| cast).map_err(store_error))
            .collect()
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
        if self.db.get_database_backend() == DbBackend::Postgres {
            let cast = Cast {
                user,
                post,
                change,
                events: events.to_vec(),
            };
            return self.casts.write(cast).await;
        }
        let txn = begin(&self.db).await?;
        let outcome = sqlite_cast(&txn, user, post, change, events).await;
        let (cast, wrote) = finish(txn, outcome).await?;
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

/// Casts `casts` (at most one per (user, post) pair) with one PostgreSQL statement
/// ([`postgres_cast_statement`]); returns each one's finding and whether it wrote, in order.
async fn postgres_cast_all(
    db: &DatabaseConnection,
    casts: &[Cast],
    now: Timestamp,
) -> Result<Vec<(VoteCast, bool)>, DbErr> {
    let statement =
        postgres_cast_statement(casts, now).map_err(|err| DbErr::Custom(err.to_string()))?;
    let rows = db.query_all_raw(statement).await?;
    let mut found = vec![None; casts.len()];
    for row in rows {
        let ord = row.try_get::<i64>("", "ord")?;
        let visible = row.try_get::<bool>("", "visible")?;
        let changed = row.try_get::<bool>("", "changed")?;
        let (slot, cast) = usize::try_from(ord)
            .ok()
            .and_then(|ord| Some((found.get_mut(ord)?, casts.get(ord)?)))
            .ok_or_else(|| DbErr::Custom(format!("a vote's row names batch entry {ord}")))?;
        *slot = Some(finding(cast.change, visible, changed));
    }
    found
        .into_iter()
        .enumerate()
        .map(|(ord, found)| {
            found.ok_or_else(|| DbErr::Custom(format!("no finding for batch entry {ord}")))
        })
        .collect()
}

/// The PostgreSQL statement of a batch of votes (see the module docs): `$1` the votes as JSON
/// (`ord`, `user_id`, `post_id`, `adds`, `events`: each event's `key`, `topic` and `payload`),
/// `$2` now. Returns one row per vote: `ord`, `visible`, `changed`.
fn postgres_cast_statement(casts: &[Cast], now: Timestamp) -> Result<Statement, StoreError> {
    let mut rows = Vec::with_capacity(casts.len());
    for (ord, cast) in casts.iter().enumerate() {
        rows.push(serde_json::json!({
            "ord": ord,
            "user_id": cast.user.get(),
            "post_id": cast.post.get(),
            "adds": matches!(cast.change, VoteChange::Add),
            "events": outbox::postgres_events_json(&cast.events)?,
        }));
    }
    let sql = format!(
        "WITH input AS (SELECT * FROM jsonb_to_recordset($1::jsonb) \
             AS i (ord bigint, user_id bigint, post_id bigint, adds boolean, events jsonb)), \
         locked AS (SELECT id, published, owner_id FROM posts \
             WHERE id IN (SELECT post_id FROM input) ORDER BY id FOR UPDATE), \
         target AS (SELECT i.ord, i.user_id, i.post_id, i.adds FROM input AS i \
             JOIN locked AS p ON p.id = i.post_id AND (p.published OR p.owner_id = i.user_id)), \
         added AS (INSERT INTO votes (user_id, post_id, created_at) \
             SELECT user_id, post_id, $2 FROM target WHERE adds \
             ON CONFLICT (user_id, post_id) DO NOTHING RETURNING user_id, post_id), \
         removed AS (DELETE FROM votes AS v USING target AS t \
             WHERE NOT t.adds AND v.user_id = t.user_id AND v.post_id = t.post_id \
             RETURNING v.user_id, v.post_id), \
         changed AS (SELECT user_id, post_id, 1 AS delta FROM added \
             UNION ALL SELECT user_id, post_id, -1 FROM removed), \
         counted AS (UPDATE posts SET votes_count = votes_count + d.delta \
             FROM (SELECT post_id, sum(delta) AS delta FROM changed GROUP BY post_id) AS d \
             WHERE posts.id = d.post_id), \
         recorded AS (INSERT INTO outbox_events \
             (event_key, topic, payload, status, attempts, created_at, available_at) \
             SELECT (e.event ->> 'key')::uuid, e.event ->> 'topic', e.event -> 'payload', \
                 '{pending}', 0, $2, $2 \
             FROM changed AS c JOIN input AS i ON i.user_id = c.user_id AND i.post_id = c.post_id \
             CROSS JOIN LATERAL jsonb_array_elements(i.events) AS e (event)) \
         SELECT i.ord, t.ord IS NOT NULL AS visible, c.user_id IS NOT NULL AS changed \
         FROM input AS i LEFT JOIN target AS t ON t.ord = i.ord \
         LEFT JOIN changed AS c ON c.user_id = i.user_id AND c.post_id = i.post_id",
        pending = outbox::PENDING,
    );
    Ok(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        [
            serde_json::Value::from(rows).into(),
            instant::value(DbBackend::Postgres, now),
        ],
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

    fn cast(user: i64, post: i64, change: VoteChange) -> Cast {
        Cast {
            user: UserId::new(user),
            post: PostId::new(post),
            change,
            events: Vec::new(),
        }
    }

    #[test]
    fn a_batch_holds_one_vote_per_user_and_post() {
        let batch = [cast(1, 7, VoteChange::Add), cast(2, 7, VoteChange::Add)];
        let batch: Vec<&Cast> = batch.iter().collect();
        let writer = |db| CastWriter {
            db,
            wakeup: Wakeup::new(Arc::new(crate::waker::NoWakeUps)),
        };
        let writer = writer(DatabaseConnection::default());
        assert!(!writer.fits(&batch, &cast(1, 7, VoteChange::Remove)));
        assert!(writer.fits(&batch, &cast(1, 8, VoteChange::Add)));
        assert!(writer.fits(&batch, &cast(3, 7, VoteChange::Add)));
    }

    #[test]
    fn the_postgres_batch_locks_its_posts_in_order_before_any_vote_and_carries_the_events() {
        let mut added = cast(3, 7, VoteChange::Add);
        added.events = vec![DomainEvent::VoteCreated {
            post_id: PostId::new(7),
            user_id: UserId::new(3),
        }];
        let removed = cast(4, 2, VoteChange::Remove);
        let statement = postgres_cast_statement(&[added, removed], instant::now()).expect("built");
        let sql = &statement.sql;
        let locked = sql
            .find("ORDER BY id FOR UPDATE")
            .expect("posts locked in id order");
        let target = sql
            .find("JOIN locked AS p")
            .expect("votes kept on locked posts");
        assert!(locked < target, "{sql}");
        for part in [
            "ON CONFLICT (user_id, post_id) DO NOTHING",
            "sum(delta) AS delta FROM changed GROUP BY post_id",
        ] {
            assert!(sql.contains(part), "{part} in {sql}");
        }
        let values = statement.values.expect("parameters").0;
        let sea_orm::Value::Json(Some(votes)) = &values[0] else {
            panic!("the votes are one JSON parameter: {values:?}");
        };
        assert_eq!(votes[0]["adds"], true);
        assert_eq!(votes[0]["events"][0]["topic"], "vote.created");
        assert_eq!(votes[1]["adds"], false);
        assert_eq!(votes[1]["events"], serde_json::json!([]));
    }

    /// Needs PostgreSQL (`TEST_DATABASE_URL`): left out and counted as skipped without it.
    mod postgres {
        use super::*;
        use keel_testkit::db::TestDb;

        use crate::test_sql::number as one_i64;

        async fn user(db: &DatabaseConnection, n: usize) -> i64 {
            crate::test_sql::user(db, &format!("voter{n}@example.com")).await
        }

        async fn post(db: &DatabaseConnection, owner: i64, published: bool) -> i64 {
            one_i64(
                db,
                &format!(
                    "INSERT INTO posts (title, content, published, created_at, updated_at, \
                     owner_id) VALUES ('t', 'c', {published}, now(), now(), {owner}) RETURNING id"
                ),
            )
            .await
        }

        fn writer(db: &DatabaseConnection) -> CastWriter {
            CastWriter {
                db: db.clone(),
                wakeup: Wakeup::new(Arc::new(crate::waker::NoWakeUps)),
            }
        }

        fn with_event(mut cast: Cast) -> Cast {
            let (post_id, user_id) = (cast.post, cast.user);
            cast.events = vec![match cast.change {
                VoteChange::Add => DomainEvent::VoteCreated { post_id, user_id },
                VoteChange::Remove => DomainEvent::VoteDeleted { post_id, user_id },
            }];
            cast
        }

        /// Every post's count equals its number of votes.
        async fn assert_counts_match_votes(db: &DatabaseConnection) {
            let off = one_i64(
                db,
                "SELECT count(*) FROM posts AS p WHERE votes_count <> \
                 (SELECT count(*) FROM votes AS v WHERE v.post_id = p.id)",
            )
            .await;
            assert_eq!(off, 0, "posts whose count is not their number of votes");
        }

        const NO_VOTE_BEFORE: VoteCast = VoteCast::Found {
            already_voted: false,
        };
        const VOTE_BEFORE: VoteCast = VoteCast::Found {
            already_voted: true,
        };

        /// One statement casts a batch of votes, and each gets the finding it would get alone.
        #[tokio::test]
        async fn each_vote_of_a_batch_gets_its_own_finding_and_only_changes_write() {
            let test_db = TestDb::postgres().await;
            let db = test_db.connection();
            let (a, b, owner) = (user(db, 1).await, user(db, 2).await, user(db, 3).await);
            let (public, draft) = (post(db, owner, true).await, post(db, owner, false).await);
            db.execute_unprepared(&format!(
                "INSERT INTO votes (user_id, post_id, created_at) VALUES ({b}, {public}, now()); \
                 UPDATE posts SET votes_count = 1 WHERE id = {public}"
            ))
            .await
            .expect("b's vote");
            let batch = [
                with_event(cast(a, public, VoteChange::Add)),
                with_event(cast(b, public, VoteChange::Add)),
                with_event(cast(a, draft, VoteChange::Add)),
                with_event(cast(owner, draft, VoteChange::Add)),
                with_event(cast(owner, public, VoteChange::Remove)),
                with_event(cast(a, public + draft + 1, VoteChange::Add)),
            ];
            let outcomes: Vec<VoteCast> = writer(db)
                .write(&batch)
                .await
                .into_iter()
                .map(|outcome| outcome.expect("cast"))
                .collect();
            assert_eq!(
                outcomes,
                [
                    NO_VOTE_BEFORE,
                    VOTE_BEFORE,
                    VoteCast::PostNotVisible,
                    NO_VOTE_BEFORE,
                    NO_VOTE_BEFORE,
                    VoteCast::PostNotVisible,
                ]
            );
            let count = |post: i64| format!("SELECT votes_count FROM posts WHERE id = {post}");
            assert_eq!(one_i64(db, &count(public)).await, 2);
            assert_eq!(one_i64(db, &count(draft)).await, 1);
            assert_counts_match_votes(db).await;
            let events = one_i64(
                db,
                &format!(
                    "SELECT count(*) FROM outbox_events WHERE topic = 'vote.created' AND \
                     ((payload ->> 'user_id')::bigint, (payload ->> 'post_id')::bigint) \
                     IN (({a}, {public}), ({owner}, {draft}))"
                ),
            )
            .await;
            assert_eq!(
                events, 2,
                "the two votes that changed recorded their events"
            );
            assert_eq!(one_i64(db, "SELECT count(*) FROM outbox_events").await, 2);
        }

        /// A vote the database refuses (its voter is gone) fails alone; the rest are cast.
        #[tokio::test]
        async fn a_refused_vote_fails_alone_and_the_rest_of_its_batch_is_cast() {
            let test_db = TestDb::postgres().await;
            let db = test_db.connection();
            let (a, owner) = (user(db, 1).await, user(db, 2).await);
            let public = post(db, owner, true).await;
            let batch = [
                with_event(cast(a, public, VoteChange::Add)),
                with_event(cast(owner + a + 1000, public, VoteChange::Add)),
                with_event(cast(owner, public, VoteChange::Add)),
            ];
            let outcomes = writer(db).write(&batch).await;
            assert!(
                matches!(outcomes[0], Ok(NO_VOTE_BEFORE)),
                "{:?}",
                outcomes[0]
            );
            assert!(
                matches!(outcomes[1], Err(StoreError::Missing)),
                "{:?}",
                outcomes[1]
            );
            assert!(
                matches!(outcomes[2], Ok(NO_VOTE_BEFORE)),
                "{:?}",
                outcomes[2]
            );
            assert_eq!(one_i64(db, "SELECT count(*) FROM votes").await, 2);
            assert_eq!(one_i64(db, "SELECT count(*) FROM outbox_events").await, 2);
            assert_counts_match_votes(db).await;
        }

        /// Two pools' batches on the same posts: every vote is cast once, with the finding it
        /// would get alone, and every count stays true. (A batch refused by a deadlock would be
        /// cast again one vote at a time, so this does not show that none occurred.)
        #[tokio::test]
        async fn concurrent_batches_sharing_posts_cast_every_vote_and_keep_the_counts() {
            let test_db = TestDb::postgres().await;
            let db = test_db.connection();
            let owner = user(db, 0).await;
            let mut posts = Vec::new();
            for _ in 0..3 {
                posts.push(post(db, owner, true).await);
            }
            let mut voters = Vec::new();
            for n in 1..=24 {
                voters.push(user(db, n).await);
            }
            let pools = [Batcher::new(writer(db)), Batcher::new(writer(db))];
            for change in [VoteChange::Add, VoteChange::Remove] {
                let mut requests = tokio::task::JoinSet::new();
                for (n, voter) in voters.iter().enumerate() {
                    // Each voter votes on the posts in its own order, so batches lock the
                    // same posts in different request orders.
                    for k in 0..posts.len() {
                        let post = posts[(n + k) % posts.len()];
                        let batcher = pools[n % 2].clone();
                        let cast = with_event(cast(*voter, post, change));
                        requests.spawn(async move { batcher.write(cast).await });
                    }
                }
                while let Some(done) = requests.join_next().await {
                    let outcome = done.expect("a request");
                    let expected = match change {
                        VoteChange::Add => NO_VOTE_BEFORE,
                        VoteChange::Remove => VOTE_BEFORE,
                    };
                    assert!(
                        matches!(outcome, Ok(found) if found == expected),
                        "{outcome:?}"
                    );
                }
                assert_counts_match_votes(db).await;
            }
            assert_eq!(one_i64(db, "SELECT count(*) FROM votes").await, 0);
            assert_eq!(
                one_i64(db, "SELECT count(*) FROM outbox_events").await,
                2 * 24 * 3
            );
            assert!(pools.iter().all(Batcher::is_idle));
        }
    }
}
