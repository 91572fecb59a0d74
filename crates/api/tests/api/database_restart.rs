//! A PostgreSQL restart through the real app (one pool per actix worker): once every pooled
//! connection has been terminated, no request fails — reads, writes and `/ready` alike.

use keel_testkit::app::{TestApp, TestResponse};
use keel_testkit::db::TestDb;
use serde_json::json;

/// A client that opens a new TCP connection per request, so requests spread over the workers
/// (and their pools) instead of riding one keep-alive connection to one worker.
fn spreading_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client")
}

async fn warm(app: &TestApp, client: &reqwest::Client, token: &str) {
    for _ in 0..3 {
        let mut burst = tokio::task::JoinSet::new();
        for _ in 0..12 {
            let request = client
                .get(format!("{}/api/v1/posts", app.base_url))
                .bearer_auth(token);
            burst.spawn(TestApp::read(request));
        }
        for res in burst.join_all().await {
            assert_eq!(res.status, 200, "warming: {}", res.text);
        }
    }
}

fn failure(what: &str, res: &TestResponse, expected: u16) -> Option<String> {
    (res.status.as_u16() != expected).then(|| format!("{what}: {} {}", res.status, res.text))
}

/// Needs PostgreSQL (`TEST_DATABASE_URL`); left out, counted as skipped, when it is not configured.
mod postgres {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn after_a_database_restart_no_request_fails_and_ready_does_not_flap() {
        let db = TestDb::postgres().await;
        let app = TestApp::spawn(db).await;
        let user = app.user("restart").await;
        let client = spreading_client();
        let url = |path: &str| format!("{}{path}", app.base_url);

        for round in 0..2 {
            warm(&app, &client, &user.access).await;
            let terminated = app.db.terminate_connections().await;
            assert!(terminated >= 2, "round {round}: {terminated} terminated");

            let mut failures = Vec::new();
            for i in 0..10 {
                let list =
                    TestApp::read(client.get(url("/api/v1/posts")).bearer_auth(&user.access));
                failures.extend(failure(
                    &format!("round {round} list {i}"),
                    &list.await,
                    200,
                ));
                let ready = TestApp::read(client.get(url("/ready"))).await;
                failures.extend(failure(&format!("round {round} ready {i}"), &ready, 200));
                let created = TestApp::read(
                    client
                        .post(url("/api/v1/posts"))
                        .bearer_auth(&user.access)
                        .json(
                            &json!({ "title": format!("after restart {round}.{i}"), "content": "x" }),
                        ),
                )
                .await;
                failures.extend(failure(&format!("round {round} create {i}"), &created, 201));
            }
            // Concurrently too, after a second restart within the round.
            let terminated = app.db.terminate_connections().await;
            assert!(terminated >= 1, "round {round}: {terminated} terminated");
            let mut burst = tokio::task::JoinSet::new();
            for i in 0..12 {
                let request = if i % 3 == 0 {
                    client
                        .post(url("/api/v1/posts"))
                        .bearer_auth(&user.access)
                        .json(&json!({ "title": format!("burst {round}.{i}"), "content": "x" }))
                } else {
                    client.get(url("/api/v1/posts")).bearer_auth(&user.access)
                };
                burst.spawn(async move { (i, TestApp::read(request).await) });
            }
            for (i, res) in burst.join_all().await {
                let expected = if i % 3 == 0 { 201 } else { 200 };
                failures.extend(failure(&format!("round {round} burst {i}"), &res, expected));
            }
            assert!(failures.is_empty(), "{failures:#?}");
        }
        let feed = app.get("/api/v1/posts?limit=100", Some(&user.access)).await;
        assert_eq!(feed.body.as_array().map(Vec::len), Some(2 * (10 + 4)));
    }
}
