//! Creating posts on PostgreSQL: creations that arrive while others are being written are
//! written together, in one statement and one commit.
//!
//! A creation alone is one short statement (the post and its `post.created` outbox row), and
//! under load most of its cost is per statement, not per row: the round trip, the commit and
//! its WAL flush, and the pool's check of the connection when it comes back. So each pool
//! ([`Creations`], one per [`crate::SeaPosts`]) queues its creations, and at most
//! [`WRITERS`] tasks drain the queue, each taking up to [`MAX_BATCH`] waiting creations at a
//! time and writing them with one statement. With nobody waiting a creation is written alone
//! at once — there is no timer, so an idle server adds no latency. The writers are tasks of
//! their own: a request dropped while its creation is written (the client went away, a
//! deadline) never drops the write of the others in its batch.
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

use crate::error::{store_error, unreadable, violates};
use crate::lost_connection::then_if_lost;
use crate::waker::Wakeup;
use crate::{instant, outbox};
use keel_domain::Timestamp;
use keel_domain::post::{NewPost, PostId};
use keel_ports::StoreError;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, QueryResult, RuntimeErr, Statement, sqlx,
};
use serde_json::json;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::oneshot;
use tracing::Instrument;
use uuid::Uuid;

/// How many batches of one pool may be written at once.
pub(crate) const WRITERS: usize = 2;
/// The most creations one statement writes.
pub(crate) const MAX_BATCH: usize = 64;

/// The outbox's unique constraint on `event_key`.
const EVENT_KEY_CONSTRAINT: &str = "outbox_events_event_key_key";

/// The creations of one pool, queued for its writers. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Creations {
    db: DatabaseConnection,
    wakeup: Wakeup,
    queue: Arc<Mutex<Queue>>,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<Waiting>,
    writers: usize,
}

/// A creation waiting for its batch, with where its post's id goes.
struct Waiting {
    creation: Creation,
    answer: oneshot::Sender<Result<PostId, StoreError>>,
}

/// One post to create and the key of its first event (how a run after a lost connection finds
/// it).
#[derive(Debug, Clone)]
pub(crate) struct Creation {
    pub(crate) new: NewPost,
    pub(crate) key: Uuid,
}

impl Creation {
    pub(crate) fn new(new: NewPost) -> Self {
        Self {
            new,
            key: Uuid::new_v4(),
        }
    }
}

impl std::fmt::Debug for Creations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Creations").finish_non_exhaustive()
    }
}

impl Creations {
    pub(crate) fn new(db: DatabaseConnection, wakeup: Wakeup) -> Self {
        Self {
            db,
            wakeup,
            queue: Arc::default(),
        }
    }

    /// Creates `new` with the next batch; returns its id once the batch has committed (the
    /// outbox's workers are woken by then).
    pub(crate) async fn create(&self, new: &NewPost) -> Result<PostId, StoreError> {
        let (answer, id) = oneshot::channel();
        let start_writer = {
            let mut queue = self.lock();
            queue.waiting.push(Waiting {
                creation: Creation::new(new.clone()),
                answer,
            });
            let start = queue.writers < WRITERS;
            if start {
                queue.writers += 1;
            }
            start
        };
        if start_writer {
            let writer = self.clone();
            tokio::spawn(async move { writer.write_all().await });
        }
        id.await
            .map_err(|_| unreadable("the creation's writer stopped before answering"))?
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // The queue's state stays consistent whatever panicked while it was held.
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A writer: writes batches until nobody waits, then stops.
    async fn write_all(self) {
        let mut slot = WriterSlot {
            creations: &self,
            held: true,
        };
        loop {
            let batch: Vec<Waiting> = {
                let mut queue = self.lock();
                if queue.waiting.is_empty() {
                    // Given up under the lock a creation takes to queue itself, so a creation
                    // never waits without a writer.
                    queue.writers -= 1;
                    slot.held = false;
                    return;
                }
                let take = queue.waiting.len().min(MAX_BATCH);
                queue.waiting.drain(..take).collect()
            };
            let (creations, answers): (Vec<Creation>, Vec<_>) = batch
                .into_iter()
                .map(|waiting| (waiting.creation, waiting.answer))
                .unzip();
            let span = tracing::info_span!(
                "db.posts.create_batch",
                otel.kind = "client",
                batch = creations.len()
            );
            let ids = self.write_batch(&creations).instrument(span).await;
            for (answer, id) in answers.into_iter().zip(ids) {
                // The request may have gone: its post is created all the same.
                let _ = answer.send(id);
            }
        }
    }

    /// Writes `creations` (as one batch, or one by one when the batch was refused); returns
    /// each one's outcome in order.
    async fn write_batch(&self, creations: &[Creation]) -> Vec<Result<PostId, StoreError>> {
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

/// Gives a writer's place back if its task ends without doing so (a panic).
struct WriterSlot<'a> {
    creations: &'a Creations,
    held: bool,
}

impl Drop for WriterSlot<'_> {
    fn drop(&mut self) {
        if self.held {
            self.creations.lock().writers -= 1;
        }
    }
}

/// Whether PostgreSQL refused the statement for one of its rows: a data exception (SQLSTATE
/// class 22) or an integrity constraint violation (class 23).
fn is_refused_row(err: &DbErr) -> bool {
    let (DbErr::Exec(RuntimeErr::SqlxError(inner)) | DbErr::Query(RuntimeErr::SqlxError(inner))) =
        err
    else {
        return false;
    };
    match inner.as_ref() {
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code.starts_with("22") || code.starts_with("23")),
        _ => false,
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
pub(crate) fn statement(creations: &[Creation], now: Timestamp) -> Result<Statement, StoreError> {
    let mut rows = Vec::with_capacity(creations.len());
    for (ord, creation) in creations.iter().enumerate() {
        let new = &creation.new;
        // Fresh keys for any further events; the placeholder id is replaced by the statement.
        let keys = std::iter::once(creation.key).chain(std::iter::repeat_with(Uuid::new_v4));
        let events = new
            .events(PostId::new(0))
            .into_iter()
            .zip(keys)
            .map(|(event, key)| {
                let payload = serde_json::to_value(&event)
                    .map_err(|err| unreadable(format!("event {} as JSON: {err}", event.topic())))?;
                Ok(json!({ "key": key, "topic": event.topic(), "payload": payload }))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
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
            db.query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
                .await
                .expect("count")
                .expect("a row")
                .try_get::<i64>("", "n")
                .expect("n")
        }

        async fn user(db: &DatabaseConnection, email: &str) -> UserId {
            let id = db
                .query_one_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "INSERT INTO users (email, password_hash, email_verified, created_at) \
                     VALUES ($1, NULL, true, now()) RETURNING id",
                    [email.into()],
                ))
                .await
                .expect("insert a user")
                .expect("a row")
                .try_get::<i64>("", "id")
                .expect("id");
            UserId::new(id)
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

        fn creations(db: &DatabaseConnection) -> Creations {
            Creations::new(db.clone(), Wakeup::new(Arc::new(NoWakeUps)))
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
            let creations = creations(db);
            let mut requests = tokio::task::JoinSet::new();
            for (n, new) in news.iter().cloned().enumerate() {
                let creations = creations.clone();
                requests.spawn(async move { (n, creations.create(&new).await) });
            }
            let mut ids = vec![PostId::new(0); news.len()];
            while let Some(done) = requests.join_next().await {
                let (n, id) = done.expect("a request");
                ids[n] = id.expect("created");
            }
            assert_stored(db, &news, &ids).await;
            assert_eq!(count(db, "SELECT count(*) AS n FROM posts").await, 30);
            assert_each_post_has_its_event(db).await;
            assert_eq!(
                creations.lock().writers,
                0,
                "the writers gave their places back"
            );
            assert!(creations.lock().waiting.is_empty());
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
            let outcomes = creations(db).write_batch(&batch).await;
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
