//! `/users`.

use crate::{assert_problem, on_every_backend};
use keel_testkit::app::TestApp;
use keel_testkit::db::TestDb;
use serde_json::json;

on_every_backend!(
    registration_normalises_the_email_and_hides_the_password,
    registration_errors,
    user_lookup
);

async fn registration_normalises_the_email_and_hides_the_password(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let res = app
        .post(
            "/api/v1/users",
            None,
            &json!({ "email": "  Alice@Example.COM ", "password": "password1" }),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let body = res.body.as_object().expect("object");
    assert_eq!(
        body.keys().collect::<Vec<_>>(),
        ["created_at", "email", "email_verified", "id"]
    );
    assert_eq!(body["email"], "alice@example.com");
    assert_eq!(
        body["email_verified"], false,
        "nothing proved the address yet"
    );
    assert!(body["id"].is_i64());
    let created_at = body["created_at"].as_str().expect("string");
    assert_eq!(
        created_at.len(),
        27,
        "RFC 3339 with microseconds: {created_at}"
    );
    assert!(created_at.ends_with('Z'));
    // Trailing slash, no redirect.
    let res = app
        .post(
            "/api/v1/users/",
            None,
            &json!({ "email": "bob@example.com", "password": "password1" }),
        )
        .await;
    assert_eq!(res.status, 201);
}

async fn registration_errors(db: TestDb) {
    let app = TestApp::spawn(db).await;
    app.register("a@example.com", "password1").await;
    let res = app
        .post(
            "/api/v1/users",
            None,
            &json!({ "email": "A@example.com", "password": "password1" }),
        )
        .await;
    assert_problem(&res, 409, "email_already_registered");
    assert_eq!(res.body["detail"], "Email is already registered");

    let res = app
        .post(
            "/api/v1/users",
            None,
            &json!({ "email": "not-an-email", "password": "short" }),
        )
        .await;
    assert_problem(&res, 422, "validation_error");
    assert_eq!(res.body["detail"], "Request validation failed");
    let locs: Vec<&serde_json::Value> = res.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| &e["loc"])
        .collect();
    assert_eq!(
        locs,
        [&json!(["body", "email"]), &json!(["body", "password"])]
    );
    let res = app
        .post(
            "/api/v1/users",
            None,
            &json!({ "email": "b@example.com", "password": "x".repeat(129) }),
        )
        .await;
    assert_problem(&res, 422, "validation_error");
    assert_eq!(res.body["errors"][0]["type"], "string_too_long");
    let res = app.post("/api/v1/users", None, &json!({})).await;
    assert_eq!(res.body["errors"].as_array().map(Vec::len), Some(2));
    assert_eq!(res.body["errors"][0]["type"], "missing");
}

async fn user_lookup(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let alice = app.user("alice").await;
    let me = app.get("/api/v1/users/me", Some(&alice.access)).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["id"], alice.id);
    assert_eq!(me.body["email"], "alice@example.com");
    let by_id = app
        .get(&format!("/api/v1/users/{}", alice.id), Some(&alice.access))
        .await;
    assert_eq!(by_id.body, me.body);
    let missing = app.get("/api/v1/users/999999", Some(&alice.access)).await;
    assert_problem(&missing, 404, "user_not_found");
    assert_eq!(
        missing.body["detail"],
        "User with id: 999999 does not exist"
    );
    let bad = app.get("/api/v1/users/abc", Some(&alice.access)).await;
    assert_problem(&bad, 422, "validation_error");
    assert_eq!(bad.body["errors"][0]["loc"], json!(["path", "id"]));
    let anonymous = app.get("/api/v1/users/me", None).await;
    assert_problem(&anonymous, 401, "invalid_credentials");
    assert_eq!(anonymous.body["detail"], "Not authenticated");
    assert_eq!(anonymous.header("www-authenticate"), Some("Bearer"));
}
