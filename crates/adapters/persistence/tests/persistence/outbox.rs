//! The outbox's delivery side ([`SeaOutbox`]): claims under a lease, expiry, retries, dead
//! letters, requeue, purge, statistics, and the PostgreSQL wake-up.

use crate::harness::{Store, at, store};
use keel_domain::Timestamp;
use keel_domain::outbox::{EventId, FailureOutcome, OutboxEvent, WorkerId};
use keel_persistence::entity::outbox_event;
use keel_persistence::{OutboxListener, SeaOutbox, Wake};
use keel_ports::{Outbox, OutboxStats};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, Value};
use std::collections::BTreeSet;
use std::time::Duration;
use uuid::Uuid;

on_every_backend!(
    claims_take_due_events_in_order_under_a_lease_that_expires,
    failures_are_retried_on_schedule_dead_lettered_and_requeued,
    released_events_come_back_at_once_without_an_attempt,
    taking_over_an_expired_lease_counts_a_failed_attempt,
    purge_deletes_only_completed_events_older_than_the_cutoff,
    completing_a_mail_event_drops_its_token_and_nothing_else,
);

fn worker(name: &str) -> WorkerId {
    WorkerId::parse(name).expect("valid worker id")
}

fn instant(backend: DbBackend, at: Timestamp) -> Value {
    match backend {
        DbBackend::Sqlite => Value::String(Some(at.to_rfc3339())),
        _ => Value::TimeDateTimeWithTimeZone(Some(at.as_offset_date_time())),
    }
}

/// Inserts `count` pending events of `topic`, created and due at `due`.
async fn seed(store: &Store, count: usize, topic: &str, due: Timestamp) {
    let payloads = (0..count).map(|n| serde_json::json!({ "n": n })).collect();
    seed_payloads(store, topic, payloads, due).await;
}

/// Inserts one pending event of `topic` per payload, created and due at `due`.
async fn seed_payloads(
    store: &Store,
    topic: &str,
    payloads: Vec<serde_json::Value>,
    due: Timestamp,
) {
    let backend = store.conn.get_database_backend();
    let mut insert = Query::insert();
    insert.into_table(outbox_event::Entity).columns([
        outbox_event::Column::EventKey,
        outbox_event::Column::Topic,
        outbox_event::Column::Payload,
        outbox_event::Column::CreatedAt,
        outbox_event::Column::AvailableAt,
    ]);
    for payload in payloads {
        let row: [Expr; 5] = [
            Value::Uuid(Some(Uuid::new_v4())).into(),
            topic.into(),
            Value::Json(Some(Box::new(payload))).into(),
            instant(backend, due).into(),
            instant(backend, due).into(),
        ];
        insert.values(row).expect("row");
    }
    store.conn.execute(&insert).await.expect("seed outbox");
}

fn ids(events: &[OutboxEvent]) -> Vec<i64> {
    events.iter().map(|event| event.id.get()).collect()
}

fn event_ids(raw: &[i64]) -> Vec<EventId> {
    raw.iter().copied().map(EventId::new).collect()
}

async fn row(store: &Store, id: i64) -> outbox_event::Model {
    outbox_event::Entity::find_by_id(id)
        .one(&store.conn)
        .await
        .expect("read")
        .expect("row exists")
}

async fn claims_take_due_events_in_order_under_a_lease_that_expires(s: Store) {
    let outbox = SeaOutbox::new(s.conn.clone());
    seed(&s, 4, "post.created", at(0)).await;
    seed(&s, 1, "post.created", at(100)).await; // not due before at(100)
    let (w1, w2) = (worker("w1"), worker("w2"));

    let first = outbox.claim(&w1, 3, at(10), at(70)).await.expect("claim");
    assert_eq!(ids(&first), [1, 2, 3], "[{}]", s.label);
    assert_eq!(first[0].topic, "post.created");
    assert_eq!(first[0].payload, r#"{"n":0}"#);
    assert_eq!((first[0].attempts, first[0].created_at), (0, at(0)));
    let claimed = row(&s, 1).await;
    assert_eq!(claimed.status, "processing");
    assert_eq!(claimed.locked_by.as_deref(), Some("w1"));

    // Held events are not claimed again; the future one is not due.
    let second = outbox.claim(&w2, 10, at(20), at(80)).await.expect("claim");
    assert_eq!(ids(&second), [4], "[{}]", s.label);
    assert!(
        outbox
            .claim(&w2, 10, at(69), at(129))
            .await
            .expect("claim")
            .is_empty()
    );

    // w1's lease ends at 70 (exactly then it has expired); w2 holds 4 until 80.
    let w3 = worker("w3");
    let reclaimed = outbox.claim(&w3, 10, at(70), at(130)).await.expect("claim");
    assert_eq!(ids(&reclaimed), [1, 2, 3], "[{}]", s.label);
    // w1 lost the lease: it can no longer complete, fail or release them.
    assert_eq!(
        outbox
            .complete(&w1, &event_ids(&[1, 2]), at(71))
            .await
            .expect("complete"),
        0
    );
    assert!(
        !outbox
            .fail(
                &w1,
                EventId::new(3),
                FailureOutcome::DeadLetter { attempts: 1 },
                "x",
                at(71)
            )
            .await
            .expect("fail")
    );
    assert_eq!(
        outbox
            .release(&w1, &event_ids(&[1]))
            .await
            .expect("release"),
        0
    );
    assert_eq!(
        outbox
            .complete(&w3, &event_ids(&[1, 2, 3, 4]), at(72))
            .await
            .expect("complete"),
        3
    );
    assert_eq!(
        outbox
            .complete(&w2, &event_ids(&[4]), at(72))
            .await
            .expect("complete"),
        1
    );
    let done = row(&s, 2).await;
    assert_eq!(done.status, "completed", "[{}]", s.label);
    assert!(done.processed_at.is_some() && done.locked_until.is_none());
    assert_eq!(
        done.locked_by.as_deref(),
        Some("w3"),
        "completed rows keep who delivered them"
    );
    assert_eq!(
        outbox.stats().await.expect("stats"),
        OutboxStats {
            pending: 1,
            processing: 0,
            failed: 0,
            oldest_pending: Some(at(100))
        },
        "[{}]",
        s.label
    );
    assert_eq!(
        ids(&outbox
            .claim(&w2, 10, at(100), at(160))
            .await
            .expect("claim")),
        [5]
    );
}

async fn failures_are_retried_on_schedule_dead_lettered_and_requeued(s: Store) {
    let outbox = SeaOutbox::new(s.conn.clone());
    seed(&s, 2, "user.created", at(0)).await;
    seed(&s, 1, "vote.created", at(0)).await;
    let w = worker("w1");
    assert_eq!(
        outbox
            .claim(&w, 10, at(1), at(61))
            .await
            .expect("claim")
            .len(),
        3
    );

    let retry = FailureOutcome::Retry {
        attempts: 1,
        available_at: at(31),
    };
    assert!(
        outbox
            .fail(&w, EventId::new(1), retry, "webhook: HTTP 503", at(1))
            .await
            .expect("fail")
    );
    let rescheduled = row(&s, 1).await;
    assert_eq!(
        (
            rescheduled.status.as_str(),
            rescheduled.attempts,
            rescheduled.last_error.as_deref()
        ),
        ("pending", 1, Some("webhook: HTTP 503")),
        "[{}]",
        s.label
    );
    assert!(rescheduled.locked_by.is_none() && rescheduled.locked_until.is_none());
    for id in [2, 3] {
        let dead = FailureOutcome::DeadLetter { attempts: 5 };
        assert!(
            outbox
                .fail(&w, EventId::new(id), dead, "gone", at(2))
                .await
                .expect("fail")
        );
    }
    assert_eq!(row(&s, 2).await.status, "failed");
    assert_eq!(
        outbox.stats().await.expect("stats"),
        OutboxStats {
            pending: 1,
            processing: 0,
            failed: 2,
            oldest_pending: Some(at(0))
        },
        "[{}]",
        s.label
    );

    // Not before its retry time; then with its attempt count.
    assert!(
        outbox
            .claim(&w, 10, at(30), at(90))
            .await
            .expect("claim")
            .is_empty()
    );
    let again = outbox.claim(&w, 10, at(31), at(91)).await.expect("claim");
    assert_eq!(
        (ids(&again), again[0].attempts),
        (vec![1], 1),
        "[{}]",
        s.label
    );

    // Dead letters stay until requeued, by topic or all.
    assert_eq!(
        outbox
            .requeue_failed(Some("vote.created".to_owned()), at(40))
            .await
            .expect("requeue"),
        1
    );
    let requeued = row(&s, 3).await;
    assert_eq!(
        (requeued.status.as_str(), requeued.attempts),
        ("pending", 0)
    );
    assert!(requeued.processed_at.is_none());
    assert_eq!(
        requeued.last_error.as_deref(),
        Some("gone"),
        "the last error is kept"
    );
    assert_eq!(
        outbox.requeue_failed(None, at(40)).await.expect("requeue"),
        1
    );
    assert_eq!(
        outbox.requeue_failed(None, at(40)).await.expect("requeue"),
        0
    );
    assert_eq!(
        ids(&outbox.claim(&w, 10, at(40), at(100)).await.expect("claim")),
        [2, 3]
    );
}

async fn released_events_come_back_at_once_without_an_attempt(s: Store) {
    let outbox = SeaOutbox::new(s.conn.clone());
    seed(&s, 3, "post.updated", at(0)).await;
    let w = worker("w1");
    outbox.claim(&w, 3, at(1), at(61)).await.expect("claim");
    assert_eq!(
        outbox
            .release(&w, &event_ids(&[2, 3]))
            .await
            .expect("release"),
        2
    );
    let stats = outbox.stats().await.expect("stats");
    assert_eq!((stats.pending, stats.processing), (2, 1), "[{}]", s.label);
    let back = outbox
        .claim(&worker("w2"), 10, at(2), at(62))
        .await
        .expect("claim");
    assert_eq!(ids(&back), [2, 3]);
    assert!(back.iter().all(|event| event.attempts == 0));
}

async fn taking_over_an_expired_lease_counts_a_failed_attempt(s: Store) {
    let outbox = SeaOutbox::new(s.conn.clone());
    seed(&s, 2, "vote.created", at(0)).await;
    let first = outbox
        .claim(&worker("w1"), 1, at(1), at(61))
        .await
        .expect("claim");
    assert_eq!(first[0].attempts, 0, "[{}]", s.label);
    // w1 died holding event 1. Its lease ends at 61: each takeover adds an attempt.
    let second = outbox
        .claim(&worker("w2"), 1, at(61), at(121))
        .await
        .expect("claim");
    assert_eq!(
        (ids(&second), second[0].attempts),
        (vec![1], 1),
        "[{}]",
        s.label
    );
    let third = outbox
        .claim(&worker("w3"), 1, at(121), at(181))
        .await
        .expect("claim");
    assert_eq!(
        (ids(&third), third[0].attempts),
        (vec![1], 2),
        "[{}]",
        s.label
    );
    let stored = row(&s, 1).await;
    assert_eq!(stored.attempts, 2);
    assert_eq!(
        stored.last_error.as_deref(),
        Some("lease expired before an outcome was recorded")
    );
    // A pending event is claimed without an attempt.
    let pending = outbox
        .claim(&worker("w3"), 1, at(122), at(182))
        .await
        .expect("claim");
    assert_eq!(
        (ids(&pending), pending[0].attempts),
        (vec![2], 0),
        "[{}]",
        s.label
    );
    assert_eq!(row(&s, 2).await.last_error, None);
}

async fn purge_deletes_only_completed_events_older_than_the_cutoff(s: Store) {
    let outbox = SeaOutbox::new(s.conn.clone());
    seed(&s, 4, "post.deleted", at(0)).await;
    let w = worker("w1");
    outbox.claim(&w, 4, at(1), at(61)).await.expect("claim");
    outbox
        .complete(&w, &event_ids(&[1]), at(10))
        .await
        .expect("complete");
    outbox
        .complete(&w, &event_ids(&[2]), at(20))
        .await
        .expect("complete");
    outbox
        .fail(
            &w,
            EventId::new(3),
            FailureOutcome::DeadLetter { attempts: 1 },
            "x",
            at(5),
        )
        .await
        .expect("fail");
    assert_eq!(
        outbox.purge_completed(at(20)).await.expect("purge"),
        1,
        "[{}]",
        s.label
    );
    let left: Vec<i64> = s.outbox().await.iter().map(|row| row.id).collect();
    assert_eq!(left, [2, 3, 4], "[{}]", s.label);
    assert_eq!(outbox.purge_completed(at(21)).await.expect("purge"), 1);
}

async fn completing_a_mail_event_drops_its_token_and_nothing_else(s: Store) {
    let outbox = SeaOutbox::new(s.conn.clone());
    let mail = |n: u8| {
        serde_json::json!({
            "user_id": n,
            "email": format!("u{n}@example.com"),
            "token": format!("secret-{n}"),
            "expires_at": "2026-12-08T00:00:00Z",
        })
    };
    seed_payloads(&s, "mail.password_reset", vec![mail(1), mail(2)], at(0)).await; // 1, 2
    seed_payloads(&s, "mail.verify_email", vec![mail(3), mail(4)], at(0)).await; // 3, 4
    // A public topic that merely looks alike, with a member of the same name: untouched.
    seed_payloads(&s, "mailbox.created", vec![mail(5)], at(0)).await; // 5
    let (w1, w2) = (worker("w1"), worker("w2"));
    outbox.claim(&w1, 5, at(1), at(61)).await.expect("claim");
    assert_eq!(
        outbox
            .complete(&w1, &event_ids(&[1, 3, 5]), at(2))
            .await
            .expect("complete"),
        3
    );
    // A retry keeps the token: the mail is still to be sent.
    outbox
        .fail(
            &w1,
            EventId::new(2),
            FailureOutcome::Retry {
                attempts: 1,
                available_at: at(100),
            },
            "smtp down",
            at(2),
        )
        .await
        .expect("fail");
    // Event 4 is taken over by w2 once w1's lease ended: w1's late completion changes nothing.
    outbox.claim(&w2, 5, at(61), at(121)).await.expect("claim");
    assert_eq!(
        outbox
            .complete(&w1, &event_ids(&[4]), at(62))
            .await
            .expect("complete"),
        0
    );
    let payload = |row: outbox_event::Model| row.payload;
    let without_token = |n: u8| {
        let mut p = mail(n);
        p.as_object_mut().expect("object").remove("token");
        p
    };
    for (id, expected) in [
        (1, without_token(1)),
        (2, mail(2)),
        (3, without_token(3)),
        (4, mail(4)),
        (5, mail(5)),
    ] {
        assert_eq!(
            payload(row(&s, id).await),
            expected,
            "event {id} [{}]",
            s.label
        );
    }
    let claimed_again = outbox.claim(&w2, 5, at(100), at(160)).await.expect("claim");
    assert_eq!(ids(&claimed_again), [2], "[{}]", s.label);
    let sent: serde_json::Value = serde_json::from_str(&claimed_again[0].payload).expect("JSON");
    assert_eq!(
        sent["token"], "secret-2",
        "a retried mail still carries its token"
    );
}

/// Needs PostgreSQL (`TEST_DATABASE_URL`); left out, counted as skipped, when it is not configured.
mod postgres {
    use super::*;

    #[tokio::test]
    async fn concurrent_claimers_on_postgres_never_share_an_event() {
        let s = store(keel_testkit::db::TestDb::postgres().await).await;
        seed(&s, 300, "post.created", at(0)).await;
        let mut tasks = Vec::new();
        for n in 0..4 {
            let outbox = SeaOutbox::new(s.conn.clone());
            tasks.push(tokio::spawn(async move {
                let w = worker(&format!("w{n}"));
                let mut mine = Vec::new();
                loop {
                    let batch = outbox.claim(&w, 7, at(1), at(61)).await.expect("claim");
                    if batch.is_empty() {
                        return mine;
                    }
                    mine.extend(ids(&batch));
                }
            }));
        }
        let mut all = Vec::new();
        for task in tasks {
            all.extend(task.await.expect("claimer"));
        }
        let distinct: BTreeSet<i64> = all.iter().copied().collect();
        assert_eq!(all.len(), 300, "every event claimed exactly once");
        assert_eq!(distinct.len(), 300);
    }

    #[tokio::test]
    async fn committed_events_and_requeues_wake_postgres_listeners() {
        let s = store(keel_testkit::db::TestDb::postgres().await).await;
        let url = s._db.url().to_owned();
        let mut listener = OutboxListener::connect(&url)
            .await
            .expect("listen")
            .expect("postgres");
        assert_eq!(
            listener.wait(Duration::from_millis(100)).await,
            Wake::TimedOut
        );
        s.user("listener@example.com").await; // commits a user.created event
        assert_eq!(listener.wait(Duration::from_secs(5)).await, Wake::Notified);
        assert_eq!(
            listener.wait(Duration::from_millis(100)).await,
            Wake::TimedOut,
            "folded into one"
        );

        let outbox = SeaOutbox::new(s.conn.clone());
        let w = worker("w1");
        outbox
            .claim(
                &w,
                1,
                at(0).plus(time::Duration::days(3650)),
                at(0).plus(time::Duration::days(3651)),
            )
            .await
            .expect("claim");
        outbox
            .fail(
                &w,
                EventId::new(1),
                FailureOutcome::DeadLetter { attempts: 1 },
                "x",
                at(0),
            )
            .await
            .expect("fail");
        assert_eq!(
            outbox.requeue_failed(None, at(0)).await.expect("requeue"),
            1
        );
        assert_eq!(listener.wait(Duration::from_secs(5)).await, Wake::Notified);
        assert!(
            OutboxListener::connect("sqlite::memory:")
                .await
                .expect("no-op")
                .is_none()
        );
    }

    #[tokio::test]
    async fn writing_an_outbox_row_no_longer_notifies_inside_the_transaction() {
        let s = store(keel_testkit::db::TestDb::postgres().await).await;
        let triggers = s
            .conn
            .query_one_raw(sea_orm::Statement::from_string(
                DbBackend::Postgres,
                "SELECT count(*) AS n FROM pg_trigger WHERE tgname = 'outbox_events_notify'",
            ))
            .await
            .expect("read pg_trigger")
            .expect("a row")
            .try_get::<i64>("", "n")
            .expect("count");
        assert_eq!(triggers, 0, "the notify trigger is gone");
        let mut listener = OutboxListener::connect(s._db.url())
            .await
            .expect("listen")
            .expect("postgres");
        // A raw insert, as a write transaction makes it, without the repository's wake-up.
        seed(&s, 3, "post.created", at(0)).await;
        assert_eq!(
            listener.wait(Duration::from_millis(500)).await,
            Wake::TimedOut,
            "the commit itself sends no notification"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rapid_wake_ups_reach_a_listener_as_at_most_one_notify_per_interval() {
        use keel_ports::OutboxWaker;
        use sea_orm::sqlx::postgres::PgListener;
        let s = store(keel_testkit::db::TestDb::postgres().await).await;
        let mut listener = PgListener::connect(s._db.url()).await.expect("connect");
        listener
            .listen(keel_migrations::OUTBOX_NOTIFY_CHANNEL)
            .await
            .expect("listen");
        let interval = Duration::from_millis(50);
        let waker = keel_persistence::PgNotifyWaker::spawn(s._db.url(), interval);

        // 1,000 wake-ups over about 300 ms.
        let started = std::time::Instant::now();
        for n in 0..1_000 {
            waker.wake();
            if n % 10 == 0 {
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
        }
        let burst = started.elapsed();
        let mut received = 0_u128;
        while let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(1), listener.recv()).await {
            received += 1;
        }
        let bound = burst.as_millis() / interval.as_millis() + 2;
        assert!(
            (1..=bound).contains(&received),
            "{received} notifications for 1,000 wake-ups over {burst:?} (at most {bound})"
        );
    }
}
