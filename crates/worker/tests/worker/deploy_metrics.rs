//! The shipped Grafana dashboard and Prometheus alert rules (`deploy/observability/`) query only
//! metrics that the real `worker` binary exports: run it against a backlog whose deliveries
//! fail (so every labelled family has a child), scrape `/metrics`, and compare with every
//! metric those files name for the `keel-worker` job.

use crate::harness::{Receiver, eventually, seed, spawn_worker};
use keel_testkit::db::TestDb;
use keel_testkit::deploy_metrics::{WORKER_JOB, deployed_metrics_of, missing_from};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_of_the_dashboard_and_alerts_is_exported_by_the_worker() {
    let expected = deployed_metrics_of(WORKER_JOB);
    assert!(
        expected.contains("outbox_failed_events"),
        "the dashboard and rules name no worker metric: {expected:?}"
    );
    let db = TestDb::sqlite().await;
    seed(&db, 3, "post.created").await;
    let receiver = Receiver::start(Duration::ZERO).await;
    // A secret the receiver does not know: every delivery is refused (401), so the sink
    // failure and retry counters get their children.
    let worker = spawn_worker(
        db.url(),
        &receiver,
        &[("OUTBOX_WEBHOOK_SECRET", "not-the-receivers-secret")],
    );
    worker.ready().await;
    eventually(Duration::from_secs(30), "a refused delivery", || async {
        worker
            .get("/metrics")
            .await
            .1
            .contains("outbox_sink_failures_total{")
    })
    .await;

    let (status, exposition) = worker.get("/metrics").await;
    assert_eq!(status, 200, "GET /metrics");
    let missing = missing_from(WORKER_JOB, &exposition);
    assert!(
        missing.is_empty(),
        "deploy/observability queries metrics the worker does not export: {missing:?}\n\
         --- /metrics ---\n{exposition}"
    );
}
