//! The scenarios of the outbox issue's acceptance, against the real binary.

use crate::harness::{BIN, Receiver, eventually, seed, spawn_worker, statuses};
use keel_testkit::app::TestApp;
use keel_testkit::db::TestDb;
use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

on_every_backend!(
    api_writes_are_delivered_by_the_worker_to_a_signed_webhook,
    sigterm_finishes_the_delivery_in_flight_and_leaves_nothing_processing,
);

async fn completed(db: &TestDb) -> i64 {
    statuses(db).await.get("completed").copied().unwrap_or(0)
}

async fn api_writes_are_delivered_by_the_worker_to_a_signed_webhook(db: TestDb) {
    let label = db.label();
    let url = db.url().to_owned();
    let app = TestApp::spawn(db).await;
    let receiver = Receiver::start(Duration::ZERO).await;
    let mut worker = spawn_worker(&url, &receiver, &[]);
    worker.ready().await;

    let user = app.user("outbox").await;
    let post = app.create_post(&user, "Delivered", true).await;
    let vote = app
        .post(
            "/api/v1/vote",
            Some(&user.access),
            &serde_json::json!({ "post_id": post["id"], "dir": 1 }),
        )
        .await;
    assert_eq!(vote.status, 201);
    eventually(Duration::from_secs(20), "three deliveries", || async {
        receiver.count() >= 3
    })
    .await;
    let deliveries = receiver.deliveries();
    let topics: Vec<&str> = deliveries.iter().map(|d| d.topic.as_str()).collect();
    assert_eq!(
        topics,
        ["user.created", "post.created", "vote.created"],
        "[{label}]"
    );
    for delivery in &deliveries {
        assert!(delivery.signature_valid, "[{label}] {delivery:?}");
        assert_eq!(delivery.body["event_key"], delivery.key.as_str());
        assert_eq!(delivery.body["topic"], delivery.topic.as_str());
    }
    assert_eq!(deliveries[0].body["payload"]["email"], "outbox@example.com");
    assert_eq!(deliveries[1].body["payload"]["post_id"], post["id"]);

    let (status, health) = worker.get("/health").await;
    assert_eq!((status, health.as_str()), (200, r#"{"status":"ok"}"#));
    let (status, metrics) = worker.get("/metrics").await;
    assert_eq!(status, 200);
    // The registration's mail event (it carries a one-time token) never reaches a sink of
    // OUTBOX_SINKS; without SMTP_URL it is completed undelivered.
    assert!(
        metrics.contains("outbox_deliveries_total{result=\"delivered\"} 4"),
        "[{label}] {metrics}"
    );
    assert!(metrics.contains("outbox_delivery_lag_seconds_count 4"));
    let exit = worker.terminate(Duration::from_secs(15));
    assert!(exit.success(), "[{label}] exit {exit:?}");
    assert_eq!(completed(&app.db).await, 4, "[{label}]");
    assert!(
        receiver
            .deliveries()
            .iter()
            .all(|d| !d.topic.starts_with("mail.") && d.body["payload"].get("token").is_none()),
        "[{label}] no mail event reached the webhook"
    );
}

async fn sigterm_finishes_the_delivery_in_flight_and_leaves_nothing_processing(db: TestDb) {
    let label = db.label();
    seed(&db, 200, "post.updated").await;
    let receiver = Receiver::start(Duration::from_millis(20)).await;
    let mut worker = spawn_worker(
        db.url(),
        &receiver,
        &[("OUTBOX_DISPATCH_BATCH_SIZE", "100")],
    );
    eventually(Duration::from_secs(30), "the first deliveries", || async {
        receiver.count() >= 10
    })
    .await;
    let asked = Instant::now();
    let exit = worker.terminate(Duration::from_secs(15));
    assert!(exit.success(), "[{label}] exit {exit:?}");
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "[{label}] stopped promptly"
    );
    let statuses = statuses(&db).await;
    assert_eq!(statuses.get("processing"), None, "[{label}] {statuses:?}");
    let done = statuses.get("completed").copied().unwrap_or(0);
    assert!((10..200).contains(&done), "[{label}] {statuses:?}");
    assert_eq!(
        usize::try_from(done).expect("count"),
        receiver.count(),
        "[{label}] every delivery was recorded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_receiver_dead_letters_and_requeue_and_purge_work_from_the_cli() {
    let db = TestDb::sqlite().await;
    seed(&db, 2, "user.created").await;
    // A receiver that does not exist: every attempt fails; two attempts, one second apart.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead_url = format!("http://{}/hooks", closed.local_addr().expect("addr"));
    drop(closed);
    let nobody = Receiver {
        url: dead_url,
        ..Receiver::start(Duration::ZERO).await
    };
    let mut worker = spawn_worker(
        db.url(),
        &nobody,
        &[
            ("OUTBOX_RETRY_MAX_ATTEMPTS", "2"),
            ("OUTBOX_WEBHOOK_TIMEOUT_SECONDS", "1"),
        ],
    );
    eventually(Duration::from_secs(30), "two dead letters", || async {
        statuses(&db).await.get("failed") == Some(&2)
    })
    .await;
    assert!(worker.terminate(Duration::from_secs(15)).success());

    let run = |args: &[&str]| {
        Command::new(BIN)
            .env_clear()
            .env("DATABASE_URL", db.url())
            .env("LOG_FORMAT", "json")
            .env("RUST_LOG", "warn")
            .args(args)
            .output()
            .expect("run worker")
    };
    let requeued = run(&["requeue-failed", "--topic", "vote.created"]);
    assert_eq!(
        String::from_utf8_lossy(&requeued.stdout).trim(),
        "requeued 0 failed events"
    );
    let requeued = run(&["requeue-failed", "--topic=user.created"]);
    assert!(requeued.status.success());
    assert_eq!(
        String::from_utf8_lossy(&requeued.stdout).trim(),
        "requeued 2 failed events"
    );
    assert_eq!(statuses(&db).await.get("pending"), Some(&2));

    // Deliver them, then purge: nothing is older than a day yet, everything is older than 0 days.
    let receiver = Receiver::start(Duration::ZERO).await;
    let mut worker = spawn_worker(db.url(), &receiver, &[]);
    eventually(
        Duration::from_secs(20),
        "the requeued events delivered",
        || async { completed(&db).await == 2 },
    )
    .await;
    assert!(worker.terminate(Duration::from_secs(15)).success());
    let purged = run(&["purge", "--older-than", "1"]);
    assert_eq!(
        String::from_utf8_lossy(&purged.stdout).trim(),
        "purged 0 completed events"
    );
    let purged = run(&["purge", "--older-than=0"]);
    assert_eq!(
        String::from_utf8_lossy(&purged.stdout).trim(),
        "purged 2 completed events"
    );
    assert!(statuses(&db).await.is_empty());

    assert_eq!(run(&["purge"]).status.code(), Some(2), "usage error");
    assert_eq!(run(&["sideways"]).status.code(), Some(2));
    let missing_url = Command::new(BIN)
        .env_clear()
        .env("DATABASE_URL", db.url())
        .env("OUTBOX_SINKS", "log,webhook")
        .output()
        .expect("run worker");
    assert!(!missing_url.status.success());
    let stderr = String::from_utf8_lossy(&missing_url.stderr);
    assert!(stderr.contains("OUTBOX_WEBHOOK_URL"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Rows of `sql` (a single `n` column) on the test database.
async fn count(db: &TestDb, sql: &str) -> i64 {
    use sea_orm::ConnectionTrait;
    db.connection()
        .query_one_raw(sea_orm::Statement::from_string(db.backend(), sql))
        .await
        .expect("query")
        .expect("a row")
        .try_get::<i64>("", "n")
        .expect("n")
}

/// Needs PostgreSQL (`TEST_DATABASE_URL`); left out, counted as skipped, when it is not configured.
mod postgres {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_workers_deliver_two_thousand_events_exactly_once() {
        let db = TestDb::postgres().await;
        let keys = seed(&db, 2_000, "post.created").await;
        let receiver = Receiver::start(Duration::ZERO).await;
        let settings = [("OUTBOX_DISPATCH_BATCH_SIZE", "50")];
        let mut first = spawn_worker(db.url(), &receiver, &settings);
        let mut second = spawn_worker(db.url(), &receiver, &settings);
        eventually(
            Duration::from_secs(90),
            "2,000 completed events",
            || async { completed(&db).await == 2_000 },
        )
        .await;
        let per_key = receiver.per_key();
        let delivered: BTreeSet<String> = per_key.keys().cloned().collect();
        assert_eq!(delivered, keys, "every event delivered");
        let repeated: Vec<_> = per_key.iter().filter(|(_, n)| **n > 1).collect();
        assert!(
            repeated.is_empty(),
            "delivered more than once: {repeated:?}"
        );
        assert_eq!(receiver.count(), 2_000);
        assert!(receiver.deliveries().iter().all(|d| d.signature_valid));
        assert!(first.terminate(Duration::from_secs(15)).success());
        assert!(second.terminate(Duration::from_secs(15)).success());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_worker_killed_mid_batch_loses_no_event() {
        let db = TestDb::postgres().await;
        let keys = seed(&db, 300, "vote.created").await;
        // Slow enough that the kill lands mid-batch; a short lease brings the batch back soon.
        let receiver = Receiver::start(Duration::from_millis(10)).await;
        let settings = [
            ("OUTBOX_DISPATCH_BATCH_SIZE", "50"),
            ("OUTBOX_LEASE_SECONDS", "4"),
            ("OUTBOX_WEBHOOK_TIMEOUT_SECONDS", "1"),
        ];
        let mut doomed = spawn_worker(db.url(), &receiver, &settings);
        eventually(Duration::from_secs(30), "the first deliveries", || async {
            receiver.count() >= 20
        })
        .await;
        doomed.child.kill().expect("SIGKILL");
        let _ = doomed.child.wait();
        let killed_at = receiver.count();
        let mut survivor = spawn_worker(db.url(), &receiver, &settings);
        eventually(Duration::from_secs(60), "every event completed", || async {
            completed(&db).await == 300
        })
        .await;
        let per_key = receiver.per_key();
        let delivered: BTreeSet<String> = per_key.keys().cloned().collect();
        assert_eq!(delivered, keys, "no event lost");
        let duplicates: usize = per_key.values().map(|n| n - 1).sum();
        assert!(
            duplicates <= 50,
            "duplicates come only from the killed batch (50 events): {duplicates} (killed after {killed_at})"
        );
        assert!(survivor.terminate(Duration::from_secs(15)).success());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn without_the_notify_trigger_api_writes_still_wake_an_idle_worker_at_once() {
        let db = TestDb::postgres().await;
        let url = db.url().to_owned();
        let app = TestApp::spawn(db).await;
        assert_eq!(
            count(
                &app.db,
                "SELECT count(*) AS n FROM pg_trigger WHERE tgname = 'outbox_events_notify'"
            )
            .await,
            0,
            "write transactions do not notify"
        );
        let receiver = Receiver::start(Duration::ZERO).await;
        // It polls once a minute: only a wake-up can deliver within the deadlines below.
        let mut worker = spawn_worker(
            &url,
            &receiver,
            &[("OUTBOX_DISPATCH_INTERVAL_SECONDS", "60")],
        );
        worker.ready().await;
        // A wake-up sent before the worker listens is lost (by design: it polls then), so wait
        // until its LISTEN is in place.
        eventually(Duration::from_secs(20), "the worker's LISTEN", || async {
            count(
                &app.db,
                "SELECT count(*) AS n FROM pg_stat_activity \
                 WHERE datname = current_database() AND query LIKE 'LISTEN%'",
            )
            .await
                >= 1
        })
        .await;

        let user = app.user("prompt").await;
        for n in 0..20 {
            app.create_post(&user, &format!("Prompt {n}"), true).await;
        }
        eventually(Duration::from_secs(10), "21 deliveries", || async {
            receiver.count() >= 21
        })
        .await;
        // Commit → delivery of every event, as the worker recorded it.
        let slow = count(
            &app.db,
            "SELECT count(*) AS n FROM outbox_events \
             WHERE processed_at - created_at > interval '2 seconds'",
        )
        .await;
        assert_eq!(slow, 0, "every event delivered within 2 s of its commit");
        assert!(worker.terminate(Duration::from_secs(15)).success());
    }
}
