//! Creating posts on PostgreSQL: creations that arrive while others are being written are
//! written together, in one statement and one commit ([`crate::batch`]).
//!
//! The statement takes the batch as one JSON parameter (the text never changes, so it stays
//! prepared): every post's id is drawn from the posts' sequence by the statement, which writes
//! it into the post and into its events' payloads (the domain's events, built with a
//! placeholder id) and returns the ids in the batch's order.
//!
//! A statement is atomic: a batch commits whole or not at all.
//! - A row the database refuses (its owner deleted since the request was authenticated: a
//!   foreign key; any data or constraint error) fails the batch; every creation of it is then
//!   written alone, so that only the refused one fails.
//! - A lost connection (a database restart): the statement is run again on a new connection
//!   ([`crate::lost_connection`]). If the first run had committed, the second fails on the
//!   unique key of the batch's first event, creating nothing, and the posts are the ones
//!   recorded under their events' keys. (The second run follows the first within
//!   milliseconds, and delivered rows stay in the outbox until `worker purge --older-than DAYS`
//!   removes them, so the keys are still there to find.)
//! - Anything else (the database unavailable) fails every creation of the batch.

use crate::batch::{BatchWrite, Batcher};
use crate::error::{is_refused_row, store_error, violates};
use crate::lost_connection::then_if_lost;
use crate::waker::Wakeup;
use crate::{instant, outbox};
use keel_domain::Timestamp;
use keel_domain::post::{NewPost, PostId};
use keel_ports::StoreError;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, QueryResult, Statement};
use serde_json::json;
use uuid::Uuid;

/// The outbox's unique constraint on `event_key`.
const EVENT_KEY_CONSTRAINT: &str = "outbox_events_event_key_key";

/// One pool's queue of creations.
pub(crate) type Creations = Batcher<CreationWriter>;

/// Writes batches of creations on one pool.
pub(crate) struct CreationWriter {
    db: DatabaseConnection,
    wakeup: Wakeup,
}

impl CreationWriter {
    pub(crate) fn new(db: DatabaseConnection, wakeup: Wakeup) -> Self {
        Self { db, wakeup }
    }
}

/// One post to create and the key of its first event (how a run after a lost connection finds
/// it).
#[derive(Debug, Clone)]
pub(crate) struct Creation {
    new: NewPost,
    key: Uuid,
}

impl Creation {
    pub(crate) fn new(new: NewPost) -> Self {
        Self {
            new,
            key: Uuid::new_v4(),
        }
    }
}

impl BatchWrite for CreationWriter {
    type Item = Creation;
    type Output = PostId;
    const SPAN: &'static str = "db.posts.create_batch";

    /// Writes `creations` as one batch, or one by one when the batch was refused; wakes the
    /// outbox's workers when any was written.
    async fn write(&self, creations: &[Creation]) -> Vec<Result<PostId, StoreError>> {
        let outcome = match write(&self.db, creations, instant::now()).await {
            Err(err) if creations.len() > 1 && is_refused_row(&err) => {
                let mut outcomes = Vec::with_capacity(creations.len());
                for creation in creations {
                    let alone = write(&self.db, std::slice::from_ref(creation), instant::now());
                    outcomes.push(alone.await.map(|mut ids| ids.remove(0)));
                }
                outcomes
            }
            Err(err) => creations.iter().map(|_| Err(err.clone())).collect(),
            Ok(ids) => ids.into_iter().map(Ok).collect(),
        };
        if outcome.iter().any(Result::is_ok) {
            self.wakeup.wake();
        }
        outcome
            .into_iter()
            .map(|id| id.map_err(store_error))
            .collect()
    }
}

/// Writes `creations` with one statement; returns their posts' ids in order. After a lost
/// connection the statement runs once more ([`run_again`]).
async fn write(
    db: &DatabaseConnection,
    creations: &[Creation],
    now: Timestamp,
) -> Result<Vec<PostId>, DbErr> {
    let statement = statement(creations, now).map_err(|err| DbErr::Custom(err.to_string()))?;
    let rows = then_if_lost(db, db.query_all_raw(statement.clone()), || {
        run_again(db, &statement, creations)
    })
    .await?;
    ids_in_order(&rows, creations.len())
}

/// The ids of `rows` (`ord`, `id`) in the order of `ord`, one for each of `count` creations.
fn ids_in_order(rows: &[QueryResult], count: usize) -> Result<Vec<PostId>, DbErr> {
    let mut ids = vec![None; count];
    for row in rows {
        let ord = row.try_get::<i64>("", "ord")?;
        let id = row.try_get::<i64>("", "id")?;
        let slot = usize::try_from(ord)
            .ok()
            .and_then(|ord| ids.get_mut(ord))
            .ok_or_else(|| DbErr::Custom(format!("a creation's row names batch entry {ord}")))?;
        *slot = Some(PostId::new(id));
    }
    ids.into_iter()
        .enumerate()
        .map(|(ord, id)| id.ok_or_else(|| DbErr::Custom(format!("no post for batch entry {ord}"))))
        .collect()
}

/// Runs a batch's `statement` again after its first run was lost with its connection. If the
/// first run had committed, the first event key of the batch is in the outbox and this run
/// fails on the key's uniqueness, creating nothing (the run is one statement: all of it or
/// none): the posts are then the ones recorded under their events' keys.
async fn run_again(
    db: &DatabaseConnection,
    statement: &Statement,
    creations: &[Creation],
) -> Result<Vec<QueryResult>, DbErr> {
    match db.query_all_raw(statement.clone()).await {
        Err(err) if violates(&err, EVENT_KEY_CONSTRAINT) => {
            let keys: Vec<String> = creations.iter().map(|c| c.key.to_string()).collect();
            db.query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT k.ord - 1 AS ord, (e.payload ->> 'post_id')::bigint AS id \
                 FROM jsonb_array_elements_text($1::jsonb) WITH ORDINALITY AS k (key, ord) \
                 JOIN outbox_events AS e ON e.event_key = k.key::uuid",
                [serde_json::Value::from(keys).into()],
            ))
            .await
        }
        outcome => outcome,
    }
}

/// The statement writing `creations`: each post, then each of its events with its id written
/// into the payload's `post_id`; `now` is the events' `created_at` and `available_at`. Returns
/// one row (`ord`, `id`) per creation, `ord` its index in `creations`.
fn statement(creations: &[Creation], now: Timestamp) -> Result<Statement, StoreError> {
    let mut rows = Vec::with_capacity(creations.len());
    for (ord, creation) in creations.iter().enumerate() {
        let new = &creation.new;
        // Fresh keys for any further events; the placeholder id is replaced by the statement.
        let keys = std::iter::once(creation.key).chain(std::iter::repeat_with(Uuid::new_v4));
        let events = new.events(PostId::new(0));
        let events = outbox::postgres_keyed_events_json(keys.zip(&events))?;
        rows.push(json!({
            "ord": ord,
            "title": new.draft.title.as_str(),
            "content": new.draft.content.as_str(),
            "published": new.draft.published,
            "created_at": new.created_at,
            "owner_id": new.owner_id.get(),
            "events": events,
        }));
    }
    // `input` is computed once (a CTE with a volatile function is never inlined), so each
    // post's id is drawn once and shared by its post and its events.
    let sql = format!(
        "WITH input AS (\
             SELECT i.*, nextval('posts_id_seq'::regclass) AS id \
             FROM jsonb_to_recordset($1::jsonb) AS i (ord bigint, title text, content text, \
                 published boolean, created_at timestamptz, owner_id bigint, events jsonb)), \
         created AS (INSERT INTO posts \
             (id, title, content, published, created_at, updated_at, owner_id) \
             SELECT id, title, content, published, created_at, created_at, owner_id \
             FROM input), \
         recorded AS (INSERT INTO outbox_events \
             (event_key, topic, payload, status, attempts, created_at, available_at) \
             SELECT (e.event ->> 'key')::uuid, e.event ->> 'topic', \
                 jsonb_set(e.event -> 'payload', '{{post_id}}', to_jsonb(input.id)), \
                 '{PENDING}', 0, $2, $2 \
             FROM input CROSS JOIN LATERAL jsonb_array_elements(input.events) AS e (event)) \
         SELECT ord, id FROM input",
        PENDING = outbox::PENDING,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Needs PostgreSQL (`TEST_DATABASE_URL`): left out and counted as skipped without it.
    mod postgres {
        use super::*;
        use crate::waker::NoWakeUps;
        use keel_domain::post::{Content, PostDraft, Title};
        use keel_domain::user::UserId;
        use keel_testkit::db::TestDb;
        use time::OffsetDateTime;

        async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
            crate::test_sql::number(db, sql).await
        }

        async fn user(db: &DatabaseConnection, email: &str) -> UserId {
            UserId::new(crate::test_sql::user(db, email).await)
        }

        fn new_post(owner: UserId, title: &str) -> NewPost {
            NewPost {
                owner_id: owner,
                draft: PostDraft {
                    title: Title::parse(title).expect("a title"),
                    content: Content::parse(&format!("content of {title}")).expect("content"),
                    published: true,
                },
                created_at: Timestamp::new(OffsetDateTime::now_utc()),
            }
        }

        fn writer(db: &DatabaseConnection) -> CreationWriter {
            CreationWriter::new(db.clone(), Wakeup::new(std::sync::Arc::new(NoWakeUps)))
        }

        /// Every event's payload is the domain's event of the post it was recorded with.
        async fn assert_each_post_has_its_event(db: &DatabaseConnection) {
            let rows = db
                .query_all_raw(Statement::from_string(
                    DbBackend::Postgres,
                    "SELECT p.id, p.owner_id, e.payload FROM posts AS p \
                     JOIN outbox_events AS e ON (e.payload ->> 'post_id')::bigint = p.id",
                ))
                .await
                .expect("posts with their events");
            assert_eq!(
                i64::try_from(rows.len()).expect("a count"),
                count(db, "SELECT count(*) AS n FROM outbox_events").await,
                "every event names a post"
            );
            for row in rows {
                let id = PostId::new(row.try_get::<i64>("", "id").expect("id"));
                let owner = UserId::new(row.try_get::<i64>("", "owner_id").expect("owner"));
                let payload = row
                    .try_get::<serde_json::Value>("", "payload")
                    .expect("payload");
                let created = keel_domain::event::DomainEvent::PostCreated {
                    post_id: id,
                    owner_id: owner,
                };
                assert_eq!(payload, serde_json::to_value(created).expect("JSON"));
            }
        }

        /// Checks that each of `news` is stored under its id: its title, owner and instant.
        async fn assert_stored(db: &DatabaseConnection, news: &[NewPost], ids: &[PostId]) {
            assert_eq!(news.len(), ids.len());
            for (new, id) in news.iter().zip(ids) {
                let row = db
                    .query_one_raw(Statement::from_sql_and_values(
                        DbBackend::Postgres,
                        "SELECT title, owner_id, created_at = $2 AS same_instant \
                         FROM posts WHERE id = $1",
                        [
                            id.get().into(),
                            instant::value(DbBackend::Postgres, new.created_at),
                        ],
                    ))
                    .await
                    .expect("the post")
                    .expect("a row");
                assert_eq!(
                    row.try_get::<String>("", "title").expect("title"),
                    new.draft.title.as_str()
                );
                assert_eq!(
                    row.try_get::<i64>("", "owner_id").expect("owner"),
                    new.owner_id.get()
                );
                assert!(row.try_get::<bool>("", "same_instant").expect("instant"));
            }
        }

        /// One statement writes a whole batch, and each creation gets its own post and event.
        #[tokio::test]
        async fn a_batch_gives_each_creation_its_own_post_and_event() {
            let test_db = TestDb::postgres().await;
            let db = test_db.connection();
            let owners = [
                user(db, "a@example.com").await,
                user(db, "b@example.com").await,
            ];
            let news: Vec<NewPost> = (0..40)
                .map(|n| new_post(owners[n % 2], &format!("post {n}")))
                .collect();
            let batch: Vec<Creation> = news.iter().cloned().map(Creation::new).collect();
            let ids = write(db, &batch, instant::now()).await.expect("written");
            assert_stored(db, &news, &ids).await;
            assert_eq!(count(db, "SELECT count(*) AS n FROM posts").await, 40);
            assert_each_post_has_its_event(db).await;
        }

        /// Creations from concurrent requests are queued, written, and answered; the writers
        /// stop once nobody waits.
        #[tokio::test]
        async fn concurrent_creations_are_all_written_and_the_writers_stop() {
            let test_db = TestDb::postgres().await;
            let db = test_db.connection();
            let owner = user(db, "owner@example.com").await;
            let news: Vec<NewPost> = (0..30)
                .map(|n| new_post(owner, &format!("post {n}")))
                .collect();
            let creations = Creations::new(writer(db));
            let mut requests = tokio::task::JoinSet::new();
            for (n, new) in news.iter().cloned().enumerate() {
                let creations = creations.clone();
                requests.spawn(async move { (n, creations.write(Creation::new(new)).await) });
            }
            let mut ids = vec![PostId::new(0); news.len()];
            while let Some(done) = requests.join_next().await {
                let (n, id) = done.expect("a request");
                ids[n] = id.expect("created");
            }
            assert_stored(db, &news, &ids).await;
            assert_eq!(count(db, "SELECT count(*) AS n FROM posts").await, 30);
            assert_each_post_has_its_event(db).await;
            assert!(creations.is_idle(), "the writers gave their places back");
        }

        /// A row the database refuses (its owner is gone) fails its own creation only.
        #[tokio::test]
        async fn a_refused_creation_fails_alone_and_the_rest_of_its_batch_is_written() {
            let test_db = TestDb::postgres().await;
            let db = test_db.connection();
            let owner = user(db, "owner@example.com").await;
            let gone = UserId::new(owner.get() + 1000);
            let news = [
                new_post(owner, "first"),
                new_post(gone, "orphan"),
                new_post(owner, "third"),
            ];
            let batch: Vec<Creation> = news.iter().cloned().map(Creation::new).collect();
            let outcomes = writer(db).write(&batch).await;
            assert!(
                matches!(outcomes[1], Err(StoreError::Missing)),
                "{:?}",
                outcomes[1]
            );
            let ids = [&outcomes[0], &outcomes[2]].map(|outcome| match outcome {
                Ok(id) => *id,
                Err(err) => panic!("created: {err:?}"),
            });
            assert_stored(db, &[news[0].clone(), news[2].clone()], &ids).await;
            assert_eq!(count(db, "SELECT count(*) AS n FROM posts").await, 2);
            assert_eq!(
                count(db, "SELECT count(*) AS n FROM outbox_events").await,
                2
            );
            assert_each_post_has_its_event(db).await;
        }

        /// A retry after a lost connection runs the statement again; when the first run had
        /// committed, the second must find its posts, not create them twice.
        #[tokio::test]
        async fn a_batch_run_again_after_it_committed_names_its_posts_and_creates_nothing() {
            let test_db = TestDb::postgres().await;
            let db = test_db.connection();
            let owner = user(db, "owner@example.com").await;
            let news = [new_post(owner, "once"), new_post(owner, "only once")];
            let batch: Vec<Creation> = news.iter().cloned().map(Creation::new).collect();
            let statement = statement(&batch, instant::now()).expect("a statement");
            let first = db
                .query_all_raw(statement.clone())
                .await
                .expect("the first run");
            let again = run_again(db, &statement, &batch)
                .await
                .expect("the second run");
            let first = ids_in_order(&first, 2).expect("two ids");
            assert_eq!(
                first,
                ids_in_order(&again, 2).expect("two ids"),
                "both runs name the same posts"
            );
            assert_stored(db, &news, &first).await;
            assert_eq!(count(db, "SELECT count(*) AS n FROM posts").await, 2);
            assert_eq!(
                count(db, "SELECT count(*) AS n FROM outbox_events").await,
                2
            );
            assert_each_post_has_its_event(db).await;
        }
    }
}
