//! `/vote`: the four rules, counts, and 50 concurrent identical votes.

use crate::{assert_problem, on_every_backend};
use keel_testkit::app::TestApp;
use keel_testkit::db::TestDb;
use serde_json::json;

on_every_backend!(
    votes_follow_the_rules_and_counts_follow_votes,
    fifty_concurrent_identical_votes_make_one,
    vote_validation
);

async fn votes_follow_the_rules_and_counts_follow_votes(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let id = app.create_post(&alice, "Vote on me", true).await["id"]
        .as_i64()
        .expect("id");
    let up = app
        .post(
            "/api/v1/vote",
            Some(&bob.access),
            &json!({ "post_id": id, "dir": 1 }),
        )
        .await;
    assert_eq!(up.status, 201, "{}", up.text);
    assert_eq!(up.body, json!({ "message": "successfully added vote" }));
    let again = app
        .post(
            "/api/v1/vote/",
            Some(&bob.access),
            &json!({ "post_id": id, "dir": 1 }),
        )
        .await;
    assert_problem(&again, 409, "already_voted");
    assert_eq!(
        again.body["detail"],
        format!("user {} has already voted on post {id}", bob.id)
    );
    app.post(
        "/api/v1/vote",
        Some(&alice.access),
        &json!({ "post_id": id, "dir": 1 }),
    )
    .await;
    let post = app
        .get(&format!("/api/v1/posts/{id}"), Some(&alice.access))
        .await;
    assert_eq!(post.body["votes"], 2);
    let feed = app.get("/api/v1/posts", Some(&alice.access)).await;
    assert_eq!(feed.body[0]["votes"], 2);
    let down = app
        .post(
            "/api/v1/vote",
            Some(&bob.access),
            &json!({ "post_id": id, "dir": 0 }),
        )
        .await;
    assert_eq!(down.body, json!({ "message": "successfully deleted vote" }));
    let none = app
        .post(
            "/api/v1/vote",
            Some(&bob.access),
            &json!({ "post_id": id, "dir": 0 }),
        )
        .await;
    assert_problem(&none, 404, "vote_not_found");
    assert_eq!(none.body["detail"], "Vote does not exist");
    assert_eq!(
        app.get(&format!("/api/v1/posts/{id}"), Some(&alice.access))
            .await
            .body["votes"],
        1
    );
    // The post is checked before the vote.
    let missing = app
        .post(
            "/api/v1/vote",
            Some(&bob.access),
            &json!({ "post_id": 999_999, "dir": 0 }),
        )
        .await;
    assert_problem(&missing, 404, "post_not_found");
    assert_eq!(
        missing.body["detail"],
        "Post with id: 999999 does not exist"
    );
}

async fn fifty_concurrent_identical_votes_make_one(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let alice = app.user("alice").await;
    let id = app.create_post(&alice, "Contended", true).await["id"]
        .as_i64()
        .expect("id");
    let body = json!({ "post_id": id, "dir": 1 });
    let votes = (0..50).map(|_| app.post("/api/v1/vote", Some(&alice.access), &body));
    let results = futures::future::join_all(votes).await;
    let created = results.iter().filter(|r| r.status == 201).count();
    assert_eq!(created, 1, "exactly one vote is created");
    for res in results.iter().filter(|r| r.status != 201) {
        assert_problem(res, 409, "already_voted");
    }
    assert_eq!(
        app.get(&format!("/api/v1/posts/{id}"), Some(&alice.access))
            .await
            .body["votes"],
        1
    );
}

async fn vote_validation(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let alice = app.user("alice").await;
    for (body, loc) in [
        (json!({ "post_id": 1, "dir": 2 }), "dir"),
        (json!({ "post_id": 0, "dir": 1 }), "post_id"),
        (json!({ "post_id": "x", "dir": 1 }), "post_id"),
        (json!({ "dir": 1 }), "post_id"),
    ] {
        let res = app.post("/api/v1/vote", Some(&alice.access), &body).await;
        assert_problem(&res, 422, "validation_error");
        assert_eq!(res.body["errors"][0]["loc"], json!(["body", loc]), "{body}");
    }
}
